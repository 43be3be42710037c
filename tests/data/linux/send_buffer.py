#!/usr/bin/env python3
"""Measures the send-buffer numbers of the `linux` profile on this kernel.

Run as root: `python3 send_buffer.py` creates a network namespace with a
1500-byte loopback, measures, prints what `send_buffer.txt` records, and
deletes the namespace. Numbers read: SO_SNDBUF (sk_sndbuf), SO_MEMINFO's
SK_MEMINFO_WMEM_QUEUED (sk_wmem_queued) and SIOCOUTQ (write_seq - snd_una).
ACKs are dropped by an nftables rule where the data must stay unacknowledged.
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time

SO_MEMINFO = 55
SIOCOUTQ = 0x5411
NS = "tcpsim_sndbuf"


def wmem_queued(s):
    return struct.unpack("9I", s.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 36))[5]


def outq(s):
    return struct.unpack("I", fcntl.ioctl(s, SIOCOUTQ, b"\0" * 4))[0]


def pair(port, cc=None):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(1)
    c = socket.socket()
    if cc:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
    fresh = c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    c.connect(("127.0.0.1", port))
    a, _ = l.accept()
    return l, c, a, fresh


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def measure():
    sh("ip link set lo mtu 1500 up")
    print("kernel", os.uname().release)
    for name in ("tcp_wmem", "tcp_congestion_control"):
        print(name, open(f"/proc/sys/net/ipv4/{name}").read().split())
    print("wmem_max", open("/proc/sys/net/core/wmem_max").read().strip())
    keep = pair(9000)
    c, fresh = keep[1], keep[3]
    print("SO_SNDBUF fresh", fresh, "established", c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
          "mss", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
    keep3 = pair(9003, b"cubic")
    print("with TCP_CONGESTION cubic: SO_SNDBUF established",
          keep3[1].getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    for v in (21000, 1, 10**9):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, v)
        print("setsockopt SO_SNDBUF", v, "-> getsockopt", c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    # Overhead per buffer: with the ACKs dropped, each write after the
    # previous one was sent starts a buffer of its own.
    keep2 = pair(9001)
    c = keep2[1]
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sh("nft 'add table inet t; add chain inet t o { type filter hook output priority 0; }; "
       "add rule inet t o tcp sport 9001 tcp flags ack drop'")
    for n in (1, 1000, 1, 3000):
        c.send(b"x" * n)
        time.sleep(0.05)
        q, o = wmem_queued(c), outq(c)
        print(f"write {n}: sk_wmem_queued {q} SIOCOUTQ {o} overhead {q - o}")
    sh("nft delete table inet t")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "inside":
        measure()
        sh("sysctl -q net.ipv4.tcp_wmem='4096 262144 4194304'")
        keep = pair(9002)
        c, fresh = keep[1], keep[3]
        print("with tcp_wmem 4096 262144 4194304: SO_SNDBUF fresh", fresh,
              "established", c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    else:
        sh(f"ip netns add {NS}")
        try:
            sh(f"ip netns exec {NS} python3 {os.path.abspath(__file__)} inside")
        finally:
            sh(f"ip netns del {NS}")
