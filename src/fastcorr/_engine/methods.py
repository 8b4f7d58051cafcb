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

'auto' never picks a method whose bound is more than ERROR_FACTOR times direct's, never picks
'fft' when the image or kernel holds NaN or Inf (an FFT spreads them over the whole output,
direct keeps them in the windows that read them), and otherwise picks the lowest predicted
time from `COSTS`, the times measured per output on this project's machine class.
"""
import math

import numpy as np

from .. import _core

METHODS = ("auto", "direct", "separable", "fft")

# 'auto' rejects a method whose error bound exceeds direct's by more than this factor.
ERROR_FACTOR = 8.0

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
        All singular values of w (float64, descending).
    rank : int
    dropped : float
        The 2-norm of the dropped singular values (the truncation's Frobenius error).
    """
    __slots__ = ("col", "row", "singular", "rank", "dropped")


def factor(w, dtype):
    """The Factors of the 2-D real kernel `w` (finite) for a result in `dtype`."""
    p, q = w.shape
    u, s, vt = np.linalg.svd(np.asarray(w, dtype=np.float64), full_matrices=False)
    eps = np.finfo(dtype).eps
    tol = s[0] * max(p, q) * eps
    rank = max(int(np.count_nonzero(s > tol)), 1)
    f = Factors()
    root = np.sqrt(s[:rank])
    # The square root of each singular value on both sides keeps the two passes' magnitudes
    # alike, so neither intermediate is scaled towards overflow or underflow.
    f.col = np.ascontiguousarray((u[:, :rank] * root).T, dtype=dtype)
    f.row = np.ascontiguousarray(vt[:rank] * root[:, None], dtype=dtype)
    f.singular, f.rank = s, rank
    f.dropped = float(np.sqrt(np.sum(s[rank:] ** 2)))
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
    """`factor` for an explicit method='separable': ValueError naming the kernel when it holds
    NaN or Inf (no SVD exists; 'direct' propagates them)."""
    if not np.isfinite(w).all():
        raise ValueError(f"method='separable' needs a finite kernel; {name} holds NaN or Inf "
                         "(use method='direct', which propagates them)")
    return factor(w, dtype)


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
    return fft.bound_factor(points, dtype) * float(np.linalg.norm(
        np.asarray(w, np.float64).ravel())) * math.sqrt(points)


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
    kernel_shape, core = w.shape[1:], y_shape[1:]
    outputs = math.prod(y_shape)
    if outputs * math.prod(kernel_shape) < AUTO_MIN_FMAS:
        return "direct", None
    dtype = x.dtype
    costs = _costs(dtype, one_d)
    best, best_time, factors = "direct", costs.direct(kernel_shape) * outputs, None
    finite_w = _finite(w)
    if finite_w and not one_d and w.shape[0] == 1 and min(kernel_shape) > 1:
        f = factor(w[0], dtype)
        t = costs.separable(f.rank, kernel_shape) * outputs
        if t < best_time and \
                separable_bound(f, dtype) <= ERROR_FACTOR * direct_bound(w[0], dtype):
            best, best_time, factors = "separable", t, [f]
    from . import fft
    tiles, fft_shape = fft.tile_plan(core, kernel_shape, dtype)
    n_tiles = y_shape[0] * math.prod(-(-o // t) for o, t in zip(core, tiles))
    if costs.fft(fft_shape, n_tiles) < best_time and finite_w and math.isfinite(fill) and \
            max(fft_bound(k, fft_shape, dtype) / direct_bound(k, dtype) for k in w) \
            <= ERROR_FACTOR and _finite(x):
        best, factors = "fft", None
    return best, factors


# --------------------------------------------------------------------------- the cost model
# Times measured on this project's machine class by tools/methods_table.py (its output is
# pasted here; run it to re-measure): Intel Xeon family 6 model 167 (KVM guest), 2 threads,
# best of several runs.  direct / separable: picoseconds per multiply-add at the kernel sides
# in _K (2-D: square kernels on a 2048 x 2048 image, 'same'/'symm'; the separable time is per
# term and per tap of its two passes, r * (P + Q) multiply-adds an output); direct_1d: the
# same for 1-D kernels of the lengths in _K1 on 2,000,000 samples, 'valid'.  fft: (c0, c1),
# nanoseconds per FFT point of a tile as c0 + c1 * log2(points), fitted to blocked FFTs of
# 2048 x 2048 images (2-D) and 2,000,000 samples (1-D) over the kernel sizes in the table.
_K = (3, 5, 7, 9, 11, 15, 21, 31, 45, 63)
_K1 = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_MEASURED = {
    ("avx512", 4): {
        "direct": (29.3, 11.4, 8.9, 8.1, 7.9, 7.4, 6.7, 7.2, 7.0, 6.7),
        "separable": (40.6, 24.5, 19.1, 17.1, 17.2, 15.2, 14.2, 11.9, 11.1, 11.2),
        "direct_1d": (115.5, 60, 30, 15, 12, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0),
        "fft": (0.0, 0.42), "fft_1d": (0.0, 0.42)},
    ("avx512", 8): {
        "direct": (47.9, 21.5, 18.3, 16.8, 15.8, 14.7, 13.5, 13.2, 13.3, 13.4),
        "separable": (89.2, 59.8, 45.6, 42.8, 38.4, 33.8, 28.7, 24.9, 22.5, 24.1),
        "direct_1d": (200, 100, 60, 40, 30, 20, 18, 18, 18, 18, 18, 18),
        "fft": (0.0, 0.75), "fft_1d": (0.0, 0.75)},
}


class _Costs:
    """Predicted seconds of each method on one path and dtype (see _MEASURED)."""

    def __init__(self, table, one_d):
        self._grid = np.log(_K1 if one_d else _K)
        self._direct = np.log(table["direct_1d" if one_d else "direct"])
        self._separable = np.log(table["separable"])
        self._fft = table["fft_1d" if one_d else "fft"]

    def _at(self, table, k):
        return float(np.exp(np.interp(math.log(max(k, 1)), self._grid, table))) * 1e-12

    def direct(self, kernel_shape):
        """Seconds per output."""
        taps = math.prod(kernel_shape)
        side = taps if len(kernel_shape) == 1 else math.sqrt(taps)
        return taps * self._at(self._direct, side)

    def separable(self, rank, kernel_shape):
        """Seconds per output."""
        taps = sum(kernel_shape)
        return rank * taps * self._at(self._separable, taps / 2)

    def fft(self, fft_shape, n_tiles):
        """Seconds of the whole call: n_tiles tiles of fft_shape."""
        points = math.prod(fft_shape)
        c0, c1 = self._fft
        return n_tiles * points * (c0 + c1 * math.log2(points)) * 1e-9


def _costs(dtype, one_d):
    """The cost model of the active SIMD path for `dtype` (2-D or 1-D); paths without a
    measured table use the nearest measured one, scaled by their vector width."""
    item = np.dtype(dtype).itemsize
    path = _core.active_path()
    table = _MEASURED.get((path, item))
    if table is None:
        scale = _WIDTH_SCALE.get(path, 1.0)
        base = _MEASURED[("avx2", item)] if ("avx2", item) in _MEASURED else \
            _MEASURED[("avx512", item)]
        table = dict(base)
        for key in ("direct", "separable", "direct_1d"):
            table[key] = tuple(v * scale for v in base[key])
    return _Costs(table, one_d)


# How much slower than the AVX2 table (or AVX-512's when AVX2 has none) a path's direct and
# separable kernels are, from vector width and FMA: an estimate, not a measurement.
_WIDTH_SCALE = {"baseline": 2.0, "scalar": 8.0, "neon": 2.0}
