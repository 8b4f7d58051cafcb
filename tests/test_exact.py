"""_core.exact_correlate: scipy.ndimage's values bit for bit, on every SIMD path.

Tolerance: none.  Every comparison is exact equality (np.array_equal, and equal bytes for float
outputs), because integer outputs truncate and so depend on the last bit of scipy's double: a
flat uint8 region of 7 under three weights of 1/3 gives 6 in scipy (test_truncation_as_scipy).

Oracles: scipy.ndimage itself (correlate, correlate1d, uniform_filter1d, with output= the dtype),
and `reference`, a few lines of NumPy that spell out scipy's three formulas (written from
ni_filters.c, checked against scipy 1.17 here) for the float64 results.

The normalized problem the lead's face will pass: x viewed as (B, D, H, W), weights (kd, kh, kw),
one index map per core axis from boundary.index_map with start = -(k // 2 + origin).
"""
import numpy as np
import pytest

scipy_ndimage = pytest.importorskip("scipy.ndimage")

from fastcorr import _core  # noqa: E402
from fastcorr._engine.boundary import index_map  # noqa: E402

MODES = {"reflect": "symm", "constant": "fill", "nearest": "nearest", "mirror": "mirror",
         "wrap": "wrap"}
DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32]
EPS = np.finfo(np.float64).eps
FORMULA_TAPS, FORMULA_LINE, FORMULA_UNIFORM = 0, 1, 2


def exact(x, w, mode, cval=0.0, origins=0, formula=FORMULA_TAPS, out=None, n_threads=2,
          **options):
    """The normalized call for an input of 1 to 3 dimensions, as the face will make it
    (options: exact_correlate's certify, chunk_cols, band_rows)."""
    return exact_counted(x, w, mode, cval, origins, formula, out, n_threads, **options)[0]


def exact_counted(x, w, mode, cval=0.0, origins=0, formula=FORMULA_TAPS, out=None,
                  n_threads=2, **options):
    """exact() and what exact_correlate returned (-1: not certified, else the outputs it
    computed by scipy's sequence)."""
    nd = x.ndim
    out = np.empty_like(x) if out is None else out
    x4 = x.reshape((1,) * (4 - nd) + x.shape) if x.flags.forc else x[(None,) * (4 - nd)]
    o4 = out[(None,) * (4 - nd)]
    w3 = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(
        (1,) * (3 - np.ndim(w)) + np.shape(w)))
    origins = (0,) * (3 - nd) + tuple(np.broadcast_to(origins, (nd,)))
    maps = []
    for axis in range(3):
        n, k = x4.shape[axis + 1], w3.shape[axis]
        start = -(k // 2 + origins[axis])
        maps.append(index_map(start, start + n + k - 1, n, MODES[mode]))
    count = _core.exact_correlate(x4, w3, o4, *maps, float(cval), formula, n_threads,
                                  **options)
    return out, count


def along(w, axis, ndim):
    """1-D weights w as an ndim-dimensional kernel long along `axis`."""
    shape = [1] * ndim
    shape[axis] = len(w)
    return np.asarray(w, dtype=np.float64).reshape(shape)


def random_input(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, min(np.iinfo(dtype).max, 1000) + 1, shape).astype(dtype)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-500, 500, shape).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def same(a, b):
    """Equal values and dtypes, and for floats equal bytes (signed zeros, NaN payloads)."""
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


# ----------------------------------------------------------------------------- NumPy oracle
def _extended(x, axis, k, origin, mode, cval):
    n = x.shape[axis]
    start = -(k // 2 + origin)
    index = np.arange(start, start + n + k - 1)
    # The rule written out here, apart from boundary.py.
    if mode == "constant":
        src = np.where((index >= 0) & (index < n), index, -1)
    elif mode == "nearest":
        src = np.clip(index, 0, n - 1)
    elif mode == "wrap":
        src = index % n
    elif mode == "reflect":
        f = index % (2 * n)
        src = np.where(f >= n, 2 * n - 1 - f, f)
    else:
        f = index % max(2 * n - 2, 1)
        src = np.where(f >= n, 2 * n - 2 - f, f) if n > 1 else np.zeros_like(index)
    values = np.take(x.astype(np.float64), np.maximum(src, 0), axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    return np.where((src < 0).reshape(shape), cval, values)


def reference(x, w, formula, axis=None, mode="reflect", cval=0.0):
    """scipy's float64 value per output, by its formula (origin 0)."""
    if formula == FORMULA_TAPS:
        xe = x.astype(np.float64)
        for d in range(x.ndim):
            xe = _extended(xe, d, w.shape[d], 0, mode, cval)
        tmp = np.zeros(x.shape)
        for idx in np.ndindex(w.shape):
            if abs(w[idx]) > EPS:
                tmp = tmp + w[idx] * xe[tuple(slice(i, i + n) for i, n in zip(idx, x.shape))]
        return tmp
    k = len(w)
    xe = np.moveaxis(_extended(x, axis, k, 0, mode, cval), axis, -1)
    n = x.shape[axis]
    tap = lambda t: xe[..., t:t + n]  # noqa: E731
    if formula == FORMULA_UNIFORM:
        out = np.empty(xe.shape[:-1] + (n,))
        tmp = np.zeros(xe.shape[:-1])
        for t in range(k):
            tmp = tmp + xe[..., t]
        out[..., 0] = tmp / k
        for i in range(1, n):
            tmp = tmp + (xe[..., i + k - 1] - xe[..., i - 1])
            out[..., i] = tmp / k
        return np.moveaxis(out, -1, axis)
    s1 = k // 2
    sym = 0
    if k % 2:
        if all(abs(w[s1 + i] - w[s1 - i]) <= EPS for i in range(1, s1 + 1)):
            sym = 1
        elif all(abs(w[s1 + i] + w[s1 - i]) <= EPS for i in range(1, s1 + 1)):
            sym = -1
    if sym:
        out = tap(s1) * w[s1]
        for t in range(s1):
            pair = tap(t) + tap(k - 1 - t) if sym > 0 else tap(t) - tap(k - 1 - t)
            out = out + pair * w[t]
    else:
        out = tap(k - 1) * w[k - 1]
        for t in range(k - 1):
            out = out + tap(t) * w[t]
    return np.moveaxis(out, -1, axis)


def test_reference_is_scipy():
    """The NumPy oracle reproduces scipy's float64 results, so it is a second witness."""
    rng = np.random.default_rng(5)
    x = random_input(rng, (9, 11), np.uint8)
    for mode in MODES:
        w = rng.standard_normal((3, 4))
        assert same(reference(x, w, FORMULA_TAPS, mode=mode, cval=2.5),
                    scipy_ndimage.correlate(x, w, output=np.float64, mode=mode, cval=2.5))
        for w in ([0.2, 0.5, 0.2], [-1.0, 0.0, 1.0], [0.1, 0.7, 0.3, 0.4]):
            assert same(reference(x, np.array(w), FORMULA_LINE, axis=1, mode=mode),
                        scipy_ndimage.correlate1d(x, w, 1, output=np.float64, mode=mode))
        assert same(reference(x, np.ones(4), FORMULA_UNIFORM, axis=0, mode=mode),
                    scipy_ndimage.uniform_filter1d(x, 4, 0, output=np.float64, mode=mode))


def test_float64_results_are_the_references(simd_path):
    rng = np.random.default_rng(6)
    x = random_input(rng, (13, 70), np.int16)
    w = rng.standard_normal((5, 5))
    got = exact(x, w, "mirror", out=np.empty(x.shape))
    assert same(got, reference(x, w, FORMULA_TAPS, mode="mirror"))
    w1 = rng.standard_normal(6)
    got = exact(x, along(w1, 0, 2), "wrap", formula=FORMULA_LINE, out=np.empty(x.shape))
    assert same(got, reference(x, w1, FORMULA_LINE, axis=0, mode="wrap"))


# ----------------------------------------------------------------------------- against scipy
WEIGHT_SHAPES = {1: [(1,), (4,), (5,), (9,)],
                 2: [(3, 3), (5, 5), (2, 4), (1, 6), (7, 1)],
                 3: [(3, 3, 3), (2, 4, 3), (1, 6, 2), (3, 1, 1)]}
SHAPES = {1: [(37,), (150,), (3,)], 2: [(13, 70), (70, 13), (4, 3)], 3: [(5, 6, 70), (3, 2, 9)]}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", MODES)
def test_correlate_as_scipy(simd_path, mode, dtype):
    """NI_Correlate: N-D weights with taps of |w| <= DBL_EPSILON (skipped by scipy), origins,
    and kernels longer than the image."""
    rng = np.random.default_rng(1)
    for ndim in (1, 2, 3):
        for shape in SHAPES[ndim]:
            x = random_input(rng, shape, dtype)
            for wshape in WEIGHT_SHAPES[ndim]:
                w = rng.standard_normal(wshape) / 3
                w.flat[0] = 1e-17
                w.flat[-1] = -EPS
                origin = tuple(-(k // 2) if i % 2 else (k - 1) // 2
                               for i, k in enumerate(wshape))
                for o in (0, origin):
                    expected = scipy_ndimage.correlate(x, w, mode=mode, cval=3.5, origin=o)
                    got = exact(x, w, mode, cval=3.5, origins=o)
                    assert same(got, expected), (shape, wshape, o)


WEIGHTS_1D = {"symmetric": [0.1, 0.25, 0.3, 0.25, 0.1],
              "antisymmetric": [-0.3, 0.1, 0.0, -0.1, 0.3],
              "near-symmetric": [0.1, 0.25, 0.3, 0.25 + 1e-17, 0.1],
              "general odd": [0.4, -0.2, 0.7, 0.1, 0.33, 0.05, 0.2],
              "even": [0.15, 0.35, 0.3, 0.2],
              "one": [0.7]}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", MODES)
def test_correlate1d_as_scipy(simd_path, mode, dtype):
    """NI_Correlate1D along every axis, with scipy's symmetric, antisymmetric and general sums."""
    rng = np.random.default_rng(2)
    for shape in [(150,), (13, 70), (5, 6, 70)]:
        x = random_input(rng, shape, dtype)
        for axis in range(len(shape)):
            for name, w in WEIGHTS_1D.items():
                k = len(w)
                for origin in sorted({0, -(k // 2), (k - 1) // 2}):
                    expected = scipy_ndimage.correlate1d(x, w, axis, mode=mode, cval=-2.25,
                                                         origin=origin)
                    origins = [0] * len(shape)
                    origins[axis] = origin
                    got = exact(x, along(w, axis, len(shape)), mode, cval=-2.25,
                                origins=origins, formula=FORMULA_LINE)
                    assert same(got, expected), (shape, axis, name, origin)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("mode", MODES)
def test_uniform_filter1d_as_scipy(simd_path, mode, dtype):
    """NI_UniformFilter1D's running sum along every axis, sizes 1..8 and their origin range."""
    rng = np.random.default_rng(3)
    for shape in [(150,), (13, 70), (5, 6, 40), (2, 3)]:
        x = random_input(rng, shape, dtype)
        for axis in range(len(shape)):
            for size in (1, 2, 3, 4, 5, 8):
                for origin in sorted({0, -(size // 2), (size - 1) // 2}):
                    expected = scipy_ndimage.uniform_filter1d(x, size, axis, mode=mode,
                                                              cval=1.5, origin=origin)
                    origins = [0] * len(shape)
                    origins[axis] = origin
                    got = exact(x, along(np.ones(size), axis, len(shape)), mode, cval=1.5,
                                origins=origins, formula=FORMULA_UNIFORM)
                    assert same(got, expected), (shape, axis, size, origin)


def test_truncation_as_scipy(simd_path):
    """A flat region whose mean is not reproduced exactly: scipy truncates 6.999... to 6."""
    x = np.full((6, 40), 7, np.uint8)
    w = np.full(3, 1 / 3)
    expected = scipy_ndimage.correlate1d(x, w, 1)
    assert (expected == 6).all()  # the case is a real one
    assert same(exact(x, along(w, 1, 2), "reflect", formula=FORMULA_LINE), expected)
    w2 = np.full((1, 7), 1 / 7)
    x2 = np.full((6, 40), 3, np.uint8)
    expected = scipy_ndimage.correlate(x2, w2)
    assert (expected == 2).all()
    assert same(exact(x2, w2, "nearest"), expected)


@pytest.mark.parametrize("out_dtype", [np.bool_, np.uint8, np.int8, np.uint16, np.int16,
                                       np.uint32, np.int32, np.int64, np.uint64, np.float32,
                                       np.float64], ids=lambda d: np.dtype(d).name)
def test_out_of_range_casts_as_scipy(simd_path, out_dtype):
    """Negative and too-large results into every output dtype: scipy's C cast (-1.5 -> 255
    in uint8, the low byte in a bool), for the three formulas."""
    rng = np.random.default_rng(4)
    x = rng.integers(-40000, 40000, (7, 50)).astype(np.int32)
    x[0, :10] = [-1, 1, 2**31 - 1, -2**31, 0, 3, -3, 255, 256, -256]
    out = np.empty(x.shape, out_dtype)
    for w in ([1.5, -2.0, 0.5], [0.5, 1.0, 0.5], [1e5, 2.5, 1e-3]):
        for axis in (0, 1):
            expected = scipy_ndimage.correlate1d(x, w, axis, output=out_dtype)
            got = exact(x, along(w, axis, 2), "reflect", formula=FORMULA_LINE, out=out)
            assert same(got, expected), (w, axis)
    w2 = np.array([[0.5, -1.5], [2.0, 1e4]])
    assert same(exact(x, w2, "wrap", out=out),
                scipy_ndimage.correlate(x, w2, output=out_dtype, mode="wrap"))
    expected = scipy_ndimage.uniform_filter1d(x, 4, 1, output=out_dtype)
    assert same(exact(x, along(np.ones(4), 1, 2), "reflect", formula=FORMULA_UNIFORM,
                      out=out), expected)


@pytest.mark.parametrize("in_dtype", [np.bool_, np.int8, np.uint32, np.int64, np.uint64,
                                      np.float64], ids=lambda d: np.dtype(d).name)
def test_other_input_dtypes_as_scipy(simd_path, in_dtype):
    rng = np.random.default_rng(7)
    x = random_input(rng, (9, 33), np.int16 if np.dtype(in_dtype).kind == "i" else np.uint16)
    x = (x % 2).astype(in_dtype) if in_dtype == np.bool_ else x.astype(in_dtype)
    w = rng.standard_normal((3, 4))
    assert same(exact(x, w, "mirror"), scipy_ndimage.correlate(x, w, mode="mirror"))
    assert same(exact(x, along([0.25, 0.5, 0.25], 0, 2), "nearest", formula=FORMULA_LINE),
                scipy_ndimage.correlate1d(x, [0.25, 0.5, 0.25], 0, mode="nearest"))


def test_strided_views_and_threads(simd_path):
    """Non-contiguous, reversed and broadcast inputs and outputs, one and two threads; the
    input is left as it was."""
    rng = np.random.default_rng(8)
    base = random_input(rng, (40, 300), np.uint8)
    x = base[::2, ::-3]
    keep = x.copy()
    w = rng.standard_normal((3, 5))
    expected = scipy_ndimage.correlate(x, w, mode="reflect")
    for n_threads in (1, 2):
        out_base = np.zeros((60, 250), np.uint8)
        out = out_base[::3, ::-2][: x.shape[0], : x.shape[1]]
        exact(x, w, "reflect", out=out, n_threads=n_threads)
        assert same(out, expected)
        for axis in (0, 1):
            got = exact(x, along([0.2, 0.6, 0.2], axis, 2), "wrap", formula=FORMULA_LINE,
                        out=np.empty_like(out.T).T, n_threads=n_threads)
            assert same(got, scipy_ndimage.correlate1d(x, [0.2, 0.6, 0.2], axis, mode="wrap"))
            got = exact(x, along(np.ones(3), axis, 2), "mirror", formula=FORMULA_UNIFORM,
                        n_threads=n_threads)
            assert same(got, scipy_ndimage.uniform_filter1d(x, 3, axis, mode="mirror"))
    assert same(x, keep)
    row = np.broadcast_to(random_input(rng, (1, 80), np.int16), (6, 80))
    assert same(exact(row, w, "nearest"), scipy_ndimage.correlate(row, w, mode="nearest"))


def test_large_image_as_scipy():
    """An image of several units in both directions (chunks of columns, bands of rows)."""
    rng = np.random.default_rng(9)
    x = random_input(rng, (90, 2500), np.uint8)
    w = rng.random((5, 5))
    w /= w.sum()
    assert same(exact(x, w, "reflect"), scipy_ndimage.correlate(x, w, mode="reflect"))
    g = np.array([0.05, 0.25, 0.4, 0.25, 0.05])
    for axis in (0, 1):
        assert same(exact(x, along(g, axis, 2), "reflect", formula=FORMULA_LINE),
                    scipy_ndimage.correlate1d(x, g, axis))
        assert same(exact(x, along(np.ones(9), axis, 2), "reflect", formula=FORMULA_UNIFORM),
                    scipy_ndimage.uniform_filter1d(x, 9, axis))


def test_errors():
    x = np.zeros((1, 1, 4, 5), np.uint8)
    w = np.ones((1, 3, 3))
    maps = [index_map(0, 1, 1, "symm"), index_map(-1, 5, 4, "symm"), index_map(-1, 6, 5, "symm")]
    with pytest.raises(ValueError, match="overlaps"):
        _core.exact_correlate(x, w, x, *maps, 0.0, 0, 1)
    with pytest.raises(ValueError, match="rowmap"):
        _core.exact_correlate(x, w, np.empty_like(x), maps[0], maps[2], maps[2], 0.0, 0, 1)
    bad = np.array(maps[2])
    bad[0] = 5
    with pytest.raises(ValueError, match="colmap entry"):
        _core.exact_correlate(x, w, np.empty_like(x), maps[0], maps[1], bad, 0.0, 0, 1)
    with pytest.raises(ValueError, match="dtype"):
        _core.exact_correlate(x.astype(np.complex64), w, np.empty_like(x), *maps, 0.0, 0, 1)
    with pytest.raises(ValueError, match="one axis"):
        _core.exact_correlate(x, w, np.empty_like(x), *maps, 0.0, 1, 1)
    with pytest.raises(ValueError, match="formula"):
        _core.exact_correlate(x, w, np.empty_like(x), *maps, 0.0, 3, 1)


# ----------------------------------------------------------------------------- certified path
# bool, (u)int8 and (u)int16 images with integer outputs are computed by the float32 engine and
# each output kept where no integer lies within the certified bound of it (the rest computed by
# scipy's sequence): still exact equality with scipy, which is what these tests check, with the
# return value telling which route each call took.
CERTIFIED_INPUTS = [np.bool_, np.uint8, np.int8, np.uint16, np.int16]


def textured_with_flats(rng, shape, dtype):
    """Random values over the dtype's whole range, with flat patches (where weights summing to
    1 land on integers) and the extreme values."""
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    lo, hi = (0, 1) if info is None else (info.min, info.max)
    x = rng.integers(lo, hi, shape, endpoint=True).astype(dtype)
    flat = tuple(slice(n // 4, n // 4 + max(n // 3, 1)) for n in shape)
    x[flat] = hi if dtype == np.bool_ else (lo + hi) // 2 + 3
    x.reshape(-1)[:2] = (lo, hi)
    return x


@pytest.mark.parametrize("in_dtype", CERTIFIED_INPUTS, ids=lambda d: np.dtype(d).name)
def test_certified_as_scipy(simd_path, in_dtype):
    """Every formula that certifies (N-D taps with skipped ones, 1-D lines symmetric,
    antisymmetric and plain), 2-D and 3-D kernels, box weights (one output in 9 is an integer)
    and flat patches, several output dtypes, units cut small so that seams and row tails are
    many; the certified route taken every time."""
    rng = np.random.default_rng(21)
    x2 = textured_with_flats(rng, (23, 71), in_dtype)
    x3 = textured_with_flats(rng, (7, 9, 37), in_dtype)
    g = np.exp(-0.5 * (np.arange(-2, 3) / 1.1) ** 2)
    signed = rng.standard_normal((3, 4))
    signed[1, 2] = 1e-17  # skipped by scipy: the float32 pass must skip it too
    taps_2d = [np.outer(g, g) / np.outer(g, g).sum(), np.full((3, 3), 1 / 9), signed]
    taps_3d = [np.full((3, 3, 3), 1 / 27), rng.random((2, 3, 4)) / 12]
    lines = [g / g.sum(), np.array([-0.5, 0.0, 0.5]), np.array([0.1, 0.7, 0.3, 0.4])]
    out_dtypes = [np.uint8, np.int16, np.int32, np.uint64, np.bool_]

    def route(count, w, cval):
        """Certified where the bound allows it (16-bit images only under small, light
        kernels), the float64 route (-1) elsewhere; at least the 8-bit and bool images
        certify every case here."""
        kept = w.reshape(-1)[np.abs(w.reshape(-1)) > EPS]
        if _core.certifies(in_dtype, out_dtype, kept, w.size, cval):
            return count >= 0
        return count == -1 and np.dtype(in_dtype).itemsize == 2
    for out_dtype in out_dtypes:
        for options in ({}, {"chunk_cols": 13, "band_rows": 3}):
            for x, kernels in ((x2, taps_2d), (x3, taps_3d)):
                for w in kernels:
                    for mode, cval in (("reflect", 0.0), ("constant", 3.0), ("wrap", 0.0)):
                        out, count = exact_counted(x, w, mode, cval,
                                                   out=np.empty(x.shape, out_dtype), **options)
                        expected = scipy_ndimage.correlate(x, w, output=out_dtype, mode=mode,
                                                           cval=cval)
                        assert route(count, w, cval) and same(out, expected), (w.shape, mode,
                                                                               options)
            for w in lines:
                for axis in (0, 1):
                    out, count = exact_counted(x2, along(w, axis, 2), "mirror",
                                               formula=FORMULA_LINE,
                                               out=np.empty(x2.shape, out_dtype), **options)
                    expected = scipy_ndimage.correlate1d(x2, w, axis, output=out_dtype,
                                                         mode="mirror")
                    assert route(count, w, 0.0) and same(out, expected), (w, axis, options)


def test_certified_keeps_and_recomputes():
    """Both halves of the route do work: a textured image under a Gaussian keeps most outputs
    from the float32 pass, and a flat one under a box, where float32 truncates the other way
    from scipy (the case is checked to be a real one), is computed by scipy's sequence."""
    rng = np.random.default_rng(22)
    g = np.exp(-0.5 * (np.arange(-2, 3) / 1.1) ** 2)
    g2 = np.outer(g, g) / np.outer(g, g).sum()
    x = rng.integers(0, 256, (64, 300)).astype(np.uint8)
    out, count = exact_counted(x, g2, "reflect")
    assert 0 <= count < x.size // 4
    assert same(out, scipy_ndimage.correlate(x, g2))
    flat = np.full((40, 64), 7, np.uint8)
    box = np.full((1, 3), 1 / 3)
    expected = scipy_ndimage.correlate(flat, box)
    by_float32 = np.trunc(np.float32(7) * np.float32(1 / 3) * np.float32(3))
    assert (expected == 6).all() and by_float32 == 7
    out, count = exact_counted(flat, box, "reflect")
    assert count == flat.size and same(out, expected)


@pytest.mark.parametrize("in_dtype", CERTIFIED_INPUTS, ids=lambda d: np.dtype(d).name)
def test_certified_bound_holds(simd_path, in_dtype):
    """The bound the route certifies with covers the float32 engine's distance from scipy's
    double on every output: scipy's float64 result against fastcorr's float32 one (the same
    kernels, in the engine's own order), for kernels of 3 to 121 taps."""
    from fastcorr import ndimage as fnd

    rng = np.random.default_rng(23)
    info = np.iinfo(in_dtype) if in_dtype != np.bool_ else None
    vmax = 1.0 if info is None else float(max(-int(info.min), int(info.max)))
    x = textured_with_flats(rng, (40, 90), in_dtype)
    for shape in ((3, 1), (3, 3), (5, 5), (11, 11)):
        w = rng.standard_normal(shape)
        scipy_value = scipy_ndimage.correlate(x, w, output=np.float64)
        fast = fnd.correlate(x, w, output=np.float32).astype(np.float64)
        bound = _core._certified_bound(w.reshape(-1), w.size, vmax)
        assert np.abs(fast - scipy_value).max() <= bound, shape


def test_certified_only_where_it_holds(simd_path):
    """The float64 route, still scipy's values, wherever the certificate does not apply:
    certify=False, an int32 image, a fill float32 does not hold, weights too large for the
    bound, a non-finite weight, a float output."""
    rng = np.random.default_rng(24)
    x = rng.integers(0, 256, (12, 40)).astype(np.uint8)
    w = rng.random((3, 3)) / 4
    cases = [(x, w, "reflect", 0.0, np.uint8, {"certify": False}),
             (x.astype(np.int32), w, "reflect", 0.0, np.int32, {}),
             (x, w, "constant", 0.1, np.uint8, {}),
             (x, w * 1e6, "reflect", 0.0, np.int64, {}),
             (x, np.where(w > 0.1, w, np.inf), "reflect", 0.0, np.int64, {}),
             (x, w, "reflect", 0.0, np.float32, {})]
    for image, weights, mode, cval, out_dtype, options in cases:
        out, count = exact_counted(image, weights, mode, cval,
                                   out=np.empty(image.shape, out_dtype), **options)
        expected = scipy_ndimage.correlate(image, weights, output=out_dtype, mode=mode,
                                           cval=cval)
        assert count == -1 and same(out, expected), (image.dtype, mode, cval, out_dtype)
