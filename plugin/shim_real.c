/* shim_real.c - resolving the next definition of interposed functions; see
 * shim.h.
 *
 * RATIONALE: dlsym may itself call malloc, open or fopen (dlerror buffers,
 * locale files). The busy flag makes every interposer pass straight through
 * while we are inside dlsym or our own logic, and a hook re-entered during its
 * own resolution gets NULL back and falls back to the raw system call. */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>

SHIM_HIDDEN __thread int shim_busy __attribute__((tls_model("initial-exec")));
static __thread int resolving __attribute__((tls_model("initial-exec")));

void *shim_real(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f)
        return f;
    if (resolving)
        return NULL;
    int saved = errno;
    resolving = 1;
    shim_busy++;
    f = dlsym(RTLD_NEXT, name);
    shim_busy--;
    resolving = 0;
    errno = saved;
    if (f)
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    return f;
}

int shim_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    static void *p;
    int (*f)(int, const struct sigaction *, struct sigaction *) = shim_real(&p, "sigaction");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(sig, act, old);
}
