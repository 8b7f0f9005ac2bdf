/* keygen.c - `tunetrail keygen`: options, then key_generate (common/keys.h). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "curve.h"
#include "keys.h"

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: tunetrail keygen [-o DIR] [--name NAME] [--force]\n"
               "       tunetrail keygen --curve [-o DIR] [--force]\n\n"
               "Makes an ed25519 key pair for signing provenance records (tunetrail attest --key).\n"
               "Writes DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public: give it to\n"
               "readers, who check records with tunetrail verify --pubkey), and prints the keyid\n"
               "(hex SHA-256 of the public key).\n\n"
               "With --curve: a ZeroMQ CURVE key pair for the lab collector's encrypted,\n"
               "authenticated channel: DIR/curve.key (secret, 0600) and DIR/curve.pub (one line\n"
               "of Z85 text). An agent's curve.pub goes into tunetraild's --clients file with\n"
               "its identity; tunetraild's own curve.pub is what agents pin (--collector-key).\n\n"
               "  -o, --out DIR   directory (default $TUNETRAIL_HOME/keys)\n"
               "  --curve         a CURVE key pair (curve.key, curve.pub) instead of ed25519\n"
               "  --name NAME     file name stem (default tunetrail)\n"
               "  --force         replace an existing key pair (the old one is lost)\n"
               "  -h, --help      this text\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"name", required_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},     {"help", no_argument, NULL, 'h'},
        {"curve", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *name = "tunetrail";
    int force = 0, curve = 0, c;
    optind = 0; /* glibc: full re-initialisation, argv[0] is the subcommand */
    opterr = 0; /* we print the bad flag ourselves, in the CLI's format */
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'n': name = optarg; break;
        case 'f': force = 1; break;
        case 'c': curve = 1; break;
        case 'h': keygen_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "tunetrail keygen: %s needs a value\n\n", argv[optind - 1]);
            keygen_usage(stderr);
            return 2;
        default:
            fprintf(stderr, "tunetrail keygen: unknown flag '%s'\n\n", argv[optind - 1]);
            keygen_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tunetrail keygen: unexpected argument '%s'\n\n", argv[optind]);
        keygen_usage(stderr);
        return 2;
    }
    if (!*name || strchr(name, '/')) {
        fprintf(stderr, "tunetrail keygen: bad --name '%s' (a file name stem, no '/')\n", name);
        return 2;
    }
    char defdir[PATH_MAX], err[PATH_MAX + 128];
    if (!dir || !*dir) {
        dir = key_default_dir(defdir, sizeof defdir);
        if (!dir) {
            fprintf(stderr, "tunetrail keygen: cannot find the key directory "
                            "(set TUNETRAIL_HOME or use -o DIR)\n");
            return 1;
        }
    }
    if (curve) {
        char pub[CURVE_Z85_LEN + 1];
        if (curve_generate(dir, force, pub, err, sizeof err) < 0) {
            fprintf(stderr, "tunetrail keygen: %s\n", err);
            return 1;
        }
        printf("secret key: %s/curve.key\n"
               "public key: %s/curve.pub\n"
               "%s\n",
               dir, dir, pub);
        return 0;
    }
    struct tt_key k;
    if (key_generate(dir, name, force, &k, err, sizeof err) < 0) {
        fprintf(stderr, "tunetrail keygen: %s\n", err);
        return 1;
    }
    printf("secret key: %s/%s.key\n"
           "public key: %s/%s.pub\n"
           "keyid: %s\n",
           dir, name, dir, name, k.keyid);
    sodium_memzero(&k, sizeof k);
    return 0;
}
