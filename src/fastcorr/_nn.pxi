# Included by _core.pyx: the convolutional layer (fastcorr.nn), forward and weight gradient.

# ----------------------------------------------------------------------------- nn
# The Python layer (fastcorr/nn.py) turns a layer with stride, padding and dilation into a few
# stride-1 'valid' correlations over "planes": plane (c, k) of image n is channel c read through
# a row map and a column map (k picks them; -1 entries are zero), and its kernel is the taps of
# phase k of the weights (nn.py's _axis_parts says which); padding and the gradient's
# upsampling are map entries.  This file builds a band of every plane of one image and group in the thread's
# scratch and runs the kernels over it, along the band's rows as one flat sequence (so no row is
# padded to whole vectors: the outputs whose window crosses a row end are computed and
# dropped); nothing the size of an image is allocated.
cdef struct _ConvJob:
    const char *x
    Py_ssize_t xs_n, xs_c, xs_h, xs_w
    Py_ssize_t n_img, groups, cg, og, pk, n_planes
    const Py_ssize_t *plane_rmap  # pk entries: the row map of phase k
    const Py_ssize_t *plane_cmap  # pk entries: the column map (its runs)
    const Py_ssize_t *rowmaps
    Py_ssize_t rmap_len  # entries past it are -1
    # Per column map, plane columns [dst, dst + length) take source columns src, src + step,
    # ... (src -1: zero); any step, where the core's other users of _ColumnRun have -1, 0, 1.
    const _ColumnRun *runs
    const Py_ssize_t *run_count
    Py_ssize_t run_width
    Py_ssize_t ldp  # plane row stride, elements
    Py_ssize_t plane_elems  # one plane's band: band + kh - 1 rows, then zeros the flat reads reach
    Py_ssize_t kh, kw
    const char *w
    Py_ssize_t w_group  # bytes of one group's weights
    Py_ssize_t w_block  # bytes of one block of ob output channels
    Py_ssize_t ob  # channels per weight block: the table's conv_channels, or 1 (corr3)
    # The output (forward) or the output gradient (weight gradient).
    char *y
    Py_ssize_t ys_n, ys_c, ys_h, ys_w, oh, ow
    const char *bias
    Py_ssize_t band, n_bands, item
    Py_ssize_t lanes, flat  # the kernels' vector; outputs of a full band, whole vectors
    const fc_kernel_table *table
    # Per-thread scratch offsets: plane pointers, planes, output (or gradient) band, kernel
    # scratch; the weight gradient's partial sums are at offset 0 of each thread's scratch.
    Py_ssize_t ptr_off, planes_off, out_off, kscratch_off, per_thread
    Py_ssize_t taps_off  # weight gradient: tap offsets (ptrdiff_t) in the scratch
    Py_ssize_t dw_elems
    bint accumulate  # forward: add to y instead of storing
    Py_ssize_t ldg  # weight gradient: row stride of the output gradient's band
    bint wgrad1  # weight gradient: one output channel per group, by fc_wgrad1
    bint stream  # forward: a band's rows stored non-temporally as one run (brow_off: bias)
    Py_ssize_t brow_off
    # Forward: where the thread's scratch keeps the band row r0 its planes were last built for
    # (-1: none yet), whose zeros (the padding) the next build of the same band leaves as they
    # are: see _conv_planes.
    Py_ssize_t built_off


cdef enum:
    # A band's planes take at most this much of a thread's scratch (all planes of one group,
    # band + kh - 1 rows each), or one block of rows where even that is more.  Reused by
    # every output channel of the group, they should stay in L2 (1-2 MiB on current cores).
    NN_PLANES_BUDGET = 512 * 1024
    # A band's outputs of one channel block (the kernel writes them, then they are copied into
    # the result) take at most this much, so they are still in L1/L2 when copied: with few
    # input channels the planes' budget alone would allow bands of hundreds of rows.
    NN_OUT_BUDGET = 64 * 1024
    NN_WGRAD_BUDGET = 1024 * 1024
    # Layers of few input planes (per group) skip the flat sequence's copies: the forward runs
    # each output channel through the single-channel 3-D kernel straight into the result, the
    # weight gradient reads the images and the output gradient in place, row by row (where the
    # path has masked loads for the rows' tails).  The copies cost a pass over the output (the
    # forward's band buffer into the result) or over the output gradient (the weight
    # gradient's zero-padded band) for every C * k * k multiply-adds per output, which is most
    # of the time when C is small and the output outgrows L2; the single-channel kernels in
    # turn read each plane once per output channel instead of once per block of them.  Intel
    # Xeon (avx512, 2 threads), forward, flat against single-channel, best of 45 in alternating
    # processes, (N, C, HxW, O, k): C=1 (64, 28x28, 8, 5) float32 1.13x, float64 1.48x, (16,
    # 256x256, 8, 5) 1.37x / 1.77x; C=2 (8, 224x224, 32, 3) 1.66x / 1.38x; C=3 (8, 224x224,
    # 16 / 4 / 2, 3) 1.05-1.46x; C=4 (8, 128x128, 16, 3) 0.95x / 1.05x, (8, 128x128, 8, 5)
    # 1.07x / 1.12x; but C=3 (16, 64x64, 64, 3), whose outputs stay in L2, 0.82x / 0.95x, and
    # C=6, 8, 12 0.70-0.91x.  So: at most NN_FEW_PLANES_ANY planes, or at most NN_FEW_PLANES
    # with at least NN_FEW_PLANES_OUTPUTS outputs per plane.
    NN_FEW_PLANES_ANY = 2
    NN_FEW_PLANES = 4
    NN_FEW_PLANES_OUTPUTS = 8192


cdef inline bint _few_planes(Py_ssize_t n_planes, Py_ssize_t outputs) noexcept nogil:
    return n_planes <= NN_FEW_PLANES_ANY or (n_planes <= NN_FEW_PLANES
                                             and outputs >= NN_FEW_PLANES_OUTPUTS)


def few_planes(Py_ssize_t n_planes, Py_ssize_t outputs):
    """Whether a layer of `n_planes` input planes per group and `outputs` outputs per plane
    runs the single-channel kernels (see NN_FEW_PLANES): nn.py lays its weights out for them."""
    return _few_planes(n_planes, outputs)


cdef char *_address(arr) except? NULL:
    """The address of arr's first element, through the buffer protocol: .ctypes.data builds a
    ctypes object, 3 us a call, five calls a layer."""
    cdef Py_buffer view
    PyObject_GetBuffer(arr, &view, PyBUF_STRIDES)
    cdef char *p = <char *>view.buf
    PyBuffer_Release(&view)
    return p


cdef Py_ssize_t _runs_of(const Py_ssize_t[::1] cmap, Py_ssize_t width, _ColumnRun *runs) noexcept:
    """cmap as runs of a constant step over `width` plane columns (entries past the map: zero);
    returns their number."""
    cdef Py_ssize_t n = cmap.shape[0], c = 0, r, n_runs = 0, src, step
    while c < width:
        src = cmap[c] if c < n else -1
        r = c + 1
        if src < 0:
            step = 0
            while r < width and (r >= n or cmap[r] < 0):
                r += 1
        else:
            step = cmap[r] - src if r < n and cmap[r] >= 0 else 1
            while r < n and cmap[r] >= 0 and cmap[r] - cmap[r - 1] == step:
                r += 1
        runs[n_runs].dst, runs[n_runs].length = c, r - c
        runs[n_runs].src, runs[n_runs].step = src, step
        n_runs += 1
        c = r
    return n_runs


cdef int _conv_job(_ConvJob *job, x, w, y, const Py_ssize_t[::1] plane_rmap,
                   const Py_ssize_t[::1] plane_cmap, const Py_ssize_t[:, ::1] rowmaps,
                   colmaps, Py_ssize_t groups, Py_ssize_t og, Py_ssize_t kh, Py_ssize_t kw,
                   Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t ob, list keep) except -1:
    """Fills the parts of a job both entry points share; `keep` holds what its pointers need
    alive (the run table)."""
    cdef const fc_kernel_table *t = fc_active()
    cdef Py_ssize_t item = x.itemsize, lanes = t.lanes_f32 if item == 4 else t.lanes_f64
    cdef Py_ssize_t n_img = x.shape[0], c_in = x.shape[1], pk = plane_rmap.shape[0]
    cdef Py_ssize_t k, width
    if c_in % groups or x.ndim != 4 or y.ndim != 4:
        raise ValueError("conv: x needs groups * cg channels")
    job.table, job.item = t, item
    job.x = <const char *>_address(x)
    job.xs_n, job.xs_c, job.xs_h, job.xs_w = x.strides
    job.n_img, job.groups, job.cg, job.og, job.pk = n_img, groups, c_in // groups, og, pk
    job.n_planes = job.cg * pk
    job.kh, job.kw, job.oh, job.ow, job.ob = kh, kw, oh, ow, ob
    for k in range(pk):
        if not (0 <= plane_rmap[k] < rowmaps.shape[0] and 0 <= plane_cmap[k] < len(colmaps)):
            raise ValueError("conv: a plane names a map that does not exist")
    job.plane_rmap, job.plane_cmap = &plane_rmap[0], &plane_cmap[0]
    job.rowmaps, job.rmap_len = &rowmaps[0, 0], rowmaps.shape[1]
    # The maps' bounds in C variables: x.shape inside these loops was a Python lookup per
    # entry, a third of a small layer's call.
    cdef Py_ssize_t e, r, h = x.shape[2], wd = x.shape[3]
    for r in range(rowmaps.shape[0]):
        for e in range(rowmaps.shape[1]):
            if not -1 <= rowmaps[r, e] < h:
                raise ValueError("conv: a row map entry lies outside the input")
    cdef const Py_ssize_t[::1] cm
    for cm in colmaps:
        for e in range(cm.shape[0]):
            if not -1 <= cm[e] < wd:
                raise ValueError("conv: a column map entry lies outside the input")
    # Plane rows a line longer where they would be a multiple of 4 KiB apart and crowd the
    # same L1 sets.
    job.lanes = lanes
    width = ow + kw - 1
    job.ldp = width
    if (job.ldp * item) % 4096 == 0:
        job.ldp += 64 // item
    width = job.ldp
    # Map k's runs start at k * width (a map has at most width runs).
    runs = np.empty((len(colmaps) * width, 4), dtype=np.intp)
    counts = np.empty(len(colmaps), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] rv = runs
    cdef Py_ssize_t[::1] cv = counts
    for k in range(len(colmaps)):
        cv[k] = _runs_of(colmaps[k], width, <_ColumnRun *>&rv[k * width, 0])
    keep.extend([runs, counts])
    job.runs = <const _ColumnRun *>&rv[0, 0]
    job.run_count, job.run_width = &cv[0], width
    job.w = <const char *>_address(w)
    job.y = <char *>_address(y)
    job.ys_n, job.ys_c, job.ys_h, job.ys_w = y.strides
    return 0


cdef void _conv_band_size(_ConvJob *job, Py_ssize_t out_channels, Py_ssize_t extra_planes,
                          Py_ssize_t budget, int n_threads) noexcept:
    """The band height: its planes and extra_planes more (within `budget`) and out_channels
    rows of outputs (within NN_OUT_BUDGET), at least one row, and small enough to give every
    thread a few units."""
    cdef Py_ssize_t row_bytes = (job.n_planes + extra_planes) * job.ldp * job.item
    cdef Py_ssize_t flat
    cdef Py_ssize_t band = budget // max(row_bytes, 1) - (job.kh - 1)
    if out_channels:
        band = min(band, NN_OUT_BUDGET // max(out_channels * job.ldp * job.item, 1))
    band = min(max(band, 1), job.oh)
    while band > 1 and job.n_img * job.groups * ((job.oh + band - 1) // band) < 4 * n_threads:
        band = max(band // 2, 1)
    job.band = band
    job.n_bands = (job.oh + band - 1) // band
    flat = (band - 1) * job.ldp + job.ow
    job.flat = (flat + job.lanes - 1) // job.lanes * job.lanes
    # The flat reads of the last vectors go up to kw - 1 + lanes past the band's rows.
    job.plane_elems = (band + job.kh - 1) * job.ldp + job.kw + job.lanes


cdef inline void _zero(char *d, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned long long z = 0
    if n > 256:
        memset(d, 0, n)
        return
    i = 0
    while i + 16 <= n:
        memset(d + i, 0, 16)
        i += 16
    if i + 8 <= n:
        memcpy(d + i, &z, 8)
        i += 8
    if i < n:
        memcpy(d + i, &z, 4)


cdef inline Py_ssize_t _one_copy_run(const _ColumnRun *runs, Py_ssize_t n_runs) noexcept nogil:
    """The index of the only run that takes image columns, or -1 if there are several."""
    cdef Py_ssize_t s, one = -1
    for s in range(n_runs):
        if runs[s].src >= 0:
            if one >= 0:
                return -1
            one = s
    return one


cdef void _conv_planes(const _ConvJob *job, Py_ssize_t n, Py_ssize_t g, Py_ssize_t r0,
                       char *planes, const char **ptrs, bint zeros_ready=False) noexcept nogil:
    """Band r0 (band + kh - 1 rows) of every plane of image n, group g, into `planes`.

    With `zeros_ready` the planes already hold band r0 of some image and group of this job,
    and only the image's values are written: where the zeros go (padding, the rows' and the
    planes' ends) depends on the band alone.  Rewriting them took half of the copy of a 28x28
    layer's input gradient (8 planes of 24x24 padded to 32x32: a third of each plane)."""
    cdef Py_ssize_t rows_in = job.band + job.kh - 1, item = job.item, ldp = job.ldp
    cdef Py_ssize_t plane_bytes = job.plane_elems * item
    cdef Py_ssize_t p, c, k, t, ri, src, s, i, n_runs, one
    cdef const Py_ssize_t *rm
    cdef const _ColumnRun *runs
    cdef const char *row
    cdef const char *sp
    cdef char *dst
    cdef char *d
    cdef Py_ssize_t xs_w = job.xs_w, step_bytes
    for p in range(job.n_planes):
        c = g * job.cg + p // job.pk
        k = p % job.pk
        rm = job.rowmaps + job.plane_rmap[k] * job.rmap_len
        runs = job.runs + job.plane_cmap[k] * job.run_width
        n_runs = job.run_count[job.plane_cmap[k]]
        ptrs[p] = planes + p * plane_bytes
        one = _one_copy_run(runs, n_runs) if zeros_ready else -1
        if one >= 0 and runs[one].step * xs_w == item and job.xs_h % 4 == 0:
            # Only the image's values to write, one run of columns per row: each run of
            # consecutive source rows in one call (the kernel table's vector copy) instead of a
            # memcpy call per row.
            t = 0
            while t < rows_in:
                src = rm[r0 + t] if r0 + t < job.rmap_len else -1
                if src < 0:
                    t += 1
                    continue
                s = t + 1
                while s < rows_in and r0 + s < job.rmap_len and rm[r0 + s] == src + (s - t):
                    s += 1
                job.table.copy_rows(
                    <float *>(planes + p * plane_bytes + (t * ldp + runs[one].dst) * item),
                    ldp * item // 4,
                    <const float *>(job.x + n * job.xs_n + c * job.xs_c + src * job.xs_h
                                    + runs[one].src * xs_w),
                    job.xs_h // 4, s - t, runs[one].length * item // 4)
                t = s
            continue
        if not zeros_ready:
            memset(planes + p * plane_bytes + rows_in * ldp * item, 0,
                   (job.plane_elems - rows_in * ldp) * item)
        for t in range(rows_in):
            ri = r0 + t
            src = rm[ri] if ri < job.rmap_len else -1
            dst = planes + p * plane_bytes + t * ldp * item
            if src < 0:
                if not zeros_ready:
                    memset(dst, 0, ldp * item)
                continue
            row = job.x + n * job.xs_n + c * job.xs_c + src * job.xs_h
            for s in range(n_runs):
                d = dst + runs[s].dst * item
                if runs[s].src < 0:
                    if not zeros_ready:
                        _zero(d, runs[s].length * item)
                    continue
                sp = row + runs[s].src * xs_w
                step_bytes = runs[s].step * xs_w
                if step_bytes == item:
                    memcpy(d, sp, runs[s].length * item)  # not _copy: see there
                elif item == 4:
                    for i in range(runs[s].length):
                        (<float *>d)[i] = (<const float *>(sp + i * step_bytes))[0]
                else:
                    for i in range(runs[s].length):
                        (<double *>d)[i] = (<const double *>(sp + i * step_bytes))[0]
            i = runs[n_runs - 1].dst + runs[n_runs - 1].length
            if i < ldp and not zeros_ready:
                _zero(dst + i * item, (ldp - i) * item)


def conv_forward(x, w, y, bias, const Py_ssize_t[::1] plane_rmap,
                 const Py_ssize_t[::1] plane_cmap, const Py_ssize_t[:, ::1] rowmaps,
                 list colmaps, Py_ssize_t groups, Py_ssize_t kh, Py_ssize_t kw, int n_threads,
                 bint accumulate=False):
    """The layer's output (added to y's values with `accumulate`): ``y[n, g*og + o] = bias + sum over the group's planes p of the valid
    correlation of plane p with w's kernel (o, p)``.

    Parameters
    ----------
    x : (N, C, H, W) float32/float64 ndarray, any strides
        The images; plane (c, k) of image n is ``x[n, c, rowmaps[plane_rmap[k]][t],
        colmaps[plane_cmap[k]][u]]`` (0 where a map entry is -1 or past its end).
    w : ndarray of x's dtype, C-contiguous
        The weights in the kernel's layout: (groups, og // ob (rounded up), cg * pk, kh, kw,
        ob) with ob the table's conv_channels, or (groups, og, cg * pk, kh, kw, 1) when og is
        1 or the planes are few (`few_planes`): those run each output channel through the
        single-channel 3-D kernel; planes are ordered channel-major (c * pk + k).
    y : (N, groups * og, OH, OW) ndarray of x's dtype, any strides, not overlapping x or w
        Written, never read.
    bias : (groups * og,) ndarray of x's dtype, C-contiguous, or None
    plane_rmap, plane_cmap : (pk,) intp
        Per phase, its row map (a row of rowmaps) and column map (an entry of colmaps).
    rowmaps : (n_rmaps, L) intp
    colmaps : list of 1-D C-contiguous intp arrays
    groups, kh, kw : int
        The groups and the (phase) kernel's size.
    n_threads : int
    """
    cdef _ConvJob job
    cdef list keep = []
    cdef Py_ssize_t og = y.shape[1] // groups, ob
    cdef const fc_kernel_table *t = fc_active()
    ob = 1 if og == 1 or (w.ndim == 6 and w.shape[5] == 1) else t.conv_channels
    if x.dtype != w.dtype or x.dtype != y.dtype or x.dtype.kind != "f" or x.itemsize not in (4, 8):
        raise ValueError("conv_forward: x, w and y need one float32/float64 dtype")
    if not w.flags.c_contiguous or w.ndim != 6 or w.shape[5] != ob or \
            w.shape[:5] != (groups, (og + ob - 1) // ob, x.shape[1] // groups * plane_rmap.shape[0], kh, kw):
        raise ValueError("conv_forward: w is not in the kernel's layout")
    if bias is not None and (bias.dtype != x.dtype or bias.shape != (y.shape[1],)
                             or not bias.flags.c_contiguous):
        raise ValueError("conv_forward: bias needs one value per output channel")
    if y.shape[0] != x.shape[0] or y.shape[1] % groups or y.shape[2] < 1 or y.shape[3] < 1:
        raise ValueError("conv_forward: y's shape does not fit")
    _conv_job(&job, x, w, y, plane_rmap, plane_cmap, rowmaps, colmaps, groups, og, kh, kw,
              y.shape[2], y.shape[3], ob, keep)
    if x.shape[0] == 0:
        return
    job.bias = NULL if bias is None else <const char *>_address(bias)
    job.accumulate = accumulate
    # An output past the caches (the core's rule, _stream_min) whose rows follow one another
    # is stored non-temporally: a band's rows of a channel, packed in its buffer, as one run
    # (only the run's two ends share cache lines with plain stores; the thread fences once
    # after its units, in _run_units).
    job.stream = (not accumulate and y.strides[3] == y.itemsize
                  and y.strides[2] == y.shape[3] * y.itemsize
                  and y.size * y.itemsize >= _stream_min)
    job.w_block = (job.n_planes * kh * kw * ob) * job.item
    job.w_group = ((og + ob - 1) // ob) * job.w_block
    cdef double fmas = <double>x.shape[0] * y.shape[1] * y.shape[2] * y.shape[3] * job.n_planes * kh * kw
    n_threads = _worth_threads(fmas, n_threads)
    _conv_band_size(&job, ob, 0, NN_PLANES_BUDGET, n_threads)
    cdef Py_ssize_t n_units = job.n_img * groups * job.n_bands
    n_threads = _usable_threads(<int>min(n_threads, n_units))
    cdef Py_ssize_t line = 64, item = job.item
    job.ptr_off = 0
    job.planes_off = (job.n_planes * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
    job.out_off = job.planes_off + (job.n_planes * job.plane_elems * item + line - 1) // line * line
    job.kscratch_off = job.out_off + (ob * job.flat * item + line - 1) // line * line
    job.brow_off = job.kscratch_off + (
        (<Py_ssize_t>fc_scratch3_elems(job.n_planes, kh, kw) * item + line - 1) // line * line)
    job.built_off = job.brow_off + (job.band * job.ow * item + line - 1) // line * line
    job.per_thread = job.built_off + line
    cdef char *scratch = <char *>malloc(n_threads * job.per_thread)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t k
    for k in range(n_threads):
        (<Py_ssize_t *>(scratch + k * job.per_thread + job.built_off))[0] = -1
    cdef double unit_fmas = <double>job.flat * og * job.n_planes * kh * kw
    try:
        _run_units(_conv_unit, &job, n_units, <Py_ssize_t>(CHUNK_FMAS / max(unit_fmas, 1.0)),
                   n_threads, scratch, job.per_thread)
    finally:
        free(scratch)


cdef void _conv_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    cdef const _ConvJob *job = <const _ConvJob *>job_
    cdef Py_ssize_t band_i = u % job.n_bands, ng = u // job.n_bands
    cdef Py_ssize_t g = ng % job.groups, img = ng // job.groups
    cdef Py_ssize_t r0 = band_i * job.band, rows = min(job.band, job.oh - r0)
    cdef const char **ptrs = <const char **>(scratch + job.ptr_off)
    cdef Py_ssize_t item = job.item, ldp = job.ldp
    # One output channel per group (the single-channel 3-D kernel, which reads and writes
    # exactly its rows and columns): the planes are read in place where the band's rows are
    # consecutive image rows, and the outputs written straight into the result.
    cdef bint single = job.ob == 1
    cdef Py_ssize_t *built = <Py_ssize_t *>(scratch + job.built_off)
    if single and _planes_in_place(job, img, g, r0, rows, ptrs):
        ldp = job.xs_h // item
    else:
        _conv_planes(job, img, g, r0, scratch + job.planes_off, ptrs, built[0] == r0)
        built[0] = r0
    cdef bint direct = single and not job.accumulate and job.ys_w == item and job.ys_h % item == 0
    cdef Py_ssize_t o0, nob, o, r, i, ldo = job.flat
    # This band's outputs as whole vectors of the flat sequence.
    cdef Py_ssize_t n = ((rows - 1) * ldp + job.ow + job.lanes - 1) // job.lanes * job.lanes
    cdef const char *wg = job.w + g * job.w_group
    cdef char *outb = scratch + job.out_off
    cdef const fc_kernel_table *t = job.table
    cdef char *yrow
    cdef const char *brow
    cdef double b
    o0 = 0
    while o0 < job.og:
        nob = min(job.ob, job.og - o0)
        if single:
            yrow = job.y + img * job.ys_n + (g * job.og + o0) * job.ys_c + r0 * job.ys_h
            if item == 4:
                t.corr3_f32(<const float **>ptrs, ldp, <const float *>(wg + o0 * job.w_block),
                            job.n_planes, job.kh, job.kw,
                            <float *>yrow if direct else <float *>outb,
                            job.ys_h // item if direct else job.ldp, rows, job.ow,
                            <float *>(scratch + job.kscratch_off))
            else:
                t.corr3_f64(<const double **>ptrs, ldp, <const double *>(wg + o0 * job.w_block),
                            job.n_planes, job.kh, job.kw,
                            <double *>yrow if direct else <double *>outb,
                            job.ys_h // item if direct else job.ldp, rows, job.ow,
                            <double *>(scratch + job.kscratch_off))
            if direct:
                if job.bias != NULL:
                    for r in range(rows):
                        if item == 4:
                            _add_row(<float *>(yrow + r * job.ys_h), job.ow,
                                     (<const float *>job.bias)[g * job.og + o0])
                        else:
                            _add_row(<double *>(yrow + r * job.ys_h), job.ow,
                                     (<const double *>job.bias)[g * job.og + o0])
                o0 += nob
                continue
        elif item == 4:
            t.conv_f32(<const float **>ptrs, ldp, job.n_planes,
                       <const float *>(wg + (o0 // job.ob) * job.w_block), job.kh, job.kw, nob,
                       <float *>outb, ldo, n)
        else:
            t.conv_f64(<const double **>ptrs, ldp, job.n_planes,
                       <const double *>(wg + (o0 // job.ob) * job.w_block), job.kh, job.kw, nob,
                       <double *>outb, ldo, n)
        for o in range(nob):
            b = 0.0
            if job.bias != NULL:
                b = (<const float *>job.bias)[g * job.og + o0 + o] if item == 4 else \
                    (<const double *>job.bias)[g * job.og + o0 + o]
            if job.stream:
                _stream_band(job, outb + o * ldo * item, rows, b,
                             job.y + img * job.ys_n + (g * job.og + o0 + o) * job.ys_c
                             + r0 * job.ys_h, scratch + job.brow_off)
                continue
            for r in range(rows):
                yrow = job.y + img * job.ys_n + (g * job.og + o0 + o) * job.ys_c + (r0 + r) * job.ys_h
                brow = outb + (o * ldo + r * job.ldp) * item
                if job.accumulate:
                    if item == 4:
                        _accumulate_row(<const float *>brow, yrow, job.ys_w, job.ow, b)
                    else:
                        _accumulate_row(<const double *>brow, yrow, job.ys_w, job.ow, b)
                elif item == 4:
                    _store_row(<const float *>brow, yrow, job.ys_w, job.ow, b, job.bias != NULL)
                else:
                    _store_row(<const double *>brow, yrow, job.ys_w, job.ow, b, job.bias != NULL)
        o0 += nob


def conv_weight(x, dy, dw, const Py_ssize_t[::1] plane_rmap, const Py_ssize_t[::1] plane_cmap,
                const Py_ssize_t[:, ::1] rowmaps, list colmaps, Py_ssize_t groups,
                Py_ssize_t kh, Py_ssize_t kw, int n_threads):
    """The layer's weight gradient over its planes: ``dw[g*og + o, p, a, b] = sum over n, i, j
    of dy[n, g*og + o, i, j] * plane_p(n)[i + a, j + b]`` (planes as in conv_forward).

    dw : (groups * og, cg * pk, kh, kw) C-contiguous ndarray of x's dtype, overwritten.
    dy : (N, groups * og, OH, OW) ndarray of x's dtype, any strides.
    """
    cdef _ConvJob job
    cdef list keep = []
    cdef Py_ssize_t og = dy.shape[1] // groups
    cdef const fc_kernel_table *t = fc_active()
    if x.dtype != dy.dtype or x.dtype != dw.dtype or x.dtype.kind != "f" or x.itemsize not in (4, 8):
        raise ValueError("conv_weight: x, dy and dw need one float32/float64 dtype")
    if dy.shape[0] != x.shape[0] or dy.shape[1] % groups or dy.shape[2] < 1 or dy.shape[3] < 1:
        raise ValueError("conv_weight: dy's shape does not fit")
    if not dw.flags.c_contiguous or dw.shape != (dy.shape[1], x.shape[1] // groups * plane_rmap.shape[0], kh, kw):
        raise ValueError("conv_weight: dw's shape does not fit")
    _conv_job(&job, x, dw, dy, plane_rmap, plane_cmap, rowmaps, colmaps, groups, og, kh, kw,
              dy.shape[2], dy.shape[3], 1, keep)
    cdef Py_ssize_t item = job.item, line = 64, taps = kh * kw
    job.dw_elems = dw.size
    # Does the path have a one-channel block for this kernel size (asked with no rows)?
    job.wgrad1 = og == 1 and (
        t.wgrad1_f32(NULL, 0, job.kh, job.kw, NULL, 0, 0, 0, NULL) if item == 4
        else t.wgrad1_f64(NULL, 0, job.kh, job.kw, NULL, 0, 0, 0, NULL))
    dw[...] = 0
    if x.shape[0] == 0:
        return
    cdef double fmas = <double>x.shape[0] * dy.shape[1] * dy.shape[2] * dy.shape[3] * job.n_planes * taps
    n_threads = _worth_threads(fmas, n_threads)
    # The output gradient's band is read once per plane, like the planes: it shares their
    # budget, a larger one since every lane-sum of the kernel's accumulators (a few hundred
    # scalar adds per call) is paid once per band and plane.
    _conv_band_size(&job, 0, og, NN_WGRAD_BUDGET, n_threads)
    cdef Py_ssize_t n_units = job.n_img * groups * job.n_bands
    n_threads = _usable_threads(<int>min(n_threads, n_units))
    job.taps_off = (job.dw_elems * item + line - 1) // line * line
    job.ptr_off = job.taps_off + (taps * <Py_ssize_t>sizeof(Py_ssize_t) + line - 1) // line * line
    job.planes_off = job.ptr_off + (job.n_planes * <Py_ssize_t>sizeof(void *) + line - 1) // line * line
    job.out_off = job.planes_off + (job.n_planes * job.plane_elems * item + line - 1) // line * line
    job.ldg = (dy.shape[3] + job.lanes - 1) // job.lanes * job.lanes
    job.per_thread = job.out_off + (og * max(job.band * job.ldg, job.flat) * item + line - 1) // line * line
    cdef char *scratch = <char *>calloc(n_threads, job.per_thread)
    if scratch == NULL:
        raise MemoryError()
    cdef Py_ssize_t th, e
    cdef double unit_fmas = <double>job.flat * og * job.n_planes * taps
    cdef char *dwp = <char *>_address(dw)
    try:
        _run_units(_wgrad_unit, &job, n_units, <Py_ssize_t>(CHUNK_FMAS / max(unit_fmas, 1.0)),
                   n_threads, scratch, job.per_thread)
        # The threads' partial sums, in thread order.
        for th in range(n_threads):
            if item == 4:
                for e in range(job.dw_elems):
                    (<float *>dwp)[e] += (<float *>(scratch + th * job.per_thread))[e]
            else:
                for e in range(job.dw_elems):
                    (<double *>dwp)[e] += (<double *>(scratch + th * job.per_thread))[e]
    finally:
        free(scratch)


cdef void _wgrad_unit(const void *job_, Py_ssize_t u, char *scratch) noexcept nogil:
    cdef const _ConvJob *job = <const _ConvJob *>job_
    cdef Py_ssize_t band_i = u % job.n_bands, ng = u // job.n_bands
    cdef Py_ssize_t g = ng % job.groups, img = ng // job.groups
    cdef Py_ssize_t r0 = band_i * job.band, rows = min(job.band, job.oh - r0)
    cdef const char **ptrs = <const char **>(scratch + job.ptr_off)
    cdef Py_ssize_t o, r, i, p, a, b, item = job.item, ldp = job.ldp, taps = job.kh * job.kw
    cdef Py_ssize_t ldg, ldo, n_rows, n_cols
    cdef const char *gy = job.y + img * job.ys_n + g * job.og * job.ys_c + r0 * job.ys_h
    cdef char *grow
    cdef bint flat = False
    if job.wgrad1:
        _wgrad1_unit(job, img, g, r0, rows, scratch)
        return
    # A group with one output channel (depthwise layers) forms only taps products per input
    # value: copying the planes and the gradient cost it as long as the arithmetic.  Where the
    # planes are the image's own rows (stride 1, no padding) and the kernel reads row tails by
    # masked loads, it runs row by row on both in place; so does a layer of few input planes
    # (_few_planes), whose gradient copy is a pass over the output gradient for few products.
    # With more channels and planes the copy is shared by og * taps products per plane and the
    # flat sequence is the faster (measured on Zen 1, 64 channels of 56x56, 3x3: in place 30%
    # slower; Intel Xeon avx512, 16 and 64 planes 0.82-1.13x).
    if ((job.og == 1 or _few_planes(job.n_planes, job.oh * job.ow)) and job.table.wgrad_masked
            and job.ys_w == item and job.ys_h % item == 0
            and job.ys_c % item == 0 and _planes_in_place(job, img, g, r0, rows, ptrs)):
        ldp = job.xs_h // item
        ldg, ldo, n_rows, n_cols = job.ys_h // item, job.ys_c // item, rows, job.ow
    else:
        _conv_planes(job, img, g, r0, scratch + job.planes_off, ptrs)
        # A finite band runs its rows as one flat sequence, as the forward does, with zeros
        # where a window crosses a row end (0 times a finite value adds an exact 0).  A band
        # holding an infinity or NaN goes row by row, the kernel forming only the layer's
        # products: 0 times an infinity would be NaN.  Checked on the planes just copied (in
        # L1/L2) rather than by a pass over the whole input, which cost a sixth of a depthwise
        # layer's weight gradient.
        flat = _finite(scratch + job.planes_off, job.n_planes * job.plane_elems, item)
        if flat:
            ldg, ldo = ldp, job.flat
            n_rows, n_cols = 1, ((rows - 1) * ldp + job.ow + job.lanes - 1) // job.lanes * job.lanes
        else:
            ldg = job.ldg
            ldo, n_rows, n_cols = rows * ldg, rows, job.ow
        for o in range(job.og):
            grow = scratch + job.out_off + o * ldo * item
            for r in range(rows):
                if item == 4:
                    _load_row(gy + o * job.ys_c + r * job.ys_h, job.ys_w, job.ow,
                              <float *>grow + r * ldg)
                else:
                    _load_row(gy + o * job.ys_c + r * job.ys_h, job.ys_w, job.ow,
                              <double *>grow + r * ldg)
                if flat:  # the columns between rows, and after the last up to a whole vector
                    i = (r + 1) * ldg if r + 1 < rows else n_cols
                    _zero(grow + (r * ldg + job.ow) * item, (i - r * ldg - job.ow) * item)
        gy = scratch + job.out_off
    cdef Py_ssize_t *offs = <Py_ssize_t *>(scratch + job.taps_off)
    for a in range(job.kh):
        for b in range(job.kw):
            offs[a * job.kw + b] = a * ldp + b
    cdef Py_ssize_t ldw = job.n_planes * taps
    cdef char *dw = scratch  # this thread's partial sums, (groups * og, n_planes, kh, kw)
    for p in range(job.n_planes):
        if item == 4:
            job.table.wgrad_f32(<const float *>ptrs[p], ldp, offs, taps, <const float *>gy,
                                ldo, ldg, job.og, n_rows, n_cols,
                                <float *>dw + (g * job.og * job.n_planes + p) * taps, ldw)
        else:
            job.table.wgrad_f64(<const double *>ptrs[p], ldp, offs, taps, <const double *>gy,
                                ldo, ldg, job.og, n_rows, n_cols,
                                <double *>dw + (g * job.og * job.n_planes + p) * taps, ldw)


cdef void _wgrad1_unit(const _ConvJob *job, Py_ssize_t img, Py_ssize_t g, Py_ssize_t r0,
                       Py_ssize_t rows, char *scratch) noexcept nogil:
    """_wgrad_unit for one output channel per group (depthwise layers), by fc_wgrad1, which
    forms only the layer's products and so needs neither the flat layout nor its zeros: the
    planes where they lie, or built where padding or a stride makes them; the output
    gradient read in place (copied only where its columns are strided).  With 64 channels of
    56x56, 3x3, float32 (Intel Xeon, AVX-512, one thread), fc_wgrad on the flat copies spent
    a third of its time copying the gradient and checking the planes for infinities, a
    quarter in its two passes over the rows (6 taps, then 3) and a quarter building the
    planes."""
    cdef const char **ptrs = <const char **>(scratch + job.ptr_off)
    cdef Py_ssize_t item = job.item, ldp = job.ldp, taps = job.kh * job.kw, ldg, r, p
    cdef const char *gy = job.y + img * job.ys_n + g * job.ys_c + r0 * job.ys_h
    cdef char *grad = scratch + job.out_off
    if _planes_in_place(job, img, g, r0, rows, ptrs):
        ldp = job.xs_h // item
    else:
        _conv_planes(job, img, g, r0, scratch + job.planes_off, ptrs)
    if job.ys_w == item and job.ys_h % item == 0:
        ldg = job.ys_h // item
    else:
        ldg = job.ldg
        for r in range(rows):
            if item == 4:
                _load_row(gy + r * job.ys_h, job.ys_w, job.ow, <float *>grad + r * ldg)
            else:
                _load_row(gy + r * job.ys_h, job.ys_w, job.ow, <double *>grad + r * ldg)
        gy = grad
    # This thread's partial sums, (groups, n_planes, kh, kw) with one channel per group.
    cdef char *dw = scratch + g * job.n_planes * taps * item
    for p in range(job.n_planes):
        if item == 4:
            job.table.wgrad1_f32(<const float *>ptrs[p], ldp, job.kh, job.kw,
                                 <const float *>gy, ldg, rows, job.ow,
                                 <float *>dw + p * taps)
        else:
            job.table.wgrad1_f64(<const double *>ptrs[p], ldp, job.kh, job.kw,
                                 <const double *>gy, ldg, rows, job.ow,
                                 <double *>dw + p * taps)


cdef inline void _store_row(const floating *src, char *dst, Py_ssize_t stride, Py_ssize_t n,
                            double bias, bint add) noexcept nogil:
    """dst[i] = src[i] (+ bias with `add`) for i < n, dst's elements `stride` bytes apart."""
    cdef Py_ssize_t i
    cdef floating b = <floating>bias
    cdef floating *d = <floating *>dst
    if stride == sizeof(floating) and not add:
        _copy(<char *>d, <const char *>src, n * sizeof(floating))
    elif stride == sizeof(floating):
        for i in range(n):
            d[i] = src[i] + b
    else:
        for i in range(n):
            (<floating *>(dst + i * stride))[0] = src[i] + b


cdef void _stream_band(const _ConvJob *job, char *band, Py_ssize_t rows, double b, char *y,
                       char *bias_run) noexcept nogil:
    """y[r * ow + c] = band[r * ldp + c] + b for r < rows, c < ow, stored non-temporally by
    fc_sum_nt: the band's rows packed in place (ldp >= ow, so each moves towards the start),
    added to a run of b (of -0.0 without a bias: x + -0.0 is x, -0.0 included)."""
    cdef Py_ssize_t r, i, n = rows * job.ow, item = job.item
    for r in range(1, rows):
        memmove(band + r * job.ow * item, band + r * job.ldp * item, job.ow * item)
    if item == 4:
        for i in range(n):
            (<float *>bias_run)[i] = <float>b if job.bias != NULL else -0.0
        job.table.sum_nt_f32(<const float *>band, <const float *>bias_run, <float *>y, n)
    else:
        for i in range(n):
            (<double *>bias_run)[i] = b if job.bias != NULL else -0.0
        job.table.sum_nt_f64(<const double *>band, <const double *>bias_run, <double *>y, n)


cdef inline void _accumulate_row(const floating *src, char *dst, Py_ssize_t stride,
                                 Py_ssize_t n, double bias) noexcept nogil:
    """dst[i] += src[i] + bias for i < n, dst's elements `stride` bytes apart."""
    cdef Py_ssize_t i
    cdef floating b = <floating>bias
    for i in range(n):
        (<floating *>(dst + i * stride))[0] += src[i] + b


cdef inline void _add_row(floating *row, Py_ssize_t n, floating bias) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        row[i] += bias


cdef bint _planes_in_place(const _ConvJob *job, Py_ssize_t n, Py_ssize_t g, Py_ssize_t r0,
                           Py_ssize_t rows, const char **ptrs) noexcept nogil:
    """Points ptrs at the image rows themselves when every plane's band is consecutive rows of
    its channel read whole (unit-stride rows, no padding or phase): returns whether it did."""
    cdef Py_ssize_t p, k, t, first, item = job.item, rows_in = rows + job.kh - 1
    cdef const Py_ssize_t *rm
    cdef const _ColumnRun *run
    if job.xs_w != item or job.xs_h % item or job.xs_h < 0:
        return False
    for k in range(job.pk):
        run = job.runs + job.plane_cmap[k] * job.run_width
        if run.src != 0 or run.step != 1 or run.length < job.ow + job.kw - 1:
            return False
        rm = job.rowmaps + job.plane_rmap[k] * job.rmap_len
        if r0 + rows_in > job.rmap_len:
            return False
        first = rm[r0]
        if first < 0:
            return False
        for t in range(1, rows_in):
            if rm[r0 + t] != first + t:
                return False
    for p in range(job.n_planes):
        rm = job.rowmaps + job.plane_rmap[p % job.pk] * job.rmap_len
        ptrs[p] = job.x + n * job.xs_n + (g * job.cg + p // job.pk) * job.xs_c + rm[r0] * job.xs_h
    return True


cdef bint _finite(const char *values, Py_ssize_t n, Py_ssize_t item) noexcept nogil:
    """Whether none of the n float32 (item 4) or float64 values is an infinity or NaN.  The
    exponent field (of each double's high word) plus one unit of it carries into the sign bit
    only when the field is all ones; an OR of those sums, which compilers vectorise (3
    instructions per vector, a one-cycle dependency), keeps the sign bit if any did.  An early
    exit would not vectorise."""
    cdef const uint32_t *u = <const uint32_t *>values
    cdef uint32_t bad = 0, one = 1
    cdef Py_ssize_t i
    if item == 4:
        for i in range(n):
            bad |= (u[i] & 0x7f800000) + 0x00800000
        return (bad >> 31) == 0
    u += (<const unsigned char *>&one)[0]  # the high word: the second on little-endian
    for i in range(n):
        bad |= (u[2 * i] & 0x7ff00000) + 0x00100000
    return (bad >> 31) == 0


cdef inline void _load_row(const char *src, Py_ssize_t stride, Py_ssize_t n,
                           floating *dst) noexcept nogil:
    """dst[i] = src[i] for i < n, src's elements `stride` bytes apart."""
    cdef Py_ssize_t i
    if stride == sizeof(floating):
        _copy(<char *>dst, src, n * sizeof(floating))
    else:
        for i in range(n):
            dst[i] = (<const floating *>(src + i * stride))[0]


def conv_channels():
    """The output channels of one fc_conv block on the active path (its weights' layout)."""
    return fc_active().conv_channels
