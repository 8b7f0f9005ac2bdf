/* record_stats.c - the computed sections of a provenance record (search,
 * selection, choices) from the trials' leaf objects alone. attest calls it
 * with the store's log, verify with the record's `trials`: the same code on
 * the same leaves gives bit-identical JSON, which is how verify checks every
 * statistic. Formulas: docs/RECORD.md and collector/stats.h. */
#include "record.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "stats.h"

#define CURVE_MAX 400
#define VALUES_LISTED 50
#define EFFECT_MAX_GROUPS 8

struct tr {
    json_t *leaf; /* borrowed from the trials array */
    const char *uuid, *status, *process, *framework;
    json_t *params, *sources;
    int has_obj;
    double obj; /* oriented: larger is better */
    int64_t started, ended;
    size_t leaf_index;
};

static const char *js(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t ji(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

json_t *record_iso_ns(long long ns)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    char buf[48];
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)((ns / 1000000) % 1000));
    return json_string(buf);
}

/* Finite doubles only: jansson cannot hold NaN/inf. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *omitted(const char *why)
{
    return json_pack("{s:s}", "omitted", why);
}

/* A metric's value as a double; "nan"/"inf" strings are not values. */
static int metric_value(json_t *m, double *v)
{
    json_t *x = json_object_get(m, "value");
    if (!json_is_number(x))
        return -1;
    *v = json_number_value(x);
    return isfinite(*v) ? 0 : -1;
}

int record_objective_parse(const char *spec, char *name, size_t namelen, int *dir_max,
                           char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!n || n >= namelen) {
        snprintf(err, errlen, "--objective '%s': expected NAME:max or NAME:min", spec);
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
        snprintf(err, errlen, "--objective '%s': direction must be max or min, not '%s'", spec,
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
    static const char *const words[] = {"seed", "random_seed", "random_state", "rng", "rng_seed",
                                        "run", "rep", "repeat", "repetition", "replicate", NULL};
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A canonical string of the params (sorted keys), optionally without the
 * seed-like ones: equal strings = the same configuration. malloc'd. */
static char *config_sig(json_t *params, int drop_seeds)
{
    size_t n = json_object_size(params), k = 0, len = 1;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        if (drop_seeds && record_seed_like(key))
            continue;
        keys[k++] = key;
        len += strlen(key) + strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
    }
    qsort(keys, k, sizeof *keys, cmp_str);
    char *s = malloc(len), *p = s;
    for (size_t i = 0; i < k; i++) {
        const char *val = json_string_value(json_object_get(params, keys[i]));
        p += sprintf(p, "%s\x1f%s\x1e", keys[i], val ? val : "");
    }
    *p = 0;
    free(keys);
    return s;
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
static json_t *noise_json(struct tr **withobj, size_t N, const double *sorted, double released,
                          int have_released, int sign)
{
    json_t *groups = json_object(), *seeds = json_object();
    uint32_t *gid = malloc((N ? N : 1) * sizeof *gid);
    double *v = malloc((N ? N : 1) * sizeof *v);
    size_t ng = 0;
    for (size_t i = 0; i < N; i++) {
        const char *key;
        json_t *x;
        json_object_foreach(withobj[i]->params, key, x) if (record_seed_like(key))
            json_object_set_new(seeds, key, json_true());
        char *sig = config_sig(withobj[i]->params, 1);
        json_t *g = json_object_get(groups, sig);
        if (!g) {
            g = json_integer((json_int_t)ng++);
            json_object_set_new(groups, sig, g);
        }
        gid[i] = (uint32_t)json_integer_value(g);
        v[i] = withobj[i]->obj;
        free(sig);
    }
    double sd;
    size_t repeated, dof;
    const char *why = NULL;
    json_t *out;
    if (stats_pooled_sd(v, gid, N, ng, &sd, &repeated, &dof, &why) != 0 || !(sd > 0)) {
        out = omitted(why ? "no configuration was repeated (identical params apart from seed-like "
                            "keys), so the run-to-run noise is unknown"
                          : "repeated configurations gave identical values: no measurable noise");
    } else {
        double mean = 0;
        for (size_t i = 0; i < N; i++)
            mean += sorted[i];
        mean /= (double)N;
        double e = stats_emax_normal(N);
        double floor_v = mean + sd * e;
        json_t *sk = json_array();
        const char *key;
        json_t *x;
        json_object_foreach(seeds, key, x) json_array_append_new(sk, json_string(key));
        out = json_pack("{s:s,s:o,s:o,s:I,s:I,s:o,s:o,s:o}", "assumption",
                        "the objective's run-to-run noise is normal with the pooled SD of repeated "
                        "configurations, the same for every configuration; noise-only best = mean "
                        "+ sd * E[max of N standard normals]",
                        "seed_keys", sk, "sd", num(sd), "repeated_configurations",
                        (json_int_t)repeated, "dof", (json_int_t)dof, "emax_std_normal", num(e),
                        "noise_only_expected_best", num(sign * floor_v),
                        "released_above_noise_sd",
                        have_released ? num((released - floor_v) / sd) : json_null());
    }
    json_decref(groups);
    json_decref(seeds);
    free(gid);
    free(v);
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

struct xv {
    double x;
    const char *s;
    double y;
};

static int cmp_xv(const void *a, const void *b)
{
    const struct xv *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x;
}

static int cmp_xv_s(const void *a, const void *b)
{
    return strcmp(((const struct xv *)a)->s, ((const struct xv *)b)->s);
}

static json_t *effect_json(struct tr **t, size_t n, const char *key, int numeric, int sign)
{
    struct xv *xs = malloc((n ? n : 1) * sizeof *xs);
    size_t m = 0;
    int allpos = 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = js(t[i]->params, key);
        if (!t[i]->has_obj || !s)
            continue;
        xs[m].s = s;
        xs[m].y = sign * t[i]->obj; /* effects in the objective's own units */
        xs[m].x = 0;
        if (numeric) {
            numeric_value(s, &xs[m].x);
            if (!(xs[m].x > 0))
                allpos = 0;
        }
        m++;
    }
    json_t *out = NULL;
    if (m < 3) {
        out = omitted("fewer than 3 trials with both this key and the objective");
        goto done;
    }
    /* group ids: by value (sorted), or quantile bins for many numeric values */
    qsort(xs, m, sizeof *xs, numeric ? cmp_xv : cmp_xv_s);
    uint32_t *g = malloc(m * sizeof *g);
    double *y = malloc(m * sizeof *y), *x = malloc(m * sizeof *x);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (i && (numeric ? xs[i].x != xs[i - 1].x : strcmp(xs[i].s, xs[i - 1].s) != 0))
            k++;
        g[i] = (uint32_t)k;
        y[i] = xs[i].y;
        x[i] = xs[i].x;
    }
    k++;
    json_t *edges = NULL;
    int binned = 0;
    if (numeric && k > EFFECT_MAX_GROUPS) {
        double e[EFFECT_MAX_GROUPS + 1];
        k = stats_quantile_bins(x, m, EFFECT_MAX_GROUPS, g, e);
        binned = 1;
        edges = json_array();
        for (size_t b = 0; b <= k; b++)
            json_array_append_new(edges, num(e[b]));
    }
    double w2, range, rho = 0;
    const char *why = NULL;
    int ok_w = stats_omega2(y, g, m, k, &w2, &range, &why);
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
                    "groups", (json_int_t)k, "binned", binned);
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
    free(g);
    free(y);
    free(x);
done:
    free(xs);
    return out;
}

static json_t *choices_json(struct tr **t, size_t n, struct tr *released, int sign)
{
    /* every key, sorted */
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *key;
        json_t *v;
        json_object_foreach(t[i]->params, key, v) if (!json_object_get(seen, key))
            json_object_set_new(seen, key, json_string(js(t[i]->sources, key) ? js(t[i]->sources, key) : ""));
    }
    size_t nk = json_object_size(seen), k = 0;
    const char **keys = malloc((nk ? nk : 1) * sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(seen, key, v) keys[k++] = key;
    qsort(keys, nk, sizeof *keys, cmp_str);

    json_t *out = json_array();
    struct valcount *vc = malloc((n ? n : 1) * sizeof *vc);
    for (size_t j = 0; j < nk; j++) {
        json_t *counts = json_object();
        size_t absent = 0, nv = 0;
        int numeric = 1;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            const char *s = js(t[i]->params, keys[j]);
            if (!s) {
                absent++;
                continue;
            }
            json_t *c = json_object_get(counts, s);
            if (c)
                json_integer_set(c, json_integer_value(c) + 1);
            else
                json_object_set_new(counts, s, json_integer(1));
            double x;
            if (numeric && numeric_value(s, &x)) {
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            } else
                numeric = 0;
        }
        const char *s;
        json_object_foreach(counts, s, v) vc[nv++] = (struct valcount){s, (size_t)json_integer_value(v)};
        qsort(vc, nv, sizeof *vc, cmp_vc);
        json_t *vals = json_array();
        for (size_t i = 0; i < nv && i < VALUES_LISTED; i++)
            json_array_append_new(vals, json_pack("{s:s,s:I}", "value", vc[i].value, "trials",
                                                  (json_int_t)vc[i].n));
        const char *rel = released ? js(released->params, keys[j]) : NULL;
        int varied = nv > 1; /* set in only some trials is not varied: see "absent" */
        json_t *c = json_pack("{s:s,s:s,s:o,s:b,s:b,s:I,s:o}", "key", keys[j], "source",
                              json_string_value(json_object_get(seen, keys[j])), "released",
                              rel ? json_string(rel) : json_null(), "varied", varied, "numeric",
                              numeric, "distinct", (json_int_t)nv, "values", vals);
        if (nv > VALUES_LISTED)
            json_object_set_new(c, "values_truncated", json_integer((json_int_t)(nv - VALUES_LISTED)));
        if (absent)
            json_object_set_new(c, "absent", json_integer((json_int_t)absent));
        if (numeric) {
            json_object_set_new(c, "min", num(lo));
            json_object_set_new(c, "max", num(hi));
        }
        if (!varied)
            json_object_set_new(c, "note",
                                json_string("never varied: an untested default, no importance "
                                            "claimed"));
        else
            json_object_set_new(c, "effect", effect_json(t, n, keys[j], numeric, sign));
        json_array_append_new(out, c);
        json_decref(counts);
    }
    free(vc);
    free(keys);
    json_decref(seen);
    return out;
}

/* ---- the kind of search the trials look like */
static json_t *kind_json(struct tr **t, size_t n, json_t *choices)
{
    size_t nvar = 0, all_random = 1;
    double product = 1;
    json_t *c;
    size_t i;
    json_t *varied = json_array();
    json_array_foreach(choices, i, c)
    {
        const char *key = js(c, "key");
        if (!json_is_true(json_object_get(c, "varied")) || record_seed_like(key))
            continue;
        nvar++;
        json_array_append_new(varied, json_string(key));
        size_t d = (size_t)ji(c, "distinct", 1);
        product *= (double)d;
        size_t have = n - (size_t)ji(c, "absent", 0);
        if (!json_is_true(json_object_get(c, "numeric")) || (double)d < 0.9 * (double)have)
            all_random = 0;
    }
    json_t *cfg = json_object();
    for (size_t j = 0; j < n; j++) {
        if (!t[j]->has_obj)
            continue; /* a refit or a failed run is not a point of the sweep */
        json_t *sub = json_object();
        json_t *k;
        size_t x;
        json_array_foreach(varied, x, k)
        {
            const char *val = js(t[j]->params, json_string_value(k));
            json_object_set_new(sub, json_string_value(k), json_string(val ? val : "\x01" "absent"));
        }
        char *sig = config_sig(sub, 0);
        json_object_set_new(cfg, sig, json_true());
        free(sig);
        json_decref(sub);
    }
    size_t distinct = json_object_size(cfg);
    json_decref(cfg);
    json_decref(varied);
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

/* ---- compute from leaves: one count per process */
static json_t *compute_json(struct tr **t, size_t n, int failed_only)
{
    json_t *procs = json_object();
    double cpu = 0, wall = 0;
    int64_t rss = 0;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const char *st = t[i]->status;
        if (failed_only && strcmp(st, "failed") && strcmp(st, "crashed") && strcmp(st, "killed"))
            continue;
        if (t[i]->ended > t[i]->started && t[i]->started > 0)
            wall += (double)(t[i]->ended - t[i]->started) / 1e9;
        const char *p = t[i]->process ? t[i]->process : t[i]->uuid;
        if (json_object_get(procs, p))
            continue;
        json_object_set_new(procs, p, json_true());
        np++;
        cpu += (double)ji(t[i]->leaf, "cpu_us", 0) / 1e6;
        int64_t r = ji(t[i]->leaf, "maxrss_kb", 0);
        rss = r > rss ? r : rss;
    }
    json_decref(procs);
    return json_pack("{s:I,s:o,s:o,s:I}", "processes", (json_int_t)np, "cpu_seconds", num(cpu),
                     "wall_seconds", num(wall), "peak_rss_kb", (json_int_t)rss);
}

/* ---- refit: search trials with the producing trial's framework params */
static int refit_ignored(const char *key)
{
    const char *base = strrchr(key, '.');
    base = base ? base + 1 : key;
    return !strcmp(base, "nr_fold") || !strcmp(base, "model_file");
}

static json_t *refit_json(struct tr *p, struct tr **t, size_t n, double *value, size_t *nmatch)
{
    json_t *matched = json_array(), *ignored = json_array(), *trials = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(p->params, key, v)
    {
        const char *src = js(p->sources, key);
        if (!src || strcmp(src, "adapter"))
            continue;
        json_array_append_new(refit_ignored(key) ? ignored : matched, json_string(key));
    }
    double sum = 0;
    *nmatch = 0;
    if (json_array_size(matched))
        for (size_t i = 0; i < n; i++) {
            if (t[i] == p || !t[i]->has_obj ||
                strcmp(t[i]->framework ? t[i]->framework : "", p->framework ? p->framework : ""))
                continue;
            size_t x;
            json_t *k;
            int same = 1;
            json_array_foreach(matched, x, k)
            {
                const char *a = js(p->params, json_string_value(k)),
                           *b = js(t[i]->params, json_string_value(k));
                if (!b || strcmp(a, b)) {
                    same = 0;
                    break;
                }
            }
            if (!same)
                continue;
            json_array_append_new(trials, json_string(t[i]->uuid));
            /* what the search trials set that the refit did not compare */
            const char *k2;
            json_t *v2;
            json_object_foreach(t[i]->params, k2, v2)
            {
                const char *src = js(t[i]->sources, k2);
                int listed = 0;
                size_t y;
                json_t *z;
                json_array_foreach(ignored, y, z) listed |= !strcmp(json_string_value(z), k2);
                if (!listed && src && !strcmp(src, "adapter") &&
                    (refit_ignored(k2) || !json_object_get(p->params, k2)))
                    json_array_append_new(ignored, json_string(k2));
            }
            sum += t[i]->obj;
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

/* ---- the whole computation */

int record_compute(json_t *trials, json_t *excluded, const char *produced, const char *objective,
                   int dir_max, json_t **search_out, json_t **selection_out, json_t **choices_out,
                   json_t **refit_out, char *err, size_t errlen)
{
    size_t nleaves = json_array_size(trials);
    json_t *latest = json_object(), *skip = json_object();
    int rc = -1;
    size_t i;
    json_t *x;
    json_array_foreach(excluded, i, x)
    {
        const char *u = js(x, "trial");
        if (u)
            json_object_set_new(skip, u, json_true());
    }
    json_array_foreach(trials, i, x)
    {
        const char *u = js(x, "trial");
        if (!u) {
            snprintf(err, errlen, "leaf %zu has no trial uuid", i);
            goto out;
        }
        json_object_set_new(latest, u, json_integer((json_int_t)i));
    }
    size_t distinct = json_object_size(latest);
    struct tr *all = calloc(distinct ? distinct : 1, sizeof *all);
    struct tr **t = calloc(distinct ? distinct : 1, sizeof *t);
    size_t n = 0;
    json_array_foreach(trials, i, x)
    {
        const char *u = js(x, "trial");
        if ((size_t)json_integer_value(json_object_get(latest, u)) != i ||
            json_object_get(skip, u))
            continue;
        struct tr *r = &all[n];
        r->leaf = x;
        r->leaf_index = i;
        r->uuid = u;
        r->status = js(x, "status") ? js(x, "status") : "unknown";
        r->process = js(x, "process");
        r->framework = js(x, "framework");
        r->params = json_object_get(x, "params");
        if (!json_is_object(r->params))
            r->params = NULL;
        r->sources = json_object_get(x, "sources");
        r->started = ji(x, "started_ns", 0);
        r->ended = ji(x, "ended_ns", 0);
        t[n] = r;
        n++;
    }
    json_t *empty = json_object();
    for (size_t j = 0; j < n; j++) {
        if (!t[j]->params)
            t[j]->params = empty;
        if (!json_is_object(t[j]->sources))
            t[j]->sources = empty;
    }

    /* objective: given, or the most reported metric with a direction */
    char objname[256];
    const char *chosen = "flag";
    char chosenbuf[300];
    if (objective)
        snprintf(objname, sizeof objname, "%s", objective);
    else {
        json_t *cnt = json_object();
        const char *best = NULL;
        json_int_t bestn = 0;
        int bestvalid = 0;
        for (size_t j = 0; j < n; j++) {
            const char *name;
            json_t *m;
            json_object_foreach(json_object_get(t[j]->leaf, "metrics"), name, m)
            {
                if (!js(m, "direction"))
                    continue;
                json_t *c = json_object_get(cnt, name);
                json_int_t k = c ? json_integer_value(c) + 1 : 1;
                json_object_set_new(cnt, name, json_integer(k));
                int valid = js(m, "split") && !strcmp(js(m, "split"), "valid");
                if (valid > bestvalid || (valid == bestvalid && (k > bestn ||
                                                                 (k == bestn && best && strcmp(name, best) < 0)))) {
                    best = json_object_iter_key(json_object_iter_at(cnt, name));
                    bestn = k;
                    bestvalid = valid;
                }
            }
        }
        if (!best) {
            json_decref(cnt);
            snprintf(err, errlen,
                     "no trial reported a metric with a direction; give --objective NAME:max|min");
            goto out_free;
        }
        snprintf(objname, sizeof objname, "%s", best);
        snprintf(chosenbuf, sizeof chosenbuf,
                 "default: the metric with a direction reported by most trials%s",
                 bestvalid ? " (validation split preferred)" : "");
        chosen = chosenbuf;
        json_decref(cnt);
    }
    size_t N = 0, reported_nonfinite = 0;
    json_t *missing = json_object();
    for (size_t j = 0; j < n; j++) {
        json_t *m = json_object_get(json_object_get(t[j]->leaf, "metrics"), objname);
        double v;
        if (m && dir_max < 0 && js(m, "direction"))
            dir_max = !strcmp(js(m, "direction"), "max");
        if (m && metric_value(m, &v) == 0) {
            t[j]->has_obj = 1;
            t[j]->obj = v;
            N++;
        } else {
            if (m)
                reported_nonfinite++;
            json_t *c = json_object_get(missing, t[j]->status);
            json_object_set_new(missing, t[j]->status,
                                json_integer(c ? json_integer_value(c) + 1 : 1));
        }
    }
    if (!N) {
        json_decref(missing);
        snprintf(err, errlen, "objective '%s': no trial of the study reported it", objname);
        goto out_free;
    }
    if (dir_max < 0) {
        json_decref(missing);
        snprintf(err, errlen, "objective '%s' has no recorded direction; give --objective %s:max or %s:min",
                 objname, objname, objname);
        goto out_free;
    }
    int sign = dir_max ? 1 : -1;
    struct tr **withobj = malloc(N * sizeof *withobj);
    double *sorted = malloc(N * sizeof *sorted);
    size_t w = 0;
    for (size_t j = 0; j < n; j++)
        if (t[j]->has_obj) {
            t[j]->obj *= sign;
            withobj[w] = t[j];
            sorted[w++] = t[j]->obj;
        }
    stats_sort(sorted, N);

    /* the released trial and its value */
    struct tr *p = NULL;
    if (produced)
        for (size_t j = 0; j < n; j++)
            if (!strcmp(t[j]->uuid, produced))
                p = t[j];
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
        size_t ties;
        size_t rank = stats_rank(sorted, N, rel, &ties);
        json_object_set_new(released, "value", num(sign * rel));
        json_object_set_new(released, "rank", json_integer((json_int_t)rank));
        json_object_set_new(released, "ties", json_integer((json_int_t)ties));
        json_object_set_new(released, "of", json_integer((json_int_t)N));
        json_object_set_new(released, "percentile",
                            num(100.0 * (double)count_le(sorted, N, rel) / (double)N));
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
    if (reported_nonfinite)
        json_object_set_new(sel, "non_finite", json_integer((json_int_t)reported_nonfinite));
    if (released)
        json_object_set_new(sel, "released", released);
    json_object_update_new(sel, curve_json(sorted, N, sign));
    json_object_set_new(sel, "noise_floor", noise_json(withobj, N, sorted, rel, have_rel, sign));

    json_t *choices = choices_json(t, n, p, sign);

    /* search */
    json_t *by = json_object(), *sessions = json_object(), *configs = json_object();
    int64_t first = 0, last = 0;
    size_t bad = 0;
    for (size_t j = 0; j < n; j++) {
        json_t *c = json_object_get(by, t[j]->status);
        json_object_set_new(by, t[j]->status, json_integer(c ? json_integer_value(c) + 1 : 1));
        if (!strcmp(t[j]->status, "failed") || !strcmp(t[j]->status, "crashed") ||
            !strcmp(t[j]->status, "killed"))
            bad++;
        const char *s = js(t[j]->leaf, "session");
        if (s)
            json_object_set_new(sessions, s, json_true());
        char *sig = config_sig(t[j]->params, 0);
        json_object_set_new(configs, sig, json_true());
        free(sig);
        if (t[j]->started && (!first || t[j]->started < first))
            first = t[j]->started;
        int64_t e = t[j]->ended ? t[j]->ended : t[j]->started;
        if (e > last)
            last = e;
    }
    json_t *search = json_pack(
        "{s:I,s:o,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:{s:o,s:o}}", "trials", (json_int_t)n, "by_status",
        by, "failure_rate", num(n ? (double)bad / (double)n : 0), "revisions",
        (json_int_t)(nleaves - distinct), "sessions", (json_int_t)json_object_size(sessions),
        "distinct_configurations", (json_int_t)json_object_size(configs), "first",
        first ? record_iso_ns(first) : json_null(), "last", last ? record_iso_ns(last) : json_null(),
        "kind", kind_json(t, n, choices), "compute", "trials", compute_json(t, n, 0), "failed",
        compute_json(t, n, 1));
    json_decref(sessions);
    json_decref(configs);

    *search_out = search;
    *selection_out = sel;
    *choices_out = choices;
    if (refit_out)
        *refit_out = refit;
    else
        json_decref(refit);
    rc = 0;
    free(withobj);
    free(sorted);
out_free:
    json_decref(empty);
    free(all);
    free(t);
out:
    json_decref(latest);
    json_decref(skip);
    return rc;
}
