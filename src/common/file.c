/* Bounded reads and crash-safe replacement of small files (weft/file.h). */
#include "weft/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft/error.h"

int weft_file_read(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rbe");
    if (f == NULL)
        return errno == ENOENT ? WEFT_ENOENT : weft_err_from_errno(errno);
    char *buf = malloc(max + 2);
    if (buf == NULL) {
        fclose(f);
        return WEFT_ENOMEM;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        free(buf);
        return bad ? WEFT_EIO : WEFT_E2BIG;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int weft_file_replace(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return WEFT_ERANGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return weft_err_from_errno(errno);
    int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok)
        ok = 0, err = errno;
    if (ok && rename(tmp, path) != 0)
        ok = 0, err = errno;
    if (!ok) {
        unlink(tmp);
        return weft_err_from_errno(err ? err : EIO);
    }
    return 0;
}
