"""Accuracy of float32 (and float64) results, and NaN/Inf propagation.

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
about two to spare (derived in oracle.py); the absolute term covers results that are zero or
subnormal.  The bound is relative to sum |w||x| over the window, not to |s|: when the products
cancel (mixed signs, large magnitudes) the relative error of s itself can be arbitrarily large,
as for any summation in floating point.  It grows linearly with K: for a 31 x 31 float32 kernel
(K = 961) it is ``962 * 1.19e-7 = 1.15e-4`` times sum |w||x|.  Measured errors are far smaller:
on the adversarial data below (magnitudes over 40 binades, mixed signs, exact cancellation), on
every SIMD path of an AVX2 machine, the worst output used 1% of the bound with a 31 x 31 kernel,
7-9% with 7 x 9 and 8-16% with 1 x 31 (float32 and float64 alike).

Integer and bool inputs are computed in float64, float16 in float32; the bound then applies to
the inputs after that conversion (which is exact for every integer up to 2^53).

NaN and Inf
-----------
NaN and Inf propagate exactly as in the peer's definition evaluated in IEEE arithmetic: an
output is NaN if any product in its window is NaN (a NaN input, or 0 * Inf) or if products of
opposite infinite sign meet (Inf - Inf); it is +Inf/-Inf if the window has infinite products of
one sign only (and no NaN); otherwise it is finite.  Which products a window has is the peer's
definition (oracle.py): scipy's 'full'/'same' multiply the kernel by the extended image, fill
value included; numpy sums over the overlap only.  This holds on every SIMD path, in the full
vectors and in the remainder lanes (output widths that are not a multiple of the vector width
or of the 24-column strip), and the tests place the special values so that they land in each
kind of lane.  Overflow of finite products or partial sums to Inf is a property of the data,
not checked here.
"""
import zlib

import numpy as np
import pytest

from faces import CORRELATE, CORRELATE2D, FACES, FACES_1D, FACES_2D, check, dtype_id, \
    random_array
from oracle import assert_within_bound

FLOATS = [np.float32, np.float64]


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


@pytest.mark.parametrize("face", FACES_2D, ids=repr)
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("kernel_shape", [(31, 31), (1, 31), (31, 1), (7, 9)])
def test_bound_on_adversarial_data(simd_path, face, dtype, kernel_shape):
    """Large-magnitude mixed-sign data with a 31 x 31 (and other) kernels: within the bound
    against a float64 (float32 results) or longdouble (float64 results) oracle."""
    op = "convolve" if face.convolve else "correlate"
    rng = np.random.default_rng(zlib.crc32(f"{op}{kernel_shape}".encode()))
    kh, kw = kernel_shape
    image = adversarial(rng, (kh + 37, kw + 45), dtype)
    kernel = adversarial(rng, kernel_shape, dtype, scale=1e3)
    exact = face.exact(image, kernel, dtype, "valid")
    bound = face.bound(image, kernel, dtype, "valid")
    for workers in (1, 2):
        assert_within_bound(face(image, kernel, "valid", workers=workers), exact, bound,
                            f"{face.name} {kernel_shape} {np.dtype(dtype)} simd={simd_path}")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_bound_on_adversarial_data_1d(face, dtype):
    rng = np.random.default_rng(9)
    a = adversarial(rng, 3000, dtype)
    for k in (31, 257, 961):
        v = adversarial(rng, k, dtype, scale=1e3)
        for mode in ("valid", "full"):
            assert_within_bound(face(a, v, mode), face.exact(a, v, dtype, mode),
                                face.bound(a, v, dtype, mode), f"{face.name} K={k} {mode}")


def test_bound_grows_with_k_and_is_not_loose_by_orders():
    """The bound is linear in K; measured errors on adversarial float32 data stay under it
    for every K, and a result twice the bound off is rejected."""
    rng = np.random.default_rng(8)
    for k in (1, 3, 7, 15, 31):
        image = adversarial(rng, (64, 96), np.float32)
        kernel = adversarial(rng, (k, k), np.float32, scale=1.0)
        result = CORRELATE2D(image, kernel, "valid")
        exact = CORRELATE2D.exact(image, kernel, np.float32, "valid")
        bound = CORRELATE2D.bound(image, kernel, np.float32, "valid")
        usage = bound_usage(result, exact, bound)
        assert usage <= 1.0, f"K={k * k}: used {usage:.3f} of the bound"
        # The check is not vacuous: twice the bound off is caught.
        coarse = exact.astype(np.float64) + 2 * bound
        with pytest.raises(AssertionError, match="exceed the error bound"):
            assert_within_bound(coarse, exact, bound)


def test_float32_is_accumulated_in_float32_not_wider_or_narrower():
    """A case where float32 accumulation must differ from the exact value (so the bound is
    not vacuous), yet stay within it: 1 + 2^-24 * 961 ones."""
    image = np.full((1, 962), 2.0**-24, np.float32)
    image[0, 0] = 1.0
    kernel = np.ones((1, 962), np.float32)
    for face in FACES:
        x, w = (image, kernel) if face.core_ndim == 2 else (image[0], kernel[0])
        assert_within_bound(face(x, w, "valid"), face.exact(x, w, np.float32, "valid"),
                            face.bound(x, w, np.float32, "valid"), face.name)


@pytest.mark.parametrize("face", FACES, ids=repr)
def test_float32_is_computed_in_float32(simd_path, face):
    """float32 in, float32 out, and the sum is formed in float32, not in float64 and rounded.

    With terms 1, 2**-24 and 2**-48 every float32 summation order gives exactly 1 (each partial
    sum is a tie or below half an ulp of 1 and rounds to it), while the float64 sum
    1 + 2**-24 + 2**-48 is above the midpoint and rounds to 1 + 2**-23 in float32.
    """
    image = np.array([[1.0, 2.0**-24, 2.0**-48]], dtype=np.float32)
    kernel = np.ones((1, 3), dtype=np.float32)
    if face.core_ndim == 1:
        image, kernel = image[0], kernel[0]
    for args in ((image, kernel), (kernel, image)):
        result = face(*args, "valid")
        assert result.dtype == np.float32
        assert result.ravel()[0] == np.float32(1.0), (
            f"{result!r}: not a float32 accumulation (float64 would round to 1 + 2**-23)")


def test_complex_parts_keep_their_own_accuracy():
    """A tiny real part next to a huge imaginary one must keep its relative accuracy (the
    reason for four real products rather than the three-product Gauss form)."""
    rng = np.random.default_rng(202)
    image = (1e-6 * rng.standard_normal((20, 30)) + 1e3j * rng.standard_normal((20, 30)))
    kernel = rng.standard_normal((3, 3)) + 0j
    image, kernel = image.astype(np.complex64), kernel.astype(np.complex64)
    result = CORRELATE2D(image, kernel, "valid")
    exact = CORRELATE2D.exact(image, kernel, np.complex64, "valid")
    # Bound from the real parts alone: the imaginary ones must not leak into it.
    bound = CORRELATE2D.bound(image.real, kernel.real, np.float32, "valid")
    assert_within_bound(result.real, exact.real, bound, "real part")


# ----------------------------------------------------------------------------- NaN / Inf
SPECIALS = [np.nan, np.inf, -np.inf]


def finite_bound(face, x, w, dtype, *args):
    """The bound from the inputs with NaN/Inf zeroed: it only applies where the oracle is
    finite, and there the special values take no part."""
    return face.bound(np.nan_to_num(x, nan=0, posinf=0, neginf=0),
                      np.nan_to_num(w, nan=0, posinf=0, neginf=0), dtype, *args)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_nan_inf_propagate_every_lane(simd_path, dtype):
    """One special value (NaN, +Inf, -Inf) at a time, at positions whose windows cover the
    first, a middle and the last output column (so the full vectors, the remainder lanes and
    the last partial vector all see it), for output widths 1..50 (not multiples of 8/24 and
    multiples alike): the NaN/Inf pattern equals the oracle's exactly."""
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
                result = CORRELATE2D(image, kernel, "valid", workers=1)
                with np.errstate(invalid="ignore"):
                    exact = CORRELATE2D.exact(image, kernel, dtype, "valid")
                assert_within_bound(result, exact,
                                    finite_bound(CORRELATE2D, image, kernel, dtype, "valid"),
                                    f"{value} at column {col}, width {ow}, simd={simd_path}")


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
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_nan_inf_propagation(simd_path, face, dtype):
    rng = np.random.default_rng(31)
    with np.errstate(invalid="ignore", over="ignore"):
        for oh in (1, 3, 6, 9):
            for ow in (1, 2, 3, 5, 8, 13, 24, 29, 37, 67):
                kh, kw = (3, 4) if ow % 2 else (2, 1)
                for name, image, kernel in _nan_inf_cases(rng, oh, ow, kh, kw, dtype):
                    ctx = f"[{name}, simd={simd_path}, out {oh}x{ow}]"
                    result = check(face, image, kernel, dtype, "valid", workers=1, context=ctx)
                    # The cases only mean something if non-finite values reached the output.
                    assert not np.all(np.isfinite(result)), name
                    # The same with the arguments in scipy's swapped order.
                    check(face, kernel, image, dtype, "valid", workers=1,
                          context=ctx + " swapped")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_inf_combinations(simd_path, dtype):
    """Inf * 0 = NaN (a zero kernel tap over an Inf), Inf - Inf = NaN (opposite infinities in
    one window), Inf in the kernel, NaN in the kernel: as in the oracle, including in the
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
        for face in FACES_2D:
            result = face(img, ker, "valid", workers=2)
            with np.errstate(invalid="ignore"):
                exact = face.exact(img, ker, dtype, "valid")
            assert_within_bound(result, exact, finite_bound(face, img, ker, dtype, "valid"),
                                f"{name} ({face.name}, simd={simd_path})")


def test_nan_does_not_leak_into_neighbouring_outputs(simd_path):
    """A NaN poisons exactly the outputs whose window contains it (no stale register or
    scratch value carries it into the next tile, row block or call)."""
    image = np.zeros((40, 131), np.float32)
    image[20, 70] = np.nan
    kernel = np.ones((3, 3), np.float32)
    result = CORRELATE2D(image, kernel, "valid", workers=2)
    expected_nan = np.zeros(result.shape, bool)
    expected_nan[18:21, 68:71] = True
    assert np.array_equal(np.isnan(result), expected_nan)
    # The next call on clean data is clean.
    assert not np.isnan(CORRELATE2D(np.zeros((40, 131), np.float32), kernel, "valid")).any()


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", ["full", "same"])
def test_nan_inf_in_the_frame(frame, mode, boundary):
    """NaN and Inf at the corners reach the border outputs (and, for 'wrap', the opposite
    side) exactly as in the plain sum."""
    rng = np.random.default_rng(105)
    for dtype in FLOATS:
        image = random_array(rng, (12, 30), dtype)
        image[0, 0] = np.nan
        image[-1, -1] = np.inf
        image[-1, 3] = -np.inf
        kernel = random_array(rng, (3, 4), dtype)
        with np.errstate(invalid="ignore"):
            result = check(CORRELATE2D, image, kernel, dtype, mode, boundary, 2.0)
        assert np.isnan(result).any() and np.isinf(result).any()
    # A NaN fill value poisons exactly the outputs whose window leaves the image.
    image = random_array(rng, (10, 20), np.float64)
    result = CORRELATE2D(image, np.ones((3, 3)), mode, "fill", np.nan)
    inside = np.zeros(result.shape, bool)
    off = (2, 2) if mode == "full" else (1, 1)
    inside[off[0]:off[0] + 8, off[1]:off[1] + 18] = True
    assert np.array_equal(np.isnan(result), ~inside)


def test_complex_nan_inf_in_either_part():
    rng = np.random.default_rng(204)
    image = random_array(rng, (8, 12), np.complex128)
    image[2, 3] = complex(np.nan, 1.0)
    image[5, 9] = complex(1.0, np.inf)
    kernel = random_array(rng, (2, 3), np.complex128)
    with np.errstate(invalid="ignore"):
        for face in FACES_2D:
            result = face(image, kernel, "same")
            expected = face.exact(image, kernel, np.complex128, "same")
            assert_within_bound(result, expected,
                                finite_bound(face, image, kernel, np.complex128, "same"),
                                face.name)
            assert np.isnan(result.real).any() and np.isinf(result.imag).any()


def test_inf_next_to_the_window_with_leftover_taps():
    """Tap counts that leave a partial tap group: no tap is zero-padded, so samples just
    outside a window must not turn Inf * 0 into NaN."""
    rng = np.random.default_rng(306)
    for dtype, k in ((np.float32, 200), (np.float64, 100), (np.float32, 130)):
        a = random_array(rng, 3000, dtype)
        a[1500] = np.inf
        a[2999] = -np.inf
        v = random_array(rng, k, dtype)
        with np.errstate(invalid="ignore"):
            result = check(CORRELATE, a, v, dtype, "valid")
        assert np.isinf(result).any() and not np.isnan(result[:1500 - k]).any()


@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_inf_in_the_kernel_at_the_signal_ends(ends, face, mode):
    """numpy sums over the overlap only: an Inf tap of v next to an end of a meets no padding
    zero, so the output stays Inf (or finite), never NaN -- on both roads to the ends and
    whichever input is the longer."""
    rng = np.random.default_rng(307)
    for n, k in ((40, 5), (3000, 64), (6, 40)):
        a = random_array(rng, n, np.float64)
        v = random_array(rng, k, np.float64)
        v[0] = np.inf
        v[-1] = -np.inf
        for x, y in ((a, v), (v, a)):
            with np.errstate(invalid="ignore"):
                check(face, x, y, np.float64, mode, context=f"len {len(x)} with {len(y)}")
