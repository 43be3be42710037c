//! The built-in application of `[[connections]]`: each [`Workload`] opens
//! its connection at `open_at`; each end then either runs its own step
//! list ([`EndApp::steps`], carried out by [`super::steps`]) or follows the
//! shorthand: it writes its byte count once established, reads everything
//! that arrives, and closes as the [`CloseMode`] says.
//!
//! A write the send buffer cannot take at once goes on where it stopped
//! each time TCP reports room ([`Event::Writable`]), as a blocking
//! `write()` would; the end neither closes on [`Event::AllAcked`] nor at
//! end-of-stream before all of it is written.
//!
//! "Closes" is the graceful pattern: the application shuts down its write
//! side (FIN), keeps reading until end-of-stream, then releases the socket.
//! The closer closes once its data has been acknowledged (or at
//! `close_at`); the other side closes as soon as it reads end-of-stream,
//! after writing its own data. The `*-abort` modes send RST instead.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

use tcpsim_tcp::Event;

use super::steps::Runner;
use crate::app::{AppEvent, AppId, Application, Interests, Socket};
use crate::engine::{ConnRecord, Engine, ix};
use crate::facts::End;
use crate::trace::AppCall;
use crate::workload::{CloseMode, EndApp, OpenMode, Plan, Workload};

/// The workload's place in the application table.
pub(crate) const WORKLOAD: AppId = AppId(0);

/// The events the workload reacts to.
const INTERESTS: Interests = Interests::of(&[
    Event::Connected,
    Event::Readable,
    Event::AllAcked,
    Event::EndOfStream,
    Event::Writable,
]);

/// The events a connection with a step list reacts to: also the failures
/// that end a list.
const STEP_INTERESTS: Interests = INTERESTS.with(&[Event::Reset, Event::TimedOut]);

/// The largest pattern buffer kept between writes: a bounded send buffer's
/// largest write (`linux`: its 4 MiB ceiling and two buffers' goal) fits,
/// so a bulk transfer builds the pattern once; a whole stream written at
/// once into an unbounded send buffer does not stay allocated after it.
const WRITE_BUF_KEPT: usize = 8 << 20;

/// The octets applications write: a fixed pattern, so runs need no
/// randomness for payloads and a receiver can check order.
const PATTERN: [u8; 256] = {
    let mut p = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        p[i] = i as u8;
        i += 1;
    }
    p
};

/// Timer tokens: `4·conn` opens connection `conn`, `4·conn + 1` is its
/// `close_at`, `4·conn + 2` and `+ 3` wake its client's and its server's
/// step list.
const fn open_token(conn: u32) -> u64 {
    4 * conn as u64
}

/// The token that wakes the step list of `end` of `conn`.
pub(crate) const fn step_token(conn: u32, end: End) -> u64 {
    open_token(conn)
        + match end {
            End::Client => 2,
            End::Server => 3,
        }
}

/// The `[[connections]]` of an experiment, as one application. Connection
/// `i` of the run is workload `i` (they are created first, in order).
#[derive(Debug, Default)]
pub(crate) struct WorkloadApp {
    plan: Plan,
    /// What applications write (the pattern), kept between writes.
    write_buf: Vec<u8>,
    /// Writes the send buffer has not taken in full, by connection and end.
    pending: BTreeMap<(u32, End), Pending>,
    /// The step lists that have started, by connection and end.
    pub(super) runners: BTreeMap<(u32, End), Runner>,
    /// The opens and `close_at`s of the run as they are handed to the
    /// engine, kept for the next run.
    timers: Vec<(tcpsim_tcp::Instant, u64)>,
}

/// How far a write got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Written {
    /// All of it is in the send buffer.
    All,
    /// Part of it waits for room ([`Event::Writable`]).
    Waiting,
    /// The connection takes no more data.
    Failed,
}

/// A write that waits for room in the send buffer.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Octets taken so far.
    written: u64,
    /// Octets the write has in all.
    total: u64,
    /// End-of-stream came meanwhile: close once all is written.
    eof: bool,
}

impl WorkloadApp {
    /// Registers every connection and queues its open and its `close_at`.
    pub(crate) fn start(&mut self, plan: Plan, engine: &mut Engine) {
        let workloads = Arc::clone(&plan.workloads);
        // Room for every connection from the start: no growth (and no copy
        // of a large table) while the run builds up. (Small runs grow as
        // they go, which costs less than counting.)
        if workloads.len() >= 64 {
            let mut ends = vec![0usize; engine.hosts.len()];
            for w in workloads.iter() {
                ends[w.client] += 1;
                ends[w.server] += 1;
            }
            for (h, n) in ends.into_iter().enumerate() {
                engine.hosts[h].endpoint.reserve(n);
                engine.conns.reserve_ends(h, n);
            }
        }
        engine.conns.reserve(workloads.len());
        self.pending.clear();
        self.runners.clear();
        let mut timers = std::mem::take(&mut self.timers);
        timers.clear();
        for (i, w) in workloads.iter().enumerate() {
            let steps = plan
                .ends(i as u32)
                .is_some_and(|e| e.iter().any(|e| e.steps.is_some()));
            let interests = if steps { STEP_INTERESTS } else { INTERESTS };
            let conn = engine
                .conns
                .create(WORKLOAD, interests, w.open_at, w.client, w.server, w.port);
            timers.push((w.open_at, open_token(conn)));
            if let Some(t) = w.close_at {
                timers.push((t, open_token(conn) + 1));
            }
        }
        engine.schedule_apps(WORKLOAD, timers.iter().copied());
        self.timers = timers;
        self.plan = plan;
    }

    fn workload(&self, conn: u32) -> &Workload {
        &self.plan.workloads[conn as usize]
    }

    /// The [`EndApp`] of `end` of `conn`, if it has one.
    fn end_app(&self, conn: u32, end: End) -> Option<&EndApp> {
        self.plan.ends(conn).map(|e| &e[ix(end)])
    }

    /// Whether `end` of `conn` runs a step list instead of the shorthand.
    pub(super) fn has_steps(&self, conn: u32, end: End) -> bool {
        self.end_app(conn, end).is_some_and(|e| e.steps.is_some())
    }

    /// The step list of `end` of `conn` (empty for a shorthand end).
    pub(super) fn steps(&self, conn: u32, end: End) -> &[crate::workload::Step] {
        self.end_app(conn, end)
            .and_then(|e| e.steps.as_deref())
            .unwrap_or(&[])
    }

    /// Whether a close of `end` of `conn` aborts (`SO_LINGER` 0).
    pub(super) fn linger_aborts(&self, conn: u32, end: End) -> bool {
        self.end_app(conn, end).is_some_and(EndApp::linger_aborts)
    }

    /// `open_at`: the client connects (and, for a simultaneous open, the
    /// server connects back).
    fn open(&mut self, engine: &mut Engine, c: u32) {
        let w = *self.workload(c);
        let server_addr = SocketAddrV4::new(engine.hosts[w.server].addr, w.port);
        let config = |end| self.end_app(c, end).and_then(|e| e.config.as_ref());
        let _ = engine.connect(
            c,
            End::Client,
            server_addr,
            w.client_port,
            config(End::Client),
        );
        if w.open == OpenMode::Simultaneous {
            let port = w.client_port.unwrap_or(0);
            let client_addr = SocketAddrV4::new(engine.hosts[w.client].addr, port);
            let _ = engine.connect(
                c,
                End::Server,
                client_addr,
                Some(w.port),
                config(End::Server),
            );
            engine.flush(w.server);
        }
        engine.flush(w.client);
    }

    /// `close_at`: the closer (or both) closes; an end with a step list
    /// does what its list says instead.
    fn close_at(&mut self, engine: &mut Engine, c: u32) {
        let w = *self.workload(c);
        match w.close {
            CloseMode::ClientFirst | CloseMode::ClientAbort => self.close(engine, c, End::Client),
            CloseMode::ServerFirst | CloseMode::ServerAbort => self.close(engine, c, End::Server),
            CloseMode::Simultaneous => {
                self.close(engine, c, End::Client);
                self.close(engine, c, End::Server);
            }
            CloseMode::None => {}
        }
        engine.flush(w.client);
        engine.flush(w.server);
    }

    /// The end reached ESTABLISHED: it writes its data, and the closer
    /// with nothing to write closes at once.
    fn connected(&mut self, engine: &mut Engine, s: Socket) {
        let w = self.workload(s.conn);
        let bytes = match s.end {
            End::Client => w.client_sends,
            End::Server => w.server_sends,
        };
        let close_now = bytes == 0 && w.close_at.is_none() && closer(w.close) == Some(s.end);
        if bytes > 0 {
            self.write(engine, s.conn, s.end, 0, bytes);
        }
        if close_now {
            self.close(engine, s.conn, s.end);
        }
    }

    /// Writes octets `from..total` of the stream (octet i is i mod 256);
    /// what the send buffer does not take waits for [`Event::Writable`].
    pub(super) fn write(
        &mut self,
        engine: &mut Engine,
        c: u32,
        end: End,
        from: u64,
        total: u64,
    ) -> Written {
        let Some(s) = engine.socket(c, end) else {
            return Written::Failed;
        };
        // One write of the rest of the stream, so TCP sees it at once and
        // segments it by MSS, as a real application's single write() would;
        // no more of it built than a bounded send buffer can take (the
        // rest goes on at the next `Writable`, as it would anyway).
        let bytes = (total - from).min(engine.write_limit(s).unwrap_or(u64::MAX));
        let start = (from % PATTERN.len() as u64) as usize;
        let taken = if start == 0 && bytes <= PATTERN.len() as u64 {
            engine.send(s, &PATTERN[..bytes as usize])
        } else {
            // The pattern from its start, built once and extended: the
            // write is a slice of it (octet i is i mod 256, so the slice
            // from `start` is the stream from `from`). It grows to the
            // largest write a bounded send buffer takes (its room and two
            // buffers' goal), not per write; an unbounded one takes the
            // whole stream at once, and so large a buffer is given back.
            let need = start + bytes as usize;
            self.write_buf
                .reserve(need.saturating_sub(self.write_buf.len()));
            while self.write_buf.len() < need {
                let at = self.write_buf.len() % PATTERN.len();
                let n = (need - self.write_buf.len()).min(PATTERN.len() - at);
                self.write_buf.extend_from_slice(&PATTERN[at..at + n]);
            }
            let taken = engine.send(s, &self.write_buf[start..need]);
            if self.write_buf.capacity() > WRITE_BUF_KEPT {
                self.write_buf = Vec::new();
            }
            taken
        };
        let written = from + taken.unwrap_or(0) as u64;
        if taken.is_ok() && written < total {
            let eof = self.pending.get(&(c, end)).is_some_and(|p| p.eof);
            self.pending.insert(
                (c, end),
                Pending {
                    written,
                    total,
                    eof,
                },
            );
            return Written::Waiting;
        } else if let Some(p) = self.pending.remove(&(c, end)) {
            if p.eof {
                self.eof(engine, s);
            }
        }
        if taken.is_ok() {
            Written::All
        } else {
            Written::Failed
        }
    }

    /// The send buffer has room: a waiting write goes on.
    pub(super) fn writable(&mut self, engine: &mut Engine, s: Socket) -> Written {
        match self.pending.get(&(s.conn, s.end)).copied() {
            Some(p) => self.write(engine, s.conn, s.end, p.written, p.total),
            None => Written::All,
        }
    }

    /// The application at `end` closes: FIN after its data, or RST in the
    /// abort modes. Does nothing the second time.
    fn close(&mut self, engine: &mut Engine, c: u32, end: End) {
        if self.has_steps(c, end) {
            return;
        }
        let Some(s) = engine.socket(c, end) else {
            return;
        };
        if engine.is_shut(s) {
            return;
        }
        // Whatever the write had left is not written now.
        self.pending.remove(&(c, end));
        let abort = matches!(
            (self.workload(c).close, end),
            (CloseMode::ClientAbort, End::Client) | (CloseMode::ServerAbort, End::Server)
        );
        if abort {
            engine.abort(s);
        } else {
            let _ = engine.shutdown(s, AppCall::Close);
        }
    }

    /// End-of-stream: the application closes if it has not (after its own
    /// data, which is already queued), then releases the socket.
    fn eof(&mut self, engine: &mut Engine, s: Socket) {
        if self.workload(s.conn).close == CloseMode::None && !engine.is_shut(s) {
            return;
        }
        if let Some(p) = self.pending.get_mut(&(s.conn, s.end)) {
            // Its own data first: the close waits for the write.
            p.eof = true;
            return;
        }
        self.close(engine, s.conn, s.end);
        if self.linger_aborts(s.conn, s.end) && !engine.is_aborted(s) {
            engine.abort(s);
        } else {
            engine.release(s, false);
        }
    }
}

impl Application for WorkloadApp {
    fn on_event(&mut self, engine: &mut Engine, ev: AppEvent) {
        let s = ev.socket;
        if self.has_steps(s.conn, s.end) {
            self.step_event(engine, s, ev.event);
            return;
        }
        match ev.event {
            Event::Readable => {
                // An application that runs goes on with a write that was
                // waiting for room as soon as there is some, before it
                // reads (as an async task's `join!(write, read)` polls): the
                // room an ACK of this instant made may be reported after
                // the data.
                if engine.is_writable(s) {
                    let _ = self.writable(engine, s);
                }
                engine.recv_all(s);
            }
            Event::Connected => self.connected(engine, s),
            Event::AllAcked => {
                let w = self.workload(s.conn);
                // An AllAcked queued before a write that another event of
                // the same instant let out is stale.
                let writing =
                    self.pending.contains_key(&(s.conn, s.end)) || engine.unacknowledged(s) > 0;
                if w.close_at.is_none() && closer(w.close) == Some(s.end) && !writing {
                    self.close(engine, s.conn, s.end);
                }
            }
            Event::EndOfStream => self.eof(engine, s),
            Event::Writable => {
                let _ = self.writable(engine, s);
            }
            _ => return,
        }
        engine.flush(s.host);
    }

    fn on_timer(&mut self, engine: &mut Engine, token: u64) {
        let conn = (token / 4) as u32;
        match token % 4 {
            0 => self.open(engine, conn),
            1 => self.close_at(engine, conn),
            2 => self.wake(engine, conn, End::Client),
            _ => self.wake(engine, conn, End::Server),
        }
    }

    fn timer_pending(&self, token: u64) -> bool {
        let conn = (token / 4) as u32;
        match token % 4 {
            2 => self.is_sleeping(conn, End::Client),
            3 => self.is_sleeping(conn, End::Server),
            _ => true,
        }
    }

    fn describe(&self, conn: u32, _record: &ConnRecord) -> Workload {
        *self.workload(conn)
    }
}

/// Who closes first on their own (not at `close_at`).
fn closer(mode: CloseMode) -> Option<End> {
    match mode {
        CloseMode::ClientFirst | CloseMode::ClientAbort => Some(End::Client),
        CloseMode::ServerFirst | CloseMode::ServerAbort => Some(End::Server),
        CloseMode::Simultaneous | CloseMode::None => None,
    }
}
