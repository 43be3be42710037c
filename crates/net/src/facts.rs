//! What the engine records of each connection end, whatever application
//! drives it: which end it is, its states and their times, how it failed,
//! what it read and sent, and where its loss recovery and congestion
//! control ended up.

use tcpsim_tcp::{Instant, RecoveryStats, SegmentKind, State};

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
    /// Its TCP connection's congestion window, slow-start threshold and
    /// loss-recovery counts ([`tcpsim_tcp::Connection::recovery_stats`]),
    /// taken once: when the endpoint forgot the connection (it reached
    /// CLOSED), or when the run ended with the connection still there.
    /// `None` when the end never had a TCP connection (the server of a
    /// refused connection, or of a SYN that never arrived). An end a
    /// listener made again after dropping its half-open connection adds
    /// the counts of both; `cwnd` and `ssthresh` are the last one's.
    pub recovery: Option<RecoveryStats>,
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
            recovery: None,
        }
    }

    /// Takes in the final recovery state of one of this end's TCP
    /// connections (see [`EndReport::recovery`]).
    pub(crate) fn absorb_recovery(&mut self, s: RecoveryStats) {
        self.recovery = Some(match self.recovery {
            None => s,
            Some(before) => RecoveryStats {
                cwnd: s.cwnd,
                ssthresh: s.ssthresh,
                fast_retransmits: before.fast_retransmits + s.fast_retransmits,
                rack_losses: before.rack_losses + s.rack_losses,
                tlp_probes: before.tlp_probes + s.tlp_probes,
                rtos: before.rtos + s.rtos,
                undos: before.undos + s.undos,
            },
        });
    }
}
