/* hook_init.c - load, fork and unload of libtunetrail.so. Only in the shared
 * library (unit tests link the logic without these), so test programs never
 * run the shim's constructor on themselves. */
#include "hook.h"
#include "registry.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static int on_exit_ok;

/* Runs after every atexit handler and every destructor (it was registered
 * before any of them), with the status exit() was given, whoever called it:
 * return from main, exit(), or libc itself (error(), abort paths). */
static void at_exit(int status, void *arg)
{
    if (status != 0 && shim_cfg.enabled && !shim_proc.end_sent && !shim_proc_foreign())
        shim_proc_scan_frameworks(); /* a framework dlopen'd since the start */
    shim_proc_end(PB_END_EXIT, status, 0);
}

/* RATIONALE: every module that keeps per-process state resets it here, at
 * the fork, rather than checking its pid at each call: the adapters'
 * resets are registered with their hooks (registry.h), so an adapter built
 * into this library cannot be forgotten. */
static void forked_child(void)
{
    if (!shim_cfg.enabled)
        return;
    shim_proc_forked_child();
    shim_conn_reset_child();
    shim_file_reset_child();
    tt_adapters_fork_child();
}

__attribute__((constructor)) static void shim_load(int argc, char **argv, char **envp)
{
    /* setuid/setgid programs: the loader already refuses untrusted preloads;
     * if we are here anyway we still keep out. */
    if (getauxval(AT_SECURE))
        return;
    shim_busy++;
    char self[PATH_MAX];
    Dl_info di;
    const char *self_path = NULL;
    if (dladdr((void *)shim_load, &di) && di.dli_fname) {
        /* Absolute as given in LD_PRELOAD (the usual case): used as it is. */
        if (di.dli_fname[0] == '/')
            self_path = di.dli_fname;
        else if (realpath(di.dli_fname, self))
            self_path = self;
    }
    shim_config_load(&shim_cfg, envp, self_path);
    pthread_atfork(NULL, NULL, forked_child);
    on_exit_ok = on_exit(at_exit, NULL) == 0;
    shim_proc_init(argc, argv, envp);
    shim_conn_start();
    shim_sig_install();
    shim_busy--;
}

/* Last resort: the wrappers and on_exit normally sent the end already. */
__attribute__((destructor)) static void shim_unload(void)
{
    if (!shim_cfg.enabled || shim_proc.end_sent)
        return;
    if (shim_proc.code_known)
        shim_proc_end(PB_END_EXIT, shim_proc.exit_code, 0);
    else if (!on_exit_ok)
        shim_proc_end(PB_END_UNKNOWN, 0, 0);
}
