/* systemd notify: the datagram arrives on a path socket and an abstract
 * one, nothing happens without NOTIFY_SOCKET, and WATCHDOG_USEC counts only
 * for the process it names. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "weft/sdnotify.h"

static int bind_dgram(const char *path, int abstract)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (abstract)
        sa.sun_path[0] = '\0';
    ASSERT_EQ_INT(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ASSERT(n >= 0);
    buf[n] = '\0';
    ASSERT_EQ_STR(buf, want);
}

TEST(sends_to_a_path_socket)
{
    char path[512];
    snprintf(path, sizeof path, "%s/notify", harness_tmpdir());
    int fd = bind_dgram(path, 0);
    setenv("NOTIFY_SOCKET", path, 1);
    ASSERT_EQ_INT(weft_sd_notify("READY=1\nSTATUS=serving"), 0);
    expect_datagram(fd, "READY=1\nSTATUS=serving");
    close(fd);
}

TEST(sends_to_an_abstract_socket)
{
    char name[64];
    snprintf(name, sizeof name, "@weft-test-%d", (int)getpid());
    int fd = bind_dgram(name, 1);
    setenv("NOTIFY_SOCKET", name, 1);
    ASSERT_EQ_INT(weft_sd_notify("WATCHDOG=1"), 0);
    expect_datagram(fd, "WATCHDOG=1");
    close(fd);
}

TEST(no_socket_is_a_no_op_and_a_bad_one_an_error)
{
    unsetenv("NOTIFY_SOCKET");
    ASSERT_EQ_INT(weft_sd_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ASSERT(weft_sd_notify("READY=1") < 0);
    setenv("NOTIFY_SOCKET", "/nonexistent/socket", 1);
    ASSERT(weft_sd_notify("READY=1") < 0);
}

TEST(watchdog_interval_for_this_process_only)
{
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    ASSERT_EQ_INT(weft_sd_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    ASSERT_EQ_INT(weft_sd_watchdog_usec(), 30000000);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ASSERT_EQ_INT(weft_sd_watchdog_usec(), 30000000);
    setenv("WATCHDOG_PID", "1", 1);
    ASSERT_EQ_INT(weft_sd_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    ASSERT_EQ_INT(weft_sd_watchdog_usec(), 0);
}
