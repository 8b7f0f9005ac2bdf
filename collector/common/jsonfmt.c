/* jsonfmt.c - see jsonfmt.h. */
#include "jsonfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the byte at s does
 * not start one. Same rules as jansson: no overlongs, no surrogates, nothing
 * above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

char *jsonfmt_utf8_fix(const char *s)
{
    if (!s)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1), *q = out; /* each bad byte becomes 3 */
    if (!out)
        return NULL;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(q, p, n);
            q += n, p += n;
        } else {
            memcpy(q, "\xEF\xBF\xBD", 3);
            q += 3, p++;
        }
    }
    *q = 0;
    return out;
}

json_t *jsonfmt_string(const char *s)
{
    if (!s)
        return NULL;
    json_t *j = json_string(s); /* the common case: already valid */
    if (j)
        return j;
    char *fixed = jsonfmt_utf8_fix(s);
    j = fixed ? json_string(fixed) : NULL;
    free(fixed);
    return j;
}

/* Strings jsonfmt_text repaired since the last attach: identity of the
 * json_t (an object holds its members by reference, so the pointer found
 * in the tree is the one made here) and the hex of the stored bytes. */
struct raw_text {
    json_t *str;
    char *hex;
    int seen;
};
static _Thread_local struct raw_text *raw_list;
static _Thread_local size_t raw_n, raw_cap;

void jsonfmt_forget_raw(void)
{
    for (size_t i = 0; i < raw_n; i++) {
        json_decref(raw_list[i].str);
        free(raw_list[i].hex);
    }
    free(raw_list);
    raw_list = NULL;
    raw_n = raw_cap = 0;
}

json_t *jsonfmt_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    j = jsonfmt_string(s);
    size_t len = strlen(s);
    char *hex = malloc(len * 2 + 1);
    if (!j || !hex || (raw_n == raw_cap && !(raw_cap = raw_cap ? raw_cap * 2 : 8,
                                             raw_list = realloc(raw_list, raw_cap * sizeof *raw_list)))) {
        /* Out of memory: a null the caller's attach cannot match fails it. */
        free(hex);
        json_decref(j);
        raw_n = raw_cap = 0;
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    raw_list[raw_n++] = (struct raw_text){json_incref(j), hex, 0};
    return j;
}

/* Appends "/" and seg escaped as RFC 6901 says (~ -> ~0, / -> ~1). */
static int ptr_push(char **p, size_t *len, size_t *cap, const char *seg)
{
    size_t need = *len + 2 + 2 * strlen(seg) + 1;
    if (need > *cap) {
        char *g = realloc(*p, need * 2);
        if (!g)
            return -1;
        *p = g;
        *cap = need * 2;
    }
    (*p)[(*len)++] = '/';
    for (const char *c = seg; *c; c++) {
        if (*c == '~' || *c == '/') {
            (*p)[(*len)++] = '~';
            (*p)[(*len)++] = *c == '~' ? '0' : '1';
        } else
            (*p)[(*len)++] = *c;
    }
    (*p)[*len] = 0;
    return 0;
}

static void raw_walk(json_t *v, char **p, size_t *len, size_t *cap, json_t *out, size_t *found)
{
    size_t at = *len;
    if (json_is_string(v)) {
        for (size_t i = 0; i < raw_n; i++)
            if (raw_list[i].str == v && raw_list[i].hex) {
                json_object_set_new(out, *p, json_string(raw_list[i].hex));
                *found += !raw_list[i].seen;
                raw_list[i].seen = 1;
            }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) {
            if (ptr_push(p, len, cap, k) == 0)
                raw_walk(m, p, len, cap, out, found);
            *len = at;
            (*p)[at] = 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            char seg[24];
            snprintf(seg, sizeof seg, "%zu", i);
            if (ptr_push(p, len, cap, seg) == 0)
                raw_walk(m, p, len, cap, out, found);
            *len = at;
            (*p)[at] = 0;
        }
    }
}

int jsonfmt_attach_raw(json_t *o)
{
    if (!raw_n)
        return 0;
    json_t *out = json_object();
    size_t len = 0, cap = 64, found = 0;
    char *p = calloc(1, cap);
    int rc = -1;
    if (out && p && json_is_object(o)) {
        raw_walk(o, &p, &len, &cap, out, &found);
        rc = found == raw_n ? 0 : -1;
        json_object_set_new(o, "raw", out);
        out = NULL;
    }
    json_decref(out);
    free(p);
    jsonfmt_forget_raw();
    return rc;
}

json_t *jsonfmt_iso_ns(long long ns)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    char buf[48];
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)((ns / 1000000) % 1000));
    return json_string(buf);
}
