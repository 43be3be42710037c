//! The engine's side of the async API: which connections belong to async
//! sockets, which tasks wait on them, and the operations sockets perform.
//!
//! Everything here runs on the simulation's one thread, inside a borrow of
//! the [`Sim`]; waking a task only schedules it, so no task runs while the
//! engine is borrowed.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddrV4;
use std::task::Waker;

use tcpsim_tcp::{CommandError, ConnId};

use crate::sim::{ConnRun, Driver, Sim, ix};
use crate::trace::{AppCall, AppError, HostId, TraceKind};
use crate::workload::{CloseMode, End, EndReport, OpenMode, Workload};

/// What a stream's tasks wait for.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    connected: bool,
    eof: bool,
    gone: bool,
    error: Option<AppError>,
    read: Option<Waker>,
    write: Option<Waker>,
}

#[derive(Debug, Default)]
struct ListenerState {
    backlog: VecDeque<(ConnId, u32)>,
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

/// The `io::ErrorKind` a tokio user expects for each failure.
pub(crate) fn io_error(e: AppError) -> io::Error {
    let kind = match e {
        AppError::Refused => io::ErrorKind::ConnectionRefused,
        AppError::TimedOut => io::ErrorKind::TimedOut,
        AppError::Reset => io::ErrorKind::ConnectionReset,
        AppError::NoPort => io::ErrorKind::AddrNotAvailable,
    };
    io::Error::new(kind, e.detail())
}

impl Sockets {
    pub(crate) fn wake_read(&mut self, h: HostId, id: ConnId) {
        if let Some(s) = self.streams.get_mut(&(h, id)) {
            wake(&mut s.read);
        }
    }

    pub(crate) fn wake_write(&mut self, h: HostId, id: ConnId) {
        if let Some(s) = self.streams.get_mut(&(h, id)) {
            wake(&mut s.write);
        }
    }

    pub(crate) fn on_eof(&mut self, h: HostId, id: ConnId) {
        if let Some(s) = self.streams.get_mut(&(h, id)) {
            s.eof = true;
            wake(&mut s.read);
        }
    }

    /// The connection is gone: CLOSED, with an error or without.
    pub(crate) fn on_gone(&mut self, h: HostId, id: ConnId, error: Option<AppError>) {
        if let Some(s) = self.streams.get_mut(&(h, id)) {
            s.gone = true;
            if s.error.is_none() {
                s.error = error;
            }
            wake(&mut s.read);
            wake(&mut s.write);
        }
    }

    pub(crate) fn wake_sleeper(&mut self, token: u64) {
        if let Some(w) = self.sleepers.remove(&token) {
            w.wake();
        }
    }

    /// A token for a sleeping task, to wake at its deadline.
    pub(crate) fn sleeper(&mut self, waker: Waker) -> u64 {
        self.next_token += 1;
        self.sleepers.insert(self.next_token, waker);
        self.next_token
    }

    /// Forgets a sleeper whose future was dropped.
    pub(crate) fn cancel_sleeper(&mut self, token: u64) {
        self.sleepers.remove(&token);
    }

    /// Whether a sleeper still waits.
    pub(crate) fn has_sleeper(&self, token: u64) -> bool {
        self.sleepers.contains_key(&token)
    }

    /// Replaces the waker of a sleeper still waiting.
    pub(crate) fn rewake(&mut self, token: u64, waker: &Waker) {
        if let Some(w) = self.sleepers.get_mut(&token) {
            w.clone_from(waker);
        }
    }
}

impl Sim {
    /// The host with this name.
    pub(crate) fn host_id(&self, name: &str) -> Option<HostId> {
        self.topo.names.iter().position(|n| n == name)
    }

    /// A listener on `port` of `host`.
    pub(crate) fn async_listen(&mut self, host: HostId, port: u16) -> io::Result<()> {
        if self.hosts[host].endpoint.listen(port).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} already has a listener"),
            ));
        }
        self.record(TraceKind::App {
            host,
            conn: None,
            call: AppCall::Listen,
        });
        self.sockets
            .listeners
            .insert((host, port), ListenerState::default());
        Ok(())
    }

    pub(crate) fn async_unlisten(&mut self, host: HostId, port: u16) {
        self.hosts[host].endpoint.unlisten(port);
        self.sockets.listeners.remove(&(host, port));
    }

    /// The next accepted connection of a listener, or `None` (and the
    /// waker kept) if none is waiting.
    pub(crate) fn async_accept(
        &mut self,
        host: HostId,
        port: u16,
        waker: &Waker,
    ) -> Option<(ConnId, u32, SocketAddrV4)> {
        let l = self.sockets.listeners.get_mut(&(host, port))?;
        match l.backlog.pop_front() {
            Some((id, conn)) => {
                let peer = self.hosts[host]
                    .endpoint
                    .connection(id)
                    .map_or(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0), |c| {
                        c.remote()
                    });
                Some((id, conn, peer))
            }
            None => {
                l.waker = Some(waker.clone());
                None
            }
        }
    }

    /// A connection of an async application reached ESTABLISHED.
    pub(crate) fn async_connected(&mut self, h: HostId, id: ConnId, conn: u32, end: End) {
        match end {
            End::Client => {
                if let Some(s) = self.sockets.streams.get_mut(&(h, id)) {
                    s.connected = true;
                    wake(&mut s.write);
                }
            }
            End::Server => {
                self.record(TraceKind::App {
                    host: h,
                    conn: Some(conn),
                    call: AppCall::Accept,
                });
                let port = self.hosts[h]
                    .endpoint
                    .connection(id)
                    .map(|c| c.local().port());
                let Some(l) = port.and_then(|p| self.sockets.listeners.get_mut(&(h, p))) else {
                    return;
                };
                l.backlog.push_back((id, conn));
                wake(&mut l.waker);
                self.sockets.streams.insert(
                    (h, id),
                    StreamState {
                        connected: true,
                        ..StreamState::default()
                    },
                );
            }
        }
    }

    /// Active open from an async task: a new connection of the run.
    pub(crate) fn async_connect(
        &mut self,
        host: HostId,
        remote: SocketAddrV4,
    ) -> io::Result<(ConnId, u32)> {
        let conn = self.conns.len() as u32;
        let now = self.now;
        let server = self.host_at(*remote.ip()).unwrap_or(host);
        self.conns.push(ConnRun {
            driver: Driver::Async,
            workload: Workload {
                client: host,
                server,
                port: remote.port(),
                open_at: now,
                open: OpenMode::Active,
                client_port: None,
                client_sends: 0,
                server_sends: 0,
                close: CloseMode::None,
                close_at: None,
            },
            opened: now,
            ends: [EndReport::new(), EndReport::new()],
            ids: [None, None],
            shut: [false, false],
            aborted: false,
        });
        self.record(TraceKind::App {
            host,
            conn: Some(conn),
            call: AppCall::Connect,
        });
        match self.hosts[host].endpoint.connect(now, remote, None) {
            Ok(id) => {
                self.hosts[host].register(id, conn, End::Client);
                let local = self.hosts[host].endpoint.connection(id).map(|c| c.local());
                let run = &mut self.conns[conn as usize];
                run.ids[0] = Some(id);
                if let Some(local) = local {
                    run.ends[0].port = Some(local.port());
                    self.note_tuple(local, remote, conn);
                }
                self.sockets
                    .streams
                    .insert((host, id), StreamState::default());
                self.settle(host);
                Ok((id, conn))
            }
            Err(_) => {
                self.record(TraceKind::App {
                    host,
                    conn: Some(conn),
                    call: AppCall::Error(AppError::NoPort),
                });
                let e = &mut self.conns[conn as usize].ends[0];
                e.error = Some(AppError::NoPort);
                e.ended = Some(now);
                Err(io_error(AppError::NoPort))
            }
        }
    }

    /// Whether a connecting stream is established (`Ok(true)`), still
    /// connecting (`Ok(false)`, waker kept) or failed.
    pub(crate) fn async_poll_connect(
        &mut self,
        host: HostId,
        id: ConnId,
        waker: &Waker,
    ) -> io::Result<bool> {
        let Some(s) = self.sockets.streams.get_mut(&(host, id)) else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        if let Some(e) = s.error {
            return Err(io_error(e));
        }
        if s.connected {
            return Ok(true);
        }
        if s.gone {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        s.write = Some(waker.clone());
        Ok(false)
    }

    /// Reads into `buf`: `Some(n)` octets (0 at end of stream), or `None`
    /// with the waker kept.
    pub(crate) fn async_read(
        &mut self,
        host: HostId,
        id: ConnId,
        conn: u32,
        end: End,
        buf: &mut [u8],
        waker: &Waker,
    ) -> io::Result<Option<usize>> {
        let n = self.hosts[host].endpoint.recv(id, buf);
        if n > 0 {
            self.conns[conn as usize].ends[ix(end)].bytes_read += n as u64;
            self.settle(host);
            return Ok(Some(n));
        }
        let Some(s) = self.sockets.streams.get_mut(&(host, id)) else {
            return Ok(Some(0));
        };
        if let Some(e) = s.error {
            return Err(io_error(e));
        }
        if s.eof || s.gone || buf.is_empty() {
            return Ok(Some(0));
        }
        s.read = Some(waker.clone());
        Ok(None)
    }

    /// Writes all of `data` (the send buffer is unbounded).
    pub(crate) fn async_write(
        &mut self,
        host: HostId,
        id: ConnId,
        conn: u32,
        data: &[u8],
    ) -> io::Result<usize> {
        if let Some(e) = self.sockets.streams.get(&(host, id)).and_then(|s| s.error) {
            return Err(io_error(e));
        }
        let now = self.now;
        match self.hosts[host].endpoint.send(now, id, data) {
            Ok(n) => {
                self.record(TraceKind::App {
                    host,
                    conn: Some(conn),
                    call: AppCall::Write(n as u64),
                });
                self.settle(host);
                Ok(n)
            }
            Err(CommandError::Closing) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the write side is shut down",
            )),
            Err(CommandError::NotConnected) => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    /// Whether everything written is acknowledged (waker kept if not).
    pub(crate) fn async_flushed(
        &mut self,
        host: HostId,
        id: ConnId,
        waker: &Waker,
    ) -> io::Result<bool> {
        let unacked = self.hosts[host]
            .endpoint
            .connection(id)
            .map_or(0, |c| c.unacknowledged());
        let Some(s) = self.sockets.streams.get_mut(&(host, id)) else {
            return Ok(true);
        };
        if let Some(e) = s.error {
            return Err(io_error(e));
        }
        if unacked == 0 || s.gone {
            return Ok(true);
        }
        s.write = Some(waker.clone());
        Ok(false)
    }

    /// Shuts down the write side (FIN after the data), once.
    pub(crate) fn async_shutdown(
        &mut self,
        host: HostId,
        id: ConnId,
        conn: u32,
        end: End,
    ) -> io::Result<()> {
        let run = &mut self.conns[conn as usize];
        if run.shut[ix(end)] {
            return Ok(());
        }
        run.shut[ix(end)] = true;
        self.record(TraceKind::App {
            host,
            conn: Some(conn),
            call: AppCall::Close,
        });
        let now = self.now;
        let r = self.hosts[host].endpoint.shutdown(now, id);
        self.settle(host);
        r.map_err(|_| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Releases a stream (drop): FIN if not yet sent (the application's
    /// close); no more reading.
    pub(crate) fn async_release(&mut self, host: HostId, id: ConnId, conn: u32, end: End) {
        if self.stopped.is_some() {
            return;
        }
        let run = &mut self.conns[conn as usize];
        if !run.shut[ix(end)]
            && !run.aborted
            && self
                .sockets
                .streams
                .get(&(host, id))
                .is_some_and(|s| !s.gone)
        {
            run.shut[ix(end)] = true;
            self.record(TraceKind::App {
                host,
                conn: Some(conn),
                call: AppCall::Close,
            });
        }
        let now = self.now;
        self.hosts[host].endpoint.close(now, id);
        self.settle(host);
        self.sockets.streams.remove(&(host, id));
    }

    /// Aborts a stream with RST.
    pub(crate) fn async_abort(&mut self, host: HostId, id: ConnId, conn: u32) {
        if self.stopped.is_some() {
            return;
        }
        self.conns[conn as usize].aborted = true;
        self.record(TraceKind::App {
            host,
            conn: Some(conn),
            call: AppCall::Abort,
        });
        let now = self.now;
        self.hosts[host].endpoint.abort(now, id);
        self.settle(host);
        self.sockets.streams.remove(&(host, id));
    }
}
