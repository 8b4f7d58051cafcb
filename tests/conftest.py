import sys

import numpy as np
import pytest

from fastcorr import _api, _dispatch

SUPPORTED_PATHS = _dispatch.supported_paths()

# Every memory layout the public functions must accept, holding the same values.
LAYOUTS = ["C", "F", "strided", "negative", "mixed", "readonly", "nonnative", "unaligned"]


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


def to_layout(values, layout):
    """An array equal to `values` (2-D) stored in `layout`.

    The helper asserts the layout really has the intended property, so a NumPy change that
    (say) made the strided view contiguous would fail loudly instead of silently testing C.
    """
    values = np.asarray(values)
    dtype = values.dtype
    m, n = values.shape
    if layout == "C":
        out = np.ascontiguousarray(values)
        assert out.flags.c_contiguous
    elif layout == "F":
        out = np.asfortranarray(values)
        # A single row or column is both C- and F-contiguous; only insist on "not C" otherwise.
        assert out.flags.f_contiguous and (min(m, n) == 1 or not out.flags.c_contiguous)
    elif layout == "strided":
        # NaN (or an extreme integer) between the selected elements: any read through the wrong
        # stride poisons the result instead of going unnoticed.
        fill = np.nan if dtype.kind == "f" else (np.iinfo(dtype).max if dtype.kind in "iu" else True)
        buf = np.full((2 * m + 1, 3 * n + 2), fill, dtype=dtype)
        buf[1::2, 2::3] = values
        out = buf[1::2, 2::3]
        assert not out.flags.c_contiguous and not out.flags.f_contiguous
    elif layout == "negative":
        out = np.ascontiguousarray(values[::-1, ::-1])[::-1, ::-1]
        assert out.strides[0] <= 0 and out.strides[1] < 0
    elif layout == "mixed":
        # Rows reversed with a step, columns forward: neither contiguous nor uniformly signed.
        buf = np.full((2 * m, n + 1), np.nan if dtype.kind == "f" else 0, dtype=dtype)
        view = buf[::-2, 1:]
        view[...] = values
        out = view
        assert out.strides[0] < 0 < out.strides[1]
    elif layout == "readonly":
        out = values.copy()
        out.flags.writeable = False
    elif layout == "nonnative":
        other = ">" if sys.byteorder == "little" else "<"
        out = values.astype(dtype.newbyteorder(other))
        assert not out.dtype.isnative or dtype.itemsize == 1
    elif layout == "unaligned":
        raw = np.empty(values.nbytes + 1, dtype=np.uint8)[1:]
        out = raw.view(dtype).reshape(values.shape)
        out[...] = values
        assert not out.flags.aligned or dtype.itemsize == 1
    else:
        raise ValueError(f"unknown layout {layout!r}")
    assert np.array_equal(out, values, equal_nan=dtype.kind == "f")
    return out


@pytest.fixture
def make_layout():
    return to_layout


@pytest.fixture(params=LAYOUTS, ids=lambda layout: f"in1={layout}")
def in1_layout(request):
    return request.param


@pytest.fixture(params=LAYOUTS, ids=lambda layout: f"in2={layout}")
def in2_layout(request):
    return request.param


@pytest.fixture(params=["framed", "blocks", "whole"], ids=lambda f: f"frame={f}")
def frame(request, monkeypatch):
    """Every way the core computes a 'full'/'same' result, forced for every image size: an
    interior read in place plus a frame from extended rows (large images); whole extended
    images cut into the smallest blocks the core allows (kernels larger than a large image: a
    buffer budget of nothing, so blocks of rows and columns each extend their own); and whole
    extended images, one block per image (stacks of small images)."""
    if request.param == "framed":
        monkeypatch.setattr(_api, "_SMALL_IMAGE", 0)
    elif request.param == "blocks":
        monkeypatch.setattr(_api, "_SMALL_IMAGE", 1 << 40)
        monkeypatch.setattr(_api, "_EXTEND_BYTES", 0)
    else:
        monkeypatch.setattr(_api, "_SMALL_IMAGE", 1 << 40)
        monkeypatch.setattr(_api, "_EXTEND_BYTES", 1 << 40)
    return request.param
