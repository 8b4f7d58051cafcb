/* Vector vocabulary for one ISA, chosen by the FC_ISA_* macro the build passes to this
 * translation unit.  The kernel template (corr_tmpl.h) is written only in these macros, so one
 * source serves every path.  Register-block shapes (FC_NR output rows x FC_NV vectors) are chosen
 * per ISA from its register count: NR*NV accumulators + NV input vectors + 1 broadcast weight
 * must fit in the register file, or the compiler spills and the kernel turns load-bound.
 *
 * Kernels of at most FC_KH_S rows use a second block (FC_NR_S(kh) rows x FC_NV_S(kh) vectors, see
 * fc_sblock in corr_tmpl.h; the shape may depend on the kernel height kh) that holds one kernel
 * column's kh weights in registers as well, so its budget is NR*NV accumulators + kh weights +
 * NV inputs.  On AVX2 (float32, one thread, in cache) 5x2 against the main block: kh=3 71 vs 52
 * GFLOP/s, kh=5 92 vs 75, kh=6 83 vs 80; at kh=7 the weights no longer fit beside 10
 * accumulators.
 *
 * That block keeps all its NR + kh - 1 input rows live in L1 across the kw column passes.  Where
 * those rows alias in L1 (fc_small_band_rows in fastcorr_kernels.h) a block of FC_NR_A(kh) rows x
 * FC_NV_A(kh) vectors, which reads fewer rows, is used instead, or where FC_NR_A(kh) is 0 the
 * main block (fc_block).  On AVX2, 2048 x 2048, one
 * thread, on an 8-way L1, 3x3 against 5x2 (medians of alternating runs): float32 kh=5 +13% (rows
 * 8 KiB apart), kh=6 +20%, float64 kh=5 +4%, kh=6 +29%; 4x2 did +12% at kh=5 but only +6% for
 * float64, 2x4 and 2x5 lost.  Where rows do not alias (rows 32 bytes to 2 KiB longer), 3x3 is
 * 0-7% slower than 5x2, so it is only the fallback.  Where the two shapes are equal no path
 * switches.
 */
#ifndef FASTCORR_SIMD_H
#define FASTCORR_SIMD_H

#include "fastcorr_kernels.h" /* FC_MAX_LANES */

#if defined(FC_ISA_AVX512)
#include <immintrin.h>
#define FC_ISA avx512
#define FC_ISA_DESCRIPTION "AVX-512F, 512-bit"
/* 32 zmm registers: 24 accumulators + 4 inputs + 1 broadcast weight.  On AMD Zen 5 (one thread,
 * in L2, best/median of alternating runs, kernels of 13..31 rows, rows 4 KiB apart or not):
 * 6x4 best or within 3% of the best at every size, float32 218-226/199-211 GFLOP/s against
 * 204-217 for 4x6, 209-217 for 5x5 and 210-225 for 6x3; float64 106-119 against 103-112.
 * 1-D on Zen 5 (2 threads, 10^5 and 4 x 10^6 samples, K = 16..128): 12 x 6 best or within
 * noise of 8 x 8, 16 x 4, 10 x 10, 16 x 8 and 8 x 12 at every K but one (16 x 4, float32 K = 16
 * and 32 in cache, 171 and 307 against 149 and 267, and 20-25% slower on the long signal); at
 * K <= 16 (float32) each phase has one tap, so every FMA needs a vector of its own, whatever
 * the shape (half of them shifted out of registers, see fc1_block).
 * Measured on an Intel Xeon
 * (Sapphire Rapids class), 2 threads, float32 2048 x 2048, alternating runs, medians: 8x3, 5x4,
 * 4x5 and 4x6 all within 5% of 6x4 at K = 9 (245-249 GFLOP/s) and K = 11 (253-276), so 6x4
 * stays.  What bounds this block here is not its shape: nearly every 64-byte unaligned load
 * splits a cache line (about 1.15 cycles each against 0.5 for an aligned one, measured), and
 * the ramp rows of a short kernel are load-bound; in L2 it reaches 66% of the peak at K = 9 and
 * 75% at K = 31 on one thread.  So kernels of 13 rows and 9 columns and more run the
 * lane-strided blocks below instead (FC_HAS_LANES, fc_corr_lanes in corr_tmpl.h).
 * 1-D: 12 accumulators + 6 weights + 1 input (16 + 8 and 16 + 12 made gcc spill in the tap
 * loop, counted in the objdump).  A variant on a transposed copy of the signal (aligned loads,
 * taps in order, two 16 x 16 in-register transposes per tile) ran float32 K = 16 and 32 in L1
 * at +25% and +9%, but -7% to -17% on a 4,000,000-sample signal on 2 threads and -14% to -20%
 * for float64: the transposes compete with the FMAs for port 5 on this CPU, so it is not used. */
#define FC_NR 6
#define FC_NV 4
#define FC1_NV 12
#define FC1_TG 6
#define FC_KH_S 12
/* Small-kernel blocks up to kh = 12 (16 accumulators + 12 weights + 2 inputs), measured on AMD
 * Zen 5 (EPYC, family 26: two 512-bit FMA pipes, 48 KiB 12-way L1D, 1 MiB L2): for kh = 9..12
 * the 8x2 small block against the 6x4 main block, best/median GFLOP/s of alternating runs:
 * - one thread in L2 (192 x 1040 float32, 192 x 520 float64): float32 kh=9 244/220 against
 *   217/194, kh=11 255/228 against 227/201; float64 +6-9% at every kh from 9 to 12;
 * - 2 threads, 2000 x 3000 and 2048 x 2112: float32 kh=9 421/356 against 352/276 and 346/301
 *   against 256/200, kh=11 +4-20%, kh=12 -2 to +10%; float64 +12-24%;
 * - where rows alias (power-of-two widths: 8 + kh - 1 rows in 12 ways) it loses, 2048 x 2048
 *   float32 kh=11 234/203 against 349/311, and so do 6x2 and 4x3 (one thread, 192 x 1024:
 *   kh=11 159 and 184 against 211), so there kernels of 9..12 rows keep the main block
 *   (FC_NR_A(kh) = 0).
 * Column kernels (kw = 1) taller than FC_KH_C rows keep fc_cblock.
 * Shapes for kh <= 8, Zen 5, best/median of alternating runs, one thread in L2: 8x2, 6x3, 4x4,
 * 7x3 and 6x2 all within 3% of each other where rows do not alias, float32 and float64; where
 * they alias 4x4 had the best medians (float32 kh=5..8 163-177 against 130-155) but not the
 * best peaks, and at 2048 x 2048 on 2 threads it was 10-20% slower (kh=5..8 best 203-268
 * against 250-308), so the shapes below stay.  kh <= 3: 8x2, 6x3 and 7x3 +5-13% in L2 on one
 * thread, but on 2 threads 3x4, 6x3, 7x3, 4x4 and 8x2 within noise of each other at 1024 x 1024
 * (float32 best 265-287), 2048 x 2048 (142-168) and 4096 x 4096 (78-84), so 3x4 stays.  There a
 * 3x3 kernel at 2048 x 2048 (16 + 16 MiB, which this CPU's 32 MiB L3 holds) took 0.40-0.69 ms
 * against 0.18-0.25 for a 2-thread memcpy of the same arrays (0.39 with streaming stores) and
 * 0.20 for a 1x1 kernel through the same tiles; at 4096 x 4096 it runs at DRAM's rate.
 * Earlier, on an Intel Xeon (Sapphire Rapids class, 48 KiB 12-way L1D),
 * 2 threads, float32 2048 x 2048 / 2048 x 2112 / 2000 x 3000 (GFLOP/s, best of 8):
 * - kh 4..8: 8x2 (16 accumulators + 8 weights + 2 inputs); 6x3, 6x2, 7x2, 5x3 within noise of
 *   it where rows do not alias, 4x4, 4x3, 3x4, 2x6 10-30% slower.
 * - where they alias (power-of-two widths, see fc_small_band_rows), 6x2: its 6 + kh - 1 rows
 *   fit 12 ways up to kh = 7; kh=7: 250-266 against 215-242 for 8x2 and 142-152 for the 3x4
 *   this path used to switch to (which was 30-45% slower than 8x2 at every kh from 5 to 8).
 * - kh <= 3 (bandwidth-bound): 3x4, 105-110 against 91-106 for 8x2: a band of 3 rows streams
 *   5 input and 3 output rows instead of 10 and 8. */
#define FC_NR_S(kh) ((kh) <= 3 ? 3 : 8)
#define FC_NV_S(kh) ((kh) <= 3 ? 4 : 2)
#define FC_NR_A(kh) ((kh) <= 3 ? 3 : (kh) <= 8 ? 6 : 0)
#define FC_NV_A(kh) ((kh) <= 3 ? 4 : 2)
/* What holds kernels of 5..11 rows below 75% of the peak on this path, measured on an Intel
 * Xeon (family 6 model 167, KVM, 48 KiB 12-way L1D, 2 MiB L2, 480 MiB L3 shared with other
 * guests), float32, so that the next attempt starts past these:
 * - The block itself.  In L1 (48 x 256 outputs, one thread) the 8x2 small block ran kh=5 at
 *   66% and kh=9 at 81%.  The same block with its loads made aligned (same instructions, wrong
 *   values) ran kh=5 and 7 at 86-88% against 74-76% as written: the unaligned loads, all of
 *   which split a line, cost about 12 points.  A valignd per shifted vector would take the
 *   second FMA port (port 5) instead; 10x2 and 12x2 blocks ran within noise of 8x2.
 * - Aliased rows (2048 wide).  kh=9 and 11 on the main block: 132-141 GFLOP/s in L2 against
 *   162-177 for the small block on rows 64 bytes longer.  Copying the input to rows of that
 *   pitch first gained at most 6% in L2 (whole tiles, or tiles 256 and 512 columns wide) and
 *   lost 17% as a ring of a band's rows: the copy costs another pass through L2.
 * - Memory.  2 threads, 2048 x 2048, kh=5, input and output in L3: 1.05 ms, against 0.57 ms for
 *   a 2-thread copy of the same arrays plus 0.50 ms of FMAs at the peak, so the two barely
 *   overlap.  Prefetching the next band's input rows, or its output rows (read or write intent,
 *   into L1 or L2), measured 3-18% slower.  Streamed stores to rows 8 KiB apart: 5-23% slower
 *   at 16 and 32 MiB here (STREAM_ALIASED_MIN_BYTES in _core.pyx says when the core streams
 *   them). */
#define FC_KH_C 8
/* Column kernels taller than FC_KH_C (fc_cblock): 8 rows x 2 vectors, taps 10 at a time (16
 * accumulators + 10 weights + 2 inputs).  Column pass alone over a 4096 x 4096 image in bands
 * of 48 x 2,080, 2 threads, Intel Xeon: float32 33 taps 254-288 GFLOP/s (10 x 2 by 8 taps
 * 258-293, 16 x 1 by 8 242-249, 6 x 3 221-232) against 193-217 for the 6 x 4 main block,
 * 9 taps 1.91 ms against 2.22-2.29; float64 33 taps 107-118 against 88-94. */
#define FC_CB_R 8
#define FC_CB_V 2
#define FC_CB_G 10
/* fastcorr.nn's blocks (conv_tmpl.h): 4 channels x 6 vectors = 24 accumulators + 4
 * broadcast weights + 1 input; the weight gradient's 4 channels x 6 taps = 24 + 4 gradient
 * vectors + 1 input. */
#define FCC_OB 4
#define FCC_NB 6
#define FCW_OB 4
#define FCW_TB 6
/* fc_wgrad1 (a depthwise layer's weight gradient, conv_tmpl.h): column vectors side by side
 * for 3x3 and 5x5 kernels (0: that size takes fc_wgrad).  3x3 with 2: 18 accumulators + 6
 * gradient vectors + 1 input; 5x5 with one: 25 + 5 + 1. */
#define FCD_NU3 2
#define FCD_NU5 1
#define VF32_T __m512
#define VF32_L 16
#define VF32_LOAD(p) _mm512_loadu_ps(p)
#define VF32_STORE(p, v) _mm512_storeu_ps((p), (v))
#define VF32_SET1(s) _mm512_set1_ps(s)
#define VF32_ZERO() _mm512_setzero_ps()
#define VF32_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VF32_REVERSE(v) _mm512_permutexvar_ps(_mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), (v))
#define VF64_T __m512d
#define VF64_L 8
#define VF64_LOAD(p) _mm512_loadu_pd(p)
#define VF64_STORE(p, v) _mm512_storeu_pd((p), (v))
#define VF64_SET1(s) _mm512_set1_pd(s)
#define VF64_ZERO() _mm512_setzero_pd()
#define VF64_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VF64_REVERSE(v) _mm512_permutexvar_pd(_mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0), (v))
#define VF32_ADD(a, b) _mm512_add_ps((a), (b))
#define VF64_ADD(a, b) _mm512_add_pd((a), (b))
#define VF32_HSUM(v) _mm512_reduce_add_ps(v)
#define VF64_HSUM(v) _mm512_reduce_add_pd(v)
#define VF32_STREAM(p, v) _mm512_stream_ps((p), (v))
#define VF64_STREAM(p, v) _mm512_stream_pd((p), (v))
/* The vector at lo + s from the vectors lo and hi = lo + L (s a constant, 0 <= s < L): one
 * shuffle (valignd/valignq), for fc1_block's one-tap phases. */
#define FC_HAS_ALIGNR 1
#define VF32_ALIGNR(hi, lo, s)                                                                  \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), (s)))
#define VF64_ALIGNR(hi, lo, s)                                                                  \
    _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), (s)))
/* Rows narrower than one vector (fc_block's and fc1_block's `tail`, 0 < n < L): load the first n
 * lanes and zero the rest, store the first n lanes, or store lane c at p[-c] for c < n (the
 * `rotate` layout, from p - (n - 1) so no address leaves the row).  Masked-off lanes never
 * fault, so the tail reads the caller's columns in place instead of copying them into a
 * zero-padded buffer (measured 3-7x faster on images narrower than a vector, see fc_block).
 * In the reversed store lane j takes lane n - 1 - j; for j >= n that index is negative (the
 * permute reads its low bits only) and the lane is masked off.
 * AVX-512F only (no BW/VL), which the avx512 object is compiled for. */
#define FC_HAS_MASKED_TAIL 1
#define FC_HAS_MASKED_LOAD 1
#define VF32_MASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define VF32_LOAD_N(p, n) _mm512_maskz_loadu_ps(VF32_MASK_N(n), (p))
#define VF32_STORE_N(p, v, n) _mm512_mask_storeu_ps((p), VF32_MASK_N(n), (v))
#define VF32_IOTA _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define VF32_STORE_N_REVERSED(p, v, n)                                                          \
    _mm512_mask_storeu_ps((p) - ((n) - 1), VF32_MASK_N(n),                                     \
                          _mm512_permutexvar_ps(                                               \
                              _mm512_sub_epi32(_mm512_set1_epi32((int)(n) - 1), VF32_IOTA), (v)))
#define VF64_MASK_N(n) ((__mmask8)((1u << (n)) - 1u))
#define VF64_LOAD_N(p, n) _mm512_maskz_loadu_pd(VF64_MASK_N(n), (p))
#define VF64_STORE_N(p, v, n) _mm512_mask_storeu_pd((p), VF64_MASK_N(n), (v))
#define VF64_IOTA _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7)
#define VF64_STORE_N_REVERSED(p, v, n)                                                          \
    _mm512_mask_storeu_pd((p) - ((n) - 1), VF64_MASK_N(n),                                     \
                          _mm512_permutexvar_pd(                                               \
                              _mm512_sub_epi64(_mm512_set1_epi64((long long)(n) - 1), VF64_IOTA), \
                              (v)))

/* The lane-strided blocks for large kernels (fc_corr_lanes in corr_tmpl.h): in-register
 * transposes of V_L vectors (the vectors v[0..L) become the columns: v[k][l] = old v[l][k]),
 * and the block's shape, 4 rows x 6 vectors = 24 accumulators + a ring of 6 input vectors + 1
 * broadcast weight.  In L2 on the Intel Xeon (model 167, one thread, float32, K = 15..31,
 * kernel width a compile-time constant, GFLOP/s against a 231 peak): 4x6 186-211, 5x5 194-212,
 * 3x8 192-207, 6x4 186-197; 8x3, 4x7 and 2x12 55-150 (they spill).  4x6 as shipped (taps
 * nv at a time, width at run time): 208-235 at K = 12..31.
 * Which kernels take them (fc_lanes_fit): those taller than the small block's FC_KH_S rows
 * and at least FC_LN_KW_MIN columns wide, up to FC_LN_KMAX in both.  In the fastcorr call
 * (2 threads, float32, alternating against the main block): K=13-15 +5-13% on 1024x1024,
 * 2048x2048 and 2000x3000; K=9-11 where rows alias in L1 (the main block's there) -3% to +2%,
 * so those stay with it.  In a C harness (2034 x 2034, one thread): 13x9 as fast, 31x9 and
 * 15x11 +9-10%, 21x7 as fast, 15x5 and 15x3 7% and 23% slower.  Panels of at most FC_LN_SMAX
 * columns per lane; tiles of at least FC_LN_SMIN vectors of columns. */
#define FC_HAS_LANES 1
#define FC_LN_R 4
#define FC_LN_C 6
#define FC_LN_KW_MIN 9
#define FC_LN_KMAX 64
#define FC_LN_SMAX 64
#define FC_LN_SMIN 16
static inline void fc_transpose_f32_avx512(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 8; i++) {
        const int a = (i / 4) * 8 + i % 4, b = a + 4;
        t[a] = _mm512_shuffle_f32x4(r[a], r[b], 0x88);
        t[b] = _mm512_shuffle_f32x4(r[a], r[b], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}
static inline void fc_transpose_f64_avx512(__m512d r[8])
{
    __m512d t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    /* t[2g + h] holds, in each 128-bit lane q, rows 2g, 2g+1 of column 2q + h. */
    r[0] = _mm512_shuffle_f64x2(t[0], t[2], 0x88);
    r[2] = _mm512_shuffle_f64x2(t[0], t[2], 0xDD);
    r[1] = _mm512_shuffle_f64x2(t[1], t[3], 0x88);
    r[3] = _mm512_shuffle_f64x2(t[1], t[3], 0xDD);
    r[4] = _mm512_shuffle_f64x2(t[4], t[6], 0x88);
    r[6] = _mm512_shuffle_f64x2(t[4], t[6], 0xDD);
    r[5] = _mm512_shuffle_f64x2(t[5], t[7], 0x88);
    r[7] = _mm512_shuffle_f64x2(t[5], t[7], 0xDD);
    t[0] = _mm512_shuffle_f64x2(r[0], r[4], 0x88);
    t[4] = _mm512_shuffle_f64x2(r[0], r[4], 0xDD);
    t[1] = _mm512_shuffle_f64x2(r[1], r[5], 0x88);
    t[5] = _mm512_shuffle_f64x2(r[1], r[5], 0xDD);
    t[2] = _mm512_shuffle_f64x2(r[2], r[6], 0x88);
    t[6] = _mm512_shuffle_f64x2(r[2], r[6], 0xDD);
    t[3] = _mm512_shuffle_f64x2(r[3], r[7], 0x88);
    t[7] = _mm512_shuffle_f64x2(r[3], r[7], 0xDD);
    for (int i = 0; i < 8; i++) r[i] = t[i];
}
#define VF32_TRANSPOSE(v) fc_transpose_f32_avx512(v)
#define VF64_TRANSPOSE(v) fc_transpose_f64_avx512(v)

#elif defined(FC_ISA_AVX2)
#include <immintrin.h>
#define FC_ISA avx2
#define FC_ISA_DESCRIPTION "AVX2+FMA, 256-bit"
/* 16 ymm registers: 12 accumulators + 3 inputs + 1 broadcast weight.
 * 1-D: 8 accumulators + 4 weights + 1 input, leaving the compiler 3 registers; measured against
 * 10x4, 12x3, 8x5, 8x6 and 6x8 (float32, K = 64..1024, one thread, in cache): 79-88 GFLOP/s
 * against at most 80, and the others spill. */
#define FC_NR 4
#define FC_NV 3
#define FC1_NV 8
#define FC1_TG 4
#define FC_NR_S(kh) 5
#define FC_NV_S(kh) 2
#define FC_KH_S 6
#define FC_NR_A(kh) 3
#define FC_NV_A(kh) 3
/* Column blocks: 4 rows x 2 vectors by 5 taps (8 + 5 + 1 registers).  Each input row of a
 * group feeds 2 x 5 independent accumulators, so the FMAs in flight cover the FMA latency times
 * the FMA throughput (5 x 1 on Zen 1, 4 x 2 on Zen 3 and Intel); 8 x 1 by 5 feeds 5 and waits
 * on its chains.  AMD Zen 1, one thread, 16 output rows x 1024 columns in L2: float32 31 taps
 * 33-35 GFLOP/s (85-89% of peak) against 28-29 for 8 x 1 by 5 (4 x 2 by 4 32, by 7 32, 6 x 2 by
 * 3 30, 2 x 4 by 5 28, 10 x 1 by 4 22), float64 16 against 13; 7-25 taps +10-60%.  (On an
 * Intel Xeon with this path forced, 8 x 1 by 5 had measured 154-175 GFLOP/s against 138-149
 * for 4 x 2 by 5, float32 33 taps: an AVX2-only CPU is an AMD one in this project's fleet.) */
#define FC_CB_R 4
#define FC_CB_V 2
#define FC_CB_G 5
/* fastcorr.nn's blocks: 2 channels x 6 vectors = 12 accumulators + 2 weights + 1
 * input; weight gradient 2 x 6 = 12 + 2 gradient vectors + 1 input. */
#define FCC_OB 2
#define FCC_NB 6
#define FCW_OB 2
#define FCW_TB 6
/* fc_wgrad1 (a depthwise layer's weight gradient, conv_tmpl.h): column vectors side by side
 * for 3x3 and 5x5 kernels (0: that size takes fc_wgrad).  16 registers: 3x3 with one, 9
 * accumulators + 3 gradient vectors + 1 input; 5x5 (31) would spill. */
#define FCD_NU3 1
#define FCD_NU5 0
#define VF32_T __m256
#define VF32_L 8
#define VF32_LOAD(p) _mm256_loadu_ps(p)
#define VF32_STORE(p, v) _mm256_storeu_ps((p), (v))
#define VF32_SET1(s) _mm256_set1_ps(s)
#define VF32_ZERO() _mm256_setzero_ps()
#define VF32_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VF32_REVERSE(v) _mm256_permutevar8x32_ps((v), _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0))
#define VF64_T __m256d
#define VF64_L 4
#define VF64_LOAD(p) _mm256_loadu_pd(p)
#define VF64_STORE(p, v) _mm256_storeu_pd((p), (v))
#define VF64_SET1(s) _mm256_set1_pd(s)
#define VF64_ZERO() _mm256_setzero_pd()
#define VF64_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VF64_REVERSE(v) _mm256_permute4x64_pd((v), 0x1B)
#define VF32_ADD(a, b) _mm256_add_ps((a), (b))
#define VF64_ADD(a, b) _mm256_add_pd((a), (b))
#define VF32_HSUM(v) fc_hsum_f32(v)
#define VF64_HSUM(v) fc_hsum_f64(v)
static inline float fc_hsum_f32(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
static inline double fc_hsum_f64(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#define VF32_STREAM(p, v) _mm256_stream_ps((p), (v))
#define VF64_STREAM(p, v) _mm256_stream_pd((p), (v))
/* Masked loads (vmaskmovps/pd: masked-off lanes read as zero and never fault), for the weight
 * gradient's row tails, which then read exactly the layer's columns.  Not masked stores: those
 * are microcoded on AMD cores up to Zen 2, so the correlation kernels keep their tails. */
#define FC_HAS_MASKED_LOAD 1
#define VF32_LOAD_N(p, n)                                                                     \
    _mm256_maskload_ps((p), _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)),                  \
                                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
#define VF64_LOAD_N(p, n)                                                                     \
    _mm256_maskload_pd((p), _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n)),           \
                                               _mm256_setr_epi64x(0, 1, 2, 3)))

#elif defined(FC_ISA_BASELINE) && (defined(__aarch64__) || defined(_M_ARM64))
#include <arm_neon.h>
#define FC_ISA baseline
#define FC_ISA_DESCRIPTION "NEON, 128-bit"
/* 32 q registers: 16 accumulators + 4 inputs + 1 weight leaves room for the compiler.
 * 1-D: 12 accumulators + 6 weights + 1 input (more spilled, counted in the objdump). */
#define FC_NR 4
#define FC_NV 4
#define FC1_NV 12
#define FC1_TG 6
#define FC_NR_S(kh) 8
#define FC_NV_S(kh) 2
#define FC_KH_S 8
/* No measurement on an ARM core says which shape would help where rows alias: no variant. */
#define FC_NR_A(kh) 8
#define FC_NV_A(kh) 2
/* Column blocks: AVX-512's shape, which fits the same 32 registers (not measured on ARM). */
#define FC_CB_R 8
#define FC_CB_V 2
#define FC_CB_G 10
/* fastcorr.nn's blocks: 4 x 4 = 16 accumulators + 4 weights + 1 input; 4 x 6 = 24 + 5. */
#define FCC_OB 4
#define FCC_NB 4
#define FCW_OB 4
#define FCW_TB 6
/* fc_wgrad1's column vectors (see the AVX-512 path): 32 registers, as there. */
#define FCD_NU3 2
#define FCD_NU5 1
#define VF32_T float32x4_t
#define VF32_L 4
#define VF32_LOAD(p) vld1q_f32(p)
#define VF32_STORE(p, v) vst1q_f32((p), (v))
#define VF32_SET1(s) vdupq_n_f32(s)
#define VF32_ZERO() vdupq_n_f32(0.0f)
#define VF32_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define VF32_REVERSE(v) vextq_f32(vrev64q_f32(v), vrev64q_f32(v), 2)
#define VF64_T float64x2_t
#define VF64_L 2
#define VF64_LOAD(p) vld1q_f64(p)
#define VF64_STORE(p, v) vst1q_f64((p), (v))
#define VF64_SET1(s) vdupq_n_f64(s)
#define VF64_ZERO() vdupq_n_f64(0.0)
#define VF64_FMA(a, b, c) vfmaq_f64((c), (a), (b))
#define VF64_REVERSE(v) vextq_f64((v), (v), 1)
#define VF32_ADD(a, b) vaddq_f32((a), (b))
#define VF64_ADD(a, b) vaddq_f64((a), (b))
#define VF32_HSUM(v) vaddvq_f32(v)
#define VF64_HSUM(v) vaddvq_f64(v)

#elif defined(FC_ISA_BASELINE) && (defined(__x86_64__) || defined(_M_X64))
#include <emmintrin.h>
#define FC_ISA baseline
#define FC_ISA_DESCRIPTION "SSE2, 128-bit"
/* 16 xmm registers and no FMA: 8 accumulators + 2 inputs + weight + product temporaries.
 * 1-D: 8 accumulators + 4 weights + input + product. */
#define FC_NR 4
#define FC_NV 2
#define FC1_NV 8
#define FC1_TG 4
#define FC_NR_S(kh) 4
#define FC_NV_S(kh) 2
#define FC_KH_S 4
/* Its blocks read at most 7 rows, so rows never crowd a set: no variant. */
#define FC_NR_A(kh) 4
#define FC_NV_A(kh) 2
/* Column blocks: 4 rows x 2 vectors by 4 taps (8 + 4 + 2 + a product). */
#define FC_CB_R 4
#define FC_CB_V 2
#define FC_CB_G 4
/* fastcorr.nn's blocks: 2 x 4 = 8 accumulators + 2 weights + 1 input + a product; the
 * weight gradient 1 channel x 6 taps + 1 gradient vector + 1 input + a product. */
#define FCC_OB 2
#define FCC_NB 4
#define FCW_OB 1
#define FCW_TB 6
/* fc_wgrad1's column vectors (see the AVX2 path): 16 registers, as there. */
#define FCD_NU3 1
#define FCD_NU5 0
#define VF32_T __m128
#define VF32_L 4
#define VF32_LOAD(p) _mm_loadu_ps(p)
#define VF32_STORE(p, v) _mm_storeu_ps((p), (v))
#define VF32_SET1(s) _mm_set1_ps(s)
#define VF32_ZERO() _mm_setzero_ps()
#define VF32_FMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#define VF32_REVERSE(v) _mm_shuffle_ps((v), (v), _MM_SHUFFLE(0, 1, 2, 3))
#define VF64_T __m128d
#define VF64_L 2
#define VF64_LOAD(p) _mm_loadu_pd(p)
#define VF64_STORE(p, v) _mm_storeu_pd((p), (v))
#define VF64_SET1(s) _mm_set1_pd(s)
#define VF64_ZERO() _mm_setzero_pd()
#define VF64_FMA(a, b, c) _mm_add_pd(_mm_mul_pd((a), (b)), (c))
#define VF64_REVERSE(v) _mm_shuffle_pd((v), (v), 1)
#define VF32_ADD(a, b) _mm_add_ps((a), (b))
#define VF64_ADD(a, b) _mm_add_pd((a), (b))
#define VF32_HSUM(v) fc_hsum_f32(v)
#define VF64_HSUM(v) fc_hsum_f64(v)
static inline float fc_hsum_f32(__m128 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
static inline double fc_hsum_f64(__m128d v)
{
    return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}
#define VF32_STREAM(p, v) _mm_stream_ps((p), (v))
#define VF64_STREAM(p, v) _mm_stream_pd((p), (v))

#elif defined(FC_ISA_SCALAR) || defined(FC_ISA_BASELINE)
/* The portable path (and the baseline on architectures with no vector code here): plain C with
 * one-element "vectors", the same blocking, no intrinsics. */
#if defined(FC_ISA_SCALAR)
#define FC_ISA scalar
#define FC_ISA_DESCRIPTION "portable C, no explicit SIMD"
#else
#define FC_ISA baseline
#define FC_ISA_DESCRIPTION "portable C (no SIMD baseline for this architecture)"
#endif
#define FC_NR 4
#define FC_NV 4
#define FC1_NV 8
#define FC1_TG 4
/* AVX-512's shapes, so the way they switch (by kernel height and where rows alias) is tested
 * on every machine. */
#define FC_NR_S(kh) ((kh) <= 3 ? 3 : 8)
#define FC_NV_S(kh) ((kh) <= 3 ? 4 : 2)
#define FC_KH_S 12
#define FC_NR_A(kh) ((kh) <= 3 ? 3 : (kh) <= 8 ? 6 : 0)
#define FC_NV_A(kh) ((kh) <= 3 ? 4 : 2)
#define FC_KH_C 8
#define FC_CB_R 8
#define FC_CB_V 2
#define FC_CB_G 10
/* fastcorr.nn's blocks: AVX-512's, so every channel and tap count the widest path splits into
 * is tested on every machine. */
#define FCC_OB 4
#define FCC_NB 6
#define FCW_OB 4
#define FCW_TB 6
/* fc_wgrad1's column vectors (see the AVX2 path): as there. */
#define FCD_NU3 1
#define FCD_NU5 0
#define VF32_T float
#define VF32_L 1
#define VF32_LOAD(p) (*(p))
#define VF32_STORE(p, v) (*(p) = (v))
#define VF32_SET1(s) (s)
#define VF32_ZERO() 0.0f
#define VF32_FMA(a, b, c) ((a) * (b) + (c))
#define VF32_REVERSE(v) (v)
#define VF64_T double
#define VF64_L 1
#define VF64_LOAD(p) (*(p))
#define VF64_STORE(p, v) (*(p) = (v))
#define VF64_SET1(s) (s)
#define VF64_ZERO() 0.0
#define VF64_FMA(a, b, c) ((a) * (b) + (c))
#define VF64_REVERSE(v) (v)
#define VF32_ADD(a, b) ((a) + (b))
#define VF64_ADD(a, b) ((a) + (b))
#define VF32_HSUM(v) (v)
#define VF64_HSUM(v) (v)

#else
#error "corr_kernels.c needs one of FC_ISA_SCALAR, FC_ISA_BASELINE, FC_ISA_AVX2, FC_ISA_AVX512"
#endif

/* Column kernels (kw = 1) taller than this take fc_cblock; a path whose small block serves taller
 * kernels than its column block was measured against sets it lower. */
#ifndef FC_KH_C
#define FC_KH_C FC_KH_S
#endif

/* Non-temporal stores: x86 paths store whole aligned vectors past the caches.  The tiles
 * (FC_CORR_STREAM) fence once per call; fc_corr1d_nt and fc_sum_nt, called row by row, leave
 * it to their caller (fc_stream_fence, once per thread after its units), so the writes are
 * ordered before the OpenMP barrier that publishes them.  Elsewhere (NEON, portable C) rows
 * are stored plainly. */
#if defined(VF32_STREAM)
#define FC_HAS_STREAM 1
#define FC_STREAM_FENCE() _mm_sfence()
#endif

/* fc_scratch_elems sizes every path's scratch for vectors of at most FC_MAX_LANES elements: a
 * wider path would overrun it. */
#if VF32_L > FC_MAX_LANES || VF64_L > FC_MAX_LANES
#error "a path's vectors are wider than FC_MAX_LANES (fastcorr_kernels.h): raise it"
#endif

#endif
