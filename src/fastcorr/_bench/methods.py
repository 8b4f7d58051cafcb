"""The 'methods' section: method='auto' against each of fastcorr's methods and the peers that
do the same job another way (issue 15's figures), and sweeps over the kernel size that
re-measure, on this machine, where the separable passes and the FFT overtake direct.

Four parts, each yielding plain-dict records as the other sections do (render.py shows them):

- `headlines`: the issue's cases (cases.METHOD_HEADLINES): a Gaussian, a rank-2 and a full-rank
  kernel in 'same' with symmetric borders, a 101x101 kernel in 'valid', a long 1-D kernel;
  every row verified, then timed side by side; the issue's figures checked (``targets``).
- `sweep_2d`, `sweep_1d`: every fastcorr method, 'auto' and the peers at each kernel size;
  per row the time, the time per output and the nominal GFLOP/s (2 * outputs * taps, whatever
  a method does), and two checks: 'auto' no slower than the best peer, and within 10% of the
  best of fastcorr's own methods (cases.AUTO_VS_PEER, AUTO_VS_OWN).
- `nan_locality`: one call of 'auto' per kernel size on an image with one NaN, which must stay
  inside the windows that read it (not timed).
- `crossovers` and `checks`: the first kernel size where separable (Gaussian kernels) and FFT
  (random kernels) beat direct, per dtype and mode, beside the first where 'auto' picks them;
  and the count of the checks that failed.

The sweeps are timed with fewer samples than the headlines (`SWEEP_SETTINGS`): they time up to
eight libraries at 14 kernel sizes in four tables.  A peer (and direct) gives the same time for
a Gaussian as for a random kernel of the same size, so the Gaussian row reuses the random
row's peer measurements, taken seconds before, and its direct measurement where 'auto' does not
pick direct (where it does, direct is timed again beside 'auto', so that the within-10% check
compares two calls timed side by side).
"""
import math

import numpy as np

from .. import choose_method, correlate, correlate2d
from . import cases
from .sections import measure
from .timing import Timer
from .verify import SampledReference

# fastcorr's methods, in the tables' column order; 'auto' first.
OWN = ("auto", "direct", "separable", "fft")
# Peers per part, in the tables' column order.
SWEEP_2D_PEERS = ("cv2", "fftconvolve", "oaconvolve", "ndimage")
SWEEP_1D_PEERS = ("oaconvolve", "fftconvolve", "numpy")
# The sweeps' timing: two rounds (a burst of load does not decide a ratio alone), at most
# half a second per library and case.  --quick: the other sections' quick settings.
SWEEP_SETTINGS = {False: {"rounds": 2, "repeats": 5, "budget": 0.5, "min_sample": 5e-3},
                  True: None}


def sweep_timer(quick):
    """The Timer the sweeps use."""
    timer = Timer(quick)
    if SWEEP_SETTINGS[bool(quick)] is not None:
        timer.settings = dict(SWEEP_SETTINGS[bool(quick)])
    return timer


def steps(methods_cases):
    """Number of progress steps the section takes."""
    c = methods_cases
    per_dtype = (len(c["headlines"]) + len(c["kernels"]) * len(cases.METHOD_SWEEP_MODES)
                 * len(cases.METHOD_SWEEP_KINDS) + len(c["taps"]))
    return len(cases.DTYPES) * per_dtype + 2


# --------------------------------------------------------------------------- one case
def _fastcorr_call(x, w, mode, boundary, method, n, out=None):
    if x.ndim == 1:
        return lambda: correlate(x, w, mode, method=method, workers=n)
    return lambda: correlate2d(x, w, mode, boundary, method=method, workers=n, out=out)


def _reference(x, w, mode, rng):
    """The sampled float64 reference of the case: 'same' (always with symmetric borders) as the
    valid correlation of x extended by np.pad's 'symmetric', output i's window starting at
    i - (k - 1) // 2 (scipy.signal's 'same')."""
    if mode == "valid":
        return SampledReference(x, w, rng)
    pad = [((k - 1) // 2, k // 2) for k in w.shape]
    return SampledReference(np.pad(x, pad, mode="symmetric"), w, rng)


def _outputs(shape, kernel_shape, mode):
    if mode == "valid":
        return math.prod(n - k + 1 for n, k in zip(shape, kernel_shape))
    return math.prod(shape)


def _picked(x, w, mode, boundary, n):
    """What 'auto' computes the case with (choose_method), or the error it raises."""
    try:
        return choose_method(x, w, mode, boundary, workers=n)
    except Exception as exc:  # reported in the auto row; the call itself shows its failure
        return f"{type(exc).__name__}: {exc}"


def measure_case(setup, timer, x, w, factors, mode, boundary, methods, peers, *, quick,
                 once=(), skip=None, reuse=None, preallocated=False):
    """Rows for fastcorr's `methods` and the `peers` on one case, each verified, then timed
    side by side.

    Parameters
    ----------
    setup : sections.Setup
    timer : Timer
    x, w : ndarray
        Input (2-D image or 1-D signal) and kernel.
    factors : (ndarray, ndarray) or None
        The kernel as (column taps, row taps), for the peers that take a separable filter.
    mode, boundary : str
        'valid' and 'fill', or 'same' and 'symm'.
    methods : sequence of str
        fastcorr's methods to run (OWN's names).
    peers : sequence of MethodPeer
        Installed peers to run.
    quick : bool
        The peers' smaller crops.
    once : collection of str
        Methods timed by their verifying call alone (too slow to sample).
    skip : dict, optional
        Column -> (reason, predicted seconds or None): rows not run, with status 'skipped'
        (or 'n/a' when the prediction is None).
    reuse : dict, optional
        Column -> a row measured on an earlier case with the same arrays' shapes, copied with
        ``reused`` set instead of measuring again.
    preallocated : bool, optional
        fastcorr writes into ``out=`` and OpenCV into ``dst=`` arrays made once (a 'same'
        case): the times are the libraries' work, not the kernel's zeroing of a fresh result's
        pages (about 8 ms for 64 MiB here).  A row 'auto_new' then times 'auto' returning a
        new array, as a plain call does.

    Returns
    -------
    list of dict
        One row per method, then per peer: ``library``, ``column``, ``threads``, ``crop``,
        ``status`` ('ok', 'WRONG', 'ERROR', 'skipped' or 'n/a'), ``check`` and, when timed,
        ``time_s`` (of the crop, if any), ``time_full_s`` (for the whole input),
        ``ns_per_output``, ``gflops`` (nominal: 2 per tap and output counted), ``samples``;
        the auto row ``picked``.
    """
    skip, reuse = skip or {}, reuse or {}
    n = setup.workers[-1]
    dtype = x.dtype.name
    outputs = _outputs(x.shape, w.shape, mode)
    checker = _reference(x, w, mode, setup.rng)
    rows, calls, timed_rows, once_at = [], [], [], set()
    out = np.empty(x.shape, x.dtype) if preallocated else None
    for method in tuple(methods) + (("auto_new",) if preallocated else ()):
        label = f"fastcorr {method}" + (", out=" if preallocated else "")
        if method == "auto_new":
            label = "fastcorr auto, new result"
        row = {"library": label, "column": method, "threads": n, "crop": None}
        rows.append(row)
        if method == "auto":
            row["picked"] = _picked(x, w, mode, boundary, n)
        if method in reuse:
            row.update({k: v for k, v in reuse[method].items() if k not in row},
                       reused=True)
            continue
        if method in skip:
            reason, predicted = skip[method]
            row.update(status="skipped" if predicted else "n/a", check=reason)
            if predicted:
                row["predicted_s"] = predicted
            continue
        fft = method == "fft" or (method == "auto" and row["picked"] == "fft")
        if method in once:
            once_at.add(len(calls))
        if method == "auto_new":
            call = _fastcorr_call(x, w, mode, boundary, "auto", n)
        else:
            call = _fastcorr_call(x, w, mode, boundary, method, n, out)
        calls.append((call, checker, fft))
        timed_rows.append(row)
    for peer in peers:
        threads = n if peer.threaded else 1
        crop = peer.crop(x.shape, w.shape, mode, quick)
        row = {"library": peer.label, "column": peer.column, "threads": threads,
               "crop": list(crop) if crop else None}
        rows.append(row)
        if peer.column in reuse:
            row.update({k: v for k, v in reuse[peer.column].items() if k not in row},
                       reused=True)
            continue
        if peer.column in skip:
            row.update(status="skipped", check=skip[peer.column][0])
            continue
        px = x if crop is None else np.ascontiguousarray(x[tuple(slice(0, c) for c in crop)])
        try:
            if preallocated and peer.takes_dst:
                made = peer.make(px, w, threads, mode, factors, dst=np.empty_like(px))
                row["library"] += ", dst="
            else:
                made = peer.make(px, w, threads, mode, factors)
        except Exception as exc:  # a peer's own failure must not end the run
            row.update(status="ERROR", check=f"{type(exc).__name__}: {exc}")
            continue
        if isinstance(made, str):
            row.update(status="n/a", check=made)
            continue
        check = checker if crop is None else _reference(px, w, mode, setup.rng)
        calls.append((made, check, peer.uses_fft(dtype, w.size)))
        timed_rows.append(row)
    for row, m in zip(timed_rows, measure(setup, calls, timer, once_at)):
        row.update(m)
        if m["status"] != "ok":
            continue
        counted = outputs if row["crop"] is None else _outputs(row["crop"], w.shape, mode)
        row["time_full_s"] = row["time_s"] * outputs / counted
        row["ns_per_output"] = 1e9 * row["time_s"] / counted
        row["gflops"] = 2.0 * w.size * counted / row["time_s"] / 1e9
        if row["column"] == "direct":
            row["pct_peak"] = 100.0 * row["gflops"] / setup.peaks[(dtype, n)]
    return rows


def _by_column(rows):
    return {r["column"]: r for r in rows}


def _ok(row):
    return row is not None and row.get("status") == "ok"


def _times_faster(rows, columns):
    """The fastest ok row among `columns` and how many times faster 'auto' is than it:
    ``{"best": column, "x": best time / auto time}``, or None without both."""
    by = _by_column(rows)
    auto = by.get("auto")
    others = [by[c] for c in columns if _ok(by.get(c))]
    if not _ok(auto) or not others:
        return None
    best = min(others, key=lambda r: r["time_full_s"])
    return {"best": best["column"], "x": best["time_full_s"] / auto["time_full_s"]}


def _case_record(case_like, x, w, rows, n, outputs):
    return dict(case_like, workers=n, shape=list(x.shape), kernel_shape=list(w.shape),
                outputs=outputs, taps=w.size, flops=2.0 * w.size * outputs, rows=rows,
                picked=rows[0].get("picked"))


# --------------------------------------------------------------------------- headline cases
def headlines(setup, peers):
    """The issue's headline cases (cases.METHOD_HEADLINES), each in float32 and float64.

    Yields
    ------
    dict
        Per case and dtype: ``name``, ``dims``, ``dtype``, ``kernel`` (its spec), ``mode``,
        ``boundary``, ``workers``, ``shape``, ``kernel_shape``, ``outputs``, ``taps``,
        ``flops``, ``picked`` (what 'auto' computes it with), ``rows`` (`measure_case`),
        ``x`` (per other row's column: how many times faster 'auto' is) and ``targets`` (the
        issue's figures: ``vs``, ``min_x``, ``figure``, ``x``, ``ok``; ``ok`` None where a row
        is missing).
    """
    installed = {p.column: p for p in peers}
    n = setup.workers[-1]
    for case in setup.methods_cases["headlines"]:
        for dtype in cases.DTYPES:
            x = cases.method_input(case["shape"], dtype)
            w, factors = cases.method_kernel(case["kernel"], case["dims"], dtype)
            k = case["kernel"][1]
            setup.progress.step(f"methods {case['name']} {dtype} "
                                f"{'x'.join(map(str, x.shape))} K={k} {case['mode']}")
            case_peers = [installed[c] for c in case["peers"] if c in installed]
            rows = measure_case(setup, setup.timer, x, w, factors, case["mode"],
                                case["boundary"], case["methods"], case_peers,
                                quick=setup.quick, once=case.get("once", ()),
                                preallocated=case.get("preallocated", False))
            rec = _case_record({"name": case["name"], "dims": case["dims"], "dtype": dtype,
                                "kernel": list(case["kernel"]), "mode": case["mode"],
                                "boundary": case["boundary"]}, x, w, rows, n,
                               _outputs(x.shape, w.shape, case["mode"]))
            auto = rows[0]
            rec["x"] = {r["column"]: r["time_full_s"] / auto["time_full_s"] for r in rows[1:]
                        if _ok(r) and _ok(auto)}
            rec["targets"] = []
            for column, least, figure in case["targets"]:
                got = rec["x"].get(column)
                rec["targets"].append({"vs": column, "min_x": least, "figure": figure,
                                       "x": got, "ok": None if got is None else got >= least})
            yield rec


# --------------------------------------------------------------------------- the sweeps
def _check(rows):
    """The sweep row's two checks (see the module docstring)."""
    peer_columns = [r["column"] for r in rows if r["column"] not in OWN]
    vs_peers = _times_faster(rows, peer_columns)
    vs_own = _times_faster(rows, OWN[1:])
    if vs_peers is not None:
        vs_peers["ok"] = vs_peers["x"] >= 1 / cases.AUTO_VS_PEER
    if vs_own is not None:
        vs_own["ok"] = vs_own["x"] >= 1 / cases.AUTO_VS_OWN
    return {"vs_peers": vs_peers, "vs_own": vs_own}


def _predicted_skip(rates, key, flops):
    """(reason, seconds) if the call is predicted to take over METHOD_SWEEP_MAX_S from
    its GFLOP/s at the previous kernel size (`rates`), else None."""
    rate = rates.get(key)
    if rate is None:
        return None
    predicted = flops / (rate * 1e9)
    if predicted <= cases.METHOD_SWEEP_MAX_S:
        return None
    reason = (f"predicted {predicted:.1f} s from {rate:.0f} GFLOP/s at the previous size "
              f"(> {cases.METHOD_SWEEP_MAX_S:g} s)")
    return reason, predicted


def sweep_2d(setup, peers):
    """Square kernels of every size of the sweep on one image, 'valid' and 'same'/'symm',
    random then Gaussian kernels at each size.

    Yields
    ------
    dict
        Per dtype, mode, size and kernel: as `headlines` without the targets, with ``K`` and
        ``checks`` (``vs_peers`` and ``vs_own``: ``best`` column, ``x`` how many times faster
        'auto' is, ``ok``; None without the rows to compare).
    """
    mc = setup.methods_cases
    n = setup.workers[-1]
    timer = sweep_timer(setup.quick)
    case_peers = [p for c in SWEEP_2D_PEERS for p in peers if p.column == c]
    rates = {}  # (dtype, mode, column) -> GFLOP/s at the previous kernel size
    for dtype in cases.DTYPES:
        x = cases.method_input(mc["image"], dtype)
        for mode, boundary in cases.METHOD_SWEEP_MODES:
            for k in mc["kernels"]:
                outputs = _outputs(x.shape, (k, k), mode)
                flops = 2.0 * k * k * outputs
                earlier = {}
                for kind in cases.METHOD_SWEEP_KINDS:
                    w, factors = cases.method_kernel((kind, k), 2, dtype)
                    setup.progress.step(f"methods sweep {dtype} {mode} K={k} {kind}")
                    skip, reuse = {}, {}
                    if kind == "random":
                        skip["separable"] = (("full rank: r = K terms cost 2K^2 multiply-adds "
                                              "an output, twice direct's"), None)
                    if k > cases.METHOD_NDIMAGE_MAX_K:
                        skip["ndimage"] = ((f"K > {cases.METHOD_NDIMAGE_MAX_K}: hundreds of "
                                            "times slower than the FFT peers"), None)
                    slow = _predicted_skip(rates, (dtype, mode, "direct"), flops)
                    if slow:
                        skip["direct"] = slow
                    if earlier:
                        reuse = {c: r for c, r in earlier.items() if c not in OWN}
                        picked = _picked(x, w, mode, boundary, n)
                        if picked != "direct" and "direct" in earlier:
                            reuse["direct"] = earlier["direct"]
                    rows = measure_case(setup, timer, x, w, factors, mode, boundary, OWN,
                                        case_peers, quick=setup.quick, skip=skip, reuse=reuse)
                    for r in rows:
                        if _ok(r) and not r.get("reused"):
                            rates[(dtype, mode, r["column"])] = r["gflops"]
                    if not earlier:
                        earlier = {r["column"]: r for r in rows
                                   if r["status"] in ("ok", "skipped") and not r.get("reused")}
                    rec = _case_record({"dims": 2, "kernel": kind, "dtype": dtype, "mode": mode,
                                        "boundary": boundary, "K": k}, x, w, rows, n, outputs)
                    rec["checks"] = _check(rows)
                    yield rec


def sweep_1d(setup, peers):
    """1-D kernels of every length of the sweep on one long signal, 'valid'.

    Yields
    ------
    dict
        As `sweep_2d` (``kernel`` 'random', ``mode`` 'valid').
    """
    mc = setup.methods_cases
    n = setup.workers[-1]
    timer = sweep_timer(setup.quick)
    case_peers = [p for c in SWEEP_1D_PEERS for p in peers if p.column == c]
    rates = {}
    for dtype in cases.DTYPES:
        x = cases.method_input((mc["samples"],), dtype)
        for k in mc["taps"]:
            w, _ = cases.method_kernel(("random", k), 1, dtype)
            outputs = _outputs(x.shape, w.shape, "valid")
            setup.progress.step(f"methods sweep 1-D {dtype} K={k}")
            skip = {}
            slow = _predicted_skip(rates, (dtype, "direct"), 2.0 * k * outputs)
            if slow:
                skip["direct"] = slow
            rows = measure_case(setup, timer, x, w, None, "valid", "fill",
                                ("auto", "direct", "fft"), case_peers, quick=setup.quick,
                                skip=skip)
            for r in rows:
                if _ok(r):
                    rates[(dtype, r["column"])] = r["gflops"]
            rec = _case_record({"dims": 1, "kernel": "random", "dtype": dtype, "mode": "valid",
                                "boundary": "fill", "K": k}, x, w, rows, n, outputs)
            rec["checks"] = _check(rows)
            yield rec


# --------------------------------------------------------------------------- NaN
def _nan_case(x, w, at, mode, boundary, n):
    """One call of 'auto' on `x` (NaN at index `at`, far from the borders): the outputs that
    are NaN must be exactly those whose window reads `at`."""
    picked = _picked(x, w, mode, boundary, n)
    rec = {"dims": x.ndim, "dtype": x.dtype.name, "mode": mode, "boundary": boundary,
           "K": w.shape[0], "shape": list(x.shape), "picked": picked}
    try:
        y = _fastcorr_call(x, w, mode, boundary, "auto", n)()
    except Exception as exc:
        return dict(rec, ok=False, check=f"{type(exc).__name__}: {exc}")
    # Output i's window starts at i (valid) or i - (k - 1) // 2 ('same'): it reads `at` when
    # start <= at < start + k.
    expected = np.zeros(y.shape, bool)
    box = []
    for a, k in zip(at, w.shape):
        shift = 0 if mode == "valid" else (k - 1) // 2
        box.append(slice(max(a + shift - k + 1, 0), a + shift + 1))
    expected[tuple(box)] = True
    got = np.isnan(y)
    outside = int((got & ~expected).sum())
    missing = int((expected & ~got).sum())
    ok = outside == 0 and missing == 0
    detail = (f"NaN in exactly the {int(expected.sum())} outputs whose window reads it" if ok else
              f"{outside} NaN outputs outside the windows that read it, {missing} inside "
              "without NaN")
    return dict(rec, ok=ok, check=detail, nan_outputs=int(got.sum()),
                expected_nan_outputs=int(expected.sum()))


def nan_locality(setup):
    """'auto' on an image (and a signal) with one NaN, once per kernel size of the sweeps:
    float32, 'valid', random kernels (those whose 'auto' would otherwise be the FFT at large
    sizes).  Not timed.

    Yields
    ------
    dict
        Per call: ``dims``, ``dtype``, ``mode``, ``K``, ``shape``, ``picked``, ``ok``,
        ``check``.
    """
    mc = setup.methods_cases
    n = setup.workers[-1]
    dtype = cases.DTYPES[0]
    x = cases.method_input(mc["image"], dtype).copy()
    at = (x.shape[0] // 2, x.shape[1] // 2)
    x[at] = np.nan
    setup.progress.step(f"methods NaN locality 2-D {dtype}, {len(mc['kernels'])} kernel sizes")
    for k in mc["kernels"]:
        w, _ = cases.method_kernel(("random", k), 2, dtype)
        yield _nan_case(x, w, at, "valid", "fill", n)
    s = cases.method_input((mc["samples"],), dtype).copy()
    s[len(s) // 2] = np.nan
    setup.progress.step(f"methods NaN locality 1-D {dtype}, {len(mc['taps'])} kernel lengths")
    for k in mc["taps"]:
        w, _ = cases.method_kernel(("random", k), 1, dtype)
        yield _nan_case(s, w, (len(s) // 2,), "valid", "fill", n)


# --------------------------------------------------------------------------- summaries
def _beats_direct(rec, method):
    """Whether `method` beat direct in a sweep record (direct skipped: its predicted time)."""
    by = _by_column(rec["rows"])
    row, direct = by.get(method), by.get("direct")
    if not _ok(row) or direct is None:
        return False
    if _ok(direct):
        return row["time_full_s"] < direct["time_full_s"]
    return direct.get("predicted_s") is not None and row["time_full_s"] < direct["predicted_s"]


def crossovers(sweep_2d_records, sweep_1d_records):
    """The first kernel size where separable (Gaussian kernels) or FFT (random kernels) beat
    direct, per dims, dtype and mode, beside the first where 'auto' picks that method.

    Returns
    -------
    list of dict
        ``dims``, ``dtype``, ``mode``, ``kernel``, ``method``, ``K`` (None: never within the
        sweep), ``auto_K`` (likewise) and ``sizes`` (the sweep's sizes).
    """
    out = []
    groups = {}
    for rec in list(sweep_2d_records) + list(sweep_1d_records):
        groups.setdefault((rec["dims"], rec["dtype"], rec["mode"], rec["kernel"]), []).append(rec)
    for (dims, dtype, mode, kind), recs in groups.items():
        recs = sorted(recs, key=lambda r: r["K"])
        method = "separable" if kind == "gaussian" else "fft"
        measured = next((r["K"] for r in recs if _beats_direct(r, method)), None)
        auto = next((r["K"] for r in recs if r["picked"] == method), None)
        out.append({"dims": dims, "dtype": dtype, "mode": mode, "kernel": kind,
                    "method": method, "K": measured, "auto_K": auto,
                    "sizes": [r["K"] for r in recs]})
    return out


def describe(rec):
    """``2-D same float32 gaussian K=31``: a sweep record's name in messages."""
    return (f"{rec['dims']}-D {rec['mode']} {rec['dtype']} {rec['kernel']} K={rec['K']}"
            if rec["dims"] == 2 else f"1-D {rec['dtype']} K={rec['K']}")


def checks(report):
    """Every figure the section checks, and those that failed.

    Parameters
    ----------
    report : dict
        The section's records: ``headlines``, ``sweep_2d``, ``sweep_1d``, ``nan_locality``.

    Returns
    -------
    dict
        ``total`` and ``failed`` counts, ``failures`` (one line each; a sweep's start with
        'sweep'), ``failed_K`` (per check, 'vs_peers' or 'vs_own': by table, the sizes that
        failed it).
    """
    total, failures, failed_k = 0, [], {}
    for rec in report["headlines"]:
        for t in rec["targets"]:
            total += 1
            if not t["ok"]:
                got = "missing" if t["x"] is None else f"{t['x']:.2f}x"
                failures.append(f"{rec['name']} {rec['dtype']}: auto {t['figure']}: {got}")
    for rec in report["sweep_2d"] + report["sweep_1d"]:
        for name, check in rec["checks"].items():
            total += 1
            if check is None or not check["ok"]:
                got = "no row to compare" if check is None else \
                    f"{check['x']:.2f}x {check['best']}"
                failures.append(f"sweep {describe(rec)}: auto {name.replace('_', ' ')}: {got}")
                table = (describe(rec).rsplit(" K=", 1)[0])
                failed_k.setdefault(name, {}).setdefault(table, []).append(rec["K"])
    for rec in report["nan_locality"]:
        total += 1
        if not rec["ok"]:
            failures.append(f"NaN locality {rec['dims']}-D K={rec['K']} ({rec['picked']}): "
                            f"{rec['check']}")
    return {"total": total, "failed": len(failures), "failures": failures,
            "failed_K": failed_k}


def set_pct_peak(report, peaks):
    """Give the direct rows their ``pct_peak`` of `peaks` (the higher of two measurements)."""
    if not report:
        return
    for rec in report["headlines"] + report["sweep_2d"] + report["sweep_1d"]:
        for row in rec["rows"]:
            if row["column"] == "direct" and _ok(row):
                row["pct_peak"] = 100.0 * row["gflops"] / peaks[(rec["dtype"], rec["workers"])]


def fastcorr_failed(report):
    """Whether a fastcorr result of the section failed its check (or raised), or a NaN left
    the windows that read it."""
    if not report:
        return False
    for rec in report["headlines"] + report["sweep_2d"] + report["sweep_1d"]:
        if any(r["column"] in OWN and r["status"] in ("WRONG", "ERROR") for r in rec["rows"]):
            return True
    return any(not rec["ok"] for rec in report["nan_locality"])
