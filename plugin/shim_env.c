/* shim_env.c - the environment handed to exec'd and spawned children; see
 * shim.h. Runs in vfork children: no allocation, no writes outside the
 * caller's buffers. */
#include "shim.h"

#include <string.h>

#define LDP "LD_PRELOAD="
#define LDP_LEN (sizeof LDP - 1)
#define PARENT_EQ TT_ENV_PARENT "="

static size_t count(char *const envp[])
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n;
}

size_t shim_env_slots(char *const envp[], int nkeep)
{
    /* envp + keep list + LD_PRELOAD + TUNETRAIL_PARENT + NULL */
    return count(envp) + (size_t)nkeep + 3;
}

size_t shim_env_bytes(char *const envp[], const char *self_path)
{
    size_t n = LDP_LEN + strlen(self_path) + 2;
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, LDP, LDP_LEN) == 0)
            n += strlen(*e);
    return n;
}

/* 1 if the LD_PRELOAD value (entries separated by ':' or ' ') names self. */
static int has_entry(const char *list, const char *self)
{
    size_t sl = strlen(self);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ": ");
        if (n == sl && strncmp(p, self, n) == 0)
            return 1;
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

static int name_in(char *const envp[], const char *entry)
{
    size_t n = strcspn(entry, "=");
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, entry, n) == 0 && (*e)[n] == '=')
            return 1;
    return 0;
}

int shim_env_build(char *const envp[], const struct shim_env_ctx *ctx, char **out, size_t slots,
                   char *strbuf, size_t bytes)
{
    if (slots < shim_env_slots(envp, ctx->nkeep) || bytes < shim_env_bytes(envp, ctx->self_path))
        return -1;
    size_t n = 0;
    int have_ldp = 0;
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, PARENT_EQ, sizeof PARENT_EQ - 1) == 0)
            continue; /* replaced by ours */
        if (strncmp(*e, LDP, LDP_LEN) == 0) {
            if (have_ldp)
                continue; /* the loader reads the first; keep one */
            have_ldp = 1;
            const char *val = *e + LDP_LEN;
            if (!ctx->self_path[0] || has_entry(val, ctx->self_path)) {
                out[n++] = *e;
            } else {
                /* Ours goes last so other preloads keep their precedence. */
                size_t vl = strlen(val);
                memcpy(strbuf, LDP, LDP_LEN);
                memcpy(strbuf + LDP_LEN, val, vl);
                size_t o = LDP_LEN + vl;
                if (vl)
                    strbuf[o++] = ':';
                strcpy(strbuf + o, ctx->self_path);
                out[n++] = strbuf;
            }
            continue;
        }
        /* the run's own variables: ours, whatever the caller put there, so
         * a child cannot leave the run by naming another socket or home */
        const char *ours = NULL;
        for (int i = 0; i < ctx->nkeep && !ours; i++) {
            size_t kl = strcspn(ctx->keep[i], "=");
            if (strncmp(*e, ctx->keep[i], kl) == 0 && (*e)[kl] == '=')
                ours = ctx->keep[i];
        }
        out[n++] = ours ? (char *)ours : *e;
    }
    if (!have_ldp && ctx->self_path[0]) {
        memcpy(strbuf, LDP, LDP_LEN);
        strcpy(strbuf + LDP_LEN, ctx->self_path);
        out[n++] = strbuf;
    }
    for (int i = 0; i < ctx->nkeep; i++)
        if (!name_in(envp, ctx->keep[i]))
            out[n++] = (char *)ctx->keep[i];
    if (ctx->parent_hint && ctx->parent_hint[0])
        out[n++] = (char *)ctx->parent_hint;
    out[n] = NULL;
    return (int)n;
}
