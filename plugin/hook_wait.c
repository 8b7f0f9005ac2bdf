/* hook_wait.c - interposers for the wait family: a reaped child that a
 * signal ended is reported (shim_outside_child_ended), so the agent records
 * the crash even when the child's own shim could not. The caller's status
 * pointer may be NULL; we then read the status into our own int, which the
 * caller never sees. */
#include "hook.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* After the real call returned pid > 0: it reaped (or, with WNOWAIT, looked
 * at) that child. */
static void reaped(pid_t pid, int ws)
{
    int e = errno;
    shim_outside_child_ended(pid, ws);
    errno = e;
}

pid_t waitpid(pid_t pid, int *status, int options)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, waitpid);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int ws = 0;
    pid_t r = real(pid, status ? status : &ws, options);
    if (r > 0)
        reaped(r, status ? *status : ws);
    return r;
}

pid_t wait(int *status)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, wait);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int ws = 0;
    pid_t r = real(status ? status : &ws);
    if (r > 0)
        reaped(r, status ? *status : ws);
    return r;
}

pid_t wait3(int *status, int options, struct rusage *ru)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, wait3);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int ws = 0;
    pid_t r = real(status ? status : &ws, options, ru);
    if (r > 0)
        reaped(r, status ? *status : ws);
    return r;
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, wait4);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int ws = 0;
    pid_t r = real(pid, status ? status : &ws, options, ru);
    if (r > 0)
        reaped(r, status ? *status : ws);
    return r;
}

int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, waitid);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int r = real(idtype, id, info, options);
    /* a signal death is CLD_KILLED or CLD_DUMPED; si_status is the signal */
    if (r == 0 && info && info->si_pid > 0 && (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED))
        reaped(info->si_pid, (info->si_status & 0x7f) | (info->si_code == CLD_DUMPED ? 0x80 : 0));
    return r;
}
