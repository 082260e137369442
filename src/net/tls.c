/* TLS over memory BIOs; see include/weft/tls.h. */
#include "weft/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/buf.h"
#include "weft/error.h"

/* Plaintext written before the handshake ends waits here; a peer that never
 * finishes its handshake cannot make us hold more than this. */
#define TLS_EARLY_MAX (1u << 20)

struct weft_tls_ctx {
    SSL_CTX *ssl;
};

struct weft_tls {
    SSL *ssl;
    BIO *in;  /* network -> OpenSSL */
    BIO *out; /* OpenSSL -> network */
    struct weft_buf early;
    char why[160];
};

/* Drains OpenSSL's thread-local error queue into dst, keeping the first
 * (root-cause) reason. */
static void take_ssl_error(char *dst, size_t cap, const char *fallback)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(dst, cap, "%s", fallback);
    } else {
        const char *r = ERR_reason_error_string(e);
        snprintf(dst, cap, "%s", r ? r : fallback);
    }
    ERR_clear_error();
}

int weft_tls_ctx_server(struct weft_tls_ctx **out, const char *cert_path, const char *key_path,
                        char *err, size_t errcap)
{
    char why[160];
    /* OpenSSL's reasons for a missing file are vague; say it plainly. */
    const char *paths[2] = {cert_path, key_path};
    for (int i = 0; i < 2; i++) {
        if (access(paths[i], R_OK) != 0) {
            int e = errno;
            snprintf(err, errcap, "%s: cannot read: %s", paths[i], strerror(e));
            return weft_err_from_errno(e);
        }
    }
    SSL_CTX *s = SSL_CTX_new(TLS_server_method());
    if (!s) {
        take_ssl_error(why, sizeof why, "cannot create context");
        snprintf(err, errcap, "TLS: %s", why);
        return WEFT_ETLS;
    }
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_security_level(s, 2);
    /* Partial writes and a moving write buffer: the BIO pair never blocks,
     * but the caller's buffers may be freed and reallocated between tries. */
    SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(s, cert_path) != 1) {
        take_ssl_error(why, sizeof why, "unreadable");
        snprintf(err, errcap, "%s: cannot load certificate: %s", cert_path, why);
        SSL_CTX_free(s);
        return WEFT_ETLS;
    }
    if (SSL_CTX_use_PrivateKey_file(s, key_path, SSL_FILETYPE_PEM) != 1) {
        take_ssl_error(why, sizeof why, "unreadable");
        snprintf(err, errcap, "%s: cannot load private key: %s", key_path, why);
        SSL_CTX_free(s);
        return WEFT_ETLS;
    }
    if (SSL_CTX_check_private_key(s) != 1) {
        take_ssl_error(why, sizeof why, "mismatch");
        snprintf(err, errcap, "%s: key does not match %s: %s", key_path, cert_path, why);
        SSL_CTX_free(s);
        return WEFT_ETLS;
    }
    struct weft_tls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        SSL_CTX_free(s);
        return WEFT_ENOMEM;
    }
    c->ssl = s;
    *out = c;
    return 0;
}

void weft_tls_ctx_free(struct weft_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

static int add_san(X509 *x)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext =
        X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (!ext)
        return WEFT_ETLS;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : WEFT_ETLS;
}

int weft_tls_make_dev_cert(const char *cert_path, const char *key_path, char *err, size_t errcap)
{
    int rc = WEFT_ETLS;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *kf = NULL, *cf = NULL;
    if (!key || !x)
        goto out;
    X509_set_version(x, 2);
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto out;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto out;
    }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Weft dev", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    if (add_san(x) != 0 || X509_sign(x, key, EVP_sha256()) == 0)
        goto out;

    int kfd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (kfd < 0 || !(kf = fdopen(kfd, "w"))) {
        if (kfd >= 0)
            close(kfd);
        snprintf(err, errcap, "%s: cannot write key", key_path);
        rc = WEFT_EIO;
        goto out;
    }
    cf = fopen(cert_path, "we");
    if (!cf) {
        snprintf(err, errcap, "%s: cannot write certificate", cert_path);
        rc = WEFT_EIO;
        goto out;
    }
    if (PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) != 1 || PEM_write_X509(cf, x) != 1)
        goto out;
    rc = 0;
out:
    if (rc == WEFT_ETLS) {
        char why[160];
        take_ssl_error(why, sizeof why, "cannot build certificate");
        snprintf(err, errcap, "dev certificate: %s", why);
    }
    if (kf && fclose(kf) != 0 && rc == 0)
        rc = WEFT_EIO;
    if (cf && fclose(cf) != 0 && rc == 0)
        rc = WEFT_EIO;
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int weft_tls_new(struct weft_tls **out, struct weft_tls_ctx *ctx)
{
    struct weft_tls *t = calloc(1, sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    t->ssl = SSL_new(ctx->ssl);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        free(t);
        ERR_clear_error();
        return WEFT_ENOMEM;
    }
    /* An empty input BIO reads as "retry later", not end of file. */
    BIO_set_mem_eof_return(t->in, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL now owns both BIOs */
    SSL_set_accept_state(t->ssl);
    weft_buf_init(&t->early, TLS_EARLY_MAX);
    *out = t;
    return 0;
}

void weft_tls_free(struct weft_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    weft_buf_free(&t->early);
    free(t);
}

int weft_tls_feed(struct weft_tls *t, const void *data, size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int n = BIO_write(t->in, data, chunk);
        if (n <= 0)
            return WEFT_ENOMEM;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_now(struct weft_tls *t, const void *data, size_t len, size_t *done)
{
    *done = 0;
    while (*done < len) {
        size_t w = 0;
        int r = SSL_write_ex(t->ssl, (const char *)data + *done, len - *done, &w);
        if (r == 1) {
            *done += w;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0; /* handshake still running: the rest waits */
        take_ssl_error(t->why, sizeof t->why, "write failed");
        return WEFT_ETLS;
    }
    return 0;
}

static int flush_early(struct weft_tls *t)
{
    if (t->early.len == 0 || !SSL_is_init_finished(t->ssl))
        return 0;
    size_t done;
    int rc = write_now(t, t->early.data, t->early.len, &done);
    weft_buf_consume(&t->early, done);
    return rc;
}

int weft_tls_read(struct weft_tls *t, void *buf, size_t cap)
{
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, cap, &got);
    int frc = flush_early(t);
    if (frc < 0)
        return frc;
    if (r == 1)
        return (int)(got > (size_t)INT32_MAX ? INT32_MAX : got);
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return WEFT_ECLOSED;
    default:
        take_ssl_error(t->why, sizeof t->why, "protocol error");
        return WEFT_ETLS;
    }
}

int weft_tls_write(struct weft_tls *t, const void *data, size_t len)
{
    if (t->early.len > 0 || !SSL_is_init_finished(t->ssl))
        return weft_buf_append(&t->early, data, len) == 0 ? flush_early(t) : WEFT_ENOMEM;
    size_t done;
    int rc = write_now(t, data, len, &done);
    if (rc == 0 && done < len && weft_buf_append(&t->early, (const char *)data + done, len - done))
        return WEFT_ENOMEM;
    return rc;
}

size_t weft_tls_pending(const struct weft_tls *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t weft_tls_take(struct weft_tls *t, void *buf, size_t cap)
{
    size_t got = 0;
    if (cap == 0 || BIO_read_ex(t->out, buf, cap, &got) != 1)
        return 0;
    return got;
}

void weft_tls_shutdown(struct weft_tls *t)
{
    if (SSL_is_init_finished(t->ssl))
        SSL_shutdown(t->ssl);
    ERR_clear_error();
}

const char *weft_tls_last_error(const struct weft_tls *t)
{
    return t->why[0] ? t->why : "no error";
}

int weft_tls_established(const struct weft_tls *t)
{
    return SSL_is_init_finished(t->ssl) ? 1 : 0;
}
