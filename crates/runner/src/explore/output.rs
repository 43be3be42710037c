//! What `tcpsim explore` prints: the text summary, SPEC §8's JSON, and the
//! `[[faults]]` rules that replay a case.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use tcpsim_tcp::SegmentKind;

use super::{Direction, Dropped, Exploration, Minimal, Options};
use crate::experiment::Experiment;
use crate::report::SCHEMA;

/// A host name as a TOML string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `segment` value of the rules explore drops with: `"ANY"`, one kind,
/// or a list.
fn segment_value(kinds: &[SegmentKind]) -> String {
    match kinds {
        [] => "\"ANY\"".to_string(),
        [one] => toml_str(one.name()),
        many => {
            let names: Vec<String> = many.iter().map(|k| toml_str(k.name())).collect();
            format!("[{}]", names.join(", "))
        }
    }
}

/// The `[[faults]]` rules that replay the case `drops` when appended to the
/// experiment file: one per direction with drops, in direction order,
/// each dropping the listed matches of the chosen kinds.
pub fn replay_faults(
    exp: &Experiment,
    directions: &[Direction],
    segments: &[SegmentKind],
    drops: &[Dropped],
) -> String {
    let mut by_dir: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for d in drops {
        by_dir.entry(d.dir).or_default().push(d.n);
    }
    let mut out = String::new();
    for (dir, mut nth) in by_dir {
        nth.sort_unstable();
        let d = directions[dir as usize];
        let nth: Vec<String> = nth.iter().map(u32::to_string).collect();
        let _ = write!(
            out,
            "[[faults]]\naction = \"drop\"\nfrom = {}\nto = {}\nsegment = {}\nnth = [{}]\n",
            toml_str(exp.host_name(d.from)),
            toml_str(exp.host_name(d.to)),
            segment_value(segments),
            nth.join(", ")
        );
    }
    out
}

/// `1 drop`, `2 drops`.
fn drops(k: usize) -> String {
    format!("{k} drop{}", if k == 1 { "" } else { "s" })
}

fn direction_name(exp: &Experiment, d: Direction) -> String {
    format!("{}>{}", exp.host_name(d.from), exp.host_name(d.to))
}

fn drop_text(exp: &Experiment, x: &Exploration, d: &Dropped) -> String {
    format!(
        "{} #{} ({} at {})",
        direction_name(exp, x.directions[d.dir as usize]),
        d.n,
        d.kind.name(),
        d.at
    )
}

fn kinds_text(segments: &[SegmentKind]) -> String {
    if segments.is_empty() {
        "any segment".to_string()
    } else {
        let names: Vec<&str> = segments.iter().map(|k| k.name()).collect();
        names.join(", ")
    }
}

/// The replay command of a case appended to `file`.
fn replay_command(file: &str, seed: u64, sets: &[(String, String)]) -> String {
    crate::shell::replay(file, seed, sets, &[])
}

/// The text summary.
pub fn text(
    exp: &Experiment,
    file: &str,
    sets: &[(String, String)],
    opts: &Options,
    x: &Exploration,
) -> String {
    let mut s = String::new();
    let what = match x.sampling {
        None => format!("every set of up to {}", drops(opts.drops)),
        Some(sm) => format!(
            "{} random sets of up to {} (sampled, not exhaustive)",
            sm.walks,
            drops(opts.drops)
        ),
    };
    let _ = writeln!(
        s,
        "explore {} ({}), seed {}: {what} of {}",
        file,
        exp.name,
        opts.seed,
        kinds_text(&opts.segments)
    );
    let dirs: Vec<String> = (x.directions.iter().zip(&x.fault_free))
        .map(|(d, n)| format!("{} {n}", direction_name(exp, *d)))
        .collect();
    let _ = writeln!(s, "segments without drops: {}", dirs.join(", "));
    let sizes: Vec<String> = (x.by_size.iter().enumerate())
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} with {k}"))
        .collect();
    let _ = writeln!(
        s,
        "cases: {}{} ({} drops): {} passed, {} failed",
        x.cases,
        if x.sampling.is_some() { " sampled" } else { "" },
        sizes.join(", "),
        x.passed,
        x.failed
    );
    let _ = writeln!(s, "outcomes:");
    let width = x
        .outcomes
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    for (name, n) in &x.outcomes {
        let pad = width - name.chars().count();
        let _ = writeln!(s, "  {name}{:pad$}  {n}", "");
    }
    if let Some(sm) = x.sampling {
        let _ = writeln!(
            s,
            "minimal failures: {} (each failing sample shrunk to its smallest failing subset, \
             {} runs)",
            x.minimal.len(),
            sm.shrink_runs
        );
    } else {
        let _ = writeln!(s, "minimal failures: {}", x.minimal.len());
    }
    let width = x.minimal.len().to_string().len();
    for (i, m) in x.minimal.iter().enumerate() {
        minimal_text(&mut s, exp, x, opts, (i + 1, width), m);
    }
    if !x.minimal.is_empty() {
        let _ = writeln!(
            s,
            "replay: append a case's [[faults]] to the file, then: {}",
            replay_command(file, opts.seed, sets)
        );
    }
    s
}

fn minimal_text(
    s: &mut String,
    exp: &Experiment,
    x: &Exploration,
    opts: &Options,
    (i, width): (usize, usize),
    m: &Minimal,
) {
    let drops: Vec<String> = m.drops.iter().map(|d| drop_text(exp, x, d)).collect();
    let what = if drops.is_empty() {
        "no drop (the experiment fails without faults)".to_string()
    } else {
        format!("drop {}", drops.join(", then "))
    };
    // The lines under a number start where its text does.
    let pad = " ".repeat(width + 4);
    let _ = writeln!(s, "  {i:>width$}. {what}");
    let _ = writeln!(s, "{pad}failed: {}", m.failed.join(", "));
    let _ = writeln!(s, "{pad}outcome: {}", m.outcome);
    for line in replay_faults(exp, &x.directions, &opts.segments, &m.drops).lines() {
        let _ = writeln!(s, "{pad}{line}");
    }
}

#[derive(Serialize)]
struct Json<'a> {
    experiment: &'a str,
    schema: u32,
    k: usize,
    cases: u64,
    passed: u64,
    failed: u64,
    outcomes: &'a BTreeMap<String, u64>,
    minimal_failures: Vec<MinimalJson>,
    seed: u64,
    mode: &'static str,
    segments: Vec<&'static str>,
    by_size: &'a [u64],
    directions: Vec<DirectionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    walks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrink_runs: Option<u64>,
}

#[derive(Serialize)]
struct MinimalJson {
    drops: Vec<DropJson>,
    failed: Vec<String>,
    faults: String,
    outcome: String,
}

#[derive(Serialize)]
struct DropJson {
    from: String,
    to: String,
    nth: u32,
    kind: &'static str,
    at_ns: u64,
}

#[derive(Serialize)]
struct DirectionJson<'a> {
    from: &'a str,
    to: &'a str,
    fault_free_segments: u32,
}

/// SPEC §8's JSON, with the seed, the mode, the kinds, the cases per size
/// and the directions after its fields.
pub fn json(exp: &Experiment, opts: &Options, x: &Exploration) -> String {
    let value = Json {
        experiment: &exp.name,
        schema: SCHEMA,
        k: opts.drops,
        cases: x.cases,
        passed: x.passed,
        failed: x.failed,
        outcomes: &x.outcomes,
        minimal_failures: (x.minimal.iter())
            .map(|m| MinimalJson {
                drops: (m.drops.iter())
                    .map(|d| {
                        let dir = x.directions[d.dir as usize];
                        DropJson {
                            from: exp.host_name(dir.from).to_string(),
                            to: exp.host_name(dir.to).to_string(),
                            nth: d.n,
                            kind: d.kind.name(),
                            at_ns: d.at.as_nanos(),
                        }
                    })
                    .collect(),
                failed: m.failed.clone(),
                faults: replay_faults(exp, &x.directions, &opts.segments, &m.drops),
                outcome: m.outcome.clone(),
            })
            .collect(),
        seed: opts.seed,
        mode: if x.sampling.is_some() {
            "random"
        } else {
            "exhaustive"
        },
        segments: if opts.segments.is_empty() {
            vec!["ANY"]
        } else {
            opts.segments.iter().map(|k| k.name()).collect()
        },
        by_size: &x.by_size,
        directions: (x.directions.iter().zip(&x.fault_free))
            .map(|(d, n)| DirectionJson {
                from: exp.host_name(d.from),
                to: exp.host_name(d.to),
                fault_free_segments: *n,
            })
            .collect(),
        walks: x.sampling.map(|s| s.walks),
        shrink_runs: x.sampling.map(|s| s.shrink_runs),
    };
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_else(|e| {
        // Every field is a string, a number or a list or map of them.
        format!("{{\"error\": {:?}}}", e.to_string())
    });
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[hosts]]
name = "a-1"
addr = "10.0.0.1"
[[hosts]]
name = "b"
addr = "10.0.0.2"
listen = [80]
[[links]]
a = "a-1"
b = "b"
[[connections]]
client = "a-1"
server = "b"
port = 80
"#;

    #[test]
    fn replay_rules_are_one_per_direction_and_read_back() {
        let exp = crate::parse(FILE, "t.toml").unwrap();
        let dirs = [Direction { from: 0, to: 1 }, Direction { from: 1, to: 0 }];
        let d = |dir, n| Dropped {
            dir,
            n,
            kind: SegmentKind::Fin,
            at: tcpsim_tcp::Instant::ZERO,
        };
        let drops = [d(1, 4), d(0, 2), d(1, 1)];
        let text = replay_faults(&exp, &dirs, &[SegmentKind::Syn, SegmentKind::Fin], &drops);
        assert_eq!(
            text,
            "[[faults]]\naction = \"drop\"\nfrom = \"a-1\"\nto = \"b\"\n\
             segment = [\"SYN\", \"FIN\"]\nnth = [2]\n\
             [[faults]]\naction = \"drop\"\nfrom = \"b\"\nto = \"a-1\"\n\
             segment = [\"SYN\", \"FIN\"]\nnth = [1, 4]\n"
        );
        // Appended to the file, the rules are the file's own faults.
        let with = crate::parse(&format!("{FILE}\n{text}"), "t.toml").unwrap();
        assert_eq!(with.faults.len(), 2);
        assert_eq!((with.faults[1].from, with.faults[1].to), (Some(1), Some(0)));
        assert_eq!(with.faults[1].nth, Some(vec![1, 4]));
        assert_eq!(with.faults[0].segment, [SegmentKind::Syn, SegmentKind::Fin]);
        let any = replay_faults(&exp, &dirs, &[], &drops[1..2]);
        assert!(any.contains("segment = \"ANY\"\n"), "{any}");
    }
}
