//! TCP options in the JSON report and the text timeline (SPEC §4, issue
//! 12): runs built with the net builder and `Config` fields set directly.
//!
//! Every expected value is derived from what the configuration offers and
//! from the RFCs, never pasted from a run: window scale 7, SACK-permitted,
//! timestamps on a 1 ms clock (`Config::ts_clock`), MSS 1460, so 1448 bytes
//! of payload per segment (1460 less the 12 of the timestamps option);
//! TSecr 0 in a SYN, the SYN's TSval echoed in the SYN-ACK (RFC 7323 §3.2,
//! §4.3); an option in a SYN-ACK only if the SYN had it (RFC 7323 §1.3,
//! RFC 2018 §2); SACK blocks for out-of-order data (RFC 2018 §4). The
//! TSvals themselves start at a per-connection offset, so they are read from
//! the first segment each side sends and compared with the others.
//!
//! The emission rule (`tcpsim_runner::report` module docs): segment objects
//! and timeline lines show options only in a run where some segment carries
//! an option besides MSS, and then on every segment that carries any.

use std::net::Ipv4Addr;

use serde_json::{Value, json};
use tcpsim_net::{
    CloseMode, FaultAction, LinkParams, OpenMode, RunResult, SimBuilder, Workload, fault,
};
use tcpsim_runner::report::{Meta, report};
use tcpsim_runner::timeline::render;
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind};

/// The one-way delay of the link: 50 ms, so a round trip is 100 ms.
const DELAY_MS: u64 = 50;
/// What the client writes: one full segment (1460 − 12 = 1448 bytes with
/// timestamps) and 552 bytes more.
const CLIENT_SENDS: u64 = 2000;
const FULL_SEGMENT: u64 = 1460 - 12;

/// `rfc` with Nagle off (`TCP_NODELAY`), so that the 552-byte tail goes
/// with the full segment and not after its ACK (RFC 1122 §4.2.3.4): with
/// the first segment dropped it is what the server reports out of order.
fn config(options: bool) -> Config {
    let mut c = Config {
        nagle: tcpsim_tcp::Nagle::Off,
        ..Config::rfc()
    };
    if options {
        c.window_scale = Some(7);
        c.sack = true;
        c.timestamps = true;
    }
    c
}

/// Client 10.0.0.1 and server 10.0.0.2 (listening on 80), 50 ms apart,
/// `rfc` profile with the options each side is given; the client writes
/// [`CLIENT_SENDS`] bytes and closes first. With `drop_first_data` a fault
/// drops the client's first data segment, so the second arrives out of order.
fn run(client_options: bool, server_options: bool, drop_first_data: bool) -> RunResult {
    let mut b = SimBuilder::new(1);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), config(client_options));
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), config(server_options));
    b.listen(server, 80);
    let link = LinkParams {
        delay: Duration::from_millis(DELAY_MS),
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    if drop_first_data {
        b.fault(fault(
            FaultAction::Drop,
            Some(client),
            Some(server),
            &[SegmentKind::Data],
            Some(&[1]),
        ));
    }
    b.connection(Workload {
        client,
        server,
        port: 80,
        open_at: Instant::ZERO,
        open: OpenMode::Active,
        client_port: None,
        client_sends: CLIENT_SENDS,
        server_sends: 0,
        close: CloseMode::ClientFirst,
        close_at: None,
    });
    b.build().unwrap().run()
}

const META: Meta<'static> = Meta {
    name: "options",
    seed: 1,
    profile: "rfc",
};

/// The JSON report, as `run --format json` writes it.
fn json(r: &RunResult) -> String {
    serde_json::to_string_pretty(&report(&META, r, &[])).unwrap()
}

/// One `send` event of the report, with its timeline line.
struct Sent {
    t_ms: u64,
    host: String,
    segment: Value,
    line: String,
}

impl Sent {
    fn flags(&self) -> Vec<&str> {
        self.segment["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect()
    }
    fn is_syn(&self) -> bool {
        self.flags().contains(&"SYN")
    }
    fn num(&self, key: &str) -> u64 {
        self.segment[key].as_u64().unwrap()
    }
    fn options(&self) -> Option<&Value> {
        self.segment.get("options")
    }
    /// `[val, ecr]` of the timestamps option.
    fn ts(&self) -> (u64, u64) {
        let ts = &self.options().expect("options")["ts"];
        (ts[0].as_u64().unwrap(), ts[1].as_u64().unwrap())
    }
}

/// The `send` events of a run in order, each with its timeline line (the
/// timeline has one line per event after its header, in the same order).
fn sends(r: &RunResult) -> Vec<Sent> {
    let report: Value = serde_json::from_str(&json(r)).unwrap();
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
            t_ms: e["t_ns"].as_u64().unwrap() / 1_000_000,
            host: e["host"].as_str().unwrap().to_owned(),
            segment: e["segment"].clone(),
            line: (*line).to_owned(),
        })
        .collect()
}

fn first<'a>(sent: &'a [Sent], host: &str) -> &'a Sent {
    sent.iter().find(|s| s.host == host).unwrap()
}

#[test]
fn both_sides_with_options_show_them_on_every_segment() {
    let sent = sends(&run(true, true, true));
    let syn = first(&sent, "client");
    let synack = first(&sent, "server");
    assert_eq!(syn.flags(), ["SYN"]);
    assert_eq!(synack.flags(), ["SYN", "ACK"]);

    // The SYN offers everything the client's Config does, TSecr 0 (RFC
    // 7323 §3.2), keys in the SPEC's order.
    let (syn_val, syn_ecr) = syn.ts();
    assert_eq!(syn_ecr, 0);
    assert_eq!(
        serde_json::to_string(syn.options().unwrap()).unwrap(),
        format!(r#"{{"mss":1460,"sack_permitted":true,"ts":[{syn_val},0],"wscale":7}}"#)
    );
    // The SYN-ACK agrees to all of it and echoes the SYN's TSval.
    let (synack_val, synack_ecr) = synack.ts();
    assert_eq!(synack_ecr, syn_val, "the SYN-ACK echoes the SYN's TSval");
    assert_eq!(
        synack.options().unwrap(),
        &json!({"mss": 1460, "sack_permitted": true, "ts": [synack_val, syn_val], "wscale": 7})
    );

    // Each side's TSval runs on a 1 ms clock from its first segment.
    for s in &sent {
        let base = first(&sent, &s.host);
        let (val, _) = s.ts();
        assert_eq!(
            val,
            base.ts().0 + (s.t_ms - base.t_ms),
            "TSval of {} at {} ms",
            s.host,
            s.t_ms
        );
    }

    // After the handshake: timestamps on every segment, never MSS, window
    // scale or SACK-permitted (SYN-only options).
    for s in sent.iter().filter(|s| !s.is_syn()) {
        let o = s
            .options()
            .expect("timestamps on every segment")
            .as_object()
            .unwrap();
        for key in ["mss", "wscale", "sack_permitted"] {
            assert!(!o.contains_key(key), "{key} on a non-SYN: {}", s.line);
        }
    }

    // The client's segments after the SYN echo the SYN-ACK's TSval (the
    // server sends nothing in between that the client has to echo first).
    let handshake_ack = sent
        .iter()
        .find(|s| s.host == "client" && !s.is_syn())
        .unwrap();
    assert_eq!(handshake_ack.t_ms, 2 * DELAY_MS);
    assert_eq!(handshake_ack.ts(), (syn_val + 2 * DELAY_MS, synack_val));

    // The data: 1448 + 552 bytes; the first segment is dropped, so the
    // server reports the second in a SACK block, absolute sequence numbers:
    // [ISS + 1 + 1448, ISS + 1 + 2000).
    let iss = syn.num("seq");
    let data: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.host == "client" && s.num("len") > 0)
        .collect();
    assert_eq!(
        data.iter()
            .map(|s| s.num("len"))
            .take(2)
            .collect::<Vec<_>>(),
        [FULL_SEGMENT, CLIENT_SENDS - FULL_SEGMENT]
    );
    let sack_ack = sent
        .iter()
        .find(|s| s.host == "server" && s.options().unwrap().get("sack").is_some())
        .expect("a SACK block for the out-of-order segment");
    let (left, right) = (iss + 1 + FULL_SEGMENT, iss + 1 + CLIENT_SENDS);
    assert_eq!(sack_ack.num("ack"), iss + 1, "the hole is still there");
    // TS.Recent is only updated from segments at Last.ACK.sent (RFC 7323
    // §4.3), not from the out-of-order one: the echo is still the
    // handshake ACK's TSval.
    let (sack_val, sack_ecr) = sack_ack.ts();
    assert_eq!(sack_ecr, handshake_ack.ts().0);
    assert_eq!(
        sack_ack.options().unwrap(),
        &json!({"ts": [sack_val, sack_ecr], "sack": [[left, right]]})
    );

    // The timeline: the same options, tcpdump-style, after the fields;
    // SACK edges relative to the client's ISN like the ack number.
    assert!(
        syn.line.ends_with(&format!(
            "len 0 <mss 1460,sackOK,TS val {syn_val} ecr 0,nop,wscale 7>"
        )),
        "{}",
        syn.line
    );
    assert!(
        synack.line.ends_with(&format!(
            "len 0 <mss 1460,sackOK,TS val {synack_val} ecr {syn_val},nop,wscale 7>"
        )),
        "{}",
        synack.line
    );
    assert!(
        sack_ack.line.ends_with(&format!(
            "ack 1, win {}, len 0 <nop,nop,TS val {sack_val} ecr {sack_ecr},nop,nop,sack 1 {{{}:{}}}>",
            sack_ack.num("win"),
            1 + FULL_SEGMENT,
            1 + CLIENT_SENDS
        )),
        "{}",
        sack_ack.line
    );
    // A retransmission keeps its tag after the options. The lost segment
    // is the first of two: the one duplicate ACK that follows is short of
    // fast retransmit's three (RFC 5681 §3.2), and its SACK block covers
    // 552 bytes, short of RFC 6675's DupThresh segments, so the timer
    // sends it again (RFC 6298 §5.4).
    let rtx = data
        .iter()
        .find(|s| s.line.contains("retransmission"))
        .unwrap();
    let (rtx_val, rtx_ecr) = rtx.ts();
    assert!(
        rtx.line.ends_with(&format!(
            "len {FULL_SEGMENT} <nop,nop,TS val {rtx_val} ecr {rtx_ecr}>  (retransmission: rto)"
        )),
        "{}",
        rtx.line
    );
}

#[test]
fn a_synack_that_declines_everything_still_shows_its_mss() {
    let sent = sends(&run(true, false, false));
    let syn = first(&sent, "client");
    let synack = first(&sent, "server");
    let (syn_val, _) = syn.ts();
    assert_eq!(
        syn.options().unwrap(),
        &json!({"mss": 1460, "sack_permitted": true, "ts": [syn_val, 0], "wscale": 7})
    );
    // The server offers nothing, so its SYN-ACK carries MSS alone, and
    // nothing is in use afterwards: no options on any later segment.
    assert_eq!(synack.options().unwrap(), &json!({"mss": 1460}));
    assert!(synack.line.ends_with("len 0 <mss 1460>"), "{}", synack.line);
    for s in sent.iter().filter(|s| !s.is_syn()) {
        assert!(s.options().is_none(), "{}", s.segment);
        assert!(!s.line.contains('<'), "{}", s.line);
    }
}

#[test]
fn a_run_with_mss_only_shows_no_options() {
    let r = run(false, false, true);
    let sent = sends(&r);
    assert!(first(&sent, "client").is_syn(), "the run has its SYNs");
    for s in &sent {
        assert!(s.options().is_none(), "{}", s.segment);
        assert!(!s.line.contains('<'), "{}", s.line);
    }
    let compact = serde_json::to_string(&report(&META, &r, &[])).unwrap();
    assert!(!compact.contains("\"options\":"), "no options key anywhere");
}
