#!/bin/sh
# bench.sh: throughput of handoff with 2 workers under wrk, keep-alive and
# one connection per request. Prints figures; it is not a test.
#   tools/bench.sh [BUILD_DIR]   (make bench)
# Environment: DURATION (default 5s), CONNS (64), WORKERS (2), ROUNDS (3).
set -eu
build=${1:-build}
duration=${DURATION:-5s}
conns=${CONNS:-64}
workers=${WORKERS:-2}
rounds=${ROUNDS:-3}

HANDOFF_DEPS_EXTRA=wrk "$(dirname "$0")/deps.sh"

log=$(mktemp)
"$build/handoff" --host 127.0.0.1 --port 0 --workers "$workers" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT INT TERM

port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log")
    [ -n "$port" ] && grep -q "ready" "$log" && break
    sleep 0.05
done
[ -n "$port" ] || { echo "bench: handoff did not start" >&2; cat "$log" >&2; exit 1; }
url="http://127.0.0.1:$port/"

run() { # label, extra wrk args...
    label=$1; shift
    best=""
    all=""
    for _ in $(seq "$rounds"); do
        rps=$(wrk -t1 -c"$conns" -d"$duration" "$@" "$url" | awk '/Requests\/sec/ {print $2}')
        all="$all $rps"
    done
    med=$(echo "$all" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-28s median %10s req/s   (rounds:%s)\n' "$label" "$med" "$all"
}

echo "handoff $("$build/handoff" --version | cut -d' ' -f2), $workers workers, wrk -t1 -c$conns -d$duration, $(nproc) cores"
run "keep-alive"
run "Connection: close" -H "Connection: close"
