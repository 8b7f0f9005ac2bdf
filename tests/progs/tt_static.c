/* tt_static.c - a statically linked program (tests/CMakeLists.txt links it
 * -static): the loader never runs, so LD_PRELOAD cannot reach it and
 * `tunetrail run` records it from outside, with a warning note (audit.sh). */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("static %s\n", argc > 1 ? argv[1] : "");
    return 0;
}
