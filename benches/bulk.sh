#!/usr/bin/env bash
# Wall time, peak memory and simulated segments per wall second of issue
# 14's bulk transfer: `tcpsim run benches/configs/bulk-100mb.toml --quiet`
# (100 MB, 1 Gbit/s, 10 ms each way, 0.1 % loss on the data direction;
# whole process, summary only) under /usr/bin/time, REPEAT times (default
# 3; the best and the worst time and the smallest peak are kept), for the
# file's linux profile and for rfc with SACK and window scaling. Segments
# are counted once, from the JSON report's `sent` counts (both ends, every
# kind). The bound of the issue: under 2 s on one core.
#
#   cargo build --release && benches/bulk.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/tcpsim"
repeat="${1:-3}"
file=benches/configs/bulk-100mb.toml
segments() { # args... -> segments sent in the run
    "$bin" run "$file" --format json "$@" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sum(sum(c["sent"].values()) for c in r["connections"]))'
}
echo "| profile | wall (best, worst of $repeat) | user | sys | peak RSS | segments | segments per wall second |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for variant in linux rfc; do
    if [[ $variant == rfc ]]; then
        args=(--set profile=rfc --set tcp.sack=true --set tcp.window_scale=8)
    else
        args=()
    fi
    n=$(segments "${args[@]}")
    best="" worst="" kb="" user="" sys=""
    for _ in $(seq "$repeat"); do
        read -r s u k sy < <( { /usr/bin/time -f '%e %U %M %S' "$bin" run "$file" --quiet "${args[@]}" >/dev/null; } 2>&1 | tail -1)
        if [[ -z "$best" ]] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; user=$u; sys=$sy; fi
        if [[ -z "$worst" ]] || awk -v s="$s" -v b="$worst" 'BEGIN { exit !(s > b) }'; then worst=$s; fi
        if [[ -z "$kb" ]] || (( k < kb )); then kb=$k; fi
    done
    awk -v p="$variant" -v b="$best" -v w="$worst" -v u="$user" -v sy="$sys" -v kb="$kb" -v n="$n" 'BEGIN {
        printf "| %s | %.2f s, %.2f s | %.2f s | %.2f s | %.0f MiB | %d | %.0f |\n",
            p, b, w, u, sy, kb / 1024, n, n / (b > 0 ? b : 0.01)
    }'
done
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
