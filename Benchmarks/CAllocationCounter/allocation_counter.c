// Counting wrappers around glibc's allocator, for benchmarks that must show how many heap
// allocations a code path makes per packet. Defining malloc and friends in the executable
// interposes them for every library (the Swift runtime allocates through malloc). The count
// is per thread (initial-exec TLS: reading it never allocates), so a benchmark can attribute
// allocations to the threads of the path it measures.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "allocation_counter.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread uint64_t allocations __attribute__((tls_model("initial-exec")));

uint64_t mesh_allocations_this_thread(void) { return allocations; }

void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { allocations++; return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
void *aligned_alloc(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    allocations++;
    void *p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
