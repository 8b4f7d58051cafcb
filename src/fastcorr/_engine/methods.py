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


def choose(x, w, y_shape, plan, fill):
    """(method, factors or None) for the real correlation of stacks x (B, M, N) or (B, N) with
    w into a result of y_shape, by the plan's method ('auto' decides here)."""
    method = plan.method
    one_d = x.ndim == 2
    if method == "separable" and one_d:
        raise ValueError("method='separable' factors 2-D kernels; a 1-D correlation has "
                         "nothing to separate (use 'auto', 'direct' or 'fft')")
    if method != "auto":
        return method, None
    outputs = math.prod(y_shape)
    taps = math.prod(w.shape[1:])
    if outputs * taps < AUTO_MIN_FMAS:
        return "direct", None
    dtype = x.dtype
    costs = _costs(dtype)
    best, best_time, factors = "direct", costs.direct(w.shape[1:]) * outputs, None
    if not one_d and w.shape[0] == 1 and min(w.shape[1:]) > 1 and _finite(w):
        f = factor(w[0], dtype)
        t = costs.separable(f.rank, w.shape[1:]) * outputs
        if t < best_time:
            if separable_bound(f, dtype) <= ERROR_FACTOR * direct_bound(w[0], dtype):
                best, best_time, factors = "separable", t, [f]
    t = costs.fft(w.shape[1:], x.shape[1:]) * outputs
    if t < best_time:
        from . import fft
        err = fft.error_ratio(w, x.shape[1:], dtype)
        if err <= ERROR_FACTOR and _finite(w) and _finite(x) and math.isfinite(fill):
            best, factors = "fft", None
    return best, factors


# --------------------------------------------------------------------------- the cost model
# Measured on this project's machine class (Intel Xeon family 6 model 167, KVM, 2 threads,
# 2048x2048 image, 'same'/'symm', out= given, best of 5; /work/tune/methods_table.py):
# picoseconds per multiply-add, by kernel side K (square kernels; the separable time is per
# term and per tap of its two passes: r * (P + Q) multiply-adds an output).  Direct is
# memory-bound at K = 3 and near the FMA peak from K = 9; the separable passes are shorter
# rows of work, so their time per tap falls more slowly with K.
_K = (3, 5, 7, 9, 11, 15, 21, 31, 45, 63)
_MEASURED = {
    ("avx512", 4): {"direct": (29.3, 11.4, 8.9, 8.1, 7.9, 7.4, 6.7, 7.2, 7.0, 6.7),
                    "separable": (40.6, 24.5, 19.1, 17.1, 17.2, 15.2, 14.2, 11.9, 11.1, 11.2)},
    ("avx512", 8): {"direct": (47.9, 21.5, 18.3, 16.8, 15.8, 14.7, 13.5, 13.2, 13.3, 13.4),
                    "separable": (89.2, 59.8, 45.6, 42.8, 38.4, 33.8, 28.7, 24.9, 22.5, 24.1)},
}


class _Costs:
    """Predicted nanoseconds per output of each method on one path and dtype."""

    def __init__(self, direct, separable):
        self._log_k = np.log(_K)
        self._direct = np.log(direct)
        self._separable = np.log(separable)

    def _at(self, table, k):
        return float(np.exp(np.interp(math.log(max(k, 1)), self._log_k, table))) * 1e-3

    def direct(self, kernel_shape):
        taps = math.prod(kernel_shape)
        return taps * self._at(self._direct, math.sqrt(taps))

    def separable(self, rank, kernel_shape):
        taps = sum(kernel_shape)
        return rank * taps * self._at(self._separable, taps / 2)

    def fft(self, kernel_shape, image_shape):
        return math.inf


def _costs(dtype):
    path = _core.active_path()
    table = _MEASURED.get((path, np.dtype(dtype).itemsize), _MEASURED[("avx512", np.dtype(dtype).itemsize)])
    return _Costs(table["direct"], table["separable"])
