"""asv benchmarks: fastcorr's valid 2-D correlation, and the peers it is measured against.

The grid matches ``python -m fastcorr bench``: a 2048x2048 image, square kernels K = 3..31,
float32 and float64, one thread and all usable CPUs; then 'same'/'full' against 'valid' (Modes),
1-D correlation of 4,000,000 samples (OneD) and a stack of 10,000 small images (Batch).  Correctness of every library's result is checked
by ``python -m fastcorr bench``, not here: asv tracks speed across commits.
"""
import os
import time

import numpy as np

import fastcorr

SIZE = 2048
KERNELS = [3, 5, 7, 9, 11, 15, 21, 31]
DTYPES = ["float32", "float64"]
# "all" rather than a number, so results from machines with different CPU counts share keys.
WORKERS = [1, "all"]
# scipy.signal.correlate2d needs seconds to minutes on the full image for large K.
SIGNAL_CROP = 256


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _threads(workers):
    return _usable_cpus() if workers == "all" else workers


def _arrays(shape, dtype, k):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    w = rng.uniform(-1, 1, (k, k)).astype(dtype)
    return x, w


class _Grid:
    params = [DTYPES, KERNELS, WORKERS]
    param_names = ["dtype", "K", "workers"]

    def setup(self, dtype, k, workers):
        self.x, self.w = _arrays((SIZE, SIZE), dtype, k)
        self.n = _threads(workers)
        self.out_shape = (SIZE - k + 1, SIZE - k + 1)


class Correlate(_Grid):
    """fastcorr.correlate2d on the grid."""

    def setup(self, dtype, k, workers):
        super().setup(dtype, k, workers)
        self.out = np.empty(self.out_shape, dtype)

    def time_fastcorr(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, workers=self.n)

    def time_fastcorr_out(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, out=self.out, workers=self.n)

    def peakmem_fastcorr(self, dtype, k, workers):
        # Includes the inputs made in setup: a rise means fastcorr started allocating
        # temporaries (a copy of the image, a second output).
        fastcorr.correlate2d(self.x, self.w, workers=self.n)

    def track_gflops_fastcorr(self, dtype, k, workers):
        fastcorr.correlate2d(self.x, self.w, workers=self.n)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            fastcorr.correlate2d(self.x, self.w, workers=self.n)
            best = min(best, time.perf_counter() - t0)
        oh, ow = self.out_shape
        return 2.0 * oh * ow * k * k / best / 1e9

    track_gflops_fastcorr.unit = "GFLOP/s"


class CV2Filter2D(_Grid):
    """OpenCV's filter2D, the fastest peer: correlation with the anchor at the top-left."""

    def setup(self, dtype, k, workers):
        try:
            import cv2
        except ImportError:
            raise NotImplementedError("cv2 (opencv-python-headless) is not installed")
        super().setup(dtype, k, workers)
        self.cv2 = cv2
        cv2.setNumThreads(self.n)

    def time_cv2_filter2D(self, dtype, k, workers):
        oh, ow = self.out_shape
        self.cv2.filter2D(self.x, -1, self.w, anchor=(0, 0),
                          borderType=self.cv2.BORDER_CONSTANT)[:oh, :ow]


class ScipyFFTConvolve(_Grid):
    """scipy.signal.fftconvolve with the kernel flipped: correlation by FFT."""

    # 0.1-0.5 s a call at 2048x2048: fewer samples keep the class near two minutes.
    repeat = (1, 5, 10.0)
    timeout = 180

    def setup(self, dtype, k, workers):
        try:
            from scipy import fft, signal
        except ImportError:
            raise NotImplementedError("scipy is not installed")
        super().setup(dtype, k, workers)
        self.fft, self.signal = fft, signal

    def time_scipy_fftconvolve(self, dtype, k, workers):
        # fftconvolve has no workers= of its own; scipy.fft's context applies to it.
        with self.fft.set_workers(self.n):
            self.signal.fftconvolve(self.x, self.w[::-1, ::-1], mode="valid")


class ScipySignalCorrelate2dCrop:
    """scipy.signal.correlate2d on a 256x256 crop: single-threaded, about 1 GFLOP/s."""

    params = [DTYPES, KERNELS]
    param_names = ["dtype", "K"]

    def setup(self, dtype, k):
        try:
            from scipy import signal
        except ImportError:
            raise NotImplementedError("scipy is not installed")
        self.signal = signal
        self.x, self.w = _arrays((SIGNAL_CROP, SIGNAL_CROP), dtype, k)

    def time_scipy_signal_correlate2d(self, dtype, k):
        self.signal.correlate2d(self.x, self.w, mode="valid")


class SmallImage:
    """128x128 float32 with a 3x3 kernel: per-call overhead rather than arithmetic."""

    params = [WORKERS]
    param_names = ["workers"]

    def setup(self, workers):
        self.x, self.w = _arrays((128, 128), "float32", 3)
        self.n = _threads(workers)
        self.out = np.empty((126, 126), np.float32)

    def time_fastcorr(self, workers):
        fastcorr.correlate2d(self.x, self.w, workers=self.n)

    def time_fastcorr_out(self, workers):
        fastcorr.correlate2d(self.x, self.w, out=self.out, workers=self.n)


class Modes:
    """'same' and 'full' with a fill and a reflecting boundary, against 'valid' on the same
    image: their frame is computed from small strips, so they should track 'valid' closely."""

    params = [["valid", "same", "full"], ["fill", "symm"], [3, 7, 15]]
    param_names = ["mode", "boundary", "K"]

    def setup(self, mode, boundary, k):
        self.x, self.w = _arrays((SIZE, SIZE), "float32", k)
        self.n = _usable_cpus()

    def time_correlate2d(self, mode, boundary, k):
        fastcorr.correlate2d(self.x, self.w, mode, boundary, workers=self.n)

    def peakmem_correlate2d(self, mode, boundary, k):
        # A padded copy of the image would show here as +16 MiB.
        fastcorr.correlate2d(self.x, self.w, mode, boundary, workers=self.n)


class OneD:
    """fastcorr.correlate on 4,000,000 samples (the issue's 1-D figures), and the peers."""

    params = [["float32", "float64"], [3, 8, 16, 64, 256, 1024]]
    param_names = ["dtype", "K"]
    timeout = 180

    def setup(self, dtype, k):
        rng = np.random.default_rng(0)
        self.x = rng.uniform(-1, 1, 4_000_000).astype(dtype)
        self.v = rng.uniform(-1, 1, k).astype(dtype)
        self.n = _usable_cpus()

    def time_fastcorr_correlate(self, dtype, k):
        fastcorr.correlate(self.x, self.v, workers=self.n)

    def time_numpy_correlate(self, dtype, k):
        np.correlate(self.x, self.v, "valid")

    def time_scipy_oaconvolve(self, dtype, k):
        try:
            from scipy import fft, signal
        except ImportError:
            raise NotImplementedError("scipy is not installed")
        with fft.set_workers(self.n):
            signal.oaconvolve(self.x, self.v[::-1], mode="valid")

    def track_gflops_fastcorr(self, dtype, k):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            fastcorr.correlate(self.x, self.v, workers=self.n)
            best = min(best, time.perf_counter() - t0)
        return 2.0 * (len(self.x) - k + 1) * k / best / 1e9

    track_gflops_fastcorr.unit = "GFLOP/s"


class Batch:
    """10,000 images of 32x32 (one parallel loop over images and tiles) against one image of
    the same total size."""

    params = [["valid", "same"], ["stack", "one image"]]
    param_names = ["mode", "layout"]

    def setup(self, mode, layout):
        rng = np.random.default_rng(0)
        shape = (10_000, 32, 32) if layout == "stack" else (3200, 3200)
        self.x = rng.uniform(-1, 1, shape).astype("float32")
        self.w = rng.uniform(-1, 1, (3, 3)).astype("float32")
        self.n = _usable_cpus()

    def time_correlate2d(self, mode, layout):
        fastcorr.correlate2d(self.x, self.w, mode, workers=self.n)
