/* Config loader: the accepted document, then every rejection path, each
 * checked by its exact message. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sample_schema.h"

static char err[WEFT_CONFIG_ERR_MAX];

static int load_text(const char *text, struct sample_config *c)
{
    sample_defaults(c);
    return weft_config_load_text("t.json", text, strlen(text), &sample_root, c, err, sizeof err);
}

/* Loads a document that must be rejected and returns the message; also
 * checks the rejection left the target exactly as it was. */
static const char *reject(const char *text, int want_rc)
{
    struct sample_config c, before;
    sample_defaults(&before);
    int rc = load_text(text, &c);
    ASSERT_EQ_INT(rc, want_rc);
    ASSERT(memcmp(&c, &before, sizeof c) == 0);
    ASSERT(strchr(err, '\n') == NULL);
    return err;
}

static const char *write_file(const char *name, const char *text, size_t len)
{
    return harness_write_file(name, text, len);
}

static const char *full_doc =
    "{\n"
    "  \"node_name\": \"garage\",\n"
    "  \"allow_interactive\": false,\n"
    "  \"log_level\": \"debug\",\n"
    "  \"scheduler_urls\": [\"https://a.example:8443\", \"https://b.example:8443\"],\n"
    "  \"energy\": {\n"
    "    \"poll_ms\": 2000,\n"
    "    \"battery\": {\"reserve_soc\": 30, \"priority_soc\": 80.5, \"max_discharge_w\": 1500},\n"
    "    \"devices\": [\n"
    "      {\"name\": \"inverter\", \"proto\": \"tcp\", \"host\": \"192.0.2.10\", \"port\": 502,\n"
    "       \"unit_id\": 1},\n"
    "      {\"name\": \"meter\", \"proto\": \"rtu\", \"host\": \"/dev/ttyUSB0\"}\n"
    "    ]\n"
    "  }\n"
    "}\n";

TEST(accepts_full_document)
{
    struct sample_config c;
    ASSERT_EQ_INT(load_text(full_doc, &c), 0);
    ASSERT_EQ_STR(err, "");
    ASSERT_EQ_STR(c.node_name, "garage");
    ASSERT(!c.allow_interactive);
    ASSERT_EQ_INT(c.log_level, 3);
    ASSERT_EQ_INT(c.n_urls, 2);
    ASSERT_EQ_STR(c.urls[1], "https://b.example:8443");
    ASSERT_EQ_INT(c.energy.poll_ms, 2000);
    ASSERT_NEAR(c.energy.battery.reserve_soc, 30, 0);
    ASSERT_NEAR(c.energy.battery.priority_soc, 80.5, 0);
    ASSERT_NEAR(c.energy.battery.max_discharge_w, 1500, 0);
    ASSERT_EQ_INT(c.energy.n_devices, 2);
    ASSERT_EQ_STR(c.energy.devices[0].name, "inverter");
    ASSERT_EQ_INT(c.energy.devices[0].port, 502);
    ASSERT_EQ_INT(c.energy.devices[0].unit_id, 1);
    ASSERT_EQ_INT(c.energy.devices[1].proto, 1);
    ASSERT_EQ_STR(c.energy.devices[1].host, "/dev/ttyUSB0");
}

TEST(absent_keys_keep_defaults)
{
    struct sample_config c;
    ASSERT_EQ_INT(load_text("{\"node_name\": \"n\", \"scheduler_urls\": [\"https://x:1\"]}", &c),
                  0);
    ASSERT(c.allow_interactive);
    ASSERT_EQ_INT(c.log_level, 2);
    ASSERT_EQ_INT(c.energy.poll_ms, 1000);
    ASSERT_NEAR(c.energy.battery.reserve_soc, 20, 0);
    ASSERT_EQ_INT(c.energy.n_devices, 0);
}

TEST(loads_from_file)
{
    const char *path = write_file("weftd.json", full_doc, strlen(full_doc));
    struct sample_config c;
    sample_defaults(&c);
    ASSERT_EQ_INT(weft_config_load_file(path, &sample_root, &c, err, sizeof err), 0);
    ASSERT_EQ_STR(c.energy.devices[0].host, "192.0.2.10");
}

TEST(rejects_unknown_key_with_suggestion)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"batery\":{}}}", WEFT_ECONFIG),
                  "t.json: energy.batery: unknown key (did you mean \"battery\"?)");
}

TEST(rejects_unknown_key_without_suggestion)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"colour\":\"blue\"}", WEFT_ECONFIG),
                  "t.json: colour: unknown key");
}

TEST(unknown_keys_are_escaped_and_cut_in_messages)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"a\\nb\\u0001\":1}", WEFT_ECONFIG),
                  "t.json: a\\x0ab\\x01: unknown key");
    ASSERT_EQ_STR(
        reject("{\"node_name\":\"n\",\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
               "kkkkkkkkkkkkkkkkkkkk\":1}",
               WEFT_ECONFIG),
        "t.json: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: "
        "unknown key");
}

TEST(rejects_unknown_key_in_array_element)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"devices\":[{\"host\":\"h\"},"
                         "{\"host\":\"h\",\"prot\":\"tcp\"}]}}",
                         WEFT_ECONFIG),
                  "t.json: energy.devices[1].prot: unknown key (did you mean \"proto\"?)");
}

TEST(rejects_wrong_type_string_for_number)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"battery\":{\"reserve_soc\":\"abc\"}}}",
                         WEFT_ECONFIG),
                  "t.json: energy.battery.reserve_soc: expected a number 0..100, got \"abc\"");
}

TEST(rejects_wrong_type_bool)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"allow_interactive\":\"yes\"}", WEFT_ECONFIG),
                  "t.json: allow_interactive: expected true or false, got \"yes\"");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"allow_interactive\":1}", WEFT_ECONFIG),
                  "t.json: allow_interactive: expected true or false, got 1");
}

TEST(rejects_wrong_type_object_and_array)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":[]}", WEFT_ECONFIG),
                  "t.json: energy: expected an object, got an array");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"scheduler_urls\":\"https://x\"}", WEFT_ECONFIG),
                  "t.json: scheduler_urls: expected an array, got \"https://x\"");
    ASSERT_EQ_STR(reject("{\"node_name\":{}}", WEFT_ECONFIG),
                  "t.json: node_name: expected a string, got an object");
    ASSERT_EQ_STR(reject("{\"node_name\":null}", WEFT_ECONFIG),
                  "t.json: node_name: expected a string, got null");
}

TEST(rejects_top_level_that_is_not_an_object)
{
    ASSERT_EQ_STR(reject("[1, 2]", WEFT_ECONFIG),
                  "t.json: (top level): expected an object, got an array");
}

TEST(rejects_number_out_of_range)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"battery\":{\"reserve_soc\":150}}}",
                         WEFT_ECONFIG),
                  "t.json: energy.battery.reserve_soc: expected a number 0..100, got 150");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"battery\":{\"reserve_soc\":-0.5}}}",
                         WEFT_ECONFIG),
                  "t.json: energy.battery.reserve_soc: expected a number 0..100, got -0.5");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"poll_ms\":1e400}}", WEFT_ECONFIG),
                  "t.json: energy.poll_ms: expected an integer 100..60000, got inf");
}

TEST(rejects_fraction_for_integer)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"devices\":[{\"host\":\"h\","
                         "\"port\":80.5}]}}",
                         WEFT_ECONFIG),
                  "t.json: energy.devices[0].port: expected an integer 1..65535, got 80.5");
}

TEST(rejects_bad_enum_value)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"log_level\":\"loud\"}", WEFT_ECONFIG),
                  "t.json: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", "
                  "got \"loud\"");
}

TEST(rejects_string_too_long)
{
    char doc[256];
    snprintf(doc, sizeof doc, "{\"node_name\":\"%s\"}", "0123456789012345678901234567890123456789");
    ASSERT_EQ_STR(reject(doc, WEFT_ECONFIG),
                  "t.json: node_name: expected a string of at most 31 bytes, got 40 bytes");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"scheduler_urls\":[\"x\"]}", WEFT_ECONFIG),
                  "t.json: scheduler_urls[0]: expected a string of 8..127 bytes, got 1 bytes");
}

TEST(long_string_values_are_cut_in_messages)
{
    const char *msg = reject("{\"node_name\":\"n\",\"log_level\":"
                             "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                             WEFT_ECONFIG);
    ASSERT_CONTAINS(msg, "got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
    msg = reject("{\"node_name\":\"n\",\"log_level\":\"a\\nb\\\"c\"}", WEFT_ECONFIG);
    ASSERT_CONTAINS(msg, "got \"a\\u000ab\\\"c\"");
}

TEST(rejects_array_too_long_or_short)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"devices\":[{\"host\":\"a\"},"
                         "{\"host\":\"b\"},{\"host\":\"c\"},{\"host\":\"d\"},{\"host\":\"e\"}]}}",
                         WEFT_ECONFIG),
                  "t.json: energy.devices: expected an array of 0..4 items, got 5");
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"scheduler_urls\":[]}", WEFT_ECONFIG),
                  "t.json: scheduler_urls: expected an array of 1..3 items, got 0");
}

TEST(rejects_missing_required_key)
{
    ASSERT_EQ_STR(reject("{\"allow_interactive\":true}", WEFT_ECONFIG),
                  "t.json: node_name: required key is missing");
    ASSERT_EQ_STR(
        reject("{\"node_name\":\"n\",\"energy\":{\"devices\":[{\"name\":\"m\"}]}}", WEFT_ECONFIG),
        "t.json: energy.devices[0].host: required key is missing");
}

TEST(rejects_duplicate_key)
{
    ASSERT_EQ_STR(
        reject("{\"node_name\":\"a\",\"energy\":{\"poll_ms\":500,\"poll_ms\":600}}", WEFT_ECONFIG),
        "t.json: energy.poll_ms: duplicate key");
}

TEST(rejects_failed_cross_field_check)
{
    ASSERT_EQ_STR(reject("{\"node_name\":\"n\",\"energy\":{\"battery\":{\"reserve_soc\":60,"
                         "\"priority_soc\":40}}}",
                         WEFT_ECONFIG),
                  "t.json: energy.battery: reserve_soc (60) must not exceed priority_soc (40)");
}

TEST(rejects_malformed_json_with_line_and_column)
{
    ASSERT_EQ_STR(reject("{\n  \"node_name\": \"n\",\n  oops\n}\n", WEFT_EPARSE),
                  "t.json:3:3: malformed JSON near \"oops\"");
    ASSERT_EQ_STR(reject("{\"node_name\": \"n\",}", WEFT_EPARSE),
                  "t.json:1:19: malformed JSON near \"}\"");
    ASSERT_EQ_STR(reject("{\"a\":\n  tru}", WEFT_EPARSE),
                  "t.json:2:3: malformed JSON near \"tru}\"");
    ASSERT_EQ_STR(reject("{\"a\": 1 \"b\": 2}", WEFT_EPARSE),
                  "t.json:1:9: malformed JSON near \"?b?: 2}\"");
}

TEST(rejects_truncated_json)
{
    ASSERT_EQ_STR(reject("{\"node_name\": \"n\",\n", WEFT_EPARSE),
                  "t.json:2:1: malformed JSON: the file ends too early");
    ASSERT_EQ_STR(reject("{\"node_name\": ", WEFT_EPARSE),
                  "t.json:1:15: malformed JSON: the file ends too early");
}

TEST(rejects_trailing_garbage)
{
    ASSERT_EQ_STR(reject("{\"node_name\": \"n\"} x", WEFT_EPARSE),
                  "t.json:1:20: malformed JSON near \"x\"");
}

TEST(rejects_empty_file)
{
    ASSERT_EQ_STR(reject("", WEFT_EPARSE), "t.json:1:1: malformed JSON: the file is empty");
    ASSERT_EQ_STR(reject("\n  \n", WEFT_EPARSE), "t.json:3:1: malformed JSON: the file is empty");
}

TEST(rejects_nul_byte)
{
    struct sample_config c;
    sample_defaults(&c);
    static const char doc[] = "{\"node_name\":\n\"a\0b\"}";
    ASSERT_EQ_INT(
        weft_config_load_text("t.json", doc, sizeof doc - 1, &sample_root, &c, err, sizeof err),
        WEFT_EPARSE);
    ASSERT_EQ_STR(err, "t.json:2:3: malformed JSON: NUL byte in file");
}

TEST(rejects_deep_nesting_without_crashing)
{
    enum { DEPTH = 5000 };
    char *doc = malloc(2 * DEPTH + 1);
    ASSERT_NOT_NULL(doc);
    memset(doc, '[', DEPTH);
    memset(doc + DEPTH, ']', DEPTH);
    doc[2 * DEPTH] = '\0';
    struct sample_config c;
    int rc = load_text(doc, &c);
    free(doc);
    ASSERT_EQ_INT(rc, WEFT_EPARSE);
    ASSERT_CONTAINS(err, "t.json:1:");
    ASSERT_CONTAINS(err, "malformed JSON");
}

TEST(rejects_missing_file)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/nope.json", harness_tmpdir());
    struct sample_config c;
    sample_defaults(&c);
    ASSERT_EQ_INT(weft_config_load_file(path, &sample_root, &c, err, sizeof err), WEFT_ENOENT);
    char want[4300];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    ASSERT_EQ_STR(err, want);
}

TEST(rejects_directory)
{
    struct sample_config c;
    sample_defaults(&c);
    ASSERT_EQ_INT(weft_config_load_file(harness_tmpdir(), &sample_root, &c, err, sizeof err),
                  WEFT_EISDIR);
    ASSERT_CONTAINS(err, ": cannot read: is a directory");
}

TEST(rejects_unreadable_file)
{
    const char *path = write_file("secret.json", "{}", 2);
    ASSERT_EQ_INT(chmod(path, 0), 0);
    /* Root reads any file, so the check runs in a child that drops to
     * nobody first when the suite runs as root. */
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            TEST_FAIL_("cannot drop to nobody");
        struct sample_config c;
        sample_defaults(&c);
        ASSERT_EQ_INT(weft_config_load_file(path, &sample_root, &c, err, sizeof err), WEFT_EACCES);
        ASSERT_CONTAINS(err, "secret.json: cannot open: Permission denied");
        _exit(0);
    }
    int status = 0;
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

TEST(rejects_oversized_file)
{
    size_t n = WEFT_CONFIG_MAX_BYTES + 1;
    char *big = malloc(n);
    ASSERT_NOT_NULL(big);
    memset(big, ' ', n);
    const char *path = write_file("big.json", big, n);
    free(big);
    struct sample_config c;
    sample_defaults(&c);
    ASSERT_EQ_INT(weft_config_load_file(path, &sample_root, &c, err, sizeof err), WEFT_E2BIG);
    ASSERT_CONTAINS(err, "big.json: file too large (1048577 bytes, the limit is 1048576)");
}

TEST(small_error_buffer_is_cut_not_overrun)
{
    struct sample_config c;
    sample_defaults(&c);
    char small[16];
    memset(small, 'x', sizeof small);
    const char *doc = "{\"colour\":1}";
    ASSERT_EQ_INT(
        weft_config_load_text("t.json", doc, strlen(doc), &sample_root, &c, small, sizeof small),
        WEFT_ECONFIG);
    ASSERT_EQ_STR(small, "t.json: colour:");
}
