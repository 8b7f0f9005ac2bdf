/* checkpoint.c - see checkpoint.h. */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire.h"

/* The exact bytes checkpoint.h documents; malloc'd, *len excludes the NUL. */
static char *checkpoint_message(const char *study, uint64_t tree_size, const uint8_t root[32],
                                size_t *len)
{
    char hex[65];
    char *msg = NULL;
    sodium_bin2hex(hex, sizeof hex, root, 32);
    int n = asprintf(&msg, "tunetrail-checkpoint v1\n%s\n%llu\n%s\n", study ? study : "",
                     (unsigned long long)tree_size, hex);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return msg;
}

int checkpoint_sign(const struct tt_key *k, const char *study, uint64_t tree_size,
                    const uint8_t root[32], uint8_t sig[64])
{
    if (!k || !k->has_secret || !study || !root || !sig || sodium_init() < 0)
        return -1;
    size_t len;
    char *msg = checkpoint_message(study, tree_size, root, &len);
    if (!msg)
        return -1;
    int r = crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, k->sk);
    free(msg);
    return r == 0 ? 0 : -1;
}

int checkpoint_verify(const uint8_t pk[32], const char *study, uint64_t tree_size,
                      const uint8_t root[32], const uint8_t sig[64])
{
    if (!pk || !study || !root || !sig || sodium_init() < 0)
        return -1;
    size_t len;
    char *msg = checkpoint_message(study, tree_size, root, &len);
    if (!msg)
        return -1;
    int r = crypto_sign_verify_detached(sig, (const unsigned char *)msg, len, pk);
    free(msg);
    return r == 0 ? 0 : -1;
}

/* The exact bytes of ack_claim's message (checkpoint.h); malloc'd. */
static char *ack_message(const struct ack_claim *c, size_t *len)
{
    char hex[65];
    char *msg = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&msg, &cap);
    if (!f)
        return NULL;
    sodium_bin2hex(hex, sizeof hex, c->digest, 32);
    fprintf(f, "tunetrail-ack v1\n%s\n%llu\n%d\n%d\n%d\n", hex, (unsigned long long)c->batch_seq,
            c->status, c->stored, c->duplicates);
    for (size_t i = 0; i < c->n; i++) {
        const char *st = c->study[i] ? c->study[i] : "";
        sodium_bin2hex(hex, sizeof hex, c->root[i], 32);
        fprintf(f, "%zu:%s\n%llu\n%s\n", strlen(st), st, (unsigned long long)c->tree_size[i], hex);
    }
    if (fclose(f) != 0) {
        free(msg);
        return NULL;
    }
    *len = cap;
    return msg;
}

int ack_sign(const struct tt_key *k, const struct ack_claim *c, uint8_t sig[64])
{
    if (!k || !k->has_secret || !c || !sig || sodium_init() < 0)
        return -1;
    size_t len;
    char *msg = ack_message(c, &len);
    if (!msg)
        return -1;
    int r = crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, k->sk);
    free(msg);
    return r == 0 ? 0 : -1;
}

int ack_verify(const uint8_t pk[32], const struct ack_claim *c, const uint8_t sig[64])
{
    if (!pk || !c || !sig || sodium_init() < 0)
        return -1;
    size_t len;
    char *msg = ack_message(c, &len);
    if (!msg)
        return -1;
    int r = crypto_sign_verify_detached(sig, (const unsigned char *)msg, len, pk);
    free(msg);
    return r == 0 ? 0 : -1;
}

json_t *checkpoint_json(uint64_t tree_size, const uint8_t root[32], const uint8_t pk[32],
                        const uint8_t sig[64])
{
    char hex[65], b64k[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)],
        b64s[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    struct tt_key k;
    memcpy(k.pk, pk, 32);
    key_set_id(&k);
    sodium_bin2base64(b64k, sizeof b64k, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64s, sizeof b64s, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    return json_pack("{s:I,s:s,s:s,s:s,s:s}", "tree_size", (json_int_t)tree_size, "root",
                     sodium_bin2hex(hex, sizeof hex, root, 32), "key", b64k, "keyid", k.keyid,
                     "sig", b64s);
}

/* Exactly want bytes of standard base64 (s may be NULL). */
static int b64_exact(const char *s, uint8_t *out, size_t want)
{
    size_t n;
    return s && sodium_base642bin(out, want, s, strlen(s), NULL, &n, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 && n == want ? 0 : -1;
}

int checkpoint_json_check(json_t *o, const char *study, uint64_t *tree_size, uint8_t root[32])
{
    const char *hex = json_string_value(json_object_get(o, "root"));
    json_t *size = json_object_get(o, "tree_size");
    uint8_t pk[32], sig[64];
    size_t n;
    if (!hex || sodium_hex2bin(root, 32, hex, strlen(hex), NULL, &n, NULL) != 0 || n != 32 ||
        !json_is_integer(size) || json_integer_value(size) < 0 ||
        b64_exact(json_string_value(json_object_get(o, "key")), pk, 32) ||
        b64_exact(json_string_value(json_object_get(o, "sig")), sig, 64))
        return -1;
    *tree_size = (uint64_t)json_integer_value(size);
    return checkpoint_verify(pk, study, *tree_size, root, sig);
}
