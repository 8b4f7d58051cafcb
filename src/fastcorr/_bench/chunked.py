"""The 'dask' section: fastcorr.dask on dask arrays, on a ``dask.distributed`` cluster of worker
processes on this machine and on the threaded scheduler (issue 17's figures).

- cluster: a LocalCluster of 2 worker processes with 1 thread each (loopback), an 8192 x 8192
  float32 array of uniform random numbers persisted in the workers, a 7 x 7 kernel, in chunks of
  1024 and 2048.  Timed side by side, ``.sum().compute()`` of: `dask_image.ndfilters.correlate`
  (``map_overlap`` over scipy.ndimage), ``map_overlap`` over `fastcorr.ndimage.correlate`,
  the same ``map_overlap`` over an identity function (what dask's halo exchange alone costs),
  a halo-free ``map_blocks`` of `fastcorr.ndimage.correlate` (the floor dask's task overhead
  sets: wrong at the chunk edges, so only timed), and `fastcorr.dask.correlate`.  Each graph's
  task count (the input's tasks left out).
- threads: the same array in memory, chunks of 2048, `fastcorr.dask.correlate` on the threaded
  scheduler against `fastcorr.ndimage.correlate` on the whole array (``.sum()`` of both).
- zarr: an array on disk larger than the memory the cluster's workers may use (2 workers with
  a ``memory_limit`` each, float32, chunks of 2048), filtered and written to a second zarr array
  with ``da.to_zarr`` by fastcorr.dask and by dask-image; throughput in Mpixel/s, each worker's
  peak RSS against its limit, and whether any worker was restarted.

Every result is checked before anything is timed: fastcorr.dask's and dask-image's whole
results (cluster, threads) against `fastcorr.ndimage` on the computed array, within
verify.tolerance of a sum of 49 products scaled by the sum of the absolute products; the zarr
outputs at sampled tiles (corners, edges, chunk seams) against `fastcorr.ndimage` on the tile
read with its halo (cut at the array's edge, where the mode then applies as on the array).
"""
import os
import resource
import shutil
import tempfile
import time

import numpy as np

from .timing import best_times
from .verify import tolerance

SIDE = 8192
KERNEL = 7
# Chunk sides as fractions of the array's side (8192: 1024 and 2048, as the figures).
CHUNK_FRACTIONS = (8, 4)
ZARR_CHUNKS = 2048
# The figures: fastcorr.dask at least this many times faster than dask-image per chunk
# size, within this factor of the halo-free map_blocks, and on the threaded scheduler at least
# this fraction of fastcorr.ndimage's speed in memory.
TARGET_VS_DASK_IMAGE = {8: 5.0, 4: 8.0}
TARGET_VS_MAP_BLOCKS = 1.5
TARGET_THREADED = 0.8
VARIANTS = ("dask-image", "map_overlap + fastcorr", "map_overlap identity",
            "map_blocks + fastcorr", "fastcorr.dask")


def available():
    """(True, None) when dask, distributed, zarr and dask-image import, else (False, a note
    naming what is missing)."""
    missing = []
    for module in ("dask.array", "distributed", "zarr", "dask_image.ndfilters", "scipy"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.split(".")[0].replace("_", "-"))
    if missing:
        return False, (f"dask section skipped: {', '.join(missing)} not installed (pip install "
                       "\"fastcorr[dask]\" dask-image scipy)")
    return True, None


def _local_cluster(**kwargs):
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, **kwargs)
    return cluster, Client(cluster)


def _weights(dtype=np.float32):
    return np.random.default_rng(1).random((KERNEL, KERNEL)).astype(dtype)


def _worst(result, x, w, crop=(Ellipsis,)):
    """The largest |result - exact| / tolerance: `result` against fastcorr.ndimage.correlate
    of `x` with `w` in float64, cropped to `crop` (inf where either is not finite)."""
    from .. import ndimage
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    expected = ndimage.correlate(x64, w64)[crop]
    bound = tolerance(ndimage.correlate(np.abs(x64), np.abs(w64))[crop], w.size,
                      np.dtype(result.dtype))
    ratio = np.abs(result.astype(np.float64) - expected) / np.maximum(bound, 1e-300)
    ratio[~np.isfinite(ratio)] = np.inf
    return float(ratio.max()) if ratio.size else 0.0


def _check(result, x, w, what):
    """(ok, message): `result` against fastcorr.ndimage.correlate on `x`."""
    if result.shape != x.shape:
        return False, f"{what}: shape {result.shape}, expected {x.shape}"
    worst = _worst(result, x, w)
    return worst <= 1, f"{what}: max |diff|/tolerance {worst:.2g}"


def _graph_tasks(y, x):
    """Tasks of `y`'s graph that `x`'s does not hold."""
    return len(y.__dask_graph__()) - len(x.__dask_graph__())


def _best_times(calls, rounds):
    """Best wall time of each call, the calls interleaved, one sample each per round."""
    return [best for best, _, _ in best_times(calls, rounds=rounds, repeats=1, budget=600)]


def cluster(quick, progress, side):
    """The cluster part: one record per chunk size."""
    import dask.array as da
    import dask_image.ndfilters as dask_image
    from distributed import wait

    from .. import dask as fcd
    from .. import ndimage
    w = _weights()
    records = []
    cl, client = _local_cluster()
    try:
        for fraction in CHUNK_FRACTIONS:
            chunk = side // fraction
            progress.step(f"dask cluster, chunks {chunk}")
            x = da.random.default_rng(0).random((side, side), dtype=np.float32,
                                                chunks=chunk).persist()
            wait(x)
            graphs = {
                "dask-image": dask_image.correlate(x, w),
                "map_overlap + fastcorr": x.map_overlap(ndimage.correlate, depth=KERNEL // 2,
                                                        boundary="none", weights=w),
                "map_overlap identity": x.map_overlap(lambda b: b, depth=KERNEL // 2,
                                                      boundary="none"),
                "map_blocks + fastcorr": x.map_blocks(ndimage.correlate, weights=w),
                "fastcorr.dask": fcd.correlate(x, w),
            }
            local = x.compute()
            checks = [_check(graphs[v].compute(), local, w, v)
                      for v in ("fastcorr.dask", "dask-image", "map_overlap + fastcorr")]
            del local
            sums = [graphs[v].sum() for v in VARIANTS]
            times = _best_times([s.compute for s in sums], 2 if quick else 5)
            ms = dict(zip(VARIANTS, (1e3 * t for t in times)))
            ours = ms["fastcorr.dask"]
            records.append({
                "side": side, "chunks": chunk, "ms": ms,
                "tasks": {v: _graph_tasks(graphs[v], x) for v in VARIANTS},
                "vs_dask_image": ms["dask-image"] / ours,
                "vs_map_blocks": ours / ms["map_blocks + fastcorr"],
                "target_vs_dask_image": TARGET_VS_DASK_IMAGE[fraction],
                "target_vs_map_blocks": TARGET_VS_MAP_BLOCKS,
                "checks": [{"ok": bool(ok), "message": m} for ok, m in checks],
            })
            del x, graphs, sums
    finally:
        client.close()
        cl.close()
    return records


def threaded(quick, progress, side):
    """fastcorr.dask on the threaded scheduler against fastcorr.ndimage in memory."""
    import dask.array as da

    from .. import dask as fcd
    from .. import ndimage
    progress.step("dask threaded scheduler")
    w = _weights()
    a = np.random.default_rng(0).random((side, side), dtype=np.float32)
    chunk = side // CHUNK_FRACTIONS[-1]
    x = da.from_array(a, chunks=chunk)
    ok, message = _check(fcd.correlate(x, w).compute(scheduler="threads"), a, w,
                         "fastcorr.dask (threads)")
    t_dask, t_memory = _best_times(
        [lambda: fcd.correlate(x, w).sum().compute(scheduler="threads"),
         lambda: ndimage.correlate(a, w).sum()], 2 if quick else 5)
    return {"side": side, "chunks": chunk, "ms": {"fastcorr.dask": 1e3 * t_dask,
                                               "fastcorr.ndimage": 1e3 * t_memory},
            "speed_vs_memory": t_memory / t_dask, "target": TARGET_THREADED,
            "checks": [{"ok": bool(ok), "message": message}]}


def _peak_rss():
    """This process's peak resident memory in bytes (VmHWM: since its exec, where ru_maxrss
    would carry over the peak of the process that spawned it)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sample_tiles(side, chunk, tile):
    """Top-left corners of sampled tiles: the array's corners, an edge's middle, and tiles
    across chunk seams."""
    last = side - tile
    seam = min(chunk - tile // 2, last)
    return sorted({(0, 0), (0, last), (last, 0), (last, last), (seam, seam), (0, seam),
                   (seam, last), (side // 2 - tile // 2, side // 2 - tile // 2)})


def _check_tiles(path_in, path_out, w, side, chunk, tile=64):
    """The output zarr at sampled tiles against fastcorr.ndimage on the input read around
    them (reflect: a tile touching an edge reads the edge, so it is computed on the region
    from the edge on)."""
    import zarr

    src, out = zarr.open_array(path_in, mode="r"), zarr.open_array(path_out, mode="r")
    halo = w.shape[0] // 2
    worst = 0.0
    for r, c in _sample_tiles(side, chunk, tile):
        r0, r1 = max(0, r - halo), min(side, r + tile + halo)
        c0, c1 = max(0, c - halo), min(side, c + tile + halo)
        # The region's own edges are the array's where it touches them (reflect there is
        # the array's); elsewhere its outer `halo` rows only feed the tile.
        crop = (slice(r - r0, r - r0 + tile), slice(c - c0, c - c0 + tile))
        worst = max(worst, _worst(out[r:r + tile, c:c + tile], src[r0:r1, c0:c1], w, crop))
    return worst <= 1, f"sampled tiles: max |diff|/tolerance {worst:.2g}"


def zarr_run(quick, progress, side=None, memory_limit="1GiB"):
    """The larger-than-memory part: a zarr array of 4 GiB (32768 x 32768 float32; 0.5 GiB
    with `quick`, or `side` x `side` in chunks of a quarter of that), twice the cluster's
    combined memory limit, through fastcorr.dask and dask-image."""
    import dask.array as da
    import dask_image.ndfilters as dask_image

    from .. import dask as fcd
    if side is None:
        side, chunk = (11584 if quick else 32768), ZARR_CHUNKS
    else:
        chunk = max(1, side // CHUNK_FRACTIONS[-1])
    w = _weights()
    tmp = tempfile.mkdtemp(prefix="fastcorr-bench-zarr-")
    path_in, record = os.path.join(tmp, "in.zarr"), {"side": side, "chunks": chunk,
                                                     "memory_limit": memory_limit}
    record["gib"] = side * side * 4 / 2 ** 30
    try:
        cl, client = _local_cluster(memory_limit=memory_limit)
        try:
            progress.step(f"dask zarr {side}x{side}: writing the input")
            t0 = time.perf_counter()
            da.random.default_rng(0).random((side, side), dtype=np.float32,
                                            chunks=chunk).to_zarr(path_in,
                                                                        compressors=None)
            record["write_input_s"] = time.perf_counter() - t0
            pids = sorted(client.run(os.getpid).values())
            for name, make in (("fastcorr.dask", fcd.correlate),
                               ("dask-image", dask_image.correlate)):
                progress.step(f"dask zarr {side}x{side}: {name}")
                path_out = os.path.join(tmp, f"{name}.zarr")
                t0 = time.perf_counter()
                make(da.from_zarr(path_in), w).to_zarr(path_out, compressors=None)
                seconds = time.perf_counter() - t0
                ok, message = _check_tiles(path_in, path_out, w, side, chunk,
                                           tile=min(64, side // 2))
                record[name] = {"s": seconds, "mpix_s": side * side / seconds / 1e6,
                                "checks": [{"ok": bool(ok), "message": f"{name}: {message}"}]}
                shutil.rmtree(path_out, ignore_errors=True)
            record["restarted"] = sorted(client.run(os.getpid).values()) != pids
            record["peak_rss"] = sorted(client.run(_peak_rss).values())
            limit = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
            record["limit_bytes"] = min(limit.values())
        finally:
            client.close()
            cl.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record["ratio"] = record["fastcorr.dask"]["mpix_s"] / record["dask-image"]["mpix_s"]
    return record


def steps():
    """Number of progress steps the section takes."""
    return len(CHUNK_FRACTIONS) + 1 + 3


def run(quick, progress, side=None):
    """The whole section, as the JSON's ``dask``: on `side` x `side` arrays (default 8192, and
    a zarr array of 32768 x 32768), or with `side` given, a zarr array of twice that side."""
    from importlib.metadata import version
    versions = {name: version(name) for name in ("dask", "distributed", "zarr", "dask-image")}
    return {"versions": versions, "cluster": cluster(quick, progress, side or SIDE),
            "threaded": threaded(quick, progress, side or SIDE),
            "zarr": zarr_run(quick, progress, None if side is None else 2 * side)}


def fastcorr_failed(report):
    """Whether any of fastcorr.dask's checks failed."""
    if not report:
        return False
    checks = [c for rec in report["cluster"] for c in rec["checks"]]
    checks += report["threaded"]["checks"] + report["zarr"]["fastcorr.dask"]["checks"]
    return not all(c["ok"] for c in checks if c["message"].startswith("fastcorr"))
