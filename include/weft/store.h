/* The scheduler's durable store: SQLite in WAL mode for one scheduler, or
 * PostgreSQL (libpq) for several schedulers sharing a region.
 *
 * Holds what must survive a restart: developer API keys and node tokens
 * (as salted SHA-256 hashes, never the secrets), and jobs API jobs from
 * the moment they are accepted until their result has been collected.
 * Interactive requests are not stored, except streamed ones on a shared
 * store (row.stream), kept so that a client can resume them on another
 * scheduler; otherwise their client's connection is their state.
 *
 * Secrets look like "wk-<id>.<secret>" (API keys) and "wn-<id>.<secret>"
 * (node tokens): the id finds the row, the secret is checked against the
 * hash in constant time.
 *
 * Durability: synchronous=FULL (SQLite) or a committed transaction
 * (PostgreSQL), so a job insert is durable when weft_store_job_insert()
 * returns; the scheduler answers 202 only after it. weftctl opens the same
 * store to manage keys and nodes while schedulers run (SQLite's WAL lets
 * both in; writers wait up to 5 s for each other).
 *
 * Leases: each unfinished job belongs to one scheduler (its owner) until
 * its lease runs out; the owner renews its leases, and another scheduler
 * claims a job only once its lease has lapsed, which is how a region's
 * jobs outlive any one scheduler. With PostgreSQL the database's clock
 * times the leases, so the schedulers' clocks need not agree. The journal
 * holds the tokens a job has produced so far, appended in batches: a job
 * claimed after its owner died resumes from there.
 *
 * Outages: a PostgreSQL store whose connection broke answers WEFT_ESTORE
 * at once and reconnects on a later call, at most every second; nothing
 * reports success without a committed write.
 *
 * Ownership: the store owns its connection; rows returned in structs are
 * the caller's and are freed with weft_job_row_free(). Thread-safety: one
 * thread per struct weft_store.
 */
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include <stddef.h>
#include <stdint.h>

struct weft_store;

#define WEFT_SECRET_MAX 96
#define WEFT_OWNER_MAX  48

/* Opens a store: a "postgresql://" or "postgres://" URI (libpq's
 * connection string; the schema is made if missing), else a SQLite file
 * path, creating a new store when there is no file. A file of 0 bytes is
 * not a new store but a damaged one (truncated): refused, so that keys
 * and jobs do not vanish without a word. */
int weft_store_open(struct weft_store **out, const char *path, char *err, size_t errcap);
/* Whether a path names a PostgreSQL store. */
int weft_store_is_pg(const char *path);
/* "sqlite" or "postgresql". */
const char *weft_store_kind(const struct weft_store *st);
/* Whether several schedulers may share this store (PostgreSQL). */
int weft_store_shared(const struct weft_store *st);
/* Names the scheduler whose leases this store takes and renews, and for
 * how long each lasts (ms). Before any job_insert/claim/renew. */
void weft_store_lease_setup(struct weft_store *st, const char *owner, int lease_ms);
/* SQLite's quick_check over every page: 0, or WEFT_ESTORE with the first
 * problem in err. The scheduler runs it at start (O(size): not for every
 * weftctl command). */
int weft_store_check(struct weft_store *st, char *err, size_t errcap);
void weft_store_close(struct weft_store *st);

/* ---- developer API keys ---------------------------------------------- */

struct weft_key_info {
    char id[24];
    char name[64];
    int64_t created_ms;
    int revoked;
    int rate_per_min;   /* requests per minute; 0 = unlimited */
    int max_concurrent; /* requests in flight; 0 = unlimited */
    int admin;          /* may list nodes and every key's jobs */
};

/* Creates a key; the secret goes to key_out (shown once, never stored). */
int weft_store_key_create(struct weft_store *st, const char *name, int rate_per_min,
                          int max_concurrent, int admin, char key_out[WEFT_SECRET_MAX],
                          struct weft_key_info *info);
/* 0 with info filled, or WEFT_EAUTH (unknown, wrong or revoked). */
int weft_store_key_check(struct weft_store *st, const char *presented, struct weft_key_info *info);
int weft_store_key_list(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                        void *ud);
/* By id or name; WEFT_ENOENT when none matched. */
int weft_store_key_revoke(struct weft_store *st, const char *id_or_name);
/* How many keys exist (revoked included). */
int weft_store_key_count(struct weft_store *st);

/* ---- node tokens ------------------------------------------------------- */

/* Enrolls node `name` (a new token replaces an old one). */
int weft_store_node_enroll(struct weft_store *st, const char *name,
                           char token_out[WEFT_SECRET_MAX]);
/* 0 with the node's name, or WEFT_EAUTH. */
int weft_store_node_check(struct weft_store *st, const char *presented, char *name, size_t namecap);
int weft_store_node_revoke(struct weft_store *st, const char *name);

/* What an enrollment allows a node to claim: the scheduler clamps its
 * reported budget and slots to these and refuses a hello naming a model
 * outside the list. 0 / "" is no limit. */
#define WEFT_NODE_MODELS_MAX 512
struct weft_node_limits {
    double max_budget_w;
    int max_slots;
    char models[WEFT_NODE_MODELS_MAX]; /* comma-separated names */
};
/* Sets (replaces) node name's limits; zeros clear them. */
int weft_store_node_limits_set(struct weft_store *st, const char *name,
                               const struct weft_node_limits *lim);
/* 0 with *lim (all zero when none were set). */
int weft_store_node_limits_get(struct weft_store *st, const char *name,
                               struct weft_node_limits *lim);
/* A node's trust (the scheduler's verified results): results checked
 * right and proven wrong, and its quarantine with the reason. get gives
 * WEFT_ENOENT for a node never checked. */
int weft_store_node_trust_set(struct weft_store *st, const char *name, int ok, int bad,
                              int quarantined, const char *why);
int weft_store_node_trust_get(struct weft_store *st, const char *name, int *ok, int *bad,
                              int *quarantined, char *why, size_t whycap);
int weft_store_node_list(struct weft_store *st,
                         void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                         void *ud);

/* ---- jobs -------------------------------------------------------------- */

enum weft_job_state {
    WEFT_JOB_QUEUED,
    WEFT_JOB_RUNNING,
    WEFT_JOB_SUCCEEDED,
    WEFT_JOB_FAILED,
    WEFT_JOB_CANCELLED,
    WEFT_JOB_EXPIRED,
};
const char *weft_job_state_name(enum weft_job_state s);
/* A finished state: succeeded, failed, cancelled or expired. */
int weft_job_state_final(enum weft_job_state s);

struct weft_job_row {
    char id[40];
    char key_id[24];
    char idem[128]; /* Idempotency-Key, "" if none */
    int64_t created_ms;
    int64_t deadline_ms; /* 0 = none */
    int priority;        /* enum weft_oai_priority */
    int kind;            /* enum weft_oai_kind */
    enum weft_job_state state;
    int64_t finished_ms;
    int completions; /* times a result was recorded: 0 or 1 */
    char *request;   /* the request object as JSON (owned) */
    char *result;    /* the completion object as JSON, or NULL (owned) */
    char *error;     /* why it failed, or NULL (owned) */
    char model[128]; /* the request's model, for claims */
    int stream;      /* a streamed OpenAI request, resumable; not a jobs API job */
    int has_seed;    /* seed is the job's sampling seed */
    uint64_t seed;
    /* The journal, filled by weft_store_job_claim() and
     * weft_store_journal_get() only (owned): each token and the bytes of
     * text it added. */
    int32_t *tokens;
    uint32_t *lens;
    int n_tokens;
    char *text;
    size_t text_len;
    /* Each token's log-probabilities, when the request asked for them:
     * one JSON object and '\n' per token (owned; NULL when none). */
    char *lp;
    size_t lp_len;
};

void weft_job_row_free(struct weft_job_row *row);

/* Writes a new job (state queued), leased to this store's owner. If the
 * same key already sent the same Idempotency-Key, nothing is written:
 * *existing is set and row is filled with the stored job instead. */
int weft_store_job_insert(struct weft_store *st, struct weft_job_row *row, int *existing);

/* queued <-> running while the job is not final. */
int weft_store_job_mark(struct weft_store *st, const char *id, enum weft_job_state s);

/* Records the outcome once: returns 1 when this call finished the job, 0
 * when it was already final (so a late duplicate never overwrites). */
int weft_store_job_finish(struct weft_store *st, const char *id, enum weft_job_state s,
                          const char *result, const char *error);

/* key_id NULL: any key. WEFT_ENOENT when absent. */
int weft_store_job_get(struct weft_store *st, const char *id, const char *key_id,
                       struct weft_job_row *row);

/* Newest first, after `after` (an id, or NULL), at most limit rows; key_id
 * NULL lists every key's jobs. Streamed requests are not listed. Returns
 * the count passed to cb. */
int weft_store_job_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                        void (*cb)(const struct weft_job_row *row, void *ud), void *ud);

/* How many jobs API jobs of key_id are queued or running, region-wide
 * (streams not counted); < 0 on error. */
int weft_store_job_count_open(struct weft_store *st, const char *key_id);

/* What a scheduler asks to claim. */
struct weft_claim {
    int max;                /* at most this many jobs */
    int take_all;           /* whatever their leases (SQLite at start: one scheduler) */
    int mine;               /* only jobs this owner holds (a restart: none is in memory) */
    const char *models;     /* ",a,b,": only jobs for these models; NULL: any */
    int64_t expired_before; /* also jobs with a deadline before this wall time, ms; 0: no */
    const char *id;         /* only this job (a resumed stream); NULL: any */
    /* Streamed requests are claimed by id only, or as abandoned: with no
     * lease since before this (ms ago), so that they can be ended. */
    int abandoned_ms;
};
/* Claims unfinished jobs whose lease has lapsed (or that have none; with
 * c->mine, those this owner holds instead),
 * oldest first, leasing them to this store's owner; hands each to cb with
 * its journal. Concurrent claimers never get the same job. Returns how
 * many were claimed. */
int weft_store_job_claim(struct weft_store *st, const struct weft_claim *c,
                         void (*cb)(const struct weft_job_row *row, void *ud), void *ud);
/* Extends every lease this owner holds on an unfinished job and names
 * each such job to cb: a job it had and that is not named was finished,
 * cancelled or claimed elsewhere. Returns how many were renewed. */
int weft_store_lease_renew(struct weft_store *st, void (*cb)(const char *id, void *ud), void *ud);
/* Gives up this owner's lease on job id (NULL: on every job), so that
 * another scheduler can claim it at once. */
int weft_store_lease_release(struct weft_store *st, const char *id);
/* Journals tokens [from, from+n) of job id with the text they made (lens:
 * each token's bytes of it, summing to len) and, when lp is not NULL,
 * their log-probabilities (lp_len bytes: an object and '\n' each). A batch already journaled
 * (another owner wrote it) is left as it is. A finished job's journal goes
 * with its outcome, except a streamed request's, which stays for late
 * resumes until weft_store_purge_streams(). */
int weft_store_journal_append(struct weft_store *st, const char *id, int from,
                              const int32_t *tokens, const uint32_t *lens, int n, const char *text,
                              size_t len, const char *lp, size_t lp_len);
/* Fills row's journal (tokens, lens, text) for job id. */
int weft_store_journal_get(struct weft_store *st, const char *id, struct weft_job_row *row);
/* Deletes streamed requests (and journals) finished before this wall time. */
int weft_store_purge_streams(struct weft_store *st, int64_t finished_before_ms);

/* Several writes as one transaction (one commit: one disk flush), such as
 * a cycle's journal batches. tx_end commits, or rolls back when commit is
 * 0 or a write inside failed (then it returns the error). No nesting. */
int weft_store_tx_begin(struct weft_store *st);
int weft_store_tx_end(struct weft_store *st, int commit);

/* ---- waking other schedulers (PostgreSQL's LISTEN/NOTIFY) ------------- */

/* A descriptor that turns readable when another scheduler signals, or -1
 * (none, or the connection is down; ask again later). It is the store's:
 * watch a dup() of it. *generation changes with every new connection, so
 * a watcher knows when its copy has gone stale. */
int weft_store_notify_fd(struct weft_store *st, unsigned *generation);
/* Reads what arrived: how many signals (0 or more), or WEFT_ESTORE. */
int weft_store_notify_drain(struct weft_store *st);
/* Tells every scheduler on the store that jobs changed hands. */
int weft_store_notify(struct weft_store *st);

/* ---- files and batches (the OpenAI Batch API) ------------------------- */

/* A file a key uploaded (purpose "batch") or a batch wrote (purpose
 * "batch_output"), kept whole in the store until deleted. */
struct weft_file_row {
    char id[40];
    char key_id[24];
    char purpose[16];
    char filename[256];
    int64_t bytes;
    int64_t created_ms;
    char *data; /* the content (owned), NUL-terminated; only from a get with data */
};
void weft_file_row_free(struct weft_file_row *f);

/* Writes a file of len bytes; one with this id already is left as it is
 * (a batch finalized twice writes its output once). */
int weft_store_file_put(struct weft_store *st, const struct weft_file_row *f, const void *data,
                        size_t len);
/* key_id NULL: any key; with_data: also the content. WEFT_ENOENT when
 * absent. */
int weft_store_file_get(struct weft_store *st, const char *id, const char *key_id,
                        struct weft_file_row *f, int with_data);
/* WEFT_ENOENT when absent. */
int weft_store_file_delete(struct weft_store *st, const char *id, const char *key_id);
/* Newest first, after `after` (an id, or NULL), at most limit, without
 * their content; purpose NULL: any. Returns the count passed to cb. */
int weft_store_file_list(struct weft_store *st, const char *key_id, const char *purpose,
                         const char *after, int limit,
                         void (*cb)(const struct weft_file_row *f, void *ud), void *ud);

/* A batch: an uploaded file's lines, each a job (deferrable, its deadline
 * the batch's expiry), and what became of them. Its status is derived:
 * `status` is set once, when the batch is finalized; before that it is
 * "cancelling" once a cancel was asked, else in progress. */
struct weft_batch_row {
    char id[40];
    char key_id[24];
    char input_file_id[40];
    int kind; /* enum weft_oai_kind: the endpoint */
    int64_t created_ms;
    int64_t expires_ms;
    int64_t cancel_ms; /* when a cancel was asked; 0 = none */
    int64_t done_ms;   /* when it was finalized; 0 = not yet */
    char status[16];   /* "" until final: "completed", "expired", "cancelled" */
    char output_file_id[40];
    char error_file_id[40];
    char *metadata; /* a JSON object, or NULL (owned) */
    int total;      /* lines */
    /* Counted from the lines' jobs by get and list. */
    int succeeded, failed, open; /* failed: failed, cancelled or expired */
    int64_t last_finished_ms;    /* when its last finished job finished */
};
void weft_batch_row_free(struct weft_batch_row *b);

/* Writes batch b and its n jobs (rows[i] is line i, custom_ids[i] its
 * custom_id) in one transaction: all or nothing. */
int weft_store_batch_create(struct weft_store *st, const struct weft_batch_row *b,
                            struct weft_job_row *rows, const char *const *custom_ids, int n);
/* key_id NULL: any key. WEFT_ENOENT when absent. */
int weft_store_batch_get(struct weft_store *st, const char *id, const char *key_id,
                         struct weft_batch_row *b);
/* Newest first, as weft_store_job_list. */
int weft_store_batch_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                          void (*cb)(const struct weft_batch_row *b, void *ud), void *ud);
/* Each line of batch id in order: its custom_id and its job (with result
 * and error, without journal). Returns the count. */
int weft_store_batch_lines(struct weft_store *st, const char *id,
                           void (*cb)(int line, const char *custom_id,
                                      const struct weft_job_row *job, void *ud),
                           void *ud);
/* Records a cancel asked at now_ms: 1 when this call did, 0 when one was
 * asked before or the batch is final. */
int weft_store_batch_cancel(struct weft_store *st, const char *id, int64_t now_ms);
/* Finalizes batch b (b->status, done_ms, output_file_id, error_file_id)
 * with its files (out, err: NULL for none), in one transaction: 1 when
 * this call finalized it, 0 when another had. */
int weft_store_batch_finalize(struct weft_store *st, const struct weft_batch_row *b,
                              const struct weft_file_row *out, const char *out_data, size_t out_len,
                              const struct weft_file_row *err, const char *err_data,
                              size_t err_len);

/* ---- moving a store ------------------------------------------------- */

struct weft_migrate_counts {
    int keys, nodes, limits, jobs, files, batches; /* rows written */
    int skipped;                                   /* rows the destination had already */
};
/* Copies every key and node (their hashes: the secrets keep working),
 * node limit, job and journal, file and batch from `from` (SQLite) into `to` (PostgreSQL)
 * in one transaction of `to`; rows it has already are left as they are,
 * so a second run copies nothing. Leases are not copied: the destination's
 * schedulers claim the unfinished jobs. */
int weft_store_migrate(struct weft_store *from, struct weft_store *to,
                       struct weft_migrate_counts *counts, char *err, size_t errcap);

/* Random lowercase hex of 2*nbytes characters into out (NUL included). */
int weft_random_hex(char *out, size_t nbytes);

#endif /* WEFT_STORE_H */
