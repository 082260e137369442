"""Streams one chat completion through the scheduler and prints the longest
gap between two consecutive tokens at the client, in ms, the token count,
and the tokens per second from the first token to the last. With a node that
dies right after token K, that gap is the failover time as the client feels
it."""
import http.client, json, ssl, sys, time

host, port, cafile, key, max_tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
model = sys.argv[7] if len(sys.argv) > 7 and sys.argv[6] == "--model" else "test-model"
ctx = ssl.create_default_context(cafile=cafile)
c = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
body = json.dumps({"model": model, "max_tokens": max_tokens, "seed": 99, "stream": True,
                   "messages": [{"role": "user", "content": "Once upon a time"}]})
c.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200, r.status
times, n = [], 0
while True:
    line = r.fp.readline()
    if not line:
        break
    line = line.strip()
    if not line.startswith(b"data: "):
        continue
    if line == b"data: [DONE]":
        break
    ev = json.loads(line[6:])
    if "error" in ev:
        sys.exit("error: " + ev["error"]["message"])
    if ev["choices"] and ev["choices"][0]["delta"].get("content"):
        times.append(time.monotonic()); n += 1
gaps = [b - a for a, b in zip(times, times[1:])]
rate = (n - 1) / (times[-1] - times[0]) if n > 1 and times[-1] > times[0] else 0
print(f"{max(gaps) * 1000:.1f} {n} {rate:.1f}")
