"""Property tests: for any shapes (1..64 per dimension), kernel up to the image (and larger, in
'full'/'same' and swapped 'valid'), memory layout (every layout of conftest.to_layout, with
drawn steps for the strided one), dtype, mode, boundary, workers and SIMD path, fastcorr equals
the oracle within the stated bound (tests/oracle.py) and never modifies its inputs.

200 examples per test in the default run; the `slow` variant runs 2,000.  They pin
method='direct', whose bound they check per output; the other methods and 'auto' have their
own bounds, tested in test_methods.py.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")  # in the [test] extra's intended list
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastcorr  # noqa: E402
from fastcorr import _dispatch  # noqa: E402
from conftest import layouts_for, to_layout  # noqa: E402
from oracle import assert_within_bound, error_bound, exact, result_dtype  # noqa: E402

MODES = ["valid", "same", "full"]
BOUNDARIES = ["fill", "wrap", "symm"]
DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int32, np.uint16, np.bool_,
          np.complex64, np.complex128]
PATHS = _dispatch.supported_paths()
WORKERS = [None, 1, 2, 3, -1]


def values(draw, shape, dtype):
    dtype = np.dtype(dtype)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    scale = draw(st.sampled_from([1.0, 1e-3, 1e4]))
    data = rng.standard_normal(shape) * scale
    if dtype.kind == "c":
        data = data + 1j * rng.standard_normal(shape) * scale
    return data.astype(dtype)


def strided(draw, arr):
    """`arr` in a drawn memory layout (conftest.to_layout), with drawn steps for 'strided'."""
    layout = draw(st.sampled_from(layouts_for(arr.ndim)))
    steps = None
    if layout == "strided":
        steps = tuple(draw(st.integers(1, 3)) for _ in range(arr.ndim))
    return to_layout(arr, layout, steps)


@st.composite
def problems(draw, max_side=64):
    m = draw(st.integers(1, max_side))
    n = draw(st.integers(1, max_side))
    mode = draw(st.sampled_from(MODES))
    if mode == "valid":
        p, q = draw(st.integers(1, m)), draw(st.integers(1, n))
    else:  # 'full' and 'same' take any kernel shape, also larger than the image
        p, q = draw(st.integers(1, min(max_side, m + 8))), draw(st.integers(1, min(max_side, n + 8)))
    dt1 = draw(st.sampled_from(DTYPES))
    dt2 = draw(st.sampled_from([dt1] * 3 + DTYPES))
    image = values(draw, (m, n), dt1)
    kernel = values(draw, (p, q), dt2)
    in1, in2 = strided(draw, image), strided(draw, kernel)
    swap = mode == "valid" and draw(st.booleans())  # scipy's in2-larger rule
    if swap:
        in1, in2 = in2, in1
    return {
        "op": draw(st.sampled_from(["correlate", "convolve"])),
        "in1": in1, "in2": in2, "mode": mode,
        "boundary": draw(st.sampled_from(BOUNDARIES)),
        "fillvalue": draw(st.sampled_from([0, 0, 1.5, -2])),
        "workers": draw(st.sampled_from(WORKERS)),
        "path": draw(st.sampled_from(PATHS)),
        "use_out": draw(st.booleans()),
    }


def check_problem(pb):
    in1, in2 = pb["in1"], pb["in2"]
    snaps = [(a.copy(), a.strides, a.dtype, a.flags.writeable) for a in (in1, in2)]
    dtype = result_dtype(in1.dtype, in2.dtype)
    func = fastcorr.correlate2d if pb["op"] == "correlate" else fastcorr.convolve2d
    kwargs = {"mode": pb["mode"], "workers": pb["workers"], "boundary": pb["boundary"],
              "fillvalue": pb["fillvalue"], "method": "direct"}
    ref_kwargs = dict(mode=pb["mode"], boundary=pb["boundary"], fillvalue=pb["fillvalue"])
    previous = _dispatch.active()
    _dispatch.select(pb["path"])
    try:
        if pb["use_out"]:
            shape = func(in1, in2, **kwargs).shape
            out = np.full(shape, 7, dtype)
            result = func(in1, in2, out=out, **kwargs)
            assert result is out
        else:
            result = func(in1, in2, **kwargs)
    finally:
        _dispatch.select(previous)
    for (copy, strides, dt, writeable), a, name in zip(snaps, (in1, in2), ("in1", "in2")):
        assert a.strides == strides and a.dtype == dt and a.flags.writeable == writeable
        assert np.array_equal(a, copy, equal_nan=True), f"{name} was modified"
    assert result.dtype == dtype, (result.dtype, dtype)
    expected = exact(pb["op"] + "2d", in1, in2, dtype, **ref_kwargs)
    bound = error_bound(pb["op"] + "2d", in1, in2, dtype, **ref_kwargs)
    context = (f"{pb['op']} {in1.shape}{in1.dtype} {in1.strides} with {in2.shape}{in2.dtype} "
               f"{in2.strides} mode={pb['mode']} boundary={pb['boundary']} "
               f"fill={pb['fillvalue']} workers={pb['workers']} simd={pb['path']}")
    assert_within_bound(result, expected, bound, context)


COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large],
              derandomize=False, print_blob=True)


@settings(max_examples=200, **COMMON)
@given(problems())
def test_matches_reference_and_leaves_inputs(pb):
    check_problem(pb)


@settings(max_examples=100, **COMMON)
@given(problems(max_side=9))
def test_matches_reference_small_shapes(pb):
    """Tiny shapes hit the edge cases (1 x N, kernel == image, kernel larger than the image
    in 'full'/'same') far more often than the 1..64 draw does."""
    check_problem(pb)


@pytest.mark.slow
@settings(max_examples=2000, **COMMON)
@given(problems())
def test_matches_reference_many_examples(pb):
    check_problem(pb)


# ----------------------------------------------------------------------------- 1-D
@st.composite
def problems_1d(draw):
    n = draw(st.integers(1, 400))
    k = draw(st.integers(1, 400 if draw(st.booleans()) else 12))
    dt1 = draw(st.sampled_from(DTYPES))
    dt2 = draw(st.sampled_from([dt1] * 3 + DTYPES))
    a = strided(draw, values(draw, (n,), dt1))
    v = strided(draw, values(draw, (k,), dt2))
    return {"op": draw(st.sampled_from(["correlate", "convolve"])), "a": a, "v": v,
            "mode": draw(st.sampled_from(["valid", "same", "full"])),
            "workers": draw(st.sampled_from(WORKERS)), "path": draw(st.sampled_from(PATHS))}


@settings(max_examples=150, **COMMON)
@given(problems_1d())
def test_1d_matches_reference_and_leaves_inputs(pb):
    a, v = pb["a"], pb["v"]
    snaps = [(x.copy(), x.strides, x.dtype) for x in (a, v)]
    func = fastcorr.correlate if pb["op"] == "correlate" else fastcorr.convolve
    previous = _dispatch.active()
    _dispatch.select(pb["path"])
    try:
        result = func(a, v, pb["mode"], workers=pb["workers"], method="direct")
    finally:
        _dispatch.select(previous)
    for (copy, strides, dt), x in zip(snaps, (a, v)):
        assert x.strides == strides and x.dtype == dt
        assert np.array_equal(x, copy, equal_nan=True), "input modified"
    dtype = result_dtype(a.dtype, v.dtype)
    assert result.dtype == dtype
    expected = exact(pb["op"], a, v, dtype, pb["mode"])
    bound = error_bound(pb["op"], a, v, dtype, pb["mode"])
    assert_within_bound(result, expected, bound,
                        f"{pb['op']} {len(a)}{a.dtype} {a.strides} with {len(v)}{v.dtype} "
                        f"{v.strides} mode={pb['mode']} workers={pb['workers']} "
                        f"simd={pb['path']}")
