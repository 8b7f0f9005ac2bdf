/* registry.h - the table of adapters: what tunetrail knows about each
 * framework, in one row per framework, for the parts that are not its hooks.
 *
 *   row field      who reads it
 *   name           the hooks (trial framework, param key prefix), the record
 *   libraries      the hooks' dladdr check (adapter_open in adapter.h)
 *   exes           the output scanner (plugin/shim_outscan.c): printed-line
 *                  parsers by program basename
 *   refit_ignore   the record (collector/record_stats.c): which params a
 *                  refit may differ in from its search trials
 * and, registered by the hooks file itself, the fork reset the shim calls in
 * a fork child (tt_adapters_fork_child).
 *
 * A framework "fw" has two files:
 *   adapters/about_fw.c  its row: TT_ADAPTER_REGISTER(row). Plain C and
 *                        libc only (no shim, no framework header), so it is
 *                        always built, the collector can link it without the
 *                        shim, and the scanner reads fw's programs' printed
 *                        lines even where fw's header is missing;
 *   adapters/hook_fw.c   its hooks, built only where CMake finds fw's header
 *                        (tt_adapter() in CMakeLists.txt); registers its fork
 *                        reset with TT_ADAPTER_FORK(fn).
 *
 * RATIONALE (linker sections, no central list): each row is a pointer put
 * in the ELF section "tt_adapters" (fork resets: "tt_adapter_forks") by the
 * file that defines it; the linker gathers them and defines
 * __start_/__stop_ symbols around each section. So adding a framework edits
 * no shared file, a row exists exactly when its object is linked (an
 * adapter whose header is missing registers no fork reset and references
 * nothing), and nothing runs at load: no constructor, no list to build.
 * Pointers, not the rows themselves, go into the sections: the compiler may
 * over-align a struct, which would leave gaps in an array of them.
 * The objects must be linked as objects (the shim, an OBJECT library):
 * from a static archive the linker would pull none of them, since nothing
 * refers to them by name. A CMake-generated list would work too, but would
 * be one more generated file to keep in step with the glob.
 *
 * Error convention: lookups return NULL / 0 when nothing matches; nothing
 * here allocates, prints or touches errno.
 */
#ifndef TT_REGISTRY_H
#define TT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

/* ---- printed-line parsers ------------------------------------------------ */

/* A parser's view of the scanner: where metrics go, and one counter the
 * parser may use for steps (zero when the scanner is set up). */
struct tt_lines {
    void (*metric)(struct tt_lines *l, const char *name, double value, int64_t step,
                   const char *split, const char *direction);
    void *arg;      /* the scanner's */
    int64_t count;  /* the parser's own (liblinear: per-C lines seen) */
};

/* Parses one whole line [line, end) (no terminator); reports any metric
 * it finds through l->metric. */
typedef void (*tt_lines_fn)(struct tt_lines *l, const char *line, const char *end);

/* A program whose printed lines an adapter reads. */
struct tt_adapter_exe {
    const char *exe;        /* basename of /proc/self/exe */
    tt_lines_fn parse;
    /* 1: the adapter's hooks record the same metrics exactly; the parser then
     * stands down in a process where an adapter trial was opened, instead of
     * adding a rounded copy. */
    int exact_in_hooks;
};

/* Helpers for parsers. Each returns 1 and moves *p (or sets *rest) past what
 * it read, or returns 0. */
int tt_lines_prefix(const char *l, const char *end, const char *pre, const char **rest);
int tt_lines_number(const char **p, const char *end, double *v);   /* leading blanks skipped (strtod) */
int tt_lines_integer(const char **p, const char *end, int64_t *v); /* non-negative decimal */
/* "<pre> <number>..." -> metric name (step -1); 1 if the prefix matched. */
int tt_lines_prefixed(struct tt_lines *l, const char *line, const char *end, const char *pre,
                      const char *name, const char *split, const char *direction);

/* The lines svm-predict and liblinear-predict both print:
 * "Accuracy = 86.6667% (234/270) (classification)", "Mean squared error =
 * X (regression)", "Squared correlation coefficient = X": accuracy, mse,
 * scc, split test. */
void tt_lines_predict(struct tt_lines *l, const char *line, const char *end);

/* ---- the row -------------------------------------------------------------- */

/* An argv flag of one of the adapter's programs that sets one of its own
 * fields: svm-train's `-c 8` is libsvm.C. The trial then carries both (the
 * argv param `c` and `libsvm.C`); the record keeps `c` as provenance only
 * (collector/record/roles.h). flag is the argv param's key (dashes gone);
 * a trailing '*' matches any key it prefixes (`w*`: -w1, -w-1). */
struct tt_adapter_flag {
    const char *exe, *flag, *field;
};

struct tt_adapter {
    const char *name;                  /* "libsvm": trials' framework, params' "libsvm." prefix */
    const char *const *libraries;      /* file-name prefixes the hooks record for, NULL-ended;
                                        * the index of the match is the hooks' to use (FANN) */
    const struct tt_adapter_exe *exes; /* {NULL}-ended; NULL: none */
    const char *const *refit_ignore;   /* fields (after the key's last '.') a refit may differ
                                        * in from its search trials, NULL-ended */
    /* Roles of the adapter's own keys (docs/RECORD.md, "Roles"); fields are
     * the key after "<name>.", NULL-ended; NULL: none. */
    const char *const *path_fields;    /* name a file: model_file, cfg_file */
    const char *const *info_fields;    /* describe the data, not a choice: l, n_features */
    const struct tt_adapter_flag *flags; /* {NULL}-ended; NULL: none */
};

/* A fork reset: forgets what the parent's trials left in the adapter's
 * state (open trials, the last trial, tables of live objects). Called in
 * the child of fork() only, where no other thread exists: no locks taken;
 * locks the adapter holds are re-initialised. */
typedef void (*tt_adapter_fork_fn)(void);

#define TT_ADAPTER_SECTION_ATTR(sec) __attribute__((used, section(sec), aligned(sizeof(void *))))
/* Registers a row (a `static const struct tt_adapter`) at file scope. */
#define TT_ADAPTER_REGISTER(row)                                                             \
    static const struct tt_adapter *const tt_adapter_reg_##row TT_ADAPTER_SECTION_ATTR(      \
        "tt_adapters") = &(row)
/* Registers a fork reset (a static function) at file scope. */
#define TT_ADAPTER_FORK(fn)                                                                  \
    static const tt_adapter_fork_fn tt_adapter_fork_##fn TT_ADAPTER_SECTION_ATTR(            \
        "tt_adapter_forks") = (fn)

/* The fields a refit of a framework not in the table may differ in (a
 * newer shim's framework, a test's): model_file, which every adapter writes
 * (adapter_model_file), and nr_fold, the cross-validation setting. */
extern const char *const tt_refit_ignore_default[];

/* Rows registered in this program (or library), in link order. */
size_t tt_adapter_count(void);
const struct tt_adapter *tt_adapter_at(size_t i);

/* The row named name, or NULL. */
const struct tt_adapter *tt_adapter_find(const char *name);

/* The parser for a program basename, or NULL (exe NULL: NULL). */
const struct tt_adapter_exe *tt_adapter_exe_find(const char *exe);

/* 1 if a refit of framework a (NULL: not in the table) may differ from its
 * search trials in param key (e.g. "libsvm.nr_fold"): its last field is in
 * a->refit_ignore (tt_refit_ignore_default for NULL). */
int tt_adapter_refit_ignored(const struct tt_adapter *a, const char *key);

/* 1 if key is "<a->name>.<field>" with field in list (NULL-ended). */
int tt_adapter_field_in(const struct tt_adapter *a, const char *const *list, const char *key);

/* The field ("C") that argv param flag ("c") of program exe (a path or a
 * basename) restates in a's trials, or NULL. */
const char *tt_adapter_restated(const struct tt_adapter *a, const char *exe, const char *flag);

/* Runs every registered fork reset (the shim's pthread_atfork child
 * handler). Returns how many ran. */
int tt_adapters_fork_child(void);

#endif
