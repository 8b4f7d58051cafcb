"""Unusual and bad inputs not covered by test_errors.py (issue 5, guarantee 9).

Documented behaviour of array subclasses, as it is today:

- **Masked arrays** (``numpy.ma.MaskedArray``) are used as plain arrays: the mask is ignored
  and the data underneath it (whatever it is) takes part in the sums; the result is a plain
  ``ndarray`` with no mask.  Fill masked entries first (``a.filled(0)``) for another meaning.
- **np.matrix** inputs are used as 2-D arrays; the result is a plain ``ndarray``.
- An ``out=`` that is an ndarray subclass (matrix, masked array) is written and returned as
  it is (the mask of a masked ``out`` is left alone), or rejected with an error naming out.

Everything that cannot be read as a 2-D numeric array is a TypeError or ValueError whose
message names the offending argument.
"""
import numpy as np
import pytest

import fastcorr
from reference import assert_within_bound, correlate2d_valid_reference, error_bound
from test_errors import _image, _kernel, func  # noqa: F401  (func: the same fixture)

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


# ----------------------------------------------------------------------------- subclasses
@pytest.mark.parametrize("arg", ["in1", "in2"])
def test_masked_array_mask_is_ignored(func, arg):
    image, kernel = _image(), _kernel()
    masked = np.ma.masked_array(image if arg == "in1" else kernel)
    masked[0, 1] = np.ma.masked  # keeps the data under the mask
    masked.data[0, 1] = 1e6  # what is under the mask is used
    plain_image = masked.data if arg == "in1" else image
    plain_kernel = masked.data if arg == "in2" else kernel
    args = (masked, kernel) if arg == "in1" else (image, masked)
    result = func(*args)
    assert type(result) is np.ndarray and not isinstance(result, np.ma.MaskedArray)
    np.testing.assert_array_equal(result, func(plain_image, plain_kernel))
    assert masked.mask[0, 1] and masked.data[0, 1] == 1e6  # input untouched, mask kept


def test_masked_array_integer_data(func):
    data = np.arange(30).reshape(5, 6)
    masked = np.ma.masked_array(data, mask=data % 4 == 0)
    result = func(masked, np.ones((2, 2), np.int64))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, func(data, np.ones((2, 2))))


@pytest.mark.parametrize("arg", ["in1", "in2", "both"])
def test_matrix_inputs(func, arg):
    image, kernel = _image(), _kernel()
    in1 = np.matrix(image) if arg in ("in1", "both") else image
    in2 = np.matrix(kernel) if arg in ("in2", "both") else kernel
    result = func(in1, in2)
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, func(image, kernel))


@pytest.mark.parametrize("kind", ["matrix", "masked"])
def test_subclass_out_is_written_and_returned(func, kind):
    """An ndarray subclass as out= is either written and returned (today's behaviour), or
    rejected with an error naming out; never an internal error or a half-written out."""
    expected = func(_image(), _kernel())
    out = np.matrix(np.zeros((5, 6))) if kind == "matrix" else np.ma.zeros((5, 6))
    try:
        result = func(_image(), _kernel(), out=out)
    except (TypeError, ValueError) as exc:
        assert "out" in str(exc).split() or "out=" in str(exc) or str(exc).startswith("out "), (
            f"out={type(out).__name__} rejected with an unclear message: {exc!r}")
        assert not np.asarray(out).any(), "out half-written by a rejected call"
        return
    assert result is out
    np.testing.assert_array_equal(np.asarray(out), expected)


# ----------------------------------------------------------------------------- non-arrays
@pytest.mark.parametrize(
    "bad, exc",
    [
        (None, TypeError),
        ({}, TypeError),
        ({1: 2}, TypeError),
        (object(), TypeError),
        ("abc", TypeError),
        (b"abcd", TypeError),
        ((x for x in range(3)), TypeError),
        ([["1", "2"], ["3", "4"]], TypeError),
        ([[1.0, None], [2.0, 3.0]], TypeError),
        (np.array([[1, "a"]], dtype=object), TypeError),
        ([[__import__("decimal").Decimal(1)]], TypeError),
        ([[__import__("fractions").Fraction(1, 2)]], TypeError),
        (np.zeros((2, 2), dtype=[("a", "f8")]), TypeError),
        (np.zeros((2, 2), dtype="V8"), TypeError),
        (3.0, ValueError),
        (np.float64(2.0), ValueError),
        ([1.0, 2.0], ValueError),
    ],
    ids=["None", "dict", "dict1", "object", "str", "bytes", "generator", "str-lists",
         "None-in-list", "object-mixed", "Decimal", "Fraction", "structured", "void",
         "scalar", "np-scalar", "1-D"],
)
@pytest.mark.parametrize("arg", ["in1", "in2"])
def test_not_a_2d_numeric_array(func, bad, exc, arg):
    args = (bad, _kernel()) if arg == "in1" else (_image(), bad)
    with pytest.raises(exc, match=rf"\b{arg}\b"):
        func(*args)


# ----------------------------------------------------------------------------- out=
def test_out_nonnative_byte_order(func):
    with pytest.raises(TypeError, match=r"\bout\b"):
        func(_image(), _kernel(), out=np.zeros((5, 6), ">f8" if np.little_endian else "<f8"))


@pytest.mark.parametrize("shape", [(), (0, 6), (5, 0), (0,)], ids=repr)
def test_out_zero_size_or_0d(func, shape):
    with pytest.raises(ValueError, match=r"\bout\b"):
        func(_image(), _kernel(), out=np.zeros(shape))


@pytest.mark.parametrize("layout", ["F", "unaligned", "negative", "strided"])
def test_out_layouts_are_written_correctly(func, layout):
    """Any writeable out of the right shape and dtype works, in any layout."""
    expected = func(_image(), _kernel())
    if layout == "F":
        out = np.zeros((5, 6), order="F")
    elif layout == "unaligned":
        out = np.empty(5 * 6 * 8 + 1, np.uint8)[1:].view(np.float64).reshape(5, 6)
    elif layout == "negative":
        out = np.zeros((5, 6))[::-1, ::-1]
    else:
        out = np.zeros((10, 18))[::2, ::3]
    assert func(_image(), _kernel(), out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_out_overlapping_an_input(func):
    """out may overlap the inputs (documented): the result is as if computed into a new array."""
    image = _image()
    expected = func(image, _kernel())
    func(image, _kernel(), out=image[:5, :6])
    np.testing.assert_array_equal(image[:5, :6], expected)


# ----------------------------------------------------------------------------- workers
@pytest.mark.parametrize("workers", [np.int8(1), np.int64(2), np.uint64(2**64 - 1), 2**70],
                         ids=["int8", "int64", "uint64-max", "2**70"])
def test_workers_numpy_and_huge_ints(func, workers):
    """Any integer type is accepted; huge counts are capped, not an overflow."""
    result = func(_image(), _kernel(), workers=workers)
    expected = correlate2d_valid_reference(_image(), _kernel(), np.float64)
    if func is fastcorr.convolve2d:
        expected = correlate2d_valid_reference(_image(), _kernel()[::-1, ::-1], np.float64)
    assert_within_bound(result, expected, error_bound(_image(), _kernel(), np.float64))


@pytest.mark.parametrize("workers", [float("inf"), float("nan"), -2**70, None.__class__],
                         ids=["inf", "nan", "-2**70", "NoneType"])
def test_workers_bad_values(func, workers):
    with pytest.raises((TypeError, ValueError), match=r"\bworkers\b"):
        func(_image(), _kernel(), workers=workers)
