#!/usr/bin/env python3
"""The two applications of every scenario (standard library only).

usage: peer.py server|client ADDR PORT LOG [--mode MODE] [--bind-port P]

MODE picks what the applications do (default `basic`, the behaviour of the
first captures; capture.sh passes the scenario's mode):

  basic        server: accept one connection, read until end-of-stream
               (recv returns b""), close().
               client: connect(); as soon as connect returns, shutdown(SHUT_WR);
               read until end-of-stream; close().  No data either way.
  data_close   client: connect, send 20000 bytes, shutdown(SHUT_WR), read to
               EOF, close.  server: as basic.
  half_close_server_writes
               client: connect, send 100 bytes, shutdown(SHUT_WR), read to EOF,
               close.  server: read to EOF, send 3000 bytes, close.
  simultaneous_close
               client: connect, send 100 bytes whose text carries an absolute
               CLOCK_REALTIME deadline (now + 100 ms); read the server's 100
               bytes.  server: read the 100 bytes, send 100 bytes back.  Then
               both wait for the deadline (sleep, then spin on the clock) and
               call shutdown(SHUT_WR); both read to EOF and close.
  close_unread client: connect, send 100 bytes, read to EOF (or error), close.
               server: accept, sleep 50 ms without reading, close().
  linger0      client: connect, set SO_LINGER {1, 0}, close().
               server: as basic (its recv sees the reset).
  reconnect_timewait_client
               client: bind port --bind-port (SO_REUSEADDR), connect,
               shutdown(SHUT_WR) at once (the client closes first, so it holds
               TIME-WAIT), read to EOF, close; 1 s after that close, the same
               again from the same port.  server: basic, for two connections.
  reconnect_timewait_server
               server: accept, close() at once (the server closes first and
               holds TIME-WAIT), for two connections.  client: bind port
               --bind-port (SO_REUSEADDR), connect, read to EOF, close; 1 s
               after that close, the same again from the same port.
  handshake_ack_lost_data
               client: connect, send 1000 bytes at once, shutdown(SHUT_WR),
               read to EOF, close.  server: as basic.
  fin_ack_delay
               client: as basic.  server: read to EOF, sleep 200 ms, close
               (so the ACK of the client's FIN cannot ride on the server's FIN).
  data_fin_ack_delay
               client: connect, send 100 bytes, shutdown(SHUT_WR), read to EOF,
               close.  server: as fin_ack_delay.

After its connections the server logs "done" and keeps the listener open
and idle until SIGTERM.  Every socket gets TCP_CONGESTION "cubic" before it
connects or listens (this kernel's namespaces default to bbr and refuse to
change the sysctl); accepted sockets inherit it from the listener, and the
value read back is logged.

Every event is appended to LOG as one line:
    <CLOCK_REALTIME ns> <CLOCK_MONOTONIC ns> <role> <event text>
taken immediately after the system call returned.  CLOCK_REALTIME is the
clock the kernel stamps captured packets with (tcpdump/pcap timestamps), so
pcap2trace.py puts app events on the trace's time axis by subtracting the pcap
timestamp of the first captured segment.  CLOCK_MONOTONIC is logged too so
that pcap2trace.py can check that CLOCK_REALTIME did not step during the run.
"""
import argparse, errno, os, signal, socket, struct, sys, time

MODES = ("basic", "data_close", "half_close_server_writes", "simultaneous_close",
         "close_unread", "linger0", "reconnect_timewait_client",
         "reconnect_timewait_server", "handshake_ack_lost_data", "fin_ack_delay",
         "data_fin_ack_delay")
CC = b"cubic"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("server", "client"))
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("logpath")
    ap.add_argument("--mode", default="basic", choices=MODES)
    ap.add_argument("--bind-port", type=int, default=40000)
    a = ap.parse_args()
    role, mode = a.role, a.mode
    logf = open(a.logpath, "a", buffering=1)

    def log(text):
        logf.write("%d %d %s %s\n" % (time.time_ns(), time.monotonic_ns(), role, text))
        logf.flush()

    def set_cc(s, what):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, CC)
        log("%s TCP_CONGESTION=%s" % (what, cc_of(s)))

    def cc_of(s):
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()

    def err(e):
        return errno.errorcode.get(e.errno, e.errno)

    def recv_to_eof(s, limit=None):
        """Read until end-of-stream (or `limit` bytes); returns the bytes."""
        got = b""
        while limit is None or len(got) < limit:
            try:
                d = s.recv(65536 if limit is None else limit - len(got))
            except OSError as e:
                log("recv failed errno=%s" % err(e))
                return got
            if not d:
                log("recv returned 0 (end-of-stream)")
                return got
            got += d
            log("recv returned %d bytes" % len(d))
        return got

    def send(s, n, payload=None):
        data = payload if payload is not None else b"x" * n
        try:
            s.sendall(data)
            log("send returned (%d bytes)" % len(data))
        except OSError as e:
            log("send failed errno=%s" % err(e))

    def shutdown(s):
        try:
            s.shutdown(socket.SHUT_WR)
            log("shutdown(SHUT_WR) returned")
        except OSError as e:
            log("shutdown failed errno=%s" % err(e))

    def wait_until(deadline_ns):
        # sleep to 2 ms before, then spin: both apps run SCHED_FIFO
        rest = deadline_ns - time.time_ns() - 2_000_000
        if rest > 0:
            time.sleep(rest / 1e9)
        while time.time_ns() < deadline_ns:
            pass

    if role == "server":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_cc(ls, "listener")
        ls.bind((a.addr, a.port))
        ls.listen(16)
        log("listening")
        nconn = 2 if mode.startswith("reconnect_") else 1
        for _ in range(nconn):
            c, peer = ls.accept()
            log("accept returned (peer port %d, TCP_CONGESTION=%s)" % (peer[1], cc_of(c)))
            if mode == "half_close_server_writes":
                recv_to_eof(c)
                send(c, 3000)
            elif mode == "simultaneous_close":
                got = recv_to_eof(c, 100)
                deadline = int(got.split(b" ")[1])
                send(c, 100)
                wait_until(deadline)
                log("shutdown(SHUT_WR) called (deadline %+d ns late)" % (time.time_ns() - deadline))
                shutdown(c)
                recv_to_eof(c)
            elif mode == "close_unread":
                time.sleep(0.050)
                log("slept 50 ms without reading")
            elif mode in ("fin_ack_delay", "data_fin_ack_delay"):
                recv_to_eof(c)
                time.sleep(0.200)
                log("slept 200 ms")
            elif mode == "reconnect_timewait_server":
                pass                      # close at once: the server closes first
            else:
                recv_to_eof(c)
            c.close()
            log("close returned")
        log("done")
        while True:            # keep the listener open until the script ends
            signal.pause()

    # ---- client
    def connect(bind_port=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        set_cc(s, "socket")
        if bind_port is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", bind_port))
            log("bind to port %d returned (SO_REUSEADDR)" % bind_port)
        log("connect called")
        try:
            s.connect((a.addr, a.port))
        except OSError as e:
            log("connect failed errno=%s" % err(e))
            s.close()
            log("close returned")
            return None
        log("connect returned")
        return s

    def close(s):
        s.close()
        log("close returned")

    if mode.startswith("reconnect_"):
        for i in range(2):
            if i == 1:
                time.sleep(1.0)
                log("slept 1 s; reconnecting from the same port")
            s = connect(a.bind_port)
            if s is None:
                return
            if mode == "reconnect_timewait_client":
                shutdown(s)
            recv_to_eof(s)
            close(s)
        return

    s = connect()
    if s is None:
        return
    if mode in ("basic", "fin_ack_delay"):
        shutdown(s)
    elif mode == "data_close":
        send(s, 20000)
        shutdown(s)
    elif mode in ("half_close_server_writes", "data_fin_ack_delay"):
        send(s, 100)
        shutdown(s)
    elif mode == "handshake_ack_lost_data":
        send(s, 1000)
        shutdown(s)
    elif mode == "close_unread":
        send(s, 100)
    elif mode == "simultaneous_close":
        deadline = time.time_ns() + 100_000_000
        msg = b"deadline %d " % deadline
        send(s, 100, msg + b"x" * (100 - len(msg)))
        recv_to_eof(s, 100)
        wait_until(deadline)
        log("shutdown(SHUT_WR) called (deadline %+d ns late)" % (time.time_ns() - deadline))
        shutdown(s)
    elif mode == "linger0":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        log("SO_LINGER {1, 0} set")
        close(s)
        return
    recv_to_eof(s)
    close(s)


if __name__ == "__main__":
    main()
