/* shim_outside.c - what a process with the shim can say about processes
 * without it; see shim.h and docs/INTERNALS.md "Ends from outside".
 *
 * RATIONALE: a child whose shim had no chance to send its end (it reset a
 * fatal signal to SIG_DFL, overflowed its stack) looks killed to the agent;
 * its parent's wait call holds the truth. Only signal deaths are reported:
 * an exit is what the child's own shim says, and a datagram per reaped child
 * would cost every fork-heavy program. */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct note_args {
    const char *level, *text;
};

static void note_body(struct pb_w *w, const void *arg)
{
    const struct note_args *n = arg;
    pb_bytes(w, PB_F_NOTE_PROCESS, shim_proc.uuid, TT_UUID_LEN);
    pb_str(w, PB_F_NOTE_LEVEL, n->level);
    pb_str(w, PB_F_NOTE_TEXT, n->text);
}

/* Decimal of v at p (no libc formatting: async-signal-safe). Returns the end. */
static char *put_int(char *p, long v)
{
    char num[24], *d = num + sizeof num;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do
        *--d = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *--d = '-';
    size_t n = (size_t)(num + sizeof num - d);
    memcpy(p, d, n);
    return p + n;
}

void shim_outside_child_ended(pid_t pid, int ws)
{
    if (!shim_cfg.enabled || shim_proc_foreign() || pid <= 0 || !WIFSIGNALED(ws))
        return;
    static const char a[] = "{\"pid\":", b[] = ",\"wait_status\":";
    char text[96], *p = text;
    memcpy(p, a, sizeof a - 1);
    p = put_int(p + sizeof a - 1, pid);
    memcpy(p, b, sizeof b - 1);
    p = put_int(p + sizeof b - 1, ws);
    *p++ = '}';
    *p = 0;
    struct note_args n = {"wait", text};
    struct shim_event ev = {PB_F_EVENT_NOTE, note_body, &n};
    shim_emit_crash(&ev); /* the lock-free path: we may be in a SIGCHLD handler */
}

static const char *why_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !(st.st_mode & (S_ISUID | S_ISGID)))
        return NULL; /* the common case: one stat */
    struct statvfs vfs;
    return tt_env_preload_ignored(&st, statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID), geteuid(),
                                  getegid());
}


static const char *find_why(const char *path, int search)
{
    if (!search || strchr(path, '/'))
        return why_file(path);
    /* as execvp: the first executable regular file on $PATH */
    const char *dirs = NULL;
    for (char **e = environ; e && *e && !dirs; e++)
        if (!strncmp(*e, "PATH=", 5))
            dirs = *e + 5;
    if (!dirs)
        dirs = "/bin:/usr/bin";
    size_t pl = strlen(path);
    char buf[PATH_MAX];
    for (const char *d = dirs; d;) {
        const char *c = strchr(d, ':');
        size_t n = c ? (size_t)(c - d) : strlen(d);
        if (n + 1 + pl < sizeof buf) {
            if (n)
                memcpy(buf, d, n);
            else
                buf[n++] = '.';
            buf[n] = '/';
            memcpy(buf + n + 1, path, pl + 1);
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
                return why_file(buf);
        }
        d = c ? c + 1 : NULL;
    }
    return NULL;
}

const char *shim_outside_unenterable(const char *path, int search)
{
    int e = errno; /* our stat calls must not show */
    const char *why = path && *path ? find_why(path, search) : NULL;
    errno = e;
    return why;
}

static void note_body_anon(struct pb_w *w, const void *arg)
{
    const struct note_args *n = arg;
    pb_str(w, PB_F_NOTE_LEVEL, n->level);
    pb_str(w, PB_F_NOTE_TEXT, n->text);
}

/* A vfork child (dash runs commands so, posix_spawn too) must not touch its
 * parent's memory or connection: it sends one datagram of its own, built on
 * this stack, as an origin of its own (a fresh uuid, seq 0), over a
 * connection of its own. System calls only. */
static void send_alone(const struct note_args *n)
{
    if (!shim_cfg.have_sock)
        return;
    uint8_t origin[TT_UUID_LEN];
    if (syscall(SYS_getrandom, origin, sizeof origin, 0) != (long)sizeof origin)
        return;
    origin[6] = (uint8_t)((origin[6] & 0x0f) | 0x40); /* v4, as wire_uuid_new */
    origin[8] = (uint8_t)((origin[8] & 0x3f) | 0x80);
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    uint8_t buf[SHIM_BATCH_HDR_MAX + PATH_MAX + 256];
    struct pb_w w;
    pb_init(&w, buf + SHIM_BATCH_HDR_MAX, sizeof buf - SHIM_BATCH_HDR_MAX);
    struct shim_pb_ev m =
        shim_pb_event_begin(&w, origin, 0, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, PB_F_EVENT_NOTE);
    note_body_anon(&w, n);
    shim_pb_event_end(&w, m);
    if (w.err)
        return;
    size_t len;
    const uint8_t *d = shim_batch_frame(w.buf, w.len, origin, 0, &len);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t sl = strlen(shim_cfg.sock);
    if (sl >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, shim_cfg.sock, sl);
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (syscall(SYS_connect, fd, &sa, sizeof sa) == 0)
        syscall(SYS_sendto, fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
    syscall(SYS_close, fd);
}

void shim_outside_note_unentered(const char *why, const char *path)
{
    if (!shim_cfg.enabled)
        return;
    int e = errno;
    char text[PATH_MAX + 16];
    size_t wl = strlen(why), pl = strnlen(path, PATH_MAX - 1);
    memcpy(text, why, wl);
    text[wl] = ' ';
    memcpy(text + wl + 1, path, pl);
    text[wl + 1 + pl] = 0;
    struct note_args n = {"unentered", text};
    if (shim_proc_foreign()) {
        send_alone(&n);
    } else {
        struct shim_event ev = {PB_F_EVENT_NOTE, note_body, &n};
        shim_emit(&ev);
    }
    errno = e;
}
