//! What a run shows: one typed record per send, drop, delivery, state
//! change, timer expiry and application call (tcpsim SPEC §4).
//!
//! Records are only built when the run keeps a trace, so a sweep that wants
//! summaries pays nothing for them.

use std::net::SocketAddrV4;

use tcpsim_tcp::{
    Flags, Instant, Options, RetransmitCause, Segment, SegmentKind, SeqNum, State, TimerKind,
};

/// A host, by its index in the order hosts were added.
pub type HostId = usize;

/// The header fields of a segment, options included, without its payload
/// (cheap to copy: no allocation, 84 bytes on x86-64, of which the options
/// take 56).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// Control bits.
    pub flags: Flags,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number.
    pub ack: SeqNum,
    /// Payload length.
    pub len: u32,
    /// Advertised window.
    pub win: u16,
    /// The MSS option's value, if the segment carries it.
    pub mss: Option<u16>,
    /// The other options (window scale, SACK-permitted, timestamps, SACK
    /// blocks), as the segment carries them.
    pub options: Options,
}

impl SegmentInfo {
    /// The segment's kind (SPEC §3).
    pub fn kind(&self) -> SegmentKind {
        SegmentKind::classify(self.flags, self.len as usize)
    }
}

impl From<&Segment> for SegmentInfo {
    fn from(s: &Segment) -> SegmentInfo {
        SegmentInfo {
            src: s.src,
            dst: s.dst,
            flags: s.flags,
            seq: s.seq,
            ack: s.ack,
            len: s.payload.len() as u32,
            win: s.window,
            mss: s.mss,
            options: s.options,
        }
    }
}

/// Why a packet did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The link's random loss model.
    Loss,
    /// A targeted `[[faults]]` rule.
    Fault,
    /// The link's queue was full (tail drop).
    Queue,
    /// The link was cut by a partition fault.
    Partition,
    /// The receiver's checksum check failed (the packet was corrupted).
    Checksum,
    /// No link leads to the destination address.
    NoRoute,
}

impl DropReason {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Fault => "fault",
            DropReason::Queue => "queue",
            DropReason::Partition => "partition",
            DropReason::Checksum => "checksum",
            DropReason::NoRoute => "no-route",
        }
    }
}

/// An application call or what it observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppCall {
    /// Active open.
    Connect,
    /// A listener opened.
    Listen,
    /// A connection from a listener was accepted (it reached ESTABLISHED).
    Accept,
    /// The application wrote this many octets.
    Write(u64),
    /// The application closed its write side (FIN follows its data).
    Close,
    /// The application aborted the connection (RST).
    Abort,
    /// The application read end-of-stream.
    Eof,
    /// The connection failed.
    Error(AppError),
    /// A `read` step finished, having read this many octets.
    Read(u64),
    /// A `shutdown` step: which side.
    Shutdown(Shut),
    /// A waiting step (`sleep`, `at`, `wait acked`) finished.
    Waited(Wait),
}

impl AppCall {
    /// How timelines and diagrams show the call: its name, with the
    /// octets of a write or a read and the detail of an error.
    pub fn describe(self) -> String {
        match self {
            AppCall::Write(n) => format!("write {n} bytes"),
            AppCall::Read(n) => format!("read {n} bytes"),
            AppCall::Error(e) => format!("error: {}", e.detail()),
            other => other.name().to_owned(),
        }
    }
}

/// Which side a `shutdown` step shuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shut {
    /// `SHUT_WR`: FIN after the queued data.
    Write,
    /// `SHUT_RD`: no more reading (nothing on the wire).
    Read,
    /// `SHUT_RDWR`.
    Both,
}

/// What a waiting step waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `sleep DUR`.
    Sleep,
    /// `at T`.
    At,
    /// `wait acked`: everything written was acknowledged.
    Acked,
}

impl AppCall {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            AppCall::Connect => "connect",
            AppCall::Listen => "listen",
            AppCall::Accept => "accept",
            AppCall::Write(_) => "write",
            AppCall::Close => "close",
            AppCall::Abort => "abort",
            AppCall::Eof => "eof",
            AppCall::Error(_) => "error",
            AppCall::Read(_) => "read",
            AppCall::Shutdown(Shut::Write) => "shutdown",
            AppCall::Shutdown(Shut::Read) => "shutdown-read",
            AppCall::Shutdown(Shut::Both) => "shutdown-both",
            AppCall::Waited(Wait::Sleep) => "sleep",
            AppCall::Waited(Wait::At) => "at",
            AppCall::Waited(Wait::Acked) => "wait-acked",
        }
    }
}

/// How a connection failed, as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppError {
    /// RST in answer to the SYN.
    Refused,
    /// Retransmissions ran out.
    TimedOut,
    /// The peer reset the connection.
    Reset,
    /// No ephemeral port was free for the 4-tuple.
    NoPort,
    /// The fixed local port is in use for that remote address (a
    /// connection other than a reusable TIME-WAIT holds the 4-tuple).
    PortInUse,
}

impl AppError {
    /// A readable description.
    pub const fn detail(self) -> &'static str {
        match self {
            AppError::Refused => "connection refused",
            AppError::TimedOut => "connection timed out",
            AppError::Reset => "connection reset",
            AppError::NoPort => "no free ephemeral port",
            AppError::PortInUse => "local port in use for that remote address",
        }
    }
}

/// One thing that happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// An application call (`conn` is the experiment connection, if any).
    App {
        /// The host.
        host: HostId,
        /// The experiment connection, if the call belongs to one.
        conn: Option<u32>,
        /// The call.
        call: AppCall,
    },
    /// A host emitted a segment.
    Send {
        /// The sender.
        host: HostId,
        /// The experiment connection, if the segment belongs to one.
        conn: Option<u32>,
        /// Why TCP sent it again; `None` for a first transmission.
        retransmission: Option<RetransmitCause>,
        /// The segment.
        segment: SegmentInfo,
    },
    /// A packet was dropped.
    Drop {
        /// The host that sent it.
        from: HostId,
        /// The host it was going to, if the address belongs to one.
        to: Option<HostId>,
        /// Why.
        reason: DropReason,
        /// The segment.
        segment: SegmentInfo,
    },
    /// A segment reached a host.
    Deliver {
        /// The receiver.
        host: HostId,
        /// The segment.
        segment: SegmentInfo,
    },
    /// A connection changed state.
    State {
        /// The host.
        host: HostId,
        /// The experiment connection, if any.
        conn: Option<u32>,
        /// The state before.
        from: State,
        /// The state after.
        to: State,
    },
    /// A TCP timer expired.
    Timer {
        /// The host.
        host: HostId,
        /// The experiment connection, if any.
        conn: Option<u32>,
        /// Which timer.
        timer: TimerKind,
    },
}

/// A [`TraceKind`] with its virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: TraceKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpsim_tcp::{SackBlocks, Timestamps};

    #[test]
    fn segment_info_keeps_the_options() {
        let mut sack = SackBlocks::new();
        sack.push(SeqNum(2000), SeqNum(3000));
        let options = Options {
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps { val: 5, ecr: 9 }),
            sack,
        };
        let mut seg = Segment::new(
            "10.0.0.1:49152".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
            SeqNum(1000),
            SeqNum(0),
            Flags::SYN,
            65535,
        );
        seg.mss = Some(1460);
        seg.options = options;
        let info = SegmentInfo::from(&seg);
        assert_eq!(info.mss, Some(1460));
        assert_eq!(info.options, options);
    }

    /// Every trace record holds one: keep an eye on what it costs.
    #[test]
    fn segment_info_stays_small() {
        assert!(
            size_of::<SegmentInfo>() <= 84,
            "SegmentInfo is {} bytes",
            size_of::<SegmentInfo>()
        );
    }
}
