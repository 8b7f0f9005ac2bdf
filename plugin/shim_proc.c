/* shim_proc.c - process identity, ProcessStart/ProcessEnd, fork and exec;
 * see shim.h and INTERNALS.md "Process identity and the tree". */
#include "shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

SHIM_HIDDEN struct shim_proc shim_proc;
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
        p->relation = hp == p->pid ? TUNETRAIL__PROCESS_START__RELATION__REL_EXEC
                                   : TUNETRAIL__PROCESS_START__RELATION__REL_FORK;
    }
    (void)envp;
    p->start_pending = 1;
}

/* ---- ProcessStart ------------------------------------------------------ */

/* Scratch space for the record, static because the crash path may run on a
 * small alternate stack; guarded by the shim lock. */
static struct {
    char cwd[PATH_MAX], exe[PATH_MAX];
    struct utsname uts;
    char *argv[SHIM_ARGC_MAX + 2];
    char trunc[8][SHIM_ARG_MAX];
    char more[64];
    char *env[64];
    char envtrunc[16][SHIM_ENVVAL_MAX];
} sc;

/* Up to SHIM_ARGV_BYTES_MAX of argv, long arguments cut with a marker, and a
 * final "[tunetrail: N more arguments]" if some were dropped. */
static size_t fill_argv(void)
{
    size_t n = 0, bytes = 0, ntrunc = 0;
    int i;
    for (i = 0; i < shim_proc.argc && shim_proc.argv && shim_proc.argv[i]; i++) {
        char *a = shim_proc.argv[i];
        size_t len = strlen(a);
        if (len >= SHIM_ARG_MAX) {
            if (ntrunc == sizeof sc.trunc / sizeof *sc.trunc)
                break;
            size_t keep = SHIM_ARG_MAX - sizeof SHIM_TRUNC_MARK;
            memcpy(sc.trunc[ntrunc], a, keep);
            memcpy(sc.trunc[ntrunc] + keep, SHIM_TRUNC_MARK, sizeof SHIM_TRUNC_MARK);
            a = sc.trunc[ntrunc++];
            len = SHIM_ARG_MAX - 1;
        }
        if (n == SHIM_ARGC_MAX || bytes + len > SHIM_ARGV_BYTES_MAX)
            break;
        sc.argv[n++] = a;
        bytes += len;
    }
    int rest = 0;
    while (i + rest < shim_proc.argc && shim_proc.argv[i + rest])
        rest++;
    if (rest) {
        /* Signal-safe formatting: no snprintf. */
        char num[16], *q = num + sizeof num;
        *--q = 0;
        do
            *--q = (char)('0' + rest % 10);
        while ((rest /= 10) && q > num);
        strcpy(sc.more, "[tunetrail: ");
        strcat(sc.more, q);
        strcat(sc.more, " more arguments]");
        sc.argv[n++] = sc.more;
    }
    return n;
}

static size_t fill_env(void)
{
    static const char *const allow[] = {
#define NAME(x) x,
        TT_ENV_ALLOW_LIST(NAME)
#undef NAME
    };
    size_t n = 0, nt = 0;
    for (char **e = environ; e && *e && n < sizeof sc.env / sizeof *sc.env; e++) {
        for (size_t k = 0; k < sizeof allow / sizeof *allow; k++) {
            size_t l = strlen(allow[k]);
            if (strncmp(*e, allow[k], l) != 0 || (*e)[l] != '=')
                continue;
            char *v = *e;
            if (strlen(v) >= SHIM_ENVVAL_MAX) {
                if (nt == sizeof sc.envtrunc / sizeof *sc.envtrunc)
                    break;
                size_t keep = SHIM_ENVVAL_MAX - sizeof SHIM_TRUNC_MARK;
                memcpy(sc.envtrunc[nt], v, keep);
                memcpy(sc.envtrunc[nt] + keep, SHIM_TRUNC_MARK, sizeof SHIM_TRUNC_MARK);
                v = sc.envtrunc[nt++];
            }
            sc.env[n++] = v;
            break;
        }
    }
    return n;
}

int shim_proc_send_start_locked(void)
{
    struct shim_proc *p = &shim_proc;
    Tunetrail__ProcessStart ps = TUNETRAIL__PROCESS_START__INIT;
    Tunetrail__FileStat fst = TUNETRAIL__FILE_STAT__INIT;
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    p->start_pending = 0;

    ps.has_process = 1;
    ps.process.len = TT_UUID_LEN;
    ps.process.data = p->uuid;
    if (shim_cfg.have_session) {
        ps.has_session = 1;
        ps.session.len = TT_UUID_LEN;
        ps.session.data = shim_cfg.session;
    }
    if (p->have_parent) {
        ps.has_parent = 1;
        ps.parent.len = TT_UUID_LEN;
        ps.parent.data = p->parent;
    }
    ps.has_relation = 1;
    ps.relation = p->relation;
    ps.has_pid = ps.has_ppid = ps.has_uid = 1;
    ps.pid = p->pid;
    ps.ppid = getppid();
    ps.uid = getuid();
    ssize_t n = readlink("/proc/self/exe", sc.exe, sizeof sc.exe - 1);
    if (n > 0) {
        sc.exe[n] = 0;
        ps.exe = sc.exe;
        struct stat st;
        if (stat(sc.exe, &st) == 0) {
            fst.has_dev = fst.has_ino = fst.has_size = fst.has_mtime_ns = 1;
            fst.dev = st.st_dev;
            fst.ino = st.st_ino;
            fst.size = (uint64_t)st.st_size;
            fst.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            ps.exe_stat = &fst;
        }
    }
    ps.n_argv = fill_argv();
    ps.argv = sc.argv;
    if (getcwd(sc.cwd, sizeof sc.cwd))
        ps.cwd = sc.cwd;
    if (uname(&sc.uts) == 0)
        ps.host = sc.uts.nodename;
    ps.n_env = fill_env();
    ps.env = sc.env;
    if (shim_cfg.study[0])
        ps.study = shim_cfg.study;

    ev.kind_case = TUNETRAIL__EVENT__KIND_PROCESS_START;
    ev.process_start = &ps;
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

void shim_proc_end(int how, int code, int sig)
{
    if (!shim_cfg.enabled || shim_proc_foreign())
        return;
    if (__atomic_exchange_n(&shim_proc.end_sent, 1, __ATOMIC_ACQ_REL))
        return;
    /* A fork child that execs without having done anything leaves no record:
     * its new image names our parent as its own (see shim_proc_parent_hint). */
    if (how == TUNETRAIL__PROCESS_END__HOW__END_EXEC && shim_proc.start_pending)
        return;
    Tunetrail__ProcessEnd pe = TUNETRAIL__PROCESS_END__INIT;
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    pe.has_process = 1;
    pe.process.len = TT_UUID_LEN;
    pe.process.data = shim_proc.uuid;
    pe.has_how = 1;
    pe.how = how;
    if (how == TUNETRAIL__PROCESS_END__HOW__END_EXIT) {
        pe.has_exit_code = 1;
        pe.exit_code = code;
    } else if (how == TUNETRAIL__PROCESS_END__HOW__END_SIGNAL) {
        pe.has_signal = 1;
        pe.signal = sig;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        pe.has_utime_us = pe.has_stime_us = pe.has_maxrss_kb = 1;
        pe.utime_us = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
        pe.stime_us = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
        pe.maxrss_kb = ru.ru_maxrss;
    }
    ev.kind_case = TUNETRAIL__EVENT__KIND_PROCESS_END;
    ev.process_end = &pe;
    if (how == TUNETRAIL__PROCESS_END__HOW__END_SIGNAL)
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
    p->relation = TUNETRAIL__PROCESS_START__RELATION__REL_FORK;
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
        shim_proc.relation == TUNETRAIL__PROCESS_START__RELATION__REL_FORK) {
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
    shim_proc_end(TUNETRAIL__PROCESS_END__HOW__END_EXEC, 0, 0);
}

void shim_proc_exec_failed(void)
{
    /* Still the same image: its real end must be sent later. */
    __atomic_store_n(&shim_proc.end_sent, 0, __ATOMIC_RELEASE);
}
