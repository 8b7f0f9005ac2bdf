/* seqpacket_rtt.c - bench_shim.sh's floor: one datagram and its 8-byte
 * reply between two processes over a SOCK_SEQPACKET socketpair, both sides
 * sleeping in poll() between messages, as an exiting shim and the agent do.
 *
 *   seqpacket_rtt N ROUNDS LEN
 *
 * Prints the median over ROUNDS of the mean ns per round trip. The shim's
 * exit pays one such round trip (it waits for the agent's ack of its last
 * datagram); nothing on this machine can confirm a datagram faster.
 * Not built by CMake (it needs only libc); bench_shim.sh compiles it. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sleeps until fd is readable, then takes one datagram. */
static ssize_t wait_recv(int fd, void *buf, size_t cap)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, -1) != 1)
        return -1;
    return recv(fd, buf, cap, MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: seqpacket_rtt N ROUNDS LEN\n");
        return 2;
    }
    int n = atoi(argv[1]), rounds = atoi(argv[2]);
    size_t len = (size_t)atoi(argv[3]);
    if (n <= 0 || rounds <= 0 || len == 0 || len > 65536)
        return 2;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
        perror("seqpacket_rtt: socketpair");
        return 1;
    }
    static uint8_t buf[65536];
    pid_t pid = fork();
    if (pid < 0) {
        perror("seqpacket_rtt: fork");
        return 1;
    }
    if (pid == 0) { /* the agent's side: take, answer with a count */
        close(sv[0]);
        uint64_t taken = 0;
        while (wait_recv(sv[1], buf, sizeof buf) > 0) {
            taken++;
            if (send(sv[1], &taken, sizeof taken, MSG_NOSIGNAL) != (ssize_t)sizeof taken)
                break;
        }
        _exit(0);
    }
    close(sv[1]);
    memset(buf, 'x', len);
    double *ns = calloc((size_t)rounds, sizeof *ns);
    for (int r = -1; r < rounds; r++) { /* round -1 warms up */
        double t0 = now_ns();
        for (int k = 0; k < n; k++) {
            uint64_t ack;
            if (send(sv[0], buf, len, MSG_NOSIGNAL) != (ssize_t)len ||
                wait_recv(sv[0], &ack, sizeof ack) != (ssize_t)sizeof ack) {
                fprintf(stderr, "seqpacket_rtt: the peer did not answer\n");
                return 1;
            }
        }
        if (r >= 0)
            ns[r] = (now_ns() - t0) / n;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    qsort(ns, (size_t)rounds, sizeof *ns, cmp);
    printf("%.0f\n", ns[rounds / 2]);
    return 0;
}
