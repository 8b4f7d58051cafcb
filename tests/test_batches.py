"""Stacks, axes= and the dimensionality rules.

As scipy.signal.correlate2d, the 2-D faces take two 2-D arrays; anything else without axes= is
a ValueError (an (H, W, 3) colour image is not silently read as H images of W x 3 pixels).
Stacks are asked for with axes=: it names in1's two image axes, and in2 has either in1's number
of dimensions (the axes apply to it too and the other axes broadcast NumPy-style, the rule of
scipy.signal.fftconvolve) or exactly two (one kernel for every image).  The 1-D faces follow
the same rule with one axis: without axes both inputs are 1-D (numpy.convolve also takes a
scalar as one sample), with axes= v has a's number of dimensions or is 1-D.

Each item of a stacked result is checked against the oracle and the peer for that item alone
(faces.check), with the tolerances of test_modes.py.
"""
import numpy as np
import pytest

from faces import CONVOLVE, CORRELATE, CORRELATE2D, FACES, FACES_1D, FACES_2D, check, \
    dtype_id, random_array
from oracle import assert_within_bound

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


# ----------------------------------------------------------------------------- 2-D stacks
# (in1 shape, in2 shape), in2 with in1's number of dimensions: a kernel per image, NumPy
# broadcasting of the leading dimensions both ways (an image shared by a stack of kernels
# too), leading 1s, a kernel taller than the images.
SHAPES_2D = [
    ((4, 9, 11), (1, 3, 2)),
    ((4, 9, 11), (4, 3, 2)),
    ((2, 3, 8, 10), (1, 3, 4, 3)),
    ((2, 1, 8, 10), (1, 3, 4, 3)),
    ((1, 9, 11), (5, 3, 3)),
    ((1, 1, 7, 9), (1, 1, 2, 2)),
    ((3, 5, 6), (1, 7, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_stacks(frame, face, mode, dtype):
    rng = np.random.default_rng(400)
    for shape1, shape2 in SHAPES_2D:
        image = random_array(rng, shape1, dtype)
        kernel = random_array(rng, shape2, dtype)
        if mode == "valid" and shape2[-2] > shape1[-2]:
            with pytest.raises(ValueError, match="at least as large"):
                face(image, kernel, "valid", axes=(-2, -1))
            continue
        for boundary in (["fill", "wrap", "symm"] if mode != "valid" else ["fill"]):
            check(face, image, kernel, dtype, mode, boundary, 0.5, workers=2, axes=(-2, -1))


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_one_kernel_for_every_image(frame, face, mode, dtype):
    """in2 exactly 2-D with a stack: one kernel for every image, whatever in1's number of
    dimensions (correlate2d(stack, k, axes=(-2, -1)))."""
    rng = np.random.default_rng(409)
    kernel = random_array(rng, (3, 4), dtype)
    for shape in ((5, 9, 11), (2, 3, 8, 10), (1, 7, 9), (4, 3, 4)):
        stack = random_array(rng, shape, dtype)
        if mode == "valid" and shape[-2] < 3:
            continue
        check(face, stack, kernel, dtype, mode, "symm", workers=2, axes=(-2, -1))


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_stack_with_in2_larger(face):
    """scipy's valid-mode swap applies to every item: in2 the larger in the image axes."""
    rng = np.random.default_rng(401)
    small = random_array(rng, (3, 3, 4), np.complex128)
    big = random_array(rng, (3, 10, 12), np.complex128)
    check(face, small, big, np.complex128, "valid", axes=(-2, -1))
    check(face, small[:1], big, np.complex128, "valid", axes=(-2, -1))


def test_2d_many_small_images_multithreaded(frame):
    rng = np.random.default_rng(402)
    stack = random_array(rng, (300, 32, 32), np.float32)
    kernel = random_array(rng, (1, 3, 3), np.float32)
    for mode in ("valid", "same"):
        check(CORRELATE2D, stack, kernel, np.float32, mode, "symm", workers=2, axes=(-2, -1))


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_stack_of_one_equals_single_image(face):
    rng = np.random.default_rng(405)
    image = random_array(rng, (20, 30), np.float64)
    kernel = random_array(rng, (3, 4), np.float64)
    for mode in ("valid", "same", "full"):
        single = face(image, kernel, mode, "symm")
        stacked = face(image[None, None], kernel[None, None], mode, "symm", axes=(-2, -1))
        assert stacked.shape == (1, 1) + single.shape
        assert_within_bound(stacked[0, 0], single,
                            2 * face.bound(image, kernel, np.float64, mode, "symm"), mode)


# ----------------------------------------------------------------------------- core extension
@pytest.fixture
def core_extension_calls(monkeypatch):
    """Counts the calls reaching _core.correlate_extended_batch (the small-image frame road),
    so a test can show it exercised that road and not one of the others."""
    from fastcorr import _core

    calls = []
    real = _core.correlate_extended_batch

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(_core, "correlate_extended_batch", counted)
    return calls


# (stack shape, kernel shape): odd and even kernels, and kernels larger than the images in
# rows, in columns and in both.
EXTENDED_SHAPES = [((5, 9, 11), (3, 3)), ((5, 9, 11), (4, 2)), ((4, 8, 13), (5, 6)),
                   ((3, 5, 12), (8, 3)), ((3, 12, 4), (3, 7)), ((4, 3, 4), (7, 9)),
                   ((3, 1, 1), (3, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_small_images_extended_in_core(simd_path, core_extension_calls, face, mode, dtype):
    """Stacks of small images, with the frame from images the core extends itself: every
    boundary (a nonzero fill value), odd/even kernels and kernels larger than the image, one
    kernel and a kernel per image, stacks in several layouts, on each SIMD path."""
    from conftest import to_layout

    rng = np.random.default_rng(410)
    fill = 1.5 - 0.75j if np.dtype(dtype).kind == "c" else 1.5
    for shape1, shape2 in EXTENDED_SHAPES:
        base = random_array(rng, shape1, dtype)
        kernels = {"one kernel": random_array(rng, (1,) + shape2, dtype),
                   "per-image kernels": random_array(rng, shape1[:1] + shape2, dtype)}
        for layout in ("C", "strided", "negative", "mixed", "F"):
            stack = to_layout(base, layout)
            for kernel in kernels.values():
                for boundary in ("fill", "wrap", "symm"):
                    calls = len(core_extension_calls)
                    check(face, stack, kernel, dtype, mode, boundary, fill, workers=2,
                          axes=(-2, -1))
                    assert len(core_extension_calls) > calls, f"{layout}: core road not used"


def test_2d_small_images_extended_in_core_threads(core_extension_calls):
    """Enough images for several chunks' worth of threads, on 1 and 2 threads, and out= a
    strided view the core writes in place."""
    from faces import CONVOLVE2D

    rng = np.random.default_rng(411)
    stack = random_array(rng, (200, 16, 20), np.float64)
    kernel = random_array(rng, (200, 5, 4), np.float64)
    for workers in (1, 2):
        check(CONVOLVE2D, stack, kernel, np.float64, "same", "symm", workers=workers,
              axes=(-2, -1))
        out = np.full((200, 32, 20), np.nan)[:, ::2]
        check(CORRELATE2D, stack, kernel, np.float64, "full", "wrap",
              out=np.empty((200, 20, 23)), workers=workers, axes=(-2, -1))
        assert check(CORRELATE2D, stack, kernel, np.float64, "same", "fill", -2.0, out=out,
                     workers=workers, axes=(-2, -1)) is out
    assert core_extension_calls


@pytest.mark.parametrize("mode", ["full", "same"])
def test_2d_few_images_extended_in_core_bands(simd_path, core_extension_calls, mode):
    """Fewer images than threads, with enough work for both: each image is cut into bands of
    rows that extend their own rows (and share P - 1 with the next), on each SIMD path."""
    rng = np.random.default_rng(412)
    for count, image_shape, kernel_shape, dtype in [(1, (64, 80), (9, 7), np.float32),
                                                     (2, (45, 50), (6, 8), np.float64),
                                                     (1, (30, 20), (40, 9), np.float32)]:
        stack = random_array(rng, (count,) + image_shape, dtype)
        kernel = random_array(rng, (1,) + kernel_shape, dtype)
        for boundary in ("fill", "wrap", "symm"):
            check(CORRELATE2D, stack, kernel, dtype, mode, boundary, -0.5, workers=2,
                  axes=(-2, -1))
    assert core_extension_calls


# ----------------------------------------------------------------------------- 1-D stacks
# (a shape, v shape), v with a's number of dimensions: per-signal kernels, broadcasting both
# ways, v longer than the signals (numpy's swap rules per item), a kernel fold with leftover
# taps over the stack.
SHAPES_1D = [
    ((5, 300), (1, 7)),
    ((5, 300), (5, 7)),
    ((1, 300), (4, 7)),
    ((2, 3, 200), (1, 3, 16)),
    ((3, 6), (3, 9)),
    ((2, 2100), (1, 200)),
    ((3, 1500), (3, 130)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_stacks(face, mode, dtype):
    rng = np.random.default_rng(406)
    for shape1, shape2 in SHAPES_1D:
        check(face, random_array(rng, shape1, dtype), random_array(rng, shape2, dtype), dtype,
              mode, workers=2, axes=-1)


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_one_kernel_for_every_signal(face, mode):
    """v 1-D with a stack of signals and axes=: one kernel for every signal."""
    rng = np.random.default_rng(413)
    for shape, k in (((5, 300), 7), ((2, 2100), 200), ((2, 3, 40), 50)):
        check(face, random_array(rng, shape, np.float64), random_array(rng, k, np.float64),
              np.float64, mode, workers=2, axes=-1)


# ----------------------------------------------------------------------------- axes=
@pytest.mark.parametrize("axes", [(0, 2), (2, 0), (-3, -1), (1, 2)], ids=str)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_axes(face, axes):
    """The images lie along `axes` (in that order: the first is the row axis), every other
    axis broadcasts; the result keeps in1's axis order."""
    rng = np.random.default_rng(408)
    image = random_array(rng, (4, 3, 9), np.float64)
    kernel = random_array(rng, (3, 3, 2), np.float64)
    kernel = kernel[:, :1] if axes != (1, 2) else kernel[:1]
    normal = tuple(a % 3 for a in axes)
    last = (1, 2)
    result = face(image, kernel, "full", "symm", axes=axes)
    # The same call with the image axes moved last by hand, checked item by item.
    expected = check(face, np.moveaxis(image, normal, last), np.moveaxis(kernel, normal, last),
                     np.float64, "full", "symm", axes=last)
    np.testing.assert_array_equal(result, np.moveaxis(expected, last, normal))
    out = np.full(result.shape, np.nan)
    assert face(image, kernel, "full", "symm", axes=axes, out=out) is out
    np.testing.assert_array_equal(out, result)


@pytest.mark.parametrize("axes", [(0, 2), (2, 0), (-3, -1), (1, 2)], ids=str)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_axes_one_kernel(face, axes):
    """in2 exactly 2-D with axes=: one kernel for every image, along in1's axes."""
    rng = np.random.default_rng(418)
    image = random_array(rng, (4, 3, 9), np.float64)
    one = random_array(rng, (2, 2), np.float64)
    normal = tuple(a % 3 for a in axes)
    last = (1, 2)
    result = face(image, one, "same", "wrap", axes=axes)
    moved = np.moveaxis(image, normal, last)
    for index in np.ndindex(moved.shape[0]):
        item = face.exact(moved[index], one, np.float64, "same", "wrap")
        assert_within_bound(np.moveaxis(result, normal, last)[index], item,
                            face.bound(moved[index], one, np.float64, "same", "wrap"),
                            f"axes={axes}, 2-D in2, item {index}")


@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_axes(face):
    rng = np.random.default_rng(409)
    a = random_array(rng, (60, 3), np.complex64)
    v = random_array(rng, (5, 3), np.complex64)
    for axes in (0, -2, [0], (0,)):
        result = face(a, v, "same", axes=axes)
        expected = check(face, a.T, v.T, np.complex64, "same", axes=-1)
        np.testing.assert_array_equal(result, expected.T)


@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_axes_one_kernel(face):
    """v 1-D with axes=: one kernel for every signal, along a's axis."""
    rng = np.random.default_rng(419)
    a = random_array(rng, (60, 3), np.complex64)
    one = random_array(rng, 5, np.complex64)
    result = face(a, one, "same", axes=0)
    for j in range(3):
        assert_within_bound(result[:, j], face.exact(a[:, j], one, np.complex64, "same"),
                            face.bound(a[:, j], one, np.complex64, "same"), f"column {j}")


# ----------------------------------------------------------------------------- scipy's rule
def test_colour_image_per_channel_with_axes():
    """correlate2d(rgb, k, axes=(0, 1), mode='same', boundary='symm') filters each channel,
    as scipy.signal.correlate2d does channel by channel."""
    scipy_signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(12)
    rgb = rng.integers(0, 256, size=(64, 48, 3)).astype(np.uint8)
    x = np.arange(-2, 3)
    gauss5 = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / 2.0)
    gauss5 /= gauss5.sum()
    result = CORRELATE2D(rgb, gauss5, "same", "symm", axes=(0, 1))
    assert result.shape == rgb.shape and result.dtype == np.float64
    for channel in range(3):
        plane = rgb[:, :, channel]
        bound = CORRELATE2D.bound(plane, gauss5, np.float64, "same", "symm")
        assert_within_bound(result[:, :, channel],
                            scipy_signal.correlate2d(plane.astype(np.float64), gauss5,
                                                     mode="same", boundary="symm"),
                            2 * bound, f"channel {channel}")


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_colour_image_without_axes_is_refused(face):
    """An (H, W, 3) image with a 2-D kernel and no axes is a ValueError, as in scipy (it used
    to be read as H images of W x 3 pixels)."""
    rgb = np.zeros((16, 12, 3))
    kernel = np.ones((5, 5)) / 25
    with pytest.raises(ValueError) as peer:
        face.peer(rgb, kernel, mode="same", boundary="symm")
    with pytest.raises(ValueError, match=r"(?s)(\bin1\b.*2-D|2-D.*\bin1\b)") as ours:
        face(rgb, kernel, "same", "symm")
    assert ours.type is peer.type


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_faces_need_two_2d_inputs_without_axes(face):
    image, kernel = np.ones((6, 7)), np.ones((2, 2))
    for in1, in2, name in ((image[None], kernel, "in1"), (image, kernel[None], "in2"),
                           (image[None], kernel[None], "in1"), (image[0], kernel, "in1"),
                           (image, kernel[0], "in2"), (np.float64(2.0), kernel, "in1")):
        with pytest.raises(ValueError, match=rf"(?s)(\b{name}\b.*2-D|2-D.*\b{name}\b)"):
            face(in1, in2, "full")


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_in2_dimensions_with_axes(face):
    """With axes=, in2 has in1's number of dimensions or exactly 2; anything else is a
    ValueError naming in2."""
    stack = np.ones((2, 3, 6, 7))
    for kernel in (np.ones((3, 2, 2)), np.ones((1, 1, 1, 2, 2)), np.ones(2)):
        with pytest.raises(ValueError, match=r"\bin2\b"):
            face(stack, kernel, "full", axes=(-2, -1))


@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_faces_need_1d_inputs_without_axes(face):
    signal, taps = np.ones(20), np.ones(3)
    for a, v, name in ((signal[None], taps, "a"), (signal, taps[None], "v"),
                       (np.ones((3, 5)), np.ones((2, 2)), "a")):
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            face(a, v)
    with pytest.raises(ValueError, match=r"\bv\b"):
        face(np.ones((4, 20)), np.ones((1, 1, 3)), axes=-1)


def test_scalars_as_numpy_takes_them():
    """numpy.convolve takes scalars as one-sample sequences, numpy.correlate rejects them."""
    check(CONVOLVE, 3.0, [1.0, 2.0], np.float64, "full")
    check(CONVOLVE, [1, 2, 3], 2, np.float64, "same")
    for args in ((3.0, [1.0, 2.0]), ([1.0, 2.0], 3.0)):
        with pytest.raises(ValueError) as peer:
            np.correlate(*args)
        with pytest.raises(ValueError, match="1-D") as ours:
            CORRELATE(*args)
        assert ours.type is peer.type
    check(CORRELATE, [True, False, True], [1, 2], np.float64, "valid")


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_stack_items_are_independent(face):
    """A NaN in one item of a stack reaches no other item."""
    rng = np.random.default_rng(5)
    shape = (4, 12, 13) if face.core_ndim == 2 else (4, 200)
    stack = random_array(rng, shape, np.float64)
    stack[1, 3] = np.nan
    kernel = random_array(rng, (1,) + ((3, 3) if face.core_ndim == 2 else (5,)), np.float64)
    result = face(stack, kernel, "same", axes=face.last_axes)
    assert np.isnan(result[1]).any()
    assert not np.isnan(result[[0, 2, 3]]).any()
