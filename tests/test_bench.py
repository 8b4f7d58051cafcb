"""The benchmark's own machinery: how it times, and a whole (tiny) run of its command line.

Speed itself is never asserted here (the machines are shared and noisy); these tests check that
the benchmark measures what it says it measures.
"""
import json
import subprocess
import sys

import pytest

from fastcorr import __version__
from fastcorr._bench.timing import best_times


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


def test_version_flag():
    proc = subprocess.run([sys.executable, "-m", "fastcorr", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"fastcorr {__version__}\n"


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
    modes = data["modes"]
    assert [m["K"] for m in modes] == [3, 5]
    assert all(m[c]["ratio"] > 0 for m in modes
               for c in ("same_fill", "same_symm", "full_fill", "full_symm"))
