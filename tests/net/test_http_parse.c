/* The request parser, data-driven: each file in tests/net/cases holds one
 * request stream (LF line ends become CRLF) and, on its first line, what
 * must come of it: "ok N <method> <target> path=.. query=.. headers=N
 * [body=..] [keepalive=0]" for N complete requests, or the error status.
 * Every case runs twice: all bytes at once and one byte at a time. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "weft/http.h"

struct seen {
    int complete;
    char first[512];
    struct weft_http_req *reqs[8];
    int n;
};

static int on_headers(void *ud, struct weft_http_req *req)
{
    struct seen *s = ud;
    if (s->n < 8)
        s->reqs[s->n++] = req;
    return 0;
}

static void on_complete(void *ud, struct weft_http_req *req)
{
    struct seen *s = ud;
    if (s->complete++ == 0) {
        int n = snprintf(s->first, sizeof s->first, "%s %s path=%s query=%s headers=%d",
                         req->method, req->target, req->path, req->query, req->n_headers);
        if (req->body.len)
            n += snprintf(s->first + n, sizeof s->first - (size_t)n, " body=%s", req->body.data);
        if (!req->keep_alive)
            snprintf(s->first + n, sizeof s->first - (size_t)n, " keepalive=0");
    }
}

static const struct weft_http_parse_cb cb = {.on_headers = on_headers, .on_complete = on_complete};

/* Feeds data in steps of `step` bytes; returns the error status or 0. */
static int run(const char *data, size_t len, size_t step, struct seen *s)
{
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    lim.max_body_bytes = 1024;
    struct weft_http_parse ps;
    weft_http_parse_init(&ps, &lim, &cb, s);
    size_t off = 0;
    while (off < len && !ps.error_status) {
        size_t n = len - off < step ? len - off : step;
        size_t used = weft_http_parse_feed(&ps, data + off, n);
        off += used;
        if (ps.complete)
            weft_http_parse_next(&ps);
        else if (used == 0 && !ps.error_status)
            TEST_FAIL_("parser stalled at byte %zu", off);
    }
    weft_http_parse_free(&ps);
    for (int i = 0; i < s->n; i++)
        weft_http_req_free(s->reqs[i]);
    return ps.error_status;
}

static void check_case(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    char expect[512];
    ASSERT(fgets(expect, sizeof expect, f) != NULL);
    expect[strcspn(expect, "\n")] = '\0';
    ASSERT(strncmp(expect, "# expect: ", 10) == 0);
    const char *want = expect + 10;
    char raw[8192], data[16384];
    size_t rn = fread(raw, 1, sizeof raw, f);
    fclose(f);
    size_t dn = 0;
    for (size_t i = 0; i < rn; i++) {
        if (raw[i] == '\n')
            data[dn++] = '\r';
        data[dn++] = raw[i];
    }
    size_t steps[2] = {dn, 1};
    for (int k = 0; k < 2; k++) {
        struct seen s;
        memset(&s, 0, sizeof s);
        int st = run(data, dn, steps[k], &s);
        char got[600];
        if (st)
            snprintf(got, sizeof got, "%d", st);
        else
            snprintf(got, sizeof got, "ok %d %s", s.complete, s.first);
        if (strcmp(got, want) != 0)
            TEST_FAIL_("%s (step %zu): got \"%s\", want \"%s\"", name, steps[k], got, want);
    }
}

TEST(request_cases)
{
    const char *dir = WEFT_TESTS_DIR "/net/cases";
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".http"))
            continue;
        check_case(dir, e->d_name);
        n++;
    }
    closedir(d);
    ASSERT(n >= 14);
}

TEST(header_bound_gives_431)
{
    char req[40000];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'a', 20000);
    n += 20000;
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n\r\n");
    struct seen s;
    memset(&s, 0, sizeof s);
    ASSERT_EQ_INT(run(req, (size_t)n, (size_t)n, &s), 431);
    /* Many small headers count too. */
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-%d: v\r\n", i);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    memset(&s, 0, sizeof s);
    ASSERT_EQ_INT(run(req, (size_t)n, 7, &s), 431);
}

TEST(chunked_body_over_bound_gives_413)
{
    char req[8192];
    int n = snprintf(req, sizeof req, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "200\r\n");
        memset(req + n, 'x', 512);
        n += 512;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    struct seen s;
    memset(&s, 0, sizeof s);
    ASSERT_EQ_INT(run(req, (size_t)n, 100, &s), 413);
}
