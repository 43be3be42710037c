#!/usr/bin/env bash
# Checks `tcpsim sweep --shard auto` under a real Slurm (docs/distributed.md):
# installs Slurm and MUNGE from Debian's packages if they are missing,
# starts a one-node cluster on this machine (its own munged, slurmctld and
# slurmd, every file under a temporary directory, the daemons talking over
# 127.0.0.1 on ports 16817/16818 so that a system Slurm is left alone),
# waits until the node is idle, then runs
#
#     sbatch --array=0-3 --wait  (a task: tcpsim sweep FILE --seeds S --shard auto)
#
# and checks that `tcpsim merge` of the four tasks' outputs is byte for
# byte the unsharded `tcpsim sweep FILE --seeds S` (JSON), that each task
# took the shard K/4 its array index gives (the lines carry it), and that
# the merge's exit code is the sweep's. Stops every daemon it started on
# every way out. If the cluster cannot start it says why and exits 1: it
# never skips. Needs root (as CI is). Called from .ci/run; runs from any
# directory; takes well under a minute once the packages are there.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf 'slurm-check: %s\n' "$*"; }
fail() {
	printf 'slurm-check: FAIL: %s\n' "$*" >&2
	exit 1
}

# The sweep: a grid of three loss rates, 30 seeds (90 runs), four shards.
config=configs/random-loss.toml
seeds=1..=30
tasks=4

[ "$(id -u)" -eq 0 ] || fail "needs root: it installs packages and runs slurmd, which starts jobs as their user"

# ----- Slurm and MUNGE -----

install_slurm() {
	apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			slurmctld slurmd slurm-client munge
}
# The daemons are in /usr/sbin.
export PATH=$PATH:/usr/sbin:/sbin
need=(munged mungekey munge unmunge slurmctld slurmd sinfo sbatch)
missing() {
	local c
	for c in "${need[@]}"; do
		command -v "$c" >/dev/null || return 0
	done
	return 1
}
if missing; then
	say "installing Slurm and MUNGE (slurmctld slurmd slurm-client munge)"
	if ! install_slurm; then
		say "apt failed; retrying once in 10 s"
		sleep 10
		install_slurm || fail "could not install Slurm and MUNGE with apt-get"
	fi
	missing && fail "after installing, still missing one of: ${need[*]}"
fi
version=$(slurmctld -V 2>&1) || fail "slurmctld -V failed: $version"
say "$version, $(munged --version 2>&1 | awk '{print $1; exit}')"

# ----- tcpsim -----

# The release binary .ci/run builds for its other steps (a no-op here when
# it is built already).
cargo build --release --quiet || fail "cargo build --release failed"
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$repo/$target ;; esac
tcpsim=$target/release/tcpsim
[ -x "$tcpsim" ] || fail "no tcpsim binary at $tcpsim"

# ----- the cluster -----

tmp=$(mktemp -d /tmp/tcpsim-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
declare -A names=()
started() {
	pids+=("$1")
	names[$1]=$2
}
stop() {
	local code=$? pid
	# Newest first: slurmd, slurmctld, then munged.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$code" -ne 0 ]; then
		for log in "$tmp"/*.log; do
			[ -s "$log" ] || continue
			printf '\n--- %s (last 25 lines)\n' "$log" >&2
			tail -n 25 "$log" >&2
		done
	fi
	rm -rf "$tmp"
	exit "$code"
}
trap stop EXIT
trap 'exit 130' INT TERM

host=$(hostname -s)
cpus=$(nproc)
memory=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')
say "one node: $host, $cpus CPUs, RealMemory=$memory MB, files under $tmp"

# MUNGE: a fresh key (random bytes from the kernel: for the key only), its
# own socket, run in the foreground in the background so that its PID is
# ours to stop.
mkdir -p "$tmp/munge"
chmod 755 "$tmp/munge"
mungekey --create --keyfile="$tmp/munge/munge.key" ||
	dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none ||
	fail "cannot create a munge key"
chmod 400 "$tmp/munge/munge.key"
socket=$tmp/munge/munge.socket
munged --foreground --force --key-file="$tmp/munge/munge.key" --socket="$socket" \
	--pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" \
	--log-file="$tmp/munged.log" >"$tmp/munged.out.log" 2>&1 &
started $! munged
for _ in $(seq 50); do
	[ -S "$socket" ] && break
	kill -0 "${pids[-1]}" 2>/dev/null || fail "munged exited at once (see munged.log below)"
	sleep 0.1
done
[ -S "$socket" ] || fail "munged made no socket at $socket within 5 s"
munge --socket="$socket" -n | unmunge --socket="$socket" >/dev/null ||
	fail "munge cannot encode and decode a credential with its own munged"
say "munged is up"

mkdir -p "$tmp/state" "$tmp/spool"
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=tcpsimcheck
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -i >"$tmp/slurmctld.out.log" 2>&1 &
started $! slurmctld
slurmd -D -N "$host" >"$tmp/slurmd.out.log" 2>&1 &
started $! slurmd

# Idle within 60 s, or say what the node is.
state=
for _ in $(seq 120); do
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || fail "${names[$pid]} exited while the cluster started (see its log below)"
	done
	state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null || true)
	[ "$state" = idle ] && break
	sleep 0.5
done
[ "$state" = idle ] || fail "node $host is not idle after 60 s (sinfo says '${state:-nothing}'; see the logs below)"
say "node $host is idle"

# ----- the array job -----

out=$tmp/out
mkdir -p "$out"
cat >"$tmp/shard.sh" <<EOF
#!/bin/bash
# One task of the array: its shard of the sweep (K/N from Slurm's variables).
"$tcpsim" sweep $config --seeds $seeds --shard auto >"$out/out-\$SLURM_ARRAY_TASK_ID.jsonl"
code=\$?
echo "task \$SLURM_ARRAY_TASK_ID of \$SLURM_ARRAY_TASK_COUNT: exit \$code"
# 1 is a failed expectation in some run: the shard is complete all the same
# (merge gives the sweep's exit code back).
[ \$code -le 1 ]
EOF
chmod +x "$tmp/shard.sh"
start=$SECONDS
if ! timeout 240 sbatch --array=0-$((tasks - 1)) --wait --job-name=tcpsim-shard \
	--chdir="$repo" --output="$out/task-%a.log" --time=5 "$tmp/shard.sh" >"$tmp/sbatch.log" 2>&1; then
	cat "$tmp/sbatch.log" >&2
	cat "$out"/task-*.log >&2 2>/dev/null || true
	fail "the array job failed or did not end within 240 s"
fi
say "$(head -n 1 "$tmp/sbatch.log"); $tasks tasks done in $((SECONDS - start)) s"
cat "$out"/task-*.log | sed 's/^/slurm-check:   /'

for ((k = 0; k < tasks; k++)); do
	f=$out/out-$k.jsonl
	[ -s "$f" ] || fail "task $k wrote no shard ($f)"
	# Every line of task k says shard k of $tasks.
	other=$(grep -cv "\"shard\":$k,\"shards\":$tasks," "$f" || true)
	[ "$other" -eq 0 ] || fail "task $k wrote $other line(s) of another shard than $k/$tasks"
done
lines=$(cat "$out"/out-*.jsonl | wc -l)
say "the shards hold $lines runs"

# ----- merge = the unsharded sweep -----

set +e
"$tcpsim" merge "$out"/out-*.jsonl --format json >"$tmp/merged.json"
merge_code=$?
"$tcpsim" sweep "$config" --seeds "$seeds" --format json >"$tmp/sweep.json"
sweep_code=$?
set -e
[ "$merge_code" -le 1 ] || fail "tcpsim merge failed (exit $merge_code)"
[ "$sweep_code" -le 1 ] || fail "tcpsim sweep failed (exit $sweep_code)"
runs=$(sed -n 's/^  "runs": \([0-9]*\),$/\1/p' "$tmp/sweep.json")
[ "$lines" = "$runs" ] || fail "the shards hold $lines runs, the sweep $runs"
cmp "$tmp/merged.json" "$tmp/sweep.json" ||
	fail "merge of the Slurm array's shards differs from the unsharded sweep"
[ "$merge_code" -eq "$sweep_code" ] ||
	fail "merge exits $merge_code, the unsharded sweep $sweep_code"
say "merge of the $tasks tasks = the unsharded sweep ($runs runs, $(wc -c <"$tmp/sweep.json") bytes of JSON, exit $sweep_code), byte for byte"
say "OK"
