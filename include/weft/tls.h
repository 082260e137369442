/* TLS for libuv streams: OpenSSL driven through memory BIOs.
 *
 * The network layer owns the socket; this module never touches it. Bytes
 * read from the socket go in with weft_tls_feed(); plaintext comes out of
 * weft_tls_read(). Plaintext to send goes in with weft_tls_write(); the
 * ciphertext to put on the wire comes out of weft_tls_take(). The
 * handshake happens inside those calls: after every feed the caller drains
 * weft_tls_take() and writes what it got, even when no plaintext came out.
 *
 * Policy: TLS 1.2 minimum (TLS 1.3 preferred by OpenSSL's ordering),
 * renegotiation off, OpenSSL's default cipher lists at security level 2.
 *
 * Ownership: weft_tls_ctx_* returns a context the caller frees with
 * weft_tls_ctx_free() after every connection made from it is freed
 * (OpenSSL reference-counts, so freeing earlier is safe but pointless).
 * A struct weft_tls belongs to one connection and is freed with
 * weft_tls_free().
 *
 * Thread-safety: a context may be shared by threads; a connection may be
 * used by one thread at a time (the loop thread).
 *
 * Errors: OpenSSL's error queue is drained and turned into WEFT_ETLS with
 * the reason copied into the connection (weft_tls_last_error()), so no
 * OpenSSL code travels past this module.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include <stddef.h>

struct weft_tls_ctx;
struct weft_tls;

/* A server context from a PEM certificate chain and a PEM private key.
 * On failure *out is untouched and err[errcap] says which file and why. */
int weft_tls_ctx_server(struct weft_tls_ctx **out, const char *cert_path, const char *key_path,
                        char *err, size_t errcap);

void weft_tls_ctx_free(struct weft_tls_ctx *ctx);

/* Writes a fresh self-signed certificate (EC P-256, 30 days, SAN localhost,
 * 127.0.0.1 and ::1) and its key to cert_path and key_path (key mode 0600),
 * for --dev-tls: demos and tests, never production. */
int weft_tls_make_dev_cert(const char *cert_path, const char *key_path, char *err, size_t errcap);

/* One server-side connection from ctx. */
int weft_tls_new(struct weft_tls **out, struct weft_tls_ctx *ctx);
void weft_tls_free(struct weft_tls *t);

/* Hands len bytes received from the peer to OpenSSL. 0 or WEFT_ENOMEM. */
int weft_tls_feed(struct weft_tls *t, const void *data, size_t len);

/* Decrypted bytes into buf[cap]: a positive count, 0 when nothing more is
 * available until more is fed, WEFT_ECLOSED after the peer's close_notify,
 * or WEFT_ETLS (handshake failure, bad record: the connection is over). */
int weft_tls_read(struct weft_tls *t, void *buf, size_t cap);

/* Encrypts len bytes of plaintext. Before the handshake completes the
 * plaintext waits inside the connection and goes out once it does.
 * 0 or WEFT_ETLS / WEFT_ENOMEM. */
int weft_tls_write(struct weft_tls *t, const void *data, size_t len);

/* Bytes of ciphertext waiting to go on the wire. */
size_t weft_tls_pending(const struct weft_tls *t);

/* Moves up to cap bytes of waiting ciphertext into buf; returns the count. */
size_t weft_tls_take(struct weft_tls *t, void *buf, size_t cap);

/* Queues a close_notify alert (take it and send it before closing). */
void weft_tls_shutdown(struct weft_tls *t);

/* The reason for the last WEFT_ETLS, e.g. "wrong version number". */
const char *weft_tls_last_error(const struct weft_tls *t);

/* Whether the handshake has completed. */
int weft_tls_established(const struct weft_tls *t);

#endif /* WEFT_TLS_H */
