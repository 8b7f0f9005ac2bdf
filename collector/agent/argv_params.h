/* argv_params.h - a generic argv -> (key, value) parser for trials opened by
 * pattern or by the root fallback, where no adapter knows the program.
 *
 * Recognised forms: `-c 8`, `--lr 0.1`, `--lr=0.1`, `lr=0.1`. A flag followed
 * by another flag or by nothing is boolean "true". Negative numbers (`-0.5`,
 * `-1e-3`) are values, never flags. Positional arguments are not params.
 * Keys lose their leading dashes. A bare `--` ends option parsing.
 *
 * Error convention: returns 0 on success, -1 on allocation failure (errno). */
#ifndef TT_ARGV_PARAMS_H
#define TT_ARGV_PARAMS_H

#include <stddef.h>

struct argv_param {
    char *key;   /* malloc'd, never empty */
    char *value; /* malloc'd, may be empty for `--k=` */
};

/* Parses argv[1..argc-1] (argv[0] is the program). On success *out is a
 * malloc'd array of *n params in argv order (NULL when *n == 0); free it with
 * argv_params_free. */
int argv_params_parse(int argc, char *const *argv, struct argv_param **out, size_t *n);

/* Frees an array returned by argv_params_parse. NULL is fine. */
void argv_params_free(struct argv_param *p, size_t n);

#endif
