/* record_stats.c - the computed sections of a provenance record (search,
 * selection, choices, refit_of) from the trials' scanned leaves alone. attest
 * calls it with the store's log, verify with the record's `trials`: the same
 * code on the same leaves, in the same order, gives bit-identical JSON, which
 * is how verify checks every statistic. Formulas: docs/RECORD.md, stats.h.
 *
 * Built for 100k trials in well under a second: strings are interned once
 * into small integer ids (open-addressing maps below), each trial's params
 * become a row of value ids, and configurations are compared as rows. */
#include "record.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "roles.h"
#include "preds.h"
#include "selbias.h"
#include <sodium.h>
#include "stats.h"
#include "jsonfmt.h"
#include "registry.h"
#include "util.h"

#define CURVE_MAX 400
#define VALUES_LISTED 50
#define EFFECT_MAX_GROUPS 8
#define NONE UINT32_MAX

/* ---- string -> id map (keys are borrowed; ids count from 0). Each slot
 * keeps its key's hash: growing never rehashes a string, and a probe
 * compares strings only when the hashes agree (100k uuids per record). */
struct smap_slot {
    const char *key;
    uint64_t h;
    uint32_t id;
};

struct smap {
    struct smap_slot *slot;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static void smap_grow(struct smap *m, size_t want)
{
    size_t cap = m->cap ? m->cap : 64;
    while (cap < 2 * want)
        cap *= 2;
    if (cap == m->cap)
        return;
    struct smap_slot *slot = calloc(cap, sizeof *slot);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slot[i].key)
            continue;
        size_t j = m->slot[i].h & (cap - 1);
        while (slot[j].key)
            j = (j + 1) & (cap - 1);
        slot[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
}

/* The id of s, adding it (id = count so far) if new; *added says which. */
static uint32_t smap_put(struct smap *m, const char *s, int *added)
{
    if (2 * (m->n + 1) > m->cap)
        smap_grow(m, m->n + 1);
    uint64_t h = hash_str(s);
    size_t j = h & (m->cap - 1);
    for (; m->slot[j].key; j = (j + 1) & (m->cap - 1))
        if (m->slot[j].h == h && !strcmp(m->slot[j].key, s)) {
            if (added)
                *added = 0;
            return m->slot[j].id;
        }
    m->slot[j] = (struct smap_slot){s, h, (uint32_t)m->n++};
    if (added)
        *added = 1;
    return m->slot[j].id;
}

static uint32_t smap_get(const struct smap *m, const char *s)
{
    if (!m->cap)
        return NONE;
    uint64_t h = hash_str(s);
    for (size_t j = h & (m->cap - 1); m->slot[j].key; j = (j + 1) & (m->cap - 1))
        if (m->slot[j].h == h && !strcmp(m->slot[j].key, s))
            return m->slot[j].id;
    return NONE;
}

static void smap_free(struct smap *m)
{
    free(m->slot);
}

/* ---- row -> id map: rows of w uint32 value ids (a configuration) */
struct rmap {
    const uint32_t **row;
    uint32_t *id;
    size_t cap, n, w;
};

static uint64_t hash_row(const uint32_t *r, size_t w)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < w; i++)
        h = (h ^ r[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint32_t rmap_put(struct rmap *m, const uint32_t *r)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        const uint32_t **row = calloc(cap, sizeof *row);
        uint32_t *id = calloc(cap, sizeof *id);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->row[i])
                continue;
            size_t j = hash_row(m->row[i], m->w) & (cap - 1);
            while (row[j])
                j = (j + 1) & (cap - 1);
            row[j] = m->row[i];
            id[j] = m->id[i];
        }
        free(m->row);
        free(m->id);
        m->row = row;
        m->id = id;
        m->cap = cap;
    }
    size_t j = hash_row(r, m->w) & (m->cap - 1);
    while (m->row[j]) {
        if (!memcmp(m->row[j], r, m->w * sizeof *r))
            return m->id[j];
        j = (j + 1) & (m->cap - 1);
    }
    m->row[j] = r;
    m->id[j] = (uint32_t)m->n++;
    return m->id[j];
}

static void rmap_free(struct rmap *m)
{
    free(m->row);
    free(m->id);
}

/* ---- small helpers */
/* Finite doubles only: jansson cannot hold NaN/inf. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *omitted(const char *why)
{
    return json_pack("{s:s}", "omitted", why);
}

int record_objective_parse(const char *spec, char *name, size_t namelen, int *dir_max, char *err,
                           size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!n || n >= namelen) {
        tt_fail(err, errlen, "--objective '%s': expected NAME:max or NAME:min", spec);
        return -1;
    }
    memcpy(name, spec, n);
    name[n] = 0;
    if (!colon)
        *dir_max = -1; /* take the metric's recorded direction */
    else if (!strcmp(colon + 1, "max"))
        *dir_max = 1;
    else if (!strcmp(colon + 1, "min"))
        *dir_max = 0;
    else {
        tt_fail(err, errlen, "--objective '%s': direction must be max or min, not '%s'", spec,
                 colon + 1);
        return -1;
    }
    return 0;
}

/* Keys that name a repetition rather than a configuration (the noise floor
 * groups trials by every other key). Matched on the part after the last '.',
 * case-insensitively; documented in docs/RECORD.md. */
int record_seed_like(const char *key)
{
    static const char *const words[] = {"rng", "run", "rep", "repeat", "repetition", "replicate",
                                        "random_state", NULL};
    const char *base = strrchr(key, '.');
    base = base ? base + 1 : key;
    if (strcasestr(base, "seed"))
        return 1;
    for (int i = 0; words[i]; i++)
        if (!strcasecmp(base, words[i]))
            return 1;
    return 0;
}

static int numeric_value(const char *s, double *v)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return 0;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v);
}

static int is_failure(const char *st)
{
    return !strcmp(st, "failed") || !strcmp(st, "crashed") || !strcmp(st, "killed");
}

/* Counts per status without a JSON lookup per trial (100k trials). */
struct status_count {
    struct smap ids;
    const char *name[64];
    size_t n[64];
};

static void status_add(struct status_count *c, const char *st)
{
    int added;
    uint32_t id = smap_put(&c->ids, st, &added);
    if (id >= 64)
        id = 63; /* more than 63 distinct statuses: the rest share one slot */
    if (added && id < 63)
        c->name[id] = st;
    else if (added)
        c->name[63] = "other";
    c->n[id]++;
}

/* A JSON object status -> count; frees c's map. */
static json_t *status_json(struct status_count *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->ids.n && i < 64; i++)
        json_object_set_new(o, c->name[i], json_integer((json_int_t)c->n[i]));
    smap_free(&c->ids);
    return o;
}

/* ---- the trials as the statistics see them */
struct tr {
    const struct leafscan_leaf *r;
    const char *status;
    int has_obj;
    double obj; /* oriented: larger is better */
    long from_ev; /* the evaluation (struct evals) the value came from, or -1 */
};

/* Every param key of the counted trials, its values and each trial's row. */
struct table {
    size_t n, nk;          /* trials, keys */
    struct smap keys;      /* key -> key id (in first-seen order) */
    const char **key;      /* key id -> key */
    const char **source;   /* key id -> the first source seen */
    struct smap *vals;     /* per key: value -> value id */
    const char ***val;     /* per key: value id -> value */
    size_t *nval, *capval;
    uint32_t *row;         /* row[t * nk + k] = value id of key k in trial t, or NONE */
    uint32_t *order;       /* key ids sorted by key (the ledger's order) */
    /* per key id: its role (roles.h), the count of trials giving each role
     * and the first reason each role was given for; explicit: some trial
     * set it itself (a source other than the adapter or a hook's default,
     * tt_source_unset, or an argv flag that restates it) */
    uint8_t *role, *explicit_;
    size_t (*nrole)[4];
    char *(*why)[4];
};

static void table_free(struct table *tb)
{
    for (size_t k = 0; k < tb->nk; k++) {
        smap_free(&tb->vals[k]);
        free(tb->val[k]);
    }
    for (size_t k = 0; k < tb->nk; k++)
        for (int r = 0; r < 4; r++)
            free(tb->why[k][r]);
    smap_free(&tb->keys);
    free(tb->order);
    free(tb->role);
    free(tb->explicit_);
    free(tb->nrole);
    free(tb->why);
    free(tb->key);
    free(tb->source);
    free(tb->vals);
    free(tb->val);
    free(tb->nval);
    free(tb->capval);
    free(tb->row);
}

static int cmp_keyid(const void *a, const void *b, void *tb)
{
    const char *const *key = ((struct table *)tb)->key;
    return strcmp(key[*(const uint32_t *)a], key[*(const uint32_t *)b]);
}

/* Key ids, with a cache by position: most trials of a study carry the same
 * sorted key list, so the previous trial's j-th key is nearly always this
 * one's (a strcmp instead of a hash and a probe). */
#define KEYCACHE 64
struct keycache {
    const char *key[KEYCACHE];
    uint32_t id[KEYCACHE];
};

static uint32_t key_id(struct table *tb, struct keycache *c, size_t j, const char *key, int put)
{
    if (j < KEYCACHE && c->key[j] && !strcmp(c->key[j], key))
        return c->id[j];
    uint32_t k = put ? smap_put(&tb->keys, key, NULL) : smap_get(&tb->keys, key);
    if (j < KEYCACHE) {
        c->key[j] = key;
        c->id[j] = k;
    }
    return k;
}

/* One trial's file paths, for tt_param_role (built when a param needs them). */
struct trial_files {
    struct tt_role_files f;
    const char **buf;
};

static const struct tt_role_files *trial_files(struct trial_files *tf, const struct leafscan_leaf *r)
{
    if (tf->buf || !(r->ninputs + r->noutputs))
        return &tf->f;
    tf->buf = malloc((r->ninputs + r->noutputs) * sizeof *tf->buf);
    for (size_t i = 0; i < r->ninputs; i++)
        tf->buf[i] = r->inputs[i].path;
    for (size_t i = 0; i < r->noutputs; i++)
        tf->buf[r->ninputs + i] = r->outputs[i].path;
    tf->f = (struct tt_role_files){tf->buf, r->ninputs, tf->buf + r->ninputs, r->noutputs};
    return &tf->f;
}

/* Each key's role: the role most of the trials setting it give (a tie keeps
 * it a choice). A param the adapter set has a role that depends on its key
 * alone, so it is worked out once per key. */
static void table_roles(struct table *tb, const struct tr *t, size_t n)
{
    size_t nk = tb->nk ? tb->nk : 1;
    tb->role = calloc(nk, 1);
    tb->explicit_ = calloc(nk, 1);
    tb->nrole = calloc(nk, sizeof *tb->nrole);
    tb->why = calloc(nk, sizeof *tb->why);
    uint8_t *cached = calloc(nk, 1); /* 1 + role of an adapter-set key */
    struct keycache kc = {0};
    char why[200];
    for (size_t i = 0; i < n; i++) {
        const struct leafscan_leaf *r = t[i].r;
        struct trial_files tf = {{NULL, 0, NULL, 0}, NULL};
        for (size_t j = 0; j < r->nparams; j++) {
            const struct leafscan_param *p = &r->params[j];
            uint32_t k = key_id(tb, &kc, j, p->key, 0);
            int adapter = p->source && !strcmp(p->source, "adapter");
            enum tt_role role;
            if (adapter && cached[k]) {
                role = (enum tt_role)(cached[k] - 1);
            } else {
                role = tt_param_role(r->framework, r->exe, p->key, p->value, p->source,
                                     adapter ? NULL : trial_files(&tf, r), why, sizeof why);
                if (adapter)
                    cached[k] = (uint8_t)(role + 1);
                if (!tb->why[k][role])
                    tb->why[k][role] = strdup(why);
                /* "restates libsvm.C": libsvm.C was set, not defaulted */
                if (!strncmp(why, "restates ", 9)) {
                    uint32_t f = smap_get(&tb->keys, why + 9);
                    if (f != NONE)
                        tb->explicit_[f] = 1;
                }
            }
            if (!tt_source_unset(p->source))
                tb->explicit_[k] = 1;
            tb->nrole[k][role]++;
        }
        free(tf.buf);
    }
    free(cached);
    for (size_t k = 0; k < tb->nk; k++) {
        int best = TT_ROLE_CHOICE;
        for (int ro = 0; ro < 4; ro++)
            if (tb->nrole[k][ro] > tb->nrole[k][best])
                best = ro;
        tb->role[k] = (uint8_t)best;
    }
}

static void table_build(struct table *tb, struct tr *t, size_t n)
{
    memset(tb, 0, sizeof *tb);
    tb->n = n;
    size_t cap = 0;
    struct keycache kc = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < t[i].r->nparams; j++) {
            size_t before = tb->keys.n;
            uint32_t k = key_id(tb, &kc, j, t[i].r->params[j].key, 1);
            if (tb->keys.n == before)
                continue;
            if (k >= cap) {
                cap = cap ? cap * 2 : 16;
                tb->key = realloc(tb->key, cap * sizeof *tb->key);
                tb->source = realloc(tb->source, cap * sizeof *tb->source);
            }
            tb->key[k] = t[i].r->params[j].key;
            tb->source[k] = t[i].r->params[j].source;
        }
    tb->nk = tb->keys.n;
    size_t nk = tb->nk ? tb->nk : 1;
    tb->vals = calloc(nk, sizeof *tb->vals);
    tb->val = calloc(nk, sizeof *tb->val);
    tb->nval = calloc(nk, sizeof *tb->nval);
    tb->capval = calloc(nk, sizeof *tb->capval);
    tb->row = malloc((n ? n : 1) * nk * sizeof *tb->row);
    for (size_t i = 0; i < n * tb->nk; i++)
        tb->row[i] = NONE;
    memset(&kc, 0, sizeof kc);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < t[i].r->nparams; j++) {
            const struct leafscan_param *p = &t[i].r->params[j];
            uint32_t k = key_id(tb, &kc, j, p->key, 0);
            int added;
            uint32_t v = smap_put(&tb->vals[k], p->value, &added);
            if (added) {
                if (tb->nval[k] == tb->capval[k]) {
                    tb->capval[k] = tb->capval[k] ? tb->capval[k] * 2 : 8;
                    tb->val[k] = realloc(tb->val[k], tb->capval[k] * sizeof *tb->val[k]);
                }
                tb->val[k][tb->nval[k]++] = p->value;
            }
            tb->row[i * tb->nk + k] = v;
        }
    tb->order = malloc(nk * sizeof *tb->order);
    for (size_t k = 0; k < tb->nk; k++)
        tb->order[k] = (uint32_t)k;
    qsort_r(tb->order, tb->nk, sizeof *tb->order, cmp_keyid, tb);
    table_roles(tb, t, n);
}

/* Groups trials by their values of the keys with use[k] set (a
 * configuration): every trial, or with only_obj those with an objective.
 * gid (may be NULL) receives the group of each trial taken, in order.
 * Returns the number of groups. */
static size_t config_groups(const struct table *tb, const struct tr *t, const uint8_t *use,
                            int only_obj, uint32_t *gid)
{
    size_t nk = tb->nk, w = 0;
    uint32_t *rows = malloc((tb->n ? tb->n : 1) * (nk ? nk : 1) * sizeof *rows);
    struct rmap m = {.w = nk};
    for (size_t i = 0; i < tb->n; i++) {
        if (only_obj && !t[i].has_obj)
            continue;
        uint32_t *r = rows + w * nk;
        for (size_t k = 0; k < nk; k++)
            r[k] = use[k] ? tb->row[i * nk + k] : NONE;
        uint32_t g = rmap_put(&m, r);
        if (gid)
            gid[w] = g;
        w++;
    }
    size_t groups = m.n;
    rmap_free(&m);
    free(rows);
    return groups;
}


/* ---- selection */

static size_t count_le(const double *sorted, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static json_t *curve_json(const double *sorted, size_t N, int sign)
{
    uint32_t ns[CURVE_MAX];
    size_t k = stats_curve_points(N, ns, CURVE_MAX);
    double *mean = calloc(k, sizeof *mean), *sd = calloc(k, sizeof *sd),
           *tmean = calloc(k, sizeof *tmean);
    const char *why = NULL;
    json_t *dodge, *tang;
    json_t *jn = json_array();
    for (size_t j = 0; j < k; j++)
        json_array_append_new(jn, json_integer(ns[j]));
    if (stats_emax_dodge(sorted, N, ns, k, mean, sd, &why) == 0) {
        json_t *m = json_array(), *s = json_array();
        for (size_t j = 0; j < k; j++) {
            json_array_append_new(m, num(sign * mean[j]));
            json_array_append_new(s, num(sd[j]));
        }
        dodge = json_pack("{s:s,s:s,s:O,s:o,s:o}", "assumption",
                          "the trials are i.i.d. draws from one search distribution (random search "
                          "or a grid visited in random order); n draws with replacement",
                          "method", "Dodge et al. 2019, expected maximum after n trials", "n", jn,
                          "mean", m, "sd", s);
    } else
        dodge = omitted(why ? why : "undefined");
    if (stats_emax_tang(sorted, N, ns, k, tmean, &why) == 0) {
        json_t *m = json_array();
        for (size_t j = 0; j < k; j++)
            json_array_append_new(m, num(sign * tmean[j]));
        tang = json_pack("{s:s,s:s,s:O,s:o}", "assumption",
                         "the N trials are a random sample of the search; n drawn without "
                         "replacement (unbiased for the observed trials)",
                         "method", "Tang et al. 2020, without replacement", "n", jn, "mean", m);
    } else
        tang = omitted(why ? why : "undefined");
    json_decref(jn);
    free(mean);
    free(sd);
    free(tmean);
    return json_pack("{s:o,s:o}", "expected_max", dodge, "expected_max_without_replacement",
                     tang);
}

/* Noise floor: pooled SD over groups of trials with identical params apart
 * from seed-like keys. */
static json_t *noise_json(const struct table *tb, const struct tr *t, const double *sorted,
                          size_t N, double released, int have_released, int sign)
{
    size_t nk = tb->nk;
    uint32_t *gid = malloc((N ? N : 1) * sizeof *gid);
    double *v = malloc((N ? N : 1) * sizeof *v);
    uint8_t *use = malloc(nk ? nk : 1);
    json_t *seeds = json_array();
    for (size_t o = 0; o < nk; o++)
        if (tb->role[tb->order[o]] == TT_ROLE_SEED)
            json_array_append_new(seeds, json_string(tb->key[tb->order[o]]));
    for (size_t k = 0; k < nk; k++)
        use[k] = tb->role[k] == TT_ROLE_CHOICE;
    size_t ngroups = config_groups(tb, t, use, 1, gid);
    for (size_t i = 0, w = 0; i < tb->n; i++)
        if (t[i].has_obj)
            v[w++] = t[i].obj;
    double sd;
    size_t repeated, dof;
    const char *why = NULL;
    json_t *out;
    if (stats_pooled_sd(v, gid, N, ngroups, &sd, &repeated, &dof, &why) != 0 || !(sd > 0)) {
        json_decref(seeds);
        out = omitted(why ? "no configuration was repeated (identical choices; seeds, paths and "
                            "data sizes aside), so the run-to-run noise is unknown"
                          : "repeated configurations gave identical values: no measurable noise");
    } else {
        double mean = 0;
        for (size_t i = 0; i < N; i++)
            mean += sorted[i];
        mean /= (double)N;
        double e = stats_emax_normal(N);
        double floor_v = mean + sd * e;
        out = json_pack("{s:s,s:o,s:o,s:I,s:I,s:o,s:o,s:o}", "assumption",
                        "the objective's run-to-run noise is normal with the pooled SD of repeated "
                        "configurations, the same for every configuration; noise-only best = mean "
                        "+ sd * E[max of N standard normals]",
                        "seed_keys", seeds, "sd", num(sd), "repeated_configurations",
                        (json_int_t)repeated, "dof", (json_int_t)dof, "emax_std_normal", num(e),
                        "noise_only_expected_best", num(sign * floor_v),
                        "released_above_noise_sd",
                        have_released ? num((released - floor_v) / sd) : json_null());
    }
    free(gid);
    free(v);
    free(use);
    return out;
}

/* ---- choices */

struct valcount {
    const char *value;
    size_t n;
};

static int cmp_vc(const void *a, const void *b)
{
    const struct valcount *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->value, y->value);
}

static json_t *effect_json(const struct table *tb, const struct tr *t, size_t k, int numeric,
                           const double *vnum, int sign)
{
    size_t n = tb->n, m = 0;
    double *x = malloc((n ? n : 1) * sizeof *x), *y = malloc((n ? n : 1) * sizeof *y);
    uint32_t *g = malloc((n ? n : 1) * sizeof *g);
    int allpos = 1;
    uint32_t *grp = malloc((tb->nval[k] ? tb->nval[k] : 1) * sizeof *grp);
    for (size_t v = 0; v < tb->nval[k]; v++)
        grp[v] = NONE;
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = tb->row[i * tb->nk + k];
        if (!t[i].has_obj || v == NONE)
            continue;
        if (grp[v] == NONE)
            grp[v] = (uint32_t)ng++;
        g[m] = grp[v];
        y[m] = sign * t[i].obj; /* effects in the objective's own units */
        x[m] = numeric ? vnum[v] : 0;
        if (numeric && !(x[m] > 0))
            allpos = 0;
        m++;
    }
    free(grp);
    json_t *out;
    if (m < 3) {
        out = omitted("fewer than 3 trials with both this key and the objective");
        goto done;
    }
    json_t *edges = NULL;
    int binned = 0;
    if (numeric && ng > EFFECT_MAX_GROUPS) {
        double e[EFFECT_MAX_GROUPS + 1];
        ng = stats_quantile_bins(x, m, EFFECT_MAX_GROUPS, g, e);
        binned = 1;
        edges = json_array();
        for (size_t b = 0; b <= ng; b++)
            json_array_append_new(edges, num(e[b]));
    }
    double w2, range, rho = 0;
    const char *why = NULL;
    int ok_w = stats_omega2(y, g, m, ng, &w2, &range, &why);
    const char *why_w = why;
    int ok_r = -1;
    if (numeric) {
        if (allpos)
            for (size_t i = 0; i < m; i++)
                x[i] = log(x[i]);
        ok_r = stats_spearman(x, y, m, &rho, &why);
    }
    out = json_pack("{s:s,s:I,s:b}", "assumption",
                    "the other keys varied independently of this one (grid or random search); "
                    "one-way grouping of the objective by this key's value",
                    "groups", (json_int_t)ng, "binned", binned);
    if (edges)
        json_object_set_new(out, "bin_edges", edges);
    if (ok_w == 0) {
        json_object_set_new(out, "omega2", num(w2));
        json_object_set_new(out, "range_of_means", num(range));
    } else
        json_object_set_new(out, "omega2", omitted(why_w ? why_w : "undefined"));
    if (numeric) {
        json_object_set_new(out, "spearman_rho", ok_r == 0 ? num(rho) : omitted(why));
        json_object_set_new(out, "log_scale", json_boolean(allpos));
    }
done:
    free(x);
    free(y);
    free(g);
    return out;
}

/* The reason of a key's role; "(k of n trials; ...)" when the trials disagree. */
static const char *role_reason(const struct table *tb, size_t k)
{
    static __thread char buf[400];
    int ro = tb->role[k];
    size_t all = 0;
    for (int i = 0; i < 4; i++)
        all += tb->nrole[k][i];
    const char *why = tb->why[k][ro] ? tb->why[k][ro] : "";
    if (tb->nrole[k][ro] == all)
        return why;
    size_t l = (size_t)snprintf(buf, sizeof buf, "%s (in %zu of %zu trials; the others:", why,
                                tb->nrole[k][ro], all);
    for (int i = 0; i < 4 && l < sizeof buf; i++)
        if (i != ro && tb->nrole[k][i])
            l += (size_t)snprintf(buf + l, sizeof buf - l, " %s %zu", tt_role_name((enum tt_role)i),
                                  tb->nrole[k][i]);
    if (l < sizeof buf)
        snprintf(buf + l, sizeof buf - l, ")");
    return buf;
}

static json_t *choices_json(const struct table *tb, const struct tr *t, const struct tr *released,
                            int sign)
{
    size_t nk = tb->nk, n = tb->n;
    json_t *out = json_array();
    size_t *count = NULL;
    for (size_t o = 0; o < nk; o++) {
        size_t k = tb->order[o], nv = tb->nval[k], absent = 0;
        count = realloc(count, (nv ? nv : 1) * sizeof *count);
        memset(count, 0, (nv ? nv : 1) * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            uint32_t v = tb->row[i * nk + k];
            if (v == NONE)
                absent++;
            else
                count[v]++;
        }
        double *vnum = malloc((nv ? nv : 1) * sizeof *vnum);
        int numeric = 1;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t v = 0; v < nv; v++) {
            if (numeric && numeric_value(tb->val[k][v], &vnum[v])) {
                lo = vnum[v] < lo ? vnum[v] : lo;
                hi = vnum[v] > hi ? vnum[v] : hi;
            } else
                numeric = 0;
        }
        /* the VALUES_LISTED most frequent, kept sorted by insertion: a key with
         * a new value in every trial must not sort 100k strings */
        struct valcount vc[VALUES_LISTED];
        size_t nvc = 0;
        for (size_t v = 0; v < nv; v++) {
            struct valcount c = {tb->val[k][v], count[v]};
            if (nvc == VALUES_LISTED && cmp_vc(&c, &vc[nvc - 1]) >= 0)
                continue;
            size_t at = nvc < VALUES_LISTED ? nvc++ : nvc - 1;
            while (at > 0 && cmp_vc(&c, &vc[at - 1]) < 0) {
                vc[at] = vc[at - 1];
                at--;
            }
            vc[at] = c;
        }
        json_t *vals = json_array();
        for (size_t v = 0; v < nvc; v++)
            json_array_append_new(vals, json_pack("{s:s,s:I}", "value", vc[v].value, "trials",
                                                  (json_int_t)vc[v].n));
        const struct leafscan_param *rel = released ? leafscan_param_get(released->r, tb->key[k]) : NULL;
        int varied = nv > 1; /* set in only some trials is not varied: see "absent" */
        json_t *c = json_pack("{s:s,s:s?,s:o,s:b,s:b,s:I,s:o}", "key", tb->key[k], "source",
                              tb->source[k], "released",
                              rel ? json_string(rel->value) : json_null(), "varied", varied,
                              "numeric", numeric, "distinct", (json_int_t)nv, "values", vals);
        if (nv > VALUES_LISTED)
            json_object_set_new(c, "values_truncated",
                                json_integer((json_int_t)(nv - VALUES_LISTED)));
        if (absent)
            json_object_set_new(c, "absent", json_integer((json_int_t)absent));
        if (numeric) {
            json_object_set_new(c, "min", num(lo));
            json_object_set_new(c, "max", num(hi));
        }
        json_object_set_new(c, "role", json_string(tt_role_name(tb->role[k])));
        json_object_set_new(c, "role_reason", json_string(role_reason(tb, k)));
        if (tb->role[k] != TT_ROLE_CHOICE)
            ; /* not a configuration: no claim either way */
        else if (!varied && tb->explicit_[k])
            json_object_set_new(c, "note",
                                json_string("never varied: set explicitly to the same value in "
                                            "every trial, its effect untested, no importance "
                                            "claimed"));
        else if (!varied)
            json_object_set_new(c, "note",
                                json_string("never varied: an untested default, no importance "
                                            "claimed"));
        else
            json_object_set_new(c, "effect", effect_json(tb, t, k, numeric, vnum, sign));
        free(vnum);
        json_array_append_new(out, c);
    }
    free(count);
    return out;
}

/* ---- the kind of search the trials look like */
static json_t *kind_json(const struct table *tb, const struct tr *t, json_t *choices)
{
    size_t nk = tb->nk, nvar = 0;
    int all_random = 1;
    double product = 1;
    uint8_t *use = calloc(nk ? nk : 1, 1);
    json_t *c;
    size_t i;
    json_array_foreach(choices, i, c)
    {
        const char *key = json_string_value(json_object_get(c, "key"));
        uint32_t k = smap_get(&tb->keys, key);
        if (!json_is_true(json_object_get(c, "varied")) || tb->role[k] != TT_ROLE_CHOICE)
            continue;
        use[k] = 1;
        nvar++;
        size_t d = (size_t)json_integer_value(json_object_get(c, "distinct"));
        product *= (double)d;
        size_t have = tb->n - (size_t)json_integer_value(json_object_get(c, "absent"));
        if (!json_is_true(json_object_get(c, "numeric")) || (double)d < 0.9 * (double)have)
            all_random = 0;
    }
    /* distinct configurations of the varied keys among the sweep's trials
     * (a refit or a failed run is not a point of the sweep) */
    size_t distinct = config_groups(tb, t, use, 1, NULL);
    free(use);
    char why[256];
    const char *kind;
    if (nvar == 0) {
        kind = "other";
        snprintf(why, sizeof why, "no key was varied");
    } else if ((double)distinct == product && distinct >= 2) {
        kind = "grid";
        snprintf(why, sizeof why,
                 "every combination of the values of the %zu varied key(s) was tried (%zu "
                 "configurations)",
                 nvar, distinct);
    } else if (all_random) {
        kind = "random";
        snprintf(why, sizeof why,
                 "every varied key is numeric with (almost) a new value in each trial");
    } else {
        kind = "other";
        snprintf(why, sizeof why,
                 "neither a full grid (%zu of %.0f combinations tried) nor independent random "
                 "draws: effects may be confounded (adaptive or manual search)",
                 distinct, product);
    }
    return json_pack("{s:s,s:s}", "kind", kind, "reason", why);
}

/* ---- compute from leaves: one count per process, over all trials and over
 * the failed ones (one pass: a process of a failed trial may also have run
 * others) */
struct compute {
    size_t processes;
    double cpu, wall;
    int64_t rss;
};

static json_t *compute_obj(const struct compute *c)
{
    return json_pack("{s:I,s:o,s:o,s:I}", "processes", (json_int_t)c->processes, "cpu_seconds",
                     num(c->cpu), "wall_seconds", num(c->wall), "peak_rss_kb", (json_int_t)c->rss);
}

static json_t *compute_json(const struct tr *t, size_t n)
{
    struct smap procs = {0};
    struct compute all = {0}, bad = {0};
    smap_grow(&procs, n);
    uint8_t *seen = calloc(n ? n : 1, 1); /* per process id: 1 counted in all, 2 in bad */
    for (size_t i = 0; i < n; i++) {
        const struct leafscan_leaf *r = t[i].r;
        int failed = is_failure(t[i].status);
        double wall = 0;
        if (r->has_started && r->has_ended && r->ended_ns > r->started_ns)
            wall = (double)(r->ended_ns - r->started_ns) / 1e9;
        all.wall += wall;
        if (failed)
            bad.wall += wall;
        uint32_t id = smap_put(&procs, r->process ? r->process : r->trial, NULL);
        struct compute *cs[2] = {&all, failed ? &bad : NULL};
        for (int k = 0; k < 2; k++) {
            if (!cs[k] || (seen[id] & (1 << k)))
                continue;
            seen[id] |= (uint8_t)(1 << k);
            cs[k]->processes++;
            cs[k]->cpu += (double)r->cpu_us / 1e6;
            cs[k]->rss = r->maxrss_kb > cs[k]->rss ? r->maxrss_kb : cs[k]->rss;
        }
    }
    free(seen);
    smap_free(&procs);
    return json_pack("{s:o,s:o}", "trials", compute_obj(&all), "failed", compute_obj(&bad));
}

/* ---- refit: search trials with the producing trial's framework params */
static int is_adapter(const struct leafscan_param *p)
{
    return p->source && !strcmp(p->source, "adapter");
}

static int str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return 1;
    return 0;
}

static json_t *refit_json(const struct tr *p, const struct tr *t, size_t n, double *value,
                          size_t *nmatch)
{
    json_t *matched = json_array(), *ignored = json_array(), *trials = json_array();
    /* which fields a refit may differ in is the framework's own (its adapter row) */
    const struct tt_adapter *fw = tt_adapter_find(p->r->framework);
    for (size_t j = 0; j < p->r->nparams; j++) {
        const struct leafscan_param *q = &p->r->params[j];
        if (is_adapter(q))
            json_array_append_new(tt_adapter_refit_ignored(fw, q->key) ? ignored : matched, json_string(q->key));
    }
    double sum = 0;
    *nmatch = 0;
    for (size_t i = 0; json_array_size(matched) && i < n; i++) {
        const struct leafscan_leaf *r = t[i].r;
        if (&t[i] == p || !t[i].has_obj ||
            strcmp(r->framework ? r->framework : "", p->r->framework ? p->r->framework : ""))
            continue;
        int same = 1;
        for (size_t j = 0; same && j < p->r->nparams; j++) {
            const struct leafscan_param *q = &p->r->params[j];
            if (!is_adapter(q) || tt_adapter_refit_ignored(fw, q->key))
                continue;
            const struct leafscan_param *b = leafscan_param_get(r, q->key);
            same = b && !strcmp(b->value, q->value);
        }
        if (!same)
            continue;
        json_array_append_new(trials, json_string(r->trial));
        /* what the search trials set that the refit did not compare */
        for (size_t j = 0; j < r->nparams; j++) {
            const struct leafscan_param *q = &r->params[j];
            if (is_adapter(q) && (tt_adapter_refit_ignored(fw, q->key) || !leafscan_param_get(p->r, q->key)) &&
                !str_in(ignored, q->key))
                json_array_append_new(ignored, json_string(q->key));
        }
        sum += t[i].obj;
        (*nmatch)++;
    }
    *value = *nmatch ? sum / (double)*nmatch : 0;
    return json_pack("{s:o,s:o,s:o,s:s}", "trials", trials, "matched_on", matched, "ignored",
                     ignored, "note",
                     "the released model was trained after the search with the chosen "
                     "configuration and reported no objective itself; its value is the mean "
                     "objective of the search trials with the same framework hyperparameters "
                     "(cross-validation settings and model file aside)");
}

/* ---- selection bias from the out-of-fold predictions (docs/RECORD.md) -- */

const struct record_pred *record_preds_get(const struct record_preds *p, const char *trial)
{
    size_t lo = 0, hi = p ? p->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->v[mid].trial, trial);
        if (!c)
            return &p->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int record_pred_digest(const char *kind, int64_t n, const struct record_pred *e, uint8_t out[32])
{
    int k = preds_kind_of(kind);
    if (k < 0 || n <= 0 || n > STORE_PREDICTIONS_MAX || e->dlen != preds_data_len(k, (uint32_t)n))
        return -1;
    /* the store's digest over the same bytes (preds.c): one rule */
    struct preds p = {.kind = k, .n = (uint32_t)n, .fold = (uint8_t *)e->fold};
    if (k == PREDS_CORRECT)
        p.correct = (uint8_t *)e->data;
    else
        p.value = (uint8_t *)e->data;
    preds_digest(&p, out);
    return 0;
}

static double le_double(const uint8_t *p)
{
    uint64_t b = 0;
    for (int i = 7; i >= 0; i--)
        b = b << 8 | p[i];
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Pools the counted trials' out-of-fold data into one table (configurations
 * in the order of t) and computes the statistics. The pool: trials whose
 * leaf has predictions of the same kind, n and label digest as the
 * reference - the released trial, else the first trial its refit matched,
 * else the group with the most trials (ties: the first in log order). */
static json_t *bias_json(const struct tr *t, size_t n, const struct tr *released, json_t *refit,
                         const struct record_preds *preds)
{
    const struct leafscan_leaf *ref = NULL;
    if (released && released->r->pred_kind && record_preds_get(preds, released->r->trial))
        ref = released->r;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(refit, "trials"), i, u) {
        for (size_t j = 0; !ref && j < n; j++)
            if (!strcmp(t[j].r->trial, json_string_value(u)) && t[j].r->pred_kind &&
                record_preds_get(preds, t[j].r->trial))
                ref = t[j].r;
    }
#define SAME(a, b)                                                                               (!strcmp((a)->pred_kind, (b)->pred_kind) && (a)->pred_n == (b)->pred_n &&                     !strcmp((a)->pred_fnv ? (a)->pred_fnv : "", (b)->pred_fnv ? (b)->pred_fnv : ""))
    /* Without a reference: the groups in order of their first trial (a search
     * has one or a few), each with its count; the first of the largest wins. */
    const struct leafscan_leaf **grp = ref ? NULL : malloc((n ? n : 1) * sizeof *grp);
    size_t *cnt = ref ? NULL : calloc(n ? n : 1, sizeof *cnt), ng = 0, have = 0;
    if (!ref && (!grp || !cnt)) {
        free(grp);
        free(cnt);
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        if (!t[j].r->pred_kind || !record_preds_get(preds, t[j].r->trial))
            continue;
        have++;
        if (ref)
            continue;
        size_t g = 0;
        while (g < ng && !SAME(grp[g], t[j].r))
            g++;
        if (g == ng)
            grp[ng++] = t[j].r;
        cnt[g]++;
    }
    size_t top = 0;
    for (size_t g = 1; g < ng; g++)
        if (cnt[g] > cnt[top])
            top = g;
    if (ng)
        ref = grp[top];
    free(grp);
    free(cnt);
    if (!have)
        return omitted("no out-of-fold predictions recorded (the trials' frameworks kept none: "
                       "libsvm and liblinear cross-validations and scikit-learn searches do)");
    int kind = preds_kind_of(ref->pred_kind);
    size_t nc = 0, m = (size_t)ref->pred_n;
    const struct record_pred **use = malloc(have * sizeof *use);
    const uint8_t *folds = NULL;
    int same_folds = 1;
    if (!use)
        return NULL;
    uint8_t dig[32];
    crypto_hash_sha256_state seedh;
    crypto_hash_sha256_init(&seedh);
    for (size_t j = 0; j < n; j++) {
        const struct leafscan_leaf *r = t[j].r;
        const struct record_pred *e = r->pred_kind ? record_preds_get(preds, r->trial) : NULL;
        if (!e || !SAME(r, ref))
            continue;
        use[nc++] = e;
        crypto_hash_sha256_update(&seedh, (const uint8_t *)r->pred_sha256, strlen(r->pred_sha256));
        if (kind != PREDS_FOLD_SCORE)
            same_folds = same_folds && e->fold && (!folds || !memcmp(folds, e->fold, m));
        if (!folds)
            folds = e->fold;
    }
#undef SAME
    crypto_hash_sha256_final(&seedh, dig);
    uint64_t seed = 0;
    for (int b = 0; b < 8; b++)
        seed = seed << 8 | dig[b];
    /* folds: the fold count, when every pooled trial was tested on the same folds */
    size_t k = 0;
    if (kind == PREDS_FOLD_SCORE)
        k = m;
    else if (same_folds && folds) {
        for (size_t x = 0; x < m; x++)
            if ((size_t)folds[x] + 1 > k)
                k = (size_t)folds[x] + 1;
    }
    struct selbias_table tb;
    if (selbias_table_init(&tb, kind == PREDS_VALUE ? SELBIAS_REGRESSION : SELBIAS_CLASSIFICATION, nc,
                           kind == PREDS_FOLD_SCORE ? 0 : m, k) != 0) {
        free(use);
        return NULL;
    }
    tb.loss_kind = SELBIAS_SQUARED;
    size_t *fsize = kind != PREDS_FOLD_SCORE && k ? calloc(k, sizeof *fsize) : NULL;
    for (size_t x = 0; fsize && x < m; x++)
        fsize[folds[x]]++;
    for (size_t c = 0; c < nc; c++) {
        const uint8_t *d = use[c]->data;
        if (kind == PREDS_CORRECT) {
            for (size_t w = 0; w < tb.words; w++) {
                uint64_t word = 0;
                for (size_t b = 0; b < 8 && w * 8 + b < (m + 7) / 8; b++)
                    word |= (uint64_t)d[w * 8 + b] << (8 * b);
                tb.correct[c * tb.words + w] = word;
            }
            for (size_t x = 0; fsize && x < m; x++)
                if (d[x / 8] >> (x % 8) & 1)
                    tb.fold[(size_t)folds[x] * nc + c] += 1.0;
        } else if (kind == PREDS_VALUE) {
            for (size_t x = 0; x < m; x++) {
                double l = selbias_loss_of(SELBIAS_SQUARED, le_double(d + 8 * x),
                                           le_double(d + 8 * (m + x)));
                tb.loss[x * nc + c] = l;
                if (fsize)
                    tb.fold[(size_t)folds[x] * nc + c] += l;
            }
        } else {
            for (size_t f = 0; f < k; f++)
                tb.fold[f * nc + c] = le_double(d + 8 * f);
        }
    }
    int empty_fold = 0;
    for (size_t f = 0; fsize && f < k; f++) {
        empty_fold |= !fsize[f];
        for (size_t c = 0; c < nc && fsize[f]; c++)
            tb.fold[f * nc + c] /= (double)fsize[f]; /* accuracy or mean loss in the fold */
    }
    if (empty_fold)
        tb.k = 0;
    tb.fold_max = kind != PREDS_VALUE;
    struct selbias_opts o = {seed, SELBIAS_B_DEFAULT, SELBIAS_S_DEFAULT, 2};
    json_t *out = selbias_json(&tb, &o);
    if (out && !tb.k && kind != PREDS_FOLD_SCORE)
        json_object_set_new(out, "tibshirani",
                            omitted(!same_folds ? "the pooled trials were not all tested on the same "
                                                  "folds (or their folds are not known)"
                                                : "a fold with no example"));
    if (out)
        json_object_set_new(
            out, "table",
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "kind", ref->pred_kind, "configurations",
                      (json_int_t)nc, "examples", (json_int_t)(kind == PREDS_FOLD_SCORE ? 0 : m), "folds",
                      (json_int_t)k, "left_out", (json_int_t)(have - nc), "left_out_reason",
                      "trials whose predictions have another kind, example count or label digest "
                      "than the pool's (other data, or another order)"));
    free(fsize);
    free(use);
    selbias_table_free(&tb);
    return out;
}

/* The objective when none is given: the metric with a direction reported by
 * most trials, a validation split first, then the smallest name. */
static int default_objective(const struct tr *t, size_t n, char *name, size_t namelen,
                             int *valid_out)
{
    struct smap ids = {0};
    size_t *cnt = NULL, cap = 0;
    const char **nm = NULL;
    uint8_t *valid = NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < t[i].r->nmetrics; j++) {
            const struct leafscan_metric *m = &t[i].r->metrics[j];
            if (!m->direction)
                continue;
            int added;
            uint32_t id = smap_put(&ids, m->name, &added);
            if (id >= cap) {
                cap = cap ? cap * 2 : 16;
                cnt = realloc(cnt, cap * sizeof *cnt);
                nm = realloc(nm, cap * sizeof *nm);
                valid = realloc(valid, cap);
            }
            if (added) {
                cnt[id] = 0;
                nm[id] = m->name;
                valid[id] = 0;
            }
            cnt[id]++;
            valid[id] |= m->split && !strcmp(m->split, "valid");
        }
    long best = -1;
    for (size_t id = 0; id < ids.n; id++)
        if (best < 0 || valid[id] > valid[best] ||
            (valid[id] == valid[best] &&
             (cnt[id] > cnt[best] || (cnt[id] == cnt[best] && strcmp(nm[id], nm[best]) < 0))))
            best = (long)id;
    if (best >= 0) {
        snprintf(name, namelen, "%s", nm[best]);
        *valid_out = valid[best];
    }
    smap_free(&ids);
    free(cnt);
    free(nm);
    free(valid);
    return best >= 0 ? 0 : -1;
}

/* ---- evaluations: excluded trials that evaluated a counted trial's model
 * (search.excluded[].evaluates), their metrics and held-out data files */
struct evals {
    size_t n;
    struct ev {
        const struct leafscan_leaf *r; /* the evaluation's last leaf */
        uint32_t of;                   /* index of the evaluated trial in t[] */
        const char **data;             /* sha256 of its held-out data files */
        size_t ndata;
    } *e;
};

static void evals_free(struct evals *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->e[i].data);
    free(ev->e);
}

/* Files an evaluation reads that are not data: the system's (as the store's
 * eval_data_view). */
static int system_path(const char *p)
{
    static const char *const pre[] = {"/usr/", "/etc/", "/lib", "/proc/", "/sys/", "/dev/", NULL};
    for (int i = 0; pre[i]; i++)
        if (!strncmp(p, pre[i], strlen(pre[i])))
            return 1;
    return 0;
}

/* The uuid an excluded entry evaluates: its "evaluates", else the uuid
 * ending its reason "evaluation of trial <uuid>" (records before it). */
static const char *evaluates(json_t *x)
{
    const char *u = json_string_value(json_object_get(x, "evaluates"));
    const char *why = json_string_value(json_object_get(x, "reason"));
    static const char pre[] = "evaluation of trial ";
    if (!u && why && !strncmp(why, pre, sizeof pre - 1))
        u = why + sizeof pre - 1;
    return u;
}

/* Collects, in log order, the last leaf of every excluded trial that
 * evaluated a counted trial, with its data files: the hashed inputs that
 * are neither the evaluated trial's outputs (its model) nor system files. */
static void evals_collect(const struct leafscan_leaf *leaf, size_t nleaves, json_t *excluded,
                          const struct tr *t, size_t n, struct evals *ev)
{
    struct smap tix = {0}, of = {0};
    const char **target = NULL;
    size_t i;
    json_t *x;
    memset(ev, 0, sizeof *ev);
    if (!json_array_size(excluded))
        return;
    target = calloc(json_array_size(excluded), sizeof *target);
    json_array_foreach(excluded, i, x)
    {
        const char *u = json_string_value(json_object_get(x, "trial")), *o = evaluates(x);
        int added;
        if (!u || !o)
            continue;
        uint32_t id = smap_put(&of, u, &added);
        if (added)
            target[id] = o;
    }
    for (size_t j = 0; j < n; j++)
        smap_put(&tix, t[j].r->trial, NULL);
    /* the last leaf of each evaluation trial */
    uint32_t *last = calloc(of.n ? of.n : 1, sizeof *last);
    for (size_t l = 0; l < nleaves; l++) {
        uint32_t id = leaf[l].trial ? smap_get(&of, leaf[l].trial) : NONE;
        if (id != NONE)
            last[id] = (uint32_t)l + 1;
    }
    ev->e = calloc(of.n ? of.n : 1, sizeof *ev->e);
    for (size_t l = 0; l < nleaves; l++) {
        uint32_t id = leaf[l].trial ? smap_get(&of, leaf[l].trial) : NONE;
        if (id == NONE || last[id] != l + 1)
            continue;
        uint32_t k = smap_get(&tix, target[id]);
        if (k == NONE)
            continue;
        struct ev *e = &ev->e[ev->n++];
        const struct leafscan_leaf *r = &leaf[l], *m = t[k].r;
        e->r = r;
        e->of = k;
        e->data = calloc(r->ninputs ? r->ninputs : 1, sizeof *e->data);
        for (size_t a = 0; a < r->ninputs; a++) {
            const struct leafscan_file *f = &r->inputs[a];
            int model = 0;
            if (!f->sha256 || !f->path || system_path(f->path))
                continue;
            for (size_t b = 0; !model && b < m->noutputs; b++)
                model = m->outputs[b].sha256 && !strcmp(m->outputs[b].sha256, f->sha256);
            int dup = 0;
            for (size_t b = 0; !dup && b < e->ndata; b++)
                dup = !strcmp(e->data[b], f->sha256);
            if (!model && !dup)
                e->data[e->ndata++] = f->sha256;
        }
    }
    free(last);
    free(target);
    smap_free(&tix);
    smap_free(&of);
}

static int ev_reads(const struct ev *e, const char *sha)
{
    for (size_t i = 0; i < e->ndata; i++)
        if (!strcmp(e->data[i], sha))
            return 1;
    return 0;
}

/* "cv_accuracy (110 trials), ..." : the metrics trials (or evaluations)
 * reported, for an error naming the objective that is missing. */
static void metric_names(const struct leafscan_leaf *const *r, size_t n, char *buf, size_t len)
{
    struct smap ids = {0};
    size_t *cnt = calloc(n ? n * 8 + 8 : 8, sizeof *cnt), cap = n ? n * 8 + 8 : 8, l = 0;
    const char **nm = calloc(cap, sizeof *nm);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < r[i]->nmetrics; j++) {
            int added;
            uint32_t id = smap_put(&ids, r[i]->metrics[j].name, &added);
            if (id >= cap)
                continue;
            nm[id] = r[i]->metrics[j].name;
            cnt[id]++;
        }
    buf[0] = 0;
    for (size_t id = 0; id < ids.n && id < cap && l + 1 < len; id++)
        l += (size_t)snprintf(buf + l, len - l, "%s%s (%zu)", id ? ", " : "", nm[id], cnt[id]);
    if (!ids.n)
        snprintf(buf, len, "none");
    smap_free(&ids);
    free(cnt);
    free(nm);
}

/* Selection on held-out data: for each data file, the models (trials)
 * evaluated on it with one metric (the objective if reported there, else
 * the metric with a direction reported most there), and whether the
 * released trial p is the best of two or more. Sorted by sha256. *optimistic
 * (may be NULL) is set to the number of models compared when p was picked
 * that way on a file of obj_ev, the evaluation its objective value came from. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *holdout_selection(const struct evals *ev, const struct tr *t, size_t n,
                                 const struct tr *p, const char *objname, int dir_max,
                                 const struct ev *obj_ev, int *optimistic)
{
    json_t *out = json_array();
    const char **shas = NULL;
    size_t ns = 0, cap = 0;
    for (size_t i = 0; i < ev->n; i++)
        for (size_t d = 0; d < ev->e[i].ndata; d++) {
            if (ns == cap)
                shas = realloc(shas, (cap = cap ? cap * 2 : 16) * sizeof *shas);
            shas[ns++] = ev->e[i].data[d];
        }
    if (ns)
        qsort(shas, ns, sizeof *shas, cmp_str);
    double *val = malloc((n ? n : 1) * sizeof *val);
    uint8_t *has = malloc(n ? n : 1);
    for (size_t s = 0; s < ns; s++) {
        if (s && !strcmp(shas[s], shas[s - 1]))
            continue;
        const char *sha = shas[s];
        /* the file's metric */
        const char *metric = NULL, *dir = NULL;
        struct smap ids = {0};
        size_t cnt[64] = {0};
        const char *nm[64], *dr[64];
        for (size_t i = 0; i < ev->n; i++) {
            if (!ev_reads(&ev->e[i], sha))
                continue;
            for (size_t j = 0; j < ev->e[i].r->nmetrics; j++) {
                const struct leafscan_metric *m = &ev->e[i].r->metrics[j];
                if (!m->finite || (!m->direction && strcmp(m->name, objname)))
                    continue;
                uint32_t id = smap_put(&ids, m->name, NULL);
                if (id >= 64)
                    continue;
                nm[id] = m->name;
                dr[id] = m->direction;
                cnt[id]++;
            }
        }
        for (size_t id = 0; id < ids.n && id < 64; id++)
            if (!strcmp(nm[id], objname)) {
                metric = nm[id];
                dir = dir_max ? "max" : "min";
                break;
            } else if (!metric || cnt[id] > cnt[smap_get(&ids, metric)] ||
                       (cnt[id] == cnt[smap_get(&ids, metric)] && strcmp(nm[id], metric) < 0)) {
                metric = nm[id];
                dir = dr[id];
            }
        smap_free(&ids);
        if (!metric)
            continue;
        int sign = dir && !strcmp(dir, "min") ? -1 : 1;
        memset(has, 0, n ? n : 1);
        for (size_t i = 0; i < ev->n; i++) { /* log order: the latest value wins */
            const struct leafscan_metric *m = leafscan_metric_get(ev->e[i].r, metric);
            if (m && m->finite && ev_reads(&ev->e[i], sha)) {
                val[ev->e[i].of] = sign * m->value;
                has[ev->e[i].of] = 1;
            }
        }
        size_t models = 0, rank = 1;
        long pi = p ? (long)(p - t) : -1;
        for (size_t j = 0; j < n; j++)
            if (has[j]) {
                models++;
                if (pi >= 0 && has[pi] && val[j] > val[pi])
                    rank++;
            }
        int in = pi >= 0 && has[pi];
        int selected = in && models >= 2 && rank == 1;
        char why[200];
        if (!in)
            snprintf(why, sizeof why, "the released model was not evaluated on this file");
        else if (models < 2)
            snprintf(why, sizeof why, "only the released model was evaluated on this file");
        else if (selected)
            snprintf(why, sizeof why,
                     "the released model is the best of the %zu models evaluated on this file "
                     "(%s): its value here is optimistic",
                     models, metric);
        else
            snprintf(why, sizeof why, "the released model ranks %zu of %zu on this file (%s)",
                     rank, models, metric);
        json_array_append_new(
            out, json_pack("{s:s,s:s,s:s,s:I,s:o,s:b,s:s}", "sha256", sha, "metric", metric,
                           "direction", sign > 0 ? "max" : "min", "models_compared",
                           (json_int_t)models, "released_rank",
                           in ? json_integer((json_int_t)rank) : json_null(), "selected_release",
                           selected, "selection_reason", why));
        if (selected && optimistic && obj_ev && ev_reads(obj_ev, sha) &&
            !strcmp(metric, objname))
            *optimistic = (int)models;
    }
    free(val);
    free(has);
    free(shas);
    return out;
}

/* ---- the whole computation */

int record_compute(const struct leafscan_leaf *leaf, size_t nleaves, json_t *excluded,
                   const char *produced, const char *objective, int dir_max,
                   const struct record_preds *preds, json_t **search_out,
                   json_t **selection_out, json_t **choices_out, json_t **refit_out,
                   json_t **holdout_out, char *err, size_t errlen)
{
    int rc = -1;
    struct smap latest = {0}, skip = {0};
    uint32_t *last = malloc((nleaves ? nleaves : 1) * sizeof *last);
    size_t i;
    json_t *x;
    json_array_foreach(excluded, i, x)
    {
        const char *u = json_string_value(json_object_get(x, "trial"));
        if (u)
            smap_put(&skip, u, NULL);
    }
    uint32_t *idof = malloc((nleaves ? nleaves : 1) * sizeof *idof);
    smap_grow(&latest, nleaves);
    for (i = 0; i < nleaves; i++) {
        if (!leaf[i].trial) {
            tt_fail(err, errlen, "leaf %zu has no trial uuid", i);
            free(last);
            free(idof);
            smap_free(&latest);
            smap_free(&skip);
            return -1;
        }
        idof[i] = smap_put(&latest, leaf[i].trial, NULL);
        last[idof[i]] = (uint32_t)i;
    }
    size_t distinct = latest.n;
    struct tr *t = calloc(distinct ? distinct : 1, sizeof *t);
    size_t n = 0;
    for (i = 0; i < nleaves; i++) {
        if (last[idof[i]] != i || (skip.n && smap_get(&skip, leaf[i].trial) != NONE))
            continue;
        t[n].r = &leaf[i];
        t[n].status = leaf[i].status ? leaf[i].status : "unknown";
        n++;
    }
    free(last);
    free(idof);
    smap_free(&latest);
    smap_free(&skip);

    struct evals ev;
    evals_collect(leaf, nleaves, excluded, t, n, &ev);
    struct tr *et = calloc(ev.n ? ev.n : 1, sizeof *et); /* the evaluations, as trials */
    for (size_t j = 0; j < ev.n; j++)
        et[j].r = ev.e[j].r;

    char objname[256], chosenbuf[300];
    const char *chosen = "flag";
    if (objective)
        snprintf(objname, sizeof objname, "%s", objective);
    else {
        int valid = 0, on_evals = 0;
        if (default_objective(t, n, objname, sizeof objname, &valid) != 0) {
            if (default_objective(et, ev.n, objname, sizeof objname, &valid) != 0) {
                tt_fail(err, errlen, "no trial reported a metric with a direction; give "
                                     "--objective NAME:max|min");
                free(et);
                evals_free(&ev);
                free(t);
                return -1;
            }
            on_evals = 1;
        }
        snprintf(chosenbuf, sizeof chosenbuf,
                 "default: the metric with a direction reported by most %s%s",
                 on_evals ? "evaluations (no trial reported one itself)" : "trials",
                 valid ? " (validation split preferred)" : "");
        chosen = chosenbuf;
    }
    size_t N = 0, nonfinite = 0, from_evals = 0;
    struct status_count miss = {0};
    for (size_t j = 0; j < n; j++)
        t[j].from_ev = -1;
    /* a trial's own value first; else its latest evaluation's (log order) */
    for (size_t j = 0; j < ev.n; j++) {
        struct tr *te = &t[ev.e[j].of];
        const struct leafscan_metric *m = leafscan_metric_get(ev.e[j].r, objname);
        if (m && m->finite && !leafscan_metric_get(te->r, objname))
            te->from_ev = (long)j;
    }
    for (size_t j = 0; j < n; j++) {
        const struct leafscan_metric *m = leafscan_metric_get(t[j].r, objname);
        if (!m && t[j].from_ev >= 0) {
            m = leafscan_metric_get(ev.e[t[j].from_ev].r, objname);
            from_evals++;
        }
        if (m && dir_max < 0 && m->direction)
            dir_max = !strcmp(m->direction, "max");
        if (m && m->finite) {
            t[j].has_obj = 1;
            t[j].obj = m->value;
            N++;
        } else {
            nonfinite += m != NULL;
            status_add(&miss, t[j].status);
        }
    }
    json_t *missing = status_json(&miss);
    if (!N || dir_max < 0) {
        if (!N) {
            char own[300], evs[300];
            const struct leafscan_leaf **rs = malloc((n + ev.n + 1) * sizeof *rs);
            for (size_t j = 0; j < n; j++)
                rs[j] = t[j].r;
            metric_names(rs, n, own, sizeof own);
            for (size_t j = 0; j < ev.n; j++)
                rs[j] = ev.e[j].r;
            metric_names(rs, ev.n, evs, sizeof evs);
            free(rs);
            tt_fail(err, errlen,
                    "objective '%s': no trial of the study reported it; metrics of the trials "
                    "(trials reporting each): %s; of their evaluations on held-out data: %s",
                    objname, own, evs);
        } else
            tt_fail(err, errlen,
                     "objective '%s' has no recorded direction; give --objective %s:max or %s:min",
                     objname, objname, objname);
        json_decref(missing);
        free(et);
        evals_free(&ev);
        free(t);
        return -1;
    }
    free(et);
    int sign = dir_max ? 1 : -1;
    double *sorted = malloc(N * sizeof *sorted);
    for (size_t j = 0, w = 0; j < n; j++)
        if (t[j].has_obj) {
            t[j].obj *= sign;
            sorted[w++] = t[j].obj;
        }
    stats_sort(sorted, N);
    record_phase("  compute: trials, objective");

    /* the released trial and its value */
    const struct tr *p = NULL;
    for (size_t j = 0; produced && j < n; j++)
        if (!strcmp(t[j].r->trial, produced))
            p = &t[j];
    json_t *refit = NULL, *released = NULL;
    double rel = 0;
    int have_rel = 0;
    if (produced && !p) {
        released = omitted("the producing trial is not among the counted trials of the log");
    } else if (p && p->has_obj) {
        rel = p->obj;
        have_rel = 1;
        released = json_pack("{s:s}", "from", "producedBy");
    } else if (p) {
        size_t nm;
        refit = refit_json(p, t, n, &rel, &nm);
        if (nm) {
            have_rel = 1;
            released = json_pack("{s:s}", "from", "refit_of");
        } else {
            json_decref(refit);
            refit = NULL;
            released = omitted("the producing trial reported no objective and no search trial "
                               "has its framework hyperparameters");
        }
    }
    if (have_rel) {
        size_t ties, rank = stats_rank(sorted, N, rel, &ties);
        json_object_set_new(released, "value", num(sign * rel));
        json_object_set_new(released, "rank", json_integer((json_int_t)rank));
        json_object_set_new(released, "ties", json_integer((json_int_t)ties));
        json_object_set_new(released, "of", json_integer((json_int_t)N));
        json_object_set_new(released, "percentile",
                            num(100.0 * (double)count_le(sorted, N, rel) / (double)N));
    }

    int optimistic = 0;
    json_t *holdout = holdout_selection(&ev, t, n, p, objname, dir_max, p && p->from_ev >= 0 && have_rel && !refit ? &ev.e[p->from_ev] : NULL, &optimistic);
    evals_free(&ev);
    if (optimistic && released) {
        char why[200];
        snprintf(why, sizeof why,
                 "the released model was picked as the best of %d models on the held-out file "
                 "this value comes from: it is an optimistic estimate of its performance on new "
                 "data",
                 optimistic);
        json_object_set_new(released, "optimistic", json_string(why));
    }
    json_t *sel = json_pack(
        "{s:{s:s,s:s,s:s},s:I,s:o,s:s,s:o,s:o,s:o}", "objective", "name", objname, "direction",
        dir_max ? "max" : "min", "chosen", chosen, "n", (json_int_t)N, "missing", missing,
        "treatment",
        "trials without a finite objective value (failed, crashed, killed, or never reporting "
        "it) are left out of N and of the curves; they count in search.trials and the "
        "failure rate",
        "best", num(sign * sorted[N - 1]), "median", num(sign * stats_median(sorted, N)), "worst",
        num(sign * sorted[0]));
    if (from_evals)
        json_object_set_new(json_object_get(sel, "objective"), "from",
                            json_pack("{s:I,s:s}", "evaluations", (json_int_t)from_evals, "note",
                                      "trials without the metric take it from their latest "
                                      "evaluation: a later process that read the trial's model "
                                      "and reported it on held-out data"));
    if (nonfinite)
        json_object_set_new(sel, "non_finite", json_integer((json_int_t)nonfinite));
    if (released)
        json_object_set_new(sel, "released", released);
    json_object_update_new(sel, curve_json(sorted, N, sign));
    record_phase("  compute: curves");

    struct table tb;
    table_build(&tb, t, n);
    record_phase("  compute: params table");
    json_object_set_new(sel, "noise_floor", noise_json(&tb, t, sorted, N, rel, have_rel, sign));
    record_phase("  compute: noise floor");
    json_object_set_new(sel, "selection_bias", bias_json(t, n, p, refit, preds));
    record_phase("  compute: selection bias");
    json_t *choices = choices_json(&tb, t, p, sign);
    record_phase("  compute: choice ledger");

    /* search */
    uint8_t *all = calloc(tb.nk ? tb.nk : 1, 1);
    for (size_t k = 0; k < tb.nk; k++)
        all[k] = tb.role[k] == TT_ROLE_CHOICE;
    size_t distinct_configs = config_groups(&tb, t, all, 0, NULL);
    free(all);
    struct status_count byst = {0};
    struct smap sessions = {0};
    int64_t first = 0, lastt = 0;
    size_t bad = 0;
    for (size_t j = 0; j < n; j++) {
        const struct leafscan_leaf *r = t[j].r;
        status_add(&byst, t[j].status);
        bad += is_failure(t[j].status);
        if (r->session)
            smap_put(&sessions, r->session, NULL);
        if (r->has_started && r->started_ns && (!first || r->started_ns < first))
            first = r->started_ns;
        int64_t e = r->has_ended ? r->ended_ns : r->started_ns;
        if (e > lastt)
            lastt = e;
    }
    json_t *search = json_pack(
        "{s:I,s:o,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "trials", (json_int_t)n, "by_status",
        status_json(&byst), "failure_rate", num(n ? (double)bad / (double)n : 0), "revisions",
        (json_int_t)(nleaves - distinct), "sessions", (json_int_t)sessions.n,
        "distinct_configurations", (json_int_t)distinct_configs, "first",
        first ? jsonfmt_iso_ns(first) : json_null(), "last",
        lastt ? jsonfmt_iso_ns(lastt) : json_null(), "kind", kind_json(&tb, t, choices), "compute",
        compute_json(t, n));
    smap_free(&sessions);
    table_free(&tb);

    *search_out = search;
    *selection_out = sel;
    *choices_out = choices;
    if (refit_out)
        *refit_out = refit;
    else
        json_decref(refit);
    if (holdout_out)
        *holdout_out = holdout;
    else
        json_decref(holdout);
    rc = 0;
    free(sorted);
    free(t);
    return rc;
}
