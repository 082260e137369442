/* What a store backend provides (store_sqlite.c, store_pg.c) and the
 * helpers they share (store.c). include/weft/store.h is the contract;
 * store.c forwards each call to the backend's table, so a backend
 * implements every operation with the same meaning and the same errors.
 *
 * Ownership: the backend allocates its struct, whose first member is
 * struct weft_store, and frees it in close(). Loop thread only. */
#ifndef WEFT_SCHED_STORE_BACKEND_H
#define WEFT_SCHED_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "weft/store.h"

struct store_cred;
/* Where an export sends rows; each returns 1 (written), 0 (there already)
 * or an error, which stops the export. */
struct store_sink {
    int (*key)(void *ud, const struct weft_key_info *k, const struct store_cred *c);
    int (*node)(void *ud, const char *name, int64_t created_ms, int revoked,
                const struct store_cred *c);
    int (*limits)(void *ud, const char *name, const struct weft_node_limits *lim);
    int (*job)(void *ud, const struct weft_job_row *row);
};

struct store_ops {
    const char *kind; /* "sqlite", "postgresql" */
    int shared;       /* several schedulers may use one store at once */
    int (*check)(struct weft_store *st, char *err, size_t errcap);
    void (*close)(struct weft_store *st);
    int (*key_create)(struct weft_store *st, const char *name, int rate_per_min, int max_concurrent,
                      int admin, char key_out[WEFT_SECRET_MAX], struct weft_key_info *info);
    int (*key_check)(struct weft_store *st, const char *presented, struct weft_key_info *info);
    int (*key_list)(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                    void *ud);
    int (*key_revoke)(struct weft_store *st, const char *id_or_name);
    int (*key_count)(struct weft_store *st);
    int (*node_enroll)(struct weft_store *st, const char *name, char token_out[WEFT_SECRET_MAX]);
    int (*node_check)(struct weft_store *st, const char *presented, char *name, size_t namecap);
    int (*node_revoke)(struct weft_store *st, const char *name);
    int (*node_limits_set)(struct weft_store *st, const char *name,
                           const struct weft_node_limits *lim);
    int (*node_limits_get)(struct weft_store *st, const char *name, struct weft_node_limits *lim);
    int (*trust_set)(struct weft_store *st, const char *name, int ok, int bad, int quarantined,
                     const char *why);
    int (*trust_get)(struct weft_store *st, const char *name, int *ok, int *bad, int *quarantined,
                     char *why, size_t whycap);
    int (*node_list)(struct weft_store *st,
                     void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                     void *ud);
    int (*job_insert)(struct weft_store *st, struct weft_job_row *row, int *existing);
    int (*job_mark)(struct weft_store *st, const char *id, enum weft_job_state s);
    int (*job_finish)(struct weft_store *st, const char *id, enum weft_job_state s,
                      const char *result, const char *error);
    int (*job_get)(struct weft_store *st, const char *id, const char *key_id,
                   struct weft_job_row *row);
    int (*job_list)(struct weft_store *st, const char *key_id, const char *after, int limit,
                    void (*cb)(const struct weft_job_row *row, void *ud), void *ud);
    int (*job_count_open)(struct weft_store *st, const char *key_id);
    int (*job_claim)(struct weft_store *st, const struct weft_claim *c,
                     void (*cb)(const struct weft_job_row *row, void *ud), void *ud);
    int (*lease_renew)(struct weft_store *st, void (*cb)(const char *id, void *ud), void *ud);
    int (*lease_release)(struct weft_store *st, const char *id);
    int (*journal_append)(struct weft_store *st, const char *id, int from, const int32_t *tokens,
                          const uint32_t *lens, int n, const char *text, size_t len, const char *lp,
                          size_t lp_len);
    int (*journal_get)(struct weft_store *st, const char *id, struct weft_job_row *row);
    int (*purge_streams)(struct weft_store *st, int64_t finished_before_ms);
    int (*notify_fd)(struct weft_store *st, unsigned *generation);
    int (*notify_drain)(struct weft_store *st);
    int (*notify)(struct weft_store *st);
    /* Moving a store (weftctl store migrate): every row, secrets' hashes
     * and journals included, to a sink; and the sink's side. */
    int (*export_rows)(struct weft_store *st, const struct store_sink *sink, void *ud);
    int (*tx_begin)(struct weft_store *st);
    int (*tx_end)(struct weft_store *st, int commit);
    int (*import_key)(struct weft_store *st, const struct weft_key_info *k,
                      const struct store_cred *c);
    int (*import_node)(struct weft_store *st, const char *name, int64_t created_ms, int revoked,
                       const struct store_cred *c);
    int (*import_job)(struct weft_store *st, const struct weft_job_row *row);
    /* Files and batches. The puts return 1 (written), 0 (there already)
     * or an error: a migration counts with them. */
    int (*file_put)(struct weft_store *st, const struct weft_file_row *f, const void *data,
                    size_t len);
    int (*file_get)(struct weft_store *st, const char *id, const char *key_id,
                    struct weft_file_row *f, int with_data);
    int (*file_delete)(struct weft_store *st, const char *id, const char *key_id);
    int (*file_list)(struct weft_store *st, const char *key_id, const char *purpose,
                     const char *after, int limit, int with_data,
                     void (*cb)(const struct weft_file_row *f, void *ud), void *ud);
    int (*batch_put)(struct weft_store *st, const struct weft_batch_row *b);
    int (*batch_line_put)(struct weft_store *st, const char *batch_id, int line,
                          const char *custom_id, const char *job_id);
    int (*batch_get)(struct weft_store *st, const char *id, const char *key_id,
                     struct weft_batch_row *b);
    int (*batch_list)(struct weft_store *st, const char *key_id, const char *after, int limit,
                      void (*cb)(const struct weft_batch_row *b, void *ud), void *ud);
    int (*batch_lines)(struct weft_store *st, const char *id,
                       void (*cb)(int line, const char *custom_id, const struct weft_job_row *job,
                                  void *ud),
                       void *ud);
    int (*batch_cancel)(struct weft_store *st, const char *id, int64_t now_ms);
    /* Sets status, done_ms and the file ids of a batch not yet final: the
     * rows changed (1 or 0), or an error. */
    int (*batch_final)(struct weft_store *st, const struct weft_batch_row *b);
};

/* The part of every backend's struct that store.c reads. */
struct weft_store {
    const struct store_ops *ops;
    char owner[WEFT_OWNER_MAX]; /* who this store's leases belong to */
    int lease_ms;
};

int store_sqlite_open(struct weft_store **out, const char *path, char *err, size_t errcap);
int store_pg_open(struct weft_store **out, const char *conninfo, char *err, size_t errcap);

/* ---- shared by the backends ---- */

/* The SQL both backends use for files and batches (their dialects agree
 * on it): the tables, and a batch's columns with its lines' counts. */
#define STORE_FILES_SCHEMA                                                                         \
    "CREATE TABLE IF NOT EXISTS files("                                                            \
    " id TEXT PRIMARY KEY, key_id TEXT NOT NULL, purpose TEXT NOT NULL, filename TEXT NOT NULL,"   \
    " bytes BIGINT NOT NULL, created_ms BIGINT NOT NULL, data " STORE_BLOB " NOT NULL);"           \
    "CREATE INDEX IF NOT EXISTS files_page ON files(key_id, created_ms, id);"                      \
    "CREATE TABLE IF NOT EXISTS batches("                                                          \
    " id TEXT PRIMARY KEY, key_id TEXT NOT NULL, input_file_id TEXT NOT NULL,"                     \
    " kind INT NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL,"                  \
    " cancel_ms BIGINT NOT NULL DEFAULT 0, done_ms BIGINT NOT NULL DEFAULT 0,"                     \
    " status TEXT NOT NULL DEFAULT '', output_file_id TEXT NOT NULL DEFAULT '',"                   \
    " error_file_id TEXT NOT NULL DEFAULT '', metadata TEXT, total INT NOT NULL);"                 \
    "CREATE INDEX IF NOT EXISTS batches_page ON batches(key_id, created_ms, id);"                  \
    "CREATE TABLE IF NOT EXISTS node_trust("                                                       \
    " name TEXT PRIMARY KEY, ok INT NOT NULL, bad INT NOT NULL, quarantined INT NOT NULL,"         \
    " why TEXT NOT NULL);"                                                                         \
    "CREATE TABLE IF NOT EXISTS batch_lines("                                                      \
    " batch_id TEXT NOT NULL, line INT NOT NULL, custom_id TEXT NOT NULL, job_id TEXT NOT NULL,"   \
    " PRIMARY KEY(batch_id, line));"
#define STORE_BATCH_LINES_OF(cond)                                                                 \
    "(SELECT count(*) FROM batch_lines l JOIN jobs j ON j.id=l.job_id WHERE l.batch_id=b.id "      \
    "AND " cond ")"
/* 17 columns: the row's 13, then succeeded, failed, open, last finish. */
#define STORE_BATCH_COLS                                                                           \
    "b.id,b.key_id,b.input_file_id,b.kind,b.created_ms,b.expires_ms,b.cancel_ms,b.done_ms,"        \
    "b.status,b.output_file_id,b.error_file_id,b.metadata,b.total," STORE_BATCH_LINES_OF(          \
        "j."                                                                                       \
        "state="                                                                                   \
        "2") "," STORE_BATCH_LINES_OF("j.state>2") "," STORE_BATCH_LINES_OF("j.state<2") ","       \
                                                                                         "(SELECT" \
                                                                                         " "       \
                                                                                         "coalesc" \
                                                                                         "e(max("  \
                                                                                         "j."      \
                                                                                         "finishe" \
                                                                                         "d_ms),"  \
                                                                                         "0) "     \
                                                                                         "FROM "   \
                                                                                         "batch_"  \
                                                                                         "lines "  \
                                                                                         "l JOIN " \
                                                                                         "jobs j " \
                                                                                         "ON "     \
                                                                                         "j.id=l." \
                                                                                         "job_id"  \
                                                                                         " WHERE " \
                                                                                         "l."      \
                                                                                         "batch_"  \
                                                                                         "id=b."   \
                                                                                         "id)"

/* A credential as stored: "<prefix><id>.<secret>" hashed with a salt. */
struct store_cred {
    char id[13];
    unsigned char salt[16];
    unsigned char hash[32];
};
/* Mints a fresh credential: out is the secret to show once. */
int store_cred_mint(const char *prefix, struct store_cred *c, char out[WEFT_SECRET_MAX]);
/* Splits "<prefix><id>.<secret>": 0 with id and *secret, or WEFT_EAUTH. */
int store_cred_split(const char *presented, const char *prefix, char *id, size_t idcap,
                     const char **secret);
/* 0 when secret hashes (with salt) to hash, else WEFT_EAUTH; constant time. */
int store_cred_verify(const void *salt, size_t saltlen, const void *hash, size_t hashlen,
                      const char *secret);

/* Tokens and their text lengths <-> their stored form: 8 bytes a token,
 * the id then the length, little-endian. */
#define STORE_TOKEN_BYTES 8
void store_tokens_pack(const int32_t *tokens, const uint32_t *lens, int n, unsigned char *out);
/* Appends n packed tokens from p to row->tokens and row->lens (grown); 0
 * or WEFT_ENOMEM. */
int store_tokens_append(struct weft_job_row *row, const unsigned char *p, int n);
/* Appends len bytes of journaled text to row->text; 0 or WEFT_ENOMEM. */
int store_text_append(struct weft_job_row *row, const char *p, size_t len);
/* The same for journaled log-probabilities, to row->lp. */
int store_lp_append(struct weft_job_row *row, const char *p, size_t len);

#endif /* WEFT_SCHED_STORE_BACKEND_H */
