"""How a real correlation is computed, and what ``method='auto'`` picks.

Three methods compute the same correlation (same modes, boundaries and extension):

- 'direct': every output a sum of P*Q products (the SIMD kernels).
- 'separable': the kernel's SVD ``w = sum_k s_k u_k v_k^T`` truncated to its numerical rank r,
  each term a column pass (``sqrt(s_k) u_k`` down the rows) then a row pass (``sqrt(s_k) v_k``
  along them), fused per block in the core (`_core.correlate_separable`) with the terms summed
  into the block's output while it is in cache; r*(P+Q) multiply-adds per output.
- 'fft': blocked overlap-save FFTs (`fft.py`), O(log) work per output whatever the kernel size.

Error bounds, per output, with X the largest magnitude in the output's window of the extended
image (eps: the result dtype's machine epsilon, gamma(n) = n eps / (1 - n eps)):

- direct: ``gamma(P*Q) * sum|w| * X`` (the standard bound of a sum of products).
- separable: ``sqrt(P*Q) * t * X + gamma(P + Q + r + 2) * sum_k |c_k|_1 |r_k|_1 * X`` where t is
  the 2-norm of the dropped singular values and c_k, r_k the stored factors: the truncation
  (``|sum (w - w_r) x| <= |w - w_r|_F |x|_F``) plus the rounding of the two passes, the
  accumulation of the terms and the factors' own rounding to the result dtype.  For a kernel
  with non-negative factors (Gaussian, box) the sum is sum|w|, so the rounding part is below
  direct's.
- fft: see `fft.py`; it is relative to the norms of the kernel and of a whole tile.

The rank tolerance is ``s_1 * max(P, Q) * eps`` (eps of the result dtype), the rule of
numpy.linalg.matrix_rank and MATLAB: singular values below it are at the level of the kernel's
own rounding to that dtype (the SVD of a kernel rounded to float32 has trailing values of about
s_1 * eps32 even when the exact kernel has rank 1), so dropping them changes the result by
about as much as that rounding already did.

'auto' never picks a method whose bound is more than ERROR_FACTOR times direct's, never keeps
an FFT result when the image, kernel or fill value holds NaN or Inf (an FFT spreads them over
whole tiles, direct keeps them in the windows that read them: the kernel and fill are checked
before, the image by the FFT on each chunk's result, and the call then runs directly), and
otherwise picks the lowest predicted time from `_MEASURED`, the times measured on one of this
project's machines and scaled to this one by timing small probes (see "calibration" below),
wanting separable passes MARGIN times faster than direct.
"""
import bisect
import functools
import math
import os
import sys
import time
import types

import numpy as np

from .. import _core

METHODS = ("auto", "direct", "separable", "fft")

# 'auto' rejects a method whose error bound exceeds direct's by more than this factor.  Both
# bounds are worst cases over X, the largest magnitude (for the FFT every sample of a tile at
# X); the FFT's grows with the tile, direct's with the kernel, so the rule binds around the
# FFT's crossover: for kernels of random values in a 1024-1080 point tile it is about 9.6 at
# K = 31 and 2.9 at K = 45.  16 lets the FFT take K = 31 where it is 20% faster (float32,
# 1024x1024); 8 kept direct there.
ERROR_FACTOR = 16.0

# How much faster than direct 'auto' needs separable passes to be predicted.  The cost table
# is measured on 2048x2048 images with out= given; on 1024x1024 without it, the separable
# passes at K = 5 ran at 0.72-0.84x of direct where the table predicted 1.1x (bench --only
# methods).  The FFT's predictions need no margin: at the crossover the two take the same time.
MARGIN = 1.25

# Below this many multiply-adds (a few tens of microseconds direct) 'auto' computes directly
# without looking at the kernel: an SVD and the checks cost about that much.
AUTO_MIN_FMAS = 1 << 22


def check_method(method):
    """`method` if it is one of METHODS, else ValueError naming it (scipy.signal.convolve's
    class for a bad method)."""
    if type(method) is str and method in METHODS:
        return method
    listed = ", ".join(repr(m) for m in METHODS)
    raise ValueError(f"method must be one of {listed}, got {method!r}")


class Factors:
    """The separable form of a 2-D kernel: ``w ~ sum_k outer(col[k], row[k])``.

    Attributes
    ----------
    col, row : ndarray
        (r, P) and (r, Q) C-contiguous, in the result dtype.
    singular : ndarray
        The singular values of the elimination's rank-r form of w (float64, descending): w's
        leading ones, within the elimination's residual.
    rank : int
    dropped : float
        A bound on ``|w - sum_k outer(col[k], row[k])|_F`` (before rounding to the dtype): the
        elimination's residual plus the 2-norm of the singular values dropped after it.
    """
    __slots__ = ("col", "row", "singular", "rank", "dropped")


def factor(w, dtype, max_rank=None):
    """The Factors of the 2-D real finite kernel `w` for a result in `dtype`, or None when its
    numerical rank exceeds `max_rank` (None: no limit).

    The rank is revealed without BLAS first: Gaussian elimination with complete pivoting peels
    rank-1 terms off w (each step: the largest residual entry as pivot, its column times its
    row over it subtracted), until the residual's Frobenius norm t falls to the tolerance (or
    after max_rank + 1 steps: no separable form within the limit).  Then the SVD of the small
    rank-r form (QR of its two factors and the SVD of an r x r core) gives its singular values;
    those at or below ``s[0] * max(P, Q) * eps`` are dropped too and added to t.  Numerically
    the result is the SVD truncated at that tolerance (the elimination's residual is below it),
    but a full SVD of a large kernel runs LAPACK on OpenBLAS threads, which keep spinning
    after it and took both cores from the correlation that followed (101x101 float32 on a
    2048x2048 image by FFT: 25 ms alone, 53 ms just after the SVD).
    """
    a = np.array(w, dtype=np.float64)  # a copy: the residual
    p, q = a.shape
    eps = float(np.finfo(dtype).eps)
    # s[0] >= |w|_F / sqrt(min(P, Q)): the elimination stops no earlier than the tolerance on
    # the true s[0] would let it; the SVD below applies the exact tolerance.
    norm = math.sqrt(float((a * a).sum()))
    tol = norm / math.sqrt(min(p, q)) * max(p, q) * eps
    limit = min(p, q) if max_rank is None else min(max_rank + 1, min(p, q))
    cols, rows = [], []
    residual = norm
    while residual > tol and len(cols) < limit:
        i, j = divmod(int(np.argmax(np.abs(a))), q)
        pivot = a[i, j]
        col, row = a[:, j].copy(), a[i, :] / pivot
        a -= np.multiply.outer(col, row)
        a[:, j] = 0.0  # exactly: the pivot's column and row are gone, not their rounding
        a[i, :] = 0.0
        cols.append(col)
        rows.append(row)
        residual = math.sqrt(float((a * a).sum()))
    if max_rank is not None and len(cols) > max_rank:
        return None
    f = Factors()
    if not cols:  # the zero kernel
        f.col, f.row = np.zeros((1, p), dtype), np.zeros((1, q), dtype)
        f.singular, f.rank, f.dropped = np.zeros(1), 1, 0.0
        return f
    qc, tc = np.linalg.qr(np.array(cols).T)
    qr, tr = np.linalg.qr(np.array(rows).T)
    u, sv, vt = np.linalg.svd(tc @ tr.T)
    rank = max(int(np.count_nonzero(sv > sv[0] * max(p, q) * eps)), 1)
    root = np.sqrt(sv[:rank])
    # The square root of each singular value on both sides keeps the two passes' magnitudes
    # alike, so neither intermediate is scaled towards overflow or underflow.
    f.col = np.ascontiguousarray(((qc @ u[:, :rank]) * root).T, dtype=dtype)
    f.row = np.ascontiguousarray(((qr @ vt[:rank].T) * root).T, dtype=dtype)
    f.singular, f.rank = sv, rank
    f.dropped = residual + float(np.sqrt(np.sum(sv[rank:] ** 2)))
    return f


def _gamma(n, eps):
    return n * eps / (1 - n * eps) if n * eps < 1 else math.inf


def direct_bound(w, dtype):
    """Direct's error bound per output, over X (see the module docstring)."""
    eps = np.finfo(dtype).eps
    return _gamma(w.shape[-1] * (w.shape[-2] if w.ndim > 1 else 1), eps) * float(
        np.sum(np.abs(w, dtype=np.float64)))


def separable_bound(f, dtype):
    """The separable result's error bound per output, over X (see the module docstring)."""
    eps = np.finfo(dtype).eps
    p, q = f.col.shape[1], f.row.shape[1]
    col = np.abs(f.col.astype(np.float64)).sum(axis=1)
    row = np.abs(f.row.astype(np.float64)).sum(axis=1)
    return math.sqrt(p * q) * f.dropped + _gamma(p + q + f.rank + 2, eps) * float(col @ row)


def factor_checked(w, dtype, name):
    """`factor` for an explicit method='separable', remembered as 'auto' remembers it (its
    ~0.3 ms is a third of a 1024x1024 5x5 call): ValueError naming the kernel when it holds
    NaN or Inf (no SVD exists; 'direct' propagates them)."""
    if not np.isfinite(w).all():
        raise ValueError(f"method='separable' needs a finite kernel; {name} holds NaN or Inf "
                         "(use method='direct', which propagates them)")
    return _cached_factor(w, dtype, None)


def _finite(a):
    """No NaN or Inf in `a`: one summation pass (a NaN or Inf makes the sum NaN or Inf; a sum
    that overflows on finite values answers False too, which only makes 'auto' choose direct).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(float(np.add.reduce(a, axis=None)))


def fft_bound(w, fft_shape, dtype):
    """The FFT result's error bound per output, over X (the largest magnitude of the tile):
    `fft.bound_factor` times |w|_2 times the tile's 2-norm, at most sqrt(L) X."""
    from . import fft
    points = math.prod(fft_shape)
    w = np.asarray(w, np.float64)
    # (w * w).sum() rather than np.linalg.norm, which may run on BLAS threads (see `factor`).
    return fft.bound_factor(points, dtype) * math.sqrt(float((w * w).sum())) * math.sqrt(points)


def choose(x, w, y_shape, plan, fill):
    """(method, factors or None) for the real correlation of stacks x (B, M, N) or (B, N) with
    w (1 or B kernels) into a result of y_shape (B, *core), by the plan's method ('auto'
    decides here)."""
    method = plan.method
    one_d = x.ndim == 2
    if method == "separable" and one_d:
        raise ValueError("method='separable' factors 2-D kernels; a 1-D correlation has "
                         "nothing to separate (use 'auto', 'direct' or 'fft')")
    if method != "auto":
        return method, None
    if math.prod(y_shape) * math.prod(w.shape[1:]) < AUTO_MIN_FMAS:
        return "direct", None
    # The choice depends on the shapes, the kernel's values, the threads, whether the fill is
    # finite and the cost model: the active path and whether it is calibrated (the dtype is
    # in the key already).  The model's settings, this module's and fft's constants, are not:
    # assigning one forgets every choice (`_Settings`).
    key = (x.ndim, x.dtype.str, w.shape, tuple(y_shape), plan.n_threads,
           math.isfinite(fill), _core.active_path(), _calibrating(), w.tobytes())
    if w.nbytes > _MAX_CHOICE_BYTES:
        # Compared, never hashed: hashing a 255x255 kernel's bytes, with the bounds and
        # checks of a choice made afresh, took 0.37 ms of a 3.6 ms FFT call.
        entry = _LARGE_CHOICE[0]  # one read: another thread may replace it
        if entry is not None and entry[0] == key:
            return entry[1]
        known = _choose(x, w, y_shape, plan, fill)
        if w.nbytes <= _MAX_LARGE_CHOICE_BYTES:
            _LARGE_CHOICE[0] = (key, known)
        return known
    known = _CHOICES.get(key)
    if known is None:
        known = _choose(x, w, y_shape, plan, fill)
        if len(_CHOICES) >= _MAX_CHOICES:
            _CHOICES.clear()
        _CHOICES[key] = known
    return known


def _fft_time(costs, y_shape, kernel_shape, dtype, n_threads):
    """(predicted seconds, FFT shape of a tile) of the blocked FFT for a (B, *core) result."""
    from . import fft
    tiles, fft_shape = fft.tile_plan(y_shape[1:], kernel_shape, dtype, n_threads,
                                     y_shape[0])
    n_tiles = y_shape[0] * math.prod(-(-o // t) for o, t in zip(y_shape[1:], tiles))
    return (costs.fft(fft_shape, n_tiles) *
            fft.idle_factor(fft_shape, n_tiles, dtype, n_threads)), fft_shape


# 'auto''s recent choices: a program filters many images of one size with one kernel, and the
# choice's Python, run after a call has pushed it out of the caches, took 0.2-0.3 ms of a
# 1 ms call (1024x1024 float32, 31x31 Gaussian, separable: 1.25 against 1.06 ms for
# method='separable', Intel Xeon avx512); a hit costs a copy of the kernel's bytes.
# Kernels past _MAX_CHOICE_BYTES (a 90x90 float64 one) are kept apart (_LARGE_CHOICE), so
# that the memory the remembered keys hold stays under 4 MiB and none of them is hashed.
_CHOICES = {}
_MAX_CHOICES = 64
_MAX_CHOICE_BYTES = 1 << 16
# The latest choice for a larger kernel (at most _MAX_LARGE_CHOICE_BYTES), in one entry whose
# key holds the kernel's bytes and is compared with the next call's.
_LARGE_CHOICE = [None]  # (key, choice)
_MAX_LARGE_CHOICE_BYTES = 32 << 20


def _choose(x, w, y_shape, plan, fill):
    """`choose`'s 'auto' decision, computed."""
    one_d = x.ndim == 2
    kernel_shape = w.shape[1:]
    outputs = math.prod(y_shape)
    dtype = x.dtype
    costs = _costs(dtype, one_d)
    direct_time = costs.direct(kernel_shape) * outputs
    best, best_time, factors = "direct", direct_time, None
    # Each check below costs more than the arithmetic that rules it out, so the predicted
    # times come first: the FFT's, then separable's at the largest rank that still wins.
    fft_time = math.inf
    if costs.fft_floor(kernel_shape) * outputs < direct_time:
        fft_time, fft_shape = _fft_time(costs, y_shape, kernel_shape, dtype, plan.n_threads)
    finite_w = None
    if not one_d and w.shape[0] == 1 and min(kernel_shape) > 1:
        term = costs.separable(1, kernel_shape) * outputs * MARGIN
        max_rank = int(min(direct_time, fft_time) / term)
        if max_rank >= 1:
            finite_w = _finite(w)
            f = _cached_factor(w[0], dtype, max_rank) if finite_w else None
            if f is not None and \
                    separable_bound(f, dtype) <= ERROR_FACTOR * direct_bound(w[0], dtype):
                best, best_time, factors = "separable", f.rank * term / MARGIN, [f]
    # NaN or Inf in the image is caught by the FFT itself, from one output of each tile
    # (fft.correlate_fft_2d's check_finite; the call then runs directly): a pass over the
    # image here cost 0.5-1 ms, a sixth of a 1024x1024 FFT.
    if fft_time < best_time and math.isfinite(fill) and \
            (finite_w or (finite_w is None and _finite(w))) and \
            max(fft_bound(k, fft_shape, dtype) / direct_bound(k, dtype) for k in w) \
            <= ERROR_FACTOR:
        best, factors = "fft", None
    return best, factors


# Factors of recent kernels, by their bytes: a program filters many images with one kernel,
# and the SVD and its checks cost as much as a small correlation.
_FACTORS = {}
_MAX_FACTORS = 32
_MAX_CACHED_BYTES = 1 << 20


def _cached_factor(w, dtype, max_rank):
    """`factor`, remembered (a None too, with the limit it was found under; max_rank None:
    no limit)."""
    if w.nbytes > _MAX_CACHED_BYTES:
        return factor(w, dtype, max_rank)
    limit = math.inf if max_rank is None else max_rank
    key = (w.shape, w.dtype.str, np.dtype(dtype).str, w.tobytes())
    known = _FACTORS.get(key)
    if known is not None and (known[0] is not None or known[1] >= limit):
        f = known[0]
        return f if f is None or f.rank <= limit else None
    if len(_FACTORS) >= _MAX_FACTORS:
        _FACTORS.clear()
    f = factor(w, dtype, max_rank)
    _FACTORS[key] = (f, limit)
    return f


# --------------------------------------------------------------------------- the cost model
# Times measured by tools/methods_table.py (its output is pasted here; run it to re-measure),
# 2 threads, best of 5 calls with out= given, on a quiet machine.  direct / separable:
# picoseconds per multiply-add at the kernel sides in _K (square kernels on a 2048 x 2048 image,
# 'same'/'symm'; the separable time is per term and per tap of its two passes: r * (P + Q)
# multiply-adds an output); direct_1d: the same for kernels of the lengths in _K1 on 2,000,000
# samples, 'valid'.  fft, fft_1d: (c0, c1), nanoseconds per FFT point of every tile,
# c0 + c1 * log2(points), fitted to the blocked FFT of 2048 x 2048 images with K = 31..255 and of
# 2,000,000 samples with K = 256..16384 (the FFT's times hardly depend on the path: they are the
# backend's own SIMD).  probes: microseconds of the calibration probes (_probe_calls) in the
# same run, the reference the calibration on another machine compares with.
#
# avx512: Intel Xeon family 6 model 167 (KVM guest), 2026-12-05, after the lane-strided blocks
# for kernels of 13 rows and more: two runs of 3 rounds, each dtype from the run whose probes
# were the faster (float32 probes 109 against 114 us, float64 186 against 211; each run's
# entries relative to its own probes agreed within 5% at K >= 15).  Against the table before
# (same machine, the morning's run, float32 direct probe 102): direct at K = 15..31, relative to
# the probes, 7-13% faster, K = 3..11 within 5%; the FFT relative to its probe as before
# (float32 FFT: 17.9, 16.9, 16.9, 19.8, 18.8 ms at K = 31, 63, 101, 181, 255; 1-D 6.6, 6.7,
# 8.3, 8.6, 11.0 ms; float64 28.5, 32.1, 29.9, 38.6, 31.8 and 10.3, 11.0, 13.0, 13.7, 17.2 ms).
# avx2: AMD EPYC family 23 model 1 (Zen 1, 256-bit operations as two 128-bit halves, KVM guest),
# 2026-12-02, after the column kernel's 4 x 2 block and strips (the separable passes' column
# half), each entry the least of 6 whole passes in two runs; each FFT fit the run's whose
# times are the lower.  The same machine as avx512's, forced to avx2, had measured direct and
# separable 2.3-2.9x faster and the FFT 1.7-2.1x faster: the speed of the FMA units and of the
# FFT differ from machine to machine by different factors, which is why the tables carry probes.
_K = (3, 5, 7, 9, 11, 15, 21, 31, 45, 63)
_K1 = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_MEASURED = {
    ("avx512", 4): {
        "direct": (26.6, 13.2, 8.4, 8.0, 7.6, 6.6, 5.8, 5.8, 5.9, 6.0),
        "separable": (36.6, 22.2, 16.8, 13.7, 13.0, 11.5, 10.4, 10.0, 8.5, 8.0),
        "direct_1d": (83.7, 39.7, 20.0, 11.9, 10.3, 7.4, 7.0, 6.2, 5.5, 5.5, 5.5, 5.6),
        "fft": (3.67, 0.0), "fft_1d": (0.0, 0.231),
        "probes": {"direct": 109, "separable": 54, "fft": 369, "direct_1d": 66, "fft_1d": 121}},
    ("avx512", 8): {
        "direct": (46.6, 22.9, 17.4, 15.1, 14.3, 11.9, 10.8, 10.9, 11.0, 11.4),
        "separable": (84.1, 48.3, 33.5, 25.8, 27.1, 23.7, 22.3, 20.5, 17.7, 18.4),
        "direct_1d": (153.2, 75.0, 38.0, 20.7, 14.7, 13.2, 11.6, 10.5, 10.1, 10.1, 10.6, 10.5),
        "fft": (6.081, 0.0), "fft_1d": (0.0, 0.365),
        "probes": {"direct": 186, "separable": 88, "fft": 520, "direct_1d": 114, "fft_1d": 147}},
    ("avx2", 4): {
        "direct": (57.2, 40.3, 38.7, 34.5, 33.5, 32.0, 29.6, 29.3, 27.7, 30.3),
        "separable": (92.6, 70.6, 62.7, 56.5, 54.1, 45.6, 39.6, 36.0, 36.9, 36.9),
        "direct_1d": (162.1, 85.3, 65.1, 43.3, 35.9, 33.6, 32.1, 31.7, 31.6, 31.7, 32.0, 32.7),
        "fft": (7.613, 0.0), "fft_1d": (4.848, 0.153),
        "probes": {"direct": 372, "separable": 161, "fft": 794, "direct_1d": 274, "fft_1d": 276}},
    ("avx2", 8): {
        "direct": (95.4, 73.7, 73.6, 66.7, 65.5, 61.3, 56.8, 56.6, 55.4, 61.6),
        "separable": (156.5, 112.6, 107.4, 96.7, 90.3, 81.7, 74.4, 69.9, 71.9, 77.2),
        "direct_1d": (383.6, 187.9, 115.1, 77.4, 66.1, 63.9, 62.9, 61.7, 61.8, 61.2, 63.2, 63.3),
        "fft": (13.254, 0.0), "fft_1d": (2.118, 0.645),
        "probes": {"direct": 682, "separable": 257, "fft": 1127, "direct_1d": 543, "fft_1d": 297}},
}


class _Costs:
    """Predicted seconds of each method on one path and dtype (see _MEASURED), in plain Python
    arithmetic: a numpy call costs more than the whole prediction."""

    def __init__(self, table, one_d, scales):
        direct, fft = ("direct_1d", "fft_1d") if one_d else ("direct", "fft")
        self._grid = [math.log(k) for k in (_K1 if one_d else _K)]
        shift = math.log(scales.get(direct, 1.0))
        self._direct = [math.log(v) + shift for v in table[direct]]
        shift = math.log(scales.get("separable", 1.0))
        self._separable = [math.log(v) + shift for v in table["separable"]]
        self._fft = tuple(c * scales.get(fft, 1.0) for c in table[fft])

    def _at(self, table, k):
        """Picoseconds per multiply-add at side k, interpolated in log-log (constant beyond
        the ends), in seconds."""
        x, grid = math.log(max(k, 1)), self._grid
        i = bisect.bisect_right(grid, x)
        if i == 0:
            y = table[0]
        elif i == len(grid):
            y = table[-1]
        else:
            t = (x - grid[i - 1]) / (grid[i] - grid[i - 1])
            y = table[i - 1] + t * (table[i] - table[i - 1])
        return math.exp(y) * 1e-12

    def direct(self, kernel_shape):
        """Seconds per output."""
        taps = math.prod(kernel_shape)
        side = taps if len(kernel_shape) == 1 else math.sqrt(taps)
        return taps * self._at(self._direct, side)

    def separable(self, rank, kernel_shape):
        """Seconds per output."""
        taps = sum(kernel_shape)
        return rank * taps * self._at(self._separable, taps / 2)

    def fft_floor(self, kernel_shape):
        """Seconds per output the FFT needs at least: every output is a point of a tile of at
        least the kernel's size."""
        points = math.prod(kernel_shape)
        c0, c1 = self._fft
        return (c0 + c1 * math.log2(max(points, 2))) * 1e-9

    def fft(self, fft_shape, n_tiles):
        """Seconds of the whole call: n_tiles tiles of fft_shape."""
        points = math.prod(fft_shape)
        c0, c1 = self._fft
        return n_tiles * points * (c0 + c1 * math.log2(points)) * 1e-9


# ------------------------------------------------------------------ calibration to this machine
# A table is measured on one machine, and machines differ by different factors in their FMA
# units and in the FFT backend's speed (see _MEASURED), which moves the crossovers.  So a table
# that carries its probes' times is scaled, per method, by how long the same probes take on
# the machine that runs, timed once per process and dtype when 'auto' first needs a prediction
# (4-20 ms on Zen 1, the slowest measured: a first large call's planning, like an FFT
# library's).  FASTCORR_AUTO_CALIBRATE=0 uses the tables as measured (then a path without a
# table of its own uses avx2's scaled by _WIDTH_SCALE), for choices that do not depend on a
# timing.
_CALIBRATE_ENV = "FASTCORR_AUTO_CALIBRATE"

# How much slower than AVX2 (8 float32 lanes, two FMA pipes) a path's direct and separable
# kernels are, where nothing is calibrated: an estimate, not a measurement ('baseline': SSE2 on
# x86-64, 4 lanes without FMA, NEON on aarch64, 4 lanes; the scalar path about an eighth).
_WIDTH_SCALE = {"baseline": 2.0, "scalar": 8.0}


def _probe_calls(dtype, one_d):
    """The probes of one dtype: name (the table entry it scales) -> call.  Each is one of
    the table's own measurements at a size of a millisecond or two: direct and separable at
    K = 9 on rows as long as the table's (32 x 2048, 'same'/'symm', out= given), direct 1-D at
    64 taps on 2**16 samples, the FFT on one tile (256 x 256 at K = 31, 8,192 samples at 256
    taps).  All on one thread: a core's speed is what differs between machines (the table's
    threads scale alike), and a probe of a few rows split over many threads would time their
    start-up instead."""
    from .. import _numpy, _signal
    from . import boundary
    rng = np.random.default_rng(7)
    if one_d:
        signal, taps = rng.random(1 << 16).astype(dtype), rng.random(64).astype(dtype)
        long, many = rng.random(8192).astype(dtype), rng.random(256).astype(dtype)
        return {
            "direct_1d": lambda: _numpy.correlate(signal, taps, "valid", workers=1,
                                                     method="direct"),
            "fft_1d": lambda: _numpy.correlate(long, many, "valid", workers=1, method="fft"),
        }
    x = rng.random((32, 2048)).astype(dtype)
    out = np.empty_like(x)
    w = rng.random((9, 9)).astype(dtype)
    col, row = rng.random((1, 9)).astype(dtype), rng.random((1, 9)).astype(dtype)
    rows = boundary.index_map(-4, 32 + 4, 32, "symm")
    cols = boundary.index_map(-4, 2048 + 4, 2048, "symm")
    tile, kernel = rng.random((256, 256)).astype(dtype), rng.random((31, 31)).astype(dtype)
    return {
        "direct": lambda: _signal.correlate2d(x, w, "same", "symm", out=out, workers=1,
                                            method="direct"),
        "separable": lambda: _core.correlate_separable(
            x[None], col, row, out[None], rows, cols, 0.0, np.zeros(1), 1),
        "fft": lambda: _signal.correlate2d(tile, kernel, "valid", workers=1, method="fft"),
    }


def probe_times(dtype, one_d, repeats=5):
    """Microseconds of each probe (best of `repeats` after a first call) on this machine's
    active path: what tools/methods_table.py records beside a table, and what the calibration
    compares with it."""
    calls = _probe_calls(np.dtype(dtype), one_d)
    times = dict.fromkeys(calls, math.inf)
    for call in calls.values():
        call()
    # Rounds over all the probes, so that a moment of other load on the machine slows one
    # sample of each rather than every sample of one.
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name] = min(times[name], (time.perf_counter() - start) * 1e6)
    return times


def _calibrating():
    return os.environ.get(_CALIBRATE_ENV, "1").strip() != "0"


@functools.lru_cache(maxsize=None)
def _costs_of(path, item, one_d, calibrate):
    """The cost model of `path` for itemsize `item`, scaled to this machine where `calibrate`
    and the table has probes: (model, scales by method or None)."""
    table = _MEASURED.get((path, item))
    scales = None
    if table is None:
        table = dict(_MEASURED[("avx2", item)])
        if not calibrate:
            factor = _WIDTH_SCALE.get(path, 2.0)
            for key in ("direct", "separable", "direct_1d"):
                table[key] = tuple(v * factor for v in table[key])
    if calibrate and "probes" in table:
        measured = probe_times(np.float32 if item == 4 else np.float64, one_d)
        scales = {name: t / table["probes"][name] for name, t in measured.items()}
    return _Costs(table, one_d, scales or {}), scales


def _costs(dtype, one_d):
    """The cost model of the active SIMD path for `dtype` (2-D or 1-D)."""
    return _costs_of(_core.active_path(), dtype.itemsize, one_d, _calibrating())[0]


def separable_pays(kernel_shape, dtype):
    """Whether one term's two 1-D passes are predicted MARGIN times faster than the direct
    correlation with the (P, Q) kernel they make, on the active path, in `dtype`: the rule by
    which 'auto' factors a rank-1 kernel and by which the separable filters of
    fastcorr.ndimage (Gaussian, uniform, Sobel, Prewitt) take their fused passes rather than
    the direct kernel (3-tap filters, and 5-tap ones on some paths and dtypes: their passes cost
    more than the 9 or 25 taps)."""
    return _pays(tuple(kernel_shape), _costs(np.dtype(dtype), False), MARGIN)


@functools.lru_cache(maxsize=256)
def _pays(kernel_shape, costs, margin):
    # Remembered per cost model (an object per path, dtype and calibration): the separable
    # filters ask it once per pair of passes, and the model's interpolations took 4.4 us
    # (0.3 remembered), more than the core's correlation of a 16x16 image with 3x3 taps.
    return costs.separable(1, kernel_shape) * margin < costs.direct(kernel_shape)


def crossovers(dtype):
    """Where the cost model hands over, for show_config: the smallest square kernel side from
    which a rank-1 kernel runs separable, and from which a full-rank kernel runs by FFT on a
    2048 x 2048 image ('valid'), and the 1-D kernel length from which FFT runs on 2,000,000
    samples, for `dtype` on the active path with the default threads (by the predicted times
    and MARGIN alone, before the error and NaN rules)."""
    from .threads import resolve_workers
    dtype = np.dtype(dtype)
    two, one = _costs(dtype, False), _costs(dtype, True)
    n_threads = resolve_workers(None)

    def first(ks, wins):
        return next((k for k in ks if wins(k)), None)

    def fft_time(costs, out, kernel):
        return _fft_time(costs, (1,) + out, kernel, dtype, n_threads)[0]

    side, n = 2048, 2_000_000
    return {
        "separable_rank1_from": first(range(2, 256),
                                      lambda k: separable_pays((k, k), dtype)),
        "fft_2d_from": first(range(2, 512), lambda k: fft_time(
            two, (side - k + 1,) * 2, (k, k)) < two.direct((k, k)) * (side - k + 1) ** 2),
        "fft_1d_from": first([2 ** e for e in range(1, 17)], lambda k: fft_time(
            one, (n - k + 1,), (k,)) < one.direct((k,)) * (n - k + 1)),
    }


def calibration(dtype):
    """For show_config: how this machine's probes compare with the active table's (time
    ratios by method, 2-D and 1-D merged; None where the table is used as measured)."""
    dtype = np.dtype(dtype)
    calibrate = _calibrating()
    merged = {}
    for one_d in (False, True):
        scales = _costs_of(_core.active_path(), dtype.itemsize, one_d, calibrate)[1]
        if scales is None:
            return None
        merged.update(scales)
    return merged


def cost_table_source():
    """Which measured table the active path's cost model uses (see _costs)."""
    path = _core.active_path()
    calibrate = _calibrating()
    if (path, 4) in _MEASURED:
        source = f"{path} (measured)"
    elif calibrate:
        source = f"avx2's (for {path})"
    else:
        return f"avx2's times x {_WIDTH_SCALE.get(path, 2.0):g} (estimated for {path})"
    if "probes" not in _MEASURED.get((path, 4), _MEASURED[("avx2", 4)]):
        return source + ", used as measured (no probes recorded with it)"
    if not calibrate:
        return source + f", used as measured ({_CALIBRATE_ENV}=0)"
    return source + ", calibrated to this machine"


# --------------------------------------------------------------------------- the settings
class _Settings(types.ModuleType):
    """The class of the modules that hold the model's settings (this one and fft): assigning
    or deleting one of their attributes from outside (a test's monkeypatch, a user tuning a
    constant) forgets 'auto''s choices, which were made under the old value.

    'auto''s key held the settings themselves: a dozen module attributes read on every call.
    With the caches cold (a 1024x1024 image between two calls; Intel Xeon, float32 3x3) a
    remembered choice took 13.6 us with them in the key, 8.8-10.5 us without (3 of those
    read FASTCORR_AUTO_CALIBRATE), against 170-180 us for the call.  The module's own
    functions assign their globals directly, past this hook."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        forget_choices()

    def __delattr__(self, name):
        super().__delattr__(name)
        forget_choices()


def forget_choices():
    """Forget what 'auto' remembers, so that its next calls decide afresh."""
    _CHOICES.clear()
    _LARGE_CHOICE[0] = None


sys.modules[__name__].__class__ = _Settings
