# Included by _core.pyx: images of other dtypes (integers, bool) read by the float kernels,
# converted as their rows are copied into a unit's buffer of extended rows, so no converted
# copy of the whole image is ever made (the memory a float result of an integer image costs
# is the result's own).

cdef inline void _convert_run(int dtype, const char *row, Py_ssize_t item, Py_ssize_t first,
                              Py_ssize_t step, Py_ssize_t length,
                              floating *dst) noexcept nogil:
    """dst[k] = row[first + step * k] for k < length, row holding FC_DT_* `dtype` values of
    `item` bytes (step 1, or -1 for a mirrored run)."""
    cdef Py_ssize_t k
    cdef const char *p = row + first * item
    if dtype == FC_DT_U8 or dtype == FC_DT_BOOL:
        for k in range(length):
            dst[k] = <floating>(<const unsigned char *>p)[step * k]
    elif dtype == FC_DT_I8:
        for k in range(length):
            dst[k] = <floating>(<const signed char *>p)[step * k]
    elif dtype == FC_DT_U16:
        for k in range(length):
            dst[k] = <floating>(<const unsigned short *>p)[step * k]
    elif dtype == FC_DT_I16:
        for k in range(length):
            dst[k] = <floating>(<const short *>p)[step * k]
    elif dtype == FC_DT_U32:
        for k in range(length):
            dst[k] = <floating>(<const unsigned int *>p)[step * k]
    elif dtype == FC_DT_I32:
        for k in range(length):
            dst[k] = <floating>(<const int *>p)[step * k]
    elif dtype == FC_DT_U64:
        for k in range(length):
            dst[k] = <floating>(<const unsigned long long *>p)[step * k]
    elif dtype == FC_DT_I64:
        for k in range(length):
            dst[k] = <floating>(<const long long *>p)[step * k]
    elif dtype == FC_DT_F32:
        for k in range(length):
            dst[k] = <floating>(<const float *>p)[step * k]
    else:
        for k in range(length):
            dst[k] = <floating>(<const double *>p)[step * k]


cdef int _source(object image, const char **data, Py_ssize_t *strides, Py_ssize_t *shape,
                 int *dtype, Py_ssize_t *item, str who) except -1:
    """The data pointer, byte strides, shape, FC_DT_* code and item size of a (B, M, N) image of
    any real numeric dtype with unit-stride, aligned rows."""
    cdef int d
    key = (image.dtype.kind, image.dtype.itemsize)
    if image.ndim != 3 or key not in _EXACT_DTYPES or not image.dtype.isnative:
        raise ValueError(f"{who}: image must be a 3-D array of a native real numeric dtype")
    if not image.flags.aligned or image.strides[2] != image.itemsize:
        raise ValueError(f"{who}: image needs unit-stride, aligned rows")
    data[0] = <const char *><size_t>image.__array_interface__["data"][0]
    for d in range(3):
        strides[d], shape[d] = image.strides[d], image.shape[d]
    dtype[0], item[0] = _EXACT_DTYPES[key], image.itemsize
    return 0


def correlate_extended_from(object image, const floating[:, :, ::1] w,
                            floating[:, :, :] out, const Py_ssize_t[::1] rowmap,
                            const Py_ssize_t[::1] colmap, double fill, int n_threads,
                            Py_ssize_t buffer_bytes=FC_L2_BUDGET_BYTES):
    """correlate_extended_batch of an image of any real numeric dtype (integers, bool), computed
    in out's dtype: every block builds its extended rows converted from the image's dtype, so
    only blocks, never the image, exist in the float type."""
    cdef const char *data
    cdef Py_ssize_t strides[3]
    cdef Py_ssize_t shape[3]
    cdef int dtype
    cdef Py_ssize_t src_item
    _source(image, &data, strides, shape, &dtype, &src_item, "correlate_extended_from")
    cdef Py_ssize_t n_img = shape[0], m = shape[1], n = shape[2]
    cdef Py_ssize_t kh = w.shape[1], kw = w.shape[2], oh = out.shape[1], ow = out.shape[2]
    if out.shape[0] != n_img or w.shape[0] not in (1, n_img) or oh < 1 or ow < 1:
        raise ValueError("correlate_extended_from: batch sizes of image, w and out differ")
    _check_map("correlate_extended_from", "rowmap", rowmap, oh + kh - 1, m)
    _check_map("correlate_extended_from", "colmap", colmap, ow + kw - 1, n)
    cdef Py_ssize_t item = sizeof(floating)
    if out.strides[2] != item:
        raise ValueError("correlate_extended_from: out needs unit-stride rows")
    if n_img == 0:
        return
    n_threads = _worth_threads(<double>n_img * oh * ow * kh * kw, n_threads)
    cdef _BoundaryJob job
    job.stacks.x, job.stacks.x_img, job.stacks.x_row = data, strides[0], strides[1]
    job.stacks.w = <const char *>&w[0, 0, 0]
    job.stacks.w_img = 0 if w.shape[0] == 1 else w.strides[0]
    job.stacks.kh, job.stacks.kw = kh, kw
    job.stacks.y, job.stacks.y_img, job.stacks.y_row = <char *>&out[0, 0, 0], out.strides[0], \
        out.strides[1]
    job.stacks.oh, job.stacks.ow, job.stacks.item = oh, ow, item
    job.stacks.rotate, job.stacks.table = False, fc_active()
    job.stacks.src_dtype, job.stacks.src_item = dtype, src_item
    job.n_img, job.fill = n_img, fill
    job.n_tiles = job.n_pieces = 0
    job.left.ow = job.right.ow = 0
    job.buffer_elems = 0
    _add_piece(&job, 0, 0, oh, ow, &rowmap[0], &colmap[0], max(buffer_bytes // item, 1),
               n_threads)
    _run_boundary_job(&job, n_threads, item)
