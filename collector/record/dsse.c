/* dsse.c - see dsse.h. Base64 and ed25519 are libsodium's, JSON parsing is
 * jansson's.
 *
 * dsse_write streams the base64 payload in chunks straight to the FILE: a
 * record of a 100k-trial study is tens of MB, and building the JSON text
 * (or a jansson tree holding the base64 string) would hold it in memory two
 * or three more times. ed25519 (without prehashing) signs one contiguous
 * message, so dsse_write copies the body behind the PAE prefix;
 * dsse_write_inplace lets a caller leave room for the prefix instead. */
#include "dsse.h"
#include "leafscan.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

size_t dsse_pae_prefix(const char *type, size_t bodylen, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "DSSEv1 %zu %s %zu ", strlen(type), type, bodylen);
    return n < 0 || (size_t)n >= outsz ? 0 : (size_t)n;
}

uint8_t *dsse_pae(const char *type, const uint8_t *body, size_t bodylen, size_t *outlen)
{
    char head[DSSE_PREFIX_MAX];
    size_t hn = dsse_pae_prefix(type, bodylen, head, sizeof head);
    if (!hn)
        return NULL;
    uint8_t *p = malloc(hn + bodylen + 1);
    if (!p)
        return NULL;
    memcpy(p, head, hn);
    if (bodylen)
        memcpy(p + hn, body, bodylen);
    *outlen = hn + bodylen;
    return p;
}

/* Standard base64 with padding of n bytes into out (4 * ceil(n / 3) chars,
 * no NUL). libsodium's encoder is constant-time, built for secrets: 0.6 s
 * for a 75 MB payload on the VMs we measure on, the largest single cost of
 * attest; a payload is public, so a table lookup per 6 bits does. Checked
 * against sodium_bin2base64 in tests/unit/test_dsse.c. */
size_t dsse_base64(char *out, const uint8_t *in, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = tab[(v >> 6) & 63];
        o[3] = tab[v & 63];
        o += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        o[0] = tab[v >> 18];
        o[1] = tab[(v >> 12) & 63];
        o[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

/* Writes base64(data) in chunks of a few MB (a multiple of 3 bytes, so the
 * pieces concatenate to the encoding of the whole; big writes, few calls). */
static int write_base64(FILE *out, const uint8_t *data, size_t len)
{
    enum { CHUNK = 3 * (1 << 20) };
    char *buf = malloc(CHUNK / 3 * 4);
    if (!buf)
        return -1;
    for (size_t off = 0; off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        size_t k = dsse_base64(buf, data + off, n);
        if (fwrite(buf, 1, k, out) != k) {
            free(buf);
            return -1;
        }
    }
    free(buf);
    return 0;
}

struct signjob {
    const uint8_t *pae;
    size_t plen;
    const struct tt_key *key;
    uint8_t sig[64];
    int rc;
};

static void *sign_thread(void *p)
{
    struct signjob *j = p;
    j->rc = crypto_sign_detached(j->sig, NULL, j->pae, j->plen, j->key->sk);
    return NULL;
}

/* Signs the PAE that starts at pae (plen bytes) and writes the envelope of
 * body. The envelope has the payload before the signature, so the payload's
 * base64 is written while another thread signs (each is a pass over tens of
 * MB for a big study); shared by dsse_write and dsse_write_inplace. */
static int sign_and_write(FILE *out, const char *type, const uint8_t *pae, size_t plen,
                          const uint8_t *body, size_t bodylen, const struct tt_key *key, char *err,
                          size_t errlen)
{
    char sig64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    char *type_json = NULL;
    json_t *t = NULL;
    struct signjob job = {pae, plen, key, {0}, -1};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, sign_thread, &job) == 0;
    if (!threaded)
        sign_thread(&job);

    /* payloadType escaped by jansson, so any type string stays valid JSON. */
    t = json_string(type);
    int wrote = t && (type_json = json_dumps(t, JSON_ENCODE_ANY)) &&
                fputs("{\"payload\":\"", out) != EOF && write_base64(out, body, bodylen) == 0;
    int saved = errno;
    if (threaded)
        pthread_join(th, NULL);
    if (job.rc != 0) {
        tt_fail(err, errlen, "cannot sign");
        goto err;
    }
    if (!type_json) {
        tt_fail(err, errlen, "payload type is not UTF-8 text");
        goto err;
    }
    errno = saved;
    sodium_bin2base64(sig64, sizeof sig64, job.sig, sizeof job.sig, sodium_base64_VARIANT_ORIGINAL);
    if (!wrote ||
        fprintf(out, "\",\"payloadType\":%s,\"signatures\":[{\"keyid\":\"%s\",\"sig\":\"%s\"}]}\n",
                type_json, key->keyid, sig64) < 0 ||
        fflush(out) == EOF || ferror(out)) {
        tt_fail(err, errlen, "cannot write the envelope: %s", strerror(errno));
        goto err;
    }
    free(type_json);
    json_decref(t);
    return 0;

err:
    free(type_json);
    json_decref(t);
    return -1;
}

static int check_args(FILE *out, const char *type, const void *body, size_t bodylen,
                      const struct tt_key *key, char *err, size_t errlen)
{
    if (!out || !type || (bodylen && !body) || !key)
        return tt_fail(err, errlen, "dsse_write: bad arguments");
    if (!key->has_secret)
        return tt_fail(err, errlen, "signing key %s has no secret half (a .pub was given)",
                       key->keyid);
    if (sodium_init() < 0)
        return tt_fail(err, errlen, "libsodium cannot initialise");
    return 0;
}

int dsse_write(FILE *out, const char *type, const uint8_t *body, size_t bodylen,
               const struct tt_key *key, char *err, size_t errlen)
{
    if (check_args(out, type, body, bodylen, key, err, errlen) != 0)
        return -1;
    size_t plen;
    uint8_t *pae = dsse_pae(type, body, bodylen, &plen);
    if (!pae)
        return tt_fail(err, errlen, "out of memory (%zu-byte payload)", bodylen);
    int r = sign_and_write(out, type, pae, plen, body, bodylen, key, err, errlen);
    free(pae);
    return r;
}

int dsse_write_inplace(FILE *out, const char *type, uint8_t *buf, size_t room, size_t bodylen,
                       const struct tt_key *key, char *err, size_t errlen)
{
    char head[DSSE_PREFIX_MAX];
    if (check_args(out, type, buf, bodylen, key, err, errlen) != 0)
        return -1;
    size_t hn = dsse_pae_prefix(type, bodylen, head, sizeof head);
    if (!hn || hn > room)
        return tt_fail(err, errlen, "dsse_write_inplace: %zu bytes of room, the PAE prefix needs %zu",
                       room, hn);
    memcpy(buf + room - hn, head, hn);
    return sign_and_write(out, type, buf + room - hn, hn + bodylen, buf + room, bodylen, key, err,
                          errlen);
}

/* Decodes base64 in any of the spellings DSSE readers meet: standard or
 * URL-safe alphabet, with or without padding. Returns a malloc'd buffer with
 * one NUL byte after the data (not counted in *len), or NULL. */
/* Decodes standard or URL-safe base64, padded or not (DSSE readers accept
 * either). libsodium's decoder is constant-time, built for secrets, and took
 * seconds on an 80 MB record; a payload is public. NULL if s is not base64. */
static uint8_t *base64_any(const char *s, size_t slen, size_t *len)
{
    static signed char val[256];
    static int ready;
    if (!ready) {
        memset(val, -1, sizeof val);
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 62; i++)
            val[(unsigned char)a[i]] = (signed char)i;
        val['+'] = val['-'] = 62;
        val['/'] = val['_'] = 63;
        ready = 1; /* benign race: every thread writes the same table */
    }
    size_t pad = 0;
    while (pad < 2 && slen > pad && s[slen - 1 - pad] == '=')
        pad++;
    if (pad && slen % 4)
        return NULL; /* padded, but not to a multiple of 4 */
    slen -= pad;
    if (slen % 4 == 1)
        return NULL;
    uint8_t *buf = malloc(slen / 4 * 3 + 3), *o = buf;
    if (!buf)
        return NULL;
    size_t i = 0;
    for (; i + 4 <= slen; i += 4) {
        int a = val[(unsigned char)s[i]], b = val[(unsigned char)s[i + 1]],
            c = val[(unsigned char)s[i + 2]], d = val[(unsigned char)s[i + 3]];
        if ((a | b | c | d) < 0)
            goto bad;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    if (i < slen) { /* 2 or 3 chars left */
        int a = val[(unsigned char)s[i]], b = val[(unsigned char)s[i + 1]];
        int c = slen - i == 3 ? val[(unsigned char)s[i + 2]] : 0;
        if ((a | b | c) < 0)
            goto bad;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        *o++ = (uint8_t)(v >> 16);
        if (slen - i == 3)
            *o++ = (uint8_t)(v >> 8);
    }
    *o = 0;
    *len = (size_t)(o - buf);
    return buf;
bad:
    free(buf);
    return NULL;
}

/* A string member of obj, or NULL with err set. */
static const char *member_string(json_t *obj, const char *key, const char *where, size_t *len,
                                 char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        tt_fail(err, errlen, "envelope: %s has no \"%s\"", where, key);
        return NULL;
    }
    if (!json_is_string(v)) {
        tt_fail(err, errlen, "envelope: %s \"%s\" is not a string", where, key);
        return NULL;
    }
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

int dsse_parse(const char *text, size_t len, struct dsse_envelope *env, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    memset(env, 0, sizeof *env);
    if (!text)
        return tt_fail(err, errlen, "envelope: no text");
    /* The payload string is most of a big record: take it out by its span
     * (when it holds no escapes) and give jansson only the rest. */
    size_t ps, pe;
    char *rest = NULL;
    if (leafscan_member(text, len, "payload", &ps, &pe, NULL, 0) == 0 && pe - ps >= 2 &&
        text[ps] == '"' && !memchr(text + ps + 1, '\\', pe - ps - 2) &&
        (rest = malloc(len - (pe - ps) + 3))) {
        if (!(env->payload = base64_any(text + ps + 1, pe - ps - 2, &env->payload_len))) {
            free(rest);
            return tt_fail(err, errlen, "envelope: payload is not base64");
        }
        memcpy(rest, text, ps);
        memcpy(rest + ps, "\"\"", 2);
        memcpy(rest + ps + 2, text + pe, len - pe);
        root = json_loadb(rest, len - (pe - ps) + 2, 0, &jerr);
        free(rest);
    } else
        root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return tt_fail(err, errlen, "envelope: not JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(root)) {
        tt_fail(err, errlen, "envelope: not a JSON object");
        goto err;
    }

    size_t slen;
    const char *type = member_string(root, "payloadType", "the envelope", NULL, err, errlen);
    if (!type || !(env->payload_type = strdup(type))) {
        if (type)
            tt_fail(err, errlen, "out of memory");
        goto err;
    }
    const char *payload = member_string(root, "payload", "the envelope", &slen, err, errlen);
    if (!payload)
        goto err;
    if (!env->payload && !(env->payload = base64_any(payload, slen, &env->payload_len))) {
        tt_fail(err, errlen, "envelope: payload is not base64");
        goto err;
    }

    json_t *sigs = json_object_get(root, "signatures");
    if (!sigs) {
        tt_fail(err, errlen, "envelope: the envelope has no \"signatures\"");
        goto err;
    }
    if (!json_is_array(sigs)) {
        tt_fail(err, errlen, "envelope: \"signatures\" is not an array");
        goto err;
    }
    size_t n = json_array_size(sigs);
    if (n == 0) {
        tt_fail(err, errlen, "envelope: \"signatures\" is empty (the envelope is not signed)");
        goto err;
    }
    if (!(env->sigs = calloc(n, sizeof *env->sigs))) {
        tt_fail(err, errlen, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(sigs, i);
        char where[32];
        snprintf(where, sizeof where, "signature %zu", i + 1);
        if (!json_is_object(s)) {
            tt_fail(err, errlen, "envelope: %s is not an object", where);
            goto err;
        }
        struct dsse_sig *d = &env->sigs[i];
        env->nsigs = i + 1; /* so dsse_free releases what is filled so far */
        json_t *kid = json_object_get(s, "keyid");
        if (kid && !json_is_string(kid)) {
            tt_fail(err, errlen, "envelope: %s \"keyid\" is not a string", where);
            goto err;
        }
        if (!(d->keyid = strdup(kid ? json_string_value(kid) : ""))) {
            tt_fail(err, errlen, "out of memory");
            goto err;
        }
        const char *sig = member_string(s, "sig", where, &slen, err, errlen);
        if (!sig)
            goto err;
        if (!(d->sig = base64_any(sig, slen, &d->siglen))) {
            tt_fail(err, errlen, "envelope: %s \"sig\" is not base64", where);
            goto err;
        }
    }
    json_decref(root);
    return 0;

err:
    json_decref(root);
    dsse_free(env);
    return -1;
}

void dsse_free(struct dsse_envelope *env)
{
    if (!env)
        return;
    free(env->payload_type);
    free(env->payload);
    for (size_t i = 0; i < env->nsigs; i++) {
        free(env->sigs[i].keyid);
        free(env->sigs[i].sig);
    }
    free(env->sigs);
    memset(env, 0, sizeof *env);
}

int dsse_verify(const struct dsse_envelope *env, const uint8_t pk[32], char *err, size_t errlen)
{
    if (!env || !env->payload_type || !pk)
        return tt_fail(err, errlen, "dsse_verify: bad arguments");
    if (sodium_init() < 0)
        return tt_fail(err, errlen, "libsodium cannot initialise");
    if (env->nsigs == 0)
        return tt_fail(err, errlen, "the envelope has no signature");

    struct tt_key want;
    memset(&want, 0, sizeof want);
    memcpy(want.pk, pk, 32);
    key_set_id(&want);

    size_t plen;
    uint8_t *pae = dsse_pae(env->payload_type, env->payload, env->payload_len, &plen);
    if (!pae)
        return tt_fail(err, errlen, "out of memory");
    /* The keyid is only a hint (DSSE allows it empty): every signature is
     * tried, and the keyids only shape the message when none verifies. */
    int ok = 0, named = 0;
    for (size_t i = 0; i < env->nsigs && !ok; i++) {
        const struct dsse_sig *s = &env->sigs[i];
        if (s->keyid && !strcmp(s->keyid, want.keyid))
            named = 1;
        if (s->siglen == crypto_sign_BYTES &&
            crypto_sign_verify_detached(s->sig, pae, plen, pk) == 0)
            ok = 1;
    }
    free(pae);
    if (ok)
        return 0;
    if (named)
        return tt_fail(err, errlen,
                       "bad signature: the signature by keyid %s does not verify "
                       "(the payload, its type or the signature was changed)",
                       want.keyid);
    return tt_fail(err, errlen,
                   "no signature by keyid %s verifies (the envelope is signed by keyid %s%s)",
                   want.keyid, env->sigs[0].keyid && *env->sigs[0].keyid ? env->sigs[0].keyid : "(none given)",
                   env->nsigs > 1 ? " and others" : "");
}
