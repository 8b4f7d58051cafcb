"""Boundary rules: how an input is extended beyond its edges, as index maps.

A rule maps any position along an axis of length n, inside or outside [0, n), to the input
position whose value it takes, or to -1 for the fill value.  The core takes those maps per axis
and builds extended rows from them, so no padded copy of an input is ever made, and every face
(and every rule a face adds) shares one mechanism.  With ``d c b a`` the samples before an
axis of ``a b c d``:

=========  ===================  ========================  ====================  =============
rule       extension            scipy.signal              scipy.ndimage         OpenCV
=========  ===================  ========================  ====================  =============
'fill'     ``v v v | a b c d``  ``boundary='fill'``       'constant'            CONSTANT
'wrap'     ``b c d | a b c d``  'wrap' ('circular')       'wrap' ('grid-wrap')  WRAP
'symm'     ``c b a | a b c d``  'symm' ('symmetric')      'reflect'             REFLECT
'mirror'   ``d c b | a b c d``  -                         'mirror'              REFLECT_101
'nearest'  ``a a a | a b c d``  -                         'nearest'             REPLICATE
=========  ===================  ========================  ====================  =============

and 'none': the positions outside are absent, so a window sums over its overlap with the input
only (numpy.correlate's and numpy.convolve's ends).  It reads like 'fill' with 0 (index -1), and
differs from it only where a kernel tap is Inf or NaN: Inf * 0 is NaN, an absent term is
nothing.

Each rule is periodic or clamped however far outside the input a position lies (as scipy is
for kernels larger than the image).
"""
import functools

import numpy as np

def position(i, n, rule):
    """The input position that position `i` of an axis of length `n` takes its value from
    (-1: the fill value), in Python integers."""
    if 0 <= i < n:
        return i
    if rule in ("fill", "none"):
        return -1
    if rule == "wrap":
        return i % n
    if rule == "nearest":
        return 0 if i < 0 else n - 1
    if rule == "symm":  # period 2n: a b c d d c b a
        i %= 2 * n
        return 2 * n - 1 - i if i >= n else i
    if n == 1:  # 'mirror' of one sample: the sample itself everywhere
        return 0
    i %= 2 * n - 2  # period 2n - 2: a b c d c b
    return 2 * n - 2 - i if i >= n else i


def _positions(index, n, rule):
    """`position` for an array of positions."""
    if rule in ("fill", "none"):
        return np.where((index >= 0) & (index < n), index, -1)
    if rule == "wrap":
        return np.mod(index, n)
    if rule == "nearest":
        return np.clip(index, 0, n - 1)
    if rule == "symm":
        folded = np.mod(index, 2 * n)
        return np.where(folded >= n, 2 * n - 1 - folded, folded)
    if n == 1:
        return np.zeros_like(index)
    folded = np.mod(index, 2 * n - 2)
    return np.where(folded >= n, 2 * n - 2 - folded, folded)


@functools.lru_cache(maxsize=64)
def index_map(start, stop, n, rule):
    """For positions start .. stop-1 along an axis of length `n`: the input position each takes
    its value from, or -1 for the fill value, as the core's read-only intp map.

    Only the positions outside the input (at most K-1 at each end when the kernel fits) go
    through the rule: the map of a 2048-wide 'same' result is built in a few microseconds, where
    mapping every position cost ten.  Calls with the same geometry share the cached map.
    """
    index = np.arange(start, stop, dtype=np.intp)
    lo = min(max(-start, 0), len(index))
    hi = min(max(n - start, lo), len(index))
    for part in (index[:lo], index[hi:]):
        if len(part) <= 64:
            # A frame's few positions: plain integers cost less than numpy's calls.
            part[...] = [position(int(i), n, rule) for i in part]
        else:
            part[...] = _positions(part, n, rule)
    index.flags.writeable = False
    return index
