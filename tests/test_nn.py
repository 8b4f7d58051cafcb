"""fastcorr.nn: conv2d/conv1d and their gradients against an extended-precision oracle
(tests/nnoracle.py), against torch (a second oracle, where installed) and against finite
differences; promotion, unbatched and empty inputs, layouts, out=, workers=, NaN/Inf
propagation and every bad argument.

Error bound
-----------
Each output of the three operations is a sum of products of the two array operands (conv2d:
input and weight, plus the bias; conv2d_input: weight and grad_output; conv2d_weight: input
and grad_output).  Whatever the order of summation, blocking or fused multiply-adds, a sum of
K products accumulated in a dtype of unit roundoff u = eps/2 is within gamma_K * S of the exact
sum, gamma_K = K*u / (1 - K*u), S = the sum of the products' absolute values (Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5).  The tests allow

    |computed - exact| <= C_BOUND * K * eps * S + tiny,    C_BOUND = 2,

i.e. about four times gamma_K (for K*u <= 1/2), which also covers the oracle's own rounding
(float64 sums for float32 results, longdouble for float64).  Per output:

- K is the number of products in that output's sum, counted by the oracle itself as the same
  operation applied to arrays of ones (conv2d: (C/groups)*kh*kw, plus one for the bias;
  conv2d_input: (O/groups) times the taps that reach that input element, which depends on
  stride and dilation and is zero for input elements no window reads; conv2d_weight: N*OH*OW
  including the products with the zero padding, which are exact and cost nothing);
- S is the same operation applied to |input| and |weight| (|grad_output|), in float64;
- eps is that of the dtype the result is computed in; tiny (its smallest normal) is an
  absolute floor for outputs whose exact value is zero.

A comparison with torch, which also rounds, allows twice that.  The inputs are first cast to
the result dtype (fastcorr's promotion table: float32 only when both array operands are
float32 or float16, else float64), so that cast is not counted as error.
"""
import functools
import zlib

import numpy as np
import pytest

import fastcorr.nn as nn
import nnoracle
from conftest import LAYOUTS, OUT_LAYOUTS, to_layout
from oracle import assert_within_bound

C_BOUND = 2
FLOATS = [np.float32, np.float64]
# The three operations: conv2d/conv1d, their input gradient and their weight gradient.
FORWARD, INPUT, WEIGHT = "forward", "input", "weight"


def seeded(*key):
    """A generator seeded by the test's parameters, so each case has its own data and a
    failure reproduces on its own."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def random(rng, shape, dtype=np.float64):
    """Standard normal values in a float dtype; small integers (exact in any float) or 0/1
    otherwise."""
    if np.dtype(dtype).kind in "biu":
        low = 0 if np.dtype(dtype).kind in "bu" else -40
        high = 2 if np.dtype(dtype).kind == "b" else 40
        return rng.integers(low, high, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- the check
def _fastcorr(op, nd, a, b, size, bias=None, **kwargs):
    """fastcorr's function for `op` in `nd` dimensions: (input, weight) for the forward,
    (weight, grad_output) for the input gradient, (input, grad_output) for the weight's."""
    prefix = "conv2d" if nd == 2 else "conv1d"
    if op == FORWARD:
        return getattr(nn, prefix)(a, b, bias, **kwargs)
    if op == INPUT:
        return getattr(nn, prefix + "_input")(size, a, b, **kwargs)
    return getattr(nn, prefix + "_weight")(a, size, b, **kwargs)


def _oracle(op, nd, a, b, size, bias=None, wide=np.longdouble, **geometry):
    prefix = "conv2d" if nd == 2 else "conv1d"
    if op == FORWARD:
        return getattr(nnoracle, prefix)(a, b, bias, wide=wide, **geometry)
    if op == INPUT:
        return getattr(nnoracle, prefix + "_input")(size, a, b, wide=wide, **geometry)
    return getattr(nnoracle, prefix + "_weight")(a, size, b, wide=wide, **geometry)


def reference(op, nd, a, b, size, dtype, bias=None, **geometry):
    """(exact result, elementwise error bound) for `op` computed in `dtype` (module
    docstring)."""
    dtype = np.dtype(dtype)
    a, b = np.asarray(a).astype(dtype), np.asarray(b).astype(dtype)
    bias = None if bias is None else np.asarray(bias).astype(dtype)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    with np.errstate(invalid="ignore"):
        exact = _oracle(op, nd, a, b, size, bias, wide, **geometry)
        magnitude = _oracle(op, nd, np.abs(a), np.abs(b), size,
                            None if bias is None else np.abs(bias), np.float64, **geometry)
    terms = _oracle(op, nd, np.ones(a.shape), np.ones(b.shape), size,
                    None if bias is None else np.ones(bias.shape), np.float64, **geometry)
    finfo = np.finfo(dtype)
    bound = C_BOUND * terms * float(finfo.eps) * magnitude + float(finfo.tiny)
    return exact, bound


def check(op, nd, a, b, size, dtype, bias=None, context="", workers=None, expected=None,
          **geometry):
    """Call fastcorr's `op`; assert its dtype, its shape and that it is within the bound of
    the oracle (`expected`, the (exact, bound) of `reference`, when already computed), and that
    no argument was modified.  Returns the result."""
    arrays = [v for v in (a, b, bias) if v is not None]
    before = [np.array(v, copy=True) for v in arrays]
    result = _fastcorr(op, nd, a, b, size, bias, workers=workers, **geometry)
    for old, new in zip(before, arrays):
        np.testing.assert_array_equal(new, old, err_msg=f"{op}: an argument was modified")
    ctx = (f"{op} {nd}-D {np.shape(a)} {np.asarray(a).dtype} with {np.shape(b)} "
           f"{np.asarray(b).dtype} size={size} {geometry} {context}")
    assert isinstance(result, np.ndarray), ctx
    assert result.dtype == np.dtype(dtype), f"{ctx}: dtype {result.dtype}, expected {dtype}"
    exact, bound = expected or reference(op, nd, a, b, size, dtype, bias, **geometry)
    assert_within_bound(result, exact, bound, ctx)
    return result


def operands(rng, op, x, w, geometry, nd=2):
    """The (a, b, size) of `op` for float input `x` and weight `w`: a random grad_output in
    the dtype of the operand it pairs with."""
    if op == FORWARD:
        return x, w, None
    out_shape = _oracle(FORWARD, nd, np.zeros(x.shape), np.zeros(w.shape), None,
                        wide=np.float64, **geometry).shape
    if op == INPUT:
        return w, random(rng, out_shape, w.dtype), x.shape
    return x, random(rng, out_shape, x.dtype), w.shape


# The grid of geometries: every stride with every padding ('same' only at stride 1), and
# kernels odd and even, square and not.
STRIDE_PADDING = [(stride, padding) for stride in (1, 2, 3)
                  for padding in (0, 1, (2, 1), "same", "valid")
                  if not (padding == "same" and stride > 1)]
KERNELS = [(1, 1), (2, 3), (3, 3), (5, 4)]


# ----------------------------------------------------------------------------- the oracle
def test_oracle_is_self_adjoint():
    """The oracle's gradients are the adjoints of its forward: <conv2d(x, w), gy> =
    <x, conv2d_input(gy)> = <w, conv2d_weight(x, gy)>, on geometries with every feature (odd
    and even kernels, asymmetric 'same', strides that skip input rows, dilation, groups).
    Each side is a few sums of at most n = x.size + w.size + gy.size terms in longdouble, so
    they agree to 2 n eps(longdouble) times the sum of the absolute products."""
    rng = np.random.default_rng(1)
    eps = float(np.finfo(np.longdouble).eps)
    for stride, padding, dilation, groups, kernel in [
            (1, "same", 2, 2, (2, 3)), (2, (2, 1), 1, 1, (5, 4)), (3, 0, 2, 4, (3, 3)),
            ((2, 1), 1, (1, 2), 2, (2, 2))]:
        geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        x = rng.standard_normal((2, 4, 13, 11))
        w = rng.standard_normal((8, 4 // groups) + kernel)
        y = nnoracle.conv2d(x, w, **geometry)
        gy = rng.standard_normal(y.shape)
        dot = np.sum(y * gy)
        dx = np.sum(nnoracle.conv2d_input(x.shape, w, gy, **geometry) * x)
        dw = np.sum(nnoracle.conv2d_weight(x, w.shape, gy, **geometry) * w)
        scale = np.sum(nnoracle.conv2d(np.abs(x), np.abs(w), **geometry) * np.abs(gy))
        tolerance = 2 * (x.size + w.size + gy.size) * eps * scale
        assert abs(dx - dot) <= tolerance and abs(dw - dot) <= tolerance, geometry
        # Not vacuous: the adjoint of a neighbouring geometry is far off.
        if groups == 1:
            shifted = nnoracle.conv2d_input(x.shape, w[:, :, ::-1], gy, **geometry)
            assert abs(np.sum(shifted * x) - dot) > 1e6 * tolerance, geometry


def test_oracle_matches_torch():
    """The oracle is torch's definition: torch's float64 forward and gradients lie within the
    float64 bound of it on a grid, asymmetric 'same' included (forward only: torch.nn.grad
    takes int paddings)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from torch.nn import grad as torch_grad

    rng = np.random.default_rng(2)
    for stride, padding in STRIDE_PADDING:
        for dilation, groups, kernel in [(1, 1, (2, 3)), (2, 2, (3, 3)), (2, 4, (5, 4))]:
            geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            x = rng.standard_normal((2, 4, 13, 11))
            w = rng.standard_normal((8, 4 // groups) + kernel)
            b = rng.standard_normal(8)
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            y = torch.nn.functional.conv2d(tx, tw, torch.from_numpy(b), **geometry).numpy()
            assert_within_bound(y, *reference(FORWARD, 2, x, w, None, np.float64, b,
                                              **geometry), f"conv2d {geometry}")
            if isinstance(padding, str):
                continue
            gy = rng.standard_normal(y.shape)
            gx = torch_grad.conv2d_input(x.shape, tw, torch.from_numpy(gy), **geometry)
            assert_within_bound(gx.numpy(), *reference(INPUT, 2, w, gy, x.shape, np.float64,
                                                       **geometry), f"input {geometry}")
            gw = torch_grad.conv2d_weight(tx, w.shape, torch.from_numpy(gy), **geometry)
            assert_within_bound(gw.numpy(), *reference(WEIGHT, 2, x, gy, w.shape, np.float64,
                                                       **geometry), f"weight {geometry}")


# ----------------------------------------------------------------------------- the grid
@functools.lru_cache(maxsize=None)
def grid_cases(nd, stride, padding, kernel):
    """The calls of one grid point and their oracle answers, [(op, a, b, size, bias, dtype,
    geometry, (exact, bound))]: dilation 1 and 2, groups 1, 2 and C (depthwise, two outputs
    per channel), float32 and float64, each of the three operations; 4 channels, 8 outputs, a
    batch of 2 or 3, odd sizes.  Computed once and shared by the SIMD paths (the oracle is
    the slow half of the test)."""
    cases = []
    for dilation in (1, 2):
        for groups in (1, 2, 4):
            for dtype in FLOATS:
                geometry = dict(stride=stride, padding=padding, dilation=dilation,
                                groups=groups)
                rng = seeded(nd, stride, padding, kernel, dilation, groups, dtype)
                x = random(rng, (2, 4, 13, 11) if nd == 2 else (3, 4, 23), dtype)
                w = random(rng, (8, 4 // groups) + kernel, dtype)
                bias = random(rng, 8, dtype)
                calls = [(FORWARD, x, w, None, bias)]
                if nd == 1:
                    calls.append((FORWARD, x[1], w, None, bias))     # unbatched
                for op in (INPUT, WEIGHT):
                    calls.append((op,) + operands(rng, op, x, w, geometry, nd)
                                 + (None,))
                for op, a, b, size, bias_ in calls:
                    expected = reference(op, nd, a, b, size, dtype, bias_, **geometry)
                    cases.append((op, a, b, size, bias_, dtype, geometry, expected))
    return cases


def run_grid(nd, stride, padding, kernel, simd_path):
    for op, a, b, size, bias, dtype, geometry, expected in grid_cases(nd, stride, padding,
                                                                     kernel):
        check(op, nd, a, b, size, dtype, bias, f"{np.dtype(dtype)} simd={simd_path}",
              expected=expected, **geometry)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"k={k[0]}x{k[1]}")
@pytest.mark.parametrize("stride, padding", STRIDE_PADDING,
                         ids=[f"s={s}-p={p}" for s, p in STRIDE_PADDING])
def test_grid(simd_path, stride, padding, kernel):
    """conv2d, conv2d_input and conv2d_weight within the bound of the oracle (grid_cases:
    dilation 1 and 2, groups 1, 2 and depthwise, float32 and float64) on an odd-sized image,
    13 x 11."""
    run_grid(2, stride, padding, kernel, simd_path)


# Layers of few input planes per group run the single-channel kernels straight into the
# result, and their weight gradient reads the images and the output gradient in place
# (_core.few_planes, NN_FEW_PLANES in _nn.pxi); the others the channel blocks over copied
# bands.  Each case names the side of the rule it is on (planes per group, output side).
FEW_PLANES = [(1, 12, True), (2, 12, True), (3, 12, False), (3, 93, True), (4, 93, True),
              (4, 12, False), (6, 93, False)]


@pytest.mark.parametrize("op", [FORWARD, INPUT, WEIGHT])
@pytest.mark.parametrize("planes, side, few", FEW_PLANES,
                         ids=[f"C{c}-{s}x{s}-{'few' if f else 'blocks'}" for c, s, f in FEW_PLANES])
def test_few_planes_and_channel_blocks_agree_with_the_oracle(simd_path, op, planes, side, few):
    """Both sides of the few-planes rule (forward and weight gradient), float32 and float64,
    with 5 output channels (a block and a remainder), a bias, and a strided padded layer
    whose planes are built rather than read in place, within the oracle's bound; and the
    input gradient of the same layers (its planes are the 5 output channels: the channel
    blocks, or the single-channel kernel for one input channel per group)."""
    from fastcorr import _core
    assert _core.few_planes(planes, side * side) == few
    for dtype in FLOATS:
        for groups, geometry in ((1, {}), (2, {}), (1, {"stride": 2, "padding": 1})):
            rng = seeded("few planes", op, planes, side, np.dtype(dtype).name, groups,
                         sorted(geometry.items()))
            # An image whose output (stride 1, no padding) is side x side.
            x = random(rng, (2, planes * groups, side + 2, side + 3), dtype)
            w = random(rng, (5 * groups, planes, 3, 4), dtype)
            bias = random(rng, (5 * groups,), dtype) if op == FORWARD else None
            a, b, size = operands(rng, op, x, w, dict(geometry, groups=groups))
            check(op, 2, a, b, size, dtype, bias, f"simd={simd_path}", groups=groups,
                  **geometry)


@pytest.mark.parametrize("rows", [28, 29, 14, 7], ids=lambda r: f"out{r}")
@pytest.mark.parametrize("op", [FORWARD, INPUT])
def test_padded_planes_reused_by_the_next_image(simd_path, op, rows):
    """One thread, several images: after its first image a thread's planes keep their padding
    and only each next image's values are written (_conv_planes), in one band per image, and
    in many bands (a tall image: consecutive units change bands, which rebuilds everything).
    Each image differs (one holds an infinity, which must stay in its own result), within the
    oracle's bound.  Output heights 28, 29, 14 and 7 run the small-kernel bands with and
    without the aliased variant's after them (fc_alt_bands: 8 + 8 + 6 + 6 on AVX-512)."""
    for dtype in FLOATS:
        for planes, height in ((1, rows), (8, rows), (1, 40 * rows)):
            rng = seeded("padded planes", op, rows, planes, height, np.dtype(dtype).name)
            # 'same' padding of a 5x5 kernel: output as large as the image.
            x = random(rng, (5, planes, height, 29), dtype)
            w = random(rng, (3, planes, 5, 5), dtype)
            geometry = {"padding": 2}
            a, b, size = operands(rng, op, x, w, geometry)
            planes_of = a if op == FORWARD else b  # the images, or the output gradient
            planes_of[2, 0, height // 2, 3] = np.inf
            check(op, 2, a, b, size, dtype, context=f"simd={simd_path}", workers=1, **geometry)


# One output channel per group (depthwise layers): the weight gradient's own block for 3x3
# and 5x5 kernels (fc_wgrad1) and what the other sizes fall back to; planes in place (no
# padding) or built (padding, stride, dilation); the output gradient in place or strided.
DEPTHWISE = [(kernel, stride, padding, dilation)
             for kernel in [(3, 3), (5, 5), (4, 4), (3, 2)]
             for stride, padding, dilation in [(1, 0, 1), (1, 1, 1), (1, "same", 1),
                                               (2, 1, 1), (1, 2, 2)]]


@pytest.mark.parametrize("kernel, stride, padding, dilation", DEPTHWISE,
                         ids=[f"k{k[0]}x{k[1]}-s{s}-p{p}-d{d}" for k, s, p, d in DEPTHWISE])
def test_depthwise_weight_gradient(simd_path, kernel, stride, padding, dilation):
    """conv2d_weight with groups = C = O (depthwise) within the oracle's bound, float32 and
    float64, on images whose rows are two vectors and a tail wide (37 columns) and several
    rows of bands, with the output gradient contiguous and with strided columns; an infinity
    in the input reaches only the taps whose windows read it."""
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=3)
    for dtype in FLOATS:
        rng = seeded("depthwise", kernel, stride, padding, dilation, dtype)
        x = random(rng, (2, 3, 19, 37), dtype)
        w = random(rng, (3, 1) + kernel, dtype)
        _, gy, size = operands(rng, WEIGHT, x, w, geometry)
        for layout in ("contiguous", "strided"):
            g = gy if layout == "contiguous" else np.repeat(gy, 2, axis=3)[..., ::2]
            check(WEIGHT, 2, x, g, size, dtype, context=layout, **geometry)
        x = x.copy()
        x[1, 2, 0, 0] = np.inf
        exact, _ = reference(WEIGHT, 2, x, gy, size, dtype, **geometry)
        got = nn.conv2d_weight(x, size, gy, **geometry)
        # Each entry is finite exactly where the oracle's is (an infinity times a zero
        # padding never enters a layer's sum).
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(exact.astype(dtype)))


# (input dtype, weight dtype, result dtype): fastcorr's promotion table, not torch's (which
# refuses mixed dtypes).  The gradients pair grad_output with the weight (input gradient)
# or the input (weight gradient) in the same way.
DTYPE_CASES = [
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64), (np.float64, np.float32, np.float64),
    (np.float16, np.float16, np.float32), (np.float16, np.float32, np.float32),
    (np.int16, np.float32, np.float64), (np.int64, np.int32, np.float64),
    (np.uint8, np.float64, np.float64), (np.bool_, np.float32, np.float64)]


@pytest.mark.parametrize("dtype_x, dtype_w, dtype", DTYPE_CASES,
                         ids=[f"{np.dtype(a).name}-{np.dtype(b).name}"
                              for a, b, _ in DTYPE_CASES])
def test_dtypes(simd_path, dtype_x, dtype_w, dtype):
    """The result dtype follows the promotion table, and so does the precision: each result
    is within the bound of the oracle computed in that dtype.  Depthwise with two outputs per
    channel, stride 2, padding 1."""
    geometry = dict(stride=2, padding=1, dilation=1, groups=3)
    rng = seeded(dtype_x, dtype_w)
    x = random(rng, (2, 3, 9, 10), dtype_x)
    w = random(rng, (6, 1, 3, 3), dtype_w)
    check(FORWARD, 2, x, w, None, dtype, **geometry)
    # grad_output in the dtype of the other operand: the pair promotes as the forward does.
    w_for_input = random(rng, w.shape, dtype_x)
    y = _oracle(FORWARD, 2, x, w, None, wide=np.float64, **geometry)
    check(INPUT, 2, w_for_input, random(rng, y.shape, dtype_w), x.shape, dtype, **geometry)
    check(WEIGHT, 2, x, random(rng, y.shape, dtype_w), w.shape, dtype, **geometry)


def test_float32_is_accumulated_in_float32(simd_path):
    """float32 operands give a float32 sum, not a float64 one rounded at the end: with terms
    1, 2**-24, 2**-48 every float32 order gives exactly 1, while the float64 sum rounds to
    1 + 2**-23 (tests/test_accuracy.py's case, in a 1 x 3 window of one channel)."""
    x = np.array([1.0, 2.0**-24, 2.0**-48], np.float32).reshape(1, 1, 1, 3)
    w = np.ones((1, 1, 1, 3), np.float32)
    result = nn.conv2d(x, w)
    assert result.dtype == np.float32 and result.ravel()[0] == np.float32(1.0), result


def test_unbatched(simd_path):
    """(C, H, W) input gives (O, OH, OW), the batched result's only item."""
    rng = np.random.default_rng(3)
    geometry = dict(stride=(2, 1), padding="valid", dilation=(1, 2), groups=2)
    for dtype in FLOATS:
        x = random(rng, (4, 9, 12), dtype)
        w = random(rng, (6, 2, 3, 2), dtype)
        bias = random(rng, 6, dtype)
        result = check(FORWARD, 2, x, w, None, dtype, bias, **geometry)
        assert result.shape == nn.conv2d(x[None], w, bias, **geometry).shape[1:]


def test_empty_batch():
    """N = 0 as in torch: an empty forward result and input gradient, and a zero weight
    gradient (a sum over no items)."""
    x = np.zeros((0, 4, 7, 8))
    w = np.ones((6, 2, 3, 3))
    y = nn.conv2d(x, w, np.ones(6), padding=1, groups=2)
    assert y.shape == (0, 6, 7, 8) and y.dtype == np.float64
    gx = nn.conv2d_input(x.shape, w, y, padding=1, groups=2)
    assert gx.shape == x.shape and gx.dtype == np.float64
    gw = nn.conv2d_weight(x, w.shape, y, padding=1, groups=2)
    assert gw.shape == w.shape and not np.any(gw)


CONV1D_STRIDE_PADDING = [(stride, padding) for stride in (1, 2, 3)
                         for padding in (0, 2, "same", "valid")
                         if not (padding == "same" and stride > 1)]


@pytest.mark.parametrize("stride, padding", CONV1D_STRIDE_PADDING,
                         ids=[f"s={s}-p={p}" for s, p in CONV1D_STRIDE_PADDING])
def test_conv1d(simd_path, stride, padding):
    """conv1d (batched and unbatched (C, L)), conv1d_input and conv1d_weight within the bound
    of the oracle (grid_cases) on an odd length, 23: kernels of 1, 2 (even: asymmetric
    'same') and 5 taps."""
    for kernel in (1, 2, 5):
        run_grid(1, stride, padding, (kernel,), simd_path)


def test_conv1d_is_conv2d_on_one_row(simd_path):
    """Ints, 1-tuples and 'same' mean the same in conv1d as on a height of one in conv2d."""
    rng = np.random.default_rng(4)
    x = random(rng, (2, 4, 30), np.float64)
    w = random(rng, (6, 2, 4), np.float64)
    for geometry1, geometry2 in [
            (dict(stride=(2,), padding=(3,), dilation=(2,)),
             dict(stride=(1, 2), padding=(0, 3), dilation=(1, 2))),
            (dict(padding="same", dilation=3), dict(padding="same", dilation=(1, 3)))]:
        result = nn.conv1d(x, w, groups=2, **geometry1)
        expected = nn.conv2d(x[:, :, None], w[:, :, None], groups=2, **geometry2)[:, :, 0]
        assert_within_bound(result, expected,
                            2 * reference(FORWARD, 1, x, w, None, np.float64, groups=2,
                                          **geometry1)[1], str(geometry1))


# ----------------------------------------------------------------------------- torch
# The anchor shapes (N, C, H, W, O, k, groups), with the same channels, kernel and
# groups and smaller images and batches.
ANCHORS = [(4, 1, 28, 28, 8, 5, 1), (2, 1, 40, 40, 8, 5, 1), (2, 3, 24, 24, 16, 3, 1),
           (2, 16, 16, 16, 32, 3, 1), (2, 64, 10, 10, 64, 3, 1), (2, 64, 12, 12, 64, 3, 64)]
# Geometries torch.nn.grad takes (int paddings), off the anchors' beaten track.
TORCH_GRID = [
    ((2, 6, 13, 11, 4, (2, 3), 2), dict(stride=2, padding=(2, 1), dilation=2)),
    ((3, 5, 12, 17, 7, (5, 4), 1), dict(stride=(3, 2), padding=0, dilation=(1, 2))),
    ((2, 8, 15, 14, 16, (3, 3), 8), dict(stride=1, padding=2, dilation=2)),
    ((1, 4, 9, 9, 4, (1, 1), 2), dict(stride=3, padding=1, dilation=1))]
TORCH_CASES = ([(a, dict(padding=p)) for a in ANCHORS for p in (0, 1)] + TORCH_GRID)


def _torch_case_id(case):
    (n, c, h, w, o, k, groups), geometry = case
    return f"N{n}-C{c}-{h}x{w}-O{o}-k{k}-g{groups}-" + "-".join(
        f"{key[0]}{value}" for key, value in geometry.items())


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", TORCH_CASES, ids=_torch_case_id)
def test_against_torch(simd_path, case, dtype):
    """conv2d, conv2d_input, conv2d_weight against torch.nn.functional.conv2d and
    torch.nn.grad within twice the bound (both round in `dtype`)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from torch.nn import grad as torch_grad

    (n, c, h, width, o, k, groups), geometry = case
    geometry = dict(geometry, groups=groups)
    kernel = k if isinstance(k, tuple) else (k, k)
    rng = seeded("torch", case, dtype)
    x = random(rng, (n, c, h, width), dtype)
    w = random(rng, (o, c // groups) + kernel, dtype)
    bias = random(rng, o, dtype)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    y = nn.conv2d(x, w, bias, **geometry)
    expected = torch.nn.functional.conv2d(tx, tw, torch.from_numpy(bias), **geometry).numpy()
    _, bound = reference(FORWARD, 2, x, w, None, dtype, bias, **geometry)
    assert_within_bound(y, expected, 2 * bound, "conv2d vs torch")

    gy = random(rng, y.shape, dtype)
    gx = nn.conv2d_input(x.shape, w, gy, **geometry)
    expected = torch_grad.conv2d_input(x.shape, tw, torch.from_numpy(gy), **geometry).numpy()
    _, bound = reference(INPUT, 2, w, gy, x.shape, dtype, **geometry)
    assert_within_bound(gx, expected, 2 * bound, "conv2d_input vs torch")

    gw = nn.conv2d_weight(x, w.shape, gy, **geometry)
    expected = torch_grad.conv2d_weight(tx, w.shape, torch.from_numpy(gy), **geometry).numpy()
    _, bound = reference(WEIGHT, 2, x, gy, w.shape, dtype, **geometry)
    assert_within_bound(gw, expected, 2 * bound, "conv2d_weight vs torch")


# ----------------------------------------------------------------------------- gradient check
FD_GRID = [(stride, padding, dilation, groups) for stride in (1, 2) for padding in (0, 1)
           for dilation in (1, 2) for groups in (1, 2)]
FD_STEP = 1e-6
FD_ENTRIES = 8


@pytest.mark.parametrize("stride, padding, dilation, groups", FD_GRID,
                         ids=[f"s{s}-p{p}-d{d}-g{g}" for s, p, d, g in FD_GRID])
def test_gradients_by_finite_differences(simd_path, stride, padding, dilation, groups):
    """For L = sum(conv2d(x, w, b) * R): conv2d_input(x.shape, w, R) and
    conv2d_weight(x, w.shape, R) are dL/dx and dL/dw, by central differences in float64 on
    the corners of x and w and a random subset of their entries.

    L is linear in x (and in w), so a central difference has no truncation error: with
    x+ and x- the entry moved by a step h = 1e-6 * max(|x_i|, 1) either way (the denominator
    is x+_i - x-_i as stored, exact by Sterbenz's lemma or within one rounding),
    L(x+) - L(x-) = dL/dx_i * (x+_i - x-_i) exactly.  The only error is the rounding of each
    computed L: the forward's K = (C/groups)*kh*kw + 1 terms per output and the M-term sum
    over outputs give |L_computed - L| <= E = C_BOUND * (K + M + 1) * eps * sum(S |R|),
    S = |w| (*) |x| + |b| with the perturbed entry's magnitude raised by h.  So

        |fd - gradient| <= 2 E / (x+_i - x-_i) + bound(gradient_i) + eps |fd|,

    the last term for the division.  A wrong gradient (a flipped or shifted window, a
    mis-strided or mis-grouped channel) is off by O(|gradient|), orders above this."""
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = seeded("fd", stride, padding, dilation, groups)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    r = rng.standard_normal(nnoracle.conv2d(x, w, b, **geometry).shape)
    eps = np.finfo(np.float64).eps
    terms = w.shape[1] * w.shape[2] * w.shape[3] + 1 + r.size + 1

    def loss(x_, w_):
        return float(np.sum(nn.conv2d(x_, w_, b, **geometry) * r))

    def rounding(x_abs, w_abs):
        s = nnoracle.conv2d(x_abs, w_abs, np.abs(b), wide=np.float64, **geometry)
        return C_BOUND * terms * eps * float(np.sum(s * np.abs(r)))

    gradients = {"x": (x, nn.conv2d_input(x.shape, w, r, **geometry),
                       reference(INPUT, 2, w, r, x.shape, np.float64, **geometry)[1]),
                 "w": (w, nn.conv2d_weight(x, w.shape, r, **geometry),
                       reference(WEIGHT, 2, x, r, w.shape, np.float64, **geometry)[1])}
    for name, (values, gradient, bound) in gradients.items():
        corners = [(0,) * values.ndim, tuple(n - 1 for n in values.shape)]
        picks = rng.choice(values.size, FD_ENTRIES, replace=False)
        for index in corners + [np.unravel_index(i, values.shape) for i in picks]:
            h = FD_STEP * max(abs(values[index]), 1.0)
            plus, minus = values.copy(), values.copy()
            plus[index] += h
            minus[index] -= h
            step = plus[index] - minus[index]
            magnitude = np.abs(values)
            magnitude[index] += h
            if name == "x":
                fd = (loss(plus, w) - loss(minus, w)) / step
                error = rounding(magnitude, np.abs(w))
            else:
                fd = (loss(x, plus) - loss(x, minus)) / step
                error = rounding(np.abs(x), magnitude)
            tolerance = 2 * error / step + bound[index] + eps * abs(fd)
            assert abs(fd - gradient[index]) <= tolerance, (
                f"d L / d {name}{tuple(int(i) for i in index)}: gradient {gradient[index]!r}, "
                f"finite difference {fd!r}, tolerance {tolerance:.3g} ({geometry})")


# ----------------------------------------------------------------------- layouts, out=, workers=
# Phases and padding (planes built in the core's scratch), and a plain stride-1 'valid'
# depthwise layer, whose weight gradient reads the input and the output gradient in place where
# their rows are unit-stride (AVX2 and AVX-512) and copies them where not.
LAYOUT_GEOMETRIES = {
    "phases": dict(stride=(1, 2), padding=(1, 2), dilation=(2, 1), groups=2),
    "valid depthwise": dict(stride=1, padding=0, dilation=1, groups=4),
}


def _layout_case(rng, dtype=np.float64, geometry="phases"):
    geometry = LAYOUT_GEOMETRIES[geometry]
    x = random(rng, (3, 4, 11, 13), dtype)
    w = random(rng, (4 if geometry["groups"] == 4 else 6, 4 // geometry["groups"], 3, 4), dtype)
    y = nnoracle.conv2d(x, w, wide=np.float64, **geometry)
    gy = random(rng, y.shape, dtype)
    return geometry, x, w, gy


def plain(values):
    """The same values in a C-contiguous, aligned, native-byte-order, writeable array."""
    values = np.asarray(values)
    return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))


@pytest.mark.parametrize("geometry_name", LAYOUT_GEOMETRIES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(simd_path, layout, geometry_name):
    """Inputs, weights and grad_output in any layout (F order, strided, reversed, read-only,
    byte-swapped, unaligned, a zero stride): within the bound of the oracle, and within twice
    it of the same values in C order."""
    rng = seeded("layout", layout, geometry_name)
    geometry, x, w, gy = _layout_case(rng, geometry=geometry_name)
    x, w, gy = (to_layout(v, layout) for v in (x, w, gy))
    bias = to_layout(random(rng, w.shape[0]),
                     "strided" if layout in ("mixed", "broadcast") else layout)
    for op, a, b, size, bias_ in [(FORWARD, x, w, None, bias), (INPUT, w, gy, x.shape, None),
                                  (WEIGHT, x, gy, w.shape, None)]:
        result = check(op, 2, a, b, size, np.float64, bias_, f"layout={layout}", **geometry)
        contiguous = _fastcorr(op, 2, plain(a), plain(b), size,
                               None if bias_ is None else plain(bias_), **geometry)
        _, bound = reference(op, 2, a, b, size, np.float64, bias_, **geometry)
        assert_within_bound(result, contiguous, 2 * bound, f"{op} {layout} vs C order")


def test_read_only_inputs_are_accepted_and_unchanged(simd_path):
    rng = np.random.default_rng(5)
    geometry, x, w, gy = _layout_case(rng, np.float32)
    for v in (x, w, gy):
        v.flags.writeable = False
    check(FORWARD, 2, x, w, None, np.float32, **geometry)
    check(INPUT, 2, w, gy, x.shape, np.float32, **geometry)
    check(WEIGHT, 2, x, gy, w.shape, np.float32, **geometry)


@pytest.mark.parametrize("nd", [1, 2])
def test_out(simd_path, nd):
    """out= receives the result and is returned; an unbatched result too."""
    rng = np.random.default_rng(6)
    spatial = (10, 9) if nd == 2 else (17,)
    for dtype in FLOATS:
        x = random(rng, (2, 4) + spatial, dtype)
        w = random(rng, (6, 2) + (3,) * nd, dtype)
        bias = random(rng, 6, dtype)
        for item in (x, x[0]):
            expected = _fastcorr(FORWARD, nd, item, w, None, bias, padding=1, groups=2)
            out = np.full(expected.shape, np.nan, dtype)
            result = _fastcorr(FORWARD, nd, item, w, None, bias, padding=1, groups=2, out=out)
            assert result is out
            exact, bound = reference(FORWARD, nd, item, w, None, dtype, bias, padding=1,
                                     groups=2)
            assert_within_bound(out, exact, bound, f"out= {nd}-D {np.dtype(dtype)}")


@pytest.mark.parametrize("with_bias", [False, True], ids=["no bias", "bias"])
def test_streamed_output_equals_stored(simd_path, with_bias):
    """An output past the caches whose rows follow one another is stored non-temporally, a
    band of a channel at a time, as a sum with a run of the bias (of -0.0 without one).
    Forced here for every size, the result equals the plain stores' bit for bit: bands of
    rows 27 elements long, into out= views starting at every element of a cache line, with
    1 and 2 threads, and with out= rows apart (not streamed) beside them."""
    from fastcorr import _core
    rng = np.random.default_rng(8)
    for dtype in FLOATS:
        x = random(rng, (2, 3, 13, 29), dtype)
        w = random(rng, (5, 3, 3, 3), dtype)
        bias = random(rng, 5, dtype) if with_bias else None
        for workers in (1, 2):
            plain = nn.conv2d(x, w, bias, workers=workers)
            previous = _core._set_stream_min_bytes(0)
            try:
                streamed = nn.conv2d(x, w, bias, workers=workers)
                for start in range(64 // np.dtype(dtype).itemsize):
                    base = np.full(plain.size + 64, np.nan, dtype)
                    out = base[start:start + plain.size].reshape(plain.shape)
                    nn.conv2d(x, w, bias, workers=workers, out=out)
                    np.testing.assert_array_equal(out, plain, err_msg=f"start {start}")
                    assert np.isnan(base[:start]).all() and \
                        np.isnan(base[start + plain.size:]).all(), f"start {start}"
                wide = np.full(plain.shape[:3] + (plain.shape[3] + 3,), np.nan, dtype)
                nn.conv2d(x, w, bias, workers=workers, out=wide[..., 1:-2])
                np.testing.assert_array_equal(wide[..., 1:-2], plain)
                assert np.isnan(wide[..., :1]).all() and np.isnan(wide[..., -2:]).all()
            finally:
                _core._set_stream_min_bytes(previous)
            assert streamed.tobytes() == plain.tobytes(), f"{np.dtype(dtype)}"


@pytest.mark.parametrize("layout", OUT_LAYOUTS)
def test_out_layouts(simd_path, layout):
    """out= in any writeable layout (fastcorr.nn documents "any strides", as fastcorr's other
    faces): the result is written through its strides and out is returned."""
    rng = seeded("out", layout)
    geometry, x, w, _ = _layout_case(rng)
    exact, bound = reference(FORWARD, 2, x, w, None, np.float64, **geometry)
    out = to_layout(np.full(exact.shape, np.nan), layout)
    assert nn.conv2d(x, w, out=out, **geometry) is out
    assert_within_bound(out, exact, bound, f"out= {layout}")


def test_workers(simd_path):
    """workers=1 and workers=2 each within the bound of the oracle (so within twice it of
    each other), on a problem with enough batch items, channel blocks and rows to split."""
    rng = np.random.default_rng(7)
    geometry = dict(stride=1, padding=1, dilation=1, groups=1)
    for dtype in FLOATS:
        x = random(rng, (4, 8, 33, 35), dtype)
        w = random(rng, (16, 8, 3, 3), dtype)
        y = nnoracle.conv2d(x, w, wide=np.float64, **geometry)
        gy = random(rng, y.shape, dtype)
        for op, a, b, size in [(FORWARD, x, w, None), (INPUT, w, gy, x.shape),
                               (WEIGHT, x, gy, w.shape)]:
            expected = reference(op, 2, a, b, size, dtype, **geometry)
            results = [check(op, 2, a, b, size, dtype, workers=workers, expected=expected,
                             **geometry) for workers in (1, 2)]
            assert_within_bound(results[1], results[0], 2 * expected[1],
                                f"{op} workers 2 vs 1")


# ----------------------------------------------------------------------------- NaN / Inf
def _covering(index, out_len, k, stride, pad, dilation):
    """The output positions whose window reads input position `index` along one axis."""
    return {i for i in range(out_len) for a in range(k)
            if i * stride + a * dilation - pad == index}


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_special_value_propagates_locally(simd_path, value):
    """A NaN (or Inf) in one input pixel makes exactly the outputs whose window covers it NaN
    (+-Inf, with the weight's sign) -- the pixel's batch item, its group's output channels,
    the window positions over it -- and leaves every other output finite and within the
    bound (stride 1, padding 1; corners, edges and the interior; float32 and float64)."""
    rng = np.random.default_rng(8)
    n, c, h, width, o, k = 2, 4, 9, 11, 6, 3
    for dtype in FLOATS:
        for dilation in (1, 2):
            for groups in (1, 2):
                geometry = dict(stride=1, padding=1, dilation=dilation, groups=groups)
                w = random(rng, (o, c // groups, k, k), dtype)
                oh, ow = h + 2 - dilation * (k - 1), width + 2 - dilation * (k - 1)
                for pixel in [(0, 0), (0, width // 2), (h // 2, width - 1), (h // 2, 5),
                              (h - 1, width - 1)]:
                    x = random(rng, (n, c, h, width), dtype)
                    channel = int(rng.integers(c))
                    x[1, channel][pixel] = value
                    result = nn.conv2d(x, w, **geometry)
                    mask = np.zeros(result.shape, bool)
                    rows = sorted(_covering(pixel[0], oh, k, 1, 1, dilation))
                    cols = sorted(_covering(pixel[1], ow, k, 1, 1, dilation))
                    group_outputs = o // groups
                    first = channel // (c // groups) * group_outputs
                    mask[np.ix_([1], range(first, first + group_outputs), rows, cols)] = True
                    context = (f"{value} at {pixel} of channel {channel}, {geometry}, "
                               f"{np.dtype(dtype)} simd={simd_path}")
                    got = ~np.isfinite(result)
                    assert np.array_equal(got, mask), (
                        f"{context}: non-finite at {np.argwhere(got & ~mask)[:4].tolist()} "
                        f"(not covering it), finite at {np.argwhere(mask & ~got)[:4].tolist()}")
                    # The bound where the exact result is finite: the sums without the pixel.
                    clean = np.where(np.isfinite(x), x, 0).astype(dtype)
                    exact, _ = reference(FORWARD, 2, x, w, None, dtype, **geometry)
                    _, bound = reference(FORWARD, 2, clean, w, None, dtype, **geometry)
                    assert_within_bound(result, exact, bound, context)


@pytest.mark.parametrize("op", [INPUT, WEIGHT])
def test_nan_in_gradients_propagates_locally(simd_path, op):
    """The gradients too: a NaN in grad_output (input gradient) or in the input (weight
    gradient) makes NaN exactly the outputs whose sum has a product with it, as the oracle
    finds them, at stride 1 and 2, dilation 1 and 2."""
    rng = np.random.default_rng(9)
    poisoned_results = 0
    for dtype in FLOATS:
        # A depthwise layer without padding at stride 1: the weight gradient reads the input
        # in place.
        for stride, dilation, padding, groups in [(1, 1, 1, 2), (1, 1, 0, 4), (2, 1, 1, 2),
                                                  (1, 2, 1, 2), (2, 2, 1, 2)]:
            geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            x = random(rng, (2, 4, 9, 10), dtype)
            w = random(rng, (6 if groups == 2 else 4, 4 // groups, 3, 3), dtype)
            a, b, size = operands(rng, op, x, w, geometry)
            special = b if op == INPUT else a
            for position in [(0,) * 4, tuple(n - 1 for n in special.shape),
                             tuple(n // 2 for n in special.shape)]:
                poisoned = special.copy()
                poisoned[position] = np.nan
                args = (a, poisoned) if op == INPUT else (poisoned, b)
                result = _fastcorr(op, 2, *args, size, **geometry)
                exact, _ = reference(op, 2, *args, size, dtype, **geometry)
                clean = (a, special) if op == INPUT else (special, b)
                _, bound = reference(op, 2, *clean, size, dtype, **geometry)
                # A position no window of a strided, dilated layer reads leaves every
                # output finite: the result must be finite too.
                assert np.isnan(exact).sum() < exact.size
                poisoned_results += bool(np.isnan(exact).any())
                assert_within_bound(result, exact, bound,
                                    f"{op}: NaN at {position}, {geometry}, {np.dtype(dtype)}")
    assert poisoned_results >= len(FLOATS) * 8


# ----------------------------------------------------------------------------- errors
def test_convolution_error_is_both_value_and_runtime_error():
    assert issubclass(nn.ConvolutionError, ValueError)
    assert issubclass(nn.ConvolutionError, RuntimeError)


X = np.arange(2 * 4 * 7 * 8, dtype=np.float64).reshape(2, 4, 7, 8) / 17
W = np.linspace(-1, 1, 6 * 2 * 3 * 3).reshape(6, 2, 3, 3)
GY = np.ones((2, 6, 5, 6))      # the output of X, W with groups=2, no padding
X1, W1, GY1 = X[:, :, 0], W[:, :, 0], GY[:, :, 0]
ANY_OF_ARGUMENTS = r"\b(input|weight|groups)\b"


def conv2d(x=X, w=W, **kwargs):
    return nn.conv2d(x, w, groups=kwargs.pop("groups", 2), **kwargs)


def conv2d_input(size=X.shape, w=W, gy=GY, **kwargs):
    return nn.conv2d_input(size, w, gy, groups=kwargs.pop("groups", 2), **kwargs)


def conv2d_weight(x=X, size=W.shape, gy=GY, **kwargs):
    return nn.conv2d_weight(x, size, gy, groups=kwargs.pop("groups", 2), **kwargs)


def conv1d(x=X1, w=W1, **kwargs):
    return nn.conv1d(x, w, groups=kwargs.pop("groups", 2), **kwargs)


def read_only(a):
    a.flags.writeable = False
    return a


# (id, call, pattern the message must match).  Each a ConvolutionError.
VALUE_ERRORS = [
    ("input 2-D", lambda: conv2d(X[0, 0]), r"\binput\b"),
    ("input 5-D", lambda: conv2d(X[None]), r"\binput\b"),
    ("weight 3-D", lambda: conv2d(w=W[0]), r"\bweight\b"),
    ("weight 5-D", lambda: conv2d(w=W[None]), r"\bweight\b"),
    ("channels", lambda: conv2d(groups=1), ANY_OF_ARGUMENTS),
    ("channels unbatched", lambda: conv2d(X[0, :3]), ANY_OF_ARGUMENTS),
    ("outputs not divisible", lambda: conv2d(w=W[:5]), r"\bgroups\b"),
    ("groups 0", lambda: conv2d(groups=0), r"\bgroups\b"),
    ("groups -2", lambda: conv2d(groups=-2), r"\bgroups\b"),
    ("stride 0", lambda: conv2d(stride=0), r"\bstride\b"),
    ("stride (1, -1)", lambda: conv2d(stride=(1, -1)), r"\bstride\b"),
    ("dilation 0", lambda: conv2d(dilation=0), r"\bdilation\b"),
    ("dilation (0, 1)", lambda: conv2d(dilation=(0, 1)), r"\bdilation\b"),
    ("padding -1", lambda: conv2d(padding=-1), r"\bpadding\b"),
    ("padding (1, -1)", lambda: conv2d(padding=(1, -1)), r"\bpadding\b"),
    ("padding 'full'", lambda: conv2d(padding="full"), r"\bpadding\b"),
    ("padding 'SAME'", lambda: conv2d(padding="SAME"), r"\bpadding\b"),
    ("padding ''", lambda: conv2d(padding=""), r"\bpadding\b"),
    ("same with stride 2", lambda: conv2d(padding="same", stride=2), r"\b(padding|stride)\b"),
    ("same with stride (1, 2)", lambda: conv2d(padding="same", stride=(1, 2)),
     r"\b(padding|stride)\b"),
    ("kernel larger", lambda: conv2d(X[:, :, :2, :5]), r"\b(input|weight)\b"),
    ("dilated kernel larger", lambda: conv2d(dilation=4), r"\b(input|weight)\b"),
    ("bias length", lambda: conv2d(bias=np.ones(5)), r"\bbias\b"),
    ("bias 2-D", lambda: conv2d(bias=np.ones((6, 1))), r"\bbias\b"),
    ("bias scalar", lambda: conv2d(bias=np.ones(())), r"\bbias\b"),
    ("out shape", lambda: conv2d(out=np.empty((2, 6, 5, 7))), r"\bout\b"),
    ("out dtype", lambda: conv2d(out=np.empty((2, 6, 5, 6), np.float32)), r"\bout\b"),
    ("out read-only", lambda: conv2d(out=read_only(np.empty((2, 6, 5, 6)))), r"\bout\b"),
    ("out batched for unbatched", lambda: conv2d(X[0], out=np.empty((1, 6, 5, 6))),
     r"\bout\b"),
    ("input_size length", lambda: conv2d_input(size=X.shape[1:]), r"\binput_size\b"),
    ("input_size channels", lambda: conv2d_input(size=(2, 6, 7, 8)),
     r"\b(input_size|input|weight|groups)\b"),
    ("grad_output rows", lambda: conv2d_input(gy=GY[:, :, :4]), r"\bgrad_output\b"),
    ("grad_output channels", lambda: conv2d_input(gy=GY[:, :5]), r"\bgrad_output\b"),
    ("grad_output batch", lambda: conv2d_input(gy=GY[:1]), r"\bgrad_output\b"),
    ("grad_output 3-D", lambda: conv2d_input(gy=GY[0]), r"\bgrad_output\b"),
    ("grad_output for padding", lambda: conv2d_input(padding=1), r"\bgrad_output\b"),
    ("input_grad weight 3-D", lambda: conv2d_input(w=W[0]), r"\bweight\b"),
    ("weight_size length", lambda: conv2d_weight(size=W.shape[1:]), r"\bweight_size\b"),
    ("weight_size channels", lambda: conv2d_weight(size=(6, 3, 3, 3)),
     r"\b(weight_size|input|weight|groups)\b"),
    ("weight_size not divisible", lambda: conv2d_weight(size=(5, 2, 3, 3), gy=GY[:, :5]),
     r"\b(groups|weight_size)\b"),
    ("weight_grad grad_output cols", lambda: conv2d_weight(gy=GY[..., :5]),
     r"\bgrad_output\b"),
    ("weight_grad grad_output for stride", lambda: conv2d_weight(stride=2),
     r"\bgrad_output\b"),
    ("weight_grad input 3-D", lambda: conv2d_weight(X[0]), r"\binput\b"),
    ("weight_grad groups 0", lambda: conv2d_weight(groups=0), r"\bgroups\b"),
    ("input_grad dilation 0", lambda: conv2d_input(dilation=0), r"\bdilation\b"),
    ("input_grad padding -1", lambda: conv2d_input(padding=-1), r"\bpadding\b"),
    ("conv1d input 4-D", lambda: conv1d(X), r"\binput\b"),
    ("conv1d weight 4-D", lambda: conv1d(w=W), r"\bweight\b"),
    ("conv1d same with stride", lambda: conv1d(padding="same", stride=2),
     r"\b(padding|stride)\b"),
    ("conv1d stride 0", lambda: conv1d(stride=0), r"\bstride\b"),
    ("conv1d kernel larger", lambda: conv1d(X1[..., :2]), r"\b(input|weight)\b"),
    ("conv1d_input grad_output", lambda: nn.conv1d_input(X1.shape, W1, GY1[..., :5], groups=2),
     r"\bgrad_output\b"),
    ("conv1d_weight grad_output", lambda: nn.conv1d_weight(X1, W1.shape, GY1[:, :5],
                                                             groups=2), r"\bgrad_output\b"),
]


@pytest.mark.parametrize("call, pattern", [case[1:] for case in VALUE_ERRORS],
                         ids=[case[0] for case in VALUE_ERRORS])
def test_value_errors(call, pattern):
    before = [v.copy() for v in (X, W, GY)]
    with pytest.raises(nn.ConvolutionError, match=pattern):
        call()
    for old, new in zip(before, (X, W, GY)):
        np.testing.assert_array_equal(new, old)


# (id, call, pattern): TypeError.
TYPE_ERRORS = [
    ("padding float", lambda: conv2d(padding=1.5), r"\bpadding\b"),
    ("padding pair of floats", lambda: conv2d(padding=(1.0, 1)), r"\bpadding\b"),
    ("stride float", lambda: conv2d(stride=1.0), r"\bstride\b"),
    ("dilation float", lambda: conv2d(dilation=(1, 2.0)), r"\bdilation\b"),
    ("groups float", lambda: conv2d(groups=2.0), r"\bgroups\b"),
    ("input None", lambda: conv2d(None), r"\binput\b"),
    ("weight None", lambda: conv2d(w=None), r"\bweight\b"),
    ("grad_output None", lambda: conv2d_input(gy=None), r"\bgrad_output\b"),
    ("input_grad padding float", lambda: conv2d_input(padding=0.5), r"\bpadding\b"),
    ("weight_grad stride float", lambda: conv2d_weight(stride=2.5), r"\bstride\b"),
]


@pytest.mark.parametrize("call, pattern", [case[1:] for case in TYPE_ERRORS],
                         ids=[case[0] for case in TYPE_ERRORS])
def test_type_errors(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


def test_checked_layers_are_remembered_only_for_plain_arguments():
    """A layer seen before skips its checks (nn keeps the checked geometries of recent calls),
    but only for plain ints, strings and tuples of ints: a bool equal to a cached int, or a
    bad value after a good one, is still refused, and a numpy integer still accepted."""
    expected = conv2d(stride=1, padding=(1, 1), groups=2)
    # Geometries equal (==, same hash) to the bad ones below, seen and remembered first.
    conv2d(x=X[:, :2], w=W[:, :2], stride=1, padding=(1, 1), groups=1)
    conv2d(stride=(1, 1), padding=(1, 1))
    for _ in range(2):
        np.testing.assert_array_equal(conv2d(stride=1, padding=(1, 1), groups=2), expected)
        with pytest.raises(TypeError, match=r"\bgroups\b"):
            conv2d(x=X[:, :2], w=W[:, :2], stride=1, padding=(1, 1), groups=True)
        with pytest.raises(TypeError, match=r"\bstride\b"):
            conv2d(stride=(1, True), padding=(1, 1))
        with pytest.raises(TypeError, match=r"\bpadding\b"):
            conv2d(stride=1, padding=(1, 1.0))
        with pytest.raises(nn.ConvolutionError, match=r"\bpadding\b"):
            conv2d(stride=1, padding=(1, -1))
        np.testing.assert_array_equal(
            conv2d(stride=np.int64(1), padding=[1, 1], groups=np.int32(2)), expected)
    assert np.count_nonzero(np.isnan(expected)) == 0


@pytest.mark.parametrize("call, pattern", [
    (lambda: conv2d("input"), r"\binput\b"), (lambda: conv2d(w={}), r"\bweight\b"),
    (lambda: conv2d_input(gy=GY.astype(object)), r"\bgrad_output\b")],
    ids=["input a string", "weight a dict", "grad_output of objects"])
def test_not_a_numeric_array(call, pattern):
    """An argument NumPy reads as an array of strings or objects: a ValueError naming it, the
    class fastcorr gives a dtype it cannot compute in everywhere (as scipy.signal does; see
    test_errors.py).  None is a TypeError (test_type_errors)."""
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize("call", [
    lambda: conv2d(X.astype(complex)), lambda: conv2d(w=W.astype(np.complex64)),
    lambda: conv2d(bias=np.ones(6, complex)), lambda: conv2d_input(gy=GY.astype(complex)),
    lambda: conv2d_weight(X.astype(complex)), lambda: conv1d(X1.astype(complex))],
    ids=["input", "weight", "bias", "grad_output", "weight_grad input", "conv1d input"])
def test_complex_is_not_implemented(call):
    with pytest.raises(NotImplementedError, match="complex"):
        call()


def test_wrong_tuple_lengths():
    """A stride, dilation or padding with the wrong number of values names it (a
    ConvolutionError or a TypeError: either is a clear refusal)."""
    for kwargs, name in [(dict(stride=(1, 1, 1)), "stride"), (dict(dilation=(2, 2, 2)),
                                                                "dilation"),
                         (dict(padding=(1, 2, 3)), "padding")]:
        with pytest.raises((nn.ConvolutionError, TypeError), match=rf"\b{name}\b"):
            conv2d(**kwargs)
        with pytest.raises((nn.ConvolutionError, TypeError), match=rf"\b{name}\b"):
            conv1d(**{name: (1, 1)})


def test_workers_errors():
    """workers= as everywhere in fastcorr: 0 a ValueError, a float a TypeError."""
    with pytest.raises(ValueError, match=r"\bworkers\b"):
        conv2d(workers=0)
    with pytest.raises(TypeError, match=r"\bworkers\b"):
        conv2d_weight(workers=1.5)


def test_rejected_call_leaves_out_untouched():
    out = np.full((2, 6, 5, 6), 7.0)
    with pytest.raises(nn.ConvolutionError):
        conv2d(bias=np.ones(5), out=out)
    assert np.all(out == 7.0)
