"""What the benchmark measures: the grid of cases, and the arrays every library is given.

``python -m fastcorr bench`` and the asv suite (benchmarks/bench_correlate.py) both take their
cases from here.  Every array comes from its own seed, derived from what it is (shape, dtype,
kernel size), so every library, every run and asv's setup see exactly the same numbers.

This module imports nothing from fastcorr: the asv suite loads it from the source tree, to
measure old builds of fastcorr on today's grid.
"""
import math

import numpy as np

DTYPES = ("float32", "float64")

# The valid-mode grid against the peers: square kernels from bandwidth-bound (3x3) to FMA-bound.
DEFAULT_SIZES = ((2048, 2048),)
DEFAULT_KERNELS = (3, 5, 7, 9, 11, 15, 21, 31)
QUICK_KERNELS = (3, 7, 15)
# Small enough that call overhead, not arithmetic, decides the time.
SMALL_CASE = ((128, 128), "float32", 3)
# The in2-larger call (arguments swapped) uses this kernel when the grid has it.
IN2_LARGER_KERNEL = 7

# Modes section: 'same' and 'full' against 'valid', each with a fill and a reflecting boundary,
# named as fastcorr names them and as np.pad does (the check pads explicitly); the frame work
# these add is what is measured, so kernels stay at most MODES_MAX_KERNEL.
MODES = ("same", "full")
MODE_BOUNDARIES = (("fill", "constant"), ("symm", "symmetric"))
MODES_MAX_KERNEL = 15

# 1-D section (issue 4's figures): a long signal, kernels from bandwidth-bound to FMA-bound.
ONE_D_SAMPLES = 4_000_000
ONE_D_KERNELS = (2, 3, 4, 5, 8, 16, 32, 48, 64, 128, 256, 512, 1024)
ONE_D_QUICK_KERNELS = (3, 8, 64, 256)

# Batch section: many small float32 images against one image of the same total size.
BATCH_CASE = (10_000, 32)
BATCH_KERNELS = (3, 5)
BATCH_MODES = ("valid", "same")

SEED = 0


# --------------------------------------------------------------------------- the grid
def grid(sizes, kernels, workers):
    """The valid-mode cases, then the small case, each once.

    Parameters
    ----------
    sizes : sequence of (int, int)
        Image shapes.
    kernels : sequence of int
        Square kernel sides.
    workers : sequence of int
        Thread counts.

    Returns
    -------
    list of (shape, dtype, K, workers)
        Every combination, the small case's at the end; a kernel larger than its image (no
        valid output) is left out.

    Examples
    --------
    >>> grid([(64, 64)], [3, 99], [1])[:2]
    [((64, 64), 'float32', 3, 1), ((64, 64), 'float64', 3, 1)]
    """
    cases = [(shape, dtype, k, n) for shape in sizes for dtype in DTYPES
             for k in kernels for n in workers]
    shape, dtype, k = SMALL_CASE
    cases += [(shape, dtype, k, n) for n in workers]
    return [case for case in dict.fromkeys(cases) if case[2] <= min(case[0])]


def in2_larger_kernel(kernels):
    """The kernel side of the in2-larger call: IN2_LARGER_KERNEL if the grid has it."""
    return IN2_LARGER_KERNEL if IN2_LARGER_KERNEL in kernels else kernels[0]


def modes_kernels(kernels):
    """The grid's kernels the modes section uses (the first one if none is small enough)."""
    return [k for k in kernels if k <= MODES_MAX_KERNEL] or [kernels[0]]


def one_d_kernels(quick):
    """The 1-D section's kernel lengths."""
    return ONE_D_QUICK_KERNELS if quick else ONE_D_KERNELS


def batch_shapes():
    """(shape of the stack, shape of the one image with as many pixels)."""
    count, side = BATCH_CASE
    big = int(round(math.sqrt(count * side * side)))
    return (count, side, side), (big, big)


# --------------------------------------------------------------------------- the data
def image(shape, dtype):
    """The image of the valid grid for `shape` and `dtype`: uniform in [-1, 1)."""
    rng = np.random.default_rng([SEED, *shape, DTYPES.index(dtype)])
    return rng.uniform(-1, 1, shape).astype(dtype)


def kernel(k, dtype):
    """The k x k kernel for `dtype`: uniform in [-1, 1)."""
    rng = np.random.default_rng([SEED, k, 1000 + DTYPES.index(dtype)])
    return rng.uniform(-1, 1, (k, k)).astype(dtype)


def signal_1d(dtype):
    """The 1-D section's long signal (ONE_D_SAMPLES samples) for `dtype`."""
    rng = np.random.default_rng([SEED, 7, DTYPES.index(dtype)])
    return rng.uniform(-1, 1, ONE_D_SAMPLES).astype(dtype)


def taps_1d(k, dtype):
    """The 1-D section's kernel of length `k` for `dtype`."""
    rng = np.random.default_rng([SEED, 7, DTYPES.index(dtype), k])
    return rng.uniform(-1, 1, k).astype(dtype)


def batch_images():
    """(stack of small float32 images, one float32 image of the same total size)."""
    stack_shape, big_shape = batch_shapes()
    rng = np.random.default_rng([SEED, 9])
    stack = rng.uniform(-1, 1, stack_shape).astype(np.float32)
    big = rng.uniform(-1, 1, big_shape).astype(np.float32)
    return stack, big


# --------------------------------------------------------------------------- 'ndimage'
# The ndimage section (issue 14's figures): fastcorr.ndimage against scipy.ndimage, OpenCV and
# torch on same-size results with scipy's border modes.
NDIMAGE_IMAGE = (2048, 2048)
NDIMAGE_KERNELS = {"float32": (3, 5, 7, 9, 11, 15), "float64": (3, 5, 9)}
NDIMAGE_QUICK_KERNELS = {"float32": (3, 9, 15), "float64": (5,)}
NDIMAGE_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
# Separable filters on a larger image: (function, its parameters, the 1-D kernel lengths along
# the two axes, for the FLOP count).  Gaussian: radius round(4 * sigma) = 16, 33 taps.
NDIMAGE_FILTER_IMAGE = (4096, 4096)
NDIMAGE_FILTERS = (
    ("gaussian_filter", {"sigma": 4.0}, (33, 33)),
    ("uniform_filter", {"size": 9}, (9, 9)),
    ("sobel", {"axis": 0}, (3, 3)),
    ("sobel", {"axis": 1}, (3, 3)),
)
# uint8 image, uint8 result, a K x K float64 smoothing kernel (positive, summing to 1, so that
# every result is within uint8's range and scipy's truncation and OpenCV's rounding differ by
# at most 1).
NDIMAGE_INTEGER_KERNEL = 5
# A float32 volume and a cubic kernel.  Mode 'constant' (cval 0): the border torch's conv3d
# computes with zero padding, so all three libraries compute the same numbers.
NDIMAGE_VOLUME = (160, 160, 160)
NDIMAGE_VOLUME_KERNEL = 5
NDIMAGE_VOLUME_MODE = "constant"


def ndimage_cases(quick, size=None, kernels=None):
    """The ndimage section's cases, in the order they run.

    Parameters
    ----------
    quick : bool
        Fewer kernel sizes in the correlate grid.
    size : (int, int), optional
        One image shape for every 2-D case, and a cube of side ``min(160, min(size))`` for the
        volume (a small run, as the tests make); default: the issue's shapes.
    kernels : sequence of int, optional
        Kernel sides of the correlate grid, for both dtypes; default NDIMAGE_KERNELS (or
        NDIMAGE_QUICK_KERNELS).

    Returns
    -------
    list of dict
        Each with ``group`` ('correlate', 'filter', 'integer' or 'volume'), ``function`` (the
        name in scipy.ndimage and fastcorr.ndimage), ``params`` (its arguments after the
        input, by name; ``weights`` stands for the case's kernel), ``dtype`` (the input's),
        ``shape``, ``taps`` (kernel lengths per axis), ``separable``, ``mode``.

    Examples
    --------
    >>> [c["group"] for c in ndimage_cases(True, (64, 64), [3])][-7:]
    ['correlate', 'filter', 'filter', 'filter', 'filter', 'integer', 'volume']
    """
    image = tuple(size) if size else NDIMAGE_IMAGE
    filter_image = tuple(size) if size else NDIMAGE_FILTER_IMAGE
    volume = (min(NDIMAGE_VOLUME[0], *size),) * 3 if size else NDIMAGE_VOLUME
    grid = NDIMAGE_QUICK_KERNELS if quick else NDIMAGE_KERNELS
    out = []
    for dtype in DTYPES:
        for k in (kernels or grid[dtype]):
            for mode in NDIMAGE_MODES:
                out.append({"group": "correlate", "function": "correlate",
                            "params": {"weights": None, "mode": mode}, "dtype": dtype,
                            "shape": image, "taps": (k, k), "separable": False, "mode": mode})
    for function, params, taps in NDIMAGE_FILTERS:
        out.append({"group": "filter", "function": function, "params": dict(params),
                    "dtype": "float32", "shape": filter_image, "taps": taps,
                    "separable": True, "mode": "reflect"})
    k = NDIMAGE_INTEGER_KERNEL
    out.append({"group": "integer", "function": "correlate",
                "params": {"weights": None, "mode": "reflect"}, "dtype": "uint8",
                "shape": image, "taps": (k, k), "separable": False, "mode": "reflect"})
    k = NDIMAGE_VOLUME_KERNEL
    out.append({"group": "volume", "function": "correlate",
                "params": {"weights": None, "mode": NDIMAGE_VOLUME_MODE}, "dtype": "float32",
                "shape": volume, "taps": (k, k, k), "separable": False,
                "mode": NDIMAGE_VOLUME_MODE})
    return out


def ndimage_flops(case, outputs):
    """The FLOPs the ndimage section counts for `outputs` outputs of `case`: 2 per tap and
    output, where a separable filter's taps are the sum of its 1-D kernels' (the work of one
    pass per axis), whatever a library actually does."""
    taps = sum(case["taps"]) if case["separable"] else math.prod(case["taps"])
    return 2.0 * taps * outputs


def ndimage_arrays(case):
    """The input of `case` and its arguments after the input (``weights`` filled in).

    Returns
    -------
    x : ndarray
        float32/float64 uniform in [-1, 1), or uint8 uniform in 0..255.
    params : dict
        ``case["params"]`` with the case's kernel as ``weights`` where it has one: uniform in
        [-1, 1) in the input's dtype, or for uint8 input a float64 smoothing kernel.
    """
    shape, dtype = case["shape"], case["dtype"]
    params = dict(case["params"])
    if dtype == "uint8":
        rng = np.random.default_rng([SEED, 14, *shape])
        x = rng.integers(0, 256, shape, dtype=np.uint8)
        w = rng.uniform(0.1, 1, case["taps"])
        params["weights"] = w / w.sum()
        return x, params
    x = image(shape, dtype)
    if "weights" in params:
        if len(case["taps"]) == 2 and case["taps"][0] == case["taps"][1]:
            params["weights"] = kernel(case["taps"][0], dtype)
        else:
            rng = np.random.default_rng([SEED, 14, *case["taps"], DTYPES.index(dtype)])
            params["weights"] = rng.uniform(-1, 1, case["taps"]).astype(dtype)
    return x, params
