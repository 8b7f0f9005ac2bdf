/* gitinfo.c - see gitinfo.h. Runs git through posix_spawn with stdout on a
 * pipe; a walk up for .git first avoids spawning git for every non-repo dir. */
#include "gitinfo.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GIT_TIMEOUT_MS 2000

extern char **environ;

struct gi_entry {
    char *dir;
    int in_repo;
    char commit[41];
    int dirty;
    struct gi_entry *next;
};

struct tt_gitinfo {
    struct gi_entry *head;
};

tt_gitinfo *gitinfo_new(void) { return calloc(1, sizeof(tt_gitinfo)); }

void gitinfo_free(tt_gitinfo *g)
{
    if (!g)
        return;
    for (struct gi_entry *e = g->head, *n; e; e = n) {
        n = e->next;
        free(e->dir);
        free(e);
    }
    free(g);
}

static int has_dotgit(const char *dir)
{
    char *top = paths_git_toplevel(dir);
    int found = top != NULL;
    free(top);
    return found;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Runs git with args in dir, capturing up to outlen-1 bytes of stdout.
 * Returns the byte count, or -1 on failure/non-zero exit/timeout. */
static ssize_t run_git(const char *dir, char *const args[], char *out, size_t outlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[12] = {"git", "-C", (char *)dir};
    int k = 3;
    for (int i = 0; args[i] && k < 11; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    size_t got = 0;
    long deadline = now_ms() + GIT_TIMEOUT_MS;
    int timed_out = 0;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            timed_out = 1;
            break;
        }
        char tmp[4096];
        ssize_t r = read(p[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t c = (size_t)r;
        if (c > outlen - 1 - got)
            c = outlen - 1 - got;
        memcpy(out + got, tmp, c);
        got += c;
    }
    close(p[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    out[got] = 0;
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (ssize_t)got;
}

int gitinfo_for_dir(tt_gitinfo *g, const char *dir, const char **commit, int *dirty)
{
    if (!dir || !*dir)
        return 0;
    struct gi_entry *e;
    for (e = g->head; e; e = e->next)
        if (!strcmp(e->dir, dir))
            goto found;
    e = calloc(1, sizeof *e);
    if (!e || !(e->dir = strdup(dir))) {
        free(e);
        return 0;
    }
    e->next = g->head;
    g->head = e;
    if (has_dotgit(dir)) {
        char out[8192];
        char *head_args[] = {"rev-parse", "--verify", "-q", "HEAD", NULL};
        if (run_git(dir, head_args, out, sizeof out) >= 40) {
            memcpy(e->commit, out, 40);
            e->commit[40] = 0;
            char *st_args[] = {"status", "--porcelain", "--untracked-files=no", NULL};
            ssize_t n = run_git(dir, st_args, out, sizeof out);
            e->in_repo = 1;
            e->dirty = n > 0;
        }
    }
found:
    if (!e->in_repo)
        return 0;
    *commit = e->commit;
    *dirty = e->dirty;
    return 1;
}
