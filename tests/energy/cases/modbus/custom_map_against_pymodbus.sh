#!/bin/bash
# A custom register map against pymodbus on unit 3: input registers, a low-word-
# first int32 with a 0.1 scale and sign -1, a float32, SoC in tenths; a map
# with a mistake is refused before any I/O.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
port=$(free_port)
# A meter and battery we did not write (pymodbus), on unit 3, with the
# awkward parts vendors really use: input registers, a 32-bit value with
# the low word first and a 0.1 scale, export counted positive (sign -1),
# a float32, and a SoC in tenths.
printf '%s\n' '{"grid": {"type": "int32", "unit": 3, "function": "input", "address": 100,' \
    ' "word_order": "low_first", "scale": 0.1, "sign": -1},' \
    ' "pv": {"type": "float32", "unit": 3, "function": "input", "address": 110},' \
    ' "battery": {"type": "int16", "unit": 3, "function": "holding", "address": 7, "sign": -1},' \
    ' "soc": {"type": "uint16", "unit": 3, "function": "holding", "address": 8, "scale": 0.1}}' \
    >"$WORK/map.json"
/usr/bin/python3 - "$port" "$BIN/weft-energy" "$WORK" <<'PY' || fail "pymodbus custom map"
import json, struct, subprocess, sys, threading, time, logging
logging.disable(logging.CRITICAL)
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
port, exe, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ir, hr = [0] * 200, [0] * 20
g = (-12345) & 0xFFFFFFFF            # -1234.5 W of export as the device counts it: import
ir[100], ir[101] = g & 0xFFFF, g >> 16  # low word first
hi, lo = struct.unpack(">HH", struct.pack(">f", 2750.25))
ir[110], ir[111] = hi, lo
hr[7] = (-600) & 0xFFFF              # the device says -600: charging at 600 W (sign -1)
hr[8] = 734                          # 73.4 %
store = ModbusSlaveContext(ir=ModbusSequentialDataBlock(0, ir), hr=ModbusSequentialDataBlock(0, hr),
                           zero_mode=True)
ctx = ModbusServerContext(slaves={3: store}, single=False)
threading.Thread(target=lambda: StartTcpServer(context=ctx, address=("127.0.0.1", port)),
                 daemon=True).start()
for _ in range(50):
    p = subprocess.run([exe, "read", "--modbus", f"tcp://127.0.0.1:{port}", "--layout",
                        work + "/map.json"], capture_output=True, text=True)
    if p.returncode == 0:
        break
    time.sleep(0.1)
assert p.returncode == 0, p.stderr
d = json.loads(p.stdout)
print(d)
assert abs(d["grid_w"] - 1234.5) < 1e-6, d
assert abs(d["pv_w"] - 2750.25) < 1e-3, d
assert d["battery_w"] == 600, d
assert abs(d["soc_pct"] - 73.4) < 1e-9, d
assert d["load_w"] is None, d   # not mapped: the reader does not invent it
PY
# A map with a mistake is refused before any I/O, naming the field.
printf '{"grid": {"type": "int24", "address": 1}}' >"$WORK/bad.json"
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:1" --layout "$WORK/bad.json" 2>"$WORK/e" &&
    fail "bad map accepted"
grep -q "grid: type must be" "$WORK/e" || fail "message: $(cat "$WORK/e")"
weft_finish
