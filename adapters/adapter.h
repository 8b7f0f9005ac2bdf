/* adapter.h - the adapter contract: how a framework's calls become trials.
 *
 * A framework "fw" is:
 *   adapters/about_fw.c  its row in the table of adapters (registry.h): the
 *                        libraries its hooks record for, the lines its
 *                        programs print (parsers), its refit keys. Always
 *                        built; libc only;
 *   adapters/hook_fw.c   its hooks (hook.h: exported by the map, resolved
 *                        with HOOK_NEXT) and their state, with a fork reset
 *                        registered by TT_ADAPTER_FORK. If it includes fw's
 *                        header, one tt_adapter() line in CMakeLists.txt
 *                        builds it only where that header is found;
 *   one line in the "adapters:" section of plugin/libtunetrail.map, opened
 *   by a comment holding fw's name, listing the hooks (the map is the one
 *   list of exported symbols);
 *   its test under tests/ and its section in docs/ADAPTERS.md.
 * Nothing else names a framework. adapters/example.c is an annotated
 * template.
 *
 * The opening of every wrapper is adapter_open(): the real function is
 * missing (errno ENOSYS: return the failure value), or the call passes
 * through (call the real function, record nothing), or it is recorded:
 *   open the trial and write its params (no effect on the program), call
 *   the real function with the caller's arguments, save errno, write the
 *   metrics and end the trial, restore errno, return the result untouched.
 * A call passes through when the shim is off, the thread is inside the
 * shim, the framework is calling itself (the folds of a cross-validation:
 * each adapter keeps a thread-local depth, adapter_enter / adapter_leave),
 * or dladdr says the real function is not in one of the row's libraries (a
 * program's own `train` is not liblinear's).
 *
 * State a hook keeps across calls (the last trial, live networks) belongs
 * to one process: the fork reset forgets it in a fork child, whose trials
 * are its own (the parent's stay the parent's).
 *
 * Keys: "<framework>.<field>" as in the framework's own struct, enums by
 * their C names; metrics carry split and direction when the framework makes
 * them clear. docs/ADAPTERS.md lists every key.
 *
 * Error convention: the helpers return 0 / -1 like shim_trial.h, never
 * allocate, never print, and keep errno (adapter_open sets ENOSYS on
 * purpose, for the wrapper to return).
 */
#ifndef TT_ADAPTER_H
#define TT_ADAPTER_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hook.h"
#include "registry.h"
#include "shim.h"
#include "shim_trial.h"

/* One wrapper's state, a static of the wrapper: its real function and the
 * cached answer to "is the real one in the row's libraries". */
struct adapter_site {
    void *next; /* HOOK_NEXT's slot */
    int owned;  /* 0: not checked yet, k > 0: the k-th library matched, -1: none */
};

/* 1 + the index in a->libraries of the library `real` lives in (by file
 * name prefix, so any soname version matches), if the call is to be
 * recorded: the shim is enabled and this thread is not inside the shim;
 * else 0. The dladdr answer is cached in *site (the real function never
 * moves). */
SHIM_HIDDEN int adapter_active(struct adapter_site *site, void *real, const struct tt_adapter *a);

/* What adapter_open says a wrapper does with this call. */
enum {
    ADAPTER_MISSING = -1, /* no real function: errno is ENOSYS; return the failure value */
    ADAPTER_PASS = 0      /* call the real function, return its result, record nothing */
    /* k > 0: record; the real function is in a->libraries[k - 1] */
};

/* The wrapper opening, written once: `real` (from HOOK_NEXT), the row of
 * the wrapper's framework, and `pass`: nonzero to pass through whatever
 * the library - the wrapper's depth (the framework calling itself), or a
 * reason of its own (arguments it cannot record) - 0 for a wrapper that
 * never nests. Inline: a passed-through call pays two tests. */
static inline int adapter_open(struct adapter_site *site, const struct tt_adapter *a, void *real,
                               int pass)
{
    if (__builtin_expect(!real, 0)) {
        errno = ENOSYS;
        return ADAPTER_MISSING;
    }
    if (pass)
        return ADAPTER_PASS;
    return adapter_active(site, real, a);
}

/* 1 if the object containing addr has a file name (basename) starting with
 * lib_prefix; 0 otherwise (also if dladdr knows nothing). */
SHIM_HIDDEN int adapter_lib_matches(const void *addr, const char *lib_prefix);

/* Thread-local nesting of recorded calls per adapter: enter returns the depth
 * before the call (0: outermost), leave undoes it. */
#define adapter_enter(depth) ((*(depth))++)
#define adapter_leave(depth) ((*(depth))--)

/* Param writers: "<prefix>.<field>" = value as text. Doubles use the
 * shortest text that reads back to the same double (0.03125, 8, 1e-05).
 * trial NULL = the current trial. */
SHIM_HIDDEN int adapter_param_str(const uint8_t *trial, const char *prefix, const char *field,
                                  const char *value);
SHIM_HIDDEN int adapter_param_int(const uint8_t *trial, const char *prefix, const char *field,
                                  long long value);
SHIM_HIDDEN int adapter_param_double(const uint8_t *trial, const char *prefix, const char *field,
                                     double value);
/* A list: "[a, b, ...]" of n ints (ints != NULL) or doubles; truncated with
 * "...]" beyond ADAPTER_VALUE_MAX bytes. */
#define ADAPTER_VALUE_MAX 1024
SHIM_HIDDEN int adapter_param_list(const uint8_t *trial, const char *prefix, const char *field,
                                   const int *ints, const double *doubles, int n);

/* Name of an enum value from a table indexed by value, or its number as text
 * in buf if out of range/unnamed. */
SHIM_HIDDEN const char *adapter_enum_name(const char *const *names, int count, int value,
                                          char *buf, size_t cap);

/* Shortest round-tripping text of v into buf[cap] (cap >= 32). */
SHIM_HIDDEN void adapter_fmt_double(double v, char *buf, size_t cap);

/* Cross-validation scores as svm-train / liblinear-train print them, from
 * predictions and labels of n instances:
 *   accuracy: 100 * (#target[i] == y[i]) / n (percent)
 *   mse: mean of (target - y)^2; scc: squared correlation coefficient.
 * They return 0, or -1 if n <= 0. */
SHIM_HIDDEN int adapter_cv_accuracy(const double *target, const double *y, int n, double *acc);
SHIM_HIDDEN int adapter_cv_regression(const double *target, const double *y, int n, double *mse,
                                      double *scc);

/* Records a model file written by a framework on `trial`: Param
 * "<prefix>.model_file" = the absolute path (relative paths resolved against
 * the cwd). The FileAccess of the write itself is recorded by the file hooks
 * (the trial's outputs); this param names which output is the model. */
SHIM_HIDDEN int adapter_model_file(const uint8_t *trial, const char *prefix, const char *path);

/* The trial a framework opened last in this process: its save-model call
 * comes after the training call that opened (and ended) that trial. */
struct adapter_last {
    pthread_mutex_t lock;
    int have;
    uint8_t trial[TT_UUID_LEN];
};
#define ADAPTER_LAST_INIT {PTHREAD_MUTEX_INITIALIZER, 0, {0}}
SHIM_HIDDEN void adapter_last_set(struct adapter_last *l, const uint8_t trial[TT_UUID_LEN]);

/* Fork child: no last trial (the parent's is not ours); the lock is new. */
SHIM_HIDDEN void adapter_last_reset(struct adapter_last *l);

/* adapter_model_file on the last trial, if there is one; keeps errno. */
SHIM_HIDDEN void adapter_last_model_file(struct adapter_last *l, const char *prefix,
                                         const char *path);

#endif
