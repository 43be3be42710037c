#!/usr/bin/env python3
"""Convert a pcap of one TCP connection attempt into a tcpsim reference trace.

Standard library only.  Reads the classic pcap format (not pcapng) in either
byte order, with microsecond or nanosecond timestamps, and these link types:
  0   BSD loopback/NULL        1   Ethernet (with 802.1Q tags)
  12/14/101  raw IP (tun devices; what capture.sh uses)
  113 Linux cooked SLL         276 Linux cooked SLL2 (tcpdump -i any)
IPv4 and IPv6 (no extension headers) are understood; non-TCP packets are
skipped and counted in a comment.

Output (see README.md):
  # scenario: NAME: DESCRIPTION
  # kernel: ...   sysctls: ...
  # link: ...
  ...more comment lines (app events, fault counters, notes)...
  # columns: t_us dir flags rel_seq rel_ack len win options
  t_us dir flags rel_seq rel_ack len win options   (one line per TCP segment)

win is the 16-bit window field as on the wire (not scaled).  options is the
rest of the line, tcpdump-style and in wire order: `<>` when the segment has
none, else e.g. `<mss 1460,sackOK,TS val 12345 ecr 0,nop,wscale 10>`.
Elements: `mss N`, `sackOK`, `TS val V ecr E` (both raw, not relative),
`wscale N`, `nop`, `eol`, `sack N {l:r}{l:r}...` (N blocks, each edge
relative to the ISN of the segment's receiver, i.e. the sender of the data
being SACKed, mod 2^32), `opt-K` for any other kind K (e.g. `opt-30`), and
`opt-K bad-len L` / `truncated` when a length is malformed or the option
list runs past the captured bytes.  The option list never contains a space
before its closing `>`, but does contain spaces inside, so a reader splits
off the first seven whitespace-separated columns and keeps the rest.

The client is the sender of the first SYN without ACK.  rel_seq = seq minus
the sender's ISN (seq of its first SYN); rel_ack = ack minus the receiver's
ISN, 0 if ACK is clear or the receiver's ISN is not known yet.  If a side
never sent a SYN its ISN is taken as 0 (raw numbers), which is noted.

usage: pcap2trace.py PCAP -o OUT --scenario NAME --desc TEXT --kernel K
         --sysctls TEXT --link TEXT [--app-log FILE]... [--comment TEXT]...
       pcap2trace.py PCAP -o OUT --reuse-header OLD.trace
         (re-convert an existing capture: every comment line of OLD.trace
         except `# columns:` is kept as it is, the segment lines are made
         anew from PCAP; for traces made before a format change)
"""
import argparse, struct, sys

FLAG_FIN, FLAG_SYN, FLAG_RST, FLAG_PSH, FLAG_ACK, FLAG_URG = 1, 2, 4, 8, 16, 32
FLAG_ECE, FLAG_CWR = 64, 128


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit("%s: too short for a pcap header" % path)
    magic = data[:4]
    table = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    if magic not in table:
        raise SystemExit("%s: not a classic pcap file (pcapng is not supported)" % path)
    bo, ns_per_unit = table[magic]
    _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack(bo + "HHiIII", data[4:24])
    linktype &= 0x0FFFFFFF
    off = 24
    pkts = []
    while off + 16 <= len(data):
        sec, frac, caplen, _origlen = struct.unpack(bo + "IIII", data[off:off + 16])
        off += 16
        pkts.append((sec * 1_000_000_000 + frac * ns_per_unit, data[off:off + caplen]))
        off += caplen
    return linktype, pkts


def l3_payload(linktype, frame):
    """Return (ethertype-ish 4|6|None, bytes of the IP packet)."""
    if linktype in (12, 14, 101):                    # raw IP
        if not frame:
            return None, b""
        v = frame[0] >> 4
        return (v if v in (4, 6) else None), frame
    if linktype == 1:                                # Ethernet
        if len(frame) < 14:
            return None, b""
        et, off = struct.unpack("!H", frame[12:14])[0], 14
        while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
            et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
        return {0x0800: 4, 0x86DD: 6}.get(et), frame[off:]
    if linktype == 113:                              # Linux SLL
        if len(frame) < 16:
            return None, b""
        et = struct.unpack("!H", frame[14:16])[0]
        return {0x0800: 4, 0x86DD: 6}.get(et), frame[16:]
    if linktype == 276:                              # Linux SLL2
        if len(frame) < 20:
            return None, b""
        et = struct.unpack("!H", frame[0:2])[0]
        return {0x0800: 4, 0x86DD: 6}.get(et), frame[20:]
    if linktype == 0:                                # BSD NULL, host byte order
        if len(frame) < 4:
            return None, b""
        fam = struct.unpack("<I", frame[:4])[0]
        if fam > 0xFFFF:
            fam = struct.unpack(">I", frame[:4])[0]
        return {2: 4, 10: 6, 24: 6, 28: 6, 30: 6}.get(fam), frame[4:]
    raise SystemExit("unsupported link type %d" % linktype)


def parse_tcp(ver, ip):
    """Return dict for a TCP segment, or None."""
    if ver == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            return None
        src, dst = ip[12:16], ip[16:20]
        l4, l4len = ip[ihl:], total - ihl
        srcs = ".".join(str(b) for b in src)
        dsts = ".".join(str(b) for b in dst)
    elif ver == 6:
        if len(ip) < 40 or ip[6] != 6:
            return None
        l4len = struct.unpack("!H", ip[4:6])[0]
        l4 = ip[40:]
        srcs, dsts = ip[8:24].hex(), ip[24:40].hex()
    else:
        return None
    if len(l4) < 20:
        return None
    sport, dport, seq, ack, offflags = struct.unpack("!HHIIH", l4[:14])
    doff = (offflags >> 12) * 4
    win = struct.unpack("!H", l4[14:16])[0]
    return {
        "src": (srcs, sport), "dst": (dsts, dport), "seq": seq, "ack": ack,
        "flags": offflags & 0xFF, "len": l4len - doff, "win": win,
        # the option bytes as captured (a short snaplen may cut them; the
        # header length says how many there should be)
        "opts": l4[20:doff], "opts_len": max(0, doff - 20),
    }


def parse_options(raw, want_len):
    """Decode TCP options into a list of (kind, value) in wire order.

    value: int for mss/wscale, (val, ecr) for TS, list of (l, r) for sack,
    None otherwise; ("bad", kind, length) for a malformed length and
    ("truncated",) when the capture ends inside the option list."""
    out, i = [], 0
    while i < want_len:
        if i >= len(raw):
            out.append(("truncated", None))
            break
        k = raw[i]
        if k == 0:
            out.append(("eol", None))
            i += 1
            continue                     # padding after EOL is shown too
        if k == 1:
            out.append(("nop", None))
            i += 1
            continue
        if i + 1 >= len(raw):
            out.append(("truncated", None))
            break
        ln = raw[i + 1]
        if ln < 2 or i + ln > want_len:
            out.append(("bad", (k, ln)))
            break
        if i + ln > len(raw):
            out.append(("truncated", None))
            break
        body = raw[i + 2:i + ln]
        if k == 2 and ln == 4:
            out.append(("mss", struct.unpack("!H", body)[0]))
        elif k == 3 and ln == 3:
            out.append(("wscale", body[0]))
        elif k == 4 and ln == 2:
            out.append(("sackOK", None))
        elif k == 5 and (ln - 2) % 8 == 0 and ln > 2:
            out.append(("sack", [struct.unpack("!II", body[j:j + 8]) for j in range(0, ln - 2, 8)]))
        elif k == 8 and ln == 10:
            out.append(("TS", struct.unpack("!II", body)))
        elif k in (2, 3, 4, 5, 8):
            out.append(("bad", (k, ln)))
        else:
            out.append(("opt", k))
        i += ln
    return out


def options_str(opts, sack_base):
    """tcpdump-style text; sack_base = the ISN the SACK edges are relative to."""
    parts = []
    for kind, v in opts:
        if kind in ("mss", "wscale"):
            parts.append("%s %d" % (kind, v))
        elif kind in ("sackOK", "nop", "eol"):
            parts.append(kind)
        elif kind == "TS":
            parts.append("TS val %d ecr %d" % v)
        elif kind == "sack":
            parts.append("sack %d %s" % (len(v), "".join(
                "{%d:%d}" % ((l - sack_base) % 2**32, (r - sack_base) % 2**32) for l, r in v)))
        elif kind == "opt":
            parts.append("opt-%d" % v)
        elif kind == "bad":
            parts.append("opt-%d bad-len %d" % v)
        else:
            parts.append("truncated")
    return "<" + ",".join(parts) + ">"


def flag_str(fl):
    s = ""
    for bit, ch in ((FLAG_SYN, "S"), (FLAG_FIN, "F"), (FLAG_RST, "R"),
                    (FLAG_PSH, "P"), (FLAG_ACK, "A")):
        if fl & bit:
            s += ch
    return s or "-"


def read_app_logs(paths):
    ev = []
    for p in paths:
        with open(p) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 3)
                if len(parts) == 4:
                    ev.append((int(parts[0]), int(parts[1]), parts[2], parts[3]))
    ev.sort()
    return ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--reuse-header", metavar="OLD_TRACE")
    ap.add_argument("--scenario")
    ap.add_argument("--desc")
    ap.add_argument("--kernel")
    ap.add_argument("--sysctls")
    ap.add_argument("--link")
    ap.add_argument("--app-log", action="append", default=[])
    ap.add_argument("--comment", action="append", default=[])
    a = ap.parse_args()
    if not a.reuse_header:
        for req in ("scenario", "desc", "kernel", "sysctls", "link"):
            if getattr(a, req) is None:
                ap.error("--%s is required (unless --reuse-header)" % req)

    linktype, pkts = read_pcap(a.pcap)
    segs, skipped = [], 0
    for ts, frame in pkts:
        ver, ip = l3_payload(linktype, frame)
        t = parse_tcp(ver, ip) if ver else None
        if t is None:
            skipped += 1
            continue
        t["ts"] = ts
        segs.append(t)

    client = server = None
    for t in segs:
        if t["flags"] & FLAG_SYN and not t["flags"] & FLAG_ACK:
            client, server = t["src"], t["dst"]
            break
    if client is None:
        raise SystemExit("%s: no SYN from a client found" % a.pcap)

    isn = {}            # "C" / "S" -> ISN (seq of that side's first SYN)
    seen_isn = set()    # later SYNs with another ISN (a new connection attempt)
    notes = []
    lines = []
    t0 = None
    foreign = 0
    for t in segs:
        if t["src"] == client and t["dst"] == server:
            d, peer = "C", "S"
        elif t["src"] == server and t["dst"] == client:
            d, peer = "S", "C"
        else:
            foreign += 1
            continue
        if t0 is None:
            t0 = t["ts"]
        fl = t["flags"]
        if fl & FLAG_SYN:
            if d not in isn:
                isn[d] = t["seq"]
            elif t["seq"] != isn[d] and (d, t["seq"]) not in seen_isn:
                seen_isn.add((d, t["seq"]))
                notes.append("# note: from t_us=%d the %s sends SYNs with a different ISN (a new connection / request sock); "
                             "their rel_seq (and ACKs of them) stay relative to the first ISN, mod 2^32: %d"
                             % ((t["ts"] - t0) // 1000, "client" if d == "C" else "server",
                                (t["seq"] - isn[d]) % 2**32))
        if d in isn:
            rel_seq = (t["seq"] - isn[d]) % 2**32
        else:
            rel_seq = t["seq"]
            msg = ("# note: the %s never sent a SYN, so it has no ISN: its rel_seq values are raw sequence "
                   "numbers (relative to 0)" % ("client" if d == "C" else "server"))
            if msg not in notes:
                notes.append(msg)
        if fl & FLAG_ACK and peer in isn:
            rel_ack = (t["ack"] - isn[peer]) % 2**32
        else:
            rel_ack = 0
        if fl & (FLAG_URG | FLAG_ECE | FLAG_CWR):
            notes.append("# note: segment at t_us=%d also has URG/ECE/CWR bits 0x%02x (not shown)"
                         % ((t["ts"] - t0) // 1000, fl & 0xE0))
        opts = parse_options(t["opts"], t["opts_len"])
        if any(k in ("bad", "truncated") for k, _ in opts):
            notes.append("# note: segment at t_us=%d has malformed or truncated options (shown as such)"
                         % ((t["ts"] - t0) // 1000))
        lines.append("%d %s>%s %s %d %d %d %d %s" % ((t["ts"] - t0) // 1000, d, peer, flag_str(fl),
                                                     rel_seq, rel_ack, t["len"], t["win"],
                                                     options_str(opts, isn.get(peer, 0))))

    columns = "# columns: t_us dir flags rel_seq rel_ack len win options"
    if a.reuse_header:
        with open(a.reuse_header) as f:
            old = [l.rstrip("\n") for l in f if l.startswith("#") and not l.startswith("# columns:")]
        with open(a.out, "w") as f:
            f.write("\n".join(old + [columns] + lines) + "\n")
        return

    out = []
    out.append("# scenario: %s: %s" % (a.scenario, a.desc))
    out.append("# kernel: %s   sysctls: %s" % (a.kernel, a.sysctls))
    out.append("# link: %s" % a.link)
    for c in a.comment:
        out.append("# " + c)
    out.append("# endpoints: client %s:%d  server %s:%d" % (client[0], client[1], server[0], server[1]))

    ev = read_app_logs(a.app_log)
    if ev:
        offs = [real - mono for real, mono, _, _ in ev]
        if max(offs) - min(offs) > 1_000_000:
            notes.append("# WARNING: CLOCK_REALTIME - CLOCK_MONOTONIC changed by %d us during the run; "
                         "app times may be off" % ((max(offs) - min(offs)) // 1000))
    for real, _mono, role, text in ev:
        tus = (real - t0) // 1000
        if role == "client" and text.startswith("connect failed "):
            out.append("# app: connect failed at t_us=%d %s" % (tus, text[len("connect failed "):]))
        else:
            out.append("# app: t_us=%d %s %s" % (tus, role, text))
    out.extend(notes)
    if skipped:
        out.append("# note: %d non-TCP packets in the pcap were skipped" % skipped)
    if foreign:
        out.append("# note: %d TCP segments of other connections were skipped" % foreign)
    out.append(columns)
    out.extend(lines)
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
