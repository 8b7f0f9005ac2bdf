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

/* What the CLI prints for stored text that is not UTF-8 (docs/INTERNALS.md,
 * "Text that is not UTF-8"): the string repaired as above, and its exact
 * bytes in hex under the object's "raw" member, keyed by the string's JSON
 * Pointer (RFC 6901). jsonfmt_text makes the string and, if it had to be
 * repaired, remembers (string, bytes) on this thread; jsonfmt_attach_raw(o)
 * then finds each remembered string in o, sets o["raw"] = {pointer: hex}
 * and forgets them all. Returns 0, or -1 if a remembered string is not in o
 * or out of memory (the caller says so: a reader never drops the bytes
 * silently). jsonfmt_text(NULL) is JSON null. New reference. */
json_t *jsonfmt_text(const char *s);
int jsonfmt_attach_raw(json_t *o);
/* Forgets remembered strings without attaching them. */
void jsonfmt_forget_raw(void);

/* The canonical dump: a leaf's bytes (hashed into the study log) and the
 * record's Statement around them are json_dumps(v, JSONFMT_CANONICAL). */
#define JSONFMT_CANONICAL (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))

/* ISO 8601 UTC string with milliseconds for a time in ns (new reference). */
json_t *jsonfmt_iso_ns(long long ns);

#endif
