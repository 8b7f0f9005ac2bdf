/* logfmt.h - tunetraild's log lines while it serves: one event per line on
 * stderr (the journal under systemd), logfmt key=value pairs, always
 * starting with ts= (UTC, ms), level= and event= from a fixed vocabulary
 * (docs/INTERNALS.md, "Log lines"). A value with a space, '=', '"' or a
 * control character is quoted, with \" \\ \n \t and \xHH escapes.
 *
 *   struct logline l;
 *   log_begin(&l, "warn", "limit");
 *   log_kv(&l, "peer", "%s", addr);
 *   log_end(&l);                      -- one write(2) of the whole line
 *
 * A line longer than LOGLINE_MAX is cut at a pair boundary and ends with
 * truncated=1. Start-up errors (bad flags, FILE:LINE) stay plain sentences. */
#ifndef TT_LOGFMT_H
#define TT_LOGFMT_H

#include <stddef.h>

#define LOGLINE_MAX 4096

struct logline {
    char buf[LOGLINE_MAX];
    size_t n;
    int cut;
};

void log_begin(struct logline *l, const char *level, const char *event);
/* Appends key=value, value formatted by fmt and quoted if it needs it. */
void log_kv(struct logline *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_end(struct logline *l);

/* Quotes s as a logfmt value into out (always NUL-terminated); returns the
 * length it needed, as snprintf does. */
size_t logfmt_value(char *out, size_t outlen, const char *s);

#endif
