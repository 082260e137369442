/* Credentials and limits; see auth.h.
 *
 * The cache: every request carries an API key or a node token, and checking
 * one costs a SQLite lookup and a salted SHA-256. Answers are kept for
 * AUTH_TTL_MS, keyed by the SHA-256 of the presented secret (the secret
 * itself is not kept). A revoked key or token stops working within that
 * time. Failures are not cached: a wrong key costs its caller a real check
 * each time. While the store cannot be reached, a credential it accepted
 * before (still in the cache, however old) keeps working, so that nodes and
 * streams ride out a database restart; one never seen gets 503. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "weft/error.h"
#include "weft/time.h"

#define AUTH_TTL_MS 1000

enum { CACHED_KEY = 1, CACHED_NODE = 2 };

static unsigned digest(const char *secret, unsigned char out[32])
{
    unsigned len = 32;
    EVP_Digest(secret, strlen(secret), out, &len, EVP_sha256(), NULL);
    return ((unsigned)out[0] << 8 | out[1]) % SCHED_AUTH_SLOTS;
}

static struct sched_auth *lookup(struct sched *s, const char *secret, int kind, unsigned char d[32],
                                 int stale_ok)
{
    unsigned i = digest(secret, d);
    struct sched_auth *a = &s->auth[i];
    if (a->kind == kind && CRYPTO_memcmp(a->digest, d, 32) == 0 &&
        (stale_ok || weft_mono_ms() < a->expires_ms))
        return a;
    return NULL;
}

static struct sched_auth *slot(struct sched *s, int kind, const unsigned char d[32])
{
    struct sched_auth *a = &s->auth[((unsigned)d[0] << 8 | d[1]) % SCHED_AUTH_SLOTS];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    memcpy(a->digest, d, 32);
    a->expires_ms = weft_mono_ms() + AUTH_TTL_MS;
    return a;
}

static int check_key(struct sched *s, const char *secret, struct weft_key_info *info)
{
    unsigned char d[32];
    struct sched_auth *a = lookup(s, secret, CACHED_KEY, d, 0);
    if (a) {
        *info = a->key;
        return 0;
    }
    int rc = weft_store_key_check(s->store, secret, info);
    if (rc == 0)
        slot(s, CACHED_KEY, d)->key = *info;
    else if (rc == WEFT_ESTORE && (a = lookup(s, secret, CACHED_KEY, d, 1)) != NULL) {
        *info = a->key;
        return 0;
    }
    return rc;
}

static int check_node(struct sched *s, const char *secret, char *name, size_t cap)
{
    unsigned char d[32];
    struct sched_auth *a = lookup(s, secret, CACHED_NODE, d, 0);
    if (a) {
        snprintf(name, cap, "%s", a->node);
        return 0;
    }
    int rc = weft_store_node_check(s->store, secret, name, cap);
    if (rc == 0)
        snprintf(slot(s, CACHED_NODE, d)->node, sizeof a->node, "%s", name);
    else if (rc == WEFT_ESTORE && (a = lookup(s, secret, CACHED_NODE, d, 1)) != NULL) {
        snprintf(name, cap, "%s", a->node);
        return 0;
    }
    return rc;
}

/* Answers a credential that did not check: 401, or 503 when the store
 * could not say. */
static int refuse(struct weft_http_req *req, int rc, const char *code, const char *message)
{
    if (rc == WEFT_ESTORE) {
        sched_reply_fail(req, 503, NULL, "store_unavailable",
                         "The scheduler cannot reach its store; retry shortly.");
        return rc;
    }
    sched_reply_fail(req, 401, NULL, code, message);
    return WEFT_EAUTH;
}

static struct sched_keystate *keystate(struct sched *s, const char *id)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->keys)
    {
        struct sched_keystate *k = weft_list_entry(it, struct sched_keystate, link);
        if (strcmp(k->id, id) == 0)
            return k;
    }
    struct sched_keystate *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    snprintf(k->id, sizeof k->id, "%s", id);
    k->bucket = -1;
    weft_list_push_front(&s->keys, &k->link);
    return k;
}

int sched_auth_key(struct sched *s, struct weft_http_req *req, struct weft_key_info *info)
{
    const char *tok = sched_bearer(req);
    if (!tok) {
        sched_reply_fail(req, 401, NULL, "missing_api_key",
                         "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'.");
        return WEFT_EAUTH;
    }
    int rc = check_key(s, tok, info);
    if (rc != 0)
        return refuse(req, rc, "invalid_api_key", "Incorrect API key provided.");
    struct sched_keystate *k = keystate(s, info->id);
    if (!k) {
        sched_reply_fail(req, 503, NULL, NULL, "out of memory");
        return WEFT_ENOMEM;
    }
    if (info->rate_per_min > 0) {
        /* Token bucket: a minute's worth of burst, refilled continuously. */
        uint64_t now = weft_mono_ms();
        if (k->bucket < 0) {
            k->bucket = info->rate_per_min;
            k->refill_ms = now;
        }
        k->bucket += (double)weft_elapsed_ms(k->refill_ms, now) * info->rate_per_min / 60000.0;
        if (k->bucket > info->rate_per_min)
            k->bucket = info->rate_per_min;
        k->refill_ms = now;
        if (k->bucket < 1) {
            sched_reply_fail(req, 429, "requests", "rate_limit_exceeded",
                             "Rate limit reached for this key; slow down.");
            return WEFT_ELIMIT;
        }
        k->bucket -= 1;
    }
    return 0;
}

int sched_auth_peek(struct sched *s, struct weft_http_req *req, int node)
{
    char name[64];
    if (node)
        return sched_auth_node(s, req, name, sizeof name);
    const char *tok = sched_bearer(req);
    struct weft_key_info info;
    if (!tok) {
        sched_reply_fail(req, 401, NULL, "missing_api_key",
                         "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'.");
        return WEFT_EAUTH;
    }
    int rc = check_key(s, tok, &info);
    return rc ? refuse(req, rc, "invalid_api_key", "Incorrect API key provided.") : 0;
}

int sched_auth_slot_take(struct sched *s, struct weft_http_req *req,
                         const struct weft_key_info *info)
{
    struct sched_keystate *k = keystate(s, info->id);
    if (!k) {
        sched_reply_fail(req, 503, NULL, NULL, "out of memory");
        return WEFT_ENOMEM;
    }
    if (info->max_concurrent > 0 && k->in_flight >= info->max_concurrent) {
        sched_reply_fail(req, 429, "requests", "concurrency_limit_exceeded",
                         "Too many requests in flight for this key.");
        return WEFT_ELIMIT;
    }
    k->in_flight++;
    return 0;
}

void sched_auth_slot_release(struct sched *s, const char *key_id)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->keys)
    {
        struct sched_keystate *k = weft_list_entry(it, struct sched_keystate, link);
        if (strcmp(k->id, key_id) == 0 && k->in_flight > 0)
            k->in_flight--;
    }
}

int sched_auth_node(struct sched *s, struct weft_http_req *req, char *name, size_t cap)
{
    const char *tok = sched_bearer(req);
    int rc = tok ? check_node(s, tok, name, cap) : WEFT_EAUTH;
    return rc ? refuse(req, rc, "invalid_node_token", "Unknown or revoked node token.") : 0;
}

void sched_auth_free(struct sched *s)
{
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->keys)
    {
        weft_list_remove(it);
        free(weft_list_entry(it, struct sched_keystate, link));
    }
}
