/* Logging.
 *
 * One line per event, written with a single write(2) so that lines from the
 * loop thread and the worker threads never interleave mid-line.
 *
 * Two formats, chosen once at weft_log_init():
 *  - under systemd's journal (JOURNAL_STREAM names the device and inode of
 *    the log fd, as systemd documents), each line starts with the sd-daemon
 *    priority prefix "<N>" and carries no timestamp: journald stamps it and
 *    maps N to the entry's priority;
 *  - anywhere else, an ISO-8601 local timestamp with milliseconds and UTC
 *    offset, then the level name.
 *
 *   journal:   <4>energy: grid meter stale for 12 s
 *   terminal:  2026-11-24T15:40:32.123+00:00 WARN energy: grid meter stale for 12 s
 *
 * Control characters in a message (a newline in a peer's error string, say)
 * are written as \n, \t or \xNN so one event stays one line. Messages longer
 * than WEFT_LOG_LINE_MAX are cut and end in "...".
 *
 * Ownership: the caller owns struct weft_log (no globals); it holds no
 * resources and needs no cleanup. The fd is borrowed and never closed.
 * Thread-safety: weft_log() may be called from any thread once init is done;
 * changing `level` while other threads log is a benign race on an int.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

/* Levels are syslog priorities, so the journal prefix is the level itself. */
enum weft_log_level {
    WEFT_LOG_ERROR = 3,
    WEFT_LOG_WARN = 4,
    WEFT_LOG_NOTICE = 5,
    WEFT_LOG_INFO = 6,
    WEFT_LOG_DEBUG = 7,
};

#define WEFT_LOG_LINE_MAX  4096
#define WEFT_LOG_IDENT_MAX 32

struct weft_log {
    int fd;                         /* where lines go; borrowed */
    int level;                      /* the most verbose level written */
    int journal;                    /* 1: "<N>" prefix, no timestamp */
    char ident[WEFT_LOG_IDENT_MAX]; /* component name at the start of each line */
};

/* Sets up a logger writing to fd at WEFT_LOG_INFO. `ident` is copied (cut to
 * WEFT_LOG_IDENT_MAX - 1 bytes). Journal mode is on when the environment's
 * JOURNAL_STREAM equals "<st_dev>:<st_ino>" of fd, so output redirected
 * elsewhere by a child process gets timestamps again. */
void weft_log_init(struct weft_log *lg, const char *ident, int fd);

/* A logger that shares lg's fd, level and format under another ident. */
void weft_log_child(struct weft_log *child, const struct weft_log *parent, const char *ident);

/* "error", "warn", "notice", "info", "debug" → level; WEFT_EINVAL otherwise. */
int weft_log_parse_level(const char *name);
const char *weft_log_level_name(int level);

void weft_log(const struct weft_log *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define weft_log_error(lg, ...)  weft_log((lg), WEFT_LOG_ERROR, __VA_ARGS__)
#define weft_log_warn(lg, ...)   weft_log((lg), WEFT_LOG_WARN, __VA_ARGS__)
#define weft_log_notice(lg, ...) weft_log((lg), WEFT_LOG_NOTICE, __VA_ARGS__)
#define weft_log_info(lg, ...)   weft_log((lg), WEFT_LOG_INFO, __VA_ARGS__)
#define weft_log_debug(lg, ...)  weft_log((lg), WEFT_LOG_DEBUG, __VA_ARGS__)

#endif /* WEFT_LOG_H */
