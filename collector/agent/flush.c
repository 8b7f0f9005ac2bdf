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
 * batch holding its events is acked. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
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

int agent_flush(const struct agent_flush_opts *o)
{
    const char *collector = o->collector, *store_flag = o->store;
    char err[512];
    char *store = NULL, *dir = NULL;
    int rc = 1;
    tt_sink *sink = NULL;
    struct names agents = {0}, shims = {0}, bare = {0};
    if (paths_store(store_flag, &store, err, sizeof err) < 0 || paths_spool_dir(&dir, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "tunetrail flush: cannot read %s: %s\n", dir, strerror(errno));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
            continue;
        if (!fnmatch("agent-*.spool", de->d_name, 0))
            names_add(&agents, p);
        else if (!fnmatch("shim-bare-*.spool", de->d_name, 0))
            names_add(&bare, p);
        else if (!fnmatch("shim-*.spool", de->d_name, 0))
            names_add(&shims, p);
        else
            free(p);
    }
    closedir(d);
    if (!(sink = sink_open(collector, store, err, sizeof err))) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    uint64_t events = 0, dups = 0;
    size_t files = 0, kept = 0, kept_events = 0, live = 0;

    /* 1. dead agents' spools: resend unacked batches as they are */
    for (size_t i = 0; i < agents.n; i++) {
        int fd = spool_open_locked(agents.v[i], 0, err, sizeof err);
        if (fd < 0)
            continue; /* a live agent (or gone already): not ours to ship */
        struct spool_contents sc;
        if (spool_load_fd(fd, &sc, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail flush: %s\n", err);
            close(fd);
            kept++;
            continue;
        }
        uint8_t sender[16] = {0};
        tt_ship *ship = ship_new(sink, fd, sender);
        for (size_t k = 0; ship && k < sc.nbatch; k++)
            if (!sc.batch[k].acked &&
                ship_raw(ship, sc.batch[k].seq, sc.batch[k].buf, sc.batch[k].len, sc.batch[k].nevents, err,
                         sizeof err) < 0)
                fprintf(stderr, "tunetrail flush: %s\n", err);
        if (ship)
            ship_drain(ship, FLUSH_ACK_WAIT_MS);
        size_t left = 0, left_ev = 0;
        if (ship) {
            left = ship_pending(ship, &left_ev);
            events += ship_stats(ship)->events_acked;
            dups += ship_stats(ship)->duplicates;
        }
        files++;
        if (ship && left == 0) {
            unlink(agents.v[i]);
        } else {
            kept++;
            kept_events += left_ev;
        }
        ship_free(ship);
        spool_contents_free(&sc);
        close(fd);
    }

    /* 2. shim spools, in two groups: session fallbacks, then bare runs (which
     * also get root-fallback trials) */
    struct names *groups[2] = {&shims, &bare};
    for (int g = 0; g < 2; g++) {
        struct names *ns = groups[g];
        if (!ns->n)
            continue;
        uint8_t sender[16];
        char hex[TT_UUID_HEX_LEN + 1];
        wire_uuid_new(sender);
        wire_hex(hex, sender, 16);
        char *fpath = NULL;
        if (asprintf(&fpath, "%s/agent-%s.spool", dir, hex) < 0)
            continue;
        int fd = spool_open_locked(fpath, 1, err, sizeof err);
        if (fd < 0) {
            fprintf(stderr, "tunetrail flush: %s\n", err);
            free(fpath);
            continue;
        }
        tt_ship *ship = ship_new(sink, fd, sender);
        struct trials_config rcfg = {.session = NULL};
        memcpy(rcfg.origin, sender, 16);
        tt_trials *trials = ship ? trials_new(&rcfg, ship) : NULL;
        int *taken = calloc(ns->n, sizeof *taken);
        for (size_t i = 0; trials && taken && i < ns->n; i++) {
            struct spool_contents sc;
            int is_live, t = spool_take_shim(ns->v[i], &sc, &is_live, err, sizeof err);
            live += is_live;
            if (t < 0)
                fprintf(stderr, "tunetrail flush: %s\n", err);
            if (t <= 0)
                continue;
            for (size_t k = 0; k < sc.nbatch; k++)
                if (trials_feed(trials, -1, sc.batch[k].buf, sc.batch[k].len, err, sizeof err) < 0)
                    fprintf(stderr, "tunetrail flush: %s: %s\n", ns->v[i], err);
            spool_contents_free(&sc);
            taken[i] = 1;
            files++;
        }
        if (trials) {
            trials_finish(trials, 1, err, sizeof err);
            if (g == 1)
                trials_root_fallback(trials, err, sizeof err);
        }
        /* our own spool now holds every event durably: the shim files can go */
        if (ship && ship_seal(ship, err, sizeof err) == 0)
            for (size_t i = 0; i < ns->n; i++)
                if (taken && taken[i])
                    unlink(ns->v[i]);
        if (ship)
            ship_drain(ship, FLUSH_ACK_WAIT_MS);
        size_t left = 0, left_ev = 0;
        if (ship) {
            left = ship_pending(ship, &left_ev);
            events += ship_stats(ship)->events_acked;
            dups += ship_stats(ship)->duplicates;
        }
        if (ship && left == 0) {
            unlink(fpath);
        } else {
            kept++;
            kept_events += left_ev;
        }
        trials_free(trials);
        ship_free(ship);
        free(taken);
        close(fd);
        free(fpath);
    }
    printf("tunetrail flush: shipped %llu events from %zu spool files to %s (%llu already stored)\n",
           (unsigned long long)events, files, sink_dest(sink), (unsigned long long)dups);
    if (live)
        fprintf(stderr, "tunetrail flush: %zu spool files of processes still running left for a later flush\n",
                live);
    if (kept) {
        fprintf(stderr, "tunetrail flush: %zu records in %zu spool files not delivered; kept in %s\n",
                kept_events, kept, dir);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    sink_close(sink);
    names_free(&agents);
    names_free(&shims);
    names_free(&bare);
    free(store);
    free(dir);
    return rc;
}
