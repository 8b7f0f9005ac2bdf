/* tt_resign.c - signs a payload file into a DSSE envelope with a tunetrail
 * key: the e2e tests play a record's author who edits their own record and
 * signs it again (verify must still catch the edit).
 * usage: tt_resign KEY PAYLOAD OUT */
#include <stdio.h>
#include <stdlib.h>

#include "dsse.h"
#include "keys.h"

int main(int argc, char **argv)
{
    char err[512];
    struct tt_key k;
    if (argc != 4) {
        fprintf(stderr, "usage: tt_resign KEY PAYLOAD OUT\n");
        return 2;
    }
    if (key_load_secret(argv[1], &k, err, sizeof err) != 0) {
        fprintf(stderr, "tt_resign: %s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    size_t cap = 1 << 20, n = 0, r;
    unsigned char *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    FILE *o = fopen(argv[3], "w");
    if (!o || dsse_write(o, DSSE_INTOTO_TYPE, buf, n, &k, err, sizeof err) != 0) {
        fprintf(stderr, "tt_resign: %s\n", o ? err : "cannot write");
        return 1;
    }
    fclose(o);
    free(buf);
    return 0;
}
