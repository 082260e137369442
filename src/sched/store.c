/* SQLite-backed durable store; see include/weft/store.h. */
#include "weft/store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "weft/error.h"
#include "weft/time.h"

struct weft_store {
    sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS api_keys("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,"
    " created_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " rate_per_min INTEGER NOT NULL, max_concurrent INTEGER NOT NULL,"
    " admin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS nodes("
    " name TEXT PRIMARY KEY, id TEXT UNIQUE NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,"
    " created_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS node_limits("
    " name TEXT PRIMARY KEY, max_budget_w REAL NOT NULL, max_slots INTEGER NOT NULL,"
    " models TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id TEXT PRIMARY KEY, key_id TEXT NOT NULL, idem TEXT, created_ms INTEGER NOT NULL,"
    " deadline_ms INTEGER NOT NULL, priority INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " request TEXT NOT NULL, state INTEGER NOT NULL, result TEXT, error TEXT,"
    " finished_ms INTEGER NOT NULL DEFAULT 0, completions INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs(key_id, idem) WHERE idem IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_ms);"
    "PRAGMA user_version = 1;";

static int db_err(struct weft_store *st)
{
    (void)st;
    return WEFT_ESTORE;
}

int weft_store_open(struct weft_store **out, const char *path, char *err, size_t errcap)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0) {
        snprintf(err, errcap,
                 "%s: 0 bytes, not a store (truncated?): restore it from a backup, or remove "
                 "it to start an empty one (every key and job would be gone)",
                 path);
        return WEFT_ESTORE;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return WEFT_ESTORE;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    /* WAL lets weftctl read and write beside the scheduler; FULL sync makes
     * an accepted job durable before its 202 goes out. */
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return WEFT_ESTORE;
    }
    struct weft_store *st = calloc(1, sizeof *st);
    if (!st) {
        sqlite3_close(db);
        return WEFT_ENOMEM;
    }
    st->db = db;
    *out = st;
    return 0;
}

int weft_store_check(struct weft_store *st, char *err, size_t errcap)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        if (r && strcmp(r, "ok") == 0) {
            sqlite3_finalize(q);
            return 0;
        }
        snprintf(err, errcap, "the store is damaged: %s; restore it from a backup", r ? r : "?");
    } else {
        snprintf(err, errcap, "the store is damaged: %s; restore it from a backup",
                 sqlite3_errmsg(st->db));
    }
    sqlite3_finalize(q);
    return WEFT_ESTORE;
}

void weft_store_close(struct weft_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st);
}

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

/* Splits "wk-<id>.<secret>" into id and secret. */
static int split_secret(const char *presented, const char *prefix, char *id, size_t idcap,
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

/* Makes "<prefix><id>.<secret>" with fresh id, salt and secret, and their
 * hash for the row. */
static int mint(const char *prefix, char id[13], unsigned char salt[16], unsigned char hash[32],
                char out[WEFT_SECRET_MAX])
{
    char secret[33];
    if (weft_random_hex(id, 6) || weft_random_hex(secret, 16) || RAND_bytes(salt, 16) != 1)
        return WEFT_EIO;
    hash_secret(salt, 16, secret, hash);
    snprintf(out, WEFT_SECRET_MAX, "%s%s.%s", prefix, id, secret);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

static int check_hash(sqlite3_stmt *s, int salt_col, int hash_col, const char *secret)
{
    const void *salt = sqlite3_column_blob(s, salt_col);
    int saltlen = sqlite3_column_bytes(s, salt_col);
    const void *want = sqlite3_column_blob(s, hash_col);
    if (!salt || !want || sqlite3_column_bytes(s, hash_col) != 32)
        return WEFT_EAUTH;
    unsigned char got[32];
    hash_secret(salt, (size_t)saltlen, secret, got);
    return CRYPTO_memcmp(got, want, 32) == 0 ? 0 : WEFT_EAUTH;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static char *dup_col(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? strdup((const char *)t) : NULL;
}

/* ---- keys -------------------------------------------------------------- */

int weft_store_key_create(struct weft_store *st, const char *name, int rate_per_min,
                          int max_concurrent, int admin, char key_out[WEFT_SECRET_MAX],
                          struct weft_key_info *info)
{
    char id[13];
    unsigned char salt[16], hash[32];
    if (mint("wk-", id, salt, hash, key_out))
        return WEFT_EIO;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO api_keys(id,name,salt,hash,created_ms,rate_per_min,"
                           "max_concurrent,admin) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    int64_t now = weft_wall_ms();
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, salt, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int(s, 6, rate_per_min);
    sqlite3_bind_int(s, 7, max_concurrent);
    sqlite3_bind_int(s, 8, admin ? 1 : 0);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    if (rc == 0 && info) {
        memset(info, 0, sizeof *info);
        snprintf(info->id, sizeof info->id, "%s", id);
        snprintf(info->name, sizeof info->name, "%s", name);
        info->created_ms = now;
        info->rate_per_min = rate_per_min;
        info->max_concurrent = max_concurrent;
        info->admin = admin;
    }
    return rc;
}

static void key_from_row(sqlite3_stmt *s, struct weft_key_info *k)
{
    memset(k, 0, sizeof *k);
    copy_col(k->id, sizeof k->id, s, 0);
    copy_col(k->name, sizeof k->name, s, 1);
    k->created_ms = sqlite3_column_int64(s, 2);
    k->revoked = sqlite3_column_int(s, 3);
    k->rate_per_min = sqlite3_column_int(s, 4);
    k->max_concurrent = sqlite3_column_int(s, 5);
    k->admin = sqlite3_column_int(s, 6);
}

#define KEY_COLS "id,name,created_ms,revoked,rate_per_min,max_concurrent,admin"

int weft_store_key_check(struct weft_store *st, const char *presented, struct weft_key_info *info)
{
    char id[24];
    const char *secret;
    if (split_secret(presented, "wk-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT " KEY_COLS ",salt,hash FROM api_keys WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = WEFT_EAUTH;
    if (sqlite3_step(s) == SQLITE_ROW && check_hash(s, 7, 8, secret) == 0) {
        key_from_row(s, info);
        rc = info->revoked ? WEFT_EAUTH : 0;
    }
    sqlite3_finalize(s);
    return rc;
}

int weft_store_key_list(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                        void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT " KEY_COLS " FROM api_keys ORDER BY created_ms", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct weft_key_info k;
        key_from_row(s, &k);
        cb(&k, ud);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

static int exec_changes(struct weft_store *st, const char *sql, const char *a)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(st->db) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_key_revoke(struct weft_store *st, const char *id_or_name)
{
    int n = exec_changes(st, "UPDATE api_keys SET revoked=1 WHERE id=?1 OR name=?1", id_or_name);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

int weft_store_key_count(struct weft_store *st)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM api_keys", -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : db_err(st);
    sqlite3_finalize(s);
    return n;
}

/* ---- nodes ------------------------------------------------------------- */

int weft_store_node_enroll(struct weft_store *st, const char *name, char token_out[WEFT_SECRET_MAX])
{
    char id[13];
    unsigned char salt[16], hash[32];
    if (mint("wn-", id, salt, hash, token_out))
        return WEFT_EIO;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO nodes(name,id,salt,hash,created_ms,revoked) "
                           "VALUES(?,?,?,?,?,0)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, salt, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, weft_wall_ms());
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_node_limits_set(struct weft_store *st, const char *name,
                               const struct weft_node_limits *lim)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO node_limits(name,max_budget_w,max_slots,models) "
                           "VALUES(?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, lim->max_budget_w);
    sqlite3_bind_int(s, 3, lim->max_slots);
    sqlite3_bind_text(s, 4, lim->models, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_node_limits_get(struct weft_store *st, const char *name,
                               struct weft_node_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT max_budget_w,max_slots,models FROM node_limits WHERE name=?", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        lim->max_budget_w = sqlite3_column_double(s, 0);
        lim->max_slots = sqlite3_column_int(s, 1);
        copy_col(lim->models, sizeof lim->models, s, 2);
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_node_check(struct weft_store *st, const char *presented, char *name, size_t namecap)
{
    char id[24];
    const char *secret;
    if (split_secret(presented, "wn-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT name,revoked,salt,hash FROM nodes WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = WEFT_EAUTH;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 1) == 0 &&
        check_hash(s, 2, 3, secret) == 0) {
        copy_col(name, namecap, s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

int weft_store_node_revoke(struct weft_store *st, const char *name)
{
    int n = exec_changes(st, "UPDATE nodes SET revoked=1 WHERE name=?1", name);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

int weft_store_node_list(struct weft_store *st,
                         void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                         void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT name,created_ms,revoked FROM nodes ORDER BY name", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        cb((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
           sqlite3_column_int(s, 2), ud);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

/* ---- jobs -------------------------------------------------------------- */

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
    row->request = row->result = row->error = NULL;
}

#define JOB_COLS                                                                                   \
    "id,key_id,idem,created_ms,deadline_ms,priority,kind,state,finished_ms,completions,request,"   \
    "result,error"

static void job_from_row(sqlite3_stmt *s, struct weft_job_row *r)
{
    memset(r, 0, sizeof *r);
    copy_col(r->id, sizeof r->id, s, 0);
    copy_col(r->key_id, sizeof r->key_id, s, 1);
    copy_col(r->idem, sizeof r->idem, s, 2);
    r->created_ms = sqlite3_column_int64(s, 3);
    r->deadline_ms = sqlite3_column_int64(s, 4);
    r->priority = sqlite3_column_int(s, 5);
    r->kind = sqlite3_column_int(s, 6);
    r->state = (enum weft_job_state)sqlite3_column_int(s, 7);
    r->finished_ms = sqlite3_column_int64(s, 8);
    r->completions = sqlite3_column_int(s, 9);
    r->request = dup_col(s, 10);
    r->result = dup_col(s, 11);
    r->error = dup_col(s, 12);
}

int weft_store_job_insert(struct weft_store *st, struct weft_job_row *row, int *existing)
{
    *existing = 0;
    if (row->idem[0]) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(st->db, "SELECT " JOB_COLS " FROM jobs WHERE key_id=? AND idem=?",
                               -1, &q, NULL) != SQLITE_OK)
            return db_err(st);
        sqlite3_bind_text(q, 1, row->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, row->idem, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            weft_job_row_free(row);
            job_from_row(q, row);
            *existing = 1;
        }
        sqlite3_finalize(q);
        if (*existing)
            return 0;
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO jobs(id,key_id,idem,created_ms,deadline_ms,priority,kind,"
                           "request,state) VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, row->key_id, -1, SQLITE_STATIC);
    if (row->idem[0])
        sqlite3_bind_text(s, 3, row->idem, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, row->created_ms);
    sqlite3_bind_int64(s, 5, row->deadline_ms);
    sqlite3_bind_int(s, 6, row->priority);
    sqlite3_bind_int(s, 7, row->kind);
    sqlite3_bind_text(s, 8, row->request, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, WEFT_JOB_QUEUED);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    row->state = WEFT_JOB_QUEUED;
    return rc;
}

int weft_store_job_mark(struct weft_store *st, const char *id, enum weft_job_state state)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "UPDATE jobs SET state=? WHERE id=? AND state<?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int(s, 1, state);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, WEFT_JOB_SUCCEEDED);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_job_finish(struct weft_store *st, const char *id, enum weft_job_state state,
                          const char *result, const char *error)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE jobs SET state=?, result=?, error=?, finished_ms=?,"
                           " completions=completions+(?=2) WHERE id=? AND state<?",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int(s, 1, state);
    if (result)
        sqlite3_bind_text(s, 2, result, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    if (error)
        sqlite3_bind_text(s, 3, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, weft_wall_ms());
    sqlite3_bind_int(s, 5, state);
    sqlite3_bind_text(s, 6, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 7, WEFT_JOB_SUCCEEDED);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(st->db) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

int weft_store_job_get(struct weft_store *st, const char *id, const char *key_id,
                       struct weft_job_row *row)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            st->db, "SELECT " JOB_COLS " FROM jobs WHERE id=?1 AND (?2 IS NULL OR key_id=?2)", -1,
            &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (key_id)
        sqlite3_bind_text(s, 2, key_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    int rc = WEFT_ENOENT;
    if (sqlite3_step(s) == SQLITE_ROW) {
        job_from_row(s, row);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Hands every row of a prepared job query to cb, then finalizes it. */
static int each_job(sqlite3_stmt *s, void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct weft_job_row r;
        job_from_row(s, &r);
        cb(&r, ud);
        weft_job_row_free(&r);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

int weft_store_job_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                        void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    sqlite3_stmt *s;
    /* Paging by (created_ms, id) of the `after` job: stable while new jobs
     * arrive, unlike offsets. */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " JOB_COLS
                           " FROM jobs WHERE (?1 IS NULL OR key_id=?1) AND (?2 IS NULL OR "
                           "(created_ms, id) < (SELECT created_ms, id FROM jobs WHERE id=?2)) "
                           "ORDER BY created_ms DESC, id DESC LIMIT ?3",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    if (key_id)
        sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 1);
    if (after)
        sqlite3_bind_text(s, 2, after, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int(s, 3, limit);
    return each_job(s, cb, ud);
}

int weft_store_job_pending(struct weft_store *st,
                           void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " JOB_COLS " FROM jobs WHERE state<? ORDER BY created_ms, id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int(s, 1, WEFT_JOB_SUCCEEDED);
    return each_job(s, cb, ud);
}
