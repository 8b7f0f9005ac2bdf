/* test_record_stats.c - record_compute (the record's search / selection /
 * choices / refit sections) on small studies whose every number is worked
 * out by hand in the comments: ties, N = 1, a min objective, all trials
 * failed, a noise floor from repeated configurations, the choice ledger, the
 * kind of search, and a refit matched to its search trial. The formulas
 * themselves have their own known-answer tests (test_stats.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"
#include "roles.h"

struct study {
    struct leafscan_arena arena;
    struct leafscan_leaf leaf[16];
    size_t n;
    json_t *search, *sel, *choices, *refit;
};

/* Adds a leaf: params as "k=v,k=v" (source adapter), a metric value or NAN
 * for none. */
static void add(struct study *s, const char *status, const char *params, const char *metric,
                double value, const char *direction)
{
    char text[4096], ps[1024] = "", ss[1024] = "", m[256] = "";
    char buf[256];
    snprintf(buf, sizeof buf, "%s", params);
    for (char *kv = strtok(buf, ","); kv; kv = strtok(NULL, ",")) {
        char *eq = strchr(kv, '=');
        *eq = 0;
        size_t n = strlen(ps);
        snprintf(ps + n, sizeof ps - n, "%s\"%s\":\"%s\"", n ? "," : "", kv, eq + 1);
        n = strlen(ss);
        snprintf(ss + n, sizeof ss - n, "%s\"%s\":\"adapter\"", n ? "," : "", kv);
    }
    if (!isnan(value))
        snprintf(m, sizeof m, "\"%s\":{\"direction\":\"%s\",\"split\":\"valid\",\"value\":%.17g}",
                 metric, direction, value);
    snprintf(text, sizeof text,
             "{\"framework\":\"fw\",\"metrics\":{%s},\"params\":{%s},\"process\":\"p%02zu\","
             "\"session\":\"s\",\"sources\":{%s},\"started_ns\":%zu000000000,\"ended_ns\":%zu500000000,"
             "\"cpu_us\":1000000,\"maxrss_kb\":%zu,\"status\":\"%s\",\"trial\":\"t%02zu\",\"v\":1}",
             m, ps, s->n, ss, s->n + 1, s->n + 1, 100 + s->n, status, s->n);
    char err[200];
    size_t len = strlen(text);
    char *copy = leafscan_arena_alloc(&s->arena, len + 1);
    memcpy(copy, text, len + 1);
    assert_int_equal(leafscan(copy, len, &s->leaf[s->n], &s->arena, err, sizeof err), 0);
    s->n++;
}

static int compute(struct study *s, const char *produced, const char *objective, int dir_max)
{
    char err[256] = "";
    json_t *excluded = json_array();
    int rc = record_compute(s->leaf, s->n, excluded, produced, objective, dir_max, NULL, &s->search,
                            &s->sel, &s->choices, &s->refit, NULL, err, sizeof err);
    json_decref(excluded);
    if (rc)
        printf("record_compute: %s\n", err);
    return rc;
}

static void done(struct study *s)
{
    json_decref(s->search);
    json_decref(s->sel);
    json_decref(s->choices);
    json_decref(s->refit);
    leafscan_arena_free(&s->arena);
}

static double num_at(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *k = strtok(buf, "."); k; k = strtok(NULL, ".")) {
        char *end;
        long i = strtol(k, &end, 10);
        v = *end == 0 && json_is_array(v) ? json_array_get(v, (size_t)i) : json_object_get(v, k);
    }
    assert_non_null(v);
    return json_number_value(v);
}

static json_t *choice(json_t *choices, const char *key)
{
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c) if (!strcmp(json_string_value(json_object_get(c, "key")), key)) return c;
    fail_msg("no choice %s", key);
    return NULL;
}

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-12 * (1 + fabs((double)(b))))

/* Values 1, 3 (lr 0.1) and 2, 4 (lr 1), each lr run with seeds 1 and 2;
 * kernel never varied; one failed trial with no value; t03 (value 4) wrote
 * the model. */
static void test_grid_with_repeats(void **state)
{
    (void)state;
    struct study s = {0};
    add(&s, "ok", "lr=0.1,seed=1,kernel=rbf", "acc", 1, "max");
    add(&s, "ok", "lr=0.1,seed=2,kernel=rbf", "acc", 3, "max");
    add(&s, "ok", "lr=1,seed=1,kernel=rbf", "acc", 2, "max");
    add(&s, "ok", "lr=1,seed=2,kernel=rbf", "acc", 4, "max");
    add(&s, "failed", "lr=1,seed=3,kernel=rbf", "acc", NAN, "max");
    assert_int_equal(compute(&s, "t03", NULL, -1), 0);

    /* search: 5 trials, 1 failed; configurations are choices only (seeds
     * aside): lr 0.1 and lr 1 */
    assert_int_equal(json_integer_value(json_object_get(s.search, "trials")), 5);
    NEAR(num_at(s.search, "failure_rate"), 0.2);
    assert_int_equal(num_at(s.search, "by_status.failed"), 1);
    assert_int_equal(num_at(s.search, "distinct_configurations"), 2);
    assert_string_equal(json_string_value(json_object_get(choice(s.choices, "seed"), "role")), "seed");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.search, "kind"), "kind")),
                        "grid");
    /* compute: 5 processes x 1 s CPU, 0.5 s wall each; failed: 1 of them */
    NEAR(num_at(s.search, "compute.trials.cpu_seconds"), 5);
    NEAR(num_at(s.search, "compute.trials.wall_seconds"), 2.5);
    assert_int_equal(num_at(s.search, "compute.trials.peak_rss_kb"), 104);
    assert_int_equal(num_at(s.search, "compute.failed.processes"), 1);

    /* selection: default objective acc (max), N = 4, missing {failed: 1} */
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.sel, "objective"), "name")),
                        "acc");
    assert_int_equal(num_at(s.sel, "n"), 4);
    assert_int_equal(num_at(s.sel, "missing.failed"), 1);
    NEAR(num_at(s.sel, "best"), 4);
    NEAR(num_at(s.sel, "median"), 2.5);
    NEAR(num_at(s.sel, "worst"), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.sel, "released"), "from")),
                        "producedBy");
    assert_int_equal(num_at(s.sel, "released.rank"), 1);
    NEAR(num_at(s.sel, "released.percentile"), 100);
    /* Dodge, sorted v = 1 2 3 4: E1 = 2.5; n = 2: p = 1/16 3/16 5/16 7/16,
     * E2 = (1 + 6 + 15 + 28)/16 = 50/16 = 3.125,
     * SD2^2 = sum (v - 3.125)^2 p = (2.125^2*1 + 1.125^2*3 + 0.125^2*5 + 0.875^2*7)/16 = (4.515625 + 3.796875
     * + 0.078125 + 5.359375)/16 = 13.75/16 = 0.859375 */
    NEAR(num_at(s.sel, "expected_max.mean.0"), 2.5);
    NEAR(num_at(s.sel, "expected_max.mean.1"), 3.125);
    NEAR(num_at(s.sel, "expected_max.sd.1"), sqrt(0.859375));
    /* n = 4: p = 1 15 65 175 (/256): E4 = (1 + 30 + 195 + 700)/256 */
    NEAR(num_at(s.sel, "expected_max.mean.3"), 926.0 / 256);
    /* Tang n = 2: sum v(i) C(i-1, 1) / C(4, 2) = (0 + 2 + 6 + 12)/6 = 20/6 */
    NEAR(num_at(s.sel, "expected_max_without_replacement.mean.1"), 20.0 / 6);
    NEAR(num_at(s.sel, "expected_max_without_replacement.mean.3"), 4);

    /* noise floor: groups by params without seed: {1, 3} and {2, 4};
     * SS_within = 2 + 2, dof = 2, sd = sqrt(2); E[max of 4 N(0,1)] =
     * 1.0293753730 (Tippett); noise-only best = 2.5 + sqrt(2) * that */
    json_t *nf = json_object_get(s.sel, "noise_floor");
    assert_null(json_object_get(nf, "omitted"));
    NEAR(num_at(nf, "sd"), sqrt(2));
    assert_int_equal(num_at(nf, "repeated_configurations"), 2);
    assert_int_equal(num_at(nf, "dof"), 2);
    assert_true(fabs(num_at(nf, "emax_std_normal") - 1.0293753730) < 1e-9);
    assert_true(fabs(num_at(nf, "noise_only_expected_best") - (2.5 + sqrt(2) * 1.0293753730)) < 1e-8);
    assert_true(fabs(num_at(nf, "released_above_noise_sd") -
                     (4 - 2.5 - sqrt(2) * 1.0293753730) / sqrt(2)) < 1e-8);
    assert_string_equal(json_string_value(json_array_get(json_object_get(nf, "seed_keys"), 0)), "seed");

    /* ledger: lr varied (2 values, numeric, released "1"); kernel never */
    json_t *lr = choice(s.choices, "lr"), *kernel = choice(s.choices, "kernel");
    assert_true(json_is_true(json_object_get(lr, "varied")));
    assert_string_equal(json_string_value(json_object_get(lr, "released")), "1");
    assert_int_equal(num_at(lr, "distinct"), 2);
    NEAR(num_at(lr, "min"), 0.1);
    NEAR(num_at(lr, "max"), 1);
    /* values: "1" x3 (incl. the failed trial) first, then "0.1" x2 */
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(lr, "values"), 0), "value")), "1");
    assert_int_equal(num_at(lr, "values.0.trials"), 3);
    /* omega2 of acc by lr: means 2 and 3, grand 2.5: SS_b = 1, SS_w = 4,
     * SS_t = 5, MS_w = 4/2 = 2, omega2 = (1 - 2)/(5 + 2) = -1/7 */
    NEAR(num_at(lr, "effect.omega2"), -1.0 / 7);
    NEAR(num_at(lr, "effect.range_of_means"), 1);
    /* Spearman on log(lr): ranks x 1.5 1.5 3.5 3.5, y 1 3 2 4:
     * cov = 2, var x = 4, var y = 5 -> rho = 2 / sqrt(20) */
    NEAR(num_at(lr, "effect.spearman_rho"), 2 / sqrt(20));
    assert_true(json_is_true(json_object_get(json_object_get(lr, "effect"), "log_scale")));
    assert_false(json_is_true(json_object_get(kernel, "varied")));
    assert_non_null(strstr(json_string_value(json_object_get(kernel, "note")), "never varied"));
    assert_null(json_object_get(kernel, "effect"));
    done(&s);
}

/* A min objective: the same values as losses; the best is the smallest. */
static void test_min_objective_and_ties(void **state)
{
    (void)state;
    struct study s = {0};
    add(&s, "ok", "c=1", "loss", 0.5, "min");
    add(&s, "ok", "c=2", "loss", 0.25, "min");
    add(&s, "ok", "c=4", "loss", 0.25, "min");
    add(&s, "ok", "c=8", "loss", 1, "min");
    assert_int_equal(compute(&s, "t02", "loss", 0), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.sel, "objective"), "direction")),
                        "min");
    NEAR(num_at(s.sel, "best"), 0.25);
    NEAR(num_at(s.sel, "worst"), 1);
    /* t02 ties with t01 for the best: rank 1, 2 ties, percentile 100 */
    assert_int_equal(num_at(s.sel, "released.rank"), 1);
    assert_int_equal(num_at(s.sel, "released.ties"), 2);
    NEAR(num_at(s.sel, "released.percentile"), 100);
    /* E[min of 2] over 0.25 0.25 0.5 1 (negated: -1 -0.5 -0.25 -0.25):
     * p = 1/16 3/16 5/16 7/16 -> -(1/16 + 1.5/16 + 1.25/16 + 1.75/16) = -5.5/16 */
    NEAR(num_at(s.sel, "expected_max.mean.1"), 5.5 / 16);
    assert_non_null(json_object_get(json_object_get(s.sel, "noise_floor"), "omitted"));
    /* c: 4 distinct numeric values, grid of one key */
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.search, "kind"), "kind")),
                        "grid");
    done(&s);
}

/* N = 1: the curve is the one value; the effects and the noise are omitted. */
static void test_single_trial(void **state)
{
    (void)state;
    struct study s = {0};
    add(&s, "ok", "c=1", "acc", 80, "max");
    assert_int_equal(compute(&s, "t00", NULL, -1), 0);
    assert_int_equal(num_at(s.sel, "n"), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(s.sel, "expected_max"), "n")), 1);
    NEAR(num_at(s.sel, "expected_max.mean.0"), 80);
    NEAR(num_at(s.sel, "expected_max.sd.0"), 0);
    NEAR(num_at(s.sel, "expected_max_without_replacement.mean.0"), 80);
    assert_int_equal(num_at(s.sel, "released.rank"), 1);
    assert_non_null(json_object_get(json_object_get(s.sel, "noise_floor"), "omitted"));
    assert_false(json_is_true(json_object_get(choice(s.choices, "c"), "varied")));
    done(&s);
}

/* Every trial failed: no objective value at all is a clear error. */
static void test_all_failed(void **state)
{
    (void)state;
    struct study s = {0};
    char err[256] = "";
    add(&s, "failed", "c=1", "acc", NAN, "max");
    add(&s, "killed", "c=2", "acc", NAN, "max");
    json_t *ex = json_array();
    assert_int_equal(record_compute(s.leaf, s.n, ex, NULL, "acc", 1, NULL, &s.search, &s.sel, &s.choices,
                                    &s.refit, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "objective 'acc': no trial of the study reported it"));
    /* and with no objective named, none with a direction exists */
    assert_int_equal(record_compute(s.leaf, s.n, ex, NULL, NULL, -1, NULL, &s.search, &s.sel, &s.choices,
                                    &s.refit, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "give --objective"));
    json_decref(ex);
    s.search = s.sel = s.choices = s.refit = NULL;
    done(&s);
}

/* A refit (no objective, no nr_fold) is matched to the search trial with the
 * same framework params; its value is that trial's. */
static void test_refit(void **state)
{
    (void)state;
    struct study s = {0};
    add(&s, "ok", "fw.C=1,fw.nr_fold=5", "cv_acc", 70, "max");
    add(&s, "ok", "fw.C=8,fw.nr_fold=5", "cv_acc", 90, "max");
    add(&s, "ok", "fw.C=32,fw.nr_fold=5", "cv_acc", 85, "max");
    add(&s, "ok", "fw.C=8,fw.model_file=/m", "cv_acc", NAN, "max");
    assert_int_equal(compute(&s, "t03", NULL, -1), 0);
    assert_non_null(s.refit);
    assert_int_equal(json_array_size(json_object_get(s.refit, "trials")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s.refit, "trials"), 0)), "t01");
    json_t *ign = json_object_get(s.refit, "ignored");
    int has_fold = 0, has_model = 0;
    size_t i;
    json_t *v;
    json_array_foreach(ign, i, v)
    {
        has_fold |= !strcmp(json_string_value(v), "fw.nr_fold");
        has_model |= !strcmp(json_string_value(v), "fw.model_file");
    }
    assert_true(has_fold && has_model);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s.sel, "released"), "from")),
                        "refit_of");
    NEAR(num_at(s.sel, "released.value"), 90);
    assert_int_equal(num_at(s.sel, "released.rank"), 1);
    assert_int_equal(num_at(s.sel, "n"), 3);
    assert_int_equal(num_at(s.sel, "missing.ok"), 1);
    done(&s);
}

/* The same leaves give the same JSON (verify relies on it), and a later
 * leaf of a trial supersedes its earlier one. */
static void test_deterministic_and_revisions(void **state)
{
    (void)state;
    struct study a = {0}, b = {0};
    for (int k = 0; k < 2; k++) {
        struct study *s = k ? &b : &a;
        add(s, "ok", "c=1", "acc", 1, "max");
        add(s, "ok", "c=2", "acc", 2, "max");
        add(s, "ok", "c=3", "acc", 3, "max");
    }
    /* b: a revision of t00 (same trial uuid) that failed */
    b.leaf[3] = b.leaf[0];
    b.leaf[3].status = "failed";
    b.leaf[3].nmetrics = 0;
    b.n = 4;
    assert_int_equal(compute(&a, NULL, NULL, -1), 0);
    json_t *s1 = json_deep_copy(a.sel), *c1 = json_deep_copy(a.choices);
    json_decref(a.search);
    json_decref(a.sel);
    json_decref(a.choices);
    json_decref(a.refit);
    assert_int_equal(compute(&a, NULL, NULL, -1), 0);
    assert_true(json_equal(s1, a.sel) && json_equal(c1, a.choices));
    json_decref(s1);
    json_decref(c1);
    assert_int_equal(compute(&b, NULL, NULL, -1), 0);
    assert_int_equal(num_at(b.search, "trials"), 3);
    assert_int_equal(num_at(b.search, "revisions"), 1);
    assert_int_equal(num_at(b.search, "by_status.failed"), 1);
    assert_int_equal(num_at(b.sel, "n"), 2);
    done(&a);
    done(&b);
}

/* The role rule (roles.h) on the cases docs/RECORD.md names. */
static void test_roles(void **state)
{
    (void)state;
    const char *in[] = {"/w/data/train.csv"}, *out[] = {"/w/runs/3/m.json", "/w/run3.pt"};
    struct tt_role_files f = {in, 1, out, 2};
    char why[200];
#define ROLE(fw, exe, k, v, src) tt_param_role(fw, exe, k, v, src, &f, why, sizeof why)
    assert_int_equal(ROLE(NULL, "train", "model", "rbf", "argv"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE(NULL, "train", "model", "m.json", "argv"), TT_ROLE_PATH);
    assert_string_equal(why, "names a file the trial wrote");
    assert_int_equal(ROLE(NULL, "train", "model", "other.json", "argv"), TT_ROLE_PATH);
    assert_string_equal(why, "a file name given to a key for files");
    assert_int_equal(ROLE(NULL, "train", "out", "./run3.pt", "argv"), TT_ROLE_PATH);
    assert_int_equal(ROLE(NULL, "train", "output_dir", "runs/3", "argv"), TT_ROLE_PATH);
    assert_string_equal(why, "names a folder the trial wrote files in");
    assert_int_equal(ROLE(NULL, "train", "train", "data/train.csv", "argv"), TT_ROLE_PATH);
    assert_string_equal(why, "names a file the trial read");
    assert_int_equal(ROLE(NULL, "train", "lr", "0.1", "argv"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE(NULL, "train", "out", "3", "argv"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE(NULL, "train", "random_state", "7", "argv"), TT_ROLE_SEED);
    assert_int_equal(ROLE("libsvm", "/usr/bin/svm-train", "c", "8", "argv"), TT_ROLE_INFO);
    assert_string_equal(why, "restates libsvm.C");
    assert_int_equal(ROLE("libsvm", "/usr/bin/svm-train", "w1", "2", "argv"), TT_ROLE_INFO);
    assert_int_equal(ROLE(NULL, "/usr/bin/svm-train", "c", "8", "argv"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE("libsvm", "/usr/bin/svm-predict", "c", "8", "argv"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE("libsvm", "svm-train", "libsvm.model_file", "/w/m", "adapter"), TT_ROLE_PATH);
    assert_int_equal(ROLE("libsvm", "svm-train", "libsvm.l", "270", "adapter"), TT_ROLE_INFO);
    assert_int_equal(ROLE("libsvm", "svm-train", "libsvm.C", "8", "adapter"), TT_ROLE_CHOICE);
    assert_int_equal(ROLE("liblinear", "liblinear-train", "B", "1", "argv"), TT_ROLE_INFO);
#undef ROLE
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_with_repeats),  cmocka_unit_test(test_min_objective_and_ties),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_single_trial),       cmocka_unit_test(test_all_failed),
        cmocka_unit_test(test_refit),              cmocka_unit_test(test_deterministic_and_revisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
