/* curve.c - see curve.h. The keys are libzmq's (zmq_curve_keypair,
 * zmq_curve_public, zmq_z85_decode); this file owns their files and the
 * collector's two lists. */
#include "curve.h"
#include "paths.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#define ED_TAG "tunetrail-ed25519-public v1 "
#define LINE_MAX_LEN 4096

int curve_z85_ok(const char *s)
{
    uint8_t bin[32];
    if (strlen(s) != CURVE_Z85_LEN)
        return 0;
    return zmq_z85_decode(bin, s) != NULL;
}

/* Writes text to path (mode) without replacing an existing file unless force. */
static int write_text(const char *path, const char *text, mode_t mode, int force, char *err,
                      size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
    if (fd < 0)
        return tt_fail(err, errlen, "%s: cannot create: %s", path, strerror(errno));
    size_t len = strlen(text);
    int bad = write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0 || fsync(fd) < 0;
    int e = errno;
    if (close(fd) < 0 && !bad)
        bad = 1, e = errno;
    if (bad)
        return tt_fail(err, errlen, "%s: cannot write: %s", path, strerror(e));
    return 0;
}

int curve_generate(const char *dir, int force, char pub[CURVE_Z85_LEN + 1], char *err,
                   size_t errlen)
{
    char keypath[PATH_MAX], pubpath[PATH_MAX], pk[CURVE_Z85_LEN + 1], sk[CURVE_Z85_LEN + 1];
    char line[CURVE_Z85_LEN + 2];
    if (snprintf(keypath, sizeof keypath, "%s/curve.key", dir) >= (int)sizeof keypath ||
        snprintf(pubpath, sizeof pubpath, "%s/curve.pub", dir) >= (int)sizeof pubpath)
        return tt_fail(err, errlen, "%s: path too long", dir);
    if (paths_mkdirs(dir, err, errlen) < 0)
        return -1;
    if (!force) { /* both checked before either is written: no half pair */
        if (access(keypath, F_OK) == 0)
            return tt_fail(err, errlen, "%s: exists; use --force to replace it", keypath);
        if (access(pubpath, F_OK) == 0)
            return tt_fail(err, errlen, "%s: exists; use --force to replace it", pubpath);
    }
    if (zmq_curve_keypair(pk, sk) < 0)
        return tt_fail(err, errlen, "zmq_curve_keypair: %s (libzmq without CURVE?)",
                       zmq_strerror(errno));
    snprintf(line, sizeof line, "%s\n", sk);
    int rc = write_text(keypath, line, 0600, force, err, errlen);
    sodium_memzero(line, sizeof line);
    sodium_memzero(sk, sizeof sk);
    if (rc < 0)
        return -1;
    snprintf(line, sizeof line, "%s\n", pk);
    if (write_text(pubpath, line, 0644, force, err, errlen) < 0)
        return -1;
    if (pub)
        memcpy(pub, pk, sizeof pk);
    return 0;
}

/* The file's first line, trimmed, into buf (one key per file). */
static int read_small(const char *path, char *buf, size_t n, int secret, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (secret && (sb.st_mode & 077))) {
        int e = errno;
        close(fd);
        if (secret && (sb.st_mode & 077))
            return tt_fail(err, errlen, "%s: secret key is readable by others (mode %03o); chmod 600 it",
                           path, (unsigned)(sb.st_mode & 0777));
        return tt_fail(err, errlen, "%s: cannot stat: %s", path, strerror(e));
    }
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got < 0)
        return tt_fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    buf[got] = 0;
    return (int)got;
}

int curve_load_secret(const char *path, char secret[CURVE_Z85_LEN + 1],
                      char pub[CURVE_Z85_LEN + 1], char *err, size_t errlen)
{
    char buf[256];
    int n = read_small(path, buf, sizeof buf, 1, err, errlen);
    if (n < 0)
        return -1;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
    int ok = curve_z85_ok(buf);
    if (ok) {
        memcpy(secret, buf, CURVE_Z85_LEN + 1);
        char p[CURVE_Z85_LEN + 1];
        if (zmq_curve_public(p, secret) < 0)
            ok = 0;
        else if (pub)
            memcpy(pub, p, sizeof p);
    }
    sodium_memzero(buf, sizeof buf);
    if (!ok)
        return tt_fail(err, errlen, "%s: not a CURVE secret key (expected one line of 40 Z85"
                                    " characters, as `tunetrail keygen --curve` writes)", path);
    return 0;
}

int curve_load_pin(const char *path, struct curve_pin *pin, char *err, size_t errlen)
{
    char buf[1024];
    memset(pin, 0, sizeof *pin);
    int n = read_small(path, buf, sizeof buf, 0, err, errlen);
    if (n < 0)
        return -1;
    int lineno = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(l);
        while (len && isspace((unsigned char)l[len - 1]))
            l[--len] = 0;
        if (!len)
            continue;
        if (!strncmp(l, ED_TAG, strlen(ED_TAG))) {
            size_t got = 0;
            if (sodium_base642bin(pin->ed25519.pk, 32, l + strlen(ED_TAG), len - strlen(ED_TAG),
                                  NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || got != 32)
                return tt_fail(err, errlen, "%s:%d: ed25519 key is not 32 bytes of base64", path, lineno);
            key_set_id(&pin->ed25519);
            pin->has_ed25519 = 1;
        } else if (curve_z85_ok(l)) {
            memcpy(pin->curve, l, CURVE_Z85_LEN + 1);
            pin->has_curve = 1;
        } else {
            return tt_fail(err, errlen, "%s:%d: not a public key (expected a CURVE key, 40 Z85"
                                        " characters, as in curve.pub, or a line \"%.*s ...\" as in"
                                        " collector.pub)", path, lineno, (int)strlen(ED_TAG) - 1, ED_TAG);
        }
    }
    if (!pin->has_curve && !pin->has_ed25519)
        return tt_fail(err, errlen, "%s: empty (expected the collector's curve.pub or collector.pub)",
                       path);
    return 0;
}

/* Calls fn(arg, a, b, lineno) for each "A B" line of path; 0, or -1 with err. */
static int read_pairs(const char *path, const char *what,
                      int (*fn)(void *, const char *, const char *, char *, size_t), void *arg,
                      char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return tt_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    char line[LINE_MAX_LEN];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = tt_fail(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_LEN - 2);
            break;
        }
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        char *save = NULL, *a = strtok_r(p, " \t\r\n", &save);
        char *b = strtok_r(NULL, " \t\r\n", &save), *c = strtok_r(NULL, " \t\r\n", &save);
        char why[200] = "";
        if (!b || (c && *c != '#'))
            snprintf(why, sizeof why, "expected %s", what);
        else
            fn(arg, a, b, why, sizeof why);
        if (why[0]) {
            rc = tt_fail(err, errlen, "%s:%d: %s", path, lineno, why);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = tt_fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

static int identity_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > CURVE_IDENTITY_MAX)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return 0;
    return 1;
}

static int add_client(void *arg, const char *key, const char *id, char *why, size_t n)
{
    struct curve_clients *c = arg;
    if (!curve_z85_ok(key))
        return snprintf(why, n, "'%.48s' is not a CURVE public key (40 Z85 characters, a curve.pub)", key);
    if (!identity_ok(id))
        return snprintf(why, n, "identity '%.48s' is not 1-%d printable characters", id,
                        CURVE_IDENTITY_MAX);
    if (curve_clients_find(c, key))
        return snprintf(why, n, "key %s listed twice", key);
    struct curve_client *v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v)
        return snprintf(why, n, "out of memory");
    c->v = v;
    memcpy(v[c->n].key, key, CURVE_Z85_LEN + 1);
    snprintf(v[c->n].identity, sizeof v[c->n].identity, "%s", id);
    c->n++;
    return 0;
}

int curve_clients_load(const char *path, struct curve_clients *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (read_pairs(path, "<Z85 public key> <identity>", add_client, out, err, errlen) < 0) {
        curve_clients_free(out);
        return -1;
    }
    return 0;
}

const char *curve_clients_find(const struct curve_clients *c, const char *z85)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].key, z85))
            return c->v[i].identity;
    return NULL;
}

void curve_clients_free(struct curve_clients *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

static int add_rule(void *arg, const char *id, const char *study, char *why, size_t n)
{
    struct curve_access *a = arg;
    struct curve_rule *v = realloc(a->v, (a->n + 1) * sizeof *v);
    if (!v)
        return snprintf(why, n, "out of memory");
    a->v = v;
    v[a->n].identity = strdup(id);
    v[a->n].study = strdup(study);
    a->n++;
    if (!v[a->n - 1].identity || !v[a->n - 1].study)
        return snprintf(why, n, "out of memory");
    return 0;
}

int curve_access_load(const char *path, struct curve_access *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (read_pairs(path, "<identity glob> <study glob>", add_rule, out, err, errlen) < 0) {
        curve_access_free(out);
        return -1;
    }
    return 0;
}

int curve_access_allows(const struct curve_access *a, const char *identity, const char *study)
{
    for (size_t i = 0; i < a->n; i++)
        if (!fnmatch(a->v[i].identity, identity, 0) && !fnmatch(a->v[i].study, study, 0))
            return 1;
    return 0;
}

void curve_access_free(struct curve_access *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].identity);
        free(a->v[i].study);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}
