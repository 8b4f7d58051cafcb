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
    ("laplace", {}, (3, 3)),
    # Two terms, each a Gaussian's second derivative along one axis and the Gaussian along
    # the other: four 33-tap passes per output.
    ("gaussian_laplace", {"sigma": 4.0}, (33, 33, 33, 33)),
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
    >>> [c["group"] for c in ndimage_cases(True, (64, 64), [3])][-8:]
    ['correlate', 'filter', 'filter', 'filter', 'filter', 'filter', 'integer', 'volume']
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


# --------------------------------------------------------------------------- 'methods'
# The methods section (issue 15's figures): method='auto' against each of fastcorr's methods
# and the peers that do the same job another way.  The headline cases, each with the figures
# the issue sets: ``targets`` are (column, least ratio of that row's time to auto's, the
# figure as the issue words it).  Kernels: ('gaussian', K, sigma), ('rank2', K) (the sum of
# two random outer products), ('random', K) (uniform in [-1, 1): full rank).  The 'same' cases
# are ``preallocated``: every library writes into an array made once (out=, dst=), so a ratio
# compares the libraries' work, not the OS zeroing a fresh 64 MiB result (about 8 ms here,
# as much as the separable passes); a row times 'auto' with a new result beside them.
METHOD_HEADLINES = (
    {"name": "gaussian", "dims": 2, "shape": (4096, 4096), "quick_shape": (1024, 1024),
     "kernel": ("gaussian", 31, 5.0), "mode": "same", "boundary": "symm",
     "methods": ("auto", "direct", "separable"), "peers": ("cv2_sep", "cv2"),
     "preallocated": True,
     "targets": (("direct", 8.0, ">= 8x direct"), ("cv2_sep", 2.0, ">= 2x cv2.sepFilter2D"))},
    {"name": "rank2", "dims": 2, "shape": (2048, 2048), "quick_shape": (512, 512),
     "kernel": ("rank2", 25), "mode": "same", "boundary": "symm",
     "methods": ("auto", "direct", "separable"), "peers": ("cv2",), "preallocated": True,
     "targets": (("direct", 3.0, ">= 3x direct"),)},
    {"name": "full_rank", "dims": 2, "shape": (2048, 2048), "quick_shape": (512, 512),
     "kernel": ("random", 9), "mode": "same", "boundary": "symm",
     "methods": ("auto", "direct"), "peers": ("cv2",), "preallocated": True,
     "targets": (("direct", 1 / 1.05, "within 5% of direct"),)},
    # Direct needs about 0.4 s (float32) and 2 s (float64) here: its verifying call is its
    # one sample (``once``).
    {"name": "large_kernel", "dims": 2, "shape": (2048, 2048), "quick_shape": (512, 512),
     "kernel": ("random", 101), "mode": "valid", "boundary": "fill",
     "methods": ("auto", "fft", "direct"), "once": ("direct",),
     "peers": ("fftconvolve", "cv2"),
     "targets": (("fftconvolve", 1.2, ">= 1.2x fftconvolve"),
                 ("cv2", 1.2, ">= 1.2x cv2.filter2D"))},
    {"name": "long_1d", "dims": 1, "shape": (2_000_000,), "quick_shape": (500_000,),
     "kernel": ("random", 8192), "mode": "valid", "boundary": "fill",
     "methods": ("auto", "fft", "direct"), "once": ("direct",),
     "peers": ("oaconvolve", "fftconvolve"),
     "targets": (("oaconvolve", 1.2, ">= 1.2x oaconvolve"),)},
)
# The sweeps that re-measure the crossovers: square 2-D kernels on one image, 'valid' and
# 'same' with symmetric borders, random (full rank: direct against FFT) and Gaussian (sigma
# K / 6: separable against the others) kernels; 1-D kernels of 2 to 16,384 taps on a long
# signal.  1024x1024 keeps the 2-D sweep to a few minutes on two cores (2048x2048 would
# take four times as long).
METHOD_SWEEP_IMAGE = (1024, 1024)
METHOD_SWEEP_KERNELS = (3, 5, 7, 9, 11, 15, 21, 31, 45, 63, 91, 127, 181, 255)
METHOD_SWEEP_MODES = (("valid", "fill"), ("same", "symm"))
METHOD_SWEEP_KINDS = ("random", "gaussian")
METHOD_SWEEP_SAMPLES = 2_000_000
METHOD_SWEEP_TAPS = tuple(2 ** i for i in range(1, 15))
METHOD_QUICK = {"image": (256, 256), "kernels": (3, 9, 31, 91), "samples": 200_000,
                "taps": (4, 64, 1024, 8192)}
# A method (or peer) whose call is predicted to take longer than this is skipped in the
# sweeps (its time is predicted from its GFLOP/s at the previous kernel size): direct at the
# largest kernels, at several seconds a call, would take most of the sweep's time.
METHOD_SWEEP_MAX_S = 2.0
# scipy.ndimage (one thread, about 1-2 GFLOP/s) against kernels larger than this is skipped:
# its time per output grows as K^2 while the FFT peers' hardly grows, so beyond K = 63 it is
# hundreds of times slower than the best peer and would only spend the sweep's time.
METHOD_NDIMAGE_MAX_K = 63
# The sweep figures: 'auto' at most this many times the best peer's time, and at
# most this many times the best of fastcorr's own methods.
AUTO_VS_PEER = 1.0
AUTO_VS_OWN = 1.10


def _odd_at_most(k, limit):
    """k, or the largest odd side <= limit when k is larger (at least 1)."""
    if k <= limit:
        return k
    return max(limit - (1 - limit % 2), 1)


def methods_cases(quick, size=None, kernels=None):
    """The methods section's headline cases and sweep grid.

    Parameters
    ----------
    quick : bool
        Smaller headline arrays, fewer kernel sizes and a shorter signal in the sweeps.
    size : (int, int), optional
        One image shape for every 2-D case and sweep (a small run, as the tests make), with
        kernels shrunk to at most half its side, and a 1-D signal of ``h * w`` samples with at
        most a quarter as many taps; default: the issue's shapes.
    kernels : sequence of int, optional
        The 2-D sweep's kernel sides (default METHOD_SWEEP_KERNELS, or the quick ones).

    Returns
    -------
    dict
        ``headlines`` (METHOD_HEADLINES with ``shape`` and ``kernel`` resolved), ``image``,
        ``kernels`` (2-D sweep), ``samples`` and ``taps`` (1-D sweep).

    Examples
    --------
    >>> c = methods_cases(True, (48, 48), [3, 9])
    >>> [h["kernel"][1] for h in c["headlines"]], c["samples"], c["taps"]
    ([23, 23, 9, 23, 576], 2304, (4, 64))
    """
    q = METHOD_QUICK
    if size is None:
        image = q["image"] if quick else METHOD_SWEEP_IMAGE
        samples = q["samples"] if quick else METHOD_SWEEP_SAMPLES
        taps = q["taps"] if quick else METHOD_SWEEP_TAPS
    else:
        image = tuple(size)
        samples = image[0] * image[1]
        taps = tuple(t for t in (q["taps"] if quick else METHOD_SWEEP_TAPS)
                     if t <= samples // 4) or (min(2, samples),)
    sweep_k = tuple(kernels) if kernels else (q["kernels"] if quick else METHOD_SWEEP_KERNELS)
    headlines = []
    for case in METHOD_HEADLINES:
        case = dict(case)
        if size is None:
            case["shape"] = case["quick_shape"] if quick else case["shape"]
        else:
            case["shape"] = (samples,) if case["dims"] == 1 else image
        kind, k, *rest = case["kernel"]
        limit = case["shape"][0] // 4 if case["dims"] == 1 else min(case["shape"]) // 2
        k = min(k, limit) if case["dims"] == 1 else _odd_at_most(k, limit)
        case["kernel"] = (kind, k, *rest)
        headlines.append(case)
    return {"headlines": headlines, "image": image,
            "kernels": tuple(k for k in sweep_k if k <= min(image)), "samples": samples,
            "taps": taps}


def gaussian_taps(k, sigma):
    """A normalised Gaussian of `k` taps (float64), centred on the middle tap."""
    t = np.arange(k) - (k - 1) / 2
    g = np.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def method_kernel(spec, dims, dtype):
    """The kernel `spec` of METHOD_HEADLINES (or of a sweep) in `dtype`, and its separable
    factors (column taps, row taps) where a peer can use them (the Gaussian), else None.

    Examples
    --------
    >>> w, factors = method_kernel(("gaussian", 5, 1.0), 2, "float32")
    >>> w.shape, w.dtype.name, round(float(w.sum()), 5), factors[0].shape
    ((5, 5), 'float32', 1.0, (5,))
    >>> int(np.linalg.matrix_rank(method_kernel(("rank2", 9), 2, "float64")[0]))
    2
    """
    kind, k = spec[0], spec[1]
    if dims == 1:
        return taps_1d(k, dtype), None
    if kind == "gaussian":
        sigma = spec[2] if len(spec) > 2 else k / 6.0
        g = gaussian_taps(k, sigma)
        return np.outer(g, g).astype(dtype), (g.astype(dtype), g.astype(dtype))
    if kind == "rank2":
        rng = np.random.default_rng([SEED, 15, k, DTYPES.index(dtype)])
        a, b = rng.uniform(-1, 1, (2, k)), rng.uniform(-1, 1, (2, k))
        return (np.outer(a[0], b[0]) + np.outer(a[1], b[1])).astype(dtype), None
    if kind == "random":
        return kernel(k, dtype), None
    raise ValueError(kind)


def method_input(shape, dtype):
    """The methods section's image (2-D shape) or signal (1-D): uniform in [-1, 1)."""
    if len(shape) == 1:
        rng = np.random.default_rng([SEED, 15, shape[0], DTYPES.index(dtype)])
        return rng.uniform(-1, 1, shape).astype(dtype)
    return image(shape, dtype)


# --------------------------------------------------------------------------- 'nn'
# The nn section (issue 16's figures): fastcorr.nn's convolution layer, forward and backward,
# against torch on the anchor shapes (N, C, (H, W), O, k, groups), stride 1, no padding.
NN_SHAPES = (
    (64, 1, (28, 28), 8, 5, 1),
    (16, 1, (256, 256), 8, 5, 1),
    (8, 3, (224, 224), 16, 3, 1),
    (8, 16, (128, 128), 32, 3, 1),
    (16, 64, (56, 56), 64, 3, 1),
    (8, 64, (56, 56), 64, 3, 64),
)
# torch's float32 GFLOP/s (forward, backward) on those shapes in the anchor table
# (PyTorch 2.13, 2 threads, Zen 5): context for the figures measured here, on another CPU.
NN_ANCHOR_TORCH = ((91, 24), (9.8, 9.2), (173, 68), (351, 263), (444, 374), (66, 60))
# --quick: an eighth of the batch (at least 1) and half the image side (at least 28, the
# smallest of the images): about a thirtieth of the work.
NN_QUICK_BATCH_DIVISOR = 8
NN_QUICK_MIN_SIDE = 28


def nn_cases(quick, size=None):
    """The nn section's shapes, in the order they run.

    Parameters
    ----------
    quick : bool
        Smaller batches and images (NN_QUICK_BATCH_DIVISOR, NN_QUICK_MIN_SIDE).
    size : (int, int), optional
        One image shape for every case (a small run, as the tests make), widened to the
        kernel where it is smaller, with the quick batches; default: the issue's shapes.

    Returns
    -------
    list of dict
        ``N``, ``C``, ``H``, ``W``, ``O``, ``k``, ``groups`` and ``anchor`` (torch's float32
        GFLOP/s in the issue, ``{"forward": ..., "backward": ...}``, for the issue's own
        shapes; None for a smaller run's).

    Examples
    --------
    >>> [(c["N"], c["H"]) for c in nn_cases(True)][:3]
    [(8, 28), (2, 128), (1, 112)]
    >>> {(c["H"], c["W"]) for c in nn_cases(True, (12, 16))}
    {(12, 16)}
    """
    out = []
    for (n, c, (h, w), o, k, groups), (fwd, bwd) in zip(NN_SHAPES, NN_ANCHOR_TORCH):
        resized = quick or size is not None
        if resized:
            n = max(1, n // NN_QUICK_BATCH_DIVISOR)
        if size is not None:
            h, w = max(size[0], k), max(size[1], k)
        elif quick:
            h, w = max(h // 2, NN_QUICK_MIN_SIDE), max(w // 2, NN_QUICK_MIN_SIDE)
        out.append({"N": n, "C": c, "H": h, "W": w, "O": o, "k": k, "groups": groups,
                    "anchor": None if resized else {"forward": fwd, "backward": bwd}})
    return out


def nn_flops(case):
    """(forward, backward) FLOPs of `case`: 2 per multiply-add of the forward,
    ``2 * N * O * (C / groups) * k * k * OH * OW``, and twice that for the two gradients
    (each computes as many), whatever a library actually does."""
    oh, ow = case["H"] - case["k"] + 1, case["W"] - case["k"] + 1
    forward = 2.0 * case["N"] * case["O"] * (case["C"] // case["groups"]) * case["k"] ** 2 \
        * oh * ow
    return forward, 2 * forward


def nn_target(case, dtype):
    """The issue's figure for `case` in `dtype`: forward + both gradients at least ``min_x``
    times torch's speed, or None where the issue sets none (float32 with 5 to 31 channels).

    Returns
    -------
    (float, str) or None
        ``(min_x, the figure as the issue words it)``.  float64 (any shape) first: 3x also
        covers a depthwise layer's 2x.

    Examples
    --------
    >>> [nn_target(c, "float32") for c in nn_cases(False)][3:]
    [None, (0.7, '>= 0.7x torch (C >= 32)'), (2.0, '>= 2x torch (depthwise)')]
    >>> nn_target(nn_cases(False)[5], "float64")
    (3.0, '>= 3x torch (float64)')
    """
    c, groups = case["C"], case["groups"]
    if dtype == "float64":
        return 3.0, ">= 3x torch (float64)"
    if groups == c and c > 1:
        return 2.0, ">= 2x torch (depthwise)"
    if c <= 4:
        return 4.0, ">= 4x torch (C <= 4)"
    if c >= 32:
        return 0.7, ">= 0.7x torch (C >= 32)"
    return None


def nn_arrays(case, dtype):
    """The input (N, C, H, W), weight (O, C/groups, k, k) and output gradient
    (N, O, OH, OW) of `case` in `dtype`: uniform in [-1, 1), from the case's own seed."""
    n, c, h, w, o, k, groups = (case[key] for key in ("N", "C", "H", "W", "O", "k", "groups"))
    rng = np.random.default_rng([SEED, 16, n, c, h, w, o, k, groups, DTYPES.index(dtype)])
    x = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
    weight = rng.uniform(-1, 1, (o, c // groups, k, k)).astype(dtype)
    grad_output = rng.uniform(-1, 1, (n, o, h - k + 1, w - k + 1)).astype(dtype)
    return x, weight, grad_output
