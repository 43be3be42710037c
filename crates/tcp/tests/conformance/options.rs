//! CONFORMANCE lines 35–38: options negotiated in the handshake (RFC 7323
//! window scaling and timestamps, RFC 2018 SACK, RFC 2883 D-SACK), with the
//! `rfc` profile's switches on. The test plays the client; the endpoint
//! under test is the server (ISS y = 5000) unless a test says otherwise.
//! Every expected value comes from the RFC text cited, or from arithmetic
//! written beside it.

use std::net::{Ipv4Addr, SocketAddrV4};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use tcpsim_tcp::testing::{Expect, Script};
use tcpsim_tcp::{
    Config, ConnId, Duration, Endpoint, Flags, Instant, IsnMode, Options, Segment, Timestamps,
};

use crate::harness::{PORT, Y, server_addr};

const SA: Flags = Flags::SYN.union(Flags::ACK);
const A: Flags = Flags::ACK;
const PA: Flags = Flags::PSH.union(Flags::ACK);
/// The client's ISN (the test's).
const X: u32 = 1000;

/// The `rfc` profile with every option offered: window shift 7, SACK,
/// timestamps.
fn all_options() -> Config {
    let mut c = Config::rfc();
    c.isn = IsnMode::Fixed(Y);
    c.window_scale = Some(7);
    c.sack = true;
    c.timestamps = true;
    c
}

fn server(config: Config) -> Script {
    let mut ep = Endpoint::new(*server_addr().ip(), config, ChaCha8Rng::seed_from_u64(0));
    ep.listen(PORT).unwrap();
    Script::new(
        ep,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000),
        PORT,
    )
}

/// The server's connection to the scripted client.
fn conn(ep: &Endpoint) -> ConnId {
    let peer = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    ep.find(server_addr(), peer).expect("the connection exists")
}

/// The application writes `data` now.
fn write(s: &mut Script, data: &[u8]) {
    s.command(|ep, now| {
        let id = conn(ep);
        ep.send(now, id, data).unwrap();
    });
}

fn ts(val: u32, ecr: u32) -> Option<Timestamps> {
    Some(Timestamps { val, ecr })
}

/// The client's SYN with `options` and MSS 1460.
fn syn(s: &Script, options: Options) -> Segment {
    let mut seg = s.segment(Flags::SYN, X, 0);
    seg.mss = Some(1460);
    seg.options = options;
    seg
}

/// Completes the handshake of a server whose SYN-ACK is due: the client's
/// ACK with `options`. Returns the SYN-ACK.
fn handshake(s: &mut Script, syn_options: Options, ack_options: Options) -> Segment {
    s.inject(&syn(s, syn_options));
    let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    let mut ack = s.segment(A, X + 1, Y + 1);
    ack.options = ack_options;
    s.inject(&ack);
    synack
}

/// The handshake with timestamps only: the client's SYN has TSval 100,
/// its ACK TSval 105. Returns the SYN-ACK.
fn ts_handshake(s: &mut Script) -> Segment {
    handshake(
        s,
        Options {
            timestamps: ts(100, 0),
            ..Options::NONE
        },
        Options {
            timestamps: ts(105, 0),
            ..Options::NONE
        },
    )
}

// ----- 35: options only as negotiated -----

/// RFC 7323 §1.3 and RFC 2018 §2: a SYN-ACK carries window scale and
/// SACK-permitted only if the SYN did, and timestamps only if the SYN did.
#[test]
fn line35_synack_answers_only_the_options_the_syn_had() {
    let mut s = server(all_options());
    s.inject(&syn(&s, Options::NONE));
    let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    assert_eq!(
        synack.mss,
        Some(1460),
        "MSS is always sent (RFC 9293 §3.7.1)"
    );
    assert_eq!(synack.options, Options::NONE);

    let mut s = server(all_options());
    let only_sack = Options {
        sack_permitted: true,
        ..Options::NONE
    };
    s.inject(&syn(&s, only_sack));
    let synack = s.expect(Expect::flags(SA));
    assert_eq!(synack.options, only_sack);
}

/// RFC 7323 §3.2: timestamps go on every segment after the SYNs only if
/// both SYNs carried them; a server that offers none never sends one.
#[test]
fn line35_no_timestamps_unless_both_syns_had_them() {
    let mut config = all_options();
    config.timestamps = false;
    let mut s = server(config);
    handshake(
        &mut s,
        Options {
            timestamps: ts(100, 0),
            ..Options::NONE
        },
        Options {
            timestamps: ts(101, 0),
            ..Options::NONE
        },
    );
    write(&mut s, b"hello");
    let data = s.expect(Expect::flags(PA).seq(Y + 1).len(5));
    assert_eq!(data.options.timestamps, None);
}

/// The client side: its SYN offers everything the configuration has,
/// with TSecr 0 (RFC 7323 §3.2: TSecr is zero unless ACK is set).
#[test]
fn line35_the_syn_offers_the_configured_options() {
    let ep = Endpoint::new(
        Ipv4Addr::new(10, 0, 0, 1),
        all_options(),
        ChaCha8Rng::seed_from_u64(0),
    );
    let mut s = Script::new(ep, server_addr(), 40000);
    s.command(|ep, now| ep.connect(now, server_addr(), Some(40000)).unwrap());
    let syn = s.expect(Expect::flags(Flags::SYN).seq(Y).at(Instant::ZERO));
    assert_eq!(syn.mss, Some(1460));
    assert_eq!(syn.options.window_scale, Some(7));
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamps.map(|t| t.ecr), Some(0));
}

// ----- 36: window scaling -----

/// RFC 7323 §2.2–2.3: the window of a SYN or SYN-ACK is never scaled;
/// every later window is shifted by the negotiated counts, in both
/// directions.
#[test]
fn line36_windows_are_scaled_after_the_syns_only() {
    let mut s = server(all_options());
    // The client offers shift 2 and MSS 100.
    let mut first = syn(
        &s,
        Options {
            window_scale: Some(2),
            ..Options::NONE
        },
    );
    first.mss = Some(100);
    s.inject(&first);
    // The SYN-ACK: window 65535 unscaled, our shift 7 in its option.
    let synack = s.expect(Expect::flags(SA).window(65535));
    assert_eq!(synack.options.window_scale, Some(7));
    // The client's ACK announces 25 << 2 = 100 bytes: one full segment of
    // 100. (Unscaled, 25 bytes would be less than a segment, less than what
    // is queued and less than half the largest window seen, 65535: sender
    // silly-window avoidance, RFC 9293 §3.8.6.2.1, would send nothing.)
    let mut a = s.segment(A, X + 1, Y + 1);
    a.window = 25;
    s.inject(&a);
    write(&mut s, &[7; 1000]);
    // Our window: 65535 >> 7 = 511 (65535 / 128 = 511.99, truncated: RFC
    // 7323 §2.3, SEG.WND = RCV.WND >> Rcv.Wind.Shift).
    s.expect(Expect::flags(A).seq(Y + 1).len(100).window(511));
    s.expect_quiet_until(Instant::from_millis(100));
}

/// RFC 7323 §2.3: a shift above 14 is sent and used as 14, ours and the
/// peer's.
#[test]
fn line36_a_shift_above_14_is_used_as_14() {
    let mut config = all_options();
    config.window_scale = Some(15);
    config.mss = 9000;
    let mut s = server(config);
    let mut first = syn(
        &s,
        Options {
            window_scale: Some(15),
            ..Options::NONE
        },
    );
    first.mss = Some(9000);
    s.inject(&first);
    let synack = s.expect(Expect::flags(SA));
    assert_eq!(synack.options.window_scale, Some(14));
    // The peer's window field 1 is 1 << 14 = 16384 bytes (1 << 15 would
    // be 32768): one full segment of 9000 fits, and the remaining 7384 are
    // less than a segment and than half the largest window seen (65535),
    // so they wait. With a shift of 15, three segments would fit.
    let mut a = s.segment(A, X + 1, Y + 1);
    a.window = 1;
    s.inject(&a);
    write(&mut s, &[7; 40000]);
    // Our window field: 65535 >> 14 = 3.
    s.expect(Expect::flags(A).seq(Y + 1).len(9000).window(3));
    s.expect_quiet_until(Instant::from_millis(100));
}

// ----- 37: timestamps -----

/// RFC 7323 §3.2, §4.3: TSecr echoes TS.Recent, which is the TSval of the
/// last in-order segment that covered Last.ACK.sent; the payload of each
/// segment shrinks by the 12 bytes of the option (RFC 6691 §2).
#[test]
fn line37_tsecr_echoes_ts_recent_and_payload_shrinks_by_12() {
    // Nagle off: the 104-octet tail goes with the rest of the write.
    let mut s = server(Config {
        nagle: tcpsim_tcp::Nagle::Off,
        ..all_options()
    });
    let synack = ts_handshake(&mut s);
    assert_eq!(synack.options.timestamps.map(|t| t.ecr), Some(100));
    let v0 = synack.options.timestamps.unwrap().val;
    s.advance_to(Instant::from_millis(30));
    write(&mut s, &[7; 3000]);
    // 1460 − 12 = 1448 bytes a segment: 1448 + 1448 + 104.
    for len in [1448, 1448, 104] {
        let seg = s.expect(Expect::flags(if len == 104 { PA } else { A }).len(len));
        let t = seg.options.timestamps.unwrap();
        assert_eq!(t.ecr, 105, "the ACK's TSval is TS.Recent now");
        // The clock ticks in milliseconds: 30 ms after the SYN-ACK.
        assert_eq!(t.val.wrapping_sub(v0), 30);
    }
}

/// RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent
/// is dropped and acknowledged; its data is not taken.
#[test]
fn line37_paws_drops_an_old_segment_with_an_ack() {
    let mut s = server(all_options());
    ts_handshake(&mut s);
    let mut old = s.segment(PA, X + 1, Y + 1);
    old.payload = b"stale".to_vec();
    old.options.timestamps = ts(90, 0);
    s.inject(&old);
    // ACK(SND.NXT, RCV.NXT): RCV.NXT is still x + 1.
    s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).len(0));
    let readable = s.command(|ep, _| ep.connection(conn(ep)).unwrap().readable());
    assert_eq!(readable, 0);
    // The same data with a current TSval is taken.
    let mut fresh = old.clone();
    fresh.options.timestamps = ts(110, 0);
    s.inject(&fresh);
    s.expect(Expect::flags(A).ack(X + 1 + 5));
}

/// RFC 7323 §4.1 (RTTM): with timestamps every ACK that advances SND.UNA
/// measures RTT from its TSecr: a SYN-ACK echoed 100 ms later gives the
/// first sample, SRTT = R = 100 ms (RFC 6298 §2.2).
#[test]
fn line37_rtt_is_measured_from_tsecr() {
    let mut s = server(all_options());
    s.inject(&syn(
        &s,
        Options {
            timestamps: ts(100, 0),
            ..Options::NONE
        },
    ));
    let synack = s.expect(Expect::flags(SA).at(Instant::ZERO));
    let v0 = synack.options.timestamps.unwrap().val;
    s.advance_to(Instant::from_millis(100));
    let mut a = s.segment(A, X + 1, Y + 1);
    a.options.timestamps = ts(200, v0);
    s.inject(&a);
    let srtt = s.command(|ep, _| ep.connection(conn(ep)).unwrap().rtt().srtt());
    assert_eq!(srtt, Some(Duration::from_millis(100)));
}

// ----- 38: SACK -----

/// The server after a handshake with SACK (and, with `timestamps`, the
/// timestamps option) negotiated; the client's data then arrives as the
/// test sends it.
fn sack_server(timestamps: bool) -> Script {
    let mut s = server(all_options());
    let offer = Options {
        sack_permitted: true,
        timestamps: timestamps.then_some(Timestamps { val: 1, ecr: 0 }),
        ..Options::NONE
    };
    let mut ack = Options::NONE;
    ack.timestamps = offer.timestamps;
    handshake(&mut s, offer, ack);
    s
}

/// The client's data segment `[seq, seq + len)`.
fn data(s: &Script, seq: u32, len: usize, timestamps: bool) -> Segment {
    let mut d = s.segment(A, seq, Y + 1);
    d.payload = vec![1; len];
    d.options.timestamps = timestamps.then_some(Timestamps { val: 2, ecr: 0 });
    d
}

fn blocks(seg: &Segment) -> Vec<(u32, u32)> {
    seg.options
        .sack
        .as_slice()
        .iter()
        .map(|(l, r)| (l.0, r.0))
        .collect()
}

/// RFC 2018 §4: out-of-order data is reported at once, the block holding
/// the segment that triggered the ACK first, then the others most recent
/// first.
#[test]
fn line38_out_of_order_blocks_most_recent_first() {
    let mut s = sack_server(false);
    let base = X + 1;
    s.inject(&data(&s, base + 1000, 100, false)); // gap before it
    let ack = s.expect(Expect::flags(A).ack(base));
    assert_eq!(blocks(&ack), [(base + 1000, base + 1100)]);
    s.inject(&data(&s, base + 2000, 100, false));
    let ack = s.expect(Expect::flags(A).ack(base));
    assert_eq!(
        blocks(&ack),
        [(base + 2000, base + 2100), (base + 1000, base + 1100)]
    );
    // Adjacent to the first block: it grows and moves to the front.
    s.inject(&data(&s, base + 1100, 100, false));
    let ack = s.expect(Expect::flags(A).ack(base));
    assert_eq!(
        blocks(&ack),
        [(base + 1000, base + 1200), (base + 2000, base + 2100)]
    );
}

/// RFC 2018 §3: 40 option bytes hold 4 blocks, 3 beside timestamps.
#[test]
fn line38_at_most_three_blocks_with_timestamps_four_without() {
    for (timestamps, fit) in [(false, 4), (true, 3)] {
        let mut s = sack_server(timestamps);
        let base = X + 1;
        let mut ack = None;
        for i in 1..=5u32 {
            s.inject(&data(&s, base + 1000 * i, 10, timestamps));
            ack = Some(s.expect(Expect::flags(A).ack(base)));
        }
        let got = blocks(&ack.unwrap());
        let newest: Vec<(u32, u32)> = (1..=5u32)
            .rev()
            .take(fit)
            .map(|i| (base + 1000 * i, base + 1000 * i + 10))
            .collect();
        assert_eq!(got, newest, "timestamps {timestamps}");
    }
}

/// RFC 2883 §4 (first example): a duplicate of data already received is
/// reported as the first block of the ACK, once.
#[test]
fn line38_a_duplicate_is_reported_as_a_dsack() {
    let mut s = sack_server(false);
    let base = X + 1;
    s.inject(&data(&s, base, 100, false));
    s.advance_to(Instant::from_millis(500)); // the delayed ACK goes out
    let ack = s.expect(Expect::flags(A).ack(base + 100));
    assert!(blocks(&ack).is_empty());
    s.inject(&data(&s, base, 100, false));
    let dup = s.expect(Expect::flags(A).ack(base + 100));
    assert_eq!(blocks(&dup), [(base, base + 100)]);
    s.inject(&data(&s, base + 200, 10, false));
    let next = s.expect(Expect::flags(A).ack(base + 100));
    assert_eq!(
        blocks(&next),
        [(base + 200, base + 210)],
        "the D-SACK went once"
    );
}

/// RFC 7323 §5.5: once TS.Recent is more than 24 days old it no longer
/// counts: after 25 idle days a segment with a smaller TSval (the peer's
/// clock may have wrapped) is taken, not dropped by PAWS.
#[test]
fn line37_paws_forgets_ts_recent_after_24_days() {
    let mut s = server(all_options());
    ts_handshake(&mut s);
    s.advance_to(Instant::from_secs(25 * 24 * 3600));
    let mut d = s.segment(PA, X + 1, Y + 1);
    d.payload = b"late".to_vec();
    d.options.timestamps = ts(7, 0);
    s.inject(&d);
    let readable = s.command(|ep, _| ep.connection(conn(ep)).unwrap().readable());
    assert_eq!(readable, 4);
}

/// A segment without data that fails PAWS is answered at most once per
/// `invalid_ack_interval` (500 ms, Linux `tcp_invalid_ratelimit`), so that
/// duplicated or reordered ACKs cannot keep an ACK loop going; one with
/// data is always answered (RFC 7323 §5.3 R1).
#[test]
fn line37_paws_answers_to_old_acks_are_rate_limited() {
    let mut s = server(all_options());
    ts_handshake(&mut s);
    let mut old_ack = s.segment(A, X + 1, Y + 1);
    old_ack.options.timestamps = ts(90, 0);
    s.inject(&old_ack);
    s.expect(Expect::flags(A).ack(X + 1).at(Instant::ZERO));
    s.advance_to(Instant::from_millis(499));
    s.inject(&old_ack);
    s.expect_quiet_until(Instant::from_millis(499));
    let mut old_data = old_ack.clone();
    old_data.payload = b"x".to_vec();
    s.inject(&old_data);
    s.expect(Expect::flags(A).ack(X + 1).at(Instant::from_millis(499)));
    s.advance_to(Instant::from_millis(500));
    s.inject(&old_ack);
    s.expect(Expect::flags(A).ack(X + 1).at(Instant::from_millis(500)));
}
