#!/bin/bash
# Modbus RTU over a pseudo-terminal pair (socat) with pymodbus as the serial
# device.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
# Modbus RTU over a pseudo-terminal pair (socat), pymodbus as the
# serial device.
command -v socat >/dev/null 2>&1 || skip "socat not installed"
socat pty,raw,echo=0,link="$WORK/ttyA" pty,raw,echo=0,link="$WORK/ttyB" 2>/dev/null &
sp=$!
PIDS+=("$sp")
wait_for "the pty pair" 5 test -e "$WORK/ttyB"
printf '%s\n' '{"grid": {"type": "int16", "unit": 5, "address": 0},' \
    ' "soc": {"type": "uint16", "unit": 5, "address": 1}}' >"$WORK/map.json"
/usr/bin/python3 - "$WORK" "$BIN/weft-energy" <<'PY' || { kill "$sp"; fail "pymodbus RTU"; }
import json, subprocess, sys, threading, time, logging
logging.disable(logging.CRITICAL)
from pymodbus.server import StartSerialServer
from pymodbus.transaction import ModbusRtuFramer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
work, exe = sys.argv[1], sys.argv[2]
store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, [(-250) & 0xFFFF, 88] + [0] * 8),
                           zero_mode=True)
ctx = ModbusServerContext(slaves={5: store}, single=False)
threading.Thread(target=lambda: StartSerialServer(context=ctx, framer=ModbusRtuFramer,
                 port=work + "/ttyB", baudrate=19200), daemon=True).start()
for _ in range(30):
    p = subprocess.run([exe, "read", "--modbus", f"rtu://{work}/ttyA?baud=19200&parity=N",
                        "--layout", work + "/map.json", "--timeout-ms", "500"],
                       capture_output=True, text=True)
    if p.returncode == 0:
        break
    time.sleep(0.2)
assert p.returncode == 0, p.stderr
d = json.loads(p.stdout)
print(d)
assert d["grid_w"] == -250 and d["soc_pct"] == 88, d
PY
kill "$sp"
weft_finish
