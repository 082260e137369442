/* weft-panelsim: a Modbus TCP solar/battery panel simulator
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] = "usage: weft-panelsim --version | --help\n"
                            "\n"
                            "a Modbus TCP solar/battery panel simulator.\n"
                            "Not implemented in this build yet: the simulator.\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-panelsim", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
