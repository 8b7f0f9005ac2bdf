/* checkpoint.h - a study log's signed checkpoint: what a collector signs
 * after a transaction grew the log, returns with its acks, and a record
 * carries (docs/RECORD.md).
 *
 * Error convention: 0 / -1; nothing here prints. */
#ifndef TT_CHECKPOINT_H
#define TT_CHECKPOINT_H

#include <stdint.h>

#include <jansson.h>

#include "keys.h"

/* Signed log checkpoints. The signed message is the text
 *   "tunetrail-checkpoint v1\n<study>\n<tree_size>\n<root, lowercase hex>\n"
 * checkpoint_sign: k must have its secret. verify: 0 if sig is valid for pk. */
int checkpoint_sign(const struct tt_key *k, const char *study, uint64_t tree_size,
                    const uint8_t root[32], uint8_t sig[64]);
int checkpoint_verify(const uint8_t pk[32], const char *study, uint64_t tree_size,
                      const uint8_t root[32], const uint8_t sig[64]);

/* A signed checkpoint as JSON, the form records and receipts carry:
 * {"tree_size", "root": hex, "key": base64 public key, "keyid", "sig": base64}.
 * New reference; NULL if out of memory. */
json_t *checkpoint_json(uint64_t tree_size, const uint8_t root[32], const uint8_t pk[32],
                        const uint8_t sig[64]);

/* Reads that form back and checks its signature for study: 0 with
 * *tree_size and root[32] filled, or -1 if a field is missing or malformed
 * or the signature does not verify. */
int checkpoint_json_check(json_t *o, const char *study, uint64_t *tree_size, uint8_t root[32]);

/* Signed acks (proto Ack fields 71-73): the collector's word that it
 * committed the batch whose BLAKE2b-256 digest is digest. The signed message is
 *   "tunetrail-ack v1\n<digest hex>\n<batch_seq>\n<status>\n<stored>\n<duplicates>\n"
 * then, per checkpoint of the ack, "<study byte length>:<study>\n<tree_size>\n<root hex>\n".
 * ack_verify: 0 if sig is valid for pk. */
struct ack_claim {
    uint8_t digest[32];
    uint64_t batch_seq;
    int status, stored, duplicates;
    size_t n;               /* checkpoints */
    const char *const *study;
    const uint64_t *tree_size;
    const uint8_t (*root)[32];
};
int ack_sign(const struct tt_key *k, const struct ack_claim *c, uint8_t sig[64]);
int ack_verify(const uint8_t pk[32], const struct ack_claim *c, const uint8_t sig[64]);

#endif
