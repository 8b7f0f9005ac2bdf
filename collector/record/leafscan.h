/* leafscan.h - reads a trial's leaf object (docs/RECORD.md) from its
 * canonical JSON text into plain C fields, without a JSON tree.
 *
 * Why not jansson: a record covers every trial of a study, and attest /
 * report must handle 100,000 trials in about a second; jansson spends ~40 us
 * and ~6 KB of small allocations per 750-byte leaf on the VMs we measure on
 * (4 s and 660 MB for 100k leaves). The scanner is one pass, copies strings
 * once into an arena, and reads only what the statistics and the report
 * use. It accepts any valid JSON object (keys in any order, any whitespace,
 * unknown keys skipped, escapes decoded), so verify can feed it the canonical
 * dump of a leaf it parsed with jansson and get the same fields attest got.
 *
 * Error convention: 0 on success, -1 with "<what> at byte N" in err. */
#ifndef TT_LEAFSCAN_H
#define TT_LEAFSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Bump allocator: big chunks, freed all at once. Zero-initialise. */
struct leafscan_arena {
    struct leaf_chunk *head;
};
void *leafscan_arena_alloc(struct leafscan_arena *a, size_t n); /* aligned to 8; NULL if out of memory */
void leafscan_arena_free(struct leafscan_arena *a);

struct leafscan_param {
    const char *key, *value; /* NUL-terminated, in the arena; value "" if not a string */
    const char *source;      /* from "sources"; "adapter" for an unlisted "<framework>.x" key; or NULL */
};

struct leafscan_metric {
    const char *name;
    double value;  /* NAN unless value is a finite JSON number */
    int finite;    /* 1 if value is a finite number ("nan"/"inf" strings: 0) */
    const char *split, *direction; /* NULL if absent */
    int64_t step;
    int has_step;
};

/* An entry of "inputs" / "outputs" (size and other members are not kept). */
struct leafscan_file {
    const char *path, *sha256; /* NULL if absent or not a string */
};

struct leafscan_leaf {
    /* NULL / 0 when absent */
    const char *trial, *status, *process, *session, *framework, *opened_by, *study, *exe;
    int64_t started_ns, ended_ns, cpu_us, maxrss_kb, exit_code, signal;
    unsigned has_started : 1, has_ended : 1, has_cpu : 1, has_rss : 1, has_exit : 1,
        has_signal : 1;
    struct leafscan_param *params; /* sorted by key (strcmp) */
    size_t nparams;
    struct leafscan_metric *metrics; /* sorted by name (strcmp) */
    size_t nmetrics;
    struct leafscan_file *inputs, *outputs; /* in the leaf's order */
    size_t ninputs, noutputs;
    /* "predictions" (docs/RECORD.md "Out-of-fold predictions"); pred_kind
     * NULL when absent or omitted */
    const char *pred_kind, *pred_sha256, *pred_fnv;
    int64_t pred_n, pred_nr_fold;
    unsigned pred_folds : 1;
};

/* Scans one leaf object's text (len bytes, need not be NUL-terminated). */
int leafscan(const char *text, size_t len, struct leafscan_leaf *out, struct leafscan_arena *a, char *err,
             size_t errlen);

/* Spans in a big JSON text (a record's 100 MB payload) without a tree.
 * leafscan_member: the byte span [*start, *end) of the value of member key
 * of the object that is text[0..len); 0 found (the last one if repeated),
 * 1 absent, -1 not valid JSON there (err says where). The whole object is
 * checked. */
int leafscan_member(const char *text, size_t len, const char *key, size_t *start, size_t *end,
                    char *err, size_t errlen);

/* Calls fn(ctx, i, start, end) with the span of each element of the array
 * that is text[0..len) (whitespace around it excluded); stops at a non-zero
 * return of fn. 0, or -1 (bad JSON: err says where; or fn's failure). */
int leafscan_elements(const char *text, size_t len,
                      int (*fn)(void *ctx, size_t i, size_t start, size_t end), void *ctx,
                      char *err, size_t errlen);

/* Binary search in the sorted arrays; NULL if absent. */
const struct leafscan_param *leafscan_param_get(const struct leafscan_leaf *r, const char *key);
const struct leafscan_metric *leafscan_metric_get(const struct leafscan_leaf *r, const char *name);

#endif
