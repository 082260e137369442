/* Structured outputs: a JSON schema (the common subset OpenAI's strict
 * mode uses) or "any JSON object" compiled into a matcher that says, byte
 * by byte, whether a text can still become a valid document, and how many
 * bytes at least it needs to become one. The engine masks each step's
 * tokens with it (infer.h, struct weft_constraint), so a generation can
 * only write a document that parses and validates, and closes it in time
 * for max_tokens.
 *
 * The subset: type (a name or a list of them: object, array, string,
 * number, integer, boolean, null), properties, required,
 * additionalProperties (false, or absent: only the listed properties are
 * ever written), items, minItems, maxItems, enum, const, minLength,
 * maxLength, anyOf; title, description, $schema, default and examples are
 * ignored. Any other keyword is refused by name ($ref, pattern, format,
 * minimum, oneOf, ...), since the output could break it.
 *
 * The documents written are compact: no whitespace outside strings;
 * properties in the schema's order (an optional one may be left out);
 * numbers as JSON writes them, at most 24 characters.
 *
 * Bounds: a schema of at most WEFT_SCHEMA_MAX_NODES nodes, nested at most
 * WEFT_SCHEMA_MAX_DEPTH deep; an object of at most 64 properties, an enum
 * of at most 64 values; any-object documents nested at most 6 deep.
 *
 * Ownership: a schema owns its nodes; a matcher points into its schema,
 * which must outlive it. Matchers are values: weft_matcher_copy() is a
 * memcpy-sized copy, which is how a token is tried without committing.
 * Thread-safety: none; one schema may be shared read-only. */
#ifndef WEFT_SCHEMA_H
#define WEFT_SCHEMA_H

#include <stddef.h>

#define WEFT_SCHEMA_MAX_NODES 1024
#define WEFT_SCHEMA_MAX_DEPTH 24
#define WEFT_MATCH_ALTS       16 /* alternatives (anyOf, types) alive at once */

struct weft_schema;

/* Compiles a JSON schema given as JSON text (len bytes). 0, or
 * WEFT_EINVAL with err naming the keyword or what is wrong ("'pattern'
 * is not supported", "'required' names 'x', which is not a property"). */
int weft_schema_compile(const char *json, size_t len, struct weft_schema **out, char *err,
                        size_t errcap);
/* Any JSON object (response_format json_object). */
int weft_schema_any_object(struct weft_schema **out);
void weft_schema_free(struct weft_schema *s);
/* Literal text before and after the document (a tool call's
 * "<tool_call>\n" and "\n</tool_call>"), each at most 64 bytes; NULL for
 * none. 0 or WEFT_EINVAL. */
int weft_schema_wrap(struct weft_schema *s, const char *prefix, const char *suffix);

/* A position in a document being written. */
struct weft_match_frame {
    const void *node;
    unsigned char phase;
    unsigned char utf8;      /* continuation bytes a string still owes */
    unsigned char esc;       /* inside an escape: 1 after '\', 2..5 in \uXXXX */
    short count;             /* items, properties, characters so far */
    short prop;              /* object: the next property's index */
    short pos;               /* inside a key or literal: bytes matched */
    unsigned long long cand; /* keys or literals still possible */
};
struct weft_match_state {
    int depth;
    struct weft_match_frame f[WEFT_SCHEMA_MAX_DEPTH];
};
struct weft_matcher {
    const struct weft_schema *schema;
    int stage, pos; /* in the prefix (0), the document (1), the suffix (2) */
    int n;          /* alternatives alive; 0: dead */
    struct weft_match_state alt[WEFT_MATCH_ALTS];
};

/* A matcher at the start of a document of schema s. */
void weft_matcher_init(struct weft_matcher *m, const struct weft_schema *s);
/* dst becomes src, copying only the frames in use (cheap: how a token is
 * tried). */
void weft_matcher_copy(struct weft_matcher *dst, const struct weft_matcher *src);
/* Feeds n bytes: 1 while the text can still become a document, else 0
 * (and m is dead). */
int weft_matcher_feed(struct weft_matcher *m, const char *bytes, size_t n);
/* Whether the text so far is a whole document. */
int weft_matcher_done(const struct weft_matcher *m);
/* The fewest bytes that make the text a whole document (0 when it is
 * one), or a large number when m is dead. */
int weft_matcher_min_close(const struct weft_matcher *m);

#endif /* WEFT_SCHEMA_H */
