//! The comparison of `tcpsim kernel` (tcpsim SPEC §10): the segments a run
//! of the `linux` profile sent against those real Linux stacks sent for the
//! same experiment, by the rule of SPEC §5.
//!
//! Both sides are lists of [`Packet`]s, raw IPv4 bytes as each sender
//! emitted them with the time it did. [`compare`] decodes them
//! ([`tcpsim_tcp::wire::decode`]; a packet that does not decode is listed,
//! never a panic), groups the segments by direction (source address and
//! port to destination address and port) and holds the two sides to each
//! other, direction by direction and segment by segment, in the order each
//! side sent them:
//!
//! - the flags, except PSH;
//! - the sequence number relative to the direction's ISN, and the
//!   acknowledgment number (when ACK is set) relative to the opposite
//!   direction's ISN; an ISN is the sequence number of the latest SYN sent
//!   in that direction, so a new connection on the same 4-tuple is
//!   re-based (before any SYN the base is 0);
//! - the payload length;
//! - the option kinds in the order they are on the wire, NOP and EOL
//!   included, and the values of MSS, window scale, SACK-permitted and the
//!   SACK blocks (their edges relative to the opposite direction's ISN, as
//!   they cover the peer's data); not the timestamps' TSval and TSecr
//!   (each stack has its own clock), and not the window field;
//! - the time since the side's own first packet (of all directions), within
//!   the slack [`slack_ns`]: 5 % of the kernel's time, at least 10 ms;
//! - the number of segments.
//!
//! That is the per-segment rule. Where the kernel's receiver batches ACKs
//! by wall-clock (bulk transfers), SPEC §5 compares aggregates instead: a
//! connection whose simulation sends more than
//! [`BULK_DATA_SEGMENTS`] data segments in a direction is held to its
//! control segments (SYNs, FINs, RSTs, the ACKs of SYNs and of FINs sent
//! without data) one by one and
//! to the totals of [`aggregate`](Aggregate) (payload octets, data
//! segments per round, time until all is acknowledged, retransmissions,
//! final cwnd). [`Method`] chooses: `auto` (that rule), `segments` (every
//! connection segment by segment), `aggregates` (every connection by
//! aggregates).
//!
//! The result is a [`Comparison`]: both sequences of every direction as
//! [`Row`]s, each direction's first [`Divergence`], the first of all, and
//! the verdict. It serialises to JSON (serde, snake_case field names) for
//! the command's report, and [`Comparison::render_text`] shows it side by
//! side. [`same_outcome`] applies the same rule to two kernel runs, for
//! `--tries`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::Serialize;
use tcpsim_tcp::wire;

mod aggregate;
mod render;
#[cfg(test)]
mod tests;

pub use aggregate::{
    Aggregate, Aggregates, BULK_DATA_SEGMENTS, CWND_MIN_SLACK_OCTETS, CWND_SLACK_PERCENT,
    ROUND_MIN_SLACK_SEGMENTS, ROUND_SLACK_PERCENT, Totals, cwnd_slack, round_slack,
};

/// The least time slack: 10 ms, in nanoseconds (SPEC §5).
pub const MIN_SLACK_NS: u64 = 10_000_000;

/// How far apart two times may be when the kernel's is `kernel_at_ns`
/// (since its first packet): 5 % of it, at least [`MIN_SLACK_NS`].
pub fn slack_ns(kernel_at_ns: u64) -> u64 {
    (kernel_at_ns / 20).max(MIN_SLACK_NS)
}

/// How [`compare_with`] holds the two sides to each other
/// (`tcpsim kernel --compare`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Bulk connections (more than [`BULK_DATA_SEGMENTS`] data segments in
    /// a direction of the simulation) by aggregates, the others segment by
    /// segment.
    #[default]
    Auto,
    /// Every connection segment by segment.
    Segments,
    /// Every connection by aggregates.
    Aggregates,
}

impl Method {
    /// The method's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Segments => "segments",
            Method::Aggregates => "aggregates",
        }
    }
}

/// A sender's final congestion window, in octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cwnd {
    /// The sender's address and port.
    pub src: SocketAddrV4,
    /// The receiver's address and port.
    pub dst: SocketAddrV4,
    /// The congestion window, octets.
    pub octets: u64,
}

/// One side of a comparison: its packets and what it knows of its senders'
/// final congestion windows (the last entry of a direction counts).
#[derive(Clone, Copy, Debug, Default)]
pub struct Run<'a> {
    /// The packets, in the order sent.
    pub packets: &'a [Packet],
    /// The senders' final congestion windows; a direction without one is
    /// not compared on it.
    pub cwnd: &'a [Cwnd],
}

/// One packet as a sender emitted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// When it was sent, in nanoseconds since the run's start.
    pub at_ns: u64,
    /// The raw IPv4 packet, TCP header and payload included.
    pub bytes: Vec<u8>,
}

/// Which of the two compared runs a packet or row is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The simulation (the left side of [`compare`]).
    Sim,
    /// The kernel (the right side of [`compare`]).
    Kernel,
}

/// One segment of one direction, relative to its connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The packet's index in its side's list.
    pub packet: usize,
    /// Nanoseconds since the side's first packet (the earliest of its
    /// list, of any direction, decodable or not).
    pub at_ns: u64,
    /// The flags as tcpdump's letters in the order S F R P A U E W (`A` for
    /// ACK, `U` URG, `E` ECE, `W` CWR), e.g. `SA`, `FPA`.
    pub flags: String,
    /// The sequence number relative to this direction's ISN.
    pub seq: u32,
    /// The acknowledgment number relative to the opposite direction's ISN;
    /// `None` without ACK.
    pub ack: Option<u32>,
    /// Payload bytes.
    pub len: u32,
    /// The window field as sent (unscaled); shown, not compared.
    pub window: u16,
    /// The option kinds in wire order, NOP (1) and EOL (0) included.
    pub option_kinds: Vec<u8>,
    /// The MSS option's value.
    pub mss: Option<u16>,
    /// The window-scale shift.
    pub window_scale: Option<u8>,
    /// Whether SACK-permitted is there.
    pub sack_permitted: bool,
    /// The SACK blocks `[left, right)`, relative to the opposite
    /// direction's ISN.
    pub sack: Vec<[u32; 2]>,
    /// Whether the timestamps option is there (its values are not kept).
    pub timestamps: bool,
    /// The options in tcpdump's notation, in wire order: `mss 1460,sackOK,
    /// TS,nop,wscale 7`, SACK blocks relative (`sack 1 {1:1449}`) and
    /// timestamps without their values; an unknown kind K is `opt-K`.
    pub options: String,
}

/// What of a segment can differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The flags other than PSH.
    Flags,
    /// The relative sequence number.
    Seq,
    /// The relative acknowledgment number, or ACK set on one side only.
    Ack,
    /// The payload length.
    Len,
    /// The option kinds or their order.
    OptionKinds,
    /// The MSS value.
    Mss,
    /// The window-scale shift.
    WindowScale,
    /// SACK-permitted on one side only.
    SackPermitted,
    /// The relative SACK blocks.
    Sack,
    /// The times, more than the slack apart.
    Time,
    /// Where a control segment that carries data ends (seq + length), in a
    /// direction compared by aggregates.
    End,
}

impl Field {
    /// The field's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Field::Flags => "flags",
            Field::Seq => "seq",
            Field::Ack => "ack",
            Field::Len => "length",
            Field::OptionKinds => "option kinds",
            Field::Mss => "mss",
            Field::WindowScale => "window scale",
            Field::SackPermitted => "sackOK",
            Field::Sack => "SACK blocks",
            Field::Time => "time",
            Field::End => "seq + length",
        }
    }
}

/// Where the two sides first part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Divergence {
    /// Segment `index` of `direction` differs.
    Segment {
        /// The direction's name.
        direction: String,
        /// The segment's index in the direction, from 0; in a direction
        /// compared by aggregates, among its control segments
        /// ([`Aggregates::sim_control`], [`Aggregates::kernel_control`]).
        index: usize,
        /// What differs, in [`Field`] order.
        fields: Vec<Field>,
        /// The simulation's time of the segment (ns since its first packet).
        sim_at_ns: u64,
        /// The kernel's time of the segment (ns since its first packet).
        kernel_at_ns: u64,
        /// The slack at the kernel's time.
        slack_ns: u64,
    },
    /// The segments agree as far as both go, but one side sends more.
    Count {
        /// The direction's name.
        direction: String,
        /// The first segment only one side has (among the control segments
        /// in a direction compared by aggregates).
        index: usize,
        /// Segments the simulation sends in the direction.
        sim: usize,
        /// Segments the kernel sends in the direction.
        kernel: usize,
    },
    /// An aggregate of a direction compared by aggregates differs by more
    /// than its tolerance.
    Aggregate {
        /// The direction's name.
        direction: String,
        /// Which.
        aggregate: Aggregate,
        /// The round (from 0), for [`Aggregate::Rounds`].
        round: Option<usize>,
        /// The simulation's value (octets, segments, ns); `None` where it
        /// has none (data never all acknowledged).
        sim: Option<u64>,
        /// The kernel's value.
        kernel: Option<u64>,
        /// The difference allowed, in the value's unit.
        allowed: u64,
    },
    /// A packet does not decode as IPv4/TCP.
    Undecodable(Undecodable),
}

/// A packet that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Undecodable {
    /// Whose packet.
    pub side: Side,
    /// Its index in that side's list.
    pub packet: usize,
    /// Nanoseconds since the side's first packet.
    pub at_ns: u64,
    /// Why it does not decode ([`tcpsim_tcp::wire::WireError`]'s message).
    pub error: String,
}

/// One direction of one 4-tuple, both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Direction {
    /// `client:40000 > server:80`: host names from the file (the address
    /// where no host has it) and ports.
    pub name: String,
    /// The sender's address and port.
    pub src: SocketAddrV4,
    /// The receiver's address and port.
    pub dst: SocketAddrV4,
    /// The simulation's segments, in the order sent.
    pub sim: Vec<Row>,
    /// The kernel's segments, in the order sent.
    pub kernel: Vec<Row>,
    /// Its aggregates, when it is compared by aggregates (a bulk
    /// connection); `None` when it is compared segment by segment.
    pub aggregates: Option<Aggregates>,
    /// The first difference in this direction.
    pub divergence: Option<Divergence>,
}

/// Both runs, direction by direction, and the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Whether every packet decodes and every direction agrees.
    pub matches: bool,
    /// The method asked for.
    pub method: Method,
    /// The directions, by first appearance in the simulation, then those
    /// only the kernel has, by first appearance there.
    pub directions: Vec<Direction>,
    /// The packets of either side that do not decode, simulation first.
    pub undecodable: Vec<Undecodable>,
    /// The first divergence: an undecodable packet if there is one, else
    /// the first direction's (in [`Comparison::directions`] order) that has
    /// one.
    pub divergence: Option<Divergence>,
    /// `match`, or the first divergence in words (sides called
    /// `simulation` and `kernel`).
    pub summary: String,
}

/// A direction's key: sender, receiver.
type Key = (SocketAddrV4, SocketAddrV4);

/// One side decoded: each direction's rows, the directions in order of
/// first appearance, and the packets that do not decode.
struct Decoded {
    rows: BTreeMap<Key, Vec<Row>>,
    order: Vec<Key>,
    undecodable: Vec<Undecodable>,
}

/// Compares the segments of a simulation run with a kernel run by the rule
/// of the module docs; `hosts` (name, address), in file order, name the
/// directions.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use tcpsim_runner::kernel_diff::{Packet, compare};
/// use tcpsim_tcp::{Flags, Segment, SeqNum, wire};
///
/// let (c, s) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
/// let hosts = [("client".to_owned(), c), ("server".to_owned(), s)];
/// // A SYN with ISN `isn`, sent `at_ns` after the run's start.
/// let syn = |isn: u32, at_ns: u64| {
///     let from = SocketAddrV4::new(c, 40000);
///     let to = SocketAddrV4::new(s, 80);
///     let seg = Segment::new(from, to, SeqNum(isn), SeqNum(0), Flags::SYN, 64240);
///     let mut bytes = Vec::new();
///     wire::encode(&seg, &mut bytes);
///     Packet { at_ns, bytes }
/// };
/// // Other ISNs and start times, the same segments relative to them.
/// let cmp = compare(&hosts, &[syn(1, 0)], &[syn(777, 5_000_000)]);
/// assert!(cmp.matches);
/// assert_eq!(cmp.directions[0].name, "client:40000 > server:80");
/// assert_eq!(cmp.directions[0].kernel[0].seq, 0);
/// ```
pub fn compare(hosts: &[(String, Ipv4Addr)], sim: &[Packet], kernel: &[Packet]) -> Comparison {
    let run = |packets| Run { packets, cwnd: &[] };
    compare_with(hosts, Method::Auto, run(sim), run(kernel))
}

/// [`compare`] with a [`Method`] and the senders' final congestion windows
/// (for the aggregates).
pub fn compare_with(
    hosts: &[(String, Ipv4Addr)],
    method: Method,
    sim: Run<'_>,
    kernel: Run<'_>,
) -> Comparison {
    let mut a = decode_side(Side::Sim, sim.packets);
    let mut b = decode_side(Side::Kernel, kernel.packets);
    let mut order = a.order;
    for key in b.order {
        if !order.contains(&key) {
            order.push(key);
        }
    }
    let rows: BTreeMap<Key, (Vec<Row>, Vec<Row>)> = order
        .iter()
        .map(|key| {
            let sim = a.rows.remove(key).unwrap_or_default();
            let kernel = b.rows.remove(key).unwrap_or_default();
            (*key, (sim, kernel))
        })
        .collect();
    let none = (Vec::new(), Vec::new());
    let cwnd_of = |list: &[Cwnd], key: Key| {
        list.iter()
            .rev()
            .find(|c| (c.src, c.dst) == key)
            .map(|c| c.octets)
    };
    let directions: Vec<Direction> = order
        .into_iter()
        .map(|key| {
            let name = format!("{} > {}", endpoint(hosts, key.0), endpoint(hosts, key.1));
            let (sim_rows, kernel_rows) = rows.get(&key).unwrap_or(&none);
            let (sim_peer, kernel_peer) = rows.get(&(key.1, key.0)).unwrap_or(&none);
            let bulk = match method {
                Method::Segments => false,
                Method::Aggregates => true,
                Method::Auto => {
                    aggregate::data_segments(sim_rows).max(aggregate::data_segments(sim_peer))
                        > BULK_DATA_SEGMENTS
                }
            };
            let (aggregates, divergence) = if bulk {
                let round_ns = aggregate::round_trip(sim_rows, sim_peer);
                let agg = Aggregates {
                    round_ns,
                    sim_control: aggregate::control_rows(sim_rows, sim_peer),
                    kernel_control: aggregate::control_rows(kernel_rows, kernel_peer),
                    sim: aggregate::totals(sim_rows, sim_peer, round_ns, cwnd_of(sim.cwnd, key)),
                    kernel: aggregate::totals(
                        kernel_rows,
                        kernel_peer,
                        round_ns,
                        cwnd_of(kernel.cwnd, key),
                    ),
                };
                let pick = |rows: &[Row], idx: &[usize]| -> Vec<Row> {
                    idx.iter().filter_map(|&i| rows.get(i).cloned()).collect()
                };
                let divergence = first_divergence(
                    &name,
                    &pick(sim_rows, &agg.sim_control),
                    &pick(kernel_rows, &agg.kernel_control),
                    aggregate::differing_control,
                )
                .or_else(|| aggregate::first_difference(&name, &agg.sim, &agg.kernel));
                (Some(agg), divergence)
            } else {
                let d = first_divergence(&name, sim_rows, kernel_rows, differing);
                (None, d)
            };
            Direction {
                name,
                src: key.0,
                dst: key.1,
                sim: sim_rows.clone(),
                kernel: kernel_rows.clone(),
                aggregates,
                divergence,
            }
        })
        .collect();
    let mut undecodable = a.undecodable;
    undecodable.append(&mut b.undecodable);
    let divergence = match undecodable.first() {
        Some(u) => Some(Divergence::Undecodable(u.clone())),
        None => directions.iter().find_map(|d| d.divergence.clone()),
    };
    let mut cmp = Comparison {
        matches: divergence.is_none(),
        method,
        directions,
        undecodable,
        divergence,
        summary: String::new(),
    };
    cmp.summary = cmp
        .describe("simulation", "kernel")
        .unwrap_or_else(|| "match".to_owned());
    cmp
}

/// Whether two kernel runs had the same outcome: [`compare`]'s rule with
/// `a` in the simulation's place and `b` in the kernel's (so the slack is
/// taken from `b`'s times).
pub fn same_outcome(hosts: &[(String, Ipv4Addr)], a: &[Packet], b: &[Packet]) -> bool {
    compare(hosts, a, b).matches
}

/// [`same_outcome`] by [`compare_with`]'s rule.
pub fn same_outcome_with(
    hosts: &[(String, Ipv4Addr)],
    method: Method,
    a: Run<'_>,
    b: Run<'_>,
) -> bool {
    compare_with(hosts, method, a, b).matches
}

impl Comparison {
    /// The first divergence in words, the sides called `sim_label` and
    /// `kernel_label`; `None` when the runs match.
    pub fn describe(&self, sim_label: &str, kernel_label: &str) -> Option<String> {
        if let Some(Divergence::Undecodable(u)) = &self.divergence {
            let label = match u.side {
                Side::Sim => sim_label,
                Side::Kernel => kernel_label,
            };
            return Some(format!(
                "{label} packet {} (at {} ms) does not decode: {}",
                u.packet,
                ms(u.at_ns),
                u.error
            ));
        }
        self.directions
            .iter()
            .find_map(|d| d.describe(sim_label, kernel_label))
    }
}

impl Direction {
    /// This direction's first divergence in words, the sides called
    /// `sim_label` and `kernel_label`; `None` when it has none.
    pub fn describe(&self, sim_label: &str, kernel_label: &str) -> Option<String> {
        let control = if self.aggregates.is_some() {
            "control "
        } else {
            ""
        };
        match self.divergence.as_ref()? {
            Divergence::Segment {
                index,
                fields,
                slack_ns,
                ..
            } => {
                let (x, y) = match &self.aggregates {
                    Some(a) => (
                        self.sim.get(*a.sim_control.get(*index)?)?,
                        self.kernel.get(*a.kernel_control.get(*index)?)?,
                    ),
                    None => (self.sim.get(*index)?, self.kernel.get(*index)?),
                };
                let parts: Vec<String> = fields
                    .iter()
                    .map(|&f| {
                        format!(
                            "{}: {sim_label} {}, {kernel_label} {}",
                            f.label(),
                            value(f, x),
                            value(f, y)
                        )
                    })
                    .collect();
                Some(format!(
                    "{}, {control}segment {index}: {} (time slack {} ms)",
                    self.name,
                    parts.join("; "),
                    ms(*slack_ns)
                ))
            }
            Divergence::Count { sim, kernel, .. } => Some(format!(
                "{}: {kernel_label} sends {kernel} {control}segment{}, {sim_label} {sim}",
                self.name,
                if *kernel == 1 { "" } else { "s" }
            )),
            Divergence::Aggregate {
                aggregate,
                round,
                sim,
                kernel,
                allowed,
                ..
            } => {
                let v = |x: &Option<u64>| aggregate_value(*aggregate, *x);
                let what = match round {
                    Some(r) => format!("{} {r}", aggregate.label()),
                    None => aggregate.label().to_owned(),
                };
                Some(format!(
                    "{}: {what}: {sim_label} {}, {kernel_label} {} (allowed {})",
                    self.name,
                    v(sim),
                    v(kernel),
                    aggregate_allowed(*aggregate, *allowed)
                ))
            }
            Divergence::Undecodable(_) => None,
        }
    }
}

/// An aggregate's value as messages show it: times in ms, `none` for none.
pub(crate) fn aggregate_value(a: Aggregate, v: Option<u64>) -> String {
    match (a, v) {
        (_, None) => "none".to_owned(),
        (Aggregate::AllAcked, Some(ns)) => format!("{} ms", ms(ns)),
        (_, Some(n)) => n.to_string(),
    }
}

/// An aggregate's tolerance as messages show it.
pub(crate) fn aggregate_allowed(a: Aggregate, allowed: u64) -> String {
    match (a, allowed) {
        (_, 0) => "equal".to_owned(),
        (Aggregate::AllAcked, ns) => format!("±{} ms", ms(ns)),
        (_, n) => format!("±{n}"),
    }
}

/// A field's value in a row, as messages show it.
fn value(f: Field, r: &Row) -> String {
    let or_none = |s: Option<String>| s.unwrap_or_else(|| "none".to_owned());
    match f {
        Field::Flags => r.flags.clone(),
        Field::Seq => r.seq.to_string(),
        Field::Ack => r
            .ack
            .map_or_else(|| "none (no ACK)".to_owned(), |a| a.to_string()),
        Field::Len => r.len.to_string(),
        Field::OptionKinds => {
            if r.options.is_empty() {
                "none".to_owned()
            } else {
                format!("[{}]", r.options)
            }
        }
        Field::Mss => or_none(r.mss.map(|m| m.to_string())),
        Field::WindowScale => or_none(r.window_scale.map(|w| w.to_string())),
        Field::SackPermitted => if r.sack_permitted { "yes" } else { "no" }.to_owned(),
        Field::Sack => {
            if r.sack.is_empty() {
                "none".to_owned()
            } else {
                r.sack.iter().map(|[l, r]| format!("{{{l}:{r}}}")).collect()
            }
        }
        Field::Time => format!("{} ms", ms(r.at_ns)),
        Field::End => r.seq.wrapping_add(r.len).to_string(),
    }
}

/// Nanoseconds as milliseconds with three decimals (µs, truncated).
pub(crate) fn ms(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, ns / 1_000 % 1_000)
}

/// `name:port`, the name of the first host with the address, else the
/// address itself.
fn endpoint(hosts: &[(String, Ipv4Addr)], a: SocketAddrV4) -> String {
    match hosts.iter().find(|(_, ip)| ip == a.ip()) {
        Some((name, _)) => format!("{name}:{}", a.port()),
        None => a.to_string(),
    }
}

/// The first difference between the two sides of one direction.
/// `differ` gives the compared fields other than time in which two rows
/// differ.
fn first_divergence(
    direction: &str,
    sim: &[Row],
    kernel: &[Row],
    differ: fn(&Row, &Row) -> Vec<Field>,
) -> Option<Divergence> {
    for (index, (x, y)) in sim.iter().zip(kernel).enumerate() {
        let slack = slack_ns(y.at_ns);
        let mut fields = differ(x, y);
        if x.at_ns.abs_diff(y.at_ns) > slack {
            fields.push(Field::Time);
        }
        if !fields.is_empty() {
            return Some(Divergence::Segment {
                direction: direction.to_owned(),
                index,
                fields,
                sim_at_ns: x.at_ns,
                kernel_at_ns: y.at_ns,
                slack_ns: slack,
            });
        }
    }
    (sim.len() != kernel.len()).then(|| Divergence::Count {
        direction: direction.to_owned(),
        index: sim.len().min(kernel.len()),
        sim: sim.len(),
        kernel: kernel.len(),
    })
}

/// The compared fields other than time in which `x` and `y` differ.
fn differing(x: &Row, y: &Row) -> Vec<Field> {
    let no_psh = |f: &str| f.chars().filter(|&c| c != 'P').collect::<String>();
    [
        (Field::Flags, no_psh(&x.flags) != no_psh(&y.flags)),
        (Field::Seq, x.seq != y.seq),
        (Field::Ack, x.ack != y.ack),
        (Field::Len, x.len != y.len),
        (Field::OptionKinds, x.option_kinds != y.option_kinds),
        (Field::Mss, x.mss != y.mss),
        (Field::WindowScale, x.window_scale != y.window_scale),
        (Field::SackPermitted, x.sack_permitted != y.sack_permitted),
        (Field::Sack, x.sack != y.sack),
    ]
    .into_iter()
    .filter_map(|(f, d)| d.then_some(f))
    .collect()
}

/// Decodes one side's packets into rows per direction, re-basing sequence
/// numbers at every SYN, in the order the packets are given.
fn decode_side(side: Side, packets: &[Packet]) -> Decoded {
    let start = packets.iter().map(|p| p.at_ns).min().unwrap_or(0);
    let mut out = Decoded {
        rows: BTreeMap::new(),
        order: Vec::new(),
        undecodable: Vec::new(),
    };
    let mut isn: BTreeMap<Key, u32> = BTreeMap::new();
    for (packet, p) in packets.iter().enumerate() {
        let at_ns = p.at_ns.saturating_sub(start);
        let seg = match wire::decode(&p.bytes) {
            Ok(seg) => seg,
            Err(e) => {
                out.undecodable.push(Undecodable {
                    side,
                    packet,
                    at_ns,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let key = (seg.src, seg.dst);
        if seg.flags.syn() {
            isn.insert(key, seg.seq.0);
        }
        let own = isn.get(&key).copied().unwrap_or(0);
        let peer = isn.get(&(seg.dst, seg.src)).copied().unwrap_or(0);
        let opts = walk_options(option_area(&p.bytes), peer);
        let row = Row {
            packet,
            at_ns,
            flags: seg.flags.letters(),
            seq: seg.seq.0.wrapping_sub(own),
            ack: seg.flags.ack().then(|| seg.ack.0.wrapping_sub(peer)),
            // decode's payload is within a 16-bit total length.
            len: u32::try_from(seg.payload.len()).unwrap_or(u32::MAX),
            window: seg.window,
            option_kinds: opts.kinds,
            mss: opts.mss,
            window_scale: opts.window_scale,
            sack_permitted: opts.sack_permitted,
            sack: opts.sack,
            timestamps: opts.timestamps,
            options: opts.notation.join(","),
        };
        let rows = out.rows.entry(key).or_default();
        if rows.is_empty() {
            out.order.push(key);
        }
        rows.push(row);
    }
    out
}

/// The TCP option area of a packet `decode` accepted (empty where the
/// headers do not say where it is, which decode has ruled out).
fn option_area(bytes: &[u8]) -> &[u8] {
    let ihl = bytes.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    let Some(tcp) = bytes.get(ihl..) else {
        return &[];
    };
    let offset = tcp.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
    tcp.get(20..offset).unwrap_or_default()
}

/// The options of one segment, read in wire order.
#[derive(Default)]
struct Walked {
    kinds: Vec<u8>,
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<[u32; 2]>,
    timestamps: bool,
    notation: Vec<String>,
}

/// Option kinds (IANA "TCP Option Kind Numbers").
const EOL: u8 = 0;
const NOP: u8 = 1;
const MSS: u8 = 2;
const WINDOW_SCALE: u8 = 3;
const SACK_PERMITTED: u8 = 4;
const SACK: u8 = 5;
const TIMESTAMPS: u8 = 8;

/// Walks an option area as [`wire::decode`] does (EOL ends it; a repeated
/// option: the last value wins), keeping every kind in order and the SACK
/// edges relative to `sack_base`. An option whose length does not fit ends
/// the walk (decode has rejected such packets already).
fn walk_options(mut area: &[u8], sack_base: u32) -> Walked {
    let mut w = Walked::default();
    while let Some((&kind, rest)) = area.split_first() {
        w.kinds.push(kind);
        match kind {
            EOL => {
                w.notation.push("eol".to_owned());
                break;
            }
            NOP => {
                w.notation.push("nop".to_owned());
                area = rest;
                continue;
            }
            _ => {}
        }
        let len = rest.first().map_or(0, |&l| usize::from(l));
        let Some(value) = area.get(2..len).filter(|_| len >= 2) else {
            w.notation.push(format!("malformed-{kind}"));
            break;
        };
        let word = |i: usize| {
            value
                .get(i..i + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        match (kind, value) {
            (MSS, &[hi, lo]) => {
                let m = u16::from_be_bytes([hi, lo]);
                w.mss = Some(m);
                w.notation.push(format!("mss {m}"));
            }
            (WINDOW_SCALE, &[shift]) => {
                w.window_scale = Some(shift);
                w.notation.push(format!("wscale {shift}"));
            }
            (SACK_PERMITTED, &[]) => {
                w.sack_permitted = true;
                w.notation.push("sackOK".to_owned());
            }
            (TIMESTAMPS, v) if v.len() == 8 => {
                w.timestamps = true;
                w.notation.push("TS".to_owned());
            }
            (SACK, v) if !v.is_empty() && v.len() % 8 == 0 => {
                w.sack = (0..v.len() / 8)
                    .map(|b| {
                        [
                            word(8 * b).wrapping_sub(sack_base),
                            word(8 * b + 4).wrapping_sub(sack_base),
                        ]
                    })
                    .collect();
                let blocks: String = w.sack.iter().map(|[l, r]| format!("{{{l}:{r}}}")).collect();
                w.notation.push(format!("sack {} {blocks}", w.sack.len()));
            }
            _ => w.notation.push(format!("opt-{kind}")),
        }
        area = area.get(len..).unwrap_or_default();
    }
    w
}
