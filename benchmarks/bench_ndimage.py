"""asv benchmarks: fastcorr.ndimage, and the filters it is measured against.

The cases, the arrays and the peers are ``python -m fastcorr bench --only ndimage``'s own
(src/fastcorr/_bench/cases.py: ndimage_cases, ndimage_arrays; peers.py: FILTER_PEERS): 2048x2048
float32 and float64 correlations in every scipy.ndimage mode, Gaussian, uniform, Sobel, Laplace
and Laplacian-of-Gaussian filters on 4096x4096 float32, a uint8 image with a 5x5 float kernel, a 160^3 float32 volume
with a 5x5x5 kernel.  fastcorr runs on all usable CPUs; each peer is called as the benchmark
calls it (scipy.ndimage on one thread, on the same crop; OpenCV and torch on all CPUs).  A
peer without the case's border (OpenCV has no 'wrap'), or not installed, is skipped.
Correctness is checked by the benchmark, not here: asv tracks speed across commits.
"""
import numpy as np

from .bench_correlate import _threads, cases, peers

GRID = cases.ndimage_cases(quick=False)
DTYPES = list(cases.DTYPES)
KERNELS = sorted({c["taps"][0] for c in GRID if c["group"] == "correlate"})
MODES = list(cases.NDIMAGE_MODES)


def _filter_name(case):
    """``gaussian_filter sigma=4``: a separable filter case's parameter value in asv."""
    params = [f"{k}={v:g}" for k, v in case["params"].items() if k != "mode"]
    return " ".join([case["function"], *params])


FILTERS = [_filter_name(c) for c in GRID if c["group"] == "filter"]


def _find(group, match=lambda case: True):
    """The grid's case of `group` that `match` accepts; NotImplementedError (asv skips the
    combination) where the grid has none, e.g. float64 with K=7."""
    for case in GRID:
        if case["group"] == group and match(case):
            return case
    raise NotImplementedError(f"no {group} case like this in the benchmark's grid")


def _fastcorr_ndimage():
    try:
        from fastcorr import ndimage
    except ImportError as exc:  # a build older than the face
        raise NotImplementedError(f"this build has no fastcorr.ndimage ({exc})")
    return ndimage


class _Case:
    """One case of the grid: `case` picks it from the benchmark's parameters."""

    def case(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        self.grid_case = self.case(*params)
        self.x, self.kwargs = cases.ndimage_arrays(self.grid_case)
        self.n = _threads("all")


class _Fastcorr(_Case):
    """fastcorr.ndimage on the case, on all usable CPUs."""

    def setup(self, *params):
        super().setup(*params)
        self.filter = getattr(_fastcorr_ndimage(), self.grid_case["function"])

    def time_fastcorr(self, *params):
        self.filter(self.x, **self.kwargs, workers=self.n)

    def peakmem_fastcorr(self, *params):
        # Includes the input made in setup: a rise means a full-size temporary appeared (a
        # padded copy, an intermediate between the passes of a separable filter).
        self.filter(self.x, **self.kwargs, workers=self.n)


class _Peer(_Case):
    """A peer of peers.FILTER_PEERS (`column`) on the case, called as the benchmark calls it:
    on its crop if it has one, on one thread if it has no threads."""

    column = None

    def setup(self, *params):
        peer = next(p for p in peers.FILTER_PEERS if p.column == self.column)
        try:
            peer.require()
        except (ImportError, OSError) as exc:
            raise NotImplementedError(f"{peer.label}: {peer.package} is not importable ({exc})")
        super().setup(*params)
        crop = peer.crop(self.x.shape, cases.ndimage_flops(self.grid_case, 1), quick=False)
        x = self.x if crop is None else np.ascontiguousarray(
            self.x[tuple(slice(0, c) for c in crop)])
        made = peer.make(self.grid_case["function"], x, self.kwargs,
                         self.n if peer.threaded else 1)
        if isinstance(made, str):  # no such border in this library
            raise NotImplementedError(made)
        self.call = made[1]

    def time_peer(self, *params):
        self.call()


class _ScipyCrop(_Peer):
    """scipy.ndimage on one thread, on the benchmark's crop (about 0.1-0.5 s a call)."""

    column = "ndimage"
    repeat = (1, 5, 10.0)
    timeout = 180


# --------------------------------------------------------------------------- 2-D correlate
class _CorrelateCases:
    params = [DTYPES, KERNELS, MODES]
    param_names = ["dtype", "K", "mode"]

    def case(self, dtype, k, mode):
        return _find("correlate", lambda c: (c["dtype"], c["taps"][0], c["mode"])
                     == (dtype, k, mode))


class NdimageCorrelate(_CorrelateCases, _Fastcorr):
    """fastcorr.ndimage.correlate, 2048x2048, every mode."""


class NdimageCorrelateOpenCV(_CorrelateCases, _Peer):
    """cv2.filter2D with the matching border (none for 'wrap')."""

    column = "cv2"


class NdimageCorrelateScipyCrop(_CorrelateCases, _ScipyCrop):
    """scipy.ndimage.correlate on the benchmark's crop."""


# --------------------------------------------------------------------------- separable filters
class _FilterCases:
    params = [FILTERS]
    param_names = ["filter"]

    def case(self, name):
        return _find("filter", lambda c: _filter_name(c) == name)


class NdimageFilters(_FilterCases, _Fastcorr):
    """gaussian_filter, uniform_filter, sobel, laplace and gaussian_laplace on 4096x4096
    float32."""


class NdimageFiltersOpenCV(_FilterCases, _Peer):
    """cv2.GaussianBlur, cv2.blur, cv2.Sobel and cv2.Laplacian (ksize=1) with BORDER_REFLECT
    (scipy's 'reflect')."""

    column = "cv2"


class NdimageFiltersScipyCrop(_FilterCases, _ScipyCrop):
    """scipy.ndimage's filters on the benchmark's crop."""


# --------------------------------------------------------------------------- uint8 images
class NdimageInteger(_Fastcorr):
    """correlate on a uint8 image with a 5x5 float kernel: scipy's exact uint8 result, and a
    float32 result (output=np.float32), the faster road."""

    params = [["uint8", "float32"]]
    param_names = ["output"]

    def case(self, output):
        return _find("integer")

    def setup(self, output):
        super().setup(output)
        if output != "uint8":
            self.kwargs["output"] = np.dtype(output)


class NdimageIntegerOpenCV(_Peer):
    """cv2.filter2D on the uint8 image, uint8 result (rounded where scipy truncates)."""

    column = "cv2"

    def case(self):
        return _find("integer")


class NdimageIntegerScipyCrop(_ScipyCrop):
    """scipy.ndimage.correlate, uint8 result, on the benchmark's crop."""

    def case(self):
        return _find("integer")


# --------------------------------------------------------------------------- 3-D volume
class NdimageVolume(_Fastcorr):
    """correlate of a 160^3 float32 volume with a 5x5x5 kernel, mode 'constant'."""

    def case(self):
        return _find("volume")


class NdimageVolumeTorch(_Peer):
    """torch.nn.functional.conv3d with zero padding (one channel)."""

    column = "torch"
    timeout = 180

    def case(self):
        return _find("volume")


class NdimageVolumeScipyCrop(_ScipyCrop):
    """scipy.ndimage.correlate on the benchmark's crop of the volume."""

    def case(self):
        return _find("volume")
