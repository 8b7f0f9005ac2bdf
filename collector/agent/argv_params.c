/* argv_params.c - see argv_params.h. */
#include "argv_params.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* "-0.5" and "-1e-3" start with a dash but are values: a search passes
 * negative gammas and offsets all the time. */
static int is_number(const char *s)
{
    if (!*s)
        return 0;
    char *end;
    strtod(s, &end);
    return *end == 0;
}

static int is_flag(const char *s)
{
    return s[0] == '-' && s[1] != 0 && !is_number(s) && strcmp(s, "--") != 0;
}

/* `lr=0.1` is a param only if the key looks like an identifier, so a path
 * such as `/data/a=b.csv` stays positional. */
static int ident_key(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static int push(struct argv_param **arr, size_t *n, size_t *cap, const char *k, size_t klen,
                const char *v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct argv_param *p = realloc(*arr, nc * sizeof *p);
        if (!p)
            return -1;
        *arr = p;
        *cap = nc;
    }
    char *key = strndup(k, klen), *val = strdup(v);
    if (!key || !val) {
        free(key);
        free(val);
        return -1;
    }
    (*arr)[*n].key = key;
    (*arr)[*n].value = val;
    (*n)++;
    return 0;
}

int argv_params_parse(int argc, char *const *argv, struct argv_param **out, size_t *n)
{
    struct argv_param *arr = NULL;
    size_t cnt = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a)
            break;
        if (!strcmp(a, "--"))
            break; /* the rest are operands */
        if (is_flag(a)) {
            const char *k = a + (a[1] == '-' ? 2 : 1);
            const char *eq = strchr(k, '=');
            size_t klen = eq ? (size_t)(eq - k) : strlen(k);
            if (klen == 0)
                continue;
            const char *v = "true";
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc && argv[i + 1] && !is_flag(argv[i + 1]) && strcmp(argv[i + 1], "--"))
                v = argv[++i];
            if (push(&arr, &cnt, &cap, k, klen, v) < 0)
                goto err;
            continue;
        }
        const char *eq = strchr(a, '=');
        if (eq && ident_key(a, (size_t)(eq - a)))
            if (push(&arr, &cnt, &cap, a, (size_t)(eq - a), eq + 1) < 0)
                goto err;
        /* anything else is positional: data files come from FileAccess */
    }
    *out = arr;
    *n = cnt;
    return 0;
err:
    argv_params_free(arr, cnt);
    errno = ENOMEM;
    return -1;
}

void argv_params_free(struct argv_param *p, size_t n)
{
    for (size_t i = 0; i < n && p; i++) {
        free(p[i].key);
        free(p[i].value);
    }
    free(p);
}

/* ---- interpreters ------------------------------------------------------- */

enum interp { NOT_INTERP, PYTHON, SHELL, PERL, RSCRIPT };

static const char *basename_of(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

static enum interp interp_of(const char *path)
{
    const char *b = basename_of(path);
    if (!fnmatch("python*", b, 0) || !fnmatch("pypy*", b, 0))
        return PYTHON;
    if (!strcmp(b, "bash") || !strcmp(b, "sh") || !strcmp(b, "dash") || !strcmp(b, "zsh") || !strcmp(b, "ksh"))
        return SHELL;
    if (!fnmatch("perl*", b, 0))
        return PERL;
    if (!strcmp(b, "Rscript"))
        return RSCRIPT;
    return NOT_INTERP;
}

static void set_script(struct argv_program *o, int argc, char *const *argv, int i, const char *name)
{
    if (i < argc && argv[i]) {
        o->script = i;
        o->name = name ? name : argv[i];
    }
}

/* python [-bBdEhiIOPqsSuvVx] [-W arg] [-X opt] [-c cmd | -m mod | file | -] */
static void python_args(int argc, char *const *argv, struct argv_program *o)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            set_script(o, argc, argv, i, NULL);
            return;
        }
        if (!strcmp(a, "-"))
            return; /* the program comes on stdin */
        if (!strcmp(a, "--")) {
            set_script(o, argc, argv, i + 1, NULL);
            return;
        }
        if (a[1] == '-') {
            if (!strcmp(a, "--check-hash-based-pycs"))
                i++;
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'c') {
                o->helper = 1; /* code on the command line */
                return;
            }
            if (*c == 'm') {
                o->module = 1;
                if (c[1])
                    set_script(o, argc, argv, i, c + 1);
                else
                    set_script(o, argc, argv, i + 1, NULL);
                static const char *const helpers[] = {"joblib.", "loky.", "multiprocessing.", "concurrent."};
                for (size_t k = 0; o->name && k < sizeof helpers / sizeof *helpers; k++)
                    if (!strncmp(o->name, helpers[k], strlen(helpers[k])))
                        o->helper = 1;
                return;
            }
            if (*c == 'W' || *c == 'X') {
                if (!c[1])
                    i++;
                break;
            }
        }
    }
}

/* sh/bash/dash [-+abefhikmnprstuvxBCHP] [-o opt] [--long] [-c cmd | -s | file] */
static void shell_args(int argc, char *const *argv, struct argv_program *o)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--") || !strcmp(a, "-")) {
            set_script(o, argc, argv, i + 1, NULL);
            return;
        }
        if (a[0] != '-' && a[0] != '+') {
            set_script(o, argc, argv, i, NULL);
            return;
        }
        if (a[1] == '-') {
            if (!strcmp(a, "--rcfile") || !strcmp(a, "--init-file"))
                i++;
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            /* `sh -c` is how make and system() run any command: the
             * shell's own program, not a helper */
            if (*c == 'c' || *c == 's')
                return; /* commands from stdin */
            if (*c == 'o' || *c == 'O')
                i++;
        }
    }
}

/* perl [-switches] [--] [programfile | -e code] */
static void perl_args(int argc, char *const *argv, struct argv_program *o)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            set_script(o, argc, argv, i + 1, NULL);
            return;
        }
        if (a[0] != '-' || !a[1]) {
            if (a[0] != '-')
                set_script(o, argc, argv, i, NULL);
            return;
        }
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'e' || *c == 'E') {
                o->helper = 1;
                return;
            }
            if (strchr("IMmdDlx0iCF", *c))
                break; /* the rest of the switch is its value */
        }
    }
}

/* Rscript [--options] [-e expr | file] [args] */
static void rscript_args(int argc, char *const *argv, struct argv_program *o)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-e")) {
            o->helper = 1;
            return;
        }
        if (a[0] != '-') {
            set_script(o, argc, argv, i, NULL);
            return;
        }
    }
}

void argv_program(int argc, char *const *argv, const char *exe, struct argv_program *out)
{
    memset(out, 0, sizeof *out);
    enum interp k = exe ? interp_of(exe) : NOT_INTERP;
    if (k == NOT_INTERP && argc > 0 && argv[0])
        k = interp_of(argv[0]);
    for (int i = 1; i < argc && argv[i]; i++)
        if (!strcmp(argv[i], "--multiprocessing-fork"))
            out->helper = 1;
    if (k == NOT_INTERP)
        return;
    out->interpreter = 1;
    switch (k) {
    case PYTHON: python_args(argc, argv, out); break;
    case SHELL: shell_args(argc, argv, out); break;
    case PERL: perl_args(argc, argv, out); break;
    case RSCRIPT: rscript_args(argc, argv, out); break;
    default: break;
    }
    if (out->helper) {
        out->script = 0;
        out->name = NULL;
    }
}
