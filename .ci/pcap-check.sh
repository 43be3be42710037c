#!/usr/bin/env bash
# Checks tcpsim's pcap output (SPEC §6) with tshark, the way a user would
# open it: runs crates/net/examples/pcap_lost_syn.rs (the client's first SYN
# is dropped, retransmitted at 1 s) and checks that tshark
#   - reads the capture without error, with as many packets as the example
#     reported, every one decoded as IPv4 + TCP and none malformed;
#   - with checksum validation on, finds every IP and TCP checksum good;
#   - flags exactly one packet as a TCP retransmission: a SYN (no ACK),
#     at exactly 1.000000000 s;
#   - reports nanosecond time precision.
# Then it runs crates/net/examples/pcap_options.rs (window scale 7, SACK and
# timestamps on both sides through Config, the client's first data segment
# dropped) and checks that tshark decodes, packet by packet, the options
# tcpsim sent (as the example reports them from the run's trace): MSS,
# window-scale shift, SACK-permitted, TSval/TSecr and SACK edges; that the
# SYN and the SYN-ACK offer window scale 7, SACK-permitted and timestamps,
# the SYN with TSecr 0 and the SYN-ACK echoing the SYN's TSval; that every
# later segment has timestamps and one has a SACK block; and that tshark
# applies the negotiated window scale (factor 128).
# Then it runs `tcpsim run configs/syn-lost.toml --pcapng` and checks that
# capinfos and tshark read the pcapng: two interfaces named client and
# server, nanosecond precision, 15 packets with good checksums, each
# interface's outbound and inbound counts (epb_flags direction), the one
# comment "dropped: fault" on the first SYN's outbound copy, and, each
# interface split into its own file, one retransmission on the client's
# (the SYN at 1.000000000 s) and none on the server's.
# Installs tshark with apt if it is missing (needs root or sudo). Called from
# .ci/run; runs from any directory.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

say() { printf 'pcap-check: %s\n' "$*"; }
fail() {
	printf 'pcap-check: FAIL: %s\n' "$*" >&2
	exit 1
}

# ----- tshark -----

install_tshark() {
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "tshark is missing and installing it needs root (or sudo)"
		sudo=(sudo)
	fi
	# Don't stop at the "should non-superusers capture packets?" question.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		"${sudo[@]}" debconf-set-selections
	"${sudo[@]}" apt-get update -q &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends tshark
}

if ! command -v tshark >/dev/null || ! command -v capinfos >/dev/null; then
	say "installing tshark"
	if ! install_tshark; then
		say "apt failed; retrying once in 10 s"
		sleep 10
		install_tshark || fail "could not install tshark with apt-get"
	fi
fi
say "$(tshark --version 2>/dev/null | head -n 1)"

# ----- the capture -----

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pcap=$tmp/lost-syn.pcap

# The example prints "<path>: N segments captured, outcome <outcome> (...)".
summary=$(cargo run --quiet -p tcpsim-net --example pcap_lost_syn -- "$pcap") ||
	fail "the pcap_lost_syn example failed"
say "example: $summary"
reported=$(sed -n 's/.*: \([0-9][0-9]*\) segments captured.*/\1/p' <<<"$summary")
[ -n "$reported" ] || fail "cannot find the segment count in the example's output: $summary"
[ -s "$pcap" ] || fail "the example wrote no capture at $pcap"

# tshark with checksum validation on; prints the matching packets, one
# field line each. Running as root makes tshark warn on stderr, which is
# not an error: anything else on stderr, or a non-zero exit, is.
tshark_fields() {
	local filter=$1
	shift
	local out err
	err=$tmp/tshark.err
	if ! out=$(tshark -n -r "$pcap" \
		-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
		-o tcp.analyze_sequence_numbers:TRUE \
		-Y "$filter" -T fields -E separator=' ' "$@" 2>"$err"); then
		cat "$err" >&2
		fail "tshark failed reading the capture (filter: $filter)"
	fi
	if grep -v -e 'Running as user "root"' -e '^ *$' "$err" >&2; then
		fail "tshark complained reading the capture (filter: $filter)"
	fi
	printf '%s' "$out"
}
# The number of packets matching a display filter.
count() {
	local out
	out=$(tshark_fields "$1" -e frame.number) || exit 1
	grep -c . <<<"$out" || true
}

# 1. Readable, every packet counted.
total=$(count 'frame')
say "tshark reads $total packets; the example reported $reported"
[ "$total" -eq "$reported" ] || fail "tshark reads $total packets, the example reported $reported"
[ "$total" -gt 0 ] || fail "the capture is empty"
decoded=$(count 'ip.version == 4 && tcp && !_ws.malformed')
say "$decoded of $total decode as well-formed IPv4 + TCP"
[ "$decoded" -eq "$total" ] || {
	tshark -n -r "$pcap" -Y '!(ip.version == 4 && tcp) || _ws.malformed' >&2 || true
	fail "$((total - decoded)) packet(s) are not well-formed IPv4 + TCP"
}

# 2. Checksums. Counting the good ones as well proves the validation ran
#    (an unchecked checksum's status is "Unverified", neither good nor bad).
for proto in ip tcp; do
	bad=$(count "$proto.checksum.status == \"Bad\"")
	good=$(count "$proto.checksum.status == \"Good\"")
	say "$proto checksums: $good good, $bad bad"
	if [ "$bad" -ne 0 ] || [ "$good" -ne "$total" ]; then
		tshark -n -r "$pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
			-Y "$proto.checksum.status != \"Good\"" -V >&2 || true
		fail "$proto checksums: $good good and $bad bad of $total packets"
	fi
done

# 3. The one retransmission: the client's SYN, at 1 s.
retrans=$(tshark_fields 'tcp.analysis.retransmission' \
	-e frame.number -e frame.time_relative -e frame.time_epoch -e tcp.flags.str)
n_retrans=$(grep -c . <<<"$retrans" || true)
say "tcp.analysis.retransmission: $n_retrans packet(s): ${retrans:-none}"
[ "$n_retrans" -eq 1 ] || fail "expected exactly 1 retransmission, tshark flags $n_retrans"
syn_retrans=$(count 'tcp.analysis.retransmission && tcp.flags.syn == 1 && tcp.flags.ack == 0')
[ "$syn_retrans" -eq 1 ] || fail "the retransmission is not a SYN without ACK: $retrans"
read -r _ rel epoch _ <<<"$retrans"
[ "$rel" = "1.000000000" ] || fail "the SYN retransmission is at frame.time_relative $rel, not 1.000000000"
[ "$epoch" = "1.000000000" ] || fail "the SYN retransmission is at frame.time_epoch $epoch, not 1.000000000"
say "the retransmission is a SYN at ${rel} s (epoch ${epoch})"

# 4. Nanosecond timestamps.
info=$(capinfos -M "$pcap" 2>&1) || {
	printf '%s\n' "$info" >&2
	fail "capinfos cannot read the capture"
}
# "File timestamp precision:" in tshark 4.x, "Time precision:" before.
precision=$(sed -n -E 's/^(File timestamp|Time) precision: *//p' <<<"$info")
type=$(sed -n 's/^File type: *//p' <<<"$info")
encap=$(sed -n 's/^File encapsulation: *//p' <<<"$info")
packets=$(sed -n 's/^Number of packets: *//p' <<<"$info")
say "capinfos: file type '$type', encapsulation '$encap', $packets packets, time precision '$precision'"
[ "$packets" = "$total" ] || fail "capinfos counts '$packets' packets, tshark $total"
[ "$precision" = "nanoseconds (9)" ] || fail "time precision is '$precision', not nanoseconds"
bad_epochs=$(tshark_fields 'frame' -e frame.time_epoch | grep -cv '^[0-9]*\.[0-9]\{9\}$' || true)
[ "$bad_epochs" -eq 0 ] || fail "$bad_epochs frame.time_epoch value(s) without 9 decimals"
say "all $total timestamps have 9 decimals"

# 5. Options: a second capture, every option on.
pcap=$tmp/options.pcap
# The example prints "<path>: N segments captured, ...", then one line
# "options: mss;wscale;sack_perm;tsval;tsecr;sack_le;sack_re" a segment.
out=$(cargo run --quiet -p tcpsim-net --example pcap_options -- "$pcap") ||
	fail "the pcap_options example failed"
summary=$(head -n 1 <<<"$out")
say "example: $summary"
reported=$(sed -n 's/.*: \([0-9][0-9]*\) segments captured.*/\1/p' <<<"$summary")
[ -n "$reported" ] || fail "cannot find the segment count in the example's output: $summary"
[ -s "$pcap" ] || fail "the example wrote no capture at $pcap"
sent=$(sed -n 's/^options: //p' <<<"$out")
[ "$(grep -c . <<<"$sent")" -eq "$reported" ] ||
	fail "the example reported $reported segments but the options of $(grep -c . <<<"$sent")"

option_fields=(tcp.options.mss_val tcp.options.wscale.shift tcp.options.sack_perm
	tcp.options.timestamp.tsval tcp.options.timestamp.tsecr
	tcp.options.sack_le tcp.options.sack_re)
known=$(tshark -G fields 2>/dev/null | cut -f3)
for f in "${option_fields[@]}" tcp.window_size_scalefactor; do
	grep -qxF "$f" <<<"$known" || fail "this tshark has no field $f"
done

total=$(count 'frame')
[ "$total" -eq "$reported" ] || fail "tshark reads $total packets of the options capture, the example reported $reported"
decoded=$(count 'ip.version == 4 && tcp && !_ws.malformed && !_ws.expert.severity == error')
[ "$decoded" -eq "$total" ] || {
	tshark -n -r "$pcap" -Y '_ws.malformed || _ws.expert.severity == error' -V >&2 || true
	fail "$((total - decoded)) packet(s) of the options capture are malformed"
}
bad=$(count 'tcp.checksum.status != "Good" || ip.checksum.status != "Good"')
[ "$bad" -eq 0 ] || fail "$bad packet(s) of the options capture have a bad or unchecked checksum"

# What tshark decodes, one line a packet, absolute sequence numbers; the
# SACK-permitted field shows the option's bytes, normalised to 1 when there.
fields=()
for f in "${option_fields[@]}"; do fields+=(-e "$f"); done
decoded=$(tshark_fields 'frame' -o tcp.relative_sequence_numbers:FALSE -E separator=';' "${fields[@]}" |
	awk -F ';' -v OFS=';' '{ if ($3 != "") $3 = 1; print }')
if ! diff <(printf '%s\n' "$sent") <(printf '%s\n' "$decoded") >"$tmp/options.diff"; then
	cat "$tmp/options.diff" >&2
	fail "tshark decodes other options than tcpsim sent (< sent, > decoded; mss;wscale;sack_perm;tsval;tsecr;sack_le;sack_re)"
fi
say "tshark decodes the options tcpsim sent in all $total packets"

# The handshake offers everything, and the rest carries what was agreed.
field() { cut -d ';' -f "$2" <<<"$1"; }
syn=$(sed -n 1p <<<"$decoded")
synack=$(sed -n 2p <<<"$decoded")
[ "$(tshark_fields 'frame.number == 1' -e tcp.flags.str)" = "··········S·" ] ||
	fail "packet 1 is not the client's SYN"
[ "$(tshark_fields 'frame.number == 2' -e tcp.flags.str)" = "·······A··S·" ] ||
	fail "packet 2 is not the server's SYN-ACK"
for p in "SYN:$syn" "SYN-ACK:$synack"; do
	name=${p%%:*} line=${p#*:}
	[ "$(field "$line" 1)" = 1460 ] || fail "the $name has no MSS 1460: $line"
	[ "$(field "$line" 2)" = 7 ] || fail "the $name has no window scale 7: $line"
	[ "$(field "$line" 3)" = 1 ] || fail "the $name has no SACK-permitted: $line"
	[ -n "$(field "$line" 4)" ] || fail "the $name has no TSval: $line"
done
[ "$(field "$syn" 5)" = 0 ] || fail "the SYN's TSecr is not 0: $syn"
[ "$(field "$synack" 5)" = "$(field "$syn" 4)" ] ||
	fail "the SYN-ACK's TSecr $(field "$synack" 5) is not the SYN's TSval $(field "$syn" 4)"
say "SYN: mss $(field "$syn" 1), wscale $(field "$syn" 2), sackOK, TS val $(field "$syn" 4) ecr 0; SYN-ACK: the same, ecr $(field "$synack" 5)"
later=$(sed -n '3,$p' <<<"$decoded")
missing=$(awk -F ';' '$4 == "" || $5 == ""' <<<"$later" | grep -c . || true)
[ "$missing" -eq 0 ] || fail "$missing segment(s) after the handshake without timestamps"
wrong=$(awk -F ';' '$1 != "" || $2 != "" || $3 != ""' <<<"$later" | grep -c . || true)
[ "$wrong" -eq 0 ] || fail "$wrong segment(s) after the handshake carry MSS, window scale or SACK-permitted"
sacks=$(awk -F ';' '$6 != "" && $7 != ""' <<<"$later")
[ -n "$sacks" ] || fail "no segment carries a SACK block"
say "$(grep -c . <<<"$later") later segments with timestamps; SACK blocks: $(cut -d ';' -f 6,7 <<<"$sacks" | tr ';\n' '-,' | sed 's/,$//')"
unscaled=$(count 'frame.number > 2 && tcp.window_size_scalefactor != 128')
[ "$unscaled" -eq 0 ] || fail "$unscaled packet(s) after the handshake without the window scale factor 128"
say "tshark scales the later windows by 128 (shift 7)"

# 6. pcapng: `tcpsim run configs/syn-lost.toml --pcapng` (SPEC §6). The
#    config (its description derives every time): the client's first SYN is
#    dropped by a fault at 0; RFC 6298's initial RTO of 1 s sends it again at
#    1 s; 50 ms each way; 8 segments sent (client: SYN, SYN, ACK, FIN, ACK;
#    server: SYN-ACK, ACK, FIN), all but the first delivered.
pcapng=$tmp/lost-syn.pcapng
cargo run --quiet -- run configs/syn-lost.toml --quiet --pcapng "$pcapng" >/dev/null ||
	fail "tcpsim run --pcapng failed"
pcap=$pcapng
info=$(capinfos -M "$pcap" 2>&1) || {
	printf '%s\n' "$info" >&2
	fail "capinfos cannot read the pcapng"
}
type=$(sed -n 's/^File type: *//p' <<<"$info")
precision=$(sed -n -E 's/^(File timestamp|Time) precision: *//p' <<<"$info")
n_if=$(sed -n 's/^Number of interfaces in file: *//p' <<<"$info")
if_names=$(sed -n 's/^ *Name = //p' <<<"$info" | paste -sd ' ')
say "capinfos: '$type', $n_if interfaces ($if_names), precision '$precision'"
[[ $type == *pcapng* ]] || fail "capinfos reads file type '$type', not pcapng"
[ "$n_if" = 2 ] || fail "$n_if interfaces, expected 2 (one per host)"
[ "$if_names" = "client server" ] || fail "interface names '$if_names', expected 'client server'"
[ "$precision" = "nanoseconds (9)" ] || fail "pcapng time precision is '$precision'"

total=$(count 'frame')
[ "$total" -eq 15 ] || fail "tshark reads $total packets of the pcapng, expected 8 outbound + 7 inbound"
decoded=$(count 'ip.version == 4 && tcp && !_ws.malformed && tcp.checksum.status == "Good" && ip.checksum.status == "Good"')
[ "$decoded" -eq "$total" ] || fail "$((total - decoded)) pcapng packet(s) malformed or with a bad checksum"
say "tshark reads the pcapng: $total packets, all IPv4 + TCP with good checksums"

# Directions (epb_flags: 1 inbound, 2 outbound), per interface, with the
# address that must be the interface's host's: the source of what it sends,
# the destination of what it receives.
dirs=$(tshark_fields 'frame' -e frame.interface_id -e frame.packet_flags_direction -e ip.src -e ip.dst |
	awk '{ d = ($2 == "0x00000002") ? "out" : ($2 == "0x00000001") ? "in" : "?"
	       host = (d == "out") ? $3 : $4; print $1, d, host }' | sort | uniq -c | awk '{ print $2 ":" $3 ":" $4 "=" $1 }' | paste -sd ' ')
say "interface:direction:host=packets: $dirs"
[ "$dirs" = "0:in:10.0.0.1=3 0:out:10.0.0.1=5 1:in:10.0.0.2=4 1:out:10.0.0.2=3" ] ||
	fail "directions: expected 0:in:10.0.0.1=3 0:out:10.0.0.1=5 1:in:10.0.0.2=4 1:out:10.0.0.2=3"

# The drop: one comment, on the first SYN's outbound copy at the epoch.
comments=$(tshark_fields 'frame.comment' -e frame.number -e frame.interface_id \
	-e frame.packet_flags_direction -e frame.time_epoch -e tcp.flags.str -e frame.comment)
say "commented packets: $comments"
[ "$comments" = "1 0 0x00000002 946684800.000000000 ··········S· dropped: fault" ] ||
	fail "expected one comment 'dropped: fault' on packet 1 (client, outbound, SYN, at 946684800.000000000)"

# TCP analysis one interface at a time: with both copies of a segment in
# one file tshark flags each inbound copy as a retransmission, and a display
# filter does not isolate the analysis, so each interface goes to its own
# file first. The client's has the one retransmission (the SYN, 1 s after
# the capture's first packet, the dropped SYN at 0); the server never saw
# the lost SYN, so its interface has none.
for i in 0 1; do
	tshark -n -r "$pcapng" -Y "frame.interface_id == $i" -w "$tmp/if$i.pcapng" 2>"$tmp/split.err" || {
		cat "$tmp/split.err" >&2
		fail "tshark cannot split interface $i out of the pcapng"
	}
done
pcap=$tmp/if0.pcapng
[ "$(count 'frame')" -eq 8 ] || fail "interface 0 (client) has $(count 'frame') packets, expected 8"
retrans=$(tshark_fields 'tcp.analysis.retransmission' \
	-e frame.time_relative -e frame.time_epoch -e tcp.flags.str -e frame.interface_name)
say "client interface: tcp.analysis.retransmission: ${retrans:-none}"
[ "$(grep -c . <<<"$retrans")" -eq 1 ] || fail "expected exactly 1 retransmission on the client's interface"
[ "$retrans" = "1.000000000 946684801.000000000 ··········S· client" ] ||
	fail "the client's retransmission is not the SYN at 1.000000000 s (epoch 946684801.000000000)"
pcap=$tmp/if1.pcapng
[ "$(count 'frame')" -eq 7 ] || fail "interface 1 (server) has $(count 'frame') packets, expected 7"
n_server=$(count 'tcp.analysis.retransmission')
say "server interface: $n_server retransmission(s)"
[ "$n_server" -eq 0 ] || fail "the server's interface shows $n_server retransmission(s), expected none"

say "OK"
