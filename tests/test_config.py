"""What this build is: show_config()'s printed report and dict form (with the L1 geometry read
at import), and ``python -m fastcorr --version``.  (That workers=None follows OpenMP's current
thread count is in test_workers.py.)"""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import fastcorr
from fastcorr import _core, _dispatch

L1_SOURCES = {"cpuid leaf 4", "cpuid leaf 0x8000001D", "sysconf", "default"}


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
    cache = [ln for ln in text.splitlines() if ln.startswith("L1 data cache:")]
    assert len(cache) == 1, text
    l1 = _core.l1_geometry()
    assert f"{l1['ways']}-way" in cache[0] and f"({l1['source']})" in cache[0], cache[0]
    assert f"{simd_path}'s small-kernel block" in text
    stream = [ln for ln in text.splitlines() if ln.startswith("Last-level cache:")]
    assert len(stream) == 1 and "stored non-temporally" in stream[0], text


def test_show_config_stdout_mode_explicit(capsys):
    assert fastcorr.show_config(mode="stdout") is None
    assert "OpenMP" in capsys.readouterr().out


def test_show_config_dicts(capsys):
    cfg = fastcorr.show_config(mode="dicts")
    assert capsys.readouterr().out == ""  # dict mode does not print
    assert set(cfg) == {"fastcorr", "simd", "openmp", "cache", "methods"}
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
        # One block shape per kernel height the small-kernel block serves, each at most as
        # many rows as the block it replaces where rows alias.
        rows, aliased = info["small_block_rows"], info["small_block_rows_aliased"]
        assert len(rows) == len(aliased) == info["small_kernel_rows"] >= 1, (name, info)
        assert all(1 <= a <= r for r, a in zip(rows, aliased)), (name, info)

    omp = cfg["openmp"]
    assert {"runtime", "version", "library", "max_threads", "num_procs"} <= set(omp)
    assert isinstance(omp["runtime"], str) and omp["runtime"]
    # _OPENMP is a yyyymm date; 0 would mean the extension was built without OpenMP.
    assert omp["version"] >= 200805
    assert omp["max_threads"] >= 1
    assert omp["num_procs"] >= 1
    if sys.platform.startswith("linux"):
        assert omp["library"] and os.path.exists(omp["library"])

    cache = cfg["cache"]
    assert set(cache) == {"size_bytes", "ways", "line_bytes", "sets", "way_bytes", "source",
                          "near_lines", "aliased_from_kh", "llc_bytes", "stream_min_bytes",
                          "stream_aliased_min_bytes", "stream_aliased_max_taps",
                          "stream_1d_min_bytes"}
    assert cache["stream_min_bytes"] == _core.stream_min_bytes()["min_bytes"] > 0
    assert cache["source"] in L1_SOURCES
    assert min(cache["size_bytes"], cache["ways"], cache["sets"], cache["near_lines"]) >= 1
    assert cache["line_bytes"] >= 16
    assert cache["size_bytes"] == cache["ways"] * cache["sets"] * cache["line_bytes"]
    assert cache["way_bytes"] == cache["sets"] * cache["line_bytes"]
    info = simd["paths"][simd["selected"]]
    rows, aliased = info["small_block_rows"], info["small_block_rows_aliased"]
    # The first kernel height whose band reads more rows than the L1 has ways, with a shape of
    # its own for that case; None if there is none.
    crowded = [h for h in range(1, len(rows) + 1)
               if rows[h - 1] + h - 1 > cache["ways"] and aliased[h - 1] != rows[h - 1]]
    assert cache["aliased_from_kh"] == (crowded[0] if crowded else None), (info, cache)


def _sysfs_l1_data_cache():
    """{size_bytes, ways, line_bytes, sets} of cpu0's level-1 data cache as Linux reports it
    in /sys, or None where it does not."""
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        def read(name):
            with open(os.path.join(index, name)) as f:
                return f.read().strip()
        try:
            if read("level") != "1" or read("type") != "Data":
                continue
            size = read("size")
            scale = {"K": 1024, "M": 1024 ** 2}.get(size[-1], 1)
            return {"size_bytes": int(size.rstrip("KM")) * scale,
                    "ways": int(read("ways_of_associativity")),
                    "line_bytes": int(read("coherency_line_size")),
                    "sets": int(read("number_of_sets"))}
        except (OSError, ValueError):
            return None
    return None


def test_l1_geometry_matches_linux_sysfs():
    """The geometry read with cpuid (or sysconf) is the one the Linux kernel reports."""
    sysfs = _sysfs_l1_data_cache()
    if sysfs is None:
        pytest.skip("no level-1 data cache in /sys/devices/system/cpu/cpu0/cache")
    l1 = _core.l1_geometry()
    if l1["source"] == "default":
        pytest.skip("the L1 geometry could not be read here; the default is in use")
    if sysfs["ways"] == 0:  # fully associative: fastcorr calls it one set of every line
        sysfs["ways"], sysfs["sets"] = sysfs["size_bytes"] // sysfs["line_bytes"], 1
    assert {key: l1[key] for key in sysfs} == sysfs


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


def test_show_config_methods_match_choose_method(monkeypatch):
    """The crossovers show_config reports are where choose_method hands over: just below
    each, direct; at it, the other method (with the error rule off: show_config reports the
    predicted times, and near the FFT crossover the rule can bind)."""
    from fastcorr._engine import fft, methods
    m = fastcorr.show_config(mode="dicts")["methods"]
    assert m["fft_backend"] in ("scipy", "numpy") and m["error_factor"] == methods.ERROR_FACTOR
    assert m["fft_float64_backend"] == ("numpy" if fft.into_buffers("float64")
                                        else m["fft_backend"])
    monkeypatch.setattr(methods, "ERROR_FACTOR", float("inf"))
    rng = np.random.default_rng(0)
    for dt, c in m["crossovers"].items():
        k = c["separable_rank1_from"]
        image = rng.standard_normal((2048, 2048)).astype(dt)
        outer = np.outer(rng.random(k), rng.random(k)).astype(dt)
        assert fastcorr.choose_method(image, outer, "valid") == "separable"
        k = c["fft_2d_from"]
        assert fastcorr.choose_method(image, rng.random((k, k)).astype(dt), "valid") == "fft"
        assert fastcorr.choose_method(image, rng.random((k - 1, k - 1)).astype(dt),
                                      "valid") == "direct"
