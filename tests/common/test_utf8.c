/* weft_utf8_scrub against CPython's bytes.decode("utf-8", "replace") (a
 * decoder we did not write, /usr/bin/python3), on edge cases and on random
 * byte strings weighted towards lead and continuation bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "weft/utf8.h"

enum { N_RANDOM = 3000, MAXLEN = 24 };

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void hex(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

TEST(scrub_matches_python_replace)
{
    static const char *edge[] = {
        "",
        "plain",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\xa6\x99",
        "\xba",
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\xa6",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xf5\x80",
        "\xff\xfe",
        "a\xf0\x9f\xa6\x62",
        "\xe2\x82\xe2\x82\xac",
        "\xc2\x80\xdf\xbf",
        "\xef\xbf\xbd",
    };
    char inpath[4200];
    snprintf(inpath, sizeof inpath, "%s/in.txt", harness_tmpdir());
    FILE *f = fopen(inpath, "w");
    ASSERT(f != NULL);
    unsigned char cases[sizeof edge / sizeof edge[0] + N_RANDOM][MAXLEN];
    size_t lens[sizeof edge / sizeof edge[0] + N_RANDOM];
    size_t nc = 0;
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++, nc++) {
        lens[nc] = strlen(edge[i]);
        memcpy(cases[nc], edge[i], lens[nc]);
    }
    static const unsigned char pick[] = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                         0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    uint64_t seed = 42;
    for (int r = 0; r < N_RANDOM; r++, nc++) {
        lens[nc] = lcg(&seed) % MAXLEN;
        for (size_t k = 0; k < lens[nc]; k++)
            cases[nc][k] = lcg(&seed) % 3 ? pick[lcg(&seed) % sizeof pick]
                                          : (unsigned char)(lcg(&seed) & 0xff);
    }
    for (size_t i = 0; i < nc; i++)
        hex(f, cases[i], lens[i]);
    fclose(f);
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys\n"
             "for l in open(sys.argv[1]): print(bytes.fromhex(l.strip()).decode(\"utf-8\", "
             "\"replace\").encode().hex())' %s",
             inpath);
    FILE *py = popen(cmd, "r");
    ASSERT(py != NULL);
    char line[4 * MAXLEN * 3 + 8];
    for (size_t i = 0; i < nc; i++) {
        if (!fgets(line, sizeof line, py))
            TEST_FAIL_("python3 gave %zu lines of %zu", i, nc);
        line[strcspn(line, "\n")] = '\0';
        char out[WEFT_UTF8_SCRUB_CAP(MAXLEN) + 1], got[sizeof line];
        size_t k = weft_utf8_scrub((const char *)cases[i], lens[i], out);
        for (size_t j = 0; j < k; j++)
            snprintf(got + 2 * j, 3, "%02x", (unsigned char)out[j]);
        got[2 * k] = '\0';
        if (strcmp(got, line) != 0) {
            char in[2 * MAXLEN + 1] = "";
            for (size_t j = 0; j < lens[i]; j++)
                snprintf(in + 2 * j, 3, "%02x", cases[i][j]);
            TEST_FAIL_("case %zu (%s): weft %s, python %s", i, in, got, line);
        }
        /* and what comes out is itself well-formed, whole */
        for (size_t j = 0; j < k;) {
            size_t s = weft_utf8_seq(out + j, k - j);
            ASSERT(s > 0);
            j += s;
        }
    }
    ASSERT_EQ_INT(pclose(py), 0);
}
