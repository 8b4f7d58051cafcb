"""show_config(): what this build of fastcorr is and what it runs on."""
import sys

from . import _core, _dispatch
from ._version import __version__


def _loaded_openmp_library():
    """Path of the OpenMP runtime mapped into this process (Linux only; None elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if any(lib in path for lib in ("libgomp", "libomp", "libiomp", "vcomp")):
                    return path
    except OSError:
        pass
    return None


def _config():
    vendor, version, max_threads, procs = _core.openmp_info()
    compiled = _core.compiled_paths()
    return {
        "fastcorr": {"version": __version__, "python": sys.version.split()[0]},
        "simd": {
            "compiled": [path["name"] for path in compiled],
            "supported": _dispatch.supported_paths(),
            "selected": _dispatch.active(),
            "forced_by": _dispatch.ENV_VAR if _dispatch.forced() else None,
            "paths": {
                path["name"]: {key: value for key, value in path.items() if key != "name"}
                for path in compiled
            },
        },
        "openmp": {
            "runtime": vendor,
            "version": version,
            "library": _loaded_openmp_library(),
            "max_threads": max_threads,
            "num_procs": procs,
        },
    }


def show_config(mode="stdout"):
    """Show the version, the SIMD paths and the OpenMP runtime fastcorr uses.

    Parameters
    ----------
    mode : {'stdout', 'dicts'}, optional
        'stdout' (default) prints a readable report; 'dicts' returns it as nested dicts instead.

    Returns
    -------
    dict or None
        With ``mode='dicts'``: ``{'fastcorr': {...}, 'simd': {...}, 'openmp': {...}}`` where
        ``simd`` holds the paths compiled in, those this CPU supports, the one selected and
        whether ``FASTCORR_SIMD`` forced it, and ``openmp`` the runtime, its version date
        (``_OPENMP``) and its current thread count.  Otherwise None.

    Examples
    --------
    >>> import fastcorr
    >>> cfg = fastcorr.show_config(mode="dicts")
    >>> cfg["simd"]["selected"] in cfg["simd"]["supported"]
    True
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    cfg = _config()
    if mode == "dicts":
        return cfg
    simd, omp = cfg["simd"], cfg["openmp"]
    forced = f" (forced by {simd['forced_by']})" if simd["forced_by"] else ""
    lines = [
        f"fastcorr {cfg['fastcorr']['version']} (Python {cfg['fastcorr']['python']})",
        "SIMD paths:",
    ]
    for name, info in simd["paths"].items():
        marks = []
        if name in simd["supported"]:
            marks.append("supported")
        if name == simd["selected"]:
            marks.append("SELECTED" + forced)
        lines.append(f"  {name:9s} {info['description']:<34s} {', '.join(marks) or 'not supported by this CPU'}")
    lines += [
        f"OpenMP: {omp['runtime']} (_OPENMP {omp['version']}), "
        f"{omp['max_threads']} threads of {omp['num_procs']} processors",
    ]
    if omp["library"]:
        lines.append(f"  library: {omp['library']}")
    print("\n".join(lines))
    return None
