#!/bin/bash
# logprobs and top_logprobs from a real weftd's engine, through the
# scheduler, read by the openai npm client (tests/sched/js/logprobs.mjs).
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
[ -d "$js/node_modules/openai" ] || skip "the openai npm package is not installed"
node_setup
start_sched
KEY=$(new_key t)
start_home a
start_weftd a
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
NODE_EXTRA_CA_CERTS="$CA" WEFT_URL="$URL/v1" WEFT_KEY="$KEY" WEFT_MODEL=stories260K \
    timeout 120 node "$js/logprobs.mjs" || fail "the openai client's logprobs"
weft_finish
