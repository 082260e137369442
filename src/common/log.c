/* Line-oriented logging for terminals and for systemd's journal. */
#include "weft/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/time.h"

static const char *const level_names[] = {
    [WEFT_LOG_ERROR] = "error", [WEFT_LOG_WARN] = "warn",   [WEFT_LOG_NOTICE] = "notice",
    [WEFT_LOG_INFO] = "info",   [WEFT_LOG_DEBUG] = "debug",
};

static const char *const level_tags[] = {
    [WEFT_LOG_ERROR] = "ERROR", [WEFT_LOG_WARN] = "WARN",   [WEFT_LOG_NOTICE] = "NOTICE",
    [WEFT_LOG_INFO] = "INFO",   [WEFT_LOG_DEBUG] = "DEBUG",
};

/* systemd sets JOURNAL_STREAM to "<dev>:<ino>" of the stream it connected to
 * stdout/stderr. Comparing it with the fd we write to is what systemd asks
 * for: a child whose stderr was redirected to a file inherits the variable
 * but is no longer talking to the journal. */
static int fd_is_journal(int fd)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (js == NULL || *js == '\0')
        return 0;
    char *end;
    errno = 0;
    uintmax_t dev = strtoumax(js, &end, 10);
    if (errno != 0 || end == js || *end != ':')
        return 0;
    const char *ino_s = end + 1;
    uintmax_t ino = strtoumax(ino_s, &end, 10);
    if (errno != 0 || end == ino_s || *end != '\0')
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return 0;
    return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

static void copy_ident(char *dst, const char *ident)
{
    size_t n = ident ? strlen(ident) : 0;
    if (n > WEFT_LOG_IDENT_MAX - 1)
        n = WEFT_LOG_IDENT_MAX - 1;
    if (n)
        memcpy(dst, ident, n);
    dst[n] = '\0';
}

void weft_log_init(struct weft_log *lg, const char *ident, int fd)
{
    lg->fd = fd;
    lg->level = WEFT_LOG_INFO;
    lg->journal = fd_is_journal(fd);
    copy_ident(lg->ident, ident);
}

void weft_log_child(struct weft_log *child, const struct weft_log *parent, const char *ident)
{
    child->fd = parent->fd;
    child->level = parent->level;
    child->journal = parent->journal;
    copy_ident(child->ident, ident);
}

int weft_log_parse_level(const char *name)
{
    for (int l = WEFT_LOG_ERROR; l <= WEFT_LOG_DEBUG; l++)
        if (strcasecmp(name, level_names[l]) == 0)
            return l;
    return WEFT_EINVAL;
}

const char *weft_log_level_name(int level)
{
    if (level < WEFT_LOG_ERROR || level > WEFT_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

/* Copies src into dst[cap] escaping control bytes, so that one event is one
 * line whatever a peer put into the message. Returns bytes written. */
static size_t escape_into(char *dst, size_t cap, const char *src, int *cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        char esc[4];
        size_t n = 1;
        esc[0] = (char)*p;
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            esc[0] = '\\';
            esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            n = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 15];
            n = 4;
        }
        if (o + n > cap) {
            *cut = 1;
            break;
        }
        memcpy(dst + o, esc, n);
        o += n;
    }
    return o;
}

void weft_log(const struct weft_log *lg, int level, const char *fmt, ...)
{
    if (level > lg->level)
        return;
    if (level < WEFT_LOG_ERROR)
        level = WEFT_LOG_ERROR;
    if (level > WEFT_LOG_DEBUG)
        level = WEFT_LOG_DEBUG;

    char msg[WEFT_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int mn = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int cut = mn < 0 || (size_t)mn >= sizeof msg;
    if (mn < 0)
        msg[0] = '\0';

    /* The line: prefix, escaped message, maybe "...", newline. Escaping can
     * grow the text up to 4x, so the line buffer is sized for the worst case
     * of a short message and cut beyond that. */
    char line[WEFT_LOG_LINE_MAX + 128];
    size_t o = 0;
    int n;
    if (lg->journal) {
        n = snprintf(line, sizeof line, "<%d>%s%s", level, lg->ident, lg->ident[0] ? ": " : "");
    } else {
        char ts[WEFT_ISO8601_LEN + 1];
        if (weft_time_iso8601(weft_wall_ms(), ts, sizeof ts) < 0)
            ts[0] = '\0';
        n = snprintf(line, sizeof line, "%s %s %s%s", ts, level_tags[level], lg->ident,
                     lg->ident[0] ? ": " : "");
    }
    if (n < 0)
        return;
    o = (size_t)n;
    o += escape_into(line + o, sizeof line - o - 5, msg, &cut);
    if (cut) {
        memcpy(line + o, "...", 3);
        o += 3;
    }
    line[o++] = '\n';

    /* One write per line; retry only on EINTR. A short write to a pipe of
     * less than PIPE_BUF bytes cannot happen, and for longer lines a partial
     * write is finished rather than dropped. */
    size_t off = 0;
    while (off < o) {
        ssize_t w = write(lg->fd, line + off, o - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        off += (size_t)w;
    }
}
