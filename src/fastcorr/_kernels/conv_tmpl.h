/* The two kernels of a convolutional layer (fastcorr.nn), for one dtype, in the vector
 * vocabulary of simd.h; corr_kernels.c includes this after corr_tmpl.h with the same macros
 * defined.  fc_conv is written for column counts that are whole vectors: the core builds
 * every input it reads in a zero-padded buffer of its own (the layer's planes, see _nn.pxi),
 * so it has no column tail.  fc_wgrad takes rows of any length: a depthwise layer's weight
 * gradient reads the input and the output gradient where they lie (_nn.pxi), so the last
 * columns of a row go by masked loads where the path has them, one by one where not.
 *
 * fc_conv: a bank of output channels over many input planes.  A block holds FCC_OB output
 * channels x FCC_NB vectors of accumulators; every input vector it loads feeds all FCC_OB
 * channels (the channel blocking of oneDNN's direct convolution), which is what single-channel
 * blocks cannot do: their weights are one channel's, so a layer of O output channels loads
 * every input vector O times.  Per tap it loads FCC_NB input vectors and broadcasts FCC_OB
 * weights for FCC_OB * FCC_NB FMAs.
 *
 * fc_wgrad: the weight gradient, a correlation whose "kernel" (the output gradient) is as large
 * as the image and whose result is a few taps: FCW_OB output-gradient channels x FCW_TB taps of
 * vector accumulators walk the rows once, each loaded input vector feeding FCW_OB channels and
 * each loaded gradient vector FCW_TB taps, and reduce across lanes once at the end. */

#define FN(base) FC_CAT3(base, FC_DT, FC_ISA)

/* y[o*ldo + q] = sum_{p<np, a<kh, b<kw} w[((p*kh + a)*kw + b)*FCC_OB + o] * x[p][off + q + a*ldx + b]
 * for o < no, q < nv * V_L; no and nv are constants after inlining.  The planes' rows are
 * ldx apart and q runs along them as one flat sequence, so a block's vectors may span two rows:
 * the outputs that straddle a row end are garbage the caller drops, at a cost of (kw - 1) / ldx
 * of the FMAs instead of padding every row to whole vectors. */
static FC_INLINE void FN(fc_conv_block)(const S_T *const *x, ptrdiff_t off, ptrdiff_t ldx,
                                        ptrdiff_t np, const S_T *FC_RESTRICT w, ptrdiff_t kh,
                                        ptrdiff_t kw, S_T *FC_RESTRICT y, ptrdiff_t ldo, int no,
                                        int nv)
{
    V_T acc[FCC_OB][FCC_NB];
    FC_UNROLL
    for (int o = 0; o < no; o++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) acc[o][v] = V_ZERO();
    }
    const ptrdiff_t taps = kh * kw;
    for (ptrdiff_t p = 0; p < np; p++) {
        const S_T *FC_RESTRICT xp = x[p] + off;
        const S_T *FC_RESTRICT wp = w + p * taps * FCC_OB;
        for (ptrdiff_t a = 0; a < kh; a++) {
            const S_T *FC_RESTRICT xa = xp + a * ldx;
            const S_T *FC_RESTRICT wa = wp + a * kw * FCC_OB;
            for (ptrdiff_t b = 0; b < kw; b++) {
                V_T wv[FCC_OB];
                FC_UNROLL
                for (int o = 0; o < no; o++) wv[o] = V_SET1(wa[b * FCC_OB + o]);
                FC_UNROLL
                for (int v = 0; v < nv; v++) {
                    V_T xv = V_LOAD(xa + b + v * V_L);
                    FC_PIN(xv);
                    FC_UNROLL
                    for (int o = 0; o < no; o++) acc[o][v] = V_FMA(wv[o], xv, acc[o][v]);
                }
            }
        }
    }
    FC_UNROLL
    for (int o = 0; o < no; o++) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) V_STORE(y + o * ldo + v * V_L, acc[o][v]);
    }
}

/* The block for `no` channels (1..FCC_OB) and FCC_NB or 1 vectors, each a copy with constant
 * loop bounds so its accumulators stay in registers. */
#define FCC_CALL(NO, NV) FN(fc_conv_block)(x, off, ldx, np, w, kh, kw, y, ldo, NO, NV)
static void FN(fc_conv_blocks)(const S_T *const *x, ptrdiff_t off, ptrdiff_t ldx, ptrdiff_t np,
                               const S_T *w, ptrdiff_t kh, ptrdiff_t kw, S_T *y, ptrdiff_t ldo,
                               int no, int full)
{
    switch (no * 2 + (full != 0)) {
#define FCC_CASES(NO)                                                                           \
    case NO * 2 + 1:                                                                            \
        FCC_CALL(NO, FCC_NB);                                                                   \
        break;                                                                                  \
    case NO * 2:                                                                                \
        FCC_CALL(NO, 1);                                                                        \
        break;
        FCC_CASES(1)
#if FCC_OB >= 2
        FCC_CASES(2)
#endif
#if FCC_OB >= 3
        FCC_CASES(3)
#endif
#if FCC_OB >= 4
        FCC_CASES(4)
#endif
#if FCC_OB >= 5
#error "fc_conv_blocks covers FCC_OB <= 4"
#endif
#undef FCC_CASES
    default:
        break;
    }
}
#undef FCC_CALL

void FN(fc_conv)(const S_T *const *x, ptrdiff_t ldx, ptrdiff_t np, const S_T *w, ptrdiff_t kh,
                 ptrdiff_t kw, ptrdiff_t no, S_T *y, ptrdiff_t ldo, ptrdiff_t n)
{
    /* The channel block is the outer loop: its np * kh * kw * FCC_OB weights (9 KiB for 64
     * planes of 3x3 in float32) stay in L1 while the planes stream through from L2. */
    const ptrdiff_t block_w = (ptrdiff_t)np * kh * kw * FCC_OB, step = FCC_NB * V_L;
    for (ptrdiff_t o = 0; o < no; o += FCC_OB) {
        const int nob = (int)(no - o < FCC_OB ? no - o : FCC_OB);
        const S_T *wo = w + (o / FCC_OB) * block_w;
        S_T *yo = y + o * ldo;
        ptrdiff_t q = 0;
        for (; q + step <= n; q += step)
            FN(fc_conv_blocks)(x, q, ldx, np, wo, kh, kw, yo + q, ldo, nob, 1);
        for (; q < n; q += V_L) FN(fc_conv_blocks)(x, q, ldx, np, wo, kh, kw, yo + q, ldo, nob, 0);
    }
}

/* One step of fc_wgrad_block along a row: nu whole column vectors from column c, each loaded
 * gradient vector feeding nt taps and each loaded input vector no channels. */
static FC_INLINE void FN(fc_wgrad_step)(const S_T *FC_RESTRICT xr, const S_T *FC_RESTRICT dr,
                                        ptrdiff_t c, ptrdiff_t ldo, const ptrdiff_t *o_t,
                                        int no, int nt, int nu, V_T acc[FCW_OB][FCW_TB])
{
    V_T gv[FCW_OB];
    FC_UNROLL
    for (int u = 0; u < nu; u++) {
        FC_UNROLL
        for (int o = 0; o < no; o++) {
            gv[u * no + o] = V_LOAD(dr + o * ldo + c + u * V_L);
            FC_PIN(gv[u * no + o]);
        }
    }
    FC_UNROLL
    for (int t = 0; t < nt; t++) {
        FC_UNROLL
        for (int u = 0; u < nu; u++) {
            V_T xv = V_LOAD(xr + c + u * V_L + o_t[t]);
            FC_PIN(xv);
            FC_UNROLL
            for (int o = 0; o < no; o++)
                acc[u * no + o][t] = V_FMA(gv[u * no + o], xv, acc[u * no + o][t]);
        }
    }
}

/* dw[o*ldw + t] += sum_{r<rows, c<cols} dy[o*ldo + r*lddy + c] * x[r*ldx + c + off[t]] for
 * o < no, t < nt; no, nt and nu are constants after inlining.  With fewer channels than FCW_OB
 * (a depthwise layer has one per group), nu = FCW_OB / no column vectors run side by side in
 * the free accumulators: one channel's few taps alone are too few chains to cover the FMA
 * latency (3 taps, 3 chains: 30% of the peak on a 5-cycle FMA). */
static FC_INLINE void FN(fc_wgrad_block)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                         const ptrdiff_t *off, const S_T *FC_RESTRICT dy,
                                         ptrdiff_t ldo, ptrdiff_t lddy, ptrdiff_t rows,
                                         ptrdiff_t cols, S_T *dw, ptrdiff_t ldw, int no, int nt,
                                         int nu)
{
    V_T acc[FCW_OB][FCW_TB];
    ptrdiff_t o_t[FCW_TB];
    FC_UNROLL
    for (int t = 0; t < nt; t++) o_t[t] = off[t];
    FC_UNROLL
    for (int j = 0; j < nu * no; j++) {
        FC_UNROLL
        for (int t = 0; t < nt; t++) acc[j][t] = V_ZERO();
    }
    /* A row's whole vectors go nu at a time, then one at a time, and its last columns by masked
     * loads or one by one, never by whole vectors past the row: a product outside the layer's
     * windows, even with a zero gradient, would turn an infinite input into NaN. */
    const ptrdiff_t cv = cols / V_L * V_L, cu = cols / (nu * V_L) * (nu * V_L);
    S_T tail[FCW_OB][FCW_TB];
    FC_UNROLL
    for (int o = 0; o < no; o++) {
        FC_UNROLL
        for (int t = 0; t < nt; t++) tail[o][t] = 0;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        const S_T *FC_RESTRICT xr = x + r * ldx;
        const S_T *FC_RESTRICT dr = dy + r * lddy;
#ifdef FC_HAS_MASKED_LOAD
        /* Masked-off lanes are never read, so they hold zeros, not the input past the row. */
        if (cv < cols) {
            const int nl = (int)(cols - cv);
            V_T gv[FCW_OB];
            FC_UNROLL
            for (int o = 0; o < no; o++) gv[o] = V_LOAD_N(dr + o * ldo + cv, nl);
            FC_UNROLL
            for (int t = 0; t < nt; t++) {
                V_T xv = V_LOAD_N(xr + cv + o_t[t], nl);
                FC_UNROLL
                for (int o = 0; o < no; o++) acc[o][t] = V_FMA(gv[o], xv, acc[o][t]);
            }
        }
#else
        for (ptrdiff_t c = cv; c < cols; c++)
            for (int o = 0; o < no; o++)
                for (int t = 0; t < nt; t++) tail[o][t] += dr[o * ldo + c] * xr[c + o_t[t]];
#endif
        for (ptrdiff_t c = 0; c < cu; c += nu * V_L)
            FN(fc_wgrad_step)(xr, dr, c, ldo, o_t, no, nt, nu, acc);
        for (ptrdiff_t c = cu; c < cv; c += V_L)
            FN(fc_wgrad_step)(xr, dr, c, ldo, o_t, no, nt, 1, acc);
    }
    /* In registers, a tree: stored and summed lane by lane, the reductions took a tenth of the
     * block's time on 64 channels of 56x56 (a band's rows hold ~100 vector steps a block). */
    FC_UNROLL
    for (int o = 0; o < no; o++) {
        FC_UNROLL
        for (int t = 0; t < nt; t++) {
            V_T s = acc[o][t];
            FC_UNROLL
            for (int u = 1; u < nu; u++) s = V_ADD(s, acc[u * no + o][t]);
            dw[o * ldw + t] += V_HSUM(s) + tail[o][t];
        }
    }
}

#define FCW_CALL(NO, NT)                                                                        \
    FN(fc_wgrad_block)(x, ldx, off, dy, ldo, lddy, rows, cols, dw, ldw, NO, NT, FCW_OB / NO)
#define FCW_TAPS(NO)                                                                            \
    switch (nt) {                                                                               \
    case 1: FCW_CALL(NO, 1); break;                                                             \
    case 2: FCW_CALL(NO, 2); break;                                                             \
    case 3: FCW_CALL(NO, 3); break;                                                             \
    case 4: FCW_CALL(NO, 4); break;                                                             \
    case 5: FCW_CALL(NO, 5); break;                                                             \
    case 6: FCW_CALL(NO, 6); break;                                                             \
    default: break;                                                                             \
    }
#if FCW_TB != 6
#error "fc_wgrad_blocks covers FCW_TB == 6"
#endif
static void FN(fc_wgrad_blocks)(const S_T *x, ptrdiff_t ldx, const ptrdiff_t *off, int nt,
                                const S_T *dy, ptrdiff_t ldo, ptrdiff_t lddy, int no,
                                ptrdiff_t rows, ptrdiff_t cols, S_T *dw, ptrdiff_t ldw)
{
    switch (no) {
    case 1: FCW_TAPS(1); break;
#if FCW_OB >= 2
    case 2: FCW_TAPS(2); break;
#endif
#if FCW_OB >= 3
    case 3: FCW_TAPS(3); break;
#endif
#if FCW_OB >= 4
    case 4: FCW_TAPS(4); break;
#endif
#if FCW_OB >= 5
#error "fc_wgrad_blocks covers FCW_OB <= 4"
#endif
    default: break;
    }
}
#undef FCW_TAPS
#undef FCW_CALL

void FN(fc_wgrad)(const S_T *x, ptrdiff_t ldx, const ptrdiff_t *off, ptrdiff_t nt,
                  const S_T *dy, ptrdiff_t ldo, ptrdiff_t lddy, ptrdiff_t no, ptrdiff_t rows,
                  ptrdiff_t cols, S_T *dw, ptrdiff_t ldw)
{
    for (ptrdiff_t o = 0; o < no; o += FCW_OB) {
        const int nob = (int)(no - o < FCW_OB ? no - o : FCW_OB);
        for (ptrdiff_t t = 0; t < nt; t += FCW_TB) {
            const int ntb = (int)(nt - t < FCW_TB ? nt - t : FCW_TB);
            FN(fc_wgrad_blocks)(x, ldx, off + t, ntb, dy + o * ldo, ldo, lddy, nob, rows, cols,
                                dw + o * ldw + t, ldw);
        }
    }
}

/* fc_wgrad1: the weight gradient of a layer with one output channel per group (depthwise) over
 * one plane, dw[a*kw + b] += sum_{r<rows, c<cols} dy[r*lddy + c] * x[(r+a)*ldx + c + b].
 * fc_wgrad's block feeds each loaded input vector to one tap of one channel, so there every
 * FMA needs a load of its own and a 3x3 kernel runs in two passes (6 taps, then 3).  Here the
 * loop runs over input rows ri: each input vector x[ri, c + b] feeds the kh taps (a, b) whose
 * gradient row ri - a exists, so a step of nu column vectors makes kh*kw*nu FMAs from
 * (kh + kw)*nu loads, into kh*kw*nu independent accumulators, in one pass over the rows.  Row
 * tails go by masked loads where the path has them, one by one where not, so no product
 * outside the layer's windows is ever formed (0 times an infinite input would be NaN), and
 * the input and the gradient can be read where they lie. */
static FC_INLINE void FN(fc_wgrad1_step)(const S_T *FC_RESTRICT xr, const S_T *FC_RESTRICT dr,
                                         ptrdiff_t lddy, ptrdiff_t c, int lo, int hi, int kh,
                                         int kw, int nu, int ns, int nl, V_T *acc)
{
#if !defined(FC_HAS_MASKED_LOAD)
    (void)nl;
#endif
    V_T g[5 * 2];
    FC_UNROLL
    for (int a = 0; a < kh; a++) {
        FC_UNROLL
        for (int u = 0; u < nu; u++) {
            /* Never used (the FMAs test the same bounds); set so no compiler sees it unset. */
            g[a * nu + u] = V_ZERO();
            if (a < lo || a > hi) continue;
#if defined(FC_HAS_MASKED_LOAD)
            g[a * nu + u] = nl ? V_LOAD_N(dr - a * lddy + c, nl)
                               : V_LOAD(dr - a * lddy + c + u * V_L);
#else
            g[a * nu + u] = V_LOAD(dr - a * lddy + c + u * V_L);
#endif
            FC_PIN(g[a * nu + u]);
        }
    }
    FC_UNROLL
    for (int b = 0; b < kw; b++) {
        FC_UNROLL
        for (int u = 0; u < nu; u++) {
#if defined(FC_HAS_MASKED_LOAD)
            V_T xv = nl ? V_LOAD_N(xr + c + b, nl) : V_LOAD(xr + c + b + u * V_L);
#else
            V_T xv = V_LOAD(xr + c + b + u * V_L);
#endif
            FC_PIN(xv);
            FC_UNROLL
            for (int a = 0; a < kh; a++)
                if (a >= lo && a <= hi)
                    acc[(a * kw + b) * ns + u] = V_FMA(g[a * nu + u], xv,
                                                       acc[(a * kw + b) * ns + u]);
        }
    }
}

/* One column strip of fc_wgrad1 (nv vectors from column c, or with nl the nl columns of a
 * row's tail) down every input row.  The strip is the outer loop and the rows the inner one,
 * so the accumulators stay in registers across the rows (row by row, the few steps of a
 * narrow row spilled and reloaded all of them between its strips: at 56 columns, as many
 * stack accesses as FMAs).  The rows where every tap has its gradient row, ri in
 * [kh - 1, rows), run with constant bounds (no tests in the unrolled step); the first and
 * last kh - 1 input rows with the taps they have. */
static FC_INLINE void FN(fc_wgrad1_strip)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                          const S_T *FC_RESTRICT dy, ptrdiff_t lddy,
                                          ptrdiff_t rows, ptrdiff_t c, int kh, int kw, int nv,
                                          int ns, int nl, V_T *acc)
{
    const ptrdiff_t n_in = rows + kh - 1, i0 = kh - 1 < n_in ? kh - 1 : n_in;
    ptrdiff_t ri = 0;
#define FC_RAMP_ROW                                                                             \
    FN(fc_wgrad1_step)(x + ri * ldx, dy + ri * lddy, lddy, c,                                  \
                       ri - rows + 1 > 0 ? (int)(ri - rows + 1) : 0,                           \
                       ri < kh - 1 ? (int)ri : kh - 1, kh, kw, nv, ns, nl, acc)
    for (; ri < i0; ri++) FC_RAMP_ROW;
    for (; ri < rows; ri++)
        FN(fc_wgrad1_step)(x + ri * ldx, dy + ri * lddy, lddy, c, 0, kh - 1, kh, kw, nv, ns, nl,
                           acc);
    for (; ri < n_in; ri++) FC_RAMP_ROW;
#undef FC_RAMP_ROW
}

static FC_INLINE void FN(fc_wgrad1_block)(const S_T *FC_RESTRICT x, ptrdiff_t ldx,
                                          const S_T *FC_RESTRICT dy, ptrdiff_t lddy,
                                          ptrdiff_t rows, ptrdiff_t cols, S_T *dw, int kh,
                                          int kw, int nu)
{
    V_T acc[25]; /* room for the shapes fc_wgrad1 compiles (checked below) */
    S_T tail[25];
    FC_UNROLL
    for (int t = 0; t < kh * kw * nu; t++) acc[t] = V_ZERO();
    for (int t = 0; t < kh * kw; t++) tail[t] = 0;
    const ptrdiff_t cu = cols / (nu * V_L) * (nu * V_L), cv = cols / V_L * V_L;
    ptrdiff_t c = 0;
    for (; c < cu; c += nu * V_L) FN(fc_wgrad1_strip)(x, ldx, dy, lddy, rows, c, kh, kw, nu, nu, 0, acc);
    for (; c < cv; c += V_L) FN(fc_wgrad1_strip)(x, ldx, dy, lddy, rows, c, kh, kw, 1, nu, 0, acc);
    if (cv < cols) {
#if defined(FC_HAS_MASKED_LOAD)
        FN(fc_wgrad1_strip)(x, ldx, dy, lddy, rows, cv, kh, kw, 1, nu, (int)(cols - cv), acc);
#else
        for (ptrdiff_t r = 0; r < rows; r++)
            for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++)
                    for (ptrdiff_t k = cv; k < cols; k++)
                        tail[a * kw + b] += dy[r * lddy + k] * x[(r + a) * ldx + k + b];
#endif
    }
    FC_UNROLL
    for (int t = 0; t < kh * kw; t++) {
        V_T s = acc[t * nu];
        FC_UNROLL
        for (int u = 1; u < nu; u++) s = V_ADD(s, acc[t * nu + u]);
        dw[t] += V_HSUM(s) + tail[t];
    }
}

#if FCD_NU3 * 9 > 25 || FCD_NU5 * 25 > 25 || FCD_NU3 * 3 > 10 || FCD_NU5 * 5 > 10
#error "fc_wgrad1's accumulators and gradient vectors hold 25 and 10 vectors"
#endif
int FN(fc_wgrad1)(const S_T *x, ptrdiff_t ldx, ptrdiff_t kh, ptrdiff_t kw, const S_T *dy,
                  ptrdiff_t lddy, ptrdiff_t rows, ptrdiff_t cols, S_T *dw)
{
    const int fits = (FCD_NU3 && kh == 3 && kw == 3) || (FCD_NU5 && kh == 5 && kw == 5);
    if (!fits) return 0;
    if (rows < 1 || cols < 1) return 1;
#if FCD_NU3
    if (kh == 3 && kw == 3) {
        FN(fc_wgrad1_block)(x, ldx, dy, lddy, rows, cols, dw, 3, 3, FCD_NU3);
        return 1;
    }
#endif
#if FCD_NU5
    if (kh == 5 && kw == 5) {
        FN(fc_wgrad1_block)(x, ldx, dy, lddy, rows, cols, dw, 5, 5, FCD_NU5);
        return 1;
    }
#endif
    (void)x, (void)ldx, (void)dy, (void)lddy, (void)dw;
    return 0;
}

#undef FN
