"""method='direct' | 'separable' | 'fft' | 'auto': each method against the oracle within its
stated error bound, on every face, mode and boundary; what 'auto' picks; the errors.

The bounds are the ones the docstrings state (fastcorr._engine.methods for 'separable',
fastcorr._engine.fft for 'fft'), computed here from the kernel, with X the largest magnitude
of the extended image (which bounds the largest in each window); the oracle's own rounding is
far below them (it sums in a wider type).
"""
import math

import numpy as np
import pytest

import fastcorr
from fastcorr import ndimage as fnd
from fastcorr import _dispatch
from fastcorr._engine import fft, methods
from conftest import SUPPORTED_PATHS
from faces import CONVOLVE2D, CORRELATE2D, assert_unchanged, snapshot
import ndoracle
import oracle

BOUNDARIES = ("fill", "wrap", "symm")
MODES = ("full", "valid", "same")


def _low_rank(rng, shape, rank, dtype):
    w = sum(np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1]))
            for _ in range(rank))
    if np.dtype(dtype).kind == "c":
        w = w + 1j * sum(np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1]))
                         for _ in range(rank))
    return w.astype(dtype)


def _separable_bound(kernel, real_dtype):
    """The separable method's bound per unit of X, for a real or complex oriented kernel (a
    complex part sums two real correlations, each with its own factors)."""
    parts = (kernel.real, kernel.imag) if kernel.dtype.kind == "c" else (kernel,)
    return sum(methods.separable_bound(methods.factor(p, real_dtype), real_dtype)
               for p in parts if np.any(p))


def _real(dtype):
    return np.dtype(np.float32 if np.dtype(dtype) in (np.float32, np.complex64)
                    else np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("face", [CORRELATE2D, CONVOLVE2D], ids=repr)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_separable_within_its_bound(mode, boundary, face, dtype):
    """Ranks 1, 2 and full, kernels smaller and larger than the image, fill != 0, the
    swapped 'valid' case (in2 the larger, stored rotated)."""
    rng = np.random.default_rng(7)
    cases = [((40, 37), (5, 7), 1), ((33, 50), (9, 9), 2), ((12, 15), (4, 6), 4),
             ((6, 5), (9, 11), 2)]
    for shape, kshape, rank in cases:
        image = rng.standard_normal(shape).astype(dtype)
        if np.dtype(dtype).kind == "c":
            image = image + 1j * rng.standard_normal(shape)
        kernel = _low_rank(rng, kshape, rank, dtype)
        if mode == "valid" and (shape[0] < kshape[0] or shape[1] < kshape[1]):
            image, kernel = kernel, image  # the larger is in2: the rotated result
        snaps = snapshot(image), snapshot(kernel)
        result = face.func(image, kernel, mode, boundary, 1.5, method="separable")
        assert_unchanged(snaps[0], image, "in1")
        assert_unchanged(snaps[1], kernel, "in2")
        exact = oracle.exact(face.name, image, kernel, dtype, mode, boundary, 1.5)
        small = kernel if kernel.size <= image.size or mode != "valid" else image
        oriented = small[::-1, ::-1] if face.convolve else np.conj(small)
        x = max(np.abs(image).max(), 1.5)
        bound = _separable_bound(np.asarray(oriented), _real(dtype)) * x + 1e-30
        oracle.assert_within_bound(result, exact, bound,
                                   f"{face.name} {shape} {kshape} rank {rank}")


def test_separable_bound_is_not_vacuous():
    """A kernel whose trailing singular values lie just under the rank tolerance: they are
    dropped, the error they cause is within the bound and within 1000x of it."""
    rng = np.random.default_rng(3)
    p = 25
    u, _ = np.linalg.qr(rng.standard_normal((p, p)))
    v, _ = np.linalg.qr(rng.standard_normal((p, p)))
    tol = p * np.finfo(np.float64).eps
    s = np.r_[1.0, 0.5, np.full(p - 2, 0.5 * tol)]
    kernel = (u * s) @ v.T
    f = methods.factor(kernel, np.float64)
    assert f.rank == 2
    image = rng.standard_normal((80, 90))
    result = fastcorr.correlate2d(image, kernel, "valid", method="separable")
    exact = oracle.exact("correlate2d", image, kernel, np.float64, "valid")
    error = np.abs(result - exact.astype(np.float64)).max()
    bound = methods.separable_bound(f, np.float64) * np.abs(image).max()
    assert error <= bound
    assert error >= bound / 1000, (error, bound)


def test_separable_on_every_simd_path(simd_path):
    rng = np.random.default_rng(11)
    for dtype in (np.float32, np.float64):
        image = rng.standard_normal((70, 130)).astype(dtype)
        kernel = _low_rank(rng, (7, 13), 3, dtype)
        result = fastcorr.correlate2d(image, kernel, "same", "symm", method="separable")
        exact = oracle.exact("correlate2d", image, kernel, dtype, "same", "symm")
        bound = _separable_bound(kernel, np.dtype(dtype)) * np.abs(image).max()
        oracle.assert_within_bound(result, exact, bound, f"{simd_path} {np.dtype(dtype)}")


def test_separable_stack_of_kernels():
    """axes= with one kernel per image: each kernel factored on its own."""
    rng = np.random.default_rng(5)
    images = rng.standard_normal((3, 30, 40))
    kernels = np.stack([_low_rank(rng, (5, 6), r, np.float64) for r in (1, 2, 3)])
    result = fastcorr.correlate2d(images, kernels, "same", "wrap", axes=(1, 2),
                                  method="separable")
    for i in range(3):
        exact = oracle.exact("correlate2d", images[i], kernels[i], np.float64, "same", "wrap")
        bound = _separable_bound(kernels[i], np.dtype(np.float64)) * np.abs(images[i]).max()
        oracle.assert_within_bound(result[i], exact, bound, f"image {i}")


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_ndimage_separable(mode, dtype):
    rng = np.random.default_rng(2)
    image = rng.standard_normal((45, 52)).astype(dtype)
    kernel = _low_rank(rng, (7, 8), 2, np.float64)
    origin = (1, -2)
    result = fnd.correlate(image, kernel, mode=mode, cval=0.75, origin=origin,
                           method="separable")
    exact = ndoracle.correlate(image, kernel, mode, 0.75, origin)
    x = max(np.abs(image).max(), 0.75)
    bound = _separable_bound(kernel.astype(dtype), np.dtype(dtype)) * x
    oracle.assert_within_bound(result, exact, bound, mode)
    conv = fnd.convolve(image, kernel, mode=mode, cval=0.75, method="separable")
    oracle.assert_within_bound(
        conv, ndoracle.correlate(image, kernel[::-1, ::-1], mode, 0.75, (0, -1)), bound,
        mode + " convolve")


def test_ndimage_integer_output_with_explicit_method():
    """uint8 in and out: the float64 result truncated as scipy truncates, so within one
    unit of scipy's exact values (equal except within rounding of an integer)."""
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (60, 70)).astype(np.uint8)
    kernel = np.outer([1, 4, 6, 4, 1], [1, 2, 1]) / 64.0
    expected = scipy_ndimage.correlate(image, kernel)
    for method in ("separable", "fft", "auto", "direct"):
        result = fnd.correlate(image, kernel, method=method)
        assert result.dtype == np.uint8
        diff = np.abs(result.astype(int) - expected.astype(int))
        if method in ("auto", "direct"):
            assert not diff.any(), method  # scipy's exact arithmetic
        else:
            assert diff.max() <= 1, method


def test_ndimage_3d_kernel_methods():
    volume = np.ones((6, 7, 8))
    with pytest.raises(NotImplementedError, match="method='separable'"):
        fnd.correlate(volume, np.ones((3, 3, 3)), method="separable")
    with pytest.raises(NotImplementedError, match="method='fft'"):
        fnd.correlate(volume, np.ones((3, 3, 3)), method="fft")
    np.testing.assert_allclose(fnd.correlate(volume, np.ones((3, 3, 3)), method="auto"),
                               27.0)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("func", [fastcorr.correlate2d, fastcorr.convolve2d])
def test_bad_method_2d(func):
    with pytest.raises(ValueError, match="method must be one of"):
        func(np.ones((4, 4)), np.ones((2, 2)), method="winograd")
    with pytest.raises(ValueError, match="method must be one of"):
        func(np.ones((4, 4)), np.ones((2, 2)), method=None)
    with pytest.raises(ValueError, match="in2 holds NaN or Inf"):
        func(np.ones((4, 4)), np.array([[1.0, np.nan], [0, 1]]), method="separable")


@pytest.mark.parametrize("func", [fastcorr.correlate, fastcorr.convolve])
def test_bad_method_1d(func):
    with pytest.raises(ValueError, match="method must be one of"):
        func(np.ones(8), np.ones(3), method="overlap-add")
    with pytest.raises(ValueError, match="method='separable' factors 2-D kernels"):
        func(np.ones(8), np.ones(3), method="separable")


def test_bad_method_ndimage():
    with pytest.raises(ValueError, match="method must be one of"):
        fnd.correlate(np.ones((4, 4)), np.ones((3, 3)), method="sep")


def test_all_methods_agree_on_nan_kernel_direct():
    """A NaN tap under 'auto': computed directly (no SVD of a NaN kernel), NaN everywhere
    every window reads it, as direct gives."""
    image = np.ones((300, 300))
    kernel = np.ones((31, 31))
    kernel[3, 4] = np.nan
    result = fastcorr.correlate2d(image, kernel, "valid")
    assert np.isnan(result).all()


# --------------------------------------------------------------------------- what 'auto' picks
def _gaussian(k, dtype=np.float32):
    g = np.exp(-0.5 * ((np.arange(k) - k // 2) / (k / 6)) ** 2)
    return np.outer(g, g).astype(dtype) / np.float32(g.sum() ** 2)


def test_auto_picks_by_kernel():
    rng = np.random.default_rng(0)
    image = rng.standard_normal((1024, 1024)).astype(np.float32)
    assert fastcorr.choose_method(image, _gaussian(31), "same", "symm") == "separable"
    assert fastcorr.choose_method(image, _low_rank(rng, (25, 25), 2, np.float32),
                                  "same") == "separable"
    assert fastcorr.choose_method(image, rng.standard_normal((9, 9)).astype(np.float32),
                                  "valid") == "direct"
    assert fastcorr.choose_method(image[:64, :64], _gaussian(31), "same") == "direct"


def test_auto_never_fft_with_nan():
    rng = np.random.default_rng(1)
    image = rng.standard_normal((1024, 1024)).astype(np.float32)
    kernel = rng.standard_normal((101, 101)).astype(np.float32)
    assert fastcorr.choose_method(image, kernel, "valid") == "fft"
    image[500, 500] = np.nan
    assert fastcorr.choose_method(image, kernel, "valid") == "direct"
    image[500, 500] = np.inf
    assert fastcorr.choose_method(image, kernel, "valid") == "direct"


@pytest.mark.parametrize("k", [3, 9, 31, 65, 101])
def test_nan_stays_local_under_auto(k):
    """At every kernel size, 'auto' keeps a NaN in the windows that read it."""
    rng = np.random.default_rng(k)
    image = rng.standard_normal((400, 420)).astype(np.float32)
    image[200, 210] = np.nan
    kernel = rng.standard_normal((k, k)).astype(np.float32)
    result = fastcorr.correlate2d(image, kernel, "valid")
    nan = np.zeros(result.shape, bool)
    nan[max(200 - k + 1, 0):201, max(210 - k + 1, 0):211] = True
    np.testing.assert_array_equal(np.isnan(result), nan)
    signal = rng.standard_normal(200_000).astype(np.float32)
    signal[1000] = np.nan
    taps = rng.standard_normal(k * 40).astype(np.float32)
    out = fastcorr.correlate(signal, taps)
    nan1 = np.zeros(out.shape, bool)
    nan1[max(1000 - len(taps) + 1, 0):1001] = True
    np.testing.assert_array_equal(np.isnan(out), nan1)


def test_choose_method_small_problems_are_direct():
    assert fastcorr.choose_method(np.ones((16, 16)), np.ones((3, 3))) == "direct"
    assert fastcorr.choose_method(np.ones(100), np.ones(5), "valid") == "direct"


def test_error_factor_respected(monkeypatch):
    """'auto' separates a Gaussian only while the separable bound is within ERROR_FACTOR of
    direct's: with the factor made smaller than the actual ratio it computes directly."""
    image = np.random.default_rng(9).standard_normal((1024, 1024)).astype(np.float32)
    kernel = _gaussian(31)
    f = methods.factor(kernel, np.float32)
    ratio = methods.separable_bound(f, np.float32) / methods.direct_bound(kernel, np.float32)
    assert ratio < 1  # non-negative factors: fewer roundings than direct
    assert fastcorr.choose_method(image, kernel, "same") == "separable"
    monkeypatch.setattr(methods, "ERROR_FACTOR", ratio / 2)
    assert fastcorr.choose_method(image, kernel, "same") == "direct"


# --------------------------------------------------------------------------- fft on the faces
def _fft_bound(kernel, out_core, real_dtype, x_max, complex_parts):
    """fft.py's bound for every tile of this call: |w|_2 * sqrt(L) * X per part, two real
    correlations per complex part."""
    from fastcorr._engine import fft
    _, fft_shape = fft.tile_plan(out_core, kernel.shape, real_dtype)
    points = math.prod(fft_shape)
    return (2 if complex_parts else 1) * fft.bound_factor(points, real_dtype) * float(
        np.linalg.norm(np.abs(kernel).ravel())) * math.sqrt(points) * x_max


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("face", [CORRELATE2D, CONVOLVE2D], ids=repr)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_fft_within_its_bound_2d(mode, boundary, face, dtype):
    rng = np.random.default_rng(17)
    for shape, kshape in (((40, 37), (5, 7)), ((33, 50), (9, 9)), ((6, 5), (9, 11))):
        image = rng.standard_normal(shape).astype(dtype)
        kernel = rng.standard_normal(kshape).astype(dtype)
        if np.dtype(dtype).kind == "c":
            image = image + 1j * rng.standard_normal(shape).astype(dtype)
            kernel = kernel + 1j * rng.standard_normal(kshape).astype(dtype)
        if mode == "valid" and (shape[0] < kshape[0] or shape[1] < kshape[1]):
            image, kernel = kernel, image
        snaps = snapshot(image), snapshot(kernel)
        result = face.func(image, kernel, mode, boundary, 1.5, method="fft")
        assert_unchanged(snaps[0], image, "in1")
        assert_unchanged(snaps[1], kernel, "in2")
        exact = oracle.exact(face.name, image, kernel, dtype, mode, boundary, 1.5)
        small = kernel if kernel.size <= image.size or mode != "valid" else image
        x = max(np.abs(image).max(), 1.5)
        bound = _fft_bound(np.asarray(small), result.shape, _real(dtype), x,
                           np.dtype(dtype).kind == "c")
        oracle.assert_within_bound(result, exact, bound, f"{face.name} {shape} {kshape}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_fft_within_its_bound_1d(mode, name, dtype):
    rng = np.random.default_rng(23)
    func = getattr(fastcorr, name)
    for n, k in ((1000, 37), (50, 301), (5000, 2049)):
        a = rng.standard_normal(n).astype(dtype)
        v = rng.standard_normal(k).astype(dtype)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(n)
            v = v + 1j * rng.standard_normal(k)
        result = func(a, v, mode, method="fft")
        exact = oracle.exact(name, a, v, dtype, mode)
        small = v if k <= n else a
        bound = _fft_bound(small, result.shape, _real(dtype), np.abs(a).max(),
                           np.dtype(dtype).kind == "c") if k <= n else _fft_bound(
            small, result.shape, _real(dtype), np.abs(v).max(), np.dtype(dtype).kind == "c")
        oracle.assert_within_bound(result, exact, bound, f"{name} {n} {k} {mode}")


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_ndimage_fft(mode):
    rng = np.random.default_rng(29)
    image = rng.standard_normal((45, 52)).astype(np.float32)
    kernel = rng.standard_normal((7, 8))
    result = fnd.correlate(image, kernel, mode=mode, cval=0.75, origin=(1, -2), method="fft")
    exact = ndoracle.correlate(image, kernel, mode, 0.75, (1, -2))
    bound = _fft_bound(kernel, image.shape, np.dtype(np.float32),
                       max(np.abs(image).max(), 0.75), False)
    oracle.assert_within_bound(result, exact, bound, mode)


def test_fft_spreads_nan_explicitly_but_auto_does_not():
    """The documented difference: an explicit 'fft' turns a tile NaN; 'auto' never runs it on
    NaN input, so the same call keeps the NaN local."""
    rng = np.random.default_rng(31)
    image = rng.standard_normal((300, 300))
    image[10, 10] = np.nan
    kernel = rng.standard_normal((5, 5))
    assert np.isnan(fastcorr.correlate2d(image, kernel, "valid", method="fft")).sum() > 36
    assert np.isnan(fastcorr.correlate2d(image, kernel, "valid")).sum() == 25


def test_auto_keeps_nan_local_when_another_thread_meets_it():
    """An image large enough that its FFT tiles go to two threads (the calling one and a
    kept one, fft._pool), with a NaN only in the tile the other thread transforms: 'auto'
    picks the FFT, the other thread meets the NaN, and the call computes directly."""
    rng = np.random.default_rng(37)
    image = rng.standard_normal((700, 700))
    kernel = rng.standard_normal((45, 45))
    assert fastcorr.choose_method(image, kernel, "valid", workers=2) == "fft"
    tiles, _ = fft.tile_plan((656, 656), (45, 45), np.dtype(np.float64), 2)
    assert tiles[0] < 656 and tiles[1] == 656  # two tiles, one a thread
    image[690, 300] = np.nan  # in the second tile's rows only
    result = fastcorr.correlate2d(image, kernel, "valid", workers=2)
    assert np.isnan(result).sum() == (655 - (690 - 44) + 1) * 45  # the windows that read it
    np.testing.assert_array_equal(
        result, fastcorr.correlate2d(image, kernel, "valid", workers=2, method="direct"))


# --------------------------------------------------------------------------- 'auto', any problem
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _auto_problems(draw):
    m, n = draw(st.integers(8, 90)), draw(st.integers(8, 90))
    # Small kernels and large ones, where the FFT takes over.
    side = st.one_of(st.integers(2, 16), st.integers(35, 60))
    p, q = draw(side), draw(side)
    rank = draw(st.sampled_from([1, 2, None]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((m, n)).astype(dtype)
    kernel = (_low_rank(rng, (p, q), rank, dtype) if rank else
              rng.standard_normal((p, q)).astype(dtype))
    return {"image": image, "kernel": kernel, "mode": draw(st.sampled_from(MODES)),
            "boundary": draw(st.sampled_from(BOUNDARIES)),
            "convolve": draw(st.booleans())}


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(pb=_auto_problems())
def test_auto_within_the_bound_of_what_it_picks(pb, monkeypatch_module):
    """With the small-problem shortcut off, 'auto' weighs every method on small problems; its
    result lies within the bound of the method choose_method reports (direct's per output,
    separable's and fft's as stated)."""
    image, kernel, mode = pb["image"], pb["kernel"], pb["mode"]
    if mode == "valid" and (image.shape[0] < kernel.shape[0] or
                            image.shape[1] < kernel.shape[1]):
        mode = "same"
    face = CONVOLVE2D if pb["convolve"] else CORRELATE2D
    # One thread: these images are one FFT tile, which 'auto' picks only where no thread
    # would idle (see fft.idle_factor).
    workers = 1
    picked = fastcorr.choose_method(image, kernel, mode, pb["boundary"], 0.5,
                                    convolve=pb["convolve"], workers=workers)
    result = face.func(image, kernel, mode, pb["boundary"], 0.5, workers=workers)
    np.testing.assert_array_equal(
        result, face.func(image, kernel, mode, pb["boundary"], 0.5, method=picked,
                          workers=workers))
    exact = oracle.exact(face.name, image, kernel, image.dtype, mode, pb["boundary"], 0.5)
    x = max(np.abs(image).max(), 0.5)
    oriented = kernel[::-1, ::-1] if pb["convolve"] else kernel
    if picked == "direct":
        bound = oracle.error_bound(face.name, image, kernel, image.dtype, mode, pb["boundary"],
                                   0.5)
    elif picked == "separable":
        bound = _separable_bound(oriented, image.dtype) * x
    else:
        bound = _fft_bound(kernel, result.shape, image.dtype, x, False)
    oracle.assert_within_bound(result, exact, bound, f"auto picked {picked}")


@pytest.fixture(scope="module")
def monkeypatch_module():
    """AUTO_MIN_FMAS at 0 for the module's hypothesis test (a function-scoped monkeypatch
    does not mix with @given)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(methods, "AUTO_MIN_FMAS", 0)
    yield patch
    patch.undo()


def test_auto_picks_every_method_on_small_problems(monkeypatch):
    """The hypothesis test above sees all three methods: with the shortcut off, small
    problems already cross both crossovers (the FFT's on one thread)."""
    monkeypatch.setattr(methods, "AUTO_MIN_FMAS", 0)
    rng = np.random.default_rng(0)
    image = rng.standard_normal((70, 70))
    assert fastcorr.choose_method(image, rng.standard_normal((3, 3))) == "direct"
    assert fastcorr.choose_method(image, _gaussian(25, np.float64), "same") == "separable"
    # One thread: on more, the image's one FFT tile would leave all but one idle (see
    # fft.idle_factor), and direct is predicted faster.
    assert fastcorr.choose_method(image, rng.standard_normal((50, 50)), "same",
                                  workers=1) == "fft"


@pytest.fixture
def calls(monkeypatch):
    """The choices 'auto' makes afresh (calls of methods._choose), from empty memories."""
    made = []
    real = methods._choose
    monkeypatch.setattr(methods, "_choose", lambda *a: made.append(1) or real(*a))
    monkeypatch.setattr(methods, "_CHOICES", {})
    monkeypatch.setattr(methods, "_LARGE_CHOICE", [None])
    return made


@pytest.mark.parametrize("side", [25, 101], ids=["kept by kernel", "large, one kept"])
def test_auto_remembers_its_choice(monkeypatch, calls, side):
    """'auto' decides once for repeated calls with one kernel and geometry (its values in
    another array too), and again when the kernel's values change in place, or the threads
    or the model.  Kernels past _MAX_CHOICE_BYTES are remembered one at a time."""
    large = side == 101
    rng = np.random.default_rng(12)
    image = rng.standard_normal((96, 96) if large else (256, 256))
    kernel = _gaussian(side, np.float64)
    assert (kernel.nbytes > methods._MAX_CHOICE_BYTES) == large
    assert fastcorr.choose_method(image, kernel, "same", workers=1) == "separable"
    first = fastcorr.correlate2d(image, kernel, "same", workers=1)
    np.testing.assert_array_equal(
        first, fastcorr.correlate2d(image, kernel.copy(), "same", workers=1))
    assert len(calls) == 1
    kernel[...] = rng.standard_normal(kernel.shape)
    assert fastcorr.choose_method(image, kernel, "same", workers=1) != "separable"
    assert len(calls) == 2
    # The first kernel's values again, in another array: the first choice, and its result
    # (a large kernel's decided again: the random one's replaced it).
    np.testing.assert_array_equal(
        first, fastcorr.correlate2d(image, _gaussian(side, np.float64), "same", workers=1))
    assert len(calls) == (3 if large else 2)
    fastcorr.choose_method(image, kernel, "same", workers=2)
    assert len(calls) == (4 if large else 3)
    monkeypatch.setattr(methods, "ERROR_FACTOR", 0.0)  # nothing but direct qualifies
    assert fastcorr.choose_method(image, kernel, "same", workers=2) == "direct"
    assert len(calls) == (5 if large else 4)
    # Every setting the FFT's predicted time depends on is part of the choice.
    for name, value in [("FFT_LEN_SLACK", 1.0), ("CHUNK_BYTES", 1 << 10),
                        ("THREADS_MIN_POINTS", 0), ("BACKEND_THREADS_MIN_POINTS", 0),
                        ("BACKEND_THREAD_SPEEDUP", 1.0)]:
        before = len(calls)
        monkeypatch.setattr(fft, name, value)
        fastcorr.choose_method(image, kernel, "same", workers=2)
        assert len(calls) == before + 1, name
    # And so are the path whose table it reads and whether that table is calibrated.
    before = len(calls)
    monkeypatch.setenv("FASTCORR_AUTO_CALIBRATE", "1")
    fastcorr.choose_method(image, kernel, "same", workers=2)
    assert len(calls) == before + 1
    others = [p for p in SUPPORTED_PATHS if p != _dispatch.active()]
    if others:
        previous = _dispatch.active()
        _dispatch.select(others[0])
        try:
            fastcorr.choose_method(image, kernel, "same", workers=2)
        finally:
            _dispatch.select(previous)
        assert len(calls) == before + 2


def test_explicit_separable_remembers_factors(monkeypatch):
    """method='separable' factors a kernel once for repeated calls (as 'auto' does), and
    again when the kernel's values change, also in place."""
    calls = []
    real = methods.factor
    monkeypatch.setattr(methods, "factor", lambda *a, **k: calls.append(1) or real(*a, **k))
    methods._FACTORS.clear()
    rng = np.random.default_rng(11)
    image = rng.standard_normal((40, 50))
    kernel = _low_rank(rng, (7, 5), 2, np.float64)
    first = fastcorr.correlate2d(image, kernel, "same", method="separable")
    again = fastcorr.correlate2d(image, kernel, "same", method="separable")
    assert len(calls) == 1
    np.testing.assert_array_equal(first, again)
    kernel[3, 2] += 1.0
    changed = fastcorr.correlate2d(image, kernel, "same", method="separable")
    assert len(calls) == 2
    exact = oracle.exact("correlate2d", image, kernel, np.float64, "same")
    # The separable bound of a float64 rank-2 kernel: well under 1e-12 of sum|w| max|x|.
    np.testing.assert_allclose(changed, exact,
                               rtol=0, atol=1e-12 * np.abs(kernel).sum() * np.abs(image).max())


# --------------------------------------------------------------------------- calibration
def _fresh_costs(path, item, one_d, calibrate):
    """A cost model made anew, past the process's cache (which keeps its real calibration)."""
    return methods._costs_of.__wrapped__(path, item, one_d, calibrate)


def _probes_times(factors):
    """A probe_times that reports the avx2 table's own probes times `factors`."""
    def probe_times(dtype, one_d):
        ref = methods._MEASURED[("avx2", np.dtype(dtype).itemsize)]["probes"]
        names = ("direct_1d", "fft_1d") if one_d else ("direct", "separable", "fft")
        return {k: ref[k] * factors.get(k, 1.0) for k in names}
    return probe_times


def test_calibration_scales_each_method_by_its_probe(monkeypatch):
    factors = {"direct": 3.0, "separable": 2.0, "fft": 0.5, "direct_1d": 4.0, "fft_1d": 0.25}
    monkeypatch.setattr(methods, "probe_times", _probes_times(factors))
    for one_d in (False, True):
        plain, none = _fresh_costs("avx2", 8, one_d, False)
        scaled, scales = _fresh_costs("avx2", 8, one_d, True)
        assert none is None
        names = ("direct_1d", "fft_1d") if one_d else ("direct", "separable", "fft")
        assert scales == pytest.approx({k: factors[k] for k in names})
        for k in (2, 3, 9, 31, 64, 300):
            shape = (k,) if one_d else (k, k)
            assert scaled.direct(shape) == pytest.approx(factors[names[0]] * plain.direct(shape))
            if not one_d:
                assert scaled.separable(2, shape) == pytest.approx(2 * plain.separable(2, shape))
        fft_shape = (16384,) if one_d else (512, 512)
        assert scaled.fft(fft_shape, 3) == pytest.approx(factors[names[-1]] * plain.fft(fft_shape, 3))


def test_calibration_moves_the_crossovers(monkeypatch):
    """A machine whose FMA units are slower against its FFT than the table's hands over to
    the FFT at smaller kernels, in show_config and in what 'auto' picks."""
    monkeypatch.setattr(methods, "ERROR_FACTOR", float("inf"))

    def machine(factors):
        monkeypatch.setattr(methods, "probe_times", _probes_times(factors))
        monkeypatch.setattr(methods, "_costs", lambda dtype, one_d: _fresh_costs(
            "avx2", dtype.itemsize, one_d, True)[0])

    machine({})
    as_measured = methods.crossovers("float32")["fft_2d_from"]
    machine({"direct": 2.0})
    k = methods.crossovers("float32")["fft_2d_from"]
    assert k < as_measured
    image = np.random.default_rng(3).standard_normal((2048, 2048)).astype(np.float32)
    kernel = np.random.default_rng(4).random((k, k)).astype(np.float32)
    assert fastcorr.choose_method(image, kernel, "valid") == "fft"
    machine({})
    assert fastcorr.choose_method(image, kernel, "valid") == "direct"


def test_calibration_off_and_tables_without_probes_never_probe(monkeypatch):
    def no_probes(dtype, one_d):
        raise AssertionError("probed")
    monkeypatch.setattr(methods, "probe_times", no_probes)
    for item in (4, 8):  # every table in the source has probes: a table as one without
        table = dict(methods._MEASURED[("avx512", item)])
        del table["probes"]
        monkeypatch.setitem(methods._MEASURED, ("avx512", item), table)
    assert _fresh_costs("avx512", 4, False, True)[1] is None
    assert _fresh_costs("avx512", 8, True, True)[1] is None
    monkeypatch.setenv("FASTCORR_AUTO_CALIBRATE", "0")
    image = np.random.default_rng(5).standard_normal((1024, 1024)).astype(np.float32)
    assert fastcorr.choose_method(image, _gaussian(31), "same") == "separable"
    assert "used as measured" in methods.cost_table_source()
    assert methods.calibration("float32") is None


def test_calibrated_auto_end_to_end(monkeypatch):
    """With calibration on (the default outside the suite), the first decision times the real
    probes on this machine's path, show_config reports their ratios, and a call that 'auto'
    decides computes the correlation whatever it picked."""
    monkeypatch.setenv("FASTCORR_AUTO_CALIBRATE", "1")
    has_probes = "probes" in methods._MEASURED.get((methods._core.active_path(), 4),
                                                  methods._MEASURED[("avx2", 4)])
    ratios = fastcorr.show_config(mode="dicts")["methods"]["calibration"]["float32"]
    if has_probes:
        assert set(ratios) == set(methods._MEASURED[("avx2", 4)]["probes"])
        assert all(0 < r < 1e3 for r in ratios.values()), ratios
    else:
        assert ratios is None
    rng = np.random.default_rng(12)
    image = rng.standard_normal((300, 280)).astype(np.float32)
    kernel = _gaussian(31)
    picked = fastcorr.choose_method(image, kernel, "same", "symm")
    result = fastcorr.correlate2d(image, kernel, "same", "symm")
    exact = oracle.exact("correlate2d", image, kernel, np.float32, "same", "symm")
    # The bound of whichever method ran: direct's (its separable one is below it for a
    # Gaussian) or the FFT's for this call's tiles.
    x_max = float(np.abs(image).max())
    bound = max(methods.direct_bound(kernel, np.float32) * x_max,
                _fft_bound(kernel, image.shape, np.float32, x_max, False))
    assert np.abs(result - exact).max() <= bound, picked


def test_probes_match_the_tables():
    """The probes the calibration runs are the ones recorded with the tables (a renamed or
    added probe without its reference would be a KeyError at a user's first call)."""
    for dtype in (np.float32, np.float64):
        times = {**methods.probe_times(dtype, False, repeats=1),
                 **methods.probe_times(dtype, True, repeats=1)}
        assert all(0 < t < 1e6 for t in times.values()), times
        for table in methods._MEASURED.values():
            if "probes" in table:
                assert set(table["probes"]) == set(times)


@pytest.mark.parametrize("rule", ["symm", "mirror", "fill", "wrap", "nearest"])
def test_separable_transposed_passes_agree(simd_path, rule):
    """float32 row kernels of 11 taps and more run both fused passes transposed where the path
    has fc_colt (AVX-512): every boundary rule's runs of extended columns (mirrored runs
    shorter and longer than a vector, runs of one column, fill columns that take the term's
    t_fill), blocks smaller than a vector moved back inside the output (bands of 1 and 5 rows,
    chunks of 7 and 17 columns), sums of two terms, rows 4 KiB apart, and the extended rows
    built for the top and bottom bands give the same bits whatever the blocks, and match
    float64 passes within the rounding bound of test_separable_core_blocks_and_streamed_rows_agree
    (summed over the terms).  Other paths (and shapes narrower than a vector) run the column
    block and the 1-D kernel: the same checks hold there."""
    from fastcorr import _core
    from fastcorr._engine.boundary import index_map

    rng = np.random.default_rng(11)
    eps = np.finfo(np.float32).eps
    fill = 0.75
    for n_img, m, n, col_k, row_k, n_terms in [(1, 40, 70, 5, 11, 1), (2, 17, 300, 33, 33, 1),
                                               (1, 33, 1024, 9, 40, 2), (1, 20, 16, 3, 12, 1),
                                               (1, 50, 100, 1, 21, 2)]:
        x = rng.standard_normal((n_img, m, n)).astype(np.float32)
        cw = rng.standard_normal((n_terms, col_k)).astype(np.float32)
        rw = rng.standard_normal((n_terms, row_k)).astype(np.float32)
        t_fill = fill * cw.astype(np.float64).sum(axis=1)
        rowmap = index_map(-(col_k // 2), m + col_k - 1 - col_k // 2, m, rule)
        colmap = index_map(-(row_k // 2), n + row_k - 1 - row_k // 2, n, rule)
        results = []
        for band_rows, chunk_cols in [(0, 0), (5, 17), (1, 7), (48, 2048)]:
            base = np.full((n_img, m + 1, n + 7), np.nan, np.float32)
            out = base[:, 1:, 3:3 + n]
            _core.correlate_separable(x, cw, rw, out, rowmap, colmap, fill, t_fill, 2,
                                      band_rows=band_rows, chunk_cols=chunk_cols)
            assert np.isnan(base[:, 0]).all() and np.isnan(base[:, :, :3]).all()
            assert np.isnan(base[:, :, 3 + n:]).all()
            results.append(out.copy())
        for other in results[1:]:
            np.testing.assert_array_equal(other, results[0])
        xd = np.where(rowmap[None, :, None] >= 0, x.astype(np.float64)[:, rowmap], fill)
        ref = np.zeros((n_img, m, n))
        bound = 0.0
        for k in range(n_terms):
            t = sum(float(cw[k, a]) * xd[:, a:a + m] for a in range(col_k))
            te = np.where(colmap >= 0, t[:, :, colmap], t_fill[k])
            ref += sum(float(rw[k, b]) * te[:, :, b:b + n] for b in range(row_k))
            bound += ((col_k + row_k + 2) * eps * np.abs(cw[k]).sum() * np.abs(rw[k]).sum()
                      * max(np.abs(x).max(), fill))
        assert np.abs(results[0] - ref).max() <= bound, (rule, m, n, col_k, row_k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_separable_core_blocks_and_streamed_rows_agree(simd_path, dtype):
    """The fused passes (`_core.correlate_separable`) give the same bits whatever the blocks
    (band heights, chunk widths, the automatic shape) and whether the output rows are stored
    non-temporally (forced here with a threshold of 0 bytes; by default only outputs of
    `_core.stream_min_bytes()` and more are), into outputs that start anywhere in a cache
    line; and
    they match two float64 passes of NumPy within the passes' rounding: each output sums
    col_k + row_k products, |error| <= (col_k + row_k + 2) * eps * sum|cw| * sum|rw| * max|x|.
    Column kernels taller than every path's small block (9..41 taps) take the column block."""
    from fastcorr import _core

    rng = np.random.default_rng(5)
    eps = np.finfo(dtype).eps
    for n_img, m, n, col_k, row_k in [(1, 37, 53, 9, 3), (2, 61, 300, 33, 33), (1, 130, 1100, 41, 1),
                                       (3, 24, 17, 1, 12), (1, 45, 777, 10, 9)]:
        x = rng.standard_normal((n_img, m, n)).astype(dtype)
        cw = rng.standard_normal((1, col_k)).astype(dtype)
        rw = rng.standard_normal((1, row_k)).astype(dtype)
        # 'reflect' maps for both passes, as the ndimage filters build them.
        rowmap = np.abs(np.arange(m + col_k - 1) - col_k // 2)
        rowmap = np.where(rowmap >= m, 2 * m - 1 - rowmap, rowmap).astype(np.intp)
        colmap = np.abs(np.arange(n + row_k - 1) - row_k // 2)
        colmap = np.where(colmap >= n, 2 * n - 1 - colmap, colmap).astype(np.intp)
        inputs = {"x": (x, snapshot(x)), "cw": (cw, snapshot(cw)), "rw": (rw, snapshot(rw))}
        results = []
        for band_rows, chunk_cols, stream in [(24, 0, False), (24, 0, True), (5, 64, True),
                                              (48, 2048, False), (1, 17, True)]:
            # A row stride and start that are not whole cache lines.
            base = np.full((n_img, m + 1, n + 7), np.nan, dtype)
            out = base[:, 1:, 3:3 + n]
            _core.correlate_separable(x, cw, rw, out, rowmap, colmap, 0.0, np.zeros(1), 2,
                                      band_rows=band_rows, chunk_cols=chunk_cols,
                                      stream_min_bytes=0 if stream else 1 << 62)
            assert np.isnan(base[:, 0]).all() and np.isnan(base[:, :, :3]).all()
            assert np.isnan(base[:, :, 3 + n:]).all()
            results.append(out.copy())
        for name, (a, snap) in inputs.items():
            assert_unchanged(snap, a, name)
        for other in results[1:]:
            np.testing.assert_array_equal(other, results[0])
        xd = x.astype(np.float64)
        t = sum(float(cw[0, a]) * xd[:, rowmap[a:a + m]] for a in range(col_k))
        ref = sum(float(rw[0, b]) * t[:, :, colmap[b:b + n]] for b in range(row_k))
        bound = (col_k + row_k + 2) * eps * np.abs(cw).sum() * np.abs(rw).sum() * np.abs(x).max()
        assert np.abs(results[0] - ref).max() <= bound, (m, n, col_k, row_k)
