/* query.c - `tunetrail studies`, `trials`, `show`, `processes`, `log`:
 * options and printing; the objects come from the store's reader
 * (store/store_read.c). JSON output is one object per line; field names are
 * a public contract, add, never rename. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "paths.h"
#include "roles.h"
#include "store.h"
#include "util.h"

struct qopts {
    int json, help, head, csv;
    long top; /* --top N, or -1 */
    const char *store, *study, *sort;
};

/* Flags a command takes beyond --json, --store and --help. */
enum { Q_STUDY = 1, Q_HEAD = 2, Q_TABLE = 4 /* --sort, --top, --csv */ };

#define TRIALS_METRIC_COLS 3 /* metric columns of the trials table */

/* Parses the shared flags; `allow` (Q_*) says which of the others this
 * command takes. Returns 0, or 2 after printing usage for a bad flag. */
static int parse(int argc, char **argv, int allow, struct qopts *o, void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},          {"store", required_argument, NULL, 's'},
        {"study", required_argument, NULL, 'S'},   {"help", no_argument, NULL, 'h'},
        {"head", no_argument, NULL, 'H'},          {"sort", required_argument, NULL, 'o'},
        {"top", required_argument, NULL, 'n'},     {"csv", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->top = -1;
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
        case 'o':
        case 'n':
        case 'c':
            if (!(allow & Q_TABLE))
                goto bad;
            if (c == 'o')
                o->sort = optarg;
            else if (c == 'c')
                o->csv = 1;
            else {
                char *end;
                o->top = strtol(optarg, &end, 10);
                if (!*optarg || *end || o->top < 0) {
                    fprintf(stderr, "tunetrail: --top %s: expected a count (0, 1, 2, ...)\n", optarg);
                    return 2;
                }
            }
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
        fprintf(stderr, "tunetrail %s: cannot open store %s: %s\n", cmd,
                store_shown(q->path, (char[1024]){0}, 1024), err);
        return -1;
    }
    if (store_is_postgres(q->path)) { /* messages name the store: no password */
        char *shown = strdup(store_shown(q->path, err, sizeof err));
        if (shown) {
            free(q->path);
            q->path = shown;
        }
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
               "and first/last activity. A trial of any status counts. When the collector\n"
               "refused events or flagged batches, a last line says how many: `tunetrail\n"
               "audit` shows them.\n\n"
               "  --json        one JSON object per line: study, trials, ok, failed, crashed,\n"
               "                killed, running, sessions, first, last, conventions (each\n"
               "                tunetrail.ini its sessions ran with: file, sha256, sessions)\n"
               "  --store PATH  SQLite file, or postgresql://... URI (a local replica of\n"
               "                the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db\n");
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
    size_t i, k;
    json_t *j, *c;
    json_t *convs = json_array(); /* per study: its distinct tunetrail.ini files */
    json_array_foreach(all, i, j) {
        json_t *list = store_read_conventions(q.r, jstr(j, "study"), NULL, err, sizeof err);
        json_t *files = json_array();
        json_array_foreach(list, k, c)
        {
            size_t m;
            json_t *f;
            json_array_foreach(files, m, f) if (!strcmp(jstr(f, "file"), jstr(c, "file")) &&
                                                !strcmp(jstr(f, "sha256"), jstr(c, "sha256"))) break;
            if (m == json_array_size(files))
                json_array_append_new(files, json_pack("{s:O,s:O,s:I}", "file",
                                                       json_object_get(c, "file"), "sha256",
                                                       json_object_get(c, "sha256"), "sessions",
                                                       (json_int_t)0));
            f = json_array_get(files, m);
            json_object_set_new(f, "sessions", json_integer(jint(f, "sessions") + 1));
        }
        json_decref(list);
        json_object_set(j, "conventions", files);
        json_array_append_new(convs, files);
        if (o.json)
            print_json_line(j);
        else
            printf("%-24s %7lld %6lld %6lld %7lld %6lld %7lld %8lld  %-24s\n", jstr(j, "study"),
                   jint(j, "trials"), jint(j, "ok"), jint(j, "failed"), jint(j, "crashed"),
                   jint(j, "killed"), jint(j, "running"), jint(j, "sessions"), jstr(j, "last"));
    }
    json_array_foreach(all, i, j) json_array_foreach(json_array_get(convs, i), k, c) if (!o.json)
        printf("%s: conventions from %s (sha256 %.16s..., %lld session%s)\n", jstr(j, "study"),
               jstr(c, "file"), jstr(c, "sha256"), jint(c, "sessions"),
               jint(c, "sessions") == 1 ? "" : "s");
    json_decref(convs);
    json_decref(all);
    /* What no other command shows: say where to look. */
    json_t *au = o.json ? NULL : store_read_audit_counts(q.r, NULL, err, sizeof err);
    long long refused = (long long)jint(au, "refused"), flagged = (long long)jint(au, "flagged");
    if (refused || flagged)
        printf("%lld event%s refused, %lld batch%s flagged: tunetrail audit\n", refused,
               refused == 1 ? "" : "s", flagged, flagged == 1 ? "" : "es");
    json_decref(au);
    q_close(&q);
    return 0;
}

/* ---- tunetrail trials */
static void trials_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail trials [--study NAME] [--sort [+|-]NAME] [--top N]\n"
               "                        [--json | --csv] [--store PATH]\n\n"
               "Lists the trials of a study (every status: ok, failed, crashed, killed,\n"
               "running) in the order they started. `tunetrail show ID` gives everything\n"
               "about one.\n\n"
               "The table shows, left to right: id, status, the metrics the trials reported\n"
               "(valid-split ones first, then test, unsplit, train; at most %d, the others\n"
               "are named below the table and are in --csv and --json), every choice or\n"
               "seed that took more than one value among the trials that set it, the\n"
               "start time and the program. Keys are given roles as in the provenance\n"
               "record (choice, seed, path, info): a varied path (a model file per run)\n"
               "or info key (svm-train -c restating libsvm.C) is named below the table;\n"
               "so are keys with one value, once.\n\n"
               "  --study NAME     only this study (default $TUNETRAIL_STUDY, else all studies)\n"
               "  --sort NAME      order by metric NAME (or by param NAME), best first: highest\n"
               "                   first for a metric recorded with direction max, lowest first\n"
               "                   for min; a metric without a recorded direction (--metric\n"
               "                   patterns) and a param sort highest first. -NAME: highest\n"
               "                   first, +NAME: lowest first. Trials without a value come\n"
               "                   last; ties keep start order. Numbers compare as numbers.\n"
               "  --top N          only the first N after sorting; without --sort, the N best\n"
               "                   by the table's first metric\n"
               "  --json           one JSON object per line: id, uuid, study, status, exe, argv,\n"
               "                   params, metrics, inputs, outputs, started, ended, exit_code,\n"
               "                   signal, process, session, framework, evaluations\n"
               "                   (test metrics of later runs that read this trial's model;\n"
               "                   `trial` is the evaluation's own trial id)\n"
               "  --csv            RFC 4180 CSV (CRLF line ends, quotes doubled), one row per\n"
               "                   trial: trial, status, started, ended, study, exe, exit_code,\n"
               "                   signal, uuid, then every metric (last value; a test metric\n"
               "                   from an evaluation when the trial has no metric of that\n"
               "                   name), then every param key. A param or metric named like an\n"
               "                   earlier column is prefixed `param:` / `metric:`. Empty cell:\n"
               "                   no value. Reads back with pandas.read_csv, R's read.csv,\n"
               "                   Python's csv module.\n"
               "  --store PATH     SQLite file, or postgresql://... URI (a local replica of\n"
               "                   the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
               "                   $TUNETRAIL_HOME/trail.db\n",
            TRIALS_METRIC_COLS);
}

/* A metric column of the table / CSV. */
struct mcol {
    const char *name, *split, *direction; /* borrowed from the kinds object */
    long long trials;
};

/* A param key: how many distinct values it takes and how many trials have it. */
struct pkey {
    const char *key; /* borrowed from the keys object */
    json_t *values;  /* value -> true */
    size_t present;
    enum tt_role role; /* the role most of the rows give it (a tie: choice) */
    int multi;         /* more than one value among the rows (missing counts) */
    int varied;        /* a column of the table */
};

/* Whether a param key gets its own column in the table (and comes first
 * among the params of the CSV): a choice or a seed (docs/RECORD.md, "Roles
 * of values") that took more than one value among the listed trials. Paths
 * and info keys that vary (a model file per trial, `-c` restating
 * libsvm.C) are named below the table instead. */
static int shown_as_varied(const struct pkey *k)
{
    return k->multi && (k->role == TT_ROLE_CHOICE || k->role == TT_ROLE_SEED);
}

/* The role of key in each row that has it, by majority (the record's rule:
 * collector/record/roles.h). */
static enum tt_role key_role(json_t *rows, const char *key)
{
    size_t votes[4] = {0}, i, j;
    json_t *t;
    json_array_foreach(rows, i, t)
    {
        json_t *v = json_object_get(json_object_get(t, "params"), key);
        if (!v)
            continue;
        json_t *ins = json_object_get(t, "inputs"), *outs = json_object_get(t, "outputs"), *f;
        size_t nin = json_array_size(ins), nout = json_array_size(outs);
        const char **paths = malloc((nin + nout + 1) * sizeof *paths);
        if (!paths)
            continue; /* out of memory: this trial does not vote */
        json_array_foreach(ins, j, f) paths[j] = jstr(f, "path");
        json_array_foreach(outs, j, f) paths[nin + j] = jstr(f, "path");
        struct tt_role_files files = {paths, nin, paths + nin, nout};
        const char *fw = json_string_value(json_object_get(t, "framework"));
        const char *src = json_string_value(json_object_get(json_object_get(t, "param_sources"), key));
        char why[128];
        votes[tt_param_role(fw, jstr(t, "exe"), key, json_string_value(v), src, &files, why,
                            sizeof why)]++;
        free(paths);
    }
    enum tt_role best = TT_ROLE_CHOICE;
    for (int r = 0; r < 4; r++)
        if (votes[r] > votes[best])
            best = (enum tt_role)r;
    return best;
}

/* valid < test < unsplit < train < anything else: the objective first. */
static int split_rank(const char *split)
{
    static const char *order[] = {"valid", "test", "", "train"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(split ? split : "", order[i]))
            return i;
    return 4;
}

static int mcol_cmp(const void *a, const void *b)
{
    const struct mcol *x = a, *y = b;
    int rx = split_rank(x->split), ry = split_rank(y->split);
    if (rx != ry)
        return rx - ry;
    if (x->trials != y->trials)
        return x->trials > y->trials ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The value of metric name for trial t: its own last value, else the last
 * test value an evaluation reported on it. NULL if none. */
/* A metric value as the readers give it: a number, or "nan", "inf",
 * "-inf" (JSON has none); anything else is NAN. */
static double metric_num(json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    if (s && !strcmp(s, "inf"))
        return INFINITY;
    if (s && !strcmp(s, "-inf"))
        return -INFINITY;
    return NAN;
}

static int is_metric(json_t *v)
{
    return json_is_number(v) || json_is_string(v);
}

static json_t *trial_metric(json_t *t, const char *name)
{
    json_t *v = json_object_get(json_object_get(t, "metrics"), name);
    if (is_metric(v))
        return v;
    json_t *e, *last = NULL;
    size_t i;
    json_array_foreach(json_object_get(t, "evaluations"), i, e)
        if (!strcmp(jstr(e, "metric"), name) && is_metric(json_object_get(e, "value")))
            last = json_object_get(e, "value");
    return last;
}

/* Shortest text that reads back as the same double (CSV keeps every bit). */
static void real_text(double d, char *out, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* What a trial is sorted by: a metric, else a param. */
struct sortkey {
    const char *name;
    int metric, desc;
};

struct sortrow {
    json_t *t;
    size_t pos;     /* start order */
    int have, num;  /* a value; it is a number */
    double d;
    const char *s;
};

static int sortrow_cmp(const void *a, const void *b, void *arg)
{
    const struct sortrow *x = a, *y = b;
    int desc = *(const int *)arg, c = 0;
    if (x->have != y->have)
        return x->have ? -1 : 1; /* no value: last, whatever the direction */
    if (x->have && x->num && y->num)
        c = x->d < y->d ? -1 : x->d > y->d;
    else if (x->have && x->num != y->num)
        c = x->num ? -1 : 1; /* numbers before text */
    else if (x->have)
        c = strcmp(x->s, y->s);
    if (c)
        return desc ? -c : c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Fills r from trial t for key k. */
static void sortrow_fill(struct sortrow *r, json_t *t, size_t pos, const struct sortkey *k)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->pos = pos;
    if (k->metric) {
        json_t *v = trial_metric(t, k->name);
        if ((r->have = r->num = v != NULL && !isnan(metric_num(v)))) /* nan sorts as missing */
            r->d = metric_num(v);
        return;
    }
    const char *s = json_string_value(json_object_get(json_object_get(t, "params"), k->name));
    if (!(r->have = s != NULL))
        return;
    r->s = s;
    char *end;
    r->d = strtod(s, &end);
    r->num = *s && !*end;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. */
static void csv_field(const char *s, int first)
{
    if (!first)
        putchar(',');
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* A CSV header name: name, or prefix:name when an earlier column took it. */
static void csv_name(json_t *taken, const char *prefix, const char *name, int first)
{
    if (!json_object_get(taken, name)) {
        json_object_set_new(taken, name, json_true());
        csv_field(name, first);
        return;
    }
    char *p = NULL;
    if (asprintf(&p, "%s:%s", prefix, name) < 0)
        p = NULL;
    csv_field(p ? p : name, first);
    free(p);
}

static void csv_out(json_t **rows, size_t n, const struct mcol *mc, size_t nm,
                    const struct pkey *pk, size_t np)
{
    static const char *fixed[] = {"trial", "status", "started", "ended", "study",
                                  "exe",   "exit_code", "signal", "uuid"};
    json_t *taken = json_object();
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        csv_name(taken, "", fixed[i], i == 0);
    for (size_t i = 0; i < nm; i++)
        csv_name(taken, "metric", mc[i].name, 0);
    for (size_t i = 0; i < np; i++)
        csv_name(taken, "param", pk[i].key, 0);
    fputs("\r\n", stdout);
    json_decref(taken);
    for (size_t r = 0; r < n; r++) {
        json_t *t = rows[r], *v;
        char num[32];
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
            v = json_object_get(t, i == 0 ? "id" : fixed[i]);
            if (json_is_integer(v))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            csv_field(json_is_integer(v) ? num : json_is_string(v) ? json_string_value(v) : "",
                      i == 0);
        }
        for (size_t i = 0; i < nm; i++) {
            num[0] = 0;
            if ((v = trial_metric(t, mc[i].name)))
                real_text(metric_num(v), num, sizeof num);
            csv_field(num, 0);
        }
        json_t *params = json_object_get(t, "params");
        for (size_t i = 0; i < np; i++) {
            const char *s = json_string_value(json_object_get(params, pk[i].key));
            csv_field(s ? s : "", 0);
        }
        fputs("\r\n", stdout);
    }
}

/* A table cell: s, or its last w-3 characters after "..." when longer (the
 * end of a path or list tells values apart). */
static void cell(const char *s, int w, int right)
{
    int len = (int)strlen(s);
    if (len <= w)
        printf(right ? "%*s" : "%-*s", w, s);
    else
        printf("...%s", s + len - (w - 3));
}

#define TRIALS_COL_MAX 40 /* a varied key's column, at most */

static void table_out(json_t **rows, size_t n, size_t ntotal, const struct mcol *mc, size_t nm,
                      const struct pkey *pk, size_t np)
{
    size_t nshow = nm < TRIALS_METRIC_COLS ? nm : TRIALS_METRIC_COLS;
    int wid = 2, wst = 6, wexe = 3;
    int *wm = calloc(nshow + 1, sizeof *wm), *wp = calloc(np + 1, sizeof *wp);
    char num[32];
    for (size_t i = 0; i < nshow; i++)
        wm[i] = (int)strlen(mc[i].name);
    for (size_t i = 0; i < np; i++)
        wp[i] = pk[i].varied ? (int)strlen(pk[i].key) : 0;
    for (size_t r = 0; r < n; r++) {
        json_t *t = rows[r];
        const char *exe = strrchr(jstr(t, "exe"), '/');
        exe = exe ? exe + 1 : jstr(t, "exe");
        int w = snprintf(num, sizeof num, "%lld", jint(t, "id"));
        wid = w > wid ? w : wid;
        wst = (int)strlen(jstr(t, "status")) > wst ? (int)strlen(jstr(t, "status")) : wst;
        wexe = (int)strlen(exe) > wexe ? (int)strlen(exe) : wexe;
        for (size_t i = 0; i < nshow; i++) {
            json_t *v = trial_metric(t, mc[i].name);
            w = v ? snprintf(num, sizeof num, "%.6g", metric_num(v)) : 1;
            wm[i] = w > wm[i] ? w : wm[i];
        }
        for (size_t i = 0; i < np; i++) {
            const char *s = json_string_value(json_object_get(json_object_get(t, "params"), pk[i].key));
            w = s ? (int)strlen(s) : 1;
            if (pk[i].varied && w > wp[i])
                wp[i] = w;
        }
    }
    for (size_t i = 0; i < np; i++)
        wp[i] = wp[i] > TRIALS_COL_MAX ? TRIALS_COL_MAX : wp[i];
    printf("%*s  %-*s", wid, "ID", wst, "STATUS");
    for (size_t i = 0; i < nshow; i++)
        printf("  %*s", wm[i], mc[i].name);
    for (size_t i = 0; i < np; i++)
        if (pk[i].varied) {
            printf("  ");
            cell(pk[i].key, wp[i], 0);
        }
    printf("  %-24s  %s\n", "STARTED", "EXE");
    for (size_t r = 0; r < n; r++) {
        json_t *t = rows[r];
        const char *exe = strrchr(jstr(t, "exe"), '/');
        exe = exe ? exe + 1 : jstr(t, "exe");
        printf("%*lld  %-*s", wid, jint(t, "id"), wst, jstr(t, "status"));
        for (size_t i = 0; i < nshow; i++) {
            json_t *v = trial_metric(t, mc[i].name);
            if (v)
                snprintf(num, sizeof num, "%.6g", metric_num(v));
            printf("  %*s", wm[i], v ? num : "-");
        }
        for (size_t i = 0; i < np; i++) {
            if (!pk[i].varied)
                continue;
            const char *s = json_string_value(json_object_get(json_object_get(t, "params"), pk[i].key));
            printf("  ");
            cell(s ? s : "-", wp[i], 0);
        }
        printf("  %-24s  %s\n", *jstr(t, "started") ? jstr(t, "started") : "-", *exe ? exe : "?");
    }
    /* Below the table: what it left out, so nothing is hidden. */
    if (nm > nshow) {
        printf("more metrics (in --csv and --json):");
        for (size_t i = nshow; i < nm; i++)
            printf(" %s", mc[i].name);
        putchar('\n');
    }
    int col = 0;
    for (size_t i = 0; i < np; i++) {
        if (pk[i].varied || !pk[i].multi)
            continue;
        if (!col)
            col = printf("also varied, not choices (see --csv):");
        else if (col + (int)strlen(pk[i].key) + 10 > 100)
            col = printf("\n ");
        col += printf(" %s (%s)", pk[i].key, tt_role_name(pk[i].role));
    }
    if (col)
        putchar('\n');
    col = 0;
    for (int all = 1; all >= 0; all--) {
        if (col)
            putchar('\n');
        col = 0;
        for (size_t i = 0; i < np; i++) {
            if (pk[i].multi || (pk[i].present == n) != all)
                continue;
            const char *k;
            json_t *v;
            json_object_foreach(pk[i].values, k, v) /* exactly one */
            {
                char of[48] = "";
                if (!all)
                    snprintf(of, sizeof of, " (%zu of %zu)", pk[i].present, n);
                int w = (int)(strlen(pk[i].key) + strlen(k) + strlen(of) + 2);
                if (!col)
                    col = all ? printf("same in all %zu trials:", ntotal) : printf("set by some trials only:");
                else if (col + w > 100)
                    col = printf("\n ");
                col += printf(" %s=%s%s", pk[i].key, k, of);
            }
        }
    }
    if (col)
        putchar('\n');
    free(wm);
    free(wp);
}

struct trials_out {
    int stream; /* --json without --sort / --top: print each trial as it comes */
    json_t *rows;
};

/* store_read_trials' callback. */
static void trial_out(json_t *t, void *arg)
{
    struct trials_out *out = arg;
    if (out->stream)
        print_json_line(t);
    else
        json_array_append(out->rows, t);
}

/* The metric columns: the study's metric kinds plus the test metrics
 * evaluations reported, objective first. *n receives the count; the names
 * are borrowed from kinds (which gets the evaluation ones added). */
static struct mcol *metric_cols(json_t *kinds, json_t *rows, size_t *n)
{
    size_t i, j;
    json_t *t, *e;
    json_array_foreach(rows, i, t) json_array_foreach(json_object_get(t, "evaluations"), j, e)
    {
        json_t *k = json_object_get(kinds, jstr(e, "metric"));
        if (!k) {
            json_object_set_new(kinds, jstr(e, "metric"),
                                json_pack("{s:s,s:O,s:I}", "split", "test", "direction",
                                          json_object_get(e, "direction"), "trials", (json_int_t)0));
            k = json_object_get(kinds, jstr(e, "metric"));
        }
        if (!strcmp(jstr(k, "split"), "test")) /* counted once per trial, roughly */
            json_object_set_new(k, "trials", json_integer(jint(k, "trials") + 1));
    }
    struct mcol *mc = calloc(json_object_size(kinds) + 1, sizeof *mc);
    const char *name;
    json_t *k;
    *n = 0;
    if (!mc)
        return NULL;
    json_object_foreach(kinds, name, k)
    {
        mc[*n].name = name;
        mc[*n].split = json_string_value(json_object_get(k, "split"));
        mc[*n].direction = json_string_value(json_object_get(k, "direction"));
        mc[(*n)++].trials = jint(k, "trials");
    }
    qsort(mc, *n, sizeof *mc, mcol_cmp);
    return mc;
}

/* Every param key of the rows, in first-seen order, varied ones first. */
static struct pkey *param_keys(json_t *rows, json_t *keys, size_t *n)
{
    size_t i;
    json_t *t, *v;
    const char *k;
    json_array_foreach(rows, i, t) json_object_foreach(json_object_get(t, "params"), k, v)
    {
        json_t *set = json_object_get(keys, k);
        if (!set) {
            json_object_set_new(keys, k, json_object());
            set = json_object_get(keys, k);
        }
        json_object_set_new(set, json_string_value(v) ? json_string_value(v) : "", json_true());
    }
    struct pkey *pk = calloc(json_object_size(keys) + 1, sizeof *pk);
    if (!pk)
        return NULL;
    size_t m = 0;
    json_object_foreach(keys, k, v)
    {
        pk[m] = (struct pkey){.key = k, .values = v};
        json_array_foreach(rows, i, t) pk[m].present +=
            json_object_get(json_object_get(t, "params"), k) != NULL;
        pk[m].multi = json_object_size(v) > 1; /* as the record's ledger: among the trials that set it */
        pk[m].role = pk[m].multi ? key_role(rows, k) : TT_ROLE_CHOICE;
        pk[m].varied = shown_as_varied(&pk[m]);
        m++;
    }
    /* varied first, each group in first-seen order */
    struct pkey *sorted = calloc(m + 1, sizeof *sorted);
    if (!sorted) {
        free(pk);
        return NULL;
    }
    size_t o = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (i = 0; i < m; i++)
            if (pk[i].varied == pass)
                sorted[o++] = pk[i];
    free(pk);
    *n = m;
    return sorted;
}

int cmd_trials(int argc, char **argv)
{
    struct qopts o;
    int rc = parse(argc, argv, Q_STUDY | Q_TABLE, &o, trials_usage);
    if (rc || o.help)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tunetrail trials: unexpected argument '%s'\n\n", argv[optind]);
        trials_usage(stderr);
        return 2;
    }
    if (o.json && o.csv) {
        fprintf(stderr, "tunetrail trials: --json or --csv, not both\n");
        return 2;
    }
    if (o.sort && (!*o.sort || ((*o.sort == '+' || *o.sort == '-') && !o.sort[1]))) {
        fprintf(stderr, "tunetrail trials: --sort needs a metric or param name, e.g. --sort cv_accuracy\n");
        return 2;
    }
    const char *study = o.study ? o.study : getenv("TUNETRAIL_STUDY");
    if (study && !*study)
        study = NULL;
    struct q q;
    struct trials_out out = {.stream = o.json && !o.sort && o.top < 0, .rows = json_array()};
    json_t *rows = out.rows, *kinds = NULL, *keys = json_object();
    struct mcol *mc = NULL;
    struct pkey *pk = NULL;
    struct sortrow *sr = NULL;
    json_t **order = NULL;
    size_t nm = 0, np = 0, n;
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
    if (out.stream) {
        rc = 0;
        goto out;
    }
    if (!(kinds = store_read_metric_kinds(q.r, study, err, sizeof err))) {
        fprintf(stderr, "tunetrail trials: %s\n", err);
        goto out;
    }
    n = json_array_size(rows);
    mc = metric_cols(kinds, rows, &nm);
    pk = param_keys(rows, keys, &np);
    order = calloc(n + 1, sizeof *order);
    sr = calloc(n + 1, sizeof *sr);
    if (!mc || !pk || !order || !sr) {
        fprintf(stderr, "tunetrail trials: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = json_array_get(rows, i);
    if (o.sort || o.top >= 0) {
        struct sortkey k = {0};
        const char *name = o.sort ? o.sort + (*o.sort == '+' || *o.sort == '-') : NULL;
        const struct mcol *m = NULL;
        if (!name) { /* --top alone: the objective */
            if (!nm) {
                fprintf(stderr, "tunetrail trials: --top: these trials reported no metric to rank"
                                " them by; give --sort NAME\n");
                rc = 2;
                goto out;
            }
            m = &mc[0];
        }
        for (size_t i = 0; name && i < nm; i++)
            if (!strcmp(mc[i].name, name))
                m = &mc[i];
        if (m) {
            k = (struct sortkey){.name = m->name, .metric = 1,
                                 .desc = !m->direction || strcmp(m->direction, "min")};
        } else if (json_object_get(keys, name)) {
            k = (struct sortkey){.name = name, .desc = 1};
        } else {
            fprintf(stderr, "tunetrail trials: --sort %s: no metric or param of that name; metrics:",
                    o.sort);
            for (size_t i = 0; i < nm; i++)
                fprintf(stderr, " %s", mc[i].name);
            fprintf(stderr, "%s\n", nm ? "" : " (none)");
            rc = 2;
            goto out;
        }
        if (o.sort && (*o.sort == '+' || *o.sort == '-'))
            k.desc = *o.sort == '-';
        for (size_t i = 0; i < n; i++)
            sortrow_fill(&sr[i], order[i], i, &k);
        qsort_r(sr, n, sizeof *sr, sortrow_cmp, &k.desc);
        for (size_t i = 0; i < n; i++)
            order[i] = sr[i].t;
        if (!o.json && !o.csv)
            fprintf(stderr, "tunetrail trials: sorted by %s %s, %s first%s\n",
                    k.metric ? "metric" : "param", k.name, k.desc ? "highest" : "lowest",
                    k.metric && !(m && m->direction) && !(o.sort && (*o.sort == '+' || *o.sort == '-'))
                        ? " (no recorded direction; +NAME for lowest first)"
                        : "");
    }
    size_t nlist = o.top >= 0 && (size_t)o.top < n ? (size_t)o.top : n;
    if (o.json)
        for (size_t i = 0; i < nlist; i++)
            print_json_line(order[i]);
    else if (o.csv)
        csv_out(order, nlist, mc, nm, pk, np);
    else if (n)
        table_out(order, nlist, n, mc, nm, pk, np);
    else
        fprintf(stderr, "tunetrail trials: no trials%s%s in %s\n", study ? " in study " : "",
                study ? study : "", q.path);
    rc = 0;
out:
    free(mc);
    free(pk);
    free(sr);
    free(order);
    json_decref(kinds);
    json_decref(keys);
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
               "                evaluation_of (the trial an evaluation evaluates, else null),\n"
               "                conventions (the tunetrail.ini its session ran with: file,\n"
               "                sha256, metric, trial; else null)\n"
               "  --files all   also list every file of the environment\n"
               "                (--json: environment_files)\n"
               "  --store PATH  SQLite file, or postgresql://... URI (a local replica of\n"
               "                the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db\n");
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
    json_t *conv = json_object_get(t, "conventions");
    if (json_is_object(conv))
        printf("  conventions: %s (sha256 %.16s...)\n", jstr(conv, "file"), jstr(conv, "sha256"));
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
        printf("  %-20s = %-12g", k, metric_num(json_object_get(v, "value")));
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
               metric_num(json_object_get(v, "value")), jstr(v, "split"), jstr(v, "process"));
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
    /* Text that is not UTF-8 shows with U+FFFD above; its stored bytes here. */
    json_t *raw = json_object_get(t, "raw");
    if (json_object_size(raw)) {
        printf("not UTF-8, shown with U+FFFD above; the stored bytes in hex (%zu):\n",
               json_object_size(raw));
        const char *ptr;
        json_t *hex;
        json_object_foreach(raw, ptr, hex)
            printf("  %-24s %s\n", ptr, json_string_value(hex));
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
    /* The tunetrail.ini its session ran with (the last, if a session had several). */
    json_t *conv = *jstr(t, "session")
                       ? store_read_conventions(q.r, NULL, jstr(t, "session"), err, sizeof err)
                       : NULL;
    json_t *c = json_array_get(conv, json_array_size(conv) - 1);
    json_object_set(t, "conventions", c ? c : json_null());
    json_object_del(json_object_get(t, "conventions"), "session");
    json_decref(conv);
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
               "  --store PATH  SQLite file, or postgresql://... URI (a local replica of\n"
               "                the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db\n");
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
               "  --store PATH  SQLite file, or postgresql://... URI (a local replica of\n"
               "                the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
               "                $TUNETRAIL_HOME/trail.db\n");
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
