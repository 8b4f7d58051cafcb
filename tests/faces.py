"""The four public functions ("faces") as the tests see them, and the one check of a call.

Each `Face` knows its peer (scipy.signal.correlate2d/convolve2d, numpy.correlate/convolve), its
core dimensions (2 or 1), its peer's default mode, and how to call it with or without the
2-D-only boundary arguments, so a test parametrised over faces states the feature once.
`check` calls a face and compares the result with the oracle (within the error bound) and with
the peer (within twice it), and asserts the result's dtype and that no input was modified.
"""
import numpy as np

import fastcorr
import oracle

try:
    import scipy.signal as scipy_signal
except ImportError:  # the oracle still checks every result; the peer comparison is skipped
    scipy_signal = None


class Face:
    def __init__(self, name, func, peer, core_ndim):
        self.name = name
        self.func = func
        self.peer = peer
        self.core_ndim = core_ndim
        self.convolve = name.startswith("convolve")
        self.default_mode = oracle.DEFAULT_MODE[name]
        # The trailing axes, as axes= names them (a pair for 2-D, one int for 1-D).
        self.last_axes = (-2, -1) if core_ndim == 2 else -1

    def __repr__(self):
        return self.name

    def __call__(self, in1, in2, mode=None, boundary="fill", fillvalue=0, **kwargs):
        """fastcorr's function; boundary and fillvalue are passed to the 2-D faces only."""
        args = (in1, in2, self.default_mode if mode is None else mode)
        if self.core_ndim == 2:
            args += (boundary, fillvalue)
        return self.func(*args, **kwargs)

    def exact(self, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0):
        return oracle.exact(self.name, in1, in2, dtype, mode, boundary, fillvalue)

    def bound(self, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0):
        return oracle.error_bound(self.name, in1, in2, dtype, mode, boundary, fillvalue)

    def peer_result(self, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0):
        """The peer's answer on the inputs cast to `dtype`, item by item for stacks."""
        mode = self.default_mode if mode is None else mode
        core = self.core_ndim

        def single(a, b):
            a, b = a.astype(dtype), b.astype(dtype)
            with np.errstate(invalid="ignore", over="ignore"):
                if core == 2:
                    # The fill in the result dtype: scipy warns about a zero imaginary part.
                    return self.peer(a, b, mode, boundary, oracle.fill_scalar(fillvalue, dtype))
                return self.peer(a, b, mode)

        return oracle.per_item(single, np.asarray(in1), np.asarray(in2), core)


CORRELATE2D = Face("correlate2d", fastcorr.correlate2d,
                   scipy_signal and scipy_signal.correlate2d, 2)
CONVOLVE2D = Face("convolve2d", fastcorr.convolve2d, scipy_signal and scipy_signal.convolve2d, 2)
CORRELATE = Face("correlate", fastcorr.correlate, np.correlate, 1)
CONVOLVE = Face("convolve", fastcorr.convolve, np.convolve, 1)
FACES_2D = [CORRELATE2D, CONVOLVE2D]
FACES_1D = [CORRELATE, CONVOLVE]
FACES = FACES_2D + FACES_1D


def snapshot(a):
    a = np.asarray(a)
    return a.copy(), a.dtype, a.shape, a.strides, a.flags.writeable


def assert_unchanged(snap, a, name):
    values, dtype, shape, strides, writeable = snap
    a = np.asarray(a)
    assert (a.dtype, a.shape, a.strides, a.flags.writeable) == (dtype, shape, strides,
                                                                 writeable), (
        f"{name} was reshaped, retyped or had its flags changed")
    assert np.array_equal(a, values, equal_nan=a.dtype.kind in "fc"), f"{name} was modified"


def check(face, in1, in2, dtype, mode=None, boundary="fill", fillvalue=0, *, use_peer=True,
          context="", **kwargs):
    """Call `face` and check it; returns the result.

    The result must have `dtype`, leave both inputs as they were, lie within the error bound
    of the oracle and within twice it of the peer (which also rounds in `dtype`).  Stacks are
    compared item by item; an `axes` argument must name the trailing axes (tests of other
    axes move them themselves).
    """
    if kwargs.get("axes") is not None:
        ndim = np.ndim(in1)
        trailing = tuple(range(ndim - face.core_ndim, ndim))
        assert tuple(np.atleast_1d(kwargs["axes"]) % ndim) == trailing, kwargs["axes"]
    snaps = snapshot(in1), snapshot(in2)
    result = face(in1, in2, mode, boundary, fillvalue, **kwargs)
    assert_unchanged(snaps[0], in1, "in1")
    assert_unchanged(snaps[1], in2, "in2")
    dtype = np.dtype(dtype)
    assert isinstance(result, np.ndarray)
    ctx = (f"{face.name} {np.shape(in1)} {np.asarray(in1).dtype} with {np.shape(in2)} "
           f"{np.asarray(in2).dtype} mode={mode or face.default_mode}"
           + (f" boundary={boundary} fillvalue={fillvalue!r}" if face.core_ndim == 2 else "")
           + f" {kwargs or ''} {context}")
    assert result.dtype == dtype, f"{ctx}: result dtype {result.dtype}, expected {dtype}"
    bound = face.bound(in1, in2, dtype, mode, boundary, fillvalue)
    with np.errstate(invalid="ignore", over="ignore"):
        reference = face.exact(in1, in2, dtype, mode, boundary, fillvalue)
    oracle.assert_within_bound(result, reference, bound, ctx + " vs the oracle")
    if use_peer and face.peer is not None:
        expected = face.peer_result(in1, in2, dtype, mode, boundary, fillvalue)
        oracle.assert_within_bound(result, expected, 2 * bound, ctx + f" vs {face.peer.__module__}")
    return result


def dtype_id(dtype):
    """A readable pytest id for a dtype."""
    return np.dtype(dtype).name


def random_array(rng, shape, dtype):
    """Values of `shape` in `dtype`: standard normal (an independent imaginary part for complex
    dtypes); 0/1 for bool; integers over the dtype's whole range (64-bit ones within +-2**40,
    which float32 cannot hold but float64 can, so a float32 computation of an integer input
    would miss the float64 bound by orders of magnitude)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(info.min, -2**40), min(info.max, 2**40)) if dtype.itemsize == 8 else \
            (info.min, info.max)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)
