//! `tcpsim check`: the regression suite (tcpsim SPEC §2).
//!
//! Every `*.toml` under the given paths runs with its own seed; its
//! `[expect]` checks must hold and its text timeline must equal the golden
//! file `<stem>.golden` beside it, byte for byte (a difference is shown as
//! a unified diff, [`diff`]). A missing golden fails unless `--bless`,
//! which (re)writes goldens. An invalid file fails. With `--sweep`, the
//! expectations are also checked on each of the file's `[sweep]` seeds.
//! [`junit`] writes the results as JUnit XML.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::build::{Keep, build};
use crate::evaluate::evaluate;
use crate::experiment::Experiment;
use crate::report::Meta;
use crate::shell::replay;
use crate::timeline::render;

pub mod diff;
mod junit;

pub use junit::junit;

/// How `check` runs each file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Rewrite the goldens instead of comparing (`--bless`).
    pub bless: bool,
    /// Also check the expectations on the file's `[sweep]` seeds
    /// (`--sweep`).
    pub sweep: bool,
    /// With `sweep`, only the first this many of them (`--max-seeds`).
    pub max_seeds: Option<u64>,
}

/// What became of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileResult {
    /// The file.
    pub path: PathBuf,
    /// `None` when it passed; otherwise why not, readable: what `check`
    /// prints under the file's `FAIL` line.
    pub failure: Option<String>,
    /// One per expectation (in the order the report names them), then one
    /// for the golden; or, for a file that could not be read, parsed or
    /// built, the one case `valid`, an error.
    pub cases: Vec<Case>,
    /// How many runs the file took (1, or with `--sweep` its own seed and
    /// its `[sweep]` seeds).
    pub runs: u64,
    /// Wall-clock seconds that judging the file took (read, runs, render,
    /// compare): the JUnit report's `time`, and nothing else.
    pub seconds: f64,
}

/// One JUnit test case of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `outcome`, `retransmissions.SYN`, ... (as the report names the
    /// expectation), `golden`, or `valid`.
    pub name: String,
    /// What became of it.
    pub verdict: Verdict,
}

/// The verdict on one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It held.
    Passed,
    /// It did not hold: `message` in one line, `detail` the whole story
    /// (the diff, each failing seed with its replay command).
    Failed {
        /// One line.
        message: String,
        /// Lines.
        detail: String,
    },
    /// The file could not be judged (unreadable, invalid).
    Error {
        /// One line.
        message: String,
        /// Lines.
        detail: String,
    },
}

impl Case {
    fn passed(name: &str) -> Case {
        Case {
            name: name.to_string(),
            verdict: Verdict::Passed,
        }
    }

    fn failed(name: &str, message: String, detail: String) -> Case {
        Case {
            name: name.to_string(),
            verdict: Verdict::Failed { message, detail },
        }
    }
}

/// Every `*.toml` under `paths` (files are taken as given), sorted.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    collect_with(paths, "toml")
}

/// Every file named `*.EXT` under the directories of `paths`, and every
/// file `paths` names directly whatever its name, sorted, each once. A
/// path that does not exist is an error, and so is finding nothing (a
/// mistyped CI path must not pass); a directory reached twice (a symlink
/// loop) is walked once.
pub fn collect_with(paths: &[PathBuf], ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, ext, &mut out, &mut seen)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        let under: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no *.{ext} files found under {}", under.join(", ")),
        ));
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    ext: &str,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::BTreeSet<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(()); // reached again through a symlink
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out, seen)?;
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
    Ok(())
}

/// The golden file of an experiment file.
pub fn golden_path(file: &Path) -> PathBuf {
    file.with_extension("golden")
}

/// At most this many failing seeds of one expectation are listed, each with
/// its replay command; the rest are counted.
pub const MAX_SEEDS_SHOWN: usize = 5;

/// The seeds `check` runs `exp` with: its `seed` first, then (with
/// `opts.sweep`) its `[sweep]` seeds in order, the first `opts.max_seeds`
/// of them, leaving out the file's seed where it is one of them. A file
/// without `[sweep]`, or with `[sweep]` but no `seeds`, runs its seed
/// alone. The grid is not applied: `check --sweep` runs the file as
/// written (`tcpsim sweep` varies the grid).
pub fn seeds(exp: &Experiment, opts: &Options) -> Vec<u64> {
    let mut out = vec![exp.seed];
    if let (true, Some(sweep)) = (opts.sweep, exp.sweep.as_ref()) {
        let take = opts.max_seeds.unwrap_or(u64::MAX);
        let take = usize::try_from(take).unwrap_or(usize::MAX);
        out.extend(sweep.seeds.iter().take(take).filter(|&s| s != exp.seed));
    }
    out
}

/// Runs one file of the suite.
pub fn check_file(path: &Path, opts: &Options) -> FileResult {
    let start = std::time::Instant::now();
    let mut r = judge(path, opts);
    r.seconds = start.elapsed().as_secs_f64();
    r
}

/// A file that could not be judged: one error case `valid`.
fn invalid(path: &Path, why: String) -> FileResult {
    let message = why.lines().next().unwrap_or("invalid").to_string();
    FileResult {
        path: path.to_path_buf(),
        failure: Some(format!("{why}\n")),
        cases: vec![Case {
            name: "valid".to_string(),
            verdict: Verdict::Error {
                message,
                detail: format!("{why}\n"),
            },
        }],
        runs: 0,
        seconds: 0.0,
    }
}

/// One expectation over every seed: where it failed.
struct Tally {
    name: String,
    expected: String,
    failed: Vec<(u64, String)>,
}

fn judge(path: &Path, opts: &Options) -> FileResult {
    let name = path.display().to_string();
    let source =
        match crate::input::read_text(path, "experiment file", crate::input::MAX_EXPERIMENT_FILE) {
            Ok(s) => s,
            Err(e) => return invalid(path, e.to_string()),
        };
    let exp = match crate::experiment::parse(&source, &name) {
        Ok(e) => e,
        Err(e) => return invalid(path, format!("invalid: {e}")),
    };
    let seeds = seeds(&exp, opts);
    let mut tallies: Vec<Tally> = Vec::new();
    let mut text = String::new();
    for (i, &seed) in seeds.iter().enumerate() {
        // The file's own seed (first) keeps the trace for the golden.
        let keep = if i == 0 {
            Keep::ALL
        } else {
            Keep::for_expectations(&exp)
        };
        let sim = match build(&exp, seed, keep) {
            Ok(s) => s,
            Err(e) => return invalid(path, format!("invalid: {e}")),
        };
        let r = sim.run();
        for c in evaluate(&exp, &r) {
            let t = match tallies.iter_mut().position(|t| t.name == c.name) {
                Some(k) => &mut tallies[k],
                None => {
                    tallies.push(Tally {
                        name: c.name.clone(),
                        expected: c.expected.clone(),
                        failed: Vec::new(),
                    });
                    tallies.last_mut().expect("just pushed")
                }
            };
            if !c.passed {
                t.failed.push((seed, c.actual));
            }
        }
        if i == 0 {
            text = render(&Meta::new(&exp, exp.seed), &r);
        }
    }
    let runs = seeds.len() as u64;
    let mut why = String::new();
    let mut cases = Vec::with_capacity(tallies.len() + 1);
    let mut own_seed_failed = false;
    for t in &tallies {
        if t.failed.is_empty() {
            cases.push(Case::passed(&t.name));
            continue;
        }
        let (seed0, actual0) = &t.failed[0];
        if runs == 1 {
            own_seed_failed = true;
            let _ = writeln!(
                why,
                "  expectation {} failed: expected {}, actual {actual0}",
                t.name, t.expected
            );
            cases.push(Case::failed(
                &t.name,
                format!("expected {}, actual {actual0} (seed {seed0})", t.expected),
                format!(
                    "expected {}, actual {actual0}\nseed {seed0}; replay: {}\n",
                    t.expected,
                    replay(&name, *seed0, &[], &[])
                ),
            ));
            continue;
        }
        let head = format!(
            "expectation {} failed on {} of {runs} seeds: expected {}",
            t.name,
            t.failed.len(),
            t.expected
        );
        let mut list = String::new();
        for (seed, actual) in t.failed.iter().take(MAX_SEEDS_SHOWN) {
            let _ = writeln!(
                list,
                "  seed {seed}: actual {actual}; replay: {}",
                replay(&name, *seed, &[], &[])
            );
        }
        if t.failed.len() > MAX_SEEDS_SHOWN {
            let _ = writeln!(list, "  … {} more seeds", t.failed.len() - MAX_SEEDS_SHOWN);
        }
        let _ = writeln!(why, "  {head}");
        for line in list.lines() {
            let _ = writeln!(why, "  {line}");
        }
        cases.push(Case::failed(
            &t.name,
            format!(
                "failed on {} of {runs} seeds, first seed {seed0}: expected {}, actual {actual0}",
                t.failed.len(),
                t.expected
            ),
            format!("{head}\n{list}"),
        ));
    }
    let golden = golden_path(path);
    let golden_name = golden.display().to_string();
    let replay_own = replay(&name, exp.seed, &[], &[]);
    if opts.bless {
        match std::fs::write(&golden, &text) {
            Ok(()) => cases.push(Case::passed("golden")),
            Err(e) => {
                let line = format!("cannot write {golden_name}: {e}");
                let _ = writeln!(why, "  {line}");
                cases.push(Case::failed("golden", line.clone(), format!("{line}\n")));
            }
        }
    } else {
        match std::fs::read_to_string(&golden) {
            Ok(g) if g == text => cases.push(Case::passed("golden")),
            Ok(g) => {
                own_seed_failed = true;
                let d = diff::unified(&g, &golden_name, &text, exp.seed);
                let n = diff::hunks(&d);
                let line = format!(
                    "timeline differs from {golden_name} ({n} hunk{})",
                    if n == 1 { "" } else { "s" }
                );
                let _ = write!(why, "  {line}:\n{d}");
                cases.push(Case::failed(
                    "golden",
                    line,
                    format!("{d}seed {}; replay: {replay_own}\n", exp.seed),
                ));
            }
            Err(_) => {
                own_seed_failed = true;
                let line = format!(
                    "no golden timeline {golden_name} (run `tcpsim check --bless {}` and read it)",
                    crate::shell::quote(&name)
                );
                let _ = writeln!(why, "  {line}");
                cases.push(Case::failed("golden", line.clone(), format!("{line}\n")));
            }
        }
    }
    if own_seed_failed {
        let _ = writeln!(why, "  seed {}; replay: {replay_own}", exp.seed);
    }
    FileResult {
        path: path.to_path_buf(),
        failure: (!why.is_empty()).then_some(why),
        cases,
        runs,
        seconds: 0.0,
    }
}
