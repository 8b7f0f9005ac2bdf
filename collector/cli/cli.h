/* cli.h - the subcommands of `tunetrail`, one function each.
 *
 * Convention: each cmd_* takes the argv that follows the subcommand name
 * (argv[0] is the subcommand), prints user-facing errors itself to stderr as
 * "tunetrail <cmd>: <what> (<which file/flag>)", and returns the process exit
 * status: 0 ok, 1 runtime failure, 2 usage error. `tunetrail run` returns the
 * wrapped command's status instead (128+signal if it died by a signal). */
#ifndef TT_CLI_H
#define TT_CLI_H

int cmd_run(int argc, char **argv);     /* cli/run.c */
int cmd_flush(int argc, char **argv);   /* cli/flush.c */
int cmd_studies(int argc, char **argv); /* cli/query.c */
int cmd_trials(int argc, char **argv);  /* cli/query.c */
int cmd_show(int argc, char **argv);    /* cli/query.c */
int cmd_processes(int argc, char **argv); /* cli/query.c */
int cmd_log(int argc, char **argv);     /* cli/query.c */
int cmd_audit(int argc, char **argv);   /* cli/audit.c */
int cmd_keygen(int argc, char **argv);  /* cli/keygen.c */
int cmd_attest(int argc, char **argv);  /* cli/attest.c */
int cmd_verify(int argc, char **argv);  /* cli/verify.c */
int cmd_report(int argc, char **argv);  /* cli/report.c */
int cmd_status(int argc, char **argv);  /* cli/status.c */

/* --collector-key FILE (cli/run.c): needs a --collector (the embedded store
 * is this process: nothing to verify) and a readable public key. Prints
 * "<who>: ..." and returns -1 if not; who is e.g. "tunetrail run". */
int cli_check_collector_key(const char *who, const char *collector, const char *key);

#endif
