// glibc's malloc controls, which Swift's Glibc module leaves out: the arena limit, the trim, and
// what the heap holds (mallinfo2 from glibc 2.33, mallinfo's 32-bit counts before it).
#if __has_include(<malloc.h>)
#include <malloc.h>
#include <stddef.h>

#if defined(__GLIBC__)
static inline size_t vigil_heap_used_bytes(void) {
#if __GLIBC_PREREQ(2, 33)
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    struct mallinfo info = mallinfo();
    return (size_t)(unsigned int)info.uordblks + (size_t)(unsigned int)info.hblkhd;
#endif
}
#endif
#endif
