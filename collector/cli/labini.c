/* labini.c - see labini.h. The syntax is config_parse's INI (the parser the
 * agent uses for a trial's config files); this file gives the keys their
 * meaning and names the line of whatever it refuses. */
#include "labini.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "config_parse.h"
#include "curve.h"
#include "jsonfmt.h"
#include "paths.h"
#include "util.h"
#include "wire.h"

void labini_free(struct labini *ini)
{
    for (size_t i = 0; i < ini->nmetrics; i++)
        free(ini->metrics[i]);
    for (size_t i = 0; i < ini->ntrials; i++)
        free(ini->trials[i]);
    free(ini->metrics);
    free(ini->trials);
    free(ini->endpoint);
    free(ini->key);
    free(ini->curve_key);
    free(ini->path);
    memset(ini, 0, sizeof *ini);
}

int labini_metric_check(const char *name, size_t namelen, const char *regex, char *why,
                        size_t whylen)
{
    if (!namelen || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_.:-") < namelen)
        return tt_fail(why, whylen, "expected NAME=REGEX (NAME of letters, digits, _.:-)");
    if (!*regex)
        return tt_fail(why, whylen, "expected NAME=REGEX (the regex is empty)");
    if (strchr(regex, '\n'))
        return tt_fail(why, whylen, "the regex may not contain a newline");
    regex_t re;
    int rc = regcomp(&re, regex, REG_EXTENDED);
    if (rc) {
        char msg[200];
        regerror(rc, &re, msg, sizeof msg);
        return tt_fail(why, whylen, "bad regex: %s", msg);
    }
    regfree(&re);
    return 0;
}

/* Appends a strdup of s to *v. 0, or -1 on ENOMEM. */
static int push(char ***v, size_t *n, const char *s)
{
    char **g = realloc(*v, (*n + 1) * sizeof *g);
    if (!g)
        return -1;
    *v = g;
    if (!(g[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* One [collector] line: endpoint, key or curve_key. 0, or -1 with err. */
static int collector_line(struct labini *ini, const char *path, unsigned line, const char *name,
                          const char *val, char *err, size_t errlen)
{
    char **slot;
    unsigned *at;
    if (!strcmp(name, "endpoint"))
        slot = &ini->endpoint, at = &ini->endpoint_line;
    else if (!strcmp(name, "key"))
        slot = &ini->key, at = &ini->key_line;
    else if (!strcmp(name, "curve_key"))
        slot = &ini->curve_key, at = &ini->curve_key_line;
    else
        return tt_fail(err, errlen, "%s:%u: [collector] has no key '%s'; expected endpoint, key (the"
                                    " collector's public key file) or curve_key (this client's"
                                    " secret key file)", path, line, name);
    if (*slot)
        return tt_fail(err, errlen, "%s:%u: [collector] %s is given twice (first on line %u)", path,
                       line, name, *at);
    if (!*val)
        return tt_fail(err, errlen, "%s:%u: [collector] %s is empty", path, line, name);
    if (slot == &ini->endpoint) {
        if ((strncmp(val, "tcp://", 6) && strncmp(val, "ipc://", 6)) || !val[6])
            return tt_fail(err, errlen, "%s:%u: [collector] endpoint = %s: expected tcp://HOST:PORT"
                                        " or ipc://PATH", path, line, val);
        *slot = strdup(val);
    } else if (*val == '/') {
        *slot = strdup(val);
    } else { /* relative to the file: a key kept in the repository beside it */
        const char *slash = strrchr(path, '/');
        if (asprintf(slot, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, val) < 0)
            *slot = NULL;
    }
    if (!*slot)
        return tt_fail(err, errlen, "out of memory");
    *at = line;
    return 0;
}

int labini_collector(const struct labini *ini, int local, const char **collector, const char **key,
                     const char **curve_key, char *err, size_t errlen)
{
    if (!*collector && !local && ini->endpoint)
        *collector = ini->endpoint;
    if (!*collector || (ini->endpoint && strcmp(*collector, ini->endpoint)))
        return 0;
    if (!*key && ini->key) {
        struct curve_pin pin;
        char why[TT_ERR_MAX];
        if (curve_load_pin(ini->key, &pin, why, sizeof why) < 0)
            return tt_fail(err, errlen, "%s:%u: [collector] key: %s", ini->path, ini->key_line, why);
        *key = ini->key;
    }
    if (!*curve_key && ini->curve_key) {
        char sk[CURVE_Z85_LEN + 1], why[TT_ERR_MAX];
        int rc = curve_load_secret(ini->curve_key, sk, NULL, why, sizeof why);
        sodium_memzero(sk, sizeof sk);
        if (rc < 0)
            return tt_fail(err, errlen, "%s:%u: [collector] curve_key: %s", ini->path,
                           ini->curve_key_line, why);
        *curve_key = ini->curve_key;
    }
    return 0;
}

/* The line of the section header above line `line` of buf (config_parse
 * names a key's line only), or line itself if there is none. */
static unsigned header_line(const char *buf, size_t len, unsigned line)
{
    unsigned n = 1, found = line;
    for (size_t i = 0; i < len && n <= line;) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        if (i < len && buf[i] == '[')
            found = n;
        const char *nl = memchr(buf + i, '\n', len - i);
        i = nl ? (size_t)(nl - buf) + 1 : len;
        n++;
    }
    return found;
}

int labini_parse(struct labini *ini, const char *path, const char *buf, size_t len, char *err,
                 size_t errlen)
{
    struct config_parse_list kv = {0};
    memset(ini, 0, sizeof *ini);
    if (!(ini->path = strdup(path)))
        return tt_fail(err, errlen, "out of memory");
    unsigned char sha[32];
    crypto_hash_sha256(sha, (const unsigned char *)buf, len);
    wire_hex(ini->sha256, sha, sizeof sha);
    if (config_parse_parse(CFGP_INI, path, buf, len, &kv, err, errlen) < 0)
        goto bad;
    for (size_t i = 0; i < kv.n; i++) {
        const char *key = kv.kv[i].key, *val = kv.kv[i].value;
        unsigned line = kv.kv[i].line;
        /* config_parse names a key "section.key", "section[n].key" when the
         * section repeats, a key outside sections bare. */
        size_t sl = strcspn(key, ".[");
        const char *rest = key + sl;
        if (*rest == '[')
            rest = strchr(rest, ']') ? strchr(rest, ']') + 1 : rest + strlen(rest);
        if (*rest != '.') {
            tt_fail(err, errlen, "%s:%u: '%s' is outside a section; expected [metric], [trial] or"
                                 " [collector] first", path, line, key);
            goto bad;
        }
        rest++;
        char why[256];
        if (sl == 6 && !strncmp(key, "metric", 6)) {
            if (labini_metric_check(rest, strlen(rest), val, why, sizeof why) < 0) {
                tt_fail(err, errlen, "%s:%u: [metric] %s = %s: %s", path, line, rest, val, why);
                goto bad;
            }
            for (size_t j = 0; j < ini->nmetrics; j++)
                if (!strncmp(ini->metrics[j], rest, strlen(rest)) &&
                    ini->metrics[j][strlen(rest)] == '=') {
                    tt_fail(err, errlen, "%s:%u: [metric] %s is given twice; one pattern per name",
                            path, line, rest);
                    goto bad;
                }
            char *spec = NULL;
            if (asprintf(&spec, "%s=%s", rest, val) < 0 || push(&ini->metrics, &ini->nmetrics, spec) < 0) {
                free(spec);
                tt_fail(err, errlen, "out of memory");
                goto bad;
            }
            free(spec);
        } else if (sl == 5 && !strncmp(key, "trial", 5)) {
            if (strcmp(rest, "pattern") || !*val) {
                tt_fail(err, errlen, "%s:%u: [trial] expects `pattern = GLOB` lines (a glob on the"
                                     " program name, as --trial takes)", path, line);
                goto bad;
            }
            if (push(&ini->trials, &ini->ntrials, val) < 0) {
                tt_fail(err, errlen, "out of memory");
                goto bad;
            }
        } else if (sl == 9 && !strncmp(key, "collector", 9)) {
            if (collector_line(ini, path, line, rest, val, err, errlen) < 0)
                goto bad;
        } else {
            tt_fail(err, errlen, "%s:%u: section [%.*s] is not one tunetrail.ini knows; expected"
                                 " [metric], [trial] or [collector]", path, header_line(buf, len, line),
                    (int)sl, key);
            goto bad;
        }
    }
    if (kv.truncated) {
        tt_fail(err, errlen, "%s: more than %d lines of patterns", path, CFGP_MAX_PARAMS);
        goto bad;
    }
    config_parse_list_free(&kv);
    return 0;
bad:
    config_parse_list_free(&kv);
    labini_free(ini);
    return -1;
}

/* Reads path into a malloc'd buffer. 0, 1 if it does not exist, -1 with err. */
static int slurp(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 1;
        return tt_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return tt_fail(err, errlen, "%s: not a regular file", path);
    if (sb.st_size > CFGP_MAX_BYTES)
        return tt_fail(err, errlen, "%s: larger than %d bytes", path, CFGP_MAX_BYTES);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(err, errlen, "%s: %s", path, strerror(errno));
    char *b = malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    ssize_t r = 0;
    while (b && got < (size_t)sb.st_size &&
           ((r = read(fd, b + got, (size_t)sb.st_size - got)) > 0 || (r < 0 && errno == EINTR)))
        got += r > 0 ? (size_t)r : 0;
    int e = errno;
    close(fd);
    if (!b || r < 0) {
        free(b);
        return tt_fail(err, errlen, "%s: %s", path, b ? strerror(e) : "out of memory");
    }
    *buf = b;
    *len = got;
    return 0;
}

int labini_load(struct labini *ini, char *err, size_t errlen)
{
    memset(ini, 0, sizeof *ini);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return 0; /* a deleted working directory: nothing to look up */
    char *top = paths_git_toplevel(cwd);
    const char *dirs[2] = {cwd, top && strcmp(top, cwd) ? top : NULL};
    int rc = 0;
    for (int i = 0; i < 2 && dirs[i]; i++) {
        char *path = NULL, *buf = NULL;
        size_t len = 0;
        if (asprintf(&path, "%s/%s", dirs[i], LABINI_NAME) < 0) {
            rc = tt_fail(err, errlen, "out of memory");
            break;
        }
        int got = slurp(path, &buf, &len, err, errlen);
        if (got == 0)
            rc = labini_parse(ini, path, buf, len, err, errlen);
        free(buf);
        free(path);
        if (got <= 0) {
            rc = got < 0 ? -1 : rc;
            break;
        }
    }
    free(top);
    return rc;
}

char *labini_note(const struct labini *ini)
{
    if (!ini->path)
        return NULL;
    json_t *m = json_array(), *t = json_array();
    for (size_t i = 0; i < ini->nmetrics; i++)
        json_array_append_new(m, jsonfmt_string(ini->metrics[i]));
    for (size_t i = 0; i < ini->ntrials; i++)
        json_array_append_new(t, jsonfmt_string(ini->trials[i]));
    json_t *o = json_pack("{s:o,s:s,s:o,s:o}", "file", jsonfmt_string(ini->path), "sha256",
                          ini->sha256, "metric", m, "trial", t);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}
