#!/bin/bash
# weftd over MQTT, against Debian's mosquitto broker with mosquitto_sub
# and mosquitto_pub: Home Assistant discovery configs (retained; compute
# energy a total_increasing kWh meter), "online" availability, the state
# (retained) with the tokens served; a pause and a cap set on .../set reach
# the policy and the state; evcc's loadpoint topics make compute yield to
# a car charging on PV until it reaches its limit; a clean stop leaves
# "offline".
. "$(dirname "$0")/../../lib/weft.sh" "$@"
command -v mosquitto > /dev/null || [ -x /usr/sbin/mosquitto ] || skip "no mosquitto broker"
command -v mosquitto_sub > /dev/null || skip "no mosquitto-clients"
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
mp=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mp" > "$WORK/mosq.conf"
"$MOSQ" -c "$WORK/mosq.conf" > "$WORK/mosq.log" 2>&1 &
PIDS+=("$!")
wait_for "the broker" 10 mosquitto_pub -h 127.0.0.1 -p "$mp" -t weft-test/ping -m x
sub() { # sub TOPIC COUNT: COUNT messages (retained first), each "topic payload"
    mosquitto_sub -h 127.0.0.1 -p "$mp" -t "$1" -v -C "$2" -W 5
}
pub() { mosquitto_pub -h 127.0.0.1 -p "$mp" -r -t "$1" -m "$2" || fail "mosquitto_pub $1"; }
state() { # state EXPR: over the retained state JSON (d)
    mosquitto_sub -h 127.0.0.1 -p "$mp" -t weft/roof-a/state -C 1 -W 5 | json "$1"
}
state_is() { [ "$(state "$1" 2>/dev/null)" = "$2" ]; }

node_setup
start_sched
KEY=$(new_key t)
start_home a
start_weftd a '{"mqtt":{"url":"mqtt://127.0.0.1:'"$mp"'","node_id":"roof-a","publish_s":1,"evcc":true}}'
wait_status a 'd["mqtt"]["connected"]' True
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live

# Discovery: seven entities, retained.
sub 'homeassistant/#' 7 > "$WORK/disc.txt" || fail "no discovery configs: $(cat "$WORK/disc.txt")"
/usr/bin/python3 - "$WORK/disc.txt" <<'PY' || fail "the discovery configs"
import json, sys
cfg = {}
for line in open(sys.argv[1]):
    topic, payload = line.rstrip("\n").split(" ", 1)
    cfg[topic] = json.loads(payload)
want = {"sensor/weft_roof-a/compute_power", "sensor/weft_roof-a/compute_energy",
        "sensor/weft_roof-a/tokens", "sensor/weft_roof-a/budget", "sensor/weft_roof-a/policy",
        "switch/weft_roof-a/paused", "number/weft_roof-a/max_w"}
assert {t[len("homeassistant/"):-len("/config")] for t in cfg} == want, sorted(cfg)
e = cfg["homeassistant/sensor/weft_roof-a/compute_energy/config"]
assert (e["device_class"], e["state_class"], e["unit_of_measurement"]) == \
    ("energy", "total_increasing", "kWh"), e
assert e["state_topic"] == "weft/roof-a/state" and e["availability_topic"] == "weft/roof-a/availability"
assert e["device"]["identifiers"] == ["weft_roof-a"], e
sw = cfg["homeassistant/switch/weft_roof-a/paused/config"]
assert sw["command_topic"] == "weft/roof-a/paused/set", sw
assert cfg["homeassistant/number/weft_roof-a/max_w/config"]["max"] == 300
PY
[ "$(sub weft/roof-a/availability 1)" = "weft/roof-a/availability online" ] || fail "not online"

# Work shows in the state's lifetime counters.
text=$(stream /v1/completions '{"model":"stories260K","prompt":"Once","max_tokens":12,"stream":true}' 2>/dev/null)
[ -n "$text" ] || fail "no completion"
wait_for "tokens in the MQTT state" 10 state_is 'd["tokens"] >= 12 and d["energy_kwh"] > 0' True

# Pause and resume, a cap, a bad cap.
pub weft/roof-a/paused/set ON
wait_status a 'd["override"]["paused"], d["policy"]["state"], d["policy"]["reason"]' \
    "(True, 'off', 'paused by the homeowner')"
wait_for "paused in the state" 5 state_is 'd["paused"], d["budget_w"] == 0' "(True, True)"
pub weft/roof-a/paused/set OFF
wait_status a 'd["override"]["paused"], d["policy"]["state"]' "(False, 'on')"
pub weft/roof-a/max_w/set 150
wait_status a 'd["override"]["max_w"], d["policy"]["budget_w"] <= 150' "(150, True)"
pub weft/roof-a/max_w/set lots
sleep 0.5
status_is a 'd["override"]["max_w"]' 150 || fail "a bad cap changed the cap"
grep -q 'max_w/set: "lots" is not a number' "$WORK/node-a.err" || fail "the bad cap was not logged"
pub weft/roof-a/max_w/set none
wait_status a 'd["override"]["max_w"]' None

# evcc: a car plugged in, charging on PV, below its limit: compute yields.
pub evcc/loadpoints/1/mode pv
pub evcc/loadpoints/1/vehicleSoc 40
pub evcc/loadpoints/1/limitSoc 80
pub evcc/loadpoints/1/connected true
wait_status a 'd["override"]["evcc_yield"], d["policy"]["state"], d["policy"]["reason"]' \
    "(True, 'off', 'evcc: loadpoint 1 charges a car on PV (mode pv)')"
pub evcc/loadpoints/1/vehicleSoc 80
wait_status a 'd["override"]["evcc_yield"], d["policy"]["state"]' "(False, 'on')"
pub evcc/loadpoints/1/vehicleSoc 50
wait_status a 'd["override"]["evcc_yield"]' True
pub evcc/loadpoints/1/mode now
wait_status a 'd["override"]["evcc_yield"]' False

# A clean stop says offline.
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "weftd did not stop cleanly"
[ "$(sub weft/roof-a/availability 1)" = "weft/roof-a/availability offline" ] || fail "not offline"
weft_finish
