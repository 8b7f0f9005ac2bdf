/* store_fixture.h - the cmocka fixture shared by the store unit tests: a
 * fresh SQLite store in a temp file per test, removed (with its WAL and SHM
 * files) afterwards. Include after <cmocka.h> and "store.h". */
#ifndef TT_STORE_FIXTURE_H
#define TT_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct fx {
    char path[64];
    tt_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/tt-store-test-XXXXXX");
    int fd = mkstemp(f->path);
    close(fd);
    unlink(f->path); /* let the store create it */
    char err[256];
    f->st = store_open(f->path, STORE_CREATE, err, sizeof err);
    if (!f->st)
        fail_msg("store_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    char p[80];
    unlink(f->path);
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    free(f);
    return 0;
}

#endif
