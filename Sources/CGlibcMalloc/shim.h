// glibc's malloc controls (mallopt, malloc_trim, mallinfo2), which Swift's Glibc module leaves out.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
