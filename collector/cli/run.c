/* run.c - `tunetrail run`: options, then agent_run (agent/agent.h). */
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "tt_env.h"
#include "util.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail run [--study NAME] [--collector ENDPOINT] [--store PATH]\n"
            "                     [--trial PATTERN]... [--metric NAME=REGEX]... -- CMD [ARG]...\n\n"
            "Runs CMD under the tunetrail shim and records every process it starts, the files\n"
            "they read and write, and every trial, then exits with CMD's exit status\n"
            "(128+signal if it died by a signal).\n\n"
            "  --study NAME          study to record into (default: $TUNETRAIL_STUDY, else the\n"
            "                        git repository or directory name)\n"
            "  --collector ENDPOINT  ship to a tunetraild, e.g. tcp://host:5555 (default:\n"
            "                        $TUNETRAIL_COLLECTOR, else the local store)\n"
            "  --store PATH          SQLite store for the embedded collector\n"
            "                        (default: $TUNETRAIL_STORE, else $TUNETRAIL_HOME/trail.db)\n"
            "  --trial PATTERN       a process whose program name matches the glob is a trial;\n"
            "                        for an interpreter (python*, Rscript, perl, bash, sh, dash)\n"
            "                        its script's basename matches too (--trial train.py).\n"
            "                        Its argv (-c 8, --lr=0.1, lr=0.1) become params. Interpreter\n"
            "                        helpers (python -c, joblib/loky workers) never match.\n"
            "                        Repeatable. Without it, the command itself is the trial\n"
            "                        unless an adapter recognises trials.\n"
            "  --metric NAME=REGEX   every line any process prints on stdout/stderr that matches\n"
            "                        the (POSIX extended) REGEX records metric NAME: the first\n"
            "                        group, or the whole match, read as a number; each match is\n"
            "                        a step. Repeatable (up to 16). svm-train, svm-predict,\n"
            "                        liblinear-train and darknet lines are recognised without it.\n\n"
            "Example: tunetrail run --study heart --trial svm-train -- svm-grid heart_scale\n\n"
            "Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to tunetrail run are forwarded to\n"
            "CMD's process (not its children: Ctrl-C in a terminal already signals the whole\n"
            "foreground group); tunetrail run keeps recording until CMD exits.\n\n"
            "Processes CMD leaves running when it exits stay `running` in the record; their\n"
            "later records (and their real end) go to spool files under\n"
            "$TUNETRAIL_HOME/spool, which `tunetrail flush` (or the next `tunetrail run`) ships\n"
            "once they have exited. Records that cannot reach the collector are kept there\n"
            "too. A process that vanishes without an end record is recorded as killed.\n\n"
            "The last line on stderr sums the run up: trials by status, trials per adapter,\n"
            "--trial patterns that matched nothing, adapters that could not attach and why.\n");
}

/* Checks the --metric NAME=REGEX values (NAME of [A-Za-z0-9_.:-], REGEX a
 * POSIX extended regex without a newline) and joins them, one per line, into
 * "TUNETRAIL_METRICS=..." for the shim. Returns a malloc'd string (NULL and
 * nothing set when n is 0), or NULL with err naming the flag and the error. */
static char *metric_env(char *const *specs, size_t n, int *bad, char *err, size_t errlen)
{
    *bad = 0;
    if (!n)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(specs[i], '=');
        size_t nl = eq ? (size_t)(eq - specs[i]) : 0;
        if (!eq || !nl || strspn(specs[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789_.:-") != nl) {
            tt_fail(err, errlen, "--metric '%s': expected NAME=REGEX (NAME of letters, digits, _.:-)",
                     specs[i]);
            goto bad;
        }
        if (strchr(eq, '\n')) {
            tt_fail(err, errlen, "--metric '%s': the regex may not contain a newline", specs[i]);
            goto bad;
        }
        regex_t re;
        int rc = regcomp(&re, eq + 1, REG_EXTENDED);
        if (rc) {
            char msg[200];
            regerror(rc, &re, msg, sizeof msg);
            tt_fail(err, errlen, "--metric '%s': bad regex: %s", specs[i], msg);
            goto bad;
        }
        regfree(&re);
        total += strlen(specs[i]) + 1;
    }
    if (n > TT_ENV_METRICS_COUNT_MAX || total > TT_ENV_METRICS_MAX) {
        tt_fail(err, errlen, "--metric: at most %d patterns of %d bytes in all", TT_ENV_METRICS_COUNT_MAX,
                 TT_ENV_METRICS_MAX);
        goto bad;
    }
    char *s = malloc(sizeof TT_ENV_METRICS + 1 + total);
    if (!s) {
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    char *p = s + sprintf(s, "%s=", TT_ENV_METRICS);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "\n" : "", specs[i]);
    return s;
bad:
    *bad = 1;
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"study", required_argument, NULL, 's'}, {"collector", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, 'S'}, {"trial", required_argument, NULL, 't'},
        {"metric", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct agent_run_opts o = {0};
    char **patterns = calloc((size_t)argc + 1, sizeof *patterns);
    char **metrics = calloc((size_t)argc + 1, sizeof *metrics);
    size_t nmet = 0;
    int c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.study = optarg; break;
        case 'c': o.collector = optarg; break;
        case 'S': o.store = optarg; break;
        case 't': patterns[o.npatterns++] = optarg; break;
        case 'm': metrics[nmet++] = optarg; break;
        case 'h': run_usage(stdout); rc = 0; goto out;
        default: run_usage(stderr); goto out;
        }
    }
    char merr[512];
    int bad;
    o.metrics_env = metric_env(metrics, nmet, &bad, merr, sizeof merr);
    if (nmet && !o.metrics_env) {
        fprintf(stderr, "tunetrail run: %s\n", merr);
        rc = bad ? 2 : 1;
        goto out;
    }
    if (optind >= argc) {
        fprintf(stderr, "tunetrail run: no command given (usage: tunetrail run [OPTIONS] -- CMD [ARG]...)\n");
        goto out;
    }
    if (!o.collector && getenv(TT_ENV_COLLECTOR) && *getenv(TT_ENV_COLLECTOR))
        o.collector = getenv(TT_ENV_COLLECTOR);
    o.patterns = patterns;
    o.cmd = argv + optind;
    o.ncmd = (size_t)(argc - optind);
    char *summary = NULL;
    o.summary = &summary;
    rc = agent_run(&o);
    if (summary) /* after the command's own output: the run's last word */
        fprintf(stderr, "%s\n", summary);
    free(summary);
out:
    free(patterns);
    free(metrics);
    free(o.metrics_env);
    return rc;
}
