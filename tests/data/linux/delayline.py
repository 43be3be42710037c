#!/usr/bin/env python3
"""Userspace delay line between two network namespaces (stand-in for netem).

This kernel is built without sch_netem (CONFIG_NET_SCH_NETEM is not set), so
`tc qdisc add ... netem delay 10ms` fails.  Instead this process creates one
tun device (IFF_TUN | IFF_NO_PI: raw IP packets, no Ethernet header) in each of
two existing network namespaces and copies every packet read from one tun to
the other after a fixed one-way delay.  FIFO per direction, no loss, no
reordering.  Only the Python standard library is used (ctypes for setns(2)).

A tun device lives only while its file descriptor is open, so killing this
process removes both devices.

usage: delayline.py NS_A DEV_A NS_B DEV_B DELAY_MS
"""
import collections, ctypes, errno, fcntl, os, select, signal, struct, sys, time

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


def main():
    ns_a, dev_a, ns_b, dev_b, delay_ms = sys.argv[1:6]
    delay_ns = int(float(delay_ms) * 1_000_000)
    enter_netns(ns_a)
    fa = open_tun(dev_a)          # created inside ns_a
    enter_netns(ns_b)
    fb = open_tun(dev_b)          # created inside ns_b
    other = {fa: fb, fb: fa}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    # One queue suffices: the delay is the same in both directions, so
    # packets become due in the order they were read.
    q = collections.deque()
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
                q.append((now + delay_ns, other[fd], pkt))
        # Busy-wait the last few hundred microseconds for a precise delay.
        while q:
            due = q[0][0]
            now = time.monotonic_ns()
            if due - now > 300_000:
                break
            while time.monotonic_ns() < due:
                pass
            _, out, pkt = q.popleft()
            try:
                os.write(out, pkt)
            except OSError as e:
                if e.errno not in (errno.EIO, errno.EAGAIN):   # device down: drop
                    raise


if __name__ == "__main__":
    main()
