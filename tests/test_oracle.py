"""The oracle (oracle.py) checked against the peers it describes, scipy.signal and NumPy.

On small integers every sum is exact in float64 and longdouble alike, so the oracle must equal
the peer exactly: a wrong window, crop, padding, swap or conjugation shows up as inequality.
The special values check the oracle's reading of which products exist (scipy multiplies by the
extension, numpy sums over the overlap only), and the bound is shown to reject a result
computed in too narrow a type.
"""
import numpy as np
import pytest

import oracle

scipy_signal = pytest.importorskip("scipy.signal")

PEERS = {"correlate2d": scipy_signal.correlate2d, "convolve2d": scipy_signal.convolve2d,
         "correlate": np.correlate, "convolve": np.convolve}

# (in1 shape, in2 shape): odd and even kernels, 1x1, kernel == image, in2 larger in one or
# both dimensions, single rows and columns.
SHAPES_2D = [((9, 11), (3, 3)), ((9, 11), (4, 2)), ((10, 7), (2, 5)), ((8, 13), (5, 6)),
             ((7, 8), (1, 1)), ((6, 5), (6, 5)), ((5, 12), (8, 3)), ((12, 4), (3, 7)),
             ((3, 4), (7, 9)), ((1, 1), (3, 2)), ((2, 3), (6, 10)), ((1, 9), (2, 4)),
             ((11, 1), (4, 1)), ((9, 14), (3, 4)), ((3, 4), (9, 14)), ((1, 9), (1, 2))]
LENGTHS_1D = [(7, 3), (7, 4), (3, 7), (4, 7), (5, 5), (1, 4), (4, 1), (2, 6), (6, 2), (1, 1)]


def valid_allowed(shape1, shape2):
    return (all(a >= b for a, b in zip(shape1, shape2))
            or all(b >= a for a, b in zip(shape1, shape2)))


def small_integers(rng, shape, complex_=False):
    values = rng.integers(-9, 10, size=shape).astype(np.float64)
    if complex_:
        values = values + 1j * rng.integers(-9, 10, size=shape)
    return values


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_scipy_faces_exactly(name, complex_):
    rng = np.random.default_rng(104)
    dtype = np.complex128 if complex_ else np.float64
    fill = 3 - 2j if complex_ else 3
    for shape1, shape2 in SHAPES_2D:
        a = small_integers(rng, shape1, complex_)
        b = small_integers(rng, shape2, complex_)
        for mode in ("full", "same", "valid"):
            if mode == "valid" and not valid_allowed(shape1, shape2):
                with pytest.raises(ValueError):
                    oracle.exact(name, a, b, dtype, mode)
                continue
            for boundary in ("fill", "wrap", "symm"):
                np.testing.assert_array_equal(
                    oracle.exact(name, a, b, dtype, mode, boundary, fill),
                    PEERS[name](a, b, mode, boundary, fill),
                    err_msg=f"{name} {mode} {boundary} {shape1} {shape2}")


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_numpy_faces_exactly(name, complex_):
    rng = np.random.default_rng(304)
    dtype = np.complex128 if complex_ else np.float64
    for n, k in LENGTHS_1D:
        a = small_integers(rng, n, complex_)
        v = small_integers(rng, k, complex_)
        for mode in ("valid", "same", "full"):
            np.testing.assert_array_equal(oracle.exact(name, a, v, dtype, mode),
                                          PEERS[name](a, v, mode),
                                          err_msg=f"{name} {mode} {n} {k}")


def test_default_modes_are_the_peers():
    a, v = np.arange(1.0, 6.0), np.array([2.0, -1.0, 0.5])
    for name in ("correlate", "convolve"):
        np.testing.assert_array_equal(oracle.exact(name, a, v, np.float64), PEERS[name](a, v))
    for name in ("correlate2d", "convolve2d"):
        np.testing.assert_array_equal(oracle.exact(name, a[None], v[None], np.float64),
                                      PEERS[name](a[None], v[None]))


@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_scipy_multiplies_the_extension(name):
    """An Inf in in2 over a zero fill is NaN in 'full' and 'same' (scipy forms every product);
    'valid' with in2 the larger sums over the overlap, so the Inf meets no zero."""
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    kernel = np.array([[np.inf, 1.0, 2.0]])
    with np.errstate(invalid="ignore"):
        for mode in ("full", "same"):
            np.testing.assert_array_equal(oracle.exact(name, image, kernel, np.float64, mode),
                                          PEERS[name](image, kernel, mode))
        np.testing.assert_array_equal(oracle.exact(name, image[:1], kernel, np.float64, "valid"),
                                      PEERS[name](image[:1], kernel, "valid"))
        assert np.isnan(oracle.exact(name, image, kernel, np.float64, "full")).any()


@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_numpy_sums_over_the_overlap(name):
    """numpy never multiplies by a padding zero: an Inf in v next to the ends stays Inf."""
    a = np.array([1.0, 2.0, 3.0, 4.0])
    v = np.array([np.inf, 1.0, -1.0])
    with np.errstate(invalid="ignore"):
        for mode in ("full", "same", "valid"):
            for x, y in ((a, v), (v, a)):
                expected = PEERS[name](x, y, mode)
                np.testing.assert_array_equal(oracle.exact(name, x, y, np.float64, mode),
                                              expected, err_msg=f"{mode} {len(x)} {len(y)}")
        assert not np.isnan(oracle.exact(name, a, v, np.float64, "full")).any()


def test_stacks_are_item_by_item():
    rng = np.random.default_rng(7)
    stack = small_integers(rng, (2, 3, 6, 7))
    kernels = small_integers(rng, (1, 3, 2, 3))
    one = small_integers(rng, (2, 3))
    got = oracle.exact("correlate2d", stack, kernels, np.float64, "same", "symm")
    shared = oracle.exact("convolve2d", stack, one, np.float64, "full")
    for i, j in np.ndindex(2, 3):
        np.testing.assert_array_equal(got[i, j], scipy_signal.correlate2d(
            stack[i, j], kernels[0, j], "same", "symm"))
        np.testing.assert_array_equal(shared[i, j], scipy_signal.convolve2d(stack[i, j], one))
    signals = small_integers(rng, (4, 20))
    taps = small_integers(rng, (4, 5))
    got = oracle.exact("correlate", signals, taps, np.float64, "same")
    for i in range(4):
        np.testing.assert_array_equal(got[i], np.correlate(signals[i], taps[i], "same"))


def test_wide_type_and_result_dtype():
    assert oracle.wide_dtype(np.float32) == np.float64
    assert oracle.wide_dtype(np.complex128) == np.clongdouble
    with pytest.raises(ValueError):
        oracle.wide_dtype(np.float16)
    # The documented table, spot-checked against what it promises in words.
    assert oracle.result_dtype(np.float16, np.float16) == np.float32
    assert oracle.result_dtype(np.int8, np.float32) == np.float64
    assert oracle.result_dtype(np.complex64, np.float32) == np.complex64
    assert oracle.result_dtype(np.complex64, np.int8) == np.complex128
    assert oracle.result_dtype(np.bool_) == np.float64


@pytest.mark.parametrize("name", list(PEERS))
def test_bound_rejects_a_narrower_computation(name):
    """The bound is tight enough to reject a float16 computation of a float32 result, and a
    correctly rounded float32 result passes it."""
    rng = np.random.default_rng(8)
    shapes = ((20, 30), (3, 3)) if name.endswith("2d") else ((200,), (9,))
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    exact = oracle.exact(name, a, b, np.float32)
    bound = oracle.error_bound(name, a, b, np.float32)
    half = exact.astype(np.float16).astype(np.float32)
    with pytest.raises(AssertionError, match="exceed the error bound"):
        oracle.assert_within_bound(half, exact, bound)
    oracle.assert_within_bound(exact.astype(np.float32), exact, bound)


def test_bound_is_the_stated_formula():
    """(n + 1) * eps * sum|x||w| + tiny: at K = 31 x 31 of ones, 962 * 2**-23 * 961 + tiny."""
    ones = np.ones((31, 31), np.float32)
    bound = oracle.error_bound("correlate2d", ones, ones, np.float32, "valid")
    assert bound.shape == (1, 1)
    assert bound[0, 0] == pytest.approx(962 * 2.0**-23 * 961, rel=1e-6)
    # In 'full' mode n is the kernel's size whatever the overlap; |fill| counts outside.
    bound = oracle.error_bound("convolve2d", np.ones((2, 2)), np.ones((2, 2)), np.float64,
                               "full", "fill", -3)
    eps = np.finfo(np.float64).eps
    assert bound[0, 0] == pytest.approx(5 * eps * (1 + 3 * 3) + np.finfo(np.float64).tiny)


def test_assert_within_bound_masks():
    ref = np.array([1.0, np.nan, np.inf, -np.inf])
    oracle.assert_within_bound(ref.copy(), ref, np.zeros(4))
    for bad in ([1.0, 0.0, np.inf, -np.inf], [1.0, np.nan, -np.inf, -np.inf],
                [1.0, np.nan, np.inf, np.nan], [1.5, np.nan, np.inf, -np.inf]):
        with pytest.raises(AssertionError):
            oracle.assert_within_bound(np.array(bad), ref, np.full(4, 0.25))
