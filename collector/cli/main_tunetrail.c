/* main_tunetrail.c - `tunetrail`: dispatches to one cmd_* per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keys.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a command under the shim and record every process and trial"},
    {"flush", cmd_flush, "ship spooled records to the collector or the local store"},
    {"studies", cmd_studies, "list studies"},
    {"trials", cmd_trials, "list the trials of a study"},
    {"show", cmd_show, "everything about one trial"},
    {"processes", cmd_processes, "list the processes of a study"},
    {"log", cmd_log, "print a study's log: its leaves, or its size and checkpoint"},
    {"audit", cmd_audit, "what the collector refused or flagged, and the warnings recorded"},
    {"attest", cmd_attest, "write a signed provenance record of the search behind a model"},
    {"verify", cmd_verify, "check a provenance record against its model (and receipts)"},
    {"keygen", cmd_keygen, "make a key pair: ed25519 to sign records, --curve for a lab collector"},
    {"report", cmd_report, "write a self-contained HTML (or Markdown) report of a search"},
    {"status", cmd_status, "ask a running tunetraild for its uptime, clients, counters and lag"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tunetrail COMMAND [ARGS]...\n\n"
               "Records every configuration a training search tries, with no change to its code.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`tunetrail COMMAND --help` describes each command.\n"
               "Environment: TUNETRAIL_HOME (data directory), TUNETRAIL_STORE (SQLite file or postgresql:// URI),\n"
               "TUNETRAIL_COLLECTOR (collector endpoint), TUNETRAIL_COLLECTOR_KEY (its public\n"
               "key file), TUNETRAIL_STUDY (study name), TUNETRAIL_PYTHON (0: no Python hook).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tunetrail %s\nadapters: %s\n", TT_VERSION, TT_ADAPTERS_BUILT[0] ? TT_ADAPTERS_BUILT : "none");
        if (TT_ADAPTERS_SKIPPED[0])
            printf("adapters not built: %s\n", TT_ADAPTERS_SKIPPED);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tunetrail: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
