/* shim_pb.h - the shim's own protobuf encoder: just enough of the wire
 * format to write the messages of proto/tunetrail.proto that the shim (and
 * the framework adapters) emit, so libtunetrail.so links only libc.
 *
 * RATIONALE: the protobuf-c runtime and the generated descriptors cost a
 * library load, relocations and ~7 page faults in every process the shim
 * enters; the shim only ever *writes* a handful of flat messages. The agent
 * and the collector still decode with protobuf-c, and
 * tests/unit/test_shim_pb.c decodes every kind written here with
 * tunetrail__batch__unpack, so this file cannot drift from the schema
 * unnoticed.
 *
 * Writing: a pb_w covers a caller's buffer; every put appends. A put that
 * does not fit sets w->err and writes nothing more (later puts are no-ops),
 * so callers check err once at the end. No allocation, no global state, no
 * libc calls beyond memcpy/memmove/strlen: async-signal-safe.
 *
 * Error convention: writers never fail individually; pb_w.err = 1 after any
 * overflow (the buffer's content is then unusable).
 */
#ifndef TT_SHIM_PB_H
#define TT_SHIM_PB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* ---- field numbers and enum values: proto/tunetrail.proto ------------------
 * ONE table, keep it in step with the .proto (numbers are never reused there,
 * so entries here only ever get added). X(message, field, number). */
#define SHIM_PB_FIELDS(X)                                                                  \
    X(BATCH, SCHEMA_VERSION, 1) X(BATCH, SENDER, 2) X(BATCH, BATCH_SEQ, 3)                 \
    X(BATCH, EVENTS, 4) X(BATCH, STATUS_REQUEST, 80)                                       \
    X(EVENT, ORIGIN, 1) X(EVENT, SEQ, 2) X(EVENT, TIME_NS, 3)                              \
    X(EVENT, SESSION_START, 10) X(EVENT, SESSION_END, 11) X(EVENT, PROCESS_START, 12)      \
    X(EVENT, PROCESS_END, 13) X(EVENT, FILE_ACCESS, 14) X(EVENT, TRIAL_START, 15)          \
    X(EVENT, PARAM, 16) X(EVENT, METRIC, 17) X(EVENT, TRIAL_END, 18) X(EVENT, NOTE, 19)    \
    X(FILE_STAT, DEV, 1) X(FILE_STAT, INO, 2) X(FILE_STAT, SIZE, 3)                        \
    X(FILE_STAT, MTIME_NS, 4)                                                              \
    X(PROCESS_START, PROCESS, 1) X(PROCESS_START, SESSION, 2) X(PROCESS_START, PARENT, 3)   \
    X(PROCESS_START, RELATION, 4) X(PROCESS_START, PID, 5) X(PROCESS_START, PPID, 6)       \
    X(PROCESS_START, EXE, 7) X(PROCESS_START, EXE_STAT, 8) X(PROCESS_START, EXE_SHA256, 9)  \
    X(PROCESS_START, ARGV, 10) X(PROCESS_START, CWD, 11) X(PROCESS_START, HOST, 12)        \
    X(PROCESS_START, UID, 13) X(PROCESS_START, USER, 14) X(PROCESS_START, ENV, 15)         \
    X(PROCESS_START, STUDY, 16) X(PROCESS_START, GIT_COMMIT, 17)                           \
    X(PROCESS_START, GIT_DIRTY, 18) X(PROCESS_START, FRAMEWORKS, 40)                       \
    X(PROCESS_START, UNATTACHED, 41) X(PROCESS_START, EVALUATOR, 42)                       \
    X(PROCESS_END, PROCESS, 1) X(PROCESS_END, HOW, 2) X(PROCESS_END, EXIT_CODE, 3)         \
    X(PROCESS_END, SIGNAL, 4) X(PROCESS_END, UTIME_US, 5) X(PROCESS_END, STIME_US, 6)      \
    X(PROCESS_END, MAXRSS_KB, 7) X(PROCESS_END, FRAMEWORKS, 40)                            \
    X(FILE_ACCESS, PROCESS, 1) X(FILE_ACCESS, PATH, 2) X(FILE_ACCESS, MODE, 3)             \
    X(FILE_ACCESS, STAT, 4) X(FILE_ACCESS, CLOSED, 5) X(FILE_ACCESS, SHA256, 6)            \
    X(FILE_ACCESS, ERROR, 7) X(FILE_ACCESS, ENVIRONMENT, 60) X(FILE_ACCESS, PACKAGES, 61)  \
    X(TRIAL_START, TRIAL, 1) X(TRIAL_START, PROCESS, 2) X(TRIAL_START, FRAMEWORK, 3)       \
    X(TRIAL_START, OPENED_BY, 4) X(TRIAL_START, INDEX, 5)                                  \
    X(PARAM, TRIAL, 1) X(PARAM, KEY, 2) X(PARAM, VALUE, 3) X(PARAM, SOURCE, 4)             \
    X(METRIC, TRIAL, 1) X(METRIC, NAME, 2) X(METRIC, VALUE, 3) X(METRIC, STEP, 4)          \
    X(METRIC, SPLIT, 5) X(METRIC, DIRECTION, 6)                                            \
    X(TRIAL_END, TRIAL, 1) X(TRIAL_END, STATUS, 2) X(TRIAL_END, ERROR, 3)                  \
    X(NOTE, PROCESS, 1) X(NOTE, LEVEL, 2) X(NOTE, TEXT, 3)                                \
    X(EVENT, PREDICTIONS, 20)                                                              \
    X(PREDICTIONS, TRIAL, 1) X(PREDICTIONS, KIND, 2) X(PREDICTIONS, N, 3)                  \
    X(PREDICTIONS, OFFSET, 4) X(PREDICTIONS, COUNT, 5) X(PREDICTIONS, CORRECT, 6)          \
    X(PREDICTIONS, VALUE, 7) X(PREDICTIONS, LABEL, 8) X(PREDICTIONS, FOLD, 9)              \
    X(PREDICTIONS, NR_FOLD, 10) X(PREDICTIONS, LABELS_FNV, 11)

/* Enum values, same rule. X(enum, value name, number). */
#define SHIM_PB_ENUMS(X)                                                                   \
    X(SCHEMA, VERSION, 1)                                                                  \
    X(REL, UNKNOWN, 0) X(REL, ROOT, 1) X(REL, FORK, 2) X(REL, EXEC, 3)                     \
    X(END, UNKNOWN, 0) X(END, EXIT, 1) X(END, SIGNAL, 2) X(END, EXEC, 3) X(END, KILLED, 4)  \
    X(MODE, READ, 0) X(MODE, WRITE, 1) X(MODE, READWRITE, 2)                               \
    X(TRIAL, UNSPECIFIED, 0) X(TRIAL, OK, 1) X(TRIAL, FAILED, 2) X(TRIAL, CRASHED, 3)      \
    X(TRIAL, KILLED, 4)                                                                    \
    X(PRED, UNKNOWN, 0) X(PRED, CORRECT, 1) X(PRED, VALUE, 2) X(PRED, FOLD_SCORE, 3)

/* PB_F_<MESSAGE>_<FIELD> (e.g. PB_F_EVENT_PROCESS_END) and PB_<ENUM>_<NAME>
 * (e.g. PB_END_SIGNAL). */
enum shim_pb_field {
#define F(m, f, n) PB_F_##m##_##f = n,
    SHIM_PB_FIELDS(F)
#undef F
};
enum shim_pb_enum {
#define E(e, v, n) PB_##e##_##v = n,
    SHIM_PB_ENUMS(E)
#undef E
};

/* ---- writer ------------------------------------------------------------ */

struct pb_w {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err; /* 1 once anything did not fit */
};

/* Length-delimited fields are written with room for a 3-byte length, then
 * closed up: bodies are capped at 2 MiB - 1 (our datagrams are <= 64 KiB). */
#define PB_LEN_RESERVE 3
#define PB_LEN_MAX ((1u << 21) - 1)

/* Covers buf[cap]; nothing is written yet. */
void pb_init(struct pb_w *w, void *buf, size_t cap);

/* Raw varint; tag = (field << 3 | wire type). */
void pb_varint(struct pb_w *w, uint64_t v);
void pb_tag(struct pb_w *w, unsigned field, unsigned wire_type);

/* Scalar fields. Signed ints are written as protobuf int32/int64 (two's
 * complement varint: a negative int32 takes 10 bytes, as the spec says). */
void pb_u64(struct pb_w *w, unsigned field, uint64_t v);
void pb_i64(struct pb_w *w, unsigned field, int64_t v);
void pb_bool(struct pb_w *w, unsigned field, int v);
void pb_double(struct pb_w *w, unsigned field, double v);
void pb_fixed64(struct pb_w *w, unsigned field, uint64_t bits);
/* A packed repeated double (nothing for n == 0). */
void pb_doubles(struct pb_w *w, unsigned field, const double *v, size_t n);
#define pb_u32(w, f, v) pb_u64((w), (f), (uint32_t)(v))
#define pb_i32(w, f, v) pb_i64((w), (f), (int32_t)(v))
#define pb_enum(w, f, v) pb_i64((w), (f), (int32_t)(v))

/* bytes / string fields. pb_str writes nothing for NULL. */
void pb_bytes(struct pb_w *w, unsigned field, const void *p, size_t n);
void pb_str(struct pb_w *w, unsigned field, const char *s);

/* A submessage (or a bytes/string field filled in place): pb_begin writes the
 * tag, reserves the length and returns a mark for pb_end, which fills in the
 * length and closes the gap. Nest freely; end in reverse order. */
size_t pb_begin(struct pb_w *w, unsigned field);
void pb_end(struct pb_w *w, size_t mark);

/* In-place filling between pb_begin and pb_end: the free space (NULL and 0
 * after an overflow), and a commit of n bytes written there. */
uint8_t *pb_room(struct pb_w *w, size_t *avail);
void pb_advance(struct pb_w *w, size_t n);

/* ---- message helpers shared by the shim and the adapters --------------- */

/* FileStat{dev, ino, size, mtime_ns} from st as field `field`. */
void shim_pb_file_stat(struct pb_w *w, unsigned field, const struct stat *st);

/* Opens Batch.events[] + Event{origin, seq, time_ns} + the oneof member
 * `kind` (a PB_F_EVENT_* number). Write the member's fields, then call
 * shim_pb_event_end with the returned marks. */
struct shim_pb_ev {
    size_t event, kind;
};
struct shim_pb_ev shim_pb_event_begin(struct pb_w *w, const uint8_t origin[16], uint64_t seq,
                                      int64_t time_ns, unsigned kind);
void shim_pb_event_end(struct pb_w *w, struct shim_pb_ev m);

/* Writes the Batch header fields (schema_version, sender, batch_seq) into
 * out[cap]; returns the byte count (at most SHIM_PB_BATCH_HDR_MAX). */
#define SHIM_PB_BATCH_HDR_MAX 32
size_t shim_pb_batch_header(uint8_t *out, const uint8_t sender[16], uint64_t batch_seq);

#endif
