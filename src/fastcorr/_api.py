"""Public 2-D correlation and convolution: argument checking, dtype promotion, modes and
boundaries, complex data, out=, workers=.

The compiled core (_core.pyx) computes the 'valid' correlation of float32 or float64 images
with unit-stride columns (any row stride) and C-contiguous kernels of the same dtype, into
outputs with unit-stride columns that overlap neither; and the same of each image extended by
row and column maps that this module computes from the boundary rule ('full' and 'same').
Everything else is arranged here on top of it:

- scipy's argument conventions and the valid-mode in2-larger swap;
- convolution as correlation with the kernel rotated by 180 degrees, correlation of complex
  data with the kernel conjugated;
- 'full' and 'same' modes with the 'fill'/'wrap'/'symm' boundaries, without a padded copy of a
  large image (see `_correlate_extended`);
- complex data as real correlations of the real and imaginary parts (see `_correlate_parts`);
- stacks of images with broadcast leading dimensions, and axes=, on the core's batch entry
  point (one parallel loop over every image and tile);
- any memory layout, out=.

The 1-D functions (_api1d.py) reuse the dtype table, the workers resolver and the complex split.
"""
import functools
import math
import numbers
import os

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _core

_MODES = ("valid", "same", "full")
# scipy.signal accepts these spellings; each maps to the rule it names.
_BOUNDARIES = {"fill": "fill", "wrap": "wrap", "circular": "wrap", "symm": "symm",
               "symmetric": "symm"}
_MAX_THREADS = 1 << 15
# Images of at most this many pixels get their 'full'/'same' result from whole extended images
# rather than from an interior read in place plus a frame: for a stack of 32x32 images the
# frame's many short pieces cost several times the interior (measured at 32x32, 64x64 and
# 128x128; at 128x128 the two were within noise).
_SMALL_IMAGE = 128 * 128
# The most a thread's buffer of extended rows holds (the core cuts its work units to fit, down
# to about one kernel's size): the core's one L2 budget (its size explained in
# _kernels/fastcorr_kernels.h), a name of its own here so that tests can move it.
_EXTEND_BYTES = _core.L2_BUDGET_BYTES
# The page size the CPU compares load and store addresses modulo (see `_empty_apart`), and the
# result size from which fastcorr places the results it allocates.
_PAGE = 4096
_APART_MIN_BYTES = 1 << 20


# --------------------------------------------------------------------------- dtypes
def _working_dtype(dtype, name):
    """The dtype an input of `dtype` is computed in: the package's one promotion table.

    float32 stays float32, float64 stays float64, complex64 stays complex64 and complex128
    stays complex128 (no silent up- or down-cast); float16 is computed in float32; bool and
    integers in float64 (float32 cannot hold every int32 exactly).  Two inputs are then combined
    with ``np.promote_types``, so complex64 with float32 gives complex64 and complex64 with
    float64 or an integer gives complex128.
    """
    if dtype.kind in "fc":
        real_size = dtype.itemsize // (2 if dtype.kind == "c" else 1)
        if real_size <= 8:
            single = real_size <= 4
            if dtype.kind == "c":
                return np.dtype(np.complex64 if single else np.complex128)
            return np.dtype(np.float32 if single else np.float64)
        raise TypeError(
            f"{name} has dtype {dtype} (extended precision), which fastcorr does not support: "
            "it computes in float32/float64 (complex64/complex128 for complex data); cast "
            "explicitly if that precision is enough"
        )
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(
        f"{name} has dtype {dtype}, which fastcorr cannot correlate; "
        "it accepts bool, integer, floating-point and complex arrays"
    )


def _real_dtype(dtype):
    """float32 for float32/complex64 results, float64 for float64/complex128: what the core
    computes in."""
    return np.dtype(np.float32) if dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def _as_array(arr, name):
    if isinstance(arr, np.ndarray):
        # Subclasses as plain arrays (as np.asarray would give them): np.matrix, for one,
        # cannot hold the batch axis the core works with.
        return arr if type(arr) is np.ndarray else arr.view(np.ndarray)
    try:
        return np.asarray(arr)
    except (ValueError, TypeError) as exc:  # ragged nested sequences and the like
        raise TypeError(f"{name} cannot be converted to a numeric array: {exc}") from None


def _as_input(arr, name, core_ndim=2):
    """`arr` as an ndarray, checked: at least `core_ndim`-D (leading dimensions are a batch),
    non-empty, numeric."""
    a = _as_array(arr, name)
    dtype = _working_dtype(a.dtype, name)
    if a.ndim < core_ndim:
        what = "2-D array (or a stack of them)" if core_ndim == 2 else "1-D array"
        raise ValueError(f"{name} must be a {what}, got {a.ndim}-D with shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); both inputs need at least one element")
    return a, dtype


def _contiguous(a, dtype):
    """C-contiguous, aligned, native-byte-order copy of `a` in `dtype`, or `a` itself if it is one.

    np.require copies exactly when needed, so a C-contiguous native input is never copied; a
    read-only input is fine as it is (the core reads through const memoryviews).
    """
    return np.require(a, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _unit_column_stride(a):
    """True if the core can read or write `a` in place: aligned, with unit-stride columns."""
    item = a.dtype.itemsize
    return a.flags.aligned and a.strides[-1] == item and all(s % item == 0 for s in a.strides)


def _image(a, dtype):
    """`a` itself if the core can read it in place (any row stride, even negative, e.g. a crop
    or a flipped view), else a C-contiguous copy in `dtype`."""
    if a.dtype == dtype and a.dtype.isnative and _unit_column_stride(a):
        return a
    return _contiguous(a, dtype)


# --------------------------------------------------------------------------- arguments
def _check_mode(mode):
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, got {type(mode).__name__}")
    if mode not in _MODES:
        raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")


def _check_boundary(boundary):
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a string, got {type(boundary).__name__}")
    try:
        return _BOUNDARIES[boundary]
    except KeyError:
        raise ValueError(
            "boundary must be 'fill', 'wrap' (or 'circular') or 'symm' (or 'symmetric'), "
            f"got {boundary!r}"
        ) from None


def _check_fillvalue(fillvalue, dtype):
    """`fillvalue` as a scalar of the result dtype `dtype`.

    As in scipy, a one-element array is accepted as a scalar.  A complex value is accepted only
    for complex results (or with a zero imaginary part): scipy would drop the imaginary part of
    a complex fill of real data with only a warning, which is a wrong answer we refuse.
    """
    kind = type(fillvalue)
    if (kind is float or (kind is int and -2**63 <= fillvalue < 2**63)) and (
            abs(fillvalue) < 3e38 or dtype.char not in "fF"):
        # The common case, without numpy's scalar machinery (several microseconds a call).
        return dtype.type(fillvalue)
    if isinstance(fillvalue, (str, bytes)) or fillvalue is None:
        raise TypeError(f"fillvalue must be a number, got {type(fillvalue).__name__}")
    if isinstance(fillvalue, int) and not isinstance(fillvalue, bool) and not (
            -2**63 <= fillvalue < 2**63):
        # numpy would make a Python int beyond int64 an object array; as a fill it is a float.
        try:
            fillvalue = float(fillvalue)
        except OverflowError:
            raise ValueError(f"fillvalue {fillvalue} is too large for a floating-point "
                             "result") from None
    try:
        value = np.asarray(fillvalue)
    except (ValueError, TypeError):
        raise TypeError(f"fillvalue must be a number, got {type(fillvalue).__name__}") from None
    if value.dtype.kind not in "biufc":
        raise TypeError(f"fillvalue must be a number, got an array of dtype {value.dtype}")
    if value.size != 1:
        raise ValueError(
            f"fillvalue must be a scalar or an array with one element, got shape {value.shape}")
    value = value.reshape(())[()]
    if value.dtype.kind == "c" and dtype.kind != "c":
        if value.imag != 0:
            raise TypeError(
                f"fillvalue {value!r} is complex but the result dtype is {dtype}: pass complex "
                "inputs for a complex fill, or a real fillvalue")
        value = value.real
    with np.errstate(over="ignore"):  # a float64 fill too large for float32 becomes inf
        return dtype.type(value)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may actually run on
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _resolve_workers(workers):
    """Thread count for one call, with scipy.fft's conventions for `workers`.

    None asks OpenMP at call time, so OMP_NUM_THREADS and threadpoolctl limits hold.
    """
    if workers is None:
        return _core.omp_max_threads()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers must be an int or None, got {type(workers).__name__}")
    n = int(workers)
    if n == 0:
        raise ValueError("workers must not be 0 (use None for the default, -1 for all CPUs)")
    if n < 0:
        cpus = _cpu_count()
        n += cpus + 1
        if n < 1:
            raise ValueError(
                f"workers={workers} asks for {n - 1} threads on a machine with {cpus} CPUs "
                f"(negative values count back from the CPU count: -1 means all {cpus})"
            )
    # The core takes a C int, and splits no call into more tiles than this anyway.
    return min(n, _MAX_THREADS)


def _valid_swap_needed(shape1, shape2):
    """scipy.signal's rule: in 'valid' mode either input may be the larger, in every dimension."""
    in1_larger = all(s1 >= s2 for s1, s2 in zip(shape1, shape2))
    in2_larger = all(s2 >= s1 for s1, s2 in zip(shape1, shape2))
    if not (in1_larger or in2_larger):
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every dimension "
            f"(in1 has shape {shape1}, in2 has shape {shape2})"
        )
    return not in1_larger


def _check_out(out, shape, dtype):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, but the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, but the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if _may_overlap_itself(out):
        raise ValueError(
            f"out has elements that share memory (strides {out.strides} for shape "
            f"{out.shape}); it needs one element per result value")


def _may_overlap_itself(a):
    """True when two elements of `a` may share memory (an as_strided view with a zero or too
    short stride): the results written through one would overwrite another's, and the kernels
    write several rows at once, so the outcome would not even be one of them.

    Sufficient test for no overlap: with the dimensions sorted by |stride|, each stride spans
    the whole extent of the smaller ones.  Layouts numpy creates (slices, transposes, negative
    steps) always pass it.
    """
    extent = a.itemsize
    for stride, size in sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n > 1):
        if stride < extent:
            return True
        extent += (size - 1) * stride
    return False


# --------------------------------------------------------------------------- batches
def _batch_shape(a1, a2, core_ndim, names):
    """The broadcast shape of the leading (batch) dimensions of the two inputs."""
    lead1, lead2 = a1.shape[:a1.ndim - core_ndim], a2.shape[:a2.ndim - core_ndim]
    try:
        return np.broadcast_shapes(lead1, lead2)
    except ValueError:
        raise ValueError(
            f"the batch dimensions of {names[0]} {lead1} and {names[1]} {lead2} do not "
            "broadcast (each leading dimension must match or be 1)") from None


def _unit_last_stride(a, writeable):
    """`a` with the stride of a length-1 last axis set to the item size: numpy leaves any
    stride on an axis of length 1 (it is never used to step), but the core checks it."""
    if a.shape[-1] != 1 or a.strides[-1] == a.itemsize:
        return a
    return as_strided(a, strides=a.strides[:-1] + (a.itemsize,), writeable=writeable)


def _stack(a, batch, core_ndim):
    """`a` broadcast over `batch` as one batch axis: (B, *core).  A view whenever numpy can
    make one (an input shared by the whole batch gets batch stride 0, never B copies); a copy
    only for leading dimensions no single stride can describe."""
    core = a.shape[a.ndim - core_ndim:]
    if a.ndim == core_ndim and not batch:
        return _unit_last_stride(a[None], writeable=False)
    full = np.broadcast_to(a, batch + core)
    shape = (math.prod(batch),) + core
    try:
        stack = np.reshape(full, shape, copy=False)
    except ValueError:
        stack = np.reshape(full, shape)
    return _unit_last_stride(stack, writeable=False)


def _kernel_stack(k, batch, core_ndim, dtype):
    """The kernel as the core takes it: (1, *core) when one kernel serves the whole batch,
    else (B, *core), C-contiguous in `dtype`."""
    if all(d == 1 for d in k.shape[:k.ndim - core_ndim]):
        return _contiguous(k.reshape(k.shape[k.ndim - core_ndim:]), dtype)[None]
    return _contiguous(_stack(k, batch, core_ndim), dtype)


def _writable_stack(out, core_ndim):
    """`out` as a (B, *core) view the core can write in place, or None if it has none."""
    shape = (math.prod(out.shape[:out.ndim - core_ndim]),) + out.shape[out.ndim - core_ndim:]
    try:
        view = np.reshape(out.view(np.ndarray), shape, copy=False)
    except ValueError:
        return None
    view = _unit_last_stride(view, writeable=True)
    return view if _unit_column_stride(view) else None


def _check_axes(axes, ndim1, ndim2, count, names):
    """`axes` as `count` distinct non-negative axis numbers, the NumPy way (negative count from
    the end).  As in scipy.signal.fftconvolve, both inputs then need the same number of
    dimensions; the other dimensions broadcast."""
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool) and count == 1:
        axes = (axes,)
    try:
        items = tuple(axes)
    except TypeError:
        raise TypeError(f"axes must be a sequence of {count} ints, got "
                        f"{type(axes).__name__}") from None
    if len(items) != count or not all(isinstance(a, numbers.Integral)
                                      and not isinstance(a, bool) for a in items):
        raise TypeError(f"axes must be {count} int{'s' if count > 1 else ''}, got {axes!r}")
    if ndim1 != ndim2:
        raise ValueError(f"with axes, {names[0]} and {names[1]} must have the same number of "
                         f"dimensions, got {ndim1} and {ndim2}")
    normal = tuple(int(a) + ndim1 if a < 0 else int(a) for a in items)
    if any(not 0 <= a < ndim1 for a in normal):
        raise ValueError(f"axes {axes!r} out of range for {ndim1}-D inputs")
    if len(set(normal)) != count:
        raise ValueError(f"axes must be distinct, got {axes!r}")
    return normal


def _along_axes(compute, in1, in2, axes, count, out, names):
    """`compute(in1, in2, out)` (which works on the last `count` axes, the others a batch) over
    the given `axes` instead: the inputs are viewed with those axes moved last, and the result
    moved back (a view; `out` is written through the same moved view)."""
    a1, a2 = _as_array(in1, names[0]), _as_array(in2, names[1])
    axes = _check_axes(axes, a1.ndim, a2.ndim, count, names)
    last = tuple(range(a1.ndim - count, a1.ndim))
    moved_out = out
    if isinstance(out, np.ndarray) and out.ndim == a1.ndim:
        moved_out = np.moveaxis(out, axes, last)
    result = compute(np.moveaxis(a1, axes, last), np.moveaxis(a2, axes, last), moved_out)
    return out if out is not None else np.moveaxis(result, last, axes)


# --------------------------------------------------------------------------- borders
def _boundary_index(index, size, boundary):
    """Positions `index` (any integers, possibly outside [0, size)) mapped into the image by
    the boundary rule.

    'wrap' is periodic with period `size`; 'symm' mirrors with the edge sample repeated, which
    is periodic with period 2 * size.  Both hold however far outside the image a position lies,
    which is what scipy does for kernels larger than the image.
    """
    if boundary == "wrap":
        return np.mod(index, size)
    folded = np.mod(index, 2 * size)
    return np.where(folded >= size, 2 * size - 1 - folded, folded)


def _boundary_position(i, size, boundary):
    """_boundary_index for one position, in Python integers."""
    if boundary == "wrap":
        return i % size
    i %= 2 * size
    return 2 * size - 1 - i if i >= size else i


@functools.lru_cache(maxsize=64)
def _boundary_map(start, stop, size, boundary):
    """For positions start..stop-1 along an axis of length `size`: the image position each
    takes its value from, or -1 where it takes the fill value, as the core's intp maps.

    Only the positions outside the image (at most K-1 at each end when the kernel fits) go
    through the boundary rule: the map of a 2048-wide 'same' result is built in a few
    microseconds, where mapping every position cost ten.
    """
    index = np.arange(start, stop, dtype=np.intp)
    lo = min(max(-start, 0), len(index))
    hi = min(max(size - start, lo), len(index))
    for part in (index[:lo], index[hi:]):
        if boundary == "fill":
            part[...] = -1
        elif len(part) <= 64:
            # A few positions (a frame): plain integers cost less than numpy's calls.
            part[...] = [_boundary_position(int(i), size, boundary) for i in part]
        else:
            part[...] = _boundary_index(part, size, boundary)
    index.flags.writeable = False  # cached: calls with the same geometry share it
    return index


def _correlate_extended(image, kernel, top, left, out, boundary, fill, n_threads,
                        rotate=False):
    """out[i] = valid correlation of the extended image[i] with kernel[i] (or kernel[0]), where
    out[i][0, 0]'s window starts at image position (-top, -left).  Stacks: image (B, M, N),
    kernel (1 or B, P, Q), out (B, OH, OW); real, of one dtype, in layouts the core reads and
    writes in place, out overlapping neither.  With `rotate` (valid mode only) each result is
    stored rotated by 180 degrees.

    The extension is the core's (`_core.correlate_extended_batch`), from a row map and a column
    map computed here: no padded copy of an image is made.  Large images have their interior
    (the windows inside the image) read in place and only a frame at most K-1 wide computed
    from extended rows, built per work unit into per-thread buffers of at most _EXTEND_BYTES
    (extra memory O(K * (M + N)) per thread); small images, and kernels larger than the image,
    are extended whole, a block of rows at a time.
    """
    _, m, n = image.shape
    _, p, q = kernel.shape
    _, oh, ow = out.shape
    if not top and not left and (oh, ow) == (m - p + 1, n - q + 1):
        _core.correlate_valid_batch(image, kernel, out, n_threads, rotate)
        return
    rowmap = _boundary_map(-top, oh - top + p - 1, m, boundary)
    colmap = _boundary_map(-left, ow - left + q - 1, n, boundary)
    interior = m >= p and n >= q and m * n > _SMALL_IMAGE
    _core.correlate_extended_batch(image, kernel, out, rowmap, colmap, fill, n_threads,
                                   _EXTEND_BYTES, top if interior else -1,
                                   left if interior else -1)


# --------------------------------------------------------------------------- complex
def _real_parts(a, real_dtype):
    """(real part, imaginary part or None) of `a` as arrays the core reads, in `real_dtype`.

    The parts of a complex array are views with a column stride of two items, which the SIMD
    loads cannot use, so they are copied (deinterleaved) once.
    """
    if a.dtype.kind != "c":
        return _image(a, real_dtype), None
    return _contiguous(a.real, real_dtype), _contiguous(a.imag, real_dtype)


def _correlate_parts(correlate_real, image, kernel, fill, shape, dtype, first=0):
    """The correlation of `image` with `kernel` (no conjugation: callers pass the kernel already
    conjugated or flipped), in the complex dtype `dtype`, from real correlations.

    ``correlate_real(x, k, f, y)`` writes the real correlation of x with k (fill value f) into
    the new real array y, allocated apart from x by `_empty_apart` (`first` is where the
    result's interior starts).  With x = a + ib and k = c + id, x*k = (ac - bd) + i(ad + bc): four
    real correlations, two when one side is real.  The three-product (Gauss) form
    ``c(a + b) - b(c + d)``, ``c(a + b) + a(d - c)`` would save a quarter of the arithmetic,
    but it bounds the error of each part only by the magnitudes of both parts, so a small real
    part next to a large imaginary one would lose its relative accuracy; four products keep each
    part as accurate as a real correlation, and the extra pass costs little next to the
    deinterleaving every complex input needs anyway.
    """
    real_dtype = _real_dtype(dtype)
    a, b = _real_parts(image, real_dtype)
    c, d = _real_parts(kernel, real_dtype)
    fill_re, fill_im = real_dtype.type(fill.real), real_dtype.type(fill.imag)
    if b is None and fill_im != 0:
        # A real image extended with a complex fill value (complex kernel): its imaginary part
        # is zero inside and fill.imag outside.  Rare enough to pay for a zero image.
        b = np.zeros_like(a)

    def corr(x, k, f):
        y = _empty_apart(shape, real_dtype, x, first)
        correlate_real(x, k, f, y)
        return y

    result = np.empty(shape, dtype)
    re = corr(a, c, fill_re)
    if b is not None and d is not None:
        re -= corr(b, d, fill_im)
    result.real = re
    im = corr(a, d, fill_re) if d is not None else None
    if b is not None:
        im = corr(b, c, fill_im) if im is None else np.add(im, corr(b, c, fill_im), out=im)
    result.imag = 0 if im is None else im
    return result


# --------------------------------------------------------------------------- driver
def _deliver(result, out):
    """`result` (a new array) returned, or copied into `out` and `out` returned."""
    if out is None:
        return result
    np.copyto(out, result)
    return out


def _geometry(mode, image_shape, kernel_shape, convolve):
    """(top, left, plane): where the window of the result's first element starts, (-top, -left)
    in image coordinates, and the result's 2-D shape."""
    (m, n), (p, q) = image_shape, kernel_shape
    if mode == "valid":
        return 0, 0, (m - p + 1, n - q + 1)
    if mode == "full":
        return p - 1, q - 1, (m + p - 1, n + q - 1)
    # 'same' is the full result cropped to in1's shape, starting at (P//2, Q//2) for
    # correlation and ((P-1)//2, (Q-1)//2) for convolution (scipy's centring: the two differ
    # for even kernels); the window of out[0, 0] starts that much less than P-1, Q-1 outside
    # the image.
    if convolve:
        return p - 1 - (p - 1) // 2, q - 1 - (q - 1) // 2, (m, n)
    return p - 1 - p // 2, q - 1 - q // 2, (m, n)


def _correlation(in1, in2, mode, boundary, fillvalue, out, workers, convolve):
    """correlate2d (convolve=False) or convolve2d (True): checks, then geometry, then compute."""
    _check_mode(mode)
    boundary = _check_boundary(boundary)
    a1, dt1 = _as_input(in1, "in1")
    a2, dt2 = _as_input(in2, "in2")
    dtype = np.promote_types(dt1, dt2)
    fill = _check_fillvalue(fillvalue, dtype)
    n_threads = _resolve_workers(workers)
    batch = _batch_shape(a1, a2, 2, ("in1", "in2"))

    if mode == "valid":
        swapped = _valid_swap_needed(a1.shape[-2:], a2.shape[-2:])
        image, small = (a2, a1) if swapped else (a1, a2)
        # Convolution is commutative; correlation with the inputs swapped is the correlation
        # rotated by 180 degrees (scipy's rule), conjugation staying on the second argument.
        rotate = swapped and not convolve
    else:
        # scipy never swaps in 'full' and 'same': in1 is the image even if in2 is larger.
        image, small = a1, a2
        rotate = False
    top, left, plane = _geometry(mode, image.shape[-2:], small.shape[-2:], convolve)
    shape = batch + plane
    if out is not None:
        _check_out(out, shape, dtype)

    if convolve:
        kernel = small[..., ::-1, ::-1]
    else:
        kernel = np.conj(small) if small.dtype.kind == "c" else small

    def correlate_real(x, k, f, y):
        stack_y = _unit_last_stride(y.reshape((-1,) + plane), writeable=True)  # a view of y
        _correlate_extended(_stack(x, batch, 2), _kernel_stack(k, batch, 2, y.dtype), top,
                            left, stack_y, boundary, f, n_threads, rotate)

    if dtype.kind == "c":
        return _deliver(_correlate_parts(correlate_real, image, kernel, fill, shape, dtype,
                                         top * plane[1] + left), out)
    image = _image(image, dtype)
    target = None
    if out is not None and not np.may_share_memory(out, image) and \
            not np.may_share_memory(out, kernel):
        target = _writable_stack(out, 2)
    if target is None:
        result = _empty_apart(shape, dtype, image, top * plane[1] + left)
        correlate_real(image, kernel, fill, result)
        return _deliver(result, out)
    _correlate_extended(_stack(image, batch, 2), _kernel_stack(kernel, batch, 2, dtype), top,
                        left, target, boundary, fill, n_threads, rotate)
    return out


def _empty_apart(shape, dtype, image, first):
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
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize < _APART_MIN_BYTES or image.size == 0:
        return np.empty(shape, dtype)
    buf = np.empty(size + _PAGE // dtype.itemsize, dtype)
    gap = (image.ctypes.data + _PAGE // 2 - buf.ctypes.data - first * dtype.itemsize) % _PAGE
    start = gap // dtype.itemsize
    return buf[start:start + size].reshape(shape)


_PLAIN_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _plain(in1, in2, mode, boundary, fillvalue, out, workers, convolve):
    """The result of the commonest calls computed straight by the core, or None if it is not one.

    The commonest calls: two C-contiguous, aligned 2-D ndarrays of one native float dtype (in1
    at least as large as in2 in 'valid' mode), a Python int or float fill value, and no out= or
    a C-contiguous, aligned, writeable out of the result's shape and dtype that shares no
    memory with them.  The general path's checks, stacking and conversions cost tens of
    microseconds, several times the arithmetic of a small image (128x128 with 3x3 is about
    7 us), so these calls skip them; the conditions make their results and errors the general
    path's.
    """
    if not (type(in1) is np.ndarray and type(in2) is np.ndarray and type(mode) is str
            and mode in _MODES and type(boundary) is str and boundary in _BOUNDARIES
            and type(fillvalue) in (int, float)):
        return None
    if (in1.ndim != 2 or in2.ndim != 2 or in1.dtype != in2.dtype
            or in1.dtype not in _PLAIN_DTYPES or in2.size == 0 or in1.size == 0):
        return None
    if not (in1.flags.c_contiguous and in2.flags.c_contiguous
            and in1.flags.aligned and in2.flags.aligned):
        return None
    if mode == "valid" and (in2.shape[0] > in1.shape[0] or in2.shape[1] > in1.shape[1]):
        return None
    top, left, shape = _geometry(mode, in1.shape, in2.shape, convolve)
    if out is not None and not (
            type(out) is np.ndarray and out.dtype == in1.dtype and out.shape == shape
            and out.flags.c_contiguous and out.flags.aligned and out.flags.writeable
            and not np.may_share_memory(out, in1) and not np.may_share_memory(out, in2)):
        return None
    n_threads = _resolve_workers(workers)
    kernel = np.ascontiguousarray(in2[::-1, ::-1]) if convolve else in2
    if out is None:
        # in1's size stands in for the result's here: a function call costs a small image
        # about a tenth of its time.
        out = (np.empty(shape, in1.dtype) if in1.nbytes < _APART_MIN_BYTES
               else _empty_apart(shape, in1.dtype, in1, top * shape[1] + left))
    if mode == "valid":
        # An int or float fill value is always valid, and 'valid' never reads it.
        _core.correlate_valid(in1, kernel, out, n_threads)
    else:
        _correlate_extended(in1[None], kernel[None], top, left, out[None],
                            _BOUNDARIES[boundary], _check_fillvalue(fillvalue, in1.dtype),
                            n_threads)
    return out


def _correlate_or_convolve(in1, in2, mode, boundary, fillvalue, axes, out, workers, convolve):
    """correlate2d's and convolve2d's one route: axes=, then the plain fast call, then the
    general path."""
    if axes is not None:
        return _along_axes(lambda a, b, o: _correlation(a, b, mode, boundary, fillvalue, o,
                                                        workers, convolve=convolve),
                           in1, in2, axes, 2, out, ("in1", "in2"))
    plain = _plain(in1, in2, mode, boundary, fillvalue, out, workers, convolve)
    if plain is not None:
        return plain
    return _correlation(in1, in2, mode, boundary, fillvalue, out, workers, convolve)


def correlate2d(in1, in2, mode="valid", boundary="fill", fillvalue=0, *, axes=None, out=None,
                workers=None):
    """Cross-correlate two 2-D arrays.

    ``out[i, j] = sum_{a, b} in1[i + a, j + b] * conj(in2[a, b])`` with the modes, boundaries
    and complex semantics of :func:`scipy.signal.correlate2d`.  Computed directly (no FFT) by
    SIMD kernels for this CPU, on several threads.

    Parameters
    ----------
    in1 : array_like
        First input: the image, 2-D, or a stack of images (see `axes`).
    in2 : array_like
        Second input: the kernel (or a stack of them), conjugated if complex.  In 'valid' mode either input may
        be the larger one, but one must be at least as large as the other in every dimension;
        if `in2` is the larger, the result is scipy's: the correlation of `in2` with
        ``conj(in1)``, rotated by 180 degrees.  In 'full' and 'same' modes `in2` may be larger
        than `in1` in any dimension.
    mode : {'valid', 'full', 'same'}, optional
        'valid' (the default here; scipy's default is 'full'): only where `in2` lies inside
        `in1`, shape ``(M - P + 1, N - Q + 1)``.  'full': every overlap, shape
        ``(M + P - 1, N + Q - 1)``.  'same': shape ``(M, N)``, the full result cropped starting
        at ``(P // 2, Q // 2)``, as scipy centres it.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How `in1` is extended outside its edges in 'full' and 'same' modes: 'fill' with
        `fillvalue`, 'wrap' periodically ('circular' is accepted too), 'symm' by mirroring with
        the edge sample repeated ('symmetric' too).  Ignored (but checked) in 'valid' mode.
    fillvalue : scalar, optional
        The value outside `in1` for ``boundary='fill'``; default 0.  It may be complex when the
        result is complex.
    axes : pair of ints, optional
        The two axes of each input that hold the images (default: the last two).  As in
        :func:`scipy.signal.fftconvolve`, both inputs then need the same number of dimensions.
        All other dimensions are a batch: they broadcast the NumPy way, so ``in1`` of shape
        ``(..., M, N)`` with a 2-D `in2` correlates every image with one kernel, and an `in2`
        with leading dimensions gives each image its own kernel.  The result keeps the input's
        axis order (a view when `axes` are not the last two).
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into.  It may overlap
        the inputs (the result is then computed into a temporary first).
    workers : int, optional
        Threads to use.  None (default) uses OpenMP's current setting, so ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits`` apply; -1 means all CPUs, -2 all but one, and so on.
        Small problems run on one thread whatever the setting.

    Returns
    -------
    ndarray
        The correlation.  float32 inputs give float32 (computed in float32), float64 or mixed
        float32/float64 give float64, bool and integers float64, float16 float32; complex64
        with float32 (or float16) gives complex64, complex with anything wider complex128.

    Raises
    ------
    TypeError
        An input has an object, string or extended-precision dtype; `mode`, `boundary`,
        `fillvalue`, `out` or `workers` has the wrong type; `fillvalue` is complex for a real
        result; `out` has the wrong dtype.
    ValueError
        An input has fewer than 2 dimensions or is empty; the batch dimensions do not
        broadcast; in 'valid' mode neither input is at least as large as the other in both
        image dimensions; `mode` or `boundary` is unknown; `fillvalue` has more than one
        element; `axes` are out of range or repeated; `out` has the wrong shape or is
        read-only; `workers` is 0.

    See Also
    --------
    convolve2d : the same with `in2` rotated by 180 degrees and not conjugated.
    correlate : 1-D correlation.
    scipy.signal.correlate2d : the reference semantics.

    Notes
    -----
    Each output is a sum of ``P * Q`` products accumulated in the result's precision, so its
    rounding error is bounded by about ``P * Q * eps * sum |in1 * in2|`` over the window.  NaN
    and Inf propagate as in the plain sum: no zero tap is skipped.

    The border of a 'full' or 'same' result (a frame at most ``P - 1`` rows and ``Q - 1``
    columns wide) is computed from blocks of extended rows of `in1` that each thread builds in
    a small buffer, never from a padded copy of a large image, in the same parallel loop as the
    interior, so these modes run at about the speed of 'valid'; small images (stacks of them)
    are extended whole, one at a time, the same way.  Complex inputs are computed
    as four real correlations of the real and imaginary parts (two if one input is real).

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> kernel = np.array([[1, 0], [0, -1]], dtype=np.float32)
    >>> fastcorr.correlate2d(image, kernel)
    array([[-5., -5., -5.],
           [-5., -5., -5.],
           [-5., -5., -5.]], dtype=float32)
    >>> fastcorr.correlate2d(image, kernel, mode="same", boundary="wrap")
    array([[-5., -5., -5., -1.],
           [-5., -5., -5., -1.],
           [-5., -5., -5., -1.],
           [11., 11., 11., 15.]], dtype=float32)
    >>> fastcorr.correlate2d([[1, 2, 3]], [[1j, 1]], mode="full")
    array([[1.+0.j, 2.-1.j, 3.-2.j, 0.-3.j]])
    >>> stack = np.ones((10, 4, 4), dtype=np.float32)   # ten 4x4 images
    >>> fastcorr.correlate2d(stack, kernel, mode="same").shape
    (10, 4, 4)
    """
    return _correlate_or_convolve(in1, in2, mode, boundary, fillvalue, axes, out, workers,
                                  convolve=False)


def convolve2d(in1, in2, mode="valid", boundary="fill", fillvalue=0, *, axes=None, out=None,
               workers=None):
    """Convolve two 2-D arrays.

    ``out[i, j] = sum_{a, b} in1[i - a, j - b] * in2[a, b]`` (indices relative to the mode's
    origin) with the modes, boundaries and complex semantics of
    :func:`scipy.signal.convolve2d`: correlation with `in2` rotated by 180 degrees (and not
    conjugated).  Convolution is commutative, so in 'valid' mode the smaller input is the
    kernel whichever argument it is; the larger one is never copied to be flipped.

    Parameters
    ----------
    in1 : array_like
        First input, 2-D.
    in2 : array_like
        Second input, 2-D.  Either input may be the larger in 'valid' mode, but one must be at
        least as large as the other in every dimension; 'full' and 'same' accept any shapes.
    mode : {'valid', 'full', 'same'}, optional
        As in `correlate2d` (default 'valid'; scipy's is 'full'), except that 'same' crops the
        full result starting at ``((P - 1) // 2, (Q - 1) // 2)``, scipy's centring for
        convolution.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How `in1` is extended in 'full' and 'same' modes (see `correlate2d`).
    fillvalue : scalar, optional
        The value outside `in1` for ``boundary='fill'``; default 0.
    axes : pair of ints, optional
        The axes holding the images (default the last two); other dimensions are a batch that
        broadcasts (see `correlate2d`).
    out : ndarray, optional
        Array of exactly the result's shape and dtype to write the result into; may overlap the
        inputs.
    workers : int, optional
        Threads to use; None uses OpenMP's current setting, -1 all CPUs (see `correlate2d`).

    Returns
    -------
    ndarray
        The convolution, dtype as in `correlate2d`.

    Raises
    ------
    TypeError, ValueError
        As `correlate2d`.

    See Also
    --------
    correlate2d : the same without rotating the kernel.
    convolve : 1-D convolution.
    scipy.signal.convolve2d : the reference semantics.

    Examples
    --------
    >>> import numpy as np
    >>> import fastcorr
    >>> image = np.arange(16, dtype=np.float64).reshape(4, 4)
    >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> fastcorr.convolve2d(image, kernel)
    array([[5., 5., 5.],
           [5., 5., 5.],
           [5., 5., 5.]])
    >>> fastcorr.convolve2d(image, kernel, mode="full")[:2]
    array([[ 0.,  1.,  2.,  3.,  0.],
           [ 4.,  5.,  5.,  5., -3.]])
    """
    return _correlate_or_convolve(in1, in2, mode, boundary, fillvalue, axes, out, workers,
                                  convolve=True)
