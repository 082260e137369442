/* Build version. WEFT_VERSION, WEFT_GIT_REV and WEFT_BUILD_TYPE come from
 * CMake as compile definitions of this file alone, so a new commit rebuilds
 * one object and relinks, not the tree. */
#include "weft/version.h"

#include <string.h>

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.0.0"
#endif
#ifndef WEFT_GIT_REV
#define WEFT_GIT_REV ""
#endif
#ifndef WEFT_BUILD_TYPE
#define WEFT_BUILD_TYPE ""
#endif

const char *weft_version(void)
{
    return WEFT_VERSION;
}

const char *weft_version_long(void)
{
    if (WEFT_GIT_REV[0] != '\0')
        return WEFT_VERSION " (git " WEFT_GIT_REV ", " WEFT_BUILD_TYPE ")";
    return WEFT_VERSION " (" WEFT_BUILD_TYPE ")";
}

void weft_print_version(FILE *out, const char *prog)
{
    fprintf(out, "%s %s\n", prog, weft_version_long());
}

int weft_cli_standard(int argc, char **argv, const char *prog, const char *usage)
{
    if (argc < 2)
        return 0;
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        weft_print_version(stdout, prog);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 1;
    }
    return 0;
}
