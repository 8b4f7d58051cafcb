"""The oracle of the ndimage face: scipy.ndimage.correlate's documented definition, computed in
extended precision from an explicitly padded input, written apart from fastcorr's code.

scipy.ndimage documents ``correlate(input, weights, mode, cval, origin)`` as the sum, for every
output position i, of ``weights[j] * input[i + j - c]`` over the kernel's positions j, where
``c = weights.shape // 2 + origin`` (per axis), with the input extended beyond its edges by the
mode:

==================  ============================  ==============
scipy.ndimage mode  extension of ``a b c d``      np.pad mode
==================  ============================  ==============
'reflect'           ``d c b a | a b c d | d c b``  'symmetric'
'mirror'            ``d c b | a b c d | c b a``    'reflect'
'nearest'           ``a a a | a b c d | d d d``    'edge'
'wrap'              ``b c d | a b c d | a b c``    'wrap'
'constant'          ``k k k | a b c d | k k k``    'constant' (k = cval)
==================  ============================  ==============

and the grid-* names ('grid-mirror', 'grid-wrap', 'grid-constant') extend as 'reflect', 'wrap'
and 'constant' for filters.  np.pad extends as far as asked (kernels larger than the input).
"""
import numpy as np

NP_PAD = {"reflect": "symmetric", "grid-mirror": "symmetric", "mirror": "reflect",
          "nearest": "edge", "wrap": "wrap", "grid-wrap": "wrap", "constant": "constant",
          "grid-constant": "constant"}
MODES = tuple(NP_PAD)


def _padded(x, shape, mode, cval, origins):
    widths = []
    for k, o in zip(shape, origins):
        before = k // 2 + o
        widths.append((before, k - 1 - before))
    pad = NP_PAD[mode]
    if pad == "wrap":
        # Periodic by definition, axis by axis: np.pad's 'wrap' before NumPy 1.25 repeats an
        # edge sample when a side is wider than the axis (np.pad(arange(3), (1, 5), 'wrap')
        # ends 2 2 0), and the suite runs on NumPy 1.23 too.
        for axis, (before, after) in enumerate(widths):
            n = x.shape[axis]
            x = np.take(x, np.arange(-before, n + after) % n, axis=axis)
        return x
    if pad == "constant":
        return np.pad(x, widths, mode="constant", constant_values=cval)
    return np.pad(x, widths, mode=pad)


def correlate(x, w, mode="reflect", cval=0.0, origins=None, wide=np.longdouble):
    """The exact (to `wide`) ndimage correlation of x with w (same ndim), same-size."""
    x = np.asarray(x)
    w = np.asarray(w)
    origins = [0] * x.ndim if origins is None else list(origins)
    ext = _padded(x.astype(wide), w.shape, mode, cval, origins)
    windows = np.lib.stride_tricks.sliding_window_view(ext, w.shape)
    letters = "abcdef"[:x.ndim]
    return np.einsum(f"...{letters},{letters}->...", windows, w.astype(wide))


def magnitude(x, w, mode="reflect", cval=0.0, origins=None):
    """sum |w[j]| |x[i + j - c]|: what each output's rounding error scales with."""
    return correlate(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)),
                     mode, abs(cval), origins, wide=np.float64)


def bound(x, w, dtype, mode="reflect", cval=0.0, origins=None):
    """|computed - exact| <= (K + 1) eps(dtype) sum |w| |x| + tiny for a K-tap correlation
    accumulated in `dtype` (K roundings of the sum and one of the weights to dtype), plus the
    rounding of the result itself."""
    finfo = np.finfo(dtype)
    terms = np.asarray(w).size
    return (terms + 2) * float(finfo.eps) * magnitude(x, w, mode, cval, origins) + \
        float(finfo.tiny)
