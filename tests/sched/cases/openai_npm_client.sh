#!/bin/bash
# The official openai npm client against the API (tests/sched/js).
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
if [ ! -d "$js/node_modules/openai" ]; then
    skip "the openai npm package is not installed (scripts/install-deps installs it)"
fi
start_sched
KEY=$(new_key dev)
start_testnode a --token-ms 1
wait_nodes 1
NODE_EXTRA_CA_CERTS="$CA" WEFT_URL="$URL/v1" WEFT_KEY="$KEY" \
    timeout 60 node "$js/client_test.mjs" || fail "openai client test"
NODE_EXTRA_CA_CERTS="$CA" WEFT_URL="$URL/v1" WEFT_KEY="$KEY" \
    timeout 60 node "$js/batch.mjs" || fail "openai client batch test"
weft_finish
