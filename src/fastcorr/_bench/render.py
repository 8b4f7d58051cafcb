"""How the benchmark shows its records: the console, the JSON file, the plot.

The console functions named ``show_*`` take a section's records as they arrive (the section
measures while they iterate), print a row for each, and return them as a list.
"""
import json
import sys

from .._version import __version__
from . import cases
from .machine import cpu_model, load_average
from .nn import describe, targets
from .peers import PEERS
from .verify import N_SAMPLED


# --------------------------------------------------------------------------- formatting
def fmt_time(seconds):
    """`seconds` with a unit that keeps three significant digits readable.

    Examples
    --------
    >>> fmt_time(2.5e-5), fmt_time(0.0123), fmt_time(3.0)
    ('25.0 us', '12.3 ms', '3.00 s')
    """
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio):
    """A speed ratio as ``150x``, ``43x``, ``3.1x`` or ``0.62x``.

    Examples
    --------
    >>> fmt_ratio(150.2), fmt_ratio(3.14), fmt_ratio(0.617)
    ('150x', '3.1x', '0.62x')
    """
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def fmt_shape(shape):
    """``HxW``."""
    return f"{shape[0]}x{shape[1]}"


def fmt_peaks(peaks):
    """FMA peaks by (dtype, threads) on one line."""
    return ", ".join(f"{d} {n} thread{'s' if n > 1 else ''} {g:.1f}"
                     for (d, n), g in peaks.items())


class Progress:
    """[i/N] lines on stderr: one overwritten line on a terminal, plain lines otherwise.

    Parameters
    ----------
    total : int
        Number of steps the run will take.
    """

    def __init__(self, total):
        self.total, self.i = total, 0
        self.tty = sys.stderr.isatty()

    def step(self, text):
        """Announce the next measurement."""
        self.i += 1
        msg = f"[{self.i}/{self.total}] {text}..."
        sys.stderr.write(f"\r{msg}\033[K" if self.tty else msg + "\n")
        sys.stderr.flush()

    def clear(self):
        """Remove the progress line before a result is printed (on a terminal)."""
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# --------------------------------------------------------------------------- console: the run
def opening(quick, n_cpus, active_path, notes):
    """The run's first lines: what is benchmarked on what, and the peers left out."""
    print(f"fastcorr {__version__} benchmark{' (--quick)' if quick else ''}: "
          f"{cpu_model()}, {n_cpus} usable CPUs, SIMD path {active_path}, "
          f"load average {load_average()}")
    for note in notes:
        print(f"note: {note}")


def peaks_and_timing(peaks, probe, workers, settings):
    """The FMA peak measured at the start, a warning if the threads do not scale, and how
    the run times and checks."""
    print("FMA peak (GFLOP/s, measured now): " + fmt_peaks(peaks) + f" [{probe} FMA probe]")
    n = workers[-1]
    scaling = peaks[("float32", n)] / peaks[("float32", 1)]
    if n > 1 and scaling < 0.75 * n:
        # A lower multi-thread peak than the thread count allows means the threads did not
        # get a core each: SMT siblings, or other processes (see load average) using them.
        print(f"WARNING: the {n}-thread FMA peak is only {scaling:.2f}x the 1-thread one "
              f"(load average {load_average()}): the CPUs are shared or are SMT siblings, "
              f"so {n}-thread results understate an idle machine")
    s = settings
    print(f"timing: a verifying warm-up call, then best of up to "
          f"{s['rounds'] * s['repeats']} samples in {s['rounds']} round(s) that alternate "
          f"between the libraries of a case (at most {s['budget']:g} s per library and "
          f"case); every result checked at "
          f"{N_SAMPLED} random positions + corners against float64 dot products")


def peaks_recheck(start, end):
    """A note if the FMA peak measured at the end differs from the start's by over 10%."""
    if any(abs(end[k] / start[k] - 1) > 0.1 for k in end):
        print(f"\nnote: FMA peak re-measured at the end differs by more than 10% "
              f"(other load on the machine?): {fmt_peaks(end)}; the summary's % peak "
              "uses the higher of the two measurements")


def closing(elapsed, failed):
    """The run's time, and on stderr whether fastcorr failed a check."""
    print(f"\ntotal {elapsed:.0f} s")
    if failed:
        print("ERROR: fastcorr failed verification (see WRONG or ERROR above)", file=sys.stderr)


# --------------------------------------------------------------------------- console: sections
def show_grid(grid, progress):
    """Each case of the valid grid: a row per library, fastcorr's memory traffic against a copy."""
    shown = []
    for case in grid:
        progress.clear()
        _print_case(case)
        shown.append(case)
    return shown


def _print_case(case):
    (oh, ow), n = case["out_shape"], case["workers"]
    k = case["K"]
    print(f"\n{case['dtype']} {fmt_shape(case['size'])}, {k}x{k} kernel, workers={n}: output "
          f"{oh}x{ow}, {case['flops'] / 1e9:.3g} GFLOP; FMA peak {case['peak']:.1f} GFLOP/s")
    print(f"  {'library':<26s}{'time':>11s}{'GFLOP/s':>10s}{'% peak':>9s}"
          f"{'fastcorr is':>13s}")
    for r in case["rows"]:
        if r["status"] != "ok":
            print(f"  {r['library']:<26s}{r['status']:>11s}   {r['check']}")
            continue
        ratio = fmt_ratio(r["ratio"]) if "ratio" in r else ""
        notes = []
        if r.get("crop"):
            notes.append(f"timed on a {fmt_shape(r['crop'])} crop")
        if r.get("threads") == 1 and n > 1:
            notes.append("1 thread (no threading)")
        if r.get("reused_from_workers"):
            notes.append("measured once, reused")
        if r.get("method", "direct") != "direct":
            notes.append(f"method='auto' ran {r['method']}: nominal GFLOP/s, no % of the FMA peak")
        pct = f"{r['pct_peak']:>8.1f}%" if "pct_peak" in r else f"{'-':>9s}"
        print(f"  {r['library']:<26s}{fmt_time(r['time_s']):>11s}{r['gflops']:>10.2f}"
              f"{pct}{ratio:>13s}" + (f"   [{'; '.join(notes)}]" if notes else ""))
    bw = case["bandwidth"]
    if bw:
        print(f"  memory: fastcorr moves {bw['bytes'] / 1e6:.1f} MB (in + out) at "
              f"{bw['fastcorr_gbs']:.1f} GB/s; a {bw['copy_workers']}-thread copy of the "
              f"image: {bw['copy_gbs']:.1f} GB/s (read + write) -> fastcorr at "
              f"{100 * bw['fastcorr_gbs'] / bw['copy_gbs']:.0f}% of the copy's GB/s")


def show_in2_larger(rec, progress):
    """The swapped-arguments call against the normal one."""
    progress.clear()
    k, t_swap, t_normal = rec["K"], rec["time_swapped_s"], rec["time_normal_s"]
    print(f"\nin2 larger: correlate2d(w, x) on float32 {fmt_shape(rec['size'])}, {k}x{k}, "
          f"workers={rec['workers']}: {fmt_time(t_swap)} vs {fmt_time(t_normal)} for "
          f"correlate2d(x, w) -> {rec['ratio']:.2f}x the time; "
          + ("result equals the normal one rotated 180 degrees" if rec["verified"] else
             "RESULT DIFFERS from the normal one rotated 180 degrees"))
    return rec


def show_modes(records, shape, n, progress):
    """Output Mpixel/s of 'valid', and of 'same'/'full' with their ratio to it."""
    names = [f"{m}_{b}" for m in cases.MODES for b, _ in cases.MODE_BOUNDARIES]
    print(f"\nModes: float32 {fmt_shape(shape)}, workers={n}; output Mpixel/s and the "
          "ratio to 'valid' (per output pixel); results checked at sampled positions "
          "against float64 dot products over the np.pad-extended image")
    print(f"  {'K':>3s}  {'valid':>8s}" + "".join(f"  {name.replace('_', '/'):>17s}"
                                                 for name in names))
    shown = []
    for rec in records:
        valid = f"{rec['valid_mpix_s']:>8.0f}" if "valid_mpix_s" in rec else f"{'WRONG':>8s}"
        cells = [f"{rec[c]['mpix_s']:7.0f} ({rec[c]['ratio']:.2f}x)" if "ratio" in rec[c]
                 else f"{rec[c]['mpix_s']:7.0f}" if "mpix_s" in rec[c] else rec[c]["status"]
                 for c in names]
        progress.clear()
        print(f"  {rec['K']:>3d}  {valid}" + "".join(f"  {c:>17s}" for c in cells))
        for c in ["valid"] + names:
            if rec.get(c, {}).get("status"):
                print(f"       {c}: {rec[c]['status']}: {rec[c]['check']}")
        shown.append(rec)
    return shown


def show_one_d(records, n, peers, progress):
    """Time, GB/s against an n-thread copy, GFLOP/s, % peak, and the ratio to each 1-D peer."""
    print(f"\n1-D: correlate(x, v, 'valid'), {cases.ONE_D_SAMPLES:,} samples, workers={n} "
          "(numpy.correlate: 1 thread; oaconvolve with v reversed, under "
          "scipy.fft.set_workers); each result checked at sampled positions")
    heads = ["dtype", "K", "time", "GB/s", "copy GB/s", "% copy", "GFLOP/s", "% peak"] \
        + [f"x {p.column}" for p in peers]
    print("  " + "  ".join(f"{h:>12s}" for h in heads))
    shown = []
    for rec in records:
        progress.clear()
        if "status" in rec:
            print(f"  {rec['dtype']:>12s}  {rec['K']:>12d}  {rec['status']}: {rec['check']}")
        else:
            cells = [rec["dtype"], str(rec["K"]), fmt_time(rec["time_s"]), f"{rec['gbs']:.1f}",
                     f"{rec['copy_gbs']:.1f}", f"{100 * rec['gbs'] / rec['copy_gbs']:.0f}%",
                     f"{rec['gflops']:.1f}", f"{rec['pct_peak']:.0f}%"]
            cells += ["-" if rec[f"x_{p.column}"] is None else fmt_ratio(rec[f"x_{p.column}"])
                      for p in peers]
            print("  " + "  ".join(f"{c:>12s}" for c in cells))
        shown.append(rec)
    print(f"  GB/s = (signal + result bytes) / time; copy = a {n}-thread copy of the signal "
          "(read + write); " + " / ".join(f"x {p.column}" for p in peers)
          + ": how many times faster fastcorr is")
    return shown


def show_batch(records, n, progress):
    """Output Mpixel/s of the stack and of the one image, and their ratio."""
    (count, side, _), (big_side, _) = cases.batch_shapes()
    print(f"\nBatches: {count:,} images of {side}x{side} against one {big_side}x{big_side} "
          f"image, float32, workers={n}: output Mpixel/s")
    shown = []
    for rec in records:
        progress.clear()
        if "status" in rec:
            print(f"  {rec['status']}: {rec['check']}")
        print(f"  K={rec['K']} {rec['mode']:5s}: stack {rec['stack_mpix_s']:7.0f}, one image "
              f"{rec['image_mpix_s']:7.0f} -> ratio {rec['ratio']:.2f}")
        shown.append(rec)
    return shown


# (heading, width) of the ndimage table's columns; the first five are left-aligned.
_NDIMAGE_HEADS = (("function", 23), ("dtype", 14), ("shape", 11), ("taps", 5), ("mode", 8),
                  ("fastcorr", 9), ("GFLOP/s", 7), ("% peak", 6), ("mem/out", 7),
                  ("scipy.ndimage", 13), ("x", 5), ("peer", 22), ("x", 5))


def _ndimage_line(cells):
    return "  " + "  ".join(c.rjust(wd) if i > 4 else c.ljust(wd)
                            for i, (c, (_, wd)) in enumerate(zip(cells, _NDIMAGE_HEADS)))


def _ndimage_label(rec):
    params = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in rec["params"].items() if k != "mode")
    return f"{rec['function']} {params}".strip()


def _peer_cells(row, fc_row):
    """(time cell, ratio cell) of a peer's row."""
    if row is None:
        return "-", ""
    short = row["library"].split(".")[-1]
    if row["status"] == "n/a":
        return "n/a", ""
    if row["status"] != "ok":
        return f"{short} {row['status']}", ""
    time = fmt_time(row["time_full_s"]) + ("*" if row.get("crop") else "")
    ratio = fc_row.get("vs", {}).get(row["column"])
    return (time if row["column"] == "ndimage" else f"{short} {time}",
            "" if ratio is None else fmt_ratio(ratio))


def show_ndimage(records, n, progress):
    """One line per fastcorr call of the ndimage section: its time, GFLOP/s, % peak and
    memory, the peers' times (scaled to the whole input where timed on a crop) and how many
    times faster fastcorr is; the check's message below a row that failed it."""
    print(f"\nndimage: fastcorr.ndimage (workers={n}) against scipy.ndimage (1 thread) and "
          f"OpenCV or torch ({n} threads), same-size results on the same input; each result "
          "checked at sampled positions against float64 dot products over the input extended "
          "as the mode says (integer results: against scipy's, value by value)")
    print(_ndimage_line([h for h, _ in _NDIMAGE_HEADS]))
    shown = []
    for rec in records:
        progress.clear()
        peers = {r["column"]: r for r in rec["rows"] if "compute_dtype" not in r}
        scipy_row = peers.pop("ndimage", None)
        other = next(iter(peers.values()), None)
        shape = "x".join(map(str, rec["size"]))
        taps = ("+" if rec["separable"] else "x").join(map(str, rec["taps"]))
        notes = []
        for row in rec["rows"]:
            if "compute_dtype" not in row:
                continue
            dtype = rec["dtype"]
            if dtype not in cases.DTYPES:  # an integer input: say what the result is
                out = "float32" if row["column"] == "fastcorr_float32" else dtype
                dtype = f"{dtype}->{out}"
            cells = [_ndimage_label(rec), dtype, shape, taps, rec["mode"]]
            if row["status"] == "ok":
                cells += [fmt_time(row["time_s"]), f"{row['gflops']:.1f}",
                          f"{row['pct_peak']:.0f}%", f"{row['mem_per_output']:.2f}x"]
                if "time_new_result_s" in row:
                    notes.append(f"a new result: {fmt_time(row['time_new_result_s'])}")
            else:
                cells += [row["status"], "-", "-", "-"]
                notes.append(f"{row['library']}: {row['status']}: {row['check']}")
            cells += [*_peer_cells(scipy_row, row), *_peer_cells(other, row)]
            print(_ndimage_line(cells))
        for row in (scipy_row, other):
            if row is not None and row["status"] not in ("ok", "n/a"):
                notes.append(f"{row['library']}: {row['status']}: {row['check']}")
        for note in notes:
            print(f"      {note}")
        shown.append(rec)
    print("  GFLOP/s = 2 x taps x outputs / time, where a separable filter's taps are the sum of "
          "its 1-D kernels' lengths (33+33 for the Gaussian), whatever a library does; % peak "
          "of the FMA peak of the dtype fastcorr computes in (integer outputs: float32 where the "
          "core certifies the call, else float64)")
    print("  every library writes into an output made once (output=, OpenCV's dst=; torch "
          "has no out= for conv3d), as a loop over images does; 'a new result': fastcorr's "
          "time when it allocates the result (the OS's page faults and zeroing)")
    print("  mem/out = tracemalloc's peak during one fastcorr call (what NumPy allocates, the "
          "result included) over the result's bytes; the core's per-thread scratch (malloc'ed "
          "in C, O(kernel x tile)) is not counted")
    print("  * scipy.ndimage timed on a crop of the input (too slow for all of it), its time "
          "scaled to the whole input per output; x = how many times faster fastcorr is per "
          "output; n/a: the peer has no such border or filter (OpenCV: no wrap, no Laplacian of "
          "Gaussian)")
    return shown


def summary(results, missing):
    """The table of the valid grid: fastcorr's GFLOP/s and how many times faster than each
    peer, per case; `missing` lists the peer columns not installed."""
    cols = [p.column for p in PEERS]
    heads = ["dtype", "size", "workers", "K", "fastcorr GFLOP/s", "% peak"] + \
            [f"x vs {c}" for c in cols]
    by_case = {}
    for r in results:
        by_case.setdefault((tuple(r["size"]), r["dtype"], r["workers"], r["K"]), {})[
            r["column"]] = r
    small = cases.SMALL_CASE[0]
    order = sorted(by_case, key=lambda c: (c[0] == small, c[1], -c[0][0], c[2], c[3]))
    table = []
    for case in order:
        recs = by_case[case]
        fc = recs["fastcorr"]
        row = [case[1], fmt_shape(case[0]), str(case[2]), str(case[3])]
        if fc["status"] == "ok":
            row += [f"{fc['gflops']:.1f}", f"{fc['pct_peak']:.0f}%" if "pct_peak" in fc
                    else f"({fc['method']})"]
        else:
            row += [fc["status"], "-"]
        for c in cols:
            r = recs.get(c)
            if r is None:
                row.append("-")
            elif r["status"] != "ok":
                row.append(r["status"])
            elif "ratio" not in r:
                row.append("n/a")
            else:
                row.append(fmt_ratio(r["ratio"]) + ("*" if r.get("crop") else ""))
        table.append(row)
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(heads)]
    print("\nSummary (headline fastcorr call: no out=; ratio = fastcorr GFLOP/s / peer "
          "GFLOP/s, above 1x means fastcorr is faster)")
    print("  ".join(h.rjust(wd) for h, wd in zip(heads, widths)))
    for t in table:
        print("  ".join(v.rjust(wd) for v, wd in zip(t, widths)))
    print("  * peer timed on a crop of the image (too slow for the full one); its GFLOP/s "
          "is compared")
    print("  signal.correlate2d and ndimage run on 1 thread whatever workers= says; "
          "ndimage and cv2 also compute the border, which the FLOP count does not include")
    print("  (fft), (separable): the method fastcorr's default method='auto' ran; its GFLOP/s "
          "are nominal (2 x K x K per output), no share of the FMA peak")
    if missing:
        print(f"  - not installed: {', '.join(missing)}")


# --------------------------------------------------------------------------- JSON and plot
def as_json(*, machine, settings, peaks, peaks_start, peaks_end, notes, report, elapsed):
    """The whole run as the JSON document ``--json`` writes (docs/benchmark.json's schema).

    Parameters
    ----------
    machine : dict
        `machine.machine_info`.
    settings : dict
        The run's choices and timing settings.
    peaks, peaks_start, peaks_end : dict
        FMA peaks by (dtype, threads): the higher of the two, at the start, at the end.
    notes : list of str
        Peers skipped, and why.
    report : dict
        The sections' records: ``results``, ``bandwidth``, ``in2_larger``, ``modes``,
        ``one_d``, ``batch``, ``ndimage`` (None for a section not run).
    elapsed : float
        Seconds the sections took.
    """
    return {
        "machine": machine,
        "settings": settings,
        "fma_peak_gflops": [{"dtype": d, "threads": n, "gflops": g,
                             "start": peaks_start[(d, n)], "end": peaks_end[(d, n)]}
                            for (d, n), g in peaks.items()],
        "notes": notes,
        **report,
        "elapsed_s": elapsed,
    }


def write_json(path, data):
    """Write `data` to `path` and say so."""
    with open(path, "w") as f:
        json.dump(data, f, indent=1, default=float)
    print(f"measurements written to {path}")


def plot(path, results, peaks, shape, n, kernels, machine):
    """GFLOP/s against kernel size per library, one panel per dtype, for one image shape and
    thread count, with the FMA peak as a line (needs matplotlib; a note without it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # a file is wanted, not a window; works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"note: matplotlib not installed, no plot written to {path} "
              "(pip install matplotlib)")
        return
    dtypes = cases.DTYPES
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6 * len(dtypes), 4.5), squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        recs = [r for r in results if tuple(r["size"]) == shape
                and r["dtype"] == dtype and r["workers"] == n and r["status"] == "ok"
                and r["column"] != "fastcorr_out"]
        for lib in dict.fromkeys(r["library"] for r in recs):
            pts = sorted((r["K"], r["gflops"]) for r in recs if r["library"] == lib)
            cropped = any(r.get("crop") for r in recs if r["library"] == lib)
            ax.plot(*zip(*pts), marker="o", lw=2.5 if lib == "fastcorr" else 1.2,
                    label=lib + (" (crop)" if cropped else ""))
        ax.axhline(peaks[(dtype, n)], color="grey", ls="--", lw=1,
                   label=f"FMA peak, {n} threads")
        ax.set_yscale("log")
        ax.set_xlabel("kernel size K (KxK)")
        ax.set_ylabel("GFLOP/s (2*out_h*out_w*K*K / time)")
        ax.set_title(f"{dtype}, {fmt_shape(shape)}, workers={n}")
        ax.set_xticks(list(kernels))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    simd = machine.get("fastcorr_config", {}).get("simd", {}).get("selected", "?")
    fig.suptitle(f"fastcorr {__version__} vs peers: valid 2-D correlation on "
                 f"{machine['cpu_model']} ({machine['cpus_usable']} CPUs), {simd} path")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot written to {path}")


# --------------------------------------------------------------------------- 'methods'
# Column headings of the methods section's tables, by row column.
_METHOD_HEADS = {"auto": "auto", "direct": "direct", "separable": "separable", "fft": "fft",
                 "cv2": "filter2D", "cv2_sep": "sepFilter2D", "fftconvolve": "fftconvolve",
                 "oaconvolve": "oaconvolve", "ndimage": "ndimage", "numpy": "np.correlate"}


def _kernel_title(spec, dims):
    kind, k = spec[0], spec[1]
    if dims == 1:
        return f"{kind} kernel of {k:,} taps"
    if kind == "gaussian":
        sigma = f" (sigma {spec[2]:g})" if len(spec) > 2 else ""
        return f"Gaussian {k}x{k}{sigma}"
    return f"{'rank-2' if kind == 'rank2' else 'full-rank random'} {k}x{k}"


def _mode_title(rec):
    return f"'{rec['mode']}'" + ("/'symm'" if rec["boundary"] == "symm" else "")


def _time_cell(row):
    """A row's time for the whole input in a table cell; * cropped, ^ reused."""
    if row is None:
        return ""
    if row["status"] == "ok":
        return fmt_time(row["time_full_s"]) + ("*" if row.get("crop") else "") + \
            ("^" if row.get("reused") else "")
    return {"skipped": "skip", "n/a": "-"}.get(row["status"], row["status"])


def _check_cell(check):
    if check is None:
        return "-"
    return f"{fmt_ratio(check['x'])} {_METHOD_HEADS.get(check['best'], check['best'])}" + \
        ("" if check["ok"] else " FAIL")


def show_method_headlines(records, n, progress):
    """The headline cases: a row per method and peer (time, time per output, GFLOP/s, % of
    the FMA peak for direct, how many times faster 'auto' is), then the issue's figures."""
    print(f"\nMethods: method='auto' against fastcorr's methods and the peers, workers={n} "
          "(scipy.fft under set_workers); each result checked at sampled positions against "
          "float64 dot products (over the input extended by np.pad 'symmetric' for "
          "'same'/'symm'), then timed side by side")
    shown = []
    for rec in records:
        progress.clear()
        shape = "x".join(map(str, rec["shape"])) if rec["dims"] == 2 else \
            f"{rec['shape'][0]:,} samples"
        print(f"\n{_kernel_title(rec['kernel'], rec['dims'])}, {rec['dtype']} {shape}, "
              f"{_mode_title(rec)}: {rec['flops'] / 1e9:.3g} GFLOP nominal; auto picks "
              f"{rec['picked']}")
        print(f"  {'library':<26s}{'time':>11s}{'ns/output':>11s}{'GFLOP/s':>10s}"
              f"{'% peak':>8s}{'auto is':>10s}")
        for r in rec["rows"]:
            if r["status"] != "ok":
                print(f"  {r['library']:<26s}{r['status']:>11s}   {r['check']}")
                continue
            x = rec["x"].get(r["column"])
            notes = []
            if r.get("once"):
                notes.append("timed once (its verifying call)")
            if r.get("threads") == 1 and n > 1:
                notes.append("1 thread")
            print(f"  {r['library']:<26s}{fmt_time(r['time_s']):>11s}"
                  f"{r['ns_per_output']:>11.2f}{r['gflops']:>10.1f}"
                  + (f"{r['pct_peak']:>7.0f}%" if "pct_peak" in r else f"{'':>8s}")
                  + f"{fmt_ratio(x) if x else '':>10s}"
                  + (f"   [{'; '.join(notes)}]" if notes else ""))
        print("  issue's figures: " + "; ".join(
            f"auto {t['figure']}: " + ("missing" if t["x"] is None else
                                       f"{fmt_ratio(t['x'])} {'ok' if t['ok'] else 'FAIL'}")
            for t in rec["targets"]))
        shown.append(rec)
    return shown


def _sweep_columns(dims):
    if dims == 1:
        return ["auto", "direct", "fft", "oaconvolve", "fftconvolve", "numpy"]
    return ["auto", "direct", "separable", "fft", "cv2", "fftconvolve", "oaconvolve", "ndimage"]


def show_method_sweep(records, progress):
    """The sweeps: one table per dims, dtype and mode, a line per kernel size (and kind):
    what 'auto' picks, every method's and peer's time for the whole input, auto's nominal
    GFLOP/s, direct's % of the FMA peak and the two checks, FAIL where one fails."""
    shown, group = [], None
    for rec in records:
        progress.clear()
        columns = _sweep_columns(rec["dims"])
        heads = ["K", "kernel", "auto picks"] + [_METHOD_HEADS[c] for c in columns] + \
            ["auto GF/s", "direct %pk", "auto vs best peer", "auto vs best own"]
        widths = [max(wd, len(h)) for wd, h in zip([5, 8, 10] + [10] * len(columns)
                                                     + [9, 10, 24, 22], heads)]
        if (rec["dims"], rec["dtype"], rec["mode"]) != group:
            group = (rec["dims"], rec["dtype"], rec["mode"])
            where = ("x".join(map(str, rec["shape"])) if rec["dims"] == 2 else
                     f"{rec['shape'][0]:,} samples")
            print(f"\nSweep {rec['dims']}-D {rec['dtype']} {_mode_title(rec)} on {where}, "
                  f"workers={rec['workers']}: time for the whole input")
            print("  " + " ".join(h.rjust(wd) for h, wd in zip(heads, widths)))
        by = {r["column"]: r for r in rec["rows"]}
        auto, direct = by.get("auto"), by.get("direct")
        cells = [str(rec["K"]), rec["kernel"], str(rec["picked"])]
        cells += [_time_cell(by.get(c)) for c in columns]
        cells.append(f"{auto['gflops']:.1f}" if auto and auto["status"] == "ok" else "-")
        cells.append(f"{direct['pct_peak']:.0f}%" if direct and "pct_peak" in direct else "-")
        cells += [_check_cell(rec["checks"]["vs_peers"]), _check_cell(rec["checks"]["vs_own"])]
        print("  " + " ".join(c.rjust(wd) for c, wd in zip(cells, widths)))
        for r in rec["rows"]:
            if r["status"] in ("WRONG", "ERROR"):
                print(f"      {r['library']}: {r['status']}: {r['check']}")
        shown.append(rec)
    if shown:
        print("  * timed on a crop (1 thread), scaled to the whole input per output; ^ measured "
              "on the random kernel of the same size just before (its time does not depend on "
              "the values); skip: predicted over "
              f"{cases.METHOD_SWEEP_MAX_S:g} s; GF/s nominal: 2 x taps x outputs / time; "
              "vs: how many times faster auto is than the fastest peer / the fastest other "
              f"fastcorr method (FAIL below {1 / cases.AUTO_VS_PEER:.2f}x / "
              f"{1 / cases.AUTO_VS_OWN:.2f}x)")
    return shown


def show_nan_locality(records, progress):
    """One line per dims: how many 'auto' calls kept the NaN in the windows that read it, and
    the failures."""
    shown = list(records)
    progress.clear()
    print("\nNaN locality: 'auto' on an input with one NaN (float32, 'valid', random kernels), "
          "once per kernel size")
    for dims in (2, 1):
        recs = [r for r in shown if r["dims"] == dims]
        if not recs:
            continue
        good = sum(r["ok"] for r in recs)
        picks = ", ".join(sorted({str(r["picked"]) for r in recs}))
        print(f"  {dims}-D: {good} of {len(recs)} kept it inside the windows that read it "
              f"(auto picked {picks})")
        for r in recs:
            if not r["ok"]:
                print(f"    K={r['K']} FAIL ({r['picked']}): {r['check']}")
    return shown


def show_method_summary(crossovers, checks):
    """The measured crossovers beside 'auto''s, and the count of failed checks."""
    print("\nCrossovers: the first K where the method beats direct (measured now), and the "
          "first where 'auto' picks it")
    for c in crossovers:
        kind = "Gaussian kernels" if c["kernel"] == "gaussian" else "random kernels"
        where = f"{c['dims']}-D {c['dtype']} '{c['mode']}'"
        measured = "never" if c["K"] is None else f"K={c['K']}"
        auto = "never" if c["auto_K"] is None else f"K={c['auto_K']}"
        print(f"  {where:<22s} {c['method']:<9s} ({kind}): beats direct from {measured}, auto "
              f"picks it from {auto} (sizes {c['sizes'][0]}..{c['sizes'][-1]})")
    print(f"\nMethods checks: {checks['failed']} FAIL of {checks['total']}")
    for line in checks["failures"]:
        if not line.startswith("sweep "):  # the sweeps' failures: by table, below
            print(f"  FAIL {line}")
    what = {"vs_peers": "auto slower than the best peer",
            "vs_own": f"auto over {cases.AUTO_VS_OWN:g}x the best fastcorr method's time"}
    for name, tables in checks["failed_K"].items():
        for table, ks in tables.items():
            print(f"  FAIL {what[name]} in the sweep {table} at K = {', '.join(map(str, ks))}")


def plot_methods(path, report, n, machine):
    """Time per output against kernel size (log-log) per method and peer, one panel per dtype
    and part (2-D valid, 2-D same, 1-D), the measured crossovers as vertical lines."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullLocator
    except ImportError:
        print(f"note: matplotlib not installed, no plot written to {path} "
              "(pip install matplotlib)")
        return
    parts = [(2, "valid"), (2, "same"), (1, "valid")]
    dtypes = cases.DTYPES
    fig, axes = plt.subplots(len(dtypes), len(parts), figsize=(6 * len(parts), 4.6 * len(dtypes)),
                             squeeze=False)
    # fastcorr: thick lines in strong colours; the peers: thin, dashed, with square markers.
    styles = {"auto": dict(lw=2.8, color="black"), "direct": dict(lw=1.8, color="tab:blue"),
              "separable": dict(lw=1.8, color="tab:green"), "fft": dict(lw=1.8, color="tab:red")}
    peer_styles = {"cv2": "tab:orange", "fftconvolve": "tab:purple", "oaconvolve": "tab:brown",
                   "ndimage": "tab:pink", "numpy": "tab:olive", "cv2_sep": "tab:cyan"}
    for row_axes, dtype in zip(axes, dtypes):
        for ax, (dims, mode) in zip(row_axes, parts):
            sweep = report["sweep_2d"] if dims == 2 else report["sweep_1d"]
            recs = [r for r in sweep if r["dtype"] == dtype and r["mode"] == mode]
            if not recs:
                ax.set_visible(False)
                continue
            lines = {}
            for rec in recs:
                for r in rec["rows"]:
                    if r["status"] != "ok":
                        continue
                    column = r["column"]
                    # fastcorr's methods from the kernel that makes them compete (separable:
                    # Gaussian; direct, fft: random), auto from both; the peers from random.
                    if column == "auto":
                        key = f"auto ({rec['kernel']})"
                    elif column == "separable" and rec["kernel"] == "gaussian":
                        key = "separable (Gaussian)"
                    elif rec["kernel"] == "random" and column != "separable":
                        key = column
                    else:
                        continue
                    lines.setdefault(key, []).append((rec["K"], r["ns_per_output"]))
            for key, pts in lines.items():
                column = key.split(" ")[0]
                if column in styles:
                    style, label = dict(styles[column], marker="o"), f"fastcorr {key}"
                else:
                    style = dict(lw=1.0, ls="--", marker="s", color=peer_styles.get(column))
                    label = _METHOD_HEADS.get(column, column)
                if key == "auto (gaussian)":
                    style.update(ls="--", color="dimgrey")
                ax.plot(*zip(*sorted(pts)), ms=3, label=label, **style)
            for c in report["crossovers"]:
                if (c["dims"], c["dtype"], c["mode"]) == (dims, dtype, mode) and c["K"]:
                    ax.axvline(c["K"], ls=":", color=styles[c["method"]]["color"], lw=1.2)
                    # The two labels one above the other, should both cross at one K.
                    ax.annotate(f"{c['method']} < direct\nfrom K={c['K']}", (c["K"], 0),
                                xycoords=("data", "axes fraction"), va="bottom", fontsize=7,
                                color=styles[c["method"]]["color"],
                                xytext=(3, 3 if c["method"] == "fft" else 26),
                                textcoords="offset points")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            sizes = sorted({r["K"] for r in recs})
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(k) for k in sizes], fontsize=7)
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel("kernel side K (KxK)" if dims == 2 else "kernel taps")
            ax.set_ylabel("ns per output")
            shape = recs[0]["shape"]
            where = "x".join(map(str, shape)) if dims == 2 else f"{shape[0]:,} samples"
            ax.set_title(f"{dims}-D {dtype} {_mode_title(recs[0])}, {where}, workers={n}",
                         fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6, loc="upper left")
    simd = machine.get("fastcorr_config", {}).get("simd", {}).get("selected", "?")
    fig.suptitle(f"fastcorr {__version__} method='auto', its methods and the peers: time per "
                 f"output on {machine['cpu_model']} ({machine['cpus_usable']} CPUs), {simd} path")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot written to {path}")


# --------------------------------------------------------------------------- 'nn'
# (heading, width) of the nn table's columns; the first two are left-aligned.
_NN_HEADS = (("shape (N C HxW O kxk groups)", 34), ("dtype", 7), ("fastcorr fwd", 12),
             ("bwd", 12), ("torch fwd", 12), ("bwd", 12), ("x fwd", 6), ("x bwd", 6),
             ("x both", 6), ("issue's figure", 24), ("issue torch", 11))


def _nn_line(cells):
    return ("  " + "  ".join(c.rjust(wd) if i > 1 else c.ljust(wd)
                             for i, (c, (_, wd)) in enumerate(zip(cells, _NN_HEADS)))).rstrip()


def _nn_cell(row, part):
    """``312 (59%)``: a part's GFLOP/s and % of the FMA peak, or its status."""
    if row is None:
        return "-"
    m = row[part]
    if m["status"] != "ok":
        return m["status"]
    return f"{m['gflops']:.3g} ({m['pct_peak']:.0f}%)" if m["gflops"] < 1000 else \
        f"{m['gflops']:.0f} ({m['pct_peak']:.0f}%)"


def show_nn(records, n, progress):
    """One line per case and dtype of the nn section: GFLOP/s (% of the FMA peak) forward and
    backward for fastcorr.nn and torch, how many times faster fastcorr is, and the issue's
    figure for the row, met or not; the check's message below a part that failed it."""
    print(f"\nnn: fastcorr.nn.conv2d (out=) and its gradients (conv2d_input + conv2d_weight) "
          f"against torch's (F.conv2d, torch.nn.grad.conv2d_input + conv2d_weight) on the "
          f"same arrays, workers={n}, stride 1, no padding; GFLOP/s (% of the FMA peak); "
          "every result checked first (fastcorr's against torch in float64, every entry, "
          "where torch is installed)")
    print(_nn_line([h for h, _ in _NN_HEADS]))
    shown = []
    for rec in records:
        progress.clear()
        ours = rec["rows"][0]
        theirs = next((r for r in rec["rows"][1:] if r["column"] == "torch"), None)
        x, target, anchor = rec["x"], rec["target"], rec["anchor"]
        cells = [describe(rec), rec["dtype"], _nn_cell(ours, "forward"),
                 _nn_cell(ours, "backward"), _nn_cell(theirs, "forward"),
                 _nn_cell(theirs, "backward")]
        cells += ["" if x[p] is None else fmt_ratio(x[p]) for p in ("forward", "backward",
                                                                     "combined")]
        if target is None:
            cells.append("-")
        else:
            verdict = {True: "met", False: "UNMET", None: "no torch figure"}[target["ok"]]
            cells.append(f"{target['figure'].replace(' torch', '')}: {verdict}")
        cells.append("" if anchor is None else f"{anchor['forward']:g}/{anchor['backward']:g}")
        print(_nn_line(cells))
        for row in rec["rows"]:
            for part in ("forward", "backward"):
                if row[part]["status"] != "ok":
                    print(f"      {row['library']} {part}: {row[part]['status']}: "
                          f"{row[part]['check']}")
        shown.append(rec)
    print("  GFLOP/s: forward 2*N*O*(C/groups)*k*k*OH*OW / time, backward (grad input + grad "
          "weight) twice that; % of the FMA peak of the dtype on the SIMD path that ran; x: "
          "how many times faster fastcorr is (both: total FLOPs over total time)")
    print("  issue torch: torch's float32 GFLOP/s forward/backward in the issue's anchor table "
          "(PyTorch 2.13, 2 threads, Zen 5), for the issue's own shapes")
    t = targets(shown)
    print(f"\nnn figures (forward + backward against torch): {t['met']} met, {t['unmet']} "
          f"unmet, {t['missing']} without a torch figure, of {t['total']}")
    for line in t["unmet_rows"]:
        print(f"  UNMET {line}")
    return shown


# --------------------------------------------------------------------------- 'dask'
def show_dask(report, progress):
    """The dask section: per chunk size the cluster's times side by side, the task counts and
    the issue's two ratios; the threaded scheduler against fastcorr.ndimage in memory; the
    larger-than-memory zarr run.  Check messages below."""
    from .chunked import KERNEL, VARIANTS
    progress.clear()
    side = report["cluster"][0]["side"]
    print(f"\ndask: {side}x{side} float32, {KERNEL}x{KERNEL} kernel, mode 'reflect'; "
          "`.sum().compute()` on a LocalCluster of 2 worker processes x 1 thread, the input "
          "persisted in the workers; best time of interleaved runs")
    print("  " + f"{'chunks':>6}  " + "  ".join(f"{v:>22}" for v in VARIANTS)
          + "   x dask-image (issue)   / map_blocks (issue)")
    for rec in report["cluster"]:
        cells = [f"{fmt_time(rec['ms'][v] / 1e3)} ({rec['tasks'][v]} t)" for v in VARIANTS]
        vs_di, vs_mb = rec["vs_dask_image"], rec["vs_map_blocks"]
        ok_di = "met" if vs_di >= rec["target_vs_dask_image"] else "UNMET"
        ok_mb = "met" if vs_mb <= rec["target_vs_map_blocks"] else "UNMET"
        print("  " + f"{rec['chunks']:>6}  " + "  ".join(f"{c:>22}" for c in cells)
              + f"   {fmt_ratio(vs_di):>6} (>= {rec['target_vs_dask_image']:g}x {ok_di})"
              + f"   {vs_mb:.2f}x (<= {rec['target_vs_map_blocks']:g}x {ok_mb})")
    print("  (t): tasks of the graph besides the input's; map_blocks + fastcorr has no halo "
          "(wrong at chunk edges): the floor dask's own task overhead sets")
    th = report["threaded"]
    ok = "met" if th["speed_vs_memory"] >= th["target"] else "UNMET"
    print(f"  threaded scheduler, chunks {th['chunks']}: fastcorr.dask "
          f"{fmt_time(th['ms']['fastcorr.dask'] / 1e3)}, fastcorr.ndimage on the array in "
          f"memory {fmt_time(th['ms']['fastcorr.ndimage'] / 1e3)}: "
          f"{th['speed_vs_memory']:.2f}x its speed (issue: >= {th['target']:g}x, {ok})")
    z = report["zarr"]
    if z:
        rss = ", ".join(f"{r / 2 ** 30:.2f}" for r in z["peak_rss"])
        print(f"  zarr on disk, {z['side']}x{z['side']} float32 ({z['gib']:.1f} GiB), chunks "
              f"{z['chunks']}, 2 workers with memory_limit {z['memory_limit']}: fastcorr.dask "
              f"{z['fastcorr.dask']['mpix_s']:.0f} Mpixel/s ({z['fastcorr.dask']['s']:.1f} s), "
              f"dask-image {z['dask-image']['mpix_s']:.0f} Mpixel/s "
              f"({z['dask-image']['s']:.1f} s): {fmt_ratio(z['ratio'])}; workers' peak RSS "
              f"{rss} GiB (limit {z['limit_bytes'] / 2 ** 30:.2f}), "
              f"{'a worker was RESTARTED' if z['restarted'] else 'no worker restarted'}")
    checks = [c for rec in report["cluster"] for c in rec["checks"]] + th["checks"]
    if z:
        checks += z["fastcorr.dask"]["checks"] + z["dask-image"]["checks"]
    for c in checks:
        print(f"  {'checked' if c['ok'] else 'WRONG'}: {c['message']}")
    return report
