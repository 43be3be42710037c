//! CONFORMANCE lines 32–34: RFC 6298 timers, on live connections.

use crate::harness::*;
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind, State, TimerKind};

/// Before any sample RTO = 1 s; the handshake's sample R = 100 ms gives
/// SRTT = 100 ms, RTTVAR = 50 ms and RTO = max(1 s, 100 + max(1, 200)) = 1 s
/// (`rfc`) or 100 + max(200, 200) = 300 ms (`linux`). Both ends sample: the
/// client from SYN to SYN-ACK, the server from SYN-ACK to ACK.
#[test]
fn line32_handshake_gives_first_rtt_sample() {
    for (config, rto) in [(Config::rfc(), ms(1000)), (linux_exact(), ms(300))] {
        let mut p = Pair::new(config, ms(50));
        let id = p.connect();
        assert_eq!(p.client.connection(id).unwrap().rtt().rto(), ms(1000));
        p.run_until(Instant::from_secs(1));
        for side in [Side::Client, Side::Server] {
            let e = match side {
                Side::Client => &p.client,
                Side::Server => &p.server,
            };
            let rtt = *e.connection(p.conn(side)).unwrap().rtt();
            assert_eq!(rtt.srtt(), Some(ms(100)));
            assert_eq!(rtt.rttvar(), ms(50));
            assert_eq!(rtt.rto(), rto);
        }
    }
}

/// Karn: the SYN was retransmitted, so its SYN-ACK gives no sample; by
/// RFC 6298 §5.7 the RTO is 3 s once data transmission begins, and the lost
/// FIN is retransmitted 3 s after it was sent (1.1 + 3 = 4.1 s).
#[test]
fn line33_karn_no_sample_from_retransmitted_syn() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.reactions[Side::Client as usize].shutdown_on_connect = true;
    p.drop_nth(Side::Client, SegmentKind::Syn, 1);
    p.drop_nth(Side::Client, SegmentKind::Fin, 1);
    let id = p.connect();
    p.run_until(at_ms(1200));
    let rtt = *p.client.connection(id).unwrap().rtt();
    assert_eq!(rtt.srtt(), None);
    assert_eq!(rtt.rto(), Duration::from_secs(3));
    p.run_until(Instant::from_secs(5));
    assert_eq!(p.log[3], "1.1s C>S A 1001 5001 0");
    assert_eq!(p.log[4], "1.1s C>S FA 1001 5001 0 drop");
    assert_eq!(p.log[5], "4.1s C>S FA 1001 5001 0 rtx");
}

/// On expiry only the earliest unacknowledged segment goes again; the
/// receiver held the two later ones, so one retransmission and one
/// cumulative ACK complete the transfer, in order, exactly once. (Nagle
/// off, so that the 80-octet tail goes with the burst: the test is about
/// the timer.)
#[test]
fn line34_retransmit_earliest_segment_only() {
    let config = Config {
        nagle: tcpsim_tcp::Nagle::Off,
        ..Config::rfc()
    };
    let mut p = Pair::new(config, ms(50));
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    p.send_on_connect[Side::Client as usize] = Some(data.clone());
    p.drop_nth(Side::Client, SegmentKind::Data, 1);
    p.connect();
    p.run();
    // 1001 + 1460 = 2461; + 1460 = 3921; + 80 = 4001.
    crate::assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "50ms S>C SA 5000 1001 0",
            "100ms C>S A 1001 5001 0",
            "100ms C>S A 1001 5001 1460 drop",
            "100ms C>S A 2461 5001 1460",
            "100ms C>S PA 3921 5001 80",
            "150ms S>C A 5001 1001 0",
            "150ms S>C A 5001 1001 0",
            "1.1s C>S A 1001 5001 1460 rtx",
            "1.15s S>C A 5001 4001 0",
        ]
    );
    assert_eq!(p.received[Side::Server as usize], data);
    let c = p.client.connection(p.conn(Side::Client)).unwrap();
    assert_eq!(c.timer(TimerKind::Retransmit), None, "RFC 6298 §5.2");
}

/// The RTO doubles on each expiry (§5.5) and the timer restarts (§5.6):
/// the same segment lost twice goes again at 1.1 s and at 1.1 + 2 = 3.1 s.
#[test]
fn line34_backoff_doubles_between_retransmissions() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.send_on_connect[Side::Client as usize] = Some(vec![5; 100]);
    p.drop_nth(Side::Client, SegmentKind::Data, 1);
    p.drop_nth(Side::Client, SegmentKind::Data, 2);
    p.connect();
    p.run();
    let data_lines: Vec<&String> = p.log.iter().filter(|l| l.contains("C>S PA")).collect();
    assert_eq!(
        data_lines,
        [
            "100ms C>S PA 1001 5001 100 drop",
            "1.1s C>S PA 1001 5001 100 rtx drop",
            "3.1s C>S PA 1001 5001 100 rtx",
        ]
    );
}

/// Data give-up: `rfc` stops at the first expiry at or after R2 = 100 s of
/// retransmission (RFC 1122 §4.2.3.5). Sent at 0.1 s with RTO 1 s: expiries
/// at 1.1, 3.1, 7.1, 15.1, 31.1, 63.1 (RTO capped at 60 s), 123.1 s; the
/// one at 123.1 s is past 100 s after 0.1 s: timed out there, no RST.
#[test]
fn data_give_up_after_r2_rfc() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.send_on_connect[Side::Client as usize] = Some(vec![5; 100]);
    p.drop_all(Side::Client, SegmentKind::Data);
    p.connect();
    p.run();
    let times: Vec<&str> = p
        .log
        .iter()
        .filter(|l| l.contains("C>S PA"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        times,
        ["100ms", "1.1s", "3.1s", "7.1s", "15.1s", "31.1s", "63.1s"]
    );
    assert_eq!(
        p.saw(Side::Client, tcpsim_tcp::Event::TimedOut),
        Some(at_ms(123_100))
    );
    assert!(!p.log_text().contains(" R"));
}

/// `TCP_USER_TIMEOUT` (RFC 9293 §3.8.3, RFC 5482; Linux
/// `tcp_write_timeout` with `tcp_clamp_rto_to_user_timeout`): data sent at
/// 0.1 s and never acknowledged, user timeout 3 s. `rfc` counts from the
/// data's transmission: RTO 1 s, retransmission at 1.1 s, the next expiry
/// (1.1 + 2 = 3.1 s) is the deadline: timed out there, no third segment.
/// `linux` (RTO 3 × the 100 ms handshake RTT = 300 ms): the one segment in
/// flight gets a tail loss probe at min(2·SRTT + 200 ms, RTO) = 300 ms
/// after it, 0.4 s (RFC 8985 §7.2), which restarts the timer without
/// backing it off; then the RTO at 0.7 s, doubling: 1.3, 2.5 s. Linux
/// counts the user timeout from the first retransmission that is not a
/// probe (`retrans_stamp`, set in tcp_retransmit_skb): 0.7 + 3 = 3.7 s,
/// where the next interval (2.4 s) is cut to. The kernel does so in
/// `tests/data/linux/user_timeout_fin.trace` (FIN at 120.6 ms, probe at
/// 346.2 ms, RTO retransmission at 574.2 ms, ETIMEDOUT at 3.59 s). No RST.
#[test]
fn user_timeout_aborts_at_the_deadline() {
    for (config, sends, aborted) in [
        (Config::rfc(), &["100ms", "1.1s"][..], 3_100),
        (
            linux_exact(),
            &["100ms", "400ms", "700ms", "1.3s", "2.5s"][..],
            3_700,
        ),
    ] {
        let config = Config {
            user_timeout: Some(Duration::from_secs(3)),
            ..config
        };
        let mut p = Pair::new(config, ms(50));
        p.send_on_connect[Side::Client as usize] = Some(vec![5; 100]);
        p.drop_all(Side::Client, SegmentKind::Data);
        p.connect();
        p.run();
        let times: Vec<&str> = p
            .log
            .iter()
            .filter(|l| l.contains("C>S PA"))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(times, sends, "{}", config.profile);
        assert_eq!(
            p.saw(Side::Client, tcpsim_tcp::Event::TimedOut),
            Some(at_ms(aborted)),
            "{}",
            config.profile
        );
        assert!(!p.log_text().contains(" R"));
    }
}

/// `linux`: a released socket in FIN-WAIT-2 is closed after
/// tcp_fin_timeout = 60 s; `rfc` waits without limit. The server never
/// closes, so its ACK of the FIN is immediate under `rfc` (C in FIN-WAIT-2
/// at 150 + 50 = 200 ms). Under `linux` the FIN came before any data, so
/// its ACK goes at the next 4 ms kernel tick after 150 ms, 152 ms
/// (`tests/data/linux/fin_ack_delay.trace`: 3.85 ms after the FIN, within
/// one tick in 12 runs of 13), and reaches C at 202 ms.
#[test]
fn fin_wait_2_timeout_only_for_released_linux_sockets() {
    for (config, fw2, closes_at) in [
        (linux_exact(), at_ms(202), Some(at_ms(202 + 60_000))),
        (Config::rfc(), at_ms(200), None),
    ] {
        let mut p = Pair::new(config, ms(50));
        p.reactions[Side::Client as usize].close_on_connect = true;
        p.connect();
        p.run();
        let c = p.conn(Side::Client);
        assert_eq!(p.entered(Side::Client, State::FinWait2), Some(fw2));
        match closes_at {
            Some(t) => assert_eq!(p.entered(Side::Client, State::Closed), Some(t)),
            None => assert_eq!(p.client.state(c), State::FinWait2),
        }
    }
}
