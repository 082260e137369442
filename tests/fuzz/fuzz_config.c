/* libFuzzer target: the config loader on arbitrary bytes, against a schema
 * shaped like a node's config. Beyond "no crash, no leak, no UB" it checks
 * the loader's promises: an error always has a one-line message, success
 * never has one, and loaded strings and counts respect their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sample_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sample_config c;
    sample_defaults(&c);
    char err[WEFT_CONFIG_ERR_MAX];
    int rc = weft_config_load_text("fuzz.json", (const char *)data, size, &sample_root, &c, err,
                                   sizeof err);
    if (rc < 0) {
        if (err[0] == '\0' || strchr(err, '\n') != NULL)
            abort();
        if (strncmp(err, "fuzz.json", 9) != 0)
            abort();
        return 0;
    }
    if (err[0] != '\0')
        abort();
    if (memchr(c.node_name, '\0', sizeof c.node_name) == NULL)
        abort();
    if (c.n_urls < 0 || c.n_urls > 3 || c.energy.n_devices < 0 || c.energy.n_devices > 4)
        abort();
    if (c.energy.battery.reserve_soc > c.energy.battery.priority_soc)
        abort();
    return 0;
}
