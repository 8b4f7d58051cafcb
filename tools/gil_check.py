#!/usr/bin/env python3
"""Does fastcorr release the GIL during compute?  Times one long workers=1 correlation alone,
then two of them at once from two Python threads.

If the GIL is released the two threads run on two cores and take about as long as one (ratio
near 1.0 on an idle 2-core machine); if it were held they would run one after the other
(ratio 2.0).  Prints the times and the ratio; exits 1 if the ratio is above --max-ratio
(default 1.6), so it can serve as a manual check.  On a busy machine the ratio says little;
the second figure (how far a pure-Python loop gets while a call runs) does not depend on load.  Not part of pytest: it is a timing.

    python tools/gil_check.py [--size 1500] [--kernel 31] [--dtype float64] [--repeats 3]
"""
import argparse
import sys
import threading
import time

import numpy as np

import fastcorr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1500)
    parser.add_argument("--kernel", type=int, default=31)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-ratio", type=float, default=1.6)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image = rng.standard_normal((args.size, args.size)).astype(args.dtype)
    kernel = rng.standard_normal((args.kernel, args.kernel)).astype(args.dtype)

    def one():
        fastcorr.correlate2d(image, kernel, mode="valid", workers=1)

    one()  # warm up
    single, double = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        one()
        single.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=one) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        double.append(time.perf_counter() - t0)
    ratio = min(double) / min(single)

    # A load-independent sign: a pure-Python loop in this thread keeps counting while the
    # call runs in another thread only if the call released the GIL.
    def spin(seconds):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n

    alone_rate = spin(0.2) / 0.2
    worker = threading.Thread(target=one)
    t0 = time.perf_counter()
    worker.start()
    during = 0
    while worker.is_alive():
        during += spin(0.005)
    worker.join()
    during_rate = during / (time.perf_counter() - t0)
    print(f"{args.size}x{args.size} {args.dtype} * {args.kernel}x{args.kernel}, workers=1")
    print(f"one call:               {min(single):.3f} s (best of {args.repeats})")
    print(f"two calls, two threads: {min(double):.3f} s (best of {args.repeats})")
    print(f"ratio: {ratio:.2f}  (1.0 = fully parallel, 2.0 = serialised by the GIL)")
    print(f"a Python loop runs at {during_rate / alone_rate:.0%} of its solo speed while a call "
          "runs in another thread (~0% = GIL held during compute)")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
