//! What an experiment's connections do (tcpsim SPEC §3 `[[connections]]`):
//! who opens, how, what each end writes and who closes. The application
//! that carries it out is the crate's built-in workload application.
//!
//! Closing semantics, from the SPEC: "closes" is the graceful pattern — the
//! application shuts down its write side (FIN), keeps reading until
//! end-of-stream, then releases the socket. The closer closes once its data
//! has been acknowledged (or at `close_at`); the other side closes as soon
//! as it reads end-of-stream, after writing its own data. Reactions happen
//! at the same virtual instant as the event that triggers them.

use std::sync::Arc;

use tcpsim_tcp::{Config, Duration, Instant};

use crate::trace::HostId;

/// How the connection is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenMode {
    /// The client connects; the server listens.
    Active,
    /// Both ends connect to each other at `open_at`; nobody listens.
    Simultaneous,
}

/// Who closes, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseMode {
    /// The client closes first (once its data is acknowledged, or at `close_at`).
    ClientFirst,
    /// The server closes first.
    ServerFirst,
    /// Both close at `close_at`.
    Simultaneous,
    /// The client aborts with RST (once its data is acknowledged, or at `close_at`).
    ClientAbort,
    /// The server aborts with RST.
    ServerAbort,
    /// Nobody closes.
    None,
}

impl OpenMode {
    /// The name used in experiment files.
    pub const fn name(self) -> &'static str {
        match self {
            OpenMode::Active => "active",
            OpenMode::Simultaneous => "simultaneous",
        }
    }
}

impl CloseMode {
    /// The name used in experiment files.
    pub const fn name(self) -> &'static str {
        match self {
            CloseMode::ClientFirst => "client-first",
            CloseMode::ServerFirst => "server-first",
            CloseMode::Simultaneous => "simultaneous",
            CloseMode::ClientAbort => "client-abort",
            CloseMode::ServerAbort => "server-abort",
            CloseMode::None => "none",
        }
    }
}

/// One connection to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The host that opens actively.
    pub client: HostId,
    /// The host that accepts.
    pub server: HostId,
    /// The server's port.
    pub port: u16,
    /// When the client calls connect().
    pub open_at: Instant,
    /// Active or simultaneous open.
    pub open: OpenMode,
    /// The client's port; `None` for the next ephemeral port.
    pub client_port: Option<u16>,
    /// Octets the client writes once established.
    pub client_sends: u64,
    /// Octets the server writes once it accepts.
    pub server_sends: u64,
    /// The close pattern.
    pub close: CloseMode,
    /// When the closer closes, instead of "once its data is acknowledged".
    pub close_at: Option<Instant>,
}

/// One step of an application's list (tcpsim SPEC §3 "Applications"): an
/// end runs its steps in order, each starting when the one before it has
/// finished. A client's list starts when its `connect()` completes, a
/// server's when it accepts (both: when the end reaches ESTABLISHED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// `write N`: finishes when TCP has taken all N octets into its send
    /// buffer (a blocking `write()`); the octets continue the end's stream
    /// (octet i of the stream is i mod 256).
    Write(u64),
    /// `read N`: finishes when N octets have been read, or at end-of-stream.
    Read(u64),
    /// `read eof`: reads until end-of-stream.
    ReadEof,
    /// `read all`: reads what is readable now, and finishes at once.
    ReadAll,
    /// `wait acked`: finishes when everything written is acknowledged.
    WaitAcked,
    /// `sleep DUR`: finishes when DUR has passed.
    Sleep(Duration),
    /// `at T`: finishes at virtual time T (at once if T has passed).
    At(Instant),
    /// `shutdown`: the write side (`SHUT_WR`: FIN after the queued data).
    Shutdown,
    /// `shutdown read` (`SHUT_RD`): nothing on the wire; every later read
    /// finishes at once, and what arrives stays unread.
    ShutdownRead,
    /// `shutdown both` (`SHUT_RDWR`).
    ShutdownBoth,
    /// `close`: releases the socket — FIN, or RST when received data is
    /// unread (RFC 2525 §2.17, Linux `tcp_close`), or RST with a linger of
    /// zero. The socket is then orphaned: no more reads, and the profile's
    /// FIN-WAIT-2 limit for released sockets applies. Always the last step.
    Close,
    /// `abort`: RST (`SO_LINGER` 0 and `close()`). Always the last step.
    Abort,
}

impl Step {
    /// Whether the step ends the list (nothing may follow it).
    pub const fn is_final(self) -> bool {
        matches!(self, Step::Close | Step::Abort)
    }
}

/// What one end of a connection runs besides the [`Workload`] shorthand:
/// its own step list, its socket's configuration, its linger time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndApp {
    /// The steps, in order; `None` leaves the end to the shorthand of its
    /// [`Workload`] (`client_sends`/`server_sends`/`close`).
    pub steps: Option<Arc<[Step]>>,
    /// The end's TCP configuration: its host's with the end's socket
    /// options applied (`TCP_MAXSEG`, `SO_RCVBUF`, `SO_SNDBUF`,
    /// `TCP_NODELAY`, `TCP_USER_TIMEOUT`); `None` for the host's own. A
    /// server end that a listener creates takes its listener's
    /// configuration ([`crate::SimBuilder::listen_with`]), as a socket
    /// accepted on Linux inherits the listening socket's options; this
    /// field serves a server end that connects (a simultaneous open).
    pub config: Option<Arc<Config>>,
    /// `SO_LINGER`: with `Some(0)` a close (the `close` step, or the
    /// shorthand's release at end-of-stream) aborts the connection with
    /// RST. A longer linger only makes `close()` block until the FIN is
    /// acknowledged, which nothing after the last step can observe.
    pub linger: Option<Duration>,
}

impl EndApp {
    /// Whether the end is the shorthand's, on the host's socket defaults.
    pub fn is_plain(&self) -> bool {
        self.steps.is_none() && self.config.is_none() && self.linger.is_none()
    }

    /// Whether a close of this end aborts (a linger of zero).
    pub fn linger_aborts(&self) -> bool {
        self.linger == Some(Duration::ZERO)
    }
}

/// Everything the built-in application runs: the connections and, for
/// those that have them, their ends' step lists and socket options.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// The connections, in order.
    pub(crate) workloads: Arc<[Workload]>,
    /// By connection: its ends' [`EndApp`]s, client first; empty when no
    /// connection has any (shared between connections made alike).
    pub(crate) ends: Arc<[Option<Arc<[EndApp; 2]>>]>,
}

impl Plan {
    /// The plan of `workloads`, with `ends` by connection index.
    pub(crate) fn new(workloads: Arc<[Workload]>, ends: &[(usize, Arc<[EndApp; 2]>)]) -> Plan {
        let ends = if ends.is_empty() {
            Arc::from([])
        } else {
            let mut all = vec![None; workloads.len()];
            for (i, e) in ends {
                all[*i] = Some(Arc::clone(e));
            }
            all.into()
        };
        Plan { workloads, ends }
    }

    /// The [`EndApp`]s of connection `conn`, if it has any.
    pub(crate) fn ends(&self, conn: u32) -> Option<&[EndApp; 2]> {
        self.ends.get(conn as usize)?.as_deref()
    }
}
