#!/usr/bin/python3
"""make demo: a Weft region on loopback, in about a minute and a half.

A scheduler (--dev-tls), three homes simulated by weft-panelsim (different
days and roofs from the Ausgrid year, time running 60-120x), three weftd
nodes reading them and serving stories260K on the CPU. Traffic: streaming
completions and deferrable jobs. A live view shows each home's power and
each node's policy and work; midway one node is killed (SIGKILL) in the
middle of a stream and the request finishes on another node; at the end,
a summary and a check that the interrupted text equals an undisturbed run.
Everything started here is stopped here.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
DATA = os.environ.get("WEFT_TESTDATA", os.path.join(ROOT, "..", "shared", "testdata"))
DURATION = float(os.environ.get("WEFT_DEMO_SECONDS", "75"))
KILL_AT = DURATION * 0.35

procs = []
work = tempfile.mkdtemp(prefix="weft-demo-")
lock = threading.Lock()
events = []          # lines for the live view
stats = {"requests": 0, "ok": 0, "failed": 0, "jobs": 0}
stop = threading.Event()


def say(msg):
    with lock:
        events.append(time.strftime("%H:%M:%S ") + msg)
        print("  * " + msg, flush=True)


def spawn(name, args):
    out = open(os.path.join(work, name + ".out"), "w")
    err = open(os.path.join(work, name + ".err"), "w")
    p = subprocess.Popen(args, stdout=out, stderr=err, cwd=work)
    procs.append((name, p))
    return p


def wait_line(name, prefix, timeout=20):
    path = os.path.join(work, name + ".out")
    t0 = time.time()
    while time.time() - t0 < timeout:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return int(line.split()[-1])
        time.sleep(0.05)
    sys.exit(f"demo: {name} did not start; see {work}/{name}.err")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cleanup():
    for name, p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 8
    for name, p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


class Api:
    def __init__(self, port, ca, key):
        self.port, self.key = port, key
        self.ctx = ssl.create_default_context(cafile=ca)

    def conn(self, timeout=60):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def call(self, method, path, body=None):
        c = self.conn()
        c.request(method, path, json.dumps(body) if body is not None else None,
                  {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data and data[:1] in b"{[" else data)

    def stream(self, body):
        """Returns (id, text, token_events) of a streamed completion."""
        c = self.conn(120)
        c.request("POST", "/v1/completions", json.dumps(body),
                  {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {r.read()[:200]!r}")
        rid, text, n = None, "", 0
        while True:
            line = r.fp.readline()
            if not line or line.startswith(b"data: [DONE]"):
                break
            if not line.startswith(b"data: {"):
                continue
            ev = json.loads(line[6:])
            if "error" in ev:
                raise RuntimeError(ev["error"]["message"])
            rid = ev["id"]
            if ev["choices"] and ev["choices"][0]["text"]:
                text += ev["choices"][0]["text"]
                n += 1
        c.close()
        return rid, text, n


def status(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/status")
        d = json.loads(c.getresponse().read())
        c.close()
        return d
    except (OSError, ValueError):
        return None


PROMPTS = ["Once upon a time", "The little dog", "One day, Lily", "Tom and his mom", "The sun was"]


def stream_traffic(api, idx, interrupted):
    """Back-to-back streamed completions from one client."""
    i = 0
    while not stop.is_set():
        body = {"model": "stories260K", "prompt": PROMPTS[(idx + i) % len(PROMPTS)], "max_tokens": 90,
                "temperature": 0.8, "seed": 1000 * idx + i, "stream": True}
        i += 1
        with lock:
            stats["requests"] += 1
        try:
            rid, text, n = api.stream(body)
            with lock:
                stats["ok"] += 1
                interrupted.setdefault("done", {})[rid] = (body, text, n)
        except (RuntimeError, OSError) as e:
            with lock:
                stats["failed"] += 1
            say(f"client {idx}: request failed: {e}")
            time.sleep(1)


def job_traffic(api):
    """A deferrable job every few seconds: it runs only where there is surplus."""
    k = 0
    while not stop.wait(4):
        k += 1
        st, j = api.call("POST", "/v1/jobs", {
            "endpoint": "/v1/completions", "completion_window": "1h",
            "request": {"model": "stories260K", "prompt": "Night fell and", "max_tokens": 40, "seed": k}})
        if st == 202:
            with lock:
                stats["jobs"] += 1


def fmt(v, spec="{:6.0f}"):
    return spec.format(v) if isinstance(v, (int, float)) else "     -"


def view(nodes, t):
    print(f"\n--- t={t:4.0f}s ------------------------------------------------------------------------")
    print(" node        PV W   load W   grid W  batt W  SoC %  policy    budget  serving")
    for name, n in nodes.items():
        d = status(n["status"]) if n["alive"] else None
        if d is None:
            print(f" {name:<10} (killed)")
            continue
        e, p = d["energy"], d["policy"]
        job = d["job"]
        serving = f"{job['id'][:18]} {job['tokens']:3d} tok" + (" (yielding)" if job["yielding"] else "") \
            if job else "-"
        print(f" {name:<10}{fmt(e['pv_w']['value'])}  {fmt(e['load_w']['value'])}   "
              f"{fmt(e['grid_w']['value'])}  {fmt(e['battery_w']['value'])}  "
              f"{fmt(e['soc_pct']['value'], '{:5.1f}')}  {p['state']:<8} {p['budget_w']:6.0f}  {serving}")
        if p["budget_w"] <= 0:
            print(f" {'':<10}  why: {p['reason']}")


def metric(api, name):
    c = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ctx, timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.split()[-1])
    return total


def main():
    if not os.path.exists(os.path.join(DATA, "models", "stories260K.bin")):
        sys.exit(f"demo: {DATA}/models/stories260K.bin is missing (the shared test data)")
    print(f"Weft demo: a scheduler, three homes, three nodes; work files in {work}")
    gguf = os.path.join(work, "stories260K.gguf")
    run([f"{BIN}/weft-convert", "llama2c", f"{DATA}/models/stories260K.bin",
         f"{DATA}/models/tok512.bin", gguf])
    spawn("scheduler", [f"{BIN}/weft-scheduler", "--dev-tls", "--state-dir", "sched", "--port", "0",
                        "--heartbeat-ms", "500", "--log-level", "warn"])
    port = wait_line("scheduler", "weft-scheduler: listening on port")
    ca = os.path.join(work, "sched", "dev-cert.pem")
    key = run([f"{BIN}/weftctl", "--state-dir", os.path.join(work, "sched"), "keys", "create", "demo",
               "--rate", "0", "--concurrency", "0"])
    api = Api(port, ca, key)
    admin = run([f"{BIN}/weftctl", "--state-dir", os.path.join(work, "sched"), "keys", "create",
                 "demo-ops", "--admin"])
    # The dashboard while the demo runs (its certificate is the demo's own: the browser asks).
    print(f"dashboard: https://127.0.0.1:{port}/ui#key={admin}  (open it while the demo runs)",
          flush=True)

    profile = os.path.join(DATA, "energy", "ausgrid-c12-2011-07_2012-03.csv")
    homes = {
        # name: (day in the profile, PV kWp, start SoC %, speed)
        "sunny": ("30.50", "6", "97", "60"),      # a summer noon, big roof, full battery
        "modest": ("100.45", "3", "96", "60"),    # an autumn late morning, a smaller roof
        "sunset": ("30.72", "4", "96", "240"),    # late afternoon, time running fast
    }
    nodes = {}
    for i, (name, (day, kwp, soc, speed)) in enumerate(homes.items()):
        mb = free_port()
        spawn(f"panel-{name}", [f"{BIN}/weft-panelsim", "--profile", profile, "--port", str(mb),
                                "--day", day, "--pv-kwp", kwp, "--soc", soc, "--speed", speed])
        tok = run([f"{BIN}/weftctl", "--state-dir", os.path.join(work, "sched"), "nodes", "enroll", name])
        cfg = {"scheduler": {"urls": [f"https://127.0.0.1:{port}"], "token": tok, "ca_file": ca,
                             "poll_wait_s": 5},
               "models": [{"path": gguf}],
               "energy": {"modbus": f"tcp://127.0.0.1:{mb}", "poll_ms": 500, "compute_register": 40500},
               "policy": {"max_compute_w": 300 - 60 * i, "min_run_w": 60, "enable_delay_s": 2,
                          "disable_delay_s": 3, "stale_timeout_s": 5, "max_battery_discharge_w": 0,
                          "priority_soc": 90},
               "compute": {"busy_w": 150, "idle_w": 15, "threads": 1, "max_tokens_per_s": 25},
               "state_dir": f"node-{name}", "status": {"listen": "127.0.0.1", "port": 0},
               "log_level": "notice"}
        with open(os.path.join(work, f"{name}.json"), "w") as f:
            json.dump(cfg, f)
        time.sleep(0.2)
        p = spawn(f"node-{name}", [f"{BIN}/weftd", "--config", f"{name}.json"])
        nodes[name] = {"proc": p, "status": wait_line(f"node-{name}", "weftd: status on port"), "alive": True}

    print("waiting for the nodes' enable delay ...")
    for _ in range(100):
        if any((status(n["status"]) or {}).get("policy", {}).get("state") == "on" for n in nodes.values()):
            break
        time.sleep(0.1)

    record = {}
    clients = [threading.Thread(target=stream_traffic, args=(api, i, record), daemon=True) for i in range(2)]
    clients.append(threading.Thread(target=job_traffic, args=(api,), daemon=True))
    for t in clients:
        t.start()

    t0 = time.time()
    killed = None
    while time.time() - t0 < DURATION:
        time.sleep(3)
        view(nodes, time.time() - t0)
        if killed is None and time.time() - t0 > KILL_AT:
            for name, n in nodes.items():
                d = status(n["status"])
                if d and d["job"] and d["job"]["id"].startswith("cmpl-") and d["job"]["tokens"] > 5:
                    n["proc"].send_signal(signal.SIGKILL)
                    n["alive"] = False
                    killed = (name, d["job"]["id"], d["job"]["tokens"] + d["job"]["resumed_from"])
                    say(f"kill -9 node {name} while it streams {killed[1]} (at token {killed[2]})")
                    break
    stop.set()
    print("\nstopping the traffic ...")
    for t in clients:
        t.join(timeout=10)

    # The interrupted request against an undisturbed run with the same seed.
    verdict = "no request was interrupted (no node was streaming when it was time to kill one)"
    if killed:
        done = record.get("done", {})
        if killed[1] in done:
            body, text, n = done[killed[1]]
            _, ref, _ = api.stream(body)
            same = ref == text
            verdict = (f"request {killed[1]} finished after its node died: {n} tokens, "
                       f"{'identical to' if same else 'DIFFERENT from'} an undisturbed run with the same seed")
            if not same:
                print(f"  interrupted: {text!r}\n  undisturbed: {ref!r}")
        else:
            verdict = f"request {killed[1]} did not finish (see {work})"

    wh = surplus = tokens = 0.0
    for name, n in nodes.items():
        d = status(n["status"]) if n["alive"] else None
        if d:
            tot = d["ledger"]["total"]
        else:
            try:
                with open(os.path.join(work, f"node-{name}", "ledger.json")) as f:
                    days = json.load(f)["days"]
                tot = {k: sum(x[k] for x in days) for k in ("wh", "surplus_wh", "tokens")}
            except (OSError, ValueError):
                tot = {"wh": 0, "surplus_wh": 0, "tokens": 0}
        wh += tot["wh"]
        surplus += tot["surplus_wh"]
        tokens += tot["tokens"]
    print("\n=== summary ===================================================================")
    print(f" streamed requests:   {stats['requests']} sent, {stats['ok']} complete, {stats['failed']} failed")
    print(f" deferrable jobs:     {stats['jobs']} accepted")
    print(f" tokens delivered:    {metric(api, 'weft_tokens_total'):.0f} (scheduler)")
    failovers = metric(api, "weft_failovers_total")
    yields = metric(api, 'weft_failovers_total{cause="yield"}')
    print(f" failovers:           {failovers:.0f} (of which yields: {yields:.0f})")
    print(f" compute energy:      {wh:.3f} Wh, {100 * surplus / wh if wh else 100:.0f}% from surplus")
    print(f" kill -9 check:       {verdict}")
    print("===============================================================================")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
        left = [n for n, p in procs if p.poll() is None]
        print("all demo processes stopped" if not left else f"still running: {left}")
