/* verify.c - `tunetrail verify OUT MODEL`: options, then record_verify
 * (record/verify.c) and its one line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "record.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tunetrail verify OUT MODEL [--pubkey FILE] [--receipts DIR]\n\n"
            "Checks a provenance record written by `tunetrail attest`:\n"
            "  signature  the DSSE signature, with --pubkey FILE (a .pub from `tunetrail keygen`),\n"
            "             else a key under $TUNETRAIL_HOME/keys with the record's keyid;\n"
            "  subject    MODEL's SHA-256 is the attested one;\n"
            "  predicate  the counts add up and every statistic, recomputed from the record's\n"
            "             trials, is the one recorded;\n"
            "  log        the trials are the whole study log: their RFC 9162 root is the attested\n"
            "             root, each audit path reproduces it, the collector's checkpoint signs it;\n"
            "  receipts   with --receipts DIR (the agents' $TUNETRAIL_HOME/receipts): every\n"
            "             checkpoint the collector gave for the study is a prefix of this log.\n"
            "Prints one line: OK or FAILED, then each check. Exit status 0 only if all hold.\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pubkey", required_argument, NULL, 'p'},
        {"receipts", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pubfile = NULL, *receipts = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': pubfile = optarg; break;
        case 'r': receipts = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "tunetrail verify: expected OUT and MODEL\n\n");
        usage(stderr);
        return 2;
    }
    char err[TT_ERR_MAX], *line;
    int rc = record_verify(argv[optind], argv[optind + 1], pubfile, receipts, &line, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tunetrail verify: %s\n", err);
        return 1;
    }
    puts(line);
    free(line);
    return rc;
}
