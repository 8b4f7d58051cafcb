"""Every bad argument: the exception class is the peer's, the message names the argument, and
the inputs (and a given out=) are left untouched by a rejected call.

The peer of an argument is the library whose convention fastcorr follows for it:
scipy.signal.correlate2d/convolve2d for the 2-D faces' inputs, mode, boundary and fillvalue;
numpy.correlate/convolve for the 1-D faces'; scipy.fft for workers= (fastcorr follows its
convention); scipy.signal.fftconvolve for axes=; a NumPy ufunc's out= for out=.  Where the peer
checks an argument, fastcorr raises the peer's class, and each such row of the table below is
also run on the peer, so the table cannot misstate it.  Where the peer has no check of its own
(it accepts the value, or fails by accident inside its computation) fastcorr is stricter, with
the class the peer uses for that argument's other bad values; those rows say why.
"""
import os
import re

import numpy as np
import pytest

from faces import FACES, FACES_1D, FACES_2D, snapshot

scipy_signal = pytest.importorskip("scipy.signal")
scipy_fft = pytest.importorskip("scipy.fft")


# The classes of the rows where the peer has no deliberate check of its own, chosen as the
# class the peer gives the argument's other bad values (module docstring).  One place to
# change them.
BAD_INPUT = ValueError      # scipy: "convolve2d not available for this type", "must be 2-D"


def image_for(face):
    image = np.arange(48, dtype=np.float64).reshape(6, 8) / 7
    return image if face.core_ndim == 2 else image.ravel()


def kernel_for(face):
    kernel = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    return kernel if face.core_ndim == 2 else kernel.ravel()


def result_for(face):
    """The shape of the 'valid' result of image_for with kernel_for."""
    return (5, 6) if face.core_ndim == 2 else (43,)


def name_of(face, arg):
    """The argument's name in this face: in1/in2 for the 2-D faces, a/v for the 1-D ones."""
    return {"in1": "in1", "in2": "in2"}[arg] if face.core_ndim == 2 else \
        {"in1": "a", "in2": "v"}[arg]


def raises_untouched(face, exc, pattern, in1, in2, **kwargs):
    """Assert face(in1, in2, **kwargs) raises exactly `exc` (not a subclass standing in for
    another class) with a message matching `pattern`, and that no array argument (inputs or
    out=) was modified."""
    arrays = {"in1": in1, "in2": in2, **{k: v for k, v in kwargs.items() if k == "out"}}
    before = {k: snapshot(v) for k, v in arrays.items() if isinstance(v, np.ndarray)}
    with pytest.raises(Exception) as info:
        face.func(in1, in2, **kwargs)
    assert issubclass(info.type, exc), (
        f"{face.name} raised {info.type.__name__}: {info.value}; the peer's class is "
        f"{exc.__name__}")
    assert re.search(pattern, str(info.value)), (
        f"{face.name}'s message does not match {pattern!r}: {info.value}")
    for name, (values, *_rest) in before.items():
        same = np.array_equal(np.asarray(arrays[name]), values,
                              equal_nan=values.dtype.kind in "fc")
        assert same, f"{name} modified by a failed call"


def peer_raises(exc, call, *args, **kwargs):
    """The peer rejects the same call with `exc` (the row states the peer's class truly)."""
    with pytest.raises(exc):
        call(*args, **kwargs)


def peer_of(face, in1, in2, **kwargs):
    """The face's peer called with the arguments it has (mode, boundary, fillvalue)."""
    allowed = ("mode", "boundary", "fillvalue") if face.core_ndim == 2 else ("mode",)
    return face.peer(in1, in2, **{k: v for k, v in kwargs.items() if k in allowed})


# ----------------------------------------------------------------------------- mode
@pytest.mark.parametrize("mode", ["VALID", "Valid", "valid ", "", "circular", "v"], ids=repr)
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_unknown_mode(face, mode):
    in1, in2 = image_for(face), kernel_for(face)
    raises_untouched(face, ValueError, r"\bmode\b", in1, in2, mode=mode)
    if face.core_ndim == 1 and np.lib.NumpyVersion(np.__version__) < "2.0.0" and mode:
        return  # numpy 1.x read a mode by its first letter, in any case; fastcorr as numpy 2
    peer_raises(ValueError, peer_of, face, in1, in2, mode=mode)


@pytest.mark.parametrize("mode", [None, 1, b"valid", ["valid"], 0.0], ids=repr)
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_mode_not_a_string(face, mode):
    """scipy.signal answers any mode it does not know with ValueError; numpy.correlate and
    numpy.convolve a mode that is not a string (or one of their legacy ints 0, 1, 2) with
    TypeError."""
    in1, in2 = image_for(face), kernel_for(face)
    exc = ValueError if face.core_ndim == 2 else TypeError
    raises_untouched(face, exc, r"\bmode\b", in1, in2, mode=mode)
    if face.core_ndim == 1 and mode == 1:
        return  # numpy still reads the int 1 as 'same'; fastcorr takes the names only
    if face.core_ndim == 2 and isinstance(mode, list):
        return  # scipy fails by accident here (an unhashable dict key)
    peer_raises(exc, peer_of, face, in1, in2, mode=mode)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_mode_is_checked_before_inputs(face):
    """A bad mode is reported even when the inputs would be rejected too."""
    in1, in2 = (np.ones((5, 3)), np.ones((3, 5))) if face.core_ndim == 2 else ([], [])
    with pytest.raises(ValueError, match="mode"):
        face.func(in1, in2, "fulll")


# ----------------------------------------------------------------------------- boundary
@pytest.mark.parametrize("boundary", ["FILL", "reflect", "constant", "", "symm ", None, 0,
                                      b"fill", ["fill"]], ids=repr)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_bad_boundary(face, mode, boundary):
    """Checked in 'valid' mode too, where the boundary is not used: a typo is still a typo."""
    in1, in2 = image_for(face), kernel_for(face)
    raises_untouched(face, ValueError, r"\bboundary\b", in1, in2, mode=mode, boundary=boundary)
    if not isinstance(boundary, list):  # scipy fails by accident on a list (unhashable)
        peer_raises(ValueError, peer_of, face, in1, in2, mode=mode, boundary=boundary)


# ----------------------------------------------------------------------------- fillvalue
@pytest.mark.parametrize("fillvalue", [[1.0, 2.0], np.zeros(3), np.zeros((2, 2)), np.zeros(0)],
                         ids=["list", "array3", "array2x2", "empty"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_fillvalue_not_one_value(face, fillvalue):
    in1, in2 = image_for(face), kernel_for(face)
    raises_untouched(face, ValueError, r"\bfillvalue\b", in1, in2, mode="full",
                     fillvalue=fillvalue)
    peer_raises(ValueError, peer_of, face, in1, in2, mode="full", fillvalue=fillvalue)


@pytest.mark.parametrize("fillvalue", [None, "1", b"1", object(), np.array(["a"])],
                         ids=["None", "str", "bytes", "object", "str-array"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_fillvalue_not_a_number(face, fillvalue):
    """scipy reads None as NaN and "1" as 1 (by accident of its C conversion), and fails on
    object() with TypeError inside that conversion; fastcorr refuses them all with the class
    scipy's own fillvalue checks use, ValueError."""
    raises_untouched(face, ValueError, r"\bfillvalue\b", image_for(face), kernel_for(face),
                     mode="full", fillvalue=fillvalue)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_complex_fillvalue_for_real_result(face):
    """scipy refuses a complex fill for real data with ValueError ("could not cast
    `fillvalue` directly to the output type"); a complex fill with a zero imaginary part is
    accepted here (its value is real), where scipy refuses it too."""
    in1, in2 = image_for(face), kernel_for(face)
    raises_untouched(face, ValueError, r"(?s)\bfillvalue\b.*complex|complex.*\bfillvalue\b",
                     in1, in2, mode="full", fillvalue=1 + 1j)
    peer_raises(ValueError, peer_of, face, in1, in2, mode="full", fillvalue=1 + 1j)
    assert face.func(in1, in2, "full", "fill", 1 + 0j).dtype == np.float64


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_fillvalue_too_large_for_a_float(face):
    """A Python int too large for any float (scipy: OverflowError from the conversion)."""
    raises_untouched(face, ValueError, r"\bfillvalue\b.*too large", image_for(face),
                     kernel_for(face), mode="full", fillvalue=10**400)


# ----------------------------------------------------------------------------- dtypes
BAD_DTYPES = [
    (object, "object"),
    ("U3", "<U3"),
    ("S3", "S3"),
    ("datetime64[s]", "datetime64"),
    ("timedelta64[s]", "timedelta64"),
    ("V8", "V8"),
    ([("a", "f8")], "('a', '<f8')"),
]


def _array_of(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return np.full(shape, "ab", dtype=dtype)
    if dtype.kind == "O":
        return np.ones(shape, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("dtype, shown", BAD_DTYPES, ids=[s for _, s in BAD_DTYPES])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_unsupported_dtype(face, arg, dtype, shown):
    """scipy.signal refuses what it cannot convolve with ValueError ("convolve2d not available
    for this type"); numpy.correlate has no check of its own (it computes on Python objects or
    fails inside), so the 1-D faces use the same class."""
    shape = np.shape(image_for(face) if arg == "in1" else kernel_for(face))
    bad = _array_of(dtype, shape)
    in1, in2 = (bad, kernel_for(face)) if arg == "in1" else (image_for(face), bad)
    name = name_of(face, arg)
    raises_untouched(face, BAD_INPUT, rf"(?s)\b{name}\b.*{re.escape(shown)}", in1, in2,
                     mode="valid")
    if face.core_ndim == 2 and arg == "in1":
        peer_raises(ValueError, peer_of, face, in1, in2, mode="valid")


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_extended_precision(face, arg):
    """longdouble and clongdouble: fastcorr computes in float32/float64 and says so (scipy
    computes in them; a silent rounding to float64 would be a wrong answer)."""
    if np.finfo(np.longdouble).bits == 64:
        pytest.skip("longdouble is float64 on this platform")
    for dtype in (np.longdouble, np.clongdouble):
        x = np.asarray(image_for(face) if arg == "in1" else kernel_for(face), dtype)
        in1, in2 = (x, kernel_for(face)) if arg == "in1" else (image_for(face), x)
        raises_untouched(face, BAD_INPUT, rf"(?s)\b{name_of(face, arg)}\b.*"
                         rf"{re.escape(str(np.dtype(dtype)))}", in1, in2, mode="valid")


NOT_NUMERIC = [None, {}, {1: 2}, object(), "abc", b"abcd", [["1", "2"], ["3", "4"]],
               [[1.0, None], [2.0, 3.0]], np.array([[1, "a"]], dtype=object),
               [[__import__("decimal").Decimal(1)]], [[__import__("fractions").Fraction(1, 2)]],
               [[1.0, 2.0], [3.0]]]
NOT_NUMERIC_IDS = ["None", "dict", "dict1", "object", "str", "bytes", "str-lists",
                   "None-in-list", "object-mixed", "Decimal", "Fraction", "ragged"]


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("bad", NOT_NUMERIC, ids=NOT_NUMERIC_IDS)
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_not_a_numeric_array(face, bad, arg):
    """What cannot be read as a numeric array: ValueError naming the argument, as scipy's
    "inputs must both be 2-D arrays" and numpy's ragged-array check."""
    in1, in2 = (bad, kernel_for(face)) if arg == "in1" else (image_for(face), bad)
    raises_untouched(face, BAD_INPUT, rf"\b{name_of(face, arg)}\b", in1, in2, mode="valid")


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("scalar", [3.0, np.float64(2.0), 7], ids=["float", "np.float64", "int"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_scalar_for_a_2d_face(face, scalar, arg):
    """scipy.signal: "correlate2d inputs must both be 2-D arrays"."""
    in1, in2 = (scalar, kernel_for(face)) if arg == "in1" else (image_for(face), scalar)
    raises_untouched(face, ValueError, rf"\b{arg}\b", in1, in2, mode="full")
    peer_raises(ValueError, peer_of, face, in1, in2, mode="full")


def test_a_generator_is_not_an_array():
    for face in FACES:
        with pytest.raises(BAD_INPUT, match=r"\bin1\b|\ba\b"):
            face.func((x for x in range(3)), kernel_for(face))


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("shape", [(), (5,), (1,), (2, 6, 8), (1, 1, 6, 8)],
                         ids=lambda s: f"shape={s}")
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_faces_need_2d_inputs(face, arg, shape):
    """Without axes= both inputs are 2-D (stacks go through axes=, test_batches.py)."""
    bad = np.ones(shape)
    in1, in2 = (bad, kernel_for(face)) if arg == "in1" else (image_for(face), bad)
    raises_untouched(face, ValueError, rf"(?s)\b{arg}\b.*2-D|2-D.*\b{arg}\b", in1, in2,
                     mode="full")
    peer_raises(ValueError, peer_of, face, in1, in2, mode="full")


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("shape", [(2, 8), (1, 1, 8)], ids=lambda s: f"shape={s}")
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_faces_need_1d_inputs(face, arg, shape):
    bad = np.ones(shape)
    in1, in2 = (bad, kernel_for(face)) if arg == "in1" else (image_for(face), bad)
    name = name_of(face, arg)
    raises_untouched(face, ValueError, rf"(?s)\b{name}\b.*1-D|1-D.*\b{name}\b", in1, in2)
    peer_raises(ValueError, peer_of, face, in1, in2)


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_empty(face, arg):
    """numpy refuses empty inputs with ValueError; scipy returns an empty result, fastcorr
    refuses them as numpy does."""
    shapes = [(0, 0), (0, 3), (3, 0), (0, 1)] if face.core_ndim == 2 else [(0,)]
    for shape in shapes:
        bad = np.ones(shape)
        in1, in2 = (bad, kernel_for(face)) if arg == "in1" else (image_for(face), bad)
        raises_untouched(face, ValueError, rf"\b{name_of(face, arg)}\b.*empty", in1, in2)
        if face.core_ndim == 1:
            peer_raises(ValueError, peer_of, face, in1, in2)
    both = (np.ones((0, 4)), np.ones((0, 2))) if face.core_ndim == 2 else ([], [])
    with pytest.raises(ValueError, match=r"\bin1\b|\ba\b"):
        face.func(*both)


@pytest.mark.parametrize(
    "shape1, shape2",
    [((5, 3), (3, 5)), ((3, 5), (5, 3)), ((1, 9), (2, 1)), ((10, 10), (11, 2))],
    ids=lambda s: f"{s[0]}x{s[1]}",
)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_neither_input_larger(face, shape1, shape2):
    in1, in2 = np.ones(shape1), np.ones(shape2)
    raises_untouched(face, ValueError, r"(?s)at least as large.*in1.*in2", in1, in2,
                     mode="valid")
    peer_raises(ValueError, peer_of, face, in1, in2, mode="valid")


# ----------------------------------------------------------------------------- stacks, axes=
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_batch_dimensions_do_not_broadcast(face):
    raises_untouched(face, ValueError, r"(?s)in1.*in2", np.ones((3, 6, 8)),
                     np.ones((2, 2, 3)), axes=(-2, -1))
    raises_untouched(face, ValueError, r"(?s)in1.*in2", np.ones((2, 3, 6, 8)),
                     np.ones((3, 1, 2, 3)), mode="full", axes=(-2, -1))


@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_batch_dimensions_do_not_broadcast_1d(face):
    raises_untouched(face, ValueError, r"(?s)\ba\b.*\bv\b", np.ones((3, 5)), np.ones((2, 2)),
                     axes=-1)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_empty_stack(face):
    stack = np.ones((0, 6, 8)) if face.core_ndim == 2 else np.ones((0, 8))
    kernel = kernel_for(face)[None]
    raises_untouched(face, ValueError, rf"\b{name_of(face, 'in1')}\b.*empty", stack, kernel,
                     axes=face.last_axes)


BAD_AXES_2D = [(0,), (0, 1, 2), (0, 1.0), 5, (0, 3), (-4, 1), (1, -2), "ab", (True, 1)]


@pytest.mark.parametrize("axes", BAD_AXES_2D, ids=repr)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_bad_axes(face, axes):
    """scipy.signal.fftconvolve (whose axes= rule the faces follow) refuses malformed axes with
    ValueError; it also takes three axes, where the 2-D faces take exactly two."""
    in1, in2 = np.ones((4, 5, 6)), np.ones((2, 2, 2))
    raises_untouched(face, ValueError, r"\baxes\b", in1, in2, axes=axes)
    if axes != (0, 1, 2):
        peer_raises(ValueError, scipy_signal.fftconvolve, in1, in2, axes=axes)


@pytest.mark.parametrize("axes", [(0, 1), 2, -3, 1.0, "a"], ids=repr)
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_bad_axes_1d(face, axes):
    in1, in2 = np.ones((4, 5)), np.ones((4, 2))
    raises_untouched(face, ValueError, r"\baxes\b", in1, in2, axes=axes)
    if axes not in ((0, 1), -3):  # fftconvolve takes both axes, and -3 ... as out of range
        peer_raises(ValueError, scipy_signal.fftconvolve, in1, in2, axes=axes)


# ----------------------------------------------------------------------------- out=
def ufunc_out(face, out):
    """A NumPy ufunc writing a result of the face's shape and dtype into `out`: the peer of
    out=."""
    return np.add(np.ones(result_for(face)), 0.0, out=out)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_wrong_dtype(face):
    cases = [(image_for(face), kernel_for(face), np.zeros((5, 6), np.float32), r"float32"),
             # float32 inputs give float32: a float64 out is just as wrong.
             (image_for(face).astype(np.float32), kernel_for(face).astype(np.float32),
              np.zeros((5, 6)), r"float64"),
             # Integer inputs are computed in float64, so an integer out is rejected too.
             (np.ones((6, 8), np.int32), np.ones((2, 3), np.int32),
              np.zeros((5, 6), np.int32), r"int32"),
             (image_for(face), kernel_for(face), np.zeros((5, 6), np.complex128), r"complex")]
    for in1, in2, out, shown in cases:
        raises_untouched(face, TypeError, rf"(?s)\bout\b.*{shown}", in1, in2, mode="valid",
                         out=out)
    peer_raises(TypeError, ufunc_out, face, np.zeros((5, 6), np.int32))


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_nonnative_byte_order(face):
    """A byte-swapped out would need a conversion pass; refused as a dtype mismatch (a ufunc
    converts)."""
    raises_untouched(face, TypeError, r"\bout\b", image_for(face), kernel_for(face),
                     mode="valid", out=np.zeros((5, 6), ">f8" if np.little_endian else "<f8"))


@pytest.mark.parametrize(
    "shape", [(6, 5), (5, 5), (6, 8), (30,), (1, 5, 6), (5, 6, 1), (), (0, 6), (5, 0), (0,)],
    ids=lambda s: f"shape={s}")
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_wrong_shape(face, shape):
    raises_untouched(face, ValueError, r"(?s)\bout\b.*shape", image_for(face), kernel_for(face),
                     mode="valid", out=np.zeros(shape))
    try:
        np.broadcast_shapes(result_for(face), shape)
    except ValueError:
        peer_raises(ValueError, ufunc_out, face, np.zeros(shape))
    # else a ufunc broadcasts the result into out; fastcorr wants the result's very shape.


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_wrong_shape_for_a_stack(face):
    stack, kernel = np.ones((3, 4, 9, 10), np.float32), np.ones((1, 4, 3, 3), np.float32)
    for shape in ((4, 9, 10), (3, 4, 10, 9), (1, 4, 9, 10)):
        raises_untouched(face, ValueError, r"(?s)\bout\b.*shape", stack, kernel, mode="same",
                         axes=(-2, -1), out=np.empty(shape, np.float32))


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_wrong_shape_in2_larger(face):
    # The result shape is (6 - 2 + 1, 8 - 3 + 1) whichever argument is the larger.
    raises_untouched(face, ValueError, r"\bout\b", kernel_for(face), image_for(face),
                     mode="valid", out=np.zeros((2, 3)))


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_with_overlapping_elements(face):
    """An out whose elements share memory (zero or too-short strides) cannot hold the result
    (a ufunc writes it anyway, one value over another)."""
    base = np.zeros(64)
    for strides in ((0, 8), (8, 8), (16, 8)):
        out = np.lib.stride_tricks.as_strided(base, shape=(5, 6), strides=strides)
        raises_untouched(face, ValueError, r"(?s)\bout\b.*share memory", image_for(face),
                         kernel_for(face), mode="valid", out=out)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_read_only(face):
    out = np.zeros((5, 6))
    out.flags.writeable = False
    raises_untouched(face, ValueError, r"(?s)\bout\b.*read-only", image_for(face),
                     kernel_for(face), mode="valid", out=out)
    peer_raises(ValueError, ufunc_out, face, out)


@pytest.mark.parametrize(
    "out", [[[0.0] * 6] * 5, (0.0,), 0.0, "out", memoryview(np.zeros((5, 6)))],
    ids=["list", "tuple", "float", "str", "memoryview"],
)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_not_ndarray(face, out):
    raises_untouched(face, TypeError, r"\bout\b", image_for(face), kernel_for(face),
                     mode="valid", out=out)
    peer_raises(TypeError, ufunc_out, face, out)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_no_partial_write_to_out_on_error(face):
    """A call rejected for its workers value must not have touched a valid out."""
    out = np.full((5, 6), 7.0)
    raises_untouched(face, ValueError, r"\bworkers\b", image_for(face), kernel_for(face),
                     mode="valid", out=out, workers=0)
    assert np.all(out == 7.0)


# ----------------------------------------------------------------------------- workers
def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_workers_zero(face):
    raises_untouched(face, ValueError, r"\bworkers\b", image_for(face), kernel_for(face),
                     workers=0)
    peer_raises(ValueError, scipy_fft.fft, np.ones(8), workers=0)


@pytest.mark.parametrize(
    "workers", [1.0, 2.5, True, False, np.bool_(True), "2", np.float64(2.0), [2], 1j,
                float("inf"), float("nan"), type(None)],
    ids=["1.0", "2.5", "True", "False", "np.bool_(True)", "'2'", "np.float64(2.0)", "[2]",
         "1j", "inf", "nan", "NoneType"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_workers_wrong_type(face, workers):
    """scipy.fft refuses a workers value that is not an int with TypeError (it reads a bool as
    an int; fastcorr refuses that too, as a likely mistake)."""
    raises_untouched(face, TypeError, r"\bworkers\b", image_for(face), kernel_for(face),
                     workers=workers)
    if not isinstance(workers, (bool, np.bool_)):
        peer_raises(TypeError, scipy_fft.fft, np.ones(8), workers=workers)


@pytest.mark.parametrize("extra", [1, 2, 1000, 2**70], ids=lambda e: f"-(cpus+{e})")
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_workers_too_negative(face, extra):
    """-cpus means one thread; each step further back one thread fewer: the message says how
    many threads the value asks for (workers + cpus + 1, so 0 for -(cpus + 1))."""
    cpus = cpu_count()
    workers = -(cpus + extra)
    asked = workers + cpus + 1
    raises_untouched(face, ValueError, rf"(?s)\bworkers\b.*(?<![\d-]){asked} threads",
                     image_for(face), kernel_for(face), workers=workers)
    peer_raises(ValueError, scipy_fft.fft, np.ones(8), workers=workers)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_workers_minus_three(face):
    """The issue's case: workers=-3 on a machine with fewer than three CPUs asks for
    cpus - 2 threads (0 on two CPUs), and the message says so."""
    cpus = cpu_count()
    if cpus >= 3:
        assert face.func(image_for(face), kernel_for(face), workers=-3) is not None
        return
    raises_untouched(face, ValueError, rf"(?s)\bworkers=-3\b.*(?<![\d-]){cpus - 2} threads",
                     image_for(face), kernel_for(face), workers=-3)


# ----------------------------------------------------------------------------- the core
def test_core_1d_rejects_mismatched_arguments():
    """The compiled core trusts its callers for dtypes but checks what would read or write out
    of bounds: lengths, batch sizes and strides."""
    from fastcorr import _core

    x = np.zeros((2, 100), np.float32)
    w = np.ones((1, 5), np.float32)
    out = np.empty((2, 96), np.float32)
    _core.correlate_valid_1d_batch(x, w, out, 1)
    bad = [(x, w, out[:, :95]), (x, np.ones((3, 5), np.float32), out), (x[:1], w, out),
           (x, np.ones((1, 101), np.float32), np.empty((2, 0), np.float32)),
           (np.zeros((2, 200), np.float32)[:, ::2], w, out),
           (x, w, np.empty((2, 192), np.float32)[:, ::2])]
    for args in bad:
        with pytest.raises(ValueError, match="correlate_valid_1d_batch"):
            _core.correlate_valid_1d_batch(*args, 1)


def test_core_extended_batch_rejects_mismatches():
    """The core entry point checks what it would otherwise read or write out of bounds."""
    from fastcorr import _core

    x = np.zeros((3, 6, 7))
    w = np.zeros((1, 3, 2))
    out = np.zeros((3, 6, 7))
    rowmap = np.arange(-1, 7, dtype=np.intp)
    colmap = np.arange(-1, 7, dtype=np.intp)
    rowmap[-1] = colmap[-1] = -1
    _core.correlate_extended_batch(x, w, out, rowmap, colmap, 0.0, 2)  # consistent: accepted
    bad_calls = {
        "out batch": (x, w, np.zeros((2, 6, 7)), rowmap, colmap),
        "w batch": (x, np.zeros((2, 3, 2)), out, rowmap, colmap),
        "rowmap length": (x, w, out, rowmap[:-1], colmap),
        "colmap length": (x, w, out, rowmap, np.append(colmap, -1)),
        "rowmap entry": (x, w, out, np.where(rowmap == 3, 6, rowmap), colmap),
        "colmap entry": (x, w, out, rowmap, np.where(colmap == 3, -2, colmap)),
        "empty out": (x, w, np.zeros((3, 0, 7)), rowmap[:2], colmap),
        "x columns": (np.zeros((3, 7, 6)).transpose(0, 2, 1), w, out, rowmap, colmap),
        "out columns": (x, w, np.zeros((3, 7, 6)).transpose(0, 2, 1), rowmap, colmap),
    }
    for what, args in bad_calls.items():
        with pytest.raises(ValueError, match="correlate_extended_batch"):
            _core.correlate_extended_batch(*args, 0.0, 2)
            pytest.fail(f"{what} accepted")
    # An interior (top, left) is read straight from x, so the core checks that it lies inside
    # out and that the maps say the same.
    colmap = np.arange(-1, 7, dtype=np.intp)  # the interior reaches the right edge
    _core.correlate_extended_batch(x, w, out, rowmap, colmap, 0.0, 2, 0, 1, 1)  # accepted
    bad_interiors = {
        "rows past out": (2, 1), "columns past out": (1, 2), "negative left": (1, -1),
        "rowmap disagrees": (0, 1), "colmap disagrees": (1, 0),
    }
    for what, (top, left) in bad_interiors.items():
        with pytest.raises(ValueError, match="correlate_extended_batch.*interior"):
            _core.correlate_extended_batch(x, w, out, rowmap, colmap, 0.0, 2, 0, top, left)
            pytest.fail(f"{what} accepted")
    with pytest.raises(ValueError, match="interior"):
        big_kernel = np.zeros((1, 7, 2))
        _core.correlate_extended_batch(x, big_kernel, np.zeros((3, 2, 7)), rowmap,
                                       colmap, 0.0, 2, 0, 0, 1)
