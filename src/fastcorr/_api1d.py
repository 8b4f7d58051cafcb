"""Public 1-D correlation and convolution with numpy.correlate/numpy.convolve's semantics, on
the compiled 1-D valid-mode core (_core.correlate_valid_1d_batch, kernels in
_kernels/corr1d_tmpl.h), without copying the signal.

Every mode is a window of the full correlation: the outputs whose window lies inside the signal
run the valid kernel on the signal itself, and the at most K-1 at each end come from a small
zero-padded copy of the samples they read.
"""
import numpy as np

from . import _core
from ._api import (
    _MODES,
    _PLAIN_DTYPES,
    _along_axes,
    _as_array,
    _batch_shape,
    _check_mode,
    _correlate_parts,
    _image,
    _kernel_stack,
    _resolve_workers,
    _stack,
    _unit_last_stride,
    _working_dtype,
)


# Signals (all of a stack) of at most this many samples are padded whole for 'same'/'full'.
_PAD_WHOLE_1D = 1 << 14


def _correlate_window(x, v, lo, y, n_threads):
    """y[i, j] = sum_m x~[i, lo + j + m] * v[i or 0, m] for j < L, x~ = x extended by zeros;
    stacks x (B, N) with unit-stride rows, v (1 or B, K) and y (B, L) C-contiguous, real, one
    dtype, N >= K, lo >= 1 - K.

    The outputs whose window lies inside x run the valid 1-D kernel on x itself; the
    at most K-1 at each end whose window leaves x come from a zero-padded copy of the <= 2K-2
    samples they read.  Stacks of at most _PAD_WHOLE_1D samples are padded whole instead.
    """
    n, k, length = x.shape[-1], v.shape[-1], y.shape[-1]
    if (lo < 0 or lo + length + k - 1 > n) and x.size <= _PAD_WHOLE_1D:
        # Short signals with ends: one zero-padded copy and one core call cost less than the
        # three calls below (1,000 samples, 'same': 7 us against 14).
        _core.correlate_valid_1d_batch(_zero_padded(x, lo, lo + length + k - 1), v, y,
                                       n_threads)
        return
    inner_lo = min(max(-lo, 0), length)                    # first j with lo + j >= 0
    inner_hi = max(min(n - k + 1 - lo, length), inner_lo)  # first j with lo + j > n - k
    if inner_lo < inner_hi:
        _core.correlate_valid_1d_batch(x[:, lo + inner_lo:lo + inner_hi + k - 1], v,
                                       y[:, inner_lo:inner_hi], n_threads)
    for j0, j1 in ((0, inner_lo), (inner_hi, length)):
        if j0 < j1:
            _core.correlate_valid_1d_batch(_zero_padded(x, lo + j0, lo + j1 + k - 1), v,
                                           y[:, j0:j1], n_threads)


def _zero_padded(x, start, stop):
    """Samples start .. stop-1 of every row of x (B, N), zero outside [0, N), as a new
    C-contiguous (B, stop - start) array."""
    block = np.zeros((x.shape[0], stop - start), dtype=x.dtype)
    a, b = max(start, 0), min(stop, x.shape[-1])
    if a < b:
        block[:, a - start:b - start] = x[:, a:b]
    return block


def _as_input_1d(arr, name, scalar_ok):
    """`arr` as an ndarray, checked: at least 1-D (leading dimensions are a batch; a scalar
    counts as one sample if `scalar_ok`, as in numpy.convolve, while numpy.correlate rejects
    it), non-empty, numeric."""
    a = _as_array(arr, name)
    dtype = _working_dtype(a.dtype, name)
    if a.ndim == 0 and not scalar_ok:
        raise ValueError(f"{name} must be 1-D (or a stack of 1-D sequences), got a 0-D array")
    a = a.reshape(-1) if a.ndim == 0 else a
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); both inputs need at least one "
                         "element")
    return a, dtype


def _window(n, k, mode, convolve):
    """(start, length) of numpy's `mode` result inside the full one (lags -(K-1) .. N-1), for
    len(a) = n and len(v) = k.  numpy swaps the inputs when v is the longer: for convolution
    that changes nothing, for correlation it moves the 'same' window (numpy computes the
    swapped 'same' and reverses it)."""
    if mode == "full":
        return 0, n + k - 1
    if mode == "valid":
        return min(n, k) - 1, abs(n - k) + 1
    if convolve or n >= k:
        return (min(n, k) - 1) // 2, max(n, k)
    return n // 2, k


def _plain_1d(a, v, mode, workers, convolve):
    """The result of the commonest call computed with the fewest steps, or None if it is not
    one: two C-contiguous, aligned 1-D ndarrays of one native float dtype, `a` at least as long
    as `v`.  The general path's checks and stacking cost about 15 us, eight times
    numpy.correlate's whole call on 1,000 samples; the conditions make this call's result and
    errors the general path's."""
    if not (type(a) is np.ndarray and type(v) is np.ndarray and type(mode) is str
            and mode in _MODES and a.ndim == 1 and v.ndim == 1 and a.dtype == v.dtype
            and a.dtype in _PLAIN_DTYPES and 1 <= v.shape[0] <= a.shape[0]
            and a.flags.c_contiguous and v.flags.c_contiguous
            and a.flags.aligned and v.flags.aligned):
        return None
    n_threads = _resolve_workers(workers)
    n, k = a.shape[0], v.shape[0]
    start, length = _window(n, k, mode, convolve)
    kernel = np.ascontiguousarray(v[::-1]) if convolve else v
    result = np.empty(length, a.dtype)
    _correlate_window(a[None], kernel[None], start - (k - 1), result[None], n_threads)
    return result


def _correlation_1d(a, v, mode, workers, convolve):
    plain = _plain_1d(a, v, mode, workers, convolve)
    if plain is not None:
        return plain
    _check_mode(mode)
    a, dt1 = _as_input_1d(a, "a", scalar_ok=convolve)
    v, dt2 = _as_input_1d(v, "v", scalar_ok=convolve)
    dtype = np.promote_types(dt1, dt2)
    n_threads = _resolve_workers(workers)
    batch = _batch_shape(a, v, 1, ("a", "v"))
    n, k = a.shape[-1], v.shape[-1]
    start, length = _window(n, k, mode, convolve)
    # Every case is a correlation window of the longer input (the signal) with the shorter
    # one (the kernel), so the work is proportional to the output times the shorter length.
    reverse = False
    if convolve:
        signal, kernel = (a, v[..., ::-1]) if n >= k else (v, a[..., ::-1])
        lo = start - (min(n, k) - 1)
    elif n >= k:
        signal, kernel = a, np.conj(v) if v.dtype.kind == "c" else v
        lo = start - (k - 1)
    else:
        # z[i] = sum_m a[m] conj(v[m - lag]) = sum_m conj(v)[m + t] a[m] with t = K-1-i: the
        # correlation of conj(v) with a, read backwards (numpy's swap, reverse, conjugate).
        signal, kernel = (np.conj(v) if v.dtype.kind == "c" else v), a
        lo = k - start - length
        reverse = True
    shape = batch + (length,)

    def correlate_real(x, w, fill, y):
        _correlate_window(_stack(x, batch, 1), _kernel_stack(w, batch, 1, y.dtype), lo,
                          _unit_last_stride(y.reshape(-1, length), writeable=True), n_threads)

    if dtype.kind == "c":
        result = _correlate_parts(correlate_real, signal, kernel, dtype.type(0), shape, dtype)
    else:
        result = np.empty(shape, dtype)
        correlate_real(_image(signal, dtype), kernel, None, result)
    return result[..., ::-1].copy() if reverse else result


def correlate(a, v, mode="valid", *, axes=None, workers=None):
    """Cross-correlation of two 1-D sequences, as :func:`numpy.correlate`.

    ``c[k] = sum_n a[n + k] * conj(v[n])`` over the lags `mode` selects, computed directly by
    the SIMD kernels on several threads.

    Parameters
    ----------
    a, v : array_like
        Input sequences, 1-D or stacks of them (see `axes`).  Either may be the longer; as in
        numpy, the result is then still the correlation at the same lags (numpy computes it by
        swapping the inputs, reversing and conjugating).
    mode : {'valid', 'same', 'full'}, optional
        'valid' (default): ``max(M, N) - min(M, N) + 1`` lags where one sequence lies inside the
        other.  'same': ``max(M, N)`` lags, centred as numpy centres them.  'full': all
        ``M + N - 1`` lags.
    axes : int, optional
        The axis holding the sequences (default the last).  More dimensions are a batch:
        ``a`` of shape ``(..., N)`` with a 1-D `v` correlates every row, and a `v` with leading
        dimensions gives each its own kernel, broadcast the NumPy way (numpy.correlate itself
        takes 1-D input only).  With `axes`, both inputs need the same number of dimensions.
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs (see
        :func:`correlate2d`).

    Returns
    -------
    ndarray
        1-D.  dtype by the package's promotion table: float32 stays float32, complex64 with
        float32 complex64, float64/integers give float64, complex with anything wider
        complex128.

    Raises
    ------
    TypeError
        An input has an unsupported dtype; `mode` or `workers` has the wrong type.
    ValueError
        An input is empty; the batch dimensions do not broadcast; `mode` is unknown; `axes`
        is out of range; `workers` is 0.

    See Also
    --------
    convolve : the same without conjugating and with `v` reversed.
    correlate2d : 2-D correlation.
    numpy.correlate : the reference semantics.

    Notes
    -----
    The signal is never copied (unless it is complex, non-contiguous or of another dtype): a
    1-D SIMD micro-kernel reads it in place, and only the at most ``min(M, N) - 1`` outputs at
    each end whose window leaves the signal are computed from a small zero-padded copy.  Each
    output is a sum of ``min(M, N)`` products accumulated in the result's precision.

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> fastcorr.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([3.5])
    >>> fastcorr.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "same")
    array([2. , 3.5, 3. ])
    >>> fastcorr.correlate([1 + 1j, 2, 3j], [0, 1, 0.5j], "full")
    array([0.5-0.5j, 1. +0.j , 3.5+0.j , 0. +3.j , 0. +0.j ])
    """
    if axes is not None:
        return _along_axes(lambda x, y, _: _correlation_1d(x, y, mode, workers, convolve=False),
                           a, v, axes, 1, None, ("a", "v"))
    return _correlation_1d(a, v, mode, workers, convolve=False)


def convolve(a, v, mode="full", *, axes=None, workers=None):
    """Discrete linear convolution of two 1-D sequences, as :func:`numpy.convolve`.

    ``c[k] = sum_n a[n] * v[k - n]`` over the positions `mode` selects, computed directly by
    the SIMD kernels on several threads.

    Parameters
    ----------
    a, v : array_like
        Input sequences, 1-D (a scalar counts as one sample).  Convolution is commutative:
        the longer one is the signal whichever argument it is.
    mode : {'full', 'same', 'valid'}, optional
        'full' (default): all ``M + N - 1`` points.  'same': ``max(M, N)`` points, centred as
        numpy centres them.  'valid': the ``max(M, N) - min(M, N) + 1`` points where the
        sequences overlap completely.
    axes : int, optional
        The axis holding the sequences (default the last); other dimensions are a batch (see
        `correlate`).
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs.

    Returns
    -------
    ndarray
        1-D, dtype as in `correlate`.

    Raises
    ------
    TypeError, ValueError
        As `correlate`.

    See Also
    --------
    correlate : the same with `v` conjugated and not reversed.
    convolve2d : 2-D convolution.
    numpy.convolve : the reference semantics.

    Examples
    --------
    >>> import fastcorr
    >>> fastcorr.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> fastcorr.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "same")
    array([1. , 2.5, 4. ])
    >>> fastcorr.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "valid")
    array([2.5])
    """
    if axes is not None:
        return _along_axes(lambda x, y, _: _correlation_1d(x, y, mode, workers, convolve=True),
                           a, v, axes, 1, None, ("a", "v"))
    return _correlation_1d(a, v, mode, workers, convolve=True)
