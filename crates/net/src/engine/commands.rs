//! The host API: the socket commands applications issue, at the current
//! virtual instant.
//!
//! A command acts on the host's TCP endpoint and records the application
//! call in the trace; it does not settle the host, so that an application
//! issuing several commands at one instant decides when their segments go
//! out ([`Engine::flush`]).

use std::net::SocketAddrV4;
use std::sync::Arc;

use tcpsim_tcp::{CommandError, Config, ConnectError, ListenError};

use super::Engine;
use super::registry::ix;
use crate::app::{AppId, Socket};
use crate::facts::End;
use crate::trace::{AppCall, AppError, HostId, TraceKind};

use super::Action;
use tcpsim_tcp::Instant;

impl Engine {
    /// Sets a timer of application `app`: its `on_timer(token)` runs at `at`.
    pub(crate) fn schedule_app(&mut self, at: Instant, app: AppId, token: u64) {
        self.schedule(at, Action::App { app, token });
    }

    /// Sets the timers `(at, token)` of application `app`, in order, as
    /// [`Engine::schedule_app`] would one by one: for the many timers a run
    /// sets at its start (every connection's open), which then wait apart
    /// from the events the run schedules as it goes
    /// ([`EventQueue::push_all`](super::EventQueue::push_all)).
    pub(crate) fn schedule_apps(
        &mut self,
        app: AppId,
        timers: impl IntoIterator<Item = (Instant, u64)>,
    ) {
        self.queue.push_all(
            timers
                .into_iter()
                .map(|(at, token)| (at, Action::App { app, token })),
        );
    }

    /// Sends a host's pending segments and queues its events: what a
    /// command leaves undone.
    pub(crate) fn flush(&mut self, host: HostId) {
        self.settle(host);
    }

    /// The socket of one end of a connection, if its application has it: a
    /// server end a listener made is the application's once it is
    /// accepted (established), not while it waits in SYN-RECEIVED, where
    /// no `close()` can reach it.
    pub(crate) fn socket(&self, conn: u32, end: End) -> Option<Socket> {
        let (host, id) = self.conns.handle(conn, end)?;
        let r = self.conns.get(conn);
        if end == End::Server && r.passive && r.ends[ix(end)].established.is_none() {
            return None;
        }
        Some(Socket {
            host,
            id,
            conn,
            end,
        })
    }

    /// `listen()` on `port` of `host`.
    pub(crate) fn listen(&mut self, host: HostId, port: u16) -> Result<(), ListenError> {
        self.hosts[host].endpoint.listen(port)?;
        self.record(TraceKind::App {
            host,
            conn: None,
            call: AppCall::Listen,
        });
        Ok(())
    }

    /// Closes the listener on `port` of `host`.
    pub(crate) fn unlisten(&mut self, host: HostId, port: u16) {
        self.hosts[host].endpoint.unlisten(port);
    }

    /// `connect()`: `end` of `conn`, on its host, opens towards `remote`
    /// from `local_port` (`None`: the next ephemeral port), with `config`
    /// instead of the host's when given. Without a free port the end fails
    /// at once.
    pub(crate) fn connect(
        &mut self,
        conn: u32,
        end: End,
        remote: SocketAddrV4,
        local_port: Option<u16>,
        config: Option<&Arc<Config>>,
    ) -> Result<Socket, AppError> {
        let now = self.now;
        let host = self.conns.get(conn).hosts[ix(end)];
        self.record(TraceKind::App {
            host,
            conn: Some(conn),
            call: AppCall::Connect,
        });
        let ep = &mut self.hosts[host].endpoint;
        let opened = match config {
            Some(c) => ep.connect_with(now, remote, local_port, Arc::clone(c)),
            None => ep.connect(now, remote, local_port),
        };
        match opened {
            Ok(id) => {
                self.conns.bind(host, id, conn, end);
                let local = self.hosts[host].endpoint.connection(id).map(|c| c.local());
                if let Some(local) = local {
                    self.conns.end_mut(conn, end).port = Some(local.port());
                    if end == End::Client {
                        self.conns.note_flow(local, remote, conn);
                    }
                }
                Ok(Socket {
                    host,
                    id,
                    conn,
                    end,
                })
            }
            Err(err) => {
                let error = match err {
                    ConnectError::PortInUse(_) => AppError::PortInUse,
                    ConnectError::NoEphemeralPort(..) => AppError::NoPort,
                };
                self.record(TraceKind::App {
                    host,
                    conn: Some(conn),
                    call: AppCall::Error(error),
                });
                let e = self.conns.end_mut(conn, end);
                e.error = Some(error);
                e.ended = Some(now);
                Err(error)
            }
        }
    }

    /// `write()`: as much of `data` as the send buffer takes (all of it
    /// when unbounded); the call is recorded with the count only if TCP
    /// took the data.
    pub(crate) fn send(&mut self, s: Socket, data: &[u8]) -> Result<usize, CommandError> {
        let now = self.now;
        let n = self.hosts[s.host].endpoint.send(now, s.id, data)?;
        if n > 0 {
            self.record_call(s, AppCall::Write(n as u64));
        }
        Ok(n)
    }

    /// `read()` into `buf`; returns the octets read.
    pub(crate) fn recv(&mut self, s: Socket, buf: &mut [u8]) -> usize {
        let n = self.hosts[s.host].endpoint.recv(s.id, buf);
        self.conns.end_mut(s.conn, s.end).bytes_read += n as u64;
        n
    }

    /// Reads at most `max` octets and throws them away; returns the octets
    /// read.
    pub(crate) fn recv_up_to(&mut self, s: Socket, max: u64) -> u64 {
        let mut buf = std::mem::take(&mut self.read_buf);
        let want = max.min(self.readable(s) as u64) as usize;
        buf.clear();
        buf.resize(want, 0);
        let n = self.hosts[s.host].endpoint.recv(s.id, &mut buf);
        buf.clear();
        self.read_buf = buf;
        self.conns.end_mut(s.conn, s.end).bytes_read += n as u64;
        n as u64
    }

    /// Octets ready to be read on this end.
    pub(crate) fn readable(&self, s: Socket) -> usize {
        self.hosts[s.host]
            .endpoint
            .connection(s.id)
            .map_or(0, |c| c.readable())
    }

    /// Whether this end has read everything it will ever get: the peer's
    /// FIN has arrived and nothing is left to read, or the connection is
    /// gone.
    pub(crate) fn at_eof(&self, s: Socket) -> bool {
        self.hosts[s.host]
            .endpoint
            .connection(s.id)
            .is_none_or(|c| c.is_eof() && c.readable() == 0)
    }

    /// Reads everything readable now and throws it away; returns the
    /// octets read.
    pub(crate) fn recv_all(&mut self, s: Socket) -> usize {
        let mut buf = std::mem::take(&mut self.read_buf);
        let n = self.hosts[s.host].endpoint.recv_to_end(s.id, &mut buf);
        buf.clear();
        self.read_buf = buf;
        self.conns.end_mut(s.conn, s.end).bytes_read += n as u64;
        n
    }

    /// The most one write can hand this end's TCP now: what its bounded
    /// send buffer (at its current size) could take — the room below the
    /// size, with the last buffer it may begin filling to 64 KiB past it,
    /// and a buffer being split as it is sent — or `None` when the buffer
    /// is unbounded. A writer need not build more of its data than this.
    pub(crate) fn write_limit(&self, s: Socket) -> Option<u64> {
        let c = self.hosts[s.host].endpoint.connection(s.id)?;
        let size = u64::from(c.send_buffer()?);
        let used = c.send_buffer_used();
        Some(size.saturating_sub(used) + 2 * u64::from(tcpsim_tcp::SEND_BUFFER_GOAL_MAX))
    }

    /// Whether a write would find room in this end's send buffer now.
    pub(crate) fn is_writable(&self, s: Socket) -> bool {
        self.hosts[s.host]
            .endpoint
            .connection(s.id)
            .is_some_and(|c| c.is_writable())
    }

    /// Octets this end has written that are not yet acknowledged.
    pub(crate) fn unacknowledged(&self, s: Socket) -> usize {
        self.hosts[s.host]
            .endpoint
            .connection(s.id)
            .map_or(0, |c| c.unacknowledged())
    }

    /// Whether this end's application has shut down its write side (or
    /// aborted).
    pub(crate) fn is_shut(&self, s: Socket) -> bool {
        self.conns.get(s.conn).shut[ix(s.end)]
    }

    /// Whether an application aborted this end's connection.
    pub(crate) fn is_aborted(&self, s: Socket) -> bool {
        self.conns.get(s.conn).aborted
    }

    /// `shutdown(SHUT_WR)`: FIN after the queued data, recorded as `call`.
    /// Only the first call does anything.
    pub(crate) fn shutdown(&mut self, s: Socket, call: AppCall) -> Result<(), CommandError> {
        let r = self.conns.get_mut(s.conn);
        if r.shut[ix(s.end)] {
            return Ok(());
        }
        r.shut[ix(s.end)] = true;
        self.record_call(s, call);
        let now = self.now;
        self.hosts[s.host].endpoint.shutdown(now, s.id)
    }

    /// `close()`: releases the socket (no more reading; FIN if not yet
    /// sent). With `announce`, the call is recorded as the application's
    /// close unless it shut down or aborted before.
    pub(crate) fn release(&mut self, s: Socket, announce: bool) {
        let r = self.conns.get_mut(s.conn);
        r.released[ix(s.end)] = true;
        if announce && !r.shut[ix(s.end)] && !r.aborted {
            r.shut[ix(s.end)] = true;
            self.record_call(s, AppCall::Close);
        }
        let now = self.now;
        self.hosts[s.host].endpoint.close(now, s.id);
    }

    /// Records an application call on a socket.
    pub(crate) fn record_call(&mut self, s: Socket, call: AppCall) {
        self.record(TraceKind::App {
            host: s.host,
            conn: Some(s.conn),
            call,
        });
    }

    /// Aborts the connection with RST (SO_LINGER 0).
    pub(crate) fn abort(&mut self, s: Socket) {
        let r = self.conns.get_mut(s.conn);
        r.shut[ix(s.end)] = true;
        r.aborted = true;
        self.record_call(s, AppCall::Abort);
        let now = self.now;
        self.hosts[s.host].endpoint.abort(now, s.id);
    }
}
