"""Fixtures shared by the suite, and its one memory-layout generator (`to_layout`)."""
import os
import sys

import numpy as np
import pytest

from fastcorr import _dispatch

SUPPORTED_PATHS = _dispatch.supported_paths()


@pytest.fixture(scope="session", autouse=True)
def auto_as_measured():
    """method='auto' decides from its cost tables as measured (FASTCORR_AUTO_CALIBRATE=0) in
    every test but the calibration's own (test_methods.py): a test of what 'auto' picks tests
    its rules over a cost model, and scaled by probes timed on the machine at hand the answer
    would depend on that machine's moment (under tools/sanitize.sh, whose instrumented kernels
    run several times slower while scipy's FFT does not, it picked the FFT for a 31x31
    Gaussian); nor should a probe run under a fixture that forces one of the engine's routes
    or inside a test that counts the core's calls."""
    previous = os.environ.get("FASTCORR_AUTO_CALIBRATE")
    os.environ["FASTCORR_AUTO_CALIBRATE"] = "0"
    yield
    if previous is None:
        del os.environ["FASTCORR_AUTO_CALIBRATE"]
    else:
        os.environ["FASTCORR_AUTO_CALIBRATE"] = previous

# Every memory layout an input may come in, holding the same values.  'mixed' needs two axes;
# 'broadcast' (a zero stride) holds one value along the first axis (see `to_layout`).
LAYOUTS = ["C", "F", "strided", "negative", "mixed", "readonly", "nonnative", "unaligned",
           "broadcast"]
# The layouts an out= may come in: writeable, native, one element per value.
OUT_LAYOUTS = ["C", "F", "strided", "negative", "mixed", "unaligned"]


def layouts_for(ndim, layouts=LAYOUTS):
    """The layouts of `layouts` an array of `ndim` dimensions can have."""
    return [layout for layout in layouts if ndim >= 2 or layout != "mixed"]


def _poison(dtype):
    """A value that stands out if read by mistake through a wrong stride."""
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "iu":
        return np.iinfo(dtype).max
    return True


def to_layout(values, layout, steps=None):
    """A new array equal to `values` (any number of dimensions) stored in `layout`.

    C, F: contiguous copies.  strided: every `steps[d]`-th element of a larger buffer along
    each axis d (default 2 on every axis but the last, 3 on the last), with a poison value
    (NaN, or the largest integer) in between.  negative: every axis reversed in memory.
    mixed: the first axis reversed with a step of 2, the others forward with an offset.
    readonly, nonnative (byte-swapped), unaligned (one byte off): copies with that property.
    broadcast: a zero stride on the first axis, so it holds ``values[:1]`` repeated (the array
    returned is equal to that, not to `values`, where the two differ).

    Each layout is asserted to really have its property wherever the shape allows it (an axis
    of length 1 has no meaningful stride), so a NumPy change that made, say, the strided view
    contiguous fails loudly instead of silently testing C.
    """
    values = np.asarray(values)
    dtype, shape, ndim = values.dtype, values.shape, values.ndim
    long_axes = [d for d in range(ndim) if shape[d] > 1]
    expected = values
    if layout == "C":
        out = values.copy(order="C")
        assert out.flags.c_contiguous
    elif layout == "F":
        out = values.copy(order="F")
        assert out.flags.f_contiguous and (len(long_axes) <= 1 or not out.flags.c_contiguous)
    elif layout == "strided":
        steps = tuple(steps) if steps is not None else (2,) * (ndim - 1) + (3,) * (ndim > 0)
        buf = np.full(tuple(n * s + 2 for n, s in zip(shape, steps)), _poison(dtype), dtype)
        out = buf[tuple(slice(1, 1 + n * s, s) for n, s in zip(shape, steps))]
        out[...] = values
        if any(steps[d] > 1 for d in long_axes):
            assert not out.flags.c_contiguous and not out.flags.f_contiguous
    elif layout == "negative":
        flip = (slice(None, None, -1),) * ndim
        out = values[flip].copy()[flip]
        assert all(out.strides[d] < 0 for d in long_axes)
    elif layout == "mixed":
        if ndim < 2:
            raise ValueError("the mixed layout needs at least two axes")
        buf = np.full((2 * shape[0],) + shape[1:-1] + (shape[-1] + 1,), _poison(dtype), dtype)
        out = buf[(slice(None, None, -2),) + (slice(None),) * (ndim - 2) + (slice(1, None),)]
        out[...] = values
        if shape[0] > 1 and shape[-1] > 1:
            assert out.strides[0] < 0 < out.strides[-1]
    elif layout == "readonly":
        out = values.copy()
        out.flags.writeable = False
    elif layout == "nonnative":
        other = ">" if sys.byteorder == "little" else "<"
        out = values.astype(dtype.newbyteorder(other))
        assert not out.dtype.isnative or dtype.itemsize == 1
    elif layout == "unaligned":
        raw = np.empty(values.nbytes + 1, dtype=np.uint8)[1:]
        out = raw.view(dtype).reshape(shape)
        out[...] = values
        assert not out.flags.aligned or dtype.itemsize == 1
    elif layout == "broadcast":
        expected = np.broadcast_to(values[:1], shape)
        out = np.broadcast_to(values[:1].copy(), shape)
        assert ndim == 0 or shape[0] <= 1 or out.strides[0] == 0
    else:
        raise ValueError(f"unknown layout {layout!r}")
    assert out.shape == shape and out.dtype.newbyteorder("=") == dtype.newbyteorder("=")
    assert np.array_equal(out, expected, equal_nan=dtype.kind in "fc")
    return out


@pytest.fixture
def make_layout():
    return to_layout


@pytest.fixture(params=SUPPORTED_PATHS, ids=lambda p: f"simd={p}")
def simd_path(request):
    """Run the test on one SIMD path (selected in-process), then restore the previous one."""
    previous = _dispatch.active()
    assert _dispatch.select(request.param) == request.param
    try:
        yield request.param
    finally:
        _dispatch.select(previous)
    assert _dispatch.active() == previous


@pytest.fixture(params=["framed", "blocks", "whole"], ids=lambda f: f"frame={f}")
def frame(request, monkeypatch):
    """Every way the engine computes a 'full'/'same' result, forced for every image size: an
    interior read in place plus a frame from extended rows (large images); whole extended
    images cut into the smallest blocks the core allows (kernels larger than a large image: a
    buffer budget of nothing, so blocks of rows and columns each extend their own); and whole
    extended images, one block per image (stacks of small images)."""
    from fastcorr._engine import execute

    if request.param == "framed":
        monkeypatch.setattr(execute, "SMALL_IMAGE", 0)
    elif request.param == "blocks":
        monkeypatch.setattr(execute, "SMALL_IMAGE", 1 << 40)
        monkeypatch.setattr(execute, "EXTEND_BYTES", 0)
    else:
        monkeypatch.setattr(execute, "SMALL_IMAGE", 1 << 40)
        monkeypatch.setattr(execute, "EXTEND_BYTES", 1 << 40)
    return request.param


@pytest.fixture(params=["padded whole", "in place"], ids=lambda e: f"ends={e}")
def ends(request, monkeypatch):
    """Both ways the 1-D engine computes the outputs at a signal's ends: from a zero-padded
    copy of the whole (short) signal, and from the signal read in place with small padded
    copies of the ends only (long signals)."""
    from fastcorr._engine import execute

    if request.param == "in place":
        monkeypatch.setattr(execute, "PAD_WHOLE_1D", 0)
    else:
        monkeypatch.setattr(execute, "PAD_WHOLE_1D", 1 << 40)
    return request.param
