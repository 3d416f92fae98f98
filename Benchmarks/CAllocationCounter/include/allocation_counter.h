#ifndef MESH_ALLOCATION_COUNTER_H
#define MESH_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
/// the calling thread since it started. Only in binaries that link this library: it replaces
/// the allocator entry points with counting wrappers around glibc's.
uint64_t mesh_allocations_this_thread(void);

#endif
