"""Measure the cost table behind method='auto' (fastcorr/_engine/methods.py, _MEASURED) on
this machine, for the active SIMD path (FASTCORR_SIMD selects another), and print it in the
form the table takes there.

    python tools/methods_table.py [--quick] [--rounds N]

Each entry is the best of several timed calls with out= given, on the machine's threads
(run it on a quiet machine).  'fft' is fitted, not measured at one point: the blocked FFT's
time over several kernel sizes as n_tiles * points * (c0 + c1 * log2(points)), least squares.
"""
import argparse
import math
import time

import numpy as np

import fastcorr
from fastcorr import _core
from fastcorr._engine import boundary, fft, methods


def best(call, repeats):
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_once(dtype, quick):
    """One pass over every entry: the per-multiply-add times, the FFT's raw times and the
    probes."""
    rng = np.random.default_rng(0)
    side = 1024 if quick else 2048
    repeats = 2 if quick else 5
    x = rng.random((side, side)).astype(dtype)
    out = np.empty_like(x)
    pixels = side * side
    direct, separable = [], []
    for k in methods._K:
        w = rng.random((k, k)).astype(dtype)
        t = best(lambda: fastcorr.correlate2d(x, w, "same", "symm", out=out, method="direct"),
                 repeats if k < 40 else 2)
        direct.append(t / pixels / (k * k) * 1e12)
        index = boundary.index_map(-(k // 2), side + k - 1 - k // 2, side, "symm")
        col, row = rng.random((1, k)).astype(dtype), rng.random((1, k)).astype(dtype)
        t = best(lambda: _core.correlate_separable(x[None], col, row, out[None], index, index,
                                                   0.0, np.zeros(1), _core.omp_max_threads()),
                 repeats)
        separable.append(t / pixels / (2 * k) * 1e12)
    n = 200_000 if quick else 2_000_000
    signal = rng.random(n).astype(dtype)
    direct_1d = []
    for k in methods._K1:
        taps = rng.random(k).astype(dtype)
        t = best(lambda: fastcorr.correlate(signal, taps, method="direct"),
                 repeats if k < 1024 else 2)
        direct_1d.append(t / (n - k + 1) / k * 1e12)
    ffts = []
    for cases in (
            [((side, side), (k, k)) for k in (31, 63, 101, 181, 255)],
            [((n,), (k,)) for k in (256, 1024, 4096, 8192, 16384)]):
        rows, times = [], []
        for shape, kshape in cases:
            image = rng.random(shape).astype(dtype)
            kernel = rng.random(kshape).astype(dtype)
            func = fastcorr.correlate2d if len(shape) == 2 else fastcorr.correlate
            t = best(lambda: func(image, kernel, "valid", method="fft"), repeats)
            out_shape = tuple(s - k + 1 for s, k in zip(shape, kshape))
            tiles, fft_shape = fft.tile_plan(out_shape, kshape, np.dtype(dtype))
            n_tiles = math.prod(-(-o // t) for o, t in zip(out_shape, tiles))
            points = math.prod(fft_shape)
            rows.append([n_tiles * points, n_tiles * points * math.log2(points)])
            times.append(t * 1e9)
        ffts.append((cases, rows, times))
    probes = {**methods.probe_times(dtype, False, repeats=2 if quick else 9),
              **methods.probe_times(dtype, True, repeats=2 if quick else 9)}
    return {"direct": direct, "separable": separable, "direct_1d": direct_1d, "ffts": ffts,
            "probes": probes}


def fit(cases, rows, times, dtype):
    """(c0, c1) of the FFT's time model, least squares over the kernel sizes measured."""
    a, b = np.array(rows), np.array(times)
    (c0, c1), *_ = np.linalg.lstsq(a, b, rcond=None)
    if c0 < 0 or c1 < 0:
        # A negative coefficient fits noise: keep the better one-term fit instead.
        singles = []
        for j in (0, 1):
            c = float(a[:, j] @ b / (a[:, j] @ a[:, j]))
            singles.append((float(np.sum((a[:, j] * c - b) ** 2)), j, c))
        _, j, c = min(singles)
        c0, c1 = (c, 0.0) if j == 0 else (0.0, c)
    print(f"# fft {np.dtype(dtype).name} {len(cases[0][0])}-D: " + ", ".join(
        f"K={kshape[0]} {t / 1e6:.1f} ms" for (_, kshape), t in zip(cases, times)))
    return round(float(c0), 3), round(float(c1), 3)


def measure(dtype, quick, rounds):
    """The table's entries, each the least over `rounds` whole passes: on a shared machine a
    moment of other load lasts seconds, longer than one entry's repeats."""
    passes = [measure_once(dtype, quick) for _ in range(rounds)]
    least = {key: [min(v) for v in zip(*(p[key] for p in passes))]
             for key in ("direct", "separable", "direct_1d")}
    least["probes"] = {k: min(p["probes"][k] for p in passes) for k in passes[0]["probes"]}
    fits = []
    for j in (0, 1):
        cases, rows, _ = passes[0]["ffts"][j]
        times = [min(v) for v in zip(*(p["ffts"][j][2] for p in passes))]
        fits.append(fit(cases, rows, times, dtype))
    least["fft"], least["fft_1d"] = fits
    return least


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller arrays, fewer repeats")
    parser.add_argument("--rounds", type=int, default=3,
                        help="whole passes, each entry the least of them (default 3)")
    args = parser.parse_args()
    path = _core.active_path()
    print(f"# {path}, {_core.omp_max_threads()} threads")
    for dtype in (np.float32, np.float64):
        table = measure(dtype, args.quick, args.rounds)
        item = np.dtype(dtype).itemsize

        def row(values):
            return "(" + ", ".join(f"{v:.1f}" for v in values) + ")"

        print(f'    ("{path}", {item}): {{')
        print(f'        "direct": {row(table["direct"])},')
        print(f'        "separable": {row(table["separable"])},')
        print(f'        "direct_1d": {row(table["direct_1d"])},')
        print(f'        "fft": {table["fft"]}, "fft_1d": {table["fft_1d"]},')
        print('        "probes": {' + ", ".join(
            f'"{k}": {v:.0f}' for k, v in table["probes"].items()) + '}},')


if __name__ == "__main__":
    main()
