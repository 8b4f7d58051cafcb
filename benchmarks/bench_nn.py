"""asv benchmarks: fastcorr.nn's convolution layer, forward and backward, and torch's.

The shapes, the arrays and the torch calls are ``python -m fastcorr bench --only nn``'s own
(src/fastcorr/_bench/cases.py: NN_SHAPES, nn_cases, nn_arrays; peers.py: NN_PEERS), four of
issue 16's anchor shapes: one input channel (64x1x28x28, 8 filters 5x5), three channels
(8x3x224x224, 16 filters 3x3), many channels (16x64x56x56, 64 filters 3x3) and depthwise
(8x64x56x56, groups=64); stride 1, no padding, float32 and float64, on all usable CPUs.
Forward is ``conv2d`` into an ``out=`` array made once; backward is ``conv2d_input`` and
``conv2d_weight`` together.  A build without fastcorr.nn skips the fastcorr classes; torch's
run only where torch is importable.  Correctness is checked by the benchmark, not here: asv
tracks speed across commits.
"""
import numpy as np

from .bench_correlate import _threads, cases, peers

DTYPES = list(cases.DTYPES)


def _label(case):
    """``64x1x28x28 O=8 5x5``: a case as asv shows the parameter (``groups=`` when not 1)."""
    k = case["k"]
    return (f"{case['N']}x{case['C']}x{case['H']}x{case['W']} O={case['O']} {k}x{k}"
            + (f" groups={case['groups']}" if case["groups"] > 1 else ""))


# The shapes asv tracks, by label: indices into cases.NN_SHAPES (the order).
CASES = {_label(c): c for i, c in enumerate(cases.nn_cases(quick=False)) if i in (0, 2, 4, 5)}
SHAPES = list(CASES)


def _fastcorr_nn():
    try:
        from fastcorr import nn
    except ImportError as exc:  # a build older than the face
        raise NotImplementedError(f"this build has no fastcorr.nn ({exc})")
    return nn


class _Layer:
    params = [DTYPES, SHAPES]
    param_names = ["dtype", "shape"]
    # The depthwise layer's float64 backward in torch takes about 0.5 s a call.
    timeout = 180

    def setup_arrays(self, dtype, shape):
        self.case = CASES[shape]
        self.x, self.weight, self.grad_output = cases.nn_arrays(self.case, dtype)
        self.groups = self.case["groups"]
        self.n = _threads("all")


class ConvLayer(_Layer):
    """fastcorr.nn: conv2d (out=) forward; conv2d_input + conv2d_weight backward."""

    def setup(self, dtype, shape):
        self.nn = _fastcorr_nn()
        self.setup_arrays(dtype, shape)
        self.out = np.empty(self.grad_output.shape, dtype)

    def time_forward(self, dtype, shape):
        self.nn.conv2d(self.x, self.weight, groups=self.groups, out=self.out, workers=self.n)

    def time_backward(self, dtype, shape):
        self.nn.conv2d_input(self.x.shape, self.weight, self.grad_output, groups=self.groups,
                             workers=self.n)
        self.nn.conv2d_weight(self.x, self.weight.shape, self.grad_output, groups=self.groups,
                              workers=self.n)


class ConvLayerTorch(_Layer):
    """torch on the same arrays: F.conv2d forward; torch.nn.grad.conv2d_input +
    conv2d_weight backward (peers.NN_PEERS, as the benchmark calls them)."""

    def setup(self, dtype, shape):
        peer, = peers.NN_PEERS
        try:
            peer.require()
        except (ImportError, OSError) as exc:
            raise NotImplementedError(f"{peer.label}: {peer.package} is not importable ({exc})")
        self.setup_arrays(dtype, shape)
        self.forward, self.backward = peer.make(self.x, self.weight, self.grad_output,
                                                self.groups, self.n)

    def time_forward(self, dtype, shape):
        self.forward()

    def time_backward(self, dtype, shape):
        self.backward()
