/* What bounds the AVX-512 small-kernel block in L1: a copy of fc_sblock_taps' loop (one band of
 * NR output rows, strips of NV vectors, a KH x KH kernel, float32) run three ways on data that
 * stays in L1, each against the FMA peak measured in the same process:
 *   unaligned  the kernel's loads: row r, column b, vector v at x + r*ldx + j + b + 16v;
 *   aligned    as many loads, every one at a 64-byte boundary (the column offset b dropped);
 *   no-loads   the loads left out (each vector comes from a register loaded once per strip).
 * If aligned runs no faster than unaligned, the cache-line splits are not what costs; if
 * no-loads runs faster than both, the number of load uops per FMA is.  Not part of the
 * package; build and run on the CPU in question:
 *   gcc -O3 -mavx512f -mfma -DKH=5 -DNR=8 -DNV=2 tools/sblock_probe.c -o /tmp/p && /tmp/p
 * Intel Xeon (family 6, model 167, KVM), one thread, the avx512 path's shape NR=8 NV=2, % of
 * the peak in one run: KH=5 unaligned 73-74, aligned 72, no-loads 92; KH=7 78, 79 and 98. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifndef KH
#define KH 5
#endif
#ifndef NR
#define NR 8
#endif
#ifndef NV
#define NV 2
#endif
#define COLS 512
#define LDX (COLS + 80)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* mode 0: unaligned loads, 1: aligned loads, 2: no loads in the loop. */
#define BAND(NAME, LOAD)                                                                       \
    __attribute__((noinline)) static void NAME(const float *x, const float *wt, float *y)     \
    {                                                                                          \
        for (long j = 0; j + 16 * NV <= COLS; j += 16 * NV) {                                  \
            __m512 acc[NR][NV], xs[NV];                                                        \
            for (int i = 0; i < NR; i++)                                                       \
                for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();                  \
            for (int v = 0; v < NV; v++) xs[v] = _mm512_loadu_ps(x + j + 16 * v);               \
            for (long b = 0; b < KH; b++) {                                                    \
                __m512 wv[KH];                                                                 \
                _Pragma("GCC unroll 16") for (int a = 0; a < KH; a++)                          \
                    wv[a] = _mm512_set1_ps(wt[b * KH + a]);                                    \
                _Pragma("GCC unroll 32") for (int r = 0; r < NR + KH - 1; r++) {               \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                      \
                        __m512 xv = LOAD;                                                      \
                        __asm__("" : "+v"(xv));                                                \
                        _Pragma("GCC unroll 16") for (int ii = 0; ii < NR; ii++)               \
                            if (r - ii >= 0 && r - ii < KH)                                    \
                                acc[ii][v] = _mm512_fmadd_ps(wv[r - ii], xv, acc[ii][v]);      \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
            (void)xs;                                                                          \
            for (int i = 0; i < NR; i++)                                                       \
                for (int v = 0; v < NV; v++) _mm512_storeu_ps(y + i * LDX + j + 16 * v, acc[i][v]); \
        }                                                                                      \
    }
BAND(band_unaligned, _mm512_loadu_ps(x + r * LDX + j + b + 16 * v))
BAND(band_aligned, _mm512_load_ps(x + r * LDX + j + 16 * v))
BAND(band_noloads, xs[v])

__attribute__((noinline)) static float peak(long n)
{
    __m512 a[16], m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
    for (int i = 0; i < 16; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++) {
        _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    }
    float s = 0;
    for (int i = 0; i < 16; i++) s += _mm512_reduce_add_ps(a[i]);
    return s;
}

int main(void)
{
    float *x = aligned_alloc(64, sizeof(float) * LDX * (NR + KH));
    float *y = aligned_alloc(64, sizeof(float) * LDX * NR), wt[KH * KH];
    for (long i = 0; i < LDX * (NR + KH); i++) x[i] = (float)(i % 7) * 0.1f;
    for (int i = 0; i < KH * KH; i++) wt[i] = 0.01f * (float)i;
    void (*fn[3])(const float *, const float *, float *) = {band_unaligned, band_aligned,
                                                             band_noloads};
    const char *name[3] = {"unaligned", "aligned", "no-loads"};
    const double flops = 2.0 * NR * (COLS / (16 * NV) * 16 * NV) * KH * KH;
    const long reps = (long)(2e9 / flops) + 1, pn = 20000000;
    double best[3] = {1e9, 1e9, 1e9}, pbest = 1e9;
    volatile float sink;
    for (int t = 0; t < 9; t++) {  /* alternating rounds: a slow stretch falls on all of them */
        for (int m = 0; m < 3; m++) {
            double t0 = now();
            for (long r = 0; r < reps; r++) fn[m](x, wt, y);
            double d = now() - t0;
            if (d < best[m]) best[m] = d;
        }
        double t0 = now();
        sink = peak(pn);
        double d = now() - t0;
        if (d < pbest) pbest = d;
    }
    (void)sink;
    const double pk = 32.0 * 16 * pn / pbest / 1e9;
    printf("KH=%d NR=%d NV=%d, one thread, FMA peak %.1f GFLOP/s\n", KH, NR, NV, pk);
    for (int m = 0; m < 3; m++) {
        const double g = flops * reps / best[m] / 1e9;
        printf("  %-10s %6.1f GFLOP/s  %3.0f%%\n", name[m], g, 100 * g / pk);
    }
    return 0;
}
