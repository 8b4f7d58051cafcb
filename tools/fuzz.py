#!/usr/bin/env python3
"""Fuzz fastcorr's public functions with random garbage for a given time (issue 5, item 9).

    python tools/fuzz.py --duration 600          # 10 minutes
    python tools/fuzz.py --duration 60 --seed 1  # reproducible start

Hypothesis draws arguments of every kind: arrays of random dtypes (all the numeric ones, and
object, str, bytes, datetime, void, structured), 0-4 dimensions, sizes 0..20, random layouts
(Fortran, negative and non-unit steps, zero strides, byte-swapped, unaligned, read-only),
NaN/Inf, masked arrays and matrices, and non-arrays (None, scalars, strings, ragged lists,
dicts); modes, boundaries, fill values, workers= and out= of every kind, right and wrong.  Each
call to correlate2d/convolve2d (and correlate/convolve when the package has them) must either

- raise TypeError, ValueError or MemoryError, or
- return a result that matches the NumPy oracle (tests/oracle.py) within the documented
  error bound, with the dtype of the promotion table, without modifying the inputs (unless
  out= overlaps them), and be `out` itself when out= was given.

Anything else (another exception type, a wrong result, a crash, a hang) is a failure.  The
fuzzing runs in a child process: if the child dies of a signal (a segfault), the parent
reports it with the last arguments the child logged before the call.  Exit status 0 means no
failure in the whole duration.
"""
import argparse
import os
import signal
import subprocess
import sys
import time
import warnings

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ============================================================================ parent
def parent(args):
    log = args.log or os.path.join("/tmp", f"fastcorr-fuzz-{os.getpid()}.log")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--duration", str(args.duration),
           "--log", log] + (["--seed", str(args.seed)] if args.seed is not None else [])
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, timeout=args.duration + 300)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
    elapsed = time.monotonic() - t0
    if code == 0:
        print(f"fuzz: PASS, {elapsed:.0f} s, no failure")
        return 0
    what = ("hang (no exit within duration + 300 s)" if code is None else
            f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}")
    print(f"fuzz: FAIL after {elapsed:.0f} s: {what}")
    try:
        with open(log) as f:
            print("last call logged by the child:\n" + f.read())
    except OSError:
        pass
    return 1


# ============================================================================ child
def child(args):
    import numpy as np
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from numpy.lib.stride_tricks import as_strided

    sys.path.insert(0, os.path.join(TOP, "tests"))
    import fastcorr
    import oracle

    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    funcs = [("correlate2d", fastcorr.correlate2d), ("convolve2d", fastcorr.convolve2d)]
    for name in ("correlate", "convolve"):
        if hasattr(fastcorr, name):
            funcs.append((name, getattr(fastcorr, name)))

    numeric = ["f2", "f4", "f8", "g", "c8", "c16", "G", "i1", "i2", "i4", "i8", "u1", "u2",
               "u4", "u8", "?"]
    other = ["O", "U3", "S3", "M8[s]", "m8[s]", "V8", [("a", "f8"), ("b", "i4")]]

    @st.composite
    def arrays(draw, sane_ndim=None, min_side=0, max_shape=None):
        """Any array (garbage), or with `sane_ndim` a non-empty numeric one of that ndim, no
        larger than `max_shape`."""
        if sane_ndim is None:
            dtype = np.dtype(draw(st.sampled_from(numeric * 3 + other)))
            ndim = draw(st.sampled_from([2] * 6 + [0, 1, 1, 3, 4]))
            shape = tuple(draw(st.integers(0, 20 if ndim <= 2 else 4)) for _ in range(ndim))
        else:
            dtype = np.dtype(draw(st.sampled_from(numeric)))
            ndim = sane_ndim
            limits = max_shape or (24,) * ndim
            shape = tuple(draw(st.integers(max(min_side, 1), lim)) for lim in limits)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        size = int(np.prod(shape))
        if dtype.kind in "fc":
            raw = rng.standard_normal(size) * 10.0 ** draw(st.integers(-30, 30))
            if dtype.kind == "c":
                raw = raw + 1j * rng.standard_normal(size)
            if size and draw(st.integers(0, 9)) == 0:
                raw[rng.integers(0, size)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            a = raw.astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, size=size, endpoint=True, dtype=dtype)
        elif dtype.kind == "b":
            a = rng.random(size) < 0.5
        elif dtype.kind == "O":
            a = np.empty(size, object)
            a[:] = [draw(st.sampled_from([1, 2.5, None, "x", 1j])) for _ in range(size)]
        else:
            a = np.zeros(size, dtype)
        a = a.reshape(shape)
        layout = draw(st.sampled_from(["C"] * 4 + ["F", "T", "steps", "zero", "swap",
                                                   "unaligned", "readonly", "masked",
                                                   "matrix", "broadcast"]))
        if layout == "F":
            a = np.asfortranarray(a)
        elif layout == "T":
            a = a.T
        elif layout == "steps" and ndim:
            big = np.zeros(tuple(s * 2 + 1 for s in shape), dtype)
            sl = tuple(slice(None, None, draw(st.sampled_from([2, -2]))) for _ in shape)
            view = big[sl][tuple(slice(0, s) for s in shape)]
            view[...] = a
            a = view
        elif layout == "zero" and ndim:
            a = as_strided(a.reshape(-1)[:1] if size else a, shape=shape,
                           strides=(0,) * ndim, writeable=False) if size else a
        elif layout == "swap" and dtype.kind in "fciu" and dtype.itemsize > 1:
            a = a.astype(dtype.newbyteorder())
        elif layout == "unaligned" and dtype.kind in "fciub" and ndim:
            raw = np.empty(a.nbytes + 1, np.uint8)[1:]
            u = raw.view(dtype).reshape(shape)
            u[...] = a
            a = u
        elif layout == "readonly":
            a = a.copy()
            a.flags.writeable = False
        elif layout == "masked":
            a = np.ma.masked_array(a, mask=rng.random(shape) < 0.3)
        elif layout == "matrix" and ndim == 2:
            a = np.matrix(a)
        elif layout == "broadcast" and ndim == 2 and shape[0]:
            a = np.broadcast_to(a[:1], (shape[0] + draw(st.integers(0, 5)), shape[1]))
        return a

    garbage = st.one_of(
        st.none(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.complex_numbers(),
        st.text(max_size=5), st.binary(max_size=5), st.booleans(),
        st.lists(st.lists(st.floats(-10, 10), max_size=4), max_size=4),  # maybe ragged
        st.lists(st.integers(-5, 5), max_size=6), st.dictionaries(st.text(max_size=2),
                                                                 st.integers(), max_size=2),
        st.just(object()), st.just(np.float64(2.0)), st.just(np.int64(3)),
    )
    operand = st.one_of(arrays(), arrays(), arrays(), garbage)
    modes = st.one_of(st.sampled_from(["valid", "same", "full"] * 4), st.text(max_size=6),
                      garbage)
    boundaries = st.one_of(st.sampled_from(["fill", "wrap", "symm", "circular", "symmetric"] * 3),
                           st.text(max_size=6), garbage)
    fills = st.one_of(st.sampled_from([0, 0, 1.5, -2, np.nan, np.inf, 1 + 2j, 1e300, 2**70]),
                      garbage, arrays())
    workers = st.one_of(st.sampled_from([None, 1, 2, -1, 3, 0, -2, -3, 2**40, -2**40]),
                        st.sampled_from([1.0, "2", True, np.int32(2), np.uint8(1), 2.5]), garbage)

    counts = {}

    def snapshot(x):
        if isinstance(x, np.ndarray):
            return (x, np.array(x, copy=True), x.dtype, x.shape, x.strides)
        return None

    def log_call(name, a, b, kwargs):
        with np.printoptions(threshold=30, edgeitems=2):
            def describe(x):
                if isinstance(x, np.ndarray):
                    return (f"{type(x).__name__} dtype={x.dtype} shape={x.shape} "
                            f"strides={x.strides} flags(C={x.flags.c_contiguous}, "
                            f"F={x.flags.f_contiguous}, W={x.flags.writeable}, "
                            f"A={x.flags.aligned}) values={np.asarray(x)!r}")
                return repr(x)[:300]
            text = (f"{name}(\n  {describe(a)},\n  {describe(b)},\n" +
                    "".join(f"  {k}={describe(v)},\n" for k, v in kwargs.items()) + ")\n")
        with open(args.log, "w") as f:
            f.write(text)

    def verify(name, a, b, kwargs, result):
        """Called when the function returned: check the result against the oracle."""
        out = kwargs.get("out")
        if out is not None:
            assert result is out, "out= given but another array returned"
        one_d = name in ("correlate", "convolve")
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        assert isinstance(result, np.ndarray), type(result)
        assert result.dtype in (np.float32, np.float64, np.complex64, np.complex128), result.dtype
        mode = kwargs.get("mode", "valid" if name == "correlate" else "full")
        op = "convolve" if name.startswith("convolve") else "correlate"
        dtype = result.dtype
        if not (np.all(np.isfinite(a_arr.astype(dtype))) and np.all(np.isfinite(b_arr.astype(dtype)))):
            return  # NaN/Inf patterns are checked by tests/test_accuracy.py
        if one_d:
            exact = oracle.exact(op, a_arr, b_arr, dtype, mode)
            bound = oracle.error_bound(op, a_arr, b_arr, dtype, mode)
        else:
            boundary = kwargs.get("boundary", "fill")
            boundary = {"circular": "wrap", "symmetric": "symm"}.get(boundary, boundary)
            fill = kwargs.get("fillvalue", 0)
            # A Python int past int64 gives an object array, which isfinite refuses.
            fill_arr = np.asarray(fill)
            if fill_arr.dtype == object:
                fill_arr = fill_arr.astype(np.complex128)
            if not np.all(np.isfinite(fill_arr)):
                return
            exact = oracle.exact(op + "2d", a_arr, b_arr, dtype, mode, boundary, fill)
            bound = oracle.error_bound(op + "2d", a_arr, b_arr, dtype, mode, boundary, fill)
        # bound ~ (n + 1) eps sum|w||x|: below max * eps no partial sum can overflow, so
        # Inf in the result would be a bug; above it overflow is the data's doing.
        finfo = np.finfo(dtype)
        if np.all(bound < float(finfo.max) * float(finfo.eps)):
            oracle.assert_within_bound(result, exact, bound, f"{name} {kwargs}")

    @st.composite
    def sane_calls(draw):
        """Arguments that should mostly be accepted: numeric arrays of the right ndim, known
        modes and boundaries, numeric fill values, sensible workers, out= right or None."""
        name, func = draw(st.sampled_from(funcs))
        ndim = 2 if name.endswith("2d") else 1
        a = draw(arrays(sane_ndim=ndim))
        b = draw(arrays(sane_ndim=ndim, max_shape=a.shape if draw(st.booleans()) else None))
        if draw(st.booleans()):
            a, b = b, a
        kwargs = {"mode": draw(st.sampled_from(["valid", "same", "full"])),
                  "workers": draw(st.sampled_from([None, 1, 2, -1]))}
        if ndim == 2:
            kwargs["boundary"] = draw(st.sampled_from(["fill", "wrap", "symm", "circular",
                                                       "symmetric"]))
            kwargs["fillvalue"] = draw(st.sampled_from([0, 1.5, -2, np.float32(3), True]))
            if draw(st.booleans()):
                try:
                    kwargs["out"] = np.full_like(func(a, b, **kwargs), 7)
                except (TypeError, ValueError):
                    pass
        # One fault at a time in an otherwise good call reaches the checks (and the code)
        # behind the first argument that would reject pure garbage.
        fault = draw(st.sampled_from([None, None, "a", "b", "mode", "workers"] +
                                     (["boundary", "fillvalue", "out"] if ndim == 2 else [])))
        if fault == "a":
            a = draw(operand)
        elif fault == "b":
            b = draw(operand)
        elif fault is not None:
            kwargs[fault] = draw({"mode": modes, "workers": workers, "boundary": boundaries,
                                  "fillvalue": fills,
                                  "out": st.one_of(garbage, arrays())}[fault])
        return name, func, a, b, kwargs

    @st.composite
    def garbage_calls(draw):
        name, func = draw(st.sampled_from(funcs))
        a, b = draw(operand), draw(operand)
        kwargs = {}
        if draw(st.booleans()):
            kwargs["mode"] = draw(modes)
        if name.endswith("2d"):
            if draw(st.booleans()):
                kwargs["boundary"] = draw(boundaries)
            if draw(st.booleans()):
                kwargs["fillvalue"] = draw(fills)
        if draw(st.booleans()):
            kwargs["workers"] = draw(workers)
        if name.endswith("2d") and draw(st.integers(0, 3)) == 0:
            kind = draw(st.sampled_from(["right", "wrong", "garbage"]))
            if kind == "garbage":
                kwargs["out"] = draw(garbage)
            elif kind == "wrong":
                kwargs["out"] = draw(arrays())
            else:
                try:
                    shape_probe = func(a, b, **{k: v for k, v in kwargs.items()})
                    kwargs["out"] = np.zeros_like(shape_probe)
                except Exception:  # noqa: BLE001 - the probe is allowed to fail
                    kwargs["out"] = draw(arrays())
        return name, func, a, b, kwargs

    calls = st.one_of(sane_calls(), garbage_calls())

    def fuzz_one(call):
        name, func, a, b, kwargs = call
        snaps = [snapshot(a), snapshot(b)]
        log_call(name, a, b, kwargs)
        try:
            result = func(a, b, **kwargs)
        except (TypeError, ValueError, MemoryError) as exc:
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1
            return
        counts["returned"] = counts.get("returned", 0) + 1
        out = kwargs.get("out")
        for snap in snaps:
            if snap is None:
                continue
            arr, copy, dtype, shape, strides = snap
            if isinstance(out, np.ndarray) and np.may_share_memory(arr, out):
                continue
            assert (arr.dtype, arr.shape, arr.strides) == (dtype, shape, strides)
            if arr.dtype.kind not in "OV" and arr.dtype.names is None:
                assert np.array_equal(np.asarray(arr), np.asarray(copy),
                                      equal_nan=arr.dtype.kind in "fc"), "input modified"
        verify(name, a, b, kwargs, result)

    end = time.monotonic() + args.duration
    rounds = 0
    seed = args.seed
    while time.monotonic() < end:
        run = settings(max_examples=300, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck),
                       phases=[Phase.generate, Phase.shrink])(given(calls)(fuzz_one))
        if seed is not None:
            from hypothesis import seed as hseed
            run = hseed(seed + rounds)(run)
        run()
        rounds += 1
    total = sum(counts.values())
    print(f"fuzz child: {total} calls in {rounds} rounds of 300: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log", default=None, help="file for the last call (crash reports)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
