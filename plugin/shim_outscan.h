/* shim_outscan.h - metrics printed by a program: its stdout/stderr text is
 * assembled into lines and each line is run through matchers (built-in ones
 * tied to the exe's basename, and the user's `tunetrail run --metric
 * NAME=REGEX` patterns, passed in TUNETRAIL_METRICS). The built-in ones are
 * the adapters' (the `exes` of their rows in adapters/registry.h). A match becomes a
 * Metric event (on the current adapter trial if one is open, else without a
 * trial: the store attaches it to the trial of its process).
 *
 * The interposers (plugin/hook_stdio.c) hand over text only when
 * shim_outscan_on is not SHIM_OUTSCAN_OFF, so a process that is not scanned
 * pays one branch per call.
 *
 * Error convention: setup returns 0 / -1 (with a message in err); feeding
 * never fails (text that cannot be kept is dropped, never the program's
 * output, which the interposers have already written). Nothing here
 * allocates after setup (regexec aside: glibc's matcher allocates its
 * state, so only user patterns cost that) and nothing prints.
 */
#ifndef TT_SHIM_OUTSCAN_H
#define TT_SHIM_OUTSCAN_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "tt_env.h"

#define SHIM_OUTSCAN_LINE_MAX 1024 /* longer lines are not matched (their number may be cut) */
#define SHIM_OUTSCAN_FEED_MAX (64 * 1024) /* bytes scanned per call; a bigger chunk is skipped */
#define SHIM_OUTSCAN_FMT_MAX 2048  /* printf-family text formatted for scanning, per call */
#define SHIM_OUTSCAN_PAT_MAX TT_ENV_METRICS_COUNT_MAX /* user patterns */
#define SHIM_OUTSCAN_SPEC_MAX 1024 /* TUNETRAIL_METRICS value (TT_ENV_METRICS_MAX) */

enum { SHIM_OUTSCAN_STDOUT, SHIM_OUTSCAN_STDERR, SHIM_OUTSCAN_NSTREAMS };

/* One metric found in a line. Strings are static or owned by the scanner. */
struct shim_outscan_metric {
    const char *name;
    double value;
    int64_t step;          /* -1: not stepped */
    const char *split;     /* "train", "valid", "test" or NULL */
    const char *direction; /* "max", "min" or NULL */
};
typedef void (*shim_outscan_emit_fn)(const struct shim_outscan_metric *m, void *arg);

struct shim_outscan_line {
    size_t len;
    int overflow; /* the line outgrew the buffer: not matched */
    char buf[SHIM_OUTSCAN_LINE_MAX];
};

/* A scanner: its matchers, line buffers and where metrics go. The process
 * has one (in shim_outscan.c); unit tests make their own. Not locked: the
 * caller serialises (shim_outscan_text does for the process's scanner). */
struct shim_outscan {
    const struct tt_adapter_exe *builtin; /* the exe's adapter parser, NULL = none */
    int npat;
    struct {
        const char *name;    /* points into spec */
        regex_t re;
        int64_t count;       /* matches so far = the next step */
    } pat[SHIM_OUTSCAN_PAT_MAX];
    struct tt_lines lines;   /* the built-in parser's view of this scanner */
    shim_outscan_emit_fn emit;
    void *emit_arg;
    struct shim_outscan_line line[SHIM_OUTSCAN_NSTREAMS];
    char spec[SHIM_OUTSCAN_SPEC_MAX];
};

/* 1 if an exe basename has a built-in parser (an adapter row's), else 0. */
int shim_outscan_builtin_for(const char *exe_base);

/* Sets s up for an exe basename (may be NULL) and a user spec ("NAME=REGEX"
 * entries separated by '\n'; NULL or "" = none), metrics going to emit(arg).
 * Regexes are POSIX extended. Returns 1 if s scans anything, 0 if not, -1 on
 * a bad spec (err says why; s then scans built-ins only). s is zeroed first;
 * release with shim_outscan_free. */
int shim_outscan_setup(struct shim_outscan *s, const char *exe_base, const char *spec,
                       shim_outscan_emit_fn emit, void *arg, char *err, size_t errlen);
void shim_outscan_free(struct shim_outscan *s);

/* Appends n bytes written to `stream` (SHIM_OUTSCAN_STD*) and matches every
 * line they complete ('\n' or '\r' ends a line). At most
 * SHIM_OUTSCAN_FEED_MAX bytes are looked at per call: in a bigger chunk only
 * the line it ends with (if short) is kept for later. */
void shim_outscan_feed(struct shim_outscan *s, int stream, const char *p, size_t n);

/* Marks the open line of `stream` as cut (text was lost, e.g. a printf
 * longer than SHIM_OUTSCAN_FMT_MAX): it will not be matched. */
void shim_outscan_cut(struct shim_outscan *s, int stream);

/* Runs the matchers on one whole line (no terminator). */
void shim_outscan_match(struct shim_outscan *s, const char *line, size_t len);

/* ---- the process's scanner, for the interposers -------------------------- */

enum { SHIM_OUTSCAN_UNKNOWN = 0, SHIM_OUTSCAN_OFF = 1, SHIM_OUTSCAN_ACTIVE = 2 };

/* SHIM_OUTSCAN_*: read (relaxed) on every hooked call. */
extern int shim_outscan_on __attribute__((visibility("hidden")));

/* Decides (once the shim's configuration is loaded) whether this process is
 * scanned; returns the new shim_outscan_on. Thread-safe. */
__attribute__((visibility("hidden"))) int shim_outscan_decide(void);

/* Hands text the program wrote to stream to the process's scanner, which
 * emits Metric events. Locked; passes through (does nothing) when re-entered
 * from the shim's own code or in a vfork child. Keeps errno. */
__attribute__((visibility("hidden"))) void shim_outscan_text(int stream, const char *p, size_t n,
                                                             int cut);

#endif
