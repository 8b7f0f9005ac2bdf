/* adapter.h - the adapter contract: how a framework's calls become trials.
 *
 * An adapter is one file, adapters/hook_<framework>.c, holding the exported
 * wrappers of that framework's functions, plus one line listing them in the
 * "adapters:" section of plugin/libtunetrail.map, opened by a comment
 * holding the framework's name, as the libsvm line is (the map alone
 * decides what the shim exports; wrappers need no visibility attribute).
 * If the file includes the framework's header, one tt_adapter() line in
 * CMakeLists.txt names it: the adapter is then built only when the header
 * is found. adapters/example.c is an annotated template.
 *
 * The shape of every wrapper (Darshan's, minus its exit on a missing symbol):
 *   1. resolve the real function lazily: ADAPTER_REAL(name, type);
 *   2. decide whether to record: adapter_active(&site, real, lib) - the shim
 *      is enabled, we are not inside our own code, and dladdr says `real`
 *      lives in the expected library (a program's own `train` is not
 *      liblinear's); otherwise call the real function and return, recording
 *      nothing;
 *   3. open the trial and write its params (no effect on the program), call
 *      the real function with the caller's arguments, save errno, write the
 *      metrics and end the trial, restore errno, return the result untouched;
 *   4. a missing real symbol: return the function's failure value with errno
 *      ENOSYS (void functions just return); never abort.
 * Calls the framework makes to itself while a trial is being recorded (the
 * folds of a cross-validation) are not trials: each adapter keeps a
 * thread-local depth (adapter_enter / adapter_leave).
 *
 * Keys: "<framework>.<field>" as in the framework's own struct, enums by
 * their C names; metrics carry split and direction when the framework makes
 * them clear. docs/ADAPTERS.md lists every key.
 *
 * Error convention: the helpers return 0 / -1 like shim_trial.h, never
 * allocate, never print, and keep errno.
 */
#ifndef TT_ADAPTER_H
#define TT_ADAPTER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"
#include "shim_trial.h"

/* `real` = the next definition of `name` cast to `type`, NULL if missing. */
#define ADAPTER_REAL(name, type)   \
    static void *p_real_##name;    \
    __typeof__(type) real = (__typeof__(type))shim_real(&p_real_##name, #name)

/* One hooked function's cached answer to "is the real one in our library". */
struct adapter_site {
    int owned; /* 0: not checked yet, k > 0: the k-th library name matched, -1: none */
};

/* 1 if a call to `real` should be recorded: the shim is enabled, this thread
 * is not inside the shim, real is non-NULL and lives in a shared object
 * whose file name starts with lib_prefix (e.g. "libsvm.so"). The dladdr
 * answer is cached in *site (the real function never moves). */
SHIM_HIDDEN int adapter_active(struct adapter_site *site, void *real, const char *lib_prefix);

/* The same for a framework shipped under several library names (FANN's
 * float and double builds): returns 1 + the index in lib_prefixes[n] of the
 * name that matched, or 0 if the call is not to be recorded. */
SHIM_HIDDEN int adapter_active_any(struct adapter_site *site, void *real,
                                   const char *const *lib_prefixes, int n);

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

/* adapter_model_file on the last trial, if there is one; keeps errno. */
SHIM_HIDDEN void adapter_last_model_file(struct adapter_last *l, const char *prefix,
                                         const char *path);

#endif
