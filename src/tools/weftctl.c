/* weftctl: control the scheduler and nodes
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] =
    "usage: weftctl --version | --help\n"
    "\n"
    "control the scheduler and nodes.\n"
    "Not implemented in this build yet: keys, nodes, jobs, submit, node status.\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weftctl", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
