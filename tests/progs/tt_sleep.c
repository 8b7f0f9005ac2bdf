/* tt_sleep PIDFILE [SECONDS] - writes its pid to PIDFILE (atomically: a temp
 * file renamed into place, so a reader never sees a partial pid), then sleeps
 * SECONDS (default 600). The e2e test SIGKILLs it to get a "killed" process. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tt_sleep PIDFILE [SECONDS]\n");
        return 2;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return 1;
    }
    fprintf(f, "%d\n", (int)getpid());
    if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
        perror(argv[1]);
        return 1;
    }
    unsigned left = argc > 2 ? (unsigned)atoi(argv[2]) : 600;
    while (left > 0)
        left = sleep(left);
    return 0;
}
