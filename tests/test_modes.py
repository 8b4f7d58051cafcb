"""'full' and 'same' modes with the 'fill', 'wrap' and 'symm' boundaries of correlate2d and
convolve2d, against two oracles, for float32/float64/complex64/complex128.

Tolerances (reference.py): against the NumPy oracle (np.pad + valid correlation in a wider
type) the error must be within ``error_bound`` = (n + 1) * eps * (|ext(in1)| (*) |in2|) + tiny
elementwise, n = P*Q, ext = in1 extended by the boundary rule; against scipy.signal, which also
rounds in the result dtype, within twice that.  Complex results part by part.
"""
import tracemalloc

import numpy as np
import pytest
import scipy.signal

import fastcorr
from fastcorr import _api

from reference import (assert_within_bound, correlate2d_reference, dtype_id, error_bound,
                       fill_scalar, random_array)

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
FUNCS = {"correlate": (fastcorr.correlate2d, scipy.signal.correlate2d),
         "convolve": (fastcorr.convolve2d, scipy.signal.convolve2d)}

# (image shape, kernel shape): odd and even kernels, 1x1, kernel == image, and kernels larger
# than the image in rows, in columns and in both (full and same allow them; valid only when
# one input is at least as large as the other in every dimension).
SHAPES = [
    ((9, 11), (3, 3)),
    ((9, 11), (4, 2)),
    ((10, 7), (2, 5)),
    ((8, 13), (5, 6)),
    ((7, 8), (1, 1)),
    ((6, 5), (6, 5)),
    ((5, 12), (8, 3)),
    ((12, 4), (3, 7)),
    ((3, 4), (7, 9)),
    ((1, 1), (3, 2)),
    ((2, 3), (6, 10)),
    ((1, 9), (2, 4)),
    ((11, 1), (4, 1)),
]


def fill_values(dtype):
    """0 and a non-zero fill of the dtype's kind (complex for complex data)."""
    return [0, 1.5 - 0.75j if np.dtype(dtype).kind == "c" else 1.5]


def valid_allowed(shape1, shape2):
    return (all(a >= b for a, b in zip(shape1, shape2))
            or all(b >= a for a, b in zip(shape1, shape2)))


def check(op, in1, in2, dtype, mode, boundary="fill", fillvalue=0, context="", **kwargs):
    """fastcorr's result against the NumPy oracle and scipy.signal; returns it."""
    func, scipy_func = FUNCS[op]
    in1_before, in2_before = np.copy(in1), np.copy(in2)
    result = func(in1, in2, mode, boundary, fillvalue, **kwargs)
    assert np.array_equal(in1, in1_before, equal_nan=True) and \
        np.array_equal(in2, in2_before, equal_nan=True), "an input was modified"
    dtype = np.dtype(dtype)
    assert result.dtype == dtype, f"{context}: dtype {result.dtype}, expected {dtype}"
    ctx = (f"{op} {np.shape(in1)} * {np.shape(in2)} {dtype} mode={mode} boundary={boundary} "
           f"fillvalue={fillvalue} {context}")
    bound = error_bound(in1, in2, dtype, op, mode, boundary, fillvalue)
    reference = correlate2d_reference(in1, in2, dtype, mode, boundary, fillvalue, op=op)
    assert_within_bound(result, reference, bound, ctx + " vs NumPy oracle")
    a, b = np.asarray(in1).astype(dtype), np.asarray(in2).astype(dtype)
    with np.errstate(invalid="ignore"):
        # scipy drops a zero imaginary part with a warning and mishandles some scalar types:
        # give it the value itself.
        expected = scipy_func(a, b, mode, boundary, fill_scalar(fillvalue, dtype))
    assert_within_bound(result, expected, 2 * bound, ctx + " vs scipy.signal")
    return result


# ----------------------------------------------------------------------------- the grid
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", list(FUNCS))
def test_grid(frame, op, mode, boundary, dtype):
    """Every mode x boundary x dtype, over odd/even kernels and kernels larger than the image
    in one or both dimensions (in 'valid', where scipy rejects those, both must reject them)."""
    rng = np.random.default_rng(100)
    fills = fill_values(dtype) if boundary == "fill" else [0]
    for image_shape, kernel_shape in SHAPES:
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        if mode == "valid" and not valid_allowed(image_shape, kernel_shape):
            for func in FUNCS[op]:
                with pytest.raises(ValueError, match="at least as large"):
                    func(image, kernel, mode, boundary)
            continue
        for fill in fills:
            for workers in (1, 2):
                check(op, image, kernel, dtype, mode, boundary, fill, workers=workers)


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"workers={w}")
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("op", list(FUNCS))
def test_every_path(frame, simd_path, op, mode, boundary, workers):
    """Images wide enough that the interior tiles, the top/bottom bands and the side bands all
    run full vectors and partial tails on each SIMD path."""
    rng = np.random.default_rng(101)
    cases = [((37, 70), (3, 3)), ((40, 53), (4, 6)), ((26, 41), (9, 2)), ((5, 90), (7, 8))]
    for i, (image_shape, kernel_shape) in enumerate(cases):
        dtype = [np.float32, np.float64][i % 2]
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        fill = 0.5 if boundary == "fill" else 0
        check(op, image, kernel, dtype, mode, boundary, fill, workers=workers,
              context=f"[simd={simd_path}]")


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_large_multithreaded(frame, mode, boundary, dtype):
    """Big enough for several tiles and both threads in the interior and in the top band."""
    rng = np.random.default_rng(102)
    image = random_array(rng, (260, 700), dtype)
    kernel = random_array(rng, (6, 5), dtype)
    for op in FUNCS:
        check(op, image, kernel, dtype, mode, boundary, 0.25, workers=2)


def test_random_shapes(frame):
    """Random shapes, including every relation between image and kernel sizes."""
    rng = np.random.default_rng(103)
    for trial in range(60):
        m, n, p, q = rng.integers(1, 14, size=4)
        dtype = DTYPES[trial % 4]
        op = list(FUNCS)[trial % 2]
        mode = ["full", "same"][(trial // 2) % 2]
        boundary = BOUNDARIES[trial % 3]
        image = random_array(rng, (m, n), dtype)
        kernel = random_array(rng, (p, q), dtype)
        check(op, image, kernel, dtype, mode, boundary, fill_values(dtype)[trial % 2],
              workers=1 + trial % 2)


# ----------------------------------------------------------------------------- semantics
def test_same_centring_by_hand():
    """scipy's 'same' centring, independent of both oracles: correlate2d([[1, 2, 3]],
    [[1, 10]]) in 'full' is [[10, 21, 32, 3]] and 'same' starts at column Q//2 = 1; convolve2d
    gives [[1, 12, 23, 30]] in 'full' and 'same' starts at (Q-1)//2 = 0."""
    image = [[1.0, 2.0, 3.0]]
    kernel = [[1.0, 10.0]]
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel, "full"), [[10, 21, 32, 3]])
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel, "same"), [[21, 32, 3]])
    np.testing.assert_array_equal(fastcorr.convolve2d(image, kernel, "full"), [[1, 12, 23, 30]])
    np.testing.assert_array_equal(fastcorr.convolve2d(image, kernel, "same"), [[1, 12, 23]])
    # The boundaries by hand: a 1x3 kernel picking the left neighbour.
    pick_left = [[1.0, 0.0, 0.0]]
    np.testing.assert_array_equal(
        fastcorr.correlate2d(image, pick_left, "same", "fill", 7), [[7, 1, 2]])
    np.testing.assert_array_equal(
        fastcorr.correlate2d(image, pick_left, "same", "wrap"), [[3, 1, 2]])
    np.testing.assert_array_equal(
        fastcorr.correlate2d(image, pick_left, "same", "symm"), [[1, 1, 2]])


def test_oracle_self_check():
    """The oracle against scipy on small integers, where every sum is exact: any indexing,
    padding or centring mistake in reference.py shows up as inequality."""
    rng = np.random.default_rng(104)
    for image_shape, kernel_shape in SHAPES:
        a = rng.integers(-9, 10, size=image_shape).astype(np.float64)
        b = rng.integers(-9, 10, size=kernel_shape).astype(np.float64)
        for op, (_, scipy_func) in FUNCS.items():
            for mode in ("full", "same"):
                for boundary in BOUNDARIES:
                    np.testing.assert_array_equal(
                        correlate2d_reference(a, b, np.float64, mode, boundary, 3, op=op),
                        scipy_func(a, b, mode, boundary, 3),
                        err_msg=f"{op} {mode} {boundary} {image_shape} {kernel_shape}")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_nan_inf_in_the_frame(frame, mode, boundary):
    """NaN and Inf at the corners reach the border outputs (and, for 'wrap', the opposite
    side) exactly as in the plain sum."""
    rng = np.random.default_rng(105)
    for dtype in (np.float32, np.float64):
        image = random_array(rng, (12, 30), dtype)
        image[0, 0] = np.nan
        image[-1, -1] = np.inf
        image[-1, 3] = -np.inf
        kernel = random_array(rng, (3, 4), dtype)
        with np.errstate(invalid="ignore"):
            result = check("correlate", image, kernel, dtype, mode, boundary, 2.0)
        assert np.isnan(result).any() and np.isinf(result).any()
    # A NaN fill value poisons exactly the outputs whose window leaves the image.
    image = random_array(rng, (10, 20), np.float64)
    result = fastcorr.correlate2d(image, np.ones((3, 3)), mode, "fill", np.nan)
    inside = np.zeros(result.shape, bool)
    off = (2, 2) if mode == "full" else (1, 1)
    inside[off[0]:off[0] + 8, off[1]:off[1] + 18] = True
    assert np.array_equal(np.isnan(result), ~inside)


# ----------------------------------------------------------------------------- fillvalue
@pytest.mark.parametrize(
    "fillvalue", [2, 2.5, True, np.float32(-1.25), np.int64(3), np.array(4.0), np.array([0.5]),
                  np.array([[1.5]]), 2 + 0j],
    ids=["int", "float", "bool", "np.float32", "np.int64", "0-d", "1-elem", "1x1", "complex-0j"])
def test_fillvalue_forms(fillvalue):
    rng = np.random.default_rng(106)
    image = random_array(rng, (7, 9), np.float64)
    kernel = random_array(rng, (3, 2), np.float64)
    check("correlate", image, kernel, np.float64, "full", "fill", fillvalue)
    check("convolve", image, kernel, np.float64, "same", "fill", fillvalue)


def test_fillvalue_is_rounded_to_the_result_dtype():
    """A float32 result extends the image with float32(fillvalue), as scipy does."""
    image = np.ones((3, 3), np.float32)
    kernel = np.array([[1, 0], [0, 0]], np.float32)  # out[0, 0] is the fill value alone
    result = fastcorr.correlate2d(image, kernel, "full", "fill", 0.1)
    assert result.dtype == np.float32
    assert result[0, 0] == np.float32(0.1)


def test_complex_fill_with_real_image_and_complex_kernel():
    """The extended image is complex outside a real image: the imaginary fill must count."""
    rng = np.random.default_rng(107)
    image = random_array(rng, (6, 8), np.float64)
    kernel = random_array(rng, (3, 4), np.complex128)
    for op in FUNCS:
        for mode in ("full", "same"):
            check(op, image, kernel, np.complex128, mode, "fill", 1 - 2j)


def test_boundary_aliases():
    rng = np.random.default_rng(108)
    image = random_array(rng, (6, 7), np.float64)
    kernel = random_array(rng, (3, 3), np.float64)
    for alias, name in (("circular", "wrap"), ("symmetric", "symm")):
        np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel, "same", alias),
                                      fastcorr.correlate2d(image, kernel, "same", name))


# ----------------------------------------------------------------------------- layouts, out=
@pytest.mark.parametrize("mode", ["full", "same"])
def test_layouts(make_layout, in1_layout, mode):
    rng = np.random.default_rng(109)
    image = random_array(rng, (13, 22), np.float64)
    kernel = random_array(rng, (4, 3), np.float64)
    for boundary in BOUNDARIES:
        check("correlate", make_layout(image, in1_layout), make_layout(kernel, in1_layout),
              np.float64, mode, boundary, 0.5)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_out(mode, dtype):
    rng = np.random.default_rng(110)
    image = random_array(rng, (11, 17), dtype)
    kernel = random_array(rng, (4, 5), dtype)
    shape = (14, 21) if mode == "full" else (11, 17)
    for make in (lambda: np.empty(shape, dtype),
                 lambda: np.empty((2 * shape[0], shape[1] + 3), dtype)[::2, 3:],
                 lambda: np.asfortranarray(np.empty(shape, dtype))):
        out = make()
        result = check("correlate", image, kernel, dtype, mode, "symm", out=out)
        assert result is out


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("op", list(FUNCS))
def test_same_mode_in_place(frame, op, dtype):
    """'same' has in1's shape, so out may be in1 itself: the frame and the interior both
    read in1, which must not change until every output is computed."""
    rng = np.random.default_rng(111)
    for boundary in BOUNDARIES:
        image = random_array(rng, (15, 19), dtype)
        kernel = random_array(rng, (4, 3), dtype)
        expected = correlate2d_reference(image, kernel, dtype, "same", boundary, op=op)
        bound = error_bound(image, kernel, dtype, op, "same", boundary)
        result = FUNCS[op][0](image, kernel, "same", boundary, out=image)
        assert result is image
        assert_within_bound(result, expected, bound, f"{op} same in place {boundary}")


# ----------------------------------------------------------------------------- memory
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_no_padded_copy_of_the_image(boundary):
    """The design promise: extra memory O(K * (M + N)), not a padded copy of the image.
    Peak traced allocation (numpy reports its buffers to tracemalloc) beyond the result itself
    stays far below the image's size."""
    image = np.random.default_rng(112).standard_normal((1000, 1200))
    kernel = np.ones((7, 7))
    fastcorr.correlate2d(image, kernel, "full", boundary)  # warm up any lazy allocation
    tracemalloc.start()
    try:
        result = fastcorr.correlate2d(image, kernel, "full", boundary, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra = peak - result.nbytes
    assert extra < image.nbytes / 10, f"{extra} bytes beyond the result for a {image.nbytes}-byte image"


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=dtype_id)
def test_result_placed_apart_from_the_input(dtype):
    """A result fastcorr allocates is an ordinary C-contiguous, writeable array whose interior
    starts half a page (mod 4 KiB) from in1's data, the placement that keeps the kernel's loads
    clear of its pending stores (see _api._empty_apart; the size from which it does so is
    lowered here to a page); smaller results are plain np.empty."""
    rng = np.random.default_rng(107)
    image = random_array(rng, (64, 256), dtype)
    kernel = random_array(rng, (5, 5), dtype)
    captured = []
    real = _api._empty_apart

    def spy(shape, dtype_, x, first):
        y = real(shape, dtype_, x, first)
        captured.append((y, x, first))
        return y

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_api, "_empty_apart", spy)
        mp.setattr(_api, "_APART_MIN_BYTES", 4096)
        for mode in ("same", "full"):
            result = check("correlate", image, kernel, dtype, mode)
            assert result.flags.c_contiguous and result.flags.writeable
    assert captured
    for y, x, first in captured:
        assert (y.ctypes.data + first * y.itemsize - x.ctypes.data) % 4096 == 2048
    small = _api._empty_apart((3, 4), np.float64, image.real, 0)
    assert small.shape == (3, 4) and small.base is None
    # 64 KiB at most: under the default size.
    assert fastcorr.correlate2d(image, kernel, "same").base is None


@pytest.mark.parametrize("mode", ["full", "same"])
def test_side_bands_with_several_tile_columns(mode):
    """Rows wide enough to be cut into several tile columns (float64 with a 21x25 kernel: tiles
    about 1,400 columns wide), so the left and right bands are computed by the first and last
    tile of each row of tiles and not by the ones in between; on 1 and 2 threads."""
    rng = np.random.default_rng(108)
    image = random_array(rng, (30, 3000), np.float64)
    kernel = random_array(rng, (21, 25), np.float64)
    for boundary in BOUNDARIES:
        for workers in (1, 2):
            check("correlate", image, kernel, np.float64, mode, boundary, -0.5,
                  workers=workers)
