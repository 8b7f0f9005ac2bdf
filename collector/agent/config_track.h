/* config_track.h - which trial the config files a process read belong to.
 * The agent (trials.c) tells this module, in the order events arrive,
 * about every read of a config file (config_track_read), every trial opened or
 * ended in a process, and when a read file's hash is known (config_track_hashed:
 * the file is parsed then, by config_parse.h). config_track_flush then emits the
 * file's params through the caller's emit function for:
 *   - the trial open in that process when the file was read, and
 *   - every trial opened in that process afterwards (a file read before an
 *     adapter or a deferred pattern/root trial opens configures it).
 * A process that never has a trial keeps no params: Param needs a trial;
 * the file stays recorded as the process's input.
 *
 * Emission is separate from the hooks so that the agent can call it where
 * it is not walking its own queues.
 *
 * Error convention: the hooks cannot fail (out of memory drops the file's
 * params, never an event); config_track_flush returns the first non-zero value
 * of the emit function. */
#ifndef TT_CONFIG_TRACK_H
#define TT_CONFIG_TRACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct cfgtrack cfgtrack;

/* Emits Param{trial, key, value, source}; 0 or an error (stops the flush). */
typedef int (*config_track_emit_fn)(void *arg, const uint8_t trial[16], const char *key, const char *value,
                                const char *source);

/* New tracker calling emit(arg, ...) from config_track_flush. NULL on ENOMEM. */
cfgtrack *config_track_new(config_track_emit_fn emit, void *arg);
void config_track_free(cfgtrack *ct);

/* Process proc read path (an absolute path). Ignored unless
 * config_parse_path_wanted(path); a second read of the same path by the same
 * process is ignored too (the first one's parse stands). */
void config_track_read(cfgtrack *ct, const uint8_t proc[16], const char *path);

/* A trial opened / ended in process proc. */
void config_track_trial_open(cfgtrack *ct, const uint8_t proc[16], const uint8_t trial[16]);
void config_track_trial_end(cfgtrack *ct, const uint8_t trial[16]);

/* The hash of proc's read of path is known: parses the file (if tracked and
 * not parsed yet). Returns the parse error "<name>:<line>: <what>" (or the
 * cap message), for FileAccess.error, or NULL; the text lives in ct until
 * the next call. */
const char *config_track_hashed(cfgtrack *ct, const uint8_t proc[16], const char *path);

/* Emits every parsed file's params for the trials they belong to and have
 * not had them yet. 0, or the emit function's error. */
int config_track_flush(cfgtrack *ct);

#endif
