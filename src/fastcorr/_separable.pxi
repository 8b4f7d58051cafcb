# Included by _core.pyx: separable filters, 1-D passes fused per block.

# ----------------------------------------------------------------------------- separable
# A work unit is a block of output rows x columns of one image.  Its column pass (a kernel down
# the rows, axis 0) writes the block's intermediate rows into the thread's scratch, already
# extended along the columns, and the row pass (along axis 1) reads them from there: the
# intermediate never goes to memory, where two plain passes would write and read it once each,
# a full-size round trip that at 4096 x 4096 float32 costs as much as the arithmetic of a
# 33-tap Gaussian.  A kernel of rank r is r such pairs of passes (its SVD's terms), summed into
# the block's output while it is in cache (or, for an output streamed past the caches, in the
# thread's block buffer, the last term storing the sum).
cdef struct _SepJob:
    const char *x
    Py_ssize_t x_img, x_row
    const char *col_w  # n_terms axis-0 kernels of col_k taps, C order
    const char *row_w  # n_terms axis-1 kernels of row_k taps
    Py_ssize_t col_k, row_k, n_terms
    # Per term, (first tap, number of taps) of its kernels: the taps outside are not computed.
    const Py_ssize_t *col_span
    const Py_ssize_t *row_span
    # Per term, the value of an intermediate column outside the image (an entry -1 of colmap).
    const double *t_fill
    char *y
    Py_ssize_t y_img, y_row, oh, ow, item
    const Py_ssize_t *rowmap  # oh + col_k - 1 entries
    const Py_ssize_t *colmap  # ow + row_k - 1 entries
    Py_ssize_t band_rows, chunk_cols, n_bands, n_chunks
    double fill
    const fc_kernel_table *table
    # Per-thread scratch: extended input rows, the intermediate block, one row of a later
    # term's row pass, the kernels' scratch, column runs, a streamed sum's block (byte
    # offsets).
    Py_ssize_t t_off, acc_off, kscratch_off, runs_off, sum_off, t_ld
    # The image's FC_DT_* dtype and item size when it is not the kernels' (its rows then are
    # converted into the unit's buffer, never read in place); -1: the kernels' dtype.
    int src_dtype
    Py_ssize_t src_item
    # The output rows are stored non-temporally: an output of at least the caller's
    # threshold.  One term's row pass stores them (fc_corr1d_nt); a sum of terms is summed in
    # the thread's block buffer (sum_off) and stored with the last term (fc_sum_nt).
    bint stream
    # Both passes run fc_colt (the path's column pass with a transposed store, see
    # _separable_block_t): t_ld is then the stride of the transposed intermediate's rows, one
    # per extended column; pass_off the thread's buffer for a row pass's block that is not
    # stored straight into the output (pass_ld its row stride); x_cols the image's width and
    # lanes the path's vector width, the least rows and columns fc_colt takes.
    bint transposed
    Py_ssize_t x_cols, lanes, pass_off, pass_ld


cdef enum:
    # A block is band_rows output rows x chunk_cols columns.  The rows a band shares with the
    # next (col_k - 1) stay in L2 as the bands run down a column of chunks, and wider chunks
    # mean fewer row starts per byte and, up to whole rows, input read as it lies in memory.
    # So chunks are as wide as keeps a band's input rows within SEP_BAND_BYTES (whole rows
    # where they fit), split evenly.  Measured at 4096 x 4096 on 2 threads (Intel Xeon,
    # AVX-512, 2 MiB L2): float32 1..9 taps per axis 11-18% faster in whole rows than in
    # chunks of 2,048, 33 taps 5%; float64 33 taps, whose band of whole rows would take 1.8 MB,
    # 2% slower; band heights of 12 to 48 rows within 5% of one another.
    SEP_BAND_ROWS = 24
    SEP_BAND_BYTES = 1024 * 1024
    SEP_MIN_CHUNK_COLS = 256
    # But a chunk's column pass runs over its chunk_cols + row_k - 1 extended columns, so for
    # a long row kernel a chunk narrowed to the budget multiplies the column pass's work: at
    # least SEP_CHUNK_PER_TAP columns per row tap beyond the first, past the budget if need
    # be, while the band's input rows stay within SEP_BAND_MAX_BYTES.  Measured (Intel Xeon,
    # AVX-512, 2 threads, Gaussian K/6): float64 K=255 on 2048 x 2048 1.6x ('valid', 67 ->
    # 42 ms) and 1.5x ('same', 86 -> 57 ms) faster in whole rows than in the budget's chunks
    # of 449 columns, on 1024 x 1024 1.1x, float32 1.05x; K=127 within 3% either way.
    SEP_CHUNK_PER_TAP = 8
    SEP_BAND_MAX_BYTES = 8 * 1024 * 1024
    # Transposed passes (fc_colt) for row kernels of at least SEP_T_MIN_TAPS taps, in bands of
    # SEP_T_BAND_ROWS rows (whole vectors of rows: fc_colt overlaps a last partial vector).
    # Intel Xeon (AVX-512), one thread, a band of 32 x 1024 float32 outputs in L2, both
    # passes against the column block and the 1-D kernel: 9 taps 1.03-1.09x, 11 taps 1.04x,
    # 13 taps 1.09-1.13x, 17 taps 1.16-1.18x, 33 taps 1.21-1.27x, 5 taps 0.91x; a band of 20
    # rows (a partial vector) 0.77x at 33 taps.
    SEP_T_MIN_TAPS = 11
    SEP_T_BAND_ROWS = 32


def correlate_separable(const floating[:, :, :] x, const floating[:, ::1] col_w,
                        const floating[:, ::1] row_w, floating[:, :, :] out,
                        const Py_ssize_t[::1] rowmap, const Py_ssize_t[::1] colmap,
                        double fill, const double[::1] t_fill, int n_threads,
                        Py_ssize_t band_rows=0, Py_ssize_t chunk_cols=0,
                        Py_ssize_t stream_min_bytes=-1, col_span=None,
                        row_span=None):
    """out[i] = sum over the terms k of the row pass (row_w[k]) of the column pass (col_w[k])
    of image i, each pass extending its input by its own map.

    ``t_k[r, c] = sum_a col_w[k, a] * X[rowmap[r + a], c]`` (X[-1, c] = fill), then
    ``out[r, j] = sum_k sum_b row_w[k, b] * T_k[r, colmap[j + b]]`` with
    ``T_k[r, -1] = t_fill[k]``.  With one term and t_fill = [fill] these are scipy.ndimage's two
    1-D passes (the fill value enters each pass as itself, as in two calls of correlate1d); with
    t_fill[k] = fill * sum(col_w[k]) they are the correlation with the kernel
    sum_k outer(col_w[k], row_w[k]) of the image extended in 2-D (every position outside is
    fill).  Each block's intermediate lives in the thread's scratch only.  x and out have
    unit-stride rows (any other strides) and do not overlap.  Outputs of stream_min_bytes and
    more (-1: stream_min_bytes()'s threshold) are stored non-temporally.
    """
    cdef Py_ssize_t n_img = x.shape[0], m = x.shape[1], n = x.shape[2]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    _check_terms("correlate_separable", col_w.shape[0], col_w.shape[1], row_w.shape[0],
                 row_w.shape[1], t_fill.shape[0])
    if out.shape[0] != n_img or oh < 1 or ow < 1:
        raise ValueError("correlate_separable: empty or mismatched stacks")
    _check_map("correlate_separable", "rowmap", rowmap, oh + col_w.shape[1] - 1, m)
    _check_map("correlate_separable", "colmap", colmap, ow + row_w.shape[1] - 1, n)
    cdef Py_ssize_t item = sizeof(floating)
    _check_strides("correlate_separable", x.strides, out.strides, 3, item)
    if n_img == 0:
        return
    cdef _SepJob job
    job.x, job.x_img, job.x_row = <const char *>&x[0, 0, 0], x.strides[0], x.strides[1]
    job.x_cols = n
    job.src_dtype, job.src_item = -1, item
    job.band_rows, job.chunk_cols = max(band_rows, 0), chunk_cols
    _run_separable_job(&job, "correlate_separable", col_w, row_w, out, rowmap, colmap, fill,
                       t_fill, n_threads, col_span, row_span,
                       _stream_min if stream_min_bytes < 0 else stream_min_bytes)


cdef Py_ssize_t[:, ::1] _spans(str who, str name, object spans, Py_ssize_t n_terms,
                               Py_ssize_t k):
    """spans as a checked C-contiguous (n_terms, 2) intp array; None: every tap.  (Checked
    entry by entry: numpy's reductions here cost more than a small image's whole call.)"""
    cdef Py_ssize_t[:, ::1] a
    cdef Py_ssize_t i
    if spans is None:
        a = np.empty((n_terms, 2), np.intp)
        for i in range(n_terms):
            a[i, 0], a[i, 1] = 0, k
        return a
    b = np.ascontiguousarray(spans, np.intp)
    if b.shape != (n_terms, 2):
        raise ValueError(f"{who}: {name} needs ({n_terms}, 2) spans of at least one of the "
                         f"{k} taps")
    a = b
    for i in range(n_terms):
        if a[i, 1] < 1 or a[i, 0] < 0 or a[i, 0] + a[i, 1] > k:
            raise ValueError(f"{who}: {name} needs ({n_terms}, 2) spans of at least one of "
                             f"the {k} taps")
    return a


cdef int _check_terms(str who, Py_ssize_t n_col, Py_ssize_t col_k, Py_ssize_t n_row,
                      Py_ssize_t row_k, Py_ssize_t n_fill) except -1:
    if n_col < 1 or n_col != n_row or n_fill != n_col:
        raise ValueError(f"{who}: col_w, row_w and t_fill need one row each per term, got "
                         f"{n_col}, {n_row} and {n_fill}")
    if col_k < 1 or row_k < 1:
        raise ValueError(f"{who}: empty kernels")
    return 0


cdef int _run_separable_job(_SepJob *job, str who, const floating[:, ::1] col_w,
                            const floating[:, ::1] row_w, floating[:, :, :] out,
                            const Py_ssize_t[::1] rowmap, const Py_ssize_t[::1] colmap,
                            double fill, const double[::1] t_fill, int n_threads,
                            object col_spans, object row_spans,
                            Py_ssize_t stream_min_bytes) except -1:
    """Fills the rest of a job whose source (x, strides, src_dtype) and block shape are set,
    and runs it."""
    cdef Py_ssize_t n_img = out.shape[0], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t n_terms = col_w.shape[0], col_k = col_w.shape[1], row_k = row_w.shape[1]
    cdef Py_ssize_t item = sizeof(floating)
    cdef const Py_ssize_t[:, ::1] col_span = _spans(who, "col_span", col_spans, n_terms, col_k)
    cdef const Py_ssize_t[:, ::1] row_span = _spans(who, "row_span", row_spans, n_terms, row_k)
    job.stream = n_img * oh * ow * item >= stream_min_bytes
    cdef Py_ssize_t term, taps = 0
    for term in range(n_terms):
        taps += col_span[term, 1] + row_span[term, 1]
    cdef double fmas = <double>n_img * oh * ow * taps
    n_threads = _worth_threads(fmas, n_threads)
    job.col_w, job.row_w = <const char *>&col_w[0, 0], <const char *>&row_w[0, 0]
    job.col_k, job.row_k, job.n_terms = col_k, row_k, n_terms
    job.t_fill = &t_fill[0]
    job.col_span, job.row_span = &col_span[0, 0], &row_span[0, 0]
    job.y, job.y_img, job.y_row = <char *>&out[0, 0, 0], out.strides[0], out.strides[1]
    job.oh, job.ow, job.item = oh, ow, item
    job.rowmap, job.colmap = &rowmap[0], &colmap[0]
    job.fill, job.table = fill, fc_active()
    # Transposed passes where the path has them, the row kernel is long enough, and the blocks
    # can be whole vectors of rows and columns; not for a pass of one tap of exactly 1 (the
    # other path skips it, see _separable_block).
    job.lanes = job.table.lanes_f32 if floating is float else job.table.lanes_f64
    if floating is float:
        job.transposed = job.table.colt_f32 != NULL
    else:
        job.transposed = False
    job.transposed = (job.transposed and oh >= job.lanes and ow >= job.lanes
                      and job.x_cols >= job.lanes)
    cdef Py_ssize_t max_row_taps = 0
    for term in range(n_terms):
        max_row_taps = max(max_row_taps, row_span[term, 1])
        if ((col_span[term, 1] == 1 and col_w[term, col_span[term, 0]] == 1)
                or (row_span[term, 1] == 1 and row_w[term, row_span[term, 0]] == 1)):
            job.transposed = False
    if max_row_taps < SEP_T_MIN_TAPS:
        job.transposed = False
    # Its row pass stores whole vectors down the columns of a block: a streamed output would
    # go through the block buffer and a non-temporal copy, which measured slower than plain
    # stores (Intel Xeon, 2 threads, 33 taps, 4096 x 4000 float32: 10.9-11.7 ms streamed,
    # 9.7-10.5 plain), so transposed passes store plainly.  Where rows lie a multiple of 4 KiB
    # apart (in L1's same sets) and the output is large enough to stream, the streamed column
    # block and 1-D kernel kept up: 4096 x 4096 12.4-12.6 ms against 12.1-12.5 transposed in
    # one run and 12.6-12.9 against 13.3 in another, where rows 16,000 bytes apart gained
    # 1.11-1.15x.
    if job.transposed and job.stream and (job.x_row % 4096 == 0 or job.y_row % 4096 == 0):
        job.transposed = False
    if job.transposed:
        job.stream = False
    if job.band_rows < 1:
        job.band_rows = SEP_T_BAND_ROWS if job.transposed else SEP_BAND_ROWS
    job.band_rows = min(oh, job.band_rows)
    cdef Py_ssize_t n_chunks, widest
    # A transposed block also keeps its intermediate (a row of band_rows per column) and the
    # row pass's block buffer (band_rows per column) in L2, within the same budget.
    cdef Py_ssize_t col_bytes = (job.band_rows + col_k - 1) * item
    if job.transposed:
        col_bytes += 2 * ((job.band_rows * item + 63) // 64 * 64)
    if job.chunk_cols < 1:
        widest = max(SEP_BAND_BYTES // col_bytes, SEP_MIN_CHUNK_COLS,
                     min(SEP_CHUNK_PER_TAP * (row_k - 1),
                         SEP_BAND_MAX_BYTES // ((job.band_rows + col_k - 1) * item) - row_k + 1))
        n_chunks = (ow + widest - 1) // widest
        job.chunk_cols = (ow + n_chunks - 1) // n_chunks
    job.chunk_cols = min(ow, job.chunk_cols)
    # Enough blocks to keep every thread busy (four each, for the guided schedule); transposed
    # bands no shorter than a vector of rows.
    while job.band_rows > (max(8, 2 * job.lanes - 1) if job.transposed else 8) and n_img * (
            (oh + job.band_rows - 1) // job.band_rows) * (
            (ow + job.chunk_cols - 1) // job.chunk_cols) < 4 * n_threads:
        job.band_rows = (job.band_rows + 1) // 2
    job.n_bands = (oh + job.band_rows - 1) // job.band_rows
    job.n_chunks = (ow + job.chunk_cols - 1) // job.chunk_cols
    cdef Py_ssize_t n_units = n_img * job.n_bands * job.n_chunks
    if n_threads > n_units:
        n_threads = <int>n_units
    n_threads = _usable_threads(n_threads)
    cdef Py_ssize_t line = 64, ext_w = job.chunk_cols + row_k - 1
    # A transposed block is computed over at least a vector of rows and columns (see
    # _separable_unit).
    cdef Py_ssize_t win_rows = max(job.band_rows, job.lanes) if job.transposed else job.band_rows
    if job.transposed:
        ext_w = max(job.chunk_cols, job.lanes) + row_k - 1
    cdef Py_ssize_t ext_bytes = (win_rows + col_k - 1) * (
        _t_row_ld(ext_w, item) if job.transposed else ext_w) * item
    job.t_off = (ext_bytes + line - 1) // line * line
    if job.transposed:
        # One row of the intermediate per extended column, and a vector's more for the
        # narrow runs' windows, each of win_rows elements padded to whole lines; then the
        # row pass's block buffer.
        job.t_ld = (win_rows * item + line - 1) // line * line // item
        job.pass_ld = _t_row_ld(max(job.chunk_cols, job.lanes), item)
        job.pass_off = job.t_off + (ext_w + job.lanes) * job.t_ld * item
        job.acc_off = job.pass_off + win_rows * job.pass_ld * item
    else:
        # Intermediate rows padded to whole cache lines.
        job.t_ld = (ext_w * item + line - 1) // line * line // item
        job.acc_off = job.t_off + job.band_rows * job.t_ld * item
    job.kscratch_off = job.acc_off + (job.chunk_cols * item + line - 1) // line * line
    job.runs_off = job.kscratch_off + (
        (<Py_ssize_t>fc_scratch_elems(max(col_k, row_k)) * item + line - 1) // line * line)
    job.sum_off = job.runs_off + (
        (ext_w * <Py_ssize_t>sizeof(_ColumnRun) + line - 1) // line * line)
    cdef Py_ssize_t per_thread = job.sum_off + (
        job.band_rows * job.t_ld * item if job.stream and n_terms > 1 else 0)
    cdef char *scratch = <char *>malloc(n_threads * per_thread)
    if scratch == NULL:
        raise MemoryError()
    cdef double unit_fmas = fmas / (n_img * oh * ow) * job.band_rows * job.chunk_cols
    try:
        _run_units(_separable_unit, job, n_units, <Py_ssize_t>(CHUNK_FMAS / unit_fmas),
                   n_threads, scratch, per_thread)
    finally:
        free(scratch)
    return 0


def correlate_separable_from(object image, const floating[:, ::1] col_w,
                             const floating[:, ::1] row_w, floating[:, :, :] out,
                             const Py_ssize_t[::1] rowmap, const Py_ssize_t[::1] colmap,
                             double fill, const double[::1] t_fill, int n_threads,
                             col_span=None, row_span=None):
    """correlate_separable of an image of any real numeric dtype (integers, bool), computed in
    out's dtype; each block's input rows are converted as they are copied into its buffer."""
    cdef const char *data
    cdef Py_ssize_t strides[3]
    cdef Py_ssize_t shape[3]
    cdef int dtype
    cdef Py_ssize_t src_item
    _source(image, &data, strides, shape, &dtype, &src_item, "correlate_separable_from")
    _check_terms("correlate_separable_from", col_w.shape[0], col_w.shape[1], row_w.shape[0],
                 row_w.shape[1], t_fill.shape[0])
    if out.shape[0] != shape[0] or out.shape[1] < 1 or out.shape[2] < 1:
        raise ValueError("correlate_separable_from: empty or mismatched stacks")
    _check_map("correlate_separable_from", "rowmap", rowmap, out.shape[1] + col_w.shape[1] - 1,
               shape[1])
    _check_map("correlate_separable_from", "colmap", colmap, out.shape[2] + row_w.shape[1] - 1,
               shape[2])
    if out.strides[2] != sizeof(floating):
        raise ValueError("correlate_separable_from: out needs unit-stride rows")
    if shape[0] == 0:
        return
    cdef _SepJob job
    job.x, job.x_img, job.x_row = data, strides[0], strides[1]
    job.x_cols = shape[2]
    job.src_dtype, job.src_item = dtype, src_item
    job.band_rows, job.chunk_cols = 0, 0
    _run_separable_job(&job, "correlate_separable_from", col_w, row_w, out, rowmap, colmap,
                       fill, t_fill, n_threads, col_span, row_span, _stream_min)


cdef void _separable_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    cdef const _SepJob *job = <const _SepJob *>job_
    # Bands run fastest, down one column of chunks: the col_k - 1 input rows a band shares
    # with the next are then still in the thread's L2 (the guided schedule hands each thread
    # runs of consecutive units), and each input row comes from memory once rather than
    # (band_rows + col_k - 1) / band_rows times.
    cdef Py_ssize_t per_img = job.n_bands * job.n_chunks
    cdef Py_ssize_t i = u // per_img, b = u % per_img
    cdef Py_ssize_t r0 = (b % job.n_bands) * job.band_rows
    cdef Py_ssize_t c0 = (b // job.n_bands) * job.chunk_cols
    cdef Py_ssize_t rows = min(job.band_rows, job.oh - r0)
    cdef Py_ssize_t cols = min(job.chunk_cols, job.ow - c0)
    cdef _ColumnRun *runs = <_ColumnRun *>(scratch + job.runs_off)
    cdef Py_ssize_t n_runs, wr0, wc0, wrows, wcols
    if job.transposed:
        # The block computed over a window of at least a vector of rows and columns, moved
        # back inside the output where the block is smaller (its other outputs computed as
        # their own blocks compute them, and not stored).
        wrows, wcols = max(rows, job.lanes), max(cols, job.lanes)
        wr0, wc0 = min(r0, job.oh - wrows), min(c0, job.ow - wcols)
        n_runs = _column_runs(job.colmap + wc0, wcols + job.row_k - 1, runs)
        # Transposed jobs are float32 (see _run_separable_job).
        _separable_block_t(job, <const float *>job.col_w, <const float *>job.row_w,
                           job.x + i * job.x_img, <float *>(job.y + i * job.y_img),
                           wr0, wc0, wrows, wcols, r0, c0, rows, cols, runs, n_runs,
                           <float *>scratch, <float *>(scratch + job.t_off),
                           <float *>(scratch + job.pass_off))
        return
    n_runs = _column_runs(job.colmap + c0, cols + job.row_k - 1, runs)
    if job.item == sizeof(float):
        _separable_block(job, <const float *>job.col_w, <const float *>job.row_w,
                         job.x + i * job.x_img, <float *>(job.y + i * job.y_img), r0, c0,
                         rows, cols, runs, n_runs, <float *>scratch,
                         <float *>(scratch + job.t_off), <float *>(scratch + job.acc_off),
                         <float *>(scratch + job.kscratch_off),
                         <float *>(scratch + job.sum_off))
    else:
        _separable_block(job, <const double *>job.col_w, <const double *>job.row_w,
                         job.x + i * job.x_img, <double *>(job.y + i * job.y_img), r0, c0,
                         rows, cols, runs, n_runs, <double *>scratch,
                         <double *>(scratch + job.t_off), <double *>(scratch + job.acc_off),
                         <double *>(scratch + job.kscratch_off),
                         <double *>(scratch + job.sum_off))


cdef inline void _separable_block(const _SepJob *job, const floating *col_w,
                                  const floating *row_w, const char *image, floating *y,
                                  Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t rows,
                                  Py_ssize_t cols, const _ColumnRun *runs, Py_ssize_t n_runs,
                                  floating *ext, floating *t, floating *acc,
                                  floating *kscratch, floating *sum_buf) noexcept nogil:
    """The block of `rows` x `cols` outputs at (r0, c0): per term, the column pass of each
    column run of the block's extended columns into t, then the row pass of t's rows into y
    (the first term) or added to it (the others); sum_buf holds a streamed sum of terms."""
    cdef Py_ssize_t col_k = job.col_k, row_k = job.row_k, t_ld = job.t_ld
    cdef Py_ssize_t in_rows = rows + col_k - 1
    cdef const Py_ssize_t *rowmap = job.rowmap + r0
    cdef floating fill = <floating>job.fill
    cdef Py_ssize_t s, r, k, d, length, first, term, c_first, c_taps, r_first, r_taps
    cdef floating *trow
    cdef floating *yr
    cdef floating tmp, t_fill
    cdef const floating *source
    cdef const floating *cw
    cdef const floating *rw
    # Rows read in place when the block's input rows are consecutive image rows (every block
    # but those at the top and bottom edges).
    cdef bint in_place = rowmap[0] >= 0 and job.src_dtype < 0
    for r in range(1, in_rows):
        if rowmap[r] != rowmap[0] + r:
            in_place = False
            break
    cdef Py_ssize_t ldx = job.x_row // job.item
    if not in_place:
        # Every run's extended rows once, whatever the number of terms: run s takes in_rows
        # rows of its own length at ext + in_rows * dst (the runs tile the extended columns).
        for s in range(n_runs):
            if runs[s].step == 0:
                continue
            d, length = runs[s].dst, runs[s].length
            first = runs[s].src if runs[s].step == 1 else runs[s].src - length + 1
            for r in range(in_rows):
                trow = ext + in_rows * d + r * length
                if rowmap[r] < 0:
                    for k in range(length):
                        trow[k] = fill
                elif job.src_dtype >= 0:
                    _convert_run(job.src_dtype, image + rowmap[r] * job.x_row, job.src_item,
                                 first, 1, length, trow)
                else:
                    memcpy(trow, <const floating *>(image + rowmap[r] * job.x_row) + first,
                           length * sizeof(floating))
    cdef floating *yrow = <floating *>(<char *>y + r0 * job.y_row) + c0
    cdef Py_ssize_t ldy = job.y_row // job.item
    # Where the terms accumulate: the output rows, or, when a sum of terms is streamed, the
    # thread's block buffer, from which the last term's row pass stores the sum (fc_sum_nt).
    cdef bint summed = job.stream and job.n_terms > 1
    cdef floating *base = sum_buf if summed else yrow
    cdef Py_ssize_t base_ld = job.t_ld if summed else ldy
    # Single-term streamed rows are stored by the row pass itself (corr1d_nt).
    cdef bint row_nt = job.stream and job.n_terms == 1
    cdef bint col_identity, row_identity
    cdef Py_ssize_t lo, hi, ld
    # Image rows read in place from an image too large for the caches (the streamed outputs'
    # threshold): the column pass prefetches its next band's rows, as the tiles do.
    cdef int prefetch = FC_CORR_PREFETCH if job.stream and in_place else 0
    for term in range(job.n_terms):
        c_first, c_taps = job.col_span[2 * term], job.col_span[2 * term + 1]
        r_first, r_taps = job.row_span[2 * term], job.row_span[2 * term + 1]
        cw = col_w + term * col_k + c_first
        rw = row_w + term * row_k + r_first
        t_fill = <floating>job.t_fill[term]
        # A pass of one tap of exactly 1 is a copy (laplace's terms are such pairs): the other
        # pass then reads the image rows in place or writes the term's rows itself, and the
        # copy, a round trip of the block through the intermediate, is never made.
        col_identity = c_taps == 1 and cw[0] == 1 and in_place
        row_identity = r_taps == 1 and rw[0] == 1 and not row_nt
        if col_identity:
            for r in range(rows):
                _row_from_image(job, <const floating *>(
                                    image + (rowmap[0] + r + c_first) * job.x_row),
                                runs, n_runs, r_first, r_taps, rw, t_fill, ext,
                                base + r * base_ld if term == 0 else acc, cols, row_nt,
                                kscratch)
                if term > 0:
                    _add_term(job, term, acc, base + r * base_ld, yrow + r * ldy, cols)
            continue
        for s in range(n_runs):
            d, length = runs[s].dst, runs[s].length
            if runs[s].step == 0:
                for r in range(rows):
                    trow = t + r * t_ld + d
                    for k in range(length):
                        trow[k] = t_fill
                continue
            if in_place:
                # The run's image columns in increasing order; a mirrored run is reversed
                # after.
                first = runs[s].src if runs[s].step == 1 else runs[s].src - length + 1
                source = <const floating *>(image + (rowmap[0] + c_first) * job.x_row) + first
                ld = ldx
            else:
                source = ext + in_rows * d + c_first * length
                ld = length
            if row_identity and term == 0 and runs[s].step == 1:
                # A run read in order writes its columns of the block (the rest of t is
                # never read).
                lo, hi = max(d, r_first), min(d + length, r_first + cols)
                if lo < hi:
                    _corr_tile(job.table, source + (lo - d), ld, cw, c_taps, 1,
                               base + (lo - r_first), base_ld, rows, hi - lo, kscratch,
                               prefetch)
                continue
            _corr_tile(job.table, source, ld, cw, c_taps, 1, t + d, t_ld, rows, length,
                       kscratch, prefetch)
            if runs[s].step == -1:
                for r in range(rows):
                    trow = t + r * t_ld + d
                    for k in range(length // 2):
                        tmp = trow[k]
                        trow[k] = trow[length - 1 - k]
                        trow[length - 1 - k] = tmp
        for r in range(rows):
            yr = yrow + r * ldy
            trow = t + r * t_ld + r_first
            if row_identity and term == 0:
                # The columns the runs read in order did not write.
                for s in range(n_runs):
                    if runs[s].step == 1:
                        continue
                    lo = max(runs[s].dst, r_first) - r_first
                    hi = min(runs[s].dst + runs[s].length, r_first + cols) - r_first
                    for k in range(lo, hi):
                        base[r * base_ld + k] = trow[k]
            elif row_identity:
                _add_term(job, term, trow, base + r * base_ld, yr, cols)
            elif row_nt:
                _corr_row_nt(job.table, trow, rw, r_taps, yr, cols, kscratch)
            elif term == 0:
                _corr_row(job.table, trow, rw, r_taps, base + r * base_ld, cols, kscratch)
            else:
                _corr_row(job.table, trow, rw, r_taps, acc, cols, kscratch)
                _add_term(job, term, acc, base + r * base_ld, yr, cols)


cdef inline Py_ssize_t _t_row_ld(Py_ssize_t n, Py_ssize_t item) noexcept nogil:
    """The row stride of a transposed block's buffers (extended rows, the row pass's block)
    for rows of n elements: whole lines, and not a multiple of 4 KiB (rows that far apart
    share the L1's sets)."""
    cdef Py_ssize_t ld = (n * item + 63) // 64 * 64
    if ld % 4096 == 0:
        ld += 64
    return ld // item


cdef inline void _separable_block_t(const _SepJob *job, const float *col_w,
                                    const float *row_w, const char *image, float *y,
                                    Py_ssize_t wr0, Py_ssize_t wc0, Py_ssize_t wrows,
                                    Py_ssize_t wcols, Py_ssize_t r0, Py_ssize_t c0,
                                    Py_ssize_t rows, Py_ssize_t cols, const _ColumnRun *runs,
                                    Py_ssize_t n_runs, float *ext, float *tt,
                                    float *pb) noexcept nogil:
    """The block of `rows` x `cols` outputs at (r0, c0), computed over the window of `wrows` x
    `wcols` outputs at (wr0, wc0) that holds it, by transposed passes: per term, the column pass
    of the window's extended columns into tt, transposed (row e of tt, t_ld apart, holds
    extended column e of the window's rows), then the row pass of tt, which stores the window
    the right way round: straight into the output where the window is the block and the
    term is the first, else into pb and from there into the output (copied, or added as
    _separable_block adds a later term; transposed jobs never stream).  A run of columns
    narrower than a vector, or mirrored, takes its column pass over the vector of image
    columns that holds it, into the rows past tt's, and its columns are copied from there in
    their order.  float32 only: fc_colt has no float64 form."""
    cdef Py_ssize_t col_k = job.col_k, row_k = job.row_k, ld_t = job.t_ld, lanes = job.lanes
    cdef Py_ssize_t ext_w = wcols + row_k - 1, in_rows = wrows + col_k - 1
    cdef Py_ssize_t ldx = job.x_row // job.item, ldy = job.y_row // job.item
    cdef const Py_ssize_t *rowmap = job.rowmap + wr0
    cdef float *win = tt + ext_w * ld_t
    cdef fc_colt_f32_fn colt = job.table.colt_f32
    cdef Py_ssize_t s, r, k, q, d, length, step, p, plen, lo, wlo, term
    cdef Py_ssize_t c_first, c_taps, r_first, r_taps
    cdef const float *cw
    cdef const float *rw
    cdef const float *src0
    cdef float *trow
    cdef float t_fill
    cdef bint in_place = rowmap[0] >= 0 and job.src_dtype < 0
    for r in range(1, in_rows):
        if rowmap[r] != rowmap[0] + r:
            in_place = False
            break
    cdef Py_ssize_t ld_e = _t_row_ld(ext_w, sizeof(float))
    if not in_place:
        _extend_rows(image, job.x_row, rowmap, in_rows, ext_w, runs, n_runs,
                     <float>job.fill, ext, job.src_dtype, job.src_item, ld_e)
    cdef float *yrow = <float *>(<char *>y + r0 * job.y_row) + c0
    cdef bint whole = wr0 == r0 and wc0 == c0 and wrows == rows and wcols == cols
    cdef float *prow
    for term in range(job.n_terms):
        c_first, c_taps = job.col_span[2 * term], job.col_span[2 * term + 1]
        r_first, r_taps = job.row_span[2 * term], job.row_span[2 * term + 1]
        cw = col_w + term * col_k + c_first
        rw = row_w + term * row_k + r_first
        t_fill = <float>job.t_fill[term]
        if in_place:
            src0 = <const float *>(image + (rowmap[0] + c_first) * job.x_row)
            for s in range(n_runs):
                d, length, step = runs[s].dst, runs[s].length, runs[s].step
                if step == 0:
                    continue
                if step == 1 and length >= lanes:
                    colt(src0 + runs[s].src, ldx, cw, c_taps, tt + d * ld_t, ld_t, wrows,
                         length)
                    continue
                p = 0
                while p < length:
                    plen = min(lanes, length - p)
                    lo = runs[s].src + p if step == 1 else runs[s].src - p - plen + 1
                    wlo = min(lo, job.x_cols - lanes)
                    colt(src0 + wlo, ldx, cw, c_taps, win, ld_t, wrows, lanes)
                    for q in range(plen):
                        memcpy(tt + (d + p + q) * ld_t,
                               win + (runs[s].src + step * (p + q) - wlo) * ld_t,
                               wrows * sizeof(float))
                    p += plen
        else:
            colt(ext + c_first * ld_e, ld_e, cw, c_taps, tt, ld_t, wrows, ext_w)
        # Columns outside the image take the term's fill, as _separable_block's do.
        for s in range(n_runs):
            if runs[s].step == 0:
                for q in range(runs[s].length):
                    trow = tt + (runs[s].dst + q) * ld_t
                    for k in range(wrows):
                        trow[k] = t_fill
        if whole and term == 0:
            colt(tt + r_first * ld_t, ld_t, rw, r_taps, yrow, ldy, wcols, wrows)
            continue
        colt(tt + r_first * ld_t, ld_t, rw, r_taps, pb, job.pass_ld, wcols, wrows)
        for r in range(rows):
            prow = pb + (r0 - wr0 + r) * job.pass_ld + (c0 - wc0)
            if term > 0:
                _add_term(job, term, prow, yrow + r * ldy, yrow + r * ldy, cols)
            else:
                memcpy(yrow + r * ldy, prow, cols * sizeof(float))


cdef inline void _add_term(const _SepJob *job, Py_ssize_t term, const floating *row,
                           floating *base_row, floating *yr, Py_ssize_t cols) noexcept nogil:
    """A later term's row added to the block's sum: in place, or, for the last term of a
    streamed sum, stored with the sum into the output."""
    cdef Py_ssize_t k
    if job.stream and term == job.n_terms - 1:
        if floating is float:
            job.table.sum_nt_f32(base_row, row, yr, cols)
        else:
            job.table.sum_nt_f64(base_row, row, yr, cols)
    else:
        for k in range(cols):
            base_row[k] += row[k]


cdef inline void _row_from_image(const _SepJob *job, const floating *xrow,
                                 const _ColumnRun *runs, Py_ssize_t n_runs, Py_ssize_t r_first,
                                 Py_ssize_t r_taps, const floating *rw, floating t_fill,
                                 floating *erow, floating *dst, Py_ssize_t cols, bint nt,
                                 floating *kscratch) noexcept nogil:
    """The row pass of a term whose column pass is the identity, for one row into dst (stored
    non-temporally with nt): the outputs whose taps all fall in the widest run read in order
    read the image row xrow in place; the others read the extended columns they need, built
    in erow."""
    cdef Py_ssize_t s, k, d, length, lo, hi, p, best = -1, ja = cols, jb = cols
    for s in range(n_runs):
        if runs[s].step == 1 and (best < 0 or runs[s].length > runs[best].length):
            best = s
    if best >= 0:
        d, length = runs[best].dst, runs[best].length
        ja = min(max(d - r_first, 0), cols)
        jb = max(min(d + length - r_first - r_taps + 1, cols), ja)
        if ja == jb:
            ja = jb = cols
    # The extended columns the outputs [0, ja) and [jb, cols) read.
    cdef Py_ssize_t spans[4]
    spans[0], spans[1] = r_first, ja + r_first + r_taps - 1
    spans[2], spans[3] = jb + r_first, cols + r_first + r_taps - 1
    for p in range(0, 4, 2):
        for s in range(n_runs):
            d, length = runs[s].dst, runs[s].length
            lo, hi = max(d, spans[p]), min(d + length, spans[p + 1])
            if lo >= hi:
                continue
            if runs[s].step == 0:
                for k in range(lo, hi):
                    erow[k] = t_fill
            elif runs[s].step == 1:
                memcpy(erow + lo, xrow + runs[s].src + (lo - d), (hi - lo) * sizeof(floating))
            else:
                for k in range(lo, hi):
                    erow[k] = xrow[runs[s].src - (k - d)]
    if ja > 0:
        _corr_row(job.table, erow + r_first, rw, r_taps, dst, ja, kscratch)
    if ja < jb:
        xrow = xrow + runs[best].src + (ja + r_first - runs[best].dst)
        if nt:
            _corr_row_nt(job.table, xrow, rw, r_taps, dst + ja, jb - ja, kscratch)
        else:
            _corr_row(job.table, xrow, rw, r_taps, dst + ja, jb - ja, kscratch)
    if jb < cols:
        _corr_row(job.table, erow + jb + r_first, rw, r_taps, dst + jb, cols - jb, kscratch)


cdef inline void _corr_row(const fc_kernel_table *table, const floating *x, const floating *w,
                           Py_ssize_t k, floating *y, Py_ssize_t n,
                           floating *kscratch) noexcept nogil:
    if floating is float:
        table.corr1d_f32(x, w, k, y, n, kscratch)
    else:
        table.corr1d_f64(x, w, k, y, n, kscratch)


cdef inline void _corr_row_nt(const fc_kernel_table *table, const floating *x,
                             const floating *w, Py_ssize_t k, floating *y, Py_ssize_t n,
                             floating *kscratch) noexcept nogil:
    if floating is float:
        table.corr1d_nt_f32(x, w, k, y, n, kscratch)
    else:
        table.corr1d_nt_f64(x, w, k, y, n, kscratch)


cdef inline void _corr_tile(const fc_kernel_table *table, const floating *x, Py_ssize_t ldx,
                            const floating *w, Py_ssize_t kh, Py_ssize_t kw, floating *y,
                            Py_ssize_t ldy, Py_ssize_t rows, Py_ssize_t cols,
                            floating *kscratch, int flags=0) noexcept nogil:
    if floating is float:
        table.corr_f32(x, ldx, w, kh, kw, y, ldy, rows, cols, kscratch, flags)
    else:
        table.corr_f64(x, ldx, w, kh, kw, y, ldy, rows, cols, kscratch, flags)
