/* scipy.ndimage's arithmetic, reproduced bit for bit: the kernels of one ISA path.
 *
 * scipy.ndimage computes every output in float64 with a separate multiply and add, in a fixed
 * order, and C-casts the double to the output type.  Integer outputs truncate, so the last bit of
 * the double decides the result (a flat region of 128 under weights summing to 1 can give
 * 127.99999999999997 -> 127): only the same operations in the same order per output reproduce
 * scipy.  Every kernel here therefore vectorises ACROSS outputs: a lane is one output and does
 * exactly scipy's sequence for it, taps outer, outputs inner.
 *
 * setup.py compiles this file once per path like corr_kernels.c, and always with
 * -ffp-contract=off: a fused multiply-add skips the product's rounding and changes the result.
 * No -ffast-math either (it would reassociate the sums).  The kernels are plain C that the
 * compiler vectorises with the path's flags; only the block width differs per path.
 */
#include "fastcorr_kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(FC_ISA_SCALAR) && defined(__GNUC__) && !defined(__clang__)
/* The scalar path stays scalar, so it checks that vectorising across outputs changes nothing. */
#pragma GCC optimize("no-tree-vectorize")
#endif

#if defined(FC_ISA_AVX512)
#define FC_ISA avx512
/* Outputs per register block: 8 zmm accumulators, enough independent adds to cover the add
 * latency on two ports (4 cycles x 2). */
#define FC_XNB 64
#elif defined(FC_ISA_AVX2)
#define FC_ISA avx2
#define FC_XNB 32
#elif defined(FC_ISA_BASELINE)
#define FC_ISA baseline
#define FC_XNB 16
#elif defined(FC_ISA_SCALAR)
#define FC_ISA scalar
#define FC_XNB 8
#else
#error "exact_kernels.c needs one of FC_ISA_SCALAR, FC_ISA_BASELINE, FC_ISA_AVX2, FC_ISA_AVX512"
#endif

#define FC_XCAT_(a, b) a##_##b
#define FC_XCAT(a, b) FC_XCAT_(a, b)
#define FC_XNAME(f) FC_XCAT(f, FC_ISA)

#if defined(__GNUC__)
#define FC_XRESTRICT __restrict__
#elif defined(_MSC_VER)
#define FC_XRESTRICT __restrict
#else
#define FC_XRESTRICT
#endif

/* A block is FC_XNV vectors of FC_XVL doubles.  With GCC's vector extensions the accumulators are
 * vector variables, which the compiler keeps in registers across the tap loop; as plain arrays
 * gcc 12 vectorised the tap loop instead (gathers, accumulators in memory).  Other compilers
 * get the plain loops. */
#define FC_XNV 8
#define FC_XVL (FC_XNB / FC_XNV)
#if defined(__GNUC__)
typedef double fc_xvec __attribute__((vector_size(FC_XVL * sizeof(double))));
static inline fc_xvec fc_xload(const double *p)
{
    fc_xvec v;
    memcpy(&v, p, sizeof v); /* an unaligned load */
    return v;
}
static inline void fc_xstore(double *p, fc_xvec v) { memcpy(p, &v, sizeof v); }
#define FC_XBLOCK_BEGIN fc_xvec acc[FC_XNV];
#define FC_XFOR_V for (int v = 0; v < FC_XNV; v++)
#define FC_XLD(p) fc_xload((p) + v * FC_XVL)
/* s - 0.0 is s for every double, -0.0 included (s + 0.0 would turn -0.0 into 0.0). */
#define FC_XSPLAT(s) ((s) - (fc_xvec){0})
#define FC_XST(p, x) fc_xstore((p) + v * FC_XVL, (x))
#define FC_XVECTOR 1
#endif

/* ------------------------------------------------------------------------- tap sums (NI_Correlate)
 * y[c] = ((0.0 + w[0]*src[0][c]) + w[1]*src[1][c]) + ...: scipy's `tmp = 0.0; tmp += w*v` over
 * the taps in order. */
static void FC_XNAME(fc_exact_taps)(const double *const *src, const double *w, ptrdiff_t ntaps,
                                    double *FC_XRESTRICT y, ptrdiff_t n)
{
    ptrdiff_t c = 0;
#if defined(FC_XVECTOR)
    for (; c + FC_XNB <= n; c += FC_XNB) {
        FC_XBLOCK_BEGIN
        FC_XFOR_V acc[v] = FC_XSPLAT(0.0);
        for (ptrdiff_t t = 0; t < ntaps; t++) {
            const fc_xvec wt = FC_XSPLAT(w[t]);
            const double *s = src[t] + c;
            FC_XFOR_V acc[v] += wt * FC_XLD(s);
        }
        FC_XFOR_V FC_XST(y + c, acc[v]);
    }
#endif
    if (c < n) {
        const ptrdiff_t m = n - c;
        for (ptrdiff_t i = 0; i < m; i++) y[c + i] = 0.0;
        for (ptrdiff_t t = 0; t < ntaps; t++) {
            const double wt = w[t];
            const double *s = src[t] + c;
            for (ptrdiff_t i = 0; i < m; i++) y[c + i] += wt * s[i];
        }
    }
}

/* ------------------------------------------------------------------------- NI_Correlate1D
 * k taps, src[t][c] the value of tap t for output c, s1 = k/2:
 *   symmetry > 0:  y = x[s1]*w[s1];   y += (x[t] + x[k-1-t]) * w[t]  for t < s1
 *   symmetry < 0:  the same with (x[t] - x[k-1-t])
 *   symmetry == 0: y = x[k-1]*w[k-1]; y += x[t]*w[t]                for t < k-1 */
static void FC_XNAME(fc_exact_line)(const double *const *src, const double *w, ptrdiff_t k,
                                    int symmetry, double *FC_XRESTRICT y, ptrdiff_t n)
{
    const ptrdiff_t s1 = k / 2;
    const ptrdiff_t first = symmetry != 0 ? s1 : k - 1;
    ptrdiff_t c = 0;
#if defined(FC_XVECTOR)
    for (; c + FC_XNB <= n; c += FC_XNB) {
        FC_XBLOCK_BEGIN
        const fc_xvec wf = FC_XSPLAT(w[first]);
        FC_XFOR_V acc[v] = FC_XLD(src[first] + c) * wf;
        if (symmetry > 0) {
            for (ptrdiff_t t = 0; t < s1; t++) {
                const fc_xvec wt = FC_XSPLAT(w[t]);
                const double *a = src[t] + c, *b = src[k - 1 - t] + c;
                FC_XFOR_V acc[v] += (FC_XLD(a) + FC_XLD(b)) * wt;
            }
        } else if (symmetry < 0) {
            for (ptrdiff_t t = 0; t < s1; t++) {
                const fc_xvec wt = FC_XSPLAT(w[t]);
                const double *a = src[t] + c, *b = src[k - 1 - t] + c;
                FC_XFOR_V acc[v] += (FC_XLD(a) - FC_XLD(b)) * wt;
            }
        } else {
            for (ptrdiff_t t = 0; t < k - 1; t++) {
                const fc_xvec wt = FC_XSPLAT(w[t]);
                const double *a = src[t] + c;
                FC_XFOR_V acc[v] += FC_XLD(a) * wt;
            }
        }
        FC_XFOR_V FC_XST(y + c, acc[v]);
    }
#endif
    for (; c < n; c++) {
        double acc = src[first][c] * w[first];
        if (symmetry > 0)
            for (ptrdiff_t t = 0; t < s1; t++) acc += (src[t][c] + src[k - 1 - t][c]) * w[t];
        else if (symmetry < 0)
            for (ptrdiff_t t = 0; t < s1; t++) acc += (src[t][c] - src[k - 1 - t][c]) * w[t];
        else
            for (ptrdiff_t t = 0; t < k - 1; t++) acc += src[t][c] * w[t];
        y[c] = acc;
    }
}

/* ------------------------------------------------------------------------- NI_UniformFilter1D
 * scipy 1.17 keeps the running sum and divides each output (bit-checked against it):
 *   tmp = 0.0; tmp += x[l] for l < size; y[0] = tmp / size;
 *   tmp += x[l + size - 1] - x[l - 1]; y[l] = tmp / size.
 * Lines across lanes (lines along an outer axis, lanes = columns): one step of every lane. */
static void FC_XNAME(fc_exact_running_step)(double *FC_XRESTRICT tmp, const double *incoming,
                                            const double *outgoing, double size,
                                            double *FC_XRESTRICT y, ptrdiff_t n)
{
    if (incoming != NULL)
        for (ptrdiff_t c = 0; c < n; c++) tmp[c] += incoming[c] - outgoing[c];
    for (ptrdiff_t c = 0; c < n; c++) y[c] = tmp[c] / size;
}

/* The same along lines that lie in memory (the last axis): `lines` lines, line j at
 * x + j*ldx (n + size - 1 extended values) and y + j*ldy (n outputs).  A line's sum is one
 * dependency chain, so FC_XLINES lines run interleaved to keep the adder busy. */
#define FC_XLINES 8
static void FC_XNAME(fc_exact_running_lines)(const double *x, ptrdiff_t ldx, ptrdiff_t lines,
                                             ptrdiff_t size, double *FC_XRESTRICT y,
                                             ptrdiff_t ldy, ptrdiff_t n)
{
    const double dsize = (double)size;
    ptrdiff_t j0 = 0;
    for (; j0 < lines; j0 += FC_XLINES) {
        const int nl = (int)(lines - j0 < FC_XLINES ? lines - j0 : FC_XLINES);
        double tmp[FC_XLINES];
        for (int j = 0; j < nl; j++) {
            const double *xl = x + (j0 + j) * ldx;
            double s = 0.0;
            for (ptrdiff_t l = 0; l < size; l++) s += xl[l];
            tmp[j] = s;
            y[(j0 + j) * ldy] = s / dsize;
        }
        for (ptrdiff_t l = 1; l < n; l++) {
            for (int j = 0; j < nl; j++) {
                const double *xl = x + (j0 + j) * ldx;
                tmp[j] += xl[l + size - 1] - xl[l - 1];
                y[(j0 + j) * ldy + l] = tmp[j] / dsize;
            }
        }
    }
}

/* ------------------------------------------------------------------------- conversions
 * Input: the runs (fc_run) of one extended row, converted from the row's dtype to double.  The
 * caller finds the runs once per block of rows, so the per-row work is plain loops the compiler
 * vectorises. */
#define FC_LOAD(T, D, NAME)                                                                   \
    static void NAME(const char *row, ptrdiff_t stride, const fc_run *runs, ptrdiff_t n_runs, \
                     D fill, D *FC_XRESTRICT dst)                                             \
    {                                                                                         \
        for (ptrdiff_t r = 0; r < n_runs; r++) {                                              \
            D *d = dst + runs[r].dst;                                                         \
            const ptrdiff_t len = runs[r].length, step = runs[r].step * stride;               \
            const char *p = row + runs[r].src * stride;                                       \
            if (runs[r].step == 0) {                                                          \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = fill;                              \
            } else if (step == (ptrdiff_t)sizeof(T)) {                                        \
                const T *q = (const T *)p;                                                    \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = (D)q[k];                           \
            } else {                                                                          \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = (D)*(const T *)(p + k * step);     \
            }                                                                                 \
        }                                                                                     \
    }
FC_LOAD(uint8_t, double, FC_XNAME(fc_load_u8))
FC_LOAD(int8_t, double, FC_XNAME(fc_load_i8))
FC_LOAD(uint16_t, double, FC_XNAME(fc_load_u16))
FC_LOAD(int16_t, double, FC_XNAME(fc_load_i16))
FC_LOAD(uint32_t, double, FC_XNAME(fc_load_u32))
FC_LOAD(int32_t, double, FC_XNAME(fc_load_i32))
FC_LOAD(uint64_t, double, FC_XNAME(fc_load_u64))
FC_LOAD(int64_t, double, FC_XNAME(fc_load_i64))
FC_LOAD(float, double, FC_XNAME(fc_load_f32))
FC_LOAD(double, double, FC_XNAME(fc_load_f64))

static void FC_XNAME(fc_exact_load)(int dtype, const char *row, ptrdiff_t stride,
                                    const fc_run *map, ptrdiff_t n, double fill, double *dst)
{
    switch (dtype) {
    case FC_DT_BOOL: /* numpy's bools are bytes 0 and 1, read by scipy as unsigned char */
    case FC_DT_U8: FC_XNAME(fc_load_u8)(row, stride, map, n, fill, dst); break;
    case FC_DT_I8: FC_XNAME(fc_load_i8)(row, stride, map, n, fill, dst); break;
    case FC_DT_U16: FC_XNAME(fc_load_u16)(row, stride, map, n, fill, dst); break;
    case FC_DT_I16: FC_XNAME(fc_load_i16)(row, stride, map, n, fill, dst); break;
    case FC_DT_U32: FC_XNAME(fc_load_u32)(row, stride, map, n, fill, dst); break;
    case FC_DT_I32: FC_XNAME(fc_load_i32)(row, stride, map, n, fill, dst); break;
    case FC_DT_U64: FC_XNAME(fc_load_u64)(row, stride, map, n, fill, dst); break;
    case FC_DT_I64: FC_XNAME(fc_load_i64)(row, stride, map, n, fill, dst); break;
    case FC_DT_F32: FC_XNAME(fc_load_f32)(row, stride, map, n, fill, dst); break;
    default: FC_XNAME(fc_load_f64)(row, stride, map, n, fill, dst); break;
    }
}

/* The same into float, for the certified path: only the types whose every value float holds
 * exactly (the caller's fill is exact in float too). */
FC_LOAD(uint8_t, float, FC_XNAME(fc_load32_u8))
FC_LOAD(int8_t, float, FC_XNAME(fc_load32_i8))
FC_LOAD(uint16_t, float, FC_XNAME(fc_load32_u16))
FC_LOAD(int16_t, float, FC_XNAME(fc_load32_i16))

static void FC_XNAME(fc_exact_load32)(int dtype, const char *row, ptrdiff_t stride,
                                      const fc_run *map, ptrdiff_t n, float fill, float *dst)
{
    switch (dtype) {
    case FC_DT_I8: FC_XNAME(fc_load32_i8)(row, stride, map, n, fill, dst); break;
    case FC_DT_U16: FC_XNAME(fc_load32_u16)(row, stride, map, n, fill, dst); break;
    case FC_DT_I16: FC_XNAME(fc_load32_i16)(row, stride, map, n, fill, dst); break;
    default: FC_XNAME(fc_load32_u8)(row, stride, map, n, fill, dst); break; /* u8, bool */
    }
}

/* ------------------------------------------------------------------------- certified outputs
 * An integer output needs only the integer part of scipy's double, not its last bit.  For images
 * whose values float holds exactly, the caller computes every output with the float32 engine
 * (FMA, any order) into `fast`, and knows a `bound` on |fast - scipy's double| (the two
 * computations' error bounds added, see _exact.pxi).  Where no integer lies within `bound` of
 * fast, scipy's double lies between the same two integers and truncates (in either direction
 * of the cast) to the same value as fast, so fast is kept.  A vector of outputs with any value
 * closer to an integer than that is computed again by scipy's sequence (taps, or the line
 * formula when `line`) from the same float rows, whose values are the image's exactly.  Such
 * outputs are rare under smooth weights (about 1% of a photograph under a Gaussian) and common
 * under a box (one sum in K*K is a multiple of K*K) or in flat regions, so the vectors to redo
 * are collected and computed FC_XNV at a time, each with its own accumulator: the adds of
 * different vectors overlap, as in fc_exact_taps.  Returns the number of outputs recomputed. */
#if defined(FC_XVECTOR)
typedef float fc_xvecf __attribute__((vector_size(FC_XVL * sizeof(float))));
typedef int32_t fc_xveci __attribute__((vector_size(FC_XVL * sizeof(int32_t))));
static inline fc_xvec fc_xloadf(const float *p)
{
    fc_xvecf v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, fc_xvec);
}
static inline void fc_xstorei(int32_t *p, fc_xvec v)
{
    const fc_xveci q = __builtin_convertvector(v, fc_xveci); /* truncates, as C's cast */
    memcpy(p, &q, sizeof q);
}
/* The check works on full-width float vectors, FC_CVL outputs each. */
#define FC_CVL (2 * FC_XVL)
typedef float fc_cvec __attribute__((vector_size(FC_CVL * sizeof(float))));
typedef int32_t fc_cveci __attribute__((vector_size(FC_CVL * sizeof(int32_t))));
typedef int32_t fc_cmask __attribute__((vector_size(FC_CVL * sizeof(int32_t))));
/* Lanes of a mask as 64-bit words; lane extracts one by one cost more than the check. */
static inline int fc_any(const int32_t *lanes, int n)
{
    uint64_t words[FC_CVL / 2] = {0}, any = 0;
    memcpy(words, lanes, (size_t)n * sizeof(int32_t));
    for (int i = 0; i < FC_CVL / 2; i++) any |= words[i];
    return any != 0;
}

/* scipy's double, truncated, for the FC_XVL outputs whose float rows start at src[t] + soff[v]
 * and whose results go to q + qoff[v], v < FC_XNV. */
static void FC_XNAME(fc_exact_redo)(const float *const *src, const double *w, ptrdiff_t ntaps,
                                    int line, int symmetry, const ptrdiff_t *soff,
                                    const ptrdiff_t *qoff, int32_t *FC_XRESTRICT q)
{
    FC_XBLOCK_BEGIN
    if (!line) {
        FC_XFOR_V acc[v] = FC_XSPLAT(0.0);
        for (ptrdiff_t t = 0; t < ntaps; t++) {
            const fc_xvec wt = FC_XSPLAT(w[t]);
            const float *s = src[t];
            FC_XFOR_V acc[v] += wt * fc_xloadf(s + soff[v]);
        }
    } else {
        const ptrdiff_t k = ntaps, s1 = k / 2, first = symmetry != 0 ? s1 : k - 1;
        const fc_xvec wf = FC_XSPLAT(w[first]);
        FC_XFOR_V acc[v] = fc_xloadf(src[first] + soff[v]) * wf;
        for (ptrdiff_t t = 0; t < (symmetry != 0 ? s1 : k - 1); t++) {
            const fc_xvec wt = FC_XSPLAT(w[t]);
            const float *a = src[t], *b = src[k - 1 - t];
            if (symmetry > 0)
                FC_XFOR_V acc[v] += (fc_xloadf(a + soff[v]) + fc_xloadf(b + soff[v])) * wt;
            else if (symmetry < 0)
                FC_XFOR_V acc[v] += (fc_xloadf(a + soff[v]) - fc_xloadf(b + soff[v])) * wt;
            else
                FC_XFOR_V acc[v] += fc_xloadf(a + soff[v]) * wt;
        }
    }
    FC_XFOR_V fc_xstorei(q + qoff[v], acc[v]);
}
#endif

/* The same for the m outputs whose float rows start at src[t] + s, s + 1, ..., and whose results
 * go to q[0 .. m), one at a time (row tails, and compilers without vector extensions). */
static void FC_XNAME(fc_exact_redo_tail)(const float *const *src, const double *w,
                                         ptrdiff_t ntaps, int line, int symmetry,
                                         ptrdiff_t s, int32_t *FC_XRESTRICT q, ptrdiff_t m)
{
    for (ptrdiff_t i = 0; i < m; i++) {
        const ptrdiff_t j = s + i;
        double acc;
        if (!line) {
            acc = 0.0;
            for (ptrdiff_t t = 0; t < ntaps; t++) acc += w[t] * (double)src[t][j];
        } else {
            const ptrdiff_t k = ntaps, s1 = k / 2, first = symmetry != 0 ? s1 : k - 1;
            acc = (double)src[first][j] * w[first];
            for (ptrdiff_t t = 0; t < (symmetry != 0 ? s1 : k - 1); t++) {
                const double a = (double)src[t][j], b = (double)src[k - 1 - t][j];
                acc += (symmetry > 0 ? a + b : symmetry < 0 ? a - b : a) * w[t];
            }
        }
        q[i] = (int32_t)acc;
    }
}

static void FC_XNAME(fc_exact_store32)(int dtype, const int32_t *q, ptrdiff_t n, char *out,
                                      ptrdiff_t stride);

#if defined(FC_XVECTOR)
/* Stores the n vectors of FC_XVL outputs at q + qoff[v] again, to row qoff / cols, column
 * qoff % cols of out. */
static void FC_XNAME(fc_exact_restore)(int dtype, const int32_t *q, const ptrdiff_t *qoff, int n,
                                       ptrdiff_t cols, char *out, ptrdiff_t ldo,
                                       ptrdiff_t stride)
{
    for (int v = 0; v < n; v++)
        FC_XNAME(fc_exact_store32)(dtype, q + qoff[v], FC_XVL,
                                   out + qoff[v] / cols * ldo + qoff[v] % cols * stride, stride);
}
#endif

/* A band of rows x cols outputs: fast and q hold them row after row, output (r, c) reads the
 * float rows at src[t] + r * ld + c, and row r is stored (store32) at out + r * ldo.  The
 * vectors to redo are collected across rows, so a group of FC_XNV is flushed part-empty once
 * per band, not once per row: with a row's few near outputs (0.7% of 5x5 outputs on a random
 * uint8 image) that per-row flush had been most of the recomputation (a tenth of the call on
 * AVX-512).  Each row is stored at once, from L1, and a redone vector again after its redo. */
static ptrdiff_t FC_XNAME(fc_exact_certify)(const float *fast, const float *const *src,
                                            const double *w, ptrdiff_t ntaps, int line,
                                            int symmetry, double bound, int32_t *FC_XRESTRICT q,
                                            ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld,
                                            int dtype, char *out, ptrdiff_t ldo,
                                            ptrdiff_t stride)
{
    /* The caller's bound (< 1/64) keeps |fast| below 2^22, so (f + 1.5*2^23) - 1.5*2^23 is f
     * rounded to an integer and f minus it is exact, all in float; compared with the bound
     * rounded up to float.  Written out because SSE2 has no rounding instruction; this file is
     * compiled without contraction, so it stays two adds.  (int32)f truncates exactly. */
    const float magic = 12582912.0f;
    float b32 = (float)bound;
    if ((double)b32 < bound) b32 = nextafterf(b32, 1.0f);
    ptrdiff_t redone = 0;
#if defined(FC_XVECTOR)
    ptrdiff_t soff[FC_XNV], qoff[FC_XNV];
    int n_pending = 0;
    enum { NC = FC_XNB / FC_CVL }; /* check vectors per block */
#endif
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *f_row = fast + r * cols;
        int32_t *q_row = q + r * cols;
        ptrdiff_t c = 0;
#if defined(FC_XVECTOR)
        for (; c + FC_XNB <= cols; c += FC_XNB) {
            int32_t lanes[NC][FC_CVL];
            fc_cmask all = {0};
            for (int j = 0; j < NC; j++) {
                fc_cvec f;
                memcpy(&f, f_row + c + j * FC_CVL, sizeof f);
                const fc_cvec e = f - ((f + magic) - magic);
                const fc_cmask near = (e <= b32) & (e >= -b32);
                all |= near;
                memcpy(lanes[j], &near, sizeof near);
                const fc_cveci t = __builtin_convertvector(f, fc_cveci);
                memcpy(q_row + c + j * FC_CVL, &t, sizeof t);
            }
            int32_t any[FC_CVL];
            memcpy(any, &all, sizeof any);
            if (!fc_any(any, FC_CVL)) continue;
            for (int h = 0; h < 2 * NC; h++) {
                if (!fc_any(lanes[h / 2] + (h % 2) * FC_XVL, FC_XVL)) continue;
                soff[n_pending] = r * ld + c + h * FC_XVL;
                qoff[n_pending++] = r * cols + c + h * FC_XVL;
                if (n_pending == FC_XNV) {
                    FC_XNAME(fc_exact_redo)(src, w, ntaps, line, symmetry, soff, qoff, q);
                    FC_XNAME(fc_exact_restore)(dtype, q, qoff, FC_XNV, cols, out, ldo, stride);
                    redone += FC_XNV * FC_XVL;
                    n_pending = 0;
                }
            }
        }
#endif
        const ptrdiff_t tail = c;
        int near = 0;
        for (; c < cols; c++) {
            const float f = f_row[c];
            const float e = f - ((f + magic) - magic);
            near |= (e <= b32) & (e >= -b32);
            q_row[c] = (int32_t)f;
        }
        if (near) {
            redone += cols - tail;
            FC_XNAME(fc_exact_redo_tail)(src, w, ntaps, line, symmetry, r * ld + tail,
                                         q_row + tail, cols - tail);
        }
        FC_XNAME(fc_exact_store32)(dtype, q_row, cols, out + r * ldo, stride);
    }
#if defined(FC_XVECTOR)
    if (n_pending > 0) {
        /* The rest of a group: the free accumulators redo the first vector again. */
        redone += n_pending * FC_XVL;
        for (int v = n_pending; v < FC_XNV; v++) soff[v] = soff[0], qoff[v] = qoff[0];
        FC_XNAME(fc_exact_redo)(src, w, ntaps, line, symmetry, soff, qoff, q);
        FC_XNAME(fc_exact_restore)(dtype, q, qoff, n_pending, cols, out, ldo, stride);
    }
#endif
    return redone;
}

/* Output: the C cast from double as scipy's x86-64 build executes it.  gcc converts to types up
 * to 16 bits (and bool, an unsigned char in numpy) through a 32-bit signed conversion
 * (cvttsd2si) and keeps the low bits, to 32-bit unsigned through the 64-bit one, and to 64-bit
 * unsigned by the 64-bit one, on d - 2^63 for d >= 2^63; out-of-range and NaN convert to the
 * "integer indefinite" INT_MIN.  Written out with range checks, since a plain cast out of range
 * is undefined in C and this object's own flags (-mavx512f has unsigned conversions) would
 * compile it differently.  Elsewhere the plain C cast is what scipy's build does too. */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
static inline int32_t fc_cvt32(double d)
{
    return (d > -2147483649.0 && d < 2147483648.0) ? (int32_t)d : INT32_MIN;
}
static inline int64_t fc_cvt64(double d)
{
    return (d >= -9223372036854775808.0 && d < 9223372036854775808.0) ? (int64_t)d : INT64_MIN;
}
#define FC_TO_U8(d) ((uint8_t)(uint32_t)fc_cvt32(d))
#define FC_TO_I8(d) ((int8_t)(uint8_t)(uint32_t)fc_cvt32(d))
#define FC_TO_U16(d) ((uint16_t)(uint32_t)fc_cvt32(d))
#define FC_TO_I16(d) ((int16_t)(uint16_t)(uint32_t)fc_cvt32(d))
#define FC_TO_I32(d) fc_cvt32(d)
#define FC_TO_U32(d) ((uint32_t)(uint64_t)fc_cvt64(d))
#define FC_TO_I64(d) fc_cvt64(d)
#define FC_TO_U64(d)                                                                          \
    ((d) >= 9223372036854775808.0                                                             \
         ? ((uint64_t)fc_cvt64((d) - 9223372036854775808.0) ^ ((uint64_t)1 << 63))            \
         : (uint64_t)fc_cvt64(d))
#else
#define FC_TO_U8(d) ((uint8_t)(d))
#define FC_TO_I8(d) ((int8_t)(d))
#define FC_TO_U16(d) ((uint16_t)(d))
#define FC_TO_I16(d) ((int16_t)(d))
#define FC_TO_I32(d) ((int32_t)(d))
#define FC_TO_U32(d) ((uint32_t)(d))
#define FC_TO_I64(d) ((int64_t)(d))
#define FC_TO_U64(d) ((uint64_t)(d))
#endif
#define FC_TO_F32(d) ((float)(d))
#define FC_TO_F64(d) (d)

#define FC_STORE(T, CAST, NAME)                                                               \
    static void NAME(const double *y, ptrdiff_t n, char *out, ptrdiff_t stride)               \
    {                                                                                         \
        if (stride == (ptrdiff_t)sizeof(T)) {                                                 \
            T *o = (T *)out;                                                                  \
            for (ptrdiff_t i = 0; i < n; i++) o[i] = (T)CAST(y[i]);                           \
        } else {                                                                              \
            for (ptrdiff_t i = 0; i < n; i++) *(T *)(out + i * stride) = (T)CAST(y[i]);       \
        }                                                                                     \
    }
FC_STORE(uint8_t, FC_TO_U8, FC_XNAME(fc_store_u8))
FC_STORE(int8_t, FC_TO_I8, FC_XNAME(fc_store_i8))
FC_STORE(uint16_t, FC_TO_U16, FC_XNAME(fc_store_u16))
FC_STORE(int16_t, FC_TO_I16, FC_XNAME(fc_store_i16))
FC_STORE(uint32_t, FC_TO_U32, FC_XNAME(fc_store_u32))
FC_STORE(int32_t, FC_TO_I32, FC_XNAME(fc_store_i32))
FC_STORE(uint64_t, FC_TO_U64, FC_XNAME(fc_store_u64))
FC_STORE(int64_t, FC_TO_I64, FC_XNAME(fc_store_i64))
FC_STORE(float, FC_TO_F32, FC_XNAME(fc_store_f32))
FC_STORE(double, FC_TO_F64, FC_XNAME(fc_store_f64))

/* From int32 values, which fc_cvt32 leaves as they are: the casts above of any double in
 * (-2^31, 2^31), once truncated (the 64-bit types sign-extend it, as fc_cvt64 would). */
#define FC_STORE_I32(T, NAME)                                                                 \
    static void NAME(const int32_t *q, ptrdiff_t n, char *out, ptrdiff_t stride)              \
    {                                                                                         \
        if (stride == (ptrdiff_t)sizeof(T)) {                                                 \
            T *o = (T *)out;                                                                  \
            for (ptrdiff_t i = 0; i < n; i++) o[i] = (T)(int64_t)q[i];                        \
        } else {                                                                              \
            for (ptrdiff_t i = 0; i < n; i++) *(T *)(out + i * stride) = (T)(int64_t)q[i];    \
        }                                                                                     \
    }
FC_STORE_I32(uint8_t, FC_XNAME(fc_store32_u8))
FC_STORE_I32(int8_t, FC_XNAME(fc_store32_i8))
FC_STORE_I32(uint16_t, FC_XNAME(fc_store32_u16))
FC_STORE_I32(int16_t, FC_XNAME(fc_store32_i16))
FC_STORE_I32(uint32_t, FC_XNAME(fc_store32_u32))
FC_STORE_I32(int32_t, FC_XNAME(fc_store32_i32))
FC_STORE_I32(uint64_t, FC_XNAME(fc_store32_u64))
FC_STORE_I32(int64_t, FC_XNAME(fc_store32_i64))

static void FC_XNAME(fc_exact_store32)(int dtype, const int32_t *q, ptrdiff_t n, char *out,
                                       ptrdiff_t stride)
{
    switch (dtype) {
    case FC_DT_BOOL:
    case FC_DT_U8: FC_XNAME(fc_store32_u8)(q, n, out, stride); break;
    case FC_DT_I8: FC_XNAME(fc_store32_i8)(q, n, out, stride); break;
    case FC_DT_U16: FC_XNAME(fc_store32_u16)(q, n, out, stride); break;
    case FC_DT_I16: FC_XNAME(fc_store32_i16)(q, n, out, stride); break;
    case FC_DT_U32: FC_XNAME(fc_store32_u32)(q, n, out, stride); break;
    case FC_DT_I32: FC_XNAME(fc_store32_i32)(q, n, out, stride); break;
    case FC_DT_U64: FC_XNAME(fc_store32_u64)(q, n, out, stride); break;
    default: FC_XNAME(fc_store32_i64)(q, n, out, stride); break;
    }
}

static void FC_XNAME(fc_exact_store)(int dtype, const double *y, ptrdiff_t n, char *out,
                                     ptrdiff_t stride)
{
    switch (dtype) {
    case FC_DT_BOOL: /* npy_bool is an unsigned char: scipy stores the low byte, not y != 0 */
    case FC_DT_U8: FC_XNAME(fc_store_u8)(y, n, out, stride); break;
    case FC_DT_I8: FC_XNAME(fc_store_i8)(y, n, out, stride); break;
    case FC_DT_U16: FC_XNAME(fc_store_u16)(y, n, out, stride); break;
    case FC_DT_I16: FC_XNAME(fc_store_i16)(y, n, out, stride); break;
    case FC_DT_U32: FC_XNAME(fc_store_u32)(y, n, out, stride); break;
    case FC_DT_I32: FC_XNAME(fc_store_i32)(y, n, out, stride); break;
    case FC_DT_U64: FC_XNAME(fc_store_u64)(y, n, out, stride); break;
    case FC_DT_I64: FC_XNAME(fc_store_i64)(y, n, out, stride); break;
    case FC_DT_F32: FC_XNAME(fc_store_f32)(y, n, out, stride); break;
    default: FC_XNAME(fc_store_f64)(y, n, out, stride); break;
    }
}

const fc_exact_table FC_XNAME(fc_exact) = {
    .taps = FC_XNAME(fc_exact_taps),
    .line = FC_XNAME(fc_exact_line),
    .running_step = FC_XNAME(fc_exact_running_step),
    .running_lines = FC_XNAME(fc_exact_running_lines),
    .load = FC_XNAME(fc_exact_load),
    .load32 = FC_XNAME(fc_exact_load32),
    .certify = FC_XNAME(fc_exact_certify),
    .store32 = FC_XNAME(fc_exact_store32),
    .store = FC_XNAME(fc_exact_store),
    .block = FC_XNB,
};
