/* fuzz_ingest.c - libFuzzer target: each input is one packed tunetrail.Batch
 * handed to the store's ingest, as the collector hands it what arrives on
 * the wire: decoding, validation (schema, sizes, times, names), dedupe and
 * the ownership checks of an authenticated sender.
 *
 * Each input is ingested twice: as a collector without CURVE gets it (no
 * identity: stored or rejected), then resent by an authenticated identity,
 * which must find duplicates or be refused, so the ownership path runs on
 * every input. (An identity first would refuse most mutated batches before
 * the store sees them: an origin needs its start stored first.)
 * The store lives in one temp file (tmpfs when there is one) reopened empty
 * every RESET_EVERY inputs: it keeps earlier inputs' events (mutations of a
 * batch hit dedupe and conflicts) without growing for the whole run.
 *
 * Byte mutations rarely get past protobuf's nested lengths: a uuid 5 bytes
 * long needs its own length and every enclosing one changed together. So
 * the mutator (LLVMFuzzerCustomMutator) mostly unpacks the input, changes
 * one field of the message tree (a string or bytes mutated to any length, a
 * number set to an edge value, a uuid copied from another field, an event
 * dropped or repeated) and packs it again; one time in four, and for inputs
 * that do not decode, it mutates the bytes as libFuzzer would.
 *
 * Built by -DTT_FUZZ=ON with clang (tests/fuzz/CMakeLists.txt); run by
 * tests/fuzz/fuzz_ingest.sh and bench/bench_fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tunetrail.pb-c.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#define RESET_EVERY 500

static tt_store *g_st;
static char g_path[128];
static unsigned g_inputs;

static void remove_store(void)
{
    char p[160];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

static void close_store(void)
{
    if (g_st)
        store_close(g_st);
    g_st = NULL;
    remove_store();
}

static void open_store(void)
{
    char err[256];
    remove_store(); /* STORE_CREATE makes the schema in a missing file */
    g_st = store_open(g_path, STORE_CREATE, err, sizeof err);
    if (!g_st) {
        fprintf(stderr, "fuzz_ingest: store_open %s: %s\n", g_path, err);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/tt-fuzz-ingest-%ld.db", dir ? dir : "/tmp", (long)getpid());
    open_store();
    atexit(close_store);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++g_inputs % RESET_EVERY == 0) {
        close_store();
        open_store();
    }
    struct ingest_input in[2] = {{.buf = data, .len = size},
                                 {.buf = data, .len = size, .identity = "fuzz-a"}};
    struct ingest_result res;
    for (int i = 0; i < 2; i++) {
        memset(&res, 0xa5, sizeof res); /* ingest must set every field it reports */
        ingest_batches(g_st, &in[i], 1, &res);
        /* The answers the collector turns into an Ack must be sane. */
        if (res.status != INGEST_OK && res.status != INGEST_REJECTED && res.status != INGEST_RETRY)
            abort();
        if (!memchr(res.error, 0, sizeof res.error) || !memchr(res.refusal, 0, sizeof res.refusal))
            abort();
        /* A store fault on a tmpfs file is a bug. Not faults: an authorisation
         * refusal, and (identity pass) the quiet retry of a batch whose
         * origin's start is not stored yet (it may be on its way). */
        if (res.status == INGEST_RETRY && res.store_error != STORE_ERR_FORBIDDEN &&
            !(i == 1 && res.store_error == STORE_ERR_BUSY &&
              strstr(res.error, "has no start stored"))) {
            fprintf(stderr, "fuzz_ingest: RETRY (%s): %s\n", store_error_name(res.store_error),
                    res.error);
            abort();
        }
    }
    return 0;
}

/* ---- the structure-aware mutator ---------------------------------------- */

struct slot {
    const ProtobufCFieldDescriptor *f;
    void *p; /* the field's value: char **, ProtobufCBinaryData *, or the number */
};
#define MAX_SLOTS 4096

/* Every present scalar, string and bytes value under m, depth first. */
static void collect(ProtobufCMessage *m, struct slot *s, size_t *n)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields && *n < MAX_SLOTS; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *member = (char *)m + f->offset;
        size_t count = 1;
        size_t elem = f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING
                          ? sizeof(void *)
                      : f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
                      : f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
                              f->type == PROTOBUF_C_TYPE_SINT64 || f->type == PROTOBUF_C_TYPE_SFIXED64 ||
                              f->type == PROTOBUF_C_TYPE_FIXED64 || f->type == PROTOBUF_C_TYPE_DOUBLE
                          ? 8
                      : f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                                         : 4;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(size_t *)((char *)m + f->quantifier_offset);
            member = *(char **)member;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
                continue;
        } else if (f->quantifier_offset && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(protobuf_c_boolean *)((char *)m + f->quantifier_offset))
                continue; /* an optional scalar or bytes field that is unset */
        }
        for (size_t k = 0; k < count && *n < MAX_SLOTS; k++) {
            char *v = member + k * elem;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (*(ProtobufCMessage **)v)
                    collect(*(ProtobufCMessage **)v, s, n);
            } else if (f->type != PROTOBUF_C_TYPE_STRING || *(char **)v) {
                s[(*n)++] = (struct slot){f, v};
            }
        }
    }
}

static int is_bytes(const struct slot *s) { return s->f->type == PROTOBUF_C_TYPE_BYTES; }

/* A copy of p[0..n) mutated by libFuzzer to at most max bytes (malloc'd,
 * NUL-terminated). */
static uint8_t *mutate_buf(const uint8_t *p, size_t n, size_t max, size_t *out)
{
    uint8_t *b = malloc(max + 1);
    if (!b)
        abort();
    if (n > max)
        n = max;
    if (n)
        memcpy(b, p, n);
    *out = LLVMFuzzerMutate(b, n, max);
    b[*out] = 0;
    return b;
}

static void mutate_slot(struct slot *s, struct slot *all, size_t n, unsigned *seed)
{
    static const int64_t edges[] = {0, 1, -1, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN,
                                    1700000000000000000ll, 4102444800000000000ll, 255, 256, 65536};
    int64_t e = edges[rand_r(seed) % (sizeof edges / sizeof *edges)];
    switch (s->f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **v = s->p;
        size_t len;
        uint8_t *b = mutate_buf((uint8_t *)*v, strlen(*v), 1 + strlen(*v) * 2 + rand_r(seed) % 1100, &len);
        b[strnlen((char *)b, len)] = 0; /* packed up to the first NUL */
        free(*v);
        *v = (char *)b;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *v = s->p;
        struct slot *other = &all[rand_r(seed) % n];
        uint8_t *b;
        size_t len;
        if (rand_r(seed) % 2 && is_bytes(other) && other != s) {
            /* a uuid (or hash) of another field: one event naming another's ids */
            ProtobufCBinaryData *o = other->p;
            len = o->len;
            b = malloc(len + 1);
            if (!b)
                abort();
            if (len)
                memcpy(b, o->data, len);
        } else {
            b = mutate_buf(v->data, v->len, v->len + 17, &len);
        }
        free(v->data);
        v->data = b;
        v->len = len;
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)s->p = !*(protobuf_c_boolean *)s->p;
        break;
    case PROTOBUF_C_TYPE_DOUBLE: {
        static const double d[] = {0.0, -0.0, 1e308, -1e308, 5e-324, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0};
        *(double *)s->p = d[rand_r(seed) % 8];
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)s->p = (float)e;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (rand_r(seed) % 2)
            *(uint64_t *)s->p += rand_r(seed) % 2 ? 1 : UINT64_MAX; /* +-1, wrapping */
        else
            *(int64_t *)s->p = e;
        break;
    case PROTOBUF_C_TYPE_ENUM:
        *(int32_t *)s->p = rand_r(seed) % 2 ? (int32_t)(rand_r(seed) % 8) : (int32_t)e;
        break;
    default: /* 32-bit integers */
        if (rand_r(seed) % 2)
            *(uint32_t *)s->p += 1;
        else
            *(int32_t *)s->p = (int32_t)e;
        break;
    }
}

/* Drops an event, or repeats one (a resend inside one batch). */
static void mutate_events(Tunetrail__Batch *b, unsigned *seed)
{
    if (!b->n_events)
        return;
    size_t i = rand_r(seed) % b->n_events;
    if (rand_r(seed) % 2) {
        tunetrail__event__free_unpacked(b->events[i], NULL);
        b->events[i] = b->events[--b->n_events];
        return;
    }
    size_t len = tunetrail__event__get_packed_size(b->events[i]);
    uint8_t *buf = malloc(len ? len : 1);
    Tunetrail__Event **ev = realloc(b->events, (b->n_events + 1) * sizeof *ev);
    if (!buf || !ev)
        abort();
    b->events = ev;
    tunetrail__event__pack(ev[i], buf);
    Tunetrail__Event *copy = tunetrail__event__unpack(NULL, len, buf);
    free(buf);
    if (copy)
        ev[b->n_events++] = copy;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
    Tunetrail__Batch *b = rand_r(&seed) % 4 ? tunetrail__batch__unpack(NULL, size, data) : NULL;
    if (!b)
        return LLVMFuzzerMutate(data, size, max_size);
    static struct slot slots[MAX_SLOTS];
    size_t n = 0;
    if (rand_r(&seed) % 8 == 0) {
        mutate_events(b, &seed);
    } else {
        collect(&b->base, slots, &n);
        if (n)
            mutate_slot(&slots[rand_r(&seed) % n], slots, n, &seed);
    }
    size_t len = tunetrail__batch__get_packed_size(b);
    if (len <= max_size)
        tunetrail__batch__pack(b, data);
    else
        len = LLVMFuzzerMutate(data, size, max_size);
    tunetrail__batch__free_unpacked(b, NULL);
    return len;
}
