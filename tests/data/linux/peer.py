#!/usr/bin/env python3
"""The two applications of every scenario (standard library only).

usage: peer.py server|client ADDR PORT LOG [--mode MODE] [--bind-port P]
       peer.py watch ADDR PORT LOG [--watch-label L] [--watch-interval MS]

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
  data         the loss-recovery scenarios: client: connect, send --bytes N
               bytes in one sendall(), sleep --shutdown-after S seconds if
               S > 0, shutdown(SHUT_WR), read to EOF, close.  server: as basic
               (read to end-of-stream, close).  --sndbuf B sets SO_SNDBUFFORCE
               before connect, so that a large write is queued at once (with
               the autotuned buffer sendall() blocks, and the later writes
               cut segments short at the write boundaries, differently in
               every run).  --rcvbuf B (server) sets SO_RCVBUF on the
               listener before listen(), so the accepted socket advertises a
               small window; --read-delay S (server) sleeps S seconds after
               accept before it reads (the PSH scenarios).
  fin_wait2_orphan
               client: connect; as soon as connect returns, close() (the
               socket is released: FIN, then, once the FIN is ACKed, an
               orphaned FIN-WAIT-2).  server: read to EOF, then do nothing
               until --server-close-after S seconds after accept() returned
               (default 70), then close() (its FIN).
  user_timeout_fin
               client: TCP_USER_TIMEOUT --user-timeout MS (default 3000) set
               before connect, connect, send 1000 bytes, sleep 100 ms (they
               are ACKed by then; the tcp_info logged after the sleep shows
               unacked:0), shutdown(SHUT_WR), read (to EOF or an error),
               close.  server: accept, read to EOF (it never sees it when the
               client's FINs are dropped), close; so it stays open.
  user_timeout_fin_orphan
               client: as user_timeout_fin, but close() instead of the
               shutdown and the read (the FIN is sent by a released socket).
               server: as user_timeout_fin.

Role `watch` is no application: it runs `ss -tanoH` (state all, TCP
sockets with local or remote port PORT; ADDR is not used) every
--watch-interval MS (default 50) in the namespace it is started in and
logs, as role --watch-label, every socket line whose state, queues,
addresses, timer kind or retransmission count changed (`ss: LINE`, and
`ss: gone: LINE` for the line it replaces or that went away), and
`ss: (no socket)` when none is left.  Its times are those of the ss
call's return; each line ends in `[prev ss -X ms]`, how long before it
the previous call returned (the change came in between; ss itself takes
a few ms).  That is how the scenarios above see what the wire does not
show: when an orphaned FIN-WAIT-2 or a TIME-WAIT socket goes away, and
the timer the kernel gave it (`timer:(timewait,59sec,0)`).  It runs at
normal priority (not chrt), so it does not delay the apps or the delay
line.

TCP_INFO: in every mode, each side reads getsockopt(TCP_INFO) (the struct
that `ss -ti` prints, through inet_diag) right before its final close() and
logs it as a `tcp_info final` line in ss -ti's vocabulary (cwnd, ssthresh,
retrans, lost, sacked, reordering, ...).  With --tcp-info-poll MS > 0 (mode data) the
client also reads it every MS milliseconds, from its shutdown (or from its
send, if it sleeps before the shutdown) to its close, in a second thread and logs a `tcp_info` line whenever the congestion state
changed (state, ca_state, cwnd, ssthresh, retrans, lost, sacked, reordering,
total_retrans, dsack_dups, backoff); getsockopt only reads, it does not
change what the connection sends.

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
import argparse, errno, os, re, signal, socket, struct, subprocess, sys, threading, time

MODES = ("basic", "data_close", "half_close_server_writes", "simultaneous_close",
         "close_unread", "linger0", "reconnect_timewait_client",
         "reconnect_timewait_server", "handshake_ack_lost_data", "fin_ack_delay",
         "data_fin_ack_delay", "data", "fin_wait2_orphan", "user_timeout_fin",
         "user_timeout_fin_orphan")
CC = b"cubic"

TCP_STATES = {1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
              6: "TIME-WAIT", 7: "CLOSE", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN",
              11: "CLOSING"}
CA_STATES = {0: "Open", 1: "Disorder", 2: "CWR", 3: "Recovery", 4: "Loss"}
# struct tcp_info (include/uapi/linux/tcp.h) up to tcpi_total_rto_time
TCP_INFO_FIELDS = [
    ("B", "state"), ("B", "ca_state"), ("B", "retransmits"), ("B", "probes"),
    ("B", "backoff"), ("B", "options"), ("B", "wscale"), ("B", "app_limited"),
    ("I", "rto"), ("I", "ato"), ("I", "snd_mss"), ("I", "rcv_mss"),
    ("I", "unacked"), ("I", "sacked"), ("I", "lost"), ("I", "retrans"), ("I", "fackets"),
    ("I", "last_data_sent"), ("I", "last_ack_sent"), ("I", "last_data_recv"), ("I", "last_ack_recv"),
    ("I", "pmtu"), ("I", "rcv_ssthresh"), ("I", "rtt"), ("I", "rttvar"), ("I", "snd_ssthresh"),
    ("I", "snd_cwnd"), ("I", "advmss"), ("I", "reordering"), ("I", "rcv_rtt"), ("I", "rcv_space"),
    ("I", "total_retrans"), ("Q", "pacing_rate"), ("Q", "max_pacing_rate"), ("Q", "bytes_acked"),
    ("Q", "bytes_received"), ("I", "segs_out"), ("I", "segs_in"), ("I", "notsent_bytes"),
    ("I", "min_rtt"), ("I", "data_segs_in"), ("I", "data_segs_out"), ("Q", "delivery_rate"),
    ("Q", "busy_time"), ("Q", "rwnd_limited"), ("Q", "sndbuf_limited"), ("I", "delivered"),
    ("I", "delivered_ce"), ("Q", "bytes_sent"), ("Q", "bytes_retrans"), ("I", "dsack_dups"),
    ("I", "reord_seen"), ("I", "rcv_ooopack"), ("I", "snd_wnd"), ("I", "rcv_wnd"), ("I", "rehash"),
    ("H", "total_rto"), ("H", "total_rto_recoveries"), ("I", "total_rto_time"),
]
TCP_INFO_FMT = "=" + "".join(f for f, _ in TCP_INFO_FIELDS)


def tcp_info_raw(s):
    """getsockopt(TCP_INFO) as a dict (fields the kernel did not fill are absent)."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    out, off = {}, 0
    for f, name in TCP_INFO_FIELDS:
        n = struct.calcsize("=" + f)
        if off + n > len(b):
            break
        out[name] = struct.unpack_from("=" + f, b, off)[0]
        off += n
    return out


def tcp_info_text(i):
    """One line in the vocabulary of `ss -ti` (times in ms, as ss prints them)."""
    def ms(us):
        return ("%.3f" % (us / 1000)).rstrip("0").rstrip(".")
    w = ["state:%s" % TCP_STATES.get(i["state"], i["state"]),
         "ca_state:%s" % CA_STATES.get(i["ca_state"], i["ca_state"]),
         "wscale:%d,%d" % (i["wscale"] & 15, i["wscale"] >> 4),
         "rto:%s" % ms(i["rto"]), "rtt:%s/%s" % (ms(i["rtt"]), ms(i["rttvar"])),
         "ato:%s" % ms(i["ato"]), "mss:%d" % i["snd_mss"], "pmtu:%d" % i["pmtu"],
         "rcvmss:%d" % i["rcv_mss"], "advmss:%d" % i["advmss"],
         "cwnd:%d" % i["snd_cwnd"]]
    if i["snd_ssthresh"] < 0xFFFF:
        w.append("ssthresh:%d" % i["snd_ssthresh"])
    for k in ("bytes_sent", "bytes_retrans", "bytes_acked", "bytes_received", "segs_out",
              "segs_in", "data_segs_out", "data_segs_in"):
        if k in i:
            w.append("%s:%d" % (k, i[k]))
    if i.get("min_rtt"):
        w.append("minrtt:%s" % ms(i["min_rtt"]))
    w += ["unacked:%d" % i["unacked"],
          "retrans:%d/%d" % (i["retrans"], i["total_retrans"]),
          "lost:%d" % i["lost"], "sacked:%d" % i["sacked"],
          "reordering:%d" % i["reordering"]]
    for k in ("reord_seen", "dsack_dups", "rcv_ooopack", "delivered", "total_rto",
              "total_rto_recoveries", "total_rto_time", "backoff", "snd_wnd", "rcv_wnd",
              "rcv_space", "rcv_ssthresh"):
        if k in i:
            w.append("%s:%d" % (k, i[k]))
    return " ".join(w)


def tcp_info_key(i):
    return tuple(i.get(k) for k in ("state", "ca_state", "snd_cwnd", "snd_ssthresh", "retrans",
                                    "lost", "sacked", "reordering", "total_retrans",
                                    "dsack_dups", "backoff"))


def watch(a, log):
    """Role watch: log the changes of `ss -tanoH` for port a.port (see the docstring)."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    filt = "( sport = :%d or dport = :%d )" % (a.port, a.port)
    last, last_lines, prev = None, [], None
    log("watching TCP sockets with port %d every %g ms" % (a.port, a.watch_interval))
    while True:
        r = subprocess.run(["ss", "-tanoH", "state", "all", filt], capture_output=True, text=True)
        now = time.monotonic_ns()
        # the change came after the previous ss call (bracket of each line)
        since = "" if prev is None else " [prev ss -%.1fms]" % ((now - prev) / 1e6)
        prev = now
        lines = sorted(" ".join(l.split()) for l in r.stdout.splitlines() if l.strip())
        # what makes a change: everything but the time left on a timer
        key = [re.sub(r"timer:\(([a-z_-]+),[^,]*,", r"timer:(\1,*,", l) for l in lines]
        if key != last:
            old = dict(zip(last or [], last_lines))
            for k in old:
                if k not in key:
                    log("ss: gone: " + old[k] + since)
            for l, k in zip(lines, key):
                if k not in old:
                    log("ss: " + l + since)
            if not lines:
                log("ss: (no socket)" + since)
            last, last_lines = key, lines
        time.sleep(a.watch_interval / 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("server", "client", "watch"))
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("logpath")
    ap.add_argument("--mode", default="basic", choices=MODES)
    ap.add_argument("--bind-port", type=int, default=40000)
    ap.add_argument("--bytes", type=int, default=20000, help="mode data: bytes to send")
    ap.add_argument("--shutdown-after", type=float, default=0.0,
                    help="mode data: seconds between send and shutdown(SHUT_WR)")
    ap.add_argument("--sndbuf", type=int, default=0,
                    help="client: SO_SNDBUFFORCE before connect (0: leave the autotuned default)")
    ap.add_argument("--rcvbuf", type=int, default=0,
                    help="server: SO_RCVBUF on the listener before listen (0: default)")
    ap.add_argument("--read-delay", type=float, default=0.0,
                    help="server: seconds to sleep after accept before reading")
    ap.add_argument("--tcp-info-poll", type=float, default=0.0,
                    help="client: read TCP_INFO every this many ms, log changes (0: off)")
    ap.add_argument("--server-close-after", type=float, default=70.0,
                    help="mode fin_wait2_orphan (server): seconds from accept to close")
    ap.add_argument("--user-timeout", type=int, default=3000,
                    help="modes user_timeout_fin*: TCP_USER_TIMEOUT in ms, set before connect")
    ap.add_argument("--watch-label", default="watch", help="role watch: the role name in its log lines")
    ap.add_argument("--watch-interval", type=float, default=50.0, help="role watch: ms between ss calls")
    a = ap.parse_args()
    role, mode = a.role, a.mode
    if role == "watch":
        role = a.watch_label
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

    if a.role == "watch":
        watch(a, log)
        return

    if role == "server":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_cc(ls, "listener")
        if a.rcvbuf:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
            log("SO_RCVBUF %d set on the listener (reads back %d)"
                % (a.rcvbuf, ls.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)))
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
            elif mode == "fin_wait2_orphan":
                t_acc = time.monotonic()
                recv_to_eof(c)
                rest = t_acc + a.server_close_after - time.monotonic()
                if rest > 0:
                    time.sleep(rest)
                log("slept until %g s after accept returned" % a.server_close_after)
            else:
                if a.read_delay > 0:
                    time.sleep(a.read_delay)
                    log("slept %g s before reading" % a.read_delay)
                recv_to_eof(c)
            info = tcp_info_raw(c)
            c.close()
            log("close returned")
            log("tcp_info final (read just before close) " + tcp_info_text(info))
        log("done")
        while True:            # keep the listener open until the script ends
            signal.pause()

    # ---- client
    def connect(bind_port=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        set_cc(s, "socket")
        if mode.startswith("user_timeout_"):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, a.user_timeout)
            log("TCP_USER_TIMEOUT %d ms set (reads back %d)"
                % (a.user_timeout, s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)))
        if a.sndbuf:
            # SO_SNDBUFFORCE (32; root) is not capped by net.core.wmem_max
            s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUFFORCE", 32), a.sndbuf)
            log("SO_SNDBUFFORCE %d set (SO_SNDBUF reads back %d)"
                % (a.sndbuf, s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)))
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

    poller = {}

    def start_poll(s):
        if a.tcp_info_poll <= 0 or "stop" in poller:
            return
        stop = threading.Event()

        def run():
            last = None
            while not stop.is_set():
                try:
                    i = tcp_info_raw(s)
                except OSError:
                    return
                k = tcp_info_key(i)
                if k != last:
                    log("tcp_info " + tcp_info_text(i))
                    last = k
                stop.wait(a.tcp_info_poll / 1000)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        poller["stop"], poller["thread"] = stop, th

    def close(s):
        if "stop" in poller:
            poller["stop"].set()
            poller["thread"].join()
        try:
            info = tcp_info_raw(s)
        except OSError:
            info = None
        s.close()
        log("close returned")
        if info:
            log("tcp_info final (read just before close) " + tcp_info_text(info))

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
    elif mode == "data":
        # The poller starts once the app has nothing urgent left to do (its
        # first read and log line take the GIL for about 0.7 ms, which would
        # delay the send or the shutdown): after the shutdown, or after the
        # send when the shutdown waits.  Before it, cwnd is the initial 10.
        send(s, a.bytes)
        if a.shutdown_after > 0:
            start_poll(s)
            time.sleep(a.shutdown_after)
            log("slept %g s" % a.shutdown_after)
        shutdown(s)
        start_poll(s)
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
    elif mode == "fin_wait2_orphan":
        close(s)                  # released at once: the FIN-WAIT-2 is an orphan's
        return
    elif mode.startswith("user_timeout_"):
        send(s, 1000)
        time.sleep(0.100)
        log("slept 100 ms; tcp_info " + tcp_info_text(tcp_info_raw(s)))
        if mode == "user_timeout_fin_orphan":
            close(s)              # the FIN and its retransmissions are an orphan's
            return
        shutdown(s)
    recv_to_eof(s)
    close(s)


if __name__ == "__main__":
    main()
