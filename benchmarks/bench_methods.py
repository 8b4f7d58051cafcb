"""asv benchmarks: method='auto' and each of fastcorr's methods on issue 15's headline cases,
and the peers that do the same job another way.

The cases, the arrays and the peers are ``python -m fastcorr bench --only methods``'s own
(src/fastcorr/_bench/cases.py: METHOD_HEADLINES, method_input, method_kernel; peers.py:
METHOD_PEERS): a 31x31 Gaussian on 4096x4096 and a rank-2 25x25 and a full-rank 9x9 kernel on
2048x2048, all 'same' with symmetric borders; a 101x101 kernel on 2048x2048, 'valid'; 8,192
taps on 2,000,000 samples, 'valid'.  Float32 and float64, on all usable CPUs (each peer as the
benchmark calls it).  A method a build does not have (method= before issue 15, 'fft' before
its module) and a peer that is not installed are skipped.  The crossover sweeps are the
benchmark's, not asv's: they re-measure a machine, not a commit.  Correctness is checked by the
benchmark, not here: asv tracks speed across commits.
"""
import inspect

import fastcorr

from .bench_correlate import _threads, cases, peers

DTYPES = list(cases.DTYPES)
HEADLINES = cases.METHOD_HEADLINES


def _headline(name):
    return next(c for c in HEADLINES if c["name"] == name)


def _has_method(method):
    """Whether this build computes `method` (NotImplementedError, asv's skip, if not)."""
    if "method" not in inspect.signature(fastcorr.correlate2d).parameters:
        raise NotImplementedError("this build has no method= (before issue 15)")
    if method == "fft":
        try:
            from fastcorr._engine import fft  # noqa: F401
        except ImportError as exc:
            raise NotImplementedError(f"this build has no FFT method ({exc})")


class _Case:
    """One headline case (`case`, a name in cases.METHOD_HEADLINES) in one dtype."""

    case = None
    # Direct at 101x101 (float64) and at 8,192 taps takes 1-2 s a call.
    repeat = (1, 5, 20.0)
    timeout = 300

    def setup_arrays(self, dtype):
        spec = _headline(self.case)
        self.spec = spec
        self.x = cases.method_input(spec["shape"], dtype)
        self.w, self.factors = cases.method_kernel(spec["kernel"], spec["dims"], dtype)
        self.n = _threads("all")


class _Fastcorr(_Case):
    """fastcorr with each method the case compares (params: dtype, method)."""

    param_names = ["dtype", "method"]

    def setup(self, dtype, method):
        _has_method(method)
        self.setup_arrays(dtype)
        spec = self.spec
        if spec["dims"] == 1:
            self.call = lambda: fastcorr.correlate(self.x, self.w, spec["mode"], method=method,
                                                   workers=self.n)
        else:
            self.call = lambda: fastcorr.correlate2d(self.x, self.w, spec["mode"],
                                                     spec["boundary"], method=method,
                                                     workers=self.n)

    def time_fastcorr(self, dtype, method):
        self.call()


class _Peer(_Case):
    """The case's peers (params: dtype, peer column), called as the benchmark calls them."""

    param_names = ["dtype", "peer"]

    def setup(self, dtype, column):
        peer = peers.method_peer(column)
        try:
            peer.require()
        except (ImportError, OSError) as exc:
            raise NotImplementedError(f"{peer.label}: {peer.package} is not importable ({exc})")
        self.setup_arrays(dtype)
        crop = peer.crop(self.x.shape, self.w.shape, self.spec["mode"], quick=False)
        x = self.x if crop is None else self.x[tuple(slice(0, c) for c in crop)].copy()
        made = peer.make(x, self.w, self.n if peer.threaded else 1, self.spec["mode"],
                         self.factors)
        if isinstance(made, str):
            raise NotImplementedError(made)
        self.call = made

    def time_peer(self, dtype, column):
        self.call()


def _params(name, what):
    return [DTYPES, list(_headline(name)[what])]


class MethodsGaussian(_Fastcorr):
    """Gaussian 31x31 (sigma 5) on 4096x4096, 'same'/'symm': auto, direct, separable."""

    case = "gaussian"
    params = _params(case, "methods")


class MethodsGaussianPeers(_Peer):
    """cv2.sepFilter2D and cv2.filter2D (BORDER_REFLECT) on the Gaussian case."""

    case = "gaussian"
    params = _params(case, "peers")


class MethodsRank2(_Fastcorr):
    """A rank-2 25x25 kernel on 2048x2048, 'same'/'symm': auto, direct, separable."""

    case = "rank2"
    params = _params(case, "methods")


class MethodsRank2Peers(_Peer):
    """cv2.filter2D on the rank-2 case."""

    case = "rank2"
    params = _params(case, "peers")


class MethodsFullRank(_Fastcorr):
    """A full-rank random 9x9 kernel on 2048x2048, 'same'/'symm': auto against direct."""

    case = "full_rank"
    params = _params(case, "methods")


class MethodsFullRankPeers(_Peer):
    """cv2.filter2D on the full-rank 9x9 case."""

    case = "full_rank"
    params = _params(case, "peers")


class MethodsLargeKernel(_Fastcorr):
    """A random 101x101 kernel on 2048x2048, 'valid': auto, fft, direct."""

    case = "large_kernel"
    params = _params(case, "methods")


class MethodsLargeKernelPeers(_Peer):
    """scipy.signal.fftconvolve (flipped kernel) and cv2.filter2D (its DFT) on the 101x101
    case."""

    case = "large_kernel"
    params = _params(case, "peers")


class MethodsLong1D(_Fastcorr):
    """8,192 taps on 2,000,000 samples, 'valid': auto, fft, direct."""

    case = "long_1d"
    params = _params(case, "methods")


class MethodsLong1DPeers(_Peer):
    """scipy.signal.oaconvolve and fftconvolve (reversed kernel) on the 1-D case."""

    case = "long_1d"
    params = _params(case, "peers")
