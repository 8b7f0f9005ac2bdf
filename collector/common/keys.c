/* keys.c - see keys.h. ed25519 and SHA-256 are libsodium's; this file only
 * owns the key-file format and how files appear on disk.
 *
 * A key file never exists half-written: it is written to a temporary name
 * in the same directory, fsync'd, then moved in place. Without --force the
 * move is link(2), which fails if the name exists, so two processes creating
 * the same key (two collectors starting at once) cannot both win: the loser
 * sees EEXIST and reads the winner's key. */
#include "keys.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define SECRET_TAG "tunetrail-ed25519-secret v1 "
#define PUBLIC_TAG "tunetrail-ed25519-public v1 "
#define KEYFILE_MAX 512 /* both formats are < 140 bytes; anything bigger is not ours */

void key_set_id(struct tt_key *k)
{
    uint8_t h[32];
    crypto_hash_sha256(h, k->pk, sizeof k->pk);
    sodium_bin2hex(k->keyid, sizeof k->keyid, h, sizeof h);
}

char *key_default_dir(char *buf, size_t n)
{
    char *home = NULL;
    if (paths_home(&home, NULL, 0) < 0)
        return NULL;
    int len = snprintf(buf, n, "%s/keys", home);
    free(home);
    return len < 0 || (size_t)len >= n ? NULL : buf;
}

/* Writes "tag base64(bin)\n" to path with mode. replace = 0: link(2), so an
 * existing path fails with errno EEXIST; replace = 1: rename(2). */
static int write_keyfile(const char *path, const char *tag, const uint8_t *bin, size_t binlen,
                         mode_t mode, int replace, char *err, size_t errlen)
{
    char line[KEYFILE_MAX];
    char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, bin, binlen, sodium_base64_VARIANT_ORIGINAL);
    int len = snprintf(line, sizeof line, "%s%s\n", tag, b64);
    sodium_memzero(b64, sizeof b64);

    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return tt_fail(err, errlen, "%s: path too long", path);
    int fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        tt_fail(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        goto err_line;
    }
    if (fchmod(fd, mode) < 0 || write(fd, line, (size_t)len) != len || fsync(fd) < 0) {
        tt_fail(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        close(fd);
        goto err_tmp;
    }
    if (close(fd) < 0) {
        tt_fail(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto err_tmp;
    }
    if (replace ? rename(tmp, path) < 0 : link(tmp, path) < 0) {
        if (errno == EEXIST)
            tt_fail(err, errlen, "%s: exists; use --force to replace it", path);
        else
            tt_fail(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        goto err_tmp;
    }
    if (!replace)
        unlink(tmp);
    sodium_memzero(line, sizeof line);
    return 0;

err_tmp:
    {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
err_line:
    sodium_memzero(line, sizeof line);
    return -1;
}

/* Reads path, checks its tag, decodes exactly binlen bytes. secret = 1 also
 * refuses a file that others can read. errno is ENOENT if the file is missing. */
static int read_keyfile(const char *path, const char *tag, uint8_t *bin, size_t binlen, int secret,
                        char *err, size_t errlen)
{
    char buf[KEYFILE_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        tt_fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto err;
    }
    if (secret && (sb.st_mode & 077)) {
        tt_fail(err, errlen, "%s: secret key is readable by others (mode %03o); chmod 600 it",
                path, (unsigned)(sb.st_mode & 0777));
        errno = EACCES;
        goto err;
    }
    ssize_t n = read(fd, buf, KEYFILE_MAX + 1);
    if (n < 0) {
        tt_fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto err;
    }
    close(fd);
    fd = -1;
    errno = EINVAL;
    if (n > KEYFILE_MAX) {
        tt_fail(err, errlen, "%s: not a tunetrail key file (too long)", path);
        goto err;
    }
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    size_t taglen = strlen(tag);
    if (strncmp(buf, tag, taglen) != 0) {
        tt_fail(err, errlen, "%s: not a tunetrail %s key file (expected \"%.*s\")", path,
                secret ? "secret" : "public", (int)taglen - 1, tag);
        goto err;
    }
    size_t got = 0;
    if (sodium_base642bin(bin, binlen, buf + taglen, (size_t)n - taglen, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != binlen) {
        tt_fail(err, errlen, "%s: key is not %zu bytes of base64", path, binlen);
        goto err;
    }
    sodium_memzero(buf, sizeof buf);
    return 0;

err:
    if (fd >= 0)
        close(fd);
    sodium_memzero(buf, sizeof buf);
    return -1;
}

int key_load_secret(const char *path, struct tt_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (sodium_init() < 0)
        return tt_fail(err, errlen, "%s: libsodium cannot initialise", path);
    if (read_keyfile(path, SECRET_TAG, k->sk, sizeof k->sk, 1, err, errlen) < 0)
        return -1;
    /* An ed25519 secret key is seed || public key; re-deriving the public
     * half from the seed catches a file whose two halves do not belong. */
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, k->sk);
    int ok = sodium_memcmp(sk, k->sk, 64) == 0;
    sodium_memzero(sk, sizeof sk);
    if (!ok) {
        sodium_memzero(k, sizeof *k);
        errno = EINVAL;
        return tt_fail(err, errlen, "%s: damaged secret key (its public half does not match)", path);
    }
    memcpy(k->pk, pk, 32);
    k->has_secret = 1;
    key_set_id(k);
    return 0;
}

int key_load_public(const char *path, struct tt_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (sodium_init() < 0)
        return tt_fail(err, errlen, "%s: libsodium cannot initialise", path);
    if (read_keyfile(path, PUBLIC_TAG, k->pk, sizeof k->pk, 0, err, errlen) < 0)
        return -1;
    key_set_id(k);
    return 0;
}

/* NAME.pub next to NAME.key (or PATH.pub if path does not end in .key). */
int key_pub_path(const char *keypath, char *out, size_t n)
{
    size_t len = strlen(keypath);
    int r;
    if (len > 4 && !strcmp(keypath + len - 4, ".key"))
        r = snprintf(out, n, "%.*s.pub", (int)(len - 4), keypath);
    else
        r = snprintf(out, n, "%s.pub", keypath);
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

int key_generate(const char *dir, const char *name, int force, struct tt_key *k, char *err,
                 size_t errlen)
{
    char keypath[PATH_MAX], pubpath[PATH_MAX];
    struct tt_key nk;
    if (!dir || !*dir || !name || !*name || strchr(name, '/'))
        return tt_fail(err, errlen, "%s: bad key name", name ? name : "(null)");
    if (snprintf(keypath, sizeof keypath, "%s/%s.key", dir, name) >= (int)sizeof keypath ||
        key_pub_path(keypath, pubpath, sizeof pubpath) < 0)
        return tt_fail(err, errlen, "%s: path too long", dir);
    if (sodium_init() < 0)
        return tt_fail(err, errlen, "%s: libsodium cannot initialise", keypath);
    if (paths_mkdirs(dir, err, errlen) < 0)
        return -1;
    if (!force) {
        /* Check both before writing either, so a refusal leaves no half pair. */
        if (access(keypath, F_OK) == 0)
            return tt_fail(err, errlen, "%s: exists; use --force to replace it", keypath);
        if (access(pubpath, F_OK) == 0)
            return tt_fail(err, errlen, "%s: exists; use --force to replace it", pubpath);
    }
    memset(&nk, 0, sizeof nk);
    crypto_sign_keypair(nk.pk, nk.sk);
    nk.has_secret = 1;
    key_set_id(&nk);
    if (write_keyfile(keypath, SECRET_TAG, nk.sk, 64, 0600, force, err, errlen) < 0)
        goto err;
    if (write_keyfile(pubpath, PUBLIC_TAG, nk.pk, 32, 0644, force, err, errlen) < 0) {
        unlink(keypath); /* a secret key without its .pub would block the next try */
        goto err;
    }
    if (k)
        *k = nk;
    sodium_memzero(&nk, sizeof nk);
    return 0;

err:
    sodium_memzero(&nk, sizeof nk);
    return -1;
}

int key_collector(const char *path, struct tt_key *k, char *err, size_t errlen)
{
    char keypath[PATH_MAX], pubpath[PATH_MAX];
    if (path && *path) {
        if (snprintf(keypath, sizeof keypath, "%s", path) >= (int)sizeof keypath)
            return tt_fail(err, errlen, "%s: path too long", path);
    } else {
        char *home = NULL;
        if (paths_home(&home, err, errlen) < 0)
            return -1;
        int r = snprintf(keypath, sizeof keypath, "%s/collector.key", home);
        free(home);
        if (r < 0 || r >= (int)sizeof keypath)
            return tt_fail(err, errlen, "collector.key: path too long");
    }
    if (key_pub_path(keypath, pubpath, sizeof pubpath) < 0)
        return tt_fail(err, errlen, "%s: path too long", keypath);

    if (key_load_secret(keypath, k, err, errlen) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;

    /* First use: create it; if another process linked its key first, ours is
     * discarded and theirs is read back, so both sign with the same key. */
    memset(k, 0, sizeof *k);
    crypto_sign_keypair(k->pk, k->sk);
    if (write_keyfile(keypath, SECRET_TAG, k->sk, 64, 0600, 0, err, errlen) < 0) {
        sodium_memzero(k, sizeof *k);
        if (errno != EEXIST)
            return -1;
        if (key_load_secret(keypath, k, err, errlen) < 0)
            return -1;
    } else {
        k->has_secret = 1;
        key_set_id(k);
    }
    /* The .pub is derived data: (re)writing it is idempotent across racers. */
    if (write_keyfile(pubpath, PUBLIC_TAG, k->pk, 32, 0644, 1, err, errlen) < 0) {
        sodium_memzero(k, sizeof *k);
        return -1;
    }
    return 0;
}
