"""Enrolls N nodes straight into a scheduler store, for the 10,000-node
heartbeat benchmark (weftctl would take one fsync per node), and says hello
for each over HTTPS. Tokens go to stdout, one per line. The row format is
the store's: salt, SHA-256(salt || secret); see src/sched/store.c."""
import hashlib, http.client, json, os, secrets, sqlite3, ssl, sys, threading, time

db_path, n, host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
db = sqlite3.connect(db_path, timeout=30)
tokens = []
now = int(time.time() * 1000)
with db:
    for i in range(n):
        nid, secret, salt = secrets.token_hex(6), secrets.token_hex(16), secrets.token_bytes(16)
        h = hashlib.sha256(salt + secret.encode()).digest()
        db.execute("INSERT OR REPLACE INTO nodes(name,id,salt,hash,created_ms,revoked) VALUES(?,?,?,?,?,0)",
                   (f"bench-{i:05d}", nid, salt, h, now))
        tokens.append(f"wn-{nid}.{secret}")
hello = json.dumps({"models": [{"name": "test-model", "template": "chatml"}], "max_concurrency": 1})
ctx = ssl.create_default_context(cafile=cafile)

def worker(part):
    c = http.client.HTTPSConnection(host, port, context=ctx)
    for t in part:
        c.request("POST", "/v1/node/hello", hello, {"Authorization": "Bearer " + t, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status

threads = [threading.Thread(target=worker, args=(tokens[k::8],)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(tokens))
