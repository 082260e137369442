#!/bin/bash
# energy.forecast.provider forecast-solar: weftd fetches the array's day-ahead
# PV over HTTPS (a local stub serving forecast.solar's response shape, with
# its own certificate), shows it and the plan on the status page, keeps the
# response in state_dir, and after a restart against a failing service plans
# on the kept one and says why the fetch failed.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/stub.key" \
    -out "$WORK/stub.pem" 2> /dev/null || fail "openssl req"
cat > "$WORK/stub.py" <<'PY'
import http.server, ssl, sys
work, port_file = sys.argv[1], sys.argv[2]
body = (b'{"result": {"watt_hours_period": {"2024-04-26T06:20:00+10:00": 0,'
        b' "2024-04-26T07:00:00+10:00": 100, "2024-04-26T08:00:00+10:00": 400,'
        b' "2024-04-26T09:00:00+10:00": 800}}, "message": {"code": 0, "type": "success"}}')
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(work + "/stub.paths", "a") as f:
            f.write(self.path + "\n")
        failing = open(work + "/stub.mode").read().strip() == "fail"
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        out = b'{"message": {"code": 500}}' if failing else body
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(work + "/stub.pem", work + "/stub.key")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
echo ok > "$WORK/stub.mode"
/usr/bin/python3 "$WORK/stub.py" "$WORK" "$WORK/stub.port" 2>> "$WORK/stub.err" &
PIDS+=($!)
wait_for "the stub's port" 10 test -s "$WORK/stub.port"
STUB="https://127.0.0.1:$(cat "$WORK/stub.port")"
start_sched
start_home a
cfg='{"policy": {"battery_capacity_wh": 10000, "battery_max_w": 5000},
      "energy": {"forecast": {"provider": "forecast-solar", "latitude": -33.87,
                 "longitude": 151.21, "tilt": 20, "azimuth": 0, "kwp": 6,
                 "url": "'$STUB'", "ca_file": "'$WORK/stub.pem'", "refresh_s": 300}}}'
start_weftd a "$cfg"
wait_status a 'd["forecast"]["dayahead"]["have"]' True
[ "$(status a 'd["forecast"]["dayahead"]["source"]')" = service ] ||
    fail "source: $(status a 'd["forecast"]')"
[ "$(status a 'd["forecast"]["dayahead"]["from"]')" = 2024-04-26T06:15 ] ||
    fail "from: $(status a 'd["forecast"]')"
[ "$(status a 'd["forecast"]["provider"]')" = forecast-solar ] || fail "provider"
# The site makes a clear-sky layer too; no history yet, so no ratio.
[ "$(status a 'd["forecast"]["clear_sky_ratio"]')" = 0 ] || fail "clear sky: $(status a 'd["forecast"]')"
grep -qx "/estimate/-33.8700/151.2100/20/0/6.000" "$WORK/stub.paths" ||
    fail "the request: $(cat "$WORK/stub.paths")"
# The plan runs, and says it has no history of this home yet.
[ "$(status a 'd["plan"]["valid"]')" = False ] || fail "plan: $(status a 'd["plan"]')"
status a 'd["plan"]["why"]' | grep -q "day of this home's history" ||
    fail "why: $(status a 'd["plan"]')"
/usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d['result']['watt_hours_period']) == 4, d" "$WORK/state-a/dayahead.json" ||
    fail "the response was not kept: $(cat "$WORK/state-a/dayahead.json" 2>&1)"
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "weftd exit status $?"
# The history it learnt is kept for the next start.
[ "$(stat -c %s "$WORK/state-a/forecast.bin" 2>/dev/null)" = 12224 ] ||
    fail "forecast.bin: $(ls -l "$WORK/state-a" 2>&1)"
# Restart against a service that fails: the kept forecast, and why.
echo fail > "$WORK/stub.mode"
"$BIN/weftd" --config "$WORK/a.json" > "$WORK/node-a.out" 2>> "$WORK/node-a.err" &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_for "weftd a's status port" 10 grep -q "status on port" "$WORK/node-a.out"
STATUS_PORT[a]=$(sed -n 's/.*status on port \([0-9]*\)/\1/p' "$WORK/node-a.out")
wait_status a 'd["forecast"]["dayahead"]["error"]' "HTTP 500"
[ "$(status a 'd["forecast"]["dayahead"]["have"]')" = True ] || fail "$(status a 'd["forecast"]')"
[ "$(status a 'd["forecast"]["dayahead"]["source"]')" = cache ] ||
    fail "source: $(status a 'd["forecast"]')"
grep -q "days of this home's history from .*forecast.bin" "$WORK/node-a.err" ||
    fail "the history was not read back: $(grep forecast "$WORK/node-a.err")"
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "weftd exit status $?"
weft_finish
