//! `[expect]`: each key becomes one named check with its expected and
//! actual values (tcpsim SPEC §3).

use tcpsim_net::{ConnReport, End, HostId, RunResult, TraceKind, TraceRecord};
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

/// What the expectations of an experiment need from a run's event trace,
/// gathered one record at a time ([`TraceFacts::observe`]), so that a run
/// whose trace is not kept ([`tcpsim_net::Sim::run_to`]) can be evaluated
/// ([`evaluate_with`]) in memory that does not grow with the run.
///
/// Only `retransmit_at` needs the trace ([`needs_trace`]): the facts are the
/// time and connection of each retransmission of a kind it names, 16 bytes
/// each; for an experiment without `retransmit_at` nothing is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceFacts {
    /// The kinds `retransmit_at` names, by [`SegmentKind::ALL`] index.
    wanted: [bool; SegmentKind::ALL.len()],
    /// Retransmissions of those kinds by experiment connections, in trace
    /// order: kind, connection, time.
    retransmits: Vec<(SegmentKind, u32, Instant)>,
}

fn kind_index(kind: SegmentKind) -> usize {
    SegmentKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

impl TraceFacts {
    /// Nothing wanted, nothing seen.
    const NONE: TraceFacts = TraceFacts {
        wanted: [false; SegmentKind::ALL.len()],
        retransmits: Vec::new(),
    };

    /// Nothing observed yet, for the expectations of `exp`.
    pub fn new(exp: &Experiment) -> TraceFacts {
        let mut wanted = [false; SegmentKind::ALL.len()];
        for (kind, _) in &exp.expect.retransmit_at {
            wanted[kind_index(*kind)] = true;
        }
        TraceFacts {
            wanted,
            retransmits: Vec::new(),
        }
    }

    /// The facts of a whole kept trace (none when `r` kept no trace).
    pub fn of_run(exp: &Experiment, r: &RunResult) -> TraceFacts {
        let mut facts = TraceFacts::new(exp);
        for rec in r.trace.iter().flatten() {
            facts.observe(rec);
        }
        facts
    }

    /// Takes note of one record, the next of the run in trace order.
    #[inline]
    pub fn observe(&mut self, rec: &TraceRecord) {
        if let TraceKind::Send {
            conn: Some(c),
            retransmission: Some(_),
            segment,
            ..
        } = rec.kind
        {
            let kind = segment.kind();
            if self.wanted[kind_index(kind)] {
                self.retransmits.push((kind, c, rec.at));
            }
        }
    }

    /// When each retransmission of `kind` was sent, counted from its
    /// connection's `opened_ns`, earliest first.
    fn retransmit_times(&self, r: &RunResult, kind: SegmentKind) -> Vec<Duration> {
        let mut got: Vec<Duration> = self
            .retransmits
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|&(_, c, at)| {
                let opened = r
                    .connections
                    .get(c as usize)
                    .map_or(Instant::ZERO, |c| c.opened);
                at - opened
            })
            .collect();
        got.sort();
        got
    }
}

/// Evaluates every expectation of `exp` against a run, from its kept
/// trace where one is needed.
pub fn evaluate(exp: &Experiment, r: &RunResult) -> Vec<Check> {
    let mut out = Checks {
        detail: true,
        checks: Vec::new(),
        all_passed: true,
    };
    run_checks(exp, r, None, &mut out);
    out.checks
}

/// [`evaluate`] with what the trace showed gathered as the run went
/// (`facts`), for a run whose trace was not kept.
pub fn evaluate_with(exp: &Experiment, r: &RunResult, facts: &TraceFacts) -> Vec<Check> {
    let mut out = Checks {
        detail: true,
        checks: Vec::new(),
        all_passed: true,
    };
    run_checks(exp, r, Some(facts), &mut out);
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
    run_checks(exp, r, None, &mut out);
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

/// Runs every check of `exp` on `r`; `facts` is what its trace showed,
/// `None` to gather them from the kept trace, if a check needs them.
fn run_checks(exp: &Experiment, r: &RunResult, facts: Option<&TraceFacts>, out: &mut Checks) {
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
    let gathered;
    let facts = match facts {
        Some(f) => f,
        // A sweep's runs mostly: nothing to gather.
        None if e.retransmit_at.is_empty() => &TraceFacts::NONE,
        None => {
            gathered = TraceFacts::of_run(exp, r);
            &gathered
        }
    };
    for (kind, want) in &e.retransmit_at {
        let got = facts.retransmit_times(r, *kind);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{Keep, build};

    /// Two connections whose SYNs are lost (the first twice), so that
    /// `retransmit_at` has times from both, counted from different
    /// `opened_ns`, and a kind it does not name (DATA) is retransmitted too.
    /// The rule's 1st, 2nd and 3rd SYNs are connection 0's at 0 s,
    /// connection 1's at 0.5 s and connection 0's first retransmission at
    /// 1 s (RFC 6298 initial RTO 1 s); connection 1's at 1.5 s gets through,
    /// and connection 0's second comes at 1 + 2 s (the RTO doubled): 1 s and
    /// 3 s after connection 0 opened, 1 s after connection 1 did.
    const LOST: &str = r#"
name = "lost"
[[hosts]]
name = "client"
addr = "10.0.0.1"
[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]
[[links]]
a = "client"
b = "server"
delay = "10ms"
[[faults]]
action = "drop"
from = "client"
to = "server"
segment = "SYN"
nth = [1, 2, 3]
[[faults]]
action = "drop"
from = "client"
to = "server"
segment = "DATA"
nth = [1]
[[connections]]
client = "client"
server = "server"
port = 80
client_sends = 100
count = 2
interval = "500ms"
[expect]
retransmit_at = { SYN = ["1s", "1s", "3s"], SYN-ACK = [] }
"#;

    #[test]
    fn facts_gathered_as_the_run_goes_give_the_checks_of_the_kept_trace() {
        let exp = crate::parse(LOST, "lost.toml").unwrap();
        let kept = build(&exp, 1, Keep::ALL).unwrap().run();
        let mut facts = TraceFacts::new(&exp);
        let streamed = build(&exp, 1, Keep::ALL)
            .unwrap()
            .run_to(|rec| {
                facts.observe(rec);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert!(streamed.trace.is_none());
        // Only the SYN retransmissions are kept: three SYNs, no SYN-ACK,
        // and not the DATA one.
        assert_eq!(facts.retransmits.len(), 3, "{:?}", facts.retransmits);
        let checks = evaluate_with(&exp, &streamed, &facts);
        assert_eq!(checks, evaluate(&exp, &kept));
        let syn = &checks[0];
        assert_eq!(syn.name, "retransmit_at.SYN");
        assert_eq!(syn.actual, "[1s, 1s, 3s]");
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        assert_eq!(
            TraceFacts::of_run(&exp, &kept),
            facts,
            "the facts of the kept trace are the same"
        );
    }
}
