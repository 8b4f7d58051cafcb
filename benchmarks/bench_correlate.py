"""asv benchmarks: fastcorr's valid 2-D correlation, and the peers it is measured against.

The grid, the arrays and the peers are ``python -m fastcorr bench``'s own (src/fastcorr/_bench/
cases.py and peers.py): images of cases.DEFAULT_SIZES, square kernels cases.DEFAULT_KERNELS,
float32 and float64, one thread and all usable CPUs; then 'same'/'full' against 'valid' (Modes),
1-D correlation of a long signal (OneD) and a stack of small images (Batch); fastcorr.ndimage is
in bench_ndimage.py.  Correctness of every library's result is checked by
``python -m fastcorr bench``, not here: asv tracks speed across commits.
"""
import importlib.util
import os
import sys
import time

import numpy as np

import fastcorr


def _load(name):
    """src/fastcorr/_bench/<name>.py of this source tree, as a module of its own.

    asv runs these benchmarks against builds of older commits too, where fastcorr._bench may
    be missing or different; the grid must be the same for every commit of one run, so it is
    read from the tree the benchmarks come from (the two modules import nothing from fastcorr).
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src",
                        "fastcorr", "_bench", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_fastcorr_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cases = _load("cases")
peers = _load("peers")

(SIZE, _), = cases.DEFAULT_SIZES
KERNELS = list(cases.DEFAULT_KERNELS)
DTYPES = list(cases.DTYPES)
# "all" rather than a number, so results from machines with different CPU counts share keys.
WORKERS = [1, "all"]


def _threads(workers):
    if workers != "all":
        return workers
    # Imported here: builds older than fastcorr._engine lose only the "all" cases.
    from fastcorr._engine.threads import cpu_count
    return cpu_count()


def _peer(column):
    """The peer of `column`; asv skips the benchmark (NotImplementedError) without it."""
    peer = peers.by_column(column)
    try:
        peer.require()
    except (ImportError, OSError) as exc:
        raise NotImplementedError(f"{peer.label}: {peer.package} is not importable ({exc})")
    return peer


class _Grid:
    params = [DTYPES, KERNELS, WORKERS]
    param_names = ["dtype", "K", "workers"]

    def setup(self, dtype, k, workers):
        self.x, self.w = cases.image((SIZE, SIZE), dtype), cases.kernel(k, dtype)
        self.n = _threads(workers)
        self.out_shape = (SIZE - k + 1, SIZE - k + 1)


class Correlate(_Grid):
    """fastcorr.correlate2d on the grid."""

    def setup(self, dtype, k, workers):
        super().setup(dtype, k, workers)
        self.out = np.empty(self.out_shape, dtype)

    def time_fastcorr(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, mode="valid", workers=self.n)

    def time_fastcorr_out(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, mode="valid", out=self.out, workers=self.n)

    def peakmem_fastcorr(self, dtype, k, workers):
        # Includes the inputs made in setup: a rise means fastcorr started allocating
        # temporaries (a copy of the image, a second output).
        fastcorr.correlate2d(self.x, self.w, mode="valid", workers=self.n)

    def track_gflops_fastcorr(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, mode="valid", workers=self.n)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            fastcorr.correlate2d(self.x, self.w, mode="valid", workers=self.n)
            best = min(best, time.perf_counter() - t0)
        oh, ow = self.out_shape
        return 2.0 * oh * ow * k * k / best / 1e9

    track_gflops_fastcorr.unit = "GFLOP/s"


class _PeerGrid(_Grid):
    """A peer on the grid, called as the benchmark calls it (peers.py), on its crop if it has
    one and on one thread if it has no threads."""

    column = None

    def setup(self, dtype, k, workers):
        peer = _peer(self.column)
        super().setup(dtype, k, workers)
        crop = peer.crop(self.x.shape, k, quick=False)
        x = self.x if crop is None else np.ascontiguousarray(self.x[:crop[0], :crop[1]])
        self.call = peer.call(x, self.w, self.n if peer.threaded else 1)


class CV2Filter2D(_PeerGrid):
    """OpenCV's filter2D, the fastest peer: correlation with the anchor at the top-left."""

    column = "cv2"

    def time_cv2_filter2D(self, dtype, k, workers):
        self.call()


class ScipyFFTConvolve(_PeerGrid):
    """scipy.signal.fftconvolve with the kernel flipped: correlation by FFT."""

    column = "fftconvolve"
    # 0.1-0.5 s a call at 2048x2048: fewer samples keep the class near two minutes.
    repeat = (1, 5, 10.0)
    timeout = 180

    def time_scipy_fftconvolve(self, dtype, k, workers):
        self.call()


class ScipySignalCorrelate2dCrop(_PeerGrid):
    """scipy.signal.correlate2d, single-threaded at about 1 GFLOP/s, on the crop the benchmark
    gives it (peers.py: the whole image only for the smallest kernels)."""

    column = "signal.correlate2d"
    params = [DTYPES, KERNELS]
    param_names = ["dtype", "K"]

    def setup(self, dtype, k):
        super().setup(dtype, k, 1)

    def time_scipy_signal_correlate2d(self, dtype, k):
        self.call()


class SmallImage:
    """cases.SMALL_CASE (128x128 float32, 3x3): per-call overhead rather than arithmetic."""

    params = [WORKERS]
    param_names = ["workers"]

    def setup(self, workers):
        shape, dtype, k = cases.SMALL_CASE
        self.x, self.w = cases.image(shape, dtype), cases.kernel(k, dtype)
        self.n = _threads(workers)
        self.out = np.empty((shape[0] - k + 1, shape[1] - k + 1), dtype)

    def time_fastcorr(self, workers):
        fastcorr.correlate2d(self.x, self.w, mode="valid", workers=self.n)

    def time_fastcorr_out(self, workers):
        fastcorr.correlate2d(self.x, self.w, mode="valid", out=self.out, workers=self.n)


class Modes:
    """'same' and 'full' with a fill and a reflecting boundary, against 'valid' on the same
    image: their frame is computed from small strips, so they should track 'valid' closely."""

    params = [["valid", *cases.MODES], [b for b, _ in cases.MODE_BOUNDARIES],
              cases.modes_kernels(cases.QUICK_KERNELS)]
    param_names = ["mode", "boundary", "K"]

    def setup(self, mode, boundary, k):
        self.x, self.w = cases.image((SIZE, SIZE), "float32"), cases.kernel(k, "float32")
        self.n = _threads("all")

    def time_correlate2d(self, mode, boundary, k):
        fastcorr.correlate2d(self.x, self.w, mode, boundary, workers=self.n)

    def peakmem_correlate2d(self, mode, boundary, k):
        # A padded copy of the image would show here as +16 MiB.
        fastcorr.correlate2d(self.x, self.w, mode, boundary, workers=self.n)


class OneD:
    """fastcorr.correlate on cases.ONE_D_SAMPLES samples (the issue's 1-D figures), and the
    1-D peers."""

    params = [DTYPES, list(cases.ONE_D_KERNELS)]
    param_names = ["dtype", "K"]
    timeout = 180

    def setup(self, dtype, k):
        self.x, self.v = cases.signal_1d(dtype), cases.taps_1d(k, dtype)
        self.n = _threads("all")
        # A missing peer skips its own method only (NotImplementedError there), not the class.
        self.peer_calls = {}
        for peer in peers.ONE_D_PEERS:
            try:
                self.peer_calls[peer.column] = _peer(peer.column).call(
                    self.x, self.v, self.n if peer.threaded else 1)
            except NotImplementedError as exc:
                self.peer_calls[peer.column] = exc

    def _run_peer(self, column):
        call = self.peer_calls[column]
        if isinstance(call, NotImplementedError):
            raise call
        call()

    def time_fastcorr_correlate(self, dtype, k):
        fastcorr.correlate(self.x, self.v, mode="valid", workers=self.n)

    def time_numpy_correlate(self, dtype, k):
        self._run_peer("numpy")

    def time_scipy_oaconvolve(self, dtype, k):
        self._run_peer("oaconvolve")

    def track_gflops_fastcorr(self, dtype, k):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            fastcorr.correlate(self.x, self.v, mode="valid", workers=self.n)
            best = min(best, time.perf_counter() - t0)
        return 2.0 * (len(self.x) - k + 1) * k / best / 1e9

    track_gflops_fastcorr.unit = "GFLOP/s"


class Batch:
    """cases.BATCH_CASE (10,000 images of 32x32: one parallel loop over images and tiles)
    against one image of the same total size."""

    params = [list(cases.BATCH_MODES), ["stack", "one image"], list(cases.BATCH_KERNELS)]
    param_names = ["mode", "layout", "K"]

    def setup(self, mode, layout, k):
        stack, big = cases.batch_images()
        self.x = stack if layout == "stack" else big
        # One kernel for every image: a leading axis of 1 broadcasts over the stack.
        w = cases.kernel(k, "float32")
        self.w = w[None] if layout == "stack" else w
        self.n = _threads("all")

    def time_correlate2d(self, mode, layout, k):
        fastcorr.correlate2d(self.x, self.w, mode, axes=(-2, -1), workers=self.n)
