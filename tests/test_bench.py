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
    for case in {(tuple(r["size"]), r["dtype"], r["K"], r["workers"]) for r in ours}:
        peers = [r for r in results
                 if (tuple(r["size"]), r["dtype"], r["K"], r["workers"]) == case
                 and r["column"] not in ("fastcorr", "fastcorr_out")]
        signal = [r for r in peers if r["column"] == "signal.correlate2d"]
        assert len(signal) == 1 and signal[0]["status"] == "ok" and signal[0]["ratio"] > 0
        assert ("reused_from_workers" in signal[0]) == (case[3] > 1)
    # K=3 against a copy of the image on the case's thread count, counted as fastcorr is.
    bandwidth = data["bandwidth"]
    assert sorted((b["dtype"], b["workers"]) for b in bandwidth) == sorted(
        {(r["dtype"], r["workers"]) for r in ours})
    for b in bandwidth:
        assert b["K"] == 3 and b["copy_workers"] == b["workers"] and "copyto_gbs" not in b
        assert b["bytes"] == (40 * 40 + 38 * 38) * np.dtype(b["dtype"]).itemsize
        assert b["copy_gbs"] > 0 and b["fastcorr_gbs"] > 0
    assert f"{bandwidth[-1]['workers']}-thread copy of the image" in proc.stdout
    modes = data["modes"]
    assert [m["K"] for m in modes] == [3, 5]
    assert all(m[c]["ratio"] > 0 for m in modes
               for c in ("same_fill", "same_symm", "full_fill", "full_symm"))
