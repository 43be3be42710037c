#!/usr/bin/env bash
# Wall time and peak memory of N concurrent connections in one simulation
# (issue #6): `tcpsim run benches/configs/scale-N.toml --quiet` (summary
# only: the event log is off) under /usr/bin/time (peak RSS), N = 1 ... 100 000,
# each REPEAT times (default 3; the best time and the smallest peak are
# kept). Prints a Markdown table with the cost per connection above the
# process baseline (the 1-connection run); below 1 000 connections the
# difference is within the allocator's and the page size's noise. Wall
# time includes starting the process and printing the summary of every
# connection; the in-process cost per connection is `cargo bench --bench
# scale`.
#
#   cargo build --release && benches/scale.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/tcpsim"
repeat="${1:-3}"
measure() { # file -> "seconds kilobytes" (best of $repeat)
    local best_s="" best_kb=""
    for _ in $(seq "$repeat"); do
        local t0 t1 kb s
        t0=$EPOCHREALTIME
        kb=$( { /usr/bin/time -f '%M' "$bin" run "$1" --quiet >/dev/null; } 2>&1 | tail -1)
        t1=$EPOCHREALTIME
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        if [[ -z "$best_s" ]] || awk -v s="$s" -v b="$best_s" 'BEGIN { exit !(s < b) }'; then best_s=$s; fi
        if [[ -z "$best_kb" ]] || (( kb < best_kb )); then best_kb=$kb; fi
    done
    echo "$best_s $best_kb"
}
read -r _ base_kb < <(measure benches/configs/scale-1.toml)
echo "| connections | wall time | time per connection | peak RSS | above baseline per connection |"
echo "|---:|---:|---:|---:|---:|"
for n in 1 10 100 1000 10000 100000; do
    read -r s kb < <(measure "benches/configs/scale-$n.toml")
    awk -v n="$n" -v s="$s" -v kb="$kb" -v base="$base_kb" 'BEGIN {
        above = n < 1000 ? "(noise)" : sprintf("%.0f B", (kb - base) * 1024 / n)
        printf "| %d | %.3f s | %.2f µs | %.1f MiB | %s |\n",
            n, s, s * 1e6 / n, kb / 1024, above
    }'
done
echo
echo "baseline (1 connection): $base_kb KiB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
