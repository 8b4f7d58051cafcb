"""``python -m fastcorr bench``: fastcorr side by side with the libraries people use instead.

Every library runs in this one process, on the same arrays and with the same thread count, and
every result is checked against a float64 reference before it is timed, so a fast wrong answer
shows up as WRONG rather than as a speed.  fastcorr's only runtime dependency is NumPy: scipy,
OpenCV, torch and matplotlib are imported here, lazily, and a missing one is skipped with a note.

FLOP count everywhere: ``2 * out_h * out_w * kh * kw`` for the valid output, whatever work a
library actually does (ndimage and OpenCV also compute the border, FFTs do something else).

After the valid-mode grid come three shorter sections (``--only`` picks sections): 'same' and
'full' against 'valid' per output pixel, 1-D correlation of a long signal against a plain copy,
numpy.correlate and scipy.signal.oaconvolve, and a stack of small images against one large one.
"""
import json
import math
import os
import platform
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _core
from ._api import _cpu_count, correlate2d
from ._api1d import correlate as fastcorr_correlate
from ._config import show_config
from ._version import __version__

DTYPES = ("float32", "float64")
DEFAULT_SIZES = ((2048, 2048),)
DEFAULT_KERNELS = (3, 5, 7, 9, 11, 15, 21, 31)
QUICK_KERNELS = (3, 7, 15)
# 1-D section (issue 4's figures): a long signal, kernels from bandwidth-bound to FMA-bound.
ONE_D_SAMPLES = 4_000_000
ONE_D_KERNELS = (2, 3, 4, 5, 8, 16, 32, 64, 128, 256, 512, 1024)
ONE_D_QUICK_KERNELS = (3, 8, 64, 256)
# Batch section: many small images against one image of the same total size.
BATCH_CASE = (10_000, 32)
# What a run covers: the valid-mode grid against the peers, then the issue-4 sections.
SECTIONS = ("2d", "modes", "1d", "batch")
# Small enough that call overhead, not arithmetic, decides the time.
SMALL_CASE = ((128, 128), "float32", 3)
SEED = 0
N_SAMPLED = 200

# Per-run settings.  Best-of-N with a generous N for fast calls: on a shared machine the
# minimum needs a few chances to land in a quiet moment.  The samples come in `rounds` passes
# over the libraries of a case (best_times), so that no ratio rests on one stretch of seconds: a
# burst of load on this class of machine (a KVM guest) lasts longer than one library's samples
# and, timed library after library, once put fastcorr at 45% of peak in one case of a run whose
# neighbouring cases were at 75-85%.  `budget` caps the seconds spent timing one library on one
# case (after the verifying call), so a 0.5 s FFT gets a few samples while a 1 ms call gets
# many.  `crop_flops` caps the problem given to the peers that have no fast path (about 0.5-2
# GFLOP/s): on a 2048x2048 image with K=31 they would need seconds to minutes per call, and
# their GFLOP/s does not depend on the image size, so a crop measures the same rate.
_SETTINGS = {
    False: {"rounds": 3, "repeats": 15, "budget": 2.0, "min_sample": 5e-3,
            "crop_flops": {"signal.correlate2d": 1.5e8, "ndimage": 6e8}},
    True: {"rounds": 1, "repeats": 5, "budget": 0.3, "min_sample": 2e-3,
           "crop_flops": {"signal.correlate2d": 3e7, "ndimage": 1.2e8}},
}

PEER_COLUMNS = ("cv2", "ndimage", "signal.correlate2d", "fftconvolve", "torch")


# --------------------------------------------------------------------------- formatting
def fmt_time(seconds):
    """`seconds` with a unit that keeps three significant digits readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio):
    """A speed ratio as ``150x``, ``43x``, ``3.1x`` or ``0.62x``."""
    if ratio >= 10:
        return f"{ratio:.0f}x"
    if ratio >= 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def _fmt_shape(shape):
    return f"{shape[0]}x{shape[1]}"


# --------------------------------------------------------------------------- verification
def abs_correlate_f64(x, w):
    """Valid correlation of ``|x|`` with ``|w|`` in float64.

    Parameters
    ----------
    x, w : ndarray
        Image and kernel, 2-D, `w` no larger than `x`.

    Returns
    -------
    ndarray
        float64 array of the valid shape: for each output, the sum of the absolute products,
        which sets the scale of that output's rounding error.
    """
    ax = np.abs(x).astype(np.float64)
    aw = np.abs(w).astype(np.float64)
    kh, kw = aw.shape
    oh, ow = ax.shape[0] - kh + 1, ax.shape[1] - kw + 1
    # One shifted slice per tap: K*K vectorised passes, no (oh, ow, kh, kw) temporary.
    acc = np.zeros((oh, ow))
    for a in range(kh):
        for b in range(kw):
            acc += aw[a, b] * ax[a:a + oh, b:b + ow]
    return acc


def error_bound(x, w, dtype):
    """Elementwise tolerance for comparing two valid correlations of `x` and `w` in `dtype`.

    Parameters
    ----------
    x, w : ndarray
        Image and kernel.
    dtype : dtype
        The precision both results were computed in.

    Returns
    -------
    ndarray
        ``2 * (kh*kw + 1) * eps * (|x| corr |w|)``, float64: one summation of kh*kw products
        errs by at most about ``kh*kw * eps/2`` times the absolute sum whatever the order, and
        two such results may err in opposite directions; the factor leaves margin on top.
    """
    eps = np.finfo(dtype).eps
    return 2 * (w.shape[0] * w.shape[1] + 1) * eps * abs_correlate_f64(x, w)


class SampledReference:
    """Exact float64 values of the valid correlation at a random sample of output positions.

    A full float64 reference of a 2048x2048 image with K=31 would itself be a slow direct
    correlation (or an FFT with its own error); a few hundred exact dot products catch a wrong
    crop, a flipped kernel or a broken tile just as well, at a cost of milliseconds.

    Parameters
    ----------
    x, w : ndarray
        Image and kernel the results will be checked for.
    rng : numpy.random.Generator
        Chooses the positions.
    n : int, optional
        Number of random positions (the four corners are always added).
    """

    def __init__(self, x, w, rng, n=N_SAMPLED):
        kh, kw = w.shape
        oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
        self.shape = (oh, ow)
        # Corners: an off-by-one crop or a missed edge tile shows there first.
        self.ii = np.concatenate([[0, 0, oh - 1, oh - 1], rng.integers(0, oh, n)])
        self.jj = np.concatenate([[0, ow - 1, 0, ow - 1], rng.integers(0, ow, n)])
        windows = sliding_window_view(x, (kh, kw))[self.ii, self.jj].astype(np.float64)
        w64 = w.astype(np.float64)
        self.ref = np.einsum("nab,ab->n", windows, w64)
        absref = np.einsum("nab,ab->n", np.abs(windows), np.abs(w64))
        eps = np.finfo(x.dtype).eps
        self.direct_tol = 2 * (kh * kw + 1) * eps * absref
        # An FFT's rounding error is not local: every output carries error from the whole
        # transform, about eps * log2(size) * max|x| * sum|w|, even where |x| corr |w| is small.
        fft_scale = eps * math.log2(x.size) * float(np.abs(x).max()) * float(np.abs(w64).sum())
        self.fft_tol = np.maximum(self.direct_tol, 4 * fft_scale)

    def check(self, result, fft=False):
        """Compare `result` with the reference at the sampled positions.

        Parameters
        ----------
        result : ndarray
            A valid correlation computed by some library.
        fft : bool, optional
            Allow for FFT rounding error (see the class notes).

        Returns
        -------
        (bool, str)
            Whether every sampled value is within tolerance (NaN never is), and a short
            description: the worst error relative to tolerance, or the first failure.
        """
        if not isinstance(result, np.ndarray) or result.shape != self.shape:
            got = getattr(result, "shape", type(result).__name__)
            return False, f"shape {got}, expected {self.shape}"
        got = result[self.ii, self.jj].astype(np.float64)
        tol = self.fft_tol if fft else self.direct_tol
        err = np.abs(got - self.ref)
        rel = np.where(np.isnan(err), np.inf, err / np.maximum(tol, np.finfo(np.float64).tiny))
        k = int(np.argmax(rel))
        if rel[k] > 1:
            return False, (f"at ({self.ii[k]}, {self.jj[k]}): got {got[k]:.7g}, expected "
                           f"{self.ref[k]:.7g} (|diff| {err[k]:.3g} > tolerance {tol[k]:.3g})")
        return True, f"max |diff|/tolerance {rel[k]:.2g} over {len(rel)} positions"


def _check_1d(result, x, v, rng, fft=False, n=N_SAMPLED):
    """A 1-D valid correlation `result` of `x` with `v` checked at sampled positions (and both
    ends) against float64 dot products; tolerances as `SampledReference`."""
    k = len(v)
    length = len(x) - k + 1
    if not isinstance(result, np.ndarray) or result.shape != (length,):
        return False, f"shape {getattr(result, 'shape', type(result).__name__)}, expected {(length,)}"
    idx = np.concatenate([[0, length - 1], rng.integers(0, length, n)])
    windows = sliding_window_view(x, k)[idx].astype(np.float64)
    v64 = v.astype(np.float64)
    ref = windows @ v64
    eps = np.finfo(x.dtype).eps
    tol = 2 * (k + 1) * eps * (np.abs(windows) @ np.abs(v64))
    if fft:
        tol = np.maximum(tol, 4 * eps * math.log2(x.size) * float(np.abs(x).max())
                         * float(np.abs(v64).sum()))
    err = np.abs(result[idx].astype(np.float64) - ref)
    rel = np.where(np.isnan(err), np.inf, err / np.maximum(tol, np.finfo(np.float64).tiny))
    j = int(np.argmax(rel))
    if rel[j] > 1:
        return False, f"at {idx[j]}: got {result[idx[j]]!r}, expected {ref[j]!r}"
    return True, f"max |diff|/tolerance {rel[j]:.2g}"


# --------------------------------------------------------------------------- timing
def best_times(fns, firsts=None, rounds=1, repeats=5, budget=1.0, min_sample=2e-3):
    """Best-of-N wall time of one call to each of several callables, sampled in rounds.

    Each round takes a few samples of every callable in turn, so the callables a comparison
    puts side by side are timed interleaved: on a shared machine a burst of load lasting
    longer than one callable's samples then falls on all of them, and another round gives
    each a quiet moment, instead of deciding one ratio alone.

    Parameters
    ----------
    fns : sequence of callable
        Each called with no arguments.
    firsts : sequence of float or None, optional
        Duration of a call already made to each (the warm-up); None (for all, or for one)
        measures one more call.
    rounds : int, optional
        Number of passes over `fns`.
    repeats : int, optional
        Largest number of samples of one callable in one round.
    budget : float, optional
        Seconds the samples of one callable may take over all rounds; fewer samples (at least
        one per round) if they would not fit.
    min_sample : float, optional
        Calls shorter than this are looped within a sample, so that timer resolution and
        one-off noise do not dominate microsecond calls.

    Returns
    -------
    list of (float, int, int)
        Per callable: best seconds per call, number of samples, calls per sample.

    Examples
    --------
    >>> (t, samples, number), = best_times([lambda: sum(range(100))], rounds=2, repeats=3)
    >>> t > 0 and samples <= 6 and number >= 1
    True
    """
    firsts = [None] * len(fns) if firsts is None else list(firsts)
    plan = []
    for fn, first in zip(fns, firsts):
        if first is None:
            first = _timed_call(fn)[1]
        first = max(first, 1e-7)
        number = 1 if first >= min_sample else math.ceil(min_sample / first)
        plan.append((number, max(1, min(repeats, int(budget / rounds / (first * number))))))
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for i, (fn, (number, samples)) in enumerate(zip(fns, plan)):
            for _ in range(samples):
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                best[i] = min(best[i], (time.perf_counter() - t0) / number)
    return [(b, rounds * samples, number) for b, (number, samples) in zip(best, plan)]


def _timed_call(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


# --------------------------------------------------------------------------- peers
class _Peer:
    """One library's way of computing the valid correlation.

    `make(x, w, n_threads)` sets the library's thread count and returns a zero-argument callable
    producing the valid correlation (cropping, flipping, wrapping included, since a user pays
    for them too).  `threaded` is False for libraries that always run on one thread, whose
    measurement is then shared between thread counts; `fft(dtype, k)` says whether the library
    may answer by FFT; `crop_key` names its entry in the settings' `crop_flops`.
    """

    def __init__(self, label, column, make, threaded, fft=lambda dtype, k: False, crop_key=None):
        self.label, self.column, self.make = label, column, make
        self.threaded, self.fft, self.crop_key = threaded, fft, crop_key


def _load_peers(notes, versions):
    peers = []
    try:
        import scipy
        from scipy import fft as sfft
        from scipy import ndimage, signal
    except ImportError as exc:
        notes.append(f"scipy not importable ({exc}): skipping scipy.signal.correlate2d, "
                     "scipy.ndimage.correlate and scipy.signal.fftconvolve")
    else:
        versions["scipy"] = scipy.__version__

        def make_signal(x, w, n):
            return lambda: signal.correlate2d(x, w, mode="valid")

        def make_ndimage(x, w, n):
            # ndimage centres the kernel at index size//2 along each axis (origin=0), so the
            # output whose window starts at (0, 0) sits at (kh//2, kw//2); (k-1)//2 would be
            # off by one for even k.
            kh, kw = w.shape
            oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
            r0, c0 = kh // 2, kw // 2
            return lambda: ndimage.correlate(x, w, mode="constant")[r0:r0 + oh, c0:c0 + ow]

        def make_fft(x, w, n):
            def run():
                # fftconvolve takes no workers= but runs on scipy.fft, which honours this.
                with sfft.set_workers(n):
                    return signal.fftconvolve(x, w[::-1, ::-1], mode="valid")
            return run

        peers += [
            _Peer("scipy.signal.correlate2d", "signal.correlate2d", make_signal, threaded=False,
                  crop_key="signal.correlate2d"),
            _Peer("scipy.ndimage.correlate", "ndimage", make_ndimage, threaded=False,
                  crop_key="ndimage"),
            _Peer("scipy.signal.fftconvolve", "fftconvolve", make_fft, threaded=True,
                  fft=lambda dtype, k: True),
        ]
    try:
        import cv2
    except ImportError as exc:
        notes.append(f"cv2 not importable ({exc}): skipping cv2.filter2D "
                     "(pip install opencv-python-headless)")
    else:
        versions["cv2"] = cv2.__version__

        def make_cv2(x, w, n):
            cv2.setNumThreads(n)
            oh, ow = x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1
            # Anchor (0, 0) puts the window's top-left corner on the output pixel, which makes
            # filter2D's (correlation) output at [:oh, :ow] the valid one.
            return lambda: cv2.filter2D(x, -1, w, anchor=(0, 0),
                                        borderType=cv2.BORDER_CONSTANT)[:oh, :ow]

        # OpenCV switches to a DFT for large kernels (area >= 130 float32, >= 50 float64 in the
        # versions read), so its error may be an FFT's.
        peers.append(_Peer("cv2.filter2D", "cv2", make_cv2, threaded=True,
                           fft=lambda dtype, k: k * k >= (130 if dtype == "float32" else 50)))
    try:
        import torch
        import torch.nn.functional as F
    except (ImportError, OSError) as exc:
        notes.append(f"torch not importable ({exc}): skipping torch.nn.functional.conv2d")
    else:
        versions["torch"] = torch.__version__

        def make_torch(x, w, n):
            torch.set_num_threads(n)
            xt = torch.from_numpy(x)[None, None]
            wt = torch.from_numpy(w)[None, None]

            def run():
                with torch.no_grad():
                    return F.conv2d(xt, wt).numpy()[0, 0]
            return run

        peers.append(_Peer("torch conv2d", "torch", make_torch, threaded=True))
    order = {c: i for i, c in enumerate(PEER_COLUMNS)}
    return sorted(peers, key=lambda p: order[p.column])


# --------------------------------------------------------------------------- machine
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return sorted(have & {"avx", "avx2", "fma", "avx512f", "asimd", "sse2"})
    except OSError:
        pass
    return []


def _load_average():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def machine_info(versions):
    """What the numbers were measured on: CPU, thread counts, library versions, fastcorr build.

    Parameters
    ----------
    versions : dict
        Versions of the optional libraries imported so far, by name.

    Returns
    -------
    dict
        JSON-serialisable description of the machine and software.
    """
    try:
        import matplotlib
        versions.setdefault("matplotlib", matplotlib.__version__)
    except ImportError:
        pass
    return {
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": _cpu_count(),
        "load_average": _load_average(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {"fastcorr": __version__, "numpy": np.__version__,
                     **{k: versions.get(k) for k in ("scipy", "cv2", "torch", "matplotlib")}},
        "fastcorr_config": show_config(mode="dicts"),
    }


# --------------------------------------------------------------------------- the run
class _Progress:
    """[i/N] lines on stderr: one overwritten line on a terminal, plain lines otherwise."""

    def __init__(self, total):
        self.total, self.i = total, 0
        self.tty = sys.stderr.isatty()

    def step(self, text):
        self.i += 1
        msg = f"[{self.i}/{self.total}] {text}..."
        sys.stderr.write(f"\r{msg}\033[K" if self.tty else msg + "\n")
        sys.stderr.flush()

    def clear(self):
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _crop_side(shape, k, flops_cap):
    """Largest square-ish crop (multiple of 16) whose valid correlation costs <= flops_cap."""
    h, w = shape
    if 2.0 * (h - k + 1) * (w - k + 1) * k * k <= flops_cap:
        return None
    side = int(math.sqrt(flops_cap / (2.0 * k * k))) + k - 1
    side = max(side // 16 * 16, 4 * k, 64)
    return (min(h, side), min(w, side))


class _Bench:
    def __init__(self, args):
        self.quick = args.quick
        self.settings = _SETTINGS[bool(args.quick)]
        self.sizes = tuple(args.sizes) if args.sizes else DEFAULT_SIZES
        self.kernels = tuple(args.kernels) if args.kernels else (
            QUICK_KERNELS if args.quick else DEFAULT_KERNELS)
        n_all = _cpu_count()
        self.workers = [1] if n_all == 1 else [1, n_all]
        self.n_all = n_all
        self.notes, self.versions = [], {}
        self.peers = _load_peers(self.notes, self.versions)
        self.rng = np.random.default_rng(SEED)
        self._images, self._kernels, self._shared, self._copy = {}, {}, {}, {}
        self.records, self.bandwidth, self.extras = [], [], {}
        self.fastcorr_wrong = False
        self.sections = tuple(args.only) if getattr(args, "only", None) else SECTIONS

    # arrays are made once per shape and dtype so every library and case sees the same data
    def image(self, shape, dtype):
        key = (shape, dtype)
        if key not in self._images:
            rng = np.random.default_rng([SEED, *shape, DTYPES.index(dtype)])
            self._images[key] = rng.uniform(-1, 1, shape).astype(dtype)
        return self._images[key]

    def kernel(self, k, dtype):
        key = (k, dtype)
        if key not in self._kernels:
            rng = np.random.default_rng([SEED, k, 1000 + DTYPES.index(dtype)])
            self._kernels[key] = rng.uniform(-1, 1, (k, k)).astype(dtype)
        return self._kernels[key]

    def measure(self, calls):
        """Verify one call's result for each (fn, checker, fft) in `calls`, then time the
        verified ones side by side (best_times); a failed check is not timed."""
        out, timed = [], []
        for fn, checker, fft in calls:
            try:
                result, first = _timed_call(fn)
            except Exception as exc:  # a peer rejecting a dtype or size must not end the run
                out.append({"status": "ERROR", "check": f"{type(exc).__name__}: {exc}"})
                continue
            ok, detail = checker.check(result, fft=fft)
            del result
            out.append({"status": "ok" if ok else "WRONG", "check": detail})
            if ok:
                timed.append((out[-1], fn, first))
        if timed:
            records, fns, firsts = zip(*timed)
            for m, (best, samples, number) in zip(records, self._best(fns, firsts)):
                m.update(time_s=best, samples=samples, calls_per_sample=number)
        return out

    def cases(self):
        grid = [(shape, dtype, k, n) for shape in self.sizes for dtype in DTYPES
                for k in self.kernels for n in self.workers]
        shape, dtype, k = SMALL_CASE
        return list(dict.fromkeys(grid + [(shape, dtype, k, n) for n in self.workers]))

    def run_case(self, shape, dtype, k, n, progress):
        x, w = self.image(shape, dtype), self.kernel(k, dtype)
        oh, ow = shape[0] - k + 1, shape[1] - k + 1
        if oh < 1 or ow < 1:
            progress.i += 1 + len(self.peers)
            return None
        flops = 2.0 * oh * ow * k * k
        peak = self.peaks[(dtype, n)]
        checker = SampledReference(x, w, self.rng)
        tag = f"{dtype} {_fmt_shape(shape)} K={k} workers={n}"
        base = {"size": list(shape), "dtype": dtype, "K": k, "workers": n, "flops": flops}
        rows = []

        def add(library, column, m, crop=None, case_flops=flops, **extra):
            rec = {**base, "library": library, "column": column, "crop": crop,
                   "flops": case_flops, **extra, **m}
            if m["status"] == "ok":
                rec["gflops"] = case_flops / m["time_s"] / 1e9
                rec["pct_peak"] = 100.0 * rec["gflops"] / peak
            rows.append(rec)
            return rec

        # fastcorr (twice) and the peers timed side by side; a peer that runs on one thread
        # whatever workers= says is measured once per case and reused for the other counts.
        out = np.empty((oh, ow), dtype)
        calls = [(lambda: correlate2d(x, w, workers=n), checker, False),
                 (lambda: correlate2d(x, w, out=out, workers=n), checker, False)]
        # (library, column, add()'s extras, measurement if reused, key to share it under)
        entries = [("fastcorr", "fastcorr", {}, None, None),
                   ("fastcorr (out=)", "fastcorr_out", {}, None, None)]
        for peer in self.peers:
            crop = None
            if peer.crop_key is not None:
                crop = _crop_side(shape, k, self.settings["crop_flops"][peer.crop_key])
            cflops = flops if crop is None else 2.0 * (crop[0] - k + 1) * (crop[1] - k + 1) * k * k
            extra = {"crop": list(crop) if crop else None, "case_flops": cflops,
                     "threads": n if peer.threaded else 1}
            key = (shape, dtype, k, peer.label)
            if not peer.threaded and key in self._shared:
                entries.append((peer.label, peer.column, extra,
                                dict(self._shared[key], reused_from_workers=1), None))
                continue
            if crop is None:
                px, pchk = x, checker
            else:
                px = np.ascontiguousarray(x[:crop[0], :crop[1]])
                pchk = SampledReference(px, w, self.rng)
            calls.append((peer.make(px, w, extra["threads"]), pchk, peer.fft(dtype, k)))
            entries.append((peer.label, peer.column, extra, None,
                            None if peer.threaded else key))
        progress.step(f"{tag}: fastcorr and {len(calls) - 2} peers, each verified, then timed "
                      "side by side")
        progress.i += len(self.peers)
        measured = iter(self.measure(calls))
        for library, column, extra, m, key in entries:
            if m is None:
                m = next(measured)
                if key is not None:
                    self._shared[key] = m
            add(library, column, m, **extra)
        fc = rows[0]
        if any(r["status"] != "ok" for r in rows[:2]):
            self.fastcorr_wrong = True

        for r in rows:
            if r["status"] == "ok" and r["column"] not in ("fastcorr", "fastcorr_out") \
                    and fc["status"] == "ok":
                r["ratio"] = fc["gflops"] / r["gflops"]

        bw = None
        if k == 3 and (shape, dtype, k) != SMALL_CASE and fc["status"] == "ok":
            bw = self.memory_bandwidth(x, oh * ow * x.itemsize, fc, n)
        self.records += rows
        progress.clear()
        self.print_case(tag, shape, dtype, k, n, oh, ow, flops, peak, rows, bw)
        return rows

    def memory_bandwidth(self, x, out_bytes, fc, n):
        key = (x.shape, x.dtype.name)
        if key not in self._copy:
            dst = np.empty_like(x)
            t, = self._timed(lambda: np.copyto(dst, x))
            self._copy[key] = 2.0 * x.nbytes / t / 1e9
        rec = {"size": list(x.shape), "dtype": x.dtype.name, "K": 3, "workers": n,
               "bytes": x.nbytes + out_bytes,
               "fastcorr_gbs": (x.nbytes + out_bytes) / fc["time_s"] / 1e9,
               "copyto_gbs": self._copy[key]}
        self.bandwidth.append(rec)
        return rec

    def print_case(self, tag, shape, dtype, k, n, oh, ow, flops, peak, rows, bw):
        print(f"\n{dtype} {_fmt_shape(shape)}, {k}x{k} kernel, workers={n}: output "
              f"{oh}x{ow}, {flops / 1e9:.3g} GFLOP; FMA peak {peak:.1f} GFLOP/s")
        print(f"  {'library':<26s}{'time':>11s}{'GFLOP/s':>10s}{'% peak':>9s}"
              f"{'fastcorr is':>13s}")
        for r in rows:
            if r["status"] != "ok":
                print(f"  {r['library']:<26s}{r['status']:>11s}   {r['check']}")
                continue
            ratio = fmt_ratio(r["ratio"]) if "ratio" in r else ""
            notes = []
            if r.get("crop"):
                notes.append(f"timed on a {_fmt_shape(r['crop'])} crop")
            if r.get("threads") == 1 and n > 1:
                notes.append("1 thread (no threading)")
            if r.get("reused_from_workers"):
                notes.append("measured once, reused")
            print(f"  {r['library']:<26s}{fmt_time(r['time_s']):>11s}{r['gflops']:>10.2f}"
                  f"{r['pct_peak']:>8.1f}%{ratio:>13s}" + (f"   [{'; '.join(notes)}]"
                                                           if notes else ""))
        if bw:
            print(f"  memory: fastcorr moves {bw['bytes'] / 1e6:.1f} MB (in + out) at "
                  f"{bw['fastcorr_gbs']:.1f} GB/s; np.copyto of the image: "
                  f"{bw['copyto_gbs']:.1f} GB/s (read + write, 1 thread)")

    def in2_larger(self, progress):
        """fastcorr with the arguments swapped (scipy allows either order in 'valid' mode)."""
        shape = self.sizes[0]
        k = 7 if 7 in self.kernels else self.kernels[0]
        n = self.workers[-1]
        x, w = self.image(shape, "float32"), self.kernel(k, "float32")
        progress.step(f"float32 {_fmt_shape(shape)} K={k} workers={n} correlate2d(w, x)")
        normal, t_first = _timed_call(lambda: correlate2d(x, w, workers=n))
        swapped = correlate2d(w, x, workers=n)
        (t_normal, _, _), (t_swap, _, _) = self._best(
            [lambda: correlate2d(x, w, workers=n), lambda: correlate2d(w, x, workers=n)],
            [t_first, None])
        # The swapped call is defined as the normal result rotated by 180 degrees, computed by
        # the same kernel, so it must match exactly.
        ok = bool(np.array_equal(swapped, normal[::-1, ::-1]))
        if not ok:
            self.fastcorr_wrong = True
        progress.clear()
        self.extras["in2_larger"] = {"size": list(shape), "dtype": "float32", "K": k,
                                     "workers": n, "time_normal_s": t_normal,
                                     "time_swapped_s": t_swap, "ratio": t_swap / t_normal,
                                     "verified": ok}
        print(f"\nin2 larger: correlate2d(w, x) on float32 {_fmt_shape(shape)}, {k}x{k}, "
              f"workers={n}: {fmt_time(t_swap)} vs {fmt_time(t_normal)} for correlate2d(x, w) "
              f"-> {t_swap / t_normal:.2f}x the time; "
              + ("result equals the normal one rotated 180 degrees" if ok else
                 "RESULT DIFFERS from the normal one rotated 180 degrees"))

    # ----------------------------------------------------------------------- issue-4 sections
    def _best(self, fns, firsts=None):
        """best_times with this run's settings."""
        s = self.settings
        return best_times(fns, firsts, s["rounds"], s["repeats"], s["budget"], s["min_sample"])

    def _timed(self, *fns):
        """Best seconds per call of each of fns, timed side by side."""
        return [t for t, _, _ in self._best(fns)]

    def modes_section(self, progress):
        """'same' and 'full' (with a fill and a reflecting boundary) against 'valid': output
        pixels per second, since the three modes produce different numbers of outputs."""
        shape = self.sizes[0]
        n = self.workers[-1]
        ks = [k for k in self.kernels if k <= 15] or [self.kernels[0]]
        rows = []
        print(f"\nModes: float32 {_fmt_shape(shape)}, workers={n}; output Mpixel/s and the "
              "ratio to 'valid' (per output pixel); results checked at sampled positions "
              "against float64 dot products over the np.pad-extended image")
        print(f"  {'K':>3s}  {'valid':>8s}" + "".join(f"  {m + '/' + b:>17s}"
                                                     for m in ("same", "full")
                                                     for b in ("fill", "symm")))
        x = self.image(shape, "float32")
        for k in ks:
            w = self.kernel(k, "float32")
            progress.step(f"modes float32 {_fmt_shape(shape)} K={k}")
            rec = {"size": list(shape), "K": k, "workers": n}
            fns, sizes, verified = [lambda: correlate2d(x, w, workers=n)], [None], []
            for mode in ("same", "full"):
                pad = (((k - 1) // 2, k // 2) if mode == "same" else (k - 1, k - 1))
                for boundary, np_mode in (("fill", "constant"), ("symm", "symmetric")):
                    result = correlate2d(x, w, mode, boundary, workers=n)
                    ok, detail = SampledReference(np.pad(x, (pad, pad), mode=np_mode), w,
                                                  self.rng).check(result)
                    if not ok:
                        self.fastcorr_wrong = True
                        rec[f"{mode}_{boundary}"] = {"status": "WRONG", "check": detail}
                        continue
                    fns.append(lambda mode=mode, boundary=boundary:
                               correlate2d(x, w, mode, boundary, workers=n))
                    sizes.append(result.size)
                    verified.append(f"{mode}_{boundary}")
            times = self._timed(*fns)
            px_valid = (shape[0] - k + 1) * (shape[1] - k + 1) / times[0]
            rec["valid_mpix_s"] = px_valid / 1e6
            for name, size, t in zip(verified, sizes[1:], times[1:]):
                rec[name] = {"mpix_s": size / t / 1e6, "ratio": size / t / px_valid}
            cells = [f"{rec[c]['mpix_s']:7.0f} ({rec[c]['ratio']:.2f}x)" if "ratio" in rec[c]
                     else "WRONG" for c in ("same_fill", "same_symm", "full_fill", "full_symm")]
            progress.clear()
            print(f"  {k:>3d}  {px_valid / 1e6:>8.0f}" + "".join(f"  {c:>17s}" for c in cells))
            rows.append(rec)
        self.extras["modes"] = rows

    def one_d_section(self, progress):
        """fastcorr.correlate on a long signal against a plain copy (short kernels are
        bandwidth-bound), numpy.correlate and scipy.signal.oaconvolve."""
        n_samples = ONE_D_SAMPLES
        n = self.workers[-1]
        ks = ONE_D_QUICK_KERNELS if self.quick else ONE_D_KERNELS
        try:
            from scipy import fft as sfft, signal
        except ImportError:
            signal = None
        print(f"\n1-D: correlate(x, v, 'valid'), {n_samples:,} samples, workers={n} "
              "(numpy.correlate: 1 thread; oaconvolve with v reversed, under "
              "scipy.fft.set_workers); each result checked at sampled positions")
        heads = ["dtype", "K", "time", "GB/s", "copyto GB/s", "% copyto", "GFLOP/s", "% peak",
                 "x numpy", "x oaconvolve"]
        print("  " + "  ".join(f"{h:>12s}" for h in heads))
        rows = []
        for dtype in DTYPES:
            rng = np.random.default_rng([SEED, 7, DTYPES.index(dtype)])
            x = rng.uniform(-1, 1, n_samples).astype(dtype)
            dst = np.empty_like(x)
            copy_gbs = 2.0 * x.nbytes / self._timed(lambda: np.copyto(dst, x))[0] / 1e9
            for k in ks:
                v = rng.uniform(-1, 1, k).astype(dtype)
                progress.step(f"1-D {dtype} K={k}")
                out_len = n_samples - k + 1
                result = fastcorr_correlate(x, v, workers=n)
                ok, detail = _check_1d(result, x, v, self.rng)
                if not ok:
                    self.fastcorr_wrong = True
                    progress.clear()
                    print(f"  {dtype:>12s}  {k:>12d}  WRONG: {detail}")
                    continue
                fns = [lambda: fastcorr_correlate(x, v, workers=n),
                       lambda: np.correlate(x, v, "valid")]
                ok_oa = False
                if signal is not None:
                    def oaconv():
                        with sfft.set_workers(n):
                            return signal.oaconvolve(x, v[::-1], mode="valid")
                    ok_oa, _ = _check_1d(oaconv(), x, v, self.rng, fft=True)
                    if ok_oa:
                        fns.append(oaconv)
                t, t_np, *t_oa = self._timed(*fns)
                gbs = (x.nbytes + out_len * x.itemsize) / t / 1e9
                gflops = 2.0 * out_len * k / t / 1e9
                rec = {"dtype": dtype, "K": k, "samples": n_samples, "workers": n, "time_s": t,
                       "gbs": gbs, "copyto_gbs": copy_gbs, "gflops": gflops,
                       "pct_peak": 100.0 * gflops / self.peaks[(dtype, n)]}
                rec["x_numpy"] = t_np / t
                if signal is not None:
                    rec["x_oaconvolve"] = t_oa[0] / t if ok_oa else None
                progress.clear()
                oa = rec.get("x_oaconvolve")
                cells = [dtype, str(k), fmt_time(t), f"{gbs:.1f}", f"{copy_gbs:.1f}",
                         f"{100 * gbs / copy_gbs:.0f}%", f"{gflops:.1f}",
                         f"{rec['pct_peak']:.0f}%", fmt_ratio(rec["x_numpy"]),
                         "-" if oa is None else fmt_ratio(oa)]
                print("  " + "  ".join(f"{c:>12s}" for c in cells))
                rows.append(rec)
        print("  GB/s = (signal + result bytes) / time; copyto = np.copyto of the signal (read "
              "+ write, 1 thread); x numpy / x oaconvolve: how many times faster fastcorr is")
        self.extras["one_d"] = rows

    def batch_section(self, progress):
        """A stack of small images against one large image of the same total size."""
        n = self.workers[-1]
        count, side = BATCH_CASE
        big_side = int(round(math.sqrt(count * side * side)))
        rows = []
        print(f"\nBatches: {count:,} images of {side}x{side} against one {big_side}x{big_side} "
              f"image, float32, workers={n}: output Mpixel/s")
        rng = np.random.default_rng([SEED, 9])
        stack = rng.uniform(-1, 1, (count, side, side)).astype(np.float32)
        big = rng.uniform(-1, 1, (big_side, big_side)).astype(np.float32)
        for k in (3, 5):
            w = self.kernel(k, "float32")
            for mode in ("valid", "same"):
                progress.step(f"batch K={k} {mode}")
                result = correlate2d(stack, w, mode, workers=n)
                pad = (0, 0) if mode == "valid" else ((k - 1) // 2, k // 2)
                for i in (0, count // 2, count - 1):
                    ok, detail = SampledReference(np.pad(stack[i], (pad, pad)), w, self.rng,
                                                  n=20).check(result[i])
                    if not ok:
                        self.fastcorr_wrong = True
                        print(f"  WRONG: image {i}: {detail}")
                t_stack, t_big = self._timed(lambda: correlate2d(stack, w, mode, workers=n),
                                             lambda: correlate2d(big, w, mode, workers=n))
                px_stack = result.size / t_stack
                px_big = (big_side - (k - 1 if mode == "valid" else 0)) ** 2 / t_big
                progress.clear()
                print(f"  K={k} {mode:5s}: stack {px_stack / 1e6:7.0f}, one image "
                      f"{px_big / 1e6:7.0f} -> ratio {px_stack / px_big:.2f}")
                rows.append({"K": k, "mode": mode, "stack_mpix_s": px_stack / 1e6,
                             "image_mpix_s": px_big / 1e6, "ratio": px_stack / px_big})
        self.extras["batch"] = rows

    def print_table(self):
        cols = ["cv2", "ndimage", "signal.correlate2d", "fftconvolve", "torch"]
        heads = ["dtype", "size", "workers", "K", "fastcorr GFLOP/s", "% peak"] + \
                [f"x vs {c}" for c in cols]
        by_case = {}
        for r in self.records:
            by_case.setdefault((tuple(r["size"]), r["dtype"], r["workers"], r["K"]), {})[
                r["column"]] = r
        order = sorted(by_case, key=lambda c: (c[0] == SMALL_CASE[0], c[1], -c[0][0], c[2],
                                               c[3]))
        table = []
        for case in order:
            recs = by_case[case]
            fc = recs["fastcorr"]
            row = [case[1], _fmt_shape(case[0]), str(case[2]), str(case[3])]
            if fc["status"] == "ok":
                row += [f"{fc['gflops']:.1f}", f"{fc['pct_peak']:.0f}%"]
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
        missing = [c for c in cols if not any(p.column == c for p in self.peers)]
        print("  * peer timed on a crop of the image (too slow for the full one); its GFLOP/s "
              "is compared")
        print("  signal.correlate2d and ndimage run on 1 thread whatever workers= says; "
              "ndimage and cv2 also compute the border, which the FLOP count does not include")
        if missing:
            print(f"  - not installed: {', '.join(missing)}")

    def run(self):
        s = self.settings
        print(f"fastcorr {__version__} benchmark{' (--quick)' if self.quick else ''}: "
              f"{_cpu_model()}, {self.n_all} usable CPUs, SIMD path {_core.active_path()}, "
              f"load average {_load_average()}")
        for note in self.notes:
            print(f"note: {note}")
        self.peaks = self.peaks_start = self.measure_peaks()
        print("FMA peak (GFLOP/s, measured now): " + self.fmt_peaks(self.peaks_start)
              + f" [{self.peak_path} FMA probe]")
        n = self.workers[-1]
        scaling = self.peaks[("float32", n)] / self.peaks[("float32", 1)]
        if n > 1 and scaling < 0.75 * n:
            # A lower multi-thread peak than the thread count allows means the threads did not
            # get a core each: SMT siblings, or other processes (see load average) using them.
            print(f"WARNING: the {n}-thread FMA peak is only {scaling:.2f}x the 1-thread one "
                  f"(load average {_load_average()}): the CPUs are shared or are SMT siblings, "
                  f"so {n}-thread results understate an idle machine")
        print(f"timing: a verifying warm-up call, then best of up to "
              f"{s['rounds'] * s['repeats']} samples in {s['rounds']} round(s) that alternate "
              f"between the libraries of a case (at most {s['budget']:g} s per library and "
              f"case); every result checked at "
              f"{N_SAMPLED} random positions + corners against float64 dot products")
        cases = self.cases() if "2d" in self.sections else []
        progress = _Progress(len(cases) * (1 + len(self.peers)) + 1 + len(self.kernels)
                             + 2 * len(ONE_D_KERNELS) + 4)
        t0 = time.perf_counter()
        for case in cases:
            self.run_case(*case, progress)
        if "2d" in self.sections:
            self.in2_larger(progress)
        if "modes" in self.sections:
            self.modes_section(progress)
        if "1d" in self.sections:
            self.one_d_section(progress)
        if "batch" in self.sections:
            self.batch_section(progress)
        self.elapsed = time.perf_counter() - t0
        self.recheck_peaks()
        if cases:
            self.print_table()
        print(f"\ntotal {self.elapsed:.0f} s")
        if self.fastcorr_wrong:
            print("ERROR: fastcorr failed verification (see WRONG or ERROR above)", file=sys.stderr)

    def measure_peaks(self):
        peaks = {}
        for dtype in DTYPES:
            for n in self.workers:
                peaks[(dtype, n)], self.peak_path = _core.fma_peak(dtype, n)
        return peaks

    @staticmethod
    def fmt_peaks(peaks):
        return ", ".join(f"{d} {n} thread{'s' if n > 1 else ''} {g:.1f}"
                         for (d, n), g in peaks.items())

    def recheck_peaks(self):
        """Measure the peak again and keep the higher of the two for the summary.

        On a shared machine another process can hold a core while the peak is measured; a
        result above 100% of such a peak would be nonsense, so a second chance at the end
        guards the summary's "% peak" against one unlucky moment.
        """
        end = self.measure_peaks()
        self.peaks_end = end
        self.peaks = {key: max(g, end[key]) for key, g in self.peaks_start.items()}
        if any(abs(end[k] / self.peaks_start[k] - 1) > 0.1 for k in end):
            print(f"\nnote: FMA peak re-measured at the end differs by more than 10% "
                  f"(other load on the machine?): {self.fmt_peaks(end)}; the summary's % peak "
                  "uses the higher of the two measurements")
        for r in self.records:
            if r["status"] == "ok":
                r["pct_peak"] = 100.0 * r["gflops"] / self.peaks[(r["dtype"], r["workers"])]

    def as_json(self, machine):
        return {
            "machine": machine,
            "settings": {"quick": self.quick, "sizes": [list(s) for s in self.sizes],
                         "kernels": list(self.kernels), "workers": self.workers,
                         "small_case": {"size": list(SMALL_CASE[0]), "dtype": SMALL_CASE[1],
                                        "K": SMALL_CASE[2]},
                         "seed": SEED, "sampled_positions": N_SAMPLED, **self.settings},
            "fma_peak_gflops": [{"dtype": d, "threads": n, "gflops": g,
                                 "start": self.peaks_start[(d, n)], "end": self.peaks_end[(d, n)]}
                                for (d, n), g in self.peaks.items()],
            "notes": self.notes,
            "results": self.records,
            "bandwidth": self.bandwidth,
            "in2_larger": self.extras.get("in2_larger"),
            "modes": self.extras.get("modes"),
            "one_d": self.extras.get("one_d"),
            "batch": self.extras.get("batch"),
            "elapsed_s": self.elapsed,
        }

    def plot(self, path, machine):
        try:
            import matplotlib
            matplotlib.use("Agg")  # a file is wanted, not a window; works without a display
            import matplotlib.pyplot as plt
        except ImportError:
            print(f"note: matplotlib not installed, no plot written to {path} "
                  "(pip install matplotlib)")
            return
        shape, n = self.sizes[-1], self.workers[-1]
        fig, axes = plt.subplots(1, len(DTYPES), figsize=(6 * len(DTYPES), 4.5), squeeze=False)
        for ax, dtype in zip(axes[0], DTYPES):
            recs = [r for r in self.records if tuple(r["size"]) == shape
                    and r["dtype"] == dtype and r["workers"] == n and r["status"] == "ok"
                    and r["column"] != "fastcorr_out"]
            for lib in dict.fromkeys(r["library"] for r in recs):
                pts = sorted((r["K"], r["gflops"]) for r in recs if r["library"] == lib)
                cropped = any(r.get("crop") for r in recs if r["library"] == lib)
                ax.plot(*zip(*pts), marker="o", lw=2.5 if lib == "fastcorr" else 1.2,
                        label=lib + (" (crop)" if cropped else ""))
            ax.axhline(self.peaks[(dtype, n)], color="grey", ls="--", lw=1,
                       label=f"FMA peak, {n} threads")
            ax.set_yscale("log")
            ax.set_xlabel("kernel size K (KxK)")
            ax.set_ylabel("GFLOP/s (2*out_h*out_w*K*K / time)")
            ax.set_title(f"{dtype}, {_fmt_shape(shape)}, workers={n}")
            ax.set_xticks(list(self.kernels))
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"fastcorr {__version__} vs peers: valid 2-D correlation on "
                     f"{machine['cpu_model']} ({machine['cpus_usable']} CPUs)")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        print(f"plot written to {path}")


# --------------------------------------------------------------------------- CLI
def _parse_sizes(text):
    sizes = []
    for item in text.split(","):
        parts = item.lower().split("x")
        if len(parts) == 1:
            parts *= 2
        h, w = (int(p) for p in parts)
        if h < 1 or w < 1:
            raise ValueError(item)
        sizes.append((h, w))
    return sizes


def _parse_kernels(text):
    ks = [int(k) for k in text.split(",")]
    if any(k < 1 for k in ks):
        raise ValueError(text)
    return ks


def add_arguments(parser):
    """Add the ``bench`` options to an argparse parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``bench`` subcommand's parser.
    """
    parser.add_argument("--quick", action="store_true",
                        help="fewer kernel sizes, fewer repeats, slow peers on smaller crops "
                             "(about 30 s)")
    parser.add_argument("--json", metavar="PATH",
                        help="save every measurement, the FMA peaks and the machine description")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="plot GFLOP/s against kernel size per library (needs matplotlib)")
    parser.add_argument("--sizes", type=_parse_sizes, metavar="N[,HxW...]",
                        help="image sizes, e.g. 2048 or 1024,4096x512 (default 2048)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable): 2d (valid mode against the "
                             "peers), modes (same/full vs valid), 1d (long signals), batch "
                             "(many small images); default all")
    parser.add_argument("--kernels", type=_parse_kernels, metavar="K[,K...]",
                        help="square kernel sizes (default 3,5,7,9,11,15,21,31; "
                             "--quick 3,7,15)")


def run(args):
    """Run the benchmark described by parsed ``bench`` arguments.

    Parameters
    ----------
    args : argparse.Namespace
        With ``quick``, ``json``, ``plot``, ``sizes`` and ``kernels`` as `add_arguments` defines.

    Returns
    -------
    int
        Exit status: 0, or 1 if fastcorr itself failed verification.
    """
    bench = _Bench(args)
    bench.run()
    if args.json or args.plot:
        machine = machine_info(bench.versions)
    if args.json:
        data = bench.as_json(machine)
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1, default=float)
        print(f"measurements written to {args.json}")
    if args.plot:
        bench.plot(args.plot, machine)
    return 1 if bench.fastcorr_wrong else 0
