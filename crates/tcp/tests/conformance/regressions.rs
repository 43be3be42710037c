//! Regressions found by fuzzing (`fuzz/`, issue #7), each named after what
//! broke, as packet scripts.

use crate::assert_segments;
use crate::harness::*;
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind, State};

/// Zero window, and the window update that would reopen it is lost: before
/// the persist timer, the sender had nothing in flight, so no timer ran and
/// the connection hung for ever with 1000 octets unsent (found by the
/// `endpoint` fuzzer with a receive window of one octet, where the window
/// update is never even sent; `fuzz/regressions/endpoint/`).
///
/// RFC 9293 §3.8.6.1: the sender must probe a zero window. Here: the
/// server's window is 1000 octets and it acknowledges at once (delayed ACK
/// 0), so its ACK of the first 1000 octets (at 150 ms) says window 0; its
/// application reads them at once and the window update (the server's
/// second ACK) is dropped. The ACK reaches the client at 200 ms; the
/// persist timer runs one RTO (1 s: the rfc minimum, RFC 6298 §2.4) to
/// 1.2 s and sends a probe, an ACK one below SND.UNA (2001 − 1 = 2000),
/// which the server must answer with its window (§3.10.7.4: an unacceptable
/// segment is answered with an ACK). At 1.3 s the rest goes out.
#[test]
fn zero_window_is_probed_when_the_window_update_is_lost() {
    let mut server = Config::rfc();
    server.recv_window = Some(1000);
    server.delayed_ack = Duration::ZERO;
    let mut p = Pair::with_configs(Config::rfc(), server, ms(50));
    p.send_on_connect[Side::Client as usize] = Some(vec![7; 2000]);
    p.drop_nth(Side::Server, SegmentKind::Ack, 2);
    p.connect();
    p.run_until(Instant::from_secs(2));
    assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0",
            "50ms S>C SA 5000 1001 0",
            "100ms C>S A 1001 5001 0",
            "100ms C>S A 1001 5001 1000",
            "150ms S>C A 5001 2001 0",
            "150ms S>C A 5001 2001 0 drop",
            "1.2s C>S A 2000 5001 0",
            "1.25s S>C A 5001 2001 0",
            "1.3s C>S PA 2001 5001 1000",
            "1.35s S>C A 5001 3001 0",
            "1.35s S>C A 5001 3001 0",
        ]
    );
    assert_eq!(p.received[Side::Server as usize].len(), 2000);
    assert_eq!(p.client.state(p.conn(Side::Client)), State::Established);
}

/// The same with a one-octet receive window, where the reader's window
/// update is never sent (the window only ever goes from 0 to 1, short of
/// the doubling the update rule waits for): only the persist timer moves
/// the data, one octet per probe answer.
#[test]
fn one_octet_window_still_delivers_everything() {
    let mut server = Config::rfc();
    server.recv_window = Some(1);
    let mut p = Pair::with_configs(Config::rfc(), server, ms(50));
    p.send_on_connect[Side::Client as usize] = Some(vec![9; 5]);
    p.reactions[Side::Client as usize].shutdown_on_connect = true;
    p.reactions[Side::Server as usize].close_on_eof = true;
    p.connect();
    p.run_until(Instant::from_secs(600));
    assert_eq!(p.received[Side::Server as usize], vec![9; 5]);
    assert!(p.entered(Side::Server, State::Closed).is_some());
}

/// The peer's FIN arrives while our own data, and so our FIN, still wait
/// for the window (FIN-WAIT-1 → CLOSING with octets unsent): they must
/// still go out. Before the fix nothing was sent in CLOSING, every sent
/// octet was acknowledged so no timer ran, and both ends hung for ever
/// (client FIN-WAIT-2, server CLOSING), 522 octets short (found by the
/// `endpoint` fuzzer; `fuzz/regressions/endpoint/`).
///
/// Here the server writes 20 000 octets and shuts down as soon as it is
/// connected (150 ms), but only 10 × MSS = 14 600 fit the send window
/// (SPEC §5); the client's FIN arrives in the same instant, behind its ACK.
#[test]
fn data_and_fin_still_go_out_after_the_peers_fin_in_closing() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.send_on_connect[Side::Server as usize] = Some(vec![3; 20_000]);
    p.reactions[Side::Server as usize].shutdown_on_connect = true;
    p.reactions[Side::Client as usize].shutdown_on_connect = true;
    p.reactions[Side::Client as usize].close_on_eof = true;
    p.connect();
    p.run();
    assert_eq!(p.received[Side::Client as usize].len(), 20_000);
    assert!(
        p.states(Side::Server).contains(&State::Closing),
        "{:?}",
        p.states(Side::Server)
    );
    for side in [Side::Client, Side::Server] {
        assert!(
            p.entered(side, State::Closed).is_some(),
            "{side:?}: {:?}",
            p.states(side)
        );
    }
}

/// With the clock at the end of time (`Instant::MAX`, the latest instant), every
/// timer armed then saturates at `Instant::MAX`, which is due "now": the
/// endpoint fired the FIN's retransmission timer, re-armed it at the same
/// instant, and fired it again for ever inside one `handle_timeout` call
/// (the rfc give-up counts elapsed time, which stays zero). Found by the
/// `endpoint` fuzzer; an experiment with `open_at` and `duration` near
/// 2^64 ns reaches it too. A saturated deadline now means "never"
/// (`Instant`'s own documentation): it is not reported and does not fire.
#[test]
fn timers_saturated_at_the_end_of_time_never_fire() {
    use tcpsim_tcp::Endpoint;
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.connect();
    p.run_until(Instant::from_secs(1));
    let id = p.conn(Side::Client);
    let end = Instant::MAX;
    let client: &mut Endpoint = &mut p.client;
    client.shutdown(end, id).unwrap();
    let fin = client.poll_transmit().expect("the FIN");
    assert!(fin.1.segment.flags.fin());
    assert_eq!(fin.1.segment.dst, server_addr());
    // The FIN's retransmission timer saturated: never.
    assert_eq!(client.poll_timeout(), None);
    client.handle_timeout(end); // returns
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(client.state(id), State::FinWait1);
}

/// Review finding: each answered zero-window probe reset the backoff, so a
/// live peer that keeps its window closed was probed every 2 × RTO for ever.
/// RFC 1122 §4.2.2.17: the first probe one RTO after the window closed, then
/// "increase exponentially the interval between successive probes". Here
/// the data is blocked at 100 ms with RTO = 1 s (the handshake's 100 ms
/// sample under `rfc`): probes at 1.1, 1.1 + 2 = 3.1, 3.1 + 4 = 7.1 and
/// 7.1 + 8 = 15.1 s, each answered by ACK(win 0).
#[test]
fn zero_window_probes_back_off_while_the_peer_answers() {
    use crate::harness::*;
    use tcpsim_tcp::{Config, Instant};
    let mut closed = Config::rfc();
    closed.recv_window = Some(0);
    let mut p = Pair::with_configs(Config::rfc(), closed, ms(50));
    p.send_on_connect[Side::Client as usize] = Some(vec![1; 100]);
    p.connect();
    p.run_until(Instant::from_secs(20));
    // A probe is ACK(SND.UNA − 1) = A(1000, 5001) with no data.
    let probes: Vec<&str> = p
        .log
        .iter()
        .filter(|l| l.contains(" C>S A 1000 5001 0"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(probes, ["1.1s", "3.1s", "7.1s", "15.1s"]);
    let answers = p
        .log
        .iter()
        .filter(|l| l.contains(" S>C A 5001 1001 0"))
        .count();
    assert!(
        answers >= 4,
        "the peer answered every probe: {}",
        p.log_text()
    );
}

/// Review finding: a bare FIN ahead of missing data was recorded but not
/// acknowledged; an out-of-order segment gets an immediate duplicate ACK
/// (RFC 5681 §4.2). When the gap fills, one ACK covers data and FIN:
/// 1001 + 3 octets + FIN = 1005.
#[test]
fn out_of_order_bare_fin_is_acknowledged_at_once() {
    use crate::harness::*;
    use tcpsim_tcp::{Config, Flags, Instant, State};
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.connect();
    p.run_until(Instant::from_secs(1));
    let fin = Pair::segment(Side::Client, 1004, 5001, Flags::FIN | Flags::ACK);
    p.inject(Side::Server, fin);
    assert_eq!(p.log[3..], ["1s S>C A 5001 1001 0"]);
    let mut data = Pair::segment(Side::Client, 1001, 5001, Flags::ACK);
    data.payload = b"abc".to_vec();
    p.inject(Side::Server, data);
    assert_eq!(p.log[4..], ["1s S>C A 5001 1005 0"]);
    assert_eq!(p.received[Side::Server as usize], b"abc");
    assert_eq!(p.server.state(p.conn(Side::Server)), State::CloseWait);
}
