#!/bin/sh
# The systemd units pass `systemd-analyze verify` (with the binaries of
# this build in place of /usr/local/bin). Skips where systemd-analyze is
# missing. The man: links need the pages installed, which only the package
# test has (tests/packaging/debian_packages.sh verifies them there).
# Usage: systemd.sh SOURCE_ROOT BIN_DIR WORK_DIR
root=${1:?}; bin=${2:?}; work=${3:?}
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
rm -rf "$work" && mkdir -p "$work" || exit 1
for u in weftd.service weft-scheduler.service; do
    sed "s|/usr/local/bin/|$bin/|g" "$root/systemd/$u" > "$work/$u" || exit 1
done
out=$(cd "$work" && systemd-analyze verify --man=no weftd.service weft-scheduler.service 2>&1)
if [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "units verify cleanly"
