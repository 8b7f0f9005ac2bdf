/* fuzz_ingest.c - libFuzzer target: each input is one packed tunetrail.Batch
 * handed to the store's ingest, as the collector hands it what arrives on
 * the wire: decoding, validation (schema, sizes, times, names), dedupe and
 * the ownership checks of an authenticated sender.
 *
 * Each input is ingested twice, as two CURVE identities: the first stores
 * (or rejects) it and claims its uuids and studies, the second must then be
 * refused or find duplicates, so the ownership path runs on every input.
 * The store lives in one temp file (tmpfs when there is one) reopened empty
 * every RESET_EVERY inputs: it keeps earlier inputs' events (mutations of a
 * batch hit dedupe and conflicts) without growing for the whole run.
 *
 * Built by -DTT_FUZZ=ON with clang (tests/fuzz/CMakeLists.txt); run by
 * tests/fuzz/fuzz_ingest.sh and bench/bench_fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

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
    struct ingest_input in[2] = {{data, size, "fuzz-a"}, {data, size, "fuzz-b"}};
    struct ingest_result res;
    for (int i = 0; i < 2; i++) {
        memset(&res, 0xa5, sizeof res); /* ingest must set every field it reports */
        ingest_batches(g_st, &in[i], 1, &res);
        /* The answers the collector turns into an Ack must be sane. */
        if (res.status != INGEST_OK && res.status != INGEST_REJECTED && res.status != INGEST_RETRY)
            abort();
        if (!memchr(res.error, 0, sizeof res.error) || !memchr(res.refusal, 0, sizeof res.refusal))
            abort();
        /* A store fault (not an authorisation refusal) on a tmpfs file is a bug. */
        if (res.status == INGEST_RETRY && res.store_error != STORE_ERR_FORBIDDEN) {
            fprintf(stderr, "fuzz_ingest: RETRY (%s): %s\n", store_error_name(res.store_error),
                    res.error);
            abort();
        }
    }
    return 0;
}
