#!/usr/bin/python3
"""The layers of Weft, checked: which part may include which.

    common  <- energy, infer, net, proto
    proto   <- sched, node
    net     <- sched, node
    energy, infer <- node
    everything <- tools (and tests, bench)

Every public header in include/weft/ belongs to one part (HEADERS below; a
new header must be added there, or this test fails and says so). A file of
a part may include the public headers of the parts below it and of its own,
and only the third-party headers its part is built with (THIRD_PARTY).

Inside a folder, each file's private headers ("core.h", "internal.h")
make a graph of modules (a .c and its .h are one module); a circle in it
fails, as does a circle among the public headers. Where a folder's modules
have an order (ORDER: src/sched's core.c never calls up into the client
side or the routes) or must stay apart (APART: src/node's energy, ledger,
link and runner meet only in daemon.c), a include against it fails.
Usage: layers.py ROOT | --self-test
"""
import os
import re
import sys

HEADERS = {
    "common": "asset buf cli config error file list log sdnotify time utf8 version",
    "energy": "energy energy_config energy_sim forecast dayahead clearsky regmap sunspec plot",
    "infer": "convert gguf gpu infer quant vocab",
    "net": "daemon http http_client tls",
    "proto": "chat form nodemsg openai schema",
    "sched": "sched store",
    "node": "node",
}
BELOW = {
    "common": [],
    "energy": ["common"],
    "infer": ["common"],
    "net": ["common"],
    "proto": ["common"],
    "sched": ["common", "net", "proto"],
    "node": ["common", "net", "proto", "energy", "infer"],
    "tools": list(HEADERS),
}
# Third-party headers by the prefix of their include path, and the parts
# whose libraries link them (SYSTEM.md: the engine builds on a bare GPU box).
THIRD_PARTY = {
    "uv.h": ["net", "sched", "node"],
    "curl/": ["net", "tools"],
    "cjson/": ["common", "proto", "sched", "node", "energy", "tools"],
    "modbus": ["energy", "tools"],
    "openssl/": ["net", "sched"],
    "sqlite3.h": ["sched"],
    "libpq-fe.h": ["sched"],
    "glpk.h": ["energy"],
    "libnova/": ["energy"],
    "mosquitto.h": ["node"],
    "http_parser.h": ["net"],
    "gmime/": ["proto"],
    "cuda": ["infer"],
    "cublas": ["infer"],
}

# Inside a folder: modules (a .c and its .h) in their order, bottom first; a
# module may include the private headers of those below it only. Headers of
# types alone (internal.h, routes.h) may be included from anywhere.
ORDER = {
    "src/sched": ["store_backend", "store_sqlite", "store_pg", "store", "reply", "auth", "core",
                  "verify", "client", "lease", "api", "api_openai", "api_jobs", "api_batch", "api_node", "api_ops", "api_ui",
                  "dispatch", "metrics", "sched"],
}
# Inside a folder: modules none of which may include another's header;
# their owner is the only glue between them.
APART = {
    "src/node": ["energy", "dayahead", "ledger", "link", "runner", "mqtt"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def part_of(path):
    """The part a source file belongs to, or None (not checked)."""
    parts = path.split(os.sep)
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[0] == "include":
        name = os.path.splitext(parts[-1])[0]
        return HEADER_PART.get(name, "?")
    return None


HEADER_PART = {h: p for p, names in HEADERS.items() for h in names.split()}


def sources(root):
    for top in ("src", "include"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h", ".cu", ".cuh")):
                    full = os.path.join(d, f)
                    yield os.path.relpath(full, root), open(full, encoding="utf-8").read()


def find_cycle(graph):
    """A circle in graph {node: set(nodes)} as a list, or None."""
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m, stack)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n, [])
            if c:
                return c
    return None


def main(root):
    errors = []
    for name in sorted(os.listdir(os.path.join(root, "include", "weft"))):
        if name.endswith(".h") and name[:-2] not in HEADER_PART:
            errors.append(f"include/weft/{name}: not in any part; add it to HEADERS in {__file__}")
    public = {}
    private = {}  # folder -> {module: set(modules)}
    for path, text in sources(root):
        part = part_of(path)
        if part is None or part == "?":
            continue
        allowed = set(BELOW[part]) | {part}
        for kind, inc in INCLUDE.findall(text):
            if kind == '"' and inc.startswith("weft/"):
                target = HEADER_PART.get(os.path.splitext(inc[5:])[0], "?")
                if target not in allowed:
                    errors.append(f"{path}: {part} may not include {inc} ({target})")
                if path.startswith("include"):
                    public.setdefault(path[len("include/"):], set()).add(inc)
            elif kind == '"':
                folder = os.path.dirname(path)
                here = os.path.splitext(os.path.basename(path))[0]
                there = os.path.splitext(os.path.basename(inc))[0]
                if os.path.dirname(inc) == "" and here != there:
                    private.setdefault(folder, {}).setdefault(here, set()).add(there)
                    order = ORDER.get(folder, [])
                    if here in order and there in order and order.index(there) > order.index(here):
                        errors.append(f"{path}: {here} may not include {inc}: {there} is above it "
                                      f"({' < '.join(order)})")
                    apart = APART.get(folder, [])
                    if here in apart and there in apart:
                        errors.append(f"{path}: {here} may not include {inc}: "
                                      f"{', '.join(apart)} meet only in their owner")
            else:
                for prefix, parts in THIRD_PARTY.items():
                    if inc.startswith(prefix) and part not in parts:
                        errors.append(f"{path}: {part} may not include <{inc}> "
                                      f"(its library is for {', '.join(parts)})")
    c = find_cycle(public)
    if c:
        errors.append("public headers include each other in a circle: " + " -> ".join(c))
    for folder, graph in sorted(private.items()):
        c = find_cycle(graph)
        if c:
            errors.append(f"{folder}: private headers in a circle: " + " -> ".join(c))
    for e in errors:
        print(e)
    if errors:
        return 1
    print(f"layers hold: {sum(1 for _ in sources(root))} files, no include circle")
    return 0


def self_test():
    """The checks must catch what they are for: a tree with one of each
    fault fails with each named."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        files = {
            "include/weft/error.h": "",
            "include/weft/http.h": '#include "weft/error.h"\n',
            "include/weft/energy.h": '#include "weft/http.h"\n',  # energy -> net
            "src/energy/policy.c": '#include "weft/http.h"\n#include <uv.h>\n',
            "src/proto/a.c": '#include "b.h"\n',
            "src/proto/a.h": "",
            "src/proto/b.c": '#include "a.h"\n',
            "src/proto/b.h": "",
            "src/common/log.c": '#include "weft/stranger.h"\n',
            "src/sched/core.c": '#include "client.h"\n',  # core calls up
            "src/sched/client.h": "",
            "src/node/energy.c": '#include "ledger.h"\n',  # a module calls another
            "src/node/ledger.h": "",
            "include/weft/stranger.h": "",
        }
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            open(os.path.join(root, path), "w").write(text)
        import io
        import contextlib
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main(root)
        text = out.getvalue()
        want = ["src/energy/policy.c: energy may not include weft/http.h (net)",
                "include/weft/energy.h: energy may not include weft/http.h (net)",
                "src/energy/policy.c: energy may not include <uv.h>",
                "src/proto: private headers in a circle: a -> b -> a",
                "include/weft/stranger.h: not in any part",
                "src/sched/core.c: core may not include client.h: client is above it",
                "src/node/energy.c: energy may not include ledger.h"]
        missing = [w for w in want if w not in text]
        if rc == 0 or missing:
            print("the layer check missed:", missing, "\n" + text)
            return 1
    print("the layer check catches each fault")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
