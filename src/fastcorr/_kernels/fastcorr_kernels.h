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
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One output tile of a 'valid' correlation:
 *     y[r*ldy + c] = sum_{a<kh, b<kw} w[a*kw + b] * x[(r+a)*ldx + c + b]
 * for r < rows, c < cols; `flags` is a sum of FC_CORR_* bits.  With FC_CORR_ROTATE the columns
 * are stored reversed: the value goes to y[r*ldy - c] instead, so y addresses column 0, the
 * rightmost of the cols elements each tile row writes.  The tile function reverses only the
 * columns; the caller reverses the rows by pointing y into the output row where tile row 0
 * belongs (the bottom one) and passing a negative ldy.  Together the two store the tile rotated
 * by 180 degrees, which is how the core's `rotate` gives scipy's valid-mode result when in2 is
 * the larger input without a second pass over the output.  With FC_CORR_STREAM the rows are
 * stored non-temporally where the path has such stores and the rows' alignment allows (see
 * fc_corr in corr_tmpl.h): for outputs too large to stay in the last-level cache, which then
 * cost one write to memory instead of a read for ownership and a write.
 * FC_CORR_PREFETCH: the input comes from memory rather than cache (the core sets it with
 * FC_CORR_STREAM), so the small-kernel bands prefetch the rows their next band reads (see
 * FC_SBAND in corr_tmpl.h); it never changes a value, and reads nothing outside the tile.
 * x points at the tile's first input element and is read for rows [0, rows+kh-1) and columns
 * [0, cols+kw-1) only; w is a C-contiguous kh x kw kernel.  Row strides (ldx, ldy) are in
 * elements and may be negative; columns are unit-stride.  scratch must hold fc_scratch_elems(kw)
 * elements of the tile's type (a zero-padded copy of one input row, for rows narrower than one
 * vector, on paths without masked loads).  AVX-512's lane-strided blocks (fc_corr_lanes in
 * corr_tmpl.h, kernels of 13..64 rows and 9..64 columns) allocate their own transposed rows,
 * about (kh + 3) * (4096 + 64 * kw) bytes (90 KiB at 15x15, 570 KiB at 64x64), for the tile's
 * duration; where that fails they leave the tile to the main block. */
enum {
    FC_CORR_ROTATE = 1,
    FC_CORR_STREAM = 2,
    FC_CORR_PREFETCH = 8,
    /* Within the kernels only: the tile goes on below these rows (the staged stores of
     * FC_CORR_STREAM compute a tile band by band), so its last band may prefetch. */
    FC_CORR_BELOW = 16
};
typedef void (*fc_corr_f32_fn)(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t kh,
                               ptrdiff_t kw, float *y, ptrdiff_t ldy, ptrdiff_t rows,
                               ptrdiff_t cols, float *scratch, int flags);
typedef void (*fc_corr_f64_fn)(const double *x, ptrdiff_t ldx, const double *w, ptrdiff_t kh,
                               ptrdiff_t kw, double *y, ptrdiff_t ldy, ptrdiff_t rows,
                               ptrdiff_t cols, double *scratch, int flags);

/* One output tile of a 3-D 'valid' correlation, summed over the kd planes of a kd x kh x kw
 * kernel w (C order):
 *     y[r*ldy + c] = sum_{p<kd, a<kh, b<kw} w[(p*kh + a)*kw + b] * x[p][(r+a)*ldx + c + b]
 * for r < rows, c < cols.  x[p] points at the tile's first input element in input plane p
 * (planes anywhere in memory, the same row stride ldx); each is read as fc_corr_f32_fn reads
 * its x.  Every output is accumulated over all kd planes in registers and stored once.
 * scratch must hold fc_scratch3_elems(kd, kh, kw) elements of the tile's type. */
typedef void (*fc_corr3_f32_fn)(const float *const *x, ptrdiff_t ldx, const float *w,
                                ptrdiff_t kd, ptrdiff_t kh, ptrdiff_t kw, float *y,
                                ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, float *scratch);
typedef void (*fc_corr3_f64_fn)(const double *const *x, ptrdiff_t ldx, const double *w,
                                ptrdiff_t kd, ptrdiff_t kh, ptrdiff_t kw, double *y,
                                ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols, double *scratch);

/* A run of n outputs of a 1-D 'valid' correlation:
 *     y[i] = sum_{t<k} w[t] * x[i + t]    for i < n,
 * reading x[0 .. n + k - 1) only.  scratch must hold fc_scratch_elems(k) elements (a zero-padded
 * copy of the inputs of a run shorter than one vector, on paths without masked loads). */
typedef void (*fc_corr1d_f32_fn)(const float *x, const float *w, ptrdiff_t k, float *y,
                                 ptrdiff_t n, float *scratch);
typedef void (*fc_corr1d_f64_fn)(const double *x, const double *w, ptrdiff_t k, double *y,
                                 ptrdiff_t n, double *scratch);
/* dst[r*ldd + i] = src[r*lds + i] for r < rows, i < n, in 4-byte units (strides too): a bit-exact
 * copy of a run of rows, for either float dtype. */
typedef void (*fc_copy_rows_fn)(float *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds,
                                ptrdiff_t rows, ptrdiff_t n);
/* y = a + b over n elements, stored non-temporally where the path can (fc_sum_nt). */
typedef void (*fc_sum_f32_fn)(const float *a, const float *b, float *y, ptrdiff_t n);
typedef void (*fc_sum_f64_fn)(const double *a, const double *b, double *y, ptrdiff_t n);
/* The column pass with a transposed store (fc_colt): y[j*ldy + i] = sum_{a<k} w[a] *
 * x[(i+a)*ldx + j] for i < rows, j < cols, both at least lanes_f32; NULL on paths whose
 * separable filters run the column block and the 1-D kernel instead (all but AVX-512). */
typedef void (*fc_colt_f32_fn)(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t k,
                               float *y, ptrdiff_t ldy, ptrdiff_t rows, ptrdiff_t cols);

/* The output channels of a convolutional layer (fastcorr.nn) over np input planes whose rows
 * are ldx apart, along the planes' rows as one flat sequence q:
 *     y[o*ldo + q] = sum_{p<np, a<kh, b<kw} w[((ob*np + p)*kh + a)*kw + b][o % OB]
 *                                            * x[p][q + a*ldx + b]
 * for o < no (ob = o / OB, OB the table's conv_channels: w holds ceil(no / OB) blocks of np*kh*kw
 * rows of OB weights, the missing channels of the last block zero or anything finite), q < n.
 * n must be a multiple of the table's lanes; x[p] is read for [0, n + (kh-1)*ldx + kw - 1).
 * Outputs whose window crosses a row end are meaningless; the caller drops them. */
typedef void (*fc_conv_f32_fn)(const float *const *x, ptrdiff_t ldx, ptrdiff_t np,
                               const float *w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t no,
                               float *y, ptrdiff_t ldo, ptrdiff_t n);
typedef void (*fc_conv_f64_fn)(const double *const *x, ptrdiff_t ldx, ptrdiff_t np,
                               const double *w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t no,
                               double *y, ptrdiff_t ldo, ptrdiff_t n);

/* A layer's weight gradient over one plane:
 *     dw[o*ldw + t] += sum_{r<rows, c<cols} dy[o*ldo + r*lddy + c] * x[r*ldx + c + off[t]]
 * for o < no, t < nt (any cols: no product outside these is ever formed). */
typedef void (*fc_wgrad_f32_fn)(const float *x, ptrdiff_t ldx, const ptrdiff_t *off,
                                ptrdiff_t nt, const float *dy, ptrdiff_t ldo, ptrdiff_t lddy,
                                ptrdiff_t no, ptrdiff_t rows, ptrdiff_t cols, float *dw,
                                ptrdiff_t ldw);
typedef void (*fc_wgrad_f64_fn)(const double *x, ptrdiff_t ldx, const ptrdiff_t *off,
                                ptrdiff_t nt, const double *dy, ptrdiff_t ldo, ptrdiff_t lddy,
                                ptrdiff_t no, ptrdiff_t rows, ptrdiff_t cols, double *dw,
                                ptrdiff_t ldw);

/* The weight gradient of one output channel over one plane (a depthwise layer), for a kh x kw
 * kernel:
 *     dw[a*kw + b] += sum_{r<rows, c<cols} dy[r*lddy + c] * x[(r+a)*ldx + c + b]
 * (any cols; no other product is formed).  Returns 0, reading and writing nothing, for a
 * kernel size the path has no block for (fc_wgrad then takes it), else 1; with rows or cols
 * below 1 nothing is read, so a call with null pointers asks whether a size fits. */
typedef int (*fc_wgrad1_f32_fn)(const float *x, ptrdiff_t ldx, ptrdiff_t kh, ptrdiff_t kw,
                                const float *dy, ptrdiff_t lddy, ptrdiff_t rows, ptrdiff_t cols,
                                float *dw);
typedef int (*fc_wgrad1_f64_fn)(const double *x, ptrdiff_t ldx, ptrdiff_t kh, ptrdiff_t kw,
                                const double *dy, ptrdiff_t lddy, ptrdiff_t rows,
                                ptrdiff_t cols, double *dw);

/* Runs `iters` iterations of independent FMA chains in vector registers and returns the number
 * of floating-point operations done (1 FMA = 2 FLOP): timing it measures the FMA port limit. */
typedef double (*fc_probe_fn)(long iters);

/* The tallest kernel any path's small-kernel block serves. */
#define FC_SMALL_KERNEL_ROWS_MAX 12

/* ------------------------------------------------------------------ scipy.ndimage-exact kernels
 * (exact_kernels.c, compiled per path with -ffp-contract=off).  Every output is computed in
 * float64 with scipy.ndimage's operations in its order; lanes are different outputs.  Values
 * are read through fc_exact_load (the input's dtype to double) and written through
 * fc_exact_store (double to the output's dtype by the C cast of scipy's build), one row at a
 * time, so nothing the size of the input is ever converted. */
enum {
    FC_DT_BOOL = 0,
    FC_DT_U8,
    FC_DT_I8,
    FC_DT_U16,
    FC_DT_I16,
    FC_DT_U32,
    FC_DT_I32,
    FC_DT_U64,
    FC_DT_I64,
    FC_DT_F32,
    FC_DT_F64
};
/* A run of an extended row: `length` values from position dst taken from source index src,
 * src + step, ... (step 1: the row's elements in order, -1: mirrored, 0: the fill value). */
typedef struct {
    ptrdiff_t dst, length, src, step;
} fc_run;
typedef struct {
    /* y[c] = ((0.0 + w[0]*src[0][c]) + w[1]*src[1][c]) + ... for c < n (NI_Correlate). */
    void (*taps)(const double *const *src, const double *w, ptrdiff_t ntaps, double *y,
                 ptrdiff_t n);
    /* NI_Correlate1D for c < n, src[t][c] the value under tap t of k; symmetry +1 (symmetric
     * weights), -1 (antisymmetric) or 0, as scipy decides it. */
    void (*line)(const double *const *src, const double *w, ptrdiff_t k, int symmetry,
                 double *y, ptrdiff_t n);
    /* One step of n running sums (NI_UniformFilter1D along an outer axis):
     * tmp += incoming - outgoing (skipped when incoming is NULL), then y = tmp / size. */
    void (*running_step)(double *tmp, const double *incoming, const double *outgoing,
                         double size, double *y, ptrdiff_t n);
    /* NI_UniformFilter1D along `lines` lines in memory: line j's n + size - 1 extended values
     * at x + j*ldx, its n outputs at y + j*ldy. */
    void (*running_lines)(const double *x, ptrdiff_t ldx, ptrdiff_t lines, ptrdiff_t size,
                          double *y, ptrdiff_t ldy, ptrdiff_t n);
    /* The n_runs runs of an extended row as doubles into dst: row's elements (`stride` bytes
     * apart, of FC_DT_* dtype) converted, or fill. */
    void (*load)(int dtype, const char *row, ptrdiff_t stride, const fc_run *runs,
                 ptrdiff_t n_runs, double fill, double *dst);
    /* load into float, for FC_DT_BOOL, U8, I8, U16 and I16 (exact in float) only. */
    void (*load32)(int dtype, const char *row, ptrdiff_t stride, const fc_run *runs,
                   ptrdiff_t n_runs, float fill, float *dst);
    /* For integer outputs, a band of rows x cols (fast and the scratch q row after row,
     * output (r, c) reading the float rows of the image's exact values at src[t] + r * ld + c):
     * q = (int32)fast where no integer lies within `bound` of fast, else, for the vector of
     * outputs around it, (int32) of scipy's double computed again from src by taps
     * (line == 0) or line (line != 0, with symmetry); row r then stored as store32 does, at
     * out + r * ldo bytes, elements stride bytes apart.  Returns the number of outputs
     * computed again (see exact_kernels.c). */
    ptrdiff_t (*certify)(const float *fast, const float *const *src, const double *w,
                         ptrdiff_t ntaps, int line, int symmetry, double bound, int32_t *q,
                         ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, int dtype, char *out,
                         ptrdiff_t ldo, ptrdiff_t stride);
    /* store for int32 values (integer and bool dtypes): scipy's cast of any double in
     * (-2^31, 2^31) whose truncation q[i] is. */
    void (*store32)(int dtype, const int32_t *q, ptrdiff_t n, char *out, ptrdiff_t stride);
    /* out[i * stride bytes] = (dtype)y[i], scipy's cast. */
    void (*store)(int dtype, const double *y, ptrdiff_t n, char *out, ptrdiff_t stride);
    int block; /* outputs per register block of taps and line */
} fc_exact_table;

extern const fc_exact_table fc_exact_scalar;
extern const fc_exact_table fc_exact_baseline;
#if defined(FC_WITH_X86_PATHS)
extern const fc_exact_table fc_exact_avx2;
extern const fc_exact_table fc_exact_avx512;
#endif

typedef struct {
    const char *name;          /* "scalar", "baseline", "avx2", "avx512" */
    const char *description;   /* e.g. "AVX2+FMA, 256-bit" */
    fc_corr_f32_fn corr_f32;
    fc_corr_f64_fn corr_f64;
    fc_corr1d_f32_fn corr1d_f32;
    fc_corr1d_f64_fn corr1d_f64;
    /* corr1d with the outputs written non-temporally (x86 paths; the others store plainly),
     * for outputs larger than the caches; the same values.  These and sum_nt do not fence:
     * their caller calls fc_stream_fence once after its rows, before its threads join. */
    fc_corr1d_f32_fn corr1d_nt_f32;
    fc_corr1d_f64_fn corr1d_nt_f64;
    fc_sum_f32_fn sum_nt_f32;
    fc_sum_f64_fn sum_nt_f64;
    fc_colt_f32_fn colt_f32;
    fc_corr3_f32_fn corr3_f32;
    fc_corr3_f64_fn corr3_f64;
    fc_conv_f32_fn conv_f32;
    fc_conv_f64_fn conv_f64;
    fc_wgrad_f32_fn wgrad_f32;
    fc_wgrad_f64_fn wgrad_f64;
    fc_wgrad1_f32_fn wgrad1_f32;
    fc_wgrad1_f64_fn wgrad1_f64;
    fc_copy_rows_fn copy_rows;
    int conv_channels;         /* output channels of an fc_conv block (its weights' OB) */
    int wgrad_channels;        /* output-gradient channels of an fc_wgrad block */
    int wgrad_taps;            /* taps of an fc_wgrad block */
    int wgrad_masked;          /* fc_wgrad reads row tails by masked loads, not one by one */
    fc_probe_fn fma_probe_f32;
    fc_probe_fn fma_probe_f64;
    int lanes_f32;             /* elements per vector register */
    int lanes_f64;
    int block_rows;            /* output rows a micro-kernel keeps in registers */
    int block_vectors_1d;      /* output vectors the 1-D micro-kernel keeps in registers */
    int small_kernel_rows;     /* kernels of at most this many rows use the small-kernel block */
    /* Output rows of that block for a kernel of kh rows at [kh - 1], and of the bands that take
     * input rows that alias in L1 (fc_small_band_rows): its variant's, or for kernels taller
     * than small_kernel_rows_aliased the main block's; entries past small_kernel_rows are
     * unused. */
    int small_block_rows[FC_SMALL_KERNEL_ROWS_MAX];
    int small_block_rows_aliased[FC_SMALL_KERNEL_ROWS_MAX];
    int small_kernel_rows_aliased;
    const fc_exact_table *exact; /* this path's scipy.ndimage-exact kernels */
} fc_kernel_table;

/* The L1 data cache of the CPU this process runs on, as fc_l1() reads it once: from cpuid's
 * deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001D), else from sysconf where the
 * C library has the _SC_LEVEL1_DCACHE_* names (glibc), else the FC_L1_DEFAULT_* geometry.
 * size_bytes == ways * sets * line_bytes; a fully associative cache is reported as one set of
 * size/line ways, which no band ever crowds. */
enum {
    FC_L1_FROM_DEFAULT = 0,
    FC_L1_FROM_CPUID_4 = 1,         /* Intel */
    FC_L1_FROM_CPUID_8000001D = 2,  /* AMD (topology extensions) */
    FC_L1_FROM_SYSCONF = 3
};
typedef struct {
    int size_bytes, ways, line_bytes, sets;
    int source; /* FC_L1_FROM_* */
} fc_l1_geometry;
const fc_l1_geometry *fc_l1(void);

/* The size of one instance of the last-level data or unified cache (the one this core shares
 * with its neighbours: a Zen core complex's L3, not the socket's), from the same cpuid leaves
 * as fc_l1, else from sysconf's _SC_LEVEL3_CACHE_SIZE (glibc); 0 where neither says. */
long long fc_llc_bytes(void);

/* The geometry assumed where none can be read: the 32 KiB, 8-way L1D with 64-byte lines of x86
 * cores from Haswell and Zen through Skylake-SP and Zen 4. */
#define FC_L1_DEFAULT_SIZE (32 * 1024)
#define FC_L1_DEFAULT_WAYS 8
#define FC_L1_DEFAULT_LINE 64

/* The part of the geometry fc_small_band_rows reads, once per tile.  dispatch.c defines it with
 * the default geometry's values, and fc_l1() (which fc_select, and so fc_active, calls before
 * any path is chosen) sets it from the geometry it reads; a kernel never sees it unset. */
typedef struct {
    int ways;       /* lines one set holds */
    int way_bytes;  /* size / ways = sets * line: addresses this far apart share a set */
    int line_bytes;
} fc_l1_alias_geometry;
extern fc_l1_alias_geometry fc_l1_alias;

/* Input rows whose starts, modulo the way size, lie within this many cache lines of one another
 * crowd the same sets. */
#define FC_ALIAS_NEAR_LINES 2

/* Output rows of a small-kernel band (see fc_sblock in corr_tmpl.h) for a kh-row kernel whose
 * input rows are row_bytes apart: `rows`, or `rows_aliased` when the rows + kh - 1 input rows a
 * band reads would crowd into the same L1 sets.  An L1 of `ways` ways maps addresses one way
 * size apart (4 KiB on x86 since Haswell and Zen: 32 KiB / 8 ways, and 48 KiB / 12 ways on Ice
 * Lake, Sapphire Rapids and Zen 5) to the same set, so in an image whose rows are a multiple of
 * the way size long (a power-of-two width) all of a block's input rows share sets, and past
 * `ways` of them they evict each other within every block: at float32 2048 x 2048, K=5, the 9
 * rows of AVX2's 5-row block ran at 64-67 GFLOP/s on one thread of an 8-way, 32 KiB L1 against
 * 76-81 with rows 64 bytes longer; on Zen 5's 12-way L1 an 8-row band of an 11-row kernel (18
 * rows) ran at 159 GFLOP/s on one thread against 255 with the rows spread.  The ways and the way
 * size are this CPU's (fc_l1_alias).  rows_aliased 0 (the kernel's own tables only) gives the
 * rows to the main block.  The kernel and the core's tile planner both ask this function, so
 * bands and tiles agree. */
static inline ptrdiff_t fc_small_band_rows(ptrdiff_t rows, ptrdiff_t rows_aliased, ptrdiff_t kh,
                                           ptrdiff_t row_bytes)
{
    const ptrdiff_t n = rows + kh - 1, way = fc_l1_alias.way_bytes;
    if (n <= fc_l1_alias.ways) return rows;
    ptrdiff_t gap = (row_bytes < 0 ? -row_bytes : row_bytes) % way;
    if (gap > way / 2) gap = way - gap;
    /* Crowded: the n rows' starts fall within FC_ALIAS_NEAR_LINES lines of one another. */
    return (n - 1) * gap < FC_ALIAS_NEAR_LINES * (ptrdiff_t)fc_l1_alias.line_bytes ? rows_aliased
                                                                                   : rows;
}

/* Of the `rows` output rows a tile runs in small-kernel bands of `nr` rows, how many bands of
 * the variant's `nr_alt` rows (fewer: the block for aliased rows, as fast where rows do not alias)
 * to run after them instead, so that the fewest rows are left over for the main block: 28 rows
 * as 8 + 8 + 6 + 6 instead of 8 + 8 + 8 and four rows of the main block, which on the AVX-512
 * path ran those rows 1.5x slower per row than the small block (a 28x28 input gradient of
 * fastcorr.nn, float64 5x5).  0 where there is no such variant (nr_alt 0 or not smaller). */
static inline ptrdiff_t fc_alt_bands(ptrdiff_t rows, ptrdiff_t nr, ptrdiff_t nr_alt)
{
    ptrdiff_t best = 0, left = rows % nr;
    if (nr_alt <= 0 || nr_alt >= nr) return 0;
    for (ptrdiff_t b = 1; left && b < nr && b * nr_alt <= rows; b++) {
        const ptrdiff_t l = (rows - b * nr_alt) % nr;
        if (l < left) best = b, left = l;
    }
    return best;
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

/* Outputs of at least min(half the last-level cache, this many bytes) have their rows written
 * with non-temporal stores where a pass writes whole rows (the separable passes,
 * fc_corr1d_nt) or whole tiles (FC_CORR_STREAM).  Measured on an Intel Xeon (AVX-512, 2
 * threads), the separable passes at 1..9 taps per axis: 64 MiB outputs (float32 4096 x 4096,
 * float64 2896 x 2896) 1.2-1.45x faster streamed, 32 MiB (float64 2048 x 2048, float32
 * 2896 x 2896) 0.84-1.04x and 1 to 16 MiB 0.64-0.8x: below it the output and its input stay in
 * the last-level cache, where ordinary stores leave the result for whatever reads it next.  At
 * 33 taps, compute-bound, 0.95-1.0x either way.  On AMD Zen 1 (8 MiB L3 per core complex)
 * outputs from 4 MiB up are faster streamed (2 threads: Sobel 1.2-1.45x, a 3x3 correlation
 * 1.15-1.5x, 1024 x 1024 to 4096 x 4096) and 2 MiB slower (a read-scale-write loop, 0.67x), so
 * the cache size read at import (fc_llc_bytes) sets the threshold where it is smaller. */
#define FC_STREAM_MIN_BYTES (48 * 1024 * 1024)

/* The widest vector of any path, in elements (AVX-512 float32).  It sizes the scratch of
 * fc_scratch_elems for every path at once, so the caller need not know which path runs;
 * simd.h refuses to compile a path with wider vectors. */
#define FC_MAX_LANES 16

/* Elements of scratch a tile needs for kernel width kw (or a 1-D run for k taps), valid for
 * every path. */
size_t fc_scratch_elems(ptrdiff_t kw);

/* Elements of scratch a 3-D tile (fc_corr3_*) needs for a kd x kh x kw kernel, on every path:
 * fc_scratch_elems(kw), then the kernel transposed. */
size_t fc_scratch3_elems(ptrdiff_t kd, ptrdiff_t kh, ptrdiff_t kw);

/* Orders this thread's non-temporal stores (corr1d_nt, sum_nt) before whatever follows, the
 * OpenMP barrier that publishes them: an sfence on x86, nothing where no path streams. */
void fc_stream_fence(void);

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
