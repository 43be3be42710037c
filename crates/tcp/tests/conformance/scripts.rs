//! Single-endpoint packet scripts (`tcpsim_tcp::testing::Script`): the
//! test plays the peer, segment by segment, as packetdrill does. Expected
//! values come from the RFC text cited beside them.

use std::net::{Ipv4Addr, SocketAddrV4};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use tcpsim_tcp::testing::{Expect, Script};
use tcpsim_tcp::{Config, Endpoint, Event, Flags, Instant, IsnMode};

use crate::harness::{PORT, Y, server_addr};

const SA: Flags = Flags::SYN.union(Flags::ACK);

/// The server endpoint (ISS y = 5000) facing a scripted peer at
/// 10.0.0.1:40000; `listen` says whether port 80 has a listener.
fn server(listen: bool) -> Script {
    let mut config = Config::rfc();
    config.isn = IsnMode::Fixed(Y);
    let mut ep = Endpoint::new(*server_addr().ip(), config, ChaCha8Rng::seed_from_u64(0));
    if listen {
        ep.listen(PORT).unwrap();
    }
    Script::new(
        ep,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000),
        PORT,
    )
}

/// RFC 9293 §3.10.7.1: a segment without ACK to a closed port gets
/// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; a SYN's SEG.LEN is 1.
#[test]
fn script_syn_to_closed_port_gets_rst_ack() {
    let mut s = server(false);
    s.inject(&s.segment(Flags::SYN, 1000, 0));
    s.expect(
        Expect::flags(Flags::RST | Flags::ACK)
            .seq(0)
            .ack(1001)
            .len(0)
            .at(Instant::ZERO),
    );
    s.expect_quiet_until(Instant::from_secs(10));
}

/// RFC 9293 §3.10.7.1: a segment with ACK to a closed port gets
/// <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn script_ack_to_closed_port_gets_rst_from_its_ack() {
    let mut s = server(false);
    s.advance_to(Instant::from_millis(5));
    s.inject(&s.segment(Flags::ACK, 1000, 777));
    s.expect(
        Expect::flags(Flags::RST)
            .seq(777)
            .len(0)
            .at(Instant::from_millis(5)),
    );
    s.expect_none();
}

/// A peer that sends one SYN and nothing more: SYN-ACK <SEQ=y><ACK=x+1>
/// at once (RFC 9293 §3.10.7.2), then retransmitted at RTO = 1 s (RFC 6298
/// §2.1), then after 2 s and 4 s (the back-off of §5.5): at 1, 3 and 7 s.
#[test]
fn script_silent_peer_gets_synack_retransmissions_with_backoff() {
    let mut s = server(true);
    s.inject(&s.segment(Flags::SYN, 1000, 0));
    let first = s.expect(
        Expect::flags(SA)
            .seq(5000)
            .ack(1001)
            .window(65535)
            .len(0)
            .at(Instant::ZERO),
    );
    assert!(first.mss.is_some(), "a SYN-ACK carries the MSS option");
    for t in [1, 3, 7] {
        s.expect(
            Expect::flags(SA)
                .seq(5000)
                .ack(1001)
                .at(Instant::from_secs(t)),
        );
    }
}

/// The three-way handshake from the server's side, then one data segment:
/// it is acknowledged (<ACK=x+1+5>) and readable.
#[test]
fn script_handshake_and_data_from_the_peer() {
    let mut s = server(true);
    s.inject(&s.segment(Flags::SYN, 1000, 0));
    s.expect(Expect::flags(SA).seq(5000).ack(1001));
    s.advance_to(Instant::from_millis(100));
    s.inject(&s.segment(Flags::ACK, 1001, 5001));
    assert_eq!(s.saw(Event::Connected), Some(Instant::from_millis(100)));
    let mut data = s.segment(Flags::ACK | Flags::PSH, 1001, 5001);
    data.payload = b"hello".to_vec();
    s.inject(&data);
    let id = s.events()[0].1;
    let mut got = Vec::new();
    s.command(|ep, _| ep.recv_to_end(id, &mut got));
    assert_eq!(got, b"hello");
    s.expect(Expect::flags(Flags::ACK).seq(5001).ack(1006).len(0));
}

/// A wrong expectation fails and names the field that differs.
#[test]
#[should_panic(expected = "segment #1: ack differ")]
fn script_mismatch_names_the_field() {
    let mut s = server(true);
    s.inject(&s.segment(Flags::SYN, 1000, 0));
    s.expect(Expect::flags(SA).seq(5000).ack(1002));
}
