/* Memory read bandwidth: the bound for batch-1 decode, which streams every
 * weight byte once per token. Reads a buffer much larger than the caches
 * with T threads, each summing its slice with wide loads, and prints the
 * best of several passes in GB/s (1 GB = 1e9 bytes).
 *
 * With FILE, reads the first MiB of that file through a read-only private
 * mapping instead, as the engine did before it kept its own copy of the
 * weights (docs/engine.md): on some machines the two differ severalfold.
 *
 * Usage: membw [MiB=1024] [threads=all] [passes=5] [FILE] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "weft/time.h"

struct slice {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
};

static void *reader(void *arg)
{
    struct slice *s = arg;
    /* Eight independent sums keep many loads in flight; the compiler turns
     * this into vector loads at -O2 and above. */
    uint64_t a[8] = {0};
    for (size_t i = 0; i + 8 <= s->n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += s->p[i + k];
    s->sum = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    long nt = argc > 2 ? strtol(argv[2], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    int passes = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    const char *file = argc > 4 ? argv[4] : NULL;
    if (mib == 0 || nt < 1 || nt > 256 || passes < 1) {
        fprintf(stderr, "usage: membw [MiB] [threads] [passes] [FILE]\n");
        return 2;
    }
    size_t bytes = mib << 20, n = bytes / 8;
    uint64_t *buf;
    if (file) {
        int fd = open(file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "membw: cannot open %s\n", file);
            return 1;
        }
        if ((size_t)st.st_size < bytes)
            bytes = (size_t)st.st_size & ~(size_t)63;
        n = bytes / 8;
        buf = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (buf == MAP_FAILED) {
            fprintf(stderr, "membw: cannot map %s\n", file);
            return 1;
        }
    } else {
        buf = malloc(bytes);
        if (buf == NULL) {
            fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
            return 1;
        }
        memset(buf, 1, bytes);
    }
    double best = 0;
    uint64_t check = 0;
    for (int p = 0; p < passes; p++) {
        pthread_t th[256];
        struct slice sl[256];
        uint64_t t0 = weft_mono_ns();
        for (long t = 0; t < nt; t++) {
            sl[t] = (struct slice){buf + n / (size_t)nt * (size_t)t, n / (size_t)nt, 0};
            pthread_create(&th[t], NULL, reader, &sl[t]);
        }
        for (long t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            check += sl[t].sum;
        }
        double gbs = (double)bytes / (double)(weft_mono_ns() - t0);
        if (gbs > best)
            best = gbs;
    }
    printf("read bandwidth: %.1f GB/s (%zu MiB%s%s, %ld threads, best of %d; checksum %llu)\n",
           best, bytes >> 20, file ? " mapped from " : "", file ? file : "", nt, passes,
           (unsigned long long)(check & 0xff));
    if (file)
        munmap(buf, bytes);
    else
        free(buf);
    return 0;
}
