//! `[expect]`: each key becomes one named check with its expected and
//! actual values (tcpsim SPEC §3).

use tcpsim_net::{ConnReport, End, HostId, RunResult, TraceKind};
use tcpsim_tcp::{Duration, Instant, SegmentKind, State};

use crate::experiment::{Expect, Experiment};

/// One evaluated expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `outcome`, `retransmissions.SYN`, `states.client`, ...
    pub name: String,
    /// What the file asked for.
    pub expected: String,
    /// What the run did.
    pub actual: String,
    /// Whether they agree.
    pub passed: bool,
}

fn check(name: String, expected: String, actual: String, passed: bool) -> Check {
    Check {
        name,
        expected,
        actual,
        passed,
    }
}

fn within(actual: Duration, limit: Duration, tolerance: Duration) -> bool {
    actual <= limit.saturating_add(tolerance)
}

fn close_enough(a: Duration, b: Duration, tolerance: Duration) -> bool {
    a.max(b) - a.min(b) <= tolerance
}

fn list(d: &[Duration]) -> String {
    let items: Vec<String> = d.iter().map(Duration::to_string).collect();
    format!("[{}]", items.join(", "))
}

fn path(p: &[State]) -> String {
    let items: Vec<&str> = p.iter().map(|s| s.name()).collect();
    format!("[{}]", items.join(", "))
}

/// Which end of `c` runs on host `host`, if any.
fn end_on(c: &ConnReport, host: HostId) -> Option<End> {
    if c.workload.client == host {
        Some(End::Client)
    } else if c.workload.server == host {
        Some(End::Server)
    } else {
        None
    }
}

/// Collects checks: every one with its text (`evaluate`), or only whether
/// all passed (`passes`, which builds no strings and allocates nothing).
struct Checks {
    detail: bool,
    checks: Vec<Check>,
    all_passed: bool,
}

impl Checks {
    fn push(&mut self, passed: bool, text: impl FnOnce() -> (String, String, String)) {
        self.all_passed &= passed;
        if self.detail {
            let (name, expected, actual) = text();
            self.checks.push(check(name, expected, actual, passed));
        }
    }
}

/// Evaluates every expectation of `exp` against a run.
pub fn evaluate(exp: &Experiment, r: &RunResult) -> Vec<Check> {
    let mut out = Checks {
        detail: true,
        checks: Vec::new(),
        all_passed: true,
    };
    run_checks(exp, r, &mut out);
    out.checks
}

/// Whether every expectation of `exp` holds for a run: what
/// [`evaluate`] says, without building the text of any check. A sweep asks
/// this for every run, and [`evaluate`] only for the runs that fail.
pub fn passes(exp: &Experiment, r: &RunResult) -> bool {
    let mut out = Checks {
        detail: false,
        checks: Vec::new(),
        all_passed: true,
    };
    run_checks(exp, r, &mut out);
    out.all_passed
}

/// The worst time from `opened_ns` to `pick`, and whether some connection
/// never got there.
fn worst_time(r: &RunResult, pick: fn(&ConnReport) -> Option<Instant>) -> (bool, Option<Duration>) {
    let mut never = false;
    let mut worst: Option<Duration> = None;
    for c in &r.connections {
        match pick(c) {
            Some(t) => {
                let d = t - c.opened;
                worst = Some(worst.map_or(d, |w| w.max(d)));
            }
            None => never = true,
        }
    }
    (never, worst)
}

/// The state path of `end` of `c` as the expectation compares it: the list
/// may start with the initial state (CLOSED or LISTEN) or with the first
/// state entered.
fn compared_path<'a>(want: &[State], full: &'a [State]) -> &'a [State] {
    if want.first() == full.first() {
        full
    } else {
        full.get(1..).unwrap_or(&[])
    }
}

fn run_checks(exp: &Experiment, r: &RunResult, out: &mut Checks) {
    let e: &Expect = &exp.expect;
    let tol = e.tolerance;
    if let Some(want) = e.outcome {
        let passed = r
            .connections
            .iter()
            .all(|c| c.outcome.name() == want.name());
        out.push(passed, || {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for c in &r.connections {
                let n = c.outcome.name();
                match counts.iter_mut().find(|(k, _)| *k == n) {
                    Some((_, v)) => *v += 1,
                    None => counts.push((n, 1)),
                }
            }
            let actual = match counts.as_slice() {
                [] => "no connections".to_string(),
                [(one, _)] => (*one).to_string(),
                many => many
                    .iter()
                    .map(|(k, v)| format!("{k} x{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            ("outcome".into(), want.name().into(), actual)
        });
    }
    for (name, limit, pick) in [
        (
            "established_within",
            e.established_within,
            (|c: &ConnReport| c.client.established) as fn(&ConnReport) -> Option<Instant>,
        ),
        ("closed_within", e.closed_within, |c: &ConnReport| c.closed),
    ] {
        let Some(limit) = limit else { continue };
        let (never, worst) = worst_time(r, pick);
        let passed = !never && worst.is_none_or(|w| within(w, limit, tol));
        out.push(passed, || {
            let actual = match (never, worst) {
                (true, _) | (false, None) => "never".to_string(),
                (false, Some(w)) => w.to_string(),
            };
            (name.into(), limit.to_string(), actual)
        });
    }
    for (prefix, wanted, count) in [
        (
            "retransmissions",
            &e.retransmissions,
            (|c: &ConnReport, k| c.retransmissions().get(k)) as fn(&ConnReport, SegmentKind) -> u32,
        ),
        ("sent", &e.sent, |c: &ConnReport, k| c.sent().get(k)),
    ] {
        for (kind, want) in wanted {
            let got: u64 = r
                .connections
                .iter()
                .map(|c| u64::from(count(c, *kind)))
                .sum();
            out.push(got == *want, || {
                (
                    format!("{prefix}.{}", kind.name()),
                    want.to_string(),
                    got.to_string(),
                )
            });
        }
    }
    for (kind, want) in &e.retransmit_at {
        let mut got: Vec<Duration> = Vec::new();
        for t in r.trace.iter().flatten() {
            if let TraceKind::Send {
                conn: Some(c),
                retransmission: Some(_),
                segment,
                ..
            } = t.kind
            {
                if segment.kind() == *kind {
                    let opened = r
                        .connections
                        .get(c as usize)
                        .map_or(Instant::ZERO, |c| c.opened);
                    got.push(t.at - opened);
                }
            }
        }
        got.sort();
        let passed =
            got.len() == want.len() && got.iter().zip(want).all(|(a, b)| close_enough(*a, *b, tol));
        out.push(passed, || {
            (
                format!("retransmit_at.{}", kind.name()),
                list(want),
                list(&got),
            )
        });
    }
    for (host, want) in &e.states {
        let mut first: Option<&[State]> = None;
        let mut mismatch: Option<&[State]> = None;
        for c in &r.connections {
            let Some(end) = end_on(c, *host) else {
                continue;
            };
            let got = compared_path(want, &c.end(end).path);
            if got != want.as_slice() {
                mismatch = Some(got);
                break;
            }
            first.get_or_insert(got);
        }
        let passed = mismatch.is_none() && !r.connections.is_empty();
        out.push(passed, || {
            (
                format!("states.{}", exp.host_name(*host)),
                path(want),
                mismatch
                    .or(first)
                    .map_or_else(|| "no connections".into(), path),
            )
        });
    }
    for (host, want) in &e.final_state {
        let mut first: Option<State> = None;
        let mut mismatch: Option<State> = None;
        for c in &r.connections {
            let Some(end) = end_on(c, *host) else {
                continue;
            };
            let got = c.end(end).state;
            if got != *want {
                mismatch = Some(got);
                break;
            }
            first.get_or_insert(got);
        }
        out.push(mismatch.is_none(), || {
            (
                format!("final_state.{}", exp.host_name(*host)),
                want.name().into(),
                mismatch
                    .or(first)
                    .map_or_else(|| "no connections".into(), |s| s.name().to_string()),
            )
        });
    }
}

/// Whether evaluating `exp` needs the event trace.
pub fn needs_trace(exp: &Experiment) -> bool {
    !exp.expect.retransmit_at.is_empty()
}

/// Whether evaluating `exp` needs the state paths.
pub fn needs_paths(exp: &Experiment) -> bool {
    !exp.expect.states.is_empty()
}
