//! CONFORMANCE lines 1–14: opening a connection.

use crate::assert_segments;
use crate::harness::*;
use tcpsim_tcp::State::*;
use tcpsim_tcp::{Config, Event, Flags, Instant, SegmentKind, TimerKind};

fn rfc() -> Pair {
    Pair::new(Config::rfc(), ms(50))
}

fn linux() -> Pair {
    Pair::new(linux_exact(), ms(50))
}

/// SYN(x); SA(y, x+1); A(x+1, y+1). C is ESTABLISHED after one RTT (100 ms),
/// S after one and a half (150 ms). RFC 9293 §3.5, Figure 6.
#[test]
fn line01_normal_handshake() {
    for mut p in [rfc(), linux()] {
        p.connect();
        p.run();
        assert_segments!(
            p,
            [
                "0s C>S S 1000 0 0",
                "50ms S>C SA 5000 1001 0",
                "100ms C>S A 1001 5001 0",
            ]
        );
        assert_eq!(p.states(Side::Client), [Closed, SynSent, Established]);
        assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
        assert_eq!(p.entered(Side::Client, Established), Some(at_ms(100)));
        assert_eq!(p.entered(Side::Server, Established), Some(at_ms(150)));
    }
}

/// The identical SYN(x) again one initial RTO (1 s, RFC 6298 §2.1) later.
#[test]
fn line02_syn_lost_once() {
    for mut p in [rfc(), linux()] {
        p.drop_nth(Side::Client, SegmentKind::Syn, 1);
        p.connect();
        p.run();
        assert_segments!(
            p,
            [
                "0s C>S S 1000 0 0 drop",
                "1s C>S S 1000 0 0 rtx",
                "1.05s S>C SA 5000 1001 0",
                "1.1s C>S A 1001 5001 0",
            ]
        );
        assert_eq!(p.entered(Side::Client, Established), Some(at_ms(1100)));
    }
}

/// `rfc`: the RTO doubles (RFC 6298 §5.5): SYNs at 0, 1, 1+2 = 3, 3+4 = 7 s.
#[test]
fn line03_syn_lost_three_times_rfc_doubles() {
    let mut p = rfc();
    for n in 1..=3 {
        p.drop_nth(Side::Client, SegmentKind::Syn, n);
    }
    p.connect();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0 drop",
            "1s C>S S 1000 0 0 rtx drop",
            "3s C>S S 1000 0 0 rtx drop",
            "7s C>S S 1000 0 0 rtx",
            "7.05s S>C SA 5000 1001 0",
            "7.1s C>S A 1001 5001 0",
        ]
    );
}

/// `linux`: tcp_syn_linear_timeouts = 4 keeps the 1 s RTO for the first
/// retransmissions: SYNs at 0, 1, 2, 3 s (SPEC §5).
#[test]
fn line03_syn_lost_three_times_linux_linear() {
    let mut p = linux();
    for n in 1..=3 {
        p.drop_nth(Side::Client, SegmentKind::Syn, n);
    }
    p.connect();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0 drop",
            "1s C>S S 1000 0 0 rtx drop",
            "2s C>S S 1000 0 0 rtx drop",
            "3s C>S S 1000 0 0 rtx",
            "3.05s S>C SA 5000 1001 0",
            "3.1s C>S A 1001 5001 0",
        ]
    );
}

fn every_syn_lost(config: Config, syn_times: &[u64], timeout_s: u64) {
    let mut p = Pair::new(config, ms(50));
    p.drop_all(Side::Client, SegmentKind::Syn);
    p.connect();
    p.run();
    let expected: Vec<String> = syn_times
        .iter()
        .map(|&t| {
            let rtx = if t == 0 { "" } else { " rtx" };
            format!("{t}s C>S S 1000 0 0{rtx} drop")
        })
        .collect();
    assert_eq!(p.log, expected, "no RST, nothing but SYNs");
    assert_eq!(
        p.saw(Side::Client, Event::TimedOut),
        Some(Instant::from_secs(timeout_s))
    );
    assert_eq!(p.states(Side::Client), [Closed, SynSent, Closed]);
}

/// `rfc`: RTO 1, 2, 4, 8, 16, 32, 60 (capped at 64 → 60), 60 s: SYNs at
/// 0, 1, 3, 7, 15, 31, 63, 123 s; the expiry at 183 s is the first at or
/// after R2 = 180 s (RFC 1122 §4.2.3.5), so the connect times out there.
#[test]
fn line04_every_syn_lost_rfc() {
    every_syn_lost(Config::rfc(), &[0, 1, 3, 7, 15, 31, 63, 123], 183);
}

/// `linux`: 1 s five times (linear), then 2, 4, 8, 16, 32 s: SYNs at
/// 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s; the eleventh expiry (67 + 64 s)
/// is past tcp_syn_retries 6 + 4 linear retransmissions: timeout at 131 s.
#[test]
fn line04_every_syn_lost_linux() {
    every_syn_lost(linux_exact(), &[0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131);
}

/// The whole `linux` profile: the same timeouts on the kernel's timer wheel
/// (HZ = 250, jiffy 0 at time zero; `timer_wheel`). Each timer of 250 · 2^k
/// jiffies is armed when the last fired and fires at the first multiple of
/// its bucket — 8 jiffies below 504, 64 below 4032, 512 below 32256 —
/// after its expiry.
#[test]
fn line04_every_syn_lost_linux_on_the_wheel() {
    let timeouts = [
        250u64, 250, 250, 250, 250, 500, 1000, 2000, 4000, 8000, 16000,
    ];
    let mut fired = vec![0u64];
    for t in timeouts {
        let expiry = fired.last().unwrap() + t;
        let bucket = match t {
            ..504 => 8,
            504..4032 => 64,
            _ => 512,
        };
        fired.push((expiry / bucket + 1) * bucket);
    }
    // 256, 512, 768, 1024, 1280, 1784, 2816, 4864, 8896, 17408; 33792.
    assert_eq!(fired[6], 1784);
    let at = |j: u64| Instant::from_nanos(j * 4_000_000);
    let mut p = Pair::new(Config::linux(), ms(50));
    p.drop_all(Side::Client, SegmentKind::Syn);
    p.connect();
    p.run();
    let (syns, timeout) = fired.split_at(fired.len() - 1);
    let expected: Vec<String> = syns
        .iter()
        .map(|&j| {
            let rtx = if j == 0 { "" } else { " rtx" };
            format!("{} C>S S 1000 0 0{rtx} drop", at(j))
        })
        .collect();
    assert_eq!(p.log, expected);
    assert_eq!(p.saw(Side::Client, Event::TimedOut), Some(at(timeout[0])));
}

/// `rfc`: S retransmits SA(y, x+1) on its own timer (armed at 50 ms, due
/// at 1.05 s). C's retransmitted SYN (1 s) reaches S at the same 1.05 s, as
/// a duplicate that fails the acceptability test and gets ACK(SND.NXT,
/// RCV.NXT) = A(y+1, x+1) (§3.10.7.4) — never a RST, never a second
/// connection. The harness delivers before it fires timers at one instant.
#[test]
fn line05_synack_lost_once_rfc() {
    let mut p = rfc();
    p.drop_nth(Side::Server, SegmentKind::SynAck, 1);
    p.connect();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "50ms S>C SA 5000 1001 0 drop",
            "1s C>S S 1000 0 0 rtx",
            "1.05s S>C A 5001 1001 0",
            "1.05s S>C SA 5000 1001 0 rtx",
            "1.1s C>S A 1001 5001 0",
        ]
    );
    assert_eq!(p.entered(Side::Server, Established), Some(at_ms(1150)));
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
    assert_eq!(p.server.connection_count(), 1);
}

/// `linux`: the duplicate SYN gets the same SA(y, x+1) again and re-arms the
/// SYN-ACK timer (SPEC §5), so the timer entry due at 1.05 s is gone and
/// no second SYN-ACK follows.
#[test]
fn line05_synack_lost_once_linux() {
    let mut p = linux();
    p.drop_nth(Side::Server, SegmentKind::SynAck, 1);
    p.connect();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "50ms S>C SA 5000 1001 0 drop",
            "1s C>S S 1000 0 0 rtx",
            "1.05s S>C SA 5000 1001 0 rtx",
            "1.1s C>S A 1001 5001 0",
        ]
    );
    assert_eq!(p.server.connection_count(), 1);
}

/// `rfc`: C's SYNs at 0, 1, 3, ..., 123 s (line 4); S's SA at 0.05 s and
/// again at 0.05 + 1, 3, 7, ..., 123 s, every one lost; each retransmitted
/// SYN gets A(y+1, x+1). S gives up at 0.05 + 183 s (first expiry past
/// 180 s) and forgets the half-open connection; C times out at 183 s.
#[test]
fn line06_every_synack_lost_rfc() {
    let mut p = rfc();
    p.drop_all(Side::Server, SegmentKind::SynAck);
    p.connect();
    p.run();
    let mut expected = vec![
        "0s C>S S 1000 0 0".to_string(),
        "50ms S>C SA 5000 1001 0 drop".to_string(),
    ];
    for t in [1, 3, 7, 15, 31, 63, 123] {
        expected.push(format!("{t}s C>S S 1000 0 0 rtx"));
        expected.push(format!("{t}.05s S>C A 5001 1001 0"));
        expected.push(format!("{t}.05s S>C SA 5000 1001 0 rtx drop"));
    }
    assert_eq!(p.log, expected);
    assert_eq!(
        p.saw(Side::Client, Event::TimedOut),
        Some(Instant::from_secs(183))
    );
    assert_eq!(p.saw(Side::Server, Event::TimedOut), Some(at_ms(183_050)));
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Closed]);
    assert_eq!(p.server.connection_count(), 0);
}

/// `linux`: S drops the half-open connection at its sixth expiry
/// (tcp_synack_retries = 5). Every duplicate SYN re-sends the SA and
/// re-arms the timer with the current (backed-off) RTO.
#[test]
fn line06_every_synack_lost_linux_server_gives_up() {
    let mut p = linux();
    p.drop_all(Side::Server, SegmentKind::SynAck);
    p.connect();
    p.run();
    let server_gave_up = p
        .saw(Side::Server, Event::TimedOut)
        .expect("server gives up");
    let synacks = p.log.iter().filter(|l| l.contains("S>C SA")).count();
    let timer_rtx = p
        .events
        .iter()
        .filter(|(_, s, _, e)| *s == Side::Server && *e == Event::TimerFired(TimerKind::Retransmit))
        .count();
    // Five expiries retransmit; the sixth gives up.
    assert_eq!(timer_rtx, 6);
    assert!(synacks > 6, "duplicate SYNs also drew SYN-ACKs: {synacks}");
    assert!(server_gave_up < Instant::from_secs(131));
    assert_eq!(
        p.saw(Side::Client, Event::TimedOut),
        Some(Instant::from_secs(131))
    );
    assert!(!p.log_text().contains(" R"), "no RST: {}", p.log_text());
}

/// A duplicate of the third ACK is acceptable and acknowledges nothing new:
/// ignored, nothing sent.
#[test]
fn line07_duplicate_third_ack_ignored() {
    let mut p = rfc();
    p.connect();
    p.run_until(Instant::from_secs(1));
    p.inject(
        Side::Server,
        Pair::segment(Side::Client, 1001, 5001, Flags::ACK),
    );
    p.run();
    assert_eq!(p.log.len(), 3);
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
}

/// A late duplicate SYN in ESTABLISHED: challenge ACK(SND.NXT, RCV.NXT)
/// = A(y+1, x+1) (RFC 5961 §4); no RST, no state change, no new connection.
#[test]
fn line08_late_duplicate_syn_gets_challenge_ack() {
    let mut p = rfc();
    p.connect();
    p.run_until(Instant::from_secs(1));
    p.inject(
        Side::Server,
        Pair::segment(Side::Client, 1000, 0, Flags::SYN),
    );
    p.run();
    assert_eq!(p.log[3], "1s S>C A 5001 1001 0");
    assert_eq!(p.log.len(), 4);
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
    assert_eq!(p.server.connection_count(), 1);
}

/// A SYN-ACK acknowledging the wrong number in SYN-SENT: RST(seq = SEG.ACK)
/// (§3.10.7.3); C stays in SYN-SENT and keeps its timer (due at 1 s).
#[test]
fn line09_synack_with_wrong_ack_gets_rst() {
    let mut p = rfc();
    p.drop_nth(Side::Client, SegmentKind::Rst, 1); // keep the server out of it
    let id = p.connect();
    p.run_until(at_ms(10));
    p.inject(
        Side::Client,
        Pair::segment(Side::Server, 7000, 1005, Flags::SYN | Flags::ACK),
    );
    assert_eq!(p.client.state(id), SynSent);
    let timer = p
        .client
        .connection(id)
        .unwrap()
        .timer(TimerKind::Retransmit);
    assert_eq!(timer, Some(Instant::from_secs(1)));
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "10ms C>S R 1005 0 0 drop",
            "50ms S>C SA 5000 1001 0",
            "100ms C>S A 1001 5001 0",
        ]
    );
    assert_eq!(p.states(Side::Client), [Closed, SynSent, Established]);
}

/// The SYNs cross; both go SYN-RECEIVED and send SA, and each SA moves the
/// other end to ESTABLISHED (RFC 9293 Figure 7). No extra segment.
#[test]
fn line10_simultaneous_open() {
    let mut p = rfc();
    p.connect_both();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "0s S>C S 5000 0 0",
            "50ms S>C SA 5000 1001 0",
            "50ms C>S SA 1000 5001 0",
        ]
    );
    for side in [Side::Client, Side::Server] {
        assert_eq!(p.states(side), [Closed, SynSent, SynReceived, Established]);
        assert_eq!(p.entered(side, Established), Some(at_ms(100)));
    }
}

/// `linux`: the same open, and then each end ACKs the SA it got, whose SYN
/// it holds already, at once: A(x+1, y+1) and A(y+1, x+1), each with a
/// D-SACK of the peer's SYN, {y, y+1} and {x, x+1}. Each SA keeps the
/// window of its end's SYN, 64240 (`tests/data/linux/simultaneous_open.pcap`,
/// `tcpsim kernel configs/linux-simultaneous-open.toml`: S at 0 ms, SA
/// 64240 at 50.1 ms, A 1 1 with `sack 1 {0:1}` at 100.2 ms on both sides).
#[test]
fn line10_simultaneous_open_linux() {
    let mut p = Pair::new(Config::linux(), ms(50));
    p.connect_both();
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "0s S>C S 5000 0 0",
            "50ms S>C SA 5000 1001 0",
            "50ms C>S SA 1000 5001 0",
            "100ms C>S A 1001 5001 0",
            "100ms S>C A 5001 1001 0",
        ]
    );
    let synacks: Vec<_> = p
        .records
        .iter()
        .filter(|r| r.flags == Flags::SYN | Flags::ACK)
        .collect();
    assert!(synacks.iter().all(|r| r.window == 64240), "{synacks:?}");
    for (from, peer_isn) in [(Side::Client, 5000u32), (Side::Server, 1000)] {
        let ack = p
            .records
            .iter()
            .find(|r| r.from == from && r.flags == Flags::ACK)
            .unwrap();
        let blocks: Vec<(u32, u32)> = ack
            .options
            .sack
            .as_slice()
            .iter()
            .map(|&(l, r)| (l.0, r.0))
            .collect();
        assert_eq!(blocks, [(peer_isn, peer_isn + 1)], "{from:?}");
    }
    for side in [Side::Client, Side::Server] {
        assert_eq!(p.states(side), [Closed, SynSent, SynReceived, Established]);
        assert_eq!(p.entered(side, Established), Some(at_ms(100)));
    }
}

/// No listener: S answers RST+ACK(0, x+1) (§3.10.7.1); C reports refused one
/// RTT after connect and never retransmits.
#[test]
fn line11_connect_to_closed_port_refused() {
    let mut p = rfc();
    p.server.unlisten(PORT);
    p.connect();
    p.run();
    assert_segments!(p, ["0s C>S S 1000 0 0", "50ms S>C RA 0 1001 0"]);
    assert_eq!(p.saw(Side::Client, Event::Refused), Some(at_ms(100)));
    assert_eq!(p.states(Side::Client), [Closed, SynSent, Closed]);
}

/// In SYN-SENT a RST without ACK, or with an unacceptable ACK, is dropped
/// (§3.10.7.3): nothing sent, the handshake then completes normally.
#[test]
fn line12_rst_without_acceptable_ack_ignored_in_syn_sent() {
    let mut p = rfc();
    let id = p.connect();
    p.run_until(at_ms(10));
    p.inject(
        Side::Client,
        Pair::segment(Side::Server, 5000, 0, Flags::RST),
    );
    p.inject(
        Side::Client,
        Pair::segment(Side::Server, 5000, 1005, Flags::RST | Flags::ACK),
    );
    assert_eq!(p.client.state(id), SynSent);
    assert_eq!(p.log.len(), 1);
    p.run();
    assert_eq!(p.states(Side::Client), [Closed, SynSent, Established]);
}

/// LISTEN: a RST is ignored; an ACK gets RST(seq = SEG.ACK) (§3.10.7.2).
#[test]
fn line13_listen_ignores_rst_and_resets_ack() {
    let mut p = rfc();
    p.inject(Side::Server, Pair::segment(Side::Client, 77, 0, Flags::RST));
    assert!(p.log.is_empty());
    p.inject(
        Side::Server,
        Pair::segment(Side::Client, 77, 4242, Flags::ACK),
    );
    assert_segments!(p, ["0s S>C R 4242 0 0"]);
    assert_eq!(p.server.connection_count(), 0);
}

/// close() in SYN-SENT deletes the connection with nothing sent
/// (§3.10.4). The SA that then arrives finds no connection and is answered
/// RST(seq = SEG.ACK = x+1) (§3.10.7.1), which takes S's half-open
/// connection back to LISTEN (§3.10.7.4: passive open).
#[test]
fn line14_close_in_syn_sent_deletes() {
    let mut p = rfc();
    p.connect();
    p.run_until(at_ms(10));
    p.close(Side::Client);
    p.run();
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "50ms S>C SA 5000 1001 0",
            "100ms C>S R 1001 0 0",
        ]
    );
    assert_eq!(p.states(Side::Client), [Closed, SynSent, Closed]);
    assert_eq!(p.entered(Side::Client, Closed), Some(at_ms(10)));
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Closed]);
    assert_eq!(p.server.connection_count(), 0);
}
