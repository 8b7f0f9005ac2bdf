/* hook_api.c - the shim's C API for in-process hooks written in other
 * languages (the Python hook, python/tunetrail_hook/, calls it through
 * ctypes). One transport: what a hook reports goes through the same
 * datagrams, keep copies and spools as the C adapters' events.
 *
 * Trials are named by their uuid in lower-case hex (32 chars + NUL), so a
 * caller holds plain strings; NULL names the current trial. Every function
 * returns 0 on success and -1 when the record could not be sent or spooled
 * or an argument is malformed; none prints, and errno is kept.
 *
 * RATIONALE: exported (plugin/libtunetrail.map) from libtunetrail.so itself (not a second library) so
 * a hook finds it with dlsym(RTLD_DEFAULT) exactly when the shim is loaded
 * in the process: no shim, no symbol, and the hook disables itself. */
#include "shim.h"
#include "shim_trial.h"
#include "registry.h"

#include <errno.h>
#include <string.h>

#define TT_API_VERSION 1

static int trial_arg(const char *hex, uint8_t out[TT_UUID_LEN], const uint8_t **trial)
{
    if (!hex) {
        *trial = NULL;
        return 0;
    }
    if (strlen(hex) != 2 * TT_UUID_LEN || wire_unhex(out, hex, TT_UUID_LEN) < 0)
        return -1;
    *trial = out;
    return 0;
}

/* 0 when this image may report: the shim is on, we are not a vfork child
 * sharing our parent's memory, and ProcessEnd is not sent yet (an event after
 * it, from an atexit handler or a finaliser, would follow the image's end). */
static int api_closed(void)
{
    return !shim_cfg.enabled || shim_proc.end_sent || shim_proc_foreign();
}

int tunetrail_api_version(void)
{
    return TT_API_VERSION;
}

/* Opens a trial of framework (e.g. "sklearn"); writes its id into id_hex
 * (33 bytes) and makes it the process's current trial. */
int tunetrail_trial_open(const char *framework, char *id_hex)
{
    uint8_t u[TT_UUID_LEN];
    if (!framework || !id_hex || api_closed())
        return -1;
    int r = shim_trial_open(framework, u);
    int saved = errno;
    wire_hex(id_hex, u, TT_UUID_LEN);
    errno = saved;
    return r;
}

int tunetrail_trial_param(const char *id_hex, const char *key,
                                                                  const char *value, const char *source)
{
    uint8_t u[TT_UUID_LEN];
    const uint8_t *t;
    if (!key || !value || api_closed() || trial_arg(id_hex, u, &t) < 0)
        return -1;
    return shim_trial_param(t, key, value, source);
}

/* step < 0: not stepped; split "train"/"valid"/"test" or NULL; direction
 * "max"/"min" or NULL. */
int tunetrail_trial_metric(const char *id_hex, const char *name,
                                                                   double value, long long step,
                                                                   const char *split, const char *direction)
{
    uint8_t u[TT_UUID_LEN];
    const uint8_t *t;
    if (!name || api_closed() || trial_arg(id_hex, u, &t) < 0)
        return -1;
    return shim_trial_metric(t, name, value, step, split, direction);
}

/* status: 1 ok, 2 failed (the wire's TrialStatus); error may be NULL. */
int tunetrail_trial_end(const char *id_hex, int status,
                                                                const char *error)
{
    uint8_t u[TT_UUID_LEN];
    const uint8_t *t;
    if (!id_hex || api_closed() || trial_arg(id_hex, u, &t) < 0)
        return -1;
    return shim_trial_end(t, status, error);
}

/* A cross-validation's score on each of its k folds (greater is better),
 * when the framework gives no per-example predictions (scikit-learn's
 * cv_results_): Predictions{kind FOLD_SCORE, n = nr_fold = k, value =
 * scores, fold = 0..k-1}. 1 <= k <= 255. */
int tunetrail_trial_fold_scores(const char *id_hex, const double *scores, unsigned k)
{
    uint8_t u[TT_UUID_LEN], fold[255];
    const uint8_t *t;
    if (!scores || k == 0 || k > 255 || api_closed() || trial_arg(id_hex, u, &t) < 0)
        return -1;
    for (unsigned i = 0; i < k; i++)
        fold[i] = (uint8_t)i;
    struct shim_predictions p = {
        .kind = PB_PRED_FOLD_SCORE, .n = k, .nr_fold = k, .value = scores, .fold = fold};
    return shim_trial_predictions(t, &p);
}

#define PARAMS_TEXT_MAX 16384 /* well under the store's 64 KiB per string: a longer note would sink its batch */

struct note_args {
    const char *text;
};

static void params_body(struct pb_w *w, const void *arg)
{
    const struct note_args *n = arg;
    pb_bytes(w, PB_F_NOTE_PROCESS, shim_proc.uuid, TT_UUID_LEN);
    pb_str(w, PB_F_NOTE_LEVEL, "params");
    pb_str(w, PB_F_NOTE_TEXT, n->text);
}

/* Params of this process image rather than of one trial (the Python hook's
 * argparse namespace): json is an array of [key, value, source] strings,
 * at most 16 KiB (split a longer list). Sent as Note{level "params"}; the
 * agent puts them on every trial of the image, those it opens itself
 * (--trial, root, failed) included, in place of its argv params
 * (docs/INTERNALS.md "Params of a process"). A key sent again replaces its
 * value. The shim does not parse json: the agent checks it. */
int tunetrail_process_params(const char *json)
{
    if (!json || !*json || strlen(json) > PARAMS_TEXT_MAX || api_closed())
        return -1;
    struct note_args a = {json};
    struct shim_event ev = {PB_F_EVENT_NOTE, params_body, &a};
    return shim_emit(&ev);
}

/* Marks framework (a row of the adapter table, e.g. "sklearn") as loaded in
 * this process: a process that then fails before any trial of it opens is a
 * failed trial (`failed:framework`), as for a C framework's library. */
int tunetrail_framework_loaded(const char *framework)
{
    if (!framework)
        return -1;
    for (size_t i = 0; i < tt_adapter_count() && i < 32; i++)
        if (!strcmp(tt_adapter_at(i)->name, framework)) {
            __atomic_fetch_or(&shim_proc.fw_loaded, 1u << i, __ATOMIC_RELAXED);
            return 0;
        }
    return -1;
}
