"""The benchmark's first five sections, each yielding plain-dict records (the others,
'methods' and 'nn', are in methods.py and nn.py).

A section makes its data (cases.py), checks every result (verify.py) before timing it
(timing.py), and yields one record per row of its table as soon as it is measured.  It prints
nothing (render.py shows the records as they arrive) and keeps nothing after the run.

- '2d': `valid_grid`, the valid-mode grid against the peers (one record per case, holding a row
  per library), then `in2_larger`, fastcorr with its arguments swapped.
- 'modes': `modes`, 'same' and 'full' against 'valid', per output pixel.
- '1d': `one_d`, a long signal against a copy on as many threads and the 1-D peers.
- 'batch': `batch`, a stack of small images against one large one.
- 'ndimage': `ndimage`, fastcorr.ndimage against scipy.ndimage, OpenCV and torch on same-size
  results with scipy's border modes (its own FLOP count: see `ndimage`).

FLOP count everywhere: ``2 * out_h * out_w * kh * kw`` for the valid output, whatever work a
library actually does (ndimage and OpenCV also compute the border, FFTs do something else).
"""
import math
import tracemalloc
from dataclasses import dataclass

import numpy as np

from .. import _core, choose_method, correlate, correlate2d
from . import cases
from .timing import Timer, timed_call
from .verify import SameSizeReference, SampledReference, WholeResult, filter_weights

# The JSON columns of fastcorr's own rows in the valid grid.
FASTCORR_COLUMNS = ("fastcorr", "fastcorr_out")


@dataclass
class Setup:
    """What the sections share in one run.

    Attributes
    ----------
    quick : bool
        ``--quick``.
    sizes : tuple of (int, int)
        Image shapes of the valid grid; the first is also in2_larger's and the modes'.
    kernels : tuple of int
        Square kernel sides of the valid grid (and, up to 15, of the modes).
    workers : list of int
        Thread counts: 1, and all usable CPUs; the other sections use the last.
    peaks : dict
        FMA peak GFLOP/s by (dtype, threads), measured at the start.
    timer : Timer
        Times the verified calls side by side.
    rng : numpy.random.Generator
        Picks the output positions every check samples.
    progress : render.Progress
        Told (``step``) before each measurement.
    ndimage_cases : list of dict, optional
        The ndimage section's cases (cases.ndimage_cases).
    methods_cases : dict, optional
        The methods section's cases and sweeps (cases.methods_cases; the section is in
        methods.py).
    nn_cases : list of dict, optional
        The nn section's shapes (cases.nn_cases; the section is in nn.py).
    """

    quick: bool
    sizes: tuple
    kernels: tuple
    workers: list
    peaks: dict
    timer: Timer
    rng: np.random.Generator
    progress: object
    ndimage_cases: list = None
    methods_cases: dict = None
    nn_cases: list = None


def steps(chosen, sizes, kernels, workers, quick, ndimage_cases=()):
    """Number of progress steps the chosen sections take (the methods section's:
    methods.steps)."""
    counts = {"2d": len(cases.grid(sizes, kernels, workers)) + 1,
              "modes": len(cases.modes_kernels(kernels)),
              "1d": len(cases.DTYPES) * len(cases.one_d_kernels(quick)),
              "batch": len(cases.BATCH_KERNELS) * len(cases.BATCH_MODES),
              "ndimage": len(ndimage_cases)}
    return sum(counts[name] for name in chosen if name in counts)


def measure(setup, calls, timer=None, once=()):
    """Verify one call's result for each ``(fn, checker, fft)`` of `calls`, then time the
    verified ones side by side; a result that fails its check is not timed.

    Parameters
    ----------
    setup : Setup
    calls : sequence of (callable, checker, bool)
    timer : Timer, optional
        Default ``setup.timer``.
    once : collection of int, optional
        Indices into `calls` of calls too slow to sample: the verifying call's duration is
        their time (one sample).

    Returns
    -------
    list of dict
        Per call: ``status`` ('ok', 'WRONG' or 'ERROR'), ``check`` (the checker's detail or the
        exception) and, when timed, ``time_s``, ``samples`` and ``calls_per_sample`` (and
        ``once`` for the calls of `once`).
    """
    out, timed = [], []
    for i, (fn, checker, fft) in enumerate(calls):
        try:
            result, first = timed_call(fn)
        except Exception as exc:  # a peer rejecting a dtype or size must not end the run
            out.append({"status": "ERROR", "check": f"{type(exc).__name__}: {exc}"})
            continue
        ok, detail = checker.check(result, fft=fft)
        del result
        out.append({"status": "ok" if ok else "WRONG", "check": detail})
        if ok and i in once:
            out[-1].update(time_s=first, samples=1, calls_per_sample=1, once=True)
        elif ok:
            timed.append((out[-1], fn, first))
    if timed:
        records, fns, firsts = zip(*timed)
        for m, (best, samples, number) in zip(records, (timer or setup.timer).best(fns, firsts)):
            m.update(time_s=best, samples=samples, calls_per_sample=number)
    return out


def set_pct_peak(rows, peaks):
    """Give every measured row of the valid grid its ``pct_peak`` of `peaks`, but fastcorr's
    where 'auto' ran another method than direct (its GFLOP/s are nominal there)."""
    for r in rows:
        if r["status"] == "ok" and r.get("method", "direct") == "direct":
            r["pct_peak"] = 100.0 * r["gflops"] / peaks[(r["dtype"], r["workers"])]


def _copy_gbs(setup, x, n):
    """GB/s of a copy of `x` on `n` threads (read + write, counted as fastcorr's in + out):
    the memory's pace at fastcorr's thread count, for comparison (_core.copy_parallel; on one
    thread a plain memcpy)."""
    dst = np.empty_like(x)
    src_bytes, dst_bytes = x.reshape(-1).view(np.uint8), dst.reshape(-1).view(np.uint8)
    t, = setup.timer.times(lambda: _core.copy_parallel(src_bytes, dst_bytes, n))
    return 2.0 * x.nbytes / t / 1e9


# --------------------------------------------------------------------------- '2d'
def valid_grid(setup, peers):
    """fastcorr and the `peers` on every case of the valid-mode grid (cases.grid).

    Yields
    ------
    dict
        Per case: ``size``, ``dtype``, ``K``, ``workers``, ``out_shape``, ``flops``, ``peak``
        (the FMA peak the rows' ``pct_peak`` refers to), ``rows`` (one record per library:
        fastcorr, fastcorr with ``out=``, then the peers, as the JSON's ``results``; fastcorr's
        two carry the ``method`` 'auto' ran, and a ``pct_peak`` only where that is 'direct') and
        ``bandwidth`` (fastcorr's memory traffic, in + out, and its GB/s, beside ``copy_gbs``,
        the GB/s of a copy of the image on ``copy_workers`` threads, the case's count; None for
        the small case).  Not only for 3x3: where a 2-thread copy's pace is low next to the
        FMA peak (an Intel Xeon under KVM here: 31 GB/s, a 16 MiB image's copy 1.07 ms), 5x5
        and 7x7 on a large image are bound by it too, and this line shows it.
    """
    shared = {}  # a one-thread peer's measurement, by case without the thread count
    copy_gbs = {}  # an n-thread copy's pace, by (shape, dtype, n)
    for shape, dtype, k, n in cases.grid(setup.sizes, setup.kernels, setup.workers):
        case = _valid_case(setup, peers, shared, shape, dtype, k, n)
        fc = case["rows"][0]
        if (shape, dtype, k) != cases.SMALL_CASE and fc["status"] == "ok":
            if (shape, dtype, n) not in copy_gbs:
                copy_gbs[(shape, dtype, n)] = _copy_gbs(setup, cases.image(shape, dtype), n)
            moved = (shape[0] * shape[1] + case["out_shape"][0] * case["out_shape"][1]) \
                * np.dtype(dtype).itemsize
            case["bandwidth"] = {"size": list(shape), "dtype": dtype, "K": k, "workers": n,
                                 "bytes": moved, "fastcorr_gbs": moved / fc["time_s"] / 1e9,
                                 "copy_gbs": copy_gbs[(shape, dtype, n)], "copy_workers": n}
        yield case


def _valid_case(setup, peers, shared, shape, dtype, k, n):
    x, w = cases.image(shape, dtype), cases.kernel(k, dtype)
    oh, ow = shape[0] - k + 1, shape[1] - k + 1
    flops = 2.0 * oh * ow * k * k
    checker = SampledReference(x, w, setup.rng)
    base = {"size": list(shape), "dtype": dtype, "K": k, "workers": n, "flops": flops}
    out = np.empty((oh, ow), dtype)
    # The calls run method='auto': where it picks separable passes or an FFT, the GFLOP/s are
    # nominal (2 K^2 per output) and no share of the FMA peak (set_pct_peak leaves them out).
    method = choose_method(x, w, mode="valid", workers=n)
    rows = [dict(base, library="fastcorr", column="fastcorr", crop=None, method=method),
            dict(base, library="fastcorr (out=)", column="fastcorr_out", crop=None,
                 method=method)]
    calls = [(lambda: correlate2d(x, w, mode="valid", workers=n), checker, False),
             (lambda: correlate2d(x, w, mode="valid", out=out, workers=n), checker, False)]
    measured = [(row, None) for row in rows]  # (row, key to share it under), as in `calls`
    # fastcorr (twice) and the peers are timed side by side; a peer that runs on one thread
    # whatever workers= says is measured once per case and reused for the other counts.
    for peer in peers:
        crop = peer.crop(shape, k, setup.quick)
        threads = n if peer.threaded else 1
        row = dict(base, library=peer.label, column=peer.column,
                   crop=list(crop) if crop else None, threads=threads)
        if crop is not None:
            row["flops"] = 2.0 * (crop[0] - k + 1) * (crop[1] - k + 1) * k * k
        rows.append(row)
        key = (shape, dtype, k, peer.column)
        if not peer.threaded and key in shared:
            row.update(shared[key], reused_from_workers=1)
            continue
        if crop is None:
            px, pchk = x, checker
        else:
            px = np.ascontiguousarray(x[:crop[0], :crop[1]])
            pchk = SampledReference(px, w, setup.rng)
        calls.append((peer.call(px, w, threads), pchk, peer.uses_fft(dtype, k * k)))
        measured.append((row, None if peer.threaded else key))
    setup.progress.step(f"{dtype} {shape[0]}x{shape[1]} K={k} workers={n}: fastcorr and "
                        f"{len(calls) - 2} peers, each verified, then timed side by side")
    for (row, key), m in zip(measured, measure(setup, calls)):
        row.update(m)
        if key is not None:
            shared[key] = m
    for row in rows:
        if row["status"] == "ok":
            row["gflops"] = row["flops"] / row["time_s"] / 1e9
    set_pct_peak(rows, setup.peaks)
    fc = rows[0]
    if fc["status"] == "ok":
        for row in rows[2:]:
            if row["status"] == "ok":
                row["ratio"] = fc["gflops"] / row["gflops"]
    return {"size": shape, "dtype": dtype, "K": k, "workers": n, "out_shape": (oh, ow),
            "flops": flops, "peak": setup.peaks[(dtype, n)], "rows": rows, "bandwidth": None}


def in2_larger(setup):
    """fastcorr with the arguments swapped (scipy allows either order in 'valid' mode).

    Returns
    -------
    dict
        The JSON's ``in2_larger``: both times, their ratio, and whether the swapped result is
        the normal one rotated by 180 degrees.
    """
    shape = setup.sizes[0]
    k = cases.in2_larger_kernel(setup.kernels)
    n = setup.workers[-1]
    x, w = cases.image(shape, "float32"), cases.kernel(k, "float32")
    setup.progress.step(f"float32 {shape[0]}x{shape[1]} K={k} workers={n} correlate2d(w, x)")

    def normal():
        return correlate2d(x, w, mode="valid", workers=n)

    def swapped():
        return correlate2d(w, x, mode="valid", workers=n)

    expected, t_first = timed_call(normal)
    # The swapped call is defined as the normal result rotated by 180 degrees, computed by
    # the same kernel, so it must match exactly.
    ok = bool(np.array_equal(swapped(), expected[::-1, ::-1]))
    (t_normal, _, _), (t_swap, _, _) = setup.timer.best([normal, swapped], [t_first, None])
    return {"size": list(shape), "dtype": "float32", "K": k, "workers": n,
            "time_normal_s": t_normal, "time_swapped_s": t_swap, "ratio": t_swap / t_normal,
            "verified": ok}


# --------------------------------------------------------------------------- 'modes'
def modes(setup):
    """'same' and 'full' (with a fill and a reflecting boundary) against 'valid': output
    pixels per second, since the three modes produce different numbers of outputs.

    Yields
    ------
    dict
        Per kernel: ``valid_mpix_s``, and per mode and boundary (``same_fill``, ...) its
        ``mpix_s`` and ``ratio`` to valid; a call that failed its check has ``status`` and
        ``check`` instead (as has ``valid``, then).
    """
    shape = setup.sizes[0]
    n = setup.workers[-1]
    x = cases.image(shape, "float32")
    for k in cases.modes_kernels(setup.kernels):
        w = cases.kernel(k, "float32")
        setup.progress.step(f"modes float32 {shape[0]}x{shape[1]} K={k}")
        names = ["valid"]
        calls = [(lambda: correlate2d(x, w, mode="valid", workers=n),
                  SampledReference(x, w, setup.rng), False)]
        pixels = [(shape[0] - k + 1) * (shape[1] - k + 1)]
        for mode in cases.MODES:
            before, after = ((k - 1) // 2, k // 2) if mode == "same" else (k - 1, k - 1)
            for boundary, np_mode in cases.MODE_BOUNDARIES:
                # The reference: the valid correlation of the explicitly extended image.
                extended = np.pad(x, ((before, after), (before, after)), mode=np_mode)
                calls.append((lambda mode=mode, boundary=boundary:
                              correlate2d(x, w, mode, boundary, workers=n),
                              SampledReference(extended, w, setup.rng), False))
                names.append(f"{mode}_{boundary}")
                pixels.append((shape[0] + before + after - k + 1)
                              * (shape[1] + before + after - k + 1))
        rec = {"size": list(shape), "K": k, "workers": n}
        valid, *others = measure(setup, calls)
        if valid["status"] == "ok":
            rec["valid_mpix_s"] = pixels[0] / valid["time_s"] / 1e6
        else:
            rec["valid"] = {"status": valid["status"], "check": valid["check"]}
        for name, size, m in zip(names[1:], pixels[1:], others):
            if m["status"] != "ok":
                rec[name] = {"status": m["status"], "check": m["check"]}
                continue
            rec[name] = {"mpix_s": size / m["time_s"] / 1e6}
            if "valid_mpix_s" in rec:
                rec[name]["ratio"] = rec[name]["mpix_s"] / rec["valid_mpix_s"]
        yield rec


# --------------------------------------------------------------------------- '1d'
def one_d(setup, peers):
    """fastcorr.correlate on a long signal against a copy of it on as many threads (short
    kernels are bandwidth-bound) and the 1-D `peers`.

    Yields
    ------
    dict
        Per dtype and kernel length: time, GB/s against ``copy_gbs`` (a copy of the signal on
        ``copy_workers`` threads, as many as fastcorr's), GFLOP/s, % of peak, and
        ``x_<peer column>``, how many times faster fastcorr is (None where the peer failed its
        check); ``status`` and ``check`` instead of the figures if fastcorr failed its own.
    """
    n = setup.workers[-1]
    for dtype in cases.DTYPES:
        x = cases.signal_1d(dtype)
        copy_gbs = _copy_gbs(setup, x, n)
        for k in cases.one_d_kernels(setup.quick):
            v = cases.taps_1d(k, dtype)
            setup.progress.step(f"1-D {dtype} K={k}")
            checker = SampledReference(x, v, setup.rng)
            calls = [(lambda: correlate(x, v, mode="valid", workers=n), checker, False)]
            calls += [(peer.call(x, v, n if peer.threaded else 1), checker,
                       peer.uses_fft(dtype, k)) for peer in peers]
            ours, *theirs = measure(setup, calls)
            rec = {"dtype": dtype, "K": k, "samples": len(x), "workers": n}
            if ours["status"] != "ok":
                yield dict(rec, status=ours["status"], check=ours["check"])
                continue
            t = ours["time_s"]
            out_len = len(x) - k + 1
            rec.update(time_s=t, gbs=(x.nbytes + out_len * x.itemsize) / t / 1e9,
                       copy_gbs=copy_gbs, copy_workers=n, gflops=2.0 * out_len * k / t / 1e9)
            rec["pct_peak"] = 100.0 * rec["gflops"] / setup.peaks[(dtype, n)]
            for peer, m in zip(peers, theirs):
                rec["x_" + peer.column] = m["time_s"] / t if m["status"] == "ok" else None
            yield rec


# --------------------------------------------------------------------------- 'batch'
def batch(setup):
    """A stack of small images (one parallel loop over images and tiles) against one large
    image of the same total size, float32: output pixels per second.

    Yields
    ------
    dict
        Per kernel and mode: ``stack_mpix_s``, ``image_mpix_s`` and their ``ratio``; with
        ``status`` 'WRONG' and ``check`` if a sampled image of the stack failed its check.
    """
    n = setup.workers[-1]
    stack, big = cases.batch_images()
    count = len(stack)
    for k in cases.BATCH_KERNELS:
        w = cases.kernel(k, "float32")
        for mode in cases.BATCH_MODES:
            setup.progress.step(f"batch K={k} {mode}")

            def stacked(mode=mode):
                # One kernel for every image: a leading axis of 1 broadcasts over the stack.
                return correlate2d(stack, w[None], mode, axes=(-2, -1), workers=n)

            def one_image(mode=mode):
                return correlate2d(big, w, mode, workers=n)

            result = stacked()
            pad = (0, 0) if mode == "valid" else ((k - 1) // 2, k // 2)
            failures = []
            for i in (0, count // 2, count - 1):
                ok, detail = SampledReference(np.pad(stack[i], (pad, pad)), w, setup.rng,
                                              n=20).check(result[i])
                if not ok:
                    failures.append(f"image {i}: {detail}")
            t_stack, t_big = setup.timer.times(stacked, one_image)
            px_stack = result.size / t_stack
            px_big = (big.shape[0] - (k - 1 if mode == "valid" else 0)) ** 2 / t_big
            rec = {"K": k, "mode": mode, "stack_mpix_s": px_stack / 1e6,
                   "image_mpix_s": px_big / 1e6, "ratio": px_stack / px_big}
            if failures:
                rec.update(status="WRONG", check="; ".join(failures))
            yield rec


# --------------------------------------------------------------------------- 'ndimage'
def ndimage(setup, peers):
    """fastcorr.ndimage against the filter `peers` (peers.FILTER_PEERS: scipy.ndimage, OpenCV,
    torch) on every case of ``setup.ndimage_cases``, all on the same input, same-size results.

    FLOP count: ``2 * taps * outputs`` (cases.ndimage_flops), where a separable filter's taps
    are the sum of its 1-D kernels' lengths (66 for the Gaussian with sigma 4, 6 for Sobel),
    whatever a library actually does (uniform_filter is a running sum in scipy).

    Yields
    ------
    dict
        Per case: what it computes (``group``, ``function``, ``params`` without the weights,
        ``dtype``, ``size``, ``taps``, ``separable``, ``mode``), ``workers``, ``outputs``,
        ``flops`` and ``rows``: fastcorr first (two rows for the integer case: the uint8
        result, then ``output=np.float32``), then the peers.  Every row has ``library``,
        ``column``, ``status`` ('ok', 'WRONG', 'ERROR' or 'n/a': the peer has no such
        border) and ``check``; timed rows ``time_s`` (of the crop, if ``crop``),
        ``time_full_s`` (scaled to the whole input), ``gflops``; fastcorr's rows also
        ``compute_dtype``, ``pct_peak`` (of the FMA peak of that dtype on ``workers``
        threads), ``vs`` (per peer column, how many times faster fastcorr is per output) and
        ``peak_mem_bytes`` / ``mem_per_output`` (tracemalloc's peak during one call, and that
        over the result's bytes; the core's per-thread scratch is malloc'ed in C and not
        seen by tracemalloc).
    """
    from .. import ndimage as fast_ndimage  # the face, imported when the section runs

    n = setup.workers[-1]
    columns = {"volume": ("ndimage", "torch")}
    for case in setup.ndimage_cases:
        wanted = columns.get(case["group"], ("ndimage", "cv2"))
        case_peers = [p for column in wanted for p in peers if p.column == column]
        yield _ndimage_case(setup, fast_ndimage, case_peers, case, n)


def _ndimage_case(setup, fast_ndimage, peers, case, n):
    x, params = cases.ndimage_arrays(case)
    function, mode = case["function"], case["mode"]
    w = filter_weights(function, params)
    # One pass per axis rounds like a sum of the 1-D lengths (verify.SampledReference).
    taps = sum(case["taps"]) if case["separable"] else math.prod(case["taps"])
    outputs = x.size
    per_output = cases.ndimage_flops(case, 1)
    shown = {k: v for k, v in params.items() if k != "weights"}
    rec = {"group": case["group"], "function": function, "params": shown,
           "dtype": case["dtype"], "size": list(x.shape), "taps": list(case["taps"]),
           "separable": case["separable"], "mode": mode, "workers": n, "outputs": outputs,
           "flops": per_output * outputs}
    setup.progress.step(f"ndimage {function} {case['dtype']} {'x'.join(map(str, x.shape))} "
                        f"taps {('+' if case['separable'] else 'x').join(map(str, case['taps']))}"
                        f" mode={mode}")
    fn = getattr(fast_ndimage, function)
    integer = x.dtype.kind in "biu"
    scipy_result = None
    if integer:
        # scipy's integer results are the promise (truncated float64 sums): fastcorr's must
        # equal them; OpenCV rounds, so within 1.  Without scipy, the sampled exact values
        # (within 1) for both.
        scipy_peer = next((p for p in peers if p.column == "ndimage"), None)
        if scipy_peer is not None:
            scipy_result = timed_call(scipy_peer.make(function, x, params, 1)[1])[0]
        unit = dict(dtype=np.float64, slack=1.0)
        exact = WholeResult(scipy_result, 0, "scipy.ndimage", dtype=x.dtype) \
            if scipy_result is not None else SameSizeReference(x, w, mode, setup.rng, **unit)
        within_one = WholeResult(scipy_result, 1, "scipy.ndimage") \
            if scipy_result is not None else exact
        # The exact route computes in float64 (scipy's operations), or, where the core
        # certifies it, in float32 (the outputs it cannot certify again in float64); a float32
        # output runs the float32 SIMD kernels.
        kept = w.reshape(-1)[np.abs(w.reshape(-1)) > np.finfo(np.float64).eps]
        route = "float32" if _core.certifies(x.dtype, x.dtype, kept, w.size,
                                             float(params.get("cval", 0.0))) else "float64"
        ours = [(f"fastcorr.ndimage.{function}", "fastcorr", params, route, exact),
                (f"fastcorr.ndimage.{function} output=float32", "fastcorr_float32",
                 dict(params, output=np.float32), "float32",
                 SameSizeReference(x, w, mode, setup.rng, dtype=np.float32))]
    else:
        checker = SameSizeReference(x, w, mode, setup.rng, taps=taps)
        ours = [(f"fastcorr.ndimage.{function}", "fastcorr", params, case["dtype"], checker)]
    # Every library writes into an array made once (scipy's and fastcorr's output=, OpenCV's
    # dst=), as the methods section does: a new result of 16-64 MiB costs every library the
    # OS's page faults and zeroing (7-8 ms at 4096 x 4096 float32 here, 0.9 ms at 2048 x 2048
    # float64), not the filter's work.  fastcorr's time for a new result is recorded beside it
    # (``time_new_result_s``).
    rows, calls = [], []
    for label, column, kwargs, compute, check in ours:
        rows.append({"library": label, "column": column, "threads": n, "crop": None,
                     "compute_dtype": compute})
        into = dict(kwargs, output=np.empty(x.shape, kwargs.get("output", x.dtype)))
        calls.append((lambda into=into: fn(x, **into, workers=n), check, False))
    timed_rows = list(rows)
    for peer in peers:
        # The filters run on the whole image for every library: their passes are bound by
        # memory, and scipy's on a crop that fits in cache ran 1.4x faster per output than on
        # the image (Gaussian sigma=4: 387 ms scaled from a crop, 549-621 ms whole).
        crop = (None if case["group"] == "filter"
                else peer.crop(x.shape, per_output, setup.quick))
        px = x if crop is None else np.ascontiguousarray(x[tuple(slice(0, c) for c in crop)])
        threads = n if peer.threaded else 1
        row = {"library": peer.label, "column": peer.column, "threads": threads,
               "crop": list(crop) if crop else None}
        rows.append(row)
        try:
            made = peer.make(function, px, dict(params, output=np.empty_like(px)), threads)
        except Exception as exc:  # a peer's own failure must not end the run
            row.update(status="ERROR", check=f"{type(exc).__name__}: {exc}")
            continue
        if isinstance(made, str):
            row.update(status="n/a", check=made)
            continue
        row["library"], call, fft = made
        if integer:
            # scipy.ndimage against the exact values (not against itself), the others
            # against scipy's result where there is one.
            check = within_one if crop is None and peer.column != "ndimage" else \
                SameSizeReference(px, w, mode, setup.rng, **unit)
        else:
            check = checker if crop is None else SameSizeReference(px, w, mode, setup.rng,
                                                                   taps=taps)
        calls.append((call, check, fft))
        timed_rows.append(row)
    del scipy_result
    for row, m in zip(timed_rows, measure(setup, calls)):
        row.update(m)
    for row in rows:
        if row["status"] != "ok":
            continue
        counted = math.prod(row["crop"]) if row["crop"] else outputs
        row["flops"] = per_output * counted
        row["gflops"] = row["flops"] / row["time_s"] / 1e9
        row["time_full_s"] = row["time_s"] * outputs / counted
    for row, (_, _, kwargs, compute, _) in zip(rows, ours):
        if row["status"] != "ok":
            continue
        row["pct_peak"] = 100.0 * row["gflops"] / setup.peaks[(compute, n)]
        row["vs"] = {p["column"]: row["gflops"] / p["gflops"] for p in rows[len(ours):]
                     if p["status"] == "ok"}
        peak, out_bytes = _peak_memory(lambda: fn(x, **kwargs, workers=n))
        row.update(peak_mem_bytes=peak, out_bytes=out_bytes, mem_per_output=peak / out_bytes)
        row["time_new_result_s"] = setup.timer.times(lambda: fn(x, **kwargs, workers=n))[0]
    rec["rows"] = rows
    return rec


def _peak_memory(call):
    """(tracemalloc's peak during ``call()``, the result's bytes): what NumPy allocates in the
    call, the result included; memory malloc'ed in C (the core's per-thread scratch) is not
    traced."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not tracing:
            tracemalloc.stop()
    return peak, result.nbytes


def set_ndimage_pct_peak(records, peaks):
    """Give fastcorr's rows of the ndimage section their ``pct_peak`` of `peaks`."""
    for rec in records or ():
        for row in rec["rows"]:
            if "compute_dtype" in row and row["status"] == "ok":
                row["pct_peak"] = 100.0 * row["gflops"] / peaks[(row["compute_dtype"],
                                                                 rec["workers"])]


def fastcorr_failed(report):
    """Whether any fastcorr result of the run failed its check.

    Parameters
    ----------
    report : dict
        The sections' records under the JSON's keys (``results``, ``in2_larger``, ``modes``,
        ``one_d``, ``batch``, ``ndimage``; None for a section not run).
    """
    def bad(entry):
        return isinstance(entry, dict) and entry.get("status", "ok") != "ok"

    return (any(bad(r) for r in report["results"] if r["column"] in FASTCORR_COLUMNS)
            or any(bad(r) for rec in report.get("ndimage") or () for r in rec["rows"]
                   if "compute_dtype" in r)
            or (report["in2_larger"] or {}).get("verified") is False
            or any(bad(v) for rec in report["modes"] or () for v in rec.values())
            or any(bad(rec) for rec in (report["one_d"] or []) + (report["batch"] or [])))
