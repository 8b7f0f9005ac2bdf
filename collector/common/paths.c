/* paths.c - see paths.h. */
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int paths_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tt_fail(err, errlen, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return tt_fail(err, errlen, "cannot create %s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static char *joined(const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}

/* *out = dir once it exists (dir is taken over; NULL: out of memory). */
static int made(char *dir, char **out, char *err, size_t errlen)
{
    if (!dir)
        return tt_fail(err, errlen, "out of memory");
    if (paths_mkdirs(dir, err, errlen) < 0) {
        free(dir);
        return -1;
    }
    *out = dir;
    return 0;
}

int paths_home(char **out, char *err, size_t errlen)
{
    const char *h = getenv("TUNETRAIL_HOME");
    char *dir;
    if (h && *h) {
        dir = strdup(h);
    } else if ((h = getenv("XDG_DATA_HOME")) && *h) {
        dir = joined(h, "tunetrail");
    } else if ((h = getenv("HOME")) && *h) {
        dir = joined(h, ".local/share/tunetrail");
    } else {
        return tt_fail(err, errlen, "neither TUNETRAIL_HOME nor HOME is set");
    }
    return made(dir, out, err, errlen);
}

int paths_store(const char *flag, char **out, char *err, size_t errlen)
{
    const char *s = flag && *flag ? flag : getenv("TUNETRAIL_STORE");
    if (s && *s) {
        *out = strdup(s);
        return *out ? 0 : tt_fail(err, errlen, "out of memory");
    }
    char *home;
    if (paths_home(&home, err, errlen) < 0)
        return -1;
    *out = joined(home, "trail.db");
    free(home);
    return *out ? 0 : tt_fail(err, errlen, "out of memory");
}

int paths_spool_dir(char **out, char *err, size_t errlen)
{
    char *home;
    if (paths_home(&home, err, errlen) < 0)
        return -1;
    char *dir = joined(home, "spool");
    free(home);
    return made(dir, out, err, errlen);
}

char *paths_git_toplevel(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (;;) {
        char probe[PATH_MAX + 8];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/.git", buf);
        if (stat(probe, &st) == 0)
            return strdup(buf);
        char *slash = strrchr(buf, '/');
        if (!slash)
            return NULL;
        if (slash == buf)
            return stat("/.git", &st) == 0 ? strdup("/") : NULL;
        *slash = 0;
    }
}

int paths_study(const char *flag, char **out, char *err, size_t errlen)
{
    const char *s = flag && *flag ? flag : getenv("TUNETRAIL_STUDY");
    if (s && *s) {
        *out = strdup(s);
        return *out ? 0 : tt_fail(err, errlen, "out of memory");
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return tt_fail(err, errlen, "cannot read the working directory: %s", strerror(errno));
    char *top = paths_git_toplevel(cwd);
    const char *base = top && strcmp(top, "/") ? top : cwd; /* a repository at / names nothing */
    const char *name = strrchr(base, '/');
    name = name && name[1] ? name + 1 : "default";
    *out = strdup(name);
    free(top);
    return *out ? 0 : tt_fail(err, errlen, "out of memory");
}

int paths_shim(char **out, char *err, size_t errlen)
{
    const char *s = getenv("TUNETRAIL_SHIM");
    if (s && *s) {
        if (access(s, R_OK) < 0)
            return tt_fail(err, errlen, "TUNETRAIL_SHIM=%s: %s", s, strerror(errno));
        *out = realpath(s, NULL);
        return *out ? 0 : tt_fail(err, errlen, "TUNETRAIL_SHIM=%s: %s", s, strerror(errno));
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return tt_fail(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
    exe[n] = 0;
    char *dir = dirname(exe);
    const char *cands[] = {TT_REL_LIBDIR "/libtunetrail.so", "libtunetrail.so"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", dir, cands[i]);
        if (access(path, R_OK) == 0) {
            *out = realpath(path, NULL);
            if (*out)
                return 0;
        }
    }
    return tt_fail(err, errlen, "cannot find libtunetrail.so under %s/%s (set TUNETRAIL_SHIM)", dir,
                TT_REL_LIBDIR);
}
