//! CDF plots of a sweep, as a self-contained SVG
//! (`tcpsim sweep FILE --plot OUT.svg`).
//!
//! Two panels side by side: the empirical CDF of the connection
//! establishment time (connect → client ESTABLISHED, `established_ns`) and
//! of the teardown time (connect → both ends closed after a clean close,
//! `closed_ns`), in milliseconds, one step curve per grid point. The y axis
//! is the fraction of *all* connections of the point, so a curve that stops
//! below 1 shows the connections that never got there (the legend counts
//! them). The x axis is logarithmic when the times in a panel span a factor
//! of [`LOG_SPAN`] or more (a lost SYN costs a whole RTO, seconds against
//! tens of milliseconds), linear otherwise; the axis label says which.
//!
//! Classes for tools and tests: each panel is a `<g class="panel"
//! data-panel="established|closed">`, each curve a `<path class="curve"
//! data-point="N">`.

use crate::svg::{Svg, mono_width, num};
use crate::sweep::{PointTally, RunRecord, tally_records};

/// The spread (max / min) from which a panel's x axis is logarithmic.
pub const LOG_SPAN: f64 = 20.0;

const PLOT_W: f64 = 440.0;
const PLOT_H: f64 = 300.0;
const MARGIN_L: f64 = 64.0;
const PANEL_W: f64 = MARGIN_L + PLOT_W + 40.0;
const TOP: f64 = 92.0;
const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];
const DASHES: [&str; 3] = ["", "6 3", "2 2"];

const CSS: &str = "\
text { font-family: sans-serif; font-size: 12px; fill: #212529; }
.title { font-size: 16px; font-weight: bold; }
.panel-title { font-size: 14px; font-weight: bold; }
.sub { font-size: 11px; fill: #495057; }
.tick { font-size: 11px; fill: #495057; }
.legend { font-family: monospace; font-size: 11px; }
";

/// One grid point's samples.
struct Point {
    label: String,
    conns: usize,
    runs: usize,
    established: Vec<f64>,
    closed: Vec<f64>,
}

/// The points to draw, one per grid point: its values (as a label) and
/// its tally.
fn points(tallies: &[PointTally<'_>]) -> Vec<Point> {
    tallies
        .iter()
        .map(|(params, tally)| {
            let label = params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let label = if label.is_empty() {
                "all runs".to_string()
            } else {
                label
            };
            let ms = |ns: &u64| *ns as f64 / 1e6;
            let mut established: Vec<f64> = tally.established_ns().iter().map(ms).collect();
            let mut closed: Vec<f64> = tally.closed_ns().iter().map(ms).collect();
            established.sort_by(f64::total_cmp);
            closed.sort_by(f64::total_cmp);
            Point {
                label,
                conns: tally.connections() as usize,
                runs: tally.runs() as usize,
                established,
                closed,
            }
        })
        .collect()
}

/// An x axis: linear or log, over `[lo, hi]` milliseconds.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String, bool)>,
}

/// A tick label in milliseconds: as many decimals as the step needs,
/// thousands grouped with a space (`10 000`).
fn fmt_ms(v: f64, step: f64) -> String {
    if step >= 1.0 || v == 0.0 {
        let digits = format!("{v:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else if step >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The 1-2-5 value at or below `v` (`down`) or at or above it.
fn nice(v: f64, down: bool) -> f64 {
    let mag = libm::pow(10.0, libm::floor(libm::log10(v)));
    let steps = [1.0, 2.0, 5.0, 10.0].map(|m| m * mag);
    if down {
        steps
            .iter()
            .rev()
            .copied()
            .find(|s| *s <= v * (1.0 + 1e-9))
            .unwrap_or(mag)
    } else {
        steps
            .iter()
            .copied()
            .find(|s| *s >= v * (1.0 - 1e-9))
            .unwrap_or(10.0 * mag)
    }
}

fn axis(values: &[&[f64]]) -> Axis {
    let all = values.iter().flat_map(|v| v.iter().copied());
    let lo = all.clone().fold(f64::INFINITY, f64::min);
    let hi = all.clone().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        // Nothing reached: an empty linear axis.
        return linear(0.0, 1.0);
    }
    // Times of zero (a link without delay) sit at the left edge of a log axis.
    let lo_pos = all.filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    if lo_pos.is_finite() && hi / lo_pos >= LOG_SPAN {
        return log(lo_pos, hi);
    }
    linear(lo, hi)
}

/// A log axis from the 1-2-5 value below `lo` to the one above `hi`, with a
/// tick at each 1-2-5 value; labels at the decades, and at every tick when
/// the axis spans three decades or less.
fn log(lo: f64, hi: f64) -> Axis {
    let (a, b) = (nice(lo, true), nice(hi, false));
    let decades = libm::log10(b) - libm::log10(a);
    let mut ticks = Vec::new();
    let mut e = libm::floor(libm::log10(a));
    while libm::pow(10.0, e) <= b * (1.0 + 1e-9) {
        let base = libm::pow(10.0, e);
        for m in [1.0, 2.0, 5.0] {
            let v = base * m;
            if v >= a * (1.0 - 1e-9) && v <= b * (1.0 + 1e-9) {
                let major = m == 1.0;
                let label = if major || decades <= 3.0 {
                    fmt_ms(v, base)
                } else {
                    String::new()
                };
                ticks.push((v, label, major));
            }
        }
        e += 1.0;
    }
    Axis {
        log: true,
        lo: a,
        hi: b,
        ticks,
    }
}

fn linear(lo: f64, hi: f64) -> Axis {
    let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
    let raw = span / 5.0;
    let mag = libm::pow(10.0, libm::floor(libm::log10(raw)));
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    // A step at either end of the axis would hide in the frame: keep one
    // tick of room on each side, and start at zero when it is that close.
    let mut a = libm::floor(lo / step) * step;
    let mut b = libm::ceil(hi / step) * step;
    if a >= lo && a > 0.0 {
        a -= step;
    }
    if a < 3.0 * step {
        a = 0.0;
    }
    if b <= hi {
        b += step;
    }
    let mut ticks = Vec::new();
    let mut i = 0.0;
    while a + i * step <= b + step * 1e-9 {
        let v = a + i * step;
        ticks.push((v, fmt_ms(v, step), true));
        i += 1.0;
    }
    Axis {
        log: false,
        lo: a,
        hi: b,
        ticks,
    }
}

impl Axis {
    fn x(&self, v: f64) -> f64 {
        let f = if self.log {
            (libm::log10(v.max(self.lo)) - libm::log10(self.lo))
                / (libm::log10(self.hi) - libm::log10(self.lo))
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0) * PLOT_W
    }
}

/// The CDF as a step path, in plot coordinates (origin at the plot's
/// bottom-left corner, y up is negative).
fn cdf_path(values: &[f64], n: usize, ax: &Axis, ox: f64, oy: f64) -> String {
    let mut d = format!("M{} {}", num(ox), num(oy));
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let mut j = i;
        while j < values.len() && values[j] == v {
            j += 1;
        }
        let x = ox + ax.x(v);
        let y = oy - j as f64 / n.max(1) as f64 * PLOT_H;
        d.push_str(&format!("H{}V{}", num(x), num(y)));
        i = j;
    }
    d.push_str(&format!("H{}", num(ox + PLOT_W)));
    d
}

struct PanelSpec<'a> {
    id: &'static str,
    title: &'a str,
    what: &'a str,
}

fn panel(svg: &mut Svg, ox: f64, spec: &PanelSpec<'_>, pts: &[Point], pick: fn(&Point) -> &[f64]) {
    let values: Vec<&[f64]> = pts.iter().map(pick).collect();
    let ax = axis(&values);
    let (x0, y0) = (ox + MARGIN_L, TOP + PLOT_H);
    svg.tag("g")
        .a("class", "panel")
        .a("data-panel", spec.id)
        .open();
    svg.tag("text")
        .a("class", "panel-title")
        .a("x", x0)
        .a("y", TOP - 14.0)
        .text(spec.title);
    svg.tag("rect")
        .a("x", x0)
        .a("y", TOP)
        .a("width", PLOT_W)
        .a("height", PLOT_H)
        .a("fill", "#ffffff")
        .a("stroke", "#adb5bd")
        .end();
    // Grid and ticks.
    for q in 0..=4 {
        let f = f64::from(q) / 4.0;
        let y = y0 - f * PLOT_H;
        svg.tag("line")
            .a("x1", x0)
            .a("y1", y)
            .a("x2", x0 + PLOT_W)
            .a("y2", y)
            .a("stroke", "#e9ecef")
            .end();
        svg.tag("text")
            .a("class", "tick")
            .a("x", x0 - 6.0)
            .a("y", y + 4.0)
            .a("text-anchor", "end")
            .text(&format!("{f:.2}"));
    }
    for (v, label, major) in &ax.ticks {
        let x = x0 + ax.x(*v);
        svg.tag("line")
            .a("x1", x)
            .a("y1", TOP)
            .a("x2", x)
            .a("y2", y0)
            .a("stroke", if *major { "#dee2e6" } else { "#f1f3f5" })
            .end();
        svg.tag("line")
            .a("x1", x)
            .a("y1", y0)
            .a("x2", x)
            .a("y2", y0 + if *major { 5.0 } else { 3.0 })
            .a("stroke", "#495057")
            .end();
        svg.tag("text")
            .a("class", "tick")
            .a("x", x)
            .a("y", y0 + 17.0)
            .a("text-anchor", "middle")
            .text(label);
    }
    svg.tag("text")
        .a("x", x0 + PLOT_W / 2.0)
        .a("y", y0 + 36.0)
        .a("text-anchor", "middle")
        .text(&format!(
            "{} (ms, {} scale)",
            spec.what,
            if ax.log { "log" } else { "linear" }
        ));
    svg.tag("text")
        .a("x", ox + 16.0)
        .a("y", TOP + PLOT_H / 2.0)
        .a("text-anchor", "middle")
        .a(
            "transform",
            format!("rotate(-90 {} {})", num(ox + 16.0), num(TOP + PLOT_H / 2.0)),
        )
        .text("fraction of connections");
    for (i, p) in pts.iter().enumerate() {
        let t = svg
            .tag("path")
            .a("class", "curve")
            .a("data-point", i)
            .a("d", cdf_path(pick(p), p.conns, &ax, x0, y0))
            .a("fill", "none")
            .a("stroke", PALETTE[i % PALETTE.len()])
            .a("stroke-width", 1.8);
        let dash = DASHES[(i / PALETTE.len()) % DASHES.len()];
        let t = if dash.is_empty() {
            t
        } else {
            t.a("stroke-dasharray", dash)
        };
        t.end();
    }
    svg.close();
}

/// The plot of a sweep's runs as an SVG document.
pub fn render(name: &str, records: &[RunRecord]) -> String {
    render_tallies(name, &tally_records(records))
}

/// The plot of a sweep from its runs tallied by grid point (in point
/// order, each with its values; [`crate::sweep::Plan::tally_all`]), as an
/// SVG document.
pub fn render_tallies(name: &str, tallies: &[PointTally<'_>]) -> String {
    let pts = points(tallies);
    let legend_top = TOP + PLOT_H + 64.0;
    let height = legend_top + 18.0 * pts.len() as f64 + 24.0;
    let width = 2.0 * PANEL_W + 24.0;
    let mut svg = Svg::new(width, height);
    svg.style(CSS);
    svg.tag("rect")
        .a("width", "100%")
        .a("height", "100%")
        .a("fill", "#ffffff")
        .end();
    let runs: usize = pts.iter().map(|p| p.runs).sum();
    svg.tag("text")
        .a("class", "title")
        .a("x", 16.0)
        .a("y", 26.0)
        .text(&format!(
            "{name}: CDF over {runs} runs, {} grid point{}",
            pts.len(),
            if pts.len() == 1 { "" } else { "s" }
        ));
    svg.tag("text")
        .a("class", "sub")
        .a("x", 16.0)
        .a("y", 46.0)
        .text(
            "y: fraction of all connections of the grid point; a curve that ends below 1 is the share that never got there (counted in the legend).",
        );
    panel(
        &mut svg,
        12.0,
        &PanelSpec {
            id: "established",
            title: "Connection establishment",
            what: "connect() to client ESTABLISHED",
        },
        &pts,
        |p| &p.established,
    );
    panel(
        &mut svg,
        12.0 + PANEL_W,
        &PanelSpec {
            id: "closed",
            title: "Teardown",
            what: "connect() to both ends closed",
        },
        &pts,
        |p| &p.closed,
    );
    // Legend: one line per grid point.
    svg.tag("g").a("class", "legend").open();
    let width_label = pts
        .iter()
        .map(|p| mono_width(&p.label, 11.0))
        .fold(0.0_f64, f64::max);
    for (i, p) in pts.iter().enumerate() {
        let y = legend_top + 18.0 * i as f64;
        let x = 12.0 + MARGIN_L;
        let l = svg
            .tag("line")
            .a("x1", x)
            .a("y1", y - 4.0)
            .a("x2", x + 28.0)
            .a("y2", y - 4.0)
            .a("stroke", PALETTE[i % PALETTE.len()])
            .a("stroke-width", 2.5);
        let dash = DASHES[(i / PALETTE.len()) % DASHES.len()];
        let l = if dash.is_empty() {
            l
        } else {
            l.a("stroke-dasharray", dash)
        };
        l.end();
        svg.tag("text")
            .a("class", "legend")
            .a("x", x + 36.0)
            .a("y", y)
            .text(&p.label);
        svg.tag("text")
            .a("class", "legend")
            .a("x", x + 36.0 + width_label + 16.0)
            .a("y", y)
            .text(&format!(
                "{} runs, {} connections; never established: {}; never closed cleanly: {}",
                p.runs,
                p.conns,
                p.conns - p.established.len(),
                p.conns - p.closed.len()
            ));
    }
    svg.close();
    svg.finish()
}
