"""
Where each method wins: direct, separable, FFT and 'auto'
=========================================================

fastcorr computes a correlation in one of three ways: ``method='direct'`` sums every window's
products (``P * Q`` multiply-adds per output), ``'separable'`` runs a rank-1 (or low-rank)
kernel as a pass down the columns and one along the rows (``P + Q``), and ``'fft'`` correlates
tiles of the image by FFT (a cost per output that grows with the logarithm of the tile only).
This page times the three on a 1024 x 1024 float32 image over kernel sizes from 3 to 129,
beside :func:`scipy.signal.fftconvolve`, marks where the FFT overtakes the direct sum, and shows
what ``method='auto'`` picks (:func:`fastcorr.choose_method`); a second panel does the same in
1-D for a signal of a million samples.  Every timed result is checked against the direct one.
"""
# sphinx_gallery_capture_repr = ()
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.signal

import fastcorr

config = fastcorr.show_config(mode="dicts")
THREADS = config["openmp"]["max_threads"]
SIMD = config["simd"]["selected"]
predicted = config["methods"]["crossovers"]["float32"]
print(f"fastcorr {fastcorr.__version__}: {THREADS} threads, SIMD path {SIMD}; "
      f"the cost table 'auto' decides by predicts, for float32: FFT from "
      f"{predicted['fft_2d_from']}x{predicted['fft_2d_from']} (on 2048x2048), separable "
      f"passes for rank-1 kernels from {predicted['separable_rank1_from']}x"
      f"{predicted['separable_rank1_from']}, FFT from {predicted['fft_1d_from']} taps "
      f"(on 2,000,000 samples)")

# %%
# How it is timed and checked
# ---------------------------
# Each time is the best of at least three calls after a warm-up call, more for cheap calls
# (until 0.1 s is spent): the machine's other work then rarely hides the quiet time.  The
# warm-up's result is the one checked.  In 2-D the calls write into a preallocated ``out=``,
# so allocation is not timed.  Times are divided by the number of
# outputs (ns per output).  The direct and FFT times use a random kernel (what they cost does
# not depend on its values); the separable time uses a Gaussian of the same size (sigma = K/6),
# which has rank 1.
#
# The check: an FFT's rounding error is relative to the norms of the kernel and of the image
# tile, not to each output.  The README's Methods table bounds it by
# ``20 * u * (log2 L + 1) * |w|_2 * |tile|_2`` for tiles whose FFT has L points (u = eps/2).
# What is asserted here is a simpler sufficient form: every result is within ::
#
#     20 * u * (log2 L + 1) * |w|_2 * |x|_2
#
# of ``method='direct'``'s, with ``|x|_2`` the norm of the whole image (at least any tile's)
# and L the product over the axes of the power of two at or above ``M + P - 1`` (no tile's FFT,
# fastcorr's or scipy's, is longer).  The direct result carries its own rounding, of the order
# of ``sqrt(P * Q) * u`` times the output, far below this bound for these inputs.  The same
# check is applied to scipy's results and to the separable one (whose own bound, for a
# Gaussian, is smaller still).
U32 = float(np.finfo(np.float32).eps) / 2


def fft_bound(x, w):
    points = math.prod(2 ** math.ceil(math.log2(m + p - 1)) for m, p in zip(x.shape, w.shape))
    norms = [float(np.linalg.norm(a.astype(np.float64))) for a in (w, x)]
    return 20 * U32 * (math.log2(points) + 1) * norms[0] * norms[1]


def timed(call, *args, budget=0.1, **kwargs):
    """(best time in seconds, the warm-up call's result) of ``call(*args, **kwargs)``: at least three
    timed calls, more until `budget` seconds are spent (at most 50), so that a cheap call gets
    many chances to run on a quiet machine."""
    result = call(*args, **kwargs)
    result = result.copy() if isinstance(result, np.ndarray) else result
    best, spent, calls = math.inf, 0.0, 0
    while calls < 3 or (spent < budget and calls < 50):
        start = time.perf_counter()
        call(*args, **kwargs)
        elapsed = time.perf_counter() - start
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    return best, result


def checked(name, result, reference, bound):
    diff = float(np.max(np.abs(result.astype(np.float64) - reference)))
    assert diff <= bound, f"{name}: {diff:.3g} > {bound:.3g}"
    return diff


def gaussian(k):
    g = np.exp(-0.5 * ((np.arange(k) - (k - 1) / 2) / (k / 6)) ** 2)
    return g / g.sum()


# %%
# 2-D: a 1024 x 1024 image, 'valid' mode
# --------------------------------------
rng = np.random.default_rng(0)
image = rng.random((1024, 1024), dtype=np.float32)
sizes = [3, 5, 7, 11, 17, 25, 37, 57, 85, 129]
times_2d = {m: [] for m in ("direct", "fft", "separable (Gaussian)", "scipy fftconvolve")}
picks_2d = {"random": [], "Gaussian": []}
worst_2d = 0.0
for k in sizes:
    w = rng.random((k, k), dtype=np.float32)
    g = np.outer(gaussian(k), gaussian(k)).astype(np.float32)
    out = np.empty((1024 - k + 1,) * 2, np.float32)
    outputs = out.size

    t, reference = timed(fastcorr.correlate2d, image, w, "valid", out=out, method="direct")
    times_2d["direct"].append(t / outputs)
    t, result = timed(fastcorr.correlate2d, image, w, "valid", out=out, method="fft")
    times_2d["fft"].append(t / outputs)
    bound = fft_bound(image, w)
    worst_2d = max(worst_2d, checked(f"fft K={k}", result, reference, bound) / bound)
    t, result = timed(scipy.signal.fftconvolve, image, w[::-1, ::-1], "valid")
    times_2d["scipy fftconvolve"].append(t / outputs)
    worst_2d = max(worst_2d, checked(f"fftconvolve K={k}", result, reference, bound) / bound)
    # The Gaussian's own direct result is the separable one's reference.
    reference = fastcorr.correlate2d(image, g, "valid", method="direct")
    t, result = timed(fastcorr.correlate2d, image, g, "valid", out=out, method="separable")
    times_2d["separable (Gaussian)"].append(t / outputs)
    bound = fft_bound(image, g)
    worst_2d = max(worst_2d, checked(f"separable K={k}", result, reference, bound) / bound)
    picks_2d["random"].append(fastcorr.choose_method(image, w, "valid"))
    picks_2d["Gaussian"].append(fastcorr.choose_method(image, g, "valid"))

print(f"2-D, 1024x1024 float32 'valid', ns per output ({THREADS} threads, {SIMD}):")
print(f"{'K':>5s}" + "".join(f"{m:>22s}" for m in times_2d)
      + f"{'auto (random)':>15s}{'auto (Gaussian)':>17s}")
for i, k in enumerate(sizes):
    print(f"{k:5d}" + "".join(f"{times_2d[m][i] * 1e9:22.3f}" for m in times_2d)
          + f"{picks_2d['random'][i]:>15s}{picks_2d['Gaussian'][i]:>17s}")
print(f"largest difference to method='direct': {worst_2d:.1%} of the bound")

# %%
# 1-D: a million samples, 'valid' mode
# ------------------------------------
# :func:`fastcorr.correlate` (numpy.correlate's interface, no ``out=``) directly and by FFT,
# beside :func:`scipy.signal.oaconvolve` (overlap-add, with the taps reversed to correlate).
signal = rng.random(1_000_000, dtype=np.float32)
taps_list = [2 ** e for e in range(3, 14)]  # 8 .. 8192
times_1d = {m: [] for m in ("direct", "fft", "scipy oaconvolve")}
picks_1d = []
worst_1d = 0.0
for k in taps_list:
    taps = rng.random(k, dtype=np.float32)
    outputs = len(signal) - k + 1
    t, reference = timed(fastcorr.correlate, signal, taps, method="direct")
    times_1d["direct"].append(t / outputs)
    bound = fft_bound(signal, taps)
    t, result = timed(fastcorr.correlate, signal, taps, method="fft")
    times_1d["fft"].append(t / outputs)
    worst_1d = max(worst_1d, checked(f"1-D fft {k}", result, reference, bound) / bound)
    t, result = timed(scipy.signal.oaconvolve, signal, taps[::-1], "valid")
    times_1d["scipy oaconvolve"].append(t / outputs)
    worst_1d = max(worst_1d, checked(f"oaconvolve {k}", result, reference, bound) / bound)
    picks_1d.append(fastcorr.choose_method(signal, taps))

print(f"1-D, 1,000,000 float32 samples 'valid', ns per output ({THREADS} threads, {SIMD}):")
print(f"{'taps':>6s}" + "".join(f"{m:>18s}" for m in times_1d) + f"{'auto':>8s}")
for i, k in enumerate(taps_list):
    print(f"{k:6d}" + "".join(f"{times_1d[m][i] * 1e9:18.3f}" for m in times_1d)
          + f"{picks_1d[i]:>8s}")
print(f"largest difference to method='direct': {worst_1d:.1%} of the bound")


# %%
# The picture
# -----------
# Time per output against kernel size, both log scales.  The direct sum's time grows with the
# kernel's area (its side squared, a slope of 2) in 2-D and with the taps in 1-D; the FFT's
# stays nearly flat; separable passes grow with the side.  The dotted vertical lines are where
# the measured FFT (red) and separable (green) times cross the direct time, interpolated
# between the two sizes around the crossing; the rings sit on the curve of the method
# ``'auto'`` picks for the random kernel, the squares on the one it picks for the Gaussian.
# 'auto' decides from a table measured once per SIMD path, on 2048 x 2048 images and
# 2,000,000 samples on a quiet machine, so its switch can sit a size away from this run's
# crossing.
def crossover(sizes, slow, fast):
    """The size from which `fast` stays faster than `slow`, interpolated on the log-log curves
    (None if it never wins, the smallest size if it always does)."""
    ratio = np.log(np.array(fast) / np.array(slow))
    wins = ratio < 0
    if not wins[-1]:
        return None
    first = len(wins) - np.argmin(wins[::-1]) if not wins.all() else 0
    if first == 0:
        return sizes[0]
    a, b = np.log(sizes[first - 1]), np.log(sizes[first])
    return float(np.exp(a + ratio[first - 1] / (ratio[first - 1] - ratio[first]) * (b - a)))


STYLES = {"direct": {"color": "tab:blue", "marker": "o"},
          "fft": {"color": "tab:red", "marker": "o"},
          "separable (Gaussian)": {"color": "tab:green", "marker": "o"},
          "scipy fftconvolve": {"color": "tab:purple", "marker": "s", "ls": "--", "lw": 1},
          "scipy oaconvolve": {"color": "tab:brown", "marker": "s", "ls": "--", "lw": 1}}
PICKED = {"direct": "direct", "fft": "fft", "separable": "separable (Gaussian)"}


def panel(ax, sizes, times, picks, xlabel, title):
    for name, values in times.items():
        label = name if name.startswith("scipy") else f"fastcorr {name}"
        ax.plot(sizes, np.array(values) * 1e9, ms=4, label=label, **STYLES[name])
    for kind, marker in picks.items():
        chosen = [np.nan if PICKED[p] not in times else times[PICKED[p]][i] * 1e9
                  for i, p in enumerate(marker[0])]
        ax.plot(sizes, chosen, ls="none", marker=marker[1], ms=13, mfc="none", mec="black",
                mew=1.3, label=f"'auto' picks ({kind} kernel)")
    found = {}
    # The FFT's label at the top of the panel, the separable passes' at the bottom, where
    # the curves leave room.
    for method, color, height, align in (("fft", "tab:red", 0.97, "top"),
                                         ("separable (Gaussian)", "tab:green", 0.03, "bottom")):
        if method not in times:
            continue
        k_star = found[method] = crossover(sizes, times["direct"], times[method])
        if k_star is None:
            continue
        ax.axvline(k_star, ls=":", color=color)
        ax.annotate(f"{method.split()[0]} faster than direct\nfrom about {k_star:.0f}",
                    (k_star, height), xycoords=("data", "axes fraction"), xytext=(4, 0),
                    textcoords="offset points", va=align, fontsize=8, color=color)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(k) for k in sizes], fontsize=8)
    ax.minorticks_off()
    ax.set(xlabel=xlabel, ylabel="ns per output", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return found


fig, (ax2, ax1) = plt.subplots(1, 2, figsize=(13, 5.4), layout="constrained")
k2 = panel(ax2, sizes, times_2d, {"random": (picks_2d["random"], "o"),
                                  "Gaussian": (picks_2d["Gaussian"], "s")},
           "kernel side K (K x K)", "2-D: 1024 x 1024 float32, 'valid'")
k1 = panel(ax1, taps_list, times_1d, {"random": (picks_1d, "o")}, "kernel taps",
           "1-D: 1,000,000 float32 samples, 'valid'")
fig.suptitle(f"fastcorr {fastcorr.__version__}: time per output by method, {THREADS} threads, "
             f"{SIMD} path (this machine, one run)")
for dims, found in (("2-D", k2), ("1-D", k1)):
    print(f"{dims}: " + "; ".join(
        f"{method} faster than direct from "
        + ("no size measured" if k is None else f"about {k:.0f}")
        for method, k in found.items()))
