# scipy.ndimage-exact filtering (included from _core.pyx).
#
# scipy.ndimage computes every output in float64 with separate multiplies and adds in a fixed
# order and C-casts the result, so integer outputs depend on the last bit of each double.  The
# kernels (exact_kernels.c, fc_kernel_table.exact) redo scipy's sequence per output, lanes being
# different outputs; this file cuts the work into units, converts the input to float64 row by
# row into per-thread buffers through the index maps, and stores each output row by scipy's cast.
import numpy as _np

cdef extern from "fastcorr_kernels.h" nogil:
    ctypedef struct fc_run:
        Py_ssize_t dst, length, src, step
    ctypedef struct fc_exact_table:
        void (*taps)(const double **, const double *, Py_ssize_t, double *,
                     Py_ssize_t) noexcept nogil
        void (*line)(const double **, const double *, Py_ssize_t, int, double *,
                     Py_ssize_t) noexcept nogil
        void (*running_step)(double *, const double *, const double *, double, double *,
                             Py_ssize_t) noexcept nogil
        void (*running_lines)(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t, double *,
                              Py_ssize_t, Py_ssize_t) noexcept nogil
        void (*load)(int, const char *, Py_ssize_t, const fc_run *, Py_ssize_t, double,
                     double *) noexcept nogil
        void (*load32)(int, const char *, Py_ssize_t, const fc_run *, Py_ssize_t, float,
                       float *) noexcept nogil
        Py_ssize_t (*certify)(const float *, const float **, const double *, Py_ssize_t, int,
                              int, double, int32_t *, Py_ssize_t, Py_ssize_t,
                              Py_ssize_t, int, char *, Py_ssize_t, Py_ssize_t) noexcept nogil
        void (*store32)(int, const int32_t *, Py_ssize_t, char *, Py_ssize_t) noexcept nogil
        void (*store)(int, const double *, Py_ssize_t, char *, Py_ssize_t) noexcept nogil
        int block
    enum:
        FC_DT_BOOL, FC_DT_U8, FC_DT_I8, FC_DT_U16, FC_DT_I16, FC_DT_U32, FC_DT_I32,
        FC_DT_U64, FC_DT_I64, FC_DT_F32, FC_DT_F64

cdef extern from *:
    """
    static const fc_exact_table *fc_exact_active(void) { return fc_active()->exact; }
    """
    const fc_exact_table *fc_exact_active() nogil

# scipy's DBL_EPSILON tests (NI_Correlate's skipped taps, NI_Correlate1D's symmetry).
_DBL_EPSILON = 2.220446049250313e-16

cdef enum:
    EXACT_TAPS = 0     # NI_Correlate
    EXACT_LINE = 1     # NI_Correlate1D
    EXACT_UNIFORM = 2  # NI_UniformFilter1D
    # Output columns per unit: 1024 float64 outputs keep a unit's extended rows (kernel height
    # + band rows of them, 8 KiB each) within the L2 budget for kernels up to about 15 rows.
    EXACT_CHUNK_COLS = 1024
    EXACT_MAX_BAND_ROWS = 32
    CERTIFIED_CHUNK_COLS = 512
    # A certified unit that recomputes more than NUM/DEN of its outputs sends the thread's
    # next PAUSE units straight to scipy's sequence.  Measured on Zen 1 (AVX2, 5x5): the
    # float32 pass costs about half of scipy's sequence and a recomputed output about 2.7
    # times one output of it, so certifying stops paying near 18% recomputed.
    CERTIFY_GIVE_UP_NUM = 1
    CERTIFY_GIVE_UP_DEN = 8
    CERTIFY_PAUSE_UNITS = 8

_EXACT_DTYPES = {("b", 1): FC_DT_BOOL, ("u", 1): FC_DT_U8, ("i", 1): FC_DT_I8,
                 ("u", 2): FC_DT_U16, ("i", 2): FC_DT_I16, ("u", 4): FC_DT_U32,
                 ("i", 4): FC_DT_I32, ("u", 8): FC_DT_U64, ("i", 8): FC_DT_I64,
                 ("f", 4): FC_DT_F32, ("f", 8): FC_DT_F64}


cdef struct _ExactJob:
    const char *x
    Py_ssize_t xs[4]  # byte strides of x (B, D, H, W)
    char *y
    Py_ssize_t ys[4]
    Py_ssize_t shape[4]
    int x_dtype, y_dtype, formula, axis, symmetry
    const Py_ssize_t *maps[3]  # plane, row and column maps
    double fill
    Py_ssize_t kd, kh, kw  # the kernel's extent (for EXACT_LINE/UNIFORM: 1 but along axis)
    Py_ssize_t ntaps
    const double *w  # the nonzero taps (EXACT_TAPS) or the 1-D weights (EXACT_LINE)
    const Py_ssize_t *tap_offsets  # buffer offset of each tap from an output's first element
    # Units: unit u = ((b * n_outer + o) * n_bands + band) * n_chunks + chunk.
    Py_ssize_t n_outer, n_bands, n_chunks, band_rows, chunk_cols
    # Per-thread scratch (doubles): buffer [0, buf_elems), then y (ybuf_elems), then tap
    # pointers, then (at runs_off bytes) the column runs; buffer rows are ext_w apart, and
    # planes plane_rows rows apart.
    Py_ssize_t ext_w, plane_rows, buf_elems, ybuf_elems, runs_off
    const fc_exact_table *table
    # The certified path (see _certified_bound): certify != 0 builds float rows, computes
    # each band with the float32 engine (fast_table, weights w32, dense kd x kh x kw) into
    # fast_off, and lets table.certify keep or recompute each output.  The engine's scratch is
    # at fscratch_off, its plane pointers at planes_off, the thread's count of recomputed
    # outputs at count_off (byte offsets in the thread's scratch).
    int certify
    double bound
    const float *w32
    const fc_kernel_table *fast_table
    Py_ssize_t fast_off, fscratch_off, planes_off, count_off


# Input dtypes whose every value float32 holds exactly, with the largest magnitude of each.
_CERTIFIED_INPUTS = {FC_DT_BOOL: 1.0, FC_DT_U8: 255.0, FC_DT_I8: 128.0, FC_DT_U16: 65535.0,
                     FC_DT_I16: 32768.0}
# Above this bound on |fast - scipy's double| too many outputs would lie near an integer for
# the float32 pass to pay; the float64 path runs instead.
_CERTIFY_MAX_BOUND = 1.0 / 64


def _certified_bound(kept, n_dense, double vmax):
    """A bound on |f - s| for every output, where s is scipy's double (the kept taps in order,
    a rounded multiply and a rounded add each) and f is the float32 engine's result (the taps
    rounded to float32, zero elsewhere, n_dense multiply-adds in any order, fused or not); both
    against the exact sum S of the kept taps times values of magnitude <= vmax.  With
    A = sum |w| * vmax, u = 2**-24 and gamma_n = n*u / (1 - n*u) (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., eq. 3.5, any order of summation):
    |f - S| <= gamma_(n_dense+1) * (1 + u) * A + u * A (the taps' rounding to float32), and
    |s - S| <= gamma_(2*n_kept+2) in double precision times A, plus n_kept * DBL_EPSILON *
    vmax for NI_Correlate1D's paired sums (it takes weights within DBL_EPSILON of each other
    as equal).  Their sum, 1% wider for the bound's own rounding, or inf when the weights are
    not finite."""
    cdef double u = 2.0 ** -24, u64 = 2.0 ** -53
    a = float(_np.sum(_np.abs(kept))) * vmax
    if not _np.isfinite(a):
        return float("inf")
    n32, n64 = n_dense + 1, 2 * kept.shape[0] + 2
    g32 = n32 * u / (1.0 - n32 * u)
    g64 = n64 * u64 / (1.0 - n64 * u64)
    return 1.01 * ((g32 * (1.0 + u) + u) * a + g64 * a + kept.shape[0] * _DBL_EPSILON * vmax)


def certified_bound(x_dtype, out_dtype, kept, Py_ssize_t n_dense, double fill):
    """The bound exact_correlate certifies with (see _certified_bound) for an image of
    x_dtype, an output of out_dtype, the weights scipy keeps (`kept`, 1-D) of a kernel of
    n_dense taps and the fill; inf where the certified path does not apply (float outputs,
    images of other dtypes, a fill float32 does not hold).  The path runs where it is below
    _CERTIFY_MAX_BOUND; the bench asks here which route a call takes."""
    x_dtype, out_dtype = _np.dtype(x_dtype), _np.dtype(out_dtype)
    vmax = _CERTIFIED_INPUTS.get(_EXACT_DTYPES.get((x_dtype.kind, x_dtype.itemsize)))
    if (vmax is None or out_dtype.kind not in "biu" or float(_np.float32(fill)) != fill):
        return float("inf")
    return _certified_bound(_np.asarray(kept, dtype=_np.float64), n_dense,
                            max(vmax, abs(fill)))


def certifies(x_dtype, out_dtype, kept, Py_ssize_t n_dense, double fill):
    """Whether exact_correlate takes the certified path for such a call (formulas 0 and 1)."""
    return certified_bound(x_dtype, out_dtype, kept, n_dense, fill) < _CERTIFY_MAX_BOUND


def exact_correlate(x, w, out, planemap, rowmap, colmap, double fill, int formula,
                    int n_threads, certify=True, Py_ssize_t chunk_cols=0,
                    Py_ssize_t band_rows=0):
    """scipy.ndimage's values for one normalized filter call, bit for bit: float64 arithmetic in
    scipy's order per output, then scipy's C cast to out's dtype.

    Parameters
    ----------
    x : ndarray, shape (B, D, H, W)
        bool, (u)int8 .. (u)int64, float32 or float64, native byte order, aligned, any strides.
        Read in its own dtype and converted to float64 row by row inside the core.
    w : ndarray of float64, shape (kd, kh, kw), C-contiguous
        The weights (correlation, not convolution: the face flips them).
    out : ndarray, shape (B, D, H, W)
        Any dtype x may have, writeable, native, aligned, any strides; must not overlap x.
    planemap, rowmap, colmap : intp ndarray, C-contiguous
        Lengths D + kd - 1, H + kh - 1 and W + kw - 1: extended position i along the axis reads
        source index map[i], or `fill` where map[i] == -1 (boundary.index_map with start
        -(k // 2 + origin) gives scipy's mode and origin).
    fill : float
        The value outside ('constant' mode's cval), as a double, as scipy uses it.
    formula : int
        0: NI_Correlate (ndimage.correlate/convolve): taps in C order, skipping |w| <= DBL_EPSILON,
        ``tmp = 0.0; tmp += w[t] * v[t]``.
        1: NI_Correlate1D (correlate1d and the 1-D passes of gaussian_filter, sobel, prewitt,
        laplace): w has at most one axis longer than 1; symmetric and antisymmetric weights
        (odd length, pairs equal or opposite within DBL_EPSILON) use scipy's paired sums.
        2: NI_UniformFilter1D (uniform_filter1d, uniform_filter's passes): the running sum over
        w's length along its one long axis (w's values are ignored), divided by the length at
        each output.  A line is computed whole (the sum carries along it), so a unit's buffer
        holds whole lines along W for W-axis filters.
    n_threads : int
        OpenMP threads.
    certify : bool
        Allow the certified path for formulas 0 and 1 (see `_certified_bound`): integer or bool
        outputs of bool, (u)int8 or (u)int16 images, with finite weights and a fill that
        float32 holds, are computed by the float32 engine and kept where they cannot truncate
        differently from scipy's double; the rest is computed by scipy's sequence.  The values
        are the same either way; False is for tests and measurements.
    chunk_cols, band_rows : int
        The columns and rows of the units of formulas 0 and 1 (0: chosen here), for tests and
        measurements.

    Returns
    -------
    int
        When the call took the certified path, the number of outputs it computed by scipy's
        sequence (those near an integer and the others of their vector, and the units run
        without certifying after one that had many); -1 otherwise.

    Notes
    -----
    The cast is the one scipy's x86-64 build executes (truncation toward zero; out-of-range
    values wrap through a 32-bit signed conversion for types up to 16 bits, 64-bit for 32-bit
    unsigned, as gcc compiles ``(npy_uint8)d``: -1.5 -> 255).  A bool output receives the low
    byte, as scipy's ``(npy_bool)d`` does.  Known difference: a uint64 output of formula 0 for
    values below -2**63 (scipy's NI_Correlate wraps those modulo 2**64 where NI_Correlate1D does
    not; this follows NI_Correlate1D).

    A float result is faster through the float paths (correlate_extended_batch); this one is for
    integer outputs and for tests.
    """
    if x.ndim != 4 or out.ndim != 4 or w.ndim != 3:
        raise ValueError("exact_correlate: x and out need 4 dimensions, w 3")
    if x.shape != out.shape:
        raise ValueError("exact_correlate: x and out shapes differ")
    if w.dtype != _np.float64 or not w.flags.c_contiguous:
        raise ValueError("exact_correlate: w must be C-contiguous float64")
    if formula not in (EXACT_TAPS, EXACT_LINE, EXACT_UNIFORM):
        raise ValueError("exact_correlate: formula must be 0, 1 or 2")
    cdef int x_dtype, y_dtype
    for name, a in (("x", x), ("out", out)):
        if (a.dtype.kind, a.dtype.itemsize) not in _EXACT_DTYPES or not a.dtype.isnative:
            raise ValueError(f"exact_correlate: {name} has an unsupported dtype {a.dtype}")
        if not a.flags.aligned:
            raise ValueError(f"exact_correlate: {name} is not aligned")
    if not out.flags.writeable:
        raise ValueError("exact_correlate: out is read-only")
    x_dtype = _EXACT_DTYPES[(x.dtype.kind, x.dtype.itemsize)]
    y_dtype = _EXACT_DTYPES[(out.dtype.kind, out.dtype.itemsize)]
    cdef Py_ssize_t kd = w.shape[0], kh = w.shape[1], kw = w.shape[2]
    if kd < 1 or kh < 1 or kw < 1:
        raise ValueError("exact_correlate: w is empty")
    long_axes = [d for d in range(3) if w.shape[d] > 1]
    if formula != EXACT_TAPS and len(long_axes) > 1:
        raise ValueError("exact_correlate: formulas 1 and 2 need w with one axis longer than 1")
    cdef int axis = long_axes[0] if long_axes else 2
    maps = []
    for name, m, n, k in (("planemap", planemap, x.shape[1], kd),
                          ("rowmap", rowmap, x.shape[2], kh),
                          ("colmap", colmap, x.shape[3], kw)):
        m = _np.ascontiguousarray(m, dtype=_np.intp)
        if m.ndim != 1 or m.shape[0] != n + k - 1:
            raise ValueError(f"exact_correlate: {name} needs {n + k - 1} entries")
        # The maps index x without bounds checks in the units.
        if m.shape[0] and (m.min() < -1 or m.max() >= n):
            raise ValueError(f"exact_correlate: {name} entry outside [-1, {n})")
        maps.append(m)
    if out.size == 0:
        return -1
    if _np.shares_memory(x, out):
        raise ValueError("exact_correlate: out overlaps x")

    cdef _ExactJob job
    cdef int d
    job.x = <const char *><size_t>x.__array_interface__["data"][0]
    job.y = <char *><size_t>out.__array_interface__["data"][0]
    for d in range(4):
        job.xs[d], job.ys[d], job.shape[d] = x.strides[d], out.strides[d], x.shape[d]
    cdef const Py_ssize_t[::1] pm = maps[0], rm = maps[1], cm = maps[2]
    job.maps[0], job.maps[1], job.maps[2] = &pm[0], &rm[0], &cm[0]
    job.x_dtype, job.y_dtype, job.formula, job.axis = x_dtype, y_dtype, formula, axis
    job.fill, job.kd, job.kh, job.kw = fill, kd, kh, kw
    job.table = fc_exact_active()
    job.symmetry = 0
    job.certify = 0
    job.count_off = 0

    cdef Py_ssize_t D = x.shape[1], H = x.shape[2], W = x.shape[3], B = x.shape[0]
    cdef Py_ssize_t band, chunk, per_unit
    flat = w.reshape(-1)
    if formula == EXACT_UNIFORM:
        job.ntaps = w.shape[axis]
        weights = _np.zeros(1)
        offsets = _np.zeros(1, dtype=_np.intp)
        if axis == 2:
            # Whole lines along W: bands of rows, each row's extended line in the buffer.
            chunk, job.n_outer, job.n_chunks = W, D, 1
            band = max(min(EXACT_MAX_BAND_ROWS, (FC_L2_BUDGET_BYTES // 16) // (W + kw - 1)), 1)
            band = min(band, H)
            job.n_bands = (H + band - 1) // band
            job.ext_w, job.plane_rows = W + kw - 1, band
            job.buf_elems, job.ybuf_elems = band * (W + kw - 1), band * W
            per_unit = band * W * 2
        else:
            # Lines along D or H, lanes = columns: one unit runs a chunk of columns down every
            # line of one image and one index of the other outer axis.
            chunk = min(W, EXACT_CHUNK_COLS)
            job.n_outer = H if axis == 0 else D
            job.n_bands, job.n_chunks = 1, (W + chunk - 1) // chunk
            band = 1
            job.ext_w, job.plane_rows = chunk, 1
            # incoming, outgoing, running sums, zeros
            job.buf_elems, job.ybuf_elems = 4 * chunk, chunk
            per_unit = (D if axis == 0 else H) * chunk * 2
    else:
        if formula == EXACT_TAPS:
            keep = _np.abs(flat) > _DBL_EPSILON
            weights = _np.ascontiguousarray(flat[keep])
            taps = _np.nonzero(keep.reshape(w.shape))  # C order
        else:
            weights = _np.ascontiguousarray(flat)
            k = weights.shape[0]
            if k & 1:
                s1 = k // 2
                if all(abs(weights[s1 + i] - weights[s1 - i]) <= _DBL_EPSILON
                       for i in range(1, s1 + 1)):
                    job.symmetry = 1
                elif all(abs(weights[s1 + i] + weights[s1 - i]) <= _DBL_EPSILON
                         for i in range(1, s1 + 1)):
                    job.symmetry = -1
            taps = _np.nonzero(_np.ones(w.shape, dtype=bool))
        job.ntaps = weights.shape[0]
        if certify:
            job.bound = certified_bound(x.dtype, out.dtype, weights, kd * kh * kw, fill)
            job.certify = job.bound < _CERTIFY_MAX_BOUND
        if job.certify:
            # The engine's dense kernel: the kept taps rounded to float32, zero where scipy
            # skips a tap (formula 0), so both sum over the same taps.
            w32 = _np.zeros(kd * kh * kw, _np.float32)
            kept_index = _np.ravel_multi_index(taps, w.shape)
            w32[kept_index] = weights
            w32 = w32.reshape(kd, kh, kw)
        chunk = min(W, chunk_cols or (CERTIFIED_CHUNK_COLS if job.certify else EXACT_CHUNK_COLS))
        job.ext_w = chunk + kw - 1
        band = max((FC_L2_BUDGET_BYTES // 2 // 8) // (kd * job.ext_w) - kh + 1, 1)
        band = min(band, EXACT_MAX_BAND_ROWS, H)
        if job.certify and band < H:
            # Whole bands of the engine's register block (a partial one runs row by row).
            nr = _band_rows(fc_active(), kh, (chunk + kw - 1) * 4)
            band = max(band // nr, 1) * nr
        if band_rows:
            band = min(band_rows, H)
        job.plane_rows = band + kh - 1
        offsets = _np.ascontiguousarray(
            (taps[0] * job.plane_rows + taps[1]) * job.ext_w + taps[2], dtype=_np.intp)
        job.n_outer, job.n_bands = D, (H + band - 1) // band
        job.n_chunks = (W + chunk - 1) // chunk
        job.buf_elems = kd * job.plane_rows * job.ext_w
        # The certified path's int32 results of a whole band (see _certified_block).
        job.ybuf_elems = max(chunk, (band * chunk + 1) // 2) if job.certify else chunk
        per_unit = band * chunk * max(job.ntaps, 1)
        if weights.shape[0] == 0:
            weights = _np.zeros(1)
            offsets = _np.zeros(1, dtype=_np.intp)
    job.band_rows, job.chunk_cols = band, chunk
    cdef const double[::1] wv = weights
    cdef const Py_ssize_t[::1] ov = offsets
    job.w, job.tap_offsets = &wv[0], &ov[0]
    cdef const float[:, :, ::1] w32v
    if job.certify:
        w32v = w32
        job.w32 = &w32v[0, 0, 0]
        job.fast_table = fc_active()

    cdef Py_ssize_t n_units = B * job.n_outer * job.n_bands * job.n_chunks
    n_threads = _worth_threads(<double>B * D * H * W * max(job.ntaps, 1), n_threads)
    if n_threads > n_units:
        n_threads = <int>n_units
    n_threads = _usable_threads(n_threads)
    # Scratch per thread, rounded to whole cache lines: buffer, y, tap pointers.
    cdef Py_ssize_t line = 64
    cdef Py_ssize_t per_thread = ((job.buf_elems + job.ybuf_elems) * 8 + line - 1) // line * line
    per_thread += ((job.ntaps + 1) * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
    job.runs_off = per_thread
    per_thread += (job.ext_w * <Py_ssize_t>sizeof(fc_run) + line - 1) // line * line
    if job.certify:
        # The band's float32 results, the engine's scratch and plane pointers, and two
        # counters (see _exact_block).
        job.fast_off = per_thread
        per_thread += (band * chunk * 4 + line - 1) // line * line
        job.fscratch_off = per_thread
        per_thread += (<Py_ssize_t>fc_scratch3_elems(kd, kh, kw) * 4 + line - 1) // line * line
        job.planes_off = per_thread
        per_thread += (kd * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
        job.count_off = per_thread
        per_thread += line
    cdef char *scratch = <char *>calloc(n_threads, per_thread)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t redone = 0
    cdef int t
    try:
        _run_units(_exact_unit, &job, n_units, max(<Py_ssize_t>(CHUNK_FMAS / per_unit), 1),
                   n_threads, scratch, per_thread)
        if job.certify:
            for t in range(n_threads):
                redone += (<Py_ssize_t *>(scratch + t * per_thread + job.count_off))[0]
    finally:
        free(scratch)
    return redone if job.certify else -1


cdef inline const char *_exact_row(const _ExactJob *job, Py_ssize_t b, Py_ssize_t p,
                                   Py_ssize_t r) noexcept nogil:
    """The input row at extended plane p and extended row r of image b, or NULL for fill."""
    cdef Py_ssize_t sp = job.maps[0][p], sr = job.maps[1][r]
    if sp < 0 or sr < 0:
        return NULL
    return job.x + b * job.xs[0] + sp * job.xs[1] + sr * job.xs[2]


cdef inline void _exact_load(const _ExactJob *job, const char *row, const _ColumnRun *runs,
                             Py_ssize_t n_runs, Py_ssize_t n, double *dst) noexcept nogil:
    """The n values of an extended row (runs: its columns, see _column_runs) as doubles."""
    cdef Py_ssize_t k
    if row == NULL:
        for k in range(n):
            dst[k] = job.fill
    else:
        job.table.load(job.x_dtype, row, job.xs[3], <const fc_run *>runs, n_runs, job.fill,
                       dst)


cdef void _exact_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    cdef const _ExactJob *job = <const _ExactJob *>job_
    cdef Py_ssize_t chunk = u % job.n_chunks
    u //= job.n_chunks
    cdef Py_ssize_t band = u % job.n_bands
    u //= job.n_bands
    cdef Py_ssize_t o = u % job.n_outer, b = u // job.n_outer
    cdef double *buf = <double *>scratch
    cdef double *ybuf = buf + job.buf_elems
    cdef Py_ssize_t line = 64
    cdef const double **ptrs = <const double **>(
        scratch + ((job.buf_elems + job.ybuf_elems) * 8 + line - 1) // line * line)
    cdef _ColumnRun *runs = <_ColumnRun *>(scratch + job.runs_off)
    if job.formula == EXACT_UNIFORM:
        if job.axis == 2:
            _exact_uniform_w(job, b, o, band, buf, ybuf, runs)
        else:
            _exact_uniform_outer(job, b, o, chunk, buf, ybuf, runs)
    else:
        _exact_block(job, b, o, band, chunk, buf, ybuf, ptrs, runs)


cdef void _exact_block(const _ExactJob *job, Py_ssize_t b, Py_ssize_t d, Py_ssize_t band,
                       Py_ssize_t chunk, double *buf, double *ybuf, const double **ptrs,
                       _ColumnRun *runs) noexcept nogil:
    """Output rows h0 .. h0 + rows - 1 and columns c0 .. c0 + cols - 1 of plane d of image b
    (formulas 0 and 1): the kd x (rows + kh - 1) extended rows they read, converted into buf,
    then one kernel call per output row."""
    cdef Py_ssize_t h0 = band * job.band_rows, c0 = chunk * job.chunk_cols
    cdef Py_ssize_t rows = min(job.band_rows, job.shape[2] - h0)
    cdef Py_ssize_t cols = min(job.chunk_cols, job.shape[3] - c0)
    cdef Py_ssize_t ext_w = cols + job.kw - 1
    cdef Py_ssize_t a, i, r, t
    cdef Py_ssize_t n_runs = _column_runs(job.maps[2] + c0, ext_w, runs)
    cdef char *y = job.y + b * job.ys[0] + d * job.ys[1] + h0 * job.ys[2] + c0 * job.ys[3]
    # state[0]: the thread's outputs computed by scipy's sequence; state[1]: units left to
    # run uncertified.
    cdef Py_ssize_t *state = <Py_ssize_t *>(<char *>buf + job.count_off)
    cdef Py_ssize_t redone
    if job.certify:
        if state[1] > 0:
            state[1] -= 1
            state[0] += rows * cols
        else:
            redone = _certified_block(job, b, d, h0, rows, cols, <float *>buf, ptrs, runs,
                                      n_runs, y, <int32_t *>ybuf)
            state[0] += redone
            # Mostly near integers (a box filter, flat regions): recomputing costs more than
            # scipy's sequence from the start, so the next units of this thread skip the
            # float32 pass, then try it again.
            if redone * CERTIFY_GIVE_UP_DEN > rows * cols * CERTIFY_GIVE_UP_NUM:
                state[1] = CERTIFY_PAUSE_UNITS
            return
    for a in range(job.kd):
        for i in range(rows + job.kh - 1):
            _exact_load(job, _exact_row(job, b, d + a, h0 + i), runs, n_runs, ext_w,
                        buf + (a * job.plane_rows + i) * job.ext_w)
    cdef double *first
    for r in range(rows):
        first = buf + r * job.ext_w
        for t in range(job.ntaps):
            ptrs[t] = first + job.tap_offsets[t]
        if job.formula == EXACT_TAPS:
            job.table.taps(ptrs, job.w, job.ntaps, ybuf, cols)
        else:
            job.table.line(ptrs, job.w, job.ntaps, job.symmetry, ybuf, cols)
        job.table.store(job.y_dtype, ybuf, cols, y + r * job.ys[2], job.ys[3])


cdef Py_ssize_t _certified_block(const _ExactJob *job, Py_ssize_t b, Py_ssize_t d,
                                 Py_ssize_t h0, Py_ssize_t rows, Py_ssize_t cols, float *buf,
                                 const double **ptrs, const _ColumnRun *runs,
                                 Py_ssize_t n_runs, char *y, int32_t *q) noexcept nogil:
    """_exact_block's outputs by the certified path: the extended rows as float, the band by
    the float32 engine, then kept or recomputed and stored by table.certify.  Returns
    the number of outputs recomputed."""
    cdef char *scratch = <char *>buf  # the thread's scratch starts with the buffer
    cdef Py_ssize_t ext_w = cols + job.kw - 1, a, i, t
    cdef const char *row
    for a in range(job.kd):
        for i in range(rows + job.kh - 1):
            row = _exact_row(job, b, d + a, h0 + i)
            if row == NULL:
                for t in range(ext_w):
                    buf[(a * job.plane_rows + i) * job.ext_w + t] = <float>job.fill
            else:
                job.table.load32(job.x_dtype, row, job.xs[3], <const fc_run *>runs, n_runs,
                                 <float>job.fill, buf + (a * job.plane_rows + i) * job.ext_w)
    cdef float *fast = <float *>(scratch + job.fast_off)
    cdef float *kscratch = <float *>(scratch + job.fscratch_off)
    cdef const float **planes = <const float **>(scratch + job.planes_off)
    if job.kd == 1:
        job.fast_table.corr_f32(buf, job.ext_w, job.w32, job.kh, job.kw, fast, cols, rows,
                                cols, kscratch, 0)
    else:
        for a in range(job.kd):
            planes[a] = buf + a * job.plane_rows * job.ext_w
        job.fast_table.corr3_f32(planes, job.ext_w, job.w32, job.kd, job.kh, job.kw, fast,
                                 cols, rows, cols, kscratch)
    cdef const float **fptrs = <const float **>ptrs
    for t in range(job.ntaps):
        fptrs[t] = buf + job.tap_offsets[t]
    return job.table.certify(fast, fptrs, job.w, job.ntaps, job.formula == EXACT_LINE,
                             job.symmetry, job.bound, q, rows, cols, job.ext_w, job.y_dtype,
                             y, job.ys[2], job.ys[3])


cdef void _exact_uniform_w(const _ExactJob *job, Py_ssize_t b, Py_ssize_t d, Py_ssize_t band,
                           double *buf, double *ybuf, _ColumnRun *runs) noexcept nogil:
    """Running sums along W for rows h0 .. h0 + rows - 1 of plane d of image b."""
    cdef Py_ssize_t h0 = band * job.band_rows, W = job.shape[3]
    cdef Py_ssize_t rows = min(job.band_rows, job.shape[2] - h0), r
    cdef Py_ssize_t n_runs = _column_runs(job.maps[2], job.ext_w, runs)
    for r in range(rows):
        _exact_load(job, _exact_row(job, b, d, h0 + r), runs, n_runs, job.ext_w,
                    buf + r * job.ext_w)
    job.table.running_lines(buf, job.ext_w, rows, job.ntaps, ybuf, W, W)
    cdef char *y = job.y + b * job.ys[0] + d * job.ys[1] + h0 * job.ys[2]
    for r in range(rows):
        job.table.store(job.y_dtype, ybuf + r * W, W, y + r * job.ys[2], job.ys[3])


cdef void _exact_uniform_outer(const _ExactJob *job, Py_ssize_t b, Py_ssize_t o,
                               Py_ssize_t chunk, double *buf, double *ybuf,
                               _ColumnRun *runs) noexcept nogil:
    """Running sums along D (axis 0, o = the row) or H (axis 1, o = the plane) for columns
    c0 .. c0 + cols - 1, every column one lane."""
    cdef Py_ssize_t c0 = chunk * job.chunk_cols, cols = min(job.chunk_cols, job.shape[3] - c0)
    cdef Py_ssize_t n = job.shape[1] if job.axis == 0 else job.shape[2]
    cdef Py_ssize_t size = job.ntaps, l, k
    cdef double dsize = <double>size
    cdef double *incoming = buf
    cdef double *outgoing = buf + job.ext_w
    cdef double *tmp = buf + 2 * job.ext_w
    cdef double *zeros = buf + 3 * job.ext_w
    cdef Py_ssize_t n_runs = _column_runs(job.maps[2] + c0, cols, runs)
    cdef char *y = job.y + b * job.ys[0] + c0 * job.ys[3]
    cdef Py_ssize_t y_step = job.ys[1] if job.axis == 0 else job.ys[2]
    y += o * (job.ys[2] if job.axis == 0 else job.ys[1])
    for k in range(cols):
        tmp[k] = 0.0
        zeros[k] = 0.0
    # tmp = 0.0; tmp += x[l] for l < size (x - 0.0 is x, so the step adds x exactly).
    for l in range(size):
        _exact_load(job, _exact_outer_row(job, b, o, l), runs, n_runs, cols, incoming)
        job.table.running_step(tmp, incoming, zeros, dsize, ybuf, cols)
    job.table.store(job.y_dtype, ybuf, cols, y, job.ys[3])
    for l in range(1, n):
        _exact_load(job, _exact_outer_row(job, b, o, l + size - 1), runs, n_runs, cols, incoming)
        _exact_load(job, _exact_outer_row(job, b, o, l - 1), runs, n_runs, cols, outgoing)
        job.table.running_step(tmp, incoming, outgoing, dsize, ybuf, cols)
        job.table.store(job.y_dtype, ybuf, cols, y + l * y_step, job.ys[3])


cdef inline const char *_exact_outer_row(const _ExactJob *job, Py_ssize_t b, Py_ssize_t o,
                                         Py_ssize_t l) noexcept nogil:
    """Extended position l along the line axis (D or H) at index o of the other outer axis."""
    if job.axis == 0:
        return _exact_row(job, b, l, o)
    return _exact_row(job, b, o, l)
