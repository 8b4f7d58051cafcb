"""The scipy.ndimage face: linear filters with scipy.ndimage's names, arguments, defaults, result
dtypes and errors, on fastcorr's engine.  Change ``from scipy import ndimage`` to
``from fastcorr import ndimage`` and the same calls return the same results, computed by SIMD
kernels on several threads.

What differs, by design:

- float32 data is computed in float32 (scipy.ndimage computes everything in float64 and rounds
  the result): each output then carries a relative error of about ``K * eps32`` of the sum of
  ``|w| * |x|`` over its K taps, instead of one rounding.  Pass ``output=np.float64`` for
  float64 arithmetic.
- Separable filters (Gaussian, uniform, Sobel, Prewitt) of 3 taps, and of 5 on the paths and
  dtypes where the cost model says so, on images with a float output run as one correlation with the outer product of their 1-D kernels, where the cost
  model predicts that faster than the two passes (see ``show_config()``: "rank-1 kernels
  separable from"): the same values within rounding (one rounding instead of the intermediate
  pass's), Inf and NaN in the same outputs, but not bit for bit the two passes' values.
  Longer filters, 'constant' borders with a nonzero `cval`, and integer outputs run the passes
  as scipy does.
- ``correlate`` and ``convolve`` multiply every weight, zeros included, as ``correlate1d`` and
  the filters do in both libraries; scipy's N-D ``correlate`` skips weights of magnitude at most
  2.2e-16 (DBL_EPSILON).  So where such a weight meets an Inf, fastcorr's output is NaN
  (0 * Inf) and scipy's is not; finite inputs agree within rounding.
- A NaN or Inf in ``uniform_filter``'s input reaches the outputs whose windows read it, as in
  the filter's definition (two ``correlate1d`` passes of box weights); scipy's moving sum
  carries a NaN on to the end of the line.
- Integer (and bool) outputs are exactly scipy's: scipy's value is its float64 operations in
  its order, truncated.  For bool, (u)int8 and (u)int16 images the float32 SIMD kernels compute
  every output first, and each is kept where it provably truncates as scipy's does (no integer
  within the two computations' error bound of it); the rest, and images of other dtypes, are
  computed by scipy's own sequence.  A float output skips that check:
  ``correlate(image_uint8, w, output=np.float32)``.
- ``workers=`` (keyword-only) sets the thread count, as elsewhere in fastcorr: None asks OpenMP
  (OMP_NUM_THREADS, threadpoolctl), -1 means every CPU.

Every mode of scipy.ndimage's filters is here: 'reflect', 'constant' (with `cval`), 'nearest',
'mirror', 'wrap', and 'grid-mirror', 'grid-constant', 'grid-wrap' (the same as 'reflect',
'constant' and 'wrap' for filters, as in scipy).  Kernels with up to three axes longer than 1
run in the compiled core without a padded copy of the input; more raise NotImplementedError.
"""
import functools
import numbers
import operator
import warnings
from collections.abc import Iterable

import numpy as np

from ._engine.filters import (FORMULA_1D, FORMULA_ND, FORMULA_UNIFORM, MODES, compute_dtype,
                              correlate_same, separable_same)
from ._engine.methods import check_method, separable_pays
from ._engine.threads import resolve_workers
from . import _core

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
           "gaussian_filter1d", "uniform_filter", "uniform_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "gaussian_gradient_magnitude", "generic_laplace",
           "generic_gradient_magnitude"]

# Parameter descriptions every filter shares, filled into the docstrings by `_docs` (one text
# per parameter, as scipy.ndimage's docfiller does).
_PARAMETERS = {
    "input": """input : array_like
        The input array.""",
    "output": """output : ndarray or dtype, optional
        Where the result goes, or its dtype; by default the input's dtype.""",
    "cval": """cval : scalar, optional
        The value beyond the edges for 'constant'.""",
    "workers": """workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.""",
    "mode": """mode : str, optional
        Border mode, as in `correlate` (default 'reflect').""",
    "mode_multiple": """mode : str or sequence of str, optional
        Border mode per axis, or one for all (default 'reflect').""",
    "axis": """axis : int, optional
        The axis to filter along (default the last).""",
    "mode_terms": """mode : str or sequence of str, optional
        Border mode, one for all or one per axis of `axes` (default 'reflect'): as in scipy,
        the mode of an axis borders the term that differentiates along it, on every axis.""",
    "axes": """axes : tuple of int or None, optional
        The axes to filter (default all).""",
    "sigma": """sigma : scalar or sequence of scalars
        Standard deviation per axis, or one for all.""",
}


def _docs(function):
    """Fills the shared parameter descriptions into `function`'s docstring."""
    function.__doc__ = function.__doc__ % _PARAMETERS
    return function


# The dtypes scipy.ndimage's filters accept (it raises RuntimeError for the rest: float16,
# long double, objects, strings).
_SUPPORTED = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
    np.uint64, np.float32, np.float64, np.complex64, np.complex128))


# --------------------------------------------------------------------------- arguments
def _rule(mode):
    """The engine's boundary rule for a scipy.ndimage mode name (RuntimeError, as scipy, for
    an unknown one)."""
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise RuntimeError(f"boundary mode not supported: mode={mode!r} (use one of "
                           f"{', '.join(repr(m) for m in MODES)})") from None


def _per_axis(value, count, name):
    """`value` repeated `count` times, or the sequence `value` if it has `count` items
    (RuntimeError otherwise, as scipy's _normalize_sequence)."""
    if value is None or type(value) in (int, float, str):
        return [value] * count  # the usual scalars, without numpy's iterable test
    if not isinstance(value, str) and np.iterable(value):
        items = list(value)
        if len(items) != count:
            raise RuntimeError(f"{name}: sequence argument must have length equal to input "
                               f"rank ({count}), got {len(items)}")
        return items
    return [value] * count


def _axes(axes, ndim):
    """scipy.ndimage's `axes`: None for all, an int, or distinct ints (ValueError)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (operator.index(axes),)
    elif not isinstance(axes, Iterable):
        raise ValueError("axes must be an integer, iterable of integers, or None")
    normal = []
    for ax in axes:
        ax = operator.index(ax)
        if ax < -ndim or ax > ndim - 1:
            raise ValueError(f"specified axis: {ax} is out of range")
        normal.append(ax % ndim)
    if len(set(normal)) != len(normal):
        raise ValueError("axes must be unique")
    return tuple(normal)


def _axis(axis, ndim):
    """One axis, numpy's way (AxisError, a ValueError and IndexError, when out of range)."""
    return np.lib.array_utils.normalize_axis_index(axis, ndim) if hasattr(
        np.lib, "array_utils") else np.core.multiarray.normalize_axis_index(axis, ndim)


def _input(input):
    a = np.asarray(input)
    if a.dtype not in _SUPPORTED:
        raise RuntimeError(f"array type not supported: input has dtype {a.dtype} (fastcorr."
                           "ndimage filters bool, integer, float32/float64 and complex arrays, "
                           "as scipy.ndimage)")
    return a


def _output(output, input, complex_output=False):
    """The array the result goes to, by scipy's rules: None (the input's dtype), a dtype, or an
    array of the input's shape.

    New outputs are np.empty where scipy's are np.zeros: every route writes every element, and
    a large result freed by an earlier call is then reused from the heap as it is, where calloc
    would zero it again (2048 x 2048 float32: 0.6 ms, a third of a 5x5 correlation)."""
    shape = input.shape
    if output is None:
        dtype = np.promote_types(input.dtype, np.complex64) if complex_output else input.dtype
        return np.empty(shape, dtype)
    if isinstance(output, (type, np.dtype)):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=3)
            dtype = np.promote_types(dtype, np.complex64)
        _check_output_dtype(dtype)
        return np.empty(shape, dtype)
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError("output must have complex dtype")
        if not issubclass(dtype.type, np.number):
            raise RuntimeError("output must have numeric dtype")
        _check_output_dtype(dtype)
        return np.empty(shape, dtype)
    output = np.asarray(output)
    if output.shape != shape:
        raise RuntimeError(f"output shape not correct: output has shape {output.shape}, "
                           f"input {shape}")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError("output must have complex dtype")
    _check_output_dtype(output.dtype)
    if not output.flags.writeable:
        raise ValueError("output array is read-only")
    return output


def _check_output_dtype(dtype):
    if dtype not in _SUPPORTED:
        raise RuntimeError(f"array type not supported: output has dtype {dtype}")


def _check_origin(origin, size, message):
    if origin < -(size // 2) or origin > (size - 1) // 2:
        raise ValueError(message)


def _run(input, weights, output, modes, origins, cval, formula, workers, method="direct"):
    """correlate_same on real arrays, through a temporary when output shares memory with input
    (scipy allows that: a multi-pass filter feeds its output back in)."""
    cval = _real_cval(cval)
    rules = [_rule(m) for m in modes]
    if input.size == 0:
        return output
    if np.may_share_memory(input, output):
        result = np.empty(output.shape, output.dtype)
        correlate_same(input, weights, result, rules, origins, cval, formula, workers, method)
        output[...] = result
    else:
        correlate_same(input, weights, output, rules, origins, cval, formula, workers, method)
    return output


def _real_cval(cval):
    """cval as a float, or TypeError (scipy's class) for anything but a real scalar."""
    if type(cval) is float or type(cval) is int:
        return float(cval)  # numpy's tests below cost more than a small image's filter
    if isinstance(cval, (str, bytes)) or np.ndim(cval) != 0 or np.iscomplexobj(cval):
        raise TypeError(f"cval must be a real number when input and weights are real, got "
                        f"{cval!r}")
    try:
        return float(cval)
    except (TypeError, ValueError):
        raise TypeError(f"cval must be a real number, got {cval!r}") from None


def _complex_parts(func, input, weights, output, cval, **kwargs):
    """A complex filter from real ones, as scipy forms it: (a+ib)(c+id) by four real passes
    (two when one side is real), each into a part of `output`."""
    if input.dtype.kind == "c" and weights.dtype.kind == "c":
        func(input.real, weights.real, output=output.real, cval=np.real(cval), **kwargs)
        output.real -= func(input.imag, weights.imag, output=None, cval=np.imag(cval),
                            **kwargs)
        func(input.real, weights.imag, output=output.imag, cval=np.real(cval), **kwargs)
        output.imag += func(input.imag, weights.real, output=None, cval=np.imag(cval),
                            **kwargs)
    elif input.dtype.kind == "c":
        func(input.real, weights, output=output.real, cval=np.real(cval), **kwargs)
        func(input.imag, weights, output=output.imag, cval=np.imag(cval), **kwargs)
    else:
        if np.iscomplexobj(cval):
            raise ValueError("Cannot provide a complex-valued cval when the input is real.")
        func(input, weights.real, output=output.real, cval=cval, **kwargs)
        func(input, weights.imag, output=output.imag, cval=cval, **kwargs)
    return output


# --------------------------------------------------------------------------- N-D correlation
def _correlate_or_convolve(input, weights, output, mode, cval, origin, convolution, axes,
                           workers, method):
    if method != "auto":
        check_method(method)
    input = _input(input)
    weights = np.asarray(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c" and not convolution:
            weights = weights.conj()  # as numpy.correlate: the weights are conjugated
        output = _output(output, input, complex_output=True)
        return _complex_parts(_correlate_or_convolve, input, weights, output, cval,
                              mode=mode, origin=origin, convolution=convolution, axes=axes,
                              workers=workers, method=method)
    axes = _axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.float64)
    if len(axes) < input.ndim:
        if weights.ndim != len(axes):
            raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) "
                               f"({len(axes)})")
        weights = np.expand_dims(weights, tuple(d for d in range(input.ndim) if d not in axes))
    origins = _per_axis(origin, len(axes), "origin")
    if len(axes) < input.ndim:
        full = [0] * input.ndim
        for o, ax in zip(origins, axes):
            full[ax] = o
        origins = full
    if weights.ndim != input.ndim or 0 in weights.shape:
        raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) "
                           f"({len(axes)}), with no empty axis (weights shape "
                           f"{weights.shape})")
    origins = [operator.index(o) for o in origins]
    if convolution:
        weights = weights[(slice(None, None, -1),) * weights.ndim]
        origins = [-o - (0 if k & 1 else 1) for o, k in zip(origins, weights.shape)]
    for o, k in zip(origins, weights.shape):
        _check_origin(o, k, "Invalid origin; origin must satisfy -(weights.shape[k] // 2) "
                            "<= origin[k] <= (weights.shape[k]-1) // 2")
    output = _output(output, input)
    if not isinstance(mode, str) and isinstance(mode, Iterable):
        raise RuntimeError("A sequence of modes is not supported by correlate and convolve "
                           "(scipy.ndimage neither); the separable filters take one")
    _rule(mode)
    if input.ndim == 0:
        return _scalar(input, weights, output, FORMULA_ND, mode, cval, workers)
    return _run(input, weights, output, [mode] * input.ndim, origins, cval, FORMULA_ND,
                workers, method)


def _scalar(input, weights, output, formula, mode, cval, workers):
    """A 0-D input: one value times the one weight."""
    _run(input.reshape(1), weights.reshape(1), output.reshape(1), [mode], [0], cval, formula,
         workers)
    return output


@_docs
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
              workers=None, method="auto"):
    """Multidimensional correlation, as :func:`scipy.ndimage.correlate`.

    ``output[i] = sum_j weights[j] * input[i + j - c]`` over the kernel's positions j, with c
    the kernel's centre (``weights.shape // 2``) plus `origin`, and `input` extended beyond
    its edges by `mode`.  The result has the input's shape.

    Parameters
    ----------
    input : array_like
        The input array (bool, integer, float32, float64 or complex).
    weights : array_like
        The kernel, with as many dimensions as `input` (or as `axes`); cast to float64 (its
        values as given) and to float32 for a float32 computation.  Complex weights are
        conjugated.
    output : ndarray or dtype, optional
        Where the result goes, or its dtype; by default the input's dtype.  Integer outputs
        hold exactly scipy's values (its float64 arithmetic, then its truncation): for bool,
        (u)int8 and (u)int16 images the float32 kernels' result is kept wherever it provably
        truncates to the same integer (all but about 1 in 100 of a photograph's outputs
        under a Gaussian, fewer under a box filter, whose sums often land on integers), and
        the rest is computed by scipy's sequence.  A float output is faster still
        (``output=np.float32`` runs the float32 SIMD kernels, converting the image's rows as
        they are read).  May be `input` itself.
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-mirror', 'grid-constant', 'grid-wrap'}, optional
        How `input` extends beyond its edges (default 'reflect': ``d c b a | a b c d``).
    cval : scalar, optional
        The value beyond the edges for 'constant'; default 0.
    origin : int or sequence of int, optional
        Shifts the kernel's centre: positive values to the left (towards lower indices of the
        input), per axis or one for all; ``-(w // 2) <= origin <= (w - 1) // 2``.
    axes : tuple of int or None, optional
        The axes the kernel spans (the others are filtered independently); default all.
    workers : int or None, optional
        Threads; None (default) asks OpenMP, -1 means every CPU.
    method : {'auto', 'direct', 'separable', 'fft'}, optional
        fastcorr's extension, as in :func:`fastcorr.correlate2d`: 'direct' sums each
        window's products, 'separable' runs the SVD's rank-1 terms as fused 1-D passes, 'fft'
        correlates tiles by FFT; 'auto' (default) picks the fastest whose error bound is at
        most 16 times direct's, never 'fft' on NaN or Inf.  Integer outputs and integer
        images keep scipy's exact arithmetic under 'auto' (it computes directly); an
        explicit 'separable' or 'fft' computes them in floating point and truncates as scipy
        does, so a value within rounding of an integer may land one unit apart.  Kernels
        with three axes longer than 1 run directly ('separable' and 'fft' raise
        NotImplementedError for them).

    Returns
    -------
    ndarray
        The correlation, with the input's shape.

    Notes
    -----
    float32 data is computed in float32 (scipy: float64): the error of each output is at
    most about ``K * eps32 * sum(|w| |x|)`` over its K taps.  Kernels with up to three axes
    longer than 1 run compiled and parallel; more raise NotImplementedError.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> a = np.arange(25, dtype=np.float64).reshape(5, 5)
    >>> ndimage.correlate(a, np.ones((3, 3)) / 9)[1:4, 1:4]
    array([[ 6.,  7.,  8.],
           [11., 12., 13.],
           [16., 17., 18.]])
    """
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, False, axes,
                                  workers, method)


@_docs
def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
             workers=None, method="auto"):
    """Multidimensional convolution, as :func:`scipy.ndimage.convolve`.

    The correlation with the kernel turned by 180 degrees, its origin negated (and moved by
    one along axes of even length, as scipy does), so that a symmetric odd kernel gives the
    same result as `correlate`.  Parameters as `correlate`; complex weights are not
    conjugated.

    Parameters
    ----------
    %(input)s
    weights : array_like
        The kernel, with as many dimensions as `input` (or as `axes`).
    %(output)s
    %(mode)s
    %(cval)s
    origin : int or sequence of int, optional
        Shifts the kernel's centre.
    axes : tuple of int or None, optional
        The axes the kernel spans.
    %(workers)s
    method : {'auto', 'direct', 'separable', 'fft'}, optional
        How the result is computed, as in `correlate` (of the turned kernel).

    Returns
    -------
    ndarray
        The convolution, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> ndimage.convolve(np.array([0., 0, 1, 0, 0]), np.array([1., 2, 3]), mode="constant")
    array([0., 1., 2., 3., 0.])
    """
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, True, axes,
                                  workers, method)


# --------------------------------------------------------------------------- 1-D passes
@_docs
def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
                workers=None):
    """1-D correlation along one axis, as :func:`scipy.ndimage.correlate1d`.

    Parameters
    ----------
    %(input)s
    weights : array_like
        1-D kernel (complex weights are conjugated).
    %(axis)s
    %(output)s
    %(mode)s
    %(cval)s
    origin : int, optional
        Shifts the kernel's centre; ``-(len(w) // 2) <= origin <= (len(w) - 1) // 2``.
    %(workers)s

    Returns
    -------
    ndarray
        The result, with the input's shape.

    Examples
    --------
    >>> from fastcorr import ndimage
    >>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    input = _input(input)
    weights = np.asarray(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c":
            weights = weights.conj().astype(np.complex128, copy=False)
        output = _output(output, input, complex_output=True)
        return _complex_parts(correlate1d, input, weights, output, cval, axis=axis, mode=mode,
                              origin=origin, workers=workers)
    output = _output(output, input)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise RuntimeError(f"no filter weights given: weights must be 1-D and not empty, got "
                           f"shape {weights.shape}")
    axis = _axis(axis, input.ndim)
    origin = operator.index(origin)
    _check_origin(origin, len(weights), "Invalid origin; origin must satisfy -(len(weights) "
                                        "// 2) <= origin <= (len(weights)-1) // 2")
    return _pass(input, weights, axis, output, mode, cval, origin, FORMULA_1D, workers)


def _pass(input, weights, axis, output, mode, cval, origin, formula, workers):
    """One 1-D pass along `axis` (arguments checked)."""
    _rule(mode)
    if input.ndim == 0:
        return _scalar(input, weights, output, formula, mode, cval, workers)
    shape = [1] * input.ndim
    shape[axis] = len(weights)
    origins = [0] * input.ndim
    origins[axis] = origin
    return _run(input, weights.reshape(shape), output, [mode] * input.ndim, origins, cval,
                formula, workers)


def _passes(input, output, kernels, cval, workers):
    """1-D passes in order, each reading the previous one's result, as scipy chains them
    through `output`; kernels: (axis, float64 weights, mode, origin, formula).

    Integer outputs run pass by pass (scipy truncates each intermediate to the output's type,
    and its values are reproduced exactly).  Floating-point outputs fuse a pass along axis -2
    followed by one along axis -1 (`separable_same`): the intermediate stays in each block's
    scratch instead of making a full-size round trip through memory.  Where the two passes
    cost more than the direct correlation with their outer product (`separable_pays`: 3 taps, and
    5 on some paths and dtypes), that runs instead, as correlate(method='auto') would run it; it reads the input
    once as well, and rounds once instead of twice.
    """
    cval = _real_cval(cval)
    last = input.ndim - 1
    kernels = list(kernels)
    if output.dtype.kind == "f":
        # Passes along different axes commute, except where a constant border enters: a
        # later pass sees cval itself beyond the edge, not cval filtered by the earlier ones.
        # So without 'constant' the passes run in axis order, which puts the passes along the
        # last two axes next to each other, in the order the fused passes run (for float
        # results the order changes only the rounding, within the bound either way).
        if all(_rule(k[2]) != "fill" for k in kernels):
            kernels.sort(key=lambda k: k[0])
    current = input
    i = 0
    while i < len(kernels):
        axis, weights, mode, origin, formula = kernels[i]
        if (output.dtype.kind == "f" and i + 1 < len(kernels) and axis == last - 1
                and kernels[i + 1][0] == last and current.size):
            _, row_weights, row_mode, row_origin, _ = kernels[i + 1]
            modes = [mode] * input.ndim
            modes[-1] = row_mode
            origins = [0] * input.ndim
            origins[-2], origins[-1] = origin, row_origin
            _fused_pair(current, weights, row_weights, output, modes, origins, cval, workers)
            i += 2
        else:
            _pass(current, weights, axis, output, mode, cval, origin, formula, workers)
            i += 1
        current = output
    return output


def _fused_pair(input, col_weights, row_weights, output, modes, origins, cval, workers):
    """A pass along axis -2 then one along axis -1 (a rank-1 kernel), fused per block, or as
    one direct correlation with the outer product where the cost model says that is faster.

    The two agree on every value but rounding, Inf and NaN included: an Inf read through a
    zero tap makes a NaN in either (in the first pass's intermediate, or as 0 * Inf), in the
    same outputs.  Not so for a fill value other than 0: the second pass reads the fill
    itself beyond its edges, where the 2-D kernel would read the fill through both passes, so
    those keep the passes.
    """
    shape = (len(col_weights), len(row_weights))
    rules = [_rule(m) for m in modes]
    if ((cval == 0 or "fill" not in rules[-2:])
            and not separable_pays(shape, compute_dtype(input.dtype, output.dtype))):
        kernel = (col_weights[:, None] * row_weights).reshape((1,) * (input.ndim - 2) + shape)
        return _run(input, kernel, output, modes, origins, cval, FORMULA_ND, workers)
    return _fused(input, [(col_weights, row_weights)], output, rules, origins, cval, workers)


def _fused(input, terms, output, rules, origins, cval, workers):
    """`separable_same` into `output`, through a temporary where output shares memory with
    input (the fused passes read the input while they write)."""
    if np.may_share_memory(input, output):
        result = np.empty(output.shape, output.dtype)
        separable_same(input, terms, result, rules, origins, cval, workers)
        output[...] = result
    else:
        separable_same(input, terms, output, rules, origins, cval, workers)
    return output


@_docs
def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
               workers=None):
    """1-D convolution along one axis, as :func:`scipy.ndimage.convolve1d`.

    Parameters
    ----------
    %(input)s
    weights : array_like
        1-D kernel.
    %(axis)s
    %(output)s
    %(mode)s
    %(cval)s
    origin : int, optional
        Shifts the kernel's centre.
    %(workers)s

    Returns
    -------
    ndarray
        The result, with the input's shape.

    Examples
    --------
    >>> from fastcorr import ndimage
    >>> ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    weights = np.asarray(weights)[::-1]
    origin = -operator.index(origin)
    if not weights.shape[0] & 1:
        origin -= 1
    if weights.dtype.kind == "c":
        weights = weights.conj()  # undone by correlate1d's conjugation
    return correlate1d(input, weights, axis, output, mode, cval, origin, workers=workers)


def _gaussian_kernel1d(sigma, order, radius):
    """The sampled Gaussian (order 0, normalised to sum 1) or its order-th derivative, over
    -radius .. radius (as scipy computes it: the derivative is a polynomial times the
    Gaussian, whose coefficients follow from q' + q p'); read-only, remembered (its numpy
    calls cost more than filtering a small image)."""
    if order < 0:
        raise ValueError("order must be non-negative")
    if type(sigma) in (float, int) and type(order) is int and type(radius) is int:
        return _gaussian_kernel1d_cached(sigma, order, radius)
    # Other types keep their own arithmetic (a float32 sigma computes as scipy's does).
    return _gaussian_kernel1d_cached.__wrapped__(sigma, order, radius)


def _gaussian_weights(sigma, order, truncate, radius):
    """The correlation weights of scipy's Gaussian filter of derivative `order`: its kernel
    over `radius` (by default `truncate` sigmas, rounded), reversed."""
    lw = int(truncate * float(sigma) + 0.5)
    if radius is not None:
        lw = radius
    if not isinstance(lw, numbers.Integral) or lw < 0:
        raise ValueError("Radius must be a nonnegative integer.")
    return _gaussian_kernel1d(sigma, order, lw)[::-1]


@functools.lru_cache(maxsize=64, typed=True)
def _gaussian_kernel1d_cached(sigma, order, radius):
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi = phi / phi.sum()
    if order == 0:
        phi.flags.writeable = False
        return phi
    q = np.zeros(order + 1)
    q[0] = 1
    derivative = np.diag(np.arange(1, order + 1), 1) + np.diag(
        np.ones(order) / -(sigma * sigma), -1)
    for _ in range(order):
        q = derivative.dot(q)
    kernel = (x[:, None] ** np.arange(order + 1)).dot(q) * phi
    kernel.flags.writeable = False
    return kernel


@_docs
def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None, workers=None):
    """1-D Gaussian filter, as :func:`scipy.ndimage.gaussian_filter1d`.

    Parameters
    ----------
    %(input)s
    sigma : scalar
        Standard deviation of the Gaussian.
    %(axis)s
    order : int, optional
        0 (default) smooths; 1, 2, 3 convolve with that derivative of the Gaussian.
    %(output)s
    %(mode)s
    %(cval)s
    truncate : float, optional
        Truncate the kernel at this many standard deviations (default 4.0).
    radius : int, optional
        The kernel's radius (it has ``2 * radius + 1`` taps); overrides `truncate`.
    %(workers)s

    Returns
    -------
    ndarray
        The result, with the input's shape.

    Examples
    --------
    >>> from fastcorr import ndimage
    >>> ndimage.gaussian_filter1d([1.0, 2.0, 3.0, 4.0, 5.0], 1)
    array([1.42704095, 2.06782203, 3.        , 3.93217797, 4.57295905])
    """
    weights = _gaussian_weights(sigma, order, truncate, radius)
    return correlate1d(input, weights, axis, output, mode, cval, 0, workers=workers)


@_docs
def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0,
                    truncate=4.0, *, radius=None, axes=None, workers=None):
    """Multidimensional Gaussian filter, as :func:`scipy.ndimage.gaussian_filter`: 1-D
    Gaussian passes along each axis, each pass's result stored in the output's dtype before
    the next (as scipy does, so integer outputs match scipy's exactly).

    Parameters
    ----------
    %(input)s
    %(sigma)s
    order : int or sequence of int, optional
        Derivative order per axis (0 smooths).
    %(output)s
    %(mode_multiple)s
    %(cval)s
    truncate : float, optional
        Truncate each kernel at this many standard deviations (default 4.0).
    radius : int or sequence of int, optional
        Kernel radius per axis; overrides `truncate`.
    %(axes)s
    %(workers)s

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> a = np.arange(50, step=2).reshape((5, 5))
    >>> ndimage.gaussian_filter(a, sigma=1)
    array([[ 4,  6,  8,  9, 11],
           [10, 12, 14, 15, 17],
           [20, 22, 24, 25, 27],
           [29, 31, 33, 34, 36],
           [35, 37, 39, 40, 42]])
    """
    input = _input(input)
    output = _output(output, input)
    axes = _axes(axes, input.ndim)
    n = len(axes)
    passes = [(ax, s, o, m, r) for ax, s, o, m, r in zip(
        axes, _per_axis(sigma, n, "sigma"), _per_axis(order, n, "order"),
        _per_axis(mode, n, "mode"), _per_axis(radius, n, "radius")) if s > 1e-15]
    if not passes:
        output[...] = input[...]
        return output
    if input.dtype.kind == "c" or output.dtype.kind == "c":
        for axis, s, o, m, r in passes:
            gaussian_filter1d(input, s, axis, o, output, m, cval, truncate, radius=r,
                              workers=workers)
            input = output
        return output
    kernels = []
    for axis, s, o, m, r in passes:
        kernels.append((axis, _gaussian_weights(s, o, truncate, r), m, 0, FORMULA_1D))
    return _passes(input, output, kernels, cval, workers)


@_docs
def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0,
                     *, workers=None):
    """1-D uniform (moving average) filter, as :func:`scipy.ndimage.uniform_filter1d`.

    Parameters
    ----------
    %(input)s
    size : int
        Length of the filter.
    %(axis)s
    %(output)s
    %(mode)s
    %(cval)s
    origin : int, optional
        Shifts the window; ``-(size // 2) <= origin <= (size - 1) // 2``.
    %(workers)s

    Returns
    -------
    ndarray
        The result, with the input's shape.

    Notes
    -----
    Floating-point outputs are the correlation with ``size`` weights of ``1 / size`` on the
    SIMD kernels; integer outputs follow scipy's running sum exactly.

    Examples
    --------
    >>> from fastcorr import ndimage
    >>> ndimage.uniform_filter1d([2, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([4, 3, 4, 1, 4, 6, 6, 3])
    """
    input = _input(input)
    axis = _axis(axis, input.ndim)
    if size < 1:
        raise RuntimeError(f"incorrect filter size: size must be at least 1, got {size}")
    size = operator.index(size)
    complex_output = input.dtype.kind == "c"
    output = _output(output, input, complex_output=complex_output)
    origin = operator.index(origin)
    if size // 2 + origin < 0 or size // 2 + origin >= size:
        raise ValueError(f"invalid origin {origin} for size {size}: -(size // 2) <= origin "
                         "<= (size - 1) // 2")
    weights = np.full(size, 1.0 / size)
    if complex_output:
        _pass(input.real, weights, axis, output.real, mode, np.real(cval), origin,
              FORMULA_UNIFORM, workers)
        _pass(input.imag, weights, axis, output.imag, mode, np.imag(cval), origin,
              FORMULA_UNIFORM, workers)
        return output
    return _pass(input, weights, axis, output, mode, cval, origin, FORMULA_UNIFORM, workers)


@_docs
def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *,
                   axes=None, workers=None):
    """Multidimensional uniform filter, as :func:`scipy.ndimage.uniform_filter`: 1-D uniform
    passes along each axis, each stored in the output's dtype before the next.

    Parameters
    ----------
    %(input)s
    size : int or sequence of int, optional
        Filter length per axis, or one for all (default 3).
    %(output)s
    %(mode_multiple)s
    %(cval)s
    origin : int or sequence of int, optional
        Window shift per axis, or one for all.
    %(axes)s
    %(workers)s

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> ndimage.uniform_filter(np.arange(9.0).reshape(3, 3), size=3, mode="nearest")
    array([[1.33333333, 2.        , 2.66666667],
           [3.33333333, 4.        , 4.66666667],
           [5.33333333, 6.        , 6.66666667]])
    """
    input = _input(input)
    output = _output(output, input, complex_output=input.dtype.kind == "c")
    axes = _axes(axes, input.ndim)
    n = len(axes)
    passes = [(ax, s, o, m) for ax, s, o, m in zip(
        axes, _per_axis(size, n, "size"), _per_axis(origin, n, "origin"),
        _per_axis(mode, n, "mode")) if s > 1]
    if not passes:
        output[...] = input[...]
        return output
    if input.dtype.kind == "c" or output.dtype.kind == "c":
        for axis, s, o, m in passes:
            uniform_filter1d(input, int(s), axis, output, m, cval, o, workers=workers)
            input = output
        return output
    kernels = []
    for axis, s, o, m in passes:
        s, o = operator.index(s), operator.index(o)
        if s // 2 + o < 0 or s // 2 + o >= s:
            raise ValueError(f"invalid origin {o} for size {s}: -(size // 2) <= origin <= "
                             "(size - 1) // 2")
        kernels.append((axis, np.full(s, 1.0 / s), m, o, FORMULA_UNIFORM))
    return _passes(input, output, kernels, cval, workers)


def _derivative_filter(input, axis, output, mode, cval, smooth, workers):
    """sobel and prewitt: the difference [-1, 0, 1] along `axis`, then `smooth` along every
    other axis, each pass in the output's dtype (scipy's sequence)."""
    input = _input(input)
    axis = _axis(axis, input.ndim)
    output = _output(output, input)
    modes = _per_axis(mode, input.ndim, "mode")
    if input.dtype.kind == "c" or output.dtype.kind == "c":
        correlate1d(input, [-1, 0, 1], axis, output, modes[axis], cval, 0, workers=workers)
        for ax in range(input.ndim):
            if ax != axis:
                correlate1d(output, smooth, ax, output, modes[ax], cval, 0, workers=workers)
        return output
    kernels = [(axis, np.array([-1.0, 0.0, 1.0]), modes[axis], 0, FORMULA_1D)]
    kernels += [(ax, np.asarray(smooth, np.float64), modes[ax], 0, FORMULA_1D)
                for ax in range(input.ndim) if ax != axis]
    return _passes(input, output, kernels, cval, workers)


@_docs
def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0, *, workers=None):
    """Sobel filter, as :func:`scipy.ndimage.sobel`: the derivative [-1, 0, 1] along `axis`
    smoothed by [1, 2, 1] along every other axis.

    Parameters
    ----------
    %(input)s
    axis : int, optional
        The axis of the derivative (default the last).
    %(output)s
    %(mode_multiple)s
    %(cval)s
    %(workers)s

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> ndimage.sobel(np.array([[0., 0, 1, 1]] * 3), axis=1)
    array([[0., 4., 4., 0.],
           [0., 4., 4., 0.],
           [0., 4., 4., 0.]])
    """
    return _derivative_filter(input, axis, output, mode, cval, [1, 2, 1], workers)


@_docs
def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0, *, workers=None):
    """Prewitt filter, as :func:`scipy.ndimage.prewitt`: the derivative [-1, 0, 1] along
    `axis` smoothed by [1, 1, 1] along every other axis.

    Parameters
    ----------
    %(input)s
    axis : int, optional
        The axis of the derivative (default the last).
    %(output)s
    %(mode_multiple)s
    %(cval)s
    %(workers)s

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> ndimage.prewitt(np.array([[0., 0, 1, 1]] * 3), axis=1)
    array([[0., 3., 3., 0.],
           [0., 3., 3., 0.],
           [0., 3., 3., 0.]])
    """
    return _derivative_filter(input, axis, output, mode, cval, [1, 1, 1], workers)


@_docs
def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None, workers=None):
    """Laplace filter, as :func:`scipy.ndimage.laplace`: the sum over the axes of the second
    differences [1, -2, 1].

    Parameters
    ----------
    %(input)s
    %(output)s
    %(mode_multiple)s
    %(cval)s
    axes : tuple of int or None, optional
        The axes to differentiate along (default all).
    %(workers)s

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> ndimage.laplace(np.array([[0., 0, 0], [0, 1, 0], [0, 0, 0]]), mode="constant")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    input = _input(input)
    output = _output(output, input)
    axes = _axes(axes, input.ndim)
    if not axes:
        output[...] = input[...]
        return output
    modes = _per_axis(mode, len(axes), "mode")
    last = input.ndim - 1
    if (output.dtype.kind == "f" and input.dtype.kind in "biuf" and input.size
            and sorted(axes) == [last - 1, last]):
        # The two second differences of an image as one call of the fused passes, a sum of
        # two terms (each pass of the other axis a single tap of 1, never a 0 * Inf, and never
        # run: the core reads or writes in place of such a copy): the input is read once and
        # nothing the size of the image is written but the result.
        row_mode = modes[axes.index(last)]
        col_mode = modes[axes.index(last - 1)]
        rules = [_rule(col_mode)] * input.ndim
        rules[-1] = _rule(row_mode)
        second = np.array([1.0, -2.0, 1.0])
        return _fused(input, [(second, np.ones(1)), (np.ones(1), second)], output, rules,
                      [0] * input.ndim, _real_cval(cval), workers)
    correlate1d(input, [1, -2, 1], axes[0], output, modes[0], cval, 0, workers=workers)
    for ax, m in zip(axes[1:], modes[1:]):
        output += correlate1d(input, [1, -2, 1], ax, output.dtype, m, cval, 0,
                              workers=workers)
    return output


@_docs
def generic_laplace(input, derivative2, output=None, mode="reflect", cval=0.0,
                    extra_arguments=(), extra_keywords=None, *, axes=None):
    """N-D Laplace filter from a given second derivative, as
    :func:`scipy.ndimage.generic_laplace`: ``derivative2`` along the first axis into the
    output, then each other axis's added to it in the output's dtype.

    Parameters
    ----------
    %(input)s
    derivative2 : callable
        ``derivative2(input, axis, output, mode, cval, *extra_arguments, **extra_keywords)``,
        returning the second derivative along `axis` (written into `output` when that is an
        array, in the dtype `output` names otherwise).
    %(output)s
    %(mode_terms)s
    %(cval)s
    extra_arguments : sequence, optional
        Passed on to `derivative2`.
    extra_keywords : dict, optional
        Passed on to `derivative2`.
    axes : tuple of int or None, optional
        The axes to differentiate along (default all).

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> def d2(input, axis, output, mode, cval):
    ...     return ndimage.correlate1d(input, [1, -2, 1], axis, output, mode, cval)
    >>> ndimage.generic_laplace(np.array([[0., 0, 0], [0, 1, 0], [0, 0, 0]]), d2,
    ...                         mode="constant")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    if extra_keywords is None:
        extra_keywords = {}
    input = _input(input)
    output = _output(output, input)
    axes = _axes(axes, input.ndim)
    if not axes:
        output[...] = input[...]
        return output
    modes = _per_axis(mode, len(axes), "mode")
    if np.may_share_memory(input, output):
        input = input.copy()  # every derivative reads the input, not the first one's result
    derivative2(input, axes[0], output, modes[0], cval, *extra_arguments, **extra_keywords)
    for ax, m in zip(axes[1:], modes[1:]):
        output += derivative2(input, ax, output.dtype, m, cval, *extra_arguments,
                              **extra_keywords)
    return output


@_docs
def generic_gradient_magnitude(input, derivative, output=None, mode="reflect", cval=0.0,
                               extra_arguments=(), extra_keywords=None, *, axes=None):
    """Gradient magnitude from a given first derivative, as
    :func:`scipy.ndimage.generic_gradient_magnitude`: the square root of the sum over the
    axes of the squared derivatives, each step in the output's dtype.

    Parameters
    ----------
    %(input)s
    derivative : callable
        ``derivative(input, axis, output, mode, cval, *extra_arguments, **extra_keywords)``,
        returning the derivative along `axis` (written into `output` when that is an array,
        in the dtype `output` names otherwise); its result may be squared in place, as
        scipy squares it.
    %(output)s
    %(mode_terms)s
    %(cval)s
    extra_arguments : sequence, optional
        Passed on to `derivative`.
    extra_keywords : dict, optional
        Passed on to `derivative`.
    axes : tuple of int or None, optional
        The axes to differentiate along (default all).

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> a = np.zeros((5, 5))
    >>> a[:, 2:] = 1.0
    >>> ndimage.generic_gradient_magnitude(a, ndimage.sobel)[2]
    array([0., 4., 4., 0., 0.])
    """
    return _gradient_magnitude(input, derivative, output, mode, cval, extra_arguments,
                               extra_keywords, axes, None)


def _gradient_magnitude(input, derivative, output, mode, cval, extra_arguments, extra_keywords,
                        axes, workers):
    """generic_gradient_magnitude on `workers` threads.  Float outputs square and add each
    further derivative in one parallel pass (`_core.add_square`: numpy's roundings in numpy's
    order) where numpy makes three or four single-threaded ones (4096 x 4096 float32, Intel
    Xeon, 2 threads: the squares, sums and root 35 ms of a 59 ms gaussian_gradient_magnitude);
    other outputs, and derivatives that return other arrays, run scipy's numpy sequence."""
    if extra_keywords is None:
        extra_keywords = {}
    input = _input(input)
    output = _output(output, input)
    axes = _axes(axes, input.ndim)
    if not axes:
        output[...] = input[...]
        return output
    modes = _per_axis(mode, len(axes), "mode")
    if np.may_share_memory(input, output):
        input = input.copy()
    derivative(input, axes[0], output, modes[0], cval, *extra_arguments, **extra_keywords)
    flat = output.reshape(-1) if output.dtype in (np.float32, np.float64) and \
        output.flags.c_contiguous else None
    squared = rooted = False
    for i, (ax, m) in enumerate(zip(axes[1:], modes[1:])):
        tmp = derivative(input, ax, output.dtype, m, cval, *extra_arguments,
                         **extra_keywords)
        if flat is not None and isinstance(tmp, np.ndarray) and tmp.dtype == output.dtype \
                and tmp.shape == output.shape and tmp.flags.c_contiguous \
                and not np.may_share_memory(tmp, output):
            rooted = i == len(axes) - 2
            _core.add_square(flat, tmp.reshape(-1), not squared, rooted,
                             resolve_workers(workers))
            squared = True
            continue
        if not squared:
            np.multiply(output, output, output)
            squared = True
        np.multiply(tmp, tmp, tmp)
        output += tmp
    if not rooted:
        if not squared:
            np.multiply(output, output, output)
        # unsafe: an integer output takes the root truncated, as scipy's does.
        np.sqrt(output, output, casting="unsafe")
    return output


def _gaussian_derivative(order, workers):
    """The derivative callable scipy's gaussian_laplace (order 2) and
    gaussian_gradient_magnitude (order 1) pass to their generic forms: the Gaussian filter
    with a derivative of `order` along `axis`, on `workers` threads."""
    def derivative(input, axis, output, mode, cval, sigma, **kwargs):
        orders = [0] * input.ndim
        orders[axis] = order
        return gaussian_filter(input, sigma, orders, output, mode, cval, workers=workers,
                               **kwargs)
    return derivative


def _gaussian_sigmas(sigma, axes, ndim):
    """gaussian_laplace's sigma per axis of the input, as scipy spreads it: a value per
    filtered axis (0 for the others) when `axes` leaves some out, else one per axis in axis
    order."""
    per = _per_axis(sigma, len(axes), "sigma")
    if len(axes) == ndim:
        return per
    full = [0] * ndim
    for s, ax in zip(per, axes):
        full[ax] = s
    return full


@_docs
def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None,
                     workers=None, **kwargs):
    """Laplacian of Gaussian, as :func:`scipy.ndimage.gaussian_laplace`: the sum over the axes
    of the Gaussian filter with a second derivative along that axis.

    scipy computes each axis's Gaussian filter in full and adds them.  Here, for a float
    output on the last two axes of an image with one border mode, the two terms are one call
    of the fused separable passes (a kernel of rank 2: each term's column pass, then its row
    pass into the sum, per block in cache): the image is read once and nothing of its size is
    written but the result, where the sequence writes two results and reads them back.  The
    values equal the sequence's within rounding (float32 data is computed in float32, with the
    error bound of `gaussian_filter`).  Other calls (integer outputs, other axes, per-axis
    modes, a 'constant' border with nonzero `cval`) run scipy's sequence on fastcorr's
    `gaussian_filter`.

    Parameters
    ----------
    %(input)s
    %(sigma)s
    %(output)s
    %(mode_terms)s
    %(cval)s
    %(axes)s
    %(workers)s
    **kwargs
        Passed on to `gaussian_filter` (`truncate`, `radius`).

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> a = np.zeros((7, 7))
    >>> a[3, 3] = 1.0
    >>> np.round(ndimage.gaussian_laplace(a, sigma=1)[3], 3)
    array([ 0.013,  0.043, -0.097, -0.318, -0.097,  0.043,  0.013])
    """
    input = _input(input)
    axes = _axes(axes, input.ndim)
    sigmas = _gaussian_sigmas(sigma, axes, input.ndim)
    output = _output(output, input)
    if _gaussian_laplace_fused(input, sigmas, output, mode, cval, axes, workers, kwargs):
        return output
    return generic_laplace(input, _gaussian_derivative(2, workers), output, mode, cval,
                           extra_arguments=(sigmas,), extra_keywords=kwargs, axes=axes)


def _gaussian_laplace_fused(input, sigmas, output, mode, cval, axes, workers, kwargs):
    """gaussian_laplace on the last two axes into `output` as two terms of the fused separable
    passes; False, with nothing done, where the call needs scipy's sequence (see
    gaussian_laplace)."""
    last = input.ndim - 1
    if (input.ndim < 2 or sorted(axes) != [last - 1, last] or input.dtype.kind == "c"
            or not input.size or set(kwargs) - {"truncate", "radius"}):
        return False
    modes = _per_axis(mode, len(axes), "mode")
    rules = [_rule(m) for m in modes]
    # Each term borders every axis with its own axis's mode: one rule for both, so that one
    # set of rules serves the two terms.
    if rules[0] != rules[1] or (rules[0] == "fill" and _real_cval(cval) != 0):
        return False
    if any(float(s) <= 1e-15 for s in sigmas[-2:]) or any(
            float(s) > 1e-15 for s in sigmas[:-2]):
        return False
    if output.dtype.kind != "f":
        return False
    truncate = kwargs.get("truncate", 4.0)
    radii = _per_axis(kwargs.get("radius"), input.ndim, "radius")
    smooth, second = [[_gaussian_weights(s, order, truncate, r)
                       for s, r in zip(sigmas[-2:], radii[-2:])] for order in (0, 2)]
    terms = [(second[0], smooth[1]), (smooth[0], second[1])]
    if axes[0] == last:
        terms.reverse()  # scipy's order of the sum: axes[0]'s term first
    _fused(input, terms, output, [rules[0]] * input.ndim, [0] * input.ndim, _real_cval(cval),
           workers)
    return True


@_docs
def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *,
                                axes=None, workers=None, **kwargs):
    """Gradient magnitude by Gaussian derivatives, as
    :func:`scipy.ndimage.gaussian_gradient_magnitude`: the square root of the sum over the
    axes of the squared Gaussian filters with a first derivative along that axis, scipy's
    sequence on fastcorr's `gaussian_filter`.  For a float output each further axis's square is
    added, and the root taken, in one parallel pass over the result (numpy's values, in
    numpy's order) instead of numpy's three or four single-threaded ones.

    Parameters
    ----------
    %(input)s
    %(sigma)s
    %(output)s
    %(mode_terms)s
    %(cval)s
    %(axes)s
    %(workers)s
    **kwargs
        Passed on to `gaussian_filter` (`truncate`, `radius`).

    Returns
    -------
    ndarray
        The filtered array, with the input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import ndimage
    >>> a = np.zeros((5, 7))
    >>> a[:, 3:] = 1.0
    >>> np.round(ndimage.gaussian_gradient_magnitude(a, sigma=1)[2], 3)
    array([0.013, 0.122, 0.364, 0.364, 0.122, 0.014, 0.001])
    """
    return _gradient_magnitude(input, _gaussian_derivative(1, workers), output, mode, cval,
                               (sigma,), kwargs, axes, workers)
