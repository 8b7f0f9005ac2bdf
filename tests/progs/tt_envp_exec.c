/* tt_envp_exec DIR PROG [ARG]... - forks a child that runs PROG (execve)
 * with this environment plus another TUNETRAIL_SOCK, TUNETRAIL_HOME (DIR)
 * and TUNETRAIL_SESSION, as a program trying to leave the run would: the
 * shim must put the run's own values back. Waits and exits with the child's
 * status (128+signal if it died by a signal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tt_envp_exec DIR PROG [ARG]...\n");
        return 2;
    }
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    char *home = malloc(strlen(argv[1]) + 32);
    if (!env || !home)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "TUNETRAIL_", 10))
            env[k++] = environ[i];
    sprintf(home, "TUNETRAIL_HOME=%s", argv[1]);
    env[k++] = home;
    env[k++] = "TUNETRAIL_SOCK=/nonexistent/elsewhere.sock";
    env[k++] = "TUNETRAIL_SESSION=00000000000000000000000000000000";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execve(argv[2], argv + 2, env);
        perror("execve");
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    free(env);
    free(home);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
