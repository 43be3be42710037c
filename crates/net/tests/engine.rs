//! The engine end to end: exact times from arithmetic on the link delay,
//! faults, drops with their reasons, bounds, determinism, and stream
//! isolation (adding a host or link never changes another pair's run).

use std::net::Ipv4Addr;

use tcpsim_net::{
    AppCall, CloseMode, FaultAction, HostId, LinkParams, Loss, OpenMode, Outcome, RunResult,
    SimBuilder, StopReason, TraceKind, Workload, fault, trace::DropReason,
};
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind, State, wire};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at_ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn delay(d: Duration) -> LinkParams {
    LinkParams {
        delay: d,
        ..LinkParams::default()
    }
}

fn workload(client: HostId, server: HostId) -> Workload {
    Workload {
        client,
        server,
        port: 80,
        open_at: Instant::ZERO,
        open: OpenMode::Active,
        client_port: None,
        client_sends: 0,
        server_sends: 0,
        close: CloseMode::ClientFirst,
        close_at: None,
    }
}

/// Two hosts, a duplex link with `link` both ways, one client-first connection.
fn pair(seed: u64, config: Config, link: LinkParams) -> (SimBuilder, HostId, HostId) {
    let mut b = SimBuilder::new(seed);
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), config);
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), config);
    b.listen(s, 80);
    b.link(c, s, link.clone(), link);
    b.connection(workload(c, s));
    (b, c, s)
}

/// `send` records as `(time, host, kind, whether it is a retransmission)`.
fn sends(r: &RunResult) -> Vec<(Instant, HostId, SegmentKind, bool)> {
    r.trace
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|t| match t.kind {
            TraceKind::Send {
                host,
                retransmission,
                segment,
                ..
            } => Some((t.at, host, segment.kind(), retransmission.is_some())),
            _ => None,
        })
        .collect()
}

fn drops(r: &RunResult) -> Vec<(Instant, DropReason, SegmentKind)> {
    r.trace
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|t| match t.kind {
            TraceKind::Drop {
                reason, segment, ..
            } => Some((t.at, reason, segment.kind())),
            _ => None,
        })
        .collect()
}

/// With a 50 ms one-way delay, `rfc`: SYN 0, SYN-ACK 50, ACK and FIN 100,
/// ACK and FIN 150, last ACK 200 ms. The client is ESTABLISHED at 100 ms,
/// the server at 150 ms; the server is CLOSED at 250 ms, the client in
/// TIME-WAIT from 200 ms, so the close completes at 250 ms and the client
/// ends 240 s (2 × MSL) after 200 ms.
#[test]
fn handshake_and_close_through_a_delayed_link() {
    use SegmentKind::*;
    let (b, c, s) = pair(1, Config::rfc(), delay(ms(50)));
    let r = b.build().unwrap().run();
    assert_eq!(
        sends(&r),
        [
            (at_ms(0), c, Syn, false),
            (at_ms(50), s, SynAck, false),
            (at_ms(100), c, Ack, false),
            (at_ms(100), c, Fin, false),
            (at_ms(150), s, Ack, false),
            (at_ms(150), s, Fin, false),
            (at_ms(200), c, Ack, false),
        ]
    );
    let conn = &r.connections[0];
    assert_eq!(conn.outcome, Outcome::Closed);
    assert_eq!(conn.client.established, Some(at_ms(100)));
    assert_eq!(conn.server.established, Some(at_ms(150)));
    assert_eq!(conn.closed, Some(at_ms(250)));
    assert_eq!(conn.ended, at_ms(200 + 240_000));
    assert_eq!(r.end, at_ms(200 + 240_000));
    assert_eq!(r.stop_reason, StopReason::Idle);
    assert_eq!(conn.client.state, State::Closed);
    assert_eq!(
        conn.client.path,
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
    assert_eq!(conn.client.port, Some(49152), "first ephemeral port");
}

/// Data both ways is delivered to the applications: the byte counts read.
#[test]
fn data_is_delivered_both_ways() {
    let (mut b, c, s) = pair(1, Config::rfc(), delay(ms(5)));
    let mut w = workload(c, s);
    w.client_sends = 10_000;
    w.server_sends = 3_000;
    b.connection(w);
    let r = b.build().unwrap().run();
    let conn = &r.connections[1];
    assert_eq!(conn.outcome, Outcome::Closed);
    assert_eq!(conn.server.bytes_read, 10_000);
    assert_eq!(conn.client.bytes_read, 3_000);
}

/// Writes larger than the send buffer (the `linux` profile's 46080, and
/// a small one of 5000) are delivered whole: the workload writes on as
/// the buffer makes room, and closes only once all is written and
/// acknowledged; the server, which writes too, closes after its own
/// data even when the client's FIN comes first.
#[test]
fn writes_larger_than_the_send_buffer_are_delivered_whole() {
    for send_buffer in [Some(46080), Some(5000)] {
        let config = Config {
            send_buffer,
            ..Config::linux()
        };
        let (mut b, c, s) = pair(1, config, delay(ms(5)));
        let mut w = workload(c, s);
        w.client_sends = 300_000;
        w.server_sends = 100_000;
        b.connection(w);
        let r = b.build().unwrap().run();
        let conn = &r.connections[1];
        assert_eq!(conn.outcome, Outcome::Closed, "{send_buffer:?}");
        assert_eq!(conn.server.bytes_read, 300_000, "{send_buffer:?}");
        assert_eq!(conn.client.bytes_read, 100_000, "{send_buffer:?}");
    }
}

/// A fault drops the first SYN at the link's entrance, at the send
/// instant; the SYN goes again at the initial RTO (1 s).
#[test]
fn fault_drops_first_syn() {
    let (mut b, c, s) = pair(1, Config::rfc(), delay(ms(50)));
    b.fault(fault(
        FaultAction::Drop,
        Some(c),
        Some(s),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    let r = b.build().unwrap().run();
    assert_eq!(drops(&r), [(at_ms(0), DropReason::Fault, SegmentKind::Syn)]);
    let syns: Vec<_> = sends(&r)
        .into_iter()
        .filter(|x| x.2 == SegmentKind::Syn)
        .collect();
    assert_eq!(
        syns,
        [
            (at_ms(0), c, SegmentKind::Syn, false),
            (at_ms(1000), c, SegmentKind::Syn, true)
        ]
    );
    let conn = &r.connections[0];
    assert_eq!(conn.client.established, Some(at_ms(1100)));
    assert_eq!(conn.retransmissions().get(SegmentKind::Syn), 1);
}

/// A corrupted SYN is dropped at arrival (50 ms later) by the receiver's
/// checksum; the sender recovers as from a loss.
#[test]
fn corrupted_segment_dropped_by_checksum_at_arrival() {
    let (mut b, c, s) = pair(1, Config::rfc(), delay(ms(50)));
    b.fault(fault(
        FaultAction::Corrupt,
        Some(c),
        Some(s),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    let r = b.build().unwrap().run();
    assert_eq!(
        drops(&r),
        [(at_ms(50), DropReason::Checksum, SegmentKind::Syn)]
    );
    assert_eq!(r.connections[0].client.established, Some(at_ms(1100)));
}

/// A delay fault adds its extra time to that one packet only.
#[test]
fn delay_fault_postpones_one_packet() {
    let (mut b, _c, s) = pair(1, Config::rfc(), delay(ms(50)));
    b.fault(fault(
        FaultAction::Delay(ms(300)),
        Some(s),
        None,
        &[SegmentKind::SynAck],
        Some(&[1]),
    ));
    let r = b.build().unwrap().run();
    // SYN-ACK sent at 50 ms arrives at 50 + 50 + 300 = 400 ms.
    assert_eq!(r.connections[0].client.established, Some(at_ms(400)));
}

/// A partition drops every packet entering the link in its window.
#[test]
fn partition_cuts_the_link_for_its_window() {
    let (mut b, _c, _s) = pair(1, Config::rfc(), delay(ms(50)));
    let mut cut = fault(FaultAction::Partition, None, None, &[], None);
    cut.start = Some(Instant::ZERO);
    cut.end = Some(at_ms(2500));
    b.fault(cut);
    let r = b.build().unwrap().run();
    // SYNs at 0, 1 and 3 s: the first two enter during the cut.
    let d = drops(&r);
    assert_eq!(
        d,
        [
            (at_ms(0), DropReason::Partition, SegmentKind::Syn),
            (at_ms(1000), DropReason::Partition, SegmentKind::Syn),
        ]
    );
    assert_eq!(r.connections[0].client.established, Some(at_ms(3100)));
}

/// No link to the destination: dropped with reason `no-route` at the send
/// instant; the connect times out (rfc: 183 s, CONFORMANCE line 4).
#[test]
fn no_route_drops_and_times_out() {
    let mut b = SimBuilder::new(1);
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(s, 80);
    b.connection(workload(c, s));
    let r = b.build().unwrap().run();
    let d = drops(&r);
    assert_eq!(d.len(), 8);
    assert!(d.iter().all(|x| x.1 == DropReason::NoRoute));
    assert_eq!(r.connections[0].outcome, Outcome::Timeout);
    assert_eq!(r.connections[0].client.ended, Some(Instant::from_secs(183)));
}

/// Nothing listens: refused one RTT after connect, no retransmission.
#[test]
fn refused_without_listener() {
    let mut b = SimBuilder::new(1);
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.link(c, s, delay(ms(50)), delay(ms(50)));
    b.connection(workload(c, s));
    let r = b.build().unwrap().run();
    let conn = &r.connections[0];
    assert_eq!(conn.outcome, Outcome::Refused);
    assert_eq!(conn.client.ended, Some(at_ms(100)));
    assert_eq!(conn.ended, at_ms(100));
    assert_eq!(conn.closed, None);
}

/// The virtual-time bound and the event-count bound stop a run and say so.
#[test]
fn bounds_stop_the_run() {
    let (mut b, _, _) = pair(1, Config::rfc(), delay(ms(50)));
    b.duration(Duration::from_secs(10));
    let r = b.build().unwrap().run();
    assert_eq!(r.stop_reason, StopReason::Duration);
    assert_eq!(r.end, Instant::from_secs(10));
    assert_eq!(r.connections[0].client.state, State::TimeWait);
    assert_eq!(r.connections[0].ended, Instant::from_secs(10));

    let (mut b, _, _) = pair(1, Config::rfc(), delay(ms(50)));
    b.max_events(3);
    let r = b.build().unwrap().run();
    assert_eq!(r.stop_reason, StopReason::Events);
    assert_eq!(r.events, 3);
    assert_eq!(r.connections[0].outcome, Outcome::Incomplete);
}

fn lossy() -> LinkParams {
    LinkParams {
        delay: ms(20),
        jitter: ms(5),
        loss: Loss::Bernoulli(0.2),
        reorder: 0.1,
        duplicate: 0.05,
        ..LinkParams::default()
    }
}

fn many(seed: u64) -> SimBuilder {
    let (mut b, c, s) = pair(seed, Config::rfc(), lossy());
    for i in 0..20 {
        let mut w = workload(c, s);
        w.open_at = at_ms(i * 7);
        w.client_sends = 5000;
        w.server_sends = 2000;
        b.connection(w);
    }
    b
}

/// The same seed gives the same run, event for event; another seed does not.
#[test]
fn same_seed_same_events_other_seed_differs() {
    let a = many(42).build().unwrap().run();
    let b = many(42).build().unwrap().run();
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.connections, b.connections);
    let c = many(43).build().unwrap().run();
    assert_ne!(a.trace, c.trace);
}

/// Render a trace with host names, so runs with different host numbering compare.
fn named(r: &RunResult, names: &[&str]) -> Vec<String> {
    r.trace
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| {
            let mut s = format!("{:?}", t.kind);
            for (i, n) in names.iter().enumerate().rev() {
                s = s.replace(&format!("host: {i},"), &format!("host: {n},"));
                s = s.replace(&format!("from: {i},"), &format!("from: {n},"));
                s = s.replace(&format!("to: Some({i}),"), &format!("to: Some({n}),"));
            }
            format!("{} {s}", t.at)
        })
        .collect()
}

/// An idle host added first (shifting every host number) and a lossy link
/// to it leave the client–server run unchanged: each link draws from its
/// own stream named after its hosts.
#[test]
fn adding_idle_host_and_lossy_link_changes_nothing_else() {
    let base = many(7).build().unwrap().run();

    let mut b = SimBuilder::new(7);
    let idle = b.host("idle", Ipv4Addr::new(10, 0, 0, 9), Config::rfc());
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(s, 80);
    b.link(idle, c, lossy(), lossy());
    b.link(c, s, lossy(), lossy());
    b.connection(workload(c, s));
    for i in 0..20 {
        let mut w = workload(c, s);
        w.open_at = at_ms(i * 7);
        w.client_sends = 5000;
        w.server_sends = 2000;
        b.connection(w);
    }
    let with_idle = b.build().unwrap().run();
    assert_eq!(
        named(&base, &["client", "server"]),
        named(&with_idle, &["idle", "client", "server"])
    );
}

/// Under 20 % loss, reordering and duplication every connection still
/// closes cleanly and every octet arrives.
#[test]
fn lossy_link_every_connection_closes_with_all_data() {
    let r = many(11).build().unwrap().run();
    for conn in &r.connections {
        assert_eq!(conn.outcome, Outcome::Closed, "connection {}", conn.id);
        assert_eq!(conn.server.bytes_read, conn.workload.client_sends);
        assert_eq!(conn.client.bytes_read, conn.workload.server_sends);
    }
}

/// The capture holds every sent segment once, at its send time, decodable
/// with valid checksums.
#[test]
fn pcap_holds_every_send_at_its_time() {
    let (mut b, c, s) = pair(1, Config::rfc(), delay(ms(50)));
    b.fault(fault(
        FaultAction::Drop,
        Some(c),
        Some(s),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    b.pcap(true);
    let r = b.build().unwrap().run();
    let pcap = r.pcap.as_ref().unwrap();
    let sent = sends(&r);
    let mut at = 24;
    let mut seen = Vec::new();
    while at < pcap.len() {
        let word = |o: usize| u32::from_le_bytes(pcap[at + o..at + o + 4].try_into().unwrap());
        let t = u64::from(word(0)) * 1_000_000_000 + u64::from(word(4));
        let len = word(8) as usize;
        let seg = wire::decode(&pcap[at + 16..at + 16 + len]).expect("valid checksums");
        seen.push((Instant::from_nanos(t), seg.kind()));
        at += 16 + len;
    }
    let expected: Vec<_> = sent.iter().map(|x| (x.0, x.2)).collect();
    assert_eq!(seen, expected);
}

/// Many connections from one host take distinct ephemeral ports in order.
#[test]
fn many_connections_get_distinct_ports() {
    let mut b = SimBuilder::new(1);
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::linux());
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::linux());
    b.listen(s, 80);
    b.link(c, s, delay(ms(1)), delay(ms(1)));
    for i in 0..500 {
        let mut w = workload(c, s);
        w.open_at = Instant::from_micros_for_test(i * 10);
        b.connection(w);
    }
    b.trace(false);
    let r = b.build().unwrap().run();
    assert!(r.trace.is_none());
    for (i, conn) in r.connections.iter().enumerate() {
        assert_eq!(conn.outcome, Outcome::Closed);
        assert_eq!(conn.client.port, Some(49152 + i as u16));
    }
}

trait MicrosForTest {
    fn from_micros_for_test(us: u64) -> Instant;
}
impl MicrosForTest for Instant {
    fn from_micros_for_test(us: u64) -> Instant {
        Instant::from_nanos(us * 1000)
    }
}

/// Listening is an application call at time zero.
#[test]
fn listen_is_traced_at_zero() {
    let (b, _, s) = pair(1, Config::rfc(), delay(ms(50)));
    let r = b.build().unwrap().run();
    let first = r.trace.as_ref().unwrap()[0];
    assert_eq!(first.at, Instant::ZERO);
    assert!(matches!(
        first.kind,
        TraceKind::App { host, call: AppCall::Listen, .. } if host == s
    ));
}

/// SPEC §4 "Order": segments that arrive at one instant are all processed
/// by TCP before the application reacts to any of them. The client closes
/// as soon as it is established (nothing to send), so its handshake ACK
/// and its FIN leave at 100 ms and reach the server together at 150 ms;
/// the server's application, which writes 10 bytes on accept, reacts only
/// after both: its data segment already acknowledges the FIN, ack = x + 2
/// (relative 2), as the kernel does
/// (`tests/data/linux/half_close_server_writes.trace`: the ACK of the FIN
/// rides on the server's first data segment).
#[test]
fn same_instant_arrivals_reach_tcp_before_the_application() {
    let mut config = Config::rfc();
    config.isn = tcpsim_tcp::IsnMode::Fixed(1000);
    let mut b2 = SimBuilder::new(1);
    let c = b2.host("client", Ipv4Addr::new(10, 0, 0, 1), config);
    let s = b2.host("server", Ipv4Addr::new(10, 0, 0, 2), config);
    b2.listen(s, 80);
    b2.link(c, s, delay(ms(50)), delay(ms(50)));
    b2.connection(Workload {
        server_sends: 10,
        close: CloseMode::ClientFirst,
        ..workload(c, s)
    });
    let r = b2.build().unwrap().run();
    let data = r
        .trace
        .as_ref()
        .unwrap()
        .iter()
        .find_map(|t| match t.kind {
            TraceKind::Send { host, segment, .. } if host == s && segment.len == 10 => {
                Some((t.at, segment))
            }
            _ => None,
        })
        .expect("the server sends its 10 bytes");
    assert_eq!(data.0, at_ms(150));
    // Both ISNs are 1000: the client's FIN is at 1001, so ack 1002.
    assert_eq!(data.1.ack.0, 1002);
}

/// A connection from a fixed client port that another live connection to
/// the same server port holds fails at once, and the error names that
/// cause (not "no free ephemeral port").
#[test]
fn a_busy_fixed_port_is_reported_as_such() {
    let mut b = SimBuilder::new(1);
    let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(s, 80);
    b.link(c, s, delay(ms(50)), delay(ms(50)));
    for _ in 0..2 {
        b.connection(Workload {
            client_port: Some(40000),
            close: CloseMode::None,
            ..workload(c, s)
        });
    }
    let r = b.build().unwrap().run();
    assert_eq!(
        r.connections[1].client.error,
        Some(tcpsim_net::AppError::PortInUse)
    );
    assert_eq!(r.connections[1].client.ended, Some(Instant::ZERO));
    assert_eq!(
        tcpsim_net::AppError::PortInUse.detail(),
        "local port in use for that remote address"
    );
    assert!(r.connections[0].client.error.is_none());
}
