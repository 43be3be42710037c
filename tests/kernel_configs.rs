//! Experiment files of the `linux` profile against captures of the real
//! kernel (`tests/data/linux/`, made by `capture.sh`; its README describes
//! the namespaces, the 10 ms delay line and each scenario's applications).
//!
//! Each file in `CASES` describes one captured scenario. It is run as
//! `tcpsim run` runs it, and its segments are compared with the capture's by
//! the rule of SPEC §5 at the capture point, the client's tun device: per
//! direction, the same segments in the same order — flags, sequence and
//! acknowledgment numbers relative to the ISNs (re-based at every SYN, as a
//! new connection has a new ISN), payload length — and times from the
//! first segment within 5 % or 10 ms, whichever is larger. A client segment
//! is timed when the client sends it; a server segment when it reaches the
//! client: the server's send time plus the link's 10 ms (a segment a fault
//! drops still passed the capture point, as nftables drops it on the
//! receiver's input hook). Window fields and options are held to the
//! captures segment by segment by the TCP crate's own trace tests
//! (`crates/tcp/tests/conformance/linux_traces.rs`); here the whole
//! experiment file — applications, faults, timers — is what is tested.
//!
//! Two events that put nothing on the wire are compared too, with the same
//! slack, where the capture has them: a failed client read (`# app: ...
//! client recv failed errno=ECONNRESET` / `ETIMEDOUT`) against tcpsim's
//! client `app error` (reset / timed out), and the end of the client's
//! socket seen by the `ss` watcher (`gone: FIN-WAIT-2 ...` followed by `(no
//! socket)`, sampled every 50 ms) against tcpsim's client leaving that
//! state for CLOSED.

use std::path::Path;

use tcpsim_net::{AppCall, AppError, TraceKind, TraceRecord};
use tcpsim_runner::build::{Keep, build};
use tcpsim_tcp::Flags;
use tcpsim_tcp::State;

/// The capture's one-way delay, in µs.
const DELAY_US: u64 = 10_000;

/// A config, the traces it may match (the kernel breaks some timer ties at
/// random: either outcome passes), and the flags left out of the
/// comparison with the reason.
struct Case {
    config: &'static str,
    traces: &'static [&'static str],
    /// Flag bits not compared, for a difference stated in the file.
    ignore: Flags,
}

const CASES: &[Case] = &[
    Case {
        config: "linux-close-unread",
        traces: &["close_unread"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-half-close-server-writes",
        traces: &["half_close_server_writes"],
        // Linux also pushes the second of the server's three segments
        // (tcp_sendmsg's forced push); tcpsim pushes the last only.
        ignore: Flags::PSH,
    },
    Case {
        config: "linux-reconnect-time-wait",
        traces: &["reconnect_timewait_client"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-linger-zero",
        traces: &["linger0"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-fin-wait-2-orphan",
        traces: &["fin_wait2_orphan"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-fin-wait-2-late-ack",
        traces: &["fin_wait2_orphan_late_ack"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-user-timeout-fin",
        traces: &["user_timeout_fin"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-normal",
        traces: &["normal"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-client_fin_lost",
        traces: &["client_fin_lost"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-last_ack_lost",
        traces: &["last_ack_lost"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-refused",
        traces: &["refused"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-syn_lost_first",
        traces: &["syn_lost_first"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-server_fin_lost",
        traces: &["server_fin_lost", "server_fin_lost-alt"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-synack_lost_first",
        traces: &["synack_lost_first-alt"],
        ignore: Flags::empty(),
    },
    Case {
        config: "linux-user-timeout-fin-orphan",
        traces: &["user_timeout_fin_orphan"],
        ignore: Flags::empty(),
    },
];

/// One segment at the capture point.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seg {
    t_us: u64,
    /// `C>S` or `S>C`.
    dir: &'static str,
    flags: String,
    seq: u32,
    ack: u32,
    len: u32,
}

/// tcpdump's flag letters, in pcap2trace.py's order.
fn letters(f: Flags) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (Flags::SYN, 'S'),
        (Flags::FIN, 'F'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::ACK, 'A'),
    ] {
        if f.contains(bit) {
            s.push(c);
        }
    }
    s
}

/// Without the flags in `ignore`.
fn strip(flags: &str, ignore: Flags) -> String {
    let gone = letters(ignore);
    flags.chars().filter(|c| !gone.contains(*c)).collect()
}

/// Sequence numbers relative to each direction's latest ISN: `raw` holds
/// (direction index, flags, seq, ack) in capture order.
fn rebase(raw: Vec<(u64, usize, String, u32, u32, u32)>) -> Vec<Seg> {
    let mut isn = [0u32; 2];
    raw.into_iter()
        .map(|(t_us, d, flags, seq, ack, len)| {
            if flags.contains('S') {
                isn[d] = seq;
            }
            Seg {
                t_us,
                dir: ["C>S", "S>C"][d],
                seq: seq.wrapping_sub(isn[d]),
                ack: if flags.contains('A') {
                    ack.wrapping_sub(isn[1 - d])
                } else {
                    0
                },
                flags,
                len,
            }
        })
        .collect()
}

/// What happens at the client without a segment, and when (µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quiet {
    /// A read or write fails: reset, or timed out.
    Error(AppError, u64),
    /// The socket ends from this state (a timer that sends nothing).
    Gone(State, u64),
}

/// The quiet events of a capture's `# app:` lines.
fn quiet_captured(name: &str) -> Vec<Quiet> {
    let mut out = Vec::new();
    let mut gone: Option<(State, u64)> = None;
    for line in trace_text(name).lines() {
        let Some(rest) = line.strip_prefix("# app: t_us=") else {
            continue;
        };
        let (t, what) = rest.split_once(' ').unwrap();
        let t: i64 = t.parse().unwrap();
        let t = t.max(0) as u64;
        if let Some(errno) = what.strip_prefix("client recv failed errno=") {
            let e = match errno {
                "ECONNRESET" => AppError::Reset,
                "ETIMEDOUT" => AppError::TimedOut,
                other => panic!("{name}: errno {other} has no tcpsim error"),
            };
            out.push(Quiet::Error(e, t));
        } else if let Some(ss) = what.strip_prefix("client-ss ss: ") {
            if let Some(state) = ss.strip_prefix("gone: ") {
                let state = state.split_whitespace().next().unwrap();
                gone = State::ALL
                    .iter()
                    .copied()
                    .find(|s| s.name() == state)
                    .map(|s| (s, t));
            } else if ss.starts_with("(no socket)") {
                if let Some((state, _)) = gone.take() {
                    out.push(Quiet::Gone(state, t));
                }
            } else {
                gone = None;
            }
        }
    }
    out
}

fn trace_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/linux/{name}.trace"));
    std::fs::read_to_string(&path).unwrap()
}

/// The segments of a capture (`NAME.trace`): its columns are already
/// relative to the first ISN of each direction.
fn captured(name: &str) -> Vec<Seg> {
    let text = trace_text(name);
    let raw = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let d = usize::from(f[1] == "S>C");
            (
                f[0].parse().unwrap(),
                d,
                f[2].to_owned(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
            )
        })
        .collect();
    rebase(raw)
}

/// The segments of a run of `config`, as the client's tun would see them,
/// and the client's quiet events.
fn simulated(config: &str) -> (Vec<Seg>, Vec<Quiet>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/{config}.toml"));
    let exp = tcpsim_runner::parse(
        &std::fs::read_to_string(&path).unwrap(),
        &path.display().to_string(),
    )
    .unwrap();
    let client = exp.host_id("client").unwrap();
    let r = build(&exp, exp.seed, Keep::ALL).unwrap().run();
    let trace: Vec<TraceRecord> = r.trace.unwrap();
    let mut raw: Vec<(u64, usize, String, u32, u32, u32)> = trace
        .iter()
        .filter_map(|t| match &t.kind {
            TraceKind::Send { host, segment, .. } => {
                let from_client = *host == client;
                let at = t.at.as_nanos() / 1000 + if from_client { 0 } else { DELAY_US };
                Some((
                    at,
                    usize::from(!from_client),
                    letters(segment.flags),
                    segment.seq.0,
                    segment.ack.0,
                    segment.len,
                ))
            }
            _ => None,
        })
        .collect();
    // In the capture's order: by time, sends before arrivals of one instant
    // as they happened (a stable sort keeps the run's order).
    raw.sort_by_key(|s| s.0);
    let quiet = trace
        .iter()
        .filter_map(|t| {
            let us = t.at.as_nanos() / 1000;
            match t.kind {
                TraceKind::App {
                    host,
                    call: AppCall::Error(e),
                    ..
                } if host == client => Some(Quiet::Error(e, us)),
                TraceKind::State {
                    host,
                    from,
                    to: State::Closed,
                    ..
                } if host == client => Some(Quiet::Gone(from, us)),
                _ => None,
            }
        })
        .collect();
    (rebase(raw), quiet)
}

/// Whether the capture's quiet events happen in `sim` too, in time.
fn compare_quiet(sim: &[Quiet], kernel: &[Quiet]) -> Result<(), String> {
    for k in kernel {
        let (t, found) = match *k {
            Quiet::Error(e, t) => (
                t,
                sim.iter().find_map(|s| match *s {
                    Quiet::Error(f, u) if f == e => Some(u),
                    _ => None,
                }),
            ),
            Quiet::Gone(state, t) => (
                t,
                sim.iter().find_map(|s| match *s {
                    Quiet::Gone(f, u) if f == state => Some(u),
                    _ => None,
                }),
            ),
        };
        let slack = (t / 20).max(10_000);
        match found {
            Some(u) if u.abs_diff(t) <= slack => {}
            Some(u) => {
                return Err(format!("{k:?}: tcpsim at {u} µs, not within {slack} µs"));
            }
            None => return Err(format!("{k:?}: tcpsim has no such event")),
        }
    }
    Ok(())
}

/// The first difference between `sim` and `kernel` by SPEC §5, if any.
fn compare(sim: &[Seg], kernel: &[Seg], ignore: Flags) -> Result<(), String> {
    for dir in ["C>S", "S>C"] {
        let a: Vec<&Seg> = sim.iter().filter(|s| s.dir == dir).collect();
        let b: Vec<&Seg> = kernel.iter().filter(|s| s.dir == dir).collect();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let same = strip(&x.flags, ignore) == strip(&y.flags, ignore)
                && x.seq == y.seq
                && x.ack == y.ack
                && x.len == y.len;
            let slack = (y.t_us / 20).max(10_000);
            if !same || x.t_us.abs_diff(y.t_us) > slack {
                return Err(format!(
                    "{dir} segment {i}: tcpsim {x:?}, kernel {y:?} (times within {slack} µs)"
                ));
            }
        }
        if a.len() != b.len() {
            return Err(format!(
                "{dir}: tcpsim sends {} segments, the kernel {}",
                a.len(),
                b.len()
            ));
        }
    }
    Ok(())
}

#[test]
fn linux_configs_match_their_kernel_captures() {
    let mut failures = Vec::new();
    for case in CASES {
        let (sim, quiet) = simulated(case.config);
        let verdicts: Vec<String> = case
            .traces
            .iter()
            .filter_map(|t| {
                compare(&sim, &captured(t), case.ignore)
                    .and_then(|()| compare_quiet(&quiet, &quiet_captured(t)))
                    .err()
                    .map(|e| format!("{t}: {e}"))
            })
            .collect();
        if verdicts.len() == case.traces.len() {
            failures.push(format!("{}: {}", case.config, verdicts.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_sees_a_wrong_flag_a_late_segment_and_a_missing_one() {
    let kernel = captured("close_unread");
    assert_eq!(compare(&kernel, &kernel, Flags::empty()), Ok(()));
    let mut flag = kernel.clone();
    flag.last_mut().unwrap().flags = "A".into();
    assert!(compare(&flag, &kernel, Flags::empty()).is_err());
    let mut late = kernel.clone();
    // The RST reaches the client at 90.769 ms: 5 % of that is under 10 ms,
    // so 10 ms is the slack and 10.001 ms more is too late.
    late.last_mut().unwrap().t_us += 10_001;
    assert!(compare(&late, &kernel, Flags::empty()).is_err());
    late.last_mut().unwrap().t_us -= 2;
    assert_eq!(compare(&late, &kernel, Flags::empty()), Ok(()));
    assert!(compare(&kernel[..kernel.len() - 1], &kernel, Flags::empty()).is_err());
}

#[test]
fn the_quiet_events_of_the_captures_are_read() {
    // user_timeout_fin: the read fails with ETIMEDOUT at 3598281 µs, and
    // the watcher finds the FIN-WAIT-1 socket gone at 3600572 µs, then no
    // socket at 3600591 µs.
    assert_eq!(
        quiet_captured("user_timeout_fin"),
        vec![
            Quiet::Error(AppError::TimedOut, 3_598_281),
            Quiet::Gone(State::FinWait1, 3_600_591)
        ]
    );
    // fin_wait2_orphan: FIN-WAIT-2 is gone at the sample of 60338877 µs,
    // followed by "(no socket)" at 60338908 µs.
    assert_eq!(
        quiet_captured("fin_wait2_orphan"),
        vec![Quiet::Gone(State::FinWait2, 60_338_908)]
    );
    // The slack there is 5 % of 60338908 µs: 3016945 µs.
    let late = [Quiet::Gone(State::FinWait2, 60_338_908 + 3_016_945)];
    assert_eq!(
        compare_quiet(&late, &quiet_captured("fin_wait2_orphan")),
        Ok(())
    );
    let far = [Quiet::Gone(State::FinWait2, 60_338_908 + 3_016_946)];
    assert!(compare_quiet(&far, &quiet_captured("fin_wait2_orphan")).is_err());
    assert!(compare_quiet(&[], &quiet_captured("fin_wait2_orphan")).is_err());
}
