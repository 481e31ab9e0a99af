#!/bin/sh
# fuzz.sh: runs each libFuzzer target in BUILD_DIR for SECONDS, on a corpus
# in BUILD_DIR/corpus-<name> seeded from tests/fuzz/<name>. Prints the
# executions and exits non-zero if a target found a crash (the reproducer
# is left in BUILD_DIR as crash-* / leak-* / timeout-*).
#   tools/fuzz.sh [BUILD_DIR] [SECONDS]      (make fuzz)
set -u
build=${1:-build/fuzz}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for name in request chan json proxy; do
    target="$build/fuzz_$name"
    corpus="$build/corpus-$name"
    mkdir -p "$corpus"
    log="$build/fuzz_$name.log"
    (cd "$build" && "./fuzz_$name" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=./ \
        "corpus-$name" "$root/tests/fuzz/$name") >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz_$name: ${execs:-?} executions in ${seconds}s, $cov, no findings"
    else
        echo "fuzz_$name: FOUND A PROBLEM after ${execs:-?} executions (exit $rc); see $log"
        grep -E "ERROR|runtime error|SUMMARY" "$log" | head -5
        status=1
    fi
done
exit $status
