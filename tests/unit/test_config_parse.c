/* test_config_parse.c - the config-file parsers behind `file:<name>` params:
 * each format valid, nested, arrays, repeated sections, comments, malformed
 * (with the right line number), oversized, and the param cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_parse.h"

static struct config_parse_list L;
static char E[512];

static int parse(enum config_parse_format f, const char *text)
{
    config_parse_list_free(&L);
    E[0] = '\0';
    return config_parse_parse(f, "t.x", text, strlen(text), &L, E, sizeof E);
}

static const char *get(const char *key)
{
    for (size_t i = 0; i < L.n; i++)
        if (!strcmp(L.kv[i].key, key))
            return L.kv[i].value;
    return NULL;
}

#define HAS(k, v)                                                                                          \
    do {                                                                                                   \
        const char *got_ = get(k);                                                                         \
        if (!got_)                                                                                         \
            fail_msg("missing key %s", k);                                                                 \
        assert_string_equal(got_, v);                                                                      \
    } while (0)

static void ini_darknet(void **st)
{
    assert_int_equal(parse(CFGP_INI, "# yolo-tiny\n"
                                     "[net]\n"
                                     "batch=64\n"
                                     "learning_rate=0.001\n"
                                     "policy=steps\n"
                                     "steps=400000,450000\n"
                                     "\n"
                                     "[convolutional]\r\n"
                                     "batch_normalize=1\n"
                                     "filters=16\n"
                                     "activation=leaky\n"
                                     "[maxpool]\n"
                                     "size=2\n"
                                     "[convolutional]\n"
                                     "  filters = 32  \n"
                                     "; comment\n"
                                     "activation=linear\n"),
                     0);
    HAS("net.batch", "64");
    HAS("net.learning_rate", "0.001");
    HAS("net.steps", "400000,450000");
    HAS("convolutional[0].batch_normalize", "1");
    HAS("convolutional[0].filters", "16");
    HAS("convolutional[1].filters", "32");
    HAS("convolutional[1].activation", "linear");
    HAS("maxpool.size", "2");
    assert_int_equal(L.n, 10);
    assert_null(get("net[0].batch"));
}

static void ini_top_keys_and_colons(void **st)
{
    assert_int_equal(parse(CFGP_INI, "\xef\xbb\xbf" "seed = 7\nurl=http://x:8/y\n[s]\nk: v\nempty=\n"), 0);
    HAS("seed", "7");
    HAS("url", "http://x:8/y");
    HAS("s.k", "v");
    HAS("s.empty", "");
    assert_int_equal(L.n, 4);
}

static void kv_properties(void **st)
{
    assert_int_equal(parse(CFGP_KV, "! properties comment\n# hash\nlr=0.10\nmodel.depth : 3\n"), 0);
    HAS("lr", "0.10");
    HAS("model.depth", "3");
    assert_int_equal(L.n, 2);
}

static void ini_malformed(void **st)
{
    assert_int_equal(parse(CFGP_INI, "[net]\nbatch=1\n\njust words\n"), -1);
    assert_string_equal(E, "t.x:4: expected key=value, [section] or a comment");
    assert_int_equal(L.n, 0);
    assert_int_equal(parse(CFGP_INI, "a=1\n[net\nb=2\n"), -1);
    assert_string_equal(E, "t.x:2: section header without a closing ]");
    assert_int_equal(parse(CFGP_INI, "[ ]\n"), -1);
    assert_string_equal(E, "t.x:1: empty section name");
    assert_int_equal(parse(CFGP_KV, "x=1\n = 2\n"), -1);
    assert_string_equal(E, "t.x:2: empty key");
    static const char bin[] = "a=1\nb=2\nc\0d";
    config_parse_list_free(&L);
    assert_int_equal(config_parse_parse(CFGP_INI, "t.x", bin, sizeof bin - 1, &L, E, sizeof E), -1);
    assert_string_equal(E, "t.x:3: NUL byte: not a text file");
}

static void json_nested(void **st)
{
    assert_int_equal(parse(CFGP_JSON, "{\"optimizer\": {\"name\": \"sgd\", \"lr\": 0.10, \"momentum\": 9e-1},\n"
                                      " \"layers\": [{\"units\": 64, \"act\": \"relu\"}, {\"units\": 10}],\n"
                                      " \"epochs\": 30, \"big\": 12345678901234, \"neg\": -0.5,\n"
                                      " \"shuffle\": true, \"aug\": false, \"ckpt\": null,\n"
                                      " \"tags\": [], \"extra\": {}, \"matrix\": [[1, 2], [3]]}"),
                     0);
    HAS("optimizer.name", "sgd");
    HAS("optimizer.lr", "0.1");
    HAS("optimizer.momentum", "0.9");
    HAS("layers[0].units", "64");
    HAS("layers[0].act", "relu");
    HAS("layers[1].units", "10");
    HAS("epochs", "30");
    HAS("big", "12345678901234");
    HAS("neg", "-0.5");
    HAS("shuffle", "true");
    HAS("aug", "false");
    HAS("ckpt", "null");
    HAS("tags", "[]");
    HAS("extra", "{}");
    HAS("matrix[0][1]", "2");
    HAS("matrix[1][0]", "3");
    assert_int_equal(L.n, 17);
}

static void json_top_array(void **st)
{
    assert_int_equal(parse(CFGP_JSON, "[{\"a\": 1}, 2.5]"), 0);
    HAS("[0].a", "1");
    HAS("[1]", "2.5");
}

static void json_malformed(void **st)
{
    assert_int_equal(parse(CFGP_JSON, "{\n  \"a\": 1,\n  \"b\": ,\n}\n"), -1);
    assert_non_null(strstr(E, "t.x:3: "));
    assert_int_equal(L.n, 0);
    assert_int_equal(parse(CFGP_JSON, "42"), -1); /* not an object or array */
    assert_non_null(strstr(E, "t.x:1: "));
    assert_int_equal(parse(CFGP_JSON, "{\"a\": 1"), -1);
    assert_non_null(strstr(E, "t.x:1: "));
}

static void yaml_nested(void **st)
{
    assert_int_equal(parse(CFGP_YAML, "# experiment\n"
                                      "model:\n"
                                      "  name: resnet\n"
                                      "  depth: 18\n"
                                      "  dropout: 0.50\n"
                                      "optim:\n"
                                      "  lr: 1e-3\n"
                                      "  betas: [0.9, 0.999]\n"
                                      "schedule:\n"
                                      "  - {epoch: 10, lr: 0.01}\n"
                                      "  - epoch: 20\n"
                                      "    lr: \"0.001\"\n"
                                      "base: &b {seed: 1}\n"
                                      "copy: *b\n"
                                      "nothing:\n"
                                      "empty: []\n"),
                     0);
    HAS("model.name", "resnet");
    HAS("model.depth", "18");
    HAS("model.dropout", "0.50");
    HAS("optim.lr", "1e-3");
    HAS("optim.betas[0]", "0.9");
    HAS("optim.betas[1]", "0.999");
    HAS("schedule[0].epoch", "10");
    HAS("schedule[1].lr", "0.001");
    HAS("base.seed", "1");
    HAS("copy.seed", "1");
    HAS("nothing", "");
    HAS("empty", "[]");
    assert_int_equal(L.n, 14);
}

static void yaml_malformed(void **st)
{
    assert_int_equal(parse(CFGP_YAML, "a: 1\nb:\n  c: [1, 2\nd: 3\n"), -1);
    assert_int_equal(L.n, 0);
    assert_non_null(strstr(E, "t.x:"));
    assert_int_equal(parse(CFGP_YAML, "a: 1\nb: 2\n c: 3\n"), -1);
    assert_non_null(strstr(E, "t.x:3: "));
    assert_int_equal(parse(CFGP_YAML, "a: *nowhere\n"), -1);
    assert_non_null(strstr(E, "t.x:1: "));
    assert_int_equal(parse(CFGP_YAML, "just a scalar\n"), -1);
    assert_string_equal(E, "t.x:1: top level is a scalar, not a mapping or sequence");
    assert_int_equal(parse(CFGP_YAML, ""), 0);
    assert_int_equal(L.n, 0);
}

static void yaml_alias_bomb_capped(void **st)
{
    /* 10^6 leaves if expanded: stops at the cap instead */
    assert_int_equal(parse(CFGP_YAML, "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
                                      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                                      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                                      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                                      "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"),
                     0);
    assert_int_equal(L.n, CFGP_MAX_PARAMS);
    assert_true(L.truncated);
    assert_string_equal(E, "t.x: more than 2000 params: the first 2000 kept");
}

static void too_many_ini_keys(void **st)
{
    size_t cap = 64 * (CFGP_MAX_PARAMS + 10);
    char *buf = malloc(cap), *p = buf;
    for (int i = 0; i < CFGP_MAX_PARAMS + 10; i++)
        p += sprintf(p, "k%d=%d\n", i, i);
    assert_int_equal(parse(CFGP_INI, buf), 0);
    assert_int_equal(L.n, CFGP_MAX_PARAMS);
    assert_true(L.truncated);
    HAS("k1999", "1999");
    assert_null(get("k2000"));
    free(buf);
}

static void oversized(void **st)
{
    size_t n = CFGP_MAX_BYTES + 1;
    char *buf = malloc(n);
    memset(buf, '#', n);
    config_parse_list_free(&L);
    assert_int_equal(config_parse_parse(CFGP_INI, "big.cfg", buf, n, &L, E, sizeof E), -1);
    assert_string_equal(E, "big.cfg: larger than 1048576 bytes: not parsed");

    char path[] = "/tmp/tt-cfgp-XXXXXX.ini";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
    assert_int_equal(config_parse_parse_file(path, &L, E, sizeof E), -1);
    assert_non_null(strstr(E, ": larger than 1048576 bytes: not parsed"));
    unlink(path);
    free(buf);
}

static void files_and_sniffing(void **st)
{
    char path[] = "/tmp/tt-cfgp-XXXXXX.conf";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    const char *json = "  {\"a\": {\"b\": 2}}";
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    config_parse_list_free(&L);
    assert_int_equal(config_parse_parse_file(path, &L, E, sizeof E), 0);
    HAS("a.b", "2");
    unlink(path);
    assert_int_equal(config_parse_parse_file(path, &L, E, sizeof E), -1);
    assert_non_null(strstr(E, ": cannot open: "));

    assert_int_equal(config_parse_sniff(CFGP_INI, "---\na: 1\n", 9), CFGP_YAML);
    assert_int_equal(config_parse_sniff(CFGP_INI, "[net]\n", 6), CFGP_INI);
    assert_int_equal(config_parse_sniff(CFGP_YAML, "{a: 1}", 6), CFGP_YAML);
}

static void which_paths(void **st)
{
    assert_int_equal(config_parse_format_for_path("/h/x/yolo.CFG"), CFGP_INI);
    assert_int_equal(config_parse_format_for_path("/h/a.yml"), CFGP_YAML);
    assert_int_equal(config_parse_format_for_path("/h/a.properties"), CFGP_KV);
    assert_int_equal(config_parse_format_for_path("/h/.conf"), CFGP_NONE);
    assert_int_equal(config_parse_format_for_path("/h/a.toml"), CFGP_NONE);
    assert_int_equal(config_parse_format_for_path("/h/data.csv"), CFGP_NONE);
    assert_true(config_parse_path_wanted("/home/u/exp/cfg.yaml"));
    assert_true(config_parse_path_wanted("/tmp/run/net.cfg"));
    assert_false(config_parse_path_wanted("/etc/ld.so.conf"));
    assert_false(config_parse_path_wanted("/usr/share/x/a.json"));
    assert_false(config_parse_path_wanted("/proc/self/x.cfg"));
    assert_false(config_parse_path_wanted("/home/u/.venv/lib/python3.11/site-packages/p/meta.json"));
    assert_false(config_parse_path_wanted("rel/a.json"));
    assert_false(config_parse_path_wanted("/home/u/model.bin"));
}

static int teardown(void **st)
{
    config_parse_list_free(&L);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ini_darknet),       cmocka_unit_test(ini_top_keys_and_colons),
        cmocka_unit_test(kv_properties),     cmocka_unit_test(ini_malformed),
        cmocka_unit_test(json_nested),       cmocka_unit_test(json_top_array),
        cmocka_unit_test(json_malformed),    cmocka_unit_test(yaml_nested),
        cmocka_unit_test(yaml_malformed),    cmocka_unit_test(yaml_alias_bomb_capped),
        cmocka_unit_test(too_many_ini_keys), cmocka_unit_test(oversized),
        cmocka_unit_test(files_and_sniffing), cmocka_unit_test(which_paths),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
