/* dsse.h - DSSE v1 envelopes (github.com/secure-systems-lab/dsse, protocol.md
 * and envelope.md), signed with ed25519 (keys.h).
 *
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN
 * = ASCII decimal byte count, SP = one space. The signature is over PAE.
 * Envelope JSON: {"payload": base64(body), "payloadType": type,
 *                 "signatures": [{"keyid": hex, "sig": base64(sig)}]}
 * (standard base64 with padding; readers also accept URL-safe / unpadded).
 *
 * Error convention: 0 on success, -1 with a message in err[errlen]. */
#ifndef TT_DSSE_H
#define TT_DSSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"

#define DSSE_INTOTO_TYPE "application/vnd.in-toto+json"

/* Returns a malloc'd PAE buffer (caller frees) and its length in *outlen;
 * NULL on allocation failure. */
uint8_t *dsse_pae(const char *type, const uint8_t *body, size_t bodylen, size_t *outlen);

/* Signs body and writes the whole envelope (one line, then "\n") to out.
 * Written without building the JSON in memory: payloads can be tens of MB. */
int dsse_write(FILE *out, const char *type, const uint8_t *body, size_t bodylen,
               const struct tt_key *key, char *err, size_t errlen);

struct dsse_sig {
    char *keyid;    /* may be "" */
    uint8_t *sig;   /* decoded bytes */
    size_t siglen;
};

struct dsse_envelope {
    char *payload_type;
    uint8_t *payload; /* decoded, NUL-terminated for convenience (not counted) */
    size_t payload_len;
    struct dsse_sig *sigs;
    size_t nsigs;
};

/* Standard base64 (with padding) of n bytes into out, which has room for
 * 4 * ((n + 2) / 3) chars; no NUL written. Returns the length. Not
 * constant-time: for public data (payloads), much faster than libsodium's. */
size_t dsse_base64(char *out, const uint8_t *in, size_t n);

/* The PAE prefix ("DSSEv1 LEN(type) type LEN(body) ") of a body of bodylen
 * bytes, written to out; returns its length, 0 if it does not fit. */
#define DSSE_PREFIX_MAX 256
size_t dsse_pae_prefix(const char *type, size_t bodylen, char *out, size_t outsz);

/* dsse_write for a body at buf + room (bodylen bytes) with room bytes free
 * before it: the PAE prefix is written there and signed in place, sparing a
 * copy of a body of tens of MB. The body itself is left unchanged. */
int dsse_write_inplace(FILE *out, const char *type, uint8_t *buf, size_t room, size_t bodylen,
                       const struct tt_key *key, char *err, size_t errlen);

/* Parses envelope JSON text. On failure err says what is wrong ("not JSON at
 * line L column C", "payload is not base64", ...). Free with dsse_free. */
int dsse_parse(const char *text, size_t len, struct dsse_envelope *env, char *err, size_t errlen);
void dsse_free(struct dsse_envelope *env);

/* 0 if some signature of env verifies against pk over PAE(payload_type,
 * payload); -1 otherwise, err saying why (no signature by this keyid, bad
 * signature). */
int dsse_verify(const struct dsse_envelope *env, const uint8_t pk[32], char *err, size_t errlen);

#endif
