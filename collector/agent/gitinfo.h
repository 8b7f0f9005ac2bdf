/* gitinfo.h - the git commit and dirty flag of a working directory, cached per
 * directory for the life of the cache (an agent session).
 *
 * Error convention: gitinfo_for_dir returns 1 if dir is in a repository (and
 * fills the outputs), 0 if not or if git failed or timed out. */
#ifndef TT_GITINFO_H
#define TT_GITINFO_H

typedef struct tt_gitinfo tt_gitinfo;

/* New empty cache or NULL. Free with gitinfo_free. */
tt_gitinfo *gitinfo_new(void);
void gitinfo_free(tt_gitinfo *g);

/* Looks up dir (absolute). On 1, *commit points to 40 hex chars owned by the
 * cache (valid until gitinfo_free) and *dirty is 0/1. Runs `git` at most
 * twice per new directory, each with a short timeout so a slow network
 * filesystem cannot stall the agent for long. */
int gitinfo_for_dir(tt_gitinfo *g, const char *dir, const char **commit, int *dirty);

#endif
