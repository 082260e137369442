#!/bin/bash
# weft-energy read against a SunSpec map served by pymodbus (a server we did not
# write) at base 0: models 1, 103, 203 and 802 with their scale factors.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
port=$(free_port)
# A SunSpec map at base 0 (the second address discovery tries), served
# by pymodbus: model 1, inverter 103 with W_SF -1, meter 203, battery
# 802 with SoC_SF -1, then the end marker.
/usr/bin/python3 - "$port" "$BIN/weft-energy" "$WORK" <<'PY' || fail "pymodbus case"
import json, subprocess, sys, threading, time, logging
logging.disable(logging.CRITICAL)
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
port, exe, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = [0] * 400
def s16(x): return x & 0xFFFF
r[0:2] = [0x5375, 0x6E53]
a = 2
def model(mid, length, points):
    global a
    r[a], r[a + 1] = mid, length
    for off, val in points.items():
        r[a + 2 + off] = s16(val)
    a += length + 2
model(1, 66, {0: 0x5079, 1: 0x4D42})           # "PyMB"
model(103, 50, {12: 32100, 13: -1, 29: 4400, 30: 0})
model(203, 105, {16: -800, 20: 0})
model(802, 62, {9: 555, 54: -1, 45: 1200, 61: 0, 14: 4})
r[a], r[a + 1] = 0xFFFF, 0
store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, r), zero_mode=True)
ctx = ModbusServerContext(slaves=store, single=True)
threading.Thread(target=lambda: StartTcpServer(context=ctx, address=("127.0.0.1", port)),
                 daemon=True).start()
for _ in range(50):
    p = subprocess.run([exe, "read", "--modbus", f"tcp://127.0.0.1:{port}"], capture_output=True,
                       text=True)
    if p.returncode == 0:
        break
    time.sleep(0.1)
assert p.returncode == 0, p.stderr
d = json.loads(p.stdout)
print(d)
assert d["sunspec_base"] == 0, d
assert [m["id"] for m in d["models"]] == [1, 103, 203, 802], d
assert d["manufacturer"] == "PyMB", d
assert abs(d["inverter_ac_w"] - 3210.0) < 1e-9, d
assert d["inverter_dc_w"] == 4400, d
assert d["meter_w"] == -800, d
assert abs(d["soc_pct"] - 55.5) < 1e-9, d
assert d["battery_w"] == 1200 and d["charge_status"] == 4, d
PY
weft_finish
