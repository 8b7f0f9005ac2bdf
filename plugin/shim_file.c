/* shim_file.c - FileAccess records and the table of written fds; see shim.h.
 *
 * RATIONALE: a read is reported once, at open, with the stat then. A write is
 * reported at open (so a process killed mid-write still names its output)
 * and again at close with the final stat, which is what the agent hashes.
 * The close event needs the path, so written fds are remembered in a bounded
 * table; a full table only costs the close event (the agent still hashes the
 * file at process end). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_wfd table[SHIM_WFD_MAX];
static int ntracked; /* read without the lock on the close fast path */

static void fill_stat(Tunetrail__FileStat *fs, const struct stat *st)
{
    fs->has_dev = fs->has_ino = fs->has_size = fs->has_mtime_ns = 1;
    fs->dev = st->st_dev;
    fs->ino = st->st_ino;
    fs->size = (uint64_t)st->st_size;
    fs->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void emit(const char *path, int mode, const struct stat *st, int closed)
{
    Tunetrail__FileAccess fa = TUNETRAIL__FILE_ACCESS__INIT;
    Tunetrail__FileStat fs = TUNETRAIL__FILE_STAT__INIT;
    Tunetrail__Event ev = TUNETRAIL__EVENT__INIT;
    fa.has_process = 1;
    fa.process.len = TT_UUID_LEN;
    fa.process.data = shim_proc.uuid;
    fa.path = (char *)path;
    fa.has_mode = 1;
    fa.mode = mode;
    fill_stat(&fs, st);
    fa.stat = &fs;
    if (closed) {
        fa.has_closed = 1;
        fa.closed = 1;
    }
    ev.kind_case = TUNETRAIL__EVENT__KIND_FILE_ACCESS;
    ev.file_access = &fa;
    shim_emit(&ev);
}

static void track(int fd, const char *path, const struct stat *st)
{
    pthread_mutex_lock(&tlock);
    struct shim_wfd *free_slot = NULL;
    for (int i = 0; i < SHIM_WFD_MAX; i++) {
        /* A stale entry for the same fd (closed behind our back by dup2 or
         * close_range) is simply replaced. */
        if (table[i].fd == fd || (!free_slot && table[i].fd < 0)) {
            free_slot = &table[i];
            if (table[i].fd == fd)
                break;
        }
    }
    if (free_slot) {
        if (free_slot->fd < 0)
            __atomic_fetch_add(&ntracked, 1, __ATOMIC_RELAXED);
        free_slot->fd = fd;
        free_slot->dev = st->st_dev;
        free_slot->ino = st->st_ino;
        strcpy(free_slot->path, path);
    } else {
        shim_debug("written-file table full; no close record for %s", path);
    }
    pthread_mutex_unlock(&tlock);
}

static void table_init_once(void)
{
    /* fd 0 is a valid fd, so free slots are -1; static storage starts at 0. */
    static int done;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&tlock);
    if (!done) {
        for (int i = 0; i < SHIM_WFD_MAX; i++)
            table[i].fd = -1;
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&tlock);
}

int shim_file_fopen_flags(const char *mode)
{
    int plus = strchr(mode, '+') != NULL;
    switch (mode[0]) {
    case 'r':
        return plus ? O_RDWR : O_RDONLY;
    case 'w':
        return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a':
        return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default:
        return O_RDONLY;
    }
}

void shim_file_opened(int dirfd, const char *path, int fd, int flags)
{
    if (fd < 0 || !path || !shim_cfg.enabled || shim_busy)
        return;
    if ((flags & (O_DIRECTORY | O_PATH)) || (flags & O_TMPFILE) == O_TMPFILE)
        return;
    /* Cheap rejections before any system call. */
    if (path[0] == '/' && shim_path_skip(path))
        return;
    int saved = errno;
    shim_busy++;
    struct stat st;
    char abs[PATH_MAX];
    if (shim_proc_foreign() || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        shim_path_absolute(dirfd, path, abs, sizeof abs) < 0 || shim_path_skip(abs))
        goto out;
    int acc = flags & O_ACCMODE;
    int mode = acc == O_RDONLY ? TUNETRAIL__FILE_ACCESS__MODE__MODE_READ
               : acc == O_WRONLY ? TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE
                                 : TUNETRAIL__FILE_ACCESS__MODE__MODE_READWRITE;
    if (acc != O_RDONLY) {
        table_init_once();
        track(fd, abs, &st);
    }
    emit(abs, mode, &st, 0);
out:
    shim_busy--;
    errno = saved;
}

int shim_file_closing(int fd, struct shim_wfd *w)
{
    w->fd = -1;
    if (fd < 0 || !__atomic_load_n(&ntracked, __ATOMIC_RELAXED) || shim_busy)
        return 0;
    pthread_mutex_lock(&tlock);
    for (int i = 0; i < SHIM_WFD_MAX; i++) {
        if (table[i].fd == fd) {
            *w = table[i];
            table[i].fd = -1;
            __atomic_fetch_sub(&ntracked, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    pthread_mutex_unlock(&tlock);
    return w->fd >= 0;
}

void shim_file_closed(const struct shim_wfd *w)
{
    int saved = errno;
    shim_busy++;
    struct stat st;
    /* The inode check catches a path that now names another file (renamed
     * over, or our entry went stale because the fd was replaced by dup2). */
    if (w->fd >= 0 && !shim_proc_foreign() && stat(w->path, &st) == 0 && st.st_dev == w->dev &&
        st.st_ino == w->ino)
        emit(w->path, TUNETRAIL__FILE_ACCESS__MODE__MODE_WRITE, &st, 1);
    shim_busy--;
    errno = saved;
}

void shim_file_reset_child(void)
{
    pthread_mutex_init(&tlock, NULL);
    for (int i = 0; i < SHIM_WFD_MAX; i++)
        table[i].fd = -1;
    ntracked = 0;
}
