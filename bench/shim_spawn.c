/* shim_spawn.c - bench_shim.sh's harness: the wall time of starting and
 * reaping one short process, for several environments, in one run.
 *
 *   shim_spawn N ROUNDS PROG [ARG]... -- NAME ENVSPEC [NAME ENVSPEC]...
 *
 * ENVSPEC is "inherit" (this process's environment as it is: under
 * `tunetrail run`, the shim talking to the live agent), "inherit,NAME,..."
 * (the same without the variables named), or a ','-separated list of
 * NAME=value that replaces LD_PRELOAD, PYTHONPATH and every TUNETRAIL_* of
 * this process's environment ("-" for none). Each round runs every variant N times,
 * in turn, so load drifts hit all alike; prints per variant the median over
 * rounds of the mean ns per process: "NAME NS".
 *
 * RATIONALE: a bash loop costs a fork of bash per process, which drowns the
 * 0.1 ms we measure. Children are started with vfork + the raw execve system
 * call, so a shim preloaded into this harness (under `tunetrail run`) cannot
 * rewrite their environment: every variant gets exactly its ENVSPEC.
 * Not built by CMake (it needs only libc); bench_shim.sh compiles it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_VARIANTS 8
#define MAX_ENV 4096

struct variant {
    const char *name;
    char **env;
    double *ns; /* per round */
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int dropped(const char *e)
{
    return strncmp(e, "LD_PRELOAD=", 11) == 0 || strncmp(e, "TUNETRAIL_", 10) == 0 ||
           strncmp(e, "PYTHONPATH=", 11) == 0;
}

/* 1 if e is NAME=... for a NAME in the ','-separated list. */
static int named(const char *e, const char *list)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n && strncmp(e, p, n) == 0 && e[n] == '=')
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* environ minus LD_PRELOAD/TUNETRAIL_*, plus spec's entries; NULL on error. */
static char **make_env(const char *spec)
{
    if (strcmp(spec, "inherit") == 0)
        return environ;
    char **env = calloc(MAX_ENV, sizeof *env);
    size_t n = 0;
    if (strncmp(spec, "inherit,", 8) == 0) {
        for (char **e = environ; *e && n < MAX_ENV - 1; e++)
            if (!named(*e, spec + 8))
                env[n++] = *e;
        env[n] = NULL;
        return env;
    }
    for (char **e = environ; *e && n < MAX_ENV - 64; e++)
        if (!dropped(*e))
            env[n++] = *e;
    if (strcmp(spec, "-") != 0) {
        char *s = strdup(spec);
        for (char *tok = strtok(s, ","); tok && n < MAX_ENV - 1; tok = strtok(NULL, ","))
            env[n++] = tok;
    }
    env[n] = NULL;
    return env;
}

static int run_one(char **argv, char **env)
{
    pid_t pid = vfork();
    if (pid == 0) {
        syscall(SYS_execve, argv[0], argv, env);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int sep = 4;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    if (argc < 4 || sep >= argc || (argc - sep - 1) % 2 || argc - sep - 1 < 2) {
        fprintf(stderr, "usage: shim_spawn N ROUNDS PROG [ARG]... -- NAME ENVSPEC [NAME ENVSPEC]...\n");
        return 2;
    }
    int n = atoi(argv[1]), rounds = atoi(argv[2]);
    char **prog = argv + 3;
    argv[sep] = NULL; /* prog's argv ends here */
    int nv = (argc - sep - 1) / 2;
    if (n <= 0 || rounds <= 0 || nv > MAX_VARIANTS)
        return 2;
    struct variant v[MAX_VARIANTS];
    for (int i = 0; i < nv; i++) {
        v[i].name = argv[sep + 1 + 2 * i];
        v[i].env = make_env(argv[sep + 2 + 2 * i]);
        v[i].ns = calloc((size_t)rounds, sizeof *v[i].ns);
        for (int k = 0; k < 20; k++) /* warm the page cache */
            if (run_one(prog, v[i].env) < 0) {
                fprintf(stderr, "shim_spawn: %s failed in variant %s\n", prog[0], v[i].name);
                return 1;
            }
    }
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < nv; i++) {
            double t0 = now_ns();
            for (int k = 0; k < n; k++)
                if (run_one(prog, v[i].env) < 0)
                    return 1;
            v[i].ns[r] = (now_ns() - t0) / n;
        }
    }
    for (int i = 0; i < nv; i++) {
        qsort(v[i].ns, (size_t)rounds, sizeof *v[i].ns, cmp);
        printf("%s %.0f\n", v[i].name, v[i].ns[rounds / 2]);
    }
    return 0;
}
