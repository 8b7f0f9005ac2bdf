/* Unit tests for plugin/shim_env.c and shim_config.c: what an exec'd child
 * gets as its environment, including after `env -i`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "shim.h"

#define SELF "/opt/tt/lib/libtunetrail.so"
#define HINT "TUNETRAIL_PARENT=00112233445566778899aabbccddeeff:42"

static const char *keep[] = {"TUNETRAIL_SOCK=/run/tt/s", "TUNETRAIL_SESSION=ffeeddccbbaa99887766554433221100"};
static const struct shim_env_ctx ctx = {SELF, HINT, 2, keep};

static int build(char *const envp[], char **out, char *buf)
{
    size_t slots = shim_env_slots(envp, ctx.nkeep), bytes = shim_env_bytes(envp, SELF);
    assert_true(slots <= 32 && bytes <= 1024);
    return shim_env_build(envp, &ctx, out, slots, buf, bytes);
}

static const char *find(char **env, const char *name)
{
    size_t n = strlen(name);
    const char *hit = NULL;
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') {
            assert_null(hit); /* never twice */
            hit = *env + n + 1;
        }
    return hit;
}

static void test_env_i(void **state)
{
    char *out[32], buf[1024];
    char *const empty[] = {NULL};
    int n = build(empty, out, buf);
    assert_int_equal(n, 4);
    assert_string_equal(find(out, "LD_PRELOAD"), SELF);
    assert_string_equal(find(out, "TUNETRAIL_SOCK"), "/run/tt/s");
    assert_string_equal(find(out, "TUNETRAIL_SESSION"), "ffeeddccbbaa99887766554433221100");
    assert_string_equal(find(out, "TUNETRAIL_PARENT"), "00112233445566778899aabbccddeeff:42");
    assert_null(out[n]);
    /* execve(path, argv, NULL) is an empty environment on Linux. */
    assert_int_equal(build(NULL, out, buf), 4);
}

static void test_keeps_other_preloads(void **state)
{
    char *out[32], buf[1024];
    char *const env[] = {"A=1", "LD_PRELOAD=/x/libfoo.so /y/libbar.so", "B=2", NULL};
    build(env, out, buf);
    assert_string_equal(find(out, "LD_PRELOAD"), "/x/libfoo.so /y/libbar.so:" SELF);
    assert_string_equal(find(out, "A"), "1");
    assert_string_equal(find(out, "B"), "2");
}

static void test_already_preloaded(void **state)
{
    char *out[32], buf[1024];
    char *const env[] = {"LD_PRELOAD=/x/libfoo.so:" SELF, NULL};
    build(env, out, buf);
    assert_ptr_equal(find(out, "LD_PRELOAD") - strlen("LD_PRELOAD="), env[0]); /* untouched */
    /* A prefix of our path is not our path. */
    char *const env2[] = {"LD_PRELOAD=" SELF ".old", NULL};
    build(env2, out, buf);
    assert_string_equal(find(out, "LD_PRELOAD"), SELF ".old:" SELF);
}

static void test_empty_preload(void **state)
{
    char *out[32], buf[1024];
    char *const env[] = {"LD_PRELOAD=", NULL};
    build(env, out, buf);
    assert_string_equal(find(out, "LD_PRELOAD"), SELF);
}

/* A child cannot leave the run by naming another socket (issue 15): the
 * run's values replace the caller's, each once; other variables pass. */
static void test_run_values_win_and_stale_parent_replaced(void **state)
{
    char *out[32], buf[1024];
    char *const env[] = {"TUNETRAIL_SOCK=/other", "TUNETRAIL_PARENT=dead:1", "TUNETRAIL_SOCKX=keep", NULL};
    build(env, out, buf);
    assert_string_equal(find(out, "TUNETRAIL_SOCK"), "/run/tt/s"); /* find: never twice */
    assert_string_equal(find(out, "TUNETRAIL_SOCKX"), "keep");
    assert_string_equal(find(out, "TUNETRAIL_PARENT"), "00112233445566778899aabbccddeeff:42");
}

static void test_short_storage(void **state)
{
    char *out[2], buf[8];
    char *const env[] = {"A=1", NULL};
    assert_int_equal(shim_env_build(env, &ctx, out, 2, buf, sizeof buf), -1);
}

static void test_config_load(void **state)
{
    static struct shim_config cfg;
    char *const env[] = {"TUNETRAIL_SOCK=/run/s", "TUNETRAIL_SESSION=00112233445566778899aabbccddeeff",
                         "TUNETRAIL_STUDY=mnist", "TUNETRAIL_HOME=/h", "HOME=/root",
                         "TUNETRAIL_DEBUG=1", "SECRET_TOKEN=x", NULL};
    assert_int_equal(shim_config_load(&cfg, env, SELF), 0);
    assert_true(cfg.enabled && cfg.debug && cfg.have_sock && cfg.have_session);
    assert_int_equal(cfg.session[0], 0x00);
    assert_int_equal(cfg.session[15], 0xff);
    assert_string_equal(cfg.sock, "/run/s");
    assert_string_equal(cfg.study, "mnist");
    assert_string_equal(cfg.spool_dir, "/h/spool");
    assert_int_equal(cfg.nkeep, 5);
    for (int i = 0; i < cfg.nkeep; i++)
        assert_null(strstr(cfg.keep[i], "SECRET"));

    char *const env2[] = {"XDG_DATA_HOME=/x", "HOME=/root", "TUNETRAIL_SESSION=zz", NULL};
    shim_config_load(&cfg, env2, NULL);
    assert_string_equal(cfg.spool_dir, "/x/tunetrail/spool");
    assert_false(cfg.have_sock || cfg.have_session || cfg.debug);
    assert_int_equal(cfg.nkeep, 1); /* kept verbatim for children even if unusable here */
    char *const env3[] = {"HOME=/root", NULL};
    shim_config_load(&cfg, env3, NULL);
    assert_string_equal(cfg.spool_dir, "/root/.local/share/tunetrail/spool");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_i),
        cmocka_unit_test(test_keeps_other_preloads),
        cmocka_unit_test(test_already_preloaded),
        cmocka_unit_test(test_empty_preload),
        cmocka_unit_test(test_run_values_win_and_stale_parent_replaced),
        cmocka_unit_test(test_short_storage),
        cmocka_unit_test(test_config_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
