#!/usr/bin/env python3
"""Userspace delay line between two network namespaces (stand-in for netem).

This kernel is built without sch_netem (CONFIG_NET_SCH_NETEM is not set), so
`tc qdisc add ... netem delay 10ms` fails.  Instead this process creates one
tun device (IFF_TUN | IFF_NO_PI: raw IP packets, no Ethernet header) in each of
two existing network namespaces and copies every packet read from one tun to
the other after a fixed one-way delay.  FIFO per direction, no loss, no
reordering, unless --extra asks for it.  Only the Python standard library is
used (ctypes for setns(2)).

A tun device lives only while its file descriptor is open, so killing this
process removes both devices.

usage: delayline.py NS_A DEV_A NS_B DEV_B DELAY_MS [--extra DIR:N:MS]...
                   [--hold DIR:N:M:MS]...

--extra DIR:N:MS holds the N-th TCP segment with payload (IPv4, payload =
IP total length - IP header - TCP header > 0; retransmissions count too)
that travels in direction DIR (a2b: read in NS_A, written in NS_B; b2a the
other way) MS milliseconds longer than DELAY_MS, so the packets behind it
overtake it (a reordering).  Each such packet is reported on stdout as
`extra delay: ...` with its sequence number relative to the first SYN seen
in that direction.

--hold DIR:N:M:MS holds the N-th to the M-th TCP segments of any kind (SYNs
and pure ACKs count; retransmissions too) that travel in direction DIR MS
milliseconds longer each (used to delay the server's ACKs of one flight past
the client's RTO: `rto_spurious`, `rto_spurious_tlp`).  They keep their
order among themselves; later packets are not held, so they overtake them.
Each held packet is reported as `extra delay: DIR TCP segment #K of N..M
(flags ..., rel seq S, rel ack A, len L) held MS ms longer`, the ack
relative to the first SYN seen in the other direction.
"""
import ctypes, errno, fcntl, heapq, os, select, signal, struct, sys, time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    return fd


def tcp_of(pkt):
    """(seq, flags, payload length, ack) of an IPv4 TCP packet, else None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return None
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    if len(pkt) < ihl + 20:
        return None
    seq = struct.unpack("!I", pkt[ihl + 4:ihl + 8])[0]
    doff = (pkt[ihl + 12] >> 4) * 4
    ack = struct.unpack("!I", pkt[ihl + 8:ihl + 12])[0]
    return seq, pkt[ihl + 13], total - ihl - doff, ack


def flag_text(f):
    return "".join(c for bit, c in ((2, "S"), (1, "F"), (4, "R"), (8, "P"), (16, "A")) if f & bit) or "-"


def main():
    ns_a, dev_a, ns_b, dev_b, delay_ms = sys.argv[1:6]
    extra = {}                    # (dir, n) -> extra delay in ns
    hold = []                     # (dir, n, m, extra delay in ns)
    rest = sys.argv[6:]
    while rest:
        if rest[0] not in ("--extra", "--hold") or len(rest) < 2:
            raise SystemExit("usage: delayline.py NS_A DEV_A NS_B DEV_B DELAY_MS [--extra DIR:N:MS]... [--hold DIR:N:M:MS]...")
        if rest[0] == "--extra":
            d, n, ms = rest[1].split(":")
        else:
            d, n, m, ms = rest[1].split(":")
            hold.append((d, int(n), int(m), int(float(ms) * 1_000_000)))
        if d not in ("a2b", "b2a"):
            raise SystemExit("%s: DIR is a2b or b2a" % rest[0])
        if rest[0] == "--extra":
            extra[(d, int(n))] = int(float(ms) * 1_000_000)
        rest = rest[2:]
    delay_ns = int(float(delay_ms) * 1_000_000)
    enter_netns(ns_a)
    fa = open_tun(dev_a)          # created inside ns_a
    enter_netns(ns_b)
    fb = open_tun(dev_b)          # created inside ns_b
    other = {fa: fb, fb: fa}
    dirname = {fa: "a2b", fb: "b2a"}
    ndata = {"a2b": 0, "b2a": 0}  # TCP segments with payload read so far
    nseg = {"a2b": 0, "b2a": 0}   # TCP segments of any kind read so far (--hold)
    isn = {}                      # dir -> seq of the first SYN
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    # A heap ordered by due time (then arrival): without --extra every packet
    # has the same delay and they leave in the order they were read.
    q = []
    order = 0
    while True:
        if q:
            # wake up 200 us early, then busy-wait to the exact due time
            timeout = max(0.0, (q[0][0] - time.monotonic_ns() - 200_000) / 1e9)
        else:
            timeout = None
        r, _, _ = select.select([fa, fb], [], [], timeout)
        now = time.monotonic_ns()
        for fd in r:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                due = now + delay_ns
                if extra or hold:
                    d, t = dirname[fd], tcp_of(pkt)
                    if t is not None:
                        seq, flags, plen, ack = t
                        if flags & 2 and d not in isn:
                            isn[d] = seq
                        nseg[d] += 1
                        for hd, hn, hm, hx in hold:
                            if hd == d and hn <= nseg[d] <= hm:
                                due += hx
                                o = "b2a" if d == "a2b" else "a2b"
                                print("extra delay: %s TCP segment #%d of %d..%d (flags %s, rel seq %d, rel ack %d, len %d) held %.3f ms longer"
                                      % (d, nseg[d], hn, hm, flag_text(flags), (seq - isn.get(d, 0)) % 2**32,
                                         (ack - isn.get(o, 0)) % 2**32 if flags & 16 else 0, plen, hx / 1e6),
                                      flush=True)
                        if plen > 0:
                            ndata[d] += 1
                            x = extra.get((d, ndata[d]))
                            if x:
                                due += x
                                print("extra delay: %s TCP payload segment #%d (rel seq %d, len %d) held %.3f ms longer"
                                      % (d, ndata[d], (seq - isn.get(d, 0)) % 2**32, plen, x / 1e6),
                                      flush=True)
                heapq.heappush(q, (due, order, other[fd], pkt))
                order += 1
        # Busy-wait the last few hundred microseconds for a precise delay.
        while q:
            due = q[0][0]
            now = time.monotonic_ns()
            if due - now > 300_000:
                break
            while time.monotonic_ns() < due:
                pass
            _, _, out, pkt = heapq.heappop(q)
            try:
                os.write(out, pkt)
            except OSError as e:
                if e.errno not in (errno.EIO, errno.EAGAIN):   # device down: drop
                    raise


if __name__ == "__main__":
    main()
