"""The 'nn' section: fastcorr.nn's convolution layer against torch's, forward and backward
(issue 16's figures).

On each of the issue's shapes (cases.NN_SHAPES: N, C, HxW, O, k, groups; stride 1, no
padding), in float32 and float64, four calls on the same arrays, verified, then timed side by
side on the same thread count:

- fastcorr forward: ``fastcorr.nn.conv2d`` into an ``out=`` array made once;
- fastcorr backward: ``conv2d_input`` and ``conv2d_weight`` for one output gradient, together;
- torch's same three calls (peers.NN_PEERS: torch.nn.functional.conv2d, then
  torch.nn.grad.conv2d_input and conv2d_weight) on torch.from_numpy views of those arrays
  (a new result each call: torch's conv2d takes no ``out=``).

FLOPs: forward ``2 * N * O * (C / groups) * k * k * OH * OW``, backward twice that
(cases.nn_flops), whatever a library actually does.  Per record: GFLOP/s and % of the FMA peak
of the SIMD path that ran, forward and backward, for both libraries; how many times faster
fastcorr is, forward, backward and the two together (total FLOPs over total time); and the
issue's figure for the row (cases.nn_target), met or not.

Every result is checked before it is timed, within verify.tolerance of a sum of K products
(forward K = C/groups*k*k, grad input O/groups*k*k, grad weight N*OH*OW), scaled by the sum of
the absolute products computed in float64 by the same function as the reference.  With torch
installed, fastcorr's results are compared whole with torch's computed in float64 on the same
numbers, and torch's own with exact float64 dot products at sampled positions (NumPy,
`SampledLayer`); without torch, fastcorr's with those sampled dot products.
"""
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import cases
from .sections import measure
from .verify import N_SAMPLED, tolerance

# A record's rows (fastcorr, then the peer) and the two timed calls of each.
PARTS = ("forward", "backward")
# Sampled entries of the weight gradient: each is a sum over the whole batch (N*OH*OW
# products, a million for 16x256x256), so fewer than the N_SAMPLED of the other results.
N_SAMPLED_WEIGHT = 24


def steps(nn_cases):
    """Number of progress steps the section takes."""
    return len(nn_cases) * len(cases.DTYPES)


def describe(case):
    """``N=64 C=1 28x28 O=8 5x5``: a case's shape in messages and tables (``groups=`` when
    it is not 1)."""
    k, groups = case["k"], case["groups"]
    return (f"N={case['N']} C={case['C']} {case['H']}x{case['W']} O={case['O']} {k}x{k}"
            + (f" groups={groups}" if groups > 1 else ""))


# --------------------------------------------------------------------------- checks
class _Values:
    """Expected values of one result (all of it, or the entries at `index`) and their
    rounding bound.

    Parameters
    ----------
    name : str
        What the result is ('forward', 'grad input', 'grad weight'), for messages.
    shape : tuple of int
        The result's shape.
    dtype : dtype
        The dtype it must have (the one it is computed in).
    expected, scale : ndarray
        float64 values and sums of the absolute products, of the whole result or at `index`.
    taps : int
        Products summed per entry.
    against : str
        What computed `expected`, for messages.
    index : tuple of ndarray, optional
        The sampled entries; None for the whole result.
    """

    def __init__(self, name, shape, dtype, expected, scale, taps, against, index=None):
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)
        self.expected, self.taps, self.against, self.index = expected, taps, against, index
        self.bound = tolerance(scale, taps, self.dtype)

    def check(self, result):
        """(whether `result` has the shape, dtype and values expected, a short description)."""
        if not isinstance(result, np.ndarray) or result.shape != self.shape:
            got = getattr(result, "shape", type(result).__name__)
            return False, f"{self.name}: shape {got}, expected {self.shape}"
        if result.dtype != self.dtype:
            return False, f"{self.name}: dtype {result.dtype}, expected {self.dtype}"
        got = (result if self.index is None else result[self.index]).astype(np.float64)
        err = np.abs(got - self.expected)
        ratio = np.where(np.isnan(err), np.inf,
                         err / np.maximum(self.bound, np.finfo(np.float64).tiny))
        k = int(np.argmax(ratio))
        worst = float(ratio.flat[k])
        if worst > 1:
            at = np.unravel_index(k, self.shape) if self.index is None else \
                tuple(i[k] for i in self.index)
            return False, (f"{self.name} at {tuple(map(int, at))}: got {got.flat[k]:.7g}, "
                           f"{self.against} {self.expected.flat[k]:.7g} (|diff| "
                           f"{err.flat[k]:.3g} > tolerance {self.bound.flat[k]:.3g}, K="
                           f"{self.taps})")
        where = "all" if self.index is None else f"{len(got)} sampled"
        return True, (f"{self.name}: max |diff|/tolerance {worst:.2g} over {where} entries "
                      f"against {self.against}")


class _Call:
    """The check of one timed call: its result (forward), or its pair of results (backward),
    each against its `_Values`."""

    def __init__(self, *parts):
        self.parts = parts

    def check(self, result, fft=False):
        """`verify.SampledReference.check`'s interface (`fft` is ignored: no FFT here)."""
        results = result if len(self.parts) > 1 else (result,)
        if not isinstance(results, tuple) or len(results) != len(self.parts):
            return False, f"{type(result).__name__} instead of {len(self.parts)} results"
        outcomes = [part.check(r) for part, r in zip(self.parts, results)]
        return all(ok for ok, _ in outcomes), "; ".join(detail for _, detail in outcomes)


def _positions(shape, rng, n):
    """The corners of an array of `shape` (a wrong crop or a missed edge shows there first)
    and `n` random entries, as an index tuple."""
    corners = list(zip(*itertools.product(*[(0, s - 1) for s in shape])))
    return tuple(np.concatenate([c, rng.integers(0, s, n)]).astype(np.intp)
                 for c, s in zip(corners, shape))


class SampledLayer:
    """Exact float64 values of the layer's three results at sampled entries, NumPy dot
    products from the definitions (not from fastcorr's or torch's code), with the sums of
    the absolute products that scale their bounds.

    Parameters
    ----------
    x, weight, grad_output : ndarray
        Input (N, C, H, W), weight (O, C/groups, k, k) and output gradient (N, O, OH, OW);
        stride 1, no padding.
    groups : int
    rng : numpy.random.Generator
        Chooses the entries.
    n, n_weight : int, optional
        Random entries of the forward and grad input results, and of the weight gradient
        (the corners are added).

    Attributes
    ----------
    values : dict
        ``(index, expected, scale, taps)`` by result name ('forward', 'grad input',
        'grad weight').
    shapes : dict
        Each result's shape, by name.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, w = np.ones((1, 2, 4, 4)), np.ones((3, 2, 2, 2))
    >>> ref = SampledLayer(x, w, np.ones((1, 3, 3, 3)), 1, rng, n=5, n_weight=5)
    >>> ref.shapes["forward"], float(ref.values["forward"][1][0])
    ((1, 3, 3, 3), 8.0)
    >>> ref.checks("float64")["forward"].check(np.full((1, 3, 3, 3), 8.0))[0]
    True
    """

    def __init__(self, x, weight, grad_output, groups, rng, n=N_SAMPLED,
                 n_weight=N_SAMPLED_WEIGHT):
        x64, w64, g64 = (np.asarray(a, np.float64) for a in (x, weight, grad_output))
        batch, _, h, w = x.shape
        out_channels, group_channels, k, _ = weight.shape
        group_outs = out_channels // groups
        oh, ow = h - k + 1, w - k + 1
        self.shapes = {"forward": (batch, out_channels, oh, ow), "grad input": x.shape,
                       "grad weight": weight.shape}
        self.values = {}

        # Forward (b, o, i, j): weight[o] against the window at (i, j) of o's group's channels.
        idx = _positions(self.shapes["forward"], rng, n)
        b, o, i, j = (a[:, None] for a in idx)
        windows = sliding_window_view(x64, (k, k), axis=(2, 3))
        xs = windows[b, o // group_outs * group_channels + np.arange(group_channels), i, j]
        self._add("forward", idx, xs, w64[idx[1]], group_channels * k * k)

        # Grad input (b, c, i, j): every output (o, i - a, j - b) of c's group that read it,
        # times weight[o, c, a, b]: the output gradient zero-extended by k - 1 on each side,
        # correlated with the weights turned 180 degrees.
        idx = _positions(self.shapes["grad input"], rng, n)
        b, c, i, j = (a[:, None] for a in idx)
        extended = np.pad(g64, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))
        windows = sliding_window_view(extended, (k, k), axis=(2, 3))
        outs = c // group_channels * group_outs + np.arange(group_outs)
        gs = windows[b, outs, i, j]
        ws = w64[outs, c % group_channels][..., ::-1, ::-1]
        self._add("grad input", idx, gs, ws, group_outs * k * k)

        # Grad weight (o, c, a, b): the output gradient of o against the input channel's
        # window at offset (a, b), over the whole batch.
        idx = _positions(self.shapes["grad weight"], rng, n_weight)
        expected, scale = [], []
        for o, c, a, b in zip(*idx):
            channel = o // group_outs * group_channels + c
            products = g64[:, o] * x64[:, channel, a:a + oh, b:b + ow]
            expected.append(products.sum())
            scale.append(np.abs(products).sum())
        self.values["grad weight"] = (idx, np.array(expected), np.array(scale), batch * oh * ow)

    def _add(self, name, idx, left, right, taps):
        axes = tuple(range(1, left.ndim))
        self.values[name] = (idx, (left * right).sum(axes), np.abs(left * right).sum(axes),
                             taps)

    def checks(self, dtype):
        """The checks of the forward and backward calls computed in `dtype`, as
        ``{"forward": ..., "backward": ...}`` (`_Call`)."""
        parts = {name: _Values(name, self.shapes[name], dtype, expected, scale, taps,
                               "float64 dot products", index)
                 for name, (index, expected, scale, taps) in self.values.items()}
        return {"forward": _Call(parts["forward"]),
                "backward": _Call(parts["grad input"], parts["grad weight"])}


def torch_reference(x, weight, grad_output, groups, dtype):
    """The checks of the forward and backward calls computed in `dtype` against torch's
    results computed in float64 on the same numbers, every entry, each bound scaled by the
    same call on the absolute values.

    Returns
    -------
    dict
        ``{"forward": ..., "backward": ...}`` (`_Call`).
    """
    import torch
    import torch.nn.functional as F
    from torch.nn import grad

    x64, w64, g64 = (torch.from_numpy(np.asarray(a, np.float64)) for a in
                     (x, weight, grad_output))
    ax, aw, ag = x64.abs(), w64.abs(), g64.abs()
    k = weight.shape[-1]
    group_outs = weight.shape[0] // groups
    batch, _, oh, ow = grad_output.shape
    with torch.no_grad():
        computed = {
            "forward": (F.conv2d(x64, w64, groups=groups), F.conv2d(ax, aw, groups=groups),
                        weight.shape[1] * k * k),
            "grad input": (grad.conv2d_input(x.shape, w64, g64, groups=groups),
                           grad.conv2d_input(x.shape, aw, ag, groups=groups),
                           group_outs * k * k),
            "grad weight": (grad.conv2d_weight(x64, weight.shape, g64, groups=groups),
                            grad.conv2d_weight(ax, weight.shape, ag, groups=groups),
                            batch * oh * ow)}
    parts = {name: _Values(name, value.shape, dtype, value.numpy(), scale.numpy(), taps,
                           "torch float64")
             for name, (value, scale, taps) in computed.items()}
    return {"forward": _Call(parts["forward"]),
            "backward": _Call(parts["grad input"], parts["grad weight"])}


# --------------------------------------------------------------------------- the section
def conv2d_layers(setup, peers):
    """fastcorr.nn against the `peers` (peers.NN_PEERS: torch) on every case of
    ``setup.nn_cases``, in float32 and float64.

    Yields
    ------
    dict
        Per case and dtype: the case's ``N``, ``C``, ``H``, ``W``, ``O``, ``k``, ``groups``,
        ``dtype``, ``workers``, ``K`` (products per forward output), ``flops`` (by part:
        'forward', 'backward'), ``anchor`` (torch's float32 GFLOP/s in the issue, None for
        float64 and for resized cases), ``reference`` (what fastcorr's results were checked
        against), ``rows`` (fastcorr, then each peer: ``library``, ``column``, ``threads``
        and per part a dict with ``status`` ('ok', 'WRONG' or 'ERROR'), ``check`` and, when
        timed, ``time_s``, ``samples``, ``calls_per_sample``, ``gflops``, ``pct_peak``),
        ``x`` (how many times faster fastcorr is than torch: 'forward', 'backward',
        'combined'; None without both timings) and ``target`` (None where the issue sets no
        figure, else ``min_x``, ``figure``, ``x`` the combined ratio, ``ok``: None without
        it).
    """
    from .. import nn as fastcorr_nn  # the face, imported when the section runs

    n = setup.workers[-1]
    for case in setup.nn_cases:
        for dtype in cases.DTYPES:
            yield _case(setup, fastcorr_nn, peers, case, dtype, n)


def _case(setup, fastcorr_nn, peers, case, dtype, n):
    setup.progress.step(f"nn {describe(case)} {dtype}")
    x, weight, grad_output = cases.nn_arrays(case, dtype)
    groups = case["groups"]
    flops = dict(zip(PARTS, cases.nn_flops(case)))
    sampled = SampledLayer(x, weight, grad_output, groups, setup.rng).checks(dtype)
    anchor = case["anchor"] if dtype == "float32" else None
    rec = {key: case[key] for key in ("N", "C", "H", "W", "O", "k", "groups")}
    rec.update(dtype=dtype, workers=n, K=case["C"] // groups * case["k"] ** 2, flops=flops,
               anchor=anchor)
    out = np.empty(sampled["forward"].parts[0].shape, dtype)
    ours = {"forward": lambda: fastcorr_nn.conv2d(x, weight, groups=groups, out=out, workers=n),
            "backward": lambda: (
                fastcorr_nn.conv2d_input(x.shape, weight, grad_output, groups=groups, workers=n),
                fastcorr_nn.conv2d_weight(x, weight.shape, grad_output, groups=groups,
                                          workers=n))}
    rows = [{"library": "fastcorr.nn", "column": "fastcorr", "threads": n}]
    checks, rec["reference"] = sampled, "float64 dot products at sampled entries (NumPy)"
    timed = [(rows[0], part, ours[part]) for part in PARTS]
    for peer in peers:
        row = {"library": peer.label, "column": peer.column, "threads": n}
        rows.append(row)
        try:
            made = dict(zip(PARTS, peer.make(x, weight, grad_output, groups, n)))
            if peer.column == "torch":
                checks, rec["reference"] = torch_reference(x, weight, grad_output, groups,
                                                           dtype), "torch float64, every entry"
        except Exception as exc:  # a peer's own failure must not end the run
            for part in PARTS:
                row[part] = {"status": "ERROR", "check": f"{type(exc).__name__}: {exc}"}
            continue
        timed += [(row, part, made[part]) for part in PARTS]
    calls = [(fn, checks[part] if row is rows[0] else sampled[part], False)
             for row, part, fn in timed]
    for (row, part, _), m in zip(timed, measure(setup, calls)):
        row[part] = m
        if m["status"] == "ok":
            m["gflops"] = flops[part] / m["time_s"] / 1e9
            m["pct_peak"] = 100.0 * m["gflops"] / setup.peaks[(dtype, n)]
    rec["rows"] = rows
    rec["x"] = _times_faster(rows)
    target = cases.nn_target(case, dtype)
    if target is None:
        rec["target"] = None
    else:
        least, figure = target
        got = rec["x"]["combined"]
        rec["target"] = {"min_x": least, "figure": figure, "x": got,
                         "ok": None if got is None else got >= least}
    return rec


def _times_faster(rows):
    """How many times faster fastcorr is than torch, by part and 'combined' (total FLOPs over
    total time: the ratio of the summed times); None where either is not timed."""
    ours = rows[0]
    theirs = next((r for r in rows[1:] if r["column"] == "torch"), None)

    def time(row, part):
        m = (row or {}).get(part) or {}
        return m.get("time_s") if m.get("status") == "ok" else None

    x = {}
    for part in PARTS:
        a, b = time(ours, part), time(theirs, part)
        x[part] = None if a is None or b is None else b / a
    both = [(time(ours, p), time(theirs, p)) for p in PARTS]
    x["combined"] = None if any(t is None for pair in both for t in pair) else \
        sum(b for _, b in both) / sum(a for a, _ in both)
    return x


def targets(records):
    """The issue's figures over the section's records: ``total``, ``met``, ``unmet`` and
    ``missing`` (no torch figure to compare), and ``unmet_rows`` (one line each)."""
    with_target = [r for r in records if r["target"] is not None]
    unmet = [r for r in with_target if r["target"]["ok"] is False]
    return {"total": len(with_target),
            "met": sum(r["target"]["ok"] is True for r in with_target),
            "unmet": len(unmet),
            "missing": sum(r["target"]["ok"] is None for r in with_target),
            "unmet_rows": [f"{describe(r)} {r['dtype']}: {r['target']['x']:.2f}x, "
                           f"{r['target']['figure']}" for r in unmet]}


def set_pct_peak(records, peaks):
    """Give every timed part its ``pct_peak`` of `peaks` (the higher of two measurements)."""
    for rec in records or ():
        for row in rec["rows"]:
            for part in PARTS:
                m = row[part]
                if m["status"] == "ok":
                    m["pct_peak"] = 100.0 * m["gflops"] / peaks[(rec["dtype"], rec["workers"])]


def fastcorr_failed(records):
    """Whether a fastcorr.nn result of the section failed its check (or raised)."""
    return any(rec["rows"][0][part]["status"] != "ok" for rec in records or ()
               for part in PARTS)
