#!/bin/bash
# The first scheduler URL answers nothing: the node moves on to the next one.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
# The first URL answers nothing: the node moves on to the next one.
start_sched
KEY=$(new_key t)
dead=$(free_port)
start_home a
start_weftd a '{"scheduler":{"urls":["https://127.0.0.1:'"$dead"'","'"$URL"'"]}}'
wait_status a 'd["scheduler"]["state"]' live 10
wait_status a 'd["scheduler"]["url"]' "$URL"
grep -q "127.0.0.1:$dead: .*onnect" "$WORK/node-a.err" || fail "no failed attempt logged"
weft_finish
