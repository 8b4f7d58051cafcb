"""The one promotion table: which dtype an input is computed in, and what two inputs give.

The core computes in float32 and float64 only, so every input maps to one of those (complex
data to complex64/complex128, computed as real parts).  float32 is never widened (scipy.ndimage
and numpy compute it in float64), float64 never narrowed.
"""
import numpy as np

_CACHE = {}
_PAIRS = {}


def working_dtype(dtype, name):
    """The dtype an input of `dtype` is computed in, or ValueError naming the input (the class
    scipy.signal raises for a type it cannot convolve).

    float32 stays float32, float64 stays float64, complex64 stays complex64 and complex128
    stays complex128 (no silent up- or down-cast); float16 is computed in float32; bool and
    integers in float64 (float32 cannot hold every int32 exactly).  Two inputs are then combined
    with `result_dtype`, so complex64 with float32 gives complex64 and complex64 with float64
    or an integer gives complex128.
    """
    try:
        return _CACHE[dtype]
    except KeyError:
        pass
    except TypeError:  # an unhashable dtype-like; dtypes themselves hash
        dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        real_size = dtype.itemsize // (2 if dtype.kind == "c" else 1)
        if real_size > 8:
            raise ValueError(
                f"{name} has dtype {dtype} (extended precision), which fastcorr does not "
                "support: it computes in float32/float64 (complex64/complex128 for complex "
                "data); cast explicitly if that precision is enough")
        single = real_size <= 4
        if dtype.kind == "c":
            result = np.dtype(np.complex64 if single else np.complex128)
        else:
            result = np.dtype(np.float32 if single else np.float64)
    elif dtype.kind in "biu":
        result = np.dtype(np.float64)
    else:
        raise ValueError(f"{name} has dtype {dtype}, which fastcorr cannot correlate; "
                        "it accepts bool, integer, floating-point and complex arrays")
    _CACHE[dtype] = result
    return result


def result_dtype(a1, a2, names):
    """The dtype the correlation of arrays `a1` and `a2` is computed and returned in."""
    try:
        return _PAIRS[a1.dtype, a2.dtype]
    except KeyError:
        pass
    dt1, dt2 = working_dtype(a1.dtype, names[0]), working_dtype(a2.dtype, names[1])
    result = _PAIRS[a1.dtype, a2.dtype] = dt1 if dt1 is dt2 else np.promote_types(dt1, dt2)
    return result


def real_dtype(dtype):
    """float32 for float32/complex64, float64 for float64/complex128: what the core computes
    in."""
    return np.dtype(np.float32) if dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def as_array(arr, name):
    """`arr` as a plain ndarray (a view of a subclass: np.matrix, for one, cannot hold the batch
    axis the core works with), or ValueError naming the argument (the class scipy.signal and
    numpy raise for what is not a numeric array)."""
    if isinstance(arr, np.ndarray):
        return arr if type(arr) is np.ndarray else arr.view(np.ndarray)
    try:
        return np.asarray(arr)
    except (ValueError, TypeError) as exc:  # ragged nested sequences and the like
        raise ValueError(f"{name} cannot be converted to a numeric array: {exc}") from None
