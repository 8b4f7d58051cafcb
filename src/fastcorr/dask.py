"""The dask face: fastcorr.ndimage's filters on dask arrays, lazily, block by block, on any dask
scheduler (threads, processes, a ``dask.distributed`` cluster), for arrays larger than memory.

``fastcorr.dask.gaussian_filter(x, 2)`` takes a ``dask.array.Array`` and returns one with the
same chunks, whose values are ``fastcorr.ndimage.gaussian_filter(x.compute(), 2)``'s: the
border `mode` applies at the array's outer edges only, never at chunk edges.

How a block is computed (one graph made for this job, not ``map_overlap``):

- Every output block is the filter of its own input block, computed as it is (no padded copy):
  all of it is exact except a frame as wide as the kernel's reach, whose outputs need the
  neighbours' samples.  Only that frame is computed again, slab by slab, from a small array
  assembled out of the block's edge and its neighbours' *rims*, and written over the frame.
  Which samples go where is worked out when the graph is made (`_frame_plan`), so a task only
  copies and filters: assembling the slabs in the task had cost 0.42 ms of Python per 1024x1024
  block (7x7 kernel, Intel Xeon), a quarter of the block's filter; now 0.12 ms.
- A block's rim is one small task per input block: along each axis the first and the last
  ``reach + 1`` samples, copied (so a neighbour never holds a whole block alive, and a
  cluster moves kilobytes between workers, not blocks).
- So the graph has two tasks per block where ``map_overlap`` has about ten (a slice per
  neighbour, a concatenation, the function, a trim), and the filter is one Blockwise layer:
  dask fuses what follows it (a ``.sum()``, an ``astype``, a ``to_zarr``) into its tasks, as
  after ``map_blocks``.  No block is copied into a padded array, and chunks of any size work,
  even smaller than the kernel's reach (those only make more, smaller tasks).

At an outer edge the mode needs samples from inside the array ('reflect' reads up to the
reach, 'wrap' the far end): the assembled array then reaches that far, so the result is the
whole array's at every position.

Threads: with ``workers=None`` a task uses `task_workers` threads: the process's OpenMP thread
count divided by the tasks dask runs at once in that process, so fastcorr's threads never
oversubscribe dask's (see `task_workers`).

dask is an optional dependency (``pip install "fastcorr[dask]"``); ``import fastcorr`` does not
import it, ``import fastcorr.dask`` (or ``fastcorr.dask`` after ``import fastcorr``) does.
"""
import functools
import itertools
import math
import multiprocessing
import operator
import sys
import threading

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask._task_spec import TaskRef
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
    from dask.layers import ArrayBlockwiseDep
except ImportError as error:  # pragma: no cover - exercised without dask installed
    raise ImportError("fastcorr.dask needs dask: pip install \"fastcorr[dask]\" (or "
                      "\"dask[array]\")") from error

from . import ndimage
from ._engine.threads import resolve_workers

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
           "gaussian_filter1d", "uniform_filter", "uniform_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "gaussian_gradient_magnitude", "task_workers"]

_WRAP = ("wrap", "grid-wrap")


# --------------------------------------------------------------------------- threads
def _tasks_at_once():
    """How many dask tasks this process runs at the same time as the calling one."""
    if "distributed" in sys.modules:  # a distributed worker has imported it already
        from distributed import get_worker
        try:
            return get_worker().state.nthreads
        except ValueError:
            pass
    threaded = sys.modules.get("dask.threaded")
    if threaded is not None:
        # The threaded scheduler runs tasks on one of its pools: the one this thread belongs
        # to tells how many run at once.  A pool's threads are named after it ("<prefix>_<n>")
        # before they start, where its set of threads only holds them once started.
        prefix = threading.current_thread().name.rpartition("_")[0]
        pools = [threaded.default_pool]
        pools += [p for per_thread in list(threaded.pools.values())
                  for p in list(per_thread.values())]
        for pool in pools:
            if pool is not None and prefix and getattr(pool, "_thread_name_prefix",
                                                       None) == prefix:
                return pool._max_workers
    if multiprocessing.parent_process() is not None and "dask.multiprocessing" in sys.modules:
        # A process of dask's 'processes' scheduler: its pool runs CPU_COUNT processes (or
        # dask's num_workers setting), one task each.
        from dask.system import CPU_COUNT
        return dask.config.get("num_workers", None) or CPU_COUNT
    return 1


def task_workers():
    """The threads a fastcorr.dask task uses when ``workers=None``.

    The process's OpenMP thread count (what ``workers=None`` gives a plain fastcorr call:
    ``OMP_NUM_THREADS``, threadpoolctl, the CPU affinity) divided by the tasks dask runs at once
    in this process, at least 1: on the threaded scheduler its pool size, on a
    ``dask.distributed`` worker its ``nthreads``, under the 'processes' scheduler its process
    count, and 1 under the synchronous scheduler or outside dask, where a task gets all of the
    process's threads.

    ``dask.distributed`` starts its worker processes with ``OMP_NUM_THREADS=1`` (its
    ``distributed.nanny.pre-spawn-environ`` setting), so there each task runs one fastcorr
    thread and the cluster's parallelism is its workers' threads; to give one task per process
    several cores instead, start the workers with ``nthreads=1`` and that setting raised.
    An explicit ``workers=`` is used as given.

    Returns
    -------
    int

    Examples
    --------
    >>> import dask
    >>> from fastcorr import dask as fcd
    >>> dask.delayed(fcd.task_workers)().compute(scheduler="synchronous") >= 1
    True
    """
    return max(1, resolve_workers(None) // max(1, _tasks_at_once()))


# --------------------------------------------------------------------------- geometry
def _span(start, stop, n, left, right, wrap):
    """The input positions the outputs start..stop-1 of an axis of length n read, as
    consecutive runs ``(first, last + 1)`` in the order they are laid out, and where `start`
    falls in that layout.

    Away from the edges: start - left .. stop + right - 1.  'wrap' reads those positions modulo
    n.  The other modes read, beyond an edge, samples within `left` (`right`) of it ('reflect'
    up to left - 1, 'mirror' up to left): the run then reaches that far into the array, so the
    mode applied at the run's ends (the array's edges) gives the whole array's values.
    """
    if wrap:
        runs, p = [], start - left
        while p < stop + right:
            first = p % n
            length = min(n - first, stop + right - p)
            runs.append((first, first + length))
            p += length
        return runs, left
    lo, hi = start - left, stop + right
    first, last = max(lo, 0), min(hi, n)
    if lo < 0:
        last = min(n, max(last, -lo + 1))
    if hi > n:
        first = max(0, min(first, n - 1 - (hi - n)))
    return [(first, last)], start - first


def _exact_range(start, stop, n, left, right, wrap):
    """The outputs of a block start..stop-1 that the filter of the block alone gets right,
    as offsets in the block: those whose reach stays inside it, and at an outer edge (not
    'wrap') those next to the edge too, when the block holds every sample the mode reads there
    (more than `left`/`right` samples, or the whole axis)."""
    size = stop - start
    lo, hi = left, size - right
    if not wrap and start == 0 and (size > left or size == n):
        lo = 0
    if not wrap and stop == n and (size > right or size == n):
        hi = size
    return lo, hi


def _boundaries(chunks):
    return [np.cumsum((0,) + tuple(c)) for c in chunks]


def _split(runs, bounds):
    """Runs cut at the chunk boundaries: (block index, first, last, offset in the layout)."""
    pieces, offset = [], 0
    for first, last in runs:
        p = first
        while p < last:
            b = int(np.searchsorted(bounds, p, side="right")) - 1
            q = min(last, int(bounds[b + 1]))
            pieces.append((b, p, q, offset))
            offset += q - p
            p = q
    return pieces, offset


# --------------------------------------------------------------------------- tasks
def _rims(block, depths):
    """Along each axis with a depth, copies of the block's first and last `depth` samples (so
    no rim keeps its whole block alive, and a cluster moves kilobytes), or the block itself
    where it is no thicker than that."""
    rims = []
    for axis, depth in enumerate(depths):
        if depth == 0:
            rims.append(None)
        elif depth >= block.shape[axis]:
            rims.append((block, block))
        else:
            index = [slice(None)] * block.ndim
            index[axis] = slice(0, depth)
            first = block[tuple(index)].copy()
            index[axis] = slice(block.shape[axis] - depth, None)
            rims.append((first, block[tuple(index)].copy()))
    return tuple(rims)


def _rim_address(first, last, sizes, depths):
    """Where the samples first..last-1 (per axis, offsets in their block of `sizes`) lie in
    that block's rims (see `_rims`): ((axis, 0 for the first rim or 1 for the last), the
    slices into that rim)."""
    for axis, depth in enumerate(depths):
        if depth == 0:
            continue
        a, b, size = first[axis], last[axis], sizes[axis]
        if b <= depth:
            end, shift = 0, 0
        elif a >= size - depth:
            end, shift = 1, max(0, size - depth)
        else:
            continue
        slices = [slice(s, e) for s, e in zip(first, last)]
        slices[axis] = slice(a - shift, b - shift)
        return (axis, end), tuple(slices)
    raise AssertionError(f"fastcorr.dask: no rim holds {first}..{last} of a block of {sizes} "
                         f"(depths {depths})")


def _frame_plan(index, sources, bounds, reach, wraps, depths):
    """What the task of block `index` does, worked out once when the graph is made (so the
    task itself only copies and filters): ``(whole, slabs)``.  `whole`: the block is filtered
    as it is, and the slabs, disjoint, cover its frame (the outputs that read past it);
    otherwise one slab covers the whole block.  A slab is ``(shape, copies, parts)``: an array
    of `shape` assembled by `copies`, each ``(target, k, rim, source)`` (the samples ``source``
    of the block itself (k = -1) or of rim ``rim`` = (axis, end) of the k-th of `sources`,
    copied to ``target``), is filtered, and each of `parts`, ``(where, crop)``, puts ``crop``
    of that filter at ``where`` in the block's result.

    The two slabs of an axis's frame (its first and last outputs) are filtered as one array,
    one after the other along that axis: each part's outputs read only samples of their own
    part (the seam between them lies beyond the reach of both), and a mode that applies at an
    end of the array applies at the same end as before.  One call instead of two: a 1024x1024
    block's frame, 7x7, 320 -> 180 us."""
    ndim = len(index)
    n = [int(b[-1]) for b in bounds]
    start = [int(bounds[a][index[a]]) for a in range(ndim)]
    stop = [int(bounds[a][index[a] + 1]) for a in range(ndim)]
    position = {source: k for k, source in enumerate(sources)}

    def slab(box):
        per_axis, shape, crop = [], [], []
        for a, (lo, hi) in enumerate(box):
            runs, at = _span(start[a] + lo, start[a] + hi, n[a], *reach[a], wraps[a])
            pieces, length = _split(runs, bounds[a])
            per_axis.append(pieces)
            shape.append(length)
            crop.append(slice(at, at + hi - lo))
        copies = []
        for combo in itertools.product(*per_axis):
            source = tuple(p[0] for p in combo)
            first = [p[1] - int(bounds[a][p[0]]) for a, p in enumerate(combo)]
            last = [p[2] - int(bounds[a][p[0]]) for a, p in enumerate(combo)]
            target = tuple(slice(p[3], p[3] + p[2] - p[1]) for p in combo)
            if source == index:
                copies.append((target, -1, None, tuple(map(slice, first, last))))
            else:
                sizes = [int(bounds[a][source[a] + 1] - bounds[a][source[a]])
                         for a in range(ndim)]
                copies.append((target, position[source])
                              + _rim_address(first, last, sizes, depths))
        where = tuple(slice(lo, hi) for lo, hi in box)
        return tuple(shape), copies, [(where, tuple(crop))]

    def stacked(first, second, a):
        """`first` and `second` as one slab along axis a.  No output of either reads past the
        seam: the first part's run reaches `right` samples past its outputs unless the
        array's far end clamps it, and a block that far out has no last part (its last
        outputs are exact); the same holds for the second part at the near end."""
        (shape1, copies1, ((where1, crop1),)), (shape2, copies2, ((where2, crop2),)) = \
            first, second
        assert crop1[a].stop + reach[a][1] <= shape1[a] and crop2[a].start >= reach[a][0], \
            (index, a, crop1, crop2, shape1, shape2)
        shift = shape1[a]

        def moved(slices):
            slices = list(slices)
            slices[a] = slice(slices[a].start + shift, slices[a].stop + shift)
            return tuple(slices)
        shape = list(shape1)
        shape[a] += shape2[a]
        copies = copies1 + [(moved(target), *rest) for target, *rest in copies2]
        return tuple(shape), copies, [(where1, crop1), (where2, moved(crop2))]

    whole = [(0, stop[a] - start[a]) for a in range(ndim)]
    exact = [_exact_range(start[a], stop[a], n[a], *reach[a], wraps[a]) for a in range(ndim)]
    if any(lo >= hi for lo, hi in exact):
        return False, (slab(whole),)
    # The frame, peeled axis by axis into disjoint slabs.
    slabs, current = [], list(whole)
    for a, (lo, hi) in enumerate(exact):
        parts = []
        for part in ((0, lo), (hi, whole[a][1])):
            if part[0] < part[1]:
                box = list(current)
                box[a] = part
                parts.append(slab(box))
        slabs.extend([stacked(*parts, a)] if len(parts) == 2 else parts)
        current[a] = (lo, hi)
    return True, tuple((shape, tuple(copies), tuple(parts)) for shape, copies, parts in slabs)


class _Plan:
    """A block's `_frame_plan`, opaque to dask.  dask walks every tuple of a task's arguments
    for references to other tasks each time the graph is made ready to run: with the plans'
    nested tuples of slices in the open that took 79 ms of every compute of an 8192x8192 array
    in 1024x1024 blocks (7x7 kernel, one process, Intel Xeon), 38 ms with them wrapped."""

    def __init__(self, value):
        self.value = value


def _filter_block(center, plan, *rims, function, kwargs):
    """One output block: the filter of its input block, its frame computed again from arrays
    assembled out of the block's edge and the rims of the blocks it reads from, as `plan`
    (`_frame_plan`) says (see the module docstring)."""
    whole, slabs = plan.value
    kwargs = _in_task(kwargs)
    out = function(center, **kwargs) if whole else None
    for shape, copies, parts in slabs:
        assembled = np.empty(shape, center.dtype)
        for target, k, rim, source in copies:
            assembled[target] = (center if k < 0 else rims[k][rim[0]][rim[1]])[source]
        filtered = function(assembled, **kwargs)
        if out is None:
            return filtered[parts[0][1]]
        for where, crop in parts:
            out[where] = filtered[crop]
    return out


# --------------------------------------------------------------------------- the graph
class _PerBlock(ArrayBlockwiseDep):
    """One value per block of a Blockwise layer: the block's `_frame_plan`, or (with `keys`) a
    reference to the rim of one of its sources, which dask then counts as a dependency.
    `token` names the values for dask's tokenize, which would otherwise pickle them all (and
    unpickle them, to check the result is deterministic): 26 of the 30-50 ms it took to make
    the graph of an 8192x8192 array in 1024x1024 blocks (7x7 kernel, Intel Xeon)."""

    def __init__(self, chunks, values, keys, token):
        super().__init__(chunks)
        self.values, self.produces_tasks, self._keys = values, keys, keys
        self._token = token

    def __dask_tokenize__(self):
        return self._token

    @property
    def produces_keys(self):
        return self._keys

    def __getitem__(self, index):
        return self.values[index]


def _meta(function, x, kwargs):
    """The arguments of ``function(x, **kwargs)`` checked now, with the face's own errors, on
    a one-sample array of x's rank and dtype (on one thread, `workers` checked apart), and
    the result's meta: an empty array of its dtype."""
    output = kwargs.get("output")
    if output is not None and not isinstance(output, (type, np.dtype, str)):
        raise TypeError(f"output must be None or a dtype for a dask array (the result is a "
                        f"new lazy array), got {type(output).__name__}")
    if kwargs.get("workers") is not None:
        resolve_workers(kwargs["workers"])
    meta = function(np.zeros((1,) * x.ndim, x.dtype), **dict(kwargs, workers=1))
    return np.empty((0,) * x.ndim, meta.dtype)


def _lazy(function, input, kwargs, footprint):
    """The lazy result of ``function(input, **kwargs)`` (a fastcorr.ndimage filter).

    ``footprint(ndim)`` gives, per axis, the samples ``(left, right)`` an output reads around
    it and the mode there; it is called once the arguments are known to be valid.

    The filter is one Blockwise layer over the input (so dask fuses what follows it, a
    ``.sum()`` or a ``to_zarr``, into the same tasks, as it does after ``map_blocks``), whose
    block i also takes the rims of the blocks i reads from: the k-th of those is the k-th of
    ``slots`` per-block references into the rims layer (a block with fewer sources repeats its
    own rim there)."""
    x = da.asarray(input)
    meta = _meta(function, x, kwargs)
    reach, modes = footprint(x.ndim)
    wraps = tuple(m in _WRAP for m in modes)
    token = tokenize(x, function.__name__, kwargs, reach, modes)
    name = f"{function.__name__}-{token}"
    if x.size == 0 or all(len(c) == 1 for c, r in zip(x.chunks, reach) if any(r)):
        # Each block is the whole array along every axis the filter reads along.
        return x.map_blocks(_apply, function, kwargs, dtype=meta.dtype, meta=meta, name=name)
    depths = tuple(max(r) + 1 if any(r) else 0 for r in reach)
    rim_name = f"rims-{token}"
    sources, plans = _geometry(x.chunks, tuple(map(tuple, reach)), wraps, depths)
    rims = {(rim_name,) + s: (_rims, (x.name,) + s, depths)
            for s in set(itertools.chain(*sources.values())) | set(sources)}
    slots = [_PerBlock(x.chunks, {i: TaskRef((rim_name,) + (s[k] if k < len(s) else i))
                                  for i, s in sources.items()}, True, f"{rim_name}-{k}")
             for k in range(max(map(len, sources.values())))]
    plans = _PerBlock(x.chunks, plans, False, f"plans-{token}")
    y = x.map_blocks(_filter_block, plans, *slots, name=name, dtype=meta.dtype, meta=meta,
                     function=function, kwargs=kwargs)
    layers, dependencies = dict(y.dask.layers), dict(y.dask.dependencies)
    layers[rim_name] = MaterializedLayer(rims)
    dependencies[rim_name] = set(x.__dask_layers__())
    dependencies[name] = set(dependencies[name]) | {rim_name}
    return da.Array(HighLevelGraph(layers, dependencies), name, x.chunks, meta=meta)


def _geometry(chunks, reach, wraps, depths):
    """(sources, plans) of every block of an array in `chunks` under a filter with this
    footprint: the blocks each one reads from (its own left out) and its `_frame_plan`.  They
    depend on the geometry only, so for up to GEOMETRY_CACHE_BLOCKS blocks they are
    remembered (`_remembered_geometry`): a program that filters many arrays chunked alike (or
    one array again) works them out once, where they took 24 ms of every graph of an
    8192x8192 array in 1024x1024 blocks (7x7 kernel, Intel Xeon)."""
    if math.prod(map(len, chunks)) <= GEOMETRY_CACHE_BLOCKS:
        return _remembered_geometry(chunks, reach, wraps, depths)
    return _plan_geometry(chunks, reach, wraps, depths)


# The most blocks whose geometry `_geometry` remembers (a plan is a few hundred bytes per block),
# and how many geometries.
GEOMETRY_CACHE_BLOCKS = 4096
GEOMETRY_CACHE_SIZE = 16


def _plan_geometry(chunks, reach, wraps, depths):
    """`_geometry`, worked out."""
    bounds = _boundaries(chunks)
    sources = {}
    for index in itertools.product(*(range(len(c)) for c in chunks)):
        per_axis = []
        for a in range(len(chunks)):
            runs, _ = _span(int(bounds[a][index[a]]), int(bounds[a][index[a] + 1]),
                            int(bounds[a][-1]), *reach[a], wraps[a])
            per_axis.append(sorted({p[0] for p in _split(runs, bounds[a])[0]} | {index[a]}))
        sources[index] = tuple(s for s in itertools.product(*per_axis) if s != index)
    plans = {i: _Plan(_frame_plan(i, s, bounds, reach, wraps, depths))
             for i, s in sources.items()}
    return sources, plans


_remembered_geometry = functools.lru_cache(maxsize=GEOMETRY_CACHE_SIZE)(_plan_geometry)


def _in_task(kwargs):
    """The filter's arguments inside a task: ``workers=None`` made `task_workers`."""
    return dict(kwargs, workers=task_workers()) if kwargs.get("workers") is None else kwargs


def _apply(block, function, kwargs):
    return function(block, **_in_task(kwargs))


# --------------------------------------------------------------------------- footprints
# What each filter reads around an output, from its (already validated) arguments.
def _kernel_reach(size, origin):
    left = size // 2 + origin
    return left, size - 1 - left


def _convolution_origin(origin, size):
    """convolve turns the kernel, negates its origin and moves it by one on an even axis."""
    return -origin - (0 if size & 1 else 1)


def _each(value, count):
    if not isinstance(value, str) and np.iterable(value):
        return list(value)
    return [value] * count


def _axes_of(axes, ndim):
    if axes is None:
        return tuple(range(ndim))
    return tuple(operator.index(a) % ndim for a in ((axes,) if np.isscalar(axes) else axes))


def _footprint(ndim, axes, mode, reach_of):
    """Per axis (left, right) and mode, with `reach_of(i, axis)` the reach along the i-th of
    `axes` (the others read nothing)."""
    reach, modes = [(0, 0)] * ndim, ["reflect"] * ndim
    for i, (a, m) in enumerate(zip(axes, _each(mode, len(axes)))):
        reach[a], modes[a] = reach_of(i, a), m
    return reach, modes


def _correlate_nd(function, convolution, input, weights, output, mode, cval, origin, axes,
                  workers, method):
    weights = np.asarray(weights)

    def footprint(ndim):
        ax = _axes_of(axes, ndim)
        # The kernel's axes follow the filtered axes in increasing order, origins their
        # given order (as fastcorr.ndimage and scipy.ndimage expand them).
        sizes = dict(zip(sorted(ax), weights.shape))
        origins = dict(zip(ax, _each(origin, len(ax))))

        def reach_of(i, a):
            size, o = sizes[a], operator.index(origins[a])
            return _kernel_reach(size, _convolution_origin(o, size) if convolution else o)
        return _footprint(ndim, ax, [mode] * len(ax), reach_of)

    return _lazy(function, input, dict(weights=weights, output=output, mode=mode, cval=cval,
                                       origin=origin, axes=axes, workers=workers,
                                       method=method), footprint)


def _correlate_1d(function, convolution, input, weights, axis, output, mode, cval, origin,
                  workers):
    weights = np.asarray(weights)

    def footprint(ndim):
        size, o = weights.size, operator.index(origin)
        return _footprint(ndim, _axes_of(axis, ndim), mode, lambda i, a: _kernel_reach(
            size, _convolution_origin(o, size) if convolution else o))

    return _lazy(function, input, dict(weights=weights, axis=axis, output=output, mode=mode,
                                       cval=cval, origin=origin, workers=workers), footprint)


def _gaussian_radius(sigma, truncate, radius):
    return int(truncate * float(sigma) + 0.5) if radius is None else operator.index(radius)


# --------------------------------------------------------------------------- the face
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
              workers=None, method="auto"):
    return _correlate_nd(ndimage.correlate, False, input, weights, output, mode, cval, origin,
                         axes, workers, method)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
             workers=None, method="auto"):
    return _correlate_nd(ndimage.convolve, True, input, weights, output, mode, cval, origin,
                         axes, workers, method)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
                workers=None):
    return _correlate_1d(ndimage.correlate1d, False, input, weights, axis, output, mode, cval,
                         origin, workers)


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
               workers=None):
    return _correlate_1d(ndimage.convolve1d, True, input, weights, axis, output, mode, cval,
                         origin, workers)


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None, workers=None):
    def footprint(ndim):
        r = _gaussian_radius(sigma, truncate, radius)
        return _footprint(ndim, _axes_of(axis, ndim), mode, lambda i, a: (r, r))

    return _lazy(ndimage.gaussian_filter1d, input,
                 dict(sigma=sigma, axis=axis, order=order, output=output, mode=mode, cval=cval,
                      truncate=truncate, radius=radius, workers=workers), footprint)


def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0,
                    truncate=4.0, *, radius=None, axes=None, workers=None):
    def footprint(ndim):
        ax = _axes_of(axes, ndim)
        sigmas, radii = _each(sigma, len(ax)), _each(radius, len(ax))

        def reach_of(i, a):
            r = _gaussian_radius(sigmas[i], truncate, radii[i]) if sigmas[i] > 1e-15 else 0
            return r, r
        return _footprint(ndim, ax, mode, reach_of)

    return _lazy(ndimage.gaussian_filter, input,
                 dict(sigma=sigma, order=order, output=output, mode=mode, cval=cval,
                      truncate=truncate, radius=radius, axes=axes, workers=workers), footprint)


def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0,
                     *, workers=None):
    def footprint(ndim):
        return _footprint(ndim, _axes_of(axis, ndim), mode, lambda i, a: _kernel_reach(
            operator.index(size), operator.index(origin)))

    return _lazy(ndimage.uniform_filter1d, input,
                 dict(size=size, axis=axis, output=output, mode=mode, cval=cval, origin=origin,
                      workers=workers), footprint)


def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *,
                   axes=None, workers=None):
    def footprint(ndim):
        ax = _axes_of(axes, ndim)
        sizes, origins = _each(size, len(ax)), _each(origin, len(ax))

        def reach_of(i, a):
            if sizes[i] <= 1:
                return 0, 0
            return _kernel_reach(operator.index(sizes[i]), operator.index(origins[i]))
        return _footprint(ndim, ax, mode, reach_of)

    return _lazy(ndimage.uniform_filter, input,
                 dict(size=size, output=output, mode=mode, cval=cval, origin=origin, axes=axes,
                      workers=workers), footprint)


def _three_taps(axes, mode):
    """sobel, prewitt and laplace read one sample either side along each of `axes`."""
    def footprint(ndim):
        return _footprint(ndim, _axes_of(axes, ndim), mode, lambda i, a: (1, 1))
    return footprint


def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0, *, workers=None):
    return _lazy(ndimage.sobel, input, dict(axis=axis, output=output, mode=mode, cval=cval,
                                            workers=workers), _three_taps(None, mode))


def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0, *, workers=None):
    return _lazy(ndimage.prewitt, input, dict(axis=axis, output=output, mode=mode, cval=cval,
                                              workers=workers), _three_taps(None, mode))


def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None, workers=None):
    return _lazy(ndimage.laplace, input, dict(output=output, mode=mode, cval=cval, axes=axes,
                                              workers=workers), _three_taps(axes, mode))


def _gaussian_terms_footprint(sigmas, modes, kwargs):
    """A sum of Gaussian filters, one per mode in `modes`, each along every axis with
    `sigmas` (one per axis) and its own mode at every edge (gaussian_laplace and
    gaussian_gradient_magnitude, as scipy composes them), whose modes all wrap or none does:
    each axis reads its Gaussian's reach."""
    def footprint(ndim):
        truncate = kwargs.get("truncate", 4.0)
        radii = _each(kwargs.get("radius"), ndim)
        mode = next((m for m in modes if m in _WRAP), modes[0] if modes else "reflect")

        def reach_of(i, a):
            if float(sigmas[a]) <= 1e-15:
                return 0, 0
            r = _gaussian_radius(sigmas[a], truncate, radii[a])
            return r, r
        return _footprint(ndim, tuple(range(ndim)), mode, reach_of)
    return footprint


def _gaussian_terms(function, order, input, sigma, sigmas, output, mode, cval, axes, workers,
                    kwargs):
    """`function` (gaussian_laplace or gaussian_gradient_magnitude, whose Gaussian filters
    smooth with `sigmas(ndim, axes)` and differentiate to `order` along each of `axes` in
    that axis's mode): one filter of every block's frame where the modes either all wrap at the
    edges or none does; else as scipy composes it, a lazy gaussian_filter per axis, summed (of
    squares, then the root, for the gradient magnitude) in the output's dtype: a term that
    wraps needs the far end's samples beyond each edge, one that does not needs the edge
    itself there, and a frame holds one or the other."""
    all_kwargs = dict(sigma=sigma, output=output, mode=mode, cval=cval, axes=axes,
                      workers=workers, **kwargs)
    x = da.asarray(input)
    ax = _axes_of(axes, x.ndim)
    modes = _each(mode, len(ax))
    wrapping = {m in _WRAP for m in modes}
    if len(wrapping) < 2:
        return _lazy(function, x, all_kwargs,
                     _gaussian_terms_footprint(sigmas(x.ndim, ax), modes, kwargs))
    dtype = _meta(function, x, all_kwargs).dtype
    total = None
    for a, m in zip(ax, modes):
        orders = [0] * x.ndim
        orders[a] = order
        term = gaussian_filter(x, sigmas(x.ndim, ax), orders, dtype, m, cval, workers=workers,
                               **kwargs)
        if order == 1:
            term = term * term
        total = term if total is None else total + term
    if order == 1:
        # np.sqrt(output, output, casting='unsafe'), as scipy: the root in the ufunc's own
        # loop for the dtype, cast back.
        total = da.sqrt(total).astype(dtype)
    return total


def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None,
                     workers=None, **kwargs):
    return _gaussian_terms(ndimage.gaussian_laplace, 2, input, sigma,
                           lambda ndim, ax: ndimage._gaussian_sigmas(sigma, ax, ndim),
                           output, mode, cval, axes, workers, kwargs)


def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *,
                                axes=None, workers=None, **kwargs):
    # scipy passes sigma to gaussian_filter over every axis, `axes` or not.
    return _gaussian_terms(ndimage.gaussian_gradient_magnitude, 1, input, sigma,
                           lambda ndim, ax: _each(sigma, ndim), output, mode, cval, axes,
                           workers, kwargs)


# --------------------------------------------------------------------------- docstrings
# Each function's arguments, in its example (on an 8 x 8 array in chunks of 3 x 5).
# dask_image.ndfilters' functions among these (it has no 1-D filters).
_DASK_IMAGE_NAMES = {"correlate", "convolve", "gaussian_filter", "uniform_filter", "sobel",
                     "prewitt", "laplace", "gaussian_laplace", "gaussian_gradient_magnitude"}
_EXAMPLE_ARGUMENTS = {
    "correlate": "np.ones((3, 3)) / 9", "convolve": "[[0, 1], [2, 3]], mode='wrap'",
    "correlate1d": "[1, 2, 1], axis=0", "convolve1d": "[1, 3], mode='nearest'",
    "gaussian_filter": "1.5", "gaussian_filter1d": "1.0, order=1",
    "uniform_filter": "3, mode='constant', cval=1", "uniform_filter1d": "4, origin=1",
    "sobel": "axis=0", "prewitt": "axis=1", "laplace": "mode='mirror'",
    "gaussian_laplace": "1.2, mode='wrap'", "gaussian_gradient_magnitude": "0.8",
}
_DASK_PARAMETERS = {
    "input": ["input : dask.array.Array or array_like",
              "    The input array, in any chunks (array_like is wrapped by",
              "    ``dask.array.asarray``).  The result has the same chunks."],
    "output": ["output : dtype, optional",
               "    The result's dtype; by default the input's, as in fastcorr.ndimage.  An",
               "    array is a TypeError: the result is a new lazy array."],
    "workers": ["workers : int or None, optional",
                "    Threads per task; None (default) gives each task `task_workers` threads:",
                "    the process's OpenMP threads shared among the tasks dask runs at once."],
}


def _sections(doc):
    """A numpydoc docstring as (summary lines, {section: lines}) in order."""
    lines = doc.splitlines()
    heads = [i for i in range(len(lines) - 1)
             if lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"}
             and len(lines[i + 1].strip()) == len(lines[i].strip())]
    sections = {}
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        sections[lines[i].strip()] = lines[i + 2:end]
    return lines[:heads[0]] if heads else lines, sections


def _document(function):
    """`function`'s docstring from fastcorr.ndimage's for the same name: its parameters (the
    input, output and workers described for dask arrays), notes, and an example on a dask
    array."""
    import inspect
    name = function.__name__
    summary, sections = _sections(inspect.cleandoc(getattr(ndimage, name).__doc__))
    parameters, entry = [], None
    for line in sections["Parameters"]:
        if line and not line[0].isspace():
            entry = line.split(" :")[0]
            parameters += _DASK_PARAMETERS.get(entry, [line])
        elif entry not in _DASK_PARAMETERS:
            parameters.append(line)
    first = summary[0].split(", as :func:")[0].rstrip(".")
    # The peer: dask-image's function of the same name where it has one, else the scipy.ndimage
    # filter that dask-image users map over chunks themselves.
    peer = (f"``dask_image.ndfilters.{name}``" if name in _DASK_IMAGE_NAMES
            else f"``scipy.ndimage.{name}`` through ``dask.array.map_overlap``")
    doc = [f"{first} of a dask array, lazily, chunk by chunk, as {peer}.", "",
           f"The values of :func:`fastcorr.ndimage.{name}` on the whole array: the border "
           "`mode`", "applies at the array's outer edges only, never at chunk edges.", "",
           "Parameters", "----------", *[p for p in parameters if p.strip()], "",
           "Returns", "-------", "dask.array.Array",
           f"    The lazy result, with the input's chunks; computed, it equals "
           f"``ndimage.{name}``", "    on the computed input, up to rounding (a chunk may "
           "run another tiling or method).", ""]
    if "Notes" in sections:
        doc += ["Notes", "-----", *sections["Notes"]]
        if doc[-1].strip():
            doc.append("")
    arguments = _EXAMPLE_ARGUMENTS[name]
    doc += ["Examples", "--------",
            ">>> import numpy as np, dask.array as da",
            ">>> from fastcorr import dask as fcd, ndimage",
            ">>> x = da.from_array(np.arange(64.0).reshape(8, 8), chunks=(3, 5))",
            f">>> y = fcd.{name}(x, {arguments})",
            ">>> y.chunks == x.chunks",
            "True",
            f">>> np.allclose(y.compute(), ndimage.{name}(x.compute(), {arguments}))",
            "True"]
    function.__doc__ = "\n".join(doc)
    return function


for _function in (correlate, convolve, correlate1d, convolve1d, gaussian_filter,
                  gaussian_filter1d, uniform_filter, uniform_filter1d, sobel, prewitt, laplace,
                  gaussian_laplace, gaussian_gradient_magnitude):
    _document(_function)
del _function
