/* util.h - small helpers shared by the collector-side modules. */
#ifndef TT_UTIL_H
#define TT_UTIL_H

#include <stddef.h>

/* The one error convention of the collector side: a function that can fail
 * takes (char *err, size_t errlen) and fills it with tt_fail; a caller's
 * buffer is char err[TT_ERR_MAX] (two paths and a reason fit). */
#define TT_ERR_MAX 1024

/* Formats a message into err[errlen] (if err is non-NULL) and returns -1, so
 * an error path reads `return tt_fail(err, errlen, "cannot open %s", p);`.
 * Keeps errno as it was. */
int tt_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Large buffers (tens of MB: a record's payload, leaf arenas), mapped (lazily: NORESERVE) with
 * transparent huge pages where the kernel allows (madvise): a 4 KiB page
 * fault costs 6-12 us on the VMs we measure on, 25,000 of them per 100 MB.
 * Buffers of 2 MiB and more start on a huge page and take whole ones.
 * Zero-filled; NULL if out of memory. Free with tt_big_free(p, n). */
void *tt_big_alloc(size_t n);
void tt_big_free(void *p, size_t n);

#endif
