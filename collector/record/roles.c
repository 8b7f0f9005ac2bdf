/* roles.c - tt_param_role (roles.h): the role rule, in the order docs/RECORD.md
 * gives it. The first rule that holds decides. */
#include "roles.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "record.h"
#include "registry.h"

const char *tt_role_name(enum tt_role role)
{
    switch (role) {
    case TT_ROLE_PATH: return "path";
    case TT_ROLE_SEED: return "seed";
    case TT_ROLE_INFO: return "info";
    default: return "choice";
    }
}

static void say(char *why, size_t whylen, const char *fmt, const char *arg)
{
    if (why && whylen)
        snprintf(why, whylen, fmt, arg ? arg : "");
}

static int is_number(const char *s)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return 0;
    (void)strtod(s, &end);
    return *end == 0;
}

/* 1 if path (absolute) is value, or ends with "/value" (value relative), or
 * lies in the folder value (then *dir = 1). */
static int names(const char *path, const char *value, int *dir)
{
    size_t pl = strlen(path), vl = strlen(value);
    while (vl > 1 && value[vl - 1] == '/')
        vl--;
    if (value[0] == '/') {
        if (pl == vl && !memcmp(path, value, vl))
            return 1;
        if (pl > vl && !memcmp(path, value, vl) && path[vl] == '/')
            return *dir = 1;
        return 0;
    }
    /* relative: "/value" at the end, or "/value/" inside */
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
        if (strncmp(p + 1, value, vl))
            continue;
        if (p[1 + vl] == 0)
            return 1;
        if (p[1 + vl] == '/')
            return *dir = 1;
    }
    return 0;
}

/* A key that usually names a file: a part of its last field (split at '_' and
 * '-') is one of these words (case-insensitive). */
static int fileish_key(const char *key)
{
    static const char *const words[] = {
        "out",  "output", "outdir", "outfile", "model",   "save",    "file",   "filename",
        "path", "dir",    "folder", "ckpt",    "checkpoint", "weights", "log", "logdir",
        "logfile", "data", "dataset", "input", "config",  "cfg",     "resume", "load",
        "dest", NULL};
    const char *base = strrchr(key, '.');
    base = base ? base + 1 : key;
    while (*base == '-')
        base++;
    while (*base) {
        size_t n = strcspn(base, "_-");
        for (int i = 0; words[i]; i++)
            if (strlen(words[i]) == n && !strncasecmp(base, words[i], n))
                return 1;
        base += n;
        base += *base != 0;
    }
    return 0;
}

/* A value that is clearly a file name: it has a '/', or ends in an
 * extension (1-8 letters / digits / '_', at least one letter) after a
 * non-empty name, and is no number. */
static int filename_like(const char *v)
{
    if (!*v || is_number(v))
        return 0;
    if (strchr(v, '/'))
        return 1;
    const char *dot = strrchr(v, '.');
    if (!dot || dot == v || !dot[1] || strlen(dot + 1) > 8)
        return 0;
    int letter = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
        letter |= isalpha((unsigned char)*p) != 0;
    }
    return letter;
}

enum tt_role tt_param_role(const char *framework, const char *exe, const char *key,
                           const char *value, const char *source,
                           const struct tt_role_files *files, char *why, size_t whylen)
{
    const struct tt_adapter *a = tt_adapter_find(framework);
    char buf[160];
    /* 1. what the trial's adapter declares about its own keys */
    if (a && tt_adapter_field_in(a, a->path_fields, key)) {
        say(why, whylen, "the %s adapter's key for a file", a->name);
        return TT_ROLE_PATH;
    }
    if (a && tt_adapter_field_in(a, a->info_fields, key)) {
        say(why, whylen, "describes the data (the %s adapter's)", a->name);
        return TT_ROLE_INFO;
    }
    /* 2. an option of the adapter's program that sets one of those keys */
    const char *field = source && !strcmp(source, "argv") ? tt_adapter_restated(a, exe, key) : NULL;
    if (field) {
        snprintf(buf, sizeof buf, "%s.%s", a->name, field);
        say(why, whylen, "restates %s", buf);
        return TT_ROLE_INFO;
    }
    /* 3. a repetition */
    if (record_seed_like(key)) {
        say(why, whylen, "a seed-like key name%s", "");
        return TT_ROLE_SEED;
    }
    /* 4. a value naming a file: what the adapter reports about its own
     * settings is not searched for in the file lists */
    int adapter = source && !strcmp(source, "adapter");
    if (adapter || !value || !*value || is_number(value) || !strcmp(value, "true") ||
        !strcmp(value, "false")) {
        say(why, whylen, "a hyperparameter (not a file, seed or data size)%s", "");
        return TT_ROLE_CHOICE;
    }
    const char *v = value;
    while (v[0] == '.' && v[1] == '/')
        v += 2;
    for (int out = 1; *v && files && out >= 0; out--) {
        const char *const *list = out ? files->outputs : files->inputs;
        size_t n = out ? files->noutputs : files->ninputs;
        for (size_t i = 0; i < n; i++) {
            int dir = 0;
            if (list[i] && names(list[i], v, &dir)) {
                say(why, whylen, dir ? "names a folder the trial %s files in"
                                     : "names a file the trial %s",
                    out ? "wrote" : "read");
                return TT_ROLE_PATH;
            }
        }
    }
    if (value[0] == '/' && value[1]) {
        say(why, whylen, "an absolute path%s", "");
        return TT_ROLE_PATH;
    }
    if (fileish_key(key) && filename_like(value)) {
        say(why, whylen, "a file name given to a key for files%s", "");
        return TT_ROLE_PATH;
    }
    say(why, whylen, "a hyperparameter (not a file, seed or data size)%s", "");
    return TT_ROLE_CHOICE;
}

int tt_source_unset(const char *source)
{
    if (!source)
        return 0;
    size_t n = strlen(source);
    return !strcmp(source, "adapter") || (n > 8 && !strcmp(source + n - 8, ":default"));
}
