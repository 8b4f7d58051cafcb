"""Accuracy of float32 (and float64) results, and NaN/Inf propagation (issue 5, guarantee 8).

Error bound
-----------
Each output of a correlation with a P x Q kernel is a sum of K = P*Q products
``s = sum_k w_k x_k`` over the window.  fastcorr accumulates it in the result's precision
(float32 for float32 results, float64 for float64), in an order of its choosing (SIMD lanes,
register blocks of kernel rows, fused multiply-adds), and for *every* such order the computed
value satisfies

    |computed - s|  <=  (K + 1) * eps * sum_k |w_k| |x_k|   (+ the smallest normal number)

with eps the machine epsilon of the result dtype (2^-23 = 1.19e-7 for float32, 2^-52 for
float64).  This is the classical dot-product bound gamma_K = K*u / (1 - K*u), u = eps/2
(Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5) with a factor of
about two to spare; the absolute term covers results that are zero or subnormal.  The bound is
relative to sum |w||x| over the window, not to |s|: when the products cancel (mixed signs, large
magnitudes) the relative error of s itself can be arbitrarily large, as for any summation in
floating point.  It grows linearly with K: for a 31 x 31 float32 kernel (K = 961) it is
``962 * 1.19e-7 = 1.15e-4`` times sum |w||x|.  Measured errors are far smaller: on the
adversarial data below (magnitudes over 40 binades, mixed signs, exact cancellation), on every
SIMD path of an AVX2 machine, the worst output used 1% of the bound with a 31 x 31 kernel, 7-9%
with 7 x 9 and 8-16% with 1 x 31 (float32 and float64 alike).

Integer and bool inputs are computed in float64, float16 in float32; the bound then applies to
the inputs after that conversion (which is exact for every integer up to 2^53).

NaN and Inf
-----------
NaN and Inf propagate exactly as in the definition evaluated in IEEE arithmetic: an output is
NaN if any product in its window is NaN (a NaN input, or 0 * Inf) or if products of opposite
infinite sign meet (Inf - Inf); it is +Inf/-Inf if the window has infinite products of one sign
only (and no NaN); otherwise it is finite.  This holds on every SIMD path, in the full vectors
and in the remainder lanes (output widths that are not a multiple of the vector width or of the
24-column strip), and the tests place the special values so that they land in each kind of lane.
Overflow of finite products or partial sums to Inf is a property of the data, not checked here.
"""
import zlib

import numpy as np
import pytest

import fastcorr
from reference import (
    assert_within_bound,
    convolve2d_valid_reference,
    correlate2d_valid_reference,
    error_bound,
)

OPS = {
    "correlate": (fastcorr.correlate2d, correlate2d_valid_reference),
    "convolve": (fastcorr.convolve2d, convolve2d_valid_reference),
}


def bound_usage(result, exact, bound):
    """max |result - exact| / bound: how much of the stated bound the result used (<= 1)."""
    err = np.abs(result.astype(np.float64) - exact.astype(np.float64))
    return float(np.max(err / bound))


def adversarial(rng, shape, dtype, scale=1e15):
    """Large-magnitude, mixed-sign values spanning many binades, with exact cancellation
    partners: sums of the window cancel to much less than sum |w||x|, so any extra rounding
    (a narrower accumulator, a dropped term, a wrong order of magnitude) stands out."""
    magnitude = scale * 2.0 ** rng.integers(-20, 21, size=shape)
    values = magnitude * rng.choice([-1.0, 1.0], size=shape) * (1 + rng.random(shape))
    # Every other column repeats its left neighbour with the opposite sign.
    values[..., 1::2] = -values[..., :-1:2][..., : values[..., 1::2].shape[-1]]
    return values.astype(dtype)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel_shape", [(31, 31), (1, 31), (31, 1), (7, 9)])
def test_bound_on_adversarial_data(simd_path, op, dtype, kernel_shape):
    """Large-magnitude mixed-sign data with a 31 x 31 (and other) kernels: within the bound
    against a float64 (float32 results) or longdouble (float64 results) reference."""
    rng = np.random.default_rng(zlib.crc32(f"{op}{kernel_shape}".encode()))
    kh, kw = kernel_shape
    image = adversarial(rng, (kh + 37, kw + 45), dtype)
    kernel = adversarial(rng, kernel_shape, dtype, scale=1e3)
    func, reference = OPS[op]
    for workers in (1, 2):
        result = func(image, kernel, workers=workers)
        exact = reference(image, kernel, dtype)
        bound = error_bound(image, kernel, dtype, op=op)
        assert_within_bound(result, exact, bound,
                            f"{op} {kernel_shape} {np.dtype(dtype)} simd={simd_path}")


def test_bound_grows_with_k_and_is_not_loose_by_orders():
    """The bound is linear in K; measured errors on adversarial float32 data stay under it
    for every K, and a result twice the bound off is rejected."""
    rng = np.random.default_rng(8)
    usages = {}
    for k in (1, 3, 7, 15, 31):
        image = adversarial(rng, (64, 96), np.float32)
        kernel = adversarial(rng, (k, k), np.float32, scale=1.0)
        result = fastcorr.correlate2d(image, kernel)
        exact = correlate2d_valid_reference(image, kernel, np.float32)
        bound = error_bound(image, kernel, np.float32)
        usages[k] = bound_usage(result, exact, bound)
        assert usages[k] <= 1.0, f"K={k * k}: used {usages[k]:.3f} of the bound"
        # The check is not vacuous: twice the bound off is caught.
        coarse = exact.astype(np.float64) + 2 * bound
        with pytest.raises(AssertionError, match="exceed the error bound"):
            assert_within_bound(coarse, exact, bound)
    # The stated constant at K = 961 is (961 + 1) * eps.
    a = np.ones((31, 31), np.float32)
    assert error_bound(a, a, np.float32)[0, 0] == pytest.approx(962 * 2.0**-23 * 961, rel=1e-6)


def test_float32_is_accumulated_in_float32_not_wider_or_narrower():
    """A case where float32 accumulation must differ from the exact value (so the bound is
    not vacuous), yet stay within it: 1 + 2^-24 * 961 ones."""
    image = np.full((1, 962), 2.0**-24, np.float32)
    image[0, 0] = 1.0
    kernel = np.ones((1, 962), np.float32)
    result = fastcorr.correlate2d(image, kernel)
    exact = correlate2d_valid_reference(image, kernel, np.float32)
    assert_within_bound(result, exact, error_bound(image, kernel, np.float32))


# ----------------------------------------------------------------------------- NaN / Inf
SPECIALS = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_propagate_every_lane(simd_path, dtype):
    """One special value (NaN, +Inf, -Inf) at a time, at positions whose windows cover the
    first, a middle and the last output column (so the full vectors, the remainder lanes and
    the last partial vector all see it), for output widths 1..50 (not multiples of 8/24 and
    multiples alike): the NaN/Inf pattern equals the reference's exactly."""
    rng = np.random.default_rng(17)
    for ow in list(range(1, 34)) + [40, 47, 48, 49, 50]:
        kh, kw = (3, 4) if ow % 2 else (2, 5)
        oh = 1 + ow % 5
        base = rng.standard_normal((oh + kh - 1, ow + kw - 1)).astype(dtype)
        kernel = rng.standard_normal((kh, kw)).astype(dtype)
        for value in SPECIALS:
            for col in {0, ow // 2, ow + kw - 2}:
                image = base.copy()
                image[oh // 2, col] = value
                result = fastcorr.correlate2d(image, kernel, workers=1)
                assert_within_bound(result, correlate2d_valid_reference(image, kernel, dtype),
                                    error_bound(np.nan_to_num(image, posinf=0, neginf=0),
                                                kernel, dtype),
                                    f"{value} at column {col}, width {ow}, simd={simd_path}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inf_combinations(simd_path, dtype):
    """Inf * 0 = NaN (a zero kernel tap over an Inf), Inf - Inf = NaN (opposite infinities in
    one window), Inf in the kernel, NaN in the kernel: as in the reference, including in the
    remainder columns."""
    ow = 29  # 3 full 8-lane vectors + 5 remainder lanes; 24-column strip + 5
    image = np.random.default_rng(3).standard_normal((6, ow + 2)).astype(dtype)
    kernel = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]], dtype)
    cases = []
    a = image.copy(); a[0, 1] = np.inf; cases.append(("inf under a zero tap", a, kernel))
    a = image.copy(); a[2, 27] = np.inf; a[2, 29] = np.inf; cases.append(("inf - inf", a, kernel))
    a = image.copy(); a[3, 30] = -np.inf; cases.append(("-inf in last column", a, kernel))
    k = kernel.copy(); k[1, 1] = np.inf; cases.append(("inf in kernel", image, k))
    k = kernel.copy(); k[0, 2] = np.nan; cases.append(("nan in kernel", image, k))
    k = kernel.copy(); k[0, 1] = np.inf; cases.append(("inf kernel tap over finite", image, k))
    for name, img, ker in cases:
        for op, (func, reference) in OPS.items():
            result = func(img, ker, workers=2)
            with np.errstate(invalid="ignore"):
                exact = reference(img, ker, dtype)
            finite_img = np.nan_to_num(img, nan=0, posinf=0, neginf=0)
            finite_ker = np.nan_to_num(ker, nan=0, posinf=0, neginf=0)
            assert_within_bound(result, exact, error_bound(finite_img, finite_ker, dtype, op=op),
                                f"{name} ({op}, simd={simd_path})")


def test_nan_does_not_leak_into_neighbouring_outputs(simd_path):
    """A NaN poisons exactly the outputs whose window contains it (no stale register or
    scratch value carries it into the next tile, row block or call)."""
    image = np.zeros((40, 131), np.float32)
    image[20, 70] = np.nan
    kernel = np.ones((3, 3), np.float32)
    result = fastcorr.correlate2d(image, kernel, workers=2)
    expected_nan = np.zeros(result.shape, bool)
    expected_nan[18:21, 68:71] = True
    assert np.array_equal(np.isnan(result), expected_nan)
    # The next call on clean data is clean.
    assert not np.isnan(fastcorr.correlate2d(np.zeros((40, 131), np.float32), kernel)).any()
