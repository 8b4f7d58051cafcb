"""A call's arguments normalised once: the Plan that `execute.run` computes.

A face decides, by its peer's conventions, which input is the image, how the kernel is
oriented (flipped for a convolution, conjugated for a complex correlation) and where the
result's first window starts along each axis; `operands`, `geometry` and `bind` do the rest the
same way for every face: dimensions and axes, the result dtype, the batch broadcast, the
boundary rule of each axis as an index map, where the result goes (`out=` in place or a
temporary) and the thread count.

A plan is a `Geometry`, everything that follows from the arguments' shapes, dtypes and options
alone, bound to the call's arrays.  The commonest calls take a shorter road to the same plan
while `FAST_ROAD` is true:

- their geometry is remembered (`recall`/`remember`), keyed by what it depends on, so a call
  that repeats an earlier one's shapes and options skips the face's checks and arithmetic;
- C-contiguous inputs of the result's dtype with no batch are bound as they are, skipping
  steps whose general form costs microseconds of numpy calls (broadcasting, np.require, the
  self-overlap test) and would return them unchanged.

Those steps cost several times the arithmetic of a 128x128 image with a 3x3 kernel.  The plan
is the same on either road; the tests run both and compare bits and errors.
"""

import math

import numpy as np

from . import boundary
from .checks import check_axes, check_out
from .dtypes import as_array
from .layout import contiguous, kernel_stack, readable, ready, stack, writable_stack
from .threads import resolve_workers

FAST_ROAD = True


class Geometry:
    """What a call computes, from its arguments' shapes, dtypes and options alone (never
    changed once made, so calls that repeat them share it): ``result[b, i, j] = sum_ab
    kernel[b, a, b'] * extended(image[b])[start_0 + i + a, start_1 + j + b']`` (and the 1-D
    analogue), with the batch index b broadcast over `batch`.

    Attributes
    ----------
    dtype : numpy.dtype
        The result dtype (real or complex).
    batch, core_shape, shape : tuple of int
        The broadcast batch shape, the result's shape along the core axes, and the two
        together (the result's shape with the core axes last).
    starts : tuple of int
        Per core axis, the image position where the first output's window starts (negative
        when it starts outside the image; 0 when every window lies inside: the image is then
        cropped to the windows, by `crop`).
    rules, maps : tuple of str, tuple of ndarray or None
        Per core axis, the boundary rule (see `boundary`) and the index map of the extended
        image (`boundary.index_map`); maps is None when every window lies inside the image.
    crop : tuple of slice or None
        The part of the image the windows read, when they all lie inside it and start at an
        offset.
    fill : scalar
        The value of map entries -1 (a Python or numpy scalar, complex for complex results).
    rotate : bool
        Store the result reversed along every core axis.
    axes : tuple of int or None
        Where the core axes go in the caller's result (None: last).
    names : pair of str
        The caller's names of image and kernel, for messages.
    """
    __slots__ = ("dtype", "batch", "core_shape", "shape", "starts", "rules", "maps", "crop",
                 "fill", "rotate", "axes", "names")


class Plan:
    """A `Geometry` bound to one call's arrays.

    Attributes
    ----------
    geometry : Geometry
    image, kernel : ndarray
        The image (signal) and the oriented kernel, their core axes last, leading axes
        broadcastable to the batch, in the caller's dtype and layout.
    x, w : ndarray or None
        For real results, image and kernel as the core reads them: stacks (B, *core) and
        (1 or B, *kernel core) in the result dtype (None for complex results, whose real
        parts execute makes).
    out, target : ndarray or None
        The caller's `out=` (in the caller's axis order), and a ``(B, *core_shape)`` view of it
        the core writes in place, or None when the result goes through a temporary first.
    n_threads : int
    method : str
        'auto', 'direct', 'separable' or 'fft' (see `methods`).
    """
    __slots__ = ("geometry", "image", "kernel", "x", "w", "out", "target", "n_threads",
                 "method")


# Geometries of earlier calls, by the key a face makes of everything a geometry depends on; a
# small bound, as a program calls with a few shapes (cleared when full).
_GEOMETRIES = {}
_MAX_GEOMETRIES = 256


def recall(key):
    """The value remembered for `key` (a face's tuple of the call's options, shapes and
    dtypes), or None: never on the general road, or for an unhashable argument."""
    if not FAST_ROAD:
        return None
    try:
        return _GEOMETRIES.get(key)
    except TypeError:
        return None


def remember(key, value):
    """Remember `value` for `key` (see `recall`); returns `value`."""
    if FAST_ROAD:
        try:
            if len(_GEOMETRIES) >= _MAX_GEOMETRIES:
                _GEOMETRIES.clear()
            _GEOMETRIES[key] = value
        except TypeError:
            pass
    return value


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


def geometry(image_shape, kernel_shape, dtype, starts, core_shape, rules, fill, rotate, axes,
             names):
    """The Geometry of a call on an image and a kernel of these shapes (core axes last); see
    `Geometry` for the other arguments."""
    g = Geometry()
    core = len(core_shape)
    kernel_core = kernel_shape[len(kernel_shape) - core:]
    g.maps = _maps(image_shape[len(image_shape) - core:], kernel_core, starts, core_shape,
                   rules)
    g.crop = None
    if g.maps is None and any(starts):
        # Every window inside the image, from an offset: the image cropped to them.
        g.crop = (Ellipsis,) + tuple(slice(s, s + length + k - 1) for s, length, k
                                     in zip(starts, core_shape, kernel_core))
        starts = (0,) * core
    g.dtype, g.core_shape, g.starts, g.rules = dtype, core_shape, starts, rules
    g.fill, g.rotate, g.axes, g.names = fill, rotate, axes, names
    g.batch = _batch_shape(image_shape[:len(image_shape) - core],
                           kernel_shape[:len(kernel_shape) - core], names)
    g.shape = g.batch + core_shape
    return g


def bind(g, image, kernel, out, workers, method="direct"):
    """The Plan of geometry `g` on these arrays (shaped as `g` was made for), computed by
    `method` (checked by the face)."""
    plan = Plan()
    plan.method = method
    core = len(g.core_shape)
    if g.crop is not None:
        image = image[g.crop]
    plan.geometry, plan.image, plan.kernel, plan.out = g, image, kernel, out
    plan.x = plan.w = plan.target = None
    if g.dtype.kind == "c":
        pass  # execute makes the real parts
    elif FAST_ROAD and kernel.ndim == core and image.shape[:image.ndim - core] == g.batch \
            and ready(image, g.dtype):
        # What the general road below returns for these arrays (one kernel, a C-contiguous
        # image with no broadcast batch axis: its batch axes merge into one by a reshape),
        # without its calls.
        plan.x = image.reshape((math.prod(g.batch),) + image.shape[image.ndim - core:]) \
            if g.batch else image[None]
        plan.w = (kernel if ready(kernel, g.dtype) else contiguous(kernel, g.dtype))[None]
    else:
        plan.x = stack(readable(image, g.dtype), g.batch, core)
        plan.w = kernel_stack(kernel, g.batch, core, g.dtype)
    if out is not None:
        plan.target = _target(plan, out)
    plan.n_threads = resolve_workers(workers)
    return plan


def _batch_shape(lead1, lead2, names):
    if not lead1 and not lead2:
        return ()
    try:
        return np.broadcast_shapes(lead1, lead2)
    except ValueError:
        raise ValueError(
            f"the batch dimensions of {names[0]} {lead1} and {names[1]} {lead2} do not "
            "broadcast (each leading dimension must match or be 1)") from None


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
    g = plan.geometry
    core = len(g.core_shape)
    shape = g.shape
    caller_shape = shape if g.axes is None else caller_order(shape, g.axes)
    fast = FAST_ROAD and g.axes is None and type(out) is np.ndarray and \
        out.shape == shape and ready(out, g.dtype) and out.flags.writeable
    if not fast:
        check_out(out, caller_shape, g.dtype)
    if np.may_share_memory(out, plan.image) or np.may_share_memory(out, plan.kernel):
        return None
    if fast:
        # A C-contiguous array has one element per value (check_out passes it), and its batch
        # axes merge into one by a reshape (a view).
        return out.reshape((math.prod(g.batch),) + g.core_shape) if g.batch else out[None]
    moved = out
    if g.axes is not None:
        moved = np.moveaxis(out, g.axes, range(len(shape) - core, len(shape)))
    return writable_stack(moved, core)


def caller_order(shape, axes):
    """`shape` (core axes last) with the core axes moved to `axes`, as np.moveaxis moves them:
    the shape the caller sees."""
    core = len(axes)
    batch = iter(shape[:len(shape) - core])
    placed = dict(zip(axes, shape[len(shape) - core:]))
    return tuple(placed[d] if d in placed else next(batch) for d in range(len(shape)))
