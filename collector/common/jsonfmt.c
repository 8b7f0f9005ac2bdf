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
