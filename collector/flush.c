/* flush.c - placeholder until tunetrail flush lands */
#include <stdio.h>
#include "cli.h"
int cmd_flush(int argc, char **argv) { fputs("tunetrail flush: not built yet\n", stderr); return 1; }
