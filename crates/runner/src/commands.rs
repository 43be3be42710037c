//! The `tcpsim` commands (tcpsim SPEC §2), as functions that print their
//! output and return the process exit code: 0 ran and every expectation
//! held; 1 an expectation failed; 2 bad usage or a bad experiment file
//! (nothing run); 3 internal error.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::build::{Keep, blueprint};
use crate::evaluate::{Check, TraceFacts, evaluate_with};
use crate::experiment::{SeedRange, parse_with_overrides};
use crate::report::{Meta, Spill, uses_options};
use crate::suite;
use crate::sweep::{self, Plan};

mod captures;
mod run_output;

pub use captures::Captures;

/// Exit code: ran, every expectation held.
pub const OK: u8 = 0;
/// Exit code: an expectation failed.
pub const FAILED: u8 = 1;
/// Exit code: bad usage or a bad experiment file.
pub const BAD_INPUT: u8 = 2;
/// Exit code: internal error.
pub const INTERNAL: u8 = 3;

/// Output format of `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFormat {
    /// Timeline and summary.
    Text,
    /// The JSON report.
    Json,
}

/// Output format of `sweep` and `merge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepFormat {
    /// A table per grid point.
    Text,
    /// SPEC §4's sweep JSON.
    Json,
    /// One CSV row per grid point.
    Csv,
}

/// What `sweep` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepOutput {
    /// The aggregate's format, or with `per_run` the rows' (only
    /// [`SweepFormat::Csv`]).
    pub format: SweepFormat,
    /// `--per-run`: a CSV row per connection of each run, as the runs end,
    /// instead of the aggregate.
    pub per_run: bool,
}

/// Splits `PATH=VALUE` arguments.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!(
                "--set {s:?}: expected PATH=VALUE, e.g. --set links.0.loss=0.2"
            )),
        })
        .collect()
}

fn read_source(file: &Path) -> Result<String, String> {
    crate::input::read_text(file, "experiment file", crate::input::MAX_EXPERIMENT_FILE)
}

pub(crate) fn print(s: &str) -> u8 {
    print_to(s, false)
}

/// [`print`], to standard error when `stderr` (a capture has standard
/// output).
fn print_to(s: &str, stderr: bool) -> u8 {
    let mut out: Box<dyn Write> = if stderr {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => OK,
        // A closed pipe (`| head`) is not an error worth a code.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => OK,
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            INTERNAL
        }
    }
}

fn expectations_text(checks: &[Check]) -> String {
    let mut s = String::new();
    if checks.is_empty() {
        return s;
    }
    s.push_str("expectations:\n");
    for c in checks {
        s.push_str(&format!(
            "  {:<4} {}: expected {}, actual {}\n",
            if c.passed { "ok" } else { "FAIL" },
            c.name,
            c.expected,
            c.actual
        ));
    }
    s
}

/// `tcpsim run`. The captures are written as the run goes; with one of
/// them on standard output, the timeline or report goes to standard error.
pub fn run(
    file: &Path,
    seed: Option<u64>,
    sets: &[String],
    format: RunFormat,
    captures: Captures<'_>,
    quiet: bool,
    diagram: Option<&Path>,
) -> u8 {
    let name = file.display().to_string();
    if let Err(e) = captures.check() {
        eprintln!("error: {e}");
        return BAD_INPUT;
    }
    let to_stderr = captures.to_stdout();
    let sets = match parse_sets(sets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let source = match read_source(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let exp = match parse_with_overrides(&source, &name, &sets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let seed = seed.unwrap_or(exp.seed);
    // `--quiet` text prints no event: the run keeps the event log (and the
    // state paths) only if an expectation needs them. Same output, less
    // memory and time for runs with many connections.
    let summary_only = quiet && format == RunFormat::Text && diagram.is_none();
    let keep = if summary_only {
        Keep::for_expectations(&exp)
    } else {
        Keep::ALL
    };
    let blueprint = match blueprint(&exp, keep) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            return BAD_INPUT;
        }
    };
    // Created once the experiment is known to be good, written as the run
    // goes (docs/report.md, "Memory").
    let capture = match captures.open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let sim = blueprint.sim_capturing(seed, capture);
    // The trace is never held in memory (docs/report.md, "Memory"): each
    // record goes, as the run makes it, to what the expectations and the
    // options rule need to know of it and, when events are printed, to a
    // temporary file that is read back once the run has ended (the report
    // begins with the end of the run).
    let mut spill = if summary_only {
        None
    } else {
        match Spill::new() {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!(
                    "error: cannot make a temporary file for the event log in {} \
                     (TMPDIR; --quiet needs none): {e}",
                    std::env::temp_dir().display()
                );
                return INTERNAL;
            }
        }
    };
    let mut facts = TraceFacts::new(&exp);
    let mut show_options = false;
    let _run = tracing::info_span!("run", experiment = %exp.name, seed).entered();
    let ran = sim.run_to(|rec| {
        facts.observe(rec);
        show_options |= uses_options(rec);
        spill.as_mut().map_or(Ok(()), |s| s.push(rec))
    });
    let spilled = ran.and_then(|r| Ok((r, spill.map(Spill::finish).transpose()?)));
    let (mut r, spilled) = match spilled {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: cannot write the event log to a temporary file: {e}");
            return INTERNAL;
        }
    };
    if let Some(e) = &r.capture_error {
        eprintln!("error: {}", captures.describe(e));
        return INTERNAL;
    }
    let checks = evaluate_with(&exp, &r, &facts);
    let meta = Meta::new(&exp, seed);
    if let (Some(path), Some(spilled)) = (diagram, &spilled) {
        // The diagram lays out every event at once: it holds the trace, for
        // as long as it takes to draw (diagrams are for short runs).
        r.trace = match spilled.records().and_then(Iterator::collect) {
            Ok(trace) => Some(trace),
            Err(e) => {
                eprintln!("error: cannot read the event log back from its temporary file: {e}");
                return INTERNAL;
            }
        };
        let svg = crate::diagram::render(&meta, &r);
        r.trace = None;
        if let Err(e) = std::fs::write(path, svg) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return BAD_INPUT;
        }
    }
    let code = match (format, &spilled) {
        (RunFormat::Json, Some(spilled)) => {
            run_output::json(&meta, &r, &checks, spilled, show_options, to_stderr)
        }
        (RunFormat::Text, Some(spilled)) if !quiet => {
            run_output::timeline(&meta, &r, &checks, spilled, show_options, to_stderr)
        }
        _ => run_output::summary(&r, &checks, to_stderr),
    };
    if code != OK {
        return code;
    }
    if checks.iter().any(|c| !c.passed) {
        let replay = crate::shell::replay(&name, seed, &sets, &[]);
        eprintln!("expectations failed (seed {seed}); replay with:\n  {replay}");
        return FAILED;
    }
    OK
}

/// Parses `K/N` for `--shard` (K counted from 0, K < N), or `auto`: K and
/// N from the batch system's environment ([`sweep::shard::from_env`]).
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    if s == "auto" {
        return sweep::shard::from_env(&|name| std::env::var(name).ok());
    }
    let err = || format!("--shard {s:?}: expected K/N with 0 <= K < N, e.g. --shard 0/4");
    let (k, n) = s.split_once('/').ok_or_else(err)?;
    let k: u64 = k.trim().parse().map_err(|_| err())?;
    let n: u64 = n.trim().parse().map_err(|_| err())?;
    if n == 0 || k >= n {
        return Err(err());
    }
    Ok((k, n))
}

/// `tcpsim sweep`.
pub fn sweep(
    file: &Path,
    seeds: Option<&str>,
    sets: &[String],
    jobs: Option<usize>,
    output: SweepOutput,
    shard: Option<&str>,
    plot: Option<&Path>,
) -> u8 {
    let name = file.display().to_string();
    let fail = |e: String| {
        eprintln!("error: {e}");
        BAD_INPUT
    };
    let format = output.format;
    if output.per_run && format != SweepFormat::Csv {
        return fail(format!(
            "--per-run writes CSV: use it with --format csv (or without --format), not --format {} \
             (every run as a JSON line is what --shard 0/1 writes)",
            match format {
                SweepFormat::Text => "text",
                SweepFormat::Json => "json",
                SweepFormat::Csv => "csv",
            }
        ));
    }
    if output.per_run && shard.is_some() {
        return fail(
            "--per-run cannot be combined with --shard: a shard already writes one JSON line \
             per run (merge the shards, or run the sweep unsharded with --per-run)"
                .to_string(),
        );
    }
    if plot.is_some() && shard.is_some() {
        return fail(
            "--plot needs every run of the sweep; it cannot be combined with --shard \
             (run the sweep unsharded to plot it)"
                .to_string(),
        );
    }
    let sets = match parse_sets(sets) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let seeds = match seeds.map(str::parse::<SeedRange>).transpose() {
        Ok(s) => s,
        Err(e) => return fail(format!("--seeds: {e}")),
    };
    let shard = match shard.map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let source = match read_source(file) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let plan = match Plan::new(&source, &name, &sets, seeds) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let total = plan.runs();
    let limit = crate::experiment::limits::MAX_SWEEP_RUNS;
    if u128::from(total) > limit {
        return fail(format!(
            "{name}: too many runs: expected at most {limit} (grid points x seeds), found {} ({} grid points x {} seeds)",
            u128::from(total),
            plan.points.len(),
            plan.seeds.len()
        ));
    }
    let per_seed: u128 = (plan.points.iter())
        .flat_map(|(_, e)| &e.connections)
        .map(|c| u128::from(c.count))
        .sum();
    let samples = per_seed * plan.seeds.len();
    let limit = crate::experiment::limits::MAX_SWEEP_CONNECTION_RUNS;
    if samples > limit {
        return fail(format!(
            "{name}: too many connection-runs: expected at most {limit} (each keeps its times for the percentiles, up to 32 bytes), found {samples} ({per_seed} connections over the grid points x {} seeds)",
            plan.seeds.len()
        ));
    }
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if let Some((k, n)) = shard {
        // A shard writes its runs in index order, SHARD_CHUNK at a time, so
        // it holds the records of one chunk (about 300 MB), not of all.
        let mut any_failed = false;
        let mut first = k;
        while first < total {
            let indices: Vec<u64> = (first..total)
                .step_by(n as usize)
                .take(SHARD_CHUNK)
                .collect();
            first = indices.last().map_or(total, |&i| i.saturating_add(n));
            let records = match plan.run_indices(&indices, jobs) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            any_failed |= records.iter().any(|r| !r.failed.is_empty());
            if let Err(code) = write_shard_lines(plan.identity(), &name, k, n, records) {
                return code;
            }
        }
        return verdict(OK, any_failed);
    }
    if output.per_run {
        return per_run(&plan, jobs, plot);
    }
    // The usual sweep: tallied as it runs, no record kept per run; `--plot`
    // draws from the same tallies.
    let tallies = match plan.tally_all(jobs) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if let Some(path) = plot {
        if let Err(code) = write_plot(path, &plan.name, &tallies) {
            return code;
        }
    }
    let any_failed = tallies.iter().any(|(_, t)| t.any_failed());
    let agg = sweep::aggregate_points(&plan.name, &name, tallies.into_iter(), &sets);
    verdict(emit_aggregate(&agg, format), any_failed)
}

/// `sweep --per-run`: the CSV rows of every run, in index order, written
/// as the runs end ([`Plan::for_each_run`], [`sweep::RunRows`]); `--plot`
/// from tallies made on the way.
fn per_run(plan: &Plan, jobs: usize, plot: Option<&Path>) -> u8 {
    let first = plan.points.first().map_or(&[][..], |(p, _)| p.as_slice());
    let mut tallies: BTreeMap<usize, sweep::Tally> = BTreeMap::new();
    let mut any_failed = false;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = sweep::RunRows::new(out, first).map_err(sweep::Stopped::Emit);
    let written = written.and_then(|mut rows| {
        plan.for_each_run(jobs, |r| {
            any_failed |= !r.failed.is_empty();
            if plot.is_some() {
                let tally = tallies.entry(r.point).or_default();
                tally.add(r.index, r.seed, &r.conns, r.failed.clone());
            }
            rows.write(&r)
        })?;
        let mut out = rows.finish().map_err(sweep::Stopped::Emit)?;
        out.flush().map_err(sweep::Stopped::Emit)
    });
    match written {
        Ok(()) => {}
        Err(sweep::Stopped::Run(e)) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
        // `| head`: nobody reads the rest.
        Err(sweep::Stopped::Emit(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return OK,
        Err(sweep::Stopped::Emit(e)) => {
            eprintln!("error: cannot write output: {e}");
            return INTERNAL;
        }
    }
    if let Some(path) = plot {
        if let Err(code) = write_plot(path, &plan.name, &plan.point_tallies(tallies)) {
            return code;
        }
    }
    verdict(OK, any_failed)
}

/// Writes `--plot`'s SVG of `tallies` to `path`; the exit code if it
/// cannot.
fn write_plot(path: &Path, name: &str, tallies: &[sweep::PointTally<'_>]) -> Result<(), u8> {
    std::fs::write(path, crate::plot::render_tallies(name, tallies)).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        BAD_INPUT
    })
}

/// The exit code of a sweep whose output gave `code`: a failed
/// expectation makes a clean output `FAILED`; an output error stays.
fn verdict(code: u8, any_failed: bool) -> u8 {
    match code {
        OK if any_failed => FAILED,
        code => code,
    }
}

/// How many runs a shard holds the records of at a time.
const SHARD_CHUNK: usize = 1 << 20;

/// Writes the runs of shard `k` of `n` to standard output (`Err` with the
/// exit code when the output ends: closed, or an error), one
/// [`sweep::Line`] each, as they are made (not held all at once).
fn write_shard_lines(
    sweep: &sweep::SweepId,
    file: &str,
    k: u64,
    n: u64,
    records: Vec<sweep::RunRecord>,
) -> Result<(), u8> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut written = Ok(());
    for record in records {
        let line = sweep::Line {
            sweep: sweep.clone(),
            file: file.to_string(),
            shard: k,
            shards: n,
            record,
        };
        written = serde_json::to_writer(&mut out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if written.is_err() {
            break;
        }
    }
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth a code, but the
        // end of the shard: nobody reads the rest.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OK),
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            Err(INTERNAL)
        }
    }
}

fn emit_aggregate(agg: &sweep::Aggregate, format: SweepFormat) -> u8 {
    match format {
        SweepFormat::Json => match serde_json::to_string_pretty(agg) {
            Ok(s) => print(&(s + "\n")),
            Err(e) => {
                eprintln!("internal error: {e}");
                INTERNAL
            }
        },
        SweepFormat::Text => print(&sweep::text(agg)),
        SweepFormat::Csv => match sweep::csv(agg) {
            Ok(s) => print(&s),
            Err(e) => {
                eprintln!("internal error: {e}");
                INTERNAL
            }
        },
    }
}

/// The shard files `args` name: a file as it is (merge says if it cannot
/// be read), a directory as every `*.jsonl` in it, and a name with `*` or
/// `?` in its last part, which is not a file, as the files of its
/// directory that match, each list sorted by name.
fn shard_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let listed = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Result<Vec<PathBuf>, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(keep))
            .collect();
        files.sort();
        Ok(files)
    };
    for a in args {
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if a.is_dir() {
            let found = listed(a, &|n| n.ends_with(".jsonl"))?;
            if found.is_empty() {
                return Err(format!(
                    "{}: no *.jsonl shard files in this directory",
                    a.display()
                ));
            }
            out.extend(found);
        } else if !a.exists() && name.contains(['*', '?']) {
            let dir = a
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let found = listed(dir, &|n| glob_match(name, n))?;
            if found.is_empty() {
                return Err(format!("{}: no file matches this pattern", a.display()));
            }
            out.extend(found);
        } else {
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// Whether `name` matches `pattern`, where `*` is any run of characters
/// and `?` one character.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// `tcpsim merge`: only a complete set of shards of one sweep merges
/// (see [`sweep::merge`]); anything else is exit 2 with a message naming
/// the file and line.
pub fn merge(files: &[PathBuf], format: SweepFormat) -> u8 {
    let files = match shard_files(files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let merged = match sweep::merge::merge(&sweep::merge::Files(&files)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let any_failed = merged.points.iter().any(|(_, t)| t.any_failed());
    verdict(emit_aggregate(&merged.aggregate(), format), any_failed)
}

/// `tcpsim validate`.
pub fn validate(files: &[PathBuf]) -> u8 {
    let mut code = OK;
    for f in files {
        let name = f.display().to_string();
        match read_source(f)
            .and_then(|s| crate::experiment::parse(&s, &name).map_err(|e| e.to_string()))
        {
            Ok(exp) => {
                let line = format!(
                    "ok {name}: {} hosts, {} links, {} connections\n",
                    exp.hosts.len(),
                    exp.links.len(),
                    exp.connections
                        .iter()
                        .map(|c| u64::from(c.count))
                        .sum::<u64>()
                );
                match print(&line) {
                    OK => {}
                    failed => return failed,
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = BAD_INPUT;
            }
        }
    }
    code
}

/// `tcpsim schema`: prints the JSON Schema (draft 2020-12) of the
/// experiment file ([`schema`](crate::experiment::schema)), for editors
/// and generators.
pub fn schema() -> u8 {
    match serde_json::to_string_pretty(&crate::experiment::schema()) {
        Ok(text) => print(&format!("{text}\n")),
        Err(e) => {
            eprintln!("internal error: cannot write the schema: {e}");
            INTERNAL
        }
    }
}

/// `tcpsim check`: prints `ok   FILE` or `FAIL FILE` and why for each
/// file (with `--sweep`, `(N seeds)` after a file that ran more than one),
/// then `N passed, N failed` (files).
pub fn check(paths: &[PathBuf], opts: &suite::Options, junit: Option<&Path>) -> u8 {
    let default = [PathBuf::from("configs")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let files = match suite::collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let mut results = Vec::with_capacity(files.len());
    let mut out = String::new();
    for f in &files {
        let r = suite::check_file(f, opts);
        let runs = if r.runs > 1 {
            format!(" ({} seeds)", r.runs)
        } else {
            String::new()
        };
        match &r.failure {
            None => out.push_str(&format!("ok   {}{runs}\n", f.display())),
            Some(why) => out.push_str(&format!("FAIL {}{runs}\n{why}", f.display())),
        }
        results.push(r);
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    out.push_str(&format!(
        "{} passed, {failed} failed\n",
        results.len() - failed
    ));
    if let Some(path) = junit {
        if let Err(e) = std::fs::write(path, suite::junit(&results)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return BAD_INPUT;
        }
    }
    let code = print(&out);
    if code != OK {
        return code;
    }
    if failed > 0 { FAILED } else { OK }
}
