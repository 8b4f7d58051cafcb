"""out= (the 2-D faces): the result written into any writeable array of the result's shape and
dtype, in any layout, returned as it is; out overlapping the inputs (the answer is as if
computed into a new array); and the array fastcorr allocates when out= is not given.

Bad out= values are in test_errors.py.
"""
import numpy as np
import pytest

from conftest import OUT_LAYOUTS, to_layout
from faces import CORRELATE2D, FACES_2D, check, dtype_id, random_array
from oracle import assert_within_bound

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


def nan_out(shape, dtype, layout):
    """An out= of `shape` in `layout`, full of NaN, so an output left unwritten shows."""
    return to_layout(np.full(shape, np.nan, dtype), layout)


def result_shape(in1, in2, mode):
    (m, n), (p, q) = np.shape(in1), np.shape(in2)
    return {"valid": (abs(m - p) + 1, abs(n - q) + 1), "same": (m, n),
            "full": (m + p - 1, n + q - 1)}[mode]


@pytest.mark.parametrize("out_layout", OUT_LAYOUTS)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_is_written_and_returned(face, dtype, mode, out_layout):
    rng = np.random.default_rng(51)
    image = random_array(rng, (13, 29), dtype)
    kernel = random_array(rng, (4, 3), dtype)
    pairs = [(image, kernel)] + ([(kernel, image)] if mode == "valid" else [])  # in2 larger
    for in1, in2 in pairs:
        out = nan_out(result_shape(in1, in2, mode), dtype, out_layout)
        assert check(face, in1, in2, dtype, mode, "symm", out=out) is out


def test_out_with_promoted_dtype():
    image = np.arange(30, dtype=np.int16).reshape(5, 6)
    kernel = np.ones((2, 2), dtype=np.float16)
    out = np.empty((4, 5), dtype=np.float64)
    assert check(CORRELATE2D, image, kernel, np.float64, "valid", out=out) is out


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_layouts_numpy_makes_are_accepted(face):
    """Transposed, every other row, reversed: one element per value, so accepted."""
    image = np.arange(48, dtype=np.float64).reshape(6, 8) / 7
    kernel = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    expected = face(image, kernel, "valid")
    for out in (np.zeros((6, 5)).T, np.zeros((10, 6))[::2], np.zeros((5, 6))[::-1, ::-1]):
        assert face(image, kernel, "valid", out=out) is out
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kind", ["matrix", "masked"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_subclass_out_is_written_and_returned(face, kind):
    """An ndarray subclass as out= is written and returned as it is (the mask of a masked out
    left alone), or rejected with an error naming out; never an internal error or a
    half-written out."""
    image = np.arange(48, dtype=np.float64).reshape(6, 8) / 7
    kernel = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    expected = face(image, kernel, "valid")
    out = np.matrix(np.zeros((5, 6))) if kind == "matrix" else np.ma.zeros((5, 6))
    try:
        result = face(image, kernel, "valid", out=out)
    except (TypeError, ValueError) as exc:
        assert "out" in str(exc).split() or "out=" in str(exc) or str(exc).startswith("out "), (
            f"out={type(out).__name__} rejected with an unclear message: {exc!r}")
        assert not np.asarray(out).any(), "out half-written by a rejected call"
        return
    assert result is out
    np.testing.assert_array_equal(np.asarray(out), expected)


# ----------------------------------------------------------------------------- aliasing
def _aliasing_check(face, in1, in2, out, dtype, mode="valid", boundary="fill"):
    """Compute into `out`, which overlaps an input; compare with the oracle on copies."""
    a, b = np.array(in1, copy=True), np.array(in2, copy=True)
    expected = face.exact(a, b, dtype, mode, boundary)
    bound = face.bound(a, b, dtype, mode, boundary)
    result = face(in1, in2, mode, boundary, out=out)
    assert result is out
    assert_within_bound(result, expected, bound, f"{face.name} {mode} with aliased out")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_is_in1_itself(face, dtype):
    """With a 1x1 kernel ('valid') or in 'same' mode the result has in1's shape, so out can be
    in1's very memory: the inputs must not change until every output is computed."""
    rng = np.random.default_rng(61)
    for layout in OUT_LAYOUTS:
        image = to_layout(random_array(rng, (9, 21), dtype), layout)
        _aliasing_check(face, image, np.array([[-1.5]], dtype=dtype), image, dtype)
        image = to_layout(random_array(rng, (9, 21), dtype), layout)
        kernel = random_array(rng, (4, 3), dtype)
        _aliasing_check(face, image, kernel, image, dtype, "same", "symm")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_same_mode_in_place(frame, face, dtype):
    """'same' into in1 itself, every boundary, on every frame road."""
    rng = np.random.default_rng(111)
    for boundary in ("fill", "wrap", "symm"):
        image = random_array(rng, (15, 19), dtype)
        kernel = random_array(rng, (4, 3), dtype)
        _aliasing_check(face, image, kernel, image, dtype, "same", boundary)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_overlaps_in1(face, dtype):
    rng = np.random.default_rng(62)
    kernel = random_array(rng, (3, 4), dtype)
    oh, ow = 12, 33
    # out is the contiguous start of in1's buffer: every output overwrites inputs that later
    # outputs still need if written in place.
    image = random_array(rng, (oh + 2, ow + 3), dtype)
    out = image.reshape(-1)[: oh * ow].reshape(oh, ow)
    _aliasing_check(face, image, kernel, out, dtype)
    # out is a shifted window of in1 (non-contiguous, overlapping it with an offset).
    image = random_array(rng, (oh + 2, ow + 3), dtype)
    _aliasing_check(face, image, kernel, image[1:1 + oh, 2:2 + ow], dtype)
    # in1 is a reversed view of the buffer out lives in.
    buf = random_array(rng, (oh + 2, ow + 3), dtype)
    _aliasing_check(face, buf[::-1, ::-1], kernel, buf[:oh, :ow], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_overlaps_kernel(face, dtype):
    rng = np.random.default_rng(63)
    # Kernel and out both C-contiguous views of one flat buffer, overlapping: a kernel that is
    # read while out is written would be corrupted mid-computation.
    buf = random_array(rng, 80, dtype)
    image = random_array(rng, (10, 12), dtype)
    _aliasing_check(face, image, buf[:12].reshape(3, 4), buf[5:5 + 8 * 9].reshape(8, 9), dtype)
    # Non-contiguous overlapping views.
    buf = random_array(rng, (9, 9), dtype)
    image = random_array(rng, (10, 10), dtype)
    _aliasing_check(face, image, buf[:4, :4], buf[2:, 2:], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_overlaps_in2_when_in2_larger(face, dtype):
    """After scipy's swap in2 is the image: out inside in2 must still give the right answer."""
    rng = np.random.default_rng(64)
    small = random_array(rng, (3, 5), dtype)
    for start in (0, 7, 30):
        buf = random_array(rng, 12 * 15 + 40, dtype)
        big = buf[:180].reshape(12, 15)
        _aliasing_check(face, small, big, buf[start:start + 110].reshape(10, 11), dtype)
    big = random_array(rng, (12, 15), dtype)
    _aliasing_check(face, small, big, big[:10, :11], dtype)
    big = random_array(rng, (12, 15), dtype)
    _aliasing_check(face, small, big, big[2:, 4:], dtype)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_complex_out_and_aliasing(face):
    rng = np.random.default_rng(206)
    image = random_array(rng, (10, 12), np.complex64)
    kernel = random_array(rng, (3, 3), np.complex64)
    out = np.full((16, 30), np.nan, np.complex64)[::2, ::3]
    assert check(face, image, kernel, np.complex64, "valid", out=out) is out
    _aliasing_check(face, image, kernel, image, np.complex64, "same")


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_out_of_a_stack(face):
    """out= for a stack: any layout of the result's shape, batch axes permuted included, and
    out as in1 itself."""
    rng = np.random.default_rng(404)
    stack = random_array(rng, (3, 4, 9, 10), np.float32)
    kernel = random_array(rng, (1, 4, 3, 3), np.float32)
    for out in (np.empty((3, 4, 9, 10), np.float32),
                np.empty((4, 3, 9, 10), np.float32).transpose(1, 0, 2, 3),
                np.empty((3, 4, 10, 9), np.float32).swapaxes(-1, -2),
                to_layout(np.zeros((3, 4, 9, 10), np.float32), "mixed")):
        assert check(face, stack, kernel, np.float32, "same", out=out, axes=(-2, -1)) is out
    expected = face.exact(stack, kernel, np.float32, "same")
    bound = face.bound(stack, kernel, np.float32, "same")
    assert face(stack, kernel, "same", out=stack, axes=(-2, -1)) is stack
    assert_within_bound(stack, expected, bound, "out=in1, a stack")


# ----------------------------------------------------------------------------- no out=
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_result_is_a_new_array(face):
    """Without out=, the result never aliases an input (not even a 1x1-kernel result)."""
    image = np.arange(12.0).reshape(3, 4)
    kernel = np.ones((1, 1))
    result = face(image, kernel, "valid")
    assert not np.shares_memory(result, image)
    assert not np.shares_memory(result, kernel)
    result[...] = -1
    np.testing.assert_array_equal(image, np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=dtype_id)
def test_result_placed_apart_from_the_input(dtype, monkeypatch):
    """A result fastcorr allocates (of at least 1 MiB) is an ordinary C-contiguous, writeable
    array whose interior starts half a page (mod 4 KiB) from in1's data, the placement that
    keeps the kernel's loads clear of its pending stores (execute.empty_apart); smaller results
    are plain np.empty."""
    from fastcorr._engine import execute

    rng = np.random.default_rng(107)
    # 1 MiB and more of float32 (or of each float64 part of a complex128 result).
    shape = (520, 512) if dtype == np.float32 else (260, 512)
    image = random_array(rng, shape, dtype)
    kernel = random_array(rng, (5, 5), dtype)
    captured = []
    real = execute.empty_apart

    def spy(shape_, dtype_, x, first):
        y = real(shape_, dtype_, x, first)
        captured.append((y, x, first))
        return y

    monkeypatch.setattr(execute, "empty_apart", spy)
    for face in FACES_2D:
        for mode in ("same", "full"):
            result = face(image, kernel, mode)
            assert result.flags.c_contiguous and result.flags.writeable
    assert captured
    for y, x, first in captured:
        assert (y.ctypes.data + first * y.itemsize - x.ctypes.data) % 4096 == 2048
    small = real((3, 4), np.float64, image.real, 0)
    assert small.shape == (3, 4) and small.base is None
    # 64 KiB: under the size from which results are placed.
    assert CORRELATE2D(image[:64, :256], kernel, "same").base is None
