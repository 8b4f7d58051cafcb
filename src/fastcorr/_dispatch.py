"""Selection of the SIMD kernel path, once, at import.

The compiled dispatcher picks the best path this CPU supports.  ``FASTCORR_SIMD`` forces one
(``scalar``, ``baseline``, ``avx2``, ``avx512``, in any case): for tests, for benchmarking one
path against another, and as an escape hatch if a path misbehaves on some CPU.  Asking for a
path the CPU cannot run is an error here, at import, rather than a SIGILL later.
"""
import os

from . import _core

ENV_VAR = "FASTCORR_SIMD"


def compiled_paths():
    """Names of the paths compiled into this build, in order of preference (best last)."""
    return [path["name"] for path in _core.compiled_paths()]


def supported_paths():
    """Names of the compiled paths this CPU can run."""
    return [name for name in compiled_paths() if _core.cpu_supports(name) == 1]


def select(name=None):
    """Make `name` the active path (None: the best supported), in any case (``AVX2`` is
    ``avx2``).  Returns the active name."""
    code = _core.select_path(None if name is None else name.lower())
    if code == -1:
        raise ValueError(
            f"{ENV_VAR}={name!r} is not a SIMD path of this build; "
            f"compiled paths: {', '.join(compiled_paths())}"
        )
    if code == -2:
        raise RuntimeError(
            f"{ENV_VAR}={name!r} asks for a SIMD path this CPU cannot run; "
            f"paths this CPU supports: {', '.join(supported_paths())}"
        )
    return _core.active_path()


def active():
    """Name of the active path."""
    return _core.active_path()


_FORCED = os.environ.get(ENV_VAR) or None


def forced():
    """True if FASTCORR_SIMD chose the path at import."""
    return _FORCED is not None


select(_FORCED)
