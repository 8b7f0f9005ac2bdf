/* keys.h - ed25519 key pairs (libsodium) for signing provenance records
 * (a user's or lab's key) and log checkpoints (a collector's key; the
 * checkpoints themselves: checkpoint.h).
 *
 * Files (text, one line each, so they paste into mail and model cards):
 *   NAME.key  "tunetrail-ed25519-secret v1 <base64 of the 64-byte secret key>\n", mode 0600
 *   NAME.pub  "tunetrail-ed25519-public v1 <base64 of the 32-byte public key>\n"
 * keyid = lowercase hex SHA-256 of the 32-byte public key.
 *
 * Error convention: 0 on success, -1 with "<file>: <what>" in err[errlen]. */
#ifndef TT_KEYS_H
#define TT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct tt_key {
    uint8_t pk[32];
    uint8_t sk[64];  /* valid only if has_secret */
    int has_secret;
    char keyid[65];  /* hex SHA-256(pk), NUL-terminated */
};

/* Default directory of the user's key pair: $TUNETRAIL_HOME/keys (created
 * 0700 by key_generate). Writes into buf; returns buf, or NULL if too long. */
char *key_default_dir(char *buf, size_t n);

/* Creates dir (0700) if missing and writes dir/name.key and dir/name.pub.
 * Refuses (-1) to overwrite an existing file unless force. k (may be NULL)
 * receives the new pair. */
int key_generate(const char *dir, const char *name, int force, struct tt_key *k, char *err,
                 size_t errlen);

/* Reads a .key file (secret + derived public key) or a .pub file (has_secret
 * = 0). A .key readable by others than its owner is refused (like ssh). */
int key_load_secret(const char *path, struct tt_key *k, char *err, size_t errlen);
int key_load_public(const char *path, struct tt_key *k, char *err, size_t errlen);

/* The collector's checkpoint-signing key: path (or, if NULL,
 * $TUNETRAIL_HOME/collector.key), created on first use with its .pub. */
int key_collector(const char *path, struct tt_key *k, char *err, size_t errlen);

/* The .pub beside a key file: NAME.key -> NAME.pub, else PATH.pub. 0/-1 (too long). */
int key_pub_path(const char *keypath, char *out, size_t n);

/* Fills k->keyid from k->pk. */
void key_set_id(struct tt_key *k);

#endif
