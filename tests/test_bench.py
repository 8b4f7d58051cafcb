"""The benchmark's own machinery: how it times, and a whole (tiny) run of its command line.

Speed itself is never asserted here (the machines are shared and noisy); these tests check that
the benchmark measures what it says it measures.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from fastcorr import __version__, _core
from fastcorr._bench.timing import Timer, best_times
from fastcorr._bench.verify import SampledReference, compare
import oracle


def test_best_times_alternates_between_callables():
    """Each round takes every callable's samples in turn, so callables compared side by side are
    sampled interleaved in time."""
    calls = []
    fns = [lambda: calls.append("a"), lambda: calls.append("b")]
    results = best_times(fns, firsts=[1.0, 1.0], rounds=3, repeats=2, budget=100.0,
                         min_sample=0.0)
    assert calls == ["a", "a", "b", "b"] * 3
    assert [(samples, number) for _, samples, number in results] == [(6, 1), (6, 1)]
    assert all(0 < t < 1.0 for t, _, _ in results)


def test_measure_peaks_keeps_each_entrys_best_round(monkeypatch):
    """A round disturbed by another process does not set the peak: every entry is the
    highest of its rounds, whichever round that was."""
    from fastcorr._bench import machine
    seen = []

    def probe(dtype, n, repeats=3):
        seen.append((dtype, n))
        # The first round of float64 and the last of float32 are the disturbed ones.
        low = (dtype == "float64" and len(seen) <= 4) or (dtype == "float32" and len(seen) > 8)
        return (1.0 if low else 10.0 * n), "path"

    monkeypatch.setattr(machine._core, "fma_peak", probe)
    peaks, probe_name = machine.measure_peaks([1, 2], rounds=3)
    assert len(seen) == 12 and probe_name == "path"
    assert peaks == {("float32", 1): 10.0, ("float32", 2): 20.0,
                     ("float64", 1): 10.0, ("float64", 2): 20.0}


def test_best_times_budget_and_short_calls():
    """The budget caps the samples (at least one per round); calls shorter than min_sample are
    looped within a sample and timed per call."""
    calls = []
    (t, samples, number), = best_times([lambda: calls.append(1)], firsts=[10.0], rounds=2,
                                       repeats=50, budget=1.0)
    assert (samples, number) == (2, 1) and len(calls) == 2
    calls.clear()
    (t, samples, number), = best_times([lambda: calls.append(1)], firsts=[0.25], rounds=1,
                                       repeats=3, budget=100.0, min_sample=1.0)
    assert number == 4 and samples == 3 and len(calls) == 12


@pytest.mark.parametrize("shape, kernel_shape", [((40, 50), (3, 4)), ((300,), (7,))],
                         ids=["2-D", "1-D"])
def test_sampled_reference_passes_exact_and_catches_errors(shape, kernel_shape):
    """The check every timed result passes: the exact result (rounded to float32) is within
    tolerance; an error of 1e-3 at a corner (always sampled), a NaN, or a wrong shape is not."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    w = rng.uniform(-1, 1, kernel_shape).astype(np.float32)
    name = "correlate2d" if len(shape) == 2 else "correlate"
    exact = oracle.exact(name, x, w, np.float64, "valid").astype(np.float32)
    ref = SampledReference(x, w, rng)
    ok, detail = ref.check(exact)
    assert ok, detail
    corner = (-1,) * len(shape)
    for bad in (exact[corner] + np.float32(1e-3), np.nan):
        wrong = exact.copy()
        wrong[corner] = bad
        ok, detail = ref.check(wrong)
        assert not ok and "at " in detail
    assert not ref.check(exact[..., 1:])[0]


def test_compare_passes_rounding_and_catches_errors():
    """python -m fastcorr's check against the peer: float32 rounding passes, one output off by
    1e-3 (or NaN) fails, and the message counts the outputs that differ."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (30, 20)).astype(np.float32)
    w = rng.uniform(-1, 1, (5, 5)).astype(np.float32)
    exact = oracle.exact("correlate2d", x, w, np.float64, "valid")
    assert compare(exact.astype(np.float32), exact, x, w) == (True, "")
    for bad in (exact[3, 4] + 1e-3, np.nan):
        wrong = exact.astype(np.float32)
        wrong[3, 4] = bad
        ok, message = compare(wrong, exact, x, w, ("fastcorr", "peer"))
        assert not ok and message.startswith("1 of 416 outputs differ from peer"), message


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("size", [0, 1, 63, 64, 64 * 1000 + 5])
@pytest.mark.parametrize("src_at, dst_at", [(0, 0), (3, 17)], ids=["aligned", "offset"])
def test_copy_parallel_copies_exactly(size, n_threads, src_at, dst_at):
    """The bench's memory-pace reference copies every byte, whatever the size, thread count and
    the two buffers' offsets within a cache line (the chunks follow dst's lines), writes
    nothing outside dst and leaves src as it was."""
    rng = np.random.default_rng(size)
    src_buf = rng.integers(0, 256, src_at + size + 64, dtype=np.uint8)
    dst_buf = np.zeros(dst_at + size + 64, np.uint8)
    before = src_buf.copy()
    _core.copy_parallel(src_buf[src_at:src_at + size], dst_buf[dst_at:dst_at + size],
                        n_threads)
    np.testing.assert_array_equal(dst_buf[dst_at:dst_at + size], before[src_at:src_at + size])
    assert not dst_buf[:dst_at].any() and not dst_buf[dst_at + size:].any()
    np.testing.assert_array_equal(src_buf, before)


def test_copy_parallel_of_an_array_as_the_bench_calls_it():
    """A float array's bytes, viewed as the bench views them, copy to an equal array."""
    x = np.random.default_rng(1).uniform(-1, 1, (37, 29)).astype(np.float32)
    y = np.empty_like(x)
    _core.copy_parallel(x.reshape(-1).view(np.uint8), y.reshape(-1).view(np.uint8), 2)
    np.testing.assert_array_equal(y, x)


def test_copy_parallel_rejects_bad_arguments():
    """Sizes that differ, overlapping buffers and no threads raise ValueError; nothing is
    written."""
    src = np.arange(100, dtype=np.uint8)
    dst = np.zeros(99, np.uint8)
    with pytest.raises(ValueError, match="bytes"):
        _core.copy_parallel(src, dst, 2)
    with pytest.raises(ValueError, match="bytes"):
        _core.copy_parallel(src[:99], np.zeros(100, np.uint8), 1)
    assert not dst.any()
    with pytest.raises(ValueError, match="overlap"):
        _core.copy_parallel(src[:60], src[40:], 2)
    np.testing.assert_array_equal(src, np.arange(100, dtype=np.uint8))
    with pytest.raises(ValueError, match="n_threads"):
        _core.copy_parallel(src, np.zeros(100, np.uint8), 0)


def test_one_d_compares_with_a_copy_on_fastcorr_threads(monkeypatch):
    """The 1-D section's copy runs on as many threads as fastcorr (workers[-1]), and its
    records say so (``copy_gbs``, ``copy_workers``)."""
    from fastcorr._bench import cases, render, sections

    monkeypatch.setattr(cases, "signal_1d", lambda dtype: np.random.default_rng(0).uniform(
        -1, 1, 20_000).astype(dtype))
    monkeypatch.setattr(cases, "one_d_kernels", lambda quick: (3,))
    threads = []
    copy = _core.copy_parallel
    monkeypatch.setattr(_core, "copy_parallel",
                        lambda src, dst, n: (threads.append(n), copy(src, dst, n)))
    setup = sections.Setup(quick=True, sizes=(), kernels=(), workers=[1, 2],
                           peaks={(d, 2): 1.0 for d in cases.DTYPES}, timer=Timer(True),
                           rng=np.random.default_rng(0), progress=render.Progress(100))
    records = list(sections.one_d(setup, []))
    assert [r["dtype"] for r in records] == list(cases.DTYPES)
    assert all(r["copy_workers"] == 2 and r["copy_gbs"] > 0 and "copyto_gbs" not in r
               for r in records)
    assert threads and set(threads) == {2}


def test_version_flag():
    proc = subprocess.run([sys.executable, "-m", "fastcorr", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"fastcorr {__version__}\n"


def test_wrong_fastcorr_result_fails_the_run(monkeypatch, tmp_path, capsys):
    """A fastcorr result that is off shows up as WRONG, is not timed, and fails the run (exit
    status 1), in the valid grid and in the modes section alike."""
    import argparse

    from fastcorr import _bench
    from fastcorr._bench import sections

    exact = sections.correlate2d
    monkeypatch.setattr(sections, "correlate2d", lambda *args, **kw: exact(*args, **kw) + 1)
    monkeypatch.setattr(_bench.peers, "load", lambda: ({}, []))  # fastcorr alone: quicker
    parser = argparse.ArgumentParser()
    _bench.add_arguments(parser)
    path = tmp_path / "bench.json"
    args = parser.parse_args(["--quick", "--only", "2d", "--only", "modes", "--sizes", "40",
                              "--kernels", "3", "--json", str(path)])
    assert _bench.run(args) == 1
    out, err = capsys.readouterr()
    assert "WRONG" in out and "ERROR: fastcorr failed verification" in err
    data = json.loads(path.read_text())
    ours = [r for r in data["results"] if r["column"] in ("fastcorr", "fastcorr_out")]
    assert ours and all(r["status"] == "WRONG" and "time_s" not in r for r in ours)
    assert all(m[c]["status"] == "WRONG" for m in data["modes"]
               for c in ("valid", "same_fill", "same_symm", "full_fill", "full_symm"))


def test_quick_run_end_to_end(tmp_path):
    """A tiny run of `python -m fastcorr bench`: every fastcorr result verified, the peers
    present beside it, one-thread peers measured once and reused for workers=2, and the modes
    section's ratios recorded."""
    pytest.importorskip("scipy")
    path = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcorr", "bench", "--quick", "--only", "2d", "--only",
         "modes", "--sizes", "40", "--kernels", "3,5", "--json", str(path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path.read_text())
    results = data["results"]
    ours = [r for r in results if r["column"] in ("fastcorr", "fastcorr_out")]
    assert ours and all(r["status"] == "ok" and r["gflops"] > 0 for r in ours)
    # Small kernels on a small image: 'auto' computes directly, a share of the FMA peak.
    assert all(r["method"] == "direct" and r["pct_peak"] > 0 for r in ours)
    for case in {(tuple(r["size"]), r["dtype"], r["K"], r["workers"]) for r in ours}:
        peers = [r for r in results
                 if (tuple(r["size"]), r["dtype"], r["K"], r["workers"]) == case
                 and r["column"] not in ("fastcorr", "fastcorr_out")]
        signal = [r for r in peers if r["column"] == "signal.correlate2d"]
        assert len(signal) == 1 and signal[0]["status"] == "ok" and signal[0]["ratio"] > 0
        assert ("reused_from_workers" in signal[0]) == (case[3] > 1)
    # Every kernel against a copy of the image on the case's thread count, counted as
    # fastcorr is.
    bandwidth = data["bandwidth"]
    assert sorted((b["dtype"], b["workers"], b["K"]) for b in bandwidth) == sorted(
        {(r["dtype"], r["workers"], r["K"]) for r in ours})
    for b in bandwidth:
        assert b["copy_workers"] == b["workers"] and "copyto_gbs" not in b
        out = 40 - b["K"] + 1
        assert b["bytes"] == (40 * 40 + out * out) * np.dtype(b["dtype"]).itemsize
        assert b["copy_gbs"] > 0 and b["fastcorr_gbs"] > 0
    assert f"{bandwidth[-1]['workers']}-thread copy of the image" in proc.stdout
    modes = data["modes"]
    assert [m["K"] for m in modes] == [3, 5]
    assert all(m[c]["ratio"] > 0 for m in modes
               for c in ("same_fill", "same_symm", "full_fill", "full_symm"))


def test_valid_grid_names_the_method_auto_ran(capsys):
    """Where 'auto' ran another method than direct, fastcorr's GFLOP/s are nominal: its rows
    get no share of the FMA peak and the tables say which method ran; a direct row keeps its
    share, and the peers' rows theirs."""
    from fastcorr._bench import render, sections
    peaks = {("float32", 2): 400.0}
    base = {"size": [64, 64], "dtype": "float32", "K": 31, "workers": 2, "status": "ok",
            "gflops": 500.0, "time_s": 1e-3, "crop": None}
    rows = [dict(base, library="fastcorr", column="fastcorr", method="fft"),
            dict(base, library="fastcorr (out=)", column="fastcorr_out", method="fft"),
            dict(base, library="cv2.filter2D", column="cv2", gflops=200.0, ratio=2.5)]
    sections.set_pct_peak(rows, peaks)
    assert "pct_peak" not in rows[0] and "pct_peak" not in rows[1]
    assert rows[2]["pct_peak"] == 50.0
    render._print_case({"size": [64, 64], "dtype": "float32", "K": 31, "workers": 2,
                        "out_shape": (34, 34), "flops": 1e6, "peak": 400.0, "rows": rows,
                        "bandwidth": None})
    text = capsys.readouterr().out
    assert text.count("method='auto' ran fft") == 2
    assert "125.0%" not in text and "50.0%" in text
    direct = [dict(rows[0], method="direct")]
    sections.set_pct_peak(direct, peaks)
    assert direct[0]["pct_peak"] == 125.0


# --------------------------------------------------------------------------- the ndimage section
# Core routes fastcorr.ndimage calls for integer outputs and 3-D kernels; until they are built,
# those cases must show ERROR (and fail the run) without ending it.
_PENDING_ROUTES = {"integer": "exact_correlate", "volume": "correlate_volume"}


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_same_size_reference_knows_each_mode(mode):
    """The section's oracle (np.pad per mode, then exact dot products) accepts scipy.ndimage's
    result in every mode, for odd and even kernels, and rejects the result of another mode."""
    ndimage = pytest.importorskip("scipy.ndimage")
    from fastcorr._bench.verify import SameSizeReference

    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (23, 30))
    for k in (3, 4):
        w = rng.uniform(-1, 1, (k, k))
        ref = SameSizeReference(x, w, mode, rng, n=400)
        ok, detail = ref.check(ndimage.correlate(x, w, mode=mode))
        assert ok, detail
        other = "wrap" if mode != "wrap" else "reflect"
        assert not ref.check(ndimage.correlate(x, w, mode=other))[0]


@pytest.mark.parametrize("function, params", [
    ("gaussian_filter", {"sigma": 4.0}), ("gaussian_filter", {"sigma": 1.5}),
    ("uniform_filter", {"size": 9}), ("sobel", {"axis": 0}), ("sobel", {"axis": 1}),
    ("gaussian_laplace", {"sigma": 4.0}), ("gaussian_laplace", {"sigma": 1.5})])
def test_filter_weights_are_scipys_filters(function, params):
    """The full kernels the section checks the separable filters with are scipy.ndimage's
    filters (float64, so the bound of a one-pass-per-axis float32 result is generous), and
    Sobel's axes are not swapped."""
    ndimage = pytest.importorskip("scipy.ndimage")
    from fastcorr._bench.verify import SameSizeReference, filter_weights

    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (40, 45)).astype(np.float32)
    w = filter_weights(function, params)
    taps = sum(w.shape)
    ref = SameSizeReference(x, w, "reflect", rng, taps=taps, n=400)
    ok, detail = ref.check(getattr(ndimage, function)(x, **params))
    assert ok, detail
    if function == "sobel":
        swapped = ndimage.sobel(x, axis=1 - params["axis"])
        assert not ref.check(swapped)[0]


def test_integer_checks():
    """uint8 results: fastcorr's must equal scipy's value for value (and be uint8), OpenCV's
    may differ by 1 (it rounds, scipy truncates), the sampled exact values allow 1."""
    from fastcorr._bench.verify import SameSizeReference, WholeResult

    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    w = rng.uniform(0.1, 1, (5, 5))
    w /= w.sum()
    exact = SameSizeReference(x, w, "reflect", rng, dtype=np.float64, slack=1.0)
    truth = np.pad(x.astype(np.float64), 2, mode="symmetric")
    values = sum(w[a, b] * truth[a:a + 20, b:b + 20] for a in range(5) for b in range(5))
    truncated = values.astype(np.uint8)
    assert exact.check(truncated)[0] and exact.check(np.round(values).astype(np.uint8))[0]
    off = truncated.copy()
    off[0, 0] += 2
    assert not exact.check(off)[0]
    assert WholeResult(truncated, 0, "scipy", np.uint8).check(truncated)[0]
    assert not WholeResult(truncated, 0, "scipy", np.uint8).check(truncated.astype(np.int16))[0]
    one_off = truncated.copy()
    one_off[3, 4] += 1
    assert not WholeResult(truncated, 0, "scipy").check(one_off)[0]
    assert WholeResult(truncated, 1, "scipy").check(one_off)[0]


def test_filter_peer_crop():
    """A slow peer's crop has equal sides (multiples of 16, at least 64), costs at most its cap,
    and is None when the whole input fits, in 2-D and 3-D."""
    from fastcorr._bench.peers import FILTER_PEERS

    scipy_peer = next(p for p in FILTER_PEERS if p.column == "ndimage")
    full, quick = scipy_peer.crop_flops
    for shape, per_output in [((2048, 2048), 2 * 15 * 15), ((4096, 4096), 2 * 66),
                              ((160, 160, 160), 2 * 125)]:
        for is_quick, cap in ((False, full), (True, quick)):
            crop = scipy_peer.crop(shape, per_output, is_quick)
            assert crop is not None and len(set(crop)) == 1 and len(crop) == len(shape)
            assert crop[0] % 16 == 0 and crop[0] >= 64
            assert np.prod(crop) * per_output <= cap
    assert scipy_peer.crop((40, 40), 2 * 9, True) is None


def test_ndimage_cases_cover_the_issue():
    """The default grid is issue 14's: float32 K=3..15 and float64 K=3, 5, 9 in every mode on
    2048x2048, the separable filters (and laplace, gaussian_laplace) on 4096x4096, uint8 5x5,
    a 160^3 volume with 5x5x5."""
    from fastcorr._bench import cases

    grid = cases.ndimage_cases(False)
    correlate = {(c["dtype"], c["taps"][0], c["mode"]) for c in grid if c["group"] == "correlate"}
    assert correlate == {(d, k, m) for d, ks in (("float32", (3, 5, 7, 9, 11, 15)),
                                                 ("float64", (3, 5, 9)))
                         for k in ks for m in cases.NDIMAGE_MODES}
    assert all(c["shape"] == (2048, 2048) for c in grid if c["group"] in ("correlate",
                                                                          "integer"))
    filters = [(c["function"], c["params"], c["shape"]) for c in grid if c["group"] == "filter"]
    assert filters == [("gaussian_filter", {"sigma": 4.0}, (4096, 4096)),
                       ("uniform_filter", {"size": 9}, (4096, 4096)),
                       ("sobel", {"axis": 0}, (4096, 4096)), ("sobel", {"axis": 1}, (4096, 4096)),
                       ("laplace", {}, (4096, 4096)),
                       ("gaussian_laplace", {"sigma": 4.0}, (4096, 4096))]
    (volume,) = [c for c in grid if c["group"] == "volume"]
    assert volume["shape"] == (160, 160, 160) and volume["taps"] == (5, 5, 5)
    assert len(cases.ndimage_cases(True)) < len(grid)


def test_wrong_ndimage_result_fails_the_run(monkeypatch, tmp_path, capsys):
    """A fastcorr.ndimage result that is off shows up as WRONG, is not timed, and fails the
    run."""
    import argparse

    from fastcorr import _bench, ndimage

    exact = ndimage.correlate
    monkeypatch.setattr(ndimage, "correlate", lambda *args, **kw: exact(*args, **kw) + 1)
    monkeypatch.setattr(_bench.peers, "load", lambda: ({}, []))  # fastcorr alone: quicker
    parser = argparse.ArgumentParser()
    _bench.add_arguments(parser)
    path = tmp_path / "bench.json"
    args = parser.parse_args(["--quick", "--only", "ndimage", "--sizes", "24", "--kernels", "3",
                              "--json", str(path)])
    assert _bench.run(args) == 1
    out, err = capsys.readouterr()
    assert "WRONG" in out and "ERROR: fastcorr failed verification" in err
    records = json.loads(path.read_text())["ndimage"]
    rows = [r for rec in records if rec["function"] == "correlate" and rec["group"] == "correlate"
            for r in rec["rows"]]
    assert rows and all(r["status"] == "WRONG" and "time_s" not in r for r in rows)
    assert all(r["status"] == "ok" for rec in records if rec["group"] == "filter"
               for r in rec["rows"])


def test_ndimage_quick_run_end_to_end(tmp_path):
    """A tiny run of `python -m fastcorr bench --only ndimage`: one record per case with
    fastcorr verified and timed beside scipy.ndimage and OpenCV (torch for the volume), the
    ratios, FLOP counts and peak memory recorded, and OpenCV's missing wrap border as n/a.
    Cases whose core route is not built yet are ERROR rows that fail the run, not end it."""
    pytest.importorskip("scipy")
    from fastcorr._bench import cases

    path = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcorr", "bench", "--quick", "--only", "ndimage", "--sizes",
         "40", "--kernels", "3", "--json", str(path)],
        capture_output=True, text=True, timeout=300)
    pending = {group for group, name in _PENDING_ROUTES.items() if not hasattr(_core, name)}
    assert proc.returncode == (1 if pending else 0), proc.stderr
    data = json.loads(path.read_text())
    records = data["ndimage"]
    assert data["results"] == [] and data["modes"] is None
    assert [(r["group"], r["function"]) for r in records] == \
        [("correlate", "correlate")] * 10 + [("filter", "gaussian_filter"),
                                             ("filter", "uniform_filter"), ("filter", "sobel"),
                                             ("filter", "sobel"), ("filter", "laplace"),
                                             ("filter", "gaussian_laplace"),
                                             ("integer", "correlate"), ("volume", "correlate")]
    assert [r["mode"] for r in records[:5]] == list(cases.NDIMAGE_MODES)
    for rec in records:
        ours = [r for r in rec["rows"] if r["column"].startswith("fastcorr")]
        assert [r["column"] for r in ours] == (
            ["fastcorr", "fastcorr_float32"] if rec["group"] == "integer" else ["fastcorr"])
        shape = tuple(rec["size"])
        assert shape == ((40,) * 3 if rec["group"] == "volume" else (40, 40))
        assert rec["outputs"] == np.prod(shape)
        taps = sum(rec["taps"]) if rec["separable"] else np.prod(rec["taps"])
        assert rec["flops"] == 2.0 * taps * rec["outputs"]
        peers = {r["column"]: r for r in rec["rows"] if r not in ours}
        expected_peers = {"ndimage", "torch" if rec["group"] == "volume" else "cv2"}
        assert set(peers) <= expected_peers and "ndimage" in peers
        assert peers["ndimage"]["status"] == "ok" and peers["ndimage"]["threads"] == 1
        for r in ours:
            if rec["group"] in pending and r["column"] == "fastcorr":
                assert r["status"] == "ERROR" and "AttributeError" in r["check"], r
                continue
            assert r["status"] == "ok", r
            assert r["gflops"] > 0 and 0 < r["pct_peak"] and r["mem_per_output"] >= 1.0
            assert r["peak_mem_bytes"] >= r["out_bytes"]
            assert set(r["vs"]) == {c for c, p in peers.items() if p["status"] == "ok"}
            assert r["vs"]["ndimage"] == pytest.approx(
                r["gflops"] / peers["ndimage"]["gflops"])
            # Every case is timed into arrays made once, a new result beside.
            assert r["time_new_result_s"] > 0
        if "cv2" in peers:
            # OpenCV has no 'wrap' border and no Laplacian of Gaussian.
            missing = rec["mode"] == "wrap" or rec["function"] == "gaussian_laplace"
            assert peers["cv2"]["status"] == ("n/a" if missing else "ok"), peers["cv2"]
    assert "mem/out" in proc.stdout and "n/a" in proc.stdout


def test_asv_ndimage_suite_runs_on_a_tiny_grid(monkeypatch):
    """benchmarks/bench_ndimage.py as asv drives it (setup with each parameter combination,
    then every time_/peakmem_ method), on its own cases shrunk to tiny inputs: combinations
    outside the grid and peers without the border are skipped (NotImplementedError), the rest
    run, and fastcorr fails only where its core route is not built yet."""
    import importlib
    import itertools
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, "benchmarks", "bench_ndimage.py")):
        pytest.skip("benchmarks/ is not beside tests/")
    pytest.importorskip("scipy")
    monkeypatch.syspath_prepend(root)
    suite = importlib.import_module("benchmarks.bench_ndimage")
    monkeypatch.setattr(suite, "GRID", [
        dict(c, shape=(12,) * 3 if c["group"] == "volume" else (32, 32)) for c in suite.GRID])
    pending = [name for name in _PENDING_ROUTES.values() if not hasattr(_core, name)]
    ran, skipped = set(), 0
    for name, cls in vars(suite).items():
        if not (isinstance(cls, type) and name.startswith("Ndimage")):
            continue
        methods = [m for m in dir(cls) if m.startswith(("time_", "peakmem_"))]
        assert methods, name
        combos = itertools.product(*cls.params) if hasattr(cls, "params") else [()]
        for combo in combos:
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError:
                skipped += 1
                continue
            for method in methods:
                try:
                    getattr(bench, method)(*combo)
                except AttributeError as exc:
                    assert any(route in str(exc) for route in pending), exc
                    continue
                ran.add(name)
    assert skipped >= 2 * 5 * 3  # float64 at K=7, 11, 15; OpenCV's wrap
    assert {"NdimageCorrelateScipyCrop", "NdimageFiltersScipyCrop",
            "NdimageIntegerScipyCrop", "NdimageVolumeScipyCrop", "NdimageCorrelate",
            "NdimageFilters", "NdimageInteger"} <= ran


# --------------------------------------------------------------------------- the methods section
def _fft_pending():
    """Whether this build lacks method='fft' (its module is another change of issue 15)."""
    try:
        from fastcorr._engine import fft  # noqa: F401
    except ImportError:
        return True
    return False


def test_methods_cases_are_the_issues():
    """The headline cases and sweeps are issue 15's: a 31x31 Gaussian (sigma 5) on 4096x4096,
    rank-2 25x25 and full-rank 9x9 on 2048x2048 ('same'/'symm'), 101x101 on 2048x2048 and
    8,192 taps on 2,000,000 samples ('valid'); K = 3..255 and 2..16,384 taps."""
    from fastcorr._bench import cases

    c = cases.methods_cases(False)
    got = [(h["name"], h["shape"], h["kernel"], h["mode"], h["boundary"]) for h in c["headlines"]]
    assert got == [("gaussian", (4096, 4096), ("gaussian", 31, 5.0), "same", "symm"),
                   ("rank2", (2048, 2048), ("rank2", 25), "same", "symm"),
                   ("full_rank", (2048, 2048), ("random", 9), "same", "symm"),
                   ("large_kernel", (2048, 2048), ("random", 101), "valid", "fill"),
                   ("long_1d", (2_000_000,), ("random", 8192), "valid", "fill")]
    assert c["kernels"][0] == 3 and c["kernels"][-1] == 255 and len(c["kernels"]) == 14
    assert c["taps"] == tuple(2 ** i for i in range(1, 15)) and c["samples"] == 2_000_000
    w, _ = cases.method_kernel(("rank2", 25), 2, "float64")
    assert np.linalg.matrix_rank(w) == 2
    w, (col, row) = cases.method_kernel(("gaussian", 31, 5.0), 2, "float32")
    np.testing.assert_allclose(w, np.outer(col, row), rtol=1e-6)
    assert abs(float(w.sum()) - 1) < 1e-5
    tiny = cases.methods_cases(True, (40, 40), [3, 99])
    assert tiny["kernels"] == (3,) and all(
        h["kernel"][1] <= (h["shape"][0] // 4 if h["dims"] == 1 else 20)
        for h in tiny["headlines"])


@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("dims", [2, 1])
def test_method_peers_compute_the_case(mode, dims):
    """Each peer of the methods section, called as the section calls it (flips, anchors, the
    'symm' extension), computes the case's result for odd and even kernel sides: it passes the
    section's own check (which fastcorr's 'same' passes), or says why it has no such call."""
    pytest.importorskip("scipy")
    import fastcorr
    from fastcorr._bench import cases, methods

    rng = np.random.default_rng(8)
    shape = (37, 45) if dims == 2 else (700,)
    x = rng.uniform(-1, 1, shape)
    spec = ("gaussian", 7, 1.5) if dims == 2 else ("random", 9)
    w, factors = cases.method_kernel(spec, dims, "float64")
    checker = methods._reference(x, w, mode, rng)
    expected = {2: {"cv2", "cv2_sep", "fftconvolve", "oaconvolve", "ndimage"},
                1: {"fftconvolve", "oaconvolve"} | ({"numpy"} if mode == "valid" else set())}
    _check_peers(x, w, factors, mode, checker, expected[dims])
    if dims == 2:
        # An even side: fastcorr's 'same' window starts at i - (k - 1) // 2, one sample after
        # scipy.ndimage's and OpenCV's default centre.
        w = rng.uniform(-1, 1, (4, 6))
        col, row = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 6)
        checker = methods._reference(x, w, mode, rng)
        assert checker.check(fastcorr.correlate2d(x, w, mode, "symm"))[0]
        _check_peers(x, np.outer(col, row), (col, row), mode,
                     methods._reference(x, np.outer(col, row), mode, rng), expected[2])
        _check_peers(x, w, None, mode, checker, expected[2] - {"cv2_sep"})


def _check_peers(x, w, factors, mode, checker, expected):
    from fastcorr._bench import peers

    for peer in peers.METHOD_PEERS:
        try:
            peer.require()
        except ImportError:
            continue
        made = peer.make(x, w, 1, mode, factors)
        assert isinstance(made, str) == (peer.column not in expected), peer.label
        if not isinstance(made, str):
            ok, detail = checker.check(made(), fft=peer.uses_fft(x.dtype.name, w.size))
            assert ok, (peer.label, detail)


def _importable(package):
    try:
        __import__(package)
    except ImportError:
        return False
    return True


def test_method_peer_crop():
    """A slow peer's crop in the methods section costs at most its cap in 2-D ('valid' and
    'same') and 1-D, is None when the whole input fits, and keeps at least 4 kernel sides
    (2-D) or 1,024 outputs (1-D) where the cap would leave less."""
    from fastcorr._bench.peers import method_peer

    peer = method_peer("ndimage")
    for quick in (False, True):
        cap = peer.crop_flops[1 if quick else 0]
        for shape, kernel, mode in [((1024, 1024), (31, 31), "valid"),
                                    ((1024, 1024), (31, 31), "same"),
                                    ((2_000_000,), (4096,), "valid"),
                                    ((2_000_000,), (16384,), "valid")]:
            crop = peer.crop(shape, kernel, mode, quick)
            assert crop is not None and len(crop) == len(shape)
            outputs = np.prod([c - k + 1 if mode == "valid" else c
                               for c, k in zip(crop, kernel)])
            assert 2.0 * np.prod(kernel) * outputs <= cap
    assert peer.crop((64, 64), (3, 3), "same", True) is None
    assert peer.crop((1024, 1024), (91, 91), "valid", False) == (364, 364)
    assert method_peer("numpy").crop((2_000_000,), (131072,), "valid", False) == (132095,)


def test_measure_once_keeps_the_verifying_call():
    """A call measured `once` is verified and its verifying call is its one sample; the
    others are sampled as usual."""
    from types import SimpleNamespace

    from fastcorr._bench.sections import measure

    class Always:
        def check(self, result, fft=False):
            return True, "fine"

    calls = []
    setup = SimpleNamespace(timer=Timer(True))
    out = measure(setup, [(lambda: calls.append("a"), Always(), False),
                          (lambda: calls.append("b"), Always(), False)], once={1})
    assert calls.count("b") == 1 and calls.count("a") > 1
    assert out[1]["once"] and out[1]["samples"] == 1 and "once" not in out[0]


def _sweep_record(k, rows, kernel="random", picked="direct"):
    return {"dims": 2, "dtype": "float32", "mode": "valid", "kernel": kernel, "K": k,
            "picked": picked, "rows": [dict(r, column=c) for c, r in rows.items()]}


def test_sweep_checks_and_crossovers():
    """The two checks of a sweep row (auto no slower than the best peer, within 10% of the best
    own method), FAIL counted per kernel size; the crossover is the first K where the method
    beats direct, a skipped direct counting by its predicted time."""
    from fastcorr._bench import methods

    def ok(t):
        return {"status": "ok", "time_full_s": t}

    recs = [_sweep_record(3, {"auto": ok(1.0), "direct": ok(1.0), "fft": ok(5.0),
                              "cv2": ok(1.5)}),
            _sweep_record(31, {"auto": ok(1.2), "direct": ok(1.0), "fft": ok(2.0),
                               "cv2": ok(0.9)}, picked="fft"),
            _sweep_record(255, {"auto": ok(1.0), "fft": ok(1.0), "cv2": ok(2.0),
                                "direct": {"status": "skipped", "predicted_s": 9.0}},
                          picked="fft")]
    for rec in recs:
        rec["checks"] = methods._check(rec["rows"])
    assert recs[0]["checks"]["vs_peers"] == {"best": "cv2", "x": 1.5, "ok": True}
    assert recs[1]["checks"]["vs_peers"]["ok"] is False
    assert recs[1]["checks"]["vs_own"] == {"best": "direct", "x": pytest.approx(1 / 1.2),
                                           "ok": False}
    assert recs[2]["checks"]["vs_own"]["best"] == "fft"
    (cross,) = methods.crossovers(recs, [])
    assert (cross["method"], cross["K"], cross["auto_K"]) == ("fft", 255, 31)
    report = {"headlines": [], "sweep_2d": recs, "sweep_1d": [],
              "nan_locality": [{"dims": 2, "K": 3, "picked": "direct", "ok": True,
                                "check": ""}]}
    checks = methods.checks(report)
    assert checks["total"] == 7 and checks["failed"] == 2
    assert checks["failed_K"] == {"vs_peers": {"2-D valid float32 random": [31]},
                                  "vs_own": {"2-D valid float32 random": [31]}}


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_nan_locality_check(monkeypatch, mode):
    """The NaN check accepts a result with NaN exactly in the windows that read it (fastcorr's
    own, in 'valid' and 'same'/'symm') and rejects one where the NaN spread (an FFT's)."""
    from fastcorr._bench import methods

    x = np.random.default_rng(9).uniform(-1, 1, (40, 50)).astype(np.float32)
    at = (20, 25)
    x[at] = np.nan
    w = np.random.default_rng(10).uniform(-1, 1, (5, 4)).astype(np.float32)
    boundary = "fill" if mode == "valid" else "symm"
    rec = methods._nan_case(x, w, at, mode, boundary, 1)
    assert rec["ok"], rec
    assert rec["expected_nan_outputs"] == 20 and rec["nan_outputs"] == 20
    monkeypatch.setattr(methods, "correlate2d", lambda *a, **k: np.full((36, 47), np.nan))
    rec = methods._nan_case(x, w, at, mode, boundary, 1)
    assert not rec["ok"] and "outside" in rec["check"]


def test_wrong_method_result_fails_the_run(monkeypatch, tmp_path, capsys):
    """A fastcorr result of the methods section that is off (here: method='separable') shows
    up as WRONG, is not timed, and fails the run; the other methods stay verified."""
    import argparse

    from fastcorr import _bench
    from fastcorr._bench import methods

    exact = methods.correlate2d

    def off(*args, method="auto", **kw):
        result = exact(*args, method=method, **kw)
        return result + 1 if method == "separable" else result

    monkeypatch.setattr(methods, "correlate2d", off)
    monkeypatch.setattr(_bench.peers, "load", lambda: ({}, []))  # fastcorr alone: quicker
    parser = argparse.ArgumentParser()
    _bench.add_arguments(parser)
    path = tmp_path / "bench.json"
    args = parser.parse_args(["--quick", "--only", "methods", "--sizes", "24", "--kernels", "3",
                              "--json", str(path)])
    assert _bench.run(args) == 1
    out, err = capsys.readouterr()
    assert "WRONG" in out and "ERROR: fastcorr failed verification" in err
    report = json.loads(path.read_text())["methods"]
    rows = [r for rec in report["headlines"] + report["sweep_2d"] for r in rec["rows"]]
    separable = [r for r in rows if r["column"] == "separable" and not r.get("reused")]
    assert separable and all(r["status"] in ("WRONG", "n/a") for r in separable)
    assert all("time_s" not in r for r in separable)
    assert all(r["status"] == "ok" for r in rows if r["column"] == "direct")


def test_methods_quick_run_end_to_end(tmp_path):
    """A tiny run of `python -m fastcorr bench --only methods`: every headline case in both
    dtypes with its figures, the sweeps with their checks, crossovers and NaN locality in the
    JSON, and the plot written.  While method='fft' is not in the build its rows are ERROR
    (failing the run), not the end of it."""
    pytest.importorskip("scipy")
    from fastcorr._bench import cases

    path, png = tmp_path / "bench.json", tmp_path / "methods.png"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcorr", "bench", "--quick", "--only", "methods", "--sizes",
         "48", "--kernels", "3,9", "--json", str(path), "--plot", str(png)],
        capture_output=True, text=True, timeout=300)
    pending = _fft_pending()
    assert proc.returncode == (1 if pending else 0), proc.stderr
    data = json.loads(path.read_text())
    assert data["results"] == [] and data["ndimage"] is None
    report = data["methods"]
    heads = report["headlines"]
    assert [(h["name"], h["dtype"]) for h in heads] == [
        (c["name"], d) for c in cases.METHOD_HEADLINES for d in cases.DTYPES]
    for rec in heads:
        assert rec["rows"][0]["column"] == "auto"
        assert rec["picked"] in ("direct", "separable", "fft")
        assert len(rec["targets"]) == len(next(c for c in cases.METHOD_HEADLINES
                                               if c["name"] == rec["name"])["targets"])
        for r in rec["rows"]:
            if r["column"] == "fft" and pending:
                assert r["status"] == "ERROR" and "ImportError" in r["check"], r
                continue
            assert r["status"] == "ok", r
            assert r["gflops"] > 0 and r["ns_per_output"] > 0
            assert r["time_full_s"] == pytest.approx(r["time_s"])  # no crop at this size
        # A figure against a peer this environment lacks (OpenCV is not a test dependency)
        # has no ratio; every other figure has one.
        columns = {r["column"] for r in rec["rows"]}
        for t in rec["targets"]:
            if t["vs"] in columns:
                assert t["x"] is not None and t["ok"] in (True, False), t
            else:
                assert t["x"] is None and t["ok"] is None, t
    sweep = report["sweep_2d"]
    assert len(sweep) == 2 * len(cases.METHOD_SWEEP_MODES) * 2 * len(cases.DTYPES)
    for rec in sweep:
        by = {r["column"]: r for r in rec["rows"]}
        assert by["separable"]["status"] == ("n/a" if rec["kernel"] == "random" else "ok")
        assert by["auto"]["status"] == "ok" and by["direct"]["status"] == "ok"
        assert set(rec["checks"]) == {"vs_peers", "vs_own"}
        assert rec["checks"]["vs_own"]["ok"] in (True, False)
        if rec["kernel"] == "gaussian":
            assert "cv2" not in by or by["cv2"].get("reused")
    assert [r["K"] for r in report["sweep_1d"]] == [4, 64] * 2
    assert len(report["nan_locality"]) == 2 + 2
    assert all(r["ok"] for r in report["nan_locality"]), report["nan_locality"]
    assert {(c["dims"], c["method"]) for c in report["crossovers"]} == {
        (2, "fft"), (2, "separable"), (1, "fft")}
    checks = report["checks"]
    assert checks["total"] == sum(len(h["targets"]) for h in heads) + 2 * (
        len(sweep) + len(report["sweep_1d"])) + len(report["nan_locality"])
    assert f"Methods checks: {checks['failed']} FAIL of {checks['total']}" in proc.stdout
    assert data["settings"]["methods"]["kernels"] == [3, 9]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert png.exists() and png.stat().st_size > 10_000


def test_asv_methods_suite_runs_on_a_tiny_grid(monkeypatch):
    """benchmarks/bench_methods.py as asv drives it (setup with each parameter combination,
    then the time_ method), on the headline cases shrunk to tiny inputs: every method and
    installed peer runs; only a method the build lacks (and a missing peer) is skipped."""
    import importlib
    import itertools
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, "benchmarks", "bench_methods.py")):
        pytest.skip("benchmarks/ is not beside tests/")
    pytest.importorskip("scipy")
    monkeypatch.syspath_prepend(root)
    suite = importlib.import_module("benchmarks.bench_methods")
    monkeypatch.setattr(suite, "HEADLINES", [
        dict(c, shape=(3000,) if c["dims"] == 1 else (48, 48),
             kernel=(c["kernel"][0], min(c["kernel"][1], 15 if c["dims"] == 2 else 500),
                     *c["kernel"][2:]))
        for c in suite.HEADLINES])
    ran, skipped = set(), []
    for name, cls in vars(suite).items():
        if not (isinstance(cls, type) and name.startswith("Methods")):
            continue
        for combo in itertools.product(*cls.params):
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError as exc:
                skipped.append((name, combo, str(exc)))
                continue
            next(getattr(bench, m) for m in dir(bench) if m.startswith("time_"))(*combo)
            ran.add(name)
    from fastcorr._bench import cases, peers

    missing = {p.column for p in peers.METHOD_PEERS if not _importable(p.package)}
    expected = sum(len(cases.DTYPES) * (("fft" in c["methods"] and _fft_pending())
                                        + sum(col in missing for col in c["peers"]))
                   for c in cases.METHOD_HEADLINES)
    assert len(skipped) == expected, skipped
    assert {"MethodsGaussian", "MethodsRank2", "MethodsFullRank", "MethodsLargeKernel",
            "MethodsLong1D", "MethodsLong1DPeers"} <= ran


# --------------------------------------------------------------------------- the nn section
def test_nn_cases_are_the_issues():
    """The shapes are issue 16's anchor table (N, C, HxW, O, k, groups), stride 1, no padding,
    with torch's float32 figures beside them; --quick and --sizes shrink batches and images
    but keep the channels, kernels and groups; each row's figure follows the issue's classes."""
    from fastcorr._bench import cases

    full = cases.nn_cases(False)
    assert [(c["N"], c["C"], (c["H"], c["W"]), c["O"], c["k"], c["groups"]) for c in full] == [
        (64, 1, (28, 28), 8, 5, 1), (16, 1, (256, 256), 8, 5, 1), (8, 3, (224, 224), 16, 3, 1),
        (8, 16, (128, 128), 32, 3, 1), (16, 64, (56, 56), 64, 3, 1),
        (8, 64, (56, 56), 64, 3, 64)]
    assert [c["anchor"]["forward"] for c in full] == [91, 9.8, 173, 351, 444, 66]
    for smaller in (cases.nn_cases(True), cases.nn_cases(True, (12, 12))):
        for c, f in zip(smaller, full):
            assert (c["C"], c["O"], c["k"], c["groups"]) == (f["C"], f["O"], f["k"], f["groups"])
            assert c["N"] < f["N"] or c["N"] == 1
            assert c["H"] <= f["H"] and c["anchor"] is None
        assert sum(cases.nn_flops(c)[0] for c in smaller) < sum(
            cases.nn_flops(c)[0] for c in full) / 20
    # 64x1x28x28 with 8 filters 5x5: 24x24 outputs of 25 products each.
    assert cases.nn_flops(full[0]) == (2.0 * 64 * 8 * 25 * 24 * 24, 4.0 * 64 * 8 * 25 * 24 * 24)
    figures = [(cases.nn_target(c, "float32") or (None,))[0] for c in full]
    assert figures == [4.0, 4.0, 4.0, None, 0.7, 2.0]
    assert {cases.nn_target(c, "float64")[0] for c in full} == {3.0}


def _nn_exact(x, w, gy, groups):
    """The layer's three results from their definitions, summed in float64 over channels of
    the oracle's exact single-channel correlations: forward, grad input (a full convolution
    of the output gradient with the weights), grad weight (the input correlated with the
    output gradient)."""
    batch = x.shape[0]
    out_channels, group_channels = w.shape[:2]
    group_outs = out_channels // groups
    forward = np.zeros(gy.shape)
    grad_input = np.zeros(x.shape)
    grad_weight = np.zeros(w.shape)
    for o in range(out_channels):
        for c in range(group_channels):
            channel = o // group_outs * group_channels + c
            for n in range(batch):
                forward[n, o] += oracle.exact("correlate2d", x[n, channel], w[o, c], np.float32,
                                              "valid")
                grad_input[n, channel] += oracle.exact("convolve2d", gy[n, o], w[o, c],
                                                       np.float32, "full")
                grad_weight[o, c] += oracle.exact("correlate2d", x[n, channel], gy[n, o],
                                                  np.float32, "valid")
    return forward, grad_input, grad_weight


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_nn_checks_pass_the_exact_layer_and_catch_errors(groups):
    """The section's checks of a float32 layer (the sampled NumPy dot products; torch's float64
    results, every entry, where torch is installed) pass the exact results rounded to float32,
    for plain, grouped and depthwise layers, and fail one entry off at a corner (always
    sampled), a NaN, a float64 result and a result of the wrong shape."""
    from fastcorr._bench.nn import SampledLayer, torch_reference

    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, (2, 4, 7, 6)).astype(np.float32)
    w = rng.uniform(-1, 1, (4, 4 // groups, 3, 3)).astype(np.float32)
    gy = rng.uniform(-1, 1, (2, 4, 5, 4)).astype(np.float32)
    forward, grad_input, grad_weight = (r.astype(np.float32) for r in _nn_exact(x, w, gy, groups))
    references = [SampledLayer(x, w, gy, groups, rng).checks("float32")]
    if _importable("torch"):
        references.append(torch_reference(x, w, gy, groups, "float32"))
    results = {"forward": forward, "grad input": grad_input, "grad weight": grad_weight}

    def call(checks, name, changed):
        got = dict(results, **{name: changed})
        if name == "forward":
            return checks["forward"].check(got["forward"])
        return checks["backward"].check((got["grad input"], got["grad weight"]))

    for checks in references:
        for name, result in results.items():
            ok, detail = call(checks, name, result)
            assert ok, detail
            for bad in (1e-3, np.nan):
                wrong = result.copy()
                wrong.flat[-1] += np.float32(bad)
                ok, detail = call(checks, name, wrong)
                assert not ok and f"{name} at (" in detail, detail
            assert not call(checks, name, result.astype(np.float64))[0]
            assert not call(checks, name, result[..., 1:])[0]


def _nn_args(tmp_path, *extra):
    import argparse

    from fastcorr import _bench

    parser = argparse.ArgumentParser()
    _bench.add_arguments(parser)
    path = tmp_path / "bench.json"
    return parser.parse_args(["--quick", "--only", "nn", "--sizes", "12", "--json", str(path),
                              *extra]), path


def _take_torch_away(monkeypatch):
    """Make the benchmark find torch not importable, as where it is not installed.  (Not by
    hiding it in sys.modules: scipy looks torch up there to recognise torch arrays.)"""
    from fastcorr._bench import peers

    real = peers._import

    def without_torch(package):
        if package == "torch":
            raise ImportError("No module named 'torch'")
        return real(package)

    monkeypatch.setattr(peers, "_import", without_torch)


def test_nn_quick_run_end_to_end(tmp_path):
    """A tiny run of `python -m fastcorr bench --only nn`: every shape of the issue in both
    dtypes, fastcorr's forward and backward verified and timed, torch's beside them where it is
    installed with the three ratios (the combined one: the summed times' ratio) and each
    figure met or not; the thread count is --workers'."""
    from fastcorr._bench import cases

    path = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcorr", "bench", "--quick", "--only", "nn", "--sizes", "12",
         "--workers", "2", "--json", str(path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path.read_text())
    assert data["results"] == [] and data["methods"] is None
    records = data["nn"]
    shapes = [(c["C"], c["O"], c["k"], c["groups"]) for c in cases.nn_cases(True)]
    assert [((r["C"], r["O"], r["k"], r["groups"]), r["dtype"]) for r in records] == [
        (s, d) for s in shapes for d in cases.DTYPES]
    with_torch = _importable("torch")
    for rec in records:
        assert (rec["H"], rec["W"], rec["workers"]) == (12, 12, 2) and rec["anchor"] is None
        forward, backward = cases.nn_flops(rec)
        assert rec["flops"] == {"forward": forward, "backward": backward}
        assert [r["column"] for r in rec["rows"]] == ["fastcorr"] + (["torch"] * with_torch)
        for row in rec["rows"]:
            assert row["threads"] == 2
            for part in ("forward", "backward"):
                m = row[part]
                assert m["status"] == "ok", (row["library"], part, m)
                assert m["gflops"] == pytest.approx(rec["flops"][part] / m["time_s"] / 1e9)
                assert m["pct_peak"] > 0
        ours = rec["rows"][0]
        if with_torch:
            theirs = rec["rows"][1]
            assert rec["reference"] == "torch float64, every entry"
            assert "against torch float64" in ours["backward"]["check"]
            assert "sampled entries" in theirs["backward"]["check"]
            assert rec["x"]["forward"] == pytest.approx(theirs["forward"]["time_s"]
                                                        / ours["forward"]["time_s"])
            assert rec["x"]["combined"] == pytest.approx(
                (theirs["forward"]["time_s"] + theirs["backward"]["time_s"])
                / (ours["forward"]["time_s"] + ours["backward"]["time_s"]))
        target = cases.nn_target(rec, rec["dtype"])
        if target is None:
            assert rec["target"] is None
        else:
            assert rec["target"]["min_x"] == target[0]
            assert rec["target"]["ok"] == (rec["x"]["combined"] >= target[0] if with_torch
                                           else None)
    assert "nn figures (forward + backward against torch)" in proc.stdout
    assert [c["N"] for c in data["settings"]["nn_cases"]] == [c["N"] for c in cases.nn_cases(True)]


def test_nn_without_torch(monkeypatch, tmp_path, capsys):
    """With torch not importable the section runs fastcorr alone: its results checked against
    the NumPy dot products, no peer row, no ratio, every figure without a torch figure (not
    met, not unmet), and the run passes; on --workers' thread count."""
    from fastcorr import _bench

    _take_torch_away(monkeypatch)
    args, path = _nn_args(tmp_path, "--workers", "1")
    assert _bench.run(args) == 0
    out, _ = capsys.readouterr()
    assert "torch not importable" in out
    records = json.loads(path.read_text())["nn"]
    assert len(records) == 12
    for rec in records:
        assert [r["column"] for r in rec["rows"]] == ["fastcorr"]
        assert rec["workers"] == rec["rows"][0]["threads"] == 1
        assert rec["reference"].startswith("float64 dot products")
        assert all(rec["rows"][0][part]["status"] == "ok" for part in ("forward", "backward"))
        assert rec["x"] == {"forward": None, "backward": None, "combined": None}
        assert rec["target"] is None or rec["target"]["ok"] is None
    assert "0 met, 0 unmet, 11 without a torch figure, of 11" in out


@pytest.mark.parametrize("torch_installed", [True, False], ids=["torch", "no torch"])
def test_wrong_nn_result_fails_the_run(monkeypatch, tmp_path, capsys, torch_installed):
    """A fastcorr.nn weight gradient off at one entry shows up as WRONG in the backward part,
    is not timed, and fails the run, whether checked against torch or the NumPy dot products;
    the forward stays verified and timed."""
    import fastcorr.nn as fastcorr_nn

    from fastcorr import _bench

    if torch_installed and not _importable("torch"):
        pytest.skip("torch is not installed")
    exact = fastcorr_nn.conv2d_weight

    def off(*args, **kw):
        result = exact(*args, **kw)
        result.flat[-1] += 1
        return result

    monkeypatch.setattr(fastcorr_nn, "conv2d_weight", off)
    if not torch_installed:
        _take_torch_away(monkeypatch)
    args, path = _nn_args(tmp_path)
    assert _bench.run(args) == 1
    out, err = capsys.readouterr()
    assert "WRONG" in out and "ERROR: fastcorr failed verification" in err
    for rec in json.loads(path.read_text())["nn"]:
        ours = rec["rows"][0]
        assert ours["backward"]["status"] == "WRONG" and "time_s" not in ours["backward"]
        assert "grad weight at (" in ours["backward"]["check"]
        assert ours["forward"]["status"] == "ok" and ours["forward"]["time_s"] > 0
        assert rec["x"]["backward"] is None and rec["x"]["combined"] is None


def test_asv_nn_suite_runs_on_a_tiny_grid(monkeypatch):
    """benchmarks/bench_nn.py as asv drives it (setup with each parameter combination, then
    every time_ method), on its shapes shrunk to tiny batches and images: fastcorr always
    runs, torch wherever it is importable (skipped, NotImplementedError, otherwise)."""
    import importlib
    import itertools
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, "benchmarks", "bench_nn.py")):
        pytest.skip("benchmarks/ is not beside tests/")
    monkeypatch.syspath_prepend(root)
    suite = importlib.import_module("benchmarks.bench_nn")
    monkeypatch.setattr(suite, "CASES", {label: dict(c, N=2, H=10, W=9)
                                         for label, c in suite.CASES.items()})
    assert len(suite.SHAPES) == 4
    ran, skipped = set(), set()
    for name in ("ConvLayer", "ConvLayerTorch"):
        cls = getattr(suite, name)
        for combo in itertools.product(*cls.params):
            bench = cls()
            try:
                bench.setup(*combo)
            except NotImplementedError:
                skipped.add(name)
                continue
            bench.time_forward(*combo)
            bench.time_backward(*combo)
            ran.add(name)
    assert ran == ({"ConvLayer", "ConvLayerTorch"} if _importable("torch") else {"ConvLayer"})
    assert skipped == (set() if _importable("torch") else {"ConvLayerTorch"})


def test_dask_quick_run_end_to_end(tmp_path):
    """A tiny run of `python -m fastcorr bench --only dask` (512 x 512, chunks of 64 and 128,
    a 1024 x 1024 zarr array): per chunk size every variant timed with its graph's task count
    and the issue's two ratios computed from those times; the threaded scheduler against
    fastcorr.ndimage; the zarr run's throughputs, workers' peaks under their limit and no
    restart; every check passed.  Skipped without the section's dependencies."""
    for module in ("dask.array", "distributed", "zarr", "dask_image", "scipy"):
        if not _importable(module):
            pytest.skip(f"{module} is not installed")
    from fastcorr._bench import chunked

    path = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastcorr", "bench", "--quick", "--only", "dask", "--sizes",
         "512", "--json", str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path.read_text())
    report = data["dask"]
    assert set(report["versions"]) == {"dask", "distributed", "zarr", "dask-image"}
    assert [r["chunks"] for r in report["cluster"]] == [64, 128]
    for rec in report["cluster"]:
        assert set(rec["ms"]) == set(chunked.VARIANTS) and all(t > 0 for t in rec["ms"].values())
        assert rec["vs_dask_image"] == pytest.approx(rec["ms"]["dask-image"]
                                                     / rec["ms"]["fastcorr.dask"])
        assert rec["vs_map_blocks"] == pytest.approx(rec["ms"]["fastcorr.dask"]
                                                     / rec["ms"]["map_blocks + fastcorr"])
        blocks = (512 // rec["chunks"]) ** 2
        # fastcorr.dask: a rims task and a filter task per block; map_blocks: one.
        assert rec["tasks"]["fastcorr.dask"] == 2 * blocks
        assert rec["tasks"]["map_blocks + fastcorr"] == blocks
        assert rec["tasks"]["map_overlap + fastcorr"] > 2 * blocks
        assert all(c["ok"] for c in rec["checks"]), rec["checks"]
    threaded = report["threaded"]
    assert threaded["chunks"] == 128 and all(c["ok"] for c in threaded["checks"])
    assert threaded["speed_vs_memory"] == pytest.approx(
        threaded["ms"]["fastcorr.ndimage"] / threaded["ms"]["fastcorr.dask"])
    z = report["zarr"]
    assert (z["side"], z["chunks"]) == (1024, 256) and not z["restarted"]
    assert all(peak < z["limit_bytes"] for peak in z["peak_rss"])
    for name in ("fastcorr.dask", "dask-image"):
        assert z[name]["mpix_s"] == pytest.approx(1024 * 1024 / z[name]["s"] / 1e6)
        assert all(c["ok"] for c in z[name]["checks"]), z[name]["checks"]
    assert "threaded scheduler, chunks 128" in proc.stdout


def test_dask_section_without_dask(monkeypatch, tmp_path, capsys):
    """Without dask (or distributed, zarr, dask-image) the section is skipped with a note naming
    what is missing and how to install it, and the run passes with no dask record."""
    import argparse

    from fastcorr import _bench
    from fastcorr._bench import chunked

    real_import = __builtins__["__import__"] if isinstance(__builtins__, dict) else \
        __builtins__.__import__

    def without_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", without_dask)
    ok, note = chunked.available()
    assert not ok and "dask" in note and "distributed" in note and "fastcorr[dask]" in note
    monkeypatch.undo()
    monkeypatch.setattr(chunked, "available", lambda: (False, note))
    parser = argparse.ArgumentParser()
    _bench.add_arguments(parser)
    path = tmp_path / "bench.json"
    assert _bench.run(parser.parse_args(["--quick", "--only", "dask", "--json", str(path)])) == 0
    assert note in capsys.readouterr().out
    assert json.loads(path.read_text())["dask"] is None
