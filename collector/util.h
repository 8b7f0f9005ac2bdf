/* util.h - small helpers shared by the collector-side modules. */
#ifndef TT_UTIL_H
#define TT_UTIL_H

#include <stddef.h>

/* Formats a message into err[errlen] (if err is non-NULL) and returns -1, so
 * an error path reads `return tt_fail(err, errlen, "cannot open %s", p);`.
 * Keeps errno as it was. */
int tt_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
