"""Stacks: in1 of shape (..., H, W) for the 2-D functions and (..., N) for the 1-D ones, with
one shared kernel or a kernel per item broadcast the NumPy way.

Each item of a batched result is checked against the oracles for that item alone (the NumPy
reference and scipy.signal / numpy), with the tolerances of test_modes.py and test_1d.py:
``error_bound`` of the item within the reference, twice that of scipy/numpy.
"""
import numpy as np
import pytest
import scipy.signal

import fastcorr
from fastcorr import _core
from reference import (
    assert_within_bound,
    correlate1d_reference,
    correlate2d_reference,
    error_bound,
    error_bound_1d,
    fill_scalar,
    random_array,
)

FUNCS_2D = {"correlate": (fastcorr.correlate2d, scipy.signal.correlate2d),
            "convolve": (fastcorr.convolve2d, scipy.signal.convolve2d)}
FUNCS_1D = {"correlate": (fastcorr.correlate, np.correlate),
            "convolve": (fastcorr.convolve, np.convolve)}


def check_2d(op, in1, in2, dtype, mode="valid", boundary="fill", fillvalue=0, **kwargs):
    func, scipy_func = FUNCS_2D[op]
    result = func(in1, in2, mode, boundary, fillvalue, **kwargs)
    batch = np.broadcast_shapes(np.shape(in1)[:-2], np.shape(in2)[:-2])
    assert result.dtype == dtype and result.shape[:-2] == batch
    a = np.broadcast_to(in1, batch + np.shape(in1)[-2:])
    b = np.broadcast_to(in2, batch + np.shape(in2)[-2:])
    fill = fill_scalar(fillvalue, dtype)
    for index in np.ndindex(*batch):
        ctx = f"{op} item {index} of {np.shape(in1)} * {np.shape(in2)} {mode} {boundary}"
        bound = error_bound(a[index], b[index], dtype, op, mode, boundary, fillvalue)
        reference = correlate2d_reference(a[index], b[index], dtype, mode, boundary, fillvalue,
                                          op=op)
        assert_within_bound(result[index], reference, bound, ctx + " vs NumPy oracle")
        expected = scipy_func(a[index].astype(dtype), b[index].astype(dtype), mode, boundary,
                              fill)
        assert_within_bound(result[index], expected, 2 * bound, ctx + " vs scipy.signal")
    return result


def check_1d(op, a, v, dtype, mode, **kwargs):
    func, numpy_func = FUNCS_1D[op]
    result = func(a, v, mode, **kwargs)
    batch = np.broadcast_shapes(np.shape(a)[:-1], np.shape(v)[:-1])
    assert result.dtype == dtype and result.shape[:-1] == batch
    a = np.broadcast_to(a, batch + np.shape(a)[-1:])
    v = np.broadcast_to(v, batch + np.shape(v)[-1:])
    for index in np.ndindex(*batch):
        ctx = f"{op} item {index} of {a.shape} * {v.shape} {mode}"
        bound = error_bound_1d(a[index], v[index], dtype, mode, op)
        assert_within_bound(result[index], correlate1d_reference(a[index], v[index], dtype, mode,
                                                                 op), bound, ctx + " vs oracle")
        assert_within_bound(result[index], numpy_func(a[index].astype(dtype),
                                                      v[index].astype(dtype), mode),
                            2 * bound, ctx + " vs numpy")
    return result


# ----------------------------------------------------------------------------- 2-D
# (in1 shape, in2 shape): a shared 2-D kernel, a kernel per image, NumPy broadcasting of the
# leading dimensions both ways (including an image shared by a stack of kernels), leading 1s.
SHAPES_2D = [
    ((4, 9, 11), (3, 2)),
    ((4, 9, 11), (4, 3, 2)),
    ((2, 3, 8, 10), (3, 4, 3)),
    ((2, 1, 8, 10), (1, 3, 4, 3)),
    ((9, 11), (5, 3, 3)),
    ((1, 1, 7, 9), (2, 2)),
    ((3, 5, 6), (1, 7, 4)),          # kernel taller than the image
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("op", list(FUNCS_2D))
def test_2d_batches(frame, op, mode, dtype):
    rng = np.random.default_rng(400)
    for shape1, shape2 in SHAPES_2D:
        image = random_array(rng, shape1, dtype)
        kernel = random_array(rng, shape2, dtype)
        if mode == "valid" and shape2[-2] > shape1[-2]:
            with pytest.raises(ValueError, match="at least as large"):
                FUNCS_2D[op][0](image, kernel)
            continue
        for boundary in (["fill", "wrap", "symm"] if mode != "valid" else ["fill"]):
            check_2d(op, image, kernel, dtype, mode, boundary, 0.5, workers=2)


@pytest.mark.parametrize("op", list(FUNCS_2D))
def test_2d_batch_in2_larger(op):
    """scipy's valid-mode swap applies to every item: in2 the larger in the last two axes."""
    rng = np.random.default_rng(401)
    small = random_array(rng, (3, 3, 4), np.complex128)
    big = random_array(rng, (3, 10, 12), np.complex128)
    check_2d(op, small, big, np.complex128)
    check_2d(op, small[0], big, np.complex128)


def test_2d_many_small_images_multithreaded(frame):
    rng = np.random.default_rng(402)
    stack = random_array(rng, (300, 32, 32), np.float32)
    kernel = random_array(rng, (3, 3), np.float32)
    for mode in ("valid", "same"):
        check_2d("correlate", stack, kernel, np.float32, mode, "symm", workers=2)


def test_2d_batch_layouts():
    """Stacks that are not one block of memory: every other image, batch axes transposed, a
    Fortran-ordered stack, a broadcast (stride-0) stack."""
    rng = np.random.default_rng(403)
    base = random_array(rng, (6, 4, 9, 10), np.float64)
    kernel = random_array(rng, (3, 3), np.float64)
    for stack in (base[::2], base.transpose(1, 0, 2, 3), np.asfortranarray(base),
                  base[:, :, ::-1, 1:], np.broadcast_to(base[0, 0], (3, 9, 10))):
        check_2d("correlate", stack, kernel, np.float64, "same", "wrap")


def test_2d_batch_out():
    rng = np.random.default_rng(404)
    stack = random_array(rng, (3, 4, 9, 10), np.float32)
    kernel = random_array(rng, (4, 3, 3), np.float32)
    for out in (np.empty((3, 4, 9, 10), np.float32),
                np.empty((4, 3, 9, 10), np.float32).transpose(1, 0, 2, 3),
                np.empty((3, 4, 10, 9), np.float32).swapaxes(-1, -2)):
        assert check_2d("correlate", stack, kernel, np.float32, "same", out=out) is out
    with pytest.raises(ValueError, match=r"\bout\b.*shape"):
        fastcorr.correlate2d(stack, kernel, "same", out=np.empty((4, 9, 10), np.float32))
    # out is in1 itself ('same' keeps the shape): computed into a temporary first.
    expected = fastcorr.correlate2d(stack, kernel, "same")
    result = fastcorr.correlate2d(stack, kernel, "same", out=stack)
    assert result is stack
    assert_within_bound(result, expected, 2 * np.abs(expected) * 1e-5 + 1e-30, "out=in1")


def test_2d_batch_of_one_equals_single_image():
    rng = np.random.default_rng(405)
    image = random_array(rng, (20, 30), np.float64)
    kernel = random_array(rng, (3, 4), np.float64)
    for mode in ("valid", "same", "full"):
        single = fastcorr.correlate2d(image, kernel, mode, "symm")
        stacked = fastcorr.correlate2d(image[None, None], kernel[None], mode, "symm")
        assert stacked.shape == (1, 1) + single.shape
        np.testing.assert_allclose(stacked[0, 0], single, rtol=1e-13, atol=1e-13)


# ----------------------------------------------------------------------------- core extension
@pytest.fixture
def core_extension_calls(monkeypatch):
    """Counts the calls reaching _core.correlate_extended_batch (the small-image frame path),
    so a test can show it exercised that path and not one of the others."""
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


def _views(stack):
    """`stack` itself and non-contiguous views of the same shape holding other values: rows
    two apart, rows reversed, every other image, and a transposed (columns-strided) batch."""
    m = stack.shape[1]
    rows2 = np.repeat(stack, 2, axis=1)[:, ::2]
    reversed_rows = np.ascontiguousarray(stack[:, ::-1])[:, ::-1]
    every_other = np.repeat(stack, 2, axis=0)[::2]
    transposed = np.ascontiguousarray(stack.transpose(0, 2, 1)).transpose(0, 2, 1)
    if m > 1:  # numpy calls a single row contiguous whatever its stride
        assert not rows2.flags.c_contiguous and reversed_rows.strides[1] < 0
        assert not every_other.flags.c_contiguous and not transposed.flags.c_contiguous
    return {"C": stack, "rows::2": rows2, "rows::-1": reversed_rows, "images::2": every_other,
            "transposed": transposed}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("op", list(FUNCS_2D))
def test_2d_small_images_extended_in_core(simd_path, core_extension_calls, op, mode, dtype):
    """Stacks of small images, with the frame from images the core extends itself: every
    boundary (a nonzero fill value), odd/even kernels and kernels larger than the image, one
    kernel and a kernel per image, non-contiguous stacks, on each SIMD path; inputs unchanged."""
    rng = np.random.default_rng(410)
    fill = 1.5 - 0.75j if np.dtype(dtype).kind == "c" else 1.5
    for shape1, shape2 in EXTENDED_SHAPES:
        base = random_array(rng, shape1, dtype)
        kernels = {"one kernel": random_array(rng, shape2, dtype),
                   "per-image kernels": random_array(rng, shape1[:1] + shape2, dtype)}
        for layout, stack in _views(base).items():
            for kernel in kernels.values():
                for boundary in ("fill", "wrap", "symm"):
                    before, kernel_before = stack.copy(), kernel.copy()
                    calls = len(core_extension_calls)
                    check_2d(op, stack, kernel, dtype, mode, boundary, fill, workers=2)
                    assert len(core_extension_calls) > calls, f"{layout}: core path not used"
                    np.testing.assert_array_equal(stack, before, err_msg="in1 was modified")
                    np.testing.assert_array_equal(kernel, kernel_before,
                                                  err_msg="in2 was modified")


def test_2d_small_images_extended_in_core_threads(core_extension_calls):
    """Enough images for several chunks' worth of threads, on 1 and 2 threads, and out= a
    strided view the core writes in place."""
    rng = np.random.default_rng(411)
    stack = random_array(rng, (200, 16, 20), np.float64)
    kernel = random_array(rng, (200, 5, 4), np.float64)
    for workers in (1, 2):
        check_2d("convolve", stack, kernel, np.float64, "same", "symm", workers=workers)
        out = np.full((200, 32, 20), np.nan)[:, ::2]
        assert check_2d("correlate", stack, kernel, np.float64, "full", "wrap",
                        out=np.empty((200, 20, 23)), workers=workers) is not None
        assert check_2d("correlate", stack, kernel, np.float64, "same", "fill", -2.0, out=out,
                        workers=workers) is out
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
        kernel = random_array(rng, kernel_shape, dtype)
        for boundary in ("fill", "wrap", "symm"):
            check_2d("correlate", stack, kernel, dtype, mode, boundary, -0.5, workers=2)
    assert core_extension_calls


def test_correlate_extended_batch_rejects_mismatches():
    """The core entry point checks what it would otherwise read or write out of bounds."""
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


# ----------------------------------------------------------------------------- 1-D
SHAPES_1D = [
    ((5, 300), (7,)),
    ((5, 300), (5, 7)),
    ((300,), (4, 7)),
    ((2, 3, 200), (3, 16)),
    ((3, 6), (3, 9)),               # v longer: numpy's swap rules per item
    ((2, 2100), (200,)),            # kernel fold with leftover taps, over the batch
    ((3, 1500), (3, 130)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("op", list(FUNCS_1D))
def test_1d_batches(op, mode, dtype):
    rng = np.random.default_rng(406)
    for shape1, shape2 in SHAPES_1D:
        check_1d(op, random_array(rng, shape1, dtype), random_array(rng, shape2, dtype), dtype,
                 mode, workers=2)


def test_1d_batch_layouts():
    rng = np.random.default_rng(407)
    base = random_array(rng, (4, 3, 500), np.float32)
    v = random_array(rng, (9,), np.float32)
    for stack in (base[::2], base.transpose(1, 0, 2), base[..., ::-1], base[..., ::2],
                  np.broadcast_to(base[0, 0], (5, 500))):
        check_1d("correlate", stack, v, np.float32, "same")


# ----------------------------------------------------------------------------- axes=
@pytest.mark.parametrize("axes", [(0, 2), (2, 0), (-3, -1), (1, 2)], ids=str)
@pytest.mark.parametrize("op", list(FUNCS_2D))
def test_2d_axes(op, axes):
    """axes= as in scipy.signal.fftconvolve: the images lie along `axes` (in that order: the
    first is the row axis), every other axis broadcasts."""
    rng = np.random.default_rng(408)
    image = random_array(rng, (4, 3, 9), np.float64)
    kernel = random_array(rng, (3, 3, 2), np.float64)[:, :1] if axes != (1, 2) else \
        random_array(rng, (1, 3, 2), np.float64)
    normal = tuple(a % 3 for a in axes)
    last = (1, 2)
    result = FUNCS_2D[op][0](image, kernel, "full", "symm", axes=axes)
    # The same call with the image axes moved last by hand, checked item by item.
    expected = check_2d(op, np.moveaxis(image, normal, last), np.moveaxis(kernel, normal, last),
                        np.float64, "full", "symm")
    np.testing.assert_array_equal(result, np.moveaxis(expected, last, normal))
    out = np.full(result.shape, np.nan)
    assert FUNCS_2D[op][0](image, kernel, "full", "symm", axes=axes, out=out) is out
    np.testing.assert_array_equal(out, result)


def test_1d_axes():
    rng = np.random.default_rng(409)
    a = random_array(rng, (60, 3), np.complex64)
    v = random_array(rng, (5, 3), np.complex64)
    for op in FUNCS_1D:
        for axes in (0, -2, [0]):
            result = FUNCS_1D[op][0](a, v, "same", axes=axes)
            expected = check_1d(op, a.T, v.T, np.complex64, "same")
            np.testing.assert_array_equal(result, expected.T)


@pytest.mark.parametrize("func", [fastcorr.correlate2d, fastcorr.convolve2d])
def test_axes_errors(func):
    image, kernel = np.ones((4, 5, 6)), np.ones((2, 2, 2))
    for axes, exc, pattern in [((0,), TypeError, "axes"), ((0, 1, 2), TypeError, "axes"),
                               ((0, 1.0), TypeError, "axes"), (5, TypeError, "axes"),
                               ((0, 3), ValueError, "axes.*range"),
                               ((-4, 1), ValueError, "axes.*range"),
                               ((1, -2), ValueError, "distinct")]:
        with pytest.raises(exc, match=pattern):
            func(image, kernel, axes=axes)
    with pytest.raises(ValueError, match=r"(?s)in1.*in2.*same number of dimensions"):
        func(image, np.ones((2, 2)), axes=(1, 2))
    with pytest.raises(TypeError, match="axes"):
        fastcorr.correlate(np.ones((4, 5)), np.ones((4, 2)), axes=(0, 1))
    with pytest.raises(ValueError, match="axes.*range"):
        fastcorr.convolve(np.ones((4, 5)), np.ones((4, 2)), axes=2)
