"""A call's arguments normalised once: the Plan that `execute.run` computes.

A face decides, by its peer's conventions, which input is the image, how the kernel is
oriented (flipped for a convolution, conjugated for a complex correlation) and where the
result's first window starts along each axis; `operands` and `build` do the rest the same way
for every face: dimensions and axes, the result dtype, the batch broadcast, the boundary rule of
each axis as an index map, where the result goes (`out=` in place or a temporary) and the
thread count.

The commonest calls (C-contiguous arrays of the result's dtype, no batch, no out= or a
C-contiguous one) take a shorter road through the same steps: while `FAST_ROAD` is true, steps
whose general form costs microseconds of numpy calls (broadcasting, np.require, the self-overlap
test) are skipped where the arguments already are what those calls would return, which is
several times the arithmetic of a 128x128 image with a 3x3 kernel.  The plan is the same either
way; the tests run both roads and compare.
"""
import functools

import numpy as np

from . import boundary
from .checks import check_axes, check_out
from .dtypes import as_array, result_dtype
from .layout import contiguous, kernel_stack, readable, ready, stack, writable_stack
from .threads import resolve_workers

FAST_ROAD = True


class Plan:
    """One correlation, normalised: ``result[b, i, j] = sum_ab kernel[b, a, b'] *
    extended(image[b])[start_0 + i + a, start_1 + j + b']`` (and the 1-D analogue), with the
    batch index b broadcast over `batch`.

    Attributes
    ----------
    image, kernel : ndarray
        The image (signal) and the oriented kernel, their core axes last, leading axes
        broadcastable to `batch`, in the caller's dtype and layout.
    x, w : ndarray or None
        For real results, image and kernel as the core reads them: stacks (B, *core) and
        (1 or B, *kernel core) in the result dtype (None for complex results, whose real
        parts execute makes).
    dtype : numpy.dtype
        The result dtype (real or complex).
    batch, core_shape, shape : tuple of int
        The broadcast batch shape, the result's shape along the core axes, and the two
        together (the result's shape with the core axes last).
    starts : tuple of int
        Per core axis, the image position where the first output's window starts (negative
        when it starts outside the image; 0 when every window lies inside: the image is then
        cropped to the windows).
    rules, maps : tuple of str, tuple of ndarray or None
        Per core axis, the boundary rule (see `boundary`) and the index map of the extended
        image (`boundary.index_map`); maps is None when every window lies inside the image.
    fill : scalar
        The value of map entries -1 (a Python or numpy scalar, complex for complex results).
    rotate : bool
        Store the result reversed along every core axis.
    out, target : ndarray or None
        The caller's `out=` (in the caller's axis order), and a ``(B, *core_shape)`` view of it
        the core writes in place, or None when the result goes through a temporary first.
    axes : tuple of int or None
        Where the core axes go in the caller's result (None: last).
    n_threads : int
    """
    __slots__ = ("image", "kernel", "x", "w", "dtype", "batch", "core_shape", "shape",
                 "starts", "rules", "maps", "fill", "rotate", "out", "target", "axes",
                 "n_threads")


def operands(in1, in2, names, core_ndim, axes, scalar_ok=False):
    """The two inputs as arrays with their core axes last: ``(a1, a2, axes)``.

    Without `axes` both inputs must have exactly `core_ndim` dimensions, as scipy.signal's and
    numpy's functions require (so an (H, W, 3) colour image is an error, not H images of W x 3
    pixels).  With `axes` (the core axes of the first input), every other axis is a batch that
    broadcasts; the second input has as many dimensions as the first (the rule of
    scipy.signal.fftconvolve, `axes` naming its core axes too) or exactly `core_ndim` (one
    kernel for every image).  `scalar_ok`: a 0-D input counts as one sample (numpy.convolve).
    """
    if axes is None and type(in1) is np.ndarray and type(in2) is np.ndarray and \
            in1.ndim == core_ndim and in2.ndim == core_ndim and in1.size and in2.size:
        return in1, in2, None  # what the checks below return for these
    a1, a2 = as_array(in1, names[0]), as_array(in2, names[1])
    if scalar_ok:
        a1 = a1.reshape(1) if a1.ndim == 0 else a1
        a2 = a2.reshape(1) if a2.ndim == 0 else a2
    if axes is None:
        for a, name in ((a1, names[0]), (a2, names[1])):
            if a.ndim != core_ndim:
                raise ValueError(
                    f"{name} must be a {core_ndim}-D array, got {a.ndim}-D with shape "
                    f"{a.shape}; pass axes= to correlate a stack of {core_ndim}-D arrays "
                    "(the other axes broadcast)")
    else:
        if a1.ndim < core_ndim:
            raise ValueError(f"{names[0]} must have at least {core_ndim} dimensions, got "
                             f"{a1.ndim}-D with shape {a1.shape}")
        axes = check_axes(axes, a1.ndim, core_ndim)
        last = tuple(range(a1.ndim - core_ndim, a1.ndim))
        if a2.ndim == a1.ndim:
            a2 = np.moveaxis(a2, axes, last)
        elif a2.ndim != core_ndim:
            raise ValueError(
                f"with axes, {names[1]} must have as many dimensions as {names[0]} "
                f"({a1.ndim}) or exactly {core_ndim}, got {a2.ndim}-D with shape {a2.shape}")
        a1 = np.moveaxis(a1, axes, last)
    if a1.size == 0 or a2.size == 0:
        name, shape = (names[0], a1.shape) if a1.size == 0 else (names[1], a2.shape)
        raise ValueError(f"{name} is empty (shape {shape}); both inputs need at least one "
                         "element")
    return a1, a2, axes


def build(image, kernel, dtype, starts, core_shape, rules, fill, rotate, out, workers, axes,
          names):
    """The Plan of one call (see `Plan` for the arguments; `rules` is the boundary rule of each
    core axis, `names` the caller's names of image and kernel for messages)."""
    plan = Plan()
    core = len(core_shape)
    kernel_core = kernel.shape[kernel.ndim - core:]
    plan.maps = _maps(image.shape[image.ndim - core:], kernel_core, starts, core_shape, rules)
    if plan.maps is None and any(starts):
        # Every window inside the image, from an offset: the image cropped to them.
        image = image[(Ellipsis,) + tuple(slice(s, s + length + k - 1) for s, length, k
                                          in zip(starts, core_shape, kernel_core))]
        starts = (0,) * core
    plan.image, plan.kernel, plan.dtype = image, kernel, dtype
    plan.core_shape, plan.starts, plan.fill, plan.rotate = core_shape, starts, fill, rotate
    plan.rules = rules
    plan.axes, plan.out = axes, out
    plan.x = plan.w = plan.target = None
    if FAST_ROAD and image.ndim == core and kernel.ndim == core and ready(image, dtype):
        # What the general road below returns for these arrays, without its calls.
        plan.batch, plan.x, plan.w = (), image[None], contiguous(kernel, dtype)[None]
    else:
        plan.batch = _batch_shape(image, kernel, core, names)
        if dtype.kind != "c":
            plan.x = stack(readable(image, dtype), plan.batch, core)
            plan.w = kernel_stack(kernel, plan.batch, core, dtype)
    plan.shape = plan.batch + core_shape
    if out is not None:
        plan.target = _target(plan, out)
    plan.n_threads = resolve_workers(workers)
    return plan


def _batch_shape(image, kernel, core, names):
    lead1, lead2 = image.shape[:image.ndim - core], kernel.shape[:kernel.ndim - core]
    try:
        return np.broadcast_shapes(lead1, lead2)
    except ValueError:
        raise ValueError(
            f"the batch dimensions of {names[0]} {lead1} and {names[1]} {lead2} do not "
            "broadcast (each leading dimension must match or be 1)") from None


@functools.lru_cache(maxsize=256)
def _maps(image_shape, kernel_shape, starts, core_shape, rules):
    """Per axis index maps of the extended image, or None when every window lies inside
    (cached: calls with one geometry share their maps)."""
    for s, length, k, n in zip(starts, core_shape, kernel_shape, image_shape):
        if s < 0 or s + length + k - 1 > n:
            break
    else:
        return None
    return tuple(boundary.index_map(s, s + length + k - 1, n, rule) for s, length, k, n, rule
                 in zip(starts, core_shape, kernel_shape, image_shape, rules))


def _target(plan, out):
    """A (B, *core) view of `out` the core can write in place, or None (out overlaps an input,
    or has no such view); raises if `out` cannot receive the result at all."""
    core = len(plan.core_shape)
    shape = plan.shape
    caller_shape = shape if plan.axes is None else caller_order(shape, plan.axes)
    fast = FAST_ROAD and plan.axes is None and type(out) is np.ndarray and \
        out.shape == shape and ready(out, plan.dtype) and out.flags.writeable
    if not fast:
        check_out(out, caller_shape, plan.dtype)
    if np.may_share_memory(out, plan.image) or np.may_share_memory(out, plan.kernel):
        return None
    if fast:
        # A C-contiguous array has one element per value (check_out passes it) and is its
        # own stack.
        return out[None]
    moved = out
    if plan.axes is not None:
        moved = np.moveaxis(out, plan.axes, range(len(shape) - core, len(shape)))
    return writable_stack(moved, core)


def caller_order(shape, axes):
    """`shape` (core axes last) with the core axes moved to `axes`, as np.moveaxis moves them:
    the shape the caller sees."""
    core = len(axes)
    batch = iter(shape[:len(shape) - core])
    placed = dict(zip(axes, shape[len(shape) - core:]))
    return tuple(placed[d] if d in placed else next(batch) for d in range(len(shape)))
