/* query.c - `tunetrail studies`, `trials`, `show`, `processes`, `log`:
 * options and printing; the objects come from the store's reader
 * (store/store_read.c). JSON output is one object per line; field names are
 * a public contract, add, never rename. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "paths.h"
#include "store.h"
#include "util.h"

struct qopts {
    int json, help, head;
    const char *store, *study;
};

/* Flags a command takes beyond --json, --store and --help. */
enum { Q_STUDY = 1, Q_HEAD = 2 };

/* Parses the shared flags; `allow` (Q_*) says which of the others this
 * command takes. Returns 0, or 2 after printing usage for a bad flag. */
static int parse(int argc, char **argv, int allow, struct qopts *o, void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},          {"store", required_argument, NULL, 's'},
        {"study", required_argument, NULL, 'S'},   {"help", no_argument, NULL, 'h'},
        {"head", no_argument, NULL, 'H'},          {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 0; /* glibc: full re-initialisation, argv[0] is the subcommand */
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 's': o->store = optarg; break;
        case 'S':
            if (!(allow & Q_STUDY))
                goto bad;
            o->study = optarg;
            break;
        case 'H':
            if (!(allow & Q_HEAD))
                goto bad;
            o->head = 1;
            break;
        case 'h': o->help = 1; usage(stdout); return 0;
        default: goto bad;
        }
    }
    return 0;
bad:
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

/* A read command's store: its path, the store and its reader. */
struct q {
    char *path;
    tt_store *st;
    store_reader *r;
};

static int q_open(struct q *q, const char *cmd, const char *flag)
{
    char err[TT_ERR_MAX];
    memset(q, 0, sizeof *q);
    if (paths_store(flag, &q->path, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail %s: %s\n", cmd, err);
        return -1;
    }
    if (!(q->st = store_open(q->path, STORE_READONLY, err, sizeof err))) {
        fprintf(stderr, "tunetrail %s: cannot open store %s: %s\n", cmd, q->path, err);
        return -1;
    }
    if (!(q->r = store_reader_open(q->st, err, sizeof err))) {
        fprintf(stderr, "tunetrail %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

static void q_close(struct q *q)
{
    store_reader_close(q->r);
    store_close(q->st);
    free(q->path);
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (s)
        puts(s);
    free(s);
}

/* ---- tunetrail studies */
static void studies_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail studies [--json] [--store PATH]\n\n"
               "Lists every study in the store with its trial counts by status, sessions,\n"
               "and first/last activity. A trial of any status counts.\n\n"
               "  --json        one JSON object per line: study, trials, ok, failed, crashed,\n"
               "                killed, running, sessions, first, last\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

int cmd_studies(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, 0, &o, studies_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail studies: unexpected argument '%s'\n\n", argv[optind]);
        studies_usage(stderr);
        return 2;
    }
    struct q q;
    if (q_open(&q, "studies", o.store) < 0) {
        q_close(&q);
        return 1;
    }
    char err[TT_ERR_MAX];
    json_t *all = store_read_studies(q.r, err, sizeof err);
    if (!all) {
        fprintf(stderr, "tunetrail studies: %s\n", err);
        q_close(&q);
        return 1;
    }
    if (!o.json)
        printf("%-24s %7s %6s %6s %7s %6s %7s %8s  %-24s\n", "STUDY", "TRIALS", "OK", "FAILED",
               "CRASHED", "KILLED", "RUNNING", "SESSIONS", "LAST");
    size_t i;
    json_t *j;
    json_array_foreach(all, i, j) {
        if (o.json)
            print_json_line(j);
        else
            printf("%-24s %7lld %6lld %6lld %7lld %6lld %7lld %8lld  %-24s\n", jstr(j, "study"),
                   jint(j, "trials"), jint(j, "ok"), jint(j, "failed"), jint(j, "crashed"),
                   jint(j, "killed"), jint(j, "running"), jint(j, "sessions"), jstr(j, "last"));
    }
    json_decref(all);
    q_close(&q);
    return 0;
}

/* ---- tunetrail trials */
static void trials_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail trials [--study NAME] [--json] [--store PATH]\n\n"
               "Lists the trials of a study (every status: ok, failed, crashed, killed,\n"
               "running), oldest first. `tunetrail show ID` gives everything about one.\n\n"
               "  --study NAME  only this study (default $TUNETRAIL_STUDY, else all studies)\n"
               "  --json        one JSON object per line: id, uuid, study, status, exe, argv,\n"
               "                params, metrics, inputs, outputs, started, ended, exit_code,\n"
               "                signal, process, session, framework, evaluations\n"
               "                (test metrics of later runs that read this trial's model;\n"
               "                `trial` is the evaluation's own trial id)\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

/* "k=v k=v" of a trial's params, cut to fit a table column. */
static void params_line(json_t *params, char *out, size_t outlen)
{
    const char *k;
    json_t *v;
    size_t len = 0;
    out[0] = 0;
    json_object_foreach(params, k, v)
    {
        int n = snprintf(out + len, outlen - len, "%s%s=%s", len ? " " : "", k,
                         json_string_value(v) ? json_string_value(v) : "");
        if (n < 0 || (size_t)n >= outlen - len) {
            if (outlen > 4)
                strcpy(out + outlen - 4, "...");
            return;
        }
        len += (size_t)n;
    }
}

struct trials_out {
    int json;
    json_t *rows; /* the table's rows, when not --json */
};

/* store_read_trials' callback: --json prints each trial as it comes. */
static void trial_out(json_t *t, void *arg)
{
    struct trials_out *out = arg;
    if (out->json)
        print_json_line(t);
    else
        json_array_append(out->rows, t);
}

int cmd_trials(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, Q_STUDY, &o, trials_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail trials: unexpected argument '%s'\n\n", argv[optind]);
        trials_usage(stderr);
        return 2;
    }
    const char *study = o.study ? o.study : getenv("TUNETRAIL_STUDY");
    if (study && !*study)
        study = NULL;
    struct q q;
    struct trials_out out = {.json = o.json, .rows = json_array()};
    json_t *rows = out.rows;
    char err[TT_ERR_MAX];
    rc = 1;
    if (q_open(&q, "trials", o.store) < 0)
        goto out;
    if (study && !store_read_study_exists(q.r, study)) {
        char *names = store_read_study_names(q.r);
        fprintf(stderr, "tunetrail trials: no study '%s' in %s; studies: %s\n", study, q.path,
                names ? names : "?");
        free(names);
        goto out;
    }
    if (store_read_trials(q.r, study, 0, trial_out, &out, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail trials: %s\n", err);
        goto out;
    }
    if (!o.json) {
        /* Aligned columns: widths from the data, exe shown by its basename. */
        int wid = 2, wst = 6, wexe = 3;
        size_t i;
        json_t *t;
        json_array_foreach(rows, i, t)
        {
            char idb[24];
            const char *exe = strrchr(jstr(t, "exe"), '/');
            exe = exe ? exe + 1 : jstr(t, "exe");
            int n = snprintf(idb, sizeof idb, "%lld",
                             (long long)json_integer_value(json_object_get(t, "id")));
            wid = n > wid ? n : wid;
            wst = (int)strlen(jstr(t, "status")) > wst ? (int)strlen(jstr(t, "status")) : wst;
            wexe = (int)strlen(exe) > wexe ? (int)strlen(exe) : wexe;
        }
        wexe = wexe > 24 ? 24 : wexe;
        printf("%*s  %-*s  %-*s  %-24s  %s\n", wid, "ID", wst, "STATUS", wexe, "EXE", "STARTED",
               "PARAMS");
        json_array_foreach(rows, i, t)
        {
            char pl[96];
            const char *exe = strrchr(jstr(t, "exe"), '/');
            exe = exe ? exe + 1 : jstr(t, "exe");
            params_line(json_object_get(t, "params"), pl, sizeof pl);
            printf("%*lld  %-*s  %-*.*s  %-24s  %s\n", wid,
                   (long long)json_integer_value(json_object_get(t, "id")), wst,
                   jstr(t, "status"), wexe, wexe, *exe ? exe : "?",
                   *jstr(t, "started") ? jstr(t, "started") : "-", pl);
        }
        if (!json_array_size(rows))
            fprintf(stderr, "tunetrail trials: no trials%s%s in %s\n", study ? " in study " : "",
                    study ? study : "", q.path);
    }
    rc = 0;
out:
    json_decref(rows);
    q_close(&q);
    return rc;
}

/* ---- tunetrail show */
static void show_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail show TRIAL [--json] [--files all] [--store PATH]\n\n"
               "Everything about one trial: params with their sources, metrics, input and\n"
               "output files with SHA-256, its process and the chain of parents, timings, CPU,\n"
               "max RSS, git commit. TRIAL is the id from `tunetrail trials`, or the trial\n"
               "uuid in hex (a unique prefix is enough). The files of the environment (the\n"
               "system's and the interpreter's code it read) are summarised: their digest,\n"
               "count and packages.\n\n"
               "  --json        one JSON object: the `trials --json` fields plus param_sources,\n"
               "                metric_points, param_points (every value each param took, in\n"
               "                order), processes (nearest first), opened_by, error,\n"
               "                evaluation_of (the trial an evaluation evaluates, else null)\n"
               "  --files all   also list every file of the environment\n"
               "                (--json: environment_files)\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

/* Prints one argument so it can be pasted back into a shell: as is when it
 * holds only safe characters, else in single quotes ('\'' for a quote). An
 * argv such as `sh -c "svm-train -c 8 data"` then reads as what ran. */
static void print_shell_word(const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "@%+=:,./_-") == strlen(s)) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    putchar('\'');
}

static void print_argv(json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a) {
        if (i)
            putchar(' ');
        const char *s = json_string_value(a);
        print_shell_word(s ? s : "");
    }
}

static void print_files(const char *title, json_t *files)
{
    size_t i;
    json_t *f;
    printf("%s (%zu):\n", title, json_array_size(files));
    json_array_foreach(files, i, f)
    {
        json_t *size = json_object_get(f, "size");
        printf("  %-64s  %s", *jstr(f, "sha256") ? jstr(f, "sha256") : "(not hashed)",
               jstr(f, "path"));
        if (json_is_integer(size))
            printf("  (%lld bytes)", (long long)json_integer_value(size));
        putchar('\n');
    }
}

static void show_human(json_t *t)
{
    const char *k;
    json_t *v;
    size_t i;
    printf("trial %lld  %s\n", (long long)json_integer_value(json_object_get(t, "id")),
           jstr(t, "uuid"));
    if (json_is_integer(json_object_get(t, "evaluation_of")))
        printf("  evaluation of trial %lld: its metrics are that trial's test metrics\n",
               (long long)json_integer_value(json_object_get(t, "evaluation_of")));
    printf("  study:      %s\n", *jstr(t, "study") ? jstr(t, "study") : "(unknown)");
    printf("  status:     %s", jstr(t, "status"));
    if (json_is_integer(json_object_get(t, "exit_code")))
        printf(" (exit %lld)", (long long)json_integer_value(json_object_get(t, "exit_code")));
    if (json_is_integer(json_object_get(t, "signal")))
        printf(" (signal %lld)", (long long)json_integer_value(json_object_get(t, "signal")));
    if (*jstr(t, "error"))
        printf(" - %s", jstr(t, "error"));
    printf("\n  framework:  %s (opened by %s)\n", *jstr(t, "framework") ? jstr(t, "framework") : "?",
           *jstr(t, "opened_by") ? jstr(t, "opened_by") : "?");
    printf("  started:    %s\n  ended:      %s\n",
           *jstr(t, "started") ? jstr(t, "started") : "-", *jstr(t, "ended") ? jstr(t, "ended") : "-");
    printf("  session:    %s\n", *jstr(t, "session") ? jstr(t, "session") : "(bare run)");
    printf("  exe:        %s\n  argv:       ", jstr(t, "exe"));
    print_argv(json_object_get(t, "argv"));
    printf("\nparams (%zu):\n", json_object_size(json_object_get(t, "params")));
    json_t *src = json_object_get(t, "param_sources");
    json_object_foreach(json_object_get(t, "params"), k, v)
        printf("  %-20s = %-20s  [%s]\n", k, json_string_value(v) ? json_string_value(v) : "",
               jstr(src, k));
    /* Last value of each metric (points are ordered by step), with how many
     * points led there; `show --json` has every point. */
    json_t *pts = json_object_get(t, "metric_points"), *last = json_object();
    json_array_foreach(pts, i, v)
    {
        json_t *prev = json_object_get(last, jstr(v, "name"));
        json_int_t n = prev ? json_integer_value(json_object_get(prev, "n")) : 0;
        json_t *cur = json_deep_copy(v);
        json_object_set_new(cur, "n", json_integer(n + 1));
        json_object_set_new(last, jstr(v, "name"), cur);
    }
    printf("metrics (%zu, last value of each):\n", json_object_size(last));
    json_object_foreach(last, k, v)
    {
        printf("  %-20s = %-12g", k, json_real_value(json_object_get(v, "value")));
        json_int_t step = json_integer_value(json_object_get(v, "step"));
        if (step >= 0)
            printf("  step %lld", (long long)step);
        if (*jstr(v, "split"))
            printf("  split %s", jstr(v, "split"));
        if (*jstr(v, "direction"))
            printf("  (%s)", jstr(v, "direction"));
        printf("  [%lld points]\n", (long long)json_integer_value(json_object_get(v, "n")));
    }
    json_decref(last);
    print_files("inputs", json_object_get(t, "inputs"));
    json_t *env = json_object_get(t, "environment");
    if (env) {
        printf("environment: %lld files, digest %s\n",
               (long long)json_integer_value(json_object_get(env, "files")), jstr(env, "digest"));
        json_t *kind, *ver;
        const char *kn, *pn;
        json_object_foreach(json_object_get(env, "packages"), kn, kind)
        {
            printf("  %s:", kn);
            json_object_foreach(kind, pn, ver)
                printf(" %s=%s", pn, json_string_value(ver) ? json_string_value(ver) : "");
            putchar('\n');
        }
        if (json_object_get(t, "environment_files"))
            print_files("environment files", json_object_get(t, "environment_files"));
        else
            printf("  (`--files all` lists them)\n");
    }
    print_files("outputs", json_object_get(t, "outputs"));
    json_t *evs = json_object_get(t, "evaluations");
    printf("evaluations (%zu):\n", json_array_size(evs));
    json_array_foreach(evs, i, v)
    {
        printf("  %-20s = %-12g  split %s  process %s\n", jstr(v, "metric"),
               json_real_value(json_object_get(v, "value")), jstr(v, "split"), jstr(v, "process"));
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(v, "data"), j, d)
            printf("    data %s  %s\n", jstr(d, "sha256"), jstr(d, "path"));
    }
    json_t *chain = json_object_get(t, "processes");
    printf("process and parents (%zu):\n", json_array_size(chain));
    json_array_foreach(chain, i, v)
    {
        printf("  %*s[%s] pid %lld  %s  %s\n", (int)i * 2, "", jstr(v, "relation"),
               (long long)json_integer_value(json_object_get(v, "pid")), jstr(v, "status"),
               jstr(v, "exe"));
        printf("  %*s  argv: ", (int)i * 2, "");
        print_argv(json_object_get(v, "argv"));
        double cpu = (double)(json_integer_value(json_object_get(v, "utime_us")) +
                              json_integer_value(json_object_get(v, "stime_us"))) / 1e6;
        printf("\n  %*s  uuid %s  cwd %s  host %s  user %s\n", (int)i * 2, "", jstr(v, "uuid"),
               jstr(v, "cwd"), jstr(v, "host"), jstr(v, "user"));
        printf("  %*s  started %s  ended %s  cpu %.3f s  max rss %lld KiB\n", (int)i * 2, "",
               *jstr(v, "started") ? jstr(v, "started") : "-",
               *jstr(v, "ended") ? jstr(v, "ended") : "-", cpu,
               (long long)json_integer_value(json_object_get(v, "maxrss_kb")));
        if (*jstr(v, "git_commit"))
            printf("  %*s  git %s%s\n", (int)i * 2, "", jstr(v, "git_commit"),
                   json_is_true(json_object_get(v, "git_dirty")) ? " (dirty)" : "");
    }
}

int cmd_show(int argc, char **argv)
{
    struct qopts o;
    /* --files WHICH is show's own: taken out before the shared flags */
    int all = 0, n = 0;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (i > 0 && !strcmp(argv[i], "--files")) {
            v = i + 1 < argc ? argv[++i] : "";
        } else if (i > 0 && !strncmp(argv[i], "--files=", 8)) {
            v = argv[i] + 8;
        } else {
            argv[n++] = argv[i];
            continue;
        }
        if (strcmp(v, "all") && strcmp(v, "inputs")) {
            fprintf(stderr, "tunetrail show: --files takes 'all' or 'inputs', not '%s'\n\n", v);
            show_usage(stderr);
            return 2;
        }
        all = !strcmp(v, "all");
    }
    argc = n;
    int rc = parse(argc, argv, 0, &o, show_usage);
    if (rc || o.help)
        return rc;
    if (optind != argc - 1) {
        fprintf(stderr, "tunetrail show: %s\n\n",
                optind >= argc ? "which trial? give its id or uuid" : "one trial at a time");
        show_usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    struct q q;
    char err[TT_ERR_MAX];
    rc = 1;
    if (q_open(&q, "show", o.store) < 0)
        goto out;
    int64_t id = store_read_resolve_trial(q.r, arg);
    if (id == 0) {
        fprintf(stderr, "tunetrail show: no trial '%s' in %s (see `tunetrail trials`)\n", arg,
                q.path);
        goto out;
    }
    if (id < 0) {
        fprintf(stderr, "tunetrail show: '%s' matches several trials in %s; give more of the uuid\n",
                arg, q.path);
        goto out;
    }
    json_t *t = store_read_trial(q.r, id, all ? 1 | STORE_READ_ENV_FILES : 1, err, sizeof err);
    if (!t) {
        fprintf(stderr, "tunetrail show: %s\n", err);
        goto out;
    }
    if (o.json)
        print_json_line(t);
    else
        show_human(t);
    json_decref(t);
    rc = 0;
out:
    q_close(&q);
    return rc;
}

/* ---- tunetrail processes / tunetrail log: the --study both take. */
static const char *study_arg(struct qopts *o)
{
    const char *study = o->study ? o->study : getenv("TUNETRAIL_STUDY");
    return study && *study ? study : NULL;
}

/* Checks that study (if any) exists; prints the "no study" error if not. */
static int study_known(struct q *q, const char *cmd, const char *study)
{
    if (!study || store_read_study_exists(q->r, study))
        return 1;
    char *names = store_read_study_names(q->r);
    fprintf(stderr, "tunetrail %s: no study '%s' in %s; studies: %s\n", cmd, study, q->path,
            names ? names : "?");
    free(names);
    return 0;
}

static void processes_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail processes [--study NAME] [--json] [--store PATH]\n\n"
               "Lists every process image recorded (each exec is one), by start time, with\n"
               "its status; `tunetrail show` gives a trial's own chain of parents.\n\n"
               "  --study NAME  only this study (default $TUNETRAIL_STUDY, else all\n"
               "                processes, with a study or not)\n"
               "  --json        one JSON object per line, as `show --json` prints a\n"
               "                process: uuid, parent, relation, pid, ppid, exe, argv, cwd,\n"
               "                host, user, uid, git_commit, git_dirty, started, ended,\n"
               "                status, exit_code, signal, utime_us, stime_us, maxrss_kb,\n"
               "                study, session\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

static void process_out(json_t *p, void *arg)
{
    if (*(int *)arg) {
        print_json_line(p);
        return;
    }
    const char *exe = strrchr(jstr(p, "exe"), '/');
    printf("%-32s  %-6s  %-7s  %8lld  %-24s  %s\n", jstr(p, "uuid"), jstr(p, "relation"),
           jstr(p, "status"), jint(p, "pid"), *jstr(p, "started") ? jstr(p, "started") : "-",
           exe ? exe + 1 : jstr(p, "exe"));
}

int cmd_processes(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, Q_STUDY, &o, processes_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail processes: unexpected argument '%s'\n\n", argv[optind]);
        processes_usage(stderr);
        return 2;
    }
    const char *study = study_arg(&o);
    struct q q;
    char err[TT_ERR_MAX];
    rc = 1;
    if (q_open(&q, "processes", o.store) < 0 || !study_known(&q, "processes", study))
        goto out;
    if (!o.json)
        printf("%-32s  %-6s  %-7s  %8s  %-24s  %s\n", "UUID", "REL", "STATUS", "PID", "STARTED",
               "EXE");
    if (store_read_processes(q.r, study, process_out, &o.json, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail processes: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    q_close(&q);
    return rc;
}

static void log_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail log [--study NAME] [--head] [--json] [--store PATH]\n\n"
               "Prints the study log: every leaf (one per final trial, and one per revision)\n"
               "with its index and hash, or with --head each study's log size and latest\n"
               "signed checkpoint. docs/RECORD.md describes the log.\n\n"
               "  --study NAME  only this study (default $TUNETRAIL_STUDY, else all studies)\n"
               "  --head        the heads instead of the leaves\n"
               "  --json        one JSON object per line; a leaf: study, index, leaf (its\n"
               "                text, exactly as hashed), hash (SHA-256 of 0x00 || leaf, hex),\n"
               "                trial, time; a head: study, size, checkpoint (tree_size,\n"
               "                root, key, sig, time; null if none was signed)\n"
               "  --store PATH  SQLite store (default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db)\n");
}

static void leaf_out(json_t *l, void *arg)
{
    if (*(int *)arg)
        print_json_line(l);
    else
        printf("%-16s %6lld  %s  %s\n", jstr(l, "study"), jint(l, "index"), jstr(l, "hash"),
               jstr(l, "leaf"));
}

int cmd_log(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, Q_STUDY | Q_HEAD, &o, log_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail log: unexpected argument '%s'\n\n", argv[optind]);
        log_usage(stderr);
        return 2;
    }
    const char *study = study_arg(&o);
    struct q q;
    char err[TT_ERR_MAX];
    rc = 1;
    if (q_open(&q, "log", o.store) < 0 || !study_known(&q, "log", study))
        goto out;
    if (!o.head) {
        if (store_read_log(q.r, study, leaf_out, &o.json, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail log: %s\n", err);
            goto out;
        }
        rc = 0;
        goto out;
    }
    json_t *heads = store_read_log_heads(q.r, study, err, sizeof err);
    if (!heads) {
        fprintf(stderr, "tunetrail log: %s\n", err);
        goto out;
    }
    size_t i;
    json_t *h;
    json_array_foreach(heads, i, h)
    {
        json_t *ck = json_object_get(h, "checkpoint");
        if (o.json)
            print_json_line(h);
        else if (json_is_object(ck))
            printf("%-16s size %lld  checkpoint %lld root %s\n", jstr(h, "study"), jint(h, "size"),
                   jint(ck, "tree_size"), jstr(ck, "root"));
        else
            printf("%-16s size %lld  (no signed checkpoint)\n", jstr(h, "study"), jint(h, "size"));
    }
    json_decref(heads);
    rc = 0;
out:
    q_close(&q);
    return rc;
}
