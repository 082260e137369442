#!/bin/bash
# The same node against a Victron GX register layout instead of SunSpec.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
# The same node against a Victron GX layout instead of SunSpec.
start_sched
KEY=$(new_key t)
start_home a --layout victron
start_weftd a '{"energy":{"layout":"victron"}}'
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["energy"]["pv_w"]["value"] > 1000' True
out=$(api POST /v1/completions '{"model":"stories260K","prompt":"Once upon a time","max_tokens":8}')
printf '%s' "$out" | grep -q '"completion_tokens":8' || fail "completion: $out"
weft_finish
