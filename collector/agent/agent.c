/* agent.c - agent_run (`tunetrail run`): starts the command under the shim, serves the
 * shim's SOCK_SEQPACKET connections, and ships enriched batches to the sink
 * (trials.c enriches, ship.c batches/spools/resends).
 *
 * One loop thread, one zmq_poll over: a signalfd (SIGCHLD + forwarded
 * signals), the listening socket, every connection, the DEALER socket, and
 * the eventfd of the hashing threads (hashpool.h), which do the only work
 * that could take seconds. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* The command's environment: ours with the TUNETRAIL_* variables set and the
 * shim first in LD_PRELOAD. Built before fork, because the child of a
 * process with ZeroMQ threads must not call malloc. `extra` ("NAME=value"
 * or NULL, owned by the caller) is added as it is. */
static char **child_env(const char *shim, const char *sock, const char *session, const char *study,
                        const char *home, char *extra)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *old_preload = NULL;
    static const char *drop[] = {"LD_PRELOAD=", TT_ENV_SOCK "=", TT_ENV_SESSION "=", TT_ENV_STUDY "=",
                                 TT_ENV_HOME "=", TT_ENV_PARENT "=", TT_ENV_METRICS "="};
    for (size_t i = 0; i < n; i++) {
        int skip = 0;
        for (size_t d = 0; d < sizeof drop / sizeof *drop; d++)
            if (!strncmp(environ[i], drop[d], strlen(drop[d])))
                skip = 1;
        if (!strncmp(environ[i], "LD_PRELOAD=", 11))
            old_preload = environ[i] + 11;
        if (!skip)
            env[k++] = environ[i];
    }
    if (extra)
        env[k++] = extra;
    char *s;
    if (old_preload && *old_preload)
        s = NULL, asprintf(&s, "LD_PRELOAD=%s:%s", shim, old_preload);
    else
        s = NULL, asprintf(&s, "LD_PRELOAD=%s", shim);
    env[k++] = s;
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

static void drain_conn(tt_trials *trials, int fd, uint8_t *buf, int *eof)
{
    char err[256];
    for (;;) {
        struct iovec iov = {buf, AGENT_DGRAM_MAX};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                *eof = 1;
            return;
        }
        if (r == 0) {
            *eof = 1;
            return;
        }
        if (mh.msg_flags & MSG_TRUNC) {
            fprintf(stderr, "tunetrail: oversized datagram (%zd bytes) dropped\n", r);
            continue;
        }
        if (trials_feed(trials, fd, buf, (size_t)r, err, sizeof err) < 0)
            fprintf(stderr, "tunetrail: %s\n", err);
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
    snprintf(pat, sizeof pat, "shim-%s-*.spool", hex);
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
    if (ship_seal(ship, err, sizeof err) == 0)
        for (size_t i = 0; i < n; i++)
            unlink(paths[i]);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return n;
}

int agent_run(const struct agent_run_opts *o)
{
    const char *study_flag = o->study, *collector = o->collector, *store_flag = o->store;
    char *const *patterns = o->patterns, *const *cmd = o->cmd;
    size_t npat = o->npatterns;
    int rc = 1;
    char err[512];
    char *exe = NULL, *study = NULL, *store = NULL, *shim = NULL, *home = NULL, *spool_dir = NULL;
    char *sockdir = NULL, *sockpath = NULL, *spool_path = NULL, **env = NULL;
    int lfd = -1, sfd = -1, spool_fd = -1, tty = isatty(2);
    tt_sink *sink = NULL;
    tt_ship *ship = NULL;
    tt_trials *trials = NULL;
    uint8_t *buf = NULL;
    struct conns cs = {0};
    sigset_t mask, oldmask;
    int mask_set = 0;

    if (!(exe = resolve_cmd(cmd[0]))) {
        fprintf(stderr, "tunetrail run: cannot execute %s: No such file or directory\n", cmd[0]);
        rc = 127;
        goto out;
    }
    if (paths_study(study_flag, &study, err, sizeof err) < 0 ||
        paths_store(store_flag, &store, err, sizeof err) < 0 || paths_shim(&shim, err, sizeof err) < 0 ||
        paths_home(&home, err, sizeof err) < 0 || paths_spool_dir(&spool_dir, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail run: %s\n", err);
        goto out;
    }
    char *rhome = realpath(home, NULL); /* children in other cwds must agree */
    if (rhome) {
        free(home);
        home = rhome;
    }
    uint8_t session[16];
    char hex[TT_UUID_HEX_LEN + 1];
    if (wire_uuid_new(session) < 0) {
        fprintf(stderr, "tunetrail run: getrandom: %s\n", strerror(errno));
        goto out;
    }
    wire_hex(hex, session, 16);

    const char *tmp = getenv("TMPDIR");
    if (asprintf(&sockdir, "%s/tunetrail-XXXXXX", tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp") < 0 ||
        !mkdtemp(sockdir)) {
        fprintf(stderr, "tunetrail run: cannot create a socket directory: %s\n", strerror(errno));
        free(sockdir);
        sockdir = NULL;
        goto out;
    }
    asprintf(&sockpath, "%s/agent.sock", sockdir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sockpath);
    lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "tunetrail run: cannot listen on %s: %s\n", sockpath, strerror(errno));
        goto out;
    }

    asprintf(&spool_path, "%s/agent-%s.spool", spool_dir, hex);
    if ((spool_fd = spool_open_locked(spool_path, 1, err, sizeof err)) < 0) {
        fprintf(stderr, "tunetrail run: %s\n", err);
        goto out;
    }
    if (!(env = child_env(shim, sockpath, hex, study, home, o->metrics_env)))
        goto out;
    if (!(sink = sink_open(collector, store, err, sizeof err))) {
        fprintf(stderr, "tunetrail run: %s\n", err);
        goto out;
    }
    ship = ship_new(sink, spool_fd, session);
    struct trials_config rcfg = {
        .session = session, .patterns = patterns, .npatterns = npat, .hash_threads = HASHPOOL_THREADS};
    memcpy(rcfg.origin, session, 16);
    trials = trials_new(&rcfg, ship);
    buf = malloc(AGENT_DGRAM_MAX);
    if (!ship || !trials || !buf) {
        fprintf(stderr, "tunetrail run: out of memory\n");
        goto out;
    }

    /* SessionStart */
    {
        Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
        Tunetrail__SessionStart ss = TUNETRAIL__SESSION_START__INIT;
        ev.kind_case = TUNETRAIL__EVENT__KIND_SESSION_START;
        ev.session_start = &ss;
        char host[256] = "", cwd[PATH_MAX];
        gethostname(host, sizeof host - 1);
        const char *user = getenv("USER");
        ss.has_session = 1;
        ss.session = (ProtobufCBinaryData){16, session};
        ss.study = study;
        ss.host = host;
        ss.user = (char *)(user ? user : "");
        ss.cwd = getcwd(cwd, sizeof cwd) ? cwd : NULL;
        ss.argv = (char **)cmd;
        ss.n_argv = o->ncmd;
        ss.trial_patterns = (char **)patterns;
        ss.n_trial_patterns = npat;
        ss.tool_version = TT_VERSION;
        if (trials_emit(trials, &ev, err, sizeof err) < 0)
            fprintf(stderr, "tunetrail run: %s\n", err);
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);
    mask_set = 1;
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    int statik = is_static_elf(exe);
    if (statik)
        fprintf(stderr, "tunetrail: %s is statically linked: recorded only from outside (start, exit)\n", cmd[0]);
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0)
        goto out;
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "tunetrail run: fork: %s\n", strerror(errno));
        goto out;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
        execve(exe, cmd, env);
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
        waitpid(child, NULL, 0);
        rc = exec_errno == ENOENT ? 127 : 126;
        goto finish;
    }
    trials_set_root_pid(trials, child);
    if (statik && trials_agent_process_start(trials, child, exe, cmd, err, sizeof err) < 0)
        fprintf(stderr, "tunetrail run: %s\n", err);

    int child_done = 0, wstatus = 0;
    int64_t drain_deadline = 0, last_status = 0;
    void *zsock = sink_zmq_socket(sink);
    int hfd = trials_hash_fd(trials);
    zmq_pollitem_t *items = NULL;
    for (;;) {
        size_t ni = 2 + (zsock ? 1 : 0) + (hfd >= 0 ? 1 : 0) + cs.n;
        zmq_pollitem_t *ni_items = realloc(items, ni * sizeof *items);
        if (!ni_items)
            break;
        items = ni_items;
        size_t k = 0;
        items[k++] = (zmq_pollitem_t){NULL, sfd, ZMQ_POLLIN, 0};
        items[k++] = (zmq_pollitem_t){NULL, lfd, ZMQ_POLLIN, 0};
        if (zsock)
            items[k++] = (zmq_pollitem_t){zsock, 0, ZMQ_POLLIN, 0};
        if (hfd >= 0)
            items[k++] = (zmq_pollitem_t){NULL, hfd, ZMQ_POLLIN, 0};
        size_t cbase = k;
        for (size_t i = 0; i < cs.n; i++)
            items[k++] = (zmq_pollitem_t){NULL, cs.fd[i], ZMQ_POLLIN, 0};
        long to = ship_next_timeout_ms(ship);
        if (tty && (to < 0 || to > AGENT_STATUS_MS))
            to = AGENT_STATUS_MS;
        if (child_done) {
            long d = (long)(drain_deadline - ship_now_ms());
            if (d < 0)
                d = 0;
            if (to < 0 || d < to)
                to = d;
        }
        int n = zmq_poll(items, (int)ni, to);
        if (n < 0 && errno != EINTR)
            break;
        /* signals */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGCHLD) {
                int st;
                pid_t w;
                while ((w = waitpid(-1, &st, WNOHANG)) > 0)
                    if (w == child) {
                        child_done = 1;
                        wstatus = st;
                        drain_deadline = ship_now_ms() + AGENT_DRAIN_MS;
                    }
            } else if (!child_done) {
                kill(child, (int)si.ssi_signo);
            }
        }
        /* new connections */
        for (;;) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                break;
            if (cs.n == cs.cap) {
                size_t nc = cs.cap ? cs.cap * 2 : 64;
                int *p = realloc(cs.fd, nc * sizeof *p);
                if (!p) {
                    close(fd);
                    break;
                }
                cs.fd = p;
                cs.cap = nc;
            }
            cs.fd[cs.n++] = fd;
            int eof = 0;
            drain_conn(trials, fd, buf, &eof); /* data may already be waiting */
            if (eof) {
                trials_conn_eof(trials, fd, err, sizeof err);
                close(fd);
                cs.n--;
            }
        }
        /* connections, walking back so removal is cheap */
        size_t polled = ni - cbase;
        for (size_t i = polled; i-- > 0;) {
            if (i >= cs.n || !(items[cbase + i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                continue;
            int eof = 0;
            drain_conn(trials, cs.fd[i], buf, &eof);
            if (eof) {
                if (trials_conn_eof(trials, cs.fd[i], err, sizeof err) < 0)
                    fprintf(stderr, "tunetrail run: %s\n", err);
                close(cs.fd[i]);
                cs.fd[i] = cs.fd[--cs.n];
            }
        }
        /* finished hashes release held events; cheap when there are none */
        if (trials_hash_ready(trials, err, sizeof err) < 0)
            fprintf(stderr, "tunetrail run: %s\n", err);
        if (ship_pump(ship, err, sizeof err) < 0)
            fprintf(stderr, "tunetrail run: %s\n", err);
        if (tty && ship_now_ms() - last_status >= AGENT_STATUS_MS) {
            status_line(trials, tty, 0);
            last_status = ship_now_ms();
        }
        if (child_done && (cs.n == 0 || ship_now_ms() >= drain_deadline))
            break;
    }
    free(items);
    /* Stragglers still connected after the drain window are processes the
     * command left behind, alive: recording them as killed would be a lie.
     * They stay running; closing our end makes their next send fail with
     * EPIPE, so their later records and real end go to their spool file. */
    for (size_t i = 0; i < cs.n; i++) {
        int eof = 0;
        drain_conn(trials, cs.fd[i], buf, &eof);
        if (eof)
            trials_conn_eof(trials, cs.fd[i], err, sizeof err);
        else
            trials_conn_detach(trials, cs.fd[i]);
        close(cs.fd[i]);
    }
    cs.n = 0;
    if (WIFEXITED(wstatus))
        rc = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        rc = 128 + WTERMSIG(wstatus);
    if (statik)
        trials_agent_process_end(trials, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
                                 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0, err, sizeof err);

finish:
    take_shim_spools(trials, ship, spool_dir, hex);
    if (trials_finish(trials, 1, err, sizeof err) < 0)
        fprintf(stderr, "tunetrail run: %s\n", err);
    if (npat == 0 && trials_root_fallback(trials, err, sizeof err) < 0)
        fprintf(stderr, "tunetrail run: %s\n", err);
    {
        Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
        Tunetrail__SessionEnd se = TUNETRAIL__SESSION_END__INIT;
        ev.kind_case = TUNETRAIL__EVENT__KIND_SESSION_END;
        ev.session_end = &se;
        se.has_session = se.has_exit_code = se.has_signal = 1;
        se.session = (ProtobufCBinaryData){16, session};
        se.exit_code = rc >= 128 ? -1 : rc;
        se.signal = rc >= 128 && rc < 128 + 65 ? rc - 128 : 0;
        trials_emit(trials, &ev, err, sizeof err);
    }
    if (ship_seal(ship, err, sizeof err) < 0)
        fprintf(stderr, "tunetrail run: %s\n", err);
    ship_drain(ship, AGENT_ACK_WAIT_MS);
    status_line(trials, tty, 1);
    size_t left_events;
    if (ship_pending(ship, &left_events) == 0) {
        unlink(spool_path);
    } else {
        fprintf(stderr, "tunetrail: collector %s unreachable; %zu records kept in %s; run `tunetrail flush`\n",
                sink_dest(sink), left_events, spool_path);
    }

out:
    if (mask_set)
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
    for (size_t i = 0; i < cs.n; i++)
        close(cs.fd[i]);
    free(cs.fd);
    if (sfd >= 0)
        close(sfd);
    if (lfd >= 0)
        close(lfd);
    if (sockpath)
        unlink(sockpath);
    if (sockdir)
        rmdir(sockdir);
    trials_free(trials);
    ship_free(ship);
    sink_close(sink);
    if (spool_fd >= 0)
        close(spool_fd);
    if (env) {
        size_t n = 0; /* ours are the last five entries */
        while (env[n])
            n++;
        for (size_t i = n >= 5 ? n - 5 : 0; i < n; i++)
            free(env[i]);
        free(env);
    }
    free(buf);
    free(exe);
    free(study);
    free(store);
    free(shim);
    free(home);
    free(spool_dir);
    free(sockdir);
    free(sockpath);
    free(spool_path);
    return rc;
}
