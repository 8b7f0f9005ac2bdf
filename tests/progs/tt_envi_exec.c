/* tt_envi_exec PROG [ARG]... - forks a child that runs `env -i PROG ARG...`
 * (execvp), so PROG runs with an empty environment: the shim's exec wrappers
 * must put LD_PRELOAD and TUNETRAIL_* back for PROG to be recorded. Waits and
 * exits with the child's status (128+signal if it died by a signal). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tt_envi_exec PROG [ARG]...\n");
        return 2;
    }
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return 1;
    args[0] = "env";
    args[1] = "-i";
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp("env", args);
        perror("execvp env");
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    free(args);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
