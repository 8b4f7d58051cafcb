"""The tests' oracle: what fastcorr's functions must return, computed from their peers'
definitions in (nearly) exact arithmetic, and how far a result may be from it.

It is written from the definitions that scipy.signal and NumPy document, not from fastcorr's
code: an oracle that shares the implementation's reasoning can share its bugs.  Each input is
extended explicitly (``np.pad``), every window is formed by ``sliding_window_view`` and summed by
``einsum``, and the result is cut out of the full one where the peer's documentation says.
tests/test_oracle.py checks the oracle itself against scipy.signal and NumPy.

The definitions
---------------
scipy.signal.correlate2d(in1, in2, mode='full', boundary='fill', fillvalue=0) and convolve2d,
in1 of shape (M, N), in2 of shape (P, Q):

- The applied kernel is ``w = conj(in2)`` for correlation and ``w = in2`` rotated by 180 degrees
  for convolution ("convolve" flips, "correlate" conjugates; scipy's docs and numpy's).
- 'full': in1 is extended by P-1 rows and Q-1 columns on every side by the boundary rule,
  ``'fill'`` with `fillvalue`, ``'wrap'`` periodically, ``'symm'`` mirrored with the edge sample
  repeated (``np.pad``'s ``'constant'``, ``'wrap'`` and ``'symmetric'``, which extend as far as
  asked, also beyond one period), and ``full[i, j] = sum_{a, b} ext[i + a, j + b] * w[a, b]``:
  every product counts, the extension's too (so an Inf in in2 over a zero fill gives NaN, as
  in scipy).
- 'same': "the same size as in1, centered with respect to the 'full' output" (scipy's docs).
  The full output is P-1 longer than in1; for even P that excess is odd and the docs leave the
  half sample open.  scipy resolves it so that in2's element ((P-1)//2, (Q-1)//2) lies over
  in1[i, j] in both functions; correlation runs over in2 forwards and convolution backwards,
  so the crop starts at (P//2, Q//2) of the full correlation and ((P-1)//2, (Q-1)//2) of the
  full convolution.  (scipy's TestConvolve2d.test_same_mode pins the latter; test_oracle.py
  checks both against scipy.)
- 'valid': "the output consists only of those elements that do not rely on the zero-padding";
  "either in1 or in2 must be at least as large as the other in every dimension" (scipy's
  docs).  So it sums over the overlap only, for the lags where the smaller input lies wholly
  inside the larger; the boundary is not used.  For correlation these are the lags t of
  ``c(t) = sum_l in1[l + t] * conj(in2[l])``: t = 0 .. M-P when in1 is the larger, t = M-P .. 0
  when in2 is.  In the second case correlate2d returns ``conj(c(t))``: it swaps the inputs
  (scipy/signal/_signaltools.py, ``_inputs_swap_needed``), so the conjugate falls on in1.  That
  is a quirk of correlate2d (scipy.signal.correlate and numpy.correlate return c(t)), and it
  only shows for complex data.  Convolution is commutative: its valid output is the same
  whichever input is the larger.

numpy.correlate(a, v, mode='valid') and numpy.convolve(a, v, mode='full'), len(a) = N,
len(v) = K:

- correlate: ``c_k = sum_n a[n + k] * conj(v[n])``; convolve: ``(a * v)_n = sum_m a[m] v[n - m]``
  (numpy's docs), the sums over the indices where both factors exist (numpy never multiplies
  by a padding zero, so an Inf in v stays Inf next to the ends).  A convolution is the
  correlation with v reversed and not conjugated, at lag ``k = n - (K-1)``.
- 'full' is every lag with an overlap, k = -(K-1) .. N-1; 'valid' the lags where the shorter
  lies wholly inside the longer, "max(M, N) - min(M, N) + 1" of them; 'same' "max(M, N)"
  outputs, of which ``min(N, K) // 2`` lie before the first valid lag of the correlation of
  the longer input with the shorter (numpy/_core/src/multiarray/multiarraymodule.c,
  ``_pyarray_correlate``, ``n_left = n / 2``).  numpy computes correlate with v longer as the
  conjugated reverse of ``correlate(v, a)``; at the lags of the definition that is
  k = N//2 - K + 1 .. N//2.

Before any of this both inputs are cast to the *result* dtype, so the rounding of e.g.
float16 -> float32 or int64 -> float64 is part of the problem and not counted as error.  The
sums are formed in a wider type than the result (float64 for float32 results, longdouble for
float64; complex likewise) and returned in that type, never rounded to the result dtype.

The bound
---------
Each output is a sum of at most n products (n = P*Q in 'full'/'same', the smaller input's size
in 'valid'; in 1-D min(N, K)).  For any order of summation, with or without fused multiply-add,
the classical dot-product bound (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., eq. 3.5) gives

    |fl(s) - s| <= gamma_n * sum_k |x_k * w_k|,    gamma_n = n*u / (1 - n*u),

where u = eps/2 is the unit roundoff of the dtype the sum is accumulated in.  The implementation
is free to block and reorder the sum (SIMD lanes, register blocks, tiles); the bound holds for
every such order.  The tests use

    bound = (n + 1) * eps * (|in1| (*) |in2|) + tiny

with (*) the same operation on the absolute values (of the extended in1, |fillvalue| outside).
Since eps = 2u, (n + 1) * eps = 2 (n + 1) u >= gamma_n whenever n*u <= 1/2: a factor of about
two over the worst case, which also covers the oracle's own, much smaller, rounding error.
``tiny`` (the smallest normal number of the dtype) is an absolute floor for outputs whose exact
value is zero or subnormal, where a relative bound says nothing.  The bound depends on the dtype
and the kernel size only: it is derived, never tuned.

A comparison with another implementation that also rounds in the result dtype (scipy.signal,
numpy) must allow twice this bound, since both sides may err by up to it.

Complex results are checked part by part: the real part ``sum(a c) - sum(b d)`` is formed from
two real n-term sums and one subtraction, so its error is at most about
``(n + 1) * u * sum(|a c| + |b d|)``, and ``|a c| + |b d| <= |x| |w|`` (the moduli); the
imaginary part likewise.  So ``(n + 1) * eps * (|x| (*) |w|)`` with complex moduli bounds each
part with the same factor-of-two margin.

Stacks
------
Every function here also takes inputs with leading dimensions (the image or signal axes last):
in2 either has in1's number of dimensions, its leading ones broadcasting NumPy-style with
in1's, or only the core ones (one kernel for every item).  The answer is item by item.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SCIPY_FACES = ("correlate2d", "convolve2d")
NUMPY_FACES = ("correlate", "convolve")
DEFAULT_MODE = {"correlate2d": "full", "convolve2d": "full", "correlate": "valid",
                "convolve": "full"}
# scipy's boundary names (with its aliases) as np.pad's modes.
_NP_PAD = {"fill": "constant", "wrap": "wrap", "circular": "wrap", "symm": "symmetric",
           "symmetric": "symmetric"}
_WIDE = {np.dtype(np.float32): np.dtype(np.float64),
         np.dtype(np.float64): np.dtype(np.longdouble),
         np.dtype(np.complex64): np.dtype(np.complex128),
         np.dtype(np.complex128): np.dtype(np.clongdouble)}


def wide_dtype(dtype):
    """The type the oracle sums in for a result of `dtype`."""
    try:
        return _WIDE[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"results are float32/64 or complex64/128, not {dtype}") from None


def result_dtype(*dtypes):
    """fastcorr's documented promotion table (README, "dtypes"): float32 stays float32, float64
    float64, complex64 and complex128 stay themselves, float16 is computed in float32, bool and
    integers in float64; two inputs then combine as ``np.promote_types``."""
    def working(dtype):
        dtype = np.dtype(dtype).newbyteorder("=")  # the byte order is storage, not type
        if dtype.kind in "biu":
            return np.dtype(np.float64)
        if dtype == np.float16:
            return np.dtype(np.float32)
        if dtype in _WIDE:
            return dtype
        raise ValueError(f"no result dtype for {dtype}")

    result = working(dtypes[0])
    for dtype in dtypes[1:]:
        result = np.promote_types(result, working(dtype))
    return result


def fill_scalar(fillvalue, dtype):
    """`fillvalue` as scipy reads it: a scalar or a one-element array, in the result dtype.  A
    complex fill for a real result has no meaning unless its imaginary part is zero."""
    value = np.asarray(fillvalue).reshape(())
    if np.dtype(dtype).kind != "c":
        if value.imag != 0:
            raise ValueError(f"a complex fill {value} for a real result {np.dtype(dtype)}")
        value = value.real
    return value.astype(dtype)


# ----------------------------------------------------------------------------- windows
def _windows(x, w, wide):
    """``out[i...] = sum_a x[i + a] * w[a]`` for every window of w's shape inside x, in `wide`.

    einsum (not tensordot/BLAS) keeps every product, so 0 * Inf is NaN exactly as in the
    definition, and works in longdouble.
    """
    letters = "abcd"[:x.ndim]
    windows = sliding_window_view(x.astype(wide), w.shape)
    return np.einsum(f"{letters.upper()}{letters},{letters}->{letters.upper()}", windows,
                     w.astype(wide))


def _lags_1d(x, w, first, count, wide):
    """``c_k = sum_j x[k + j] * w[j]`` over the j where x[k + j] exists, k = first ..
    first + count - 1.

    numpy's definition: no product with a padding zero counts (an Inf in w next to an end
    stays Inf, where a zero-padded sum would make it NaN).
    """
    n, k = len(x), len(w)
    if np.all(np.isfinite(w)):
        # A product with a padding zero is then exactly zero and adds nothing: the windows of
        # a zero-extended copy give the overlap sums.
        before, after = max(-first, 0), max(first + count + k - 1 - n, 0)
        padded = np.concatenate([np.zeros(before, wide), x.astype(wide), np.zeros(after, wide)])
        return _windows(padded[first + before:first + before + count + k - 1], w, wide)
    # Otherwise the products at positions outside x are selected away, not multiplied
    # (0 * Inf would be NaN).
    lags = np.arange(first, first + count)
    padded = np.concatenate([np.zeros(k - 1, wide), x.astype(wide), np.zeros(k - 1, wide)])
    windows = sliding_window_view(padded, k)[lags + k - 1]
    positions = lags[:, None] + np.arange(k)
    with np.errstate(invalid="ignore"):
        products = windows * w.astype(wide)
    return np.where((positions >= 0) & (positions < n), products, 0).sum(axis=1)


# ----------------------------------------------------------------------------- one item
def _scipy_2d(in1, in2, dtype, mode, boundary, fillvalue, convolve):
    a = np.asarray(in1).astype(dtype)
    b = np.asarray(in2).astype(dtype)
    wide = wide_dtype(dtype)
    (m, n), (p, q) = a.shape, b.shape
    w = b[::-1, ::-1] if convolve else np.conj(b)
    if mode == "valid":
        if m >= p and n >= q:
            return _windows(a, w, wide)
        if not (p >= m and q >= n):
            raise ValueError("for 'valid' mode one input must be at least as large as the "
                             "other in every dimension")
        if convolve:
            return _windows(b, a[::-1, ::-1], wide)
        # c(t) for t = M-P .. 0 is the window of in2 at offset -t against in1:
        # sum_l in1[l] conj(in2[l - t]); correlate2d returns its conjugate (module docstring).
        c = _windows(np.conj(b), a, wide)[::-1, ::-1]
        return np.conj(c)
    pad = ((p - 1, p - 1), (q - 1, q - 1))
    if boundary == "fill":
        ext = np.pad(a, pad, mode="constant", constant_values=fill_scalar(fillvalue, dtype))
    else:
        ext = np.pad(a, pad, mode=_NP_PAD[boundary])
    full = _windows(ext, w, wide)
    if mode == "full":
        return full
    if mode != "same":
        raise ValueError(f"unknown mode {mode!r}")
    r0, c0 = ((p - 1) // 2, (q - 1) // 2) if convolve else (p // 2, q // 2)
    return full[r0:r0 + m, c0:c0 + n]


def _numpy_1d(a, v, dtype, mode, convolve):
    x = np.asarray(a).astype(dtype).reshape(-1)
    y = np.asarray(v).astype(dtype).reshape(-1)
    wide = wide_dtype(dtype)
    n, k = len(x), len(y)
    shorter, longer = min(n, k), max(n, k)
    if convolve:
        # (a * v)_i at i = first .. is the correlation of a with v reversed at lag i - (K-1).
        first, count = {"full": (0, n + k - 1), "valid": (shorter - 1, longer - shorter + 1),
                        "same": ((shorter - 1) // 2, longer)}[mode]
        return _lags_1d(x, y[::-1], first - (k - 1), count, wide)
    if mode == "full":
        first, count = -(k - 1), n + k - 1
    elif mode == "valid":
        first, count = (0 if n >= k else n - k), longer - shorter + 1
    elif mode == "same":
        first, count = (-(k // 2) if n >= k else n // 2 - k + 1), longer
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return _lags_1d(x, np.conj(y), first, count, wide)


# ----------------------------------------------------------------------------- stacks
def per_item(single, in1, in2, core):
    """`single` (a function of two inputs of `core` dimensions) over stacks: leading
    dimensions broadcast NumPy-style, an input of `core` dimensions serves every item."""
    a, b = np.asarray(in1), np.asarray(in2)
    if a.ndim <= core and b.ndim <= core:
        return single(a, b)
    batch = np.broadcast_shapes(a.shape[:max(a.ndim - core, 0)], b.shape[:max(b.ndim - core, 0)])
    a = np.broadcast_to(a, batch + a.shape[max(a.ndim - core, 0):])
    b = np.broadcast_to(b, batch + b.shape[max(b.ndim - core, 0):])
    items = [single(a[i], b[i]) for i in np.ndindex(*batch)]
    return np.stack(items).reshape(batch + items[0].shape)


def _core_ndim(name):
    if name in SCIPY_FACES:
        return 2
    if name in NUMPY_FACES:
        return 1
    raise ValueError(f"no oracle for {name!r}")


def exact(name, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0):
    """What fastcorr.<name>(in1, in2, mode, ...) must return, in the wide type of `dtype`
    (the result dtype); `name` is one of correlate2d, convolve2d, correlate, convolve, and
    `mode` defaults to the peer's default.  Leading dimensions are a stack."""
    mode = DEFAULT_MODE[name] if mode is None else mode
    convolve = name.startswith("convolve")
    if _core_ndim(name) == 2:
        return per_item(lambda a, b: _scipy_2d(a, b, dtype, mode, boundary, fillvalue,
                                                convolve), in1, in2, 2)
    return per_item(lambda a, b: _numpy_1d(a, b, dtype, mode, convolve), in1, in2, 1)


def error_bound(name, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0):
    """Elementwise bound on |computed - exact| for fastcorr.<name> accumulating in `dtype`:
    ``(n + 1) * eps(dtype) * (|in1| (*) |in2|) + tiny(dtype)`` (module docstring).  For a
    complex `dtype` it bounds the real and the imaginary part separately."""
    mode = DEFAULT_MODE[name] if mode is None else mode
    core = _core_ndim(name)
    convolve = name.startswith("convolve")

    def single(a, b):
        a = np.abs(np.asarray(a).astype(dtype)).astype(np.float64)
        b = np.abs(np.asarray(b).astype(dtype)).astype(np.float64)
        # The same operation on the absolute values: the sum of |products| of every output.
        if core == 2:
            terms = min(a.size, b.size) if mode == "valid" else b.size
            fill = abs(complex(fill_scalar(fillvalue, dtype)))
            magnitude = _scipy_2d(a, b, np.float64, mode, boundary, fill, convolve)
        else:
            terms = min(a.size, b.size)
            magnitude = _numpy_1d(a, b, np.float64, mode, convolve)
        finfo = np.finfo(dtype)
        return (terms + 1) * float(finfo.eps) * magnitude.astype(np.float64) + float(finfo.tiny)

    return per_item(single, in1, in2, core)


# ----------------------------------------------------------------------------- comparison
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
    for label, mask in (("NaN", np.isnan), ("+Inf", lambda a: a == np.inf),
                        ("-Inf", lambda a: a == -np.inf)):
        differ = mask(result) != mask(reference)
        if differ.any():
            where = tuple(np.argwhere(differ)[0])
            raise AssertionError(
                f"{context}: {label} mask differs from the reference at {int(differ.sum())} "
                f"positions, first {where}: result {result[where]!r}, reference "
                f"{reference[where]!r}")
    finite = np.isfinite(reference)
    err = np.abs(result[finite].astype(reference.dtype) - reference[finite])
    allowed = np.broadcast_to(np.asarray(bound), reference.shape)[finite]
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
