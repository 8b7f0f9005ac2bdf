/* registry.c - walking the table of adapters; see registry.h. libc only:
 * linked into the shim and readable by the collector. */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Defined by the linker around each section. Weak: a program that links no
 * row (or no fork reset) has no such section, and then no symbols; hidden:
 * the shim's table is its own, never another object's. */
#define TT_HIDDEN_WEAK __attribute__((weak, visibility("hidden")))
extern const struct tt_adapter *const __start_tt_adapters[] TT_HIDDEN_WEAK;
extern const struct tt_adapter *const __stop_tt_adapters[] TT_HIDDEN_WEAK;
extern const tt_adapter_fork_fn __start_tt_adapter_forks[] TT_HIDDEN_WEAK;
extern const tt_adapter_fork_fn __stop_tt_adapter_forks[] TT_HIDDEN_WEAK;

const char *const tt_refit_ignore_default[] = {"nr_fold", "model_file", NULL};

size_t tt_adapter_count(void)
{
    return __start_tt_adapters ? (size_t)(__stop_tt_adapters - __start_tt_adapters) : 0;
}

const struct tt_adapter *tt_adapter_at(size_t i)
{
    return i < tt_adapter_count() ? __start_tt_adapters[i] : NULL;
}

const struct tt_adapter *tt_adapter_find(const char *name)
{
    for (size_t i = 0, n = tt_adapter_count(); name && i < n; i++)
        if (!strcmp(__start_tt_adapters[i]->name, name))
            return __start_tt_adapters[i];
    return NULL;
}

const struct tt_adapter_exe *tt_adapter_exe_find(const char *exe)
{
    for (size_t i = 0, n = tt_adapter_count(); exe && i < n; i++)
        for (const struct tt_adapter_exe *e = __start_tt_adapters[i]->exes; e && e->exe; e++)
            if (!strcmp(e->exe, exe))
                return e;
    return NULL;
}

int tt_adapter_refit_ignored(const struct tt_adapter *a, const char *key)
{
    const char *field = strrchr(key, '.');
    field = field ? field + 1 : key;
    for (const char *const *f = a ? a->refit_ignore : tt_refit_ignore_default; f && *f; f++)
        if (!strcmp(*f, field))
            return 1;
    return 0;
}

int tt_adapter_field_in(const struct tt_adapter *a, const char *const *list, const char *key)
{
    size_t n = a ? strlen(a->name) : 0;
    if (!a || strncmp(key, a->name, n) || key[n] != '.')
        return 0;
    for (const char *const *f = list; f && *f; f++)
        if (!strcmp(*f, key + n + 1))
            return 1;
    return 0;
}

const char *tt_adapter_restated(const struct tt_adapter *a, const char *exe, const char *flag)
{
    const char *base = exe ? strrchr(exe, '/') : NULL;
    base = base ? base + 1 : exe;
    for (const struct tt_adapter_flag *f = a && base ? a->flags : NULL; f && f->exe; f++) {
        size_t n = strlen(f->flag);
        if (strcmp(f->exe, base))
            continue;
        if (n && f->flag[n - 1] == '*' ? !strncmp(f->flag, flag, n - 1) && flag[n - 1]
                                       : !strcmp(f->flag, flag))
            return f->field;
    }
    return NULL;
}

int tt_adapters_fork_child(void)
{
    int n = 0;
    for (const tt_adapter_fork_fn *f = __start_tt_adapter_forks; f && f < __stop_tt_adapter_forks; f++, n++)
        (*f)();
    return n;
}

/* ---- parser helpers --------------------------------------------------------- */

int tt_lines_prefix(const char *l, const char *end, const char *pre, const char **rest)
{
    size_t n = strlen(pre);
    if ((size_t)(end - l) < n || memcmp(l, pre, n))
        return 0;
    *rest = l + n;
    return 1;
}

/* strtod needs a terminated string, so at most 63 bytes are copied. */
int tt_lines_number(const char **p, const char *end, double *v)
{
    const char *q = *p;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    char tmp[64];
    size_t n = (size_t)(end - q) < sizeof tmp - 1 ? (size_t)(end - q) : sizeof tmp - 1;
    memcpy(tmp, q, n);
    tmp[n] = 0;
    char *e;
    int saved = errno;
    *v = strtod(tmp, &e);
    errno = saved;
    if (e == tmp)
        return 0;
    *p = q + (e - tmp);
    return 1;
}

int tt_lines_integer(const char **p, const char *end, int64_t *v)
{
    const char *q = *p;
    int64_t x = 0;
    if (q == end || *q < '0' || *q > '9')
        return 0;
    for (; q < end && *q >= '0' && *q <= '9' && x < INT64_MAX / 10 - 10; q++)
        x = x * 10 + (*q - '0');
    *v = x;
    *p = q;
    return 1;
}

int tt_lines_prefixed(struct tt_lines *l, const char *line, const char *end, const char *pre,
                      const char *name, const char *split, const char *direction)
{
    const char *r;
    double v;
    if (!tt_lines_prefix(line, end, pre, &r))
        return 0;
    if (tt_lines_number(&r, end, &v))
        l->metric(l, name, v, -1, split, direction);
    return 1;
}

void tt_lines_predict(struct tt_lines *l, const char *s, const char *end)
{
    if (!tt_lines_prefixed(l, s, end, "Accuracy = ", "accuracy", "test", "max") &&
        !tt_lines_prefixed(l, s, end, "Mean squared error = ", "mse", "test", "min"))
        tt_lines_prefixed(l, s, end, "Squared correlation coefficient = ", "scc", "test", "max");
}
