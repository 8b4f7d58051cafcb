"""show_config(): its printed report, its dict form, and that workers=None follows OpenMP's
current thread count (so OMP_NUM_THREADS and threadpoolctl limits apply)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastcorr
from fastcorr import _dispatch
from reference import assert_within_bound, correlate2d_valid_reference, error_bound


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


# ----------------------------------------------------------------------------- threads
def _max_threads():
    return fastcorr.show_config(mode="dicts")["openmp"]["max_threads"]


def test_threadpoolctl_limits_are_respected():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    image = rng.standard_normal((200, 300)).astype(np.float32)
    kernel = rng.standard_normal((5, 5)).astype(np.float32)
    expected = correlate2d_valid_reference(image, kernel, np.float32)
    bound = error_bound(image, kernel, np.float32)

    # An outer limit of 3 (not the machine's count) makes the "restored" check meaningful
    # whatever OMP_NUM_THREADS the suite runs under.
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        assert _max_threads() == 3
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert _max_threads() == 1
            result = fastcorr.correlate2d(image, kernel)  # workers=None: the OpenMP setting
            assert _max_threads() == 1
            assert_within_bound(result, expected, bound, "inside threadpool_limits(1)")
        assert _max_threads() == 3
        assert_within_bound(fastcorr.correlate2d(image, kernel), expected, bound, "limits=3")


def test_threadpoolctl_sees_fastcorr_openmp():
    """threadpoolctl can only limit fastcorr if it finds the OpenMP runtime fastcorr uses."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    library = fastcorr.show_config(mode="dicts")["openmp"]["library"]
    if library is None:
        pytest.skip("OpenMP library path not available on this platform")
    info = threadpoolctl.threadpool_info()
    paths = [os.path.realpath(i["filepath"]) for i in info if i["user_api"] == "openmp"]
    assert os.path.realpath(library) in paths


def test_omp_num_threads_environment():
    """OMP_NUM_THREADS sets the thread count workers=None uses (checked in a child process,
    where the runtime reads it at start-up)."""
    code = (
        "import fastcorr, numpy as np; "
        "print(fastcorr.show_config(mode='dicts')['openmp']['max_threads']); "
        "r = fastcorr.correlate2d(np.ones((50, 60)), np.ones((3, 3))); "
        "print(bool((r == 9).all()))"
    )
    for n in ("1", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=n)
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [n, "True"]
