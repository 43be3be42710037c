//! The async sockets as an application: which tasks wait on which
//! connection, and the operations [`crate::TcpStream`] and
//! [`crate::TcpListener`] perform through the engine's host API.
//!
//! Everything here runs on the simulation's one thread, inside a borrow of
//! the simulation; waking a task only schedules it, so no task runs while
//! the engine is borrowed.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::task::Waker;

use tcpsim_tcp::{CommandError, ConnId, Event, Instant};

use crate::app::{AppEvent, AppId, Application, Interests, Socket};
use crate::engine::{ConnRecord, Engine};
use crate::facts::End;
use crate::trace::{AppCall, AppError, HostId};
use crate::workload::{CloseMode, OpenMode, Workload};

/// The sockets' place in the application table.
pub(crate) const SOCKETS: AppId = AppId(1);

/// What a stream's tasks wait for.
#[derive(Debug, Default)]
struct StreamState {
    connected: bool,
    eof: bool,
    gone: bool,
    error: Option<AppError>,
    read: Option<Waker>,
    write: Option<Waker>,
    /// A write came up short: the next waits for [`Event::Writable`], as
    /// tokio over a real socket waits for `EPOLLOUT` after `EAGAIN`.
    full: bool,
    /// A writer waiting for room in the send buffer.
    room: Option<Waker>,
}

#[derive(Debug, Default)]
struct ListenerState {
    backlog: VecDeque<Socket>,
    waker: Option<Waker>,
}

/// The async sockets of a run.
#[derive(Debug, Default)]
pub(crate) struct Sockets {
    streams: BTreeMap<(HostId, ConnId), StreamState>,
    listeners: BTreeMap<(HostId, u16), ListenerState>,
    sleepers: BTreeMap<u64, Waker>,
    next_token: u64,
}

fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

/// The key of a socket's stream state.
fn key(s: Socket) -> (HostId, ConnId) {
    (s.host, s.id)
}

/// The `io::ErrorKind` a tokio user expects for each failure.
pub(crate) fn io_error(e: AppError) -> io::Error {
    let kind = match e {
        AppError::Refused => io::ErrorKind::ConnectionRefused,
        AppError::TimedOut => io::ErrorKind::TimedOut,
        AppError::Reset => io::ErrorKind::ConnectionReset,
        AppError::NoPort => io::ErrorKind::AddrNotAvailable,
        AppError::PortInUse => io::ErrorKind::AddrInUse,
    };
    io::Error::new(kind, e.detail())
}

impl Application for Sockets {
    fn on_event(&mut self, engine: &mut Engine, ev: AppEvent) {
        let s = ev.socket;
        match ev.event {
            Event::Readable => {
                if let Some(st) = self.streams.get_mut(&key(s)) {
                    wake(&mut st.read);
                }
            }
            Event::AllAcked => {
                if let Some(st) = self.streams.get_mut(&key(s)) {
                    wake(&mut st.write);
                }
            }
            Event::Writable => {
                if let Some(st) = self.streams.get_mut(&key(s)) {
                    st.full = false;
                    wake(&mut st.room);
                }
            }
            Event::Connected => self.on_connected(engine, s),
            Event::EndOfStream => {
                if let Some(st) = self.streams.get_mut(&key(s)) {
                    st.eof = true;
                    wake(&mut st.read);
                }
            }
            Event::Closed => self.on_gone(s, None),
            Event::Refused => self.on_gone(s, Some(AppError::Refused)),
            Event::Reset => self.on_gone(s, Some(AppError::Reset)),
            Event::TimedOut => self.on_gone(s, Some(AppError::TimedOut)),
            Event::StateChanged { .. } | Event::TimerFired(_) => {}
        }
    }

    fn on_timer(&mut self, _engine: &mut Engine, token: u64) {
        if let Some(w) = self.sleepers.remove(&token) {
            w.wake();
        }
    }

    fn timer_pending(&self, token: u64) -> bool {
        self.sleepers.contains_key(&token)
    }

    /// An async connection has no workload: it is described as the
    /// active open that it was, closed by nobody but its tasks.
    fn describe(&self, _conn: u32, r: &ConnRecord) -> Workload {
        Workload {
            client: r.hosts[0],
            server: r.hosts[1],
            port: r.port,
            open_at: r.opened,
            open: OpenMode::Active,
            client_port: None,
            client_sends: 0,
            server_sends: 0,
            close: CloseMode::None,
            close_at: None,
        }
    }
}

impl Sockets {
    /// An end of one of the sockets' connections reached ESTABLISHED.
    fn on_connected(&mut self, engine: &mut Engine, s: Socket) {
        match s.end {
            End::Client => {
                if let Some(st) = self.streams.get_mut(&key(s)) {
                    st.connected = true;
                    wake(&mut st.write);
                }
            }
            End::Server => {
                let port = engine.hosts[s.host]
                    .endpoint
                    .connection(s.id)
                    .map(|c| c.local().port());
                let Some(l) = port.and_then(|p| self.listeners.get_mut(&(s.host, p))) else {
                    return;
                };
                l.backlog.push_back(s);
                wake(&mut l.waker);
                self.streams.insert(
                    key(s),
                    StreamState {
                        connected: true,
                        ..StreamState::default()
                    },
                );
            }
        }
    }

    /// The connection is gone: CLOSED, with an error or without.
    fn on_gone(&mut self, s: Socket, error: Option<AppError>) {
        if let Some(st) = self.streams.get_mut(&key(s)) {
            st.gone = true;
            if st.error.is_none() {
                st.error = error;
            }
            wake(&mut st.read);
            wake(&mut st.write);
            wake(&mut st.room);
        }
    }

    /// A token for a task sleeping until `deadline`.
    pub(crate) fn sleep(&mut self, engine: &mut Engine, deadline: Instant, waker: Waker) -> u64 {
        self.next_token += 1;
        self.sleepers.insert(self.next_token, waker);
        engine.schedule_app(deadline, SOCKETS, self.next_token);
        self.next_token
    }

    /// Forgets a sleeper whose future was dropped.
    pub(crate) fn cancel_sleeper(&mut self, token: u64) {
        self.sleepers.remove(&token);
    }

    /// Replaces the waker of a sleeper still waiting.
    pub(crate) fn rewake(&mut self, token: u64, waker: &Waker) {
        if let Some(w) = self.sleepers.get_mut(&token) {
            w.clone_from(waker);
        }
    }

    /// A listener on `port` of `host`.
    pub(crate) fn listen(
        &mut self,
        engine: &mut Engine,
        host: HostId,
        port: u16,
    ) -> io::Result<()> {
        if engine.listen(host, port).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} already has a listener"),
            ));
        }
        self.listeners
            .insert((host, port), ListenerState::default());
        Ok(())
    }

    pub(crate) fn unlisten(&mut self, engine: &mut Engine, host: HostId, port: u16) {
        engine.unlisten(host, port);
        self.listeners.remove(&(host, port));
    }

    /// The next accepted connection of a listener and its peer, or `None`
    /// (and the waker kept) if none is waiting.
    pub(crate) fn accept(
        &mut self,
        engine: &Engine,
        host: HostId,
        port: u16,
        waker: &Waker,
    ) -> Option<(Socket, SocketAddrV4)> {
        let l = self.listeners.get_mut(&(host, port))?;
        match l.backlog.pop_front() {
            Some(s) => {
                let peer = engine.hosts[host]
                    .endpoint
                    .connection(s.id)
                    .map_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), |c| c.remote());
                Some((s, peer))
            }
            None => {
                l.waker = Some(waker.clone());
                None
            }
        }
    }

    /// Active open from a task: a new connection of the run.
    pub(crate) fn connect(
        &mut self,
        engine: &mut Engine,
        host: HostId,
        remote: SocketAddrV4,
    ) -> io::Result<Socket> {
        let now = engine.now;
        let server = engine.host_at(*remote.ip()).unwrap_or(host);
        let conn = engine
            .conns
            .create(SOCKETS, Interests::ALL, now, host, server, remote.port());
        match engine.connect(conn, End::Client, remote, None, None) {
            Ok(s) => {
                self.streams.insert(key(s), StreamState::default());
                engine.flush(host);
                Ok(s)
            }
            Err(e) => Err(io_error(e)),
        }
    }

    /// Whether a connecting stream is established (`Ok(true)`), still
    /// connecting (`Ok(false)`, waker kept) or failed.
    pub(crate) fn poll_connect(&mut self, s: Socket, waker: &Waker) -> io::Result<bool> {
        let Some(st) = self.streams.get_mut(&key(s)) else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        if let Some(e) = st.error {
            return Err(io_error(e));
        }
        if st.connected {
            return Ok(true);
        }
        if st.gone {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        st.write = Some(waker.clone());
        Ok(false)
    }

    /// Reads into `buf`: `Some(n)` octets (0 at end of stream), or `None`
    /// with the waker kept.
    pub(crate) fn read(
        &mut self,
        engine: &mut Engine,
        s: Socket,
        buf: &mut [u8],
        waker: &Waker,
    ) -> io::Result<Option<usize>> {
        let n = engine.recv(s, buf);
        if n > 0 {
            engine.flush(s.host);
            return Ok(Some(n));
        }
        let Some(st) = self.streams.get_mut(&key(s)) else {
            return Ok(Some(0));
        };
        if let Some(e) = st.error {
            return Err(io_error(e));
        }
        if st.eof || st.gone || buf.is_empty() {
            return Ok(Some(0));
        }
        st.read = Some(waker.clone());
        Ok(None)
    }

    /// Writes as much of `data` as the send buffer takes; `None` (the
    /// waker kept) when it takes nothing of a non-empty `data`.
    pub(crate) fn write(
        &mut self,
        engine: &mut Engine,
        s: Socket,
        data: &[u8],
        waker: &Waker,
    ) -> io::Result<Option<usize>> {
        if let Some(e) = self.streams.get(&key(s)).and_then(|st| st.error) {
            return Err(io_error(e));
        }
        if let Some(st) = self
            .streams
            .get_mut(&key(s))
            .filter(|st| st.full && !st.gone)
        {
            st.room = Some(waker.clone());
            return Ok(None);
        }
        match engine.send(s, data) {
            Ok(n) => {
                if n < data.len() {
                    if let Some(st) = self.streams.get_mut(&key(s)) {
                        st.full = true;
                        if n == 0 {
                            st.room = Some(waker.clone());
                            return Ok(None);
                        }
                    }
                }
                engine.flush(s.host);
                Ok(Some(n))
            }
            Err(CommandError::Closing) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the write side is shut down",
            )),
            Err(CommandError::NotConnected) => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    /// Whether everything written is acknowledged (waker kept if not).
    pub(crate) fn flushed(
        &mut self,
        engine: &Engine,
        s: Socket,
        waker: &Waker,
    ) -> io::Result<bool> {
        let unacked = engine.hosts[s.host]
            .endpoint
            .connection(s.id)
            .map_or(0, |c| c.unacknowledged());
        let Some(st) = self.streams.get_mut(&key(s)) else {
            return Ok(true);
        };
        if let Some(e) = st.error {
            return Err(io_error(e));
        }
        if unacked == 0 || st.gone {
            return Ok(true);
        }
        st.write = Some(waker.clone());
        Ok(false)
    }

    /// Shuts down the write side (FIN after the data), once.
    pub(crate) fn shutdown(&mut self, engine: &mut Engine, s: Socket) -> io::Result<()> {
        if engine.is_shut(s) {
            return Ok(());
        }
        let r = engine.shutdown(s, AppCall::Close);
        engine.flush(s.host);
        r.map_err(|_| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Releases a stream (drop): FIN if not yet sent (the application's
    /// close); no more reading.
    pub(crate) fn release(&mut self, engine: &mut Engine, s: Socket) {
        if engine.stopped() {
            return;
        }
        let live = self.streams.get(&key(s)).is_some_and(|st| !st.gone);
        engine.release(s, live);
        engine.flush(s.host);
        self.streams.remove(&key(s));
    }

    /// Aborts a stream with RST.
    pub(crate) fn abort(&mut self, engine: &mut Engine, s: Socket) {
        if engine.stopped() {
            return;
        }
        engine.abort(s);
        engine.flush(s.host);
        self.streams.remove(&key(s));
    }
}
