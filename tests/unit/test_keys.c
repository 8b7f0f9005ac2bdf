/* test_keys.c - key files as keys.h documents them: generate -> load gives
 * the same pair, the formats are exact, .key is 0600 and refused when
 * others can read it, no overwrite without force, damaged files are named in
 * the error; checkpoints sign the documented message; the collector key is
 * created once even when several processes ask for it at the same moment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "checkpoint.h"
#include "keys.h"

static char dir[64];

static int setup(void **st)
{
    if (sodium_init() < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/tt_keys_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    setenv("TUNETRAIL_HOME", dir, 1);
    return 0;
}

static int teardown(void **st)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
    static char buf[1024];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void spew(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void generate_then_load(void **st)
{
    char d[128], kp[160], pp[160], err[512];
    snprintf(d, sizeof d, "%s/a/b", dir); /* parents created too */
    struct tt_key k, s, p;
    assert_int_equal(key_generate(d, "lab", 0, &k, err, sizeof err), 0);
    snprintf(kp, sizeof kp, "%s/lab.key", d);
    snprintf(pp, sizeof pp, "%s/lab.pub", d);

    struct stat sb;
    assert_int_equal(stat(kp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(d, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* exact one-line formats */
    char want[256], b64[100];
    sodium_bin2base64(b64, sizeof b64, k.pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "tunetrail-ed25519-public v1 %s\n", b64);
    assert_string_equal(slurp(pp), want);
    sodium_bin2base64(b64, sizeof b64, k.sk, 64, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "tunetrail-ed25519-secret v1 %s\n", b64);
    assert_string_equal(slurp(kp), want);

    assert_int_equal(key_load_secret(kp, &s, err, sizeof err), 0);
    assert_true(s.has_secret);
    assert_memory_equal(s.sk, k.sk, 64);
    assert_memory_equal(s.pk, k.pk, 32);
    assert_int_equal(key_load_public(pp, &p, err, sizeof err), 0);
    assert_false(p.has_secret);
    assert_memory_equal(p.pk, k.pk, 32);

    /* keyid = hex SHA-256(pk) */
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, k.pk, 32);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    assert_string_equal(k.keyid, hex);
    assert_string_equal(s.keyid, hex);
    assert_string_equal(p.keyid, hex);

    /* no overwrite without force, naming the file; force replaces */
    assert_int_equal(key_generate(d, "lab", 0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, kp));
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(key_generate(d, "lab", 1, &s, err, sizeof err), 0);
    assert_memory_not_equal(s.pk, k.pk, 32);
    assert_int_equal(key_load_public(pp, &p, err, sizeof err), 0);
    assert_memory_equal(p.pk, s.pk, 32);

    /* a .pub alone also blocks, named */
    unlink(kp);
    assert_int_equal(key_generate(d, "lab", 0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, pp));

    /* a secret key others can read is refused, like ssh */
    assert_int_equal(key_generate(d, "open", 0, NULL, err, sizeof err), 0);
    snprintf(kp, sizeof kp, "%s/open.key", d);
    chmod(kp, 0644);
    assert_int_equal(key_load_secret(kp, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, kp));
    assert_non_null(strstr(err, "readable by others"));
}

static void bad_files(void **st)
{
    char p[160], err[512];
    struct tt_key k;
    snprintf(p, sizeof p, "%s/missing.key", dir);
    assert_int_equal(key_load_secret(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, p));

    snprintf(p, sizeof p, "%s/junk.pub", dir);
    spew(p, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n", 0644);
    assert_int_equal(key_load_public(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "not a tunetrail public key file"));

    spew(p, "tunetrail-ed25519-public v1 AAAA\n", 0644);
    assert_int_equal(key_load_public(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not 32 bytes"));

    /* a secret key whose public half does not match its seed */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    sk[40] ^= 1;
    char b64[100], line[200];
    sodium_bin2base64(b64, sizeof b64, sk, 64, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, "tunetrail-ed25519-secret v1 %s\n", b64);
    snprintf(p, sizeof p, "%s/damaged.key", dir);
    spew(p, line, 0600);
    assert_int_equal(key_load_secret(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "damaged"));

    /* a .pub given where the secret is needed */
    snprintf(p, sizeof p, "%s/junk.pub", dir);
    spew(p, "tunetrail-ed25519-public v1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0600);
    assert_int_equal(key_load_secret(p, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a tunetrail secret key file"));
}

static void checkpoints(void **st)
{
    struct tt_key k;
    char err[512], d[128];
    snprintf(d, sizeof d, "%s/cp", dir);
    assert_int_equal(key_generate(d, "c", 0, &k, err, sizeof err), 0);
    uint8_t root[32], sig[64];
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)i;
    assert_int_equal(checkpoint_sign(&k, "demo", 42, root, sig), 0);
    assert_int_equal(checkpoint_verify(k.pk, "demo", 42, root, sig), 0);

    /* the signed bytes are exactly the documented message */
    static const char msg[] = "tunetrail-checkpoint v1\ndemo\n42\n"
                              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)msg, strlen(msg), k.pk), 0);

    assert_int_equal(checkpoint_verify(k.pk, "demo2", 42, root, sig), -1);
    assert_int_equal(checkpoint_verify(k.pk, "demo", 41, root, sig), -1);
    root[31] ^= 1;
    assert_int_equal(checkpoint_verify(k.pk, "demo", 42, root, sig), -1);
    root[31] ^= 1;
    sig[0] ^= 1;
    assert_int_equal(checkpoint_verify(k.pk, "demo", 42, root, sig), -1);

    struct tt_key pub = k;
    pub.has_secret = 0;
    assert_int_equal(checkpoint_sign(&pub, "demo", 42, root, sig), -1);
}

static void collector_key_created_once(void **st)
{
    /* default path under TUNETRAIL_HOME, stable across calls */
    struct tt_key a, b;
    char err[512], p[160];
    assert_int_equal(key_collector(NULL, &a, err, sizeof err), 0);
    assert_true(a.has_secret);
    assert_int_equal(key_collector(NULL, &b, err, sizeof err), 0);
    assert_memory_equal(a.pk, b.pk, 32);
    snprintf(p, sizeof p, "%s/collector.pub", dir);
    assert_int_equal(key_load_public(p, &b, err, sizeof err), 0);
    assert_memory_equal(a.pk, b.pk, 32);

    /* many processes racing for a fresh key all end up with the same one */
    enum { NPROC = 8 };
    snprintf(p, sizeof p, "%s/race/ck.key", dir);
    char d[160];
    snprintf(d, sizeof d, "%s/race", dir);
    mkdir(d, 0700);
    int fds[NPROC][2];
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct tt_key k;
            char e[512];
            int ok = key_collector(p, &k, e, sizeof e) == 0;
            if (!ok)
                fprintf(stderr, "child: %s\n", e);
            uint8_t out[33];
            out[0] = (uint8_t)ok;
            memcpy(out + 1, k.pk, 32);
            _exit(write(fds[i][1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
        }
        close(fds[i][1]);
    }
    uint8_t first[32];
    for (int i = 0; i < NPROC; i++) {
        uint8_t in[33];
        assert_int_equal(read(fds[i][0], in, sizeof in), sizeof in);
        close(fds[i][0]);
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_int_equal(status, 0);
        assert_int_equal(in[0], 1);
        if (i == 0)
            memcpy(first, in + 1, 32);
        else
            assert_memory_equal(first, in + 1, 32);
    }
    assert_int_equal(key_load_secret(p, &a, err, sizeof err), 0);
    assert_memory_equal(first, a.pk, 32);
}

static void default_dir(void **st)
{
    char buf[256], want[256];
    assert_non_null(key_default_dir(buf, sizeof buf));
    snprintf(want, sizeof want, "%s/keys", dir);
    assert_string_equal(buf, want);
    assert_null(key_default_dir(buf, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_then_load),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(checkpoints),
        cmocka_unit_test(collector_key_created_once),
        cmocka_unit_test(default_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
