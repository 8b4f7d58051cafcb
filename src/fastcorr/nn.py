"""The convolutional layer of a CNN, forward and backward, with PyTorch's conventions.

``conv2d`` is ``torch.nn.functional.conv2d`` on NumPy arrays (NCHW, stride, zero padding,
dilation, groups, bias); ``conv2d_input`` and ``conv2d_weight`` are the gradients with the
signatures of ``torch.nn.grad.conv2d_input`` / ``conv2d_weight``; ``conv1d`` and its gradients
are the same with one spatial axis.  Like the rest of fastcorr, "convolution" here is what deep
learning calls it: a correlation (the kernel is not flipped).

How it runs.  Every call becomes a few stride-1 'valid' correlations over *planes*, summed
over the planes of a group, in the compiled core.  Along each axis, with g = gcd(stride,
dilation), the outputs split into dilation/g phases and the kernel taps into stride/g phases;
each pair reads its own plane of the zero-padded input (every stride/g-th of every
dilation-th position), with the kernel of the taps landing on it.  So a stride-s layer is a
stride-1 layer over s*s times the channels with kernels s*s times smaller, a dilated layer is
dilation**2 undilated layers on interleaved outputs, and no output is computed and thrown away,
no zero of a dilated kernel multiplied (a NaN or infinity in the input reaches exactly the
outputs whose windows hold it, as in torch).  Phases whose kernels differ in size (a 3-tap
kernel at stride 2 has phases of 2 and 1 taps) are separate calls adding into the same outputs.
Padding, and the zero-insertion of the input gradient's upsampling, are entries of the index
maps the core reads the input through; no padded or upsampled copy is made (the input
gradient of a stride-s layer does multiply the upsampled gradient's zeros: s*s times the FMAs
of stride 1).

The core's work units are (image, group, band of output rows).  A unit builds the band of
every plane of its group in a per-thread scratch and runs a kernel along the band's rows as one
flat sequence (the outputs whose window crosses a row end are computed and dropped), keeping 4
output channels x 6 vectors of accumulators in registers (AVX-512; 2 x 6 on AVX2), so each input
vector it loads feeds 4 channels; a group with one output channel (depthwise layers) runs the
single-channel 3-D kernel instead, reading the image in place where no padding is needed and
writing straight into the result.  The scratch of a thread holds ``C/groups * P * (band + kh -
1) * Wp`` values (P phases, Wp = OW + kw - 1) with the band the tallest that keeps it under 512
KiB (1 MiB with the weight gradient's output-gradient band) and at least one row, plus 64 KiB of
outputs; nothing the size of the input is allocated.  The weight gradient gives each thread its
own partial sums (the size of the weights) and adds them in thread order.

Accuracy.  Each output is a sum of K products (``K = C/groups * kh * kw`` for ``conv2d``,
``N * OH * OW`` for each weight-gradient entry, at most ``O/groups * kh * kw`` for the input
gradient), accumulated in the computed dtype: the error is at most about ``K * eps`` times the
sum of the products' magnitudes (eps = 2**-24 for float32, 2**-53 for float64); the order of
the weight gradient's sum across threads depends on the schedule, so repeated calls can differ
in the last bits.

Dtypes follow fastcorr's one promotion table: float32 stays float32, float64 float64, integers
and bools compute in float64, and a float32 input with a float64 weight computes in float64
(torch refuses mixed dtypes).  Complex layers are not implemented (NotImplementedError).
"""
import math
import numbers

import numpy as np

from . import _core
from ._engine.dtypes import as_array, working_dtype
from ._engine.threads import resolve_workers

__all__ = ["conv2d", "conv2d_input", "conv2d_weight", "conv1d", "conv1d_input",
           "conv1d_weight", "ConvolutionError"]


class ConvolutionError(ValueError, RuntimeError):
    """Bad arguments to a layer: a ValueError for NumPy users and a RuntimeError, the class
    ``torch.nn.functional.conv2d`` raises for the same mistakes.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> try:
    ...     nn.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 2, 3, 3)))
    ... except RuntimeError as error:   # caught as torch users catch it (or as ValueError)
    ...     print(error)
    Given groups=1, weight of size [4, 2, 3, 3], expected input[1, 3, 8, 8] to have 2 channels, but got 3 channels instead
    """


# ----------------------------------------------------------------------------- arguments
def _ints(value, name, n):
    """`value` (an int or a sequence of n ints) as a tuple of n positive ints."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)):
        if not all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
                   for v in value):
            raise TypeError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
        if len(value) != n:
            raise ConvolutionError(
                f"expected {name} to be a single integer value or a list of {n} values to "
                f"match the convolution dimensions, but got {name}={list(value)}")
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{name} must be an int or a sequence of {n} ints, "
                        f"got {type(value).__name__}")
    if any(v <= 0 for v in values):
        raise ConvolutionError(f"non-positive {name} is not supported, got {name}={value!r}")
    return values


def _padding(padding, n, kernel, stride, dilation):
    """Per spatial axis, the zero padding (before, after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConvolutionError(
                    "padding='same' is not supported for strided convolutions (stride="
                    f"{stride})")
            # torch: the total is dilation*(k-1), the smaller half before.
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ConvolutionError(f"Invalid padding string: {padding!r} (padding takes an int, "
                               f"{n} ints, 'valid' or 'same')")
    if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, bool):
        values = (int(padding),) * n
    elif isinstance(padding, (tuple, list)) and all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in padding):
        if len(padding) != n:
            raise ConvolutionError(
                "expected padding to be a single integer value or a list of "
                f"{n} values to match the convolution dimensions, but got padding="
                f"{list(padding)}")
        values = tuple(int(v) for v in padding)
    else:
        raise TypeError(f"padding must be an int, a sequence of {n} ints, 'valid' or 'same', "
                        f"got {padding!r}")
    if any(v < 0 for v in values):
        raise ConvolutionError(f"negative padding is not supported, got padding={padding!r}")
    return tuple((v, v) for v in values)


def _array(value, name):
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    arr = as_array(value, name)
    if arr.dtype.kind == "c":
        raise NotImplementedError(
            f"{name} is complex: fastcorr.nn does not implement complex layers (split the "
            "real and imaginary parts into channels, or use torch)")
    working_dtype(arr.dtype, name)  # ValueError for object, string, ... dtypes
    return arr


def _dtype(*arrays):
    """fastcorr's promotion of the arrays' dtypes (float32 only when all are float32)."""
    dts = {working_dtype(a.dtype, "input") for a in arrays}
    return np.dtype(np.float32) if dts == {np.dtype(np.float32)} else np.dtype(np.float64)


def _output_size(size, pad, kernel, stride, dilation):
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


class _Layer:
    """A layer's geometry, checked: n spatial axes (1 or 2), computed as 2 (1-D puts a unit
    height in front)."""

    def __init__(self, n, x_shape, w_shape, stride, padding, dilation, groups, who):
        self.n = n
        if isinstance(groups, bool) or not isinstance(groups, (numbers.Integral, np.integer)):
            raise TypeError(f"groups must be an int, got {type(groups).__name__}")
        groups = int(groups)
        if groups <= 0:
            raise ConvolutionError(f"non-positive groups is not supported, got groups={groups}")
        if len(w_shape) != n + 2:
            raise ConvolutionError(
                f"{who}: weight must have {n + 2} dimensions (out_channels, in_channels/groups"
                f", {'kH, kW' if n == 2 else 'kW'}), got shape {tuple(w_shape)}")
        self.stride = _ints(stride, "stride", n)
        self.dilation = _ints(dilation, "dilation", n)
        kernel = tuple(w_shape[2:])
        self.padding = _padding(padding, n, kernel, self.stride, self.dilation)
        o, cg = w_shape[:2]
        if o % groups:
            raise ConvolutionError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at "
                f"dimension 0, but got weight of size {list(w_shape)} instead")
        if any(k < 1 for k in kernel) or cg < 1:
            raise ConvolutionError(f"{who}: weight of size {list(w_shape)} is empty")
        if x_shape[1] != groups * cg:
            raise ConvolutionError(
                f"Given groups={groups}, weight of size {list(w_shape)}, expected input"
                f"{list(x_shape)} to have {groups * cg} channels, but got {x_shape[1]} "
                "channels instead")
        self.groups, self.o, self.cg, self.kernel = groups, o, cg, kernel
        self.c = x_shape[1]
        self.in_size = tuple(x_shape[2:])
        padded = [s + p[0] + p[1] for s, p in zip(self.in_size, self.padding)]
        dilated = [d * (k - 1) + 1 for d, k in zip(self.dilation, kernel)]
        if any(p < k for p, k in zip(padded, dilated)):
            raise ConvolutionError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))})"
                f". Kernel size: ({' x '.join(map(str, dilated))}). Kernel size can't be "
                "greater than actual input size")
        self.out_size = tuple(_output_size(*a) for a in zip(
            self.in_size, self.padding, kernel, self.stride, self.dilation))
        self.key = (n, self.in_size, kernel, self.stride, self.padding, self.dilation)

    def as2d(self):
        """(in_size, out_size, kernel, stride, padding, dilation) with two spatial axes."""
        if self.n == 2:
            return (self.in_size, self.out_size, self.kernel, self.stride, self.padding,
                    self.dilation)
        return ((1,) + self.in_size, (1,) + self.out_size, (1,) + self.kernel,
                (1,) + self.stride, ((0, 0),) + self.padding, (1,) + self.dilation)


# ----------------------------------------------------------------------------- planes
# A layer is cut into parts the core computes exactly: along each axis, with g = gcd(s, d),
# output i = m*i' + r (m = d/g output phases) and kernel tap a = s'*a'' + e (s' = s/g stride
# phases) read input position d*(s'*(i' + a'') + e) + s*r - before.  So output phase r is a
# stride-1, dilation-1 correlation summed over the planes e (the input at d*(s'*t + e) + s*r)
# with the kernels of taps e, e + s', ...  No tap of a dilated kernel's zeros and no padding of
# a shorter phase kernel is ever multiplied: a NaN or an infinity reaches exactly the outputs
# whose windows hold it, as in torch, and no multiply-add is spent on a structural zero.
def _axis_parts(k, s, d, n_out, source):
    """Per output phase r: (r, outputs, [(e, taps, index map)]); `source` maps positions
    (before padding is subtracted) to input indices or -1."""
    g = math.gcd(s, d)
    sp, m = s // g, d // g
    parts = []
    for r in range(m):
        n_r = len(range(r, n_out, m))
        if n_r == 0:
            continue
        phases = []
        for e in range(min(sp, k)):
            taps = len(range(e, k, sp))
            t = np.arange(n_r + taps - 1, dtype=np.intp)
            phases.append((e, taps, source(d * (sp * t + e) + s * r)))
        parts.append((r, n_r, phases))
    return m, sp, parts


def _padded_source(before, size):
    def source(pos):
        src = pos - before
        return np.where((src >= 0) & (src < size), src, -1).astype(np.intp)
    return source


def _upsampled_source(before, stride, size):
    """The output gradient upsampled by `stride` (zeros between its samples), padded."""
    def source(pos):
        q = pos - before
        ok = (q >= 0) & (q % stride == 0) & (q // stride < size)
        return np.where(ok, q // stride, -1).astype(np.intp)
    return source


class _Part:
    """One core call: output phase (rh, rw), phase pairs sharing a kernel shape."""

    def __init__(self, rh, rw, pairs, kh, kw, rowmaps, colmaps, plane_rmap, plane_cmap):
        self.rh, self.rw, self.pairs, self.kh, self.kw = rh, rw, pairs, kh, kw
        self.rowmaps = np.ascontiguousarray(np.stack(rowmaps))
        self.colmaps = colmaps
        self.plane_rmap = np.asarray(plane_rmap, dtype=np.intp)
        self.plane_cmap = np.asarray(plane_cmap, dtype=np.intp)


class _Plan:
    def __init__(self, kernel, axes):
        (mh, sph, rows), (mw, spw, cols) = axes
        self.m, self.sp, self.kernel = (mh, mw), (sph, spw), kernel
        self.parts = []
        for rh, _, row_phases in rows:
            for rw, _, col_phases in cols:
                shapes = {}
                for eh, th, rmap in row_phases:
                    for ew, tw, cmap in col_phases:
                        shapes.setdefault((th, tw), []).append((eh, ew, rmap, cmap))
                for (th, tw), pairs in shapes.items():
                    ehs = sorted({p[0] for p in pairs})
                    ews = sorted({p[1] for p in pairs})
                    rmaps = {p[0]: p[2] for p in pairs}
                    cmaps = {p[1]: p[3] for p in pairs}
                    self.parts.append(_Part(
                        rh, rw, [(p[0], p[1]) for p in pairs], th, tw,
                        [rmaps[e] for e in ehs], [cmaps[e] for e in ews],
                        [ehs.index(p[0]) for p in pairs], [ews.index(p[1]) for p in pairs]))

    def weights(self, w, part):
        """(O, Cg, kh, kw) weights as part's (O, Cg * pairs, th, tw) phase kernels."""
        (sph, spw) = self.sp
        if (sph, spw) == (1, 1):  # one phase: the kernels themselves
            return w
        o, cg = w.shape[:2]
        out = np.empty((o, cg, len(part.pairs), part.kh, part.kw), w.dtype)
        for j, (eh, ew) in enumerate(part.pairs):
            out[:, :, j] = w[:, :, eh::sph, ew::spw]
        return out.reshape(o, cg * len(part.pairs), part.kh, part.kw)

    def scatter(self, dw, dw_part, part):
        """Adds a part's phase-kernel gradient into the (O, Cg, kh, kw) gradient."""
        (sph, spw) = self.sp
        o, cg = dw.shape[:2]
        g = dw_part.reshape(o, cg, len(part.pairs), part.kh, part.kw)
        for j, (eh, ew) in enumerate(part.pairs):
            dw[:, :, eh::sph, ew::spw] += g[:, :, j]


# Plans and checked geometries of recent layers: a training loop calls the same few layers
# with the same shapes, and planning one costs tens of microseconds, checking its arguments
# about twenty: as much as a small layer's arithmetic.
_PLANS = {}
_LAYERS = {}
_MAX_PLANS = 64


def _remember(cache, key, value):
    if len(cache) >= _MAX_PLANS:
        try:  # the oldest entry; another thread may have taken it
            del cache[next(iter(cache))]
        except (KeyError, RuntimeError, StopIteration):
            pass
    cache[key] = value


def _plain(value):
    """Whether `value` is an int, a str or a tuple of ints, nothing else (a bool or a numpy
    integer is checked by _Layer every time, as are lists)."""
    kind = type(value)
    return kind is int or kind is str or (kind is tuple and all(type(v) is int for v in value))


def _layer(n, x_shape, w_shape, stride, padding, dilation, groups, who):
    """_Layer(...), from the cache where the arguments were seen and checked before."""
    key = (n, tuple(x_shape), tuple(w_shape), stride, padding, dilation, groups)
    plain = all(_plain(v) for v in key[3:])
    layer = _LAYERS.get(key) if plain else None
    if layer is None:
        layer = _Layer(n, x_shape, w_shape, stride, padding, dilation, groups, who)
        if plain:
            _remember(_LAYERS, key, layer)
    return layer


def _plan(layer, transposed=False):
    """The parts of `layer` (or, `transposed`, of the layer whose output is its input
    gradient: stride 1 over the upsampled output gradient, flipped kernels)."""
    key = (layer.key, transposed)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    in_size, out_size, kernel, st, pad, dil = layer.as2d()
    axes = []
    for i in range(2):
        if transposed:
            before = dil[i] * (kernel[i] - 1) - pad[i][0]
            axes.append(_axis_parts(kernel[i], 1, dil[i], in_size[i],
                                    _upsampled_source(before, st[i], out_size[i])))
        else:
            axes.append(_axis_parts(kernel[i], st[i], dil[i], out_size[i],
                                    _padded_source(pad[i][0], in_size[i])))
    plan = _Plan(kernel, axes)
    _remember(_PLANS, key, plan)
    return plan


def _kernel_layout(w2, groups, outputs):
    """(O, NP, kh, kw) weights in the core's layout: (groups, blocks, NP, kh, kw, ob), for a
    layer of `outputs` outputs per plane."""
    o, n_planes, kh, kw = w2.shape
    og = o // groups
    if og == 1 or _core.few_planes(n_planes, outputs):
        # One channel per block (the single-channel kernels): the kernels' own order.
        return np.ascontiguousarray(w2).reshape(groups, og, n_planes, kh, kw, 1)
    ob = _core.conv_channels()
    blocks = -(-og // ob)
    if og % ob == 0:  # whole blocks: one transposing copy
        return np.ascontiguousarray(
            w2.reshape(groups, blocks, ob, n_planes, kh, kw).transpose(0, 1, 3, 4, 5, 2))
    wl = np.zeros((groups, blocks * ob, n_planes, kh, kw), w2.dtype)
    wl[:, :og] = w2.reshape(groups, og, n_planes, kh, kw)
    wl = wl.reshape(groups, blocks, ob, n_planes, kh, kw).transpose(0, 1, 3, 4, 5, 2)
    return np.ascontiguousarray(wl)


def _run_forward(plan, x, w, bias, y, groups, n_threads):
    """y = the layer of `plan` over x with weights w (O, Cg, kh, kw), plus bias: one core call
    per part, the first of each output phase storing (with the bias), the others adding."""
    (mh, mw) = plan.m
    first = set()
    for part in plan.parts:
        view = y[:, :, part.rh::mh, part.rw::mw]
        phase = (part.rh, part.rw)
        accumulate = phase in first
        first.add(phase)
        _core.conv_forward(x, _kernel_layout(plan.weights(w, part), groups,
                                             view.shape[2] * view.shape[3]), view,
                           None if accumulate else bias, part.plane_rmap, part.plane_cmap,
                           part.rowmaps, part.colmaps, groups, part.kh, part.kw, n_threads,
                           accumulate)


def _as4d(x, n):
    """A batch with two spatial axes: 1-D arrays get a unit height."""
    return x if n == 2 else x[:, :, None, :]


def _native(arr, dtype):
    """`arr` in `dtype`, native byte order and aligned (the core reads its elements as typed
    values; a copy only where one of those differs)."""
    if arr.dtype == dtype and arr.dtype.isnative and arr.flags.aligned:
        return arr  # np.require's checks cost 5 us a call
    return np.require(arr, dtype=dtype, requirements="A")


# ----------------------------------------------------------------------------- the layer
def _conv(n, input, weight, bias, stride, padding, dilation, groups, out, workers):
    who = f"conv{n}d"
    x, w = _array(input, "input"), _array(weight, "weight")
    unbatched = x.ndim == n + 1
    if x.ndim not in (n + 1, n + 2):
        raise ConvolutionError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {who}, but got "
            f"input of size: {list(x.shape)}")
    if unbatched:
        x = x[None]
    arrays = [x, w]
    if bias is not None:
        b = _array(bias, "bias")
        if w.ndim == 0 or b.shape != (w.shape[0],):
            raise ConvolutionError(
                f"Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with"
                f" one element per output channel, but got bias of size {list(b.shape)} "
                "instead")
        arrays.append(b)
    layer = _layer(n, x.shape, w.shape, stride, padding, dilation, groups, who)
    dtype = _dtype(*arrays)
    n_threads = resolve_workers(workers)
    shape = (x.shape[0], layer.o) + layer.out_size
    result_shape = shape[1:] if unbatched else shape
    y = _output(out, result_shape, dtype)
    target = y[None] if unbatched else y
    kernel = layer.as2d()[2]
    xc = _as4d(_native(x, dtype), n)
    wc = _native(w, dtype).reshape((w.shape[0], w.shape[1]) + kernel)
    bc = None if bias is None else np.ascontiguousarray(_native(b, dtype))
    plan = _plan(layer)
    dest = _as4d(target, n)
    # The core writes through any strides, as typed values (so only to an aligned array), and
    # must not write what it still reads.
    scratch = out is not None and (not dest.flags.aligned or any(
        np.may_share_memory(dest, a) and np.shares_memory(dest, a)
        for a in (xc, wc) + ((bc,) if bc is not None else ())))
    tmp = np.empty(dest.shape, dtype) if scratch else dest
    _run_forward(plan, xc, wc, bc, tmp, layer.groups, n_threads)
    if scratch:
        dest[...] = tmp
    return y


def _output(out, shape, dtype):
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ConvolutionError(
            f"out has shape {out.shape} and dtype {out.dtype}; this call needs shape "
            f"{tuple(shape)} and dtype {dtype}")
    if not out.flags.writeable:
        raise ConvolutionError("out is read-only")
    return out


def _grad_args(n, size, name, grad_output, who):
    """The checked shape `size` (input_size or weight_size) and grad_output as an array."""
    if isinstance(size, np.ndarray) or not hasattr(size, "__len__"):
        raise TypeError(f"{name} must be a sequence of ints, got {type(size).__name__}")
    size = tuple(size)
    # Plain ints (x.shape) first: the abstract-class checks cost 2.5 us a call.
    if not all(type(v) is int for v in size) and not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in size):
        raise TypeError(f"{name} must be a sequence of ints, got {size!r}")
    if len(size) != n + 2 or any(v < 0 for v in size):
        raise ConvolutionError(f"{who}: {name} must be {n + 2} non-negative ints "
                               f"(batch, channels, {n} spatial), got {size}")
    return tuple(int(v) for v in size), _array(grad_output, "grad_output")


def _check_grad_output(gy, layer, n_batch, who):
    expected = (n_batch, layer.o) + layer.out_size
    if gy.shape != expected:
        raise ConvolutionError(
            f"{who}: grad_output has shape {gy.shape}; the layer's output has shape {expected}")


def _conv_input(n, input_size, weight, grad_output, stride, padding, dilation, groups,
                workers):
    who = f"conv{n}d_input"
    input_size, gy = _grad_args(n, input_size, "input_size", grad_output, who)
    w = _array(weight, "weight")
    layer = _layer(n, input_size, w.shape, stride, padding, dilation, groups, who)
    _check_grad_output(gy, layer, input_size[0], who)
    dtype = _dtype(w, gy)
    n_threads = resolve_workers(workers)
    dx = np.empty(input_size, dtype)
    if dx.size == 0 or gy.size == 0:
        dx[...] = 0
        return dx
    kernel = layer.as2d()[2]
    g, og, cg = layer.groups, layer.o // layer.groups, layer.cg
    # The transposed layer: a stride-1 correlation of the zero-upsampled output gradient with
    # the flipped kernels, input and output channels swapped within each group.
    wc = _native(w, dtype).reshape((layer.o, cg) + kernel)
    wt = wc.reshape((g, og, cg) + kernel).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    wt = wt.reshape((g * cg, og) + kernel)
    plan = _plan(layer, transposed=True)
    gyc = _as4d(_native(gy, dtype), n)
    _run_forward(plan, gyc, wt, None, _as4d(dx, n), g, n_threads)
    return dx


def _conv_weight(n, input, weight_size, grad_output, stride, padding, dilation, groups,
                 workers):
    who = f"conv{n}d_weight"
    weight_size, gy = _grad_args(n, weight_size, "weight_size", grad_output, who)
    x = _array(input, "input")
    if x.ndim != n + 2:
        raise ConvolutionError(f"{who}: input must have {n + 2} dimensions (batch, channels, "
                               f"{n} spatial), got shape {x.shape}")
    layer = _layer(n, x.shape, weight_size, stride, padding, dilation, groups, who)
    _check_grad_output(gy, layer, x.shape[0], who)
    dtype = _dtype(x, gy)
    n_threads = resolve_workers(workers)
    _, out_size, kernel = layer.as2d()[:3]
    dw = np.zeros((layer.o, layer.cg) + kernel, dtype)
    if x.shape[0] == 0 or 0 in out_size:
        return dw.reshape(weight_size)
    plan = _plan(layer)
    (mh, mw) = plan.m
    xc, gyc = _as4d(_native(x, dtype), n), _as4d(_native(gy, dtype), n)
    # Each part's phase kernels see the output gradient of its output phase; the gradients of
    # a tap from several output phases add.
    # One part of one phase (no stride) is the gradient itself: the core writes it in place.
    whole = len(plan.parts) == 1 and plan.sp == (1, 1)
    for part in plan.parts:
        dw_part = dw if whole else np.empty(
            (layer.o, layer.cg * len(part.pairs), part.kh, part.kw), dtype)
        _core.conv_weight(xc, gyc[:, :, part.rh::mh, part.rw::mw], dw_part, part.plane_rmap,
                          part.plane_cmap, part.rowmaps, part.colmaps, layer.groups, part.kh,
                          part.kw, n_threads)
        if not whole:
            plan.scatter(dw, dw_part, part)
    return dw.reshape(weight_size)


# ----------------------------------------------------------------------------- public
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, out=None,
           workers=None):
    """2-D convolution layer (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] *
    xpad[n, g*C/groups + c, stride*i + dilation*a, stride*j + dilation*b]`` for output channel
    o of group ``g = o // (O/groups)``, where xpad is the input zero-padded by `padding`.

    Parameters
    ----------
    input : array_like, (N, C, H, W) or (C, H, W)
        The batch of images (or one image); any memory layout.
    weight : array_like, (O, C/groups, kH, kW)
        The filters.
    bias : array_like, (O,), optional
        Added to each output channel.
    stride, dilation : int or (int, int), optional
        Positive steps of the output and of the kernel taps.
    padding : int, (int, int), 'valid' or 'same', optional
        Zeros added on both sides of each axis; 'same' (stride 1 only) pads
        ``dilation*(k-1)`` in total, the smaller half before, as torch.
    groups : int, optional
        Input and output channels split into this many groups, each convolved separately
        (``groups == C``: a depthwise layer).
    out : ndarray, optional
        Where to write the result: the result's shape and dtype, any strides.
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, (N, O, OH, OW) or (O, OH, OW)
        ``OH = (H + 2*pH - dH*(kH-1) - 1) // sH + 1``, likewise OW.  float32 when the
        input, weight and bias are float32, else float64.

    Raises
    ------
    ConvolutionError
        (a ValueError and a RuntimeError) for shapes, groups, strides, paddings, dilations
        or an `out` that do not fit, naming the argument.
    TypeError
        For arguments of the wrong type (a float padding, say).
    NotImplementedError
        For complex input or weights.

    Notes
    -----
    Each output sums ``K = C/groups * kH * kW`` products in the computed dtype: its error is
    at most about ``K * eps`` times the sum of their magnitudes.  See the module docstring for
    how strides, dilations and padding are computed.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((2, 1, 3, 3))
    >>> nn.conv2d(x, w, bias=np.array([0.0, 100.0]))[:, :, 0, 0]
    array([[ 45., 145.]])
    >>> nn.conv2d(x, w, padding=1, stride=2).shape
    (1, 2, 2, 2)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, out, workers)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, workers=None):
    """Gradient of `conv2d` with respect to its input, as ``torch.nn.grad.conv2d_input``.

    The transposed convolution: the output gradient, zero-upsampled by `stride`, correlated
    with the 180-degree-rotated filters (input and output channels swapped in each group).

    Parameters
    ----------
    input_size : sequence of 4 ints
        The shape (N, C, H, W) of the layer's input.
    weight : array_like, (O, C/groups, kH, kW)
        The layer's filters.
    grad_output : array_like, (N, O, OH, OW)
        The gradient of the loss with respect to the layer's output.
    stride, dilation : int or (int, int), optional
        The layer's, as in `conv2d`.
    padding : int, (int, int), 'valid' or 'same', optional
        The layer's zero padding, as in `conv2d`.
    groups : int, optional
        The layer's groups.
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, `input_size`
        The gradient with respect to the input.

    Raises
    ------
    ConvolutionError
        If grad_output's shape is not the output shape of the layer with that input size.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> w = np.ones((1, 1, 2, 2))
    >>> nn.conv2d_input((1, 1, 3, 3), w, np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    return _conv_input(2, input_size, weight, grad_output, stride, padding, dilation, groups,
                       workers)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1,
                  *, workers=None):
    """Gradient of `conv2d` with respect to its weight, as ``torch.nn.grad.conv2d_weight``.

    ``dw[o, c, a, b] = sum_{n, i, j} grad_output[n, o, i, j] * xpad[n, c', stride*i +
    dilation*a, stride*j + dilation*b]``: a valid correlation of the input with the output
    gradient, whose "kernel" is as large as the output, summed over the batch.

    Parameters
    ----------
    input : array_like, (N, C, H, W)
        The layer's input.
    weight_size : sequence of 4 ints
        The shape (O, C/groups, kH, kW) of the layer's weight.
    grad_output : array_like, (N, O, OH, OW)
        The gradient of the loss with respect to the layer's output.
    stride, dilation : int or (int, int), optional
        The layer's, as in `conv2d`.
    padding : int, (int, int), 'valid' or 'same', optional
        The layer's zero padding, as in `conv2d`.
    groups : int, optional
        The layer's groups.
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, `weight_size`
        The gradient with respect to the weight.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> nn.conv2d_weight(x, (1, 1, 2, 2), np.ones((1, 1, 2, 2)))[0, 0]
    array([[ 8., 12.],
           [20., 24.]])
    """
    return _conv_weight(2, input, weight_size, grad_output, stride, padding, dilation, groups,
                        workers)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, out=None,
           workers=None):
    """1-D convolution layer (cross-correlation), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    input : array_like, (N, C, L) or (C, L)
    weight : array_like, (O, C/groups, k)
    bias : array_like, (O,), optional
    stride, dilation : int or (int,), optional
        As in `conv2d`, along the one spatial axis.
    padding : int, (int,), 'valid' or 'same', optional
        As in `conv2d`.
    groups : int, optional
        As in `conv2d`.
    out : ndarray, optional
        Where to write the result (its shape and dtype, any strides).
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, (N, O, OL) or (O, OL)
        ``OL = (L + 2*p - d*(k-1) - 1) // s + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> nn.conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 2)))
    array([[[1., 3., 5., 7.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups, out, workers)


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, workers=None):
    """Gradient of `conv1d` with respect to its input, as ``torch.nn.grad.conv1d_input``.

    Parameters
    ----------
    input_size : sequence of 3 ints
        (N, C, L).
    weight : array_like, (O, C/groups, k)
    grad_output : array_like, (N, O, OL)
    stride, dilation : int or (int,), optional
        The layer's, as in `conv1d`.
    padding : int, (int,), 'valid' or 'same', optional
        The layer's zero padding.
    groups : int, optional
        The layer's groups.
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, `input_size`

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> nn.conv1d_input((1, 1, 4), np.ones((1, 1, 2)), np.ones((1, 1, 3)))
    array([[[1., 2., 2., 1.]]])
    """
    return _conv_input(1, input_size, weight, grad_output, stride, padding, dilation, groups,
                       workers)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1,
                  *, workers=None):
    """Gradient of `conv1d` with respect to its weight, as ``torch.nn.grad.conv1d_weight``.

    Parameters
    ----------
    input : array_like, (N, C, L)
    weight_size : sequence of 3 ints
        (O, C/groups, k).
    grad_output : array_like, (N, O, OL)
    stride, dilation : int or (int,), optional
        The layer's, as in `conv1d`.
    padding : int, (int,), 'valid' or 'same', optional
        The layer's zero padding.
    groups : int, optional
        The layer's groups.
    workers : int or None, optional
        Threads; None asks OpenMP, -1 means every CPU.

    Returns
    -------
    ndarray, `weight_size`

    Examples
    --------
    >>> import numpy as np
    >>> from fastcorr import nn
    >>> nn.conv1d_weight(np.arange(4.0).reshape(1, 1, 4), (1, 1, 2), np.ones((1, 1, 3)))
    array([[[3., 6.]]])
    """
    return _conv_weight(1, input, weight_size, grad_output, stride, padding, dilation, groups,
                        workers)
