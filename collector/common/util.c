/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/mman.h>

int tt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    int saved = errno;
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = saved;
    return -1;
}

#define BIG_HUGE ((size_t)2 << 20)

/* Sizes of 2 MiB and more are rounded to whole huge pages. */
static size_t big_size(size_t n)
{
    return n >= BIG_HUGE ? (n + BIG_HUGE - 1) & ~(BIG_HUGE - 1) : (n ? n : 1);
}

void *tt_big_alloc(size_t n)
{
    size_t size = big_size(n), align = size >= BIG_HUGE ? BIG_HUGE : 0;
    unsigned char *m = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (align) { /* over-mapped so that the buffer starts on a huge page */
        size_t lead = (align - (uintptr_t)m % align) % align;
        if (lead)
            munmap(m, lead);
        if (align - lead)
            munmap(m + lead + size, align - lead);
        m += lead;
#ifdef MADV_HUGEPAGE
        madvise(m, size, MADV_HUGEPAGE); /* advice only: fine if THP is off */
#endif
    }
    return m;
}

void tt_big_free(void *p, size_t n)
{
    if (p)
        munmap(p, big_size(n));
}
