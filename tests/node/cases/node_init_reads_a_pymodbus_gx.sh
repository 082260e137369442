#!/bin/bash
# weftctl node init against a Victron GX served by pymodbus (a server we
# did not write), unit 100, whose grid meter reads +2400 W while the house
# exports (a meter wired the other way round): node init shows what it
# read with the signs in words, the homeowner answers "no" to "does grid
# read negative while exporting?", and the config it writes has the
# Victron layout (whose registers name unit 100 themselves) and grid_sign
# -1, which weftd accepts.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
convert_stories
port=$(free_port)
/usr/bin/python3 - "$port" > "$WORK/gx.out" 2>&1 <<'PY' &
import logging, sys
logging.disable(logging.CRITICAL)
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
r = [0] * 900
r[808] = 3000          # PV on the AC output, L1 (W)
r[817] = 600           # consumption L1 (W)
r[820] = 2400          # grid L1 (W): positive, although the house exports
r[840] = 528           # battery voltage (0.1 V)
r[842] = 0             # battery W, + charge
r[843] = 80            # SoC %
store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, r), zero_mode=True)
ctx = ModbusServerContext(slaves={100: store}, single=False)
print("serving", flush=True)
StartTcpServer(context=ctx, address=("127.0.0.1", int(sys.argv[1])))
PY
PIDS+=("$!")
wait_for "the pymodbus GX" 10 grep -q serving "$WORK/gx.out"
printf 'n\n\n\n' | "$BIN/weftctl" node init --out "$WORK/gx.json" --scheduler https://127.0.0.1:8443 \
    --token wn-0123456789ab.0123456789abcdef0123456789abcdef --modbus "tcp://127.0.0.1:$port" \
    --layout victron --reserve-soc 40 --model "$WORK/stories260K.gguf" --state-dir "$WORK/state" \
    > /dev/null 2> "$WORK/init.err" || fail "node init: $(cat "$WORK/init.err")"
for want in "found a Victron GX" "PV now:       3000 W" "house load:   600 W" \
    "grid:         2400 W (positive: importing, as read)" "battery:      0 W (zero: idle now)" \
    "charge:       80 %"; do
    grep -qF "$want" "$WORK/init.err" || fail "node init did not show \"$want\": $(cat "$WORK/init.err")"
done
[ "$(json 'd["energy"]["layout"], d["energy"]["grid_sign"], d["policy"]["reserve_soc"]' \
    < "$WORK/gx.json")" = "('victron', -1, 40)" ] || fail "the config: $(cat "$WORK/gx.json")"
"$BIN/weftd" --check-config "$WORK/gx.json" > /dev/null 2> "$WORK/check.err" ||
    fail "weftd refused the config: $(cat "$WORK/check.err")"
weft_finish
