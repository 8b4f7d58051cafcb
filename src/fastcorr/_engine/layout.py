"""Array layouts the compiled core reads and writes, and views that give them without copying.

The core takes stacks: (B, *core) images and outputs whose last axis is unit-stride (any other
stride, even negative or zero, in whole items), and (1 or B, *core) C-contiguous kernels, all in
float32 or float64 with native byte order.  Inputs already in such a layout are used in place;
only the others are copied, once.
"""
import math

import numpy as np


def ready(a, dtype):
    """True if `a` is C-contiguous, aligned, unit-stride along its last axis and of `dtype`
    (native order: a dtype equals only its own byte order): usable as it is, as image, kernel or
    output."""
    flags = a.flags
    return a.dtype == dtype and flags.c_contiguous and flags.aligned and \
        a.strides[-1] == a.itemsize


def contiguous(a, dtype):
    """C-contiguous, aligned, native-byte-order `a` in `dtype`: `a` itself if it is one (a
    read-only input is fine as it is: the core reads through const memoryviews)."""
    if ready(a, dtype):
        return a
    c = np.ascontiguousarray(a, dtype=dtype)  # a copy unless only the alignment is wrong
    return c if c.flags.aligned else c.copy()


def readable(a, dtype):
    """`a` itself if the core can read it in place (any row stride, even negative, e.g. a crop
    or a flipped view), else a C-contiguous copy in `dtype`."""
    item = a.itemsize
    if a.dtype == dtype and a.dtype.isnative and a.flags.aligned and a.strides[-1] == item \
            and all(s % item == 0 for s in a.strides) and not _exports_other_strides(a):
        return a
    return contiguous(a, dtype)


def _exports_other_strides(a):
    """True when numpy's buffer export (what the core's memoryviews see) gives `a` strides other
    than its own: an F-contiguous array with a last axis of length 1 is exported with the
    canonical Fortran stride there, which is not the item size."""
    return a.ndim > 1 and a.shape[-1] == 1 and a.flags.f_contiguous and not a.flags.c_contiguous


def stack(a, batch, core):
    """`a` broadcast over `batch` as one batch axis: (B, *core).  A view whenever one stride
    can describe it (an input shared by the whole batch gets batch stride 0, never B copies);
    a copy only otherwise."""
    if a.ndim == core and not batch:
        return unit_last_stride(a[None], writeable=False)
    full = np.broadcast_to(a, batch + a.shape[a.ndim - core:])
    view = stacked_view(full, core)
    if view is None:
        view = full.reshape((math.prod(batch),) + full.shape[len(batch):])
    return unit_last_stride(view, writeable=False)


def kernel_stack(k, batch, core, dtype):
    """The kernel as the core takes it: (1, *core) when one kernel serves the whole batch,
    else (B, *core), C-contiguous in `dtype`."""
    if all(d == 1 for d in k.shape[:k.ndim - core]):
        return contiguous(k.reshape(k.shape[k.ndim - core:]), dtype)[None]
    return contiguous(stack(k, batch, core), dtype)


def writable_stack(a, core):
    """`a` as a (B, *core) view the core can write in place, or None if it has none."""
    view = stacked_view(a.view(np.ndarray), core)
    if view is None:
        return None
    view = unit_last_stride(view, writeable=True)
    item = view.itemsize
    if view.flags.aligned and view.strides[-1] == item and \
            all(s % item == 0 for s in view.strides) and not _exports_other_strides(view):
        return view
    return None


def stacked_view(a, core):
    """`a` with its leading (batch) axes merged into one: a (B, *core) view, or None when no
    single stride describes them.  (np.reshape(..., copy=False) does this from numpy 2.1 on;
    this works on every numpy fastcorr supports.)"""
    n_lead = a.ndim - core
    if n_lead == 0:
        return a[None]
    if n_lead == 1:
        return a
    lead = a.shape[:n_lead]
    # Merge from the innermost batch axis out; axes of length 1 never step.
    stride, extent = None, 1
    for n, s in zip(reversed(lead), reversed(a.strides[:n_lead])):
        if n == 1:
            continue
        if stride is None:
            stride = s
        elif s != stride * extent:
            return None
        extent *= n
    shape = (math.prod(lead),) + a.shape[n_lead:]
    strides = (0 if stride is None else stride,) + a.strides[n_lead:]
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)


def unit_last_stride(a, writeable):
    """`a` with the stride of a length-1 last axis set to the item size: numpy leaves any
    stride on an axis of length 1 (it is never used to step), but the core checks it."""
    if a.shape[-1] != 1 or a.strides[-1] == a.itemsize:
        return a
    return np.lib.stride_tricks.as_strided(a, strides=a.strides[:-1] + (a.itemsize,),
                                           writeable=writeable)
