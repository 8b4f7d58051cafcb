/* One register block of output: BLK_NR rows x BLK_NV vectors of columns, all accumulators held in
 * registers for the whole kernel.  Included by corr_tmpl.h once per block shape, with
 * BLK_NAME, BLK_NR, BLK_NV and BLK_TAIL defined.
 *
 * Input rows are walked once each (r = 0 .. NR+kh-2); every vector loaded from input row r feeds
 * each output row ii whose kernel row a = r - ii is in range, so a loaded vector is reused up to NR
 * times and the loads per FMA fall to about (NR+kh-1)/(NR*kh) + 1/NV (plus one weight broadcast per
 * active row).  Rows where all NR outputs are active run without per-tap branches; only the
 * NR-1 ramp rows at each end test which outputs are active.
 *
 * With BLK_TAIL, the block is the last, partial vector of a row (ncols < lanes): each input row is
 * first copied into a zero-padded buffer so the same full-width loads can be used without reading
 * past the caller's columns.  Lanes past ncols are computed from zeros and never stored.
 */
static FC_INLINE void BLK_NAME(const S_T *FC_RESTRICT x, ptrdiff_t ldx, const S_T *FC_RESTRICT w,
                               ptrdiff_t kh, ptrdiff_t kw, S_T *FC_RESTRICT y, ptrdiff_t ldy
#if BLK_TAIL
                               , ptrdiff_t ncols, S_T *FC_RESTRICT buf
#endif
)
{
    V_T acc[BLK_NR][BLK_NV];
    FC_UNROLL
    for (int ii = 0; ii < BLK_NR; ii++) {
        FC_UNROLL
        for (int v = 0; v < BLK_NV; v++) acc[ii][v] = V_ZERO();
    }

    const ptrdiff_t n_in_rows = BLK_NR + kh - 1;
    for (ptrdiff_t r = 0; r < n_in_rows; r++) {
        const S_T *xr = x + r * ldx;
#if BLK_TAIL
        {
            const ptrdiff_t n_avail = ncols + kw - 1;
            for (ptrdiff_t k = 0; k < n_avail; k++) buf[k] = xr[k];
            for (ptrdiff_t k = n_avail; k < V_L + kw - 1; k++) buf[k] = (S_T)0;
            xr = buf;
        }
#endif
        /* Output rows lo..hi use input row r, through kernel row r - ii. */
        const ptrdiff_t lo = r - kh + 1 > 0 ? r - kh + 1 : 0;
        const ptrdiff_t hi = r < BLK_NR - 1 ? r : BLK_NR - 1;
        const S_T *FC_RESTRICT wr[BLK_NR];
        FC_UNROLL
        for (int ii = 0; ii < BLK_NR; ii++) wr[ii] = w + ((ii >= lo && ii <= hi) ? (r - ii) * kw : 0);

        if (lo == 0 && hi == BLK_NR - 1) {
            for (ptrdiff_t b = 0; b < kw; b++) {
                V_T xv[BLK_NV];
                FC_UNROLL
                for (int v = 0; v < BLK_NV; v++) xv[v] = V_LOAD(xr + b + v * V_L);
                FC_UNROLL
                for (int ii = 0; ii < BLK_NR; ii++) {
                    const V_T wv = V_SET1(wr[ii][b]);
                    FC_UNROLL
                    for (int v = 0; v < BLK_NV; v++) acc[ii][v] = V_FMA(wv, xv[v], acc[ii][v]);
                }
            }
        } else {
            for (ptrdiff_t b = 0; b < kw; b++) {
                V_T xv[BLK_NV];
                FC_UNROLL
                for (int v = 0; v < BLK_NV; v++) xv[v] = V_LOAD(xr + b + v * V_L);
                FC_UNROLL
                for (int ii = 0; ii < BLK_NR; ii++) {
                    if (ii >= lo && ii <= hi) {
                        const V_T wv = V_SET1(wr[ii][b]);
                        FC_UNROLL
                        for (int v = 0; v < BLK_NV; v++) acc[ii][v] = V_FMA(wv, xv[v], acc[ii][v]);
                    }
                }
            }
        }
    }

    FC_UNROLL
    for (int ii = 0; ii < BLK_NR; ii++) {
#if BLK_TAIL
        S_T lanes[V_L];
        V_STORE(lanes, acc[ii][0]);
        for (ptrdiff_t c = 0; c < ncols; c++) y[ii * ldy + c] = lanes[c];
#else
        FC_UNROLL
        for (int v = 0; v < BLK_NV; v++) V_STORE(y + ii * ldy + v * V_L, acc[ii][v]);
#endif
    }
}
