//! The text of a [`Comparison`]: each direction as a table, the simulation
//! on the left and the kernel on the right, row by row; the first divergent
//! row marked `>>` in the margin and said in words under the table. Lines
//! stay within 120 columns (options wrap inside their side's column).

use super::{Comparison, Direction, Divergence, Row, Side, ms};

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

/// One direction's table and, under it, its first divergence.
fn direction(out: &mut String, d: &Direction, sim_label: &str, kernel_label: &str) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    out.push_str(&format!(
        "{}: {sim_label} {} segment{}, {kernel_label} {}\n",
        d.name,
        d.sim.len(),
        plural(d.sim.len()),
        d.kernel.len()
    ));
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
    if let Some(s) = d.describe(sim_label, kernel_label) {
        wrapped(out, MARK, &s);
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
