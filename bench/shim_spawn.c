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
 * rounds of the mean ns per process, and the same medians of CPU time per
 * process: the child's own (wait4's rusage) and this harness's parent's
 * (under `tunetrail run`, the agent: all its threads' schedstat):
 * "NAME NS CHILD_CPU_NS PARENT_CPU_NS". CPU time holds still on a loaded
 * machine where wall time does not.
 *
 * RATIONALE: a bash loop costs a fork of bash per process, which drowns the
 * 0.1 ms we measure. Children are started with vfork + the raw execve system
 * call, so a shim preloaded into this harness (under `tunetrail run`) cannot
 * rewrite their environment: every variant gets exactly its ENVSPEC.
 * Not built by CMake (it needs only libc); bench_shim.sh compiles it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    double *child_cpu, *parent_cpu; /* ns per process, per round */
};

static double child_cpu_ns; /* summed over the children reaped */

static double tv_ns(struct timeval tv)
{
    return tv.tv_sec * 1e9 + tv.tv_usec * 1e3;
}

/* CPU time of our parent in ns, all its threads (schedstat counts ns,
 * /proc/PID/stat 10 ms ticks), or 0 if unreadable. */
static double parent_cpu_ns(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)getppid());
    DIR *d = opendir(path);
    if (!d)
        return 0;
    double ns = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char f[384];
        unsigned long long run;
        snprintf(f, sizeof f, "%s/%s/schedstat", path, de->d_name);
        FILE *fp = fopen(f, "r");
        if (fp && fscanf(fp, "%llu", &run) == 1)
            ns += (double)run;
        if (fp)
            fclose(fp);
    }
    closedir(d);
    return ns;
}

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
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    child_cpu_ns += tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
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
        v[i].child_cpu = calloc((size_t)rounds, sizeof *v[i].ns);
        v[i].parent_cpu = calloc((size_t)rounds, sizeof *v[i].ns);
        for (int k = 0; k < 20; k++) /* warm the page cache */
            if (run_one(prog, v[i].env) < 0) {
                fprintf(stderr, "shim_spawn: %s failed in variant %s\n", prog[0], v[i].name);
                return 1;
            }
    }
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < nv; i++) {
            double c0 = child_cpu_ns, p0 = parent_cpu_ns(), t0 = now_ns();
            for (int k = 0; k < n; k++)
                if (run_one(prog, v[i].env) < 0)
                    return 1;
            v[i].ns[r] = (now_ns() - t0) / n;
            v[i].child_cpu[r] = (child_cpu_ns - c0) / n;
            v[i].parent_cpu[r] = (parent_cpu_ns() - p0) / n;
        }
    }
    for (int i = 0; i < nv; i++) {
        qsort(v[i].ns, (size_t)rounds, sizeof *v[i].ns, cmp);
        qsort(v[i].child_cpu, (size_t)rounds, sizeof *v[i].ns, cmp);
        qsort(v[i].parent_cpu, (size_t)rounds, sizeof *v[i].ns, cmp);
        printf("%s %.0f %.0f %.0f\n", v[i].name, v[i].ns[rounds / 2], v[i].child_cpu[rounds / 2],
               v[i].parent_cpu[rounds / 2]);
    }
    return 0;
}
