/* libFuzzer target: GGUF bytes through the reader, the vocabulary loader,
 * the model loader and one forward step. The promises checked beyond "no
 * crash, no leak, no out-of-bounds read": a refusal always comes with a
 * one-line message naming the file, and every tensor the reader accepts
 * lies inside the buffer (its first row is dequantized, whatever the type). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/infer/model.h"
#include "weft/gguf.h"
#include "weft/infer.h"
#include "weft/quant.h"
#include "weft/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err)
{
    if (err[0] == '\0' || strchr(err, '\n') != NULL || strncmp(err, "fuzz.gguf", 9) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct weft_gguf *g;
    if (weft_gguf_parse(data, size, "fuzz.gguf", &g, err, sizeof err) < 0) {
        check_message(err);
        return 0;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct weft_gguf_tensor *t = &g->tensors[i];
        if (t->data < data || t->data + t->size > data + size)
            abort();
        /* Every dequantizer on whatever bytes a first row holds: the
         * reader promised the row lies inside the buffer. */
        static float row[4096];
        if (t->ne[0] <= 4096 && weft_row_size(t->type, t->ne[0]) <= t->size)
            weft_dequantize_row(t->type, t->data, row, (size_t)t->ne[0]);
    }
    struct weft_vocab *v;
    if (weft_vocab_load(g, "fuzz.gguf", &v, err, sizeof err) == 0) {
        int32_t ids[64];
        int n = weft_tokenize(v, "Hello world, 3 ok's!", 20, 1, ids, 64);
        if (n < 0)
            abort();
        struct weft_detok d;
        weft_detok_init(&d);
        char piece[WEFT_DETOK_OUT];
        for (int i = 0; i < n && i < 64; i++)
            if (weft_detok_push(v, &d, ids[i], piece, sizeof piece) < 0)
                abort();
        weft_vocab_free(v);
    } else {
        check_message(err);
    }
    struct weft_model_opts o = {WEFT_BACKEND_CPU, 1, 0, 0};
    struct weft_model *m;
    if (weft_model_from_gguf(g, "fuzz.gguf", &o, &m, err, sizeof err) < 0) {
        check_message(err);
        return 0;
    }
    /* Small models only: a fuzzed header may describe gigabytes of cache. */
    const struct weft_model_info *in = weft_model_info(m);
    if ((uint64_t)in->n_embd * (uint64_t)in->n_layer < (1u << 16) && in->n_ff < (1 << 16)) {
        struct weft_session *s;
        if (weft_session_new(m, 4, &s) == 0) {
            int32_t tok = weft_vocab_bos(weft_model_vocab(m));
            if (tok < 0)
                tok = 0;
            weft_session_eval(s, &tok, 1);
            weft_session_free(s);
        }
    }
    weft_model_free(m);
    return 0;
}
