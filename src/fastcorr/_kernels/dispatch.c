/* Chooses the kernel path once, from what this CPU and OS support.  Compiled with baseline flags:
 * nothing here may execute an instruction the CPU might lack.  CPU features are read with cpuid;
 * AVX and AVX-512 additionally need the OS to save their register state (XCR0 via xgetbv), or
 * the first ymm/zmm instruction faults even on a CPU that has the feature. */
#include "fastcorr_kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define FC_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static void fc_cpuid(int leaf, int sub, unsigned r[4])
{
    int regs[4];
    __cpuidex(regs, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)regs[i];
}
static unsigned long long fc_xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void fc_cpuid(int leaf, int sub, unsigned r[4])
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

const fc_kernel_table *fc_active(void)
{
    if (fc_current == NULL) fc_select(NULL);
    return fc_current;
}
