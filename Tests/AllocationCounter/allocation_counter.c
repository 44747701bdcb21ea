// Counts heap allocations by defining the allocator's entry points in the test executable, which the dynamic
// linker then binds every library's calls to (ELF symbol interposition), and forwarding them to glibc's
// own implementations. Nothing is preloaded and the process's allocator is unchanged.
#define _GNU_SOURCE
#include "allocation_counter.h"
#include <errno.h>
#include <stddef.h>

#if defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static __thread int counting;
static __thread long counted;

static inline void note(void) {
    if (counting) counted += 1;
}

void *malloc(size_t size) {
    note();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    note();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    note();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

void bn_allocation_count_begin(void) {
    counted = 0;
    counting = 1;
}

long bn_allocation_count_end(void) {
    counting = 0;
    return counted;
}

#else
void bn_allocation_count_begin(void) {}
long bn_allocation_count_end(void) { return 0; }
#endif
