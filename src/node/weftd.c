/* weftd: the home node daemon
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] =
    "usage: weftd --version | --help\n"
    "\n"
    "the home node daemon.\n"
    "Not implemented in this build yet: the daemon itself (docs/node.md).\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weftd", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
