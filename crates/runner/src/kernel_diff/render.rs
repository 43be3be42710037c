//! The text of a [`Comparison`]: each direction as a table, the simulation
//! on the left and the kernel on the right, row by row; the first divergent
//! row marked `>>` in the margin and said in words under the table. Lines
//! stay within 120 columns (options wrap inside their side's column). A
//! direction compared by aggregates shows its control segments as that
//! table, then its aggregates side by side, the first that fails marked.

use super::{
    Aggregate, Aggregates, Comparison, Direction, Divergence, Row, Side, aggregate_allowed,
    aggregate_value, ms, round_slack, slack_ns,
};

/// The width the text keeps to.
const WIDTH: usize = 120;
/// The margin mark of a direction's first divergent row.
const MARK: &str = ">> ";
/// The margin of every other row.
const NO_MARK: &str = "   ";
/// Between the two sides.
const SEPARATOR: &str = " | ";
/// In the marked row, on the side that has no segment there.
const NO_SEGMENT: &str = "(no segment)";
/// Before an options line, inside a side's column.
const OPTIONS_INDENT: &str = "  ";

impl Comparison {
    /// The comparison as text: per direction a side-by-side table (the
    /// simulation, called `sim_label`, on the left; the kernel, called
    /// `kernel_label`, on the right), then the packets that do not decode,
    /// then the verdict.
    pub fn render_text(&self, sim_label: &str, kernel_label: &str) -> String {
        let mut out = String::new();
        for d in &self.directions {
            direction(&mut out, d, sim_label, kernel_label);
            out.push('\n');
        }
        if !self.undecodable.is_empty() {
            out.push_str("packets that do not decode:\n");
            for u in &self.undecodable {
                let label = match u.side {
                    Side::Sim => sim_label,
                    Side::Kernel => kernel_label,
                };
                let line = format!(
                    "{label} packet {} at {} ms: {}",
                    u.packet,
                    ms(u.at_ns),
                    u.error
                );
                wrapped(&mut out, NO_MARK, &line);
            }
            out.push('\n');
        }
        match self.describe(sim_label, kernel_label) {
            None => out.push_str(
                "verdict: match (per direction: flags but PSH, seq and ack relative to the \
                 ISNs, length, options but timestamps; times within 5 % or 10 ms)\n",
            ),
            Some(s) => wrapped(&mut out, "", &format!("verdict: divergence: {s}")),
        }
        if self.directions.iter().any(|d| d.aggregates.is_some()) && self.matches {
            out.push_str(
                "(bulk connections by aggregates: control segments as above, payload octets, data \
                 segments per round, time until all is acknowledged, retransmissions, final cwnd)\n",
            );
        }
        out
    }
}

/// The widths of a table's columns.
struct Widths {
    time: usize,
    flags: usize,
    seq: usize,
    ack: usize,
    len: usize,
    win: usize,
}

/// The column headings.
const HEADINGS: [&str; 6] = ["t (ms)", "flags", "seq", "ack", "len", "win"];

impl Widths {
    /// Wide enough for the headings and every row.
    fn of<'a>(rows: impl Iterator<Item = &'a Row>) -> Widths {
        let mut w = Widths {
            time: HEADINGS[0].len(),
            flags: HEADINGS[1].len(),
            seq: HEADINGS[2].len(),
            ack: HEADINGS[3].len(),
            len: HEADINGS[4].len(),
            win: HEADINGS[5].len(),
        };
        for r in rows {
            let [t, f, s, a, l, n] = cells(r);
            w.time = w.time.max(t.len());
            w.flags = w.flags.max(f.len());
            w.seq = w.seq.max(s.len());
            w.ack = w.ack.max(a.len());
            w.len = w.len.max(l.len());
            w.win = w.win.max(n.len());
        }
        w
    }

    /// One line of six cells.
    fn line(&self, [t, f, s, a, l, n]: [&str; 6]) -> String {
        format!(
            "{t:>tw$} {f:<fw$} {s:>sw$} {a:>aw$} {l:>lw$} {n:>nw$}",
            tw = self.time,
            fw = self.flags,
            sw = self.seq,
            aw = self.ack,
            lw = self.len,
            nw = self.win
        )
    }
}

/// A row's cells: time, flags, seq, ack (`-` without ACK), length, window.
fn cells(r: &Row) -> [String; 6] {
    [
        ms(r.at_ns),
        r.flags.clone(),
        r.seq.to_string(),
        r.ack.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        r.len.to_string(),
        r.window.to_string(),
    ]
}

/// A side's lines for one row: the cells, then its options wrapped to
/// `width`; nothing where the side has no such row.
fn side_lines(w: &Widths, r: Option<&Row>, width: usize) -> Vec<String> {
    let Some(r) = r else {
        return Vec::new();
    };
    let c = cells(r);
    let mut lines = vec![w.line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]])];
    let room = width.saturating_sub(OPTIONS_INDENT.len());
    lines.extend(
        wrap_options(&r.options, room)
            .into_iter()
            .map(|l| format!("{OPTIONS_INDENT}{l}")),
    );
    lines
}

/// One direction's table and, under it, its first divergence; for a
/// direction compared by aggregates, the table of its control segments and
/// its aggregates.
fn direction(out: &mut String, d: &Direction, sim_label: &str, kernel_label: &str) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    out.push_str(&format!(
        "{}: {sim_label} {} segment{}, {kernel_label} {}\n",
        d.name,
        d.sim.len(),
        plural(d.sim.len()),
        d.kernel.len()
    ));
    let Some(a) = &d.aggregates else {
        return table(out, d, sim_label, kernel_label);
    };
    out.push_str(&format!(
        "compared by aggregates (bulk); control segments: {sim_label} {}, {kernel_label} {}\n",
        a.sim_control.len(),
        a.kernel_control.len()
    ));
    let pick = |rows: &[Row], idx: &[usize]| -> Vec<Row> {
        idx.iter().filter_map(|&i| rows.get(i).cloned()).collect()
    };
    let control = Direction {
        sim: pick(&d.sim, &a.sim_control),
        kernel: pick(&d.kernel, &a.kernel_control),
        aggregates: None,
        divergence: match &d.divergence {
            Some(Divergence::Aggregate { .. }) => None,
            other => other.clone(),
        },
        ..d.clone()
    };
    table_rows(out, &control, sim_label, kernel_label);
    aggregates(out, d, a, sim_label, kernel_label);
    if let Some(s) = d.describe(sim_label, kernel_label) {
        wrapped(out, MARK, &s);
    }
}

/// The aggregates side by side: one line each (one per round), the first
/// divergent one marked.
fn aggregates(
    out: &mut String,
    d: &Direction,
    a: &Aggregates,
    sim_label: &str,
    kernel_label: &str,
) {
    let failed = match &d.divergence {
        Some(Divergence::Aggregate {
            aggregate, round, ..
        }) => Some((*aggregate, *round)),
        Some(Divergence::Segment { .. } | Divergence::Count { .. }) => {
            Some((Aggregate::Control, None))
        }
        _ => None,
    };
    let (s, k) = (&a.sim, &a.kernel);
    let mut lines: Vec<(Aggregate, Option<usize>, String, String, String, String)> = Vec::new();
    let n = |v: u64| Some(v);
    let line =
        |agg: Aggregate, round: Option<usize>, x: Option<u64>, y: Option<u64>, allowed: String| {
            let what = match (agg, round) {
                (Aggregate::Rounds, Some(r)) => {
                    let from = a.round_ns.map_or_else(String::new, |rtt| {
                        let start = (r as u64 * rtt).saturating_sub(rtt / 2);
                        format!(" (from +{} ms)", ms(start))
                    });
                    format!("data segments, round {r}{from}")
                }
                _ => agg.label().to_owned(),
            };
            (
                agg,
                round,
                what,
                aggregate_value(agg, x),
                aggregate_value(agg, y),
                allowed,
            )
        };
    lines.push(line(
        Aggregate::Octets,
        None,
        n(s.octets),
        n(k.octets),
        aggregate_allowed(Aggregate::Octets, 0),
    ));
    for r in 0..s.rounds.len().max(k.rounds.len()) {
        let (x, y) = (
            s.rounds.get(r).copied().unwrap_or(0),
            k.rounds.get(r).copied().unwrap_or(0),
        );
        lines.push(line(
            Aggregate::Rounds,
            Some(r),
            n(u64::from(x)),
            n(u64::from(y)),
            aggregate_allowed(Aggregate::Rounds, u64::from(round_slack(y))),
        ));
    }
    let acked_slack = k.all_acked_ns.map_or(0, slack_ns);
    lines.push(line(
        Aggregate::AllAcked,
        None,
        s.all_acked_ns,
        k.all_acked_ns,
        aggregate_allowed(Aggregate::AllAcked, acked_slack),
    ));
    lines.push(line(
        Aggregate::Retransmitted,
        None,
        n(u64::from(s.retransmitted)),
        n(u64::from(k.retransmitted)),
        aggregate_allowed(Aggregate::Retransmitted, 0),
    ));
    let cwnd_slack = k.final_cwnd.map_or(0, super::cwnd_slack);
    let cwnd_allowed = match (s.final_cwnd, k.final_cwnd) {
        (Some(_), Some(_)) => aggregate_allowed(Aggregate::FinalCwnd, cwnd_slack),
        _ => "not compared".to_owned(),
    };
    lines.push(line(
        Aggregate::FinalCwnd,
        None,
        s.final_cwnd,
        k.final_cwnd,
        cwnd_allowed,
    ));
    let headings = (
        "aggregate".to_owned(),
        sim_label.to_owned(),
        kernel_label.to_owned(),
        "allowed".to_owned(),
    );
    // Each column as wide as its widest cell, the heading's included.
    let width = |heading: &str, cell: fn(&(_, _, String, String, String, String)) -> usize| {
        lines
            .iter()
            .map(cell)
            .chain([heading.len()])
            .max()
            .unwrap_or(0)
    };
    let w0 = width(&headings.0, |l| l.2.len());
    let w1 = width(&headings.1, |l| l.3.len());
    let w2 = width(&headings.2, |l| l.4.len());
    let text = |margin: &str, a: &str, b: &str, c: &str, e: &str| {
        format!("{margin}{a:<w0$}  {b:>w1$}  {c:>w2$}  {e}")
            .trim_end()
            .to_owned()
            + "\n"
    };
    out.push_str(&text(
        NO_MARK,
        &headings.0,
        &headings.1,
        &headings.2,
        &headings.3,
    ));
    let mut marked = false;
    for (agg, round, what, x, y, allowed) in &lines {
        let mark = !marked
            && failed.is_some_and(|(f, fr)| f == *agg && (f != Aggregate::Rounds || fr == *round));
        marked |= mark;
        let margin = if mark { MARK } else { NO_MARK };
        out.push_str(&text(margin, what, x, y, allowed));
    }
}

/// A direction's side-by-side table of every segment.
fn table(out: &mut String, d: &Direction, sim_label: &str, kernel_label: &str) {
    table_rows(out, d, sim_label, kernel_label);
    if let Some(s) = d.describe(sim_label, kernel_label) {
        wrapped(out, MARK, &s);
    }
}

/// The side-by-side table of `d`'s rows, its divergent row marked.
fn table_rows(out: &mut String, d: &Direction, sim_label: &str, kernel_label: &str) {
    let rows = d.sim.len().max(d.kernel.len());
    let index_width = rows.saturating_sub(1).to_string().len();
    let cell = (WIDTH - MARK.len() - index_width - 1 - SEPARATOR.len()) / 2;
    let widths = Widths::of(d.sim.iter().chain(&d.kernel));
    let marked = match &d.divergence {
        Some(Divergence::Segment { index, .. } | Divergence::Count { index, .. }) => Some(*index),
        _ => None,
    };
    let line = |out: &mut String, margin: &str, index: &str, left: &str, right: &str| {
        let text = format!("{margin}{index:>index_width$} {left:<cell$}{SEPARATOR}{right}");
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(out, NO_MARK, "#", sim_label, kernel_label);
    let heading = widths.line(HEADINGS);
    line(out, NO_MARK, "", &heading, &heading);
    for i in 0..rows {
        let mut left = side_lines(&widths, d.sim.get(i), cell);
        let mut right = side_lines(&widths, d.kernel.get(i), cell);
        if marked == Some(i) {
            for side in [&mut left, &mut right] {
                if side.is_empty() {
                    side.push(NO_SEGMENT.to_owned());
                }
            }
        }
        for k in 0..left.len().max(right.len()) {
            let (margin, index) = match k {
                0 if marked == Some(i) => (MARK, i.to_string()),
                0 => (NO_MARK, i.to_string()),
                _ => (NO_MARK, String::new()),
            };
            let l = left.get(k).map_or("", String::as_str);
            let r = right.get(k).map_or("", String::as_str);
            line(out, margin, &index, l, r);
        }
    }
}

/// tcpdump's option notation cut into lines of at most `width` columns
/// where it can be: after a comma, or before a SACK block's `{`.
fn wrap_options(s: &str, width: usize) -> Vec<String> {
    let mut atoms = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '{' && i > start {
            atoms.push(&s[start..i]);
            start = i;
        }
        if c == ',' {
            atoms.push(&s[start..=i]);
            start = i + 1;
        }
    }
    if start < s.len() {
        atoms.push(&s[start..]);
    }
    let mut lines = Vec::new();
    let mut current = String::new();
    for atom in atoms {
        if !current.is_empty() && current.len() + atom.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        current.push_str(atom);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// `text` after `first`, cut at spaces into lines of at most [`WIDTH`]
/// columns, later lines indented by three.
fn wrapped(out: &mut String, first: &str, text: &str) {
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = NO_MARK.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}
