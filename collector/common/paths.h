/* paths.h - where tunetrail keeps things, resolved one way for every command.
 * All functions return 0 on success and -1 on failure with a message in err
 * (if err is non-NULL); returned strings are malloc'd and owned by the caller. */
#ifndef TT_PATHS_H
#define TT_PATHS_H

#include <stddef.h>

/* $TUNETRAIL_HOME, else $XDG_DATA_HOME/tunetrail, else ~/.local/share/tunetrail.
 * Creates the directory (mode 0700) if missing. */
int paths_home(char **out, char *err, size_t errlen);

/* mkdir -p, mode 0700 for every directory it creates. */
int paths_mkdirs(const char *path, char *err, size_t errlen);

/* --store PATH if given, else $TUNETRAIL_STORE, else <home>/trail.db. */
int paths_store(const char *flag, char **out, char *err, size_t errlen);

/* <home>/spool, created if missing. The shim computes the same path itself. */
int paths_spool_dir(char **out, char *err, size_t errlen);

/* The default study name: --study, else $TUNETRAIL_STUDY, else the basename of
 * the git top-level directory containing cwd, else the basename of cwd. */
int paths_study(const char *flag, char **out, char *err, size_t errlen);

/* Absolute path of libtunetrail.so: $TUNETRAIL_SHIM, else next to this
 * executable's <bindir>/TT_REL_LIBDIR/, else <exe dir>/libtunetrail.so. */
int paths_shim(char **out, char *err, size_t errlen);

/* The nearest directory at or above dir holding .git (a directory, or a
 * file for worktrees), malloc'd; NULL if none (or out of memory). */
char *paths_git_toplevel(const char *dir);

#endif
