/* The tile kernel and FMA probe for one dtype, written in the vector vocabulary of simd.h.
 * corr_kernels.c includes this once per dtype with S_T, V_T, V_L, V_LOAD, V_STORE, V_SET1,
 * V_ZERO, V_FMA and FC_DT defined.  Every function name carries the dtype and ISA suffix, so a
 * copy the compiler keeps out of line can never be mistaken for baseline code. */

#define FN(base) FC_CAT3(base, FC_DT, FC_ISA)

/* Copies n input elements to buf and zeroes it up to `width`, for the tail block's full-width
 * loads; returns buf. */
static inline const S_T *FN(fc_pad_row)(const S_T *src, ptrdiff_t n, ptrdiff_t width, S_T *buf)
{
    ptrdiff_t k = 0;
    for (; k < n; k++) buf[k] = src[k];
    for (; k < width; k++) buf[k] = (S_T)0;
    return buf;
}

/* Input row xr feeds output rows lo..hi, output row ii through kernel row r - ii (wr points at
 * kernel row r).  nr, nv, lo and hi are compile-time constants at every call after inlining, so the unrolled loops keep acc in registers and the row tests vanish. */
static FC_INLINE void FN(fc_step)(V_T acc[FC_NR][FC_NV], const S_T *FC_RESTRICT xr,
                                  const S_T *FC_RESTRICT wr, ptrdiff_t kw, int lo, int hi, int nr,
                                  int nv)
{
    FC_UNROLL_TAPS
    for (ptrdiff_t b = 0; b < kw; b++) {
        V_T xv[FC_NV];
        FC_UNROLL
        for (int v = 0; v < nv; v++) xv[v] = V_LOAD(xr + b + v * V_L);
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
 * With `mirror`, column c of the block is stored at y[-c] (lanes reversed), so a result can be
 * written rotated without a second pass over it.
 *
 * With `tail`, the block is the last, partial vector of a row (ncols < lanes): each input row is
 * first copied into a zero-padded buffer so the same full-width loads can be used without reading
 * past the caller's columns.  Lanes past ncols are computed from zeros and never stored. */
static FC_INLINE void FN(fc_block)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                   const S_T *FC_RESTRICT w, ptrdiff_t kh, ptrdiff_t kw,
                                   S_T *FC_RESTRICT y, ptrdiff_t ldy, ptrdiff_t ncols,
                                   S_T *FC_RESTRICT buf, int nr, int nv, int tail, int mirror)
{
    V_T acc[FC_NR][FC_NV];
    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[ii][v] = V_ZERO();
    }
#define FC_ROW(r) (tail ? FN(fc_pad_row)(x + (r) * ldx, ncols + kw - 1, V_L + kw - 1, buf) \
                        : x + (r) * ldx)
    FC_UNROLL
    for (int c = 0; c < nr - 1; c++) FN(fc_step)(acc, FC_ROW(c), w + c * kw, kw, 0, c, nr, nv);
    for (ptrdiff_t r = nr - 1; r < kh; r++)
        FN(fc_step)(acc, FC_ROW(r), w + r * kw, kw, 0, nr - 1, nr, nv);
    FC_UNROLL
    for (int d = 1; d < nr; d++)
        FN(fc_step)(acc, FC_ROW(kh - 1 + d), w + (kh - 1 + d) * kw, kw, d, nr - 1, nr, nv);
#undef FC_ROW

    FC_UNROLL
    for (int ii = 0; ii < nr; ii++) {
        if (tail) {
            S_T lanes[V_L];
            V_STORE(lanes, acc[ii][0]);
            for (ptrdiff_t c = 0; c < ncols; c++) y[ii * ldy + (mirror ? -c : c)] = lanes[c];
        } else if (mirror) {
            FC_UNROLL
            for (int v = 0; v < nv; v++)
                V_STORE(y + ii * ldy - v * V_L - (V_L - 1), V_REVERSE(acc[ii][v]));
        } else {
            FC_UNROLL
            for (int v = 0; v < nv; v++) V_STORE(y + ii * ldy + v * V_L, acc[ii][v]);
        }
    }
}

/* One band of NR output rows across `cols` columns: strips of FC_NV vectors, then single vectors,
 * then the last partial vector: a full vector ending at the last column, overlapping the one
 * before (its shared columns are recomputed with identical operations, so rewriting them is
 * harmless), or, for rows narrower than one vector, the zero-padded copy. */
#define FC_BAND(NR)                                                                             \
    static void FN(FC_CAT2(fc_band, NR))(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, \
                                         ptrdiff_t kw, S_T *y, ptrdiff_t ldy, ptrdiff_t cols,    \
                                         S_T *scratch, int mirror)                              \
    {                                                                                           \
        const ptrdiff_t strip = (ptrdiff_t)V_L * FC_NV, dir = mirror ? -1 : 1;                  \
        ptrdiff_t j = 0;                                                                        \
        for (; j + strip <= cols; j += strip)                                                   \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, 0, scratch, NR, FC_NV, 0, mirror); \
        for (; j + V_L <= cols; j += V_L)                                                       \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, 0, scratch, NR, 1, 0, mirror); \
        if (j < cols && cols >= V_L) /* overlap the previous vector: same values rewritten */  \
            FN(fc_block)(x + cols - V_L, ldx, w, kh, kw, y + dir * (cols - V_L), ldy, 0, scratch, \
                         NR, 1, 0, mirror);                                                     \
        else if (j < cols)                                                                      \
            FN(fc_block)(x + j, ldx, w, kh, kw, y + dir * j, ldy, cols - j, scratch, NR, 1, 1,  \
                         mirror);                                                               \
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

void FN(fc_corr)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, ptrdiff_t kw, S_T *y,
                 ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, S_T *scratch, int mirror)
{
    /* Bands of nr = min(kh, FC_NR) rows, top to bottom, each walking its rows left to right: input
     * is read in row order, which the hardware prefetchers follow (a column-strip order, which
     * jumps a whole image row per access, measured 2x slower at K=5), and the kh - 1 input rows
     * that consecutive bands share are still in cache.  Taller blocks than kh would need more
     * accumulators than the reuse they buy, and fc_block's ramps assume nr <= kh.  Rows left over
     * form one shorter band (fewer than nr <= kh rows, so still valid). */
    const ptrdiff_t nr = kh < FC_NR ? kh : FC_NR;
    ptrdiff_t i = 0;
    for (; i + nr <= rows; i += nr)
        FN(fc_bands)[nr](x + i * ldx, ldx, w, kh, kw, y + i * ldy, ldy, cols, scratch, mirror);
    if (i < rows)
        FN(fc_bands)[rows - i](x + i * ldx, ldx, w, kh, kw, y + i * ldy, ldy, cols, scratch,
                               mirror);
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

#undef FN
