#!/bin/bash
# README.md's "Three first hours", run as written: each block marked
# <!-- readme-path: NAME --> is taken from the README itself and run by
# bash -e from a checkout whose build/ is this build, with HOME in a
# scratch directory and MODEL the test's stories260K. The blocks run in
# a network namespace of their own (the README's fixed ports cannot meet
# anything else on this machine) and a PID namespace, so every server a
# block starts ends with the test. Then: the operator block made a region,
# a token and a key; the homeowner block's node went live with the policy
# on; the developer block's curl lines got the model list and a chat
# completion; the openai client streamed text (where tests/sched/js has
# the openai package).
# Usage: readme_paths.sh SOURCE_ROOT BUILD_DIR WORK_DIR TESTDATA_DIR
set -u
src=${1:?}; build=${2:?}; work=${3:?}; data=${4:?}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; for f in "$work"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done; exit 1; }
[ -f "$data/models/stories260K.bin" ] || skip "$data/models/stories260K.bin not found (../shared/testdata)"
ns="unshare -n -m -p -f --mount-proc"
[ "$(id -u)" -eq 0 ] || ns="unshare -r -n -m -p -f --mount-proc"
$ns true 2>/dev/null || skip "cannot make network and PID namespaces here"
command -v ip >/dev/null || skip "no ip (iproute2)"

rm -rf "$work" && mkdir -p "$work/home" "$work/co" || exit 1
ln -s "$build" "$work/co/build"
"$build/bin/weft-convert" llama2c "$data/models/stories260K.bin" "$data/models/tok512.bin" \
    "$work/stories260K.gguf" > /dev/null 2>&1 || fail "convert stories260K"

# The blocks, as the README has them.
/usr/bin/python3 - "$src/README.md" "$work" <<'PY' || fail "the README's blocks"
import re, sys
text = open(sys.argv[1]).read()
for name in ("operator", "homeowner", "developer", "developer-openai"):
    m = re.search(r"<!-- readme-path: %s -->\n```sh\n(.*?)\n```" % re.escape(name), text, re.S)
    if not m:
        sys.exit("README.md has no block <!-- readme-path: %s --> followed by ```sh" % name)
    open("%s/%s.sh" % (sys.argv[2], name), "w").write(m.group(1) + "\n")
PY

js="$src/tests/sched/js"
cat > "$work/run.sh" <<RUN
# PID 1 of the namespaces: each block in a bash of its own, as a terminal
# of its own would run it; the developer's two blocks in one.
ip link set lo up || exit 3
cd "$work/co" || exit 3
export HOME="$work/home" MODEL="$work/stories260K.gguf"
timeout 60 bash -e "$work/operator.sh" > "$work/operator.out" 2>&1 || { echo "operator block: \$?"; exit 1; }
timeout 240 bash -e "$work/homeowner.sh" > "$work/homeowner.out" 2>&1 || { echo "homeowner block: \$?"; exit 1; }
if [ -d "$js/node_modules/openai" ]; then
    timeout 120 bash -e -c '. "$work/developer.sh" > "$work/developer.out" 2>&1 &&
        cd "$js" && . "$work/developer-openai.sh" > "$work/developer-openai.out" 2>&1' ||
        { echo "developer blocks: \$?"; exit 1; }
else
    echo "no openai package in $js: its block is not run"
    timeout 120 bash -e "$work/developer.sh" > "$work/developer.out" 2>&1 || { echo "developer block: \$?"; exit 1; }
fi
RUN
$ns bash "$work/run.sh" || fail "a block failed"

# What each block should have left.
grep -q "developer key:" "$work/operator.out" || fail "region init printed no keys"
grep -q '^wn-' "$work/home/weft-region/my-roof.token" || fail "no enrollment token"
[ -s "$work/home/weft-region/my-app.key" ] || fail "no application key"
grep -q '^policy: on' "$work/homeowner.out" || fail "the home's policy never went on"
grep -qE '^scheduler: https://127.0.0.1:8443 \(live\)' "$work/homeowner.out" ||
    fail "the node is not live with the scheduler"
/usr/bin/python3 - "$work/developer.out" <<'PY' || fail "the developer's curl lines"
import json, sys
dec = json.JSONDecoder()
text = open(sys.argv[1]).read().strip()
models, end = dec.raw_decode(text)
chat, _ = dec.raw_decode(text[end:].strip())
ids = [m["id"] for m in models["data"]]
assert "stories260K" in ids, ids
content = chat["choices"][0]["message"]["content"]
assert chat["object"] == "chat.completion" and content.strip(), chat
print("chat:", content[:60].replace("\n", " "))
PY
if [ -f "$work/developer-openai.out" ]; then
    [ -n "$(tr -d '[:space:]' < "$work/developer-openai.out")" ] || fail "the openai client streamed nothing"
fi
echo "the README's three paths ran as written"
