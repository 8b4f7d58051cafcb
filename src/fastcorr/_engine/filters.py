"""Same-size correlations with a border rule per axis: what the scipy.ndimage face asks of the
engine.

A call is reduced to its core axes: the axes along which the kernel is longer than 1 (plus the
last axis, so the core's rows stay unit-stride and no transposed copy is made: a 1-D pass along
axis 0 of an image is a (K, 1) kernel over (rows, columns)).  Every other axis is a batch.  The
route then follows from the output dtype:

- floating-point outputs run on the SIMD engine in float32 or float64 (`compute_dtype`): one or
  two core axes through `_engine.execute` (interior read in place, a frame of extended rows),
  three through `_core.correlate_volume`;
- integer and bool outputs get scipy.ndimage's values exactly (`_core.exact_correlate`): the
  truncation to an integer type depends on the last bit of scipy's double (a flat region of 128
  under weights summing to 1 may come to 127.99999999999997, which scipy stores as 127), so an
  output is either computed by scipy's own float64 operations in its order, without FMA, or,
  for images of up to 16-bit integers, taken from the float32 engine where an error bound
  proves it truncates the same way (exact_correlate's certified path).
"""
import math

import numpy as np

from .. import _core
from . import boundary
from .execute import run
from .layout import readable, ready, stack, stacked_view, writable_stack
from .plan import bind, geometry, recall, remember
from .threads import resolve_workers

# scipy.ndimage's mode names, each mapped to the engine's rule (see boundary.py).  The grid-*
# names mean the same as their plain twins for filters (scipy treats them alike there).
MODES = {"reflect": "symm", "grid-mirror": "symm", "constant": "fill", "grid-constant": "fill",
         "nearest": "nearest", "mirror": "mirror", "wrap": "wrap", "grid-wrap": "wrap"}

# The arithmetic of the scipy function a call stands for, which integer outputs reproduce.
FORMULA_ND, FORMULA_1D, FORMULA_UNIFORM = 0, 1, 2

# Integer inputs computed in float32 when the output is float32: every value of these types is
# exact in float32 (a wider integer is computed in float64 and rounded once, at the end).
_EXACT_IN_FLOAT32 = frozenset(np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16,
                                                    np.uint16, np.float16, np.float32))


def compute_dtype(input_dtype, output_dtype):
    """The dtype a floating-point output is computed in: float32 when the output is float32
    and every input value is exact in float32, float64 otherwise (scipy computes everything
    in float64; float32 data computed in float32 is fastcorr's rule on every face)."""
    if output_dtype == np.float32 and input_dtype in _EXACT_IN_FLOAT32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def correlate_same(input, weights, output, rules, origins, cval, formula, workers,
                   method="direct"):
    """output[...] = the correlation of `input` with `weights`, same-size, centred by `origins`
    and extended by `rules` (one per axis); the values of scipy.ndimage.correlate
    (FORMULA_ND), correlate1d (FORMULA_1D) or uniform_filter1d (FORMULA_UNIFORM).

    input: a real numeric ndarray; weights: float64, as many dimensions as input; output: a
    real numeric ndarray of input's shape that does not share memory with input (the face
    makes a temporary when it would).
    """
    key = None
    if input.dtype.kind == "f" and output.dtype.kind == "f" and \
            method not in ("separable", "fft"):
        # Everything the route to `_direct` below and its geometry depend on (cval's sign
        # too, which 0.0 == -0.0 would lose: a kernel whose sum starts from its first product
        # keeps a -0.0): a call that repeats one seen before skips their arithmetic, several
        # times the correlation of a 16x16 image with a 3x3 kernel.
        key = ("correlate_same", input.shape, input.dtype, weights.shape, output.dtype,
               tuple(rules), tuple(origins), cval, math.copysign(1.0, cval))
        known = recall(key)
        if known is not None:
            order, kernel_shape, g = known
            image, target = input, output
            if order is not None:
                image, target = input.transpose(order), output.transpose(order)
            # The axes `order` moves in the weights are the batch axes, all of length 1: the
            # reshape alone gives the kernel.
            _direct(g, image, np.ascontiguousarray(weights.reshape(kernel_shape),
                                                   dtype=g.dtype), target, workers, method)
            return output
    core = [d for d in range(input.ndim) if weights.shape[d] > 1]
    if len(core) > 3:
        raise NotImplementedError(
            f"fastcorr.ndimage correlates kernels with at most 3 axes longer than 1; these "
            f"weights have shape {weights.shape} (use scipy.ndimage for them)")
    last = input.ndim - 1
    if core and core[-1] != last and len(core) < 3:
        core.append(last)  # a (.., K, 1) kernel: rows stay unit-stride
    converted = input.dtype.kind in "biu"
    if method in ("separable", "fft"):
        if len(core) == 3:
            raise NotImplementedError(
                f"method={method!r} is implemented for kernels with at most 2 axes longer "
                f"than 1; these weights have shape {weights.shape} (use 'direct' or 'auto')")
        if output.dtype.kind in "biu":
            # The method's float64 result, truncated as scipy truncates (not scipy's exact
            # arithmetic: a value within rounding of an integer may land one unit apart).
            result = np.empty(output.shape, np.float64)
            correlate_same(input, weights, result, rules, origins, cval, formula, workers,
                           method)
            np.copyto(output, result, casting="unsafe")
            return output
        if converted:
            # The methods read float stacks: the image converted once.
            input = input.astype(compute_dtype(input.dtype, output.dtype))
            converted = False
    elif output.dtype.kind in "biu" or (converted and len(core) == 3):
        # Integer outputs: scipy's arithmetic.  Integer volumes with a float output too: the
        # 3-D core reads only float planes, and scipy's float64 arithmetic converts the input
        # row by row (no converted copy of the volume), more accurate if slower.
        _exact(input, weights, output, rules, origins, cval, formula, core or [last], workers)
        return output
    dtype = compute_dtype(input.dtype, output.dtype)
    if not core:
        # A one-tap kernel (every origin is then 0): a scaled copy.
        np.multiply(input, dtype.type(weights.reshape(-1)[0]), out=output, dtype=dtype,
                    casting="unsafe")
        return output
    n = len(core)
    batch_axes = [d for d in range(input.ndim) if d not in core]
    order = batch_axes + core
    image = input.transpose(order)
    target = output.transpose(order)
    kernel = np.ascontiguousarray(weights.transpose(order).reshape(
        [weights.shape[d] for d in core]), dtype=dtype)
    starts = tuple(-(weights.shape[d] // 2 + origins[d]) for d in core)
    core_rules = tuple(rules[d] for d in core)
    fill = dtype.type(cval)
    if n == 3:
        _volume(image, kernel, target, starts, core_rules, fill, dtype, workers)
        return output
    if converted:
        _converted(image, kernel, target, starts, core_rules, fill, dtype, workers)
        return output
    g = geometry(image.shape, kernel.shape, dtype, starts, image.shape[len(batch_axes):],
                 core_rules, fill, False, None, ("input", "weights"))
    if key is not None:
        remember(key, (None if order == sorted(order) else order, kernel.shape, g))
    _direct(g, image, kernel, target, workers, method)
    return output


def _direct(g, image, kernel, target, workers, method):
    """target[...] = the correlation of geometry `g` on the engine (image and target: batch
    axes, then core axes)."""
    if target.dtype == g.dtype:
        run(bind(g, image, kernel, target, workers, method))
    else:
        np.copyto(target, run(bind(g, image, kernel, None, workers, method)), casting="unsafe")


def _maps(shape, kernel_shape, starts, rules):
    return tuple(boundary.index_map(s, s + n + k - 1, n, rule)
                 for n, k, s, rule in zip(shape, kernel_shape, starts, rules))


def _image_stack(image, core, dtype):
    """`image` (batch axes, then `core` core axes) as the (B, *core) stack the core reads: in
    `dtype` for a float image (itself when it already is one), in its own dtype for an integer
    or bool image, whose rows the core converts as it reads them (a view unless no single
    batch stride or no unit-stride rows describe it)."""
    if image.ndim == core and ready(image, dtype):
        return image[None]  # the common case, without the general road's calls
    if image.dtype.kind in "biu":
        x = stacked_view(image, core)
        if x is None or x.strides[-1] != x.itemsize:
            x = np.ascontiguousarray(image).reshape((-1,) + image.shape[image.ndim - core:])
        return x
    return stack(readable(image, dtype), image.shape[:image.ndim - core], core)


def _result_stack(target, core, dtype, n):
    """(the (n, *core) stack of `dtype` the core writes, whether it is a temporary to copy into
    `target` afterwards): `target` itself when it can take the core's writes."""
    if target.ndim == core and ready(target, dtype) and target.flags.writeable:
        return target[None], False
    y = writable_stack(target, core) if target.dtype == dtype else None
    if y is not None:
        return y, False
    return np.empty((n,) + target.shape[target.ndim - core:], dtype), True


def _converted(image, kernel, target, starts, rules, fill, dtype, workers):
    """Integer or bool images with a float output: the 2-D core converts the rows of each
    block as it extends them (`_core.correlate_extended_from`), so the image never exists in
    the float type; one core axis is a 2-D problem with a single row."""
    if kernel.ndim == 1:
        image, target, kernel = image[..., None, :], target[..., None, :], kernel[None]
        starts, rules = (0,) + starts, ("fill",) + rules
    _on_stacks(_core.correlate_extended_from, 2, image, kernel, target, starts, rules, fill,
               dtype, workers)


def _volume(image, kernel, target, starts, rules, fill, dtype, workers):
    """Three core axes: `_core.correlate_volume` on (B, D, H, W) stacks."""
    _on_stacks(_core.correlate_volume, 3, image, kernel, target, starts, rules, fill, dtype,
               workers)


def _on_stacks(correlate, core, image, kernel, target, starts, rules, fill, dtype, workers):
    """correlate(x, w, y, *maps, fill, n_threads), a core entry over (B, *core) stacks, from
    `image` into `target` (batch axes, then `core` core axes)."""
    x = _image_stack(image, core, dtype)
    result, temporary = _result_stack(target, core, dtype, x.shape[0])
    maps = _maps(image.shape[-core:], kernel.shape, starts, rules)
    correlate(x, kernel[None], result, *maps, float(fill), resolve_workers(workers))
    if temporary:
        np.copyto(target, result.reshape(target.shape), casting="unsafe")


def _exact(input, weights, output, rules, origins, cval, formula, core, workers):
    """Integer and bool outputs: scipy's arithmetic in the core (see the module docstring), on
    (B, D, H, W) views with size-1 axes where the kernel has fewer than three core axes."""
    batch_axes = [d for d in range(input.ndim) if d not in core]
    order = batch_axes + core
    image = input.transpose(order)
    target = output.transpose(order)
    lead = (1,) * (3 - len(core))
    core_shape = lead + image.shape[len(batch_axes):]
    kernel = np.ascontiguousarray(weights.transpose(order).reshape(
        lead + tuple(weights.shape[d] for d in core)), dtype=np.float64)
    starts = (0,) * len(lead) + tuple(-(weights.shape[d] // 2 + origins[d]) for d in core)
    core_rules = ("fill",) * len(lead) + tuple(rules[d] for d in core)
    x = _stacked(image, len(batch_axes), len(lead))
    if x is None:
        x = np.ascontiguousarray(image).reshape((-1,) + core_shape)
    y = _stacked(target, len(batch_axes), len(lead))
    if y is None:
        y = np.empty((x.shape[0],) + core_shape, output.dtype)
    maps = _maps(core_shape, kernel.shape, starts, core_rules)
    _core.exact_correlate(x, kernel, y, *maps, float(cval), formula, resolve_workers(workers))
    if not np.shares_memory(y, target):
        np.copyto(target, y.reshape(target.shape))


def _stacked(a, n_batch, n_lead):
    """`a` (batch axes, then core axes) as a (B, D, H, W) view with n_lead size-1 axes put
    before the core ones, or None when no single batch stride describes it."""
    return stacked_view(np.expand_dims(a, tuple(range(n_batch, n_batch + n_lead))), 3)


def separable_same(input, terms, output, rules, origins, cval, workers):
    """Sums of two 1-D passes fused per block (`_core.correlate_separable`): for each term
    (col_weights, row_weights), `col_weights` along axis -2, then `row_weights` along axis -1,
    each extended by its own rule (rules, origins: one per axis of input), the intermediate
    rounded to the compute dtype as a float output would round it; the terms' results are
    added in order.  Each pass is a `correlate1d` of its own length: terms of different lengths
    share the maps of the longest, and the taps a shorter one lacks are never multiplied.
    output: a floating-point array of input's shape not sharing memory with it."""
    dtype = compute_dtype(input.dtype, output.dtype)
    x = _image_stack(input, 2, dtype)
    result, temporary = _result_stack(output, 2, dtype, x.shape[0])
    taps = tuple((len(col), len(row)) for col, row in terms)
    key = ("separable_same", input.shape[-2:], tuple(rules[-2:]), tuple(origins[-2:]), taps)
    known = recall(key)
    if known is None:
        lengths = [max(t[axis] for t in taps) for axis in (0, 1)]
        # Per axis, where each term's taps start in the longest one's (a kernel of k taps
        # centred (k // 2) where the longest is centred (length // 2)), and how many it has.
        spans = [np.array([[length // 2 - t[axis] // 2, t[axis]] for t in taps], np.intp)
                 for axis, length in enumerate(lengths)]
        starts = tuple(-(k // 2 + o) for k, o in zip(lengths, origins[-2:]))
        known = remember(key, (lengths, spans,
                               _maps(input.shape[-2:], lengths, starts, rules[-2:])))
    lengths, spans, maps = known
    kernels = []
    for axis, length in enumerate(lengths):
        padded = np.zeros((len(terms), length), dtype)
        for i, ((first, count), term) in enumerate(zip(spans[axis].tolist(), terms)):
            padded[i, first:first + count] = term[axis]
        kernels.append(padded)
    run_passes = (_core.correlate_separable_from if input.dtype.kind in "biu"
                  else _core.correlate_separable)
    # The column pass's fill enters the row pass as itself (two correlate1d calls).
    run_passes(x, kernels[0], kernels[1], result, *maps, float(cval),
               np.full(len(terms), float(cval)), resolve_workers(workers),
               col_span=spans[0], row_span=spans[1])
    if temporary:
        np.copyto(output, result.reshape(output.shape), casting="unsafe")
    return output
