//! What a connection reports: segments to send and events for the application.

use core::fmt;

use crate::segment::Segment;
use crate::state::State;

/// A segment the connection wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The segment.
    pub segment: Segment,
    /// Whether this repeats something sent before, and why; `None` for a
    /// first transmission.
    pub retransmission: Option<RetransmitCause>,
}

impl Transmit {
    /// Whether this repeats something sent before.
    pub fn is_retransmission(&self) -> bool {
        self.retransmission.is_some()
    }
}

/// Why a segment is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RetransmitCause {
    /// The retransmission timer expired (RFC 6298 §5.4), or a partial ACK
    /// after the timeout showed the next segment lost too (the recovery
    /// that follows a timeout: Linux's `TCP_CA_Loss`).
    Rto,
    /// Duplicate ACKs or SACK blocks (RFC 5681 §3.2 fast retransmit,
    /// RFC 6582 NewReno, RFC 6675 SACK recovery).
    Fast,
    /// RACK's time-based loss detection (RFC 8985 §6).
    Rack,
    /// A tail loss probe (RFC 8985 §7) that repeats sent data.
    Tlp,
    /// A SYN-ACK sent again in answer to a duplicate SYN (the `linux`
    /// profile's `duplicate_syn`), with no timer involved.
    DuplicateSyn,
}

impl RetransmitCause {
    /// The name used in reports: `rto`, `fast`, `rack`, `tlp`, `dupsyn`.
    pub const fn name(self) -> &'static str {
        match self {
            RetransmitCause::Rto => "rto",
            RetransmitCause::Fast => "fast",
            RetransmitCause::Rack => "rack",
            RetransmitCause::Tlp => "tlp",
            RetransmitCause::DuplicateSyn => "dupsyn",
        }
    }
}

impl fmt::Display for RetransmitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The timers of one connection. Several due at once fire in the order of
/// [`TimerKind::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// Retransmission of SYN, SYN-ACK, data or FIN (RFC 6298). Runs only
    /// while something is in flight.
    Retransmit,
    /// A delayed ACK is due (RFC 9293 §3.8.6.3).
    DelayedAck,
    /// TIME-WAIT is over (RFC 9293 §3.6).
    TimeWait,
    /// A released socket waited too long in FIN-WAIT-2 (Linux `tcp_fin_timeout`).
    FinWait2,
    /// Data waits for the peer's window with nothing in flight: probe the
    /// window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). Runs only while the
    /// retransmission timer does not. (Declared last so that the other
    /// kinds keep their discriminants; it is checked second, see
    /// [`TimerKind::ALL`].)
    Persist,
    /// A tail loss probe is due (RFC 8985 §7.2). Armed in place of the
    /// retransmission timer, as Linux's `ICSK_TIME_LOSS_PROBE` shares its
    /// slot: at most one of the two (and [`TimerKind::Reorder`]) runs.
    LossProbe,
    /// RACK's reordering window has passed for a segment that may be lost
    /// (RFC 8985 §6.3, Linux `ICSK_TIME_REO_TIMEOUT`); also in the
    /// retransmission timer's place.
    Reorder,
}

impl TimerKind {
    /// Every timer, in the order they are checked when several are due at
    /// once. The persist timer comes right after the retransmission timer,
    /// the place it had when the two shared one slot; the two never run
    /// together.
    pub const ALL: [TimerKind; 7] = [
        TimerKind::Retransmit,
        TimerKind::LossProbe,
        TimerKind::Reorder,
        TimerKind::Persist,
        TimerKind::DelayedAck,
        TimerKind::TimeWait,
        TimerKind::FinWait2,
    ];

    /// The name used in reports: `retransmit`, `delayed-ack`, `time-wait`,
    /// `fin-wait-2`, `loss-probe`, `rack-reorder`. The persist timer is reported as `retransmit` too: it
    /// used to share the retransmission timer's slot, and timelines, JSON
    /// reports and their goldens and digests name its expiry so.
    pub const fn name(self) -> &'static str {
        match self {
            TimerKind::Retransmit | TimerKind::Persist => "retransmit",
            TimerKind::DelayedAck => "delayed-ack",
            TimerKind::TimeWait => "time-wait",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::LossProbe => "loss-probe",
            TimerKind::Reorder => "rack-reorder",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something the application (or an observer) should know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The connection moved between RFC 9293 states.
    StateChanged {
        /// The state before.
        from: State,
        /// The state after.
        to: State,
    },
    /// A timer expired (reported before its effects).
    TimerFired(TimerKind),
    /// The handshake completed: the connection reached ESTABLISHED, or,
    /// after a CLOSE in SYN-RECEIVED, our SYN was acknowledged in
    /// FIN-WAIT-1 or CLOSING.
    Connected,
    /// New in-order data can be read.
    Readable,
    /// A write that came up short (the send buffer was full) can go on:
    /// acknowledged data has made room ([`crate::Config::send_buffer`]).
    /// Reported once per short write, after the ACK's own transmissions.
    Writable,
    /// Every octet the application has written so far is acknowledged
    /// (reported when an ACK empties the send buffer).
    AllAcked,
    /// The peer's FIN arrived in order: no more data will come. Reported once.
    EndOfStream,
    /// The connection ended normally and is gone (CLOSED).
    Closed,
    /// The peer answered our SYN with RST: nobody listens there.
    Refused,
    /// The peer reset the connection.
    Reset,
    /// Retransmissions ran out; the connection is gone.
    TimedOut,
}

impl Event {
    /// Whether this event ends the connection (it is CLOSED afterwards).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Event::Closed | Event::Refused | Event::Reset | Event::TimedOut
        )
    }
}
