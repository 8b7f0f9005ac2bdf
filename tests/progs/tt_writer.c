/* tt_writer DIR N [MS] - a long run for the collector-kill test: N
 * iterations, each writes DIR/w-<i> (text "<i>\n") and sleeps MS
 * milliseconds (default 5), so file events keep flowing while the test
 * kills and restarts the collector. Exits 0. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tt_writer DIR N [MS]\n");
        return 2;
    }
    int n = atoi(argv[2]);
    long ms = argc > 3 ? atol(argv[3]) : 5;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    for (int i = 0; i < n; i++) {
        char path[4096], text[32];
        snprintf(path, sizeof path, "%s/w-%d", argv[1], i);
        int len = snprintf(text, sizeof text, "%d\n", i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) != 0) {
            perror(path);
            return 1;
        }
        nanosleep(&ts, NULL);
    }
    return 0;
}
