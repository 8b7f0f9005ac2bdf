/* tt_fdexec fexecve|execveat PROG [ARG]... - replaces itself with PROG
 * through fexecve (PROG opened first) or execveat (PROG's directory opened,
 * PROG's name relative to it), with an empty environment: the shim's
 * wrappers of these two exec calls must put LD_PRELOAD and TUNETRAIL_* back
 * for PROG to be recorded. Exits 127 if the exec fails. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tt_fdexec fexecve|execveat PROG [ARG]...\n");
        return 2;
    }
    char *const envp[] = {NULL};
    fflush(NULL);
    if (!strcmp(argv[1], "fexecve")) {
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(argv[2]);
            return 127;
        }
        fexecve(fd, argv + 2, envp);
    } else {
        char dir[4096], base[4096];
        snprintf(dir, sizeof dir, "%s", argv[2]);
        snprintf(base, sizeof base, "%s", argv[2]);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        if (dfd < 0) {
            perror(dir);
            return 127;
        }
        execveat(dfd, basename(base), argv + 2, envp, 0);
    }
    perror(argv[1]);
    return 127;
}
