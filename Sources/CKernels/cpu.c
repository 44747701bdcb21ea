#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckernels.h"

int bn_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int bn_cpu_has_avx512f(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int bn_cpu_active_cores(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/// The instruction-set level every kernel family runs at; -1 until chosen.
static int selected = -1;

static int supported(int level) {
    switch (level) {
    case BN_CPU_PORTABLE: return 1;
    case BN_CPU_AVX2: return bn_cpu_has_avx2_fma();
    case BN_CPU_AVX512: return bn_cpu_has_avx512f();
    default: return 0;
    }
}

int bn_cpu_select_level(void) {
    int k = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    if (k >= 0) return k;
    k = supported(BN_CPU_AVX512) ? BN_CPU_AVX512 : supported(BN_CPU_AVX2) ? BN_CPU_AVX2 : BN_CPU_PORTABLE;
    // BAYESNET_KERNEL=portable|avx2|avx512 caps the choice, to run everything on a narrower path.
    const char *cap = getenv("BAYESNET_KERNEL");
    if (cap) {
        int want = strcmp(cap, "portable") == 0 ? BN_CPU_PORTABLE
                 : strcmp(cap, "avx2") == 0 ? BN_CPU_AVX2 : BN_CPU_AVX512;
        if (want < k) k = want;
    }
    __atomic_store_n(&selected, k, __ATOMIC_RELAXED);
    return k;
}

int bn_cpu_set_level(int level) {
    if (!supported(level)) return 0;
    __atomic_store_n(&selected, level, __ATOMIC_RELAXED);
    return 1;
}

int bn_cpu_level(void) {
    int k = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    return k >= 0 ? k : bn_cpu_select_level();
}
