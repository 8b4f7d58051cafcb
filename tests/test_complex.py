"""complex64/complex128 in correlate2d/convolve2d: scipy's semantics (correlation conjugates
in2; convolution does not), the one promotion table, every SIMD path, layouts and out=.

Tolerances as in test_modes.py: each part of the result within ``error_bound`` (complex moduli
in the absolute sum, see reference.py) of the NumPy oracle and within twice it of scipy.
"""
import numpy as np
import pytest
import scipy.signal

import fastcorr
from reference import assert_within_bound, correlate2d_reference, error_bound

FUNCS = {"correlate": (fastcorr.correlate2d, scipy.signal.correlate2d),
         "convolve": (fastcorr.convolve2d, scipy.signal.convolve2d)}


def dtype_id(dt):
    return np.dtype(dt).name


def values(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dtype)
    v = rng.standard_normal(shape)
    if dtype.kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dtype)


def check(op, in1, in2, dtype, mode="valid", **kwargs):
    func, scipy_func = FUNCS[op]
    result = func(in1, in2, mode, **kwargs)
    dtype = np.dtype(dtype)
    assert result.dtype == dtype, f"result dtype {result.dtype}, expected {dtype}"
    ctx = f"{op} {np.shape(in1)} {np.asarray(in1).dtype} * {np.shape(in2)} " \
          f"{np.asarray(in2).dtype} mode={mode}"
    bound = error_bound(in1, in2, dtype, op, mode)
    assert_within_bound(result, correlate2d_reference(in1, in2, dtype, mode, op=op), bound,
                        ctx + " vs NumPy oracle")
    a, b = np.asarray(in1).astype(dtype), np.asarray(in2).astype(dtype)
    assert_within_bound(result, scipy_func(a, b, mode), 2 * bound, ctx + " vs scipy.signal")
    return result


# ----------------------------------------------------------------------------- promotion
PROMOTION = [
    (np.complex64, np.complex64, np.complex64),
    (np.complex128, np.complex128, np.complex128),
    (np.complex64, np.float32, np.complex64),
    (np.float32, np.complex64, np.complex64),
    (np.float16, np.complex64, np.complex64),
    (np.complex64, np.float64, np.complex128),
    (np.float64, np.complex64, np.complex128),
    (np.complex64, np.complex128, np.complex128),
    (np.complex128, np.float32, np.complex128),
    (np.complex64, np.int8, np.complex128),
    (np.uint16, np.complex64, np.complex128),
    (np.bool_, np.complex64, np.complex128),
    (np.int64, np.complex128, np.complex128),
]


@pytest.mark.parametrize("op", list(FUNCS))
@pytest.mark.parametrize("dt1, dt2, expected", PROMOTION,
                         ids=[f"{dtype_id(a)}+{dtype_id(b)}->{dtype_id(c)}"
                              for a, b, c in PROMOTION])
def test_promotion(op, dt1, dt2, expected):
    rng = np.random.default_rng(200)
    in1 = values(rng, (10, 13), dt1)
    in2 = values(rng, (3, 4), dt2)
    for mode in ("valid", "full"):
        check(op, in1, in2, expected, mode)
    check(op, in2, in1, expected, "valid")  # in2 larger: the swap keeps the promotion


# ----------------------------------------------------------------------------- semantics
def test_conjugation_by_hand():
    """correlate2d conjugates in2, convolve2d does not, independent of both oracles."""
    image = np.array([[1j, 2.0]])
    kernel = np.array([[1j]])
    np.testing.assert_array_equal(fastcorr.correlate2d(image, kernel), [[1, -2j]])  # * conj(1j) = -1j
    np.testing.assert_array_equal(fastcorr.convolve2d(image, kernel), [[-1, 2j]])
    # in2 larger: scipy computes correlate(in2, conj(in1)) = [[1j * -1j, 2 * -1j]], rotated by
    # 180 degrees.
    np.testing.assert_array_equal(fastcorr.correlate2d(kernel, image), [[-2j, 1]])
    # numpy's definition, to pin what "conjugates in2" means.
    assert np.correlate([1j, 2.0], [1j])[0] == 1


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("op", list(FUNCS))
def test_swap_and_mixed_real(op, dtype):
    """in2 larger (conjugation stays on in2, rotation applies), and each side real: the
    two-correlation paths."""
    rng = np.random.default_rng(201)
    real = np.float32 if dtype == np.complex64 else np.float64
    for small_dt, big_dt in ((dtype, dtype), (real, dtype), (dtype, real)):
        small = values(rng, (3, 5), small_dt)
        big = values(rng, (9, 12), big_dt)
        check(op, small, big, dtype)
        check(op, big, small, dtype)


def test_parts_keep_their_own_accuracy():
    """A tiny real part next to a huge imaginary one must keep its relative accuracy (the
    reason for four real products rather than the three-product Gauss form)."""
    rng = np.random.default_rng(202)
    image = (1e-6 * rng.standard_normal((20, 30)) + 1e3j * rng.standard_normal((20, 30)))
    kernel = rng.standard_normal((3, 3)) + 0j
    image, kernel = image.astype(np.complex64), kernel.astype(np.complex64)
    result = fastcorr.correlate2d(image, kernel)
    exact = correlate2d_reference(image, kernel, np.complex64)
    # Bound from the real parts alone: the imaginary ones must not leak into it.
    bound = error_bound(image.real, kernel.real, np.float32)
    assert_within_bound(result.real, exact.real, bound, "real part")


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=dtype_id)
def test_every_path(simd_path, dtype):
    rng = np.random.default_rng(203)
    for image_shape, kernel_shape in (((17, 45), (3, 4)), ((30, 33), (7, 2))):
        image = values(rng, image_shape, dtype)
        kernel = values(rng, kernel_shape, dtype)
        for op in FUNCS:
            for mode, workers in (("valid", 1), ("same", 2), ("full", 1)):
                check(op, image, kernel, dtype, mode, workers=workers)


def test_nan_inf_in_either_part():
    rng = np.random.default_rng(204)
    image = values(rng, (8, 12), np.complex128)
    image[2, 3] = complex(np.nan, 1.0)
    image[5, 9] = complex(1.0, np.inf)
    kernel = values(rng, (2, 3), np.complex128)
    with np.errstate(invalid="ignore"):
        for op in FUNCS:
            result = FUNCS[op][0](image, kernel, "same")
            expected = correlate2d_reference(image, kernel, np.complex128, "same", op=op)
            bound = error_bound(image, kernel, np.complex128, op, "same")
            assert_within_bound(result, expected, bound, op)
            assert np.isnan(result.real).any() and np.isinf(result.imag).any()


# ----------------------------------------------------------------------------- layouts, out=
@pytest.mark.parametrize("layout", ["C", "F", "strided", "negative", "readonly", "nonnative",
                                    "unaligned"])
def test_layouts(make_layout, layout):
    rng = np.random.default_rng(205)
    image = values(rng, (11, 14), np.complex128)
    kernel = values(rng, (3, 2), np.complex64)
    for mode in ("valid", "same"):
        check("correlate", make_layout(image, layout), make_layout(kernel, layout),
              np.complex128, mode)


@pytest.mark.parametrize("op", list(FUNCS))
def test_out_and_aliasing(op):
    rng = np.random.default_rng(206)
    image = values(rng, (10, 12), np.complex64)
    kernel = values(rng, (3, 3), np.complex64)
    out = np.full((16, 30), np.nan, np.complex64)[::2, ::3]
    assert check(op, image, kernel, np.complex64, "valid", out=out) is out
    expected = correlate2d_reference(image, kernel, np.complex64, "same", op=op)
    bound = error_bound(image, kernel, np.complex64, op, "same")
    result = FUNCS[op][0](image, kernel, "same", out=image)
    assert result is image
    assert_within_bound(result, expected, bound, "same, out=in1")
