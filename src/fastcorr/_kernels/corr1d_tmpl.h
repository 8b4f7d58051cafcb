/* The 1-D valid correlation for one dtype, in simd.h's vector vocabulary; corr_kernels.c
 * includes it after corr_tmpl.h with the same macros defined (and reuses fc_pad_row).
 *
 * Why not the 2-D kernel on a folded view of the signal: a 1-D kernel has one row, so the 2-D
 * kernel's reuse of a loaded vector across output rows is lost, and every FMA needs a load and a
 * weight broadcast of its own (load-bound at ~40-50% of the FMA peak for K = 64..128).  Here the
 * reuse comes from the taps instead.  Write tap k as s + L*t (L lanes, phase s < L).  For a block
 * of nv output vectors at x + v*L, tap s + L*t reads the vector at x + s + L*(v + t): the same
 * load serves output vector v with tap t and output vector v+1 with tap t-1.  So per phase s the
 * kernel walks the loaded vectors m = v + t once, feeding each to every output vector it touches,
 * with tg weights of a tap group broadcast once and held in registers:
 *     nv + tg - 1 loads and tg broadcasts for nv * tg FMAs.
 * Each accumulator sums its taps in the order (s, t) whatever the block shape, so every block
 * kind (full, single vector, overlapped, masked or zero-padded tail) gives bit-identical
 * results. */

#define FN(base) FC_CAT3(base, FC_DT, FC_ISA)

/* One tap group: taps t = 0..tg-1 of one phase (x and w already offset to the group's first
 * tap; consecutive taps of a phase are L apart in w).  nv and tg are compile-time constants at
 * every call, so the loops unroll and the range test on m - v folds away.  With tail > 0
 * (FC_HAS_MASKED_TAIL only, nv == 1) the loads read only the first `tail` lanes. */
static FC_INLINE void FN(fc1_group)(V_T acc[FC1_NV], const S_T *FC_RESTRICT x,
                                    const S_T *FC_RESTRICT w, int nv, int tg, ptrdiff_t tail)
{
#if !defined(FC_HAS_MASKED_TAIL)
    (void)tail;
#endif
    V_T wv[FC1_TG];
    FC_UNROLL
    for (int t = 0; t < tg; t++) wv[t] = V_SET1(w[t * V_L]);
    FC_UNROLL
    for (int m = 0; m < nv + tg - 1; m++) {
#if defined(FC_HAS_MASKED_TAIL)
        V_T xv = tail ? V_LOAD_N(x + m * V_L, tail) : V_LOAD(x + m * V_L);
#else
        V_T xv = V_LOAD(x + m * V_L);
#endif
        FC_PIN(xv);
        FC_UNROLL
        for (int v = 0; v < nv; v++)
            if (m - v >= 0 && m - v < tg) acc[v] = V_FMA(wv[m - v], xv, acc[v]);
    }
}

/* A group of `tg` taps (a runtime value below FC1_TG) dispatched to its compile-time copy. */
#define FC1_CASE(n)                                                                            \
    case n:                                                                                    \
        FN(fc1_group)(acc, xs, ws, nv, n, tail);                                               \
        break;

#if defined(FC_HAS_ALIGNR) && defined(FC_HAS_MASKED_LOAD)
#if V_L > 16
#error "fc1_block: add FC1_SHIFTED phases up to V_L - 1"
#endif
/* One-tap phase S (a constant below 16; phases past the path's lanes fold away) of a full
 * block, its vectors alternately loaded and shifted out of a[] (see fc1_block). */
#define FC1_SHIFTED(S)                                                                          \
    if ((S) < V_L && (S) >= loaded && (S) < k) {                                                \
        const ptrdiff_t s_ = (S) & (V_L - 1);                                                   \
        const V_T wv = V_SET1(w[s_]);                                                           \
        FC_UNROLL                                                                               \
        for (int v = 0; v < FC1_NV; v++) {                                                      \
            const V_T xv = (S) == 0 ? a[v]                                                      \
                           : v % 2 == 0 ? V_LOAD(x + s_ + v * V_L)                              \
                                        : V_ALIGNR(a[v + 1], a[v], (S) & (V_L - 1));            \
            acc[v] = V_FMA(wv, xv, acc[v]);                                                     \
        }                                                                                       \
    }
#endif

/* nv output vectors y[0 .. nv*L) from x[0 .. nv*L + k - 1); with `tail` (nv == 1), only the
 * first `tail` lanes are stored (and, with FC_HAS_MASKED_TAIL, only x[0 .. tail + k - 1) is
 * read).  With `stream` (y aligned to a vector) the vectors are stored non-temporally. */
static FC_INLINE void FN(fc1_block)(const S_T *FC_RESTRICT x, const S_T *FC_RESTRICT w,
                                    ptrdiff_t k, S_T *FC_RESTRICT y, int nv, ptrdiff_t tail,
                                    int stream)
{
    V_T acc[FC1_NV];
    FC_UNROLL
    for (int v = 0; v < nv; v++) acc[v] = V_ZERO();
    const ptrdiff_t phases = k < V_L ? k : V_L;
    /* Phases [0, loaded) load each vector they read (fc1_group): those of two taps or more
     * (s < k - L), and every phase of a block that is not a full one.  The rest have one tap
     * each and take the shifted route below. */
#if defined(FC1_SHIFTED)
    const ptrdiff_t loaded = nv == FC1_NV && !tail ? (k <= V_L ? 0 : k - V_L < V_L ? k - V_L : V_L)
                                                   : phases;
#else
    const ptrdiff_t loaded = phases;
#endif
    for (ptrdiff_t s = 0; s < loaded; s++) {
        const ptrdiff_t taps = (k - s + V_L - 1) / V_L;
        ptrdiff_t t = 0;
        for (; t + FC1_TG <= taps; t += FC1_TG)
            FN(fc1_group)(acc, x + s + t * V_L, w + s + t * V_L, nv, FC1_TG, tail);
        const S_T *xs = x + s + t * V_L, *ws = w + s + t * V_L;
        switch (taps - t) {
#if FC1_TG > 1
            FC1_CASE(1)
#endif
#if FC1_TG > 2
            FC1_CASE(2)
#endif
#if FC1_TG > 3
            FC1_CASE(3)
#endif
#if FC1_TG > 4
            FC1_CASE(4)
#endif
#if FC1_TG > 5
            FC1_CASE(5)
#endif
#if FC1_TG > 6
            FC1_CASE(6)
#endif
#if FC1_TG > 7
            FC1_CASE(7)
#endif
#if FC1_TG > 8
            FC1_CASE(8)
#endif
#if FC1_TG > 9
            FC1_CASE(9)
#endif
#if FC1_TG > 10
            FC1_CASE(10)
#endif
#if FC1_TG > 11
            FC1_CASE(11)
#endif
#if FC1_TG > 12
#error "fc1_block: add FC1_CASEs up to FC1_TG - 1"
#endif
            default:
                break;
        }
    }
#if defined(FC1_SHIFTED)
    /* A phase of one tap gives each FMA a vector of its own, x + s + v*L.  Loaded unaligned it
     * nearly always splits a cache line (about 1.15 cycles of the load ports, against 0.5 per
     * FMA at the peak): such phases ran at 40% of the peak.  So a full block loads its nv + 1
     * vectors at x + v*L once and takes half of each one-tap phase's vectors shifted out of two
     * of them (valignd, one shuffle) and half loaded, which spreads the work over the load
     * ports and the shuffle port (on Intel also the second FMA's, hence not all shifted).
     * Measured (Intel Xeon, one thread, 2,048 outputs in L1, GFLOP/s, float32 / float64):
     * every vector loaded 66-82 / 33-40 at k = 3..16 / 3..8, every one shifted 83-100 / 43-50,
     * a third loaded 89-102 / 45-47, half 111-116 / 55-58.  Phases of two taps, where each
     * vector feeds two FMAs, were slower with any part of their vectors shifted (float32
     * k = 33: 91-109 against 127), so they keep their loads.  The operands and their order
     * are those of the loaded route, so the results are bit-identical to the other block
     * kinds'. */
    if (loaded < phases) {
        V_T a[FC1_NV + 1];
        FC_UNROLL
        for (int m = 0; m < FC1_NV; m++) {
            a[m] = V_LOAD(x + m * V_L);
            FC_PIN(a[m]);
        }
        /* Only the lanes a phase reads: the block reads no input past x[nv*L + k - 1). */
        a[FC1_NV] = V_LOAD_N(x + FC1_NV * V_L, k <= V_L ? k - 1 : V_L - 1);
        FC_PIN(a[FC1_NV]);
        FC1_SHIFTED(0) FC1_SHIFTED(1) FC1_SHIFTED(2) FC1_SHIFTED(3) FC1_SHIFTED(4)
        FC1_SHIFTED(5) FC1_SHIFTED(6) FC1_SHIFTED(7) FC1_SHIFTED(8) FC1_SHIFTED(9)
        FC1_SHIFTED(10) FC1_SHIFTED(11) FC1_SHIFTED(12) FC1_SHIFTED(13) FC1_SHIFTED(14)
        FC1_SHIFTED(15)
    }
#endif
    if (tail) {
#if defined(FC_HAS_MASKED_TAIL)
        V_STORE_N(y, acc[0], tail);
#else
        S_T lanes[V_L];
        V_STORE(lanes, acc[0]);
        for (ptrdiff_t c = 0; c < tail; c++) y[c] = lanes[c];
#endif
        return;
    }
#if defined(FC_HAS_STREAM)
    if (stream) {
        FC_UNROLL
        for (int v = 0; v < nv; v++) V_STREAM(y + v * V_L, acc[v]);
        return;
    }
#else
    (void)stream;
#endif
    FC_UNROLL
    for (int v = 0; v < nv; v++) V_STORE(y + v * V_L, acc[v]);
}
#undef FC1_CASE
#undef FC1_SHIFTED

/* Outputs y[0 .. n), n < L, as one tail block (fc1_block's `tail`): only those lanes stored. */
static FC_INLINE void FN(fc1_run_tail)(const S_T *x, const S_T *w, ptrdiff_t k, S_T *y,
                                       ptrdiff_t n, S_T *scratch)
{
#if defined(FC_HAS_MASKED_TAIL)
    (void)scratch;
    FN(fc1_block)(x, w, k, y, 1, n, 0);
#else
    FN(fc1_block)(FN(fc_pad_row)(x, n + k - 1, V_L + k - 1, scratch), w, k, y, 1, n, 0);
#endif
}

static FC_INLINE void FN(fc_corr1d_run)(const S_T *x, const S_T *w, ptrdiff_t k, S_T *y,
                                        ptrdiff_t n, S_T *scratch, int stream)
{
    /* Full blocks, then the rest without a scalar loop: one block overlapping the last full one
     * (its shared outputs recomputed bit-identically: every block kind sums the same taps in
     * the same order), of 2 vectors, FC1_NV / 2 or FC1_NV, the smallest that covers the rest.
     * Runs shorter than a block (the rows of small images) take blocks of FC1_NV / 2 vectors,
     * or of 2, the last one again overlapped, before single vectors; below one vector, a tail
     * block: masked loads and stores where the path has them, else a zero-padded copy of the
     * few inputs (lanes past n are computed from zeros, never stored).  Masked against padded
     * on AVX-512 (as in fc_block), 4096 runs of n = 1..15 outputs: k=3 1.9-2.8x (float32; 30 us
     * against 58-84) and 2.1-2.9x (float64), k=9 1.1-1.4x and 1.3-1.7x.
     * - A single vector's taps are one chain of dependent FMAs, bound by their latency rather
     *   than the FMA ports: 128 rows of 128 float32 outputs, one thread, Intel Xeon (AVX-512),
     *   k = 3 / 9 / 33 took 10.9 / 26.3 / 39.8 us as single vectors, 5.3 / 9.8 / 17.1 in
     *   blocks of 6 and 2.
     * - For the same reason a block of 2 or 6 vectors costs more per vector than a full one, so
     *   the rest of a row is one block, not a ladder of shorter ones: 64 rows in L1, one
     *   thread, float32 k = 5 / 9 / 17, a ladder of 6- and 2-vector blocks against one full
     *   block was 11-30% slower at 300 and 512 outputs (rests of 7 and 8 vectors), 8-12%
     *   faster at 400 and 600 (1 and 1.5 vectors).
     * With `stream`, every vector from the first output aligned to a vector on is stored
     * non-temporally, and none is stored twice: after the full blocks come blocks of FC1_NV / 2
     * vectors, of 2 and of 1, all aligned, and the outputs before the first aligned one and the
     * last sub-vector rest are tail blocks, never an overlapped block, because an ordinary
     * store into a line just streamed costs the line's round trip to memory (rows of 208-512
     * float32 outputs ran 3-6x slower than with plain stores).  The caller fences once after
     * its rows (fc_stream_fence), not each row: an sfence per row of 256 outputs cost 0.7 ns an
     * output. */
    const ptrdiff_t block = (ptrdiff_t)FC1_NV * V_L, half = (ptrdiff_t)(FC1_NV / 2) * V_L;
    ptrdiff_t i = 0;
#if defined(FC_HAS_STREAM)
    if (stream) {
        const size_t misaligned = (size_t)y % sizeof(V_T);
        if (misaligned % sizeof(S_T) != 0 || n < block + V_L) {
            stream = 0;
        } else if (misaligned) {
            i = (ptrdiff_t)((sizeof(V_T) - misaligned) / sizeof(S_T));
            FN(fc1_run_tail)(x, w, k, y, i, scratch);
        }
    }
#else
    stream = 0;
#endif
    for (; i + block <= n; i += block) FN(fc1_block)(x + i, w, k, y + i, FC1_NV, 0, stream);
    if (i == n) return;
    if (stream) {
        for (; i + half <= n; i += half) FN(fc1_block)(x + i, w, k, y + i, FC1_NV / 2, 0, 1);
        for (; i + 2 * V_L <= n; i += 2 * V_L) FN(fc1_block)(x + i, w, k, y + i, 2, 0, 1);
        for (; i + V_L <= n; i += V_L) FN(fc1_block)(x + i, w, k, y + i, 1, 0, 1);
        if (i < n) FN(fc1_run_tail)(x + i, w, k, y + i, n - i, scratch);
        return;
    }
    if (i > 0) {
        /* One block ends the row, overlapped, of the smallest kind that covers the rest. */
        if (n - i <= 2 * V_L)
            FN(fc1_block)(x + n - 2 * V_L, w, k, y + n - 2 * V_L, 2, 0, 0);
        else if (n - i <= half)
            FN(fc1_block)(x + n - half, w, k, y + n - half, FC1_NV / 2, 0, 0);
        else
            FN(fc1_block)(x + n - block, w, k, y + n - block, FC1_NV, 0, 0);
        return;
    }
    if (n >= half) {
        for (; i + half <= n; i += half) FN(fc1_block)(x + i, w, k, y + i, FC1_NV / 2, 0, 0);
        if (i < n) FN(fc1_block)(x + n - half, w, k, y + n - half, FC1_NV / 2, 0, 0);
        return;
    }
    if (n >= 2 * V_L) {
        for (; i + 2 * V_L <= n; i += 2 * V_L) FN(fc1_block)(x + i, w, k, y + i, 2, 0, 0);
        if (i < n) FN(fc1_block)(x + n - 2 * V_L, w, k, y + n - 2 * V_L, 2, 0, 0);
        return;
    }
    for (; i + V_L <= n; i += V_L) FN(fc1_block)(x + i, w, k, y + i, 1, 0, 0);
    if (i == n) return;
    if (n >= V_L) {
        FN(fc1_block)(x + n - V_L, w, k, y + n - V_L, 1, 0, 0);
        return;
    }
    FN(fc1_run_tail)(x, w, k, y, n, scratch);
}

void FN(fc_corr1d)(const S_T *x, const S_T *w, ptrdiff_t k, S_T *y, ptrdiff_t n, S_T *scratch)
{
    FN(fc_corr1d_run)(x, w, k, y, n, scratch, 0);
}

void FN(fc_corr1d_nt)(const S_T *x, const S_T *w, ptrdiff_t k, S_T *y, ptrdiff_t n,
                      S_T *scratch)
{
    FN(fc_corr1d_run)(x, w, k, y, n, scratch, 1);
}

/* y[i] = a[i] + b[i], stored non-temporally from the first element aligned to a vector on (the
 * last of the terms a separable block sums, when its output is streamed); plain stores on paths
 * without streaming ones.  The caller fences (fc_stream_fence) after its rows.  The sum is an
 * FMA with 1, exact in its product, so it rounds as a + b does (simd.h has no add). */
void FN(fc_sum_nt)(const S_T *a, const S_T *b, S_T *y, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    const V_T one = V_SET1((S_T)1);
#if defined(FC_HAS_STREAM)
    if ((uintptr_t)y % sizeof(S_T) == 0) {
        for (; i < n && (uintptr_t)(y + i) % sizeof(V_T) != 0; i++) y[i] = a[i] + b[i];
        for (; i + V_L <= n; i += V_L)
            V_STREAM(y + i, V_FMA(one, V_LOAD(a + i), V_LOAD(b + i)));
    }
#endif
    for (; i + V_L <= n; i += V_L) V_STORE(y + i, V_FMA(one, V_LOAD(a + i), V_LOAD(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

#undef FN
