/* fastcorr kernel layer: the plain C interface.
 *
 * No SIMD types appear here, so this header can be included from baseline code (the Cython
 * module, the dispatcher, a cross-compiled C test) without pulling in any ISA-specific code.
 * Each ISA's kernels live in corr_kernels.c, compiled once per ISA with its own flags and a
 * symbol suffix; fc_active() returns the table the dispatcher chose once at import.
 */
#ifndef FASTCORR_KERNELS_H
#define FASTCORR_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One output tile of a 'valid' correlation:
 *     y[r*ldy + c] = sum_{a<kh, b<kw} w[a*kw + b] * x[(r+a)*ldx + c + b]
 * for r < rows, c < cols.  With rotate != 0 the columns are stored reversed: the value goes to
 * y[r*ldy - c] instead, so y addresses column 0, the rightmost of the cols elements each tile
 * row writes.  The tile function reverses only the columns; the caller reverses the rows by
 * pointing y into the output row where tile row 0 belongs (the bottom one) and passing a
 * negative ldy.  Together the two store the tile rotated by 180 degrees, which is how the core's
 * `rotate` gives scipy's valid-mode result when in2 is the larger input without a second pass
 * over the output.
 * x points at the tile's first input element and is read for rows [0, rows+kh-1) and columns
 * [0, cols+kw-1) only; w is a C-contiguous kh x kw kernel.  Row strides (ldx, ldy) are in
 * elements and may be negative; columns are unit-stride.  scratch must hold fc_scratch_elems(kw)
 * elements of the tile's type; it is the only extra memory a tile uses (a zero-padded copy of one
 * input row, for rows narrower than one vector). */
typedef void (*fc_corr_f32_fn)(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t kh,
                               ptrdiff_t kw, float *y, ptrdiff_t ldy, ptrdiff_t rows,
                               ptrdiff_t cols, float *scratch, int rotate);
typedef void (*fc_corr_f64_fn)(const double *x, ptrdiff_t ldx, const double *w, ptrdiff_t kh,
                               ptrdiff_t kw, double *y, ptrdiff_t ldy, ptrdiff_t rows,
                               ptrdiff_t cols, double *scratch, int rotate);

/* A run of n outputs of a 1-D 'valid' correlation:
 *     y[i] = sum_{t<k} w[t] * x[i + t]    for i < n,
 * reading x[0 .. n + k - 1) only.  scratch must hold fc_scratch_elems(k) elements (a zero-padded
 * copy of the inputs of a run shorter than one vector). */
typedef void (*fc_corr1d_f32_fn)(const float *x, const float *w, ptrdiff_t k, float *y,
                                 ptrdiff_t n, float *scratch);
typedef void (*fc_corr1d_f64_fn)(const double *x, const double *w, ptrdiff_t k, double *y,
                                 ptrdiff_t n, double *scratch);

/* Runs `iters` iterations of independent FMA chains in vector registers and returns the number
 * of floating-point operations done (1 FMA = 2 FLOP): timing it measures the FMA port limit. */
typedef double (*fc_probe_fn)(long iters);

typedef struct {
    const char *name;          /* "scalar", "baseline", "avx2", "avx512" */
    const char *description;   /* e.g. "AVX2+FMA, 256-bit" */
    fc_corr_f32_fn corr_f32;
    fc_corr_f64_fn corr_f64;
    fc_corr1d_f32_fn corr1d_f32;
    fc_corr1d_f64_fn corr1d_f64;
    fc_probe_fn fma_probe_f32;
    fc_probe_fn fma_probe_f64;
    int lanes_f32;             /* elements per vector register */
    int lanes_f64;
    int block_rows;            /* output rows a micro-kernel keeps in registers */
    int block_vectors_1d;      /* output vectors the 1-D micro-kernel keeps in registers */
    int small_kernel_rows;     /* kernels of at most this many rows use the small-kernel block */
    int small_block_rows;      /* output rows of that block */
    int small_block_rows_aliased; /* ... and of its variant for rows that alias in L1 */
} fc_kernel_table;

/* Output rows of a small-kernel band (see fc_sblock in corr_tmpl.h) for a kh-row kernel whose
 * input rows are row_bytes apart: `rows`, or `rows_aliased` when the rows + kh - 1 input rows a
 * band reads would crowd into the same L1 sets.  The L1 caches of the CPUs these paths run on
 * (x86 since Haswell and Zen) map addresses 4 KiB apart to one set of 8 (or 12) ways, so in an
 * image whose rows are a multiple of 4 KiB long (a power-of-two width) all of a block's input
 * rows share one set, and past 8 of them they evict each other within every block: at float32
 * 2048 x 2048, K=5, the 9 rows of the 5-row block ran at 64-67 GFLOP/s on one AVX2 thread
 * against 76-81 with rows 64 bytes longer.  The kernel and the core's tile planner both ask
 * this function, so bands and tiles agree. */
static inline ptrdiff_t fc_small_band_rows(ptrdiff_t rows, ptrdiff_t rows_aliased, ptrdiff_t kh,
                                           ptrdiff_t row_bytes)
{
    enum { WAY_BYTES = 4096, WAYS = 8, LINE = 64 };
    const ptrdiff_t n = rows + kh - 1;
    ptrdiff_t gap = (row_bytes < 0 ? -row_bytes : row_bytes) % WAY_BYTES;
    if (gap > WAY_BYTES / 2) gap = WAY_BYTES - gap;
    /* Crowded: the n rows' starts fall within two cache lines of one another, modulo a way. */
    return n > WAYS && (n - 1) * gap < 2 * LINE ? rows_aliased : rows;
}

/* The L2 budget of one thread's working set, in bytes: the core sizes two things to it.  Tiles
 * are as wide as fits this many bytes of the input rows a band reads (nr + kh - 1 of them; the
 * next band re-reads kh - 1, which must still be in L2 for its loads to stay cheap).  The
 * buffer of extended rows a 'full'/'same' work unit builds holds at most this much, so it stays
 * in cache next to the kernel's reads; that covers whole images up to 128x128 with kernels up
 * to about 128x128 (float32) or 50x50 (float64) in 'same' mode.  256 KiB is half the L2 of a
 * Zen 3 core, where it was measured.  The kernels themselves never read it: it is here so that
 * the core and the Python layer (_core.L2_BUDGET_BYTES) share one value. */
#define FC_L2_BUDGET_BYTES (256 * 1024)

/* The widest vector of any path, in elements (AVX-512 float32).  It sizes the scratch of
 * fc_scratch_elems for every path at once, so the caller need not know which path runs;
 * simd.h refuses to compile a path with wider vectors. */
#define FC_MAX_LANES 16

/* Elements of scratch a tile needs for kernel width kw (or a 1-D run for k taps), valid for
 * every path. */
size_t fc_scratch_elems(ptrdiff_t kw);

/* Paths compiled into this build, in order of preference (best last). */
int fc_n_compiled(void);
const fc_kernel_table *fc_compiled(int i);

/* 1 if this CPU (and OS register state) can run the named path, 0 if not, -1 if unknown. */
int fc_cpu_supports(const char *name);

/* Chooses a path by name, or the best supported one for name == NULL.
 * Returns 0 on success, -1 for an unknown or not-compiled name, -2 if the CPU lacks it. */
int fc_select(const char *name);
const fc_kernel_table *fc_active(void);

/* Each path's table, defined by corr_kernels.c compiled with FC_ISA_<PATH>. */
extern const fc_kernel_table fc_table_scalar;
extern const fc_kernel_table fc_table_baseline;
#if defined(FC_WITH_X86_PATHS)
extern const fc_kernel_table fc_table_avx2;
extern const fc_kernel_table fc_table_avx512;
#endif

#ifdef __cplusplus
}
#endif
#endif
