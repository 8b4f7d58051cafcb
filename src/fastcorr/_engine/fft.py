"""Correlation by blocked FFT (overlap-save): real stacks, bounded memory.

`correlate_fft_2d` and `correlate_fft_1d` compute what `execute._correlate_2d` and
`execute._correlate_1d` compute (the same arguments, the same result up to rounding), with
O(log L) work per output instead of P*Q.

Method
------
The output is cut into tiles (`tile_plan`).  A tile of T outputs along an axis
reads T + K - 1 positions of the extended image X~; an FFT of length F >= T + K - 1 along that
axis correlates them circularly, and its first F - K + 1 outputs never wrap around (overlap-save),
so T = F - K + 1 and nothing is added up between tiles.  Each tile is read through the maps:
slices of x where its map segments are runs of consecutive positions (the interior), else
block by block through the segments' runs (a reflection, a repetition, a fill), with -1 ->
`fill`; a tile that reaches past the end of X~ is
padded with zeros (the outputs they could reach are discarded; zeros keep them finite).
Correlation, not convolution: the tile's spectrum is multiplied by the conjugate of the
kernel's, which is computed once per call (once per kernel of a (B, ...) kernel stack, when its
image's tiles come up).

Several tiles go through each FFT call (a chunk of at most about `CHUNK_BYTES`, at least one
tile: tiles of several images when each image is one tile; chunks even over the threads, see
`per_chunk`), on `scipy.fft` when scipy imports, else on `numpy.fft` (in float64: see
`work_dtype`; a float32 result is rounded once on the way out); float64 goes to `numpy.fft`
where it writes into buffers each thread keeps for its chunks (NumPy 2, see
FLOAT64_ON_NUMPY).  Chunks run on threads of their own, one transform per thread (a call of
one chunk on the backend's threads).  The
2-D transforms run axis by axis: the kernel's rows are transformed before they are padded, and
the inverse transform of a tile keeps only the T rows it returns before its last pass.

Memory
------
A call allocates at most, with L = F_0 * F_1 (F along a 1-D axis) the FFT size of a tile, T_c
tiles per chunk (`per_chunk`, at most `chunk_tiles`: CHUNK_BYTES // (L * c), at least 1),
s the data's item size, c the item size of `work_dtype` (s on scipy.fft, 8 on numpy.fft) and
S = L (1 + 2 / F_last) c the bytes of one tile's spectrum:

    T_c L (s + c)       the chunk's tiles, and the gather of an edge tile
  + (T_c + T_k) S       the chunk's spectra and the kernel spectra kept (T_k = 1, or T_c when
                        every image is one tile with a kernel of its own)
  + (a + 1) T_c' S      what one transform pass allocates (a = `_pass_arrays`: 1, or 3 on
                        NumPy 1.x's numpy.fft), T_c' = max(T_c, T_k)
  + T_c L c             the inverse's real result

-- on scipy.fft 6 to 7 T_c L s: 24-28 bytes per FFT point of a chunk in float32, 48-56 in
float64 (`memory_bound` computes it; the tests check it with tracemalloc, whose peaks came to
12-16 and 22-46), once per thread when chunks run on threads of their own (at most
n_threads, and never more than there are chunks).  None of it grows
with the image: the largest F is bounded by `max_fft_len`, so there is never a padded copy of
a large image nor its whole spectrum.

Error bound
-----------
Let y be the exact correlation of a tile, L its FFT size, u the unit roundoff of the dtype
(eps/2: 2^-24 float32, 2^-53 float64) and s = log2(L) + 1 the number of radix-2 stages of a
real transform of L points (its butterflies plus the real-to-complex pass).  Then every output
satisfies

    |y_fft - y|  <=  (3 * s * eta + (2 sqrt 2 + 3) * u) * ||w||_2 * ||x_tile||_2,
    eta = u + gamma_4 * (sqrt 2 + u) ~= (1 + 4 sqrt 2) u ~= 6.66 u,

i.e. c * u * (log2 L + 1) with c = 3 (1 + 4 sqrt 2) ~= 20, where x_tile is the part of the
extended image the tile reads (its L points, zero padding included).  `bound_factor` gives the
bracket, `fft_error_bound` the whole.  Derivation (Higham, Accuracy and Stability of Numerical
Algorithms, 2nd ed.: Thm 24.2 for the FFT, Lemma 3.5 for the complex product), with
X = F x, W = F w (F the unnormalised DFT, ||F v||_2 = sqrt(L) ||v||_2, and y = F^-1 (X conj(W))):

- forward transforms: the computed X is X + e_x with ||e_x||_2 <= s eta ||X||_2 =
  s eta sqrt(L) ||x||_2, likewise e_w.  Their share of output i is
  (1/L) |sum_k e_x,k conj(W_k) omega^-ik| <= (1/L) ||e_x||_2 ||W||_2 = s eta ||x||_2 ||w||_2
  (Cauchy-Schwarz), and the same for e_w: 2 s eta ||x|| ||w||;
- the product: |fl(a b) - a b| <= sqrt(2) gamma_2 |a| |b| per point, so its share is
  <= sqrt(2) gamma_2 (1/L) sum_k |X_k| |W_k| <= 2 sqrt(2) u ||x|| ||w||;
- the inverse transform: its butterflies bound each output's error componentwise by
  s eta (1/L) sum_k |X_k W_k| <= s eta ||x|| ||w|| (every input reaches every output along one
  path of unit-modulus twiddles); the scaling by 1/L (rounded, then multiplied) adds
  2 u |y_i|, and rounding a float64 result to float32 (numpy.fft) u |y_i|, with
  |y_i| <= ||w|| ||x_tile|| (Cauchy-Schwarz).

That is the radix-2 analysis.  pocketfft's lengths also have radix-3, 4 and 5 passes; one such
pass stands for log2(3), 2 or log2(5) radix-2 stages, whose budget (10.6 u, 13.3 u, 15.5 u)
covers its butterfly's few additions and twiddle products.  We assume that rather than prove
it; the tests check the bound on such lengths (most of `next_fast_len`'s).
The bound is relative to the tile's norms, not to each output: an output far smaller than its
neighbours (large dynamic range) can lose all its digits, where the direct sum's bound
P*Q*eps*sum|w||x| is relative to that output's own window.  The two agree within
sqrt(P*Q) * log2(L) for windows of similar magnitude (sum |w||x| <= ||w||_2 ||x_window||_2
and ||x_tile|| is about sqrt(L / (P*Q)) ||x_window||); compare them with `fft_error_bound`.
NaN and Inf in a tile (data, or a non-finite fill) spread over all of its outputs.
"""
import concurrent.futures
import functools
import itertools
import math
import os
import sys
import threading

import numpy as np

from . import methods
from .methods import _finite

try:
    import scipy.fft as _scipy_fft
except ImportError:  # NumPy stays the only runtime dependency
    _scipy_fft = None

# "scipy" (scipy.fft, threaded) when scipy imports, else "numpy" (numpy.fft); a module attribute
# so the tests can run both.
BACKEND = "scipy" if _scipy_fft is not None else "numpy"

# Every time below: this machine (Xeon, KVM, 2 cores, 2 MiB L2 per core), n_threads=2, min of 3
# (or 5) runs, while another job kept the second core busy (scipy.fft's workers=2 then ran no
# faster than 1): the ratios between candidates hold, the absolute times drift.
#
# Against the peers on the same arrays, side by side (ms; scipy.fft at workers=2 for the
# scipy.signal peers, cv2.setNumThreads(2); cv2.filter2D makes the 2048x2048 'same' output):
# 2048x2048 valid, K = 31 / 63 / 101 / 255, float32: this 46.4 / 49.0 / 46.2 / 51.8,
# fftconvolve 98.8 / 99.4 / 101.3 / 111.4, oaconvolve 117.2 / 121.2 / 128.8 / 112.0,
# cv2.filter2D 60.2 / 55.1 / 75.5 / 112.0; float64: 72.0 / 75.3 / 86.6 / 91.3, 195.3 / 189.5 /
# 187.7 / 211.6, 208.4 / 214.3 / 259.9 / 212.3, 62.1 / 63.1 / 87.8 / 108.4.  1-D, 2,000,000
# samples valid, K = 512 / 2048 / 8192 / 16384, float32: this 14.7 / 16.1 / 16.6 / 20.3,
# oaconvolve 19.7 / 21.3 / 30.7 / 30.9; float64: 23.9 / 27.2 / 32.8 / 41.0, 44.4 / 40.9 /
# 69.8 / 72.1.

# Chunks of tiles run on threads of their own (see `_correlate_blocked`); a module attribute
# so the tests run both ways.
THREADS_OVER_CHUNKS = True

# The tile buffer of one chunk of tiles (at least one tile): several tiles per FFT call so small
# tiles amortise the calls' overhead, few enough that a chunk's spectra stay near the caches.
# ms at CHUNK_BYTES = 256K / 1M / 4M / 16M / 64M:
# 256 images 128x128 K=31 float32 29.8 / 27.4 / 29.0 / 36.5 / 35.1, float64 48.6 / 46.3 / 39.7 /
# 47.0 / 65.5; 64 images 256x256 K=63 (a kernel each) float32 38.9 / 35.8 / 34.1 / 59.2 / 59.7,
# float64 61.1 / 64.5 / 55.6 / 81.1 / 94.6; 2048x2048 K=101 float32 43.9 / 41.8 / 42.2 / 58.6 /
# 60.4, float64 71.3 / 73.2 / 71.1 / 87.9 / 109.9.
CHUNK_BYTES = 4 << 20

# The longest FFT along an axis (see `max_fft_len`).  2-D: a square tile of at most
# MAX_TILE_BYTES_2D, i.e. 1086 points a side in float32 and 768 in float64.  2048x2048 float32,
# valid, by the FFT side the tiling chose, ms (K=31 / 63 / 101): ~250: 45.6 / 67.3 / 77.7,
# ~480: 48.1 / 46.4 / 56.8, ~740: 46.6 / 43.0 / 46.7, 1080: 46.0 / 43.4 / 45.2, 2048 (one
# tile): 67.8 / 68.7 / 68.9 (a second run, ~740 against 1080: 42.6 / 40.3 / 41.4 against
# 38.0 / 39.1 / 37.8); float64: ~250: 66.6 / 87.5 / 109.0, ~480: 74.8 / 73.2 / 80.3, ~740:
# 71.6 / 64.8 / 68.6, 1080: 83.7 / 72.5 / 72.5, 2048: 113.6 / 112.8 / 110.5.  So about 4.5 MiB
# of tile in both dtypes (the column passes of a larger one leave the L2).
MAX_TILE_BYTES_2D = 9 << 19
# 1-D: 2,000,000 samples, valid, ms at FFT length 4096 / 8192 / 16384 / 24576 / 32768 / 49152 /
# 65536 / 128000 (K=512, 2048, 8192, 16384), float32: 16.2 / 12.8 / 12.2 / 12.2 / 11.5 / 13.8 /
# 15.8 / 19.7; 22.6 / 14.5 / 12.4 / 13.1 / 12.5 / 14.3 / 14.6 / 18.6; - / - / 22.1 / 18.4 / 16.6
# / 16.8 / 18.1 / 20.7; - / - / - / - / 22.5 / 19.3 / 19.4 / 23.5; float64: 26.6 / 23.4 / 23.0 /
# 24.2 / 25.6 / 28.9 / 32.8 / 42.9; 43.3 / 28.7 / 24.7 / 24.6 / 25.1 / 28.2 / 32.7 / 40.3;
# - / - / 42.2 / 33.2 / 30.9 / 32.1 / 37.0 / 44.4; - / - / - / - / 46.2 / 38.3 / 40.2 / 44.9.
# So 16384 for short kernels, and about 4 K for long ones.
MAX_FFT_LEN_1D = 1 << 14
# The fewest FFT points (of a chunk's tiles) that a call of one chunk transforms on the
# backend's threads.  One image, 'same', float64, Intel Xeon avx512, us on 1 / 2 backend
# threads: 70x70 K=50 (119 x 119 points) 314 / 471, 128x128 K=45 576 / 1194, 256x256 K=45
# (300 x 300) 2014 / 2339, 512x512 K=45 9779 / 7650; float32 1080x1080 17.6 / 13.3 ms.
BACKEND_THREADS_MIN_POINTS = 1 << 18
# How much faster one large tile's transforms ran on 2 backend threads than on 1: 1.0-1.4x
# (Intel Xeon avx512, float32 1024x1024 K=31, 'valid', best of 9: 6.1-6.4 ms on one, 4.1-6.5
# on two, from run to run), where the same image cut in two tiles, each on a thread of its
# own, took 3.6 (float64: 12.1, 7.2, 6.8 ms; 768x768 K=31 float32 3.2, 4.1, 2.2).  `tile_plan`
# cuts such an image where this predicts a gain, and `idle_factor` predicts an uncut one.
BACKEND_THREAD_SPEEDUP = 1.3
# The fewest FFT points (all tiles of a call) that a call spreads over threads of its own.
# Below it the threads' Python (gathering tiles, slicing results: it holds the GIL) takes
# turns more than the transforms overlap: one image of one tile, 'same', cut for 2 threads
# against uncut on one, Intel Xeon avx512, us (points uncut): float32 96x96 K=21 452 / 169
# (14,400), 200x200 K=31 551 / 346 (57,600), 256x256 K=45 662 / 764 (90,000), 300x300 K=45
# 782 / 1045 (129,600); float64 200x200 551 / 346, 256x256 855 / 865, 300x300 1089 / 1948; a
# stack of 2 images 128x128 K=31 float32 (51,200) on 2 threads 617, on one 333; 4 images
# 713 / 799.
THREADS_MIN_POINTS = 100_000
# Long kernels: overlap-save keeps F - K + 1 of every F outputs, so F grows with K; the factor
# where the measurements above are best (2-D K=255: FFT side 864 (3.4 K) 49.9 ms float32,
# 84.7 float64; 1152 (4.5 K) 43.0 and 82.1).
FFT_PER_TAP_2D = 4.5
FFT_PER_TAP_1D = 4


# --------------------------------------------------------------------------- sizes
def next_fast_len(n):
    """The smallest length >= n the backend transforms fast: scipy.fft.next_fast_len for real
    data under scipy, else the smallest 2^a 3^b 5^c >= n (numpy.fft's pocketfft has radix 2, 3,
    4 and 5 passes)."""
    if BACKEND == "scipy":
        return _scipy_fft.next_fast_len(n, real=True)
    return smooth_len(n)


# Of the lengths n..FFT_LEN_SLACK * n the backend transforms fast (2^a 3^b 5^c), a tile takes
# the one of least predicted time, length * (a + 1.73 b + 2.5 c): a fit of the time per FFT
# point of a tile forward and back over 20 lengths from 512 to 1080 gave a radix-3 pass 1.73
# and a radix-5 pass 2.5 times a radix-2 one's cost, in float32 (scipy.fft) and float64
# (numpy.fft) alike (within 0.2-0.3 ns of 5.3-11.6).  So 768 = 2^8 * 3 points go 16% faster
# than 750 = 2 * 3 * 5^3: 2048x2048 K=101 float64, 2 threads, medians of 25 in 3 alternating
# runs of each, 30.96-32.59 against 34.91-36.04 ms (best of each in two alternating runs:
# 28.7 against 31.7); 1024x1024 'same' K=127 float32, whose longest row became 1152 = 2^7 *
# 3^2 where it was 1125 = 3^2 * 5^3 (one tile across instead of two), 4.81 against 5.24.
FFT_LEN_SLACK = 1.1


def _pass_cost(n):
    cost = 0.0
    for p, weight in ((2, 1.0), (3, 1.73), (5, 2.5)):
        while n % p == 0:
            n //= p
            cost += weight
    return cost


@functools.lru_cache(maxsize=1024)
def _cheapest_len(n, limit, backend):
    first = next_fast_len(n)
    last = max(first, int(min(FFT_LEN_SLACK * n, limit)))
    candidates = [m for m in range(first, last + 1) if m == first or smooth_len(m) == m]
    return min(candidates, key=lambda m: m * _pass_cost(m))


def tile_len(n, limit):
    """The FFT length for a tile of n points along an axis: the fast length >= n (at most
    `limit` where one exists below it) of least predicted time (see FFT_LEN_SLACK)."""
    return _cheapest_len(n, limit, (BACKEND, FFT_LEN_SLACK))


def smooth_len(n):
    """The smallest 2^a 3^b 5^c >= n (n >= 1)."""
    if n <= 6:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # The smallest power of two that brings p35 to n or more.
            candidate = p35 << max(0, (-(-n // p35) - 1).bit_length())
            best = min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best


def max_fft_len(k, ndim, dtype):
    """The longest FFT along an axis with a kernel of length k (see MAX_TILE_BYTES_2D and
    MAX_FFT_LEN_1D)."""
    if ndim == 2:
        base = math.isqrt(MAX_TILE_BYTES_2D // work_dtype(dtype).itemsize)
        return tile_len(max(base, math.ceil(FFT_PER_TAP_2D * k)), math.inf)
    return tile_len(max(MAX_FFT_LEN_1D, math.ceil(FFT_PER_TAP_1D * k)), math.inf)


def _axis_tiles(out_len, k, ndim, dtype):
    """(tile, fft_len) along one axis: as few tiles as the longest FFT allows, of balanced
    length, each using all its FFT's overlap-save capacity F - K + 1."""
    whole = out_len + k - 1
    longest = max_fft_len(k, ndim, dtype)
    if whole <= longest:
        return out_len, tile_len(whole, longest)  # one tile (small problems)
    count = -(-out_len // (longest - k + 1))
    fft_len = tile_len(-(-out_len // count) + k - 1, longest)
    return min(fft_len - k + 1, out_len), fft_len


def tile_plan(out_shape, kernel_shape, dtype, n_threads=1, batch=1):
    """(tile_shape, fft_shape) of a correlation with these output and kernel core shapes, for
    `batch` images on `n_threads` threads.

    Fewer tiles than threads, large enough to run on threads (THREADS_MIN_POINTS), are cut
    along the first axis into a tile per thread where that is predicted faster (see
    BACKEND_THREAD_SPEEDUP): each cut adds K - 1 rows to transform, but no thread idles."""
    ndim = len(out_shape)
    pairs = [_axis_tiles(o, k, ndim, dtype) for o, k in zip(out_shape, kernel_shape)]
    tiles, fft_shape = [t for t, _ in pairs], [f for _, f in pairs]
    n_tiles = batch * math.prod(-(-o // t) for o, t in zip(out_shape, tiles))
    points = math.prod(fft_shape)
    if n_tiles < call_threads(n_tiles, fft_shape, n_threads):
        o, k = out_shape[0], kernel_shape[0]
        pieces = min(-(-n_threads // n_tiles), o)
        f = tile_len(-(-o // pieces) + k - 1, fft_shape[0])
        t = min(f - k + 1, o)
        cut = n_tiles * -(-o // t)
        cut_points = points // fft_shape[0] * f
        # Predicted times in units of one point on one thread: the cut tiles side by side on
        # their own threads, against the uncut ones, each on a thread (one tile: on the
        # backend's threads where it is large enough).
        uncut = points
        if n_tiles == 1 and points >= BACKEND_THREADS_MIN_POINTS:
            uncut /= BACKEND_THREAD_SPEEDUP
        if -(-cut // n_threads) * cut_points < uncut:
            tiles[0], fft_shape[0] = t, f
    return tuple(tiles), tuple(fft_shape)


def chunk_tiles(fft_shape, dtype):
    """The most tiles one FFT call takes (about CHUNK_BYTES of them, at least one)."""
    return max(1, CHUNK_BYTES // (math.prod(fft_shape) * work_dtype(dtype).itemsize))


def per_chunk(n_units, fft_shape, dtype, n_threads):
    """Tiles per FFT call for `n_units` tiles on `n_threads` threads: at most `chunk_tiles`, in
    as many chunks as a multiple of the threads where there are enough tiles, so that each
    thread, taking every n_threads-th chunk, gets an even share.  Chunks of `chunk_tiles` had
    left one thread a chunk more than the other: 2,000,000 samples with 8,192 taps (82 tiles
    of 32,768 points) in chunks of 32, 32 and 18 gave one thread 50 tiles and the other 32; in
    chunks of 21, 21, 21 and 19 they take 42 and 40, and the call ran 1.12-1.22x faster (Intel
    Xeon avx512, 2 threads, best / median of 24 in alternating rounds: float32 12.5 / 14.9
    against 14.1 / 18.1 ms, float64 21.7 / 23.7 against 24.4 / 26.4)."""
    most = chunk_tiles(fft_shape, dtype)
    chunks = -(-n_units // most)
    n_threads = call_threads(n_units, fft_shape, n_threads)
    if n_threads > 1:
        chunks = min(n_units, n_threads * -(-chunks // n_threads))
    return max(1, -(-n_units // max(chunks, 1)))


def call_threads(n_units, fft_shape, n_threads):
    """The threads a call of `n_units` tiles runs its chunks on: one where they hold fewer
    than THREADS_MIN_POINTS points in all (or THREADS_OVER_CHUNKS is off)."""
    if not THREADS_OVER_CHUNKS or n_units * math.prod(fft_shape) < THREADS_MIN_POINTS:
        return 1
    return n_threads


def idle_factor(fft_shape, n_tiles, dtype, n_threads):
    """How much longer a call of `n_tiles` tiles takes on `n_threads` threads than its share
    of their work: the slowest thread's tiles (its chunks of `per_chunk` tiles) against an
    even share.  A call of one chunk runs it on the backend's threads where it is large enough
    (BACKEND_THREADS_MIN_POINTS), which do BACKEND_THREAD_SPEEDUP times better than one
    thread; else the other threads idle.  The cost tables' FFT times are of calls with as many
    chunks as threads or more."""
    if not THREADS_OVER_CHUNKS or n_threads <= 1:
        return 1.0
    if call_threads(n_tiles, fft_shape, n_threads) == 1:
        return float(n_threads)
    size = per_chunk(n_tiles, fft_shape, dtype, n_threads)
    chunks = -(-n_tiles // size)
    if chunks == 1 and size * math.prod(fft_shape) >= BACKEND_THREADS_MIN_POINTS:
        return n_threads / BACKEND_THREAD_SPEEDUP
    return n_threads * min(n_tiles, -(-chunks // n_threads) * size) / n_tiles


def _numpy_before_2():
    return np.lib.NumpyVersion(np.__version__) < "2.0.0"


def work_dtype(dtype):
    """The dtype the transforms compute in: the data's on scipy.fft; float64 on numpy.fft,
    which computes float32 transforms in float64 anyway (NumPy 1.x by design; NumPy 2.4's
    float32 results are bit-identical to its float64 ones rounded), so its tiles are widened
    once, and not by every pass through buffers."""
    return np.dtype(dtype) if BACKEND == "scipy" else np.dtype(np.float64)


# Float64 transforms run on numpy.fft where it writes into arrays given (out=, NumPy 2.0 and
# later), into buffers each thread keeps for its chunks, also where scipy imports: scipy.fft
# allocates every pass's result, and that fresh memory's page faults took a fifth to a third
# of the transforms.  A tile forward, multiplied and back, one thread, Intel Xeon avx512, ns
# per FFT point, scipy.fft against numpy.fft into buffers: float64 64 tiles of 40x40 11.5 /
# 7.9, 16 of 128x128 11.3 / 7.1, 4 of 256x256 7.4 / 7.0, 540x540 10.1 / 9.6, 576x576 12.4 /
# 7.7, 768x768 10.8 / 8.5, 1080x1080 13.4 / 10.8.  Float32 stays on scipy.fft, which computes
# in float32: numpy.fft computes in float64, 1.7-2.1x slower even into buffers (4.2-6.1
# against 7.9-11.3 ns).  A module attribute so that the tests run float64 on both.
FLOAT64_ON_NUMPY = True


def into_buffers(work):
    """Whether a chunk's transforms in `work` dtype go to numpy.fft, into the thread's buffers
    (see FLOAT64_ON_NUMPY)."""
    return not _numpy_before_2() and (BACKEND == "numpy" or
                                      (FLOAT64_ON_NUMPY and np.dtype(work) == np.float64))


def _pass_arrays():
    """The most one transform pass allocates, in arrays the size of its output (measured with
    tracemalloc): scipy.fft 1 (it pads into a copy and transforms that in place, or allocates
    its output); numpy.fft 2.x 1; numpy.fft 1.x 3 (a contiguous or padded copy of its input,
    and its output)."""
    return 3 if BACKEND == "numpy" and _numpy_before_2() else 1


def memory_bound(out_shape, kernel_shape, dtype, batch=1, kernels=1, n_threads=1):
    """Bytes a call on `n_threads` threads allocates at most, for `batch` images and
    `kernels` (1 or batch) kernels (see the module docstring)."""
    tiles, fft_shape = tile_plan(out_shape, kernel_shape, dtype, n_threads, batch)
    positions = math.prod(-(-o // t) for o, t in zip(out_shape, tiles))
    size = per_chunk(batch * positions, fft_shape, dtype, n_threads)
    kept = size if kernels > 1 and positions == 1 else 1
    points = math.prod(fft_shape)
    s, c = np.dtype(dtype).itemsize, work_dtype(dtype).itemsize
    spectrum = (points + 2 * points // fft_shape[-1]) * c
    chunks = -(-batch * positions // size)
    threads = min(call_threads(batch * positions, fft_shape, n_threads), chunks)
    return threads * (size * points * (s + c) + (size + kept) * spectrum +
                      (_pass_arrays() + 1) * max(size, kept) * spectrum +
                      size * points * c)


# --------------------------------------------------------------------------- error bound
def bound_factor(fft_size, dtype):
    """The factor b with |y_fft - y| <= b * ||w||_2 * ||x_tile||_2 for every output of a tile
    whose FFT has `fft_size` points in all (module docstring: b ~= 20 u (log2 L + 1))."""
    u = np.finfo(dtype).eps / 2
    stages = math.log2(max(fft_size, 2)) + 1
    eta = u + 4 * u / (1 - 4 * u) * (math.sqrt(2) + u)
    first_order = 3 * stages * eta + (2 * math.sqrt(2) + 3) * u
    return first_order / (1 - 3 * stages * eta)  # the second-order terms, generously


def fft_error_bound(w, x_tile_norm, fft_size, dtype):
    """Bound on |y_fft - y| for every output of a tile of `fft_size` FFT points whose input
    (the extended image's part the tile reads) has 2-norm at most `x_tile_norm`, with kernel
    `w`.  The 2-norm of the whole extended image bounds every tile's; compare with the direct
    sum's (P*Q + 1) * eps * sum |w||x| over one window."""
    w = np.asarray(w)
    return bound_factor(fft_size, dtype) * float(np.linalg.norm(w.ravel())) * x_tile_norm


# --------------------------------------------------------------------------- transforms
def _rfft(a, n, workers):
    if BACKEND == "scipy":
        return _scipy_fft.rfft(a, n=n, axis=-1, workers=workers)
    return np.fft.rfft(a, n=n, axis=-1)


def _fft(a, n, axis, workers):
    if BACKEND == "scipy":
        return _scipy_fft.fft(a, n=n, axis=axis, overwrite_x=True, workers=workers)
    return np.fft.fft(a, n=n, axis=axis)


def _ifft(a, axis, workers):
    if BACKEND == "scipy":
        return _scipy_fft.ifft(a, axis=axis, overwrite_x=True, workers=workers)
    return np.fft.ifft(a, axis=axis)


def _irfft(a, n, workers):
    if BACKEND == "scipy":
        return _scipy_fft.irfft(a, n=n, axis=-1, overwrite_x=True, workers=workers)
    return np.fft.irfft(a, n=n, axis=-1)


def _forward(a, fft_shape, workers):
    """The spectrum of real `a` zero-padded to `fft_shape` over its last axes: the last axis
    first, so rows that padding adds are never transformed along it."""
    spectrum = _rfft(a, fft_shape[-1], workers)
    for axis in range(-len(fft_shape), -1):
        spectrum = _fft(spectrum, fft_shape[axis], axis, workers)
    return spectrum


def _inverse(spectrum, fft_shape, keep, workers):
    """The inverse of `_forward`, cropped to `keep` outputs per axis (the leading axes before
    the last pass, which then runs on the kept rows only)."""
    ndim = len(fft_shape)
    for axis in range(-ndim, -1):
        spectrum = _ifft(spectrum, axis, workers)
        crop = [slice(None)] * spectrum.ndim
        crop[axis] = slice(0, keep[axis])
        spectrum = spectrum[tuple(crop)]
    return _irfft(spectrum, fft_shape[-1], workers)[..., :keep[-1]]


def _forward_into(a, fft_shape, out):
    """`_forward` of tiles `a` as long as fft_shape along every axis but the last, on
    numpy.fft into `out` (their spectra's shape), in place from the first pass on."""
    np.fft.rfft(a, n=fft_shape[-1], axis=-1, out=out)
    for axis in range(-len(fft_shape), -1):
        np.fft.fft(out, axis=axis, out=out)
    return out


def _inverse_into(spectrum, fft_shape, keep, out):
    """`_inverse` on numpy.fft, in place in `spectrum` and then into `out` (the kept rows'
    shape, the last axis fft_shape[-1] long)."""
    for axis in range(-len(fft_shape), -1):
        np.fft.ifft(spectrum, axis=axis, out=spectrum)
        crop = [slice(None)] * spectrum.ndim
        crop[axis] = slice(0, keep[axis])
        spectrum = spectrum[tuple(crop)]
    np.fft.irfft(spectrum, n=fft_shape[-1], axis=-1, out=out)
    return out[..., :keep[-1]]


def _kernel_spectrum(w, fft_shape, workers):
    """conj(spectrum) of kernels w (n, *kernel core), zero-padded to `fft_shape`."""
    spectrum = _forward(w, fft_shape, workers)
    return np.conjugate(spectrum, out=spectrum)


# The spectrum of the latest kernel used alone (a program correlates many images with one
# kernel): computing it took 2 of a 9 ms call (1024 x 1024, K=45, float32).  One entry, of at
# most SPECTRUM_CACHE_BYTES.
SPECTRUM_CACHE_BYTES = 32 << 20
_SPECTRUM = [None, None]  # key, spectrum


def _shared_spectrum(w, fft_shape, workers):
    """`_kernel_spectrum` of a single kernel w (1, *core), remembered for the next call."""
    key = (w.shape, w.dtype.str, fft_shape, BACKEND, w.tobytes())
    cached_key, spectrum = _SPECTRUM
    if cached_key == key:
        return spectrum
    spectrum = _kernel_spectrum(w, fft_shape, workers)
    if spectrum.nbytes <= SPECTRUM_CACHE_BYTES:
        spectrum.flags.writeable = False
        _SPECTRUM[:] = [key, spectrum]
    return spectrum


# --------------------------------------------------------------------------- tiles
def _tile_source(x, b0, b1, spans, maps):
    """The part of x that tiles [b0, b1) x spans (a (lo, hi) per core axis of the extended
    image X~) read, as a view, and the axes still to gather: (view, [(axis, map segment)]).

    An axis whose map segment is a run of consecutive positions inside x (the interior, and
    every axis when `maps` is None) is a slice of the view; any other keeps x's whole axis and
    is gathered through its segment by `_gather`."""
    index = [slice(b0, b1)]
    gathered = []
    for axis, (lo, hi) in enumerate(spans):
        if maps is None:
            index.append(slice(lo, hi))
            continue
        segment = maps[axis][lo:hi]
        first = int(segment[0])
        if first >= 0 and int(segment[-1]) - first == hi - lo - 1 and \
                (hi - lo <= 2 or bool((np.diff(segment) == 1).all())):
            index.append(slice(first, first + hi - lo))
        else:
            index.append(slice(None))
            gathered.append((axis + 1, segment))
    return x[tuple(index)], gathered


# A tile whose map segments cut into at most this many blocks (runs of positions stepping by
# +1 or -1, or of fill) is copied block by block; beyond it, by one advanced index.
MAX_GATHER_BLOCKS = 64


def _runs(segment):
    """A map segment as runs [(start, stop, first source, step)]: positions start..stop-1 of
    the segment read first, first + step, ... (step +1 or -1), or the fill where first is -1.
    Every boundary rule's map is a few such runs (the interior, and a reflection, repetition or
    fill on each side), so a tile is a few block copies."""
    n = len(segment)
    seg = np.asarray(segment)
    fill = seg < 0
    step = np.diff(seg)
    # link[i] joins positions i and i + 1: 0 between two fills, +-1 between consecutive
    # sources, 2 (no run) otherwise.
    link = np.where(fill[:-1] & fill[1:], 0,
                    np.where(~fill[:-1] & ~fill[1:] & (np.abs(step) == 1), step, 2))
    changes = (np.flatnonzero(link[1:] != link[:-1]) + 1).tolist()
    link = link.tolist()
    runs, s, c = [], 0, 0
    while s < n:
        if s == n - 1 or link[s] == 2:
            e = s + 1
        else:
            while c < len(changes) and changes[c] <= s:
                c += 1
            e = (changes[c] if c < len(changes) else n - 1) + 1
        first = int(seg[s])
        runs.append((s, e, -1 if first < 0 else first,
                     1 if first < 0 or e - s == 1 else link[s]))
        s = e
    return runs


def _gather(view, gathered, fill, out):
    """out[...] = the tiles `_tile_source` describes, with the fill value where a map is -1."""
    if not gathered:
        out[...] = view
        return
    runs = [_runs(segment) for _, segment in gathered]
    if math.prod(len(r) for r in runs) <= MAX_GATHER_BLOCKS:
        for blocks in itertools.product(*runs):
            dst = [slice(None)] * out.ndim
            src = [slice(None)] * view.ndim
            filled = False
            for (axis, _), (start, stop, first, step) in zip(gathered, blocks):
                dst[axis] = slice(start, stop)
                last = first + step * (stop - start)
                src[axis] = slice(first, last if last >= 0 else None, step)
                filled = filled or first < 0
            if filled:
                out[tuple(dst)] = fill
            else:
                out[tuple(dst)] = view[tuple(src)]
        return
    # One advanced index over the gathered axes (an open mesh): no intermediate larger than
    # the tiles (np.take would first copy the view, whole rows of x, to a contiguous array);
    # -1 reads position 0 and is overwritten with the fill value below.
    mesh = [slice(None)] * view.ndim
    for i, (axis, segment) in enumerate(gathered):
        shape = [1] * len(gathered)
        shape[i] = len(segment)
        mesh[axis] = np.maximum(segment, 0).reshape(shape)
    out[...] = view[tuple(mesh)]
    for axis, segment in gathered:
        missing = segment < 0
        if missing.any():
            where = [slice(None)] * out.ndim
            where[axis] = missing
            out[tuple(where)] = fill


def _units(batch, positions, per_chunk):
    """The chunks of work: lists of (b0, b1, position) units in image-major order.  An image
    with one tile position shares its FFT call with the next images (one unit for the lot);
    images with several tile positions are tiled one at a time, per_chunk tiles per call."""
    if len(positions) == 1:
        return [[(b0, min(b0 + per_chunk, batch), positions[0])]
                for b0 in range(0, batch, per_chunk)]
    units = [(b, b + 1, p) for b in range(batch) for p in positions]
    return [units[i:i + per_chunk] for i in range(0, len(units), per_chunk)]


def _load(sources, fill, buffer, fft_shape):
    """The chunk's tiles, zero-padded to `fft_shape`, in `buffer` (sources: the chunk's
    (view, gathered) pairs from `_tile_source`, in order); returns the filled part."""
    t = 0
    for view, gathered in sources:
        n = view.shape[0]
        extent = list(view.shape[1:])
        for axis, segment in gathered:
            extent[axis - 1] = len(segment)
        _gather(view, gathered, fill,
                buffer[(slice(t, t + n),) + tuple(slice(0, e) for e in extent)])
        for axis, e in enumerate(extent):
            if e < fft_shape[axis]:
                pad = [slice(t, t + n)] + [slice(None)] * len(fft_shape)
                pad[1 + axis] = slice(e, None)
                buffer[tuple(pad)] = 0
        t += n
    return buffer[:t]


# The threads that run chunks beside the calling thread, kept from call to call: a pool made
# and joined in every call made the call 1.1-1.2x slower (1024x1024 K=31 float32, 2 threads,
# best of 30 in alternating rounds, Intel Xeon avx512: 4.43 against 3.87 ms; float64 K=63
# 8.97 against 7.43; 600x600 K=45 float64 2.80 against 2.15): starting the threads, and the
# memory of their chunks taken afresh from new threads' heaps.  Grown on demand; a forked
# child starts without it (the parent's threads do not exist there).
_POOL = [None, 0]  # executor, its threads
_POOL_LOCK = threading.Lock()


def _pool(n):
    """An executor of at least n threads."""
    with _POOL_LOCK:
        if _POOL[1] < n:
            old = _POOL[0]
            _POOL[:] = [concurrent.futures.ThreadPoolExecutor(n, "fastcorr-fft"), n]
            if old is not None:
                old.shutdown(wait=False)  # its threads end once their tasks have
        return _POOL[0]


def _forget_pool():
    global _POOL_LOCK
    _POOL[:] = [None, 0]
    _POOL_LOCK = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _correlate_blocked(x, w, y, maps, fill, n_threads, check_finite=False):
    """y[b] = correlation of X~[b] with w[b or 0], for any number of core axes (1 or 2).
    With `check_finite`: False as soon as a chunk's result holds NaN or Inf (y then holds
    nothing useful), else True."""
    if y.size == 0:
        return True
    out_shape, kernel_shape, dtype = y.shape[1:], w.shape[1:], y.dtype
    work = work_dtype(dtype)
    tiles, fft_shape = tile_plan(out_shape, kernel_shape, dtype, n_threads, y.shape[0])
    positions = [()]
    for out_len, tile in zip(out_shape, tiles):
        positions = [p + (s,) for p in positions for s in range(0, out_len, tile)]
    chunks = _units(y.shape[0], positions,
                    per_chunk(y.shape[0] * len(positions), fft_shape, dtype, n_threads))
    extended = [o + k - 1 for o, k in zip(out_shape, kernel_shape)]
    w = w.astype(work, copy=False)
    shared = _shared_spectrum(w, fft_shape, n_threads) if w.shape[0] == 1 else None
    largest = max(sum(b1 - b0 for b0, b1, _ in c) for c in chunks)
    stop = threading.Event()
    met_nonfinite = threading.Event()

    buffered = into_buffers(work)

    def run(mine, workers):
        buffer = None  # a chunk's tiles, when they are not one slice of x (allocated once)
        spectra = results = None  # buffered: the chunk's spectra and inverses (likewise)
        current = (None, None)  # the images and kernel spectra of the latest unit
        for chunk in mine:
            if stop.is_set():
                return
            sources = []
            for b0, b1, position in chunk:
                spans = [(s, min(s + f, e)) for s, f, e in zip(position, fft_shape, extended)]
                sources.append(_tile_source(x, b0, b1, spans, maps))
            if len(chunk) == 1 and not sources[0][1] and \
                    sources[0][0].shape[1:] == fft_shape and work == dtype:
                tiles_in = sources[0][0]  # whole tiles in a slice of x: transformed in place
            else:
                if buffer is None:
                    buffer = np.empty((largest,) + fft_shape, work)
                tiles_in = _load(sources, fill, buffer, fft_shape)
            del sources
            n = tiles_in.shape[0]
            if buffered:
                if spectra is None:
                    spectra = np.empty((largest,) + fft_shape[:-1] + (fft_shape[-1] // 2 + 1,),
                                       np.result_type(work, np.complex64))
                    results = np.empty((largest,) + tiles[:-1] + fft_shape[-1:], work)
                spectrum = _forward_into(tiles_in, fft_shape, spectra[:n])
            else:
                spectrum = _forward(tiles_in, fft_shape, workers)
            del tiles_in
            if shared is not None:
                spectrum *= shared
            else:
                t = 0
                for b0, b1, _ in chunk:
                    if current[0] != (b0, b1):
                        current = ((b0, b1), _kernel_spectrum(w[b0:b1], fft_shape, workers))
                    spectrum[t:t + b1 - b0] *= current[1]
                    t += b1 - b0
            if buffered:
                result = _inverse_into(spectrum, fft_shape, tiles, results[:n])
            else:
                result = _inverse(spectrum, fft_shape, tiles, workers)
            del spectrum
            if check_finite and not _finite(result[(slice(None),) + (0,) * len(tiles)]):
                # A NaN or Inf in a tile's input turns every one of its outputs NaN or Inf:
                # each frequency sums every point, and each output every frequency (an Inf
                # meets a zero or an opposite Inf on the way: NaN).  So one output per tile
                # tells, where a pass over the image cost 0.5-1 ms of a 6 ms FFT.
                met_nonfinite.set()
                stop.set()
                return
            t = 0
            for b0, b1, position in chunk:
                ends = [min(s + tile, o) for s, tile, o in zip(position, tiles, out_shape)]
                y[(slice(b0, b1),) + tuple(slice(s, e) for s, e in zip(position, ends))] = \
                    result[(slice(t, t + b1 - b0),) +
                           tuple(slice(0, e - s) for s, e in zip(position, ends))]
                t += b1 - b0
            del result

    parallel = min(call_threads(y.shape[0] * len(positions), fft_shape, n_threads), len(chunks))
    if parallel <= 1:
        # One chunk: the backend's threads split its transforms, where they are large enough
        # to pay for it.
        small = largest * math.prod(fft_shape) < BACKEND_THREADS_MIN_POINTS
        run(chunks, 1 if small and THREADS_OVER_CHUNKS else n_threads)
        return not met_nonfinite.is_set()
    # Whole chunks on threads of their own, each transform on one thread: the backends' own
    # threads split each transform's passes, which scaled poorly (2048 x 2048 float32, K=101,
    # 4 tiles: 43-58 ms on 2 workers against 51-61 ms on 1).  Every transform, product and
    # copy releases the GIL.  Each thread holds one chunk's memory (see memory_bound).  The
    # calling thread takes the first share, `_pool`'s kept threads the others.
    def share(mine):
        try:
            run(mine, 1)
        except BaseException:
            stop.set()  # the calling thread stops at its next chunk rather than finishing
            raise

    futures = [_pool(parallel - 1).submit(share, chunks[i::parallel])
               for i in range(1, parallel)]
    try:
        run(chunks[0::parallel], 1)
        for future in futures:
            future.result()
    finally:
        stop.set()  # an exception (or Ctrl-C) here: the other threads stop at their next chunk
        concurrent.futures.wait(futures)
    return not met_nonfinite.is_set()


# --------------------------------------------------------------------------- the entries
def correlate_fft_2d(x, w, y, maps, fill, n_threads, check_finite=False):
    """y[b, i, j] = sum_{a<P, c<Q} w[b or 0, a, c] * X~[b, i + a, j + c], by blocked FFT.

    x (B, M, N) real float32/float64 (any strides, never modified); w (1 or B, P, Q)
    C-contiguous, same dtype; y (B, OH, OW) writable, same dtype.  X~ is x when `maps` is None
    (OH = M - P + 1, OW = N - Q + 1), else ``X~[b, r, c] = x[b, rowmap[r], colmap[c]]`` with
    maps = (rowmap, colmap) of lengths OH + P - 1 and OW + Q - 1, and `fill` where either is -1.
    Error and memory bounds: see the module docstring.  With `check_finite`, returns False
    (y unfinished) when the input holds NaN or Inf, which the FFT would spread over whole
    tiles ('auto' then computes directly); True otherwise.
    """
    return _correlate_blocked(x, w, y, maps, fill, n_threads, check_finite)


def correlate_fft_1d(x, w, y, index_map, fill, n_threads, check_finite=False):
    """y[b, j] = sum_{t<K} w[b or 0, t] * X~[b, j + t], by blocked FFT.

    x (B, N), w (1 or B, K), y (B, L) as in `correlate_fft_2d`; X~ is x when `index_map` is
    None (L = N - K + 1), else ``X~[b, j] = x[b, index_map[j]]`` (length L + K - 1), `fill`
    where it is -1.  `check_finite` and the result as in `correlate_fft_2d`.
    """
    return _correlate_blocked(x, w, y, None if index_map is None else (index_map,), fill,
                              n_threads, check_finite)


# This module's constants are settings of 'auto''s cost model: assigning one forgets the
# choices made under the old value (see methods._Settings).
sys.modules[__name__].__class__ = methods._Settings
