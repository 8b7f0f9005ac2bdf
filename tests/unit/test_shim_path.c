/* Unit tests for plugin/shim_path.c: normalising, absolutising, skipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static void norm(const char *in, const char *want)
{
    char buf[PATH_MAX];
    strcpy(buf, in);
    shim_path_normalize(buf);
    assert_string_equal(buf, want);
}

static void test_normalize(void **state)
{
    norm("/", "/");
    norm("/a/b", "/a/b");
    norm("//a///b/", "/a/b");
    norm("/a/./b/.", "/a/b");
    norm("/a/b/../c", "/a/c");
    norm("/a/../../..", "/");
    norm("/a/b/..", "/a");
    norm("/./", "/");
    norm("/a/..b/.c", "/a/..b/.c");
}

static void test_absolute_cwd(void **state)
{
    char cwd[PATH_MAX], out[PATH_MAX], want[PATH_MAX * 2];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(shim_path_absolute(AT_FDCWD, "x/./y", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/x/y", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(out, want);
    assert_int_equal(shim_path_absolute(AT_FDCWD, "/etc/../etc/passwd", out, sizeof out), 0);
    assert_string_equal(out, "/etc/passwd");
}

static void test_absolute_dirfd(void **state)
{
    char out[PATH_MAX];
    int d = open("/usr/share", O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(shim_path_absolute(d, "doc/../x", out, sizeof out), 0);
    assert_string_equal(out, "/usr/share/x");
    close(d);
    /* An fd that is not open cannot be resolved: no guessing. */
    assert_int_equal(shim_path_absolute(987654, "x", out, sizeof out), -1);
}

static void test_absolute_too_long(void **state)
{
    char out[16];
    assert_int_equal(shim_path_absolute(AT_FDCWD, "/a/very/long/path/indeed", out, sizeof out), -1);
}

static void test_skip(void **state)
{
    assert_true(shim_path_skip("/proc/self/maps"));
    assert_true(shim_path_skip("/proc"));
    assert_true(shim_path_skip("/sys/fs"));
    assert_true(shim_path_skip("/dev/null"));
    assert_false(shim_path_skip("/device/x"));
    assert_false(shim_path_skip("/process.txt"));
    assert_false(shim_path_skip("/home/u/data.csv"));
}

/* The Python hook's own files (TUNETRAIL_PYTHON, as the agent sets it). */
static void test_ours(void **state)
{
    char *env[] = {"TUNETRAIL_PYTHON=/opt/tt/lib/tunetrail/python/", NULL};
    shim_config_load(&shim_cfg, env, NULL);
    assert_true(shim_path_ours("/opt/tt/lib/tunetrail/python/sitecustomize.py"));
    assert_true(shim_path_ours("/opt/tt/lib/tunetrail/python/tunetrail_hook/__pycache__/x.pyc"));
    assert_false(shim_path_ours("/opt/tt/lib/tunetrail/python2/x.py"));
    assert_false(shim_path_ours("/home/u/train.py"));
    char *off[] = {"TUNETRAIL_PYTHON=0", NULL};
    shim_config_load(&shim_cfg, off, NULL);
    assert_false(shim_path_ours("/opt/tt/lib/tunetrail/python/sitecustomize.py"));
}

static void test_fopen_flags(void **state)
{
    assert_int_equal(shim_file_fopen_flags("r") & O_ACCMODE, O_RDONLY);
    assert_int_equal(shim_file_fopen_flags("rb") & O_ACCMODE, O_RDONLY);
    assert_int_equal(shim_file_fopen_flags("r+") & O_ACCMODE, O_RDWR);
    assert_int_equal(shim_file_fopen_flags("w") & O_ACCMODE, O_WRONLY);
    assert_int_equal(shim_file_fopen_flags("ae") & O_ACCMODE, O_WRONLY);
    assert_int_equal(shim_file_fopen_flags("w+") & O_ACCMODE, O_RDWR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),      cmocka_unit_test(test_absolute_cwd),
        cmocka_unit_test(test_absolute_dirfd), cmocka_unit_test(test_absolute_too_long),
        cmocka_unit_test(test_skip),           cmocka_unit_test(test_ours),
        cmocka_unit_test(test_fopen_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
