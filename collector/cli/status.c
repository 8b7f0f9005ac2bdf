/* status.c - `tunetrail status`: asks a running tunetraild for its state
 * (a Batch with status_request set, proto/tunetrail.proto) over the agent's
 * own connection (sink.h: DEALER, CURVE when the pinned key file holds a
 * CURVE key), and prints the Ack's collector_status. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "cli.h"
#include "jsonfmt.h"
#include "sink.h"
#include "tt_env.h"
#include "tunetrail.pb-c.h"
#include "util.h"

#define STATUS_TIMEOUT_S 5

static void status_usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail status --collector ENDPOINT [--json] [--collector-key FILE]\n"
            "                        [--curve-key FILE] [--timeout SECONDS]\n\n"
            "Asks a running tunetraild what it has done since it started: uptime, connected\n"
            "clients, batches and events ingested, what it refused (by reason), its store\n"
            "(kind, path, size on disk) and its lag. Nothing is stored.\n\n"
            "  --collector ENDPOINT   the collector (default $TUNETRAIL_COLLECTOR)\n"
            "  --collector-key FILE   its public key file, as for `tunetrail run` (default\n"
            "                         $TUNETRAIL_COLLECTOR_KEY). A lab collector with CURVE\n"
            "                         answers only a client in its clients file: pin its\n"
            "                         curve.pub here; this client's key is --curve-key\n"
            "  --curve-key FILE       this client's CURVE secret (default\n"
            "                         $TUNETRAIL_HOME/keys/curve.key)\n"
            "  --json                 one JSON object instead of the text\n"
            "  --timeout SECONDS      wait this long for the answer (default %d)\n"
            "  -h, --help             this text\n\n"
            "Refused, by reason (each a counter of tunetraild's summary):\n"
            "  auth_no_key, auth_unknown_key  handshakes without CURVE / with an unlisted key\n"
            "  revoked      connections dropped: their key left the clients file (SIGHUP)\n"
            "  forbidden    batches whose identity may not write their study (--access)\n"
            "  rejected     malformed messages and failed handshakes (oversized and\n"
            "               too_many_frames among them)\n"
            "  dropped_peer_bytes, dropped_buffered, dropped_idle  connections dropped at a\n"
            "               limit (--max-peer-bytes, --max-buffered, --max-connections)\n"
            "  refused, conflicts  events another origin's or stored with other bytes\n"
            "  store_errors batches the store could not commit (full, damaged, I/O)\n"
            "Lag: how long batches have been waiting uncommitted: since the daemon last\n"
            "caught up (found nothing queued) or since its store began to fail, whichever is\n"
            "longer; 0 when it keeps up. hwm_reached counts the times a client had\n"
            "--client-hwm batches waiting (it is then not read until the daemon catches up).\n\n"
            "Exit status: 0 answered; 1 the collector did not answer within the timeout (down,\n"
            "unreachable, or it refused this client's key); 2 usage error.\n",
            STATUS_TIMEOUT_S);
}

static void fmt_ns(int64_t ns, char *out, size_t outlen)
{
    if (ns <= 0) {
        snprintf(out, outlen, "never");
        return;
    }
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_ms(uint64_t ms, char *out, size_t outlen)
{
    uint64_t s = ms / 1000;
    if (s >= 86400)
        snprintf(out, outlen, "%llud %lluh %llum", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
    else if (s >= 3600)
        snprintf(out, outlen, "%lluh %llum %llus", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
    else
        snprintf(out, outlen, "%llu.%03llu s", (unsigned long long)s, (unsigned long long)(ms % 1000));
}

static int print_json(const char *ep, const Tunetrail__CollectorStatus *st)
{
    json_t *o = json_object(), *ref = json_object();
    json_object_set_new(o, "collector", jsonfmt_string(ep));
    json_object_set_new(o, "version", jsonfmt_string(st->version ? st->version : ""));
    json_object_set_new(o, "started_ns", json_integer(st->started_ns));
    json_object_set_new(o, "uptime_ms", json_integer((json_int_t)st->uptime_ms));
    json_object_set_new(o, "connections", json_integer(st->connections));
    json_object_set_new(o, "peak_connections", json_integer(st->peak_connections));
    json_object_set_new(o, "batches", json_integer((json_int_t)st->batches));
    json_object_set_new(o, "events", json_integer((json_int_t)st->events));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)st->duplicates));
    json_object_set_new(o, "retries", json_integer((json_int_t)st->retries));
    for (size_t i = 0; i < st->n_refused; i++)
        json_object_set_new(ref, st->refused[i]->name ? st->refused[i]->name : "?",
                            json_integer((json_int_t)st->refused[i]->n));
    json_object_set_new(o, "refused", ref);
    json_object_set_new(o, "store_kind", jsonfmt_string(st->store_kind ? st->store_kind : ""));
    json_object_set_new(o, "store_path", jsonfmt_string(st->store_path ? st->store_path : ""));
    json_object_set_new(o, "store_bytes", json_integer((json_int_t)st->store_bytes));
    json_object_set_new(o, "lag_ms", json_integer((json_int_t)st->lag_ms));
    json_object_set_new(o, "last_commit_ns", json_integer(st->last_commit_ns));
    json_object_set_new(o, "client_hwm", json_integer(st->client_hwm));
    json_object_set_new(o, "hwm_reached", json_integer((json_int_t)st->hwm_reached));
    json_object_set_new(o, "inflight_bytes", json_integer((json_int_t)st->inflight_bytes));
    json_object_set_new(o, "curve", json_boolean(st->curve));
    json_object_set_new(o, "identity", jsonfmt_string(st->identity ? st->identity : ""));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) {
        fprintf(stderr, "tunetrail status: out of memory\n");
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}

static void print_text(const char *ep, const Tunetrail__CollectorStatus *st)
{
    char up[64], started[32], last[32], lag[64];
    fmt_ms(st->uptime_ms, up, sizeof up);
    fmt_ns(st->started_ns, started, sizeof started);
    fmt_ns(st->last_commit_ns, last, sizeof last);
    fmt_ms(st->lag_ms, lag, sizeof lag);
    printf("collector   %s (tunetraild %s)%s%s\n", ep, st->version ? st->version : "?",
           st->curve ? ", CURVE on, asked as " : "", st->curve ? st->identity : "");
    printf("uptime      %s (since %s)\n", up, started);
    printf("clients     %u connected (peak %u)\n", st->connections, st->peak_connections);
    printf("ingested    %llu batches, %llu events (%llu duplicates), %llu retries\n",
           (unsigned long long)st->batches, (unsigned long long)st->events,
           (unsigned long long)st->duplicates, (unsigned long long)st->retries);
    printf("refused    ");
    int any = 0;
    for (size_t i = 0; i < st->n_refused; i++)
        if (st->refused[i]->n) {
            printf(" %s=%llu", st->refused[i]->name, (unsigned long long)st->refused[i]->n);
            any = 1;
        }
    printf("%s\n", any ? "" : " nothing");
    printf("store       %s %s, %.1f MiB on disk\n", st->store_kind ? st->store_kind : "?",
           st->store_path ? st->store_path : "?", (double)st->store_bytes / (1 << 20));
    printf("lag         %s; last commit %s\n", lag, last);
    printf("client hwm  %u batches per client, reached %llu times; %llu bytes received, not yet"
           " stored (TCP, handshakes included)\n",
           st->client_hwm, (unsigned long long)st->hwm_reached,
           (unsigned long long)st->inflight_bytes);
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"collector", required_argument, NULL, 'c'}, {"collector-key", required_argument, NULL, 'K'},
        {"curve-key", required_argument, NULL, 'C'}, {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ep = NULL, *key = NULL, *curve_key = NULL;
    int c, json = 0;
    long timeout_s = STATUS_TIMEOUT_S;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': ep = optarg; break;
        case 'K': key = optarg; break;
        case 'C': curve_key = optarg; break;
        case 'j': json = 1; break;
        case 't': {
            char *end;
            errno = 0;
            timeout_s = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || timeout_s < 1 || timeout_s > 3600) {
                fprintf(stderr, "tunetrail status: --timeout wants seconds from 1 to 3600, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'h': status_usage(stdout); return 0;
        default:
            if (optopt)
                fprintf(stderr, "tunetrail status: option '%s' needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "tunetrail status: unknown option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "(tunetrail status --help says which there are)\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetrail status: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!ep && getenv(TT_ENV_COLLECTOR) && *getenv(TT_ENV_COLLECTOR))
        ep = getenv(TT_ENV_COLLECTOR);
    if (!key && getenv(TT_ENV_COLLECTOR_KEY) && *getenv(TT_ENV_COLLECTOR_KEY))
        key = getenv(TT_ENV_COLLECTOR_KEY);
    if (!ep) {
        fprintf(stderr, "tunetrail status: --collector ENDPOINT is required (or $%s)\n",
                TT_ENV_COLLECTOR);
        return 2;
    }
    if (curve_key && !key) {
        fprintf(stderr, "tunetrail status: --curve-key needs --collector-key FILE (the collector's"
                        " curve.pub)\n");
        return 2;
    }
    char err[TT_ERR_MAX];
    tt_sink *s = sink_open_keyed(ep, NULL, key, curve_key, err, sizeof err);
    if (!s) {
        fprintf(stderr, "tunetrail status: %s\n", err);
        return 2;
    }
    Tunetrail__Batch req = TUNETRAIL__BATCH__INIT;
    req.has_schema_version = req.has_batch_seq = req.has_status_request = 1;
    req.schema_version = TUNETRAIL__SCHEMA_VERSION__SCHEMA_VERSION;
    req.batch_seq = (uint64_t)getpid();
    req.status_request = 1;
    uint8_t buf[64];
    size_t len = tunetrail__batch__pack(&req, buf);
    void *zs = sink_zmq_socket(s);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int sent = 0, rc = 1;
    Tunetrail__Ack *ack = NULL;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_s * 1000 - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        const char *refused = sink_handshake_refused(s);
        if (refused) {
            fprintf(stderr, "tunetrail status: collector %s %s\n", ep, refused);
            break;
        }
        if (left <= 0) {
            fprintf(stderr, "tunetrail status: collector %s did not answer within %ld s%s\n", ep,
                    timeout_s, key ? "" : " (a lab collector with CURVE answers only with"
                                          " --collector-key)");
            break;
        }
        /* IMMEDIATE (sink.c): nothing queues before the handshake, so the
         * request is sent once there is a connection to take it. */
        if (!sent)
            sent = zmq_send(zs, buf, len, ZMQ_DONTWAIT) >= 0;
        zmq_pollitem_t it = {zs, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left < 50 ? left : 50) < 0 && errno != EINTR)
            break;
        if (!(it.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        int more = 1;
        while (more) { /* the reply is the last frame */
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, zs, 0) < 0)
                break;
            more = zmq_msg_more(&m);
        }
        ack = tunetrail__ack__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (ack && ack->has_batch_seq && ack->batch_seq == req.batch_seq)
            break;
        if (ack)
            tunetrail__ack__free_unpacked(ack, NULL);
        ack = NULL;
    }
    if (ack && !ack->collector_status) {
        fprintf(stderr, "tunetrail status: collector %s answered without a status (a tunetraild older"
                        " than `tunetrail status`?)%s%s\n", ep, ack->error ? ": " : "",
                ack->error ? ack->error : "");
    } else if (ack) {
        if (json)
            rc = print_json(ep, ack->collector_status);
        else {
            print_text(ep, ack->collector_status);
            rc = 0;
        }
    }
    if (ack)
        tunetrail__ack__free_unpacked(ack, NULL);
    sink_close(s);
    return rc;
}
