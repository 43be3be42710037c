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

use tcpsim_tcp::Instant;

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
