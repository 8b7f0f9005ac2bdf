/* jsonfmt.h - JSON values every role writes the same way: strings from
 * bytes that may not be UTF-8 (argv, paths), and times.
 *
 * RATIONALE (one place): leaf bytes are hashed into the study log, so the
 * agent, the store and the record must turn a string or a time into JSON
 * identically; a private copy in each would drift. */
#ifndef TT_JSONFMT_H
#define TT_JSONFMT_H

#include <jansson.h>

/* A JSON string of s with every byte that is not part of valid UTF-8
 * replaced by U+FFFD (jansson refuses invalid UTF-8). s NULL gives NULL.
 * New reference. */
json_t *jsonfmt_string(const char *s);

/* The same repair as a malloc'd C string (object keys); NULL if s is NULL
 * or out of memory. */
char *jsonfmt_utf8_fix(const char *s);

/* The canonical dump: a leaf's bytes (hashed into the study log) and the
 * record's Statement around them are json_dumps(v, JSONFMT_CANONICAL). */
#define JSONFMT_CANONICAL (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))

/* ISO 8601 UTC string with milliseconds for a time in ns (new reference). */
json_t *jsonfmt_iso_ns(long long ns);

#endif
