//! The bulk rule of SPEC §5: where the kernel's receiver batches its ACKs
//! by wall-clock, a connection is compared by aggregates instead of every
//! segment.
//!
//! A connection (both directions of a 4-tuple) is **bulk** when the
//! simulation sends more than [`BULK_DATA_SEGMENTS`] data segments in one of
//! its directions. Each direction of a bulk connection is then held to:
//!
//! 1. its **control segments** segment by segment, as the per-segment rule
//!    holds every segment (flags but PSH, ack, options, time), except that a
//!    control segment that carries data is compared by where it ends (seq +
//!    length) rather than by its seq and length (the data before a FIN is
//!    cut at the receive window's edge wherever the ACKs left it): the
//!    segments with SYN, FIN or RST, and the first segment after each SYN or
//!    bare FIN (one without data) of the other direction that acknowledges
//!    it (the handshake's ACK, the ACK of a FIN sent on its own). The ACK
//!    of a FIN that rode on data acknowledges that data too, and whether
//!    the kernel sends it alone or on its own FIN depends on how much
//!    unacknowledged data came with the FIN (`tests/data/linux/README.md`,
//!    "Loss recovery", item 8), which is the ACK batching this rule sets
//!    aside: it is held to the time until all is acknowledged instead;
//! 2. its **payload octets**, new data only (a retransmission's octets
//!    are counted once): equal;
//! 3. its **data segments per round**: rounds are windows of one round-trip
//!    time, centred on the flights of slow start: round k holds the data
//!    segments sent from `first + (k - 1/2) RTT` to `first + (k + 1/2) RTT`,
//!    `first` the direction's first data segment on its own side. The RTT is
//!    the simulation's handshake (the client's ACK of the SYN-ACK less the
//!    SYN it answers) and is the same for both sides; where the simulation
//!    has no handshake, all data is one round. Each round within
//!    [`round_slack`] of the kernel's;
//! 4. the **time until all its data is acknowledged** (the first segment
//!    of the other direction whose ACK covers the direction's highest data
//!    octet, since the side's first packet): within the per-segment rule's
//!    slack, [`super::slack_ns`];
//! 5. its **retransmitted data segments** (data that starts below the
//!    highest sequence number sent before it): equal;
//! 6. its sender's **final congestion window**, where both sides know it
//!    (the simulation's from the connection report, the kernel's from
//!    `TCP_INFO` before its socket closes): within [`cwnd_slack`].
//!
//! The first that fails is the direction's divergence.

use serde::Serialize;

use super::{Divergence, Field, Row, slack_ns};

/// A connection whose simulation sends more than this many data segments in
/// one direction is compared by aggregates (when the method is `auto`).
/// Linux's receiver ACKs every segment at once in its quick-ACK mode, which
/// lasts at most `TCP_MAX_QUICKACKS` = 16 segments from the start of a
/// connection (`tcp_incr_quickack`: min(rcv_wnd / (2 rcv_mss), 16)); up to
/// there its ACKs are the model's one by one (every capture of up to 15
/// data segments in `tests/data/linux/` matches segment by segment). Past
/// it, it delays ACKs, and when one goes out depends on when its
/// application reads: `bulk_200k` (139 data segments) sent 53 to 90 ACKs in
/// three runs of the same transfer.
pub const BULK_DATA_SEGMENTS: usize = 16;

/// The least difference in data segments allowed in one round: a flight
/// that reaches the receive window's edge ends with a short segment there
/// and sends the rest a round later, as the ACKs left the window
/// (`bulk_200k`: 60 segments in its fourth flight, 58 in `-alt`); a data
/// segment lost in the round moves the repair's segments by one or two
/// (the configs' `linux-bulk-loss` measured 52 and 18 against 51 and 19).
pub const ROUND_MIN_SLACK_SEGMENTS: u32 = 2;

/// The difference in data segments allowed in one round, as a percentage
/// of the kernel's: a large round's edge moves with the window by more
/// than two segments (five ACKs of the third flight in `bulk_200k` against
/// three in `-alt`, each opening the window by a different amount).
pub const ROUND_SLACK_PERCENT: u32 = 10;

/// How far a sender's final congestion window may be from the kernel's, as
/// a percentage of the kernel's: slow start grows cwnd by the segments each
/// ACK covers, but only while the sender is cwnd-limited, and that depends
/// on how the ACKs were batched (`bulk_200k` ended at 149 segments, `-alt`
/// at 128, 14 % less, for the same transfer); the kernel's window is read
/// before its socket closes, the simulation's when the connection ends,
/// which an ACK of the FIN may move by one segment.
pub const CWND_SLACK_PERCENT: u64 = 20;

/// The least difference in final cwnd allowed, in octets: one segment of
/// the linux profile's MSS (1448 with timestamps) either way, for the FIN's
/// ACK.
pub const CWND_MIN_SLACK_OCTETS: u64 = 1448;

/// How many data segments a round may differ by when the kernel sent
/// `kernel` in it: [`ROUND_SLACK_PERCENT`] of it, at least
/// [`ROUND_MIN_SLACK_SEGMENTS`].
pub fn round_slack(kernel: u32) -> u32 {
    (kernel * ROUND_SLACK_PERCENT / 100).max(ROUND_MIN_SLACK_SEGMENTS)
}

/// How many octets the final cwnd may differ by when the kernel's is
/// `kernel` octets: [`CWND_SLACK_PERCENT`] of it, at least
/// [`CWND_MIN_SLACK_OCTETS`].
pub fn cwnd_slack(kernel: u64) -> u64 {
    (kernel * CWND_SLACK_PERCENT / 100).max(CWND_MIN_SLACK_OCTETS)
}

/// What an aggregate comparison holds one direction's sides to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The control segments, segment by segment.
    Control,
    /// The payload octets (new data).
    Octets,
    /// The data segments of one round.
    Rounds,
    /// The time until all data is acknowledged.
    AllAcked,
    /// The retransmitted data segments.
    Retransmitted,
    /// The sender's final congestion window.
    FinalCwnd,
}

impl Aggregate {
    /// The aggregate's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Aggregate::Control => "control segments",
            Aggregate::Octets => "payload octets",
            Aggregate::Rounds => "data segments in round",
            Aggregate::AllAcked => "time until all data is acknowledged",
            Aggregate::Retransmitted => "retransmitted data segments",
            Aggregate::FinalCwnd => "final cwnd (octets)",
        }
    }
}

/// One side's aggregates of one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Data segments sent (retransmissions included).
    pub data_segments: u32,
    /// Payload octets of new data.
    pub octets: u64,
    /// Data segments per round, from round 0 (the direction's first data
    /// segment); empty without data.
    pub rounds: Vec<u32>,
    /// Nanoseconds since the side's first packet until the other direction
    /// acknowledges all the direction's data; `None` without data or when
    /// it never does.
    pub all_acked_ns: Option<u64>,
    /// Retransmitted data segments.
    pub retransmitted: u32,
    /// The sender's final congestion window in octets, where known.
    pub final_cwnd: Option<u64>,
}

/// A direction compared by aggregates: both sides' values and which of the
/// rows are control segments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Aggregates {
    /// The round length, nanoseconds (the simulation's handshake RTT);
    /// `None` when the simulation has no handshake (all data is one round).
    pub round_ns: Option<u64>,
    /// The control segments' indices in the direction's simulation rows.
    pub sim_control: Vec<usize>,
    /// The control segments' indices in the direction's kernel rows.
    pub kernel_control: Vec<usize>,
    /// The simulation's aggregates.
    pub sim: Totals,
    /// The kernel's aggregates.
    pub kernel: Totals,
}

/// Data segments of a direction's rows.
pub(super) fn data_segments(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.len > 0).count()
}

/// The round length from one side's handshake: the first row of the
/// client's direction (the one whose SYN has no ACK) after a SYN-ACK that
/// has ACK and no SYN, less the last SYN it sent before that row.
pub(super) fn round_trip(a: &[Row], b: &[Row]) -> Option<u64> {
    let of = |client: &[Row], server: &[Row]| {
        let syn_ack = server.iter().find(|r| r.flags.contains('S'))?;
        let ack = client
            .iter()
            .find(|r| r.at_ns >= syn_ack.at_ns && r.ack.is_some() && !r.flags.contains('S'))?;
        let syn = client
            .iter()
            .rfind(|r| r.flags.contains('S') && r.ack.is_none() && r.at_ns <= ack.at_ns)?;
        Some(ack.at_ns - syn.at_ns).filter(|&t| t > 0)
    };
    let opens = |rows: &[Row]| {
        rows.iter()
            .any(|r| r.flags.contains('S') && r.ack.is_none())
    };
    if opens(a) {
        of(a, b)
    } else if opens(b) {
        of(b, a)
    } else {
        None
    }
}

/// The indices of `own`'s control segments: those with SYN, FIN or RST, and
/// the first after each SYN or bare FIN of `peer` whose ACK covers it.
pub(super) fn control_rows(own: &[Row], peer: &[Row]) -> Vec<usize> {
    let mut marked: Vec<bool> = own
        .iter()
        .map(|r| r.flags.contains(['S', 'F', 'R']))
        .collect();
    let acked = |p: &&Row| p.flags.contains('S') || (p.flags.contains('F') && p.len == 0);
    for p in peer.iter().filter(acked) {
        let end = p.seq.wrapping_add(p.len).wrapping_add(1);
        // Relative numbers restart at a new connection's SYN, so only the
        // rows sent after the peer's are looked at.
        if let Some(i) = own.iter().position(|r| {
            r.at_ns >= p.at_ns && r.ack.is_some_and(|a| a.wrapping_sub(end) < 1 << 31)
        }) {
            marked[i] = true;
        }
    }
    marked
        .iter()
        .enumerate()
        .filter_map(|(i, &m)| m.then_some(i))
        .collect()
}

/// One side's aggregates of the direction `own`, whose other direction is
/// `peer`, with rounds of `round_ns` and the sender's final cwnd.
pub(super) fn totals(
    own: &[Row],
    peer: &[Row],
    round_ns: Option<u64>,
    final_cwnd: Option<u64>,
) -> Totals {
    let mut t = Totals {
        final_cwnd,
        ..Totals::default()
    };
    let mut high: Option<u32> = None;
    let mut first: Option<u64> = None;
    let mut last_end: Option<(u32, u64)> = None;
    for r in own {
        if r.flags.contains('S') {
            // A new connection: its sequence space starts again.
            high = Some(r.seq.wrapping_add(1));
        }
        if r.len == 0 {
            continue;
        }
        t.data_segments += 1;
        let end = r.seq.wrapping_add(r.len);
        let h = high.unwrap_or(r.seq);
        let before = |a: u32, b: u32| a.wrapping_sub(b) >= 1 << 31;
        if before(r.seq, h) {
            t.retransmitted += 1;
        }
        if before(h, end) {
            t.octets += u64::from(end.wrapping_sub(h));
            high = Some(end);
            last_end = Some((end, r.at_ns));
        }
        let at = r.at_ns;
        let start = *first.get_or_insert(at);
        let round = match round_ns {
            Some(rtt) => ((at.saturating_sub(start) + rtt / 2) / rtt) as usize,
            None => 0,
        };
        if t.rounds.len() <= round {
            t.rounds.resize(round + 1, 0);
        }
        t.rounds[round] += 1;
    }
    if let Some((end, sent)) = last_end {
        t.all_acked_ns = peer
            .iter()
            .find(|p| p.at_ns >= sent && p.ack.is_some_and(|a| a.wrapping_sub(end) < 1 << 31))
            .map(|p| p.at_ns);
    }
    t
}

/// The first aggregate (after the control segments) in which the
/// kernel's totals `k` and the simulation's `s` part, for `direction`.
pub(super) fn first_difference(direction: &str, s: &Totals, k: &Totals) -> Option<Divergence> {
    let part = |aggregate, round, sim: Option<u64>, kernel: Option<u64>, allowed: u64| {
        Some(Divergence::Aggregate {
            direction: direction.to_owned(),
            aggregate,
            round,
            sim,
            kernel,
            allowed,
        })
    };
    if s.octets != k.octets {
        return part(Aggregate::Octets, None, Some(s.octets), Some(k.octets), 0);
    }
    for i in 0..s.rounds.len().max(k.rounds.len()) {
        let (x, y) = (
            s.rounds.get(i).copied().unwrap_or(0),
            k.rounds.get(i).copied().unwrap_or(0),
        );
        let allowed = round_slack(y);
        if x.abs_diff(y) > allowed {
            return part(
                Aggregate::Rounds,
                Some(i),
                Some(u64::from(x)),
                Some(u64::from(y)),
                u64::from(allowed),
            );
        }
    }
    match (s.all_acked_ns, k.all_acked_ns) {
        (Some(x), Some(y)) if x.abs_diff(y) > slack_ns(y) => {
            return part(Aggregate::AllAcked, None, Some(x), Some(y), slack_ns(y));
        }
        (Some(_), None) | (None, Some(_)) => {
            let allowed = k.all_acked_ns.map_or(0, slack_ns);
            return part(
                Aggregate::AllAcked,
                None,
                s.all_acked_ns,
                k.all_acked_ns,
                allowed,
            );
        }
        _ => {}
    }
    if s.retransmitted != k.retransmitted {
        return part(
            Aggregate::Retransmitted,
            None,
            Some(u64::from(s.retransmitted)),
            Some(u64::from(k.retransmitted)),
            0,
        );
    }
    if let (Some(x), Some(y)) = (s.final_cwnd, k.final_cwnd)
        && x.abs_diff(y) > cwnd_slack(y)
    {
        return part(Aggregate::FinalCwnd, None, Some(x), Some(y), cwnd_slack(y));
    }
    None
}

/// The compared fields of two control segments in which they differ: as
/// [`super::differing`], but a segment that carries data on either side by
/// where it ends instead of by its seq and length.
pub(super) fn differing_control(x: &Row, y: &Row) -> Vec<Field> {
    let mut fields = super::differing(x, y);
    if x.len > 0 || y.len > 0 {
        fields.retain(|f| !matches!(f, Field::Seq | Field::Len));
        if x.seq.wrapping_add(x.len) != y.seq.wrapping_add(y.len) {
            // In Field order: End goes where Seq was.
            let at = fields
                .iter()
                .position(|f| !matches!(f, Field::Flags))
                .unwrap_or(fields.len());
            fields.insert(at, Field::End);
        }
    }
    fields
}
