/* weft-scheduler: the regional scheduler
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] =
    "usage: weft-scheduler --version | --help\n"
    "\n"
    "the regional scheduler.\n"
    "Not implemented in this build yet: the scheduler itself (docs/api.md).\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-scheduler", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
