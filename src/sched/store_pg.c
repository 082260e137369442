/* The PostgreSQL backend (libpq): one store shared by a region's
 * schedulers. See include/weft/store.h and store_backend.h.
 *
 * Every statement runs on its own (autocommit), so each call is one
 * transaction, committed before it returns. Claims lock the rows they
 * choose with FOR UPDATE SKIP LOCKED: two schedulers claiming at once get
 * different jobs, and neither waits for the other. Leases are timed by
 * the database's clock (NOW_MS), one clock for every scheduler.
 *
 * The connection is synchronous, on the loop thread, as the SQLite one
 * is; statement_timeout and connect_timeout bound how long one call can
 * hold the loop. When it breaks, calls fail at once with WEFT_ESTORE and
 * a reconnect is tried on a call at most once a second. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "weft/error.h"
#include "weft/time.h"

#define NOW_MS          "(extract(epoch from clock_timestamp())*1000)::bigint"
#define RETRY_MS        1000
#define STATEMENT_MS    "5000"
#define CONNECT_S       "3"
#define SCHEMA_LOCK_KEY "7707" /* pg_advisory_xact_lock: one schema maker at a time */

struct pg {
    struct weft_store base; /* first: store.c's part */
    PGconn *conn;
    char *conninfo;
    uint64_t next_try_ms; /* monotonic: the next reconnect allowed */
    unsigned generation;  /* counts connections made */
    int in_tx;            /* inside tx_begin .. tx_end: never reconnect */
    char last_error[256];
};

#define PG(st)     ((struct pg *)(st))
#define STORE_BLOB "BYTEA"

static const char schema[] =
    "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ");"
    "CREATE TABLE IF NOT EXISTS api_keys("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, salt BYTEA NOT NULL, hash BYTEA NOT NULL,"
    " created_ms BIGINT NOT NULL, revoked INT NOT NULL DEFAULT 0,"
    " rate_per_min INT NOT NULL, max_concurrent INT NOT NULL, admin INT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS nodes("
    " name TEXT PRIMARY KEY, id TEXT UNIQUE NOT NULL, salt BYTEA NOT NULL, hash BYTEA NOT NULL,"
    " created_ms BIGINT NOT NULL, revoked INT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS node_limits("
    " name TEXT PRIMARY KEY, max_budget_w DOUBLE PRECISION NOT NULL, max_slots INT NOT NULL,"
    " models TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id TEXT PRIMARY KEY, key_id TEXT NOT NULL, idem TEXT, created_ms BIGINT NOT NULL,"
    " deadline_ms BIGINT NOT NULL, priority INT NOT NULL, kind INT NOT NULL,"
    " request TEXT NOT NULL, state INT NOT NULL, result TEXT, error TEXT,"
    " finished_ms BIGINT NOT NULL DEFAULT 0, completions INT NOT NULL DEFAULT 0,"
    " model TEXT NOT NULL DEFAULT '', seed BIGINT, owner TEXT,"
    " lease_until_ms BIGINT NOT NULL DEFAULT 0, stream INT NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs(key_id, idem) WHERE idem IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_open ON jobs(created_ms, id) WHERE state < 2;"
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner) WHERE state < 2;"
    "CREATE INDEX IF NOT EXISTS jobs_page ON jobs(key_id, created_ms, id);"
    "CREATE TABLE IF NOT EXISTS journal("
    " job_id TEXT NOT NULL, start INT NOT NULL, tokens BYTEA NOT NULL, text BYTEA NOT NULL,"
    " PRIMARY KEY(job_id, start));"
    "ALTER TABLE journal ADD COLUMN IF NOT EXISTS lp BYTEA;" STORE_FILES_SCHEMA;

/* The connection's last error, one line, with any password left out
 * (libpq's messages never carry it). */
static void note_error(struct pg *p)
{
    const char *m = p->conn ? PQerrorMessage(p->conn) : "out of memory";
    snprintf(p->last_error, sizeof p->last_error, "%s", m);
    char *nl = strchr(p->last_error, '\n');
    if (nl)
        *nl = '\0';
}

/* Makes the schema, sets the session's bounds and listens: on a fresh
 * connection and after every reconnect. */
static int session_setup(struct pg *p)
{
    PGresult *r = PQexec(p->conn, "SET statement_timeout = " STATEMENT_MS
                                  "; SET client_min_messages = warning");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        r = PQexec(p->conn, "BEGIN");
        PQclear(r);
        r = PQexec(p->conn, schema);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        r = PQexec(p->conn, ok ? "COMMIT" : "ROLLBACK");
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (ok) {
        r = PQexec(p->conn, "LISTEN weft_jobs");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok)
        note_error(p);
    return ok ? 0 : WEFT_ESTORE;
}

static int connect_now(struct pg *p)
{
    /* connect_timeout first: a value in the URI overrides it. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {CONNECT_S, "weft-scheduler", p->conninfo, NULL};
    if (p->conn)
        PQfinish(p->conn);
    p->conn = PQconnectdbParams(keys, vals, 1);
    p->generation++;
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        note_error(p);
        return WEFT_ESTORE;
    }
    return session_setup(p);
}

/* A usable connection, reconnecting when it broke and a retry is due. */
static int ready(struct pg *p)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (p->in_tx)
        return WEFT_ESTORE;
    uint64_t now = weft_mono_ms();
    if (now < p->next_try_ms)
        return WEFT_ESTORE;
    p->next_try_ms = now + RETRY_MS;
    return connect_now(p);
}

/* Runs one statement with text parameters (bytea ones binary, where
 * lens[i] > 0); NULL on failure. The caller PQclear()s the result. */
static PGresult *run_fmt(struct pg *p, const char *sql, int n, const char *const *vals,
                         const int *lens, int binary_result)
{
    if (ready(p) != 0)
        return NULL;
    int fmts[16] = {0};
    for (int i = 0; lens && i < n && i < 16; i++)
        fmts[i] = lens[i] > 0;
    PGresult *r =
        PQexecParams(p->conn, sql, n, NULL, vals, lens, lens ? fmts : NULL, binary_result);
    ExecStatusType t = PQresultStatus(r);
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
        return r;
    note_error(p);
    PQclear(r);
    return NULL;
}

static PGresult *run(struct pg *p, const char *sql, int n, const char *const *vals)
{
    return run_fmt(p, sql, n, vals, NULL, 0);
}

/* The rows a command's tag says it changed ("" for none: 0). */
static int cmd_tuples(PGresult *r)
{
    return (int)strtol(PQcmdTuples(r), NULL, 10);
}

/* Rows a command changed, or WEFT_ESTORE. */
static int run_changes(struct pg *p, const char *sql, int n, const char *const *vals)
{
    PGresult *r = run(p, sql, n, vals);
    if (!r)
        return WEFT_ESTORE;
    int changed = cmd_tuples(r);
    PQclear(r);
    return changed;
}

static void copy_val(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static char *dup_val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static long long val_ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A salt and hash (bytea, text form) in columns col, col+1 against secret. */
static int check_hash(const PGresult *r, int row, int col, const char *secret)
{
    size_t sl = 0, hl = 0;
    unsigned char *salt = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &sl);
    unsigned char *hash = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col + 1), &hl);
    int rc = store_cred_verify(salt, sl, hash, hl, secret);
    PQfreemem(salt);
    PQfreemem(hash);
    return rc;
}

/* ---- life ---------------------------------------------------------------- */

static int pg_check(struct weft_store *st, char *err, size_t errcap)
{
    PGresult *r = run(PG(st), "SELECT 1", 0, NULL);
    if (!r) {
        snprintf(err, errcap, "PostgreSQL: %s", PG(st)->last_error);
        return WEFT_ESTORE;
    }
    PQclear(r);
    return 0;
}

static void pg_close(struct weft_store *st)
{
    struct pg *p = PG(st);
    PQfinish(p->conn);
    free(p->conninfo);
    free(p);
}

/* ---- keys ---------------------------------------------------------------- */

#define KEY_COLS "id,name,created_ms,revoked,rate_per_min,max_concurrent,admin"

static void key_from(const PGresult *r, int i, struct weft_key_info *k)
{
    memset(k, 0, sizeof *k);
    copy_val(k->id, sizeof k->id, r, i, 0);
    copy_val(k->name, sizeof k->name, r, i, 1);
    k->created_ms = val_ll(r, i, 2);
    k->revoked = (int)val_ll(r, i, 3);
    k->rate_per_min = (int)val_ll(r, i, 4);
    k->max_concurrent = (int)val_ll(r, i, 5);
    k->admin = (int)val_ll(r, i, 6);
}

static int pg_key_create(struct weft_store *st, const char *name, int rate_per_min,
                         int max_concurrent, int admin, char key_out[WEFT_SECRET_MAX],
                         struct weft_key_info *info)
{
    struct store_cred c;
    if (store_cred_mint("wk-", &c, key_out))
        return WEFT_EIO;
    char now[24], rate[16], conc[16], adm[4];
    int64_t t = weft_wall_ms();
    snprintf(now, sizeof now, "%lld", (long long)t);
    snprintf(rate, sizeof rate, "%d", rate_per_min);
    snprintf(conc, sizeof conc, "%d", max_concurrent);
    snprintf(adm, sizeof adm, "%d", admin ? 1 : 0);
    const char *v[] = {c.id, name, (const char *)c.salt, (const char *)c.hash, now, rate,
                       conc, adm};
    const int lens[] = {0, 0, 16, 32, 0, 0, 0, 0};
    PGresult *r = run_fmt(PG(st),
                          "INSERT INTO api_keys(id,name,salt,hash,created_ms,rate_per_min,"
                          "max_concurrent,admin) VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
                          8, v, lens, 0);
    if (!r)
        return WEFT_ESTORE;
    PQclear(r);
    if (info) {
        memset(info, 0, sizeof *info);
        snprintf(info->id, sizeof info->id, "%s", c.id);
        snprintf(info->name, sizeof info->name, "%s", name);
        info->created_ms = t;
        info->rate_per_min = rate_per_min;
        info->max_concurrent = max_concurrent;
        info->admin = admin;
    }
    return 0;
}

static int pg_key_check(struct weft_store *st, const char *presented, struct weft_key_info *info)
{
    char id[24];
    const char *secret;
    if (store_cred_split(presented, "wk-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    const char *v[] = {id};
    PGresult *r = run(PG(st), "SELECT " KEY_COLS ",salt,hash FROM api_keys WHERE id=$1", 1, v);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_EAUTH;
    if (PQntuples(r) == 1 && check_hash(r, 0, 7, secret) == 0) {
        key_from(r, 0, info);
        rc = info->revoked ? WEFT_EAUTH : 0;
    }
    PQclear(r);
    return rc;
}

static int pg_key_list(struct weft_store *st, void (*cb)(const struct weft_key_info *k, void *ud),
                       void *ud)
{
    PGresult *r = run(PG(st), "SELECT " KEY_COLS " FROM api_keys ORDER BY created_ms", 0, NULL);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct weft_key_info k;
        key_from(r, i, &k);
        cb(&k, ud);
    }
    PQclear(r);
    return n;
}

static int pg_key_revoke(struct weft_store *st, const char *id_or_name)
{
    const char *v[] = {id_or_name};
    int n = run_changes(PG(st), "UPDATE api_keys SET revoked=1 WHERE id=$1 OR name=$1", 1, v);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

static int pg_key_count(struct weft_store *st)
{
    PGresult *r = run(PG(st), "SELECT count(*) FROM api_keys", 0, NULL);
    if (!r)
        return WEFT_ESTORE;
    int n = (int)val_ll(r, 0, 0);
    PQclear(r);
    return n;
}

/* ---- nodes --------------------------------------------------------------- */

static int pg_node_enroll(struct weft_store *st, const char *name, char token_out[WEFT_SECRET_MAX])
{
    struct store_cred c;
    if (store_cred_mint("wn-", &c, token_out))
        return WEFT_EIO;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)weft_wall_ms());
    const char *v[] = {name, c.id, (const char *)c.salt, (const char *)c.hash, now};
    const int lens[] = {0, 0, 16, 32, 0};
    PGresult *r = run_fmt(PG(st),
                          "INSERT INTO nodes(name,id,salt,hash,created_ms,revoked)"
                          " VALUES($1,$2,$3,$4,$5,0) ON CONFLICT(name) DO UPDATE SET"
                          " id=EXCLUDED.id, salt=EXCLUDED.salt, hash=EXCLUDED.hash,"
                          " created_ms=EXCLUDED.created_ms, revoked=0",
                          5, v, lens, 0);
    if (!r)
        return WEFT_ESTORE;
    PQclear(r);
    return 0;
}

static int pg_node_check(struct weft_store *st, const char *presented, char *name, size_t namecap)
{
    char id[24];
    const char *secret;
    if (store_cred_split(presented, "wn-", id, sizeof id, &secret))
        return WEFT_EAUTH;
    const char *v[] = {id};
    PGresult *r = run(PG(st), "SELECT name,revoked,salt,hash FROM nodes WHERE id=$1", 1, v);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_EAUTH;
    if (PQntuples(r) == 1 && val_ll(r, 0, 1) == 0 && check_hash(r, 0, 2, secret) == 0) {
        copy_val(name, namecap, r, 0, 0);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int pg_node_revoke(struct weft_store *st, const char *name)
{
    const char *v[] = {name};
    int n = run_changes(PG(st), "UPDATE nodes SET revoked=1 WHERE name=$1", 1, v);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

static int pg_node_limits_set(struct weft_store *st, const char *name,
                              const struct weft_node_limits *lim)
{
    char w[32], slots[16];
    snprintf(w, sizeof w, "%.17g", lim->max_budget_w);
    snprintf(slots, sizeof slots, "%d", lim->max_slots);
    const char *v[] = {name, w, slots, lim->models};
    int n = run_changes(PG(st),
                        "INSERT INTO node_limits(name,max_budget_w,max_slots,models)"
                        " VALUES($1,$2,$3,$4) ON CONFLICT(name) DO UPDATE SET"
                        " max_budget_w=EXCLUDED.max_budget_w, max_slots=EXCLUDED.max_slots,"
                        " models=EXCLUDED.models",
                        4, v);
    return n < 0 ? n : 0;
}

static int pg_node_limits_get(struct weft_store *st, const char *name, struct weft_node_limits *lim)
{
    const char *v[] = {name};
    PGresult *r =
        run(PG(st), "SELECT max_budget_w,max_slots,models FROM node_limits WHERE name=$1", 1, v);
    if (!r)
        return WEFT_ESTORE;
    if (PQntuples(r) == 1) {
        lim->max_budget_w = strtod(PQgetvalue(r, 0, 0), NULL);
        lim->max_slots = (int)val_ll(r, 0, 1);
        copy_val(lim->models, sizeof lim->models, r, 0, 2);
    }
    PQclear(r);
    return 0;
}

static int pg_node_list(struct weft_store *st,
                        void (*cb)(const char *name, int64_t created_ms, int revoked, void *ud),
                        void *ud)
{
    PGresult *r = run(PG(st), "SELECT name,created_ms,revoked FROM nodes ORDER BY name", 0, NULL);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        cb(PQgetvalue(r, i, 0), val_ll(r, i, 1), (int)val_ll(r, i, 2), ud);
    PQclear(r);
    return n;
}

/* ---- jobs ---------------------------------------------------------------- */

#define JOB_COLS                                                                                   \
    "id,key_id,idem,created_ms,deadline_ms,priority,kind,state,finished_ms,completions,request,"   \
    "result,error,model,seed,stream"

static void job_from(const PGresult *r, int i, struct weft_job_row *j)
{
    memset(j, 0, sizeof *j);
    copy_val(j->id, sizeof j->id, r, i, 0);
    copy_val(j->key_id, sizeof j->key_id, r, i, 1);
    copy_val(j->idem, sizeof j->idem, r, i, 2);
    j->created_ms = val_ll(r, i, 3);
    j->deadline_ms = val_ll(r, i, 4);
    j->priority = (int)val_ll(r, i, 5);
    j->kind = (int)val_ll(r, i, 6);
    j->state = (enum weft_job_state)val_ll(r, i, 7);
    j->finished_ms = val_ll(r, i, 8);
    j->completions = (int)val_ll(r, i, 9);
    j->request = dup_val(r, i, 10);
    j->result = dup_val(r, i, 11);
    j->error = dup_val(r, i, 12);
    copy_val(j->model, sizeof j->model, r, i, 13);
    j->has_seed = !PQgetisnull(r, i, 14);
    j->seed = (uint64_t)val_ll(r, i, 14);
    j->stream = (int)val_ll(r, i, 15);
}

static int pg_job_insert(struct weft_store *st, struct weft_job_row *row, int *existing)
{
    char created[24], deadline[24], prio[8], kind[8], state[8], seed[24], lease[16];
    snprintf(created, sizeof created, "%lld", (long long)row->created_ms);
    snprintf(deadline, sizeof deadline, "%lld", (long long)row->deadline_ms);
    snprintf(prio, sizeof prio, "%d", row->priority);
    snprintf(kind, sizeof kind, "%d", row->kind);
    snprintf(state, sizeof state, "%d", WEFT_JOB_QUEUED);
    snprintf(seed, sizeof seed, "%lld", (long long)row->seed);
    snprintf(lease, sizeof lease, "%d", st->lease_ms);
    const char *v[] = {row->id,
                       row->key_id,
                       row->idem[0] ? row->idem : NULL,
                       created,
                       deadline,
                       prio,
                       kind,
                       row->request,
                       state,
                       row->model,
                       row->has_seed ? seed : NULL,
                       st->owner,
                       lease,
                       row->stream ? "1" : "0"};
    /* The idempotency index decides, in the same statement: two schedulers
     * taking the same key's retry at once still write one job. */
    PGresult *r = run(PG(st),
                      "INSERT INTO jobs(id,key_id,idem,created_ms,deadline_ms,priority,kind,"
                      "request,state,model,seed,owner,lease_until_ms,stream)"
                      " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12," NOW_MS "+$13,$14)"
                      " ON CONFLICT (key_id, idem) WHERE idem IS NOT NULL DO NOTHING RETURNING id",
                      14, v);
    if (!r)
        return WEFT_ESTORE;
    int wrote = PQntuples(r);
    PQclear(r);
    if (wrote) {
        row->state = WEFT_JOB_QUEUED;
        return 0;
    }
    const char *q[] = {row->key_id, row->idem};
    r = run(PG(st), "SELECT " JOB_COLS " FROM jobs WHERE key_id=$1 AND idem=$2", 2, q);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_ESTORE;
    if (PQntuples(r) == 1) {
        weft_job_row_free(row);
        job_from(r, 0, row);
        *existing = 1;
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int pg_job_mark(struct weft_store *st, const char *id, enum weft_job_state s)
{
    char state[8];
    snprintf(state, sizeof state, "%d", s);
    const char *v[] = {state, id};
    int n = run_changes(PG(st), "UPDATE jobs SET state=$1 WHERE id=$2 AND state<2", 2, v);
    return n < 0 ? n : 0;
}

static int pg_job_finish(struct weft_store *st, const char *id, enum weft_job_state s,
                         const char *result, const char *error)
{
    char state[8], now[24];
    snprintf(state, sizeof state, "%d", s);
    snprintf(now, sizeof now, "%lld", (long long)weft_wall_ms());
    const char *v[] = {state, result, error, now, id};
    PGresult *r = run(PG(st),
                      "UPDATE jobs SET state=$1, result=$2, error=$3, finished_ms=$4,"
                      " completions=completions+($1::int=2)::int, owner=NULL WHERE id=$5 AND"
                      " state<2 RETURNING stream",
                      5, v);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    int stream = n == 1 && val_ll(r, 0, 0) == 1;
    PQclear(r);
    /* The journal of a finished job is in its result. A statement of its
     * own, after the outcome: its snapshot sees every batch committed
     * before, and an append after it finds the job finished (appends lock
     * the job's row and check). A stream's journal stays for late resumes.
     * Should this delete fail, the purge takes the rows later. */
    if (n == 1 && !stream) {
        const char *d[] = {id};
        run_changes(PG(st), "DELETE FROM journal WHERE job_id=$1", 1, d);
    }
    return n;
}

static int pg_job_get(struct weft_store *st, const char *id, const char *key_id,
                      struct weft_job_row *row)
{
    const char *v[] = {id, key_id};
    PGresult *r =
        run(PG(st), "SELECT " JOB_COLS " FROM jobs WHERE id=$1 AND ($2::text IS NULL OR key_id=$2)",
            2, v);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_ENOENT;
    if (PQntuples(r) == 1) {
        job_from(r, 0, row);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static int each_job(PGresult *r, void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct weft_job_row j;
        job_from(r, i, &j);
        cb(&j, ud);
        weft_job_row_free(&j);
    }
    PQclear(r);
    return n;
}

static int pg_job_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                       void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {key_id, after, lim};
    PGresult *r = run(PG(st),
                      "SELECT " JOB_COLS " FROM jobs WHERE stream=0 AND ($1::text IS NULL OR"
                      " key_id=$1) AND"
                      " ($2::text IS NULL OR (created_ms, id) < (SELECT created_ms, id FROM jobs"
                      " WHERE id=$2)) ORDER BY created_ms DESC, id DESC LIMIT $3",
                      3, v);
    return r ? each_job(r, cb, ud) : WEFT_ESTORE;
}

/* Reads job row->id's journal into row, as far as it runs without a gap
 * (binary results: the tokens and text are bytes). */
static int load_journal(struct pg *p, struct weft_job_row *row)
{
    const char *v[] = {row->id};
    PGresult *r =
        run_fmt(p, "SELECT start,tokens,text,lp FROM journal WHERE job_id=$1 ORDER BY start", 1, v,
                NULL, 1);
    if (!r)
        return WEFT_ESTORE;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const unsigned char *b = (const unsigned char *)PQgetvalue(r, i, 0);
        int32_t start = (int32_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                  (uint32_t)b[2] << 8 | (uint32_t)b[3]);
        if (PQgetlength(r, i, 0) != 4 || start != row->n_tokens)
            break;
        int n = PQgetlength(r, i, 1) / STORE_TOKEN_BYTES;
        rc = n > 0 ? store_tokens_append(row, (const unsigned char *)PQgetvalue(r, i, 1), n) : 0;
        if (rc == 0 && PQgetlength(r, i, 2) > 0)
            rc = store_text_append(row, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
        if (rc == 0 && !PQgetisnull(r, i, 3) && PQgetlength(r, i, 3) > 0)
            rc = store_lp_append(row, PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3));
    }
    PQclear(r);
    return rc;
}

static int pg_job_claim(struct weft_store *st, const struct weft_claim *c,
                        void (*cb)(const struct weft_job_row *row, void *ud), void *ud)
{
    char all[4], before[24], max[16], lease[16], ab[16];
    snprintf(all, sizeof all, "%d", c->take_all ? 1 : 0);
    snprintf(before, sizeof before, "%lld", (long long)c->expired_before);
    snprintf(max, sizeof max, "%d", c->max);
    snprintf(lease, sizeof lease, "%d", st->lease_ms);
    snprintf(ab, sizeof ab, "%d", c->abandoned_ms);
    const char *v[] = {all,   c->models,           before, max, st->owner,
                       lease, c->mine ? "1" : "0", c->id,  ab};
    PGresult *r = run(PG(st),
                      "WITH c AS (SELECT id FROM jobs WHERE state<2 AND (CASE WHEN $7::int=1"
                      " THEN owner=$5 WHEN $8::text IS NOT NULL THEN lease_until_ms<" NOW_MS
                      " OR owner=$5 ELSE $1::int=1 OR lease_until_ms<" NOW_MS " END) AND"
                      " ($8::text IS NULL OR id=$8) AND ($8::text IS NOT NULL OR (stream=0 AND"
                      " ($2::text IS NULL OR strpos($2, ','||model||',')>0 OR (deadline_ms>0"
                      " AND deadline_ms<$3))) OR (stream=1 AND $9::int>0 AND lease_until_ms<" NOW_MS
                      "-$9::int))"
                      " ORDER BY created_ms, id LIMIT $4 FOR UPDATE SKIP LOCKED)"
                      " UPDATE jobs j SET owner=$5, lease_until_ms=" NOW_MS "+$6 FROM c"
                      " WHERE j.id=c.id RETURNING j.id,j.key_id,j.idem,j.created_ms,"
                      "j.deadline_ms,j.priority,j.kind,j.state,j.finished_ms,j.completions,"
                      "j.request,j.result,j.error,j.model,j.seed,j.stream",
                      9, v);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct weft_job_row j;
        job_from(r, i, &j);
        /* A journal that cannot be read leaves the job to start over:
         * slower, never wrong, since the seed is the job's. */
        if (load_journal(PG(st), &j) != 0) {
            free(j.tokens);
            free(j.lens);
            free(j.text);
            j.tokens = NULL;
            j.lens = NULL;
            j.text = NULL;
            j.n_tokens = 0;
            j.text_len = 0;
        }
        cb(&j, ud);
        weft_job_row_free(&j);
    }
    PQclear(r);
    return n;
}

static int pg_lease_renew(struct weft_store *st, void (*cb)(const char *id, void *ud), void *ud)
{
    char lease[16];
    snprintf(lease, sizeof lease, "%d", st->lease_ms);
    const char *v[] = {st->owner, lease};
    PGresult *r = run(PG(st),
                      "UPDATE jobs SET lease_until_ms=" NOW_MS "+$2 WHERE owner=$1 AND state<2"
                      " RETURNING id",
                      2, v);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    for (int i = 0; cb && i < n; i++)
        cb(PQgetvalue(r, i, 0), ud);
    PQclear(r);
    return n;
}

static int pg_lease_release(struct weft_store *st, const char *id)
{
    const char *v[] = {st->owner, id};
    int n = run_changes(PG(st),
                        "UPDATE jobs SET owner=NULL, lease_until_ms=0 WHERE owner=$1 AND"
                        " ($2::text IS NULL OR id=$2)",
                        2, v);
    return n < 0 ? n : 0;
}

static int pg_journal_append(struct weft_store *st, const char *id, int from, const int32_t *tokens,
                             const uint32_t *lens, int n, const char *text, size_t len,
                             const char *lp, size_t lp_len)
{
    unsigned char *packed = malloc((size_t)n * STORE_TOKEN_BYTES);
    if (!packed)
        return WEFT_ENOMEM;
    store_tokens_pack(tokens, lens, n, packed);
    char start[16];
    snprintf(start, sizeof start, "%d", from);
    /* An empty text goes as a text-format '' (a binary one needs a length). */
    const char *v[] = {id, start, (const char *)packed, len ? text : "",
                       lp ? (lp_len ? lp : "") : NULL};
    const int blens[] = {0, 0, n * STORE_TOKEN_BYTES, (int)len, lp ? (int)lp_len : 0};
    PGresult *r =
        run_fmt(PG(st),
                "INSERT INTO journal(job_id,start,tokens,text,lp) SELECT $1,$2::int,$3,$4,"
                "$5 FROM jobs WHERE id=$1 AND state<2 FOR UPDATE ON CONFLICT DO NOTHING",
                5, v, blens, 0);
    free(packed);
    if (!r)
        return WEFT_ESTORE;
    PQclear(r);
    return 0;
}

static int pg_journal_get(struct weft_store *st, const char *id, struct weft_job_row *row)
{
    snprintf(row->id, sizeof row->id, "%s", id);
    return load_journal(PG(st), row);
}

static int pg_purge_streams(struct weft_store *st, int64_t finished_before_ms)
{
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)finished_before_ms);
    const char *v[] = {before};
    int n = run_changes(PG(st),
                        "WITH gone AS (DELETE FROM jobs WHERE stream=1 AND state>=2 AND"
                        " finished_ms<$1 RETURNING id) DELETE FROM journal WHERE job_id IN"
                        " (SELECT id FROM gone) OR job_id IN (SELECT id FROM jobs WHERE"
                        " state>=2 AND stream=0) OR job_id NOT IN (SELECT id FROM jobs)",
                        1, v);
    return n < 0 ? n : 0;
}

static int pg_job_count_open(struct weft_store *st, const char *key_id)
{
    const char *v[] = {key_id};
    PGresult *r =
        run(PG(st), "SELECT count(*) FROM jobs WHERE key_id=$1 AND state<2 AND stream=0", 1, v);
    if (!r)
        return WEFT_ESTORE;
    int n = (int)val_ll(r, 0, 0);
    PQclear(r);
    return n;
}

/* ---- transactions (journal batches, migration) ---------------------------- */

static int pg_tx_begin(struct weft_store *st)
{
    int n = run_changes(PG(st), "BEGIN", 0, NULL);
    if (n >= 0)
        PG(st)->in_tx = 1;
    return n < 0 ? n : 0;
}

static int pg_tx_end(struct weft_store *st, int commit)
{
    struct pg *p = PG(st);
    if (!p->in_tx)
        return commit ? WEFT_ESTORE : 0; /* BEGIN failed: nothing to end */
    /* A broken connection lost the transaction: no reconnect may turn the
     * rest of it into statements of their own (ready() sees in_tx). */
    PGresult *r = run(p, commit ? "COMMIT" : "ROLLBACK", 0, NULL);
    p->in_tx = 0;
    if (!r)
        return WEFT_ESTORE;
    /* COMMIT of a transaction a failed statement aborted rolls it back and
     * says so only in its command tag. */
    int ok = !commit || strcmp(PQcmdStatus(r), "COMMIT") == 0;
    PQclear(r);
    return ok ? 0 : WEFT_ESTORE;
}

static int pg_import_key(struct weft_store *st, const struct weft_key_info *k,
                         const struct store_cred *c)
{
    char created[24], revoked[4], rate[16], conc[16], adm[4];
    snprintf(created, sizeof created, "%lld", (long long)k->created_ms);
    snprintf(revoked, sizeof revoked, "%d", k->revoked ? 1 : 0);
    snprintf(rate, sizeof rate, "%d", k->rate_per_min);
    snprintf(conc, sizeof conc, "%d", k->max_concurrent);
    snprintf(adm, sizeof adm, "%d", k->admin ? 1 : 0);
    const char *v[] = {
        k->id, k->name, (const char *)c->salt, (const char *)c->hash, created, revoked, rate,
        conc,  adm};
    const int lens[] = {0, 0, 16, 32, 0, 0, 0, 0, 0};
    PGresult *r = run_fmt(PG(st),
                          "INSERT INTO api_keys(id,name,salt,hash,created_ms,revoked,rate_per_min,"
                          "max_concurrent,admin) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                          " ON CONFLICT DO NOTHING",
                          9, v, lens, 0);
    if (!r)
        return WEFT_ESTORE;
    int n = cmd_tuples(r);
    PQclear(r);
    return n;
}

static int pg_import_node(struct weft_store *st, const char *name, int64_t created_ms, int revoked,
                          const struct store_cred *c)
{
    char created[24], rev[4];
    snprintf(created, sizeof created, "%lld", (long long)created_ms);
    snprintf(rev, sizeof rev, "%d", revoked ? 1 : 0);
    const char *v[] = {name, c->id, (const char *)c->salt, (const char *)c->hash, created, rev};
    const int lens[] = {0, 0, 16, 32, 0, 0};
    PGresult *r = run_fmt(PG(st),
                          "INSERT INTO nodes(name,id,salt,hash,created_ms,revoked)"
                          " VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                          6, v, lens, 0);
    if (!r)
        return WEFT_ESTORE;
    int n = cmd_tuples(r);
    PQclear(r);
    return n;
}

static int pg_import_job(struct weft_store *st, const struct weft_job_row *j)
{
    char created[24], deadline[24], prio[8], kind[8], state[8], fin[24], comp[8], seed[24];
    snprintf(created, sizeof created, "%lld", (long long)j->created_ms);
    snprintf(deadline, sizeof deadline, "%lld", (long long)j->deadline_ms);
    snprintf(prio, sizeof prio, "%d", j->priority);
    snprintf(kind, sizeof kind, "%d", j->kind);
    snprintf(state, sizeof state, "%d", j->state);
    snprintf(fin, sizeof fin, "%lld", (long long)j->finished_ms);
    snprintf(comp, sizeof comp, "%d", j->completions);
    snprintf(seed, sizeof seed, "%lld", (long long)j->seed);
    const char *v[] = {j->id,
                       j->key_id,
                       j->idem[0] ? j->idem : NULL,
                       created,
                       deadline,
                       prio,
                       kind,
                       j->request,
                       state,
                       j->result,
                       j->error,
                       fin,
                       comp,
                       j->model,
                       j->has_seed ? seed : NULL,
                       j->stream ? "1" : "0"};
    PGresult *r =
        run(PG(st),
            "INSERT INTO jobs(id,key_id,idem,created_ms,deadline_ms,priority,kind,request,"
            "state,result,error,finished_ms,completions,model,seed,stream)"
            " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)"
            " ON CONFLICT DO NOTHING",
            16, v);
    if (!r)
        return WEFT_ESTORE;
    int n = cmd_tuples(r);
    PQclear(r);
    if (n == 1 && j->n_tokens > 0) {
        int rc = pg_journal_append(st, j->id, 0, j->tokens, j->lens, j->n_tokens,
                                   j->text ? j->text : "", j->text_len, j->lp, j->lp_len);
        if (rc)
            return rc;
    }
    return n;
}

/* ---- LISTEN/NOTIFY ---------------------------------------------------------- */

static int pg_notify_fd(struct weft_store *st, unsigned *generation)
{
    struct pg *p = PG(st);
    *generation = p->generation;
    return p->conn && PQstatus(p->conn) == CONNECTION_OK ? PQsocket(p->conn) : -1;
}

static int pg_notify_drain(struct weft_store *st)
{
    struct pg *p = PG(st);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK || !PQconsumeInput(p->conn)) {
        if (p->conn)
            note_error(p);
        return WEFT_ESTORE;
    }
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(p->conn)) != NULL) {
        PQfreemem(nt);
        n++;
    }
    return n;
}

static int pg_notify(struct weft_store *st)
{
    int n = run_changes(PG(st), "NOTIFY weft_jobs", 0, NULL);
    return n < 0 ? n : 0;
}

/* ---- files and batches ------------------------------------------------- */

#define FILE_COLS "id,key_id,purpose,filename,bytes,created_ms"

static void file_from(const PGresult *r, int i, struct weft_file_row *f)
{
    memset(f, 0, sizeof *f);
    copy_val(f->id, sizeof f->id, r, i, 0);
    copy_val(f->key_id, sizeof f->key_id, r, i, 1);
    copy_val(f->purpose, sizeof f->purpose, r, i, 2);
    copy_val(f->filename, sizeof f->filename, r, i, 3);
    f->bytes = val_ll(r, i, 4);
    f->created_ms = val_ll(r, i, 5);
}

/* The content of file f->id into f->data, as bytes (a binary result). */
static int file_data(struct pg *p, struct weft_file_row *f)
{
    const char *v[] = {f->id};
    PGresult *r = run_fmt(p, "SELECT data FROM files WHERE id=$1", 1, v, NULL, 1);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_ENOENT;
    if (PQntuples(r) == 1) {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        f->data = malloc(n + 1);
        rc = f->data ? 0 : WEFT_ENOMEM;
        if (f->data) {
            memcpy(f->data, PQgetvalue(r, 0, 0), n);
            f->data[n] = '\0';
        }
    }
    PQclear(r);
    return rc;
}

static int pg_file_put(struct weft_store *st, const struct weft_file_row *f, const void *data,
                       size_t len)
{
    if (len > INT32_MAX)
        return WEFT_ELIMIT;
    char bytes[24], created[24];
    snprintf(bytes, sizeof bytes, "%zu", len);
    snprintf(created, sizeof created, "%lld", (long long)f->created_ms);
    /* An empty file goes as a text-format '' (a binary one needs a length). */
    const char *v[] = {
        f->id, f->key_id, f->purpose, f->filename, bytes, created, len ? (const char *)data : ""};
    const int lens[] = {0, 0, 0, 0, 0, 0, (int)len};
    PGresult *r = run_fmt(PG(st),
                          "INSERT INTO files(" FILE_COLS ",data) VALUES($1,$2,$3,$4,$5,$6,$7)"
                          " ON CONFLICT (id) DO NOTHING",
                          7, v, lens, 0);
    if (!r)
        return WEFT_ESTORE;
    int n = cmd_tuples(r);
    PQclear(r);
    return n;
}

static int pg_file_get(struct weft_store *st, const char *id, const char *key_id,
                       struct weft_file_row *f, int with_data)
{
    const char *v[] = {id, key_id};
    PGresult *r = run(PG(st),
                      "SELECT " FILE_COLS " FROM files WHERE id=$1 AND ($2::text IS NULL OR"
                      " key_id=$2)",
                      2, v);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_ENOENT;
    if (PQntuples(r) == 1) {
        file_from(r, 0, f);
        rc = with_data ? file_data(PG(st), f) : 0;
        if (rc)
            weft_file_row_free(f);
    }
    PQclear(r);
    return rc;
}

static int pg_file_delete(struct weft_store *st, const char *id, const char *key_id)
{
    const char *v[] = {id, key_id};
    int n = run_changes(PG(st), "DELETE FROM files WHERE id=$1 AND ($2::text IS NULL OR key_id=$2)",
                        2, v);
    return n < 0 ? n : n == 0 ? WEFT_ENOENT : 0;
}

static int pg_file_list(struct weft_store *st, const char *key_id, const char *purpose,
                        const char *after, int limit, int with_data,
                        void (*cb)(const struct weft_file_row *f, void *ud), void *ud)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {key_id, purpose, after, lim};
    PGresult *r = run(PG(st),
                      "SELECT " FILE_COLS " FROM files WHERE ($1::text IS NULL OR key_id=$1) AND"
                      " ($2::text IS NULL OR purpose=$2) AND ($3::text IS NULL OR"
                      " (created_ms, id) < (SELECT created_ms, id FROM files WHERE id=$3))"
                      " ORDER BY created_ms DESC, id DESC LIMIT $4",
                      4, v);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r), rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        struct weft_file_row f;
        file_from(r, i, &f);
        rc = with_data ? file_data(PG(st), &f) : 0;
        if (rc == 0)
            cb(&f, ud);
        weft_file_row_free(&f);
    }
    PQclear(r);
    return rc ? rc : n;
}

static int pg_batch_put(struct weft_store *st, const struct weft_batch_row *b)
{
    char kind[8], created[24], expires[24], cancel[24], done[24], total[16];
    snprintf(kind, sizeof kind, "%d", b->kind);
    snprintf(created, sizeof created, "%lld", (long long)b->created_ms);
    snprintf(expires, sizeof expires, "%lld", (long long)b->expires_ms);
    snprintf(cancel, sizeof cancel, "%lld", (long long)b->cancel_ms);
    snprintf(done, sizeof done, "%lld", (long long)b->done_ms);
    snprintf(total, sizeof total, "%d", b->total);
    const char *v[] = {
        b->id,     b->key_id,         b->input_file_id, kind,        created, expires, cancel, done,
        b->status, b->output_file_id, b->error_file_id, b->metadata, total};
    return run_changes(PG(st),
                       "INSERT INTO batches(id,key_id,input_file_id,kind,created_ms,expires_ms,"
                       "cancel_ms,done_ms,status,output_file_id,error_file_id,metadata,total)"
                       " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
                       " ON CONFLICT (id) DO NOTHING",
                       13, v);
}

static int pg_batch_line_put(struct weft_store *st, const char *batch_id, int line,
                             const char *custom_id, const char *job_id)
{
    char ln[16];
    snprintf(ln, sizeof ln, "%d", line);
    const char *v[] = {batch_id, ln, custom_id, job_id};
    return run_changes(PG(st),
                       "INSERT INTO batch_lines(batch_id,line,custom_id,job_id)"
                       " VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING",
                       4, v);
}

static void batch_from(const PGresult *r, int i, struct weft_batch_row *b)
{
    memset(b, 0, sizeof *b);
    copy_val(b->id, sizeof b->id, r, i, 0);
    copy_val(b->key_id, sizeof b->key_id, r, i, 1);
    copy_val(b->input_file_id, sizeof b->input_file_id, r, i, 2);
    b->kind = (int)val_ll(r, i, 3);
    b->created_ms = val_ll(r, i, 4);
    b->expires_ms = val_ll(r, i, 5);
    b->cancel_ms = val_ll(r, i, 6);
    b->done_ms = val_ll(r, i, 7);
    copy_val(b->status, sizeof b->status, r, i, 8);
    copy_val(b->output_file_id, sizeof b->output_file_id, r, i, 9);
    copy_val(b->error_file_id, sizeof b->error_file_id, r, i, 10);
    b->metadata = dup_val(r, i, 11);
    b->total = (int)val_ll(r, i, 12);
    b->succeeded = (int)val_ll(r, i, 13);
    b->failed = (int)val_ll(r, i, 14);
    b->open = (int)val_ll(r, i, 15);
    b->last_finished_ms = val_ll(r, i, 16);
}

static int each_batch(PGresult *r, void (*cb)(const struct weft_batch_row *b, void *ud), void *ud)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct weft_batch_row b;
        batch_from(r, i, &b);
        cb(&b, ud);
        weft_batch_row_free(&b);
    }
    PQclear(r);
    return n;
}

static void batch_one(const struct weft_batch_row *b, void *ud)
{
    struct weft_batch_row *out = ud;
    *out = *b;
    /* The copy takes the metadata; each_batch frees an empty row. */
    out->metadata = b->metadata ? strdup(b->metadata) : NULL;
}

static int pg_batch_get(struct weft_store *st, const char *id, const char *key_id,
                        struct weft_batch_row *b)
{
    const char *v[] = {id, key_id};
    PGresult *r = run(PG(st),
                      "SELECT " STORE_BATCH_COLS " FROM batches b WHERE b.id=$1 AND"
                      " ($2::text IS NULL OR b.key_id=$2)",
                      2, v);
    if (!r)
        return WEFT_ESTORE;
    return each_batch(r, batch_one, b) == 1 ? 0 : WEFT_ENOENT;
}

static int pg_batch_list(struct weft_store *st, const char *key_id, const char *after, int limit,
                         void (*cb)(const struct weft_batch_row *b, void *ud), void *ud)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {key_id, after, lim};
    PGresult *r = run(PG(st),
                      "SELECT " STORE_BATCH_COLS " FROM batches b WHERE ($1::text IS NULL OR"
                      " b.key_id=$1) AND ($2::text IS NULL OR (b.created_ms, b.id) <"
                      " (SELECT created_ms, id FROM batches WHERE id=$2))"
                      " ORDER BY b.created_ms DESC, b.id DESC LIMIT $3",
                      3, v);
    return r ? each_batch(r, cb, ud) : WEFT_ESTORE;
}

static int pg_batch_lines(struct weft_store *st, const char *id,
                          void (*cb)(int line, const char *custom_id,
                                     const struct weft_job_row *job, void *ud),
                          void *ud)
{
    const char *v[] = {id};
    /* JOB_COLS first (job_from reads from column 0); no column of
     * batch_lines shares a name with one of jobs. */
    PGresult *r = run(PG(st),
                      "SELECT " JOB_COLS ",line,custom_id FROM batch_lines"
                      " JOIN jobs ON jobs.id=batch_lines.job_id WHERE batch_id=$1 ORDER BY line",
                      1, v);
    if (!r)
        return WEFT_ESTORE;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        struct weft_job_row j;
        job_from(r, i, &j);
        cb((int)val_ll(r, i, 16), PQgetvalue(r, i, 17), &j, ud);
        weft_job_row_free(&j);
    }
    PQclear(r);
    return n;
}

static int pg_batch_cancel(struct weft_store *st, const char *id, int64_t now_ms)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *v[] = {now, id};
    return run_changes(
        PG(st), "UPDATE batches SET cancel_ms=$1 WHERE id=$2 AND cancel_ms=0 AND status=''", 2, v);
}

static int pg_batch_final(struct weft_store *st, const struct weft_batch_row *b)
{
    char done[24];
    snprintf(done, sizeof done, "%lld", (long long)b->done_ms);
    const char *v[] = {b->status, done, b->output_file_id, b->error_file_id, b->id};
    return run_changes(PG(st),
                       "UPDATE batches SET status=$1,done_ms=$2,output_file_id=$3,"
                       "error_file_id=$4 WHERE id=$5 AND status=''",
                       5, v);
}

static int pg_trust_set(struct weft_store *st, const char *name, int ok, int bad, int quarantined,
                        const char *why)
{
    char o[16], b[16], q[8];
    snprintf(o, sizeof o, "%d", ok);
    snprintf(b, sizeof b, "%d", bad);
    snprintf(q, sizeof q, "%d", quarantined);
    const char *v[] = {name, o, b, q, why};
    int n = run_changes(PG(st),
                        "INSERT INTO node_trust(name,ok,bad,quarantined,why) VALUES($1,$2,$3,$4,$5)"
                        " ON CONFLICT(name) DO UPDATE SET ok=excluded.ok, bad=excluded.bad,"
                        " quarantined=excluded.quarantined, why=excluded.why",
                        5, v);
    return n < 0 ? n : 0;
}

static int pg_trust_get(struct weft_store *st, const char *name, int *ok, int *bad,
                        int *quarantined, char *why, size_t whycap)
{
    const char *v[] = {name};
    PGresult *r = run(PG(st), "SELECT ok,bad,quarantined,why FROM node_trust WHERE name=$1", 1, v);
    if (!r)
        return WEFT_ESTORE;
    int rc = WEFT_ENOENT;
    if (PQntuples(r) == 1) {
        *ok = (int)val_ll(r, 0, 0);
        *bad = (int)val_ll(r, 0, 1);
        *quarantined = (int)val_ll(r, 0, 2);
        copy_val(why, whycap, r, 0, 3);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const struct store_ops pg_ops = {
    .kind = "postgresql",
    .shared = 1,
    .check = pg_check,
    .close = pg_close,
    .key_create = pg_key_create,
    .key_check = pg_key_check,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_count = pg_key_count,
    .node_enroll = pg_node_enroll,
    .node_check = pg_node_check,
    .node_revoke = pg_node_revoke,
    .node_limits_set = pg_node_limits_set,
    .node_limits_get = pg_node_limits_get,
    .node_list = pg_node_list,
    .job_insert = pg_job_insert,
    .job_mark = pg_job_mark,
    .job_finish = pg_job_finish,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_count_open = pg_job_count_open,
    .job_claim = pg_job_claim,
    .lease_renew = pg_lease_renew,
    .lease_release = pg_lease_release,
    .journal_append = pg_journal_append,
    .journal_get = pg_journal_get,
    .purge_streams = pg_purge_streams,
    .tx_begin = pg_tx_begin,
    .tx_end = pg_tx_end,
    .import_key = pg_import_key,
    .import_node = pg_import_node,
    .import_job = pg_import_job,
    .notify_fd = pg_notify_fd,
    .notify_drain = pg_notify_drain,
    .notify = pg_notify,
    .trust_set = pg_trust_set,
    .trust_get = pg_trust_get,
    .file_put = pg_file_put,
    .file_get = pg_file_get,
    .file_delete = pg_file_delete,
    .file_list = pg_file_list,
    .batch_put = pg_batch_put,
    .batch_line_put = pg_batch_line_put,
    .batch_get = pg_batch_get,
    .batch_list = pg_batch_list,
    .batch_lines = pg_batch_lines,
    .batch_cancel = pg_batch_cancel,
    .batch_final = pg_batch_final,
};

int store_pg_open(struct weft_store **out, const char *conninfo, char *err, size_t errcap)
{
    struct pg *p = calloc(1, sizeof *p);
    if (!p || !(p->conninfo = strdup(conninfo))) {
        free(p);
        return WEFT_ENOMEM;
    }
    p->base.ops = &pg_ops;
    /* The first connection must work: a scheduler that cannot reach its
     * store at start says so rather than serving nothing. */
    if (connect_now(p) != 0) {
        snprintf(err, errcap, "PostgreSQL store: %s", p->last_error);
        pg_close(&p->base);
        return WEFT_ESTORE;
    }
    p->next_try_ms = weft_mono_ms();
    *out = &p->base;
    return 0;
}
