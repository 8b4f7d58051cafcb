"""Correctness of correlate2d/convolve2d against two oracles, on every SIMD path.

Tolerances: against the NumPy oracle (reference.py, computed in a wider type) the error must be
within ``error_bound`` = (n + 1) * eps * (|in1| (*) |in2|) + tiny elementwise; against
scipy.signal, which also rounds in the result dtype, within twice that.
"""
import os

import numpy as np
import pytest
import scipy.signal

import fastcorr
from reference import (
    assert_within_bound,
    convolve2d_valid_reference,
    correlate2d_valid_reference,
    error_bound,
)

FLOATS = [np.float32, np.float64]
OPS = {
    "correlate": (fastcorr.correlate2d, correlate2d_valid_reference, scipy.signal.correlate2d),
    "convolve": (fastcorr.convolve2d, convolve2d_valid_reference, scipy.signal.convolve2d),
}


def dtype_id(dt):
    return np.dtype(dt).name


def _snapshot(a):
    a = np.asarray(a)
    return a.copy(), a.dtype, a.shape, a.strides


def _assert_unchanged(snap, a, name):
    values, dtype, shape, strides = snap
    a = np.asarray(a)
    assert (a.dtype, a.shape, a.strides) == (dtype, shape, strides), f"{name} was reshaped/retyped"
    assert np.array_equal(a, values, equal_nan=a.dtype.kind == "f"), f"{name} was modified"


def check(op, in1, in2, dtype, *, context="", use_scipy=True, **kwargs):
    """Call fastcorr's `op` and check it against both oracles; returns the result.

    Also checks the result's dtype and that neither input was modified.
    """
    func, reference, scipy_func = OPS[op]
    snaps = _snapshot(in1), _snapshot(in2)
    result = func(in1, in2, **kwargs)
    _assert_unchanged(snaps[0], in1, "in1")
    _assert_unchanged(snaps[1], in2, "in2")

    dtype = np.dtype(dtype)
    assert isinstance(result, np.ndarray)
    assert result.dtype == dtype, f"{context}: result dtype {result.dtype}, expected {dtype}"
    ctx = f"{op} {np.shape(in1)} with {np.shape(in2)} in {dtype} {context}".strip()
    bound = error_bound(in1, in2, dtype, op=op)
    assert_within_bound(result, reference(in1, in2, dtype), bound, ctx + " vs NumPy oracle")
    if use_scipy:
        a = np.asarray(in1).astype(dtype)
        b = np.asarray(in2).astype(dtype)
        expected = scipy_func(a, b, mode="valid")
        assert_within_bound(result, expected, 2 * bound, ctx + " vs scipy.signal")
    return result


def random_pair(rng, image_shape, kernel_shape, dtype):
    image = rng.standard_normal(image_shape).astype(dtype)
    kernel = rng.standard_normal(kernel_shape).astype(dtype)
    return image, kernel


# ----------------------------------------------------------------------------- shapes, paths
# (image shape, kernel shape): 1x1 kernels, kernel == image, single rows/columns, odd/even,
# tall/wide, kernels wider/taller than 31 and widths straddling vector multiples.
SHAPE_CASES = [
    ((1, 1), (1, 1)),
    ((9, 13), (1, 1)),
    ((7, 7), (7, 7)),
    ((4, 37), (4, 37)),
    ((1, 50), (1, 5)),
    ((1, 50), (1, 50)),
    ((50, 1), (6, 1)),
    ((50, 1), (1, 1)),
    ((10, 10), (3, 3)),
    ((10, 11), (2, 4)),
    ((12, 19), (5, 6)),
    ((13, 40), (4, 9)),
    ((200, 6), (7, 3)),
    ((6, 200), (3, 7)),
    ((37, 45), (33, 35)),
    ((40, 70), (32, 31)),
    ((20, 33), (8, 2)),
    ((17, 25), (1, 17)),
    ((25, 17), (17, 1)),
    ((8, 90), (5, 70)),
]


def shape_id(case):
    (m, n), (p, q) = case
    return f"{m}x{n}*{p}x{q}"


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"workers={w}")
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_shape_cases_every_path(simd_path, op, dtype, workers):
    rng = np.random.default_rng(1234)
    for image_shape, kernel_shape in SHAPE_CASES:
        image, kernel = random_pair(rng, image_shape, kernel_shape, dtype)
        check(op, image, kernel, dtype, workers=workers,
              context=f"[simd={simd_path}, workers={workers}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_random_shapes_every_path(simd_path, op, dtype):
    rng = np.random.default_rng(99)
    for trial in range(80):
        kh, kw = rng.integers(1, 12, size=2)
        oh, ow = rng.integers(1, 30, size=2)
        image, kernel = random_pair(rng, (oh + kh - 1, ow + kw - 1), (kh, kw), dtype)
        # Alternate which argument is the larger so both sides of scipy's swap rule are hit.
        args = (image, kernel) if trial % 2 == 0 else (kernel, image)
        check(op, *args, dtype, workers=1 + trial % 2, context=f"[simd={simd_path}]")


# Kernel shapes cycled through the sweep below: 1x1, single row/column, odd and even sizes.
SWEEP_KERNELS = [(1, 1), (3, 3), (2, 4), (5, 1), (1, 6), (4, 5), (7, 2)]


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_output_size_sweep(simd_path, dtype):
    """Output widths 1..52 cover every vector-remainder and tail length for 2-, 4-, 8- and
    16-lane vectors, after zero, one or two strips of several vectors (an AVX2 float32 strip is
    24 columns); heights 1..11 cover every remainder of the 4- and 6-row register blocks and,
    after one and two bands, of the small-kernel block's 5 rows (4 on SSE2; NEON's and
    AVX-512's 8 are covered by tests/c/test_kernels.c)."""
    rng = np.random.default_rng(7)
    for oh in range(1, 12):
        for ow in range(1, 53):
            kh, kw = SWEEP_KERNELS[(oh * 53 + ow) % len(SWEEP_KERNELS)]
            image, kernel = random_pair(rng, (oh + kh - 1, ow + kw - 1), (kh, kw), dtype)
            check("correlate", image, kernel, dtype, workers=1, use_scipy=False,
                  context=f"[simd={simd_path}, out {oh}x{ow}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize(
    "image_shape, kernel_shape",
    [((300, 500), (5, 5)), ((301, 203), (4, 7)), ((40, 1700), (3, 9)), ((97, 1600), (2, 2))],
    ids=["300x500*5x5", "301x203*4x7", "40x1700*3x9", "97x1600*2x2"],
)
def test_large_multithreaded(simd_path, dtype, image_shape, kernel_shape):
    """Big enough for several threads and several tiles (row tiles, and column tiles past
    1536 output columns), with heights and widths that leave partial tiles and blocks."""
    rng = np.random.default_rng(2024)
    image, kernel = random_pair(rng, image_shape, kernel_shape, dtype)
    check("correlate", image, kernel, dtype, workers=2, context=f"[simd={simd_path}]")
    check("convolve", image, kernel, dtype, workers=2, context=f"[simd={simd_path}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("kh", [4, 5, 6], ids=lambda k: f"kh={k}")
def test_rows_a_multiple_of_4kib_apart(simd_path, dtype, kh):
    """Input rows a multiple of 4 KiB apart (power-of-two widths, and a narrower view of such
    rows) switch kernels of 5 and 6 rows to the small block that reads fewer input rows, in the
    kernel's bands and the core's tiles alike (fc_small_band_rows); 4 rows stay on the usual
    block.  Output heights leave every remainder of either block's bands, in one tile and in
    several."""
    rng = np.random.default_rng(kh)
    width = 4096 // np.dtype(dtype).itemsize
    for oh in (1, 2, 3, 4, 7, 8, 100, 101):
        image, kernel = random_pair(rng, (oh + kh - 1, width), (kh, 9 - kh), dtype)
        for op in OPS:
            check(op, image, kernel, dtype, workers=2, context=f"[simd={simd_path}]")
        wide = rng.standard_normal((oh + kh - 1, 2 * width)).astype(dtype)
        check("correlate", wide[:, 3:200], kernel, dtype, workers=1, use_scipy=False,
              context=f"[simd={simd_path}, 8 KiB row stride]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize(
    "small_shape, big_shape",
    [((3, 4), (10, 12)), ((1, 1), (5, 6)), ((6, 2), (6, 9)), ((2, 7), (8, 7)), ((5, 5), (40, 33))],
    ids=["3x4<10x12", "1x1<5x6", "6x2<6x9", "2x7<8x7", "5x5<40x33"],
)
def test_in2_larger(op, dtype, small_shape, big_shape):
    """scipy swaps when in2 is the larger: correlate2d gives correlate(in2, in1) rotated by 180
    degrees, convolve2d is commutative.  scipy itself is one of the two oracles here."""
    rng = np.random.default_rng(5)
    small, big = random_pair(rng, small_shape, big_shape, dtype)
    swapped = check(op, small, big, dtype)
    direct = fastcorr.correlate2d(big, small) if op == "correlate" else fastcorr.convolve2d(big, small)
    bound = 2 * error_bound(big, small, dtype, op=op)
    if op == "correlate":
        assert_within_bound(swapped, direct[::-1, ::-1], bound[::-1, ::-1], "rotation rule")
    else:
        assert_within_bound(swapped, direct, bound, "commutativity")


def test_small_explicit_values():
    """A hand-computed case, independent of both oracles."""
    image = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    # image[i, j] - image[i + 1, j + 1] is -4 everywhere.
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel), np.full((2, 2), -4.0))
    # Convolution flips the kernel: image[i + 1, j + 1] - image[i, j] = +4.
    np.testing.assert_array_equal(fastcorr.convolve2d(image, kernel), np.full((2, 2), 4.0))
    # in2 larger: correlate(image, kernel) rotated by 180 degrees is still -4 everywhere, but a
    # non-symmetric case shows the rotation: correlate([[1, 2, 3]], [[1, 10]]) = [[21, 32]].
    np.testing.assert_array_equal(fastcorr.correlate2d([[1, 10]], [[1, 2, 3]]), [[32, 21]])


def test_oracle_self_check():
    """The oracle itself against scipy on integer-valued data, where float64 and longdouble
    sums are exact, so any indexing or swap mistake in reference.py shows up as inequality."""
    rng = np.random.default_rng(8)
    for shape1, shape2 in [((9, 14), (3, 4)), ((3, 4), (9, 14)), ((6, 6), (6, 6)), ((1, 9), (1, 2))]:
        a = rng.integers(-50, 50, size=shape1).astype(np.float64)
        b = rng.integers(-50, 50, size=shape2).astype(np.float64)
        for op, (_, reference, scipy_func) in OPS.items():
            for dtype in FLOATS:
                np.testing.assert_array_equal(reference(a, b, dtype), scipy_func(a, b, "valid"),
                                              err_msg=f"{op} {shape1} {shape2} {dtype}")
    # The bound is tight enough to reject a float16 computation of a float32 result.
    a = rng.standard_normal((20, 30)).astype(np.float32)
    b = rng.standard_normal((3, 3)).astype(np.float32)
    exact = correlate2d_valid_reference(a, b, np.float32)
    half = exact.astype(np.float16).astype(np.float32)
    with pytest.raises(AssertionError, match="exceed the error bound"):
        assert_within_bound(half, exact, error_bound(a, b, np.float32))
    # ... while the correctly rounded float32 result passes.
    assert_within_bound(exact.astype(np.float32), exact, error_bound(a, b, np.float32))


def test_docstring_examples():
    """The examples in the public docstrings are part of the documentation users copy."""
    import doctest

    import fastcorr._api
    import fastcorr._api1d
    import fastcorr._config

    for module in (fastcorr._api, fastcorr._api1d, fastcorr._config):
        failures, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert attempted > 0, module.__name__
        assert failures == 0, module.__name__


def test_concurrent_calls_from_python_threads():
    """Calls release the GIL; concurrent calls (each multithreaded itself) must not share
    scratch memory or output buffers."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(77)
    jobs = []
    for i in range(12):
        dtype = FLOATS[i % 2]
        image, kernel = random_pair(rng, (90 + i, 150 + 7 * i), (3 + i % 4, 2 + i % 5), dtype)
        jobs.append((image, kernel, dtype))

    def run(job):
        image, kernel, _ = job
        return [fastcorr.correlate2d(image, kernel, workers=2) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, jobs))
    for (image, kernel, dtype), outs in zip(jobs, results):
        expected = correlate2d_valid_reference(image, kernel, dtype)
        bound = error_bound(image, kernel, dtype)
        for out in outs:
            assert_within_bound(out, expected, bound, f"concurrent {image.shape}*{kernel.shape}")


def test_array_like_inputs_and_default_mode():
    image = [[1, 2, 3, 4], [5, 6, 7, 8]]
    kernel = [[1, -1]]
    result = fastcorr.correlate2d(image, kernel)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [[-1, -1, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel, "valid"), result)
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel, mode="valid"), result)


@pytest.mark.parametrize("op", list(OPS))
def test_result_is_new_array(op):
    """Without out=, the result never aliases an input (not even a 1x1-kernel result)."""
    image = np.arange(12.0).reshape(3, 4)
    kernel = np.ones((1, 1))
    result = OPS[op][0](image, kernel)
    assert not np.shares_memory(result, image)
    assert not np.shares_memory(result, kernel)
    result[...] = -1
    np.testing.assert_array_equal(image, np.arange(12.0).reshape(3, 4))


# ----------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_layouts(make_layout, in1_layout, in2_layout, op, dtype):
    rng = np.random.default_rng(11)
    image, kernel = random_pair(rng, (14, 27), (3, 5), dtype)
    in1 = make_layout(image, in1_layout)
    in2 = make_layout(kernel, in2_layout)
    result = check(op, in1, in2, dtype)
    # The layout must not change the answer: same values in C order give the same result.
    expected = OPS[op][0](image, kernel)
    assert_within_bound(result, expected, 2 * error_bound(image, kernel, dtype, op=op), "layout")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_layouts_in2_larger(make_layout, in1_layout, in2_layout, op, dtype):
    rng = np.random.default_rng(12)
    small, big = random_pair(rng, (4, 3), (11, 26), dtype)
    check(op, make_layout(small, in1_layout), make_layout(big, in2_layout), dtype)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "negative", "nonnative"])
def test_layouts_integer_and_half_inputs(make_layout, layout):
    rng = np.random.default_rng(13)
    image = rng.integers(-100, 100, size=(9, 12)).astype(np.int16)
    kernel = rng.standard_normal((3, 2)).astype(np.float16)
    check("correlate", make_layout(image, layout), make_layout(kernel, layout), np.float64)


# ----------------------------------------------------------------------------- dtypes
PROMOTION = [
    (np.float32, np.float32, np.float32),
    (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64),
    (np.float16, np.float16, np.float32),
    (np.float16, np.float32, np.float32),
    (np.float32, np.float16, np.float32),
    (np.float16, np.float64, np.float64),
    (np.int8, np.int8, np.float64),
    (np.uint16, np.uint16, np.float64),
    (np.int64, np.int64, np.float64),
    (np.uint8, np.float32, np.float64),
    (np.float32, np.int32, np.float64),
    (np.int16, np.float16, np.float64),
    (np.uint64, np.float64, np.float64),
    (np.bool_, np.bool_, np.float64),
    (np.bool_, np.float32, np.float64),
    (np.int8, np.bool_, np.float64),
]


def _values(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if dtype.itemsize == 8:
            # Integers float32 cannot hold but float64 can: a float32 computation would miss
            # the float64 bound by orders of magnitude.
            lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)
        else:
            lo, hi = info.min, info.max
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize(
    "dt1, dt2, expected", PROMOTION,
    ids=[f"{dtype_id(a)}+{dtype_id(b)}->{dtype_id(c)}" for a, b, c in PROMOTION],
)
def test_dtype_promotion(op, dt1, dt2, expected):
    rng = np.random.default_rng(21)
    in1 = _values(rng, (11, 23), dt1)
    in2 = _values(rng, (3, 4), dt2)
    check(op, in1, in2, expected)
    # The promotion must not depend on which argument is the larger.
    check(op, in2, in1, expected)


def test_float32_is_computed_in_float32(simd_path):
    """float32 in, float32 out, and the sum is formed in float32, not in float64 and rounded.

    With terms 1, 2**-24 and 2**-48 every float32 summation order gives exactly 1 (each partial
    sum is a tie or below half an ulp of 1 and rounds to it), while the float64 sum
    1 + 2**-24 + 2**-48 is above the midpoint and rounds to 1 + 2**-23 in float32.
    """
    image = np.array([[1.0, 2.0**-24, 2.0**-48]], dtype=np.float32)
    kernel = np.ones((1, 3), dtype=np.float32)
    for args in ((image, kernel), (kernel, image)):
        result = fastcorr.correlate2d(*args)
        assert result.dtype == np.float32
        assert result[0, 0] == np.float32(1.0), (
            f"{result[0, 0]!r}: not a float32 accumulation (float64 would round to 1 + 2**-23)")


# ----------------------------------------------------------------------------- NaN / Inf
def _nan_inf_cases(rng, oh, ow, kh, kw, dtype):
    """(name, image, kernel) with NaN/Inf placed at corners and the right edge, where the last,
    partial vector (the masked/zero-padded lanes) reads them."""
    shape = (oh + kh - 1, ow + kw - 1)
    m, n = shape

    def fresh():
        return rng.standard_normal(shape).astype(dtype), rng.standard_normal((kh, kw)).astype(dtype)

    image, kernel = fresh()
    image[0, n - 1] = np.nan
    image[m - 1, 0] = np.nan
    image[m // 2, n // 2] = np.nan
    yield "nan-in-image", image, kernel

    image, kernel = fresh()
    image[m - 1, n - 1] = np.inf
    image[0, 0] = -np.inf
    kernel[kh // 2, kw - 1] = 0.0  # Inf * 0 must give NaN: no zero tap may be skipped
    yield "inf-in-image-zero-tap", image, kernel

    image, kernel = fresh()
    kernel = np.abs(kernel)
    image[m // 2, n - 1] = np.inf
    image[m // 2, max(n - 2, 0)] = -np.inf  # windows holding both give Inf - Inf = NaN
    yield "pos-and-neg-inf", image, kernel

    image, kernel = fresh()
    kernel[kh - 1, kw - 1] = np.nan
    yield "nan-in-kernel", image, kernel

    image, kernel = fresh()
    kernel[0, kw - 1] = np.inf
    kernel[kh - 1, 0] = -np.inf
    image[:, n - 1] = 0.0  # zero image values meet the Inf taps
    image[m - 1, :] = 0.0
    yield "inf-in-kernel-zero-image", image, kernel


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_nan_inf_propagation(simd_path, op, dtype):
    rng = np.random.default_rng(31)
    with np.errstate(invalid="ignore", over="ignore"):
        for oh in (1, 3, 6, 9):
            for ow in (1, 2, 3, 5, 8, 13, 24, 29, 37, 67):
                kh, kw = (3, 4) if ow % 2 else (2, 1)
                for name, image, kernel in _nan_inf_cases(rng, oh, ow, kh, kw, dtype):
                    ctx = f"[{name}, simd={simd_path}, out {oh}x{ow}]"
                    result = check(op, image, kernel, dtype, workers=1, context=ctx)
                    # The cases only mean something if non-finite values reached the output.
                    assert not np.all(np.isfinite(result)), name
                    # The same with the arguments in scipy's swapped order.
                    check(op, kernel, image, dtype, workers=1, context=ctx + " swapped")


# ----------------------------------------------------------------------------- workers
def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@pytest.mark.parametrize(
    "workers", [None, 1, 2, 3, 8, -1, np.int64(2), np.int32(1), "neg-all"],
    ids=["None", "1", "2", "3", "8", "-1", "np.int64(2)", "np.int32(1)", "-cpu_count"],
)
def test_workers_values(workers):
    if isinstance(workers, str):
        workers = -_cpu_count()  # counts back to exactly one thread
    rng = np.random.default_rng(41)
    image, kernel = random_pair(rng, (120, 260), (5, 5), np.float32)
    check("correlate", image, kernel, np.float32, workers=workers)
    check("convolve", image, kernel, np.float32, workers=workers)


def test_huge_workers_value():
    """Any int >= 1 is a valid thread request (it is capped by the work available); a value
    beyond C int range must not leak a raw OverflowError from the compiled layer."""
    rng = np.random.default_rng(42)
    image, kernel = random_pair(rng, (20, 30), (3, 3), np.float64)
    try:
        result = fastcorr.correlate2d(image, kernel, workers=2**31)
    except ValueError as exc:
        assert "workers" in str(exc)
    else:
        assert_within_bound(result, correlate2d_valid_reference(image, kernel, np.float64),
                            error_bound(image, kernel, np.float64), "workers=2**31")


# ----------------------------------------------------------------------------- out=
def _make_out(shape, dtype, layout):
    if layout == "C":
        return np.full(shape, np.nan, dtype=dtype)
    if layout == "F":
        return np.asfortranarray(np.full(shape, np.nan, dtype=dtype))
    if layout == "strided":
        return np.full((2 * shape[0], 3 * shape[1]), np.nan, dtype=dtype)[::2, ::3]
    if layout == "negative":
        return np.full(shape, np.nan, dtype=dtype)[::-1, ::-1]
    if layout == "unaligned":
        raw = np.empty(int(np.prod(shape)) * np.dtype(dtype).itemsize + 1, dtype=np.uint8)[1:]
        out = raw.view(dtype).reshape(shape)
        out[...] = np.nan
        assert not out.flags.aligned
        return out
    raise ValueError(layout)


@pytest.mark.parametrize("swap", [False, True], ids=["in1-larger", "in2-larger"])
@pytest.mark.parametrize("out_layout", ["C", "F", "strided", "negative", "unaligned"])
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_out_is_written_and_returned(op, dtype, out_layout, swap):
    rng = np.random.default_rng(51)
    image, kernel = random_pair(rng, (13, 29), (4, 3), dtype)
    args = (kernel, image) if swap else (image, kernel)
    out = _make_out((10, 27), dtype, out_layout)
    result = check(op, *args, dtype, out=out)
    assert result is out


def test_out_with_promoted_dtype():
    image = np.arange(30, dtype=np.int16).reshape(5, 6)
    kernel = np.ones((2, 2), dtype=np.float16)
    out = np.empty((4, 5), dtype=np.float64)
    result = check("correlate", image, kernel, np.float64, out=out)
    assert result is out


def _aliasing_check(op, in1, in2, out, dtype):
    """Compute into `out`, which overlaps an input; compare with the oracle on copies."""
    a, b = np.array(in1, copy=True), np.array(in2, copy=True)
    expected = OPS[op][1](a, b, dtype)
    bound = error_bound(a, b, dtype, op=op)
    result = OPS[op][0](in1, in2, out=out)
    assert result is out
    assert_within_bound(result, expected, bound, f"{op} with aliased out")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_out_is_in1_itself(op, dtype):
    """With a 1x1 kernel the result has in1's shape, so out can be in1's very memory."""
    rng = np.random.default_rng(61)
    for layout in ("C", "strided", "negative", "F"):
        image = rng.standard_normal((9, 21)).astype(dtype)
        if layout == "strided":
            image = np.full((18, 42), np.nan, dtype=dtype)[::2, ::2]
            image[...] = rng.standard_normal((9, 21))
        elif layout == "negative":
            image = image[::-1, ::-1]
        elif layout == "F":
            image = np.asfortranarray(image)
        kernel = np.array([[-1.5]], dtype=dtype)
        _aliasing_check(op, image, kernel, image, dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_out_overlaps_in1(op, dtype):
    rng = np.random.default_rng(62)
    kernel = rng.standard_normal((3, 4)).astype(dtype)
    oh, ow = 12, 33
    # out is the contiguous start of in1's buffer: every output overwrites inputs that later
    # outputs still need if written in place.
    image = rng.standard_normal((oh + 2, ow + 3)).astype(dtype)
    out = image.reshape(-1)[: oh * ow].reshape(oh, ow)
    _aliasing_check(op, image, kernel, out, dtype)
    # out is a shifted window of in1 (non-contiguous, overlapping it with an offset).
    image = rng.standard_normal((oh + 2, ow + 3)).astype(dtype)
    out = image[1 : 1 + oh, 2 : 2 + ow]
    _aliasing_check(op, image, kernel, out, dtype)
    # in1 is a reversed view of the buffer out lives in.
    buf = rng.standard_normal((oh + 2, ow + 3)).astype(dtype)
    _aliasing_check(op, buf[::-1, ::-1], kernel, buf[:oh, :ow], dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_out_overlaps_kernel(op, dtype):
    rng = np.random.default_rng(63)
    # Kernel and out both C-contiguous views of one flat buffer, overlapping: a kernel that is
    # read while out is written would be corrupted mid-computation.
    buf = rng.standard_normal(80).astype(dtype)
    kernel = buf[:12].reshape(3, 4)
    image = rng.standard_normal((10, 12)).astype(dtype)
    _aliasing_check(op, image, kernel, buf[5:5 + 8 * 9].reshape(8, 9), dtype)
    # Non-contiguous overlapping views.
    buf = rng.standard_normal((9, 9)).astype(dtype)
    image = rng.standard_normal((10, 10)).astype(dtype)
    _aliasing_check(op, image, buf[:4, :4], buf[2:, 2:], dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("op", list(OPS))
def test_out_overlaps_in2_when_in2_larger(op, dtype):
    """After scipy's swap in2 is the image: out inside in2 must still give the right answer."""
    rng = np.random.default_rng(64)
    small = rng.standard_normal((3, 5)).astype(dtype)
    for start in (0, 7, 30):
        buf = rng.standard_normal(12 * 15 + 40).astype(dtype)
        big = buf[:180].reshape(12, 15)
        _aliasing_check(op, small, big, buf[start:start + 110].reshape(10, 11), dtype)
    big = rng.standard_normal((12, 15)).astype(dtype)
    _aliasing_check(op, small, big, big[:10, :11], dtype)
    big = rng.standard_normal((12, 15)).astype(dtype)
    _aliasing_check(op, small, big, big[2:, 4:], dtype)
