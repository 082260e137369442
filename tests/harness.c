/* main() for unit tests: runs one named case, or all of them. */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CASES 512

/* Test-binary bookkeeping. The project forbids mutable globals in product
 * code; a test runner's registry filled by constructors is the exception
 * that keeps TEST() declarations one line. */
static struct {
    const char *name;
    harness_fn fn;
} cases[MAX_CASES];
static int n_cases;
static char tmpdir[4096];

void harness_register(const char *name, harness_fn fn)
{
    if (n_cases == MAX_CASES) {
        fprintf(stderr, "harness: more than %d cases in one file\n", MAX_CASES);
        exit(1);
    }
    cases[n_cases].name = name;
    cases[n_cases].fn = fn;
    n_cases++;
}

const char *harness_tmpdir(void)
{
    if (tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/weft-test-XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
            exit(1);
        }
    }
    return tmpdir;
}

const char *harness_write_file(const char *name, const char *text, size_t len)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "harness: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return path;
}

const char *harness_testdata(void)
{
    const char *env = getenv("WEFT_TESTDATA");
    const char *dir = env && *env ? env : WEFT_DEFAULT_TESTDATA;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        TEST_SKIP("test data folder %s is missing (set WEFT_TESTDATA)", dir);
    return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void run_case(int i)
{
    cases[i].fn();
    if (tmpdir[0] != '\0') {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n_cases; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc > 1) {
        for (int i = 0; i < n_cases; i++) {
            if (strcmp(cases[i].name, argv[1]) == 0) {
                run_case(i);
                return 0;
            }
        }
        fprintf(stderr, "harness: no case named %s\n", argv[1]);
        return 1;
    }
    for (int i = 0; i < n_cases; i++) {
        fprintf(stderr, "-- %s\n", cases[i].name);
        run_case(i);
    }
    fprintf(stderr, "%d passed, 0 failed\n", n_cases);
    return 0;
}
