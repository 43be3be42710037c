#!/usr/bin/env bash
# tcpsim against turmoil 0.7, turmoil-net 0.1 and smoltcp on the same
# experiment (issue 19): the sweep benchmark benches/configs/handshake.toml
# (a client and a server, a 1 ms link, no loss; connect to port 80, 4
# bytes, a four-way close), RUNS experiments back to back (default
# 100 000), best of REPEAT (default 3).
#
# - tcpsim: wall time of the whole process `tcpsim sweep
#   benches/configs/handshake.toml --jobs 1 --seeds 1..=RUNS`, with
#   `--set profile=rfc` and `--set profile=linux` (output to /dev/null;
#   process start, parsing and aggregation included).
# - the others: benches/compare (`compare --runs RUNS --repeat REPEAT`),
#   a fresh simulation per experiment, timed in process; its source says
#   what each contender does and where it cannot match tcpsim (turmoil
#   has no ACKs and neither turmoil nor turmoil-net has TIME-WAIT;
#   smoltcp is the bare two-socket cycle with no network model).
#
# Then the ratios of the rates (tcpsim's experiments per second over each
# contender's) and the load average before and after: wall times on 2
# shared cores drift with the load. The harness is built from crates.io
# into ${CARGO_TARGET_DIR:-benches/compare/target}; it is its own
# workspace, not part of tcpsim's, and neither it nor this script runs in
# CI. tcpsim is built with `cargo build --release` unless TCPSIM names a
# binary to use as it is.
#
#   benches/compare.sh [RUNS] [REPEAT]
#   TCPSIM=target/release/tcpsim benches/compare.sh 20000
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100000}"
repeat="${2:-3}"
compare_target="${CARGO_TARGET_DIR:-benches/compare/target}"
compare="$compare_target/release/compare"
if [[ -n "${TCPSIM:-}" ]]; then
    tcpsim=$TCPSIM
else
    cargo build --release --quiet
    tcpsim="${CARGO_TARGET_DIR:-target}/release/tcpsim"
fi
CARGO_TARGET_DIR="$compare_target" \
    cargo build --release --quiet --manifest-path benches/compare/Cargo.toml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "tcpsim sweep benches/configs/handshake.toml --jobs 1 --seeds 1..=$runs"
printf '%-6s %-12s %8s %10s %11s %12s\n' rep contender runs "wall s" "µs/exp" "exp/s"
line() { # rep name seconds -> one line in compare's format
    awk -v r="$1" -v c="$2" -v n="$runs" -v s="$3" 'BEGIN {
        printf "%-6s %-12s %8d %10.3f %10.2f %12.0f\n", r, c, n, s, s * 1e6 / n, n / s
    }'
}
for profile in rfc linux; do
    best=""
    for rep in $(seq "$repeat"); do
        t0=$EPOCHREALTIME
        "$tcpsim" sweep benches/configs/handshake.toml --jobs 1 --seeds "1..=$runs" \
            --set profile="$profile" >/dev/null
        t1=$EPOCHREALTIME
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
        line "$rep" "tcpsim-$profile" "$s"
        if [[ -z "$best" ]] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; fi
    done
    line best "tcpsim-$profile" "$best" | tee -a "$out/best"
done
echo
echo "benches/compare --runs $runs --repeat $repeat"
"$compare" --runs "$runs" --repeat "$repeat" | tee "$out/compare"
grep '^best' "$out/compare" >>"$out/best"
echo
echo "| tcpsim rate ÷ | turmoil | turmoil-net | smoltcp |"
echo "|---|---:|---:|---:|"
awk '$1 == "best" { rate[$2] = $6 } END {
    split("turmoil turmoil-net smoltcp", others, " ")
    for (i = 1; i <= 2; i++) {
        p = i == 1 ? "tcpsim-rfc" : "tcpsim-linux"
        printf "| %s (%.0f/s) |", p, rate[p]
        for (j = 1; j <= 3; j++) printf " %.2f |", rate[p] / rate[others[j]]
        printf "\n"
    }
}' "$out/best"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
