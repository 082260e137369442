/* A small thread pool for the CPU backend (private to src/infer).
 *
 * weft_pool_run() hands n_tasks task indices to the workers and the calling
 * thread, and returns when all are done. Tasks are taken one at a time
 * from a shared counter, so uneven work balances itself. One run at a time:
 * the pool belongs to one model and is driven by whichever session thread
 * evaluates (sessions on one model must not eval concurrently on the CPU
 * backend; the node runs one job runner thread per model).
 */
#ifndef WEFT_INFER_POOL_H
#define WEFT_INFER_POOL_H

struct weft_pool;

typedef void (*weft_pool_fn)(void *ctx, int task);

/* n_threads counts the caller: 1 means no workers. */
int weft_pool_new(int n_threads, struct weft_pool **out);
void weft_pool_free(struct weft_pool *p);
int weft_pool_threads(const struct weft_pool *p);
void weft_pool_run(struct weft_pool *p, weft_pool_fn fn, void *ctx, int n_tasks);

#endif /* WEFT_INFER_POOL_H */
