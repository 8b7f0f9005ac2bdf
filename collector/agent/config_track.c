/* config_track.c - see config_track.h. */
#include "config_track.h"
#include "config_parse.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctfile {
    struct ctfile *next;
    char *path;
    char *source;           /* "file:<basename>" */
    size_t first, done_upto; /* trials [first, done_upto) of the process have its params */
    int parsed;             /* 1: params valid (possibly none); 0: hash not known yet */
    struct config_parse_list params;
};

struct cttrial {
    uint8_t uuid[16];
    int ended;
};

struct ctproc {
    struct ctproc *next;
    uint8_t uuid[16];
    struct cttrial *tr;
    size_t ntr, ctr;
    struct ctfile *files, **tail;
};

struct cfgtrack {
    config_track_emit_fn emit;
    void *arg;
    struct ctproc *procs; /* newest first: events mostly concern live processes */
    int dirty;            /* something to flush */
    char err[TT_ERR_MAX];
};

cfgtrack *config_track_new(config_track_emit_fn emit, void *arg)
{
    cfgtrack *ct = calloc(1, sizeof *ct);
    if (ct) {
        ct->emit = emit;
        ct->arg = arg;
    }
    return ct;
}

void config_track_free(cfgtrack *ct)
{
    if (!ct)
        return;
    for (struct ctproc *p = ct->procs, *pn; p; p = pn) {
        pn = p->next;
        for (struct ctfile *f = p->files, *fn; f; f = fn) {
            fn = f->next;
            config_parse_list_free(&f->params);
            free(f->path);
            free(f->source);
            free(f);
        }
        free(p->tr);
        free(p);
    }
    free(ct);
}

static struct ctproc *get_proc(cfgtrack *ct, const uint8_t uuid[16], int create)
{
    for (struct ctproc *p = ct->procs; p; p = p->next)
        if (!memcmp(p->uuid, uuid, 16))
            return p;
    if (!create)
        return NULL;
    struct ctproc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    memcpy(p->uuid, uuid, 16);
    p->tail = &p->files;
    p->next = ct->procs;
    ct->procs = p;
    return p;
}

void config_track_read(cfgtrack *ct, const uint8_t proc[16], const char *path)
{
    if (!ct || !config_parse_path_wanted(path))
        return;
    struct ctproc *p = get_proc(ct, proc, 1);
    if (!p)
        return;
    for (struct ctfile *f = p->files; f; f = f->next)
        if (!strcmp(f->path, path))
            return;
    struct ctfile *f = calloc(1, sizeof *f);
    const char *b = strrchr(path, '/');
    if (!f || !(f->path = strdup(path)) || asprintf(&f->source, "file:%s", b ? b + 1 : path) < 0) {
        if (f)
            free(f->path);
        free(f);
        return;
    }
    /* the trial open now, if any, read it; so do all later ones */
    f->first = f->done_upto = p->ntr && !p->tr[p->ntr - 1].ended ? p->ntr - 1 : p->ntr;
    *p->tail = f;
    p->tail = &f->next;
}

void config_track_trial_open(cfgtrack *ct, const uint8_t proc[16], const uint8_t trial[16])
{
    if (!ct)
        return;
    struct ctproc *p = get_proc(ct, proc, 1);
    if (!p)
        return;
    if (p->ntr == p->ctr) {
        size_t nc = p->ctr ? p->ctr * 2 : 4;
        struct cttrial *t = realloc(p->tr, nc * sizeof *t);
        if (!t)
            return;
        p->tr = t;
        p->ctr = nc;
    }
    memcpy(p->tr[p->ntr].uuid, trial, 16);
    p->tr[p->ntr++].ended = 0;
    if (p->files)
        ct->dirty = 1;
}

void config_track_trial_end(cfgtrack *ct, const uint8_t trial[16])
{
    if (!ct)
        return;
    for (struct ctproc *p = ct->procs; p; p = p->next)
        for (size_t i = p->ntr; i-- > 0;)
            if (!memcmp(p->tr[i].uuid, trial, 16)) {
                p->tr[i].ended = 1;
                return;
            }
}

const char *config_track_hashed(cfgtrack *ct, const uint8_t proc[16], const char *path)
{
    if (!ct || !path)
        return NULL;
    struct ctproc *p = get_proc(ct, proc, 0);
    if (!p)
        return NULL;
    for (struct ctfile *f = p->files; f; f = f->next) {
        if (f->parsed || strcmp(f->path, path))
            continue;
        f->parsed = 1;
        ct->dirty = 1;
        ct->err[0] = '\0';
        int rc = config_parse_parse_file(path, &f->params, ct->err, sizeof ct->err);
        return rc < 0 || f->params.truncated ? ct->err : NULL;
    }
    return NULL;
}

int config_track_flush(cfgtrack *ct)
{
    if (!ct || !ct->dirty)
        return 0;
    ct->dirty = 0;
    for (struct ctproc *p = ct->procs; p; p = p->next)
        for (struct ctfile *f = p->files; f; f = f->next) {
            if (!f->parsed)
                continue;
            for (; f->done_upto < p->ntr; f->done_upto++)
                for (size_t i = 0; i < f->params.n; i++) {
                    int rc = ct->emit(ct->arg, p->tr[f->done_upto].uuid, f->params.kv[i].key,
                                      f->params.kv[i].value, f->source);
                    if (rc) {
                        ct->dirty = 1; /* the rest next time */
                        f->done_upto++;
                        return rc;
                    }
                }
        }
    return 0;
}
