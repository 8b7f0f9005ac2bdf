/* shim_conn.c - the one connection to the agent, or the spool file; see
 * shim.h and INTERNALS.md "Hop 1".
 *
 * RATIONALE: every event is sent the moment it is made (a SIGKILLed process
 * must not take buffered records with it); the buffer only holds what the
 * socket refused with EAGAIN. Once this image has written to its spool it
 * keeps writing there, so the agent and `tunetrail flush` see each origin's
 * events in order. Our fds sit at >= SHIM_FD_FLOOR where possible, and each use
 * first checks (fstat) that the fd still is the file we opened: programs
 * close ranges of fds or dup2 over them.
 *
 * Page faults cost more than system calls here (~12 us vs ~1 us), so the
 * state every process touches (lock, fds, the small send buffer) sits in one
 * struct, and the 64 KiB batch is only touched when the socket refuses a
 * datagram or an event is bigger than the small buffer. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SHIM_FD_FLOOR 1000

struct own_fd {
    int fd;
    dev_t dev;
    ino_t ino;
};

/* Most events fit here and go out without touching the batch. */
#define SMALL_DGRAM 1024

/* Copies of the datagrams the agent has not yet said it took (journaled,
 * see "Hop 1" in INTERNALS.md): a datagram queued in a socket whose reader
 * dies is never read, so until the agent's ack covers it, it is ours to
 * spool. At the image's end the shim waits (SETTLE_MS at most) for that
 * ack; a long-lived image reads acks when its copies fill KEEP_BYTES. */
#define KEEP_BYTES (16 * 1024)
#define SETTLE_MS 2000
#define KEEP_ACK_EVERY 32

static struct {
    pthread_mutex_t lock;
    struct own_fd conn;
    struct own_fd spool;
    int spooling;      /* this image writes to its spool for good */
    int buffered;      /* batch.len != 0, kept here so an empty batch is never touched */
    uint64_t sent;     /* datagrams sent on conn */
    uint64_t acked;    /* of those, taken by the agent (its last ack) */
    size_t keep_len;   /* bytes of keep in use: [u32 len][datagram] per unacked datagram */
    uint64_t keep_n;   /* datagrams in keep: the last keep_n sent */
    uint8_t small[SMALL_DGRAM]; /* [SHIM_BATCH_HDR_MAX gap][events]; lock held */
} cs = {.lock = PTHREAD_MUTEX_INITIALIZER, .conn = {-1, 0, 0}, .spool = {-1, 0, 0}};

static struct shim_batch batch;
static uint8_t keep[KEEP_BYTES]; /* touched only once a datagram is sent */

static void sys_close(int fd)
{
    syscall(SYS_close, fd);
}

/* Moves fd to >= SHIM_FD_FLOOR (cloexec) if the limit allows, and records its
 * identity. */
static int adopt(struct own_fd *o, int fd)
{
    /* A raw syscall: libc's fcntl would be one more page of libc text
     * faulted into every process, for one call. */
    int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, SHIM_FD_FLOOR);
    if (hi >= 0) {
        sys_close(fd);
        fd = hi;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        sys_close(fd);
        return -1;
    }
    o->fd = fd;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    return 0;
}

/* 1 if o->fd is still the file we opened. If the program closed or replaced
 * it, forgets it without closing (the fd number is the program's now). */
static int still_ours(struct own_fd *o)
{
    if (o->fd < 0)
        return 0;
    struct stat st;
    if (fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino)
        return 1;
    o->fd = -1;
    return 0;
}

int shim_conn_owns_fd(int fd)
{
    return fd >= 0 && (fd == cs.conn.fd || fd == cs.spool.fd);
}

static char *cat(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

/* attempt > 0 adds ".N" before the suffix: a fresh name after a reader got
 * the lock on our previous file first (see spool_write). */
static int spool_path_n(char *out, size_t cap, unsigned attempt)
{
    if (!shim_cfg.spool_dir[0])
        return -1;
    char hex[TT_UUID_HEX_LEN + 1], shex[TT_UUID_HEX_LEN + 1], num[4] = {'.', 0, 0, 0};
    char *p = out, *end = out + cap - 1;
    p = cat(p, end, shim_cfg.spool_dir);
    p = cat(p, end, "/" TT_SPOOL_SHIM);
    p = cat(p, end, shim_cfg.have_session ? wire_hex(shex, shim_cfg.session, TT_UUID_LEN) : TT_SPOOL_BARE);
    p = cat(p, end, TT_SPOOL_SEP);
    p = cat(p, end, wire_hex(hex, shim_proc.uuid, TT_UUID_LEN));
    if (attempt) {
        num[1] = (char)('0' + attempt % 10);
        p = cat(p, end, num);
    }
    p = cat(p, end, TT_SPOOL_EXT);
    if (p >= end)
        return -1;
    *p = 0;
    return 0;
}

int shim_conn_spool_path(char *out, size_t cap)
{
    return spool_path_n(out, cap, 0);
}

/* mkdir -p of the spool dir (in path[], cut at the last '/'), 0700;
 * signal-safe. Usually only the last component or two are missing, so it
 * works upwards from the deepest one. */
static void make_spool_dir(char *path)
{
    char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return;
    *slash = 0;
    if (mkdir(path, 0700) < 0 && errno == ENOENT) {
        make_spool_dir(path);
        mkdir(path, 0700);
    }
    *slash = '/';
}

/* Lock protocol with readers (`tunetrail flush`, the agent's end-of-run
 * pickup): we write only to a file we hold flock(LOCK_EX) on and that is
 * still linked; a reader takes a file only under that lock, and removes an
 * empty one while still holding it. So a reader that wins the race for a file
 * we just created finds it empty, and we move on to a fresh name. */
#define SPOOL_NAME_TRIES 4

static int spool_write(const uint8_t *d, size_t len)
{
    for (unsigned attempt = 0; !still_ours(&cs.spool); attempt++) {
        char path[PATH_MAX];
        if (attempt == SPOOL_NAME_TRIES || spool_path_n(path, sizeof path, attempt) < 0)
            return -1;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT) {
            make_spool_dir(path);
            fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        }
        if (fd < 0)
            return -1;
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0) {
            sys_close(fd);
            continue;
        }
        /* The lock goes with the process (or with the fd, which fork
         * children close). */
        if (adopt(&cs.spool, fd) < 0)
            return -1;
    }
    return wire_frame_append(cs.spool.fd, TT_FRAME_BATCH, d, (uint32_t)len);
}

static int connect_agent(void)
{
    if (still_ours(&cs.conn))
        return 0;
    if (!shim_cfg.have_sock)
        return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(shim_cfg.sock);
    if (n >= sizeof sa.sun_path) {
        sys_close(fd);
        return -1;
    }
    memcpy(sa.sun_path, shim_cfg.sock, n);
    /* Moved and stat'ed before the connect, so that the first datagram
     * follows the connect at once: the agent, woken by the connect, then
     * finds it already queued when it accepts (one wake-up, not two). */
    if (adopt(&cs.conn, fd) < 0)
        return -1;
    if (connect(cs.conn.fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        sys_close(cs.conn.fd);
        cs.conn.fd = -1;
        return -1;
    }
    /* A new connection: the agent counts its datagrams from zero. Copies
     * from a connection the program closed under us stay in its queue, which
     * the agent still drains. */
    cs.sent = cs.acked = 0;
    cs.keep_len = cs.keep_n = 0;
    return 0;
}

/* Drops the copies the agent's acks (u64 counts of datagrams taken on this
 * connection, cumulative) now cover. Returns 1 if the agent is gone (its
 * end closed: nothing more will be taken), else 0. */
static int read_acks(void)
{
    int gone = 0;
    for (;;) {
        uint64_t n;
        ssize_t r = (ssize_t)syscall(SYS_recvfrom, cs.conn.fd, &n, sizeof n, MSG_DONTWAIT, NULL, NULL);
        if (r == (ssize_t)sizeof n) {
            if (n > cs.acked && n <= cs.sent)
                cs.acked = n;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            gone = 1;
        break;
    }
    uint64_t first = cs.sent - cs.keep_n; /* seq of keep's first copy */
    size_t off = 0;
    while (first < cs.acked && off < cs.keep_len) {
        uint32_t l;
        memcpy(&l, keep + off, sizeof l);
        off += sizeof l + l;
        first++;
        cs.keep_n--;
    }
    if (off) {
        memmove(keep, keep + off, cs.keep_len - off);
        cs.keep_len -= off;
    }
    return gone;
}

static int spool_write(const uint8_t *d, size_t len);

/* The agent is gone: what it did not take goes to the spool, in order. */
static void spool_kept(void)
{
    read_acks();
    size_t off = 0;
    while (off < cs.keep_len) {
        uint32_t l;
        memcpy(&l, keep + off, sizeof l);
        spool_write(keep + off + sizeof l, l);
        off += sizeof l + l;
    }
    cs.keep_len = 0;
    cs.keep_n = 0;
    cs.acked = cs.sent;
}

/* Waits up to ms for the agent to take every datagram sent. Returns 1 if
 * the agent is gone (the caller spools), else 0 (taken, or the agent is
 * alive but slow: its queue still holds them). */
static int wait_acks(int ms)
{
    while (cs.acked < cs.sent) {
        if (read_acks())
            return 1;
        if (cs.acked >= cs.sent)
            break;
        struct pollfd pfd = {cs.conn.fd, POLLIN, 0};
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        long r = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, (size_t)8);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        if ((pfd.revents & (POLLHUP | POLLERR)) && !(pfd.revents & POLLIN))
            return read_acks(), 1;
    }
    return 0;
}

/* Keeps a copy of a datagram just sent until the agent acks it. */
static void keep_copy(const uint8_t *d, size_t len)
{
    /* Every KEEP_ACK_EVERY datagrams, take the acks queued for us: left
     * there, they would fill our receive buffer and the agent's next ack
     * would not fit. */
    if (cs.keep_n && cs.keep_n % KEEP_ACK_EVERY == 0)
        read_acks();
    if (cs.keep_len + sizeof(uint32_t) + len > sizeof keep) {
        if (read_acks() || wait_acks(SETTLE_MS)) {
            /* The agent is gone: what it did not take, then this one. */
            spool_kept();
            spool_write(d, len);
            cs.acked = ++cs.sent;
            cs.spooling = 1;
            return;
        }
        if (cs.keep_len + sizeof(uint32_t) + len > sizeof keep) {
            /* The agent is alive but not reading (or the datagram is bigger
             * than the copies can hold): its queue keeps them. */
            cs.keep_len = cs.keep_n = 0;
            cs.acked = ++cs.sent;
            return;
        }
    }
    cs.sent++;
    uint32_t l = (uint32_t)len;
    memcpy(keep + cs.keep_len, &l, sizeof l);
    memcpy(keep + cs.keep_len + sizeof l, d, len);
    cs.keep_len += sizeof l + len;
    cs.keep_n++;
}

/* At the image's end: waits for the agent to take what it was sent, and
 * spools it if the agent is gone. Lock held. */
static void settle_locked(void)
{
    if (cs.spooling || cs.acked >= cs.sent || !still_ours(&cs.conn))
        return;
    if (wait_acks(SETTLE_MS)) {
        spool_kept();
        cs.spooling = 1;
    }
}

/* Sends one datagram, or spools it. Returns 0 if it is out of our hands, 1 if
 * the socket is full and the caller may keep it (only when !final), -1 if it
 * is lost. Without the lock (the crash path's own datagram) no copy is kept
 * and no copies are touched. */
static int deliver_how(const uint8_t *d, size_t len, int final, int locked)
{
    if (!cs.spooling) {
        if (connect_agent() == 0) {
            ssize_t r;
            do
                r = send(cs.conn.fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            while (r < 0 && errno == EINTR);
            if (r >= 0) {
                if (locked)
                    keep_copy(d, len);
                return 0;
            }
            int e = errno;
            if ((e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) && !final)
                return 1;
            if (locked && e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS)
                spool_kept(); /* the agent is gone: first what it did not take */
        }
        cs.spooling = 1; /* unreachable, gone, or full at the end: spool for good */
    }
    return spool_write(d, len) == 0 ? 0 : -1;
}

static int deliver(const uint8_t *d, size_t len, int final)
{
    return deliver_how(d, len, final, 1);
}

/* Hands the buffered events over. Lock held. */
static void flush_locked(int final)
{
    if (!cs.buffered)
        return;
    size_t len;
    uint64_t bseq = __atomic_load_n(&shim_proc.batch_seq, __ATOMIC_RELAXED);
    const uint8_t *d = shim_batch_finish(&batch, shim_proc.uuid, bseq, &len);
    int r = deliver(d, len, final);
    if (r == 1)
        return;
    __atomic_fetch_add(&shim_proc.batch_seq, 1, __ATOMIC_RELAXED);
    batch.len = 0;
    cs.buffered = 0;
}

/* ProcessStart and ProcessEnd take the time by system call (~1 us): the
 * vDSO's first call faults in two vvar pages and a page of libc (~36 us),
 * which a process that records nothing else never needs. Events that come
 * in numbers use the vDSO. */
static uint64_t stamp(unsigned kind, int64_t *time_ns)
{
    struct timespec ts;
    if (kind == PB_F_EVENT_PROCESS_START || kind == PB_F_EVENT_PROCESS_END)
        syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    else
        clock_gettime(CLOCK_REALTIME, &ts);
    *time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return __atomic_fetch_add(&shim_proc.seq, 1, __ATOMIC_RELAXED);
}

/* Packs ev as one Batch.events entry with w. Returns 0, or -1 if it did not fit. */
static int encode(struct pb_w *w, const struct shim_event *ev, uint64_t seq, int64_t time_ns)
{
    struct shim_pb_ev m = shim_pb_event_begin(w, shim_proc.uuid, seq, time_ns, ev->kind);
    ev->body(w, ev->arg);
    shim_pb_event_end(w, m);
    return w->err ? -1 : 0;
}

/* Sends ev straight from `small` (SHIM_BATCH_HDR_MAX gap first) when nothing
 * is buffered; else, or if it is too big or the socket is full, goes through
 * the batch. Lock held. */
static int append_locked(const struct shim_event *ev, int final, uint8_t *small, size_t scap)
{
    int64_t t;
    uint64_t seq = stamp(ev->kind, &t);
    struct pb_w w;
    if (!cs.buffered && small) {
        pb_init(&w, small + SHIM_BATCH_HDR_MAX, scap - SHIM_BATCH_HDR_MAX);
        if (encode(&w, ev, seq, t) == 0) {
            size_t len;
            uint64_t bseq = __atomic_load_n(&shim_proc.batch_seq, __ATOMIC_RELAXED);
            const uint8_t *d = shim_batch_frame(w.buf, w.len, shim_proc.uuid, bseq, &len);
            if (deliver(d, len, final) != 1) {
                __atomic_fetch_add(&shim_proc.batch_seq, 1, __ATOMIC_RELAXED);
                return 0;
            }
            /* Socket full: keep it for the next send. */
            memcpy(batch.buf + SHIM_BATCH_HDR_MAX, w.buf, w.len);
            batch.len = w.len;
            cs.buffered = 1;
            return 0;
        }
    }
    shim_batch_writer(&batch, &w);
    if (encode(&w, ev, seq, t) < 0 || shim_batch_commit(&batch, &w) < 0) {
        /* Full: the agent is not keeping up; the spool takes over. */
        flush_locked(1);
        shim_batch_writer(&batch, &w);
        if (encode(&w, ev, seq, t) < 0 || shim_batch_commit(&batch, &w) < 0)
            return -1; /* cannot happen: records are capped below the buffer size */
    }
    cs.buffered = 1;
    flush_locked(final);
    return 0;
}

int shim_conn_append_locked(const struct shim_event *ev, int final)
{
    return append_locked(ev, final, cs.small, sizeof cs.small);
}

int shim_emit(const struct shim_event *ev)
{
    int saved = errno, r;
    shim_busy++;
    pthread_mutex_lock(&cs.lock);
    if (shim_proc.start_pending)
        shim_proc_send_start_locked();
    r = append_locked(ev, ev->kind == PB_F_EVENT_PROCESS_END, cs.small, sizeof cs.small);
    if (ev->kind == PB_F_EVENT_PROCESS_END)
        settle_locked();
    pthread_mutex_unlock(&cs.lock);
    shim_busy--;
    errno = saved;
    return r;
}

int shim_emit_later(const struct shim_event *ev)
{
    int saved = errno, r = 0;
    shim_busy++;
    pthread_mutex_lock(&cs.lock);
    if (shim_proc.start_pending)
        shim_proc_send_start_locked();
    int64_t t;
    uint64_t seq = stamp(ev->kind, &t);
    struct pb_w w;
    shim_batch_writer(&batch, &w);
    if (encode(&w, ev, seq, t) < 0 || shim_batch_commit(&batch, &w) < 0) {
        flush_locked(1); /* full: hand it over (spooled if the socket is full) */
        shim_batch_writer(&batch, &w);
        if (encode(&w, ev, seq, t) < 0 || shim_batch_commit(&batch, &w) < 0)
            r = -1;
    }
    if (r == 0)
        cs.buffered = 1;
    pthread_mutex_unlock(&cs.lock);
    shim_busy--;
    errno = saved;
    return r;
}

void shim_conn_start(void)
{
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&cs.lock);
    if (shim_proc.start_pending)
        shim_proc_send_start_locked();
    pthread_mutex_unlock(&cs.lock);
    shim_busy--;
    errno = saved;
}

void shim_conn_flush(void)
{
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&cs.lock);
    flush_locked(1);
    pthread_mutex_unlock(&cs.lock);
    shim_busy--;
    errno = saved;
}

void shim_emit_crash(const struct shim_event *ev)
{
    int saved = errno;
    shim_busy++;
    if (pthread_mutex_trylock(&cs.lock) == 0) {
        if (shim_proc.start_pending)
            shim_proc_send_start_locked();
        append_locked(ev, 1, cs.small, sizeof cs.small);
        settle_locked();
        pthread_mutex_unlock(&cs.lock);
    } else {
        /* Another thread (or the code we interrupted) holds the buffers: send
         * a datagram of our own, built on this (possibly small) stack. */
        uint8_t small[SHIM_BATCH_HDR_MAX + 256];
        int64_t t;
        uint64_t seq = stamp(ev->kind, &t);
        struct pb_w w;
        pb_init(&w, small + SHIM_BATCH_HDR_MAX, sizeof small - SHIM_BATCH_HDR_MAX);
        if (encode(&w, ev, seq, t) == 0) {
            size_t len;
            uint64_t bseq = __atomic_fetch_add(&shim_proc.batch_seq, 1, __ATOMIC_RELAXED);
            const uint8_t *d = shim_batch_frame(w.buf, w.len, shim_proc.uuid, bseq, &len);
            deliver_how(d, len, 1, 0);
        }
    }
    shim_busy--;
    errno = saved;
}

void shim_conn_reset_child(void)
{
    pthread_mutex_init(&cs.lock, NULL);
    /* The inherited fds are the parent's connection and spool: drop our copies
     * (the parent keeps its own) without touching what they point to. The
     * spool's flock belongs to the open file, shared with the parent: closing
     * our copy leaves the parent's lock in place, and the child, which opens
     * its own spool, never appears to hold the parent's. */
    if (cs.conn.fd >= 0)
        sys_close(cs.conn.fd);
    if (cs.spool.fd >= 0)
        sys_close(cs.spool.fd);
    cs.conn.fd = cs.spool.fd = -1;
    cs.spooling = 0;
    cs.sent = cs.acked = 0;
    cs.keep_len = cs.keep_n = 0;
    if (cs.buffered) /* else the batch page stays unshared with the parent's */
        batch.len = 0;
    cs.buffered = 0;
}
