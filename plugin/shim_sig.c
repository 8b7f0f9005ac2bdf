/* shim_sig.c - fatal signals; see shim.h.
 *
 * RATIONALE: we only take a signal whose disposition is SIG_DFL, i.e. one that
 * would kill the process anyway; the handler records ProcessEnd{SIGNAL},
 * restores SIG_DFL and lets the signal kill the process exactly as it would
 * have (same signal, same core dump). A fault raised by the CPU is simply
 * returned from: the instruction faults again, now with the default action,
 * so the core shows the real fault. The program may take any of these
 * signals over at any time; our sigaction/signal wrappers then step aside and
 * report SIG_DFL as the previous disposition. */
#include "shim.h"

#include <errno.h>
#include <string.h>

#define FATAL(X) X(SIGSEGV) X(SIGBUS) X(SIGFPE) X(SIGILL) X(SIGABRT)

static volatile sig_atomic_t ours[NSIG] SHIM_HOT;

/* libc's own name for sigaction (public since glibc 2.2.5): our installs go
 * straight to libc, without a dlsym at load; the program's calls still go
 * through our sigaction wrapper and the next definition. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static void on_fatal(int sig, siginfo_t *info, void *uctx)
{
    int saved = errno;
    if (ours[sig]) {
        shim_proc_end(PB_END_SIGNAL, 0, sig);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        __sigaction(sig, &dfl, NULL);
        ours[sig] = 0;
    }
    /* Kernel-generated faults re-fault on return; anything sent (kill, raise,
     * abort) is sent again and delivered when the handler returns. */
    if (!(info && info->si_code > 0 && sig != SIGABRT))
        raise(sig);
    errno = saved;
}

void shim_sig_install(void)
{
    static const int sigs[] = {
#define S(x) x,
        FATAL(S)
#undef S
    };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    /* One call per signal: install and get the old action back, instead of
     * asking first (a system call per signal saved). Exec resets handlers,
     * so at load nearly always SIG_DFL is there; the rare other action (an
     * inherited SIG_IGN, a handler set by a library constructor that ran
     * before ours) is put back at once: ours is in place for the time of one
     * system call, before main and usually before any thread exists. */
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        int sig = sigs[i];
        struct sigaction old;
        ours[sig] = 1;
        if (__sigaction(sig, &sa, &old) < 0) {
            ours[sig] = 0;
            continue;
        }
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
            ours[sig] = 0;
            __sigaction(sig, &old, NULL);
        }
    }
}

int shim_sig_ours(int sig)
{
    return sig > 0 && sig < NSIG && ours[sig];
}

void shim_sig_released(int sig)
{
    if (sig > 0 && sig < NSIG)
        ours[sig] = 0;
}
