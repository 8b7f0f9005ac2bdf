/* logfmt.c - see logfmt.h. */
#include "logfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t logfmt_value(char *out, size_t outlen, const char *s)
{
    int quote = !*s;
    for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++)
        quote = *p <= ' ' || *p == '=' || *p == '"' || *p == 0x7f;
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < outlen)                                                                        \
            out[n] = (c);                                                                          \
        n++;                                                                                       \
    } while (0)
    if (quote)
        PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!quote) {
            PUT(*p);
        } else if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT(*p);
        } else if (*p == '\n') {
            PUT('\\');
            PUT('n');
        } else if (*p == '\t') {
            PUT('\\');
            PUT('t');
        } else if (*p < ' ' || *p == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hex[*p >> 4]);
            PUT(hex[*p & 15]);
        } else {
            PUT(*p);
        }
    }
    if (quote)
        PUT('"');
#undef PUT
    if (outlen)
        out[n < outlen ? n : outlen - 1] = 0;
    return n;
}

void log_begin(struct logline *l, const char *level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    l->cut = 0;
    l->n = strftime(l->buf, sizeof l->buf, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    l->n += (size_t)snprintf(l->buf + l->n, sizeof l->buf - l->n, ".%03ldZ level=%s event=%s",
                             ts.tv_nsec / 1000000, level, event);
}

void log_kv(struct logline *l, const char *key, const char *fmt, ...)
{
    char val[2048], q[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    size_t qn = logfmt_value(q, sizeof q, val);
    size_t need = 1 + strlen(key) + 1 + qn;
    /* room is kept for " truncated=1\n" */
    if (l->cut || qn >= sizeof q || l->n + need + 14 > sizeof l->buf) {
        l->cut = 1;
        return;
    }
    l->n += (size_t)snprintf(l->buf + l->n, sizeof l->buf - l->n, " %s=%s", key, q);
}

void log_end(struct logline *l)
{
    if (l->cut)
        l->n += (size_t)snprintf(l->buf + l->n, sizeof l->buf - l->n, " truncated=1");
    l->buf[l->n++] = '\n';
    /* One write: lines of concurrent writers (tests run the loop in a
     * thread beside others) never interleave. */
    for (size_t off = 0; off < l->n;) {
        ssize_t w = write(2, l->buf + off, l->n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}
