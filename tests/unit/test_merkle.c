/* test_merkle.c - RFC 9162 hashing against published vectors (the eight
 * leaves, roots, inclusion and consistency paths of transparency-dev/merkle's
 * proof/verify_test.go, which come from certificate-transparency), then
 * properties over every small tree: each generated proof verifies, any
 * flipped bit or wrong size/root fails, and the frontier agrees with the
 * whole-tree root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"

/* ---- published vectors --------------------------------------------------- */

static const char *leaf_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

/* MTH of the first 1..8 leaves. */
static const char *root_hex[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct vec {
    size_t a, b; /* inclusion: leaf index (0-based), size; consistency: m, n */
    int len;
    const char *path[3];
};

static const struct vec incl_vec[] = {
    {0, 1, 0, {0}},
    {0, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const struct vec cons_vec[] = {
    {1, 1, 0, {0}},
    {1, 8, 3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static void unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
    if (len)
        *len = n;
    else
        assert_int_equal(n, MERKLE_HASH);
}

static merkle_hash vleaves[8];
static merkle_hash vroots[8];

static int setup_vectors(void **st)
{
    (void)st;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t len;
        unhex(leaf_hex[i], data, sizeof data, &len);
        merkle_leaf_hash(data, len, vleaves[i]);
        unhex(root_hex[i], vroots[i], MERKLE_HASH, NULL);
    }
    return 0;
}

static void empty_tree_is_sha256_of_nothing(void **st)
{
    merkle_hash r, want;
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32, NULL);
    merkle_root(NULL, 0, r);
    assert_memory_equal(r, want, 32);
}

static void roots_match_vectors(void **st)
{
    for (size_t n = 1; n <= 8; n++) {
        merkle_hash r;
        merkle_root(vleaves, n, r);
        assert_memory_equal(r, vroots[n - 1], 32);
    }
}

static void inclusion_matches_vectors(void **st)
{
    for (size_t i = 0; i < sizeof incl_vec / sizeof *incl_vec; i++) {
        const struct vec *v = &incl_vec[i];
        merkle_hash want[3], got[MERKLE_MAX_PATH];
        for (int j = 0; j < v->len; j++)
            unhex(v->path[j], want[j], 32, NULL);
        int c = merkle_inclusion_proof(vleaves, v->b, v->a, got, MERKLE_MAX_PATH);
        assert_int_equal(c, v->len);
        if (c)
            assert_memory_equal(got, want, (size_t)c * 32);
        assert_int_equal(merkle_inclusion_verify(v->a, v->b, vleaves[v->a], (const merkle_hash *)want,
                                                 (size_t)v->len, vroots[v->b - 1]),
                         0);
        /* wrong index, wrong size, wrong root */
        if (v->b > 1) {
            assert_int_equal(merkle_inclusion_verify(v->a ^ 1, v->b, vleaves[v->a],
                                                     (const merkle_hash *)want, (size_t)v->len,
                                                     vroots[v->b - 1]),
                             -1);
            assert_int_equal(merkle_inclusion_verify(v->a, v->b * 2, vleaves[v->a],
                                                     (const merkle_hash *)want, (size_t)v->len,
                                                     vroots[v->b - 1]),
                             -1);
            assert_int_equal(merkle_inclusion_verify(v->a, v->b, vleaves[v->a],
                                                     (const merkle_hash *)want, (size_t)v->len,
                                                     vroots[0]),
                             -1);
        }
    }
}

static void consistency_matches_vectors(void **st)
{
    for (size_t i = 0; i < sizeof cons_vec / sizeof *cons_vec; i++) {
        const struct vec *v = &cons_vec[i];
        merkle_hash want[3], got[MERKLE_MAX_PATH];
        for (int j = 0; j < v->len; j++)
            unhex(v->path[j], want[j], 32, NULL);
        int c = merkle_consistency_proof(vleaves, v->b, v->a, got, MERKLE_MAX_PATH);
        assert_int_equal(c, v->len);
        if (c)
            assert_memory_equal(got, want, (size_t)c * 32);
        assert_int_equal(merkle_consistency_verify(v->a, v->b, vroots[v->a - 1], vroots[v->b - 1],
                                                   (const merkle_hash *)want, (size_t)v->len),
                         0);
        if (v->a != v->b) {
            /* swapped roots, an empty proof, a truncated proof */
            assert_int_equal(merkle_consistency_verify(v->a, v->b, vroots[v->b - 1],
                                                       vroots[v->a - 1], (const merkle_hash *)want,
                                                       (size_t)v->len),
                             -1);
            assert_int_equal(merkle_consistency_verify(v->a, v->b, vroots[v->a - 1],
                                                       vroots[v->b - 1], (const merkle_hash *)want, 0),
                             -1);
            assert_int_equal(merkle_consistency_verify(v->a, v->b, vroots[v->a - 1],
                                                       vroots[v->b - 1], (const merkle_hash *)want,
                                                       (size_t)v->len - 1),
                             -1);
        }
    }
}

/* ---- properties ---------------------------------------------------------- */

static merkle_hash *make_leaves(size_t n)
{
    merkle_hash *l = malloc((n ? n : 1) * sizeof *l);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "leaf %zu", i);
        merkle_leaf_hash(buf, (size_t)len, l[i]);
    }
    return l;
}

static void inclusion_all_small_trees(void **st)
{
    enum { N = 70 };
    merkle_hash *l = make_leaves(N);
    for (size_t n = 1; n <= N; n++) {
        merkle_hash root, path[MERKLE_MAX_PATH];
        merkle_root(l, n, root);
        for (size_t m = 0; m < n; m++) {
            int c = merkle_inclusion_proof(l, n, m, path, MERKLE_MAX_PATH);
            assert_true(c >= 0);
            assert_int_equal(merkle_inclusion_verify(m, n, l[m], (const merkle_hash *)path,
                                                     (size_t)c, root),
                             0);
            /* a flipped bit anywhere in the path, the leaf or the root fails */
            for (int j = 0; j < c; j++) {
                path[j][j % 32] ^= 0x10;
                assert_int_equal(merkle_inclusion_verify(m, n, l[m], (const merkle_hash *)path,
                                                         (size_t)c, root),
                                 -1);
                path[j][j % 32] ^= 0x10;
            }
            merkle_hash bad;
            memcpy(bad, l[m], 32);
            bad[31] ^= 1;
            assert_int_equal(
                merkle_inclusion_verify(m, n, bad, (const merkle_hash *)path, (size_t)c, root), -1);
            memcpy(bad, root, 32);
            bad[0] ^= 0x80;
            assert_int_equal(
                merkle_inclusion_verify(m, n, l[m], (const merkle_hash *)path, (size_t)c, bad), -1);
            /* the same path at another index or at twice the size fails
             * (sizes that give the leaf the same path shape, like 3 and 4
             * for leaf 0, legitimately share proofs) */
            if (n > 1)
                assert_int_equal(merkle_inclusion_verify((m + 1) % n, n, l[m],
                                                         (const merkle_hash *)path, (size_t)c, root),
                                 -1);
            assert_int_equal(merkle_inclusion_verify(m, 2 * n, l[m], (const merkle_hash *)path,
                                                     (size_t)c, root),
                             -1);
            /* no room for the path */
            if (c > 0)
                assert_int_equal(merkle_inclusion_proof(l, n, m, path, (size_t)c - 1), -1);
        }
        assert_int_equal(merkle_inclusion_proof(l, n, n, path, MERKLE_MAX_PATH), -1);
        assert_int_equal(merkle_inclusion_verify(n, n, l[0], (const merkle_hash *)path, 0, root), -1);
    }
    free(l);
}

static void consistency_all_small_trees(void **st)
{
    enum { N = 40 };
    merkle_hash *l = make_leaves(N);
    merkle_hash roots[N + 1];
    for (size_t n = 0; n <= N; n++)
        merkle_root(l, n, roots[n]);
    for (size_t n = 1; n <= N; n++) {
        for (size_t m = 1; m <= n; m++) {
            merkle_hash path[MERKLE_MAX_PATH];
            int c = merkle_consistency_proof(l, n, m, path, MERKLE_MAX_PATH);
            assert_true(c >= 0);
            const merkle_hash *p = (const merkle_hash *)path;
            assert_int_equal(merkle_consistency_verify(m, n, roots[m], roots[n], p, (size_t)c), 0);
            /* wrong old root, wrong new root */
            if (m > 1)
                assert_int_equal(
                    merkle_consistency_verify(m, n, roots[m - 1], roots[n], p, (size_t)c), -1);
            if (n > m) {
                assert_int_equal(
                    merkle_consistency_verify(m, n, roots[m], roots[n - 1], p, (size_t)c), -1);
                assert_int_equal(merkle_consistency_verify(m, n, roots[m], roots[n], p, 0), -1);
                assert_int_equal(
                    merkle_consistency_verify(m, 2 * n, roots[m], roots[n], p, (size_t)c), -1);
            }
            for (int j = 0; j < c; j++) {
                path[j][(j * 7) % 32] ^= 0x04;
                assert_int_equal(
                    merkle_consistency_verify(m, n, roots[m], roots[n], p, (size_t)c), -1);
                path[j][(j * 7) % 32] ^= 0x04;
            }
        }
        merkle_hash path[MERKLE_MAX_PATH];
        assert_int_equal(merkle_consistency_proof(l, n, 0, path, MERKLE_MAX_PATH), -1);
        assert_int_equal(merkle_consistency_proof(l, n, n + 1, path, MERKLE_MAX_PATH), -1);
        assert_int_equal(merkle_consistency_verify(n + 1, n, roots[n], roots[n], NULL, 0), -1);
    }
    free(l);
}

static void frontier_equals_root(void **st)
{
    enum { N = 300 };
    merkle_hash *l = make_leaves(N);
    struct merkle_frontier f, g;
    merkle_frontier_init(&f);
    uint8_t buf[64 * 32];
    for (size_t n = 0; n <= N; n++) {
        merkle_hash a, b;
        merkle_root(l, n, a);
        merkle_frontier_root(&f, b);
        assert_memory_equal(a, b, 32);
        assert_int_equal(f.size, n);

        /* the persisted form round-trips and only with the exact length */
        size_t len = merkle_frontier_encode(&f, buf);
        assert_int_equal(len, (size_t)__builtin_popcountll(n) * 32);
        assert_int_equal(merkle_frontier_decode(&g, n, buf, len), 0);
        merkle_frontier_root(&g, b);
        assert_memory_equal(a, b, 32);
        assert_int_equal(merkle_frontier_decode(&g, n, buf, len + 32), -1);
        if (len)
            assert_int_equal(merkle_frontier_decode(&g, n, buf, len - 1), -1);
        /* a decoded frontier appends like the original */
        if (n < N) {
            merkle_frontier_append(&g, l[n]);
            merkle_frontier_append(&f, l[n]);
            merkle_hash c;
            merkle_frontier_root(&g, b);
            merkle_frontier_root(&f, c);
            assert_memory_equal(b, c, 32);
        }
    }
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_tree_is_sha256_of_nothing),
        cmocka_unit_test(roots_match_vectors),
        cmocka_unit_test(inclusion_matches_vectors),
        cmocka_unit_test(consistency_matches_vectors),
        cmocka_unit_test(inclusion_all_small_trees),
        cmocka_unit_test(consistency_all_small_trees),
        cmocka_unit_test(frontier_equals_root),
    };
    return cmocka_run_group_tests(tests, setup_vectors, NULL);
}
