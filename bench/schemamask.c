/* The cost of a response format's mask: for a model's vocabulary and a
 * schema, the time one step's trial of the tokens takes (what the engine
 * does before each sample with weftd's runner's constraint: the first
 * bytes that fit, then a trial of each token that starts with one), at a
 * few points of a document. Usage: schemamask MODEL.gguf SCHEMA.json|- [STEPS]
 * ("-": any JSON object). Prints one line per point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/file.h"
#include "weft/gguf.h"
#include "weft/schema.h"
#include "weft/time.h"
#include "weft/vocab.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: schemamask MODEL.gguf SCHEMA.json|- [STEPS]\n");
        return 2;
    }
    int steps = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 20;
    if (steps < 1)
        steps = 1;
    char err[256];
    struct weft_gguf *g;
    struct weft_vocab *v;
    if (weft_gguf_open(argv[1], &g, err, sizeof err) != 0 ||
        weft_vocab_load(g, argv[1], &v, err, sizeof err) != 0) {
        fprintf(stderr, "schemamask: %s\n", err);
        return 1;
    }
    struct weft_schema *s;
    int rc;
    if (strcmp(argv[2], "-") == 0) {
        rc = weft_schema_any_object(&s);
    } else {
        char *text;
        size_t len;
        rc = weft_file_read(argv[2], 1 << 20, &text, &len);
        snprintf(err, sizeof err, "%s: cannot read", argv[2]);
        if (rc == 0)
            rc = weft_schema_compile(text, len, &s, err, sizeof err);
        if (rc == 0)
            free(text);
    }
    if (rc) {
        fprintf(stderr, "schemamask: %s\n", err);
        return 1;
    }
    int n_vocab = weft_vocab_size(v);
    /* Each token's bytes, once, as the engine keeps them per generation. */
    char(*bytes)[256] = malloc((size_t)n_vocab * sizeof *bytes);
    int *lens = malloc((size_t)n_vocab * sizeof *lens);
    if (!bytes || !lens)
        return 1;
    for (int32_t id = 0; id < n_vocab; id++)
        lens[id] = weft_token_bytes(v, id, bytes[id], sizeof bytes[id]);
    struct weft_matcher *m = malloc(sizeof *m), *t = malloc(sizeof *t);
    weft_matcher_init(m, s);
    /* Points along a document: each step takes the shortest allowed
     * token, so the walk goes through keys, strings and values. */
    for (int p = 0; p < 6 && !weft_matcher_done(m); p++) {
        uint64_t t0 = weft_mono_ns();
        int allowed = 0, best = -1, best_n = 1 << 30;
        char pick[256];
        for (int r = 0; r < steps; r++) {
            allowed = 0;
            /* As the engine does (src/infer/generate.c, mask): the first
             * bytes that keep the document alive, then a trial for each
             * token that starts with one. */
            unsigned char first[256];
            for (int c0 = 0; c0 < 256; c0++) {
                char ch = (char)c0;
                weft_matcher_copy(t, m);
                first[c0] = (unsigned char)weft_matcher_feed(t, &ch, 1);
            }
            for (int32_t id = 0; id < n_vocab; id++) {
                int n = lens[id];
                const char *b = bytes[id];
                if (n <= 0 || n > (int)sizeof bytes[id] || !first[(unsigned char)b[0]])
                    continue;
                weft_matcher_copy(t, m);
                if (weft_matcher_feed(t, b, (size_t)n) && weft_matcher_min_close(t) <= 4096) {
                    allowed++;
                    if (r == 0 && n < best_n) {
                        best = id;
                        best_n = n;
                        memcpy(pick, b, (size_t)n);
                    }
                }
            }
        }
        double us = (double)(weft_mono_ns() - t0) / 1e3 / steps;
        printf("point %d: %d of %d tokens allowed, %.0f us a step (%.1f ns a token)\n", p, allowed,
               n_vocab, us, us * 1e3 / n_vocab);
        if (best < 0)
            break;
        if (!weft_matcher_feed(m, pick, (size_t)best_n))
            break;
    }
    free(m);
    free(t);
    free(bytes);
    free(lens);
    weft_schema_free(s);
    weft_vocab_free(v);
    weft_gguf_close(g);
    return 0;
}
