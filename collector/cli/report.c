/* report.c - `tunetrail report`: options, the record (record_build from the
 * store, or record_load from a file), then report_write (report/report.c)
 * into OUT through a temporary file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"
#include "record.h"
#include "report.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail report [--study NAME | --record FILE] [--objective NAME:max|min]\n"
            "                        [--store PATH] [--format html|md] -o OUT\n\n"
            "Renders the provenance record of a search for people.\n"
            "  html (default)  one self-contained page: no script, no fetch (it opens offline);\n"
            "                  the key numbers, the objective of every trial in time order, the\n"
            "                  expected best of n trials, the objective against each varied\n"
            "                  choice, the choice ledger, holdout reuse and the log.\n"
            "  md              a \"## Search disclosure\" section to paste into a model card.\n\n"
            "  --record FILE   a record written by `tunetrail attest` (not verified here:\n"
            "                  run `tunetrail verify FILE MODEL` for that)\n"
            "  --study NAME    build the record from the store instead (default study:\n"
            "                  $TUNETRAIL_STUDY, else the git top-level or current directory name)\n"
            "  --objective NAME:max|min  the metric to rank by (with --study; a record holds one)\n"
            "  --store PATH    SQLite file or postgresql://... URI (default $TUNETRAIL_STORE, else\n"
            "                  $TUNETRAIL_HOME/trail.db)\n"
            "  --format FMT    html or md\n"
            "  -o, --output OUT  file to write; - for standard output\n\n"
            "example: tunetrail attest heart.model -o heart.model.tt.json &&\n"
            "         tunetrail report --record heart.model.tt.json -o report.html\n");
}

/* Writes via a temporary file in OUT's directory and renames it, so a
 * failed run never leaves a half report in place of a good one. */
static int write_out(const char *out, const struct record *rec, const struct report_opts *o)
{
    char err[TT_ERR_MAX];
    if (!strcmp(out, "-")) {
        if (report_write(stdout, rec, o, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail report: %s (standard output)\n", err);
            return 1;
        }
        return 0;
    }
    size_t n = strlen(out) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return 1;
    snprintf(tmp, n, "%s.tmpXXXXXX", out);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "tunetrail report: cannot write %s: %s (-o)\n", out, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(tmp);
        return 1;
    }
    static char buf[1 << 16];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    fchmod(fd, 0644);
    int rc = report_write(f, rec, o, err, sizeof err);
    if (fclose(f) != 0 && rc == 0) {
        tt_fail(err, sizeof err, "write failed: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, out) < 0) {
        tt_fail(err, sizeof err, "cannot rename into place: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        fprintf(stderr, "tunetrail report: %s (%s)\n", err, out);
        unlink(tmp);
    }
    free(tmp);
    return rc < 0 ? 1 : 0;
}

/* write_out, with its time on stderr when TUNETRAIL_TIMING is set (as
 * record_build prints its phases), to keep the 100k-trial budget honest. */
static int timed_write(const char *out, const struct record *rec, const struct report_opts *o)
{
    const char *tm = getenv("TUNETRAIL_TIMING");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = write_out(out, rec, o);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (tm)
        fprintf(stderr, "timing: report_write %.3f s (%zu leaves)\n",
                (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, rec->n);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"study", required_argument, NULL, 'S'},  {"record", required_argument, NULL, 'r'},
        {"objective", required_argument, NULL, 'O'}, {"store", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *study = NULL, *recfile = NULL, *objective = NULL, *store = NULL, *out = NULL;
    struct report_opts o = {REPORT_HTML, NULL, NULL};
    char err[TT_ERR_MAX];
    int c, rc = 1;
    json_t *keyids = NULL;
    struct record rec;
    tt_store *db = NULL;
    char *path = NULL, *sname = NULL;
    memset(&rec, 0, sizeof rec); /* record_free of an empty record is a no-op */
    optind = 0; /* glibc: full re-initialisation, argv[0] is the subcommand */
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'S': study = optarg; break;
        case 'r': recfile = optarg; break;
        case 'O': objective = optarg; break;
        case 's': store = optarg; break;
        case 'o': out = optarg; break;
        case 'f':
            if (!strcmp(optarg, "html"))
                o.format = REPORT_HTML;
            else if (!strcmp(optarg, "md") || !strcmp(optarg, "markdown"))
                o.format = REPORT_MD;
            else {
                fprintf(stderr, "tunetrail report: unknown format '%s', expected html or md (--format)\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: fputc('\n', stderr); usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetrail report: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "tunetrail report: missing output file (-o OUT, or -o - for standard output)\n");
        return 2;
    }
    if (study && recfile) {
        fprintf(stderr, "tunetrail report: --study and --record exclude each other (--record)\n");
        return 2;
    }
    if (objective) {
        const char *colon = strrchr(objective, ':');
        if (!colon || colon == objective || (strcmp(colon, ":max") && strcmp(colon, ":min"))) {
            fprintf(stderr, "tunetrail report: expected NAME:max or NAME:min, got '%s' (--objective)\n", objective);
            return 2;
        }
    }
    if (recfile) {
        if (record_load(recfile, &rec, &keyids, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail report: %s\n", err);
            goto out;
        }
        o.keyids = keyids;
        o.source = recfile;
        if (objective) {
            json_t *obj = json_object_get(
                json_object_get(json_object_get(rec.stmt, "predicate"), "selection"), "objective");
            const char *name = json_string_value(json_object_get(obj, "name"));
            const char *dir = json_string_value(json_object_get(obj, "direction"));
            size_t nl = strrchr(objective, ':') - objective;
            if (!name || !dir || strlen(name) != nl || strncmp(name, objective, nl) ||
                strcmp(dir, strrchr(objective, ':') + 1)) {
                fprintf(stderr, "tunetrail report: the record's objective is %s:%s; a record holds one "
                                "objective, use --study to rank by another (--objective)\n",
                        name ? name : "?", dir ? dir : "?");
                rc = 2;
                goto out;
            }
        }
    } else {
        if (paths_store(store, &path, err, sizeof err) < 0 || paths_study(study, &sname, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail report: %s\n", err);
            goto out;
        }
        if (!(db = store_open(path, STORE_READONLY, err, sizeof err))) {
            fprintf(stderr, "tunetrail report: cannot open store %s: %s\n", store_shown(path, (char[1024]){0}, 1024), err);
            goto out;
        }
        struct record_opts ro = {sname, NULL, objective};
        if (record_build(db, &ro, &rec, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail report: %s (study %s)\n", err, sname);
            goto out;
        }
        o.source = "the store";
    }
    rc = timed_write(out, &rec, &o);
out:
    record_free(&rec);
    json_decref(keyids);
    if (db)
        store_close(db);
    free(path);
    free(sname);
    return rc;
}
