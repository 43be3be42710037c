//! What the engine records of each connection end, whatever application
//! drives it: which end it is, its states and their times, how it failed,
//! what it read and sent.

use tcpsim_tcp::{Instant, SegmentKind, State};

use crate::trace::AppError;

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
