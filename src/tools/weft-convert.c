/* weft-convert: convert llama2.c checkpoints to GGUF, write synthetic models
 * Only --version and --help exist so far; the rest lands with its issue. */
#include <stdio.h>

#include "weft/version.h"

static const char usage[] = "usage: weft-convert --version | --help\n"
                            "\n"
                            "convert llama2.c checkpoints to GGUF, write synthetic models.\n"
                            "Not implemented in this build yet: llama2c, synth.\n";

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-convert", usage))
        return 0;
    fputs(usage, stderr);
    return 2;
}
