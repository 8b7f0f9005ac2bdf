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

static SHIM_HOT pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
/* The searched part of the table is compact and needs no initialisation
 * (fd1 = fd + 1, 0 = free): a search touches 2 pages, not one per entry.
 * Paths live apart and are only touched for tracked files. */
static struct {
    int fd1;
    dev_t dev;
    ino_t ino;
} table[SHIM_WFD_MAX];
static char paths[SHIM_WFD_MAX][PATH_MAX];
static SHIM_HOT int ntracked; /* read without the lock on every close() */

struct access_args {
    const char *path;
    int mode;
    const struct stat *st;
    int closed;
};

static void access_body(struct pb_w *w, const void *arg)
{
    const struct access_args *a = arg;
    pb_bytes(w, PB_F_FILE_ACCESS_PROCESS, shim_proc.uuid, TT_UUID_LEN);
    pb_str(w, PB_F_FILE_ACCESS_PATH, a->path);
    pb_enum(w, PB_F_FILE_ACCESS_MODE, a->mode);
    shim_pb_file_stat(w, PB_F_FILE_ACCESS_STAT, a->st);
    if (a->closed)
        pb_bool(w, PB_F_FILE_ACCESS_CLOSED, 1);
}

static void emit(const char *path, int mode, const struct stat *st, int closed)
{
    struct access_args a = {path, mode, st, closed};
    struct shim_event ev = {PB_F_EVENT_FILE_ACCESS, access_body, &a};
    shim_emit(&ev);
}

static void track(int fd, const char *path, const struct stat *st)
{
    pthread_mutex_lock(&tlock);
    int slot = -1;
    for (int i = 0; i < SHIM_WFD_MAX; i++) {
        /* A stale entry for the same fd (closed behind our back by dup2 or
         * close_range) is simply replaced. */
        if (table[i].fd1 == fd + 1) {
            slot = i;
            break;
        }
        if (slot < 0 && !table[i].fd1)
            slot = i;
    }
    if (slot >= 0) {
        if (!table[slot].fd1)
            __atomic_fetch_add(&ntracked, 1, __ATOMIC_RELAXED);
        table[slot].fd1 = fd + 1;
        table[slot].dev = st->st_dev;
        table[slot].ino = st->st_ino;
        strcpy(paths[slot], path);
    } else {
        shim_debug("written-file table full; no close record for %s", path);
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
    if (path[0] == '/' && (shim_path_skip(path) || shim_path_ours(path)))
        return;
    int saved = errno;
    shim_busy++;
    struct stat st;
    char abs[PATH_MAX];
    if (shim_proc_foreign() || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        shim_path_absolute(dirfd, path, abs, sizeof abs) < 0 || shim_path_skip(abs) || shim_path_ours(abs))
        goto out;
    int acc = flags & O_ACCMODE;
    /* Read-write on a file just truncated (fopen "w+") reads nothing that
     * was there before: it is an output, not an input. */
    int mode = acc == O_RDONLY                      ? PB_MODE_READ
               : acc == O_WRONLY || (flags & O_TRUNC) ? PB_MODE_WRITE
                                                      : PB_MODE_READWRITE;
    if (acc != O_RDONLY)
        track(fd, abs, &st);
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
        if (table[i].fd1 == fd + 1) {
            w->fd = fd;
            w->dev = table[i].dev;
            w->ino = table[i].ino;
            strcpy(w->path, paths[i]);
            table[i].fd1 = 0;
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
        emit(w->path, PB_MODE_WRITE, &st, 1);
    shim_busy--;
    errno = saved;
}

void shim_file_reset_child(void)
{
    pthread_mutex_init(&tlock, NULL);
    /* ntracked counts the used slots exactly: with none, there is nothing
     * to clear (and no page to copy in the child). */
    if (ntracked)
        memset(table, 0, sizeof table);
    ntracked = 0;
}
