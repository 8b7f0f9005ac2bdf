/* envpkg.c - see envpkg.h. */
#include "envpkg.h"

#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the rule (docs/RECORD.md "environment") */

/* Code and library prefixes: a file under them is environment when it is
 * code or configuration (code_like), so a data set shipped there (scikit-
 * learn's datasets/data/ csv files) stays an input. /usr/share is none of them:
 * it holds data and documentation (liblinear's heart_scale). */
static const char *const code_prefixes[] = {
    "/usr/lib/", "/usr/lib32/", "/usr/lib64/", "/usr/libx32/", "/lib/",
    "/lib32/",   "/lib64/",     "/libx32/",    "/usr/local/lib/",
};

/* Interpreters whose installation prefix (the parent of their bin/) holds
 * their library: /opt/conda/bin/python3 -> /opt/conda/lib/. Only these:
 * a project's own bin/train must not hide its lib/. */
static const char *const interpreters[] = {"python", "perl", "ruby", "Rscript", "R", "julia"};

static const char *const code_ext[] = {".py",  ".pyc", ".pyo", ".pyi", ".pyd", ".pxd", ".pth",
                                       ".so",  ".pm",  ".pl",  ".rb",  ".rdb", ".rdx", ".cnf",
                                       ".conf"};

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* 1 if a directory component of path ends with suf ("/x.dist-info/..."). */
static int in_dir_ending(const char *path, const char *suf)
{
    size_t n = strlen(suf);
    for (const char *p = strstr(path, suf); p; p = strstr(p + 1, suf))
        if (p[n] == '/')
            return 1;
    return 0;
}

static int is_metadata(const char *path)
{
    size_t n = strlen(path);
    return in_dir_ending(path, ".dist-info") || in_dir_ending(path, ".egg-info") ||
           (n > 9 && !strcmp(path + n - 9, ".egg-info"));
}

static int code_like(const char *path)
{
    const char *b = base(path), *dot = strrchr(b, '.');
    if (is_metadata(path) || !strcmp(b, "py.typed"))
        return 1;
    if (strstr(b, ".so.")) /* libfoo.so.1.2 */
        return 1;
    for (size_t i = 0; dot && i < sizeof code_ext / sizeof *code_ext; i++)
        if (!strcmp(dot, code_ext[i]))
            return 1;
    return 0;
}

/* The length of exe's installation prefix (the parent of its bin/) if exe is
 * an interpreter, else 0. */
static size_t interp_prefix(const char *exe)
{
    if (!exe || *exe != '/')
        return 0;
    const char *b = base(exe);
    int interp = 0;
    for (size_t i = 0; i < sizeof interpreters / sizeof *interpreters && !interp; i++) {
        size_t n = strlen(interpreters[i]);
        /* "python3.11", "perl5.36", "R" - not "pythonic-train" */
        interp = !strncmp(b, interpreters[i], n) && strspn(b + n, "0123456789.") == strlen(b + n);
    }
    size_t dirlen = (size_t)(b - exe) - 1; /* without the slash before the name */
    if (!interp || dirlen < 4 || strncmp(exe + dirlen - 4, "/bin", 4))
        return 0;
    return dirlen - 4;
}

int envpkg_is_environment(const char *exe, const char *path)
{
    if (!path || *path != '/')
        return 0;
    if (starts(path, "/etc/"))
        return 1;
    int under = strstr(path, "/site-packages/") || strstr(path, "/dist-packages/");
    for (size_t i = 0; i < sizeof code_prefixes / sizeof *code_prefixes && !under; i++)
        under = starts(path, code_prefixes[i]);
    size_t pl = interp_prefix(exe);
    if (!under && pl && !strncmp(path, exe, pl))
        under = starts(path + pl, "/lib/") || starts(path + pl, "/lib64/");
    return under && code_like(path);
}

/* ---- the cache */

struct pyent {
    char *top;         /* top-level module or package name */
    const char *token; /* "python:<name>=<version>", interned */
};
struct pysite {
    char *dir; /* ".../site-packages" */
    struct pyent *v;
    size_t n;
};

struct tt_envpkg {
    char *dpkg_dir;
    int deb_loaded;
    uint64_t *dkey; /* open addressing: path hash (0 = empty) -> dval */
    uint32_t *dval; /* index into debtok */
    size_t dcap, dn;
    const char **debtok; /* per .list file: "deb:<name>=<version>", interned */
    size_t ndeb, cdeb;
    struct pysite *sites;
    size_t nsites;
    char **strs; /* interned strings */
    size_t nstrs, cstrs;
};

tt_envpkg *envpkg_new(const char *dpkg_dir)
{
    tt_envpkg *e = calloc(1, sizeof *e);
    if (e && !(e->dpkg_dir = strdup(dpkg_dir ? dpkg_dir : "/var/lib/dpkg"))) {
        free(e);
        return NULL;
    }
    return e;
}

void envpkg_free(tt_envpkg *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nsites; i++) {
        for (size_t k = 0; k < e->sites[i].n; k++)
            free(e->sites[i].v[k].top);
        free(e->sites[i].v);
        free(e->sites[i].dir);
    }
    free(e->sites);
    for (size_t i = 0; i < e->nstrs; i++)
        free(e->strs[i]);
    free(e->strs);
    free(e->debtok);
    free(e->dkey);
    free(e->dval);
    free(e->dpkg_dir);
    free(e);
}

/* s, interned (NULL on ENOMEM). Few distinct strings: a package or a
 * combination of two. */
static const char *intern(tt_envpkg *e, const char *s)
{
    for (size_t i = e->nstrs; i-- > 0;)
        if (!strcmp(e->strs[i], s))
            return e->strs[i];
    if (e->nstrs == e->cstrs) {
        size_t nc = e->cstrs ? e->cstrs * 2 : 64;
        char **p = realloc(e->strs, nc * sizeof *p);
        if (!p)
            return NULL;
        e->strs = p;
        e->cstrs = nc;
    }
    char *d = strdup(s);
    if (d)
        e->strs[e->nstrs++] = d;
    return d;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ? h : 1; /* 0 marks an empty slot */
}

/* Keyed by a 64-bit hash of the path, not the path: 170k paths in 3 MB; a
 * collision (~1e-9 per lookup) could name a wrong package, never change
 * what is hashed. */
static int deb_put(tt_envpkg *e, uint64_t h, uint32_t v)
{
    if (e->dn * 2 >= e->dcap) {
        size_t nc = e->dcap ? e->dcap * 2 : 1 << 16;
        uint64_t *k = calloc(nc, sizeof *k);
        uint32_t *val = calloc(nc, sizeof *val);
        if (!k || !val) {
            free(k);
            free(val);
            return -1;
        }
        for (size_t i = 0; i < e->dcap; i++)
            if (e->dkey[i]) {
                size_t j = e->dkey[i] & (nc - 1);
                while (k[j])
                    j = (j + 1) & (nc - 1);
                k[j] = e->dkey[i];
                val[j] = e->dval[i];
            }
        free(e->dkey);
        free(e->dval);
        e->dkey = k;
        e->dval = val;
        e->dcap = nc;
    }
    size_t j = h & (e->dcap - 1);
    while (e->dkey[j] && e->dkey[j] != h)
        j = (j + 1) & (e->dcap - 1);
    if (!e->dkey[j]) { /* the first package listing a path keeps it */
        e->dkey[j] = h;
        e->dval[j] = v;
        e->dn++;
    }
    return 0;
}

static const char *deb_get(const tt_envpkg *e, const char *path, size_t n)
{
    if (!e->dcap)
        return NULL;
    uint64_t h = fnv(path, n);
    for (size_t j = h & (e->dcap - 1); e->dkey[j]; j = (j + 1) & (e->dcap - 1))
        if (e->dkey[j] == h)
            return e->debtok[e->dval[j]];
    return NULL;
}

struct debver {
    char *name, *arch, *version;
};

/* Installed packages of dpkg's status file: name, architecture, version. */
static struct debver *deb_status(const char *dir, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/status", dir);
    FILE *f = fopen(path, "re");
    *n = 0;
    if (!f)
        return NULL;
    struct debver *v = NULL, cur = {0};
    size_t cap = 0;
    int installed = 0;
    char *line = NULL;
    size_t lcap = 0;
    for (;;) {
        ssize_t len = getline(&line, &lcap, f);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        if (len <= 0) { /* end of a stanza */
            if (installed && cur.name && cur.version) {
                if (*n == cap) {
                    size_t nc = cap ? cap * 2 : 1024;
                    struct debver *p = realloc(v, nc * sizeof *p);
                    if (!p)
                        break;
                    v = p;
                    cap = nc;
                }
                v[(*n)++] = cur;
            } else {
                free(cur.name);
                free(cur.arch);
                free(cur.version);
            }
            memset(&cur, 0, sizeof cur);
            installed = 0;
            if (len < 0)
                break;
            continue;
        }
        if (!strncmp(line, "Package: ", 9) && !cur.name)
            cur.name = strdup(line + 9);
        else if (!strncmp(line, "Architecture: ", 14) && !cur.arch)
            cur.arch = strdup(line + 14);
        else if (!strncmp(line, "Version: ", 9) && !cur.version)
            cur.version = strdup(line + 9);
        else if (!strncmp(line, "Status: ", 8))
            installed = strstr(line, " installed") != NULL;
    }
    free(cur.name);
    free(cur.arch);
    free(cur.version);
    free(line);
    fclose(f);
    return v;
}

/* Reads every <pkg>[:<arch>].list of dpkg's info directory into the path
 * table. No dpkg database (not Debian): no Debian packages, silently. */
static void deb_load(tt_envpkg *e)
{
    e->deb_loaded = 1;
    size_t nst;
    struct debver *st = deb_status(e->dpkg_dir, &nst);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/info", e->dpkg_dir);
    DIR *d = opendir(dir);
    struct dirent *de;
    char *line = NULL;
    size_t lcap = 0;
    while (d && (de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".list"))
            continue;
        char name[256], tok[600];
        snprintf(name, sizeof name, "%.*s", (int)(nl - 5), de->d_name);
        char *arch = strchr(name, ':');
        if (arch)
            *arch++ = 0;
        const char *ver = NULL;
        for (size_t i = 0; i < nst && !ver; i++)
            if (!strcmp(st[i].name, name) && (!arch || !st[i].arch || !strcmp(st[i].arch, arch)))
                ver = st[i].version;
        if (!ver)
            continue; /* a .list left by a removed package */
        snprintf(tok, sizeof tok, "deb:%s=%s", name, ver);
        const char *t = intern(e, tok);
        if (!t)
            break;
        if (e->ndeb == e->cdeb) {
            size_t nc = e->cdeb ? e->cdeb * 2 : 1024;
            const char **p = realloc(e->debtok, nc * sizeof *p);
            if (!p)
                break;
            e->debtok = p;
            e->cdeb = nc;
        }
        e->debtok[e->ndeb] = t;
        char path[4096 + 300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "re");
        ssize_t len;
        while (f && (len = getline(&line, &lcap, f)) > 0) {
            if (line[len - 1] == '\n')
                line[--len] = 0;
            if (len && deb_put(e, fnv(line, (size_t)len), (uint32_t)e->ndeb) < 0)
                break;
        }
        if (f)
            fclose(f);
        e->ndeb++;
    }
    if (d)
        closedir(d);
    free(line);
    for (size_t i = 0; i < nst; i++) {
        free(st[i].name);
        free(st[i].arch);
        free(st[i].version);
    }
    free(st);
}

/* The Debian package of path. A compiled module is not in any .list (it is
 * made at install time): .../__pycache__/mod.cpython-311.pyc is looked up as
 * .../mod.py. /usr/lib and /lib are one directory on a merged /usr; a .list
 * names either. */
static const char *deb_of(tt_envpkg *e, const char *path)
{
    if (!e->deb_loaded)
        deb_load(e);
    char buf[4096];
    const char *pc = strstr(path, "/__pycache__/");
    size_t n = strlen(path);
    if (pc && n > 4 && !strcmp(path + n - 4, ".pyc") && !strchr(pc + 13, '/')) {
        const char *mod = pc + 13, *dot = strchr(mod, '.');
        int k = snprintf(buf, sizeof buf, "%.*s/%.*s.py", (int)(pc - path), path, (int)(dot - mod), mod);
        if (k < 0 || (size_t)k >= sizeof buf)
            return NULL;
        path = buf;
        n = (size_t)k;
    }
    const char *t = deb_get(e, path, n);
    if (!t && starts(path, "/usr/lib"))
        t = deb_get(e, path + 4, n - 4);
    else if (!t && starts(path, "/lib")) {
        char alt[4096 + 8];
        int k = snprintf(alt, sizeof alt, "/usr%s", path);
        if (k > 0 && (size_t)k < sizeof alt)
            t = deb_get(e, alt, (size_t)k);
    }
    return t;
}

/* "Name: x" / "Version: y" of a metadata file (RFC 822 headers). */
static void py_meta(const char *file, char *name, size_t nn, char *ver, size_t vn)
{
    FILE *f = fopen(file, "re");
    char line[1024];
    while (f && fgets(line, sizeof line, f) && line[0] != '\n') {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "Name: ", 6) && !*name && strlen(line + 6) < nn)
            strcpy(name, line + 6);
        else if (!strncmp(line, "Version: ", 9) && !*ver && strlen(line + 9) < vn)
            strcpy(ver, line + 9);
    }
    if (f)
        fclose(f);
}

static int py_add(struct pysite *s, const char *top, size_t n, const char *token)
{
    if (!n || !token)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i].top) == n && !strncmp(s->v[i].top, top, n))
            return 0;
    struct pyent *p = realloc(s->v, (s->n + 1) * sizeof *p);
    if (!p)
        return -1;
    s->v = p;
    if (!(p[s->n].top = strndup(top, n)))
        return -1;
    p[s->n++].token = token;
    return 0;
}

/* The top-level names of a distribution: top_level.txt, else the first
 * components of RECORD's paths, else its name as a module. */
static void py_tops(struct pysite *s, const char *meta, const char *name, const char *token)
{
    char file[4096 + 300], line[4096];
    int found = 0;
    if (snprintf(file, sizeof file, "%s/top_level.txt", meta) >= (int)sizeof file)
        return;
    FILE *f = fopen(file, "re");
    while (f && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n/");
        found |= n > 0;
        py_add(s, line, n, token);
    }
    if (f)
        fclose(f);
    if (found)
        return;
    if (snprintf(file, sizeof file, "%s/RECORD", meta) < (int)sizeof file && (f = fopen(file, "re"))) {
        while (fgets(line, sizeof line, f)) {
            size_t n = strcspn(line, "/,");
            if (line[n] != '/') /* a module file at the top: "six.py,..." */
                n = strcspn(line, ".,");
            if (n && strncmp(line, "..", 2) && strncmp(line, "__pycache__", 11) &&
                !strstr(line, ".dist-info/")) {
                py_add(s, line, n, token);
                found = 1;
            }
        }
        fclose(f);
    }
    if (found)
        return;
    char mod[256];
    size_t k = 0;
    for (; name[k] && k < sizeof mod - 1; k++)
        mod[k] = name[k] == '-' || name[k] == '.' ? '_' : (char)tolower((unsigned char)name[k]);
    py_add(s, mod, k, token);
}

/* Reads the distributions of a site-packages directory. */
static struct pysite *py_site(tt_envpkg *e, const char *dir, size_t dn)
{
    for (size_t i = 0; i < e->nsites; i++)
        if (strlen(e->sites[i].dir) == dn && !strncmp(e->sites[i].dir, dir, dn))
            return &e->sites[i];
    struct pysite *p = realloc(e->sites, (e->nsites + 1) * sizeof *p);
    if (!p)
        return NULL;
    e->sites = p;
    struct pysite *s = &p[e->nsites];
    memset(s, 0, sizeof *s);
    if (!(s->dir = strndup(dir, dn)))
        return NULL;
    e->nsites++;
    DIR *d = opendir(s->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        int dist = nl > 10 && !strcmp(de->d_name + nl - 10, ".dist-info");
        int egg = nl > 9 && !strcmp(de->d_name + nl - 9, ".egg-info");
        if (!dist && !egg)
            continue;
        char meta[4096 + 300], file[4096 + 600], name[256] = "", ver[128] = "", tok[512];
        snprintf(meta, sizeof meta, "%s/%s", s->dir, de->d_name);
        snprintf(file, sizeof file, "%s/%s", meta, dist ? "METADATA" : "PKG-INFO");
        py_meta(file, name, sizeof name, ver, sizeof ver);
        if (!*name) /* an egg-info file is the metadata itself */
            py_meta(meta, name, sizeof name, ver, sizeof ver);
        if (!*name)
            continue;
        if (*ver)
            snprintf(tok, sizeof tok, "python:%s=%s", name, ver);
        else
            snprintf(tok, sizeof tok, "python:%s", name);
        py_tops(s, meta, name, intern(e, tok));
    }
    if (d)
        closedir(d);
    return s;
}

/* The Python distribution of a file under site-packages / dist-packages. */
static const char *py_of(tt_envpkg *e, const char *path)
{
    const char *m = strstr(path, "/site-packages/");
    const char *m2 = strstr(path, "/dist-packages/");
    if (!m || (m2 && m2 < m))
        m = m2;
    if (!m)
        return NULL;
    const char *rel = m + 15;
    struct pysite *s = py_site(e, path, (size_t)(m + 14 - path));
    if (!s)
        return NULL;
    size_t n = strcspn(rel, "/");
    if (!rel[n] || !strncmp(rel, "__pycache__/", 12)) { /* a top-level module */
        const char *b = rel[n] ? rel + n + 1 : rel;
        rel = b;
        n = strcspn(b, ".");
    }
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i].top) == n && !strncmp(s->v[i].top, rel, n))
            return s->v[i].token;
    return NULL;
}

const char *envpkg_packages(tt_envpkg *e, const char *path)
{
    if (!e || !path || is_metadata(path))
        return NULL;
    const char *deb = deb_of(e, path), *py = py_of(e, path);
    if (!deb || !py)
        return deb ? deb : py;
    char both[1200];
    snprintf(both, sizeof both, "%s %s", deb, py);
    return intern(e, both);
}
