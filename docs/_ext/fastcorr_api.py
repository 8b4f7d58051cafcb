"""Generate the API reference from each face's ``__all__``: one page per public name.

At ``builder-inited`` this writes ``api/index.rst`` (the faces), ``api/<face>.rst`` (a table of
the face's functions, each beside its peer) and ``api/generated/<name>.rst`` (the docstring,
rendered by numpydoc through autodoc).  The peer is read from the docstring's summary line
("..., as :func:`scipy.ndimage.correlate`." or "as ``torch.nn.functional.conv2d``"), so the
docstring stays the one place that names it; a public name without one stops the build unless
it is listed in ``NO_PEER``.  The generated files are not committed (``docs/.gitignore``).
"""
import importlib
import inspect
import os
import re

from sphinx.errors import ExtensionError

# (module, page name, title, what the face is for)
FACES = [
    ("fastcorr", "signal", "fastcorr: scipy.signal and numpy",
     "Direct 2-D and 1-D correlation and convolution with the signatures, defaults and results "
     "of ``scipy.signal.correlate2d``/``convolve2d`` and ``numpy.correlate``/``convolve``, "
     "plus ``method=`` and the helpers around it."),
    ("fastcorr.ndimage", "ndimage", "fastcorr.ndimage: scipy.ndimage",
     "scipy.ndimage's linear filters: same-size results with every border mode, N-D, integer "
     "images with scipy's exact values."),
    ("fastcorr.nn", "nn", "fastcorr.nn: PyTorch's convolution layers",
     "The convolutional layer of a CNN and its gradients, with PyTorch's conventions, on NumPy "
     "arrays."),
    ("fastcorr.dask", "dask", "fastcorr.dask: dask arrays",
     "The ndimage filters on dask arrays, lazily, chunk by chunk, on any dask scheduler or a "
     "``dask.distributed`` cluster (``pip install \"fastcorr[dask]\"``)."),
]
# Public names with no counterpart in a peer library.
NO_PEER = {"fastcorr.dask.task_workers": "fastcorr.dask's own",
           "fastcorr.nn.ConvolutionError": "torch raises ``RuntimeError``"}
PEER = re.compile(r"\bas (?::\w+:`~?([\w.]+)`|``([\w.]+)``)")


def summary(obj):
    """The docstring's first paragraph, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def peer_of(qualname, obj):
    match = PEER.search(summary(obj))
    if match:
        return f"``{match.group(1) or match.group(2)}``"
    if qualname in NO_PEER:
        return NO_PEER[qualname]
    raise ExtensionError(f"{qualname}: its docstring's summary line names no peer "
                         f"('as :func:`package.function`'); add one or list it in NO_PEER")


def public(module):
    """The module's public functions and classes, in ``__all__``'s order (not its submodules
    or ``__version__``)."""
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) and not inspect.ismodule(obj):
            yield name, obj


def write(path, text):
    """Write only what changed, so an unchanged page is not rebuilt."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def heading(text, char):
    return f"{text}\n{char * len(text)}\n"


def generate(app):
    api = os.path.join(app.srcdir, "api")
    generated = os.path.join(api, "generated")
    os.makedirs(generated, exist_ok=True)
    index = [heading("API reference", "="), "",
             "Every public function of every face, each beside the function of the peer library "
             "whose signature and results it follows.", "", ".. toctree::", "   :maxdepth: 2", ""]
    for module_name, page, title, blurb in FACES:
        module = importlib.import_module(module_name)
        index.append(f"   {page}")
        rows, entries = [], []
        for name, obj in public(module):
            qualname = f"{module_name}.{name}"
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            peer = peer_of(qualname, obj)
            # The summary without its peer clause, which the table's peer column shows.
            first = re.sub(r",? as (:\w+:`[^`]+`|``[^`]+``)( through ``[^`]+``)?",
                           "", summary(obj).split(". ")[0]).rstrip(".")
            rows.append(f"   * - :doc:`{name} <generated/{qualname}>`\n"
                        f"     - {peer}\n"
                        f"     - {first}")
            entries.append(f"   generated/{qualname}")
            write(os.path.join(generated, qualname + ".rst"),
                  "\n".join([heading(qualname, "="), "",
                             f"Peer: {peer}", "",
                             f".. currentmodule:: {module_name}", "",
                             f".. {kind}:: {name}", ""]))
        write(os.path.join(api, page + ".rst"),
              "\n".join([heading(title, "="), "", f".. module:: {module_name}", "", blurb, "",
                         ".. list-table::", "   :header-rows: 1", "   :widths: 20 30 50", "",
                         "   * - function\n     - peer\n     - what it computes", *rows, "",
                         ".. toctree::", "   :hidden:", "", *entries, ""]))
    write(os.path.join(api, "index.rst"), "\n".join(index) + "\n")


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
