/* hook_signal.c - sigaction and signal, so the program always wins: setting a
 * disposition for a signal we hold makes us step aside; asking for it
 * reports what the program would have seen without us (SIG_DFL). */
#include "hook.h"

#include <errno.h>
#include <string.h>

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    int held = shim_sig_ours(sig);
    int r = shim_real_sigaction(sig, act, old);
    if (r == 0 && held) {
        if (act)
            shim_sig_released(sig);
        if (old) {
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
            sigemptyset(&old->sa_mask);
        }
    }
    return r;
}

sighandler_t signal(int sig, sighandler_t handler)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, signal);
    if (!real) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    int held = shim_sig_ours(sig);
    sighandler_t r = real(sig, handler);
    if (r != SIG_ERR && held) {
        shim_sig_released(sig);
        r = SIG_DFL;
    }
    return r;
}
