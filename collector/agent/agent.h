/* agent.h - the agent's two entry points: agent_run (`tunetrail run`: a
 * command under the shim, its records shipped to a collector or the embedded
 * store) and agent_flush (`tunetrail flush`: spooled records shipped later).
 * The CLI (cli/run.c, cli/flush.c) parses options into these structs.
 *
 * Error convention: both print user-facing errors themselves to stderr
 * ("tunetrail run: ...", "tunetrail flush: ...") and return a process exit
 * status (cli.h). Every pointer in the opts is borrowed for the call. */
#ifndef TT_AGENT_H
#define TT_AGENT_H

#include <stddef.h>

struct agent_run_opts {
    const char *study;       /* --study, or NULL: $TUNETRAIL_STUDY, else the repo/folder name */
    const char *collector;   /* endpoint, or NULL: the embedded store */
    const char *collector_key; /* --collector-key: the collector's public key file, or NULL */
    const char *curve_key;   /* --curve-key: our CURVE secret key, or NULL: $TUNETRAIL_HOME/keys/curve.key */
    const char *store;       /* --store, or NULL: $TUNETRAIL_STORE, else the home's trail.db */
    char *const *patterns;   /* --trial globs */
    size_t npatterns;
    size_t npatterns_ini;    /* the last of them came from tunetrail.ini, not --trial */
    char *metrics_env;       /* "TUNETRAIL_METRICS=..." for the command, checked; or NULL */
    const char *conventions; /* JSON text of the tunetrail.ini used (cli/labini.h), recorded
                                as the session's Note of level "conventions"; or NULL */
    char *const *cmd;        /* the command and its arguments, NULL-terminated */
    size_t ncmd;             /* >= 1 */
    char **summary;          /* out, or NULL: the run's one-line summary (malloc'd, no newline),
                              * set once the command ran (trials_summary in trials.h) */
    int strict;              /* --strict: records dropped make the exit status AGENT_EXIT_DROPPED
                                (when the command's own is 0) */
};

/* `tunetrail run --strict`'s exit status when records were dropped. */
#define AGENT_EXIT_DROPPED 75

/* Runs o->cmd under the shim, serving its processes' connections until it
 * has exited and the stragglers had their drain time, then ships the last
 * records and waits a while for the collector's acks. Returns the command's
 * exit status (128+signal if it died by a signal; 127/126 if it could not be
 * executed), or 1 if the agent itself could not start; with o->strict,
 * AGENT_EXIT_DROPPED instead of 0 when records were dropped. */
int agent_run(const struct agent_run_opts *o);

struct agent_flush_opts {
    const char *collector;   /* endpoint, or NULL: the embedded store */
    const char *collector_key; /* --collector-key, or NULL */
    const char *curve_key;   /* --curve-key, or NULL */
    const char *store;       /* --store, or NULL: $TUNETRAIL_STORE, else the home's trail.db */
};

/* Ships every spool of a process or agent that is gone under
 * $TUNETRAIL_HOME/spool, deleting each once all its records are acked.
 * Prints a summary on stdout. Returns 0 when nothing undelivered is left
 * (live processes' spools aside), 1 otherwise. */
int agent_flush(const struct agent_flush_opts *o);

#endif
