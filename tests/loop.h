/* Running a libuv loop inside a unit test, in the manner of libuv's
 * test/task.h: the loop runs until a condition holds or a deadline fails
 * the case, and every case ends with LOOP_CLOSE, which runs what is left
 * and fails unless uv_loop_close() succeeds, so a handle the code under
 * test forgot to close is a failure that names its type.
 *
 * Plus a raw TCP client, for feeding a server exact bytes and reading
 * exactly what it answers.
 */
#ifndef WEFT_TEST_LOOP_H
#define WEFT_TEST_LOOP_H

#include <stddef.h>
#include <uv.h>

#include "harness.h"
#include "weft/buf.h"

/* Runs loop until cond(arg) is true; fails the case (naming what) after
 * timeout_ms. The loop keeps turning while it waits, also with nothing to
 * do, so a condition that depends on time alone is seen. */
void loop_until_(uv_loop_t *loop, int (*cond)(void *), void *arg, int timeout_ms, const char *what,
                 const char *file, int line);
#define loop_until(loop, cond, arg, ms) loop_until_(loop, cond, arg, ms, #cond, __FILE__, __LINE__)

/* Runs loop for ms, whatever happens. */
void loop_for(uv_loop_t *loop, int ms);

/* Runs what is left (closes in flight) for up to a second, then asserts
 * that uv_loop_close() succeeds; on failure, lists the open handles. */
void loop_close_(uv_loop_t *loop, const char *file, int line);
#define LOOP_CLOSE(loop) loop_close_(loop, __FILE__, __LINE__)

/* ---- a raw TCP client ---------------------------------------------------- */

struct raw_client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct weft_buf in; /* every byte the server sent */
    int connected;
    int eof;    /* the server closed (or reset) the connection */
    int closed; /* our handle is closed */
    int status; /* the connect's status, when it failed */
    char rbuf[65536];
};

/* Connects to 127.0.0.1:port (see ->connected, ->status). */
void raw_connect(struct raw_client *c, uv_loop_t *loop, int port);
/* Writes len bytes (copied). */
void raw_send(struct raw_client *c, const void *data, size_t len);
void raw_send_str(struct raw_client *c, const char *s);
/* Closes our side; ->closed once done, and ->in is freed then. */
void raw_close(struct raw_client *c);
/* How many HTTP responses ->in holds the status line of. */
int raw_responses(const struct raw_client *c);

/* Conditions for loop_until. */
int raw_is_connected(void *c);
int raw_saw_eof(void *c);
int raw_is_closed(void *c);

#endif /* WEFT_TEST_LOOP_H */
