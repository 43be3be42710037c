//! The JSON report as Rust types (tcpsim SPEC §4): `run --format json`
//! writes `serde_json::to_string_pretty(&Report)` and a newline, and
//! `serde_json::from_str::<Report>` reads it back into an equal value.
//!
//! Every field is written in declaration order, so the order of the keys is
//! the order of the fields below. Times are integer nanoseconds of virtual
//! time since the start of the run (`*_ns`); an `Option` without
//! `skip_serializing_if` is written as `null` when it is `None`.
//!
//! Reading is strict: a missing key is an error (unless its field is an
//! `Option` or has a default, as the keys written only sometimes do), and
//! so is an unknown key, except in an `app` event, whose [`Call`] is a
//! flattened field beside which serde cannot refuse unknown keys.

use std::net::SocketAddrV4;

use serde::{Deserialize, Serialize};

/// One run's JSON report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The version of the tcpsim that wrote it (`"0.1.0"`).
    pub tcpsim: String,
    /// The experiment's name (its `name`, or the file's).
    pub experiment: String,
    /// The seed of the run.
    pub seed: u64,
    /// The TCP profile's name (`rfc`, `linux`).
    pub profile: String,
    /// The report format's version ([`super::SCHEMA`]).
    pub schema: u32,
    /// When the run stopped, ns.
    pub end_ns: u64,
    /// Why it stopped: `idle` (nothing left to happen), `duration` (the
    /// virtual-time bound), `events` (the event-count bound).
    pub stop_reason: String,
    /// Everything that happened, in the order it happened.
    pub events: Vec<Event>,
    /// One entry per connection, in experiment order (after `count`
    /// expansion).
    pub connections: Vec<ConnectionReport>,
    /// The `[expect]` checks, in the file's order.
    pub expectations: Vec<Expectation>,
    /// Whether every expectation held (`true` when there are none).
    pub passed: bool,
}

/// One event of the report: when, then what.
///
/// The JSON object is `t_ns` followed by the keys of [`EventKind`]
/// (`type` first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, ns.
    pub t_ns: u64,
    /// What happened; its `type` and fields follow `t_ns` in the same
    /// object.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened, by the event's `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventKind {
    /// `app`: an application call, or what an application observed.
    App(AppEvent),
    /// `send`: a host emitted a segment.
    Send(SendEvent),
    /// `drop`: a segment did not arrive.
    Drop(DropEvent),
    /// `deliver`: a segment reached a host.
    Deliver(DeliverEvent),
    /// `state`: an RFC 9293 state change.
    State(StateEvent),
    /// `timer`: a TCP timer expired.
    Timer(TimerEvent),
}

/// An `app` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEvent {
    /// The host's name.
    pub host: String,
    /// The connection's id, `null` for a call that belongs to no connection
    /// (a listener's `listen`).
    pub conn: Option<u32>,
    /// The call, with its fields (`call` and, for some, more keys).
    #[serde(flatten)]
    pub call: Call,
}

/// An application call or what it observed: the `call` key of an `app`
/// event and the keys that go with it.
///
/// A new call is one more variant: its name is the variant's in kebab case
/// (`ShutdownWrite` would be `shutdown-write`), and its fields follow `call`
/// in declaration order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    /// `connect`: an active open.
    Connect,
    /// `listen`: a listener opened.
    Listen,
    /// `accept`: a connection from a listener reached ESTABLISHED.
    Accept,
    /// `write`: the application wrote `bytes` octets.
    Write {
        /// Octets written.
        bytes: u64,
    },
    /// `close`: the application closed its write side (FIN follows its
    /// data).
    Close,
    /// `abort`: the application aborted the connection (RST).
    Abort,
    /// `eof`: the application read end-of-stream.
    Eof,
    /// `error`: the connection failed.
    Error {
        /// What failed, readable (`connection refused`, `connection timed
        /// out`, `connection reset`, ...).
        detail: String,
    },
    /// `read`: a `read` step finished, having read `bytes` octets.
    Read {
        /// Octets the step read.
        bytes: u64,
    },
    /// `shutdown`: a `shutdown` step (the write side: FIN after the data).
    Shutdown,
    /// `shutdown-read`: a `shutdown read` step.
    ShutdownRead,
    /// `shutdown-both`: a `shutdown both` step.
    ShutdownBoth,
    /// `sleep`: a `sleep` step finished.
    Sleep,
    /// `at`: an `at` step finished.
    At,
    /// `wait-acked`: a `wait acked` step finished (everything written was
    /// acknowledged).
    WaitAcked,
}

/// A `send` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEvent {
    /// The sending host's name.
    pub host: String,
    /// The connection's id, `null` for a segment of no connection (an RST
    /// in answer to a segment for no socket).
    pub conn: Option<u32>,
    /// Whether the segment carries sequence space already sent.
    pub retransmission: bool,
    /// Why it was sent again, only on a retransmission: `rto`, `fast`,
    /// `rack`, `tlp` or `dupsyn` (docs/report.md). Absent, not `null`, on a
    /// first transmission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The segment.
    pub segment: SegmentReport,
}

/// A `drop` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropEvent {
    /// `FROM->TO`, host names; TO is the destination address when no link
    /// leads there (`no-route`).
    pub link: String,
    /// Why: `loss`, `fault`, `queue`, `partition`, `checksum`, `no-route`.
    pub reason: String,
    /// The segment.
    pub segment: SegmentReport,
}

/// A `deliver` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverEvent {
    /// The receiving host's name.
    pub host: String,
    /// The segment.
    pub segment: SegmentReport,
}

/// A `state` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateEvent {
    /// The host's name.
    pub host: String,
    /// The connection's id, `null` if it belongs to none.
    pub conn: Option<u32>,
    /// The state left, by its RFC 9293 name (`SYN-SENT`).
    pub from: String,
    /// The state entered.
    pub to: String,
}

/// A `timer` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerEvent {
    /// The host's name.
    pub host: String,
    /// The connection's id, `null` if it belongs to none.
    pub conn: Option<u32>,
    /// Which timer: `retransmit`, `time-wait`, `delayed-ack`, ...
    pub timer: String,
}

/// The `segment` object of `send`, `drop` and `deliver` events: the header
/// fields, without the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentReport {
    /// Sender, `address:port`.
    pub src: SocketAddrV4,
    /// Receiver, `address:port`.
    pub dst: SocketAddrV4,
    /// The control bits set, by name, in the order SYN, FIN, RST, PSH, ACK,
    /// URG, ECE, CWR.
    pub flags: Vec<String>,
    /// Sequence number (absolute).
    pub seq: u32,
    /// Acknowledgment number (absolute; 0 without ACK).
    pub ack: u32,
    /// Payload length, octets.
    pub len: u32,
    /// Advertised window, as sent (not scaled).
    pub win: u16,
    /// The options it carries, when the run shows options
    /// ([`super::options_in_use`]) and it carries any; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SegmentOptions>,
}

/// A segment's `options` object (docs/report.md): each key only when the
/// segment carries that option.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentOptions {
    /// MSS, octets (RFC 9293 §3.7.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// SACK-permitted (RFC 2018 §2); written only when `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sack_permitted: bool,
    /// Timestamps `[val, ecr]` (RFC 7323 §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<[u32; 2]>,
    /// Window scale shift, as sent (RFC 7323 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    /// SACK blocks `[left, right]` (RFC 2018 §3): absolute sequence
    /// numbers, right edge exclusive, most recent first; written only when
    /// there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sack: Vec<[u32; 2]>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One connection's entry in `connections`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionReport {
    /// Its index in the experiment's connection list (after `count`
    /// expansion); the `conn` of its events.
    pub id: u32,
    /// The client host's name.
    pub client: String,
    /// The server host's name.
    pub server: String,
    /// The server's port.
    pub port: u16,
    /// The client's port, `null` if it never got one.
    pub client_port: Option<u16>,
    /// How it ended: `closed`, `refused`, `timeout`, `reset`, `incomplete`
    /// (SPEC §4).
    pub outcome: String,
    /// When the client called connect, ns.
    pub opened_ns: u64,
    /// When the client reached ESTABLISHED, ns; `null` if it never did.
    pub established_ns: Option<u64>,
    /// When the server reached ESTABLISHED, ns; `null` if it never did.
    pub server_established_ns: Option<u64>,
    /// When, after a clean close, both ends had reached CLOSED or
    /// TIME-WAIT, ns; `null` without a clean close.
    pub closed_ns: Option<u64>,
    /// When the last end reached CLOSED, or the run stopped, ns.
    pub ended_ns: u64,
    /// The client's state at the end of the run (RFC 9293 name).
    pub client_state: String,
    /// The server's state at the end of the run.
    pub server_state: String,
    /// Segments sent again (carrying sequence space already sent), both
    /// ends together, by kind.
    pub retransmissions: SegmentCounts,
    /// Segments sent, both ends together, by kind.
    pub sent: SegmentCounts,
    /// Octets each application read.
    pub bytes: ByteCounts,
    /// Each end's congestion state and loss-recovery counts.
    pub recovery: Recovery,
}

/// Segments by kind (SPEC §3's kinds), in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentCounts {
    /// SYN without ACK.
    #[serde(rename = "SYN")]
    pub syn: u32,
    /// SYN with ACK.
    #[serde(rename = "SYN-ACK")]
    pub syn_ack: u32,
    /// A pure acknowledgment.
    #[serde(rename = "ACK")]
    pub ack: u32,
    /// Payload without FIN.
    #[serde(rename = "DATA")]
    pub data: u32,
    /// Any segment with FIN.
    #[serde(rename = "FIN")]
    pub fin: u32,
    /// Any segment with RST.
    #[serde(rename = "RST")]
    pub rst: u32,
}

/// A connection's `bytes`: octets read by each application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByteCounts {
    /// Octets the server's application read.
    pub client_to_server: u64,
    /// Octets the client's application read.
    pub server_to_client: u64,
}

/// A connection's `recovery`: one entry per end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// The client end, `null` if it never had a TCP connection.
    pub client: Option<EndRecovery>,
    /// The server end, `null` if it never had a TCP connection (the server
    /// of a refused connection, or of a SYN that never arrived).
    pub server: Option<EndRecovery>,
}

/// One end's congestion state at the end and its loss-recovery counts
/// (docs/report.md; `tcpsim_tcp::RecoveryStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRecovery {
    /// The congestion window, bytes.
    pub cwnd: u32,
    /// The slow-start threshold, bytes; `null` while no loss has set it.
    pub ssthresh: Option<u32>,
    /// Segments sent again for duplicate ACKs or SACK blocks (RFC 5681,
    /// RFC 6582, RFC 6675).
    pub fast_retransmits: u32,
    /// Segments RACK marked lost (RFC 8985 §6).
    pub rack_losses: u32,
    /// Tail loss probes sent (RFC 8985 §7), new data or a repeat.
    pub tlp_probes: u32,
    /// Expiries of the retransmission timer that sent something again.
    pub rtos: u32,
    /// Recovery episodes found spurious and undone (RFC 3522, RFC 3708).
    pub undos: u32,
}

/// One `[expect]` check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// What was checked: `outcome`, `retransmissions.SYN`,
    /// `states.client`, ...
    pub name: String,
    /// What the file asked for.
    pub expected: String,
    /// What the run did.
    pub actual: String,
    /// Whether they agree.
    pub passed: bool,
}
