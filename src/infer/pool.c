/* Thread pool: workers sleep on a condition variable between runs and
 * take tasks from an atomic counter during one. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "weft/error.h"

struct weft_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* Run state, published under mu and read by workers after waking. */
    unsigned long generation;
    int stop;
    weft_pool_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;     /* next task index to take */
    atomic_int finished; /* tasks completed in this run */
    int busy_workers;    /* workers still inside the current run */
};

static void work(struct weft_pool *p, weft_pool_fn fn, void *ctx, int n_tasks)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= n_tasks)
            break;
        fn(ctx, t);
        atomic_fetch_add(&p->finished, 1);
    }
}

static void *worker(void *arg)
{
    struct weft_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        weft_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_tasks;
        pthread_mutex_unlock(&p->mu);
        work(p, fn, ctx, n);
        pthread_mutex_lock(&p->mu);
        if (--p->busy_workers == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_cond_init(&p->done, NULL);
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
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->finished, 0);
    p->busy_workers = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    work(p, fn, ctx, n_tasks);

    /* Wait until every worker has left this run, not just until the tasks
     * are done, so that none is still reading fn/ctx when the next run
     * replaces them. */
    pthread_mutex_lock(&p->mu);
    while (p->busy_workers > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
