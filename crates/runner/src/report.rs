//! The JSON report of one run (tcpsim SPEC §4).
//!
//! One object; times are integer nanoseconds of virtual time; every map is
//! written in a fixed order, so the same file and seed give byte-identical
//! output on any machine.
//!
//! The report is a value of public types, [`Report`] and the types of its
//! parts ([`Event`], [`ConnectionReport`], ...), that derive serde's
//! `Serialize` and `Deserialize`: [`report`] builds it from a run, the JSON
//! is its serialisation, and `serde_json::from_str::<Report>` reads it back
//! into an equal value. [`ReportWriter`] writes the same bytes one event at
//! a time, for a report whose events are not all kept in memory.
//!
//! ```
//! use tcpsim_runner::report::{EventKind, Report, report, Meta};
//!
//! let exp = tcpsim_runner::parse(
//!     r#"
//! name = "doc"
//! [[hosts]]
//! name = "client"
//! addr = "10.0.0.1"
//! [[hosts]]
//! name = "server"
//! addr = "10.0.0.2"
//! listen = [80]
//! [[links]]
//! a = "client"
//! b = "server"
//! delay = "50ms"
//! [[connections]]
//! client = "client"
//! server = "server"
//! port = 80
//! "#,
//!     "doc.toml",
//! )
//! .unwrap();
//! let sim = tcpsim_runner::build::build(&exp, 1, tcpsim_runner::build::Keep::ALL).unwrap();
//! let run = sim.run();
//! let value = report(&Meta::new(&exp, 1), &run, &[]);
//! let json = serde_json::to_string_pretty(&value).unwrap();
//! let back: Report = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, value);
//! assert!(matches!(back.events[0].kind, EventKind::App(_)));
//! ```
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

use tcpsim_net::{
    AppCall, ConnReport, EndReport, KindCounts, RunResult, SegmentInfo, Shut, TraceKind,
    TraceRecord, Wait,
};
use tcpsim_tcp::{Instant, SegmentKind};

use crate::evaluate::Check;
use crate::experiment::Experiment;

mod spill;
mod stream;
mod types;

pub use spill::{Records, Spill, Spilled};
pub use stream::ReportWriter;
pub use types::{
    AppEvent, ByteCounts, Call, ConnectionReport, DeliverEvent, DropEvent, EndRecovery, Event,
    EventKind, Expectation, Recovery, Report, SegmentCounts, SegmentOptions, SegmentReport,
    SendEvent, StateEvent, TimerEvent,
};

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

fn ns(t: Instant) -> u64 {
    t.as_nanos()
}

/// Whether the run's segment objects and timeline lines show options: some
/// segment in its trace carries an option other than MSS (see the module
/// docs).
pub fn options_in_use(r: &RunResult) -> bool {
    r.trace.iter().flatten().any(uses_options)
}

/// Whether this record alone makes its run show options: a segment that
/// carries an option other than MSS. [`options_in_use`] is whether some
/// record of the run does; a run whose trace is not kept
/// ([`tcpsim_net::Sim::run_to`]) asks each record as it goes.
pub fn uses_options(rec: &TraceRecord) -> bool {
    match rec.kind {
        TraceKind::Send { segment, .. }
        | TraceKind::Drop { segment, .. }
        | TraceKind::Deliver { segment, .. } => !segment.options.is_empty(),
        TraceKind::App { .. } | TraceKind::State { .. } | TraceKind::Timer { .. } => false,
    }
}

impl SegmentOptions {
    /// The `options` object of a segment (SPEC §4), `None` when it carries
    /// no option at all.
    pub fn of(s: &SegmentInfo) -> Option<SegmentOptions> {
        let o = &s.options;
        if s.mss.is_none() && o.is_empty() {
            return None;
        }
        Some(SegmentOptions {
            mss: s.mss,
            sack_permitted: o.sack_permitted,
            ts: o.timestamps.map(|ts| [ts.val, ts.ecr]),
            wscale: o.window_scale,
            sack: o.sack.as_slice().iter().map(|(l, r)| [l.0, r.0]).collect(),
        })
    }
}

impl SegmentReport {
    /// The segment object: addresses, flag names, numbers, length, window,
    /// and with `show_options` ([`options_in_use`]) its `options`, if it
    /// has any.
    pub fn new(s: &SegmentInfo, show_options: bool) -> SegmentReport {
        SegmentReport {
            src: s.src,
            dst: s.dst,
            flags: s.flags.names().map(str::to_string).collect(),
            seq: s.seq.0,
            ack: s.ack.0,
            len: s.len,
            win: s.win,
            options: if show_options {
                SegmentOptions::of(s)
            } else {
                None
            },
        }
    }
}

impl From<AppCall> for Call {
    fn from(call: AppCall) -> Call {
        match call {
            AppCall::Connect => Call::Connect,
            AppCall::Listen => Call::Listen,
            AppCall::Accept => Call::Accept,
            AppCall::Write(bytes) => Call::Write { bytes },
            AppCall::Close => Call::Close,
            AppCall::Abort => Call::Abort,
            AppCall::Eof => Call::Eof,
            AppCall::Error(e) => Call::Error {
                detail: e.detail().to_string(),
            },
            AppCall::Read(bytes) => Call::Read { bytes },
            AppCall::Shutdown(Shut::Write) => Call::Shutdown,
            AppCall::Shutdown(Shut::Read) => Call::ShutdownRead,
            AppCall::Shutdown(Shut::Both) => Call::ShutdownBoth,
            AppCall::Waited(Wait::Sleep) => Call::Sleep,
            AppCall::Waited(Wait::At) => Call::At,
            AppCall::Waited(Wait::Acked) => Call::WaitAcked,
        }
    }
}

impl Event {
    /// The event of one trace record of run `r` (`show_options`:
    /// [`options_in_use`] of the run).
    pub fn new(r: &RunResult, show_options: bool, at: Instant, kind: &TraceKind) -> Event {
        let host = |i: usize| r.host_names.get(i).map_or("?", String::as_str).to_string();
        let segment = |s: &SegmentInfo| SegmentReport::new(s, show_options);
        let kind = match *kind {
            TraceKind::App {
                host: h,
                conn,
                call,
            } => EventKind::App(AppEvent {
                host: host(h),
                conn,
                call: call.into(),
            }),
            TraceKind::Send {
                host: h,
                conn,
                retransmission,
                segment: s,
            } => EventKind::Send(SendEvent {
                host: host(h),
                conn,
                retransmission: retransmission.is_some(),
                cause: retransmission.map(|c| c.name().to_string()),
                segment: segment(&s),
            }),
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
                EventKind::Drop(DropEvent {
                    link: format!("{}->{to}", host(from)),
                    reason: reason.name().to_string(),
                    segment: segment(&s),
                })
            }
            TraceKind::Deliver {
                host: h,
                segment: s,
            } => EventKind::Deliver(DeliverEvent {
                host: host(h),
                segment: segment(&s),
            }),
            TraceKind::State {
                host: h,
                conn,
                from,
                to,
            } => EventKind::State(StateEvent {
                host: host(h),
                conn,
                from: from.name().to_string(),
                to: to.name().to_string(),
            }),
            TraceKind::Timer {
                host: h,
                conn,
                timer,
            } => EventKind::Timer(TimerEvent {
                host: host(h),
                conn,
                timer: timer.name().to_string(),
            }),
        };
        Event { t_ns: ns(at), kind }
    }
}

impl From<&KindCounts> for SegmentCounts {
    fn from(k: &KindCounts) -> SegmentCounts {
        SegmentCounts {
            syn: k.get(SegmentKind::Syn),
            syn_ack: k.get(SegmentKind::SynAck),
            ack: k.get(SegmentKind::Ack),
            data: k.get(SegmentKind::Data),
            fin: k.get(SegmentKind::Fin),
            rst: k.get(SegmentKind::Rst),
        }
    }
}

impl EndRecovery {
    /// One end's `recovery` entry: its TCP connection's final congestion
    /// window and slow-start threshold and its loss-recovery counts, or
    /// `None` for an end that never had a TCP connection (docs/report.md).
    pub fn of(e: &EndReport) -> Option<EndRecovery> {
        e.recovery.map(|s| EndRecovery {
            cwnd: s.cwnd,
            ssthresh: s.ssthresh,
            fast_retransmits: s.fast_retransmits,
            rack_losses: s.rack_losses,
            tlp_probes: s.tlp_probes,
            rtos: s.rtos,
            undos: s.undos,
        })
    }
}

impl ConnectionReport {
    /// The `connections` entry of connection `c` of run `r`.
    pub fn new(r: &RunResult, c: &ConnReport) -> ConnectionReport {
        let name = |i: usize| r.host_names.get(i).cloned().unwrap_or_default();
        ConnectionReport {
            id: c.id,
            client: name(c.workload.client),
            server: name(c.workload.server),
            port: c.workload.port,
            client_port: c.client.port,
            outcome: c.outcome.name().to_string(),
            opened_ns: ns(c.opened),
            established_ns: c.client.established.map(ns),
            server_established_ns: c.server.established.map(ns),
            closed_ns: c.closed.map(ns),
            ended_ns: ns(c.ended),
            client_state: c.client.state.name().to_string(),
            server_state: c.server.state.name().to_string(),
            retransmissions: (&c.retransmissions()).into(),
            sent: (&c.sent()).into(),
            bytes: ByteCounts {
                client_to_server: c.server.bytes_read,
                server_to_client: c.client.bytes_read,
            },
            recovery: Recovery {
                client: EndRecovery::of(&c.client),
                server: EndRecovery::of(&c.server),
            },
        }
    }
}

impl From<&Check> for Expectation {
    fn from(c: &Check) -> Expectation {
        Expectation {
            name: c.name.clone(),
            expected: c.expected.clone(),
            actual: c.actual.clone(),
            passed: c.passed,
        }
    }
}

impl Report {
    /// The report of run `r` with the header `meta` and the checks of its
    /// `[expect]`, with no event yet: [`report`] adds them, a
    /// [`ReportWriter`] writes them one by one ([`events`]).
    pub fn without_events(meta: &Meta<'_>, r: &RunResult, checks: &[Check]) -> Report {
        Report {
            tcpsim: env!("CARGO_PKG_VERSION").to_string(),
            experiment: meta.name.to_string(),
            seed: meta.seed,
            profile: meta.profile.to_string(),
            schema: SCHEMA,
            end_ns: ns(r.end),
            stop_reason: r.stop_reason.name().to_string(),
            events: Vec::new(),
            connections: r
                .connections
                .iter()
                .map(|c| ConnectionReport::new(r, c))
                .collect(),
            expectations: checks.iter().map(Expectation::from).collect(),
            passed: checks.iter().all(|c| c.passed),
        }
    }
}

/// The events of run `r`, one per trace record, in order (none if the run
/// kept no trace).
pub fn events(r: &RunResult) -> impl Iterator<Item = Event> + '_ {
    let show_options = options_in_use(r);
    r.trace
        .iter()
        .flatten()
        .map(move |t| Event::new(r, show_options, t.at, &t.kind))
}

/// The whole report of run `r`.
pub fn report(meta: &Meta<'_>, r: &RunResult, checks: &[Check]) -> Report {
    Report {
        events: events(r).collect(),
        ..Report::without_events(meta, r, checks)
    }
}

/// The report as compact JSON (what `serde_json::to_string` writes).
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&json)
    }
}

#[cfg(test)]
mod tests {
    use tcpsim_net::AppError;

    use super::*;
    use crate::timeline::KIND_ORDER;

    #[test]
    fn call_names_are_the_trace_names() {
        let calls = [
            AppCall::Connect,
            AppCall::Listen,
            AppCall::Accept,
            AppCall::Write(3),
            AppCall::Close,
            AppCall::Abort,
            AppCall::Eof,
            AppCall::Error(AppError::TimedOut),
        ];
        for call in calls {
            let v = serde_json::to_value(Call::from(call)).unwrap();
            assert_eq!(v["call"], call.name(), "{v}");
        }
        let write = serde_json::to_string(&Call::from(AppCall::Write(3))).unwrap();
        assert_eq!(write, r#"{"call":"write","bytes":3}"#);
        let error = serde_json::to_string(&Call::from(AppCall::Error(AppError::Refused))).unwrap();
        assert_eq!(error, r#"{"call":"error","detail":"connection refused"}"#);
    }

    #[test]
    fn segment_count_keys_are_the_kinds_in_report_order() {
        let v = serde_json::to_value(SegmentCounts::default()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, KIND_ORDER.map(SegmentKind::name));
        // Each field counts its own kind.
        for (i, kind) in KIND_ORDER.into_iter().enumerate() {
            let mut k = KindCounts::default();
            for _ in 0..=i {
                k.bump(kind);
            }
            let v = serde_json::to_value(SegmentCounts::from(&k)).unwrap();
            assert_eq!(v[kind.name()], i + 1, "{v}");
        }
    }

    #[test]
    fn an_event_has_its_time_first_then_its_type() {
        let e = Event {
            t_ns: 5,
            kind: EventKind::Timer(TimerEvent {
                host: "client".into(),
                conn: None,
                timer: "retransmit".into(),
            }),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"t_ns":5,"type":"timer","host":"client","conn":null,"timer":"retransmit"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    }
}
