"""fastcorr inside other people's processes: concurrent callers, fork, Ctrl-C, huge arrays,
memory.

Anything that can hang or crash the interpreter (fork, SIGINT, absurd shapes) runs in a
subprocess with a deadline, so a hang or a segfault fails that one test instead of taking the
whole suite down.  The deadlines inside the child scripts are short (the work they wait for
takes milliseconds) and the subprocess timeout is a generous backstop.

Timing is never asserted here except for the Ctrl-C latency, which is the guarantee itself;
the GIL-release speed-up is measured by ``tools/gil_check.py``.
"""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import fastcorr
from fastcorr import _dispatch
from faces import CORRELATE2D, random_array
from oracle import assert_within_bound, error_bound, exact

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
MODES = [("valid", "fill"), ("same", "wrap"), ("full", "fill"), ("same", "symm")]


def run_script(source, timeout=60, env=None):
    """Run `source` in a fresh interpreter (tests/ on the path); return the CompletedProcess.

    A hang past `timeout` fails the test with what the child printed so far."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = TESTS_DIR + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=full_env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"child still running after {timeout} s (hang); stdout: {exc.stdout!r}, "
                    f"stderr: {exc.stderr!r}")


def assert_child_ok(proc, expected_lines=("OK",)):
    detail = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    if proc.returncode < 0:
        pytest.fail(f"child killed by signal {-proc.returncode}: {detail}")
    assert proc.returncode == 0, detail
    for line in expected_lines:
        assert line in proc.stdout.splitlines(), detail


# ============================================================================ 1. threads
# Each of the 8 threads has its own dtypes, workers= and modes; all run at once, 1,000 calls
# each.  Inputs are small (~0.1-0.5 M multiply-adds, enough for the core to use two OpenMP
# threads when asked) so the test takes a few seconds.
THREAD_DTYPES = [np.float32, np.float64, np.int16, np.float16, np.float32, np.float64,
                 np.complex64, np.complex128]
THREAD_WORKERS = [1, 2, None, -1, 2, 1, None, 2]
CALLS_PER_THREAD = 1000


def _thread_problems(index):
    rng = np.random.default_rng(1000 + index)
    dtype = np.dtype(THREAD_DTYPES[index])
    problems = []
    for j in range(4):
        kh, kw = 2 + (index + j) % 6, 3 + (index * 3 + j) % 7
        m, n = 40 + 7 * j + index, 60 + 13 * j + 3 * index
        if dtype.kind == "i":
            image = rng.integers(-100, 100, (m, n)).astype(dtype)
            kernel = rng.integers(-5, 5, (kh, kw)).astype(dtype)
        else:
            image = rng.standard_normal((m, n)).astype(dtype)
            kernel = rng.standard_normal((kh, kw)).astype(dtype)
            if dtype.kind == "c":
                image = image + 1j * rng.standard_normal((m, n)).astype(dtype)
                kernel = kernel + 1j * rng.standard_normal((kh, kw)).astype(dtype)
        if j == 3:  # a non-contiguous view: the conversion path runs concurrently too
            image = np.asfortranarray(image)[::-1]
        op = "correlate" if (index + j) % 2 == 0 else "convolve"
        mode, boundary = MODES[(index + j) % len(MODES)]
        result_dtype = fastcorr.correlate2d(image[:kh, :kw], kernel, "valid").dtype
        if j == 2:  # one problem per thread in 1-D: a signal and a short kernel
            signal_1d, taps = image.reshape(-1), kernel.reshape(-1)
            expected = exact(op, signal_1d, taps, result_dtype, mode)
            bound = error_bound(op, signal_1d, taps, result_dtype, mode)
            func = fastcorr.correlate if op == "correlate" else fastcorr.convolve
            kwargs = {"mode": mode, "workers": THREAD_WORKERS[index]}
            problems.append((func, signal_1d, taps, kwargs, expected, bound, result_dtype))
            continue
        expected = exact(op + "2d", image, kernel, result_dtype, mode, boundary)
        bound = error_bound(op + "2d", image, kernel, result_dtype, mode, boundary)
        func = fastcorr.correlate2d if op == "correlate" else fastcorr.convolve2d
        kwargs = {"mode": mode, "boundary": boundary, "workers": THREAD_WORKERS[index]}
        problems.append((func, image, kernel, kwargs, expected, bound, result_dtype))
    return problems


def test_concurrent_callers_8_threads():
    """8 Python threads x 1,000 calls, each thread with its own dtypes, workers= and modes, all
    at once: every result within the error bound of the reference, no crash, no deadlock."""
    problems = [_thread_problems(i) for i in range(8)]
    errors, done = [], []
    start = threading.Barrier(8)

    def worker(index):
        try:
            start.wait()
            mine = problems[index]
            for call in range(CALLS_PER_THREAD):
                func, image, kernel, kwargs, expected, bound, dtype = mine[call % len(mine)]
                result = func(image, kernel, **kwargs)
                assert result.dtype == dtype
                err = np.abs(result - expected)
                if not np.all(err <= bound):  # cheap check; the full one reports details
                    assert_within_bound(result, expected, bound,
                                        f"thread {index}, call {call}, {func.__name__} {kwargs}")
            done.append(index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((index, exc))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    assert not any(t.is_alive() for t in threads), "deadlock: threads still running after 120 s"
    assert not errors, f"{len(errors)} threads failed; first: {errors[0]!r}"
    assert sorted(done) == list(range(8))


def test_concurrent_callers_share_out_arrays_disjointly():
    """Threads writing into disjoint views of one out= buffer (a common pattern: each thread
    fills its band of a result) must not write outside their own view."""
    rng = np.random.default_rng(3)
    bands = 8
    image = rng.standard_normal((bands, 70, 90)).astype(np.float32)
    kernel = rng.standard_normal((5, 5)).astype(np.float32)
    out = np.full((bands * 66 + bands - 1, 86), 12345.0, np.float32)  # a gap row between bands
    views = [out[b * 67:b * 67 + 66] for b in range(bands)]

    def worker(b):
        for _ in range(50):
            fastcorr.correlate2d(image[b], kernel, "valid", out=views[b], workers=2)

    threads = [threading.Thread(target=worker, args=(b,)) for b in range(bands)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for b in range(bands):
        assert_within_bound(views[b], exact("correlate2d", image[b], kernel, np.float32, "valid"),
                            error_bound("correlate2d", image[b], kernel, np.float32, "valid"),
                            f"band {b}")
    gaps = out[66::67]
    assert np.all(gaps == 12345.0), "a thread wrote outside its out= view"


def test_concurrent_calls_each_multithreaded():
    """Calls release the GIL; concurrent calls (each multithreaded itself) must not share
    scratch memory or output buffers."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(77)
    jobs = []
    for i in range(12):
        dtype = (np.float32, np.float64)[i % 2]
        image = random_array(rng, (90 + i, 150 + 7 * i), dtype)
        kernel = random_array(rng, (3 + i % 4, 2 + i % 5), dtype)
        jobs.append((image, kernel, dtype))

    def run(job):
        image, kernel, _ = job
        return [CORRELATE2D(image, kernel, "valid", workers=2) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, jobs))
    for (image, kernel, dtype), outs in zip(jobs, results):
        expected = CORRELATE2D.exact(image, kernel, dtype, "valid")
        bound = CORRELATE2D.bound(image, kernel, dtype, "valid")
        for out in outs:
            assert_within_bound(out, expected, bound, f"concurrent {image.shape}*{kernel.shape}")


# ============================================================================ 2. fork
# What each fork test's child script needs to run work in a forked child with a deadline.
FORK_CHILD = """
    import os, sys, time
    CHILD_DEADLINE = 15  # the child's work takes milliseconds

    def in_child(work):
        \"\"\"work() in a forked child: its exit status (0 done, 3 raised); a child still
        running after CHILD_DEADLINE s is killed and this script exits 4 (HANG).\"\"\"
        pid = os.fork()
        if pid == 0:
            try:
                work()
                os._exit(0)
            except BaseException as exc:
                print("child failed:", repr(exc), flush=True)
                os._exit(3)
        t0 = time.monotonic()
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() - t0 > CHILD_DEADLINE:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print(f"HANG: child still computing after {CHILD_DEADLINE} s", flush=True)
                sys.exit(4)
            time.sleep(0.01)
"""

FORK_PRELUDE = FORK_CHILD + """
    import numpy as np
    import fastcorr
    from oracle import assert_within_bound, error_bound, exact

    rng = np.random.default_rng(0)
    # ~5 M multiply-adds: the core really uses two OpenMP threads for it.
    image = rng.standard_normal((300, 400))
    kernel = rng.standard_normal((7, 7))
    expected = exact("correlate2d", image, kernel, np.float64, "valid")
    bound = error_bound("correlate2d", image, kernel, np.float64, "valid")

    def check(workers):
        assert_within_bound(fastcorr.correlate2d(image, kernel, "valid", workers=workers),
                            expected, bound, f"workers={workers}")

    check(2)  # the parent's OpenMP thread pool now exists
"""


def test_fork_os_fork_child_computes():
    """After using workers=2, os.fork(): the child computes correct results (workers=2, None,
    1) without hanging, and the parent still works afterwards."""
    proc = run_script(FORK_PRELUDE + """
    def work():
        for w in (2, None, 1, -1):
            check(w)

    status = in_child(work)
    print("child exit status", status, flush=True)
    assert status == 0
    check(2)
    print("OK")
    """)
    assert_child_ok(proc)


def test_fork_multiprocessing_pool():
    """A multiprocessing pool with the 'fork' start method, created after the parent used
    workers=2: its workers compute correct results without hanging."""
    proc = run_script(FORK_PRELUDE + """
    import multiprocessing

    def job(workers):
        out = fastcorr.correlate2d(image, kernel, "valid", workers=workers)
        return float(np.max(np.abs(out - expected) - bound))

    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(2)
    try:
        excess = pool.map_async(job, [2, None, 1, 2, -1, 2]).get(timeout=CHILD_DEADLINE)
    except multiprocessing.TimeoutError:
        print(f"HANG: pool workers still computing after {CHILD_DEADLINE} s", flush=True)
        pool.terminate()
        sys.exit(4)
    pool.close()
    pool.join()
    assert max(excess) <= 0, excess
    check(2)
    print("OK")
    """)
    assert_child_ok(proc)


def test_fork_before_first_parallel_call():
    """Forking before the parent ever ran a parallel region is fine today and must stay so."""
    proc = run_script("""
    import os, numpy as np, fastcorr
    from oracle import assert_within_bound, error_bound, exact
    image = np.random.default_rng(1).standard_normal((300, 400)); kernel = np.ones((7, 7))
    pid = os.fork()
    out = fastcorr.correlate2d(image, kernel, "valid", workers=2)
    assert_within_bound(out, exact("correlate2d", image, kernel, np.float64, "valid"),
                        error_bound("correlate2d", image, kernel, np.float64, "valid"))
    if pid == 0:
        os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    print("OK")
    """, timeout=60)
    assert_child_ok(proc)


def test_fork_after_fft_threads():
    """After FFT calls on two threads (whose chunks run on threads kept between calls,
    fft._pool), os.fork(): the child's FFT calls make threads of their own and give the
    parent's results bit for bit without hanging; the parent's calls still work after."""
    proc = run_script(FORK_CHILD + """
    import numpy as np
    import fastcorr
    from fastcorr._engine import fft
    fft.MAX_TILE_BYTES_2D = 32 * 32 * 8  # several tiles, so several chunks and threads
    fft.THREADS_MIN_POINTS = 0
    rng = np.random.default_rng(2)
    image, kernel = rng.standard_normal((150, 170)), rng.standard_normal((9, 9))
    reference = fastcorr.correlate2d(image, kernel, "valid", method="fft", workers=2)
    direct = fastcorr.correlate2d(image, kernel, "valid", method="direct")
    assert fft._POOL[0] is not None
    assert np.abs(reference - direct).max() <= 1e-9 * np.abs(direct).max()
    def work():
        for _ in range(3):
            out = fastcorr.correlate2d(image, kernel, "valid", method="fft", workers=2)
            assert np.array_equal(out, reference)

    assert in_child(work) == 0
    out = fastcorr.correlate2d(image, kernel, "valid", method="fft", workers=2)
    assert np.array_equal(out, reference)
    print("OK")
    """)
    assert_child_ok(proc)


# ============================================================================ 3. Ctrl-C
# A call of ~5e11 multiply-adds: tens of seconds on two cores of this machine (~14 G FMA/s
# per core in float64), and still several seconds on a much faster one.
CTRL_C_SCRIPT = """
    import signal, sys, threading, time
    import numpy as np
    import fastcorr
    # What an interactive user has.  A child of a job started with & from a non-interactive
    # shell (nohup, a CI runner's background step) inherits SIGINT ignored, and Python then
    # installs no handler, so the signal would never reach the call under test.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from oracle import assert_within_bound, error_bound, exact

    image = np.ones((6000, 6000))
    kernel = np.ones((127, 127))
    print("READY", flush=True)
    try:
        # direct: a ones kernel is rank 1, which 'auto' would finish in milliseconds.
        result = fastcorr.correlate2d(image, kernel, "valid", workers=2, method="direct")
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    else:
        print("RETURNED", result.shape, flush=True)
        sys.exit(3)
    # Threads joined: no Python thread left behind; the next call works and is right.
    assert threading.active_count() == 1, threading.enumerate()
    small = np.random.default_rng(0).standard_normal((50, 60))
    small_kernel = np.random.default_rng(1).standard_normal((4, 5))
    for w in (2, 1):
        assert_within_bound(fastcorr.correlate2d(small, small_kernel, "valid", workers=w),
                            exact("correlate2d", small, small_kernel, np.float64, "valid"),
                            error_bound("correlate2d", small, small_kernel, np.float64,
                                        "valid"))
    print("OK", flush=True)
"""


def _readline(stream, timeout):
    """The next line from a pipe, or None after `timeout` seconds."""
    box = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else None


def test_ctrl_c_interrupts_long_call():
    """SIGINT ~1 s into a call of tens of seconds: KeyboardInterrupt within 0.5 s, nothing
    returned, and the next call in the same process works."""
    env = dict(os.environ)
    env["PYTHONPATH"] = TESTS_DIR + os.pathsep + env.get("PYTHONPATH", "")
    child = subprocess.Popen([sys.executable, "-u", "-c", textwrap.dedent(CTRL_C_SCRIPT)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _readline(child.stdout, 60) == "READY\n", "child did not start"
        time.sleep(1.0)  # well inside the call (np.ones of 2 x 288 MB takes ~0.1 s)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = _readline(child.stdout, 5.0)
        latency = time.monotonic() - sent
        if line is None:
            pytest.fail("KeyboardInterrupt not delivered within 5 s of SIGINT "
                        "(the call runs to its end before Python sees the signal)")
        assert line == "INTERRUPTED\n", f"call ended without KeyboardInterrupt: {line!r}"
        assert latency <= 0.5, f"KeyboardInterrupt arrived {latency:.2f} s after SIGINT"
        # Read on through the same text stream: its buffer may already hold "OK\n" (a loaded
        # machine can wake the reader after both lines were written), and communicate() reads
        # the pipe's file descriptor, past that buffer.
        after = _readline(child.stdout, 60)
        rest, err = child.communicate(timeout=60)
        assert child.returncode == 0, f"after the interrupt: {after!r} {rest!r} {err!r}"
        assert after == "OK\n", f"after the interrupt: {after!r} {rest!r} {err!r}"
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


# ============================================================================ 4. huge arrays
def _free_ram_bytes():
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    return info.get("MemAvailable", 0)


def _sampled_check(x, kernel, out, positions):
    """out[r, c] against a float64 dot product of the window at (r, c)."""
    kh, kw = kernel.shape
    k64 = kernel.astype(np.float64)
    for r, c in positions:
        window = x[r:r + kh, c:c + kw].astype(np.float64)
        exact = float(np.sum(window * k64))
        bound = (kh * kw + 1) * np.finfo(np.float32).eps * float(np.sum(np.abs(window * k64)))
        assert abs(float(out[r, c]) - exact) <= bound + 1e-30, (
            f"out[{r}, {c}] = {out[r, c]!r}, expected {exact!r}")


@pytest.mark.slow
def test_huge_result_more_than_2_31_elements():
    """A float32 result of 2 x (2^30 + 1000) > 2^31 elements, with its second row 4 GiB past
    the first: every address computed in 64 bits, checked at sampled positions (first and last
    columns of each tile region, each row, random positions) against float64 dot products.

    The input is a 1-D signal viewed as two overlapping rows one element apart (a read-only
    as_strided view the core reads in place), so it costs 4.3 GB and the output 8.6 GB."""
    width = 2**30 + 1000
    kernel = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]], np.float32)
    kh, kw = kernel.shape
    need = (width + kw + kh) * 4 + 2 * width * 4
    if _free_ram_bytes() < need + (2 << 30):
        pytest.skip(f"needs {need / 2**30:.1f} GiB of free memory")
    # A period that is no power of two, so a read at a wrong offset reads a different value.
    period = 1_000_003
    block = np.random.default_rng(31).standard_normal(period).astype(np.float32)
    signal_1d = np.resize(block, width + kw + kh)
    x = as_strided(signal_1d, shape=(kh + 1, width + kw - 1), strides=(4, 4), writeable=False)
    out = fastcorr.correlate2d(x, kernel, "valid", workers=2)
    assert out.shape == (2, width) and out.dtype == np.float32 and out.size > 2**31
    rng = np.random.default_rng(5)
    cols = [0, 1, 7, 8, 23, 24, 2**29, 2**30 - 1, 2**30, 2**30 + 1, width - 9, width - 8,
            width - 2, width - 1] + list(rng.integers(0, width, 40))
    _sampled_check(x, kernel, out, [(r, int(c)) for r in (0, 1) for c in cols])
    del out, x, signal_1d


@pytest.mark.slow
def test_huge_1d_signal():
    """A float32 signal of 2^31 + 1000 samples with a 5-tap kernel (the issue's example):
    8.6 GB in, 8.6 GB out, correct at sampled positions including the very end."""
    n = 2**31 + 1000
    taps = np.array([0.5, -1.0, 2.0, 0.25, -0.75], np.float32)
    need = 2 * n * 4
    if _free_ram_bytes() < need + (2 << 30):
        pytest.skip(f"needs {need / 2**30:.1f} GiB of free memory")
    period = 999_983  # prime: a read at a wrong offset reads a different value
    signal_1d = np.resize(np.random.default_rng(7).standard_normal(period).astype(np.float32), n)
    out = fastcorr.correlate(signal_1d, taps, "valid", workers=2)
    assert out.shape == (n - 4,) and out.dtype == np.float32
    rng = np.random.default_rng(3)
    positions = [0, 1, 1023, 1024, 2**31 - 1, 2**31, 2**31 + 1, n - 6, n - 5] + \
        list(rng.integers(0, n - 4, 40))
    t64 = taps.astype(np.float64)
    for i in positions:
        window = signal_1d[i:i + 5].astype(np.float64)
        exact = float(window @ t64)
        bound = 6 * np.finfo(np.float32).eps * float(np.abs(window) @ np.abs(t64))
        assert abs(float(out[i]) - exact) <= bound + 1e-30, f"out[{i}] = {out[i]!r}, expected {exact!r}"
    del out, signal_1d


def test_row_offsets_beyond_2_31_elements():
    """Input and output rows more than 2^31 elements (8 GiB) apart, through row strides over
    lazily allocated buffers (only the touched pages cost memory): element offsets past 2^31
    must not wrap in any 32-bit index, on every SIMD path."""
    gap = 2**31 + 64  # elements between row starts: past the int32 range in elements
    width = 3000
    kernel = np.array([[0.5, 1.0, -1.0], [2.0, -0.25, 1.0]], np.float32)
    try:
        in_buf = np.empty(2 * gap + width + 8, np.float32)  # 17 GiB of address space
        out_buf = np.empty(gap + width, np.float32)         # 8.6 GiB
    except MemoryError:
        pytest.skip("cannot reserve 26 GiB of address space")
    x = as_strided(in_buf, shape=(3, width + 2), strides=(4 * gap, 4))
    x[...] = np.random.default_rng(9).standard_normal((3, width + 2))
    dense = np.array(x)
    expected = exact("correlate2d", dense, kernel, np.float32, "valid")
    bound = error_bound("correlate2d", dense, kernel, np.float32, "valid")
    out = as_strided(out_buf, shape=(2, width), strides=(4 * gap, 4))
    previous = _dispatch.active()
    try:
        for path in _dispatch.supported_paths():
            _dispatch.select(path)
            out[...] = np.nan
            result = fastcorr.correlate2d(x, kernel, "valid", out=out, workers=2)
            assert result is out
            assert_within_bound(out, expected, bound, f"8 GiB row strides, simd={path}")
            # A negative 8 GiB stride.
            flipped = fastcorr.correlate2d(x[::-1], kernel, "valid", workers=1)
            assert_within_bound(flipped, exact("correlate2d", dense[::-1], kernel, np.float32,
                                               "valid"),
                                error_bound("correlate2d", dense[::-1], kernel, np.float32,
                                            "valid"),
                                f"-8 GiB row stride, simd={path}")
    finally:
        _dispatch.select(previous)
    del x, out, in_buf, out_buf


# A shape whose size or byte count overflows (or cannot be allocated) must raise
# MemoryError/ValueError, never crash.  Each case runs in its own interpreter: a segfault
# becomes a failed test.  The arrays are zero-stride views of one element, so they are valid
# memory whatever their shape.
HUGE_CASES = {
    "in1 2^40 x 2^40 (copy needed)":
        "as_strided(np.zeros(1, np.float32), shape=(2**40, 2**40), strides=(0, 0)), k11, 'valid'",
    "in1 2^40 rows of a real row":
        "as_strided(np.zeros(2**12, np.float32), shape=(2**40, 2**12), strides=(0, 4)), k11, "
        "'valid'",
    "in1 2^62 x 4":
        "as_strided(np.zeros(1, np.float32), shape=(2**62, 4), strides=(0, 0)), k11, 'valid'",
    "in1 2^31+1 x 2^31+1 unit columns, 2x2 kernel":
        "as_strided(np.zeros(2**31 + 1, np.float32), shape=(2**31 + 1, 2**31 + 1), "
        "strides=(0, 4), writeable=False), np.ones((2, 2), np.float32), 'valid'",
    "in2 2^40 x 2^40, in1 small (swap)":
        "np.ones((3, 3), np.float32), "
        "as_strided(np.zeros(1, np.float32), shape=(2**40, 2**40), strides=(0, 0)), 'valid'",
    "full mode 2^40 x 2^30":
        "as_strided(np.zeros(2**30, np.float32), shape=(2**40, 2**30), strides=(0, 4)), "
        "np.ones((2, 2), np.float32), 'full'",
    "out 2^40 x 2^40 zero-stride":
        "np.ones((6, 6)), np.ones((2, 2)), 'valid', "
        "out=as_strided(np.zeros(1), shape=(2**40, 2**40), strides=(0, 0))",
}


@pytest.mark.parametrize("case", list(HUGE_CASES))
def test_overflowing_shapes_raise(case):
    args = HUGE_CASES[case]
    proc = run_script(f"""
    import numpy as np, fastcorr
    from numpy.lib.stride_tricks import as_strided
    k11 = np.ones((1, 1), np.float32)
    for func in (fastcorr.correlate2d, fastcorr.convolve2d):
        try:
            func({args})
        except (MemoryError, ValueError) as exc:
            print(func.__name__, type(exc).__name__, str(exc)[:200])
        else:
            raise SystemExit(func.__name__ + " returned")
    print("OK")
    """, timeout=120, env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                              ":allocator_may_return_null=1"})
    assert_child_ok(proc)


# ============================================================================ 5. memory
def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _call_mix():
    """A list of zero-argument callables covering the public functions, dtypes, layouts,
    modes, out= and workers=."""
    rng = np.random.default_rng(42)
    calls = []
    for dtype in (np.float32, np.float64, np.int32, np.float16, np.complex64, np.complex128):
        image = rng.standard_normal((23, 37)).astype(dtype)
        kernel = rng.standard_normal((4, 3)).astype(dtype)
        for func in (fastcorr.correlate2d, fastcorr.convolve2d):
            for mode, boundary in MODES:
                for workers in (1, 2):
                    calls.append(lambda f=func, a=image, k=kernel, m=mode, b=boundary, w=workers:
                                 f(a, k, mode=m, boundary=b, workers=w))
            calls.append(lambda f=func, a=image, k=kernel: f(k, a, "valid"))  # swapped
            calls.append(lambda f=func, a=image, k=kernel:
                         f(np.asfortranarray(a)[::-1], k[:, ::-1], "valid"))
    for dtype in (np.float32, np.float64, np.complex128):
        signal_1d = rng.standard_normal(600).astype(dtype)
        for taps in (rng.standard_normal(5), rng.standard_normal(150)):  # both 1-D folds
            taps = taps.astype(dtype)
            for mode in ("valid", "same", "full"):
                calls.append(lambda a=signal_1d, v=taps, m=mode:
                             fastcorr.correlate(a, v, m, workers=2))
                calls.append(lambda a=signal_1d, v=taps, m=mode: fastcorr.convolve(v, a, m))
    image = rng.standard_normal((23, 37))
    out = np.empty((20, 35))
    calls.append(lambda: fastcorr.correlate2d(image, np.ones((4, 3)), "valid", out=out))
    calls.append(lambda: fastcorr.convolve2d(image, np.ones((4, 3)), "valid", out=out[::-1]))
    return calls


def _bad_call_mix():
    """Calls that fail at various points: before any conversion, after converting (copying)
    the inputs, at out= and workers= checks.  Inputs are big enough (0.5-2 MB) that leaking a
    converted copy per call would show."""
    big_f = np.asfortranarray(np.ones((300, 400)))  # needs a copy
    big_i = np.ones((300, 400), np.int32)          # needs a cast
    kernel = np.ones((3, 3))
    readonly = np.empty((298, 398))
    readonly.flags.writeable = False
    calls = [
        lambda: fastcorr.correlate2d(big_f, kernel, "valid", out=np.empty((10, 10))),
        lambda: fastcorr.correlate2d(big_i, kernel, "valid",
                                     out=np.empty((298, 398), np.float32)),
        lambda: fastcorr.convolve2d(big_f, kernel, "valid", out=readonly),
        lambda: fastcorr.correlate2d(big_f, kernel, "valid", workers=0),
        lambda: fastcorr.correlate2d(big_i, kernel, "valid", workers="2"),
        lambda: fastcorr.convolve2d(big_f, kernel, mode="nope"),
        lambda: fastcorr.correlate2d(big_f, np.ones((3, 3), object), "valid"),
        lambda: fastcorr.correlate2d(big_f, np.ones((500, 2)), "valid"),
        lambda: fastcorr.correlate2d(big_f, kernel, "valid", out=[[0.0]]),
    ]
    return calls


def _rss_growth(calls, n_calls, warmup_rounds=1):
    paths = _dispatch.supported_paths()
    previous = _dispatch.active()
    try:
        for _ in range(warmup_rounds):
            for path in paths:
                _dispatch.select(path)
                for call in calls:
                    try:
                        call()
                    except (TypeError, ValueError):
                        pass
        gc.collect()
        before = rss_bytes()
        i = 0
        while i < n_calls:
            _dispatch.select(paths[(i // len(calls)) % len(paths)])
            for call in calls:
                try:
                    call()
                except (TypeError, ValueError):
                    pass
            i += len(calls)
        gc.collect()
        return rss_bytes() - before, i
    finally:
        _dispatch.select(previous)


RSS_LIMIT = 5 * 2**20
# AddressSanitizer holds freed memory in a quarantine (256 MiB by default) before reusing it,
# so RSS grows under tools/sanitize.sh whatever the code does; leaks are what these tests
# measure, and ASan's own leak checker is off for CPython's sake (see tools/sanitize.sh).
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
rss_test = pytest.mark.skipif(UNDER_ASAN, reason="RSS is meaningless under ASan's quarantine")


@rss_test
def test_rss_flat_over_many_calls():
    """4,000 calls across functions, dtypes, layouts, modes, out=, workers= and SIMD paths:
    RSS grows by less than 5 MiB (a leak of ~1.3 kB per call would exceed it).  The
    100,000-call run is test_rss_flat_100k_calls (slow)."""
    growth, n = _rss_growth(_call_mix(), 4_000)
    assert growth < RSS_LIMIT, f"RSS grew by {growth / 2**20:.2f} MiB over {n} calls"


@pytest.mark.slow
@rss_test
def test_rss_flat_100k_calls():
    growth, n = _rss_growth(_call_mix(), 100_000)
    assert growth < RSS_LIMIT, f"RSS grew by {growth / 2**20:.2f} MiB over {n} calls"


@rss_test
def test_rss_flat_over_failing_calls():
    """3,000 rejected calls, some after their inputs were converted (1 MB copies): RSS flat,
    so an error path frees what it allocated."""
    calls = _bad_call_mix()
    for call in calls:  # every one of them really fails
        with pytest.raises((TypeError, ValueError)):
            call()
    growth, n = _rss_growth(calls, 3_000)
    assert growth < RSS_LIMIT, f"RSS grew by {growth / 2**20:.2f} MiB over {n} failing calls"


@pytest.mark.slow
def test_fuzz_script_runs_clean():
    """tools/fuzz.py for 20 s (the 10-minute run is done by hand before a release): the tool
    itself keeps working, and a short run finds nothing."""
    pytest.importorskip("hypothesis")
    script = os.path.join(os.path.dirname(TESTS_DIR), "tools", "fuzz.py")
    proc = subprocess.run([sys.executable, script, "--duration", "20", "--seed", "0"],
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "fuzz: PASS" in proc.stdout


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_no_padded_copy_of_the_image(boundary):
    """The design promise: extra memory O(K * (M + N)), not a padded copy of the image.
    Peak traced allocation (numpy reports its buffers to tracemalloc) beyond the result itself
    stays far below the image's size."""
    import tracemalloc

    image = np.random.default_rng(112).standard_normal((1000, 1200))
    kernel = np.ones((7, 7))
    fastcorr.correlate2d(image, kernel, "full", boundary)  # warm up any lazy allocation
    tracemalloc.start()
    try:
        result = fastcorr.correlate2d(image, kernel, "full", boundary, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra = peak - result.nbytes
    assert extra < image.nbytes / 10, (
        f"{extra} bytes beyond the result for a {image.nbytes}-byte image")


def test_signal_is_not_copied():
    """The design promise: the long signal is read in place by the direct 1-D kernel, so the
    call allocates little beyond its result (method='direct': from a few hundred taps 'auto'
    may pick the blocked FFT, whose memory per chunk of tiles test_fft bounds)."""
    import tracemalloc

    a = np.random.default_rng(308).standard_normal(1_000_000)
    for k in (5, 64, 256):
        v = np.ones(k)
        fastcorr.correlate(a, v, "full", method="direct")
        tracemalloc.start()
        try:
            result = fastcorr.correlate(a, v, "full", workers=2, method="direct")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak - result.nbytes < a.nbytes / 20, f"K={k}: {peak - result.nbytes} bytes extra"
