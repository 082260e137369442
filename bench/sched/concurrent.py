"""N completions streamed through the scheduler at once (threads, one
HTTPS connection each); prints one line: aggregate tokens/s from the first
request's start to the last one's end, and the p50 / p99 / max time to
first token in ms, and the tokens received.

Usage: concurrent.py HOST PORT CAFILE KEY N MAX_TOKENS MODEL"""
import http.client, json, ssl, sys, threading, time

host, port, cafile, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n, max_tokens, model = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
ctx = ssl.create_default_context(cafile=cafile)
ttft, counts, errors = [None] * n, [0] * n, []


def one(i, t0):
    try:
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=300)
        body = json.dumps({"model": model, "max_tokens": max_tokens, "seed": 1000 + i,
                           "temperature": 0.8, "stream": True,
                           "prompt": "Once upon a time, story number %d:" % i})
        c.request("POST", "/v1/completions", body,
                  {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            errors.append("%d: HTTP %d" % (i, r.status))
            return
        while True:
            line = r.fp.readline()
            if not line or line.strip() == b"data: [DONE]":
                break
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            ev = json.loads(line[6:])
            if "error" in ev:
                errors.append("%d: %s" % (i, ev["error"]["message"]))
                return
            if ev["choices"] and ev["choices"][0].get("text"):
                if ttft[i] is None:
                    ttft[i] = time.monotonic() - t0
                counts[i] += 1
    except Exception as e:  # reported, and the run counts as failed
        errors.append("%d: %r" % (i, e))


t0 = time.monotonic()
th = [threading.Thread(target=one, args=(i, t0)) for i in range(n)]
for t in th:
    t.start()
for t in th:
    t.join()
wall = time.monotonic() - t0
if errors:
    sys.exit("errors: " + "; ".join(errors))
f = sorted(x * 1000 for x in ttft if x is not None)
pct = lambda p: f[min(len(f) - 1, int(p * len(f)))]
print(f"tok/s {sum(counts) / wall:.1f}  ttft_ms p50 {pct(0.5):.0f} p99 {pct(0.99):.0f} max {f[-1]:.0f}"
      f"  tokens {sum(counts)}  wall_s {wall:.1f}")
