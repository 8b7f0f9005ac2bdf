/* hook_stdio.c - interposers for what a program writes to stdout/stderr, so
 * that metrics it prints can be recorded (plugin/shim_outscan.c).
 *
 * RATIONALE: glibc's printf, puts, fwrite... reach the file through internal
 * calls that LD_PRELOAD cannot see, so hooking write() alone misses every
 * stdio line; each stdio entry point a C program links is hooked, plus
 * write() for fds 1 and 2 (Python's print, raw writes). glibc's own internal
 * stdio calls are not interposable, so nothing is seen twice.
 *
 * Every hook calls the real function first and returns its result
 * untouched (the bytes written are the program's, never ours). Only when the
 * process is scanned (shim_outscan_on) does it look at the text: printf-family
 * output is formatted again into a stack buffer (va_copy taken before the
 * real call, errno as the real call saw it, for %m). A process that is not
 * scanned pays one predictable branch. */
#undef _FORTIFY_SOURCE /* we define the fortified entry points ourselves */
#include "hook.h"
#include "shim_outscan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Unknown (not decided yet) or active: take the slow path. */
#define SCANNING() __builtin_expect(shim_outscan_on != SHIM_OUTSCAN_OFF, 0)

static int want(void)
{
    return !shim_busy &&
           (shim_outscan_on == SHIM_OUTSCAN_ACTIVE || shim_outscan_decide() == SHIM_OUTSCAN_ACTIVE);
}

static int stream_of(FILE *f)
{
    return f == stdout ? SHIM_OUTSCAN_STDOUT : f == stderr ? SHIM_OUTSCAN_STDERR : -1;
}

/* Formats a copy of what a printf-family call wrote and scans it. */
__attribute__((noinline)) static void capture_fmt(int stream, int call_errno, const char *fmt,
                                                  va_list ap)
{
    char buf[SHIM_OUTSCAN_FMT_MAX];
    int after = errno;
    errno = call_errno;
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    errno = after;
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        shim_outscan_text(stream, buf, (size_t)n, 0);
        return;
    }
    /* Cut: the open line is not matched; a format ending in a line end
     * still ends the line, so the next one is seen whole. */
    shim_outscan_text(stream, buf, sizeof buf - 1, 1);
    size_t fl = strlen(fmt);
    if (fl && (fmt[fl - 1] == '\n' || fmt[fl - 1] == '\r'))
        shim_outscan_text(stream, "\n", 1, 0);
}

/* Body of a printf-family hook: `call` is the real call on `ap`. */
#define FMT_HOOK_BODY(stream_expr, call)                                   \
    int r;                                                                 \
    if (!SCANNING()) {                                                     \
        r = real ? (call) : (errno = ENOSYS, -1);                          \
    } else {                                                               \
        va_list cp;                                                        \
        va_copy(cp, ap);                                                   \
        int e0 = errno;                                                    \
        r = real ? (call) : (errno = ENOSYS, -1);                          \
        int st = (stream_expr);                                            \
        if (r > 0 && st >= 0 && want())                                    \
            capture_fmt(st, e0, fmt, cp);                                  \
        va_end(cp);                                                        \
    }

int vprintf(const char *fmt, va_list ap)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, vprintf);
    FMT_HOOK_BODY(SHIM_OUTSCAN_STDOUT, real(fmt, ap))
    return r;
}

int printf(const char *fmt, ...)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, vprintf);
    va_list ap;
    va_start(ap, fmt);
    FMT_HOOK_BODY(SHIM_OUTSCAN_STDOUT, real(fmt, ap))
    va_end(ap);
    return r;
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, vfprintf);
    FMT_HOOK_BODY(stream_of(f), real(f, fmt, ap))
    return r;
}

int fprintf(FILE *f, const char *fmt, ...)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, vfprintf);
    va_list ap;
    va_start(ap, fmt);
    FMT_HOOK_BODY(stream_of(f), real(f, fmt, ap))
    va_end(ap);
    return r;
}

/* _FORTIFY_SOURCE entry points (what Debian's own binaries call). */
int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, __vprintf_chk);
    FMT_HOOK_BODY(SHIM_OUTSCAN_STDOUT, real(flag, fmt, ap))
    return r;
}

int __printf_chk(int flag, const char *fmt, ...)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, __vprintf_chk);
    va_list ap;
    va_start(ap, fmt);
    FMT_HOOK_BODY(SHIM_OUTSCAN_STDOUT, real(flag, fmt, ap))
    va_end(ap);
    return r;
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, __vfprintf_chk);
    FMT_HOOK_BODY(stream_of(f), real(f, flag, fmt, ap))
    return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, __vfprintf_chk);
    va_list ap;
    va_start(ap, fmt);
    FMT_HOOK_BODY(stream_of(f), real(f, flag, fmt, ap))
    va_end(ap);
    return r;
}

/* ---- unformatted output --------------------------------------------------- */

int puts(const char *s)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, puts);
    int r = real ? real(s) : (errno = ENOSYS, EOF);
    if (SCANNING() && r >= 0 && want()) {
        shim_outscan_text(SHIM_OUTSCAN_STDOUT, s, strlen(s), 0);
        shim_outscan_text(SHIM_OUTSCAN_STDOUT, "\n", 1, 0);
    }
    return r;
}

int fputs(const char *s, FILE *f)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, fputs);
    int r = real ? real(s, f) : (errno = ENOSYS, EOF);
    int st;
    if (SCANNING() && r >= 0 && (st = stream_of(f)) >= 0 && want())
        shim_outscan_text(st, s, strlen(s), 0);
    return r;
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, fwrite);
    size_t r = real ? real(p, size, n, f) : (errno = ENOSYS, 0);
    int st;
    if (SCANNING() && r && size && (st = stream_of(f)) >= 0 && want())
        shim_outscan_text(st, p, r * size, 0);
    return r;
}

/* One character: c as written (the real call returns it as unsigned char). */
static void put_char(int st, int r)
{
    char ch = (char)r;
    shim_outscan_text(st, &ch, 1, 0);
}

int putchar(int c)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, putchar);
    int r = real ? real(c) : (errno = ENOSYS, EOF);
    if (SCANNING() && r != EOF && want())
        put_char(SHIM_OUTSCAN_STDOUT, r);
    return r;
}

#define PUTC_HOOK(name)                                                    \
    int name(int c, FILE *f)                                               \
    {                                                                      \
        static void *next;                                                 \
        __auto_type real = HOOK_NEXT(&next, name);                         \
        int r = real ? real(c, f) : (errno = ENOSYS, EOF);                 \
        int st;                                                            \
        if (SCANNING() && r != EOF && (st = stream_of(f)) >= 0 && want())  \
            put_char(st, r);                                               \
        return r;                                                          \
    }
PUTC_HOOK(fputc)
PUTC_HOOK(putc)

/* Raw writes to fds 1 and 2: Python's print, programs that skip stdio. The
 * shim's own writes run with shim_busy set and are not scanned. */
ssize_t write(int fd, const void *p, size_t n)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, write);
    ssize_t r = real ? real(fd, p, n) : syscall(SYS_write, fd, p, n);
    if (SCANNING() && r > 0 && (fd == 1 || fd == 2) && want())
        shim_outscan_text(fd == 1 ? SHIM_OUTSCAN_STDOUT : SHIM_OUTSCAN_STDERR, p, (size_t)r, 0);
    return r;
}
