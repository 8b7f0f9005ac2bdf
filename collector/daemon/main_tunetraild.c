/* main_tunetraild.c - `tunetraild`: the standalone collector daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "collector.h"
#include "keys.h"
#include "paths.h"
#include "store.h"
#include "util.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) { stop_flag = sig; }

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tunetraild --bind ENDPOINT [--store PATH | --postgres CONNINFO] [--key FILE]\n"
            "\n"
            "Collects tunetrail records from agents (`tunetrail run --collector ENDPOINT`)\n"
            "and stores them. Each batch is acknowledged only after it is committed, so\n"
            "agents keep (and resend) anything not yet acknowledged; resends are stored once.\n"
            "\n"
            "  -b, --bind ENDPOINT     ZeroMQ endpoint to listen on, e.g. tcp://*:7600,\n"
            "                          tcp://127.0.0.1:7600 or ipc:///run/tunetrail.sock\n"
            "  -s, --store PATH        SQLite file (default: $TUNETRAIL_STORE, else\n"
            "                          $TUNETRAIL_HOME/trail.db); created if missing. It may be\n"
            "                          shared with local `tunetrail run` instances.\n"
            "      --postgres CONNINFO PostgreSQL store (not supported yet)\n"
            "  -k, --key FILE          ed25519 key (tunetrail keygen) that signs the study-log\n"
            "                          checkpoints returned with acks (default:\n"
            "                          $TUNETRAIL_HOME/collector.key, created on first use)\n"
            "  -h, --help              this text\n"
            "\n"
            "Stops cleanly on SIGINT/SIGTERM and prints its counters. Malformed messages and\n"
            "failed handshakes are logged to stderr and counted as rejected.\n"
            "\n"
            "Example:\n"
            "  tunetraild --bind tcp://*:7600 --store /srv/tunetrail/trail.db\n"
            "  tunetrail run --collector tcp://collector-host:7600 -- ./train --lr 0.1\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'},     {"store", required_argument, NULL, 's'},
        {"postgres", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"key", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *bind = NULL, *store_flag = NULL, *pg = NULL, *key_flag = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "b:s:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 's': store_flag = optarg; break;
        case 'p': pg = optarg; break;
        case 'k': key_flag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetraild: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (pg) {
        fprintf(stderr, "tunetraild: --postgres is not supported yet; use --store PATH (SQLite)\n");
        return 2;
    }
    if (!bind) {
        fprintf(stderr, "tunetraild: --bind ENDPOINT is required\n\n");
        usage(stderr);
        return 2;
    }

    char err[TT_ERR_MAX];
    char *path = NULL;
    if (paths_store(store_flag, &path, err, sizeof err) < 0) {
        fprintf(stderr, "tunetraild: %s\n", err);
        return 1;
    }
    tt_store *st = store_open(path, STORE_CREATE, err, sizeof err);
    if (!st) {
        fprintf(stderr, "tunetraild: cannot open store %s: %s\n", path, err);
        free(path);
        return 1;
    }

    struct tt_key key;
    if (key_collector(key_flag, &key, err, sizeof err) == 0) {
        store_set_signer(st, &key);
        memset(&key, 0, sizeof key);
    } else if (key_flag) {
        fprintf(stderr, "tunetraild: cannot use --key %s: %s\n", key_flag, err);
        store_close(st);
        free(path);
        return 1;
    } else {
        fprintf(stderr, "tunetraild: log checkpoints not signed (no collector key): %s\n", err);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll must return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    void *zctx = zmq_ctx_new();
    struct collector_stats stats;
    fprintf(stderr, "tunetraild: listening on %s, store %s\n", bind, path);
    int rc = collector_serve(zctx, bind, st, &stop_flag, &stats, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "tunetraild: %s\n", err);
    fprintf(stderr, "tunetraild: stopped: batches=%llu events=%llu duplicates=%llu rejected=%llu\n",
            (unsigned long long)stats.batches, (unsigned long long)stats.events,
            (unsigned long long)stats.duplicates, (unsigned long long)stats.rejected);
    zmq_ctx_term(zctx);
    store_close(st);
    free(path);
    return rc < 0 ? 1 : 0;
}
