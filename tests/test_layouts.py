"""Memory layouts and array kinds: every face accepts its inputs in any layout the one
generator (conftest.to_layout) makes -- C, F, strided, negative, mixed, read-only, byte-swapped,
unaligned, a zero stride -- for single images, signals and stacks, and array subclasses; the
layout never changes the answer.

Results are checked against the oracle and the peer (faces.check); "the same values in C order
give the same result" is checked against fastcorr itself within twice the bound, since the two
calls may legitimately take different roads (a copy, a view read in place).
"""
import numpy as np
import pytest

from conftest import LAYOUTS, layouts_for, to_layout
from faces import CORRELATE2D, FACES, FACES_1D, FACES_2D, check, dtype_id, random_array
from oracle import assert_within_bound

FLOATS = [np.float32, np.float64]

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("in2_layout", LAYOUTS, ids=lambda layout: f"in2={layout}")
@pytest.mark.parametrize("in1_layout", LAYOUTS, ids=lambda layout: f"in1={layout}")
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_layouts_2d(face, in1_layout, in2_layout, dtype):
    rng = np.random.default_rng(11)
    in1 = to_layout(random_array(rng, (14, 27), dtype), in1_layout)
    in2 = to_layout(random_array(rng, (3, 5), dtype), in2_layout)
    for mode in ("valid", "same"):
        result = check(face, in1, in2, dtype, mode, "symm")
        # The same values in C order give the same result.
        expected = face(np.array(in1), np.array(in2), mode, "symm")
        assert_within_bound(result, expected,
                            2 * face.bound(in1, in2, dtype, mode, "symm"), "layout")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("in2_layout", LAYOUTS, ids=lambda layout: f"in2={layout}")
@pytest.mark.parametrize("in1_layout", LAYOUTS, ids=lambda layout: f"in1={layout}")
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_layouts_2d_in2_larger(face, in1_layout, in2_layout, dtype):
    rng = np.random.default_rng(12)
    small = to_layout(random_array(rng, (4, 3), dtype), in1_layout)
    big = to_layout(random_array(rng, (11, 26), dtype), in2_layout)
    check(face, small, big, dtype, "valid")


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_full_and_same(layout, boundary):
    """The frame reads the image through its strides too."""
    rng = np.random.default_rng(109)
    image = to_layout(random_array(rng, (13, 22), np.float64), layout)
    kernel = to_layout(random_array(rng, (4, 3), np.float64), layout)
    for face in FACES_2D:
        for mode in ("full", "same"):
            check(face, image, kernel, np.float64, mode, boundary, 0.5)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "negative", "nonnative", "broadcast"])
def test_layouts_integer_and_half_inputs(layout):
    rng = np.random.default_rng(13)
    image = to_layout(random_array(rng, (9, 12), np.int16), layout)
    kernel = to_layout(random_array(rng, (3, 2), np.float16), layout)
    check(CORRELATE2D, image, kernel, np.float64, "valid")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_complex(layout):
    """Complex inputs are split into real parts: through any layout."""
    rng = np.random.default_rng(205)
    image = to_layout(random_array(rng, (11, 14), np.complex128), layout)
    kernel = to_layout(random_array(rng, (3, 2), np.complex64), layout)
    for face in FACES_2D:
        for mode in ("valid", "same"):
            check(face, image, kernel, np.complex128, mode)


@pytest.mark.parametrize("layout", layouts_for(1))
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_layouts_1d(face, layout):
    rng = np.random.default_rng(307)
    a = to_layout(random_array(rng, 2000, np.float64), layout)
    v = random_array(rng, 37, np.float64)
    check(face, a, v, np.float64, "same")
    check(face, v[::-2], a, np.float64, "valid")
    check(face, a, to_layout(v, layout), np.float64, "full")


# ----------------------------------------------------------------------------- stacks
def _stack_views(base):
    """Stacks that are not one block of memory, beyond to_layout's: every other image, the
    batch axes transposed, a broadcast (stride-0) batch of one image."""
    return {"images::2": base[::2], "batch transposed": base.transpose(1, 0, 2, 3),
            "rows reversed, columns cut": base[:, :, ::-1, 1:],
            "one image broadcast": np.broadcast_to(base[0, 0], (3,) + base.shape[2:])}


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_layouts_of_stacks_2d(face):
    rng = np.random.default_rng(403)
    base = random_array(rng, (6, 4, 9, 10), np.float64)
    stacks = {layout: to_layout(base, layout) for layout in LAYOUTS}
    stacks.update(_stack_views(base))
    for name, stack in stacks.items():
        kernel = random_array(rng, (1,) * (stack.ndim - 2) + (3, 3), np.float64)
        check(face, stack, kernel, np.float64, "same", "wrap", axes=(-2, -1), context=name)


@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_layouts_of_stacks_1d(face):
    rng = np.random.default_rng(407)
    base = random_array(rng, (4, 3, 500), np.float32)
    stacks = {layout: to_layout(base, layout) for layout in LAYOUTS}
    stacks.update({"rows::2": base[::2], "batch transposed": base.transpose(1, 0, 2),
                   "reversed": base[..., ::-1], "every other sample": base[..., ::2],
                   "one signal broadcast": np.broadcast_to(base[0, 0], (5, 500))})
    for name, stack in stacks.items():
        v = random_array(rng, (1,) * (stack.ndim - 1) + (9,), np.float32)
        check(face, stack, v, np.float32, "same", axes=-1, context=name)


# ----------------------------------------------------------------------------- subclasses
# Documented behaviour of array subclasses (README):
# - masked arrays are used as plain arrays: the mask is ignored and the data underneath it
#   takes part in the sums; the result is a plain ndarray (fill masked entries first,
#   ``a.filled(0)``, for another meaning);
# - np.matrix inputs are used as 2-D arrays; the result is a plain ndarray.
def _pair(face):
    image = np.arange(48, dtype=np.float64).reshape(6, 8) / 7
    kernel = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    if face.core_ndim == 1:
        return image.ravel(), kernel.ravel()
    return image, kernel


@pytest.mark.parametrize("arg", ["in1", "in2"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_masked_array_mask_is_ignored(face, arg):
    image, kernel = _pair(face)
    masked = np.ma.masked_array(image if arg == "in1" else kernel)
    masked[1] = np.ma.masked  # keeps the data under the mask
    masked.data[1] = 1e6  # what is under the mask is used
    plain_image = masked.data if arg == "in1" else image
    plain_kernel = masked.data if arg == "in2" else kernel
    args = (masked, kernel) if arg == "in1" else (image, masked)
    result = face(*args, "valid")
    assert type(result) is np.ndarray and not isinstance(result, np.ma.MaskedArray)
    np.testing.assert_array_equal(result, face(plain_image, plain_kernel, "valid"))
    assert np.all(masked.mask[1]) and np.all(masked.data[1] == 1e6)  # input untouched


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_masked_array_integer_data(face):
    data = np.arange(30).reshape(5, 6)
    masked = np.ma.masked_array(data, mask=data % 4 == 0)
    result = face(masked, np.ones((2, 2), np.int64), "valid")
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, face(data, np.ones((2, 2)), "valid"))


@pytest.mark.parametrize("arg", ["in1", "in2", "both"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_matrix_inputs(face, arg):
    image, kernel = _pair(face)
    in1 = np.matrix(image) if arg in ("in1", "both") else image
    in2 = np.matrix(kernel) if arg in ("in2", "both") else kernel
    result = face(in1, in2, "valid")
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, face(image, kernel, "valid"))


def test_generator_covers_every_layout_in_n_dimensions():
    """The generator itself: every layout of a 1-D signal, a 2-D image and a 3-D stack holds
    the values (or, for 'broadcast', the first item repeated) and has its property."""
    rng = np.random.default_rng(0)
    for shape in ((7,), (4, 5), (3, 4, 5), (1, 6), (6, 1)):
        values = random_array(rng, shape, np.float32)
        for layout in layouts_for(len(shape)):
            out = to_layout(values, layout)
            assert out.shape == shape
            if layout != "broadcast":
                assert not np.shares_memory(out, values)
    with pytest.raises(ValueError, match="two axes"):
        to_layout(np.ones(5), "mixed")
    assert to_layout(np.ones((2, 3)), "strided", steps=(3, 2)).strides == (3 * 8 * 8, 16)
