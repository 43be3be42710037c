//! What became of each connection (SPEC §4 `connections`): the facts the
//! engine recorded of each end ([`crate::facts`]), and the outcome rules
//! that judge them.

use tcpsim_tcp::Instant;

use crate::engine::ConnRecord;
use crate::facts::{End, EndReport, KindCounts};
use crate::trace::AppError;
use crate::workload::Workload;

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

/// The report of connection `id`, which ran `workload`, from what the
/// engine recorded of it by the end of the run, `end_of_run`.
///
/// The outcome rules, first match wins: `refused` (the client's SYN was
/// answered with RST), `timeout` (either end's retransmissions ran out),
/// `reset` (aborted by an application, or RST after establishment),
/// `closed` (the client was established and both ends closed cleanly),
/// else `incomplete`.
pub(crate) fn conn_report(
    id: u32,
    workload: Workload,
    record: ConnRecord,
    end_of_run: Instant,
) -> ConnReport {
    let [client, server] = record.ends;
    let has = |e: AppError| client.error == Some(e) || server.error == Some(e);
    let outcome = if client.error == Some(AppError::Refused) {
        Outcome::Refused
    } else if has(AppError::TimedOut) {
        Outcome::Timeout
    } else if record.aborted || has(AppError::Reset) {
        Outcome::Reset
    } else if client.established.is_some() && client.done.is_some() && server.done.is_some() {
        Outcome::Closed
    } else {
        Outcome::Incomplete
    };
    let closed = match (outcome, client.done, server.done) {
        (Outcome::Closed, Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let ended = match (client.ended, server.ended, record.ids[1]) {
        (Some(a), Some(b), _) => a.max(b),
        // The server end never existed (refused, or its SYN never arrived).
        (Some(a), None, None) => a,
        _ => end_of_run,
    };
    ConnReport {
        id,
        workload,
        opened: record.opened,
        client,
        server,
        outcome,
        closed,
        ended,
    }
}
