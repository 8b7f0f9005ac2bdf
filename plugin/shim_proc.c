/* shim_proc.c - process identity, ProcessStart/ProcessEnd, fork and exec;
 * see shim.h and INTERNALS.md "Process identity and the tree". */
#include "shim.h"

#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "registry.h"

SHIM_HIDDEN SHIM_HOT struct shim_proc shim_proc;
extern char **environ;

/* Parses "<32 hex>:<pid>" (TUNETRAIL_PARENT). Returns the pid or -1. */
static long parse_hint(const char *s, uint8_t uuid[TT_UUID_LEN])
{
    if (strlen(s) < TT_UUID_HEX_LEN + 2 || s[TT_UUID_HEX_LEN] != ':' ||
        wire_unhex(uuid, s, TT_UUID_LEN) < 0)
        return -1;
    char *end;
    errno = 0;
    long pid = strtol(s + TT_UUID_HEX_LEN + 1, &end, 10);
    return errno || *end || pid <= 0 ? -1 : pid;
}

void shim_proc_init(int argc, char **argv, char **envp)
{
    struct shim_proc *p = &shim_proc;
    wire_uuid_new(p->uuid);
    p->pid = getpid();
    p->argc = argc;
    p->argv = argv;
    uint8_t u[TT_UUID_LEN];
    long hp = shim_cfg.parent_hint[0] ? parse_hint(shim_cfg.parent_hint, u) : -1;
    /* A hint can be inherited stale through spawns we cannot see (system(),
     * popen()): only a pid that is us or our parent proves it is ours. */
    if (hp > 0 && (hp == p->pid || hp == getppid())) {
        memcpy(p->parent, u, TT_UUID_LEN);
        p->have_parent = 1;
        p->relation = hp == p->pid ? PB_REL_EXEC : PB_REL_FORK;
    }
    (void)envp;
    shim_proc_scan_frameworks();
    p->start_pending = 1;
}

/* ---- which adapters can attach here ---------------------------------------
 * The agent uses these (docs/INTERNALS.md "Failed trials"): a process in
 * which a framework is loaded and that fails before its adapter opens a
 * trial is a failed trial; a framework's own program without the framework's
 * library has it built in, where no hook can reach it. At most 32 rows. */

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uint32_t *mask = arg;
    const char *name = info->dlpi_name, *sl;
    if (!name || !*name)
        return 0;
    sl = strrchr(name, '/');
    const char *b = sl ? sl + 1 : name;
    size_t n = tt_adapter_count();
    for (size_t i = 0; i < n && i < 32; i++)
        for (const char *const *l = tt_adapter_at(i)->libraries; l && *l; l++)
            if (!strncmp(b, *l, strlen(*l)))
                *mask |= 1u << i;
    return 0;
}

void shim_proc_scan_frameworks(void)
{
    uint32_t m = 0;
    dl_iterate_phdr(scan_object, &m);
    shim_proc.fw_loaded |= m;
}

/* For the program exe_base: the rows that list it but are not loaded
 * (*unattached), and whether a row reads its lines as test metrics. */
static void exe_rows(const char *exe_base, uint32_t *unattached, int *evaluator)
{
    size_t n = tt_adapter_count();
    for (size_t i = 0; i < n && i < 32; i++)
        for (const struct tt_adapter_exe *e = tt_adapter_at(i)->exes; e && e->exe; e++)
            if (!strcmp(e->exe, exe_base)) {
                if (!(shim_proc.fw_loaded & (1u << i)))
                    *unattached |= 1u << i;
                if (e->parse == tt_lines_predict)
                    *evaluator = 1;
            }
}

/* Writes the name of every row set in mask as a repeated field. */
static void put_rows(struct pb_w *w, unsigned field, uint32_t mask)
{
    size_t n = tt_adapter_count();
    for (size_t i = 0; i < n && i < 32; i++)
        if (mask & (1u << i))
            pb_str(w, field, tt_adapter_at(i)->name);
}

/* ---- ProcessStart ------------------------------------------------------ */

/* RATIONALE: every string is written straight into the datagram (exe and
 * cwd by readlink/getcwd into the buffer itself), so building the record
 * needs no scratch arrays: scratch pages cost a page fault each in every
 * process, the encoder's buffer is touched anyway. */

/* Writes a bytes field whose text is s[len], cut to cap-1 bytes with the
 * truncation marker if longer. */
static void put_capped(struct pb_w *w, unsigned field, const char *s, size_t len, size_t cap)
{
    if (len < cap) {
        pb_bytes(w, field, s, len);
        return;
    }
    size_t keep = cap - sizeof SHIM_TRUNC_MARK;
    size_t m = pb_begin(w, field);
    size_t avail;
    uint8_t *p = pb_room(w, &avail);
    if (p && avail >= cap - 1) {
        memcpy(p, s, keep);
        memcpy(p + keep, SHIM_TRUNC_MARK, sizeof SHIM_TRUNC_MARK - 1);
    }
    pb_advance(w, cap - 1);
    pb_end(w, m);
}

/* Up to SHIM_ARGV_BYTES_MAX of argv, long arguments cut with a marker (at
 * most 8 of them), and a final "[tunetrail: N more arguments]" if some were
 * dropped. */
static void put_argv(struct pb_w *w)
{
    size_t n = 0, bytes = 0, ntrunc = 0;
    int i;
    for (i = 0; i < shim_proc.argc && shim_proc.argv && shim_proc.argv[i]; i++) {
        const char *a = shim_proc.argv[i];
        size_t len = strlen(a), sent = len;
        if (len >= SHIM_ARG_MAX) {
            if (ntrunc == 8)
                break;
            ntrunc++;
            sent = SHIM_ARG_MAX - 1;
        }
        if (n == SHIM_ARGC_MAX || bytes + sent > SHIM_ARGV_BYTES_MAX)
            break;
        put_capped(w, PB_F_PROCESS_START_ARGV, a, len, SHIM_ARG_MAX);
        n++;
        bytes += sent;
    }
    int rest = 0;
    while (i + rest < shim_proc.argc && shim_proc.argv[i + rest])
        rest++;
    if (rest) {
        /* Signal-safe formatting: no snprintf. */
        char more[64], num[16], *q = num + sizeof num;
        *--q = 0;
        do
            *--q = (char)('0' + rest % 10);
        while ((rest /= 10) && q > num);
        strcpy(more, "[tunetrail: ");
        strcat(more, q);
        strcat(more, " more arguments]");
        pb_str(w, PB_F_PROCESS_START_ARGV, more);
    }
}

/* The allow-listed variables (at most 64, 16 of them cut). */
static void put_env(struct pb_w *w)
{
    static const char *const allow[] = {
#define NAME(x) x,
        TT_ENV_ALLOW_LIST(NAME)
#undef NAME
    };
    size_t n = 0, nt = 0;
    for (char **e = environ; e && *e && n < 64; e++) {
        for (size_t k = 0; k < sizeof allow / sizeof *allow; k++) {
            size_t l = strlen(allow[k]);
            if (strncmp(*e, allow[k], l) != 0 || (*e)[l] != '=')
                continue;
            size_t len = strlen(*e);
            if (len >= SHIM_ENVVAL_MAX) {
                if (nt == 16)
                    break;
                nt++;
            }
            put_capped(w, PB_F_PROCESS_START_ENV, *e, len, SHIM_ENVVAL_MAX);
            n++;
            break;
        }
    }
}

/* exe (readlink of /proc/self/exe, in place) and exe_stat; what the
 * adapter table says of the program into *unattached, *evaluator. */
static void put_exe(struct pb_w *w, uint32_t *unattached, int *evaluator)
{
    size_t save = w->len, avail;
    size_t m = pb_begin(w, PB_F_PROCESS_START_EXE);
    char *p = (char *)pb_room(w, &avail);
    if (!p)
        return;
    if (avail > PATH_MAX)
        avail = PATH_MAX;
    ssize_t n = avail > 1 ? readlink("/proc/self/exe", p, avail - 1) : -1;
    if (n <= 0) {
        w->len = save; /* no exe: leave the field out */
        return;
    }
    if ((size_t)n == avail - 1 && avail < PATH_MAX) {
        w->err = 1; /* maybe cut by a small buffer: try the bigger one */
        return;
    }
    p[n] = 0; /* in the free space, for stat; not part of the field */
    const char *sl = strrchr(p, '/');
    exe_rows(sl ? sl + 1 : p, unattached, evaluator);
    struct stat st;
    int have_stat = stat(p, &st) == 0;
    pb_advance(w, (size_t)n);
    pb_end(w, m);
    if (have_stat)
        shim_pb_file_stat(w, PB_F_PROCESS_START_EXE_STAT, &st);
}

static void put_cwd(struct pb_w *w)
{
    size_t save = w->len, avail;
    size_t m = pb_begin(w, PB_F_PROCESS_START_CWD);
    char *p = (char *)pb_room(w, &avail);
    if (!p)
        return;
    if (avail > PATH_MAX)
        avail = PATH_MAX;
    if (!getcwd(p, avail)) {
        w->len = save;
        if (errno == ERANGE)
            w->err = 1; /* too small here: try the bigger buffer */
        return;
    }
    pb_advance(w, strlen(p));
    pb_end(w, m);
}

static void start_body(struct pb_w *w, const void *arg)
{
    struct shim_proc *p = &shim_proc;
    pb_bytes(w, PB_F_PROCESS_START_PROCESS, p->uuid, TT_UUID_LEN);
    if (shim_cfg.have_session)
        pb_bytes(w, PB_F_PROCESS_START_SESSION, shim_cfg.session, TT_UUID_LEN);
    if (p->have_parent)
        pb_bytes(w, PB_F_PROCESS_START_PARENT, p->parent, TT_UUID_LEN);
    pb_enum(w, PB_F_PROCESS_START_RELATION, p->relation);
    pb_i32(w, PB_F_PROCESS_START_PID, p->pid);
    pb_i32(w, PB_F_PROCESS_START_PPID, getppid());
    pb_u32(w, PB_F_PROCESS_START_UID, getuid());
    uint32_t unattached = 0;
    int evaluator = 0;
    put_exe(w, &unattached, &evaluator);
    put_rows(w, PB_F_PROCESS_START_FRAMEWORKS, shim_proc.fw_loaded);
    put_rows(w, PB_F_PROCESS_START_UNATTACHED, unattached);
    if (evaluator)
        pb_bool(w, PB_F_PROCESS_START_EVALUATOR, 1);
    put_argv(w);
    put_cwd(w);
    struct utsname uts;
    if (uname(&uts) == 0)
        pb_str(w, PB_F_PROCESS_START_HOST, uts.nodename);
    put_env(w);
    if (shim_cfg.study[0])
        pb_str(w, PB_F_PROCESS_START_STUDY, shim_cfg.study);
}

int shim_proc_send_start_locked(void)
{
    shim_proc.start_pending = 0;
    struct shim_event ev = {PB_F_EVENT_PROCESS_START, start_body, NULL};
    return shim_conn_append_locked(&ev, 0);
}

/* ---- ProcessEnd -------------------------------------------------------- */

void shim_proc_note_exit(int code)
{
    shim_proc.exit_code = code;
    shim_proc.code_known = 1;
}

int shim_proc_foreign(void)
{
    return shim_proc.pid && getpid() != shim_proc.pid;
}

struct end_args {
    int how, code, sig, have_ru;
    struct rusage ru;
};

static void end_body(struct pb_w *w, const void *arg)
{
    const struct end_args *e = arg;
    pb_bytes(w, PB_F_PROCESS_END_PROCESS, shim_proc.uuid, TT_UUID_LEN);
    pb_enum(w, PB_F_PROCESS_END_HOW, e->how);
    if (e->how == PB_END_EXIT)
        pb_i32(w, PB_F_PROCESS_END_EXIT_CODE, e->code);
    else if (e->how == PB_END_SIGNAL)
        pb_i32(w, PB_F_PROCESS_END_SIGNAL, e->sig);
    if (e->have_ru) {
        const struct rusage *ru = &e->ru;
        pb_i64(w, PB_F_PROCESS_END_UTIME_US, (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec);
        pb_i64(w, PB_F_PROCESS_END_STIME_US, (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec);
        pb_i64(w, PB_F_PROCESS_END_MAXRSS_KB, ru->ru_maxrss);
    }
    if ((e->how == PB_END_EXIT && e->code != 0) || e->how == PB_END_SIGNAL)
        put_rows(w, PB_F_PROCESS_END_FRAMEWORKS, shim_proc.fw_loaded);
}

void shim_proc_end(int how, int code, int sig)
{
    if (!shim_cfg.enabled || shim_proc_foreign())
        return;
    if (__atomic_exchange_n(&shim_proc.end_sent, 1, __ATOMIC_ACQ_REL))
        return;
    /* A fork child that execs without having done anything leaves no record:
     * its new image names our parent as its own (see shim_proc_parent_hint). */
    if (how == PB_END_EXEC && shim_proc.start_pending)
        return;
    struct end_args e;
    memset(&e, 0, sizeof e);
    e.how = how;
    e.code = code;
    e.sig = sig;
    e.have_ru = getrusage(RUSAGE_SELF, &e.ru) == 0;
    struct shim_event ev = {PB_F_EVENT_PROCESS_END, end_body, &e};
    if (how == PB_END_SIGNAL)
        shim_emit_crash(&ev);
    else
        shim_emit(&ev);
}

/* ---- fork and exec ----------------------------------------------------- */

void shim_proc_forked_child(void)
{
    struct shim_proc *p = &shim_proc;
    memcpy(p->parent, p->uuid, TT_UUID_LEN);
    p->have_parent = 1;
    p->relation = PB_REL_FORK;
    p->parent_pid = p->pid;
    wire_uuid_new(p->uuid);
    p->pid = getpid();
    p->start_pending = 1;
    p->end_sent = 0;
    p->code_known = 0;
    p->seq = 0;
    p->batch_seq = 0;
}

void shim_proc_parent_hint(char *out, size_t cap)
{
    const uint8_t *u = shim_proc.uuid;
    long pid = shim_proc.pid;
    /* An unreported fork child hands its parent over; a vfork child is still
     * its parent as far as our memory is concerned, which is right too. */
    if (!shim_proc_foreign() && shim_proc.start_pending && shim_proc.have_parent &&
        shim_proc.relation == PB_REL_FORK) {
        u = shim_proc.parent;
        pid = shim_proc.parent_pid;
    }
    static const char k[] = TT_ENV_PARENT "=";
    if (cap < sizeof k + TT_UUID_HEX_LEN + 1 + 12) {
        out[0] = 0;
        return;
    }
    memcpy(out, k, sizeof k - 1);
    char *q = out + sizeof k - 1;
    wire_hex(q, u, TT_UUID_LEN);
    q += TT_UUID_HEX_LEN;
    *q++ = ':';
    char num[12], *d = num + sizeof num;
    *--d = 0;
    do
        *--d = (char)('0' + pid % 10);
    while ((pid /= 10) > 0);
    strcpy(q, d);
}

void shim_proc_before_exec(void)
{
    shim_proc_end(PB_END_EXEC, 0, 0);
}

void shim_proc_exec_failed(void)
{
    /* Still the same image: its real end must be sent later. */
    __atomic_store_n(&shim_proc.end_sent, 0, __ATOMIC_RELEASE);
}
