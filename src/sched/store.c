/* The store's front: picks the backend by the path's form and forwards
 * each call to it (store_backend.h), plus what every backend shares:
 * credentials, token packing, job rows. See include/weft/store.h. */
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "weft/error.h"

int weft_store_is_pg(const char *path)
{
    return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
}

int weft_store_open(struct weft_store **out, const char *path, char *err, size_t errcap)
{
    *out = NULL;
    int rc = weft_store_is_pg(path) ? store_pg_open(out, path, err, errcap)
                                    : store_sqlite_open(out, path, err, errcap);
    if (rc == 0)
        weft_store_lease_setup(*out, "local", 30000);
    return rc;
}

const char *weft_store_kind(const struct weft_store *st)
{
    return st->ops->kind;
}

int weft_store_shared(const struct weft_store *st)
{
    return st->ops->shared;
}

void weft_store_lease_setup(struct weft_store *st, const char *owner, int lease_ms)
{
    snprintf(st->owner, sizeof st->owner, "%s", owner);
    st->lease_ms = lease_ms;
}

int weft_store_check(struct weft_store *st, char *err, size_t errcap)
{
    return st->ops->check(st, err, errcap);
}

void weft_store_close(struct weft_store *st)
{
    if (st)
        st->ops->close(st);
}

/* ---- forwarding ---- */

int weft_store_key_create(struct weft_store *st, const char *name, int rate_per_min,
                          int max_concurrent, int admin, char key_out[WEFT_SECRET_MAX],
                          struct weft_key_info *info)
{
    return st->ops->key_create(st, name, rate_per_min, max_concurrent, admin, key_out, info);
}

int weft_store_key_check(struct weft_store *st, const char *presented, struct weft_key_info *info)
{
    return st->ops->key_check(st, presented, info);
}

int weft_store_key_list(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                        void *ud)
{
    return st->ops->key_list(st, cb, ud);
}

int weft_store_key_revoke(struct weft_store *st, const char *id_or_name)
{
    return st->ops->key_revoke(st, id_or_name);
}

int weft_store_key_count(struct weft_store *st)
{
    return st->ops->key_count(st);
}

int weft_store_node_enroll(struct weft_store *st, const char *name, char token_out[WEFT_SECRET_MAX])
{
    return st->ops->node_enroll(st, name, token_out);
}

int weft_store_node_check(struct weft_store *st, const char *presented, char *name, size_t namecap)
{
    return st->ops->node_check(st, presented, name, namecap);
}

int weft_store_node_revoke(struct weft_store *st, const char *name)
{
    return st->ops->node_revoke(st, name);
}

int weft_store_node_limits_set(struct weft_store *st, const char *name,
                               const struct weft_node_limits *lim)
{
    return st->ops->node_limits_set(st, name, lim);
}

int weft_store_node_limits_get(struct weft_store *st, const char *name,
                               struct weft_node_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    return st->ops->node_limits_get(st, name, lim);
}

int weft_store_node_list(struct weft_store *st,
                         void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                         void *ud)
{
    return st->ops->node_list(st, cb, ud);
}

int weft_store_job_insert(struct weft_store *st, struct weft_job_row *row, int *existing)
{
    *existing = 0;
    return st->ops->job_insert(st, row, existing);
}

int weft_store_job_mark(struct weft_store *st, const char *id, enum weft_job_state s)
{
    return st->ops->job_mark(st, id, s);
}

int weft_store_job_finish(struct weft_store *st, const char *id, enum weft_job_state s,
                          const char *result, const char *error)
{
    return st->ops->job_finish(st, id, s, result, error);
}

int weft_store_job_get(struct weft_store *st, const char *id, const char *key_id,
                       struct weft_job_row *row)
{
    return st->ops->job_get(st, id, key_id, row);
}

int weft_store_job_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                        void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    return st->ops->job_list(st, key_id, after, limit, cb, ud);
}

int weft_store_job_count_open(struct weft_store *st, const char *key_id)
{
    return st->ops->job_count_open(st, key_id);
}

int weft_store_job_claim(struct weft_store *st, const struct weft_claim *c,
                         void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    return c->max > 0 ? st->ops->job_claim(st, c, cb, ud) : 0;
}

int weft_store_lease_renew(struct weft_store *st, void (*cb)(const char *id, void *ud), void *ud)
{
    return st->ops->lease_renew(st, cb, ud);
}

int weft_store_lease_release(struct weft_store *st, const char *id)
{
    return st->ops->lease_release(st, id);
}

int weft_store_journal_append(struct weft_store *st, const char *id, int from,
                              const int32_t *tokens, const uint32_t *lens, int n, const char *text,
                              size_t len, const char *lp, size_t lp_len)
{
    if (n <= 0)
        return 0;
    return st->ops->journal_append(st, id, from, tokens, lens, n, text, len, lp, lp_len);
}

int weft_store_journal_get(struct weft_store *st, const char *id, struct weft_job_row *row)
{
    return st->ops->journal_get(st, id, row);
}

int weft_store_purge_streams(struct weft_store *st, int64_t finished_before_ms)
{
    return st->ops->purge_streams(st, finished_before_ms);
}

int weft_store_notify_fd(struct weft_store *st, unsigned *generation)
{
    *generation = 0;
    return st->ops->notify_fd ? st->ops->notify_fd(st, generation) : -1;
}

int weft_store_notify_drain(struct weft_store *st)
{
    return st->ops->notify_drain ? st->ops->notify_drain(st) : 0;
}

int weft_store_notify(struct weft_store *st)
{
    return st->ops->notify ? st->ops->notify(st) : 0;
}

int weft_store_tx_begin(struct weft_store *st)
{
    return st->ops->tx_begin(st);
}

int weft_store_tx_end(struct weft_store *st, int commit)
{
    return st->ops->tx_end(st, commit);
}

int weft_store_node_trust_set(struct weft_store *st, const char *name, int ok, int bad,
                              int quarantined, const char *why)
{
    return st->ops->trust_set(st, name, ok, bad, quarantined, why ? why : "");
}

int weft_store_node_trust_get(struct weft_store *st, const char *name, int *ok, int *bad,
                              int *quarantined, char *why, size_t whycap)
{
    return st->ops->trust_get(st, name, ok, bad, quarantined, why, whycap);
}

/* ---- files and batches ---- */

int weft_store_file_put(struct weft_store *st, const struct weft_file_row *f, const void *data,
                        size_t len)
{
    int rc = st->ops->file_put(st, f, data, len);
    return rc < 0 ? rc : 0;
}

int weft_store_file_get(struct weft_store *st, const char *id, const char *key_id,
                        struct weft_file_row *f, int with_data)
{
    return st->ops->file_get(st, id, key_id, f, with_data);
}

int weft_store_file_delete(struct weft_store *st, const char *id, const char *key_id)
{
    return st->ops->file_delete(st, id, key_id);
}

int weft_store_file_list(struct weft_store *st, const char *key_id, const char *purpose,
                         const char *after, int limit,
                         void (*cb)(const struct weft_file_row *f, void *ud), void *ud)
{
    return st->ops->file_list(st, key_id, purpose, after, limit, 0, cb, ud);
}

int weft_store_batch_create(struct weft_store *st, const struct weft_batch_row *b,
                            struct weft_job_row *rows, const char *const *custom_ids, int n)
{
    int rc = st->ops->tx_begin(st);
    if (rc)
        return rc;
    rc = st->ops->batch_put(st, b);
    rc = rc == 1 ? 0 : rc < 0 ? rc : WEFT_EEXIST;
    for (int i = 0; rc == 0 && i < n; i++) {
        int existing = 0;
        rc = st->ops->job_insert(st, &rows[i], &existing);
        if (rc == 0)
            rc = st->ops->batch_line_put(st, b->id, i, custom_ids[i], rows[i].id);
        rc = rc < 0 ? rc : 0;
    }
    int end = st->ops->tx_end(st, rc == 0);
    return rc ? rc : end;
}

int weft_store_batch_get(struct weft_store *st, const char *id, const char *key_id,
                         struct weft_batch_row *b)
{
    return st->ops->batch_get(st, id, key_id, b);
}

int weft_store_batch_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                          void (*cb)(const struct weft_batch_row *b, void *ud), void *ud)
{
    return st->ops->batch_list(st, key_id, after, limit, cb, ud);
}

int weft_store_batch_lines(struct weft_store *st, const char *id,
                           void (*cb)(int line, const char *custom_id,
                                      const struct weft_job_row *job, void *ud),
                           void *ud)
{
    return st->ops->batch_lines(st, id, cb, ud);
}

int weft_store_batch_cancel(struct weft_store *st, const char *id, int64_t now_ms)
{
    return st->ops->batch_cancel(st, id, now_ms);
}

int weft_store_batch_finalize(struct weft_store *st, const struct weft_batch_row *b,
                              const struct weft_file_row *out, const char *out_data, size_t out_len,
                              const struct weft_file_row *err, const char *err_data, size_t err_len)
{
    int rc = st->ops->tx_begin(st);
    if (rc)
        return rc;
    int done = st->ops->batch_final(st, b);
    rc = done < 0 ? done : 0;
    /* Only the call that finalized writes the files: they are made from
     * the same lines, so a second finalizer's would be the same. */
    if (rc == 0 && done == 1 && out)
        rc = st->ops->file_put(st, out, out_data, out_len);
    if (rc >= 0 && done == 1 && err)
        rc = st->ops->file_put(st, err, err_data, err_len);
    rc = rc < 0 ? rc : 0;
    int end = st->ops->tx_end(st, rc == 0);
    return rc ? rc : end ? end : done;
}

void weft_file_row_free(struct weft_file_row *f)
{
    free(f->data);
    f->data = NULL;
}

void weft_batch_row_free(struct weft_batch_row *b)
{
    free(b->metadata);
    b->metadata = NULL;
}

/* ---- migration ---- */

struct migrate_ctx {
    struct weft_store *to;
    struct weft_store *from;
    struct weft_migrate_counts *n;
    int rc; /* the first error of a callback that cannot return one */
};

static int count(struct migrate_ctx *m, int rc, int *bucket)
{
    if (rc == 1)
        (*bucket)++;
    else if (rc == 0)
        m->n->skipped++;
    return rc < 0 ? rc : 0;
}

static int sink_key(void *ud, const struct weft_key_info *k, const struct store_cred *c)
{
    struct migrate_ctx *m = ud;
    return count(m, m->to->ops->import_key(m->to, k, c), &m->n->keys);
}

static int sink_node(void *ud, const char *name, int64_t created_ms, int revoked,
                     const struct store_cred *c)
{
    struct migrate_ctx *m = ud;
    return count(m, m->to->ops->import_node(m->to, name, created_ms, revoked, c), &m->n->nodes);
}

static int sink_limits(void *ud, const char *name, const struct weft_node_limits *lim)
{
    struct migrate_ctx *m = ud;
    int rc = m->to->ops->node_limits_set(m->to, name, lim);
    return count(m, rc < 0 ? rc : 1, &m->n->limits);
}

static int sink_job(void *ud, const struct weft_job_row *row)
{
    struct migrate_ctx *m = ud;
    return count(m, m->to->ops->import_job(m->to, row), &m->n->jobs);
}

static void sink_file(const struct weft_file_row *f, void *ud)
{
    struct migrate_ctx *m = ud;
    if (m->rc == 0)
        m->rc = count(m, m->to->ops->file_put(m->to, f, f->data, (size_t)f->bytes), &m->n->files);
}

/* The batch's lines go with it (their jobs went with the rows). */
struct line_ctx {
    struct migrate_ctx *m;
    const char *batch_id;
};

static void sink_batch_line(int line, const char *custom_id, const struct weft_job_row *job,
                            void *ud)
{
    struct line_ctx *l = ud;
    if (l->m->rc == 0) {
        int rc = l->m->to->ops->batch_line_put(l->m->to, l->batch_id, line, custom_id, job->id);
        l->m->rc = rc < 0 ? rc : 0;
    }
}

static void sink_batch(const struct weft_batch_row *b, void *ud)
{
    struct migrate_ctx *m = ud;
    if (m->rc == 0)
        m->rc = count(m, m->to->ops->batch_put(m->to, b), &m->n->batches);
    struct line_ctx l = {m, b->id};
    if (m->rc == 0) {
        int n = m->from->ops->batch_lines(m->from, b->id, sink_batch_line, &l);
        if (n < 0 && m->rc == 0)
            m->rc = n;
    }
}

/* Files (with their content) and batches, after the rows export_rows
 * copies: through the operations every backend has. */
static int migrate_batches(struct weft_store *from, struct migrate_ctx *m)
{
    int n = from->ops->file_list(from, NULL, NULL, NULL, INT_MAX, 1, sink_file, m);
    if (n >= 0 && m->rc == 0)
        n = from->ops->batch_list(from, NULL, NULL, INT_MAX, sink_batch, m);
    return n < 0 ? n : m->rc;
}

int weft_store_migrate(struct weft_store *from, struct weft_store *to,
                       struct weft_migrate_counts *counts, char *err, size_t errcap)
{
    memset(counts, 0, sizeof *counts);
    if (!from->ops->export_rows || !to->ops->import_job) {
        snprintf(err, errcap,
                 "a migration goes from a SQLite store to a PostgreSQL one, not "
                 "from %s to %s",
                 from->ops->kind, to->ops->kind);
        return WEFT_EINVAL;
    }
    static const struct store_sink sink = {sink_key, sink_node, sink_limits, sink_job};
    struct migrate_ctx m = {.to = to, .from = from, .n = counts};
    int rc = to->ops->tx_begin(to);
    if (rc == 0)
        rc = from->ops->export_rows(from, &sink, &m);
    if (rc == 0)
        rc = migrate_batches(from, &m);
    int end = to->ops->tx_end(to, rc == 0);
    if (rc == 0)
        rc = end;
    if (rc)
        snprintf(err, errcap, "the migration failed (%s); nothing was written", weft_strerror(rc));
    return rc;
}

/* ---- shared helpers ---- */

int weft_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw || RAND_bytes(raw, (int)nbytes) != 1)
        return WEFT_EIO;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

static void hash_secret(const unsigned char *salt, size_t saltlen, const char *secret,
                        unsigned char out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned len = 32;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, salt, saltlen);
    EVP_DigestUpdate(m, secret, strlen(secret));
    EVP_DigestFinal_ex(m, out, &len);
    EVP_MD_CTX_free(m);
}

int store_cred_split(const char *presented, const char *prefix, char *id, size_t idcap,
                     const char **secret)
{
    size_t pl = strlen(prefix);
    if (!presented || strncmp(presented, prefix, pl) != 0)
        return WEFT_EAUTH;
    const char *dot = strchr(presented + pl, '.');
    if (!dot || (size_t)(dot - presented - pl) >= idcap || dot == presented + pl || !dot[1] ||
        strlen(dot + 1) > 64)
        return WEFT_EAUTH;
    memcpy(id, presented + pl, (size_t)(dot - presented - pl));
    id[dot - presented - pl] = '\0';
    *secret = dot + 1;
    return 0;
}

int store_cred_mint(const char *prefix, struct store_cred *c, char out[WEFT_SECRET_MAX])
{
    char secret[33];
    if (weft_random_hex(c->id, 6) || weft_random_hex(secret, 16) || RAND_bytes(c->salt, 16) != 1)
        return WEFT_EIO;
    hash_secret(c->salt, 16, secret, c->hash);
    snprintf(out, WEFT_SECRET_MAX, "%s%s.%s", prefix, c->id, secret);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

int store_cred_verify(const void *salt, size_t saltlen, const void *hash, size_t hashlen,
                      const char *secret)
{
    if (!salt || !hash || hashlen != 32)
        return WEFT_EAUTH;
    unsigned char got[32];
    hash_secret(salt, saltlen, secret, got);
    return CRYPTO_memcmp(got, hash, 32) == 0 ? 0 : WEFT_EAUTH;
}

static void put_le32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void store_tokens_pack(const int32_t *tokens, const uint32_t *lens, int n, unsigned char *out)
{
    for (int i = 0; i < n; i++) {
        put_le32(out + STORE_TOKEN_BYTES * i, (uint32_t)tokens[i]);
        put_le32(out + STORE_TOKEN_BYTES * i + 4, lens[i]);
    }
}

int store_tokens_append(struct weft_job_row *row, const unsigned char *p, int n)
{
    size_t want = (size_t)(row->n_tokens + n) + 1;
    int32_t *t = realloc(row->tokens, want * sizeof *t);
    if (t)
        row->tokens = t;
    uint32_t *l = t ? realloc(row->lens, want * sizeof *l) : NULL;
    if (!t || !l)
        return WEFT_ENOMEM;
    row->lens = l;
    for (int i = 0; i < n; i++) {
        t[row->n_tokens] = (int32_t)get_le32(p + STORE_TOKEN_BYTES * i);
        l[row->n_tokens++] = get_le32(p + STORE_TOKEN_BYTES * i + 4);
    }
    return 0;
}

static int grow_append(char **buf, size_t *n, const char *p, size_t len)
{
    char *t = realloc(*buf, *n + len + 1);
    if (!t)
        return WEFT_ENOMEM;
    memcpy(t + *n, p, len);
    *n += len;
    t[*n] = '\0';
    *buf = t;
    return 0;
}

int store_lp_append(struct weft_job_row *row, const char *p, size_t len)
{
    return grow_append(&row->lp, &row->lp_len, p, len);
}

int store_text_append(struct weft_job_row *row, const char *p, size_t len)
{
    return grow_append(&row->text, &row->text_len, p, len);
}

static const char *const state_names[] = {"queued", "running",   "succeeded",
                                          "failed", "cancelled", "expired"};

const char *weft_job_state_name(enum weft_job_state s)
{
    return (unsigned)s < 6 ? state_names[s] : "unknown";
}

int weft_job_state_final(enum weft_job_state s)
{
    return s >= WEFT_JOB_SUCCEEDED;
}

void weft_job_row_free(struct weft_job_row *row)
{
    free(row->request);
    free(row->result);
    free(row->error);
    free(row->tokens);
    free(row->lens);
    free(row->text);
    free(row->lp);
    row->lp = NULL;
    row->lp_len = 0;
    row->request = row->result = row->error = row->text = NULL;
    row->tokens = NULL;
    row->lens = NULL;
    row->n_tokens = 0;
    row->text_len = 0;
}
