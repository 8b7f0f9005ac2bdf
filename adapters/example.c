/* example.c - an annotated template adapter for a framework "fw". A real
 * adapter is two files, split where this one says "---- hook_fw.c":
 *   adapters/about_fw.c  the row: libraries, printed-line parsers, refit
 *                        keys (registry.h); libc only, always built;
 *   adapters/hook_fw.c   the hooks and their state (hook.h, adapter.h);
 * plus one line listing the hooks in the "adapters:" section of
 * plugin/libtunetrail.map, opened by a comment holding fw's name, and, if
 * hook_fw.c includes fw's header, tt_adapter(fw <header> <package>) in
 * CMakeLists.txt so that it is built only where that header is found.
 * That is all the wiring there is: CMake globs adapters/, the linker
 * gathers the rows (registry.h), the map exports the hooks.
 *
 * This file is compiled into the shim's logic objects and neither exports
 * nor registers anything: its wrapper hooks `tt_example_fit`, a function
 * no library defines, and is hidden; its row and fork reset are not put in
 * the table (the TT_ADAPTER_* lines are commented out). It is built so that
 * it cannot rot.
 *
 * RATIONALE (two files): what tunetrail knows about a framework without its
 * header (which programs print which metrics, which params a refit may
 * differ in) must work where the header is missing, and the collector
 * reads it without linking the shim; the hooks need the header. Nothing
 * central lists adapters, so adding one never edits another's file.
 *
 * RATIONALE (resolve lazily): HOOK_NEXT resolves the next definition at
 * the first call, not at load: most processes never call a framework, and
 * the library may be dlopen()ed after we load.
 *
 * RATIONALE (missing real function): adapter_open sets ENOSYS and the
 * wrapper returns the failure value; never abort (Darshan's exit(1) would
 * kill a training run).
 *
 * RATIONALE (dladdr check): a symbol name is not a library. A program, or
 * another library, may define its own `train`; adapter_open records only
 * if the real function lives in one of the row's libraries (by file name
 * prefix, so any soname version matches), and caches the answer per hook.
 *
 * RATIONALE (open before, end after): the trial and its params are written
 * before the real call, so the trial's start time is the training's and
 * anything reported during training (printed metrics, files written) falls
 * inside the trial; this changes nothing the program sees. The real call
 * gets the caller's arguments unchanged; its result is returned untouched
 * and errno is saved right after it and restored before returning.
 *
 * RATIONALE (depth counter): a framework calls itself (a CV trains each
 * fold through the exported function); a per-thread depth makes only the
 * outermost call a trial.
 *
 * RATIONALE (fork reset): state kept across calls names the process's own
 * trials; a fork child has a new identity and must neither add to nor end
 * its parent's trials. The shim runs every registered reset from its
 * pthread_atfork child handler, so no hook checks its pid.
 *
 * RATIONALE (no I/O at call time): params and metrics are appended to the
 * shim's batch (shim_emit_later) and leave with the next sent event (the
 * TrialEnd), so a metric costs ~100 ns, not a system call.
 */

/* ---- about_fw.c --------------------------------------------------------- */
#include "registry.h"

/* "loss: 0.25" as the framework's own trainer prints it. */
static void example_line(struct tt_lines *l, const char *line, const char *end)
{
    tt_lines_prefixed(l, line, end, "loss: ", "train_loss", "train", "min");
}

/* RATIONALE: a prefix, matches libexample.so.1. */
static const char *const libraries[] = {"libexample.so", NULL};
/* exact_in_hooks = 1: the hooks record train_loss exactly, so the printed
 * copy stands down in a process where they opened a trial. */
static const struct tt_adapter_exe exes[] = {{"example-train", example_line, 1}, {NULL, NULL, 0}};
/* A refit (the chosen configuration trained again) may differ in these. */
static const char *const refit_ignore[] = {"model_file", NULL};
/* Roles in the record: keys naming a file, keys describing the data (not
 * choices), and the trainer's options that restate a field (`-lr 0.1` =
 * example.learning_rate: one choice, not two). */
static const char *const path_fields[] = {"model_file", NULL};
static const char *const info_fields[] = {"num_rows", NULL};
static const struct tt_adapter_flag flags[] = {{"example-train", "lr", "learning_rate"},
                                               {NULL, NULL, NULL}};

/* In about_fw.c: global (the hooks refer to it), and registered. */
static const struct tt_adapter tt_adapter_example = {"example", libraries,   exes, refit_ignore,
                                                     path_fields, info_fields, flags};
/* TT_ADAPTER_REGISTER(tt_adapter_example); */

/* ---- hook_fw.c ----------------------------------------------------------- */
#include "adapter.h" /* hook.h, registry.h, the shim's trial API */

#include <errno.h>

#define NS "example" /* param keys: example.<field>; the row's name */

struct example_params { /* stands for the framework's own struct */
    double learning_rate;
    int kind;           /* enum: recorded by name */
};
static const char *const kinds[] = {"SGD", "ADAM"};

static __thread int depth __attribute__((tls_model("initial-exec")));
static struct adapter_last last = ADAPTER_LAST_INIT; /* for a later save-model call */

__attribute__((unused)) /* here only: a real adapter registers it */
static void fork_child(void)
{
    adapter_last_reset(&last);
}
/* TT_ADAPTER_FORK(fork_child); */

double tt_example_fit(const struct example_params *p); /* a real adapter includes the framework header */

/* In a real adapter: no attribute (plugin/libtunetrail.map exports it), and
 * the name of the framework's function. */
__attribute__((visibility("hidden"))) double tt_example_fit(const struct example_params *p)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, tt_example_fit);
    int how = adapter_open(&site, &tt_adapter_example, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return -1; /* errno is ENOSYS */
    if (how == ADAPTER_PASS)
        return real(p); /* nothing recorded */
    uint8_t t[TT_UUID_LEN];
    int rec = shim_trial_open(NS, t) == 0;
    if (rec) {
        adapter_last_set(&last, t);
        if (p) {
            char b[16];
            adapter_param_double(t, NS, "learning_rate", p->learning_rate);
            adapter_param_str(t, NS, "kind", adapter_enum_name(kinds, 2, p->kind, b, sizeof b));
        }
    }
    adapter_enter(&depth);
    double loss = real(p);
    adapter_leave(&depth);
    if (rec) {
        int saved = errno;
        shim_trial_metric(t, "train_loss", loss, -1, "train", "min");
        shim_trial_end(t, PB_TRIAL_OK, NULL);
        errno = saved;
    }
    return loss;
}
