//! Building and queueing segments; when to acknowledge.
//!
//! Every segment is queued the moment the state machine decides to send it,
//! so the order of [`crate::Transmit`]s is the order of decisions.

use super::Connection;
use crate::config::{AbortReset, Nagle, Push, RetransmissionRtt};
use crate::congestion::CongestionControl;
use crate::event::{RetransmitCause, TimerKind, Transmit};
use crate::segment::{Flags, Segment};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

/// How soon an arriving segment must be acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum AckNeed {
    /// Nothing to acknowledge.
    None,
    /// Within the delayed-ACK time (RFC 9293 §3.8.6.3).
    Delayed,
    /// At the next kernel tick ([`crate::Config::kernel_tick`]).
    NextTick,
    /// At once, by the quick-ACK budget ([`crate::Config::quickacks`]) —
    /// unless a FIN in the same segment starts a passive close with
    /// [`crate::AckOfFin::Delayed`] (Linux's ping-pong mode turns quick-ACK
    /// mode off).
    Quick,
    /// At once.
    Now,
}

impl Connection {
    /// A segment from this connection with `seq` and `flags`; ACK and window
    /// filled in from the receive side.
    pub(super) fn segment(&mut self, seq: SeqNum, flags: Flags) -> Segment {
        let window = self.window_field(flags.syn());
        let ack = if flags.ack() { self.rcv_nxt } else { SeqNum(0) };
        Segment::new(self.local, self.remote, seq, ack, flags, window)
    }

    /// Queues a segment, with its per-segment options (timestamps, SACK
    /// blocks). Any segment carrying ACK satisfies a pending ACK.
    pub(super) fn emit(&mut self, mut segment: Segment, retransmission: Option<RetransmitCause>) {
        self.stamp(&mut segment);
        if segment.flags.ack() {
            // The ACK told the peer of the refused segment (Linux clears
            // `icsk_ack.pending`, ICSK_ACK_NOMEM with it).
            self.rcv.nomem = false;
            self.ack_pending = false;
            self.unacked_full = 0;
            self.timers.stop(TimerKind::DelayedAck);
            self.last_advertised = if segment.flags.syn() {
                u32::from(segment.window)
            } else {
                u32::from(segment.window) << self.opt.rcv_shift
            };
        }
        // Linux sets `retrans_stamp` in tcp_retransmit_skb, which the loss
        // probe (tcp_send_loss_probe) and the handshake's own paths do not
        // take.
        if self.retrans_stamp.is_none()
            && !segment.flags.syn()
            && matches!(
                retransmission,
                Some(RetransmitCause::Rto | RetransmitCause::Fast | RetransmitCause::Rack)
            )
        {
            self.retrans_stamp = Some(self.clock);
        }
        self.out.push_back(Transmit {
            segment,
            retransmission,
        });
    }

    /// Bookkeeping after sending something that occupies sequence space and
    /// ends at `end`: RTT timing (Karn's algorithm) and RFC 6298 rule 5.1.
    pub(super) fn note_sent(&mut self, now: Instant, end: SeqNum, retransmission: bool) {
        if retransmission {
            self.rtt_probe = match self.config.retransmission_rtt {
                // Karn: never time a retransmitted segment.
                RetransmissionRtt::Karn => None,
                // Linux times retransmissions through the timestamp echo.
                RetransmissionRtt::Sample => Some((end, now, true)),
            };
        } else if self.rtt_probe.is_none() {
            self.rtt_probe = Some((end, now, false));
        }
        if !self.timers.is_armed(TimerKind::Retransmit) {
            self.arm_retransmit(now);
            if !retransmission {
                self.head_sent_at = now;
            }
        }
    }

    pub(super) fn send_syn(&mut self, now: Instant, retransmission: Option<RetransmitCause>) {
        self.set_initial_window(self.offered_shift().is_some());
        let mut seg = self.segment(self.iss, Flags::SYN);
        seg.mss = Some(self.config.mss);
        seg.options = self.syn_options(now);
        self.snd_nxt = self.iss + 1;
        self.emit(seg, retransmission);
        self.note_sent(now, self.iss + 1, retransmission.is_some());
    }

    pub(super) fn send_synack(&mut self, now: Instant, retransmission: Option<RetransmitCause>) {
        // A simultaneous open's SYN-ACK keeps our SYN's window under
        // [`SimultaneousSynAck::Linux`] (the SYN-SENT path has set up the
        // window for both SYNs).
        let keeps =
            !self.passive && self.config.simultaneous_synack == crate::SimultaneousSynAck::Linux;
        if !keeps {
            let scaling = self.offered_shift().is_some() && self.opt.peer_offered_window_scale;
            self.set_initial_window(scaling);
            if self.linux_memory() {
                self.linux_handshake();
            }
        }
        let mut seg = self.segment(self.iss, Flags::SYN | Flags::ACK);
        seg.mss = Some(self.config.mss);
        seg.options = self.synack_options(now);
        if !self.fin_sent {
            // (A FIN sent behind it by a CLOSE in SYN-RECEIVED keeps its
            // sequence number: SND.NXT stays past it.)
            self.snd_nxt = self.iss + 1;
        }
        self.emit(seg, retransmission);
        self.note_sent(now, self.iss + 1, retransmission.is_some());
    }

    /// ACK(SND.NXT, RCV.NXT): the reply to an unacceptable segment, the
    /// RFC 5961 challenge ACK, and the ordinary acknowledgment.
    pub(super) fn send_ack(&mut self) {
        let seg = self.segment(self.snd_nxt, Flags::ACK);
        self.emit(seg, None);
    }

    /// RST from this connection (user abort, RFC 9293 §3.10.5):
    /// RST(SND.NXT), or RST+ACK(SND.NXT, RCV.NXT) as Linux's
    /// `tcp_send_active_reset` ([`crate::Config::abort_reset`]).
    pub(super) fn send_reset_here(&mut self) {
        let flags = match self.config.abort_reset {
            AbortReset::Rst => Flags::RST,
            AbortReset::RstAck => Flags::RST | Flags::ACK,
        };
        let seg = self.segment(self.snd_nxt, flags);
        self.emit(seg, None);
    }

    /// RST(`seq`) with no ACK: the answer to an unacceptable ACK in SYN-SENT
    /// or SYN-RECEIVED (RFC 9293 §3.10.7.3, §3.10.7.4 fifth check).
    pub(super) fn send_reset_at(&mut self, seq: SeqNum) {
        let mut seg = self.segment(seq, Flags::RST);
        seg.window = 0;
        self.emit(seg, None);
    }

    /// The RST that answers `seg` as if no connection existed (RFC 9293
    /// §3.10.7.1): RST(SEG.ACK) if it carries an ACK, else
    /// RST+ACK(0, SEG.SEQ + SEG.LEN); no options, as Linux's
    /// `tcp_v4_send_reset` and the endpoint's own reply.
    pub(super) fn send_reset_reply(&mut self, seg: &Segment) {
        let (seq, ack, flags) = if seg.flags.ack() {
            (seg.ack, SeqNum(0), Flags::RST)
        } else {
            (SeqNum(0), seg.seq + seg.seg_len(), Flags::RST | Flags::ACK)
        };
        let rst = Segment::new(self.local, self.remote, seq, ack, flags, 0);
        self.out.push_back(Transmit {
            segment: rst,
            retransmission: None,
        });
    }

    /// Acts on an acknowledgment decision.
    pub(super) fn acknowledge(&mut self, now: Instant, need: AckNeed) {
        match need {
            AckNeed::None => {}
            AckNeed::Now | AckNeed::Quick => self.send_ack(),
            AckNeed::Delayed if self.config.delayed_ack == crate::time::Duration::ZERO => {
                self.send_ack()
            }
            AckNeed::Delayed => {
                self.ack_pending = true;
                self.arm_delayed_ack(now);
            }
            AckNeed::NextTick => {
                self.ack_pending = true;
                self.arm_ack_at_next_tick(now);
            }
        }
    }

    /// Sends new data, and then the FIN, as far as the window allows; arms
    /// the persist timer if data is left that the window does not let out.
    pub(super) fn push(&mut self, now: Instant) {
        self.push_segments(now, false);
    }

    /// The states in which queued data (and then our FIN) may still go
    /// out. CLOSING included: the peer's FIN can arrive while our data (and
    /// so our FIN) still waits for the window; it must still go out.
    fn may_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// Data waits for the window with nothing in flight: only the persist
    /// timer can get it moving (RFC 9293 §3.8.6.1).
    pub(super) fn window_blocked(&self) -> bool {
        self.may_send_data() && self.send_buf.end() > self.sent && self.snd_una == self.snd_nxt
    }

    /// [`Connection::push`]; with `force`, the first segment goes out even if
    /// sender-side silly-window avoidance would hold it (the override
    /// timeout of RFC 9293 §3.8.6.2.1).
    pub(super) fn push_segments(&mut self, now: Instant, force: bool) {
        if !self.may_send_data() {
            return;
        }
        self.push_loop(now, force);
        self.arm_persist(now);
    }

    fn push_loop(&mut self, now: Instant, force: bool) {
        let sent_any = self.transmit(now, force, false);
        self.validate_cwnd(sent_any);
    }

    /// One new segment regardless of the congestion window, if the peer's
    /// window lets it out: a tail loss probe of new data (RFC 8985 §7.3).
    pub(super) fn push_probe(&mut self, now: Instant) {
        if self.may_send_data() {
            self.transmit(now, false, true);
        }
    }

    /// The send loop: segments judged lost first (recovery's `NextSeg`
    /// rule 1, Linux `tcp_xmit_retransmit_queue`), then new data and the
    /// FIN, as far as the peer's window and the congestion window allow.
    /// With `force`, the first new segment goes out even if silly-window
    /// avoidance would hold it; with `probe`, one new segment goes out
    /// whatever the congestion window. Returns whether anything was sent.
    fn transmit(&mut self, now: Instant, mut force: bool, probe: bool) -> bool {
        let mss = u32::from(self.send_mss);
        // The last segment queued is a data segment of this burst.
        let mut data_last = false;
        let mut sent_data = false;
        let mut sent_any = false;
        let mut probe_left = probe;
        let mut burst_started = false;
        loop {
            if !probe {
                if let Some(i) = self.rec.board.first_to_retransmit() {
                    let size = self.rec.board.get(i).map_or(0, |s| s.size());
                    if self.cwnd_room() >= self.units_of(size.min(u64::from(mss))) {
                        let cause = self.loss_cause();
                        self.retransmit_entry(now, i, cause);
                        sent_any = true;
                        data_last = false;
                        continue;
                    }
                    break;
                }
            }
            let cwnd_open = probe_left || self.cwnd_room() > 0;
            let unsent = self.send_buf.end() - self.sent;
            if unsent > 0 {
                let in_flight = self.snd_nxt - self.snd_una;
                let mut room = self.snd_wnd.saturating_sub(in_flight);
                if !probe_left {
                    let cwnd = self.cwnd_room();
                    room = if self.segments_counted() {
                        // One more segment while a segment's room is left.
                        if cwnd == 0 { 0 } else { room }
                    } else {
                        room.min(cwnd.min(u64::from(u32::MAX)) as u32)
                    };
                }
                let len = unsent.min(u64::from(mss)).min(u64::from(room)) as u32;
                // Sender-side silly window avoidance (RFC 9293 §3.8.6.2.1):
                // a full segment, everything queued, or half the peer's
                // largest window.
                let worth_it = len == mss
                    || u64::from(len) == unsent
                    || (len > 0 && len >= self.max_snd_wnd / 2)
                    || force;
                if len == 0 || !worth_it || (!force && !probe_left && self.nagle_holds(len)) {
                    break;
                }
                // One decision per burst, as the kernel sends what the
                // window allows as one TSO packet.
                if !burst_started && !force && !probe_left && self.tso_defers(now, unsent, room) {
                    // Waiting on the window counts as limited by it
                    // (`tcp_tso_should_defer` sets `is_cwnd_limited`).
                    self.rec.cwnd_limited = true;
                    break;
                }
                burst_started = true;
                force = false;
                probe_left = false;
                if self.snd_una == self.snd_nxt {
                    // Nothing in flight: the persist timer stops; the
                    // retransmission timer starts with this segment.
                    debug_assert!(!self.timers.is_armed(TimerKind::Retransmit));
                    self.timers.stop(TimerKind::Persist);
                }
                let start = self.sent;
                let end = self.sent + u64::from(len);
                let last = end == self.send_buf.end();
                let fin = last && self.shut_wr;
                let mut flags = Flags::ACK;
                if last && !self.mid_write {
                    flags = flags | Flags::PSH;
                }
                if fin {
                    flags = flags | Flags::FIN;
                }
                self.note_limited_transmit(u64::from(len) + u64::from(fin));
                let mut seg = self.segment(self.snd_nxt, flags);
                seg.payload = self.spare.take();
                self.send_buf
                    .copy_out(self.sent, len as usize, &mut seg.payload);
                self.sent = end;
                self.snd_nxt += len + u32::from(fin);
                self.fin_sent |= fin;
                let psh = seg.flags.contains(Flags::PSH);
                if len < mss {
                    // Linux `tcp_minshall_update`: the end of the last
                    // small segment.
                    self.snd_sml = self.snd_nxt;
                }
                self.emit(seg, None);
                self.note_new_data(now, start, len, fin);
                if psh {
                    self.rec.board.mark_last_psh();
                }
                data_last = true;
                sent_data = true;
                sent_any = true;
            } else if self.shut_wr && !self.fin_sent && cwnd_open {
                let seg = self.segment(self.snd_nxt, Flags::FIN | Flags::ACK);
                let start = self.sent;
                self.snd_nxt += 1;
                self.fin_sent = true;
                self.emit(seg, None);
                self.note_new_data(now, start, 0, true);
                data_last = false;
                sent_any = true;
                break;
            } else {
                break;
            }
        }
        if sent_data {
            // The burst is one TSO packet per buffer: one that stops
            // inside a buffer splits it (tso_fragment).
            self.send_buf.split_at(self.sent);
        }
        if data_last && self.config.push == Push::Linux && !self.mid_write {
            // The burst ends here: its last segment carries PSH.
            if let Some(last) = self.out.back_mut() {
                last.segment.flags = last.segment.flags | Flags::PSH;
                self.rec.board.mark_last_psh();
            }
        }
        sent_any
    }

    /// The Nagle algorithm ([`crate::Config::nagle`]): whether a segment of
    /// `len` octets, less than the MSS, waits for the ACK of what is in
    /// flight. A FIN ending the data does not release it (RFC 1122
    /// §4.2.3.4 holds "all user data").
    fn nagle_holds(&self, len: u32) -> bool {
        if len >= u32::from(self.send_mss) || self.snd_una == self.snd_nxt {
            return false;
        }
        match self.config.nagle {
            Nagle::Off => false,
            Nagle::Rfc896 => true,
            // A small segment is in flight (its end beyond SND.UNA).
            Nagle::Minshall => self.snd_sml > self.snd_una && self.snd_sml <= self.snd_nxt,
        }
    }

    /// Linux `tcp_tso_should_defer` ([`crate::Config::tso_defer`]): whether
    /// new data waits for the next ACK, `unsent` octets being ready and
    /// `room` octets allowed by the peer's window.
    fn tso_defers(&self, now: Instant, unsent: u64, room: u32) -> bool {
        let mss = u64::from(self.send_mss.max(1));
        if !self.config.tso_defer
            || unsent <= mss
            || self.rec.state >= super::recovery::CaState::Recovery
        {
            return false;
        }
        // Only right after a transmission.
        if now.saturating_duration_since(self.last_xmit) > crate::time::Duration::from_millis(1) {
            return false;
        }
        let cwnd = self.cwnd_units();
        let in_flight = self.in_flight_units();
        if cwnd <= in_flight {
            return false;
        }
        let limit = u64::from(room).min((cwnd - in_flight) * mss);
        // The burst size, `tcp_tso_autosize`: 1 ms of the pacing rate (2×
        // cwnd/SRTT in slow start below half ssthresh, else 1.2×), at least
        // 2 segments.
        let Some(srtt) = self.rtt.srtt().filter(|d| d.as_nanos() > 0) else {
            return false;
        };
        let ratio = if self.rec.cc.cwnd() < self.rec.cc.ssthresh() / 2 {
            200
        } else {
            120
        };
        let rate =
            u128::from(cwnd * mss) * 1_000_000_000 * ratio / 100 / u128::from(srtt.as_nanos());
        let burst = ((rate >> 10) as u64 / mss).max(2);
        if limit >= burst * mss {
            return false;
        }
        // A third of the window.
        if limit >= u64::from(self.snd_wnd).min(cwnd * mss) / 3 {
            return false;
        }
        // The next ACK may come too late: half an SRTT since the head went.
        match self.rec.board.first() {
            Some(head) => {
                now.saturating_duration_since(head.sent_at).as_nanos() >= srtt.as_nanos() / 2
            }
            None => false,
        }
    }

    /// Bookkeeping after a first transmission of `len` octets from stream
    /// offset `start` (and the FIN): the scoreboard, RFC 6298 rule 5.1,
    /// PRR's count, and the tail loss probe (Linux `tcp_event_new_data_sent`
    /// and the end of `tcp_write_xmit`).
    fn note_new_data(&mut self, now: Instant, start: u64, len: u32, fin: bool) {
        self.last_xmit = now;
        let was_empty = self.rec.board.is_empty();
        let probe_pending = self.timers.is_armed(TimerKind::LossProbe);
        self.rec.board.push(start, len, fin, now);
        self.note_sent(now, self.snd_nxt, false);
        self.note_recovery_send(self.units_of(u64::from(len) + u64::from(fin)));
        if was_empty || probe_pending {
            if probe_pending {
                self.rearm_rto(now, true);
            }
            self.schedule_loss_probe(now, false);
        }
    }

    /// A write whose segments all went out between its buffers (see
    /// [`Connection::send`]) marks its last segment as its final push
    /// would have: with `linux` always (the end of the burst), with
    /// `rfc1122` when it empties the send buffer.
    pub(super) fn mark_push_after_write(&mut self) {
        let mark = match self.config.push {
            Push::Linux => true,
            Push::Rfc1122 => self.sent == self.send_buf.end(),
        };
        if let Some(last) = self.out.back_mut().filter(|_| mark) {
            if !last.segment.payload.is_empty() {
                last.segment.flags = last.segment.flags | Flags::PSH;
                self.rec.board.mark_last_psh();
            }
        }
    }

    /// Retransmits our SYN or SYN-ACK (RFC 6298 §5.4); data and the FIN
    /// are the scoreboard's ([`Connection::retransmit_entry`]).
    pub(super) fn retransmit_head(&mut self, now: Instant, cause: RetransmitCause) {
        match self.state {
            State::SynSent => self.send_syn(now, Some(cause)),
            // SYN-RECEIVED, or the FIN-WAIT-1 (or CLOSING) a CLOSE in
            // SYN-RECEIVED led to, with our SYN-ACK still unacknowledged.
            _ if !self.syn_acked => self.send_synack(now, Some(cause)),
            _ => {}
        }
    }
}
