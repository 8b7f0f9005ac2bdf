/* store_files.h - inside the store: which file rows a trial shows as its
 * inputs and outputs. Leaves (leaf.c), `tunetrail show` (store_read.c) and
 * the log's in-memory tracker (slog.c) must pick the same row, since
 * leaf bytes are hashed into the study log: a drift would silently change
 * the log. So the rule is written here once, for SQL and for C.
 *
 * The rule: per path and role, the row with the highest
 * (sha256 IS NOT NULL) * STORE_FILES_HASHED + COALESCE(time_ns, 0) - the
 * latest row that has a hash wins over rows without one; on a tie the first
 * stored (SQLite's max() keeps the first row it meets, in arrival order).
 * Modes: 0 read, 1 written, 2 both. */
#ifndef TT_STORE_FILES_H
#define TT_STORE_FILES_H

#define STORE_FILES_HASHED_N 4000000000000000000
#define STORE_FILES_STR_(x) #x
#define STORE_FILES_STR(x) STORE_FILES_STR_(x)

/* The weight of having a hash, as a C constant (int64_t). */
#define STORE_FILES_HASHED ((long long)STORE_FILES_HASHED_N)

/* Modes that count as an input, as an output (SQL lists, and C tests). */
#define STORE_FILES_IN_MODES "(0, 2)"
#define STORE_FILES_OUT_MODES "(1, 2)"
static inline int store_files_is_input(int mode) { return mode == 0 || mode == 2; }
static inline int store_files_is_output(int mode) { return mode == 1 || mode == 2; }

/* path, sha256, size, error, env of the rows the rule picks for process ?1,
 * by path. */
#define STORE_FILES_SQL(modes)                                                                   \
    "SELECT path, sha256, size, error, env, max((sha256 IS NOT NULL) * " STORE_FILES_STR(               \
        STORE_FILES_HASHED_N) " + COALESCE(time_ns, 0)) FROM files WHERE process = ?1 AND mode IN " \
        modes " GROUP BY path ORDER BY path"

/* The environment (docs/RECORD.md): of the input rows the rule picks, those
 * with env set (the agent's FileAccess.environment) and a sha256 leave the
 * inputs; the leaf keeps their digest, count and packages. */
static inline int store_files_is_env(int env, const void *sha256) { return env && sha256; }

/* The package lists ("deb:<name>=<version> ...") of process ?1's environment
 * rows: their union is the leaf's environment.packages (partial index
 * files_env). */
#define STORE_FILES_ENV_PACKAGES_SQL                                                             \
    "SELECT DISTINCT packages FROM files WHERE process = ?1 AND env = 1 AND packages IS NOT NULL"

#endif
