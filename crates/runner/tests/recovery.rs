//! Why a segment was sent again, and each connection end's final
//! congestion state and loss-recovery counts, in the JSON report and the
//! text timeline (SPEC §4, issue 14, docs/report.md): runs built with the
//! net builder.
//!
//! Every expected value comes from the RFCs, the profiles' documented
//! behaviour or arithmetic written here, never from a run: the `rfc`
//! profile's initial RTO is 1 s and doubles on each expiry (RFC 6298 §2.1,
//! §5.5), so SYNs lost at 0 and 1 s are sent again at 1 s and 3 s; a lost
//! segment that is alone in flight can only be recovered by the timer (no
//! duplicate ACKs, RFC 5681 §3.2; no RACK or tail loss probes under `rfc`,
//! SPEC §5), so the RTO count is the number of such losses; the `linux`
//! profile answers a duplicate SYN in SYN-RECEIVED with its SYN-ACK again
//! (SPEC §5 "duplicate SYN in SYN-RECEIVED"). Exact windows are not
//! asserted: they are the congestion control's to decide.

use std::net::Ipv4Addr;

use serde_json::Value;
use tcpsim_net::{
    CloseMode, FaultAction, HostId, LinkParams, OpenMode, RunResult, SimBuilder, Workload, fault,
};
use tcpsim_runner::report::{Meta, report};
use tcpsim_runner::timeline::render;
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind};

const NS_PER_MS: u64 = 1_000_000;

/// A run's header; the name and seed only label the output.
const META: Meta<'static> = Meta {
    name: "recovery",
    seed: 1,
    profile: "rfc",
};

/// One drop rule: the `nth` segments of `kind` from `from` (0 client,
/// 1 server) to the other host.
struct Drop {
    from: usize,
    kind: SegmentKind,
    nth: &'static [u32],
}

/// Client 10.0.0.1 and server 10.0.0.2, `delay_ms` apart, both with
/// `config`; the client writes `client_sends` bytes and closes first.
struct Setup {
    config: Config,
    delay_ms: u64,
    client_sends: u64,
    drops: &'static [Drop],
    /// Whether the server listens on the connection's port 80.
    listen: bool,
    /// The run's virtual-time bound, if not the default.
    duration: Option<Duration>,
}

impl Setup {
    fn new(config: Config, delay_ms: u64) -> Setup {
        Setup {
            config,
            delay_ms,
            client_sends: 0,
            drops: &[],
            listen: true,
            duration: None,
        }
    }

    fn run(&self) -> RunResult {
        let mut b = SimBuilder::new(1);
        let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), self.config);
        let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), self.config);
        if self.listen {
            b.listen(server, 80);
        }
        if let Some(d) = self.duration {
            b.duration(d);
        }
        let link = LinkParams {
            delay: Duration::from_millis(self.delay_ms),
            ..LinkParams::default()
        };
        b.link(client, server, link.clone(), link);
        let hosts: [HostId; 2] = [client, server];
        for d in self.drops {
            b.fault(fault(
                FaultAction::Drop,
                Some(hosts[d.from]),
                Some(hosts[1 - d.from]),
                &[d.kind],
                Some(d.nth),
            ));
        }
        b.connection(Workload {
            client,
            server,
            port: 80,
            open_at: Instant::ZERO,
            open: OpenMode::Active,
            client_port: None,
            client_sends: self.client_sends,
            server_sends: 0,
            close: CloseMode::ClientFirst,
            close_at: None,
        });
        b.build().unwrap().run()
    }
}

/// The JSON report, as `run --format json` writes it, parsed back.
fn json(r: &RunResult) -> Value {
    let text = serde_json::to_string_pretty(&report(&META, r, &[])).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One `send` event of the report, with its timeline line.
struct Sent {
    t_ns: u64,
    host: String,
    event: Value,
    line: String,
}

impl Sent {
    fn flags(&self) -> Vec<&str> {
        self.event["segment"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect()
    }
    fn retransmission(&self) -> bool {
        self.event["retransmission"].as_bool().unwrap()
    }
    /// The `cause` key: `None` when the event has none.
    fn cause(&self) -> Option<&str> {
        self.event.get("cause").map(|c| c.as_str().unwrap())
    }
}

/// The `send` events of a run in order, each with its timeline line (the
/// timeline has one line per event after its header, in the same order).
fn sends(r: &RunResult) -> Vec<Sent> {
    let report = json(r);
    let timeline = render(&META, r);
    let lines: Vec<&str> = timeline.lines().skip(1).collect();
    let events = report["events"].as_array().unwrap();
    assert!(
        lines.len() > events.len(),
        "a line per event, then the summary"
    );
    events
        .iter()
        .zip(&lines)
        .filter(|(e, _)| e["type"] == "send")
        .map(|(e, line)| Sent {
            t_ns: e["t_ns"].as_u64().unwrap(),
            host: e["host"].as_str().unwrap().to_owned(),
            event: e.clone(),
            line: (*line).to_owned(),
        })
        .collect()
}

/// A first transmission has `retransmission: false`, no `cause` and no
/// mark in the timeline; a retransmission has `retransmission: true`, its
/// `cause` right after it, and the mark at the end of its line.
fn assert_consistent(s: &Sent) {
    match s.cause() {
        None => {
            assert!(!s.retransmission(), "{}", s.event);
            assert!(!s.line.contains("retransmission"), "{}", s.line);
        }
        Some(cause) => {
            assert!(s.retransmission(), "{}", s.event);
            let keys: Vec<&String> = s.event.as_object().unwrap().keys().collect();
            let at = keys.iter().position(|k| *k == "retransmission").unwrap();
            assert_eq!(keys[at + 1], "cause", "{}", s.event);
            assert!(
                s.line.ends_with(&format!("  (retransmission: {cause})")),
                "{}",
                s.line
            );
        }
    }
}

#[test]
fn a_syn_sent_again_by_the_timer_is_marked_rto() {
    // The client's first two SYNs are lost: the timer sends the SYN again
    // at 1 s (the initial RTO) and at 1 + 2 = 3 s (backed off, RFC 6298
    // §5.5); the third gets through.
    let r = Setup {
        drops: &[Drop {
            from: 0,
            kind: SegmentKind::Syn,
            nth: &[1, 2],
        }],
        ..Setup::new(Config::rfc(), 50)
    }
    .run();
    let sent = sends(&r);
    for s in &sent {
        assert_consistent(s);
    }
    let syns: Vec<(u64, Option<&str>)> = sent
        .iter()
        .filter(|s| s.flags() == ["SYN"])
        .map(|s| (s.t_ns / NS_PER_MS, s.cause()))
        .collect();
    assert_eq!(syns, [(0, None), (1000, Some("rto")), (3000, Some("rto"))]);
    let lines: Vec<&str> = sent
        .iter()
        .filter(|s| s.flags() == ["SYN"])
        .map(|s| s.line.as_str())
        .collect();
    // rfc SYNs carry no option besides MSS, so the timeline shows none
    // (docs/report.md); the window is the rfc receive window, 65535.
    assert_eq!(
        lines,
        [
            "0.000000000  client > server  [S]    seq 0, win 65535, len 0",
            "1.000000000  client > server  [S]    seq 0, win 65535, len 0  (retransmission: rto)",
            "3.000000000  client > server  [S]    seq 0, win 65535, len 0  (retransmission: rto)",
        ]
    );
    // Nothing else is lost, so nothing else is sent again.
    assert!(
        sent.iter()
            .filter(|s| s.flags() != ["SYN"])
            .all(|s| !s.retransmission())
    );
}

#[test]
fn a_synack_answering_a_duplicate_syn_is_marked_dup_syn() {
    // linux, 10 ms each way, the server's first SYN-ACK lost (as
    // configs/linux-synack_lost_first.toml): the server's SYN-ACK timer
    // (armed at 10 ms, initial RTO 1 s) fires at 1.01 s and sends it
    // again; the client's SYN, sent again by its timer at 1 s, arrives at
    // 1.01 s too, after the timer (same-instant events run in the order they
    // were scheduled, SPEC §4), and linux answers the duplicate SYN with the
    // SYN-ACK once more.
    let r = Setup {
        drops: &[Drop {
            from: 1,
            kind: SegmentKind::SynAck,
            nth: &[1],
        }],
        // Exact timers, for the tie: on the timer wheel the two timers
        // fire at 1.024 s and the duplicate SYN arrives 10 ms later.
        ..Setup::new(
            Config {
                timer_wheel: tcpsim_tcp::TimerWheel::Exact,
                ..Config::linux()
            },
            10,
        )
    }
    .run();
    let sent = sends(&r);
    for s in &sent {
        assert_consistent(s);
    }
    let by = |host: &str, flags: &[&str]| -> Vec<(u64, Option<String>)> {
        sent.iter()
            .filter(|s| s.host == host && s.flags() == flags)
            .map(|s| (s.t_ns / NS_PER_MS, s.cause().map(str::to_owned)))
            .collect()
    };
    let some = |c: &str| Some(c.to_owned());
    assert_eq!(by("client", &["SYN"]), [(0, None), (1000, some("rto"))]);
    assert_eq!(
        by("server", &["SYN", "ACK"]),
        [(10, None), (1010, some("rto")), (1010, some("dupsyn"))]
    );
}

/// The `recovery` entry of `end` ("client" or "server") of the run's one
/// connection in the JSON report.
fn recovery(report: &Value, end: &str) -> Value {
    report["connections"][0]["recovery"][end].clone()
}

/// The summary line of `end`'s recovery in the text timeline.
fn recovery_line(r: &RunResult, end: &str) -> String {
    let prefix = format!("  {end} recovery: ");
    let timeline = render(&META, r);
    let mut lines = timeline.lines().filter(|l| l.starts_with(&prefix));
    let line = lines.next().expect("a recovery line per end").to_owned();
    assert_eq!(lines.next(), None, "one connection, one line per end");
    line
}

/// How many retransmissions `host` sent for each cause named `cause`.
fn sent_again(sent: &[Sent], host: &str, cause: &str) -> u64 {
    sent.iter()
        .filter(|s| s.host == host && s.cause() == Some(cause))
        .count() as u64
}

#[test]
fn each_end_counts_its_retransmission_timeouts() {
    // rfc, 50 ms each way; the client writes 100 bytes (one segment) and
    // closes. Lost on the way to the server: the first two SYNs, the data
    // segment, the FIN. Each time that segment is all that is in flight,
    // so no duplicate ACK can come (RFC 5681 §3.2 needs three) and rfc has
    // no RACK or tail loss probes (SPEC §5): each loss costs one expiry of
    // the retransmission timer, which sends the segment again (RFC 6298
    // §5.4). The server loses nothing.
    const DROPS: &[Drop] = &[
        Drop {
            from: 0,
            kind: SegmentKind::Syn,
            nth: &[1, 2],
        },
        Drop {
            from: 0,
            kind: SegmentKind::Data,
            nth: &[1],
        },
        Drop {
            from: 0,
            kind: SegmentKind::Fin,
            nth: &[1],
        },
    ];
    let client_rtos: u64 = DROPS.iter().map(|d| d.nth.len() as u64).sum();
    assert_eq!(client_rtos, 2 + 1 + 1);
    let r = Setup {
        client_sends: 100,
        drops: DROPS,
        ..Setup::new(Config::rfc(), 50)
    }
    .run();

    // Every timeout shows as one `rto` retransmission of the client's.
    let sent = sends(&r);
    for s in &sent {
        assert_consistent(s);
    }
    assert_eq!(sent_again(&sent, "client", "rto"), client_rtos);
    assert!(
        sent.iter()
            .all(|s| s.host == "client" || !s.retransmission())
    );

    let report = json(&r);
    for (end, rtos) in [("client", client_rtos), ("server", 0)] {
        let rec = recovery(&report, end);
        let keys: Vec<&str> = rec
            .as_object()
            .unwrap_or_else(|| panic!("{end}: {rec}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "cwnd",
                "ssthresh",
                "fast_retransmits",
                "rack_losses",
                "tlp_probes",
                "rtos",
                "undos"
            ]
        );
        assert_eq!(rec["rtos"], rtos, "{end}: {rec}");
        // Nothing but the timer recovered anything (see above), and rfc
        // undoes nothing (no timestamps, no D-SACK).
        for key in ["fast_retransmits", "rack_losses", "tlp_probes", "undos"] {
            assert_eq!(rec[key], 0, "{end} {key}: {rec}");
        }
        assert!(rec["cwnd"].as_u64().unwrap() > 0, "{end}: {rec}");
        assert!(
            recovery_line(&r, end).contains(&format!(
                "; fast retransmits 0, RACK losses 0, TLP probes 0, RTOs {rtos}, undos 0"
            )),
            "{}",
            recovery_line(&r, end)
        );
    }
    // The engine counts the same retransmissions by kind.
    let c = &r.connections[0];
    let rtx = c.client.retransmissions;
    assert_eq!(
        [SegmentKind::Syn, SegmentKind::Data, SegmentKind::Fin].map(|k| rtx.get(k)),
        [2, 1, 1]
    );
    assert_eq!(
        c.client.recovery.map(|s| u64::from(s.rtos)),
        Some(client_rtos)
    );
}

#[test]
fn a_run_without_loss_leaves_ssthresh_unset() {
    // No loss, so nothing sets the slow-start threshold (RFC 5681 §3.1
    // sets it on a loss; before that it is "arbitrarily high").
    let r = Setup {
        client_sends: 100,
        ..Setup::new(Config::rfc(), 50)
    }
    .run();
    let report = json(&r);
    for end in ["client", "server"] {
        let rec = recovery(&report, end);
        assert_eq!(rec["ssthresh"], Value::Null, "{end}: {rec}");
        assert_eq!(rec["rtos"], 0, "{end}: {rec}");
        let line = recovery_line(&r, end);
        let cwnd = rec["cwnd"].as_u64().unwrap();
        assert!(
            line.starts_with(&format!("  {end} recovery: cwnd {cwnd}, ssthresh unset; ")),
            "{line}"
        );
    }
}

#[test]
fn an_end_without_a_tcp_connection_has_no_recovery() {
    // Nothing listens on the server: its endpoint answers the SYN with a
    // RST from no connection (RFC 9293 §3.10.7.1), so the server end never
    // has a TCP connection; the client's has existed and is gone.
    let r = Setup {
        listen: false,
        ..Setup::new(Config::rfc(), 50)
    }
    .run();
    assert_eq!(r.connections[0].outcome, tcpsim_net::Outcome::Refused);
    let report = json(&r);
    assert_eq!(recovery(&report, "server"), Value::Null);
    assert_eq!(
        recovery_line(&r, "server"),
        "  server recovery: no TCP connection"
    );
    assert_eq!(recovery(&report, "client")["rtos"], 0);
}

#[test]
fn a_connection_still_there_when_the_run_stops_reports_its_state() {
    // rfc, 50 ms each way, the first SYN lost: SYN again at 1 s (one RTO),
    // ESTABLISHED at 1.1 s, the client's FIN at 1.1 s, the server's at
    // 1.15 s, the client in TIME-WAIT from 1.2 s for 2 × MSL = 240 s. A
    // 2 s bound stops the run with the client still in TIME-WAIT: its
    // state is taken at the end of the run; the server's, CLOSED at
    // 1.25 s, when its endpoint forgot it.
    let r = Setup {
        drops: &[Drop {
            from: 0,
            kind: SegmentKind::Syn,
            nth: &[1],
        }],
        duration: Some(Duration::from_secs(2)),
        ..Setup::new(Config::rfc(), 50)
    }
    .run();
    let c = &r.connections[0];
    assert_eq!(c.client.state, tcpsim_tcp::State::TimeWait);
    assert_eq!(c.server.state, tcpsim_tcp::State::Closed);
    let report = json(&r);
    assert_eq!(recovery(&report, "client")["rtos"], 1);
    assert_eq!(recovery(&report, "server")["rtos"], 0);
}

#[test]
fn a_forgotten_connection_keeps_its_state_when_a_new_one_takes_its_place() {
    // rfc, 50 ms each way, two connections one after the other, the
    // second opened at 5 s. The server's first FIN (connection 0's, at
    // 150 ms) is lost: alone in flight, it waits for the timer, which
    // sends it again one RTO later (RFC 6298 §5.4); connection 0's server
    // end is CLOSED once that FIN is acknowledged, well before 5 s, and
    // the server's endpoint gives connection 1 the place it had. Each end
    // keeps its own counts: 1 RTO for connection 0's server, none for
    // anyone else.
    let mut b = SimBuilder::new(1);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(server, 80);
    let link = LinkParams {
        delay: Duration::from_millis(50),
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    b.fault(fault(
        FaultAction::Drop,
        Some(server),
        Some(client),
        &[SegmentKind::Fin],
        Some(&[1]),
    ));
    for open_at in [Instant::ZERO, Instant::from_secs(5)] {
        b.connection(Workload {
            client,
            server,
            port: 80,
            open_at,
            open: OpenMode::Active,
            client_port: None,
            client_sends: 0,
            server_sends: 0,
            close: CloseMode::ClientFirst,
            close_at: None,
        });
    }
    let r = b.build().unwrap().run();
    assert!(
        r.connections[0]
            .server
            .ended
            .is_some_and(|t| t < Instant::from_secs(5)),
        "connection 0's server end is gone before connection 1 opens"
    );
    let rtos = |conn: usize| {
        let c = &r.connections[conn];
        [&c.client, &c.server].map(|e| e.recovery.map(|s| s.rtos))
    };
    assert_eq!(rtos(0), [Some(0), Some(1)]);
    assert_eq!(rtos(1), [Some(0), Some(0)]);
}
