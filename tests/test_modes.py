"""Modes and boundaries: 'valid', 'same' and 'full' of every face, the 'fill', 'wrap' and
'symm' boundaries and the fill value of the 2-D faces, odd and even kernels, kernels larger
than the image, the valid-mode swap when in2 is the larger, and every way the engine builds a
'full'/'same' result (the `frame` and `ends` fixtures).

Tolerances (oracle.py): within ``error_bound`` = (n + 1) * eps * (|ext(in1)| (*) |in2|) + tiny
elementwise of the oracle, within twice it of scipy.signal / numpy, which also round in the
result dtype.  Complex results part by part.
"""
import numpy as np
import pytest

import fastcorr
from faces import CONVOLVE2D, CORRELATE2D, FACES_1D, FACES_2D, check, dtype_id, random_array
from oracle import assert_within_bound

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]

# (image shape, kernel shape): odd and even kernels, 1x1, kernel == image, and kernels larger
# than the image in rows, in columns and in both ('full' and 'same' allow them; 'valid' only
# when one input is at least as large as the other in every dimension).
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


# ----------------------------------------------------------------------------- 2-D grid
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_grid(frame, face, mode, boundary, dtype):
    """Every mode x boundary x dtype, over odd/even kernels and kernels larger than the image
    in one or both dimensions (in 'valid', where scipy rejects those, both must reject them)."""
    rng = np.random.default_rng(100)
    fills = fill_values(dtype) if boundary == "fill" else [0]
    for image_shape, kernel_shape in SHAPES:
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        if mode == "valid" and not valid_allowed(image_shape, kernel_shape):
            for func in (face.func, face.peer):
                with pytest.raises(ValueError, match="at least as large"):
                    func(image, kernel, mode, boundary)
            continue
        for fill in fills:
            for workers in (1, 2):
                check(face, image, kernel, dtype, mode, boundary, fill, workers=workers)


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"workers={w}")
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_every_path(frame, simd_path, face, mode, boundary, workers):
    """Images wide enough that the interior tiles, the top/bottom bands and the side bands all
    run full vectors and partial tails on each SIMD path."""
    rng = np.random.default_rng(101)
    cases = [((37, 70), (3, 3)), ((40, 53), (4, 6)), ((26, 41), (9, 2)), ((5, 90), (7, 8))]
    for i, (image_shape, kernel_shape) in enumerate(cases):
        dtype = [np.float32, np.float64][i % 2]
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        fill = 0.5 if boundary == "fill" else 0
        check(face, image, kernel, dtype, mode, boundary, fill, workers=workers,
              context=f"[simd={simd_path}]")


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_large_multithreaded(frame, mode, boundary, dtype):
    """Big enough for several tiles and both threads in the interior and in the top band."""
    rng = np.random.default_rng(102)
    image = random_array(rng, (260, 700), dtype)
    kernel = random_array(rng, (6, 5), dtype)
    for face in FACES_2D:
        check(face, image, kernel, dtype, mode, boundary, 0.25, workers=2)


def test_random_shapes(frame):
    """Random shapes, including every relation between image and kernel sizes."""
    rng = np.random.default_rng(103)
    for trial in range(60):
        m, n, p, q = rng.integers(1, 14, size=4)
        dtype = DTYPES[trial % 4]
        face = FACES_2D[trial % 2]
        mode = ["full", "same"][(trial // 2) % 2]
        boundary = BOUNDARIES[trial % 3]
        image = random_array(rng, (m, n), dtype)
        kernel = random_array(rng, (p, q), dtype)
        check(face, image, kernel, dtype, mode, boundary, fill_values(dtype)[trial % 2],
              workers=1 + trial % 2)


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
            check(FACES_2D[0], image, kernel, np.float64, mode, boundary, -0.5,
                  workers=workers)


# ----------------------------------------------------------------------------- valid swap
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
@pytest.mark.parametrize(
    "small_shape, big_shape",
    [((3, 4), (10, 12)), ((1, 1), (5, 6)), ((6, 2), (6, 9)), ((2, 7), (8, 7)), ((5, 5), (40, 33))],
    ids=["3x4<10x12", "1x1<5x6", "6x2<6x9", "2x7<8x7", "5x5<40x33"],
)
def test_valid_with_in2_larger(face, dtype, small_shape, big_shape):
    """scipy's 'valid' takes either input as the larger: correlate2d then gives
    correlate2d(in2, in1) rotated by 180 degrees (real data), convolve2d is commutative."""
    rng = np.random.default_rng(5)
    small = random_array(rng, small_shape, dtype)
    big = random_array(rng, big_shape, dtype)
    swapped = check(face, small, big, dtype, "valid")
    # The rule itself, without the oracle: fastcorr against fastcorr with in1 the larger.
    direct = face(big, small, "valid")
    bound = 2 * face.bound(big, small, dtype, "valid")
    if face.convolve:
        assert_within_bound(swapped, direct, bound, "commutativity")
    else:
        assert_within_bound(swapped, direct[::-1, ::-1], bound[::-1, ::-1], "rotation rule")


# ----------------------------------------------------------------------------- by hand
def test_values_by_hand():
    """Hand-computed cases, independent of the oracle and the peers."""
    image = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    # image[i, j] - image[i + 1, j + 1] is -4 everywhere.
    np.testing.assert_array_equal(CORRELATE2D(image, kernel, "valid"), np.full((2, 2), -4.0))
    # Convolution flips the kernel: image[i + 1, j + 1] - image[i, j] = +4.
    np.testing.assert_array_equal(CONVOLVE2D(image, kernel, "valid"), np.full((2, 2), 4.0))
    # in2 larger: correlate([[1, 2, 3]], [[1, 10]]) = [[21, 32]], rotated by 180 degrees.
    np.testing.assert_array_equal(CORRELATE2D([[1, 10]], [[1, 2, 3]], "valid"), [[32, 21]])
    # scipy's 'same' centring: correlate2d([[1, 2, 3]], [[1, 10]]) in 'full' is
    # [[10, 21, 32, 3]] and 'same' starts at column Q//2 = 1; convolve2d gives
    # [[1, 12, 23, 30]] in 'full' and 'same' starts at (Q-1)//2 = 0.
    row, pair = [[1.0, 2.0, 3.0]], [[1.0, 10.0]]
    np.testing.assert_array_equal(CORRELATE2D(row, pair, "full"), [[10, 21, 32, 3]])
    np.testing.assert_array_equal(CORRELATE2D(row, pair, "same"), [[21, 32, 3]])
    np.testing.assert_array_equal(CONVOLVE2D(row, pair, "full"), [[1, 12, 23, 30]])
    np.testing.assert_array_equal(CONVOLVE2D(row, pair, "same"), [[1, 12, 23]])
    # The boundaries: a 1x3 kernel picking the left neighbour.
    pick_left = [[1.0, 0.0, 0.0]]
    np.testing.assert_array_equal(CORRELATE2D(row, pick_left, "same", "fill", 7), [[7, 1, 2]])
    np.testing.assert_array_equal(CORRELATE2D(row, pick_left, "same", "wrap"), [[3, 1, 2]])
    np.testing.assert_array_equal(CORRELATE2D(row, pick_left, "same", "symm"), [[1, 1, 2]])


def test_values_by_hand_1d():
    """numpy's windows on values worked out by hand: the lags of the definition
    c[k] = sum_n a[n+k] v[n] whichever input is the longer, and numpy's 'same' centring."""
    a, v = [1.0, 2.0, 3.0], [0.0, 1.0, 0.5]
    np.testing.assert_array_equal(fastcorr.correlate(a, v, "valid"), [3.5])
    np.testing.assert_array_equal(fastcorr.convolve(a, v, "full"), [0, 1, 2.5, 4, 1.5])
    # a = [1, 2], v = [1, 10, 100]: lag -2 is a[0] v[2] = 100, lag -1 a[0] v[1] + a[1] v[2]
    # = 210, lag 0 1 + 20 = 21, lag 1 a[1] v[0] = 2.
    short, long_ = [1.0, 2.0], [1.0, 10.0, 100.0]
    np.testing.assert_array_equal(fastcorr.correlate(short, long_, "full"), [100, 210, 21, 2])
    np.testing.assert_array_equal(fastcorr.correlate(short, long_, "valid"), [210, 21])
    # numpy's 'same' for the swapped case starts at len(a) // 2, not at (len(a) - 1) // 2 as
    # the unswapped rule would.
    np.testing.assert_array_equal(fastcorr.correlate(short, long_, "same"), [210, 21, 2])
    np.testing.assert_array_equal(np.correlate(short, long_, "same"), [210, 21, 2])


# ----------------------------------------------------------------------------- 1-D
# Lengths: shorter and longer kernel (numpy's swap), equal lengths, single samples, and
# kernels of one to many vectors of taps, with and without a partial last tap group.
LENGTHS = [(1, 1), (7, 1), (1, 7), (5, 5), (9, 4), (4, 9), (2, 6), (30, 8), (8, 30),
           (1500, 3), (2100, 16), (3000, 64), (5000, 128), (4100, 200), (300, 129),
           (129, 300), (2600, 512), (2050, 1024), (1024, 1030)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_grid_1d(ends, face, mode, dtype):
    """Every mode and dtype over the lengths above, with the outputs at the ends computed both
    ways (the `ends` fixture)."""
    rng = np.random.default_rng(300)
    for n, k in LENGTHS:
        a = random_array(rng, n, dtype)
        v = random_array(rng, k, dtype)
        check(face, a, v, dtype, mode, workers=1 + (n + k) % 2)


def test_random_lengths():
    rng = np.random.default_rng(303)
    for trial in range(80):
        n, k = rng.integers(1, 300, size=2)
        dtype = DTYPES[trial % 4]
        check(FACES_1D[trial % 2], random_array(rng, n, dtype), random_array(rng, k, dtype),
              dtype, MODES[trial % 3])


# ----------------------------------------------------------------------------- fillvalue
@pytest.mark.parametrize(
    "fillvalue", [2, 2.5, True, np.float32(-1.25), np.int64(3), np.array(4.0), np.array([0.5]),
                  np.array([[1.5]]), 2 + 0j, 2**70],
    ids=["int", "float", "bool", "np.float32", "np.int64", "0-d", "1-elem", "1x1", "complex-0j",
         "2**70"])
def test_fillvalue_forms(fillvalue):
    """Every form scipy accepts for a fill value; a Python int beyond int64 is a float fill,
    as scipy takes it."""
    rng = np.random.default_rng(106)
    image = random_array(rng, (7, 9), np.float64)
    kernel = random_array(rng, (3, 2), np.float64)
    for face, mode in zip(FACES_2D, ("full", "same")):
        check(face, image, kernel, np.float64, mode, "fill", fillvalue)


def test_fillvalue_is_rounded_to_the_result_dtype():
    """A float32 result extends the image with float32(fillvalue), as scipy does."""
    image = np.ones((3, 3), np.float32)
    kernel = np.array([[1, 0], [0, 0]], np.float32)  # out[0, 0] is the fill value alone
    result = FACES_2D[0](image, kernel, "full", "fill", 0.1)
    assert result.dtype == np.float32
    assert result[0, 0] == np.float32(0.1)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_complex_fill_with_real_image_and_complex_kernel(face):
    """The extended image is complex outside a real image: the imaginary fill must count."""
    rng = np.random.default_rng(107)
    image = random_array(rng, (6, 8), np.float64)
    kernel = random_array(rng, (3, 4), np.complex128)
    for mode in ("full", "same"):
        check(face, image, kernel, np.complex128, mode, "fill", 1 - 2j)


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_boundary_aliases(face):
    """scipy's other spellings, 'circular' and 'symmetric', name the same rules."""
    rng = np.random.default_rng(108)
    image = random_array(rng, (6, 7), np.float64)
    kernel = random_array(rng, (3, 3), np.float64)
    for alias, name in (("circular", "wrap"), ("symmetric", "symm")):
        np.testing.assert_array_equal(face(image, kernel, "same", alias),
                                      face(image, kernel, "same", name))
        check(face, image, kernel, np.float64, "full", alias)


# ----------------------------------------------------------------------------- boundary rules
@pytest.mark.parametrize("rule, pad_mode", [("wrap", "wrap"), ("symm", "symmetric"),
                                            ("mirror", "reflect"), ("nearest", "edge"),
                                            ("fill", "constant"), ("none", "constant")])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_boundary_rules_extend_as_numpy_pad(rule, pad_mode, n):
    """Every rule of the engine's boundary module (the faces' modes map onto them) extends an
    axis as np.pad's mode of the same extension does, however far outside the input (kernels
    larger than the image read positions several periods away); -1 stands for the fill value,
    both through the vectorised path (long ends) and the per-position one (short ends)."""
    from fastcorr._engine import boundary

    for before, after in ((3, 2), (70, 90), (2 * n + 1, 0)):
        positions = np.arange(n)
        pad = {"constant_values": -1} if pad_mode == "constant" else {}
        expected = np.pad(positions, (before, after), mode=pad_mode, **pad)
        boundary.index_map.cache_clear()
        got = boundary.index_map(-before, n + after, n, rule)
        assert np.array_equal(got, expected), (rule, n, before, after, got, expected)
        assert [boundary.position(i, n, rule) for i in range(-before, n + after)] == \
            expected.tolist()
