#!/usr/bin/env python3
"""The two applications of every scenario (standard library only).

server ADDR PORT LOG : listen on ADDR:PORT, accept one connection, read until
                       end-of-stream (recv returns b""), close() it; then keep
                       the listener open and idle until SIGTERM.
client ADDR PORT LOG : connect(); as soon as connect returns, shutdown(SHUT_WR);
                       read until end-of-stream; close().  No data either way.

Every event is appended to LOG as one line:
    <CLOCK_REALTIME ns> <CLOCK_MONOTONIC ns> <role> <event text>
taken immediately after the system call returned.  CLOCK_REALTIME is the
clock the kernel stamps captured packets with (tcpdump/pcap timestamps), so
pcap2trace.py puts app events on the trace's time axis by subtracting the pcap
timestamp of the first captured segment.  CLOCK_MONOTONIC is logged too so
that pcap2trace.py can check that CLOCK_REALTIME did not step during the run.
"""
import errno, os, signal, socket, sys, time


def main():
    role, addr, port, logpath = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    logf = open(logpath, "a", buffering=1)

    def log(text):
        logf.write("%d %d %s %s\n" % (time.time_ns(), time.monotonic_ns(), role, text))
        logf.flush()

    if role == "server":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(16)
        log("listening")
        c, _ = ls.accept()
        log("accept returned")
        while True:
            d = c.recv(4096)
            if not d:
                break
            log("recv returned %d bytes" % len(d))
        log("recv returned 0 (end-of-stream)")
        c.close()
        log("close returned")
        while True:            # keep the listener open until the script ends
            signal.pause()
    elif role == "client":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        log("connect called")
        try:
            s.connect((addr, port))
        except OSError as e:
            log("connect failed errno=%s" % errno.errorcode.get(e.errno, e.errno))
            s.close()
            log("close returned")
            return
        log("connect returned")
        s.shutdown(socket.SHUT_WR)
        log("shutdown(SHUT_WR) returned")
        while True:
            d = s.recv(4096)
            if not d:
                break
            log("recv returned %d bytes" % len(d))
        log("recv returned 0 (end-of-stream)")
        s.close()
        log("close returned")
    else:
        sys.exit("role must be server or client")


if __name__ == "__main__":
    main()
