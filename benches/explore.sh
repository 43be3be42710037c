#!/usr/bin/env bash
# Wall time of `tcpsim explore FILE --drops 2 --jobs 1` for every config in
# configs/ (BENCHMARKS.md, "Explore"): best of 3 runs of the whole process,
# with the segments of the run without drops, the cases, the failures and
# the minimal failures, from the JSON output.
# Usage: benches/explore.sh [TCPSIM_BINARY] (default target/release/tcpsim).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/tcpsim}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '| file | segments | cases | failed | minimal | best of 3 |\n|---|---:|---:|---:|---:|---:|\n'
for f in configs/*.toml; do
	best=
	for _ in 1 2 3; do
		start=$(date +%s%N)
		# Exit 1 (a case failed) is the usual result, not an error.
		"$bin" explore "$f" --drops 2 --jobs 1 --format json >"$tmp" || [ $? -eq 1 ]
		took=$((($(date +%s%N) - start) / 1000))
		if [ -z "$best" ] || [ "$took" -lt "$best" ]; then best=$took; fi
	done
	python3 - "$f" "$best" "$tmp" <<'PY'
import json, sys
f, best, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(path))
seg = sum(x["fault_free_segments"] for x in d["directions"])
print(f"| `{f}` | {seg} | {d['cases']} | {d['failed']} | {len(d['minimal_failures'])} | {best / 1000:.1f} ms |")
PY
done
