/* query.c - placeholder while being written. */
#include <stdio.h>
#include "cli.h"
int cmd_studies(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
int cmd_trials(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
int cmd_show(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
