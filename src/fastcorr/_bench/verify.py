"""How the benchmark checks a result before timing it: one rounding bound, applied everywhere.

A sum of n products computed in a dtype with machine epsilon eps errs by at most about
``n * eps/2`` times the sum of the absolute products, whatever the order of the additions; two
such results may err in opposite directions.  `tolerance` is that bound with margin, and is the
only one: the sampled checks of every section and ``python -m fastcorr``'s speed check use it.
An FFT errs differently (`fft_tolerance`).
"""
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Random output positions checked per result (the corners are added).
N_SAMPLED = 200


def tolerance(abs_sum, taps, dtype):
    """Largest allowed difference between a result and another result or the exact value.

    Parameters
    ----------
    abs_sum : ndarray or float
        Per output, the sum of the absolute products (``|x|`` correlated with ``|w|``), which
        sets the scale of its rounding error.
    taps : int
        Number of products summed per output (the kernel's size).
    dtype : dtype
        The precision the results were computed in.

    Returns
    -------
    ndarray or float
        ``2 * (taps + 1) * eps * abs_sum``.

    Examples
    --------
    >>> float(tolerance(1.0, 9, "float32")) == 20 * 2.0 ** -23
    True
    """
    return 2 * (taps + 1) * np.finfo(dtype).eps * abs_sum


def fft_tolerance(x, w, dtype):
    """The error an FFT-based correlation of `x` with `w` may have at any output.

    An FFT's rounding error is not local: every output carries error from the whole transform,
    about ``eps * log2(size) * max|x| * sum|w|``, even where ``|x|`` correlated with ``|w|`` is
    small.  Four times that is allowed.
    """
    eps = np.finfo(dtype).eps
    return 4 * eps * math.log2(x.size) * float(np.abs(x).max()) * float(np.abs(w).sum())


def _worst(got, expected, tol):
    """Index of the worst output relative to `tol` (NaN is infinitely bad), and that ratio."""
    err = np.abs(got - expected)
    rel = np.where(np.isnan(err), np.inf, err / np.maximum(tol, np.finfo(np.float64).tiny))
    k = int(np.argmax(rel))
    return k, rel.flat[k]


class SampledReference:
    """Exact float64 values of the valid correlation at a random sample of output positions.

    A full float64 reference of a 2048x2048 image with K=31 would itself be a slow direct
    correlation (or an FFT with its own error); a few hundred exact dot products catch a wrong
    crop, a flipped kernel or a broken tile just as well, at a cost of milliseconds.  Works in
    any number of dimensions (the 1-D section uses it too).

    Parameters
    ----------
    x, w : ndarray
        Input and kernel the results will be checked for, with the same number of dimensions.
    rng : numpy.random.Generator
        Chooses the positions.
    n : int, optional
        Number of random positions (the corners are always added).
    taps : int, optional
        Products per output for the rounding bound; default ``w.size``.  A separable filter
        computed as one pass per axis rounds like a sum of its 1-D lengths, not their product.
    dtype : dtype, optional
        The precision the results are computed in; default ``x.dtype`` (give it for integer
        inputs).
    slack : float, optional
        Absolute difference allowed on top of the rounding bound: 1 for results stored in an
        integer type (truncated or rounded).

    Examples
    --------
    >>> x, w = np.arange(10.0), np.array([1.0, -1.0])
    >>> ref = SampledReference(x, w, np.random.default_rng(0), n=5)
    >>> ref.check(np.full(9, -1.0))[0], ref.check(np.zeros(9))[0]
    (True, False)
    """

    def __init__(self, x, w, rng, n=N_SAMPLED, taps=None, dtype=None, slack=0.0):
        self.shape = tuple(a - b + 1 for a, b in zip(x.shape, w.shape))
        # Corners: an off-by-one crop or a missed edge tile shows there first.
        corners = list(zip(*itertools.product(*[(0, s - 1) for s in self.shape])))
        self.index = tuple(np.concatenate([c, rng.integers(0, s, n)])
                           for c, s in zip(corners, self.shape))
        windows = sliding_window_view(x, w.shape)[self.index].astype(np.float64)
        w64 = w.astype(np.float64)
        self.ref = np.tensordot(windows, w64, w.ndim)
        dtype = x.dtype if dtype is None else np.dtype(dtype)
        self.direct_tol = tolerance(np.tensordot(np.abs(windows), np.abs(w64), w.ndim),
                                    w.size if taps is None else taps, dtype) + slack
        self.fft_tol = np.maximum(self.direct_tol, fft_tolerance(x, w64, dtype) + slack)

    def check(self, result, fft=False):
        """Compare `result` with the reference at the sampled positions.

        Parameters
        ----------
        result : ndarray
            A valid correlation computed by some library.
        fft : bool, optional
            Allow for FFT rounding error (`fft_tolerance`).

        Returns
        -------
        (bool, str)
            Whether every sampled value is within tolerance (NaN never is), and a short
            description: the worst error relative to tolerance, or the first failure.
        """
        if not isinstance(result, np.ndarray) or result.shape != self.shape:
            got = getattr(result, "shape", type(result).__name__)
            return False, f"shape {got}, expected {self.shape}"
        got = result[self.index].astype(np.float64)
        tol = self.fft_tol if fft else self.direct_tol
        k, worst = _worst(got, self.ref, tol)
        if worst > 1:
            at = tuple(int(i[k]) for i in self.index)
            return False, (f"at {at[0] if len(at) == 1 else at}: got {got[k]:.7g}, expected "
                           f"{self.ref[k]:.7g} (|diff| {abs(got[k] - self.ref[k]):.3g} > "
                           f"tolerance {tol[k]:.3g})")
        return True, f"max |diff|/tolerance {worst:.2g} over {len(got)} positions"


def abs_correlate_f64(x, w):
    """Valid correlation of ``|x|`` with ``|w|`` in float64 (2-D): `tolerance`'s scale for
    every output of a whole result."""
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


def compare(result, other, x, w, names=("result", "other")):
    """Check every output of a valid 2-D correlation against another library's.

    Parameters
    ----------
    result, other : ndarray
        Two valid correlations of `x` with `w`, computed in the dtype of `x`.
    x, w : ndarray
        Image and kernel.
    names : (str, str), optional
        What computed `result` and `other`, for the message.

    Returns
    -------
    (bool, str)
        Whether they agree within `tolerance` everywhere (NaN never does), and if not, how many
        outputs differ and the worst one.

    Examples
    --------
    >>> x, w = np.ones((4, 4), np.float32), np.ones((2, 2), np.float32)
    >>> compare(np.full((3, 3), 4, np.float32), np.full((3, 3), 4.0), x, w)
    (True, '')
    """
    ours, theirs = names
    if result.shape != other.shape:
        return False, f"shape {result.shape}, {theirs} gives {other.shape}"
    got, expected = result.astype(np.float64), other.astype(np.float64)
    bound = tolerance(abs_correlate_f64(x, w), w.size, x.dtype)
    bad = ~(np.abs(got - expected) <= bound)  # NaN fails too
    if not bad.any():
        return True, ""
    k, _ = _worst(got, expected, bound)
    i, j = np.unravel_index(k, got.shape)
    return False, (f"{int(bad.sum())} of {bad.size} outputs differ from {theirs} beyond the "
                   f"rounding bound; e.g. at ({i}, {j}) {ours} {got[i, j]:.9g}, {theirs} "
                   f"{expected[i, j]:.9g}, |diff| {abs(got[i, j] - expected[i, j]):.3g} > bound "
                   f"{bound[i, j]:.3g}")


# --------------------------------------------------------------------------- same-size filters
# scipy.ndimage's border modes as np.pad names them.
NP_PAD_MODES = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap",
                "constant": "constant"}


def filter_weights(function, params):
    """The full kernel a scipy.ndimage filter correlates with, from its definition (not from
    scipy's or fastcorr's code): the oracle of the ndimage section.

    Parameters
    ----------
    function : str
        'correlate', 'gaussian_filter' (order 0, truncate 4), 'uniform_filter', 'sobel',
        'laplace' or 'gaussian_laplace' (truncate 4), on two axes.
    params : dict
        The call's arguments after the input (``weights``, ``sigma``, ``size``, ``axis``).

    Examples
    --------
    >>> filter_weights("sobel", {"axis": 0})
    array([[-1., -2., -1.],
           [ 0.,  0.,  0.],
           [ 1.,  2.,  1.]])
    """
    if function == "correlate":
        return np.asarray(params["weights"])
    if function in ("gaussian_filter", "gaussian_laplace"):
        sigma = params["sigma"]
        radius = int(4.0 * sigma + 0.5)
        t = np.arange(-radius, radius + 1)
        g = np.exp(-0.5 * (t / sigma) ** 2)
        g /= g.sum()
        if function == "gaussian_filter":
            return np.outer(g, g)
        # The second derivative of the sampled Gaussian (as a function of t, normalised
        # first) along each axis beside the Gaussian along the other, summed.
        g2 = (t * t / sigma ** 4 - 1 / sigma ** 2) * g
        return np.outer(g2, g) + np.outer(g, g2)
    if function == "uniform_filter":
        box = np.full(params["size"], 1.0 / params["size"])
        return np.outer(box, box)
    if function == "sobel":
        derivative, smooth = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])
        return np.outer(derivative, smooth) if params["axis"] == 0 else \
            np.outer(smooth, derivative)
    if function == "laplace":
        # The second difference [1, -2, 1] along each axis, summed.
        return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    raise ValueError(function)


class SameSizeReference:
    """Exact float64 values of a same-size (scipy.ndimage) correlation with origin 0 at sampled
    positions: a `SampledReference` over the input extended by np.pad as the mode says.

    The kernel's centre is index ``k // 2`` along each axis, so output i reads input
    ``i - k // 2`` to ``i + (k - 1) // 2``: that many values are added before and after.

    Parameters
    ----------
    x, w : ndarray
        Input and full kernel (`filter_weights`), with the same number of dimensions.
    mode : str
        scipy.ndimage's mode (one of NP_PAD_MODES).
    rng : numpy.random.Generator
        Chooses the positions.
    cval : float, optional
        The fill value of mode 'constant'.
    **options
        `SampledReference`'s ``n``, ``taps``, ``dtype`` and ``slack``.

    Examples
    --------
    >>> x = np.arange(5.0)
    >>> ref = SameSizeReference(x, np.array([1.0, 1.0, 1.0]), "nearest", np.random.default_rng(0))
    >>> ref.check(np.array([1.0, 3, 6, 9, 11]))[0]
    True
    """

    def __init__(self, x, w, mode, rng, cval=0.0, **options):
        pad = [(k // 2, (k - 1) // 2) for k in w.shape]
        extra = {"constant_values": cval} if mode == "constant" else {}
        extended = np.pad(x, pad, mode=NP_PAD_MODES[mode], **extra)
        self.sampled = SampledReference(extended, w, rng, **options)
        self.shape = self.sampled.shape

    def check(self, result, fft=False):
        """`SampledReference.check`."""
        return self.sampled.check(result, fft=fft)


class WholeResult:
    """Checks a whole result against another library's, value by value, within `within`
    (0: equal).

    Parameters
    ----------
    expected : ndarray
        The other library's result.
    within : float
        Largest allowed absolute difference.
    name : str
        What computed `expected`, for the message.
    dtype : dtype, optional
        The dtype the result must have, if any.

    Examples
    --------
    >>> check = WholeResult(np.array([1, 2, 3], np.uint8), 0, "scipy")
    >>> check.check(np.array([1, 2, 3], np.uint8))[0], check.check(np.array([1, 2, 4]))[0]
    (True, False)
    """

    def __init__(self, expected, within, name, dtype=None):
        self.expected, self.within, self.name, self.dtype = expected, within, name, dtype

    def check(self, result, fft=False):
        """Whether `result` has the shape (and dtype) and values expected, and a short
        description (`fft` is accepted for the interface and ignored)."""
        if not isinstance(result, np.ndarray) or result.shape != self.expected.shape:
            got = getattr(result, "shape", type(result).__name__)
            return False, f"shape {got}, {self.name} gives {self.expected.shape}"
        if self.dtype is not None and result.dtype != self.dtype:
            return False, f"dtype {result.dtype}, expected {np.dtype(self.dtype)}"
        diff = np.abs(result.astype(np.float64) - self.expected.astype(np.float64))
        bad = ~(diff <= self.within)
        if bad.any():
            at = np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), diff.shape)
            return False, (f"{int(bad.sum())} of {bad.size} values differ from {self.name}'s "
                           f"by more than {self.within:g}; e.g. at {tuple(map(int, at))} got "
                           f"{result[at]}, {self.name} {self.expected[at]}")
        what = "equal to" if self.within == 0 else f"within {self.within:g} of"
        return True, f"every value {what} {self.name}'s (max |diff| {diff.max():g})"
