/* audit.c - `tunetrail audit`: what the collector refused or flagged, and
 * the warnings recorded, which otherwise live only in the store's tables
 * (store.h, store_read_audit_counts and the readers after it). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "paths.h"
#include "store.h"
#include "util.h"

#define AUDIT_ROWS 20 /* rows per section in the human form: the latest ones */

static void audit_usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail audit [--study NAME] [--json] [--store PATH]\n\n"
            "What the collector refused or flagged, and the warnings recorded: the store\n"
            "keeps them, nothing else shows them. Three sections (times UTC):\n\n"
            "Refused events: events the store did not apply, counted by reason, then the\n"
            "  latest %d (receive time, sender, origin:seq, event, why). \"another origin's\n"
            "  session/process/trial\": an event tried to change what another origin\n"
            "  recorded; \"a session's events from another sender\": someone sent events\n"
            "  under a session's uuid; \"a second start for a ...\": a start that would\n"
            "  rewrite one already stored; \"conflict\": an (origin, seq) already stored\n"
            "  came again with other bytes. Your records were kept as first stored. Many\n"
            "  refusals from one sender mean a forger or a broken client: find the host\n"
            "  that sends as that uuid. A few conflicts after an agent was killed can be\n"
            "  the same event shipped twice with and without its hashes (not lost).\n"
            "Flagged batches: stored, but with events whose time is more than 5 minutes\n"
            "  ahead of the collector's clock (clock_ahead), more than a day behind it\n"
            "  (late: a clock behind, or a spool flushed late), or a name that is not\n"
            "  UTF-8 (name_not_utf8). Each shows the receive time beside the client's\n"
            "  event times: fix the clock of the machine that sent clock_ahead (NTP);\n"
            "  times of its trials are as that machine saw them.\n"
            "Warnings: notes of level warn or error the agent or shim recorded, e.g. a\n"
            "  static or setuid program the shim cannot enter, recorded from outside only\n"
            "  (start, exit, no files, params or metrics).\n\n"
            "  --study NAME  only what can be tied to the study: refusals whose origin is a\n"
            "                session or process of it (one from an origin never stored, such\n"
            "                as a forger's fresh uuid, has no study and shows only without\n"
            "                --study), batches its sessions sent (a flush's have none),\n"
            "                notes of its processes\n"
            "  --json        one JSON object per line, every row (no limit), each with a\n"
            "                \"kind\": \"refusal\" {time, sender, batch_seq, origin, seq, event,\n"
            "                why, study}, \"received\" {time, sender, batch_seq, events, stored,\n"
            "                client_first, client_last, flags, study}, \"note\" {time, level,\n"
            "                process, exe, session, study, text}\n"
            "  --store PATH  SQLite file, or postgresql://... URI (a local replica of\n"
            "                the PostgreSQL store); default $TUNETRAIL_STORE, else\n"
            "                $TUNETRAIL_HOME/trail.db\n"
            "Exit status: 0 (also when something was refused); 1 the store cannot be read.\n",
            AUDIT_ROWS);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* "YYYY-MM-DD HH:MM:SS" of an ISO time ("-" if none). */
static const char *when(json_t *o, const char *k, char buf[24])
{
    const char *t = jstr(o, k);
    if (strlen(t) < 19)
        return "-";
    snprintf(buf, 24, "%.10s %.8s", t, t + 11);
    return buf;
}

struct section {
    int json;
    long long total, seen; /* rows before total - AUDIT_ROWS are skipped */
};

static int skip(struct section *s)
{
    return !s->json && s->seen++ < s->total - AUDIT_ROWS;
}

static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
}

static void refusal_line(json_t *o, void *arg)
{
    struct section *s = arg;
    char t[24];
    if (s->json)
        print_json_line(o);
    else if (!skip(s))
        printf("  %-19s  %-8.8s  %.8s:%-10lld  %-13s  %s\n", when(o, "time", t), jstr(o, "sender"),
               jstr(o, "origin"), (long long)json_integer_value(json_object_get(o, "seq")),
               jstr(o, "event"), jstr(o, "why"));
}

static void received_line(json_t *o, void *arg)
{
    struct section *s = arg;
    char t[24], a[24], b[24];
    if (s->json) {
        print_json_line(o);
        return;
    }
    if (skip(s))
        return;
    char *flags = json_dumps(json_object_get(o, "flags"), JSON_COMPACT | JSON_ENCODE_ANY);
    printf("  %-19s  %-19s .. %-19s  %-8.8s  %s\n", when(o, "time", t), when(o, "client_first", a),
           when(o, "client_last", b), jstr(o, "sender"), flags ? flags : "");
    free(flags);
}

static void note_line(json_t *o, void *arg)
{
    struct section *s = arg;
    char t[24];
    if (s->json) {
        print_json_line(o);
        return;
    }
    if (skip(s))
        return;
    const char *exe = jstr(o, "exe"), *base = strrchr(exe, '/');
    printf("  %-19s  %-5s  %-16s  %-16.16s  %s\n", when(o, "time", t), jstr(o, "level"),
           *jstr(o, "study") ? jstr(o, "study") : "-",
           base ? base + 1 : *exe ? exe : *jstr(o, "process") ? jstr(o, "process") : "-",
           jstr(o, "text"));
}

/* The line under a section that shows only its latest rows. */
static void more(const struct section *s, const char *what)
{
    if (!s->json && s->total > AUDIT_ROWS)
        printf("  (the latest %d of %lld %s; `tunetrail audit --json` lists every one)\n", AUDIT_ROWS,
               s->total, what);
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"store", required_argument, NULL, 's'},
                                         {"study", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, c;
    const char *flag = NULL, *study = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 's': flag = optarg; break;
        case 'S': study = optarg; break;
        case 'h': audit_usage(stdout); return 0;
        default: fputc('\n', stderr); audit_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetrail audit: unexpected argument '%s'\n\n", argv[optind]);
        audit_usage(stderr);
        return 2;
    }
    char err[TT_ERR_MAX], *path = NULL;
    tt_store *st = NULL;
    store_reader *r = NULL;
    json_t *n = NULL;
    int rc = 1;
    if (paths_store(flag, &path, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail audit: %s\n", err);
        goto out;
    }
    if (!(st = store_open(path, STORE_READONLY, err, sizeof err))) {
        fprintf(stderr, "tunetrail audit: cannot open store %s: %s\n", store_shown(path, (char[1024]){0}, 1024), err);
        goto out;
    }
    if (!(r = store_reader_open(st, err, sizeof err)) ||
        !(n = store_read_audit_counts(r, study, err, sizeof err))) {
        fprintf(stderr, "tunetrail audit: %s\n", err);
        goto out;
    }
    if (study && !store_read_study_exists(r, study)) {
        char *names = store_read_study_names(r);
        fprintf(stderr, "tunetrail audit: no study '%s' in %s (studies: %s)\n", study, path,
                names ? names : "?");
        free(names);
        goto out;
    }
    struct section ref = {json, json_integer_value(json_object_get(n, "refused")), 0};
    struct section rec = {json, json_integer_value(json_object_get(n, "flagged")), 0};
    struct section war = {json, json_integer_value(json_object_get(n, "notes")), 0};
    const char *of = study ? " of study " : "", *sn = study ? study : "";
    if (!json) {
        printf("Refused events%s%s: %lld%s\n", of, sn, ref.total, ref.total ? " (never applied)" : "");
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(n, "reasons"), i, w)
            printf("  %8lld  %s\n", (long long)json_integer_value(json_object_get(w, "count")),
                   jstr(w, "why"));
        if (ref.total)
            printf("  %-19s  %-8s  %-19s  %-13s  %s\n", "RECEIVED", "SENDER", "ORIGIN:SEQ", "EVENT",
                   "WHY");
    }
    if (store_read_refusals(r, study, refusal_line, &ref, err, sizeof err) < 0)
        goto fail;
    more(&ref, "refusals");
    if (!json) {
        printf("\nFlagged batches%s%s: %lld%s\n", of, sn, rec.total,
               rec.total ? " (stored; their times or names are suspect)" : "");
        if (rec.total)
            printf("  %-19s  %-42s  %-8s  %s\n", "RECEIVED", "CLIENT EVENT TIMES", "SENDER", "FLAGS");
    }
    if (store_read_flagged(r, study, received_line, &rec, err, sizeof err) < 0)
        goto fail;
    more(&rec, "flagged batches");
    if (!json) {
        printf("\nWarnings%s%s: %lld\n", of, sn, war.total);
        if (war.total)
            printf("  %-19s  %-5s  %-16s  %-16s  %s\n", "TIME", "LEVEL", "STUDY", "PROCESS", "TEXT");
    }
    if (store_read_warnings(r, study, note_line, &war, err, sizeof err) < 0)
        goto fail;
    more(&war, "warnings");
    if (!json && (ref.total || rec.total || war.total))
        printf("\n`tunetrail audit --help` says what each section means and what to do.\n");
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "tunetrail audit: %s\n", err);
out:
    json_decref(n);
    store_reader_close(r);
    store_close(st);
    free(path);
    return rc;
}
