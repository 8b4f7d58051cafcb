/* The tile kernel and FMA probe for one dtype, written in the vector vocabulary of simd.h.
 * corr_kernels.c includes this once per dtype with S_T, V_T, V_L, V_LOAD, V_STORE, V_SET1,
 * V_ZERO, V_FMA, V_REVERSE and FC_DT defined, and V_LOAD_N, V_STORE_N and V_STORE_N_REVERSED
 * where simd.h sets FC_HAS_MASKED_TAIL.  Every function name carries the dtype and ISA suffix,
 * so a copy the compiler keeps out of line can never be mistaken for baseline code. */

#define FN(base) FC_CAT3(base, FC_DT, FC_ISA)

/* Copies n input elements to buf and zeroes it up to `width`, for the tail block's full-width
 * loads on a path without masked ones; returns buf. */
static inline const S_T *FN(fc_pad_row)(const S_T *src, ptrdiff_t n, ptrdiff_t width, S_T *buf)
{
    ptrdiff_t k = 0;
    for (; k < n; k++) buf[k] = src[k];
    for (; k < width; k++) buf[k] = (S_T)0;
    return buf;
}

/* Stores one row of nv accumulator vectors at y, or with FC_CORR_ROTATE in `flags` at y[0],
 * y[-1], ... (lanes reversed: the row's columns stored right to left, see fc_corr_f32_fn).  With
 * FC_CORR_STREAM, each vector that lands aligned is stored non-temporally (fc_corr lines the
 * columns up so that all but its first vector of a row do, where the rows allow it). */
static FC_INLINE void FN(fc_store_row)(const V_T *acc, int nv, S_T *FC_RESTRICT y, int flags)
{
    FC_UNROLL
    for (int v = 0; v < nv; v++) {
        S_T *p = (flags & FC_CORR_ROTATE) ? y - v * V_L - (V_L - 1) : y + v * V_L;
        const V_T a = (flags & FC_CORR_ROTATE) ? V_REVERSE(acc[v]) : acc[v];
#if defined(FC_HAS_STREAM)
        if ((flags & FC_CORR_STREAM) && (uintptr_t)p % sizeof(V_T) == 0) {
            V_STREAM(p, a);
            continue;
        }
#endif
        V_STORE(p, a);
    }
}

/* Input row xr feeds output rows lo..hi, output row ii through kernel row r - ii (wr points at
 * kernel row r).  nr, nv, lo, hi and tail are compile-time constants at every call after
 * inlining, so the unrolled loops keep acc in registers and the row tests vanish.  With `tail`
 * (FC_HAS_MASKED_TAIL only, nv == 1) the loads read only the first ncols lanes. */
static FC_INLINE void FN(fc_step)(V_T acc[FC_NR][FC_NV], const S_T *FC_RESTRICT xr,
                                  const S_T *FC_RESTRICT wr, ptrdiff_t kw, int lo, int hi, int nr,
                                  int nv, int tail, ptrdiff_t ncols)
{
#if !defined(FC_HAS_MASKED_TAIL)
    (void)tail;
    (void)ncols;
#endif
    FC_UNROLL_TAPS
    for (ptrdiff_t b = 0; b < kw; b++) {
        V_T xv[FC_NV];
        FC_UNROLL
        for (int v = 0; v < nv; v++) {
#if defined(FC_HAS_MASKED_TAIL)
            xv[v] = tail ? V_LOAD_N(xr + b, ncols) : V_LOAD(xr + b + v * V_L);
#else
            xv[v] = V_LOAD(xr + b + v * V_L);
#endif
            FC_PIN(xv[v]);
        }
        FC_UNROLL
        for (int ii = 0; ii < nr; ii++) {
            if (ii >= lo && ii <= hi) {
                const V_T wv = V_SET1(wr[b - ii * kw]);
                FC_UNROLL
                for (int v = 0; v < nv; v++) acc[ii][v] = V_FMA(wv, xv[v], acc[ii][v]);
            }
        }
    }
}

/* One register block: nr output rows x nv vectors of columns, accumulated in registers over the
 * whole kernel.  Requires nr <= kh.
 *
 * Input rows are walked once each (r = 0 .. nr+kh-2); every vector loaded from input row r feeds
 * each output row whose kernel row r - ii is in range, so a loaded vector is reused up to nr times
 * and the loads per FMA fall to about (nr+kh-1)/(nr*kh) + 1/nv (plus one weight broadcast per
 * active row).  Which output rows are active depends on r only near the ends: the first nr-1 rows
 * (ramp up) and the last nr-1 (ramp down) are unrolled so every active-row test folds away, and
 * the rows in between run with all nr active.  (Unrolling the taps too, for compile-time widths
 * 3, 5 and 7, measured slower: the straight-line code spilled accumulators.)
 *
 * With FC_CORR_ROTATE, column c of the block is stored at y[-c] (lanes reversed), so a result
 * can be written rotated without a second pass over it (the caller's negative ldy reverses the
 * rows).
 *
 * With `tail`, the block is the last, partial vector of a row (ncols < lanes), which must not read
 * past the caller's columns: where the path has masked loads and stores (FC_HAS_MASKED_TAIL), it
 * loads and stores only the first ncols lanes in place; elsewhere each input row is first copied
 * into a zero-padded buffer so the same full-width loads can be used, and the row is stored lane
 * by lane.  Either way lanes past ncols are never stored, and the stored lanes see the same FMAs
 * in the same order.
 *
 * Masked against padded on AVX-512 (Intel Xeon, Sapphire Rapids class, one thread, best of 151
 * alternating runs), 4096-row images 1..15 (float32) or 1..7 (float64) columns wide: K=3 20-22 us
 * against 111-142 (5.3-6.9x), K=5 38-41 us against 137-166 (3.4-4.3x), rotated 2.9-5.3x; the
 * copy of every input row, once per block, cost more than the FMAs. */
static FC_INLINE void FN(fc_block_taps)(V_T acc[FC_NR][FC_NV], const S_T *FC_RESTRICT x,
                                        ptrdiff_t ldx, const S_T *FC_RESTRICT w, ptrdiff_t kh,
                                        ptrdiff_t kw, ptrdiff_t ncols, S_T *FC_RESTRICT buf,
                                        int nr, int nv, int tail)
{
#if defined(FC_HAS_MASKED_TAIL)
    (void)buf;
#define FC_ROW(r) (x + (r) * ldx)
#else
#define FC_ROW(r) (tail ? FN(fc_pad_row)(x + (r) * ldx, ncols + kw - 1, V_L + kw - 1, buf) \
                        : x + (r) * ldx)
#endif
    FC_UNROLL
    for (int c = 0; c < nr - 1; c++)
        FN(fc_step)(acc, FC_ROW(c), w + c * kw, kw, 0, c, nr, nv, tail, ncols);
    for (ptrdiff_t r = nr - 1; r < kh; r++)
        FN(fc_step)(acc, FC_ROW(r), w + r * kw, kw, 0, nr - 1, nr, nv, tail, ncols);
    FC_UNROLL
    for (int d = 1; d < nr; d++)
        FN(fc_step)(acc, FC_ROW(kh - 1 + d), w + (kh - 1 + d) * kw, kw, d, nr - 1, nr, nv, tail,
                    ncols);
#undef FC_ROW
}

/* Stores fc_block's accumulators (see there). */
static FC_INLINE void FN(fc_block_store)(V_T acc[FC_NR][FC_NV], S_T *FC_RESTRICT y, ptrdiff_t ldy,
                                         ptrdiff_t ncols, int nr, int nv, int tail, int flags)
{
#if !defined(FC_HAS_MASKED_TAIL)
    (void)ncols;
#endif
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        if (tail) {
#if defined(FC_HAS_MASKED_TAIL)
            if (flags & FC_CORR_ROTATE)
                V_STORE_N_REVERSED(y + ii * ldy, acc[ii][0], ncols);
            else
                V_STORE_N(y + ii * ldy, acc[ii][0], ncols);
#else
            S_T lanes[V_L];
            V_STORE(lanes, acc[ii][0]);
            const ptrdiff_t dir = (flags & FC_CORR_ROTATE) ? -1 : 1;
            for (ptrdiff_t c = 0; c < ncols; c++) y[ii * ldy + dir * c] = lanes[c];
#endif
        } else {
            FN(fc_store_row)(acc[ii], nv, y + ii * ldy, flags);
        }
    }
}

static FC_INLINE void FN(fc_block)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                   const S_T *FC_RESTRICT w, ptrdiff_t kh, ptrdiff_t kw,
                                   S_T *FC_RESTRICT y, ptrdiff_t ldy, ptrdiff_t ncols,
                                   S_T *FC_RESTRICT buf, int nr, int nv, int tail, int flags)
{
    V_T acc[FC_NR][FC_NV];
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    FN(fc_block_taps)(acc, x, ldx, w, kh, kw, ncols, buf, nr, nv, tail);
    FN(fc_block_store)(acc, y, ldy, ncols, nr, nv, tail, flags);
}

/* fc_block for a 3-D kernel of kd planes (kd x kh x kw, C order): plane p of the kernel reads
 * the rows at xp[p] + off, and the accumulators stay in registers across all planes, so every
 * output is stored once. */
static FC_INLINE void FN(fc_block3)(const S_T *const *xp, ptrdiff_t off, ptrdiff_t ldx,
                                    const S_T *FC_RESTRICT w, ptrdiff_t kd, ptrdiff_t kh,
                                    ptrdiff_t kw, S_T *FC_RESTRICT y, ptrdiff_t ldy,
                                    ptrdiff_t ncols, S_T *FC_RESTRICT buf, int nr, int nv,
                                    int tail)
{
    V_T acc[FC_NR][FC_NV];
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    for (ptrdiff_t p = 0; p < kd; p++)
        FN(fc_block_taps)(acc, xp[p] + off, ldx, w + p * kh * kw, kh, kw, ncols, buf, nr, nv,
                          tail);
    FN(fc_block_store)(acc, y, ldy, ncols, nr, nv, tail, 0);
}

#if FC_KH_S != 4 && FC_KH_S != 6 && FC_KH_S != 8 && FC_KH_S != 12
#error "fc_sbands below covers FC_KH_S = 4, 6, 8 or 12"
#endif
#if FC_KH_S > 8 && (FC_NR_A(9) || FC_NR_A(10) || FC_NR_A(11) || FC_NR_A(12))
#error "fc_sbands below gives kernels of 9..12 rows no aliased-rows small block (FC_NR_A = 0)"
#endif
/* Accumulators of fc_sblock: room for the largest small-block shape of any path in simd.h. */
#define FC_SB_R 8
#define FC_SB_V 4
/* fc_sblock reads the kernel transposed (the kh weights of a column adjacent), from a copy on
 * the stack of at most this many columns; wider kernels take the main block.  Read in place,
 * the kh rows of the kernel need kh pointers of their own beside the nr + kh - 1 input rows',
 * and gcc, out of general registers, parked pointers in vector registers and folded loads into
 * the FMAs (AVX-512, 8x2 block, kh=5: 36 vector loads per column pass instead of 24). */
#define FC_SB_MAXKW 64

/* The block for kernels of at most FC_KH_S rows: nr output rows x nv vectors (FC_NR_S(kh) x
 * FC_NV_S(kh), or FC_NR_A(kh) x FC_NV_A(kh) where input rows alias in L1, see
 * fc_small_band_rows), with kh a compile-time constant.  The taps are the outer loop: the kh weights of kernel column b are
 * broadcast once into registers, then the input rows r = 0 .. nr+kh-2 are walked, each loaded
 * vector feeding every output row ii with kernel row r - ii in range.  Against fc_block this
 * drops the weight broadcast per (input row, output row) pair, which is what bounds fc_block for
 * small kernels (loads per FMA: (nr+kh-1)/(nr*kh) + 1/(nv*nr) here, against about
 * (nr+kh-1)/(nr*kh) + 1/nv there).  The price is that every input row of the block is live in
 * L1 across all kw column passes.  Each output sums its taps column by column (b outer), the
 * same order in every block kind of this path. */
static FC_INLINE void FN(fc_sblock_taps)(V_T acc[FC_SB_R][FC_SB_V], const S_T *FC_RESTRICT x,
                                         ptrdiff_t ldx, const S_T *FC_RESTRICT wt, ptrdiff_t kw,
                                         int kh, int nr, int nv)
{
    for (ptrdiff_t b = 0; b < kw; b++) {
        V_T wv[FC_KH_S];
        FC_UNROLL
        for (int a = 0; a < kh; a++) wv[a] = V_SET1(wt[b * kh + a]);
        FC_UNROLL
        for (int r = 0; r < nr + kh - 1; r++) {
            FC_UNROLL
            for (int v = 0; v < nv; v++) {
                V_T xv = V_LOAD(x + r * ldx + b + v * V_L);
                FC_PIN(xv);
                FC_UNROLL
                for (int ii = 0; ii < nr; ii++)
                    if (r - ii >= 0 && r - ii < kh) acc[ii][v] = V_FMA(wv[r - ii], xv, acc[ii][v]);
            }
        }
    }
}

static FC_INLINE void FN(fc_sblock)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                    const S_T *FC_RESTRICT wt, ptrdiff_t kw, S_T *FC_RESTRICT y,
                                    ptrdiff_t ldy, int kh, int nr, int nv, int flags)
{
    V_T acc[FC_SB_R][FC_SB_V];
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    FN(fc_sblock_taps)(acc, x, ldx, wt, kw, kh, nr, nv);
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) FN(fc_store_row)(acc[ii], nv, y + ii * ldy, flags);
}

/* fc_sblock for a 3-D kernel: plane p's transposed kernel (kw x kh) at wt + p * kw * kh reads
 * the rows at xp[p] + off; the accumulators stay in registers across all kd planes. */
static FC_INLINE void FN(fc_sblock3)(const S_T *const *xp, ptrdiff_t off, ptrdiff_t ldx,
                                     const S_T *FC_RESTRICT wt, ptrdiff_t kd, ptrdiff_t kw,
                                     S_T *FC_RESTRICT y, ptrdiff_t ldy, int kh, int nr, int nv)
{
    V_T acc[FC_SB_R][FC_SB_V];
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    for (ptrdiff_t p = 0; p < kd; p++)
        FN(fc_sblock_taps)(acc, xp[p] + off, ldx, wt + p * kw * kh, kw, kh, nr, nv);
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) FN(fc_store_row)(acc[ii], nv, y + ii * ldy, 0);
}

/* Asks L2 for the nr input rows below a band of nr output rows (a kernel of kh rows reads
 * nr + kh - 1), at the nv vectors of a strip from column j: the rows the next band reads and
 * this one does not (see FC_SBAND and FC_SBAND3). */
static FC_INLINE void FN(fc_prefetch_next_band)(const S_T *x, ptrdiff_t ldx, ptrdiff_t j, int kh,
                                                int nr, int nv)
{
    FC_UNROLL
    for (int pr = 0; pr < nr; pr++) {
        FC_UNROLL
        for (int pv = 0; pv < nv; pv++) FC_PREFETCH_L2(x + (nr + kh - 1 + pr) * ldx + j + pv * V_L);
    }
}

/* One band of NR rows for a kh-row kernel, cols >= one vector: strips of NV vectors, single
 * vectors, and a last vector overlapping the previous one (recomputed identically).  NAME is
 * fc_sband_<KH> for the FC_NR_S(KH) x FC_NV_S(KH) block, fc_sband_a_<KH> for the aliased-rows
 * one.  With FC_CORR_PREFETCH (the caller sets it only where a next band of NR rows follows in
 * the tile), each strip first asks L2 for the NR input rows the next band reads and this one
 * does not, at the strip's columns: a band's time ahead.  The hardware prefetchers follow each
 * row's stream only within a 4 KiB page and restart at every page, which with NR + KH - 1 rows
 * in flight left the small block waiting on memory: on Zen 5 (2 threads, float32 K=5, images
 * from memory, best/median GFLOP/s over 8 alternating rounds) 2000x3000 245/181 -> 393/277,
 * 3000x3000 200/126 -> 304/191, K=3 +30%, float64 K=5..7 +20-50%; into L1 instead measured the
 * same there but cost 10-20% where the rows alias in L1, and the main block gained nothing
 * (it is bound by its FMAs from K=9 on). */
#define FC_SBAND(NAME, KH, NR, NV)                                                              \
    static void FN(NAME)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kw, S_T *y,       \
                         ptrdiff_t ldy, ptrdiff_t cols, int flags)                             \
    {                                                                                           \
        const ptrdiff_t strip = (ptrdiff_t)V_L * (NV);                                          \
        const ptrdiff_t dir = (flags & FC_CORR_ROTATE) ? -1 : 1;                                \
        ptrdiff_t j = 0;                                                                        \
        for (; j + strip <= cols; j += strip) {                                                 \
            if (flags & FC_CORR_PREFETCH)                                                       \
                FN(fc_prefetch_next_band)(x, ldx, j, KH, NR, NV);                               \
            FN(fc_sblock)(x + j, ldx, w, kw, y + dir * j, ldy, KH, NR, NV, flags);              \
        }                                                                                       \
        for (; j + V_L <= cols; j += V_L)                                                       \
            FN(fc_sblock)(x + j, ldx, w, kw, y + dir * j, ldy, KH, NR, 1, flags);              \
        if (j < cols)                                                                           \
            FN(fc_sblock)(x + cols - V_L, ldx, w, kw, y + dir * (cols - V_L), ldy, KH, NR, 1,   \
                          flags);                                                              \
    }
#define FC_SBANDS(KH)                                                                           \
    FC_SBAND(FC_CAT2(fc_sband, KH), KH, FC_NR_S(KH), FC_NV_S(KH))                               \
    FC_SBAND(FC_CAT2(fc_sband_a, KH), KH, FC_NR_A(KH), FC_NV_A(KH))
FC_SBANDS(1)
FC_SBANDS(2)
FC_SBANDS(3)
FC_SBANDS(4)
#if FC_KH_S > 4
FC_SBANDS(5)
FC_SBANDS(6)
#endif
#if FC_KH_S > 6
FC_SBANDS(7)
FC_SBANDS(8)
#endif
#if FC_KH_S > 8
FC_SBAND(FC_CAT2(fc_sband, 9), 9, FC_NR_S(9), FC_NV_S(9))
FC_SBAND(FC_CAT2(fc_sband, 10), 10, FC_NR_S(10), FC_NV_S(10))
FC_SBAND(FC_CAT2(fc_sband, 11), 11, FC_NR_S(11), FC_NV_S(11))
FC_SBAND(FC_CAT2(fc_sband, 12), 12, FC_NR_S(12), FC_NV_S(12))
#endif
#undef FC_SBANDS
#undef FC_SBAND

typedef void (*FN(fc_sband_fn))(const S_T *, ptrdiff_t, const S_T *, ptrdiff_t, S_T *,
                                ptrdiff_t, ptrdiff_t, int);
/* Indexed by [kernel height][aliased]; NULL where aliased rows take the main block. */
#define FC_SBAND_PAIR(KH) {FN(FC_CAT2(fc_sband, KH)), FN(FC_CAT2(fc_sband_a, KH))}
#define FC_SBAND_ONE(KH) {FN(FC_CAT2(fc_sband, KH)), NULL}
static const FN(fc_sband_fn) FN(fc_sbands)[FC_KH_S + 1][2] = {
    {NULL, NULL}, FC_SBAND_PAIR(1), FC_SBAND_PAIR(2), FC_SBAND_PAIR(3), FC_SBAND_PAIR(4),
#if FC_KH_S > 4
    FC_SBAND_PAIR(5), FC_SBAND_PAIR(6),
#endif
#if FC_KH_S > 6
    FC_SBAND_PAIR(7), FC_SBAND_PAIR(8),
#endif
#if FC_KH_S > 8
    FC_SBAND_ONE(9), FC_SBAND_ONE(10), FC_SBAND_ONE(11), FC_SBAND_ONE(12),
#endif
};
#undef FC_SBAND_PAIR
#undef FC_SBAND_ONE

/* One band of NR output rows across `cols` columns: strips of FC_NV vectors, then single vectors,
 * then the last partial vector: a full vector ending at the last column, overlapping the one
 * before (its shared columns are recomputed with identical operations, so rewriting them is
 * harmless), or, for rows narrower than one vector, fc_block's `tail` (masked or zero-padded). */
#define FC_BAND(NR)                                                                             \
    static void FN(FC_CAT2(fc_band, NR))(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, \
                                         ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t cols,    \
                                         S_T *scratch, int flags)                              \
    {                                                                                           \
        const ptrdiff_t strip = (ptrdiff_t)V_L * FC_NV;                                         \
        const ptrdiff_t dir = (flags & FC_CORR_ROTATE) ? -1 : 1;                                \
        ptrdiff_t j = 0;                                                                        \
        for (; j + strip <= cols; j += strip) {                                                 \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, 0, scratch, NR, FC_NV, 0,     \
                         flags);                                                                \
        }                                                                                       \
        for (; j + V_L <= cols; j += V_L)                                                       \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, 0, scratch, NR, 1, 0, flags); \
        if (j < cols && cols >= V_L) /* overlap the previous vector: same values rewritten */  \
            FN(fc_block)(x + cols - V_L, ldx, w, kh, kw, y + dir * (cols - V_L), ldy, 0, scratch, \
                         NR, 1, 0, flags);                                                     \
        else if (j < cols)                                                                      \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, cols - j, scratch, NR, 1, 1,  \
                         flags);                                                               \
    }
FC_BAND(1)
FC_BAND(2)
FC_BAND(3)
FC_BAND(4)
#if FC_NR > 4
FC_BAND(5)
FC_BAND(6)
#endif
#undef FC_BAND

typedef void (*FN(fc_band_fn))(const S_T *, ptrdiff_t, const S_T *, ptrdiff_t, ptrdiff_t, S_T *,
                               ptrdiff_t, ptrdiff_t, S_T *, int);
/* Indexed by band height. */
static const FN(fc_band_fn) FN(fc_bands)[FC_NR + 1] = {
    NULL, FN(fc_band_1), FN(fc_band_2), FN(fc_band_3), FN(fc_band_4),
#if FC_NR > 4
    FN(fc_band_5), FN(fc_band_6),
#endif
};

/* Column kernels (kw == 1, taller than FC_KH_S): a kernel down the rows only, as the column
 * pass of a separable filter runs.  fc_block holds FC_NV vectors of a row so that one load
 * serves kw column offsets; with kw == 1 there are none, and its broadcast per (input row,
 * output row) pair and its short blocks bound it (42% of the FMA peak in the Gaussian's column
 * pass).  Here the reuse is vertical only: FC_CB_R output rows x FC_CB_V vectors, the kernel
 * taken FC_CB_G taps at a time with the group's weights held in registers, each input row of
 * a group loaded once for every output it feeds:
 *     loads per FMA (FC_CB_R + G - 1) / (FC_CB_R * G), no broadcast inside a group.
 * Each output sums its taps in order, one FMA each, as fc_block and fc_sblock do, so the
 * rows left to those blocks get the same values.  Shapes per path in simd.h. */
static FC_INLINE void FN(fc_cgroup)(V_T acc[FC_CB_R][FC_CB_V], const S_T *FC_RESTRICT x,
                                    ptrdiff_t ldx, const S_T *FC_RESTRICT w, int g, int nv)
{
    V_T wv[FC_CB_G];
    FC_UNROLL
    for (int t = 0; t < g; t++) wv[t] = V_SET1(w[t]);
    const S_T *xr = x;
    FC_UNROLL
    for (int r = 0; r < FC_CB_R + g - 1; r++, xr += ldx) {
        FC_PIN_PTR(xr);
        FC_UNROLL
        for (int v = 0; v < nv; v++) {
            V_T xv = V_LOAD(xr + v * V_L);
            FC_PIN(xv);
            FC_UNROLL
            for (int ii = 0; ii < FC_CB_R; ii++)
                if (r - ii >= 0 && r - ii < g) acc[ii][v] = V_FMA(wv[r - ii], xv, acc[ii][v]);
        }
    }
}

#define FC_CB_CASE(n)                                                                          \
    case n:                                                                                    \
        FN(fc_cgroup)(acc, x + a * ldx, ldx, w + a, n, nv);                                    \
        break;

static FC_INLINE void FN(fc_cblock)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                    const S_T *FC_RESTRICT w, ptrdiff_t kh, S_T *FC_RESTRICT y,
                                    ptrdiff_t ldy, int nv, int flags)
{
    V_T acc[FC_CB_R][FC_CB_V];
    FC_UNROLL
    for (int ii = 0; ii < FC_CB_R; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    ptrdiff_t a = 0;
    for (; a + FC_CB_G <= kh; a += FC_CB_G) FN(fc_cgroup)(acc, x + a * ldx, ldx, w + a, FC_CB_G, nv);
    switch (kh - a) {
#if FC_CB_G > 1
        FC_CB_CASE(1)
#endif
#if FC_CB_G > 2
        FC_CB_CASE(2)
#endif
#if FC_CB_G > 3
        FC_CB_CASE(3)
#endif
#if FC_CB_G > 4
        FC_CB_CASE(4)
#endif
#if FC_CB_G > 5
        FC_CB_CASE(5)
#endif
#if FC_CB_G > 6
        FC_CB_CASE(6)
#endif
#if FC_CB_G > 7
        FC_CB_CASE(7)
#endif
#if FC_CB_G > 8
        FC_CB_CASE(8)
#endif
#if FC_CB_G > 9
        FC_CB_CASE(9)
#endif
#if FC_CB_G > 10
#error "fc_cblock: add FC_CB_CASEs up to FC_CB_G - 1"
#endif
        default:
            break;
    }
    FC_UNROLL
    for (int ii = 0; ii < FC_CB_R; ii++) FN(fc_store_row)(acc[ii], nv, y + ii * ldy, flags);
}
#undef FC_CB_CASE

/* The input a strip of column bands may read, in bytes (see fc_corr_rows). */
#define FC_CB_STRIP_BYTES (192 * 1024)

/* FC_CB_R output rows across cols >= one vector: strips of FC_CB_V vectors, single vectors,
 * and a last vector overlapping the one before (recomputed identically). */
static void FN(fc_cband)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, S_T *y,
                         ptrdiff_t ldy, ptrdiff_t cols, int flags)
{
    const ptrdiff_t strip = (ptrdiff_t)V_L * FC_CB_V, dir = (flags & FC_CORR_ROTATE) ? -1 : 1;
    ptrdiff_t j = 0;
    for (; j + strip <= cols; j += strip)
        FN(fc_cblock)(x + j, ldx, w, kh, y + dir * j, ldy, FC_CB_V, flags);
    for (; j + V_L <= cols; j += V_L) FN(fc_cblock)(x + j, ldx, w, kh, y + dir * j, ldy, 1, flags);
    if (j < cols)
        FN(fc_cblock)(x + cols - V_L, ldx, w, kh, y + dir * (cols - V_L), ldy, 1, flags);
}

static void FN(fc_corr_rows)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, ptrdiff_t kw,
                             S_T *y, ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, S_T *scratch,
                             int flags)
{
    /* Bands of nr = min(kh, FC_NR) rows, top to bottom, each walking its rows left to right: input
     * is read in row order, which the hardware prefetchers follow (a column-strip order, which
     * jumps a whole image row per access, measured 2x slower at K=5), and the kh - 1 input rows
     * that consecutive bands share are still in cache.  Taller blocks than kh would need more
     * accumulators than the reuse they buy, and fc_block's ramps assume nr <= kh.  Rows left over
     * form one shorter band (fewer than nr <= kh rows, so still valid). */
    if (kw == 1 && kh > FC_KH_C && cols >= V_L) {
        /* Column kernels the small block does not take: bands of FC_CB_R rows with fc_cblock,
         * the rows left over below.  The bands run strip by strip of columns, each strip down
         * every band, so that the kh - 1 input rows consecutive bands share are still in L2
         * when the next band reads them: a band across whole rows reads (FC_CB_R + kh - 1)
         * rows, which at 4096 float32 columns and 31 taps (544 KiB) outgrow a 512 KiB L2 and
         * come back from L3.  Strips keep a band's input within FC_CB_STRIP_BYTES (Zen 1, a
         * separable column pass over 4096 x 4096, one thread, float32 31 taps: 26 against 20-21
         * GFLOP/s for whole rows, float64 13.4-13.9 against 12.0; whole rows stay below it, as
         * 9 taps' 48 bytes a column at 4096 columns do, where strips measured 10% slower). */
        const ptrdiff_t bands = rows / FC_CB_R, dir = (flags & FC_CORR_ROTATE) ? -1 : 1;
        const ptrdiff_t line = (ptrdiff_t)(64 / sizeof(S_T)) > V_L ? 64 / (ptrdiff_t)sizeof(S_T)
                                                                  : V_L;
        ptrdiff_t strip = FC_CB_STRIP_BYTES / ((FC_CB_R + kh - 1) * (ptrdiff_t)sizeof(S_T));
        strip = strip < line ? line : strip / line * line;
        for (ptrdiff_t c = 0; c < cols;) {
            /* A last strip narrower than a vector joins the one before. */
            const ptrdiff_t width = cols - c < strip + V_L ? cols - c : strip;
            for (ptrdiff_t b = 0; b < bands; b++)
                FN(fc_cband)(x + b * FC_CB_R * ldx + c, ldx, w, kh,
                             y + b * FC_CB_R * ldy + dir * c, ldy, width, flags);
            c += width;
        }
        const ptrdiff_t i = bands * FC_CB_R;
        x += i * ldx;
        y += i * ldy;
        rows -= i;
    }
    S_T wt[FC_KH_S * FC_SB_MAXKW];
    const ptrdiff_t snr = kh <= FC_KH_S && kw <= FC_SB_MAXKW && cols >= V_L
                              ? fc_small_band_rows(FC_NR_S(kh), FC_NR_A(kh), kh,
                                                   ldx * (ptrdiff_t)sizeof(S_T))
                              : 0;
    if (snr) {
        /* Small kernels: bands of snr rows with fc_sblock, which reads the kernel transposed,
         * then where they leave fewer rows over, bands of the aliased variant's rows
         * (fc_alt_bands); the rows left over go to the general bands below.  snr is 0 where
         * the path gives aliased rows of this kernel height to the main block. */
        for (ptrdiff_t a = 0; a < kh; a++)
            for (ptrdiff_t b = 0; b < kw; b++) wt[b * kh + a] = w[a * kw + b];
        const ptrdiff_t n_alt = snr == FC_NR_S(kh) ? fc_alt_bands(rows, snr, FC_NR_A(kh)) : 0;
        const ptrdiff_t n_main = (rows - n_alt * FC_NR_A(kh)) / snr;
        ptrdiff_t i = 0;
        for (ptrdiff_t k = 0; k < n_main + n_alt; k++) {
            const int alt = k >= n_main || snr != FC_NR_S(kh);
            const ptrdiff_t h = k >= n_main ? FC_NR_A(kh) : snr;
            /* Prefetch only rows this tile reads: the last small band has no next one. */
            FN(fc_sbands)[kh][alt](x + i * ldx, ldx, wt, kw, y + i * ldy, ldy, cols,
                                   i + 2 * h <= rows || (flags & FC_CORR_BELOW)
                                       ? flags
                                       : flags & ~FC_CORR_PREFETCH);
            i += h;
        }
        x += i * ldx;
        y += i * ldy;
        rows -= i;
    }
    const ptrdiff_t nr = kh < FC_NR ? kh : FC_NR;
    ptrdiff_t i = 0;
    for (; i + nr <= rows; i += nr)
        FN(fc_bands)[nr](x + i * ldx, ldx, w, kh, kw, y + i * ldy, ldy, cols, scratch, flags);
    if (i < rows)
        FN(fc_bands)[rows - i](x + i * ldx, ldx, w, kh, kw, y + i * ldy, ldy, cols, scratch,
                               flags);
}

#if defined(FC_HAS_STREAM)
/* y[0..n) = s[0..n): the whole cache lines of y stored non-temporally, the partial ones at
 * either end plainly. */
static FC_INLINE void FN(fc_stage_out)(const S_T *FC_RESTRICT s, S_T *FC_RESTRICT y, ptrdiff_t n)
{
    const ptrdiff_t line = (sizeof(V_T) > 64 ? (ptrdiff_t)sizeof(V_T) : 64) / (ptrdiff_t)sizeof(S_T);
    ptrdiff_t k = 0;
    for (; k < n && (uintptr_t)(y + k) % (uintptr_t)(line * sizeof(S_T)) != 0; k++) y[k] = s[k];
    for (; k + line <= n; k += line) {
        FC_UNROLL
        for (ptrdiff_t v = 0; v < line; v += V_L) V_STREAM(y + k + v, V_LOAD(s + k + v));
    }
    for (; k < n; k++) y[k] = s[k];
}

/* The elements from p to the next boundary of a line of `line` elements (0 on one). */
static FC_INLINE ptrdiff_t FN(fc_to_line)(const S_T *p, ptrdiff_t line)
{
    const uintptr_t bytes = (uintptr_t)line * sizeof(S_T);
    return (ptrdiff_t)((bytes - (uintptr_t)p % bytes) % bytes / sizeof(S_T));
}

/* The rows of fc_corr_rows' small-kernel bands for this kernel (0: it has none). */
static ptrdiff_t FN(fc_small_rows)(ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t ldx)
{
    if ((kw == 1 && kh > FC_KH_C) || kh > FC_KH_S || kw > FC_SB_MAXKW) return 0;
    return fc_small_band_rows(FC_NR_S(kh), FC_NR_A(kh), kh, ldx * (ptrdiff_t)sizeof(S_T));
}

/* The rows of a band as fc_corr_rows cuts them for this kernel (see there). */
static ptrdiff_t FN(fc_band_height)(ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t ldx)
{
    if (kw == 1 && kh > FC_KH_C) return FC_CB_R;
    const ptrdiff_t snr = FN(fc_small_rows)(kh, kw, ldx);
    if (snr) return snr;
    return kh < FC_NR ? kh : FC_NR;
}

/* FC_CORR_STREAM for rows that start at different offsets in a cache line ('valid' outputs of
 * width m - kw + 1 on a width-m image: 4094 float32 columns on a 4096-wide image), where no
 * vector column lines up in every row of a block.  Each band of rows is computed in pieces of
 * columns into a buffer on the stack (in L1), and each row of a piece is then stored from it
 * with whole lines streamed: a piece covers, in each row, its columns up to the next line
 * boundary of that row (computing up to line - 1 columns more than its share; the next piece
 * starts there), so that every line but the two partial ones at a row's ends is written
 * once and whole.  The extra pass over the buffer costs little where this matters (a 3x3
 * kernel, bound by memory): the stores go to memory once instead of after a read for ownership,
 * and no 64-byte vector store splits two lines.  Intel Xeon (AVX-512, KVM), 2 threads, 'valid'
 * on 4096 x 4096 (outputs of 64 and 128 MiB, streamed by the core's threshold), steady-state
 * best of 12: 3x3 float32 7.0 -> 4.2 ms and float64 16.9 -> 8.3 ms (AVX2 had 5.2 and 10.6
 * with plain stores), at 1.4-2x plain stores on this path in alternating runs; 5x5 at parity
 * (0.95-1.03x); 7x7 and larger 0.80-0.89x, since a piece's columns are too few for their
 * blocks: those kernels keep plain stores (FC_STAGE_MAX_TAPS).  A 64 KiB buffer (in L2)
 * measured 3x3 1.1-1.3x slower than 16 KiB. */
#ifndef FC_STAGE_BYTES
#define FC_STAGE_BYTES (16 * 1024)
#define FC_STAGE_MAX_TAPS 25
#endif
static void FN(fc_corr_staged)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh,
                               ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t rows,
                               ptrdiff_t cols, S_T *scratch, int flags)
{
    unsigned char buf[FC_STAGE_BYTES + 64];
    S_T *const stage = (S_T *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
    const ptrdiff_t item = (ptrdiff_t)sizeof(S_T);
    const ptrdiff_t line = (sizeof(V_T) > 64 ? (ptrdiff_t)sizeof(V_T) : 64) / item;
    const ptrdiff_t nr = FN(fc_band_height)(kh, kw, ldx);
    /* The bands as fc_corr_rows cuts the whole tile, each computed by one call: small-kernel
     * bands of nr rows, then its aliased variant's (fc_alt_bands), then what is left, so that
     * every row is summed by the same block as unstaged and the values match bit for bit. */
    const ptrdiff_t na = nr == FN(fc_small_rows)(kh, kw, ldx) && nr == FC_NR_S(kh) ? FC_NR_A(kh)
                                                                                  : 0;
    const ptrdiff_t n_alt = na ? fc_alt_bands(rows, nr, na) : 0;
    const ptrdiff_t n_main = (rows - n_alt * na) / nr;
    /* Buffer rows a whole number of lines apart but not of 4 KiB (they would share L1 sets). */
    ptrdiff_t pitch = FC_STAGE_BYTES / item / nr / line * line;
    if ((pitch * item) % 4096 == 0) pitch -= line;
    /* A piece's share; the last one takes up to half a share more, so none is narrow. */
    const ptrdiff_t share = (pitch - line) * 2 / 3 / line * line;
    const int inner = (flags & ~FC_CORR_STREAM) | FC_CORR_BELOW;
    ptrdiff_t h;
    for (ptrdiff_t i = 0, k = 0; i < rows; i += h, k++) {
        h = k < n_main ? nr : k < n_main + n_alt ? na : rows - i < nr ? rows - i : nr;
        const int f = i + h < rows ? inner : (inner & ~FC_CORR_BELOW) | (flags & FC_CORR_BELOW);
        ptrdiff_t j0 = 0;
        while (j0 < cols) {
            const ptrdiff_t j1 = cols - j0 < share + share / 2 ? cols : j0 + share;
            const ptrdiff_t end = j1 + line - 1 < cols ? j1 + line - 1 : cols;
            FN(fc_corr_rows)(x + i * ldx + j0, ldx, w, kh, kw, stage, pitch, h, end - j0, scratch,
                             f);
            for (ptrdiff_t r = 0; r < h; r++) {
                /* This row's piece: from j0 (or where the previous piece stopped) to the first
                 * line boundary at or after j1. */
                S_T *yr = y + (i + r) * ldy;
                const ptrdiff_t a = j0 == 0 ? 0 : FN(fc_to_line)(yr + j0, line);
                ptrdiff_t b = j1 == cols ? cols : j1 + FN(fc_to_line)(yr + j1, line);
                if (b > cols) b = cols;
                FN(fc_stage_out)(stage + r * pitch + a, yr + j0 + a, b - j0 - a);
            }
            j0 = j1;
        }
    }
    FC_STREAM_FENCE();
}
#endif

#if defined(FC_HAS_LANES)
/* The lane-strided path, for kernels taller than the small block's and at least FC_LN_KW_MIN
 * columns wide (fc_lanes_fit).
 *
 * The main block (fc_block) loads each of a row's nv vectors again at every tap, one element
 * further along, so nearly every load is unaligned and splits a cache line, and with the
 * broadcast weights it issues about one load per two FMAs.  Here the tile is cut into panels
 * of V_L * S columns, and lane l of every vector holds the panel's stretch of S columns
 * starting at column l * S (a V_L x V_L transpose of each input row, fc_lanes_in).  Moving a
 * tap one column along is then a whole vector along, so a block of FC_LN_C vectors keeps a
 * ring of FC_LN_C loaded vectors and loads one aligned vector per tap (fc_lstep), for
 * FC_LN_R x FC_LN_C FMAs.  The results come out in the same layout and are transposed back
 * (fc_lanes_out).  Every output sums the same products in the same order as fc_block (kernel
 * rows, then taps), so the values are bit for bit the main block's.
 *
 * Input rows are transposed once per panel into a ring of FC_LN_R + kh - 1 rows, as the bands
 * of FC_LN_R rows walk down; the rows of the next band and its output rows are prefetched
 * (for writing) from within the blocks, a share at each kernel row, since the transposes touch
 * them in bursts the hardware prefetchers do not follow.
 *
 * Intel Xeon (AVX-512, KVM), one thread, float32, 2034 x 2034 'valid' outputs of a 2048-wide
 * image (rows 8 KiB apart), in a C harness against fc_corr's main block in the same process:
 * K=13 70% of the FMA peak against 63%, K=15 74% against 65%, K=21 80% against 70%, K=31 84%
 * against 73%.  The block alone, in L2: 92-95%.  Without the in-block prefetches (transposes
 * and stores meeting cold lines): K=15 55%; with prefetches in bursts between blocks 64%. */

/* One tap of fc_lstep: the ring's next vector loaded into the slot the previous tap freed. */
static FC_INLINE void FN(fc_ltap)(V_T acc[FC_LN_R][FC_LN_C], V_T ring[FC_LN_C],
                                  const S_T *FC_RESTRICT tr, const S_T *FC_RESTRICT wr,
                                  ptrdiff_t kw, ptrdiff_t b, int t, int lo, int hi, int nv)
{
    ring[(t + nv - 1) % nv] = V_LOAD(tr + (b + nv - 1) * V_L);
    FC_UNROLL
    for (int ii = 0; ii < FC_LN_R; ii++) {
        if (ii >= lo && ii <= hi) {
            V_T wv = V_SET1(wr[b - ii * kw]);
            FC_PIN(wv);
            FC_UNROLL
            for (int v = 0; v < nv; v++) acc[ii][v] = V_FMA(wv, ring[(t + v) % nv], acc[ii][v]);
        }
    }
}

/* Transposed input row tr feeds output rows lo..hi through kernel row r - ii (wr: row r): the
 * taps nv at a time, so that every ring index is a constant after unrolling. */
static FC_INLINE void FN(fc_lstep)(V_T acc[FC_LN_R][FC_LN_C], const S_T *FC_RESTRICT tr,
                                   const S_T *FC_RESTRICT wr, ptrdiff_t kw, int lo, int hi,
                                   int nv)
{
    V_T ring[FC_LN_C];
    FC_UNROLL
    for (int v = 0; v < nv - 1; v++) ring[v] = V_LOAD(tr + v * V_L);
    ptrdiff_t b0 = 0;
    for (; b0 + nv <= kw; b0 += nv) {
        FC_UNROLL
        for (int t = 0; t < nv; t++) FN(fc_ltap)(acc, ring, tr, wr, kw, b0 + t, t, lo, hi, nv);
    }
    FC_UNROLL
    for (int t = 0; t < nv - 1; t++) {
        if (b0 + t >= kw) break;
        FN(fc_ltap)(acc, ring, tr, wr, kw, b0 + t, t, lo, hi, nv);
    }
}

/* FC_LN_R output rows x nv transposed vectors into u (row stride ldu elements); rp[r] + off is
 * transposed input row r of the block.  pf .. pf + 64 * pf_lines: lines to prefetch, a share
 * at each kernel row (a write hint, prefetchw, measured no faster for the output rows). */
static FC_INLINE void FN(fc_lblock)(const S_T *const *rp, ptrdiff_t off, const S_T *w,
                                    ptrdiff_t kh, ptrdiff_t kw, S_T *FC_RESTRICT u,
                                    ptrdiff_t ldu, const char *pf, ptrdiff_t pf_lines, int nv)
{
    V_T acc[FC_LN_R][FC_LN_C];
    FC_UNROLL
    for (int ii = 0; ii < FC_LN_R; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
    FC_UNROLL
    for (int c = 0; c < FC_LN_R - 1; c++) FN(fc_lstep)(acc, rp[c] + off, w + c * kw, kw, 0, c, nv);
    const ptrdiff_t share = (pf_lines + kh - FC_LN_R) / (kh - FC_LN_R + 1);
    for (ptrdiff_t r = FC_LN_R - 1; r < kh; r++) {
        for (ptrdiff_t q = 0; q < share && pf_lines > 0; q++, pf_lines--, pf += 64)
            FC_PREFETCH_L1(pf);
        FN(fc_lstep)(acc, rp[r] + off, w + r * kw, kw, 0, FC_LN_R - 1, nv);
    }
    FC_UNROLL
    for (int d = 1; d < FC_LN_R; d++)
        FN(fc_lstep)(acc, rp[kh - 1 + d] + off, w + (kh - 1 + d) * kw, kw, d, FC_LN_R - 1, nv);
    FC_UNROLL
    for (int ii = 0; ii < FC_LN_R; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) V_STORE(u + ii * ldu + v * V_L, acc[ii][v]);
    }
}

typedef void (*FN(fc_lblock_fn))(const S_T *const *, ptrdiff_t, const S_T *, ptrdiff_t,
                                 ptrdiff_t, S_T *, ptrdiff_t, const char *, ptrdiff_t);
#define FC_LBLOCK(NV)                                                                           \
    static void FN(FC_CAT2(fc_lblock, NV))(const S_T *const *rp, ptrdiff_t off, const S_T *w,   \
                                           ptrdiff_t kh, ptrdiff_t kw, S_T *u, ptrdiff_t ldu,   \
                                           const char *pf, ptrdiff_t pf_lines)                  \
    {                                                                                           \
        FN(fc_lblock)(rp, off, w, kh, kw, u, ldu, pf, pf_lines, NV);                           \
    }
FC_LBLOCK(2)
FC_LBLOCK(3)
FC_LBLOCK(4)
FC_LBLOCK(5)
FC_LBLOCK(6)
#if FC_LN_C != 6
#error "fc_lblocks below covers FC_LN_C = 6"
#endif
/* Indexed by the block's vectors; a panel's last strip is never a single vector (see
 * fc_corr_lanes). */
static const FN(fc_lblock_fn) FN(fc_lblocks)[FC_LN_C + 1] = {
    NULL, NULL, FN(fc_lblock_2), FN(fc_lblock_3), FN(fc_lblock_4), FN(fc_lblock_5),
    FN(fc_lblock_6)};

/* Transposes the n elements from xr on of each of the V_L lanes' stretches (lane l's starts at
 * xr + l * s) into tr: tr[j * V_L + l] = xr[l * s + j], for j < n; tr holds n rounded up to
 * whole vectors (the lanes past n are zero). */
static void FN(fc_lanes_in)(const S_T *FC_RESTRICT xr, ptrdiff_t s, ptrdiff_t n,
                            S_T *FC_RESTRICT tr)
{
    for (ptrdiff_t j = 0; j < n; j += V_L) {
        V_T v[V_L];
        const ptrdiff_t m = n - j;
        if (m >= V_L) {
            FC_UNROLL
            for (int l = 0; l < V_L; l++) v[l] = V_LOAD(xr + l * s + j);
        } else {
            FC_UNROLL
            for (int l = 0; l < V_L; l++) v[l] = V_LOAD_N(xr + l * s + j, (int)m);
        }
        V_TRANSPOSE(v);
        FC_UNROLL
        for (int k = 0; k < V_L; k++) V_STORE(tr + (j + k) * V_L, v[k]);
    }
}

/* The inverse of fc_lanes_in for one output row: yr[l * s + j] = ur[j * V_L + l] for j < s,
 * or with FC_CORR_ROTATE at yr[-(l * s + j)]. */
static void FN(fc_lanes_out)(const S_T *FC_RESTRICT ur, ptrdiff_t s, S_T *FC_RESTRICT yr,
                             int flags)
{
    for (ptrdiff_t j = 0; j < s; j += V_L) {
        V_T v[V_L];
        const int m = s - j < V_L ? (int)(s - j) : V_L;
        FC_UNROLL
        for (int k = 0; k < V_L; k++) v[k] = V_LOAD(ur + (j + k) * V_L);
        V_TRANSPOSE(v);
        FC_UNROLL
        for (int l = 0; l < V_L; l++) {
            if (flags & FC_CORR_ROTATE)
                V_STORE_N_REVERSED(yr - (l * s + j), v[l], m);
            else if (m == V_L)
                V_STORE(yr + l * s + j, v[l]);
            else
                V_STORE_N(yr + l * s + j, v[l], m);
        }
    }
}

/* The cache lines of the n elements from p, or with `rotate` of the n ending at p: *first set
 * to the first line, the count returned. */
static ptrdiff_t FN(fc_lines)(const S_T *p, ptrdiff_t n, int rotate, const char **first)
{
    const uintptr_t lo = (uintptr_t)(rotate ? p - (n - 1) : p);
    const uintptr_t hi = lo + (uintptr_t)n * sizeof(S_T) - 1;
    *first = (const char *)(lo & ~(uintptr_t)63);
    return (ptrdiff_t)((hi >> 6) - (lo >> 6) + 1);
}

/* fc_corr's tile on the lane-strided blocks (see above); the caller checks the sizes
 * (fc_lanes_fit).  Returns 0, having written nothing, if its buffers cannot be allocated. */
static int FN(fc_corr_lanes)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh,
                             ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols,
                             int flags)
{
    /* Panels of at most FC_LN_SMAX columns per lane, as equal as whole columns allow; the last
     * one ends at the tile's edge and may recompute fewer than V_L columns per panel of the one
     * before (with the same values).  A single panel one column wider than the tile becomes two
     * (994 columns: 2 x 512, not 992 + a second 992 shifted by 2). */
    ptrdiff_t n_panels = (cols + (ptrdiff_t)V_L * FC_LN_SMAX - 1) / ((ptrdiff_t)V_L * FC_LN_SMAX);
    ptrdiff_t s = (cols + (ptrdiff_t)V_L * n_panels - 1) / ((ptrdiff_t)V_L * n_panels);
    if (s * V_L > cols) {
        n_panels++;
        s = (cols + (ptrdiff_t)V_L * n_panels - 1) / ((ptrdiff_t)V_L * n_panels);
    }
    const ptrdiff_t panel = s * V_L, n_in = s + kw - 1;
    /* Ring rows of whole transpose groups, not a multiple of 4 KiB apart (they would share L1
     * sets). */
    ptrdiff_t ldt = (n_in + V_L - 1) / V_L * V_L * V_L;
    if ((ldt * (ptrdiff_t)sizeof(S_T)) % 4096 == 0) ldt += V_L;
    const ptrdiff_t ldu = (s + V_L - 1) / V_L * V_L * V_L;
    const ptrdiff_t ring = FC_LN_R + kh - 1;
    const int rot = (flags & FC_CORR_ROTATE) != 0;
    const ptrdiff_t dir = rot ? -1 : 1;
    unsigned char *mem = (unsigned char *)malloc(
        (size_t)(ring * ldt + FC_LN_R * ldu) * sizeof(S_T) + 64);
    if (mem == NULL) return 0;
    S_T *const t = (S_T *)(((uintptr_t)mem + 63u) & ~(uintptr_t)63u);
    S_T *const u = t + ring * ldt;
    /* fc_lanes_out reads each output row's last transpose group whole, past column s, where
     * no block stores: zeroed, so those (never stored) lanes are defined. */
    for (ptrdiff_t ii = 0; ii < FC_LN_R; ii++)
        memset(u + ii * ldu + s * V_L, 0, (size_t)(ldu - s * V_L) * sizeof(S_T));
    const S_T *rp[FC_LN_KMAX + FC_LN_R];
    for (ptrdiff_t c0 = 0; c0 < cols; c0 += panel) {
        if (c0 + panel > cols) c0 = cols - panel;
        ptrdiff_t have = 0; /* input rows transposed so far */
        for (ptrdiff_t i = 0; i < rows; i += FC_LN_R) {
            /* The last band ends at the tile's last row (recomputing some rows identically). */
            if (i + FC_LN_R > rows) i = rows - FC_LN_R;
            for (; have < i + ring; have++)
                FN(fc_lanes_in)(x + have * ldx + c0, s, n_in, t + have % ring * ldt);
            for (ptrdiff_t r = 0; r < ring; r++) rp[r] = t + (i + r) % ring * ldt;
            /* What the next band will touch first: its new input rows, then its output rows,
             * one row to a strip of this band, any left over after the last strip at once. */
            const ptrdiff_t next = i + 2 * FC_LN_R <= rows ? i + FC_LN_R : rows - FC_LN_R;
            const ptrdiff_t n_x = next + ring - have;
            const ptrdiff_t n_pf = i + FC_LN_R < rows ? n_x + FC_LN_R : 0;
            for (ptrdiff_t j = 0, k = 0; j < s || k < n_pf; k++) {
                const char *pf = NULL;
                ptrdiff_t lines = 0;
                if (k < n_pf && k < n_x)
                    lines = FN(fc_lines)(x + (have + k) * ldx + c0, panel + kw - 1, 0, &pf);
                else if (k < n_pf)
                    lines = FN(fc_lines)(y + (next + k - n_x) * ldy + dir * c0, panel, rot, &pf);
                if (j == s) {
                    for (; lines > 0; lines--, pf += 64) FC_PREFETCH_L1(pf);
                    continue;
                }
                /* Strips of FC_LN_C vectors; a last 7 as 4 + 3 (a lone vector's block would
                 * load as often as it multiplies). */
                ptrdiff_t nv = s - j < FC_LN_C ? s - j : FC_LN_C;
                if (s - j == FC_LN_C + 1) nv = 4;
                FN(fc_lblocks)[nv](rp, j * V_L, w, kh, kw, u + j * V_L, ldu, pf, lines);
                j += nv;
            }
            for (ptrdiff_t ii = 0; ii < FC_LN_R; ii++)
                FN(fc_lanes_out)(u + ii * ldu, s, y + (i + ii) * ldy + dir * c0, flags);
        }
    }
    free(mem);
    return 1;
}

/* Whether fc_corr gives this tile to fc_corr_lanes (see FC_LN_KW_MIN in simd.h). */
static FC_INLINE int FN(fc_lanes_fit)(ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t rows, ptrdiff_t cols)
{
    return kh > FC_KH_S && kw >= FC_LN_KW_MIN && kh <= FC_LN_KMAX && kw <= FC_LN_KMAX &&
           rows >= FC_LN_R && cols >= (ptrdiff_t)V_L * FC_LN_SMIN;
}
#endif

#if defined(FC_HAS_LANES) && V_L >= 16
/* The column pass with a transposed store, for separable filters on this path:
 *     y[j * ldy + i] = sum_{a < k} w[a] * x[(i + a) * ldx + j],  i < rows, j < cols,
 * rows and cols at least one vector.  A separable filter is this twice: the column pass of a
 * block of image rows leaves the intermediate transposed (one row of it per image column, its
 * elements the block's rows), and the row pass, run on that as a pass down its rows, stores the
 * block back the right way round.  So both passes read whole vectors at the same offset in a
 * line, where the 1-D kernel's row pass reads a vector at every offset, nearly all of which
 * split a cache line on AVX-512 (see fc1_block).  The price is one in-register transpose per
 * V_L x V_L outputs of each pass.  Intel Xeon (AVX-512), a band of 32 x 1024 float32 outputs
 * in L2 per thread, column + row pass against the column block and the 1-D kernel, one
 * thread: 33 taps 158-169 against 130-135 GFLOP/s (the row pass alone 158 against 105), 17
 * taps 139-144 against 120-124, 13 taps 127-147 against 117-130, 9 taps 107 against 98-104,
 * 5 taps 72 against 79; two threads, 33 taps 320-354 against 268-281.  float64 (8 lanes, two
 * vectors of columns a block) gained 0-10% in the same harness and lost 4-13% in the filters,
 * so only paths with 16-lane vectors have it.
 * A block is V_L rows x one vector (V_L accumulators), the taps FC_CT_G at a time with their
 * weights in registers, as fc_cblock; each output sums its taps in order, one FMA each.  The
 * last block of each axis overlaps the one before (recomputed identically). */
#define FC_CT_G 10
/* Lines ahead in each row that a block asks L2 for: 2 and 8 measured as 4 did. */
#define FC_CT_PREFETCH_LINES 4

static FC_INLINE void FN(fc_ctgroup)(V_T acc[V_L], const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                     const S_T *FC_RESTRICT w, int g)
{
    V_T wv[FC_CT_G];
    FC_UNROLL
    for (int t = 0; t < g; t++) wv[t] = V_SET1(w[t]);
    const S_T *xr = x;
    FC_UNROLL
    for (int r = 0; r < V_L + g - 1; r++, xr += ldx) {
        FC_PIN_PTR(xr);
        V_T xv = V_LOAD(xr);
        FC_PIN(xv);
        FC_UNROLL
        for (int ii = 0; ii < V_L; ii++)
            if (r - ii >= 0 && r - ii < g) acc[ii] = V_FMA(wv[r - ii], xv, acc[ii]);
    }
}

#define FC_CT_CASE(n)                                                                          \
    case n:                                                                                    \
        FN(fc_ctgroup)(acc, x + a * ldx, ldx, w + a, n);                                       \
        break;

static FC_INLINE void FN(fc_ctblock)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                     const S_T *FC_RESTRICT w, ptrdiff_t k, S_T *FC_RESTRICT y,
                                     ptrdiff_t ldy)
{
    V_T acc[V_L];
    FC_UNROLL
    for (int ii = 0; ii < V_L; ii++) acc[ii] = V_ZERO();
    ptrdiff_t a = 0;
    for (; a + FC_CT_G <= k; a += FC_CT_G) FN(fc_ctgroup)(acc, x + a * ldx, ldx, w + a, FC_CT_G);
    switch (k - a) {
        FC_CT_CASE(1)
        FC_CT_CASE(2)
        FC_CT_CASE(3)
        FC_CT_CASE(4)
        FC_CT_CASE(5)
        FC_CT_CASE(6)
        FC_CT_CASE(7)
        FC_CT_CASE(8)
        FC_CT_CASE(9)
        default:
            break;
    }
#if FC_CT_G != 10
#error "fc_ctblock: one FC_CT_CASE per group size below FC_CT_G"
#endif
    V_TRANSPOSE(acc);
    FC_UNROLL
    for (int l = 0; l < V_L; l++) V_STORE(y + l * ldy, acc[l]);
}
#undef FC_CT_CASE

static void FN(fc_colt)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t k, S_T *y,
                        ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols)
{
    const ptrdiff_t ahead = FC_CT_PREFETCH_LINES * 64 / (ptrdiff_t)sizeof(S_T);
    /* Strips of one vector of columns, each walked down its rows, so consecutive blocks share
     * k - 1 input rows in L1.  Each block asks L2 for the lines its rows will need a few
     * strips on: rows + k - 1 rows read a line at a time are more streams than the hardware
     * prefetchers follow (Intel Xeon, 2 threads, a 33-tap Gaussian's passes over 2048 x 2048
     * to 4096 x 4096 float32: 1.06-1.15x faster than the 1-D kernel's with it, 0.76-0.99x
     * without). */
    for (ptrdiff_t j = 0; j < cols; j += V_L) {
        const ptrdiff_t jj = cols - j < V_L ? cols - V_L : j;
        const int prefetch = jj + ahead < cols;
        for (ptrdiff_t i = 0; i < rows; i += V_L) {
            const ptrdiff_t ii = rows - i < V_L ? rows - V_L : i;
            if (prefetch) {
                const ptrdiff_t last = i + V_L >= rows ? rows + k - 1 : ii + V_L;
                for (ptrdiff_t r = i; r < last; r++) FC_PREFETCH_L2(x + r * ldx + jj + ahead);
            }
            FN(fc_ctblock)(x + ii * ldx + jj, ldx, w, k, y + jj * ldy + ii, ldy);
        }
    }
}
#endif

void FN(fc_corr)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, ptrdiff_t kw, S_T *y,
                 ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, S_T *scratch, int flags)
{
#if defined(FC_HAS_LANES)
    if (FN(fc_lanes_fit)(kh, kw, rows, cols) &&
        FN(fc_corr_lanes)(x, ldx, w, kh, kw, y, ldy, rows, cols, flags))
        return;
#endif
    /* Stores on cache lines: when every row starts at the same offset in a line, the first
     * vector of columns is computed on its own and the rest from the first column on a line
     * boundary (the columns in between computed twice, identically), so that no vector of the
     * rest is stored across two lines.  An array NumPy allocates for a large result starts 16
     * bytes into a line (as large 'same' outputs do), so an AVX-512 vector store at the same
     * offset splits every time.  Intel Xeon (AVX-512), 2 threads, 'valid' into rows 16 bytes
     * into a line, alternating runs: 2048x2048 float32 3x3, 5x5, 9x9, 15x15 1.10, 1.17, 1.05,
     * 1.05x faster, float64 1.16, 1.25, 1.08, 1.0x; 1024x1024 0.95-1.10x.  The split columns
     * depend on the shapes and the offset in a line only, so a tile gives the same bits
     * wherever its output lies (tests/test_ndimage.py, test_tiles_at_every_output_offset). */
    const ptrdiff_t line = sizeof(V_T) > 64 ? (ptrdiff_t)sizeof(V_T) : 64;
    const ptrdiff_t item = (ptrdiff_t)sizeof(S_T);
    ptrdiff_t misaligned = (ptrdiff_t)((uintptr_t)y % (uintptr_t)line);
    /* Columns before the first line boundary (none when the rows start on one). */
    ptrdiff_t head = misaligned ? (line - misaligned) / item : 0;
    const int rows_share_offset = !(flags & FC_CORR_ROTATE) && misaligned % item == 0 &&
                                  (ldy * item) % line == 0;
    if (misaligned && rows_share_offset && cols >= head + 2 * V_L) {
        FN(fc_corr_rows)(x, ldx, w, kh, kw, y, ldy, rows, head < V_L ? V_L : head, scratch,
                         flags & ~FC_CORR_STREAM);
        x += head;
        y += head;
        cols -= head;
        misaligned = 0;
        head = 0;
    }
#if defined(FC_HAS_STREAM)
    if (flags & FC_CORR_STREAM) {
        /* Non-temporal stores need aligned vectors, and pay only when each block completes
         * whole cache lines: a block writes nr rows at once, and lines left half-written in
         * every row outnumber the write-combining buffers (Zen 1, float32 3x3, lines split
         * between blocks: 1.15x slower than plain stores).  Tiles whose rows share an offset
         * were put on line boundaries above; rows at differing offsets go through the staged
         * path, and rotated tiles and tiles under two vectors wide past their head are stored
         * as usual. */
        if ((flags & FC_CORR_ROTATE) || misaligned % item != 0 || cols < head + 2 * V_L) {
            flags &= ~FC_CORR_STREAM;
        } else if (!rows_share_offset) {
            if (kh * kw <= FC_STAGE_MAX_TAPS) {
                FN(fc_corr_staged)(x, ldx, w, kh, kw, y, ldy, rows, cols, scratch, flags);
                return;
            }
            flags &= ~FC_CORR_STREAM;
        } else {
            FN(fc_corr_rows)(x, ldx, w, kh, kw, y, ldy, rows, cols, scratch, flags);
            /* Streamed stores are weakly ordered: make them visible before the caller's
             * threads join. */
            FC_STREAM_FENCE();
            return;
        }
    }
#else
    flags &= ~FC_CORR_STREAM;
#endif
    FN(fc_corr_rows)(x, ldx, w, kh, kw, y, ldy, rows, cols, scratch, flags);
}

/* The 3-D bands: as fc_sband_* and fc_band_*, with every block summing kd kernel planes (row
 * block origin: xp[p] + off for plane p). */
#define FC_SBAND3(NAME, KH, NR, NV)                                                             \
    static void FN(NAME)(const S_T *const *xp, ptrdiff_t off, ptrdiff_t ldx, const S_T *wt,     \
                         ptrdiff_t kd, ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t cols,     \
                         int prefetch)                                                          \
    {                                                                                           \
        const ptrdiff_t strip = (ptrdiff_t)V_L * (NV);                                          \
        const S_T *last = xp[kd - 1] + off;                                                     \
        ptrdiff_t j = 0;                                                                        \
        for (; j + strip <= cols; j += strip) {                                                 \
            if (prefetch)                                                                       \
                FN(fc_prefetch_next_band)(last, ldx, j, KH, NR, NV);                            \
            FN(fc_sblock3)(xp, off + j, ldx, wt, kd, kw, y + j, ldy, KH, NR, NV);              \
        }                                                                                       \
        for (; j + V_L <= cols; j += V_L)                                                       \
            FN(fc_sblock3)(xp, off + j, ldx, wt, kd, kw, y + j, ldy, KH, NR, 1);               \
        if (j < cols)                                                                           \
            FN(fc_sblock3)(xp, off + cols - V_L, ldx, wt, kd, kw, y + cols - V_L, ldy, KH, NR, \
                           1);                                                                  \
    }
#define FC_SBANDS3(KH)                                                                          \
    FC_SBAND3(FC_CAT2(fc_sband3, KH), KH, FC_NR_S(KH), FC_NV_S(KH))                             \
    FC_SBAND3(FC_CAT2(fc_sband3_a, KH), KH, FC_NR_A(KH), FC_NV_A(KH))
FC_SBANDS3(1)
FC_SBANDS3(2)
FC_SBANDS3(3)
FC_SBANDS3(4)
#if FC_KH_S > 4
FC_SBANDS3(5)
FC_SBANDS3(6)
#endif
#if FC_KH_S > 6
FC_SBANDS3(7)
FC_SBANDS3(8)
#endif
#if FC_KH_S > 8
FC_SBAND3(FC_CAT2(fc_sband3, 9), 9, FC_NR_S(9), FC_NV_S(9))
FC_SBAND3(FC_CAT2(fc_sband3, 10), 10, FC_NR_S(10), FC_NV_S(10))
FC_SBAND3(FC_CAT2(fc_sband3, 11), 11, FC_NR_S(11), FC_NV_S(11))
FC_SBAND3(FC_CAT2(fc_sband3, 12), 12, FC_NR_S(12), FC_NV_S(12))
#endif
#undef FC_SBANDS3
#undef FC_SBAND3

typedef void (*FN(fc_sband3_fn))(const S_T *const *, ptrdiff_t, ptrdiff_t, const S_T *,
                                 ptrdiff_t, ptrdiff_t, S_T *, ptrdiff_t, ptrdiff_t, int);
#define FC_SBAND3_PAIR(KH) {FN(FC_CAT2(fc_sband3, KH)), FN(FC_CAT2(fc_sband3_a, KH))}
#define FC_SBAND3_ONE(KH) {FN(FC_CAT2(fc_sband3, KH)), NULL}
static const FN(fc_sband3_fn) FN(fc_sbands3)[FC_KH_S + 1][2] = {
    {NULL, NULL}, FC_SBAND3_PAIR(1), FC_SBAND3_PAIR(2), FC_SBAND3_PAIR(3), FC_SBAND3_PAIR(4),
#if FC_KH_S > 4
    FC_SBAND3_PAIR(5), FC_SBAND3_PAIR(6),
#endif
#if FC_KH_S > 6
    FC_SBAND3_PAIR(7), FC_SBAND3_PAIR(8),
#endif
#if FC_KH_S > 8
    FC_SBAND3_ONE(9), FC_SBAND3_ONE(10), FC_SBAND3_ONE(11), FC_SBAND3_ONE(12),
#endif
};
#undef FC_SBAND3_PAIR
#undef FC_SBAND3_ONE

#define FC_BAND3(NR)                                                                            \
    static void FN(FC_CAT2(fc_band3, NR))(const S_T *const *xp, ptrdiff_t off, ptrdiff_t ldx,   \
                                          const S_T *w, ptrdiff_t kd, ptrdiff_t kh,             \
                                          ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t cols,  \
                                          S_T *scratch)                                         \
    {                                                                                           \
        const ptrdiff_t strip = (ptrdiff_t)V_L * FC_NV;                                         \
        ptrdiff_t j = 0;                                                                        \
        for (; j + strip <= cols; j += strip)                                                   \
            FN(fc_block3)(xp, off + j, ldx, w, kd, kh, kw, y + j, ldy, 0, scratch, NR, FC_NV, 0); \
        for (; j + V_L <= cols; j += V_L)                                                       \
            FN(fc_block3)(xp, off + j, ldx, w, kd, kh, kw, y + j, ldy, 0, scratch, NR, 1, 0);  \
        if (j < cols && cols >= V_L) /* overlap the previous vector: same values rewritten */  \
            FN(fc_block3)(xp, off + cols - V_L, ldx, w, kd, kh, kw, y + cols - V_L, ldy, 0,    \
                          scratch, NR, 1, 0);                                                   \
        else if (j < cols)                                                                      \
            FN(fc_block3)(xp, off + j, ldx, w, kd, kh, kw, y + j, ldy, cols - j, scratch, NR, 1, \
                          1);                                                                   \
    }
FC_BAND3(1)
FC_BAND3(2)
FC_BAND3(3)
FC_BAND3(4)
#if FC_NR > 4
FC_BAND3(5)
FC_BAND3(6)
#endif
#undef FC_BAND3

typedef void (*FN(fc_band3_fn))(const S_T *const *, ptrdiff_t, ptrdiff_t, const S_T *, ptrdiff_t,
                                ptrdiff_t, ptrdiff_t, S_T *, ptrdiff_t, ptrdiff_t, S_T *);
static const FN(fc_band3_fn) FN(fc_bands3)[FC_NR + 1] = {
    NULL, FN(fc_band3_1), FN(fc_band3_2), FN(fc_band3_3), FN(fc_band3_4),
#if FC_NR > 4
    FN(fc_band3_5), FN(fc_band3_6),
#endif
};

void FN(fc_corr3)(const S_T *const *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kd, ptrdiff_t kh,
                  ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols,
                  S_T *scratch)
{
    /* fc_corr's bands and blocks, each block summing all kd planes in its registers.  The
     * transposed kernel of the small-kernel bands lives in the scratch, after the padded row,
     * so (unlike fc_corr's copy on the stack) it has no width limit.
     *
     * Each small-kernel band asks L2 for the rows of the last plane its next band reads (a
     * strip at a time, as FC_SBAND does for a 2-D tile from memory): a volume's consecutive
     * output planes share all their input planes but that one, which comes from memory, and
     * with kd planes' rows in flight the hardware prefetchers did not bring it in time.  One
     * thread, 5x5x5, float32 planes of 160x160 (Intel Xeon, avx512, C harness, alternating
     * runs): a volume of 160 planes 106-118 -> 133-139 GFLOP/s, two such processes at once
     * 113-116 -> 132-138 each; 3x3x3 +14%, 7x7x7 +11%, 320x320 planes +13%, 64x64 planes and
     * a volume in L2 within 2%.  The other planes' next rows were read for the previous
     * output plane: prefetching them too ran 5-25% below the last plane alone. */
    ptrdiff_t off = 0;
    const ptrdiff_t snr =
        kh <= FC_KH_S && cols >= V_L
            ? fc_small_band_rows(FC_NR_S(kh), FC_NR_A(kh), kh, ldx * (ptrdiff_t)sizeof(S_T))
            : 0;
    if (snr) {
        S_T *wt = scratch + fc_scratch_elems(kw);
        for (ptrdiff_t p = 0; p < kd; p++)
            for (ptrdiff_t a = 0; a < kh; a++)
                for (ptrdiff_t b = 0; b < kw; b++)
                    wt[(p * kw + b) * kh + a] = w[(p * kh + a) * kw + b];
        const ptrdiff_t n_alt = snr == FC_NR_S(kh) ? fc_alt_bands(rows, snr, FC_NR_A(kh)) : 0;
        const ptrdiff_t n_main = (rows - n_alt * FC_NR_A(kh)) / snr;
        ptrdiff_t i = 0;
        for (ptrdiff_t k = 0; k < n_main + n_alt; k++) {
            const int alt = k >= n_main || snr != FC_NR_S(kh);
            const ptrdiff_t h = k >= n_main ? FC_NR_A(kh) : snr;
            /* Prefetch only rows this tile reads: the last small band has no next one. */
            FN(fc_sbands3)[kh][alt](x, i * ldx, ldx, wt, kd, kw, y + i * ldy, ldy, cols,
                                    i + 2 * h <= rows);
            i += h;
        }
        off = i * ldx;
        y += i * ldy;
        rows -= i;
    }
    const ptrdiff_t nr = kh < FC_NR ? kh : FC_NR;
    ptrdiff_t i = 0;
    for (; i + nr <= rows; i += nr)
        FN(fc_bands3)[nr](x, off + i * ldx, ldx, w, kd, kh, kw, y + i * ldy, ldy, cols, scratch);
    if (i < rows)
        FN(fc_bands3)[rows - i](x, off + i * ldx, ldx, w, kd, kh, kw, y + i * ldy, ldy, cols,
                                scratch);
}

double FN(fc_fma_probe)(long iters)
{
    /* Ten independent chains cover FMA latency x ports on current cores (4 cycles x 2). */
    enum { CHAINS = 10 };
    V_T a[CHAINS];
    const V_T m = V_SET1((S_T)0.999999), c = V_SET1((S_T)1e-7);
    FC_UNROLL
    for (int k = 0; k < CHAINS; k++) a[k] = V_SET1((S_T)(1 + k));
    for (long it = 0; it < iters; it++) {
        FC_UNROLL
        for (int k = 0; k < CHAINS; k++) a[k] = V_FMA(a[k], m, c);
    }
    S_T lanes[V_L];
    S_T total = 0;
    for (int k = 0; k < CHAINS; k++) {
        V_STORE(lanes, a[k]);
        for (int l = 0; l < V_L; l++) total += lanes[l];
    }
    /* A volatile sink keeps the chains from being optimised away. */
    volatile S_T sink = total;
    (void)sink;
    return 2.0 * V_L * CHAINS * (double)iters;
}

#undef FC_SB_R
#undef FC_SB_V
#undef FN
