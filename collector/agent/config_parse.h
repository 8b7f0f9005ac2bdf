/* config_parse.h - config files a trial reads, flattened into params
 * (key path -> canonical text). The agent (trials.c) parses the files a
 * process read, once their hash is known, and records the result as Params
 * with source "file:<basename>"; the trainer itself never parses anything.
 *
 * Formats, chosen by extension (config_parse_format_for_path) and then by content
 * (config_parse_sniff), key paths as documented in docs/ADAPTERS.md:
 *   INI / darknet .cfg  [section] key=value; a section that occurs once gives
 *                       `section.key`, a repeated one `section[n].key` (n
 *                       counts that section's occurrences from 0); keys before
 *                       any section are bare. `#` and `;` start comments.
 *   .conf .properties   the same line parser; also `key: value` and `!` comments.
 *   JSON (jansson)      `a.b`, arrays `a[2].b`.
 *   YAML (libyaml)      the same paths; the first document only.
 * Values are canonical text: as written for INI/key=value/YAML scalars
 * (trimmed, quotes of YAML quoted scalars removed); JSON strings as decoded,
 * integers as written, reals in their shortest round-trip form (0.10 -> 0.1),
 * true/false/null as such; an empty object/array gives `{}` / `[]`.
 *
 * Limits: files over CFGP_MAX_BYTES are not parsed (an error); at most
 * CFGP_MAX_PARAMS params are kept (out->truncated set, message in err).
 *
 * Error convention: 0 on success, -1 on failure with a message
 * "<name>:<line>: <what>" (or "<name>: <what>" without a line) in err. */
#ifndef TT_CONFIG_PARSE_H
#define TT_CONFIG_PARSE_H

#include <stddef.h>

#define CFGP_MAX_BYTES (1024 * 1024)
#define CFGP_MAX_PARAMS 2000

enum config_parse_format {
    CFGP_NONE = 0, /* not a config file we parse */
    CFGP_INI,      /* .ini .cfg */
    CFGP_KV,       /* .conf .properties */
    CFGP_JSON,     /* .json */
    CFGP_YAML,     /* .yaml .yml */
};

struct config_parse_kv {
    char *key;     /* owned */
    char *value;   /* owned */
    unsigned line; /* INI / key=value: the line it came from (1-based); else 0 */
};

/* Params of one file, in file order. Zero-initialise before first use. */
struct config_parse_list {
    struct config_parse_kv *kv;
    size_t n, cap;
    int truncated; /* more than CFGP_MAX_PARAMS: the first ones are kept */
};

/* The format the extension of path names (case-insensitive), or CFGP_NONE. */
enum config_parse_format config_parse_format_for_path(const char *path);

/* 1 if the agent should parse path: a known extension and not under a
 * system or package directory (/usr, /etc, /lib, /proc, site-packages...). */
int config_parse_path_wanted(const char *path);

/* The format to parse buf with: by_ext unless the content says otherwise
 * (an INI/key=value file that starts with `{` is JSON, with `---` YAML). */
enum config_parse_format config_parse_sniff(enum config_parse_format by_ext, const char *buf, size_t len);

/* Parses buf[len] as format f into out (appends; out must be zeroed or a
 * list returned by an earlier call). name is used in error messages. On
 * failure out holds no params. A truncated result returns 0 with
 * out->truncated set and the reason in err. */
int config_parse_parse(enum config_parse_format f, const char *name, const char *buf, size_t len, struct config_parse_list *out,
               char *err, size_t errlen);

/* Reads path (at most CFGP_MAX_BYTES, else an error) and parses it with the
 * format of its extension and content. Errors name the file by basename. */
int config_parse_parse_file(const char *path, struct config_parse_list *out, char *err, size_t errlen);

/* Frees what out holds and zeroes it. */
void config_parse_list_free(struct config_parse_list *out);

#endif
