/* test_dsse.c - DSSE v1: the PAE test vector of the spec
 * (secure-systems-lab/dsse protocol.md), sign -> parse -> verify, every
 * tampering (payload byte, payload type, signature byte, other key) fails,
 * and malformed envelopes give errors that say what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "dsse.h"
#include "keys.h"

static struct tt_key key, other;

static int setup(void **st)
{
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(key.pk, key.sk);
    key.has_secret = 1;
    key_set_id(&key);
    crypto_sign_keypair(other.pk, other.sk);
    other.has_secret = 1;
    key_set_id(&other);
    return 0;
}

static void pae_matches_spec_vector(void **st)
{
    static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    size_t n = 0;
    uint8_t *p = dsse_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world", 11, &n);
    assert_non_null(p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
    free(p);
    /* empty body */
    p = dsse_pae("t", NULL, 0, &n);
    assert_non_null(p);
    assert_int_equal(n, strlen("DSSEv1 1 t 0 "));
    assert_memory_equal(p, "DSSEv1 1 t 0 ", n);
    free(p);
}

/* Signs body into a malloc'd envelope text. */
static char *sign_to_text(const char *type, const uint8_t *body, size_t len, size_t *outlen)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    assert_non_null(f);
    char err[256] = "";
    assert_int_equal(dsse_write(f, type, body, len, &key, err, sizeof err), 0);
    fclose(f);
    *outlen = blen;
    return buf;
}

static void roundtrip_and_tamper(void **st)
{
    /* sizes around base64 chunk boundaries of the streaming writer */
    size_t sizes[] = {0, 1, 2, 3, 11, 49151, 49152, 49153, 200001};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t len = sizes[si];
        uint8_t *body = malloc(len + 1);
        assert_non_null(body);
        for (size_t i = 0; i < len; i++)
            body[i] = (uint8_t)(i * 131 + 7);
        size_t tlen;
        char *text = sign_to_text(DSSE_INTOTO_TYPE, body, len, &tlen);
        assert_true(tlen > 0 && text[tlen - 1] == '\n');
        assert_null(memchr(text, '\n', tlen - 1)); /* one line */

        struct dsse_envelope env;
        char err[256] = "";
        assert_int_equal(dsse_parse(text, tlen, &env, err, sizeof err), 0);
        assert_string_equal(env.payload_type, DSSE_INTOTO_TYPE);
        assert_int_equal(env.payload_len, len);
        if (len)
            assert_memory_equal(env.payload, body, len);
        assert_int_equal(env.payload[len], 0);
        assert_int_equal(env.nsigs, 1);
        assert_string_equal(env.sigs[0].keyid, key.keyid);
        assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), 0);

        /* another key: fails, naming keyids */
        assert_int_equal(dsse_verify(&env, other.pk, err, sizeof err), -1);
        assert_non_null(strstr(err, other.keyid));
        /* one payload byte */
        if (len) {
            env.payload[len / 2] ^= 1;
            assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), -1);
            assert_non_null(strstr(err, "bad signature"));
            env.payload[len / 2] ^= 1;
        }
        /* the payload type */
        env.payload_type[0] = 'b';
        assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), -1);
        env.payload_type[0] = 'a';
        /* one signature byte */
        env.sigs[0].sig[5] ^= 0x40;
        assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), -1);
        env.sigs[0].sig[5] ^= 0x40;
        assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), 0);
        dsse_free(&env);
        free(text);
        free(body);
    }
}

/* The envelope checked with independent tools: jansson reads it as the DSSE
 * JSON shape and libsodium verifies the signature over the spec's PAE. */
static void envelope_is_plain_dsse(void **st)
{
    size_t tlen;
    char *text = sign_to_text("application/x-test \"q\"", (const uint8_t *)"hello world", 11, &tlen);
    /* the type needed JSON escaping; the parser gets it back intact */
    struct dsse_envelope env;
    char err[256];
    assert_int_equal(dsse_parse(text, tlen, &env, err, sizeof err), 0);
    assert_string_equal(env.payload_type, "application/x-test \"q\"");
    assert_string_equal((char *)env.payload, "hello world");
    static const char pae[] = "DSSEv1 22 application/x-test \"q\" 11 hello world";
    assert_int_equal(env.sigs[0].siglen, 64);
    assert_int_equal(crypto_sign_verify_detached(env.sigs[0].sig, (const uint8_t *)pae,
                                                 strlen(pae), key.pk),
                     0);
    dsse_free(&env);
    assert_non_null(strstr(text, "\"payload\":\"aGVsbG8gd29ybGQ=\""));
    free(text);
}

static void accepts_urlsafe_unpadded_and_extra_sigs(void **st)
{
    /* sign by hand, then spell payload and sig URL-safe without padding */
    const char *type = "t";
    uint8_t body[] = {0xfb, 0xff, 0xfe, 0x01};
    size_t plen;
    uint8_t *pae = dsse_pae(type, body, sizeof body, &plen);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, pae, plen, key.sk);
    free(pae);
    char b64[16], s64[100], text[512];
    sodium_bin2base64(b64, sizeof b64, body, sizeof body, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(s64, sizeof s64, sig, sizeof sig, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(text, sizeof text,
             "{\"payloadType\":\"t\",\"payload\":\"%s\",\"signatures\":"
             "[{\"sig\":\"AAAA\"},{\"keyid\":\"\",\"sig\":\"%s\"}]}",
             b64, s64);
    struct dsse_envelope env;
    char err[256];
    assert_int_equal(dsse_parse(text, strlen(text), &env, err, sizeof err), 0);
    assert_int_equal(env.payload_len, 4);
    assert_memory_equal(env.payload, body, 4);
    assert_int_equal(env.nsigs, 2);
    assert_string_equal(env.sigs[0].keyid, "");
    assert_int_equal(dsse_verify(&env, key.pk, err, sizeof err), 0);
    dsse_free(&env);
}

/* A payload whose '/' a JSON writer escaped as "\/" (taken by jansson, not
 * by the span fast path), and base64 that is not: padding in the wrong
 * place, a bad character, a dangling sextet. */
static void payload_escapes_and_bad_base64(void **st)
{
    (void)st;
    uint8_t body[] = {0xff, 0xff, 0xff, 0xfc}; /* "/////A==" */
    char b64[16], text[256], err[256];
    sodium_bin2base64(b64, sizeof b64, body, sizeof body, sodium_base64_VARIANT_ORIGINAL);
    assert_string_equal(b64, "/////A==");
    snprintf(text, sizeof text,
             "{\"payload\":\"\\/\\/\\/\\/\\/A==\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AAAA\"}]}");
    struct dsse_envelope env;
    assert_int_equal(dsse_parse(text, strlen(text), &env, err, sizeof err), 0);
    assert_int_equal(env.payload_len, 4);
    assert_memory_equal(env.payload, body, 4);
    dsse_free(&env);
    static const char *const bad[] = {"AB=C", "A===", "AB*D", "ABCDE", "ABC=D", NULL};
    for (int i = 0; bad[i]; i++) {
        snprintf(text, sizeof text,
                 "{\"payload\":\"%s\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AAAA\"}]}",
                 bad[i]);
        assert_int_equal(dsse_parse(text, strlen(text), &env, err, sizeof err), -1);
        assert_non_null(strstr(err, "not base64"));
    }
}

static void expect_parse_error(const char *text, const char *needle)
{
    struct dsse_envelope env;
    char err[256] = "";
    assert_int_equal(dsse_parse(text, strlen(text), &env, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error for %s is \"%s\", expected it to mention \"%s\"", text, err, needle);
    assert_null(env.payload_type);
    assert_null(env.sigs);
    dsse_free(&env); /* harmless after a failed parse */
}

static void malformed_envelopes(void **st)
{
    expect_parse_error("{\"payload\": ", "not JSON at line 1 column");
    expect_parse_error("[1,2]", "not a JSON object");
    expect_parse_error("{\"payload\":\"aGk=\",\"signatures\":[{\"sig\":\"AAAA\"}]}", "payloadType");
    expect_parse_error("{\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AAAA\"}]}", "payload\"");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"aGk=\"}", "signatures");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"a!Gk=\",\"signatures\":[]}",
                       "payload is not base64");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"aGk=\",\"signatures\":[]}", "empty");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"aGk=\",\"signatures\":{}}",
                       "not an array");
    expect_parse_error("{\"payloadType\":7,\"payload\":\"aGk=\",\"signatures\":[]}",
                       "not a string");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"aGk=\",\"signatures\":[{\"keyid\":\"k\"}]}",
                       "signature 1 has no \"sig\"");
    expect_parse_error(
        "{\"payloadType\":\"t\",\"payload\":\"aGk=\",\"signatures\":[{\"sig\":\"AAAA\"},{\"sig\":\"**\"}]}",
        "signature 2 \"sig\" is not base64");
    expect_parse_error("{\"payloadType\":\"t\",\"payload\":\"aGk=\",\"signatures\":[3]}",
                       "signature 1 is not an object");
}

static void write_needs_secret_and_reports_io_errors(void **st)
{
    struct tt_key pub = key;
    pub.has_secret = 0;
    char err[256] = "";
    FILE *f = fopen("/dev/null", "w");
    assert_non_null(f);
    assert_int_equal(dsse_write(f, "t", (const uint8_t *)"x", 1, &pub, err, sizeof err), -1);
    assert_non_null(strstr(err, "no secret"));
    fclose(f);
    f = fopen("/dev/full", "w");
    if (f) {
        assert_int_equal(dsse_write(f, "t", (const uint8_t *)"x", 1, &key, err, sizeof err), -1);
        assert_non_null(strstr(err, "cannot write"));
        fclose(f);
    }
}

/* The fast encoder equals libsodium's on every length and on random bytes. */
static void base64_matches_sodium(void **state)
{
    (void)state;
    uint8_t in[3000];
    char mine[4100], ref[4100];
    randombytes_buf(in, sizeof in);
    for (size_t n = 0; n < sizeof in; n += (n < 64 ? 1 : 97)) {
        size_t k = dsse_base64(mine, in, n);
        sodium_bin2base64(ref, sizeof ref, in, n, sodium_base64_VARIANT_ORIGINAL);
        assert_int_equal(k, strlen(ref));
        assert_memory_equal(mine, ref, k);
    }
    /* RFC 4648 section 10 */
    static const char *const vec[][2] = {{"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < 6; i++) {
        size_t k = dsse_base64(mine, (const uint8_t *)vec[i][0], strlen(vec[i][0]));
        assert_int_equal(k, strlen(vec[i][1]));
        assert_memory_equal(mine, vec[i][1], k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pae_matches_spec_vector),
        cmocka_unit_test(roundtrip_and_tamper),
        cmocka_unit_test(envelope_is_plain_dsse),
        cmocka_unit_test(accepts_urlsafe_unpadded_and_extra_sigs),
        cmocka_unit_test(malformed_envelopes),
        cmocka_unit_test(write_needs_secret_and_reports_io_errors),
        cmocka_unit_test(base64_matches_sodium),
        cmocka_unit_test(payload_escapes_and_bad_base64),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
