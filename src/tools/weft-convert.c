/* weft-convert: write GGUF models from llama2.c checkpoints, or synthetic
 * models with real shapes for benchmarks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/cli.h"
#include "weft/convert.h"
#include "weft/quant.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-convert llama2c MODEL.bin TOKENIZER.bin OUT.gguf [--type "
    "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs]\n"
    "       weft-convert synth --shape NAME --type f16|q8_0|q4_0|q4_k|... [--seed N]\n"
    "                          [--vocab VOCAB.gguf] OUT.gguf\n"
    "       weft-convert --version | --help\n"
    "\n"
    "llama2c converts a llama2.c checkpoint (format v0) and its tokenizer.bin; the\n"
    "default type f32 keeps the weights exact. synth writes random weights with a\n"
    "real model's shapes and architecture; NAME is one of: test-tiny, test-tiny-qwen2,\n"
    "test-tiny-qwen3, test-tiny-phi3, test-tiny-gemma2, test-tiny-gemma3 (each\n"
    "architecture at toy size), tinyllama-1.1b, llama-3.2-1b, llama-2-7b, qwen2.5-0.5b,\n"
    "qwen3-0.6b, phi-3.5-mini, gemma-2-2b, gemma-3-1b. --vocab "
    "takes the tokenizer (every tokenizer.*\n"
    "key) and vocabulary size from a GGUF, e.g. llama.cpp's ggml-vocab-llama-bpe.gguf.\n";

static const char *const type_names[] = {"f32",  "f16",    "bf16",   "q8_0", "q4_0", "q4_1",
                                         "q5_0", "q5_1",   "q2_k",   "q3_k", "q4_k", "q5_k",
                                         "q6_k", "iq4_nl", "iq4_xs", NULL};
static const uint32_t type_ids[] = {
    WEFT_TYPE_F32,  WEFT_TYPE_F16,  WEFT_TYPE_BF16, WEFT_TYPE_Q8_0,   WEFT_TYPE_Q4_0,
    WEFT_TYPE_Q4_1, WEFT_TYPE_Q5_0, WEFT_TYPE_Q5_1, WEFT_TYPE_Q2_K,   WEFT_TYPE_Q3_K,
    WEFT_TYPE_Q4_K, WEFT_TYPE_Q5_K, WEFT_TYPE_Q6_K, WEFT_TYPE_IQ4_NL, WEFT_TYPE_IQ4_XS};
_Static_assert(sizeof type_ids / sizeof type_ids[0] == sizeof type_names / sizeof type_names[0] - 1,
               "one id per type name");

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-convert", usage))
        return 0;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *pos[3] = {0};
    int npos = 0, type = 0, type_set = 0;
    const char *shape = NULL, *vocab = NULL;
    uint64_t seed = 1;
    const struct weft_opt opts[] = {
        {.names = "--type",
         .kind = WEFT_OPT_CHOICE,
         .out = &type,
         .choices = type_names,
         .seen = &type_set},
        WEFT_OPTS("--shape", &shape),
        WEFT_OPTU("--seed", &seed),
        WEFT_OPTS("--vocab", &vocab),
        WEFT_OPT_END,
    };
    char err[512];
    if (weft_opts_parse(argc - 2, argv + 2, opts, pos, 3, &npos, err, sizeof err) != 0) {
        fprintf(stderr, "weft-convert: %s (see --help)\n", err);
        return 2;
    }
    int rc;
    if (strcmp(argv[1], "llama2c") == 0) {
        if (npos != 3) {
            fprintf(stderr, "weft-convert: llama2c needs MODEL.bin TOKENIZER.bin OUT.gguf\n");
            return 2;
        }
        rc = weft_convert_llama2c(pos[0], pos[1], pos[2], type_ids[type], err, sizeof err);
    } else if (strcmp(argv[1], "synth") == 0) {
        if (npos != 1 || shape == NULL || !type_set) {
            fprintf(stderr, "weft-convert: synth needs --shape NAME --type TYPE OUT.gguf\n");
            return 2;
        }
        const struct weft_synth_shape *sh = weft_synth_shape(shape);
        if (sh == NULL) {
            fprintf(stderr, "weft-convert: unknown shape \"%s\"; known:", shape);
            for (const char *const *n = weft_synth_shape_names(); *n; n++)
                fprintf(stderr, " %s", *n);
            fprintf(stderr, "\n");
            return 2;
        }
        rc = weft_convert_synth(sh, type_ids[type], seed, vocab, pos[0], err, sizeof err);
    } else {
        fprintf(stderr, "weft-convert: unknown command \"%s\"\n\n%s", argv[1], usage);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "weft-convert: %s\n", err);
        return 1;
    }
    return 0;
}
