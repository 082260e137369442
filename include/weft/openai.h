/* OpenAI-compatible request bodies.
 *
 * Pure functions: JSON text in, a validated request out, or an error in
 * OpenAI's shape (status, message, type, param). No I/O, so a fuzz target
 * drives the parser with arbitrary bodies.
 *
 * Ownership: weft_oai_parse() fills a caller-owned struct whose strings it
 * allocates; weft_oai_req_free() frees them. Thread-safety: reentrant.
 */
#ifndef WEFT_OPENAI_H
#define WEFT_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "weft/buf.h"
#include "weft/chat.h"

#define WEFT_OAI_MAX_STOP       4
#define WEFT_OAI_MAX_MESSAGES   256
#define WEFT_OAI_MAX_TOKENS     8192 /* max_tokens above this is refused */
#define WEFT_OAI_DEFAULT_TOKENS 256
#define WEFT_OAI_MAX_DEPTH      16 /* JSON nesting allowed in a body */
#define WEFT_OAI_MODEL_MAX      128
#define WEFT_OAI_STOP_MAX_LEN   63 /* bytes in one stop string (what a node matches) */
#define WEFT_OAI_MAX_N          16 /* choices one request may ask for */

enum weft_oai_kind { WEFT_OAI_CHAT, WEFT_OAI_COMPLETION };

enum weft_oai_priority { WEFT_OAI_INTERACTIVE, WEFT_OAI_DEFERRABLE };

#define WEFT_OAI_MAX_TOOLS 64
enum weft_oai_tool_choice {
    WEFT_OAI_TOOLS_NONE,     /* no tools, or tool_choice none */
    WEFT_OAI_TOOLS_AUTO,     /* the model may call one */
    WEFT_OAI_TOOLS_REQUIRED, /* it must call one (the grammar makes it) */
    WEFT_OAI_TOOLS_NAMED,    /* it must call tool_name */
};

struct weft_oai_req {
    enum weft_oai_kind kind;
    char model[WEFT_OAI_MODEL_MAX];
    char *prompt;               /* completions: the prompt; chat: NULL until rendered */
    struct weft_chat_msg *msgs; /* chat: role system, user or assistant */
    int n_msgs;
    int max_tokens;
    double temperature;
    double top_p;
    double presence_penalty, frequency_penalty; /* -2..2, 0 off */
    uint64_t seed;
    int has_seed;
    char *stop[WEFT_OAI_MAX_STOP];
    int n_stop;
    int stream;
    int include_usage;
    /* Log-probabilities with each token (chat: logprobs true; completions:
     * logprobs N), and this many alternatives (chat: top_logprobs 0..20;
     * completions: N, 0..5). */
    int logprobs;
    int top_logprobs;
    int n; /* choices, 1..WEFT_OAI_MAX_N (interactive requests only) */
    /* What the output must be, as the node API's response_format (compact
     * JSON, owned), or NULL for text. */
    char *response_format;
    /* Function calling (chat): the tools as sent (a compact JSON array, owned;
     * NULL: none), the choice, and the named function's name. */
    char *tools;
    enum weft_oai_tool_choice tool_choice;
    char tool_name[65];
    int parallel_tool_calls;
    /* Job fields (POST /v1/jobs only). */
    enum weft_oai_priority priority;
    int64_t deadline_ms; /* wall clock; 0 = none */
};

struct weft_oai_err {
    int status;       /* HTTP status */
    const char *type; /* "invalid_request_error" ... */
    const char *code; /* NULL or e.g. "model_not_found" */
    char param[64];   /* the offending field, "" if none */
    char message[256];
};

/* Parses a /v1/chat/completions or /v1/completions body. With `job` set,
 * also the job fields: "request" holds the body, beside "completion_window"
 * ("24h", "90m", "3600s"), "deadline" (Unix seconds) and "priority";
 * `now_ms` anchors completion_window. Returns 0 or WEFT_EPARSE/WEFT_EINVAL
 * with err filled. */
int weft_oai_parse(struct weft_oai_req *out, enum weft_oai_kind kind, const char *body, size_t len,
                   struct weft_oai_err *err);
int weft_oai_parse_job(struct weft_oai_req *out, const char *body, size_t len, int64_t now_ms,
                       struct weft_oai_err *err);

void weft_oai_req_free(struct weft_oai_req *r);
/* A deep copy of src into dst (a re-run of the same request). 0 or
 * WEFT_ENOMEM (dst is then empty). */
int weft_oai_req_copy(struct weft_oai_req *dst, const struct weft_oai_req *src);

/* Whether a node API response_format (compact JSON, prefix and suffix
 * included) can be met within max_tokens: a node counts a byte a token
 * when it keeps room to close the document, so a format whose shortest
 * document has more bytes than max_tokens is refused (400, param
 * max_tokens). 0 or WEFT_EINVAL with err filled. */
int weft_oai_check_format(const char *response_format, int max_tokens, struct weft_oai_err *err);

/* The Batch API. A line of an input file is {"custom_id", "method":
 * "POST", "url": the batch's endpoint, "body": the request}: the body is
 * parsed as weft_oai_parse() does (stream refused), custom_id (1 to 127
 * bytes) copied out, and the body printed as compact JSON into *body
 * (owned, freed with free()). */
#define WEFT_OAI_CUSTOM_ID_MAX 128
int weft_oai_parse_batch_line(struct weft_oai_req *out, enum weft_oai_kind kind, const char *line,
                              size_t len, char custom_id[WEFT_OAI_CUSTOM_ID_MAX], char **body,
                              struct weft_oai_err *err);

/* POST /v1/batches: input_file_id, endpoint, completion_window (as a
 * job's: "24h", "90m", "600s") and metadata (at most 16 strings). */
struct weft_oai_batch {
    char input_file_id[40];
    enum weft_oai_kind kind;
    int64_t window_ms;
    char *metadata; /* compact JSON, or NULL (owned) */
};
int weft_oai_parse_batch(struct weft_oai_batch *out, const char *body, size_t len,
                         struct weft_oai_err *err);
void weft_oai_batch_free(struct weft_oai_batch *b);

/* Writes the error object {"error":{"message","type","param","code"}}. */
int weft_oai_error_json(const struct weft_oai_err *err, struct weft_buf *out);

/* Fills err (status, type, code may be NULL) with a printf message. */
void weft_oai_set_err(struct weft_oai_err *err, int status, const char *type, const char *code,
                      const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif /* WEFT_OPENAI_H */
