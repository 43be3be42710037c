//! The JSON report of one run (tcpsim SPEC §4).
//!
//! One object; times are integer nanoseconds of virtual time; every map is
//! written in a fixed order, so the same file and seed give byte-identical
//! output on any machine.
//!
//! # Segment options
//!
//! A `segment` object carries `options` with SPEC §4's keys, in this order,
//! each only when the segment carries that option: `mss`, `sack_permitted`
//! (`true`), `ts` (`[val, ecr]`), `wscale` (the shift), `sack` (`[[left,
//! right], ...]`, absolute sequence numbers, right edge exclusive, as sent).
//!
//! Whether `options` appears at all is decided per run, by
//! [`options_in_use`]: when some segment of the run carries an option other
//! than MSS (window scale, SACK-permitted, timestamps or SACK blocks), every
//! segment object that carries any option, MSS included, has `options`;
//! otherwise no segment object has it. Every SYN carries MSS, and in a run
//! where nothing else is ever sent (every run of the `rfc` and `linux`
//! profiles with their default options) the MSS alone is left out, so those
//! reports read as they did before options existed; in a run with options
//! switched on the objects are complete, down to the `{"mss": 1460}` of a
//! SYN-ACK that declined everything a SYN offered. A segment with no option
//! at all never has the key. The text timeline follows the same rule
//! ([`crate::timeline`]).

use serde_json::{Map, Value, json};
use tcpsim_net::{AppCall, ConnReport, EndReport, KindCounts, RunResult, SegmentInfo, TraceKind};
use tcpsim_tcp::Instant;

use crate::evaluate::Check;
use crate::experiment::Experiment;
use crate::timeline::KIND_ORDER;

/// The report format's version.
pub const SCHEMA: u32 = 1;

/// What a run's JSON report, text timeline and diagram say about the
/// experiment besides the run: its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta<'a> {
    /// Experiment name.
    pub name: &'a str,
    /// Seed of the run.
    pub seed: u64,
    /// Profile name.
    pub profile: &'a str,
}

impl<'a> Meta<'a> {
    /// The header of a run of `exp` with `seed`.
    pub fn new(exp: &'a Experiment, seed: u64) -> Meta<'a> {
        Meta {
            name: &exp.name,
            seed,
            profile: exp.profile.name(),
        }
    }
}

fn ns(t: Instant) -> Value {
    Value::from(t.as_nanos())
}

fn opt_ns(t: Option<Instant>) -> Value {
    t.map_or(Value::Null, ns)
}

/// Whether the run's segment objects and timeline lines show options: some
/// segment in its trace carries an option other than MSS (see the module
/// docs).
pub fn options_in_use(r: &RunResult) -> bool {
    r.trace.iter().flatten().any(|t| match t.kind {
        TraceKind::Send { segment, .. }
        | TraceKind::Drop { segment, .. }
        | TraceKind::Deliver { segment, .. } => !segment.options.is_empty(),
        TraceKind::App { .. } | TraceKind::State { .. } | TraceKind::Timer { .. } => false,
    })
}

/// The `options` object of a segment (SPEC §4), `None` when it carries no
/// option at all.
pub fn options(s: &SegmentInfo) -> Option<Value> {
    let o = &s.options;
    if s.mss.is_none() && o.is_empty() {
        return None;
    }
    let mut m = Map::new();
    if let Some(mss) = s.mss {
        m.insert("mss".into(), mss.into());
    }
    if o.sack_permitted {
        m.insert("sack_permitted".into(), true.into());
    }
    if let Some(ts) = o.timestamps {
        m.insert("ts".into(), json!([ts.val, ts.ecr]));
    }
    if let Some(shift) = o.window_scale {
        m.insert("wscale".into(), shift.into());
    }
    if !o.sack.is_empty() {
        let blocks: Vec<Value> = o
            .sack
            .as_slice()
            .iter()
            .map(|(l, r)| json!([l.0, r.0]))
            .collect();
        m.insert("sack".into(), blocks.into());
    }
    Some(Value::Object(m))
}

/// The segment object: addresses, flag names, numbers, length, window, and
/// with `show_options` ([`options_in_use`]) its `options`, if it has any.
pub fn segment(s: &SegmentInfo, show_options: bool) -> Value {
    let mut v = json!({
        "src": s.src.to_string(),
        "dst": s.dst.to_string(),
        "flags": s.flags.names().collect::<Vec<_>>(),
        "seq": s.seq.0,
        "ack": s.ack.0,
        "len": s.len,
        "win": s.win,
    });
    if let (true, Some(o), Value::Object(m)) = (show_options, options(s), &mut v) {
        m.insert("options".into(), o);
    }
    v
}

fn conn(c: Option<u32>) -> Value {
    c.map_or(Value::Null, Value::from)
}

fn kinds(k: &KindCounts) -> Value {
    let mut m = Map::new();
    for kind in KIND_ORDER {
        m.insert(kind.name().to_string(), Value::from(k.get(kind)));
    }
    Value::Object(m)
}

fn event(r: &RunResult, show_options: bool, at: Instant, kind: &TraceKind) -> Value {
    let host = |i: usize| Value::from(r.host_names.get(i).map_or("?", String::as_str));
    let mut m = Map::new();
    m.insert("t_ns".into(), ns(at));
    match *kind {
        TraceKind::App {
            host: h,
            conn: c,
            call,
        } => {
            m.insert("type".into(), "app".into());
            m.insert("host".into(), host(h));
            m.insert("conn".into(), conn(c));
            m.insert("call".into(), call.name().into());
            match call {
                AppCall::Error(e) => {
                    m.insert("detail".into(), e.detail().into());
                }
                AppCall::Write(n) => {
                    m.insert("bytes".into(), n.into());
                }
                _ => {}
            }
        }
        TraceKind::Send {
            host: h,
            conn: c,
            retransmission,
            segment: s,
        } => {
            m.insert("type".into(), "send".into());
            m.insert("host".into(), host(h));
            m.insert("conn".into(), conn(c));
            m.insert("retransmission".into(), retransmission.is_some().into());
            if let Some(cause) = retransmission {
                m.insert("cause".into(), cause.name().into());
            }
            m.insert("segment".into(), segment(&s, show_options));
        }
        TraceKind::Drop {
            from,
            to,
            reason,
            segment: s,
        } => {
            let to = to.map_or_else(
                || s.dst.ip().to_string(),
                |t| r.host_names.get(t).cloned().unwrap_or_default(),
            );
            m.insert("type".into(), "drop".into());
            m.insert(
                "link".into(),
                format!(
                    "{}->{}",
                    r.host_names.get(from).map_or("?", String::as_str),
                    to
                )
                .into(),
            );
            m.insert("reason".into(), reason.name().into());
            m.insert("segment".into(), segment(&s, show_options));
        }
        TraceKind::Deliver {
            host: h,
            segment: s,
        } => {
            m.insert("type".into(), "deliver".into());
            m.insert("host".into(), host(h));
            m.insert("segment".into(), segment(&s, show_options));
        }
        TraceKind::State {
            host: h,
            conn: c,
            from,
            to,
        } => {
            m.insert("type".into(), "state".into());
            m.insert("host".into(), host(h));
            m.insert("conn".into(), conn(c));
            m.insert("from".into(), from.name().into());
            m.insert("to".into(), to.name().into());
        }
        TraceKind::Timer {
            host: h,
            conn: c,
            timer,
        } => {
            m.insert("type".into(), "timer".into());
            m.insert("host".into(), host(h));
            m.insert("conn".into(), conn(c));
            m.insert("timer".into(), timer.name().into());
        }
    }
    Value::Object(m)
}

/// One end's `recovery` object: its TCP connection's final congestion
/// window and slow-start threshold (bytes; `ssthresh` `null` while no loss
/// set it) and its loss-recovery counts, or `null` for an end that never
/// had a TCP connection (docs/report.md).
fn recovery(e: &EndReport) -> Value {
    e.recovery.map_or(Value::Null, |s| {
        json!({
            "cwnd": s.cwnd,
            "ssthresh": s.ssthresh,
            "fast_retransmits": s.fast_retransmits,
            "rack_losses": s.rack_losses,
            "tlp_probes": s.tlp_probes,
            "rtos": s.rtos,
            "undos": s.undos,
        })
    })
}

/// The `connections` entry of one connection.
pub fn connection(r: &RunResult, c: &ConnReport) -> Value {
    let name = |i: usize| r.host_names.get(i).cloned().unwrap_or_default();
    json!({
        "id": c.id,
        "client": name(c.workload.client),
        "server": name(c.workload.server),
        "port": c.workload.port,
        "client_port": c.client.port,
        "outcome": c.outcome.name(),
        "opened_ns": ns(c.opened),
        "established_ns": opt_ns(c.client.established),
        "server_established_ns": opt_ns(c.server.established),
        "closed_ns": opt_ns(c.closed),
        "ended_ns": ns(c.ended),
        "client_state": c.client.state.name(),
        "server_state": c.server.state.name(),
        "retransmissions": kinds(&c.retransmissions()),
        "sent": kinds(&c.sent()),
        "bytes": {
            "client_to_server": c.server.bytes_read,
            "server_to_client": c.client.bytes_read,
        },
        "recovery": {
            "client": recovery(&c.client),
            "server": recovery(&c.server),
        },
    })
}

/// The whole report.
pub fn report(meta: &Meta<'_>, r: &RunResult, checks: &[Check]) -> Value {
    let show_options = options_in_use(r);
    let events: Vec<Value> = r
        .trace
        .iter()
        .flatten()
        .map(|t| event(r, show_options, t.at, &t.kind))
        .collect();
    let connections: Vec<Value> = r.connections.iter().map(|c| connection(r, c)).collect();
    let expectations: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "expected": c.expected,
                "actual": c.actual,
                "passed": c.passed,
            })
        })
        .collect();
    json!({
        "tcpsim": env!("CARGO_PKG_VERSION"),
        "experiment": meta.name,
        "seed": meta.seed,
        "profile": meta.profile,
        "schema": SCHEMA,
        "end_ns": ns(r.end),
        "stop_reason": r.stop_reason.name(),
        "events": events,
        "connections": connections,
        "expectations": expectations,
        "passed": checks.iter().all(|c| c.passed),
    })
}
