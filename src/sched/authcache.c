/* A short-lived cache of checked credentials. Every request carries an
 * API key or a node token; checking one costs a SQLite lookup and a
 * salted SHA-256. A node polls, heartbeats and uploads several times a
 * second, so answers are kept for AUTH_TTL_MS, keyed by the SHA-256 of the
 * presented secret (the secret itself is not kept). A revoked key or token
 * stops working within that time. Failures are not cached: a wrong key
 * costs its caller a real check each time. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "weft/time.h"

#define AUTH_TTL_MS 1000

static unsigned digest(const char *secret, unsigned char out[32])
{
    unsigned len = 32;
    EVP_Digest(secret, strlen(secret), out, &len, EVP_sha256(), NULL);
    return ((unsigned)out[0] << 8 | out[1]) % SCHED_AUTH_SLOTS;
}

static struct sched_auth *lookup(struct sched *s, const char *secret, int kind, unsigned char d[32])
{
    unsigned i = digest(secret, d);
    struct sched_auth *a = &s->auth[i];
    if (a->kind == kind && CRYPTO_memcmp(a->digest, d, 32) == 0 && weft_mono_ms() < a->expires_ms)
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

int sched_auth_key(struct sched *s, const char *secret, struct weft_key_info *info)
{
    unsigned char d[32];
    struct sched_auth *a = lookup(s, secret, 1, d);
    if (a) {
        *info = a->key;
        return 0;
    }
    int rc = weft_store_key_check(s->store, secret, info);
    if (rc == 0)
        slot(s, 1, d)->key = *info;
    return rc;
}

int sched_auth_node(struct sched *s, const char *secret, char *name, size_t cap)
{
    unsigned char d[32];
    struct sched_auth *a = lookup(s, secret, 2, d);
    if (a) {
        snprintf(name, cap, "%s", a->node);
        return 0;
    }
    int rc = weft_store_node_check(s->store, secret, name, cap);
    if (rc == 0)
        snprintf(slot(s, 2, d)->node, sizeof a->node, "%s", name);
    return rc;
}
