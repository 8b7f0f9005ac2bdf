/* slog.c - see slog.h. */
#include "slog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "checkpoint.h"
#include "keys.h"
#include "leaf.h"
#include "merkle.h"
#include "jsonfmt.h"
#include "store_files.h"
#include "util.h"

const char *slog_schema_sql =
    "CREATE TABLE IF NOT EXISTS log(study TEXT NOT NULL, idx INTEGER NOT NULL,"
    " trial_id INTEGER NOT NULL, leaf TEXT NOT NULL, hash BLOB NOT NULL, time_ns INTEGER,"
    " PRIMARY KEY(study, idx)) WITHOUT ROWID;\n"
    "CREATE INDEX IF NOT EXISTS log_trial ON log(trial_id);\n"
    "CREATE TABLE IF NOT EXISTS log_head(study TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " frontier BLOB NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS checkpoints(study TEXT NOT NULL, tree_size INTEGER NOT NULL,"
    " root BLOB NOT NULL, key BLOB NOT NULL, sig BLOB NOT NULL, time_ns INTEGER,"
    " PRIMARY KEY(study, tree_size));\n"
    "CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log"
    " BEGIN SELECT RAISE(ABORT, 'the study log is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log"
    " BEGIN SELECT RAISE(ABORT, 'the study log is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'the study log is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'the study log is append-only'); END;\n";

/* A trial is final for the log: its process ended (then trial_view.status
 * is never 'running') and it has a study (trial_view.study). On the base
 * tables, not trial_view: SQLite cannot flatten that view's LEFT JOIN of
 * process_view and would materialize every process per lookup. */
#define CAND_COLS                                                                                \
    "SELECT t.id, COALESCE(t.started_ns, p.started_ns), COALESCE(s.study, p.study), t.process"    \
    " FROM trials t JOIN processes p ON p.uuid = t.process"                                       \
    " LEFT JOIN sessions s ON s.uuid = p.session"
#define CAND_FINAL " AND p.end_how IS NOT NULL AND COALESCE(s.study, p.study) IS NOT NULL"

enum {
    L_CAND_TRIAL, L_CAND_PROC, L_CAND_SESSION, L_CAND_ALL, L_LAST_LEAF, L_HEAD_GET, L_HEAD_PUT,
    L_LOG_ADD, L_CKPT_ADD, L_SEALED_TRIALS, L_SEALED_PROCS, L_HAS_METRICS, L_HAS_FILES, L__COUNT
};

static const char *log_sql[L__COUNT] = {
    [L_CAND_TRIAL] = CAND_COLS " WHERE t.id = ?1" CAND_FINAL,
    [L_CAND_PROC] = CAND_COLS " WHERE t.process = ?1" CAND_FINAL,
    [L_CAND_SESSION] = CAND_COLS " WHERE t.process IN (SELECT uuid FROM processes WHERE session = ?1)"
                       CAND_FINAL,
    [L_CAND_ALL] = CAND_COLS " WHERE NOT EXISTS (SELECT 1 FROM log l WHERE l.trial_id = t.id)"
                   CAND_FINAL,
    [L_LAST_LEAF] = "SELECT leaf FROM log WHERE trial_id = ?1 AND study = ?2"
                    " ORDER BY idx DESC LIMIT 1",
    [L_HEAD_GET] = "SELECT size, frontier FROM log_head WHERE study = ?1",
    [L_HEAD_PUT] = "INSERT INTO log_head(study, size, frontier) VALUES(?1,?2,?3)"
                   " ON CONFLICT(study) DO UPDATE SET size = excluded.size,"
                   " frontier = excluded.frontier",
    [L_LOG_ADD] = "INSERT INTO log(study, idx, trial_id, leaf, hash, time_ns)"
                  " VALUES(?1,?2,?3,?4,?5,?6)",
    [L_CKPT_ADD] = "INSERT INTO checkpoints(study, tree_size, root, key, sig, time_ns)"
                   " VALUES(?1,?2,?3,?4,?5,?6)",
    [L_SEALED_TRIALS] = "SELECT 1 FROM log WHERE trial_id = ?1 LIMIT 1",
    [L_HAS_METRICS] = "SELECT 1 FROM metrics WHERE trial_id = ?1 LIMIT 1",
    [L_HAS_FILES] = "SELECT 1 FROM files WHERE process = ?1 LIMIT 1",
    [L_SEALED_PROCS] = "SELECT 1 FROM trials t JOIN log l ON l.trial_id = t.id"
                       " WHERE t.process = ?1 LIMIT 1",
};

/* ---- a set of 16-byte keys (uuids, or trial ids in the first 8 bytes)
 * with a batch mask each; cleared in O(entries) through the list of used
 * slots, since it is cleared every transaction. */
struct tset_slot {
    uint8_t key[16];
    uint64_t mask;
    int used;
};
struct tset {
    struct tset_slot *slots;
    size_t cap, n;
    size_t *order; /* used slot indexes, in insertion order */
};

static uint64_t tset_hash(const uint8_t *k)
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 8);
    return (a ^ (b * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
}

static struct tset_slot *tset_find(const struct tset *s, const uint8_t *k)
{
    if (!s->cap)
        return NULL;
    for (size_t i = tset_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i].used)
            return NULL;
        if (!memcmp(s->slots[i].key, k, 16))
            return &s->slots[i];
    }
}

static int tset_grow(struct tset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 256;
    struct tset_slot *ns = calloc(ncap, sizeof *ns);
    size_t *no = malloc(ncap / 2 * sizeof *no);
    if (!ns || !no) {
        free(ns);
        free(no);
        return -1;
    }
    for (size_t j = 0; j < s->n; j++) {
        struct tset_slot *o = &s->slots[s->order[j]];
        size_t i = tset_hash(o->key) & (ncap - 1);
        while (ns[i].used)
            i = (i + 1) & (ncap - 1);
        ns[i] = *o;
        no[j] = i;
    }
    free(s->slots);
    free(s->order);
    s->slots = ns;
    s->order = no;
    s->cap = ncap;
    return 0;
}

/* Adds k (or ORs mask into it). Returns 0, or -1 if out of memory. */
static int tset_add(struct tset *s, const uint8_t *k, uint64_t mask)
{
    struct tset_slot *e = tset_find(s, k);
    if (e) {
        e->mask |= mask;
        return 0;
    }
    if ((s->n + 1) * 2 > s->cap && tset_grow(s) < 0)
        return -1;
    size_t i = tset_hash(k) & (s->cap - 1);
    while (s->slots[i].used)
        i = (i + 1) & (s->cap - 1);
    memcpy(s->slots[i].key, k, 16);
    s->slots[i].mask = mask;
    s->slots[i].used = 1;
    s->order[s->n++] = i;
    return 0;
}

static void tset_clear(struct tset *s)
{
    for (size_t j = 0; j < s->n; j++)
        s->slots[s->order[j]].used = 0;
    s->n = 0;
}

static void tset_free(struct tset *s)
{
    free(s->slots);
    free(s->order);
    memset(s, 0, sizeof *s);
}

static void id_key(uint8_t k[16], int64_t id)
{
    memset(k, 0, 16);
    memcpy(k, &id, sizeof id);
}

static uint64_t batch_bit(unsigned batch) { return 1ull << (batch < 63 ? batch : 63); }

/* ---- each trial's last metric point per name, as stored through this
 * connection; the order is the leaf's (step, time, origin, seq). */
/* Trials tracked at once: past it, the next transaction starts afresh (and
 * the trials in flight then are read from the store). Only between
 * transactions: mid-transaction, some points may still wait in the store's
 * multi-row INSERT, where the "stored before?" query cannot see them. */
#define MSTATE_MAX 65536
struct mlast {
    char *name, *split, *direction;
    double value;
    int64_t step, time, origin, seq;
    int has_time;
};
struct mstate {
    int complete; /* every point of the trial went through slog_metric */
    struct mlast *v;
    size_t n, cap;
};

static void mstate_clear(struct mstate *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].split);
        free(m->v[i].direction);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* 1 if (step, time, origin, seq) of b sorts after a's (SQL: NULL time first). */
static int mlast_after(const struct mlast *a, int64_t step, int has_time, int64_t time,
                       int64_t origin, int64_t seq)
{
    if (step != a->step)
        return step > a->step;
    if (has_time != a->has_time)
        return has_time > a->has_time;
    if (has_time && time != a->time)
        return time > a->time;
    if (origin != a->origin)
        return origin > a->origin;
    return seq > a->seq;
}

/* Replaces *slot with a copy of s unless equal (split/direction repeat). */
static int str_set(char **slot, const char *s)
{
    if (!s) {
        free(*slot);
        *slot = NULL;
        return 0;
    }
    if (*slot && !strcmp(*slot, s))
        return 0;
    char *d = strdup(s);
    if (!d)
        return -1;
    free(*slot);
    *slot = d;
    return 0;
}

/* ---- each process's inputs and outputs, as stored through this
 * connection: per path and role the row STORE_FILES_SQL would pick (the
 * rule of store_files.h), computed in C as rows arrive. */
#define FSTATE_MAX 65536            /* processes tracked; checked between transactions */
#define FSTATE_BYTES_MAX (64u << 20) /* memory for paths; past it a process is read from the store */
struct fbest {
    int64_t key, size;
    uint8_t sha[32];
    unsigned char has, has_hash, has_size, env;
};
struct fent {
    char *path;
    uint64_t h;
    struct fbest in, out;
};
struct fstate {
    int complete; /* every file row of the process went through slog_file */
    struct fent *v;
    size_t n, cap, last; /* last: the entry hit last (a process rewrites one file) */
    uint32_t *ix;        /* open addressing over v (index + 1), once n > FSTATE_SCAN */
    size_t ixcap, bytes;
};
#define FSTATE_SCAN 8

static uint64_t path_hash(const char *p)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h;
}

static void fstate_clear(struct fstate *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].path);
    free(f->v);
    free(f->ix);
    memset(f, 0, sizeof *f);
}

/* Rebuilds f's index with room for twice its entries. -1 if out of memory. */
static int fstate_reindex(struct fstate *f)
{
    size_t cap = 64;
    while (cap < f->n * 2 + 2)
        cap *= 2;
    uint32_t *ix = calloc(cap, sizeof *ix);
    if (!ix)
        return -1;
    for (size_t j = 0; j < f->n; j++) {
        size_t i = f->v[j].h & (cap - 1);
        while (ix[i])
            i = (i + 1) & (cap - 1);
        ix[i] = (uint32_t)j + 1;
    }
    free(f->ix);
    f->ix = ix;
    f->ixcap = cap;
    return 0;
}

/* f's entry for path (hash h), or NULL. */
static struct fent *fstate_find(struct fstate *f, const char *path, uint64_t h)
{
    if (f->last < f->n && f->v[f->last].h == h && !strcmp(f->v[f->last].path, path))
        return &f->v[f->last];
    if (!f->ix) {
        for (size_t j = 0; j < f->n; j++)
            if (f->v[j].h == h && !strcmp(f->v[j].path, path))
                return &f->v[f->last = j];
        return NULL;
    }
    for (size_t i = h & (f->ixcap - 1); f->ix[i]; i = (i + 1) & (f->ixcap - 1)) {
        struct fent *e = &f->v[f->ix[i] - 1];
        if (e->h == h && !strcmp(e->path, path)) {
            f->last = f->ix[i] - 1;
            return e;
        }
    }
    return NULL;
}

/* Keeps the row (key, sha, size) in b if it sorts after b's. */
static void fbest_put(struct fbest *b, int64_t key, const uint8_t *sha, int has_size, int64_t size,
                      int env)
{
    if (b->has && key <= b->key)
        return;
    b->has = 1;
    b->key = key;
    b->has_hash = sha != NULL;
    if (sha)
        memcpy(b->sha, sha, 32);
    b->has_size = (unsigned char)has_size;
    b->size = size;
    b->env = env != 0;
}

/* ---- the log state */
struct cand {
    int64_t id, started;
    int has_started, has_proc;
    char *study;
    uint8_t proc[16];
    uint64_t mask;
};

/* A study's log as this transaction sees it. */
struct head {
    char *study;
    struct merkle_frontier f;
    uint64_t size0; /* size at the start of the transaction */
    uint64_t mask;  /* batches whose trials grew it */
};

struct store_log {
    sqlite3 *db;
    sqlite3_stmt *q[L__COUNT];
    struct leaf_ctx *leaf;
    struct tt_key key;
    int has_key;
    struct tset trials, procs, sessions; /* touched in this transaction */
    struct tset sealed_trials, sealed_procs;
    struct tset mkeys;       /* trial id -> index + 1 in mstates (in mask) */
    struct mstate *mstates;
    size_t nmstates, capmstates;
    struct tset fkeys;       /* process uuid -> index + 1 in fstates (in mask) */
    struct fstate *fstates;
    size_t nfstates, capfstates, fbytes;
    struct cand *cands;
    size_t ncand, capcand;
    struct head *heads;
    size_t nhead, caphead;
    struct store_checkpoint *pend, *last; /* this transaction's / the last committed one's */
    size_t npend, nlast, cappend, caplast;
};

struct store_log *slog_new(sqlite3 *db, char *err, size_t errlen)
{
    struct store_log *lg = calloc(1, sizeof *lg);
    if (!lg) {
        if (err && errlen)
            tt_fail(err, errlen, "out of memory");
        return NULL;
    }
    lg->db = db;
    for (int i = 0; i < L__COUNT; i++) {
        if (sqlite3_prepare_v3(db, log_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &lg->q[i], NULL) !=
            SQLITE_OK) {
            if (err && errlen)
                tt_fail(err, errlen, "prepare log: %s", sqlite3_errmsg(db));
            goto err;
        }
    }
    if (!(lg->leaf = leaf_ctx_new(db, err, errlen)))
        goto err;
    return lg;
err:
    slog_free(lg);
    return NULL;
}

static void ckpts_clear(struct store_checkpoint *v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((char *)v[i].study);
    *n = 0;
}

static void heads_clear(struct store_log *lg)
{
    for (size_t i = 0; i < lg->nhead; i++)
        free(lg->heads[i].study);
    lg->nhead = 0;
}

static void cands_clear(struct store_log *lg)
{
    for (size_t i = 0; i < lg->ncand; i++)
        free(lg->cands[i].study);
    lg->ncand = 0;
}

static void metrics_forget_all(struct store_log *lg)
{
    for (size_t i = 0; i < lg->nmstates; i++)
        mstate_clear(&lg->mstates[i]);
    lg->nmstates = 0;
    tset_clear(&lg->mkeys);
}

static void files_forget_all(struct store_log *lg)
{
    for (size_t i = 0; i < lg->nfstates; i++)
        fstate_clear(&lg->fstates[i]);
    lg->nfstates = 0;
    lg->fbytes = 0;
    tset_clear(&lg->fkeys);
}

static struct fstate *fstate_get(struct store_log *lg, const uint8_t proc[16])
{
    struct tset_slot *e = tset_find(&lg->fkeys, proc);
    return e ? &lg->fstates[e->mask - 1] : NULL;
}

/* Stops tracking f (memory): its process's files are read from the store. */
static void fstate_drop(struct store_log *lg, struct fstate *f)
{
    lg->fbytes -= f->bytes;
    fstate_clear(f); /* complete = 0 until the connection forgets all */
}

int slog_file(struct store_log *lg, const uint8_t proc[16], const char *path, int mode,
              const uint8_t *sha256, int has_size, int64_t size, int has_time, int64_t time_ns,
              int env)
{
    struct fstate *f = fstate_get(lg, proc);
    if (!f) {
        if (lg->nfstates == lg->capfstates) {
            size_t ncap = lg->capfstates ? lg->capfstates * 2 : 64;
            struct fstate *nf = realloc(lg->fstates, ncap * sizeof *nf);
            if (!nf)
                return SQLITE_NOMEM;
            lg->fstates = nf;
            lg->capfstates = ncap;
        }
        /* Rows stored before (another connection, an earlier run): not ours to summarise. */
        sqlite3_stmt *s = lg->q[L_HAS_FILES];
        sqlite3_bind_blob(s, 1, proc, 16, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        if (tset_add(&lg->fkeys, proc, lg->nfstates + 1) < 0)
            return SQLITE_NOMEM;
        f = &lg->fstates[lg->nfstates++];
        memset(f, 0, sizeof *f);
        f->complete = rc == SQLITE_DONE;
    }
    if (!f->complete)
        return SQLITE_OK;
    int in = store_files_is_input(mode), out = store_files_is_output(mode);
    if (!in && !out)
        return SQLITE_OK;
    int64_t t = has_time ? time_ns : 0;
    if (sha256 && t > INT64_MAX - STORE_FILES_HASHED)
        goto drop; /* SQLite's sum would turn REAL there: let SQL decide */
    int64_t key = sha256 ? STORE_FILES_HASHED + t : t;
    uint64_t h = path_hash(path);
    struct fent *e = fstate_find(f, path, h);
    if (!e) {
        size_t plen = strlen(path) + 1, add = sizeof *e + plen + 2 * sizeof *f->ix;
        if (lg->fbytes + add > FSTATE_BYTES_MAX)
            goto drop;
        if (f->n == f->cap) {
            size_t ncap = f->cap ? f->cap * 2 : 2;
            struct fent *nv = realloc(f->v, ncap * sizeof *nv);
            if (!nv)
                goto drop;
            f->v = nv;
            f->cap = ncap;
        }
        e = &f->v[f->n];
        memset(e, 0, sizeof *e);
        if (!(e->path = malloc(plen)))
            goto drop;
        memcpy(e->path, path, plen);
        e->h = h;
        f->last = f->n++;
        f->bytes += add;
        lg->fbytes += add;
        if (f->n > FSTATE_SCAN && f->n * 2 + 2 > f->ixcap) {
            if (fstate_reindex(f) < 0) /* indexes the new entry too */
                goto drop;
        } else if (f->ix) {
            size_t i = h & (f->ixcap - 1);
            while (f->ix[i])
                i = (i + 1) & (f->ixcap - 1);
            f->ix[i] = (uint32_t)f->last + 1;
        }
    }
    if (in)
        fbest_put(&e->in, key, sha256, has_size, size, env);
    if (out)
        fbest_put(&e->out, key, sha256, has_size, size, 0);
    return SQLITE_OK;
drop:
    fstate_drop(lg, f);
    return SQLITE_OK;
}

static int fent_by_path(const void *a, const void *b)
{
    return strcmp((*(const struct fent *const *)a)->path, (*(const struct fent *const *)b)->path);
}

/* The process's inputs and outputs from memory into g (arrays malloc'd into
 * *in / *out, pointing into lg's state). 0 if not known here (g untouched),
 * 1 if given, -1 if out of memory. */
static int files_given(struct store_log *lg, const uint8_t proc[16], struct leaf_given *g,
                       struct leaf_file **in, struct leaf_file **out)
{
    struct fstate *f = fstate_get(lg, proc);
    if (!f || !f->complete)
        return 0;
    struct fent **order = malloc((f->n ? f->n : 1) * sizeof *order);
    *in = malloc((f->n ? f->n : 1) * sizeof **in);
    *out = malloc((f->n ? f->n : 1) * sizeof **out);
    if (!order || !*in || !*out) {
        free(order);
        free(*in);
        free(*out);
        *in = *out = NULL;
        return -1;
    }
    for (size_t j = 0; j < f->n; j++)
        order[j] = &f->v[j];
    qsort(order, f->n, sizeof *order, fent_by_path); /* ORDER BY path: bytes, as strcmp */
    size_t ni = 0, no = 0;
    for (size_t j = 0; j < f->n; j++) {
        const struct fent *e = order[j];
        if (e->in.has)
            (*in)[ni++] = (struct leaf_file){e->path, e->in.has_hash ? e->in.sha : NULL,
                                             e->in.has_size, e->in.size, e->in.env};
        if (e->out.has)
            (*out)[no++] = (struct leaf_file){e->path, e->out.has_hash ? e->out.sha : NULL,
                                              e->out.has_size, e->out.size, 0};
    }
    free(order);
    g->has_files = 1;
    g->inputs = *in;
    g->ninputs = ni;
    g->outputs = *out;
    g->noutputs = no;
    return 1;
}

static struct mstate *mstate_get(struct store_log *lg, int64_t trial_id)
{
    uint8_t k[16];
    id_key(k, trial_id);
    struct tset_slot *e = tset_find(&lg->mkeys, k);
    return e ? &lg->mstates[e->mask - 1] : NULL;
}

void slog_metrics_forget(struct store_log *lg, int64_t trial_id)
{
    struct mstate *m = mstate_get(lg, trial_id);
    if (m)
        mstate_clear(m); /* complete = 0 until the connection forgets all */
}

int slog_metric(struct store_log *lg, int64_t trial_id, int64_t origin_id, int64_t seq,
                const char *name, double value, int64_t step, int has_time, int64_t time_ns,
                const char *split, const char *direction)
{
    if (trial_id <= 0)
        return SQLITE_OK;
    struct mstate *m = mstate_get(lg, trial_id);
    if (!m) {
        if (lg->nmstates == lg->capmstates) {
            size_t ncap = lg->capmstates ? lg->capmstates * 2 : 64;
            struct mstate *nm = realloc(lg->mstates, ncap * sizeof *nm);
            if (!nm)
                return SQLITE_NOMEM;
            lg->mstates = nm;
            lg->capmstates = ncap;
        }
        /* Points stored before (another connection, an earlier run): not ours to summarise. */
        sqlite3_stmt *s = lg->q[L_HAS_METRICS];
        sqlite3_bind_int64(s, 1, trial_id);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        uint8_t k[16];
        id_key(k, trial_id);
        if (tset_add(&lg->mkeys, k, lg->nmstates + 1) < 0)
            return SQLITE_NOMEM;
        m = &lg->mstates[lg->nmstates++];
        memset(m, 0, sizeof *m);
        m->complete = rc == SQLITE_DONE;
    }
    if (!m->complete)
        return SQLITE_OK;
    struct mlast *e = NULL;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].name, name)) {
            e = &m->v[i];
            break;
        }
    if (!e) {
        if (m->n == m->cap) {
            size_t ncap = m->cap ? m->cap * 2 : 4;
            struct mlast *nv = realloc(m->v, ncap * sizeof *nv);
            if (!nv)
                goto nomem;
            m->v = nv;
            m->cap = ncap;
        }
        e = &m->v[m->n];
        memset(e, 0, sizeof *e);
        if (!(e->name = strdup(name)))
            goto nomem;
        m->n++;
    } else if (!mlast_after(e, step, has_time, time_ns, origin_id, seq)) {
        return SQLITE_OK;
    }
    e->value = value;
    e->step = step;
    e->has_time = has_time;
    e->time = time_ns;
    e->origin = origin_id;
    e->seq = seq;
    if (str_set(&e->split, split) < 0 || str_set(&e->direction, direction) < 0)
        goto nomem;
    return SQLITE_OK;
nomem:
    mstate_clear(m); /* incomplete from now on: sealing reads the store */
    return SQLITE_OK;
}

/* The trial's "metrics" object from memory, or NULL if not known here. */
static json_t *metrics_json(struct store_log *lg, int64_t trial_id)
{
    struct mstate *m = mstate_get(lg, trial_id);
    if (!m || !m->complete)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++) {
        const struct mlast *e = &m->v[i];
        char *name = jsonfmt_utf8_fix(e->name);
        if (!name)
            continue;
        json_object_set_new(o, name,
                            leaf_metric_point(e->value, e->value != e->value, e->step, e->split,
                                              e->direction));
        free(name);
    }
    return o;
}

void slog_free(struct store_log *lg)
{
    if (!lg)
        return;
    for (int i = 0; i < L__COUNT; i++)
        sqlite3_finalize(lg->q[i]);
    leaf_ctx_free(lg->leaf);
    tset_free(&lg->trials);
    tset_free(&lg->procs);
    tset_free(&lg->sessions);
    tset_free(&lg->sealed_trials);
    tset_free(&lg->sealed_procs);
    metrics_forget_all(lg);
    tset_free(&lg->mkeys);
    free(lg->mstates);
    files_forget_all(lg);
    tset_free(&lg->fkeys);
    free(lg->fstates);
    cands_clear(lg);
    free(lg->cands);
    heads_clear(lg);
    free(lg->heads);
    ckpts_clear(lg->pend, &lg->npend);
    ckpts_clear(lg->last, &lg->nlast);
    free(lg->pend);
    free(lg->last);
    memset(&lg->key, 0, sizeof lg->key);
    free(lg);
}

void slog_set_signer(struct store_log *lg, const struct tt_key *k)
{
    lg->has_key = k && k->has_secret;
    if (lg->has_key)
        lg->key = *k;
    else
        memset(&lg->key, 0, sizeof lg->key);
}

/* Whether a trial / process has a leaf, asked of the log once per key and
 * remembered both ways (a late event is rare; every event asks), so a
 * connection never reads the whole log: after another writer commits, the
 * answers are dropped and asked again for the keys that come up. */
#define SEALED_YES 1
#define SEALED_NO 2
#define SEALED_MAX (1u << 20) /* answers kept; checked between transactions */

static void sealed_forget(struct store_log *lg)
{
    tset_clear(&lg->sealed_trials);
    tset_clear(&lg->sealed_procs);
}

/* Records that key of set has a leaf now (this transaction sealed it). */
static void sealed_mark(struct store_log *lg, struct tset *set, const uint8_t k[16])
{
    struct tset_slot *e = tset_find(set, k);
    if (e)
        e->mask = SEALED_YES;
    else if (tset_add(set, k, SEALED_YES) < 0)
        sealed_forget(lg); /* out of memory: ask again */
}

/* *yes = key k of set has a leaf; stmt (L_SEALED_*) asks the log when not
 * known, bound to k as an id (trials) or a uuid (processes). */
static int sealed_get(struct store_log *lg, struct tset *set, int stmt, const uint8_t k[16],
                      int *yes)
{
    struct tset_slot *e = tset_find(set, k);
    if (e) {
        *yes = e->mask == SEALED_YES;
        return SQLITE_OK;
    }
    sqlite3_stmt *s = lg->q[stmt];
    if (set == &lg->sealed_trials) {
        int64_t id;
        memcpy(&id, k, sizeof id);
        sqlite3_bind_int64(s, 1, id);
    } else {
        sqlite3_bind_blob(s, 1, k, 16, SQLITE_STATIC);
    }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    *yes = rc == SQLITE_ROW;
    (void)tset_add(set, k, *yes ? SEALED_YES : SEALED_NO); /* a cache: a miss asks again */
    return SQLITE_OK;
}

void slog_begin(struct store_log *lg, int changed)
{
    if (changed) {
        sealed_forget(lg); /* another writer may have sealed trials */
        metrics_forget_all(lg); /* another writer may have added points */
        files_forget_all(lg);   /* ... and file rows */
    }
    if (lg->nmstates >= MSTATE_MAX)
        metrics_forget_all(lg); /* bounded: the trials in flight fall back to the store */
    if (lg->nfstates >= FSTATE_MAX || lg->fbytes > FSTATE_BYTES_MAX / 2)
        files_forget_all(lg);
    if (lg->sealed_trials.n + lg->sealed_procs.n >= SEALED_MAX)
        sealed_forget(lg);
    tset_clear(&lg->trials);
    tset_clear(&lg->procs);
    tset_clear(&lg->sessions);
    cands_clear(lg);
    heads_clear(lg);
    ckpts_clear(lg->pend, &lg->npend);
    ckpts_clear(lg->last, &lg->nlast);
}

int slog_touch_trial(struct store_log *lg, int64_t trial_id, unsigned batch)
{
    uint8_t k[16];
    if (trial_id <= 0)
        return SQLITE_OK;
    id_key(k, trial_id);
    return tset_add(&lg->trials, k, batch_bit(batch)) < 0 ? SQLITE_NOMEM : SQLITE_OK;
}

int slog_touch_process(struct store_log *lg, const uint8_t uuid[16], unsigned batch)
{
    return tset_add(&lg->procs, uuid, batch_bit(batch)) < 0 ? SQLITE_NOMEM : SQLITE_OK;
}

int slog_touch_session(struct store_log *lg, const uint8_t uuid[16], unsigned batch)
{
    return tset_add(&lg->sessions, uuid, batch_bit(batch)) < 0 ? SQLITE_NOMEM : SQLITE_OK;
}

int slog_touch_trial_if_sealed(struct store_log *lg, int64_t trial_id, unsigned batch)
{
    uint8_t k[16];
    int rc, yes;
    if (trial_id <= 0)
        return SQLITE_OK;
    id_key(k, trial_id);
    if ((rc = sealed_get(lg, &lg->sealed_trials, L_SEALED_TRIALS, k, &yes)) != SQLITE_OK || !yes)
        return rc;
    return tset_add(&lg->trials, k, batch_bit(batch)) < 0 ? SQLITE_NOMEM : SQLITE_OK;
}

int slog_touch_process_if_sealed(struct store_log *lg, const uint8_t uuid[16], unsigned batch)
{
    int rc, yes;
    if ((rc = sealed_get(lg, &lg->sealed_procs, L_SEALED_PROCS, uuid, &yes)) != SQLITE_OK || !yes)
        return rc;
    return slog_touch_process(lg, uuid, batch);
}

/* Runs a candidate query (bound by the caller) and adds its rows with mask. */
static int cands_collect(struct store_log *lg, sqlite3_stmt *s, uint64_t mask)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (lg->ncand == lg->capcand) {
            size_t ncap = lg->capcand ? lg->capcand * 2 : 64;
            struct cand *nc = realloc(lg->cands, ncap * sizeof *nc);
            if (!nc) {
                rc = SQLITE_NOMEM;
                break;
            }
            lg->cands = nc;
            lg->capcand = ncap;
        }
        struct cand *c = &lg->cands[lg->ncand];
        c->id = sqlite3_column_int64(s, 0);
        c->has_started = sqlite3_column_type(s, 1) != SQLITE_NULL;
        c->started = sqlite3_column_int64(s, 1);
        c->mask = mask;
        c->has_proc = sqlite3_column_bytes(s, 3) == 16;
        if (c->has_proc)
            memcpy(c->proc, sqlite3_column_blob(s, 3), 16);
        if (!(c->study = strdup((const char *)sqlite3_column_text(s, 2)))) {
            rc = SQLITE_NOMEM;
            break;
        }
        lg->ncand++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int cand_by_id(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Started order (unknown start first), then id. */
static int cand_by_start(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->has_started != y->has_started)
        return x->has_started - y->has_started;
    if (x->has_started && x->started != y->started)
        return (x->started > y->started) - (x->started < y->started);
    return (x->id > y->id) - (x->id < y->id);
}

/* The transaction's view of study's log, loaded on first use. */
static int head_get(struct store_log *lg, const char *study, struct head **out)
{
    for (size_t i = 0; i < lg->nhead; i++)
        if (!strcmp(lg->heads[i].study, study)) {
            *out = &lg->heads[i];
            return SQLITE_OK;
        }
    if (lg->nhead == lg->caphead) {
        size_t ncap = lg->caphead ? lg->caphead * 2 : 8;
        struct head *nh = realloc(lg->heads, ncap * sizeof *nh);
        if (!nh)
            return SQLITE_NOMEM;
        lg->heads = nh;
        lg->caphead = ncap;
    }
    struct head *h = &lg->heads[lg->nhead];
    memset(h, 0, sizeof *h);
    merkle_frontier_init(&h->f);
    sqlite3_stmt *s = lg->q[L_HEAD_GET];
    sqlite3_bind_text(s, 1, study, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        uint64_t size = (uint64_t)sqlite3_column_int64(s, 0);
        const void *b = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        rc = merkle_frontier_decode(&h->f, size, b, len) < 0 ? SQLITE_CORRUPT : SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_OK)
        return rc;
    if (!(h->study = strdup(study)))
        return SQLITE_NOMEM;
    h->size0 = h->f.size;
    lg->nhead++;
    *out = h;
    return SQLITE_OK;
}

/* 1 if text differs from the trial's last leaf in study (or it has none). */
static int leaf_is_new(struct store_log *lg, const struct cand *c, const char *text, int *isnew)
{
    sqlite3_stmt *s = lg->q[L_LAST_LEAF];
    sqlite3_bind_int64(s, 1, c->id);
    sqlite3_bind_text(s, 2, c->study, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(s, 0);
        *isnew = !old || strcmp(old, text) != 0;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *isnew = 1;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    return rc;
}

static int append_leaf(struct store_log *lg, const struct cand *c, const char *text, int64_t now_ns)
{
    struct head *h;
    int rc = head_get(lg, c->study, &h);
    if (rc != SQLITE_OK)
        return rc;
    merkle_hash lh;
    size_t len = strlen(text);
    merkle_leaf_hash(text, len, lh);
    sqlite3_stmt *s = lg->q[L_LOG_ADD];
    sqlite3_bind_text(s, 1, c->study, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)h->f.size);
    sqlite3_bind_int64(s, 3, c->id);
    sqlite3_bind_text(s, 4, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, lh, MERKLE_HASH, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now_ns);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return rc;
    merkle_frontier_append(&h->f, lh);
    h->mask |= c->mask;
    uint8_t k[16];
    id_key(k, c->id);
    sealed_mark(lg, &lg->sealed_trials, k);
    if (c->has_proc)
        sealed_mark(lg, &lg->sealed_procs, c->proc);
    return SQLITE_OK;
}

/* Seals the collected candidates (deduplicated, started order). */
static int seal_cands(struct store_log *lg, int64_t now_ns)
{
    int rc = SQLITE_OK;
    if (lg->ncand > 1) {
        qsort(lg->cands, lg->ncand, sizeof *lg->cands, cand_by_id);
        size_t w = 0;
        for (size_t r = 0; r < lg->ncand; r++) {
            if (w && lg->cands[w - 1].id == lg->cands[r].id) {
                lg->cands[w - 1].mask |= lg->cands[r].mask;
                free(lg->cands[r].study);
                continue;
            }
            lg->cands[w++] = lg->cands[r];
        }
        lg->ncand = w;
        qsort(lg->cands, lg->ncand, sizeof *lg->cands, cand_by_start);
    }
    for (size_t i = 0; i < lg->ncand && rc == SQLITE_OK; i++) {
        const struct cand *c = &lg->cands[i];
        struct leaf_given g = {.metrics = metrics_json(lg, c->id)};
        struct leaf_file *fin = NULL, *fout = NULL;
        if (c->has_proc && files_given(lg, c->proc, &g, &fin, &fout) < 0) {
            json_decref(g.metrics);
            return SQLITE_NOMEM;
        }
        char *text = leaf_ctx_build_given(lg->leaf, c->id, &g, NULL, 0);
        free(fin);
        free(fout);
        if (!text)
            return SQLITE_NOMEM; /* the trial exists: only memory can fail */
        int isnew = 0;
        rc = leaf_is_new(lg, c, text, &isnew);
        if (rc == SQLITE_OK && isnew)
            rc = append_leaf(lg, c, text, now_ns);
        free(text);
    }
    return rc;
}

/* Writes back each grown study's head and signs its checkpoint. */
static int heads_save(struct store_log *lg, int64_t now_ns)
{
    int rc;
    for (size_t i = 0; i < lg->nhead; i++) {
        struct head *h = &lg->heads[i];
        if (h->f.size == h->size0)
            continue;
        uint8_t buf[64 * MERKLE_HASH];
        size_t n = merkle_frontier_encode(&h->f, buf);
        sqlite3_stmt *s = lg->q[L_HEAD_PUT];
        sqlite3_bind_text(s, 1, h->study, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)h->f.size);
        sqlite3_bind_blob(s, 3, buf, (int)n, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return rc;
        if (!lg->has_key)
            continue;
        if (lg->npend == lg->cappend) {
            size_t ncap = lg->cappend ? lg->cappend * 2 : 8;
            struct store_checkpoint *np = realloc(lg->pend, ncap * sizeof *np);
            if (!np)
                return SQLITE_NOMEM;
            lg->pend = np;
            lg->cappend = ncap;
        }
        struct store_checkpoint *ck = &lg->pend[lg->npend];
        memset(ck, 0, sizeof *ck);
        ck->tree_size = h->f.size;
        merkle_frontier_root(&h->f, ck->root);
        memcpy(ck->key, lg->key.pk, sizeof ck->key);
        memcpy(ck->keyid, lg->key.keyid, sizeof ck->keyid);
        ck->batches = h->mask;
        if (checkpoint_sign(&lg->key, h->study, ck->tree_size, ck->root, ck->sig) < 0)
            return SQLITE_ERROR;
        if (!(ck->study = strdup(h->study)))
            return SQLITE_NOMEM;
        lg->npend++;
        s = lg->q[L_CKPT_ADD];
        sqlite3_bind_text(s, 1, h->study, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)ck->tree_size);
        sqlite3_bind_blob(s, 3, ck->root, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 4, ck->key, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 5, ck->sig, 64, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, now_ns);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return rc;
    }
    return SQLITE_OK;
}

int slog_seal(struct store_log *lg, int64_t now_ns)
{
    int rc = SQLITE_OK;
    struct {
        struct tset *set;
        int stmt;
    } src[] = {{&lg->trials, L_CAND_TRIAL}, {&lg->procs, L_CAND_PROC},
               {&lg->sessions, L_CAND_SESSION}};
    for (size_t k = 0; k < sizeof src / sizeof *src && rc == SQLITE_OK; k++) {
        struct tset *set = src[k].set;
        sqlite3_stmt *s = lg->q[src[k].stmt];
        for (size_t j = 0; j < set->n && rc == SQLITE_OK; j++) {
            struct tset_slot *e = &set->slots[set->order[j]];
            if (set == &lg->trials) {
                int64_t id;
                memcpy(&id, e->key, sizeof id);
                sqlite3_bind_int64(s, 1, id);
            } else {
                sqlite3_bind_blob(s, 1, e->key, 16, SQLITE_STATIC);
            }
            rc = cands_collect(lg, s, e->mask);
        }
    }
    if (rc == SQLITE_OK && lg->ncand)
        rc = seal_cands(lg, now_ns);
    if (rc == SQLITE_OK && lg->nhead)
        rc = heads_save(lg, now_ns);
    return rc;
}

int slog_seal_all(struct store_log *lg, int64_t now_ns)
{
    cands_clear(lg);
    int rc = cands_collect(lg, lg->q[L_CAND_ALL], 0);
    if (rc == SQLITE_OK && lg->ncand)
        rc = seal_cands(lg, now_ns);
    if (rc == SQLITE_OK && lg->nhead)
        rc = heads_save(lg, now_ns);
    sealed_forget(lg);
    return rc;
}

void slog_committed(struct store_log *lg)
{
    struct store_checkpoint *t = lg->last;
    size_t tc = lg->caplast;
    ckpts_clear(lg->last, &lg->nlast);
    lg->last = lg->pend;
    lg->nlast = lg->npend;
    lg->caplast = lg->cappend;
    lg->pend = t;
    lg->cappend = tc;
    lg->npend = 0;
    tset_clear(&lg->trials);
    tset_clear(&lg->procs);
    tset_clear(&lg->sessions);
    cands_clear(lg);
    heads_clear(lg);
}

void slog_rollback(struct store_log *lg)
{
    slog_begin(lg, 1); /* the sealed sets may hold rolled-back leaves */
}

const struct store_checkpoint *slog_checkpoints(const struct store_log *lg, size_t *n)
{
    *n = lg->nlast;
    return lg->last;
}
