"""
A small CNN trained with fastcorr.nn
====================================

The network fastcorr started from (conv 3x3 with 16 channels, ReLU, 2x2 max-pool, one fully
connected layer) trained on scikit-learn's bundled 8x8 digits, with the convolution and its
weight gradient computed by :func:`fastcorr.nn.conv2d` and :func:`fastcorr.nn.conv2d_weight`.
The network, its NumPy backward pass, Adam and the training loop are those of
``examples/cnn_digits.py``, imported here; this page shows the per-epoch loss and accuracy,
the 16 filters the network learns, test digits with its predictions, and (when PyTorch is
installed) the layer's gradients against ``torch.autograd``.
"""
# sphinx_gallery_capture_repr = ()
import time

import matplotlib.pyplot as plt
import numpy as np

import cnn_digits  # examples/cnn_digits.py: one copy of the network
import fastcorr

config = fastcorr.show_config(mode="dicts")
THREADS = config["openmp"]["max_threads"]
SIMD = config["simd"]["selected"]

# %%
# Training
# --------
# ``cnn_digits.train`` runs Adam on shuffled mini-batches of 32 (its step size halved at each
# third of the run) and returns the history: every mini-batch's loss and, per epoch, the mean
# training loss, the accuracy on the training and test sets and the epoch's time.  The run is
# seeded, so its numbers repeat; the times are this machine's.  15 epochs, as the README's run,
# take a few seconds.
EPOCHS = 15
data = cnn_digits.load_data()
x_train, y_train, x_test, y_test = data
print(f"digits: {len(x_train)} training and {len(x_test)} test images, 8x8 float32; "
      f"fastcorr on {THREADS} threads, SIMD path {SIMD}")
start = time.perf_counter()
history = cnn_digits.train(epochs=EPOCHS, data=data)
elapsed = time.perf_counter() - start
params = history["params"]
accuracy = history["test_acc"][-1]
print(f"final test accuracy {accuracy:.2%} after {EPOCHS} epochs, {elapsed:.2f} s of training "
      f"and evaluation ({THREADS} threads, {SIMD})")
assert accuracy > 0.95

# %%
# Loss and accuracy per epoch
# ---------------------------
# The mean loss falls from about 1 to about 0.02; test accuracy passes 95% within a few
# epochs, and the smaller steps of the last two thirds let the training loss settle.  The grey
# points are the single mini-batches' losses, noisy as batches of 32 are.
epochs = np.arange(1, EPOCHS + 1)
batches = len(history["batch_loss"]) // EPOCHS
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ax_loss.plot(np.arange(1, len(history["batch_loss"]) + 1) / batches, history["batch_loss"],
             ".", ms=2, color="0.7", label="mini-batch")
ax_loss.plot(epochs, history["loss"], "o-", label="epoch mean")
ax_loss.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
            title="loss")
ax_loss.legend()
ax_acc.plot(epochs, history["train_acc"], "o-", label="train")
ax_acc.plot(epochs, history["test_acc"], "s-", label="test")
ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0.85, 1.0),
           title=f"accuracy (final test {accuracy:.1%})")
ax_acc.grid(alpha=0.3)
ax_acc.legend()
fig.suptitle(f"{EPOCHS} epochs in {elapsed:.1f} s ({THREADS} threads, {SIMD} path)")

# %%
# The learned filters
# -------------------
# The 16 3x3 kernels of the convolution after training, on one symmetric colour scale (red
# positive, blue negative) so their weights compare across panels.  On 8x8 digits with 16
# channels they are rough, but several are oriented differences (a positive side against a
# negative one: edge detectors at some angle) and others respond to a bar or a corner.
filters = params["conv_w"][:, 0]
limit = float(np.abs(filters).max())
fig, axes = plt.subplots(2, 8, figsize=(10, 3), layout="constrained")
for k, ax in enumerate(axes.flat):
    image = ax.imshow(filters[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"filter {k}", fontsize=8)
    ax.set_axis_off()
fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
fig.suptitle("the 16 learned 3x3 filters (conv_w[:, 0])")

# %%
# Test digits and predictions
# ---------------------------
# The first test images it gets right, then (in red, with the true label) those it gets
# wrong, up to eight.  ``cnn_digits.predict`` runs the forward pass, batch by batch.
predicted = cnn_digits.predict(params, x_test)
wrong = np.flatnonzero(predicted != y_test)
print(f"{len(wrong)} of {len(y_test)} test digits misclassified")
right = np.flatnonzero(predicted == y_test)
shown = list(right[:24 - min(len(wrong), 8)]) + list(wrong[:8])
fig, axes = plt.subplots(3, 8, figsize=(10, 4.4), layout="constrained")
for ax, i in zip(axes.flat, shown):
    ax.imshow(x_test[i, 0], cmap="gray_r", vmin=0, vmax=1)
    ok = predicted[i] == y_test[i]
    ax.set_title(f"predicted {predicted[i]}" + ("" if ok else f"\n(true {y_test[i]})"),
                 fontsize=9, color="black" if ok else "tab:red")
    ax.set_axis_off()
for ax in axes.flat[len(shown):]:
    ax.set_axis_off()
fig.suptitle(f"test digits (8x8): {len(wrong)} of {len(y_test)} wrong, "
             f"accuracy {accuracy:.1%}")

# %%
# The gradients against PyTorch
# -----------------------------
# The backward pass writes out by hand what autograd would derive.  With PyTorch installed,
# the trained network's gradients on 64 test digits are computed both ways in float64
# (``cnn_digits.backward`` with ``input_grad=True`` also runs
# :func:`fastcorr.nn.conv2d_input`, the gradient with respect to the images); they must agree
# to rounding.  Without PyTorch this step is skipped.
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

if torch is not None:
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    x64, labels = x_test[:64].astype(np.float64), y_test[:64]
    logits, cache = cnn_digits.forward(params64, x64)
    loss, grad_logits = cnn_digits.softmax_cross_entropy(logits, labels)
    ours = cnn_digits.backward(params64, cache, grad_logits, input_grad=True)

    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params64.items()}
    x_t = torch.tensor(x64, requires_grad=True)
    z = F.conv2d(x_t, tensors["conv_w"], tensors["conv_b"], padding=cnn_digits.KERNEL // 2)
    pooled = F.max_pool2d(F.relu(z), cnn_digits.POOL)
    logits_t = pooled.flatten(1) @ tensors["fc_w"] + tensors["fc_b"]
    loss_t = F.cross_entropy(logits_t, torch.tensor(labels))
    loss_t.backward()
    theirs = {k: t.grad.numpy() for k, t in tensors.items()}
    theirs["x"] = x_t.grad.numpy()
    print(f"loss: ours {loss:.12f}, torch {loss_t.item():.12f}")
    for key in ("conv_w", "conv_b", "x", "fc_w"):
        error = np.abs(ours[key] - theirs[key]).max() / np.abs(theirs[key]).max()
        print(f"gradient w.r.t. {key:6s} max |ours - torch| / max |torch| = {error:.1e}")
        assert error < 1e-10
