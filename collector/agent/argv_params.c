/* argv_params.c - see argv_params.h. */
#include "argv_params.h"

#include <ctype.h>
#include <errno.h>
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
