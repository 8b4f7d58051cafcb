"""fastcorr.correlate / fastcorr.convolve against numpy.correlate / numpy.convolve and a
pure-NumPy oracle (reference.py: the definition over lags, in a wider type).

Tolerances: within ``error_bound_1d`` = (n + 1) * eps * (|a| (*) |v|) + tiny elementwise of the
oracle, n = min(len(a), len(v)) terms per output; within twice it of numpy, which also rounds
in the result dtype (numpy.correlate computes float32 in float32).  Complex part by part.
"""
import tracemalloc

import numpy as np
import pytest

import fastcorr
from fastcorr import _api1d, _core, _dispatch
from reference import (
    assert_within_bound,
    correlate1d_reference,
    dtype_id,
    error_bound_1d,
    random_array,
)

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
MODES = ["valid", "same", "full"]
FUNCS = {"correlate": (fastcorr.correlate, np.correlate),
         "convolve": (fastcorr.convolve, np.convolve)}


def check(op, a, v, dtype, mode, context="", **kwargs):
    func, numpy_func = FUNCS[op]
    a_before, v_before = np.copy(a), np.copy(v)
    result = func(a, v, mode, **kwargs)
    assert np.array_equal(a, a_before, equal_nan=True) and \
        np.array_equal(v, v_before, equal_nan=True), "an input was modified"
    dtype = np.dtype(dtype)
    assert result.dtype == dtype, f"{context}: dtype {result.dtype}, expected {dtype}"
    ctx = f"{op} len {np.size(a)} with len {np.size(v)} {dtype} mode={mode} {context}"
    bound = error_bound_1d(a, v, dtype, mode, op)
    assert_within_bound(result, correlate1d_reference(a, v, dtype, mode, op), bound,
                        ctx + " vs NumPy oracle")
    with np.errstate(invalid="ignore", over="ignore"):
        expected = numpy_func(np.asarray(a).astype(dtype), np.asarray(v).astype(dtype), mode)
    assert_within_bound(result, expected, 2 * bound, ctx + " vs numpy")
    return result


# Lengths: shorter and longer kernel (numpy's swap), equal lengths, single samples, and
# kernels of one to many vectors of taps, with and without a partial last tap group.
LENGTHS = [(1, 1), (7, 1), (1, 7), (5, 5), (9, 4), (4, 9), (2, 6), (30, 8), (8, 30),
           (1500, 3), (2100, 16), (3000, 64), (5000, 128), (4100, 200), (300, 129),
           (129, 300), (2600, 512), (2050, 1024), (1024, 1030)]


@pytest.mark.parametrize("ends", ["padded whole", "in place"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", list(FUNCS))
def test_grid(op, mode, dtype, ends, monkeypatch):
    """Every mode and dtype over the lengths above, with the outputs at the ends computed both
    ways: from a zero-padded copy of the whole (short) signal, and from the signal read in
    place with small padded copies of the ends only (long signals)."""
    if ends == "in place":
        monkeypatch.setattr(_api1d, "_PAD_WHOLE_1D", 0)
    rng = np.random.default_rng(300)
    for n, k in LENGTHS:
        a = random_array(rng, n, dtype)
        v = random_array(rng, k, dtype)
        check(op, a, v, dtype, mode, workers=1 + (n + k) % 2)


def _block_outputs(dtype):
    """(lanes, outputs per full block of the 1-D kernel) on the active path."""
    active = _dispatch.active()
    for path in _core.compiled_paths():
        if path["name"] == active:
            lanes = path["lanes_float32" if dtype == np.float32 else "lanes_float64"]
            return lanes, lanes * path["block_vectors_1d"]
    raise AssertionError(f"active path {active} is not compiled")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
def test_every_path(simd_path, dtype):
    """Every block kind of the 1-D kernel on each SIMD path: output runs below one vector
    (zero-padded copy), single vectors with an overlapped last one, full blocks with an
    overlapped last block; tap counts below one vector, at and around whole tap groups."""
    rng = np.random.default_rng(301)
    lanes, block = _block_outputs(dtype)
    outputs = sorted({1, lanes - 1, lanes, lanes + 1, block - 1, block, block + 1,
                      2 * block + lanes // 2 + 1, 5 * block - 1} - {0})
    for n_out in outputs:
        for k in (1, 2, lanes - 1, lanes + 1, 4 * lanes, 7 * lanes + 3, 13 * lanes - 1):
            k = max(k, 1)
            a = random_array(rng, n_out + k - 1, dtype)
            v = random_array(rng, k, dtype)
            check("correlate", a, v, dtype, "valid", workers=2,
                  context=f"[simd={simd_path}] outputs={n_out} K={k}")
    for n, k in [(3000, 5), (2100, 40), (3100, 100), (4100, 600)]:
        a = random_array(rng, n, dtype)
        v = random_array(rng, k, dtype)
        for op, mode in (("convolve", "full"), ("correlate", "same")):
            check(op, a, v, dtype, mode, workers=2, context=f"[simd={simd_path}]")
        check("correlate", v, a, dtype, "full", workers=1, context=f"[simd={simd_path}] swapped")


def test_long_signal_multithreaded():
    rng = np.random.default_rng(302)
    a = random_array(rng, 300_000, np.float32)
    for k in (3, 33, 256):
        v = random_array(rng, k, np.float32)
        check("correlate", a, v, np.float32, "valid", workers=2)
        check("convolve", a, v, np.float32, "same", workers=2)


def test_core_1d_rejects_mismatched_arguments():
    """The core trusts its callers for dtypes but checks what would read or write out of
    bounds: lengths, batch sizes and strides."""
    x = np.zeros((2, 100), np.float32)
    w = np.ones((1, 5), np.float32)
    out = np.empty((2, 96), np.float32)
    _core.correlate_valid_1d_batch(x, w, out, 1)
    bad = [(x, w, out[:, :95]), (x, np.ones((3, 5), np.float32), out), (x[:1], w, out),
           (x, np.ones((1, 101), np.float32), np.empty((2, 0), np.float32)),
           (np.zeros((2, 200), np.float32)[:, ::2], w, out),
           (x, w, np.empty((2, 192), np.float32)[:, ::2])]
    for args in bad:
        with pytest.raises(ValueError, match="correlate_valid_1d_batch"):
            _core.correlate_valid_1d_batch(*args, 1)


def test_random_lengths():
    rng = np.random.default_rng(303)
    for trial in range(80):
        n, k = rng.integers(1, 300, size=2)
        dtype = DTYPES[trial % 4]
        check(list(FUNCS)[trial % 2], random_array(rng, n, dtype), random_array(rng, k, dtype),
              dtype, MODES[trial % 3])


# ----------------------------------------------------------------------------- semantics
def test_defaults_and_by_hand():
    """numpy's defaults ('valid' for correlate, 'full' for convolve), conjugation of v, and
    the swap rule, on values worked out by hand."""
    a, v = [1.0, 2.0, 3.0], [0.0, 1.0, 0.5]
    np.testing.assert_array_equal(fastcorr.correlate(a, v), [3.5])
    np.testing.assert_array_equal(fastcorr.convolve(a, v), [0, 1, 2.5, 4, 1.5])
    np.testing.assert_array_equal(fastcorr.correlate([1j, 1.0], [1j]), [1, -1j])
    np.testing.assert_array_equal(fastcorr.convolve([1j, 1.0], [1j]), [-1, 1j])
    # v longer: the lags stay those of the definition, c[k] = sum_n a[n+k] v[n]:
    # a = [1, 2], v = [1, 10, 100]: lag -2 is a[0] v[2] = 100, lag -1 a[0] v[1] + a[1] v[2]
    # = 210, lag 0 1 + 20 = 21, lag 1 a[1] v[0] = 2.
    np.testing.assert_array_equal(fastcorr.correlate([1.0, 2.0], [1.0, 10.0, 100.0], "full"),
                                  [100, 210, 21, 2])
    np.testing.assert_array_equal(fastcorr.correlate([1.0, 2.0], [1.0, 10.0, 100.0]), [210, 21])
    # ... and numpy's 'same' for the swapped case starts at len(a) // 2, not at
    # (len(a) - 1) // 2 as the unswapped rule would.
    np.testing.assert_array_equal(fastcorr.correlate([1.0, 2.0], [1.0, 10.0, 100.0], "same"),
                                  [210, 21, 2])
    np.testing.assert_array_equal(np.correlate([1.0, 2.0], [1.0, 10.0, 100.0], "same"),
                                  [210, 21, 2])


def test_oracle_self_check():
    """The oracle against numpy on small integers (exact sums) for every mode and length
    relation, so a wrong window in reference.py cannot hide."""
    rng = np.random.default_rng(304)
    for n, k in [(7, 3), (7, 4), (3, 7), (4, 7), (5, 5), (1, 4), (4, 1), (2, 6), (6, 2)]:
        a = rng.integers(-9, 10, n).astype(np.float64)
        v = rng.integers(-9, 10, k).astype(np.float64)
        for op, (_, numpy_func) in FUNCS.items():
            for mode in MODES:
                np.testing.assert_array_equal(correlate1d_reference(a, v, np.float64, mode, op),
                                              numpy_func(a, v, mode), err_msg=f"{op} {mode} {n} {k}")


def test_scalars_and_lists():
    """numpy.convolve takes scalars as one-sample sequences, numpy.correlate rejects them."""
    check("convolve", 3.0, [1.0, 2.0], np.float64, "full")
    check("convolve", [1, 2, 3], 2, np.float64, "same")
    for args in ((3.0, [1.0, 2.0]), ([1.0, 2.0], 3.0)):
        with pytest.raises(ValueError, match="1-D"):
            fastcorr.correlate(*args)
        with pytest.raises(ValueError):
            np.correlate(*args)
    check("correlate", [True, False, True], [1, 2], np.float64, "valid")


PROMOTION = [
    (np.float32, np.float32, np.float32),
    (np.float16, np.float32, np.float32),
    (np.float32, np.float64, np.float64),
    (np.int16, np.float32, np.float64),
    (np.complex64, np.float32, np.complex64),
    (np.complex64, np.float64, np.complex128),
    (np.int32, np.complex64, np.complex128),
]


@pytest.mark.parametrize("dt1, dt2, expected", PROMOTION,
                         ids=[f"{dtype_id(a)}+{dtype_id(b)}->{dtype_id(c)}"
                              for a, b, c in PROMOTION])
def test_promotion(dt1, dt2, expected):
    rng = np.random.default_rng(305)
    def make(n, dt):
        if np.dtype(dt).kind in "iu":
            return rng.integers(-50, 50, n).astype(dt)
        return random_array(rng, n, dt)
    for op in FUNCS:
        check(op, make(40, dt1), make(6, dt2), expected, "full")


def test_float32_is_computed_in_float32():
    """The sum 1 + 2**-24 + 2**-48 rounds to 1 in every float32 order but not via float64."""
    a = np.array([1.0, 2.0**-24, 2.0**-48], dtype=np.float32)
    assert fastcorr.correlate(a, np.ones(3, np.float32))[0] == np.float32(1.0)


def test_inf_next_to_the_window_with_leftover_taps():
    """Tap counts that leave a partial tap group: no tap is zero-padded, so samples just
    outside a window must not turn Inf * 0 into NaN."""
    rng = np.random.default_rng(306)
    for dtype, k in ((np.float32, 200), (np.float64, 100), (np.float32, 130)):
        a = random_array(rng, 3000, dtype)
        a[1500] = np.inf
        a[2999] = -np.inf
        v = random_array(rng, k, dtype)
        with np.errstate(invalid="ignore"):
            result = check("correlate", a, v, dtype, "valid")
        assert np.isinf(result).any() and not np.isnan(result[:1500 - k]).any()


@pytest.mark.parametrize("layout", ["strided", "negative", "readonly", "nonnative", "unaligned"])
def test_layouts(layout):
    rng = np.random.default_rng(307)
    values = random_array(rng, 2000, np.float64)
    if layout == "strided":
        a = np.repeat(values, 3)[::3]
    elif layout == "negative":
        a = values[::-1].copy()[::-1]
    elif layout == "readonly":
        a = values.copy()
        a.flags.writeable = False
    elif layout == "nonnative":
        a = values.astype(values.dtype.newbyteorder())
    else:
        raw = np.empty(values.nbytes + 1, np.uint8)[1:]
        a = raw.view(np.float64)
        a[...] = values
    v = random_array(rng, 37, np.float64)
    check("correlate", a, v, np.float64, "same")
    check("convolve", v[::-2], a, np.float64, "valid")


def test_signal_is_not_copied():
    """The design promise: the long signal is read in place by the 1-D kernel, so the call
    allocates little beyond its result."""
    a = np.random.default_rng(308).standard_normal(1_000_000)
    for k in (5, 64, 256):
        v = np.ones(k)
        fastcorr.correlate(a, v, "full")
        tracemalloc.start()
        try:
            result = fastcorr.correlate(a, v, "full", workers=2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak - result.nbytes < a.nbytes / 20, f"K={k}: {peak - result.nbytes} bytes extra"


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("func", [fastcorr.correlate, fastcorr.convolve],
                         ids=["correlate", "convolve"])
def test_errors(func):
    # More dimensions are a batch (tests/test_batches.py), which must broadcast.
    with pytest.raises(ValueError, match=r"(?s)batch.*\ba\b.*\bv\b"):
        func(np.ones((3, 5)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\ba\b.*empty"):
        func([], [1.0])
    with pytest.raises(ValueError, match=r"\bv\b.*empty"):
        func([1.0], np.ones(0))
    with pytest.raises(ValueError, match="mode"):
        func([1.0, 2.0], [1.0], "circular")
    with pytest.raises(TypeError, match="mode"):
        func([1.0, 2.0], [1.0], 1)
    with pytest.raises(TypeError, match=r"\bv\b.*object"):
        func([1.0, 2.0], np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="workers"):
        func([1.0, 2.0], [1.0], workers=0)
    with pytest.raises(TypeError, match="workers"):
        func([1.0, 2.0], [1.0], workers=1.5)
    with pytest.raises(TypeError):
        func([1.0, 2.0], [1.0], "valid", 2)  # workers is keyword-only
