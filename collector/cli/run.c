/* run.c - `tunetrail run`: options, then agent_run (agent/agent.h). */
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "curve.h"
#include "keys.h"
#include "labini.h"
#include "tt_env.h"
#include "util.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail run [--study NAME] [--collector ENDPOINT [--collector-key FILE]\n"
            "                     [--curve-key FILE]]\n"
            "                     [--store PATH] [--trial PATTERN]... [--metric NAME=REGEX]...\n"
            "                     [--strict]\n"
            "                     -- CMD [ARG]...\n\n"
            "Runs CMD under the tunetrail shim and records every process it starts, the files\n"
            "they read and write, and every trial, then exits with CMD's exit status\n"
            "(128+signal if it died by a signal).\n\n"
            "  --study NAME          study to record into (default: $TUNETRAIL_STUDY, else the\n"
            "                        git repository or directory name)\n"
            "  --collector ENDPOINT  ship to a tunetraild, e.g. tcp://host:5555 (default:\n"
            "                        $TUNETRAIL_COLLECTOR, else tunetrail.ini's [collector]\n"
            "                        endpoint unless --store is given, else the local store)\n"
            "  --collector-key FILE  the collector's public key (tunetraild prints its path at\n"
            "                        start; default $TUNETRAIL_COLLECTOR_KEY, else the [collector]\n"
            "                        key of tunetrail.ini for its endpoint): a batch counts as\n"
            "                        delivered only when an ack names its digest and carries\n"
            "                        this key's signature; anything else stays in the spool.\n"
            "                        Without it, acks are taken on the collector's word and the\n"
            "                        run's last lines say delivery was not verified.\n"
            "                        A CURVE key (the collector's curve.pub, 40 Z85 characters)\n"
            "                        makes the connection CURVE: encrypted, only that collector\n"
            "                        can answer, and it knows this client by its key. A file\n"
            "                        may hold both keys, one per line; then both apply\n"
            "  --curve-key FILE      this client's CURVE secret key (default: tunetrail.ini's\n"
            "                        [collector] curve_key, else $TUNETRAIL_HOME/keys/curve.key:\n"
            "                        `tunetrail keygen --curve`)\n"
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
            "                        liblinear-train and darknet lines are recognised without it.\n"
            "  --strict              exit 75 (instead of CMD's 0) when records had to be dropped:\n"
            "                        the spool full and more than $TUNETRAIL_HOLD_MAX bytes\n"
            "                        (default 64 MiB) waiting in memory. Without it the run\n"
            "                        says how many records it dropped and exits with CMD's status.\n\n"
            "tunetrail.ini: a lab's conventions, used by every run in a directory tree in\n"
            "addition to --metric and --trial. The file in the working directory is used,\n"
            "else the one at the root of the git repository around it (one file, never\n"
            "both). Lines: `[metric]`, then `NAME = REGEX` as --metric takes them; `[trial]`,\n"
            "then `pattern = GLOB` as --trial takes them (repeatable); whole-line comments\n"
            "start with # or ;. A --metric NAME replaces the file's NAME. When no process\n"
            "matched the file's trial patterns (and no --trial was given), the command is\n"
            "its own trial as without them. The session records the file (path, SHA-256,\n"
            "patterns); `tunetrail show` and `tunetrail studies` name it. A line the file\n"
            "cannot hold stops the run before it starts (exit 2, FILE:LINE: what was\n"
            "expected). Example:\n"
            "    [metric]\n"
            "    holdout_acc = ^holdout accuracy ([0-9.]+)\n"
            "    [trial]\n"
            "    pattern = train.py\n\n"
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

/* Checks the --metric NAME=REGEX values and joins them, after those of
 * tunetrail.ini (a --metric NAME replaces the file's NAME), one per line,
 * into "TUNETRAIL_METRICS=..." for the shim. Returns a malloc'd string (NULL
 * and nothing set when there are none), or NULL with err naming the flag
 * and the error (*bad set for a usage error). */
static char *metric_env(char *const *specs, size_t n, const struct labini *ini, int *bad,
                        char *err, size_t errlen)
{
    *bad = 0;
    size_t total = 0, count = n;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(specs[i], '=');
        char why[256];
        if (!eq) {
            tt_fail(err, errlen, "--metric '%s': expected NAME=REGEX (NAME of letters, digits, _.:-)",
                    specs[i]);
            goto bad;
        }
        if (labini_metric_check(specs[i], (size_t)(eq - specs[i]), eq + 1, why, sizeof why) < 0) {
            tt_fail(err, errlen, "--metric '%s': %s", specs[i], why);
            goto bad;
        }
        total += strlen(specs[i]) + 1;
    }
    /* The file's patterns whose NAME no --metric gives. */
    char *use = calloc(ini->nmetrics + 1, 1);
    if (!use) {
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t j = 0; j < ini->nmetrics; j++) {
        size_t nl = strcspn(ini->metrics[j], "=");
        use[j] = 1;
        for (size_t i = 0; i < n; i++)
            if (!strncmp(specs[i], ini->metrics[j], nl + 1))
                use[j] = 0;
        if (use[j]) {
            count++;
            total += strlen(ini->metrics[j]) + 1;
        }
    }
    if (!count) {
        free(use);
        return NULL;
    }
    if (count > TT_ENV_METRICS_COUNT_MAX || total > TT_ENV_METRICS_MAX) {
        tt_fail(err, errlen, "--metric%s%s: at most %d patterns of %d bytes in all",
                ini->nmetrics ? " and " : "", ini->nmetrics ? ini->path : "",
                TT_ENV_METRICS_COUNT_MAX, TT_ENV_METRICS_MAX);
        free(use);
        goto bad;
    }
    char *s = malloc(sizeof TT_ENV_METRICS + 1 + total);
    if (!s) {
        free(use);
        tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    char *p = s + sprintf(s, "%s=", TT_ENV_METRICS);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", k++ ? "\n" : "", specs[i]);
    for (size_t j = 0; j < ini->nmetrics; j++)
        if (use[j])
            p += sprintf(p, "%s%s", k++ ? "\n" : "", ini->metrics[j]);
    free(use);
    return s;
bad:
    *bad = 1;
    return NULL;
}

int cli_check_collector_key(const char *who, const char *collector, const char *key)
{
    if (!key)
        return 0;
    if (!collector) {
        fprintf(stderr, "%s: --collector-key %s needs --collector ENDPOINT (the local store is "
                        "written by this process: there is nothing to verify)\n", who, key);
        return -1;
    }
    struct curve_pin pin;
    char err[TT_ERR_MAX];
    if (curve_load_pin(key, &pin, err, sizeof err) < 0) {
        fprintf(stderr, "%s: --collector-key: %s\n", who, err);
        return -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"study", required_argument, NULL, 's'}, {"collector", required_argument, NULL, 'c'},
        {"collector-key", required_argument, NULL, 'K'}, {"curve-key", required_argument, NULL, 'C'},
        {"store", required_argument, NULL, 'S'}, {"trial", required_argument, NULL, 't'},
        {"metric", required_argument, NULL, 'm'}, {"strict", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct agent_run_opts o = {0};
    struct labini ini = {0};
    char *note = NULL;
    char **patterns = NULL; /* --trial's, then the file's: allocated once the file is read */
    char **metrics = calloc((size_t)argc + 1, sizeof *metrics);
    char **trial_args = calloc((size_t)argc + 1, sizeof *trial_args);
    size_t ntrial_args = 0;
    size_t nmet = 0;
    int c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.study = optarg; break;
        case 'c': o.collector = optarg; break;
        case 'K': o.collector_key = optarg; break;
        case 'C': o.curve_key = optarg; break;
        case 'S': o.store = optarg; break;
        case 't': trial_args[ntrial_args++] = optarg; break;
        case 'm': metrics[nmet++] = optarg; break;
        case 'x': o.strict = 1; break;
        case 'h': run_usage(stdout); rc = 0; goto out;
        default: run_usage(stderr); goto out;
        }
    }
    char merr[1024] = "";
    int bad;
    /* tunetrail.ini: a bad line stops the run before anything starts. */
    if (labini_load(&ini, merr, sizeof merr) < 0) {
        fprintf(stderr, "tunetrail run: %s\n", merr);
        goto out;
    }
    o.metrics_env = metric_env(metrics, nmet, &ini, &bad, merr, sizeof merr);
    if (!o.metrics_env && *merr) {
        fprintf(stderr, "tunetrail run: %s\n", merr);
        rc = bad ? 2 : 1;
        goto out;
    }
    if (!(patterns = calloc(ntrial_args + ini.ntrials + 1, sizeof *patterns))) {
        fprintf(stderr, "tunetrail run: out of memory\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < ntrial_args; i++)
        patterns[o.npatterns++] = trial_args[i];
    for (size_t j = 0; j < ini.ntrials; j++) {
        size_t i = 0;
        while (i < o.npatterns && strcmp(patterns[i], ini.trials[j]))
            i++;
        if (i == o.npatterns) {
            patterns[o.npatterns++] = ini.trials[j];
            o.npatterns_ini++;
        }
    }
    if (ini.path && !(o.conventions = note = labini_note(&ini))) {
        fprintf(stderr, "tunetrail run: out of memory\n");
        rc = 1;
        goto out;
    }
    if (optind >= argc) {
        fprintf(stderr, "tunetrail run: no command given (usage: tunetrail run [OPTIONS] -- CMD [ARG]...)\n");
        goto out;
    }
    if (!o.collector && getenv(TT_ENV_COLLECTOR) && *getenv(TT_ENV_COLLECTOR))
        o.collector = getenv(TT_ENV_COLLECTOR);
    if (!o.collector_key && getenv(TT_ENV_COLLECTOR_KEY) && *getenv(TT_ENV_COLLECTOR_KEY))
        o.collector_key = getenv(TT_ENV_COLLECTOR_KEY);
    if (labini_collector(&ini, o.store != NULL, &o.collector, &o.collector_key, &o.curve_key, merr,
                         sizeof merr) < 0) {
        fprintf(stderr, "tunetrail run: %s\n", merr);
        goto out;
    }
    if (cli_check_collector_key("tunetrail run", o.collector, o.collector_key) < 0)
        { rc = 2; goto out; };
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
    free(trial_args);
    free(metrics);
    free(o.metrics_env);
    free(note);
    labini_free(&ini);
    return rc;
}
