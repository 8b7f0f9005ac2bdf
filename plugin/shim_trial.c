/* shim_trial.c - trials opened inside a process; see shim_trial.h.
 *
 * RATIONALE: the current trial is per process image, not per thread: a
 * framework may train on one thread and report from another (liblinear's
 * print callback, a scanner on stdout). A fork child starts with no current
 * trial and index 0, because its identity (shim_proc.uuid) is new and the
 * parent still owns the trial it forked inside of.
 *
 * RATIONALE: metrics come in numbers (one per epoch or step), so they go into
 * the batch without a send (shim_emit_later, ~100 ns instead of a ~2 us
 * send); the next event sent by the process (TrialEnd, a file, ProcessEnd at
 * exit or exec) carries them out. A SIGKILLed process loses the metrics
 * buffered since its last sent event; its trial is `killed` anyway. */
#include "shim.h"
#include "shim_trial.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t tr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    pid_t pid;                   /* shim_proc.pid the fields below belong to */
    int have_cur;
    uint8_t cur[TT_UUID_LEN];
    uint64_t index;              /* trials opened by this image so far */
} tr;

/* Lock held: forgets a forked parent's state. */
static void own_locked(void)
{
    if (tr.pid != shim_proc.pid) {
        tr.pid = shim_proc.pid;
        tr.have_cur = 0;
        tr.index = 0;
    }
}

struct start_args {
    const uint8_t *trial;
    const char *framework;
    uint64_t index;
};

static void start_body(struct pb_w *w, const void *arg)
{
    const struct start_args *a = arg;
    pb_bytes(w, PB_F_TRIAL_START_TRIAL, a->trial, TT_UUID_LEN);
    pb_bytes(w, PB_F_TRIAL_START_PROCESS, shim_proc.uuid, TT_UUID_LEN);
    pb_str(w, PB_F_TRIAL_START_FRAMEWORK, a->framework);
    pb_str(w, PB_F_TRIAL_START_OPENED_BY, "adapter");
    pb_u64(w, PB_F_TRIAL_START_INDEX, a->index);
}

int shim_trial_open(const char *framework, uint8_t uuid_out[TT_UUID_LEN])
{
    int saved = errno;
    if (wire_uuid_new(uuid_out) < 0) {
        errno = saved;
        return -1;
    }
    pthread_mutex_lock(&tr_lock);
    own_locked();
    memcpy(tr.cur, uuid_out, TT_UUID_LEN);
    tr.have_cur = 1;
    struct start_args a = {uuid_out, framework, tr.index++};
    pthread_mutex_unlock(&tr_lock);
    struct shim_event ev = {PB_F_EVENT_TRIAL_START, start_body, &a};
    int r = shim_emit(&ev);
    errno = saved;
    return r;
}

/* Resolves trial (NULL: the current one) into buf; returns the uuid to
 * write, or NULL if there is none. */
static const uint8_t *resolve(const uint8_t *trial, uint8_t buf[TT_UUID_LEN])
{
    if (trial)
        return trial;
    return shim_trial_current(buf) ? buf : NULL;
}

struct param_args {
    const uint8_t *trial;
    const char *key, *value, *source;
};

static void param_body(struct pb_w *w, const void *arg)
{
    const struct param_args *a = arg;
    if (a->trial)
        pb_bytes(w, PB_F_PARAM_TRIAL, a->trial, TT_UUID_LEN);
    pb_str(w, PB_F_PARAM_KEY, a->key);
    pb_str(w, PB_F_PARAM_VALUE, a->value);
    pb_str(w, PB_F_PARAM_SOURCE, a->source ? a->source : "adapter");
}

int shim_trial_param(const uint8_t *trial, const char *key, const char *value, const char *source)
{
    uint8_t buf[TT_UUID_LEN];
    struct param_args a = {resolve(trial, buf), key, value, source};
    struct shim_event ev = {PB_F_EVENT_PARAM, param_body, &a};
    return shim_emit_later(&ev);
}

struct metric_args {
    const uint8_t *trial;
    const char *name;
    double value;
    int64_t step;
    const char *split, *direction;
};

static void metric_body(struct pb_w *w, const void *arg)
{
    const struct metric_args *a = arg;
    if (a->trial)
        pb_bytes(w, PB_F_METRIC_TRIAL, a->trial, TT_UUID_LEN);
    pb_str(w, PB_F_METRIC_NAME, a->name);
    pb_double(w, PB_F_METRIC_VALUE, a->value);
    if (a->step >= 0)
        pb_i64(w, PB_F_METRIC_STEP, a->step);
    pb_str(w, PB_F_METRIC_SPLIT, a->split);
    pb_str(w, PB_F_METRIC_DIRECTION, a->direction);
}

int shim_trial_metric(const uint8_t *trial, const char *name, double value, int64_t step,
                      const char *split, const char *direction)
{
    uint8_t buf[TT_UUID_LEN];
    struct metric_args a = {resolve(trial, buf), name, value, step, split, direction};
    struct shim_event ev = {PB_F_EVENT_METRIC, metric_body, &a};
    return shim_emit_later(&ev);
}

/* RATIONALE: chunks keep each event well under the shim's 16 KiB of kept
 * copies and its 64 KiB datagram; CORRECT chunks start on a byte of the
 * bit vector. */
#define PRED_CHUNK_CORRECT 4096
#define PRED_CHUNK_VALUE 512

struct pred_args {
    const uint8_t *trial;
    const struct shim_predictions *p;
    uint32_t off, count;
};

static void pred_body(struct pb_w *w, const void *arg)
{
    const struct pred_args *a = arg;
    const struct shim_predictions *p = a->p;
    if (a->trial)
        pb_bytes(w, PB_F_PREDICTIONS_TRIAL, a->trial, TT_UUID_LEN);
    pb_enum(w, PB_F_PREDICTIONS_KIND, p->kind);
    pb_u64(w, PB_F_PREDICTIONS_N, p->n);
    pb_u64(w, PB_F_PREDICTIONS_OFFSET, a->off);
    pb_u64(w, PB_F_PREDICTIONS_COUNT, a->count);
    if (p->kind == PB_PRED_CORRECT) {
        pb_bytes(w, PB_F_PREDICTIONS_CORRECT, p->correct + a->off / 8, (a->count + 7) / 8);
    } else {
        pb_doubles(w, PB_F_PREDICTIONS_VALUE, p->value + a->off, a->count);
        if (p->kind == PB_PRED_VALUE)
            pb_doubles(w, PB_F_PREDICTIONS_LABEL, p->label + a->off, a->count);
    }
    if (p->fold)
        pb_bytes(w, PB_F_PREDICTIONS_FOLD, p->fold + a->off, a->count);
    pb_u64(w, PB_F_PREDICTIONS_NR_FOLD, p->nr_fold);
    if (p->kind != PB_PRED_FOLD_SCORE)
        pb_fixed64(w, PB_F_PREDICTIONS_LABELS_FNV, p->labels_fnv);
}

int shim_trial_predictions(const uint8_t *trial, const struct shim_predictions *p)
{
    if (!p || !p->n ||
        (p->kind == PB_PRED_CORRECT ? !p->correct
                                    : !p->value || (p->kind == PB_PRED_VALUE && !p->label)))
        return -1;
    uint8_t buf[TT_UUID_LEN];
    struct pred_args a = {resolve(trial, buf), p, 0, 0};
    uint32_t chunk = p->kind == PB_PRED_CORRECT ? PRED_CHUNK_CORRECT : PRED_CHUNK_VALUE;
    int r = 0;
    for (uint32_t off = 0; off < p->n; off += chunk) {
        a.off = off;
        a.count = p->n - off < chunk ? p->n - off : chunk;
        struct shim_event ev = {PB_F_EVENT_PREDICTIONS, pred_body, &a};
        if (shim_emit_later(&ev) < 0)
            r = -1;
    }
    return r;
}

uint64_t shim_labels_fnv(const double *y, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t bits;
        memcpy(&bits, &y[k], sizeof bits);
        for (int i = 0; i < 8; i++) {
            h ^= (uint8_t)(bits >> (8 * i));
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

struct end_args {
    const uint8_t *trial;
    int status;
    const char *error;
};

static void end_body(struct pb_w *w, const void *arg)
{
    const struct end_args *a = arg;
    pb_bytes(w, PB_F_TRIAL_END_TRIAL, a->trial, TT_UUID_LEN);
    pb_enum(w, PB_F_TRIAL_END_STATUS, a->status);
    pb_str(w, PB_F_TRIAL_END_ERROR, a->error);
}

int shim_trial_end(const uint8_t *trial, int status, const char *error)
{
    if (!trial)
        return -1;
    pthread_mutex_lock(&tr_lock);
    own_locked();
    if (tr.have_cur && !memcmp(tr.cur, trial, TT_UUID_LEN))
        tr.have_cur = 0;
    pthread_mutex_unlock(&tr_lock);
    struct end_args a = {trial, status, error};
    struct shim_event ev = {PB_F_EVENT_TRIAL_END, end_body, &a};
    return shim_emit(&ev); /* sends the buffered params and metrics with it */
}

int shim_trial_current(uint8_t out[TT_UUID_LEN])
{
    int have = 0;
    pthread_mutex_lock(&tr_lock);
    own_locked();
    if (tr.have_cur) {
        memcpy(out, tr.cur, TT_UUID_LEN);
        have = 1;
    }
    pthread_mutex_unlock(&tr_lock);
    return have;
}

int shim_trial_count(void)
{
    pthread_mutex_lock(&tr_lock);
    own_locked();
    int n = tr.index > INT32_MAX ? INT32_MAX : (int)tr.index;
    pthread_mutex_unlock(&tr_lock);
    return n;
}
