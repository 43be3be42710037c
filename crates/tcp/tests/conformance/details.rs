//! Setup and teardown details where Linux and the RFCs part (issue 12,
//! SPEC §5's second table): close with unread data, data after close, an
//! ACK above SND.NXT, a FIN into a zero window, and how soon a FIN is
//! acknowledged. The test plays the client; the endpoint under test is the
//! server (ISS y = 5000). Expected values come from the RFC text or the
//! kernel capture cited beside each test, and from arithmetic.

use std::net::SocketAddrV4;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use tcpsim_tcp::testing::{Expect, Script};
use tcpsim_tcp::{Config, ConnId, Endpoint, Flags, Instant, IsnMode, State, TimerKind};

use crate::harness::{A, FA, PA, PORT, SA, X, Y, conn, linux_exact, listening, peer, server_addr};

/// A server with `config` (ISS y) after a handshake at time zero.
fn established(mut config: Config) -> Script {
    config.isn = IsnMode::Fixed(Y);
    let mut s = listening(config);
    s.inject(&s.segment(Flags::SYN, X, 0));
    s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    s.inject(&s.segment(A, X + 1, Y + 1));
    s
}

fn data(s: &Script, seq: u32, payload: &[u8]) -> tcpsim_tcp::Segment {
    let mut d = s.segment(PA, seq, Y + 1);
    d.payload = payload.to_vec();
    d
}

/// RFC 1122 §4.2.2.13: "If such a host issues a CLOSE call while received
/// data is still pending in TCP ... its TCP SHOULD send a RST"; RFC 9293
/// §3.10.5 gives RST(SND.NXT); Linux sends RST+ACK(SND.NXT, RCV.NXT)
/// (`tests/data/linux/close_unread.trace`: `RA 1 101` after 100 unread
/// bytes). No FIN either way.
#[test]
fn close_with_unread_data_sends_rst_not_fin() {
    for (config, flags) in [
        (Config::rfc(), Flags::RST),
        (linux_exact(), Flags::RST | Flags::ACK),
    ] {
        let linux = flags.ack();
        let mut s = established(config);
        s.inject(&data(&s, X + 1, &[1; 100]));
        if linux {
            // Quick ACK at connection start; `rfc` delays its ACK (200 ms).
            s.expect(Expect::flags(A).ack(X + 101).at(Instant::ZERO));
        }
        s.command(|ep, now| ep.close(now, conn(ep)));
        let rst = s.expect(Expect::flags(flags).seq(Y + 1).at(Instant::ZERO));
        if flags.ack() {
            assert_eq!(rst.ack.0, X + 1 + 100, "RCV.NXT");
        }
        s.expect_quiet_until(Instant::from_secs(5));
    }
}

/// RFC 1122 §4.2.2.13: "... or if new data is received after CLOSE is
/// called, its TCP SHOULD send a RST": the socket was released with nothing
/// unread (a FIN went out), then data arrives: RST(SEG.ACK).
#[test]
fn data_after_close_is_answered_with_rst() {
    let mut s = established(Config::rfc());
    s.command(|ep, now| ep.close(now, conn(ep)));
    s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1));
    s.inject(&data(&s, X + 1, b"late"));
    s.expect(Expect::flags(Flags::RST).seq(Y + 1)); // SEG.ACK
    let gone = s.command(|ep, _| ep.find(server_addr(), peer()).is_none());
    assert!(gone, "the connection is gone");
}

/// RFC 9293 §3.10.7.4, fifth check: "If the ACK acks something not yet
/// sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment"; Linux
/// drops it without a reply (`tcp_ack`, "If the ack includes data we
/// haven't sent yet, discard this segment").
#[test]
fn ack_above_snd_nxt_rfc_acks_linux_drops() {
    let mut s = established(Config::rfc());
    s.inject(&s.segment(A, X + 1, Y + 100));
    s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));

    let mut s = established(linux_exact());
    s.inject(&s.segment(A, X + 1, Y + 100));
    s.expect_quiet_until(Instant::from_secs(5));
}

/// A bare FIN at RCV.NXT while the receive window is zero: `rfc` treats it
/// as outside the window (RFC 9293 §3.10.7.4, first check: a segment of
/// length 1 is unacceptable when RCV.WND = 0): ACK(RCV.NXT) and drop.
/// Linux takes it (`tcp_data_queue`, which accepts a FIN into a zero
/// window to break FIN/ACK loops): CLOSE-WAIT.
#[test]
fn fin_into_a_zero_window() {
    for (mut config, takes) in [(Config::rfc(), false), (linux_exact(), true)] {
        config.recv_window = Some(100);
        let mut s = established(config);
        s.inject(&data(&s, X + 1, &[1; 100])); // fills the window
        let full = s.expect(Expect::flags(A).ack(X + 101));
        assert_eq!(full.window, 0);
        s.inject(&s.segment(FA, X + 101, Y + 1));
        let state = s.command(|ep, _| ep.connection(conn(ep)).unwrap().state());
        if takes {
            assert_eq!(state, State::CloseWait);
            s.expect(Expect::flags(A).ack(X + 102));
        } else {
            assert_eq!(state, State::Established);
            s.expect(Expect::flags(A).ack(X + 101));
        }
    }
}

/// Linux acknowledges a FIN that comes before any data at the next kernel
/// tick (4 ms with HZ = 250, counted from time zero here): a FIN at 30 ms
/// is acknowledged at 32 ms (`tests/data/linux/fin_ack_delay.trace`: 3.85 ms
/// later, 0.0–4.6 ms in 12 runs of 13). After data, the ACK of a FIN waits
/// the delayed-ACK time, 40 ms (`data_fin_ack_delay.trace`: 41.4 ms,
/// 40.2–44.0 ms in 13 runs). `rfc` acknowledges at once (RFC 9293
/// §3.10.7.4, eighth check).
#[test]
fn the_ack_of_a_fin_waits_a_tick_before_data_and_40ms_after() {
    let mut s = established(linux_exact());
    s.advance_to(Instant::from_millis(30));
    s.inject(&s.segment(FA, X + 1, Y + 1));
    s.expect(Expect::flags(A).ack(X + 2).at(Instant::from_millis(32)));

    let mut s = established(linux_exact());
    s.inject(&data(&s, X + 1, &[1; 10]));
    s.expect(Expect::flags(A).ack(X + 11).at(Instant::ZERO)); // quick ACK
    s.advance_to(Instant::from_millis(30));
    s.inject(&s.segment(FA, X + 11, Y + 1));
    s.expect(Expect::flags(A).ack(X + 12).at(Instant::from_millis(70)));

    let mut s = established(Config::rfc());
    s.advance_to(Instant::from_millis(30));
    s.inject(&s.segment(FA, X + 1, Y + 1));
    s.expect(Expect::flags(A).ack(X + 2).at(Instant::from_millis(30)));
}

/// Data that arrives with the peer's FIN stays readable when a RST ends
/// TIME-WAIT (RFC 9293 §3.10.7.4: "If the RST bit is set ... TIME-WAIT:
/// enter CLOSED") before the application has read it: the connection
/// leaves the 4-tuple but keeps its data until the application reads it
/// or lets it go. (Found by the property tests: with segments that arrive
/// together handled before the application, the RST could come first.)
#[test]
fn a_rst_in_time_wait_does_not_lose_unread_data() {
    let mut s = established(Config::rfc());
    s.command(|ep, now| ep.shutdown(now, conn(ep)).unwrap());
    s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1));
    let mut last = data(&s, X + 1, b"tail");
    last.flags = Flags::FIN | Flags::PSH | Flags::ACK;
    last.ack = tcpsim_tcp::SeqNum(Y + 2);
    s.inject(&last);
    s.expect(Expect::flags(A).ack(X + 1 + 4 + 1));
    let id = conn(&s.endpoint);
    assert_eq!(s.endpoint.connection(id).unwrap().state(), State::TimeWait);
    s.inject(&s.segment(Flags::RST, X + 6, 0));
    let c = s.endpoint.connection(id).expect("kept for its unread data");
    assert_eq!((c.state(), c.readable()), (State::Closed, 4));
    assert_eq!(
        s.endpoint.find(server_addr(), peer()),
        None,
        "the 4-tuple is free"
    );
    let mut buf = [0u8; 16];
    let n = s.command(|ep, _| ep.recv(id, &mut buf));
    assert_eq!(&buf[..n], b"tail");
    assert!(s.endpoint.connection(id).is_none(), "forgotten once read");
}

/// Unanswered zero-window probes: Linux gives up after `tcp_retries2` = 15
/// probes, counted (`tcp_probe_timer`), not after the 924.6 s its data
/// retransmissions allow. With an RTO of 2.7 s (first RTT sample 0.9 s:
/// SRTT 0.9 s, RTTVAR 0.45 s, RTO = 0.9 + max(0.2, 4 × 0.45) = 2.7 s) the
/// probes come 2.7, 5.4, 10.8, 21.6, 43.2, 86.4 s apart, then every 120 s
/// (the RTO cap): 6 + 9 = 15 probes by 2.7 × 63 + 9 × 120 = 1250.1 s after
/// the write, and the 16th expiry, at 1370.1 s, gives up. (By elapsed time
/// it would give up at the first expiry 924.6 s after the first probe at
/// 2.7 s: the 13th, at 170.1 + 7 × 120 = 1010.1 s.)
#[test]
fn linux_zero_window_probes_give_up_by_count() {
    let mut config = linux_exact();
    config.isn = IsnMode::Fixed(Y);
    config.timestamps = false; // the RTT sample comes from the SYN-ACK's send time
    let mut s = listening(config);
    s.inject(&s.segment(Flags::SYN, X, 0));
    s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    s.advance_to(Instant::from_millis(900));
    let mut ack = s.segment(A, X + 1, Y + 1);
    ack.window = 0;
    s.inject(&ack);
    s.command(|ep, now| ep.send(now, conn(ep), b"blocked").unwrap());
    let t0 = 900u64; // ms
    let mut at = t0;
    for k in 0..15u32 {
        at += (2_700u64 << k).min(120_000);
        s.expect(Expect::flags(A).seq(Y).len(0).at(Instant::from_millis(at)));
    }
    assert_eq!(at - t0, 1_250_100);
    let gone = t0 + 1_370_100;
    s.advance_to(Instant::from_millis(gone));
    assert_eq!(
        s.saw(tcpsim_tcp::Event::TimedOut),
        Some(Instant::from_millis(gone))
    );
    s.expect_none();
}

/// RFC 9293 §3.10.7.4, first check: "If the RCV.WND is zero, no segments
/// will be acceptable, but special allowance should be made to accept
/// valid ACKs, URGs, and RSTs"; the text of such a segment is dropped and
/// an ACK sent (the reply to an unacceptable segment). Linux does the same:
/// a segment at RCV.NXT passes `tcp_sequence` even into a zero window, so
/// `tcp_ack` runs before `tcp_data_queue` drops the text and ACKs at once.
///
/// The server's window (100 octets) is full: RCV.NXT = x+101, RCV.WND = 0.
/// It has 5 octets out (SND.UNA = y+1, SND.NXT = y+6). The client's next
/// segment, at RCV.NXT with 10 octets, acknowledges them (SEG.ACK = y+6)
/// and closes its own window (SEG.WND = 0). Its ACK field is processed:
/// SND.UNA = y+6 (nothing left unacknowledged, so the retransmission timer
/// stops, RFC 6298 §5.2), SND.WND = 0 (so the next write waits for the
/// persist timer, §3.8.6.1); its text is not taken: the reply is ACK(y+6,
/// x+101) with window 0, at once.
#[test]
fn zero_window_data_segment_still_has_its_ack_processed() {
    for config in [Config::rfc(), linux_exact()] {
        let mut config = config;
        config.recv_window = Some(100);
        let mut s = established(config);
        s.inject(&data(&s, X + 1, &[1; 100])); // fills the window
        let full = s.expect(Expect::flags(A).ack(X + 101));
        assert_eq!(full.window, 0);
        let t = s.now;
        s.command(|ep, now| ep.send(now, conn(ep), b"hello").unwrap());
        s.expect(Expect::flags(PA).seq(Y + 1).ack(X + 101).len(5).at(t));

        let mut seg = data(&s, X + 101, &[2; 10]);
        seg.ack = tcpsim_tcp::SeqNum(Y + 1 + 5);
        seg.window = 0;
        s.inject(&seg);
        s.expect(
            Expect::flags(A)
                .seq(Y + 6)
                .ack(X + 101)
                .window(0)
                .len(0)
                .at(t),
        );
        let id = conn(&s.endpoint);
        let c = s.endpoint.connection(id).unwrap();
        assert_eq!(c.snd_una().0, Y + 6, "SND.UNA advanced");
        assert_eq!(c.rcv_nxt().0, X + 101, "the text was dropped");
        assert_eq!(c.readable(), 100, "only the first 100 octets");
        assert_eq!(c.timer(TimerKind::Retransmit), None);

        // SND.WND = 0 now: a write waits for the persist timer.
        s.command(|ep, now| ep.send(now, conn(ep), b"more").unwrap());
        s.expect_none();
        let c = s.endpoint.connection(id).unwrap();
        assert!(c.timer(TimerKind::Persist).is_some(), "window probing");
    }
}

/// The same allowance for a RST (RFC 9293 §3.10.7.4, first check): a RST
/// at RCV.NXT that carries text (RFC 1122 §4.2.2.12 lets a RST carry
/// diagnostic data) is not acceptable by the table when RCV.WND = 0, but
/// its RST bit is still handled (second check: SEG.SEQ = RCV.NXT resets).
#[test]
fn zero_window_rst_with_text_still_resets() {
    for config in [Config::rfc(), linux_exact()] {
        let mut config = config;
        config.recv_window = Some(100);
        let mut s = established(config);
        s.inject(&data(&s, X + 1, &[1; 100]));
        s.expect(Expect::flags(A).ack(X + 101));
        let mut rst = s.segment(Flags::RST, X + 101, 0);
        rst.payload = b"diagnostic".to_vec();
        s.inject(&rst);
        assert!(s.saw(tcpsim_tcp::Event::Reset).is_some(), "reset");
        s.expect_none();
    }
}

/// A server with `config` (ISS y) holding a half-open connection: the
/// client's SYN(x) arrived at time zero and was answered with SA(y, x+1);
/// RCV.NXT = x+1, the window 65535.
fn half_open(mut config: Config) -> Script {
    config.isn = IsnMode::Fixed(Y);
    let mut s = listening(config);
    s.inject(&s.segment(Flags::SYN, X, 0));
    s.expect(Expect::flags(SA).seq(Y).ack(X + 1).at(Instant::ZERO));
    s
}

/// The listener is still there after the half-open connection went: a
/// new SYN from another port gets its SYN-ACK.
fn assert_listener_stays(s: &mut Script) {
    let mut syn = s.segment(Flags::SYN, 7000, 0);
    syn.src = SocketAddrV4::new(*peer().ip(), 40001);
    s.inject(&syn);
    s.expect(Expect::flags(SA).seq(Y).ack(7001));
}

/// A RST in the window of a half-open connection (passive open), not at
/// RCV.NXT (x+11 against x+1):
/// - `rfc`: RFC 9293 §3.10.7.4, second check, with RFC 5961 §3.2 (which
///   applies in every state but SYN-SENT): "If the RST bit is set and the
///   sequence number does not exactly match the next expected sequence
///   value, yet is within the current receive window, TCP endpoints MUST
///   send an acknowledgment (challenge ACK)": ACK(y+1, x+1), the
///   connection stays.
/// - `linux`: the kernel keeps a half-open connection as a request, and
///   `tcp_check_req` checks a RST only against the window (its
///   `tcp_in_window`): any RST in the window drops the request at once
///   (the `embryonic_reset` path) and nothing is sent, since a RST is never
///   answered. The listener stays.
#[test]
fn half_open_rst_in_window_rfc_challenges_linux_deletes() {
    let mut s = half_open(Config::rfc());
    s.inject(&s.segment(Flags::RST, X + 11, 0));
    s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
    let c = s.endpoint.connection(conn(&s.endpoint)).unwrap();
    assert_eq!(c.state(), State::SynReceived);

    let mut s = half_open(linux_exact());
    s.inject(&s.segment(Flags::RST, X + 11, 0));
    s.expect_none();
    assert_eq!(s.endpoint.connection_count(), 0, "the request is gone");
    assert_listener_stays(&mut s);
}

/// A RST at exactly RCV.NXT (x+1), both profiles: the half-open
/// connection is deleted without a reply and the listener stays (RFC 9293
/// §3.10.7.4, second check, SYN-RECEIVED: "If this connection was
/// initiated with a passive OPEN (i.e., came from the LISTEN state), then
/// return this connection to LISTEN state and return"; Linux
/// `tcp_check_req`, as above). A RST+ACK whose ACK is not y+1 is another
/// matter for Linux: `tcp_check_req` hands a segment with a wrong ACK to
/// the listener before it looks at the RST, and the listener never
/// answers a RST, so the request stays; RFC 9293 looks at the RST first.
#[test]
fn half_open_rst_at_rcv_nxt_deletes_it_silently() {
    for config in [Config::rfc(), linux_exact()] {
        let mut s = half_open(config);
        s.inject(&s.segment(Flags::RST, X + 1, 0));
        s.expect_none();
        assert_eq!(s.endpoint.connection_count(), 0, "deleted");
        assert_listener_stays(&mut s);
    }
    for (config, stays) in [(Config::rfc(), false), (linux_exact(), true)] {
        let mut s = half_open(config);
        s.inject(&s.segment(Flags::RST | Flags::ACK, X + 1, Y + 7));
        s.expect_none();
        assert_eq!(s.endpoint.connection_count(), usize::from(stays));
    }
}

/// A new SYN in the window of a half-open connection (seq x+100, not the
/// retransmission of SYN(x), which `duplicate_syn` answers):
/// - `rfc`: RFC 9293 §3.10.7.4, fourth check, SYN-RECEIVED: "If the
///   connection was initiated with a passive OPEN, then return this
///   connection to the LISTEN state and return": deleted, nothing sent.
/// - `linux`: `tcp_check_req` takes the SYN in the window for a bad one
///   and goes the same `embryonic_reset` way as for a RST, but first
///   answers it with a RST, built as for a segment of no connection
///   (`tcp_v4_send_reset`): the SYN has no ACK, so RST+ACK(0, x+100+1).
///   The request is dropped; the listener stays.
#[test]
fn half_open_syn_in_window_rfc_deletes_linux_resets() {
    for (config, rst) in [(Config::rfc(), false), (linux_exact(), true)] {
        let mut s = half_open(config);
        s.inject(&s.segment(Flags::SYN, X + 100, 0));
        if rst {
            s.expect(
                Expect::flags(Flags::RST | Flags::ACK)
                    .seq(0)
                    .ack(X + 100 + 1)
                    .at(Instant::ZERO),
            );
        }
        s.expect_none();
        assert_eq!(s.endpoint.connection_count(), 0, "deleted");
        assert_listener_stays(&mut s);
    }
    // With an ACK that is not y+1, `tcp_check_req` hands the SYN to the
    // listener, which answers RST(SEG.ACK) as LISTEN does (RFC 9293
    // §3.10.7.2) and leaves the request; RFC 9293's fourth check does
    // not look at the ACK.
    for (config, stays) in [(Config::rfc(), false), (linux_exact(), true)] {
        let mut s = half_open(config);
        s.inject(&s.segment(SA, X + 100, Y + 7));
        if stays {
            s.expect(Expect::flags(Flags::RST).seq(Y + 7).at(Instant::ZERO));
        }
        s.expect_none();
        assert_eq!(s.endpoint.connection_count(), usize::from(stays));
    }
}

/// The SYN-RECEIVED of a simultaneous open is not a request but a socket
/// of its own (it came from SYN-SENT), so both profiles treat it as RFC
/// 5961 §3.2 and §4.2 (RFC 9293 §3.10.7.4, second and fourth checks;
/// Linux `tcp_validate_incoming`): a RST in the window but not at RCV.NXT,
/// and any SYN, get a challenge ACK(SND.NXT, RCV.NXT) and change nothing;
/// a RST at RCV.NXT refuses the connection ("If this connection was
/// initiated with an active OPEN ... the connection was refused").
#[test]
fn simultaneous_open_syn_received_keeps_rfc_5961() {
    for config in [Config::rfc(), linux_exact()] {
        let mut config = config;
        config.isn = IsnMode::Fixed(Y);
        let ep = Endpoint::new(*server_addr().ip(), config, ChaCha8Rng::seed_from_u64(0));
        let mut s = Script::new(ep, peer(), PORT);
        let id = s.command(|ep, now| ep.connect(now, peer(), Some(PORT)).unwrap());
        s.expect(Expect::flags(Flags::SYN).seq(Y));
        s.inject(&s.segment(Flags::SYN, X, 0)); // the SYNs cross
        s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
        assert_eq!(s.endpoint.state(id), State::SynReceived);

        s.inject(&s.segment(Flags::RST, X + 11, 0));
        s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
        s.inject(&s.segment(Flags::SYN, X + 100, 0));
        s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
        assert_eq!(s.endpoint.state(id), State::SynReceived);

        s.inject(&s.segment(Flags::RST, X + 1, 0));
        s.expect_none();
        assert_eq!(s.endpoint.state(id), State::Closed);
        assert!(s.saw(tcpsim_tcp::Event::Refused).is_some());
    }
}

/// A server with `config` in TIME-WAIT at 1 s: it closed first at 1 s
/// (FA(y+1, x+1)), the client's FA(x+1, y+2) came back at once and was
/// acknowledged. RCV.NXT = x+2, SND.NXT = y+2; the TIME-WAIT timer runs
/// from 1 s.
fn time_wait(config: Config) -> (Script, ConnId) {
    time_wait_compact(config, true)
}

/// [`time_wait`], with the endpoint's compact TIME-WAIT on or off.
fn time_wait_compact(config: Config, compact: bool) -> (Script, ConnId) {
    let mut s = established(config);
    s.endpoint.set_compact_time_wait(compact.then_some(0));
    s.advance_to(Instant::from_secs(1));
    s.command(|ep, now| ep.close(now, conn(ep)));
    s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1));
    s.inject(&s.segment(FA, X + 1, Y + 2));
    s.expect(
        Expect::flags(A)
            .seq(Y + 2)
            .ack(X + 2)
            .at(Instant::from_secs(1)),
    );
    let id = conn(&s.endpoint);
    assert_eq!(s.endpoint.state(id), State::TimeWait);
    (s, id)
}

fn time_wait_deadline(s: &Script, id: ConnId) -> Option<Instant> {
    s.endpoint.timer(id, TimerKind::TimeWait)
}

/// A connection its application has released keeps only what TIME-WAIT
/// needs once it is there, under the linux profile (Linux replaces the
/// socket with a `tcp_timewait_sock`, `tcp_time_wait`): the endpoint no
/// longer holds a `Connection` for it, yet knows its state, its timer and
/// its figures, answers the peer's FIN again as before and stays compact.
/// Under `rfc` (RFC 9293's TIME-WAIT, which takes an ACK through the
/// sending side) and with compaction off, the connection stays whole; the
/// figures are the same either way.
#[test]
fn a_released_time_wait_is_compact_under_linux() {
    for (config, compact, on, tw) in [
        (linux_exact(), true, true, 60),
        (linux_exact(), false, false, 60),
        (Config::rfc(), false, true, 240),
    ] {
        let (mut s, id) = time_wait_compact(config, on);
        let what = format!("{} with compaction {on}", config.profile);
        assert_eq!(s.endpoint.connection(id).is_none(), compact, "{what}");
        assert_eq!(s.endpoint.state(id), State::TimeWait, "{what}");
        assert_eq!(
            time_wait_deadline(&s, id),
            Some(Instant::from_secs(1 + tw)),
            "{what}"
        );
        let stats = s.endpoint.recovery_stats(id).expect("its figures");
        let (whole, whole_id) = time_wait_compact(config, false);
        assert_eq!(
            Some(stats),
            whole.endpoint.recovery_stats(whole_id),
            "{what}"
        );
        // The peer's FIN again (its ACK was lost): ACK(y+2, x+2), and the
        // timer starts over (RFC 9293 §3.10.7.4, fifth check).
        s.advance_to(Instant::from_secs(2));
        s.inject(&s.segment(FA, X + 1, Y + 2));
        s.expect(
            Expect::flags(A)
                .seq(Y + 2)
                .ack(X + 2)
                .at(Instant::from_secs(2)),
        );
        s.expect_none();
        assert_eq!(s.endpoint.connection(id).is_none(), compact, "{what}");
        assert_eq!(
            time_wait_deadline(&s, id),
            Some(Instant::from_secs(2 + tw)),
            "{what}"
        );
        // The timer ends it: CLOSED, forgotten.
        s.advance_to(Instant::from_secs(2 + tw));
        s.expect_none();
        assert_eq!(s.endpoint.state(id), State::Closed, "{what}");
        assert_eq!(s.endpoint.connection_count(), 0, "{what}");
    }
}

/// A RST in TIME-WAIT that is in the window but not at RCV.NXT (x+12):
/// - `rfc`: RFC 9293 §3.10.7.4, second check, RFC 5961 §3.2: a challenge
///   ACK(y+2, x+2); TIME-WAIT goes on.
/// - `linux`: `tcp_timewait_state_process` takes a RST only with SEG.SEQ =
///   RCV.NXT exactly; any other RST is dropped, with no answer and no
///   effect (it does not restart the timer).
///
/// A RST at RCV.NXT closes in both (`rst_in_time_wait = "close"`, RFC
/// 9293: "TIME-WAIT STATE: If the RST bit is set, then enter the CLOSED
/// state"; the kernel without `tcp_rfc1337`); with
/// `rst_in_time_wait = "ignore"` (RFC 1337; the kernel's `tcp_rfc1337`)
/// it is dropped and the timer keeps its deadline.
#[test]
fn time_wait_rst_not_at_rcv_nxt_rfc_challenges_linux_drops() {
    for (config, challenge, tw) in [
        (Config::rfc(), true, Instant::from_secs(1 + 240)),
        (linux_exact(), false, Instant::from_secs(1 + 60)),
    ] {
        let (mut s, id) = time_wait(config);
        s.advance_to(Instant::from_secs(2));
        s.inject(&s.segment(Flags::RST, X + 12, 0));
        if challenge {
            s.expect(
                Expect::flags(A)
                    .seq(Y + 2)
                    .ack(X + 2)
                    .at(Instant::from_secs(2)),
            );
        }
        s.expect_none();
        assert_eq!(s.endpoint.state(id), State::TimeWait);
        assert_eq!(time_wait_deadline(&s, id), Some(tw));

        s.inject(&s.segment(Flags::RST, X + 2, 0));
        s.expect_none();
        assert_eq!(s.endpoint.state(id), State::Closed);

        let mut config = config;
        config.rst_in_time_wait = tcpsim_tcp::RstInTimeWait::Ignore;
        let (mut s, id) = time_wait(config);
        s.advance_to(Instant::from_secs(2));
        s.inject(&s.segment(Flags::RST, X + 2, 0));
        s.expect_none();
        assert_eq!(s.endpoint.state(id), State::TimeWait);
        assert_eq!(time_wait_deadline(&s, id), Some(tw), "not restarted");
    }
}

/// Which segments restart the TIME-WAIT timer. Each arrives at 11 s, ten
/// seconds into TIME-WAIT (entered at 1 s).
///
/// `rfc` (RFC 9293 §3.10.7.4): a retransmission of the peer's FIN fails
/// the acceptability test and is acknowledged, and TIME-WAIT's rule
/// ("The only thing that can arrive in this state is a retransmission of
/// the remote FIN. Acknowledge it, and restart the 2 MSL timeout") restarts
/// the timer: 11 + 240 s. A bare ACK at RCV.NXT is acceptable and is not
/// that retransmission: no answer, the deadline stays 1 + 240 s. An old
/// ACK (SEG.SEQ = x+1, below RCV.NXT) fails the acceptability test: ACK,
/// deadline kept.
///
/// `linux` (`tcp_timewait_state_process`): a segment at RCV.NXT without
/// text and without RST (the kernel expects only a bare ACK there)
/// restarts the timer (`inet_twsk_reschedule`, `TCP_TIMEWAIT_LEN` = 60 s) and is not
/// answered: 11 + 60 s. Every other segment but a RST is "out of window":
/// it is acknowledged, and it restarts the timer if it carries ACK (the
/// retransmitted FIN does, and so does the old ACK): 11 + 60 s. An
/// ACK-less SYN that does not reopen (a lower sequence number) is
/// acknowledged without a restart (it may as well be the first SYN of a
/// new connection that happened to pick a lower number): the deadline
/// stays 1 + 60 s.
#[test]
fn time_wait_timer_restarts_rfc_on_the_fin_linux_on_any_ack() {
    let at = Instant::from_secs(11);
    let fin = |s: &Script| s.segment(FA, X + 1, Y + 2);
    let bare_ack = |s: &Script| s.segment(A, X + 2, Y + 2);
    let old_ack = |s: &Script| s.segment(A, X + 1, Y + 2);
    let old_syn = |s: &Script| s.segment(Flags::SYN, X - 500, 0);
    type Case = (fn(&Script) -> tcpsim_tcp::Segment, bool, u64);
    let rfc: [(&str, Case); 4] = [
        ("retransmitted FIN", (fin, true, 11 + 240)),
        ("bare ACK at RCV.NXT", (bare_ack, false, 1 + 240)),
        ("old ACK", (old_ack, true, 1 + 240)),
        ("old SYN", (old_syn, true, 1 + 240)),
    ];
    let linux: [(&str, Case); 4] = [
        ("retransmitted FIN", (fin, true, 11 + 60)),
        ("bare ACK at RCV.NXT", (bare_ack, false, 11 + 60)),
        ("old ACK", (old_ack, true, 11 + 60)),
        ("old SYN", (old_syn, true, 1 + 60)),
    ];
    for (config, cases) in [(Config::rfc(), rfc), (linux_exact(), linux)] {
        for (what, (segment, answered, deadline)) in cases {
            let (mut s, id) = time_wait(config);
            s.advance_to(at);
            s.inject(&segment(&s));
            if answered {
                s.expect(Expect::flags(A).seq(Y + 2).ack(X + 2).at(at));
            }
            s.expect_none();
            assert_eq!(
                time_wait_deadline(&s, id),
                Some(Instant::from_secs(deadline)),
                "{} {what}",
                config.profile
            );
            s.advance_to(Instant::from_secs(deadline));
            assert_eq!(s.endpoint.state(id), State::Closed, "{what}");
        }
    }
}

/// With timestamps, a segment in TIME-WAIT whose TSval is older than
/// TS.Recent fails PAWS (RFC 7323 §5.3 R1: "send an acknowledgment in
/// reply ... and drop the segment"): both profiles acknowledge it. Only
/// `linux` restarts the timer for it (`tcp_timewait_state_process` treats
/// a segment that failed PAWS as out of window, and restarts the timer
/// for it as for one with ACK), at 11 + 60 s; `rfc` keeps 1 + 240 s.
/// TS.Recent is 110 here, the TSval of the client's FIN; the old segment
/// is a bare ACK at RCV.NXT with TSval 90.
#[test]
fn time_wait_paws_failure_restarts_the_timer_only_in_linux() {
    let ts = |val, ecr| Some(tcpsim_tcp::Timestamps { val, ecr });
    let mut rfc = Config::rfc();
    rfc.timestamps = true;
    for (config, deadline) in [(rfc, 1 + 240), (linux_exact(), 11 + 60)] {
        let mut config = config;
        config.isn = IsnMode::Fixed(Y);
        let mut s = listening(config);
        let mut syn = s.segment(Flags::SYN, X, 0);
        syn.mss = Some(1460);
        syn.options.timestamps = ts(100, 0);
        s.inject(&syn);
        let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
        let our = synack.options.timestamps.expect("timestamps agreed").val;
        let mut ack = s.segment(A, X + 1, Y + 1);
        ack.options.timestamps = ts(105, our);
        s.inject(&ack);

        s.advance_to(Instant::from_secs(1));
        s.command(|ep, now| ep.close(now, conn(ep)));
        s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1));
        let mut fin = s.segment(FA, X + 1, Y + 2);
        fin.options.timestamps = ts(110, our);
        s.inject(&fin);
        s.expect(Expect::flags(A).seq(Y + 2).ack(X + 2));
        let id = conn(&s.endpoint);
        assert_eq!(s.endpoint.state(id), State::TimeWait);

        s.advance_to(Instant::from_secs(11));
        let mut old = s.segment(A, X + 2, Y + 2);
        old.options.timestamps = ts(90, our);
        s.inject(&old);
        s.expect(
            Expect::flags(A)
                .seq(Y + 2)
                .ack(X + 2)
                .at(Instant::from_secs(11)),
        );
        s.expect_none();
        assert_eq!(
            time_wait_deadline(&s, id),
            Some(Instant::from_secs(deadline)),
            "{}",
            config.profile
        );
    }
}

/// CLOSE in SYN-RECEIVED sends the FIN at once (RFC 9293 §3.10.4; see
/// `closing::close_in_syn_received_sends_the_fin_at_once`), behind a
/// SYN-ACK that is not yet acknowledged. When the retransmission timer
/// expires one initial RTO (1 s, RFC 6298 §2.1) after the SYN-ACK, what
/// goes again is "the earliest segment that has not been acknowledged"
/// (§5.4): the SYN-ACK (y, x+1), not the FIN. The client's ACK of both
/// (x+1, y+2) then ends FIN-WAIT-1.
#[test]
fn close_in_syn_received_retransmits_the_syn_ack_first() {
    let mut s = half_open(Config::rfc());
    s.command(|ep, now| ep.close(now, conn(ep)));
    s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
    let rtx = Instant::from_secs(1);
    s.expect(Expect::flags(SA).seq(Y).ack(X + 1).at(rtx));
    s.advance_to(Instant::from_millis(1100));
    s.inject(&s.segment(A, X + 1, Y + 2));
    let id = conn(&s.endpoint);
    assert_eq!(s.endpoint.state(id), State::FinWait2);
    s.expect_none();
}

/// CLOSE in SYN-RECEIVED after a SEND: "otherwise, queue for processing
/// after entering ESTABLISHED state" (RFC 9293 §3.10.4). Nothing goes out
/// at the close; the client's ACK makes the connection ESTABLISHED and
/// then FIN-WAIT-1, and the data goes with the FIN behind it (here in one
/// segment, CONFORMANCE 24: FIN+PSH+ACK, seq y+1, 3 octets).
#[test]
fn close_in_syn_received_after_a_send_waits_for_established() {
    let mut s = half_open(Config::rfc());
    s.command(|ep, now| ep.send(now, conn(ep), b"abc").unwrap());
    s.command(|ep, now| ep.close(now, conn(ep)));
    s.expect_none();
    let id = conn(&s.endpoint);
    assert_eq!(s.endpoint.state(id), State::SynReceived);
    s.advance_to(Instant::from_millis(100));
    s.inject(&s.segment(A, X + 1, Y + 1));
    s.expect(
        Expect::flags(Flags::FIN | PA)
            .seq(Y + 1)
            .ack(X + 1)
            .len(3)
            .at(Instant::from_millis(100)),
    );
    assert_eq!(s.endpoint.state(id), State::FinWait1);
}

/// A server with `config` and timestamps on (ISS y) after a handshake at
/// time zero whose SYN carried TSval 100 and whose ACK TSval 200: TS.Recent
/// is 200, RCV.NXT = x+1, SND.NXT = y+1. Returns the script and the TSval
/// of the SYN-ACK (the server's clock, which the client echoes).
fn established_with_timestamps(mut config: Config) -> (Script, u32) {
    config.isn = IsnMode::Fixed(Y);
    config.timestamps = true;
    let mut s = listening(config);
    let mut syn = s.segment(Flags::SYN, X, 0);
    syn.mss = Some(1460);
    syn.options.timestamps = Some(tcpsim_tcp::Timestamps { val: 100, ecr: 0 });
    s.inject(&syn);
    let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    let ours = synack.options.timestamps.expect("timestamps agreed").val;
    let mut ack = s.segment(A, X + 1, Y + 1);
    ack.options.timestamps = Some(tcpsim_tcp::Timestamps {
        val: 200,
        ecr: ours,
    });
    s.inject(&ack);
    (s, ours)
}

/// The TSecr of a segment the server sent.
fn tsecr(seg: &tcpsim_tcp::Segment) -> u32 {
    seg.options.timestamps.expect("a timestamps option").ecr
}

/// The peer's FIN+ACK acknowledges far more than was sent (SEG.ACK =
/// y+9999, SND.NXT = y+1) and carries TSval 200000, then 1000 octets at
/// RCV.NXT come with TSval 201.
///
/// - `rfc`: RFC 7323 §5.3 R3 records a TSval as soon as the segment has
///   passed the sequence-number check, which the FIN+ACK does (it starts
///   at RCV.NXT = Last.ACK.sent): TS.Recent = 200000. Only then does the
///   fifth check of RFC 9293 §3.10.7.4 find the ACK above SND.NXT: "send
///   an ACK, drop the segment", and that ACK echoes 200000. The data's
///   TSval 201 is now older than TS.Recent: PAWS (R1) drops it with an
///   ACK that still says x+1.
/// - `linux`: the kernel takes a TSval into TS.Recent only inside its ACK
///   processing, after it has found the ACK field neither above SND.NXT
///   nor below SND.UNA (`tcp_ack` with `FLAG_UPDATE_TS_RECENT`); an ACK
///   above SND.NXT ends the segment before that, silently, and before its
///   FIN is looked at (the connection stays ESTABLISHED). TS.Recent stays
///   200, so TSval 201 passes PAWS, the data is taken and acknowledged at
///   once (quick-ACK mode at connection start) with TSecr 201. (The
///   kernel selftest `tcp_ts_recent_invalid_ack` checks the same.)
#[test]
fn ts_recent_is_not_taken_from_a_segment_dropped_for_its_ack() {
    for (config, linux) in [(Config::rfc(), false), (linux_exact(), true)] {
        let (mut s, ours) = established_with_timestamps(config);
        let mut bad = s.segment(FA, X + 1, Y + 9999);
        bad.options.timestamps = Some(tcpsim_tcp::Timestamps {
            val: 200_000,
            ecr: ours,
        });
        s.inject(&bad);
        if linux {
            s.expect_none();
        } else {
            let ack = s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
            assert_eq!(tsecr(&ack), 200_000, "R3 took the TSval");
        }
        let id = conn(&s.endpoint);
        assert_eq!(s.endpoint.state(id), State::Established, "FIN not taken");

        let mut d = data(&s, X + 1, &[7; 1000]);
        d.flags = A;
        d.options.timestamps = Some(tcpsim_tcp::Timestamps {
            val: 201,
            ecr: ours,
        });
        s.inject(&d);
        let readable = s.endpoint.connection(id).unwrap().readable();
        if linux {
            let ack = s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1001).at(Instant::ZERO));
            assert_eq!(tsecr(&ack), 201);
            assert_eq!(readable, 1000);
        } else {
            let ack = s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
            assert_eq!(tsecr(&ack), 200_000);
            assert_eq!(readable, 0, "dropped by PAWS");
        }
        s.expect_none();
    }
}

/// A SYN at RCV.NXT in ESTABLISHED with TSval 300 gets a challenge ACK
/// (RFC 5961 §4.2) in both profiles; what that ACK echoes differs. `rfc`
/// has recorded the SYN's TSval after the sequence-number check (RFC 7323
/// §5.3 R3), before the fourth check sends the challenge: TSecr 300.
/// `linux` answers the SYN in `tcp_validate_incoming`, before `tcp_ack`,
/// the only place that updates TS.Recent: TSecr 200, the last TSval taken.
#[test]
fn a_challenge_ack_echoes_ts_recent_from_before_the_syn_in_linux() {
    for (config, echo) in [(Config::rfc(), 300), (linux_exact(), 200)] {
        let (mut s, ours) = established_with_timestamps(config);
        let mut syn = s.segment(Flags::SYN, X + 1, 0);
        syn.options.timestamps = Some(tcpsim_tcp::Timestamps {
            val: 300,
            ecr: ours,
        });
        s.inject(&syn);
        let ack = s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1).at(Instant::ZERO));
        assert_eq!(tsecr(&ack), echo, "{}", config.profile);
        s.expect_none();
    }
}

/// The SACK blocks of a segment the server sent, as plain numbers.
fn sack_blocks(seg: &tcpsim_tcp::Segment) -> Vec<(u32, u32)> {
    seg.options
        .sack
        .as_slice()
        .iter()
        .map(|(l, r)| (l.0, r.0))
        .collect()
}

/// A server with `config` and SACK on (no timestamps, window scaling as
/// the profile offers), after a handshake at time zero with a client that
/// announced MSS 1000 and SACK-permitted.
fn established_with_sack(mut config: Config) -> Script {
    config.isn = IsnMode::Fixed(Y);
    config.sack = true;
    let mut s = listening(config);
    let mut syn = s.segment(Flags::SYN, X, 0);
    syn.mss = Some(1000);
    syn.options.sack_permitted = true;
    s.inject(&syn);
    let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    assert!(synack.options.sack_permitted);
    s.inject(&s.segment(A, X + 1, Y + 1));
    s
}

/// 1000 octets arrive and are read; then the peer sends them again with
/// its FIN (seq x+1, 1000 octets, FIN): the data is old, the FIN is new
/// (RCV.NXT = x+1001 becomes x+1002).
///
/// - `rfc`: the segment repeats received data, which RFC 2883 §4 reports
///   as a D-SACK block, x+1:x+1001, in the ACK; the repetition (and the
///   FIN, RFC 9293 §3.10.7.4's eighth check) is acknowledged at once.
/// - `linux`: the kernel queues the segment from RCV.NXT, taking only its
///   new part, the FIN (it notes a D-SACK for the old part on the way); the
///   FIN then clears every SACK block and the pending D-SACK
///   (`tcp_fin` → `tcp_sack_reset`) and puts the connection into
///   ping-pong mode, so the ACK of x+1002 has no SACK option and waits
///   the delayed-ACK time, 40 ms (the kernel selftest `tcp_close_no_rst`
///   sees it within 40 ms, without D-SACK).
///
/// Closing then sends the FIN, not a RST: nothing is left unread (RFC 2525
/// §2.17).
#[test]
fn an_old_segment_with_a_new_fin_clears_the_dsack_in_linux() {
    for (config, linux) in [(Config::rfc(), false), (linux_exact(), true)] {
        let mut s = established_with_sack(config);
        let mut d = data(&s, X + 1, &[5; 1000]);
        d.flags = A;
        s.inject(&d);
        // linux: a quick ACK; rfc: the delayed ACK, 200 ms later.
        let ack = s.expect(Expect::flags(A).ack(X + 1001));
        assert!(sack_blocks(&ack).is_empty());
        let id = conn(&s.endpoint);
        let mut buf = [0u8; 1000];
        assert_eq!(s.command(|ep, _| ep.recv(id, &mut buf)), 1000);

        let t = s.now;
        let mut again = d.clone();
        again.flags = FA;
        s.inject(&again);
        assert_eq!(s.endpoint.state(id), State::CloseWait);
        let ack = if linux {
            s.expect(
                Expect::flags(A)
                    .seq(Y + 1)
                    .ack(X + 1002)
                    .at(t + tcpsim_tcp::Duration::from_millis(40)),
            )
        } else {
            s.expect(Expect::flags(A).seq(Y + 1).ack(X + 1002).at(t))
        };
        if linux {
            assert_eq!(sack_blocks(&ack), [], "no D-SACK after the FIN");
        } else {
            assert_eq!(sack_blocks(&ack), [(X + 1, X + 1001)], "D-SACK");
        }
        s.command(|ep, now| ep.close(now, id));
        s.expect(Expect::flags(FA).seq(Y + 1).ack(X + 1002).at(s.now));
        s.expect_none();
    }
}

/// D-SACK beside SACK blocks (RFC 2883 §4: the D-SACK block comes first,
/// then the SACK blocks as RFC 2018 orders them), both profiles alike.
/// Sequence numbers relative to x; RCV.NXT starts at 1; every segment
/// carries 1000 octets per thousand of its range, and each ACK goes at
/// once (out-of-order data, a filled hole, a repeat: RFC 5681 §4.2).
///
/// 1. 1001–2001, 2001–3001, 4001–5001 and 7001–8001 arrive out of order:
///    the blocks are 1001:2001; then 1001:3001 (the adjacent segment grows
///    its block); then 4001:5001 1001:3001; then 7001:8001 4001:5001
///    1001:3001 (the block of the latest arrival first, RFC 2018 §4).
/// 2. 1–6001 arrives in order: it fills the holes up to 6001 (ACK 6001)
///    and repeats 1001–3001 and 4001–5001, which were held already. One
///    D-SACK block can report one contiguous repeat: the first, 1001:3001
///    (the kernel reports the lowest held range the segment covered, and
///    grows that block only by adjacent repeats, which 4001–5001 is not).
///    The one SACK block left is 7001:8001.
/// 3. 6001–8001 fills the last hole (ACK 8001) and repeats 7001–8001: the
///    D-SACK 7001:8001 alone, nothing being out of order any more.
/// 4. 1–1001 again, wholly below RCV.NXT: D-SACK 1:1001.
///
/// The kernel selftest `tcp_dsack_mult` plays the same sequence; before,
/// tcpsim sent `ack 6001 <sack 7001:8001>` at step 2 and no D-SACK at
/// step 3.
#[test]
fn dsack_comes_first_ahead_of_the_remaining_sack_blocks() {
    for config in [Config::rfc(), linux_exact()] {
        let mut s = established_with_sack(config);
        let r = |n: u32| X + n;
        let step = |s: &mut Script, from: u32, to: u32, ack: u32| -> Vec<(u32, u32)> {
            let mut d = data(s, r(from), &vec![1; (to - from) as usize]);
            d.flags = A;
            s.inject(&d);
            let got = s.expect(Expect::flags(A).seq(Y + 1).ack(r(ack)).at(Instant::ZERO));
            sack_blocks(&got)
        };
        assert_eq!(step(&mut s, 1001, 2001, 1), [(r(1001), r(2001))]);
        assert_eq!(step(&mut s, 2001, 3001, 1), [(r(1001), r(3001))]);
        assert_eq!(
            step(&mut s, 4001, 5001, 1),
            [(r(4001), r(5001)), (r(1001), r(3001))]
        );
        assert_eq!(
            step(&mut s, 7001, 8001, 1),
            [(r(7001), r(8001)), (r(4001), r(5001)), (r(1001), r(3001))]
        );
        assert_eq!(
            step(&mut s, 1, 6001, 6001),
            [(r(1001), r(3001)), (r(7001), r(8001))],
            "{}: the D-SACK, then the block left",
            config.profile
        );
        assert_eq!(step(&mut s, 6001, 8001, 8001), [(r(7001), r(8001))]);
        assert_eq!(step(&mut s, 1, 1001, 8001), [(r(1), r(1001))]);
        s.expect_none();
    }
}

/// A retransmission that straddles RCV.NXT: 1000 octets were received;
/// the last 500 of them come again with 500 new ones (seq 501, 1000
/// octets). The repeated part, 501:1001, is the duplicate contiguous
/// sequence RFC 2883 §4 reports as a D-SACK; the new part is taken
/// (RCV.NXT 1501). The kernel does the same on its partial-overlap path of
/// `tcp_data_queue` (a D-SACK from SEG.SEQ to RCV.NXT). The segment is in
/// sequence for its new part, so its ACK follows the ordinary rules (here
/// `rfc` delays it 200 ms, `linux` is still in quick-ACK mode), and it
/// carries the D-SACK when it goes.
#[test]
fn a_partly_old_segment_reports_its_old_part_as_a_dsack() {
    for (config, delay) in [(Config::rfc(), 200), (linux_exact(), 0)] {
        let mut s = established_with_sack(config);
        let r = |n: u32| X + n;
        let mut d = data(&s, r(1), &[1; 1000]);
        d.flags = A;
        s.inject(&d);
        let first = s.expect(Expect::flags(A).ack(r(1001)));
        assert!(sack_blocks(&first).is_empty());
        let t = s.now;
        let mut again = data(&s, r(501), &[1; 1000]);
        again.flags = A;
        s.inject(&again);
        let ack = s.expect(
            Expect::flags(A)
                .ack(r(1501))
                .at(t + tcpsim_tcp::Duration::from_millis(delay)),
        );
        assert_eq!(sack_blocks(&ack), [(r(501), r(1001))], "{}", config.profile);
        s.expect_none();
    }
}

/// A 12000-octet write into a congestion window of 10 segments at MSS 1100
/// (the server's MSS is set to 1100, the client offers 1300 and a window
/// of 32896; the initial window is 10 segments, `rfc`'s set so for the
/// test):
/// ten segments of 1100 octets go out at once, and the last 1000 octets
/// wait for the ACK.
///
/// - `rfc`: RFC 1122 §4.2.2.2 (no PUSH flag on SEND calls) puts PSH in the
///   last buffered segment only: the ten are bare ACKs and 11001:12001,
///   which empties the buffer, has PSH.
/// - `linux`: packetdrill sees `P. 1:11001(11000)` for the first burst (it
///   reads the TSO burst as one segment, with the flags of its last part)
///   and then `P. 11001:12001(1000)` (google/packetdrill
///   `gtests/net/tcp/mss/mss-setsockopt-tcp_maxseg-*.pkt`): the tenth
///   segment, 10001:11001, which ends the burst, has PSH too.
#[test]
fn psh_ends_each_burst_in_linux_and_the_buffer_in_rfc() {
    for (config, linux) in [(Config::rfc(), false), (linux_exact(), true)] {
        let mut config = config;
        config.isn = IsnMode::Fixed(Y);
        config.mss = 1100;
        config.timestamps = false;
        config.sack = false;
        config.initial_cwnd = tcpsim_tcp::congestion::InitialCwnd::Segments(10);
        let mut s = listening(config);
        let mut syn = s.segment(Flags::SYN, X, 0);
        syn.mss = Some(1300);
        syn.window = 32792;
        s.inject(&syn);
        let synack = s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
        assert_eq!(synack.mss, Some(1100));
        let mut ack = s.segment(A, X + 1, Y + 1);
        ack.window = 32896;
        s.inject(&ack);

        let t = Instant::from_millis(100);
        s.advance_to(t);
        s.command(|ep, now| ep.send(now, conn(ep), &[9; 12000]).unwrap());
        for k in 0..10u32 {
            let last = k == 9;
            let flags = if linux && last { PA } else { A };
            s.expect(Expect::flags(flags).seq(Y + 1 + 1100 * k).len(1100).at(t));
        }
        s.expect_none();
        let t = Instant::from_millis(200);
        s.advance_to(t);
        let mut ack = s.segment(A, X + 1, Y + 1 + 11000);
        ack.window = 32896;
        s.inject(&ack);
        s.expect(Expect::flags(PA).seq(Y + 11001).len(1000).at(t));
        s.expect_none();
    }
}

/// `linux`: quick-ACK mode comes back after a silence longer than the RTO
/// (Linux `tcp_event_data_recv`: data arriving more than `icsk_rto` after
/// the last is `tcp_incr_quickack`). Sixteen 1000-octet segments at once
/// use up the quick ACKs of the connection's start (`TCP_MAX_QUICKACKS`);
/// the seventeenth, 1 ms later, waits the delayed-ACK time (40 ms). After
/// 2 s without data (the RTO is the initial 1 s: no RTT sample yet on
/// this side), a segment is acknowledged at once again.
#[test]
fn linux_quick_acks_again_after_an_idle_period() {
    let mut s = established_with_sack(linux_exact());
    let id = conn(&s.endpoint);
    let mut seq = X + 1;
    let mut buf = vec![0u8; 1000];
    for _ in 0..16 {
        s.inject(&data(&s, seq, &[1; 1000]));
        seq += 1000;
        s.expect(Expect::flags(A).ack(seq).at(s.now));
        assert_eq!(s.command(|ep, _| ep.recv(id, &mut buf)), 1000);
    }
    s.advance_to(s.now + tcpsim_tcp::Duration::from_millis(1));
    s.inject(&data(&s, seq, &[1; 1000]));
    seq += 1000;
    let due = s.now + tcpsim_tcp::Duration::from_millis(40);
    s.expect(Expect::flags(A).ack(seq).at(due));
    assert_eq!(s.command(|ep, _| ep.recv(id, &mut buf)), 1000);
    s.advance_to(s.now + tcpsim_tcp::Duration::from_secs(2));
    s.inject(&data(&s, seq, &[1; 1000]));
    seq += 1000;
    s.expect(Expect::flags(A).ack(seq).at(s.now));
}

/// `linux` with a peer that does not offer SACK: duplicate ACKs stand in
/// for SACK blocks (Linux `tcp_add_reno_sack`), so each of the first two
/// lets a new segment out (RFC 3042's limited transmit, here from the
/// pipe: 10 in flight, one counted as arrived, cwnd 10); an ACK of 3
/// segments after two duplicates delivers 3 − 2 = 1 (`tcp_remove_reno_sacks`),
/// slow start makes cwnd 11, and with 9 in flight 2 segments go.
#[test]
fn linux_without_sack_counts_duplicate_acks_as_segments_that_left() {
    let mut config = linux_exact();
    config.isn = IsnMode::Fixed(Y);
    config.timestamps = false;
    let mut s = listening(config);
    let mut syn = s.segment(Flags::SYN, X, 0);
    syn.mss = Some(1000);
    syn.window = 32792;
    s.inject(&syn);
    s.expect(Expect::flags(SA).seq(Y).ack(X + 1));
    let mut ack = s.segment(A, X + 1, Y + 1);
    ack.window = 32792;
    s.inject(&ack);
    let id = conn(&s.endpoint);
    s.advance_to(Instant::from_millis(100));
    s.command(|ep, now| ep.send(now, id, &[3; 15000]).unwrap());
    let sent = |s: &mut tcpsim_tcp::testing::Script| {
        s.take_sent()
            .into_iter()
            .map(|t| (t.segment.seq.0.wrapping_sub(Y + 1), t.segment.payload.len()))
            .collect::<Vec<_>>()
    };
    let iw: Vec<(u32, usize)> = (0..10).map(|k| (1000 * k, 1000)).collect();
    assert_eq!(sent(&mut s), iw);
    let dup = |s: &mut tcpsim_tcp::testing::Script, ack: u32| {
        let mut a = s.segment(A, X + 1, Y + 1 + ack);
        a.window = 32792;
        s.inject(&a);
    };
    s.advance_to(Instant::from_millis(210));
    dup(&mut s, 0);
    assert_eq!(sent(&mut s), [(10_000, 1000)], "the first duplicate");
    s.advance_to(Instant::from_millis(220));
    dup(&mut s, 0);
    assert_eq!(sent(&mut s), [(11_000, 1000)], "the second duplicate");
    s.advance_to(Instant::from_millis(230));
    dup(&mut s, 3000);
    assert_eq!(
        sent(&mut s),
        [(12_000, 1000), (13_000, 1000)],
        "cwnd 11, 9 in flight"
    );
}

/// RFC 2018 §4: the receiver "SHOULD include as many distinct SACK blocks
/// as possible"; the block holding the latest arrival comes first (Linux
/// `tcp_sack_new_ofo_skb` moves the block a segment extends to the front).
/// Two holes: x+1001:x+2001 arrives (block A), then x+3001 onwards in five
/// segments (block B, growing). Every ACK after the first of B reports B
/// first and A second — also after B has been extended four times, when
/// the four latest arrivals all lie in B (review finding: A was dropped
/// then).
#[test]
fn sack_reports_every_distinct_block_when_one_keeps_growing() {
    for config in [Config::rfc(), linux_exact()] {
        let mut s = established_with_sack(config);
        let mut d = data(&s, X + 1001, &[1; 1000]);
        d.flags = A;
        s.inject(&d);
        let ack = s.expect(Expect::flags(A).ack(X + 1));
        assert_eq!(sack_blocks(&ack), [(X + 1001, X + 2001)]);
        for k in 0..5u32 {
            let mut d = data(&s, X + 3001 + 1000 * k, &[1; 1000]);
            d.flags = A;
            s.inject(&d);
            let ack = s.expect(Expect::flags(A).ack(X + 1));
            assert_eq!(
                sack_blocks(&ack),
                [(X + 3001, X + 4001 + 1000 * k), (X + 1001, X + 2001)],
                "{} after {} segments of B",
                config.profile,
                k + 1
            );
        }
    }
}

/// RFC 3708 (Linux `tcp_try_undo_dsack` / `tcp_may_undo`): without
/// timestamps the Eifel test cannot tell a spurious retransmission, but a
/// D-SACK can. 20000 octets, the 5th segment held 5 ms on a 10 ms path
/// (as in `tests/data/linux/data_reordered.trace`, timestamps off here):
/// three later segments are SACKed first, RACK retransmits the 5th (its
/// reordering window is 0 at three SACKs) and PRR reduces the window; the
/// original then arrives, and the retransmission after it is reported back
/// as a D-SACK, the only retransmission of the episode: the reduction is
/// undone, ssthresh unset again.
#[test]
fn linux_undoes_a_spurious_recovery_when_every_retransmission_is_dsacked() {
    use crate::harness::{Pair, Side, ms};
    use tcpsim_tcp::SegmentKind;
    let config = Config {
        timestamps: false,
        ..linux_exact()
    };
    let mut p = Pair::new(config, ms(10));
    p.send_on_connect[Side::Client as usize] = Some(vec![9; 20_000]);
    p.delay_nth(Side::Client, SegmentKind::Data, 5, ms(5));
    p.connect();
    // No FIN yet: the D-SACK comes on a plain ACK.
    p.run_until(crate::harness::at_ms(500));
    assert_eq!(p.received[Side::Server as usize].len(), 20_000);
    let id = p.conn(Side::Client);
    let s = p.client.connection(id).unwrap().recovery_stats();
    assert_eq!(
        (s.rack_losses, s.undos, s.rtos),
        (1, 1, 0),
        "{}",
        p.log_text()
    );
    assert_eq!(s.ssthresh, None);
    assert!(
        p.log
            .iter()
            .any(|l| l.contains("C>S") && l.ends_with("rtx"))
    );
}
