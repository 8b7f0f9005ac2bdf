/* example.c - an annotated template adapter: copy it to
 * adapters/hook_<framework>.c, rename, and add one line listing its
 * exported functions to the "adapters:" section of plugin/libtunetrail.map,
 * opened by the framework's name in a comment. If it includes the
 * framework's header, add tt_adapter(<framework> <header> <package>) to
 * CMakeLists.txt, so that it is built only where that header is found.
 * That is all the wiring there is (CMake globs adapters/).
 *
 * This file is compiled into the shim's logic objects but exports nothing:
 * its wrapper hooks `tt_example_fit`, a function no library defines, and is
 * hidden unless the file is renamed hook_*.c and listed in the map. It is
 * built so that it cannot rot.
 *
 * RATIONALE (one file per framework): hooks, key names and metric logic of
 * a framework live together; the contract in adapter.h is the only thing
 * they share. Nothing central lists adapters, so adding one never edits
 * another's file.
 *
 * RATIONALE (resolve lazily): ADAPTER_REAL resolves the next definition at
 * the first call, not at load: most processes never call a framework, and
 * the library may be dlopen()ed after we load.
 *
 * RATIONALE (missing real function): return the failure value with ENOSYS,
 * never abort (Darshan's exit(1) would kill a training run).
 *
 * RATIONALE (dladdr check): a symbol name is not a library. A program, or
 * another library, may define its own `train`; adapter_active() records only
 * if the real function lives in the expected shared object (by file name
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
 * RATIONALE (no I/O at call time): params and metrics are appended to the
 * shim's batch (shim_emit_later) and leave with the next sent event (the
 * TrialEnd), so a metric costs ~100 ns, not a system call.
 */
#include "adapter.h"

#include <errno.h>

#define LIB "libexample.so" /* RATIONALE: a prefix, matches libexample.so.1 */
#define NS "example"        /* param keys: example.<field> */

struct example_params {     /* stands for the framework's own struct */
    double learning_rate;
    int kind;               /* enum: recorded by name */
};
static const char *const kinds[] = {"SGD", "ADAM"};

static __thread int depth __attribute__((tls_model("initial-exec")));

double tt_example_fit(const struct example_params *p); /* a real adapter includes the framework header */

/* In a real adapter: no attribute (plugin/libtunetrail.map exports it), and
 * the name of the framework's function. */
__attribute__((visibility("hidden"))) double tt_example_fit(const struct example_params *p)
{
    static struct adapter_site site;
    ADAPTER_REAL(tt_example_fit, double (*)(const struct example_params *));
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (depth || !adapter_active(&site, (void *)real, LIB))
        return real(p); /* pass through: nothing recorded */
    uint8_t t[TT_UUID_LEN];
    int rec = shim_trial_open(NS, t) == 0;
    if (rec && p) {
        char b[16];
        adapter_param_double(t, NS, "learning_rate", p->learning_rate);
        adapter_param_str(t, NS, "kind", adapter_enum_name(kinds, 2, p->kind, b, sizeof b));
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
