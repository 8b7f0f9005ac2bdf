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

/* What argv says about the program a process runs, for `--trial` patterns
 * and for "the same program" (docs/INTERNALS.md "Failed trials").
 *
 * An interpreter is a program whose basename (of exe or argv[0]) is python*,
 * pypy*, Rscript, perl*, bash, sh, dash, zsh or ksh; its program is then its
 * script (the first operand after the interpreter's own options) or, for
 * `python -m`, its module. Its params are the arguments after the script.
 * A helper is a Python, Perl or R process that runs code given on its
 * command line (`-c`, `-e`: multiprocessing's resource tracker and
 * forkserver, joblib's, R's PSOCK workers) or a known helper module (`-m joblib.*`, `loky.*`,
 * `multiprocessing.*`, `concurrent.*`: loky workers), or any process with
 * multiprocessing's `--multiprocessing-fork`: never a trial. `sh -c CMD` is
 * the shell's own program (no script): how make and system() run commands.
 * (trials.c adds: a forked copy of an interpreter image is a helper.) */
struct argv_program {
    int interpreter;
    int helper;
    int module;         /* python -m */
    int script;         /* argv index of the script or module; 0: none */
    const char *name;   /* the script or module as written (inside argv[script]); NULL: none */
};

void argv_program(int argc, char *const *argv, const char *exe, struct argv_program *out);

#endif
