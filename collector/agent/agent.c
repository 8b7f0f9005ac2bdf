/* agent.c - agent_run (`tunetrail run`): starts the command under the shim,
 * serves the shim's SOCK_SEQPACKET connections, and ships enriched batches to
 * the sink (trials.c enriches, ship.c batches/spools/resends).
 *
 * One loop thread, one zmq_poll over: a signalfd (SIGCHLD + forwarded
 * signals), the listening socket, every connection, the DEALER socket, and
 * the eventfd of the hashing threads (hashpool.h), which do the only work
 * that could take seconds. run_loop only polls and dispatches to the on_*
 * handlers, each of which must return without blocking. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "agent.h"
#include "hashpool.h"
#include "paths.h"
#include "ship.h"
#include "sink.h"
#include "spool.h"
#include "trials.h"
#include "tt_env.h"
#include "wire.h"
#include "util.h"

#define AGENT_DGRAM_MAX (128 * 1024) /* > TT_SHIM_DGRAM_MAX, so truncation is visible */
#define AGENT_DRAIN_MS 1000          /* after the command exits: wait for stragglers */
#define AGENT_ACK_WAIT_MS 3000       /* after that: wait for the collector's acks */
#define AGENT_STATUS_MS 200

extern char **environ;

/* PATH search like execvp, so a missing command is reported before forking. */
static char *resolve_cmd(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, F_OK) == 0 ? strdup(cmd) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[PATH_MAX];
    for (const char *p = path; p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", cmd);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return strdup(buf);
        p = c ? c + 1 : NULL;
    }
    return NULL;
}

/* 1 if path is an ELF executable with no PT_INTERP (statically linked):
 * LD_PRELOAD cannot reach it. Scripts and unreadable files count as dynamic. */
static int is_static_elf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char id[EI_NIDENT];
    int res = 0;
    if (pread(fd, id, sizeof id, 0) != (ssize_t)sizeof id || memcmp(id, ELFMAG, SELFMAG))
        goto out;
    if (id[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || eh.e_type != ET_EXEC)
            goto out; /* ET_DYN: PIE or static-pie; PIE has an interpreter */
        res = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
                res = 0;
        }
    } else if (id[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr eh;
        if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
            goto out;
        res = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf32_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint32_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
                res = 0;
        }
    }
out:
    close(fd);
    return res;
}

/* Why the shim cannot enter the program at path, or NULL if it can: a
 * static ELF has no loader to preload it; a setuid or setgid file that
 * changes our ids runs in secure-execution mode, where the loader ignores
 * LD_PRELOAD (but for setuid libraries in system directories). A nosuid
 * mount does not change ids. */
static const char *unenterable(const char *path)
{
    struct stat st;
    struct statvfs vfs;
    const char *why = NULL;
    if (stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
        why = tt_env_preload_ignored(&st, statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID), geteuid(),
                                     getegid());
    return why ? why : is_static_elf(path) ? "statically linked" : NULL;
}

/* The Python hook's directory (python/ of the source tree): beside the shim,
 * <libdir>/tunetrail/python, unless $TUNETRAIL_PYTHON is "0" (no hook) or
 * names another directory. Absolute and without symbolic links, since the
 * shim compares the paths Python opens with it. NULL when there is none:
 * Python then runs unhooked, as it would without tunetrail. */
static char *python_hook_dir(const char *shim)
{
    const char *env = getenv(TT_ENV_PYTHON);
    if (env && !strcmp(env, "0"))
        return NULL;
    char *dir = NULL;
    if (env && *env)
        dir = strdup(env);
    else {
        const char *sl = strrchr(shim, '/');
        if (sl)
            asprintf(&dir, "%.*s/tunetrail/python", (int)(sl - shim), shim);
    }
    char probe[PATH_MAX];
    char *real = dir ? realpath(dir, NULL) : NULL;
    free(dir);
    if (real && snprintf(probe, sizeof probe, "%s/sitecustomize.py", real) < (int)sizeof probe &&
        access(probe, R_OK) == 0)
        return real;
    free(real);
    if (env && *env) /* the user asked for a hook that is not there */
        fprintf(stderr, "tunetrail: %s=%s: no sitecustomize.py there; Python runs without the hook\n",
                TT_ENV_PYTHON, env);
    return NULL;
}

/* The command's environment: ours with the TUNETRAIL_* variables set, the
 * shim first in LD_PRELOAD and the Python hook first on PYTHONPATH. Built
 * before fork, because the child of a process with ZeroMQ threads must not
 * call malloc. `extra` ("NAME=value" or NULL, owned by the caller) is added
 * as it is. */
static char **child_env(const char *shim, const char *sock, const char *session, const char *study,
                        const char *home, char *extra)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 10, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *old_preload = NULL, *old_pypath = NULL;
    char *py = python_hook_dir(shim);
    static const char *drop[] = {"LD_PRELOAD=", "PYTHONPATH=", TT_ENV_SOCK "=", TT_ENV_SESSION "=", TT_ENV_STUDY "=",
                                 TT_ENV_HOME "=", TT_ENV_PARENT "=", TT_ENV_METRICS "="};
    for (size_t i = 0; i < n; i++) {
        int skip = 0;
        for (size_t d = 0; d < sizeof drop / sizeof *drop; d++)
            if (!strncmp(environ[i], drop[d], strlen(drop[d])))
                skip = 1;
        if (!strncmp(environ[i], "LD_PRELOAD=", 11))
            old_preload = environ[i] + 11;
        if (!strncmp(environ[i], "PYTHONPATH=", 11))
            old_pypath = environ[i] + 11;
        if (!strncmp(environ[i], TT_ENV_PYTHON "=", sizeof TT_ENV_PYTHON))
            skip = 1; /* replaced by the directory found, or 0: the shim skips what it names */
        if (!skip)
            env[k++] = environ[i];
    }
    if (extra)
        env[k++] = extra;
    if (!py) {
        if (old_pypath)
            env[k++] = (char *)old_pypath - 11;
        env[k++] = TT_ENV_PYTHON "=0";
    }
    /* From here on every entry is ours (allocated), up to the end: run_close
     * frees from the LD_PRELOAD entry on, the only one environ's copy keeps. */
    char *s;
    if (old_preload && *old_preload)
        s = NULL, asprintf(&s, "LD_PRELOAD=%s:%s", shim, old_preload);
    else
        s = NULL, asprintf(&s, "LD_PRELOAD=%s", shim);
    env[k++] = s;
    if (py) {
        if (old_pypath && *old_pypath)
            asprintf(&env[k++], "PYTHONPATH=%s:%s", py, old_pypath);
        else
            asprintf(&env[k++], "PYTHONPATH=%s", py);
        asprintf(&env[k++], "%s=%s", TT_ENV_PYTHON, py);
        free(py);
    }
    asprintf(&env[k++], "%s=%s", TT_ENV_SOCK, sock);
    asprintf(&env[k++], "%s=%s", TT_ENV_SESSION, session);
    asprintf(&env[k++], "%s=%s", TT_ENV_STUDY, study);
    asprintf(&env[k++], "%s=%s", TT_ENV_HOME, home);
    env[k] = NULL;
    return env;
}

struct conns {
    int *fd;
    size_t n, cap;
    uint64_t *taken; /* by fd number: datagrams journaled from that connection */
    size_t ntaken;
};

static void status_line(tt_trials *trials, int tty, int clear)
{
    if (!tty)
        return;
    if (clear) {
        fputs("\r\033[K", stderr);
        return;
    }
    struct trials_counts c;
    trials_counts(trials, &c);
    fprintf(stderr, "\rtunetrail: %u trials started, %u finished, %u failed, %u processes\033[K",
            c.trials_started, c.trials_finished, c.trials_failed, c.processes);
}

/* Reads what connection fd has queued. Each datagram goes to the journal
 * before anything else (a shim's copy is dropped on our ack, so an event
 * taken must survive our SIGKILL), then is acked (the count taken on this
 * connection so far), then goes to trials. */
static void drain_conn(tt_trials *trials, struct conns *cs, int journal, int fd, uint8_t *buf, int *eof)
{
    char err[TT_ERR_MAX];
    if ((size_t)fd >= cs->ntaken) {
        size_t nn = (size_t)fd * 2 + 64;
        uint64_t *p = realloc(cs->taken, nn * sizeof *p);
        if (p) {
            memset(p + cs->ntaken, 0, (nn - cs->ntaken) * sizeof *p);
            cs->taken = p;
            cs->ntaken = nn;
        }
    }
    uint64_t *taken = (size_t)fd < cs->ntaken ? &cs->taken[fd] : NULL;
    static int journal_failed;
    for (;;) {
        struct iovec iov = {buf, AGENT_DGRAM_MAX};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                *eof = 1;
            break;
        }
        if (r == 0) {
            *eof = 1;
            break;
        }
        if (taken)
            (*taken)++;
        if (mh.msg_flags & MSG_TRUNC) {
            fprintf(stderr, "tunetrail: oversized datagram (%zd bytes) dropped\n", r);
            if (taken) /* said and dropped: nothing for the shim to keep */
                (void)!send(fd, taken, sizeof *taken, MSG_DONTWAIT | MSG_NOSIGNAL);
            continue;
        }
        if (journal >= 0 && wire_frame_append(journal, TT_FRAME_BATCH, buf, (uint32_t)r) < 0 &&
            !journal_failed++)
            fprintf(stderr, "tunetrail: writing the intake journal: %s; records taken from now on "
                            "live only in memory until shipped\n", strerror(errno));
        /* Acked before it is processed: an exiting shim waits for this, not
         * for our work. A full receive buffer only delays it (cumulative). */
        if (taken)
            (void)!send(fd, taken, sizeof *taken, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (trials_feed(trials, fd, buf, (size_t)r, err, sizeof err) < 0)
            fprintf(stderr, "tunetrail: %s\n", err);
        /* Its image has ended: rather than be woken once more by the EOF of
         * its exit, we end the connection. After SHUT_RD the shim's sends
         * fail (EPIPE: it spools anything it still has) and what is queued
         * stays readable, then reads as EOF: nothing in flight is dropped. */
        if (trials_conn_finished(trials, fd))
            shutdown(fd, SHUT_RD);
    }
}

/* Ships this session's shim spool files (processes that could not reach us)
 * through trials; they are deleted once the agent spool holding their events is
 * synced. A spool whose flock is held belongs to a live process (one the
 * command left behind): it is skipped, for `tunetrail flush` to ship once the
 * process is gone. Returns the number of files taken. */
static size_t take_shim_spools(tt_trials *trials, tt_ship *ship, const char *spool_dir, const char *hex)
{
    DIR *d = opendir(spool_dir);
    if (!d)
        return 0;
    char pat[128], err[256];
    snprintf(pat, sizeof pat, TT_SPOOL_SHIM_SESSION_GLOB_FMT, hex);
    char **paths = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (fnmatch(pat, de->d_name, 0))
            continue;
        char *p;
        if (asprintf(&p, "%s/%s", spool_dir, de->d_name) < 0)
            continue;
        struct spool_contents c;
        int live, t = spool_take_shim(p, &c, &live, err, sizeof err);
        if (t < 0)
            fprintf(stderr, "tunetrail: %s\n", err);
        if (t <= 0) {
            free(p);
            continue;
        }
        for (size_t i = 0; i < c.nbatch; i++)
            if (trials_feed(trials, -1, c.batch[i].buf, c.batch[i].len, err, sizeof err) < 0)
                fprintf(stderr, "tunetrail: %s: %s\n", p, err);
        spool_contents_free(&c);
        char **np = realloc(paths, (n + 1) * sizeof *np);
        if (!np) {
            free(p);
            continue;
        }
        paths = np;
        paths[n++] = p;
    }
    closedir(d);
    /* their events must be in our spool before the files go: none held back */
    if (trials_wait(trials, err, sizeof err) < 0)
        fprintf(stderr, "tunetrail: %s\n", err);
    if (ship_seal(ship, err, sizeof err) == 0 && ship_held(ship, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            unlink(paths[i]);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return n;
}

/* One `tunetrail run`: what the handlers below share. */
struct run {
    const struct agent_run_opts *o;
    char err[TT_ERR_MAX];
    char *exe, *study, *store, *shim, *home, *spool_dir, *sockdir, *sockpath, *spool_path, **env;
    char *journal_path;              /* the shims' datagrams as taken, until our spool holds them */
    int journal_fd;
    uint8_t session[16];
    char hex[TT_UUID_HEX_LEN + 1];  /* the session uuid */
    int lfd, sfd, spool_fd, tty;     /* listening socket, signalfd, our spool, stderr is a tty */
    tt_sink *sink;
    tt_ship *ship;
    tt_trials *trials;
    uint8_t *buf;                    /* one datagram */
    struct conns cs;                 /* the shims' connections */
    sigset_t oldmask;
    int mask_set;
    pid_t child;
    const char *outside;             /* why the shim cannot enter the command (recorded from
                                        outside), or NULL */
    void *zsock;                     /* the sink's DEALER socket, or NULL (embedded store) */
    int hfd;                         /* hashing threads' eventfd, or -1 */
    int child_done, wstatus;
    int exec_failed;                 /* the command never ran: no summary */
    int dropped;                     /* records were dropped (spool full, memory bound) */
    int64_t drain_deadline, last_status;
    int rc;
};

static void run_error(struct run *r)
{
    fprintf(stderr, "tunetrail run: %s\n", r->err);
}

/* The command's path, the data paths and the session uuid. Returns 0/-1. */
static int run_paths(struct run *r)
{
    const char *cmd0 = r->o->cmd[0];
    if (!(r->exe = resolve_cmd(cmd0))) {
        fprintf(stderr, "tunetrail run: cannot execute %s: No such file or directory\n", cmd0);
        r->rc = 127;
        return -1;
    }
    if (paths_study(r->o->study, &r->study, r->err, sizeof r->err) < 0 ||
        paths_store(r->o->store, &r->store, r->err, sizeof r->err) < 0 ||
        paths_shim(&r->shim, r->err, sizeof r->err) < 0 || paths_home(&r->home, r->err, sizeof r->err) < 0 ||
        paths_spool_dir(&r->spool_dir, r->err, sizeof r->err) < 0) {
        run_error(r);
        return -1;
    }
    char *rhome = realpath(r->home, NULL); /* children in other cwds must agree */
    if (rhome) {
        free(r->home);
        r->home = rhome;
    }
    if (wire_uuid_new(r->session) < 0) {
        fprintf(stderr, "tunetrail run: getrandom: %s\n", strerror(errno));
        return -1;
    }
    wire_hex(r->hex, r->session, 16);
    return 0;
}

/* The shims' socket, in a private directory. Returns 0/-1. */
static int run_listen(struct run *r)
{
    const char *tmp = getenv("TMPDIR");
    if (asprintf(&r->sockdir, "%s/tunetrail-XXXXXX", tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp") < 0 ||
        !mkdtemp(r->sockdir)) {
        fprintf(stderr, "tunetrail run: cannot create a socket directory: %s\n", strerror(errno));
        free(r->sockdir);
        r->sockdir = NULL;
        return -1;
    }
    asprintf(&r->sockpath, "%s/agent.sock", r->sockdir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", r->sockpath);
    r->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(r->lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "tunetrail run: cannot listen on %s: %s\n", r->sockpath, strerror(errno));
        return -1;
    }
    return 0;
}

/* Our spool, the command's environment, the sink and what feeds it.
 * Returns 0/-1. */
static int run_outputs(struct run *r)
{
    asprintf(&r->spool_path, "%s/" TT_SPOOL_AGENT_FMT, r->spool_dir, r->hex);
    if ((r->spool_fd = spool_open_locked(r->spool_path, 1, r->err, sizeof r->err)) < 0) {
        run_error(r);
        return -1;
    }
    /* Named as a shim spool of this session: if we are killed, `tunetrail
     * flush` replays it like one (flush.c skips what our spool holds). */
    asprintf(&r->journal_path, "%s/" TT_SPOOL_SHIM "%s" TT_SPOOL_SEP "%s" TT_SPOOL_EXT, r->spool_dir,
             r->hex, r->hex);
    if (!r->journal_path || (r->journal_fd = spool_open_locked(r->journal_path, 1, r->err, sizeof r->err)) < 0) {
        run_error(r);
        return -1;
    }
    if (!(r->env = child_env(r->shim, r->sockpath, r->hex, r->study, r->home, r->o->metrics_env)))
        return -1;
    if (!(r->sink = sink_open_keyed(r->o->collector, r->store, r->o->collector_key,
                                    r->o->curve_key, r->err, sizeof r->err))) {
        run_error(r);
        return -1;
    }
    r->ship = ship_new(r->sink, r->spool_fd, r->session);
    struct trials_config tcfg = {.session = r->session,
                                 .patterns = r->o->patterns,
                                 .npatterns = r->o->npatterns,
                                 .hash_threads = HASHPOOL_THREADS};
    memcpy(tcfg.origin, r->session, 16);
    r->trials = trials_new(&tcfg, r->ship);
    r->buf = malloc(AGENT_DGRAM_MAX);
    if (!r->ship || !r->trials || !r->buf) {
        fprintf(stderr, "tunetrail run: out of memory\n");
        return -1;
    }
    return 0;
}

static void emit_session_start(struct run *r)
{
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    Tunetrail__SessionStart ss = TUNETRAIL__SESSION_START__INIT;
    ev.kind_case = TUNETRAIL__EVENT__KIND_SESSION_START;
    ev.session_start = &ss;
    char host[256] = "", cwd[PATH_MAX];
    gethostname(host, sizeof host - 1);
    /* The user the session claims: $USER, else (cron, systemd, ctest) the
     * name of our uid, as the shim gives each process's. */
    const char *user = getenv("USER");
    struct passwd *pw = !user || !*user ? getpwuid(getuid()) : NULL;
    if (pw)
        user = pw->pw_name;
    ss.has_session = 1;
    ss.session = (ProtobufCBinaryData){16, r->session};
    ss.study = r->study;
    ss.host = host;
    ss.user = (char *)(user ? user : "");
    ss.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL;
    ss.argv = (char **)r->o->cmd;
    ss.n_argv = r->o->ncmd;
    ss.trial_patterns = (char **)r->o->patterns;
    ss.n_trial_patterns = r->o->npatterns;
    ss.tool_version = TT_VERSION;
    if (trials_emit(r->trials, &ev, r->err, sizeof r->err) < 0)
        run_error(r);
    if (!r->o->conventions)
        return;
    /* The lab conventions this run used, next to the session they apply to. */
    Tunetrail__Event nev = TUNETRAIL__EVENT__INIT;
    Tunetrail__Note note = TUNETRAIL__NOTE__INIT;
    nev.kind_case = TUNETRAIL__EVENT__KIND_NOTE;
    nev.note = &note;
    note.level = "conventions";
    note.text = (char *)r->o->conventions;
    if (trials_emit(r->trials, &nev, r->err, sizeof r->err) < 0)
        run_error(r);
}

static void emit_session_end(struct run *r)
{
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    Tunetrail__SessionEnd se = TUNETRAIL__SESSION_END__INIT;
    ev.kind_case = TUNETRAIL__EVENT__KIND_SESSION_END;
    ev.session_end = &se;
    se.has_session = se.has_exit_code = se.has_signal = 1;
    se.session = (ProtobufCBinaryData){16, r->session};
    se.exit_code = r->rc >= 128 ? -1 : r->rc;
    se.signal = r->rc >= 128 && r->rc < 128 + 65 ? r->rc - 128 : 0;
    trials_emit(r->trials, &ev, r->err, sizeof r->err);
}

/* Forks and execs the command, with SIGCHLD and the forwarded signals
 * going to a signalfd. Returns 0 if it runs, 1 if exec failed (r->rc set:
 * the session is still closed), -1 on an agent error. */
static int run_spawn(struct run *r)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigprocmask(SIG_BLOCK, &mask, &r->oldmask);
    r->mask_set = 1;
    r->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    char *const *cmd = r->o->cmd;
    if ((r->outside = unenterable(r->exe)))
        fprintf(stderr, "tunetrail: %s is %s: recorded only from outside (start, exit)\n", cmd[0], r->outside);
    int ep[2]; /* the child's execve errno, if it fails */
    if (pipe2(ep, O_CLOEXEC) < 0)
        return -1;
    r->child = fork();
    if (r->child < 0) {
        fprintf(stderr, "tunetrail run: fork: %s\n", strerror(errno));
        return -1;
    }
    if (r->child == 0) {
        sigprocmask(SIG_SETMASK, &r->oldmask, NULL);
        execve(r->exe, cmd, r->env);
        int e = errno;
        (void)!write(ep[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(ep[1]);
    int exec_errno = 0;
    ssize_t er;
    while ((er = read(ep[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (er == (ssize_t)sizeof exec_errno) {
        fprintf(stderr, "tunetrail run: cannot execute %s: %s\n", cmd[0], strerror(exec_errno));
        waitpid(r->child, NULL, 0);
        r->rc = exec_errno == ENOENT ? 127 : 126;
        return 1;
    }
    trials_set_root_pid(r->trials, r->child);
    if (r->outside &&
        trials_agent_process_start(r->trials, r->child, r->exe, cmd, r->outside, r->err, sizeof r->err) < 0)
        run_error(r);
    return 0;
}

/* ---- the loop's handlers ------------------------------------------------ */

/* We are the command's parent: its wait status is the truth about its end,
 * whatever its shim could say (a crash after the program reset SIG_DFL). */
static void on_child_exit(struct run *r, int wstatus)
{
    r->child_done = 1;
    r->wstatus = wstatus;
    r->drain_deadline = ship_now_ms() + AGENT_DRAIN_MS;
    if (!r->outside && trials_child_status(r->trials, r->child, getpid(), wstatus, r->err, sizeof r->err) < 0)
        run_error(r);
}

/* SIGCHLD reaps (the command's exit ends the session); the others are
 * forwarded to the command while it runs. */
static void on_signals(struct run *r)
{
    struct signalfd_siginfo si;
    while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            int st;
            pid_t w;
            while ((w = waitpid(-1, &st, WNOHANG)) > 0)
                if (w == r->child)
                    on_child_exit(r, st);
        } else if (!r->child_done) {
            kill(r->child, (int)si.ssi_signo);
        }
    }
}

static int conns_add(struct conns *cs, int fd)
{
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? cs->cap * 2 : 64;
        int *p = realloc(cs->fd, nc * sizeof *p);
        if (!p)
            return -1;
        cs->fd = p;
        cs->cap = nc;
    }
    cs->fd[cs->n++] = fd;
    return 0;
}

static void on_accept(struct run *r)
{
    for (;;) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            break;
        if (conns_add(&r->cs, fd) < 0) {
            close(fd);
            break;
        }
        if ((size_t)fd < r->cs.ntaken)
            r->cs.taken[fd] = 0; /* a new connection counts from zero */
        int eof = 0;
        drain_conn(r->trials, &r->cs, r->journal_fd, fd, r->buf, &eof); /* data may already be waiting */
        if (eof) {
            trials_conn_eof(r->trials, fd, r->err, sizeof r->err);
            close(fd);
            r->cs.n--;
        }
    }
}

/* Connection i is readable: its datagrams, or its end. The last connection
 * moves into slot i, so callers walk the slots backwards. */
static void on_conn(struct run *r, size_t i)
{
    int eof = 0;
    drain_conn(r->trials, &r->cs, r->journal_fd, r->cs.fd[i], r->buf, &eof);
    if (!eof)
        return;
    if (trials_conn_eof(r->trials, r->cs.fd[i], r->err, sizeof r->err) < 0)
        run_error(r);
    close(r->cs.fd[i]);
    r->cs.fd[i] = r->cs.fd[--r->cs.n];
}

/* Finished hashes release held events; cheap when there are none. */
static void on_hashes(struct run *r)
{
    if (trials_hash_ready(r->trials, r->err, sizeof r->err) < 0)
        run_error(r);
}

/* The collector's acks, and the shipper's timers (aged open batch, resends,
 * retries): ship_pump does both, on every wakeup. */
static void on_collector(struct run *r)
{
    if (ship_pump(r->ship, r->err, sizeof r->err) < 0)
        run_error(r);
}

/* Images gone without an end record whose wait status is due. */
static void on_tick(struct run *r)
{
    if (trials_tick(r->trials, r->err, sizeof r->err) < 0)
        run_error(r);
}

static void on_status_timer(struct run *r)
{
    if (r->tty && ship_now_ms() - r->last_status >= AGENT_STATUS_MS) {
        status_line(r->trials, r->tty, 0);
        r->last_status = ship_now_ms();
    }
}

/* The poll set: signalfd, listening socket, DEALER, hash eventfd, then the
 * connections from the returned index on. items holds at least
 * poll_count(r) entries. */
static size_t poll_count(const struct run *r)
{
    return 2 + (r->zsock ? 1 : 0) + (r->hfd >= 0 ? 1 : 0) + r->cs.n;
}

static size_t poll_fill(const struct run *r, zmq_pollitem_t *items)
{
    size_t k = 0;
    items[k++] = (zmq_pollitem_t){NULL, r->sfd, ZMQ_POLLIN, 0};
    items[k++] = (zmq_pollitem_t){NULL, r->lfd, ZMQ_POLLIN, 0};
    if (r->zsock)
        items[k++] = (zmq_pollitem_t){r->zsock, 0, ZMQ_POLLIN, 0};
    if (r->hfd >= 0)
        items[k++] = (zmq_pollitem_t){NULL, r->hfd, ZMQ_POLLIN, 0};
    size_t cbase = k;
    for (size_t i = 0; i < r->cs.n; i++)
        items[k++] = (zmq_pollitem_t){NULL, r->cs.fd[i], ZMQ_POLLIN, 0};
    return cbase;
}

/* The nearest of: the shipper's next timed work, the status line's next
 * tick, a vanished image's wait status, the end of the drain window. */
static long poll_timeout(const struct run *r)
{
    long to = ship_next_timeout_ms(r->ship);
    if (r->tty && (to < 0 || to > AGENT_STATUS_MS))
        to = AGENT_STATUS_MS;
    long t = trials_tick_timeout_ms(r->trials);
    if (t >= 0 && (to < 0 || t < to))
        to = t;
    if (r->child_done) {
        long d = (long)(r->drain_deadline - ship_now_ms());
        if (d < 0)
            d = 0;
        if (to < 0 || d < to)
            to = d;
    }
    return to;
}

/* Until the command has exited and either every connection closed or the
 * drain window passed. */
static void run_loop(struct run *r)
{
    zmq_pollitem_t *items = NULL;
    r->zsock = sink_zmq_socket(r->sink);
    r->hfd = trials_hash_fd(r->trials);
    for (;;) {
        size_t ni = poll_count(r);
        zmq_pollitem_t *ni_items = realloc(items, ni * sizeof *items);
        if (!ni_items)
            break;
        items = ni_items;
        size_t cbase = poll_fill(r, items);
        if (zmq_poll(items, (int)ni, poll_timeout(r)) < 0 && errno != EINTR)
            break;
        /* Only what woke us: each idle check is a system call, and a short
         * process wakes us twice. */
        if (items[0].revents & ZMQ_POLLIN)
            on_signals(r);
        if (items[1].revents & ZMQ_POLLIN)
            on_accept(r);
        for (size_t i = ni - cbase; i-- > 0;)
            if (i < r->cs.n && (items[cbase + i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                on_conn(r, i);
        on_hashes(r);
        on_tick(r);
        on_collector(r);
        on_status_timer(r);
        if (r->child_done && (r->cs.n == 0 || ship_now_ms() >= r->drain_deadline))
            break;
    }
    free(items);
}

/* ---- after the loop ------------------------------------------------------ */

/* Stragglers still connected after the drain window are processes the
 * command left behind, alive: recording them as killed would be a lie.
 * They stay running; closing our end makes their next send fail with
 * EPIPE, so their later records and real end go to their spool file. */
static void detach_stragglers(struct run *r)
{
    for (size_t i = 0; i < r->cs.n; i++) {
        int eof = 0;
        drain_conn(r->trials, &r->cs, r->journal_fd, r->cs.fd[i], r->buf, &eof);
        if (eof)
            trials_conn_eof(r->trials, r->cs.fd[i], r->err, sizeof r->err);
        else
            trials_conn_detach(r->trials, r->cs.fd[i]);
        close(r->cs.fd[i]);
    }
    r->cs.n = 0;
}

/* The command's exit status becomes ours. */
static void take_exit_status(struct run *r)
{
    int ws = r->wstatus;
    if (WIFEXITED(ws))
        r->rc = WEXITSTATUS(ws);
    else if (WIFSIGNALED(ws))
        r->rc = 128 + WTERMSIG(ws);
    if (r->outside && trials_agent_process_end(r->trials, ws, r->err, sizeof r->err) < 0)
        run_error(r);
}

/* Closes the session: the shim spools, killed ends, the root fallback,
 * SessionEnd, then the last batch and the collector's acks. Our spool goes
 * once everything is acked. */
static void run_finish(struct run *r)
{
    take_shim_spools(r->trials, r->ship, r->spool_dir, r->hex);
    if (trials_finish(r->trials, 1, r->err, sizeof r->err) < 0)
        run_error(r);
    /* tunetrail.ini's patterns are the lab's, not a word about this command:
     * when they matched nothing, the command is its own trial as usual. */
    if (r->o->npatterns == r->o->npatterns_ini &&
        trials_root_fallback(r->trials, r->err, sizeof r->err) < 0)
        run_error(r);
    emit_session_end(r);
    if (ship_seal(r->ship, r->err, sizeof r->err) < 0)
        run_error(r);
    else if (trials_wait(r->trials, r->err, sizeof r->err) == 0 && ship_seal(r->ship, r->err, sizeof r->err) == 0)
        unlink(r->journal_path); /* every event taken is in our spool now */
    ship_drain(r->ship, AGENT_ACK_WAIT_MS);
    status_line(r->trials, r->tty, 1);
    if (r->o->summary && !r->exec_failed)
        *r->o->summary = trials_summary(r->trials);
    const char *why;
    uint64_t dropped = ship_give_up(r->ship, &why); /* what the spool could not take is lost now */
    size_t left_events;
    sink_say_unverified(r->sink, "tunetrail"); /* before the delivery line, which stays last */
    if (ship_pending(r->ship, &left_events) == 0) {
        unlink(r->spool_path);
    } else {
        /* It answered (a store fault, or acks for earlier batches): not
         * unreachable, only slow within AGENT_ACK_WAIT_MS on a busy collector;
         * flush delivers the rest, and what was stored meanwhile is a duplicate. */
        const char *fault = ship_store_error(r->ship);
        struct sink_trust tr;
        sink_trust(r->sink, &tr);
        if (!fault && tr.untrusted)
            fault = "acknowledged without the pinned key's signature (not the collector you pinned?)";
        if (!fault)
            fault = sink_handshake_refused(r->sink);
        if (!fault && ship_stats(r->ship)->events_acked)
            fault = "did not acknowledge everything in time (it is reachable: busy?)";
        fprintf(stderr, "tunetrail: collector %s %s; %zu records kept in %s; run `tunetrail flush`%s\n",
                sink_dest(r->sink), fault ? fault : "unreachable", left_events, r->spool_path,
                fault && ship_store_error(r->ship) ? " once it is fixed" : "");
    }
    if (dropped) {
        fprintf(stderr, "tunetrail: %llu records of session %s (study %s) dropped: %s, and more than %s "
                        "bytes held in memory; they are in no spool and were not delivered\n",
                (unsigned long long)dropped, r->hex, r->study, why ? why : "the spool could not take them",
                getenv(TT_ENV_HOLD_MAX) && *getenv(TT_ENV_HOLD_MAX) ? getenv(TT_ENV_HOLD_MAX) : "67108864");
        r->dropped = 1;
    }
}

static void run_close(struct run *r)
{
    if (r->mask_set)
        sigprocmask(SIG_SETMASK, &r->oldmask, NULL);
    for (size_t i = 0; i < r->cs.n; i++)
        close(r->cs.fd[i]);
    free(r->cs.fd);
    if (r->sfd >= 0)
        close(r->sfd);
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->sockpath)
        unlink(r->sockpath);
    if (r->sockdir)
        rmdir(r->sockdir);
    trials_free(r->trials);
    ship_free(r->ship);
    sink_close(r->sink);
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    if (r->journal_fd >= 0)
        close(r->journal_fd);
    free(r->journal_path);
    free(r->cs.taken);
    if (r->env) {
        size_t i = 0; /* ours are LD_PRELOAD's entry and all after it (child_env) */
        while (r->env[i] && strncmp(r->env[i], "LD_PRELOAD=", 11))
            i++;
        for (; r->env[i]; i++)
            free(r->env[i]);
        free(r->env);
    }
    free(r->buf);
    free(r->exe);
    free(r->study);
    free(r->store);
    free(r->shim);
    free(r->home);
    free(r->spool_dir);
    free(r->sockdir);
    free(r->sockpath);
    free(r->spool_path);
}

int agent_run(const struct agent_run_opts *o)
{
    struct run r = {.o = o, .rc = 1, .lfd = -1, .sfd = -1, .spool_fd = -1, .journal_fd = -1, .tty = isatty(2)};
    if (run_paths(&r) == 0 && run_listen(&r) == 0 && run_outputs(&r) == 0) {
        emit_session_start(&r);
        int spawned = run_spawn(&r);
        r.exec_failed = spawned != 0;
        if (spawned == 0) {
            run_loop(&r);
            detach_stragglers(&r);
            take_exit_status(&r);
        }
        if (spawned >= 0)
            run_finish(&r);
    }
    run_close(&r);
    if (r.dropped && o->strict && r.rc == 0)
        r.rc = AGENT_EXIT_DROPPED;
    return r.rc;
}
