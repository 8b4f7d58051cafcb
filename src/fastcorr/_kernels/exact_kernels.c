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
#define FC_LOAD(T, NAME)                                                                      \
    static void NAME(const char *row, ptrdiff_t stride, const fc_run *runs, ptrdiff_t n_runs, \
                     double fill, double *FC_XRESTRICT dst)                                   \
    {                                                                                         \
        for (ptrdiff_t r = 0; r < n_runs; r++) {                                              \
            double *d = dst + runs[r].dst;                                                    \
            const ptrdiff_t len = runs[r].length, step = runs[r].step * stride;               \
            const char *p = row + runs[r].src * stride;                                       \
            if (runs[r].step == 0) {                                                          \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = fill;                              \
            } else if (step == (ptrdiff_t)sizeof(T)) {                                        \
                const T *q = (const T *)p;                                                    \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = (double)q[k];                      \
            } else {                                                                          \
                for (ptrdiff_t k = 0; k < len; k++) d[k] = (double)*(const T *)(p + k * step); \
            }                                                                                 \
        }                                                                                     \
    }
FC_LOAD(uint8_t, FC_XNAME(fc_load_u8))
FC_LOAD(int8_t, FC_XNAME(fc_load_i8))
FC_LOAD(uint16_t, FC_XNAME(fc_load_u16))
FC_LOAD(int16_t, FC_XNAME(fc_load_i16))
FC_LOAD(uint32_t, FC_XNAME(fc_load_u32))
FC_LOAD(int32_t, FC_XNAME(fc_load_i32))
FC_LOAD(uint64_t, FC_XNAME(fc_load_u64))
FC_LOAD(int64_t, FC_XNAME(fc_load_i64))
FC_LOAD(float, FC_XNAME(fc_load_f32))
FC_LOAD(double, FC_XNAME(fc_load_f64))

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
    .store = FC_XNAME(fc_exact_store),
    .block = FC_XNB,
};
