/* weft-infer: run, benchmark and tokenize with the inference engine.
 * Generated text alone goes to stdout; timings and diagnostics to stderr. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/cli.h"
#include "weft/error.h"
#include "weft/gguf.h"
#include "weft/gpu.h"
#include "weft/infer.h"
#include "weft/quant.h"
#include "weft/time.h"
#include "weft/version.h"
#include "weft/vocab.h"

static const char usage[] =
    "usage: weft-infer run -m MODEL.gguf [-p PROMPT] [-n N] [--temp T] [--top-k K]\n"
    "                      [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]\n"
    "                      [--stop STR]... [--ctx N] [--threads N] [--backend auto|cpu|cuda]\n"
    "                      [--reference] [--mapped]\n"
    "       weft-infer tokenize -m MODEL_OR_VOCAB.gguf [--special]  (text on stdin, ids out)\n"
    "       weft-infer info -m MODEL.gguf\n"
    "       weft-infer bench -m MODEL.gguf [-p 128] [-n 128] [-r 3] [--threads N]\n"
    "                        [--backend auto|cpu|cuda] [--batch B]\n"
    "       weft-infer logits -m MODEL.gguf --tokens ID,ID,...  (last position, one per line)\n"
    "       weft-infer --version | --help\n"
    "\n"
    "run prints only the generated text on stdout; load time and prefill/decode\n"
    "speeds go to stderr. Greedy decoding: --temp 0. bench --batch B also\n"
    "decodes B sessions at once (weft_session_step) and prints the\n"
    "aggregate tok/s. --mapped: the CPU backend computes from the file\n"
    "mapping instead of its own (repacked) copy of the weights.\n";

struct opts {
    const char *model, *prompt, *tokens;
    int n, n_set, ctx, threads, reference, mapped, reps, prompt_len, batch;
    int special; /* tokenize: control tokens in the text count (markup) */
    int bench;   /* the command is bench */
    enum weft_backend backend;
    struct weft_gen_params gen;
};

static int add_stop(void *ud, const char *v, char *err, size_t errcap)
{
    struct weft_gen_params *g = ud;
    if (g->n_stop == WEFT_MAX_STOP || strlen(v) >= WEFT_STOP_MAX_LEN || !*v) {
        snprintf(err, errcap, "--stop: at most %d non-empty strings of < %d bytes", WEFT_MAX_STOP,
                 WEFT_STOP_MAX_LEN);
        return WEFT_EINVAL;
    }
    snprintf(g->stop[g->n_stop++], WEFT_STOP_MAX_LEN, "%s", v);
    return 0;
}

/* -p: the prompt, or for bench how many prompt tokens to time. */
static int set_prompt(void *ud, const char *v, char *err, size_t errcap)
{
    struct opts *o = ud;
    o->prompt = v;
    if (!o->bench)
        return 0;
    const struct weft_opt len = WEFT_OPTI("-p", &o->prompt_len, 1, 1 << 20);
    return weft_opt_value(&len, "-p", v, err, errcap);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    weft_sampling_defaults(&o->gen.sampling);
    o->gen.sampling.seed = (uint64_t)time(NULL);
    o->n = 256;
    o->reps = 3;
    o->prompt_len = 128;
    o->bench = strcmp(argv[1], "bench") == 0;
    static const char *const backends[] = {"auto", "cpu", "cuda", NULL};
    _Static_assert(WEFT_BACKEND_AUTO == 0 && WEFT_BACKEND_CPU == 1 && WEFT_BACKEND_CUDA == 2,
                   "--backend's choices are the enum's order");
    int backend = 0;
    struct weft_sampling *sp = &o->gen.sampling;
    const struct weft_opt opts[] = {
        WEFT_OPTF("--reference", &o->reference),
        WEFT_OPTF("--mapped", &o->mapped),
        WEFT_OPTF("--special", &o->special),
        WEFT_OPTS("-m|--model", &o->model),
        WEFT_OPTX("-p|--prompt", set_prompt, o),
        WEFT_OPTI_SEEN("-n", &o->n, 0, 1 << 24, &o->n_set),
        WEFT_OPTI("-r", &o->reps, 1, 100),
        WEFT_OPTI("--batch", &o->batch, 1, 64),
        WEFT_OPTR("--temp", &sp->temperature, 0, 100),
        WEFT_OPTI("--top-k", &sp->top_k, 0, 1 << 24),
        WEFT_OPTR("--top-p", &sp->top_p, 0, 1),
        WEFT_OPTR("--min-p", &sp->min_p, 0, 1),
        WEFT_OPTR("--repeat-penalty", &sp->repeat_penalty, 0.01, 100),
        WEFT_OPTU("--seed", &sp->seed),
        WEFT_OPTX("--stop", add_stop, &o->gen),
        WEFT_OPTS("--tokens", &o->tokens),
        WEFT_OPTI("--ctx", &o->ctx, 1, 1 << 24),
        WEFT_OPTI("-t|--threads", &o->threads, 1, 256),
        WEFT_OPTC("--backend", &backend, backends),
        WEFT_OPT_END,
    };
    char err[256];
    if (weft_opts_parse(argc - 2, argv + 2, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weft-infer: %s (see --help)\n", err);
        return WEFT_EINVAL;
    }
    o->backend = (enum weft_backend)backend;
    if (o->model == NULL) {
        fprintf(stderr, "weft-infer: -m MODEL.gguf is required\n");
        return WEFT_EINVAL;
    }
    return 0;
}

static int load(const struct opts *o, struct weft_model **m)
{
    struct weft_model_opts mo = {o->backend, o->threads, o->reference, o->mapped};
    char err[512];
    int rc = weft_model_load(o->model, &mo, m, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "weft-infer: %s\n", err);
    return rc;
}

static int tokenize_prompt(const struct weft_vocab *v, const char *text, int32_t **out)
{
    size_t len = text ? strlen(text) : 0;
    int n = weft_tokenize(v, text ? text : "", len, weft_vocab_adds_bos(v), NULL, 0);
    if (n < 0)
        return n;
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (*out == NULL)
        return WEFT_ENOMEM;
    return weft_tokenize(v, text ? text : "", len, weft_vocab_adds_bos(v), *out, (size_t)n);
}

static int print_token(void *ud, int32_t tok, int pos, const char *text, size_t len)
{
    (void)ud;
    (void)tok;
    (void)pos;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int cmd_run(const struct opts *o)
{
    uint64_t t0 = weft_mono_ns();
    struct weft_model *m;
    if (load(o, &m) < 0)
        return 1;
    double load_ms = (double)(weft_mono_ns() - t0) / 1e6;
    struct weft_session *s;
    int rc = weft_session_new(m, o->ctx, &s);
    if (rc < 0) {
        fprintf(stderr, "weft-infer: cannot create a session: %s\n", weft_strerror(rc));
        weft_model_free(m);
        return 1;
    }
    int32_t *prompt = NULL;
    int n = tokenize_prompt(weft_model_vocab(m), o->prompt, &prompt);
    if (n <= 0) {
        fprintf(stderr, "weft-infer: the prompt is empty and the model adds no BOS\n");
        rc = WEFT_EINVAL;
    } else {
        struct weft_gen_params gp = o->gen;
        gp.max_tokens = o->n;
        struct weft_gen_result res;
        rc = weft_generate(s, prompt, n, &gp, print_token, NULL, &res);
        printf("\n");
        if (rc < 0) {
            fprintf(stderr, "weft-infer: generation failed: %s\n", weft_strerror(rc));
        } else {
            fprintf(stderr,
                    "load %.1f ms | prefill %d tokens %.1f ms (%.1f tok/s) | decode %d tokens "
                    "%.1f ms (%.2f tok/s) | seed %llu\n",
                    load_ms, res.n_prompt, res.prefill_ms,
                    res.prefill_ms > 0 ? res.n_prompt * 1000.0 / res.prefill_ms : 0,
                    res.n_generated, res.decode_ms,
                    res.decode_ms > 0 ? res.n_generated * 1000.0 / res.decode_ms : 0,
                    (unsigned long long)o->gen.sampling.seed);
        }
    }
    free(prompt);
    weft_session_free(s);
    weft_model_free(m);
    return rc < 0 ? 1 : 0;
}

static int cmd_tokenize(const struct opts *o)
{
    struct weft_gguf *g;
    struct weft_vocab *v;
    char err[512];
    if (weft_gguf_open(o->model, &g, err, sizeof err) < 0 ||
        weft_vocab_load(g, o->model, &v, err, sizeof err) < 0) {
        fprintf(stderr, "weft-infer: %s\n", err);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    for (size_t r; text && (r = fread(text + len, 1, cap - len, stdin)) > 0;) {
        len += r;
        if (len == cap) {
            if (cap >= (64u << 20)) {
                fprintf(stderr, "weft-infer: input over 64 MiB\n");
                return 1;
            }
            cap *= 2;
            text = realloc(text, cap);
        }
    }
    /* --special: the text is markup, so control tokens in it are read as
     * such (llama.cpp's parse_special); else they are plain text. */
    int (*tok)(const struct weft_vocab *, const char *, size_t, int, int32_t *, size_t) =
        o->special ? weft_tokenize_markup : weft_tokenize;
    int n = text ? tok(v, text, len, 0, NULL, 0) : WEFT_ENOMEM;
    int32_t *ids = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof *ids) : NULL;
    if (n >= 0 && ids)
        n = tok(v, text, len, 0, ids, (size_t)n);
    for (int i = 0; ids && i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    free(ids);
    free(text);
    weft_vocab_free(v);
    weft_gguf_close(g);
    return n < 0 ? 1 : 0;
}

static int cmd_info(const struct opts *o)
{
    struct weft_model *m;
    struct opts co = *o;
    co.backend = WEFT_BACKEND_CPU;
    if (load(&co, &m) < 0)
        return 1;
    const struct weft_model_info *in = weft_model_info(m);
    printf("model:        %s (%s)\n", in->name[0] ? in->name : "(unnamed)", in->arch);
    printf("shape:        %d layers, embd %d, ff %d, heads %d (kv %d), head dim %d, rot %d\n",
           in->n_layer, in->n_embd, in->n_ff, in->n_head, in->n_head_kv, in->head_dim, in->n_rot);
    printf("vocab:        %d tokens (%s)\n", in->n_vocab,
           weft_vocab_kind(weft_model_vocab(m)) == WEFT_VOCAB_SPM ? "sentencepiece" : "gpt2 bpe");
    printf("context:      %d (trained)\n", in->n_ctx_train);
    printf("rope:         base %g, rms eps %g\n", in->rope_base, in->norm_eps);
    printf("weights:      %s, %.1f MiB\n", weft_type_name(in->weight_type),
           (double)in->weight_bytes / (1 << 20));
    if (in->copy_bytes)
        printf("on the cpu:   %.1f MiB copy of the matrices (repacked where it pays)\n",
               (double)in->copy_bytes / (1 << 20));
    else
        printf("on the cpu:   matrices read from the file mapping%s%s\n",
               in->backend_note[0] ? ": " : "", in->backend_note);
    int ctx = in->n_ctx_train < 4096 ? in->n_ctx_train : 4096;
    printf("kv cache:     %.1f KiB per token, %.1f MiB at %d tokens\n",
           (double)in->kv_bytes_per_token / 1024, (double)in->kv_bytes_per_token * ctx / (1 << 20),
           ctx);
    struct weft_gpu_plan pl;
    weft_model_gpu_plan(m, ctx, &pl);
    printf("on a gpu:     %.1f MiB weights + %.1f MiB scratch + %.1f MiB KV at %d tokens\n",
           (double)pl.weight_bytes / (1 << 20), (double)pl.scratch_bytes / (1 << 20),
           (double)pl.kv_bytes / (1 << 20), ctx);
    int ng = weft_gpu_count();
    if (!weft_gpu_built())
        printf("gpu:          this build has no CUDA backend\n");
    else if (ng == 0)
        printf("gpu:          no CUDA device\n");
    for (int i = 0; i < ng; i++) {
        struct weft_gpu_info gi;
        char why[256];
        if (weft_gpu_describe(i, &gi, why, sizeof why) == 0)
            printf("gpu %d:        %s, cc %d.%d, %.0f MiB (%.0f free)\n", i, gi.name, gi.cc_major,
                   gi.cc_minor, (double)gi.total_bytes / (1 << 20),
                   (double)gi.free_bytes / (1 << 20));
        else
            printf("gpu %d:        unusable: %s\n", i, why);
    }
    weft_model_free(m);
    return 0;
}

/* Prints the logits after evaluating the given ids: the hook that lets an
 * independent implementation (tests/infer/ref_llama.py) check the engine. */
static int cmd_logits(const struct opts *o)
{
    if (o->tokens == NULL) {
        fprintf(stderr, "weft-infer: logits needs --tokens ID,ID,...\n");
        return 2;
    }
    int32_t ids[4096];
    int n = 0;
    for (const char *p = o->tokens; *p && n < 4096;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "weft-infer: --tokens: bad id at \"%s\"\n", p);
            return 2;
        }
        ids[n++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fprintf(stderr, "weft-infer: --tokens: expected comma-separated ids\n");
            return 2;
        }
    }
    struct weft_model *m;
    if (load(o, &m) < 0)
        return 1;
    struct weft_session *s;
    int rc = weft_session_new(m, n, &s);
    if (rc == 0)
        rc = weft_session_eval(s, ids, n);
    if (rc < 0) {
        fprintf(stderr, "weft-infer: eval failed: %s\n", weft_strerror(rc));
    } else {
        const float *l = weft_session_logits(s);
        for (int i = 0; i < weft_model_info(m)->n_vocab; i++)
            printf("%.9g\n", l[i]);
    }
    weft_session_free(s);
    weft_model_free(m);
    return rc < 0 ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Aggregate decode speed of o->batch sessions stepping together, each
 * after a short prefill of the same tokens. */
static int bench_batch(const struct opts *o, struct weft_model *m, const int32_t *toks)
{
    int B = o->batch, np = o->prompt_len < 16 ? o->prompt_len : 16, nd = o->n_set ? o->n : 128;
    struct weft_session **ss = calloc((size_t)B, sizeof *ss);
    int32_t *step = calloc((size_t)B, sizeof *step);
    int rc = ss && step ? 0 : WEFT_ENOMEM;
    for (int i = 0; i < B && rc == 0; i++) {
        rc = weft_session_new(m, np + nd + 1, &ss[i]);
        if (rc == 0)
            rc = weft_session_eval(ss[i], toks, np);
        step[i] = toks[i % np];
    }
    double tg[100];
    for (int r = 0; r < o->reps && rc == 0; r++) {
        uint64_t t0 = weft_mono_ns();
        for (int i = 0; i < nd && rc == 0; i++)
            rc = weft_session_decode_batch(ss, step, B);
        tg[r] = (double)B * nd * 1e9 / (double)(weft_mono_ns() - t0);
        for (int i = 0; i < B && rc == 0; i++) {
            weft_session_reset(ss[i]);
            rc = weft_session_eval(ss[i], toks, np);
        }
    }
    if (rc == 0) {
        qsort(tg, (size_t)o->reps, sizeof tg[0], cmp_double);
        printf("batched decode, %d sessions x %d tokens: %.2f tok/s aggregate, %.2f per session "
               "(median of %d)\n",
               B, nd, tg[o->reps / 2], tg[o->reps / 2] / B, o->reps);
    } else {
        fprintf(stderr, "weft-infer: batched bench failed: %s %s\n", weft_strerror(rc),
                ss && ss[0] ? weft_session_error(ss[0]) : "");
    }
    for (int i = 0; ss && i < B; i++)
        weft_session_free(ss[i]);
    free(ss);
    free(step);
    return rc;
}

static int cmd_bench(const struct opts *o)
{
    struct weft_model *m;
    if (load(o, &m) < 0)
        return 1;
    const struct weft_model_info *in = weft_model_info(m);
    int np = o->prompt_len, nd = o->n_set ? o->n : 128;
    struct weft_session *s;
    int rc = weft_session_new(m, np + nd + 1, &s);
    if (rc < 0) {
        fprintf(stderr, "weft-infer: cannot create a session for %d tokens: %s\n", np + nd + 1,
                weft_strerror(rc));
        weft_model_free(m);
        return 1;
    }
    int32_t *toks = malloc((size_t)np * sizeof *toks);
    double pp[100], tg[100];
    uint64_t state = 42;
    for (int i = 0; i < np; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((state >> 33) % (uint64_t)in->n_vocab);
    }
    for (int r = 0; r < o->reps && rc == 0; r++) {
        weft_session_reset(s);
        uint64_t t0 = weft_mono_ns();
        rc = weft_session_eval(s, toks, np);
        pp[r] = np * 1e9 / (double)(weft_mono_ns() - t0);
        uint64_t t1 = weft_mono_ns();
        int32_t t = toks[0];
        for (int i = 0; i < nd && rc == 0; i++)
            rc = weft_session_eval(s, &t, 1);
        tg[r] = nd * 1e9 / (double)(weft_mono_ns() - t1);
    }
    if (rc == 0) {
        qsort(pp, (size_t)o->reps, sizeof pp[0], cmp_double);
        qsort(tg, (size_t)o->reps, sizeof tg[0], cmp_double);
        double gb = (double)in->bytes_per_token / 1e9;
        printf("model %s | %s | %.2f GB weights | %.3f GB read per token | %s\n", in->name,
               weft_type_name(in->weight_type), (double)in->weight_bytes / 1e9, gb,
               in->backend == WEFT_BACKEND_CUDA ? "cuda"
               : in->copy_bytes                 ? "cpu, own copy of the weights"
                                                : "cpu, weights read from the file mapping");
        printf("prefill %d tokens: %.2f tok/s (median of %d)\n", np, pp[o->reps / 2], o->reps);
        printf("decode  %d tokens: %.2f tok/s (median of %d), %.2f GB/s of weights read\n", nd,
               tg[o->reps / 2], o->reps, tg[o->reps / 2] * gb);
    } else {
        fprintf(stderr, "weft-infer: bench failed: %s %s\n", weft_strerror(rc),
                weft_session_error(s));
    }
    if (rc == 0 && o->batch >= 1)
        rc = bench_batch(o, m, toks);
    free(toks);
    weft_session_free(s);
    weft_model_free(m);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-infer", usage))
        return 0;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    struct opts o;
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") && strcmp(cmd, "tokenize") && strcmp(cmd, "info") &&
        strcmp(cmd, "bench") && strcmp(cmd, "logits")) {
        fprintf(stderr, "weft-infer: unknown command \"%s\"\n\n%s", cmd, usage);
        return 2;
    }
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    if (strcmp(cmd, "run") == 0)
        return cmd_run(&o);
    if (strcmp(cmd, "tokenize") == 0)
        return cmd_tokenize(&o);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(&o);
    if (strcmp(cmd, "logits") == 0)
        return cmd_logits(&o);
    return cmd_bench(&o);
}
