/* Thread pool. A decode step hands the pool ~8 runs per layer, each a few
 * hundred microseconds long, so the hand-off must cost far less than that.
 * A futex wake-up per run measured tens of microseconds here (two threads
 * scaled only 1.2x), so workers spin on an atomic generation counter for a
 * short while after each run and sleep on the condition variable only when
 * no run comes: an idle engine still costs no CPU after SPIN_NS. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "weft/error.h"
#include "weft/time.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a worker spins for the next run before it sleeps. */
#define SPIN_NS 2000000ull

struct weft_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int sleepers; /* workers waiting on `wake`, under mu */
    /* A run: fn, ctx and n_tasks are written before generation is bumped
     * (release) and read after it is seen (acquire). */
    weft_pool_fn fn;
    void *ctx;
    int n_tasks;
    atomic_ulong generation;
    atomic_int stop;
    atomic_int next;    /* next task index to take */
    atomic_int running; /* workers still inside the current run */
};

static void work(struct weft_pool *p, weft_pool_fn fn, void *ctx, int n_tasks)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= n_tasks)
            break;
        fn(ctx, t);
    }
}

/* Waits until the generation differs from `seen` or the pool stops;
 * returns the new generation. */
static unsigned long wait_run(struct weft_pool *p, unsigned long seen)
{
    uint64_t start = 0;
    for (unsigned spins = 0;; spins++) {
        unsigned long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&p->stop, memory_order_acquire))
            return g;
        CPU_RELAX();
        if ((spins & 1023) != 1023)
            continue;
        uint64_t now = weft_mono_ns();
        if (start == 0)
            start = now;
        if (now - start < SPIN_NS)
            continue;
        /* Long idle: sleep. The generation is checked again under the
         * lock, and the publisher takes the lock after bumping it, so a
         * run cannot slip past a worker about to sleep. */
        pthread_mutex_lock(&p->mu);
        p->sleepers++;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_acquire))
            pthread_cond_wait(&p->wake, &p->mu);
        p->sleepers--;
        pthread_mutex_unlock(&p->mu);
        start = 0;
    }
}

static void *worker(void *arg)
{
    struct weft_pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        seen = wait_run(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        work(p, p->fn, p->ctx, p->n_tasks);
        atomic_fetch_sub_explicit(&p->running, 1, memory_order_release);
    }
    return NULL;
}

int weft_pool_new(int n_threads, struct weft_pool **out)
{
    struct weft_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WEFT_ENOMEM;
    if (n_threads < 1)
        n_threads = 1;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->running, 0);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (p->threads == NULL) {
        weft_pool_free(p);
        return WEFT_ENOMEM;
    }
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->n_threads = i;
            weft_pool_free(p);
            return WEFT_EAGAIN;
        }
    }
    *out = p;
    return 0;
}

void weft_pool_free(struct weft_pool *p)
{
    if (p == NULL)
        return;
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int weft_pool_threads(const struct weft_pool *p)
{
    return p->n_threads;
}

void weft_pool_run(struct weft_pool *p, weft_pool_fn fn, void *ctx, int n_tasks)
{
    if (p->n_threads == 1 || n_tasks <= 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->running, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    work(p, fn, ctx, n_tasks);

    /* Every worker must leave the run (not merely finish its tasks) before
     * fn and ctx may be replaced by the next one. */
    while (atomic_load_explicit(&p->running, memory_order_acquire) > 0)
        CPU_RELAX();
}
