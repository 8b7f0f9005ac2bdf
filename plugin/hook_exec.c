/* hook_exec.c - interposers for exec and posix_spawn: every child keeps the
 * shim (LD_PRELOAD, TUNETRAIL_* even after `env -i`) and learns its parent
 * (TUNETRAIL_PARENT). Everything is built on the stack: these run in vfork
 * children, where the memory is the parent's. */
#include "shim.h"

#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <unistd.h>

/* `real` = the next definition of `name`, NULL if not (yet) available. */
#define REAL(name, ...)        \
    static void *p_##name;     \
    __typeof__(__VA_ARGS__) real = (__typeof__(__VA_ARGS__))shim_real(&p_##name, #name)

/* Bounds on what we rebuild on the stack; beyond them the child gets the
 * caller's environment unchanged (it still inherits LD_PRELOAD if set). */
#define ENV_SLOTS_MAX 32768
#define ENV_BYTES_MAX (128 * 1024)

extern char **environ;

/* Declares `newenv`, the child's environment for `envp`: ours if it could be
 * built, else envp itself. */
#define CHILD_ENV(envp)                                                             \
    char *const *src_ = (envp);                                                     \
    size_t slots_ = shim_env_slots(src_, shim_cfg.nkeep);                            \
    size_t bytes_ = shim_env_bytes(src_, shim_cfg.self_path);                        \
    int fits_ = shim_cfg.enabled && slots_ <= ENV_SLOTS_MAX && bytes_ <= ENV_BYTES_MAX; \
    char *slotbuf_[fits_ ? slots_ : 1];                                             \
    char strbuf_[fits_ ? bytes_ : 1];                                               \
    char hint_[128];                                                                \
    const char *keep_[SHIM_KEEP_MAX];                                               \
    char *const *newenv = src_;                                                     \
    if (fits_) {                                                                    \
        for (int i_ = 0; i_ < shim_cfg.nkeep; i_++)                                 \
            keep_[i_] = shim_cfg.keep[i_];                                          \
        shim_proc_parent_hint(hint_, sizeof hint_);                                 \
        struct shim_env_ctx ctx_ = {shim_cfg.self_path, hint_, shim_cfg.nkeep, keep_}; \
        if (shim_env_build(src_, &ctx_, slotbuf_, slots_, strbuf_, bytes_) >= 0)    \
            newenv = slotbuf_;                                                      \
    }

/* Around a real exec in this image: the end record goes out first (an exec
 * that succeeds never returns); if it fails we are still the same image. A
 * vfork child touches nothing. */
#define EXEC_AROUND(call)                                  \
    int mine_ = shim_cfg.enabled && !shim_proc_foreign();  \
    if (mine_)                                             \
        shim_proc_before_exec();                           \
    int r_ = (call);                                       \
    if (mine_) {                                           \
        int e_ = errno;                                    \
        shim_proc_exec_failed();                           \
        errno = e_;                                        \
    }                                                      \
    return r_;

typedef int (*execve_t)(const char *, char *const[], char *const[]);
typedef int (*execvpe_t)(const char *, char *const[], char *const[]);

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
    REAL(execve, execve_t);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    CHILD_ENV(envp);
    EXEC_AROUND(real(path, argv, newenv));
}

static int do_execvpe(const char *file, char *const argv[], char *const envp[])
{
    REAL(execvpe, execvpe_t);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    CHILD_ENV(envp);
    EXEC_AROUND(real(file, argv, newenv));
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
    REAL(fexecve, int (*)(int, char *const[], char *const[]));
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    CHILD_ENV(envp);
    EXEC_AROUND(real(fd, argv, newenv));
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    REAL(execveat, int (*)(int, const char *, char *const[], char *const[], int));
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    CHILD_ENV(envp);
    EXEC_AROUND(real(dirfd, path, argv, newenv, flags));
}

/* posix_spawn does not replace us: no end record. The child is told our pid,
 * which it sees as its ppid (relation FORK). */
#define SPAWN_HOOK(name)                                                                   \
    int name(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,           \
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) \
    {                                                                                      \
        REAL(name, int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *,      \
                           const posix_spawnattr_t *, char *const[], char *const[]));      \
        if (!real)                                                                         \
            return ENOSYS;                                                                 \
        CHILD_ENV(envp);                                                                   \
        return real(pid, path, fa, attr, argv, newenv);                                    \
    }
SPAWN_HOOK(posix_spawn)
SPAWN_HOOK(posix_spawnp)
