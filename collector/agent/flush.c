/* flush.c - agent_flush (`tunetrail flush`): ships every spool under $TUNETRAIL_HOME/spool.
 *
 * agent-*.spool of dead agents (their flock is free): unacked batches are
 * resent as they are (same sender + batch_seq: the collector dedupes), and
 * ACKED frames are appended as acks arrive, so a cut-off flush resumes.
 * shim-*.spool whose flock is held belong to live processes (the shim holds
 * it while its process runs, e.g. one a `tunetrail run` left behind): they
 * are skipped, for a later flush. The others' process is gone, so an image
 * in them without an end record was killed.
 * shim-*.spool: their events go through trials.c (hashes, killed ends; for
 * bare runs the root-fallback trials) into new batches from a fresh sender
 * uuid, spooled first in a flush spool of our own (an agent-*.spool, so a
 * failed flush is picked up by the next). A file is deleted only once every
 * batch holding its events is acked.
 * Damage: the reader skips a damaged frame and resyncs on the next valid one
 * (spool.c); every skip is reported with its file and byte offset, and a
 * damaged file is moved to spool/damaged/ (hard link first, so its shipped
 * records are out of the spool dir only once they are delivered) instead of
 * being deleted. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "paths.h"
#include "ship.h"
#include "sink.h"
#include "spool.h"
#include "trials.h"
#include "tt_env.h"
#include "wire.h"
#include "util.h"

#define FLUSH_ACK_WAIT_MS 10000

struct names {
    char **v;
    size_t n;
};

static void names_add(struct names *ns, char *s)
{
    char **p = realloc(ns->v, (ns->n + 1) * sizeof *p);
    if (!p) {
        free(s);
        return;
    }
    ns->v = p;
    ns->v[ns->n++] = s;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

/* What a flush did, for its summary. */
struct flush_tally {
    uint64_t events, dups;
    size_t files, kept, kept_events, live;
    size_t damaged_files, damaged_regions, damaged_bytes;
};

/* Says what the reader skipped in path and keeps the file under damaged/;
 * counts it. Returns -1 if the file could not be kept (then it must not be
 * deleted). */
static int report_damage(const char *path, const struct spool_contents *sc, struct flush_tally *t)
{
    if (!sc->ndamage)
        return 0;
    char kept[PATH_MAX], err[TT_ERR_MAX];
    for (size_t i = 0; i < sc->ndamage; i++)
        fprintf(stderr, "tunetrail flush: %s: skipped %zu damaged bytes at offset %zu (%s)\n", path,
                sc->damage[i].len, sc->damage[i].off, sc->damage[i].why);
    for (size_t i = 0; i < sc->nbatch; i++)
        if (sc->batch[i].recovered)
            fprintf(stderr, "tunetrail flush: %s: session start recovered from its copy\n", path);
    t->damaged_files++;
    t->damaged_regions += sc->ndamage;
    t->damaged_bytes += sc->damaged_bytes;
    if (spool_keep_damaged(path, kept, sizeof kept, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        return -1;
    }
    fprintf(stderr, "tunetrail flush: %s: the rest was read; the file is kept as %s\n", path, kept);
    return 0;
}

/* Sorts the spool directory's files into dead-or-live agents' spools, shim
 * spools of sessions, and shim spools of bare runs (paths malloc'd). */
static int list_spools(const char *dir, struct names *agents, struct names *shims, struct names *bare)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "tunetrail flush: cannot read %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
            continue;
        if (!fnmatch(TT_SPOOL_AGENT_GLOB, de->d_name, 0))
            names_add(agents, p);
        else if (!fnmatch(TT_SPOOL_SHIM_BARE_GLOB, de->d_name, 0))
            names_add(bare, p);
        else if (!fnmatch(TT_SPOOL_SHIM_GLOB, de->d_name, 0))
            names_add(shims, p);
        else
            free(p);
    }
    closedir(d);
    return 0;
}

/* Waits for ship's acks and counts them; 1 if everything was acked, else 0
 * with what is left counted as kept. */
static int drain_and_count(tt_ship *ship, struct flush_tally *t)
{
    size_t left = 0, left_ev = 0;
    if (ship) {
        ship_drain(ship, FLUSH_ACK_WAIT_MS);
        left = ship_pending(ship, &left_ev);
        t->events += ship_stats(ship)->events_acked;
        t->dups += ship_stats(ship)->duplicates;
    }
    if (ship && left == 0)
        return 1;
    t->kept++;
    t->kept_events += left_ev;
    return 0;
}

/* A dead agent's spool: its unacked batches are resent as they are. */
static void flush_agent_spool(tt_sink *sink, const char *path, struct flush_tally *t)
{
    char err[TT_ERR_MAX];
    int fd = spool_open_locked(path, 0, err, sizeof err);
    if (fd < 0)
        return; /* a live agent (or gone already): not ours to ship */
    struct spool_contents sc;
    if (spool_load_fd(fd, &sc, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        close(fd);
        t->kept++;
        return;
    }
    if (report_damage(path, &sc, t) < 0) {
        spool_contents_free(&sc);
        close(fd);
        t->kept++;
        return;
    }
    uint8_t sender[16] = {0};
    tt_ship *ship = ship_new(sink, fd, sender);
    for (size_t k = 0; ship && k < sc.nbatch; k++)
        if (!sc.batch[k].acked &&
            ship_raw(ship, sc.batch[k].seq, sc.batch[k].buf, sc.batch[k].len, sc.batch[k].nevents, err,
                     sizeof err) < 0)
            fprintf(stderr, "tunetrail flush: %s\n", err);
    t->files++;
    if (drain_and_count(ship, t))
        unlink(path);
    ship_free(ship);
    spool_contents_free(&sc);
    close(fd);
}

/* Feeds the shim spools in ns that are not live through trials; marks the
 * ones taken in taken[]. */
static void feed_shim_spools(tt_trials *trials, struct names *ns, int *taken, struct flush_tally *t)
{
    char err[TT_ERR_MAX];
    for (size_t i = 0; i < ns->n; i++) {
        struct spool_contents sc;
        int is_live, r = spool_take_shim(ns->v[i], &sc, &is_live, err, sizeof err);
        t->live += is_live;
        if (r < 0)
            fprintf(stderr, "tunetrail flush: %s\n", err);
        if (r <= 0)
            continue;
        report_damage(ns->v[i], &sc, t); /* spool_take_shim kept it already */
        for (size_t k = 0; k < sc.nbatch; k++)
            if (trials_feed(trials, -1, sc.batch[k].buf, sc.batch[k].len, err, sizeof err) < 0)
                fprintf(stderr, "tunetrail flush: %s: %s\n", ns->v[i], err);
        spool_contents_free(&sc);
        taken[i] = 1;
        t->files++;
    }
}

/* One group of shim spools, shipped from a fresh sender through a flush
 * spool of our own; bare runs also get root-fallback trials. */
static void flush_shim_group(tt_sink *sink, const char *dir, struct names *ns, int bare,
                             struct flush_tally *t)
{
    char err[TT_ERR_MAX], hex[TT_UUID_HEX_LEN + 1], *fpath = NULL;
    uint8_t sender[16];
    wire_uuid_new(sender);
    wire_hex(hex, sender, 16);
    if (asprintf(&fpath, "%s/" TT_SPOOL_AGENT_FMT, dir, hex) < 0)
        return;
    int fd = spool_open_locked(fpath, 1, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        free(fpath);
        return;
    }
    tt_ship *ship = ship_new(sink, fd, sender);
    struct trials_config tcfg = {.session = NULL};
    memcpy(tcfg.origin, sender, 16);
    tt_trials *trials = ship ? trials_new(&tcfg, ship) : NULL;
    int *taken = calloc(ns->n, sizeof *taken);
    if (trials && taken)
        feed_shim_spools(trials, ns, taken, t);
    if (trials) {
        trials_finish(trials, 1, err, sizeof err);
        if (bare)
            trials_root_fallback(trials, err, sizeof err);
    }
    /* our own spool now holds every event durably: the shim files can go */
    if (ship && ship_seal(ship, err, sizeof err) == 0)
        for (size_t i = 0; i < ns->n; i++)
            if (taken && taken[i])
                unlink(ns->v[i]);
    if (drain_and_count(ship, t))
        unlink(fpath);
    trials_free(trials);
    ship_free(ship);
    free(taken);
    close(fd);
    free(fpath);
}

int agent_flush(const struct agent_flush_opts *o)
{
    char err[TT_ERR_MAX];
    char *store = NULL, *dir = NULL;
    int rc = 1;
    tt_sink *sink = NULL;
    struct names agents = {0}, shims = {0}, bare = {0};
    struct flush_tally t = {0};
    if (paths_store(o->store, &store, err, sizeof err) < 0 || paths_spool_dir(&dir, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    if (list_spools(dir, &agents, &shims, &bare) < 0)
        goto out;
    if (!(sink = sink_open(o->collector, store, err, sizeof err))) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < agents.n; i++)
        flush_agent_spool(sink, agents.v[i], &t);
    /* session fallbacks first, then bare runs */
    if (shims.n)
        flush_shim_group(sink, dir, &shims, 0, &t);
    if (bare.n)
        flush_shim_group(sink, dir, &bare, 1, &t);
    printf("tunetrail flush: shipped %llu events from %zu spool files to %s (%llu already stored)",
           (unsigned long long)t.events, t.files, sink_dest(sink), (unsigned long long)t.dups);
    if (t.damaged_files)
        printf("; skipped %zu damaged regions (%zu bytes) in %zu files, kept in %s/" TT_SPOOL_DAMAGED,
               t.damaged_regions, t.damaged_bytes, t.damaged_files, dir);
    printf("\n");
    if (t.live)
        fprintf(stderr, "tunetrail flush: %zu spool files of processes still running left for a later flush\n",
                t.live);
    if (t.kept)
        fprintf(stderr, "tunetrail flush: %zu records in %zu spool files not delivered; kept in %s\n",
                t.kept_events, t.kept, dir);
    rc = t.kept ? 1 : t.damaged_files ? 3 : 0;
out:
    sink_close(sink);
    names_free(&agents);
    names_free(&shims);
    names_free(&bare);
    free(store);
    free(dir);
    return rc;
}
