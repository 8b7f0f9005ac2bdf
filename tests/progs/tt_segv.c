/* tt_segv - dies by SIGSEGV: writes through a NULL pointer.
 * For the "crashed, signal 11" status and `tunetrail run` exiting 139. */
#include <signal.h>
#include <stdio.h>

int main(void)
{
    fflush(stdout);
    volatile int *p = NULL;
    *p = 42;
    raise(SIGSEGV); /* not reached unless page 0 is mapped */
    return 0;
}
