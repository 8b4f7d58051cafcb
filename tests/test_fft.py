"""The blocked FFT correlation (`_engine.fft`) against a pure-NumPy oracle written apart.

The oracle builds the extended image X~ explicitly (np.take through each map, the fill value
where a map is -1) and sums the kernel's shifted products in a wider type (float64 for float32,
long double for float64).  Every result must lie within the module's stated error bound,
``bound_factor(L, dtype) * ||w_b||_2 * ||X~_b||_2`` per image b (the whole extended image's norm
bounds every tile's), plus the oracle's own rounding; the tolerance is the bound, not tuned.

The tilings are forced small (`tiling` fixture) so that small arrays cover what large ones do:
many tiles per axis with tiles that do not divide the output, kernels longer than a tile,
chunks of one tile and chunks of many, tiles of several images in one FFT call; both backends
(scipy.fft and numpy.fft) run every case.
"""
import math
import threading
import tracemalloc

import numpy as np
import pytest

from fastcorr._engine import boundary, fft

RULES = ["fill", "wrap", "symm", "mirror", "nearest"]
DTYPES = [np.float32, np.float64]
BACKENDS = ["scipy", "numpy"]


# --------------------------------------------------------------------------- oracle
def _wide(dtype):
    return np.float64 if np.dtype(dtype) == np.float32 else np.longdouble


def extended_oracle(x, maps, fill):
    """X~ in the wide type: x itself (maps None), else x through each axis' map, `fill` (in
    x's dtype, as the engine stores it) where a map is -1."""
    wide = _wide(x.dtype)
    ext = np.array(x, dtype=wide)
    if maps is None:
        return ext
    for axis, m in enumerate(maps, start=1):
        ext = np.take(ext, np.where(m < 0, 0, m), axis=axis)
        where = [slice(None)] * ext.ndim
        where[axis] = m < 0
        ext[tuple(where)] = wide(x.dtype.type(fill))
    return ext


def correlate_oracle(ext, w):
    """y[b, i...] = sum over the taps t of w[b or 0, t] * ext[b, i + t], in ext's type."""
    core = w.shape[1:]
    out = tuple(n - k + 1 for n, k in zip(ext.shape[1:], core))
    y = np.zeros((ext.shape[0],) + out, ext.dtype)
    wide = w.astype(ext.dtype)
    for tap in np.ndindex(*core):
        shifted = ext[(slice(None),) + tuple(slice(t, t + o) for t, o in zip(tap, out))]
        y += wide[(slice(None),) + tap].reshape((-1,) + (1,) * len(core)) * shifted
    return y


def tolerance(ext, w, out_shape, dtype, n_threads=1):
    """Per image: the FFT bound on the tiles the call makes (on `n_threads`), plus the
    oracle's own rounding (taps * its unit roundoff * ||w||_1 * max|X~|, nothing on x86 where
    long double is wider)."""
    _, fft_shape = fft.tile_plan(out_shape, w.shape[1:], dtype, n_threads, ext.shape[0])
    size = math.prod(fft_shape)
    taps = math.prod(w.shape[1:])
    u_oracle = float(np.finfo(ext.dtype).eps) / 2
    bounds = []
    for b in range(ext.shape[0]):
        wb = w[b if w.shape[0] > 1 else 0].astype(np.float64)
        xb = np.abs(ext[b]).astype(np.float64)
        bounds.append(fft.fft_error_bound(wb, float(np.linalg.norm(xb)), size, dtype) +
                      taps * u_oracle * float(np.abs(wb).sum() * xb.max()))
    return np.array(bounds)


def check(x, w, y, maps, fill, dtype, n_threads=1):
    """y against the oracle, image by image, within `tolerance`."""
    ext = extended_oracle(x, maps, fill)
    expected = correlate_oracle(ext, w)
    errors = np.abs(y.astype(ext.dtype) - expected).reshape(len(y), -1).max(axis=1)
    bounds = tolerance(ext, w, y.shape[1:], dtype, n_threads)
    assert np.all(np.isfinite(y))
    assert np.all(errors <= bounds), (errors, bounds)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(params=BACKENDS + ["scipy, chunks in one thread", "scipy, float64 on scipy"])
def backend(request, monkeypatch):
    """Each backend, with chunks of tiles on threads of their own (the default) and, for
    scipy, in the calling thread with the backend's threads; float64 on numpy.fft into
    buffers (the default where NumPy has out=) and, once, on scipy.fft."""
    name = request.param.split(",")[0]
    if name == "scipy":
        pytest.importorskip("scipy.fft")
    monkeypatch.setattr(fft, "BACKEND", name)
    monkeypatch.setattr(fft, "THREADS_OVER_CHUNKS", "one thread" not in request.param)
    monkeypatch.setattr(fft, "FLOAT64_ON_NUMPY", "float64 on scipy" not in request.param)
    # These arrays are far below the size from which chunks go to threads of their own.
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    return name


@pytest.fixture(params=["default", "small tiles", "tiles under the kernel", "one per call",
                        "cut for the threads"])
def tiling(request, monkeypatch):
    """default: the measured rule (small arrays: one tile).  small tiles: FFTs of about 16
    points a side (2-D) or 16 points (1-D), many per call.  tiles under the kernel: FFTs barely
    longer than the kernel, so each tile holds fewer outputs than the kernel has taps.  one per
    call: small tiles, a chunk of one tile each (the tiles read in place where they can).  cut
    for the threads: the measured rule, but fewer tiles than threads are always cut along the
    first axis (`tile_plan`), as large images are."""
    if request.param == "cut for the threads":
        monkeypatch.setattr(fft, "BACKEND_THREADS_MIN_POINTS", 0)
        monkeypatch.setattr(fft, "BACKEND_THREAD_SPEEDUP", 1e-9)
    if request.param != "default":
        monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 16 * 16 * 8)
        monkeypatch.setattr(fft, "MAX_FFT_LEN_1D", 16)
        monkeypatch.setattr(fft, "FFT_PER_TAP_2D", 1.5)
        monkeypatch.setattr(fft, "FFT_PER_TAP_1D", 1.5)
    if request.param == "tiles under the kernel":
        monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 0)
        monkeypatch.setattr(fft, "MAX_FFT_LEN_1D", 0)
        monkeypatch.setattr(fft, "FFT_PER_TAP_2D", 1.2)
        monkeypatch.setattr(fft, "FFT_PER_TAP_1D", 1.2)
    if request.param == "one per call":
        monkeypatch.setattr(fft, "CHUNK_BYTES", 0)
    else:
        monkeypatch.setattr(fft, "CHUNK_BYTES", 20_000)  # a few small tiles per call
    return request.param


# --------------------------------------------------------------------------- cases
def _views(rng, x_values, y_shape, dtype, strided):
    """x (a view with unit-stride rows: every other row backwards, batch reversed) and y (rows
    of a larger canvas with unit-stride rows) when `strided`, else C-contiguous arrays; plus
    the canvas, to check that nothing outside y is written."""
    if not strided:
        return x_values.copy(), np.empty(y_shape, dtype), None
    b, *core = x_values.shape
    big = rng.standard_normal((b, *[2 * n + 1 for n in core[:-1]], core[-1] + 3)).astype(dtype)
    x = big[::-1, ...][(slice(None),) + tuple(slice(2 * n - 1, None, -2) for n in core[:-1]) +
                       (slice(2, 2 + core[-1]),)]
    x[...] = x_values
    canvas = np.full((y_shape[0], *[2 * n for n in y_shape[1:-1]], y_shape[-1] + 5), -7.0,
                     dtype)
    y = canvas[(slice(None),) + (slice(None, None, 2),) * (len(core) - 1) +
               (slice(1, 1 + y_shape[-1]),)]
    assert x.strides[-1] == y.strides[-1] == np.dtype(dtype).itemsize
    return x, y, canvas


def _run(function, rng, x_values, w, y_shape, maps, fill, dtype, strided, n_threads=2):
    x, y, canvas = _views(rng, x_values, y_shape, dtype, strided)
    x_before, w_before = x.copy(), w.copy()
    if canvas is not None:
        outside = np.ones(canvas.shape, bool)
        outside[(slice(None),) + (slice(None, None, 2),) * (len(y_shape) - 2) +
                (slice(1, 1 + y_shape[-1]),)] = False
    function(x, w, y, maps, fill, n_threads)
    assert np.array_equal(x, x_before) and np.array_equal(w, w_before)  # inputs untouched
    if canvas is not None:
        assert np.all(canvas[outside] == -7.0)
    check(x_before, w, y, maps, fill, dtype, n_threads)


def _map(rng, out_len, k, n, rule):
    """A map of out_len + k - 1 positions starting up to k + 2 before the image (so windows
    leave it on both sides, by more than the image when k > n)."""
    start = int(rng.integers(-(k - 1) - 2, 1))
    return boundary.index_map(start, start + out_len + k - 1, n, rule)


CASES_2D = list(range(10))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES_2D)
def test_valid_2d(backend, tiling, dtype, case):
    """Valid windows (maps None): random shapes, batches with one kernel and with one each."""
    rng = np.random.default_rng(100 + case)
    batch = int(rng.integers(1, 4))
    m, n = (int(v) for v in rng.integers(1, 40, 2))
    p, q = int(rng.integers(1, m + 1)), int(rng.integers(1, n + 1))
    kernels = 1 if case % 2 else batch
    x = rng.standard_normal((batch, m, n)).astype(dtype)
    w = rng.standard_normal((kernels, p, q)).astype(dtype)
    _run(fft.correlate_fft_2d, rng, x, w, (batch, m - p + 1, n - q + 1), None, 0.0, dtype,
         strided=case % 3 == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", range(4))
def test_rules_2d(backend, tiling, dtype, rule, case):
    """Every boundary rule through `boundary.index_map`, a different rule per axis too,
    kernels larger than the image, fill != 0, strided views."""
    rng = np.random.default_rng(200 + 10 * RULES.index(rule) + case)
    batch = int(rng.integers(1, 4))
    m, n = (int(v) for v in rng.integers(1, 30, 2))
    p, q = (int(v) for v in rng.integers(1, 25, 2))
    oh, ow = (int(v) for v in rng.integers(1, 40, 2))
    column_rule = rule if case < 2 else RULES[(RULES.index(rule) + case) % len(RULES)]
    maps = (_map(rng, oh, p, m, rule), _map(rng, ow, q, n, column_rule))
    kernels = batch if case % 2 else 1
    x = rng.standard_normal((batch, m, n)).astype(dtype)
    w = rng.standard_normal((kernels, p, q)).astype(dtype)
    _run(fft.correlate_fft_2d, rng, x, w, (batch, oh, ow), maps, 2.5, dtype,
         strided=case >= 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(10))
def test_valid_1d(backend, tiling, dtype, case):
    rng = np.random.default_rng(300 + case)
    batch = int(rng.integers(1, 4))
    n = int(rng.integers(1, 300))
    k = int(rng.integers(1, min(n, 80) + 1))
    kernels = 1 if case % 2 else batch
    x = rng.standard_normal((batch, n)).astype(dtype)
    w = rng.standard_normal((kernels, k)).astype(dtype)
    _run(lambda x, w, y, maps, fill, t: fft.correlate_fft_1d(x, w, y, None, fill, t), rng, x,
         w, (batch, n - k + 1), None, 0.0, dtype, strided=case % 3 == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", range(3))
def test_rules_1d(backend, tiling, dtype, rule, case):
    rng = np.random.default_rng(400 + 10 * RULES.index(rule) + case)
    batch = int(rng.integers(1, 4))
    n, k, length = int(rng.integers(1, 60)), int(rng.integers(1, 70)), int(rng.integers(1, 200))
    index_map = _map(rng, length, k, n, rule)
    kernels = batch if case % 2 else 1
    x = rng.standard_normal((batch, n)).astype(dtype)
    w = rng.standard_normal((kernels, k)).astype(dtype)
    _run(lambda x, w, y, maps, fill, t: fft.correlate_fft_1d(x, w, y, maps[0], fill, t), rng,
         x, w, (batch, length), (index_map,), -1.5, dtype, strided=case == 2)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_stack_of_small_images_shares_calls(backend, n_threads, monkeypatch):
    """Many images of one tile each, a kernel each, split over several FFT calls (chunks that
    do not divide the stack), with the fill rule on one axis and 'wrap' on the other."""
    monkeypatch.setattr(fft, "CHUNK_BYTES", 3 * 16 * 16 * 8)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 9, 7))
    w = rng.standard_normal((10, 4, 3))
    maps = (boundary.index_map(-2, 9 + 1, 9, "fill"), boundary.index_map(-1, 7 + 1, 7, "wrap"))
    _run(fft.correlate_fft_2d, rng, x, w, (10, 9, 7), maps, 0.25, np.float64, strided=False,
         n_threads=n_threads)


# --------------------------------------------------------------------------- error bound
@pytest.mark.parametrize("dtype", DTYPES)
def test_bound_is_reached_by_large_dynamic_range(backend, dtype):
    """The bound is relative to the norms, and that is what an FFT really does: with half of
    the image 1e6 times larger than the other, the outputs over the small half are off by about
    u * ||w|| * ||x_tile|| (typically hundreds of times their own direct-sum bound, which is
    relative to their windows), and the largest error reaches 0.1 .. 1 u ||w|| ||x_tile||: the
    stated bound, ~20 u (log2 L + 1) ||w|| ||x_tile||, is off by its constants only."""
    if fft.work_dtype(dtype) != dtype:
        pytest.skip("numpy.fft computes float32 in float64: its error is float64's")
    rng = np.random.default_rng(7)
    m, k = 40, 9
    x = rng.standard_normal((1, m, m))
    x[0, : m // 2] *= 1e6
    x = x.astype(dtype)
    w = rng.standard_normal((1, k, k)).astype(dtype)
    y = np.empty((1, m - k + 1, m - k + 1), dtype)
    fft.correlate_fft_2d(x, w, y, None, 0.0, 1)
    ext = extended_oracle(x, None, 0.0)
    expected = correlate_oracle(ext, w)
    error = np.abs(y - expected.astype(np.float64))[0]
    bound = tolerance(ext, w, y.shape[1:], dtype)[0]
    u = np.finfo(dtype).eps / 2
    norms = float(np.linalg.norm(w.astype(np.float64))) * \
        float(np.linalg.norm(ext.astype(np.float64)))
    assert error.max() <= bound
    assert error.max() >= 0.05 * u * norms  # measured 0.34 .. 0.58
    assert bound <= 25 * u * (math.log2(np.prod(fft.tile_plan(y.shape[1:], (k, k), dtype)[1]))
                              + 1) * norms * 1.01
    # The small half: windows wholly inside it, their direct-sum bound (taps + 1) eps sum|w||x|.
    small = slice(m // 2, m - k + 1)
    taps = k * k
    direct = (taps + 1) * 2 * u * correlate_oracle(np.abs(ext), np.abs(w))[0, small]
    assert np.median(error[small] / direct) > 100  # measured 640 .. 1120


def test_bound_factor():
    """~20 u (log2 L + 1), growing with L, in each dtype's unit roundoff."""
    for dtype in DTYPES:
        u = np.finfo(dtype).eps / 2
        factors = [fft.bound_factor(size, dtype) for size in (2, 64, 4096, 1 << 20)]
        assert factors == sorted(factors)
        for size, factor in zip((2, 64, 4096, 1 << 20), factors):
            stages = math.log2(size) + 1
            assert 20 * u * stages < factor < 21 * u * stages + 6 * u
    w = np.ones((3, 4))
    assert fft.fft_error_bound(w, 2.0, 64, np.float32) == \
        pytest.approx(fft.bound_factor(64, np.float32) * math.sqrt(12) * 2.0)


# --------------------------------------------------------------------------- sizes, memory
def test_smooth_len():
    smooth = [n for n in range(1, 2000) if _is_smooth(n)]
    for n in range(1, 1500):
        assert fft.smooth_len(n) == min(s for s in smooth if s >= n)


def _is_smooth(n):
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def test_numpy_backend_uses_smooth_lengths(monkeypatch):
    monkeypatch.setattr(fft, "BACKEND", "numpy")
    assert fft.next_fast_len(1949) == fft.smooth_len(1949) == 2000


@pytest.mark.parametrize("rule", ["fill", "wrap", "nearest", "symm", "mirror"])
def test_gather_by_blocks_equals_one_index(rule, monkeypatch):
    """A tile gathered block by block through its maps' runs equals the one advanced index it
    replaces (the fallback beyond MAX_GATHER_BLOCKS), for every boundary rule's maps, images
    narrower than the kernel among them (their maps fold many times), both axes gathered or one,
    and arbitrary maps (runs of one)."""
    rng = np.random.default_rng(5)
    cases = []
    for m, n, k in [(9, 11, 4), (3, 4, 9), (1, 6, 3), (20, 2, 7)]:
        cases.append((m, n, [(1, boundary.index_map(-k, m + k, m, rule)),
                             (2, boundary.index_map(-k + 1, n + 2, n, rule))]))
        cases.append((m, n, [(2, boundary.index_map(-k, n + k, n, rule))]))
    cases.append((6, 7, [(1, rng.integers(-1, 6, 13)), (2, rng.integers(-1, 7, 5))]))
    for m, n, gathered in cases:
        view = rng.standard_normal((2, m, n))
        shape = [2, m, n]
        for axis, segment in gathered:
            shape[axis] = len(segment)
        blocks = np.full(shape, np.nan)
        fft._gather(view, gathered, 0.5, blocks)
        monkeypatch.setattr(fft, "MAX_GATHER_BLOCKS", 0)
        indexed = np.full(shape, np.nan)
        fft._gather(view, gathered, 0.5, indexed)
        monkeypatch.undo()
        np.testing.assert_array_equal(blocks, indexed)
        # And both equal the definition.
        expected = view
        for axis, segment in gathered:
            expected = np.take(expected, np.maximum(segment, 0), axis=axis)
            where = [slice(None)] * 3
            where[axis] = segment < 0
            expected[tuple(where)] = 0.5
        np.testing.assert_array_equal(blocks, expected)


def test_tile_plan():
    """Tiles use their FFT's whole overlap-save capacity, cover the output in as few tiles as
    the longest FFT allows, and a small problem is one tile."""
    for out_shape, kernel, dtype in [((1948, 1948), (101, 101), np.float32),
                                     ((1948, 1948), (101, 101), np.float64),
                                     ((1794, 1794), (255, 255), np.float32),
                                     ((1991809,), (8192,), np.float32),
                                     ((50, 3000), (7, 7), np.float64)]:
        tiles, fft_shape = fft.tile_plan(out_shape, kernel, dtype)
        for o, k, t, f in zip(out_shape, kernel, tiles, fft_shape):
            longest = fft.max_fft_len(k, len(out_shape), dtype)
            assert f <= longest and t == min(f - k + 1, o)
            assert -(-o // t) == -(-o // (longest - k + 1)) or o + k - 1 <= longest
    assert fft.tile_plan((30, 40), (5, 5), np.float32) == ((30, 40), (36, 45))  # one tile
    # Fewer tiles than threads: a large one is cut along the first axis, a tile per thread,
    # each using its FFT's whole capacity; not for one thread, nor a stack of as many images
    # as threads, nor a tile too small for the backend's threads.
    out, k = (994, 994), (31, 31)
    assert fft.tile_plan(out, k, np.float32) == ((994, 994), (1024, 1024))
    tiles, fft_shape = fft.tile_plan(out, k, np.float32, 2)
    assert fft_shape[1] == 1024 and tiles[1] == 994
    assert tiles[0] == fft_shape[0] - 30 and -(-994 // tiles[0]) == 2
    assert fft_shape[0] == fft.tile_len(497 + 30, 1024)
    tiles, fft_shape = fft.tile_plan(out, k, np.float32, 4)
    assert -(-994 // tiles[0]) == 4
    assert fft.tile_plan(out, k, np.float32, 2, batch=2) == ((994, 994), (1024, 1024))
    assert fft.tile_plan((30, 40), (5, 5), np.float32, 2) == ((30, 40), (36, 45))
    # Not where the cut's extra rows cost more than the backend's threads save: with a kernel
    # twice as tall as the output, each half transforms 5/6 of the whole.
    one = fft.tile_plan((200, 600), (400, 3), np.float64)
    assert one[0] == (200, 600) and math.prod(one[1]) >= fft.BACKEND_THREADS_MIN_POINTS
    assert fft.tile_plan((200, 600), (400, 3), np.float64, 2) == one


def test_tile_len():
    """A tile's FFT length is a fast one (2^a 3^b 5^c) from n to FFT_LEN_SLACK * n and at most
    the limit (unless the first fast length is past it), of the least predicted cost; that is
    never more than the first fast length's."""
    def cost(m):
        return m * fft._pass_cost(m)
    for n in range(1, 3000, 7):
        for limit in (n, int(1.05 * n) + 1, math.inf):
            m = fft.tile_len(n, limit)
            first = fft.next_fast_len(n)
            assert fft.smooth_len(m) == m and n <= m <= max(first, fft.FFT_LEN_SLACK * n)
            assert m <= max(first, limit) and cost(m) <= cost(first)
    assert fft.next_fast_len(731) == 750 and fft.tile_len(731, math.inf) == 768
    assert fft.tile_len(731, 760) == 750
    assert fft._pass_cost(768) == pytest.approx(8 + 1.73)
    assert fft._pass_cost(750) == pytest.approx(1 + 1.73 + 3 * 2.5)


def test_tiles_under_the_kernel(monkeypatch):
    """The `tiling` fixture's 'tiles under the kernel' does make tiles shorter than the
    kernel, and nothing is computed for an empty output."""
    monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 0)
    monkeypatch.setattr(fft, "FFT_PER_TAP_2D", 1.2)
    tiles, _ = fft.tile_plan((37, 50), (20, 24), np.float64)
    assert tiles[0] < 20 and tiles[1] < 24 and 37 % tiles[0] and 50 % tiles[1]
    y = np.empty((2, 0, 5))
    fft.correlate_fft_2d(np.ones((2, 3, 7)), np.ones((1, 4, 3)), y, None, 0.0, 1)


def _busiest(n_units, size, n_threads):
    """The tiles of the busiest thread when n_units tiles go in chunks of `size` to n_threads
    threads, thread i taking chunks i, i + n_threads, ... (the last chunk may be short)."""
    chunks = -(-n_units // size)
    return max(sum(min(size, n_units - c * size) for c in range(i, chunks, n_threads))
               for i in range(n_threads))


def test_chunks_even_over_threads(monkeypatch):
    """`per_chunk` never exceeds `chunk_tiles`, and leaves the busiest thread at most one tile
    per chunk it runs over the fewest any one chunk size allows (chunks of `chunk_tiles` could
    leave one thread a whole chunk more: 17 tiles in chunks of 16); `idle_factor` is that
    busiest thread's tiles against an even share.  A call hands `_units` that chunk size."""
    shape = (32, 32)
    monkeypatch.setattr(fft, "CHUNK_BYTES", 16 * 32 * 32 * 8)
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    most = fft.chunk_tiles(shape, np.float64)
    assert most == 16
    for n_threads in (1, 2, 3, 4):
        for n_units in range(1, 8 * most + 3):
            size = fft.per_chunk(n_units, shape, np.float64, n_threads)
            assert 1 <= size <= most
            fewest = min(_busiest(n_units, s, n_threads) for s in range(1, most + 1))
            chunks_each = -(-(-(-n_units // size)) // n_threads)
            assert _busiest(n_units, size, n_threads) - fewest <= chunks_each, \
                (n_threads, n_units, size)
            assert fft.idle_factor(shape, n_units, np.float64, n_threads) == pytest.approx(
                n_threads * _busiest(n_units, size, n_threads) / n_units)
    # One chunk large enough for the backend's threads: they do BACKEND_THREAD_SPEEDUP
    # times better than one thread.
    big = (1024, 1024)
    assert fft.per_chunk(1, big, np.float64, 2) == 1
    assert fft.idle_factor(big, 1, np.float64, 2) == pytest.approx(2 / fft.BACKEND_THREAD_SPEEDUP)
    monkeypatch.undo()
    # Tiles of fewer points than THREADS_MIN_POINTS in all: one chunk on the calling thread
    # (the others idle: the factor is the threads), however the chunk size would split them.
    few = fft.THREADS_MIN_POINTS // (32 * 32) - 1
    assert fft.call_threads(few, shape, 2) == 1 and fft.call_threads(few + 2, shape, 2) == 2
    assert fft.per_chunk(few, shape, np.float64, 2) == few
    assert fft.idle_factor(shape, few, np.float64, 2) == 2.0
    seen = []
    real = fft._units
    monkeypatch.setattr(fft, "_units", lambda *a: seen.append(a[2]) or real(*a))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((41, 40, 40))
    w = rng.standard_normal((1, 5, 5))
    y = np.empty((41, 36, 36))
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    fft.correlate_fft_2d(x, w, y, None, 0.0, 2)
    _, fft_shape = fft.tile_plan((36, 36), (5, 5), np.float64)
    assert seen == [fft.per_chunk(41, fft_shape, np.float64, 2)] and seen[0] < 41
    check(x, w, y, None, 0.0, np.float64)


def test_error_in_a_kept_thread_reaches_the_caller(monkeypatch):
    """Chunks run on the calling thread and on threads kept between calls (`_pool`): an
    exception in another thread's chunk reaches the caller once every thread has stopped, and
    the next call on the same threads is right."""
    monkeypatch.setattr(fft, "BACKEND", "scipy" if fft._scipy_fft is not None else "numpy")
    monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 16 * 16 * 8)
    monkeypatch.setattr(fft, "CHUNK_BYTES", 0)
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 60, 50))
    w = rng.standard_normal((1, 5, 4))
    caller = threading.get_ident()
    seen = set()

    def failing(real):
        def forward(*args):
            seen.add(threading.get_ident())
            if threading.get_ident() != caller:
                raise RuntimeError("a chunk failed")
            return real(*args)
        return forward

    # Whichever transforms the tiles (scipy.fft, or numpy.fft into buffers).
    for name in ("_forward", "_forward_into"):
        monkeypatch.setattr(fft, name, failing(getattr(fft, name)))
    y = np.empty((1, 56, 47))
    with pytest.raises(RuntimeError, match="a chunk failed"):
        fft.correlate_fft_2d(x, w, y, None, 0.0, 2)
    assert len(seen) == 2  # the caller and a kept thread
    monkeypatch.undo()
    monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 16 * 16 * 8)
    monkeypatch.setattr(fft, "CHUNK_BYTES", 0)
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    _run(fft.correlate_fft_2d, rng, x, w, (1, 56, 47), None, 0.0, np.float64, strided=False)


def test_concurrent_callers_share_the_kept_threads(monkeypatch):
    """Callers on several threads at once, each call spreading its chunks over the kept
    threads (`_pool`, shared by them all) and its own: every result equals the same call's
    alone, bit for bit (a chunk computed by another call's thread would differ)."""
    from concurrent.futures import ThreadPoolExecutor
    monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 32 * 32 * 8)
    monkeypatch.setattr(fft, "THREADS_MIN_POINTS", 0)
    rng = np.random.default_rng(17)
    jobs = []
    for i in range(8):
        dtype = DTYPES[i % 2]
        x = rng.standard_normal((1 + i % 3, 70 + 5 * i, 60)).astype(dtype)
        w = rng.standard_normal((1, 7 + i, 5)).astype(dtype)
        jobs.append((x, w, (x.shape[0], x.shape[1] - w.shape[1] + 1, 56)))

    def call(job):
        x, w, shape = job
        y = np.empty(shape, x.dtype)
        fft.correlate_fft_2d(x, w, y, None, 0.0, 2)
        return y

    alone = [call(job) for job in jobs]
    with ThreadPoolExecutor(4) as callers:
        for _ in range(3):
            for expected, got in zip(alone, callers.map(call, jobs)):
                np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_is_bounded(backend, dtype, monkeypatch):
    """The numpy allocations of a call (tracemalloc) stay within `memory_bound`, which stops
    growing with the image once the tiles reach their largest size (at most 64 KiB here; it
    then varies only with the fast FFT length that fits the tiles), and is a fraction of these
    images."""
    monkeypatch.setattr(fft, "MAX_TILE_BYTES_2D", 1 << 16)
    monkeypatch.setattr(fft, "MAX_FFT_LEN_1D", 1 << 13)
    monkeypatch.setattr(fft, "CHUNK_BYTES", 1 << 17)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 1200, 1000)).astype(dtype)
    w = rng.standard_normal((1, 31, 31)).astype(dtype)
    maps = (boundary.index_map(-15, 1200 + 15, 1200, "symm"),
            boundary.index_map(-15, 1000 + 15, 1000, "wrap"))
    stack = rng.standard_normal((40, 120, 100)).astype(dtype)
    kernels = rng.standard_normal((40, 9, 9)).astype(dtype)
    x1 = rng.standard_normal((2, 600_000)).astype(dtype)
    w1 = rng.standard_normal((1, 1000)).astype(dtype)
    calls = [(fft.correlate_fft_2d, x, w, (1, 1170, 970), None, 3),
             (fft.correlate_fft_2d, x, w, (1, 1200, 1000), maps, 3),
             (fft.correlate_fft_2d, stack, kernels, (40, 112, 92), None, 1),
             (fft.correlate_fft_1d, x1, w1, (2, 599_001), None, 2)]
    for call, image, kernel, out_shape, index, fraction in calls:
        batch, kernel_shape = out_shape[0], kernel.shape[1:]
        y = np.empty(out_shape, dtype)
        # Per thread a fraction of the image; the call below runs on two.
        assert fft.memory_bound(out_shape[1:], kernel_shape, dtype, batch,
                                kernel.shape[0]) < image.nbytes / fraction
        bound = fft.memory_bound(out_shape[1:], kernel_shape, dtype, batch, kernel.shape[0],
                                 n_threads=2)
        larger = [fft.memory_bound(tuple(f * n for n in out_shape[1:]), kernel_shape, dtype,
                                   batch, kernel.shape[0], n_threads=2) for f in (16, 64, 256)]
        assert max(larger) <= 1.1 * min(larger) and max(larger) < 2 * bound
        tracemalloc.start()
        try:
            if call is fft.correlate_fft_1d:
                call(image, kernel, y, None if index is None else index[0], 0.0, 2)
            else:
                call(image, kernel, y, index, 0.0, 2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= bound, (call.__name__, out_shape, peak, bound)
