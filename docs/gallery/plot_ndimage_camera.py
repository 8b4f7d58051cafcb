"""
Photographs through fastcorr.ndimage, beside scipy.ndimage
==========================================================

scikit-image's bundled ``camera`` photograph goes through five of :mod:`fastcorr.ndimage`'s
filters (a Gaussian, the Sobel gradient magnitude, a uniform box, the Laplacian, and a
correlation of the ``uint8`` image with its default ``uint8`` output), and the colour
``astronaut`` through a Gaussian per channel (``axes=(0, 1)``).  Every result is compared with
:mod:`scipy.ndimage`'s on the same call and checked against the error bound the docstrings
state; then each filter is timed on a 2048 x 2048 float32 image against scipy.ndimage and,
when it is installed, OpenCV, on the same number of threads.
"""
# sphinx_gallery_capture_repr = ()
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.ndimage as scipy_ndimage
from skimage import data

import fastcorr
from fastcorr import ndimage

config = fastcorr.show_config(mode="dicts")
THREADS = config["openmp"]["max_threads"]
SIMD = config["simd"]["selected"]
try:
    import cv2

    cv2.setNumThreads(THREADS)
except ImportError:
    cv2 = None
print(f"fastcorr {fastcorr.__version__}: {THREADS} threads, SIMD path {SIMD}; "
      f"OpenCV {cv2.__version__ if cv2 else 'not installed'}")

# %%
# The images and the filters
# --------------------------
# The photographs are ``uint8``; the float filters run on them scaled to [0, 1] in float32,
# the dtype image pipelines use.  Each filter is one call, written once and run by both
# modules (``fastcorr.ndimage`` takes scipy.ndimage's names and arguments).  Beside each call
# stands the 2-D kernel the filter amounts to, whose absolute values give the error bound
# below: a Gaussian or box filter runs as two 1-D passes, but is the correlation with their
# outer product.
camera_u8 = data.camera()
camera = camera_u8.astype(np.float32) / 255
astronaut = data.astronaut().astype(np.float32) / 255  # (512, 512, 3)

SIGMA, BOX = 3.0, 9
radius = int(4 * SIGMA + 0.5)  # scipy's (and fastcorr's) truncation at 4 sigma
taps = np.arange(-radius, radius + 1)
gauss_1d = np.exp(-0.5 * (taps / SIGMA) ** 2)
gauss_1d /= gauss_1d.sum()
# A 5x5 binomial blur, for the uint8 correlation.
binomial = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0

FILTERS = {
    # name: (the call, with the module as argument; the filter's 2-D kernel)
    f"Gaussian, sigma {SIGMA:g}": (lambda m, x: m.gaussian_filter(x, SIGMA),
                                   np.outer(gauss_1d, gauss_1d)),
    "Sobel, axis 0": (lambda m, x: m.sobel(x, 0), np.outer([-1, 0, 1], [1, 2, 1])),
    "Sobel, axis 1": (lambda m, x: m.sobel(x, 1), np.outer([1, 2, 1], [-1, 0, 1])),
    f"uniform {BOX}x{BOX}": (lambda m, x: m.uniform_filter(x, BOX),
                             np.full((BOX, BOX), 1.0 / BOX ** 2)),
    "Laplace": (lambda m, x: m.laplace(x), np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])),
}

# %%
# Agreement with scipy.ndimage
# ----------------------------
# scipy.ndimage computes in float64 and rounds each pass's result to float32; fastcorr
# computes float32 data in float32 (twice as many values per SIMD register).  Its docs bound
# each output within ``(K + 2) * eps32 * sum|w||x|`` of the exact value (the README; the
# docstrings say "about ``K * eps32 * sum(|w| |x|)``"), for the K taps of the kernel and the
# input values x under them.  K here is the size of the 2-D kernel (625 for the Gaussian,
# although its two 1-D passes make 50 multiply-adds per output, so its bound is loose).
# scipy's float32 result is itself within ``eps32 * sum|w||x|`` of the exact value (its
# roundings to float32, half an ulp each, add up to no more), so the check below asserts,
# output by output, ::
#
#     |fastcorr - scipy| <= (K + 2) * eps32 * sum|w||x| + eps32 * sum|w||x|
#
# with ``sum|w||x|`` computed in float64 by scipy.ndimage (the same 'reflect' border).  It
# also prints how much of that allowance the largest difference uses.  The ``uint8``
# correlation with its default ``uint8`` output must equal scipy's exactly: fastcorr
# reproduces scipy's float64 arithmetic and its truncation for integer outputs.
EPS32 = float(np.finfo(np.float32).eps)


def check_float(name, image, kernel, call, axes=None):
    """fastcorr's result of `call`, its max abs difference to scipy.ndimage's, and how much of
    the allowance that difference uses (asserted <= 1)."""
    ours, theirs = call(ndimage, image), call(scipy_ndimage, image)
    assert ours.dtype == theirs.dtype == np.float32
    abs_kernel = np.abs(kernel)
    if axes is not None:  # the same 2-D kernel on each channel
        abs_kernel = np.expand_dims(abs_kernel, [d for d in range(image.ndim) if d not in axes])
    scale = scipy_ndimage.correlate(np.abs(image.astype(np.float64)), abs_kernel)
    allowance = (kernel.size + 2 + 1) * EPS32 * scale
    diff = np.abs(ours.astype(np.float64) - theirs)
    used = float(np.max(diff / np.maximum(allowance, np.finfo(np.float64).tiny)))
    assert np.all(diff <= allowance), f"{name}: beyond the bound"
    print(f"{name:24s} K={kernel.size:4d}  max |fastcorr - scipy| = {diff.max():.2e}  "
          f"({used:.1%} of the allowance)")
    return ours, float(diff.max())


results = {}
for name, (call, kernel) in FILTERS.items():
    results[name] = check_float(name, camera, kernel, call)

astro_name = "astronaut RGB, Gaussian"
results[astro_name] = check_float(
    astro_name, astronaut, np.outer(gauss_1d, gauss_1d),
    lambda m, x: m.gaussian_filter(x, SIGMA, axes=(0, 1)), axes=(0, 1))

blur_u8 = ndimage.correlate(camera_u8, binomial)
blur_u8_scipy = scipy_ndimage.correlate(camera_u8, binomial)
assert blur_u8.dtype == np.uint8 and np.array_equal(blur_u8, blur_u8_scipy)
print(f"{'uint8 5x5 correlate':24s} K=  25  equal to scipy's uint8 result: "
      f"{np.array_equal(blur_u8, blur_u8_scipy)}")

# %%
# What the filters do to the photograph
# -------------------------------------
# fastcorr's results; each title gives the largest difference to scipy.ndimage's.  The Sobel
# magnitude is ``hypot`` of the two Sobel derivatives (each checked above); the Laplacian is
# shown on a symmetric grey scale clipped at the 98th percentile of its magnitude, since a few
# edges dominate its range.
sobel_0, diff_0 = results["Sobel, axis 0"]
sobel_1, diff_1 = results["Sobel, axis 1"]
laplacian, diff_laplace = results["Laplace"]
lap_limit = float(np.percentile(np.abs(laplacian), 98))
gauss_name, box_name = f"Gaussian, sigma {SIGMA:g}", f"uniform {BOX}x{BOX}"
panels = [
    ("camera (scikit-image), float32", camera, {}),
    (f"{gauss_name}\nmax diff {results[gauss_name][1]:.1e}", results[gauss_name][0], {}),
    (f"Sobel magnitude\nmax diff {max(diff_0, diff_1):.1e} (per axis)",
     np.hypot(sobel_0, sobel_1), {}),
    (f"{box_name}\nmax diff {results[box_name][1]:.1e}", results[box_name][0], {}),
    (f"Laplace\nmax diff {diff_laplace:.1e}", laplacian,
     {"vmin": -lap_limit, "vmax": lap_limit}),
    ("uint8 5x5 binomial correlate\nequal to scipy's (uint8 output)", blur_u8, {}),
    ("astronaut (scikit-image), RGB", astronaut, {}),
    (f"Gaussian per channel, axes=(0, 1)\nmax diff {results[astro_name][1]:.1e}",
     np.clip(results[astro_name][0], 0, 1), {}),
]
fig, axes = plt.subplots(2, 4, figsize=(13, 7.4), layout="constrained")
for ax, (title, image, limits) in zip(axes.flat, panels):
    ax.imshow(image, cmap="gray", **limits)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
fig.suptitle("fastcorr.ndimage results; 'max diff': largest |fastcorr - scipy.ndimage| "
             "(all within the stated bound)", fontsize=11)

# %%
# Timings
# -------
# The photograph upscaled 4x (2048 x 2048, float32) so the times measure filtering rather
# than call overhead; the ``uint8`` correlation runs on the upscaled ``uint8`` image.  Each
# time is the best of at least 7 calls (scipy's: 3) after one warm-up, more for fast calls
# until 0.2 s is spent, so that the machine's other work rarely hides the quiet time.
# scipy.ndimage runs on one thread; fastcorr and OpenCV on the same thread count.  OpenCV's
# calls are its equivalents with the same border (``BORDER_REFLECT`` is scipy's 'reflect'):
# ``GaussianBlur`` with the same 25 taps, two ``Sobel`` calls, ``blur``, ``Laplacian`` with
# ``ksize=1`` and ``filter2D``, whose ``uint8`` output rounds where scipy's truncates (so
# about half its values are one higher).  Their results on the photograph are compared with
# scipy's first.
big = np.kron(camera, np.ones((4, 4), np.float32))
big_u8 = np.kron(camera_u8, np.ones((4, 4), np.uint8))


def best_ms(at_least, call, *args):
    """The best time of ``call(*args)`` over `at_least` calls after a warm-up, or over more
    while under 0.2 s have been spent (at most 50): a cheap call gets many chances to run on a
    quiet machine."""
    call(*args)
    best, spent, calls = float("inf"), 0.0, 0
    while calls < at_least or (spent < 0.2 and calls < 50):
        start = time.perf_counter()
        call(*args)
        elapsed = time.perf_counter() - start
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    return 1e3 * best


def sobel_both(module, x):
    return module.sobel(x, 0), module.sobel(x, 1)


timed = {
    gauss_name: (big, FILTERS[gauss_name][0]),
    "Sobel, both axes": (big, sobel_both),
    box_name: (big, FILTERS[box_name][0]),
    "Laplace": (big, FILTERS["Laplace"][0]),
    "uint8 5x5 correlate": (big_u8, lambda m, x: m.correlate(x, binomial)),
}
if cv2 is not None:
    reflect = cv2.BORDER_REFLECT
    cv2_calls = {
        gauss_name: lambda x: cv2.GaussianBlur(x, (2 * radius + 1,) * 2, SIGMA,
                                               borderType=reflect),
        "Sobel, both axes": lambda x: (
            cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3, borderType=reflect),
            cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3, borderType=reflect)),
        box_name: lambda x: cv2.blur(x, (BOX, BOX), borderType=reflect),
        "Laplace": lambda x: cv2.Laplacian(x, cv2.CV_32F, ksize=1, borderType=reflect),
        "uint8 5x5 correlate": lambda x: cv2.filter2D(x, -1, binomial.astype(np.float32),
                                                      borderType=reflect),
    }
    for name, cv2_call in cv2_calls.items():
        image = camera_u8 if name.startswith("uint8") else camera
        theirs = np.array(cv2_call(image), np.float64)
        reference = np.array(timed[name][1](scipy_ndimage, image), np.float64)
        print(f"OpenCV {name:22s} max |OpenCV - scipy| = "
              f"{np.abs(theirs - reference).max():.2e}")

timings = {}
for name, (image, call) in timed.items():
    row = {"fastcorr": best_ms(7, call, ndimage, image),
           "scipy.ndimage": best_ms(3, call, scipy_ndimage, image)}
    if cv2 is not None:
        row["OpenCV"] = best_ms(7, cv2_calls[name], image)
    timings[name] = row

libraries = list(next(iter(timings.values())))
header = f"{'2048x2048, ms':22s}" + "".join(f"{lib:>15s}" for lib in libraries)
print(f"best of >= 7 calls (scipy: >= 3), {THREADS} threads, fastcorr's SIMD path {SIMD}")
print(header + f"{'scipy / fastcorr':>18s}")
for name, row in timings.items():
    print(f"{name:22s}" + "".join(f"{row[lib]:15.2f}" for lib in libraries)
          + f"{row['scipy.ndimage'] / row['fastcorr']:17.1f}x")

# %%
# The same table as a chart (a log scale: the libraries lie an order of magnitude apart on
# some filters).
fig, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
height = 0.8 / len(libraries)
colors = {"fastcorr": "tab:blue", "scipy.ndimage": "tab:grey", "OpenCV": "tab:orange"}
positions = np.arange(len(timings))
for i, lib in enumerate(libraries):
    values = [row[lib] for row in timings.values()]
    bars = ax.barh(positions + (i - (len(libraries) - 1) / 2) * height, values, height,
                   label=lib, color=colors[lib])
    ax.bar_label(bars, [f"{v:.1f}" for v in values], padding=2, fontsize=8)
ax.set_yticks(positions, list(timings))
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlabel("ms per call (best of at least 7 calls, scipy's of at least 3), log scale")
ax.set_title(f"2048 x 2048 images: fastcorr.ndimage ({THREADS} threads, {SIMD} path) vs "
             f"scipy.ndimage (1 thread)" + (f" vs OpenCV ({THREADS} threads)" if cv2 else ""),
             fontsize=10)
ax.legend(loc="lower right")
ax.margins(x=0.15)
