/* record_verify.c - record_verify (record.h): checks a provenance record and says
 * in one line what holds and what fails (docs/RECORD.md, "What verify checks").
 * Every check runs even after one fails, so the line names all failures. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "dsse.h"
#include "hashcache.h"
#include "checkpoint.h"
#include "keys.h"
#include "merkle.h"
#include "record.h"
#include "util.h"
#include "wire.h"


struct result {
    char ok[1024], bad[2048];
    int failed;
};

/* Appends to buf, after sep when buf is not empty. */
static void append(char *buf, size_t size, const char *sep, const char *fmt, va_list ap)
{
    size_t n = strlen(buf);
    if (n)
        n += (size_t)snprintf(buf + n, size - n, "%s", sep);
    if (n < size)
        vsnprintf(buf + n, size - n, fmt, ap);
}

static void pass(struct result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(r->ok, sizeof r->ok, ", ", fmt, ap);
    va_end(ap);
}

static void fail(struct result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(r->bad, sizeof r->bad, "; ", fmt, ap);
    va_end(ap);
    r->failed = 1;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tt_fail(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static const char *js(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int hex32(const char *s, uint8_t out[32])
{
    size_t n;
    return s && sodium_hex2bin(out, 32, s, strlen(s), NULL, &n, NULL) == 0 && n == 32 ? 0 : -1;
}

/* ---- signature */
static void check_signature(struct result *r, const struct dsse_envelope *env, const char *pubfile)
{
    char err[TT_ERR_MAX];
    struct tt_key k;
    if (pubfile) {
        if (key_load_public(pubfile, &k, err, sizeof err) != 0 &&
            key_load_secret(pubfile, &k, err, sizeof err) != 0) {
            fail(r, "signature: %s (--pubkey)", err);
            return;
        }
    } else {
        /* a key of ours whose keyid the envelope names */
        char dir[4096];
        DIR *d = key_default_dir(dir, sizeof dir) ? opendir(dir) : NULL;
        struct dirent *e;
        int found = 0;
        while (d && !found && (e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".pub"))
                continue;
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (key_load_public(p, &k, err, sizeof err) != 0)
                continue;
            for (size_t i = 0; i < env->nsigs; i++)
                if (!strcmp(env->sigs[i].keyid, k.keyid))
                    found = 1;
        }
        if (d)
            closedir(d);
        if (!found) {
            fail(r, "signature: no public key for keyid %.16s (give --pubkey FILE)",
                 env->nsigs ? env->sigs[0].keyid : "?");
            return;
        }
    }
    if (dsse_verify(env, k.pk, err, sizeof err) != 0)
        fail(r, "signature: %s", err);
    else
        pass(r, "signature (keyid %.16s)", k.keyid);
}

/* ---- subject */
static void check_subject(struct result *r, json_t *stmt, const char *model)
{
    json_t *subj = json_array_get(json_object_get(stmt, "subject"), 0);
    const char *want = js(json_object_get(subj, "digest"), "sha256");
    uint8_t sha[32];
    char hex[65];
    if (hashcache_sha256_path(model, sha) != 0) {
        fail(r, "subject: %s: %s", model, strerror(errno));
        return;
    }
    wire_hex(hex, sha, 32);
    if (!want)
        fail(r, "subject: the record names no subject digest");
    else if (strcmp(want, hex))
        fail(r, "subject: %s has sha256 %.16s..., the record attests %.16s...", model, hex, want);
    else
        pass(r, "subject (%s)", js(subj, "name") ? js(subj, "name") : model);
}

/* ---- predicate: counts, and the statistics recomputed */
static json_t *without(json_t *o, const char *const *keys)
{
    json_t *c = json_deep_copy(o);
    for (int i = 0; keys[i]; i++)
        json_object_del(c, keys[i]);
    return c;
}

/* The first key whose values differ, for the message. */
static const char *first_diff(json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    if (!json_is_object(a) || !json_is_object(b))
        return "(value)";
    json_object_foreach(a, k, v) if (!json_equal(v, json_object_get(b, k))) return k;
    json_object_foreach(b, k, v) if (!json_object_get(a, k)) return k;
    return "(value)";
}

/* The held-out selection recorded in holdout.files against the one
 * recomputed from the trials (h2): each file's selection fields must be
 * the recomputed ones, and a file that picked the release must be listed.
 * NULL if they agree, else what differs. */
static const char *holdout_diff(json_t *files, json_t *h2)
{
    static const char *const keys[] = {"metric", "direction", "models_compared", "released_rank",
                                       "selected_release", "selection_reason", NULL};
    static char why[200];
    size_t i, j;
    json_t *f, *h;
    json_array_foreach(files, i, f)
    {
        json_t *mine = NULL;
        json_array_foreach(h2, j, h) if (js(h, "sha256") && js(f, "sha256") &&
                                         !strcmp(js(h, "sha256"), js(f, "sha256"))) mine = h;
        for (int k = 0; keys[k]; k++) {
            json_t *a = json_object_get(f, keys[k]), *b = mine ? json_object_get(mine, keys[k]) : NULL;
            if ((a || b) && !(a && b && json_equal(a, b))) {
                snprintf(why, sizeof why, "files[%zu].%s is not what the trials give", i, keys[k]);
                return why;
            }
        }
    }
    json_array_foreach(h2, j, h)
    {
        int listed = 0;
        json_array_foreach(files, i, f) listed |= js(f, "sha256") && !strcmp(js(f, "sha256"), js(h, "sha256"));
        if (!listed && json_is_true(json_object_get(h, "selected_release"))) {
            snprintf(why, sizeof why, "the release was picked on data file %.16s..., which is not listed",
                     js(h, "sha256"));
            return why;
        }
    }
    return NULL;
}

static void check_predicate(struct result *r, const struct record *rec)
{
    json_t *p = json_object_get(rec->stmt, "predicate");
    json_t *search = json_object_get(p, "search"), *sel = json_object_get(p, "selection");
    json_t *log = json_object_get(p, "log");
    if (!json_is_object(search) || !json_is_object(sel) || !json_is_object(log)) {
        fail(r, "predicate: search, selection or log missing");
        return;
    }
    /* counts */
    json_int_t total = json_integer_value(json_object_get(search, "trials")), sum = 0, miss = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(search, "by_status"), k, v) sum += json_integer_value(v);
    json_object_foreach(json_object_get(sel, "missing"), k, v) miss += json_integer_value(v);
    json_int_t n = json_integer_value(json_object_get(sel, "n"));
    if (sum != total) {
        fail(r, "predicate: trials by status add up to %lld, not %lld", (long long)sum,
             (long long)total);
        return;
    }
    if (n + miss != total) {
        fail(r, "predicate: %lld with the objective + %lld without != %lld trials", (long long)n,
             (long long)miss, (long long)total);
        return;
    }
    if ((json_int_t)rec->n != json_integer_value(json_object_get(log, "tree_size"))) {
        fail(r, "predicate: %zu trials listed, the log has %lld leaves", rec->n,
             (long long)json_integer_value(json_object_get(log, "tree_size")));
        return;
    }
    /* statistics */
    json_t *obj = json_object_get(sel, "objective");
    const char *dir = js(obj, "direction");
    json_t *pb = json_object_get(p, "producedBy");
    json_t *s2 = NULL, *sel2 = NULL, *ch2 = NULL, *refit2 = NULL, *h2 = NULL;
    char err[TT_ERR_MAX];
    struct record_preds preds;
    if (record_preds_from_json(json_object_get(p, "predictions"), rec, &preds, err, sizeof err) !=
        0)
        fail(r, "predictions: %s", err); /* recomputed without them: the statistics say more */
    else if (preds.n)
        pass(r, "predictions (%zu trials' out-of-fold data match their leaves)", preds.n);
    int crc = record_compute(rec->leaf, rec->n, json_object_get(search, "excluded"),
                             js(pb, "trial"), js(obj, "name"), dir && !strcmp(dir, "min") ? 0 : 1,
                             &preds, &s2, &sel2, &ch2, &refit2, &h2, err, sizeof err);
    record_preds_free(&preds);
    if (crc != 0) {
        fail(r, "predicate: cannot recompute: %s", err);
        return;
    }
    static const char *const search_local[] = {"running", "excluded", "compute", NULL};
    const char *why;
    static const char *const sel_local[] = {"objective", NULL};
    json_t *a = without(search, search_local), *b = without(s2, search_local);
    json_t *c1 = json_object_get(json_object_get(search, "compute"), "trials"),
           *c2 = json_object_get(json_object_get(s2, "compute"), "trials"),
           *f1 = json_object_get(json_object_get(search, "compute"), "failed"),
           *f2 = json_object_get(json_object_get(s2, "compute"), "failed");
    json_t *sa = without(sel, sel_local), *sb = without(sel2, sel_local);
    if (!json_equal(a, b))
        fail(r, "predicate: search.%s is not what the trials give", first_diff(a, b));
    else if (!json_equal(c1, c2) || !json_equal(f1, f2))
        fail(r, "predicate: search.compute is not what the trials give");
    else if (!json_equal(sa, sb))
        fail(r, "predicate: selection.%s is not what the trials give", first_diff(sa, sb));
    else if (!json_equal(json_object_get(p, "choices"), ch2))
        fail(r, "predicate: the choice ledger is not what the trials give");
    else if (!json_equal(json_object_get(pb, "refit_of"), refit2) &&
             (json_object_get(pb, "refit_of") || refit2))
        fail(r, "predicate: producedBy.refit_of is not what the trials give");
    else if ((why = holdout_diff(json_object_get(json_object_get(p, "holdout"), "files"), h2)))
        fail(r, "predicate: holdout: %s", why);
    else
        pass(r, "predicate (%lld trials, statistics recomputed)", (long long)total);
    json_decref(a);
    json_decref(b);
    json_decref(sa);
    json_decref(sb);
    json_decref(s2);
    json_decref(sel2);
    json_decref(ch2);
    json_decref(refit2);
    json_decref(h2);
}

/* ---- sessions: who sent each session, as the attester's store had it (the
 * collector's CURVE identity, the client's claimed user and host). Only the
 * signature vouches for the identities; what verify can check is that the
 * list is well formed and names exactly the sessions of the listed trials. */
static void check_sessions(struct result *r, const struct record *rec)
{
    json_t *ss = json_object_get(json_object_get(rec->stmt, "predicate"), "sessions");
    if (!ss)
        return; /* a record made before identities were recorded */
    char why[200] = "";
    json_t *listed = json_object(), *e;
    size_t i, nauth = 0;
    const char *u;
    if (!json_is_array(ss))
        snprintf(why, sizeof why, "not an array");
    json_array_foreach(ss, i, e) {
        u = js(e, "session");
        json_t *idn = json_object_get(e, "identity"), *cl = json_object_get(e, "claimed");
        if (!u || strlen(u) != 32 || !idn || !(json_is_string(idn) || json_is_null(idn)) || !cl ||
            !(json_is_object(cl) || json_is_null(cl))) {
            snprintf(why, sizeof why, "sessions[%zu] is not {session, identity, claimed}", i);
            break;
        }
        if (json_object_get(listed, u)) {
            snprintf(why, sizeof why, "session %s is listed twice", u);
            break;
        }
        json_object_set_new(listed, u, json_false());
        nauth += json_is_string(idn);
    }
    for (size_t k = 0; !*why && k < rec->n; k++) {
        if (!(u = rec->leaf[k].session))
            continue;
        if (!json_object_get(listed, u))
            snprintf(why, sizeof why, "trials[%zu]'s session %s is not listed", k, u);
        else
            json_object_set_new(listed, u, json_true());
    }
    json_object_foreach(listed, u, e) if (!*why && !json_is_true(e))
        snprintf(why, sizeof why, "session %s is listed but no trial names it", u);
    if (*why)
        fail(r, "sessions: %s", why);
    else
        pass(r, "sessions (%zu, %zu with an authenticated identity)", json_array_size(ss), nauth);
    json_decref(listed);
}

/* ---- log */
/* Leaf hashes of the leaves' bytes as they are in the signed payload. */
static merkle_hash *leaf_hashes(const struct record *rec)
{
    merkle_hash *h = malloc((rec->n ? rec->n : 1) * sizeof *h);
    for (size_t i = 0; i < rec->n; i++)
        merkle_leaf_hash(rec->text[i], rec->len[i], h[i]);
    return h;
}

static void check_log(struct result *r, json_t *p, const merkle_hash *h, size_t n)
{
    json_t *log = json_object_get(p, "log");
    uint8_t root[32];
    merkle_hash mine;
    if (hex32(js(log, "root"), root) != 0) {
        fail(r, "log: no root");
        return;
    }
    merkle_root(h, n, mine);
    if (memcmp(mine, root, 32)) {
        fail(r, "log: the %zu listed trials do not hash to the attested root (a trial was changed, "
                "added or removed)", n);
        return;
    }
    size_t i;
    json_t *pr;
    json_array_foreach(json_object_get(log, "proofs"), i, pr)
    {
        json_int_t idx = json_integer_value(json_object_get(pr, "leaf_index"));
        json_t *path = json_object_get(pr, "path");
        size_t len = json_array_size(path);
        merkle_hash ph[MERKLE_MAX_PATH];
        int bad = idx < 0 || (size_t)idx >= n || len > MERKLE_MAX_PATH;
        for (size_t j = 0; !bad && j < len; j++)
            bad = hex32(json_string_value(json_array_get(path, j)), ph[j]) != 0;
        if (bad || merkle_inclusion_verify((uint64_t)idx, n, h[idx], ph, len, root) != 0) {
            fail(r, "log: the audit path of leaf %lld does not reproduce the root", (long long)idx);
            return;
        }
    }
    json_t *cp = json_object_get(log, "checkpoint");
    if (json_is_object(cp)) {
        uint64_t cn;
        uint8_t croot[32];
        if (checkpoint_json_check(cp, js(p, "study") ? js(p, "study") : "", &cn, croot) != 0 ||
            cn != n || memcmp(croot, root, 32)) {
            fail(r, "log: the collector's checkpoint does not sign (study, %zu, root)", n);
            return;
        }
    }
    pass(r, "log (%zu leaves, root %.12s, %zu audit paths%s)", n, js(log, "root"),
         json_array_size(json_object_get(log, "proofs")),
         json_is_object(cp) ? ", collector checkpoint" : "");
}

/* ---- receipts: each is (study, size, root) signed by a collector */
/* A receipt whose signature held, to check against the log's prefixes. */
struct receipt {
    uint64_t size;
    uint8_t root[32];
    char where[4400 + 24]; /* "file:line" */
};

static int by_size(const void *a, const void *b)
{
    const struct receipt *x = a, *y = b;
    return (x->size > y->size) - (x->size < y->size);
}

/* Every receipt of the study must sign a prefix of the attested log. The
 * receipts are sorted by size and the prefixes' roots taken from one pass
 * of a frontier over the leaves: an agent keeps a receipt per ack, and
 * one tree per receipt would cost receipts x leaves hashes. */
static void check_receipts(struct result *r, const char *dir, const char *study, const merkle_hash *h,
                           size_t n)
{
    DIR *d = opendir(dir);
    if (!d) {
        fail(r, "receipts: %s: %s", dir, strerror(errno));
        return;
    }
    struct receipt *rc = NULL;
    size_t seen = 0, cap = 0;
    int bad = 0;
    struct dirent *e;
    while (!bad && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 6, ".jsonl"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *line = NULL;
        size_t lcap = 0;
        long lineno = 0;
        while (!bad && getline(&line, &lcap, f) > 0) {
            lineno++;
            json_t *o = json_loads(line, 0, NULL);
            if (!o) {
                fail(r, "receipts: %s:%ld: not JSON", path, lineno);
                bad = 1;
                break;
            }
            if (!js(o, "study") || strcmp(js(o, "study"), study)) {
                json_decref(o);
                continue;
            }
            if (seen == cap)
                rc = realloc(rc, (cap = cap ? 2 * cap : 64) * sizeof *rc);
            struct receipt *x = &rc[seen];
            snprintf(x->where, sizeof x->where, "%s:%ld", path, lineno);
            if (checkpoint_json_check(o, study, &x->size, x->root) != 0) {
                fail(r, "receipts: %s: bad signature", x->where);
                bad = 1;
            } else if (x->size > n) {
                fail(r, "receipts: %s: the collector had %llu leaves, the record has only %zu "
                        "(trials were removed)",
                     x->where, (unsigned long long)x->size, n);
                bad = 1;
            }
            seen++;
            json_decref(o);
        }
        free(line);
        fclose(f);
    }
    closedir(d);
    if (!bad && seen) {
        qsort(rc, seen, sizeof *rc, by_size);
        struct merkle_frontier fr;
        merkle_frontier_init(&fr);
        for (size_t i = 0; !bad && i < seen; i++) {
            while (fr.size < rc[i].size)
                merkle_frontier_append(&fr, h[fr.size]);
            merkle_hash m;
            merkle_frontier_root(&fr, m);
            if (memcmp(m, rc[i].root, 32)) {
                fail(r, "receipts: %s: the first %llu leaves differ from the log the collector "
                        "signed",
                     rc[i].where, (unsigned long long)rc[i].size);
                bad = 1;
            }
        }
    }
    free(rc);
    if (!bad) {
        if (!seen)
            fail(r, "receipts: none for study %s in %s", study, dir);
        else
            pass(r, "receipts (%zu checkpoints consistent)", seen);
    }
}

int record_verify(const char *recpath, const char *model, const char *pubfile,
                  const char *receipts, char **line, char *err, size_t errlen)
{
    size_t len;
    *line = NULL;
    char *text = read_file(recpath, &len, err, errlen);
    if (!text)
        return -1;
    struct dsse_envelope env;
    char why[1024];
    if (dsse_parse(text, len, &env, why, sizeof why) != 0) {
        free(text);
        if (asprintf(line, "verify: FAILED record: %s: %s", recpath, why) < 0)
            return tt_fail(err, errlen, "out of memory");
        return 1;
    }
    free(text);
    struct result r = {"", "", 0};
    check_signature(&r, &env, pubfile);
    struct record rec = {0};
    int have = 0;
    if (!env.payload_type || strcmp(env.payload_type, DSSE_INTOTO_TYPE)) {
        fail(&r, "record: payloadType is not %s", DSSE_INTOTO_TYPE);
    } else {
        char *payload = (char *)env.payload;
        env.payload = NULL; /* record_from_payload owns it now */
        if (record_from_payload(payload, env.payload_len, &rec, why, sizeof why) != 0)
            fail(&r, "record: %s", why);
        else if (!js(rec.stmt, "_type") || strcmp(js(rec.stmt, "_type"), RECORD_STATEMENT_TYPE) ||
                 !js(rec.stmt, "predicateType") ||
                 strcmp(js(rec.stmt, "predicateType"), RECORD_PREDICATE_TYPE))
            fail(&r, "record: not an in-toto Statement v1 with predicate %s",
                 RECORD_PREDICATE_TYPE);
        else
            have = 1;
    }
    if (have) {
        json_t *p = json_object_get(rec.stmt, "predicate");
        check_subject(&r, rec.stmt, model);
        check_predicate(&r, &rec);
        check_sessions(&r, &rec);
        merkle_hash *h = leaf_hashes(&rec);
        check_log(&r, p, h, rec.n);
        if (receipts)
            check_receipts(&r, receipts, js(p, "study") ? js(p, "study") : "", h, rec.n);
        else
            pass(&r, "receipts not given (--receipts DIR checks them)");
        free(h);
    }
    int n = r.failed ? asprintf(line, "verify: FAILED %s%s%s", r.bad, *r.ok ? "; ok: " : "", r.ok)
                     : asprintf(line, "verify: OK %s", r.ok);
    record_free(&rec);
    dsse_free(&env);
    if (n < 0) {
        *line = NULL;
        return tt_fail(err, errlen, "out of memory");
    }
    return r.failed ? 1 : 0;
}
