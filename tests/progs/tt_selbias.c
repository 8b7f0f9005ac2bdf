/* tt_selbias.c - prints the selection-bias statistics (collector/record/
 * selbias.h) of a table file as canonical JSON: tests/e2e/selbias_ref.sh
 * compares them with the Python reference tests/ref/selbias_ref.py.
 * usage: tt_selbias TABLE SEED_HEX B S THREADS
 *
 * Table file (text; '#' lines ignored; the lines in this order):
 *   tunetrail-selbias-table 1
 *   kind classification            or: kind regression squared|absolute
 *   configurations N
 *   examples M                     (0: no out-of-fold predictions)
 *   truth Y1 .. YM                 (regression, M > 0)
 *   row C V1 .. VM                 (M > 0: C = 0..N-1; classification: one
 *                                   word of M characters 0/1, 1 = correct;
 *                                   regression: M predictions)
 *   folds K max|min                (optional, then K lines:)
 *   fold F S1 .. SN                (F = 0..K-1: each configuration's score) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfmt.h"
#include "selbias.h"

static const char *path;
static size_t lineno;

static void die(const char *what)
{
    fprintf(stderr, "tt_selbias: %s:%zu: expected %s\n", path, lineno, what);
    exit(1);
}

/* The next line that is not a comment, without its newline; NULL at EOF. */
static char *next_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t r;
    while ((r = getline(buf, cap, f)) >= 0) {
        lineno++;
        if (r > 0 && (*buf)[r - 1] == '\n')
            (*buf)[r - 1] = 0;
        if ((*buf)[0] != '#')
            return *buf;
    }
    return NULL;
}

/* "KEY N": N. */
static size_t keyed_size(char *line, const char *key, const char *what)
{
    size_t kl = strlen(key);
    if (!line || strncmp(line, key, kl) != 0 || line[kl] != ' ')
        die(what);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(line + kl + 1, &end, 10);
    if (errno || end == line + kl + 1 || *end)
        die(what);
    return (size_t)v;
}

/* count doubles after "KEY [IDX]" into out. */
static void doubles(char *p, double *out, size_t count, const char *what)
{
    for (size_t i = 0; i < count; i++) {
        char *end;
        errno = 0;
        out[i] = strtod(p, &end);
        if (errno || end == p)
            die(what);
        p = end;
    }
    while (*p == ' ')
        p++;
    if (*p)
        die(what);
}

/* "KEY IDX " prefix: returns what follows. */
static char *indexed(char *line, const char *key, size_t idx, const char *what)
{
    char want[64];
    int n = snprintf(want, sizeof want, "%s %zu ", key, idx);
    if (!line || strncmp(line, want, (size_t)n) != 0)
        die(what);
    return line + n;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: tt_selbias TABLE SEED_HEX B S THREADS\n");
        return 2;
    }
    path = argv[1];
    struct selbias_opts o = {strtoull(argv[2], NULL, 16), (unsigned)atoi(argv[3]),
                             (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5])};
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char *buf = NULL, *line, what[128];
    size_t cap = 0;
    line = next_line(f, &buf, &cap);
    if (!line || strcmp(line, "tunetrail-selbias-table 1") != 0)
        die("'tunetrail-selbias-table 1'");
    line = next_line(f, &buf, &cap);
    enum selbias_kind kind;
    enum selbias_loss loss = SELBIAS_SQUARED;
    if (line && strcmp(line, "kind classification") == 0)
        kind = SELBIAS_CLASSIFICATION;
    else if (line && strcmp(line, "kind regression squared") == 0)
        kind = SELBIAS_REGRESSION;
    else if (line && strcmp(line, "kind regression absolute") == 0) {
        kind = SELBIAS_REGRESSION;
        loss = SELBIAS_ABSOLUTE;
    } else
        die("'kind classification' or 'kind regression squared|absolute'");
    size_t n = keyed_size(next_line(f, &buf, &cap), "configurations", "'configurations N'");
    size_t m = keyed_size(next_line(f, &buf, &cap), "examples", "'examples M'");
    double *y = calloc(m ? m : 1, sizeof *y), *row = calloc(m ? m : 1, sizeof *row);
    struct selbias_table t;
    /* k is known later: the folds are allocated then. */
    if (!y || !row || selbias_table_init(&t, kind, n, m, 0) != 0) {
        fprintf(stderr, "tt_selbias: out of memory\n");
        return 1;
    }
    t.loss_kind = loss;
    if (m && kind == SELBIAS_REGRESSION) {
        line = next_line(f, &buf, &cap);
        if (!line || strncmp(line, "truth ", 6) != 0)
            die("'truth' and M values");
        doubles(line + 6, y, m, "'truth' and M values");
    }
    for (size_t c = 0; m && c < n; c++) {
        snprintf(what, sizeof what, "'row %zu' and %zu values", c, m);
        char *p = indexed(next_line(f, &buf, &cap), "row", c, what);
        if (kind == SELBIAS_CLASSIFICATION) {
            if (strlen(p) != m || strspn(p, "01") != m)
                die(what);
            for (size_t i = 0; i < m; i++)
                if (p[i] == '1')
                    selbias_set_correct(&t, c, i);
        } else {
            doubles(p, row, m, what);
            for (size_t i = 0; i < m; i++)
                t.loss[i * n + c] = selbias_loss_of(loss, row[i], y[i]);
        }
    }
    line = next_line(f, &buf, &cap);
    if (line) {
        char dir[8];
        unsigned long k;
        int used = 0;
        if (sscanf(line, "folds %lu %7s%n", &k, dir, &used) != 2 || line[used] ||
            (strcmp(dir, "max") && strcmp(dir, "min")))
            die("'folds K max|min'");
        t.k = k;
        t.fold_max = strcmp(dir, "max") == 0;
        if (k && n && !(t.fold = calloc(k * n, sizeof *t.fold))) {
            fprintf(stderr, "tt_selbias: out of memory\n");
            return 1;
        }
        for (size_t fi = 0; fi < k; fi++) {
            snprintf(what, sizeof what, "'fold %zu' and %zu values", fi, n);
            doubles(indexed(next_line(f, &buf, &cap), "fold", fi, what), t.fold + fi * n, n, what);
        }
        if (next_line(f, &buf, &cap))
            die("the end of the table");
    }
    fclose(f);
    json_t *j = selbias_json(&t, &o);
    char *s = j ? json_dumps(j, JSONFMT_CANONICAL) : NULL;
    if (!s) {
        fprintf(stderr, "tt_selbias: out of memory\n");
        return 1;
    }
    puts(s);
    free(s);
    json_decref(j);
    selbias_table_free(&t);
    free(y);
    free(row);
    free(buf);
    return 0;
}
