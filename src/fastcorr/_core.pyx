# cython: language_level=3
"""Compiled core: cache-blocked, OpenMP-parallel valid correlation over float32/float64.

Everything here runs with the GIL released.  The output is cut into tiles (the OpenMP work
units); each tile is handed to the kernel path the dispatcher chose (see _kernels/dispatch.c),
which blocks it further for registers.  Argument checking, dtype promotion and modes live in the
Python layer (_api.py); this module trusts its callers.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from cpython.exc cimport PyErr_CheckSignals
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport sqrt, sqrtf
from libc.string cimport memcpy, memmove, memset
from libc.stdint cimport int32_t, uint32_t
cimport openmp
import os

import numpy as np

cdef extern from "fastcorr_kernels.h" nogil:
    ctypedef void (*fc_corr_f32_fn)(const float *, Py_ssize_t, const float *, Py_ssize_t,
                                    Py_ssize_t, float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                    float *, int)
    ctypedef void (*fc_corr_f64_fn)(const double *, Py_ssize_t, const double *, Py_ssize_t,
                                    Py_ssize_t, double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                    double *, int)
    ctypedef void (*fc_corr1d_f32_fn)(const float *, const float *, Py_ssize_t, float *,
                                      Py_ssize_t, float *)
    ctypedef void (*fc_corr1d_f64_fn)(const double *, const double *, Py_ssize_t, double *,
                                      Py_ssize_t, double *)
    ctypedef void (*fc_corr3_f32_fn)(const float **, Py_ssize_t, const float *, Py_ssize_t,
                                     Py_ssize_t, Py_ssize_t, float *, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t, float *)
    ctypedef void (*fc_corr3_f64_fn)(const double **, Py_ssize_t, const double *, Py_ssize_t,
                                     Py_ssize_t, Py_ssize_t, double *, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t, double *)
    ctypedef void (*fc_conv_f32_fn)(const float **, Py_ssize_t, Py_ssize_t, const float *,
                                    Py_ssize_t, Py_ssize_t, Py_ssize_t, float *, Py_ssize_t,
                                    Py_ssize_t)
    ctypedef void (*fc_conv_f64_fn)(const double **, Py_ssize_t, Py_ssize_t, const double *,
                                    Py_ssize_t, Py_ssize_t, Py_ssize_t, double *, Py_ssize_t,
                                    Py_ssize_t)
    ctypedef void (*fc_wgrad_f32_fn)(const float *, Py_ssize_t, const Py_ssize_t *, Py_ssize_t,
                                     const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t, Py_ssize_t, float *, Py_ssize_t)
    ctypedef void (*fc_wgrad_f64_fn)(const double *, Py_ssize_t, const Py_ssize_t *, Py_ssize_t,
                                     const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t, Py_ssize_t, double *, Py_ssize_t)
    ctypedef int (*fc_wgrad1_f32_fn)(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                     const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t, float *)
    ctypedef int (*fc_wgrad1_f64_fn)(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                     const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                     double *)
    ctypedef void (*fc_copy_rows_fn)(float *, Py_ssize_t, const float *, Py_ssize_t, Py_ssize_t,
                                     Py_ssize_t)
    ctypedef void (*fc_sum_f32_fn)(const float *, const float *, float *, Py_ssize_t)
    ctypedef void (*fc_sum_f64_fn)(const double *, const double *, double *, Py_ssize_t)
    ctypedef void (*fc_colt_f32_fn)(const float *, Py_ssize_t, const float *, Py_ssize_t,
                                    float *, Py_ssize_t, Py_ssize_t, Py_ssize_t)
    ctypedef double (*fc_probe_fn)(long)
    enum: FC_SMALL_KERNEL_ROWS_MAX
    ctypedef struct fc_kernel_table:
        const char *name
        const char *description
        fc_corr_f32_fn corr_f32
        fc_corr_f64_fn corr_f64
        fc_corr1d_f32_fn corr1d_f32
        fc_corr1d_f64_fn corr1d_f64
        fc_corr1d_f32_fn corr1d_nt_f32
        fc_corr1d_f64_fn corr1d_nt_f64
        fc_sum_f32_fn sum_nt_f32
        fc_sum_f64_fn sum_nt_f64
        fc_colt_f32_fn colt_f32
        fc_corr3_f32_fn corr3_f32
        fc_corr3_f64_fn corr3_f64
        fc_conv_f32_fn conv_f32
        fc_conv_f64_fn conv_f64
        fc_wgrad_f32_fn wgrad_f32
        fc_wgrad_f64_fn wgrad_f64
        fc_wgrad1_f32_fn wgrad1_f32
        fc_wgrad1_f64_fn wgrad1_f64
        fc_copy_rows_fn copy_rows
        int conv_channels
        int wgrad_channels
        int wgrad_taps
        int wgrad_masked
        fc_probe_fn fma_probe_f32
        fc_probe_fn fma_probe_f64
        int lanes_f32
        int lanes_f64
        int block_rows
        int block_vectors_1d
        int small_kernel_rows
        int small_block_rows[FC_SMALL_KERNEL_ROWS_MAX]
        int small_block_rows_aliased[FC_SMALL_KERNEL_ROWS_MAX]
        int small_kernel_rows_aliased
    ctypedef struct fc_l1_geometry:
        int size_bytes, ways, line_bytes, sets, source
    const fc_l1_geometry *fc_l1()
    ctypedef struct fc_l1_alias_geometry:
        int ways, way_bytes, line_bytes
    fc_l1_alias_geometry fc_l1_alias
    enum:
        FC_L1_FROM_DEFAULT
        FC_L1_FROM_CPUID_4
        FC_L1_FROM_CPUID_8000001D
        FC_L1_FROM_SYSCONF
        FC_ALIAS_NEAR_LINES
    Py_ssize_t fc_small_band_rows(Py_ssize_t rows, Py_ssize_t rows_aliased, Py_ssize_t kh,
                                  Py_ssize_t row_bytes)
    size_t fc_scratch_elems(Py_ssize_t kw)
    size_t fc_scratch3_elems(Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw)
    int fc_n_compiled()
    const fc_kernel_table *fc_compiled(int i)
    int fc_cpu_supports(const char *name)
    int fc_select(const char *name)
    const fc_kernel_table *fc_active()
    void fc_stream_fence()
    enum: FC_L2_BUDGET_BYTES
    enum: FC_STREAM_MIN_BYTES
    enum: FC_CORR_ROTATE
    enum: FC_CORR_STREAM
    enum: FC_CORR_PREFETCH
    long long fc_llc_bytes()

cdef extern from *:
    """
    #if defined(_OPENMP)
    static const int fc_openmp_version = _OPENMP;
    #else
    static const int fc_openmp_version = 0;
    #endif
    #if defined(__clang__)
    static const char *fc_openmp_vendor = "LLVM libomp";
    #elif defined(_MSC_VER)
    static const char *fc_openmp_vendor = "MSVC vcomp";
    #elif defined(__GNUC__)
    static const char *fc_openmp_vendor = "GNU libgomp";
    #else
    static const char *fc_openmp_vendor = "unknown";
    #endif
    """
    const int fc_openmp_version
    const char *fc_openmp_vendor

# The one L2 budget (see fastcorr_kernels.h), for the Python layer.
L2_BUDGET_BYTES = FC_L2_BUDGET_BYTES

cdef enum:
    # Tiles are the OpenMP work units: bands of register blocks, about TILE_ROWS output rows
    # high (4 * kh for kernels taller than 12, so that the kh - 1 rows a tile reads beyond its
    # own, and transposes again on AVX-512's lane-strided path, stay under a quarter of them:
    # 2048x2048 float32 K=21-31 on 2 threads 2-6% faster than 48 rows) and as wide as fits
    # FC_L2_BUDGET_BYTES of input rows.
    TILE_ROWS = 48
    # Work between two checks for Ctrl-C, per thread: the tiles run in chunks of about this
    # many multiply-adds, and between chunks the GIL is taken back to look for signals, so a
    # KeyboardInterrupt lands within milliseconds on the SIMD paths (a few tenths of a second
    # on the scalar path) instead of after a call that may take minutes.  A tile never exceeds
    # it either.
    CHUNK_FMAS = 200000000
    # 1-D work units: runs of at most this many outputs of one signal (64 KiB of float32),
    # short enough to balance two threads on a 10^5-sample signal, long enough that a run's
    # start-up (its input's first cache misses) is noise.
    RUN_OUTPUTS = 16384
    # Below this many multiply-adds a call runs on one thread: waking a second OpenMP thread
    # costs a few microseconds, about what one core does in 2^17 FMAs at the AVX2 rate.
    MIN_FMAS_PER_THREAD = 131072


# ----------------------------------------------------------------------------- dispatch
def compiled_paths():
    """The paths compiled into this build, in order of preference (best last): one dict each,
    with the path's `name` and `description`, its vector widths (`lanes_float32`,
    `lanes_float64`) and its register-block shapes (`block_rows`, `block_vectors_1d`,
    `small_kernel_rows`, and `small_block_rows` and `small_block_rows_aliased`: lists whose item
    kh - 1 is for a kernel of kh rows; `small_kernel_rows_aliased`, the tallest kernel whose
    aliased rows a small block takes, the main block those of taller ones; see
    fc_kernel_table).
    """
    cdef int i
    cdef const fc_kernel_table *t
    result = []
    for i in range(fc_n_compiled()):
        t = fc_compiled(i)
        result.append({
            "name": t.name.decode(),
            "description": t.description.decode(),
            "lanes_float32": t.lanes_f32,
            "lanes_float64": t.lanes_f64,
            "block_rows": t.block_rows,
            "block_vectors_1d": t.block_vectors_1d,
            "small_kernel_rows": t.small_kernel_rows,
            "small_block_rows": [t.small_block_rows[k] for k in range(t.small_kernel_rows)],
            "small_block_rows_aliased": [t.small_block_rows_aliased[k]
                                         for k in range(t.small_kernel_rows)],
            "small_kernel_rows_aliased": t.small_kernel_rows_aliased,
        })
    return result


def cpu_supports(str name):
    """1 if this CPU can run the named path, 0 if it cannot, -1 if the name is unknown."""
    return fc_cpu_supports(name.encode())


def select_path(name):
    """Select a path by name (None: the best this CPU supports). Returns fc_select's code."""
    if name is None:
        return fc_select(NULL)
    return fc_select(name.encode())


def active_path():
    return fc_active().name.decode()


# ----------------------------------------------------------------------------- L1 geometry
fc_l1()  # read once, before any kernel runs (fc_select reads it too)

_L1_SOURCES = {
    FC_L1_FROM_CPUID_4: "cpuid leaf 4",
    FC_L1_FROM_CPUID_8000001D: "cpuid leaf 0x8000001D",
    FC_L1_FROM_SYSCONF: "sysconf",
    FC_L1_FROM_DEFAULT: "default",
}

# Rows whose starts lie within this many cache lines of one another, modulo the way size, crowd
# the same L1 sets (see fc_small_band_rows).
ALIAS_NEAR_LINES = FC_ALIAS_NEAR_LINES


def l1_geometry():
    """The L1 data cache geometry read at import (fc_l1): a dict with `size_bytes`, `ways`,
    `line_bytes`, `sets`, `way_bytes` (the distance at which addresses share a set) and
    `source` ('cpuid leaf 4', 'cpuid leaf 0x8000001D', 'sysconf' or 'default')."""
    cdef const fc_l1_geometry *g = fc_l1()
    return {
        "size_bytes": g.size_bytes,
        "ways": g.ways,
        "line_bytes": g.line_bytes,
        "sets": g.sets,
        "way_bytes": g.sets * g.line_bytes,
        "source": _L1_SOURCES[g.source],
    }


cdef inline Py_ssize_t _band_rows(const fc_kernel_table *t, Py_ssize_t kh,
                                  Py_ssize_t row_bytes) noexcept nogil:
    """Output rows of the bands t's kernel cuts for a kh-row kernel whose input rows are
    row_bytes apart: for kernels of at most small_kernel_rows rows, the small block's rows
    (fewer where input rows alias in L1), else min(kh, block_rows)."""
    if kh <= t.small_kernel_rows:
        return fc_small_band_rows(t.small_block_rows[kh - 1], t.small_block_rows_aliased[kh - 1],
                                  kh, row_bytes)
    return min(kh, <Py_ssize_t>t.block_rows)


def small_band_rows(str path, Py_ssize_t kh, Py_ssize_t row_bytes):
    """Output rows of the bands the named path's kernel (and the tile planner) uses for a
    kh-row kernel whose input rows are row_bytes apart, on this CPU's L1: its small block's
    `small_block_rows[kh - 1]`, or `small_block_rows_aliased[kh - 1]` where the rows crowd the L1
    sets, for kh <= `small_kernel_rows`; min(kh, `block_rows`) for taller kernels."""
    cdef int i
    for i in range(fc_n_compiled()):
        if fc_compiled(i).name.decode() == path:
            return _band_rows(fc_compiled(i), kh, row_bytes)
    raise ValueError(f"{path!r} is not a SIMD path of this build")


def _set_l1_alias(int ways, int way_bytes, int line_bytes):
    """For tests only: make the aliasing rule see an L1 of `ways` ways of `way_bytes` with
    `line_bytes` lines (so every machine runs both small blocks) and return the previous
    (ways, way_bytes, line_bytes).  Not thread-safe: no call may be running."""
    if ways < 1 or way_bytes < 1 or line_bytes < 1:
        raise ValueError("ways, way_bytes and line_bytes must be positive")
    previous = (fc_l1_alias.ways, fc_l1_alias.way_bytes, fc_l1_alias.line_bytes)
    fc_l1_alias.ways = ways
    fc_l1_alias.way_bytes = way_bytes
    fc_l1_alias.line_bytes = line_bytes
    return previous


# ----------------------------------------------------------------------------- streamed stores
# Outputs of at least this many bytes are written with non-temporal stores where a pass writes
# whole rows or tiles (see FC_STREAM_MIN_BYTES): half the last-level cache (with an input as
# large they fill it, so the result would not be in cache for its next reader anyway), capped
# by the bytes measured on the CPU with the largest one.
cdef Py_ssize_t _llc_bytes = <Py_ssize_t>fc_llc_bytes()
cdef Py_ssize_t _stream_min = (min(_llc_bytes // 2, <Py_ssize_t>FC_STREAM_MIN_BYTES)
                               if _llc_bytes > 0 else <Py_ssize_t>FC_STREAM_MIN_BYTES)

# Tiles of small kernels whose input and output rows are both a whole number of 4 KiB apart (a
# power-of-two width, the most common large image) store non-temporally from a smaller output:
# there a band's plain stores share the L1 sets and the low 12 address bits of its loads, and
# the call runs well below the bandwidth the same bytes get at other widths.  Measured on an
# Intel Xeon (AVX-512, KVM, 105 MiB last-level cache shared with other guests), 2 threads,
# ndimage.correlate 'reflect' into a preallocated output, alternating runs:
# - float32 2048 x 2048 (16 MiB): 3x3 1.97-2.07 ms plain, 1.32-1.64 streamed; 5x5 2.19-2.52
#   against 2.14-2.26 (one run 3.04); float64 (32 MiB) 3x3 4.87-5.02 against 3.60-3.66, 5x5
#   5.05-5.49 against 4.79-4.82; float32 1024 x 4096 3x3 1.78-2.41 against 1.25-1.37;
# - 7x7 at parity, 9x9 and 11x11 (compute-bound) 0.9x streamed: hence the taps' limit;
# - 11 MiB and less (float32 1448 x 2048, 1024 x 2048): parity for 3x3, 0.9x for 5x5;
# - rows not 4 KiB apart (2100 x 2100, 2048 x 2112 float32) gain nothing from streaming at
#   16 MiB and lose up to 1.2x at 5x5, as the separable passes do at any width below
#   FC_STREAM_MIN_BYTES: they keep the general threshold.
# Where the last-level cache is large next to those arrays the same tiles are faster plain, so
# they stream from an eighth of it if that is more.  The same Xeon class on a host reporting 480
# MiB, same calls, best of 3 processes alternating, plain (in order) against streamed:
# float32 2048 x 2048 3x3 0.79-0.82 ms against 0.99-1.01 and 5x5 1.14-1.24 against 1.20-1.26;
# float64 2048 x 2048 (32 MiB) 3x3 1.54 against 1.69-1.74, 5x5 2.10-2.22 against 2.19-2.27;
# float32 4096 x 2048 3x3 1.55-1.60 against 1.83-1.92.  At 64 MiB (float32 4096 x 4096, the
# general threshold) the kernel alone still ran 3x3 1.5x faster streamed.  A 105 MiB cache
# keeps 16 MiB; so does every cache under 128 MiB.
cdef enum:
    STREAM_ALIASED_MIN_BYTES = 16 * 1024 * 1024
    STREAM_ALIASED_MAX_TAPS = 25
    STREAM_ALIASED_LLC_SHARE = 8
cdef Py_ssize_t _stream_aliased_floor = max(<Py_ssize_t>STREAM_ALIASED_MIN_BYTES,
                                            _llc_bytes // STREAM_ALIASED_LLC_SHARE)

# A 1-D correlation (correlate_valid_1d_batch) reads each input once and writes each output
# once, with nothing to keep in cache between them, so its outputs store non-temporally from a
# smaller size than the 2-D passes' (whose separable passes at 16 MiB were 0.75-0.84x streamed,
# as measured for FC_STREAM_MIN_BYTES).  Measured on an Intel Xeon (AVX-512, KVM, 260 MiB
# last-level cache shared with other guests), 2 threads, best of 30, streamed against plain:
# k = 3, outputs of 4, 8, 16, 24 and 32 MiB 1.14, 1.12, 1.11, 1.13 and 1.55x (float32) and
# 1.24, 1.18, 1.20, 1.35 and 1.45x (float64), at 100-120% of a 2-thread copy's pace against
# 72-96% plain; k = 16 0.96-1.29x (float32) and 1.08-1.40x (float64); 2 MiB 0.89-1.10x.  On
# AMD Zen 1 the same held from 4 MiB (see FC_STREAM_MIN_BYTES).
cdef enum:
    STREAM_1D_MIN_BYTES = 4 * 1024 * 1024


cdef inline Py_ssize_t _stream_aliased_min() noexcept nogil:
    """The output size from which such tiles stream (never above the general threshold)."""
    return min(_stream_min, _stream_aliased_floor)


cdef inline Py_ssize_t _stream_1d_min() noexcept nogil:
    """The output size from which 1-D correlations stream (never above the general one)."""
    return min(_stream_min, <Py_ssize_t>STREAM_1D_MIN_BYTES)


def stream_min_bytes():
    """The output size from which passes store non-temporally, and what it came from: a dict
    with `min_bytes`, `llc_bytes` (the last-level cache read at import, 0 if unknown),
    `cap_bytes` (FC_STREAM_MIN_BYTES), and `aliased_min_bytes` with `aliased_max_taps`: the
    size from which tiles of kernels of at most that many taps stream where their input and
    output rows are both a multiple of 4 KiB apart, and `one_d_min_bytes`: the size from which
    1-D correlations stream."""
    return {"min_bytes": _stream_min, "llc_bytes": _llc_bytes,
            "cap_bytes": <Py_ssize_t>FC_STREAM_MIN_BYTES,
            "aliased_min_bytes": _stream_aliased_min(),
            "one_d_min_bytes": _stream_1d_min(),
            "aliased_max_taps": <Py_ssize_t>STREAM_ALIASED_MAX_TAPS}


def _set_stream_aliased_min_bytes(Py_ssize_t n):
    """For tests only: stream tiles on rows a multiple of 4 KiB apart (see
    STREAM_ALIASED_MIN_BYTES) from outputs of n bytes, or from the general threshold where that
    is lower, and return the previous size.  Not thread-safe: no call may be running."""
    global _stream_aliased_floor
    if n < 0:
        raise ValueError("n must be >= 0")
    previous = _stream_aliased_floor
    _stream_aliased_floor = n
    return previous


def _set_stream_min_bytes(Py_ssize_t n):
    """For tests only: stream outputs of at least n bytes (0: every output, so small arrays
    run the streamed stores) and return the previous threshold.  Not thread-safe: no call may
    be running."""
    global _stream_min
    if n < 0:
        raise ValueError("n must be >= 0")
    previous = _stream_min
    _stream_min = n
    return previous


# ----------------------------------------------------------------------------- OpenMP
def openmp_info():
    """(vendor, _OPENMP version date, omp_get_max_threads(), omp_get_num_procs())."""
    return (fc_openmp_vendor.decode(), fc_openmp_version, openmp.omp_get_max_threads(),
            openmp.omp_get_num_procs())


def omp_max_threads():
    """OpenMP's current default thread count (honours OMP_NUM_THREADS and threadpoolctl)."""
    return openmp.omp_get_max_threads()


# ----------------------------------------------------------------------------- fork
# GNU libgomp's thread pool does not survive fork(): a child that enters a parallel region after
# the parent used one can hang forever.  So a child forked after fastcorr ran threads computes
# on one thread (without entering OpenMP at all).  Other runtimes are treated the same way: a
# correct single-threaded child beats a hang.
cdef bint _threads_used = False
cdef bint _single_threaded_after_fork = False


def _after_fork_in_child():
    global _single_threaded_after_fork
    if _threads_used:
        _single_threaded_after_fork = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def single_threaded_after_fork():
    """True in a process forked after fastcorr used OpenMP threads: calls run on one thread."""
    return _single_threaded_after_fork


cdef inline int _worth_threads(double fmas, int n_threads) noexcept:
    """n_threads, or fewer for a call too small to keep them all busy (MIN_FMAS_PER_THREAD)."""
    cdef double useful = fmas / MIN_FMAS_PER_THREAD
    return n_threads if n_threads <= useful else max(<int>useful, 1)


cdef inline int _usable_threads(int n_threads):
    global _threads_used
    if _single_threaded_after_fork:
        return 1
    if n_threads > 1:
        _threads_used = True
    return n_threads


# ----------------------------------------------------------------------------- the parallel loop
# Every entry point below cuts its work into units (tiles, runs, image bands) described by a job
# struct of raw pointers and byte strides, and hands them to _run_units with a unit function.
ctypedef void (*_unit_fn)(const void *job, Py_ssize_t unit, char *scratch) noexcept nogil


cdef int _run_units(_unit_fn unit_fn, const void *job, Py_ssize_t n_units,
                    Py_ssize_t units_per_chunk, int n_threads, char *scratch,
                    Py_ssize_t scratch_bytes) except -1:
    """unit_fn(job, u, this thread's scratch) for every u < n_units, on n_threads threads.

    The units run in chunks of units_per_chunk per thread, with the GIL taken back between
    chunks to look for Ctrl-C (see CHUNK_FMAS).  One thread runs without entering OpenMP at all,
    which is also what keeps forked children safe.  More share each chunk by a guided schedule:
    on a machine shared with other processes a static split waits for the slowest thread, while
    guided hands late units to whichever thread is free (on a quiet machine the two measured the
    same).  Thread t's scratch is scratch + t * scratch_bytes.

    Each thread fences its non-temporal stores once after its units (fc_stream_fence): the
    1-D kernels that stream rows (corr1d_nt, sum_nt) leave that to their caller, since an
    sfence per row of 256 float32 outputs cost 0.7 ns an output (Intel Xeon).
    """
    cdef Py_ssize_t chunk = max(units_per_chunk, 1) * n_threads
    cdef Py_ssize_t start = 0, stop, u
    while start < n_units:
        stop = min(start + chunk, n_units)
        if n_threads == 1:
            with nogil:
                for u in range(start, stop):
                    unit_fn(job, u, scratch)
                fc_stream_fence()
        else:
            with nogil, parallel(num_threads=n_threads):
                for u in prange(start, stop, schedule="guided"):
                    unit_fn(job, u, scratch + threadid() * scratch_bytes)
                fc_stream_fence()
        PyErr_CheckSignals()
        start = stop
    return 0


cdef int _check_strides(str who, const Py_ssize_t *xs, const Py_ssize_t *ys, int ndim,
                        Py_ssize_t item) except -1:
    """x and out (strides xs, ys) need unit-stride last axes, which the kernels' vector loads and
    stores assume, and strides in whole items elsewhere."""
    cdef int d
    if xs[ndim - 1] != item or ys[ndim - 1] != item:
        raise ValueError(f"{who}: x and out need unit-stride, aligned last axes")
    for d in range(ndim - 1):
        if xs[d] % item or ys[d] % item:
            raise ValueError(f"{who}: x and out need unit-stride, aligned last axes")
    return 0


# ----------------------------------------------------------------------------- correlation
def correlate_valid_batch(const floating[:, :, :] x, const floating[:, :, ::1] w,
                          floating[:, :, :] out, int n_threads, bint rotate=False):
    """out[i] = valid correlation of x[i] with w[i] (or with w[0] for every i if len(w) == 1),
    stored rotated by 180 degrees if `rotate` (scipy's result when in2 is the larger input): the
    kernel stores each tile's columns reversed and _tile_unit its rows upwards, so no second
    pass over the output is needed.

    x and out may have any row stride (a sub-array of a larger image, overlapping rows of a
    strided view of a 1-D signal) but their columns must be unit-stride, which is what the
    kernels' vector loads and stores assume; w is C-contiguous.  out must not overlap x or w
    (the caller computes into a temporary when it would).  Images may sit at any stride from
    each other.  One parallel loop covers (image, tile) pairs, so a stack of small images keeps every thread
    busy where one image alone would not.
    """
    cdef Py_ssize_t n_img = x.shape[0], kh = w.shape[1], kw = w.shape[2]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    if out.shape[0] != n_img or w.shape[0] not in (1, n_img):
        raise ValueError("correlate_valid_batch: batch sizes of x, w and out differ")
    if oh != x.shape[1] - kh + 1 or ow != x.shape[2] - kw + 1 or oh < 1 or ow < 1:
        raise ValueError("correlate_valid_batch: out shape does not match the valid shape")
    # Signed item size: strides may be negative, and a size_t operand would make the C
    # division and remainder unsigned.
    cdef Py_ssize_t item = sizeof(floating)
    _check_strides("correlate_valid_batch", x.strides, out.strides, 3, item)
    if n_img == 0:
        return
    n_threads = _worth_threads(<double>n_img * oh * ow * kh * kw, n_threads)
    cdef _TileJob job
    _stacks_job(&job, x, w, out, rotate)
    cdef Py_ssize_t n_tiles = _plan_tiles(&job, n_img, n_threads)
    if n_threads > n_tiles:
        n_threads = <int>n_tiles
    n_threads = _usable_threads(n_threads)
    cdef Py_ssize_t scratch_bytes = fc_scratch_elems(kw) * item
    cdef char *scratch = <char *>malloc(n_threads * scratch_bytes)
    if scratch == NULL:
        raise MemoryError()
    try:
        _run_units(_tile_unit, &job, n_tiles, <Py_ssize_t>(CHUNK_FMAS / _tile_fmas(&job)),
                   n_threads, scratch, scratch_bytes)
    finally:
        free(scratch)


cdef Py_ssize_t _plan_tiles(_TileJob *job, Py_ssize_t n_img, int n_threads) noexcept:
    """Cuts each image's output (job.oh x job.ow) into tiles for n_threads threads: sets the
    job's tiling fields and returns the number of tiles."""
    cdef Py_ssize_t oh = job.oh, ow = job.ow, kh = job.kh, kw = job.kw
    # Tile heights are whole bands of rows, as the kernel cuts them.
    cdef Py_ssize_t nr = _band_rows(job.table, kh, job.x_row)
    cdef Py_ssize_t bands = max(max(TILE_ROWS, 4 * kh) // nr, 1)
    cdef Py_ssize_t tile_cols = max(FC_L2_BUDGET_BYTES // ((nr + kh - 1) * job.item), 64)
    # Enough tiles to balance the threads: make tiles shorter (down to one band) before leaving
    # a thread idle.
    cdef Py_ssize_t n_tc = (ow + tile_cols - 1) // tile_cols
    while bands > 1 and n_img * n_tc * ((oh + bands * nr - 1) // (bands * nr)) < 4 * n_threads:
        bands //= 2
    # No tile is more work than one chunk, so Ctrl-C is looked for often even for huge kernels.
    while bands > 1 and <double>bands * nr * tile_cols * kh * kw > CHUNK_FMAS:
        bands //= 2
    while tile_cols > 64 and <double>bands * nr * tile_cols * kh * kw > CHUNK_FMAS:
        tile_cols //= 2
    n_tc = (ow + tile_cols - 1) // tile_cols
    cdef Py_ssize_t tile_rows = bands * nr
    # Equal widths rather than a narrow last column, in multiples of 64 so that only the last
    # tile of a row has a partial vector strip.
    tile_cols = ((ow + n_tc - 1) // n_tc + 63) // 64 * 64
    n_tc = (ow + tile_cols - 1) // tile_cols
    cdef Py_ssize_t n_tr = (oh + tile_rows - 1) // tile_rows
    job.tiles_per_img, job.n_tc, job.tile_rows, job.tile_cols = (
        n_tr * n_tc, n_tc, tile_rows, tile_cols)
    return n_img * n_tr * n_tc


cdef inline double _tile_fmas(const _TileJob *job) noexcept:
    return <double>job.tile_rows * job.tile_cols * job.kh * job.kw


cdef void _stacks_job(_TileJob *job, const floating[:, :, :] x, const floating[:, :, ::1] w,
                      floating[:, :, :] out, bint rotate) noexcept:
    """The fields of a tile job that describe the stacks (base pointers, byte strides, sizes)
    and the active kernel path; the tiling is _plan_tiles'."""
    job.x, job.x_img, job.x_row = <const char *>&x[0, 0, 0], x.strides[0], x.strides[1]
    job.w, job.w_img = <const char *>&w[0, 0, 0], 0 if w.shape[0] == 1 else w.strides[0]
    job.kh, job.kw = w.shape[1], w.shape[2]
    job.y, job.y_img, job.y_row = <char *>&out[0, 0, 0], out.strides[0], out.strides[1]
    job.oh, job.ow, job.item = out.shape[1], out.shape[2], sizeof(floating)
    job.rotate, job.table = rotate, fc_active()
    cdef Py_ssize_t out_bytes = (out.shape[0] * out.shape[1] * out.shape[2]
                                 * <Py_ssize_t>sizeof(floating))
    job.stream = out_bytes >= _stream_min or (
        out_bytes >= _stream_aliased_min()
        and job.kh * job.kw <= STREAM_ALIASED_MAX_TAPS
        and job.x_row % 4096 == 0 and job.y_row % 4096 == 0)
    job.src_dtype, job.src_item = -1, sizeof(floating)


cdef struct _TileJob:
    const char *x
    Py_ssize_t x_img, x_row  # byte strides, as every stride in the job structs
    const char *w
    Py_ssize_t w_img, kh, kw  # w_img 0: one kernel for every image
    char *y
    Py_ssize_t y_img, y_row, oh, ow, item
    Py_ssize_t tiles_per_img, n_tc, tile_rows, tile_cols
    bint rotate
    # Tiles store non-temporally (FC_CORR_STREAM): the whole output is at least _stream_min.
    # The input, as large, then comes from memory too, and the kernel prefetches its rows
    # (FC_CORR_PREFETCH).
    bint stream
    const fc_kernel_table *table
    # The image's own dtype (an FC_DT_* code) and item size when it is not the kernel's: its
    # rows are then converted as the extended rows are built (see _convert_run), never read
    # in place.  -1: the kernel's dtype.
    int src_dtype
    Py_ssize_t src_item


cdef void _tile_unit(const void *job_, Py_ssize_t t, char *scratch) noexcept nogil:
    cdef const _TileJob *job = <const _TileJob *>job_
    cdef Py_ssize_t i = t // job.tiles_per_img, tile = t % job.tiles_per_img
    cdef Py_ssize_t r0 = (tile // job.n_tc) * job.tile_rows, c0 = (tile % job.n_tc) * job.tile_cols
    # A rotated tile goes to the opposite corner of the output: y addresses where its row 0 and
    # column 0 land, the kernel reverses the columns (see fc_corr_f32_fn) and the negative ldy
    # the rows.
    cdef Py_ssize_t yr = job.oh - 1 - r0 if job.rotate else r0
    cdef Py_ssize_t yc = job.ow - 1 - c0 if job.rotate else c0
    cdef const char *x = job.x + i * job.x_img + r0 * job.x_row + c0 * job.item
    cdef const char *w = job.w + i * job.w_img
    cdef char *y = job.y + i * job.y_img + yr * job.y_row + yc * job.item
    cdef Py_ssize_t ldx = job.x_row // job.item
    cdef Py_ssize_t ldy = (-1 if job.rotate else 1) * (job.y_row // job.item)
    cdef Py_ssize_t rows = min(job.tile_rows, job.oh - r0), cols = min(job.tile_cols, job.ow - c0)
    cdef int flags = ((FC_CORR_ROTATE if job.rotate else 0)
                      | (FC_CORR_STREAM | FC_CORR_PREFETCH if job.stream else 0))
    if job.item == sizeof(float):
        job.table.corr_f32(<const float *>x, ldx, <const float *>w, job.kh, job.kw,
                           <float *>y, ldy, rows, cols, <float *>scratch, flags)
    else:
        job.table.corr_f64(<const double *>x, ldx, <const double *>w, job.kh, job.kw,
                           <double *>y, ldy, rows, cols, <double *>scratch, flags)


def correlate_valid_1d_batch(const floating[:, :] x, const floating[:, ::1] w,
                             floating[:, :] out, int n_threads):
    """out[i] = 1-D valid correlation of x[i] with w[i] (or w[0] for every i if len(w) == 1).

    x and out need unit-stride rows (any stride between rows); w is C-contiguous.  out must not
    overlap x or w.  One parallel loop covers (signal, run) pairs, runs being RUN_OUTPUTS-long
    pieces of a signal's outputs (the last one of a signal takes the remainder, so it is never
    shorter than a block and needs no scalar tail).
    """
    cdef Py_ssize_t n_sig = x.shape[0], k = w.shape[1], n = out.shape[1]
    if out.shape[0] != n_sig or w.shape[0] not in (1, n_sig):
        raise ValueError("correlate_valid_1d_batch: batch sizes of x, w and out differ")
    if k < 1 or n != x.shape[1] - k + 1 or n < 1:
        raise ValueError("correlate_valid_1d_batch: out length does not match the valid length")
    cdef Py_ssize_t item = sizeof(floating)  # signed, see correlate_valid_batch
    _check_strides("correlate_valid_1d_batch", x.strides, out.strides, 2, item)
    if n_sig == 0:
        return
    cdef const fc_kernel_table *table = fc_active()
    cdef Py_ssize_t w_step = 0 if w.shape[0] == 1 else 1
    n_threads = _worth_threads(<double>n_sig * n * k, n_threads)
    # Runs: RUN_OUTPUTS long, shorter when a few signals would leave a thread idle (four runs
    # per thread, for the guided schedule to balance), and never more than a chunk of work.
    cdef Py_ssize_t wanted = (4 * n_threads + n_sig - 1) // n_sig
    cdef Py_ssize_t run = min(<Py_ssize_t>RUN_OUTPUTS, (n + wanted - 1) // wanted)
    run = min(run, max(<Py_ssize_t>(CHUNK_FMAS / k), 1))
    run = max((run + 63) // 64 * 64, 64)
    cdef Py_ssize_t runs_per_sig = max(n // run, 1)
    cdef Py_ssize_t n_tasks = n_sig * runs_per_sig
    if n_threads > n_tasks:
        n_threads = <int>n_tasks
    n_threads = _usable_threads(n_threads)
    cdef _RunJob job
    job.x, job.x_sig = <const char *>&x[0, 0], x.strides[0]
    job.w, job.w_sig, job.k = <const char *>&w[0, 0], w_step * w.strides[0], k
    job.y, job.y_sig, job.n = <char *>&out[0, 0], out.strides[0], n
    job.runs_per_sig, job.run, job.item, job.table = runs_per_sig, run, item, table
    # As the tiles (see _stacks_job): an output past the threshold is stored non-temporally,
    # which saves the read of every line the ordinary stores would first fetch; a 1-D pass
    # from a smaller size (STREAM_1D_MIN_BYTES).
    job.stream = n_sig * n * item >= _stream_1d_min()
    cdef Py_ssize_t scratch_bytes = fc_scratch_elems(k) * item
    cdef char *scratch = <char *>malloc(n_threads * scratch_bytes)
    if scratch == NULL:
        raise MemoryError()
    try:
        _run_units(_run_unit, &job, n_tasks, <Py_ssize_t>(CHUNK_FMAS / (<double>run * k)),
                   n_threads, scratch, scratch_bytes)
    finally:
        free(scratch)


cdef struct _RunJob:
    const char *x
    Py_ssize_t x_sig
    const char *w
    Py_ssize_t w_sig, k  # w_sig 0: one kernel for every signal
    char *y
    Py_ssize_t y_sig, n, runs_per_sig, run, item
    const fc_kernel_table *table
    bint stream


cdef void _run_unit(const void *job_, Py_ssize_t t, char *scratch) noexcept nogil:
    cdef const _RunJob *job = <const _RunJob *>job_
    cdef Py_ssize_t i = t // job.runs_per_sig, j = t % job.runs_per_sig
    cdef Py_ssize_t start = j * job.run
    cdef Py_ssize_t length = job.run if j < job.runs_per_sig - 1 else job.n - start
    cdef const char *x = job.x + i * job.x_sig + start * job.item
    cdef const char *w = job.w + i * job.w_sig
    cdef char *y = job.y + i * job.y_sig + start * job.item
    if job.item == sizeof(float):
        _run_1d(job, <const float *>x, <const float *>w, <float *>y, length, <float *>scratch)
    else:
        _run_1d(job, <const double *>x, <const double *>w, <double *>y, length,
                <double *>scratch)


cdef inline void _run_1d(const _RunJob *job, const floating *x, const floating *w, floating *y,
                         Py_ssize_t n, floating *scratch) noexcept nogil:
    if job.stream:
        _corr_row_nt(job.table, x, w, job.k, y, n, scratch)
    else:
        _corr_row(job.table, x, w, job.k, y, n, scratch)


# ----------------------------------------------------------------------------- FMA peak
def fma_peak(str dtype, int n_threads, long iters=20000000, int repeats=3):
    """Measured FMA throughput in GFLOP/s of the active path (the one fastcorr's calls run:
    the best this CPU supports, or the one FASTCORR_SIMD or `_dispatch.select` chose), and
    that path's name.

    Each thread runs independent FMA chains in registers (no memory traffic), so this is the
    port limit that "% of peak" in the benchmark refers to: with a path forced, its own (on a
    CPU with two 512-bit FMA units the AVX2 path's peak is half the AVX-512 one's, and its
    calls were reported against the wider peak).  Best of `repeats` runs.
    """
    cdef const fc_kernel_table *best = fc_active()
    cdef fc_probe_fn probe = best.fma_probe_f32 if dtype == "float32" else best.fma_probe_f64
    n_threads = _usable_threads(n_threads)
    cdef double flops, t0, elapsed, gflops = 0.0
    cdef int k
    for _ in range(repeats):
        flops = 0.0
        t0 = openmp.omp_get_wtime()
        with nogil:
            for k in prange(n_threads, schedule="static", chunksize=1, num_threads=n_threads):
                flops += probe(iters)
        elapsed = openmp.omp_get_wtime() - t0
        gflops = max(gflops, flops / elapsed / 1e9)
    return gflops, best.name.decode()


# ----------------------------------------------------------------------------- memory pace
def copy_parallel(const unsigned char[::1] src, unsigned char[::1] dst, int n_threads):
    """Copy `src` into `dst` with memcpy on `n_threads` threads.

    This exists as the benchmark's memory-pace reference: the GB/s a parallel copy of the same
    bytes reaches, on as many threads as fastcorr used, against which a bandwidth-bound call
    (a 3x3 kernel, a short 1-D kernel) is measured.  np.copyto would be that reference on one
    thread only.

    Parameters
    ----------
    src : contiguous uint8 buffer
        The bytes to copy, e.g. ``arr.reshape(-1).view(np.uint8)`` of a C-contiguous array.
    dst : writable contiguous uint8 buffer
        As many bytes as `src`, not overlapping it.
    n_threads : int
        Threads to copy on, each one contiguous chunk; one thread (and a process forked after
        fastcorr used threads) copies without entering OpenMP.

    Raises
    ------
    ValueError
        If the sizes differ, the buffers overlap, or `n_threads` < 1.
    """
    cdef Py_ssize_t n = src.shape[0]
    if dst.shape[0] != n:
        raise ValueError(f"copy_parallel: src has {n} bytes, dst {dst.shape[0]}")
    if n_threads < 1:
        raise ValueError("copy_parallel: n_threads must be at least 1")
    if n == 0:
        return
    cdef const unsigned char *s = &src[0]
    cdef unsigned char *d = &dst[0]
    if s < d + n and d < s + n:
        raise ValueError("copy_parallel: src and dst overlap")
    n_threads = _usable_threads(n_threads)
    cdef int t
    # Chunks are whole cache lines of dst, counted from dst's first aligned line, so no two
    # threads write the same line; src may sit at another offset within its lines, and only
    # one of the two can be aligned.
    cdef Py_ssize_t line = 64
    cdef Py_ssize_t chunk = ((n + n_threads - 1) // n_threads + line - 1) // line * line
    cdef Py_ssize_t misalign = <Py_ssize_t>(<size_t>d % line)
    with nogil:
        if n_threads == 1:
            memcpy(d, s, n)
        else:
            for t in prange(n_threads, schedule="static", num_threads=n_threads):
                _copy_chunk(s, d, _chunk_start(t, n_threads, chunk, misalign, n),
                            _chunk_start(t + 1, n_threads, chunk, misalign, n))


cdef inline Py_ssize_t _chunk_start(int t, int n_chunks, Py_ssize_t chunk, Py_ssize_t misalign,
                                    Py_ssize_t n) noexcept nogil:
    """Where copy_parallel's chunk t of n_chunks starts (t == n_chunks: where the last ends)."""
    if t == 0:
        return 0
    if t >= n_chunks:
        return n
    return min(max(t * chunk - misalign, 0), n)


cdef inline void _copy_chunk(const unsigned char *s, unsigned char *d, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil:
    if stop > start:
        memcpy(d + start, s + start, stop - start)


# A frame's extended pieces have rows of a few hundred bytes, and their runs are often a few
# elements: a libc call per run cost as much as the copy (memmove took 6% of the samples of a
# 160^3 5x5x5 correlation, which ran about 1.5% faster with the runs inline).  Runs up to 256
# bytes are copied inline, 16 bytes at a time (the runs start at element boundaries; memcpy of
# 16 bytes compiles to one unaligned load and store).  fastcorr.nn's planes (_conv_planes) call
# memcpy instead, one call per row of 96 to 192 bytes (a 28x28 input gradient, Intel Xeon,
# avx512: float64 251 against 264 us, float32 159 against 165), and once their padding is in
# place the kernel table's copy_rows, one call per run of rows (231 against 247 us, 123 against
# 149).
cdef inline void _copy(char *d, const char *s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n > 256:
        memcpy(d, s, n)
        return
    i = 0
    while i + 16 <= n:
        memcpy(d + i, s + i, 16)
        i += 16
    if i + 8 <= n:
        memcpy(d + i, s + i, 8)
        i += 8
    if i < n:
        memcpy(d + i, s + i, 4)


# ----------------------------------------------------------------------------- boundary modes
# A run of consecutive extended-image columns taken from one source: `step` 1 (a run of the
# image's columns, copied by _copy), -1 (a mirrored run, 'symm'), or 0 (the fill value).
cdef struct _ColumnRun:
    Py_ssize_t dst, length, src, step


# A rectangle of every image's output computed from extended rows: output rows [0, oh) and
# columns [0, ow), counted from byte offset y_off in each image's output, read extended rows
# rowmap[0 .. oh + kh - 2] and columns colmap[0 .. ow + kw - 2].  Its work units are blocks of
# band_rows x chunk_cols outputs of one image, n_cc blocks across.
cdef struct _Piece:
    Py_ssize_t y_off, oh, ow
    const Py_ssize_t *rowmap
    const Py_ssize_t *colmap
    Py_ssize_t band_rows, chunk_cols, n_cc, units_per_img

# A frame has at most four pieces (top, bottom, left, right), or one when the whole image is
# extended.
cdef enum:
    MAX_PIECES = 4


cdef struct _BoundaryJob:
    _TileJob stacks  # the whole stacks (no tiling): what the pieces read and write
    _TileJob tiles  # the interior, read straight from the images: units [0, n_tiles)
    Py_ssize_t n_tiles, n_pieces
    # With tiles, the left and right bands are computed by the tiles at the row's ends, for
    # the tile's rows (ow 0: no such band): the thread that writes a row's interior also
    # writes its frame, so no two threads write the cache lines where they meet.
    _Piece left, right
    _Piece pieces[MAX_PIECES]
    Py_ssize_t piece_end[MAX_PIECES]  # units [piece_end[k-1], piece_end[k]) are piece k's
    Py_ssize_t n_img
    # Per-thread scratch: the extension buffer, then the kernel's scratch, then column runs.
    Py_ssize_t buffer_elems, kernel_scratch_off, runs_off
    double fill


cdef int _check_map(str who, str name, const Py_ssize_t[::1] index_map, Py_ssize_t length,
                    Py_ssize_t n) except -1:
    """An index map has `length` entries, each in [-1, n): the core indexes images with them
    without bounds checks, so a bad entry would read outside."""
    cdef Py_ssize_t e
    if index_map.shape[0] != length:
        raise ValueError(f"{who}: {name} needs {length} entries (output + kernel - 1 along "
                         f"its axis), got {index_map.shape[0]}")
    for e in range(length):
        if index_map[e] < -1 or index_map[e] >= n:
            raise ValueError(f"{who}: {name} entry {index_map[e]} outside [-1, {n})")
    return 0


def correlate_extended_batch(const floating[:, :, :] x, const floating[:, :, ::1] w,
                             floating[:, :, :] out, const Py_ssize_t[::1] rowmap,
                             const Py_ssize_t[::1] colmap, double fill, int n_threads,
                             Py_ssize_t buffer_bytes=FC_L2_BUDGET_BYTES, Py_ssize_t top=-1,
                             Py_ssize_t left=-1):
    """out[i] = valid correlation of image i extended by a boundary rule with w[i] (or w[0]):
    the 'full' and 'same' modes.

    Extended-image row r is image row rowmap[r] and column c image column colmap[c], or `fill`
    where either is -1; rowmap has OH + P - 1 entries and colmap OW + Q - 1.  x, w and out
    follow correlate_valid_batch's layout rules (and out must overlap neither).

    Nothing the size of an image is allocated.  With top >= 0 the windows of output rows
    top .. top + M - P and columns left .. left + N - Q (the interior) lie inside the image,
    and are computed straight from x in tiles, as correlate_valid_batch does; only the frame
    around them (top and bottom bands of full width, left and right bands at least two vectors
    wide, so that no row of theirs runs through the kernel's sub-vector path) is computed from
    extended rows.  With top < 0 (small images, where a frame's pieces cost more than the
    interior, and kernels larger than the image) every output is.

    Extended rows are built per work unit: a block of output rows and columns of one image,
    whose rows each thread writes into its own buffer right before correlating them, so they
    are still in cache when the kernel reads them.  Blocks are cut to keep the buffer within
    buffer_bytes (down to about one kernel's size: a kernel larger than that needs it), and
    into bands of rows when there are too few images to keep the threads busy.  Tiles and frame
    blocks share one parallel loop, so the frame costs no call, thread wake-up or idle thread
    of its own.
    """
    cdef Py_ssize_t n_img = x.shape[0], m = x.shape[1], n = x.shape[2]
    cdef Py_ssize_t kh = w.shape[1], kw = w.shape[2], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t ext_h = oh + kh - 1, ext_w = ow + kw - 1
    if out.shape[0] != n_img or w.shape[0] not in (1, n_img):
        raise ValueError("correlate_extended_batch: batch sizes of x, w and out differ")
    if oh < 1 or ow < 1:
        raise ValueError("correlate_extended_batch: out is empty")
    _check_map("correlate_extended_batch", "rowmap", rowmap, ext_h, m)
    _check_map("correlate_extended_batch", "colmap", colmap, ext_w, n)
    cdef Py_ssize_t r, c
    cdef Py_ssize_t inner_h = m - kh + 1, inner_w = n - kw + 1
    if top >= 0:
        # The interior is read from x directly, so it must be what the maps say it is.
        if (inner_h < 1 or inner_w < 1 or left < 0 or top + inner_h > oh
                or left + inner_w > ow):
            raise ValueError("correlate_extended_batch: no interior at (top, left)")
        for r in range(m):
            if rowmap[top + r] != r:
                raise ValueError("correlate_extended_batch: rowmap is not the image's rows "
                                 "at the interior")
        for c in range(n):
            if colmap[left + c] != c:
                raise ValueError("correlate_extended_batch: colmap is not the image's "
                                 "columns at the interior")
    cdef Py_ssize_t item = sizeof(floating)  # signed, see correlate_valid_batch
    _check_strides("correlate_extended_batch", x.strides, out.strides, 3, item)
    if n_img == 0:
        return
    n_threads = _worth_threads(<double>n_img * oh * ow * kh * kw, n_threads)

    cdef _BoundaryJob job
    _stacks_job(&job.stacks, x, w, out, False)
    job.n_img, job.fill = n_img, fill
    job.n_tiles = job.n_pieces = 0
    job.left.ow = job.right.ow = 0
    job.buffer_elems = 0
    cdef Py_ssize_t bottom, side, cl, cr
    cdef Py_ssize_t budget = max(buffer_bytes // item, 1)
    cdef _Piece *piece
    if top < 0:
        _add_piece(&job, 0, 0, oh, ow, &rowmap[0], &colmap[0], budget, n_threads)
    else:
        bottom = top + inner_h
        # Side bands at least a vector wide: a band as narrow as the frame (K/2 columns) would
        # run the general block's sub-vector path, several times slower, and whose sums run
        # in another order than the small-kernel block's.  The columns where the bands end
        # depend on the shapes only, never on where the output lies in memory, so an output
        # has the same bits wherever it is stored (the kernel aligns its stores itself).
        # With that and bands of one vector instead of two, Intel Xeon (AVX-512), 2 threads,
        # scipy.ndimage's 'reflect' into a reused output, alternating runs: 2048x2048 float32
        # 3x3 / 5x5 / 9x9 1.07 / 1.14 / 1.0x faster, float64 1.09 / 1.11 / 1.03x, 1000x1000
        # and 512x512 1.0-1.08x.
        side = (job.stacks.table.lanes_f32 if floating is float
                else job.stacks.table.lanes_f64)
        cl = 0 if left == 0 else min(max(left, side), ow)
        cr = ow if left + inner_w == ow else max(min(left + inner_w, ow - side), cl)
        if cr > cl:
            job.tiles = job.stacks
            job.tiles.x += (cl - left) * item
            job.tiles.y += top * out.strides[1] + cl * item
            job.tiles.oh, job.tiles.ow = inner_h, cr - cl
            job.n_tiles = _plan_tiles(&job.tiles, n_img, n_threads)
        _add_piece(&job, 0, 0, top, ow, &rowmap[0], &colmap[0], budget, n_threads)
        _add_piece(&job, bottom, 0, oh - bottom, ow, &rowmap[bottom], &colmap[0], budget,
                   n_threads)
        if job.n_tiles:
            _side_piece(&job, &job.left, top, 0, inner_h, cl, &rowmap[top], &colmap[0])
            _side_piece(&job, &job.right, top, cr, inner_h, ow - cr, &rowmap[top],
                        &colmap[cr])
        else:
            _add_piece(&job, top, 0, inner_h, cl, &rowmap[top], &colmap[0], budget,
                       n_threads)
            _add_piece(&job, top, cr, inner_h, ow - cr, &rowmap[top], &colmap[cr], budget,
                       n_threads)
    _run_boundary_job(&job, n_threads, item)


cdef int _run_boundary_job(_BoundaryJob *job, int n_threads, Py_ssize_t item) except -1:
    """Runs a boundary job whose interior tiles and pieces are set: sizes each thread's scratch
    and hands every unit to _run_units."""
    cdef Py_ssize_t kh = job.stacks.kh, kw = job.stacks.kw, n_img = job.n_img
    cdef Py_ssize_t max_ext_w = 0
    cdef double unit_fmas = _tile_fmas(&job.tiles) if job.n_tiles else 0.0
    cdef _Piece *piece
    cdef Py_ssize_t k, n_units = job.n_tiles
    for k in range(2):
        piece = &job.left if k == 0 else &job.right
        if piece.ow:
            max_ext_w = max(max_ext_w, piece.ow + kw - 1)
    for k in range(job.n_pieces):
        max_ext_w = max(max_ext_w, job.pieces[k].chunk_cols + kw - 1)
        unit_fmas = max(unit_fmas, <double>job.pieces[k].band_rows * job.pieces[k].chunk_cols
                        * kh * kw)
        n_units += n_img * job.pieces[k].units_per_img
        job.piece_end[k] = n_units - job.n_tiles
    if n_threads > n_units:
        n_threads = <int>n_units
    n_threads = _usable_threads(n_threads)

    # Each part of a thread's scratch is rounded up to whole cache lines, so no two threads
    # share one.
    cdef Py_ssize_t line = 64
    job.kernel_scratch_off = (job.buffer_elems * item + line - 1) // line * line
    job.runs_off = job.kernel_scratch_off + (
        (<Py_ssize_t>fc_scratch_elems(kw) * item + line - 1) // line * line)
    cdef Py_ssize_t per_thread = job.runs_off + (
        (max_ext_w * <Py_ssize_t>sizeof(_ColumnRun) + line - 1) // line * line)
    cdef char *scratch = <char *>malloc(n_threads * per_thread)
    if scratch == NULL:
        raise MemoryError()
    try:
        _run_units(_boundary_unit, job, n_units, <Py_ssize_t>(CHUNK_FMAS / unit_fmas),
                   n_threads, scratch, per_thread)
    finally:
        free(scratch)
    return 0


cdef void _add_piece(_BoundaryJob *job, Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t ph,
                     Py_ssize_t pw, const Py_ssize_t *rowmap, const Py_ssize_t *colmap,
                     Py_ssize_t budget, int n_threads) noexcept:
    """Adds the piece of output rows r0 .. r0 + ph - 1 and columns c0 .. c0 + pw - 1 (if not
    empty) to the job, cut into work units."""
    if ph < 1 or pw < 1:
        return
    cdef Py_ssize_t kh = job.stacks.kh, kw = job.stacks.kw, n_img = job.n_img
    cdef _Piece *piece = &job.pieces[job.n_pieces]
    job.n_pieces += 1
    piece.y_off = r0 * job.stacks.y_row + c0 * job.stacks.item
    piece.oh, piece.ow, piece.rowmap, piece.colmap = ph, pw, rowmap, colmap
    cdef Py_ssize_t band_rows = ph, chunk_cols = pw, bands
    # With fewer images than threads, bands of rows (each extends its own rows and the P - 1 it
    # shares with the next, so at least 8 rows): one 128x128 image with a 33x33 kernel ran at
    # half speed on one thread of two.
    if n_threads > 1 and n_img < 4 * n_threads:
        bands = min((4 * n_threads + n_img - 1) // n_img, max(ph // 8, 1))
        band_rows = (ph + bands - 1) // bands
    # Within the buffer budget: shorter bands, then narrower blocks, but not below a kernel's
    # size (each block re-extends the P - 1 rows and Q - 1 columns it shares with its
    # neighbours, which would then cost more than the block's own outputs).
    cdef Py_ssize_t min_rows = min(ph, max(8, kh)), min_cols = min(pw, max(8, kw))
    while band_rows > min_rows and (band_rows + kh - 1) * (chunk_cols + kw - 1) > budget:
        band_rows = max((band_rows + 1) // 2, min_rows)
    while chunk_cols > min_cols and (band_rows + kh - 1) * (chunk_cols + kw - 1) > budget:
        chunk_cols = max((chunk_cols + 1) // 2, min_cols)
    # No unit is more work than one chunk (see CHUNK_FMAS).
    while band_rows > 1 and <double>band_rows * chunk_cols * kh * kw > CHUNK_FMAS:
        band_rows = (band_rows + 1) // 2
    piece.band_rows, piece.chunk_cols = band_rows, chunk_cols
    piece.n_cc = (pw + chunk_cols - 1) // chunk_cols
    piece.units_per_img = ((ph + band_rows - 1) // band_rows) * piece.n_cc
    job.buffer_elems = max(job.buffer_elems, (band_rows + kh - 1) * (chunk_cols + kw - 1))


cdef void _side_piece(_BoundaryJob *job, _Piece *piece, Py_ssize_t r0, Py_ssize_t c0,
                      Py_ssize_t ph, Py_ssize_t pw, const Py_ssize_t *rowmap,
                      const Py_ssize_t *colmap) noexcept:
    """A left or right band (if not empty) computed by the tiles at the ends of the rows:
    blocks of the tiles' rows, the band's whole width."""
    if ph < 1 or pw < 1:
        return
    piece.y_off = r0 * job.stacks.y_row + c0 * job.stacks.item
    piece.oh, piece.ow, piece.rowmap, piece.colmap = ph, pw, rowmap, colmap
    piece.band_rows, piece.chunk_cols, piece.n_cc = job.tiles.tile_rows, pw, 1
    piece.units_per_img = 0
    job.buffer_elems = max(job.buffer_elems,
                           (piece.band_rows + job.stacks.kh - 1) * (pw + job.stacks.kw - 1))


cdef Py_ssize_t _column_runs(const Py_ssize_t *colmap, Py_ssize_t ext_w,
                             _ColumnRun *runs) noexcept nogil:
    """colmap[0 .. ext_w - 1] as runs (see _ColumnRun); returns their number."""
    cdef Py_ssize_t n_runs = 0, c = 0, r, src, step
    while c < ext_w:
        src = colmap[c]
        r = c + 1
        if src < 0:
            step = 0
            while r < ext_w and colmap[r] < 0:
                r += 1
        elif r < ext_w and src > 0 and colmap[r] == src - 1:
            step = -1
            while r < ext_w and colmap[r] >= 0 and colmap[r] == colmap[r - 1] - 1:
                r += 1
        else:
            step = 1
            while r < ext_w and colmap[r] >= 0 and colmap[r] == colmap[r - 1] + 1:
                r += 1
        runs[n_runs].dst = c
        runs[n_runs].length = r - c
        runs[n_runs].src = src
        runs[n_runs].step = step
        n_runs += 1
        c = r
    return n_runs


cdef void _boundary_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    cdef const _BoundaryJob *job = <const _BoundaryJob *>job_
    cdef Py_ssize_t i, tile, k
    if u < job.n_tiles:
        _tile_unit(&job.tiles, u, scratch)
        i, tile = u // job.tiles.tiles_per_img, u % job.tiles.tiles_per_img
        # The tiles at the ends of a row of tiles also compute the frame beside their rows.
        if job.left.ow and tile % job.tiles.n_tc == 0:
            _piece_block(job, &job.left, i, (tile // job.tiles.n_tc) * job.tiles.tile_rows, 0,
                         scratch)
        if job.right.ow and tile % job.tiles.n_tc == job.tiles.n_tc - 1:
            _piece_block(job, &job.right, i, (tile // job.tiles.n_tc) * job.tiles.tile_rows, 0,
                         scratch)
        return
    u -= job.n_tiles
    k = 0
    while u >= job.piece_end[k]:
        k += 1
    if k:
        u -= job.piece_end[k - 1]
    cdef const _Piece *piece = &job.pieces[k]
    i = u // piece.units_per_img
    u = u % piece.units_per_img
    _piece_block(job, piece, i, (u // piece.n_cc) * piece.band_rows,
                 (u % piece.n_cc) * piece.chunk_cols, scratch)


cdef void _piece_block(const _BoundaryJob *job, const _Piece *piece, Py_ssize_t i,
                       Py_ssize_t r0, Py_ssize_t c0, char *scratch) noexcept nogil:
    """The block of a piece at output row r0 and column c0 (in the piece) of image i."""
    cdef Py_ssize_t rows = min(piece.band_rows, piece.oh - r0)
    cdef Py_ssize_t cols = min(piece.chunk_cols, piece.ow - c0)
    cdef _ColumnRun *runs = <_ColumnRun *>(scratch + job.runs_off)
    cdef const _TileJob *st = &job.stacks
    cdef Py_ssize_t n_runs = _column_runs(piece.colmap + c0, cols + st.kw - 1, runs)
    cdef const char *image = st.x + i * st.x_img
    cdef const char *w = st.w + i * st.w_img
    cdef char *y = st.y + i * st.y_img + piece.y_off + r0 * st.y_row + c0 * st.item
    cdef Py_ssize_t ldy = st.y_row // st.item
    if st.item == sizeof(float):
        _extend_and_correlate(image, st.x_row, <const float *>w, st.kh, st.kw, <float *>y,
                              ldy, rows, cols, piece.rowmap + r0, runs, n_runs,
                              <float>job.fill, st.table, <float *>scratch,
                              <float *>(scratch + job.kernel_scratch_off), st.src_dtype,
                              st.src_item)
    else:
        _extend_and_correlate(image, st.x_row, <const double *>w, st.kh, st.kw,
                              <double *>y, ldy, rows, cols, piece.rowmap + r0, runs,
                              n_runs, job.fill, st.table, <double *>scratch,
                              <double *>(scratch + job.kernel_scratch_off), st.src_dtype,
                              st.src_item)


cdef inline void _extend_and_correlate(const char *image, Py_ssize_t row_stride,
                                       const floating *w, Py_ssize_t kh, Py_ssize_t kw,
                                       floating *y, Py_ssize_t ldy, Py_ssize_t rows,
                                       Py_ssize_t cols, const Py_ssize_t *rowmap,
                                       const _ColumnRun *runs, Py_ssize_t n_runs,
                                       floating fill, const fc_kernel_table *table,
                                       floating *buffer, floating *kernel_scratch,
                                       int src_dtype, Py_ssize_t src_item) noexcept nogil:
    """rows x cols outputs at y: the rows + kh - 1 extended rows they read (image rows
    rowmap[r], columns as `runs` say) written into buffer, then correlated in one kernel
    call."""
    cdef Py_ssize_t ext_w = cols + kw - 1
    _extend_rows(image, row_stride, rowmap, rows + kh - 1, ext_w, runs, n_runs, fill, buffer,
                 src_dtype, src_item)
    if floating is float:
        table.corr_f32(buffer, ext_w, w, kh, kw, y, ldy, rows, cols, kernel_scratch, 0)
    else:
        table.corr_f64(buffer, ext_w, w, kh, kw, y, ldy, rows, cols, kernel_scratch, 0)


cdef inline void _extend_rows(const char *image, Py_ssize_t row_stride,
                              const Py_ssize_t *rowmap, Py_ssize_t n_rows, Py_ssize_t ext_w,
                              const _ColumnRun *runs, Py_ssize_t n_runs, floating fill,
                              floating *buffer, int src_dtype,
                              Py_ssize_t src_item, Py_ssize_t ld=0) noexcept nogil:
    """n_rows extended rows of ext_w elements into buffer: image rows rowmap[r] (a row of fill
    where -1), columns as `runs` say; with src_dtype >= 0 the image has that FC_DT_* dtype and
    its values are converted on the way."""
    cdef Py_ssize_t r, s, k, d, length
    cdef floating *row
    cdef const floating *source
    cdef const floating *run_src
    if ld < ext_w:
        ld = ext_w
    for r in range(n_rows):
        row = buffer + r * ld
        if rowmap[r] < 0:
            for k in range(ext_w):
                row[k] = fill
            continue
        if src_dtype >= 0:
            for s in range(n_runs):
                d, length = runs[s].dst, runs[s].length
                if runs[s].step == 0:
                    for k in range(length):
                        row[d + k] = fill
                else:
                    _convert_run(src_dtype, image + rowmap[r] * row_stride, src_item,
                                 runs[s].src, runs[s].step, length, row + d)
            continue
        source = <const floating *>(image + rowmap[r] * row_stride)
        for s in range(n_runs):
            d, length = runs[s].dst, runs[s].length
            if runs[s].step == 1:
                _copy(<char *>(row + d), <const char *>(source + runs[s].src),
                      length * sizeof(floating))
            elif runs[s].step == 0:
                for k in range(length):
                    row[d + k] = fill
            else:
                run_src = source + runs[s].src
                for k in range(length):
                    row[d + k] = run_src[-k]


# ----------------------------------------------------------------------------- volumes
cdef struct _VolumeJob:
    const char *x
    Py_ssize_t x_img, x_plane, x_row  # byte strides
    const char *w
    Py_ssize_t w_img, kd, kh, kw  # w_img 0: one kernel for every volume
    char *y
    Py_ssize_t y_img, y_plane, y_row, od, oh, ow, item
    const Py_ssize_t *planemap
    const Py_ssize_t *rowmap
    const Py_ssize_t *colmap
    # Output rows [top, bottom) and columns [left, right) have windows whose rows and columns
    # are consecutive rows and columns of the planes: they are read in place.
    Py_ssize_t top, bottom, left, right
    # Work units: blocks of block_rows x block_cols outputs of one output plane.
    Py_ssize_t block_rows, block_cols, n_rb, n_cb, units_per_img
    Py_ssize_t band_rows  # of the kernel's register block reading in place
    double fill
    # Per-thread scratch: the extension buffer (kd planes of buffer_plane elements), the
    # kernel's scratch, two arrays of kd plane pointers, the column runs, then the frame cache:
    # kd slots of slot_elems elements, each holding the extended rows of one input plane's
    # frame pieces of one block, their tags (volume, block, plane; -1: empty), and kd flags.
    Py_ssize_t buffer_plane, kernel_scratch_off, planes_off, tile_off, runs_off
    Py_ssize_t slots_off, slot_elems, tags_off
    const fc_kernel_table *table


cdef void _in_place_run(const Py_ssize_t *index_map, Py_ssize_t n_out, Py_ssize_t k,
                        Py_ssize_t *lo, Py_ssize_t *hi) noexcept:
    """The outputs [lo, hi) along an axis whose windows (k positions of the map each) are
    consecutive positions of the input, from the longest run of the map that counts up by one
    (empty: lo == hi == 0)."""
    cdef Py_ssize_t n_ext = n_out + k - 1, e = 0, start, best_start = 0, best_len = 0
    while e < n_ext:
        start = e
        e += 1
        if index_map[start] >= 0:
            while e < n_ext and index_map[e] == index_map[e - 1] + 1:
                e += 1
            if e - start > best_len:
                best_start, best_len = start, e - start
    if best_len >= k:
        lo[0], hi[0] = best_start, best_start + best_len - k + 1
    else:
        lo[0] = hi[0] = 0


def correlate_volume(const floating[:, :, :, :] x, const floating[:, :, :, ::1] w,
                     floating[:, :, :, :] out, const Py_ssize_t[::1] planemap,
                     const Py_ssize_t[::1] rowmap, const Py_ssize_t[::1] colmap, double fill,
                     int n_threads, Py_ssize_t block_bytes=FC_L2_BUDGET_BYTES):
    """3-D correlation of each volume, extended by index maps, with a 3-D kernel.

    ``out[b, z, i, j] = sum(w[b or 0, c, a, d] * X[b, planemap[z + c], rowmap[i + a],
    colmap[j + d]])`` over c < kd, a < kh, d < kw, where X is x with `fill` wherever a map
    entry is -1.

    Parameters
    ----------
    x : (B, D, H, W) float32 or float64 memoryview
        The volumes; rows (the last axis) unit-stride, any other strides.
    w : (1 or B, kd, kh, kw) memoryview of x's dtype, C-contiguous
        One kernel for every volume, or one per volume.
    out : (B, OD, OH, OW) memoryview of x's dtype
        Written, never read; rows unit-stride.  Must overlap neither x nor w (the caller
        computes into a temporary when it would).
    planemap, rowmap, colmap : intp memoryviews, C-contiguous
        OD + kd - 1, OH + kh - 1 and OW + kw - 1 entries: the input plane, row and column
        each extended position takes its value from, or -1 for `fill`
        (fastcorr._engine.boundary.index_map builds them).
    fill : float
        The value of positions mapped to -1.
    n_threads : int
        Threads to run on (fewer for a small call).
    block_bytes : int, optional
        The cache budget of one work unit; tests pass a small one to cut small volumes into
        many blocks.

    Raises
    ------
    ValueError
        If the shapes, maps or strides do not fit together.

    Notes
    -----
    Nothing the size of a volume or a plane is allocated.  The work units are blocks of rows
    and columns of one output plane of one volume, ordered so that a thread's consecutive
    units are consecutive planes of one block (the kd - 1 input planes they share are still in
    cache).  The kernel (fc_corr3_*) sums all kd planes of each output in registers and stores
    it once.  A block's outputs whose windows lie inside the planes read the kd planes in
    place, in whole bands of the kernel's register block; the rest (a frame: rows above and
    below, side bands at least two vectors wide) read extended rows that the thread keeps in
    a cache of kd slots, one input plane's frame pieces of one block each, so a unit builds
    the pieces of the one input plane its predecessor did not read.  A plane mapped to -1 is
    a buffer of `fill` (the kernel computes it like any other); units that read one (within
    kd / 2 planes of the ends) extend every plane in a buffer of their own, uncached.
    """
    cdef Py_ssize_t n_img = x.shape[0], d = x.shape[1], m = x.shape[2], n = x.shape[3]
    cdef Py_ssize_t kd = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef Py_ssize_t od = out.shape[1], oh = out.shape[2], ow = out.shape[3]
    if out.shape[0] != n_img or w.shape[0] not in (1, n_img):
        raise ValueError("correlate_volume: batch sizes of x, w and out differ")
    if kd < 1 or kh < 1 or kw < 1:
        raise ValueError("correlate_volume: w is empty")
    _check_map("correlate_volume", "planemap", planemap, od + kd - 1, d)
    _check_map("correlate_volume", "rowmap", rowmap, oh + kh - 1, m)
    _check_map("correlate_volume", "colmap", colmap, ow + kw - 1, n)
    cdef Py_ssize_t item = sizeof(floating)  # signed, see correlate_valid_batch
    _check_strides("correlate_volume", x.strides, out.strides, 4, item)
    if n_img == 0 or od == 0 or oh == 0 or ow == 0:
        return
    n_threads = _worth_threads(<double>n_img * od * oh * ow * kd * kh * kw, n_threads)

    cdef _VolumeJob job
    job.x = <const char *>&x[0, 0, 0, 0]
    job.x_img, job.x_plane, job.x_row = x.strides[0], x.strides[1], x.strides[2]
    job.w, job.w_img = <const char *>&w[0, 0, 0, 0], 0 if w.shape[0] == 1 else w.strides[0]
    job.kd, job.kh, job.kw = kd, kh, kw
    job.y = <char *>&out[0, 0, 0, 0]
    job.y_img, job.y_plane, job.y_row = out.strides[0], out.strides[1], out.strides[2]
    job.od, job.oh, job.ow, job.item = od, oh, ow, item
    job.planemap, job.rowmap, job.colmap = &planemap[0], &rowmap[0], &colmap[0]
    job.fill, job.table = fill, fc_active()
    _in_place_run(job.rowmap, oh, kh, &job.top, &job.bottom)
    _in_place_run(job.colmap, ow, kw, &job.left, &job.right)
    # Side bands at least two vectors wide (see correlate_extended_batch).
    cdef Py_ssize_t side = 2 * (job.table.lanes_f32 if floating is float
                                else job.table.lanes_f64)
    if job.left > 0:
        job.left = min(max(job.left, side), ow)
    if job.right < ow:
        job.right = max(min(job.right, ow - side), job.left)

    # Blocks: as many rows (whole bands of the kernel's register block) of the widest columns
    # as keep the kd planes' input rows a block reads and its outputs within block_bytes;
    # narrower blocks only down to four vectors (or a kernel's width), below which the
    # kernel's column strips run short.
    cdef Py_ssize_t nr = _band_rows(job.table, kh, job.x_row)
    cdef Py_ssize_t cols = ow, rows
    while True:
        rows = ((block_bytes // item - kd * (kh - 1) * (cols + kw - 1))
                // (kd * (cols + kw - 1) + cols))
        if rows >= 4 * nr or cols <= max(kw, 2 * side):
            break
        cols = (cols + 1) // 2
    rows = min(max(rows // nr * nr, nr), oh)
    cdef Py_ssize_t n_cb = (ow + cols - 1) // cols
    cols = (ow + n_cb - 1) // n_cb
    # Enough units for the threads (four each, for the guided schedule), and no unit more
    # than a chunk of work (see CHUNK_FMAS).
    while rows > nr and n_img * od * n_cb * ((oh + rows - 1) // rows) < 4 * n_threads:
        rows = max((rows // 2) // nr * nr, nr)
    while rows > 1 and <double>rows * cols * kd * kh * kw > CHUNK_FMAS:
        rows = (rows + 1) // 2
    cdef Py_ssize_t n_rb = (oh + rows - 1) // rows
    # Equal heights, in whole bands, rather than a short last block.
    rows = min(((oh + n_rb - 1) // n_rb + nr - 1) // nr * nr, oh)
    n_rb = (oh + rows - 1) // rows
    job.block_rows, job.block_cols, job.n_rb, job.n_cb = rows, cols, n_rb, n_cb
    job.band_rows = nr
    job.units_per_img = od * n_rb * n_cb
    cdef Py_ssize_t n_units = n_img * job.units_per_img
    if n_threads > n_units:
        n_threads = <int>n_units
    n_threads = _usable_threads(n_threads)

    # Each part of a thread's scratch is rounded up to whole cache lines, so no two threads
    # share one.
    cdef Py_ssize_t line = 64
    job.buffer_plane = (rows + kh - 1) * (cols + kw - 1)
    job.kernel_scratch_off = (kd * job.buffer_plane * item + line - 1) // line * line
    job.planes_off = job.kernel_scratch_off + (
        (<Py_ssize_t>fc_scratch3_elems(kd, kh, kw) * item + line - 1) // line * line)
    job.tile_off = job.planes_off + (kd * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
    job.runs_off = job.tile_off + (kd * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
    job.slots_off = job.runs_off + (
        ((cols + kw - 1) * <Py_ssize_t>sizeof(_ColumnRun) + line - 1) // line * line)
    cdef Py_ssize_t geometry[_FRAME_FIELDS]
    cdef Py_ssize_t rb, cb, k, n_pieces, elems
    job.slot_elems = 0
    for rb in range(n_rb):
        for cb in range(n_cb):
            n_pieces = _frame(&job, rb * rows, cb * cols, geometry)
            elems = 0
            for k in range(n_pieces):
                elems += ((geometry[4 * k + 1] - geometry[4 * k] + kh - 1)
                          * (geometry[4 * k + 3] - geometry[4 * k + 2] + kw - 1))
            job.slot_elems = max(job.slot_elems, elems)
    job.tags_off = job.slots_off + (kd * job.slot_elems * item + line - 1) // line * line
    cdef Py_ssize_t per_thread = job.tags_off + (
        (4 * kd * <Py_ssize_t>sizeof(Py_ssize_t) + line - 1) // line * line)
    cdef char *scratch = <char *>malloc(n_threads * per_thread)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t *tags
    for k in range(n_threads):
        tags = <Py_ssize_t *>(scratch + k * per_thread + job.tags_off)
        for e in range(3 * kd):
            tags[e] = -1
    try:
        _run_units(_volume_unit, &job, n_units,
                   <Py_ssize_t>(CHUNK_FMAS / (<double>rows * cols * kd * kh * kw)),
                   n_threads, scratch, per_thread)
    finally:
        free(scratch)


cdef enum:
    # _frame's output: four pieces of (row0, row1, col0, col1), then the centre's.
    _FRAME_FIELDS = 20


cdef Py_ssize_t _frame(const _VolumeJob *job, Py_ssize_t r0, Py_ssize_t c0,
                       Py_ssize_t *geometry) noexcept nogil:
    """The block at output row r0, column c0 as its frame, whose windows leave the planes (the
    rows above and below the in-place rows, across the block; the side bands beside them), and
    its centre, read in place: the non-empty frame pieces' output rows [row0, row1) and
    columns [col0, col1) in geometry[4 * k .. 4 * k + 3], the centre's in geometry[16 .. 19]
    (possibly empty); returns the number of frame pieces."""
    cdef Py_ssize_t end = r0 + min(job.block_rows, job.oh - r0)
    cdef Py_ssize_t cend = c0 + min(job.block_cols, job.ow - c0)
    # The centre in whole bands of the kernel's register block: rows left over (at the top,
    # or below the last whole band) join the frame, whose pieces are then whole bands too,
    # rather than running through the kernel's short bands.
    cdef Py_ssize_t nr = job.band_rows
    cdef Py_ssize_t mid0 = min(max(job.top, r0), end)
    mid0 = min(r0 + (mid0 - r0 + nr - 1) // nr * nr, end)
    cdef Py_ssize_t mid1 = min(max(job.bottom, mid0), end)
    mid1 = mid0 + (mid1 - mid0) // nr * nr
    cdef Py_ssize_t cl = min(max(job.left, c0), cend)
    cdef Py_ssize_t cr = min(max(job.right, cl), cend)
    if mid1 == mid0:
        cl = cr = cend
    cdef Py_ssize_t n = 0
    n += _frame_piece(geometry + 4 * n, r0, mid0, c0, cend)
    n += _frame_piece(geometry + 4 * n, mid1, end, c0, cend)
    n += _frame_piece(geometry + 4 * n, mid0, mid1, c0, cl)
    n += _frame_piece(geometry + 4 * n, mid0, mid1, cr, cend)
    geometry[16], geometry[17], geometry[18], geometry[19] = mid0, mid1, cl, cr
    return n


cdef inline Py_ssize_t _frame_piece(Py_ssize_t *piece, Py_ssize_t row0, Py_ssize_t row1,
                                    Py_ssize_t col0, Py_ssize_t col1) noexcept nogil:
    if row1 <= row0 or col1 <= col0:
        return 0
    piece[0], piece[1], piece[2], piece[3] = row0, row1, col0, col1
    return 1


cdef void _volume_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    """Output plane z of a block of rows and columns of one volume: its centre in place, its
    frame from the extended rows of the kd input planes, taken from the thread's frame cache
    (consecutive units of a thread are consecutive output planes of one block, so each builds
    the frame of one new input plane and finds the other kd - 1 there)."""
    cdef const _VolumeJob *job = <const _VolumeJob *>job_
    cdef Py_ssize_t b = u // job.units_per_img
    u = u % job.units_per_img
    cdef Py_ssize_t z = u % job.od, block = u // job.od
    cdef Py_ssize_t r0 = (block // job.n_cb) * job.block_rows
    cdef Py_ssize_t c0 = (block % job.n_cb) * job.block_cols
    cdef Py_ssize_t item = job.item, ldy = job.y_row // item
    cdef const char *image = job.x + b * job.x_img
    cdef const char *w = job.w + b * job.w_img
    cdef char *y = job.y + b * job.y_img + z * job.y_plane
    # The input planes of the kernel's planes (NULL: a plane of fill).
    cdef const char **planes = <const char **>(scratch + job.planes_off)
    cdef const char **tile = <const char **>(scratch + job.tile_off)
    cdef Py_ssize_t c, p, k, off, ext_w
    cdef bint any_fill = False
    for c in range(job.kd):
        p = job.planemap[z + c]
        planes[c] = image + p * job.x_plane if p >= 0 else NULL
        any_fill = any_fill or p < 0
    cdef Py_ssize_t geometry[_FRAME_FIELDS]
    cdef Py_ssize_t n_pieces = _frame(job, r0, c0, geometry)
    cdef Py_ssize_t mid0 = geometry[16], mid1 = geometry[17], cl = geometry[18]
    cdef Py_ssize_t cr = geometry[19]
    if any_fill:
        # A plane of fill has no place to be read in, and is not worth caching (it occurs
        # within kd / 2 planes of the ends): the whole block from extended rows.
        for k in range(n_pieces):
            _volume_extended(job, planes, w, geometry[4 * k], geometry[4 * k + 2],
                             geometry[4 * k + 1], geometry[4 * k + 3], y, scratch)
        if cr > cl:
            _volume_extended(job, planes, w, mid0, cl, mid1, cr, y, scratch)
        return
    # The centre first, then the frame: the centre's sweep over the planes in place reads the
    # one plane no earlier unit of the thread read, before the frame copies short rows of it.
    # Measured against the frame first (Intel Xeon, avx512, 2 threads, alternating
    # processes): 64x300x1000 5x5x5 4-5% faster, 128x256x256 7x7x7 about 2%, 160^3 5x5x5 1%.
    cdef Py_ssize_t offset
    if cr > cl:
        offset = job.rowmap[mid0] * job.x_row + job.colmap[cl] * item
        for c in range(job.kd):
            p = job.planemap[z + c]
            tile[c] = image + p * job.x_plane + offset
        _volume_tile(job, tile, job.x_row // item, w, mid0, cl, mid1, cr, y, scratch)
    if n_pieces == 0:
        return
    cdef char **slot_of = <char **>planes  # reused: the frame slot of each kernel plane
    _frame_slots(job, b, block, z, geometry, n_pieces, slot_of, scratch)
    off = 0
    for k in range(n_pieces):
        ext_w = geometry[4 * k + 3] - geometry[4 * k + 2] + job.kw - 1
        for c in range(job.kd):
            tile[c] = slot_of[c] + off * item
        _volume_tile(job, tile, ext_w, w, geometry[4 * k], geometry[4 * k + 2],
                     geometry[4 * k + 1], geometry[4 * k + 3], y, scratch)
        off += (geometry[4 * k + 1] - geometry[4 * k] + job.kh - 1) * ext_w


cdef void _frame_slots(const _VolumeJob *job, Py_ssize_t b, Py_ssize_t block, Py_ssize_t z,
                       const Py_ssize_t *geometry, Py_ssize_t n_pieces, char **slot_of,
                       char *scratch) noexcept nogil:
    """slot_of[c]: the thread's frame slot holding the frame pieces of input plane
    planemap[z + c] for this block of volume b, built where no slot holds them yet (in a slot
    no kernel plane of this unit needs)."""
    cdef Py_ssize_t kd = job.kd, c, s, p, k, off, ext_h, ext_w, n_runs
    cdef Py_ssize_t *tags = <Py_ssize_t *>(scratch + job.tags_off)
    cdef char *slots = scratch + job.slots_off
    cdef Py_ssize_t slot_bytes = job.slot_elems * job.item
    cdef _ColumnRun *runs = <_ColumnRun *>(scratch + job.runs_off)
    cdef const char *plane
    # used[s]: slot s holds a plane this unit needs, so it must not be rebuilt for another.
    cdef Py_ssize_t *used = tags + 3 * kd
    for s in range(kd):
        used[s] = 0
    for c in range(kd):
        p = job.planemap[z + c]
        slot_of[c] = NULL
        for s in range(kd):
            if tags[3 * s] == b and tags[3 * s + 1] == block and tags[3 * s + 2] == p:
                slot_of[c] = slots + s * slot_bytes
                used[s] = 1
                break
    for c in range(kd):
        if slot_of[c] != NULL:
            continue
        p = job.planemap[z + c]
        # A kernel plane before this one may have just built the same input plane's slot.
        for s in range(kd):
            if tags[3 * s] == b and tags[3 * s + 1] == block and tags[3 * s + 2] == p:
                slot_of[c] = slots + s * slot_bytes
                break
        if slot_of[c] != NULL:
            continue
        # At most kd distinct planes are needed, so a free slot remains.
        s = 0
        while used[s]:
            s += 1
        used[s] = 1
        slot_of[c] = slots + s * slot_bytes
        tags[3 * s], tags[3 * s + 1], tags[3 * s + 2] = b, block, p
        plane = job.x + b * job.x_img + p * job.x_plane
        off = 0
        for k in range(n_pieces):
            ext_h = geometry[4 * k + 1] - geometry[4 * k] + job.kh - 1
            ext_w = geometry[4 * k + 3] - geometry[4 * k + 2] + job.kw - 1
            n_runs = _column_runs(job.colmap + geometry[4 * k + 2], ext_w, runs)
            if job.item == sizeof(float):
                _extend_rows(plane, job.x_row, job.rowmap + geometry[4 * k], ext_h, ext_w, runs,
                             n_runs, <float>job.fill, <float *>slot_of[c] + off, -1, 0)
            else:
                _extend_rows(plane, job.x_row, job.rowmap + geometry[4 * k], ext_h, ext_w, runs,
                             n_runs, job.fill, <double *>slot_of[c] + off, -1, 0)
            off += ext_h * ext_w


cdef inline void _volume_tile(const _VolumeJob *job, const char **tile, Py_ssize_t ldx,
                              const char *w, Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t r1,
                              Py_ssize_t c1, char *y, char *scratch) noexcept nogil:
    """Output rows r0 .. r1 - 1 and columns c0 .. c1 - 1 of the output plane at y, from the kd
    input tiles at tile[c] with row stride ldx elements."""
    cdef Py_ssize_t item = job.item
    y += r0 * job.y_row + c0 * item
    if item == sizeof(float):
        job.table.corr3_f32(<const float **>tile, ldx, <const float *>w, job.kd, job.kh, job.kw,
                            <float *>y, job.y_row // item, r1 - r0, c1 - c0,
                            <float *>(scratch + job.kernel_scratch_off))
    else:
        job.table.corr3_f64(<const double **>tile, ldx, <const double *>w, job.kd, job.kh,
                            job.kw, <double *>y, job.y_row // item, r1 - r0, c1 - c0,
                            <double *>(scratch + job.kernel_scratch_off))


cdef void _volume_extended(const _VolumeJob *job, const char **planes, const char *w,
                           Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t r1, Py_ssize_t c1,
                           char *y, char *scratch) noexcept nogil:
    """Output rows r0 .. r1 - 1 and columns c0 .. c1 - 1 of the output plane at y, from the
    extended rows of each of the kd planes built in the thread's buffer."""
    cdef Py_ssize_t rows = r1 - r0, cols = c1 - c0, item = job.item
    cdef Py_ssize_t ext_h = rows + job.kh - 1, ext_w = cols + job.kw - 1
    cdef _ColumnRun *runs = <_ColumnRun *>(scratch + job.runs_off)
    cdef Py_ssize_t n_runs = _column_runs(job.colmap + c0, ext_w, runs)
    cdef const char **tile = <const char **>(scratch + job.tile_off)
    cdef Py_ssize_t c, k
    cdef char *buffer
    for c in range(job.kd):
        buffer = scratch + c * job.buffer_plane * item
        tile[c] = buffer
        if item == sizeof(float):
            if planes[c] == NULL:
                for k in range(ext_h * ext_w):
                    (<float *>buffer)[k] = <float>job.fill
            else:
                _extend_rows(planes[c], job.x_row, job.rowmap + r0, ext_h, ext_w, runs, n_runs,
                             <float>job.fill, <float *>buffer, -1, 0)
        else:
            if planes[c] == NULL:
                for k in range(ext_h * ext_w):
                    (<double *>buffer)[k] = job.fill
            else:
                _extend_rows(planes[c], job.x_row, job.rowmap + r0, ext_h, ext_w, runs, n_runs,
                             job.fill, <double *>buffer, -1, 0)
    y += r0 * job.y_row + c0 * item
    if item == sizeof(float):
        job.table.corr3_f32(<const float **>tile, ext_w, <const float *>w, job.kd, job.kh,
                            job.kw, <float *>y, job.y_row // item, rows, cols,
                            <float *>(scratch + job.kernel_scratch_off))
    else:
        job.table.corr3_f64(<const double **>tile, ext_w, <const double *>w, job.kd, job.kh,
                            job.kw, <double *>y, job.y_row // item, rows, cols,
                            <double *>(scratch + job.kernel_scratch_off))


# ----------------------------------------------------------------------------- scipy.ndimage-exact
include "_exact.pxi"

# ----------------------------------------------------------------------------- separable
include "_separable.pxi"

# ----------------------------------------------------------------------------- other dtypes
include "_convert.pxi"

# ----------------------------------------------------------------------------- nn
include "_nn.pxi"

# ----------------------------------------------------------------------------- gradient magnitude
cdef enum:
    # Elements per unit of `add_square`: a few of them per thread even at 256 x 256.
    SQUARE_UNIT = 16384


def add_square(floating[::1] total, const floating[::1] term, bint square_total, bint root,
               int n_threads):
    """One step of scipy's gradient magnitude on flat arrays of one float dtype, in one
    parallel pass: ``total = total * total`` first where `square_total`, then ``total +=
    term * term``, then ``total = sqrt(total)`` where `root`.

    Each product, sum and root is rounded in the dtype, in the order of numpy's np.multiply,
    np.add and np.sqrt in scipy.ndimage.generic_gradient_magnitude (the module is built without
    contracting a product and a sum into one fused multiply-add), so the values are numpy's;
    the passes numpy makes over the arrays one at a time, on one thread, are one pass here.
    `total` and `term` must not overlap.
    """
    cdef Py_ssize_t n = total.shape[0], u, i, lo, hi
    if term.shape[0] != n:
        raise ValueError("add_square: total and term need the same length")
    if n == 0:
        return
    cdef Py_ssize_t n_units = (n + SQUARE_UNIT - 1) // SQUARE_UNIT
    n_threads = _usable_threads(<int>min(_worth_threads(<double>n, n_threads), n_units))
    cdef floating *t = &total[0]
    cdef const floating *s = &term[0]
    cdef floating v
    with nogil, parallel(num_threads=n_threads):
        for u in prange(n_units, schedule="static"):
            lo = u * SQUARE_UNIT
            hi = min(lo + SQUARE_UNIT, n)
            if square_total:
                for i in range(lo, hi):
                    t[i] = t[i] * t[i]
            for i in range(lo, hi):
                v = s[i] * s[i]
                t[i] = t[i] + v
            if root:
                for i in range(lo, hi):
                    if floating is float:
                        t[i] = sqrtf(t[i])
                    else:
                        t[i] = sqrt(t[i])
