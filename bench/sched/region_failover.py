"""One stream through scheduler A, which this script kills (kill -9) after
token K; then resumes it on scheduler B with GET /v1/jobs/{id}/stream?after=N
(retrying while B answers 503 stream_busy). Prints the gap in ms from the
kill to the first token after it, the token count, and the resumes that
answered 503 first. The stream's tokens must number max_tokens exactly.
Usage: region_failover.py CA KEY A_PORT A_PID B_PORT MAX_TOKENS K"""
import http.client, json, os, signal, ssl, sys, time

ca, key = sys.argv[1], sys.argv[2]
a_port, a_pid, b_port = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
max_tokens, k = int(sys.argv[6]), int(sys.argv[7])
ctx = ssl.create_default_context(cafile=ca)
hdr = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}


def events(r):
    while True:
        line = r.fp.readline()
        if not line:
            return
        line = line.strip()
        if line == b"data: [DONE]":
            return
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


c = http.client.HTTPSConnection("127.0.0.1", a_port, context=ctx, timeout=30)
c.request("POST", "/v1/chat/completions", json.dumps({
    "model": "test-model", "max_tokens": max_tokens, "seed": 5, "stream": True,
    "messages": [{"role": "user", "content": "region failover"}]}), hdr)
r = c.getresponse()
assert r.status == 200, r.status
job, nxt, killed_at = None, 0, None
try:
    for ev in events(r):
        job = ev["id"]
        if "token_index" in ev:
            nxt = ev["token_index"] + 1
        if nxt >= k and killed_at is None:
            os.kill(a_pid, signal.SIGKILL)
            killed_at = time.monotonic()
except (OSError, http.client.HTTPException):
    pass
assert killed_at is not None, "the stream ended before token K"
busy = 0
while True:
    b = http.client.HTTPSConnection("127.0.0.1", b_port, context=ctx, timeout=30)
    b.request("GET", f"/v1/jobs/{job}/stream?after={nxt}", headers=hdr)
    r = b.getresponse()
    if r.status == 503:
        r.read()
        busy += 1
        time.sleep(0.05)
        continue
    assert r.status == 200, r.status
    break
first = None
for ev in events(r):
    if "error" in ev:
        sys.exit("error: " + ev["error"]["message"])
    if "token_index" in ev:
        if first is None:
            first = time.monotonic()
        nxt = ev["token_index"] + 1
print(f"{(first - killed_at) * 1000:.1f} {nxt} {busy}")
