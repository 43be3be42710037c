//! The vertical layout of the ladder diagram: which send became which
//! delivery or drop, and where each trace record's row goes (see the
//! layout section of [`super`]).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use tcpsim_net::{DropReason, HostId, RunResult, SegmentInfo, TraceKind, TraceRecord};
use tcpsim_tcp::Instant;

use crate::timeline::{Relative, seconds, tcpdump_flags};

/// Minimum vertical distance between two rows, in pixels; rows with labels
/// keep further apart, so that no two labels overlap.
pub const MIN_STEP: f64 = 8.0;
/// Minimum distance from a send to its drop at the link's entrance, so the
/// short arrow visibly slopes.
const DROP_STEP: f64 = 12.0;
/// Vertical room between two labels.
pub const LABEL_PAD: f64 = 2.0;
/// Baseline of a segment's label, relative to its row.
pub(super) const SEG_BASE: f64 = -3.0;
/// Baseline of a mark, a drop reason or a time, relative to its row.
pub(super) const MARK_BASE: f64 = 4.0;
/// Pixels a gap as long as the median one-way delay adds to a row.
pub const PX_PER_DELAY: f64 = 80.0;
/// A gap longer than this many median one-way delays is compressed.
pub const BREAK_AFTER: u64 = 3;
/// The height of the band a compressed gap is drawn as.
pub const BREAK: f64 = 28.0;

/// Where the first row goes, below the title, legend and host names.
pub(super) const TOP: f64 = 166.0;

/// How a segment's flight ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Reached the receiver.
    Delivered,
    /// Dropped at the link's entrance, at the send instant.
    Entrance(DropReason),
    /// Dropped on arrival (checksum).
    Arrival(DropReason),
}

/// One copy of a segment on its way.
#[derive(Clone, Debug)]
pub(super) struct Flight {
    pub(super) from: HostId,
    pub(super) to: Option<HostId>,
    pub(super) send_row: usize,
    pub(super) end: Option<(usize, Fate)>,
    pub(super) rtx: bool,
    pub(super) dup: bool,
    pub(super) label: String,
    pub(super) tip: String,
}

type Key = (HostId, SocketAddrV4, SocketAddrV4, u8, u32, u32, u32, u16);

fn key(from: HostId, s: &SegmentInfo) -> Key {
    (
        from,
        s.src,
        s.dst,
        s.flags.bits(),
        s.seq.0,
        s.ack.0,
        s.len,
        s.win,
    )
}

/// `[S.] seq 0 ack 1`, `[P.] seq 1:1461 ack 1`, `[.] ack 1461`.
fn segment_label(s: &SegmentInfo, seq: u32, ack: Option<u32>) -> String {
    let mut l = tcpdump_flags(s.flags);
    if s.len > 0 {
        l.push_str(&format!(" seq {seq}:{}", seq.wrapping_add(s.len)));
    } else if s.flags.syn() || s.flags.fin() || s.flags.rst() || ack.is_none() {
        l.push_str(&format!(" seq {seq}"));
    }
    if let Some(ack) = ack {
        l.push_str(&format!(" ack {ack}"));
    }
    if s.win == 0 {
        l.push_str(" win 0");
    }
    l
}

/// Pairs every send with what became of it: a delivery, a drop, or nothing
/// yet when the run stopped. Copies are matched first in, first out by their
/// header; a drop at the entrance takes the copy sent last (it was sent at
/// that instant); a fate with no send left is a netem duplicate's.
pub(super) fn flights(r: &RunResult, trace: &[TraceRecord]) -> Vec<Flight> {
    let mut rel = Relative::default();
    let mut out: Vec<Flight> = Vec::new();
    let mut pending: BTreeMap<Key, VecDeque<usize>> = BTreeMap::new();
    let mut last: BTreeMap<Key, usize> = BTreeMap::new();
    let name = |i: usize| r.host_names.get(i).map_or("?", String::as_str);
    for (row, rec) in trace.iter().enumerate() {
        let (from, segment, fate) = match rec.kind {
            TraceKind::Send {
                host,
                retransmission,
                segment,
                ..
            } => {
                let (seq, ack) = rel.numbers(&segment);
                let to = r.host_at(*segment.dst.ip());
                let label = segment_label(&segment, seq, ack);
                let mut tip = format!(
                    "{} s  {} > {}  {label} win {} len {}",
                    seconds(rec.at),
                    name(host),
                    to.map_or_else(|| segment.dst.ip().to_string(), |t| name(t).to_string()),
                    segment.win,
                    segment.len
                );
                if let Some(cause) = retransmission {
                    let _ = write!(tip, " (retransmission: {cause})");
                }
                let k = key(host, &segment);
                pending.entry(k).or_default().push_back(out.len());
                last.insert(k, out.len());
                out.push(Flight {
                    from: host,
                    to,
                    send_row: row,
                    end: None,
                    rtx: retransmission.is_some(),
                    dup: false,
                    label,
                    tip,
                });
                continue;
            }
            TraceKind::Drop {
                from,
                reason,
                segment,
                ..
            } => {
                let fate = if reason == DropReason::Checksum {
                    Fate::Arrival(reason)
                } else {
                    Fate::Entrance(reason)
                };
                (from, segment, fate)
            }
            TraceKind::Deliver { segment, .. } => match r.host_at(*segment.src.ip()) {
                Some(from) => (from, segment, Fate::Delivered),
                None => continue,
            },
            _ => continue,
        };
        let k = key(from, &segment);
        let found = pending.get_mut(&k).and_then(|q| match fate {
            Fate::Entrance(_) => q.pop_back(),
            _ => q.pop_front(),
        });
        let idx = match (found, last.get(&k)) {
            (Some(i), _) => i,
            (None, Some(&j)) => {
                let mut copy = out[j].clone();
                copy.dup = true;
                copy.end = None;
                copy.tip.push_str(" (duplicate)");
                out.push(copy);
                out.len() - 1
            }
            (None, None) => continue,
        };
        let f = &mut out[idx];
        if let TraceKind::Drop { to: Some(to), .. } | TraceKind::Deliver { host: to, .. } = rec.kind
        {
            f.to = Some(to);
        }
        f.end = Some((row, fate));
        match fate {
            Fate::Delivered => f
                .tip
                .push_str(&format!("; delivered at {} s", seconds(rec.at))),
            Fate::Entrance(why) | Fate::Arrival(why) => f.tip.push_str(&format!(
                "; dropped ({}) at {} s",
                why.name(),
                seconds(rec.at)
            )),
        }
    }
    out
}

/// A compressed stretch of idle time between two rows.
pub(super) struct Gap {
    /// Top and bottom of the band, in pixels.
    pub(super) top: f64,
    pub(super) bottom: f64,
    /// The time skipped, in nanoseconds.
    pub(super) ns: u64,
}

/// Row positions and compressed gaps.
pub(super) struct Rows {
    pub(super) y: Vec<f64>,
    pub(super) gaps: Vec<Gap>,
    /// The median one-way delay the scale is built on, in nanoseconds.
    pub(super) delay_ns: u64,
}

pub(super) fn median_delay(trace: &[TraceRecord], flights: &[Flight]) -> u64 {
    let mut d: Vec<u64> = flights
        .iter()
        .filter_map(|f| match f.end {
            Some((row, Fate::Delivered)) => Some((trace[row].at - trace[f.send_row].at).as_nanos()),
            _ => None,
        })
        .filter(|&d| d > 0)
        .collect();
    d.sort_unstable();
    // No delivery took time: fall back to 10 ms, a typical one-way delay.
    d.get(d.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(10_000_000)
}

/// The vertical extent of a row's label around the row's y, if it has one:
/// a segment's label sits above its arrow; a mark or a drop reason is
/// centred on its row.
fn band(rec: &TraceRecord) -> Option<(f64, f64)> {
    match rec.kind {
        TraceKind::Deliver { .. } => None,
        TraceKind::Send { .. } => Some((SEG_BASE - 9.0, SEG_BASE + 3.0)),
        _ => Some((MARK_BASE - 9.0, MARK_BASE + 3.0)),
    }
}

pub(super) fn rows(trace: &[TraceRecord], delay_ns: u64) -> Rows {
    let mut y = Vec::with_capacity(trace.len());
    let mut gaps = Vec::new();
    let mut at = TOP;
    // The bottom of the lowest label so far: a new label starts below it.
    let mut floor = f64::NEG_INFINITY;
    let mut prev: Option<Instant> = None;
    for rec in trace {
        let b = band(rec);
        if let Some(p) = prev {
            let dt = (rec.at - p).as_nanos();
            let clear = |base: f64| match b {
                Some((top, _)) => base.max(floor + LABEL_PAD - top),
                None => base,
            };
            if dt > BREAK_AFTER.saturating_mul(delay_ns) {
                let top = (at + 6.0).max(floor + LABEL_PAD);
                let bottom = top + BREAK;
                gaps.push(Gap {
                    top,
                    bottom,
                    ns: dt,
                });
                at = (bottom + 6.0).max(bottom + LABEL_PAD - b.map_or(0.0, |(t, _)| t));
            } else {
                let step = if matches!(rec.kind, TraceKind::Drop { .. }) {
                    DROP_STEP
                } else {
                    MIN_STEP
                };
                at = clear(at + step) + dt as f64 / delay_ns as f64 * PX_PER_DELAY;
            }
        }
        if let Some((_, bottom)) = b {
            floor = at + bottom;
        }
        y.push(at);
        prev = Some(rec.at);
    }
    Rows { y, gaps, delay_ns }
}

/// A duration for a gap label: `240 s`, `1.5 s`, `850 ms`, `0.25 ms`.
pub fn short_duration(ns: u64) -> String {
    let trim = |whole: u64, frac: u64, digits: usize, unit: &str| {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            format!("{whole} {unit}")
        } else {
            format!("{whole}.{f} {unit}")
        }
    };
    if ns >= 1_000_000_000 {
        trim(ns / 1_000_000_000, ns % 1_000_000_000 / 1_000_000, 3, "s")
    } else if ns >= 1_000_000 {
        trim(ns / 1_000_000, ns % 1_000_000 / 1_000, 3, "ms")
    } else {
        trim(ns / 1_000, ns % 1_000, 3, "µs")
    }
}

/// Seconds with as many decimals as the run needs: 3 when every time is a
/// whole millisecond, else 6 (rounded to the microsecond).
pub(super) fn time_formatter(trace: &[TraceRecord]) -> impl Fn(Instant) -> String {
    let whole_ms = trace.iter().all(|r| r.at.as_nanos() % 1_000_000 == 0);
    move |t: Instant| {
        let ns = t.as_nanos();
        if whole_ms {
            format!(
                "{}.{:03}",
                ns / 1_000_000_000,
                ns % 1_000_000_000 / 1_000_000
            )
        } else {
            let us = (ns + 500) / 1_000;
            format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
        }
    }
}
