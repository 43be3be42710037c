//! The applications of a kernel run: each end of each connection of the
//! experiment file as real socket calls in its host's namespace, doing what
//! the simulation's built-in application does (tcpsim SPEC §3
//! "Applications"): a step list (`client_app` / `server_app`) step by step,
//! or the shorthand (`client_sends`, `server_sends`, `close`, `close_at`)
//! written as the same steps.
//!
//! Each end runs on a thread of its own with a non-blocking socket and
//! waits with `ppoll`; times are measured from the run's common start
//! (virtual time zero). A client binds the port its connection has in the
//! simulation before it connects, so that both runs have the same
//! 4-tuples. Listening sockets exist before the clock starts.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddrV4};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tcpsim_net::{CloseMode, OpenMode, Step, Workload};

use crate::sys;

/// How often an end that waits for its data to be acknowledged looks at
/// its send queue (`SIOCOUTQ`): the kernel does not tell, so it is polled.
const ACK_POLL: StdDuration = StdDuration::from_micros(200);

/// The longest a wait sleeps before it looks at the clock and the stop flag.
const TICK: StdDuration = StdDuration::from_millis(5);

/// One operation of an end's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Write this many octets of the pattern (octet i of the stream is
    /// i mod 256), as a blocking `write()` would.
    Write(u64),
    /// Read this many octets, or to end-of-stream.
    Read(u64),
    /// Read to end-of-stream.
    ReadEof,
    /// Read what is readable now.
    ReadAll,
    /// Wait until everything written is acknowledged.
    WaitAcked,
    /// Sleep this long.
    Sleep(StdDuration),
    /// Wait until this long after the start.
    At(StdDuration),
    /// `shutdown()` one or both directions.
    Shutdown(Shutdown),
    /// `close()`.
    Close,
    /// `SO_LINGER` 0 and `close()`: RST.
    Abort,
}

/// What one end runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    /// The operations, in order.
    pub ops: Vec<Op>,
    /// Whether the end reads whatever arrives while it writes and waits (the
    /// shorthand); an end with a step list reads only in its read steps.
    /// A draining end also closes as soon as it reads end-of-stream, once
    /// its write is done, as the shorthand's ends do.
    pub drain: bool,
    /// The closer's `close_at`: its write gives up what it has not written
    /// by then (the shorthand drops the rest of a write when it closes).
    pub write_until: Option<StdDuration>,
}

/// The programs of a connection's two ends, client first, as the
/// simulation's workload runs them.
pub(crate) fn programs(w: &Workload, steps: [Option<&[Step]>; 2]) -> [Program; 2] {
    let ops_of = |steps: &[Step]| Program {
        ops: steps.iter().map(|s| op_of(*s)).collect(),
        drain: false,
        write_until: None,
    };
    let close_wait = |at: Option<tcpsim_tcp::Instant>| match at {
        Some(t) => Op::At(StdDuration::from_nanos(t.as_nanos())),
        None => Op::WaitAcked,
    };
    let closer = |sends: u64| {
        vec![
            Op::Write(sends),
            close_wait(w.close_at),
            Op::Shutdown(Shutdown::Write),
            Op::ReadEof,
            Op::Close,
        ]
    };
    let responder = |sends: u64| vec![Op::Write(sends), Op::ReadEof, Op::Close];
    let aborter = |sends: u64| vec![Op::Write(sends), close_wait(w.close_at), Op::Abort];
    let (c, s) = (w.client_sends, w.server_sends);
    let (client, server) = match w.close {
        CloseMode::ClientFirst => (closer(c), responder(s)),
        CloseMode::ServerFirst => (responder(c), closer(s)),
        CloseMode::Simultaneous => (closer(c), closer(s)),
        CloseMode::ClientAbort => (aborter(c), responder(s)),
        CloseMode::ServerAbort => (responder(c), aborter(s)),
        CloseMode::None => (
            vec![Op::Write(c), Op::ReadEof],
            vec![Op::Write(s), Op::ReadEof],
        ),
    };
    let at = w.close_at.map(|t| StdDuration::from_nanos(t.as_nanos()));
    let closes = |end: usize| match w.close {
        CloseMode::ClientFirst | CloseMode::ClientAbort => end == 0,
        CloseMode::ServerFirst | CloseMode::ServerAbort => end == 1,
        CloseMode::Simultaneous => true,
        CloseMode::None => false,
    };
    let shorthand = |ops, end| Program {
        ops,
        drain: true,
        write_until: if closes(end) { at } else { None },
    };
    [
        steps[0].map_or_else(|| shorthand(client, 0), ops_of),
        steps[1].map_or_else(|| shorthand(server, 1), ops_of),
    ]
}

fn op_of(step: Step) -> Op {
    match step {
        Step::Write(n) => Op::Write(n),
        Step::Read(n) => Op::Read(n),
        Step::ReadEof => Op::ReadEof,
        Step::ReadAll => Op::ReadAll,
        Step::WaitAcked => Op::WaitAcked,
        Step::Sleep(d) => Op::Sleep(StdDuration::from_nanos(d.as_nanos())),
        Step::At(t) => Op::At(StdDuration::from_nanos(t.as_nanos())),
        Step::Shutdown => Op::Shutdown(Shutdown::Write),
        Step::ShutdownRead => Op::Shutdown(Shutdown::Read),
        Step::ShutdownBoth => Op::Shutdown(Shutdown::Both),
        Step::Close => Op::Close,
        Step::Abort => Op::Abort,
    }
}

/// Socket options of one end, as the kernel takes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SocketOptions {
    /// `TCP_CONGESTION`.
    pub congestion: &'static str,
    /// `TCP_MAXSEG`.
    pub mss: Option<u16>,
    /// `SO_RCVBUF`.
    pub recv_buffer: Option<u32>,
    /// `SO_SNDBUF`.
    pub send_buffer: Option<u32>,
    /// `TCP_NODELAY`.
    pub nodelay: bool,
    /// `TCP_USER_TIMEOUT`.
    pub user_timeout: Option<StdDuration>,
    /// `SO_LINGER`.
    pub linger: Option<StdDuration>,
}

/// A TCP socket of the calling thread's namespace with `o` set,
/// non-blocking.
pub(crate) fn socket(o: &SocketOptions) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    s.set_tcp_congestion(o.congestion.as_bytes())?;
    if let Some(m) = o.mss {
        s.set_tcp_mss(u32::from(m))?;
    }
    if let Some(b) = o.recv_buffer {
        s.set_recv_buffer_size(b as usize)?;
    }
    if let Some(b) = o.send_buffer {
        s.set_send_buffer_size(b as usize)?;
    }
    if o.nodelay {
        s.set_tcp_nodelay(true)?;
    }
    if let Some(t) = o.user_timeout {
        s.set_tcp_user_timeout(Some(t))?;
    }
    if let Some(l) = o.linger {
        s.set_linger(Some(l))?;
    }
    Ok(s)
}

/// One thing an application saw, for the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// Nanoseconds since the start.
    pub at_ns: u64,
    /// The connection (0-based, in file order with `count` expanded).
    pub connection: usize,
    /// `client` or `server`.
    pub end: &'static str,
    /// What happened: `connected`, `accepted`, `eof`, `error: ...`, `done`,
    /// `tcp_info: cwnd C x mss M`.
    pub what: String,
    /// With `tcp_info`: the end's congestion window in octets
    /// (`tcpi_snd_cwnd` × `tcpi_snd_mss`), read once its program is done
    /// (its last write acknowledged) or the run ends, before the socket
    /// closes: the kernel's side of the final cwnd compared for bulk
    /// transfers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u64>,
}

/// Where an end's notes go.
pub(crate) type Notes = Arc<Mutex<Vec<Note>>>;

/// The clock and the end of a run, shared by every end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    /// Virtual time zero.
    pub start: StdInstant,
    /// When every end stops, whatever it was doing.
    pub stop: StdInstant,
}

/// One end's socket and where it is in its program.
pub(crate) struct End {
    socket: Socket,
    clock: Clock,
    drain: bool,
    written: u64,
    eof: bool,
    shut_read: bool,
    shut_write: bool,
    write_until: Option<StdInstant>,
    notes: Notes,
    connection: usize,
    end: &'static str,
    buf: Vec<u8>,
    /// Whether the congestion window has been noted ([`End::note_cwnd`]).
    cwnd_noted: bool,
}

/// Why an end stopped early.
enum Stop {
    /// The run's time is over.
    Time,
    /// A socket call failed (reset, timed out, ...).
    Failed(String),
}

impl End {
    pub(crate) fn new(
        socket: Socket,
        clock: Clock,
        notes: Notes,
        connection: usize,
        end: &'static str,
    ) -> End {
        End {
            socket,
            clock,
            drain: false,
            written: 0,
            eof: false,
            shut_read: false,
            shut_write: false,
            write_until: None,
            notes,
            connection,
            end,
            buf: vec![0; 65_536],
            cwnd_noted: false,
        }
    }

    /// Notes that the server accepted this end's connection.
    pub(crate) fn accepted(&self) {
        self.note("accepted");
    }

    fn note(&self, what: impl Into<String>) {
        self.push_note(what.into(), None);
    }

    fn push_note(&self, what: String, cwnd: Option<u64>) {
        let at_ns = self.clock.start.elapsed().as_nanos() as u64;
        if let Ok(mut n) = self.notes.lock() {
            n.push(Note {
                at_ns,
                connection: self.connection,
                end: self.end,
                what,
                cwnd,
            });
        }
    }

    /// Notes the connection's congestion window (`TCP_INFO`), once: before
    /// the socket closes, when its program is done or the run ends. A
    /// socket that never connected, or one the kernel has already reset,
    /// may have none worth reading; it is noted all the same (the
    /// comparison takes the sender's last note).
    fn note_cwnd(&mut self) {
        if std::mem::replace(&mut self.cwnd_noted, true) {
            return;
        }
        if let Ok((cwnd, mss)) = sys::cwnd(self.socket.as_fd()) {
            let octets = u64::from(cwnd) * u64::from(mss);
            self.push_note(format!("tcp_info: cwnd {cwnd} x mss {mss}"), Some(octets));
        }
    }

    /// Connects to `to` (the socket is bound already) at `open_at` after
    /// the start; false when it failed (noted) or the run ended.
    pub(crate) fn connect(&mut self, to: SocketAddrV4, open_at: StdDuration) -> bool {
        app_thread();
        if self.sleep_until(self.clock.start + open_at).is_err() {
            return false;
        }
        match self.socket.connect(&SockAddr::from(to)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => {
                self.note(format!("error: connect: {e}"));
                return false;
            }
        }
        loop {
            if StdInstant::now() >= self.clock.stop || sys::stopped() {
                return false;
            }
            match sys::wait_socket(self.socket.as_fd(), false, true, TICK) {
                Ok((_, true)) => break,
                Ok(_) => {}
                Err(e) => {
                    self.note(format!("error: connect: {e}"));
                    return false;
                }
            }
        }
        match self.socket.take_error() {
            Ok(None) => {
                self.note("connected");
                true
            }
            Ok(Some(e)) | Err(e) => {
                self.note(format!("error: connect: {}", describe(&e)));
                false
            }
        }
    }

    /// Runs `p`, then keeps the socket open until the run's end unless the
    /// program closed it.
    pub(crate) fn run(mut self, p: &Program) {
        app_thread();
        self.drain = p.drain;
        self.write_until = p.write_until.map(|t| self.clock.start + t);
        for op in &p.ops {
            let r = match *op {
                Op::Write(n) => self.write(n),
                Op::Read(n) => self.read(Some(n)),
                Op::ReadEof => self.read(None),
                Op::ReadAll => self.read_now(),
                Op::WaitAcked => self.wait_acked(),
                Op::Sleep(d) => self.sleep_until(StdInstant::now() + d),
                Op::At(t) => self.sleep_until(self.clock.start + t),
                Op::Shutdown(how) => {
                    if how != Shutdown::Write {
                        self.shut_read = true;
                    }
                    if how != Shutdown::Read {
                        self.shut_write = true;
                    }
                    self.socket
                        .shutdown(how)
                        .map_err(|e| Stop::Failed(format!("shutdown: {}", describe(&e))))
                }
                Op::Close => {
                    self.note_cwnd();
                    self.note("close");
                    return;
                }
                Op::Abort => {
                    self.note_cwnd();
                    let _ = self.socket.set_linger(Some(StdDuration::ZERO));
                    self.note("abort");
                    return;
                }
            };
            match r {
                Ok(()) => {}
                Err(Stop::Time) => return self.end_of_run(),
                Err(Stop::Failed(e)) => {
                    self.note(format!("error: {e}"));
                    // A failed socket stays as the kernel left it.
                    self.drain = false;
                    let _ = self.sleep_until(self.clock.stop);
                    return self.end_of_run();
                }
            }
        }
        self.drain = false;
        let _ = self.sleep_until(self.clock.stop);
        self.end_of_run();
    }

    /// The run is over and the socket is about to be dropped: no lingering
    /// close (which would block this thread for the linger time, with no
    /// emulator left to carry the ACKs).
    fn end_of_run(mut self) {
        self.note_cwnd();
        let _ = self.socket.set_linger(None);
    }

    /// Waits until the socket is readable (when `readable`) or writable
    /// (when `write`), `until`, or the run's end, at most a tick; an end
    /// that drains (the shorthand) reads and discards what arrives
    /// meanwhile, unless the caller waits to read it itself.
    fn wait(&mut self, readable: bool, write: bool, until: StdInstant) -> Result<(), Stop> {
        let now = StdInstant::now();
        if now >= self.clock.stop || sys::stopped() {
            return Err(Stop::Time);
        }
        let timeout = until
            .min(self.clock.stop)
            .saturating_duration_since(now)
            .min(TICK);
        let background = !readable && self.drain && !self.eof && !self.shut_read;
        let read = readable || background;
        if !read && !write {
            // Nothing to wait for but the time. (A poll for no events still
            // returns at once on a hung-up socket, which would spin.) A
            // reset or timeout of the connection meanwhile ends the wait,
            // as it ends the simulation's step list.
            std::thread::sleep(timeout);
            return self.pending_error();
        }
        let (r, _) = sys::wait_socket(self.socket.as_fd(), read, write, timeout)
            .map_err(|e| Stop::Failed(format!("poll: {e}")))?;
        if r && background {
            self.read_up_to(None)?;
        }
        Ok(())
    }

    /// The connection's pending error (`SO_ERROR`: a reset, a timeout), if
    /// any, as a failure.
    fn pending_error(&self) -> Result<(), Stop> {
        match self.socket.take_error() {
            Ok(None) => Ok(()),
            Ok(Some(e)) | Err(e) => Err(Stop::Failed(describe(&e))),
        }
    }

    /// Whether a draining end's wait ends early: it has read end-of-stream
    /// (the shorthand closes then, whatever it was waiting for).
    fn eof_ends_wait(&self) -> bool {
        self.drain && self.eof
    }

    /// Reads what is readable now, at most `limit` octets (`None`: all of
    /// it), discarding it; notes end-of-stream. Returns the octets read.
    fn read_up_to(&mut self, limit: Option<u64>) -> Result<u64, Stop> {
        let mut got = 0;
        loop {
            let room = limit.map_or(self.buf.len() as u64, |l| l - got);
            if room == 0 {
                return Ok(got);
            }
            let len = room.min(self.buf.len() as u64) as usize;
            match self.socket.read(&mut self.buf[..len]) {
                Ok(0) => {
                    if !self.eof {
                        self.eof = true;
                        self.note("eof");
                    }
                    return Ok(got);
                }
                Ok(n) => got += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Failed(format!("read: {}", describe(&e)))),
            }
        }
    }

    /// `write N`, as one blocking `write()` of the rest each time (so that
    /// `TCP_NODELAY` pushes no segment the simulation's single write does
    /// not); a draining closer gives up the rest at its `close_at`.
    fn write(&mut self, n: u64) -> Result<(), Stop> {
        /// The most of a write handed to the kernel at once.
        const MAX_CHUNK: u64 = 4 << 20;
        if n == 0 {
            return Ok(());
        }
        // The pattern repeats every 256 octets: one buffer of the largest
        // chunk plus a period serves every offset, filled once, by copies
        // of the period (`repeat`: a byte-by-byte fill took 9 ms for a
        // 200 000-octet write in a debug build, late in the run's real time).
        const PERIOD: [u8; 256] = {
            let mut p = [0; 256];
            let mut i = 0;
            while i < 256 {
                p[i] = i as u8;
                i += 1;
            }
            p
        };
        let pattern = PERIOD.repeat(n.min(MAX_CHUNK) as usize / 256 + 2);
        let mut left = n;
        while left > 0 {
            let from = (self.written % 256) as usize;
            let len = left.min(MAX_CHUNK) as usize;
            match self.socket.write(&pattern[from..from + len]) {
                Ok(k) => {
                    self.written += k as u64;
                    left -= k as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // The write is issued in any case (the simulation's is,
                    // when the end is established, before its close_at);
                    // what still waits for room at close_at is given up.
                    if self.write_until.is_some_and(|t| StdInstant::now() >= t) {
                        return Ok(());
                    }
                    let until = self.write_until.unwrap_or(self.clock.stop);
                    self.wait(false, true, until)?;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Failed(format!("write: {}", describe(&e)))),
            }
        }
        Ok(())
    }

    /// `read N` (at most N octets, until N are read or end-of-stream) and
    /// `read eof` (`want` is `None`).
    fn read(&mut self, want: Option<u64>) -> Result<(), Stop> {
        if self.shut_read {
            return Ok(());
        }
        let mut got = 0;
        loop {
            if self.eof || want.is_some_and(|w| got >= w) {
                return Ok(());
            }
            let n = self.read_up_to(want.map(|w| w - got))?;
            got += n;
            if n == 0 && !self.eof {
                self.wait(true, false, self.clock.stop)?;
            }
        }
    }

    /// `read all`: what is readable now.
    fn read_now(&mut self) -> Result<(), Stop> {
        if self.shut_read {
            return Ok(());
        }
        self.read_up_to(None).map(drop)
    }

    /// `wait acked`: until everything written is acknowledged. `SIOCOUTQ`
    /// counts the FIN once the write side is shut down, and the simulation
    /// waits for the data only: one octet is then the FIN.
    fn wait_acked(&mut self) -> Result<(), Stop> {
        let fin = u32::from(self.shut_write);
        loop {
            match sys::unacked(self.socket.as_fd()) {
                Ok(n) if n <= fin => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(Stop::Failed(format!("SIOCOUTQ: {e}"))),
            }
            if self.eof_ends_wait() {
                return Ok(());
            }
            self.wait(false, false, StdInstant::now() + ACK_POLL)?;
        }
    }

    fn sleep_until(&mut self, t: StdInstant) -> Result<(), Stop> {
        while StdInstant::now() < t && !self.eof_ends_wait() {
            self.wait(false, false, t)?;
        }
        Ok(())
    }
}

/// The applications' real-time priority, below the emulator's.
const APP_PRIORITY: i32 = 40;

/// Sets up the calling thread as an application's: precise timers and, where
/// the system allows, a real-time policy.
pub(crate) fn app_thread() {
    sys::precise_timers();
    sys::realtime(APP_PRIORITY);
}

/// An error as the kernel's errno name says it, for the failures an
/// application can see.
fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNRESET) => "reset (ECONNRESET)".into(),
        Some(libc::ETIMEDOUT) => "timed out (ETIMEDOUT)".into(),
        Some(libc::ECONNREFUSED) => "refused (ECONNREFUSED)".into(),
        Some(libc::EPIPE) => "broken pipe (EPIPE)".into(),
        _ => e.to_string(),
    }
}

/// A connection as a kernel run sets it up.
#[derive(Clone, Debug)]
pub(crate) struct ConnPlan {
    /// Client and server host.
    pub hosts: [usize; 2],
    /// Client and server address with port.
    pub addrs: [SocketAddrV4; 2],
    /// When the client connects.
    pub open_at: StdDuration,
    /// Active (the server listens) or simultaneous (both connect).
    pub open: OpenMode,
    /// The ends' programs.
    pub programs: [Program; 2],
    /// The ends' socket options.
    pub options: [SocketOptions; 2],
    /// Whether the client sets `SO_REUSEADDR` (a fixed port in the file).
    pub reuse: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpsim_tcp::Instant;

    fn workload(close: CloseMode, close_at: Option<u64>) -> Workload {
        Workload {
            client: 0,
            server: 1,
            port: 80,
            open_at: Instant::ZERO,
            open: OpenMode::Active,
            client_port: None,
            client_sends: 100,
            server_sends: 7,
            close,
            close_at: close_at.map(|ms| Instant::ZERO + tcpsim_tcp::Duration::from_millis(ms)),
        }
    }

    #[test]
    fn the_shorthand_is_the_workloads_close_pattern() {
        // SPEC §3: the closer writes, waits for its data to be acknowledged
        // (or for close_at), shuts down its write side, reads to
        // end-of-stream and closes; the other end writes, reads to
        // end-of-stream and closes.
        let [c, s] = programs(&workload(CloseMode::ClientFirst, None), [None, None]);
        assert!(c.drain && s.drain);
        assert_eq!(
            c.ops,
            [
                Op::Write(100),
                Op::WaitAcked,
                Op::Shutdown(Shutdown::Write),
                Op::ReadEof,
                Op::Close
            ]
        );
        assert_eq!(s.ops, [Op::Write(7), Op::ReadEof, Op::Close]);
        let [c, s] = programs(&workload(CloseMode::ServerAbort, Some(250)), [None, None]);
        assert_eq!(c.ops, [Op::Write(100), Op::ReadEof, Op::Close]);
        assert_eq!(
            s.ops,
            [
                Op::Write(7),
                Op::At(StdDuration::from_millis(250)),
                Op::Abort
            ]
        );
        let [c, s] = programs(&workload(CloseMode::Simultaneous, Some(30)), [None, None]);
        assert_eq!(c.ops[1], Op::At(StdDuration::from_millis(30)));
        assert_eq!(s.ops[1], Op::At(StdDuration::from_millis(30)));
    }

    #[test]
    fn a_step_list_is_run_as_written_and_reads_only_in_its_steps() {
        let steps = [
            Step::Write(5),
            Step::Sleep(tcpsim_tcp::Duration::from_millis(3)),
            Step::ShutdownRead,
            Step::ReadAll,
            Step::Abort,
        ];
        let [c, s] = programs(
            &workload(CloseMode::ClientFirst, None),
            [Some(&steps[..]), None],
        );
        assert!(!c.drain, "a step list reads only in its read steps");
        assert_eq!(
            c.ops,
            [
                Op::Write(5),
                Op::Sleep(StdDuration::from_millis(3)),
                Op::Shutdown(Shutdown::Read),
                Op::ReadAll,
                Op::Abort
            ]
        );
        // The server keeps the shorthand.
        assert_eq!(s.ops, [Op::Write(7), Op::ReadEof, Op::Close]);
    }
}
