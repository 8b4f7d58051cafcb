"""SIMD path selection: FASTCORR_SIMD at import (in child interpreters, since the choice is made
once per process), the in-process switch, and the binary itself (no AVX outside the kernels)."""
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import fastcorr
from fastcorr import _dispatch

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
    from reference import (assert_within_bound, correlate2d_valid_reference,
                           convolve2d_valid_reference, error_bound)

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
                got = fastcorr.correlate2d(image, kernel, workers=workers)
                assert got.dtype == dtype
                assert_within_bound(got, correlate2d_valid_reference(image, kernel, dtype),
                                    error_bound(image, kernel, dtype), f"{{image_shape}}")
                got = fastcorr.convolve2d(kernel, image, workers=workers)
                assert_within_bound(got, convolve2d_valid_reference(kernel, image, dtype),
                                    error_bound(kernel, image, dtype, op="convolve"),
                                    f"{{image_shape}}")
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


@pytest.mark.parametrize("path", SUPPORTED, ids=lambda p: f"FASTCORR_SIMD={p}")
def test_path_name_in_any_case(path):
    """FASTCORR_SIMD=AVX2 (or Avx512, ...) forces the path as its lower-case name does."""
    spelling = path.upper() if SUPPORTED.index(path) % 2 else path.capitalize()
    code = """
        import fastcorr
        cfg = fastcorr.show_config(mode="dicts")["simd"]
        print(cfg["selected"], cfg["forced_by"])
    """
    proc = run_child(code, simd=spelling)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [path, "FASTCORR_SIMD"]


@pytest.mark.parametrize("name", ["avx3", "AVX3", "neon-ish", "sse2", "native"], ids=repr)
def test_unknown_path_fails_at_import(name):
    """The error names the variable, the value as given and every path of this build."""
    proc = run_child("import fastcorr", simd=name)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError"), proc.stderr
    assert f"FASTCORR_SIMD={name!r}" in last
    assert all(path in last for path in COMPILED), last


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
