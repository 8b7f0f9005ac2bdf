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

/* Copies src into dst[cap]; returns -1 (dst emptied) if it does not fit, so a
 * truncated path is never used as if it were whole. */
static int copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        dst[0] = 0;
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

/* <home>/spool with home resolved exactly like collector/paths.c. */
static void spool_dir(struct shim_config *cfg, char *const envp[])
{
    const char *h;
    int n = -1;
    char *d = cfg->spool_dir;
    if ((h = shim_config_getenv(envp, TT_ENV_HOME)) && *h)
        n = snprintf(d, sizeof cfg->spool_dir, "%s/spool", h);
    else if ((h = shim_config_getenv(envp, "XDG_DATA_HOME")) && *h)
        n = snprintf(d, sizeof cfg->spool_dir, "%s/tunetrail/spool", h);
    else if ((h = shim_config_getenv(envp, "HOME")) && *h)
        n = snprintf(d, sizeof cfg->spool_dir, "%s/.local/share/tunetrail/spool", h);
    if (n < 0 || (size_t)n >= sizeof cfg->spool_dir)
        d[0] = 0;
}

int shim_config_load(struct shim_config *cfg, char *const envp[], const char *self_path)
{
    memset(cfg, 0, offsetof(struct shim_config, keep));
    const char *v;
    cfg->debug = (v = shim_config_getenv(envp, TT_ENV_DEBUG)) && strcmp(v, "1") == 0;
    if ((v = shim_config_getenv(envp, TT_ENV_SOCK)) && *v)
        cfg->have_sock = copy(cfg->sock, sizeof cfg->sock, v) == 0;
    if ((v = shim_config_getenv(envp, TT_ENV_SESSION)) && strlen(v) == TT_UUID_HEX_LEN)
        cfg->have_session = wire_unhex(cfg->session, v, TT_UUID_LEN) == 0;
    if ((v = shim_config_getenv(envp, TT_ENV_STUDY)))
        copy(cfg->study, sizeof cfg->study, v);
    if ((v = shim_config_getenv(envp, TT_ENV_PARENT)))
        copy(cfg->parent_hint, sizeof cfg->parent_hint, v);
    if (self_path)
        copy(cfg->self_path, sizeof cfg->self_path, self_path);
    spool_dir(cfg, envp);

    /* Saved so that children keep them even after `env -i`. */
#define KEEP(name)                                                                         \
    if (cfg->nkeep < SHIM_KEEP_MAX && (v = shim_config_getenv(envp, name)) &&              \
        snprintf(cfg->keep[cfg->nkeep], SHIM_ENVVAL_MAX, "%s=%s", name, v) < SHIM_ENVVAL_MAX) \
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
