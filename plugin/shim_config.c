/* shim_config.c - TUNETRAIL_* read once at load into static storage; see shim.h. */
#include "shim.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

SHIM_HIDDEN struct shim_config shim_cfg;

const char *shim_config_getenv(char *const envp[], const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* Appends the concatenation of up to three strings to cfg->pool as one
 * string of at most cap-1 bytes. Returns it, or "" (nothing kept) if it does
 * not fit, so a truncated path is never used as if it were whole. */
static const char *keep3(struct shim_config *cfg, size_t cap, const char *a, const char *b,
                         const char *c)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    size_t n = la + lb + lc;
    if (n >= cap || n >= sizeof cfg->pool - cfg->used)
        return "";
    char *d = cfg->pool + cfg->used;
    memcpy(d, a, la);
    if (lb)
        memcpy(d + la, b, lb);
    if (lc)
        memcpy(d + la + lb, c, lc);
    d[n] = 0;
    cfg->used += n + 1;
    return d;
}

/* <home>/spool with home resolved exactly like collector/paths.c. */
static const char *spool_dir(struct shim_config *cfg, char *const envp[])
{
    const char *h;
    if ((h = shim_config_getenv(envp, TT_ENV_HOME)) && *h)
        return keep3(cfg, PATH_MAX, h, "/spool", NULL);
    if ((h = shim_config_getenv(envp, "XDG_DATA_HOME")) && *h)
        return keep3(cfg, PATH_MAX, h, "/tunetrail/spool", NULL);
    if ((h = shim_config_getenv(envp, "HOME")) && *h)
        return keep3(cfg, PATH_MAX, h, "/.local/share/tunetrail/spool", NULL);
    return "";
}

int shim_config_load(struct shim_config *cfg, char *const envp[], const char *self_path)
{
    /* Not a memset of the whole struct: only the pool bytes in use get touched. */
    memset(cfg, 0, offsetof(struct shim_config, pool));
    cfg->sock = cfg->study = cfg->spool_dir = cfg->self_path = cfg->parent_hint = cfg->python_dir = "";
    const char *v;
    cfg->debug = (v = shim_config_getenv(envp, TT_ENV_DEBUG)) && strcmp(v, "1") == 0;
    if ((v = shim_config_getenv(envp, TT_ENV_SOCK)) && *v) {
        cfg->sock = keep3(cfg, 108, v, NULL, NULL);
        cfg->have_sock = cfg->sock[0] != 0;
    }
    if ((v = shim_config_getenv(envp, TT_ENV_SESSION)) && strlen(v) == TT_UUID_HEX_LEN)
        cfg->have_session = wire_unhex(cfg->session, v, TT_UUID_LEN) == 0;
    if ((v = shim_config_getenv(envp, TT_ENV_STUDY)))
        cfg->study = keep3(cfg, 256, v, NULL, NULL);
    if ((v = shim_config_getenv(envp, TT_ENV_PARENT)))
        cfg->parent_hint = keep3(cfg, 128, v, NULL, NULL);
    if (self_path)
        cfg->self_path = keep3(cfg, PATH_MAX, self_path, NULL, NULL);
    cfg->spool_dir = spool_dir(cfg, envp);
    if ((v = shim_config_getenv(envp, TT_ENV_PYTHON)) && v[0] == '/' && v[1]) {
        cfg->python_dir = keep3(cfg, PATH_MAX, v, NULL, NULL);
        cfg->python_dir_len = strlen(cfg->python_dir);
        while (cfg->python_dir_len > 1 && cfg->python_dir[cfg->python_dir_len - 1] == '/')
            cfg->python_dir_len--; /* "DIR/" names DIR */
    }

    /* Saved so that children keep them even after `env -i`. */
#define KEEP(name)                                                                      \
    if (cfg->nkeep < SHIM_KEEP_MAX && (v = shim_config_getenv(envp, name)) &&           \
        *(cfg->keep[cfg->nkeep] = keep3(cfg, SHIM_ENVVAL_MAX, name, "=", v)))            \
        cfg->nkeep++;
    TT_ENV_KEEP_LIST(KEEP)
#undef KEEP
    cfg->enabled = 1;
    return 0;
}

void shim_debug(const char *fmt, ...)
{
    if (!shim_cfg.debug)
        return;
    int saved = errno;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "tunetrail-shim[%d]: ", (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    ssize_t w = write(2, buf, len);
    (void)w;
    errno = saved;
}
