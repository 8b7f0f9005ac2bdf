/* shim.h - internals of libtunetrail.so, shared by the logic modules
 * (plugin/shim_*.c, linked into unit tests) and the interposers
 * (plugin/hook_*.c, only in the shared library).
 *
 * Everything here is hidden (-fvisibility=hidden); nothing is exported.
 *
 * Error convention: functions return 0 on success and -1 on failure; they never
 * print (only shim_debug does, and only with TUNETRAIL_DEBUG=1) and never
 * change errno as seen by the host program (callers save/restore it).
 * No function here allocates: all storage is static or on the caller's stack.
 *
 * Table of contents:
 *   shim_config_*  TUNETRAIL_* read once at load into static storage
 *   shim_path_*    making paths absolute, deciding which files to record
 *   shim_env_*     the environment handed to exec'd/spawned children
 *   pb_*, shim_pb_* the protobuf writer (shim_pb.h): the shim links only libc
 *   shim_batch_*   appending packed events into a Batch datagram
 *   shim_conn_*    the one connection to the agent, or the spool file
 *   shim_proc_*    process identity, start/end records, fork, exec
 *   shim_file_*    FileAccess records and the written-fd table
 *   shim_sig_*     fatal-signal handlers that step aside for the program's
 *   shim_real_*    the next definition of every interposed function
 */
#ifndef TT_SHIM_H
#define TT_SHIM_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tt_env.h"
#include "shim_pb.h"
#include "wire.h"

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

/* Small state that (nearly) every process touches goes here: .data sits in
 * the page the loader already wrote while relocating us, while .bss objects
 * land wherever the link puts them, behind 1 MiB of buffers, at a page fault
 * (~12 us) each. Zero-initialised objects only. */
#define SHIM_HOT __attribute__((section(".data.shim_hot")))

/* ---- configuration (shim_config.c) ------------------------------------ */

/* Caps: every record must fit one datagram, so huge argv/env are truncated. */
#define SHIM_DGRAM_MAX (64 * 1024)     /* TT_SHIM_DGRAM_MAX in INTERNALS.md */
#define SHIM_ARGV_BYTES_MAX (24 * 1024) /* total argv text in a ProcessStart */
#define SHIM_ARG_MAX (4 * 1024)         /* one argument */
#define SHIM_ARGC_MAX 1024
#define SHIM_KEEP_MAX 8                 /* entries of TT_ENV_KEEP_LIST */
#define SHIM_ENVVAL_MAX 1024            /* a kept variable "NAME=value" */
#define SHIM_TRUNC_MARK "...[tunetrail: truncated]"

/* Room for every string below at its cap (sock 108, study 256, three paths,
 * hint 128, keep entries). They are packed from the start of `pool`, so a
 * process touches only the bytes its configuration uses, not one page per
 * fixed-size array. */
#define SHIM_CFG_POOL (108 + 256 + 3 * PATH_MAX + 128 + SHIM_KEEP_MAX * SHIM_ENVVAL_MAX)

struct shim_config {
    int enabled;                 /* 0: AT_SECURE or no usable config: pass everything through */
    int debug;                   /* TUNETRAIL_DEBUG=1 */
    int have_sock;               /* TUNETRAIL_SOCK set: talk to the agent */
    int have_session;
    uint8_t session[TT_UUID_LEN];
    const char *sock;            /* sun_path (< 108 bytes); "" if unset */
    const char *study;           /* "" if unset */
    const char *spool_dir;       /* <TUNETRAIL_HOME>/spool; "" if no home */
    const char *self_path;       /* this library, for children's LD_PRELOAD; "" if unknown */
    const char *parent_hint;     /* TUNETRAIL_PARENT as found at load; "" if unset */
    const char *python_dir;      /* TUNETRAIL_PYTHON if absolute: the hook's files, never recorded; "" */
    size_t python_dir_len;
    int nkeep;
    const char *keep[SHIM_KEEP_MAX]; /* "NAME=value" of TT_ENV_KEEP_LIST set at load */
    size_t used;                 /* bytes of pool in use */
    char pool[SHIM_CFG_POOL];
};

SHIM_HIDDEN extern struct shim_config shim_cfg;

/* Fills cfg from envp (never from the live environ, so tests can pass their
 * own). self_path may be NULL. Does not touch the file system, does not call
 * stdio (keeps printf's pages out of every process). Returns 0. The strings
 * point into cfg->pool (or a static ""). */
SHIM_HIDDEN int shim_config_load(struct shim_config *cfg, char *const envp[], const char *self_path);

/* Value of NAME in envp, or NULL. */
SHIM_HIDDEN const char *shim_config_getenv(char *const envp[], const char *name);

/* Writes "tunetrail-shim: <msg>\n" to stderr if debugging is on. Not
 * async-signal-safe (uses vsnprintf); never called from the crash path. */
SHIM_HIDDEN void shim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- paths (shim_path.c) ---------------------------------------------- */

/* Lexically normalises an absolute path in place: collapses "//", drops "."
 * and resolves ".." against the preceding component (symlinks are not
 * followed: the agent stats the path as the program named it). */
SHIM_HIDDEN void shim_path_normalize(char *path);

/* Makes `path` (as passed to openat with dirfd) absolute into out[cap]:
 * relative to cwd for AT_FDCWD, else to readlink(/proc/self/fd/<dirfd>).
 * Returns 0, or -1 if it cannot (too long, dirfd unknown). */
SHIM_HIDDEN int shim_path_absolute(int dirfd, const char *path, char *out, size_t cap);

/* 1 if an absolute path is never recorded (/proc, /sys, /dev). */
SHIM_HIDDEN int shim_path_skip(const char *abs);

/* 1 if an absolute, normalised path is tunetrail's own: under the Python
 * hook's directory (shim_cfg.python_dir). */
SHIM_HIDDEN int shim_path_ours(const char *abs);

/* ---- children's environment (shim_env.c) ------------------------------ */

struct shim_env_ctx {
    const char *self_path;    /* our library, added to LD_PRELOAD if missing */
    const char *parent_hint;  /* "TUNETRAIL_PARENT=<hex>:<pid>" */
    int nkeep;
    const char *const *keep;  /* "NAME=value": the child gets these values, whatever envp says */
};

/* Upper bounds for the storage shim_env_build needs for envp. */
SHIM_HIDDEN size_t shim_env_slots(char *const envp[], int nkeep);
SHIM_HIDDEN size_t shim_env_bytes(char *const envp[], const char *self_path);

/* Builds the child's environment into out[slots] (NULL-terminated), using
 * strbuf[bytes] for the new LD_PRELOAD string: envp's entries (envp may be
 * NULL), minus any TUNETRAIL_PARENT, with LD_PRELOAD containing self_path
 * (other entries kept), each keep entry (in place of envp's own value for
 * its name, or added), and the parent hint. Points into envp, ctx and strbuf; copies nothing else; async-signal
 * and vfork safe. Returns the number of entries, or -1 if storage is short. */
SHIM_HIDDEN int shim_env_build(char *const envp[], const struct shim_env_ctx *ctx, char **out,
                               size_t slots, char *strbuf, size_t bytes);

/* ---- batches (shim_batch.c) ------------------------------------------- */

/* A Batch datagram under construction. Events are appended after a gap
 * reserved for the header, which is written right before sending because
 * batch_seq is only known then. Only used when the socket refused a datagram
 * (EAGAIN) or an event is too big for the small send buffer, so its 64 KiB
 * stay untouched (no page faults) in a normal process. */
#define SHIM_BATCH_HDR_MAX SHIM_PB_BATCH_HDR_MAX
struct shim_batch {
    size_t len;                          /* bytes of packed events */
    uint8_t buf[SHIM_DGRAM_MAX];         /* [SHIM_BATCH_HDR_MAX gap][events] */
};

/* Points *w at the room left after b's events. Async-signal-safe. */
SHIM_HIDDEN void shim_batch_writer(struct shim_batch *b, struct pb_w *w);

/* Keeps what w (from shim_batch_writer) wrote. Returns 0, or -1 (nothing
 * kept) if it overflowed. Async-signal-safe. */
SHIM_HIDDEN int shim_batch_commit(struct shim_batch *b, const struct pb_w *w);

/* Writes the header (schema_version, sender, batch_seq) in front of the
 * events and returns a pointer to the whole datagram, *len its size. The
 * buffer stays valid until the next append or reset. Async-signal-safe. */
SHIM_HIDDEN const uint8_t *shim_batch_finish(struct shim_batch *b, const uint8_t sender[TT_UUID_LEN],
                                             uint64_t batch_seq, size_t *len);

/* The same for events packed by the caller at `events`, which must have
 * SHIM_BATCH_HDR_MAX writable bytes in front of it (the small send buffer,
 * the crash path's stack datagram). Returns the datagram start. */
SHIM_HIDDEN uint8_t *shim_batch_frame(uint8_t *events, size_t elen, const uint8_t sender[TT_UUID_LEN],
                                      uint64_t batch_seq, size_t *len);

/* Space left for events. */
SHIM_HIDDEN size_t shim_batch_room(const struct shim_batch *b);

/* One event to emit: `kind` is the Event oneof member (PB_F_EVENT_*), `body`
 * writes that member's fields with w from `arg`. body may run twice (retry
 * into a bigger buffer), so it must only write. */
typedef void (*shim_body_fn)(struct pb_w *w, const void *arg);
struct shim_event {
    unsigned kind;
    shim_body_fn body;
    const void *arg;
};

/* ---- connection / spool (shim_conn.c) --------------------------------- */

/* Sends or spools `ev` (origin/seq/time filled in here), sending a pending
 * fork child's ProcessStart first. Takes the shim lock; safe from any thread.
 * Not for the crash path. Returns 0/-1. */
SHIM_HIDDEN int shim_emit(const struct shim_event *ev);

/* Like shim_emit, but leaves ev in the batch (no send) until the batch is
 * full or the next shim_emit, which sends it first (additive, for events
 * that come in numbers: adapter params and metrics). Returns 0/-1. */
SHIM_HIDDEN int shim_emit_later(const struct shim_event *ev);

/* Crash path: like shim_emit but async-signal-safe; if the lock is held it
 * sends its own stack-built datagram. */
SHIM_HIDDEN void shim_emit_crash(const struct shim_event *ev);

/* Sends a pending ProcessStart now (at load). Takes the lock. */
SHIM_HIDDEN void shim_conn_start(void);

/* Sends what is buffered; on failure spools it. Takes the lock. */
SHIM_HIDDEN void shim_conn_flush(void);

/* Forgets the inherited connection, spool (closing our copies: the child
 * must not hold the parent's spool lock) and buffer (fork child). Lock-free:
 * only called where no other thread exists. */
SHIM_HIDDEN void shim_conn_reset_child(void);

/* 1 if fd is one of the shim's own (connection or spool). */
SHIM_HIDDEN int shim_conn_owns_fd(int fd);

/* Path of this image's spool file into out[cap]. Returns 0/-1.
 * While a shim appends to its spool it holds flock(LOCK_EX) on it (taken
 * when it opens the spool, released when the process ends), so
 * `tunetrail flush` can skip live spools with flock(LOCK_EX|LOCK_NB). */
SHIM_HIDDEN int shim_conn_spool_path(char *out, size_t cap);

/* ---- process identity (shim_proc.c) ----------------------------------- */

struct shim_proc {
    uint8_t uuid[TT_UUID_LEN];
    uint8_t parent[TT_UUID_LEN];
    int have_parent;
    int relation;                /* PB_REL_* */
    pid_t pid;                   /* pid this identity belongs to */
    pid_t parent_pid;            /* pid of `parent` (fork child) */
    int start_pending;           /* fork child: ProcessStart not yet sent */
    int end_sent;
    int code_known;              /* exit code recorded by main/exit wrappers */
    int exit_code;
    uint64_t seq;                /* next event seq (atomic) */
    uint64_t batch_seq;          /* next datagram seq */
    int argc;
    char **argv;
    uint32_t fw_loaded;          /* bit i: row i of the adapter table has its library mapped */
};

SHIM_HIDDEN extern struct shim_proc shim_proc;

/* Adds to shim_proc.fw_loaded the adapters whose library is mapped now
 * (dl_iterate_phdr: takes the loader's lock, so never from a signal
 * handler). At load, and again at a non-zero exit for a late dlopen. */
SHIM_HIDDEN void shim_proc_scan_frameworks(void);

/* Load-time setup: identity, parent from the hint, handlers. Sends
 * ProcessStart. envp is the one glibc passed to the constructor. */
SHIM_HIDDEN void shim_proc_init(int argc, char **argv, char **envp);

/* Builds and sends this image's ProcessStart now, clearing start_pending.
 * The shim lock must be held (its scratch space is static). Uses only
 * async-signal-safe calls. Returns 0/-1. */
SHIM_HIDDEN int shim_proc_send_start_locked(void);

/* Appends ev to the buffer and hands it over (lock held); final = flush now
 * even if the socket is full (spooling it). Returns 0/-1. */
SHIM_HIDDEN int shim_conn_append_locked(const struct shim_event *ev, int final);

/* Records the exit code seen by the main/exit wrappers. */
SHIM_HIDDEN void shim_proc_note_exit(int code);

/* Sends ProcessEnd{how (PB_END_*), code or signal} once (EXEC may be undone). Sends a
 * pending fork child's ProcessStart first. how=SIGNAL is async-signal-safe. */
SHIM_HIDDEN void shim_proc_end(int how, int code, int sig);

/* Fork child: new identity, parent = old identity, lazy start. */
SHIM_HIDDEN void shim_proc_forked_child(void);

/* 1 if we run in a vfork child (or a raw clone) that shares our memory: touch
 * nothing. Costs one getpid(). */
SHIM_HIDDEN int shim_proc_foreign(void);

/* Writes "TUNETRAIL_PARENT=<hex>:<pid>" for a child about to be exec'd or
 * spawned into out[cap]. Async-signal and vfork safe. */
SHIM_HIDDEN void shim_proc_parent_hint(char *out, size_t cap);

/* Before an exec in this image: ProcessEnd{EXEC} and flush. After a failed
 * exec: shim_proc_exec_failed() so the real end is sent later. */
SHIM_HIDDEN void shim_proc_before_exec(void);
SHIM_HIDDEN void shim_proc_exec_failed(void);

/* ---- files (shim_file.c) ---------------------------------------------- */

#define SHIM_WFD_MAX 256 /* written files open at once that we track */

/* After a successful open of `path` (relative to dirfd) returning fd with
 * open(2) flags: records FileAccess and tracks write fds. Keeps errno. */
SHIM_HIDDEN void shim_file_opened(int dirfd, const char *path, int fd, int flags);

/* Open flags equivalent to an fopen mode string. */
SHIM_HIDDEN int shim_file_fopen_flags(const char *mode);

/* A written file being closed, taken out of the table before the real close
 * (another thread may get the same fd number the moment it is closed). */
struct shim_wfd {
    int fd; /* -1: free / not tracked */
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX];
};

/* Before the real close of fd: if fd is a tracked written file, moves its
 * entry into *w and returns 1 (then call shim_file_closed(w) after the real
 * close); else returns 0. Lock-free when nothing is tracked. */
SHIM_HIDDEN int shim_file_closing(int fd, struct shim_wfd *w);

/* After the real close: FileAccess{closed, stat now} if the path still names
 * the file that was open. Keeps errno. */
SHIM_HIDDEN void shim_file_closed(const struct shim_wfd *w);

/* Fork child: forgets the parent's written fds (the parent reports their
 * closes; a child that only closes its copies before exec leaves no record). */
SHIM_HIDDEN void shim_file_reset_child(void);

/* ---- signals (shim_sig.c) --------------------------------------------- */

/* Installs our handler for each fatal signal whose disposition is SIG_DFL. */
SHIM_HIDDEN void shim_sig_install(void);

/* 1 if we currently hold sig's disposition (the program never set one). */
SHIM_HIDDEN int shim_sig_ours(int sig);

/* The program set its own disposition for sig: we step aside for good. */
SHIM_HIDDEN void shim_sig_released(int sig);

/* ---- processes the shim is not in (shim_outside.c) -------------------- */

/* A wait call of this process reaped pid with wait status ws: when a signal
 * ended it, Note{level "wait", {"pid":N,"wait_status":N}} tells the agent,
 * which ends that child's image from it if the child's shim could not (a
 * handler reset to SIG_DFL, a stack overflow). Async-signal-safe: programs
 * reap in SIGCHLD handlers. */
SHIM_HIDDEN void shim_outside_child_ended(pid_t pid, int ws);

/* Why the program at path (as exec would find it: a name without '/' is
 * looked up in $PATH) would run without the shim: "setuid" / "setgid" when
 * it changes our ids (the loader then ignores LD_PRELOAD), else NULL.
 * Stack only: runs in vfork children. */
SHIM_HIDDEN const char *shim_outside_unenterable(const char *path, int search);

/* This image is about to exec (or spawn) such a program: Note{level
 * "unentered", "<why> <path>"}, for the run's summary line. In a vfork child
 * the note goes as a datagram of its own (stack and system calls only). */
SHIM_HIDDEN void shim_outside_note_unentered(const char *why, const char *path);

/* ---- real functions (shim_real.c) ------------------------------------- */

/* Thread-local re-entrancy flag: while set, interposers pass straight through
 * (dlsym and our own logic may call functions we interpose). */
SHIM_HIDDEN extern __thread int shim_busy __attribute__((tls_model("initial-exec")));

/* dlsym(RTLD_NEXT, name), resolved once into *slot; returns NULL while a
 * resolution is in progress on this thread (callers then use a syscall). */
SHIM_HIDDEN void *shim_real(void **slot, const char *name);

/* The next sigaction, for our own installs (bypasses our wrapper). */
SHIM_HIDDEN int shim_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
