/* Temporary stubs so the tree links while the store is written; deleted when
 * collector/store_sqlite.c, collector/ingest.c and collector/query.c land. */
#include <stdio.h>
#include "cli.h"
#include "store.h"
int cmd_studies(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
int cmd_trials(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
int cmd_show(int argc, char **argv) { fputs("not built yet\n", stderr); return 1; }
tt_store *store_open(const char *path, int flags, char *err, size_t errlen) { snprintf(err, errlen, "not built yet"); return NULL; }
void store_close(tt_store *st) {}
int ingest_batch(tt_store *st, const uint8_t *buf, size_t len, struct ingest_result *res) { res->status = INGEST_RETRY; return -1; }
