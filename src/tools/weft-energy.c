/* weft-energy: read an energy device, replay a profile through the policy
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] = "usage: weft-energy --version | --help\n"
                            "\n"
                            "read an energy device, replay a profile through the policy.\n"
                            "Not implemented in this build yet: read, replay.\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-energy", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
