/* Version of this build, and the standard --version / --help handling that
 * every Weft binary shares so that they all answer the same way.
 *
 * Strings returned are static. Thread-safe.
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *weft_version(void);
/* "0.1.0 (git 1a2b3c4, Release)"; the git part is absent outside a checkout. */
const char *weft_version_long(void);

/* Prints "<prog> <long version>" on out. */
void weft_print_version(FILE *out, const char *prog);

/* Handles a lone first argument of --version or --help/-h: prints the
 * version, or `usage` (which should start with "usage: <prog> ..."), to
 * stdout and returns 1, meaning "done, exit 0". Returns 0 when argv holds
 * something else for the program to parse. */
int weft_cli_standard(int argc, char **argv, const char *prog, const char *usage);

#endif /* WEFT_VERSION_H */
