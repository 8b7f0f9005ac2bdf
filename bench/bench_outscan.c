/* bench_outscan.c - the program bench_outscan.sh runs: N printf calls of a
 * short "step I loss X" line to stdout, timed inside the process (start-up
 * excluded); prints "ns_per_call <ns>" to stderr. With a second argument
 * "darknet" the lines are darknet's training lines instead. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int darknet = argc > 2 && argv[2][0] == 'd'; /* lines of darknet's trainer */
    for (long i = 0; i < n; i++)
        if (darknet)
            printf("%ld: %f, %f avg, %f rate, %lf seconds, %ld images\n", i, 1.0 / (double)(i + 1),
                   2.0 / (double)(i + 1), 0.001, 0.1, 64 * i);
        else
            printf("step %ld loss %.4f\n", i, 1.0 / (double)(i + 1));
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
    fprintf(stderr, "ns_per_call %.1f\n", ns);
    return 0;
}
