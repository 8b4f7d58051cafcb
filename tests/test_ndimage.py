"""fastcorr.ndimage against its oracle (tests/ndoracle.py, scipy.ndimage's definition in extended
precision) and against scipy.ndimage itself: every mode, origins, axes, N-D inputs, output
dtypes, complex data, the errors scipy raises, and inputs left untouched.

Tolerances: a float result accumulated in dtype over K taps lies within
``(K + 2) eps(dtype) sum |w| |x|`` of the exact value (ndoracle.bound); scipy's float64 result
lies within one float64 rounding of it, so fastcorr and scipy differ by at most the sum of the
two.  Multi-pass filters (Gaussian, uniform, Sobel, ...) chain such bounds, one per pass; they
are compared with scipy at the bound of one pass of the longest kernel times the number of
passes, on inputs in [0, 1) whose outputs have no cancellation beyond the kernel's own.
Integer outputs are compared for equality (scipy's arithmetic, see _engine/filters.py).
"""
import numpy as np
import pytest

import ndoracle
from fastcorr import ndimage

scipy_ndimage = pytest.importorskip("scipy.ndimage")

FLOATS = (np.float32, np.float64)


def _close(result, reference, bound, context):
    result = np.asarray(result, np.float64)
    reference = np.asarray(reference, np.float64)
    excess = np.abs(result - reference) - bound
    assert result.shape == reference.shape, context
    assert np.all(excess <= 0), f"{context}: off by {np.max(excess):.3g} beyond the bound"


def _origins(rng, shape):
    return [int(rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in shape]


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ndoracle.MODES)
@pytest.mark.parametrize("shape,wshape", [
    ((37,), (5,)), ((64,), (4,)), ((3,), (7,)),                      # 1-D, kernel > input
    ((23, 31), (3, 3)), ((40, 33), (5, 4)), ((6, 5), (9, 7)),        # 2-D, even, larger
    ((150, 140), (7, 7)), ((2, 300), (1, 9)), ((300, 3), (5, 1)),    # frame, rows, columns
    ((4, 19, 21), (1, 3, 5)), ((5, 6, 40), (3, 1, 1)),              # 3-D with a size-1 axis
], ids=str)
def test_correlate_matches_oracle(dtype, mode, shape, wshape):
    rng = np.random.default_rng(sum(shape) + sum(wshape))
    x = rng.uniform(-1, 1, shape).astype(dtype)
    w = rng.uniform(-1, 1, wshape)
    origins = _origins(rng, wshape)
    snapshot = (x.copy(), w.copy())
    result = ndimage.correlate(x, w, mode=mode, cval=0.75, origin=origins)
    assert result.dtype == dtype and result.shape == x.shape
    exact = ndoracle.correlate(x, w, mode, 0.75, origins)
    bound = ndoracle.bound(x, w, dtype, mode, 0.75, origins)
    _close(result, exact, bound, f"{mode} {shape} {wshape} {origins}")
    expected = scipy_ndimage.correlate(x, w, mode=mode, cval=0.75, origin=origins)
    _close(result, expected, 2 * bound, "against scipy")
    assert np.array_equal(x, snapshot[0]) and np.array_equal(w, snapshot[1])


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["reflect", "constant", "mirror", "wrap", "nearest"])
def test_convolve_matches_scipy(dtype, mode):
    rng = np.random.default_rng(3)
    for shape, wshape in (((30, 41), (4, 5)), ((50,), (6,)), ((7, 8), (3, 2))):
        x = rng.uniform(-1, 1, shape).astype(dtype)
        w = rng.uniform(-1, 1, wshape)
        origins = _origins(rng, wshape)
        result = ndimage.convolve(x, w, mode=mode, cval=-2.0, origin=origins)
        expected = scipy_ndimage.convolve(x, w, mode=mode, cval=-2.0, origin=origins)
        flipped = w[(slice(None, None, -1),) * w.ndim]
        bound = 2 * ndoracle.bound(x, flipped, dtype, mode, -2.0, None) + \
            2 * ndoracle.bound(x, flipped, dtype, mode, -2.0, [-o - 1 for o in origins])
        _close(result, expected, bound, f"{mode} {shape} {wshape} {origins}")


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ndoracle.MODES)
def test_correlate1d_every_axis(dtype, mode):
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (9, 14, 33)).astype(dtype)
    for axis in (0, 1, 2, -1):
        for k in (1, 2, 5, 12):
            w = rng.uniform(-1, 1, k)
            origin = int(rng.integers(-(k // 2), (k - 1) // 2 + 1))
            result = ndimage.correlate1d(x, w, axis=axis, mode=mode, cval=0.5, origin=origin)
            shape = [1, 1, 1]
            shape[axis] = k
            origins = [0, 0, 0]
            origins[axis] = origin
            exact = ndoracle.correlate(x, w.reshape(shape), mode, 0.5, origins)
            bound = ndoracle.bound(x, w.reshape(shape), dtype, mode, 0.5, origins)
            _close(result, exact, bound, f"axis {axis} k {k} origin {origin}")


@pytest.mark.parametrize("dtype", FLOATS + (np.complex64,), ids=lambda d: np.dtype(d).name)
def test_rows_pass_routes_give_the_same_bits(dtype, monkeypatch):
    """A 1-D pass along the last axis of a stack of at least 64 rows of at most 4,096 samples
    runs as the row pass of the core's separable passes (execute.ROWS_MIN); fewer or longer
    rows take the 1-D route.  Both give the same bits in every mode, with origins, a cval,
    kernels longer than the rows and complex data, and the first really takes its route."""
    from fastcorr import _core
    from fastcorr._engine import execute

    calls = []
    separable = _core.correlate_separable

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return separable(*args, **kwargs)

    monkeypatch.setattr(_core, "correlate_separable", counted)
    rng = np.random.default_rng(29)
    for shape, k in (((70, 5), 12), ((3, 30, 41), 7), ((64, 4096), 33), ((200, 9), 2)):
        x = rng.uniform(-1, 1, shape).astype(dtype)
        if x.dtype.kind == "c":
            x = x + 1j * rng.uniform(-1, 1, shape).astype(dtype)
        w = rng.uniform(-1, 1, k)
        origin = int(rng.integers(-(k // 2), (k - 1) // 2 + 1))
        for mode in ndoracle.MODES:
            calls.clear()
            rows = ndimage.correlate1d(x, w, mode=mode, cval=0.25, origin=origin)
            assert calls, (shape, mode)
            with monkeypatch.context() as m:
                m.setattr(execute, "ROWS_MIN", 1 << 62)
                calls.clear()
                one_d = ndimage.correlate1d(x, w, mode=mode, cval=0.25, origin=origin)
                assert not calls, (shape, mode)
            np.testing.assert_array_equal(rows, one_d, err_msg=f"{shape} k={k} {mode}")


def _passes_bound(x, dtype, taps, passes):
    """A bound for `passes` chained passes of at most `taps` weights of magnitude <= 1 summing
    in absolute value to at most `taps`, on inputs of magnitude <= max|x|."""
    return passes * (taps + 2) * float(np.finfo(dtype).eps) * taps ** passes * \
        float(np.max(np.abs(x)))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_separable_filters_match_scipy(dtype, mode):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (45, 38)).astype(dtype)
    cases = [
        ("gaussian_filter", (1.5,), {}), ("gaussian_filter", ([0.8, 2.5],), {"order": [1, 2]}),
        ("gaussian_filter", (2.0,), {"order": 3, "truncate": 2.0}),
        ("gaussian_filter", (1.0,), {"radius": [2, 5]}),
        ("gaussian_filter1d", (3.0,), {"axis": 0}), ("gaussian_filter1d", (1.2, 1, 2), {}),
        ("uniform_filter", (4,), {"origin": [-2, 1]}), ("uniform_filter", ([3, 1],), {}),
        ("uniform_filter1d", (6, 0), {"origin": 2}),
        ("sobel", (0,), {}), ("sobel", (1,), {}), ("prewitt", (0,), {}), ("laplace", (), {}),
        ("laplace", (), {"axes": [1]}), ("gaussian_filter", (1.0,), {"axes": (0,)}),
    ]
    for name, args, kwargs in cases:
        result = getattr(ndimage, name)(x, *args, mode=mode, cval=0.25, **kwargs)
        expected = getattr(scipy_ndimage, name)(x, *args, mode=mode, cval=0.25, **kwargs)
        assert result.dtype == expected.dtype, name
        # Gaussian derivatives of order <= 3 have |weights| below 1 at these sigmas (sum of
        # |w| below 2); 33 taps covers every kernel above.
        _close(result, expected, _passes_bound(x, dtype, 33, 2) + 1e-15, f"{name}{args}")


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_short_separable_filters_keep_inf_and_nan_where_scipy_does(dtype):
    """3- and 5-tap separable filters, which run as one 2-D correlation where that is faster
    (ndimage's module docstring): an Inf read through a zero tap gives NaN in the same outputs
    as scipy's two passes, every mode (zero fill included, where the 2-D kernel reads the
    fill through both passes as they do) and origin; the finite outputs within the two passes'
    bound, whichever route ran."""
    rng = np.random.default_rng(31)
    x = rng.uniform(-1, 1, (40, 53)).astype(dtype)
    x[5, 7], x[20, 0], x[39, 52], x[12, 30] = np.inf, -np.inf, np.nan, np.inf

    def box_passes(x, size, mode, origin=(0, 0)):
        # scipy's uniform_filter runs a moving sum, whose NaN spreads to the rest of the line;
        # its definition, two correlate1d passes of box weights, is the oracle here.
        for axis, (k, o) in enumerate(zip(size, origin)):
            x = scipy_ndimage.correlate1d(x, np.full(k, 1.0 / k), axis, mode=mode, origin=o)
        return x

    cases = [("sobel", (0,), {}), ("sobel", (1,), {}), ("prewitt", (1,), {}),
             ("uniform_filter", (3,), {}), ("uniform_filter", ([5, 3],), {"origin": [1, -1]}),
             ("gaussian_filter", (0.5,), {}), ("gaussian_filter", (0.6,), {"order": [0, 1]})]
    for mode in ("reflect", "constant", "nearest", "mirror", "wrap"):
        for name, args, kwargs in cases:
            result = getattr(ndimage, name)(x, *args, mode=mode, **kwargs)
            if name == "uniform_filter":
                size = np.broadcast_to(args[0], 2)
                expected = box_passes(x, size, mode, kwargs.get("origin", (0, 0)))
            else:
                expected = getattr(scipy_ndimage, name)(x, *args, mode=mode, **kwargs)
            context = f"{name}{args}{kwargs} {mode}"
            assert result.dtype == expected.dtype, context
            assert np.array_equal(np.isnan(result), np.isnan(expected)), context
            inf = np.isinf(expected)
            assert np.array_equal(result[inf], expected[inf]), context
            finite = np.isfinite(expected)
            _close(result[finite], expected[finite],
                   _passes_bound(x[np.isfinite(x)], dtype, 5, 2) + 1e-15, context)


def test_per_axis_modes():
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, (20, 25))
    for name, args in (("gaussian_filter", (1.3,)), ("uniform_filter", (5,)),
                       ("sobel", ()), ("prewitt", ()), ("laplace", ())):
        modes = ["wrap", "constant"] if name != "laplace" else ["mirror", "nearest"]
        result = getattr(ndimage, name)(x, *args, mode=modes, cval=3.0)
        expected = getattr(scipy_ndimage, name)(x, *args, mode=modes, cval=3.0)
        _close(result, expected, 1e-12, name)


def test_laplace_over_the_last_two_axes():
    """laplace over the last two axes runs as one call of the fused passes (two terms of
    different lengths): per-axis modes given in either axis order, a stack of images, an
    integer image with a float output, an output that is the input; and an Inf or NaN reaches
    exactly the outputs scipy's two passes give it (a second difference padded with zero taps
    would put 0 * Inf = NaN on the diagonals)."""
    rng = np.random.default_rng(23)
    stack = rng.uniform(-1, 1, (3, 21, 34))
    stack[1, 4, 7], stack[2, 10, 0], stack[0, 20, 33] = np.inf, np.nan, -np.inf
    integers = rng.integers(0, 255, (19, 40)).astype(np.uint8)
    calls = [(stack, {"axes": (1, 2), "mode": ["wrap", "constant"], "cval": 2.0}),
             (stack, {"axes": (-1, -2), "mode": ["nearest", "mirror"]}),
             (stack[:, :, ::-3], {"axes": (2, 1), "mode": "reflect"}),
             (stack.astype(np.float32), {"axes": (1, 2), "mode": "constant", "cval": -1.5}),
             (integers, {"output": np.float32, "mode": "wrap"}),
             (integers, {"output": np.float64, "mode": ["constant", "reflect"], "cval": 9})]
    for x, kwargs in calls:
        result = ndimage.laplace(x, **kwargs)
        expected = scipy_ndimage.laplace(x, **kwargs)
        assert result.dtype == expected.dtype
        assert np.array_equal(np.isnan(result), np.isnan(expected)), kwargs
        finite = np.isfinite(expected)
        assert np.array_equal(result[~finite & ~np.isnan(expected)],
                              expected[~finite & ~np.isnan(expected)]), kwargs
        # Each pass: 3 products, sum|w| = 4, |error| <= (3 + 1) * eps * 4 * X, for either
        # library; the sum of the two passes adds eps * 8 * X: 40 * eps * X in all.
        eps = np.finfo(result.dtype).eps
        bound = 40 * eps * max(np.abs(x[np.isfinite(x)]).max(), abs(kwargs.get("cval", 0)))
        assert np.abs(result[finite] - expected[finite]).max() <= bound, kwargs
    aliased = stack.copy()
    ndimage.laplace(aliased, aliased, mode="mirror", axes=(1, 2))
    np.testing.assert_array_equal(aliased, ndimage.laplace(stack, mode="mirror", axes=(1, 2)))


def test_volume_kernel_matches_oracle():
    rng = np.random.default_rng(13)
    for dtype in FLOATS:
        for shape, wshape in (((9, 10, 11), (3, 3, 3)), ((12, 7, 30), (5, 2, 4)),
                              ((3, 4, 5), (5, 6, 3))):
            x = rng.uniform(-1, 1, shape).astype(dtype)
            w = rng.uniform(-1, 1, wshape)
            for mode in ("reflect", "constant", "wrap", "nearest", "mirror"):
                origins = _origins(rng, wshape)
                result = ndimage.correlate(x, w, mode=mode, cval=1.0, origin=origins)
                exact = ndoracle.correlate(x, w, mode, 1.0, origins)
                bound = ndoracle.bound(x, w, dtype, mode, 1.0, origins)
                _close(result, exact, bound, f"{dtype} {shape} {wshape} {mode}")


@pytest.mark.parametrize("dtype", (np.uint8, np.uint16, np.int16, np.int32, np.int64, np.bool_),
                         ids=lambda d: np.dtype(d).name)
def test_integer_results_equal_scipy(dtype):
    rng = np.random.default_rng(17)
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    hi = 2 if info is None else min(info.max, 1000) + 1
    lo = 0 if info is None else max(info.min, -1000)
    x = rng.integers(lo, hi, (37, 29)).astype(dtype)
    x[5:15, 5:15] = x[5, 5]  # a flat region: outputs land on integers, where truncation bites
    w = rng.uniform(-0.2, 1, (5, 5))
    w /= w.sum()
    volume = rng.integers(lo, hi, (6, 9, 11)).astype(dtype)
    calls = [
        ("correlate", (x, w), {}), ("correlate", (x, w), {"mode": "constant", "cval": 7}),
        ("convolve", (x, w), {"mode": "wrap"}), ("correlate", (volume, w[:3, :3, None]), {}),
        ("correlate1d", (x, w[0]), {"axis": 0}), ("correlate1d", (x, w[:, 1]), {"mode": "mirror"}),
        ("correlate1d", (x, [1.0, 2.0, 1.0]), {}), ("correlate1d", (x, [-1.0, 0.0, 1.0]), {}),
        ("convolve1d", (x, [1.0, 3.0]), {}),
        ("gaussian_filter", (x, 1.7), {}), ("gaussian_filter", (volume, 1.0), {}),
        ("gaussian_filter1d", (x, 2.0), {"order": 1}), ("uniform_filter", (x, 3), {}),
        ("uniform_filter1d", (x, 4), {"axis": 0, "origin": -1}), ("sobel", (x,), {}),
        ("prewitt", (x, 0), {}), ("laplace", (x,), {"mode": "nearest"}),
    ]
    for name, args, kwargs in calls:
        result = getattr(ndimage, name)(*args, **kwargs)
        expected = getattr(scipy_ndimage, name)(*args, **kwargs)
        assert result.dtype == expected.dtype, name
        assert np.array_equal(result, expected), (
            f"{name} {kwargs}: {np.count_nonzero(result != expected)} values differ")


def test_integer_input_float_output():
    rng = np.random.default_rng(19)
    x = rng.integers(0, 256, (64, 70)).astype(np.uint8)
    w = rng.uniform(0, 1, (5, 5))
    for output in (np.float32, np.float64):
        result = ndimage.correlate(x, w, output=output)
        assert result.dtype == output
        bound = ndoracle.bound(x, w, output)
        _close(result, ndoracle.correlate(x, w), bound, np.dtype(output).name)


def test_complex():
    rng = np.random.default_rng(23)
    x = (rng.uniform(-1, 1, (20, 22)) + 1j * rng.uniform(-1, 1, (20, 22)))
    w = rng.uniform(-1, 1, (3, 4)) + 1j * rng.uniform(-1, 1, (3, 4))
    for name, args in (("correlate", (x, w)), ("convolve", (x, w)),
                       ("correlate", (x.real, w)), ("correlate", (x, w.real)),
                       ("correlate1d", (x, w[0])), ("convolve1d", (x.real, w[0])),
                       ("uniform_filter", (x, 3))):
        result = getattr(ndimage, name)(*args, mode="constant", cval=0.5)
        expected = getattr(scipy_ndimage, name)(*args, mode="constant", cval=0.5)
        assert result.dtype == expected.dtype, name
        _close(result.real, expected.real, 1e-12, name)
        _close(result.imag, expected.imag, 1e-12, name)


def test_output_argument_and_aliasing():
    rng = np.random.default_rng(29)
    x = rng.uniform(0, 1, (30, 31))
    w = rng.uniform(0, 1, (3, 5))
    expected = scipy_ndimage.correlate(x, w)
    out = np.empty_like(x)
    assert ndimage.correlate(x, w, output=out) is out
    _close(out, expected, 1e-13, "output array")
    assert ndimage.correlate(x, w, output="float32").dtype == np.float32
    strided = np.zeros((30, 62))[:, ::2]
    ndimage.correlate(x, w, output=strided)
    _close(strided, expected, 1e-13, "strided output")
    y = x.copy()
    assert ndimage.correlate(y, w, output=y) is y  # in place, through a temporary
    _close(y, expected, 1e-13, "output is input")
    z = x.copy()
    ndimage.gaussian_filter(z, 2.0, output=z)
    _close(z, scipy_ndimage.gaussian_filter(x, 2.0), 1e-13, "gaussian in place")


def test_layouts_and_axes():
    rng = np.random.default_rng(31)
    x = rng.uniform(0, 1, (12, 40, 6))
    w = rng.uniform(0, 1, (3, 5))
    for view in (x, x.transpose(2, 0, 1), x[::-2, :, ::3], np.asfortranarray(x)):
        for axes in ((0, 1), (1, 2), (2, 0), (-1, -2)):
            result = ndimage.correlate(view, w, axes=axes, mode="mirror")
            expected = scipy_ndimage.correlate(view, w, axes=axes, mode="mirror")
            _close(result, expected, 1e-13, f"{view.strides} {axes}")


def test_workers_give_identical_results():
    rng = np.random.default_rng(37)
    x = rng.uniform(0, 1, (300, 280)).astype(np.float32)
    w = rng.uniform(0, 1, (7, 7))
    one = ndimage.correlate(x, w, workers=1)
    assert np.array_equal(one, ndimage.correlate(x, w, workers=2))
    assert np.array_equal(one, ndimage.correlate(x, w, workers=-1))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_laplace_skips_its_identity_passes(simd_path, dtype):
    """Each of laplace's two terms pairs a second difference with a pass of one tap of 1,
    which the core does not run: the column pass writes the output itself, the row pass
    reads the image rows in place and builds only the extended columns of the outputs near
    the edges.  Every mode, on images narrower or shorter than the taps (nothing read in
    place) and wide enough for an interior; against the oracle's two second differences in
    extended precision, summed (each within its bound, plus the rounding of the sum); stored
    non-temporally (the sum of the terms in the thread's buffer, fc_sum_nt) it gives the same
    bits as stored plainly."""
    from fastcorr import _core

    rng = np.random.default_rng(29)
    second = np.array([1.0, -2.0, 1.0])
    eps = float(np.finfo(dtype).eps)
    for shape in [(1, 1), (1, 2), (2, 1), (3, 3), (5, 2), (2, 40), (60, 1), (31, 7),
                  (29, 300)]:
        x = rng.uniform(-1, 1, shape).astype(dtype)
        for mode in ndoracle.MODES:
            result = ndimage.laplace(x, mode=mode, cval=0.75)
            assert result.dtype == dtype
            exact, bound = 0, 0
            for w in (second[:, None], second[None, :]):
                exact = exact + ndoracle.correlate(x, w, mode, 0.75)
                bound = bound + ndoracle.bound(x, w, dtype, mode, 0.75) + \
                    eps * ndoracle.magnitude(x, w, mode, 0.75)
            _close(result, exact, bound, f"[simd={simd_path}] {shape} {mode}")
            previous = _core._set_stream_min_bytes(0)
            try:
                streamed = ndimage.laplace(x, mode=mode, cval=0.75)
            finally:
                _core._set_stream_min_bytes(previous)
            np.testing.assert_array_equal(streamed, result, err_msg=f"{shape} {mode}")


def test_every_simd_path(simd_path):
    rng = np.random.default_rng(41)
    x = rng.uniform(-1, 1, (70, 90)).astype(np.float32)
    w = rng.uniform(-1, 1, (5, 6))
    for mode in ("reflect", "wrap", "constant"):
        result = ndimage.correlate(x, w, mode=mode, origin=(1, -2))
        _close(result, ndoracle.correlate(x, w, mode, 0.0, (1, -2)),
               ndoracle.bound(x, w, np.float32, mode, 0.0, (1, -2)), f"{simd_path} {mode}")
        result = ndimage.gaussian_filter1d(x, 2.0, axis=0, mode=mode)
        _close(result, scipy_ndimage.gaussian_filter1d(x, 2.0, axis=0, mode=mode),
               _passes_bound(x, np.float32, 17, 1), f"{simd_path} gaussian {mode}")
        result = ndimage.gaussian_filter(x, 2.0, mode=mode)  # the fused passes
        _close(result, scipy_ndimage.gaussian_filter(x, 2.0, mode=mode),
               _passes_bound(x, np.float32, 17, 2), f"{simd_path} fused {mode}")
        u8 = (x * 100 + 100).astype(np.uint8)
        for output in (np.float32, np.uint8):  # converted rows; scipy's exact arithmetic
            result = ndimage.correlate(u8, w, mode=mode, output=output)
            expected = scipy_ndimage.correlate(u8, w, mode=mode, output=output)
            bound = 0 if output is np.uint8 else ndoracle.bound(u8, w, np.float32, mode)
            _close(result, expected, bound, f"{simd_path} uint8 -> {np.dtype(output)}")


def test_tiles_at_every_output_offset(simd_path, monkeypatch):
    """An output at every element offset within a cache line, its rows a whole number of lines
    apart (the kernel then computes each tile's first vector of columns apart and stores the
    rest on line boundaries) or not, with frames of 0 to 4 columns a side (bands of one vector
    beside the interior): the oracle's values on every path, and the same bits at every offset,
    since where the bands end depends on the shapes only."""
    from fastcorr._engine import execute

    monkeypatch.setattr(execute, "SMALL_IMAGE", 0)  # the interior plus a frame at every size
    rng = np.random.default_rng(53)
    for dtype in FLOATS:
        line = 64 // np.dtype(dtype).itemsize
        for width, wshape, origin in ((70, (3, 3), (0, 0)), (97, (5, 9), (1, -4)),
                                      (150, (3, 3), (0, 0)), (40, (2, 5), (0, 2)),
                                      (33, (1, 1), (0, 0))):
            x = rng.uniform(-1, 1, (21, width)).astype(dtype)
            w = rng.uniform(-1, 1, wshape)
            exact = ndoracle.correlate(x, w, "reflect", 0.0, origin)
            bound = ndoracle.bound(x, w, dtype, "reflect", 0.0, origin)
            for stride in (width, -(-width // line) * line):
                buffer = np.zeros(x.shape[0] * stride + 2 * line, dtype)
                shift = (-buffer.ctypes.data // buffer.itemsize) % line
                first = None
                for offset in range(line):
                    start = shift + offset
                    out = buffer[start:start + x.shape[0] * stride].reshape(
                        x.shape[0], stride)[:, :width]
                    ndimage.correlate(x, w, mode="reflect", origin=origin, output=out)
                    context = (f"{simd_path} {np.dtype(dtype)} {width} {wshape} {origin} "
                               f"stride {stride} offset {offset}")
                    _close(out, exact, bound, context)
                    if first is None:
                        first = out.copy()
                    assert np.array_equal(out, first), context


def _gaussian_taps(sigma, order, radius):
    """The sampled Gaussian over -radius..radius normalised to sum 1, or its first or second
    derivative (written out here, apart from the implementation's recurrence)."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 * x * x / (sigma * sigma))
    phi /= phi.sum()
    return {0: phi, 1: -x / sigma ** 2 * phi, 2: (x * x / sigma ** 4 - 1 / sigma ** 2) * phi}[order]


def _derivative_sum_bound(x, dtype, sigmas, radii, order):
    """What a sum over the axes of two-pass Gaussian filters, each with a derivative of `order`
    along its own axis, may differ by from scipy's float64 result: each pass of k taps adds at
    most (k + 2) eps times the sum of |w| |input| (ndoracle.bound), so a term of passes with
    |w| sums S0, S1 lies within (k0 + k1 + 4) eps S0 S1 max|x| (the gradient magnitude's
    squares and root move it by no more than the terms' errors together); scipy's float64
    result carries the same in float64."""
    total = 0.0
    for axis in range(len(sigmas)):
        sums = [np.abs(_gaussian_taps(s, order if a == axis else 0, r)).sum()
                for a, (s, r) in enumerate(zip(sigmas, radii))]
        total += sum(2 * r + 3 for r in radii) * float(np.prod(sums))
    eps = float(np.finfo(dtype).eps) + float(np.finfo(np.float64).eps)
    return 2 * eps * total * float(np.max(np.abs(x)))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_gaussian_laplace_and_gradient_magnitude_match_scipy(dtype, mode, monkeypatch):
    """gaussian_laplace and gaussian_gradient_magnitude against scipy's, within the bound of
    their passes; a float gaussian_laplace over the last two axes with one mode runs as one
    call of the fused passes (two terms), the other calls as scipy's sequence."""
    fused = []
    real_fused = ndimage._fused
    monkeypatch.setattr(ndimage, "_fused", lambda *a: fused.append(len(a[1])) or real_fused(*a))
    rng = np.random.default_rng(41)
    x = rng.uniform(-1, 1, (37, 52)).astype(dtype)
    # (sigma, keywords, radii, whether the fused passes run)
    cases = [(1.0, {}, (4, 4), True), (2.5, {"cval": 0.0}, (10, 10), True),
             ([0.8, 3.0], {}, (3, 12), True), (1.5, {"truncate": 2.0}, (3, 3), True),
             (1.2, {"radius": [2, 6]}, (2, 6), True), (1.7, {"axes": (1, 0)}, (7, 7), True),
             (1.3, {"cval": 0.5}, (5, 5), mode != "constant"),
             (1.3, {"mode": [mode, "wrap"]}, (5, 5), mode == "wrap"),
             (1.1, {"axes": (0,)}, (4, 0), False), ([1.0, 0.0], {}, (4, 0), False)]
    for sigma, kwargs, radii, runs_fused in cases:
        kwargs = dict({"mode": mode}, **kwargs)
        sigmas = [s for s in np.broadcast_to(np.asarray(sigma, float), 2)]
        # An axis left unfiltered (sigma 0 or not in axes) is one tap of 1.
        sigmas = [s if r else 1.0 for s, r in zip(sigmas, radii)]
        for name, order in (("gaussian_laplace", 2), ("gaussian_gradient_magnitude", 1)):
            fused.clear()
            result = getattr(ndimage, name)(x, sigma, **kwargs)
            expected = getattr(scipy_ndimage, name)(x, sigma, **kwargs)
            context = f"{name}({sigma}, {kwargs})"
            assert result.dtype == expected.dtype, context
            _close(result, expected, _derivative_sum_bound(x, dtype, sigmas, radii, order),
                   context)
            # gaussian_filter runs its own passes fused too, one term a call.
            if name == "gaussian_laplace" and runs_fused:
                assert fused == [2], context
            else:
                assert 2 not in fused, context


def test_gaussian_laplace_and_gradient_magnitude_volumes_integers_and_aliasing():
    """3-D volumes (every axis, and the last two: a stack of fused calls), integer images with
    integer outputs (equal to scipy's, whose sequence truncates each term), complex input, the
    generic forms with a derivative of the caller's; an output that is the input, and inputs
    left as they were."""
    rng = np.random.default_rng(43)
    volume = rng.uniform(-1, 1, (6, 17, 23))
    kept = volume.copy()
    for name in ("gaussian_laplace", "gaussian_gradient_magnitude"):
        for kwargs in ({}, {"axes": (1, 2)}, {"axes": (2, 0), "mode": ["nearest", "wrap"]},
                       {"sigma": [0.0, 1.0, 2.0]}):
            kwargs = dict({"sigma": 1.2}, **kwargs)
            result = getattr(ndimage, name)(volume, **kwargs)
            expected = getattr(scipy_ndimage, name)(volume, **kwargs)
            _close(result, expected, 1e-13, f"{name} {kwargs}")
        for dtype in (np.uint8, np.int16, np.uint16):
            image = rng.integers(0, 200, (29, 31)).astype(dtype)
            for sigma in (0.9, 2.0):
                result = getattr(ndimage, name)(image, sigma)
                expected = getattr(scipy_ndimage, name)(image, sigma)
                assert result.dtype == expected.dtype
                np.testing.assert_array_equal(result, expected, err_msg=f"{name} {dtype}")
        z = rng.uniform(-1, 1, (15, 18)) + 1j * rng.uniform(-1, 1, (15, 18))
        difference = getattr(ndimage, name)(z, 1.4) - getattr(scipy_ndimage, name)(z, 1.4)
        _close(np.abs(difference), np.zeros(z.shape), 1e-13, f"{name} complex")
        image = rng.uniform(0, 1, (24, 33))
        aliased = image.copy()
        getattr(ndimage, name)(aliased, 1.5, output=aliased)
        _close(aliased, getattr(scipy_ndimage, name)(image, 1.5), 1e-13, f"{name} aliased")
    np.testing.assert_array_equal(volume, kept)

    def d2(input, axis, output, mode, cval, scale):
        return ndimage.correlate1d(input, [scale, -2 * scale, scale], axis, output, mode, cval)

    def d2_scipy(input, axis, output, mode, cval, scale):
        return scipy_ndimage.correlate1d(input, [scale, -2 * scale, scale], axis, output, mode,
                                         cval)

    image = rng.uniform(-1, 1, (21, 26))
    _close(ndimage.generic_laplace(image, d2, mode="mirror", extra_arguments=(0.5,)),
           scipy_ndimage.generic_laplace(image, d2_scipy, mode="mirror",
                                         extra_arguments=(0.5,)), 1e-14, "generic_laplace")
    _close(ndimage.generic_gradient_magnitude(image, ndimage.sobel, mode="wrap"),
           scipy_ndimage.generic_gradient_magnitude(image, scipy_ndimage.sobel, mode="wrap"),
           1e-13, "generic_gradient_magnitude")
    np.testing.assert_array_equal(
        ndimage.generic_laplace(image, d2, axes=(), extra_arguments=(1.0,)), image)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_gradient_magnitude_sums_squares_as_numpy_does(dtype):
    """The float gradient magnitude's squares, sums and root (one parallel pass of
    _core.add_square per further axis) give numpy's values bit for bit, in numpy's order, on
    the same derivatives: 2 and 3 axes, lengths around the pass's units, several threads; a
    derivative whose result is strided or has another dtype takes numpy's own sequence."""
    from fastcorr import _core
    rng = np.random.default_rng(47)
    for n in (0, 1, 16383, 16385, 70001):
        a, b = rng.normal(size=(2, n)).astype(dtype)
        for square, root in ((True, True), (True, False), (False, True), (False, False)):
            total = a.copy()
            _core.add_square(total, b, square, root, 2)
            expected = a * a if square else a.copy()
            expected += b * b
            if root:
                with np.errstate(invalid="ignore"):  # NaN where the sum is negative
                    expected = np.sqrt(expected)
            assert np.array_equal(total, expected, equal_nan=True), (n, square, root)
    for shape in ((61, 170), (7, 33, 45)):
        x = rng.uniform(-1, 1, shape).astype(dtype)
        derivatives = [ndimage.gaussian_filter(x, 1.3, [int(a == axis) for a in range(x.ndim)],
                                               mode="nearest") for axis in range(x.ndim)]
        expected = derivatives[0] * derivatives[0]
        for d in derivatives[1:]:
            expected += d * d
        np.sqrt(expected, expected)
        for workers in (1, 2):
            result = ndimage.gaussian_gradient_magnitude(x, 1.3, mode="nearest", workers=workers)
            assert np.array_equal(result, expected), (shape, workers)

        def strided(input, axis, output, mode, cval, slow_axis):
            d = ndimage.gaussian_filter(input, 1.3, [int(a == axis) for a in range(x.ndim)],
                                        output, mode)
            return np.asfortranarray(d) if axis == slow_axis else d

        # The numpy sequence for one further axis: before, between or after the pass's.
        for slow_axis in (1, x.ndim - 1):
            result = ndimage.generic_gradient_magnitude(x, strided, mode="nearest",
                                                        extra_arguments=(slow_axis,))
            assert np.array_equal(result, expected), (shape, slow_axis)


# --------------------------------------------------------------------------- errors
def _same_error(call):
    """Both libraries raise the same class for the call (fastcorr's message names the
    argument; scipy's may not)."""
    errors = []
    for module in (ndimage, scipy_ndimage):
        with pytest.raises(Exception) as info:
            call(module)
        errors.append(info.type)
    assert errors[0] is errors[1] or issubclass(errors[0], errors[1]), errors


@pytest.mark.parametrize("call", [
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), mode="bogus"),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), origin=2),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), origin=(0, 0, 0)),
    lambda m: m.correlate(np.ones((4, 4)), np.ones(3)),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), mode=["reflect", "wrap"]),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3,)), axes=(0, 5)),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), axes=(0, 0)),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), output=np.empty((3, 3))),
    lambda m: m.correlate(np.ones((4, 4), np.float16), np.ones((3, 3))),
    lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), mode="constant", cval=1j),
    lambda m: m.correlate1d(np.ones((4, 4)), np.ones((3, 3))),
    lambda m: m.correlate1d(np.ones((4, 4)), [], axis=0),
    lambda m: m.correlate1d(np.ones((4, 4)), [1, 2, 3], axis=2),
    lambda m: m.correlate1d(np.ones((4, 4)), [1, 2, 3], origin=-2),
    lambda m: m.uniform_filter1d(np.ones(5), 0),
    lambda m: m.uniform_filter1d(np.ones(5), 3, origin=2),
    lambda m: m.uniform_filter(np.ones((5, 5)), [3, 3, 3]),
    lambda m: m.gaussian_filter1d(np.ones(5), 1.0, radius=-1),
    lambda m: m.gaussian_filter1d(np.ones(5), 1.0, order=-1),
    lambda m: m.gaussian_filter(np.ones((5, 5)), 1.0, mode=["reflect"]),
    lambda m: m.sobel(np.ones((5, 5)), axis=2),
    lambda m: m.laplace(np.ones((5, 5)), mode="nope"),
    lambda m: m.gaussian_laplace(np.ones((5, 5)), [1.0, 2.0, 3.0]),
    lambda m: m.gaussian_laplace(np.ones((5, 5)), 1.0, mode="nope"),
    lambda m: m.gaussian_laplace(np.ones((5, 5)), 1.0, axes=(0, 3)),
    lambda m: m.gaussian_laplace(np.ones((5, 5)), 1.0, radius=-1),
    lambda m: m.gaussian_laplace(np.ones((5, 5), np.float16), 1.0),
    lambda m: m.gaussian_gradient_magnitude(np.ones((5, 5)), 1.0, mode=["reflect"]),
    lambda m: m.gaussian_gradient_magnitude(np.ones((5, 5)), 1.0, output=np.empty((4, 4))),
    lambda m: m.generic_laplace(np.ones((5, 5)), None),
], ids=lambda c: "")
def test_errors_match_scipy(call):
    _same_error(call)


def test_error_messages_name_the_argument():
    with pytest.raises(RuntimeError, match="mode"):
        ndimage.correlate(np.ones((4, 4)), np.ones((3, 3)), mode="bogus")
    with pytest.raises(RuntimeError, match="output"):
        ndimage.correlate(np.ones((4, 4)), np.ones((3, 3)), output=np.empty((3, 3)))
    with pytest.raises(RuntimeError, match="float16"):
        ndimage.correlate(np.ones((4, 4), np.float16), np.ones((3, 3)))
    with pytest.raises(ValueError, match="read-only"):
        out = np.empty((4, 4))
        out.flags.writeable = False
        ndimage.correlate(np.ones((4, 4)), np.ones((3, 3)), output=out)


def test_four_kernel_axes_raise_not_implemented():
    with pytest.raises(NotImplementedError, match="at most 3 axes"):
        ndimage.correlate(np.ones((3, 3, 3, 3)), np.ones((2, 2, 2, 2)))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_fused_passes_on_large_and_batched_inputs(dtype):
    """Blocks in the interior (rows read in place), at every edge, across several column
    chunks, and a batch of images: the fused passes against scipy's two passes."""
    rng = np.random.default_rng(43)
    x = rng.uniform(0, 1, (130, 1100)).astype(dtype)
    volume = rng.uniform(0, 1, (3, 40, 50)).astype(dtype)
    for mode in ("reflect", "wrap", "constant", "mirror"):
        for data, sigma in ((x, 3.0), (x, (1.0, 7.0)), (volume, (0, 2.0, 1.5))):
            result = ndimage.gaussian_filter(data, sigma, mode=mode, cval=0.5)
            expected = scipy_ndimage.gaussian_filter(data, sigma, mode=mode, cval=0.5)
            _close(result, expected, _passes_bound(data, dtype, 57, 2), f"{mode} {sigma}")
        result = ndimage.uniform_filter(x, (9, 4), mode=mode, origin=(2, -1))
        expected = scipy_ndimage.uniform_filter(x, (9, 4), mode=mode, origin=(2, -1))
        _close(result, expected, _passes_bound(x, dtype, 9, 2), f"uniform {mode}")


# --------------------------------------------------------------------------- properties
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_DTYPES = (np.float32, np.float64, np.uint8, np.int16, np.int32, np.uint16)


@st.composite
def _problems(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 12)) for _ in range(ndim))
    n_axes = draw(st.integers(1, ndim))
    axes = tuple(sorted(draw(st.permutations(range(ndim)))[:n_axes]))
    wshape = tuple(draw(st.integers(1, 6)) for _ in axes)
    origins = tuple(draw(st.integers(-(k // 2), (k - 1) // 2)) for k in wshape)
    dtype = draw(st.sampled_from(_DTYPES))
    mode = draw(st.sampled_from(ndoracle.MODES))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return shape, axes, wshape, origins, np.dtype(dtype), mode, seed


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_problems())
def test_property_correlate_matches_scipy(problem):
    """Random shapes, axes, kernels, origins, modes and dtypes: integer results equal scipy's,
    float results lie within the bound of the exact value."""
    shape, axes, wshape, origins, dtype, mode, seed = problem
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        x = rng.uniform(-1, 1, shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -300), min(info.max, 300) + 1, shape).astype(dtype)
    w = rng.uniform(-1, 1, wshape)
    for function in ("correlate", "convolve"):
        result = getattr(ndimage, function)(x, w, mode=mode, cval=2.5, origin=origins,
                                            axes=axes)
        expected = getattr(scipy_ndimage, function)(x, w, mode=mode, cval=2.5,
                                                    origin=origins, axes=axes)
        assert result.dtype == expected.dtype
        if dtype.kind == "f":
            full = np.expand_dims(w, tuple(d for d in range(len(shape)) if d not in axes))
            bound = 2 * ndoracle.bound(x, full, dtype, mode, 2.5, None) + \
                2 * ndoracle.bound(x, full[(slice(None, None, -1),) * full.ndim], dtype, mode,
                                   2.5, None)
            # The bound's magnitude is that of the unshifted kernel; a shift moves it by at
            # most the largest |x| times sum |w|, covered by a second term.
            bound = bound + 4 * float(np.finfo(dtype).eps) * w.size * np.abs(w).sum()
            _close(result, expected, bound, f"{function} {problem}")
        else:
            assert np.array_equal(result, expected), f"{function} {problem}"


def test_no_full_size_temporaries():
    """The memory a call allocates (tracemalloc sees NumPy's allocations) is its result's: no
    padded copy, no float copy of an integer image, no intermediate of the fused passes."""
    import tracemalloc

    rng = np.random.default_rng(47)
    u8 = rng.integers(0, 256, (512, 600)).astype(np.uint8)
    f32 = rng.uniform(0, 1, (512, 600)).astype(np.float32)
    calls = [
        lambda: ndimage.correlate(f32, np.ones((5, 5)), mode="wrap"),
        lambda: ndimage.correlate(u8, np.ones((5, 5)) / 25, output=np.float32),
        lambda: ndimage.correlate1d(u8, [1.0, 2.0, 1.0], output=np.float32),
        lambda: ndimage.gaussian_filter(f32, 3.0),
        lambda: ndimage.gaussian_filter(u8, 3.0, output=np.float32),
        lambda: ndimage.sobel(f32, axis=0),
        lambda: ndimage.uniform_filter(f32, 7),
        lambda: ndimage.correlate(u8, np.ones((5, 5)) / 25),
    ]
    for i, call in enumerate(calls):
        result = call()
        tracemalloc.start()
        try:
            call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1.1 * result.nbytes + 65536, (i, peak / result.nbytes)


@pytest.mark.parametrize("cval", ["a", 1j, [1.0, 2.0], None])
def test_bad_cval_is_a_type_error_as_in_scipy(cval):
    for call in (lambda m: m.correlate(np.ones((4, 4)), np.ones((3, 3)), cval=cval),
                 lambda m: m.gaussian_filter(np.ones((4, 4)), 1.0, cval=cval)):
        _same_error(call)


def test_docstring_examples_run():
    import doctest

    import fastcorr.ndimage

    results = doctest.testmod(fastcorr.ndimage, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 11 and results.failed == 0, results
