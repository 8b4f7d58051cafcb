"""Argument errors: the exception type, that the message names the offending argument, and that
the inputs (and a given out=) are left untouched when a call is rejected."""
import os
import re

import numpy as np
import pytest

import fastcorr

FUNCS = {"correlate2d": fastcorr.correlate2d, "convolve2d": fastcorr.convolve2d}


@pytest.fixture(params=list(FUNCS), ids=list(FUNCS))
def func(request):
    return FUNCS[request.param]


def _image():
    return np.arange(48, dtype=np.float64).reshape(6, 8) / 7


def _kernel():
    return np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])


def raises_untouched(func, exc, pattern, in1, in2, **kwargs):
    """Assert func(in1, in2, **kwargs) raises `exc` matching `pattern`, and that no ndarray
    argument (inputs or out=) was modified."""
    arrays = {"in1": in1, "in2": in2, **{k: v for k, v in kwargs.items() if k == "out"}}
    before = {k: v.copy() for k, v in arrays.items() if isinstance(v, np.ndarray)}
    with pytest.raises(exc, match=pattern):
        func(in1, in2, **kwargs)
    for name, copy in before.items():
        same = np.array_equal(arrays[name], copy, equal_nan=copy.dtype.kind in "fc")
        assert same, f"{name} modified by a failed call"


# ----------------------------------------------------------------------------- mode
@pytest.mark.parametrize("mode", ["VALID", "Valid", "valid ", "", "circular", "v"], ids=repr)
def test_unknown_mode(func, mode):
    raises_untouched(func, ValueError, "mode", _image(), _kernel(), mode=mode)


@pytest.mark.parametrize("mode", [None, 1, b"valid", ["valid"], 0.0], ids=repr)
def test_mode_not_a_string(func, mode):
    raises_untouched(func, TypeError, "mode", _image(), _kernel(), mode=mode)


def test_mode_is_checked_before_inputs(func):
    """A bad mode is reported even when the inputs would be rejected too."""
    with pytest.raises(ValueError, match="mode"):
        func(np.ones((5, 3)), np.ones((3, 5)), "fulll")


# ----------------------------------------------------------------------------- boundary
@pytest.mark.parametrize("boundary", ["FILL", "reflect", "constant", "", "symm "], ids=repr)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_unknown_boundary(func, mode, boundary):
    # Checked in 'valid' mode too, where the boundary is not used: a typo is still a typo.
    raises_untouched(func, ValueError, r"\bboundary\b", _image(), _kernel(), mode=mode,
                     boundary=boundary)


@pytest.mark.parametrize("boundary", [None, 0, b"fill", ["fill"]], ids=repr)
def test_boundary_not_a_string(func, boundary):
    raises_untouched(func, TypeError, r"\bboundary\b", _image(), _kernel(), mode="same",
                     boundary=boundary)


# ----------------------------------------------------------------------------- fillvalue
@pytest.mark.parametrize("fillvalue", [[1.0, 2.0], np.zeros(3), np.zeros((2, 2)), np.zeros(0)],
                         ids=["list", "array3", "array2x2", "empty"])
def test_fillvalue_not_scalar(func, fillvalue):
    raises_untouched(func, ValueError, r"\bfillvalue\b", _image(), _kernel(), mode="full",
                     fillvalue=fillvalue)


@pytest.mark.parametrize("fillvalue", [None, "1", b"1", object(), np.array(["a"])],
                         ids=["None", "str", "bytes", "object", "str-array"])
def test_fillvalue_not_a_number(func, fillvalue):
    raises_untouched(func, TypeError, r"\bfillvalue\b", _image(), _kernel(), mode="full",
                     fillvalue=fillvalue)


def test_complex_fillvalue_for_real_result(func):
    """scipy drops the imaginary part with a warning; that is a wrong answer, so it is an
    error here (a complex fill with a zero imaginary part is fine)."""
    raises_untouched(func, TypeError, r"(?s)\bfillvalue\b.*complex", _image(), _kernel(),
                     mode="full", fillvalue=1 + 1j)
    assert func(_image(), _kernel(), "full", "fill", 1 + 0j).dtype == np.float64


# ----------------------------------------------------------------------------- dtypes
BAD_DTYPES = [
    (np.clongdouble, str(np.dtype(np.clongdouble))),
    (object, "object"),
    ("U3", "<U3"),
    ("S3", "S3"),
    (np.longdouble, str(np.dtype(np.longdouble))),
    ("datetime64[s]", "datetime64"),
    ("timedelta64[s]", "timedelta64"),
]


def _array_of(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return np.full(shape, "ab", dtype=dtype)
    if dtype.kind in "mM":
        return np.zeros(shape, dtype=dtype)
    return np.ones(shape, dtype=dtype)


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("dtype, shown", BAD_DTYPES, ids=[s for _, s in BAD_DTYPES])
def test_unsupported_dtype(func, arg, dtype, shown):
    if np.dtype(dtype) in (np.dtype(np.longdouble), np.dtype(np.clongdouble)) and \
            np.finfo(np.longdouble).bits == 64:
        pytest.skip("longdouble is float64 on this platform")
    bad = _array_of(dtype, (6, 8) if arg == "in1" else (2, 3))
    in1, in2 = (bad, _kernel()) if arg == "in1" else (_image(), bad)
    pattern = rf"(?s)\b{arg}\b.*{re.escape(shown)}"
    raises_untouched(func, TypeError, pattern, in1, in2)


def test_ragged_input(func):
    with pytest.raises((TypeError, ValueError), match="in2"):
        func(_image(), [[1.0, 2.0], [3.0]])


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("shape", [(), (5,), (1,)], ids=lambda s: f"shape={s}")
def test_not_2d(func, arg, shape):
    # More than two dimensions is a stack of images (tests/test_batches.py); fewer is an error.
    bad = np.ones(shape)
    in1, in2 = (bad, _kernel()) if arg == "in1" else (_image(), bad)
    raises_untouched(func, ValueError, rf"(?s)\b{arg}\b.*2-D", in1, in2)


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0), (0, 1)], ids=lambda s: f"shape={s}")
def test_empty(func, arg, shape):
    bad = np.ones(shape)
    in1, in2 = (bad, _kernel()) if arg == "in1" else (_image(), bad)
    raises_untouched(func, ValueError, rf"(?s)\b{arg}\b.*empty", in1, in2)


def test_batch_dimensions_do_not_broadcast(func):
    raises_untouched(func, ValueError, r"(?s)batch.*in1.*in2", np.ones((3, 6, 8)),
                     np.ones((2, 2, 3)))
    raises_untouched(func, ValueError, r"(?s)batch.*in1.*in2", np.ones((2, 3, 6, 8)),
                     np.ones((3, 1, 2, 3)), mode="full")


def test_empty_batch(func):
    raises_untouched(func, ValueError, r"\bin1\b.*empty", np.ones((0, 6, 8)), _kernel())


def test_empty_both_inputs(func):
    with pytest.raises(ValueError, match="in1"):
        func(np.ones((0, 4)), np.ones((0, 2)))


@pytest.mark.parametrize(
    "shape1, shape2",
    [((5, 3), (3, 5)), ((3, 5), (5, 3)), ((1, 9), (2, 1)), ((10, 10), (11, 2))],
    ids=lambda s: f"{s[0]}x{s[1]}",
)
def test_neither_input_larger(func, shape1, shape2):
    in1 = np.ones(shape1)
    in2 = np.ones(shape2)
    raises_untouched(func, ValueError, r"(?s)at least as large.*in1.*in2", in1, in2)


# ----------------------------------------------------------------------------- out=
def test_out_wrong_dtype(func):
    raises_untouched(func, TypeError, r"(?s)\bout\b.*float32.*float64", _image(), _kernel(),
                     out=np.zeros((5, 6), dtype=np.float32))
    # float32 inputs give float32: a float64 out is just as wrong.
    raises_untouched(func, TypeError, r"\bout\b", _image().astype(np.float32),
                     _kernel().astype(np.float32), out=np.zeros((5, 6)))
    # Integer inputs are computed in float64, so an integer out is rejected too.
    raises_untouched(func, TypeError, r"\bout\b", np.ones((6, 8), dtype=np.int32),
                     np.ones((2, 3), dtype=np.int32), out=np.zeros((5, 6), dtype=np.int32))


@pytest.mark.parametrize(
    "shape", [(6, 5), (5, 5), (6, 8), (30,), (1, 5, 6), (5, 6, 1)], ids=lambda s: f"shape={s}"
)
def test_out_wrong_shape(func, shape):
    raises_untouched(func, ValueError, r"(?s)\bout\b.*shape", _image(), _kernel(),
                     out=np.zeros(shape))


def test_out_wrong_shape_in2_larger(func):
    # The result shape is (6 - 2 + 1, 8 - 3 + 1) whichever argument is the larger.
    raises_untouched(func, ValueError, r"\bout\b", _kernel(), _image(), out=np.zeros((2, 3)))


def test_out_with_overlapping_elements(func):
    """An out whose elements share memory (zero or too-short strides) cannot hold the result."""
    base = np.zeros(64)
    for strides in ((0, 8), (8, 8), (16, 8)):
        out = np.lib.stride_tricks.as_strided(base, shape=(5, 6), strides=strides)
        raises_untouched(func, ValueError, r"(?s)\bout\b.*share memory", _image(), _kernel(),
                         out=out)
    # Layouts numpy makes are accepted: transposed, every other row, reversed.
    for out in (np.zeros((6, 5)).T, np.zeros((10, 6))[::2], np.zeros((5, 6))[::-1, ::-1]):
        result = func(_image(), _kernel(), out=out)
        assert result is out


def test_fillvalue_beyond_int64(func):
    """A Python int too large for int64 is a float fill (as scipy takes it); one too large for
    a float is refused by name."""
    np.testing.assert_array_equal(func(_image(), _kernel(), mode="full", fillvalue=2**70),
                                  func(_image(), _kernel(), mode="full", fillvalue=2.0**70))
    raises_untouched(func, ValueError, r"\bfillvalue\b.*too large", _image(), _kernel(),
                     mode="full", fillvalue=10**400)


def test_out_read_only(func):
    out = np.zeros((5, 6))
    out.flags.writeable = False
    raises_untouched(func, ValueError, r"(?s)\bout\b.*read-only", _image(), _kernel(), out=out)


@pytest.mark.parametrize(
    "out", [[[0.0] * 6] * 5, (0.0,), 0.0, "out", memoryview(np.zeros((5, 6)))],
    ids=["list", "tuple", "float", "str", "memoryview"],
)
def test_out_not_ndarray(func, out):
    raises_untouched(func, TypeError, r"\bout\b", _image(), _kernel(), out=out)


def test_out_is_keyword_only(func):
    with pytest.raises(TypeError):
        func(_image(), _kernel(), "valid", np.zeros((5, 6)))


# ----------------------------------------------------------------------------- workers
def test_workers_zero(func):
    raises_untouched(func, ValueError, r"\bworkers\b", _image(), _kernel(), workers=0)


@pytest.mark.parametrize(
    "workers", [1.0, 2.5, True, False, np.bool_(True), "2", np.float64(2.0), [2], 1j],
    ids=["1.0", "2.5", "True", "False", "np.bool_(True)", "'2'", "np.float64(2.0)", "[2]", "1j"],
)
def test_workers_wrong_type(func, workers):
    raises_untouched(func, TypeError, r"\bworkers\b", _image(), _kernel(), workers=workers)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@pytest.mark.parametrize("extra", [1, 2, 1000], ids=lambda e: f"-(cpus+{e})")
def test_workers_too_negative(func, extra):
    # -cpus means one thread; one further back would mean zero threads.
    raises_untouched(func, ValueError, r"\bworkers\b", _image(), _kernel(),
                     workers=-(_cpu_count() + extra))


def test_workers_is_keyword_only(func):
    with pytest.raises(TypeError):
        func(_image(), _kernel(), "valid", None, 2)


# ----------------------------------------------------------------------------- misc
def test_no_partial_write_to_out_on_error(func):
    """A call rejected for its workers value must not have touched a valid out."""
    out = np.full((5, 6), 7.0)
    raises_untouched(func, ValueError, r"\bworkers\b", _image(), _kernel(), out=out, workers=0)
    assert np.all(out == 7.0)


def test_missing_arguments(func):
    with pytest.raises(TypeError):
        func(_image())
