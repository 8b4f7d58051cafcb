"""The libraries fastcorr is measured against, each described once.

``python -m fastcorr bench`` and the asv suite (benchmarks/bench_correlate.py) both take their
peers from here.  fastcorr's only runtime dependency is NumPy, so a peer's library is imported
only when a run asks for it (`load`, `Peer.require`), and a missing one is skipped with a note.

This module imports nothing from fastcorr: the asv suite loads it from the source tree, to
measure old builds of fastcorr against today's peers.
"""
import importlib
import math

import numpy as np


class Peer:
    """One library's way of computing a valid correlation.

    Parameters
    ----------
    label : str
        Its name in the console and the JSON's ``library``.
    column : str
        Its column in the summary table and the JSON's ``column`` (``x_<column>`` in the 1-D
        section's records).
    package : str
        The package it needs; `require` imports it, and its version goes into the JSON.
    call : callable
        ``call(x, w, n_threads)`` sets the library's thread count and returns a zero-argument
        callable producing the valid correlation of `x` with `w`, cropping, flipping and
        wrapping included, since a user pays for them too.
    threaded : bool
        False for a library that runs on one thread whatever it is asked, whose measurement is
        then shared between thread counts.
    fft_from : dict, optional
        Kernel size (number of taps, per dtype name) from which the library answers by FFT, so
        its error may be an FFT's; None if it never does.
    crop_flops : (float, float), optional
        For a library with no fast path (about 0.5-2 GFLOP/s): the most FLOPs one call may
        cost, in a full run and with ``--quick``.  On a 2048x2048 image with K=31 it would need
        seconds to minutes per call, and its GFLOP/s does not depend on the image size, so a
        crop measures the same rate.  None: never cropped.
    """

    def __init__(self, label, column, package, call, threaded, fft_from=None, crop_flops=None):
        self.label, self.column, self.package, self.call = label, column, package, call
        self.threaded, self.fft_from, self.crop_flops = threaded, fft_from, crop_flops

    def require(self):
        """Import the library; ImportError (or OSError, for a broken binary) if it cannot be.

        Returns
        -------
        str
            The package's version.
        """
        return _import(self.package)

    def uses_fft(self, dtype, taps):
        """Whether the library may answer a kernel of `taps` taps in `dtype` by FFT."""
        return self.fft_from is not None and taps >= self.fft_from[dtype]

    def crop(self, shape, k, quick):
        """The crop of an image of `shape` this library is timed on with a k x k kernel.

        Returns
        -------
        (int, int) or None
            The largest square-ish crop (a multiple of 16) whose valid correlation costs at
            most `crop_flops`, or None when the whole image fits (or the library has no cap).
        """
        if self.crop_flops is None:
            return None
        cap = self.crop_flops[1 if quick else 0]
        h, w = shape
        if 2.0 * (h - k + 1) * (w - k + 1) * k * k <= cap:
            return None
        side = int(math.sqrt(cap / (2.0 * k * k))) + k - 1
        side = max(side // 16 * 16, 4 * k, 64)
        return (min(h, side), min(w, side))


# --------------------------------------------------------------------------- how each is called
def _cv2_filter2d(x, w, n_threads):
    import cv2
    cv2.setNumThreads(n_threads)
    oh, ow = x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1
    # Anchor (0, 0) puts the window's top-left corner on the output pixel, which makes
    # filter2D's (correlation) output at [:oh, :ow] the valid one.
    return lambda: cv2.filter2D(x, -1, w, anchor=(0, 0),
                                borderType=cv2.BORDER_CONSTANT)[:oh, :ow]


def _ndimage_correlate(x, w, n_threads):
    from scipy import ndimage
    # ndimage centres the kernel at index size//2 along each axis (origin=0), so the output
    # whose window starts at (0, 0) sits at (kh//2, kw//2); (k-1)//2 would be off by one for
    # even k.
    kh, kw = w.shape
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    r0, c0 = kh // 2, kw // 2
    return lambda: ndimage.correlate(x, w, mode="constant")[r0:r0 + oh, c0:c0 + ow]


def _signal_correlate2d(x, w, n_threads):
    from scipy import signal
    return lambda: signal.correlate2d(x, w, mode="valid")


def _fftconvolve(x, w, n_threads):
    from scipy import fft, signal

    def run():
        # fftconvolve takes no workers= but runs on scipy.fft, which honours this.
        with fft.set_workers(n_threads):
            return signal.fftconvolve(x, np.flip(w), mode="valid")
    return run


def _torch_conv2d(x, w, n_threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(n_threads)
    xt = torch.from_numpy(x)[None, None]
    wt = torch.from_numpy(w)[None, None]

    def run():
        with torch.no_grad():
            return F.conv2d(xt, wt).numpy()[0, 0]
    return run


def _numpy_correlate(x, v, n_threads):
    return lambda: np.correlate(x, v, "valid")


def _oaconvolve(x, v, n_threads):
    from scipy import fft, signal

    def run():
        with fft.set_workers(n_threads):  # as for fftconvolve
            return signal.oaconvolve(x, np.flip(v), mode="valid")
    return run


_ALWAYS = {"float32": 1, "float64": 1}

# The 2-D peers, in the summary table's column order.
PEERS = (
    # OpenCV switches to a DFT for large kernels (area >= 130 float32, >= 50 float64 in the
    # versions read), so its error may be an FFT's.
    Peer("cv2.filter2D", "cv2", "cv2", _cv2_filter2d, threaded=True,
         fft_from={"float32": 130, "float64": 50}),
    Peer("scipy.ndimage.correlate", "ndimage", "scipy", _ndimage_correlate, threaded=False,
         crop_flops=(6e8, 1.2e8)),
    Peer("scipy.signal.correlate2d", "signal.correlate2d", "scipy", _signal_correlate2d,
         threaded=False, crop_flops=(1.5e8, 3e7)),
    Peer("scipy.signal.fftconvolve", "fftconvolve", "scipy", _fftconvolve, threaded=True,
         fft_from=_ALWAYS),
    Peer("torch conv2d", "torch", "torch", _torch_conv2d, threaded=True),
)

# The 1-D section's peers, in its table's column order.
ONE_D_PEERS = (
    Peer("numpy.correlate", "numpy", "numpy", _numpy_correlate, threaded=False),
    Peer("scipy.signal.oaconvolve", "oaconvolve", "scipy", _oaconvolve, threaded=True,
         fft_from=_ALWAYS),
)

# --------------------------------------------------------------------------- the ndimage section's
# scipy.ndimage's modes as OpenCV names its borders.  OpenCV's filters have no 'wrap' (filter2D
# asserts ``columnBorderType != BORDER_WRAP``), and its BORDER_CONSTANT fills with 0 (filter2D
# takes no border value), so the section keeps cval at scipy's default, 0.
CV2_BORDERS = {"reflect": "BORDER_REFLECT", "mirror": "BORDER_REFLECT_101",
               "nearest": "BORDER_REPLICATE", "constant": "BORDER_CONSTANT"}


class FilterPeer:
    """One library's way of computing a scipy.ndimage filter's same-size result.

    Parameters
    ----------
    label, column, package, threaded
        As for `Peer`.
    make : callable
        ``make(function, x, params, n_threads)``: for scipy.ndimage's `function` called on `x`
        with the keyword arguments `params`, sets the library's thread count and returns
        ``(label, call, fft)`` (the library's function, a zero-argument callable computing the
        same result as scipy.ndimage would, whether it may answer by FFT), or a string saying
        why the library has no equivalent (a border it lacks).
    crop_flops : (float, float), optional
        As for `Peer` (the FLOPs counted as the ndimage section counts them).
    """

    def __init__(self, label, column, package, make, threaded, crop_flops=None):
        self.label, self.column, self.package, self.make = label, column, package, make
        self.threaded, self.crop_flops = threaded, crop_flops

    def require(self):
        """`Peer.require`."""
        return _import(self.package)

    def crop(self, shape, flops_per_output, quick):
        """The crop of an input of `shape` this library is timed on, or None for all of it.

        Returns
        -------
        tuple of int or None
            A crop with every side equal (a multiple of 16, at least 64, at most the input's)
            whose outputs cost at most `crop_flops`, or None when the whole input fits.
        """
        if self.crop_flops is None:
            return None
        cap = self.crop_flops[1 if quick else 0]
        if math.prod(shape) * flops_per_output <= cap:
            return None
        side = int((cap / flops_per_output) ** (1.0 / len(shape)))
        side = max(side // 16 * 16, 64)
        return tuple(min(n, side) for n in shape)


def _ndimage_same(function, x, params, n_threads):
    from scipy import ndimage
    fn = getattr(ndimage, function)
    return f"scipy.ndimage.{function}", lambda: fn(x, **params), False


def _cv2_same(function, x, params, n_threads):
    import cv2
    if x.ndim != 2:
        return "OpenCV's filters are 2-D"
    mode = params.get("mode", "reflect")
    if mode not in CV2_BORDERS or params.get("cval", 0.0) != 0.0:
        return f"OpenCV has no border like mode={mode!r}"
    cv2.setNumThreads(n_threads)
    border = getattr(cv2, CV2_BORDERS[mode])
    dst = params.get("output")  # an array made once for the result (scipy's output=)
    if function == "correlate":
        # filter2D correlates (no flip); its default anchor, the kernel's centre, is index
        # k // 2 as scipy's origin 0 is, for odd and even k alike.
        w = params["weights"]
        fft = by_column("cv2").uses_fft(x.dtype.name, w.size) if x.dtype.kind == "f" else False
        return "cv2.filter2D", lambda: cv2.filter2D(x, -1, w, dst=dst, borderType=border), fft
    if function == "gaussian_filter":
        sigma = params["sigma"]
        size = 2 * int(4.0 * sigma + 0.5) + 1  # scipy's radius with truncate=4
        return "cv2.GaussianBlur", lambda: cv2.GaussianBlur(
            x, (size, size), sigmaX=sigma, sigmaY=sigma, borderType=border, dst=dst), False
    if function == "uniform_filter":
        size = params["size"]
        return "cv2.blur", lambda: cv2.blur(x, (size, size), borderType=border, dst=dst), False
    if function == "sobel":
        # scipy's axis 0 is the derivative down the rows: OpenCV's dy.
        dx, dy = (0, 1) if params["axis"] == 0 else (1, 0)
        depth = cv2.CV_32F if x.dtype == np.float32 else cv2.CV_64F
        return "cv2.Sobel", lambda: cv2.Sobel(x, depth, dx, dy, ksize=3, borderType=border,
                                              dst=dst), False
    if function == "laplace":
        # ksize=1: the aperture [[0, 1, 0], [1, -4, 1], [0, 1, 0]], scipy's two second
        # differences.
        depth = cv2.CV_32F if x.dtype == np.float32 else cv2.CV_64F
        return "cv2.Laplacian", lambda: cv2.Laplacian(x, depth, ksize=1, borderType=border,
                                                      dst=dst), False
    return f"no OpenCV equivalent of {function}"


def _torch_same(function, x, params, n_threads):
    import torch
    import torch.nn.functional as F
    w = params.get("weights")
    if function != "correlate" or x.ndim != 3 or w is None or any(k % 2 == 0 for k in w.shape):
        return "torch's conv3d is compared on 3-D correlations with odd kernels only"
    if params.get("mode") != "constant" or params.get("cval", 0.0) != 0.0:
        return "conv3d pads with zeros: only mode='constant', cval=0"
    torch.set_num_threads(n_threads)
    xt = torch.from_numpy(x)[None, None]
    wt = torch.from_numpy(np.ascontiguousarray(w, dtype=x.dtype))[None, None]
    pad = tuple(k // 2 for k in w.shape)

    def run():
        # conv3d has no out= for a padded call: its result is new every time.
        with torch.no_grad():
            return F.conv3d(xt, wt, padding=pad).numpy()[0, 0]
    return "torch conv3d", run, False


# The ndimage section's peers, in its table's column order.  scipy.ndimage computes at about
# 1-5 GFLOP/s on one thread: it is timed on a crop (its rate per output does not depend on the
# image's size) and the table scales its time to the whole input.
FILTER_PEERS = (
    FilterPeer("scipy.ndimage", "ndimage", "scipy", _ndimage_same, threaded=False,
               crop_flops=(6e8, 1.2e8)),
    FilterPeer("OpenCV", "cv2", "cv2", _cv2_same, threaded=True),
    FilterPeer("torch", "torch", "torch", _torch_same, threaded=True),
)

# --------------------------------------------------------------------------- the methods section's
class MethodPeer:
    """One library's way of computing a case of the methods section: the correlation of `x`
    with `w` in mode 'valid', or 'same' with symmetric borders ('symm': scipy.ndimage's and
    OpenCV's 'reflect'), in 2-D or 1-D.

    Parameters
    ----------
    label, column, package, threaded, fft_from
        As for `Peer`.
    make : callable
        ``make(x, w, n_threads, mode, factors)`` sets the library's thread count and returns a
        zero-argument callable computing the case's result (boundary extension, flips and crops
        included: a user pays for them too), or a string saying why the library has no such
        call.  `factors` is (column taps, row taps) for a kernel given as a separable filter
        (the Gaussian), else None.
    crop_flops : (float, float), optional
        As for `Peer`.
    takes_dst : bool, optional
        `make` also takes ``dst=``, an array of the input's shape its 'same' call writes into.
    """

    def __init__(self, label, column, package, make, threaded, fft_from=None, crop_flops=None,
                 takes_dst=False):
        self.label, self.column, self.package, self.make = label, column, package, make
        self.threaded, self.fft_from, self.crop_flops = threaded, fft_from, crop_flops
        self.takes_dst = takes_dst

    def require(self):
        """`Peer.require`."""
        return _import(self.package)

    def uses_fft(self, dtype, taps):
        """`Peer.uses_fft`."""
        return self.fft_from is not None and taps >= self.fft_from[dtype]

    def crop(self, shape, kernel_shape, mode, quick):
        """The crop of an input of `shape` this library is timed on, or None for all of it.

        Returns
        -------
        tuple of int or None
            Equal sides (2-D: a multiple of 16, at least 64 and 4 kernel sides; 1-D: at
            least 1,024 outputs), at most the input's, whose outputs cost at most `crop_flops`
            (2 per tap and output) unless that floor is larger, or None when the whole input
            fits.
        """
        if self.crop_flops is None:
            return None
        cap = self.crop_flops[1 if quick else 0]
        taps = math.prod(kernel_shape)
        valid = mode == "valid"
        outputs = math.prod(n - k + 1 if valid else n for n, k in zip(shape, kernel_shape))
        if 2.0 * taps * outputs <= cap:
            return None
        k = max(kernel_shape)
        side = int((cap / (2.0 * taps)) ** (1.0 / len(shape))) + (k - 1 if valid else 0)
        side = max(side // 16 * 16, 4 * k, 64) if len(shape) == 2 else max(side, k + 1023)
        return tuple(min(n, side) for n in shape)


# fastcorr's (and scipy.signal's) 'same' output i reads the window starting at
# i - (k - 1) // 2: for an even k one sample later than scipy.ndimage's and OpenCV's default
# centre, k // 2, so their calls below shift by one there.
def _same_pad(w):
    """np.pad's widths for the 'same' window of `w`."""
    return [((k - 1) // 2, k // 2) for k in w.shape]


def _same_anchor(col_taps, row_taps):
    """OpenCV's anchor (x, y) for the 'same' window."""
    return ((row_taps - 1) // 2, (col_taps - 1) // 2)


def _cv2_method(x, w, n_threads, mode, factors, dst=None):
    if x.ndim != 2:
        return "OpenCV's filter2D is 2-D"
    if mode == "valid":
        return _cv2_filter2d(x, w, n_threads)
    import cv2
    cv2.setNumThreads(n_threads)
    # filter2D correlates; BORDER_REFLECT repeats the edge sample, as 'symm' does.
    anchor = _same_anchor(*w.shape)
    return lambda: cv2.filter2D(x, -1, w, dst=dst, anchor=anchor,
                                borderType=cv2.BORDER_REFLECT)


def _cv2_sep_method(x, w, n_threads, mode, factors, dst=None):
    if x.ndim != 2 or factors is None:
        return "cv2.sepFilter2D needs a kernel given as two 1-D filters"
    import cv2
    cv2.setNumThreads(n_threads)
    column, row = factors
    if mode == "valid":
        oh, ow = x.shape[0] - len(column) + 1, x.shape[1] - len(row) + 1
        return lambda: cv2.sepFilter2D(x, -1, row, column, anchor=(0, 0),
                                       borderType=cv2.BORDER_CONSTANT)[:oh, :ow]
    # kernelX runs along the rows (the row factor), kernelY down the columns.
    anchor = _same_anchor(len(column), len(row))
    return lambda: cv2.sepFilter2D(x, -1, row, column, dst=dst, anchor=anchor,
                                   borderType=cv2.BORDER_REFLECT)


def _scipy_fft_method(name):
    def make(x, w, n_threads, mode, factors):
        from scipy import fft, signal
        convolve = getattr(signal, name)
        flipped = np.ascontiguousarray(np.flip(w))
        pad = None if mode == "valid" else _same_pad(w)

        def run():
            # Correlation as the convolution with the flipped kernel; 'symm' as np.pad's
            # 'symmetric' extension, then the valid part.  scipy.fft honours set_workers.
            with fft.set_workers(n_threads):
                source = x if pad is None else np.pad(x, pad, mode="symmetric")
                return convolve(source, flipped, mode="valid")
        return run
    return make


def _ndimage_method(x, w, n_threads, mode, factors):
    if x.ndim != 2:
        return "compared on 2-D cases only"
    if mode == "valid":
        return _ndimage_correlate(x, w, n_threads)
    from scipy import ndimage
    origin = [-(1 - k % 2) for k in w.shape]
    return lambda: ndimage.correlate(x, w, mode="reflect", origin=origin)


def _numpy_method(x, w, n_threads, mode, factors):
    if x.ndim != 1 or mode != "valid":
        return "numpy.correlate: 1-D, 'valid' only here"
    return _numpy_correlate(x, w, n_threads)


# The methods section's peers.  The one-thread direct ones are timed on a crop (cheaper than
# the grid's: the sweeps time them at up to 20 kernel sizes per table).
METHOD_PEERS = (
    MethodPeer("cv2.filter2D", "cv2", "cv2", _cv2_method, threaded=True,
               fft_from=PEERS[0].fft_from, takes_dst=True),
    MethodPeer("cv2.sepFilter2D", "cv2_sep", "cv2", _cv2_sep_method, threaded=True,
               takes_dst=True),
    MethodPeer("scipy.signal.fftconvolve", "fftconvolve", "scipy",
               _scipy_fft_method("fftconvolve"), threaded=True, fft_from=_ALWAYS),
    MethodPeer("scipy.signal.oaconvolve", "oaconvolve", "scipy", _scipy_fft_method("oaconvolve"),
               threaded=True, fft_from=_ALWAYS),
    MethodPeer("scipy.ndimage.correlate", "ndimage", "scipy", _ndimage_method, threaded=False,
               crop_flops=(2e8, 5e7)),
    MethodPeer("numpy.correlate", "numpy", "numpy", _numpy_method, threaded=False,
               crop_flops=(2e8, 5e7)),
)


def method_peer(column):
    """The methods section's peer whose column is `column`."""
    return next(p for p in METHOD_PEERS if p.column == column)


# --------------------------------------------------------------------------- the nn section's
class NNPeer:
    """One library's convolution layer: conv2d forward, and its two gradients (the nn section).

    Parameters
    ----------
    label, column, package
        As for `Peer`.
    make : callable
        ``make(x, weight, grad_output, groups, n_threads)``, for NCHW arrays, stride 1 and no
        padding: sets the library's thread count and returns two zero-argument callables,
        ``forward()`` (conv2d of `x` with `weight`) and ``backward()`` (the gradients with
        respect to the input and the weight for the output gradient `grad_output`, as a
        pair), each returning NumPy arrays.
    """

    def __init__(self, label, column, package, make):
        self.label, self.column, self.package, self.make = label, column, package, make

    def require(self):
        """`Peer.require`."""
        return _import(self.package)


def _torch_nn(x, weight, grad_output, groups, n_threads):
    import torch
    import torch.nn.functional as F
    from torch.nn import grad
    torch.set_num_threads(n_threads)
    # from_numpy shares the arrays' memory: torch computes on the very arrays fastcorr gets.
    xt, wt, gt = (torch.from_numpy(a) for a in (x, weight, grad_output))

    def forward():
        with torch.no_grad():
            return F.conv2d(xt, wt, groups=groups).numpy()

    def backward():
        # torch.nn.grad's two functions, the calls fastcorr.nn's conv2d_input and
        # conv2d_weight mirror: one convolution_backward each, asking for one gradient.
        with torch.no_grad():
            return (grad.conv2d_input(xt.shape, wt, gt, groups=groups).numpy(),
                    grad.conv2d_weight(xt, wt.shape, gt, groups=groups).numpy())
    return forward, backward


NN_PEERS = (NNPeer("torch F.conv2d, nn.grad", "torch", "torch", _torch_nn),)


# Per package: the modules its peers use, and an install hint for the note when it is missing.
_PACKAGES = {
    "numpy": ((), ""),
    "scipy": (("scipy.fft", "scipy.ndimage", "scipy.signal"), ""),
    "cv2": ((), " (pip install opencv-python-headless)"),
    "torch": (("torch.nn.functional", "torch.nn.grad"), ""),
}


def _import(package):
    modules, _ = _PACKAGES[package]
    for name in modules:
        importlib.import_module(name)
    return importlib.import_module(package).__version__


def by_column(column):
    """The peer (2-D or 1-D) whose column is `column`."""
    return next(p for p in PEERS + ONE_D_PEERS if p.column == column)


def listing(peers):
    """The peers' labels as ``a, b and c`` (each once)."""
    labels = list(dict.fromkeys(p.label for p in peers))
    return ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]


def load():
    """Import every peer's package once.

    Returns
    -------
    versions : dict
        Version of each package that imported, by package name.
    notes : list of str
        One line per package that did not, naming the peers skipped for it.
    """
    versions, notes = {}, []
    for package, (_, hint) in _PACKAGES.items():
        try:
            versions[package] = _import(package)
        except (ImportError, OSError) as exc:  # torch raises OSError for a broken library
            skipped = [p for p in PEERS + ONE_D_PEERS + FILTER_PEERS + METHOD_PEERS + NN_PEERS
                       if p.package == package]
            notes.append(f"{package} not importable ({exc}): skipping {listing(skipped)}{hint}")
    return versions, notes
