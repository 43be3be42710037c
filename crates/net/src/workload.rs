//! The applications of an experiment (tcpsim SPEC §3 `[[connections]]`) and
//! what became of each connection.
//!
//! Closing semantics, from the SPEC: "closes" is the graceful pattern — the
//! application shuts down its write side (FIN), keeps reading until
//! end-of-stream, then releases the socket. The closer closes once its data
//! has been acknowledged (or at `close_at`); the other side closes as soon
//! as it reads end-of-stream, after writing its own data. Reactions happen
//! at the same virtual instant as the event that triggers them.

use tcpsim_tcp::{Instant, SegmentKind, State};

use crate::trace::{AppError, HostId};

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

/// Which end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum End {
    /// The active opener.
    Client,
    /// The passive end.
    Server,
}

impl End {
    /// The other end.
    pub fn peer(self) -> End {
        match self {
            End::Client => End::Server,
            End::Server => End::Client,
        }
    }
}

/// How a connection ended (SPEC §4 `outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Established, then both sides closed cleanly.
    Closed,
    /// RST in answer to the SYN.
    Refused,
    /// Retransmissions ran out.
    Timeout,
    /// RST after establishment.
    Reset,
    /// Still open when the run stopped.
    Incomplete,
}

impl Outcome {
    /// The name used in reports and experiment files.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Closed => "closed",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Reset => "reset",
            Outcome::Incomplete => "incomplete",
        }
    }

    /// Every outcome, in report order.
    pub const ALL: [Outcome; 5] = [
        Outcome::Closed,
        Outcome::Refused,
        Outcome::Timeout,
        Outcome::Reset,
        Outcome::Incomplete,
    ];

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// Counts by segment kind, in [`SegmentKind::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts([u32; 6]);

impl KindCounts {
    /// The count for one kind.
    pub fn get(&self, kind: SegmentKind) -> u32 {
        self.0[kind_index(kind)]
    }

    /// Adds one for `kind`.
    pub fn bump(&mut self, kind: SegmentKind) {
        self.0[kind_index(kind)] += 1;
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &KindCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

fn kind_index(kind: SegmentKind) -> usize {
    match kind {
        SegmentKind::Rst => 0,
        SegmentKind::Syn => 1,
        SegmentKind::SynAck => 2,
        SegmentKind::Fin => 3,
        SegmentKind::Data => 4,
        SegmentKind::Ack => 5,
    }
}

/// What one end of a connection went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndReport {
    /// Its state at the end of the run (CLOSED once it is gone).
    pub state: State,
    /// Every state it passed through, starting with the first `from`
    /// (CLOSED for an active open, LISTEN for a passive one). Empty when
    /// the run does not keep state paths.
    pub path: Vec<State>,
    /// When it reached ESTABLISHED.
    pub established: Option<Instant>,
    /// When it first reached TIME-WAIT or CLOSED after a clean close.
    pub done: Option<Instant>,
    /// When it reached CLOSED.
    pub ended: Option<Instant>,
    /// How it failed, if it did.
    pub error: Option<AppError>,
    /// Octets its application read.
    pub bytes_read: u64,
    /// Segments it sent, by kind.
    pub sent: KindCounts,
    /// Segments it sent again, by kind.
    pub retransmissions: KindCounts,
    /// Its local port, once known.
    pub port: Option<u16>,
}

impl EndReport {
    pub(crate) fn new() -> EndReport {
        EndReport {
            state: State::Closed,
            path: Vec::new(),
            established: None,
            done: None,
            ended: None,
            error: None,
            bytes_read: 0,
            sent: KindCounts::default(),
            retransmissions: KindCounts::default(),
            port: None,
        }
    }
}

/// What became of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnReport {
    /// Index in the experiment's connection list (after `count` expansion).
    pub id: u32,
    /// The workload it ran.
    pub workload: Workload,
    /// When the client called connect().
    pub opened: Instant,
    /// The client end.
    pub client: EndReport,
    /// The server end.
    pub server: EndReport,
    /// How it ended.
    pub outcome: Outcome,
    /// When, after a clean close, both ends had reached CLOSED or TIME-WAIT.
    pub closed: Option<Instant>,
    /// When the last end reached CLOSED, or the run stopped.
    pub ended: Instant,
}

impl ConnReport {
    /// One end.
    pub fn end(&self, end: End) -> &EndReport {
        match end {
            End::Client => &self.client,
            End::Server => &self.server,
        }
    }

    /// Retransmissions by kind, both ends together.
    pub fn retransmissions(&self) -> KindCounts {
        let mut k = self.client.retransmissions;
        k.add(&self.server.retransmissions);
        k
    }

    /// Segments sent by kind, both ends together.
    pub fn sent(&self) -> KindCounts {
        let mut k = self.client.sent;
        k.add(&self.server.sent);
        k
    }
}
