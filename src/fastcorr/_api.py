"""Public 2-D correlation and convolution: argument checking, dtype promotion, out=, workers=.

The compiled core (_core.pyx) computes only one thing: the 'valid' correlation of a float32 or
float64 image with unit-stride columns and a C-contiguous kernel of the same dtype, into an output
with unit-stride columns that overlaps neither.  Everything else (scipy's argument conventions, the in2-larger swap,
convolution as correlation with the flipped kernel, any memory layout, out=) is arranged here.
"""
import numbers
import os

import numpy as np

from . import _core

_MODES = ("valid", "same", "full")
_MAX_THREADS = 1 << 15


# --------------------------------------------------------------------------- dtypes
def _working_dtype(dtype, name):
    """The dtype an input of `dtype` is computed in: the package's one promotion table.

    float32 stays float32 and float64 stays float64 (no silent up- or down-cast); float16 is
    computed in float32; bool and integers in float64 (float32 cannot hold every int32 exactly).
    """
    if dtype.kind == "f":
        if dtype.itemsize <= 4:
            return np.dtype(np.float32)
        if dtype.itemsize == 8:
            return np.dtype(np.float64)
        raise TypeError(
            f"{name} has dtype {dtype} (extended precision), which fastcorr does not support: "
            "it computes in float32 or float64; cast explicitly if that precision is enough"
        )
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype.kind == "c":
        raise TypeError(
            f"{name} has complex dtype {dtype}; complex input is not supported yet "
            "(complex64/complex128 arrive together with the 'same'/'full' modes)"
        )
    raise TypeError(
        f"{name} has dtype {dtype}, which fastcorr cannot correlate; "
        "it accepts bool, integer and floating-point arrays"
    )


def _as_input(arr, name):
    """`arr` as an ndarray, checked: 2-D, non-empty, numeric."""
    if isinstance(arr, np.ndarray):
        a = arr
    else:
        try:
            a = np.asarray(arr)
        except (ValueError, TypeError) as exc:  # ragged nested sequences and the like
            raise TypeError(f"{name} cannot be converted to a numeric array: {exc}") from None
    dtype = _working_dtype(a.dtype, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got {a.ndim}-D with shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); both inputs need at least one element")
    return a, dtype


def _contiguous(a, dtype):
    """C-contiguous, aligned, native-byte-order copy of `a` in `dtype`, or `a` itself if it is one.

    np.require copies exactly when needed, so a C-contiguous native input is never copied; a
    read-only input is fine as it is (the core reads through const memoryviews).
    """
    return np.require(a, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _unit_column_stride(a):
    """True if the core can read or write `a` in place: aligned, with unit-stride columns."""
    item = a.dtype.itemsize
    return a.flags.aligned and a.strides[-1] == item and a.strides[0] % item == 0


def _image(a, dtype):
    """`a` itself if the core can read it in place (any row stride, even negative, e.g. a crop
    or a flipped view), else a C-contiguous copy in `dtype`."""
    if a.dtype == dtype and a.dtype.isnative and _unit_column_stride(a):
        return a
    return _contiguous(a, dtype)


# --------------------------------------------------------------------------- arguments
def _check_mode(mode):
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, got {type(mode).__name__}")
    if mode not in _MODES:
        raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")
    if mode != "valid":
        raise ValueError(
            f"mode {mode!r} is not supported yet: only mode='valid' is implemented in this "
            "release ('same' and 'full' arrive with boundary handling)"
        )


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may actually run on
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _resolve_workers(workers):
    """Thread count for one call, with scipy.fft's conventions for `workers`.

    None asks OpenMP at call time, so OMP_NUM_THREADS and threadpoolctl limits hold.
    """
    if workers is None:
        return _core.omp_max_threads()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers must be an int or None, got {type(workers).__name__}")
    n = int(workers)
    if n == 0:
        raise ValueError("workers must not be 0 (use None for the default, -1 for all CPUs)")
    if n < 0:
        cpus = _cpu_count()
        n += cpus + 1
        if n < 1:
            raise ValueError(
                f"workers={workers} asks for {n - 1} threads on a machine with {cpus} CPUs "
                f"(negative values count back from the CPU count: -1 means all {cpus})"
            )
    # The core takes a C int, and splits no call into more tiles than this anyway.
    return min(n, _MAX_THREADS)


def _valid_swap_needed(shape1, shape2):
    """scipy.signal's rule: in 'valid' mode either input may be the larger, in every dimension."""
    in1_larger = all(s1 >= s2 for s1, s2 in zip(shape1, shape2))
    in2_larger = all(s2 >= s1 for s1, s2 in zip(shape1, shape2))
    if not (in1_larger or in2_larger):
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every dimension "
            f"(in1 has shape {shape1}, in2 has shape {shape2})"
        )
    return not in1_larger


def _check_out(out, shape, dtype):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, but the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, but the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


# --------------------------------------------------------------------------- driver
def _correlate_valid(image, kernel, out, workers, reverse_output):
    """The valid correlation of `image` with `kernel` (both already in the result dtype, in a
    layout the core reads in place), written into `out` (or a new array) and returned; with `reverse_output` the result
    is stored rotated by 180 degrees."""
    shape = (image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1)
    direct = (
        out is not None
        and not reverse_output
        and _unit_column_stride(out)
        and not np.may_share_memory(out, image)
        and not np.may_share_memory(out, kernel)
    )
    target = out if direct else np.empty(shape, dtype=image.dtype)
    _core.correlate_valid(image, kernel, target, workers)
    if direct:
        return out
    result = target[::-1, ::-1] if reverse_output else target
    if out is None:
        return np.ascontiguousarray(result) if reverse_output else result
    np.copyto(out, result)
    return out


def _prepare(in1, in2, mode, out, workers):
    _check_mode(mode)
    a1, dt1 = _as_input(in1, "in1")
    a2, dt2 = _as_input(in2, "in2")
    dtype = np.promote_types(dt1, dt2)
    n_threads = _resolve_workers(workers)
    swapped = _valid_swap_needed(a1.shape, a2.shape)
    big, small = (a2, a1) if swapped else (a1, a2)
    shape = tuple(b - s + 1 for b, s in zip(big.shape, small.shape))
    if out is not None:
        _check_out(out, shape, dtype)
    return _image(big, dtype), small, dtype, swapped, n_threads


def correlate2d(in1, in2, mode="valid", *, out=None, workers=None):
    """Cross-correlate two 2-D arrays.

    ``out[i, j] = sum_{a, b} in1[i + a, j + b] * in2[a, b]`` over the positions where `in2` lies
    entirely inside `in1` ('valid' mode), with the semantics of
    :func:`scipy.signal.correlate2d`.  Computed directly (no FFT) by SIMD kernels for this CPU,
    on several threads.

    Parameters
    ----------
    in1 : array_like
        First input, 2-D.
    in2 : array_like
        Second input, 2-D.  In 'valid' mode either input may be the larger one, but one must
        be at least as large as the other in every dimension; if `in2` is the larger, the result
        is scipy's: the correlation of `in2` with `in1`, rotated by 180 degrees.
    mode : {'valid'}, optional
        Only 'valid' is implemented in this release; 'same' and 'full' raise ValueError.
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into.  It may overlap
        the inputs (the result is then computed into a temporary first).
    workers : int, optional
        Threads to use.  None (default) uses OpenMP's current setting, so ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits`` apply; -1 means all CPUs, -2 all but one, and so on.
        Small problems run on one thread whatever the setting.

    Returns
    -------
    ndarray
        The correlation, of shape ``(M - P + 1, N - Q + 1)`` for inputs of shapes ``(M, N)`` and
        ``(P, Q)`` (larger first).  float32 inputs give float32 (computed in float32), float64
        or mixed float32/float64 give float64, bool and integers float64, float16 float32.

    Raises
    ------
    TypeError
        An input has a complex, object, string or extended-precision dtype; `out` or `workers`
        has the wrong type or `out` the wrong dtype.
    ValueError
        An input is not 2-D or is empty; neither input is at least as large as the other in
        every dimension; `mode` is not 'valid'; `out` has the wrong shape or is read-only;
        `workers` is 0.

    See Also
    --------
    convolve2d : the same with `in2` rotated by 180 degrees.
    scipy.signal.correlate2d : the reference semantics.

    Notes
    -----
    Each output is a sum of ``P * Q`` products accumulated in the result dtype, so its rounding
    error is bounded by about ``P * Q * eps * sum |in1 * in2|`` over the window (``eps`` of
    float32 or float64).  NaN and Inf propagate as in the plain sum: no zero tap is skipped.

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> kernel = np.array([[1, 0], [0, -1]], dtype=np.float32)
    >>> fastcorr.correlate2d(image, kernel)
    array([[-5., -5., -5.],
           [-5., -5., -5.],
           [-5., -5., -5.]], dtype=float32)
    """
    big, small, dtype, swapped, n_threads = _prepare(in1, in2, mode, out, workers)
    kernel = _contiguous(small, dtype)
    return _correlate_valid(big, kernel, out, n_threads, reverse_output=swapped)


def convolve2d(in1, in2, mode="valid", *, out=None, workers=None):
    """Convolve two 2-D arrays.

    ``out[i, j] = sum_{a, b} in1[i + P - 1 - a, j + Q - 1 - b] * in2[a, b]`` over the positions
    where `in2` lies entirely inside `in1` ('valid' mode), with the semantics of
    :func:`scipy.signal.convolve2d`: correlation with the kernel rotated by 180 degrees.
    Convolution is commutative, so in 'valid' mode the smaller input is the kernel whichever
    argument it is; the larger one is never copied to be flipped.

    Parameters
    ----------
    in1 : array_like
        First input, 2-D.
    in2 : array_like
        Second input, 2-D.  Either input may be the larger in 'valid' mode, but one must be at
        least as large as the other in every dimension.
    mode : {'valid'}, optional
        Only 'valid' is implemented in this release; 'same' and 'full' raise ValueError.
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into; may overlap the
        inputs.
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs (see `correlate2d`).

    Returns
    -------
    ndarray
        The convolution, of shape ``(M - P + 1, N - Q + 1)``, dtype as in `correlate2d`.

    Raises
    ------
    TypeError, ValueError
        As `correlate2d`.

    See Also
    --------
    correlate2d : the same without rotating the kernel.
    scipy.signal.convolve2d : the reference semantics.

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float64).reshape(4, 4)
    >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> fastcorr.convolve2d(image, kernel)
    array([[5., 5., 5.],
           [5., 5., 5.],
           [5., 5., 5.]])
    """
    big, small, dtype, _, n_threads = _prepare(in1, in2, mode, out, workers)
    flipped = _contiguous(small[::-1, ::-1], dtype)
    return _correlate_valid(big, flipped, out, n_threads, reverse_output=False)
