#!/usr/bin/env bash
# capture.sh - capture reference traces of the REAL Linux TCP stack for the
# tcpsim `linux` profile (SPEC.md section 5).  Run by hand, as root:
#
#     bash tests/data/linux/capture.sh              # all scenarios (~11 minutes)
#     bash tests/data/linux/capture.sh normal refused   # only some
#
# For every scenario NAME it writes NAME.pcap and NAME.trace beside this file
# (or in $OUT_DIR if set).  synack_lost_first and server_fin_lost contain a
# timer tie that the kernel breaks at random (synack_lost_twice too); for those the run is repeated
# until both outcomes were seen, and the second one is kept as NAME-alt.*
# (see "variants" below and README.md).
#
# Topology (two fresh network namespaces per scenario, nothing else touched):
#
#   netns tcpsim-lnx-c                                  netns tcpsim-lnx-s
#   client 10.0.0.1 -- tun tlc0 ==[delayline.py]== tun tls0 -- server 10.0.0.2
#                      ^ tcpdump -w here           10 ms each way, FIFO
#
# netem is not available (this kernel has CONFIG_NET_SCH_NETEM unset), so the
# 10 ms one-way delay is made by delayline.py, a userspace process that copies
# raw IP packets between the two tun devices after 10 ms.
#
# Capture point: tcpdump on the client's tun tlc0.  Every segment passes it
# exactly once: client segments when the client transmits them, server
# segments when they arrive at the client (i.e. 10 ms after the server sent
# them).  Faults are nftables rules on the INPUT hook of the RECEIVING
# namespace, which is after the capture point in both directions, so dropped
# segments still appear in the trace.
#
# "Only the first matching packet" is expressed with a dynamic nftables set
# used as a latch:   <match> ip saddr != @once add @once { ip saddr } drop
# The first matching packet is not in @once yet: the rule adds its source
# address to @once and drops it; every later packet from that address is in
# @once, so the rule no longer matches and it passes.  Set updates from the
# packet path are immediate, so this is exact (no timing, no packet sizes).
# Every fault rule carries a counter; its value is copied into the trace.
#
# App times: peer.py logs CLOCK_REALTIME (and CLOCK_MONOTONIC) right after
# each system call returns; the kernel stamps captured packets with
# CLOCK_REALTIME, so pcap2trace.py reports app events as
# (app CLOCK_REALTIME - pcap timestamp of the first segment) in us and checks
# with the monotonic clock that the real-time clock did not step.
#
# TCP sysctls are the defaults of a fresh network namespace (only IPv6 is
# disabled in the namespaces, to keep router solicitations off the capture).
#
# The loss-recovery scenarios (data_* with faults, acks_lost, bulk_200k; see
# README.md "Loss recovery") use peer.py mode `data`, pick "the n-th
# packet" with a chain of latches (nth_chain below), and are run REPEAT=3
# times each; a later run in which the client sent other segments than in
# the first is kept as NAME-alt.* (capture_repeat below).  Each side logs its
# TCP_INFO (what `ss -ti` shows) before its close, and the client polls it
# every 1 ms: `ss` itself cannot see the connection at the end, which is a
# TIME-WAIT minisocket by then.
#
# The close scenarios of issue 15 (fin_wait2_orphan*, user_timeout_fin*;
# README.md "Orphaned FIN-WAIT-2 and the user timeout") run REPEAT times
# too, wait up to SERVER_WAIT_S for the server app and capture TAIL seconds
# after it (the 60 s timers), and run `peer.py watch` in both namespaces:
# ss every 50 ms, because the end of a FIN-WAIT-2 or TIME-WAIT sends
# nothing.  About 14 minutes for the five.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT_DIR:-$HERE}"   # where NAME.pcap / NAME.trace go (default: beside this script)
mkdir -p "$OUT"
NS_C=tcpsim-lnx-c
NS_S=tcpsim-lnx-s
DEV_C=tlc0
DEV_S=tls0
ADDR_C=10.0.0.1
ADDR_S=10.0.0.2
DELAY_MS=10
TAIL_S=3              # keep capturing this long after the apps are done
CLIENT_LIMIT_S=250    # give up waiting for the client after this long
PIDFILE=/run/tcpsim-linux-capture.pids

TCPDUMP_TRIES=4      # rerun a scenario this often while tcpdump reports drops
BIND_PORT=40000      # the client's fixed port in the reconnect scenarios

ALL_SCENARIOS=(normal syn_lost_first synack_lost_first client_fin_lost
               server_fin_lost last_ack_lost refused syn_lost_all synack_lost_all
               data_close half_close_server_writes simultaneous_close close_unread
               linger0 reconnect_timewait_client reconnect_timewait_server
               synack_lost_twice handshake_ack_lost_data fin_ack_delay data_fin_ack_delay
               data_lost_mid data_two_holes data_lost_retransmission data_first_lost
               data_tail_lost data_tail_fin_lost data_burst_lost data_reordered acks_lost
               bulk_200k psh_window_limited psh_cwnd_limited
               rto_spurious rto_spurious_tlp rto_burst_tail rto_burst_tail_tlp
               rto_after_recovery_multi
               fin_wait2_orphan fin_wait2_orphan_early fin_wait2_orphan_late_ack
               user_timeout_fin user_timeout_fin_orphan)
# The loss-recovery scenarios: each is run REPEAT times (see "repeats" below).
REPEAT_SCENARIOS=(data_lost_mid data_two_holes data_lost_retransmission data_first_lost
                  data_tail_lost data_tail_fin_lost data_burst_lost data_reordered acks_lost
                  bulk_200k psh_window_limited psh_cwnd_limited
                  rto_spurious rto_spurious_tlp rto_burst_tail rto_burst_tail_tlp
                  rto_after_recovery_multi
                  fin_wait2_orphan fin_wait2_orphan_early fin_wait2_orphan_late_ack
                  user_timeout_fin user_timeout_fin_orphan)
REPEAT=${REPEAT:-3}

log() { printf '[capture %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "capture.sh must run as root" >&2; exit 1; }

# ---------------------------------------------------------------- tools
need_install=0
for t in tcpdump nft ip python3; do command -v "$t" >/dev/null 2>&1 || need_install=1; done
if [ "$need_install" = 1 ] || [ "${FORCE_APT:-0}" = 1 ]; then
    log "installing tools with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump nftables iproute2 python3
fi

# Real-time scheduling for the delay line and the apps: other work on this
# machine (compilers...) would otherwise add milliseconds of wake-up latency
# to the userspace delay line and to the apps' reactions.
RT_DL=() RT_APP=()
if chrt -f 60 true 2>/dev/null; then RT_DL=(chrt -f 60); RT_APP=(chrt -f 50); fi

# ---------------------------------------------------------------- cleanup
WORK="$(mktemp -d /tmp/tcpsim-linux-capture.XXXXXX)"
PIDS=()
WATCH_PIDS=()   # the ss watchers of the running scenario (also in PIDS)

remember_pid() { PIDS+=("$1"); echo "$1" >>"$PIDFILE"; }

stop_pid() {   # stop_pid PID SIGNAL : signal one of our processes and reap it
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

teardown_net() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p" TERM; done
    PIDS=()
    : >"$PIDFILE"
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    teardown_net
    rm -f "$PIDFILE"
    rm -rf "$WORK"
    [ "$rc" = 0 ] || log "FAILED (exit $rc); namespaces removed"
}
trap cleanup EXIT
set -E
trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

# Leftovers of an earlier run that was killed with SIGKILL: stop only the
# processes that run recorded itself (by pid, and only if they are still ours).
if [ -s "$PIDFILE" ]; then
    while read -r p; do
        if [ -n "$p" ] && grep -qa -e tcpdump -e delayline.py -e peer.py "/proc/$p/cmdline" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
        fi
    done <"$PIDFILE"
fi
: >"$PIDFILE"

# ---------------------------------------------------------------- network
setup_net() {
    teardown_net
    ip netns add "$NS_C"
    ip netns add "$NS_S"
    local ns
    for ns in "$NS_C" "$NS_S"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip netns exec "$ns" ip link set lo up
    done
    # Empty the output file here: the redirection below is done by the
    # background child, possibly after the first grep, which would then read
    # the "ready" of the previous run.
    : >"$WORK/delayline.out"
    "${RT_DL[@]}" python3 "$HERE/delayline.py" "$NS_C" "$DEV_C" "$NS_S" "$DEV_S" "$DELAY_MS" "${DL_ARGS[@]}" \
        >"$WORK/delayline.out" 2>&1 &
    remember_pid $!
    local i
    for i in $(seq 50); do grep -q ready "$WORK/delayline.out" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$WORK/delayline.out" || { cat "$WORK/delayline.out" >&2; return 1; }
    ip netns exec "$NS_C" ip addr add "$ADDR_C" peer "$ADDR_S" dev "$DEV_C"
    ip netns exec "$NS_C" ip link set "$DEV_C" up
    ip netns exec "$NS_S" ip addr add "$ADDR_S" peer "$ADDR_C" dev "$DEV_S"
    ip netns exec "$NS_S" ip link set "$DEV_S" up
}

read_sysctls() {   # read_sysctls NS NAMES... -> "name=value ..."
    local ns=$1; shift
    local out="" n v
    for n in "$@"; do
        v=$(ip netns exec "$ns" sysctl -n "net.ipv4.$n" 2>/dev/null | tr '\t' ' ') || v="n/a"
        out+="$n=${v:-n/a} "
    done
    echo "${out% }"
}

# ---------------------------------------------------------------- scenarios
# Each scenario sets: DESC, PORT, SERVER (1 = run the server app),
# RULE_S (nft rule on the server netns input hook; client segments),
# RULE_C (nft rule on the client netns input hook; server segments),
# RULE_S_OUT (nft rule on the server netns output hook; used as a latch only),
# MODE (peer.py --mode for both apps; see peer.py), PEER_ARGS (more peer.py
# options for both apps), DL_ARGS (more delayline.py options, an array).  A
# rule variable may hold several rules, one per line.  The issue-15 close
# scenarios also set: SERVER_WAIT_S (how long to wait for the server app's
# "done" after the client app exited; default 10), TAIL (seconds of capture
# after that; default TAIL_S), WATCH=1 (run `peer.py watch` in both
# namespaces: the sockets' states and timers from ss, every 50 ms, into the
# `# app:` lines) and RUN_SUMMARY=1 (a `# runs:` header line with the FIN
# and RST segments, the errno lines and the ss lines of every run).
APPS="apps: server listen :80, accept, read to EOF, close; client connect, shutdown(SHUT_WR), read to EOF, close"
FIRST='ip saddr != @once add @once { ip saddr }'   # the first-match latch (see top)
SYN='tcp flags & (syn | ack) == syn'
SYNACK='tcp flags & (syn | ack) == syn | ack'
FIN='tcp flags & fin == fin'
# A data segment of the client at the server's input: every client segment
# after the SYN has a 32-byte TCP header (doff 8: the TS option only; SYNs
# have doff 10, and the client never sends SACK blocks because it receives
# no data), so it has payload exactly when the IP total length (20-byte IP
# header, no IP options) is over 52.  Retransmissions count too.
CDATA='tcp dport 80 tcp doff 8 ip length > 52'
# A pure ACK of the server at the client's input (the server sends no data
# in the scenarios that use it; the SYN-ACK and FIN do not match).
SACK_PURE='tcp sport 80 tcp flags == ack'
DATA_APPS="client connect, send the bytes in one sendall(), shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, close; client reads TCP_INFO every 1 ms (peer.py --tcp-info-poll 1)"

# nth_chain SET MATCH MAX DROP...: rules that count the packets matching
# MATCH, in the order they reach the hook, with one latch per packet: the
# k-th matching packet is the first one not yet in set SETk (it adds its
# source to SETk); it is dropped if k is one of DROP..., else accepted (and
# counted).  Packets after the MAX-th are in every set and pass.  Exact like
# the @once latch (no timing, no byte quotas).  $NTH_ON_DROP, if set, is put
# into each dropping rule before its counter (e.g. to remember its sequence
# number in another set).
nth_chain() {
    local set=$1 match=$2 max=$3 k verdict extra; shift 3
    for k in $(seq "$max"); do
        verdict=accept extra=""
        if [[ " $* " == *" $k "* ]]; then verdict=drop extra="${NTH_ON_DROP:-} "; fi
        printf '%s ip saddr != @%s%d add @%s%d { ip saddr } %scounter %s\n' \
            "$match" "$set" "$k" "$set" "$k" "$extra" "$verdict"
    done
}

define_scenario() {
    DESC="" PORT=80 SERVER=1 RULE_S="" RULE_C="" RULE_S_OUT="" MODE=basic PEER_ARGS="" DL_ARGS=() NSTAT=0
    SERVER_WAIT_S=10 TAIL=$TAIL_S WATCH=0 RUN_SUMMARY=0
    case "$1" in
    normal)
        DESC="no fault; $APPS" ;;
    syn_lost_first)
        DESC="the client's first SYN is dropped (server input); $APPS"
        RULE_S="tcp dport 80 $SYN $FIRST counter drop" ;;
    syn_lost_all)
        DESC="every SYN from the client is dropped (server input), connect() times out; $APPS"
        RULE_S="tcp dport 80 $SYN counter drop" ;;
    synack_lost_first)
        DESC="the server's first SYN-ACK is dropped (client input); $APPS"
        RULE_C="tcp sport 80 $SYNACK $FIRST counter drop" ;;
    synack_lost_all)
        DESC="every SYN-ACK from the server is dropped (client input); server gives up, connect() times out; $APPS"
        RULE_C="tcp sport 80 $SYNACK counter drop" ;;
    client_fin_lost)
        DESC="the client's first FIN is dropped (server input); $APPS"
        RULE_S="tcp dport 80 $FIN $FIRST counter drop" ;;
    server_fin_lost)
        DESC="the server's first FIN is dropped (client input); $APPS"
        RULE_C="tcp sport 80 $FIN $FIRST counter drop" ;;
    last_ack_lost)
        DESC="the client's first ACK of the server's FIN (final ACK of the close) is dropped (server input); $APPS"
        # Latch 1 (server output): the server has sent its FIN -> @srvfin.
        # Latch 2 (server input): the first pure ACK from the client after
        # that is dropped.  The handshake ACK comes before the server's FIN
        # and the client's FIN is FIN|ACK, so neither can match.
        RULE_S_OUT="tcp sport 80 $FIN add @srvfin { ip daddr } counter"
        RULE_S="tcp dport 80 tcp flags == ack ip saddr @srvfin $FIRST counter drop" ;;
    refused)
        DESC="connect to port 81 where nothing listens (no server app, no fault rule); client connect, expect ECONNREFUSED"
        PORT=81 SERVER=0 ;;
    data_close)
        DESC="no fault; apps: client connect, send 20000 bytes, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, close"
        MODE=data_close ;;
    half_close_server_writes)
        DESC="no fault; apps: client connect, send 100 bytes, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, then send 3000 bytes, close"
        MODE=half_close_server_writes ;;
    simultaneous_close)
        DESC="no fault; apps: client connect, send 100 bytes (carrying a CLOCK_REALTIME deadline 100 ms ahead), server reads them and sends 100 bytes back; at the deadline both call shutdown(SHUT_WR), read to EOF, close"
        MODE=simultaneous_close ;;
    close_unread)
        DESC="no fault; apps: client connect, send 100 bytes, read to EOF, close; server accept, sleep 50 ms without reading, close (data unread)"
        MODE=close_unread ;;
    linger0)
        DESC="no fault; apps: client connect, set SO_LINGER {1, 0}, close; server accept, read to EOF, close"
        MODE=linger0 ;;
    reconnect_timewait_client)
        DESC="no fault; apps: client bind port $BIND_PORT (SO_REUSEADDR), connect, shutdown(SHUT_WR), read to EOF, close (the client closes first and holds TIME-WAIT); 1 s later the same again from the same port; server accept, read to EOF, close, twice"
        MODE=reconnect_timewait_client ;;
    reconnect_timewait_server)
        DESC="no fault; apps: server accept, close at once (the server closes first and holds TIME-WAIT), twice; client bind port $BIND_PORT (SO_REUSEADDR), connect, read to EOF, close; 1 s later the same again from the same port"
        MODE=reconnect_timewait_server ;;
    synack_lost_twice)
        DESC="the server's first two SYN-ACKs are dropped (client input); $APPS"
        # Two latches in a row: the first SYN-ACK fills @once, the second @twice.
        RULE_C="tcp sport 80 $SYNACK $FIRST counter drop
        tcp sport 80 $SYNACK ip saddr != @twice add @twice { ip saddr } counter drop" ;;
    handshake_ack_lost_data)
        DESC="the handshake's final ACK (the client's first pure ACK) is dropped (server input); apps: client connect, send 1000 bytes at once, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, close"
        # flags == ack exactly: the data segment (PSH|ACK) and the FIN do not match.
        RULE_S="tcp dport 80 tcp flags == ack $FIRST counter drop"
        MODE=handshake_ack_lost_data ;;
    fin_ack_delay)
        DESC="no fault; apps: client connect, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, sleep 200 ms, close (the ACK of the client's bare FIN goes out on its own)"
        MODE=fin_ack_delay ;;
    data_fin_ack_delay)
        DESC="no fault; apps: client connect, send 100 bytes, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, sleep 200 ms, close (the ACK of the FIN after data goes out on its own)"
        MODE=data_fin_ack_delay ;;
    data_lost_mid)
        DESC="the client's 5th data segment is dropped once (server input); apps: 20000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 5 5)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" ;;
    data_two_holes)
        DESC="the client's 3rd and 7th data segments are dropped once each (server input); apps: 40000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 7 3 7)
        MODE=data PEER_ARGS="--bytes 40000 --tcp-info-poll 1" ;;
    data_lost_retransmission)
        DESC="the client's 5th data segment is dropped, and so is the first later segment with the same sequence number, its first retransmission (server input); apps: 20000 bytes; $DATA_APPS"
        # The dropping rule also puts the segment's sequence number into
        # @seqlost; the next data segment that starts there is dropped once.
        RULE_S="$(NTH_ON_DROP='add @seqlost { tcp sequence }' nth_chain d "$CDATA" 5 5)
$CDATA tcp sequence @seqlost ip saddr != @rexmit add @rexmit { ip saddr } counter drop"
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" ;;
    data_first_lost)
        DESC="the client's first data segment is dropped once (server input); apps: 20000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 1 1)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" ;;
    data_tail_lost)
        DESC="the client's 5th and last data segment is dropped once (server input); apps: 7240 bytes (5 x 1448), the client sleeps 1 s before shutdown(SHUT_WR), so the tail is data only; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 5 5)
        MODE=data PEER_ARGS="--bytes 7240 --shutdown-after 1 --tcp-info-poll 1" ;;
    data_tail_fin_lost)
        DESC="the client's first segment with FIN is dropped once (server input); apps: 7240 bytes (5 x 1448), shutdown(SHUT_WR) right after the send; $DATA_APPS"
        RULE_S="tcp dport 80 $FIN $FIRST counter drop"
        MODE=data PEER_ARGS="--bytes 7240 --tcp-info-poll 1" ;;
    data_burst_lost)
        DESC="the client's 5th, 6th, 7th and 8th data segments are dropped once each (server input); apps: 40000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 8 5 6 7 8)
        MODE=data PEER_ARGS="--bytes 40000 --tcp-info-poll 1" ;;
    data_reordered)
        DESC="no drop; the delay line holds the client's 5th data segment 5 ms longer (15 ms instead of 10), so the 6th..10th overtake it; apps: 20000 bytes; $DATA_APPS"
        DL_ARGS=(--extra a2b:5:5)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" ;;
    acks_lost)
        DESC="the server's 2nd and 3rd pure ACKs are dropped (client input); apps: 40000 bytes; $DATA_APPS"
        RULE_C=$(nth_chain a "$SACK_PURE" 3 2 3)
        MODE=data PEER_ARGS="--bytes 40000 --tcp-info-poll 1" ;;
    bulk_200k)
        DESC="no fault; apps: 200000 bytes, the client's SO_SNDBUFFORCE 4194304 (the whole write is queued at once); $DATA_APPS"
        MODE=data PEER_ARGS="--bytes 200000 --sndbuf 4194304 --tcp-info-poll 1" ;;
    psh_window_limited)
        DESC="no fault; where PSH goes when the peer's window cuts a write; apps: server SO_RCVBUF ${PSH_RCVBUF:-2920} on the listener before listen, accept, sleep 200 ms, read to EOF, close; client connect, send 5000 bytes in one sendall(), sleep 1 s, shutdown(SHUT_WR), read to EOF, close; client reads TCP_INFO every 1 ms after the send"
        MODE=data PEER_ARGS="--bytes 5000 --shutdown-after 1 --rcvbuf ${PSH_RCVBUF:-2920} --read-delay 0.2 --tcp-info-poll 1" ;;
    psh_cwnd_limited)
        DESC="no fault; where PSH goes when cwnd cuts a write; apps: client connect, send 30000 bytes in one sendall(), sleep 1 s, shutdown(SHUT_WR), read to EOF, close; server accept, read to EOF, close; client reads TCP_INFO every 1 ms after the send"
        MODE=data PEER_ARGS="--bytes 30000 --shutdown-after 1 --tcp-info-poll 1" ;;
    # The RTO scenarios (README "Retransmission timeouts"): as the loss-
    # recovery ones, and NSTAT=1 copies each namespace's non-zero TCP MIB
    # counters (nstat: TCPTimeouts, TCPLossUndo, TCPSpuriousRTOs, ...) into
    # the header, which name the kernel's undo and recovery paths.
    rto_spurious)
        DESC="no drop; the delay line holds the server's 2nd..12th TCP segments (the 1st is the SYN-ACK: its ten ACKs of the first flight and its ACK of the client's tail loss probe) 300 ms longer (310 ms instead of 10), past the client's RTO; later server segments are not held and overtake them; apps: 20000 bytes; $DATA_APPS"
        DL_ARGS=(--hold b2a:2:12:300)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" NSTAT=1 ;;
    rto_spurious_tlp)
        DESC="no drop; the delay line holds the server's 2nd..11th TCP segments (the 1st is the SYN-ACK: its ten ACKs of the first flight) 300 ms longer (310 ms instead of 10); later server segments are not held and overtake them (the ACK of the tail loss probe ends the stall before the RTO); apps: 20000 bytes; $DATA_APPS"
        DL_ARGS=(--hold b2a:2:11:300)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" NSTAT=1 ;;
    rto_burst_tail)
        DESC="the client's 11th..15th data segments are dropped once each (server input): the last four of the write, the 14th carrying the FIN, and the tail loss probe (the 15th, the first retransmission of the 14th with its FIN); apps: 20000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 15 11 12 13 14 15)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" NSTAT=1 ;;
    rto_burst_tail_tlp)
        DESC="the client's 11th..14th data segments, the last four of the write, the 14th carrying the FIN, are dropped once each (server input); the tail loss probe gets through; apps: 20000 bytes; $DATA_APPS"
        RULE_S=$(nth_chain d "$CDATA" 14 11 12 13 14)
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" NSTAT=1 ;;
    rto_after_recovery_multi)
        DESC="the client's 3rd and 7th data segments are dropped, and so is the first later segment that starts at each of their sequence numbers, their first retransmissions (server input); apps: 20000 bytes; $DATA_APPS"
        # As data_lost_retransmission, with a latch per sequence number
        # (@seqrex) instead of one per address: each lost segment's first
        # retransmission is dropped.
        RULE_S="$(NTH_ON_DROP='add @seqlost { tcp sequence }' nth_chain d "$CDATA" 7 3 7)
$CDATA tcp sequence @seqlost tcp sequence != @seqrex add @seqrex { tcp sequence } counter drop"
        MODE=data PEER_ARGS="--bytes 20000 --tcp-info-poll 1" NSTAT=1 ;;
    # The close scenarios of issue 15 (README "Orphaned FIN-WAIT-2 and the
    # user timeout"): what a released socket and TCP_USER_TIMEOUT do.  ss is
    # watched in both namespaces (WATCH=1), because the end of a FIN-WAIT-2
    # or TIME-WAIT is not on the wire.
    fin_wait2_orphan)
        DESC="no fault; apps: client connect, close() at once (the socket is released: FIN, then an orphaned FIN-WAIT-2 once the FIN is ACKed); server accept, read to EOF, close() 70 s after accept returned, after the client's tcp_fin_timeout (60 s); ss watched in both namespaces every 50 ms"
        MODE=fin_wait2_orphan PEER_ARGS="--server-close-after 70" NSTAT=1 WATCH=1 RUN_SUMMARY=1
        SERVER_WAIT_S=80 ;;
    fin_wait2_orphan_early)
        DESC="no fault; apps: client connect, close() at once (the socket is released: FIN, then an orphaned FIN-WAIT-2 once the FIN is ACKed); server accept, read to EOF, close() 30 s after accept returned, before the client's tcp_fin_timeout (60 s); capture and ss watch go on 65 s after the server's close, to see the client's TIME-WAIT end; ss watched in both namespaces every 50 ms"
        MODE=fin_wait2_orphan PEER_ARGS="--server-close-after 30" NSTAT=1 WATCH=1 RUN_SUMMARY=1
        SERVER_WAIT_S=40 TAIL=65 ;;
    fin_wait2_orphan_late_ack)
        DESC="the server's first six pure ACKs (its ACKs of the client's FIN and of the first five retransmissions of that FIN) are dropped (client input), so the client's FIN-WAIT-2 begins about 7 s after its close(); apps: client connect, close() at once (the socket is released); server accept, read to EOF, close() 75 s after accept returned; ss watched in both namespaces every 50 ms (does the 60 s count from the close or from the ACK of the FIN?)"
        RULE_C=$(nth_chain a "$SACK_PURE" 6 1 2 3 4 5 6)
        MODE=fin_wait2_orphan PEER_ARGS="--server-close-after 75" NSTAT=1 WATCH=1 RUN_SUMMARY=1
        SERVER_WAIT_S=85 ;;
    user_timeout_fin)
        DESC="every client segment with FIN is dropped (server input); apps: client TCP_USER_TIMEOUT 3000 ms set before connect, connect, send 1000 bytes, sleep 100 ms (they are ACKed by then), shutdown(SHUT_WR), read (to EOF or an error), close; server accept, read to EOF (it never comes), so it stays open; ss watched in both namespaces every 50 ms"
        RULE_S="tcp dport 80 $FIN counter drop"
        MODE=user_timeout_fin PEER_ARGS="--user-timeout 3000" NSTAT=1 WATCH=1 RUN_SUMMARY=1
        SERVER_WAIT_S=0 ;;
    user_timeout_fin_orphan)
        DESC="every client segment with FIN is dropped (server input); apps: client TCP_USER_TIMEOUT 3000 ms set before connect, connect, send 1000 bytes, sleep 100 ms (they are ACKed by then), close() (the socket is released; its FIN is an orphan's); server accept, read to EOF (it never comes), so it stays open; capture and ss watch go on 8 s after the client app exited; ss watched in both namespaces every 50 ms"
        RULE_S="tcp dport 80 $FIN counter drop"
        MODE=user_timeout_fin_orphan PEER_ARGS="--user-timeout 3000" NSTAT=1 WATCH=1 RUN_SUMMARY=1
        SERVER_WAIT_S=0 TAIL=8 ;;
    *)
        echo "unknown scenario: $1 (known: ${ALL_SCENARIOS[*]})" >&2; return 1 ;;
    esac
}

install_rules() {   # install_rules NS INPUT_RULE OUTPUT_RULE
    local ns=$1 rin=$2 rout=$3 sets="" n
    [ -n "$rin$rout" ] || return 0
    # Every other set the rules name (@NAME) is declared too: of sequence
    # numbers if its name starts with "seq", else of addresses (latches).
    for n in $(printf '%s\n%s\n' "$rin" "$rout" | grep -o '@[a-z0-9_]*' | tr -d @ | sort -u); do
        case "$n" in
        once|twice|srvfin) ;;
        seq*) sets+="    set $n { typeof tcp sequence; flags dynamic; }"$'\n' ;;
        *)    sets+="    set $n { type ipv4_addr; flags dynamic; }"$'\n' ;;
        esac
    done
    ip netns exec "$ns" nft -f - <<EOF
table inet tcpsim_fault {
    set once   { type ipv4_addr; flags dynamic; }
    set twice  { type ipv4_addr; flags dynamic; }
    set srvfin { type ipv4_addr; flags dynamic; }
${sets}    chain input {
        type filter hook input priority 0; policy accept;
        ${rin}
    }
    chain output {
        type filter hook output priority 0; policy accept;
        ${rout}
    }
}
EOF
}

rule_counters() {   # rule_counters NS LABEL -> one comment per rule with its counter
    local ns=$1 label=$2 chain line
    for chain in input output; do
        ip netns exec "$ns" nft list chain inet tcpsim_fault "$chain" 2>/dev/null |
            grep 'counter packets' | sed 's/^[[:space:]]*//' |
            while IFS= read -r line; do echo "fault rule ($label netns $chain hook): $line"; done || true
    done
}

run_scenario() {   # run_scenario NAME [OUTDIR]: reruns while tcpdump reports drops
    local try
    for try in $(seq "$TCPDUMP_TRIES"); do
        run_scenario_once "$@"
        [ "$TCPDUMP_DROPPED" = 0 ] && return 0
        log "    tcpdump reported '${TCPDUMP_DROPPED}' packets dropped by kernel (attempt $try of $TCPDUMP_TRIES); running $1 again"
    done
    log "ERROR: $1: tcpdump dropped packets in all $TCPDUMP_TRIES attempts"
    return 1
}

run_scenario_once() {   # run_scenario_once NAME [OUTDIR]; sets TCPDUMP_DROPPED
    local name=$1 out=${2:-$OUT}
    mkdir -p "$out"
    define_scenario "$name"
    log "=== $name: $DESC"
    setup_net

    local kernel sys more sys_s ns
    kernel=$(uname -r)
    sys=$(read_sysctls "$NS_C" tcp_syn_retries tcp_synack_retries tcp_syn_linear_timeouts tcp_timestamps)
    more=$(read_sysctls "$NS_C" tcp_sack tcp_window_scaling tcp_ecn tcp_fin_timeout tcp_orphan_retries \
           tcp_retries1 tcp_retries2 tcp_early_retrans tcp_frto tcp_syncookies tcp_tw_reuse \
           tcp_rto_min_us tcp_congestion_control)
    sys_s=$(read_sysctls "$NS_S" tcp_syn_retries tcp_synack_retries tcp_syn_linear_timeouts tcp_timestamps)
    local recov
    recov=$(read_sysctls "$NS_C" tcp_recovery tcp_reordering tcp_max_reordering tcp_dsack \
            tcp_thin_linear_timeouts tcp_autocorking tcp_slow_start_after_idle tcp_no_metrics_save \
            tcp_comp_sack_delay_ns tcp_comp_sack_nr tcp_pacing_ss_ratio tcp_pacing_ca_ratio \
            tcp_tso_win_divisor tcp_limit_output_bytes tcp_rmem tcp_wmem tcp_moderate_rcvbuf \
            tcp_adv_win_scale tcp_rto_max_ms)
    [ "$sys" = "$sys_s" ] || log "WARNING: client and server netns sysctls differ: $sys / $sys_s"

    install_rules "$NS_S" "$RULE_S" "$RULE_S_OUT"
    install_rules "$NS_C" "$RULE_C" ""

    local pcap="$out/$name.pcap" clog="$WORK/$name.client.log" slog="$WORK/$name.server.log"
    rm -f "$pcap" "$out/$name.trace" "$clog" "$slog"

    # -B 8192 (KiB) and -s 128: with the default buffer and snap length
    # tcpdump sometimes lost the last segments of a run; 128 bytes hold the
    # IP and TCP headers with any options.  The exit summary is checked below.
    : >"$WORK/tcpdump.out"   # (as for delayline.out in setup_net)
    ip netns exec "$NS_C" tcpdump -i "$DEV_C" -n -U --immediate-mode -B 8192 -s 128 -Z root -w "$pcap" \
        >"$WORK/tcpdump.out" 2>&1 &
    local tdpid=$!
    remember_pid "$tdpid"
    local i
    for i in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$WORK/tcpdump.out" || { cat "$WORK/tcpdump.out" >&2; return 1; }
    sleep 0.3

    if [ "$SERVER" = 1 ]; then
        # shellcheck disable=SC2086  # PEER_ARGS is a list of words
        ip netns exec "$NS_S" "${RT_APP[@]}" python3 "$HERE/peer.py" server "$ADDR_S" 80 "$slog" \
            --mode "$MODE" --bind-port "$BIND_PORT" $PEER_ARGS &
        remember_pid $!
        for i in $(seq 50); do grep -q listening "$slog" 2>/dev/null && break; sleep 0.1; done
        grep -q listening "$slog" || { log "server did not start"; return 1; }
    fi

    local wlogs=()
    if [ "$WATCH" = 1 ]; then
        # ss in each namespace (normal priority, not chrt: see peer.py)
        for ns in "$NS_C" "$NS_S"; do
            local wl="$WORK/$name.ss-$([ "$ns" = "$NS_C" ] && echo client || echo server).log"
            rm -f "$wl"
            ip netns exec "$ns" python3 "$HERE/peer.py" watch "$ADDR_S" "$PORT" "$wl" \
                --watch-label "$([ "$ns" = "$NS_C" ] && echo client || echo server)-ss" &
            remember_pid $!
            WATCH_PIDS+=($!)
            wlogs+=("$wl")
        done
        for wl in "${wlogs[@]}"; do
            for i in $(seq 50); do grep -q watching "$wl" 2>/dev/null && break; sleep 0.1; done
        done
    fi

    # shellcheck disable=SC2086
    ip netns exec "$NS_C" "${RT_APP[@]}" python3 "$HERE/peer.py" client "$ADDR_S" "$PORT" "$clog" \
        --mode "$MODE" --bind-port "$BIND_PORT" $PEER_ARGS &
    local cpid=$!
    remember_pid "$cpid"
    local waited=0
    while kill -0 "$cpid" 2>/dev/null; do
        sleep 0.2; waited=$((waited + 1))
        [ $((waited % 50)) = 0 ] && log "  ... client still running ($((waited / 5)) s)"
        if [ "$waited" -ge $((CLIENT_LIMIT_S * 5)) ]; then log "client did not finish; killing it"; break; fi
    done
    stop_pid "$cpid" TERM
    # Give the server (if it accepted) time to finish, then capture the tail
    # (retransmissions by orphaned sockets, TIME-WAIT re-ACKs).
    if [ "$SERVER" = 1 ] && grep -q "accept returned" "$slog" 2>/dev/null; then
        for i in $(seq $((SERVER_WAIT_S * 10))); do grep -q " done$" "$slog" && break; sleep 0.1; done
    fi
    sleep "$TAIL"
    local p
    for p in "${WATCH_PIDS[@]}"; do stop_pid "$p" TERM; done
    WATCH_PIDS=()
    stop_pid "$tdpid" INT
    cat "$WORK/tcpdump.out" | grep -E "packets (captured|received|dropped)" | sed 's/^/  tcpdump: /' >&2 || true
    TCPDUMP_DROPPED=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$WORK/tcpdump.out")
    [ -n "$TCPDUMP_DROPPED" ] || TCPDUMP_DROPPED="no summary"

    local comments=()
    comments+=("sysctls (more, client netns = server netns): $more")
    comments+=("sysctls (recovery, client netns = server netns): $recov")
    comments+=("congestion control: cubic on every socket (peer.py sets TCP_CONGESTION; the namespace default bbr is not used)")
    comments+=("capture: tcpdump -B 8192 -s 128 -w on the client's tun $DEV_C (raw IP link type; summary: $(grep -E 'packets (captured|received|dropped)' "$WORK/tcpdump.out" | tr '\n' ';' | sed 's/;$//; s/;/, /g')); C>S times = client transmit, S>C times = arrival at the client; faults = nftables drop on the receiver's input hook, after the capture point")
    local c
    while IFS= read -r c; do [ -n "$c" ] && comments+=("$c"); done < <(rule_counters "$NS_S" server; rule_counters "$NS_C" client)
    while IFS= read -r c; do comments+=("delay line: $c"); done < <(grep '^extra delay:' "$WORK/delayline.out" || true)
    if [ "$MODE" = data ]; then
        # what the kernel keeps per destination after the connection (fresh
        # namespaces every run, so nothing carries over into the next one)
        for ns in "$NS_C" "$NS_S"; do
            while IFS= read -r c; do [ -n "$c" ] && comments+=("tcp_metrics ($([ "$ns" = "$NS_C" ] && echo client || echo server) netns, after the run): $c"); done \
                < <(ip netns exec "$ns" ip tcp_metrics show 2>/dev/null || true)
        done
    fi
    if [ "$NSTAT" = 1 ]; then
        # the namespace's TCP MIB counters (/proc/net/snmp, /proc/net/netstat;
        # per namespace, and the namespaces are fresh): the non-zero ones
        for ns in "$NS_C" "$NS_S"; do
            c=$(ip netns exec "$ns" nstat -as 2>/dev/null | awk '$1 ~ /^(Tcp|TcpExt)/ { printf "%s%s %s", (n++ ? " " : ""), $1, $2 }' || true)
            comments+=("nstat ($([ "$ns" = "$NS_C" ] && echo client || echo server) netns, after the run, non-zero Tcp/TcpExt counters): ${c:-none}")
        done
    fi
    [ "$SERVER" = 1 ] && ! grep -q "accept returned" "$slog" 2>/dev/null &&
        comments+=("app: the server app never returned from accept() (killed at the end of the capture)")
    if [ "$MODE" = simultaneous_close ]; then
        local tc ts
        tc=$(awk '/shutdown\(SHUT_WR\) called/ {print $1; exit}' "$clog")
        ts=$(awk '/shutdown\(SHUT_WR\) called/ {print $1; exit}' "$slog")
        [ -n "$tc" ] && [ -n "$ts" ] &&
            comments+=("note: shutdown skew: the server called shutdown(SHUT_WR) $(( (ts - tc) / 1000 )) us after the client (CLOCK_REALTIME, both at the shared deadline)")
    fi

    local applogs=(--app-log "$clog")
    [ "$SERVER" = 1 ] && applogs+=(--app-log "$slog")
    for c in "${wlogs[@]}"; do applogs+=(--app-log "$c"); done
    local cargs=()
    for c in "${comments[@]}"; do cargs+=(--comment "$c"); done
    python3 "$HERE/pcap2trace.py" "$pcap" -o "$out/$name.trace" \
        --scenario "$name" --desc "$DESC" --kernel "$kernel" --sysctls "$sys" \
        --link "no netem in this kernel (CONFIG_NET_SCH_NETEM unset): ${DELAY_MS} ms one-way delay each way by delayline.py (userspace FIFO between two tun devices), RTT ${DELAY_MS}x2 ms" \
        "${applogs[@]}" "${cargs[@]}"
    teardown_net
    log "    wrote $out/$name.pcap and $name.trace ($(grep -vc '^#' "$out/$name.trace") segments)"
}

# ---------------------------------------------------------------- variants
# Three scenarios (synack_lost_first, server_fin_lost, synack_lost_twice) contain a structural timer tie: a retransmission by one side
# reaches the other side at the very instant the other side's own
# retransmission timer expires (both timers have the same length and the
# second one was started one one-way delay after the first, which is exactly
# the time the first side's retransmission needs to arrive; this holds for
# any delay).  The kernel's timer wheel (HZ=250 here: 4 ms ticks, 32 ms
# buckets for ~1 s timers) decides the order at random, so the kernel
# produces two different segment sequences.  For these scenarios the script
# repeats the run until it has seen both and keeps one of each:
#   NAME.pcap/.trace      variant A: the peer's retransmission arrived first
#   NAME-alt.pcap/.trace  variant B: the local timer fired first (the two
#                         retransmissions cross on the wire)
# classify_NAME TRACE prints A or B.
classify_synack_lost_first() {   # A: 2 SYN-ACKs (dup SYN answered); B: 3
    local n
    n=$(grep -v '^#' "$1" | awk '$2 == "S>C" && $3 == "SA"' | wc -l)
    if [ "$n" = 2 ]; then echo A; elif [ "$n" = 3 ]; then echo B; else echo "?"; fi
}
classify_server_fin_lost() {     # first S>C segment after the client's 2nd FIN: A (ACK) or FA (server FIN)
    grep -v '^#' "$1" | awk '$2 == "C>S" && $3 ~ /F/ { n++; next }
        n == 2 && $2 == "S>C" { print ($3 == "A" ? "A" : ($3 == "FA" ? "B" : "?")); exit }'
}
classify_synack_lost_twice() {   # A: 3 SYNs (1st dup SYN answered, its SA dropped); B: 2 SYNs
    local n
    n=$(grep -v '^#' "$1" | awk '$2 == "C>S" && $3 == "S"' | wc -l)
    if [ "$n" = 3 ]; then echo A; elif [ "$n" = 2 ]; then echo B; else echo "?"; fi
}
VARIANT_TEXT_synack_lost_twice_A="variant A: the client's first retransmitted SYN reached the server before the server's SYN-ACK timer fired; the SYN-ACK answering it was the second one dropped, so the client sent a third SYN (see README)"
VARIANT_TEXT_synack_lost_twice_B="variant B: the server's SYN-ACK timer fired before the client's retransmitted SYN arrived; that retransmitted SYN-ACK was the second one dropped, and the SYN-ACK answering the crossing SYN got through (see README)"
VARIANT_TEXT_synack_lost_first_A="variant A: the client's retransmitted SYN reached the server before the server's SYN-ACK timer fired; the server answered it with the SYN-ACK (see README)"
VARIANT_TEXT_synack_lost_first_B="variant B: the server's SYN-ACK timer fired before the client's retransmitted SYN arrived; SYN and SYN-ACK crossed, the duplicate SYN got a second SYN-ACK (see README)"
VARIANT_TEXT_server_fin_lost_A="variant A: the client's retransmitted FIN reached the server (LAST-ACK) before the server's FIN timer fired; the server ACKed it, then retransmitted its FIN (see README)"
VARIANT_TEXT_server_fin_lost_B="variant B: the server's FIN timer fired before the client's retransmitted FIN arrived; both FINs crossed, the server then ACKed the duplicate FIN (see README)"
MAX_TRIES=15

capture_variants() {   # capture_variants NAME
    local name=$1 try v tmp="$WORK/variants" have_A=0 have_B=0 tally="" dst txt var
    for try in $(seq "$MAX_TRIES"); do
        run_scenario "$name" "$tmp"
        v=$("classify_$name" "$tmp/$name.trace")
        tally+="$v"
        log "    attempt $try: variant $v"
        var="have_$v"
        if [ "$v" = A ] || [ "$v" = B ]; then
            if [ "${!var}" = 0 ]; then
                if [ "$v" = A ]; then dst="$OUT/$name"; else dst="$OUT/$name-alt"; fi
                txt="VARIANT_TEXT_${name}_$v"
                mv "$tmp/$name.pcap" "$dst.pcap"
                sed "3a # ${!txt}; kernel chose this in attempt $try" "$tmp/$name.trace" >"$dst.trace"
                rm -f "$tmp/$name.trace"
                printf -v "$var" 1
            fi
        fi
        [ "$have_A" = 1 ] && [ "$have_B" = 1 ] && break
    done
    log "    $name: variants seen in order: $tally"
    [ "$have_A" = 1 ] || log "WARNING: $name: variant A never seen in $MAX_TRIES attempts"
    [ "$have_B" = 1 ] || log "WARNING: $name: variant B never seen in $MAX_TRIES attempts"
    return 0
}

# ---------------------------------------------------------------- repeats
# The loss-recovery scenarios are run REPEAT (3) times each.  A run's outcome
# is what the client sent: its segments' flags (without PSH, which the kernel
# sets on the last segment of each burst), rel_seq and len, in order.  The
# first run is kept as NAME.*; if a later run sent something else, the first
# such run is kept as NAME-alt.*, and each file's `# variant:` line says which
# runs had which outcome and where the two first differ.  How many segments
# the server sent (its ACK batching, which follows arrival timing) is listed
# too but does not make a variant.
sender_segments() {   # sender_segments TRACE: one line per client segment
    grep -v '^#' "$1" | awk '$2 == "C>S" { f = $3; gsub("P", "", f); print f, $4, $6 }'
}
first_difference() {   # first_difference TRACE_A TRACE_B
    paste -d'|' <(sender_segments "$1") <(sender_segments "$2") |
        awk -F'|' '$1 != $2 { printf "client segment #%d is \"%s\" in run A, \"%s\" in run B", NR, $1, $2; exit }'
}
# run_summary TRACE (RUN_SUMMARY=1): the segments with FIN or RST (t_us dir
# flags), the app lines with an errno, and the client's socket states from
# the ss watch from t_us 0 on (t_us, state, timer, bracket; without the
# queues, the addresses and the `gone:` lines), for the `# variant:` line.
run_summary() {
    grep -v '^#' "$1" | awk '$3 ~ /[FR]/ { printf "%s%s %s %s", (n++ ? ", " : "segments with FIN or RST: "), $1, $2, $3 }'
    awk '/^# app: / && (/errno=/ || ($4 == "client-ss" && $6 != "gone:")) {
            t = substr($3, 6); if (t < 0) next
            sub(/ \[prev ss -/, " [-")
            out = t
            for (i = ($4 == "client-ss" ? 6 : 4); i <= NF; i++)
                if ($i !~ /^[0-9]+$/ && $i !~ /:([0-9]+|\*)$/) out = out " " $i
            printf "%s%s", (n++ ? ", " : "; app errno and client ss: "), out }' "$1"
}
capture_repeat() {   # capture_repeat NAME
    local name=$1 tmp="$WORK/repeats/$1" try sig first="" alt="" alt_try="" letter tally="" nsrv="" diff="" psh="" summary=""
    for try in $(seq "$REPEAT"); do
        run_scenario "$name" "$tmp/$try"
        sig=$(sender_segments "$tmp/$try/$name.trace" | md5sum | cut -c1-32)
        if [ -z "$first" ]; then first=$sig letter=A
        elif [ "$sig" = "$first" ]; then letter=A
        elif [ -z "$alt" ]; then alt=$sig letter=B alt_try=$try
        elif [ "$sig" = "$alt" ]; then letter=B
        else letter=C; log "WARNING: $name: run $try had a third outcome (not kept)"
        fi
        tally+=$letter
        psh+="run $try: $(grep -v '^#' "$tmp/$try/$name.trace" | awk '$2 == "C>S" && $3 ~ /P/ { printf "%s%s:%s", (n++ ? " " : ""), $4, $6 }'); "
        nsrv+="$(grep -v '^#' "$tmp/$try/$name.trace" | awk '$2 == "S>C"' | wc -l) "
        log "    run $try: outcome $letter ($(sender_segments "$tmp/$try/$name.trace" | wc -l) client segments)"
        [ "$RUN_SUMMARY" = 1 ] && summary+="run $try: $(run_summary "$tmp/$try/$name.trace"); "
    done
    summary=${summary%; }
    local runs="runs of this scenario in order: $tally ($REPEAT runs; outcome = the client's segments: flags without PSH, rel_seq, len, in order); server segments per run: ${nsrv% }; client segments with PSH (rel_seq:len) per run: ${psh%; }"
    [ "$RUN_SUMMARY" = 1 ] && runs+="; per run (the kept run first): $summary"
    [ -n "$alt" ] && diff=$(first_difference "$tmp/1/$name.trace" "$tmp/$alt_try/$name.trace")
    mv "$tmp/1/$name.pcap" "$OUT/$name.pcap"
    if [ -n "$alt" ]; then
        sed "3a # variant: A, run 1; $runs; $diff (B is $name-alt.trace)" "$tmp/1/$name.trace" >"$OUT/$name.trace"
        mv "$tmp/$alt_try/$name.pcap" "$OUT/$name-alt.pcap"
        sed "3a # variant: B, run $alt_try; $runs; $diff (A is $name.trace)" "$tmp/$alt_try/$name.trace" >"$OUT/$name-alt.trace"
    else
        sed "3a # variant: run 1 kept; $runs; the same in every run" "$tmp/1/$name.trace" >"$OUT/$name.trace"
        rm -f "$OUT/$name-alt.pcap" "$OUT/$name-alt.trace"
    fi
    rm -rf "$tmp"
    log "    $name: outcomes $tally"
}

# ---------------------------------------------------------------- main
if [ "$#" -gt 0 ]; then SCEN=("$@"); else SCEN=("${ALL_SCENARIOS[@]}"); fi
for s in "${SCEN[@]}"; do define_scenario "$s" >/dev/null; done   # validate names first
for s in "${SCEN[@]}"; do
    if declare -F "classify_$s" >/dev/null; then capture_variants "$s"
    elif [[ " ${REPEAT_SCENARIOS[*]} " == *" $s "* ]]; then capture_repeat "$s"
    else run_scenario "$s"; fi
done
log "done"
