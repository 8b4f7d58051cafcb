"""The oracle of the nn face: torch.nn.functional.conv2d and its two gradients, from their
definitions, in extended precision, written apart from fastcorr's code.

torch documents conv2d (cross-correlation, NCHW) as

    out[n, o, i, j] = bias[o]
                      + sum_{c, a, b} w[o, c, a, b] * xp[n, g*Cg + c, i*sh + a*dh, j*sw + b*dw]

where xp is the input zero-padded by (top, bottom) rows and (left, right) columns, Cg = C/groups
input channels per group, g = o // (O/groups) the output channel's group, (sh, sw) the stride,
(dh, dw) the dilation; i, j run over every position whose dilated window lies inside xp.

The two gradients are that sum's derivatives, nothing else:

- conv2d_input(input_size, w, gy) = d/dx sum(out * gy): every output position (i, j) and tap
  (a, b) adds gy[n, o, i, j] * w[o, c, a, b] to the padded input element its product read
  (a scatter-add over the output positions), and the padding is cut away at the end;
- conv2d_weight(x, weight_size, gy) = d/dw sum(out * gy): each weight multiplies the same
  strided window of the padded input at every output position, summed against gy.

Everything is summed by einsum (never BLAS, so 0 * Inf stays NaN and longdouble works) in the
`wide` type: longdouble by default, float64 for the magnitudes the error bound scales with.
The 1-D functions are the 2-D ones on a height of one.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(value):
    """An int or a 1- or 2-sequence as a pair."""
    if np.ndim(value) == 0:
        return (int(value), int(value))
    value = tuple(int(v) for v in value)
    return value * 2 if len(value) == 1 else value


def pads(padding, kernel, dilation, stride=(1, 1)):
    """torch's padding as ((top, bottom), (left, right)): an int or a pair pads both sides of
    each axis equally; 'valid' is none; 'same' pads dilation*(k - 1) in all, the smaller half
    (total // 2) before, the rest after (so one more after for an even dilated span)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        assert padding == "same" and tuple(stride) == (1, 1), (padding, stride)
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in pair(padding))


def output_size(size, kernel, stride, padding, dilation):
    """(OH, OW) of an input of spatial `size`."""
    return tuple((n + before + after - d * (k - 1) - 1) // s + 1
                 for n, k, s, (before, after), d in zip(size, kernel, stride,
                                                        pads(padding, kernel, dilation, stride),
                                                        dilation))


def _geometry(kernel, stride, padding, dilation):
    stride, dilation = pair(stride), pair(dilation)
    return stride, pads(padding, kernel, dilation, stride), dilation


def _windows(xp, kernel, stride, dilation, out_size):
    """(N, C, OH, OW, kh, kw): the padded input element each output position reads at each
    tap.  A window of the dilated span, every dilation-th element of it, every stride-th
    window."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return view[:, :, :out_size[0], :out_size[1]]


def _grouped(a, groups, axis):
    """Split axis `axis` (channels) into (groups, channels per group)."""
    shape = a.shape
    return a.reshape(shape[:axis] + (groups, shape[axis] // groups) + shape[axis + 1:])


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, wide=np.longdouble):
    """The forward, (N, C, H, W) or (C, H, W) input, exact to `wide`."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim == 3:
        return conv2d(x[None], w, bias, stride, padding, dilation, groups, wide)[0]
    kernel = w.shape[2:]
    stride, widths, dilation = _geometry(kernel, stride, padding, dilation)
    xp = np.pad(x.astype(wide), ((0, 0), (0, 0)) + widths)
    out_size = output_size(x.shape[2:], kernel, stride, padding, dilation)
    win = _grouped(_windows(xp, kernel, stride, dilation, out_size), groups, 1)
    out = np.einsum("ngcijab,gocab->ngoij", win, _grouped(w.astype(wide), groups, 0))
    out = out.reshape((x.shape[0], w.shape[0]) + out.shape[3:])
    if bias is not None:
        out = out + np.asarray(bias).astype(wide)[:, None, None]
    return out


def conv2d_input(input_size, w, gy, stride=1, padding=0, dilation=1, groups=1,
                 wide=np.longdouble):
    """d/dx sum(conv2d(x, w) * gy) for x of shape `input_size`, by scatter-adding every
    product of the forward into the padded input element it read."""
    w, gy = np.asarray(w), np.asarray(gy)
    n, c, h, width = input_size
    (kh, kw) = kernel = w.shape[2:]
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = _geometry(kernel, stride, padding,
                                                                   dilation)
    oh, ow = gy.shape[2:]
    gxp = np.zeros((n, c, h + top + bottom, width + left + right), wide)
    gyg = _grouped(gy.astype(wide), groups, 1)
    wg = _grouped(w.astype(wide), groups, 0)
    for a in range(kh):
        for b in range(kw):
            # The elements tap (a, b) read: one per output position, all distinct.
            rows = slice(a * dh, a * dh + sh * (oh - 1) + 1, sh)
            cols = slice(b * dw, b * dw + sw * (ow - 1) + 1, sw)
            gxp[:, :, rows, cols] += np.einsum("ngoij,goc->ngcij", gyg,
                                               wg[:, :, :, a, b]).reshape(n, c, oh, ow)
    return gxp[:, :, top:top + h, left:left + width]


def conv2d_weight(x, weight_size, gy, stride=1, padding=0, dilation=1, groups=1,
                  wide=np.longdouble):
    """d/dw sum(conv2d(x, w) * gy) for w of shape `weight_size`: each weight's window of the
    padded input against gy, summed over the batch and the output positions."""
    x, gy = np.asarray(x), np.asarray(gy)
    kernel = tuple(weight_size[2:])
    stride, widths, dilation = _geometry(kernel, stride, padding, dilation)
    xp = np.pad(x.astype(wide), ((0, 0), (0, 0)) + widths)
    win = _grouped(_windows(xp, kernel, stride, dilation, gy.shape[2:]), groups, 1)
    gw = np.einsum("ngcijab,ngoij->gocab", win, _grouped(gy.astype(wide), groups, 1))
    return gw.reshape(weight_size)


# ----------------------------------------------------------------------------- 1-D
def _padding_2d(padding):
    return padding if isinstance(padding, str) else (0, pair(padding)[0])


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, wide=np.longdouble):
    """(N, C, L) or (C, L) input: conv2d on a height of one."""
    x, w = np.asarray(x), np.asarray(w)
    out = conv2d(x[..., None, :], w[:, :, None, :], bias, (1, pair(stride)[0]),
                 _padding_2d(padding), (1, pair(dilation)[0]), groups, wide)
    return out[..., 0, :]


def conv1d_input(input_size, w, gy, stride=1, padding=0, dilation=1, groups=1,
                 wide=np.longdouble):
    n, c, length = input_size
    gx = conv2d_input((n, c, 1, length), np.asarray(w)[:, :, None, :],
                      np.asarray(gy)[:, :, None, :], (1, pair(stride)[0]),
                      _padding_2d(padding), (1, pair(dilation)[0]), groups, wide)
    return gx[:, :, 0, :]


def conv1d_weight(x, weight_size, gy, stride=1, padding=0, dilation=1, groups=1,
                  wide=np.longdouble):
    o, cg, k = weight_size
    gw = conv2d_weight(np.asarray(x)[:, :, None, :], (o, cg, 1, k),
                       np.asarray(gy)[:, :, None, :], (1, pair(stride)[0]),
                       _padding_2d(padding), (1, pair(dilation)[0]), groups, wide)
    return gw[:, :, 0, :]
