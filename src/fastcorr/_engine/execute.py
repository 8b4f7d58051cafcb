"""Runs a Plan on the compiled core.

The core (_core.pyx) computes, for stacks of float32 or float64 images (signals) with
unit-stride rows and C-contiguous kernels of the same dtype, into outputs that overlap neither:
the valid 2-D correlation (optionally stored rotated by 180 degrees), the 2-D correlation of
each image extended by a row map and a column map, and the valid 1-D correlation.  Everything
else is arranged here: conversion to a layout the core reads (only when the input is not one
already), the batch as one stack axis, complex data as real correlations of its parts, the
extended windows of 1-D signals, where a result is allocated, and the way back to the caller's
axes and `out=`.
"""
import math

import numpy as np

from .. import _core
from . import boundary, methods
from .dtypes import real_dtype
from .layout import contiguous, kernel_stack, readable, stack, unit_last_stride

# Images of at most this many pixels get their 'full'/'same' result from whole extended images
# rather than from an interior read in place plus a frame: for a stack of 32x32 images the
# frame's many short pieces cost several times the interior (measured at 32x32, 64x64 and
# 128x128; at 128x128 the two were within noise).
SMALL_IMAGE = 128 * 128
# The most a thread's buffer of extended rows holds: the core's one L2 budget (see
# FC_L2_BUDGET_BYTES in _kernels/fastcorr_kernels.h), a module attribute so tests can force
# the smallest and the largest blocks.
EXTEND_BYTES = _core.L2_BUDGET_BYTES
# Signals (all of a stack) of at most this many samples are extended whole when a window
# leaves them: one extended copy and one core call cost less than the three calls of an
# interior plus two ends (1,000 samples, 'same': 7 us against 14).
PAD_WHOLE_1D = 1 << 14
# Stacks of at least ROWS_MIN signals of at most ROWS_MAX_LENGTH samples, extended by a rule
# and sharing one kernel (ndimage's 1-D passes along the last axis of an image), run as the
# row pass of `_core.correlate_separable`, which extends each block's rows in its buffer:
# no extended copy, one call, bands of rows across threads.  The results are the same bits.
# Intel Xeon (AVX-512), 2 threads, best of alternating runs, 'reflect', k = 3 / 9 / 33, that
# route against the 1-D one: 128x128 1.25-1.66x (float32 33.8 -> 23.6 us at k = 3),
# 512x512 1.1-1.56x, 2048x2048 1.12-1.48x, 1000x100 1.48-1.84x, 100x1000 1.14-1.36x, 64x64
# 1.07-1.12x, 4096x4096 1.01-1.05x; 32x32 0.86-1.04x and 64x8 0.84-1.02x (1-3 us more
# setup), and long rows lose, where the 1-D route splits each signal into runs and streams
# its stores from 4 MiB: 64x65536 float32 0.71-0.84x, 256x16384 0.76-0.98x, 4x100000
# 0.39-0.87x.
ROWS_MIN = 64
ROWS_MAX_LENGTH = 4096
# The page size the CPU compares load and store addresses modulo (see `empty_apart`), and the
# result size from which fastcorr places the results it allocates.
_PAGE = 4096
_APART_MIN_BYTES = 1 << 20


def run(plan):
    """The result of `plan`: a new array in the caller's axis order, or `plan.out` filled."""
    g = plan.geometry
    core = len(g.core_shape)
    correlate = _correlate_2d if core == 2 else _correlate_1d
    if g.dtype.kind == "c":
        result = _correlate_parts(correlate, plan)
    elif plan.target is not None:
        correlate(plan.x, plan.w, plan.target, plan, g.fill)
        return plan.out
    else:
        # Valid windows start inside the image: the interior starts at the first element.
        result = empty_apart(g.shape, g.dtype, plan.x,
                             0 if g.maps is None else _first_inside(plan))
        correlate(plan.x, plan.w, _result_stack(result, plan), plan, g.fill)
        if g.axes is None and not (g.rotate and core == 1) and plan.out is None:
            return result  # the common call: nothing to move, reverse or copy
    if g.rotate and core == 1:
        result = result[..., ::-1].copy()
    if g.axes is not None:
        ndim = result.ndim
        result = np.moveaxis(result, range(ndim - core, ndim), g.axes)
    if plan.out is None:
        return result
    np.copyto(plan.out, result)
    return plan.out


def _result_stack(result, plan):
    """A new result array as the (B, *core) stack the core writes."""
    g = plan.geometry
    if not g.batch:
        return result[None]  # what the reshape below gives, without its cost
    return unit_last_stride(result.reshape((-1,) + g.core_shape), writeable=True)


def _first_inside(plan):
    """The flat index of the first output whose window starts inside the image: where a
    result's interior starts, for `empty_apart`."""
    g = plan.geometry
    first = 0
    for start, length in zip(g.starts, g.core_shape):
        first = first * length + (-start if start < 0 else 0)
    return first


def empty_apart(shape, dtype, image, first):
    """np.empty(shape, dtype) placed so that its flat element `first` (where the interior's
    result starts) lies half a page away from image's first element, modulo the 4 KiB page.

    The kernel's loads run a few blocks ahead of its stores; when an output row starts within
    a few hundred bytes of its input rows modulo 4 KiB, loads collide with pending stores in
    the CPU's page-offset address check.  A 'same' result has the input's row stride, so it
    stays at one offset for every row, and a fresh array lands where the allocator puts it:
    2048x2048 float32, K=5, measured 3.9 ms at an offset of 64 B against 1.9 ms at 2 KiB.
    Results under _APART_MIN_BYTES (which sit in cache whatever their offset) are plain
    np.empty: placing one costs microseconds, more than the effect.
    """
    dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize < _APART_MIN_BYTES:
        return np.empty(shape, dtype)
    buf = np.empty(size + _PAGE // dtype.itemsize, dtype)
    gap = (image.ctypes.data + _PAGE // 2 - buf.ctypes.data - first * dtype.itemsize) % _PAGE
    start = gap // dtype.itemsize
    return buf[start:start + size].reshape(shape)


# --------------------------------------------------------------------------- 2-D
def _correlate_2d(x, w, y, plan, fill):
    """y[i] = correlation of x[i] (extended by the plan's maps) with w[i] or w[0]; stacks of one
    real dtype in layouts the core reads and writes, y overlapping neither.

    The extension is the core's (`_core.correlate_extended_batch`): no padded copy of an image
    is made.  Large images have their interior (the windows inside the image) read in place and
    only a frame at most K-1 wide computed from extended rows, built per work unit into
    per-thread buffers of at most EXTEND_BYTES (extra memory O(K * (M + N)) per thread); small
    images, and kernels larger than the image, are extended whole, a block of rows at a time.
    """
    if plan.method != "direct":
        method, factors = methods.choose(x, w, y.shape, plan, fill)
        if method != "direct" and _by_method(method, factors, x, w, y, plan, fill):
            return
    _direct_2d(x, w, y, plan, fill)


def _direct_2d(x, w, y, plan, fill):
    """`_correlate_2d` by direct summation."""
    g = plan.geometry
    if g.maps is None:
        _core.correlate_valid_batch(x, w, y, plan.n_threads, g.rotate)
        return
    _, m, n = x.shape
    _, p, q = w.shape
    if "none" in g.rules:
        raise NotImplementedError("the boundary rule 'none' (overlap-only sums) is implemented "
                                  "for 1-D correlations only")
    top, left = -g.starts[0], -g.starts[1]
    interior = m >= p and n >= q and m * n > SMALL_IMAGE and top >= 0 and left >= 0
    _core.correlate_extended_batch(x, w, y, g.maps[0], g.maps[1], fill, plan.n_threads,
                                   EXTEND_BYTES, top if interior else -1,
                                   left if interior else -1)


def _by_method(method, factors, x, w, y, plan, fill):
    """y = the plan's real 2-D correlation of stacks x, w by 'separable' (with `factors`, one
    per kernel of w, or None to factor here) or 'fft'; a rotated result goes through a
    temporary, reversed into y.  False, y unfinished, when 'auto' chose the FFT and the input
    turned out to hold NaN or Inf (the caller computes directly)."""
    g = plan.geometry
    target = np.empty(y.shape, y.dtype) if g.rotate else y
    if method == "fft":
        from . import fft
        if not fft.correlate_fft_2d(x, w, target, g.maps, float(fill), plan.n_threads,
                                    check_finite=plan.method == "auto"):
            return False
    else:
        _separable(x, w, target, plan, fill, factors)
    if g.rotate:
        y[...] = target[:, ::-1, ::-1]
    return True


def _separable(x, w, y, plan, fill, factors):
    """The separable method: per kernel of the stack w, its rank-r factors as r fused pairs of
    passes in the core; the intermediate columns outside the image take fill * sum(column
    factor), the value every column pass gives there in a 2-D extension."""
    g = plan.geometry
    (_, m, n), (_, oh, ow), (_, p, q) = x.shape, y.shape, w.shape
    maps = g.maps or (boundary.index_map(0, oh + p - 1, m, "fill"),
                      boundary.index_map(0, ow + q - 1, n, "fill"))
    if factors is None:
        factors = [methods.factor_checked(k, y.dtype, g.names[1]) for k in w]
    for i, f in enumerate(factors):
        images = slice(i, i + 1) if len(factors) > 1 else slice(None)
        t_fill = float(fill) * f.col.astype(np.float64).sum(axis=1)
        _core.correlate_separable(x[images], f.col, f.row, y[images], maps[0], maps[1],
                                  float(fill), t_fill, plan.n_threads)


# --------------------------------------------------------------------------- 1-D
def _correlate_1d(x, w, y, plan, fill):
    """y[i, j] = sum_t x~[i, start + j + t] * w[i or 0, t], x~ = x extended by the plan's rule;
    stacks x (B, N) with unit-stride rows, w (1 or B, K) and y (B, L), real, one dtype.

    The outputs whose window lies inside x run the valid 1-D kernel on x itself; the at most
    K-1 at each end whose window leaves x come from an extended copy of the <= 2K-2 samples
    they read.  Stacks of at most PAD_WHOLE_1D samples are extended whole instead.
    """
    g = plan.geometry
    if plan.method != "direct" and methods.choose(x, w, y.shape, plan, fill)[0] == "fft":
        from . import fft
        if fft.correlate_fft_1d(x, w, y, g.maps and g.maps[0], float(fill), plan.n_threads,
                                check_finite=plan.method == "auto"):
            return
        # 'auto' met NaN or Inf, which the FFT would spread: computed directly below.
    if g.maps is None:
        _core.correlate_valid_1d_batch(x, w, y, plan.n_threads)
        return
    n, k, length = x.shape[-1], w.shape[-1], y.shape[-1]
    lo = g.starts[0]
    index, rule = g.maps[0], g.rules[0]
    if (x.shape[0] >= ROWS_MIN and n <= ROWS_MAX_LENGTH and w.shape[0] == 1
            and rule != "none"):
        # Many short rows, one kernel: the fused passes' row pass, the column pass a single
        # tap of 1 (which the core does not run), extending each block's rows in its buffer.
        rows = boundary.index_map(0, x.shape[0], x.shape[0], "fill")  # every row inside
        _core.correlate_separable(x[None], _ones_kernel(x.dtype), w, y[None], rows, index,
                                  float(fill), np.array([float(fill)]), plan.n_threads)
        return
    inner_lo = min(max(-lo, 0), length)                    # first j with lo + j >= 0
    inner_hi = max(min(n - k + 1 - lo, length), inner_lo)  # first j with lo + j > n - k
    ends = [(j0, j1) for j0, j1 in ((0, inner_lo), (inner_hi, length)) if j0 < j1]
    if x.size <= PAD_WHOLE_1D:
        _core.correlate_valid_1d_batch(_extended(x, lo, index, rule, fill), w, y,
                                       plan.n_threads)
    else:
        if inner_lo < inner_hi:
            _core.correlate_valid_1d_batch(x[:, lo + inner_lo:lo + inner_hi + k - 1], w,
                                           y[:, inner_lo:inner_hi], plan.n_threads)
        for j0, j1 in ends:
            _core.correlate_valid_1d_batch(
                _extended(x, lo + j0, index[j0:j1 + k - 1], rule, fill), w, y[:, j0:j1],
                plan.n_threads)
    if rule == "none" and ends and not math.isfinite(np.vdot(w, w)):
        # An Inf or NaN tap may have met a zero of the extension: recompute those outputs
        # over the overlap alone (rare, so plain numpy; w.w is the cheapest test of every tap
        # at once, and a finite w whose squares overflow only takes this exact road too).
        for j0, j1 in ends:
            _overlap_sums(x, w, y[:, j0:j1], lo + j0)


def _ones_kernel(dtype):
    """The 1x1 kernel [[1]] of `dtype` (shared, read-only)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((1, 1), dtype)
        one.flags.writeable = False
    return one


_ONES = {}


def _overlap_sums(x, w, y, start):
    """y[i, j] = sum over the t with 0 <= start + j + t < N of x[i, start + j + t] * w[i, t]."""
    n, k = x.shape[-1], w.shape[-1]
    positions = start + np.arange(y.shape[-1])[:, None] + np.arange(k)
    inside = (positions >= 0) & (positions < n)
    terms = np.take(x, np.clip(positions, 0, n - 1), axis=-1) * w[:, None, :]
    with np.errstate(invalid="ignore"):
        y[...] = np.where(inside, terms, 0).sum(axis=-1)


def _extended(x, start, index, rule, fill):
    """The samples start .. start + len(index) - 1 of every row of x (B, N), extended by
    `rule` (whose map over those positions is `index`), in a new C-contiguous array.

    With the fill rule the block is one np.zeros/np.full and one copy of the samples inside x:
    each further numpy call costs about as much as correlating a short signal.
    """
    if rule not in ("fill", "none"):
        return np.take(x, index, axis=-1)
    n, length = x.shape[-1], len(index)
    if fill == 0:
        block = np.zeros((x.shape[0], length), dtype=x.dtype)
    else:
        block = np.full((x.shape[0], length), fill, dtype=x.dtype)
    a, b = min(max(-start, 0), length), max(min(n - start, length), 0)
    if a < b:
        block[:, a:b] = x[:, start + a:start + b]
    return block


# --------------------------------------------------------------------------- complex
def _real_parts(a, real):
    """(real part, imaginary part or None) of `a` as arrays the core reads, in `real`.

    The parts of a complex array are views with a column stride of two items, which the SIMD
    loads cannot use, so they are copied (deinterleaved) once.
    """
    if a.dtype.kind != "c":
        return readable(a, real), None
    return contiguous(a.real, real), contiguous(a.imag, real)


def _correlate_parts(correlate, plan):
    """The plan's complex result from real correlations of the parts of its image and kernel
    (already oriented: no conjugation here).

    With x = a + ib and k = c + id, x*k = (ac - bd) + i(ad + bc): four real correlations, two
    when one side is real.  The three-product (Gauss) form ``c(a + b) - b(c + d)``,
    ``c(a + b) + a(d - c)`` would save a quarter of the arithmetic, but it bounds the error of
    each part only by the magnitudes of both parts, so a small real part next to a large
    imaginary one would lose its relative accuracy; four products keep each part as accurate as
    a real correlation, and the extra pass costs little next to the deinterleaving every complex
    input needs anyway.
    """
    g = plan.geometry
    real = real_dtype(g.dtype)
    core = len(g.core_shape)
    a, b = _real_parts(plan.image, real)
    c, d = _real_parts(plan.kernel, real)
    fill_re, fill_im = real.type(g.fill.real), real.type(g.fill.imag)
    if b is None and fill_im != 0:
        # A real image extended with a complex fill value (complex kernel): its imaginary part
        # is zero inside and fill.imag outside.  Rare enough to pay for a zero image.
        b = np.zeros_like(a)
    shape, first = g.shape, _first_inside(plan)

    def corr(x, k, f):
        y = empty_apart(shape, real, x, first)
        correlate(stack(x, g.batch, core), kernel_stack(k, g.batch, core, real),
                  _result_stack(y, plan), plan, f)
        return y

    result = np.empty(shape, g.dtype)
    re = corr(a, c, fill_re)
    if b is not None and d is not None:
        re -= corr(b, d, fill_im)
    result.real = re
    im = corr(a, d, fill_re) if d is not None else None
    if b is not None:
        im = corr(b, c, fill_im) if im is None else np.add(im, corr(b, c, fill_im), out=im)
    result.imag = 0 if im is None else im
    return result
