/* shim_outscan.c - metrics in a program's stdout/stderr; see shim_outscan.h.
 *
 * RATIONALE: built-in patterns are small hand matchers (a prefix and a
 * number): no regcomp at start, no allocation in regexec, and a line that does
 * not start with the right letter costs one compare. User patterns are POSIX
 * extended regexes (libc), compiled once when the process first writes.
 * Lines are assembled per stream in a fixed buffer; a line that is whole
 * inside one write is matched in place, without a copy. */
#include "shim_outscan.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "shim_trial.h"

int shim_outscan_builtin_for(const char *exe_base)
{
    return tt_adapter_exe_find(exe_base) != NULL;
}

static void put(struct shim_outscan *s, const char *name, double v, int64_t step,
                const char *split, const char *dir)
{
    struct shim_outscan_metric m = {name, v, step, split, dir};
    if (s->emit)
        s->emit(&m, s->emit_arg);
}

/* A built-in parser's metrics (tt_lines.arg is the scanner). */
static void lines_metric(struct tt_lines *l, const char *name, double v, int64_t step,
                         const char *split, const char *dir)
{
    put(l->arg, name, v, step, split, dir);
}

/* ---- setup -------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
    return -1;
}

int shim_outscan_setup(struct shim_outscan *s, const char *exe_base, const char *spec,
                       shim_outscan_emit_fn emit, void *arg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->builtin = tt_adapter_exe_find(exe_base);
    s->lines.metric = lines_metric;
    s->lines.arg = s;
    s->emit = emit;
    s->emit_arg = arg;
    if (!spec || !*spec)
        return s->builtin != NULL;
    size_t n = strlen(spec);
    if (n >= sizeof s->spec)
        return fail(err, errlen, "metric patterns longer than %s bytes%s", "1023", "");
    memcpy(s->spec, spec, n + 1);
    for (char *e = s->spec, *next; e && *e; e = next) {
        next = strchr(e, '\n');
        if (next)
            *next++ = 0;
        char *eq = strchr(e, '=');
        if (!eq || eq == e)
            return fail(err, errlen, "metric pattern '%s' is not NAME=REGEX%s", e, "");
        if (s->npat == SHIM_OUTSCAN_PAT_MAX)
            return fail(err, errlen, "more than %s metric patterns%s", "16", "");
        *eq = 0;
        int rc = regcomp(&s->pat[s->npat].re, eq + 1, REG_EXTENDED);
        if (rc) {
            char msg[128];
            regerror(rc, NULL, msg, sizeof msg);
            *eq = '=';
            return fail(err, errlen, "bad regex in '%s': %s", e, msg);
        }
        s->pat[s->npat].name = e;
        s->pat[s->npat++].count = 0;
    }
    return s->builtin != NULL || s->npat > 0;
}

void shim_outscan_free(struct shim_outscan *s)
{
    for (int i = 0; i < s->npat; i++)
        regfree(&s->pat[i].re);
    s->npat = 0;
}

/* ---- built-in matchers: the adapters' parsers --------------------------- */

/* Defined by the trial API (plugin/shim_trial.c); weak as shim_trial_current
 * below, for the same reason. */
extern int shim_trial_count(void) __attribute__((weak));

/* A parser whose adapter records the same metrics exactly (svm-train,
 * liblinear-train) stands down once an adapter trial was opened in this
 * process (it was, if the adapter saw the library): the printed line is a
 * rounded copy that would land on the same trial a second time. User
 * patterns are never skipped. */
static void builtin_line(struct shim_outscan *s, const char *l, const char *end)
{
    if (s->builtin->exact_in_hooks && shim_trial_count && shim_trial_count() > 0)
        return;
    s->builtin->parse(&s->lines, l, end);
}

void shim_outscan_match(struct shim_outscan *s, const char *line, size_t len)
{
    const char *end = line + len;
    if (s->builtin)
        builtin_line(s, line, end);
    for (int i = 0; i < s->npat; i++) {
        regmatch_t m[2] = {{0, (regoff_t)len}, {-1, -1}};
        /* Most lines do not match: ask without groups first (glibc then
         * skips its sub-match pass, measured ~2x faster). */
        if (regexec(&s->pat[i].re, line, 0, m, REG_STARTEND) ||
            regexec(&s->pat[i].re, line, 2, m, REG_STARTEND))
            continue;
        const regmatch_t *g = m[1].rm_so >= 0 ? &m[1] : &m[0];
        const char *p = line + g->rm_so;
        double v;
        if (tt_lines_number(&p, line + g->rm_eo, &v))
            put(s, s->pat[i].name, v, s->pat[i].count++, NULL, NULL);
    }
}

/* ---- line assembly ------------------------------------------------------ */

static const char *line_end(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p == '\n' || *p == '\r')
            return p;
    return NULL;
}

static void append(struct shim_outscan_line *ln, const char *p, size_t n)
{
    if (ln->overflow)
        return;
    if (n > sizeof ln->buf - ln->len) {
        ln->overflow = 1;
        return;
    }
    memcpy(ln->buf + ln->len, p, n);
    ln->len += n;
}

void shim_outscan_feed(struct shim_outscan *s, int stream, const char *p, size_t n)
{
    if (stream < 0 || stream >= SHIM_OUTSCAN_NSTREAMS || !p)
        return;
    struct shim_outscan_line *ln = &s->line[stream];
    if (n > SHIM_OUTSCAN_FEED_MAX) {
        /* Bounded work: skip the chunk, keep only its unterminated tail if
         * a line end is found near its end. */
        const char *end = p + n, *q = end;
        size_t look = SHIM_OUTSCAN_LINE_MAX;
        while (q > end - look && q[-1] != '\n' && q[-1] != '\r')
            q--;
        ln->len = 0;
        ln->overflow = q == end - look;
        if (!ln->overflow)
            append(ln, q, (size_t)(end - q));
        return;
    }
    const char *end = p + n;
    while (p < end) {
        const char *e = line_end(p, end);
        if (!e) {
            append(ln, p, (size_t)(end - p));
            return;
        }
        if (ln->len == 0 && !ln->overflow) {
            if (e > p)
                shim_outscan_match(s, p, (size_t)(e - p)); /* whole line in place */
        } else {
            append(ln, p, (size_t)(e - p));
            if (!ln->overflow && ln->len)
                shim_outscan_match(s, ln->buf, ln->len);
            ln->len = 0;
            ln->overflow = 0;
        }
        p = e + 1;
    }
}

void shim_outscan_cut(struct shim_outscan *s, int stream)
{
    if (stream >= 0 && stream < SHIM_OUTSCAN_NSTREAMS)
        s->line[stream].overflow = 1;
}

/* ---- the process's scanner ---------------------------------------------- */

SHIM_HIDDEN SHIM_HOT int shim_outscan_on;
static struct shim_outscan scanner;
static pthread_mutex_t slock = PTHREAD_MUTEX_INITIALIZER;

/* Defined by the trial API (plugin/shim_trial.c) once it exists; weak so the
 * scanner links and works (metrics without a trial) before it does. */
extern int shim_trial_current(uint8_t out[TT_UUID_LEN]) __attribute__((weak));

struct metric_args {
    const struct shim_outscan_metric *m;
    const uint8_t *trial;
};

static void metric_body(struct pb_w *w, const void *arg)
{
    const struct metric_args *a = arg;
    if (a->trial)
        pb_bytes(w, PB_F_METRIC_TRIAL, a->trial, TT_UUID_LEN);
    pb_str(w, PB_F_METRIC_NAME, a->m->name);
    pb_double(w, PB_F_METRIC_VALUE, a->m->value);
    pb_i64(w, PB_F_METRIC_STEP, a->m->step);
    pb_str(w, PB_F_METRIC_SPLIT, a->m->split);
    pb_str(w, PB_F_METRIC_DIRECTION, a->m->direction);
}

static void emit_event(const struct shim_outscan_metric *m, void *arg)
{
    (void)arg;
    /* No vfork-child check here (a getpid per metric): a vfork child may
     * only exec or _exit (POSIX), and glibc's own spawns (posix_spawn,
     * system, popen) call no interposed function in the child. */
    uint8_t t[TT_UUID_LEN];
    struct metric_args a = {m, NULL};
    if (shim_trial_current && shim_trial_current(t))
        a.trial = t;
    struct shim_event ev = {PB_F_EVENT_METRIC, metric_body, &a};
    /* Into the batch without a send, as the adapters' metrics: a printed
     * metric per line must not cost a datagram (~2 us) each. The next event
     * sent (at the latest ProcessEnd) carries it. */
    shim_emit_later(&ev);
}

static void atfork_prepare(void) { pthread_mutex_lock(&slock); }
static void atfork_release(void) { pthread_mutex_unlock(&slock); }

/* The spec as it was at load (the keep entry), or NULL. */
static const char *user_spec(void)
{
    static const char pre[] = TT_ENV_METRICS "=";
    for (int i = 0; i < shim_cfg.nkeep; i++)
        if (!strncmp(shim_cfg.keep[i], pre, sizeof pre - 1))
            return shim_cfg.keep[i] + sizeof pre - 1;
    return NULL;
}

int shim_outscan_decide(void)
{
    int st = __atomic_load_n(&shim_outscan_on, __ATOMIC_ACQUIRE);
    /* Not loaded yet (a constructor that prints before ours ran), disabled,
     * or a vfork child: decide later / never, but do not cache. */
    if (st != SHIM_OUTSCAN_UNKNOWN || !shim_cfg.enabled || shim_busy || shim_proc_foreign())
        return st == SHIM_OUTSCAN_UNKNOWN ? SHIM_OUTSCAN_OFF : st;
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&slock);
    st = shim_outscan_on;
    if (st == SHIM_OUTSCAN_UNKNOWN) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        const char *base = program_invocation_short_name;
        if (n > 0) {
            exe[n] = 0;
            const char *sl = strrchr(exe, '/');
            base = sl ? sl + 1 : exe;
        }
        char err[256];
        int r = shim_outscan_setup(&scanner, base, user_spec(), emit_event, NULL, err, sizeof err);
        if (r < 0)
            shim_debug("output scanner: %s", err);
        /* No threads here: the handlers keep a fork child from inheriting
         * the lock held by another thread. */
        if (r > 0 && pthread_atfork(atfork_prepare, atfork_release, atfork_release) == 0)
            st = SHIM_OUTSCAN_ACTIVE;
        else
            st = SHIM_OUTSCAN_OFF;
        __atomic_store_n(&shim_outscan_on, st, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&slock);
    shim_busy--;
    errno = saved;
    return st;
}

void shim_outscan_text(int stream, const char *p, size_t n, int cut)
{
    if (shim_busy || (shim_outscan_on != SHIM_OUTSCAN_ACTIVE && shim_outscan_decide() != SHIM_OUTSCAN_ACTIVE))
        return;
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&slock);
    shim_outscan_feed(&scanner, stream, p, n);
    if (cut)
        shim_outscan_cut(&scanner, stream);
    pthread_mutex_unlock(&slock);
    shim_busy--;
    errno = saved;
}
