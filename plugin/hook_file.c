/* hook_file.c - interposers for opening and closing files. Each calls the
 * real function first and returns its result untouched; recording happens
 * in shim_file.c, which keeps errno. */
#undef _FORTIFY_SOURCE /* we define the fortified entry points ourselves */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

/* open(2) may carry a mode; reading it when absent is harmless on every ABI
 * we support, but only read it when the flags say it is there. */
#define MODE_ARG(flags, last)                                  \
    mode_t mode = 0;                                           \
    if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) { \
        va_list ap;                                            \
        va_start(ap, last);                                    \
        mode = va_arg(ap, mode_t);                             \
        va_end(ap);                                            \
    }

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

#define OPEN_HOOK(name)                                                  \
    int name(const char *path, int flags, ...)                           \
    {                                                                    \
        MODE_ARG(flags, flags)                                           \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        int fd = real ? real(path, flags, mode) : sys_openat(AT_FDCWD, path, flags, mode); \
        shim_file_opened(AT_FDCWD, path, fd, flags);                     \
        return fd;                                                       \
    }
OPEN_HOOK(open)
OPEN_HOOK(open64)

#define OPENAT_HOOK(name)                                                \
    int name(int dirfd, const char *path, int flags, ...)                \
    {                                                                    \
        MODE_ARG(flags, flags)                                           \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        int fd = real ? real(dirfd, path, flags, mode) : sys_openat(dirfd, path, flags, mode); \
        shim_file_opened(dirfd, path, fd, flags);                        \
        return fd;                                                       \
    }
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)

#define CREAT_HOOK(name)                                                 \
    int name(const char *path, mode_t mode)                              \
    {                                                                    \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        int flags = O_CREAT | O_WRONLY | O_TRUNC;                        \
        int fd = real ? real(path, mode) : sys_openat(AT_FDCWD, path, flags, mode); \
        shim_file_opened(AT_FDCWD, path, fd, flags);                     \
        return fd;                                                       \
    }
CREAT_HOOK(creat)
CREAT_HOOK(creat64)

/* _FORTIFY_SOURCE entry points: no mode (they abort on O_CREAT without one). */
#define OPEN2_HOOK(name)                                                 \
    int name(const char *path, int flags)                                \
    {                                                                    \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        int fd = real ? real(path, flags) : sys_openat(AT_FDCWD, path, flags, 0); \
        shim_file_opened(AT_FDCWD, path, fd, flags);                     \
        return fd;                                                       \
    }
OPEN2_HOOK(__open_2)
OPEN2_HOOK(__open64_2)

#define OPENAT2_HOOK(name)                                               \
    int name(int dirfd, const char *path, int flags)                     \
    {                                                                    \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        int fd = real ? real(dirfd, path, flags) : sys_openat(dirfd, path, flags, 0); \
        shim_file_opened(dirfd, path, fd, flags);                        \
        return fd;                                                       \
    }
OPENAT2_HOOK(__openat_2)
OPENAT2_HOOK(__openat64_2)

#define FOPEN_HOOK(name)                                                 \
    FILE *name(const char *path, const char *mode)                       \
    {                                                                    \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        if (!real) {                                                     \
            errno = ENOSYS;                                              \
            return NULL;                                                 \
        }                                                                \
        FILE *f = real(path, mode);                                      \
        if (f && mode)                                                   \
            shim_file_opened(AT_FDCWD, path, fileno(f), shim_file_fopen_flags(mode)); \
        return f;                                                        \
    }
FOPEN_HOOK(fopen)
FOPEN_HOOK(fopen64)

#define FREOPEN_HOOK(name)                                               \
    FILE *name(const char *path, const char *mode, FILE *stream)         \
    {                                                                    \
        static void *next;                                               \
        __auto_type real = HOOK_NEXT(&next, name);                       \
        if (!real) {                                                     \
            errno = ENOSYS;                                              \
            return NULL;                                                 \
        }                                                                \
        struct shim_wfd w;                                               \
        int tracked = shim_file_closing(stream ? fileno(stream) : -1, &w); \
        FILE *f = real(path, mode, stream);                              \
        if (tracked)                                                     \
            shim_file_closed(&w);                                        \
        if (f && path && mode)                                           \
            shim_file_opened(AT_FDCWD, path, fileno(f), shim_file_fopen_flags(mode)); \
        return f;                                                        \
    }
FREOPEN_HOOK(freopen)
FREOPEN_HOOK(freopen64)

int close(int fd)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, close);
    struct shim_wfd w;
    int tracked = shim_file_closing(fd, &w);
    int r = real ? real(fd) : (int)syscall(SYS_close, fd);
    if (tracked)
        shim_file_closed(&w);
    return r;
}

int fclose(FILE *f)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, fclose);
    if (!real) {
        errno = ENOSYS;
        return EOF;
    }
    /* fileno before the real fclose: afterwards f is gone. */
    struct shim_wfd w;
    int tracked = shim_file_closing(f ? fileno(f) : -1, &w);
    int r = real(f);
    if (tracked)
        shim_file_closed(&w);
    return r;
}
