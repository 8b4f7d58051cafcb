"""The fast road and the general road: the same plan, the same core, so the same bits and the
same errors.

The commonest calls (C-contiguous float32/float64 arrays of the right dimensions) take a
shorter road to their plan.  ``fastcorr._engine.plan.FAST_ROAD`` (True by default) turns that
road off, sending every call down the general one; each call below is made both ways and must
give bit-for-bit the same result (out= included), or the same exception class and message.
"""
import numpy as np
import pytest

from faces import FACES_1D, FACES_2D, dtype_id
from fastcorr import ndimage as fn
from fastcorr._engine.methods import separable_pays


def outcome(call):
    """('result', bytes, dtype, shape) or ('error', class, message) of `call()`."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return ("error", type(exc), str(exc))
    result = np.asarray(result)
    return ("result", np.ascontiguousarray(result).tobytes(), result.dtype, result.shape)


def both_roads(monkeypatch, make_call):
    """The outcome of the call `make_call()` builds, on the fast road and on the general road
    (a fresh call each time, so an out= of the first cannot feed the second)."""
    from fastcorr._engine import plan

    assert plan.FAST_ROAD is True, "the fast road is on by default"
    fast = outcome(make_call())
    monkeypatch.setattr(plan, "FAST_ROAD", False)
    general = outcome(make_call())
    monkeypatch.setattr(plan, "FAST_ROAD", True)
    return fast, general


def assert_same(fast, general):
    assert fast[0] == general[0], f"fast road: {fast[:3]!r}, general road: {general[:3]!r}"
    if fast[0] == "error":
        assert fast[1:] == general[1:], f"fast road raised {fast[1:]}, general {general[1:]}"
    else:
        assert fast[2:] == general[2:], "dtype/shape differ between the roads"
        assert fast[1] == general[1], "the roads give different bits"


def _data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("use_out", [False, True], ids=["new result", "out="])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_calls(monkeypatch, face, dtype, mode, boundary, use_out):
    for image_shape, kernel_shape, fill in (((64, 70), (3, 3), 0), ((40, 33), (4, 6), 1.5),
                                            ((130, 140), (5, 5), -2), ((5, 6), (5, 6), 0.25)):
        image = _data(image_shape, dtype, 1)
        kernel = _data(kernel_shape, dtype, 2)
        shape = face(image, kernel, mode, boundary, fill).shape

        def make_call():
            out = np.full(shape, np.nan, dtype) if use_out else None
            kwargs = {"out": out} if use_out else {}

            def call():
                result = face(image, kernel, mode, boundary, fill, **kwargs)
                assert out is None or result is out
                return result
            return call

        assert_same(*both_roads(monkeypatch, make_call))


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_calls(monkeypatch, face, dtype, mode):
    for n, k in ((1000, 5), (20_000, 64), (300, 129), (50, 50)):
        a, v = _data(n, dtype, 3), _data(k, dtype, 4)
        assert_same(*both_roads(monkeypatch, lambda: lambda: face(a, v, mode)))


IMAGE = np.arange(48, dtype=np.float64).reshape(6, 8) / 7
KERNEL = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
BAD_2D = {
    "mode": dict(mode="nope"),
    "mode type": dict(mode=None),
    "boundary": dict(mode="same", boundary="nope"),
    "fillvalue size": dict(mode="full", fillvalue=[1.0, 2.0]),
    "fillvalue complex": dict(mode="full", fillvalue=1 + 1j),
    "fillvalue str": dict(mode="full", fillvalue="1"),
    "out shape": dict(mode="valid", out=np.zeros((6, 5))),
    "out dtype": dict(mode="valid", out=np.zeros((5, 6))),
    "out read-only": dict(mode="valid", out=np.zeros((5, 6))[...].copy()),
    "workers 0": dict(mode="same", workers=0),
    "workers float": dict(mode="same", workers=1.5),
    "workers too negative": dict(mode="same", workers=-10_000),
}
BAD_2D["out read-only"]["out"].flags.writeable = False


@pytest.mark.parametrize("what", list(BAD_2D))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_bad_calls(monkeypatch, face, dtype, what):
    kwargs = dict(BAD_2D[what])
    if "out" in kwargs:
        # The result's dtype, except where the dtype is what is wrong.
        other = np.float64 if dtype == np.float32 else np.float32
        out = kwargs["out"].astype(other if what == "out dtype" else dtype)
        out.flags.writeable = kwargs["out"].flags.writeable
        kwargs["out"] = out
    image, kernel = IMAGE.astype(dtype), KERNEL.astype(dtype)
    fast, general = both_roads(monkeypatch, lambda: lambda: face.func(image, kernel, **kwargs))
    assert fast[0] == "error", f"{what} was accepted"
    assert_same(fast, general)


SHAPE_ERRORS_2D = {"neither larger": ((5, 3), (3, 5)), "empty": ((0, 3), (2, 2)),
                   "3-D without axes": ((2, 6, 8), (2, 2)), "1-D": ((8,), (2, 2))}


@pytest.mark.parametrize("what", list(SHAPE_ERRORS_2D))
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_2d_shape_errors(monkeypatch, face, what):
    in1, in2 = (np.ones(shape) for shape in SHAPE_ERRORS_2D[what])
    fast, general = both_roads(monkeypatch, lambda: lambda: face.func(in1, in2, "valid"))
    assert fast[0] == "error", f"{what} was accepted"
    assert_same(fast, general)


A, V = np.arange(20.0), np.ones(3)
BAD_1D = {"mode": ((A, V, "nope"), {}), "workers 0": ((A, V), {"workers": 0}),
          "empty": ((A, np.ones(0)), {}), "2-D without axes": ((np.ones((2, 20)), V), {}),
          "workers str": ((A, V), {"workers": "2"})}


@pytest.mark.parametrize("what", list(BAD_1D))
@pytest.mark.parametrize("face", FACES_1D, ids=repr)
def test_1d_bad_calls(monkeypatch, face, what):
    args, kwargs = BAD_1D[what]
    fast, general = both_roads(monkeypatch, lambda: lambda: face.func(*args, **kwargs))
    assert fast[0] == "error", f"{what} was accepted"
    assert_same(fast, general)


# fastcorr.ndimage: a call that repeats an earlier one's shapes and options takes the route
# remembered then (filters.correlate_same), and the batch axes of C-contiguous arrays merge by
# a reshape (plan.bind).  Each case runs on the general road, then twice on the fast one (the
# first call remembers, the second recalls), with a fresh memory: the same bits all three times.
# (The separable filters' 3 taps, and 5 where `separable_pays` says the passes cost more, run
# as one direct kernel, through that route too; longer ones and laplace run fused passes,
# which remember their spans and maps.)
NDIMAGE_CASES = {
    "correlate 2-D": (lambda x, o: fn.correlate(x, KERNEL, output=o), (9, 11)),
    "correlate origin constant": (
        lambda x, o: fn.correlate(x, KERNEL, output=o, mode="constant", cval=-0.5,
                                  origin=(0, -1)), (9, 11)),
    "correlate -0.0 fill": (
        lambda x, o: fn.correlate(x * 0, KERNEL, output=o, mode="constant", cval=-0.0),
        (6, 7)),
    "convolve wrap": (lambda x, o: fn.convolve(x, KERNEL, output=o, mode="wrap"), (5, 4)),
    "correlate batch axis first": (
        lambda x, o: fn.correlate(x, KERNEL[None], output=o, mode="mirror"), (3, 9, 11)),
    "correlate batch axis between": (
        lambda x, o: fn.correlate(x, KERNEL[:, None, :], output=o, mode="nearest"), (6, 4, 7)),
    "correlate1d last axis": (
        lambda x, o: fn.correlate1d(x, KERNEL[1], output=o, origin=1), (5, 6, 30)),
    "correlate1d axis 0": (lambda x, o: fn.correlate1d(x, KERNEL[0], axis=0, output=o),
                           (30, 7)),
    "uniform_filter": (lambda x, o: fn.uniform_filter(x, 3, output=o), (8, 8)),
    "sobel": (lambda x, o: fn.sobel(x, output=o, mode="constant", cval=2.0), (4, 8, 8)),
    "gaussian_filter 5 taps": (lambda x, o: fn.gaussian_filter(x, 0.5, output=o), (17, 12)),
    # Fused passes (filters.separable_same), which remember their spans and maps instead.
    "gaussian_filter 13 taps": (lambda x, o: fn.gaussian_filter(x, 1.5, output=o), (17, 12)),
    "laplace": (lambda x, o: fn.laplace(x, output=o, mode=("wrap", "constant"), cval=3.0),
                (12, 10)),
}
FUSED = {"gaussian_filter 13 taps", "laplace"}


@pytest.mark.parametrize("layout", ["C-contiguous", "strided", "out=", "out= the input"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("case", list(NDIMAGE_CASES))
def test_ndimage_calls(monkeypatch, case, dtype, layout):
    from fastcorr._engine import plan

    filt, shape = NDIMAGE_CASES[case]

    def make_call():
        base = _data(tuple(2 * n for n in shape), dtype, 5)
        x = base[tuple(slice(None, None, 2) for _ in shape)] if layout == "strided" else \
            np.ascontiguousarray(base[tuple(slice(0, n) for n in shape)])
        out = {"out=": np.full(shape, np.nan, dtype), "out= the input": x}.get(layout)

        def call():
            result = filt(x, out)
            assert out is None or result is out
            return result
        return call

    monkeypatch.setattr(plan, "_GEOMETRIES", {})
    first, general = both_roads(monkeypatch, make_call)
    recalled = outcome(make_call())
    assert_same(first, general)
    assert_same(recalled, general)
    fused = case in FUSED or (case == "gaussian_filter 5 taps"
                              and separable_pays((5, 5), dtype))
    route = "separable_same" if fused else "correlate_same"
    assert any(key[0] == route for key in plan._GEOMETRIES), f"{route} remembered nothing"


# Calls that share shapes but differ in one option each, in sequence with the memory kept: each
# must give the bits it gives after a fresh start (a remembered route reused for an option it
# does not depend on is wrong).
VARIANTS = {
    "correlate": [dict(), dict(origin=(1, 0)), dict(origin=(0, -1)), dict(mode="wrap"),
                  dict(mode="constant", cval=1.0), dict(output=np.float32),
                  dict(output=np.float64)],
    "correlate1d": [dict(), dict(origin=1), dict(axis=0), dict(mode="nearest"),
                    dict(mode="constant", cval=2.0), dict(output=np.float32)],
    "gaussian_filter": [dict(), dict(mode="mirror"), dict(mode=("wrap", "reflect")),
                        dict(mode="constant", cval=1.5), dict(output=np.float32),
                        dict(truncate=2.0)],
    "uniform_filter": [dict(), dict(origin=(0, 1)), dict(origin=(-1, 0)), dict(size=(3, 5)),
                       dict(mode="constant", cval=-1.0), dict(output=np.float64)],
    # Fused passes (9 taps), with the origins they remember maps for.
    "uniform_filter 9": [dict(size=9), dict(size=9, origin=(0, 2)),
                         dict(size=9, origin=(-3, 1)), dict(size=9, mode="wrap")],
    "laplace": [dict(), dict(mode="nearest"), dict(mode=("wrap", "mirror")),
                dict(mode="constant", cval=2.0), dict(axes=(1, 0))],
}
VARIANT_CALLS = {
    "correlate": lambda x, kw: fn.correlate(x, KERNEL, **kw),
    "correlate1d": lambda x, kw: fn.correlate1d(x, KERNEL[1], **kw),
    "gaussian_filter": lambda x, kw: fn.gaussian_filter(x, 2.0, **kw),
    "uniform_filter": lambda x, kw: fn.uniform_filter(x, **kw),
    "uniform_filter 9": lambda x, kw: fn.uniform_filter(x, **kw),
    "laplace": lambda x, kw: fn.laplace(x, **kw),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=dtype_id)
@pytest.mark.parametrize("name", list(VARIANTS))
def test_ndimage_options_in_sequence(monkeypatch, name, dtype):
    from fastcorr._engine import plan

    x = _data((19, 23), dtype, 6)
    call = VARIANT_CALLS[name]
    monkeypatch.setattr(plan, "_GEOMETRIES", {})
    in_sequence = [outcome(lambda: call(x, kw)) for kw in VARIANTS[name] * 2]
    for kw, seen in zip(VARIANTS[name] * 2, in_sequence):
        monkeypatch.setattr(plan, "_GEOMETRIES", {})
        assert_same(seen, outcome(lambda: call(x, kw)))
