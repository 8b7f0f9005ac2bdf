/* test_config_track.c - which trials get a read config file's params:
 * the one open at the read and every later one of that process, once each;
 * never an ended one, nor another process's; parse errors come back for
 * FileAccess.error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_track.h"

struct got {
    uint8_t trial;
    char key[64], value[64], source[64];
};
static struct got G[64];
static size_t NG;
static char DIR_[64];

static int emit(void *arg, const uint8_t trial[16], const char *key, const char *value, const char *source)
{
    assert_true(NG < 64);
    G[NG].trial = trial[0];
    snprintf(G[NG].key, sizeof G[NG].key, "%s", key);
    snprintf(G[NG].value, sizeof G[NG].value, "%s", value);
    snprintf(G[NG].source, sizeof G[NG].source, "%s", source);
    NG++;
    return 0;
}

static const uint8_t *id(uint8_t v)
{
    static uint8_t ids[256][16];
    memset(ids[v], v, 16);
    return ids[v];
}

static char *file(const char *name, const char *text)
{
    static char path[8][128];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 128, "%s/%s", DIR_, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static size_t count_for(uint8_t trial)
{
    size_t n = 0;
    for (size_t i = 0; i < NG; i++)
        n += G[i].trial == trial;
    return n;
}

static int setup(void **st)
{
    NG = 0;
    snprintf(DIR_, sizeof DIR_, "/tmp/tt-cfgtrack-XXXXXX");
    assert_non_null(mkdtemp(DIR_));
    return 0;
}

static int teardown(void **st)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", DIR_);
    return system(cmd);
}

static void read_before_trials(void **st)
{
    cfgtrack *ct = config_track_new(emit, NULL);
    char *y = file("cfg.yaml", "lr: 0.1\nlayers: [64, 32]\n");
    config_track_read(ct, id(1), y);
    assert_null(config_track_hashed(ct, id(1), y));
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(NG, 0); /* no trial yet */
    config_track_trial_open(ct, id(1), id(10));
    config_track_trial_open(ct, id(2), id(20)); /* another process */
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(count_for(10), 3);
    assert_int_equal(count_for(20), 0);
    assert_string_equal(G[0].key, "lr");
    assert_string_equal(G[0].value, "0.1");
    assert_string_equal(G[0].source, "file:cfg.yaml");
    assert_string_equal(G[2].key, "layers[1]");
    config_track_trial_end(ct, id(10));
    config_track_trial_open(ct, id(1), id(11)); /* later trials of the process get it too */
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(count_for(10), 3);
    assert_int_equal(count_for(11), 3);
    config_track_free(ct);
}

static void open_trial_and_late_hash(void **st)
{
    cfgtrack *ct = config_track_new(emit, NULL);
    char *c = file("net.cfg", "[net]\nbatch=8\n");
    config_track_trial_open(ct, id(1), id(9));
    config_track_trial_end(ct, id(9)); /* ended before the read: not its file */
    config_track_trial_open(ct, id(1), id(10));
    config_track_read(ct, id(1), c);
    config_track_read(ct, id(1), c); /* read twice: parsed and given once */
    config_track_trial_open(ct, id(1), id(11)); /* opened before the hash is known */
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(NG, 0);
    assert_null(config_track_hashed(ct, id(1), c));
    assert_null(config_track_hashed(ct, id(1), c));
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(count_for(9), 0);
    assert_int_equal(count_for(10), 1);
    assert_int_equal(count_for(11), 1);
    assert_string_equal(G[0].key, "net.batch");
    assert_string_equal(G[0].source, "file:net.cfg");
    config_track_free(ct);
}

static void errors_and_ignored(void **st)
{
    cfgtrack *ct = config_track_new(emit, NULL);
    char *b = file("bad.json", "{\n  \"a\": 1,\n  \"b\": ,\n}\n");
    config_track_trial_open(ct, id(1), id(10));
    config_track_read(ct, id(1), b);
    const char *e = config_track_hashed(ct, id(1), b);
    assert_non_null(e);
    assert_string_equal(e, "bad.json:3: unexpected token near ','");
    config_track_read(ct, id(1), "/etc/ld.so.conf"); /* system file: not tracked */
    assert_null(config_track_hashed(ct, id(1), "/etc/ld.so.conf"));
    assert_null(config_track_hashed(ct, id(3), b)); /* a process that did not read it */
    assert_int_equal(config_track_flush(ct), 0);
    assert_int_equal(NG, 0);
    config_track_free(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(read_before_trials, setup, teardown),
        cmocka_unit_test_setup_teardown(open_trial_and_late_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_and_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
