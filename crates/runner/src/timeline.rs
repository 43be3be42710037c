//! The text timeline of a run: one line per event, readable like a ladder
//! diagram, then a summary per connection.
//!
//! Segments are written the way tcpdump writes them (`[S]`, `[S.]`, `[F.]`,
//! `[R.]`, `[P.]`), with sequence and acknowledgment numbers relative to
//! each side's ISN as Wireshark shows them. Times are seconds with nine
//! decimals: exact, so golden files compare byte for byte.
//!
//! A sent segment's options follow its fields in angle brackets, in
//! tcpdump's notation with the NOPs of the padding
//! (`<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>`,
//! [`tcpsim_tcp::options::format`]; SACK edges relative to the peer's ISN,
//! like the acknowledgment number), under the JSON report's rule
//! ([`crate::report::options_in_use`]): only in a run where some segment
//! carries an option other than MSS, and then on every segment that
//! carries any option, MSS included. A run that sends nothing but MSS shows
//! no options, as before options existed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use tcpsim_net::{ConnReport, EndReport, RunResult, SegmentInfo, TraceKind, TraceRecord};
use tcpsim_tcp::{Duration, Flags, Instant, SackBlocks, SegmentKind, SeqNum};

use crate::report::{Meta, options_in_use};

/// Seconds with nine decimals: `1.050000000`.
pub fn seconds(t: Instant) -> String {
    let ns = t.as_nanos();
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// tcpdump's flag notation: `S`, `F`, `R`, `P`, and `.` for ACK.
pub fn tcpdump_flags(f: Flags) -> String {
    let mut s = String::with_capacity(6);
    s.push('[');
    for (bit, c) in [
        (Flags::SYN, 'S'),
        (Flags::FIN, 'F'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
    ] {
        if f.contains(bit) {
            s.push(c);
        }
    }
    if f.ack() {
        s.push('.');
    }
    s.push(']');
    s
}

/// Each direction's ISN, learned from the first SYN it sends, for
/// Wireshark-style relative numbers.
#[derive(Default)]
pub struct Relative {
    isn: BTreeMap<(SocketAddrV4, SocketAddrV4), u32>,
}

impl Relative {
    /// Learns from a segment; returns `(seq, ack)` relative to the ISNs
    /// known so far (raw numbers where an ISN is unknown).
    pub fn numbers(&mut self, s: &SegmentInfo) -> (u32, Option<u32>) {
        if s.flags.syn() {
            self.isn.entry((s.src, s.dst)).or_insert(s.seq.0);
        }
        let seq = match self.isn.get(&(s.src, s.dst)) {
            Some(isn) => s.seq.0.wrapping_sub(*isn),
            None => s.seq.0,
        };
        let ack = s.flags.ack().then(|| self.peer_relative(s, s.ack));
        (seq, ack)
    }

    /// A number in the peer's sequence space (an acknowledgment, a SACK
    /// edge) relative to the peer's ISN, raw where that ISN is unknown.
    pub fn peer_relative(&self, s: &SegmentInfo, n: SeqNum) -> u32 {
        match self.isn.get(&(s.dst, s.src)) {
            Some(isn) => n.0.wrapping_sub(*isn),
            None => n.0,
        }
    }

    /// tcpdump's notation of a segment's options (`mss 1460,sackOK,TS val 1
    /// ecr 0,nop,wscale 7`), SACK edges relative like the acknowledgment.
    pub fn options(&self, s: &SegmentInfo) -> String {
        let mut o = s.options;
        let mut sack = SackBlocks::new();
        for &(l, r) in s.options.sack.as_slice() {
            sack.push(
                SeqNum(self.peer_relative(s, l)),
                SeqNum(self.peer_relative(s, r)),
            );
        }
        o.sack = sack;
        tcpsim_tcp::options::format(s.mss, &o)
    }
}

fn conn_tag(conn: Option<u32>) -> String {
    conn.map(|c| format!("  (conn {c})")).unwrap_or_default()
}

/// The first line of a timeline: `# NAME - seed N, profile P`.
pub fn header(h: &Meta<'_>) -> String {
    format!("# {} - seed {}, profile {}\n", h.name, h.seed, h.profile)
}

/// The event lines of a run's timeline, made one trace record at a time,
/// in the run's order: what [`render`] writes between the header and the
/// summary, for a run whose trace is read back from elsewhere
/// ([`crate::report::Spilled`]) rather than kept in the [`RunResult`].
///
/// What it keeps grows with the connections, not with the events: the ISN
/// of each direction, for the relative numbers.
pub struct Lines<'a> {
    r: &'a RunResult,
    width: usize,
    rel: Relative,
    show_options: bool,
}

impl<'a> Lines<'a> {
    /// The lines of run `r`, whose records show options if
    /// `show_options` ([`options_in_use`] of the whole run).
    pub fn new(r: &'a RunResult, show_options: bool) -> Lines<'a> {
        let width = r
            .host_names
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(4)
            .max(4);
        Lines {
            r,
            width,
            rel: Relative::default(),
            show_options,
        }
    }

    /// Appends the line of `rec`, the next record of the run, with its
    /// newline, to `out`.
    pub fn write(&mut self, out: &mut String, rec: &TraceRecord) {
        let (r, width) = (self.r, self.width);
        let name = |i: usize| r.host_names.get(i).map_or("?", String::as_str);
        let t = seconds(rec.at);
        let line = match rec.kind {
            TraceKind::App { host, conn, call } => {
                let what = call.describe();
                format!("{:w$}  app {what}{}", name(host), conn_tag(conn), w = width)
            }
            TraceKind::State {
                host,
                conn,
                from,
                to,
            } => format!(
                "{:w$}  {from} -> {to}{}",
                name(host),
                conn_tag(conn),
                w = width
            ),
            TraceKind::Timer { host, conn, timer } => format!(
                "{:w$}  timer {timer}{}",
                name(host),
                conn_tag(conn),
                w = width
            ),
            TraceKind::Send {
                host,
                retransmission,
                segment,
                ..
            } => {
                let (seq, ack) = self.rel.numbers(&segment);
                let mut s = format!(
                    "{:w$} > {:<w$}  {:<6} seq {seq}",
                    name(host),
                    r.host_label(*segment.dst.ip()),
                    tcpdump_flags(segment.flags),
                    w = width
                );
                if let Some(ack) = ack {
                    let _ = write!(s, ", ack {ack}");
                }
                let _ = write!(s, ", win {}, len {}", segment.win, segment.len);
                if self.show_options && (segment.mss.is_some() || !segment.options.is_empty()) {
                    let _ = write!(s, " <{}>", self.rel.options(&segment));
                }
                if let Some(cause) = retransmission {
                    let _ = write!(s, "  (retransmission: {cause})");
                }
                s
            }
            TraceKind::Drop {
                from,
                reason,
                segment,
                ..
            } => format!(
                "{:w$} > {:<w$}  {:<6} DROPPED ({})",
                name(from),
                r.host_label(*segment.dst.ip()),
                tcpdump_flags(segment.flags),
                reason.name(),
                w = width
            ),
            TraceKind::Deliver { host, segment } => format!(
                "{:w$} < {:<w$}  {:<6} delivered",
                name(host),
                r.host_label(*segment.src.ip()),
                tcpdump_flags(segment.flags),
                w = width
            ),
        };
        let _ = writeln!(out, "{t}  {line}");
    }
}

/// The timeline and summary as text: the [`header`], a line per record of
/// the run's kept trace ([`Lines`]), an empty line, the summary
/// ([`render_summary`]).
pub fn render(h: &Meta<'_>, r: &RunResult) -> String {
    let mut out = header(h);
    let mut lines = Lines::new(r, options_in_use(r));
    for rec in r.trace.iter().flatten() {
        lines.write(&mut out, rec);
    }
    let _ = writeln!(out);
    out.push_str(&render_summary(r));
    out
}

/// The summary alone: one paragraph per connection and the run's end
/// (what `run --quiet` prints).
pub fn render_summary(r: &RunResult) -> String {
    let mut out = String::new();
    let _ = paragraphs(r, |text| {
        out.push_str(text);
        Ok(())
    });
    out
}

/// Writes [`render_summary`]'s text to `out` a connection at a time, so
/// that a run of a million connections needs no string holding all of
/// their paragraphs.
pub fn write_summary(out: &mut impl std::io::Write, r: &RunResult) -> std::io::Result<()> {
    paragraphs(r, |text| out.write_all(text.as_bytes()))
}

/// Hands the summary to `emit` a paragraph at a time (a connection's, then
/// the run's end), in one reused string.
fn paragraphs(
    r: &RunResult,
    mut emit: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut text = String::new();
    for c in &r.connections {
        text.clear();
        summary(&mut text, r, c);
        emit(&text)?;
    }
    text.clear();
    run_end(&mut text, r);
    emit(&text)
}

/// The summary's last line: when and why the run ended.
fn run_end(out: &mut String, r: &RunResult) {
    // The event count is left out on purpose: it depends on how the engine
    // schedules its work, not on what happened, and goldens pin behaviour.
    let _ = writeln!(
        out,
        "run ended at {} ({})",
        seconds(r.end),
        r.stop_reason.name()
    );
}

/// A value, or the word that stands for its absence.
struct OrElse<T>(Option<T>, &'static str);

impl<T: std::fmt::Display> std::fmt::Display for OrElse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str(self.1),
        }
    }
}

/// The time from `from` to `t`, or `never`.
fn since(t: Option<Instant>, from: Instant) -> OrElse<Duration> {
    OrElse(t.map(|t| t - from), "never")
}

/// The order kinds are listed in summaries and reports.
pub const KIND_ORDER: [SegmentKind; 6] = [
    SegmentKind::Syn,
    SegmentKind::SynAck,
    SegmentKind::Ack,
    SegmentKind::Data,
    SegmentKind::Fin,
    SegmentKind::Rst,
];

fn summary(out: &mut String, r: &RunResult, c: &ConnReport) {
    let name = |i: usize| r.host_names.get(i).map_or("?", String::as_str);
    let w = &c.workload;
    let _ = writeln!(
        out,
        "connection {}: {}:{} -> {}:{}  outcome {}",
        c.id,
        name(w.client),
        OrElse(c.client.port, "?"),
        name(w.server),
        w.port,
        c.outcome.name()
    );
    let _ = writeln!(
        out,
        "  opened at {}; established after {} (server {}); closed after {}; ended at {}",
        c.opened,
        since(c.client.established, c.opened),
        since(c.server.established, c.opened),
        since(c.closed, c.opened),
        c.ended
    );
    let rtx = c.retransmissions();
    let _ = write!(
        out,
        "  final states: client {}, server {}; retransmissions: ",
        c.client.state, c.server.state,
    );
    let listed = KIND_ORDER
        .iter()
        .filter(|k| !matches!(k, SegmentKind::Ack | SegmentKind::Rst));
    for (i, k) in listed.enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}{} {}", k.name(), rtx.get(*k));
    }
    let _ = writeln!(
        out,
        "; bytes read: client {}, server {}",
        c.client.bytes_read, c.server.bytes_read
    );
    recovery(out, "client", &c.client);
    recovery(out, "server", &c.server);
}

/// One end's final congestion state and loss-recovery counts (the JSON
/// report's `recovery`): `  client recovery: cwnd 14600, ssthresh unset;
/// fast retransmits 0, RACK losses 0, TLP probes 0, RTOs 1, undos 0`.
fn recovery(out: &mut String, end: &str, e: &EndReport) {
    let Some(s) = e.recovery else {
        let _ = writeln!(out, "  {end} recovery: no TCP connection");
        return;
    };
    let _ = writeln!(
        out,
        "  {end} recovery: cwnd {}, ssthresh {}; fast retransmits {}, RACK losses {}, \
         TLP probes {}, RTOs {}, undos {}",
        s.cwnd,
        OrElse(s.ssthresh, "unset"),
        s.fast_retransmits,
        s.rack_losses,
        s.tlp_probes,
        s.rtos,
        s.undos
    );
}
