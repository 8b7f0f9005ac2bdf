/* hook.h - the contract of every interposer: plugin/hook_*.c (files, exec,
 * exit, signals, stdio) and adapters/hook_*.c (frameworks, through
 * adapter.h, which adds their opening, adapter_open). The logic hooks call
 * is in shim.h and adapter.h.
 *
 * Export: a hook is a plain global function with the interposed symbol's
 * name and prototype, and no visibility attribute. plugin/libtunetrail.map
 * is the one list of what the library exports (local: * hides the rest);
 * tests/e2e/shim_exports.sh checks that the map, the hook objects and the
 * library agree. A hook_*.c file therefore defines no other global symbol:
 * its helpers and state are static.
 *
 * The shape of every hook (Darshan's, minus its exit on a missing symbol):
 *   1. resolve the next definition lazily: real = HOOK_NEXT(&slot, fn),
 *      slot a `static void *` of the hook (adapters: adapter_site.next);
 *   2. if it is missing (NULL): fall back to the raw system call where there
 *      is one, else return the function's failure value with errno ENOSYS
 *      (adapters: adapter_open() does this); never abort;
 *   3. call it with the caller's arguments and return its result untouched,
 *      errno as it left it; anything recorded saves and restores errno.
 *
 * RATIONALE (no macros that declare or return): HOOK_NEXT is an expression;
 * every local, every early return and every lock a hook holds is written in
 * the hook, where a reader of that hook sees it (Darshan's MAP_OR_FAIL and
 * friends hide both, and its exit(1) on a missing symbol with them).
 *
 * RATIONALE (typed by the hook itself): __typeof__(&fn) gives the real
 * function the prototype of the system header (or of the hook's own
 * definition), so a hook cannot call its real function with another
 * signature than the one it interposes.
 */
#ifndef TT_HOOK_H
#define TT_HOOK_H

#include "shim.h"

/* The next definition of fn after this library, typed as fn; NULL if there
 * is none, or while it is being resolved on this thread (dlsym re-entering
 * us). *slot caches it (a static of the hook, NULL at first). */
#define HOOK_NEXT(slot, fn) ((__typeof__(&(fn)))shim_real((slot), #fn))

#endif
