/* hook_exec.c - interposers for exec and posix_spawn: every child keeps the
 * shim (LD_PRELOAD, and this run's TUNETRAIL_* even after `env -i` or with
 * other values in envp) and learns its parent (TUNETRAIL_PARENT). Everything is built on the stack: these run in vfork
 * children, where the memory is the parent's. */
#include "hook.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <unistd.h>

/* Bounds on what we rebuild on the stack; beyond them the child gets the
 * caller's environment unchanged (it still inherits LD_PRELOAD if set). */
#define ENV_SLOTS_MAX 32768
#define ENV_BYTES_MAX (128 * 1024)

extern char **environ;

/* The child's environment for envp: sized by child_env_size, then built
 * by child_env_build into storage the hook declares on its own stack (a
 * vfork child shares our memory: nothing static, nothing allocated). */
struct child_env {
    int fits;       /* 0: pass envp through unchanged */
    size_t slots;   /* entries of the storage child_env_build needs */
    size_t bytes;   /* bytes of its string buffer */
    char hint[128]; /* TUNETRAIL_PARENT=...: the child's environment points here */
};

static void child_env_size(char *const *envp, struct child_env *ce)
{
    ce->slots = shim_env_slots(envp, shim_cfg.nkeep);
    ce->bytes = shim_env_bytes(envp, shim_cfg.self_path);
    ce->fits = shim_cfg.enabled && ce->slots <= ENV_SLOTS_MAX && ce->bytes <= ENV_BYTES_MAX;
}

/* Returns slotbuf filled with the child's environment, or envp itself if it
 * could not be built. slotbuf / strbuf: ce->slots / ce->bytes if ce->fits. */
static char *const *child_env_build(char *const *envp, struct child_env *ce, char **slotbuf,
                                    char *strbuf)
{
    if (!ce->fits)
        return envp;
    shim_proc_parent_hint(ce->hint, sizeof ce->hint);
    struct shim_env_ctx ctx = {shim_cfg.self_path, ce->hint, shim_cfg.nkeep, shim_cfg.keep};
    if (shim_env_build(envp, &ctx, slotbuf, ce->slots, strbuf, ce->bytes) < 0)
        return envp;
    return slotbuf;
}

/* Around a real exec in this image: the end record goes out first (an exec
 * that succeeds never returns); if it fails we are still the same image. A
 * vfork child touches nothing. exec_begin returns whether exec_failed must
 * be called after a failed exec. A program the shim cannot enter (setuid)
 * is named first, for the run's summary line. */
static int exec_begin(const char *path, int search)
{
    int mine = shim_cfg.enabled && !shim_proc_foreign();
    const char *why = shim_cfg.enabled ? shim_outside_unenterable(path, search) : NULL;
    if (why)
        shim_outside_note_unentered(why, path); /* a vfork child's goes alone */
    if (mine)
        shim_proc_before_exec();
    return mine;
}

static void exec_failed(int mine)
{
    if (!mine)
        return;
    int e = errno;
    shim_proc_exec_failed();
    errno = e;
}

/* One exec call, whichever of the four system-level entry points it is. */
struct exec_call {
    enum { EXEC_PATH, EXEC_FD, EXEC_AT } kind;
    int search; /* execvp family: a name without '/' is looked up in $PATH */
    void *real; /* execve/execvpe, fexecve or execveat; NULL: missing */
    int fd, flags;
    const char *path;
    char *const *argv;
};

/* One body for every exec: the child's environment is built on this
 * frame's stack (vfork-safe: no heap), the real call made with it. */
static int exec_with_env(const struct exec_call *c, char *const envp[])
{
    if (!c->real) {
        errno = ENOSYS;
        return -1;
    }
    struct child_env ce;
    child_env_size(envp, &ce);
    char *slotbuf[ce.fits ? ce.slots : 1];
    char strbuf[ce.fits ? ce.bytes : 1];
    char *const *newenv = child_env_build(envp, &ce, slotbuf, strbuf);
    int mine = exec_begin(c->kind == EXEC_FD ? NULL : c->path, c->search);
    int r;
    switch (c->kind) {
    case EXEC_FD:
        r = ((__typeof__(&fexecve))c->real)(c->fd, c->argv, newenv);
        break;
    case EXEC_AT:
        r = ((__typeof__(&execveat))c->real)(c->fd, c->path, c->argv, newenv, c->flags);
        break;
    default:
        r = ((__typeof__(&execve))c->real)(c->path, c->argv, newenv);
        break;
    }
    exec_failed(mine);
    return r;
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
    static void *next;
    struct exec_call c = {EXEC_PATH, 0, (void *)HOOK_NEXT(&next, execve), -1, 0, path, argv};
    return exec_with_env(&c, envp);
}

static int do_execvpe(const char *file, char *const argv[], char *const envp[])
{
    static void *next;
    struct exec_call c = {EXEC_PATH, 1, (void *)HOOK_NEXT(&next, execvpe), -1, 0, file, argv};
    return exec_with_env(&c, envp);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    return do_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[])
{
    return do_execve(path, argv, environ);
}

int execvp(const char *file, char *const argv[])
{
    return do_execvpe(file, argv, environ);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return do_execvpe(file, argv, envp);
}

/* The list forms: count, then copy the arguments into a stack array. */
#define VA_ARGV(first, argv_name, after)                         \
    va_list ap_;                                                 \
    size_t n_ = 1;                                               \
    va_start(ap_, first);                                        \
    while (va_arg(ap_, char *))                                  \
        n_++;                                                    \
    va_end(ap_);                                                 \
    char *argv_name[n_ + 1];                                     \
    argv_name[0] = (char *)(first);                              \
    va_start(ap_, first);                                        \
    for (size_t i_ = 1; i_ <= n_; i_++)                          \
        argv_name[i_] = va_arg(ap_, char *);                     \
    after;                                                       \
    va_end(ap_);

int execl(const char *path, const char *arg, ...)
{
    VA_ARGV(arg, av, (void)0)
    return do_execve(path, av, environ);
}

int execlp(const char *file, const char *arg, ...)
{
    VA_ARGV(arg, av, (void)0)
    return do_execvpe(file, av, environ);
}

int execle(const char *path, const char *arg, ...)
{
    char *const *envp;
    VA_ARGV(arg, av, envp = va_arg(ap_, char *const *))
    return do_execve(path, av, envp);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    static void *next;
    struct exec_call c = {EXEC_FD, 0, (void *)HOOK_NEXT(&next, fexecve), fd, 0, NULL, argv};
    return exec_with_env(&c, envp);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    static void *next;
    struct exec_call c = {EXEC_AT, 0, (void *)HOOK_NEXT(&next, execveat), dirfd, flags, path, argv};
    return exec_with_env(&c, envp);
}

/* posix_spawn does not replace us: no end record. The child is told our pid,
 * which it sees as its ppid (relation FORK). */
static void spawn_check(const char *path, int search)
{
    if (!shim_cfg.enabled)
        return;
    const char *why = shim_outside_unenterable(path, search);
    if (why)
        shim_outside_note_unentered(why, path);
}

#define SPAWN_HOOK(name, search)                                                           \
    int name(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,           \
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) \
    {                                                                                      \
        static void *next;                                                                 \
        __auto_type real = HOOK_NEXT(&next, name);                                         \
        if (!real)                                                                         \
            return ENOSYS;                                                                 \
        spawn_check(path, search);                                                         \
        struct child_env ce;                                                               \
        child_env_size(envp, &ce);                                                         \
        char *slotbuf[ce.fits ? ce.slots : 1];                                             \
        char strbuf[ce.fits ? ce.bytes : 1];                                               \
        return real(pid, path, fa, attr, argv, child_env_build(envp, &ce, slotbuf, strbuf)); \
    }
SPAWN_HOOK(posix_spawn, 0)
SPAWN_HOOK(posix_spawnp, 1)
