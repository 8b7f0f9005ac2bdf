/* tt_seeded --lr X --epochs N --seed S --out FILE - a fake trainer whose
 * score depends on the configuration (lr) and, a little, on the seed:
 * prints "score: V" with V = 80 + 5 * (lr >= 1) + ((S * 7919) % 100) / 50,
 * and writes FILE (the flags, so each run's output differs). Exits 0, or
 * 2 on a usage error, 1 if FILE cannot be written. For record_roles.sh
 * (repeated seeds of one configuration, each with its own output file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    double lr = 0.1;
    long seed = 0, epochs = 1;
    const char *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--lr"))
            lr = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else {
            fprintf(stderr, "tt_seeded: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: tt_seeded --lr X --epochs N --seed S --out FILE\n");
        return 2;
    }
    FILE *f = fopen(out, "w");
    if (!f || fprintf(f, "lr=%g epochs=%ld seed=%ld\n", lr, epochs, seed) < 0 || fclose(f)) {
        perror(out);
        return 1;
    }
    printf("score: %.4f\n", 80 + 5 * (lr >= 1) + (double)((seed * 7919) % 100) / 50);
    return 0;
}
