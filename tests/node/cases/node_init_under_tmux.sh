#!/bin/bash
# weftctl node init in a real terminal (tmux): each question appears, is
# answered with send-keys, and the config it writes is one weftd accepts.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
command -v tmux > /dev/null || skip "no tmux (scripts/install-deps installs it)"
node_setup
start_sched
KEY=$(new_key t)
start_home a
TOKEN=$(enroll a)
sock="$WORK/tmux.sock"
tmux -S "$sock" new-session -d -x 220 -y 60 -s init \
    "'$BIN/weftctl' node init --out '$WORK/a.json' --ca '$CA'; echo EXIT=\$?; sleep 60"
PIDS+=("$(tmux -S "$sock" display-message -p '#{pid}')")
screen() { tmux -S "$sock" capture-pane -p -J -t init -S -200; }
shown() { screen | grep -qF "$1"; }
answer() { # answer PROMPT TEXT: waits for the question, types the answer and Enter
    wait_for "the question \"$1\"" 10 shown "$1"
    tmux -S "$sock" send-keys -t init -l "$2"
    tmux -S "$sock" send-keys -t init Enter
}
answer "scheduler URL (https://HOST:PORT):" "$URL"
answer "enrollment token" "$TOKEN"
answer "inverter or GX address" "tcp://127.0.0.1:${HOME_PORT[a]}"
answer "layout (sunspec or victron) [sunspec]:" ""
answer "does grid read negative? (y/n) [y]:" "y"
answer "battery reserve" "25"
answer "quiet hours" ""
answer "model file(s)" "$WORK/stories260K.gguf"
answer "state directory [/var/lib/weftd]:" "$WORK/state-a"
wait_for "node init to finish" 20 shown "EXIT="
shown "EXIT=0" || fail "node init failed: $(screen | tail -n 20)"
shown "found a SunSpec device: Weft panelsim" || fail "the device was not shown: $(screen)"
"$BIN/weftd" --check-config "$WORK/a.json" > /dev/null 2> "$WORK/check.err" ||
    fail "weftd refused the config: $(cat "$WORK/check.err")"
[ "$(json 'd["policy"]["reserve_soc"], len(d["models"])' < "$WORK/a.json")" = "(25, 1)" ] ||
    fail "the answers are not in the config: $(cat "$WORK/a.json")"
tmux -S "$sock" kill-server
weft_finish
