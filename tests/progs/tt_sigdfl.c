/* tt_sigdfl segv|abort - installs a handler for SIGSEGV and SIGABRT, puts
 * SIG_DFL back (as programs do around their own crash reporting), then dies
 * by a NULL write or by abort(). The shim's handler stepped aside when the
 * program took the signal over, so only the wait status tells the crash. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_sig(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "segv") && strcmp(argv[1], "abort"))) {
        fprintf(stderr, "usage: tt_sigdfl segv|abort\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    fflush(NULL);
    if (!strcmp(argv[1], "abort"))
        abort();
    volatile int *p = NULL;
    *p = 42;
    raise(SIGSEGV); /* not reached unless page 0 is mapped */
    return 0;
}
