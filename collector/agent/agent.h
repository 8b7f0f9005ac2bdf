/* agent.h - the agent: `tunetrail run` (a command under the shim, its
 * records shipped to a collector or the embedded store) and `tunetrail
 * flush` (spooled records shipped later). Exit-status convention: cli.h. */
#ifndef TT_AGENT_H
#define TT_AGENT_H

int cmd_run(int argc, char **argv);   /* agent/agent.c */
int cmd_flush(int argc, char **argv); /* agent/flush.c */

#endif
