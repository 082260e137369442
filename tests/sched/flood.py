"""A pipelining flood: N TLS connections each send R requests for PATH at
once and read nothing for HOLD seconds, while the scheduler's resident set
(VmRSS of PID) is sampled; then they close, and it is sampled again after
SETTLE seconds. Prints "peak_kib after_kib start_kib".

Usage: flood.py HOST PORT CAFILE PID N R PATH HOLD SETTLE"""
import socket, ssl, sys, time

host, port, cafile, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n, r, path = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
hold, settle = float(sys.argv[8]), float(sys.argv[9])


def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


start = rss()
ctx = ssl.create_default_context(cafile=cafile)
req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode() * r
conns = []
for _ in range(n):
    s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="127.0.0.1")
    s.setblocking(False)
    conns.append([s, 0])
peak, t0 = start, time.monotonic()
while time.monotonic() - t0 < hold:
    for c in conns:  # send what the peer takes, never read
        if c[1] < len(req):
            try:
                c[1] += c[0].send(req[c[1]:c[1] + 65536])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
            except OSError:
                c[1] = len(req)
    peak = max(peak, rss())
    time.sleep(0.01)
for c in conns:
    c[0].close()
time.sleep(settle)
print(peak, rss(), start)
