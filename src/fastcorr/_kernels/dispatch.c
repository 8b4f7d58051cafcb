/* Chooses the kernel path once, from what this CPU and OS support.  Compiled with baseline flags:
 * nothing here may execute an instruction the CPU might lack.  CPU features are read with cpuid;
 * AVX and AVX-512 additionally need the OS to save their register state (XCR0 via xgetbv), or
 * the first ymm/zmm instruction faults even on a CPU that has the feature. */
#include "fastcorr_kernels.h"

#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h> /* sysconf, and glibc's _SC_LEVEL1_DCACHE_* */
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define FC_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static void fc_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)regs[i];
}
static unsigned long long fc_xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void fc_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
/* Inline asm, not the _xgetbv intrinsic: the intrinsic needs -mxsave for this whole file. */
static unsigned long long fc_xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static int fc_has_avx2_fma(void)
{
    unsigned r[4];
    fc_cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    if (max_leaf < 7) return 0;
    fc_cpuid(1, 0, r);
    const int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
    if (!(osxsave && avx && fma)) return 0;
    if ((fc_xgetbv0() & 0x6) != 0x6) return 0; /* XMM and YMM state enabled by the OS */
    fc_cpuid(7, 0, r);
    return (r[1] >> 5) & 1; /* AVX2 */
}

static int fc_has_avx512f(void)
{
    if (!fc_has_avx2_fma()) return 0; /* the avx512 object is also compiled with -mavx2 -mfma */
    unsigned r[4];
    fc_cpuid(7, 0, r);
    if (!((r[1] >> 16) & 1)) return 0;
    return (fc_xgetbv0() & 0xe6) == 0xe6; /* opmask, ZMM_Hi256 and Hi16_ZMM state too */
}
#endif

/* ---------------------------------------------------------------------- L1 data cache geometry */

fc_l1_alias_geometry fc_l1_alias = {FC_L1_DEFAULT_WAYS, FC_L1_DEFAULT_SIZE / FC_L1_DEFAULT_WAYS,
                                    FC_L1_DEFAULT_LINE};

/* Fills g if the numbers make a cache (a hypervisor may pass on zeros or nonsense); 0 if not. */
static int fc_l1_set(fc_l1_geometry *g, long long ways, long long line, long long sets, int source)
{
    const long long size = ways * line * sets;
    if (ways < 1 || sets < 1 || line < 16 || line > 4096 || (line & (line - 1)) != 0 ||
        size > (64LL << 20))
        return 0;
    g->size_bytes = (int)size;
    g->ways = (int)ways;
    g->line_bytes = (int)line;
    g->sets = (int)sets;
    g->source = source;
    return 1;
}

#if defined(FC_X86)
/* One subleaf of a deterministic cache parameters leaf (Intel's 4 and AMD's 0x8000001D share the
 * layout): type 0 ends the list, 1 is data, 3 unified. */
typedef struct {
    unsigned type, level, fully_associative;
    long long ways, partitions, line, sets;
} fc_cpuid_cache;

static fc_cpuid_cache fc_cpuid_cache_at(unsigned leaf, unsigned sub)
{
    unsigned r[4];
    fc_cpuid(leaf, sub, r);
    fc_cpuid_cache c;
    c.type = r[0] & 0x1f;
    c.level = (r[0] >> 5) & 0x7;
    c.fully_associative = (r[0] >> 9) & 1;
    c.ways = (long long)(r[1] >> 22) + 1;
    c.partitions = (long long)((r[1] >> 12) & 0x3ff) + 1;
    c.line = (long long)(r[1] & 0xfff) + 1;
    c.sets = (long long)r[2] + 1;
    return c;
}

/* The level-1 data cache among the subleaves of such a leaf; 0 if it lists none. */
static int fc_l1_from_cpuid(unsigned leaf, int source, fc_l1_geometry *g)
{
    for (unsigned sub = 0; sub < 64; sub++) {
        const fc_cpuid_cache c = fc_cpuid_cache_at(leaf, sub);
        if (c.type == 0) break; /* no more caches */
        if (c.type != 1 || c.level != 1) continue;
        /* Lines that share a tag (partitions, 1 on every L1 known) count as one longer line for
         * the set index. */
        if (c.fully_associative) /* one set holds every line */
            return fc_l1_set(g, c.ways * c.sets, c.partitions * c.line, 1, source);
        return fc_l1_set(g, c.ways, c.partitions * c.line, c.sets, source);
    }
    return 0;
}
#endif

static void fc_l1_read(fc_l1_geometry *g)
{
#if defined(FC_X86)
    unsigned r[4];
    fc_cpuid(0, 0, r);
    if (r[0] >= 4 && fc_l1_from_cpuid(4, FC_L1_FROM_CPUID_4, g)) return;
    fc_cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x8000001Du) {
        fc_cpuid(0x80000001u, 0, r);
        if (((r[2] >> 22) & 1) &&
            fc_l1_from_cpuid(0x8000001Du, FC_L1_FROM_CPUID_8000001D, g))
            return;
    }
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL1_DCACHE_ASSOC) && \
    defined(_SC_LEVEL1_DCACHE_LINESIZE)
    {
        /* glibc answers 0 (or -1) where it does not know: the default stands in then. */
        const long size = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        const long ways = sysconf(_SC_LEVEL1_DCACHE_ASSOC);
        const long line = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
        if (size > 0 && ways > 0 && line > 0 && size % (ways * line) == 0 &&
            fc_l1_set(g, ways, line, size / (ways * line), FC_L1_FROM_SYSCONF))
            return;
    }
#endif
    fc_l1_set(g, FC_L1_DEFAULT_WAYS, FC_L1_DEFAULT_LINE,
              FC_L1_DEFAULT_SIZE / (FC_L1_DEFAULT_WAYS * FC_L1_DEFAULT_LINE), FC_L1_FROM_DEFAULT);
}

#if defined(FC_X86)
/* The largest level among the data and unified caches such a leaf lists: its size in bytes, 0
 * if it lists none. */
static long long fc_llc_from_cpuid(unsigned leaf)
{
    long long size = 0;
    unsigned best = 0;
    for (unsigned sub = 0; sub < 64; sub++) {
        const fc_cpuid_cache c = fc_cpuid_cache_at(leaf, sub);
        if (c.type == 0) break;
        if ((c.type != 1 && c.type != 3) || c.level <= best) continue;
        best = c.level;
        size = c.ways * c.partitions * c.line * c.sets;
    }
    return size;
}
#endif

static long long fc_llc_read(void)
{
#if defined(FC_X86)
    unsigned r[4];
    long long size = 0;
    fc_cpuid(0, 0, r);
    if (r[0] >= 4) size = fc_llc_from_cpuid(4);
    if (size <= 0) {
        fc_cpuid(0x80000000u, 0, r);
        if (r[0] >= 0x8000001Du) {
            fc_cpuid(0x80000001u, 0, r);
            if ((r[2] >> 22) & 1) size = fc_llc_from_cpuid(0x8000001Du);
        }
    }
    if (size > 0) return size;
#endif
#if defined(_SC_LEVEL3_CACHE_SIZE)
    {
        const long size3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (size3 > 0) return size3;
    }
#endif
    return 0;
}

/* Read once, like fc_l1 (the core asks at import, with the GIL held). */
long long fc_llc_bytes(void)
{
    static long long size = -1;
    if (size < 0) size = fc_llc_read();
    return size;
}

/* Read on the first call, which fc_select makes at import with the GIL held, so no two threads
 * race to fill it. */
const fc_l1_geometry *fc_l1(void)
{
    static fc_l1_geometry geometry;
    static int done = 0;
    if (!done) {
        fc_l1_read(&geometry);
        fc_l1_alias.ways = geometry.ways;
        fc_l1_alias.way_bytes = geometry.size_bytes / geometry.ways;
        fc_l1_alias.line_bytes = geometry.line_bytes;
        done = 1;
    }
    return &geometry;
}

/* Compiled paths in order of preference, best last. */
static const fc_kernel_table *const fc_tables[] = {
    &fc_table_scalar,
    &fc_table_baseline,
#if defined(FC_WITH_X86_PATHS)
    &fc_table_avx2,
    &fc_table_avx512,
#endif
};
#define FC_N_TABLES ((int)(sizeof(fc_tables) / sizeof(fc_tables[0])))

static const fc_kernel_table *fc_current = NULL;

size_t fc_scratch_elems(ptrdiff_t kw)
{
    /* One zero-padded input row for the last partial vector: fc_pad_row writes V_L + kw - 1
     * elements; two widest vectors leave room to spare on every path. */
    return (size_t)kw + 2 * FC_MAX_LANES;
}

size_t fc_scratch3_elems(ptrdiff_t kd, ptrdiff_t kh, ptrdiff_t kw)
{
    return fc_scratch_elems(kw) + (size_t)(kd * kh * kw);
}

int fc_n_compiled(void) { return FC_N_TABLES; }

const fc_kernel_table *fc_compiled(int i)
{
    return (i < 0 || i >= FC_N_TABLES) ? NULL : fc_tables[i];
}

int fc_cpu_supports(const char *name)
{
    if (!strcmp(name, "scalar") || !strcmp(name, "baseline")) return 1;
#if defined(FC_X86)
    if (!strcmp(name, "avx2")) return fc_has_avx2_fma();
    if (!strcmp(name, "avx512")) return fc_has_avx512f();
#endif
    return -1;
}

int fc_select(const char *name)
{
    fc_l1(); /* before any kernel of the chosen path can run: they read fc_l1_alias */
    if (name == NULL) {
        for (int i = FC_N_TABLES - 1; i >= 0; i--) {
            if (fc_cpu_supports(fc_tables[i]->name) == 1) {
                fc_current = fc_tables[i];
                return 0;
            }
        }
        return -1;
    }
    for (int i = 0; i < FC_N_TABLES; i++) {
        if (!strcmp(name, fc_tables[i]->name)) {
            if (fc_cpu_supports(name) != 1) return -2;
            fc_current = fc_tables[i];
            return 0;
        }
    }
    return -1;
}

#if defined(FC_X86)
#include <xmmintrin.h> /* _mm_sfence: SSE, in every x86-64 CPU */
#endif

void fc_stream_fence(void)
{
#if defined(FC_X86)
    _mm_sfence();
#endif
}

const fc_kernel_table *fc_active(void)
{
    if (fc_current == NULL) fc_select(NULL);
    return fc_current;
}
