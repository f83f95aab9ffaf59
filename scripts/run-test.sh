#!/usr/bin/env bash
# `make run` after its terminal was closed: starts `make run` as a terminal would (a
# session and process group of its own), ends it the way a person does by accident,
# waits until its port stops answering, then starts `make run` again, which must come up
# and stay up. Twice: a closed terminal (SIGHUP to the process group), and the stack
# killed alone (SIGKILL of scripts/stack.py). Then make run's webhooks: it runs with
# WEBHOOK_RETRY_SCHEDULE=1,2,4 in its environment, which it passes on, so a receiver that
# always fails gets the first attempt and two retries within seconds. Its own folder,
# ports and data: a developer's `make run` is left alone. Prints "N passed, M failed".
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WORK="$(mktemp -d "$LOCAL/run-test.XXXXXX")"
export RUN_DIR="$WORK/run" DATA_DIR="$WORK/data" PORT MONGO_PORT INSTANCES=1
export WEBHOOK_RETRY_SCHEDULE=1,2,4 BCRYPT_COST=4
PORT="$(free_port)"
MONGO_PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
passed=0 failed=0
RUN_PGID=""

# Starts `make run` in a session of its own; sets RUN_PGID.
start_run() {
  setsid make run >>"$WORK/make-run.out" 2>&1 < /dev/null &
  RUN_PGID=$!
  disown "$RUN_PGID"
}

# Whether a process runs (a zombie, not yet reaped by the machine's init, does not).
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

answers() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/health")" = "200" ]; }

# Waits up to $1 seconds for the API to answer (or, with "down", to stop answering).
wait_for() {
  local limit=$1 want=${2:-up} i=0
  while [ $i -lt "$limit" ]; do
    if [ "$want" = up ] && answers; then return 0; fi
    if [ "$want" = down ] && ! answers; then return 0; fi
    sleep 1; i=$((i + 1))
  done
  return 1
}

check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAILED: $name"; tail -n 20 "$WORK/make-run.out"; fi
}

# The second run is up, and still up 10 s later (the old emulator or database server
# would make it exit after its "API on" line), and no process of the first is left.
comes_back() {
  local old=("$@")
  start_run
  wait_for 180 up || return 1
  sleep 10
  answers || return 1
  local pid
  for pid in "${old[@]}"; do
    if running "$pid"; then echo "process $pid of the first run is still there"; return 1; fi
  done
}

# The pids of everything the stack of the current run started.
children() { cut -d' ' -f1 "$RUN_DIR/children" 2>/dev/null; }

stop_run() {
  [ -n "$RUN_PGID" ] && kill -TERM -"$RUN_PGID" 2>/dev/null
  wait_for 20 down
}
trap 'stop_run; rm -rf "$WORK"' EXIT

log "make run, then its terminal closed (SIGHUP to its process group), then make run again"
start_run
if wait_for 180 up; then
  mapfile -t first < <(children)
  kill -HUP -"$RUN_PGID"
  check "the closed terminal's make run stops" wait_for 30 down
  check "make run starts again and stays up" comes_back "${first[@]}"
else
  check "make run starts" false
fi

log "make run, then its stack killed (SIGKILL), then make run again"
mapfile -t first < <(children)
kill -KILL "$(pgrep -f "scripts/stack.py --dir $RUN_DIR" | head -1)"
check "the killed stack's API stops answering" wait_for 30 down
check "make run starts again and stays up" comes_back "${first[@]}"

# A receiver that answers every POST with 501 (python's http.server), logging each.
delivers_on_the_schedule() {
  local port name token hits i
  port="$(free_port)"
  python3 -m http.server "$port" --bind 127.0.0.1 >"$WORK/receiver.log" 2>&1 &
  local receiver=$!
  name="hooks$(date +%s)"
  curl -s -o /dev/null -X POST "$URL/org/create" -H 'content-type: application/json' \
    -d "{\"organization_name\":\"$name\",\"email\":\"$name@example.com\",\"password\":\"Passw0rd1\"}"
  token="$(curl -s -X POST "$URL/admin/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$name@example.com\",\"password\":\"Passw0rd1\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  curl -s -o /dev/null -X POST "$URL/org/webhooks" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:$port/hook\",\"events\":[\"item.created\"]}"
  curl -s -o /dev/null -X POST "$URL/org/items" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"n":1}'
  for i in $(seq 1 30); do
    hits="$(grep -c '"POST /hook' "$WORK/receiver.log")"
    [ "$hits" -ge 3 ] && break
    sleep 1
  done
  kill "$receiver" 2>/dev/null
  echo "receiver got $hits attempts"
  [ "$hits" -ge 3 ]
}

log "make run delivers webhooks, with the retry schedule of its environment (1,2,4)"
check "three attempts within seconds" delivers_on_the_schedule

echo "make run after a closed terminal: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
