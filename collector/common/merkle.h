/* merkle.h - the study log's Merkle tree, hashed as RFC 9162 section 2.1:
 * leaf hash = SHA-256(0x00 || leaf bytes), node hash = SHA-256(0x01 || left ||
 * right), the tree of n leaves split at the largest power of two < n, and the
 * empty tree's hash = SHA-256(""). Pure functions over 32-byte hashes
 * (libsodium's SHA-256); no allocation unless said.
 *
 * Error convention: functions returning int give 0 on success / "holds",
 * -1 on bad arguments or "does not hold". */
#ifndef TT_MERKLE_H
#define TT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
#define MERKLE_MAX_PATH 64 /* audit paths of any tree of < 2^64 leaves */

typedef uint8_t merkle_hash[MERKLE_HASH];

void merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out);

/* MTH(D[0:n]) over n leaf hashes. Allocates O(log n) temporaries only on the
 * stack; O(n) hashing. n == 0 gives SHA-256(""). */
void merkle_root(const merkle_hash *leaves, size_t n, merkle_hash out);

/* Audit path of leaf m in the tree of the first n leaves (RFC 9162 2.1.3.1),
 * written to path[0..count-1] leaf side first. Returns count, or -1 if
 * m >= n or the path does not fit in maxpath. O(n) hashing. */
int merkle_inclusion_proof(const merkle_hash *leaves, size_t n, size_t m, merkle_hash *path,
                           size_t maxpath);

/* RFC 9162 2.1.3.2: 0 if leaf (a leaf hash) at index m with path reproduces
 * root for tree size n, else -1. */
int merkle_inclusion_verify(uint64_t m, uint64_t n, const merkle_hash leaf, const merkle_hash *path,
                            size_t pathlen, const merkle_hash root);

/* Consistency proof between the tree of the first m leaves and that of all n
 * (RFC 9162 2.1.4.1, 0 < m <= n). Returns count, or -1 on bad sizes / no room. */
int merkle_consistency_proof(const merkle_hash *leaves, size_t n, size_t m, merkle_hash *path,
                             size_t maxpath);

/* RFC 9162 2.1.4.2: 0 if path proves the tree (m, root_m) is a prefix of (n, root_n). */
int merkle_consistency_verify(uint64_t m, uint64_t n, const merkle_hash root_m,
                              const merkle_hash root_n, const merkle_hash *path, size_t pathlen);

/* The log's right edge, for appending in O(log n) without the old leaves:
 * for every bit k set in size, the root of the complete subtree of 2^k leaves
 * that bit stands for (stored by bit; entries of clear bits are unused). */
struct merkle_frontier {
    uint64_t size;
    merkle_hash h[64];
};

void merkle_frontier_init(struct merkle_frontier *f);
void merkle_frontier_append(struct merkle_frontier *f, const merkle_hash leaf);
void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out);

/* Persisted form: the hashes of the set bits, highest bit first
 * (popcount(size) * 32 bytes). encode returns the byte count written to out
 * (out has room for 64 * 32 bytes); decode returns 0, or -1 if len does not
 * match popcount(size) * 32. */
size_t merkle_frontier_encode(const struct merkle_frontier *f, uint8_t *out);
int merkle_frontier_decode(struct merkle_frontier *f, uint64_t size, const uint8_t *buf, size_t len);

#endif
