/* weft-infer: run, benchmark and tokenize with the inference engine
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] = "usage: weft-infer --version | --help\n"
                            "\n"
                            "run, benchmark and tokenize with the inference engine.\n"
                            "Not implemented in this build yet: run, bench, tokenize, info.\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-infer", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
