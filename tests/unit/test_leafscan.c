/* test_leafscan.c - the leaf scanner against jansson, the loader it stands in
 * for: a real leaf field by field, escapes, non-finite metrics, unknown and
 * nested keys, any key order and whitespace, duplicates, lookups; 2000 random
 * leaves dumped canonically by jansson must scan to the fields jansson parsed
 * (doubles bit-equal); every malformed input gives -1 with a byte offset.
 * Last, 100k leaves timed against json_loadb (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include <cmocka.h>
#include <jansson.h>

#include "leafscan.h"

static const char sample[] =
    "{\"argv\":[\"train.py\",\"--config\",\"synthetic\"],\"cpu_us\":1564315,"
    "\"ended_ns\":1795606217500000000,\"exe\":\"/usr/bin/python3\",\"exit_code\":0,"
    "\"framework\":\"synthetic\",\"inputs\":[],\"maxrss_kb\":236186,"
    "\"metrics\":{\"val_acc\":{\"direction\":\"max\",\"split\":\"valid\",\"value\":0.80746519598220012}},"
    "\"opened_by\":\"adapter\",\"outputs\":[],"
    "\"params\":{\"syn.batch_size\":\"64\",\"syn.depth\":\"11\",\"syn.lr\":\"1.36107e-05\","
    "\"syn.optimizer\":\"rmsprop\",\"syn.seed\":\"12\"},"
    "\"process\":\"794604bc3a734b6c818c2adcf1aa6677\",\"session\":\"5d0675d56f114141b3577018373563e8\","
    "\"sources\":{\"syn.batch_size\":\"adapter\",\"syn.depth\":\"adapter\",\"syn.lr\":\"adapter\","
    "\"syn.optimizer\":\"adapter\",\"syn.seed\":\"adapter\"},"
    "\"started_ns\":1795606216000000000,\"status\":\"ok\",\"study\":\"bench\","
    "\"trial\":\"b5f50038e5db4db6a27e16015c156b79\",\"v\":1}";

static int scan(const char *t, struct leafscan_leaf *r, struct leafscan_arena *a, char *err)
{
    return leafscan(t, strlen(t), r, a, err, 128);
}

static void assert_str(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void assert_same_double(double a, double b)
{
    if (isnan(a) && isnan(b))
        return;
    assert_memory_equal(&a, &b, sizeof a);
}

/* Every field of two scans is equal. */
static void assert_rec_equal(const struct leafscan_leaf *a, const struct leafscan_leaf *b)
{
    assert_str(a->trial, b->trial);
    assert_str(a->status, b->status);
    assert_str(a->process, b->process);
    assert_str(a->session, b->session);
    assert_str(a->framework, b->framework);
    assert_str(a->opened_by, b->opened_by);
    assert_str(a->study, b->study);
    assert_str(a->exe, b->exe);
    assert_int_equal(a->has_started, b->has_started);
    assert_int_equal(a->started_ns, b->started_ns);
    assert_int_equal(a->has_ended, b->has_ended);
    assert_int_equal(a->ended_ns, b->ended_ns);
    assert_int_equal(a->has_cpu, b->has_cpu);
    assert_int_equal(a->cpu_us, b->cpu_us);
    assert_int_equal(a->has_rss, b->has_rss);
    assert_int_equal(a->maxrss_kb, b->maxrss_kb);
    assert_int_equal(a->has_exit, b->has_exit);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->has_signal, b->has_signal);
    assert_int_equal(a->signal, b->signal);
    assert_int_equal(a->nparams, b->nparams);
    for (size_t i = 0; i < a->nparams; i++) {
        assert_str(a->params[i].key, b->params[i].key);
        assert_str(a->params[i].value, b->params[i].value);
        assert_str(a->params[i].source, b->params[i].source);
    }
    assert_int_equal(a->nmetrics, b->nmetrics);
    for (size_t i = 0; i < a->nmetrics; i++) {
        const struct leafscan_metric *x = &a->metrics[i], *y = &b->metrics[i];
        assert_str(x->name, y->name);
        assert_int_equal(x->finite, y->finite);
        assert_same_double(x->value, y->value);
        assert_str(x->split, y->split);
        assert_str(x->direction, y->direction);
        assert_int_equal(x->has_step, y->has_step);
        assert_int_equal(x->step, y->step);
    }
}

/* ---- the sample, field by field -------------------------------------------------- */

static void test_sample(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];

    assert_int_equal(scan(sample, &r, &a, err), 0);
    assert_string_equal(r.trial, "b5f50038e5db4db6a27e16015c156b79");
    assert_string_equal(r.status, "ok");
    assert_string_equal(r.process, "794604bc3a734b6c818c2adcf1aa6677");
    assert_string_equal(r.session, "5d0675d56f114141b3577018373563e8");
    assert_string_equal(r.framework, "synthetic");
    assert_string_equal(r.opened_by, "adapter");
    assert_string_equal(r.study, "bench");
    assert_string_equal(r.exe, "/usr/bin/python3");
    assert_true(r.has_started && r.has_ended && r.has_cpu && r.has_rss && r.has_exit);
    assert_false(r.has_signal);
    assert_int_equal(r.started_ns, 1795606216000000000LL);
    assert_int_equal(r.ended_ns, 1795606217500000000LL);
    assert_int_equal(r.cpu_us, 1564315);
    assert_int_equal(r.maxrss_kb, 236186);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.signal, 0);
    assert_int_equal(r.nparams, 5);
    static const char *keys[] = {"syn.batch_size", "syn.depth", "syn.lr", "syn.optimizer",
                                 "syn.seed"};
    static const char *vals[] = {"64", "11", "1.36107e-05", "rmsprop", "12"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.params[i].key, keys[i]);
        assert_string_equal(r.params[i].value, vals[i]);
        assert_string_equal(r.params[i].source, "adapter");
    }
    assert_int_equal(r.nmetrics, 1);
    assert_string_equal(r.metrics[0].name, "val_acc");
    assert_int_equal(r.metrics[0].finite, 1);
    assert_true(r.metrics[0].value == 0.80746519598220012);
    assert_string_equal(r.metrics[0].split, "valid");
    assert_string_equal(r.metrics[0].direction, "max");
    assert_int_equal(r.metrics[0].has_step, 0);
    leafscan_arena_free(&a);
    assert_null(a.head);
}

static void test_lookup(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];

    assert_int_equal(scan(sample, &r, &a, err), 0);
    const char *keys[] = {"syn.batch_size", "syn.depth", "syn.lr", "syn.optimizer", "syn.seed"};
    for (int i = 0; i < 5; i++) {
        const struct leafscan_param *p = leafscan_param_get(&r, keys[i]);
        assert_non_null(p);
        assert_string_equal(p->key, keys[i]);
    }
    assert_string_equal(leafscan_param_get(&r, "syn.lr")->value, "1.36107e-05");
    assert_null(leafscan_param_get(&r, "syn"));
    assert_null(leafscan_param_get(&r, ""));
    assert_null(leafscan_param_get(&r, "a"));
    assert_null(leafscan_param_get(&r, "zzz"));
    assert_null(leafscan_param_get(&r, "syn.seedx"));
    assert_non_null(leafscan_metric_get(&r, "val_acc"));
    assert_null(leafscan_metric_get(&r, "val_loss"));
    assert_null(leafscan_metric_get(&r, "val_ac"));

    struct leafscan_leaf e;
    assert_int_equal(scan("{}", &e, &a, err), 0);
    assert_null(leafscan_param_get(&e, "x"));
    assert_null(leafscan_metric_get(&e, "x"));
    assert_null(e.trial);
    assert_false(e.has_started);
    leafscan_arena_free(&a);
}

/* ---- strings ------------------------------------------------------------------------ */

static void test_escapes(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    const char *t =
        "{\"trial\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\","
        "\"study\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\uDBFF\\uDFFF.\","
        "\"params\":{\"k\\u00e9y\":\"v\\n\",\"\\u0001\":\"ctl\"},"
        "\"sources\":{\"k\\u00e9y\":\"s\\/x\"},"
        "\"m\\u0065trics\":{\"unused\":{}},"
        "\"exe\":\"plain\\u00e9\"}";

    assert_int_equal(scan(t, &r, &a, err), 0);
    assert_string_equal(r.trial, "a\"b\\c/d\be\ff\ng\rh\ti");
    assert_string_equal(r.study, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf.");
    assert_string_equal(r.exe, "plain\xc3\xa9");
    assert_int_equal(r.nparams, 2);
    assert_string_equal(r.params[0].key, "\x01");
    assert_string_equal(r.params[0].value, "ctl");
    assert_null(r.params[0].source);
    assert_string_equal(r.params[1].key, "k\xc3\xa9y");
    assert_string_equal(r.params[1].value, "v\n");
    assert_string_equal(r.params[1].source, "s/x");
    /* an escaped top-level key is still recognised */
    assert_int_equal(r.nmetrics, 1);
    assert_string_equal(r.metrics[0].name, "unused");
    assert_int_equal(r.metrics[0].finite, 0);
    assert_true(isnan(r.metrics[0].value));
    leafscan_arena_free(&a);
}

/* ---- metrics ------------------------------------------------------------------------ */

static void test_nonfinite(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    const char *t = "{\"metrics\":{\"d\":{\"value\":-2,\"step\":7},\"c\":{\"value\":\"-inf\"},"
                    "\"b\":{\"value\":\"inf\",\"split\":\"test\"},\"a\":{\"value\":\"nan\",\"step\":3},"
                    "\"e\":{\"value\":null},\"f\":5,\"g\":{\"value\":-0.0,\"step\":1.5},"
                    "\"h\":{\"value\":1e-320}}}";

    assert_int_equal(scan(t, &r, &a, err), 0);
    assert_int_equal(r.nmetrics, 7); /* "f" is not an object: not a metric */
    const char *names = "abcdegh";
    for (size_t i = 0; i < r.nmetrics; i++)
        assert_int_equal(r.metrics[i].name[0], names[i]);
    for (int i = 0; i < 3; i++) { /* a b c */
        assert_int_equal(r.metrics[i].finite, 0);
        assert_true(isnan(r.metrics[i].value));
    }
    assert_int_equal(r.metrics[0].has_step, 1);
    assert_int_equal(r.metrics[0].step, 3);
    assert_string_equal(r.metrics[1].split, "test");
    assert_int_equal(r.metrics[3].finite, 1);
    assert_true(r.metrics[3].value == -2.0);
    assert_int_equal(r.metrics[3].step, 7);
    assert_int_equal(r.metrics[4].finite, 0);
    assert_int_equal(r.metrics[5].finite, 1);
    assert_true(signbit(r.metrics[5].value) && r.metrics[5].value == 0.0);
    assert_int_equal(r.metrics[5].has_step, 0); /* 1.5 is not an integer */
    assert_true(r.metrics[6].value == 1e-320);  /* subnormal: accepted, like jansson */
    assert_null(leafscan_metric_get(&r, "f"));
    assert_non_null(leafscan_metric_get(&r, "h"));
    leafscan_arena_free(&a);
}

/* ---- unknown keys, order, whitespace, duplicates ------------------------------------ */

static void test_unknown_nested(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    const char *t =
        "{\"zz\":{\"a\":[1,2,{\"b\":[[],{}]}],\"c\":null,\"d\":true,\"e\":false,\"f\":-1.5e+3},"
        "\"trial\":\"t\",\"error\":\"x \\\"y\\\" \\u00e9\",\"git_dirty\":false,"
        "\"inputs\":[{\"path\":\"/a\",\"sha256\":\"ff\",\"size\":27670}],"
        "\"signal\":9,\"v\":1,\"params\":{\"n\":5,\"o\":{\"x\":[1]},\"s\":\"str\"},"
        "\"exit_code\":\"0\",\"status\":7,\"aa\":[[[[[[[]]]]]]]}";

    assert_int_equal(scan(t, &r, &a, err), 0);
    assert_string_equal(r.trial, "t");
    assert_true(r.has_signal);
    assert_int_equal(r.signal, 9);
    assert_false(r.has_exit); /* a string is not an integer */
    assert_null(r.status);   /* a number is not a string */
    assert_int_equal(r.nparams, 3);
    assert_string_equal(r.params[0].value, ""); /* non-string values read as "" */
    assert_string_equal(r.params[1].value, "");
    assert_string_equal(r.params[2].value, "str");
    leafscan_arena_free(&a);
}

static void test_order_whitespace(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf canon, r;
    char err[128];

    assert_int_equal(scan(sample, &canon, &a, err), 0);

    /* Reverse every object's key order and pretty-print with jansson. */
    json_error_t je;
    json_t *j = json_loads(sample, 0, &je), *rev = json_object();
    assert_non_null(j);
    const char *keys[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) keys[n++] = k;
    while (n--) {
        json_t *x = json_object_get(j, keys[n]);
        if (json_is_object(x)) {
            json_t *rx = json_object();
            const char *kk[64];
            size_t m = 0;
            const char *k2;
            json_t *v2;
            json_object_foreach(x, k2, v2) kk[m++] = k2;
            while (m--)
                json_object_set(rx, kk[m], json_object_get(x, kk[m]));
            json_object_set_new(rev, keys[n], rx);
        } else {
            json_object_set(rev, keys[n], x);
        }
    }
    char *pretty = json_dumps(rev, JSON_INDENT(3) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    assert_non_null(pretty);
    assert_true(strstr(pretty, "\"v\": 1") < strstr(pretty, "\"argv\""));
    assert_int_equal(scan(pretty, &r, &a, err), 0);
    assert_rec_equal(&r, &canon);
    free(pretty);
    json_decref(rev);
    json_decref(j);

    /* Hand-written: tabs, CRs, blanks around every token. */
    const char *ws =
        " \r\n\t{ \"v\" : 1 ,\t\"trial\"\n:\r\"b5f50038e5db4db6a27e16015c156b79\" , \"status\":\"ok\","
        "\"study\" :\"bench\",\"sources\" : { \"syn.seed\" : \"adapter\" , \"syn.optimizer\":\"adapter\","
        "\"syn.lr\":\"adapter\",\"syn.depth\":\"adapter\",\"syn.batch_size\":\"adapter\" } ,"
        "\"params\":{ \"syn.seed\":\"12\",\"syn.optimizer\":\"rmsprop\",\"syn.lr\":\"1.36107e-05\","
        "\"syn.depth\":\"11\",\"syn.batch_size\":\"64\"},\"metrics\" : { \"val_acc\" : { \"value\" : "
        "0.80746519598220012 , \"split\" : \"valid\" , \"direction\" : \"max\" } } ,"
        "\"started_ns\" : 1795606216000000000 , \"ended_ns\":1795606217500000000,\"cpu_us\":1564315,"
        "\"maxrss_kb\":236186,\"exit_code\":0,\"exe\":\"/usr/bin/python3\",\"framework\":\"synthetic\","
        "\"opened_by\":\"adapter\",\"process\":\"794604bc3a734b6c818c2adcf1aa6677\",\"session\":"
        "\"5d0675d56f114141b3577018373563e8\" , \"argv\" : [ \"train.py\" , \"--config\" , "
        "\"synthetic\" ] , \"inputs\" : [ ] , \"outputs\" : [\n] } \n\t\r ";
    assert_int_equal(scan(ws, &r, &a, err), 0);
    assert_rec_equal(&r, &canon);
    leafscan_arena_free(&a);
}

static void test_duplicates(void **state)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    const char *t = "{\"trial\":\"a\",\"trial\":\"b\",\"cpu_us\":5,\"cpu_us\":null,\"signal\":1,"
                    "\"signal\":2,\"params\":{\"gone\":\"1\"},"
                    "\"params\":{\"x\":\"1\",\"a\":\"0\",\"x\":\"2\",\"m\":\"3\",\"x\":\"4\"},"
                    "\"sources\":{\"x\":\"first\",\"x\":\"last\"},"
                    "\"metrics\":{\"q\":{\"value\":1},\"q\":{\"value\":2,\"value\":3}}}";

    assert_int_equal(scan(t, &r, &a, err), 0);
    assert_string_equal(r.trial, "b");
    assert_false(r.has_cpu);
    assert_int_equal(r.signal, 2);
    assert_int_equal(r.nparams, 3);
    assert_string_equal(r.params[0].key, "a");
    assert_string_equal(r.params[1].key, "m");
    assert_string_equal(r.params[2].key, "x");
    assert_string_equal(r.params[2].value, "4");
    assert_string_equal(r.params[2].source, "last");
    assert_null(r.params[0].source);
    assert_int_equal(r.nmetrics, 1);
    assert_true(r.metrics[0].value == 3.0);

    /* jansson agrees on every duplicate */
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "trial")), "b");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "x")), "4");
    json_decref(j);
    leafscan_arena_free(&a);
}

/* ---- property: random leaves vs jansson ----------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    /* splitmix64: reproducible without touching rand()'s global state */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static char *rand_str(char *buf, size_t cap)
{
    static const char *atoms[] = {"a", "b", "z", "0", ".", "_", " ", "\"", "\\", "/", "\n", "\t",
                                  "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xed\x9f\xbf", "nan",
                                  "syn.", "lr"};
    size_t n = rnd() % 8, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *at = atoms[rnd() % (sizeof atoms / sizeof atoms[0])];
        if (len + strlen(at) + 1 > cap)
            break;
        strcpy(buf + len, at);
        len += strlen(at);
    }
    return buf;
}

static double rand_double(void)
{
    double d;
    uint64_t b;
    switch (rnd() % 7) {
    case 0: return (double)(int64_t)(rnd() % 2000001) - 1000000.0; /* integral reals: "3.0" */
    case 1: return ldexp((double)(rnd() >> 11), -1074 + (int)(rnd() % 60)); /* tiny, subnormal */
    case 2: return ldexp((double)(rnd() >> 11), 900 + (int)(rnd() % 71));  /* huge */
    case 3: return (double)(rnd() >> 11) / 9007199254740992.0;
    case 4: return -0.0;
    default:
        do {
            b = rnd();
            memcpy(&d, &b, sizeof d);
        } while (!isfinite(d));
        return d;
    }
}

static json_t *rand_any(int depth)
{
    char b[64];
    switch (rnd() % (depth > 3 ? 5 : 7)) {
    case 0: return json_string(rand_str(b, sizeof b));
    case 1: return json_integer((json_int_t)rnd());
    case 2: return json_real(rand_double());
    case 3: return json_null();
    case 4: return json_boolean(rnd() & 1);
    case 5: {
        json_t *arr = json_array();
        for (int i = rnd() % 4; i > 0; i--)
            json_array_append_new(arr, rand_any(depth + 1));
        return arr;
    }
    default: {
        json_t *o = json_object();
        for (int i = rnd() % 4; i > 0; i--)
            json_object_set_new(o, rand_str(b, sizeof b), rand_any(depth + 1));
        return o;
    }
    }
}

static const char *str_keys[] = {"trial", "status", "process", "session", "framework",
                                 "opened_by", "study", "exe"};
static const char *int_keys[] = {"started_ns", "ended_ns", "cpu_us", "maxrss_kb", "exit_code",
                                 "signal"};

static json_t *rand_leaf(void)
{
    char b[64], b2[64];
    json_t *o = json_object();

    for (size_t i = 0; i < 8; i++)
        if (rnd() % 4)
            json_object_set_new(o, str_keys[i], rnd() % 10 ? json_string(rand_str(b, sizeof b))
                                                           : rand_any(2));
    for (size_t i = 0; i < 6; i++)
        if (rnd() % 4)
            json_object_set_new(o, int_keys[i], rnd() % 10 ? json_integer((json_int_t)rnd())
                                                           : rand_any(2));
    json_t *params = json_object(), *sources = json_object(), *metrics = json_object();
    for (int i = rnd() % 12; i > 0; i--) {
        rand_str(b, sizeof b);
        json_object_set_new(params, b, rnd() % 10 ? json_string(rand_str(b2, sizeof b2))
                                                  : rand_any(1));
        if (rnd() % 3)
            json_object_set_new(sources, b, rnd() % 10 ? json_string(rand_str(b2, sizeof b2))
                                                       : rand_any(1));
    }
    for (int i = rnd() % 3; i > 0; i--) /* sources without a param */
        json_object_set_new(sources, rand_str(b, sizeof b), json_string("orphan"));
    for (int i = rnd() % 5; i > 0; i--) {
        json_t *m = json_object();
        switch (rnd() % 6) {
        case 0: json_object_set_new(m, "value", json_integer((json_int_t)rnd())); break;
        case 1: json_object_set_new(m, "value", json_string(rnd() & 1 ? "nan" : "-inf")); break;
        case 2: break;
        default: json_object_set_new(m, "value", json_real(rand_double())); break;
        }
        if (rnd() & 1)
            json_object_set_new(m, "step", json_integer((json_int_t)(rnd() % 100000)));
        if (rnd() & 1)
            json_object_set_new(m, "split", json_string(rand_str(b, sizeof b)));
        if (rnd() & 1)
            json_object_set_new(m, "direction", json_string(rnd() & 1 ? "max" : "min"));
        if (rnd() % 4 == 0)
            json_object_set_new(m, rand_str(b, sizeof b), rand_any(2));
        if (rnd() % 10) {
            json_object_set_new(metrics, rand_str(b, sizeof b), m);
        } else {
            json_object_set_new(metrics, rand_str(b, sizeof b), rand_any(2));
            json_decref(m);
        }
    }
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "sources", sources);
    json_object_set_new(o, "metrics", metrics);
    for (int i = rnd() % 4; i > 0; i--)
        json_object_set_new(o, rand_str(b, sizeof b), rand_any(0));
    return o;
}

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const struct leafscan_param *)x)->key, ((const struct leafscan_param *)y)->key);
}

static int metric_cmp(const void *x, const void *y)
{
    return strcmp(((const struct leafscan_metric *)x)->name, ((const struct leafscan_metric *)y)->name);
}

/* The fields as read from jansson's tree: the reference leafscan must match. */
static void rec_from_json(json_t *j, struct leafscan_leaf *r)
{
    const char *k;
    json_t *v, *x;

    memset(r, 0, sizeof *r);
    const char **sf[] = {&r->trial, &r->status, &r->process, &r->session, &r->framework,
                         &r->opened_by, &r->study, &r->exe};
    for (size_t i = 0; i < 8; i++)
        *sf[i] = json_string_value(json_object_get(j, str_keys[i])); /* NULL if not a string */
    int64_t *iv[] = {&r->started_ns, &r->ended_ns, &r->cpu_us, &r->maxrss_kb, &r->exit_code,
                     &r->signal};
    int has[6];
    for (size_t i = 0; i < 6; i++) {
        x = json_object_get(j, int_keys[i]);
        has[i] = json_is_integer(x);
        *iv[i] = has[i] ? json_integer_value(x) : 0;
    }
    r->has_started = has[0], r->has_ended = has[1], r->has_cpu = has[2], r->has_rss = has[3],
    r->has_exit = has[4], r->has_signal = has[5];

    json_t *params = json_object_get(j, "params"), *sources = json_object_get(j, "sources");
    r->params = calloc(json_object_size(params) + 1, sizeof *r->params);
    json_object_foreach(params, k, v) {
        struct leafscan_param *p = &r->params[r->nparams++];
        p->key = k;
        p->value = json_is_string(v) ? json_string_value(v) : "";
        p->source = json_string_value(json_object_get(sources, k));
    }
    qsort(r->params, r->nparams, sizeof *r->params, kv_cmp);

    json_t *metrics = json_object_get(j, "metrics");
    r->metrics = calloc(json_object_size(metrics) + 1, sizeof *r->metrics);
    json_object_foreach(metrics, k, v) {
        if (!json_is_object(v))
            continue;
        struct leafscan_metric *m = &r->metrics[r->nmetrics++];
        m->name = k;
        x = json_object_get(v, "value");
        m->finite = json_is_number(x);
        m->value = m->finite ? json_number_value(x) : NAN;
        m->split = json_string_value(json_object_get(v, "split"));
        m->direction = json_string_value(json_object_get(v, "direction"));
        x = json_object_get(v, "step");
        m->has_step = json_is_integer(x);
        m->step = m->has_step ? json_integer_value(x) : 0;
    }
    qsort(r->metrics, r->nmetrics, sizeof *r->metrics, metric_cmp);
}

static void test_random_vs_jansson(void **state)
{
    struct leafscan_arena a = {0};
    char err[128];

    for (int i = 0; i < 2000; i++) {
        json_t *gen = rand_leaf();
        size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17);
        if (i % 3 == 0)
            flags |= JSON_ENSURE_ASCII; /* \uXXXX escapes incl. surrogate pairs */
        char *text = json_dumps(gen, flags);
        assert_non_null(text);
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        assert_non_null(j);

        struct leafscan_leaf want, got;
        rec_from_json(j, &want);
        if (leafscan(text, strlen(text), &got, &a, err, sizeof err) != 0)
            fail_msg("leaf %d: %s\n%s", i, err, text);
        assert_rec_equal(&got, &want);

        free(want.params);
        free(want.metrics);
        json_decref(j);
        json_decref(gen);
        free(text);
        if (i % 100 == 99)
            leafscan_arena_free(&a);
    }
    leafscan_arena_free(&a);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void expect_fail(const char *t, size_t len, const char *what)
{
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128] = "";

    if (leafscan(t, len, &r, &a, err, sizeof err) != -1)
        fail_msg("accepted: %.*s", (int)len, t);
    assert_non_null(strstr(err, " at byte "));
    if (what && !strstr(err, what))
        fail_msg("%.*s: got \"%s\", want \"%s\"", (int)len, t, err, what);
    assert_null(r.params);
    assert_int_equal(r.nparams, 0);
    leafscan_arena_free(&a);
}

static void test_truncated(void **state)
{
    size_t n = strlen(sample);
    for (size_t len = 0; len < n; len++) {
        /* a heap copy of exactly len bytes: valgrind/ASan see any overread */
        char *t = malloc(len ? len : 1);
        memcpy(t, sample, len);
        expect_fail(t, len, len ? NULL : "not an object");
        free(t);
    }
    char want[64];
    snprintf(want, sizeof want, "truncated text at byte %zu", n - 1);
    expect_fail(sample, n - 1, want);
}

static void test_errors(void **state)
{
    static const struct {
        const char *text, *what;
    } cases[] = {
        {"[1]", "not an object at byte 0"},
        {"\"x\"", "not an object"},
        {"   ", "not an object at byte 3"},
        {"null", "not an object"},
        {"{\"a\":\"\\x\"}", "bad escape at byte 6"},
        {"{\"a\":\"\\u12G4\"}", "bad escape"},
        {"{\"trial\":\"\\ud83d\"}", "lone high surrogate"},
        {"{\"trial\":\"\\ud83d\\u0041\"}", "lone high surrogate"},
        {"{\"trial\":\"\\ude00\"}", "lone low surrogate"},
        {"{\"trial\":\"\\u0000\"}", "\\u0000"},
        {"{\"trial\":\"a\nb\"}", "control character"},
        {"{} x", "trailing garbage at byte 3"},
        {"{}{}", "trailing garbage"},
        {"{\"a\":1}]", "trailing garbage"},
        {"{\"a\":01}", "expected ','"},
        {"{\"a\":1.}", "bad number"},
        {"{\"a\":-}", "bad number"},
        {"{\"a\":1e}", "bad number"},
        {"{\"a\":.5}", "bad number"},
        {"{\"a\":+1}", "bad number"},
        {"{\"cpu_us\":9223372036854775808}", "integer out of range"},
        {"{\"metrics\":{\"m\":{\"value\":1e999}}}", "real number overflow"},
        {"{\"a\":tru}", "bad literal"},
        {"{\"a\":nul", "truncated"},
        {"{\"a\" 1}", "expected ':'"},
        {"{a:1}", "expected a key"},
        {"{\"a\":1,}", "expected a key"},
        {"{\"a\":[1,]}", "bad number"},
        {"{\"a\":[1 2]}", "expected ',' or ']'"},
        {"{\"params\":{\"k\":\"v\"", "truncated"},
        {"{\"metrics\":{\"m\":{\"value\":\"nan\"", "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_fail(cases[i].text, strlen(cases[i].text), cases[i].what);

    /* The same inputs are rejected by jansson (all but the depth-neutral
     * ones are JSON errors), so leafscan rejects nothing jansson accepts. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(cases[i].text, 0, &je);
        if (j && json_is_object(j))
            fail_msg("jansson accepts %s", cases[i].text);
        json_decref(j);
    }

    /* Deep nesting is refused, not a stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(depth + 8);
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', depth);
    expect_fail(deep, depth + 5, "nesting too deep");
    free(deep);

    /* Exactly one int64 edge each way is accepted. */
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    assert_int_equal(scan("{\"cpu_us\":-9223372036854775808,\"signal\":9223372036854775807}", &r,
                          &a, err), 0);
    assert_true(r.cpu_us == INT64_MIN && r.signal == INT64_MAX);
    leafscan_arena_free(&a);
}

static void test_arena(void **state)
{
    struct leafscan_arena a = {0};
    for (size_t n = 0; n < 100; n++) {
        char *p = leafscan_arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        memset(p, 0xAB, n);
    }
    char *big = leafscan_arena_alloc(&a, (size_t)3 << 20); /* bigger than a chunk */
    assert_non_null(big);
    memset(big, 1, (size_t)3 << 20);
    char *after = leafscan_arena_alloc(&a, 16); /* still served from the first chunk's room */
    assert_non_null(after);
    assert_int_equal((uintptr_t)after % 8, 0);
    assert_null(leafscan_arena_alloc(&a, SIZE_MAX - 3));
    leafscan_arena_free(&a);
    assert_null(a.head);
    leafscan_arena_free(&a); /* twice is harmless */
}

/* ---- speed -------------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_speed(void **state)
{
    /* LEAFSCAN_BENCH_N: fewer leaves, for runs under valgrind */
    const char *nenv = getenv("LEAFSCAN_BENCH_N");
    const int N = nenv ? atoi(nenv) : 100000;
    if (N < 1)
        skip();
    char **texts = malloc(N * sizeof *texts);
    size_t *lens = malloc(N * sizeof *lens), total = 0;
    assert_non_null(texts);
    for (int i = 0; i < N; i++) {
        char buf[1024];
        uint64_t x = rnd();
        int n = snprintf(
            buf, sizeof buf,
            "{\"argv\":[\"train.py\",\"--config\",\"synthetic\"],\"cpu_us\":%d,"
            "\"ended_ns\":%lld,\"exe\":\"/usr/bin/python3\",\"exit_code\":0,"
            "\"framework\":\"synthetic\",\"inputs\":[],\"maxrss_kb\":%d,"
            "\"metrics\":{\"val_acc\":{\"direction\":\"max\",\"split\":\"valid\",\"value\":%.17g}},"
            "\"opened_by\":\"adapter\",\"outputs\":[],"
            "\"params\":{\"syn.batch_size\":\"%d\",\"syn.depth\":\"%d\",\"syn.lr\":\"%g\","
            "\"syn.optimizer\":\"%s\",\"syn.seed\":\"%d\"},"
            "\"process\":\"%016llx%016llx\",\"session\":\"5d0675d56f114141b3577018373563e8\","
            "\"sources\":{\"syn.batch_size\":\"adapter\",\"syn.depth\":\"adapter\",\"syn.lr\":"
            "\"adapter\",\"syn.optimizer\":\"adapter\",\"syn.seed\":\"adapter\"},"
            "\"started_ns\":%lld,\"status\":\"ok\",\"study\":\"bench\","
            "\"trial\":\"%016llx%016llx\",\"v\":1}",
            (int)(x % 5000000), 1795606217500000000LL + i, (int)(x % 300000),
            (double)(x >> 11) / 9007199254740992.0, 16 << (x % 5), (int)(x % 20),
            1e-5 * (double)(x % 1000), (x & 1) ? "rmsprop" : "adam", i,
            (unsigned long long)rnd(), (unsigned long long)rnd(), 1795606216000000000LL + i,
            (unsigned long long)rnd(), (unsigned long long)rnd());
        assert_true(n > 0 && n < (int)sizeof buf);
        texts[i] = malloc((size_t)n);
        memcpy(texts[i], buf, (size_t)n); /* not NUL-terminated, as in the record */
        lens[i] = (size_t)n;
        total += (size_t)n;
    }

    struct leafscan_arena a = {0};
    struct leafscan_leaf *recs = malloc(N * sizeof *recs);
    char err[128];
    double t0 = now_s();
    for (int i = 0; i < N; i++)
        if (leafscan(texts[i], lens[i], &recs[i], &a, err, sizeof err))
            fail_msg("leaf %d: %s", i, err);
    double t_scan = now_s() - t0;
    assert_int_equal(recs[N - 1].nparams, 5);
    assert_string_equal(recs[N - 1].params[4].source, "adapter");
    leafscan_arena_free(&a);

    t0 = now_s();
    for (int i = 0; i < N; i++) {
        json_error_t je;
        json_t *j = json_loadb(texts[i], lens[i], 0, &je);
        assert_non_null(j);
        json_decref(j);
    }
    double t_jansson = now_s() - t0;

    printf("leafscan: %d leaves, %.1f MB: %.1f ms (%.0f ns/leaf); jansson json_loadb: %.1f ms; "
           "ratio %.1fx\n",
           N, total / 1e6, t_scan * 1e3, t_scan * 1e9 / N, t_jansson * 1e3, t_jansson / t_scan);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(recs);
}

/* Spans: a member's value and an array's elements found in place. */
static int collect(void *ctx, size_t i, size_t start, size_t end)
{
    size_t *spans = ctx;
    spans[2 * i] = start;
    spans[2 * i + 1] = end;
    return i >= 3; /* stop after the 4th element */
}

static void test_spans(void **state)
{
    (void)state;
    const char *t = "{\"a\": 1, \"p\" : {\"trials\": [ {\"x\":[1,2]} , \"s\",3 ], \"z\":null},"
                    " \"p\\u0071\": true, \"p\": {\"trials\": []}}";
    size_t s, e, len = strlen(t);
    char err[200];
    /* the last "p" wins (as in jansson); "pq" written with an escape is found too */
    assert_int_equal(leafscan_member(t, len, "p", &s, &e, err, sizeof err), 0);
    assert_memory_equal(t + s, "{\"trials\": []}", e - s);
    assert_int_equal(leafscan_member(t, len, "pq", &s, &e, err, sizeof err), 0);
    assert_memory_equal(t + s, "true", e - s);
    assert_int_equal(leafscan_member(t, len, "nope", &s, &e, err, sizeof err), 1);
    const char *arr = "[ {\"x\":[1,2]} , \"s\",3 ,[],{}]";
    size_t spans[10] = {0};
    assert_int_equal(leafscan_elements(arr, strlen(arr), collect, spans, err, sizeof err), -1);
    assert_memory_equal(arr + spans[0], "{\"x\":[1,2]}", spans[1] - spans[0]);
    assert_memory_equal(arr + spans[2], "\"s\"", spans[3] - spans[2]);
    assert_memory_equal(arr + spans[4], "3", spans[5] - spans[4]);
    assert_memory_equal(arr + spans[6], "[]", spans[7] - spans[6]);
    /* malformed: errors with a byte offset, never a crash */
    assert_int_equal(leafscan_member("{\"a\": [1,}", 11, "a", &s, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "at byte"));
    assert_int_equal(leafscan_member("[1]", 3, "a", &s, &e, err, sizeof err), -1);
    assert_int_equal(leafscan_elements("{}", 2, collect, spans, err, sizeof err), -1);
    assert_int_equal(leafscan_elements("[1,", 3, collect, spans, err, sizeof err), -1);
}

/* An adapter's "<framework>.x" keys need no sources entry; others keep theirs. */
static void test_implied_sources(void **state)
{
    (void)state;
    const char *t = "{\"framework\":\"libsvm\",\"params\":{\"c\":\"8\",\"libsvm.C\":\"8\","
                    "\"libsvmx.C\":\"1\",\"other.C\":\"2\"},\"sources\":{\"c\":\"argv\",\"other.C\":\"file:x\"}}";
    struct leafscan_arena a = {0};
    struct leafscan_leaf r;
    char err[128];
    assert_int_equal(leafscan(t, strlen(t), &r, &a, err, sizeof err), 0);
    assert_string_equal(leafscan_param_get(&r, "c")->source, "argv");
    assert_string_equal(leafscan_param_get(&r, "libsvm.C")->source, "adapter");
    assert_null(leafscan_param_get(&r, "libsvmx.C")->source); /* not the framework's prefix */
    assert_string_equal(leafscan_param_get(&r, "other.C")->source, "file:x");
    leafscan_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),          cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_escapes),         cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_unknown_nested),  cmocka_unit_test(test_order_whitespace),
        cmocka_unit_test(test_duplicates),      cmocka_unit_test(test_random_vs_jansson),
        cmocka_unit_test(test_truncated),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_arena),           cmocka_unit_test(test_speed),
        cmocka_unit_test(test_spans),           cmocka_unit_test(test_implied_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
