/* bench.h - what every benchmark needs: one clock. */
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

#endif
