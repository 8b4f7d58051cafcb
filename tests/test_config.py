"""What this build is: show_config()'s printed report and dict form, and
``python -m fastcorr --version``.  (That workers=None follows OpenMP's current thread count is
in test_workers.py.)"""
import os
import subprocess
import sys

import pytest

import fastcorr
from fastcorr import _dispatch


def test_show_config_prints_report(capsys, simd_path):
    assert fastcorr.show_config() is None
    text = capsys.readouterr().out
    assert fastcorr.__version__ in text
    assert "OpenMP" in text
    selected = [ln for ln in text.splitlines() if "SELECTED" in ln]
    assert len(selected) == 1, text
    assert selected[0].split()[0] == simd_path
    for name in _dispatch.compiled_paths():
        assert any(ln.split() and ln.split()[0] == name for ln in text.splitlines()), name
    unsupported = [p for p in _dispatch.compiled_paths() if p not in _dispatch.supported_paths()]
    for name in unsupported:
        line = next(ln for ln in text.splitlines() if ln.split() and ln.split()[0] == name)
        assert "not supported" in line


def test_show_config_stdout_mode_explicit(capsys):
    assert fastcorr.show_config(mode="stdout") is None
    assert "OpenMP" in capsys.readouterr().out


def test_show_config_dicts(capsys):
    cfg = fastcorr.show_config(mode="dicts")
    assert capsys.readouterr().out == ""  # dict mode does not print
    assert set(cfg) == {"fastcorr", "simd", "openmp"}
    assert cfg["fastcorr"]["version"] == fastcorr.__version__

    simd = cfg["simd"]
    assert {"compiled", "supported", "selected", "forced_by", "paths"} <= set(simd)
    assert simd["compiled"] == _dispatch.compiled_paths()
    assert simd["supported"] == _dispatch.supported_paths()
    assert simd["selected"] == _dispatch.active()
    assert simd["selected"] in simd["supported"]
    assert set(simd["supported"]) <= set(simd["compiled"])
    expected_forced = "FASTCORR_SIMD" if os.environ.get("FASTCORR_SIMD") else None
    assert simd["forced_by"] == expected_forced
    assert list(simd["paths"]) == simd["compiled"]
    for name, info in simd["paths"].items():
        assert isinstance(info["description"], str) and info["description"]
        # Each path has one vector width: twice as many float32 lanes as float64 lanes, except
        # the one-element "vectors" of the portable path.
        l32, l64 = info["lanes_float32"], info["lanes_float64"]
        assert l32 * 4 == l64 * 8 or (l32, l64) == (1, 1), (name, l32, l64)
        assert info["block_rows"] >= 1
        assert info["block_vectors_1d"] >= 1
        assert min(info["small_kernel_rows"], info["small_block_rows"],
                   info["small_block_rows_aliased"]) >= 1, (name, info)

    omp = cfg["openmp"]
    assert {"runtime", "version", "library", "max_threads", "num_procs"} <= set(omp)
    assert isinstance(omp["runtime"], str) and omp["runtime"]
    # _OPENMP is a yyyymm date; 0 would mean the extension was built without OpenMP.
    assert omp["version"] >= 200805
    assert omp["max_threads"] >= 1
    assert omp["num_procs"] >= 1
    if sys.platform.startswith("linux"):
        assert omp["library"] and os.path.exists(omp["library"])


def test_show_config_dicts_on_x86_describe_lane_counts():
    paths = fastcorr.show_config(mode="dicts")["simd"]["paths"]
    expected = {"avx2": (8, 4), "avx512": (16, 8)}  # 256- and 512-bit registers
    for name, (l32, l64) in expected.items():
        if name in paths:
            assert (paths[name]["lanes_float32"], paths[name]["lanes_float64"]) == (l32, l64)


@pytest.mark.parametrize("mode", ["dict", "json", "", None, "STDOUT"], ids=repr)
def test_show_config_bad_mode(mode):
    with pytest.raises(ValueError, match="mode"):
        fastcorr.show_config(mode=mode)


def test_version_on_the_command_line():
    """``python -m fastcorr --version`` prints the version and exits 0."""
    proc = subprocess.run([sys.executable, "-m", "fastcorr", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert fastcorr.__version__ in proc.stdout.split() or \
        proc.stdout.strip().endswith(fastcorr.__version__), proc.stdout
