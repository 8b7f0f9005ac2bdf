/* leafscan.c - one-pass scanner for a trial's leaf object (see leafscan.h).
 *
 * Shape: a cursor over the text; one routine per JSON shape the leaf uses
 * (string, integer, real, the params / sources / metrics objects) and one
 * generic skip for everything else. Strings are validated once (span scan)
 * and copied once into the arena; escapes are decoded only when present.
 * What jansson's loader rejects we reject too (bad escapes, lone surrogates,
 * \u0000, integers outside int64, reals that overflow), so a leaf that
 * verify loaded with jansson and dumped again scans to the same fields. */
#include "leafscan.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- arena --------------------------------------------------------------- */

#define LEAF_CHUNK_MIN ((size_t)1 << 20)
#define LEAF_CHUNK_MAX ((size_t)64 << 20)
#define LEAF_HUGE ((size_t)2 << 20)

/* Chunks come from tt_big_alloc, not malloc: scanning 100k leaves writes ~50 MB of
 * fresh memory, and on the VMs we measure on a page fault costs more than
 * scanning the page's worth of text. Chunks double (1 MiB .. 64 MiB) and ask
 * for transparent huge pages, so a big study takes a few hundred faults
 * instead of tens of thousands, while a single leaf still costs 1 MiB. */
struct leaf_chunk {
    struct leaf_chunk *next;
    size_t used, cap; /* cap: bytes of data[] */
    size_t mapped;    /* bytes mapped, header included */
    unsigned char data[];
};
_Static_assert(offsetof(struct leaf_chunk, data) % 8 == 0, "chunk data must be 8-aligned");

static struct leaf_chunk *chunk_new(size_t want)
{
    size_t size = want >= LEAF_HUGE ? (want + LEAF_HUGE - 1) & ~(LEAF_HUGE - 1) : want;
    struct leaf_chunk *c = tt_big_alloc(size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->used = 0;
    c->mapped = size;
    c->cap = size - sizeof *c;
    return c;
}

void *leafscan_arena_alloc(struct leafscan_arena *a, size_t n)
{
    struct leaf_chunk *c = a->head, *nc;
    size_t size;

    if (n > SIZE_MAX / 4)
        return NULL;
    n = (n + 7) & ~(size_t)7;
    if (c && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    size = c ? c->mapped * 2 : LEAF_CHUNK_MIN;
    if (size > LEAF_CHUNK_MAX)
        size = LEAF_CHUNK_MAX;
    if (size < n + sizeof *nc)
        size = n + sizeof *nc;
    if (!(nc = chunk_new(size)))
        return NULL;
    nc->used = n;
    /* A big allocation may leave its chunk with less room than the current
     * one: keep the roomier chunk at the head so no free space is abandoned. */
    if (c && c->cap - c->used > nc->cap - n) {
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        a->head = nc;
    }
    return nc->data;
}

void leafscan_arena_free(struct leafscan_arena *a)
{
    struct leaf_chunk *c = a->head;
    while (c) {
        struct leaf_chunk *next = c->next;
        tt_big_free(c, c->mapped);
        c = next;
    }
    a->head = NULL;
}

/* ---- cursor and errors ------------------------------------------------------- */

/* Nesting allowed in skipped values; deeper input is rejected rather than
 * risking the stack (jansson's own limit is 2048). */
#define LEAF_MAX_DEPTH 512

struct scan {
    const char *base, *p, *end;
    struct leafscan_arena *a;
    char *err;
    size_t errlen;
};

static int fail(struct scan *s, const char *what)
{
    if (s->err && s->errlen)
        snprintf(s->err, s->errlen, "%s at byte %zu", what, (size_t)(s->p - s->base));
    return -1;
}

static int fail_end(struct scan *s, const char *what)
{
    return s->p >= s->end ? fail(s, "truncated text") : fail(s, what);
}

static inline void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Skips whitespace, then consumes c if it is next; 0 if it was not. */
static inline int eat(struct scan *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* ---- strings ------------------------------------------------------------------ */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero if any byte of x is '"', '\\' or below 0x20 (the classic
 * has-zero-byte / has-less-than word tricks; exact as a yes/no answer). */
static inline uint64_t str_special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x)) & HIGHS;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* Validates the string at s->p (which is '"') and moves past its closing
 * quote. *start, *n: the raw bytes between the quotes; *esc: 1 if any
 * escape. All validation happens here, so str_decode cannot fail. */
static int str_span(struct scan *s, const char **start, size_t *n, int *esc)
{
    const char *p = s->p + 1, *end = s->end;

    *start = p;
    *esc = 0;
    for (;;) {
        /* Find the next '"', '\\' or control byte 16 or 8 bytes at a time. */
#ifdef __SSE2__
        const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)),
                                     _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
            int mask = _mm_movemask_epi8(m);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto special;
            }
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);
            if ((m = str_special8(w))) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* the lowest flagged byte is always a true hit */
                p += __builtin_ctzll(m) / 8;
                goto special;
#else
                break;
#endif
            }
            p += 8;
        }
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (p >= end) {
            s->p = p;
            return fail(s, "truncated text");
        }
    special:
        if (*p == '"')
            break;
        if (*p != '\\') {
            s->p = p;
            return fail(s, "control character in string");
        }
        *esc = 1;
        s->p = p;
        if (end - p < 2)
            return fail(s, "truncated text");
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return fail(s, "bad escape");
        }
        if (end - p < 6)
            return fail(s, "truncated text");
        int u = hex4(p + 2);
        if (u < 0)
            return fail(s, "bad escape");
        if (u == 0)
            return fail(s, "\\u0000 in string");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(s, "lone low surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* only "\\u" + a low surrogate may follow */
            if ((end - p > 6 && p[6] != '\\') || (end - p > 7 && p[7] != 'u'))
                return fail(s, "lone high surrogate");
            if (end - p < 12)
                return fail(s, "truncated text");
            int lo = hex4(p + 8);
            if (lo < 0)
                return fail(s, "bad escape");
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(s, "lone high surrogate");
            p += 6;
        }
        p += 6;
    }
    *n = (size_t)(p - *start);
    s->p = p + 1;
    return 0;
}

static char *utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes n raw bytes already validated by str_span into o (room for n + 1:
 * decoding never lengthens) and NUL-terminates. Returns the decoded length. */
static size_t str_decode(const char *r, size_t n, char *o)
{
    const char *end = r + n;
    char *o0 = o;
    while (r < end) {
        if (*r != '\\') {
            *o++ = *r++;
            continue;
        }
        char c = r[1];
        r += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)hex4(r);
            r += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)hex4(r + 2) - 0xDC00);
                r += 6;
            }
            o = utf8_put(o, cp);
            break;
        }
        default: *o++ = c; break; /* " \ / */
        }
    }
    *o = '\0';
    return (size_t)(o - o0);
}

/* Reads the string at s->p into the arena (NUL-terminated); NULL on error
 * (already reported). */
static const char *str_copy(struct scan *s, const char *raw, size_t n, int esc, size_t *len)
{
    char *d = leafscan_arena_alloc(s->a, n + 1);

    if (!d) {
        fail(s, "out of memory");
        return NULL;
    }
    if (esc) {
        n = str_decode(raw, n, d);
    } else {
        memcpy(d, raw, n);
        d[n] = '\0';
    }
    if (len)
        *len = n;
    return d;
}

/* Reads the string at s->p into the arena (NUL-terminated; its length in
 * *len if len); NULL on error (already reported). */
static const char *str_take(struct scan *s, size_t *len)
{
    const char *raw;
    size_t n;
    int esc;

    if (str_span(s, &raw, &n, &esc))
        return NULL;
    return str_copy(s, raw, n, esc, len);
}

/* Reads an object key followed by ':'. Unescaped keys point into the text
 * (no copy: most keys are only compared); escaped ones are decoded into the
 * arena. */
static int key_read(struct scan *s, const char **k, size_t *klen)
{
    int esc;

    skip_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return fail_end(s, "expected a key");
    if (str_span(s, k, klen, &esc))
        return -1;
    if (esc) {
        char *d = leafscan_arena_alloc(s->a, *klen + 1);
        if (!d)
            return fail(s, "out of memory");
        *klen = str_decode(*k, *klen, d);
        *k = d;
    }
    if (!eat(s, ':'))
        return fail_end(s, "expected ':'");
    skip_ws(s);
    return 0;
}

/* A key that will be kept: NUL-terminated in the arena. */
static const char *key_take(struct scan *s, size_t *len)
{
    const char *k;

    skip_ws(s);
    if (s->p >= s->end || *s->p != '"') {
        fail_end(s, "expected a key");
        return NULL;
    }
    if (!(k = str_take(s, len)))
        return NULL;
    if (!eat(s, ':')) {
        fail_end(s, "expected ':'");
        return NULL;
    }
    skip_ws(s);
    return k;
}

/* After a member: 1 if another follows (','), 0 at '}' / ']', -1 otherwise. */
static int next_member(struct scan *s, char close)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "truncated text");
    if (*s->p == ',') {
        s->p++;
        return 1;
    }
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    return fail(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* ---- numbers ------------------------------------------------------------------ */

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Validates the JSON number at s->p and moves past it; *integral is 1 when
 * it has neither fraction nor exponent (jansson makes those integers). */
static int num_span(struct scan *s, const char **start, size_t *n, int *integral)
{
    const char *p = s->p, *end = s->end;

    *start = p;
    *integral = 1;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        s->p = p;
        return fail_end(s, "bad number");
    }
    if (p < end && *p == '.') {
        *integral = 0;
        if (++p >= end || !is_digit(*p)) {
            s->p = p;
            return fail_end(s, "bad number");
        }
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *integral = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p)) {
            s->p = p;
            return fail_end(s, "bad number");
        }
        while (p < end && is_digit(*p))
            p++;
    }
    *n = (size_t)(p - *start);
    s->p = p;
    return 0;
}

/* Digits already validated by num_span; -1 if outside int64 (as jansson). */
static int i64_parse(const char *p, size_t n, int64_t *out)
{
    const char *end = p + n;
    int neg = *p == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    p += neg;
    if (end - p <= 18) { /* cannot overflow: no division per digit */
        for (; p < end; p++)
            v = v * 10 + (unsigned)(*p - '0');
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
        return 0;
    }
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* A JSON number as jansson would give it to json_number_value(): integers
 * through int64, reals through strtod (the text is not NUL-terminated, so
 * the number is copied first). strtod reads '.' as the decimal point
 * because tunetrail never calls setlocale(LC_NUMERIC). */
static int num_double(struct scan *s, const char *p, size_t n, int integral, double *out)
{
    char buf[128], *heap = NULL, *b = buf;
    int64_t i;

    if (integral) {
        if (i64_parse(p, n, &i))
            return fail(s, "integer out of range");
        *out = (double)i;
        return 0;
    }
    if (n >= sizeof buf) {
        if (!(heap = malloc(n + 1)))
            return fail(s, "out of memory");
        b = heap;
    }
    memcpy(b, p, n);
    b[n] = '\0';
    errno = 0;
    *out = strtod(b, NULL);
    free(heap);
    if (errno == ERANGE && isinf(*out))
        return fail(s, "real number overflow");
    return 0;
}

/* ---- generic skip ----------------------------------------------------------- */

static int skip_value(struct scan *s, int depth)
{
    const char *t;
    size_t n;
    int r, x;

    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "truncated text");
    if (depth > LEAF_MAX_DEPTH)
        return fail(s, "nesting too deep");
    switch (*s->p) {
    case '"':
        return str_span(s, &t, &n, &x);
    case '{':
        s->p++;
        if (eat(s, '}'))
            return 0;
        do {
            if (key_read(s, &t, &n) || skip_value(s, depth + 1))
                return -1;
        } while ((r = next_member(s, '}')) == 1);
        return r;
    case '[':
        s->p++;
        if (eat(s, ']'))
            return 0;
        do {
            if (skip_value(s, depth + 1))
                return -1;
        } while ((r = next_member(s, ']')) == 1);
        return r;
    case 't':
        t = "true";
        break;
    case 'f':
        t = "false";
        break;
    case 'n':
        t = "null";
        break;
    default:
        return num_span(s, &t, &n, &x);
    }
    n = strlen(t);
    if ((size_t)(s->end - s->p) < n)
        return fail(s, "truncated text");
    if (memcmp(s->p, t, n))
        return fail(s, "bad literal");
    s->p += n;
    return 0;
}

/* ---- typed values ------------------------------------------------------------- */

/* A string value, or NULL (consumed, not an error) if the value is not a
 * string. Returns -1 only on a scan error. */
static int val_string(struct scan *s, const char **out)
{
    if (s->p < s->end && *s->p == '"')
        return (*out = str_take(s, NULL)) ? 0 : -1;
    *out = NULL;
    return skip_value(s, 0);
}

/* An integer value; *has = 0 (consumed, not an error) if the value is not a
 * JSON integer. */
static int val_int(struct scan *s, int64_t *out, int *has)
{
    const char *p;
    size_t n;
    int integral;

    *has = 0;
    if (s->p < s->end && (*s->p == '-' || is_digit(*s->p))) {
        if (num_span(s, &p, &n, &integral))
            return -1;
        if (!integral)
            return 0;
        if (i64_parse(p, n, out))
            return fail(s, "integer out of range");
        *has = 1;
        return 0;
    }
    return skip_value(s, 0);
}

/* ---- scratch arrays ------------------------------------------------------------- */

/* While a leaf is scanned its params / sources / metrics collect in scratch
 * arrays (on the stack; on the heap past their first size); only the final
 * sorted, exact-size arrays go to the arena. Every arena byte is a page to
 * fault in, and the scratch would more than double a leaf's share. */
#define SCRATCH_STRINGS 32
#define SCRATCH_METRICS 8
#define SCRATCH_FILES 8

struct scratch {
    void *v;
    size_t n, cap, elsz;
    void *heap; /* v once it outgrew the stack buffer */
};

static void *scratch_push(struct scan *s, struct scratch *v)
{
    void *slot;

    if (v->n == v->cap) {
        size_t cap = v->cap * 2;
        void *nv = malloc(cap * v->elsz);
        if (!nv) {
            fail(s, "out of memory");
            return NULL;
        }
        memcpy(nv, v->v, v->n * v->elsz);
        free(v->heap);
        v->v = v->heap = nv;
        v->cap = cap;
    }
    slot = (char *)v->v + v->n++ * v->elsz;
    memset(slot, 0, v->elsz);
    return slot;
}

/* A params or sources entry. Param keys are NUL-terminated in the arena;
 * source keys are only compared, so they stay spans of the text. */
struct sent {
    const char *key;
    size_t klen;
    size_t idx; /* order of appearance: the last duplicate wins */
    const char *value;
};

struct ment {
    struct leafscan_metric m;
    size_t idx;
};

/* strcmp order on spans (no NUL inside: \u0000 is rejected). */
static int span_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int idx_cmp(size_t a, size_t b) { return (a > b) - (a < b); }

static int sent_key_cmp(const void *x, const void *y)
{
    const struct sent *a = x, *b = y;
    return span_cmp(a->key, a->klen, b->key, b->klen);
}

static int sent_cmp(const void *x, const void *y)
{
    int c = sent_key_cmp(x, y);
    return c ? c : idx_cmp(((const struct sent *)x)->idx, ((const struct sent *)y)->idx);
}

static int ment_key_cmp(const void *x, const void *y)
{
    return strcmp(((const struct ment *)x)->m.name, ((const struct ment *)y)->m.name);
}

static int ment_cmp(const void *x, const void *y)
{
    int c = ment_key_cmp(x, y);
    return c ? c : idx_cmp(((const struct ment *)x)->idx, ((const struct ment *)y)->idx);
}

/* Sorts v by key, keeping the last of duplicate keys (jansson's loader lets
 * the last duplicate win). Canonical leaves are already strictly sorted:
 * checked in one pass and left alone. */
static void scratch_sort_unique(struct scratch *v, int (*key_cmp)(const void *, const void *),
                                int (*full_cmp)(const void *, const void *))
{
    char *e = v->v;
    size_t i, k, sz = v->elsz;

    for (i = 1; i < v->n; i++)
        if (key_cmp(e + (i - 1) * sz, e + i * sz) >= 0)
            break;
    if (i >= v->n)
        return;
    qsort(e, v->n, sz, full_cmp);
    for (i = k = 0; i < v->n; i++) {
        if (i + 1 < v->n && !key_cmp(e + i * sz, e + (i + 1) * sz))
            continue; /* a later duplicate follows */
        if (k != i)
            memcpy(e + k * sz, e + i * sz, sz);
        k++;
    }
    v->n = k;
}

/* ---- the leaf's objects --------------------------------------------------------- */

/* The previous unescaped string a source value was copied from: a leaf's
 * sources are mostly one word ("adapter"), copied once per leaf. */
struct last_str {
    const char *raw, *copy;
    size_t n;
};

static int val_string_shared(struct scan *s, const char **out, struct last_str *last)
{
    const char *raw;
    size_t n;
    int esc;

    *out = NULL;
    if (s->p >= s->end || *s->p != '"')
        return skip_value(s, 0);
    if (str_span(s, &raw, &n, &esc))
        return -1;
    if (!esc && last->copy && n == last->n && !memcmp(raw, last->raw, n)) {
        *out = last->copy;
        return 0;
    }
    if (!(*out = str_copy(s, raw, n, esc, NULL)))
        return -1;
    if (!esc)
        *last = (struct last_str){raw, *out, n};
    return 0;
}

/* Enters an object value: 1 with members to read, 0 if it was empty or not
 * an object (then skipped whole: a missing field reads as empty), -1 on a
 * scan error. */
static int obj_enter(struct scan *s)
{
    if (s->p >= s->end || *s->p != '{')
        return skip_value(s, 0) < 0 ? -1 : 0;
    s->p++;
    return eat(s, '}') ? 0 : 1;
}

/* "params" / "sources": objects of strings. A value that is not a string
 * gives "" for params (the key was still tried; leaf.c never writes one)
 * and NULL for sources. */
static int obj_strings(struct scan *s, struct scratch *v, int is_params)
{
    static const char empty[] = "";
    struct last_str last = {0};
    int r;

    v->n = 0; /* a duplicate "params" key replaces the earlier one */
    if ((r = obj_enter(s)) <= 0)
        return r;
    do {
        struct sent *e = scratch_push(s, v);
        if (!e)
            return -1;
        e->idx = v->n;
        if (is_params) {
            if (!(e->key = key_take(s, &e->klen)) || val_string(s, &e->value))
                return -1;
            if (!e->value)
                e->value = empty;
        } else if (key_read(s, &e->key, &e->klen) || val_string_shared(s, &e->value, &last)) {
            return -1;
        }
    } while ((r = next_member(s, '}')) == 1);
    return r;
}

static int metric_obj(struct scan *s, struct leafscan_metric *m)
{
    const char *k, *t;
    size_t n;
    int r, integral, has;

    s->p++; /* '{' */
    if (eat(s, '}'))
        return 0;
    do {
        if (key_read(s, &k, &n))
            return -1;
        if (n == 5 && !memcmp(k, "value", 5)) {
            m->value = NAN;
            m->finite = 0;
            if (s->p < s->end && (*s->p == '-' || is_digit(*s->p))) {
                if (num_span(s, &t, &n, &integral) || num_double(s, t, n, integral, &m->value))
                    return -1;
                m->finite = 1;
            } else if (skip_value(s, 0)) { /* "nan", "inf", "-inf", null: not finite */
                return -1;
            }
        } else if (n == 4 && !memcmp(k, "step", 4)) {
            if (val_int(s, &m->step, &has))
                return -1;
            m->has_step = has;
        } else if (n == 5 && !memcmp(k, "split", 5)) {
            if (val_string(s, &m->split))
                return -1;
        } else if (n == 9 && !memcmp(k, "direction", 9)) {
            if (val_string(s, &m->direction))
                return -1;
        } else if (skip_value(s, 0)) {
            return -1;
        }
    } while ((r = next_member(s, '}')) == 1);
    return r;
}

/* "metrics": name -> {value, step, split, direction}. An entry whose value
 * is not an object is not a metric and is left out. */
static int obj_metrics(struct scan *s, struct scratch *v)
{
    int r;

    v->n = 0;
    if ((r = obj_enter(s)) <= 0)
        return r;
    do {
        const char *name = key_take(s, NULL);
        if (!name)
            return -1;
        if (s->p < s->end && *s->p == '{') {
            struct ment *e = scratch_push(s, v);
            if (!e)
                return -1;
            e->idx = v->n;
            e->m.name = name;
            e->m.value = NAN;
            if (metric_obj(s, &e->m))
                return -1;
        } else if (skip_value(s, 0)) {
            return -1;
        }
    } while ((r = next_member(s, '}')) == 1);
    return r;
}

/* "inputs" / "outputs": arrays of {path, sha256, size}; an element that is
 * not an object is left out, members other than path and sha256 skipped. */
static int arr_files(struct scan *s, struct scratch *v)
{
    int r;

    v->n = 0; /* a duplicate key replaces the earlier array */
    if (s->p >= s->end || *s->p != '[')
        return skip_value(s, 0);
    s->p++;
    if (eat(s, ']'))
        return 0;
    do {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '{') {
            if (skip_value(s, 0))
                return -1;
            continue;
        }
        struct leafscan_file *e = scratch_push(s, v);
        if (!e)
            return -1;
        s->p++;
        if (eat(s, '}'))
            continue;
        do {
            const char *k;
            size_t n;
            if (key_read(s, &k, &n))
                return -1;
            if (n == 4 && !memcmp(k, "path", 4)) {
                if (val_string(s, &e->path))
                    return -1;
            } else if (n == 6 && !memcmp(k, "sha256", 6)) {
                if (val_string(s, &e->sha256))
                    return -1;
            } else if (skip_value(s, 0)) {
                return -1;
            }
        } while ((r = next_member(s, '}')) == 1);
        if (r < 0)
            return -1;
    } while ((r = next_member(s, ']')) == 1);
    return r;
}

/* ---- top level ------------------------------------------------------------------ */

/* "predictions": {kind, n, nr_fold, folds, labels_fnv, sha256, right} or
 * {omitted}: an omitted one leaves pred_kind NULL. */
static int obj_predictions(struct scan *s, struct leafscan_leaf *out)
{
    const char *k, *kind = NULL, *sha = NULL, *fnv = NULL;
    size_t n;
    int64_t v;
    int has, r;
    if ((r = obj_enter(s)) <= 0)
        return r;
    do {
        if (key_read(s, &k, &n))
            return -1;
        if (n == 4 && !memcmp(k, "kind", 4)) {
            if (val_string(s, &kind))
                return -1;
        } else if (n == 6 && !memcmp(k, "sha256", 6)) {
            if (val_string(s, &sha))
                return -1;
        } else if (n == 10 && !memcmp(k, "labels_fnv", 10)) {
            if (val_string(s, &fnv))
                return -1;
        } else if (n == 1 && k[0] == 'n') {
            if (val_int(s, &v, &has))
                return -1;
            out->pred_n = has ? v : 0;
        } else if (n == 7 && !memcmp(k, "nr_fold", 7)) {
            if (val_int(s, &v, &has))
                return -1;
            out->pred_nr_fold = has ? v : 0;
        } else if (n == 5 && !memcmp(k, "folds", 5)) {
            skip_ws(s);
            out->pred_folds = s->p < s->end && *s->p == 't';
            if (skip_value(s, 0))
                return -1;
        } else if (skip_value(s, 0)) {
            return -1;
        }
    } while ((r = next_member(s, '}')) == 1);
    if (r < 0)
        return -1;
    if (kind && sha) {
        out->pred_kind = kind;
        out->pred_sha256 = sha;
        out->pred_fnv = fnv;
    }
    return 0;
}

enum field_kind { F_STR, F_INT, F_PARAMS, F_SOURCES, F_METRICS, F_FILES, F_PREDICTIONS };
enum { I_STARTED, I_ENDED, I_CPU, I_RSS, I_EXIT, I_SIGNAL };

static const struct field {
    const char *name;
    unsigned char len, kind;
    unsigned short arg; /* F_STR: offset in leafscan_leaf; F_INT: I_* */
} fields[] = {
#define S(n, member) {n, sizeof n - 1, F_STR, offsetof(struct leafscan_leaf, member)}
#define I(n, id) {n, sizeof n - 1, F_INT, id}
    S("trial", trial),         S("status", status),       S("process", process),
    S("session", session),     S("framework", framework), S("opened_by", opened_by),
    S("study", study),         S("exe", exe),             I("started_ns", I_STARTED),
    I("ended_ns", I_ENDED),    I("cpu_us", I_CPU),        I("maxrss_kb", I_RSS),
    I("exit_code", I_EXIT),    I("signal", I_SIGNAL),     {"params", 6, F_PARAMS, 0},
    {"sources", 7, F_SOURCES, 0}, {"metrics", 7, F_METRICS, 0},
    {"inputs", 6, F_FILES, 0},    {"outputs", 7, F_FILES, 1},
    {"predictions", 11, F_PREDICTIONS, 0},
#undef S
#undef I
};

#define NFIELDS (sizeof fields / sizeof fields[0])

/* Index in fields[] of key k, or NFIELDS. Length and the first two bytes are
 * checked before memcmp: this runs for every top-level key of every leaf. */
static size_t field_find(const char *k, size_t n)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].len == n && fields[i].name[0] == k[0] && fields[i].name[1] == k[1] &&
            !memcmp(fields[i].name, k, n))
            return i;
    return NFIELDS;
}

static void set_int(struct leafscan_leaf *r, int id, int64_t v, int has)
{
    switch (id) {
    case I_STARTED: r->started_ns = has ? v : 0; r->has_started = has; break;
    case I_ENDED: r->ended_ns = has ? v : 0; r->has_ended = has; break;
    case I_CPU: r->cpu_us = has ? v : 0; r->has_cpu = has; break;
    case I_RSS: r->maxrss_kb = has ? v : 0; r->has_rss = has; break;
    case I_EXIT: r->exit_code = has ? v : 0; r->has_exit = has; break;
    case I_SIGNAL: r->signal = has ? v : 0; r->has_signal = has; break;
    }
}

static int member(struct scan *s, struct leafscan_leaf *out, struct scratch *params,
                  struct scratch *sources, struct scratch *metrics, struct scratch *files)
{
    const char *k;
    size_t n, i;
    int64_t iv = 0;
    int has;

    if (key_read(s, &k, &n))
        return -1;
    if ((i = field_find(k, n)) == NFIELDS)
        return skip_value(s, 0);
    switch (fields[i].kind) {
    case F_STR:
        return val_string(s, (const char **)((char *)out + fields[i].arg));
    case F_INT:
        if (val_int(s, &iv, &has))
            return -1;
        set_int(out, fields[i].arg, iv, has);
        return 0;
    case F_PARAMS:
        return obj_strings(s, params, 1);
    case F_SOURCES:
        return obj_strings(s, sources, 0);
    case F_FILES:
        return arr_files(s, &files[fields[i].arg]);
    case F_PREDICTIONS:
        return obj_predictions(s, out);
    default:
        return obj_metrics(s, metrics);
    }
}

/* Both sorted and unique: one merge walk gives each param its source. */
static void attach_sources(struct leafscan_leaf *r, const struct scratch *params,
                           const struct scratch *sources)
{
    const struct sent *p = params->v, *src = sources->v;
    size_t i = 0, j = 0;

    while (i < params->n && j < sources->n) {
        int c = span_cmp(p[i].key, p[i].klen, src[j].key, src[j].klen);
        if (c == 0)
            r->params[i++].source = src[j++].value;
        else if (c < 0)
            i++;
        else
            j++;
    }
}

int leafscan(const char *text, size_t len, struct leafscan_leaf *out, struct leafscan_arena *a, char *err,
             size_t errlen)
{
    struct scan s = {text, text, text + len, a, err, errlen};
    struct sent pbuf[SCRATCH_STRINGS], sbuf[SCRATCH_STRINGS];
    struct ment mbuf[SCRATCH_METRICS];
    struct scratch params = {pbuf, 0, SCRATCH_STRINGS, sizeof pbuf[0], NULL};
    struct scratch sources = {sbuf, 0, SCRATCH_STRINGS, sizeof sbuf[0], NULL};
    struct scratch metrics = {mbuf, 0, SCRATCH_METRICS, sizeof mbuf[0], NULL};
    struct leafscan_file ibuf[SCRATCH_FILES], obuf[SCRATCH_FILES];
    struct scratch files[2] = {{ibuf, 0, SCRATCH_FILES, sizeof ibuf[0], NULL},
                               {obuf, 0, SCRATCH_FILES, sizeof obuf[0], NULL}};
    int r, rc = -1;

    memset(out, 0, sizeof *out);
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        fail(&s, "not an object");
        goto err;
    }
    s.p++;
    if (!eat(&s, '}')) {
        do {
            if (member(&s, out, &params, &sources, &metrics, files))
                goto err;
        } while ((r = next_member(&s, '}')) == 1);
        if (r < 0)
            goto err;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        fail(&s, "trailing garbage");
        goto err;
    }

    scratch_sort_unique(&params, sent_key_cmp, sent_cmp);
    scratch_sort_unique(&sources, sent_key_cmp, sent_cmp);
    scratch_sort_unique(&metrics, ment_key_cmp, ment_cmp);
    if (params.n) {
        const struct sent *e = params.v;
        if (!(out->params = leafscan_arena_alloc(a, params.n * sizeof *out->params))) {
            fail(&s, "out of memory");
            goto err;
        }
        for (size_t i = 0; i < params.n; i++)
            out->params[i] = (struct leafscan_param){e[i].key, e[i].value, NULL};
        out->nparams = params.n;
        attach_sources(out, &params, &sources);
        /* "<framework>.<field>" keys without a sources entry are the
         * adapter's (the leaf leaves that source implied) */
        size_t fl = out->framework ? strlen(out->framework) : 0;
        for (size_t i = 0; fl && i < out->nparams; i++)
            if (!out->params[i].source && !strncmp(out->params[i].key, out->framework, fl) &&
                out->params[i].key[fl] == '.')
                out->params[i].source = "adapter";
    }
    if (metrics.n) {
        const struct ment *e = metrics.v;
        if (!(out->metrics = leafscan_arena_alloc(a, metrics.n * sizeof *out->metrics))) {
            fail(&s, "out of memory");
            goto err;
        }
        for (size_t i = 0; i < metrics.n; i++)
            out->metrics[i] = e[i].m;
        out->nmetrics = metrics.n;
    }
    for (int k = 0; k < 2; k++) {
        struct leafscan_file **dst = k ? &out->outputs : &out->inputs;
        if (!files[k].n)
            continue;
        if (!(*dst = leafscan_arena_alloc(a, files[k].n * sizeof **dst))) {
            fail(&s, "out of memory");
            goto err;
        }
        memcpy(*dst, files[k].v, files[k].n * sizeof **dst);
        *(k ? &out->noutputs : &out->ninputs) = files[k].n;
    }
    rc = 0;
err:
    free(params.heap);
    free(sources.heap);
    free(metrics.heap);
    free(files[0].heap);
    free(files[1].heap);
    /* On error, arena memory already used stays until leafscan_arena_free:
     * callers free the arena as a whole. */
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- lookups ------------------------------------------------------------------- */

static int param_key_cmp(const void *key, const void *e)
{
    return strcmp(key, ((const struct leafscan_param *)e)->key);
}

static int metric_name_cmp(const void *name, const void *e)
{
    return strcmp(name, ((const struct leafscan_metric *)e)->name);
}

const struct leafscan_param *leafscan_param_get(const struct leafscan_leaf *r, const char *key)
{
    return r->nparams ? bsearch(key, r->params, r->nparams, sizeof *r->params, param_key_cmp)
                      : NULL;
}

const struct leafscan_metric *leafscan_metric_get(const struct leafscan_leaf *r, const char *name)
{
    return r->nmetrics
               ? bsearch(name, r->metrics, r->nmetrics, sizeof *r->metrics, metric_name_cmp)
               : NULL;
}

/* ---- spans: find values in a big JSON text without a tree ----------------- */

int leafscan_member(const char *text, size_t len, const char *key, size_t *start, size_t *end,
                    char *err, size_t errlen)
{
    struct leafscan_arena tmp = {0}; /* escaped keys are decoded here */
    struct scan s = {text, text, text + len, &tmp, err, errlen};
    size_t want = strlen(key);
    int r, found = 0;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        fail(&s, "not an object");
        goto err;
    }
    s.p++;
    if (!eat(&s, '}')) {
        do {
            const char *k;
            size_t kn;
            if (key_read(&s, &k, &kn))
                goto err;
            const char *v = s.p;
            if (skip_value(&s, 0))
                goto err;
            if (kn == want && !memcmp(k, key, kn)) { /* the last one wins, like jansson */
                *start = (size_t)(v - text);
                *end = (size_t)(s.p - text);
                found = 1;
            }
        } while ((r = next_member(&s, '}')) == 1);
        if (r < 0)
            goto err;
    }
    leafscan_arena_free(&tmp);
    return found ? 0 : 1;
err:
    leafscan_arena_free(&tmp);
    return -1;
}

int leafscan_elements(const char *text, size_t len,
                      int (*fn)(void *ctx, size_t i, size_t start, size_t end), void *ctx,
                      char *err, size_t errlen)
{
    struct scan s = {text, text, text + len, NULL, err, errlen};
    size_t i = 0;
    int r;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '[')
        return fail(&s, "not an array");
    s.p++;
    if (eat(&s, ']'))
        return 0;
    do {
        skip_ws(&s);
        const char *v = s.p;
        if (skip_value(&s, 0))
            return -1;
        if (fn(ctx, i++, (size_t)(v - text), (size_t)(s.p - text)))
            return -1;
    } while ((r = next_member(&s, ']')) == 1);
    return r;
}
