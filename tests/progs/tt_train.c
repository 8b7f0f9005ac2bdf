/* tt_train [--lr X] [--epochs N] [--seed S] DATA MODEL - a fake trainer:
 * parses the flags, reads DATA, prints one "epoch E loss L" line per epoch,
 * writes MODEL (a text file derived from the flags and the data size, so
 * different configurations give different model hashes). Exits 0, or 2 on a
 * usage error, 1 if DATA cannot be read or MODEL written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    double lr = 0.1;
    int epochs = 1;
    long seed = 0;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lr") && i + 1 < argc)
            lr = atof(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = atol(argv[++i]);
        else if (argv[i][0] == '-' || npos == 2)
            goto usage;
        else
            pos[npos++] = argv[i];
    }
    if (npos != 2)
        goto usage;

    FILE *in = fopen(pos[0], "r");
    if (!in) {
        perror(pos[0]);
        return 1;
    }
    long size = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        size += (long)got;
    fclose(in);

    double loss = 1.0;
    for (int e = 1; e <= epochs; e++) {
        loss *= 1.0 - lr / (1.0 + lr);
        printf("epoch %d loss %.6f\n", e, loss);
    }
    FILE *out = fopen(pos[1], "w");
    if (!out) {
        perror(pos[1]);
        return 1;
    }
    fprintf(out, "tt_train model lr=%g epochs=%d seed=%ld data_bytes=%ld loss=%.6f\n", lr, epochs,
            seed, size, loss);
    if (fclose(out) != 0) {
        perror(pos[1]);
        return 1;
    }
    return 0;

usage:
    fprintf(stderr, "usage: tt_train [--lr X] [--epochs N] [--seed S] DATA MODEL\n");
    return 2;
}
