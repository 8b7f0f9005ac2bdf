/* hook_exit.c - interposers that see how a process ends: main's return
 * value, exit, _exit and _Exit. The end record itself is sent by the on_exit
 * handler (hook_init.c) for exit paths that run handlers, and here for the
 * ones that do not (_exit, _Exit). */
#include "hook.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*main_t)(int, char **, char **);
static main_t real_main;

static int wrapped_main(int argc, char **argv, char **envp)
{
    int r = real_main(argc, argv, envp);
    if (shim_cfg.enabled && !shim_proc_foreign())
        shim_proc_note_exit(r);
    return r;
}

int __libc_start_main(main_t main, int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, __libc_start_main);
    if (!real)
        abort(); /* cannot happen: libc always defines it */
    real_main = main;
    return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

void exit(int code)
{
    static void *next;
    __auto_type real = HOOK_NEXT(&next, exit);
    if (shim_cfg.enabled && !shim_proc_foreign())
        shim_proc_note_exit(code);
    if (real)
        real(code);
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

#define QUICK_EXIT_HOOK(name)                                               \
    void name(int code)                                                     \
    {                                                                       \
        static void *next;                                                  \
        __auto_type real = HOOK_NEXT(&next, name);                          \
        shim_proc_end(PB_END_EXIT, code & 0xff, 0); \
        if (real)                                                           \
            real(code);                                                     \
        syscall(SYS_exit_group, code);                                      \
        __builtin_unreachable();                                            \
    }
QUICK_EXIT_HOOK(_exit)
QUICK_EXIT_HOOK(_Exit)
