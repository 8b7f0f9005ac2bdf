/* curve.h - ZeroMQ CURVE keys (Z85 text, libzmq's zmq_curve_keypair) and the
 * collector's lists: which client keys are whose (--clients) and which
 * identities may write which studies (--access). docs/INTERNALS.md, "The lab
 * collector: CURVE, identities, access".
 *
 * Files:
 *   curve.key  the 40-character Z85 secret key and a newline, mode 0600
 *   curve.pub  the 40-character Z85 public key and a newline (it pastes into
 *              a clients file: `<key> alice@gpu-node-3`)
 *
 * Error convention: 0 on success, -1 with "<file>[:<line>]: <what>" in err. */
#ifndef TT_CURVE_H
#define TT_CURVE_H

#include <stddef.h>

#include "keys.h"

#define CURVE_Z85_LEN 40
#define CURVE_IDENTITY_MAX 128

/* Writes dir/curve.key (0600) and dir/curve.pub; refuses to replace either
 * unless force. pub (may be NULL) receives the public key. */
int curve_generate(const char *dir, int force, char pub[CURVE_Z85_LEN + 1], char *err,
                   size_t errlen);

/* Reads a curve.key (refused if others may read it) into secret, and its
 * public key into pub (may be NULL). */
int curve_load_secret(const char *path, char secret[CURVE_Z85_LEN + 1],
                      char pub[CURVE_Z85_LEN + 1], char *err, size_t errlen);

/* What a --collector-key file pins: a CURVE public key (a line of 40 Z85
 * characters), an ed25519 public key (a "tunetrail-ed25519-public v1" line),
 * or both, one per line. At least one, else -1. */
struct curve_pin {
    int has_curve, has_ed25519;
    char curve[CURVE_Z85_LEN + 1];
    struct tt_key ed25519;
};
int curve_load_pin(const char *path, struct curve_pin *pin, char *err, size_t errlen);

/* 1 if s is a valid CURVE key in Z85 (40 characters that decode to 32 bytes). */
int curve_z85_ok(const char *s);

/* The clients file: `<Z85 public key> <identity>` per line, `#` comments,
 * blank lines. An identity is 1-128 printable characters without spaces. */
struct curve_client {
    char key[CURVE_Z85_LEN + 1];
    char identity[CURVE_IDENTITY_MAX + 1];
};
struct curve_clients {
    struct curve_client *v;
    size_t n;
};
int curve_clients_load(const char *path, struct curve_clients *out, char *err, size_t errlen);
/* The identity of the client holding public key z85, or NULL. */
const char *curve_clients_find(const struct curve_clients *c, const char *z85);
void curve_clients_free(struct curve_clients *c);

/* The access file: `<identity glob> <study glob>` per line (fnmatch(3)),
 * `#` comments. */
struct curve_rule {
    char *identity, *study;
};
struct curve_access {
    struct curve_rule *v;
    size_t n;
};
int curve_access_load(const char *path, struct curve_access *out, char *err, size_t errlen);
/* 1 if some rule lets identity write study, else 0. */
int curve_access_allows(const struct curve_access *a, const char *identity, const char *study);
void curve_access_free(struct curve_access *a);

#endif
