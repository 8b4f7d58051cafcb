"""Pure-NumPy oracle for 'valid' 2-D correlation/convolution, and the error bound tests use.

The oracle
----------
``correlate2d_valid_reference`` follows scipy.signal.correlate2d's 'valid' rules: if `in2` is
at least as large as `in1` in every dimension (and `in1` is not at least as large as `in2`), the
inputs are swapped and the result is rotated by 180 degrees.  Both inputs are first cast to the
*result* dtype, so the rounding of e.g. float16 -> float32 or int64 -> float64 is part of the
problem statement and not counted as computation error.  The sums are then formed with
``sliding_window_view`` + ``einsum`` in a wider type than the result (float64 for float32
results, np.longdouble for float64 results), so the oracle's own rounding is negligible next to
the bound below.  The returned array is left in the wide type; it is never rounded to the result
dtype, so the comparison measures the implementation's error against (almost) the exact value.

The bound
---------
Each output is a sum of n = P*Q products (P x Q the smaller input).  For any order of summation,
with or without fused multiply-add, the classical dot-product bound (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., eq. 3.5) gives

    |fl(s) - s| <= gamma_n * sum_k |x_k * w_k|,    gamma_n = n*u / (1 - n*u),

where u = eps/2 is the unit roundoff of the dtype the sum is accumulated in.  The implementation
is free to block and reorder the sum (SIMD lanes, register blocks, tiles), and the bound holds
for every such order.  We use

    bound = (n + 1) * eps * (|in1| (*) |in2|) + tiny

with (*) the valid correlation of the absolute values (computed in float64).  Since eps = 2u,
(n + 1) * eps = 2 (n + 1) u >= gamma_n whenever n*u <= 1/2, i.e. a factor of about two of margin
over the worst case; that margin also covers the oracle's own (much smaller) rounding error.
``tiny`` (the smallest normal number of the dtype) is an absolute floor for outputs whose exact
value is zero or subnormal, where a relative bound says nothing useful.

A comparison against another implementation that also rounds in the result dtype (e.g.
scipy.signal) must allow twice this bound, since both sides may err by up to it.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _wide_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return np.dtype(np.float64)
    if dtype == np.float64:
        return np.dtype(np.longdouble)
    raise ValueError(f"reference results are float32 or float64, not {dtype}")


def _swap_needed(shape1, shape2):
    in1_larger = all(a >= b for a, b in zip(shape1, shape2))
    in2_larger = all(b >= a for a, b in zip(shape1, shape2))
    if not (in1_larger or in2_larger):
        raise ValueError(f"neither of {shape1} and {shape2} is at least as large as the other")
    return not in1_larger


def _valid_correlation(image, kernel, wide):
    # einsum (not tensordot/BLAS) keeps every product, so 0 * Inf = NaN exactly as in the
    # definition, and works in longdouble.
    windows = sliding_window_view(image.astype(wide), kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel.astype(wide))


def correlate2d_valid_reference(in1, in2, dtype):
    """scipy.signal.correlate2d(in1, in2, 'valid') in (nearly) exact arithmetic.

    Inputs are cast to `dtype` (the result dtype) first; the result is in the wider type.
    """
    a = np.asarray(in1).astype(dtype)
    b = np.asarray(in2).astype(dtype)
    wide = _wide_dtype(dtype)
    if _swap_needed(a.shape, b.shape):
        return _valid_correlation(b, a, wide)[::-1, ::-1]
    return _valid_correlation(a, b, wide)


def convolve2d_valid_reference(in1, in2, dtype):
    """scipy.signal.convolve2d(in1, in2, 'valid') in (nearly) exact arithmetic."""
    a = np.asarray(in1).astype(dtype)
    b = np.asarray(in2).astype(dtype)
    wide = _wide_dtype(dtype)
    # Convolution is commutative: in 'valid' mode the smaller input is always the kernel.
    big, small = (b, a) if _swap_needed(a.shape, b.shape) else (a, b)
    return _valid_correlation(big, small[::-1, ::-1], wide)


def error_bound(in1, in2, dtype, op="correlate"):
    """Elementwise bound on |computed - exact| for a result accumulated in `dtype`.

    ``(n + 1) * eps(dtype) * (|in1| (*) |in2|) + tiny(dtype)``; see the module docstring.
    `op` is "correlate" or "convolve" ((*) is then the convolution of the absolute values).
    """
    a = np.abs(np.asarray(in1).astype(dtype)).astype(np.float64)
    b = np.abs(np.asarray(in2).astype(dtype)).astype(np.float64)
    n = min(a.size, b.size)
    if op == "correlate":
        magnitude = correlate2d_valid_reference(a, b, np.float64).astype(np.float64)
    elif op == "convolve":
        magnitude = convolve2d_valid_reference(a, b, np.float64).astype(np.float64)
    else:
        raise ValueError(f"op must be 'correlate' or 'convolve', got {op!r}")
    finfo = np.finfo(dtype)
    return (n + 1) * float(finfo.eps) * magnitude + float(finfo.tiny)


def assert_within_bound(result, reference, bound, context=""):
    """Assert `result` matches `reference` to within `bound`, elementwise.

    NaN must appear exactly where the reference has NaN, and +-Inf exactly where it has the same
    infinity; all other entries must be finite and within the bound.
    """
    result = np.asarray(result)
    reference = np.asarray(reference)
    assert result.shape == reference.shape, (
        f"{context}: shape {result.shape}, expected {reference.shape}")
    ref_nan = np.isnan(reference)
    res_nan = np.isnan(result)
    if not np.array_equal(res_nan, ref_nan):
        where = np.argwhere(res_nan != ref_nan)
        raise AssertionError(
            f"{context}: NaN mask differs from the reference at {len(where)} positions, "
            f"first {tuple(where[0])}: result {result[tuple(where[0])]!r}, "
            f"reference {reference[tuple(where[0])]!r}")
    for sign in (1, -1):
        ref_inf = reference == sign * np.inf
        res_inf = result == sign * np.inf
        if not np.array_equal(res_inf, ref_inf):
            where = np.argwhere(res_inf != ref_inf)
            raise AssertionError(
                f"{context}: {'+' if sign > 0 else '-'}Inf mask differs from the reference at "
                f"{len(where)} positions, first {tuple(where[0])}: result "
                f"{result[tuple(where[0])]!r}, reference {reference[tuple(where[0])]!r}")
    finite = np.isfinite(reference)
    err = np.abs(result[finite].astype(reference.dtype) - reference[finite])
    allowed = np.asarray(bound)[finite]
    ok = err <= allowed
    if not np.all(ok):
        bad = np.flatnonzero(~ok)
        idx = tuple(np.argwhere(finite)[bad[0]])
        worst = bad[np.argmax((err[bad] / allowed[bad]).astype(np.float64))]
        raise AssertionError(
            f"{context}: {bad.size} of {err.size} outputs exceed the error bound; first at "
            f"{idx}: |{result[idx]!r} - {reference[idx]!r}| = {float(err[bad[0]]):.3e} > "
            f"{float(allowed[bad[0]]):.3e}; worst ratio error/bound = "
            f"{float(err[worst] / allowed[worst]):.3g}")
