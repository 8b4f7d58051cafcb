"""Signatures, defaults and docstrings: each face is called as its peer is.

The peer's parameters come first, in the peer's order, with the peer's defaults (so that
swapping the import changes nothing: correlate2d/convolve2d default to mode='full' as
scipy.signal's do, correlate to 'valid' and convolve to 'full' as numpy's do); fastcorr's own
parameters (axes, out, workers, method) follow, keyword-only.  Every public function has a numpydoc
docstring whose examples run.
"""
import doctest
import inspect

import numpy as np
import pytest

import fastcorr
from faces import FACES, FACES_2D
from oracle import DEFAULT_MODE, assert_within_bound

EXTRA_KEYWORDS = {"correlate2d": ["axes", "out", "workers", "method"],
                  "convolve2d": ["axes", "out", "workers", "method"],
                  "correlate": ["axes", "workers", "method"],
                  "convolve": ["axes", "workers", "method"]}
# fastcorr's keywords default to None, but `method`, whose default names what runs.
EXTRA_DEFAULTS = {"method": "auto"}


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_signature_is_the_peers(face):
    ours = inspect.signature(face.func).parameters
    peers = inspect.signature(face.peer).parameters
    positional = [p for p in ours.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == list(peers), (
        f"{face.name}{inspect.signature(face.func)} against the peer's "
        f"{inspect.signature(face.peer)}")
    for p in positional:
        assert p.default == peers[p.name].default, (
            f"{face.name}: {p.name} defaults to {p.default!r}, the peer's to "
            f"{peers[p.name].default!r}")
    keyword_only = [p for p in ours.values() if p.kind is p.KEYWORD_ONLY]
    assert [p.name for p in keyword_only] == EXTRA_KEYWORDS[face.name]
    assert all(p.default == EXTRA_DEFAULTS.get(p.name) for p in keyword_only)
    assert len(ours) == len(positional) + len(keyword_only)  # no *args, **kwargs


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_default_mode_is_the_peers(face):
    """Called without a mode, each face gives its peer's default-mode result: 'full' for the
    2-D faces (as scipy.signal), 'valid' for correlate and 'full' for convolve (as numpy)."""
    rng = np.random.default_rng(0)
    shape1, shape2 = ((6, 7), (3, 2)) if face.core_ndim == 2 else ((9,), (4,))
    in1, in2 = rng.standard_normal(shape1), rng.standard_normal(shape2)
    result = face.func(in1, in2)
    np.testing.assert_array_equal(result, face.func(in1, in2, DEFAULT_MODE[face.name]))
    assert_within_bound(result, face.peer(in1, in2), 2 * face.bound(in1, in2, np.float64),
                        f"{face.name} with the default mode against its peer's default")


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_defaults_by_hand(face):
    """mode='full', boundary='fill', fillvalue=0 with nothing passed: a 1x2 image with a 1x2
    kernel gives three outputs, the fill contributing zero."""
    np.testing.assert_array_equal(face.func([[2.0, 3.0]], [[1.0, 10.0]]),
                                  [[2.0, 23.0, 30.0]] if face.convolve else [[20.0, 32.0, 3.0]])


def test_1d_defaults_by_hand():
    a, v = [1.0, 2.0, 3.0], [0.0, 1.0, 0.5]
    np.testing.assert_array_equal(fastcorr.correlate(a, v), [3.5])
    np.testing.assert_array_equal(fastcorr.convolve(a, v), [0, 1, 2.5, 4, 1.5])


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_positional_and_keyword_calls_agree(face):
    rng = np.random.default_rng(1)
    shape1, shape2 = ((5, 8), (2, 3)) if face.core_ndim == 2 else ((12,), (3,))
    in1, in2 = rng.standard_normal(shape1), rng.standard_normal(shape2)
    names = list(inspect.signature(face.peer).parameters)
    by_position = face.func(in1, in2, "same")
    np.testing.assert_array_equal(by_position, face.func(**{names[0]: in1, names[1]: in2,
                                                            "mode": "same"}))
    if face.core_ndim == 2:
        np.testing.assert_array_equal(face.func(in1, in2, "same", "wrap", 0),
                                      face.func(in1, in2, mode="same", boundary="wrap",
                                                fillvalue=0))


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_extra_arguments_are_keyword_only(face):
    """Passing axes/out/workers positionally is a TypeError, not a silent misreading."""
    in1, in2 = (np.ones((6, 8)), np.ones((2, 3))) if face.core_ndim == 2 else \
        (np.ones(8), np.ones(3))
    peer_count = len(inspect.signature(face.peer).parameters)
    args = [in1, in2, "valid", "fill", 0][:peer_count]
    for extra in (None, np.zeros((5, 6)), 2):
        with pytest.raises(TypeError):
            face.func(*args, extra)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_missing_arguments(face):
    with pytest.raises(TypeError):
        face.func(np.ones((3, 3)))
    with pytest.raises(TypeError):
        face.func()


PUBLIC = [getattr(fastcorr, name) for name in fastcorr.__all__
          if callable(getattr(fastcorr, name))] + [
    getattr(fastcorr.nn, name) for name in fastcorr.nn.__all__
    if inspect.isfunction(getattr(fastcorr.nn, name))] + [
    getattr(fastcorr.ndimage, name) for name in fastcorr.ndimage.__all__]
try:  # fastcorr.dask's docstrings where dask is installed (its tests skip without it)
    import fastcorr.dask
    PUBLIC += [getattr(fastcorr.dask, name) for name in fastcorr.dask.__all__]
except ImportError:
    pass


@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f.__name__)
def test_docstring_is_numpydoc_with_examples(func):
    doc = inspect.getdoc(func)
    assert doc, f"{func.__name__} has no docstring"
    sections = ("Parameters", "Returns", "Examples") if inspect.signature(func).parameters \
        else ("Returns", "Examples")
    for section in sections:
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, (
            f"{func.__name__}'s docstring has no {section} section")
    # Every parameter is described (variadic keywords as numpydoc writes them, ``**kwargs``).
    for name, p in inspect.signature(func).parameters.items():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            name = f"**{name}"
        assert f"\n{name} :" in doc or f", {name} :" in doc or f"\n{name}," in doc or (
            name.startswith("**") and f"\n{name}\n" in doc), (
            f"{func.__name__}'s docstring does not describe {name}")


# The classes too (fastcorr.nn.ConvolutionError): every public name has a reference page on the
# documentation site, and each page's example is one of these.
DOCUMENTED = PUBLIC + [getattr(fastcorr.nn, name) for name in fastcorr.nn.__all__
                       if inspect.isclass(getattr(fastcorr.nn, name))]


@pytest.mark.parametrize("func", DOCUMENTED, ids=lambda f: f.__name__)
def test_docstring_examples_run(func):
    """The examples in the public docstrings are part of the documentation users copy."""
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(func, func.__name__, globs={})
    assert tests and tests[0].examples, f"{func.__name__} has no doctest examples"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {func.__name__}"
