/* The tile kernel and FMA probe for one dtype, written in the vector vocabulary of simd.h.
 * corr_kernels.c includes this once per dtype with S_T, V_T, V_L, V_LOAD, V_STORE, V_SET1,
 * V_ZERO, V_FMA and FC_DT defined.  Every function name carries the dtype and ISA suffix, so a
 * copy the compiler keeps out of line can never be mistaken for baseline code. */

#define FN(base) FC_CAT3(base, FC_DT, FC_ISA)

/* Main blocks, one row at a time for the bottom rows, one vector at a time for the right edge,
 * and the zero-padded tail for the last partial vector. */
#define BLK_NAME FN(fc_block_main)
#define BLK_NR FC_NR
#define BLK_NV FC_NV
#define BLK_TAIL 0
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

#define BLK_NAME FN(fc_block_main_row)
#define BLK_NR 1
#define BLK_NV FC_NV
#define BLK_TAIL 0
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

#define BLK_NAME FN(fc_block_vec)
#define BLK_NR FC_NR
#define BLK_NV 1
#define BLK_TAIL 0
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

#define BLK_NAME FN(fc_block_vec_row)
#define BLK_NR 1
#define BLK_NV 1
#define BLK_TAIL 0
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

#define BLK_NAME FN(fc_block_tail)
#define BLK_NR FC_NR
#define BLK_NV 1
#define BLK_TAIL 1
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

#define BLK_NAME FN(fc_block_tail_row)
#define BLK_NR 1
#define BLK_NV 1
#define BLK_TAIL 1
#include "block_tmpl.h"
#undef BLK_NAME
#undef BLK_NR
#undef BLK_NV
#undef BLK_TAIL

void FN(fc_corr)(const S_T *x, ptrdiff_t ldx, const S_T *w, ptrdiff_t kh, ptrdiff_t kw, S_T *y,
                 ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, S_T *scratch)
{
    /* Column strips outer, row blocks inner: a strip's input (block width + kw - 1 columns by
     * rows + kh - 1 rows) is walked top to bottom, so the kh - 1 rows that consecutive row blocks
     * share are still in L1 when the next block reads them. */
    const ptrdiff_t strip = (ptrdiff_t)V_L * FC_NV;
    ptrdiff_t j = 0;
    for (; j + strip <= cols; j += strip) {
        ptrdiff_t i = 0;
        for (; i + FC_NR <= rows; i += FC_NR)
            FN(fc_block_main)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy);
        for (; i < rows; i++)
            FN(fc_block_main_row)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy);
    }
    for (; j + V_L <= cols; j += V_L) {
        ptrdiff_t i = 0;
        for (; i + FC_NR <= rows; i += FC_NR)
            FN(fc_block_vec)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy);
        for (; i < rows; i++)
            FN(fc_block_vec_row)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy);
    }
    if (j < cols) {
        ptrdiff_t i = 0;
        for (; i + FC_NR <= rows; i += FC_NR)
            FN(fc_block_tail)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy, cols - j, scratch);
        for (; i < rows; i++)
            FN(fc_block_tail_row)(x + i * ldx + j, ldx, w, kh, kw, y + i * ldy + j, ldy, cols - j,
                                  scratch);
    }
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
