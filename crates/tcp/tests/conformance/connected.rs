//! CONFORMANCE lines 26–31: segments arriving on a connected connection.
//!
//! Each test completes the handshake (0–150 ms), then at 1 s hands the
//! server one crafted segment and checks its answer. RCV.NXT = x+1 = 1001
//! and SND.NXT = y+1 = 5001 at the server; the window is 65535.

use crate::harness::*;
use tcpsim_tcp::State::*;
use tcpsim_tcp::{Config, Event, Flags, Instant, SegmentKind};

fn established() -> Pair {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.connect();
    p.run_until(Instant::from_secs(1));
    assert_eq!(p.log.len(), 3);
    p
}

fn after_handshake(p: &Pair) -> Vec<String> {
    p.log[3..].to_vec()
}

fn from_client(seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> tcpsim_tcp::Segment {
    let mut s = Pair::segment(Side::Client, seq, ack, flags);
    s.payload = payload.to_vec();
    s
}

/// RST with SEG.SEQ = RCV.NXT resets the connection (RFC 5961 §3.2).
#[test]
fn line26_rst_at_rcv_nxt_resets() {
    let mut p = established();
    p.inject(Side::Server, from_client(1001, 0, Flags::RST, b""));
    assert!(after_handshake(&p).is_empty());
    assert_eq!(
        p.saw(Side::Server, Event::Reset),
        Some(Instant::from_secs(1))
    );
    assert_eq!(p.server.connection_count(), 0);
}

/// RST in the window but not exact: challenge ACK(SND.NXT, RCV.NXT), no
/// state change (RFC 5961 §3.2).
#[test]
fn line26_rst_in_window_gets_challenge_ack() {
    let mut p = established();
    p.inject(Side::Server, from_client(1011, 0, Flags::RST, b""));
    assert_eq!(after_handshake(&p), ["1s S>C A 5001 1001 0"]);
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
}

/// RST outside the window: dropped silently.
#[test]
fn line26_rst_outside_window_dropped() {
    let mut p = established();
    p.inject(Side::Server, from_client(1001 + 70_000, 0, Flags::RST, b""));
    p.inject(Side::Server, from_client(900, 0, Flags::RST, b""));
    assert!(after_handshake(&p).is_empty());
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
}

/// A SYN in a synchronized state: challenge ACK (RFC 5961 §4), whatever
/// its sequence number (in window here).
#[test]
fn line27_syn_in_window_gets_challenge_ack() {
    let mut p = established();
    p.inject(Side::Server, from_client(1500, 0, Flags::SYN, b""));
    assert_eq!(after_handshake(&p), ["1s S>C A 5001 1001 0"]);
    assert_eq!(p.server.connection_count(), 1);
}

/// TIME-WAIT with a listener: a new SYN with a higher sequence number than
/// RCV.NXT opens a new connection (RFC 1122 §4.2.2.13, RFC 6191); its ISS is
/// the old SND.NXT + 65535 + 2 (5002 + 65537 = 70539). A SYN with a lower
/// number is only re-acknowledged.
#[test]
fn line27_syn_in_time_wait_reopens_when_higher() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    // Server-first close: the server (with the listener) ends in TIME-WAIT.
    p.reactions[Side::Server as usize].shutdown_on_connect = true;
    p.reactions[Side::Server as usize].close_on_eof = true;
    p.reactions[Side::Client as usize].close_on_eof = true;
    p.connect();
    p.run_until(Instant::from_secs(2));
    let old = p.conn(Side::Server);
    assert_eq!(p.server.state(old), TimeWait);
    let n = p.log.len();

    p.inject(Side::Server, from_client(500, 0, Flags::SYN, b""));
    assert_eq!(p.log[n..], ["2s S>C A 5002 1002 0"]);
    assert_eq!(p.server.state(old), TimeWait);

    p.inject(Side::Server, from_client(9000, 0, Flags::SYN, b""));
    assert_eq!(p.log[n + 1..], ["2s S>C SA 70539 9001 0"]);
    assert_eq!(p.server.state(old), Closed);
    assert_eq!(p.server.connection_count(), 1);
}

/// An ACK of something not yet sent: send ACK, drop the segment (§3.10.7.4
/// fifth check); its data is not taken.
#[test]
fn line28_ack_of_unsent_data_is_answered_and_dropped() {
    let mut p = established();
    p.inject(
        Side::Server,
        from_client(1001, 5001 + 100, Flags::ACK, b"hello"),
    );
    assert_eq!(after_handshake(&p), ["1s S>C A 5001 1001 0"]);
    assert!(p.received[Side::Server as usize].is_empty());
}

/// A segment without ACK is dropped (§3.10.7.4: "if the ACK bit is off,
/// drop the segment and return"): no reply, no data.
#[test]
fn line29_segment_without_ack_dropped() {
    let mut p = established();
    p.inject(Side::Server, from_client(1001, 0, Flags::PSH, b"hello"));
    assert!(after_handshake(&p).is_empty());
    assert!(p.received[Side::Server as usize].is_empty());
}

/// Data outside the receive window: ACK with the current RCV.NXT, drop.
#[test]
fn line30_data_outside_window_acked_and_dropped() {
    let mut p = established();
    p.inject(
        Side::Server,
        from_client(1001 + 70_000, 5001, Flags::ACK, b"late"),
    );
    p.inject(
        Side::Server,
        from_client(1001 - 10, 5001, Flags::ACK, b"old"),
    );
    assert_eq!(
        after_handshake(&p),
        ["1s S>C A 5001 1001 0", "1s S>C A 5001 1001 0"]
    );
    assert!(p.received[Side::Server as usize].is_empty());
}

/// In-window data ahead of a gap is kept, acknowledged at once with the
/// old RCV.NXT, and delivered once the gap fills — in order, once.
#[test]
fn line30_out_of_order_data_waits_for_the_gap() {
    let mut p = established();
    p.inject(Side::Server, from_client(1004, 5001, Flags::ACK, b"def"));
    p.inject(Side::Server, from_client(1001, 5001, Flags::ACK, b"abc"));
    assert_eq!(
        after_handshake(&p),
        ["1s S>C A 5001 1001 0", "1s S>C A 5001 1007 0"]
    );
    assert_eq!(p.received[Side::Server as usize], b"abcdef");
}

/// A FIN that arrives before missing data waits for it.
#[test]
fn line30_fin_before_missing_data_waits() {
    let mut p = established();
    p.inject(
        Side::Server,
        from_client(1004, 5001, Flags::ACK | Flags::FIN, b"def"),
    );
    assert_eq!(p.count(Side::Server, Event::EndOfStream), 0);
    assert_eq!(p.states(Side::Server), [Listen, SynReceived, Established]);
    p.inject(Side::Server, from_client(1001, 5001, Flags::ACK, b"abc"));
    assert_eq!(p.count(Side::Server, Event::EndOfStream), 1);
    assert_eq!(p.received[Side::Server as usize], b"abcdef");
    // 1001 + 6 octets + FIN = 1008.
    assert_eq!(after_handshake(&p)[1], "1s S>C A 5001 1008 0");
    assert_eq!(
        p.states(Side::Server),
        [Listen, SynReceived, Established, CloseWait]
    );
}

/// A corrupted segment fails the receiver's checksum and is dropped as if
/// lost; the sender's retransmission recovers (here the first SYN, so the
/// timeline is line 2's).
#[test]
fn line31_corrupted_segment_dropped_and_recovered() {
    let mut p = Pair::new(Config::rfc(), ms(50));
    p.corrupt_nth(Side::Client, SegmentKind::Syn, 1);
    p.connect();
    p.run();
    crate::assert_segments!(
        p,
        [
            "0s C>S S 1000 0 0 corrupt",
            "1s C>S S 1000 0 0 rtx",
            "1.05s S>C SA 5000 1001 0",
            "1.1s C>S A 1001 5001 0",
        ]
    );
}
