#!/usr/bin/env python3
"""RSS over many calls (issue 5, item 5): prints the resident set size (from /proc/self/statm)
every --every calls of the mix of calls tests/test_robustness.py uses (every public function,
dtypes, layouts, modes, out=, workers= and SIMD path), then of failing calls; exits 1 if either
grew by more than --limit-mib after warm-up.

    python tools/rss_check.py --calls 100000
"""
import argparse
import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))

import numpy as np  # noqa: E402

import fastcorr  # noqa: E402
from fastcorr import _dispatch  # noqa: E402
from test_robustness import _bad_call_mix, _call_mix, rss_bytes  # noqa: E402


def one_d_calls():
    if not hasattr(fastcorr, "correlate"):
        return []
    rng = np.random.default_rng(1)
    calls = []
    for dtype in (np.float32, np.float64, np.complex64):
        a = rng.standard_normal(3000).astype(dtype)
        v = rng.standard_normal(37).astype(dtype)
        for mode in ("valid", "same", "full"):
            calls.append(lambda a=a, v=v, m=mode: fastcorr.correlate(a, v, m, workers=2))
            calls.append(lambda a=a, v=v, m=mode: fastcorr.convolve(v, a, m))
    return calls


def run(name, calls, n_calls, every):
    paths = _dispatch.supported_paths()
    previous = _dispatch.active()

    def once():
        for call in calls:
            try:
                call()
            except (TypeError, ValueError):
                pass

    try:
        for path in paths:  # warm-up: allocator pools, OpenMP threads, caches
            _dispatch.select(path)
            for _ in range(3):
                once()
        gc.collect()
        base = rss_bytes()
        print(f"{name}: {len(calls)} distinct calls, RSS after warm-up {base / 2**20:.1f} MiB")
        done, next_report, peak = 0, every, 0
        while done < n_calls:
            _dispatch.select(paths[(done // len(calls)) % len(paths)])
            once()
            done += len(calls)
            if done >= next_report:
                gc.collect()
                growth = rss_bytes() - base
                peak = max(peak, growth)
                print(f"  {done:>7} calls: RSS {growth / 2**20:+.2f} MiB")
                next_report += every
        gc.collect()
        return rss_bytes() - base
    finally:
        _dispatch.select(previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--limit-mib", type=float, default=5.0)
    args = parser.parse_args()
    good = run("successful calls", _call_mix() + one_d_calls(), args.calls, args.every)
    bad = run("failing calls", _bad_call_mix(), max(args.calls // 10, 1000), args.every // 10)
    print(f"growth: successful {good / 2**20:+.2f} MiB, failing {bad / 2**20:+.2f} MiB "
          f"(limit {args.limit_mib} MiB)")
    return 0 if max(good, bad) < args.limit_mib * 2**20 else 1


if __name__ == "__main__":
    sys.exit(main())
