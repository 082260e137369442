#!/usr/bin/python3
"""JSON and SSE for the black-box tests, in one place (tests/lib/weft.sh
calls it; nothing else should need an inline python3).

  weftjson.py get EXPR        a Python expression over the JSON on stdin (d)
  weftjson.py sse [--repr]    the text of an OpenAI stream on stdin (chat
                              deltas or completion text); the count of
                              content events on stderr; fails on an error
                              event, an event after [DONE], or no [DONE]
  weftjson.py node-config OUT URL TOKEN CA WORK MODBUS_PORT NAME EXTRA_JSON
                              a weftd.json for a test home, EXTRA merged in
  weftjson.py free-port       a free TCP port on 127.0.0.1
"""
import json
import socket
import sys


def get(expr):
    d = json.loads(sys.stdin.read())
    print(eval(expr, {"d": d, "json": json}))


def sse(as_repr):
    out, done, n = [], False, 0
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            done = True
            continue
        if done:
            sys.exit("event after [DONE]")
        ev = json.loads(data)
        if "error" in ev:
            sys.exit("stream error: " + ev["error"]["message"])
        for c in ev["choices"]:
            piece = c.get("delta", {}).get("content") if "delta" in c else c.get("text")
            if piece:
                out.append(piece)
                n += 1
    if not done:
        sys.exit("no [DONE]")
    text = "".join(out)
    print(repr(text) if as_repr else text)
    print(n, file=sys.stderr)


def node_config(path, url, tok, ca, work, mb, name, extra):
    c = {"scheduler": {"urls": [url], "token": tok, "ca_file": ca, "poll_wait_s": 5},
         "models": [{"path": work + "/stories260K.gguf"}],
         "energy": {"modbus": "tcp://127.0.0.1:" + mb, "poll_ms": 200, "timeout_ms": 300,
                    "compute_register": 40500},
         "policy": {"max_compute_w": 300, "min_run_w": 50, "enable_delay_s": 1,
                    "disable_delay_s": 1, "stale_timeout_s": 2, "max_battery_discharge_w": 0},
         "compute": {"busy_w": 120, "idle_w": 10, "threads": 1, "max_tokens_per_s": 40},
         "state_dir": work + "/state-" + name, "status": {"listen": "127.0.0.1", "port": 0},
         "log_level": "info"}

    def merge(a, b):
        for k, v in b.items():
            if isinstance(v, dict) and isinstance(a.get(k), dict):
                merge(a[k], v)
            else:
                a[k] = v

    merge(c, json.loads(extra))
    with open(path, "w") as f:
        json.dump(c, f, indent=1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "get":
        get(args[0])
    elif cmd == "sse":
        sse("--repr" in args)
    elif cmd == "node-config":
        node_config(*args)
    elif cmd == "free-port":
        free_port()
    else:
        sys.exit("weftjson.py: unknown command " + cmd)
