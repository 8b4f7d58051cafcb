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

Modes, boundaries, complex data, 1-D
------------------------------------
``correlate2d_reference``/``convolve2d_reference`` add scipy's 'full' and 'same' modes: the
image is padded with ``np.pad`` (mode 'constant' with the fill value, 'wrap', 'symmetric') by
P-1 rows and Q-1 columns on every side, the valid correlation of that is the 'full' result, and
'same' is cut out of it starting at (P//2, Q//2) for correlation, ((P-1)//2, (Q-1)//2) for
convolution.  Correlation conjugates the kernel.  This is a different construction from the
implementation's (which never pads the whole image and computes 'same' directly), so a wrong
crop or a wrong boundary block in either shows up.  ``correlate1d_reference`` and
``convolve1d_reference`` give numpy.correlate/numpy.convolve from the definition over lags.

The bound for these is the same formula with the sum of absolute products taken over the
extended image (|fill value| outside) and n the number of terms in each output sum (P*Q; in
1-D, the kernel length).  Complex results are checked part by part: the real part
``sum(a c) - sum(b d)`` is formed from two real n-term sums and one subtraction, so its error
is at most about ``(n + 1) * u * sum(|a c| + |b d|)``, and ``|a c| + |b d| <= |x| |w|`` (the
moduli); the imaginary part likewise.  So ``(n + 1) * eps * (|x| (*) |w|)`` with complex moduli
still bounds each part with the same factor-of-two margin.

Batches: every public function here also takes inputs with leading (batch) dimensions,
broadcast the NumPy way, and answers item by item.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _wide_dtype(dtype):
    dtype = np.dtype(dtype)
    wide = {np.dtype(np.float32): np.float64, np.dtype(np.float64): np.longdouble,
            np.dtype(np.complex64): np.complex128, np.dtype(np.complex128): np.clongdouble}
    if dtype not in wide:
        raise ValueError(f"reference results are float32/64 or complex64/128, not {dtype}")
    return np.dtype(wide[dtype])


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
        return _valid_correlation(b, np.conj(a), wide)[::-1, ::-1]
    return _valid_correlation(a, np.conj(b), wide)


def convolve2d_valid_reference(in1, in2, dtype):
    """scipy.signal.convolve2d(in1, in2, 'valid') in (nearly) exact arithmetic."""
    a = np.asarray(in1).astype(dtype)
    b = np.asarray(in2).astype(dtype)
    wide = _wide_dtype(dtype)
    # Convolution is commutative: in 'valid' mode the smaller input is always the kernel.
    big, small = (b, a) if _swap_needed(a.shape, b.shape) else (a, b)
    return _valid_correlation(big, small[::-1, ::-1], wide)


_NP_PAD = {"fill": "constant", "wrap": "wrap", "symm": "symmetric"}


def fill_scalar(fillvalue, dtype):
    """scipy's reading of `fillvalue`: a scalar or one-element array, in the result dtype."""
    value = np.asarray(fillvalue).reshape(())
    if np.dtype(dtype).kind != "c":
        value = value.real
    return value.astype(dtype)


def _correlate2d_reference(in1, in2, dtype, mode="valid", boundary="fill", fillvalue=0,
                          op="correlate"):
    """scipy.signal.correlate2d (or convolve2d for op="convolve") in (nearly) exact arithmetic,
    every mode and boundary; see the module docstring."""
    if mode == "valid":
        valid = correlate2d_valid_reference if op == "correlate" else convolve2d_valid_reference
        return valid(in1, in2, dtype)
    a = np.asarray(in1).astype(dtype)
    b = np.asarray(in2).astype(dtype)
    wide = _wide_dtype(dtype)
    p, q = b.shape
    pad = ((p - 1, p - 1), (q - 1, q - 1))
    if boundary == "fill":
        extended = np.pad(a, pad, mode="constant", constant_values=fill_scalar(fillvalue, dtype))
    else:
        extended = np.pad(a, pad, mode=_NP_PAD[boundary])
    kernel = np.conj(b) if op == "correlate" else b[::-1, ::-1]
    full = _valid_correlation(extended, kernel, wide)
    if mode == "full":
        return full
    r0, c0 = (p // 2, q // 2) if op == "correlate" else ((p - 1) // 2, (q - 1) // 2)
    return full[r0:r0 + a.shape[0], c0:c0 + a.shape[1]]


def convolve2d_reference(in1, in2, dtype, mode="valid", boundary="fill", fillvalue=0):
    """scipy.signal.convolve2d in (nearly) exact arithmetic, every mode and boundary."""
    return correlate2d_reference(in1, in2, dtype, mode, boundary, fillvalue, op="convolve")


def _error_bound(in1, in2, dtype, op="correlate", mode="valid", boundary="fill", fillvalue=0):
    """Elementwise bound on |computed - exact| for a result accumulated in `dtype`.

    ``(n + 1) * eps(dtype) * (|in1| (*) |in2|) + tiny(dtype)``; see the module docstring.
    `op` is "correlate" or "convolve" ((*) is then the convolution of the absolute values);
    in 'full' and 'same' modes the absolute values are those of the extended image.  For a
    complex `dtype` it bounds the real and the imaginary part separately.
    """
    a = np.abs(np.asarray(in1).astype(dtype)).astype(np.float64)
    b = np.abs(np.asarray(in2).astype(dtype)).astype(np.float64)
    n = min(a.size, b.size) if mode == "valid" else b.size
    if op not in ("correlate", "convolve"):
        raise ValueError(f"op must be 'correlate' or 'convolve', got {op!r}")
    fill = abs(complex(fill_scalar(fillvalue, dtype)))
    magnitude = correlate2d_reference(a, b, np.float64, mode, boundary, fill, op=op)
    finfo = np.finfo(dtype)
    return (n + 1) * float(finfo.eps) * magnitude.astype(np.float64) + float(finfo.tiny)


# ----------------------------------------------------------------------------- 1-D
def _lags(a, v, wide):
    """z[i] = sum_n a[n + i - (K-1)] * v[n] for i = 0 .. N+K-2 (a zero outside), in `wide`."""
    n, k = len(a), len(v)
    padded = np.concatenate([np.zeros(k - 1, wide), a.astype(wide), np.zeros(k - 1, wide)])
    return np.einsum("ij,j->i", sliding_window_view(padded, k), v.astype(wide))


def _window_1d(n, k, mode, op):
    """(start, length) of numpy's `mode` result inside the full result, for len(a)=n,
    len(v)=k; numpy swaps the inputs when v is the longer, which moves the 'same' window."""
    if mode == "full":
        return 0, n + k - 1
    if mode == "valid":
        return min(n, k) - 1, abs(n - k) + 1
    if op == "convolve" or n >= k:
        return (min(n, k) - 1) // 2, max(n, k)
    return n // 2, k


def _correlate1d_reference(a, v, dtype, mode="valid", op="correlate"):
    """numpy.correlate(a, v, mode) (op="convolve": numpy.convolve) in (nearly) exact
    arithmetic, from the definition over lags: correlation is sum_n a[n + lag] * conj(v[n])."""
    a = np.atleast_1d(np.asarray(a).astype(dtype))
    v = np.atleast_1d(np.asarray(v).astype(dtype))
    wide = _wide_dtype(dtype)
    kernel = np.conj(v) if op == "correlate" else v[::-1]
    full = _lags(a, kernel, wide)
    start, length = _window_1d(len(a), len(v), mode, op)
    return full[start:start + length]


def convolve1d_reference(a, v, dtype, mode="full"):
    return correlate1d_reference(a, v, dtype, mode, op="convolve")


def _error_bound_1d(a, v, dtype, mode="valid", op="correlate"):
    """The 1-D bound: (n + 1) * eps * (|a| (*) |v|) + tiny, n = number of terms per output."""
    aa = np.abs(np.atleast_1d(np.asarray(a).astype(dtype))).astype(np.float64)
    av = np.abs(np.atleast_1d(np.asarray(v).astype(dtype))).astype(np.float64)
    n = min(len(aa), len(av))
    magnitude = correlate1d_reference(aa, av, np.float64, mode, op).astype(np.float64)
    finfo = np.finfo(dtype)
    return (n + 1) * float(finfo.eps) * magnitude + float(finfo.tiny)


# ----------------------------------------------------------------------------- batches
def _per_item(single, core_ndim):
    """`single` (a function of two inputs with `core_ndim` dimensions each) applied to every
    item of inputs with leading batch dimensions, broadcast the NumPy way."""
    def batched(in1, in2, *args, **kwargs):
        a, b = np.asarray(in1), np.asarray(in2)
        if a.ndim <= core_ndim and b.ndim <= core_ndim:
            return single(a, b, *args, **kwargs)
        batch = np.broadcast_shapes(a.shape[:a.ndim - core_ndim], b.shape[:b.ndim - core_ndim])
        a = np.broadcast_to(a, batch + a.shape[a.ndim - core_ndim:])
        b = np.broadcast_to(b, batch + b.shape[b.ndim - core_ndim:])
        items = [single(a[i], b[i], *args, **kwargs) for i in np.ndindex(*batch)]
        return np.stack(items).reshape(batch + items[0].shape)
    batched.__name__ = single.__name__.lstrip("_")
    batched.__doc__ = single.__doc__
    return batched


correlate2d_reference = _per_item(_correlate2d_reference, 2)
error_bound = _per_item(_error_bound, 2)
correlate1d_reference = _per_item(_correlate1d_reference, 1)
error_bound_1d = _per_item(_error_bound_1d, 1)


def assert_within_bound(result, reference, bound, context=""):
    """Assert `result` matches `reference` to within `bound`, elementwise.

    NaN must appear exactly where the reference has NaN, and +-Inf exactly where it has the same
    infinity; all other entries must be finite and within the bound.
    """
    result = np.asarray(result)
    reference = np.asarray(reference)
    assert result.shape == reference.shape, (
        f"{context}: shape {result.shape}, expected {reference.shape}")
    if result.dtype.kind == "c" or reference.dtype.kind == "c":
        # The bound holds for each part separately (module docstring).
        assert_within_bound(np.real(result), np.real(reference), bound, context + " (real)")
        assert_within_bound(np.imag(result), np.imag(reference), bound, context + " (imag)")
        return
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


def dtype_id(dt):
    """A readable pytest id for a dtype."""
    return np.dtype(dt).name


def random_array(rng, shape, dtype):
    """Standard-normal values of `shape` in `dtype`, with an independent imaginary part for
    complex dtypes."""
    dtype = np.dtype(dtype)
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)
