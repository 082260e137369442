/* Logging: the terminal format, the journal format and when each applies,
 * level filtering, escaping, truncation, and whole lines under threads. */
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/log.h"

static int open_log(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ASSERT(fd >= 0);
    return fd;
}

static char *read_all(int fd)
{
    static char text[1 << 20];
    ASSERT(lseek(fd, 0, SEEK_SET) == 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    ASSERT(n >= 0);
    text[n] = '\0';
    return text;
}

static void set_journal_stream_for(int fd)
{
    struct stat st;
    ASSERT_EQ_INT(fstat(fd, &st), 0);
    char v[64];
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    ASSERT_EQ_INT(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    ASSERT_EQ_INT(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        TEST_FAIL_("\"%s\" does not match /%s/", text, pattern);
}

TEST(terminal_format_has_iso8601_timestamp)
{
    unsetenv("JOURNAL_STREAM");
    int fd = open_log("a.log");
    struct weft_log lg;
    weft_log_init(&lg, "energy", fd);
    ASSERT_EQ_INT(lg.journal, 0);
    weft_log_warn(&lg, "grid meter stale for %d s", 12);
    assert_matches(read_all(fd), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                 "\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} WARN energy: "
                                 "grid meter stale for 12 s\n$");
    close(fd);
}

TEST(journal_format_has_priority_prefix_and_no_timestamp)
{
    int fd = open_log("j.log");
    set_journal_stream_for(fd);
    struct weft_log lg;
    weft_log_init(&lg, "energy", fd);
    ASSERT_EQ_INT(lg.journal, 1);
    lg.level = WEFT_LOG_DEBUG;
    weft_log_error(&lg, "e");
    weft_log_warn(&lg, "grid meter stale for %d s", 12);
    weft_log_notice(&lg, "n");
    weft_log_info(&lg, "i");
    weft_log_debug(&lg, "d");
    ASSERT_EQ_STR(read_all(fd), "<3>energy: e\n<4>energy: grid meter stale for 12 s\n"
                                "<5>energy: n\n<6>energy: i\n<7>energy: d\n");
    close(fd);
}

TEST(journal_stream_for_another_file_means_terminal_format)
{
    int other = open_log("other.log");
    int fd = open_log("mine.log");
    set_journal_stream_for(other);
    struct weft_log lg;
    weft_log_init(&lg, "sched", fd);
    ASSERT_EQ_INT(lg.journal, 0);
    weft_log_info(&lg, "hello");
    assert_matches(read_all(fd), "^[0-9-]{10}T[0-9:.]{12}[+-][0-9:]{5} INFO sched: hello\n$");
    ASSERT_EQ_INT(setenv("JOURNAL_STREAM", "garbage", 1), 0);
    weft_log_init(&lg, "sched", fd);
    ASSERT_EQ_INT(lg.journal, 0);
    close(other);
    close(fd);
}

TEST(levels_filter_and_parse)
{
    unsetenv("JOURNAL_STREAM");
    int fd = open_log("l.log");
    struct weft_log lg;
    weft_log_init(&lg, "x", fd);
    weft_log_debug(&lg, "hidden");
    lg.level = WEFT_LOG_WARN;
    weft_log_info(&lg, "hidden too");
    ASSERT_EQ_STR(read_all(fd), "");
    ASSERT_EQ_INT(weft_log_parse_level("debug"), WEFT_LOG_DEBUG);
    ASSERT_EQ_INT(weft_log_parse_level("WARN"), WEFT_LOG_WARN);
    ASSERT_EQ_INT(weft_log_parse_level("loud"), WEFT_EINVAL);
    ASSERT_EQ_STR(weft_log_level_name(WEFT_LOG_NOTICE), "notice");
    close(fd);
}

TEST(child_logger_shares_format_under_its_own_ident)
{
    int fd = open_log("c.log");
    set_journal_stream_for(fd);
    struct weft_log lg, child;
    weft_log_init(&lg, "weftd", fd);
    weft_log_child(&child, &lg, "node.link");
    weft_log_info(&child, "connected");
    ASSERT_EQ_STR(read_all(fd), "<6>node.link: connected\n");
    close(fd);
}

TEST(control_characters_are_escaped)
{
    int fd = open_log("e.log");
    set_journal_stream_for(fd);
    struct weft_log lg;
    weft_log_init(&lg, "net", fd);
    weft_log_warn(&lg, "peer said \"%s\"", "bad\nline\r\tx\x01y");
    ASSERT_EQ_STR(read_all(fd), "<4>net: peer said \"bad\\nline\\r\\tx\\x01y\"\n");
    close(fd);
}

TEST(long_messages_are_cut_to_one_bounded_line)
{
    int fd = open_log("long.log");
    set_journal_stream_for(fd);
    struct weft_log lg;
    weft_log_init(&lg, "x", fd);
    char *big = malloc(3 * WEFT_LOG_LINE_MAX);
    ASSERT_NOT_NULL(big);
    memset(big, 'a', 3 * WEFT_LOG_LINE_MAX - 1);
    big[3 * WEFT_LOG_LINE_MAX - 1] = '\0';
    weft_log_info(&lg, "%s", big);
    free(big);
    const char *text = read_all(fd);
    size_t n = strlen(text);
    ASSERT(n < WEFT_LOG_LINE_MAX + 128);
    ASSERT(strncmp(text, "<6>x: aaaa", 10) == 0);
    ASSERT_EQ_STR(text + n - 5, "a...\n");
    ASSERT(strchr(text, '\n') == text + n - 1);
    close(fd);
}

struct writer {
    struct weft_log *lg;
    int id;
};

static void *write_lines(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < 2000; i++)
        weft_log_info(w->lg, "thread %d line %d %s", w->id, i, "padding-padding-padding-padding");
    return NULL;
}

TEST(lines_from_threads_never_interleave)
{
    int fd = open_log("t.log");
    set_journal_stream_for(fd);
    struct weft_log lg;
    weft_log_init(&lg, "w", fd);
    pthread_t th[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){&lg, i};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, write_lines, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *text = read_all(fd);
    int lines = 0, next[4] = {0};
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int id, i;
        char pad[64];
        ASSERT_EQ_INT(sscanf(line, "<6>w: thread %d line %d %63s", &id, &i, pad), 3);
        ASSERT(id >= 0 && id < 4);
        ASSERT_EQ_INT(i, next[id]);
        ASSERT_EQ_STR(pad, "padding-padding-padding-padding");
        next[id]++;
        lines++;
    }
    ASSERT_EQ_INT(lines, 8000);
    close(fd);
}
