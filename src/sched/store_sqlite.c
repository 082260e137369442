/* The SQLite backend: one scheduler's store in a file (WAL, synchronous
 * FULL). See include/weft/store.h and store_backend.h. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_backend.h"
#include "weft/error.h"
#include "weft/time.h"

struct sq {
    struct weft_store base; /* first: store.c's part */
    sqlite3 *db;
};

#define DB(st)     (((struct sq *)(st))->db)
#define STORE_BLOB "BLOB"

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
    "CREATE TABLE IF NOT EXISTS journal("
    " job_id TEXT NOT NULL, start INTEGER NOT NULL, tokens BLOB NOT NULL, text BLOB NOT NULL,"
    " PRIMARY KEY(job_id, start));" STORE_FILES_SCHEMA;

/* Version 2 added the job's model, seed, lease and whether it is a
 * streamed request. */
static const char upgrade_v2[] = "ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT '';"
                                 "ALTER TABLE jobs ADD COLUMN seed INTEGER;"
                                 "ALTER TABLE jobs ADD COLUMN owner TEXT;"
                                 "ALTER TABLE jobs ADD COLUMN lease_until_ms INTEGER NOT NULL"
                                 " DEFAULT 0;"
                                 "ALTER TABLE jobs ADD COLUMN stream INTEGER NOT NULL DEFAULT 0;";

/* Version 3 added each journaled token's log-probabilities. */
static const char upgrade_v3[] = "ALTER TABLE journal ADD COLUMN lp BLOB;";

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *q;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Brings a store of any earlier version to this one, in one transaction. */
static int upgrade(sqlite3 *db, char **msg)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg);
    if (rc != SQLITE_OK)
        return rc;
    int v = user_version(db);
    rc = sqlite3_exec(db, schema, NULL, NULL, msg);
    if (rc == SQLITE_OK && v < 2)
        rc = sqlite3_exec(db, upgrade_v2, NULL, NULL, msg);
    if (rc == SQLITE_OK && v < 3)
        rc = sqlite3_exec(db, upgrade_v3, NULL, NULL, msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA user_version = 3; COMMIT", NULL, NULL, msg);
    if (rc != SQLITE_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static const struct store_ops sq_ops;

static int db_err(struct weft_store *st)
{
    (void)st;
    return WEFT_ESTORE;
}

static int sq_open(struct weft_store **out, const char *path, char *err, size_t errcap)
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
        rc = upgrade(db, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return WEFT_ESTORE;
    }
    struct sq *q = calloc(1, sizeof *q);
    if (!q) {
        sqlite3_close(db);
        return WEFT_ENOMEM;
    }
    q->base.ops = &sq_ops;
    q->db = db;
    *out = &q->base;
    return 0;
}

static int sq_check(struct weft_store *st, char *err, size_t errcap)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(DB(st), "PRAGMA quick_check(1)", -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        if (r && strcmp(r, "ok") == 0) {
            sqlite3_finalize(q);
            return 0;
        }
        snprintf(err, errcap, "the store is damaged: %s; restore it from a backup", r ? r : "?");
    } else {
        snprintf(err, errcap, "the store is damaged: %s; restore it from a backup",
                 sqlite3_errmsg(DB(st)));
    }
    sqlite3_finalize(q);
    return WEFT_ESTORE;
}

static void sq_close(struct weft_store *st)
{
    if (!st)
        return;
    sqlite3_close(DB(st));
    free((struct sq *)st);
}

/* The salt and hash in columns col and col+1 against secret. */
static int check_hash(sqlite3_stmt *s, int col, const char *secret)
{
    return store_cred_verify(sqlite3_column_blob(s, col), (size_t)sqlite3_column_bytes(s, col),
                             sqlite3_column_blob(s, col + 1),
                             (size_t)sqlite3_column_bytes(s, col + 1), secret);
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

static int sq_key_create(struct weft_store *st, const char *name, int rate_per_min,
                         int max_concurrent, int admin, char key_out[WEFT_SECRET_MAX],
                         struct weft_key_info *info)
{
    struct store_cred c;
    if (store_cred_mint("wk-", &c, key_out))
        return WEFT_EIO;
    const char *id = c.id;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT INTO api_keys(id,name,salt,hash,created_ms,rate_per_min,"
                           "max_concurrent,admin) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    int64_t now = weft_wall_ms();
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, c.salt, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, c.hash, 32, SQLITE_STATIC);
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

static int sq_key_check(struct weft_store *st, const char *presented, struct weft_key_info *info)
{
    char id[24];
    const char *secret;
    if (store_cred_split(presented, "wk-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT " KEY_COLS ",salt,hash FROM api_keys WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = WEFT_EAUTH;
    if (sqlite3_step(s) == SQLITE_ROW && check_hash(s, 7, secret) == 0) {
        key_from_row(s, info);
        rc = info->revoked ? WEFT_EAUTH : 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_key_list(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                       void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT " KEY_COLS " FROM api_keys ORDER BY created_ms", -1, &s,
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
    if (sqlite3_prepare_v2(DB(st), sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_key_revoke(struct weft_store *st, const char *id_or_name)
{
    int n = exec_changes(st, "UPDATE api_keys SET revoked=1 WHERE id=?1 OR name=?1", id_or_name);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

static int sq_key_count(struct weft_store *st)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT count(*) FROM api_keys", -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : db_err(st);
    sqlite3_finalize(s);
    return n;
}

/* ---- nodes ------------------------------------------------------------- */

static int sq_node_enroll(struct weft_store *st, const char *name, char token_out[WEFT_SECRET_MAX])
{
    struct store_cred c;
    if (store_cred_mint("wn-", &c, token_out))
        return WEFT_EIO;
    const char *id = c.id;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT OR REPLACE INTO nodes(name,id,salt,hash,created_ms,revoked) "
                           "VALUES(?,?,?,?,?,0)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, c.salt, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, c.hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, weft_wall_ms());
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_node_limits_set(struct weft_store *st, const char *name,
                              const struct weft_node_limits *lim)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
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

static int sq_node_limits_get(struct weft_store *st, const char *name, struct weft_node_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
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

static int sq_node_check(struct weft_store *st, const char *presented, char *name, size_t namecap)
{
    char id[24];
    const char *secret;
    if (store_cred_split(presented, "wn-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT name,revoked,salt,hash FROM nodes WHERE id=?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = WEFT_EAUTH;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 1) == 0 &&
        check_hash(s, 2, secret) == 0) {
        copy_col(name, namecap, s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_node_revoke(struct weft_store *st, const char *name)
{
    int n = exec_changes(st, "UPDATE nodes SET revoked=1 WHERE name=?1", name);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

static int sq_node_list(struct weft_store *st,
                        void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                        void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT name,created_ms,revoked FROM nodes ORDER BY name", -1,
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

#define JOB_COLS                                                                                   \
    "id,key_id,idem,created_ms,deadline_ms,priority,kind,state,finished_ms,completions,request,"   \
    "result,error,model,seed,stream"

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
    copy_col(r->model, sizeof r->model, s, 13);
    r->has_seed = sqlite3_column_type(s, 14) != SQLITE_NULL;
    r->seed = (uint64_t)sqlite3_column_int64(s, 14);
    r->stream = sqlite3_column_int(s, 15);
}

static int sq_job_insert(struct weft_store *st, struct weft_job_row *row, int *existing)
{
    *existing = 0;
    if (row->idem[0]) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(DB(st), "SELECT " JOB_COLS " FROM jobs WHERE key_id=? AND idem=?",
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
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT INTO jobs(id,key_id,idem,created_ms,deadline_ms,priority,kind,"
                           "request,state,model,seed,owner,lease_until_ms,stream)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
    sqlite3_bind_text(s, 10, row->model, -1, SQLITE_STATIC);
    if (row->has_seed)
        sqlite3_bind_int64(s, 11, (int64_t)row->seed);
    else
        sqlite3_bind_null(s, 11);
    sqlite3_bind_text(s, 12, st->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 13, weft_wall_ms() + st->lease_ms);
    sqlite3_bind_int(s, 14, row->stream ? 1 : 0);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    row->state = WEFT_JOB_QUEUED;
    return rc;
}

static int sq_job_mark(struct weft_store *st, const char *id, enum weft_job_state state)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "UPDATE jobs SET state=? WHERE id=? AND state<?", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int(s, 1, state);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, WEFT_JOB_SUCCEEDED);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_job_finish(struct weft_store *st, const char *id, enum weft_job_state state,
                         const char *result, const char *error)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
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
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    /* A finished job's journal is in its result now; a streamed request's
     * stays for a client that resumes late. */
    if (rc == 1)
        exec_changes(st,
                     "DELETE FROM journal WHERE job_id=?1 AND"
                     " (SELECT stream FROM jobs WHERE id=?1)=0",
                     id);
    return rc;
}

static int sq_job_get(struct weft_store *st, const char *id, const char *key_id,
                      struct weft_job_row *row)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            DB(st), "SELECT " JOB_COLS " FROM jobs WHERE id=?1 AND (?2 IS NULL OR key_id=?2)", -1,
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

static int sq_job_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                       void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    sqlite3_stmt *s;
    /* Paging by (created_ms, id) of the `after` job: stable while new jobs
     * arrive, unlike offsets. */
    if (sqlite3_prepare_v2(
            DB(st),
            "SELECT " JOB_COLS
            " FROM jobs WHERE stream=0 AND (?1 IS NULL OR key_id=?1) AND (?2 IS NULL OR "
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

/* Reads job row->id's journal into row, as far as it runs without a gap. */
static int load_journal(struct weft_store *st, struct weft_job_row *row)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT start,tokens,text,lp FROM journal WHERE job_id=?"
                           " ORDER BY start",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, row->id, -1, SQLITE_STATIC);
    int rc = 0;
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_int(s, 0) != row->n_tokens)
            break;
        const unsigned char *t = sqlite3_column_blob(s, 1);
        int n = sqlite3_column_bytes(s, 1) / STORE_TOKEN_BYTES;
        const char *x = sqlite3_column_blob(s, 2);
        size_t xl = (size_t)sqlite3_column_bytes(s, 2);
        rc = n > 0 ? store_tokens_append(row, t, n) : 0;
        if (rc == 0 && xl)
            rc = store_text_append(row, x, xl);
        const char *lp = sqlite3_column_blob(s, 3);
        size_t ll = (size_t)sqlite3_column_bytes(s, 3);
        if (rc == 0 && lp && ll)
            rc = store_lp_append(row, lp, ll);
    }
    sqlite3_finalize(s);
    return rc;
}

/* One writer at a time (BEGIN IMMEDIATE) stands in for SKIP LOCKED: the
 * rows are chosen and leased in one transaction, then handed out. */
static int sq_job_claim(struct weft_store *st, const struct weft_claim *c,
                        void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    if (sqlite3_exec(DB(st), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(st);
    int64_t now = weft_wall_ms();
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT " JOB_COLS " FROM jobs WHERE state<?1 AND"
                           " (CASE WHEN ?7 THEN owner=?8 WHEN ?9 IS NOT NULL THEN"
                           " lease_until_ms<?3 OR owner=?8 ELSE ?2 OR lease_until_ms<?3 END)"
                           " AND (?9 IS NULL OR id=?9) AND (?9 IS NOT NULL"
                           " OR (stream=0 AND (?4 IS NULL OR instr(?4, ','||model||',')>0"
                           " OR (deadline_ms>0 AND deadline_ms<?5)))"
                           " OR (stream=1 AND ?10>0 AND lease_until_ms<?3-?10))"
                           " ORDER BY created_ms, id LIMIT ?6",
                           -1, &s, NULL) != SQLITE_OK) {
        sqlite3_exec(DB(st), "ROLLBACK", NULL, NULL, NULL);
        return db_err(st);
    }
    sqlite3_bind_int(s, 1, WEFT_JOB_SUCCEEDED);
    sqlite3_bind_int(s, 2, c->take_all ? 1 : 0);
    sqlite3_bind_int64(s, 3, now);
    if (c->models)
        sqlite3_bind_text(s, 4, c->models, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, c->expired_before);
    sqlite3_bind_int(s, 6, c->max);
    sqlite3_bind_int(s, 7, c->mine ? 1 : 0);
    sqlite3_bind_text(s, 8, st->owner, -1, SQLITE_STATIC);
    if (c->id)
        sqlite3_bind_text(s, 9, c->id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 9);
    sqlite3_bind_int(s, 10, c->abandoned_ms);
    struct weft_job_row *rows = NULL;
    int n = 0, rc = 0;
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct weft_job_row *r = realloc(rows, (size_t)(n + 1) * sizeof *r);
        if (!r) {
            rc = WEFT_ENOMEM;
            break;
        }
        rows = r;
        job_from_row(s, &rows[n++]);
    }
    sqlite3_finalize(s);
    for (int i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *u;
        if (sqlite3_prepare_v2(DB(st), "UPDATE jobs SET owner=?, lease_until_ms=? WHERE id=?", -1,
                               &u, NULL) != SQLITE_OK) {
            rc = db_err(st);
            break;
        }
        sqlite3_bind_text(u, 1, st->owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 2, now + st->lease_ms);
        sqlite3_bind_text(u, 3, rows[i].id, -1, SQLITE_STATIC);
        rc = sqlite3_step(u) == SQLITE_DONE ? 0 : db_err(st);
        sqlite3_finalize(u);
        if (rc == 0)
            rc = load_journal(st, &rows[i]);
    }
    if (rc == 0 && sqlite3_exec(DB(st), "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_err(st);
    if (rc)
        sqlite3_exec(DB(st), "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            cb(&rows[i], ud);
        weft_job_row_free(&rows[i]);
    }
    free(rows);
    return rc ? rc : n;
}

static int sq_lease_renew(struct weft_store *st, void (*cb)(const char *id, void *ud), void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            DB(st), "UPDATE jobs SET lease_until_ms=? WHERE owner=? AND state<? RETURNING id", -1,
            &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int64(s, 1, weft_wall_ms() + st->lease_ms);
    sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, WEFT_JOB_SUCCEEDED);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cb)
            cb((const char *)sqlite3_column_text(s, 0), ud);
        n++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? n : db_err(st);
}

static int sq_lease_release(struct weft_store *st, const char *id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "UPDATE jobs SET owner=NULL, lease_until_ms=0 WHERE owner=?1"
                           " AND (?2 IS NULL OR id=?2)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, st->owner, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_journal_append(struct weft_store *st, const char *id, int from, const int32_t *tokens,
                             const uint32_t *lens, int n, const char *text, size_t len,
                             const char *lp, size_t lp_len)
{
    unsigned char *packed = malloc((size_t)n * STORE_TOKEN_BYTES);
    if (!packed)
        return WEFT_ENOMEM;
    store_tokens_pack(tokens, lens, n, packed);
    sqlite3_stmt *s;
    int rc = WEFT_ESTORE;
    if (sqlite3_prepare_v2(
            DB(st),
            "INSERT OR IGNORE INTO journal(job_id,start,tokens,text,lp) SELECT ?1,?2,?3,?4,?5"
            " WHERE EXISTS (SELECT 1 FROM jobs WHERE id=?1 AND state<2)",
            -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, from);
        sqlite3_bind_blob(s, 3, packed, n * STORE_TOKEN_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(s, 4, len ? text : "", (int)len, SQLITE_STATIC);
        if (lp)
            sqlite3_bind_blob64(s, 5, lp_len ? lp : "", lp_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 5);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
        sqlite3_finalize(s);
    }
    free(packed);
    return rc;
}

static int sq_journal_get(struct weft_store *st, const char *id, struct weft_job_row *row)
{
    snprintf(row->id, sizeof row->id, "%s", id);
    return load_journal(st, row);
}

static int sq_purge_streams(struct weft_store *st, int64_t finished_before_ms)
{
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)finished_before_ms);
    int a = exec_changes(st,
                         "DELETE FROM journal WHERE job_id IN (SELECT id FROM jobs WHERE stream=1"
                         " AND state>=2 AND finished_ms<CAST(?1 AS INTEGER))",
                         before);
    int b = a < 0 ? a
                  : exec_changes(st,
                                 "DELETE FROM jobs WHERE stream=1 AND state>=2 AND"
                                 " finished_ms<CAST(?1 AS INTEGER)",
                                 before);
    return b < 0 ? b : 0;
}

/* Every row, to sink: keys and nodes with their salts and hashes, then
 * limits, then jobs with their journals. */
static int sq_export(struct weft_store *st, const struct store_sink *sink, void *ud)
{
    sqlite3_stmt *s;
    int rc = 0;
    if (sqlite3_prepare_v2(DB(st), "SELECT " KEY_COLS ",salt,hash FROM api_keys", -1, &s, NULL) !=
        SQLITE_OK)
        return db_err(st);
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct weft_key_info k;
        struct store_cred c = {0};
        key_from_row(s, &k);
        if (sqlite3_column_bytes(s, 7) != 16 || sqlite3_column_bytes(s, 8) != 32) {
            rc = WEFT_ESTORE;
            break;
        }
        memcpy(c.salt, sqlite3_column_blob(s, 7), 16);
        memcpy(c.hash, sqlite3_column_blob(s, 8), 32);
        rc = sink->key(ud, &k, &c);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(DB(st), "SELECT name,id,created_ms,revoked,salt,hash FROM nodes", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct store_cred c = {0};
        copy_col(c.id, sizeof c.id, s, 1);
        if (sqlite3_column_bytes(s, 4) != 16 || sqlite3_column_bytes(s, 5) != 32) {
            rc = WEFT_ESTORE;
            break;
        }
        memcpy(c.salt, sqlite3_column_blob(s, 4), 16);
        memcpy(c.hash, sqlite3_column_blob(s, 5), 32);
        rc = sink->node(ud, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 2),
                        sqlite3_column_int(s, 3), &c);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(DB(st), "SELECT name,max_budget_w,max_slots,models FROM node_limits", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st);
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct weft_node_limits lim;
        memset(&lim, 0, sizeof lim);
        lim.max_budget_w = sqlite3_column_double(s, 1);
        lim.max_slots = sqlite3_column_int(s, 2);
        copy_col(lim.models, sizeof lim.models, s, 3);
        rc = sink->limits(ud, (const char *)sqlite3_column_text(s, 0), &lim);
    }
    sqlite3_finalize(s);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(DB(st), "SELECT " JOB_COLS " FROM jobs ORDER BY created_ms, id", -1, &s,
                           NULL) != SQLITE_OK)
        return db_err(st);
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct weft_job_row r;
        job_from_row(s, &r);
        rc = load_journal(st, &r);
        if (rc == 0)
            rc = sink->job(ud, &r);
        weft_job_row_free(&r);
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_job_count_open(struct weft_store *st, const char *key_id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT count(*) FROM jobs WHERE key_id=? AND state<2 AND stream=0", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : db_err(st);
    sqlite3_finalize(s);
    return n;
}

static int sq_tx_begin(struct weft_store *st)
{
    return sqlite3_exec(DB(st), "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : db_err(st);
}

static int sq_tx_end(struct weft_store *st, int commit)
{
    if (commit && sqlite3_exec(DB(st), "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    sqlite3_exec(DB(st), "ROLLBACK", NULL, NULL, NULL);
    return commit ? db_err(st) : 0;
}

/* ---- files and batches ------------------------------------------------- */

#define FILE_COLS "id,key_id,purpose,filename,bytes,created_ms"

static void file_from_row(sqlite3_stmt *s, struct weft_file_row *f, int with_data)
{
    memset(f, 0, sizeof *f);
    copy_col(f->id, sizeof f->id, s, 0);
    copy_col(f->key_id, sizeof f->key_id, s, 1);
    copy_col(f->purpose, sizeof f->purpose, s, 2);
    copy_col(f->filename, sizeof f->filename, s, 3);
    f->bytes = sqlite3_column_int64(s, 4);
    f->created_ms = sqlite3_column_int64(s, 5);
    if (with_data) {
        const void *p = sqlite3_column_blob(s, 6);
        size_t n = (size_t)sqlite3_column_bytes(s, 6);
        f->data = malloc(n + 1);
        if (f->data) {
            if (n)
                memcpy(f->data, p, n);
            f->data[n] = '\0';
        }
    }
}

static int sq_file_put(struct weft_store *st, const struct weft_file_row *f, const void *data,
                       size_t len)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT OR IGNORE INTO files(" FILE_COLS ",data) VALUES(?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, f->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, f->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, f->purpose, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, f->filename, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)len);
    sqlite3_bind_int64(s, 6, f->created_ms);
    sqlite3_bind_blob64(s, 7, len ? data : "", len, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static void bind_key(sqlite3_stmt *s, int i, const char *key_id)
{
    if (key_id)
        sqlite3_bind_text(s, i, key_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static int sq_file_get(struct weft_store *st, const char *id, const char *key_id,
                       struct weft_file_row *f, int with_data)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           with_data ? "SELECT " FILE_COLS ",data FROM files WHERE id=?1 AND "
                                       "(?2 IS NULL OR key_id=?2)"
                                     : "SELECT " FILE_COLS " FROM files WHERE id=?1 AND "
                                       "(?2 IS NULL OR key_id=?2)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    bind_key(s, 2, key_id);
    int rc = WEFT_ENOENT;
    if (sqlite3_step(s) == SQLITE_ROW) {
        file_from_row(s, f, with_data);
        rc = with_data && !f->data ? WEFT_ENOMEM : 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_file_delete(struct weft_store *st, const char *id, const char *key_id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "DELETE FROM files WHERE id=?1 AND (?2 IS NULL OR key_id=?2)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    bind_key(s, 2, key_id);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc < 0 ? rc : rc == 0 ? WEFT_ENOENT : 0;
}

static int sq_file_list(struct weft_store *st, const char *key_id, const char *purpose,
                        const char *after, int limit, int with_data,
                        void (*cb)(const struct weft_file_row *f, void *ud), void *ud)
{
    sqlite3_stmt *s;
    const char *sql =
        with_data ? "SELECT " FILE_COLS ",data FROM files WHERE (?1 IS NULL OR key_id=?1) AND"
                    " (?2 IS NULL OR purpose=?2) AND (?3 IS NULL OR (created_ms, id) <"
                    " (SELECT created_ms, id FROM files WHERE id=?3))"
                    " ORDER BY created_ms DESC, id DESC LIMIT ?4"
                  : "SELECT " FILE_COLS " FROM files WHERE (?1 IS NULL OR key_id=?1) AND"
                    " (?2 IS NULL OR purpose=?2) AND (?3 IS NULL OR (created_ms, id) <"
                    " (SELECT created_ms, id FROM files WHERE id=?3))"
                    " ORDER BY created_ms DESC, id DESC LIMIT ?4";
    if (sqlite3_prepare_v2(DB(st), sql, -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    bind_key(s, 1, key_id);
    bind_key(s, 2, purpose);
    bind_key(s, 3, after);
    sqlite3_bind_int(s, 4, limit);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct weft_file_row f;
        file_from_row(s, &f, with_data);
        if (with_data && !f.data) {
            sqlite3_finalize(s);
            return WEFT_ENOMEM;
        }
        cb(&f, ud);
        weft_file_row_free(&f);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

static int sq_batch_put(struct weft_store *st, const struct weft_batch_row *b)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT OR IGNORE INTO batches(id,key_id,input_file_id,kind,created_ms,"
                           "expires_ms,cancel_ms,done_ms,status,output_file_id,error_file_id,"
                           "metadata,total) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, b->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, b->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, b->input_file_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, b->kind);
    sqlite3_bind_int64(s, 5, b->created_ms);
    sqlite3_bind_int64(s, 6, b->expires_ms);
    sqlite3_bind_int64(s, 7, b->cancel_ms);
    sqlite3_bind_int64(s, 8, b->done_ms);
    sqlite3_bind_text(s, 9, b->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, b->output_file_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, b->error_file_id, -1, SQLITE_STATIC);
    bind_key(s, 12, b->metadata);
    sqlite3_bind_int(s, 13, b->total);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_batch_line_put(struct weft_store *st, const char *batch_id, int line,
                             const char *custom_id, const char *job_id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT OR IGNORE INTO batch_lines(batch_id,line,custom_id,job_id)"
                           " VALUES(?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, batch_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, line);
    sqlite3_bind_text(s, 3, custom_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, job_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static void batch_from_row(sqlite3_stmt *s, struct weft_batch_row *b)
{
    memset(b, 0, sizeof *b);
    copy_col(b->id, sizeof b->id, s, 0);
    copy_col(b->key_id, sizeof b->key_id, s, 1);
    copy_col(b->input_file_id, sizeof b->input_file_id, s, 2);
    b->kind = sqlite3_column_int(s, 3);
    b->created_ms = sqlite3_column_int64(s, 4);
    b->expires_ms = sqlite3_column_int64(s, 5);
    b->cancel_ms = sqlite3_column_int64(s, 6);
    b->done_ms = sqlite3_column_int64(s, 7);
    copy_col(b->status, sizeof b->status, s, 8);
    copy_col(b->output_file_id, sizeof b->output_file_id, s, 9);
    copy_col(b->error_file_id, sizeof b->error_file_id, s, 10);
    b->metadata = dup_col(s, 11);
    b->total = sqlite3_column_int(s, 12);
    b->succeeded = sqlite3_column_int(s, 13);
    b->failed = sqlite3_column_int(s, 14);
    b->open = sqlite3_column_int(s, 15);
    b->last_finished_ms = sqlite3_column_int64(s, 16);
}

static int sq_batch_get(struct weft_store *st, const char *id, const char *key_id,
                        struct weft_batch_row *b)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT " STORE_BATCH_COLS " FROM batches b WHERE b.id=?1 AND"
                           " (?2 IS NULL OR b.key_id=?2)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    bind_key(s, 2, key_id);
    int rc = WEFT_ENOENT;
    if (sqlite3_step(s) == SQLITE_ROW) {
        batch_from_row(s, b);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_batch_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                         void (*cb)(const struct weft_batch_row *b, void *ud), void *ud)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT " STORE_BATCH_COLS " FROM batches b WHERE"
                           " (?1 IS NULL OR b.key_id=?1) AND (?2 IS NULL OR (b.created_ms, b.id) <"
                           " (SELECT created_ms, id FROM batches WHERE id=?2))"
                           " ORDER BY b.created_ms DESC, b.id DESC LIMIT ?3",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    bind_key(s, 1, key_id);
    bind_key(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct weft_batch_row b;
        batch_from_row(s, &b);
        cb(&b, ud);
        weft_batch_row_free(&b);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

static int sq_batch_lines(struct weft_store *st, const char *id,
                          void (*cb)(int line, const char *custom_id,
                                     const struct weft_job_row *job, void *ud),
                          void *ud)
{
    sqlite3_stmt *s;
    /* JOB_COLS first (job_from_row reads from column 0); no column of
     * batch_lines shares a name with one of jobs. */
    if (sqlite3_prepare_v2(DB(st),
                           "SELECT " JOB_COLS ",line,custom_id FROM batch_lines"
                           " JOIN jobs ON jobs.id=batch_lines.job_id WHERE batch_id=?"
                           " ORDER BY line",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct weft_job_row r;
        job_from_row(s, &r);
        cb(sqlite3_column_int(s, 16), (const char *)sqlite3_column_text(s, 17), &r, ud);
        weft_job_row_free(&r);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

static int sq_batch_cancel(struct weft_store *st, const char *id, int64_t now_ms)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            DB(st), "UPDATE batches SET cancel_ms=? WHERE id=? AND cancel_ms=0 AND status=''", -1,
            &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_batch_final(struct weft_store *st, const struct weft_batch_row *b)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "UPDATE batches SET status=?,done_ms=?,output_file_id=?,error_file_id=?"
                           " WHERE id=? AND status=''",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, b->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, b->done_ms);
    sqlite3_bind_text(s, 3, b->output_file_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, b->error_file_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, b->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(DB(st)) : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_trust_set(struct weft_store *st, const char *name, int ok, int bad, int quarantined,
                        const char *why)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st),
                           "INSERT INTO node_trust(name,ok,bad,quarantined,why) VALUES(?,?,?,?,?)"
                           " ON CONFLICT(name) DO UPDATE SET ok=excluded.ok, bad=excluded.bad,"
                           " quarantined=excluded.quarantined, why=excluded.why",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, ok);
    sqlite3_bind_int(s, 3, bad);
    sqlite3_bind_int(s, 4, quarantined);
    sqlite3_bind_text(s, 5, why, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
    sqlite3_finalize(s);
    return rc;
}

static int sq_trust_get(struct weft_store *st, const char *name, int *ok, int *bad,
                        int *quarantined, char *why, size_t whycap)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(DB(st), "SELECT ok,bad,quarantined,why FROM node_trust WHERE name=?", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = WEFT_ENOENT;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *ok = sqlite3_column_int(s, 0);
        *bad = sqlite3_column_int(s, 1);
        *quarantined = sqlite3_column_int(s, 2);
        copy_col(why, whycap, s, 3);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static const struct store_ops sq_ops = {
    .kind = "sqlite",
    .shared = 0,
    .check = sq_check,
    .close = sq_close,
    .key_create = sq_key_create,
    .key_check = sq_key_check,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .key_count = sq_key_count,
    .node_enroll = sq_node_enroll,
    .node_check = sq_node_check,
    .node_revoke = sq_node_revoke,
    .node_limits_set = sq_node_limits_set,
    .node_limits_get = sq_node_limits_get,
    .node_list = sq_node_list,
    .job_insert = sq_job_insert,
    .job_mark = sq_job_mark,
    .job_finish = sq_job_finish,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .job_count_open = sq_job_count_open,
    .job_claim = sq_job_claim,
    .lease_renew = sq_lease_renew,
    .lease_release = sq_lease_release,
    .journal_append = sq_journal_append,
    .journal_get = sq_journal_get,
    .purge_streams = sq_purge_streams,
    .export_rows = sq_export,
    .tx_begin = sq_tx_begin,
    .tx_end = sq_tx_end,
    .trust_set = sq_trust_set,
    .trust_get = sq_trust_get,
    .file_put = sq_file_put,
    .file_get = sq_file_get,
    .file_delete = sq_file_delete,
    .file_list = sq_file_list,
    .batch_put = sq_batch_put,
    .batch_line_put = sq_batch_line_put,
    .batch_get = sq_batch_get,
    .batch_list = sq_batch_list,
    .batch_lines = sq_batch_lines,
    .batch_cancel = sq_batch_cancel,
    .batch_final = sq_batch_final,
};

int store_sqlite_open(struct weft_store **out, const char *path, char *err, size_t errcap)
{
    return sq_open(out, path, err, errcap);
}
