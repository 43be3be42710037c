//! The receive buffer (`Config::recv_buffer`) and the windows announced
//! from it. Under `RecvMemory::Linux` every expected value is the kernel's
//! arithmetic, written out beside it: a buffer of B bytes (twice what
//! `SO_RCVBUF` was given) holds a window of B × ratio / 256, the ratio 128
//! until the first full segment measures it as payload × 256 / truesize;
//! a packet of L bytes (headers included) costs, as a tun device builds it,
//! 4352 + the rest past 3712 bytes in 4096-byte pages, or below that its
//! slab (the next power of two of 64 + L rounded up to 64, + 320, at least
//! 640) + 256. The scenarios are those of the kernel selftests
//! `tools/testing/selftests/net/packetdrill/tcp_rcv_*.pkt` (the peer's MSS
//! 1000, wscale 7, window 257), played against the server (ISS y = 5000);
//! the peer's ISN is x = 1000. Under `RecvMemory::Octets` the values are
//! RFC 9293 §3.8.6's: the window is the free buffer.

use tcpsim_tcp::testing::{Expect, Script};
use tcpsim_tcp::{Config, Flags, Instant, IsnMode, Segment, SeqNum, State};

use crate::harness::{A, FA, PA, SA, X, Y, conn, linux_exact, listening};

/// `linux` with the receive buffer `SO_RCVBUF(asked)` leaves: twice it.
fn linux_with_rcvbuf(asked: u32) -> Config {
    Config {
        recv_buffer: 2 * asked,
        recv_buffer_locked: true,
        ..linux_exact()
    }
}

/// A server with `config` answering the selftests' SYN (`win 32792 <mss
/// 1000, nop, wscale 7>`, or without the window scale; no timestamps or
/// SACK); returns the script after the handshake's ACK and the SYN-ACK.
fn server(mut config: Config, wscale: Option<u8>) -> (Script, Segment) {
    config.isn = IsnMode::Fixed(Y);
    let mut s = listening(config);
    let mut syn = s.segment(Flags::SYN, X, 0);
    syn.window = 32792;
    syn.mss = Some(1000);
    syn.options.window_scale = wscale;
    s.inject(&syn);
    let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1).at(Instant::ZERO));
    let mut ack = s.segment(A, X + 1, Y + 1);
    // 257 << 7 = 32896 scaled, as the selftests send; 32792 unscaled.
    ack.window = if wscale.is_some() { 257 } else { 32792 };
    s.inject(&ack);
    (s, synack)
}

/// `len` octets from the peer at relative sequence number `rel` (1 is the
/// first data octet).
fn data(s: &Script, rel: u32, len: usize) -> Segment {
    let mut d = s.segment(PA, X + rel, Y + 1);
    d.window = 257;
    d.payload = vec![7; len];
    d
}

/// SYN-ACK from a fixed buffer (`tcp_rcv_zero_wnd_fin`, `tcp_rcv_toobig`):
/// `SO_RCVBUF` 20000 keeps 40000 bytes, whose window is 40000 × 128 / 256
/// = 20000, rounded down to whole 1460-byte segments: 13 × 1460 = 18980;
/// the shift that covers 20000 is ilog2(20000) − 15 < 0, so 0. From a
/// 2000000-byte buffer (`SO_RCVBUF` 1000000, `tcp_rcv_wnd_shrink_nomem`):
/// window 1000000, more than the field holds (65535), shift ilog2(1000000)
/// − 15 = 19 − 15 = 4. The default buffer (131072 bytes, unlocked) keeps
/// the shift of `tcp_rmem[2]` (10) and 64240 = 44 × 1460 of its 65536.
#[test]
fn linux_syn_ack_window_and_shift_follow_the_buffer() {
    for (config, window, shift) in [
        (linux_with_rcvbuf(20_000), 18_980, 0),
        (linux_with_rcvbuf(1_000_000), 65_535, 4),
        (linux_exact(), 64_240, 10),
    ] {
        let (_, synack) = server(config, Some(7));
        assert_eq!(
            (synack.window, synack.options.window_scale),
            (window, Some(shift))
        );
    }
}

/// `tcp_rcv_zero_wnd_fin`: one 60000-byte in-order segment into the
/// 18980-byte window is taken whole (nothing waits to be read, so
/// `tcp_sequence` takes a segment larger than the window), and acknowledged
/// with a zero window: its 61696 bytes (4352 + 14 pages for the 56328 past
/// 3712) exceed the 40000-byte buffer. Less than half the buffer free ends
/// quick-ACK mode, so the ACK waits the delayed-ACK time (40 ms). A FIN into
/// that zero window is taken (the memory check fails, but a FIN carries
/// nothing to drop) and, for the refusal, acknowledged at once, window 0.
#[test]
fn linux_segment_larger_than_the_window_fills_an_empty_buffer() {
    let (mut s, _) = server(linux_with_rcvbuf(20_000), Some(7));
    s.inject(&data(&s, 1, 60_000));
    s.expect(
        Expect::flags(A)
            .ack(X + 60_001)
            .window(0)
            .at(Instant::from_millis(40)),
    );
    let mut fin = s.segment(FA, X + 60_001, Y + 1);
    fin.window = 257;
    s.inject(&fin);
    s.expect(
        Expect::flags(A)
            .ack(X + 60_002)
            .window(0)
            .at(Instant::from_millis(40)),
    );
    let state = s.command(|ep, _| ep.state(conn(ep)));
    assert_eq!(state, State::CloseWait);
}

/// The window after data queued and not read, and after the read
/// (`tcp_rcv_toobig`'s first steps, then a read). A 20000-byte segment
/// (20040-byte packet: 4352 + 4 pages = 20736 bytes) measures the ratio
/// 20000 × 256 / 20736 = 246; the buffer's window is then 40000 × 246 /
/// 256 = 38437 and what is free (40000 − 20736) × 246 / 256 = 18511,
/// rounded down to the peer's 1000-byte segments: 18000 — announced after
/// 40 ms (less than half free: no quick ACK). A 60000-byte segment then
/// (data waiting to be read, the end past the window) is not taken: the
/// same ACK at once. Once the application reads everything, a 60000-byte
/// segment is taken and closes the window; reading it reopens the window
/// with an update at once (zero is less than half the clamp, and the
/// window doubles): the free 38437 (the ratio stays 246: the segment's
/// size, 1000, is the estimate already) is held to `rcv_ssthresh`, the
/// SYN-ACK's 18980, and rounded down to whole segments: 18000.
#[test]
fn linux_window_closes_with_unread_data_and_reopens_after_a_read() {
    let (mut s, _) = server(linux_with_rcvbuf(20_000), Some(7));
    s.inject(&data(&s, 1, 20_000));
    s.expect(
        Expect::flags(A)
            .ack(X + 20_001)
            .window(18_000)
            .at(Instant::from_millis(40)),
    );
    s.inject(&data(&s, 20_001, 60_000));
    s.expect(
        Expect::flags(A)
            .ack(X + 20_001)
            .window(18_000)
            .at(Instant::from_millis(40)),
    );
    let read = s.command(|ep, _| ep.recv_to_end(conn(ep), &mut Vec::new()));
    assert_eq!(read, 20_000);
    s.expect_none(); // 18000 is not less than half the clamp: no update
    s.inject(&data(&s, 20_001, 60_000));
    s.expect(Expect::flags(A).ack(X + 80_001).window(0));
    let read = s.command(|ep, _| ep.recv_to_end(conn(ep), &mut Vec::new()));
    assert_eq!(read, 60_000);
    s.expect(Expect::flags(A).ack(X + 80_001).window(18_000).at(s.now));
}

/// `tcp_rcv_big_endseq`: `SO_RCVBUF` 10000 (a 20000-byte buffer, window
/// 10000 → SYN-ACK 6 × 1460 = 8760). 4000 octets (a 4040-byte packet:
/// 4352 + 1 page = 8448 bytes; ratio 4000 × 256 / 8448 = 121) leave
/// (20000 − 8448) × 121 / 256 = 5460 free: window 5000, quick ACK. In-order
/// and out-of-order 50000-octet segments that end past the window, with
/// data unread, are not taken, nor one that starts past it; each gets
/// ACK(4001, window 5000). Read, the queue is empty and the in-order one is
/// taken whole; its ACK (delayed: less than half free) closes the window.
#[test]
fn linux_segment_ending_past_the_window_waits_for_an_empty_queue() {
    let (mut s, synack) = server(linux_with_rcvbuf(10_000), Some(7));
    assert_eq!(synack.window, 8760);
    s.inject(&data(&s, 1, 4000));
    s.expect(
        Expect::flags(A)
            .ack(X + 4001)
            .window(5000)
            .at(Instant::ZERO),
    );
    for (rel, len) in [(4001, 50_000), (5001, 50_000), (70_001, 10_000)] {
        s.inject(&data(&s, rel, len));
        s.expect(
            Expect::flags(A)
                .ack(X + 4001)
                .window(5000)
                .at(Instant::ZERO),
        );
    }
    let read = s.command(|ep, _| ep.recv_to_end(conn(ep), &mut Vec::new()));
    assert_eq!(read, 4000);
    s.expect_none();
    s.inject(&data(&s, 4001, 50_000));
    s.expect(
        Expect::flags(A)
            .ack(X + 54_001)
            .window(0)
            .at(Instant::from_millis(40)),
    );
}

/// Without window scaling the window stays within 65535 even when the
/// buffer holds more (`tcp_rcv_wnd_passive_no_scaling`): `SO_RCVBUF`
/// 256000 keeps 512000 bytes, whose window 256000 the SYN-ACK field caps
/// at 65535. The right edge is RCV.NXT + 65535, so an ACK at x + 65537 is
/// out of the window (answered with ACK, its acknowledgment not taken) and
/// one at x + 65536 is in it.
#[test]
fn linux_window_without_scaling_stops_at_65535() {
    let (mut s, synack) = server(linux_with_rcvbuf(256_000), None);
    assert_eq!((synack.window, synack.options.window_scale), (65_535, None));
    s.command(|ep, now| ep.send(now, conn(ep), &[1; 1000]).unwrap());
    s.expect(Expect::flags(PA).seq(Y + 1).len(1000));
    let mut beyond = s.segment(A, X + 65_537, Y + 1001);
    beyond.window = 32792;
    s.inject(&beyond);
    s.expect(Expect::flags(A).seq(Y + 1001).ack(X + 1).window(65_535));
    let una = s.command(|ep, _| ep.connection(conn(ep)).unwrap().snd_una());
    assert_eq!(una, SeqNum(Y + 1), "not taken");
    let mut inside = s.segment(A, X + 65_536, Y + 1001);
    inside.window = 32792;
    s.inject(&inside);
    let una = s.command(|ep, _| ep.connection(conn(ep)).unwrap().snd_una());
    assert_eq!(una, SeqNum(Y + 1001), "taken");
    s.expect_none();
}

/// `SO_RCVBUF` on an open connection shrinks the buffer under the data it
/// holds (`tcp_rcv_wnd_shrink_nomem`'s squeeze, smaller): a 1000-octet
/// segment (1040-byte packet, a 2048-byte slab: 2304 bytes) is queued in a
/// 40000-byte buffer; the buffer is then cut to 2304 bytes. The next
/// in-order segment finds the memory spent (2304 + 0 > 2304 is false, so
/// it is taken: Linux checks the memory held, not what comes), the one
/// after finds 4608 > 2304 with data waiting: dropped, and acknowledged at
/// once with a zero window although the last window announced was open.
#[test]
fn linux_segment_refused_for_memory_gets_a_zero_window() {
    let (mut s, _) = server(linux_with_rcvbuf(20_000), Some(7));
    s.inject(&data(&s, 1, 1000));
    let first = s.expect(Expect::flags(A).ack(X + 1001).at(Instant::ZERO));
    assert!(first.window > 0);
    s.command(|ep, _| ep.set_recv_buffer(conn(ep), 2304));
    s.inject(&data(&s, 1001, 1000));
    s.expect(Expect::flags(A).ack(X + 2001).at(Instant::ZERO));
    s.inject(&data(&s, 2001, 1000));
    s.expect(Expect::flags(A).ack(X + 2001).window(0).at(Instant::ZERO));
    let held = s.command(|ep, _| ep.connection(conn(ep)).unwrap().readable());
    assert_eq!(held, 2000);
}

/// `RecvMemory::Octets` (`rfc`): the window is the buffer's free octets,
/// scaled. A 200000-octet buffer with shift 2 announces 65535 in the SYN-ACK
/// (the field's most), then 200000 >> 2 = 50000, and after 1000 octets
/// unread (199000) >> 2 = 49750.
#[test]
fn octets_window_is_the_free_buffer() {
    let config = Config {
        recv_buffer: 200_000,
        window_scale: Some(2),
        ..Config::rfc()
    };
    let (mut s, synack) = server(config, Some(7));
    assert_eq!(synack.window, 65_535);
    s.command(|ep, now| ep.send(now, conn(ep), &[1; 10]).unwrap());
    s.expect(Expect::flags(PA).window(50_000));
    let mut d = data(&s, 1, 1000);
    d.ack = SeqNum(Y + 11);
    s.inject(&d);
    s.expect(Expect::flags(A).ack(X + 1001).window(49_750));
}
