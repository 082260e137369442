/* Weft's one error convention.
 *
 * Every function that can fail returns 0 on success, a non-negative count
 * where a count is the point, or one of the negative WEFT_E* codes below.
 * A function that fails never calls its callback.
 *
 * System errors keep their errno meaning: WEFT_ENOMEM == -ENOMEM and so on,
 * so a code from a syscall can be returned as -errno unchanged. Errors that
 * belong to Weft itself (bad config, bad file format, TLS, Modbus...) sit in
 * their own range below -4000 and never collide with errno values.
 *
 * Libraries that speak another convention (CURLcode, SSL_get_error,
 * libmodbus's errno values, cudaError_t) are translated at the module that
 * calls them; their codes never travel further than that module.
 *
 * Thread-safety: every function here is pure and may be called from any
 * thread. The strings returned are static and must not be freed.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <errno.h>

/* XX(name, value, message). System codes first, then Weft's own. */
#define WEFT_ERRNO_MAP(XX)                                                                         \
    XX(EPERM, -EPERM, "operation not permitted")                                                   \
    XX(ENOENT, -ENOENT, "no such file or directory")                                               \
    XX(EIO, -EIO, "input/output error")                                                            \
    XX(E2BIG, -E2BIG, "input too large")                                                           \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                        \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                           \
    XX(EACCES, -EACCES, "permission denied")                                                       \
    XX(EBUSY, -EBUSY, "resource busy")                                                             \
    XX(EEXIST, -EEXIST, "already exists")                                                          \
    XX(ENOTDIR, -ENOTDIR, "not a directory")                                                       \
    XX(EISDIR, -EISDIR, "is a directory")                                                          \
    XX(EINVAL, -EINVAL, "invalid argument")                                                        \
    XX(EMFILE, -EMFILE, "too many open files")                                                     \
    XX(ENOSPC, -ENOSPC, "no space left")                                                           \
    XX(EPIPE, -EPIPE, "broken pipe")                                                               \
    XX(ERANGE, -ERANGE, "value out of range")                                                      \
    XX(ENOSYS, -ENOSYS, "function not implemented")                                                \
    XX(EPROTO, -EPROTO, "protocol error")                                                          \
    XX(EOVERFLOW, -EOVERFLOW, "value too large for its type")                                      \
    XX(ENOTSUP, -ENOTSUP, "operation not supported")                                               \
    XX(EADDRINUSE, -EADDRINUSE, "address already in use")                                          \
    XX(ECONNABORTED, -ECONNABORTED, "connection aborted")                                          \
    XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                                        \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                         \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                                          \
    XX(EHOSTUNREACH, -EHOSTUNREACH, "host unreachable")                                            \
    XX(ECANCELED, -ECANCELED, "operation canceled")                                                \
    XX(ECONFIG, -4001, "invalid configuration")                                                    \
    XX(EPARSE, -4002, "malformed input")                                                           \
    XX(EFORMAT, -4003, "unsupported or corrupt file format")                                       \
    XX(ETLS, -4004, "TLS error")                                                                   \
    XX(EHTTP, -4005, "HTTP protocol error")                                                        \
    XX(EMODBUS, -4006, "Modbus error")                                                             \
    XX(ESTALE, -4007, "reading is missing or stale")                                               \
    XX(ENOBUDGET, -4008, "no power budget")                                                        \
    XX(ECUDA, -4009, "CUDA error")                                                                 \
    XX(ENODEV, -4010, "no such device")                                                            \
    XX(EAUTH, -4011, "authentication failed")                                                      \
    XX(ELIMIT, -4012, "limit exceeded")                                                            \
    XX(ESTORE, -4013, "job store error")                                                           \
    XX(ECLOSED, -4014, "handle is closing or closed")

enum weft_errno {
#define WEFT_ERR_ENUM_(name, value, msg) WEFT_##name = (value),
    WEFT_ERRNO_MAP(WEFT_ERR_ENUM_)
#undef WEFT_ERR_ENUM_
};

/* A sentence for a code ("timed out"). Unknown codes give "unknown error". */
const char *weft_strerror(int err);

/* The symbolic name of a code ("WEFT_ETIMEDOUT"); "WEFT_EUNKNOWN" if none. */
const char *weft_err_name(int err);

/* Turns a positive errno value (as set by libc) into a Weft code. Values
 * that the table does not name map to WEFT_EIO so that callers can rely on
 * every returned code having a message. */
int weft_err_from_errno(int errnum);

#endif /* WEFT_ERROR_H */
