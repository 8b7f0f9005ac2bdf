/* roles.h - what a trial's param is (docs/RECORD.md, "Roles of values"):
 * a choice (a hyperparameter of the search), a path (a file the trial read
 * or wrote, or a key naming one), a seed (a repetition), or info (a size of
 * the data, or an argv flag restating an adapter's own key). Only choices
 * are configurations: the record's ledger statistics, distinct
 * configurations, search kind and noise-floor grouping use them alone, and
 * a table of "varied keys" should too.
 *
 * One rule, a pure function of the leaf's fields and the adapter table
 * (adapters/registry.h), so `tunetrail verify` recomputes it exactly. */
#ifndef TT_ROLES_H
#define TT_ROLES_H

#include <stddef.h>

enum tt_role { TT_ROLE_CHOICE, TT_ROLE_PATH, TT_ROLE_SEED, TT_ROLE_INFO };

/* The files the trial's process read and wrote (absolute paths, as in the
 * leaf's inputs / outputs); NULL arrays with count 0 are fine. */
struct tt_role_files {
    const char *const *inputs;
    size_t ninputs;
    const char *const *outputs;
    size_t noutputs;
};

/* "choice", "path", "seed", "info". */
const char *tt_role_name(enum tt_role role);

/* The role of param key = value of one trial. framework: the trial's
 * (leaf "framework"), or NULL; exe: its program (path or basename) or NULL;
 * source: the param's ("argv", "file:<name>", "env", "adapter") or NULL;
 * files may be NULL. why (whylen > 0) receives the reason, one short phrase
 * without trial-specific text ("restates libsvm.C", "names a file the trial
 * wrote"), so that trials with one role give one reason. */
enum tt_role tt_param_role(const char *framework, const char *exe, const char *key,
                           const char *value, const char *source,
                           const struct tt_role_files *files, char *why, size_t whylen);

/* 1 when a param's source says the program did not set it: "adapter" (an
 * adapter reports every field, set or not) and "<hook>:default" (a hook that
 * knows, e.g. "argparse:default": the parser's default, not on the command
 * line). The ledger's "set explicitly" needs some trial with another source. */
int tt_source_unset(const char *source);

#endif
