"""SIMD paths: FASTCORR_SIMD at import (in child interpreters, since the choice is made once per
process), the in-process switch, the binary itself (no AVX outside the kernels), and the
kernels' geometry on every path this CPU has: output sizes that leave every vector and block
remainder, kernel sizes around the tap groups, rows that alias in the cache, complex parts.

Results are checked against the oracle within the error bound (faces.check; oracle.py)."""
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastcorr
from fastcorr import _core, _dispatch
from faces import CORRELATE, CORRELATE2D, FACES, FACES_1D, FACES_2D, check, dtype_id, \
    random_array

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
COMPILED = _dispatch.compiled_paths()
SUPPORTED = _dispatch.supported_paths()
UNSUPPORTED = [p for p in COMPILED if p not in SUPPORTED]


def run_child(code, simd=None, extra_env=None):
    env = {k: v for k, v in os.environ.items() if k != "FASTCORR_SIMD"}
    if simd is not None:
        env["FASTCORR_SIMD"] = simd
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=120, cwd=TESTS_DIR,
    )


CHILD_CORRELATE = """
    import sys
    import numpy as np
    import fastcorr
    sys.path.insert(0, {tests_dir!r})
    from oracle import assert_within_bound, error_bound, exact

    cfg = fastcorr.show_config(mode="dicts")
    assert cfg["simd"]["selected"] == {path!r}, cfg["simd"]
    assert cfg["simd"]["forced_by"] == "FASTCORR_SIMD", cfg["simd"]
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        for image_shape, kernel_shape in [((9, 41), (3, 5)), ((7, 18), (2, 2)), ((5, 5), (5, 5)),
                                          ((13, 103), (4, 7)), ((40, 70), (1, 1)),
                                          ((3, 37), (3, 1))]:
            image = rng.standard_normal(image_shape).astype(dtype)
            kernel = rng.standard_normal(kernel_shape).astype(dtype)
            for workers in (1, 2):
                got = fastcorr.correlate2d(image, kernel, "valid", workers=workers)
                assert got.dtype == dtype
                assert_within_bound(got, exact("correlate2d", image, kernel, dtype, "valid"),
                                    error_bound("correlate2d", image, kernel, dtype, "valid"),
                                    f"{{image_shape}}")
                got = fastcorr.convolve2d(kernel, image, "same", workers=workers)
                assert_within_bound(got, exact("convolve2d", kernel, image, dtype, "same"),
                                    error_bound("convolve2d", kernel, image, dtype, "same"),
                                    f"{{image_shape}}")
                signal, taps = image.ravel(), kernel.ravel()
                got = fastcorr.correlate(signal, taps, "full", workers=workers)
                assert_within_bound(got, exact("correlate", signal, taps, dtype, "full"),
                                    error_bound("correlate", signal, taps, dtype, "full"),
                                    f"{{image_shape}} 1-D")
    # The forced path is still the one in use after the calls.
    assert fastcorr.show_config(mode="dicts")["simd"]["selected"] == {path!r}
    print("OK", {path!r})
"""


@pytest.mark.parametrize("path", SUPPORTED, ids=lambda p: f"FASTCORR_SIMD={p}")
def test_forced_path_in_child(path):
    proc = run_child(CHILD_CORRELATE.format(path=path, tests_dir=TESTS_DIR), simd=path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"OK {path}"


def test_default_selection_in_child():
    """Without FASTCORR_SIMD the best supported path (last in preference order) is used and
    nothing claims to have forced it; an empty value counts as unset."""
    code = """
        import fastcorr
        cfg = fastcorr.show_config(mode="dicts")["simd"]
        print(cfg["selected"], cfg["forced_by"])
    """
    for simd in (None, ""):
        proc = run_child(code, simd=simd)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [SUPPORTED[-1], "None"]


@pytest.mark.skipif(not UNSUPPORTED, reason="this CPU supports every compiled path")
@pytest.mark.parametrize("path", UNSUPPORTED or ["none"], ids=lambda p: f"FASTCORR_SIMD={p}")
def test_unsupported_path_fails_at_import(path):
    proc = run_child("import fastcorr", simd=path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError"), proc.stderr
    assert path in last


@pytest.mark.parametrize("name", ["avx3", "AVX3", "neon-ish", "sse2", "native", "avx 2"], ids=repr)
def test_unknown_path_fails_at_import(name):
    """The error names the variable, the value as given and every path of this build."""
    proc = run_child("import fastcorr", simd=name)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError"), proc.stderr
    assert f"FASTCORR_SIMD={name!r}" in last
    assert all(path in last for path in COMPILED), last


@pytest.mark.parametrize("spelling", ["AVX2", "Avx512", "SCALAR", "Baseline"])
def test_path_names_in_any_case(spelling):
    """FASTCORR_SIMD=AVX2 selects the avx2 path: the names are case-insensitive."""
    path = spelling.lower()
    if path not in SUPPORTED:
        pytest.skip(f"this CPU cannot run {path}")
    code = """
        import fastcorr
        cfg = fastcorr.show_config(mode="dicts")["simd"]
        print(cfg["selected"], cfg["forced_by"])
    """
    proc = run_child(code, simd=spelling)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [path, "FASTCORR_SIMD"]


def test_select_in_process_roundtrip(simd_path):
    assert _dispatch.active() == simd_path
    assert fastcorr.show_config(mode="dicts")["simd"]["selected"] == simd_path


def test_select_unknown_in_process_keeps_active():
    before = _dispatch.active()
    with pytest.raises(ValueError, match="bogus"):
        _dispatch.select("bogus")
    assert _dispatch.active() == before


@pytest.mark.skipif(not UNSUPPORTED, reason="this CPU supports every compiled path")
def test_select_unsupported_in_process_keeps_active():
    before = _dispatch.active()
    with pytest.raises(RuntimeError, match=UNSUPPORTED[0]):
        _dispatch.select(UNSUPPORTED[0])
    assert _dispatch.active() == before


def test_select_none_picks_best():
    before = _dispatch.active()
    try:
        assert _dispatch.select(None) == SUPPORTED[-1]
    finally:
        _dispatch.select(before)


def test_path_lists_are_consistent():
    assert COMPILED[:2] == ["scalar", "baseline"]
    assert set(SUPPORTED) <= set(COMPILED)
    # Supported paths keep the compiled preference order.
    assert SUPPORTED == [p for p in COMPILED if p in SUPPORTED]
    assert "scalar" in SUPPORTED and "baseline" in SUPPORTED
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert COMPILED == ["scalar", "baseline", "avx2", "avx512"]


# ----------------------------------------------------------------------------- the binary
KERNEL_SYMBOL = re.compile(r"_(avx2|avx512)(\.|$)")  # fc_corr_f32_avx2, ...avx512.cold, ...
HEADER = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")


def _functions(disassembly):
    funcs, current = {}, None
    for line in disassembly.splitlines():
        m = HEADER.match(line.strip())
        if m:
            current = m.group("name")
            funcs.setdefault(current, [])
        elif current is not None and "\t" in line:
            funcs[current].append(line)
    return funcs


@pytest.fixture(scope="module")
def disassembly():
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("objdump check is for x86_64 Linux builds")
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump not on PATH")
    from fastcorr import _core

    proc = subprocess.run([objdump, "-d", "--no-show-raw-insn", _core.__file__],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    funcs = _functions(proc.stdout)
    assert len(funcs) > 20, "objdump output could not be split into functions"
    return funcs


def test_wide_registers_only_in_dispatched_kernels(disassembly):
    """ymm/zmm registers, and any VEX/EVEX-encoded instruction at all, appear only in functions
    whose names carry an ISA suffix: nothing that runs before (or in) the dispatcher can fault
    with SIGILL on a CPU without AVX."""
    vector_insn = re.compile(r"\tv[a-z0-9]+\s+.*%[xyz]mm")
    offenders = {}
    for name, lines in disassembly.items():
        if KERNEL_SYMBOL.search(name):
            continue
        bad = [ln.strip() for ln in lines if "%ymm" in ln or "%zmm" in ln or vector_insn.search(ln)]
        if bad:
            offenders[name] = bad[:3]
    assert not offenders, f"AVX instructions outside dispatched kernels: {offenders}"


def test_avx2_kernels_use_no_avx512(disassembly):
    avx512_only = re.compile(r"%zmm|%[xy]mm(1[6-9]|2[0-9]|3[01])\b|%k[0-7]\b|\{%k")
    for name, lines in disassembly.items():
        if re.search(r"_avx2(\.|$)", name):
            bad = [ln.strip() for ln in lines if avx512_only.search(ln)]
            assert not bad, f"{name} uses AVX-512 state: {bad[:3]}"


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_simd_kernels_really_are_simd(disassembly, dtype):
    """The per-ISA flags reached the kernel objects: the avx2 kernels contain ymm FMAs and the
    avx512 kernels zmm FMAs (if the flags were dropped they would be scalar/SSE code)."""
    suffix = "ps" if dtype == "f32" else "pd"
    for isa, reg in (("avx2", "%ymm"), ("avx512", "%zmm")):
        if isa not in COMPILED:
            continue
        name = f"fc_corr_{dtype}_{isa}"
        assert name in disassembly, f"{name} not found in the extension"
        # The entry point hands rows to band functions of the same dtype and ISA, where the
        # FMAs are.
        kernels = [n for n in disassembly if re.search(rf"_{dtype}_{isa}(\.|$)", n)]
        fmas = [ln for n in kernels for ln in disassembly[n]
                if re.search(rf"\tvfmadd\d{{3}}{suffix}\b", ln) and reg in ln]
        assert fmas, f"no {reg} vfmadd...{suffix} in the {dtype} {isa} kernels {kernels}"


def test_baseline_and_scalar_kernels_have_no_fma_or_avx(disassembly):
    for name, lines in disassembly.items():
        if re.search(r"_(scalar|baseline)(\.|$)", name):
            bad = [ln.strip() for ln in lines if re.search(r"\tv[a-z0-9]+\s", ln)]
            assert not bad, f"{name} contains VEX-encoded instructions: {bad[:3]}"


# ----------------------------------------------------------------------------- the kernels
FLOATS = [np.float32, np.float64]

# (image shape, kernel shape): 1x1 kernels, kernel == image, single rows/columns, odd/even,
# tall/wide, kernels wider/taller than 31 and widths straddling vector multiples.
SHAPE_CASES = [
    ((1, 1), (1, 1)),
    ((9, 13), (1, 1)),
    ((7, 7), (7, 7)),
    ((4, 37), (4, 37)),
    ((1, 50), (1, 5)),
    ((1, 50), (1, 50)),
    ((50, 1), (6, 1)),
    ((50, 1), (1, 1)),
    ((10, 10), (3, 3)),
    ((10, 11), (2, 4)),
    ((12, 19), (5, 6)),
    ((13, 40), (4, 9)),
    ((200, 6), (7, 3)),
    ((6, 200), (3, 7)),
    ((37, 45), (33, 35)),
    ((40, 70), (32, 31)),
    ((20, 33), (8, 2)),
    ((17, 25), (1, 17)),
    ((25, 17), (17, 1)),
    ((8, 90), (5, 70)),
]


@pytest.mark.parametrize("workers", [1, 2], ids=lambda w: f"workers={w}")
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_shape_cases_every_path(simd_path, face, dtype, workers):
    rng = np.random.default_rng(1234)
    for image_shape, kernel_shape in SHAPE_CASES:
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        check(face, image, kernel, dtype, "valid", workers=workers,
              context=f"[simd={simd_path}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("face", FACES_2D, ids=repr)
def test_random_shapes_every_path(simd_path, face, dtype):
    rng = np.random.default_rng(99)
    for trial in range(80):
        kh, kw = rng.integers(1, 12, size=2)
        oh, ow = rng.integers(1, 30, size=2)
        image = random_array(rng, (oh + kh - 1, ow + kw - 1), dtype)
        kernel = random_array(rng, (kh, kw), dtype)
        # Alternate which argument is the larger so both sides of scipy's swap rule are hit.
        args = (image, kernel) if trial % 2 == 0 else (kernel, image)
        check(face, *args, dtype, "valid", workers=1 + trial % 2,
              context=f"[simd={simd_path}]")


# Kernel shapes cycled through the sweep below: 1x1, single row/column, odd and even sizes.
SWEEP_KERNELS = [(1, 1), (3, 3), (2, 4), (5, 1), (1, 6), (4, 5), (7, 2)]


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_output_size_sweep(simd_path, dtype):
    """Output widths 1..52 cover every vector-remainder and tail length for 2-, 4-, 8- and
    16-lane vectors, after zero, one or two strips of several vectors (an AVX2 float32 strip is
    24 columns); heights 1..11 cover every remainder of the 4- and 6-row register blocks and,
    after one and two bands, of the small-kernel block's 5 rows (4 on SSE2; NEON's and
    AVX-512's 8 are covered by tests/c/test_kernels.c)."""
    rng = np.random.default_rng(7)
    for oh in range(1, 12):
        for ow in range(1, 53):
            kh, kw = SWEEP_KERNELS[(oh * 53 + ow) % len(SWEEP_KERNELS)]
            image = random_array(rng, (oh + kh - 1, ow + kw - 1), dtype)
            kernel = random_array(rng, (kh, kw), dtype)
            check(CORRELATE2D, image, kernel, dtype, "valid", workers=1, use_peer=False,
                  context=f"[simd={simd_path}, out {oh}x{ow}]")


# An 8-way L1 of 4 KiB ways (x86 from Haswell and Zen through Skylake-SP and Zen 4), where the
# aliased-rows switch was measured: there every path with such a block uses it from kh = 5
# (AVX2's 5 rows) or kh = 2 (AVX-512's 8).
L1_8_WAY = (8, 4096, 64)


@pytest.fixture(params=["this CPU", "8-way"], ids=lambda g: f"L1={g}")
def l1_rule(request):
    """The aliasing rule on this CPU's L1, and on an 8-way L1 of 4 KiB ways set in its place, so
    both small blocks of every path run on any machine (on a 12-way L1, AVX2's never switches).
    Yields (ways, way_bytes, line_bytes)."""
    if request.param == "this CPU":
        l1 = _core.l1_geometry()
        yield l1["ways"], l1["way_bytes"], l1["line_bytes"]
        return
    previous = _core._set_l1_alias(*L1_8_WAY)
    try:
        yield L1_8_WAY
    finally:
        _core._set_l1_alias(*previous)


def test_small_band_rule_follows_the_l1(l1_rule):
    """fc_small_band_rows, as the core's tile planner asks it: on row strides a multiple of the
    way size a small-kernel band switches to the aliased-rows block exactly when it reads more
    input rows than the L1 has ways; rows one cache line longer spread over the sets and never
    switch; kernels taller than the small block's limit keep the main block."""
    ways, way, _line = l1_rule
    switched = 0
    for info in _core.compiled_paths():
        name = info["name"]
        for kh in range(1, info["small_kernel_rows"] + 1):
            rows = info["small_block_rows"][kh - 1]
            aliased = info["small_block_rows_aliased"][kh - 1]
            expected = aliased if rows + kh - 1 > ways else rows
            for stride in (way, 2 * way, 4 * way, -way):
                assert _core.small_band_rows(name, kh, stride) == expected, (name, kh, stride)
            assert _core.small_band_rows(name, kh, way + 64) == rows, (name, kh)
            assert _core.small_band_rows(name, kh, 3 * way + 64 * 5) == rows, (name, kh)
            switched += expected != rows
        kh = info["small_kernel_rows"] + 1
        assert _core.small_band_rows(name, kh, way) == min(kh, info["block_rows"]), name
    if l1_rule == L1_8_WAY and any(p["small_block_rows"] != p["small_block_rows_aliased"]
                                   for p in _core.compiled_paths()):
        assert switched  # the rule does switch somewhere


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize("kh", [4, 5, 6], ids=lambda k: f"kh={k}")
def test_rows_a_multiple_of_4kib_apart(simd_path, dtype, kh, l1_rule):
    """Input rows a multiple of 4 KiB apart (power-of-two widths, and a narrower view of such
    rows) switch a small-kernel band whose input rows outnumber the L1's ways to the small
    block that reads fewer rows, in the kernel's bands and the core's tiles alike
    (fc_small_band_rows): on the 8-way L1 AVX2's 5-row block switches at kh = 5 and 6 and not
    at 4, AVX-512's 8-row block at all three; on a 12-way L1 only AVX-512's, at kh = 6.  Output
    heights leave every remainder of either block's bands, in one tile and in several."""
    rng = np.random.default_rng(kh)
    width = 4096 // np.dtype(dtype).itemsize
    for oh in (1, 2, 3, 4, 7, 8, 100, 101):
        image = random_array(rng, (oh + kh - 1, width), dtype)
        kernel = random_array(rng, (kh, 9 - kh), dtype)
        for face in FACES_2D:
            check(face, image, kernel, dtype, "valid", workers=2, context=f"[simd={simd_path}]")
        wide = random_array(rng, (oh + kh - 1, 2 * width), dtype)
        check(CORRELATE2D, wide[:, 3:200], kernel, dtype, "valid", workers=1, use_peer=False,
              context=f"[simd={simd_path}, 8 KiB row stride]")


# Large kernels on wide outputs, where the AVX-512 path runs its lane-strided blocks
# (fc_corr_lanes in corr_tmpl.h: kernels of 13..64 rows and 9..64 columns, outputs of at least
# 4 rows and 16 vectors of columns).  Output widths of 16..21
# vectors give every strip width of its 6-vector block (2..6, and a last 7 cut into 4 + 3)
# and partial transpose groups; 67 and 130 vectors two and three panels, the last one
# overlapping the one before; heights leave every remainder of its 4-row bands; kernel widths
# every remainder of the taps it takes 2..6 at a time.  On the other paths these are
# main-block tiles.
LANE_CASES = [
    ((4, 16), (13, 13)),
    ((5, 17), (14, 13)),
    ((6, 18), (13, 15)),
    ((7, 19), (15, 16)),
    ((9, 20), (17, 17)),
    ((13, 21), (13, 19)),
    ((30, 33), (31, 14)),
    ((11, 130), (21, 64)),
    ((8, 67), (64, 9)),
]


def _lane_case(rng, dtype, out_rows, out_vectors, kh, kw):
    """An image for LANE_CASES' output size (widths in vectors of this dtype on AVX-512), read
    through a view whose rows start 3 elements into a longer row, so no row is aligned."""
    ow = out_vectors * (64 // np.dtype(dtype).itemsize)
    wide = random_array(rng, (out_rows + kh - 1, ow + kw - 1 + 5), dtype)
    return wide[:, 3:3 + ow + kw - 1], random_array(rng, (kh, kw), dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_large_kernels_every_lane_block(simd_path, dtype):
    """LANE_CASES against the oracle, both argument orders (the larger second makes the core
    store each tile rotated) and one and two threads."""
    rng = np.random.default_rng(13)
    for (out_rows, out_vectors), (kh, kw) in LANE_CASES:
        image, kernel = _lane_case(rng, dtype, out_rows, out_vectors, kh, kw)
        for face in FACES_2D:
            check(face, image, kernel, dtype, "valid", workers=2, use_peer=False,
                  method="direct", context=f"[simd={simd_path}]")
            check(face, kernel, image, dtype, "valid", workers=1, use_peer=False,
                  method="direct", context=f"[simd={simd_path}, rotated]")


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(SUPPORTED), reason="needs AVX2 and AVX-512")
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_lane_blocks_give_the_main_blocks_bits(dtype):
    """The lane-strided blocks sum every output's products in the main block's order (kernel
    rows, then taps), so AVX-512's results equal AVX2's bit for bit on LANE_CASES, and where
    the tiles are stored rotated."""
    rng = np.random.default_rng(17)
    previous = _dispatch.active()
    try:
        for (out_rows, out_vectors), (kh, kw) in LANE_CASES:
            image, kernel = _lane_case(rng, dtype, out_rows, out_vectors, kh, kw)
            results = []
            for path in ("avx2", "avx512"):
                _dispatch.select(path)
                results.append((
                    fastcorr.correlate2d(image, kernel, "valid", workers=2, method="direct"),
                    fastcorr.convolve2d(kernel, image, "valid", workers=1, method="direct")))
            for got, expected in zip(results[1], results[0]):
                np.testing.assert_array_equal(got, expected, err_msg=f"{kh}x{kw}")
    finally:
        _dispatch.select(previous)


def _block_outputs(dtype):
    """(lanes, outputs per full block of the 1-D kernel) on the active path, as show_config
    reports them."""
    info = fastcorr.show_config(mode="dicts")["simd"]["paths"][_dispatch.active()]
    lanes = info["lanes_float32"] if dtype == np.float32 else info["lanes_float64"]
    return lanes, lanes * info["block_vectors_1d"]


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_1d_every_block_kind(simd_path, dtype):
    """Every block kind of the 1-D kernel on each SIMD path: output runs below one vector
    (masked or zero-padded tail), single vectors with an overlapped last one, full blocks with an
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
            check(CORRELATE, a, v, dtype, "valid", workers=2,
                  context=f"[simd={simd_path}] outputs={n_out} K={k}")
    for n, k in [(3000, 5), (2100, 40), (3100, 100), (4100, 600)]:
        a = random_array(rng, n, dtype)
        v = random_array(rng, k, dtype)
        for face, mode in ((FACES_1D[1], "full"), (CORRELATE, "same")):
            check(face, a, v, dtype, mode, workers=2, context=f"[simd={simd_path}]")
        check(CORRELATE, v, a, dtype, "full", workers=1, context=f"[simd={simd_path}] swapped")


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=dtype_id)
def test_complex_every_path(simd_path, dtype):
    """Complex data as real correlations of the parts, on each path, every face."""
    rng = np.random.default_rng(203)
    for image_shape, kernel_shape in (((17, 45), (3, 4)), ((30, 33), (7, 2))):
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        for face in FACES:
            x, w = (image, kernel) if face.core_ndim == 2 else (image.ravel(), kernel.ravel())
            for mode, workers in (("valid", 1), ("same", 2), ("full", 1)):
                check(face, x, w, dtype, mode, workers=workers, context=f"[simd={simd_path}]")


@pytest.fixture
def stream_all():
    """Every output stored non-temporally where the kernels can (a threshold of 0 bytes; by
    default only outputs of `_core.stream_min_bytes()` and more are), so that small arrays run
    the streamed stores."""
    previous = _core._set_stream_min_bytes(0)
    try:
        yield
    finally:
        _core._set_stream_min_bytes(previous)


def _into_views(compute, shape, dtype, widths):
    """compute(out) into views of NaN-filled arrays `width` elements wide, starting at every
    few elements of a cache line: a list of (the view's values, whether the rest is
    untouched)."""
    results = []
    for width in widths:
        for shift in (0, 1, 3, 8, 13):
            base = np.full((shape[0] + 2, width), np.nan, dtype)
            out = base[1:1 + shape[0], shift:shift + shape[1]]
            compute(out)
            rest = base.copy()
            rest[1:1 + shape[0], shift:shift + shape[1]] = np.nan
            results.append((out.copy(), bool(np.isnan(rest).all())))
    return results


def _assert_streamed_as_plain(compute, shape, dtype, widths, context):
    """compute(out) streamed into views `widths` elements wide (see _into_views) gives the bits
    compute gives with ordinary stores, and writes nothing outside the view."""
    streamed = _into_views(compute, shape, dtype, widths)
    previous = _core._set_stream_min_bytes(1 << 62)
    try:
        plain = compute(np.empty(shape, dtype))
    finally:
        _core._set_stream_min_bytes(previous)
    for values, untouched in streamed:
        assert untouched, context
        np.testing.assert_array_equal(values, plain, err_msg=context)


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_streamed_tiles_give_the_same_bits(simd_path, dtype, stream_all, monkeypatch):
    """Tiles stored non-temporally (FC_CORR_STREAM), whose small-kernel bands then prefetch
    their next band's rows (FC_CORR_PREFETCH, 60 rows and more: tiles of several bands), give
    the ordinary stores' values bit for bit: 'valid' tiles and the interior tiles of
    ndimage's 'reflect' (its frame is stored ordinarily), small, main and column blocks,
    into outputs that start anywhere in a cache line, with row strides that keep every row at
    the same offset in a line (256 elements) and strides that do not (261, where the kernel
    stores as usual); nothing outside the output is written.  The values themselves are
    checked against the float64 reference."""
    from fastcorr import ndimage
    from fastcorr._engine import execute

    monkeypatch.setattr(execute, "SMALL_IMAGE", 0)  # an interior of tiles at every size

    rng = np.random.default_rng(11)
    for kh, kw in [(3, 3), (5, 5), (1, 7), (8, 2), (9, 9), (12, 3), (40, 1)]:
        image = random_array(rng, (kh + 60, kw + 150), dtype)
        kernel = random_array(rng, (kh, kw), dtype)
        valid = (image.shape[0] - kh + 1, image.shape[1] - kw + 1)
        cases = [
            ("valid", valid, lambda out: fastcorr.correlate2d(image, kernel, "valid", out=out)),
            ("reflect", image.shape,
             lambda out: ndimage.correlate(image, kernel, output=out, mode="reflect")),
        ]
        for name, shape, compute in cases:
            _assert_streamed_as_plain(compute, shape, dtype, (256, 261), f"{name} {kh}x{kw}")
        check(CORRELATE2D, image, kernel, dtype, "valid", workers=2, use_peer=False,
              context=f"[simd={simd_path}, streamed {kh}x{kw}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_staged_streamed_rows_give_the_same_bits(simd_path, dtype, stream_all):
    """Streamed 'valid' tiles of kernels of up to 25 taps whose rows start at differing
    offsets in a cache line (row strides of 2003 elements): computed piece by piece into a
    buffer and stored from it (fc_corr's staged stores), rows 2,000 outputs wide so that each
    band takes several pieces; the same bits as ordinary stores into rows of any stride, and
    nothing outside the output written.  Kernels over 25 taps (9x9) store ordinarily there."""
    rng = np.random.default_rng(23)
    for kh, kw in [(3, 3), (5, 5), (1, 7), (4, 1), (9, 9)]:
        image = random_array(rng, (kh + 40, kw + 1999), dtype)
        kernel = random_array(rng, (kh, kw), dtype)
        shape = (41, 2000)

        def compute(out):
            return fastcorr.correlate2d(image, kernel, "valid", out=out, workers=2)

        _assert_streamed_as_plain(compute, shape, dtype, (2016, 2019),
                                  f"[simd={simd_path}] {kh}x{kw}")
        check(CORRELATE2D, image, kernel, dtype, "valid", workers=2, use_peer=False,
              context=f"[simd={simd_path}, staged {kh}x{kw}]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_streamed_passes_give_the_same_bits(simd_path, dtype, stream_all):
    """1-D passes and fused separable passes stored non-temporally give the ordinary stores'
    values bit for bit, into outputs that start anywhere in a cache line, rows at one offset in
    a line or not: ndimage's 1-D pass along the rows (corr1d_nt per run), a Gaussian (one term,
    its row pass streamed), laplace (two terms summed in the thread's buffer, stored by
    fc_sum_nt) and a rank-2 kernel's two terms ('separable'); nothing outside the output is
    written.  Rows of 230 outputs: past the 1-D kernel's least streamed run on every path (a
    block and a vector: 208 float32 outputs on AVX-512), so a misaligned head, full blocks,
    the shorter blocks and a tail all run streamed."""
    from fastcorr import ndimage

    rng = np.random.default_rng(17)
    image = random_array(rng, (45, 230), dtype)
    weights = random_array(rng, (7,), dtype)
    rank2 = (np.outer(random_array(rng, (5,), dtype), random_array(rng, (9,), dtype))
             + np.outer(random_array(rng, (5,), dtype), random_array(rng, (9,), dtype)))
    cases = {
        "correlate1d": lambda out: ndimage.correlate1d(image, weights, axis=-1, output=out),
        "gaussian": lambda out: ndimage.gaussian_filter(image, 2.0, output=out),
        "laplace": lambda out: ndimage.laplace(image, output=out),
        "rank 2": lambda out: fastcorr.correlate2d(image, rank2, "same", out=out,
                                                   method="separable"),
    }
    for name, compute in cases.items():
        _assert_streamed_as_plain(compute, image.shape, dtype, (256, 261),
                                  f"[simd={simd_path}] {name}")
    check(CORRELATE2D, image, rank2, dtype, "same", workers=2, use_peer=False,
          method="separable", context=f"[simd={simd_path}, streamed rank 2]")


@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
def test_rows_aliasing_in_4kib_keep_their_values(simd_path, dtype, monkeypatch):
    """Input and output rows at one address modulo 4 KiB, the output a column ahead ('same'
    mode's interior on a power-of-two width, as large mmap'ed arrays lie): the kernel gives the
    values it gives on any other layout, bit for bit, plain and streamed."""
    from fastcorr import ndimage
    from fastcorr._engine import execute

    monkeypatch.setattr(execute, "SMALL_IMAGE", 0)
    rng = np.random.default_rng(13)
    width = 4096 // np.dtype(dtype).itemsize
    rows = 37
    # One buffer, both arrays at its page-aligned offsets: x and out congruent modulo 4 KiB.
    raw = np.empty(2 * rows * width + 2 * width, dtype)
    start = (-raw.ctypes.data % 4096) // raw.itemsize
    x = raw[start:start + rows * width].reshape(rows, width)
    out = raw[start + (rows + 1) * width:start + (2 * rows + 1) * width].reshape(rows, width)
    assert (x.ctypes.data - out.ctypes.data) % 4096 == 0
    x[...] = random_array(rng, (rows, width), dtype)
    for kh, kw in [(3, 3), (5, 5), (1, 7), (12, 3), (40, 1)]:
        kernel = random_array(rng, (kh, kw), dtype)
        # Into rows a line longer: no aliasing, the strips in order.
        expected = np.empty((rows, width + 64 // x.itemsize), dtype)[:, :width]
        ndimage.correlate(x, kernel, output=expected, mode="reflect")
        for threshold in (1 << 62, 0):
            previous = _core._set_stream_min_bytes(threshold)
            try:
                out[...] = np.nan
                ndimage.correlate(x, kernel, output=out, mode="reflect")
            finally:
                _core._set_stream_min_bytes(previous)
            np.testing.assert_array_equal(out, expected, err_msg=f"{kh}x{kw}")


def test_tiles_on_4kib_rows_from_16_mib_keep_their_values(simd_path):
    """A float32 2048 x 2048 image (16 MiB, rows 8 KiB apart), with the rule for such rows at
    the 16 MiB of a machine whose last-level cache is under 128 MiB (_core's
    STREAM_ALIASED_MIN_BYTES): its 3x3 and 5x5 tiles are stored non-temporally below the
    general threshold, 9x9 ones are not; each gives, bit for bit, what the same call gives into
    rows a line longer, which are stored ordinarily.  The values themselves are the other
    tests' business."""
    from fastcorr import ndimage

    rng = np.random.default_rng(19)
    x = rng.standard_normal((2048, 2048), dtype=np.float32)
    assert x.strides[0] % 4096 == 0
    previous = _core._set_stream_aliased_min_bytes(16 << 20)
    try:
        assert _core.stream_min_bytes()["aliased_min_bytes"] <= x.nbytes
        for k in (3, 5, 9):
            kernel = rng.standard_normal((k, k), dtype=np.float32)
            plain = np.empty((2048, 2048 + 16), np.float32)[:, :2048]
            ndimage.correlate(x, kernel, output=plain, mode="reflect")
            out = np.full((2048, 2048), np.nan, np.float32)
            ndimage.correlate(x, kernel, output=out, mode="reflect")
            np.testing.assert_array_equal(out, plain, err_msg=f"[simd={simd_path}] {k}x{k}")
    finally:
        _core._set_stream_aliased_min_bytes(previous)


def test_stream_threshold_reads_the_cache():
    """The streaming threshold is half the last-level cache's size read at import, capped by
    the measured FC_STREAM_MIN_BYTES, or that cap where no cache size can be read; rows 4 KiB
    apart stream from 16 MiB or an eighth of the cache, whichever is more, if that is lower; the
    test hooks restore what they replace."""
    info = _core.stream_min_bytes()
    assert info["cap_bytes"] == 48 << 20
    expected = (min(info["llc_bytes"] // 2, info["cap_bytes"]) if info["llc_bytes"] > 0
                else info["cap_bytes"])
    assert info["min_bytes"] == expected
    aliased = max(16 << 20, info["llc_bytes"] // 8)
    assert info["aliased_min_bytes"] == min(expected, aliased)
    assert _core._set_stream_aliased_min_bytes(5) == aliased
    assert _core.stream_min_bytes()["aliased_min_bytes"] == 5
    assert _core._set_stream_aliased_min_bytes(aliased) == 5
    with pytest.raises(ValueError, match="n must be"):
        _core._set_stream_aliased_min_bytes(-1)
    assert info["aliased_max_taps"] == 25
    assert info["one_d_min_bytes"] == min(expected, 4 << 20)
    previous = _core._set_stream_min_bytes(123)
    assert previous == expected and _core.stream_min_bytes()["min_bytes"] == 123
    assert _core._set_stream_min_bytes(previous) == 123
    with pytest.raises(ValueError, match="n must be"):
        _core._set_stream_min_bytes(-1)
    if sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64"):
        assert info["llc_bytes"] > 0  # cpuid's cache leaves


def test_fma_peak_probes_the_active_path(simd_path):
    """The benchmark's "% of peak" is against the FMA peak of the path that ran: the probe
    runs the active path's FMA chains (with a path forced, that path's, not the widest one
    this CPU supports) and names it."""
    gflops, name = _core.fma_peak("float32", 1, iters=200000, repeats=1)
    assert name == simd_path and gflops > 0
    gflops, name = _core.fma_peak("float64", 2, iters=200000, repeats=1)
    assert name == simd_path and gflops > 0
