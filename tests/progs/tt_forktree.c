/* tt_forktree DIR - a small process tree: the root forks 2 children, each
 * child forks 1 grandchild. Every process (root too) reads its own file
 * DIR/<role> (roles: root, c0, c1, g0, g1; the test creates them), so the
 * test can tell which recorded process is which. Every parent waits for its
 * children. Exits 0 only if every process read its file and exited 0. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;

static int read_own(const char *role)
{
    char path[4096], buf[256];
    snprintf(path, sizeof path, "%s/%s", dir, role);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return 0;
}

/* Waits for one child; returns 0 if it exited 0. */
static int reap(pid_t pid)
{
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int child(int i)
{
    char role[8];
    snprintf(role, sizeof role, "c%d", i);
    int bad = read_own(role) != 0;
    pid_t g = fork();
    if (g == 0) {
        snprintf(role, sizeof role, "g%d", i);
        _exit(read_own(role) == 0 ? 0 : 1);
    }
    bad |= reap(g) != 0;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tt_forktree DIR\n");
        return 2;
    }
    dir = argv[1];
    int bad = read_own("root") != 0;
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        fflush(NULL);
        kids[i] = fork();
        if (kids[i] == 0)
            exit(child(i));
    }
    for (int i = 0; i < 2; i++)
        bad |= reap(kids[i]) != 0;
    return bad;
}
