//! `tcpsim explore FILE` (SPEC §2, §8): the arguments, checked, and the run.

use std::path::Path;

use tcpsim_tcp::SegmentKind;

use super::{DEFAULT_LIMIT, ExploreError, MAX_DROPS, MAX_WALKS, Mode, Options, explore};
use crate::commands::{BAD_INPUT, FAILED, INTERNAL, OK, parse_sets, print};
use crate::experiment::parse_with_overrides;

/// The command-line settings of `tcpsim explore`.
#[derive(Clone, Debug)]
pub struct ExploreArgs<'a> {
    /// The experiment file.
    pub file: &'a Path,
    /// `--seed`: the file's `seed` when absent.
    pub seed: Option<u64>,
    /// `--set PATH=VALUE`.
    pub sets: &'a [String],
    /// `--drops K` (default 2).
    pub drops: usize,
    /// `--segments KIND,...` (default every kind).
    pub segments: Option<&'a str>,
    /// `--limit N` (default [`DEFAULT_LIMIT`]).
    pub limit: Option<u64>,
    /// `--random N`.
    pub random: Option<u64>,
    /// `--jobs N` (default every core).
    pub jobs: Option<usize>,
    /// `--format json` instead of text.
    pub json: bool,
}

/// Parses `--segments`: kind names separated by commas, or `ANY`; the
/// kinds in classification order, empty for every kind.
pub fn parse_segments(list: &str) -> Result<Vec<SegmentKind>, String> {
    let mut kinds = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name == "ANY" {
            return Ok(Vec::new());
        }
        match SegmentKind::from_name(name) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => {
                let names: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
                return Err(format!(
                    "--segments {list:?}: unknown segment kind {name:?}: expected a comma-separated \
                     list of {} (or ANY)",
                    names.join(", ")
                ));
            }
        }
    }
    kinds.sort_by_key(|k| SegmentKind::ALL.iter().position(|a| a == k));
    if kinds.len() == SegmentKind::ALL.len() {
        kinds.clear();
    }
    Ok(kinds)
}

/// `tcpsim explore`: exit 0 when every case met `[expect]`, 1 when one did
/// not, 2 for bad usage or a space larger than the limit, 3 when a case
/// could not be reproduced (a bug).
pub fn command(args: &ExploreArgs<'_>) -> u8 {
    let fail = |e: String| {
        eprintln!("error: {e}");
        BAD_INPUT
    };
    if !(1..=MAX_DROPS).contains(&args.drops) {
        return fail(format!(
            "--drops {}: expected 1 to {MAX_DROPS} drops per case",
            args.drops
        ));
    }
    if let Some(walks) = args.random.filter(|w| *w > MAX_WALKS) {
        return fail(format!(
            "--random {walks}: expected at most {MAX_WALKS} walks (each sampled case is kept)"
        ));
    }
    if args.random.is_some() && args.limit.is_some() {
        return fail(
            "--limit bounds the exhaustive space; --random N runs N sampled cases and takes no \
             --limit"
                .to_string(),
        );
    }
    let segments = match args.segments.map(parse_segments).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return fail(e),
    };
    let sets = match parse_sets(args.sets) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let name = args.file.display().to_string();
    let source = match crate::input::read_text(
        args.file,
        "experiment file",
        crate::input::MAX_EXPERIMENT_FILE,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let exp = match parse_with_overrides(&source, &name, &sets) {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()),
    };
    let opts = Options {
        drops: args.drops,
        segments,
        seed: args.seed.unwrap_or(exp.seed),
        mode: match args.random {
            Some(walks) => Mode::Random { walks },
            None => Mode::Exhaustive {
                limit: args.limit.unwrap_or(DEFAULT_LIMIT),
            },
        },
        jobs: args.jobs.unwrap_or(usize::MAX),
    };
    let x = match explore(&exp, &opts) {
        Ok(x) => x,
        Err(e @ (ExploreError::TooLarge { .. } | ExploreError::Build(_))) => {
            return fail(format!("{name}: {e}"));
        }
        Err(e @ ExploreError::NotReproduced(_)) => {
            eprintln!("error: {name}: {e}");
            return INTERNAL;
        }
    };
    let out = if args.json {
        super::json(&exp, &opts, &x)
    } else {
        super::text(&exp, &name, &sets, &opts, &x)
    };
    match print(&out) {
        OK if x.failed > 0 => FAILED,
        code => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_kinds_in_classification_order_or_any() {
        assert_eq!(
            parse_segments("SYN-ACK,SYN, SYN").unwrap(),
            [SegmentKind::Syn, SegmentKind::SynAck]
        );
        assert_eq!(parse_segments("ANY").unwrap(), []);
        assert_eq!(parse_segments("ACK,DATA,FIN,SYN-ACK,SYN,RST").unwrap(), []);
        let e = parse_segments("syn").unwrap_err();
        assert!(e.contains("unknown segment kind \"syn\""), "{e}");
        assert!(parse_segments("").is_err());
    }
}
