/* The node API's messages, each with its writer beside its parser, so a
 * field is spelled in one place and both sides agree by construction:
 *
 *   message              written by   read by     where it travels
 *   weft_hello           node         scheduler   POST /v1/node/hello
 *   weft_hello_reply     scheduler    node        its answer
 *   weft_heartbeat       node         scheduler   POST /v1/node/heartbeat
 *   weft_heartbeat_reply scheduler    node        its answer
 *   weft_assignment      scheduler    node        GET /v1/node/work (200)
 *   weft_event           node         scheduler   POST /v1/node/jobs/{id}/stream,
 *                                                 one JSON line per token, then
 *                                                 the end (stop, length, yield,
 *                                                 error)
 *
 * No I/O, so a fuzz target drives the parsers and a round-trip test checks
 * that what a writer writes its parser reads back unchanged.
 *
 * Bounds are the node API's own; code that fills these structs from
 * another format (an OpenAI request, an engine's limits) checks its bounds
 * against these at compile time.
 *
 * Ownership: every struct here is the caller's; strings are copied into
 * fixed arrays, so nothing needs freeing, except an assignment's prompt and
 * resume tokens (weft_assignment_free). Writers append to the caller's
 * buffer and return 0, WEFT_ENOMEM or WEFT_E2BIG (the buffer's bound).
 * Thread-safety: reentrant.
 */
#ifndef WEFT_NODEMSG_H
#define WEFT_NODEMSG_H

#include <stddef.h>
#include <stdint.h>

#include "weft/buf.h"
#include "weft/chat.h"

#define WEFT_NODEMSG_MAX_MODELS 16
#define WEFT_NODEMSG_MAX_JOBS   64
#define WEFT_NODEMSG_NAME_MAX   128  /* a model's name, NUL included */
#define WEFT_NODEMSG_ID_MAX     64   /* a job's id, NUL included */
#define WEFT_NODEMSG_MAX_TOKENS 8192 /* an assignment's max_tokens */
#define WEFT_NODEMSG_MAX_MARKUP 4096 /* markup spans in an assignment */
#define WEFT_NODEMSG_MAX_STOP   4
#define WEFT_NODEMSG_STOP_LEN   63   /* bytes in one stop string */
#define WEFT_NODEMSG_TEXT_MAX   4096 /* one token's text, or an end event's tail */

struct weft_hello {
    struct {
        char name[WEFT_NODEMSG_NAME_MAX];
        enum weft_chat_template tpl;
    } models[WEFT_NODEMSG_MAX_MODELS];
    int n_models;
    int max_concurrency; /* clamped to 1..64 */
    char hardware[128];
};

/* The answer to a hello: how often to send heartbeats. */
struct weft_hello_reply {
    char node[64];    /* the name the scheduler knows the node by */
    int heartbeat_ms; /* clamped to 50..60000; 2000 when absent */
    int64_t lease_ms; /* silence after which the node counts as gone; 0 when absent */
};

struct weft_heartbeat {
    double budget_w;                             /* >= 0 */
    double pv_w, load_w, grid_w, battery_w, soc; /* NAN when absent */
    double compute_w;                            /* the node's draw; NAN when absent */
    int deferrable, interactive;
    char policy_state[16];
    char reason[160]; /* the policy's sentence; "" when absent */
    /* Jobs the node takes at once now (its budget may offer fewer than its
     * hello's max_concurrency); 0 when absent: max_concurrency. */
    int slots;
    /* How long the node expects its budget to last, s (its battery plan);
     * -1 when it does not know (absent; 0 and below are not sent). At most
     * a week. */
    int budget_s;
    struct {
        char id[WEFT_NODEMSG_ID_MAX];
        int64_t tokens; /* generated on this node; 0 when absent */
    } jobs[WEFT_NODEMSG_MAX_JOBS];
    int n_jobs; /* entries past WEFT_NODEMSG_MAX_JOBS, or without an id, are skipped */
};

/* The answer to a heartbeat: jobs the node still runs that were moved away. */
struct weft_heartbeat_reply {
    char cancel[WEFT_NODEMSG_MAX_JOBS][WEFT_NODEMSG_ID_MAX];
    int n_cancel;     /* entries that are not strings of 1..63 bytes are skipped */
    int64_t lease_ms; /* 0 when absent */
};

/* A job the scheduler hands a node (the answer to its poll for work). */
struct weft_assignment {
    char job[WEFT_NODEMSG_ID_MAX]; /* letters, digits, '-', '_', '.': it goes into a URL path */
    char model[WEFT_NODEMSG_NAME_MAX];
    char *prompt; /* rendered: the node only tokenizes it */
    /* The template's spans of prompt ([start, end) bytes, in order):
     * the only places control tokens are read. NULL/0: all content. */
    uint32_t (*markup)[2];
    int n_markup;                               /* <= WEFT_NODEMSG_MAX_MARKUP */
    int32_t *resume;                            /* tokens the client already has, each >= 0 */
    int n_resume;                               /* <= max_tokens */
    int max_tokens;                             /* 1..WEFT_NODEMSG_MAX_TOKENS */
    double temperature;                         /* 0..2, default 1 */
    double top_p;                               /* 0..1, default 1 */
    double presence_penalty, frequency_penalty; /* -2..2, default 0 (off) */
    uint64_t seed;
    char stop[WEFT_NODEMSG_MAX_STOP][WEFT_NODEMSG_STOP_LEN + 1];
    int n_stop;
    int attempt; /* how often the job moved before; 0 when absent */
    /* Log-probabilities wanted with each token: logprobs 1, and this many
     * alternatives (0..WEFT_NODEMSG_MAX_TOP); absent: 0, 0. */
    int logprobs;
    int top_logprobs;
    /* What the output must be: {"type":"json_object"} or
     * {"type":"json_schema","schema":{...}} as compact JSON (owned), or
     * NULL for text. Its schema is compiled by the node (schema.h). */
    char *response_format;
};

enum weft_event_kind { WEFT_EV_TOKEN, WEFT_EV_END };
enum weft_event_end { WEFT_END_STOP, WEFT_END_LENGTH, WEFT_END_YIELD, WEFT_END_ERROR };

/* A token as log-probabilities report it: its id, its log-probability
 * and its own bytes (not the text it completes, which may be held back or
 * joined with others), at most WEFT_NODEMSG_PIECE_MAX of them. */
#define WEFT_NODEMSG_MAX_TOP   20
#define WEFT_NODEMSG_PIECE_MAX 64
struct weft_token_lp {
    int32_t id;
    float logprob; /* <= 0 */
    uint8_t n_bytes;
    char bytes[WEFT_NODEMSG_PIECE_MAX];
};

struct weft_event {
    enum weft_event_kind kind;
    int64_t i;  /* TOKEN: its index in the completion, >= 0 */
    int32_t id; /* TOKEN: the token id */
    /* TOKEN, when the assignment asked: "lp" (its log-probability), "b"
     * (its bytes, hex) and "top" ([[id, lp, "hex"], ...], likeliest first). */
    int has_lp;
    struct weft_token_lp lp;
    int n_top;
    struct weft_token_lp top[WEFT_NODEMSG_MAX_TOP];
    char text[WEFT_NODEMSG_TEXT_MAX]; /* TOKEN: its text; END: held-back text */
    enum weft_event_end end;
    int prompt_tokens; /* END: -1 when absent */
    char message[160]; /* END error: why ("" is written as absent) */
};

/* ---- parsers ------------------------------------------------------------ */

/* Each returns 0, or WEFT_EPARSE with a reason in err[errcap]. */
int weft_hello_parse(const char *body, size_t len, struct weft_hello *h, char *err, size_t errcap);
int weft_hello_reply_parse(const char *body, size_t len, struct weft_hello_reply *r, char *err,
                           size_t errcap);
int weft_heartbeat_parse(const char *body, size_t len, struct weft_heartbeat *hb, char *err,
                         size_t errcap);
int weft_heartbeat_reply_parse(const char *body, size_t len, struct weft_heartbeat_reply *r,
                               char *err, size_t errcap);
/* Also WEFT_ENOMEM. On failure a->job still holds the job's id when the
 * body had a valid one (so the node can tell the scheduler it refused that
 * job), else "". Either way the caller calls weft_assignment_free. */
int weft_assignment_parse(const char *body, size_t len, struct weft_assignment *a, char *err,
                          size_t errcap);
void weft_assignment_free(struct weft_assignment *a);
/* One line of a token stream, without its '\n'. 0 or WEFT_EPARSE. */
int weft_event_parse(const char *line, size_t len, struct weft_event *ev);

/* ---- writers ------------------------------------------------------------ */

int weft_hello_write(const struct weft_hello *h, struct weft_buf *out);
int weft_hello_reply_write(const struct weft_hello_reply *r, struct weft_buf *out);
int weft_heartbeat_write(const struct weft_heartbeat *hb, struct weft_buf *out);
int weft_heartbeat_reply_write(const struct weft_heartbeat_reply *r, struct weft_buf *out);
int weft_assignment_write(const struct weft_assignment *a, struct weft_buf *out);
/* One line, '\n' included. */
int weft_event_write(const struct weft_event *ev, struct weft_buf *out);

/* A token event's log-probabilities alone, as one JSON object
 * {"id","lp","b","top"} (what the scheduler keeps of them, and journals),
 * and back into ev (has_lp, lp, n_top, top). 0 or an error. */
int weft_event_lp_write(const struct weft_event *ev, struct weft_buf *out);
int weft_event_lp_parse(const char *s, size_t len, struct weft_event *ev);

/* A token event and an end event, filled in for weft_event_write.
 * text: len bytes, cut at WEFT_NODEMSG_TEXT_MAX - 1; message and tail may
 * be NULL. */
void weft_event_token(struct weft_event *ev, int64_t i, int32_t id, const char *text, size_t len);
void weft_event_end(struct weft_event *ev, enum weft_event_end end, int prompt_tokens,
                    const char *message, const char *tail);

#endif /* WEFT_NODEMSG_H */
