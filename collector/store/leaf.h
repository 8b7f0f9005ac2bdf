/* leaf.h - a trial's leaf of its study's Merkle log: the trial's record as
 * canonical JSON (docs/RECORD.md, "Leaf object"). Built by the store when it
 * seals a trial; re-serialised by verify to check the bytes it hashes.
 *
 * Error convention: NULL / -1 on failure with a message in err[errlen] (when
 * err is non-NULL); returned strings and json_t are owned by the caller
 * (free / json_decref). */
#ifndef TT_LEAF_H
#define TT_LEAF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define LEAF_VERSION 1
/* The canonical dump: the leaf bytes are exactly json_dumps(leaf,
 * JSONFMT_CANONICAL) (common/jsonfmt.h). */

struct sqlite3;

/* The leaf object of trial_id (trials.id) as the store holds it now: study
 * and status from trial_view, params, last metric point per name, inputs and
 * outputs as `tunetrail show` computes them (sorted by path), the process's
 * resources. Fields without a value are left out. Returns NULL with err set
 * if the trial does not exist or the query fails. */
json_t *leaf_object(struct sqlite3 *db, int64_t trial_id, char *err, size_t errlen);

/* leaf_object serialised canonically: malloc'd text without a newline. */
char *leaf_build(struct sqlite3 *db, int64_t trial_id, char *err, size_t errlen);

/* The same with prepared statements kept between calls (the store seals
 * many trials): leaf_ctx_new prepares them on db (NULL with err set on
 * failure), leaf_ctx_object / leaf_ctx_build work as above, leaf_ctx_free
 * finalizes (NULL is fine). A ctx is used by one thread on its db. */
struct leaf_ctx;
struct leaf_ctx *leaf_ctx_new(struct sqlite3 *db, char *err, size_t errlen);
json_t *leaf_ctx_object(struct leaf_ctx *c, int64_t trial_id, char *err, size_t errlen);
char *leaf_ctx_build(struct leaf_ctx *c, int64_t trial_id, char *err, size_t errlen);
void leaf_ctx_free(struct leaf_ctx *c);

/* leaf_ctx_object / _build with the "metrics" object given (stolen; NULL:
 * read from the store), for a caller that tracked each name's last point as
 * it stored them (slog.c) instead of re-reading every point. */
json_t *leaf_ctx_object_with(struct leaf_ctx *c, int64_t trial_id, json_t *metrics, char *err,
                             size_t errlen);
char *leaf_ctx_build_with(struct leaf_ctx *c, int64_t trial_id, json_t *metrics, char *err,
                          size_t errlen);

/* One file of a leaf's "inputs" or "outputs" as a caller tracked it: the
 * row `tunetrail show` would pick for its path (the rule of store_files.h). */
struct leaf_file {
    const char *path;      /* as stored; repaired when shown */
    const uint8_t *sha256; /* 32 bytes, or NULL (the row has none) */
    int has_size;
    int64_t size;
    int env;               /* files.env of the row (inputs only) */
};

/* The leaf's "environment" object (docs/RECORD.md) from a process's input
 * files (sorted by path in byte order; those store_files_is_env() picks are
 * summarised) and its package lists, read with pk (a statement of
 * STORE_FILES_ENV_PACKAGES_SQL, reset here): {"digest", "files",
 * "packages"}, or NULL if no input is environment. */
struct sqlite3_stmt;
json_t *leaf_environment(struct sqlite3_stmt *pk, const void *proc, int plen,
                         const struct leaf_file *inputs, size_t n);

/* The environment digest: SHA-256 over, for each environment file in path
 * byte order, its path bytes, one 0x00 byte and its 32-byte SHA-256. */
void leaf_environment_digest(const struct leaf_file *inputs, size_t n, uint8_t out[32]);

/* What a caller (slog.c) tracked while it stored the trial's events,
 * so that sealing does not re-read them from the store (a training process
 * writes thousands of metric and file rows, scattered across the file).
 * metrics: the "metrics" object, stolen; NULL: read from the store.
 * has_files: inputs / outputs are given (each sorted by path in byte order,
 * one entry per path; n 0 is fine) instead of read from the store. */
struct leaf_given {
    json_t *metrics;
    int has_files;
    const struct leaf_file *inputs, *outputs;
    size_t ninputs, noutputs;
};

/* leaf_ctx_build with what g gives (g NULL: everything from the store).
 * g->metrics is stolen even on failure. Same text as leaf_ctx_build when
 * what g gives equals what the store holds. */
char *leaf_ctx_build_given(struct leaf_ctx *c, int64_t trial_id, struct leaf_given *g, char *err,
                           size_t errlen);

/* One metric point as the leaf shows it: {"value", "step" (if >= 0),
 * "split", "direction" (if non-empty)}; value_null: the store holds NULL
 * (SQLite keeps a NaN so), shown "nan" like any NaN; -0.0 shows as 0.0 (SQLite
 * keeps no negative zero). New reference. */
json_t *leaf_metric_point(double value, int value_null, int64_t step, const char *split,
                          const char *direction);

/* Serialises leaf with JSONFMT_CANONICAL into *text (malloc'd). Returns 0, or
 * -1 if jansson fails (out of memory). json_loads(leaf_build(...)) passed
 * back through this gives the same bytes. */
int leaf_canonical(json_t *leaf, char **text);


#endif
