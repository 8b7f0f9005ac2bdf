/* tt_cfgread [--config FILE]... [--lr X] [FILE]... - a trainer that reads its
 * config files: reads every FILE named (after --config or as a positional)
 * to the end with stdio, prints "read NAME BYTES" for each, and exits 0
 * (1 if a file cannot be read). For the config_files e2e test. */
#include <stdio.h>
#include <string.h>

static int slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char buf[4096];
    size_t got, total = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        total += got;
    fclose(f);
    printf("read %s %zu\n", path, total);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            rc |= slurp(argv[++i]);
        else if (argv[i][0] == '-' && i + 1 < argc)
            i++; /* --lr X and friends: params from argv only */
        else
            rc |= slurp(argv[i]);
    }
    return rc;
}
