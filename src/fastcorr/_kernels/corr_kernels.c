/* The kernels of one ISA path.  setup.py compiles this file once per path with that path's flags
 * (-mavx2 -mfma for avx2, -mavx512f for avx512, nothing for baseline and scalar) and the matching
 * FC_ISA_* macro, so each object defines only suffixed symbols and nothing from a wider ISA can
 * run before the dispatcher has checked the CPU. */
#include <stdlib.h>
#include <string.h>

#include "fastcorr_kernels.h"
#include "simd.h"

/* Blocks are always inlined into the tile function so their accumulators stay in registers. */
#if defined(_MSC_VER) && !defined(__clang__)
#define FC_INLINE __forceinline
#define FC_RESTRICT __restrict
#define FC_UNROLL
#else
#define FC_INLINE inline __attribute__((always_inline))
#define FC_RESTRICT __restrict__
#define FC_UNROLL _Pragma("GCC unroll 32")
#endif
/* The tap loop unrolled twice: halves its loop overhead and gives the scheduler two taps' loads to
 * hoist; measured +8% (AVX2, float32 K=5: 70 -> 76 GFLOP/s on one thread), no gain from 4. */
#if defined(_MSC_VER) && !defined(__clang__)
#define FC_UNROLL_TAPS
#else
#define FC_UNROLL_TAPS _Pragma("GCC unroll 2")
#endif

/* A loaded vector pinned to a register: without it gcc folds the load into each FMA that uses it
 * (a memory operand per FMA), so a vector feeding several output rows is loaded several times,
 * and on AVX-512 nearly every such load splits a cache line. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(FC_ISA_SCALAR)
#define FC_PIN(v) __asm__("" : "+v"(v))
#else
#define FC_PIN(v) ((void)0)
#endif
/* A row pointer stepped through a fully unrolled loop: without it gcc keeps every row's offset
 * r * ldx live at once, more than the general registers hold, and reloads them from the stack
 * (scalar loads on the vector loads' ports).  fc_cgroup (17 rows a group), Intel Xeon, one
 * thread, 24 x 1024 outputs in L2: float32 33 taps 158-160 -> 168 GFLOP/s, 17 taps 152-157 ->
 * 168, float64 33 taps 80-81 -> 82-86; the small block's 8..15 rows measured the same either
 * way, so it keeps its offsets. */
#if defined(__GNUC__) && !defined(FC_ISA_SCALAR)
#define FC_PIN_PTR(p) __asm__("" : "+r"(p))
#else
#define FC_PIN_PTR(p) ((void)0)
#endif

/* Read hints for the line at p into L2 (see FC_SBAND in corr_tmpl.h) or L1 (fc_lblock); never
 * fault. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_PREFETCH_L2(p) __builtin_prefetch((const void *)(p), 0, 2)
#define FC_PREFETCH_L1(p) __builtin_prefetch((const void *)(p), 0, 3)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FC_PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define FC_PREFETCH_L1(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define FC_PREFETCH_L2(p) ((void)(p))
#define FC_PREFETCH_L1(p) ((void)(p))
#endif

#define FC_CAT3_(a, b, c) a##_##b##_##c
#define FC_CAT3(a, b, c) FC_CAT3_(a, b, c)
#define FC_STR_(a) #a
#define FC_STR(a) FC_STR_(a)
#define FC_CAT2_(a, b) a##_##b
#define FC_CAT2(a, b) FC_CAT2_(a, b)

#define FC_DT f32
#define S_T float
#define V_T VF32_T
#define V_L VF32_L
#define V_LOAD VF32_LOAD
#define V_STORE VF32_STORE
#define V_SET1 VF32_SET1
#define V_ZERO VF32_ZERO
#define V_FMA VF32_FMA
#define V_REVERSE VF32_REVERSE
#define V_ADD VF32_ADD
#define V_HSUM VF32_HSUM
#if defined(FC_HAS_STREAM)
#define V_STREAM VF32_STREAM
#endif
#ifdef FC_HAS_MASKED_LOAD
#define V_LOAD_N VF32_LOAD_N
#endif
#ifdef FC_HAS_ALIGNR
#define V_ALIGNR VF32_ALIGNR
#endif
#ifdef FC_HAS_LANES
#define V_TRANSPOSE VF32_TRANSPOSE
#endif
#ifdef FC_HAS_MASKED_TAIL
#define V_STORE_N VF32_STORE_N
#define V_STORE_N_REVERSED VF32_STORE_N_REVERSED
#endif
#include "corr_tmpl.h"
#include "corr1d_tmpl.h"
#include "conv_tmpl.h"

/* dst[r*ldd + i] = src[r*lds + i] for r < rows, i < n, in 4-byte units (a float64 row is 2n of
 * them): the image rows fastcorr.nn copies into its zero-padded planes (_conv_planes), a run of
 * rows per call, a row of 24 float64 in three vector moves where memcpy was a call per row.
 * Moves only (memcpy on the scalar path), so every bit pattern arrives as it left. */
void FC_CAT2(fc_copy_rows, FC_ISA)(float *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds,
                                   ptrdiff_t rows, ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *d = dst + r * ldd;
        const float *s = src + r * lds;
#if defined(FC_ISA_SCALAR)
        memcpy(d, s, (size_t)n * sizeof(float));
#else
        ptrdiff_t i = 0;
        for (; i + V_L <= n; i += V_L) V_STORE(d + i, V_LOAD(s + i));
#if defined(FC_HAS_MASKED_TAIL)
        if (i < n) V_STORE_N(d + i, V_LOAD_N(s + i, (int)(n - i)), (int)(n - i));
#else
        if (i < n) memcpy(d + i, s + i, (size_t)(n - i) * sizeof(float));
#endif
#endif
    }
}
#undef FC_DT
#undef S_T
#undef V_T
#undef V_L
#undef V_LOAD
#undef V_STORE
#undef V_SET1
#undef V_ZERO
#undef V_FMA
#undef V_REVERSE
#undef V_ADD
#undef V_HSUM
#undef V_STREAM
#undef V_LOAD_N
#undef V_ALIGNR
#undef V_TRANSPOSE
#undef V_STORE_N
#undef V_STORE_N_REVERSED

#define FC_DT f64
#define S_T double
#define V_T VF64_T
#define V_L VF64_L
#define V_LOAD VF64_LOAD
#define V_STORE VF64_STORE
#define V_SET1 VF64_SET1
#define V_ZERO VF64_ZERO
#define V_FMA VF64_FMA
#define V_REVERSE VF64_REVERSE
#define V_ADD VF64_ADD
#define V_HSUM VF64_HSUM
#if defined(FC_HAS_STREAM)
#define V_STREAM VF64_STREAM
#endif
#ifdef FC_HAS_MASKED_LOAD
#define V_LOAD_N VF64_LOAD_N
#endif
#ifdef FC_HAS_ALIGNR
#define V_ALIGNR VF64_ALIGNR
#endif
#ifdef FC_HAS_LANES
#define V_TRANSPOSE VF64_TRANSPOSE
#endif
#ifdef FC_HAS_MASKED_TAIL
#define V_STORE_N VF64_STORE_N
#define V_STORE_N_REVERSED VF64_STORE_N_REVERSED
#endif
#include "corr_tmpl.h"
#include "corr1d_tmpl.h"
#include "conv_tmpl.h"

#if FC_KH_S > FC_SMALL_KERNEL_ROWS_MAX
#error "FC_KH_S exceeds FC_SMALL_KERNEL_ROWS_MAX"
#endif
/* The rows of the bands that take aliased rows of a kh-row kernel: the aliased-rows small
 * block's, or the main block's where the path gives them to it (FC_NR_A(kh) == 0), as the core's
 * tile planner reads them from the table. */
#define FC_NR_AB(kh) (FC_NR_A(kh) ? FC_NR_A(kh) : (kh) < FC_NR ? (kh) : FC_NR)
const fc_kernel_table FC_CAT2(fc_table, FC_ISA) = {
    .name = FC_STR(FC_ISA),
    .description = FC_ISA_DESCRIPTION,
    .corr_f32 = FC_CAT3(fc_corr, f32, FC_ISA),
    .corr_f64 = FC_CAT3(fc_corr, f64, FC_ISA),
    .corr1d_f32 = FC_CAT3(fc_corr1d, f32, FC_ISA),
    .corr1d_f64 = FC_CAT3(fc_corr1d, f64, FC_ISA),
    .corr1d_nt_f32 = FC_CAT3(fc_corr1d_nt, f32, FC_ISA),
    .corr1d_nt_f64 = FC_CAT3(fc_corr1d_nt, f64, FC_ISA),
    .sum_nt_f32 = FC_CAT3(fc_sum_nt, f32, FC_ISA),
    .sum_nt_f64 = FC_CAT3(fc_sum_nt, f64, FC_ISA),
#if defined(FC_HAS_LANES) && VF32_L >= 16
    .colt_f32 = FC_CAT3(fc_colt, f32, FC_ISA),
#endif
    .corr3_f32 = FC_CAT3(fc_corr3, f32, FC_ISA),
    .corr3_f64 = FC_CAT3(fc_corr3, f64, FC_ISA),
    .conv_f32 = FC_CAT3(fc_conv, f32, FC_ISA),
    .conv_f64 = FC_CAT3(fc_conv, f64, FC_ISA),
    .wgrad_f32 = FC_CAT3(fc_wgrad, f32, FC_ISA),
    .wgrad_f64 = FC_CAT3(fc_wgrad, f64, FC_ISA),
    .wgrad1_f32 = FC_CAT3(fc_wgrad1, f32, FC_ISA),
    .wgrad1_f64 = FC_CAT3(fc_wgrad1, f64, FC_ISA),
    .copy_rows = FC_CAT2(fc_copy_rows, FC_ISA),
    .conv_channels = FCC_OB,
    .wgrad_channels = FCW_OB,
    .wgrad_taps = FCW_TB,
#if defined(FC_HAS_MASKED_LOAD)
    .wgrad_masked = 1,
#endif
    .fma_probe_f32 = FC_CAT3(fc_fma_probe, f32, FC_ISA),
    .fma_probe_f64 = FC_CAT3(fc_fma_probe, f64, FC_ISA),
    .lanes_f32 = VF32_L,
    .lanes_f64 = VF64_L,
    .block_rows = FC_NR,
    .block_vectors_1d = FC1_NV,
    .small_kernel_rows = FC_KH_S,
    .small_block_rows = {FC_NR_S(1), FC_NR_S(2), FC_NR_S(3), FC_NR_S(4), FC_NR_S(5), FC_NR_S(6),
                         FC_NR_S(7), FC_NR_S(8), FC_NR_S(9), FC_NR_S(10), FC_NR_S(11),
                         FC_NR_S(12)},
    .small_block_rows_aliased = {FC_NR_AB(1), FC_NR_AB(2), FC_NR_AB(3), FC_NR_AB(4), FC_NR_AB(5),
                                 FC_NR_AB(6), FC_NR_AB(7), FC_NR_AB(8), FC_NR_AB(9),
                                 FC_NR_AB(10), FC_NR_AB(11), FC_NR_AB(12)},
    .small_kernel_rows_aliased = FC_KH_S > 8 && !FC_NR_A(9) ? 8 : FC_KH_S,
    .exact = &FC_CAT2(fc_exact, FC_ISA),
};
