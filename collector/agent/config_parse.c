/* config_parse.c - see config_parse.h. */
#include "config_parse.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

/* YAML aliases can expand exponentially, JSON/YAML can nest deeply: both
 * stop at the param cap, and nesting at this depth is an error. */
#define CFGP_MAX_DEPTH 64

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

enum config_parse_format config_parse_format_for_path(const char *path)
{
    static const struct {
        const char *ext;
        enum config_parse_format f;
    } exts[] = {
        {"ini", CFGP_INI},  {"cfg", CFGP_INI},   {"conf", CFGP_KV}, {"properties", CFGP_KV},
        {"json", CFGP_JSON}, {"yaml", CFGP_YAML}, {"yml", CFGP_YAML},
    };
    if (!path)
        return CFGP_NONE;
    const char *dot = strrchr(base(path), '.');
    if (!dot || dot == base(path))
        return CFGP_NONE; /* no extension, or a dot file such as .conf itself */
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (!strcasecmp(dot + 1, exts[i].ext))
            return exts[i].f;
    return CFGP_NONE;
}

int config_parse_path_wanted(const char *path)
{
    /* Files of the system and of installed packages are not a trial's
     * configuration; skipping them also keeps a Python process's hundreds of
     * package metadata reads out of the parser. */
    static const char *const sys[] = {"/usr/", "/etc/", "/lib/",  "/lib32/",    "/lib64/",     "/libx32/",
                                      "/bin/", "/sbin/", "/proc/", "/sys/",      "/dev/",       "/run/",
                                      "/boot/", "/var/lib/", "/var/cache/", "/snap/"};
    static const char *const pkg[] = {"/site-packages/", "/dist-packages/", "/node_modules/", "/.cache/"};
    if (!path || path[0] != '/' || config_parse_format_for_path(path) == CFGP_NONE)
        return 0;
    for (size_t i = 0; i < sizeof sys / sizeof *sys; i++)
        if (!strncmp(path, sys[i], strlen(sys[i])))
            return 0;
    for (size_t i = 0; i < sizeof pkg / sizeof *pkg; i++)
        if (strstr(path, pkg[i]))
            return 0;
    return 1;
}

/* Skips a UTF-8 BOM and leading white space. */
static size_t content_start(const char *buf, size_t len)
{
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
        i = 3;
    while (i < len && isspace((unsigned char)buf[i]))
        i++;
    return i;
}

enum config_parse_format config_parse_sniff(enum config_parse_format by_ext, const char *buf, size_t len)
{
    if (by_ext != CFGP_INI && by_ext != CFGP_KV)
        return by_ext;
    size_t i = content_start(buf, len);
    if (i < len && buf[i] == '{')
        return CFGP_JSON;
    if (len - i >= 3 && !memcmp(buf + i, "---", 3))
        return CFGP_YAML;
    return by_ext;
}

void config_parse_list_free(struct config_parse_list *out)
{
    for (size_t i = 0; i < out->n; i++) {
        free(out->kv[i].key);
        free(out->kv[i].value);
    }
    free(out->kv);
    memset(out, 0, sizeof *out);
}

/* Appends (key, value[vlen]); takes key (malloc'd). 0, or -1 on ENOMEM.
 * At the cap it drops the pair and sets truncated (not an error). */
static int add_kv(struct config_parse_list *out, char *key, const char *value, size_t vlen)
{
    if (out->n >= CFGP_MAX_PARAMS) {
        out->truncated = 1;
        free(key);
        return 0;
    }
    if (out->n == out->cap) {
        size_t nc = out->cap ? out->cap * 2 : 32;
        struct config_parse_kv *p = realloc(out->kv, nc * sizeof *p);
        if (!p)
            goto err;
        out->kv = p;
        out->cap = nc;
    }
    char *v = strndup(value, vlen);
    if (!key || !v) {
        free(v);
        goto err;
    }
    out->kv[out->n].key = key;
    out->kv[out->n].line = 0;
    out->kv[out->n++].value = v;
    return 0;
err:
    free(key);
    return -1;
}

static char *joinf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *joinf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* ---- INI, darknet .cfg, key=value ---------------------------------------- */

struct sec {
    char *name;
    unsigned count, seen;
};

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* One line, trimmed and NUL-terminated in place. Returns the line start,
 * or NULL at the end; *next is where the following line starts. */
static char *next_line(char *p, char *end, char **next)
{
    if (p >= end)
        return NULL;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    return trim(p, e);
}

static int is_comment(const char *line, enum config_parse_format f)
{
    return line[0] == '#' || line[0] == ';' || (f == CFGP_KV && line[0] == '!');
}

static struct sec *find_sec(struct sec *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, name))
            return &s[i];
    return NULL;
}

/* Two passes over a private copy: the first checks the syntax and counts
 * each section's occurrences (a repeated section gets indexed keys, a unique
 * one plain keys, which is only known at the end), the second emits. */
static int parse_lines(enum config_parse_format f, const char *name, const char *buf, size_t len,
                       struct config_parse_list *out, char *err, size_t errlen)
{
    int rc = -1;
    struct sec *secs = NULL;
    size_t nsec = 0;
    size_t start = (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) ? 3 : 0;
    char *copy = malloc(len - start + 1);
    if (!copy) {
        tt_fail(err, errlen, "%s: out of memory", name);
        goto err;
    }
    for (int pass = 0; pass < 2; pass++) {
        memcpy(copy, buf + start, len - start);
        char *end = copy + (len - start), *p = copy, *next, *line;
        struct sec *cur = NULL;
        unsigned lineno = 0;
        while ((line = next_line(p, end, &next))) {
            p = next;
            lineno++;
            if (!*line || is_comment(line, f))
                continue;
            if (line[0] == '[') {
                char *close = strchr(line, ']');
                if (!close || close[1]) {
                    tt_fail(err, errlen, "%s:%u: section header without a closing ]", name, lineno);
                    goto err;
                }
                char *sn = trim(line + 1, close);
                if (!*sn) {
                    tt_fail(err, errlen, "%s:%u: empty section name", name, lineno);
                    goto err;
                }
                cur = find_sec(secs, nsec, sn);
                if (pass == 0 && !cur) {
                    struct sec *ns = realloc(secs, (nsec + 1) * sizeof *ns);
                    if (!ns || !(sn = strdup(sn))) {
                        if (ns)
                            secs = ns;
                        tt_fail(err, errlen, "%s: out of memory", name);
                        goto err;
                    }
                    secs = ns;
                    cur = &secs[nsec++];
                    cur->name = sn;
                    cur->count = cur->seen = 0;
                }
                if (pass == 0)
                    cur->count++;
                else
                    cur->seen++;
                continue;
            }
            /* `=` first so that `url=http://x` splits at the `=` */
            char *sep = strchr(line, '=');
            if (!sep)
                sep = strchr(line, ':');
            if (!sep) {
                tt_fail(err, errlen, "%s:%u: expected key=value, [section] or a comment", name, lineno);
                goto err;
            }
            char *val = trim(sep + 1, sep + 1 + strlen(sep + 1));
            char *key = trim(line, sep);
            if (!*key) {
                tt_fail(err, errlen, "%s:%u: empty key", name, lineno);
                goto err;
            }
            if (pass == 0)
                continue;
            char *full = !cur ? strdup(key)
                         : cur->count > 1 ? joinf("%s[%u].%s", cur->name, cur->seen - 1, key)
                                          : joinf("%s.%s", cur->name, key);
            size_t before = out->n;
            if (add_kv(out, full, val, strlen(val)) < 0) {
                tt_fail(err, errlen, "%s: out of memory", name);
                goto err;
            }
            if (out->n > before)
                out->kv[before].line = lineno;
        }
    }
    rc = 0;
err:
    for (size_t i = 0; i < nsec; i++)
        free(secs[i].name);
    free(secs);
    free(copy);
    return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Shortest text that reads back as the same double. */
static void real_text(double d, char *out, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

static int json_walk(json_t *v, const char *path, int depth, struct config_parse_list *out);

/* Walks member or element c under its path p (malloc'd, taken; NULL: out
 * of memory). */
static int json_walk_child(json_t *c, char *p, int depth, struct config_parse_list *out)
{
    if (!p)
        return -1;
    int rc = json_walk(c, p, depth + 1, out);
    free(p);
    return rc;
}

static int json_walk(json_t *v, const char *path, int depth, struct config_parse_list *out)
{
    char num[64];
    const char *text = NULL;
    if (out->truncated)
        return 0;
    if (depth > CFGP_MAX_DEPTH)
        return 1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!json_object_size(v))
            return add_kv(out, strdup(path), "{}", 2);
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            int rc = json_walk_child(c, *path ? joinf("%s.%s", path, k) : strdup(k), depth, out);
            if (rc)
                return rc;
        }
        return 0;
    }
    case JSON_ARRAY: {
        if (!json_array_size(v))
            return add_kv(out, strdup(path), "[]", 2);
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            int rc = json_walk_child(c, joinf("%s[%zu]", path, i), depth, out);
            if (rc)
                return rc;
        }
        return 0;
    }
    case JSON_STRING:
        return add_kv(out, strdup(path), json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = num;
        break;
    case JSON_REAL:
        real_text(json_real_value(v), num, sizeof num);
        text = num;
        break;
    case JSON_TRUE:
        text = "true";
        break;
    case JSON_FALSE:
        text = "false";
        break;
    case JSON_NULL:
        text = "null";
        break;
    }
    return add_kv(out, strdup(path), text, strlen(text));
}

static int parse_json(const char *name, const char *buf, size_t len, struct config_parse_list *out, char *err,
                      size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, 0, &je);
    if (!root)
        return tt_fail(err, errlen, "%s:%d: %s", name, je.line, je.text);
    int rc = json_walk(root, "", 0, out);
    json_decref(root);
    if (rc > 0)
        return tt_fail(err, errlen, "%s: nested deeper than %d levels", name, CFGP_MAX_DEPTH);
    return rc < 0 ? tt_fail(err, errlen, "%s: out of memory", name) : 0;
}

/* ---- YAML ---------------------------------------------------------------- */

static int yaml_walk(yaml_document_t *d, yaml_node_t *n, const char *path, int depth, struct config_parse_list *out)
{
    if (out->truncated || !n)
        return 0;
    if (depth > CFGP_MAX_DEPTH)
        return 1;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return add_kv(out, strdup(path), (const char *)n->data.scalar.value, n->data.scalar.length);
    case YAML_MAPPING_NODE:
        if (n->data.mapping.pairs.start == n->data.mapping.pairs.top)
            return add_kv(out, strdup(path), "{}", 2);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(d, pr->key);
            /* a non-scalar key (`? [a, b]: x`) has no path: skip it */
            if (!k || k->type != YAML_SCALAR_NODE)
                continue;
            const char *kt = (const char *)k->data.scalar.value;
            char *p = *path ? joinf("%s.%.*s", path, (int)k->data.scalar.length, kt)
                            : strndup(kt, k->data.scalar.length);
            if (!p)
                return -1;
            int rc = yaml_walk(d, yaml_document_get_node(d, pr->value), p, depth + 1, out);
            free(p);
            if (rc)
                return rc;
        }
        return 0;
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it = n->data.sequence.items.start;
        if (it == n->data.sequence.items.top)
            return add_kv(out, strdup(path), "[]", 2);
        for (size_t i = 0; it < n->data.sequence.items.top; it++, i++) {
            char *p = joinf("%s[%zu]", path, i);
            if (!p)
                return -1;
            int rc = yaml_walk(d, yaml_document_get_node(d, *it), p, depth + 1, out);
            free(p);
            if (rc)
                return rc;
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int parse_yaml(const char *name, const char *buf, size_t len, struct config_parse_list *out, char *err,
                      size_t errlen)
{
    yaml_parser_t ps;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&ps))
        return tt_fail(err, errlen, "%s: out of memory", name);
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&ps, &doc)) {
        /* mark.line counts from 0 */
        tt_fail(err, errlen, "%s:%zu: %s", name, ps.problem_mark.line + 1,
                ps.problem ? ps.problem : "malformed YAML");
        yaml_parser_delete(&ps);
        return -1;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && root->type == YAML_SCALAR_NODE && root->data.scalar.length)
        rc = 2;
    else if (root && root->type != YAML_SCALAR_NODE)
        rc = yaml_walk(&doc, root, "", 0, out);
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    if (rc == 2)
        return tt_fail(err, errlen, "%s:1: top level is a scalar, not a mapping or sequence", name);
    if (rc > 0)
        return tt_fail(err, errlen, "%s: nested deeper than %d levels", name, CFGP_MAX_DEPTH);
    return rc < 0 ? tt_fail(err, errlen, "%s: out of memory", name) : 0;
}

/* ---- entry points ---------------------------------------------------------- */

int config_parse_parse(enum config_parse_format f, const char *name, const char *buf, size_t len, struct config_parse_list *out,
               char *err, size_t errlen)
{
    size_t before = out->n;
    int rc;
    if (len > CFGP_MAX_BYTES)
        return tt_fail(err, errlen, "%s: larger than %d bytes: not parsed", name, CFGP_MAX_BYTES);
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        unsigned line = 1;
        for (const char *p = buf; p < nul; p++)
            line += *p == '\n';
        return tt_fail(err, errlen, "%s:%u: NUL byte: not a text file", name, line);
    }
    switch (f) {
    case CFGP_INI:
    case CFGP_KV:
        rc = parse_lines(f, name, buf, len, out, err, errlen);
        break;
    case CFGP_JSON:
        rc = parse_json(name, buf, len, out, err, errlen);
        break;
    case CFGP_YAML:
        rc = parse_yaml(name, buf, len, out, err, errlen);
        break;
    default:
        return tt_fail(err, errlen, "%s: not a config format tunetrail parses", name);
    }
    if (rc < 0) {
        /* all or nothing: drop what this call added */
        while (out->n > before) {
            out->n--;
            free(out->kv[out->n].key);
            free(out->kv[out->n].value);
        }
        return -1;
    }
    if (out->truncated)
        tt_fail(err, errlen, "%s: more than %d params: the first %d kept", name, CFGP_MAX_PARAMS,
                CFGP_MAX_PARAMS);
    return 0;
}

int config_parse_parse_file(const char *path, struct config_parse_list *out, char *err, size_t errlen)
{
    const char *name = base(path);
    enum config_parse_format f = config_parse_format_for_path(path);
    if (f == CFGP_NONE)
        return tt_fail(err, errlen, "%s: not a config format tunetrail parses", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return tt_fail(err, errlen, "%s: cannot open: %s", name, strerror(errno));
    /* one byte over the cap tells "too big" without trusting st_size
     * (a FIFO or a file still growing) */
    char *buf = malloc(CFGP_MAX_BYTES + 1);
    size_t len = 0;
    int rc = -1;
    if (!buf) {
        tt_fail(err, errlen, "%s: out of memory", name);
        goto err;
    }
    while (len < CFGP_MAX_BYTES + 1) {
        ssize_t got = read(fd, buf + len, CFGP_MAX_BYTES + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            tt_fail(err, errlen, "%s: cannot read: %s", name, strerror(errno));
            goto err;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len > CFGP_MAX_BYTES) {
        tt_fail(err, errlen, "%s: larger than %d bytes: not parsed", name, CFGP_MAX_BYTES);
        goto err;
    }
    rc = config_parse_parse(config_parse_sniff(f, buf, len), name, buf, len, out, err, errlen);
err:
    free(buf);
    close(fd);
    return rc;
}
