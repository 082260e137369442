"""Enrolls N nodes straight into a scheduler store, for the 10,000-node
heartbeat benchmarks (weftctl would take one commit per node), and says
hello for each over HTTPS. Tokens go to stdout, one per line. The row
format is the store's: salt, SHA-256(salt || secret); see src/sched/store.c.
STORE is a SQLite file or a postgresql:// URI (rows go in through psql's
COPY). Usage: enroll_many.py STORE N HOST PORT CA [NAME_PREFIX]"""
import hashlib, http.client, json, os, secrets, sqlite3, ssl, subprocess, sys, threading, time

db_path, n, host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
prefix = sys.argv[6] if len(sys.argv) > 6 else "bench-"
tokens, rows = [], []
now = int(time.time() * 1000)
for i in range(n):
    nid, secret, salt = secrets.token_hex(6), secrets.token_hex(16), secrets.token_bytes(16)
    h = hashlib.sha256(salt + secret.encode()).digest()
    rows.append((f"{prefix}{i:05d}", nid, salt, h, now))
    tokens.append(f"wn-{nid}.{secret}")
if db_path.startswith(("postgresql://", "postgres://")):
    data = "".join(f"{r[0]}\t{r[1]}\t\\\\x{r[2].hex()}\t\\\\x{r[3].hex()}\t{r[4]}\t0\n" for r in rows)
    subprocess.run(["psql", db_path, "-qc", "\\copy nodes(name,id,salt,hash,created_ms,revoked) FROM STDIN"],
                   input=data.encode(), check=True)
else:
    db = sqlite3.connect(db_path, timeout=30)
    with db:
        for r in rows:
            db.execute("INSERT OR REPLACE INTO nodes(name,id,salt,hash,created_ms,revoked) VALUES(?,?,?,?,?,0)", r)
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
