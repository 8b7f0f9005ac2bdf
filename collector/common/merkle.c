/* merkle.c - see merkle.h. RFC 9162 section 2.1, with libsodium's SHA-256.
 *
 * Trees are built bottom-up through a frontier (the right edge of the tree
 * appended so far), so MTH over n leaves costs n - 1 node hashes and a fixed
 * 2 KiB of stack, whatever n is. Proof generation recurses on the RFC's
 * definitions (depth <= 64) and hashes each leaf range once. */
#include "merkle.h"

#include <string.h>

#include <sodium.h>

void merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out)
{
    uint8_t buf[1 + 2 * MERKLE_HASH];
    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH);
    memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* ---- frontier ------------------------------------------------------------ */

void merkle_frontier_init(struct merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

void merkle_frontier_append(struct merkle_frontier *f, const merkle_hash leaf)
{
    merkle_hash cur;
    memcpy(cur, leaf, MERKLE_HASH);
    /* Like a binary increment: every set low bit is a complete subtree of the
     * same size as cur, which merges with it and carries upward. */
    unsigned k = 0;
    while (k < 64 && (f->size >> k) & 1) {
        merkle_node_hash(f->h[k], cur, cur);
        k++;
    }
    if (k < 64)
        memcpy(f->h[k], cur, MERKLE_HASH);
    f->size++;
}

void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out)
{
    if (f->size == 0) {
        crypto_hash_sha256(out, (const unsigned char *)"", 0);
        return;
    }
    /* The RFC splits at the largest power of two, so the smallest subtree is
     * the deepest right child: fold from the lowest set bit upward. */
    merkle_hash acc;
    int have = 0;
    for (unsigned k = 0; k < 64; k++) {
        if (!((f->size >> k) & 1))
            continue;
        if (!have) {
            memcpy(acc, f->h[k], MERKLE_HASH);
            have = 1;
        } else {
            merkle_node_hash(f->h[k], acc, acc);
        }
    }
    memcpy(out, acc, MERKLE_HASH);
}

size_t merkle_frontier_encode(const struct merkle_frontier *f, uint8_t *out)
{
    size_t n = 0;
    for (int k = 63; k >= 0; k--) {
        if ((f->size >> k) & 1) {
            memcpy(out + n, f->h[k], MERKLE_HASH);
            n += MERKLE_HASH;
        }
    }
    return n;
}

int merkle_frontier_decode(struct merkle_frontier *f, uint64_t size, const uint8_t *buf, size_t len)
{
    if (!f || (len && !buf) || len != (size_t)__builtin_popcountll(size) * MERKLE_HASH)
        return -1;
    merkle_frontier_init(f);
    f->size = size;
    size_t n = 0;
    for (int k = 63; k >= 0; k--) {
        if ((size >> k) & 1) {
            memcpy(f->h[k], buf + n, MERKLE_HASH);
            n += MERKLE_HASH;
        }
    }
    return 0;
}

/* ---- whole trees and proofs ---------------------------------------------- */

void merkle_root(const merkle_hash *leaves, size_t n, merkle_hash out)
{
    struct merkle_frontier f;
    merkle_frontier_init(&f);
    for (size_t i = 0; i < n; i++)
        merkle_frontier_append(&f, leaves[i]);
    merkle_frontier_root(&f, out);
}

/* Largest power of two strictly below n (n >= 2): the RFC's split point k. */
static size_t split(size_t n)
{
    size_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

static int push(merkle_hash *path, size_t maxpath, size_t *count, const merkle_hash h)
{
    if (*count >= maxpath)
        return -1;
    memcpy(path[(*count)++], h, MERKLE_HASH);
    return 0;
}

/* PATH(m, D[n]) of RFC 9162 2.1.3.1; the deepest sibling is pushed first. */
static int inclusion(const merkle_hash *d, size_t n, size_t m, merkle_hash *path, size_t maxpath,
                     size_t *count)
{
    if (n <= 1)
        return 0;
    size_t k = split(n);
    merkle_hash sib;
    if (m < k) {
        if (inclusion(d, k, m, path, maxpath, count) < 0)
            return -1;
        merkle_root(d + k, n - k, sib);
    } else {
        if (inclusion(d + k, n - k, m - k, path, maxpath, count) < 0)
            return -1;
        merkle_root(d, k, sib);
    }
    return push(path, maxpath, count, sib);
}

int merkle_inclusion_proof(const merkle_hash *leaves, size_t n, size_t m, merkle_hash *path,
                           size_t maxpath)
{
    if (!leaves || m >= n || (maxpath && !path))
        return -1;
    size_t count = 0;
    if (inclusion(leaves, n, m, path, maxpath, &count) < 0)
        return -1;
    return (int)count;
}

/* SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1. */
static int subproof(const merkle_hash *d, size_t n, size_t m, int b, merkle_hash *path,
                    size_t maxpath, size_t *count)
{
    merkle_hash h;
    if (m == n) {
        if (b)
            return 0;
        merkle_root(d, n, h);
        return push(path, maxpath, count, h);
    }
    size_t k = split(n);
    if (m <= k) {
        if (subproof(d, k, m, b, path, maxpath, count) < 0)
            return -1;
        merkle_root(d + k, n - k, h);
    } else {
        if (subproof(d + k, n - k, m - k, 0, path, maxpath, count) < 0)
            return -1;
        merkle_root(d, k, h);
    }
    return push(path, maxpath, count, h);
}

int merkle_consistency_proof(const merkle_hash *leaves, size_t n, size_t m, merkle_hash *path,
                             size_t maxpath)
{
    if (!leaves || m == 0 || m > n || (maxpath && !path))
        return -1;
    size_t count = 0;
    if (subproof(leaves, n, m, 1, path, maxpath, &count) < 0)
        return -1;
    return (int)count;
}

/* ---- verification (RFC 9162 2.1.3.2 and 2.1.4.2, step by step) ----------- */

int merkle_inclusion_verify(uint64_t m, uint64_t n, const merkle_hash leaf, const merkle_hash *path,
                            size_t pathlen, const merkle_hash root)
{
    if (!leaf || !root || (pathlen && !path) || m >= n)
        return -1;
    uint64_t fn = m, sn = n - 1;
    merkle_hash r;
    memcpy(r, leaf, MERKLE_HASH);
    for (size_t i = 0; i < pathlen; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(path[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(r, root, MERKLE_HASH) != 0)
        return -1;
    return 0;
}

int merkle_consistency_verify(uint64_t m, uint64_t n, const merkle_hash root_m,
                              const merkle_hash root_n, const merkle_hash *path, size_t pathlen)
{
    if (!root_m || !root_n || (pathlen && !path) || m > n)
        return -1;
    /* The empty tree is a prefix of every tree, and a tree of itself; both
     * have the empty proof (the RFC's algorithm starts at 0 < m < n). */
    if (m == 0)
        return pathlen == 0 ? 0 : -1;
    if (m == n)
        return pathlen == 0 && sodium_memcmp(root_m, root_n, MERKLE_HASH) == 0 ? 0 : -1;
    if (pathlen == 0)
        return -1;

    size_t i = 0;
    merkle_hash fr, sr;
    if ((m & (m - 1)) == 0) {
        /* m is a power of two: the old root is itself a node of the new tree
         * and is implicitly the first element of the path. */
        memcpy(fr, root_m, MERKLE_HASH);
    } else {
        memcpy(fr, path[0], MERKLE_HASH);
        i = 1;
    }
    memcpy(sr, fr, MERKLE_HASH);
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < pathlen; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(path[i], fr, fr);
            merkle_node_hash(path[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(fr, root_m, MERKLE_HASH) != 0 ||
        sodium_memcmp(sr, root_n, MERKLE_HASH) != 0)
        return -1;
    return 0;
}
