/* shim_conn.c - the one connection to the agent, or the spool file; see
 * shim.h and INTERNALS.md "Hop 1".
 *
 * RATIONALE: every event is sent the moment it is made (a SIGKILLed process
 * must not take buffered records with it); the buffer only holds what the
 * socket refused with EAGAIN. Once this image has written to its spool it
 * keeps writing there, so the agent and `tunetrail flush` see each origin's
 * events in order. Our fds sit at >= SHIM_FD_FLOOR where possible, and each use
 * first checks (fstat) that the fd still is the file we opened: programs
 * close ranges of fds or dup2 over them. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_batch batch;
static struct own_fd conn = {-1, 0, 0};
static struct own_fd spool = {-1, 0, 0};
static int spooling;      /* this image writes to its spool for good */

static void sys_close(int fd)
{
    syscall(SYS_close, fd);
}

/* Moves fd to >= SHIM_FD_FLOOR (cloexec) if the limit allows, and records its
 * identity. */
static int adopt(struct own_fd *o, int fd)
{
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, SHIM_FD_FLOOR);
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
    return fd >= 0 && (fd == conn.fd || fd == spool.fd);
}

static char *cat(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

int shim_conn_spool_path(char *out, size_t cap)
{
    if (!shim_cfg.spool_dir[0])
        return -1;
    char hex[TT_UUID_HEX_LEN + 1], shex[TT_UUID_HEX_LEN + 1];
    char *p = out, *end = out + cap - 1;
    p = cat(p, end, shim_cfg.spool_dir);
    p = cat(p, end, "/shim-");
    p = cat(p, end, shim_cfg.have_session ? wire_hex(shex, shim_cfg.session, TT_UUID_LEN) : "bare");
    p = cat(p, end, "-");
    p = cat(p, end, wire_hex(hex, shim_proc.uuid, TT_UUID_LEN));
    p = cat(p, end, ".spool");
    if (p >= end)
        return -1;
    *p = 0;
    return 0;
}

/* mkdir -p of the spool dir, 0700; signal-safe. */
static void make_spool_dir(void)
{
    char buf[PATH_MAX];
    strcpy(buf, shim_cfg.spool_dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            mkdir(buf, 0700);
            *p = c;
            if (!c)
                break;
        }
    }
}

static int spool_write(const uint8_t *d, size_t len)
{
    if (!still_ours(&spool)) {
        char path[PATH_MAX];
        if (shim_conn_spool_path(path, sizeof path) < 0)
            return -1;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT) {
            make_spool_dir();
            fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        }
        if (fd < 0 || adopt(&spool, fd) < 0)
            return -1;
    }
    return wire_frame_append(spool.fd, TT_FRAME_BATCH, d, (uint32_t)len);
}

static int connect_agent(void)
{
    if (still_ours(&conn))
        return 0;
    if (!shim_cfg.have_sock)
        return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, shim_cfg.sock, sizeof sa.sun_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        sys_close(fd);
        return -1;
    }
    return adopt(&conn, fd);
}

/* Sends one datagram, or spools it. Returns 0 if it is out of our hands, 1 if
 * the socket is full and the caller may keep it (only when !final), -1 if it
 * is lost. */
static int deliver(const uint8_t *d, size_t len, int final)
{
    if (!spooling) {
        if (connect_agent() == 0) {
            ssize_t r;
            do
                r = send(conn.fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            while (r < 0 && errno == EINTR);
            if (r >= 0)
                return 0;
            if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && !final)
                return 1;
        }
        spooling = 1; /* unreachable, gone, or full at the end: spool for good */
    }
    return spool_write(d, len) == 0 ? 0 : -1;
}

/* Hands the buffered events over. Lock held. */
static void flush_locked(int final)
{
    if (!batch.len)
        return;
    size_t len;
    uint64_t bseq = __atomic_load_n(&shim_proc.batch_seq, __ATOMIC_RELAXED);
    const uint8_t *d = shim_batch_finish(&batch, shim_proc.uuid, bseq, &len);
    int r = deliver(d, len, final);
    if (r == 1)
        return;
    __atomic_fetch_add(&shim_proc.batch_seq, 1, __ATOMIC_RELAXED);
    batch.len = 0;
}

static void stamp(Tunetrail__Event *ev)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ev->has_origin = 1;
    ev->origin.len = TT_UUID_LEN;
    ev->origin.data = shim_proc.uuid;
    ev->has_seq = 1;
    ev->seq = __atomic_fetch_add(&shim_proc.seq, 1, __ATOMIC_RELAXED);
    ev->has_time_ns = 1;
    ev->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int append_locked(Tunetrail__Event *ev, int final)
{
    stamp(ev);
    if (shim_batch_append(&batch, ev) < 0) {
        /* Full: the agent is not keeping up; the spool takes over. */
        flush_locked(1);
        if (shim_batch_append(&batch, ev) < 0)
            return -1; /* cannot happen: records are capped below the buffer size */
    }
    flush_locked(final);
    return 0;
}

int shim_conn_append_locked(Tunetrail__Event *ev, int final)
{
    return append_locked(ev, final);
}

int shim_emit(Tunetrail__Event *ev)
{
    int saved = errno, r;
    shim_busy++;
    pthread_mutex_lock(&lock);
    if (shim_proc.start_pending)
        shim_proc_send_start_locked();
    r = append_locked(ev, ev->kind_case == TUNETRAIL__EVENT__KIND_PROCESS_END);
    pthread_mutex_unlock(&lock);
    shim_busy--;
    errno = saved;
    return r;
}

void shim_conn_start(void)
{
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&lock);
    if (shim_proc.start_pending)
        shim_proc_send_start_locked();
    pthread_mutex_unlock(&lock);
    shim_busy--;
    errno = saved;
}

void shim_conn_flush(void)
{
    int saved = errno;
    shim_busy++;
    pthread_mutex_lock(&lock);
    flush_locked(1);
    pthread_mutex_unlock(&lock);
    shim_busy--;
    errno = saved;
}

void shim_emit_crash(Tunetrail__Event *ev)
{
    int saved = errno;
    shim_busy++;
    if (pthread_mutex_trylock(&lock) == 0) {
        if (shim_proc.start_pending)
            shim_proc_send_start_locked();
        append_locked(ev, 1);
        pthread_mutex_unlock(&lock);
    } else {
        /* Another thread (or the code we interrupted) holds the buffer: send
         * a datagram of our own, built on this (possibly small) stack. */
        uint8_t small[SHIM_BATCH_HDR_MAX + 512];
        stamp(ev);
        size_t sz = protobuf_c_message_get_packed_size(&ev->base);
        if (sz + 4 <= sizeof small - SHIM_BATCH_HDR_MAX) {
            uint8_t *p = small + SHIM_BATCH_HDR_MAX;
            p[0] = (4 << 3) | 2;
            p[1] = (uint8_t)(sz >= 0x80 ? (sz | 0x80) : sz);
            size_t pl = 2;
            if (sz >= 0x80)
                p[pl++] = (uint8_t)(sz >> 7);
            protobuf_c_message_pack(&ev->base, p + pl);
            size_t len;
            uint64_t bseq = __atomic_fetch_add(&shim_proc.batch_seq, 1, __ATOMIC_RELAXED);
            const uint8_t *d = shim_batch_frame(p, pl + sz, shim_proc.uuid, bseq, &len);
            deliver(d, len, 1);
        }
    }
    shim_busy--;
    errno = saved;
}

void shim_conn_reset_child(void)
{
    pthread_mutex_init(&lock, NULL);
    /* The inherited fds are the parent's connection and spool: drop our copies
     * (the parent keeps its own) without touching what they point to. */
    if (conn.fd >= 0)
        sys_close(conn.fd);
    if (spool.fd >= 0)
        sys_close(spool.fd);
    conn.fd = spool.fd = -1;
    spooling = 0;
    batch.len = 0;
}
