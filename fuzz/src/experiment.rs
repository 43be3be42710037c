//! Fuzz check for the experiment-file parser: arbitrary text (and an
//! arbitrary `--set PATH=VALUE`) never makes `parse` or
//! `parse_with_overrides` panic or hang; every error names the file and,
//! for a file error, a line and column inside the text; and an experiment
//! the parser accepts builds and runs (briefly) without a panic.
//!
//! Input layout: the file text, then optionally a NUL byte and the
//! `--set` argument (`PATH=VALUE`, split at the first `=`). Invalid UTF-8
//! is read the way the `tcpsim` binary reads files (lossily).

use tcpsim_runner::build::{Keep, build};
use tcpsim_runner::{ConfigError, Experiment, Location};
use tcpsim_tcp::Duration;

const FILE: &str = "fuzz.toml";

/// The most connections, bytes and virtual time of an accepted experiment
/// that the check also runs; bigger ones are only parsed.
const RUN_MAX_CONNECTIONS: u64 = 8;
const RUN_MAX_BYTES: u64 = 200_000;
const RUN_DURATION: Duration = Duration::from_secs(30);

fn check_error(e: &ConfigError, source: &str) {
    let shown = e.to_string();
    assert!(!shown.is_empty());
    match e.location() {
        Location::File { line, column } => {
            assert_eq!(e.file(), FILE);
            assert!(
                shown.starts_with(&format!("{FILE}:{line}:{column}: ")),
                "{shown}"
            );
            let lines = source.split('\n').count();
            assert!(
                *line >= 1 && *line <= lines,
                "line {line} outside the text's {lines} lines: {shown}"
            );
            assert!(*column >= 1, "{shown}");
        }
        Location::Set { .. } => assert!(shown.starts_with("--set "), "{shown}"),
    }
    assert!(
        !e.message().is_empty(),
        "an error without a message: {shown}"
    );
}

fn run_small(exp: &Experiment) {
    let conns: u64 = exp.connections.iter().map(|c| u64::from(c.count)).sum();
    let bytes: u64 = exp
        .connections
        .iter()
        .map(|c| u64::from(c.count).saturating_mul(c.client_sends.saturating_add(c.server_sends)))
        .fold(0, u64::saturating_add);
    if conns > RUN_MAX_CONNECTIONS || bytes > RUN_MAX_BYTES || exp.hosts.len() > 32 {
        return;
    }
    let mut exp = exp.clone();
    exp.duration = exp.duration.min(RUN_DURATION);
    let keep = Keep {
        trace: true,
        pcap: true,
        paths: true,
    };
    // A build error (e.g. a duplicate that only the engine sees) is fine;
    // a panic is not.
    if let Ok(sim) = build(&exp, exp.seed, keep) {
        let r = sim.run();
        assert!(r.end.saturating_duration_since(tcpsim_tcp::Instant::ZERO) <= exp.duration);
        assert_eq!(r.connections.len() as u64, conns);
    }
}

/// Parses the input; panics when an invariant breaks.
pub fn check(data: &[u8]) {
    let (text, set) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let source = String::from_utf8_lossy(text);
    match tcpsim_runner::parse(&source, FILE) {
        Ok(exp) => run_small(&exp),
        Err(e) => check_error(&e, &source),
    }
    if let Some(set) = set {
        let set = String::from_utf8_lossy(set);
        let (path, value) = set.split_once('=').unwrap_or((&set, ""));
        let sets = [(path.to_owned(), value.to_owned())];
        match tcpsim_runner::parse_with_overrides(&source, FILE, &sets) {
            Ok(exp) => run_small(&exp),
            Err(e) => check_error(&e, &source),
        }
    }
}
