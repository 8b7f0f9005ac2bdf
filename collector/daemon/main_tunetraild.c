/* main_tunetraild.c - `tunetraild`: the standalone collector daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "collector.h"
#include "keys.h"
#include "logfmt.h"
#include "paths.h"
#include "store.h"
#include "util.h"

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig) { stop_flag = sig; }
static void on_hup(int sig) { reload_flag = sig; }

/* SIGHUP: both files are read anew and replace the lists in force only if
 * both parse; a bad new file leaves the old lists in force. */
struct reload_ctx {
    const char *clients_path, *access_path;
    struct curve_clients *clients;
    struct curve_access *access;
};

static void reload_lists(void *arg)
{
    struct reload_ctx *r = arg;
    char err[TT_ERR_MAX];
    struct logline l;
    if (!r->clients_path) {
        log_begin(&l, "warn", "reload");
        log_kv(&l, "result", "nothing");
        log_kv(&l, "msg", "SIGHUP: nothing to reload (no --clients)");
        log_end(&l);
        return;
    }
    struct curve_clients nc = {0};
    struct curve_access na = {0};
    if (curve_clients_load(r->clients_path, &nc, err, sizeof err) < 0 ||
        (r->access_path && curve_access_load(r->access_path, &na, err, sizeof err) < 0)) {
        log_begin(&l, "error", "reload");
        log_kv(&l, "result", "refused");
        log_kv(&l, "error", "%s", err);
        log_kv(&l, "msg", "SIGHUP: the clients and access lists in force stay");
        log_end(&l);
        curve_clients_free(&nc);
        curve_access_free(&na);
        return;
    }
    curve_clients_free(r->clients);
    *r->clients = nc;
    if (r->access_path) {
        curve_access_free(r->access);
        *r->access = na;
    }
    log_begin(&l, "info", "reload");
    log_kv(&l, "result", "ok");
    log_kv(&l, "clients", "%zu", nc.n);
    log_kv(&l, "clients_file", "%s", r->clients_path);
    if (r->access_path) {
        log_kv(&l, "access_rules", "%zu", r->access->n);
        log_kv(&l, "access_file", "%s", r->access_path);
    }
    log_kv(&l, "msg", "SIGHUP: a connection whose key is gone is dropped at its next batch");
    log_end(&l);
}

/* ipc://, inproc:// and a loopback tcp:// address are reachable from this
 * host only; anything else (a wildcard, an interface, another address) is not. */
static int endpoint_local(const char *ep)
{
    if (strncmp(ep, "tcp://", 6))
        return 1;
    const char *h = ep + 6, *end = strrchr(h, ':');
    size_t n = end ? (size_t)(end - h) : strlen(h);
    return (n >= 4 && !strncmp(h, "127.", 4)) || (n == 9 && !strncmp(h, "localhost", 9)) ||
           (n == 5 && !strncmp(h, "[::1]", 5));
}

/* event=config: a start-up remark that does not stop the start. */
static void config_line(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void config_line(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct logline l;
    log_begin(&l, level, "config");
    log_kv(&l, "msg", "%s", msg);
    log_end(&l);
}

static int allow_study(void *arg, const char *identity, const char *study)
{
    return curve_access_allows(arg, identity, study);
}

/* --check: one line per check ("ok" or "FAIL", what, why), nothing bound or
 * served, nothing created. Returns the exit code: 0 if all passed, else 1. */
struct check_args {
    const char *bind, *store, *key, *curve, *clients, *access;
    int create, insecure;
    long check_s;
};

static int check_line(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    return ok ? 0 : 1;
}

static int run_check(const struct check_args *a)
{
    char err[TT_ERR_MAX];
    int bad = 0;
    if (a->clients && a->insecure)
        bad |= check_line(0, "config: --insecure and --clients exclude each other");
    else if (!a->clients && !a->insecure && !endpoint_local(a->bind))
        bad |= check_line(0, "config: %s is not a loopback or ipc:// endpoint and CURVE is off"
                             " (--curve-key FILE --clients FILE, or --insecure)", a->bind);
    else
        bad |= check_line(1, "config: bind %s, %s", a->bind,
                          a->clients ? "CURVE on" : a->insecure ? "plain TCP (--insecure)"
                                                                : "local endpoint, no CURVE");
    if (a->clients) {
        char defkey[PATH_MAX], dir[PATH_MAX];
        const char *ck = a->curve;
        if (!ck && key_default_dir(dir, sizeof dir) &&
            snprintf(defkey, sizeof defkey, "%s/curve.key", dir) < (int)sizeof defkey)
            ck = defkey;
        char secret[CURVE_Z85_LEN + 1], pub[CURVE_Z85_LEN + 1];
        if (!ck)
            bad |= check_line(0, "curve-key: cannot find $TUNETRAIL_HOME/keys; use --curve-key FILE");
        else if (curve_load_secret(ck, secret, pub, err, sizeof err) < 0)
            bad |= check_line(0, "curve-key: %s", err);
        else
            bad |= check_line(1, "curve-key %s: public key %s", ck, pub);
        sodium_memzero(secret, sizeof secret);
        struct curve_clients cl = {0};
        if (curve_clients_load(a->clients, &cl, err, sizeof err) < 0)
            bad |= check_line(0, "clients: %s", err);
        else
            bad |= check_line(1, "clients %s: %zu clients", a->clients, cl.n);
        curve_clients_free(&cl);
    }
    if (a->access) {
        struct curve_access ac = {0};
        if (curve_access_load(a->access, &ac, err, sizeof err) < 0)
            bad |= check_line(0, "access: %s", err);
        else
            bad |= check_line(1, "access %s: %zu rules", a->access, ac.n);
        curve_access_free(&ac);
    }
    /* The ack-signing key: a missing default one is made at the first start. */
    char keypath[PATH_MAX] = "";
    char *home = NULL;
    if (a->key)
        snprintf(keypath, sizeof keypath, "%s", a->key);
    else if (paths_home(&home, NULL, 0) == 0)
        snprintf(keypath, sizeof keypath, "%s/collector.key", home);
    free(home);
    struct tt_key k;
    struct stat sb;
    if (!*keypath)
        bad |= check_line(1, "key: no $TUNETRAIL_HOME: acks will not be signed");
    else if (key_load_secret(keypath, &k, err, sizeof err) == 0)
        bad |= check_line(1, "key %s: ed25519 %.16s", keypath, k.keyid);
    else if (!a->key && stat(keypath, &sb) < 0 && errno == ENOENT)
        bad |= check_line(1, "key %s: missing, made at the first start", keypath);
    else
        bad |= check_line(0, "key: %s", err);
    sodium_memzero(&k, sizeof k);

    char *path = NULL;
    if (paths_store(a->store, &path, err, sizeof err) < 0) {
        bad |= check_line(0, "store: %s", err);
        return bad;
    }
    if (store_is_postgres(path)) {
        char shown[PATH_MAX];
        if (store_check_postgres(path, err, sizeof err) < 0)
            bad |= check_line(0, "store: %s", err);
        else
            bad |= check_line(1, "store %s: %s", store_shown(path, shown, sizeof shown), err);
        free(path);
        return bad;
    }
    char wal[PATH_MAX];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int empty = !(stat(path, &sb) == 0 && sb.st_size > 0) && !(stat(wal, &sb) == 0 && sb.st_size > 0);
    if (empty) {
        if (a->create)
            bad |= check_line(1, "store %s: missing or empty, made at start (--create)", path);
        else
            bad |= check_line(0, "store %s: missing or empty (a new store needs --create)", path);
        free(path);
        return bad;
    }
    int ck = store_check(path, (a->check_s > 0 ? a->check_s : 60) * 1000, err, sizeof err);
    if (ck < 0) {
        bad |= check_line(0, "store %s: damaged (SQLite quick_check: %s)", path, err);
    } else {
        tt_store *st = store_open(path, STORE_READONLY, err, sizeof err);
        if (!st)
            bad |= check_line(0, "store %s: cannot open: %s", path, err);
        else if (access(path, R_OK | W_OK) < 0)
            bad |= check_line(0, "store %s: not writable by this user: %s", path, strerror(errno));
        else
            bad |= check_line(1, "store %s: opens, quick_check %s", path, ck ? err : "passed");
        store_close(st);
    }
    free(path);
    return bad;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tunetraild --bind ENDPOINT [--store PATH [--create] | --store postgresql://...\n"
            "                  [--replica PATH]]\n"
            "                  [--key FILE] [--check-seconds N] [LIMITS]\n"
            "                  [--curve-key FILE --clients FILE [--access FILE] | --insecure]\n"
            "                  [--client-hwm N] [--check]\n"
            "\n"
            "Collects tunetrail records from agents (`tunetrail run --collector ENDPOINT`)\n"
            "and stores them. Each batch is acknowledged only after it is committed, so\n"
            "agents keep (and resend) anything not yet acknowledged; resends are stored once.\n"
            "\n"
            "  -b, --bind ENDPOINT     ZeroMQ endpoint to listen on, e.g. tcp://*:7600,\n"
            "                          tcp://127.0.0.1:7600 or ipc:///run/tunetrail.sock\n"
            "  -s, --store PATH        SQLite file (default: $TUNETRAIL_STORE, else\n"
            "                          $TUNETRAIL_HOME/trail.db). It may be shared with local\n"
            "                          `tunetrail run` instances.\n"
            "      --create            make a new store if PATH is missing or empty (0 bytes);\n"
            "                          without it tunetraild refuses to start on either\n"
            "      --check-seconds N   integrity check (SQLite quick_check) of an existing store\n"
            "                          before serving, stopped after N seconds (default 60; 0:\n"
            "                          none). A damaged store is refused.\n"
            "  -s, --store postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB[?OPTIONS]\n"
            "                          a PostgreSQL store (also postgres://; --postgres URI is\n"
            "                          the same): the database holds the append-only log of the\n"
            "                          batches stored, created on first use; several tunetraild\n"
            "                          may write one database. Each keeps a local SQLite replica\n"
            "      --replica PATH      that replica (default: $TUNETRAIL_HOME/replicas/\n"
            "                          <hash of the URI>-tunetraild.db); one process per replica\n"
            "  -k, --key FILE          ed25519 key (tunetrail keygen) that signs every ack and\n"
            "                          the study-log checkpoints returned with them (default:\n"
            "                          $TUNETRAIL_HOME/collector.key, created on first use);\n"
            "                          agents pin its .pub (NAME.key -> NAME.pub) with --collector-key\n"
            "      --check             with the flags of a real start: check the config, the\n"
            "                          keys (format; secrets not readable by others), the clients\n"
            "                          and access files (FILE:LINE) and the store (opens, passes\n"
            "                          quick_check); one line per check, exit 0 if all pass, else\n"
            "                          1. Binds nothing, creates nothing\n"
            "  -h, --help              this text\n"
            "\n"
            "The lab collector (ZeroMQ CURVE: encrypted, and only known clients get in):\n"
            "      --curve-key FILE    this collector's CURVE secret key (`tunetrail keygen --curve`\n"
            "                          writes curve.key and curve.pub; default with --clients:\n"
            "                          $TUNETRAIL_HOME/keys/curve.key). Agents pin its curve.pub\n"
            "                          (--collector-key); its path is printed at start\n"
            "      --clients FILE      the clients let in: lines `<Z85 public key> <identity>`\n"
            "                          (an agent's curve.pub and e.g. alice@gpu-node-3), # comments.\n"
            "                          Any other client is refused at the handshake and counted.\n"
            "                          Each stored session carries its client's identity\n"
            "      --access FILE       who may write which study: lines `<identity glob> <study\n"
            "                          glob>`; without it, a study belongs to the first identity\n"
            "                          that wrote it. A batch writing a study its identity may\n"
            "                          not write is refused whole (the agent keeps it)\n"
            "      --insecure          allow binding a non-loopback tcp:// address without CURVE\n"
            "                          (anyone who reaches the port may write any study)\n"
            "A bad line in --clients or --access stops tunetraild (exit 2) with FILE:LINE.\n"
            "systemd: packaging/tunetraild.service (ExecStartPre: --check; reload: SIGHUP).\n"
            "\n"
            "Limits (each drop or reject is logged and counted):\n"
            "      --max-message BYTES     a message, and any frame of it (default 16 MiB + 64 KiB)\n"
            "      --max-peer-bytes BYTES  received from one tcp:// connection and not yet\n"
            "                              stored, partial multipart messages included; over it\n"
            "                              the connection is dropped (default 64 MiB)\n"
            "      --max-buffered BYTES    the same over all connections; the one with the most\n"
            "                              is dropped (default 256 MiB)\n"
            "      --max-connections N     open at once; over it the least recently active is\n"
            "                              dropped (default 512, at most the fd limit - 64)\n"
            "      --client-hwm N          batches queued per connection, not yet stored (default\n"
            "                              8); at it the connection is not read until the daemon\n"
            "                              catches up (TCP pushes back on the agent): nothing is\n"
            "                              dropped, and memory stays bounded with many clients\n"
            "A message has at most 3 frames ([identity] [empty] batch). A dropped agent\n"
            "reconnects and resends what was not acknowledged.\n"
            "\n"
            "Signals: SIGHUP rereads --clients and --access (a bad new file is refused, logged,\n"
            "and the lists in force stay; a removed key is refused from its next handshake, and\n"
            "an open connection of it is dropped at its next batch, nothing of it stored).\n"
            "SIGINT/SIGTERM drain: what was received is stored and acked, then tunetraild exits\n"
            "0 with its counters (drained=N); agents resend whatever came later.\n"
            "Malformed messages and failed handshakes are logged and counted as rejected.\n"
            "\n"
            "Log: while it serves, each line on stderr (the journal under systemd) is one event in\n"
            "logfmt: `ts=2026-12-03T18:40:00.123Z level=warn event=auth_refused reason=... ...`;\n"
            "events: start config reject auth_refused forbidden batch retry store_error store_ok\n"
            "limit revoked reload fatal stop summary (docs/INTERNALS.md, \"Log lines\"). Errors in\n"
            "flags and files stop the start with a plain sentence (FILE:LINE) and exit 2.\n"
            "`tunetrail status --collector ENDPOINT` asks a running tunetraild for its counters.\n"
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
        {"replica", required_argument, NULL, 'R'},
        {"key", required_argument, NULL, 'k'},
        {"create", no_argument, NULL, 'C'},
        {"check-seconds", required_argument, NULL, 'Q'},
        {"max-message", required_argument, NULL, 'M'},
        {"max-peer-bytes", required_argument, NULL, 'P'},
        {"max-buffered", required_argument, NULL, 'B'},
        {"max-connections", required_argument, NULL, 'N'},
        {"curve-key", required_argument, NULL, 'K'},
        {"clients", required_argument, NULL, 'L'},
        {"access", required_argument, NULL, 'A'},
        {"insecure", no_argument, NULL, 'I'},
        {"check", no_argument, NULL, 'c'},
        {"client-hwm", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    const char *bind = NULL, *store_flag = NULL, *pg = NULL, *key_flag = NULL;
    const char *curve_flag = NULL, *clients_flag = NULL, *access_flag = NULL, *replica = NULL;
    int c, create = 0, insecure = 0, check = 0;
    long check_s = 60;
    struct collector_opts copts = {0};
    struct collector_limits *lim = &copts.limits;
    while ((c = getopt_long(argc, argv, "b:s:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 's': store_flag = optarg; break;
        case 'p': pg = optarg; break;
        case 'R': replica = optarg; break;
        case 'k': key_flag = optarg; break;
        case 'C': create = 1; break;
        case 'K': curve_flag = optarg; break;
        case 'L': clients_flag = optarg; break;
        case 'A': access_flag = optarg; break;
        case 'I': insecure = 1; break;
        case 'c': check = 1; break;
        case 'Q':
        case 'M':
        case 'P':
        case 'B':
        case 'N':
        case 'H': {
            char *end;
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || (c == 'M' && v < 1024) ||
                (c == 'N' && v > 1000000) || (c == 'H' && (v < 1 || v > 100000))) {
                fprintf(stderr, "tunetraild: --%s wants a number%s, got '%s'\n",
                        c == 'Q' ? "check-seconds" : c == 'M' ? "max-message"
                        : c == 'P' ? "max-peer-bytes" : c == 'B' ? "max-buffered"
                        : c == 'H' ? "client-hwm" : "max-connections",
                        c == 'M' ? " >= 1024" : c == 'N' ? " <= 1000000"
                        : c == 'H' ? " from 1 to 100000" : " >= 0", optarg);
                return 2;
            }
            if (c == 'Q')
                check_s = (long)v;
            else if (c == 'M')
                lim->max_message = v;
            else if (c == 'P')
                lim->max_peer_bytes = v ? v : -1; /* 0: no limit */
            else if (c == 'B')
                lim->max_buffered = v ? v : -1;
            else if (c == 'H')
                copts.client_hwm = (int)v;
            else
                lim->max_connections = v ? (int)v : -1;
            break;
        }
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
        if (store_flag && strcmp(store_flag, pg)) {
            fprintf(stderr, "tunetraild: --postgres and --store name two stores; give one\n");
            return 2;
        }
        if (!store_is_postgres(pg)) {
            fprintf(stderr, "tunetraild: --postgres wants a postgresql:// URI, got '%s'\n", pg);
            return 2;
        }
        store_flag = pg;
    }
    if (!bind) {
        fprintf(stderr, "tunetraild: --bind ENDPOINT is required\n\n");
        usage(stderr);
        return 2;
    }

    if (check) {
        struct check_args ca = {bind, store_flag, key_flag, curve_flag, clients_flag,
                                access_flag, create, insecure, check_s};
        if ((curve_flag || access_flag) && !clients_flag) {
            printf("FAIL config: --%s needs --clients FILE\n", curve_flag ? "curve-key" : "access");
            return 1;
        }
        return run_check(&ca);
    }
    char err[TT_ERR_MAX];
    /* The lab collector's lists are read before anything else: a typo in
     * them must stop the start, not let the wrong clients in. */
    struct curve_clients clients = {0};
    struct curve_access access_rules = {0};
    char curve_secret[CURVE_Z85_LEN + 1], curve_pub[CURVE_Z85_LEN + 1], defkey[PATH_MAX];
    if ((curve_flag || access_flag) && !clients_flag) {
        fprintf(stderr, "tunetraild: --%s needs --clients FILE (the client keys let in)\n",
                curve_flag ? "curve-key" : "access");
        return 2;
    }
    if (clients_flag) {
        if (insecure) {
            fprintf(stderr, "tunetraild: --insecure and --clients exclude each other\n");
            return 2;
        }
        if (!curve_flag) {
            char dir[PATH_MAX];
            if (!key_default_dir(dir, sizeof dir)) {
                fprintf(stderr, "tunetraild: cannot find $TUNETRAIL_HOME/keys; use --curve-key FILE\n");
                return 2;
            }
            if (snprintf(defkey, sizeof defkey, "%s/curve.key", dir) >= (int)sizeof defkey) {
                fprintf(stderr, "tunetraild: %s: path too long; use --curve-key FILE\n", dir);
                return 2;
            }
            curve_flag = defkey;
        }
        if (curve_clients_load(clients_flag, &clients, err, sizeof err) < 0 ||
            (access_flag && curve_access_load(access_flag, &access_rules, err, sizeof err) < 0)) {
            fprintf(stderr, "tunetraild: %s\n", err);
            curve_clients_free(&clients);
            return 2;
        }
        if (curve_load_secret(curve_flag, curve_secret, curve_pub, err, sizeof err) < 0) {
            fprintf(stderr, "tunetraild: --curve-key: %s (make one: tunetrail keygen --curve)\n", err);
            curve_clients_free(&clients);
            curve_access_free(&access_rules);
            return 2;
        }
        copts.curve_secret = curve_secret;
        copts.clients = &clients;
    } else if (!insecure && !endpoint_local(bind)) {
        fprintf(stderr,
                "tunetraild: REFUSING to listen on %s without CURVE: anyone who can reach it could\n"
                "  write any study under any name. Give the collector a key and its clients\n"
                "  (tunetrail keygen --curve; --curve-key FILE --clients FILE), bind a loopback or\n"
                "  ipc:// endpoint, or accept the risk with --insecure.\n",
                bind);
        return 2;
    }
    char *path = NULL;
    if (paths_store(store_flag, &path, err, sizeof err) < 0) {
        fprintf(stderr, "tunetraild: %s\n", err);
        return 1;
    }
    /* A damaged store is refused before anything writes to it; a missing or
     * empty one becomes a new store only with --create (store_open). */
    struct stat sb;
    char shown[PATH_MAX];
    int pg_store = store_is_postgres(path);
    if (replica && !pg_store) {
        fprintf(stderr, "tunetraild: --replica goes with a PostgreSQL store (--store postgresql://...)\n");
        free(path);
        return 2;
    }
    if (!pg_store && stat(path, &sb) == 0 && sb.st_size > 0 && check_s > 0) {
        int ck = store_check(path, check_s * 1000, err, sizeof err);
        if (ck < 0) {
            fprintf(stderr,
                    "tunetraild: store %s is damaged (SQLite quick_check: %s); refusing to serve"
                    " it. Restore it from a backup, or try `sqlite3 %s .recover`.\n",
                    path, err, path);
            free(path);
            return 1;
        }
        if (ck > 0)
            config_line("warn", "store %s: %s", path, err);
    }
    /* (A store killed before its first checkpoint: 0 bytes, pages in -wal.) */
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int existed = pg_store || (stat(path, &sb) == 0 && sb.st_size > 0) ||
                  (stat(wal, &sb) == 0 && sb.st_size > 0);
    tt_store *st = store_open_replica(path, replica, STORE_CREATE | (create ? 0 : STORE_EXISTING),
                                      err, sizeof err);
    if (!st) {
        if (pg_store) /* the message names the URI, password masked */
            fprintf(stderr, "tunetraild: cannot open store: %s\n", err);
        else
            fprintf(stderr, "tunetraild: cannot open store %s: %s\n", path, err);
        free(path);
        return 1;
    }
    if (pg_store)
        config_line("info", "PostgreSQL store %s, replica %s", store_shown(path, shown, sizeof shown),
                    store_path(st));
    else if (!existed)
        config_line("info", "new store %s (--create)", path);
    else if (stat(path, &sb) == 0 && (sb.st_mode & 077))
        config_line("warn", "store %s is readable by other users (mode %03o); it holds every"
                            " user's argv, paths and hosts: chmod 600 it",
                    path, (unsigned)(sb.st_mode & 0777));

    /* Room for max-connections clients: the soft fd limit up to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        long room = rl.rlim_cur == RLIM_INFINITY ? 1000000 : (long)rl.rlim_cur - 64;
        int want = lim->max_connections ? lim->max_connections : COLLECTOR_MAX_CONNECTIONS;
        if (want > 0 && want > room) {
            config_line("warn", "--max-connections %d lowered to %ld: the fd limit is %llu",
                        want, room > 1 ? room : 1, (unsigned long long)rl.rlim_cur);
            lim->max_connections = room > 1 ? (int)room : 1;
        }
    }

    struct tt_key key;
    char ack_pub[PATH_MAX] = "";
    memset(&key, 0, sizeof key);
    if (key_collector(key_flag, &key, err, sizeof err) == 0) {
        store_set_signer(st, &key);
        copts.signer = &key; /* and every ack: agents pin its public half */
        char *home = NULL;
        snprintf(ack_pub, sizeof ack_pub, "collector.pub");
        if (key_flag)
            key_pub_path(key_flag, ack_pub, sizeof ack_pub);
        else if (paths_home(&home, NULL, 0) == 0)
            snprintf(ack_pub, sizeof ack_pub, "%s/collector.pub", home);
        free(home);
    } else if (key_flag) {
        fprintf(stderr, "tunetraild: cannot use --key %s: %s\n", key_flag, err);
        store_close(st);
        free(path);
        return 1;
    } else {
        config_line("warn", "log checkpoints and acks not signed (no collector key): %s", err);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll must return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct reload_ctx rctx = {clients_flag, access_flag, &clients, &access_rules};
    copts.reload = &reload_flag;
    copts.on_reload = reload_lists;
    copts.reload_arg = &rctx;

    char curve_pubfile[PATH_MAX] = "";
    if (copts.curve_secret) {
        key_pub_path(curve_flag, curve_pubfile, sizeof curve_pubfile);
        if (access_flag)
            store_set_access(st, allow_study, &access_rules);
    } else if (insecure && !endpoint_local(bind)) {
        config_line("warn", "WARNING: --insecure: %s takes plain TCP from anyone who reaches it;"
                            " identities are not known", bind);
    }
    /* PostgreSQL: status shows the local replica (its size on disk) */
    copts.store_path = pg_store ? store_path(st) : path;
    copts.store_kind = pg_store ? "postgresql" : "sqlite";
    void *zctx = zmq_ctx_new();
    struct collector_stats stats;
    struct logline l;
    /* Everything an operator (or a test) needs to connect an agent. */
    log_begin(&l, "info", "start");
    log_kv(&l, "version", "%s", TT_VERSION);
    log_kv(&l, "pid", "%ld", (long)getpid());
    log_kv(&l, "bind", "%s", bind);
    log_kv(&l, "store", "%s", store_shown(path, shown, sizeof shown));
    log_kv(&l, "store_kind", "%s", pg_store ? "postgresql" : "sqlite");
    if (pg_store)
        log_kv(&l, "replica", "%s", store_path(st));
    if (key.keyid[0]) {
        log_kv(&l, "ack_key", "%.16s", key.keyid);
        log_kv(&l, "ack_pub", "%s", ack_pub);
    }
    log_kv(&l, "curve", "%s", copts.curve_secret ? "on" : insecure ? "off-insecure" : "off");
    if (copts.curve_secret) {
        log_kv(&l, "curve_public_key", "%s", curve_pub);
        log_kv(&l, "curve_pub", "%s", curve_pubfile);
        log_kv(&l, "clients", "%zu", clients.n);
        log_kv(&l, "clients_file", "%s", clients_flag);
        log_kv(&l, "studies", "%s", access_flag ? access_flag : "first-identity");
    }
    log_kv(&l, "client_hwm", "%d", copts.client_hwm > 0 ? copts.client_hwm : COLLECTOR_CLIENT_HWM);
    log_end(&l);
    int rc = collector_serve(zctx, bind, st, &stop_flag, &stats, &copts, err, sizeof err);
    if (rc < 0) {
        log_begin(&l, "error", "fatal");
        log_kv(&l, "error", "%s", err);
        log_end(&l);
    }
    log_begin(&l, "info", "stop");
    log_kv(&l, "signal", "%s", stop_flag == SIGTERM ? "SIGTERM" : stop_flag == SIGINT ? "SIGINT" : "none");
    log_kv(&l, "drained", "%llu", (unsigned long long)stats.drained);
    log_kv(&l, "exit", "%d", rc < 0 ? 1 : 0);
    log_end(&l);
    /* Every counter, as status reports them (docs/INTERNALS.md). */
    const struct {
        const char *k;
        uint64_t v;
    } sum[] = {
        {"batches", stats.batches}, {"events", stats.events}, {"duplicates", stats.duplicates},
        {"rejected", stats.rejected}, {"retries", stats.retries},
        {"store_errors", stats.store_errors}, {"flagged", stats.flagged},
        {"refused", stats.refused}, {"conflicts", stats.conflicts},
        {"too_many_frames", stats.too_many_frames}, {"oversized", stats.oversized},
        {"dropped_peer_bytes", stats.dropped_peer_bytes},
        {"dropped_buffered", stats.dropped_buffered}, {"dropped_idle", stats.dropped_idle},
        {"peak_connections", stats.peak_connections}, {"auth_no_key", stats.auth_no_key},
        {"auth_unknown_key", stats.auth_unknown_key}, {"forbidden", stats.forbidden},
        {"revoked", stats.revoked}, {"reloads", stats.reloads},
        {"hwm_reached", stats.hwm_reached}, {"drained", stats.drained},
    };
    log_begin(&l, "info", "summary");
    for (size_t i = 0; i < sizeof sum / sizeof *sum; i++)
        log_kv(&l, sum[i].k, "%llu", (unsigned long long)sum[i].v);
    log_end(&l);
    zmq_ctx_term(zctx);
    memset(&key, 0, sizeof key);
    store_close(st);
    free(path);
    curve_clients_free(&clients);
    curve_access_free(&access_rules);
    sodium_memzero(curve_secret, sizeof curve_secret);
    return rc < 0 ? 1 : 0;
}
