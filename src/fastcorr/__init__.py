"""fastcorr: fast direct correlation and convolution for NumPy arrays.

SIMD kernels (AVX2+FMA, AVX-512F, NEON, chosen at import for this CPU), cache-blocked and
parallel with OpenMP.  See ``show_config()`` for the path in use.
"""
from ._version import __version__
from . import _dispatch  # selects the SIMD path (honours FASTCORR_SIMD) before any call
from ._signal import convolve2d, correlate2d
from ._numpy import convolve, correlate
from ._config import show_config
from ._choose import choose_method
from . import ndimage  # the scipy.ndimage face (NumPy only)
from . import nn  # the torch face: convolutional layers and their gradients

__all__ = ["correlate2d", "convolve2d", "correlate", "convolve", "choose_method",
           "show_config", "ndimage", "nn", "__version__"]


def __getattr__(name):
    # fastcorr.dask needs dask, an optional dependency: imported on first use, so that
    # `import fastcorr` never imports dask.
    if name == "dask":
        import importlib
        return importlib.import_module(".dask", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
