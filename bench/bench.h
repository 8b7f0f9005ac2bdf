/* bench.h - what every benchmark needs: a wall clock and a CPU clock. */
#ifndef TT_BENCH_H
#define TT_BENCH_H

#include <time.h>

/* Monotonic seconds. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (all its threads): what a run costs on a
 * shared machine, where wall time also counts the other users' load. */
static inline double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
