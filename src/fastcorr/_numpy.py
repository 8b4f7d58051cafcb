"""The numpy face: correlate and convolve with numpy.correlate's and numpy.convolve's
names, defaults and windows, on the engine.

What is numpy's here: the windows of 'valid', 'same' and 'full', that the longer input is the
signal whichever argument it is, and how numpy.correlate places the result when `v` is the
longer (it computes the swapped correlation, reverses and conjugates it).  Every mode is a
window of the full correlation; the engine computes the windows inside the signal in place
and the at most K-1 at each end from extended copies of the few samples they read.
"""
import numpy as np

from ._engine.checks import check_choice
from ._engine.dtypes import result_dtype
from ._engine.execute import run
from ._engine.methods import check_method
from ._engine.plan import bind, geometry, operands, recall, remember

_MODES = ("valid", "same", "full")


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


def _plan(a, v, mode, axes, workers, method, convolve):
    """The plan of correlate (convolve=False) or convolve (True)."""
    if method != "auto":
        check_method(method)
    key = None
    if axes is None and type(a) is np.ndarray and type(v) is np.ndarray and a.ndim == v.ndim == 1:
        # Everything the geometry depends on; a call that repeats one seen before skips the
        # checks below, which that call passed.
        key = (convolve, mode, a.shape, v.shape, a.dtype, v.dtype)
        known = recall(key)
        if known is not None:
            swapped, known_geometry = known
            return bind(known_geometry, *_oriented(a, v, swapped, convolve), None, workers,
                        method)
    if type(mode) is not str or mode not in _MODES:
        check_choice(mode, _MODES, "mode")
    a, v, axes = operands(a, v, ("a", "v"), 1, axes, scalar_ok=convolve)
    dtype = result_dtype(a, v, ("a", "v"))
    n, k = a.shape[-1], v.shape[-1]
    start, length = _window(n, k, mode, convolve)
    # Every case is a correlation window of the longer input (the signal) with the shorter
    # one (the kernel), so the work is proportional to the output times the shorter length.
    swapped = n < k
    if convolve:
        lo = start - (min(n, k) - 1)
    elif not swapped:
        lo = start - (k - 1)
    else:
        # z[i] = sum_m a[m] conj(v[m - lag]) = sum_m conj(v)[m + t] a[m] with t = K-1-i: the
        # correlation of conj(v) with a, read backwards (numpy's swap, reverse, conjugate).
        lo = k - start - length
    signal, kernel = _oriented(a, v, swapped, convolve)
    # numpy sums each window over its overlap with the signal: the rule 'none' (computed as a
    # zero fill, which a Python 0.0 gives real and complex data alike).
    g = geometry(signal.shape, kernel.shape, dtype, (lo,), (length,), ("none",), 0.0,
                 swapped and not convolve, axes, ("v", "a") if swapped else ("a", "v"))
    if key is not None:
        remember(key, (swapped, g))
    return bind(g, signal, kernel, None, workers, method)


def _oriented(a, v, swapped, convolve):
    """(signal, kernel): the longer input is the signal; the kernel is reversed for a
    convolution, and `v` conjugated for a complex correlation (numpy's swapped correlation
    conjugates v and correlates it with a, read backwards)."""
    if convolve:
        return (v, a[..., ::-1]) if swapped else (a, v[..., ::-1])
    conj_v = np.conj(v) if v.dtype.kind == "c" else v
    return (conj_v, a) if swapped else (a, conj_v)


def correlate(a, v, mode="valid", *, axes=None, workers=None, method="auto"):
    """Cross-correlation of two 1-D sequences, as :func:`numpy.correlate`.

    ``c[k] = sum_n a[n + k] * conj(v[n])`` over the lags `mode` selects, computed directly by
    the SIMD kernels on several threads.

    Parameters
    ----------
    a, v : array_like
        Input sequences, 1-D (or stacks of them, with `axes`).  Either may be the longer; as in
        numpy, the result is then still the correlation at the same lags (numpy computes it by
        swapping the inputs, reversing and conjugating).
    mode : {'valid', 'same', 'full'}, optional
        'valid' (default): ``max(M, N) - min(M, N) + 1`` lags where one sequence lies inside the
        other.  'same': ``max(M, N)`` lags, centred as numpy centres them.  'full': all
        ``M + N - 1`` lags.
    axes : int, optional
        The axis of `a` holding the sequences (fastcorr's extension: numpy.correlate takes 1-D
        input only, and without `axes` so does this function).  Every other axis of `a` is a
        batch: `v` is either 1-D (one kernel for every sequence) or has as many dimensions as
        `a`, its other axes broadcasting against `a`'s the NumPy way.
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs (see
        :func:`correlate2d`).
    method : {'auto', 'direct', 'fft'}, optional
        'direct' sums every window's products; 'fft' correlates blocks of the signal by FFT
        (overlap-save), far less work for long kernels, with an error relative to the norms
        of the kernel and the block rather than to each output; 'auto' (default) picks the
        faster by the cost model measured per SIMD path, never 'fft' when an input holds NaN
        or Inf (see :func:`correlate2d`).  'separable' is for 2-D kernels and raises
        ValueError here.

    Returns
    -------
    ndarray
        1-D.  dtype by the package's promotion table: float32 stays float32, complex64 with
        float32 complex64, float64/integers give float64, complex with anything wider
        complex128.

    Raises
    ------
    TypeError
        `mode` is not a string (as numpy); `workers` is not an int.
    ValueError
        An input is not a numeric array, has an unsupported dtype, is not 1-D (without
        `axes`) or is empty; the batch dimensions do not broadcast; `mode` is unknown; `axes`
        is malformed or out of range; `workers` is 0; `method` is unknown or 'separable'.

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
    return run(_plan(a, v, mode, axes, workers, method, convolve=False))


def convolve(a, v, mode="full", *, axes=None, workers=None, method="auto"):
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
        The axis of `a` holding the sequences; without it both inputs must be 1-D (see
        `correlate`).
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs.
    method : {'auto', 'direct', 'fft'}, optional
        How the result is computed (see `correlate`).

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
    return run(_plan(a, v, mode, axes, workers, method, convolve=True))
