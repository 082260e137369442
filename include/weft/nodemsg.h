/* The node API's messages, parsed without I/O so a fuzz target can drive
 * them: hello bodies, heartbeat bodies and the token-stream events (the
 * scheduler's side), and the scheduler's answers: hello and heartbeat
 * replies and job assignments (the node's side).
 *
 * Ownership: every struct here is the caller's; strings are copied into
 * fixed arrays, so nothing needs freeing, except an assignment's prompt and
 * resume tokens (weft_assignment_free). Thread-safety: reentrant.
 */
#ifndef WEFT_NODEMSG_H
#define WEFT_NODEMSG_H

#include <stddef.h>
#include <stdint.h>

#include "weft/openai.h"

#define WEFT_NODEMSG_MAX_MODELS 16
#define WEFT_NODEMSG_MAX_JOBS   64
#define WEFT_NODEMSG_TEXT_MAX   4096 /* one token's text, or an end event's tail */

struct weft_hello {
    struct {
        char name[WEFT_OAI_MODEL_MAX];
        enum weft_chat_template tpl;
    } models[WEFT_NODEMSG_MAX_MODELS];
    int n_models;
    int max_concurrency; /* clamped to 1..64 */
    char hardware[128];
};

struct weft_heartbeat {
    double budget_w;                             /* >= 0 */
    double pv_w, load_w, grid_w, battery_w, soc; /* NAN when absent */
    int deferrable, interactive;
    char policy_state[16];
    char jobs[WEFT_NODEMSG_MAX_JOBS][40];
    int n_jobs;
};

enum weft_event_kind { WEFT_EV_TOKEN, WEFT_EV_END };
enum weft_event_end { WEFT_END_STOP, WEFT_END_LENGTH, WEFT_END_YIELD, WEFT_END_ERROR };

struct weft_event {
    enum weft_event_kind kind;
    int64_t i;                        /* TOKEN: its index in the completion, >= 0 */
    int32_t id;                       /* TOKEN: the token id */
    char text[WEFT_NODEMSG_TEXT_MAX]; /* TOKEN: its text; END: held-back text */
    enum weft_event_end end;
    int prompt_tokens; /* END: -1 when absent */
    char message[160]; /* END error: why */
};

/* The answer to a hello: how often to send heartbeats. */
struct weft_hello_reply {
    int heartbeat_ms; /* clamped to 50..60000; 2000 when absent */
};

/* The answer to a heartbeat: jobs the node still runs that were moved away. */
struct weft_heartbeat_reply {
    char cancel[WEFT_NODEMSG_MAX_JOBS][64];
    int n_cancel; /* entries that are not strings of 1..63 bytes are skipped */
};

/* A job the scheduler hands a node (the answer to its poll for work). */
struct weft_assignment {
    char job[64]; /* letters, digits, '-', '_', '.': it goes into a URL path */
    char model[WEFT_OAI_MODEL_MAX];
    char *prompt;       /* rendered: the node only tokenizes it */
    int32_t *resume;    /* tokens the client already has, each >= 0 */
    int n_resume;       /* <= max_tokens */
    int max_tokens;     /* 1..WEFT_OAI_MAX_TOKENS */
    double temperature; /* 0..2, default 1 */
    double top_p;       /* 0..1, default 1 */
    uint64_t seed;
    char stop[WEFT_OAI_MAX_STOP][WEFT_OAI_STOP_MAX_LEN + 1];
    int n_stop;
};

/* Each returns 0, or WEFT_EPARSE with a reason in why[cap]. */
int weft_hello_parse(const char *body, size_t len, struct weft_hello *h, char *why, size_t cap);
int weft_heartbeat_parse(const char *body, size_t len, struct weft_heartbeat *hb, char *why,
                         size_t cap);
int weft_event_parse(const char *line, size_t len, struct weft_event *ev);
int weft_hello_reply_parse(const char *body, size_t len, struct weft_hello_reply *r, char *why,
                           size_t cap);
int weft_heartbeat_reply_parse(const char *body, size_t len, struct weft_heartbeat_reply *r,
                               char *why, size_t cap);
/* Also WEFT_ENOMEM. On failure a->job still holds the job's id when the
 * body had a valid one (so the node can tell the scheduler it refused that
 * job), else "". Either way the caller calls weft_assignment_free. */
int weft_assignment_parse(const char *body, size_t len, struct weft_assignment *a, char *why,
                          size_t cap);
void weft_assignment_free(struct weft_assignment *a);

#endif /* WEFT_NODEMSG_H */
