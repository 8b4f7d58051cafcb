"""The core's 3-D correlation (`_core.correlate_volume`) against a pure-NumPy oracle written
apart from it (np.pad with the rule, then a loop over the kernel's taps) and scipy.ndimage.

Tolerance: an output is a sum of K = kd * kh * kw products (plus, for 'fill', products with
the fill value).  Whatever order the core sums them in, recursive summation in a dtype of
machine epsilon eps errs by at most about K * eps/2 * sum|w||x| over the window (each product
rounded once, or not at all under FMA, and each of the K - 1 additions once); we allow
K * eps * sum|w||x|, computed by running the oracle on |x|, |w| and |fill|.  The oracle itself
sums in float64 (from the same, exactly converted, inputs), whose error is negligible against
float32's bound and within the bound for float64.  scipy.ndimage computes float32 input in
float64 and rounds the result to float32: one more rounding, eps32/2 * |result|.
"""
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi

from fastcorr import _core
from fastcorr._engine.boundary import index_map

RULES = ["fill", "symm", "mirror", "nearest", "wrap"]
NP_PAD = {"fill": "constant", "symm": "symmetric", "mirror": "reflect", "nearest": "edge",
          "wrap": "wrap"}
SCIPY_MODE = {"fill": "constant", "symm": "reflect", "mirror": "mirror", "nearest": "nearest",
              "wrap": "grid-wrap"}
FILL = 1.5  # exact in float32, and not zero, so that planes of fill are seen

# (volume shape, kernel shape): odd and even sizes, kd = 1 and D = 1, H = 1, kernels larger
# than the volume along one or every axis, rows wide enough for an interior read in place
# beside side bands, and (with a small block budget) several blocks of rows and columns.
CASES = [
    ((7, 9, 11), (3, 4, 5)),
    ((6, 8, 40), (2, 3, 3)),
    ((1, 12, 37), (1, 5, 5)),
    ((4, 10, 19), (1, 3, 2)),
    ((3, 5, 6), (5, 7, 9)),
    ((2, 33, 70), (4, 2, 6)),
    ((5, 1, 20), (3, 1, 4)),
    ((9, 20, 150), (3, 3, 3)),
    ((5, 17, 96), (5, 5, 5)),
]


def oracle(x, w, rule, origins, fill):
    """Correlation of volume x (D, H, W) with w (kd, kh, kw), same-size, in float64: x padded
    by np.pad with the rule (k // 2 + origin before each axis), then one shifted slice per
    tap."""
    pads = []
    for k, o in zip(w.shape, origins):
        before = k // 2 + o
        pads.append((before, k - 1 - before))
    extra = {"constant_values": fill} if rule == "fill" else {}
    padded = np.pad(np.asarray(x, np.float64), pads, mode=NP_PAD[rule], **extra)
    d, h, wd = x.shape
    out = np.zeros(x.shape)
    for c, a, b in itertools.product(*map(range, w.shape)):
        out += float(w[c, a, b]) * padded[c:c + d, a:a + h, b:b + wd]
    return out


def maps_for(shape, kshape, rule, origins):
    """The core's plane, row and column maps for a same-size result."""
    return [index_map(-(k // 2 + o), -(k // 2 + o) + n + k - 1, n, rule)
            for n, k, o in zip(shape, kshape, origins)]


def bound(x, w, rule, origins, fill, eps):
    """K * eps * sum|w||x| per output (see the module docstring)."""
    absolute = oracle(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)),
                      rule, origins, abs(fill))
    return w.size * eps * absolute + np.finfo(np.float64).tiny


def random_origins(rng, kshape):
    return tuple(int(rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in kshape)


def run(x, w, rule, origins, fill, n_threads=2, out=None, **kwargs):
    """x (B, D, H, W), w (1 or B, kd, kh, kw): the core's result."""
    if out is None:
        out = np.full(x.shape, np.nan, x.dtype)
    maps = maps_for(x.shape[1:], w.shape[1:], rule, origins)
    _core.correlate_volume(x, w, out, *maps, fill, n_threads, **kwargs)
    return out


@pytest.mark.parametrize("block_bytes", [_core.L2_BUDGET_BYTES, 0],
                         ids=["blocks=L2", "blocks=smallest"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_against_oracle(simd_path, rule, dtype, block_bytes):
    rng = np.random.default_rng(14)
    eps = np.finfo(dtype).eps
    for shape, kshape in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        w = rng.standard_normal(kshape).astype(dtype)
        for origins in [(0, 0, 0), random_origins(rng, kshape)]:
            got = run(x[None], w[None], rule, origins, FILL, block_bytes=block_bytes)[0]
            want = oracle(x, w, rule, origins, FILL)
            err = np.abs(got - want)
            assert np.all(err <= bound(x, w, rule, origins, FILL, eps)), (
                f"{shape} {kshape} origin {origins}: max error {err.max()}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_against_scipy_ndimage(rule, dtype):
    rng = np.random.default_rng(5)
    eps = np.finfo(dtype).eps
    for shape, kshape in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        w = rng.standard_normal(kshape).astype(dtype)
        origins = random_origins(rng, kshape)
        got = run(x[None], w[None], rule, origins, FILL)[0]
        want = ndi.correlate(x, w, mode=SCIPY_MODE[rule], cval=FILL, origin=origins)
        assert want.dtype == dtype
        tol = bound(x, w, rule, origins, FILL, eps) + eps / 2 * np.abs(want)
        err = np.abs(got.astype(np.float64) - want)
        assert np.all(err <= tol), f"{shape} {kshape} origin {origins}: max error {err.max()}"


@pytest.mark.parametrize("shared", [True, False], ids=["w shared", "w per volume"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_and_strided_views(simd_path, dtype, shared):
    """B = 3 volumes, read through a view with gaps between planes, reversed rows and an offset,
    written into an output view with gaps of its own (left untouched)."""
    rng = np.random.default_rng(3)
    b, shape, kshape = 3, (6, 13, 45), (3, 5, 4)
    values = rng.standard_normal((b,) + shape).astype(dtype)
    buf = np.full((b, 2 * shape[0], shape[1], shape[2] + 3), np.nan, dtype)
    x = buf[:, ::2, ::-1, 3:]
    x[...] = values
    assert x.strides[2] < 0 and not x.flags.c_contiguous
    w = rng.standard_normal((1 if shared else b,) + kshape).astype(dtype)
    before = (x.copy(), w.copy())
    out_buf = np.full((b, shape[0], 2 * shape[1], shape[2] + 1), -7.0, dtype)
    out = out_buf[:, :, ::2, 1:]
    origins = (1, -2, 0)
    for rule in RULES:
        run(x, w, rule, origins, FILL, out=out)
        for i in range(b):
            wi = w[0 if shared else i]
            want = oracle(values[i], wi, rule, origins, FILL)
            err = np.abs(out[i] - want)
            assert np.all(err <= bound(values[i], wi, rule, origins, FILL,
                                       np.finfo(dtype).eps)), f"{rule} volume {i}"
        assert np.all(out_buf[:, :, 1::2] == -7.0) and np.all(out_buf[..., 0] == -7.0)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(w, before[1])


@pytest.mark.parametrize("block_bytes", [_core.L2_BUDGET_BYTES, 0])
def test_threads_give_identical_results(block_bytes):
    """Every output is computed by one work unit in one fixed order, whichever thread runs it."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 11, 30, 70)).astype(np.float32)
    w = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    one = run(x, w, "symm", (0, 1, -1), 0.0, n_threads=1, block_bytes=block_bytes)
    two = run(x, w, "symm", (0, 1, -1), 0.0, n_threads=2, block_bytes=block_bytes)
    np.testing.assert_array_equal(one, two)


def test_fill_planes_carry_nonfinite_weights():
    """A plane of fill is correlated like any other: an Inf tap times fill 0 is NaN, as in
    scipy.ndimage's constant mode (its padded input holds the zeros)."""
    x = np.ones((1, 4, 6, 20))
    w = np.ones((1, 3, 3, 3))
    w[0, 0, 1, 1] = np.inf
    got = run(x, w, "fill", (0, 0, 0), 0.0)[0]
    want = ndi.correlate(x[0], w[0], mode="constant", cval=0.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[0]).all() and not np.isnan(got[1:]).any()


def test_bad_arguments():
    x = np.zeros((1, 4, 5, 6))
    w = np.zeros((1, 3, 3, 3))
    out = np.zeros_like(x)
    maps = maps_for(x.shape[1:], w.shape[1:], "symm", (0, 0, 0))
    with pytest.raises(ValueError, match="entries"):
        _core.correlate_volume(x, w, out, maps[0][:-1], maps[1], maps[2], 0.0, 1)
    bad = maps[1].copy()
    bad[0] = 5
    with pytest.raises(ValueError, match="rowmap entry"):
        _core.correlate_volume(x, w, out, maps[0], bad, maps[2], 0.0, 1)
    bad = maps[0].copy()
    bad[-1] = -2
    with pytest.raises(ValueError, match="planemap entry"):
        _core.correlate_volume(x, w, out, bad, maps[1], maps[2], 0.0, 1)
    with pytest.raises(ValueError, match="batch sizes"):
        _core.correlate_volume(x, np.zeros((2, 3, 3, 3)), out, *maps, 0.0, 1)
    with pytest.raises(ValueError, match="unit-stride"):
        _core.correlate_volume(np.zeros((1, 4, 5, 12))[..., ::2], w, out, *maps, 0.0, 1)
