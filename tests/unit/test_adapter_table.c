/* test_adapter_table.c - the table of adapters (adapters/registry.h): every
 * framework's row is linked and found by name, printed-line parsers by
 * program, refit keys per framework (and the default for a framework not in
 * the table), and the fork walk runs every registered reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

static int resets;
static void count_reset(void) { resets++; }
TT_ADAPTER_FORK(count_reset);

static void rows(void **state)
{
    const char *names[] = {"libsvm", "liblinear", "fann", "darknet"};
    assert_true(tt_adapter_count() >= 4);
    for (size_t i = 0; i < 4; i++) {
        const struct tt_adapter *a = tt_adapter_find(names[i]);
        assert_non_null(a);
        assert_string_equal(a->name, names[i]);
        assert_non_null(a->libraries);
        assert_non_null(a->libraries[0]);
    }
    assert_null(tt_adapter_find("nosuch"));
    assert_null(tt_adapter_find(NULL));
    assert_null(tt_adapter_at(tt_adapter_count()));
    assert_string_equal(tt_adapter_find("fann")->libraries[2], "libdoublefann.so");
}

static void exes(void **state)
{
    const char *with[] = {"svm-train", "svm-predict", "liblinear-train", "darknet"};
    for (size_t i = 0; i < 4; i++)
        assert_non_null(tt_adapter_exe_find(with[i]));
    assert_int_equal(tt_adapter_exe_find("svm-train")->exact_in_hooks, 1);
    assert_int_equal(tt_adapter_exe_find("liblinear-train")->exact_in_hooks, 1);
    assert_int_equal(tt_adapter_exe_find("svm-predict")->exact_in_hooks, 0);
    assert_null(tt_adapter_exe_find("svm-grid"));
    assert_null(tt_adapter_exe_find(NULL));
}

/* The rule collector/record_stats.c applied to every adapter param before
 * the table: the last field is nr_fold or model_file. */
static void refit_keys(void **state)
{
    const struct tt_adapter *svm = tt_adapter_find("libsvm"), *lin = tt_adapter_find("liblinear");
    const struct tt_adapter *fann = tt_adapter_find("fann"), *dk = tt_adapter_find("darknet");
    assert_true(tt_adapter_refit_ignored(svm, "libsvm.nr_fold"));
    assert_true(tt_adapter_refit_ignored(svm, "libsvm.model_file"));
    assert_false(tt_adapter_refit_ignored(svm, "libsvm.C"));
    assert_true(tt_adapter_refit_ignored(lin, "liblinear.nr_fold"));
    assert_true(tt_adapter_refit_ignored(lin, "liblinear.model_file"));
    assert_false(tt_adapter_refit_ignored(lin, "liblinear.solver_type"));
    assert_true(tt_adapter_refit_ignored(fann, "fann.model_file"));
    assert_false(tt_adapter_refit_ignored(fann, "fann.layer[1].activation_function"));
    assert_true(tt_adapter_refit_ignored(dk, "darknet.model_file"));
    assert_false(tt_adapter_refit_ignored(dk, "darknet.weights_file"));
    assert_false(tt_adapter_refit_ignored(dk, "darknet.net.batch"));
    /* a framework not in the table keeps the rule it always had */
    assert_true(tt_adapter_refit_ignored(NULL, "fw.nr_fold"));
    assert_true(tt_adapter_refit_ignored(NULL, "fw.model_file"));
    assert_false(tt_adapter_refit_ignored(NULL, "fw.C"));
    assert_false(tt_adapter_refit_ignored(NULL, "nr_folds"));
}

static void fork_walk(void **state)
{
    resets = 0;
    /* this test links the shim's logic without its hooks: ours is the only reset */
    assert_int_equal(tt_adapters_fork_child(), 1);
    assert_int_equal(resets, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows),
        cmocka_unit_test(exes),
        cmocka_unit_test(refit_keys),
        cmocka_unit_test(fork_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
