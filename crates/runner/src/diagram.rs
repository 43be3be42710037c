//! The ladder diagram of a run, as a self-contained SVG
//! (`tcpsim run FILE --diagram OUT.svg`).
//!
//! One vertical time line per host, time flowing down; one arrow per segment
//! from its send to its delivery, labelled at the sender's end with tcpdump's
//! flags and Wireshark-style relative numbers (as the text timeline,
//! [`crate::timeline`]). A dropped segment ends in a cross with the reason:
//! drops at the link's entrance (loss, fault, queue, partition, no-route)
//! happen at the send instant, so they are a short arrow; a checksum drop
//! happens on arrival, so it is a full arrow. Retransmissions are dashed,
//! orange and labelled `rtx`; a netem duplicate is a second, dashed purple
//! arrow from the same send (its tooltip says so). State
//! changes, application calls and timer expiries are written beside the
//! host's line.
//!
//! # Layout
//!
//! The vertical axis is laid out by event order, with time added on top.
//! Every trace record gets its own row, in trace order, so events at the
//! same instant (a burst of sends) stack instead of piling up. A row with a
//! label (a send, a drop, a state change, an application call, a timer)
//! starts below the previous label plus [`LABEL_PAD`]; a row without one (a
//! delivery: just an arrowhead) keeps [`MIN_STEP`] from the row above. So no
//! two labels ever overlap, however close their times. Time adds to that: a
//! gap `dt` between consecutive records adds `dt / D × PX_PER_DELAY` pixels,
//! where `D` is the run's median one-way delay, so arrows slope as the link
//! delay says and a quiet stretch looks quiet. A gap longer than
//! `BREAK_AFTER × D` (an RTO wait, TIME-WAIT) is compressed to a band of
//! fixed height [`BREAK`], drawn as a zig-zag in every time line and
//! labelled with the time skipped (`… 240 s …`). The time column on the left
//! prints the time of each row where it changes (skipping a label that
//! would touch the one above), with a faint guide across the page, so the
//! axis stays exact where the scale is not.
//!
//! Across the page: the time column, then one line per host, [`LANE`]
//! pixels apart. A segment's label starts at its sender's line on the side
//! it travels to; a drop's reason sits beside its cross; state changes,
//! application calls and timers are written on the outer side of the first
//! host's line (left) and to the right of the others. Labels sit on a white
//! ground, so the arrows they cross do not cross their letters.
//!
//! Classes for tools and tests: every segment is a `<line class="arrow">`
//! (with `rtx`, `dup`, `dropped` or `inflight` added), every drop a
//! `<path class="cross" data-reason="...">`, every break a
//! `<g class="break">`.

mod layout;

use tcpsim_net::{DropReason, HostId, RunResult, TraceKind, TraceRecord};
use tcpsim_tcp::Instant;

pub use layout::{BREAK, BREAK_AFTER, LABEL_PAD, MIN_STEP, PX_PER_DELAY, short_duration};
use layout::{
    Fate, Flight, MARK_BASE, Rows, SEG_BASE, TOP, flights, median_delay, rows, time_formatter,
};

use crate::report::Meta;
use crate::svg::{Svg, mono_width};
use crate::timeline::seconds;

/// How far a segment's label starts from its sender's line: beyond any
/// arrowhead landing there, so its white ground never hides one.
const SEG_INSET: f64 = 12.0;
const FONT: f64 = 11.0;
/// Distance between two hosts' lines, in pixels.
pub const LANE: f64 = 520.0;
const STUB: f64 = 90.0;
const TIME_W: f64 = 112.0;
const RIGHT: &str = "#1b3a6b";
const LEFT: &str = "#0c7489";
const RTX: &str = "#d9480f";
const DROP: &str = "#c92a2a";
const DUP: &str = "#7048e8";
const STATE: &str = "#1864ab";
const APP: &str = "#2b8a3e";
const TIMER: &str = "#868e96";

const CSS: &str = "\
text { font-family: monospace; font-size: 11px; fill: #212529; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }
.title { font-family: sans-serif; font-size: 15px; font-weight: bold; }
.sub { font-family: sans-serif; font-size: 11px; fill: #495057; }
.host { font-family: sans-serif; font-size: 13px; font-weight: bold; }
.time { fill: #495057; }
.state { fill: #1864ab; font-weight: bold; }
.app { fill: #2b8a3e; }
.timer { fill: #868e96; font-style: italic; }
.drop-reason { fill: #c92a2a; font-weight: bold; }
.ground { fill: #ffffff; fill-opacity: 0.94; }
.seg-label { fill: #1b3a6b; }
.seg-label.left { fill: #0c7489; }
.seg-label.rtx { fill: #d9480f; }
.seg-label.dup { fill: #7048e8; }
.seg-label.dropped { fill: #c92a2a; }
.gap { fill: #495057; font-style: italic; }
";

/// What is written beside a host's line for a non-segment record.
struct Mark {
    host: HostId,
    class: &'static str,
    text: String,
}

fn mark(rec: &TraceRecord, many: bool) -> Option<Mark> {
    let tag = |conn: Option<u32>| match conn {
        Some(c) if many => format!(" #{c}"),
        _ => String::new(),
    };
    match rec.kind {
        TraceKind::State { host, conn, to, .. } => Some(Mark {
            host,
            class: "state",
            text: format!("{to}{}", tag(conn)),
        }),
        TraceKind::App { host, conn, call } => {
            let what = call.describe();
            Some(Mark {
                host,
                class: "app",
                text: format!("app {what}{}", tag(conn)),
            })
        }
        TraceKind::Timer { host, conn, timer } => Some(Mark {
            host,
            class: "timer",
            text: format!("timer {timer}{}", tag(conn)),
        }),
        _ => None,
    }
}

/// Where things go across the page.
struct Columns {
    x: Vec<f64>,
    width: f64,
}

impl Columns {
    /// Which side of host `h`'s line its marks go: left for the first host,
    /// right for the others.
    fn mark_dir(&self, h: HostId) -> f64 {
        if h == 0 && self.x.len() > 1 {
            -1.0
        } else {
            1.0
        }
    }
}

fn columns(hosts: usize, marks: &[Option<Mark>]) -> Columns {
    let widest = |pred: &dyn Fn(HostId) -> bool| {
        marks
            .iter()
            .flatten()
            .filter(|m| pred(m.host))
            .map(|m| mono_width(&m.text, FONT))
            .fold(0.0_f64, f64::max)
    };
    let n = hosts.max(1);
    let left = if n > 1 {
        widest(&|h| h == 0).max(60.0) + 24.0
    } else {
        24.0
    };
    let right = widest(&|h| h + 1 == n).max(60.0) + 24.0;
    let x0 = TIME_W + left;
    let x = (0..n).map(|i| x0 + i as f64 * LANE).collect::<Vec<_>>();
    let width = x0 + (n - 1) as f64 * LANE + right;
    Columns { x, width }
}

/// An arrowhead at `(x2, y2)` pointing along the line from `(x1, y1)`;
/// `class` marks a segment's head (the legend's has none).
fn arrow_head(svg: &mut Svg, class: &str, (x1, y1): (f64, f64), (x2, y2): (f64, f64), color: &str) {
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (x2 - ux * 9.0, y2 - uy * 9.0);
    let (px, py) = (-uy * 3.5, ux * 3.5);
    let pts = format!(
        "{},{} {},{} {},{}",
        crate::svg::num(x2),
        crate::svg::num(y2),
        crate::svg::num(bx + px),
        crate::svg::num(by + py),
        crate::svg::num(bx - px),
        crate::svg::num(by - py)
    );
    let t = svg.tag("polygon");
    let t = if class.is_empty() {
        t
    } else {
        t.a("class", class)
    };
    t.a("points", pts).a("fill", color).end();
}

fn cross(svg: &mut Svg, x: f64, y: f64, reason: DropReason) {
    let n = crate::svg::num;
    let d = format!(
        "M{} {}L{} {}M{} {}L{} {}",
        n(x - 4.5),
        n(y - 4.5),
        n(x + 4.5),
        n(y + 4.5),
        n(x - 4.5),
        n(y + 4.5),
        n(x + 4.5),
        n(y - 4.5)
    );
    svg.tag("path")
        .a("class", "cross")
        .a("data-reason", reason.name())
        .a("d", d)
        .a("stroke", DROP)
        .a("stroke-width", 2.2)
        .a("fill", "none")
        .end();
}

fn text(svg: &mut Svg, class: &str, x: f64, y: f64, anchor: &str, s: &str) {
    let t = svg.tag("text").a("class", class).a("x", x).a("y", y);
    let t = if anchor == "start" {
        t
    } else {
        t.a("text-anchor", anchor)
    };
    t.text(s);
}

/// A label on an opaque white ground, so the lines it sits on do not cross
/// its letters.
fn label(svg: &mut Svg, class: &str, x: f64, y: f64, anchor: &str, s: &str) {
    let w = mono_width(s, FONT) + 4.0;
    let left = match anchor {
        "end" => x - w + 2.0,
        "middle" => x - w / 2.0,
        _ => x - 2.0,
    };
    svg.tag("rect")
        .a("class", "ground")
        .a("x", left)
        .a("y", y - 9.0)
        .a("width", w)
        .a("height", 12.0)
        .end();
    text(svg, class, x, y, anchor, s);
}

/// Everything the drawing steps share.
struct Page<'a> {
    r: &'a RunResult,
    trace: &'a [TraceRecord],
    flights: Vec<Flight>,
    rows: Rows,
    marks: Vec<Option<Mark>>,
    cols: Columns,
    /// Where the time lines end.
    bottom: f64,
}

impl Page<'_> {
    /// Which way a segment from `from` to `to` goes: +1 right, -1 left.
    fn dir(&self, from: HostId, to: Option<HostId>) -> f64 {
        match to {
            Some(t) if t < from => -1.0,
            Some(_) => 1.0,
            None if from + 1 == self.cols.x.len() && from > 0 => -1.0,
            None => 1.0,
        }
    }

    /// Where a segment's arrow ends on the receiver's line.
    fn x_to(&self, f: &Flight) -> f64 {
        let x = self.cols.x[f.from];
        f.to.map_or(x + self.dir(f.from, f.to) * LANE, |t| self.cols.x[t])
    }

    fn color(&self, f: &Flight) -> &'static str {
        if matches!(f.end, Some((_, Fate::Entrance(_) | Fate::Arrival(_)))) {
            DROP
        } else if f.dup {
            DUP
        } else if f.rtx {
            RTX
        } else if self.dir(f.from, f.to) > 0.0 {
            RIGHT
        } else {
            LEFT
        }
    }
}

/// The diagram of run `r` as an SVG document.
pub fn render(h: &Meta<'_>, r: &RunResult) -> String {
    let empty = Vec::new();
    let trace = r.trace.as_deref().unwrap_or(&empty);
    let flights = flights(r, trace);
    let rows = rows(trace, median_delay(trace, &flights));
    let many = r.connections.len() > 1;
    let marks: Vec<Option<Mark>> = trace.iter().map(|rec| mark(rec, many)).collect();
    let cols = columns(r.host_names.len(), &marks);
    let bottom = rows.y.last().copied().unwrap_or(TOP) + 30.0;
    let p = Page {
        r,
        trace,
        flights,
        rows,
        marks,
        cols,
        bottom,
    };
    let mut svg = Svg::new(p.cols.width, bottom + 46.0);
    svg.style(CSS);
    svg.tag("rect")
        .a("width", "100%")
        .a("height", "100%")
        .a("fill", "#ffffff")
        .end();
    header(&mut svg, h, &p);
    gaps_and_grid(&mut svg, &p);
    lanes(&mut svg, &p);
    segments(&mut svg, &p);
    labels(&mut svg, &p);
    host_names(&mut svg, &p, bottom + 20.0);
    text(
        &mut svg,
        "sub",
        16.0,
        bottom + 38.0,
        "start",
        // No event count: it follows the engine's scheduling, not the run
        // (as in the text timeline).
        &format!(
            "run ended at {} s ({})",
            seconds(r.end),
            r.stop_reason.name()
        ),
    );
    svg.finish()
}

fn header(svg: &mut Svg, h: &Meta<'_>, p: &Page<'_>) {
    text(
        svg,
        "title",
        16.0,
        24.0,
        "start",
        &format!("{} - seed {}, profile {}", h.name, h.seed, h.profile),
    );
    text(
        svg,
        "sub",
        16.0,
        44.0,
        "start",
        &format!(
            "Time flows down, event by event; a gap in time adds {} px per {} (the median one-way delay).",
            PX_PER_DELAY,
            short_duration(p.rows.delay_ns),
        ),
    );
    text(
        svg,
        "sub",
        16.0,
        60.0,
        "start",
        &format!(
            "Idle stretches over {} are cut short (zig-zag). Flags as tcpdump; seq/ack relative to each side's ISN.",
            short_duration(p.rows.delay_ns.saturating_mul(BREAK_AFTER))
        ),
    );
    legend(svg, 16.0, 86.0);
    host_names(svg, p, TOP - 22.0);
    text(svg, "sub", TIME_W - 8.0, TOP - 22.0, "end", "time (s)");
}

fn host_names(svg: &mut Svg, p: &Page<'_>, y: f64) {
    for (i, x) in p.cols.x.iter().enumerate() {
        let name = p.r.host_names.get(i).map_or("?", String::as_str);
        let addr =
            p.r.host_addrs
                .get(i)
                .map(|a| a.to_string())
                .unwrap_or_default();
        text(svg, "host", *x, y, "middle", &format!("{name} ({addr})"));
    }
}

/// The rows that get a time label: where the time changes, as long as the
/// label clears the one above.
fn timed_rows(p: &Page<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev_t: Option<Instant> = None;
    let mut last_y = f64::NEG_INFINITY;
    for (row, rec) in p.trace.iter().enumerate() {
        let y = p.rows.y[row];
        if prev_t != Some(rec.at) && y - last_y >= 12.0 + LABEL_PAD {
            out.push(row);
            last_y = y;
        }
        prev_t = Some(rec.at);
    }
    out
}

fn gaps_and_grid(svg: &mut Svg, p: &Page<'_>) {
    // A faint guide from each time label across the page.
    svg.tag("g").a("class", "grid").open();
    for row in timed_rows(p) {
        svg.tag("line")
            .a("x1", TIME_W - 4.0)
            .a("y1", p.rows.y[row])
            .a("x2", p.cols.width - 8.0)
            .a("y2", p.rows.y[row])
            .a("stroke", "#e9ecef")
            .a("stroke-dasharray", "2 3")
            .end();
    }
    svg.close();
    // Compressed gaps: a shaded band, labelled in the time column and between lanes.
    let (first, last) = (p.cols.x[0], p.cols.x[p.cols.x.len() - 1]);
    let mid = if p.cols.x.len() > 1 {
        (first + last) / 2.0
    } else {
        first + 120.0
    };
    for g in &p.rows.gaps {
        svg.tag("g").a("class", "break").open();
        svg.tag("rect")
            .a("x", TIME_W - 4.0)
            .a("y", g.top)
            .a("width", p.cols.width - TIME_W - 8.0)
            .a("height", g.bottom - g.top)
            .a("fill", "#f1f3f5")
            .end();
        let m = (g.top + g.bottom) / 2.0 + 4.0;
        let d = short_duration(g.ns);
        text(svg, "gap", TIME_W - 8.0, m, "end", &format!("… {d} …"));
        text(svg, "gap", mid, m, "middle", &format!("{d} without events"));
        svg.close();
    }
}

/// The time lines, broken at compressed gaps by a zig-zag.
fn lanes(svg: &mut Svg, p: &Page<'_>) {
    let n = crate::svg::num;
    svg.tag("g").a("class", "lanes").open();
    for &x in &p.cols.x {
        let mut from = TOP - 12.0;
        for g in &p.rows.gaps {
            lane(svg, x, from, g.top);
            let h = g.bottom - g.top;
            svg.tag("path")
                .a(
                    "d",
                    format!(
                        "M{} {}L{} {}L{} {}L{} {}L{} {}",
                        n(x),
                        n(g.top),
                        n(x + 7.0),
                        n(g.top + h * 0.3),
                        n(x - 7.0),
                        n(g.top + h * 0.55),
                        n(x + 4.0),
                        n(g.top + h * 0.8),
                        n(x),
                        n(g.bottom)
                    ),
                )
                .a("stroke", "#868e96")
                .a("stroke-width", 1.5)
                .a("fill", "none")
                .end();
            from = g.bottom;
        }
        lane(svg, x, from, p.bottom);
    }
    svg.close();
}

/// Segments: lines, heads and crosses.
fn segments(svg: &mut Svg, p: &Page<'_>) {
    svg.tag("g").a("class", "segments").open();
    for f in &p.flights {
        let y1 = p.rows.y[f.send_row];
        let x1 = p.cols.x[f.from];
        let dir = p.dir(f.from, f.to);
        let color = p.color(f);
        let mut class = String::from("arrow");
        if f.rtx {
            class.push_str(" rtx");
        }
        if f.dup {
            class.push_str(" dup");
        }
        let (x2, y2) = match f.end {
            Some((row, Fate::Delivered)) => (p.x_to(f), p.rows.y[row]),
            Some((row, Fate::Entrance(_))) => {
                class.push_str(" dropped");
                (x1 + dir * STUB, p.rows.y[row])
            }
            Some((row, Fate::Arrival(_))) => {
                class.push_str(" dropped");
                (p.x_to(f) - dir * 8.0, p.rows.y[row])
            }
            None => {
                class.push_str(" inflight");
                (p.x_to(f), p.bottom)
            }
        };
        svg.tag("g").a("class", "segment").open();
        svg.title(&f.tip);
        let line = svg
            .tag("line")
            .a("class", class)
            .a("x1", x1)
            .a("y1", y1)
            .a("x2", x2)
            .a("y2", y2)
            .a("stroke", color)
            .a("stroke-width", 1.3);
        let line = if f.rtx || f.dup || f.end.is_none() {
            line.a("stroke-dasharray", "6 3")
        } else {
            line
        };
        line.end();
        match f.end {
            Some((_, Fate::Delivered)) => arrow_head(svg, "head", (x1, y1), (x2, y2), color),
            Some((_, Fate::Entrance(why) | Fate::Arrival(why))) => cross(svg, x2, y2, why),
            None => {}
        }
        svg.close();
    }
    svg.close();
}

/// Labels: the times, each segment's at its sender, each drop's reason at
/// its cross, each mark beside its host. Rows are spaced so none overlap.
fn labels(svg: &mut Svg, p: &Page<'_>) {
    svg.tag("g").a("class", "labels").open();
    let fmt_t = time_formatter(p.trace);
    for row in timed_rows(p) {
        let y = p.rows.y[row] + MARK_BASE;
        text(svg, "time", TIME_W - 8.0, y, "end", &fmt_t(p.trace[row].at));
    }
    for f in &p.flights {
        let y = p.rows.y[f.send_row];
        let x = p.cols.x[f.from];
        let dir = p.dir(f.from, f.to);
        let anchor = if dir > 0.0 { "start" } else { "end" };
        let mut class = String::from("seg-label");
        let mut text = f.label.clone();
        if f.rtx {
            text.push_str(" rtx");
        }
        if f.dup {
            text.push_str(" dup");
        }
        if f.dup {
            class.push_str(" dup");
        } else if matches!(f.end, Some((_, Fate::Entrance(_) | Fate::Arrival(_)))) {
            class.push_str(" dropped");
        } else if f.rtx {
            class.push_str(" rtx");
        } else if dir < 0.0 {
            class.push_str(" left");
        }
        // A duplicate's label would repeat its original's on the same row.
        if !f.dup {
            label(
                svg,
                &class,
                x + dir * SEG_INSET,
                y + SEG_BASE,
                anchor,
                &text,
            );
        }
        let reason = |why: DropReason| format!("dropped: {}", why.name());
        match f.end {
            Some((row, Fate::Entrance(why))) => label(
                svg,
                "drop-reason",
                x + dir * (STUB + 10.0),
                p.rows.y[row] + MARK_BASE,
                anchor,
                &reason(why),
            ),
            Some((row, Fate::Arrival(why))) => label(
                svg,
                "drop-reason",
                p.x_to(f) - dir * 20.0,
                p.rows.y[row] + MARK_BASE,
                if dir > 0.0 { "end" } else { "start" },
                &reason(why),
            ),
            _ => {}
        }
    }
    for (row, m) in p.marks.iter().enumerate() {
        let Some(m) = m else { continue };
        let Some(&x) = p.cols.x.get(m.host) else {
            continue;
        };
        let y = p.rows.y[row];
        mark_symbol(svg, m.class, x, y);
        let dir = p.cols.mark_dir(m.host);
        let anchor = if dir < 0.0 { "end" } else { "start" };
        label(
            svg,
            m.class,
            x + dir * SEG_INSET,
            y + MARK_BASE,
            anchor,
            &m.text,
        );
    }
    svg.close();
}

/// The symbol on a host's line: a dot for a state change, a square for an
/// application call, a ring for a timer.
fn mark_symbol(svg: &mut Svg, class: &str, x: f64, y: f64) {
    match class {
        "state" => svg
            .tag("circle")
            .a("cx", x)
            .a("cy", y)
            .a("r", 3.0)
            .a("fill", STATE)
            .end(),
        "app" => svg
            .tag("rect")
            .a("x", x - 3.0)
            .a("y", y - 3.0)
            .a("width", 6.0)
            .a("height", 6.0)
            .a("fill", APP)
            .end(),
        _ => svg
            .tag("circle")
            .a("cx", x)
            .a("cy", y)
            .a("r", 3.0)
            .a("fill", "#ffffff")
            .a("stroke", TIMER)
            .a("stroke-width", 1.3)
            .end(),
    }
}

fn lane(svg: &mut Svg, x: f64, y1: f64, y2: f64) {
    if y2 <= y1 {
        return;
    }
    svg.tag("line")
        .a("class", "lane")
        .a("x1", x)
        .a("y1", y1)
        .a("x2", x)
        .a("y2", y2)
        .a("stroke", "#868e96")
        .a("stroke-width", 2.0)
        .end();
}

fn legend(svg: &mut Svg, x: f64, y: f64) {
    svg.tag("g").a("class", "legend").open();
    let mut at = x;
    for (label, color, dashed) in [
        ("segment ->", RIGHT, false),
        ("segment <-", LEFT, false),
        ("retransmission (rtx)", RTX, true),
        ("duplicate copy", DUP, true),
    ] {
        let l = svg
            .tag("line")
            .a("x1", at)
            .a("y1", y)
            .a("x2", at + 28.0)
            .a("y2", y)
            .a("stroke", color)
            .a("stroke-width", 1.3);
        let l = if dashed {
            l.a("stroke-dasharray", "6 3")
        } else {
            l
        };
        l.end();
        arrow_head(svg, "", (at, y), (at + 28.0, y), color);
        text(svg, "sub", at + 34.0, y + 4.0, "start", label);
        at += 34.0 + mono_width(label, FONT) + 18.0;
    }
    svg.tag("line")
        .a("x1", at)
        .a("y1", y)
        .a("x2", at + 22.0)
        .a("y2", y)
        .a("stroke", DROP)
        .a("stroke-width", 1.3)
        .end();
    let n = crate::svg::num;
    svg.tag("path")
        .a(
            "d",
            format!(
                "M{} {}L{} {}M{} {}L{} {}",
                n(at + 22.0),
                n(y - 4.5),
                n(at + 31.0),
                n(y + 4.5),
                n(at + 22.0),
                n(y + 4.5),
                n(at + 31.0),
                n(y - 4.5)
            ),
        )
        .a("stroke", DROP)
        .a("stroke-width", 2.2)
        .a("fill", "none")
        .end();
    text(svg, "sub", at + 38.0, y + 4.0, "start", "dropped (reason)");
    let y2 = y + 22.0;
    let mut at2 = x;
    for (label, class) in [
        ("state change", "state"),
        ("application call", "app"),
        ("timer expiry", "timer"),
    ] {
        mark_symbol(svg, class, at2 + 4.0, y2);
        text(svg, class, at2 + 14.0, y2 + 4.0, "start", label);
        at2 += 14.0 + mono_width(label, FONT) + 24.0;
    }
    svg.close();
}
