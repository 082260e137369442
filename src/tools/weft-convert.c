/* weft-convert: write GGUF models from llama2.c checkpoints, or synthetic
 * models with real shapes for benchmarks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/convert.h"
#include "weft/quant.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-convert llama2c MODEL.bin TOKENIZER.bin OUT.gguf [--type "
    "f32|f16|bf16|q8_0|q4_0|q4_k|q6_k]\n"
    "       weft-convert synth --shape NAME --type f16|q8_0|q4_0|q4_k|... [--seed N] OUT.gguf\n"
    "       weft-convert --version | --help\n"
    "\n"
    "llama2c converts a llama2.c checkpoint (format v0) and its tokenizer.bin; the\n"
    "default type f32 keeps the weights exact. synth writes random weights with a\n"
    "real model's shapes; NAME is one of: test-tiny, tinyllama-1.1b, llama-3.2-1b,\n"
    "llama-2-7b.\n";

static int parse_type(const char *s, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t type;
    } types[] = {
        {"f32", WEFT_TYPE_F32},   {"f16", WEFT_TYPE_F16},   {"bf16", WEFT_TYPE_BF16},
        {"q8_0", WEFT_TYPE_Q8_0}, {"q4_0", WEFT_TYPE_Q4_0}, {"q4_k", WEFT_TYPE_Q4_K},
        {"q6_k", WEFT_TYPE_Q6_K},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcasecmp(s, types[i].name) == 0) {
            *out = types[i].type;
            return 0;
        }
    }
    fprintf(stderr, "weft-convert: --type: unknown type \"%s\"\n", s);
    return -1;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-convert", usage))
        return 0;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *pos[3] = {0};
    int npos = 0;
    uint32_t type = WEFT_TYPE_F32;
    int type_set = 0;
    const char *shape = NULL;
    unsigned long long seed = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            if (parse_type(argv[++i], &type) < 0)
                return 2;
            type_set = 1;
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            shape = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno || *end) {
                fprintf(stderr, "weft-convert: --seed: expected an integer\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "weft-convert: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "weft-convert: too many arguments (see --help)\n");
            return 2;
        }
    }
    char err[512];
    int rc;
    if (strcmp(argv[1], "llama2c") == 0) {
        if (npos != 3) {
            fprintf(stderr, "weft-convert: llama2c needs MODEL.bin TOKENIZER.bin OUT.gguf\n");
            return 2;
        }
        rc = weft_convert_llama2c(pos[0], pos[1], pos[2], type, err, sizeof err);
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
        rc = weft_convert_synth(sh, type, seed, pos[0], err, sizeof err);
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
