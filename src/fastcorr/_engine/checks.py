"""Argument checks shared by the faces: each raises the exception class the peers raise, with a
message that names the argument."""
import numbers

import numpy as np


def check_choice(value, choices, name, wrong_type=TypeError):
    """`value` if it is one of the strings `choices`; `wrong_type` for a non-string (numpy's
    TypeError; scipy.signal answers every mode it does not know with ValueError), ValueError
    for an unknown string."""
    if type(value) is str and value in choices:  # the common case, first
        return value
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise wrong_type(f"{name} must be one of {listed}, got {type(value).__name__}")
    raise ValueError(f"{name} must be one of {listed}, got {value!r}")


def check_fillvalue(fillvalue, dtype):
    """`fillvalue` as a scalar of the result dtype `dtype`, or ValueError naming it (scipy's
    class for every bad fill value).

    As in scipy, a one-element array is accepted as a scalar.  A complex value is accepted only
    for complex results (or with a zero imaginary part): converting it to a real result would
    drop its imaginary part, a wrong answer.
    """
    kind = type(fillvalue)
    if (kind is float or kind is int) and dtype.kind == "f" and (
            -3e38 < fillvalue < 3e38 or dtype.itemsize == 8 and -2**1023 < fillvalue < 2**1023):
        # The common case, without numpy's scalar machinery (microseconds a call): the core
        # takes the fill as a C double and rounds it to float32 as numpy would (round to
        # nearest; the bounds keep it finite in the result's type, where the cast is exact C).
        return float(fillvalue)
    if isinstance(fillvalue, (str, bytes)) or fillvalue is None:
        raise ValueError(f"fillvalue must be a number, got {type(fillvalue).__name__}")
    if isinstance(fillvalue, int) and not isinstance(fillvalue, bool) and not (
            -2**63 <= fillvalue < 2**63):
        # numpy would make a Python int beyond int64 an object array; as a fill it is a float.
        try:
            fillvalue = float(fillvalue)
        except OverflowError:
            raise ValueError(f"fillvalue {fillvalue} is too large for a floating-point "
                             "result") from None
    try:
        value = np.asarray(fillvalue)
    except (ValueError, TypeError):
        raise ValueError(f"fillvalue must be a number, got {type(fillvalue).__name__}") from None
    if value.dtype.kind not in "biufc":
        raise ValueError(f"fillvalue must be a number, got an array of dtype {value.dtype}")
    if value.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element, got shape "
                         f"{value.shape}")
    value = value.reshape(())[()]
    if value.dtype.kind == "c" and dtype.kind != "c":
        if value.imag != 0:
            raise ValueError(
                "could not cast `fillvalue` directly to the output type: "
                f"{value!r} is complex but the result dtype is {dtype} (pass complex inputs "
                "for a complex fill, or a real fillvalue)")
        value = value.real
    with np.errstate(over="ignore"):  # a float64 fill too large for float32 becomes inf
        return dtype.type(value)


def check_axes(axes, ndim, count, name="axes"):
    """`axes` as `count` distinct non-negative axis numbers of an `ndim`-D array, the NumPy
    way (negative ones count from the end); ValueError otherwise, as scipy.signal.fftconvolve
    raises."""
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool) and count == 1:
        axes = (axes,)
    try:
        items = tuple(axes)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of {count} ints, got "
                         f"{type(axes).__name__}") from None
    if len(items) != count or not all(isinstance(a, numbers.Integral)
                                      and not isinstance(a, bool) for a in items):
        raise ValueError(f"{name} must be {count} int{'s' if count > 1 else ''}, got {axes!r}")
    normal = tuple(int(a) + ndim if a < 0 else int(a) for a in items)
    if any(not 0 <= a < ndim for a in normal):
        raise ValueError(f"{name} {axes!r} out of range for {ndim}-D inputs")
    if len(set(normal)) != count:
        raise ValueError(f"{name} must be distinct, got {axes!r}")
    return normal


def check_out(out, shape, dtype):
    """`out` can receive a result of `shape` and `dtype` (it may still overlap the inputs: the
    plan then computes into a temporary)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, but the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, but the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if _may_overlap_itself(out):
        raise ValueError(
            f"out has elements that share memory (strides {out.strides} for shape "
            f"{out.shape}); it needs one element per result value")


def _may_overlap_itself(a):
    """True when two elements of `a` may share memory (an as_strided view with a zero or too
    short stride): the results written through one would overwrite another's, and the kernels
    write several rows at once, so the outcome would not even be one of them.

    Sufficient test for no overlap: with the dimensions sorted by |stride|, each stride spans
    the whole extent of the smaller ones.  Layouts numpy creates (slices, transposes, negative
    steps) always pass it.
    """
    extent = a.itemsize
    for stride, size in sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n > 1):
        if stride < extent:
            return True
        extent += (size - 1) * stride
    return False
