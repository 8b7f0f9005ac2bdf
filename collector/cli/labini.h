/* labini.h - tunetrail.ini, a lab's conventions for `tunetrail run`: the
 * [metric] and [trial] patterns every run in a directory tree uses, in
 * addition to --metric / --trial, and the [collector] run and flush ship to. Format and rules: README ("Lab
 * conventions") and docs/ADAPTERS.md ("Metrics printed by a program").
 *
 * Error convention: 0 on success, -1 with "FILE:LINE: what was expected"
 * (or "FILE: what") in err. */
#ifndef TT_LABINI_H
#define TT_LABINI_H

#include <stddef.h>

#define LABINI_NAME "tunetrail.ini"

struct labini {
    char *path;     /* the file used (absolute), or NULL: none found */
    char sha256[65]; /* of its bytes, hex */
    char **metrics; /* "NAME=REGEX", each checked as --metric is */
    size_t nmetrics;
    char **trials;  /* --trial globs */
    size_t ntrials;
    /* [collector]: the lab collector for run and flush when neither a flag
     * nor the environment names one. Paths relative to the file's directory
     * are made absolute; *_line: where each was given (0: not given). */
    char *endpoint, *key, *curve_key;
    unsigned endpoint_line, key_line, curve_key_line;
};

/* Finds tunetrail.ini in the working directory, else in the git top-level
 * above it (paths_git_toplevel), and parses it into *ini (zeroed first).
 * No file is not an error (ini->path NULL). */
int labini_load(struct labini *ini, char *err, size_t errlen);

/* Parses buf[len], the text of the file path, into *ini (zeroed first). */
int labini_parse(struct labini *ini, const char *path, const char *buf, size_t len, char *err,
                 size_t errlen);

/* Checks one metric pattern as --metric takes it: NAME of [A-Za-z0-9_.:-],
 * a POSIX extended REGEX without a newline. 0, or -1 with why (no prefix). */
int labini_metric_check(const char *name, size_t namelen, const char *regex, char *why,
                        size_t whylen);

/* The JSON text the session records (a Note of level "conventions"):
 * {"file", "sha256", "metric": [...], "trial": [...]}, malloc'd; NULL if
 * no file was used or out of memory. */
char *labini_note(const struct labini *ini);

void labini_free(struct labini *ini);

/* Applies [collector] to a command's destination (run, flush): *collector,
 * *key and *curve_key hold what the flags and then the environment gave
 * (NULL: nothing). The file's endpoint fills *collector unless local (a
 * --store given); its key and curve_key fill the others only for its own
 * endpoint (a collector named elsewhere holds other keys). Each key file
 * taken from the file is checked here, so a bad one is named by FILE:LINE.
 * 0, or -1 with err. */
int labini_collector(const struct labini *ini, int local, const char **collector, const char **key,
                     const char **curve_key, char *err, size_t errlen);

#endif
