"""The seed's network trained with fastcorr.nn on scikit-learn's bundled 8x8 digits.

    conv 3x3, 1 -> 16 channels, padding 1  (fastcorr.nn.conv2d)
    -> ReLU -> 2x2 max-pool -> fully connected 256 -> 10 -> softmax cross-entropy

Forward and backward are written out in NumPy; the convolution and its weight gradient are
fastcorr.nn's (``conv2d``, ``conv2d_weight``).  The gradient with respect to the network's input
(``conv2d_input``) is not needed to train a first layer, so training skips it; ``backward`` computes
it when asked (``input_grad=True``), which is how tests/test_example_cnn.py checks it against
finite differences.  Adam is written out too.  Every function keeps the dtype of its arrays, so
the same code runs in float32 (training) and float64 (the gradient check).

Usage::

    python examples/cnn_digits.py [--epochs N] [--png PATH] [--quick]

prints per epoch the mean training loss, the accuracy on the training and test sets and the
epoch's time, and saves a PNG of the curves and the learned filters (docs/cnn_digits.png by
default; --quick runs two epochs and writes a PNG only if --png is given).
"""
import argparse
import os
import sys
import time

import numpy as np

import fastcorr.nn

CHANNELS = 16
KERNEL = 3
CLASSES = 10
POOL = 2


# ----------------------------------------------------------------------------------------- data
def load_data(dtype=np.float32, test_size=0.25, random_state=0):
    """The 1797 digits as (N, 1, 8, 8) images in [0, 1], split stratified into train and test.

    Returns
    -------
    x_train, y_train, x_test, y_test : ndarray
        Images of `dtype`, labels int64 in 0..9.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixels are counts 0..16 (an 8x8 grid of 4x4 blocks of a 32x32 bitmap).
    x = (digits.images / 16.0).astype(dtype)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=random_state)
    return x_train, y_train, x_test, y_test


# -------------------------------------------------------------------------------------- network
def init_params(rng, channels=CHANNELS, image_shape=(8, 8), dtype=np.float32):
    """Weights drawn from `rng`: He-normal for the convolution (it feeds a ReLU), LeCun-normal for
    the output layer (it feeds a softmax), zero biases.

    Returns
    -------
    dict of ndarray
        ``conv_w`` (channels, 1, 3, 3), ``conv_b`` (channels,), ``fc_w`` (features, 10),
        ``fc_b`` (10,), all of `dtype`.
    """
    features = channels * (image_shape[0] // POOL) * (image_shape[1] // POOL)
    fan_in_conv = KERNEL * KERNEL
    return {
        "conv_w": (rng.standard_normal((channels, 1, KERNEL, KERNEL))
                   * np.sqrt(2.0 / fan_in_conv)).astype(dtype),
        "conv_b": np.zeros(channels, dtype),
        "fc_w": (rng.standard_normal((features, CLASSES)) / np.sqrt(features)).astype(dtype),
        "fc_b": np.zeros(CLASSES, dtype),
    }


def max_pool(a):
    """2x2 max-pool with stride 2 over the last two axes of `a` (N, C, H, W), H and W even.

    Returns
    -------
    pooled : ndarray (N, C, H/2, W/2)
    argmax : ndarray of int (N, C, H/2, W/2)
        Which of the window's four values (row-major) was taken; on ties the first.
    """
    n, c, h, w = a.shape
    windows = (a.reshape(n, c, h // POOL, POOL, w // POOL, POOL)
               .transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // POOL, w // POOL, POOL * POOL))
    argmax = windows.argmax(axis=-1)
    pooled = np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]
    return pooled, argmax


def max_pool_backward(grad, argmax, shape):
    """The gradient of `max_pool` routed to the value each window took (one of them on ties:
    the pooled output is a function of that one input only, so this is its exact derivative
    wherever the maximum is unique, and a valid subgradient where it is not)."""
    n, c, h, w = shape
    windows = np.zeros((n, c, h // POOL, w // POOL, POOL * POOL), grad.dtype)
    np.put_along_axis(windows, argmax[..., None], grad[..., None], axis=-1)
    return (windows.reshape(n, c, h // POOL, w // POOL, POOL, POOL)
            .transpose(0, 1, 2, 4, 3, 5).reshape(shape))


def forward(params, x):
    """Logits of the network for images `x` (N, 1, H, W).

    Returns
    -------
    logits : ndarray (N, 10)
    cache : dict
        What `backward` needs: the input, the convolution's output, the pooling's choices and the
        pooled features.
    """
    z = fastcorr.nn.conv2d(x, params["conv_w"], params["conv_b"], padding=KERNEL // 2)
    # max(relu(z)) over a window equals relu(max(z)), but pooling after the ReLU keeps the
    # network's order; the ReLU's mask comes from z.
    a = np.maximum(z, 0)
    pooled, argmax = max_pool(a)
    features = pooled.reshape(len(x), -1)
    logits = features @ params["fc_w"] + params["fc_b"]
    return logits, {"x": x, "z": z, "argmax": argmax, "features": features}


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(`logits`) against integer `labels`, and its gradient.

    The maximum of each row is subtracted before exponentiating, so no exp overflows and the
    largest term of each sum is exactly 1 (the log of the sum cannot be log 0).

    Returns
    -------
    loss : float
    grad : ndarray like `logits`
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    log_p = shifted[rows, labels] - np.log(total[:, 0])
    grad = exp / total
    grad[rows, labels] -= 1
    grad /= len(labels)
    return float(-log_p.mean()), grad


def backward(params, cache, grad_logits, input_grad=False):
    """Gradients of the loss with respect to every parameter, given its gradient w.r.t. the logits.

    Parameters
    ----------
    params, cache : dict
        As given to and returned by `forward`.
    grad_logits : ndarray (N, 10)
    input_grad : bool
        Also return the gradient with respect to the input images (``"x"``), through
        fastcorr.nn.conv2d_input.  Training does not need it: the input is data.

    Returns
    -------
    dict of ndarray
        One gradient per key of `params` (and ``"x"`` if `input_grad`), each of its dtype.
    """
    x, z = cache["x"], cache["z"]
    grads = {"fc_w": cache["features"].T @ grad_logits, "fc_b": grad_logits.sum(axis=0)}
    grad_features = grad_logits @ params["fc_w"].T
    grad_a = max_pool_backward(grad_features.reshape(cache["argmax"].shape), cache["argmax"],
                               z.shape)
    grad_z = grad_a * (z > 0)
    grads["conv_w"] = fastcorr.nn.conv2d_weight(x, params["conv_w"].shape, grad_z,
                                                padding=KERNEL // 2)
    grads["conv_b"] = grad_z.sum(axis=(0, 2, 3))
    if input_grad:
        grads["x"] = fastcorr.nn.conv2d_input(x.shape, params["conv_w"], grad_z,
                                              padding=KERNEL // 2)
    return grads


def predict(params, x, batch_size=512):
    """Class predictions for `x`, `batch_size` images at a time."""
    return np.concatenate([forward(params, x[i:i + batch_size])[0].argmax(axis=1)
                           for i in range(0, len(x), batch_size)])


# ------------------------------------------------------------------------------------ optimizer
class Adam:
    """Adam (Kingma and Ba, 2015) on a dict of arrays, updated in place.

    The moments have the parameters' dtype; the bias corrections are folded into the step size,
    as in the paper's section 2 (so `eps` is added to the uncorrected second moment's root).
    """

    def __init__(self, params, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        step = (self.lr * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t))
        for k, p in params.items():
            g = grads[k]
            self.m[k] *= self.beta1
            self.m[k] += (1 - self.beta1) * g
            self.v[k] *= self.beta2
            self.v[k] += (1 - self.beta2) * g * g
            p -= step * self.m[k] / (np.sqrt(self.v[k]) + self.eps)


# ------------------------------------------------------------------------------------- training
def train(epochs=15, batch_size=32, lr=1e-2, channels=CHANNELS, seed=0, dtype=np.float32,
          data=None, max_batches=None, log=print):
    """Train the network with Adam on shuffled mini-batches.

    Parameters
    ----------
    epochs : int
    batch_size : int
    lr : float
        Adam's step size; halved at the start of each third of the epochs after the first.
    channels : int
        Output channels of the convolution.
    seed : int
        Seeds the weights and the shuffling: the run is reproducible.
    dtype : dtype
        float32 or float64, of the images and weights.
    data : tuple, optional
        (x_train, y_train, x_test, y_test), as `load_data` returns; loaded if None.
    max_batches : int, optional
        Stop after this many mini-batches in all (a short run, for tests).
    log : callable or None
        Called with one line per epoch.

    Returns
    -------
    dict
        ``params`` (the trained weights), ``batch_loss`` (every mini-batch's loss before its
        step), and per epoch ``loss`` (mean of its batch losses), ``train_acc``, ``test_acc``,
        ``time`` (seconds, training and evaluation).
    """
    x_train, y_train, x_test, y_test = load_data(dtype) if data is None else data
    rng = np.random.default_rng(seed)
    params = init_params(rng, channels, x_train.shape[2:], dtype)
    optimizer = Adam(params, lr=lr)
    history = {"params": params, "batch_loss": [], "loss": [], "train_acc": [], "test_acc": [],
               "time": []}
    done = 0
    for epoch in range(epochs):
        start = time.perf_counter()
        # A step halving schedule: Adam's fixed step leaves the loss rattling around the minimum;
        # a few smaller steps at the end settle it.
        optimizer.lr = lr * 0.5 ** (3 * epoch // max(epochs, 1))
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch_size):
            if max_batches is not None and done >= max_batches:
                break
            batch = order[i:i + batch_size]
            logits, cache = forward(params, x_train[batch])
            loss, grad_logits = softmax_cross_entropy(logits, y_train[batch])
            optimizer.step(params, backward(params, cache, grad_logits))
            losses.append(loss)
            done += 1
        if not losses:
            break
        history["batch_loss"].extend(losses)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(float(np.mean(predict(params, x_train) == y_train)))
        history["test_acc"].append(float(np.mean(predict(params, x_test) == y_test)))
        history["time"].append(time.perf_counter() - start)
        if log is not None:
            log(f"epoch {epoch + 1:3d}  loss {history['loss'][-1]:.4f}  "
                f"train acc {history['train_acc'][-1]:.4f}  "
                f"test acc {history['test_acc'][-1]:.4f}  time {history['time'][-1]:.2f} s")
    return history


# ----------------------------------------------------------------------------------------- plot
def plot(history, path):
    """Save the per-epoch loss and accuracy curves and the learned first-layer filters to `path`.

    Returns False (and says so) if matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no PNG written")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    filters = history["params"]["conv_w"][:, 0]
    columns = int(np.ceil(np.sqrt(len(filters))))
    rows = int(np.ceil(len(filters) / columns))
    fig = plt.figure(figsize=(11, 3.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[2, 1])
    ax_loss, ax_acc = left.subplots(1, 2)
    ax_loss.plot(epochs, history["loss"], "o-")
    ax_loss.set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="loss")
    ax_acc.plot(epochs, history["train_acc"], "o-", label="train")
    ax_acc.plot(epochs, history["test_acc"], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy",
               title=f"accuracy (final test {history['test_acc'][-1]:.1%})")
    ax_acc.legend()
    ax_acc.grid(alpha=0.3)
    # One symmetric colour scale for all filters, so their weights compare across panels.
    limit = np.abs(filters).max()
    axes = right.subplots(rows, columns)
    for ax, k in zip(axes.flat, range(rows * columns)):
        ax.set_axis_off()
        if k < len(filters):
            ax.imshow(filters[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
    right.suptitle("learned 3x3 filters")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 15, --quick 2)")
    parser.add_argument("--png", default=None,
                        help="where to save the figure (default docs/cnn_digits.png; "
                             "with --quick, none unless given)")
    parser.add_argument("--quick", action="store_true", help="a two-epoch smoke run")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 15)
    png = args.png
    if png is None and not args.quick:
        png = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "docs",
                           "cnn_digits.png")

    start = time.perf_counter()
    data = load_data()
    print(f"digits: {len(data[0])} train, {len(data[2])} test images, 8x8, float32")
    history = train(epochs=epochs, data=data)
    total = time.perf_counter() - start
    print(f"final test accuracy {history['test_acc'][-1]:.4f}, "
          f"total {total:.2f} s (data, training and evaluation)")
    if png is not None and plot(history, png):
        print(f"figure saved to {os.path.normpath(png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
