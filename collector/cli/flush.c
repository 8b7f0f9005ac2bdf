/* flush.c - `tunetrail flush`: options, then agent_flush (agent/agent.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "cli.h"
#include "labini.h"
#include "tt_env.h"

static void flush_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail flush [--collector ENDPOINT [--collector-key FILE [--curve-key FILE]]]\n"
               "                       [--store PATH]\n\n"
               "Ships records kept in $TUNETRAIL_HOME/spool: those of `tunetrail run` sessions that\n"
               "could not reach their collector, and those of bare LD_PRELOAD runs.\n"
               "Destination: --collector, else $TUNETRAIL_COLLECTOR, else the [collector]\n"
               "endpoint of tunetrail.ini (in this directory or its git repository's top)\n"
               "unless --store is given, else the local store (--store, else\n"
               "$TUNETRAIL_STORE, else $TUNETRAIL_HOME/trail.db).\n"
               "--collector-key FILE (default $TUNETRAIL_COLLECTOR_KEY, else tunetrail.ini's\n"
               "[collector] key for its endpoint): the collector's public\n"
               "key; a spooled batch is deleted only once an ack names its digest with this\n"
               "key's signature (as for `tunetrail run`). Without it, acks are taken on the\n"
               "collector's word and flush says delivery was not verified. A CURVE key in it\n"
               "(the collector's curve.pub) makes the connection CURVE with this client's key\n"
               "--curve-key FILE (default: tunetrail.ini's [collector] curve_key, else\n"
               "$TUNETRAIL_HOME/keys/curve.key), as for `tunetrail run`.\n"
               "Spools of processes still running (their spool file is locked) are left for a\n"
               "later flush.\n"
               "A damaged spool file is read around its damage (each damaged frame is skipped,\n"
               "named on stderr by file and byte offset); the file is then moved to\n"
               "$TUNETRAIL_HOME/spool/damaged/ instead of being deleted.\n"
               "Exit status: 0 everything delivered; 1 some records remain spooled (run flush\n"
               "again); 3 everything readable was delivered but damaged frames were skipped.\n");
}

int cmd_flush(int argc, char **argv)
{
    static const struct option opts[] = {{"collector", required_argument, NULL, 'c'},
        {"collector-key", required_argument, NULL, 'K'},
        {"curve-key", required_argument, NULL, 'C'},
                                         {"store", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct agent_flush_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.collector = optarg; break;
        case 'K': o.collector_key = optarg; break;
        case 'C': o.curve_key = optarg; break;
        case 'S': o.store = optarg; break;
        case 'h': flush_usage(stdout); return 0;
        default: flush_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetrail flush: unexpected argument '%s'\n", argv[optind]);
        flush_usage(stderr);
        return 2;
    }
    if (!o.collector && getenv(TT_ENV_COLLECTOR) && *getenv(TT_ENV_COLLECTOR))
        o.collector = getenv(TT_ENV_COLLECTOR);
    if (!o.collector_key && getenv(TT_ENV_COLLECTOR_KEY) && *getenv(TT_ENV_COLLECTOR_KEY))
        o.collector_key = getenv(TT_ENV_COLLECTOR_KEY);
    struct labini ini;
    char err[1024];
    if (labini_load(&ini, err, sizeof err) < 0 ||
        labini_collector(&ini, o.store != NULL, &o.collector, &o.collector_key, &o.curve_key, err,
                         sizeof err) < 0) {
        fprintf(stderr, "tunetrail flush: %s\n", err);
        labini_free(&ini);
        return 2;
    }
    int rc = cli_check_collector_key("tunetrail flush", o.collector, o.collector_key) < 0 ? 2 : agent_flush(&o);
    labini_free(&ini); /* after the flush: o points into it */
    return rc;
}
