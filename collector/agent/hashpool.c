/* hashpool.c - see hashpool.h. A FIFO of jobs to hash and a stack of
 * finished ones, both under one mutex; the owner thread keeps an array of
 * jobs in flight for deduplication and the cache. */
#include "hashpool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hashcache.h"

struct tt_hashpool {
    tt_hashcache *hc;
    unsigned nthreads, started;
    pthread_t *th;
    int efd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    struct hashpool_job *todo, *todo_tail;
    struct hashpool_job *finished;
    int stop;
    /* owner thread only */
    struct hashpool_job **fl; /* in flight: queued, being hashed, or finished uncollected */
    size_t nfl, cfl;
    unsigned long reads;
};

/* Worker side: hashes the job's fd (which it then closes) and notes whether
 * the file kept its stat while being read. */
static void hash_job(struct hashpool_job *j)
{
    struct stat st2;
    j->err = hashcache_sha256_fd(j->fd, j->sha) < 0 ? errno : 0;
    j->cacheable = !j->err && fstat(j->fd, &st2) == 0 && hashcache_same_key(&j->st, &st2);
    close(j->fd);
    j->fd = -1;
}

static void *worker(void *arg)
{
    tt_hashpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !p->todo)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        struct hashpool_job *j = p->todo;
        p->todo = j->next;
        if (!p->todo)
            p->todo_tail = NULL;
        pthread_mutex_unlock(&p->mu);
        hash_job(j);
        pthread_mutex_lock(&p->mu);
        j->next = p->finished;
        p->finished = j;
        /* written under the lock so hashpool_free never closes efd under us */
        uint64_t one = 1;
        (void)!write(p->efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tt_hashpool *hashpool_new(unsigned nthreads)
{
    tt_hashpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->efd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!(p->hc = hashcache_new()))
        goto err;
    if (nthreads == 0)
        return p;
    if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        goto err;
    if (!(p->th = calloc(nthreads, sizeof *p->th)))
        goto err;
    p->nthreads = nthreads;
    /* Workers start with every signal blocked: the agent takes SIGCHLD and
     * the forwarded signals from a signalfd, which sees only signals that no
     * thread has unblocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = 0;
    for (; p->started < nthreads && !e; p->started++)
        e = pthread_create(&p->th[p->started], NULL, worker, p);
    if (e)
        p->started--;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        errno = e;
        goto err;
    }
    return p;
err:;
    int saved = errno;
    hashpool_free(p);
    errno = saved;
    return NULL;
}

void hashpool_free(tt_hashpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    /* every queued or finished job is also in fl */
    for (size_t i = 0; i < p->nfl; i++) {
        if (p->fl[i]->fd >= 0)
            close(p->fl[i]->fd);
        free(p->fl[i]);
    }
    free(p->fl);
    free(p->th);
    if (p->efd >= 0)
        close(p->efd);
    hashcache_free(p->hc);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int hashpool_fd(const tt_hashpool *p) { return p->efd; }

size_t hashpool_inflight(const tt_hashpool *p) { return p->nfl; }

unsigned long hashpool_reads(const tt_hashpool *p) { return p->reads; }

void hashpool_put(tt_hashpool *p, struct hashpool_job *j)
{
    (void)p;
    if (j && --j->refs == 0) {
        if (j->fd >= 0)
            close(j->fd);
        free(j);
    }
}

static void finish(tt_hashpool *p, struct hashpool_job *j)
{
    j->done = 1;
    if (!j->err && j->cacheable)
        hashcache_put(p->hc, &j->st, j->sha); /* ENOMEM: only a later re-read */
}

struct hashpool_job *hashpool_get(tt_hashpool *p, const char *path)
{
    struct hashpool_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->refs = 1;
    j->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (j->fd < 0 || fstat(j->fd, &j->st) < 0) {
        j->err = errno;
        goto done;
    }
    j->has_st = 1;
    if (!S_ISREG(j->st.st_mode)) {
        j->err = EINVAL;
        goto done;
    }
    if (hashcache_lookup(p->hc, &j->st, j->sha))
        goto done;
    for (size_t i = 0; i < p->nfl; i++)
        if (hashcache_same_key(&p->fl[i]->st, &j->st)) {
            close(j->fd);
            free(j);
            p->fl[i]->refs++;
            return p->fl[i];
        }
    p->reads++;
    if (p->nthreads == 0) {
        hash_job(j);
        finish(p, j);
        return j;
    }
    if (p->nfl == p->cfl) {
        size_t nc = p->cfl ? p->cfl * 2 : 16;
        struct hashpool_job **nf = realloc(p->fl, nc * sizeof *nf);
        if (!nf) {
            close(j->fd);
            free(j);
            return NULL;
        }
        p->fl = nf;
        p->cfl = nc;
    }
    p->fl[p->nfl++] = j;
    j->refs++; /* the in-flight table's */
    j->inflight = 1;
    pthread_mutex_lock(&p->mu);
    j->next = NULL;
    if (p->todo_tail)
        p->todo_tail->next = j;
    else
        p->todo = j;
    p->todo_tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return j;
done:
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    j->done = 1;
    return j;
}

size_t hashpool_collect(tt_hashpool *p)
{
    if (p->efd < 0)
        return 0;
    uint64_t v;
    (void)!read(p->efd, &v, sizeof v); /* reset before taking the list: a later finish re-arms it */
    pthread_mutex_lock(&p->mu);
    struct hashpool_job *list = p->finished;
    p->finished = NULL;
    pthread_mutex_unlock(&p->mu);
    size_t n = 0;
    while (list) {
        struct hashpool_job *j = list;
        list = j->next;
        finish(p, j);
        for (size_t i = 0; i < p->nfl; i++)
            if (p->fl[i] == j) {
                p->fl[i] = p->fl[--p->nfl];
                break;
            }
        j->inflight = 0;
        hashpool_put(p, j);
        n++;
    }
    return n;
}

void hashpool_wait(tt_hashpool *p)
{
    while (p->nfl > 0) {
        struct pollfd pfd = {p->efd, POLLIN, 0};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return;
        hashpool_collect(p);
    }
}
