/* hook_fann.c - the FANN adapter (libfann.so.2 = float, libfloatfann.so.2,
 * libdoublefann.so.2): the training of one `struct fann` is one trial.
 *
 * Trial life (docs/ADAPTERS.md, "## FANN"):
 *   - opened at the first training call on a network (fann_train_on_data,
 *     fann_train_on_file, fann_train_epoch) that has no open trial; its
 *     params are read at that moment with libfann's own fann_get_* getters:
 *     shape, per-layer activation functions and steepness, and every
 *     network-wide training setting (enums by their FANN_* names);
 *   - every epoch (fann_train_epoch, also the ones fann_train_on_data runs
 *     through the PLT) adds `mse` and `bit_fail` (split train, min, step =
 *     epoch number in the trial, from 1);
 *   - a network-wide setting changed between training calls is written
 *     again as a Param (the store keeps every row; `trials` shows the last);
 *   - fann_test_data adds `test_mse` and `test_bit_fail` (split test, min,
 *     step = epochs trained so far); fann_save / fann_save_to_fixed add
 *     `fann.model_file` (the network's trial, open or ended);
 *   - fann_destroy ends the trial (ok); a network never destroyed ends with
 *     its process (the trial takes the process's status).
 *
 * RATIONALE (getters, not fann_set_* hooks): reading the settings when the
 * training starts is exact whatever set them (fann_set_*, the per-layer and
 * per-neuron variants, fann_create_from_file) and needs no hook on the ~60
 * setters nor on the variadic fann_create_standard, which cannot be
 * forwarded. Only functions whose signatures do not involve fann_type are
 * hooked, so one wrapper passes float and double builds through untouched;
 * fann_type getters (steepness, bit_fail_limit) are called with the type of
 * the library the real function lives in.
 *
 * RATIONALE (fixed table): networks are tracked in FANN_NETS_MAX slots keyed
 * by pointer (no allocation in the shim); a network beyond that is passed
 * through unrecorded. A fork child forgets the parent's table (its fork
 * reset): the parent's networks' trials are the parent's. */
#include "adapter.h"

#include <errno.h>
#include <floatfann.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "fann"
#define FANN_NETS_MAX 64   /* networks tracked per process at once */
#define FANN_LAYERS_MAX 64 /* layers recorded per network */

enum { FLAVOR_UNKNOWN = 0, FLAVOR_FLOAT = 1, FLAVOR_DOUBLE = 2 };

/* Network-wide float settings: X(getter suffix = param key). */
#define FANN_FLOAT_SETTINGS(X)                                                                    \
    X(learning_rate) X(learning_momentum) X(quickprop_decay) X(quickprop_mu)                      \
    X(rprop_increase_factor) X(rprop_decrease_factor) X(rprop_delta_min) X(rprop_delta_max)       \
    X(rprop_delta_zero) X(sarprop_weight_decay_shift) X(sarprop_step_error_threshold_factor)      \
    X(sarprop_step_error_shift) X(sarprop_temperature)
/* Network-wide enum settings: X(getter suffix, names table). */
#define FANN_ENUM_SETTINGS(X)                                                                     \
    X(training_algorithm, FANN_TRAIN_NAMES) X(train_error_function, FANN_ERRORFUNC_NAMES)          \
    X(train_stop_function, FANN_STOPFUNC_NAMES)

#define F_IDX(n) S_##n,
enum { FANN_FLOAT_SETTINGS(F_IDX) S_NFLOAT };
#define E_IDX(n, t) E_##n,
enum { FANN_ENUM_SETTINGS(E_IDX) S_NENUM };

struct settings {
    float f[S_NFLOAT];
    int e[S_NENUM];
    double bit_fail_limit; /* fann_type */
};

struct net {
    struct fann *ann;      /* NULL: free slot */
    int open;              /* trial not ended yet */
    int64_t epochs;        /* epochs trained in the trial */
    uint8_t trial[TT_UUID_LEN];
    struct settings set;   /* as last recorded */
};

static pthread_mutex_t nets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct net nets[FANN_NETS_MAX];
static int flavor; /* of the library the hooked functions live in */

static void fork_child(void)
{
    pthread_mutex_init(&nets_lock, NULL);
    memset(nets, 0, sizeof nets);
}
TT_ADAPTER_FORK(fork_child);

/* ---- which library --------------------------------------------------- */

extern const struct tt_adapter tt_adapter_fann; /* about_fann.c: float builds, then double */

/* The wrapper opening (adapter_open) over the FANN builds; a recorded call
 * notes the flavor of the library the hooked functions live in. */
static int fann_open(struct adapter_site *site, void *real)
{
    int k = adapter_open(site, &tt_adapter_fann, real, 0);
    if (k > 0 && !__atomic_load_n(&flavor, __ATOMIC_RELAXED)) /* one FANN build per process */
        __atomic_store_n(&flavor, k == 3 ? FLAVOR_DOUBLE : FLAVOR_FLOAT, __ATOMIC_RELAXED);
    return k;
}

/* ---- libfann getters, resolved lazily ---------------------------------- */

#define GETTER(name, type) ((type)shim_real(&p_##name, #name))
#define F_SLOT(n) static void *p_fann_get_##n;
FANN_FLOAT_SETTINGS(F_SLOT)
#define E_SLOT(n, t) static void *p_fann_get_##n;
FANN_ENUM_SETTINGS(E_SLOT)
static void *p_fann_get_bit_fail_limit, *p_fann_get_num_layers, *p_fann_get_layer_array,
    *p_fann_get_bias_array, *p_fann_get_connection_rate, *p_fann_get_network_type,
    *p_fann_get_num_input, *p_fann_get_num_output, *p_fann_get_total_neurons,
    *p_fann_get_total_connections, *p_fann_get_activation_function,
    *p_fann_get_activation_steepness, *p_fann_length_train_data, *p_fann_get_bit_fail;

typedef float (*get_float_fn)(struct fann *);
typedef unsigned (*get_uint_fn)(struct fann *);
typedef int (*get_enum_fn)(struct fann *);

/* fann_type result of getter g (float or double build) as a double. */
static double get_fann_type(void *g, struct fann *ann, int layer, int neuron, int per_neuron)
{
    if (!g)
        return 0;
    if (flavor == FLAVOR_DOUBLE)
        return per_neuron ? ((double (*)(struct fann *, int, int))g)(ann, layer, neuron)
                          : ((double (*)(struct fann *))g)(ann);
    return per_neuron ? ((float (*)(struct fann *, int, int))g)(ann, layer, neuron)
                      : ((float (*)(struct fann *))g)(ann);
}

static void read_settings(struct fann *ann, struct settings *s)
{
    memset(s, 0, sizeof *s);
    get_float_fn gf;
    get_enum_fn ge;
#define F_READ(n)                                                                                 \
    if ((gf = GETTER(fann_get_##n, get_float_fn)))                                                \
        s->f[S_##n] = gf(ann);
    FANN_FLOAT_SETTINGS(F_READ)
#define E_READ(n, t)                                                                              \
    if ((ge = GETTER(fann_get_##n, get_enum_fn)))                                                 \
        s->e[E_##n] = ge(ann);
    FANN_ENUM_SETTINGS(E_READ)
    s->bit_fail_limit = get_fann_type(GETTER(fann_get_bit_fail_limit, void *), ann, 0, 0, 0);
}

/* ---- params ------------------------------------------------------------ */

/* Shortest text that reads back to the same float (0.7, not 0.699999988). */
static void fmt_float(float v, char *buf, size_t cap)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

static void param_float(const uint8_t *t, const char *field, float v)
{
    char b[40];
    fmt_float(v, b, sizeof b);
    adapter_param_str(t, NS, field, b);
}

static void param_fann_type(const uint8_t *t, const char *field, double v)
{
    if (flavor == FLAVOR_DOUBLE)
        adapter_param_double(t, NS, field, v);
    else
        param_float(t, field, (float)v);
}

#define NAMES(t) t, (int)(sizeof t / sizeof t[0])

/* Writes the settings that differ from *old (all of them if old is NULL). */
static void record_settings(const uint8_t *t, const struct settings *s, const struct settings *old)
{
    char b[16];
#define F_PARAM(n)                                                                                \
    if (!old || old->f[S_##n] != s->f[S_##n])                                                     \
        param_float(t, #n, s->f[S_##n]);
    FANN_FLOAT_SETTINGS(F_PARAM)
#define E_PARAM(n, tab)                                                                           \
    if (!old || old->e[E_##n] != s->e[E_##n])                                                     \
        adapter_param_str(t, NS, #n, adapter_enum_name(NAMES(tab), s->e[E_##n], b, sizeof b));
    FANN_ENUM_SETTINGS(E_PARAM)
    if (!old || old->bit_fail_limit != s->bit_fail_limit)
        param_fann_type(t, "bit_fail_limit", s->bit_fail_limit);
}

/* "[A, B]" of the n names, or the one name if all are equal. */
static void join_names(const int *v, int n, char *out, size_t cap)
{
    char b[16];
    int same = 1;
    for (int i = 1; i < n; i++)
        same &= v[i] == v[0];
    if (same || n <= 1) {
        snprintf(out, cap, "%s", adapter_enum_name(NAMES(FANN_ACTIVATIONFUNC_NAMES), v[0], b, sizeof b));
        return;
    }
    size_t len = 0;
    out[len++] = '[';
    for (int i = 0; i < n && len + 40 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "",
                                adapter_enum_name(NAMES(FANN_ACTIVATIONFUNC_NAMES), v[i], b, sizeof b));
    snprintf(out + len, cap - len, "%s]", len + 40 < cap ? "" : ", ...");
}

/* Shape and per-layer activations, read from the network. */
static void record_shape(const uint8_t *t, struct fann *ann)
{
    get_uint_fn gu;
    unsigned nl = (gu = GETTER(fann_get_num_layers, get_uint_fn)) ? gu(ann) : 0;
    void (*arr)(struct fann *, unsigned *) = GETTER(fann_get_layer_array, void (*)(struct fann *, unsigned *));
    void (*bias)(struct fann *, unsigned *) = GETTER(fann_get_bias_array, void (*)(struct fann *, unsigned *));
    get_enum_fn ge;
    char b[ADAPTER_VALUE_MAX], field[64];
    if ((ge = GETTER(fann_get_network_type, get_enum_fn)))
        adapter_param_str(t, NS, "network_type", adapter_enum_name(NAMES(FANN_NETTYPE_NAMES), ge(ann), b, 16));
    get_float_fn gf = GETTER(fann_get_connection_rate, get_float_fn);
    if (gf)
        param_float(t, "connection_rate", gf(ann));
#define U_PARAM(name)                                                                             \
    if ((gu = GETTER(fann_get_##name, get_uint_fn)))                                              \
        adapter_param_int(t, NS, #name, gu(ann));
    U_PARAM(num_input) U_PARAM(num_output) U_PARAM(total_neurons) U_PARAM(total_connections)
    adapter_param_int(t, NS, "layers", nl);
    if (nl == 0 || nl > FANN_LAYERS_MAX || !arr)
        return;
    unsigned neurons[FANN_LAYERS_MAX], biases[FANN_LAYERS_MAX];
    arr(ann, neurons);
    int ni[FANN_LAYERS_MAX];
    for (unsigned i = 0; i < nl; i++)
        ni[i] = (int)neurons[i];
    adapter_param_list(t, NS, "layer_sizes", ni, NULL, (int)nl);
    if (bias)
        bias(ann, biases);
    int (*act)(struct fann *, int, int) = GETTER(fann_get_activation_function, int (*)(struct fann *, int, int));
    void *steep = GETTER(fann_get_activation_steepness, void *);
    for (unsigned i = 0; i < nl; i++) {
        snprintf(field, sizeof field, "layer[%u].neurons", i);
        adapter_param_int(t, NS, field, neurons[i]);
        if (bias) {
            snprintf(field, sizeof field, "layer[%u].bias", i);
            adapter_param_int(t, NS, field, biases[i]);
        }
        if (i == 0 || neurons[i] == 0)
            continue; /* the input layer has no activation */
        int fn[FANN_LAYERS_MAX];
        double st[FANN_LAYERS_MAX];
        int n = neurons[i] < FANN_LAYERS_MAX ? (int)neurons[i] : FANN_LAYERS_MAX;
        int same_st = 1;
        for (int k = 0; k < n; k++) {
            fn[k] = act ? act(ann, (int)i, k) : -1;
            st[k] = get_fann_type(steep, ann, (int)i, k, 1);
            same_st &= st[k] == st[0];
        }
        if (act) {
            join_names(fn, n, b, sizeof b);
            snprintf(field, sizeof field, "layer[%u].activation_function", i);
            adapter_param_str(t, NS, field, b);
            if (i == 1 || i == nl - 1)
                adapter_param_str(t, NS, i == nl - 1 ? "activation_function_output"
                                                     : "activation_function_hidden", b);
        }
        if (steep) {
            snprintf(field, sizeof field, "layer[%u].activation_steepness", i);
            if (same_st)
                param_fann_type(t, field, st[0]);
            else
                adapter_param_list(t, NS, field, NULL, st, n);
            if (i == 1 || i == nl - 1) {
                const char *k = i == nl - 1 ? "activation_steepness_output" : "activation_steepness_hidden";
                if (same_st)
                    param_fann_type(t, k, st[0]);
                else
                    adapter_param_list(t, NS, k, NULL, st, n);
            }
        }
    }
}

/* ---- the network table ------------------------------------------------- */

/* Lock held: the slot of ann, or NULL. */
static struct net *find_locked(const struct fann *ann)
{
    for (int i = 0; i < FANN_NETS_MAX; i++)
        if (nets[i].ann == ann)
            return &nets[i];
    return NULL;
}

/* The open trial of ann, opening one (with its params) if there is none;
 * also writes the settings changed since the last call. Copies the trial
 * into t and returns 1, or 0 if nothing is recorded for ann. */
static int ensure_trial(struct fann *ann, uint8_t t[TT_UUID_LEN])
{
    if (!ann)
        return 0;
    struct settings now;
    read_settings(ann, &now);
    pthread_mutex_lock(&nets_lock);
    struct net *n = find_locked(ann);
    if (n && n->open) {
        record_settings(n->trial, &now, &n->set);
        n->set = now;
        memcpy(t, n->trial, TT_UUID_LEN);
        pthread_mutex_unlock(&nets_lock);
        return 1;
    }
    if (!n)
        n = find_locked(NULL);
    if (!n || shim_trial_open(NS, t) < 0) {
        pthread_mutex_unlock(&nets_lock);
        return 0;
    }
    n->ann = ann;
    n->open = 1;
    n->epochs = 0;
    n->set = now;
    memcpy(n->trial, t, TT_UUID_LEN);
    pthread_mutex_unlock(&nets_lock);
    record_shape(t, ann);
    record_settings(t, &now, NULL);
    return 1;
}

/* Trial of ann (open or ended) and its epoch count; 1 if ann has one. With
 * add_epoch, counts one more epoch first. */
static int net_trial(const struct fann *ann, uint8_t t[TT_UUID_LEN], int64_t *epochs, int add_epoch)
{
    pthread_mutex_lock(&nets_lock);
    struct net *n = ann ? find_locked(ann) : NULL;
    if (n) {
        memcpy(t, n->trial, TT_UUID_LEN);
        *epochs = add_epoch ? ++n->epochs : n->epochs;
    }
    pthread_mutex_unlock(&nets_lock);
    return n != NULL;
}

/* ---- hooks ------------------------------------------------------------- */

float fann_train_epoch(struct fann *ann, struct fann_train_data *data)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_train_epoch);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return -1;
    if (how == ADAPTER_PASS)
        return real(ann, data);
    uint8_t t[TT_UUID_LEN];
    int rec = ensure_trial(ann, t);
    float mse = real(ann, data);
    if (rec) {
        int saved = errno;
        int64_t ep;
        if (net_trial(ann, t, &ep, 1)) {
            shim_trial_metric(t, "mse", mse, ep, "train", "min");
            get_uint_fn bf = GETTER(fann_get_bit_fail, get_uint_fn);
            if (bf)
                shim_trial_metric(t, "bit_fail", bf(ann), ep, "train", "min");
        }
        errno = saved;
    }
    return mse;
}

void fann_train_on_data(struct fann *ann, struct fann_train_data *data,
                                       unsigned int max_epochs, unsigned int epochs_between_reports,
                                       float desired_error)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_train_on_data);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return;
    if (how > 0) {
        uint8_t t[TT_UUID_LEN];
        if (ensure_trial(ann, t)) {
            adapter_param_int(t, NS, "max_epochs", max_epochs);
            param_float(t, "desired_error", desired_error);
            unsigned (*len)(struct fann_train_data *) =
                GETTER(fann_length_train_data, unsigned (*)(struct fann_train_data *));
            if (len && data)
                adapter_param_int(t, NS, "train.num_data", len(data));
        }
    }
    /* the epochs it runs come through fann_train_epoch's hook (PLT) */
    real(ann, data, max_epochs, epochs_between_reports, desired_error);
}

void fann_train_on_file(struct fann *ann, const char *filename, unsigned int max_epochs,
                                       unsigned int epochs_between_reports, float desired_error)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_train_on_file);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return;
    /* Opened before the real call so that the data file it reads is an
     * input of the trial; it then calls fann_train_on_data (PLT), whose
     * hook writes max_epochs, desired_error and train.num_data. */
    uint8_t t[TT_UUID_LEN];
    if (how > 0)
        ensure_trial(ann, t);
    real(ann, filename, max_epochs, epochs_between_reports, desired_error);
}

float fann_test_data(struct fann *ann, struct fann_train_data *data)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_test_data);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return -1;
    if (how == ADAPTER_PASS)
        return real(ann, data);
    float mse = real(ann, data);
    int saved = errno;
    uint8_t t[TT_UUID_LEN];
    int64_t ep;
    if (net_trial(ann, t, &ep, 0)) {
        shim_trial_metric(t, "test_mse", mse, ep, "test", "min");
        get_uint_fn bf = GETTER(fann_get_bit_fail, get_uint_fn);
        if (bf)
            shim_trial_metric(t, "test_bit_fail", bf(ann), ep, "test", "min");
    }
    errno = saved;
    return mse;
}

/* fann_save and fann_save_to_fixed after their opening. */
static int save_hook(int how, int (*real)(struct fann *, const char *), struct fann *ann,
                     const char *file)
{
    if (how == ADAPTER_PASS)
        return real(ann, file);
    int r = real(ann, file);
    uint8_t t[TT_UUID_LEN];
    int64_t ep;
    if (r == 0 && file && net_trial(ann, t, &ep, 0))
        adapter_model_file(t, NS, file); /* keeps errno */
    return r;
}

int fann_save(struct fann *ann, const char *configuration_file)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_save);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return -1;
    return save_hook(how, real, ann, configuration_file);
}

int fann_save_to_fixed(struct fann *ann, const char *configuration_file)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_save_to_fixed);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return -1;
    return save_hook(how, real, ann, configuration_file);
}

void fann_destroy(struct fann *ann)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, fann_destroy);
    int how = fann_open(&site, (void *)real);
    if (how == ADAPTER_MISSING)
        return;
    if (ann && how > 0) {
        /* before the real call: once freed, the pointer may be reused */
        uint8_t t[TT_UUID_LEN];
        int open = 0;
        pthread_mutex_lock(&nets_lock);
        struct net *n = find_locked(ann);
        if (n) {
            open = n->open;
            memcpy(t, n->trial, TT_UUID_LEN);
            memset(n, 0, sizeof *n);
        }
        pthread_mutex_unlock(&nets_lock);
        if (open) {
            int saved = errno;
            shim_trial_end(t, PB_TRIAL_OK, NULL);
            errno = saved;
        }
    }
    real(ann);
}
