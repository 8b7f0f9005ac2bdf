/* tt_threads8 DIR - 8 pthreads at once; thread i writes DIR/out-<i> with the
 * text "thread <i>\n" (open, write, close) and reads DIR/input (the test
 * creates it). Joins all; exits 0 only if every thread succeeded. Checks that
 * the shim records file events from concurrent threads, none lost or mixed. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define NTHREADS 8

static const char *dir;

static void *work(void *arg)
{
    int i = (int)(long)arg;
    char path[4096], text[32], buf[256];
    snprintf(path, sizeof path, "%s/out-%d", dir, i);
    int n = snprintf(text, sizeof text, "thread %d\n", i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) != 0)
        return (void *)1;
    snprintf(path, sizeof path, "%s/input", dir);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return (void *)1;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tt_threads8 DIR\n");
        return 2;
    }
    dir = argv[1];
    pthread_t t[NTHREADS];
    int bad = 0;
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, work, (void *)i) != 0)
            return 1;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    if (bad)
        fprintf(stderr, "tt_threads8: a thread failed\n");
    return bad;
}
