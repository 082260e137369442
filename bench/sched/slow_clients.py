"""Slow clients for the soak benchmark: N TLS connections that send a
request's headers one byte a second (so header_timeout_ms ends them), each
reopened when the scheduler closes it, for SECONDS. Prints "opened closed
failed" at the end.

Usage: slow_clients.py HOST PORT CAFILE N SECONDS"""
import selectors, socket, ssl, sys, time

host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n, seconds = int(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context(cafile=cafile)
head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wk-slow\r\n"
opened = closed = failed = 0
conns = {}


def open_one():
    global opened, failed
    try:
        s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5),
                            server_hostname="127.0.0.1")
        s.setblocking(False)
        conns[s] = 0
        opened += 1
    except OSError:
        failed += 1


end = time.monotonic() + seconds
for _ in range(n):
    open_one()
while time.monotonic() < end:
    for s in list(conns):
        try:
            s.send(head[conns[s] % len(head):conns[s] % len(head) + 1])
            conns[s] += 1
            s.recv(4096)  # the scheduler's 408 or close
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            continue
        except OSError:
            pass
        # Answered or closed: this one is done, a new one takes its place.
        closed += 1
        del conns[s]
        try:
            s.close()
        except OSError:
            pass
        open_one()
    time.sleep(1.0)
for s in conns:
    s.close()
print(opened, closed, failed)
