/* tt_exit3 [FILE] - reads FILE (if given) to the end, then exit(3).
 * The e2e tests use it for a failed trial with a known exit code and a
 * known input file. Exits 1 if FILE cannot be read, so a broken path in a
 * test shows up as the wrong exit code instead of passing silently. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        char buf[4096];
        while (fread(buf, 1, sizeof buf, f) > 0)
            ;
        fclose(f);
    }
    exit(3);
}
