/* Temporary stubs so the tree links while the agent is written; deleted when
 * collector/agent.c and collector/flush.c land. */
#include <stdio.h>
#include "cli.h"
int cmd_run(int argc, char **argv) { fputs("tunetrail run: not built yet\n", stderr); return 1; }
int cmd_flush(int argc, char **argv) { fputs("tunetrail flush: not built yet\n", stderr); return 1; }
