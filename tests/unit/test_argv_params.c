/* test_argv_params.c - the generic argv parser behind pattern/root trials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "argv_params.h"

#define PARSE(...)                                                              \
    char *av[] = {__VA_ARGS__};                                                 \
    struct argv_param *p;                                                       \
    size_t n;                                                                   \
    assert_int_equal(argv_params_parse((int)(sizeof av / sizeof *av), av, &p, &n), 0)

static void expect(struct argv_param *p, size_t i, const char *k, const char *v)
{
    assert_string_equal(p[i].key, k);
    assert_string_equal(p[i].value, v);
}

static void svm_train(void **st)
{
    PARSE("svm-train", "-c", "8", "-g", "0.5", "-v", "5", "heart_scale");
    assert_int_equal(n, 3);
    expect(p, 0, "c", "8");
    expect(p, 1, "g", "0.5");
    expect(p, 2, "v", "5");
    argv_params_free(p, n);
}

static void long_forms(void **st)
{
    PARSE("train", "--lr", "0.1", "--epochs=3", "batch=64", "--name=");
    assert_int_equal(n, 4);
    expect(p, 0, "lr", "0.1");
    expect(p, 1, "epochs", "3");
    expect(p, 2, "batch", "64");
    expect(p, 3, "name", "");
    argv_params_free(p, n);
}

static void negatives_are_values(void **st)
{
    PARSE("t", "-g", "-0.5", "-e", "1e-3", "--bias", "-1");
    assert_int_equal(n, 3);
    expect(p, 0, "g", "-0.5");
    expect(p, 1, "e", "1e-3");
    expect(p, 2, "bias", "-1");
    argv_params_free(p, n);
}

static void booleans(void **st)
{
    PARSE("t", "--verbose", "--lr", "0.1", "-q");
    assert_int_equal(n, 3);
    expect(p, 0, "verbose", "true");
    expect(p, 1, "lr", "0.1");
    expect(p, 2, "q", "true");
    argv_params_free(p, n);
}

static void positionals_and_empties(void **st)
{
    PARSE("t", "data.csv", "", "-", "/x/a=b.csv", "--", "--after", "1");
    assert_int_equal(n, 0);
    assert_null(p);
}

static void only_program(void **st)
{
    PARSE("t");
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(svm_train),       cmocka_unit_test(long_forms),
        cmocka_unit_test(negatives_are_values), cmocka_unit_test(booleans),
        cmocka_unit_test(positionals_and_empties), cmocka_unit_test(only_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
