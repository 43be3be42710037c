#!/usr/bin/env bash
# Instructions per handshake experiment (issue #6's sweep benchmark, the
# cost bound of issue 14): callgrind counts the whole process of
# `tcpsim sweep benches/configs/handshake.toml --jobs 1` for N seeds and
# for 1 seed; (I(N) - I(1)) / (N - 1) is the cost of one experiment with
# the process start, parsing and printing taken out. Both profiles (`rfc`
# as the file says, `linux` with --set profile=linux). Instruction counts
# do not drift with the machine's load, so two builds can be compared:
#
#   cargo build --release && benches/handshake-instructions.sh [N] [BIN]
#
# N defaults to 10000; BIN to "${CARGO_TARGET_DIR:-target}/release/tcpsim".
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
bin="${2:-${CARGO_TARGET_DIR:-target}/release/tcpsim}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
instructions() { # seeds, extra args... -> total instructions of the process
    local seeds=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
        "$bin" sweep benches/configs/handshake.toml --jobs 1 --seeds "$seeds" "$@" \
        >/dev/null 2>"$out/log"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/log"
}
echo "| profile | I(1) | I($n) | per experiment |"
echo "|---|---:|---:|---:|"
for profile in rfc linux; do
    one=$(instructions 1..=1 --set profile="$profile")
    many=$(instructions "1..=$n" --set profile="$profile")
    awk -v p="$profile" -v a="$one" -v b="$many" -v n="$n" 'BEGIN {
        printf "| %s | %d | %d | %.0f |\n", p, a, b, (b - a) / (n - 1)
    }'
done
