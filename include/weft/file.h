/* Whole small files: read one with a bound, replace one so that a crash
 * leaves the old file or the new one, never half of one (a temporary file
 * beside it, fsync, rename). For state weftd keeps across restarts (the
 * ledger, the day-ahead forecast). No state; callers own the buffers. */
#ifndef WEFT_FILE_H
#define WEFT_FILE_H

#include <stddef.h>

/* path's bytes into *out (malloc'd, NUL-terminated; the caller frees),
 * at most max of them: 0, WEFT_ENOENT for no such file, WEFT_E2BIG past
 * max, or another WEFT_E* code. */
int weft_file_read(const char *path, size_t max, char **out, size_t *len);

/* Replaces path with data[0..len), mode 0600: 0 or a WEFT_E* code. */
int weft_file_replace(const char *path, const void *data, size_t len);

#endif /* WEFT_FILE_H */
