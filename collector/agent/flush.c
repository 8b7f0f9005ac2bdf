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

/* What a dead agent's spool says of its session, read before the spool is
 * shipped and deleted: its --trial patterns (from its SessionStart), and
 * the trials the agent made (process, opened_by), which a replay of the
 * session's shim spools and journal must not make again. */
struct made {
    uint8_t process[16];
    char *opened_by;
};
struct session_info {
    char hex[TT_UUID_HEX_LEN + 1];
    char **patterns;
    size_t npatterns;
    struct made *made;
    size_t nmade;
};
struct sessions {
    struct session_info *v;
    size_t n;
};

static void sessions_free(struct sessions *ss)
{
    for (size_t i = 0; i < ss->n; i++) {
        for (size_t k = 0; k < ss->v[i].npatterns; k++)
            free(ss->v[i].patterns[k]);
        free(ss->v[i].patterns);
        for (size_t k = 0; k < ss->v[i].nmade; k++)
            free(ss->v[i].made[k].opened_by);
        free(ss->v[i].made);
    }
    free(ss->v);
}

static struct session_info *session_find(struct sessions *ss, const char *hex)
{
    for (size_t i = 0; i < ss->n; i++)
        if (!strcmp(ss->v[i].hex, hex))
            return &ss->v[i];
    return NULL;
}

/* Reads an agent spool's SessionStart and agent-made trials into ss. */
static void session_learn(struct sessions *ss, const struct spool_contents *sc)
{
    struct session_info *si = NULL;
    for (size_t k = 0; k < sc->nbatch; k++) {
        Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, sc->batch[k].len, sc->batch[k].buf);
        if (!b)
            continue;
        for (size_t e = 0; e < b->n_events; e++) {
            const Tunetrail__Event *ev = b->events[e];
            if (ev->kind_case == TUNETRAIL__EVENT__KIND_SESSION_START && ev->session_start->has_session &&
                ev->session_start->session.len == 16 && !si) {
                char hex[TT_UUID_HEX_LEN + 1];
                wire_hex(hex, ev->session_start->session.data, 16);
                if (session_find(ss, hex))
                    continue;
                struct session_info *nv = realloc(ss->v, (ss->n + 1) * sizeof *nv);
                if (!nv)
                    continue;
                ss->v = nv;
                si = &ss->v[ss->n++];
                memset(si, 0, sizeof *si);
                memcpy(si->hex, hex, sizeof hex);
                const Tunetrail__SessionStart *st = ev->session_start;
                si->patterns = calloc(st->n_trial_patterns + 1, sizeof *si->patterns);
                for (size_t i = 0; si->patterns && i < st->n_trial_patterns; i++)
                    if ((si->patterns[si->npatterns] = strdup(st->trial_patterns[i])))
                        si->npatterns++;
            } else if (ev->kind_case == TUNETRAIL__EVENT__KIND_TRIAL_START && si && ev->has_origin &&
                       ev->origin.len == 16 && b->has_sender && b->sender.len == 16 &&
                       !memcmp(ev->origin.data, b->sender.data, 16) && ev->trial_start->has_process &&
                       ev->trial_start->process.len == 16 && ev->trial_start->opened_by) {
                struct made *nm = realloc(si->made, (si->nmade + 1) * sizeof *nm);
                if (!nm)
                    continue;
                si->made = nm;
                memcpy(nm[si->nmade].process, ev->trial_start->process.data, 16);
                if ((nm[si->nmade].opened_by = strdup(ev->trial_start->opened_by)))
                    si->nmade++;
            }
        }
        tunetrail__batch__free_unpacked(b, NULL);
    }
}

/* What a flush did, for its summary. */
struct flush_tally {
    uint64_t events, dups;
    size_t files, kept, kept_events, live;
    size_t damaged_files, damaged_regions, damaged_bytes;
    const char *store_error; /* the collector's store fault that kept records, if any */
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
    if (ship && ship_store_error(ship))
        t->store_error = ship_store_error(ship);
    t->kept++;
    t->kept_events += left_ev;
    return 0;
}

/* A dead agent's spool: its unacked batches are resent as they are. */
static void flush_agent_spool(tt_sink *sink, const char *path, struct sessions *ss, struct flush_tally *t)
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
    session_learn(ss, &sc);
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

/* Datagrams already fed, by (sender, batch_seq): a shim spools the copies
 * a killed agent did not ack, and the agent's journal may hold some of
 * them already. Open addressing, grown at half load. */
struct seen {
    struct seen_key {
        uint8_t sender[16];
        uint64_t seq;
        int used;
    } *v;
    size_t cap, n;
};

static size_t seen_hash(const uint8_t s[16], uint64_t seq)
{
    uint64_t h;
    memcpy(&h, s, 8);
    return (size_t)((h ^ (seq * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull >> 7);
}

/* 1 if (sender, seq) was seen, else records it and returns 0. */
static int seen_check(struct seen *sn, const uint8_t s[16], uint64_t seq)
{
    if (2 * (sn->n + 1) > sn->cap) {
        size_t nc = sn->cap ? sn->cap * 2 : 1024;
        struct seen_key *nv = calloc(nc, sizeof *nv);
        if (!nv)
            return 0;
        for (size_t i = 0; i < sn->cap; i++)
            if (sn->v[i].used) {
                size_t j = seen_hash(sn->v[i].sender, sn->v[i].seq) & (nc - 1);
                while (nv[j].used)
                    j = (j + 1) & (nc - 1);
                nv[j] = sn->v[i];
            }
        free(sn->v);
        sn->v = nv;
        sn->cap = nc;
    }
    size_t j = seen_hash(s, seq) & (sn->cap - 1);
    for (; sn->v[j].used; j = (j + 1) & (sn->cap - 1))
        if (sn->v[j].seq == seq && !memcmp(sn->v[j].sender, s, 16))
            return 1;
    memcpy(sn->v[j].sender, s, 16);
    sn->v[j].seq = seq;
    sn->v[j].used = 1;
    sn->n++;
    return 0;
}

/* The sender and batch_seq of a packed Batch (its header comes first). */
static int batch_id(const uint8_t *buf, size_t len, uint8_t sender[16], uint64_t *seq)
{
    Tunetrail__Batch *b = tunetrail__batch__unpack(NULL, len, buf);
    if (!b)
        return -1;
    int ok = b->has_sender && b->sender.len == 16 && b->has_batch_seq;
    if (ok) {
        memcpy(sender, b->sender.data, 16);
        *seq = b->batch_seq;
    }
    tunetrail__batch__free_unpacked(b, NULL);
    return ok ? 0 : -1;
}

/* Drops the trials a killed agent already made (struct session_info) when
 * the replay makes them again, with every event that names them. */
struct replay {
    const struct session_info *si;
    uint8_t origin[16]; /* the flush's own events */
    uint8_t (*dropped)[16];
    size_t ndropped;
};

static int replay_filter(void *arg, const Tunetrail__Event *ev)
{
    struct replay *rp = arg;
    if (!rp->si || !ev->has_origin || ev->origin.len != 16 || memcmp(ev->origin.data, rp->origin, 16))
        return 0;
    const ProtobufCBinaryData *trial = NULL;
    switch (ev->kind_case) {
    case TUNETRAIL__EVENT__KIND_TRIAL_START: {
        const Tunetrail__TrialStart *ts = ev->trial_start;
        if (!ts->has_process || ts->process.len != 16 || !ts->opened_by || !ts->has_trial || ts->trial.len != 16)
            return 0;
        for (size_t i = 0; i < rp->si->nmade; i++)
            if (!memcmp(rp->si->made[i].process, ts->process.data, 16) &&
                !strcmp(rp->si->made[i].opened_by, ts->opened_by)) {
                uint8_t(*nd)[16] = realloc(rp->dropped, (rp->ndropped + 1) * sizeof *nd);
                if (!nd)
                    return 1;
                rp->dropped = nd;
                memcpy(nd[rp->ndropped++], ts->trial.data, 16);
                return 1;
            }
        return 0;
    }
    case TUNETRAIL__EVENT__KIND_PARAM: trial = ev->param->has_trial ? &ev->param->trial : NULL; break;
    case TUNETRAIL__EVENT__KIND_METRIC: trial = ev->metric->has_trial ? &ev->metric->trial : NULL; break;
    case TUNETRAIL__EVENT__KIND_TRIAL_END: trial = ev->trial_end->has_trial ? &ev->trial_end->trial : NULL; break;
    default: return 0;
    }
    for (size_t i = 0; trial && trial->len == 16 && i < rp->ndropped; i++)
        if (!memcmp(rp->dropped[i], trial->data, 16))
            return 1;
    return 0;
}

/* Feeds the shim spools in ns[from, to) that are not live through trials,
 * each datagram once; marks the ones taken in taken[]. */
static void feed_shim_spools(tt_trials *trials, struct names *ns, size_t from, size_t to, int *taken,
                             struct seen *sn, struct flush_tally *t)
{
    char err[TT_ERR_MAX];
    for (size_t i = from; i < to; i++) {
        struct spool_contents sc;
        int is_live, r = spool_take_shim(ns->v[i], &sc, &is_live, err, sizeof err);
        t->live += is_live;
        if (r < 0)
            fprintf(stderr, "tunetrail flush: %s\n", err);
        if (r <= 0)
            continue;
        report_damage(ns->v[i], &sc, t); /* spool_take_shim kept it already */
        for (size_t k = 0; k < sc.nbatch; k++) {
            uint8_t snd[16];
            uint64_t bs;
            if (batch_id(sc.batch[k].buf, sc.batch[k].len, snd, &bs) == 0 && seen_check(sn, snd, bs))
                continue;
            if (trials_feed(trials, -1, sc.batch[k].buf, sc.batch[k].len, err, sizeof err) < 0)
                fprintf(stderr, "tunetrail flush: %s: %s\n", ns->v[i], err);
        }
        spool_contents_free(&sc);
        taken[i] = 1;
        t->files++;
    }
}

/* The session part of a shim spool's name ("shim-<session>-<process>.spool"),
 * into hex; "" if it is not one. */
static void spool_session(const char *path, char hex[TT_UUID_HEX_LEN + 1])
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    hex[0] = 0;
    size_t pl = strlen(TT_SPOOL_SHIM);
    if (strncmp(b, TT_SPOOL_SHIM, pl) || strlen(b + pl) < TT_UUID_HEX_LEN)
        return;
    memcpy(hex, b + pl, TT_UUID_HEX_LEN);
    hex[TT_UUID_HEX_LEN] = 0;
}

/* Orders a session's shim spools: sessions together, and in each session
 * the agent's journal (shim-<S>-<S>.spool, what the agent took) before the
 * shims' own spools (what it did not). */
static int shim_order(const void *a, const void *b)
{
    const char *pa = *(char *const *)a, *pb = *(char *const *)b;
    char sa[TT_UUID_HEX_LEN + 1], sb[TT_UUID_HEX_LEN + 1];
    spool_session(pa, sa);
    spool_session(pb, sb);
    int c = strcmp(sa, sb);
    if (c)
        return c;
    char ja[PATH_MAX], jb[PATH_MAX];
    const char *ba = strrchr(pa, '/'), *bb = strrchr(pb, '/');
    snprintf(ja, sizeof ja, TT_SPOOL_SHIM "%s" TT_SPOOL_SEP "%s" TT_SPOOL_EXT, sa, sa);
    snprintf(jb, sizeof jb, TT_SPOOL_SHIM "%s" TT_SPOOL_SEP "%s" TT_SPOOL_EXT, sb, sb);
    int jna = !strcmp(ba ? ba + 1 : pa, ja), jnb = !strcmp(bb ? bb + 1 : pb, jb);
    if (jna != jnb)
        return jnb - jna;
    return strcmp(pa, pb);
}

/* Shim spools ns[from, to), shipped from a fresh sender through a flush
 * spool of our own; si (may be NULL) is their session as its killed
 * agent's spool told: its --trial patterns apply as they would have live.
 * Bare runs also get root-fallback trials. */
static void flush_shim_group(tt_sink *sink, const char *dir, struct names *ns, size_t from, size_t to,
                             const struct session_info *si, int bare, struct flush_tally *t)
{
    char err[TT_ERR_MAX], hex[TT_UUID_HEX_LEN + 1], *fpath = NULL;
    uint8_t sender[16], session[16];
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
    struct replay rp = {.si = si};
    memcpy(rp.origin, sender, 16);
    if (ship)
        ship_set_filter(ship, replay_filter, &rp);
    struct trials_config tcfg = {.session = NULL};
    memcpy(tcfg.origin, sender, 16);
    if (si) {
        tcfg.patterns = si->patterns;
        tcfg.npatterns = si->npatterns;
        if (wire_unhex(session, si->hex, 16) == 0)
            tcfg.session = session;
    }
    tt_trials *trials = ship ? trials_new(&tcfg, ship) : NULL;
    int *taken = calloc(ns->n, sizeof *taken);
    struct seen sn = {0};
    if (trials && taken)
        feed_shim_spools(trials, ns, from, to, taken, &sn, t);
    if (trials) {
        trials_finish(trials, 1, err, sizeof err);
        if (bare)
            trials_root_fallback(trials, err, sizeof err);
    }
    /* our own spool now holds every event durably: the shim files can go */
    if (ship && ship_seal(ship, err, sizeof err) == 0 && ship_held(ship, NULL) == 0)
        for (size_t i = from; i < to; i++)
            if (taken && taken[i])
                unlink(ns->v[i]);
    if (drain_and_count(ship, t))
        unlink(fpath);
    trials_free(trials);
    ship_free(ship);
    free(taken);
    free(sn.v);
    free(rp.dropped);
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
    struct sessions ss = {0};
    struct flush_tally t = {0};
    if (paths_store(o->store, &store, err, sizeof err) < 0 || paths_spool_dir(&dir, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    if (list_spools(dir, &agents, &shims, &bare) < 0)
        goto out;
    if (!(sink = sink_open_keyed(o->collector, store, o->collector_key, o->curve_key, err,
                                 sizeof err))) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < agents.n; i++)
        flush_agent_spool(sink, agents.v[i], &ss, &t);
    /* session fallbacks first, one group per session, then bare runs */
    if (shims.n)
        qsort(shims.v, shims.n, sizeof *shims.v, shim_order);
    for (size_t i = 0, j; i < shims.n; i = j) {
        char hex[TT_UUID_HEX_LEN + 1], hj[TT_UUID_HEX_LEN + 1];
        spool_session(shims.v[i], hex);
        for (j = i + 1; j < shims.n; j++) {
            spool_session(shims.v[j], hj);
            if (strcmp(hex, hj))
                break;
        }
        flush_shim_group(sink, dir, &shims, i, j, session_find(&ss, hex), 0, &t);
    }
    if (bare.n)
        flush_shim_group(sink, dir, &bare, 0, bare.n, NULL, 1, &t);
    printf("tunetrail flush: shipped %llu events from %zu spool files to %s (%llu already stored)",
           (unsigned long long)t.events, t.files, sink_dest(sink), (unsigned long long)t.dups);
    if (t.damaged_files)
        printf("; skipped %zu damaged regions (%zu bytes) in %zu files, kept in %s/" TT_SPOOL_DAMAGED,
               t.damaged_regions, t.damaged_bytes, t.damaged_files, dir);
    printf("\n");
    if (t.live)
        fprintf(stderr, "tunetrail flush: %zu spool files of processes still running left for a later flush\n",
                t.live);
    const char *hs = sink_handshake_refused(sink);
    if (t.kept && t.store_error) /* it answered: not a network fault, and not the records' */
        fprintf(stderr, "tunetrail flush: %s %s: %s; records stay in the spool (%zu records in "
                        "%zu spool files, in %s); run `tunetrail flush` again once it is fixed\n",
                sink_zmq_socket(sink) ? "collector" : "store", sink_dest(sink), t.store_error,
                t.kept_events, t.kept, dir);
    else if (t.kept)
        fprintf(stderr, "tunetrail flush: %zu records in %zu spool files not delivered%s%s; kept in %s\n",
                t.kept_events, t.kept, hs ? ": the collector " : "", hs ? hs : "", dir);
    sink_say_unverified(sink, "tunetrail flush");
    rc = t.kept ? 1 : t.damaged_files ? 3 : 0;
out:
    sink_close(sink);
    names_free(&agents);
    names_free(&shims);
    names_free(&bare);
    sessions_free(&ss);
    free(store);
    free(dir);
    return rc;
}
