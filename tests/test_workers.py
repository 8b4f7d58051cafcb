"""workers= (scipy.fft's convention: None = OpenMP's current setting, so OMP_NUM_THREADS and
threadpoolctl limits hold; n >= 1 threads; -1 all CPUs, -2 all but one, ...), and results on
several threads: tiles, row bands and long signals split between threads give the same answer.

Bad workers= values are in test_errors.py.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastcorr
from faces import CONVOLVE2D, CORRELATE, CORRELATE2D, FACES, FACES_2D, check, dtype_id, \
    random_array

FLOATS = [np.float32, np.float64]


def cpu_count():
    """The CPUs this process may run on, as the tests compute it."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _max_threads():
    return fastcorr.show_config(mode="dicts")["openmp"]["max_threads"]


@pytest.mark.parametrize(
    "workers", [None, 1, 2, 3, 8, -1, np.int64(2), np.int32(1), np.int8(1), np.uint64(2),
                "-cpu_count"],
    ids=["None", "1", "2", "3", "8", "-1", "np.int64(2)", "np.int32(1)", "np.int8(1)",
         "np.uint64(2)", "-cpu_count"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_workers_values(face, workers):
    if isinstance(workers, str):
        workers = -cpu_count()  # counts back to exactly one thread
    rng = np.random.default_rng(41)
    shapes = ((120, 260), (5, 5)) if face.core_ndim == 2 else ((30_000,), (33,))
    image = random_array(rng, shapes[0], np.float32)
    kernel = random_array(rng, shapes[1], np.float32)
    for mode in ("valid", "same"):
        check(face, image, kernel, np.float32, mode, workers=workers)


@pytest.mark.parametrize("workers", [2**31, np.uint64(2**64 - 1), 2**70],
                         ids=["2**31", "uint64-max", "2**70"])
@pytest.mark.parametrize("face", FACES, ids=repr)
def test_huge_workers_values_are_capped(face, workers):
    """Any int >= 1 is a valid thread request, capped by the work available; a value beyond
    C int range must not leak a raw OverflowError from the compiled layer."""
    rng = np.random.default_rng(42)
    shapes = ((20, 30), (3, 3)) if face.core_ndim == 2 else ((300,), (7,))
    image = random_array(rng, shapes[0], np.float64)
    kernel = random_array(rng, shapes[1], np.float64)
    check(face, image, kernel, np.float64, "valid", workers=workers)


def test_the_engine_resolves_workers_as_documented():
    """One place resolves workers (fastcorr._engine.threads): None is OpenMP's current count,
    -1 every CPU this process may run on, -k all but k-1, n itself."""
    from fastcorr._engine import threads

    cpus = cpu_count()
    assert threads.cpu_count() == cpus
    assert threads.resolve_workers(None) == _max_threads()
    assert threads.resolve_workers(-1) == cpus
    assert threads.resolve_workers(-cpus) == 1
    assert threads.resolve_workers(1) == 1 and threads.resolve_workers(3) == 3


# ----------------------------------------------------------------------------- threads
@pytest.mark.parametrize("dtype", FLOATS, ids=dtype_id)
@pytest.mark.parametrize(
    "image_shape, kernel_shape",
    [((300, 500), (5, 5)), ((301, 203), (4, 7)), ((40, 1700), (3, 9)), ((97, 1600), (2, 2))],
    ids=["300x500*5x5", "301x203*4x7", "40x1700*3x9", "97x1600*2x2"],
)
def test_large_multithreaded(simd_path, dtype, image_shape, kernel_shape):
    """Big enough for several threads and several tiles (row tiles, and column tiles past
    1536 output columns), with heights and widths that leave partial tiles and blocks."""
    rng = np.random.default_rng(2024)
    image = random_array(rng, image_shape, dtype)
    kernel = random_array(rng, kernel_shape, dtype)
    for face in FACES_2D:
        check(face, image, kernel, dtype, "valid", workers=2, context=f"[simd={simd_path}]")


def test_long_signal_multithreaded():
    rng = np.random.default_rng(302)
    a = random_array(rng, 300_000, np.float32)
    for k in (3, 33, 256):
        v = random_array(rng, k, np.float32)
        check(CORRELATE, a, v, np.float32, "valid", workers=2)
        check(FACES[3], a, v, np.float32, "same", workers=2)


# ----------------------------------------------------------------------------- OpenMP
def test_threadpoolctl_limits_are_respected():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    image = random_array(rng, (200, 300), np.float32)
    kernel = random_array(rng, (5, 5), np.float32)
    # An outer limit of 3 (not the machine's count) makes the "restored" check meaningful
    # whatever OMP_NUM_THREADS the suite runs under.
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        assert _max_threads() == 3
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert _max_threads() == 1
            check(CORRELATE2D, image, kernel, np.float32, "valid")  # workers=None
            assert _max_threads() == 1
        assert _max_threads() == 3
        check(CONVOLVE2D, image, kernel, np.float32, "same")


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
        "r = fastcorr.correlate2d(np.ones((50, 60)), np.ones((3, 3)), 'valid'); "
        "print(bool((r == 9).all()))"
    )
    for n in ("1", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=n)
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [n, "True"]
