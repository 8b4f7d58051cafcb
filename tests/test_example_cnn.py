"""examples/cnn_digits.py: a short run learns, and its backward pass is the loss's gradient.

A network can learn with a wrong gradient (a flipped kernel gradient still points downhill often
enough), so the whole backward pass, fastcorr.nn.conv2d_weight and conv2d_input included, is
compared with central differences of the loss in float64.

Tolerance of the gradient check, per parameter p with step h = cbrt(eps) * max(1, |p|):
D(h) = (f(p + h) - f(p - h)) / 2h differs from f'(p) by a truncation error c h^2 (c = f'''/6)
and a rounding error of at most r / h, where r bounds the error of one evaluation of the loss f.
The truncation error is measured rather than guessed: D(2h) - D(h) = 3 c h^2 up to O(h^4) and
rounding, so |D(2h) - D(h)| + 1.5 r / h covers it three times over.  r is derived like the core's
bounds: each logit is a chain of sums of K_f = 9 + 1 + features + 1 products, so it is off by at
most gamma(K_f) times the same network run on absolute values; the loss (log-sum-exp minus the
label's logit, averaged) is off by at most twice that, plus gamma(10 + N + 4) times the size of
the numbers it sums.  The backward pass's own rounding is bounded the same way: gamma(K_b),
K_b = N*H*W + 10 + features (conv2d_weight's sum is the longest), times the backward run on
absolute values.  tol = |D(2h) - D(h)| + 2.5 r / h + that.
Every perturbation is checked to keep the network on the same smooth piece (same ReLU mask,
same max-pool choices), so the difference quotient never straddles a kink.
"""
import importlib.util
import os

import numpy as np
import pytest

import fastcorr.nn

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "cnn_digits.py")
if not os.path.exists(EXAMPLE):
    pytest.skip("examples/ is not beside tests/ (e.g. tests run from an installed wheel)",
                allow_module_level=True)
_spec = importlib.util.spec_from_file_location("cnn_digits", EXAMPLE)
cnn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cnn)

EPS = np.finfo(np.float64).eps


def gamma(k):
    return k * EPS / (1 - k * EPS)


# ----------------------------------------------------------------------------------- learning
def test_short_run_learns():
    pytest.importorskip("sklearn")
    history = cnn.train(epochs=1, batch_size=32, seed=0, max_batches=36, log=None)
    losses = history["batch_loss"]
    assert len(losses) == 36 and np.all(np.isfinite(losses))
    # The first loss is that of a random network, near log(10) = 2.3; a working backward pass
    # brings the last few well below it.
    assert np.mean(losses[-5:]) < 0.7 * losses[0], losses
    assert all(p.dtype == np.float32 for p in history["params"].values())
    assert 0 <= history["test_acc"][0] <= 1


# ------------------------------------------------------------------------------- the gradient
def _problem(channels=cnn.CHANNELS, n=8):
    """A float64 batch and weights with nonzero biases.  Standard-normal images rather than the
    digits: the digits' zero background makes exact ties in the max-pool and exact zeros at the
    ReLU, where the loss has no derivative for finite differences to find."""
    rng = np.random.default_rng(16)
    params = cnn.init_params(rng, channels, (8, 8), np.float64)
    params["conv_b"] = 0.1 * rng.standard_normal(params["conv_b"].shape)
    params["fc_b"] = 0.1 * rng.standard_normal(params["fc_b"].shape)
    x = rng.standard_normal((n, 1, 8, 8))
    labels = rng.integers(0, cnn.CLASSES, n)
    return params, x, labels


def _pattern(cache):
    return (cache["z"] > 0), cache["argmax"]


def _loss(params, x, labels):
    logits, cache = cnn.forward(params, x)
    return cnn.softmax_cross_entropy(logits, labels)[0], _pattern(cache)


def _sample(rng, shape, count):
    """Up to `count` distinct multi-indices into an array of `shape`."""
    size = int(np.prod(shape))
    return [np.unravel_index(i, shape) for i in rng.choice(size, min(size, count), replace=False)]


def gradient_errors(params, x, labels, per_array=12):
    """(name, index, analytic, finite difference, tolerance) for a sample of every parameter's
    entries and of the input's pixels (see the module docstring for the tolerance)."""
    logits, cache = cnn.forward(params, x)
    f0, grad_logits = cnn.softmax_cross_entropy(logits, labels)
    grads = cnn.backward(params, cache, grad_logits, input_grad=True)
    base = _pattern(cache)

    # The same network on absolute values bounds every sum's absolute products.
    abs_params = {k: np.abs(v) for k, v in params.items()}
    abs_logits, _ = cnn.forward(abs_params, np.abs(x))
    features = cache["features"].shape[1]
    k_forward = 9 + 1 + features + 1
    r = (2 * gamma(k_forward) * abs_logits.max(axis=1).mean()
         + gamma(cnn.CLASSES + len(x) + 4) * (abs(f0) + np.ptp(logits, axis=1).max()))
    abs_cache = {"x": np.abs(x), "z": cache["z"], "argmax": cache["argmax"],
                 "features": np.abs(cache["features"])}
    abs_grads = cnn.backward(abs_params, abs_cache, np.abs(grad_logits), input_grad=True)
    k_backward = x.shape[0] * x.shape[2] * x.shape[3] + cnn.CLASSES + features

    rng = np.random.default_rng(0)
    rows = []
    for name in ["conv_w", "conv_b", "fc_w", "fc_b", "x"]:
        target = x if name == "x" else params[name]
        assert grads[name].dtype == np.float64 and grads[name].shape == target.shape, name
        for index in _sample(rng, target.shape, per_array):
            original = target[index]
            h = np.cbrt(EPS) * max(1.0, abs(original))
            quotients = []
            for step in (h, 2 * h):
                values = []
                for sign in (1, -1):
                    target[index] = original + sign * step
                    value, pattern = _loss(params, x, labels)
                    assert all(np.array_equal(a, b) for a, b in zip(pattern, base)), (
                        f"{name}{index} +-{step:g} crosses a ReLU or max-pool kink")
                    values.append(value)
                target[index] = original
                quotients.append((values[0] - values[1]) / (2 * step))
            tol = (abs(quotients[1] - quotients[0]) + 2.5 * r / h
                   + gamma(k_backward) * abs_grads[name][index])
            rows.append((name, index, grads[name][index], quotients[0], tol))
    return rows


def _failures(rows):
    return [row for row in rows if not abs(row[2] - row[3]) <= row[4]]


def test_backward_matches_finite_differences():
    params, x, labels = _problem()
    rows = gradient_errors(params, x, labels)
    assert {row[0] for row in rows} == {"conv_w", "conv_b", "fc_w", "fc_b", "x"}
    assert not _failures(rows), _failures(rows)


@pytest.mark.parametrize("which", ["conv2d_weight", "conv2d_input"])
def test_gradient_check_catches_a_flipped_kernel_gradient(monkeypatch, which):
    """The check above can fail: with the convolution's gradient rotated by 180 degrees (the
    correlation/convolution mix-up), the entries it feeds disagree with the differences."""
    real = getattr(fastcorr.nn, which)
    monkeypatch.setattr(fastcorr.nn, which,
                        lambda *args, **kwargs: real(*args, **kwargs)[..., ::-1, ::-1].copy())
    params, x, labels = _problem()
    failed = {row[0] for row in _failures(gradient_errors(params, x, labels))}
    assert failed == ({"conv_w"} if which == "conv2d_weight" else {"x"})


# ------------------------------------------------------------------------- pieces on their own
def test_max_pool_routes_the_gradient_to_one_maximum():
    # Windows with a unique maximum, two with three equal maxima, one with all four equal.
    a = np.array([[1., 5., 2., 2.],
                  [3., 4., 2., 0.],
                  [7., 7., 1., 1.],
                  [0., 7., 1., 1.]])[None, None]
    pooled, argmax = cnn.max_pool(a)
    np.testing.assert_array_equal(pooled[0, 0], [[5., 2.], [7., 1.]])
    grad = np.array([[10., 20.], [30., 40.]])[None, None]
    routed = cnn.max_pool_backward(grad, argmax, a.shape)
    windows = routed[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    values = a[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    for i in range(2):
        for j in range(2):
            nonzero = np.flatnonzero(windows[i, j])
            # Exactly one entry of each window receives the whole gradient, and it is a maximum.
            assert len(nonzero) == 1 and windows[i, j, nonzero[0]] == grad[0, 0, i, j]
            assert values[i, j, nonzero[0]] == values[i, j].max()


def test_softmax_cross_entropy_is_stable():
    logits = np.array([[1000., 0., -1000.], [-1e4, 1e4, 0.]], np.float32)
    labels = np.array([0, 2])
    loss, grad = cnn.softmax_cross_entropy(logits, labels)
    # Row 0 is certain and right (loss 0), row 1 certain and 1e4 off: the mean is 5000, computed
    # exactly here because every exp is 0 or 1.
    assert loss == 5000.0
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(grad, np.array([[0., 0., 0.], [0., 0.5, -0.5]], np.float32))
