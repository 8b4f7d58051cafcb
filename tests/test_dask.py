"""fastcorr.dask: fastcorr.ndimage's filters on dask arrays.

Each function of fastcorr.dask must return, lazily, with the input's chunks and the dtype
fastcorr.ndimage gives, the values ``fastcorr.ndimage.<f>(x.compute(), same args)``: for every
mode (the border applies at the array's outer edges, never at chunk edges), every chunking
(uneven chunks, chunks thinner than the kernel's reach, kernels longer than the array), origins,
even kernels, axes subsets, 1-D to 3-D inputs and float, integer and complex dtypes; raise the
argument errors fastcorr.ndimage raises, at call time; leave the input alone; give the same
result on the synchronous and threaded schedulers and on a dask.distributed cluster, after a
worker process is killed mid-way, and on an on-disk array larger than the cluster's memory.

Tolerances
----------
Integer results (uint8, int16, uint16 inputs with the default output) must be equal: both
sides compute them with scipy's float64 arithmetic and truncation, and a block's outputs are
the whole array's outputs computed from the same samples.

A float result may differ in its rounding: a block may be computed with another tiling, fused
passes or method than the whole array.  A pass of K taps with ``S = sum |w|`` on an input of
magnitude at most m rounds to within ``(K + 2) eps S m`` of the exact value (tests/ndoracle.py's
`bound`, with ``sum |w| |x| <= S m``); through the later passes an error is scaled by at most
their S, and a pass's input is at most the earlier passes' S times the data's magnitude M
(``max(max|x|, |cval|)``), so a chain of passes lies within
``sum_p (K_p + 2) eps * prod_q max(1, S_q) * M`` of the exact result.  fastcorr.dask and
fastcorr.ndimage each lie within that of it, so they are compared at twice that (`_tolerance`);
scipy.ndimage (float64, and float32 computed in float64 then rounded) at the same.  Complex
results: each part is the sum of up to two real filters, so twice again.

Most tests compute on the synchronous scheduler (deterministic, one task at a time on a shared
machine); `test_schedulers_agree` and the cluster tests cover the others.
"""
import inspect
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

import daskcluster  # noqa: E402
import fastcorr.dask as fcd  # noqa: E402
from fastcorr import _core, ndimage  # noqa: E402

SCHEDULER = "synchronous"
FUNCTIONS = ["correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
             "gaussian_filter1d", "uniform_filter", "uniform_filter1d", "sobel", "prewitt",
             "laplace", "gaussian_laplace", "gaussian_gradient_magnitude"]
MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap"]
CVAL = 0.75  # non-zero, so 'constant' shows whether it reached a chunk edge

# (shape, chunks) of 2-D inputs: one block, regular blocks, uneven blocks, blocks of one or two
# samples at every edge of the array (thinner than the kernels' reach, where the mode reads
# the samples next to the edge), rows of one sample, columns of two, small blocks of a small
# array, and blocks of one sample of an array shorter than the 7-tap kernels.
CHUNKINGS = {
    "one block": ((64, 64), (64, 64)),
    "regular": ((64, 64), (16, 16)),
    "uneven": ((64, 64), ((5, 17, 9, 33), (40, 3, 21))),
    "thin edges": ((64, 64), ((1, 2, 58, 2, 1), (2, 1, 57, 1, 3))),
    "rows of 1": ((24, 30), (1, 30)),
    "columns of 2": ((30, 24), (30, 2)),
    "2x3 blocks": ((9, 10), (2, 3)),
    "1x1 blocks, kernel > array": ((5, 6), (1, 1)),
}
# The chunkings the many multi-pass cases run on (the others add little there).
SOME_CHUNKINGS = ["uneven", "thin edges", "rows of 1", "1x1 blocks, kernel > array"]


def seeded(*key):
    """A generator seeded by the test's parameters, so each case has its own data and a
    failure reproduces on its own."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def random(rng, shape, dtype):
    """Values in [0, 1) for floats (so the tolerances' M is 1), both parts for complex; the
    integer types over a range wide enough for their truncation to matter."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (rng.random(shape) + 1j * rng.random(shape)).astype(dtype)
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    low, high = {"uint8": (0, 256), "int16": (-1000, 1001), "uint16": (0, 5001)}[dtype.name]
    x = rng.integers(low, high, shape).astype(dtype)
    flat = tuple(slice(0, max(1, n // 3)) for n in shape)
    x[flat] = x.flat[0]  # a flat region: outputs land on integers, where truncation bites
    return x


# --------------------------------------------------------------------------- tolerances
def gauss(sigma, order=0, truncate=4.0, radius=None):
    """(taps, sum |w|) of scipy's sampled Gaussian (derivative) kernel, computed here from its
    definition: for the tolerance only."""
    r = int(truncate * float(sigma) + 0.5) if radius is None else radius
    t = np.arange(-r, r + 1, dtype=np.float64)
    phi = np.exp(-0.5 * t ** 2 / sigma ** 2)
    phi /= phi.sum()
    w = {0: phi, 1: -t / sigma ** 2 * phi, 2: (t ** 2 / sigma ** 4 - 1 / sigma ** 2) * phi}[order]
    return 2 * r + 1, float(np.abs(w).sum())


def uniform(size):
    return size, 1.0


SOBEL = [(3, 2.0), (3, 4.0)]      # [-1, 0, 1] along the axis, [1, 2, 1] along the other
PREWITT = [(3, 2.0), (3, 3.0)]
LAPLACE_2D = [(3, 4.0), (3, 4.0)]  # two [1, -2, 1] passes summed: within the chain's bound


def _tolerance(dtype, passes, scale=1.0, parts=1):
    """Twice the bound of a chain of `passes` ((taps, sum |w|) each) on data of magnitude
    `scale`, in the result's `dtype` (see the module docstring); `parts` real filters summed
    per output (complex)."""
    dtype = np.dtype(dtype)
    finfo = np.finfo(dtype)
    gain = float(np.prod([max(1.0, s) for _, s in passes]))
    rounding = sum(k + 2 for k, _ in passes) * float(finfo.eps) * gain * scale
    return 2 * parts * (rounding + float(finfo.tiny))


def _magnitude(x, cval=CVAL):
    return max(float(np.max(np.abs(x))) if x.size else 0.0, abs(cval))


def assert_matches(result, expected, tolerance, context):
    """Same shape and dtype; integers equal; floats (each part of complex) within
    `tolerance`."""
    result, expected = np.asarray(result), np.asarray(expected)
    assert result.shape == expected.shape, f"{context}: shape {result.shape} != {expected.shape}"
    assert result.dtype == expected.dtype, f"{context}: dtype {result.dtype} != {expected.dtype}"
    if expected.dtype.kind in "biu":
        wrong = np.argwhere(result != expected)
        if wrong.size:
            at = tuple(int(i) for i in wrong[0])
            raise AssertionError(f"{context}: {len(wrong)} of {result.size} values differ, "
                                 f"first at {at}: {result[at]} != {expected[at]}")
        return
    for part in ((np.real, np.imag) if expected.dtype.kind == "c" else (np.asarray,)):
        error = np.abs(part(result).astype(np.float64) - part(expected).astype(np.float64))
        error[np.isnan(error)] = np.inf
        if not np.all(error <= tolerance):
            at = np.unravel_index(np.argmax(error), error.shape)
            raise AssertionError(
                f"{context}: {np.count_nonzero(error > tolerance)} of {error.size} values off "
                f"by more than {tolerance:.3g}; worst {error[at]:.3g} at {tuple(map(int, at))}: "
                f"{part(result)[at]} != {part(expected)[at]}")


def _describe(args):
    """The arguments for a failure's message, arrays by shape only."""
    return ", ".join(f"<{np.shape(a)} array>" if np.ndim(a) else repr(a) for a in args)


def check(name, x_np, chunks, args=(), kwargs=None, tolerance=0.0, scheduler=SCHEDULER):
    """``fastcorr.dask.<name>`` of `x_np` in `chunks` against ``fastcorr.ndimage.<name>`` of
    `x_np`: a lazy dask array with the input's chunks and ndimage's dtype before computing,
    ndimage's values (within `tolerance` for floats) after, and the input unchanged (the NumPy
    array the blocks are views of, and the dask array's values).  Returns the result."""
    kwargs = kwargs or {}
    context = f"{name}({_describe(args)}) {kwargs} chunks={chunks} dtype={x_np.dtype}"
    original = x_np.copy()
    x = da.from_array(x_np, chunks=chunks)
    expected = getattr(ndimage, name)(x_np.copy(), *args, **kwargs)
    y = getattr(fcd, name)(x, *args, **kwargs)
    assert isinstance(y, da.Array), f"{context}: returned {type(y).__name__}"
    assert y.chunks == x.chunks, f"{context}: chunks {y.chunks} != {x.chunks}"
    assert y.dtype == expected.dtype, f"{context}: lazy dtype {y.dtype} != {expected.dtype}"
    result = y.compute(scheduler=scheduler)
    assert isinstance(result, np.ndarray), f"{context}: computed {type(result).__name__}"
    assert_matches(result, expected, tolerance, context)
    assert np.array_equal(x_np, original), f"{context}: the input array was modified"
    assert np.array_equal(x.compute(scheduler=scheduler), original), \
        f"{context}: the dask input's values changed"
    return result


# --------------------------------------------------------------------------- the face
def test_signatures_are_ndimage_s():
    """Every filter takes exactly fastcorr.ndimage's parameters: names, order, kinds (workers=,
    method=, axes=, radius= keyword-only) and defaults."""
    for name in FUNCTIONS:
        ours = inspect.signature(getattr(fcd, name)).parameters
        theirs = inspect.signature(getattr(ndimage, name)).parameters
        assert [(p.name, p.kind, p.default) for p in ours.values()] == \
            [(p.name, p.kind, p.default) for p in theirs.values()], name


def _import_in_subprocess(code):
    """Runs `code` in a fresh interpreter with this one's sys.path (where fastcorr was found)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_fastcorr_does_not_import_dask():
    """dask is optional and slow to import: ``import fastcorr`` must not pull it in."""
    out = _import_in_subprocess(
        "import sys, fastcorr\n"
        "print(sorted(m for m in sys.modules if m == 'dask' or m.startswith('dask.')))\n")
    assert out.strip() == "[]", f"import fastcorr imported {out.strip()}"


def test_fastcorr_dask_is_importable_and_a_lazy_attribute():
    """``import fastcorr.dask`` works, and after ``import fastcorr`` the attribute
    ``fastcorr.dask`` imports it on first access (and only then)."""
    out = _import_in_subprocess(
        "import sys\n"
        "import fastcorr.dask\n"
        "assert callable(fastcorr.dask.gaussian_filter)\n"
        "print('ok')\n")
    assert out.strip() == "ok"
    out = _import_in_subprocess(
        "import sys, fastcorr\n"
        "assert 'dask' not in sys.modules and 'fastcorr.dask' not in sys.modules\n"
        "module = fastcorr.dask\n"
        "assert module is sys.modules['fastcorr.dask'], module\n"
        "assert 'dask' in sys.modules\n"
        "assert callable(module.correlate)\n"
        "print('ok')\n")
    assert out.strip() == "ok"


class Computed(Exception):
    """Raised by every block of a poisoned input: something computed it."""


def _explode(block):
    raise Computed("a block of the input was computed")


def poisoned(shape, dtype, chunks):
    """A dask array of `shape` and `dtype` whose blocks raise Computed when computed."""
    return da.zeros(shape, dtype=dtype, chunks=chunks).map_blocks(
        _explode, dtype=dtype, meta=np.empty((0,) * len(shape), dtype))


LAZY_CALLS = [
    ("correlate", (np.ones((3, 4)),), {"origin": (1, -2), "mode": "wrap"}),
    ("convolve", (np.ones((2, 5)),), {"mode": "constant", "cval": 1.0}),
    ("correlate1d", (np.ones(7),), {"axis": 0}),
    ("convolve1d", (np.ones(4),), {"origin": -1}),
    ("gaussian_filter", (2.0,), {"order": (1, 0)}),
    ("gaussian_filter1d", (1.0,), {"axis": 0, "radius": 3}),
    ("uniform_filter", (5,), {"mode": ("mirror", "nearest")}),
    ("uniform_filter1d", (4,), {}),
    ("sobel", (0,), {}),
    ("prewitt", (), {}),
    ("laplace", (), {"axes": (1,)}),
    ("gaussian_laplace", (1.5,), {"mode": ("wrap", "mirror")}),
    ("gaussian_gradient_magnitude", ((1.0, 2.0),), {"truncate": 3.0}),
]


@pytest.mark.parametrize("name,args,kwargs", LAZY_CALLS, ids=[c[0] for c in LAZY_CALLS])
@pytest.mark.parametrize("dtype,output", [(np.float32, None), (np.uint8, None),
                                          (np.uint8, np.float32), (np.float32, "float64"),
                                          (np.int16, np.dtype(np.int32))],
                         ids=["float32", "uint8", "uint8->float32", "float32->'float64'",
                              "int16->int32"])
def test_calls_are_lazy(name, args, kwargs, dtype, output):
    """A call computes nothing (its input's blocks raise if computed): it returns a dask array
    with the input's chunks and the dtype fastcorr.ndimage gives (the default, or `output`
    given as a dtype or its name), and computing that computes the input."""
    chunks = ((5, 17, 9, 33), (40, 3, 21))
    x = poisoned((64, 64), dtype, chunks)
    y = getattr(fcd, name)(x, *args, output=output, **kwargs)
    expected = getattr(ndimage, name)(np.zeros((64, 64), dtype), *args, output=output, **kwargs)
    assert isinstance(y, da.Array)
    assert y.shape == x.shape and y.chunks == x.chunks
    assert y.dtype == expected.dtype
    with pytest.raises(Computed):
        y.compute(scheduler=SCHEDULER)


def test_array_like_input_is_wrapped():
    """A NumPy array or a nested list is taken as ``da.asarray`` of it: the result is a dask
    array with those chunks and ndimage's values."""
    rng = seeded("array_like")
    x = random(rng, (20, 30), np.float64)
    for data in (x, x.tolist()):
        y = fcd.gaussian_filter(data, 1.5, mode="wrap")
        assert isinstance(y, da.Array)
        assert y.chunks == da.asarray(data).chunks
        assert_matches(y.compute(scheduler=SCHEDULER), ndimage.gaussian_filter(x, 1.5, mode="wrap"),
                       _tolerance(np.float64, [gauss(1.5)] * 2), "array_like")
    y = fcd.correlate1d([1.0, 2.0, 3.0, 4.0], [1.0, -1.0])
    assert isinstance(y, da.Array)
    assert_matches(y.compute(scheduler=SCHEDULER),
                   ndimage.correlate1d([1.0, 2.0, 3.0, 4.0], [1.0, -1.0]), 1e-15, "list 1-D")


# --------------------------------------------------------------------------- errors
def _error_of(call, module, x):
    """The exception `call` raises (pytest's ExceptionInfo), or None if it returns."""
    try:
        call(module, x)
    except Exception:
        return pytest.ExceptionInfo.from_current()
    return None


ONES = np.ones((3, 3))
BAD_CALLS = {
    "correlate mode": lambda m, x: m.correlate(x, ONES, mode="bogus"),
    "correlate mode sequence": lambda m, x: m.correlate(x, ONES, mode=["reflect", "wrap"]),
    "correlate origin": lambda m, x: m.correlate(x, ONES, origin=2),
    "correlate origin -": lambda m, x: m.correlate(x, np.ones((4, 4)), origin=(0, -3)),
    "correlate origin length": lambda m, x: m.correlate(x, ONES, origin=(0, 0, 0)),
    "correlate weights.ndim": lambda m, x: m.correlate(x, np.ones(3)),
    "correlate empty weights": lambda m, x: m.correlate(x, np.ones((3, 0))),
    "correlate axes range": lambda m, x: m.correlate(x, np.ones(3), axes=(0, 5)),
    "correlate axes repeated": lambda m, x: m.correlate(x, ONES, axes=(0, 0)),
    "correlate axes length": lambda m, x: m.correlate(x, ONES, axes=(1,)),
    "correlate cval str": lambda m, x: m.correlate(x, ONES, cval="a"),
    "correlate cval complex": lambda m, x: m.correlate(x, ONES, mode="constant", cval=1j),
    "correlate method": lambda m, x: m.correlate(x, ONES, method="bogus"),
    "correlate workers 0": lambda m, x: m.correlate(x, ONES, workers=0),
    "correlate workers str": lambda m, x: m.correlate(x, ONES, workers="2"),
    "correlate output float16": lambda m, x: m.correlate(x, ONES, output=np.float16),
    "convolve origin": lambda m, x: m.convolve(x, np.ones((2, 2)), origin=1),
    "convolve mode": lambda m, x: m.convolve(x, ONES, mode="nope"),
    "correlate1d 2-D weights": lambda m, x: m.correlate1d(x, ONES),
    "correlate1d no weights": lambda m, x: m.correlate1d(x, [], axis=0),
    "correlate1d axis": lambda m, x: m.correlate1d(x, [1, 2, 3], axis=2),
    "correlate1d origin": lambda m, x: m.correlate1d(x, [1, 2, 3], origin=-2),
    "convolve1d origin": lambda m, x: m.convolve1d(x, [1, 2, 3, 4], origin=2),
    "uniform_filter1d size": lambda m, x: m.uniform_filter1d(x, 0),
    "uniform_filter1d origin": lambda m, x: m.uniform_filter1d(x, 3, origin=2),
    "uniform_filter sizes": lambda m, x: m.uniform_filter(x, [3, 3, 3]),
    "uniform_filter origin": lambda m, x: m.uniform_filter(x, 4, origin=(0, 2)),
    "uniform_filter modes": lambda m, x: m.uniform_filter(x, 3, mode=["wrap"]),
    "gaussian_filter1d radius": lambda m, x: m.gaussian_filter1d(x, 1.0, radius=-1),
    "gaussian_filter1d order": lambda m, x: m.gaussian_filter1d(x, 1.0, order=-1),
    "gaussian_filter modes": lambda m, x: m.gaussian_filter(x, 1.0, mode=["reflect"]),
    "gaussian_filter sigmas": lambda m, x: m.gaussian_filter(x, [1.0, 2.0, 3.0]),
    "gaussian_filter mode": lambda m, x: m.gaussian_filter(x, 1.0, mode="bogus"),
    "gaussian_filter cval": lambda m, x: m.gaussian_filter(x, 1.0, cval=None),
    "sobel axis": lambda m, x: m.sobel(x, axis=2),
    "prewitt mode": lambda m, x: m.prewitt(x, mode="nope"),
    "laplace mode": lambda m, x: m.laplace(x, mode="nope"),
    "laplace axes": lambda m, x: m.laplace(x, axes=(0, 3)),
}


@pytest.mark.parametrize("call", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_argument_errors_raise_at_call_time(call):
    """A bad argument raises when the function is called, with the class fastcorr.ndimage
    raises for it (on the computed input): the input is poisoned, so an implementation that
    found the error by computing something would raise Computed instead, and one that deferred
    it to compute time would not raise at all."""
    expected = _error_of(call, ndimage, np.zeros((20, 16))).type
    x = poisoned((20, 16), np.float64, (7, 5))
    got = _error_of(call, fcd, x)
    assert got is not None, (f"fastcorr.dask returned a lazy array where fastcorr.ndimage "
                             f"raises {expected.__name__}: the error is deferred to compute")
    assert got.type is expected or issubclass(got.type, expected), (
        f"fastcorr.dask raised {got.type.__name__}({got.value}), fastcorr.ndimage "
        f"{expected.__name__}")


def test_unsupported_input_dtype_raises_at_call_time():
    """float16 (which scipy.ndimage and fastcorr.ndimage refuse): RuntimeError at call time."""
    with pytest.raises(RuntimeError):
        ndimage.gaussian_filter(np.zeros((8, 8), np.float16), 1.0)
    x = poisoned((8, 8), np.float16, 4)
    for name, args in (("gaussian_filter", (1.0,)), ("correlate", (ONES,)), ("sobel", ())):
        with pytest.raises(RuntimeError):
            getattr(fcd, name)(x, *args)


@pytest.mark.parametrize("name,args", [("correlate", (ONES,)), ("convolve", (ONES,)),
                                       ("correlate1d", ([1.0, 2.0],)),
                                       ("convolve1d", ([1.0, 2.0],)),
                                       ("gaussian_filter", (1.0,)),
                                       ("gaussian_filter1d", (1.0,)),
                                       ("uniform_filter", (3,)), ("uniform_filter1d", (3,)),
                                       ("sobel", ()), ("prewitt", ()), ("laplace", ())],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_ndarray_output_is_a_type_error(name, args):
    """The result is a new lazy array: an ndarray `output` (fine for ndimage) raises TypeError
    naming `output`, at call time, positionally or by keyword."""
    x = poisoned((10, 12), np.float64, 5)
    out = np.empty((10, 12))
    with pytest.raises(TypeError, match="output"):
        getattr(fcd, name)(x, *args, output=out)
    positional = {"correlate": (ONES, out), "convolve": (ONES, out),
                  "correlate1d": ([1.0, 2.0], -1, out), "convolve1d": ([1.0, 2.0], -1, out),
                  "gaussian_filter": (1.0, 0, out), "gaussian_filter1d": (1.0, -1, 0, out),
                  "uniform_filter": (3, out), "uniform_filter1d": (3, -1, out),
                  "sobel": (-1, out), "prewitt": (-1, out), "laplace": (out,)}[name]
    with pytest.raises(TypeError, match="output"):
        getattr(fcd, name)(x, *positional)


# --------------------------------------------------------------------------- values
# Non-square kernels with origins of both signs, odd and even lengths: (shape, origin); the
# 7-tap axes reach 3 samples, more than the blocks of one and two samples.
KERNELS_2D = [((7, 4), (2, -2)), ((4, 7), (-2, 3)), ((6, 5), (0, -1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("mode", MODES)
def test_correlate_every_mode_and_chunking(mode, chunking, dtype):
    """correlate of every chunking equals the whole array's, with even and odd kernels and
    origins; tolerance: one pass of K = kernel size taps (module docstring)."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("correlate", mode, chunking, np.dtype(dtype).name)
    x = random(rng, shape, dtype)
    for wshape, origin in KERNELS_2D:
        w = rng.uniform(-1, 1, wshape)
        passes = [(w.size, float(np.abs(w).sum()))]
        check("correlate", x, chunks, (w,), {"mode": mode, "cval": CVAL, "origin": origin},
              _tolerance(dtype, passes, _magnitude(x)))


@pytest.mark.parametrize("chunking", ["uneven", "thin edges", "columns of 2", "2x3 blocks"])
@pytest.mark.parametrize("mode", MODES)
def test_convolve_and_1d_passes(mode, chunking):
    """convolve (the kernel turned, its origin negated and moved by one on even axes),
    correlate1d and convolve1d along each axis, with even and odd kernels and origins of both
    signs."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("convolve", mode, chunking)
    x = random(rng, shape, np.float32)
    scale = _magnitude(x)
    for wshape, origin in KERNELS_2D:
        w = rng.uniform(-1, 1, wshape)
        check("convolve", x, chunks, (w,), {"mode": mode, "cval": CVAL, "origin": origin},
              _tolerance(np.float32, [(w.size, float(np.abs(w).sum()))], scale))
    for axis in (0, 1, -1):
        for taps, origin in ((7, 3), (7, -3), (4, 1), (4, -2), (1, 0)):
            w = rng.uniform(-1, 1, taps)
            tolerance = _tolerance(np.float32, [(taps, float(np.abs(w).sum()))], scale)
            for name in ("correlate1d", "convolve1d"):
                check(name, x, chunks, (w,), {"axis": axis, "mode": mode, "cval": CVAL,
                                               "origin": origin}, tolerance)


def test_graph_made_without_pickling_the_plans(monkeypatch):
    """The per-block values of the filter's layer (the frame plans, the rim references) carry
    their own tokens, so making the graph never pickles them for dask's tokenize; the graph's
    name still follows the input and the arguments."""
    import dask.tokenize
    pickled = []
    real = dask.tokenize._normalize_pickle
    monkeypatch.setattr(dask.tokenize, "_normalize_pickle",
                        lambda o: pickled.append(type(o).__name__) or real(o))
    x = da.from_array(np.arange(64 * 64, dtype=np.float32).reshape(64, 64), chunks=16)
    w = np.ones((3, 5), np.float32)
    first, again = fcd.correlate(x, w), fcd.correlate(x, w)
    assert "_PerBlock" not in pickled and "_Plan" not in pickled, pickled
    assert first.name == again.name
    assert fcd.correlate(x, w, mode="wrap").name != first.name
    assert fcd.correlate(x + 1, w).name != first.name
    np.testing.assert_array_equal(first.compute(scheduler=SCHEDULER),
                                  ndimage.correlate(x.compute(), w))


@pytest.mark.parametrize("chunking", ["uneven", "2x3 blocks"])
def test_geometry_remembered_or_not_gives_one_result(chunking, monkeypatch):
    """Arrays chunked alike share their blocks' plans (worked out once per geometry), and
    plans worked out afresh (past GEOMETRY_CACHE_BLOCKS) give the same result."""
    import fastcorr.dask as module
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("geometry", chunking)
    x = da.from_array(random(rng, shape, np.float64), chunks=chunks)
    w = rng.uniform(-1, 1, (5, 4))
    module._remembered_geometry.cache_clear()
    remembered = fcd.correlate(x, w, mode="mirror").compute(scheduler=SCHEDULER)
    fcd.correlate(x * 2, w, mode="mirror")
    assert module._remembered_geometry.cache_info().hits == 1
    monkeypatch.setattr(module, "GEOMETRY_CACHE_BLOCKS", 0)
    afresh = fcd.correlate(x, w, mode="mirror").compute(scheduler=SCHEDULER)
    assert module._remembered_geometry.cache_info().hits == 1
    np.testing.assert_array_equal(remembered, afresh)


@pytest.mark.parametrize("mode", MODES)
def test_1d_inputs(mode):
    """1-D arrays in uneven chunks down to one sample, kernels longer than some chunks."""
    rng = seeded("1d", mode)
    x = random(rng, (100,), np.float64)
    for chunks in (((7, 30, 1, 2, 60),), ((1, 1, 96, 2),), (3,)):
        for taps, origin in ((7, 3), (4, -2), (9, 0)):
            w = rng.uniform(-1, 1, taps)
            tolerance = _tolerance(np.float64, [(taps, float(np.abs(w).sum()))], _magnitude(x))
            check("correlate", x, chunks, (w,), {"mode": mode, "cval": CVAL, "origin": origin},
                  tolerance)
            check("convolve1d", x, chunks, (w,), {"mode": mode, "cval": CVAL,
                                                  "origin": origin}, tolerance)
        check("gaussian_filter", x, chunks, (2.0,), {"mode": mode, "cval": CVAL},
              _tolerance(np.float64, [gauss(2.0)], _magnitude(x)))
        check("uniform_filter1d", x, chunks, (6,), {"mode": mode, "cval": CVAL, "origin": -3},
              _tolerance(np.float64, [uniform(6)], _magnitude(x)))


@pytest.mark.parametrize("mode", MODES)
def test_3d_inputs_and_axes(mode):
    """3-D arrays in uneven chunks: a 3-D kernel with origins, kernels over axes subsets (in
    any order, negative axes), and the multi-pass filters with `axes`."""
    rng = seeded("3d", mode)
    x = random(rng, (10, 12, 14), np.float32)
    scale = _magnitude(x)
    for chunks in ((3, 5, (1, 6, 7)), ((10,), (2, 2, 8), (7, 7))):
        for wshape, origin, axes in (((3, 5, 2), (1, -2, 0), None),
                                     ((5, 4), (-2, 1), (0, 2)),
                                     ((3, 6), (-3, 1), (2, 0)),
                                     ((6,), 2, (-2,)),
                                     ((2, 3), (0, -1), (-1, -3))):
            w = rng.uniform(-1, 1, wshape)
            tolerance = _tolerance(np.float32, [(w.size, float(np.abs(w).sum()))], scale)
            for name in ("correlate", "convolve"):
                check(name, x, chunks, (w,), {"mode": mode, "cval": CVAL, "origin": origin,
                                              "axes": axes}, tolerance)
        check("gaussian_filter", x, chunks, ((1.0, 0.7, 1.5),), {"mode": mode, "cval": CVAL},
              _tolerance(np.float32, [gauss(1.0), gauss(0.7), gauss(1.5)], scale))
        check("gaussian_filter", x, chunks, (1.2,), {"mode": mode, "cval": CVAL,
                                                    "axes": (2, 0), "order": (1, 2)},
              _tolerance(np.float32, [gauss(1.2, 2), gauss(1.2, 1)], scale))
        check("uniform_filter", x, chunks, ((3, 4),), {"mode": mode, "cval": CVAL,
                                                      "axes": (0, -1), "origin": (-1, 1)},
              _tolerance(np.float32, [uniform(3), uniform(4)], scale))
        check("laplace", x, chunks, (), {"mode": mode, "cval": CVAL, "axes": (1, 2)},
              _tolerance(np.float32, [(3, 4.0), (3, 4.0)], scale))
        check("sobel", x, chunks, (1,), {"mode": mode, "cval": CVAL},
              _tolerance(np.float32, SOBEL + [(3, 4.0)], scale))


# The multi-pass filters: (name, args, kwargs, the passes' (taps, sum |w|) for the tolerance).
SEPARABLE = [
    ("gaussian_filter", (1.5,), {}, [gauss(1.5)] * 2),
    ("gaussian_filter", ([0.8, 2.5],), {"order": [1, 2]}, [gauss(0.8, 1), gauss(2.5, 2)]),
    ("gaussian_filter", (2.0,), {"order": 2, "truncate": 2.0}, [gauss(2.0, 2, 2.0)] * 2),
    ("gaussian_filter", (1.0,), {"order": 1, "radius": [2, 5]},
     [gauss(1.0, 1, radius=2), gauss(1.0, 1, radius=5)]),
    ("gaussian_filter", (1.0,), {"axes": (0,)}, [gauss(1.0)]),
    ("gaussian_filter", ([0.0, 1.2],), {}, [gauss(1.2)]),
    ("gaussian_filter1d", (3.0,), {"axis": 0}, [gauss(3.0)]),
    ("gaussian_filter1d", (1.2, -1, 1), {}, [gauss(1.2, 1)]),
    ("gaussian_filter1d", (1.0,), {"order": 2, "radius": 3}, [gauss(1.0, 2, radius=3)]),
    ("uniform_filter", (4,), {"origin": [-2, 1]}, [uniform(4)] * 2),
    ("uniform_filter", ((5, 2),), {"origin": (2, -1)}, [uniform(5), uniform(2)]),
    ("uniform_filter", ([3, 1],), {}, [uniform(3)]),
    ("uniform_filter1d", (6, 0), {"origin": 2}, [uniform(6)]),
    ("uniform_filter1d", (7,), {"origin": -3}, [uniform(7)]),
    ("sobel", (0,), {}, SOBEL), ("sobel", (1,), {}, SOBEL),
    ("prewitt", (0,), {}, PREWITT), ("prewitt", (-1,), {}, PREWITT),
    ("laplace", (), {}, LAPLACE_2D), ("laplace", (), {"axes": [1]}, [(3, 4.0)]),
]


def _case_id(case):
    name, args, kwargs, _ = case
    return f"{name}{args}{kwargs}".replace(" ", "")


@pytest.mark.parametrize("chunking", SOME_CHUNKINGS)
@pytest.mark.parametrize("case", SEPARABLE, ids=_case_id)
def test_multi_pass_filters_every_mode(case, chunking):
    """Gaussian (orders 0..2, radius, truncate, axes, a zero sigma), uniform (origins, even
    sizes), Sobel, Prewitt and Laplace in float32 for every mode: tolerance of the chain of
    passes (module docstring)."""
    name, args, kwargs, passes = case
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("separable", _case_id(case), chunking)
    x = random(rng, shape, np.float32)
    tolerance = _tolerance(np.float32, passes, _magnitude(x))
    for mode in MODES:
        check(name, x, chunks, args, dict(kwargs, mode=mode, cval=CVAL), tolerance)


PER_AXIS_MODES = [("wrap", "constant"), ("mirror", "nearest"), ("grid-constant", "reflect"),
                  ("constant", "grid-wrap"), ("nearest", "grid-mirror")]


@pytest.mark.parametrize("chunking", ["uneven", "thin edges", "2x3 blocks"])
@pytest.mark.parametrize("modes", PER_AXIS_MODES, ids=str)
def test_per_axis_modes(modes, chunking):
    """A mode per axis (gaussian_filter, uniform_filter, sobel, prewitt, laplace, and with
    `axes`, one mode per axis filtered)."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("per-axis", modes, chunking)
    x = random(rng, shape, np.float32)
    scale = _magnitude(x)
    modes = list(modes)
    for name, args, kwargs, passes in [
            ("gaussian_filter", (1.3,), {}, [gauss(1.3)] * 2),
            ("gaussian_filter", ((0.9, 2.0),), {"order": (2, 1)}, [gauss(0.9, 2), gauss(2.0, 1)]),
            ("uniform_filter", ((5, 4),), {"origin": (-2, 1)}, [uniform(5), uniform(4)]),
            ("sobel", (0,), {}, SOBEL), ("sobel", (1,), {}, SOBEL), ("prewitt", (1,), {}, PREWITT),
            ("laplace", (), {}, LAPLACE_2D),
            ("gaussian_laplace", (1.2,), {}, [gauss(1.2, 2), gauss(1.2)] * 2),
            ("gaussian_gradient_magnitude", ((0.9, 1.6),), {},
             [gauss(0.9, 1), gauss(1.6), gauss(0.9), gauss(1.6, 1)])]:
        check(name, x, chunks, args, dict(kwargs, mode=modes, cval=CVAL),
              _tolerance(np.float32, passes, scale))
    # With axes: one mode per axis filtered, in the order of `axes`.
    check("gaussian_filter", x, chunks, ((1.1, 2.2),), {"axes": (1, 0), "mode": modes,
                                                       "cval": CVAL},
          _tolerance(np.float32, [gauss(1.1), gauss(2.2)], scale))
    check("uniform_filter", x, chunks, (3,), {"axes": (1,), "mode": modes[:1], "cval": CVAL},
          _tolerance(np.float32, [uniform(3)], scale))
    check("laplace", x, chunks, (), {"axes": (-1,), "mode": modes[1:], "cval": CVAL},
          _tolerance(np.float32, [(3, 4.0)], scale))


@pytest.mark.parametrize("chunking", ["uneven", "thin edges", "2x3 blocks"])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_laplace_and_gradient_magnitude(mode, chunking):
    """The sums of Gaussian derivative filters over the axes: one frame filter per block
    where the terms' modes agree on wrapping; with `axes`, a sigma per axis, `radius`, and a
    3-D volume; integer images equal to fastcorr.ndimage's exactly."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("gaussian terms", mode, chunking)
    x = random(rng, shape, np.float64)
    scale = _magnitude(x)
    for name, order in (("gaussian_laplace", 2), ("gaussian_gradient_magnitude", 1)):
        for args, kwargs, sigmas in (((1.4,), {}, (1.4, 1.4)),
                                     (((0.8, 2.1),), {"radius": (2, 5)}, (0.8, 2.1)),
                                     ((1.1,), {"axes": (1,)}, (1.1, 1.1))):
            passes = [gauss(s, order if a == b else 0) for a in range(2)
                      for b, s in enumerate(sigmas)]
            check(name, x, chunks, args, dict(kwargs, mode=mode, cval=CVAL),
                  _tolerance(np.float64, passes, scale))
        image = rng.integers(0, 250, shape).astype(np.uint8)
        check(name, image, chunks, (1.3,), {"mode": mode, "cval": 3})
    volume = random(rng, (9, 11, 13), np.float32)
    for name in ("gaussian_laplace", "gaussian_gradient_magnitude"):
        # Three terms of three passes each.
        check(name, volume, ((2, 7), (5, 1, 5), (3, 3, 3, 4)), (0.9,), {"mode": mode},
              3 * _tolerance(np.float32, [gauss(0.9, 2)] + [gauss(0.9)] * 2,
                             _magnitude(volume)))

def test_per_axis_modes_3d():
    """Three modes on a 3-D array in small uneven chunks."""
    rng = seeded("per-axis 3d")
    x = random(rng, (9, 11, 13), np.float64)
    chunks = ((2, 7), (5, 1, 5), (3, 3, 3, 4))
    modes = ["wrap", "constant", "mirror"]
    for name, args, passes in (("gaussian_filter", (1.0,), [gauss(1.0)] * 3),
                               ("uniform_filter", (4,), [uniform(4)] * 3),
                               ("sobel", (2,), SOBEL + [(3, 4.0)]),
                               ("prewitt", (0,), PREWITT + [(3, 3.0)]),
                               ("laplace", (), [(3, 4.0)] * 3)):
        check(name, x, chunks, args, {"mode": modes, "cval": -1.5},
              _tolerance(np.float64, passes, _magnitude(x, -1.5)))


INTEGER_CALLS = [
    ("correlate", "w2d", {"origin": (1, -1)}),
    ("correlate", "w2d", {"mode": "constant", "cval": 7}),
    ("convolve", "w2d", {"mode": "wrap"}), ("correlate", "w2d", {"mode": "grid-mirror"}),
    ("correlate1d", "w1d", {"axis": 0, "mode": "mirror"}),
    ("convolve1d", "even", {"mode": "nearest", "origin": -1}),
    ("correlate1d", "smooth", {"mode": "grid-constant", "cval": 3}),
    ("gaussian_filter", 1.7, {}), ("gaussian_filter", 1.2, {"mode": "constant", "cval": 9}),
    ("gaussian_filter1d", 2.0, {"order": 1, "mode": "grid-wrap"}),
    ("uniform_filter", 3, {"mode": ["wrap", "mirror"]}),
    ("uniform_filter1d", 4, {"axis": 0, "origin": -1}),
    ("sobel", 0, {}), ("sobel", 1, {"mode": "constant", "cval": 2}), ("prewitt", 0, {}),
    ("laplace", None, {"mode": "nearest"}),
]


@pytest.mark.parametrize("chunking", ["uneven", "thin edges", "rows of 1",
                                      "1x1 blocks, kernel > array"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16], ids=lambda d: np.dtype(d).name)
def test_integer_inputs_are_exact(dtype, chunking):
    """uint8, int16 and uint16 inputs with the default output: the values equal the whole
    array's exactly (scipy's arithmetic and truncation, per block); with a float output,
    within the float tolerance."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("integer", np.dtype(dtype).name, chunking)
    x = random(rng, shape, dtype)
    w2d = rng.uniform(-0.2, 1, (5, 4))
    w2d /= w2d.sum()
    weights = {"w2d": w2d, "w1d": w2d[:, 1] / w2d[:, 1].sum(), "even": np.array([0.25, 0.75]),
               "smooth": np.array([1.0, 2.0, 1.0]) / 4}
    for name, arg, kwargs in INTEGER_CALLS:
        args = () if arg is None else (weights[arg],) if isinstance(arg, str) else (arg,)
        check(name, x, chunks, args, kwargs)
    scale = _magnitude(x, 0.0)
    for output in (np.float32, "float64"):
        check("correlate", x, chunks, (w2d,), {"output": output, "mode": "reflect"},
              _tolerance(output, [(w2d.size, float(np.abs(w2d).sum()))], scale))
        check("gaussian_filter", x, chunks, (1.5,), {"output": output, "mode": "wrap"},
              _tolerance(output, [gauss(1.5)] * 2, scale))


@pytest.mark.parametrize("chunking", ["uneven", "thin edges", "2x3 blocks"])
def test_complex_inputs(chunking):
    """complex128 data, and real data with complex weights (a complex result): each part
    within twice the real tolerance."""
    shape, chunks = CHUNKINGS[chunking]
    rng = seeded("complex", chunking)
    x = random(rng, shape, np.complex128)
    real = random(rng, shape, np.float64)
    w = rng.uniform(-1, 1, (3, 4)) + 1j * rng.uniform(-1, 1, (3, 4))
    one = [(w.size, float(np.abs(w).sum()))]
    for mode in ("constant", "reflect", "wrap", "mirror"):
        for name, data, args, kwargs, passes in (
                ("correlate", x, (w,), {"origin": (-1, 1)}, one),
                ("convolve", x, (w,), {}, one),
                ("correlate", x, (w.real,), {}, one),
                ("correlate", real, (w,), {"origin": (1, -2)}, one),
                ("correlate1d", x, (w[0],), {"axis": 0, "origin": -2}, [(4, 4.0)]),
                ("convolve1d", real, (w[1],), {}, [(4, 4.0)]),
                ("uniform_filter", x, (3,), {}, [uniform(3)] * 2),
                ("uniform_filter1d", x, (4,), {"origin": 1}, [uniform(4)]),
                ("gaussian_filter", x, (1.2,), {}, [gauss(1.2)] * 2),
                ("sobel", x, (0,), {}, SOBEL), ("laplace", x, (), {}, LAPLACE_2D)):
            check(name, data, chunks, args, dict(kwargs, mode=mode, cval=0.5),
                  _tolerance(np.float64, passes, _magnitude(data, 0.5), parts=2))


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_methods(method):
    """correlate and convolve pass `method` through: each block computed directly, by the
    kernel's SVD or by FFT gives the whole array's result of the same method.  float64 on data
    in [0, 1) with sum |w| <= 35: tolerance 1e-12, about 100 (K + 2) eps sum |w| -- FFT and SVD
    rounding grows with the transform and rank sizes, here far below that, and a halo or mode
    error is of the order of the data."""
    rng = seeded("method", method)
    x = random(rng, (96, 80), np.float64)
    g = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    for w in (np.outer(g, g[:5]), rng.uniform(-1, 1, (7, 5))):
        for chunking in ("uneven", "thin edges"):
            chunks = CHUNKINGS[chunking][1]
            x64 = x[:64, :64]
            for name in ("correlate", "convolve"):
                for mode in ("reflect", "wrap", "constant"):
                    check(name, x64, chunks, (w,), {"mode": mode, "cval": CVAL,
                                                    "origin": (1, -2), "method": method},
                          1e-12)
        check("correlate", x, (30, (7, 73)), (w,), {"method": method, "mode": "mirror"}, 1e-12)


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_against_scipy(mode):
    """float64 against scipy.ndimage itself (not only fastcorr.ndimage), uneven chunks with
    thin blocks at the edges: correlate, convolve, the 1-D passes and the multi-pass filters,
    at the same tolerance."""
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    rng = seeded("scipy", mode)
    x = random(rng, (64, 64), np.float64)
    scale = _magnitude(x)
    w = rng.uniform(-1, 1, (5, 4))
    one = [(w.size, float(np.abs(w).sum()))]
    for chunks in (CHUNKINGS["thin edges"][1], CHUNKINGS["uneven"][1], (3, 64)):
        xd = da.from_array(x, chunks=chunks)
        for name, args, kwargs, passes in (
                ("correlate", (w,), {"origin": (-2, 1)}, one), ("convolve", (w,), {}, one),
                ("correlate1d", (w[:, 0],), {"axis": 0, "origin": 2}, [(5, 5.0)]),
                ("convolve1d", (w[0],), {}, [(4, 4.0)]),
                ("gaussian_filter", ([1.0, 2.0],), {"order": [0, 1]}, [gauss(1), gauss(2, 1)]),
                ("gaussian_filter1d", (1.5,), {"axis": 0, "order": 2}, [gauss(1.5, 2)]),
                ("uniform_filter", ((4, 5),), {"origin": (1, -2)}, [uniform(4), uniform(5)]),
                ("uniform_filter1d", (3,), {}, [uniform(3)]),
                ("sobel", (0,), {}, SOBEL), ("prewitt", (1,), {}, PREWITT),
                ("laplace", (), {}, LAPLACE_2D)):
            kwargs = dict(kwargs, mode=mode, cval=CVAL)
            result = getattr(fcd, name)(xd, *args, **kwargs).compute(scheduler=SCHEDULER)
            expected = getattr(scipy_ndimage, name)(x, *args, **kwargs)
            assert_matches(result, expected, _tolerance(np.float64, passes, scale),
                           f"{name} {kwargs} chunks={chunks} against scipy")


# --------------------------------------------------------------------------- schedulers
@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes with one thread each (on 127.0.0.1, no
    dashboard) and its Client, for the module's tests; both closed at teardown."""
    pytest.importorskip("distributed")
    with daskcluster.local_cluster(n_workers=2) as (_, client):
        yield client


def _scheduler_cases():
    """(name, input, chunks, args, kwargs, tolerance): float, integer and complex filters in
    chunkings with thin blocks."""
    rng = seeded("schedulers")
    x = random(rng, (64, 64), np.float32)
    u8 = random(rng, (64, 64), np.uint8)
    z = random(rng, (24, 30), np.complex128)
    w = rng.uniform(-1, 1, (7, 4))
    thin, uneven = CHUNKINGS["thin edges"][1], CHUNKINGS["uneven"][1]
    return [
        ("correlate", x, uneven, (w,), {"origin": (2, -2), "mode": "mirror"},
         _tolerance(np.float32, [(w.size, float(np.abs(w).sum()))])),
        ("gaussian_filter", x, thin, ((1.0, 2.5),), {"mode": "constant", "cval": CVAL},
         _tolerance(np.float32, [gauss(1.0), gauss(2.5)], CVAL + 1)),
        ("uniform_filter", x, (1, 64), (5,), {"mode": ["wrap", "nearest"]},
         _tolerance(np.float32, [uniform(5)] * 2)),
        ("sobel", u8, thin, (0,), {"mode": "reflect"}, 0.0),
        ("gaussian_filter", u8, uneven, (2.0,), {"mode": "wrap"}, 0.0),
        ("correlate1d", z, (5, 7), (w[:, 0],), {"axis": 0, "mode": "grid-wrap"},
         _tolerance(np.float64, [(7, 7.0)], 2.0, parts=2)),
    ]


def _schedulers(client):
    return {"synchronous": "synchronous", "threads": "threads", "distributed": client}


def test_schedulers_agree(client):
    """The synchronous and threaded schedulers and the distributed cluster give the whole
    array's values (within the tolerance; integers equal) with workers=None, and, with
    workers=1 (the same computation in every task, whatever the scheduler's thread split),
    bitwise identical results on all three."""
    for name, x, chunks, args, kwargs, tolerance in _scheduler_cases():
        results = {}
        for label, scheduler in _schedulers(client).items():
            results[label] = check(name, x, chunks, args, kwargs, tolerance, scheduler=scheduler)
        single = {}
        for label, scheduler in _schedulers(client).items():
            y = getattr(fcd, name)(da.from_array(x, chunks=chunks), *args, workers=1, **kwargs)
            single[label] = y.compute(scheduler=scheduler)
        for label, result in single.items():
            assert_matches(result, results["synchronous"], tolerance, f"{name} workers=1 {label}")
            assert np.array_equal(result, single["synchronous"]), \
                f"{name} {kwargs}: workers=1 on {label} differs from synchronous"


def test_cluster_workers_have_their_own_process(client):
    """The cluster's tasks run in other processes (so the test above crossed processes)."""
    pids = daskcluster.worker_pids(client)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    assert len(set(pids.values())) == 2


# --------------------------------------------------------------------------- threads
@pytest.mark.parametrize("num_workers", [1, 2])
def test_task_workers_on_the_threaded_scheduler(num_workers):
    """Every task on the threaded scheduler with `num_workers` threads uses the process's
    OpenMP threads divided between them: max(1, omp_threads // num_workers).  dask keeps a
    pool per calling thread and size, so the graphs are computed from a new thread: the first
    computation starts a fresh pool (its threads' first tasks included), the second reuses
    it."""
    import threading

    omp = _core.omp_max_threads()
    tasks = [dask.delayed(fcd.task_workers, pure=False)() for _ in range(8)]
    results = []

    def compute_twice():
        for _ in range(2):
            results.append(dask.compute(*tasks, scheduler="threads", num_workers=num_workers))

    thread = threading.Thread(target=compute_twice)
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and len(results) == 2
    expected = max(1, omp // num_workers)
    for run, got in zip(("fresh pool", "reused pool"), results):
        assert set(got) == {expected}, (
            f"{run}: task_workers() gave {list(got)} in {len(got)} tasks on {num_workers} "
            f"threads, expected {expected} (omp_max_threads() = {omp})")


def test_task_workers_on_the_processes_scheduler():
    """A process of dask's 'processes' pool (CPU_COUNT processes by default) shares the CPUs
    with the pool's others."""
    from dask.system import CPU_COUNT

    got = dask.delayed(fcd.task_workers, pure=False)().compute(scheduler="processes")
    assert got == max(1, _core.omp_max_threads() // CPU_COUNT)


def test_task_workers_on_the_synchronous_scheduler():
    """One task at a time: it gets every OpenMP thread of the process."""
    got = dask.delayed(fcd.task_workers)().compute(scheduler="synchronous")
    assert got == _core.omp_max_threads()


def test_task_workers_on_the_cluster(client):
    """distributed starts its workers with OMP_NUM_THREADS=1: a task there uses one thread."""
    assert set(client.run(_core.omp_max_threads).values()) == {1}
    assert client.submit(fcd.task_workers, pure=False).result() == 1


# --------------------------------------------------------------------------- faults
def test_a_killed_worker_is_replaced_and_the_result_is_unchanged():
    """On a fresh cluster (two worker processes behind nannies), a Gaussian filter of a
    4096 x 4096 float32 array in 256 x 256 chunks is persisted; once some of its blocks are
    done and not all, the worker holding a finished block is killed with SIGKILL.  The nanny
    starts a new worker process, the lost blocks are computed again, and the result equals
    fastcorr.ndimage's on the array in memory (within the tolerance of two 17-tap passes)."""
    distributed = pytest.importorskip("distributed")
    shape, chunks, sigma = (4096, 4096), (256, 256), 2.0
    x = da.random.default_rng(0).random(shape, dtype=np.float32, chunks=chunks)
    expected = ndimage.gaussian_filter(x.compute(scheduler="threads"), sigma)
    y = fcd.gaussian_filter(x, sigma)
    # A worker that asks the dead one for data waits the connect timeout (30 s by default)
    # before it turns to the scheduler: shortened here (the workers get this config).
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}), \
            daskcluster.local_cluster(n_workers=2) as (cluster, client):
        assert all(isinstance(w, distributed.Nanny) for w in cluster.workers.values())
        before = daskcluster.worker_pids(client)
        persisted = client.persist(y)
        futures = distributed.futures_of(persisted)
        assert len(futures) == 256

        def some_done():
            done = [f for f in futures if f.done()]
            return done if len(futures) // 8 <= len(done) <= len(futures) // 2 else None

        done = daskcluster.wait_for(some_done, 120, "an eighth to a half of the blocks done")
        holders = client.who_has([done[0]])[done[0].key]
        assert holders, "a finished block is held by no worker"
        victim = before[holders[0]]
        done_at_kill = sum(f.done() for f in futures)
        os.kill(victim, signal.SIGKILL)
        assert done_at_kill < len(futures), "every block was done before the kill"

        def replaced():
            try:
                pids = daskcluster.worker_pids(client)
            except Exception:  # the dead worker may still be listed for a moment
                return None
            return pids if len(pids) == 2 and victim not in pids.values() else None

        result = persisted.compute(scheduler=client)
        after = daskcluster.wait_for(replaced, 120, "the nanny to start a new worker")
        assert len(set(after.values()) & set(before.values())) == 1, (before, after)
        print(f"\nkilled worker pid {victim} with {done_at_kill} of {len(futures)} blocks done; "
              f"workers {sorted(before.values())} -> {sorted(after.values())}")
    assert_matches(result, expected, _tolerance(np.float32, [gauss(sigma)] * 2),
                   "after a worker was killed")


# --------------------------------------------------------------------------- larger than memory
def _sampled_tiles(n, c):
    """(rows, columns) slices of an n x n array in chunks of c: the four corners, a tile
    straddling a chunk corner, one across a chunk edge near the array's edge, and an interior
    tile."""
    t = 192
    starts = [(0, 0), (0, n - t), (n - t, 0), (n - t, n - t), (c - t // 2, 2 * c - t // 3),
              (n - c - 50, 7), (n // 2 + 321, n // 3 + 17)]
    return [(slice(r, r + t), slice(s, s + t)) for r, s in starts]


def _mib(peaks):
    return ", ".join(f"{v / 2**20:.0f} MiB" for v in peaks.values())


@pytest.mark.slow
def test_larger_than_memory_zarr(tmp_path):
    """A 32768 x 32768 float32 array (4 GiB) on disk (zarr), twice the combined memory_limit
    of a two-worker cluster (1 GiB each): generated in the workers and written, read back,
    Gaussian-filtered by fastcorr.dask and written to a second zarr array.  Sampled tiles
    (corners, across chunk boundaries) equal scipy.ndimage's filter of the same region read with
    its halo (the whole region up to the array's edge where the halo reaches past it, so the
    mode applies there); no worker was restarted, and no worker's peak RSS reached its limit.
    Tolerance: two 17-tap float32 passes (fastcorr) against scipy's float64 rounded to
    float32 (module docstring)."""
    pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    # 2048 x 2048 chunks (16 MiB): measured on this 2-CPU machine, the workers peaked at
    # 630-710 MiB (the filter holds about one row of blocks in flight) and the filter + write
    # step took 22-33 s; 4096 x 4096 chunks peaked at 740-800 MiB, next to distributed's pause
    # at 80 % of the limit, for 16 s.
    n, c, sigma = 32768, 2048, 2.0
    limit = 1 << 30
    radius = int(4.0 * sigma + 0.5)
    source, target = str(tmp_path / "input.zarr"), str(tmp_path / "filtered.zarr")
    try:
        with daskcluster.local_cluster(n_workers=2, memory_limit="1GiB") as (_, client):
            before = daskcluster.worker_pids(client)
            start = time.perf_counter()
            x = da.random.default_rng(0).random((n, n), dtype=np.float32, chunks=c)
            da.to_zarr(x, source, compute=False).compute(scheduler=client)
            generated = time.perf_counter()
            peaks_generating = daskcluster.peak_rss(client)
            y = fcd.gaussian_filter(da.from_zarr(source), sigma)
            assert y.chunks == x.chunks
            da.to_zarr(y, target, compute=False).compute(scheduler=client)
            filtered = time.perf_counter()
            peaks = daskcluster.peak_rss(client)
            after = daskcluster.worker_pids(client)
        seconds = filtered - generated
        print(f"\n{n} x {n} float32 in {c} x {c} chunks: generate + write "
              f"{generated - start:.1f} s; read + gaussian_filter(sigma={sigma}) + write "
              f"{seconds:.1f} s = {n * n / seconds / 1e6:.1f} Mpixel/s; workers' peak RSS "
              f"{_mib(peaks_generating)} after generating, {_mib(peaks)} at the end")
        assert after == before, f"a worker was restarted: {before} -> {after}"
        for address, peak in peaks.items():
            assert peak < limit, f"worker {address} peaked at {peak / 2**20:.0f} MiB"
        data, out = zarr.open_array(source, mode="r"), zarr.open_array(target, mode="r")
        assert out.shape == (n, n) and out.dtype == np.float32
        tolerance = _tolerance(np.float32, [gauss(sigma)] * 2)
        for rows, cols in _sampled_tiles(n, c):
            r0, r1 = max(0, rows.start - radius), min(n, rows.stop + radius)
            c0, c1 = max(0, cols.start - radius), min(n, cols.stop + radius)
            region = data[r0:r1, c0:c1]
            expected = scipy_ndimage.gaussian_filter(region, sigma)[
                rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0]
            assert_matches(out[rows, cols], expected, tolerance, f"tile {rows}, {cols}")
    finally:
        for path in (source, target):  # 8 GiB: not left for pytest's kept temporary dirs
            shutil.rmtree(path, ignore_errors=True)
