/* report.c - `tunetrail report`: a provenance record rendered for people
 * (report.h). Everything the HTML shows comes from the record's Statement;
 * nothing is recomputed except what only the plots need (the order of trials,
 * the running best). Every string taken from the record is user data (argv,
 * paths, param values) and goes out through esc() / md_esc(). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "util.h"

/* Plot geometry (px). Density cells are CELL px squares. */
#define BIG_W 760
#define BIG_H 320
#define SMALL_W 360
#define SMALL_H 230
#define CELL 4
#define MAX_CHOICE_PLOTS 60
#define MAX_CATEGORIES 50

/* ---- small helpers ------------------------------------------------------ */

/* json at a dotted path ("selection.released.value"), or NULL. */
static json_t *jp(const json_t *j, const char *path)
{
    char key[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return (json_t *)j;
}

static const char *js(const json_t *j, const char *path)
{
    return json_string_value(jp(j, path));
}

/* 1 and *v if j is a finite number (or a numeric string, as leaf params are). */
static int jd(const json_t *j, double *v)
{
    if (json_is_number(j)) {
        *v = json_number_value(j);
        return isfinite(*v);
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        errno = 0;
        *v = strtod(s, &end);
        return *s && !*end && !errno && isfinite(*v);
    }
    return 0;
}

/* The reason of an omitted statistic ({"omitted": "..."}), or NULL. */
static const char *omitted(const json_t *j)
{
    return json_string_value(json_object_get(j, "omitted"));
}

/* Formats a number into one of a ring of static buffers, so a printf can
 * take several. Integers print without a fraction. */
static const char *fmtd(double v, int prec)
{
    static char ring[16][40];
    static unsigned k;
    char *b = ring[k++ % 16];
    if (!isfinite(v))
        snprintf(b, 40, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(b, 40, "%.0f", v);
    else
        snprintf(b, 40, "%.*g", prec, v);
    return b;
}

static const char *jfmt(const json_t *j, int prec)
{
    double v;
    if (!json_is_number(j))
        return NULL;
    v = json_number_value(j);
    return fmtd(v, prec);
}

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
}

/* Markdown table cell: HTML-escaped (model cards render HTML) and no pipes
 * or newlines that would break the table. */
static void md_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '|': fputs("\\|", f); break;
        case '\n': case '\r': fputc(' ', f); break;
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '`': fputs("&#96;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A JSON value as display text (strings bare, null as "—"); malloc'd. */
static char *jtext(const json_t *j)
{
    if (!j || json_is_null(j))
        return strdup("\xe2\x80\x94");
    if (json_is_string(j))
        return strdup(json_string_value(j));
    if (json_is_number(j))
        return strdup(fmtd(json_number_value(j), 6));
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void esc_j(FILE *f, const json_t *j)
{
    char *s = jtext(j);
    esc(f, s);
    free(s);
}

/* ---- the record, prepared for drawing -------------------------------- */

struct tp {
    const struct leafscan_leaf *leaf;
    const char *uuid;
    long long started;
    size_t index;  /* leaf index, the tie-break for equal start times */
    double y;
    int has_y, released;
};

struct rep {
    FILE *f;
    const struct record *rec;
    const json_t *st, *pred, *sel;
    const char *obj;
    int minimize;
    struct tp *t; /* counted trials (last leaf of each, excluded ones left out), time order */
    size_t n, ny;
    int has_rel;
    double rel;
};

static int by_time(const void *a, const void *b)
{
    const struct tp *x = a, *y = b;
    if (x->started != y->started)
        return (x->started > y->started) - (x->started < y->started);
    return (x->index > y->index) - (x->index < y->index);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The uuids of a JSON array (of strings, or of objects' `field`) as a sorted
 * malloc'd array for bsearch: a refit can match thousands of trials, and a
 * linear scan per trial would be quadratic. *n = 0 and NULL if none. */
static const char **uuid_set(const json_t *arr, const char *field, size_t *n)
{
    size_t i, k = 0;
    json_t *e;
    *n = 0;
    if (!json_array_size(arr))
        return NULL;
    const char **v = malloc(json_array_size(arr) * sizeof *v);
    if (!v)
        return NULL;
    json_array_foreach(arr, i, e) {
        const char *u = field ? json_string_value(json_object_get(e, field)) : json_string_value(e);
        if (u)
            v[k++] = u;
    }
    qsort(v, k, sizeof *v, by_str);
    *n = k;
    return v;
}

static int in_set(const char **set, size_t n, const char *uuid)
{
    return n && bsearch(&uuid, set, n, sizeof *set, by_str) != NULL;
}

/* The indices of the last leaf of each trial (earlier ones are superseded
 * revisions), in log order, as a malloc'd array of *n; NULL if out of
 * memory. One pass with an open-addressing table keyed by the trial's uuid:
 * sorting 100k uuid strings cost more than the rest of the report. */
static size_t *last_leaves(const struct record *rec, size_t *n)
{
    size_t cap = 16, k = 0;
    while (cap < rec->n * 2)
        cap <<= 1;
    size_t *slot = malloc(cap * sizeof *slot); /* leaf index + 1, 0 = empty */
    size_t *out = malloc((rec->n ? rec->n : 1) * sizeof *out);
    char *keep = calloc(rec->n ? rec->n : 1, 1);
    if (!slot || !out || !keep) {
        free(slot);
        free(out);
        free(keep);
        return NULL;
    }
    memset(slot, 0, cap * sizeof *slot);
    for (size_t i = 0; i < rec->n; i++) {
        const char *u = rec->leaf[i].trial;
        if (!u)
            continue;
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (const char *c = u; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        size_t j = h & (cap - 1);
        while (slot[j] && strcmp(rec->leaf[slot[j] - 1].trial, u))
            j = (j + 1) & (cap - 1);
        if (slot[j])
            keep[slot[j] - 1] = 0; /* superseded by leaf i */
        slot[j] = i + 1;
        keep[i] = 1;
    }
    for (size_t i = 0; i < rec->n; i++)
        if (keep[i])
            out[k++] = i;
    free(slot);
    free(keep);
    *n = k;
    return out;
}

/* The counted trials in time order: the last leaf of each trial (earlier
 * ones are superseded revisions), minus search.excluded. */
static int prepare(struct rep *r, char *err, size_t errlen)
{
    const char *produced = js(r->pred, "producedBy.trial");
    size_t nl = r->rec->n, m = 0, nex, nrf;
    const char **excl = uuid_set(jp(r->pred, "search.excluded"), "trial", &nex);
    const char **refit = uuid_set(jp(r->pred, "producedBy.refit_of.trials"), NULL, &nrf);
    r->t = calloc(nl ? nl : 1, sizeof *r->t);
    if (!r->t) {
        tt_fail(err, errlen, "out of memory");
        free(excl);
        free(refit);
        return -1;
    }
    size_t *last = last_leaves(r->rec, &m);
    if (!last) {
        tt_fail(err, errlen, "out of memory");
        free(r->t);
        r->t = NULL;
        free(excl);
        free(refit);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const struct leafscan_leaf *l = &r->rec->leaf[last[i]];
        if (in_set(excl, nex, l->trial))
            continue;
        struct tp *p = &r->t[k++];
        p->leaf = l;
        p->uuid = l->trial;
        p->index = last[i];
        p->started = p->leaf->has_started ? p->leaf->started_ns : 0;
        const struct leafscan_metric *mv = r->obj ? leafscan_metric_get(p->leaf, r->obj) : NULL;
        p->has_y = mv && mv->finite;
        p->y = p->has_y ? mv->value : NAN;
        p->released = (produced && !strcmp(produced, p->uuid)) || in_set(refit, nrf, p->uuid);
        r->ny += p->has_y;
    }
    r->n = k;
    /* an objective taken from evaluations (selection.objective.from): each
     * trial without its own value takes its latest evaluation's, as the
     * record computed it */
    for (size_t i = 0; r->obj && jp(r->sel, "objective.from") && i < m; i++) {
        const struct leafscan_leaf *l = &r->rec->leaf[last[i]];
        const struct leafscan_metric *mv = leafscan_metric_get(l, r->obj);
        const char *of = NULL;
        size_t j;
        json_t *x;
        if (!mv || !mv->finite || !in_set(excl, nex, l->trial))
            continue;
        json_array_foreach(jp(r->pred, "search.excluded"), j, x) if (js(x, "trial") &&
                                                                    !strcmp(js(x, "trial"), l->trial))
            of = js(x, "evaluates");
        for (j = 0; of && j < r->n; j++)
            if (!strcmp(r->t[j].uuid, of) && !leafscan_metric_get(r->t[j].leaf, r->obj)) {
                r->ny += !r->t[j].has_y;
                r->t[j].has_y = 1;
                r->t[j].y = mv->value;
            }
    }
    qsort(r->t, r->n, sizeof *r->t, by_time);
    free(last);
    free(excl);
    free(refit);
    return 0;
}

/* ---- SVG plotting ------------------------------------------------------ */

struct axis {
    double lo, hi;
    int log;
};

struct plot {
    int W, H;             /* the svg */
    double x0, y0, w, h;  /* the data area */
    struct axis x, y;
};

static double tx(const struct axis *a, double v)
{
    return a->log ? log10(v) : v;
}

static double px(const struct plot *p, double v)
{
    return p->x0 + (tx(&p->x, v) - tx(&p->x, p->x.lo)) / (tx(&p->x, p->x.hi) - tx(&p->x, p->x.lo)) * p->w;
}

static double py(const struct plot *p, double v)
{
    return p->y0 + p->h -
           (tx(&p->y, v) - tx(&p->y, p->y.lo)) / (tx(&p->y, p->y.hi) - tx(&p->y, p->y.lo)) * p->h;
}

/* Widens [lo, hi] a little so marks do not sit on the frame. */
static void axis_pad(struct axis *a)
{
    if (!isfinite(a->lo) || !isfinite(a->hi)) {
        a->lo = 0, a->hi = 1, a->log = 0;
        return;
    }
    if (a->log && a->lo > 0) {
        double f = a->hi > a->lo ? pow(a->hi / a->lo, 0.04) : 2;
        a->lo /= f, a->hi *= f;
        return;
    }
    a->log = 0;
    double pad = a->hi > a->lo ? (a->hi - a->lo) * 0.05 : (a->lo ? fabs(a->lo) * 0.05 : 0.5);
    a->lo -= pad, a->hi += pad;
}

static size_t ticks(const struct axis *a, double *out, size_t max)
{
    size_t n = 0;
    if (a->log) {
        int d0 = (int)floor(log10(a->lo)), d1 = (int)ceil(log10(a->hi));
        int every = (d1 - d0) > 8 ? (d1 - d0 + 7) / 8 : 1;
        static const double few[] = {1, 2, 5};
        for (int d = d0; d <= d1 && n < max; d++) {
            if ((d - d0) % every)
                continue;
            for (int m = 0; m < (d1 - d0 <= 2 ? 3 : 1); m++) {
                double v = few[m] * pow(10, d);
                if (v >= a->lo && v <= a->hi && n < max)
                    out[n++] = v;
            }
        }
        return n;
    }
    double raw = (a->hi - a->lo) / 5, mag = pow(10, floor(log10(raw))), nm = raw / mag;
    double step = (nm < 1.5 ? 1 : nm < 3.5 ? 2 : nm < 7.5 ? 5 : 10) * mag;
    for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9 && n < max; v += step)
        out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

static void plot_init(struct plot *p, int W, int H)
{
    p->W = W, p->H = H;
    p->x0 = 58, p->y0 = 12;
    p->w = W - p->x0 - 26; /* room for the last x tick label */
    p->h = H - p->y0 - 42;
}

static void svg_open(FILE *f, const struct plot *p, const char *label)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>",
            p->W, p->H, p->W, p->H);
    esc(f, label);
    fputs("</title>\n", f);
}

/* Frame, grid, ticks and axis labels. */
static void svg_axes(FILE *f, const struct plot *p, const char *xlabel, const char *ylabel)
{
    double tk[40];
    size_t n = ticks(&p->x, tk, 40);
    fprintf(f, "<rect class=\"bg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p->x0,
            p->y0, p->w, p->h);
    for (size_t i = 0; i < n; i++) {
        double x = px(p, tk[i]);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, p->y0, x, p->y0 + p->h, x, p->y0 + p->h + 14, fmtd(tk[i], 4));
    }
    n = ticks(&p->y, tk, 40);
    for (size_t i = 0; i < n; i++) {
        double y = py(p, tk[i]);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                p->x0, y, p->x0 + p->w, y, p->x0 - 4, y + 4, fmtd(tk[i], 5));
    }
    fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            p->x0, p->y0, p->w, p->h);
    fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", p->x0 + p->w / 2,
            p->H - 6);
    esc(f, xlabel);
    fprintf(f, "</text><text class=\"lab\" transform=\"translate(12 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            p->y0 + p->h / 2);
    esc(f, ylabel);
    fputs("</text>\n", f);
}

/* Points in data units. Up to REPORT_DENSITY_N as circles; beyond, a 2-D
 * histogram of CELL px cells, drawn as one path per darkness level, so the
 * size is bounded by the plot area rather than by the number of trials. */
static void svg_points(FILE *f, const struct plot *p, const double *x, const double *y, size_t n,
                       size_t total)
{
    if (total <= REPORT_DENSITY_N) {
        for (size_t i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i]))
                fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", px(p, x[i]),
                        py(p, y[i]));
        fputc('\n', f);
        return;
    }
    int cols = (int)(p->w / CELL) + 1, rows = (int)(p->h / CELL) + 1;
    uint32_t *cnt = calloc((size_t)cols * rows, sizeof *cnt), max = 0;
    if (!cnt)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        int c = (int)((px(p, x[i]) - p->x0) / CELL), r = (int)((py(p, y[i]) - p->y0) / CELL);
        if (c < 0 || c >= cols || r < 0 || r >= rows)
            continue;
        uint32_t v = ++cnt[(size_t)r * cols + c];
        if (v > max)
            max = v;
    }
    enum { LEVELS = 6 };
    for (int lv = 0; lv < LEVELS && max; lv++) {
        int any = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                uint32_t v = cnt[(size_t)r * cols + c];
                if (!v)
                    continue;
                int l = max == 1 ? LEVELS - 1 : (int)(log(v) / log(max) * (LEVELS - 1) + 0.5);
                if (l != lv)
                    continue;
                if (!any)
                    fprintf(f, "<path class=\"dens\" fill-opacity=\"%.2f\" d=\"", 0.25 + 0.75 * lv / (LEVELS - 1));
                any = 1;
                fprintf(f, "M%.0f %.0fh%dv%dh-%dz", p->x0 + c * CELL, p->y0 + r * CELL, CELL, CELL, CELL);
            }
        if (any)
            fputs("\"/>\n", f);
    }
    free(cnt);
}

static void svg_hline(FILE *f, const struct plot *p, double y, const char *cls, const char *label)
{
    if (y < p->y.lo || y > p->y.hi)
        return;
    double yy = py(p, y);
    fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", cls, p->x0,
            yy, p->x0 + p->w, yy);
    fprintf(f, "<text class=\"note %s-t\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", cls,
            p->x0 + p->w - 4, yy - 4);
    esc(f, label);
    fputs("</text>\n", f);
}

static void ylabel_of(const struct rep *r, char *buf, size_t n)
{
    snprintf(buf, n, "%s (%s is better)", r->obj ? r->obj : "objective", r->minimize ? "lower" : "higher");
}

/* Plot 1: the objective of every trial in time order; trials without a
 * value as marks under the axis; the running best; the released trial. */
static void plot_time(struct rep *r)
{
    FILE *f = r->f;
    struct plot p;
    char yl[200];
    plot_init(&p, BIG_W, BIG_H);
    p.x = (struct axis){0.5, r->n + 0.5, 0};
    p.y = (struct axis){INFINITY, -INFINITY, 0};
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].has_y)
            p.y.lo = fmin(p.y.lo, r->t[i].y), p.y.hi = fmax(p.y.hi, r->t[i].y);
    axis_pad(&p.y);
    ylabel_of(r, yl, sizeof yl);
    svg_open(f, &p, "objective of every trial in time order");
    svg_axes(f, &p, "trial, in order of start time", yl);
    double *x = malloc(sizeof(double) * (r->n + 1)), *y = malloc(sizeof(double) * (r->n + 1));
    if (!x || !y)
        goto out;
    size_t m = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].has_y)
            x[m] = i + 1, y[m++] = r->t[i].y;
    svg_points(f, &p, x, y, m, r->n);
    /* Running best: a step line with a vertex only where the best changes. */
    int have = 0;
    double best = 0;
    fputs("<path class=\"best\" d=\"", f);
    for (size_t i = 0; i < r->n; i++) {
        if (!r->t[i].has_y)
            continue;
        double v = r->t[i].y;
        if (!have) {
            fprintf(f, "M%.1f %.1f", px(&p, i + 1), py(&p, v));
            best = v, have = 1;
        } else if (r->minimize ? v < best : v > best) {
            fprintf(f, "H%.1fV%.1f", px(&p, i + 1), py(&p, v));
            best = v;
        }
    }
    if (have)
        fprintf(f, "H%.1f", px(&p, r->n + 0.5));
    fputs("\"/>\n", f);
    /* Failed / killed trials without a value: one tick per pixel column. */
    int lastcol = -1;
    fputs("<path class=\"fail\" d=\"", f);
    for (size_t i = 0; i < r->n; i++) {
        if (r->t[i].has_y)
            continue;
        int col = (int)px(&p, i + 1);
        if (col == lastcol)
            continue;
        lastcol = col;
        fprintf(f, "M%d %.1fv8", col, p.y0 + p.h + 1);
    }
    fputs("\"/>\n", f);
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].released && r->t[i].has_y)
            fprintf(f, "<circle class=\"rel\" cx=\"%.1f\" cy=\"%.1f\" r=\"7\"/>"
                       "<text class=\"note rel-t\" x=\"%.1f\" y=\"%.1f\">released</text>\n",
                    px(&p, i + 1), py(&p, r->t[i].y), px(&p, i + 1) + 9, py(&p, r->t[i].y) - 8);
    if (r->has_rel)
        svg_hline(f, &p, r->rel, "relline", "released value");
out:
    free(x);
    free(y);
    fputs("</svg>\n", f);
}

/* Plot 2: E[max of n] (Dodge) with its +-SD band, without replacement
 * (Tang), the released value and the noise-only expected best. */
static void plot_emax(struct rep *r)
{
    FILE *f = r->f;
    const json_t *d = json_object_get(r->sel, "expected_max");
    const json_t *tg = json_object_get(r->sel, "expected_max_without_replacement");
    const json_t *ns = json_object_get(d, "n"), *mean = json_object_get(d, "mean"),
                 *sd = json_object_get(d, "sd");
    size_t k = json_array_size(ns);
    if (!k || json_array_size(mean) != k) {
        fputs("<p class=\"omit\">Expected-maximum curve omitted: ", f);
        esc(f, omitted(d) ? omitted(d) : "not in the record");
        fputs("</p>\n", f);
        return;
    }
    struct plot p;
    char yl[200];
    plot_init(&p, BIG_W, BIG_H);
    double nmax = json_number_value(json_array_get(ns, k - 1));
    p.x = (struct axis){1, nmax > 1 ? nmax : 2, nmax > 50};
    p.y = (struct axis){INFINITY, -INFINITY, 0};
    for (size_t j = 0; j < k; j++) {
        double m = json_number_value(json_array_get(mean, j)), s = json_number_value(json_array_get(sd, j));
        p.y.lo = fmin(p.y.lo, m - s), p.y.hi = fmax(p.y.hi, m + s);
        double t;
        if (jd(json_array_get(json_object_get(tg, "mean"), j), &t))
            p.y.lo = fmin(p.y.lo, t), p.y.hi = fmax(p.y.hi, t);
    }
    double nb;
    int have_nb = jd(jp(r->sel, "noise_floor.noise_only_expected_best"), &nb);
    if (have_nb)
        p.y.lo = fmin(p.y.lo, nb), p.y.hi = fmax(p.y.hi, nb);
    if (r->has_rel)
        p.y.lo = fmin(p.y.lo, r->rel), p.y.hi = fmax(p.y.hi, r->rel);
    axis_pad(&p.y);
    if (p.x.log)
        p.x.hi *= 1.05;
    else
        p.x.lo = 0.5, p.x.hi = nmax + 0.5;
    ylabel_of(r, yl, sizeof yl);
    svg_open(f, &p, "expected best of n trials");
    svg_axes(f, &p, p.x.log ? "n trials (log scale)" : "n trials", yl);
    /* band: upper edge forward, lower edge back */
    fputs("<path class=\"band\" d=\"", f);
    for (size_t j = 0; j < k; j++)
        fprintf(f, "%c%.1f %.1f", j ? 'L' : 'M', px(&p, json_number_value(json_array_get(ns, j))),
                py(&p, json_number_value(json_array_get(mean, j)) + json_number_value(json_array_get(sd, j))));
    for (size_t j = k; j-- > 0;)
        fprintf(f, "L%.1f %.1f", px(&p, json_number_value(json_array_get(ns, j))),
                py(&p, json_number_value(json_array_get(mean, j)) - json_number_value(json_array_get(sd, j))));
    fputs("Z\"/>\n<path class=\"emax\" d=\"", f);
    for (size_t j = 0; j < k; j++)
        fprintf(f, "%c%.1f %.1f", j ? 'L' : 'M', px(&p, json_number_value(json_array_get(ns, j))),
                py(&p, json_number_value(json_array_get(mean, j))));
    fputs("\"/>\n", f);
    const json_t *tn = json_object_get(tg, "n"), *tm = json_object_get(tg, "mean");
    if (json_array_size(tn) && json_array_size(tn) == json_array_size(tm)) {
        fputs("<path class=\"tang\" d=\"", f);
        for (size_t j = 0; j < json_array_size(tn); j++)
            fprintf(f, "%c%.1f %.1f", j ? 'L' : 'M', px(&p, json_number_value(json_array_get(tn, j))),
                    py(&p, json_number_value(json_array_get(tm, j))));
        fputs("\"/>\n", f);
    }
    if (r->has_rel)
        svg_hline(f, &p, r->rel, "relline", "released value");
    if (have_nb)
        svg_hline(f, &p, nb, "noiseline", "noise-only expected best");
    /* legend */
    double lx = p.x0 + 10, ly = p.y0 + 16;
    fprintf(f, "<rect class=\"band\" x=\"%.0f\" y=\"%.0f\" width=\"18\" height=\"10\"/>"
               "<line class=\"emax\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>"
               "<text class=\"note\" x=\"%.0f\" y=\"%.0f\">E[best of n] \xc2\xb1 SD (Dodge et al. 2019)</text>"
               "<line class=\"tang\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>"
               "<text class=\"note\" x=\"%.0f\" y=\"%.0f\">without replacement (Tang et al. 2020)</text>\n",
            lx, ly - 9, lx, ly - 4, lx + 18, ly - 4, lx + 24, ly, lx, ly + 12, lx + 18, ly + 12, lx + 24,
            ly + 16);
    fputs("</svg>\n", f);
}

/* The text of a param value as the choice ledger lists it. */
static const char *param_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_number(v)) {
        snprintf(buf, n, "%s", fmtd(json_number_value(v), 17));
        return buf;
    }
    return NULL;
}

/* 1 and *v if s is a whole finite number (params are recorded as text). */
static int str_num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && !errno && isfinite(*v);
}

struct catv {
    const char *value;
    size_t j; /* index in the choice's values */
};

static int by_catv(const void *a, const void *b)
{
    return strcmp(((const struct catv *)a)->value, ((const struct catv *)b)->value);
}

/* Plot 3: the objective against one varied choice. */
static void plot_choice(struct rep *r, const json_t *c)
{
    FILE *f = r->f;
    const char *key = js(c, "key");
    int numeric = json_is_true(json_object_get(c, "numeric"));
    const json_t *vals = json_object_get(c, "values");
    size_t nv = json_array_size(vals);
    if (nv > MAX_CATEGORIES)
        nv = MAX_CATEGORIES;
    struct catv cat[MAX_CATEGORIES];
    struct plot p;
    char yl[200], buf[64];
    plot_init(&p, SMALL_W, SMALL_H);
    double *x = malloc(sizeof(double) * (r->n + 1)), *y = malloc(sizeof(double) * (r->n + 1));
    double relx = NAN;
    if (!x || !y)
        goto out;
    const char *relv = param_text(json_object_get(c, "released"), buf, sizeof buf);
    char relbuf[64];
    if (relv) {
        snprintf(relbuf, sizeof relbuf, "%s", relv);
        relv = relbuf;
    }
    /* the categories sorted by value, for a bsearch per trial */
    for (size_t j = 0; j < nv; j++) {
        const char *v = js(json_array_get(vals, j), "value");
        cat[j] = (struct catv){v ? v : "", j};
    }
    qsort(cat, nv, sizeof *cat, by_catv);
    size_t m = 0, other = 0;
    p.x = (struct axis){INFINITY, -INFINITY, 0};
    p.y = (struct axis){INFINITY, -INFINITY, 0};
    for (size_t i = 0; i < r->n; i++) {
        if (!r->t[i].has_y)
            continue;
        const struct leafscan_param *pv = leafscan_param_get(r->t[i].leaf, key);
        double xv;
        if (!pv)
            continue;
        if (numeric) {
            if (!str_num(pv->value, &xv))
                continue;
        } else {
            const struct catv *hit = bsearch(&(struct catv){pv->value, 0}, cat, nv, sizeof *cat, by_catv);
            size_t j = hit ? hit->j : nv;
            other += j == nv;
            /* deterministic jitter so repeated values spread out */
            xv = j + ((double)((i * 2654435761u) % 1000) / 1000 - 0.5) * 0.5;
        }
        x[m] = xv, y[m++] = r->t[i].y;
        if (numeric)
            p.x.lo = fmin(p.x.lo, xv), p.x.hi = fmax(p.x.hi, xv);
        p.y.lo = fmin(p.y.lo, r->t[i].y), p.y.hi = fmax(p.y.hi, r->t[i].y);
    }
    if (numeric) {
        p.x.log = p.x.lo > 0;
        if (relv) {
            char *end;
            relx = strtod(relv, &end);
            if (*end)
                relx = NAN;
        }
        axis_pad(&p.x);
    } else {
        size_t ncat = nv + (other > 0);
        p.x = (struct axis){-0.6, ncat - 0.4, 0};
        for (size_t j = 0; relv && j < nv; j++)
            if (!strcmp(relv, js(json_array_get(vals, j), "value") ? js(json_array_get(vals, j), "value") : ""))
                relx = j;
    }
    axis_pad(&p.y);
    ylabel_of(r, yl, sizeof yl);
    svg_open(f, &p, key);
    if (numeric) {
        char xl[300];
        snprintf(xl, sizeof xl, "%s%s", key, p.x.log ? " (log scale)" : "");
        svg_axes(f, &p, xl, yl);
    } else {
        struct axis save = p.x;
        p.x = (struct axis){p.x.lo, p.x.hi, 0};
        /* categorical: no numeric ticks; names under the axis */
        fprintf(f, "<rect class=\"bg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p.x0,
                p.y0, p.w, p.h);
        struct plot q = p;
        q.x = (struct axis){0, 1, 0};
        svg_axes(f, &q, key, yl);
        p.x = save;
        size_t ncat = nv + (other > 0), every = ncat > 12 ? (ncat + 11) / 12 : 1;
        for (size_t j = 0; j < ncat; j += every) {
            const char *name = j < nv ? js(json_array_get(vals, j), "value") : "other";
            char shortn[24];
            snprintf(shortn, sizeof shortn, "%s", name ? name : "?");
            fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px(&p, j),
                    p.y0 + p.h + 14);
            esc(f, shortn);
            fputs("</text>", f);
        }
        fputc('\n', f);
    }
    svg_points(f, &p, x, y, m, m);
    if (isfinite(relx) && relx >= p.x.lo && relx <= p.x.hi)
        fprintf(f, "<line class=\"relline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"note relline-t\" x=\"%.1f\" y=\"%.1f\">released</text>\n",
                px(&p, relx), p.y0, px(&p, relx), p.y0 + p.h, px(&p, relx) + 3, p.y0 + 10);
out:
    free(x);
    free(y);
    fputs("</svg>\n", f);
}

/* ---- selection bias (docs/RECORD.md "Selection bias") ------------------- */

/* A value of the bias section in the unit the reader knows: accuracy as a
 * percentage. */
static double bias_unit(const json_t *bbc, const char **unit)
{
    const char *m = js(bbc, "values.metric");
    int pct = m && !strcmp(m, "accuracy");
    *unit = pct ? " %" : "";
    return pct ? 100 : 1;
}

/* The headline: "84.4 % cross-validated, the best of 110; corrected for the
 * selection: 82.1 % [80.3, 83.8]". 0 if BBC-CV was omitted. */
static int bias_headline(const struct rep *r, char *buf, size_t n)
{
    const json_t *bbc = jp(r->sel, "selection_bias.bbc_cv");
    const json_t *v = json_object_get(bbc, "values"), *iv = json_object_get(v, "interval_95");
    double best, est, lo, hi, nc;
    if (!v || !jd(json_object_get(v, "best_value"), &best) || !jd(json_object_get(v, "estimate"), &est) ||
        !jd(json_array_get(iv, 0), &lo) || !jd(json_array_get(iv, 1), &hi))
        return 0;
    if (!jd(jp(r->sel, "selection_bias.table.configurations"), &nc) && !jd(json_object_get(r->sel, "n"), &nc))
        nc = NAN;
    const char *u;
    double k = bias_unit(bbc, &u);
    int d = *u ? 1 : 4; /* decimals: a percentage to 0.1, a loss to 4 significant digits */
    if (*u)
        snprintf(buf, n, "%.*f%s cross-validated, the best of %s; corrected for the selection: %.*f%s [%.*f, %.*f]",
                 d, k * best, u, fmtd(nc, 8), d, k * est, u, d, k * lo, d, k * hi);
    else
        snprintf(buf, n, "%.*g cross-validated (%s), the best of %s; corrected for the selection: %.*g [%.*g, %.*g]",
                 d, best, js(v, "metric"), fmtd(nc, 8), d, est, d, lo, d, hi);
    return 1;
}

/* The raw best against the corrected estimates, each with its interval. */
static void plot_bias(struct rep *r)
{
    FILE *f = r->f;
    const json_t *bbc = jp(r->sel, "selection_bias.bbc_cv"), *tib = jp(r->sel, "selection_bias.tibshirani");
    const char *u;
    double k = bias_unit(bbc, &u);
    double best, est, lo, hi, tc = NAN, tcv = NAN;
    const json_t *v = json_object_get(bbc, "values");
    if (!jd(json_object_get(v, "best_value"), &best) || !jd(json_object_get(v, "estimate"), &est) ||
        !jd(json_array_get(json_object_get(v, "interval_95"), 0), &lo) ||
        !jd(json_array_get(json_object_get(v, "interval_95"), 1), &hi))
        return;
    if (!omitted(tib)) {
        jd(jp(tib, "values.corrected"), &tc);
        jd(jp(tib, "values.cv_value"), &tcv);
    }
    const char *lab[3] = {"raw best (cross-validated)", "BBC-CV corrected, 95 % interval", "Tibshirani corrected"};
    double val[3] = {k * best, k * est, k * tc}, vlo = k * lo, vhi = k * hi;
    struct plot p;
    plot_init(&p, 520, 230);
    p.x0 = 200, p.w = p.W - p.x0 - 20, p.h = p.H - p.y0 - 36;
    p.y.lo = 0, p.y.hi = 3, p.y.log = 0;
    p.x.lo = fmin(vlo, val[0]), p.x.hi = fmax(vhi, val[0]), p.x.log = 0;
    if (isfinite(val[2]))
        p.x.lo = fmin(p.x.lo, val[2]), p.x.hi = fmax(p.x.hi, val[2]);
    axis_pad(&p.x);
    svg_open(f, &p, "the raw best against the estimates corrected for the selection");
    fprintf(f, "<rect class=\"bg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p.x0, p.y0, p.w, p.h);
    double tk[40];
    size_t nt = ticks(&p.x, tk, 40);
    for (size_t i = 0; i < nt; i++)
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                px(&p, tk[i]), p.y0, px(&p, tk[i]), p.y0 + p.h, px(&p, tk[i]), p.y0 + p.h + 14, fmtd(tk[i], 4));
    fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p.x0, p.y0, p.w, p.h);
    for (int i = 0; i < 3; i++) {
        if (!isfinite(val[i]))
            continue;
        double y = p.y0 + p.h * (i + 0.5) / 3;
        fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", p.x0 - 6, y + 4);
        esc(f, lab[i]);
        fputs("</text>", f);
        if (i == 1)
            fprintf(f, "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                       "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                       "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                    px(&p, vlo), y, px(&p, vhi), y, px(&p, vlo), y - 6, px(&p, vlo), y + 6, px(&p, vhi), y - 6,
                    px(&p, vhi), y + 6);
        fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>", i ? "corr" : "raw", px(&p, val[i]), y);
        fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s%s</text>\n",
                px(&p, val[i]), y - 9, fmtd(val[i], 4), u);
    }
    fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", p.x0 + p.w / 2, p.H - 4);
    esc(f, js(v, "metric") ? js(v, "metric") : "value");
    fputs(*u ? " (%)</text>\n" : "</text>\n", f);
    fputs("</svg>\n", f);
}

/* PBO: the histogram of the in-sample best's out-of-sample logit. */
static void plot_pbo(struct rep *r)
{
    FILE *f = r->f;
    const json_t *h = jp(r->sel, "selection_bias.pbo_cscv.values.logit_histogram");
    const json_t *lo = json_object_get(h, "lo"), *cnt = json_object_get(h, "count");
    double w;
    size_t n = json_array_size(lo);
    if (!n || json_array_size(cnt) != n || !jd(json_object_get(h, "width"), &w) || w <= 0)
        return;
    struct plot p;
    plot_init(&p, 420, 240);
    p.x.lo = 0, p.x.hi = 0, p.y.lo = 0, p.y.hi = 0, p.x.log = p.y.log = 0;
    for (size_t i = 0; i < n; i++) {
        double a = json_number_value(json_array_get(lo, i)), c = json_number_value(json_array_get(cnt, i));
        p.x.lo = fmin(p.x.lo, a), p.x.hi = fmax(p.x.hi, a + w), p.y.hi = fmax(p.y.hi, c);
    }
    axis_pad(&p.x);
    p.y.hi *= 1.08;
    svg_open(f, &p, "out-of-sample logit of the in-sample best, over the CSCV splits");
    svg_axes(f, &p, "logit of the in-sample best's out-of-sample rank (<= 0: overfit)", "splits");
    for (size_t i = 0; i < n; i++) {
        double a = json_number_value(json_array_get(lo, i)), c = json_number_value(json_array_get(cnt, i));
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                a < 0 ? "bar-over" : "bar", px(&p, a), py(&p, c), px(&p, a + w) - px(&p, a) - 1,
                py(&p, 0) - py(&p, c));
    }
    double x0 = px(&p, 0);
    fprintf(f, "\n<line class=\"relline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, p.y0, x0,
            p.y0 + p.h);
    fputs("</svg>\n", f);
}

/* One row per statistic: its value or why it was omitted, its method and
 * assumption. */
static void html_bias(struct rep *r)
{
    FILE *f = r->f;
    const json_t *sb = json_object_get(r->sel, "selection_bias");
    if (!sb)
        return;
    fputs("<h2>How much of the best is the luck of the selection</h2>\n", f);
    if (omitted(sb)) {
        fputs("<p class=\"omit\">Not estimated: ", f);
        esc(f, omitted(sb));
        fputs(".</p>\n", f);
        return;
    }
    char h[400];
    if (bias_headline(r, h, sizeof h)) {
        fputs("<p><b>", f);
        esc(f, h);
        fputs("</b></p>\n<div class=\"small\"><figure>", f);
        plot_bias(r);
        fputs("<figcaption>The best configuration's cross-validated value is the maximum of many noisy "
              "estimates; BBC-CV re-selects it on bootstrap samples of the examples and scores it on the "
              "examples each sample left out.</figcaption></figure>\n", f);
        if (!omitted(json_object_get(sb, "pbo_cscv"))) {
            fputs("<figure>", f);
            plot_pbo(r);
            fprintf(f, "<figcaption>Probability of backtest overfitting (CSCV): %s of the splits put the "
                       "in-sample best at or below the out-of-sample median.</figcaption></figure>\n",
                    jfmt(jp(sb, "pbo_cscv.values.pbo"), 3) ? jfmt(jp(sb, "pbo_cscv.values.pbo"), 3) : "?");
        }
        fputs("</div>\n", f);
    }
    static const char *stats[][2] = {{"bbc_cv", "BBC-CV"}, {"tibshirani", "Tibshirani & Tibshirani"},
                                     {"pbo_cscv", "PBO by CSCV"}};
    fputs("<table><tr><th>statistic</th><th>result</th><th>method</th><th>assumption</th></tr>\n", f);
    for (size_t i = 0; i < 3; i++) {
        const json_t *s = json_object_get(sb, stats[i][0]);
        fprintf(f, "<tr><td>%s</td><td>", stats[i][1]);
        if (omitted(s)) {
            fputs("<span class=\"omit\">omitted: ", f);
            esc(f, omitted(s));
            fputs("</span>", f);
        } else {
            const json_t *v = json_object_get(s, "values");
            static const char *keys[] = {"estimate", "inflation", "bias", "corrected", "pbo", "logit_mean"};
            int any = 0;
            for (size_t j = 0; j < sizeof keys / sizeof *keys; j++)
                if (jfmt(json_object_get(v, keys[j]), 5)) {
                    fprintf(f, "%s%s %s", any++ ? ", " : "", keys[j], jfmt(json_object_get(v, keys[j]), 5));
                }
        }
        fputs("</td><td>", f);
        esc(f, js(s, "method"));
        fputs("</td><td>", f);
        esc(f, js(s, "assumption"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* ---- HTML sections ----------------------------------------------------- */

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;"
    "padding:0 16px;color:#1b1f24;background:#fff;line-height:1.4}"
    "h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd}"
    ".sub{color:#57606a;font-size:.9em}code,.mono{font-family:ui-monospace,monospace;font-size:.85em;overflow-wrap:anywhere}td code{overflow-wrap:normal;white-space:nowrap}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}"
    ".card{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px}"
    ".card b{display:block;font-size:1.35em}.card span{color:#57606a;font-size:.85em}"
    "table{border-collapse:collapse;font-size:.85em;margin:6px 0}th,td{border:1px solid #d0d7de;padding:3px 7px;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}"
    ".small{display:flex;flex-wrap:wrap;gap:10px}figure{margin:8px 0}figcaption{font-size:.85em;color:#57606a}"
    ".omit{color:#9a6700}.never{color:#57606a;font-style:italic}"
    ".warn{border:2px solid #cf222e;background:#fff5f5;padding:0 1em;margin:1em 0}"
    "svg text{font-family:system-ui,sans-serif}.tick{font-size:10px;fill:#57606a}.lab{font-size:11px;fill:#1b1f24}"
    ".note{font-size:10px;fill:#1b1f24}.bg{fill:#fbfcfd}.frame{fill:none;stroke:#8c959f}.grid{stroke:#eaeef2}"
    ".pt{fill:#0969da;fill-opacity:.55}.dens{fill:#0969da}.best{fill:none;stroke:#1a7f37;stroke-width:1.5}"
    ".fail{stroke:#cf222e;stroke-width:1.5}.rel{fill:none;stroke:#cf222e;stroke-width:2.5}.rel-t{fill:#cf222e}"
    ".relline{stroke:#cf222e;stroke-dasharray:5 3}.relline-t{fill:#cf222e}"
    ".noiseline{stroke:#8250df;stroke-dasharray:2 3}.noiseline-t{fill:#8250df}"
    ".band{fill:#0969da;fill-opacity:.15}.emax{fill:none;stroke:#0969da;stroke-width:2}"
    ".tang{fill:none;stroke:#bc4c00;stroke-width:1.5;stroke-dasharray:6 3}"
    ".raw{fill:#cf222e}.corr{fill:#1a7f37}.ci{stroke:#1a7f37;stroke-width:2}.bar{fill:#0969da;fill-opacity:.6}"
    ".bar-over{fill:#cf222e;fill-opacity:.6}.headline{font-size:1.1em}";

/* Record text as a sentence: capital first letter, final period. */
static void sentence(FILE *f, const char *s)
{
    if (!s || !*s)
        return;
    size_t n = strlen(s);
    fputc(*s >= 'a' && *s <= 'z' ? *s - 32 : *s, f);
    esc(f, s + 1);
    if (s[n - 1] != '.')
        fputc('.', f);
    fputc(' ', f);
}

static void card(FILE *f, const char *big, const char *what)
{
    fputs("<div class=\"card\"><b>", f);
    esc(f, big);
    fputs("</b><span>", f);
    esc(f, what);
    fputs("</span></div>\n", f);
}

static void html_header(struct rep *r, const struct report_opts *o)
{
    FILE *f = r->f;
    const char *study = js(r->pred, "study");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>tunetrail report: ",
          f);
    esc(f, study ? study : "search");
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>Search behind ", CSS);
    const json_t *subj = json_array_get(json_object_get(r->st, "subject"), 0);
    esc(f, js(subj, "name") ? js(subj, "name") : "(no model: study report)");
    fputs("</h1>\n<p class=\"sub\">study <b>", f);
    esc(f, study ? study : "?");
    fputs("</b>", f);
    if (js(subj, "digest.sha256")) {
        fputs(" &middot; model sha256 <code>", f);
        esc(f, js(subj, "digest.sha256"));
        fputs("</code>", f);
    }
    fputs("<br>objective <b>", f);
    esc(f, r->obj ? r->obj : "none");
    fprintf(f, "</b> (%s", r->minimize ? "min" : "max");
    if (js(r->sel, "objective.chosen")) {
        fputs("; chosen by ", f);
        esc(f, js(r->sel, "objective.chosen"));
    }
    fputs(") &middot; record created ", f);
    esc(f, js(r->pred, "created") ? js(r->pred, "created") : "?");
    fputs(" by tunetrail ", f);
    esc(f, js(r->pred, "tool.version") ? js(r->pred, "tool.version") : "?");
    fputs("<br>signed by ", f);
    if (json_array_size(o->keyids)) {
        size_t i;
        json_t *k;
        json_array_foreach(o->keyids, i, k) {
            fputs(i ? ", <code>" : "keyid <code>", f);
            esc(f, json_string_value(k));
            fputs("</code>", f);
        }
        fputs(" (not checked here: run <code>tunetrail verify</code>)", f);
    } else {
        fputs("unknown (built from the store, unsigned)", f);
    }
    fputs("</p>\n", f);
}

/* "a" or "an" before a search kind ("grid", "random", "other"). */
static const char *article(const char *w)
{
    return *w && strchr("aeiouAEIOU", *w) ? "an" : "a";
}

static void html_numbers(struct rep *r)
{
    FILE *f = r->f;
    const json_t *s = json_object_get(r->pred, "search");
    char a[160], b[300];
    fputs("<h2>Key numbers</h2>\n<div class=\"cards\">\n", f);
    snprintf(a, sizeof a, "%s", jfmt(json_object_get(s, "trials"), 6) ? jfmt(json_object_get(s, "trials"), 6) : "?");
    b[0] = '\0';
    const json_t *bs = json_object_get(s, "by_status");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)bs, k, v) {
        if (json_integer_value(v) == 0)
            continue;
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, "%s%s %s", l ? ", " : "", fmtd(json_number_value(v), 6), k);
    }
    card(f, a, b[0] ? b : "trials tried");
    double fr;
    if (jd(json_object_get(s, "failure_rate"), &fr)) {
        snprintf(a, sizeof a, "%.1f%%", 100 * fr);
        card(f, a, "failure rate (failed + crashed + killed)");
    }
    if (jfmt(json_object_get(s, "distinct_configurations"), 6))
        card(f, jfmt(json_object_get(s, "distinct_configurations"), 6), "distinct configurations");
    if (r->has_rel) {
        const json_t *rel = json_object_get(r->sel, "released");
        snprintf(b, sizeof b, "released %s (from %s)%s", r->obj ? r->obj : "value",
                 js(rel, "from") ? js(rel, "from") : "?",
                 js(rel, "optimistic") ? "; optimistic: picked as the best on the file it was measured on" : "");
        card(f, fmtd(r->rel, 6), b);
        snprintf(a, sizeof a, "%s of %s", jfmt(json_object_get(rel, "rank"), 6) ? jfmt(json_object_get(rel, "rank"), 6) : "?",
                 jfmt(json_object_get(rel, "of"), 6) ? jfmt(json_object_get(rel, "of"), 6) : "?");
        double pc = NAN, ties = 0;
        jd(json_object_get(rel, "percentile"), &pc);
        jd(json_object_get(rel, "ties"), &ties);
        snprintf(b, sizeof b, "rank (1 = best)%s; percentile %s", ties > 1 ? ", tied" : "", fmtd(pc, 4));
        card(f, a, b);
    } else {
        card(f, "\xe2\x80\x94", "no released model in this record");
    }
    double md, bst;
    if (jd(json_object_get(r->sel, "median"), &md) && jd(json_object_get(r->sel, "best"), &bst)) {
        snprintf(a, sizeof a, "%s / %s", fmtd(md, 5), fmtd(bst, 5));
        snprintf(b, sizeof b, "median / best of %s trials with a value", jfmt(json_object_get(r->sel, "n"), 6) ? jfmt(json_object_get(r->sel, "n"), 6) : "?");
        card(f, a, b);
    }
    const json_t *nf = json_object_get(r->sel, "noise_floor");
    double sd, nb, above;
    if (omitted(nf)) {
        fputs("<div class=\"card\"><b>\xe2\x80\x94</b><span>noise floor omitted: ", f);
        esc(f, omitted(nf));
        fputs("</span></div>\n", f);
    } else if (jd(json_object_get(nf, "sd"), &sd)) {
        snprintf(a, sizeof a, "\xcf\x83 = %s", fmtd(sd, 3));
        b[0] = '\0';
        if (jd(json_object_get(nf, "noise_only_expected_best"), &nb))
            snprintf(b, sizeof b, "noise floor; noise alone would give a best of %s", fmtd(nb, 5));
        if (jd(json_object_get(nf, "released_above_noise_sd"), &above)) {
            size_t l = strlen(b);
            snprintf(b + l, sizeof b - l, "; released is %s \xcf\x83 above it", fmtd(above, 3));
        }
        card(f, a, b);
    }
    double cpu, wall;
    const json_t *ct = jp(s, "compute.trials");
    if (jd(json_object_get(ct, "cpu_seconds"), &cpu) && jd(json_object_get(ct, "wall_seconds"), &wall)) {
        snprintf(a, sizeof a, "%s CPU-s", fmtd(cpu, 4));
        snprintf(b, sizeof b, "compute of the trials (%s wall-s)", fmtd(wall, 4));
        card(f, a, b);
    }
    fputs("</div>\n", f);
    const char *kind = js(s, "kind.kind");
    if (kind || js(r->sel, "treatment")) {
        fputs("<p class=\"sub\">", f);
        if (kind) {
            fprintf(f, "The trials look like %s <b>", article(kind));
            esc(f, kind);
            fputs("</b> search: ", f);
            esc(f, js(s, "kind.reason"));
            fputs(". ", f);
        }
        sentence(f, js(r->sel, "treatment"));
        const json_t *refit = jp(r->pred, "producedBy.refit_of");
        if (refit) {
            fputs("The released model is a refit: ", f);
            sentence(f, js(refit, "note"));
        }
        fputs("</p>\n", f);
    }
    /* compute table */
    const json_t *cp = json_object_get(s, "compute");
    if (json_is_object(cp)) {
        fputs("<table><tr><th>compute</th><th>processes</th><th>CPU seconds</th><th>wall seconds</th><th>peak RSS (kB)</th></tr>\n", f);
        static const char *rows[][2] = {{"trials", "all trials"}, {"failed", "failed trials"},
                                        {"all_processes", "every process of the study (from the store, not verifiable)"}};
        for (size_t i = 0; i < 3; i++) {
            const json_t *c = json_object_get(cp, rows[i][0]);
            if (!json_is_object(c))
                continue;
            fprintf(f, "<tr><td>%s</td>", rows[i][1]);
            static const char *cols[] = {"processes", "cpu_seconds", "wall_seconds", "peak_rss_kb"};
            for (size_t j = 0; j < 4; j++) {
                fputs("<td class=\"n\">", f);
                esc_j(f, json_object_get(c, cols[j]));
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    }
}

/* A ledger entry that is a choice (records before roles: every key). */
static int is_choice(const json_t *c)
{
    const char *role = js(c, "role");
    return !role || !strcmp(role, "choice");
}

/* The warnings a reader must see first, most serious first: a release
 * picked on held-out data, then adaptive reuse of held-out data. */
static void html_warnings(struct rep *r)
{
    FILE *f = r->f;
    const json_t *files = jp(r->pred, "holdout.files");
    size_t i, n = 0;
    json_t *e;
    for (int pass = 0; pass < 2; pass++)
        json_array_foreach(files, i, e) {
            int sel = json_is_true(json_object_get(e, "selected_release"));
            int adapt = json_is_true(json_object_get(e, "adaptive"));
            if (pass == 0 ? !sel : !adapt)
                continue;
            if (!n++)
                fputs("<div class=\"warn\"><h2>Warnings</h2><ul>\n", f);
            const char *path = json_string_value(json_array_get(json_object_get(e, "paths"), 0));
            if (pass == 0) {
                fputs("<li class=\"w-selected\"><b>Selected on the test set.</b> The released model is "
                      "the best of ", f);
                esc_j(f, json_object_get(e, "models_compared"));
                fputs(" models evaluated on <code>", f);
                esc(f, path ? path : js(e, "sha256"));
                fputs("</code> (", f);
                esc(f, js(e, "metric") ? js(e, "metric") : "?");
                fputs("): its value on that file is optimistic, not an estimate of its performance on "
                      "new data.</li>\n", f);
            } else {
                fputs("<li class=\"w-adaptive\"><b>Held-out data reused adaptively.</b> <code>", f);
                esc(f, path ? path : js(e, "sha256"));
                fputs("</code>: ", f);
                esc(f, js(e, "reason"));
                fputs(".</li>\n", f);
            }
        }
    if (n)
        fputs("</ul></div>\n", f);
}

static void html_ledger(struct rep *r)
{
    FILE *f = r->f;
    const json_t *ch = json_object_get(r->pred, "choices");
    size_t i;
    json_t *c;
    fputs("<h2>Choice ledger</h2>\n<p class=\"sub\">Every parameter key seen among the counted trials. "
          "\xcf\x89\xc2\xb2 and Spearman \xcf\x81 describe how the objective moved with the key; they assume the "
          "other keys varied independently of it.</p>\n"
          "<table><tr><th>key</th><th>released</th><th>varied</th><th>values tried / range</th>"
          "<th>\xcf\x89\xc2\xb2</th><th>range of means</th><th>Spearman \xcf\x81</th><th>notes</th></tr>\n",
          f);
    size_t others = 0;
    json_array_foreach(ch, i, c) {
        int varied = json_is_true(json_object_get(c, "varied"));
        if (!is_choice(c)) {
            others++;
            continue;
        }
        fputs("<tr><td><code>", f);
        esc(f, js(c, "key"));
        fputs("</code></td><td>", f);
        esc_j(f, json_object_get(c, "released"));
        fprintf(f, "</td><td>%s</td><td>", varied ? "yes" : "<span class=\"never\">never varied</span>");
        if (json_is_true(json_object_get(c, "numeric")) && varied) {
            fputs("", f);
            esc_j(f, json_object_get(c, "min"));
            fputs(" \xe2\x80\xa6 ", f);
            esc_j(f, json_object_get(c, "max"));
            fprintf(f, " (%s distinct)", jfmt(json_object_get(c, "distinct"), 6) ? jfmt(json_object_get(c, "distinct"), 6) : "?");
        } else {
            size_t j;
            json_t *v;
            json_array_foreach(json_object_get(c, "values"), j, v) {
                if (j == 8) {
                    fprintf(f, ", \xe2\x80\xa6 (%s distinct)", jfmt(json_object_get(c, "distinct"), 6) ? jfmt(json_object_get(c, "distinct"), 6) : "?");
                    break;
                }
                if (j)
                    fputs(", ", f);
                esc_j(f, json_object_get(v, "value"));
                fputs(" \xc3\x97", f);
                esc_j(f, json_object_get(v, "trials"));
            }
        }
        fputs("</td>", f);
        const json_t *e = json_object_get(c, "effect");
        if (varied && omitted(e)) {
            fputs("<td colspan=\"3\" class=\"omit\">omitted: ", f);
            esc(f, omitted(e));
            fputs("</td>", f);
        } else if (varied && e) {
            fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>",
                    jfmt(json_object_get(e, "omega2"), 3) ? jfmt(json_object_get(e, "omega2"), 3) : "\xe2\x80\x94",
                    jfmt(json_object_get(e, "range_of_means"), 4) ? jfmt(json_object_get(e, "range_of_means"), 4) : "\xe2\x80\x94",
                    jfmt(json_object_get(e, "spearman_rho"), 3) ? jfmt(json_object_get(e, "spearman_rho"), 3) : "\xe2\x80\x94");
        } else {
            fputs("<td></td><td></td><td></td>", f);
        }
        fputs("<td>", f);
        if (js(c, "note"))
            esc(f, js(c, "note"));
        int sep = js(c, "note") != NULL;
        if (e && json_is_true(json_object_get(e, "binned"))) {
            fprintf(f, "%sgrouped in %s quantile bins", sep ? "; " : "",
                    jfmt(json_object_get(e, "groups"), 4) ? jfmt(json_object_get(e, "groups"), 4) : "?");
            sep = 1;
        }
        if (e && json_is_true(json_object_get(e, "log_scale")))
            fputs(sep ? "; \xcf\x81 on log scale" : "\xcf\x81 on log scale", f);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (!others)
        return;
    /* files, seeds, data sizes, restated flags: recorded, not choices */
    fputs("<h3>Files, seeds and data sizes</h3>\n<p class=\"sub\">Keys that are not choices of the "
          "search (why: the role's reason); they are left out of the statistics above.</p>\n"
          "<table><tr><th>key</th><th>role</th><th>why</th><th>released</th><th>values</th></tr>\n", f);
    json_array_foreach(ch, i, c) {
        if (is_choice(c))
            continue;
        fputs("<tr><td><code>", f);
        esc(f, js(c, "key"));
        fputs("</code></td><td>", f);
        esc(f, js(c, "role"));
        fputs("</td><td>", f);
        esc(f, js(c, "role_reason") ? js(c, "role_reason") : "");
        fputs("</td><td>", f);
        esc_j(f, json_object_get(c, "released"));
        fputs("</td><td>", f);
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(c, "values"), j, v) {
            if (j == 4) {
                fprintf(f, ", \xe2\x80\xa6 (%s distinct)", jfmt(json_object_get(c, "distinct"), 6) ? jfmt(json_object_get(c, "distinct"), 6) : "?");
                break;
            }
            if (j)
                fputs(", ", f);
            esc_j(f, json_object_get(v, "value"));
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void html_holdout(struct rep *r)
{
    FILE *f = r->f;
    const json_t *h = json_object_get(r->pred, "holdout");
    const json_t *files = json_object_get(h, "files");
    size_t i;
    json_t *e;
    fputs("<h2>Holdout reuse</h2>\n", f);
    if (!json_array_size(files)) {
        fputs("<p class=\"sub\">No evaluation data file was recorded: no trial's model was evaluated on held-out data.</p>\n", f);
        return;
    }
    fputs("<table><tr><th>data file</th><th>sha256</th><th>trials evaluated</th><th>evaluations</th>"
          "<th>first evaluated</th><th>adaptive reuse</th><th>released model picked here</th></tr>\n", f);
    json_array_foreach(files, i, e) {
        size_t j;
        json_t *pth;
        fputs("<tr><td>", f);
        json_array_foreach(json_object_get(e, "paths"), j, pth) {
            if (j)
                fputs("<br>", f);
            esc(f, json_string_value(pth));
        }
        char sh[20];
        snprintf(sh, sizeof sh, "%.16s", js(e, "sha256") ? js(e, "sha256") : "?");
        fputs("</td><td><code>", f);
        esc(f, sh);
        fputs("\xe2\x80\xa6</code></td><td class=\"n\">", f);
        esc_j(f, json_object_get(e, "trials_evaluated"));
        fputs("</td><td class=\"n\">", f);
        esc_j(f, json_object_get(e, "evaluations"));
        fputs("</td><td>", f);
        esc_j(f, json_object_get(e, "first_evaluated"));
        fprintf(f, "</td><td>%s", json_is_true(json_object_get(e, "adaptive")) ? "<b>yes</b>" : "no");
        if (js(e, "reason")) {
            fputs(": ", f);
            esc(f, js(e, "reason"));
        }
        fprintf(f, "</td><td>%s", json_is_true(json_object_get(e, "selected_release")) ? "<b>yes</b>" : "no");
        if (js(e, "selection_reason")) {
            fputs(": ", f);
            esc(f, js(e, "selection_reason"));
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* The record's sessions grouped by (authenticated identity, claimed user
 * and host), in order of first appearance: [{identity, who, sessions}], who
 * being "user@host" as claimed. A lab with 64 agents has 64 rows otherwise. */
static json_t *session_groups(const json_t *pred)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(json_object_get(pred, "sessions"), i, e) {
        const char *idn = js(e, "identity"), *user = js(e, "claimed.user"), *host = js(e, "claimed.host");
        char who[300];
        snprintf(who, sizeof who, "%s@%s", user ? user : "?", host ? host : "?");
        size_t k;
        json_t *g, *hit = NULL;
        json_array_foreach(out, k, g) {
            const char *gi = js(g, "identity");
            if (!strcmp(js(g, "who"), who) && (gi && idn ? !strcmp(gi, idn) : gi == idn))
                hit = g;
        }
        if (hit)
            json_object_set_new(hit, "sessions", json_integer(json_integer_value(json_object_get(hit, "sessions")) + 1));
        else
            json_array_append_new(out, json_pack("{s:s?,s:s,s:i}", "identity", idn, "who", who, "sessions", 1));
    }
    return out;
}

static void html_sessions(struct rep *r)
{
    FILE *f = r->f;
    if (!json_object_get(r->pred, "sessions"))
        return; /* a record made before identities were recorded */
    json_t *groups = session_groups(r->pred), *g;
    size_t i;
    fputs("<h2>Who wrote the trials</h2>\n<p class=\"sub\">Each session (one <code>tunetrail run</code>) by the "
          "identity the lab collector authenticated (its CURVE key in the collector's clients file), beside the "
          "user and host the client claimed, which nothing checks.</p>\n", f);
    fputs("<table><tr><th>authenticated identity</th><th>claimed user@host</th><th>sessions</th></tr>\n", f);
    json_array_foreach(groups, i, g) {
        fputs("<tr><td>", f);
        if (js(g, "identity"))
            esc(f, js(g, "identity"));
        else
            fputs("<i>none</i> (not sent through an authenticating collector)", f);
        fputs("</td><td>", f);
        esc(f, js(g, "who"));
        fputs(" <span class=\"sub\">(claimed)</span></td><td class=\"n\">", f);
        esc_j(f, json_object_get(g, "sessions"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    json_decref(groups);
}

static void html_log(struct rep *r, const struct report_opts *o)
{
    FILE *f = r->f;
    const json_t *l = json_object_get(r->pred, "log");
    fputs("<h2>Log</h2>\n<p>", f);
    esc(f, js(l, "hash") ? js(l, "hash") : "RFC 9162 SHA-256");
    fputs(" Merkle log of the study: tree size <b>", f);
    esc_j(f, json_object_get(l, "tree_size"));
    fputs("</b>, root <code>", f);
    esc_j(f, json_object_get(l, "root"));
    fputs("</code>.<br>", f);
    const json_t *cp = json_object_get(l, "checkpoint");
    if (json_is_object(cp)) {
        fputs("Checkpoint signed by the collector key <code>", f);
        esc_j(f, json_object_get(cp, "keyid"));
        fputs("</code> at tree size ", f);
        esc_j(f, json_object_get(cp, "tree_size"));
        fputs(".", f);
    } else {
        fputs("No collector checkpoint.", f);
    }
    fprintf(f, " %zu leaves carried in the record; %zu counted trials after revisions and exclusions.</p>\n",
            r->rec->n, r->n);
    fputs("<p class=\"sub\">Check every number above with <code>tunetrail verify RECORD MODEL</code>. Report of ", f);
    esc(f, o->source ? o->source : "a record");
    fputs(".</p>\n", f);
}

static int write_html(struct rep *r, const struct report_opts *o)
{
    FILE *f = r->f;
    html_header(r, o);
    html_warnings(r);
    char hl[400];
    if (bias_headline(r, hl, sizeof hl)) {
        fputs("<p class=\"headline\"><b>", f);
        esc(f, hl);
        fputs(".</b></p>\n", f);
    }
    html_numbers(r);
    fputs("<h2>Every trial in time order</h2>\n<figure>", f);
    plot_time(r);
    fputs("<figcaption>Each dot is a trial with a value (darker cells: more trials, when there are many); "
          "red ticks under the axis are trials without one (failed, crashed, killed, or never reporting it); green: best so far; "
          "the red ring is the released trial.</figcaption></figure>\n",
          f);
    fputs("<h2>How much of the best the number of trials explains</h2>\n<figure>", f);
    plot_emax(r);
    fputs("<figcaption>Expected best of n trials drawn from this search. ", f);
    esc(f, js(r->sel, "expected_max.assumption"));
    fputs("</figcaption></figure>\n", f);
    html_bias(r);
    const json_t *ch = json_object_get(r->pred, "choices");
    size_t i, drawn = 0, varied = 0;
    json_t *c;
    json_array_foreach(ch, i, c) varied += is_choice(c) && json_is_true(json_object_get(c, "varied"));
    fputs("<h2>The objective against each varied choice</h2>\n", f);
    if (!varied)
        fputs("<p class=\"omit\">No choice was varied.</p>\n", f);
    fputs("<div class=\"small\">\n", f);
    json_array_foreach(ch, i, c) {
        if (!is_choice(c) || !json_is_true(json_object_get(c, "varied")) || !js(c, "key"))
            continue;
        if (drawn++ == MAX_CHOICE_PLOTS) {
            fprintf(f, "<p>%zu more varied keys are in the ledger below.</p>", varied - MAX_CHOICE_PLOTS);
            break;
        }
        fputs("<figure>", f);
        plot_choice(r, c);
        fputs("<figcaption><code>", f);
        esc(f, js(c, "key"));
        fputs("</code></figcaption></figure>\n", f);
    }
    fputs("</div>\n", f);
    html_ledger(r);
    html_holdout(r);
    html_sessions(r);
    html_log(r, o);
    fputs("</body></html>\n", f);
    return 0;
}

/* ---- Markdown ------------------------------------------------------------ */

static void md_row(FILE *f, const char *what, const char *val)
{
    fputs("| ", f);
    md_esc(f, what);
    fputs(" | ", f);
    md_esc(f, val);
    fputs(" |\n", f);
}

static int write_md(struct rep *r, const struct report_opts *o)
{
    FILE *f = r->f;
    const json_t *s = json_object_get(r->pred, "search");
    char b[600];
    const json_t *subj = json_array_get(json_object_get(r->st, "subject"), 0);
    fputs("## Search disclosure\n\n", f);
    fputs("Recorded by tunetrail for study `", f);
    md_esc(f, js(r->pred, "study") ? js(r->pred, "study") : "?");
    fputs("`", f);
    if (js(subj, "name")) {
        fputs(", released model `", f);
        md_esc(f, js(subj, "name"));
        fputs("` (sha256 `", f);
        md_esc(f, js(subj, "digest.sha256"));
        fputs("`)", f);
    }
    fputs("; objective `", f);
    md_esc(f, r->obj ? r->obj : "?");
    /* Only a signed record can be checked by a reader; a report straight
     * from the store says where its numbers come from instead. */
    fprintf(f, "` (%s is better). %s\n\n", r->minimize ? "lower" : "higher",
            o->keyids ? "Every number below is checkable with `tunetrail verify`."
                      : "Every number below was computed from the store's study log; it is not a "
                        "signed record (`tunetrail attest` writes one, `tunetrail verify` checks it).");
    char hl[400];
    if (bias_headline(r, hl, sizeof hl)) {
        fputs("**", f);
        md_esc(f, hl);
        fputs(".**\n\n", f);
    }
    /* a release picked on held-out data: said first, in one sentence */
    size_t hi;
    json_t *he;
    json_array_foreach(jp(r->pred, "holdout.files"), hi, he) {
        if (!json_is_true(json_object_get(he, "selected_release")))
            continue;
        const char *path = json_string_value(json_array_get(json_object_get(he, "paths"), 0));
        fputs("**The released model was selected on the test set:** it is the best of ", f);
        md_esc(f, jfmt(json_object_get(he, "models_compared"), 6) ? jfmt(json_object_get(he, "models_compared"), 6) : "?");
        fputs(" models evaluated on `", f);
        md_esc(f, path ? path : js(he, "sha256"));
        fputs("` (", f);
        md_esc(f, js(he, "metric") ? js(he, "metric") : "?");
        fputs("), so its score on that file is optimistic.\n\n", f);
    }
    fputs("| | |\n|---|---|\n", f);
    b[0] = '\0';
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "by_status"), k, v) {
        if (!json_integer_value(v))
            continue;
        size_t l = strlen(b);
        snprintf(b + l, sizeof b - l, "%s%s %s", l ? ", " : "", fmtd(json_number_value(v), 6), k);
    }
    char t[700];
    snprintf(t, sizeof t, "%s (%s)", jfmt(json_object_get(s, "trials"), 6) ? jfmt(json_object_get(s, "trials"), 6) : "?", b);
    md_row(f, "Trials tried (failed and killed included)", t);
    double fr;
    if (jd(json_object_get(s, "failure_rate"), &fr)) {
        snprintf(t, sizeof t, "%.1f%%", 100 * fr);
        md_row(f, "Failure rate", t);
    }
    if (jfmt(json_object_get(s, "distinct_configurations"), 6))
        md_row(f, "Distinct configurations", jfmt(json_object_get(s, "distinct_configurations"), 6));
    /* varied / never-varied keys */
    /* choices only: varied, set once, left at defaults */
    char lists[3][400] = {"", "", ""};
    size_t i, cnt[3] = {0, 0, 0};
    json_t *c;
    json_array_foreach(json_object_get(r->pred, "choices"), i, c) {
        if (!is_choice(c))
            continue;
        const char *note = js(c, "note");
        int which = json_is_true(json_object_get(c, "varied")) ? 0
                    : note && strstr(note, "set explicitly") ? 1 : 2;
        char *dst = lists[which];
        size_t l = strlen(dst);
        if (l < 300)
            snprintf(dst + l, 400 - l, "%s%s", l ? ", " : "", js(c, "key") ? js(c, "key") : "?");
        else if (l < 396 && !strstr(dst, "\xe2\x80\xa6"))
            strcat(dst, " \xe2\x80\xa6");
        cnt[which]++;
    }
    size_t nnever = cnt[1] + cnt[2];
    snprintf(t, sizeof t, "%zu: %s", cnt[0], cnt[0] ? lists[0] : "none");
    md_row(f, "Varied choices", t);
    if (cnt[1]) {
        snprintf(t, sizeof t, "%zu: %s", cnt[1], lists[1]);
        md_row(f, "Set explicitly, never varied", t);
    }
    snprintf(t, sizeof t, "%zu: %s", cnt[2], cnt[2] ? lists[2] : "none");
    md_row(f, "Never-varied choices (untested defaults)", t);
    if (r->has_rel) {
        const json_t *rel = json_object_get(r->sel, "released");
        double pc = NAN;
        jd(json_object_get(rel, "percentile"), &pc);
        snprintf(t, sizeof t, "%s: rank %s of %s, percentile %s%s", fmtd(r->rel, 6),
                 jfmt(json_object_get(rel, "rank"), 6) ? jfmt(json_object_get(rel, "rank"), 6) : "?",
                 jfmt(json_object_get(rel, "of"), 6) ? jfmt(json_object_get(rel, "of"), 6) : "?", fmtd(pc, 4),
                 js(rel, "optimistic") ? " (optimistic: picked on the file it was measured on)" : "");
        md_row(f, "Released value", t);
    }
    double md, bst;
    if (jd(json_object_get(r->sel, "median"), &md) && jd(json_object_get(r->sel, "best"), &bst)) {
        snprintf(t, sizeof t, "%s / %s", fmtd(md, 6), fmtd(bst, 6));
        md_row(f, "Median / best trial", t);
    }
    const json_t *sb = json_object_get(r->sel, "selection_bias");
    if (sb) {
        const json_t *bb = json_object_get(sb, "bbc_cv"), *tb = json_object_get(sb, "tibshirani"),
                     *pb = json_object_get(sb, "pbo_cscv");
        const char *u;
        double ku = bias_unit(bb, &u), e, blo, bhi, inf;
        const json_t *bv = json_object_get(bb, "values");
        if (omitted(sb) || omitted(bb))
            snprintf(t, sizeof t, "omitted: %s", omitted(sb) ? omitted(sb) : omitted(bb));
        else if (jd(json_object_get(bv, "estimate"), &e) &&
                 jd(json_array_get(json_object_get(bv, "interval_95"), 0), &blo) &&
                 jd(json_array_get(json_object_get(bv, "interval_95"), 1), &bhi) &&
                 jd(json_object_get(bv, "inflation"), &inf))
            snprintf(t, sizeof t, "%s%s [%s, %s] (inflation of the raw best %s%s; %s bootstrap replicates)",
                     fmtd(ku * e, 4), u, fmtd(ku * blo, 4), fmtd(ku * bhi, 4), fmtd(ku * inf, 3), u,
                     jfmt(json_object_get(bv, "replicates"), 8) ? jfmt(json_object_get(bv, "replicates"), 8) : "?");
        else
            snprintf(t, sizeof t, "?");
        md_row(f, "Corrected for the selection (BBC-CV)", t);
        if (omitted(sb) || omitted(tb))
            snprintf(t, sizeof t, "omitted: %s", omitted(sb) ? omitted(sb) : omitted(tb));
        else {
            double tbias = NAN, tcor = NAN;
            jd(jp(tb, "values.bias"), &tbias);
            jd(jp(tb, "values.corrected"), &tcor);
            snprintf(t, sizeof t, "bias %s%s, corrected %s%s (%s folds)", fmtd(ku * tbias, 3), u,
                     fmtd(ku * tcor, 4), u,
                     jfmt(jp(tb, "values.folds"), 4) ? jfmt(jp(tb, "values.folds"), 4) : "?");
        }
        md_row(f, "Tibshirani and Tibshirani (from the per-fold scores)", t);
        if (omitted(sb) || omitted(pb))
            snprintf(t, sizeof t, "omitted: %s", omitted(sb) ? omitted(sb) : omitted(pb));
        else
            snprintf(t, sizeof t, "%s (%s of %s splits)",
                     jfmt(jp(pb, "values.pbo"), 3) ? jfmt(jp(pb, "values.pbo"), 3) : "?",
                     jfmt(jp(pb, "values.overfit_splits"), 8) ? jfmt(jp(pb, "values.overfit_splits"), 8) : "?",
                     jfmt(jp(pb, "values.splits"), 8) ? jfmt(jp(pb, "values.splits"), 8) : "?");
        md_row(f, "Probability of backtest overfitting (CSCV)", t);
    }
    const json_t *em = json_object_get(r->sel, "expected_max");
    const json_t *ns = json_object_get(em, "n"), *mean = json_object_get(em, "mean"), *sd = json_object_get(em, "sd");
    if (json_array_size(ns)) {
        static const double want[] = {1, 5, 10, 50, 100, 1000, 10000};
        t[0] = '\0';
        double N = json_number_value(json_array_get(ns, json_array_size(ns) - 1));
        for (size_t w = 0; w <= sizeof want / sizeof *want; w++) {
            double n = w < sizeof want / sizeof *want ? want[w] : N;
            if (n > N || (w < sizeof want / sizeof *want && n == N))
                continue;
            for (size_t j = 0; j < json_array_size(ns); j++)
                if (json_number_value(json_array_get(ns, j)) == n) {
                    size_t l = strlen(t);
                    snprintf(t + l, sizeof t - l, "%sn=%s: %s \xc2\xb1 %s", l ? "; " : "", fmtd(n, 8),
                             fmtd(json_number_value(json_array_get(mean, j)), 5),
                             fmtd(json_number_value(json_array_get(sd, j)), 3));
                    break;
                }
        }
        md_row(f, "Expected best of n trials (Dodge et al. 2019)", t);
    }
    const json_t *nf = json_object_get(r->sel, "noise_floor");
    double sdv, nb, above;
    if (!omitted(nf) && jd(json_object_get(nf, "sd"), &sdv)) {
        snprintf(t, sizeof t, "\xcf\x83 = %s", fmtd(sdv, 3));
        if (jd(json_object_get(nf, "noise_only_expected_best"), &nb)) {
            size_t l = strlen(t);
            snprintf(t + l, sizeof t - l, "; noise-only expected best %s", fmtd(nb, 6));
        }
        if (jd(json_object_get(nf, "released_above_noise_sd"), &above)) {
            size_t l = strlen(t);
            snprintf(t + l, sizeof t - l, "; released %s \xcf\x83 above it", fmtd(above, 3));
        }
        md_row(f, "Noise floor", t);
    }
    const json_t *files = jp(r->pred, "holdout.files");
    if (json_array_size(files)) {
        t[0] = '\0';
        json_t *e;
        json_array_foreach(files, i, e) {
            size_t l = strlen(t);
            if (l > 500)
                break;
            snprintf(t + l, sizeof t - l, "%s%s: %s trials, %s evaluations%s", l ? "; " : "",
                     js(json_array_get(json_object_get(e, "paths"), 0), "") ? js(json_array_get(json_object_get(e, "paths"), 0), "") : "?",
                     jfmt(json_object_get(e, "trials_evaluated"), 6) ? jfmt(json_object_get(e, "trials_evaluated"), 6) : "?",
                     jfmt(json_object_get(e, "evaluations"), 6) ? jfmt(json_object_get(e, "evaluations"), 6) : "?",
                     json_is_true(json_object_get(e, "adaptive")) ? " (adaptive reuse)" : "");
        }
        md_row(f, "Holdout reuse", t);
    } else {
        md_row(f, "Holdout reuse", "no evaluation on held-out data recorded");
    }
    if (json_object_get(r->pred, "sessions")) {
        json_t *groups = session_groups(r->pred), *g;
        t[0] = '\0';
        json_array_foreach(groups, i, g) {
            size_t l = strlen(t);
            if (l > 500) {
                snprintf(t + l, sizeof t - l, "; %zu more", json_array_size(groups) - i);
                break;
            }
            long long n = (long long)json_integer_value(json_object_get(g, "sessions"));
            snprintf(t + l, sizeof t - l, "%s%s (claimed %s): %lld session%s", l ? "; " : "",
                     js(g, "identity") ? js(g, "identity") : "no authenticated identity", js(g, "who"), n,
                     n == 1 ? "" : "s");
        }
        md_row(f, "Written by (identity the collector authenticated)", *t ? t : "no session recorded");
        json_decref(groups);
    }
    const json_t *ct = jp(s, "compute.trials");
    double cpu, wall;
    if (jd(json_object_get(ct, "cpu_seconds"), &cpu) && jd(json_object_get(ct, "wall_seconds"), &wall)) {
        double fc = NAN;
        jd(jp(s, "compute.failed.cpu_seconds"), &fc);
        snprintf(t, sizeof t, "%s CPU-s, %s wall-s over all trials (%s CPU-s in failed ones)", fmtd(cpu, 4),
                 fmtd(wall, 4), isfinite(fc) ? fmtd(fc, 4) : "?");
        md_row(f, "Compute", t);
    }
    /* caveats: one sentence each */
    fputs("\n", f);
    const char *kind = js(s, "kind.kind");
    if (kind) {
        fprintf(f, "- The trials look like %s ", article(kind));
        md_esc(f, kind);
        fputs(" search (", f);
        md_esc(f, js(s, "kind.reason"));
        fputs("); the per-choice effects assume the choices varied independently.\n", f);
    }
    if (omitted(nf)) {
        fputs("- The noise floor is omitted: ", f);
        md_esc(f, omitted(nf));
        fputs(".\n", f);
    }
    if (omitted(em)) {
        fputs("- The expected-best curve is omitted: ", f);
        md_esc(f, omitted(em));
        fputs(".\n", f);
    }
    const char *treat = js(r->sel, "treatment");
    if (treat && *treat) {
        fprintf(f, "- %c", *treat >= 'a' && *treat <= 'z' ? *treat - 32 : *treat);
        md_esc(f, treat + 1);
        fputs(treat[strlen(treat) - 1] == '.' ? "\n" : ".\n", f);
    }
    if (nnever)
        fputs("- Never-varied choices were not tested; no importance is claimed for them.\n", f);
    json_array_foreach(json_object_get(r->pred, "choices"), i, c) {
        const json_t *e = json_object_get(c, "effect");
        if (is_choice(c) && json_is_true(json_object_get(c, "varied")) && omitted(e)) {
            fputs("- The effect of `", f);
            md_esc(f, js(c, "key"));
            fputs("` is omitted: ", f);
            md_esc(f, omitted(e));
            fputs(".\n", f);
        }
    }
    if (jp(r->pred, "producedBy.refit_of")) {
        fputs("- The released model is a refit; its value is that of the search trials with the same settings: ", f);
        md_esc(f, js(r->pred, "producedBy.refit_of.note"));
        fputs("\n", f);
    }
    return 0;
}

int report_write(FILE *out, const struct record *rec, const struct report_opts *o, char *err,
                 size_t errlen)
{
    struct rep r;
    int rc = -1;
    memset(&r, 0, sizeof r);
    r.f = out;
    r.rec = rec;
    r.st = rec->stmt;
    r.pred = json_object_get(rec->stmt, "predicate");
    if (!json_is_object(r.pred)) {
        tt_fail(err, errlen, "the record has no predicate");
        return -1;
    }
    r.sel = json_object_get(r.pred, "selection");
    r.obj = js(r.sel, "objective.name");
    r.minimize = js(r.sel, "objective.direction") && !strcmp(js(r.sel, "objective.direction"), "min");
    r.has_rel = jd(jp(r.sel, "released.value"), &r.rel);
    if (prepare(&r, err, errlen) < 0)
        goto out;
    rc = o->format == REPORT_MD ? write_md(&r, o) : write_html(&r, o);
    if (fflush(out) != 0 || ferror(out)) {
        tt_fail(err, errlen, "write failed: %s", strerror(errno));
        rc = -1;
    }
out:
    free(r.t);
    return rc;
}
