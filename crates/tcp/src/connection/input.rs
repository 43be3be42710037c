//! Segment arrival: RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (every
//! other state), with the RFC 5961 challenge ACKs.
//!
//! The checks run in the RFC's order: sequence number, RST, (security),
//! SYN, ACK, (URG), segment text, FIN. CLOSED and LISTEN belong to the
//! endpoint, which owns listeners and answers for unknown connections.

use super::Connection;
use super::output::AckNeed;
use crate::config::{AckOfFin, DuplicateSyn, RstInTimeWait};
use crate::event::{Event, TimerKind};
use crate::segment::Segment;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

impl Connection {
    /// Processes one arriving segment addressed to this connection.
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) {
        match self.state {
            State::Closed | State::Listen => return,
            State::SynSent => self.on_syn_sent(now, seg),
            _ => self.on_segment(now, seg),
        }
        self.push(now);
    }

    /// RFC 9293 §3.10.7.3.
    fn on_syn_sent(&mut self, now: Instant, seg: &Segment) {
        let f = seg.flags;
        // First: the ACK bit. Acceptable when ISS < SEG.ACK =< SND.NXT.
        if f.ack() && !(self.iss < seg.ack && seg.ack <= self.snd_nxt) {
            if !f.rst() {
                self.send_reset_at(seg.ack);
            }
            return;
        }
        // Second: the RST bit. Only with an acceptable ACK (RFC 5961 §3.2 for
        // SYN-SENT); a RST without ACK is dropped.
        if f.rst() {
            if f.ack() {
                self.enter_closed(Event::Refused);
            }
            return;
        }
        // Fourth: the SYN bit.
        if !f.syn() {
            return;
        }
        self.take_peer_syn(seg);
        if f.ack() {
            self.snd_wl2 = seg.ack;
            self.on_new_ack(now, seg.ack);
        }
        if self.syn_acked {
            // Our SYN is acknowledged: ESTABLISHED, and ACK at once.
            self.establish();
            let mut need = AckNeed::Now;
            need = need.max(self.take_text_and_fin(now, seg, seg.seq + 1));
            self.acknowledge(now, need);
        } else {
            // Simultaneous open (RFC 9293 Figure 7): SYN-RECEIVED, SYN-ACK.
            // Text in the SYN would wait for ESTABLISHED; tcpsim drops it
            // and lets the peer retransmit.
            self.set_state(State::SynReceived);
            self.send_synack(now, false);
        }
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states.
    fn on_segment(&mut self, now: Instant, seg: &Segment) {
        let f = seg.flags;

        // Linux answers a duplicate SYN in SYN-RECEIVED with the same
        // SYN-ACK and re-arms the SYN-ACK timer (tcp_check_req).
        if self.state == State::SynReceived
            && f.syn()
            && !f.ack()
            && !f.rst()
            && seg.seq == self.irs
            && self.config.duplicate_syn == DuplicateSyn::SynAck
        {
            self.send_synack(now, true);
            self.arm_retransmit(now);
            return;
        }

        // Simultaneous open: the peer's SYN-ACK reaches us in SYN-RECEIVED
        // (RFC 9293 Figure 7, line 6). Its SYN is old news; its ACK is not.
        let mut seq = seg.seq;
        let mut syn = f.syn();
        if self.state == State::SynReceived
            && syn
            && f.ack()
            && seg.seq + 1 == self.rcv_nxt
            && seg.ack == self.snd_nxt
        {
            seq += 1;
            syn = false;
        }
        let seg_len = seg.seg_len() - u32::from(f.syn() && !syn);

        // First: the sequence number.
        if !self.acceptable(seq, seg_len) {
            if f.rst() {
                return;
            }
            if self.state == State::TimeWait && f.fin() {
                // A retransmission of the peer's FIN: acknowledge it and
                // restart the 2 MSL timeout (§3.10.7.4, fifth check).
                self.arm_time_wait(now);
            }
            self.send_ack();
            return;
        }

        // Second: the RST bit (RFC 5961 §3.2).
        if f.rst() {
            if seq == self.rcv_nxt {
                self.on_reset();
            } else {
                self.send_ack(); // challenge ACK
            }
            return;
        }

        // Fourth: the SYN bit (RFC 5961 §4).
        if syn {
            if self.state == State::SynReceived && self.passive {
                // "Return this connection to the LISTEN state": the listener
                // is still there; this half-open connection is dropped.
                self.enter_closed(Event::Reset);
            } else {
                self.send_ack(); // challenge ACK
            }
            return;
        }

        // Fifth: the ACK field.
        if !f.ack() {
            return;
        }
        if self.state == State::SynReceived {
            if self.snd_una < seg.ack && seg.ack <= self.snd_nxt {
                self.establish();
                self.snd_wnd = u32::from(seg.window);
                self.snd_wl1 = seq;
                self.snd_wl2 = seg.ack;
            } else {
                self.send_reset_at(seg.ack);
                return;
            }
        }
        if seg.ack > self.snd_nxt {
            // Acknowledges something not yet sent.
            self.send_ack();
            return;
        }
        if self.snd_una.diff(seg.ack) > self.max_snd_wnd as i32 {
            // Older than SND.UNA − MAX.SND.WND (RFC 5961 §5.2).
            self.send_ack();
            return;
        }
        // The peer is alive: window probing starts over.
        self.probes = 0;
        if self.snd_una < seg.ack {
            self.on_new_ack(now, seg.ack);
        }
        if self.snd_una <= seg.ack
            && (self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= seg.ack))
        {
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            if self.snd_wnd > 0 {
                self.probe_backoff = 0;
            }
            self.snd_wl1 = seq;
            self.snd_wl2 = seg.ack;
        }
        let fin_acked = self.fin_sent && self.snd_una == self.snd_nxt;
        match self.state {
            State::Closing if fin_acked => {
                self.enter_time_wait(now);
                return;
            }
            State::LastAck if fin_acked => {
                self.enter_closed(Event::Closed);
                return;
            }
            _ => {}
        }

        // Seventh and eighth: segment text and FIN. A FIN that also
        // acknowledges ours takes FIN-WAIT-1 straight to TIME-WAIT (step 8:
        // "if our FIN has been ACKed (perhaps in this segment)"); otherwise
        // the ACK of our FIN leads to FIN-WAIT-2.
        let need = self.take_text_and_fin(now, seg, seq);
        if self.state == State::FinWait1 && fin_acked {
            self.set_state(State::FinWait2);
            self.arm_fin_wait_2(now);
        }
        self.acknowledge(now, need);
    }

    /// The acceptability test of §3.10.7.4 for a segment starting at `seq`
    /// and occupying `len` sequence numbers.
    fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd();
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            _ => seq.in_window(self.rcv_nxt, wnd) || (seq + (len - 1)).in_window(self.rcv_nxt, wnd),
        }
    }

    /// An acceptable RST with SEG.SEQ = RCV.NXT.
    fn on_reset(&mut self) {
        match self.state {
            // An active open that met a RST in SYN-RECEIVED: refused.
            State::SynReceived if !self.passive => self.enter_closed(Event::Refused),
            State::TimeWait => match self.config.rst_in_time_wait {
                RstInTimeWait::Close => self.enter_closed(Event::Closed),
                RstInTimeWait::Ignore => {}
            },
            _ => self.enter_closed(Event::Reset),
        }
    }

    /// SND.UNA advances to `ack`: drop what it covers from the send buffer,
    /// take an RTT sample, and apply RFC 6298 rules 5.2 and 5.3.
    fn on_new_ack(&mut self, now: Instant, ack: SeqNum) {
        let mut covered = ack - self.snd_una;
        if !self.syn_acked {
            // Our SYN. (Not `snd_una == iss`: after 2^32 − 1 octets SND.UNA
            // comes back to ISS, and the SYN is long acknowledged.)
            covered -= 1;
            self.syn_acked = true;
        }
        let data_out = self.sent - self.send_buf.head();
        let data = u64::from(covered).min(data_out);
        self.send_buf.acknowledge(data as usize);
        if data > 0 && self.send_buf.is_empty() {
            self.events.push_back(Event::AllAcked);
        }
        self.snd_una = ack;
        self.retransmits = 0;
        if let Some((end, sent_at)) = self.rtt_probe {
            if end <= ack {
                self.rtt.sample(now - sent_at, &self.config);
                self.rtt_probe = None;
            }
        }
        if self.snd_una == self.snd_nxt {
            self.timers.stop(TimerKind::Retransmit);
            self.recover = None;
        } else {
            self.arm_retransmit(now);
            self.head_sent_at = now;
            match self.recover {
                // A partial ACK after a timeout: the next segment was lost too.
                Some(r) if self.snd_una < r => self.retransmit_head(now),
                _ => self.recover = None,
            }
        }
    }

    /// Steps seven and eight: queue the payload that lies in the window,
    /// then the FIN once everything before it has arrived. `seq` is the
    /// sequence number of the first payload octet.
    fn take_text_and_fin(&mut self, now: Instant, seg: &Segment, seq: SeqNum) -> AckNeed {
        let mut need = AckNeed::None;
        let next = self.recv_buf.next();
        // Stream offset of the first payload octet; the segment overlaps the
        // window, so the distance fits in an i32.
        let at = next as i64 + i64::from(seq.diff(self.rcv_nxt));
        let len = seg.payload.len() as i64;
        if len > 0
            && matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            let right = next as i64 + i64::from(self.rcv_wnd());
            let start = at.max(next as i64);
            let end = (at + len).min(right);
            let had_gap = self.recv_buf.has_gap();
            let mut advanced = 0;
            if end > start {
                let slice = &seg.payload[(start - at) as usize..(end - at) as usize];
                advanced = self.recv_buf.insert(start as u64, slice);
            }
            if advanced > 0 {
                self.rcv_nxt += advanced as u32;
                self.events.push_back(Event::Readable);
            }
            need = if at > next as i64 || had_gap || advanced == 0 {
                // Out of order, filling a gap, or a duplicate: at once
                // (RFC 9293 §3.10.7.4 seventh check; RFC 5681 §4.2).
                AckNeed::Now
            } else if self.quickacks > 0 {
                self.quickacks -= 1;
                AckNeed::Now
            } else {
                if seg.payload.len() >= usize::from(self.send_mss) {
                    self.unacked_full += 1;
                }
                if self.unacked_full >= 2 {
                    AckNeed::Now // every second full-sized segment
                } else {
                    AckNeed::Delayed
                }
            };
        }
        if seg.flags.fin() && self.peer_fin_at.is_none() {
            let fin_at = at + len;
            if fin_at >= next as i64 && fin_at <= next as i64 + i64::from(self.rcv_wnd()) {
                self.peer_fin_at = Some(fin_at as u64);
            }
        }
        let need = need.max(self.take_fin(now));
        if seg.flags.fin() && !self.eof {
            // A FIN waiting for data before it: an out-of-order segment,
            // acknowledged at once (RFC 5681 §4.2), as data would be.
            return AckNeed::Now;
        }
        need
    }

    /// Step eight: processes the peer's FIN once all data before it is in.
    fn take_fin(&mut self, now: Instant) -> AckNeed {
        if self.eof || self.peer_fin_at != Some(self.recv_buf.next()) {
            return AckNeed::None;
        }
        self.eof = true;
        self.rcv_nxt += 1;
        let fin_acked = self.fin_sent && self.snd_una == self.snd_nxt;
        let need = match self.state {
            State::SynReceived | State::Established => {
                self.set_state(State::CloseWait);
                // Linux enters ping-pong mode: the ACK waits for the
                // application's FIN (tcp_fin).
                match self.config.ack_of_fin {
                    AckOfFin::Delayed => AckNeed::Delayed,
                    AckOfFin::Now => AckNeed::Now,
                }
            }
            State::FinWait1 if fin_acked => {
                self.enter_time_wait(now);
                AckNeed::Now
            }
            State::FinWait1 => {
                self.set_state(State::Closing);
                AckNeed::Now
            }
            State::FinWait2 => {
                self.enter_time_wait(now);
                AckNeed::Now
            }
            _ => AckNeed::Now,
        };
        // Reported after the state change the FIN caused.
        self.events.push_back(Event::EndOfStream);
        need
    }
}
