/* attest.c - `tunetrail attest MODEL`: builds the record of the search behind
 * MODEL (record.c) and writes it as a signed DSSE envelope (dsse.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dsse.h"
#include "keys.h"
#include "paths.h"
#include "record.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail attest MODEL [--study NAME] [--objective NAME:max|min] [--key FILE]\n"
            "                        [--store PATH] -o OUT\n\n"
            "Writes a signed provenance record of the whole search behind MODEL: every trial of\n"
            "the study counted (failed and killed ones included), which choices were varied and\n"
            "which never were, how the released model ranks, the expected-maximum curve, the noise\n"
            "floor, test-set reuse and compute. The trial that wrote MODEL is found by SHA-256, so\n"
            "a copied or renamed model still matches. If that trial reported no objective (a refit\n"
            "after the search), the search trials with the same framework hyperparameters give it.\n\n"
            "  -o, --output OUT        the record: a DSSE envelope (in-toto Statement v1) - required\n"
            "  --study NAME            the study (default: the one of the trial that wrote MODEL)\n"
            "  --objective NAME:DIR    the metric the search optimised, DIR max or min (default:\n"
            "                          the metric with a direction most trials reported)\n"
            "  --key FILE              ed25519 secret key (default: $TUNETRAIL_HOME/keys/tunetrail.key,\n"
            "                          made by `tunetrail keygen`)\n"
            "  --store PATH            SQLite file or postgresql://... URI (default: $TUNETRAIL_STORE\n"
            "                          or $TUNETRAIL_HOME/trail.db)\n\n"
            "Check a record with `tunetrail verify OUT MODEL`, read it with `tunetrail report --record OUT`.\n"
            "Format: docs/RECORD.md.\n");
}

/* Writes to a temp file next to out, then renames: no half-written record.
 * An out that exists and is not a regular file (/dev/null, a pipe) is
 * written in place: a rename would replace the device with a file. */
static int write_record(const char *out, uint8_t *buf, size_t room, size_t len,
                        const struct tt_key *k, char *err, size_t errlen)
{
    int to_stdout = !strcmp(out, "-");
    char *tmp = NULL;
    FILE *f = stdout;
    struct stat sb;
    if (!to_stdout && stat(out, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (!(f = fopen(out, "w"))) {
            tt_fail(err, errlen, "%s: cannot write: %s", out, strerror(errno));
            return -1;
        }
        int rc = dsse_write_inplace(f, DSSE_INTOTO_TYPE, buf, room, len, k, err, errlen);
        if (fclose(f) != 0 && rc == 0)
            rc = tt_fail(err, errlen, "%s: cannot write: %s", out, strerror(errno));
        return rc;
    }
    if (!to_stdout) {
        if (asprintf(&tmp, "%s.tmp.%d", out, (int)getpid()) < 0)
            return -1;
        if (!(f = fopen(tmp, "w"))) {
            tt_fail(err, errlen, "%s: cannot write: %s", out, strerror(errno));
            free(tmp);
            return -1;
        }
    }
    int rc = dsse_write_inplace(f, DSSE_INTOTO_TYPE, buf, room, len, k, err, errlen);
    if (!to_stdout) {
        if (fclose(f) != 0 && rc == 0) {
            tt_fail(err, errlen, "%s: cannot write: %s", out, strerror(errno));
            rc = -1;
        }
        if (rc == 0 && rename(tmp, out) != 0) {
            tt_fail(err, errlen, "%s: cannot write: %s", out, strerror(errno));
            rc = -1;
        }
        if (rc != 0)
            unlink(tmp);
        free(tmp);
    } else
        fflush(stdout);
    return rc;
}

int cmd_attest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},  {"study", required_argument, NULL, 'S'},
        {"objective", required_argument, NULL, 'O'}, {"key", required_argument, NULL, 'k'},
        {"store", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct record_opts ro = {0};
    const char *out = NULL, *keyfile = NULL, *storeflag = NULL;
    char err[TT_ERR_MAX];
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'S': ro.study = optarg; break;
        case 'O': ro.objective = optarg; break;
        case 'k': keyfile = optarg; break;
        case 's': storeflag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "tunetrail attest: %s\n\n",
                optind >= argc ? "missing MODEL" : optind < argc - 1 ? "more than one MODEL" : "missing -o OUT");
        usage(stderr);
        return 2;
    }
    ro.model = argv[optind];
    if (ro.objective) {
        char name[256];
        int dir;
        if (record_objective_parse(ro.objective, name, sizeof name, &dir, err, sizeof err) != 0) {
            fprintf(stderr, "tunetrail attest: %s\n", err);
            return 2;
        }
    }

    /* the key first: no point computing a record that cannot be signed */
    struct tt_key key;
    char defkey[4096];
    if (!keyfile) {
        if (!key_default_dir(defkey, sizeof defkey - 16)) {
            fprintf(stderr, "tunetrail attest: cannot locate $TUNETRAIL_HOME\n");
            return 1;
        }
        strcat(defkey, "/tunetrail.key");
        if (access(defkey, F_OK) != 0) {
            fprintf(stderr,
                    "tunetrail attest: no signing key at %s: run `tunetrail keygen` once (or give "
                    "--key FILE)\n",
                    defkey);
            return 1;
        }
        keyfile = defkey;
    }
    if (key_load_secret(keyfile, &key, err, sizeof err) != 0) {
        fprintf(stderr, "tunetrail attest: %s (--key)\n", err);
        return 1;
    }

    char *path = NULL;
    if (paths_store(storeflag, &path, err, sizeof err) != 0) {
        fprintf(stderr, "tunetrail attest: %s\n", err);
        return 1;
    }
    tt_store *st = store_open(path, STORE_READONLY, err, sizeof err);
    if (!st) {
        fprintf(stderr, "tunetrail attest: cannot open store %s: %s\n", store_shown(path, (char[1024]){0}, 1024), err);
        free(path);
        return 1;
    }
    struct record rec;
    int rc = record_build(st, &ro, &rec, err, sizeof err);
    store_close(st);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "tunetrail attest: %s\n", err);
        return 1;
    }
    uint8_t *start = NULL;
    size_t len;
    record_phase("record_build");
    rc = record_payload(&rec, DSSE_PREFIX_MAX, &start, &len);
    record_phase("payload");
    if (rc != 0 || write_record(out, start - DSSE_PREFIX_MAX, DSSE_PREFIX_MAX, len, &key, err,
                                sizeof err) != 0) {
        fprintf(stderr, "tunetrail attest: %s\n", rc ? "out of memory" : err);
        record_free(&rec);
        return 1;
    }
    record_phase("sign + write");
    json_t *stmt = rec.stmt;

    /* one line for the person who ran it */
    json_t *p = json_object_get(stmt, "predicate");
    json_t *s = json_object_get(p, "search"), *sel = json_object_get(p, "selection");
    json_t *rel = json_object_get(sel, "released");
    json_t *obj = json_object_get(sel, "objective");
    json_t *by = json_object_get(s, "by_status");
    json_int_t bad = json_integer_value(json_object_get(by, "failed")) +
                     json_integer_value(json_object_get(by, "crashed")) +
                     json_integer_value(json_object_get(by, "killed"));
    char relbuf[200] = "released value: omitted";
    if (json_object_get(rel, "value"))
        snprintf(relbuf, sizeof relbuf, "released %s %s = %g, rank %lld of %lld%s",
                 json_string_value(json_object_get(obj, "direction")),
                 json_string_value(json_object_get(obj, "name")),
                 json_number_value(json_object_get(rel, "value")),
                 (long long)json_integer_value(json_object_get(rel, "rank")),
                 (long long)json_integer_value(json_object_get(rel, "of")),
                 json_object_get(json_object_get(p, "producedBy"), "refit_of") ? " (refit)" : "");
    if (strcmp(out, "-"))
        printf("tunetrail attest: wrote %s: study %s, %lld trials (%lld failed/crashed/killed), "
               "%s; log size %lld, signed by %.16s\n",
               out, json_string_value(json_object_get(p, "study")),
               (long long)json_integer_value(json_object_get(s, "trials")),
               (long long)bad,
               relbuf,
               (long long)json_integer_value(json_object_get(json_object_get(p, "log"), "tree_size")),
               key.keyid);
    record_free(&rec);
    return 0;
}
