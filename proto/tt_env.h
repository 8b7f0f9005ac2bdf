/* tt_env.h - every environment variable tunetrail reads or sets, in one place.
 * The agent sets them for the command; the shim reads them once at load into
 * static storage and puts them back into every exec'd child's environment. */
#ifndef TT_ENV_H
#define TT_ENV_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define TT_ENV_SOCK "TUNETRAIL_SOCK"         /* agent's SOCK_SEQPACKET path; unset = bare run */
#define TT_ENV_SESSION "TUNETRAIL_SESSION"   /* session uuid, 32 hex chars */
#define TT_ENV_STUDY "TUNETRAIL_STUDY"       /* study name */
#define TT_ENV_HOME "TUNETRAIL_HOME"         /* data dir: store, spools, keys */
#define TT_ENV_PARENT "TUNETRAIL_PARENT"     /* "<uuid hex>:<pid>" hint set at exec */
#define TT_ENV_DEBUG "TUNETRAIL_DEBUG"       /* "1": shim logs its own failures to stderr */
#define TT_ENV_COLLECTOR "TUNETRAIL_COLLECTOR"
#define TT_ENV_COLLECTOR_KEY "TUNETRAIL_COLLECTOR_KEY" /* the collector's public key file (--collector-key) */
#define TT_ENV_STORE "TUNETRAIL_STORE"
#define TT_ENV_SHIM "TUNETRAIL_SHIM"         /* override the path of libtunetrail.so */
#define TT_ENV_HOLD_MAX "TUNETRAIL_HOLD_MAX" /* bytes the agent keeps in memory when the spool is full */
/* The Python hook's directory: the user sets "0" (no hook) or a directory;
 * the agent gives the command the absolute directory it put first on
 * PYTHONPATH, and the shim records no file under it (the hook's own files
 * are not the program's inputs). */
#define TT_ENV_PYTHON "TUNETRAIL_PYTHON"
/* `tunetrail run --metric NAME=REGEX` patterns, "NAME=REGEX" entries separated
 * by '\n'; the shim matches them against every line a process prints. */
#define TT_ENV_METRICS "TUNETRAIL_METRICS"
#define TT_ENV_METRICS_MAX 1000             /* bytes of its value (the shim keeps <= 1 KiB) */
#define TT_ENV_METRICS_COUNT_MAX 16        /* patterns */

/* Variables every child must keep, even after `env -i` (with LD_PRELOAD). */
#define TT_ENV_KEEP_LIST(X) \
    X(TT_ENV_SOCK)          \
    X(TT_ENV_SESSION)       \
    X(TT_ENV_STUDY)         \
    X(TT_ENV_HOME)          \
    X(TT_ENV_DEBUG)         \
    X(TT_ENV_METRICS)

/* Variables copied into a ProcessStart: settings that change results, never
 * secrets. Exact names only; no prefixes, so nothing slips in by accident. */
#define TT_ENV_ALLOW_LIST(X)                                                    \
    X("OMP_NUM_THREADS") X("MKL_NUM_THREADS") X("OPENBLAS_NUM_THREADS")         \
    X("OPENBLAS_CORETYPE") X("CUDA_VISIBLE_DEVICES") X("PYTHONHASHSEED")        \
    X("LANG") X("LC_ALL") X("LC_NUMERIC") X("TZ") X("SLURM_JOB_ID")             \
    X("SLURM_ARRAY_JOB_ID") X("SLURM_ARRAY_TASK_ID") X("SLURM_PROCID")          \
    X("TUNETRAIL_STUDY")

/* Why the loader ignores LD_PRELOAD for an executable file with this stat:
 * it runs in secure-execution mode when it changes our ids ("setuid",
 * "setgid"); on a nosuid mount the bits change nothing. NULL: preloadable
 * as far as ids go. One rule for the agent (the command) and the shim
 * (programs it execs). */
static inline const char *tt_env_preload_ignored(const struct stat *st, int nosuid, uid_t euid, gid_t egid)
{
    if (nosuid || !S_ISREG(st->st_mode))
        return NULL;
    if ((st->st_mode & S_ISUID) && st->st_uid != euid)
        return "setuid";
    if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != egid)
        return "setgid"; /* without group exec, the bit means mandatory locking */
    return NULL;
}

#endif
