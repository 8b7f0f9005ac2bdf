/* hook_darknet.c - the darknet adapter (Debian's /usr/lib/darknet/libdarknet.so,
 * git 2018-09-14 61c9d02e): a network is a trial, opened when darknet
 * parses its .cfg (parse_network_cfg, load_network), with the [net] section
 * and every layer as params read from the parsed `network` struct; each
 * train_network / train_network_sgd / train_network_datum call is a step
 * whose loss is a metric; save_weights / save_weights_upto name the model;
 * free_network ends the trial (or the process's end does: an unended trial
 * takes its process's status).
 *
 * Keys (docs/ADAPTERS.md "## darknet"): darknet.net.<key> (batch,
 * subdivisions, learning_rate, momentum, decay, policy by name, its step /
 * scale / steps / scales / gamma / power, max_batches, burn_in, adam, width,
 * height, channels, ...), darknet.layers (count), darknet.layer[<i>].<key>
 * (type and activation by their C enum names, filters, size, stride, pad,
 * batch_normalize, output, probability, ...), darknet.cfg_file,
 * darknet.weights_file (load_network), darknet.model_file. Metric: loss
 * (train, min), step = get_current_batch(net) after the call.
 *
 * RATIONALE (struct, not the .cfg text): the params must be what darknet
 * itself made of the file (defaults filled in, pad=1 turned into pixels);
 * the agent already records the .cfg text as file:<name> params. The struct
 * layout is the one of darknet.h as Debian ships it (CPU build: no GPU
 * fields), which this file includes; CMake builds this file only when it
 * finds that header (/usr/lib/darknet/include, package darknet).
 *
 * RATIONALE (no calls into libdarknet): the shim links libc only, so
 * get_current_batch is computed as darknet does it:
 * *seen / (batch * subdivisions). net->batch is the per-step batch darknet
 * keeps (cfg batch / subdivisions * time_steps); darknet.net.batch is the
 * cfg's value recovered from it. */
#include <darknet.h>

#include "adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NS "darknet"

extern const struct tt_adapter tt_adapter_darknet; /* about_darknet.c */

static __thread int depth __attribute__((tls_model("initial-exec")));

/* Networks with an open trial. RATIONALE: a fixed table (no malloc in the
 * shim); a program juggling more than NETS_MAX live networks gets no trial
 * for the extra ones. */
#define NETS_MAX 32
static pthread_mutex_t nets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const network *net;
    uint8_t trial[TT_UUID_LEN];
} nets[NETS_MAX];
static struct adapter_last last = ADAPTER_LAST_INIT; /* for saves after free_network */

/* RATIONALE (fork reset): a fork child's steps, saves and frees of a
 * network it inherited must not land on the parent's trial (nor end it). */
static void fork_child(void)
{
    pthread_mutex_init(&nets_lock, NULL);
    memset(nets, 0, sizeof nets);
    adapter_last_reset(&last);
}
TT_ADAPTER_FORK(fork_child);

static const char *const layer_types[] = {
    "CONVOLUTIONAL", "DECONVOLUTIONAL", "CONNECTED", "MAXPOOL", "SOFTMAX", "DETECTION", "DROPOUT",
    "CROP", "ROUTE", "COST", "NORMALIZATION", "AVGPOOL", "LOCAL", "SHORTCUT", "ACTIVE", "RNN", "GRU",
    "LSTM", "CRNN", "BATCHNORM", "NETWORK", "XNOR", "REGION", "YOLO", "ISEG", "REORG", "UPSAMPLE",
    "LOGXENT", "L2NORM", "BLANK"};
static const char *const activations[] = {"LOGISTIC", "RELU", "RELIE", "LINEAR", "RAMP", "TANH", "PLSE",
                                          "LEAKY", "ELU", "LOGGY", "STAIR", "HARDTAN", "LHTAN", "SELU"};
static const char *const policies[] = {"CONSTANT", "STEP", "EXP", "POLY", "STEPS", "SIG", "RANDOM"};
static const char *const cost_types[] = {"SSE", "MASKED", "L1", "SEG", "SMOOTH", "WGAN"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Shortest text that reads back to the same float (0.1, not 0.100000001). */
static void fmt_float(float v, char *buf, size_t cap)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

static void param_float(const uint8_t *t, const char *prefix, const char *field, float v)
{
    char b[32];
    fmt_float(v, b, sizeof b);
    adapter_param_str(t, prefix, field, b);
}

/* "[a, b]" of n floats (darknet's scales); truncated like adapter_param_list. */
static void param_float_list(const uint8_t *t, const char *prefix, const char *field, const float *v, int n)
{
    char out[ADAPTER_VALUE_MAX];
    size_t len = 0;
    out[len++] = '[';
    for (int i = 0; i < n; i++) {
        char item[32];
        fmt_float(v[i], item, sizeof item);
        size_t il = strlen(item);
        if (len + il + 2 + 5 >= sizeof out) {
            memcpy(out + len, "...", 3);
            len += 3;
            break;
        }
        if (i) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        memcpy(out + len, item, il);
        len += il;
    }
    out[len++] = ']';
    out[len] = 0;
    adapter_param_str(t, prefix, field, out);
}

static void param_enum(const uint8_t *t, const char *prefix, const char *field, const char *const *names,
                       int count, int v)
{
    char b[16];
    adapter_param_str(t, prefix, field, adapter_enum_name(names, count, v, b, sizeof b));
}

static void param_path(const uint8_t *t, const char *field, const char *path)
{
    char abs[PATH_MAX];
    if (path && path[0])
        adapter_param_str(t, NS, field, shim_path_absolute(AT_FDCWD, path, abs, sizeof abs) == 0 ? abs : path);
}

/* The [net] section as darknet parsed it (parse_net_options). */
static void net_params(const uint8_t *t, const network *net)
{
    const char *p = NS ".net";
    int subdiv = net->subdivisions > 0 ? net->subdivisions : 1;
    int steps = net->time_steps > 0 ? net->time_steps : 1;
    adapter_param_int(t, p, "batch", (long long)net->batch / steps * subdiv);
    adapter_param_int(t, p, "subdivisions", net->subdivisions);
    adapter_param_int(t, p, "time_steps", net->time_steps);
    param_float(t, p, "learning_rate", net->learning_rate);
    param_float(t, p, "momentum", net->momentum);
    param_float(t, p, "decay", net->decay);
    param_enum(t, p, "policy", policies, COUNT(policies), net->policy);
    switch (net->policy) {
    case STEP:
        adapter_param_int(t, p, "step", net->step);
        param_float(t, p, "scale", net->scale);
        break;
    case STEPS:
        if (net->num_steps > 0 && net->steps && net->scales) {
            adapter_param_list(t, p, "steps", net->steps, NULL, net->num_steps);
            param_float_list(t, p, "scales", net->scales, net->num_steps);
        }
        break;
    case EXP:
        param_float(t, p, "gamma", net->gamma);
        break;
    case SIG:
        param_float(t, p, "gamma", net->gamma);
        adapter_param_int(t, p, "step", net->step);
        break;
    case POLY:
    case RANDOM:
        param_float(t, p, "power", net->power);
        break;
    default:
        break;
    }
    adapter_param_int(t, p, "max_batches", net->max_batches);
    adapter_param_int(t, p, "burn_in", net->burn_in);
    adapter_param_int(t, p, "adam", net->adam);
    if (net->adam) {
        param_float(t, p, "B1", net->B1);
        param_float(t, p, "B2", net->B2);
        param_float(t, p, "eps", net->eps);
    }
    adapter_param_int(t, p, "width", net->w);
    adapter_param_int(t, p, "height", net->h);
    adapter_param_int(t, p, "channels", net->c);
    adapter_param_int(t, p, "inputs", net->inputs);
    adapter_param_int(t, p, "max_crop", net->max_crop);
    adapter_param_int(t, p, "min_crop", net->min_crop);
    param_float(t, p, "angle", net->angle);
    param_float(t, p, "aspect", net->aspect);
    param_float(t, p, "saturation", net->saturation);
    param_float(t, p, "exposure", net->exposure);
    param_float(t, p, "hue", net->hue);
}

/* One layer, by the fields its parse_<type> function sets. */
static void layer_params(const uint8_t *t, int i, const layer *l)
{
    char p[48];
    snprintf(p, sizeof p, NS ".layer[%d]", i);
    param_enum(t, p, "type", layer_types, COUNT(layer_types), l->type);
    switch (l->type) {
    case CONVOLUTIONAL:
    case DECONVOLUTIONAL:
    case LOCAL:
        adapter_param_int(t, p, "filters", l->n);
        adapter_param_int(t, p, "size", l->size);
        adapter_param_int(t, p, "stride", l->stride);
        adapter_param_int(t, p, "pad", l->pad);
        param_enum(t, p, "activation", activations, COUNT(activations), l->activation);
        if (l->type != LOCAL)
            adapter_param_int(t, p, "batch_normalize", l->batch_normalize);
        if (l->type == CONVOLUTIONAL) {
            adapter_param_int(t, p, "groups", l->groups);
            adapter_param_int(t, p, "binary", l->binary);
            adapter_param_int(t, p, "xnor", l->xnor);
        }
        break;
    case CONNECTED:
        adapter_param_int(t, p, "output", l->outputs);
        param_enum(t, p, "activation", activations, COUNT(activations), l->activation);
        adapter_param_int(t, p, "batch_normalize", l->batch_normalize);
        break;
    case MAXPOOL:
        adapter_param_int(t, p, "size", l->size);
        adapter_param_int(t, p, "stride", l->stride);
        adapter_param_int(t, p, "pad", l->pad);
        break;
    case DROPOUT:
        param_float(t, p, "probability", l->probability);
        break;
    case SOFTMAX:
        adapter_param_int(t, p, "groups", l->groups);
        param_float(t, p, "temperature", l->temperature);
        adapter_param_int(t, p, "spatial", (int)l->spatial);
        adapter_param_int(t, p, "noloss", l->noloss);
        break;
    case COST:
        param_enum(t, p, "cost_type", cost_types, COUNT(cost_types), l->cost_type);
        param_float(t, p, "scale", l->scale);
        break;
    case SHORTCUT:
        adapter_param_int(t, p, "from", l->index);
        param_enum(t, p, "activation", activations, COUNT(activations), l->activation);
        param_float(t, p, "alpha", l->alpha);
        param_float(t, p, "beta", l->beta);
        break;
    case ACTIVE:
        param_enum(t, p, "activation", activations, COUNT(activations), l->activation);
        break;
    case ROUTE:
        if (l->n > 0 && l->input_layers)
            adapter_param_list(t, p, "layers", l->input_layers, NULL, l->n);
        break;
    case NORMALIZATION:
        adapter_param_int(t, p, "size", l->size);
        param_float(t, p, "alpha", l->alpha);
        param_float(t, p, "beta", l->beta);
        param_float(t, p, "kappa", l->kappa);
        break;
    case UPSAMPLE:
    case REORG:
        adapter_param_int(t, p, "stride", l->stride);
        break;
    case REGION:
    case YOLO:
    case DETECTION:
        adapter_param_int(t, p, "classes", l->classes);
        adapter_param_int(t, p, "num", l->n);
        param_float(t, p, "jitter", l->jitter);
        if (l->type == YOLO) {
            param_float(t, p, "ignore_thresh", l->ignore_thresh);
            param_float(t, p, "truth_thresh", l->truth_thresh);
        }
        break;
    default:
        break;
    }
    adapter_param_int(t, p, "inputs", l->inputs);
    adapter_param_int(t, p, "outputs", l->outputs);
}

/* Opens the trial of a freshly parsed network and writes its params. */
static void net_open(const network *net, const char *cfg, const char *weights)
{
    if (!net || shim_busy)
        return;
    int slot = -1;
    pthread_mutex_lock(&nets_lock);
    for (int i = 0; i < NETS_MAX && slot < 0; i++)
        if (!nets[i].net)
            slot = i;
    uint8_t t[TT_UUID_LEN];
    int ok = slot >= 0 && shim_trial_open(NS, t) == 0;
    if (ok) {
        nets[slot].net = net;
        memcpy(nets[slot].trial, t, TT_UUID_LEN);
    }
    pthread_mutex_unlock(&nets_lock);
    if (!ok)
        return;
    adapter_last_set(&last, t);
    param_path(t, "cfg_file", cfg);
    param_path(t, "weights_file", weights);
    net_params(t, net);
    adapter_param_int(t, NS, "layers", net->n);
    for (int i = 0; i < net->n && net->layers; i++)
        layer_params(t, i, &net->layers[i]);
}

/* The trial of net into t: 1, or 0 if net has none. remove: forget it. */
static int net_trial(const network *net, uint8_t t[TT_UUID_LEN], int remove)
{
    int found = 0;
    pthread_mutex_lock(&nets_lock);
    for (int i = 0; i < NETS_MAX && !found; i++)
        if (net && nets[i].net == net) {
            memcpy(t, nets[i].trial, TT_UUID_LEN);
            if (remove)
                nets[i].net = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&nets_lock);
    return found;
}

static void step_loss(network *net, float loss)
{
    uint8_t t[TT_UUID_LEN];
    if (!net || !net->seen || !net_trial(net, t, 0))
        return;
    long long per = (long long)net->batch * net->subdivisions;
    int64_t step = per > 0 ? (int64_t)(*net->seen / (size_t)per) : -1;
    shim_trial_metric(t, "loss", (double)loss, step, "train", "min");
}

network *parse_network_cfg(char *filename)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, parse_network_cfg);
    int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return NULL;
    if (how == ADAPTER_PASS)
        return real(filename);
    adapter_enter(&depth);
    network *net = real(filename);
    adapter_leave(&depth);
    int saved = errno;
    net_open(net, filename, NULL);
    errno = saved;
    return net;
}

network *load_network(char *cfg, char *weights, int clear)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, load_network);
    int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return NULL;
    if (how == ADAPTER_PASS)
        return real(cfg, weights, clear);
    adapter_enter(&depth);
    network *net = real(cfg, weights, clear);
    adapter_leave(&depth);
    int saved = errno;
    net_open(net, cfg, weights);
    errno = saved;
    return net;
}

/* The three training entry points: the outermost call is one step. */
#define TRAIN_HOOK(name, params, args)                                 \
    float name params                                                  \
    {                                                                  \
        static struct adapter_site site;                               \
        __auto_type real = HOOK_NEXT(&site.next, name);                \
        int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, depth); \
        if (how == ADAPTER_MISSING)                                    \
            return 0;                                                  \
        if (how == ADAPTER_PASS)                                       \
            return real args;                                          \
        adapter_enter(&depth);                                         \
        float loss = real args;                                        \
        adapter_leave(&depth);                                         \
        int saved = errno;                                             \
        step_loss(net, loss);                                          \
        errno = saved;                                                 \
        return loss;                                                   \
    }

TRAIN_HOOK(train_network, (network * net, data d), (net, d))
TRAIN_HOOK(train_network_sgd, (network * net, data d, int n), (net, d, n))
TRAIN_HOOK(train_network_datum, (network * net), (net))

static void saved_weights(network *net, const char *filename)
{
    uint8_t t[TT_UUID_LEN];
    if (net_trial(net, t, 0))
        adapter_model_file(t, NS, filename);
    else
        adapter_last_model_file(&last, NS, filename);
}

void save_weights_upto(network *net, char *filename, int cutoff)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, save_weights_upto);
    int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return;
    if (how == ADAPTER_PASS) {
        real(net, filename, cutoff);
        return;
    }
    adapter_enter(&depth);
    real(net, filename, cutoff); /* darknet exits on a file it cannot open */
    adapter_leave(&depth);
    int saved = errno;
    saved_weights(net, filename);
    errno = saved;
}

void save_weights(network *net, char *filename)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, save_weights);
    int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, depth);
    if (how == ADAPTER_MISSING)
        return;
    if (how == ADAPTER_PASS) {
        real(net, filename);
        return;
    }
    adapter_enter(&depth);
    real(net, filename);
    adapter_leave(&depth);
    int saved = errno;
    saved_weights(net, filename);
    errno = saved;
}

void free_network(network *net)
{
    static struct adapter_site site;
    __auto_type real = HOOK_NEXT(&site.next, free_network);
    int how = adapter_open(&site, &tt_adapter_darknet, (void *)real, 0);
    if (how == ADAPTER_MISSING)
        return;
    uint8_t t[TT_UUID_LEN];
    /* RATIONALE: end before the real free: the pointer may be reused by
     * the next parse, and nothing of the struct is read after this. */
    int rec = how > 0 && net_trial(net, t, 1);
    if (rec) {
        int saved = errno;
        shim_trial_end(t, PB_TRIAL_OK, NULL);
        errno = saved;
    }
    real(net);
}
