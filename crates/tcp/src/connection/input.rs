//! Segment arrival: RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (every
//! other state), with the RFC 5961 challenge ACKs.
//!
//! The checks run in the RFC's order: sequence number, RST, (security),
//! SYN, ACK, (URG), segment text, FIN. CLOSED and LISTEN belong to the
//! endpoint, which owns listeners and answers for unknown connections.

use core::ops::ControlFlow;

use super::Connection;
use super::output::AckNeed;
use crate::config::{
    AckAboveSndNxt, AckOfFin, DuplicateSyn, FinInZeroWindow, FinSack, HalfOpenRstSyn,
    RstInTimeWait, SimultaneousSynAck, TimeWaitSegments, TsRecentUpdate,
};
use crate::event::{Event, RetransmitCause, TimerKind};
use crate::segment::Segment;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

/// What the checks of §3.10.7.4 see of an arriving segment, after the
/// simultaneous-open rewrite ([`Connection::rewrite_simultaneous_synack`]).
#[derive(Clone, Copy, Debug)]
struct Arrival {
    /// SEG.SEQ, one past the SYN of a rewritten SYN-ACK.
    seq: SeqNum,
    /// The SYN bit, off in a rewritten SYN-ACK.
    syn: bool,
    /// SEG.LEN, without a rewritten SYN-ACK's SYN.
    len: u32,
}

/// What the rest of the checks do with a segment's text and FIN, as the
/// first check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Text {
    /// Taken as far as it lies in the window (steps seven and eight).
    Take,
    /// Dropped: the segment starts at RCV.NXT but the window is zero, so
    /// only its controls are taken (RST, SYN, ACK) and an ACK is sent.
    Drop,
}

/// Where an arriving payload lies in the receive stream, taken before the
/// text is queued: the text step and the FIN step both measure from it.
#[derive(Clone, Copy, Debug)]
struct Placement {
    /// The next in-order stream offset (RCV.NXT as an offset).
    next: u64,
    /// The stream offset of the first payload octet.
    at: i64,
}

impl Connection {
    /// Processes one arriving segment addressed to this connection.
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) {
        self.clock = now;
        match self.state {
            State::Closed | State::Listen => return,
            State::SynSent => self.on_syn_sent(now, seg),
            _ => {
                let _ = self.on_segment(now, seg);
            }
        }
        self.push(now);
        self.check_space();
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
        if self.linux_memory() {
            self.linux_handshake();
        }
        if f.ack() {
            self.snd_wl2 = seg.ack;
            self.on_new_ack(now, seg);
        }
        if self.syn_acked {
            // Our SYN is acknowledged: ESTABLISHED, and ACK at once.
            self.establish();
            let need = AckNeed::Now.max(self.text_and_fin(now, seg, seg.seq + 1));
            self.acknowledge(now, need);
        } else {
            // Simultaneous open (RFC 9293 Figure 7): SYN-RECEIVED, SYN-ACK.
            // Text in the SYN would wait for ESTABLISHED; tcpsim drops it
            // and lets the peer retransmit.
            self.set_state(State::SynReceived);
            self.send_synack(now, None);
        }
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states. The
    /// checks in the RFC's order; each either lets the segment go on to
    /// the next or ends its processing (`Break`).
    fn on_segment(&mut self, now: Instant, seg: &Segment) -> ControlFlow<()> {
        if self.config.duplicate_syn == DuplicateSyn::SynAck && self.is_duplicate_syn(seg) {
            self.answer_duplicate_syn(now);
            return ControlFlow::Break(());
        }
        if self.state == State::TimeWait
            && self.config.time_wait_segments == TimeWaitSegments::Linux
        {
            self.time_wait_as_linux(now, seg);
            return ControlFlow::Break(());
        }
        let arrival = self.rewrite_simultaneous_synack(seg);
        let simultaneous = arrival.syn != seg.flags.syn();
        self.check_paws(seg)?; // RFC 7323 §5.3 R1, before the first check
        let text = self.check_sequence_number(now, seg, arrival)?; // first
        if self.config.ts_recent_update == TsRecentUpdate::Rfc7323 {
            self.update_ts_recent(seg, arrival.seq); // RFC 7323 §5.3 R3
        }
        self.check_rst(seg, arrival)?; // second
        self.check_security()?; // third
        self.check_syn(seg, arrival)?; // fourth
        self.check_ack(now, seg, arrival)?; // fifth
        self.check_urg()?; // sixth
        if text == Text::Drop {
            // The zero window's allowance ends here: the text (and a FIN)
            // is dropped and acknowledged like an unacceptable segment.
            self.fin_wait_1_to_2(now);
            self.send_ack();
            return ControlFlow::Break(());
        }
        let mut need = self.text_and_fin(now, seg, arrival.seq); // seventh, eighth
        if simultaneous && self.config.simultaneous_synack == SimultaneousSynAck::Linux {
            // The SYN again: a repeat, acknowledged at once with a D-SACK.
            self.note_duplicate(self.irs, self.irs + 1);
            need = need.max(AckNeed::Now);
        }
        self.fin_wait_1_to_2(now);
        self.acknowledge(now, need);
        ControlFlow::Continue(())
    }

    /// [`TimeWaitSegments::Linux`]: TIME-WAIT as the kernel's
    /// `tcp_timewait_state_process` has it, in place of the checks of
    /// §3.10.7.4. A segment at exactly RCV.NXT with no text can only be a
    /// RST or a bare ACK: the RST is [`RstInTimeWait`]'s, anything else
    /// restarts the timer without an answer. Any other segment is out of its window: a RST is dropped;
    /// the rest are acknowledged, and restart the timer if they carry ACK
    /// (a retransmitted FIN does) or fail PAWS, but not an ACK-less SYN,
    /// which may be a new connection's.
    fn time_wait_as_linux(&mut self, now: Instant, seg: &Segment) {
        let f = seg.flags;
        let paws = self.fails_paws(seg);
        if !paws && seg.seq == self.rcv_nxt && (f.rst() || seg.seg_len() == 0) {
            if f.rst() {
                self.on_reset();
            } else {
                self.update_ts_recent(seg, seg.seq);
                self.arm_time_wait(now);
            }
            return;
        }
        if f.rst() {
            return;
        }
        if f.ack() || paws {
            self.arm_time_wait(now);
        }
        if paws {
            let _ = self.check_paws(seg); // the answer PAWS gives elsewhere
        } else {
            self.send_ack();
        }
    }

    /// PAWS (RFC 7323 §5.3 R1): a segment with an old timestamp is dropped,
    /// and acknowledged unless it is a RST.
    fn check_paws(&mut self, seg: &Segment) -> ControlFlow<()> {
        if !self.fails_paws(seg) {
            return ControlFlow::Continue(());
        }
        // Answers to data-less segments are rate-limited (Linux
        // `tcp_oow_rate_limited`), so duplicated or reordered ACKs cannot
        // keep an ACK loop going.
        let dataless = seg.payload.is_empty() && !seg.flags.syn() && !seg.flags.fin();
        let now = self.clock;
        let limited = dataless
            && self.opt.last_invalid_ack.is_some_and(|t| {
                now.saturating_duration_since(t) < self.config.invalid_ack_interval
            });
        if !limited {
            if dataless {
                self.opt.last_invalid_ack = Some(now);
            }
            self.send_ack();
        }
        ControlFlow::Break(())
    }

    /// The peer's SYN again, as if our SYN-ACK had been lost: SYN-RECEIVED,
    /// SYN without ACK or RST, with the ISN we already hold.
    fn is_duplicate_syn(&self, seg: &Segment) -> bool {
        let f = seg.flags;
        self.state == State::SynReceived && f.syn() && !f.ack() && !f.rst() && seg.seq == self.irs
    }

    /// [`DuplicateSyn::SynAck`]: Linux answers a duplicate SYN in
    /// SYN-RECEIVED with the same SYN-ACK and re-arms the SYN-ACK timer
    /// (`tcp_check_req`). Under [`DuplicateSyn::Ack`] the SYN takes the
    /// RFC's path instead and fails the sequence number check.
    fn answer_duplicate_syn(&mut self, now: Instant) {
        self.send_synack(now, Some(RetransmitCause::DuplicateSyn));
        self.arm_retransmit(now);
    }

    /// Simultaneous open: the peer's SYN-ACK reaches us in SYN-RECEIVED
    /// (RFC 9293 Figure 7, line 6). Its SYN is old news; its ACK is not, so
    /// the checks see it as an ACK that starts one past its SYN.
    fn rewrite_simultaneous_synack(&self, seg: &Segment) -> Arrival {
        let f = seg.flags;
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
        let len = seg.seg_len() - u32::from(f.syn() && !syn);
        Arrival { seq, syn, len }
    }

    /// First: the sequence number (the acceptability test). An unacceptable
    /// segment is answered with ACK(SND.NXT, RCV.NXT), unless it is a RST.
    /// "If the RCV.WND is zero, no segments will be acceptable, but special
    /// allowance should be made to accept valid ACKs, URGs, and RSTs": a
    /// segment with text at RCV.NXT goes on with [`Text::Drop`], so its
    /// RST, SYN and ACK are processed and only its text is refused (Linux
    /// alike: `tcp_sequence` passes it, `tcp_ack` runs, `tcp_data_queue`
    /// drops the text and ACKs at once).
    fn check_sequence_number(
        &mut self,
        now: Instant,
        seg: &Segment,
        arrival: Arrival,
    ) -> ControlFlow<(), Text> {
        if self.linux_memory() {
            if let Some(text) = self.linux_sequence(seg, arrival) {
                return ControlFlow::Continue(text);
            }
        } else {
            if self.acceptable(arrival.seq, arrival.len)
                || self.bare_fin_into_zero_window(seg, arrival)
            {
                return ControlFlow::Continue(Text::Take);
            }
            if self.rcv_wnd() == 0 && arrival.seq == self.rcv_nxt {
                // Unacceptable only for its length (the table's row for a
                // segment of length zero would take it).
                return ControlFlow::Continue(Text::Drop);
            }
        }
        if seg.flags.rst() {
            return ControlFlow::Break(());
        }
        if self.state == State::TimeWait && seg.flags.fin() {
            // A retransmission of the peer's FIN: acknowledge it and
            // restart the 2 MSL timeout (§3.10.7.4, fifth check).
            self.arm_time_wait(now);
        }
        let text = seg.payload.len() as u32 + u32::from(seg.flags.fin());
        if text > 0
            && !arrival.syn
            && self.state != State::TimeWait
            && arrival.seq + arrival.len <= self.rcv_nxt
        {
            // Data (or a FIN) we had already: a D-SACK in this ACK (RFC 2883
            // §4; Linux reports a repeated FIN too, `tests/data/linux/
            // server_fin_lost.trace`: `sack 1 {1:2}`, but not from TIME-WAIT,
            // whose ACK is plain: `last_ack_lost.trace`).
            self.note_duplicate(arrival.seq, arrival.seq + text);
        }
        self.send_ack();
        ControlFlow::Break(())
    }

    /// Second: the RST bit (RFC 5961 §3.2): exactly RCV.NXT resets, else in
    /// the window a challenge ACK. A half-open connection under
    /// [`HalfOpenRstSyn::Linux`] goes on any RST in the window, silently.
    fn check_rst(&mut self, seg: &Segment, arrival: Arrival) -> ControlFlow<()> {
        if !seg.flags.rst() {
            return ControlFlow::Continue(());
        }
        if self.half_open_as_linux() {
            // tcp_check_req: any RST in the window drops the request, but
            // one that goes to the listener first (see
            // `for_the_listener`) is ignored there.
            if !self.for_the_listener(seg) {
                self.enter_closed(Event::Reset);
            }
            return ControlFlow::Break(());
        }
        if arrival.seq == self.rcv_nxt {
            self.on_reset();
        } else {
            self.send_ack(); // challenge ACK
        }
        ControlFlow::Break(())
    }

    /// Third: security. tcpsim models no security compartments (RFC 9293
    /// §3.10.7.4 leaves them to the implementation), so every segment passes.
    fn check_security(&self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    /// Fourth: the SYN bit (RFC 5961 §4): a challenge ACK, or in the
    /// SYN-RECEIVED of a passive open, back to LISTEN ([`HalfOpenRstSyn`]).
    fn check_syn(&mut self, seg: &Segment, arrival: Arrival) -> ControlFlow<()> {
        if !arrival.syn {
            return ControlFlow::Continue(());
        }
        if self.state == State::SynReceived && self.passive {
            if self.half_open_as_linux() {
                // tcp_check_req's embryonic_reset: a RST for the SYN, then
                // the request goes; a SYN for the listener gets the same
                // RST from it, and the request stays.
                self.send_reset_reply(seg);
                if self.for_the_listener(seg) {
                    return ControlFlow::Break(());
                }
            }
            // "Return this connection to the LISTEN state": the listener
            // is still there; this half-open connection is dropped.
            self.enter_closed(Event::Reset);
        } else {
            self.send_ack(); // challenge ACK
        }
        ControlFlow::Break(())
    }

    /// A passive open's SYN-RECEIVED under [`HalfOpenRstSyn::Linux`].
    fn half_open_as_linux(&self) -> bool {
        self.state == State::SynReceived
            && self.passive
            && self.config.half_open_rst_syn == HalfOpenRstSyn::Linux
    }

    /// `tcp_check_req` hands a segment whose ACK is not ISS + 1 to the
    /// listener before it looks at RST or SYN; the listener answers it as
    /// LISTEN does (RFC 9293 §3.10.7.2: a RST is ignored, an ACK gets
    /// RST(SEG.ACK)) and the request is left alone.
    fn for_the_listener(&self, seg: &Segment) -> bool {
        seg.flags.ack() && seg.ack != self.iss + 1
    }

    /// Fifth: the ACK field. Without ACK the segment is dropped. SYN-RECEIVED
    /// becomes ESTABLISHED on an acceptable ACK; then TS.Recent (under
    /// [`TsRecentUpdate::Linux`]), SND.UNA, the send window, and the ACK of
    /// our FIN in CLOSING and LAST-ACK.
    fn check_ack(&mut self, now: Instant, seg: &Segment, arrival: Arrival) -> ControlFlow<()> {
        if !seg.flags.ack() {
            return ControlFlow::Break(());
        }
        if self.state == State::SynReceived {
            self.ack_in_syn_received(seg, arrival)?;
        }
        if seg.ack > self.snd_nxt {
            // Acknowledges something not yet sent.
            if self.config.ack_above_snd_nxt == AckAboveSndNxt::Ack {
                self.send_ack();
            }
            return ControlFlow::Break(());
        }
        if self.snd_una.diff(seg.ack) > self.max_snd_wnd as i32 {
            // Older than SND.UNA − MAX.SND.WND (RFC 5961 §5.2).
            self.send_ack();
            return ControlFlow::Break(());
        }
        if self.config.ts_recent_update == TsRecentUpdate::Linux && self.snd_una <= seg.ack {
            // tcp_ack takes the timestamp only here, with the ACK known to
            // be neither above SND.NXT nor below SND.UNA.
            self.update_ts_recent(seg, arrival.seq);
        }
        // The peer is alive: window probing starts over.
        self.probes = 0;
        let prior_wnd = self.snd_wnd;
        let advanced = self.snd_una < seg.ack;
        let acked = if advanced {
            self.on_new_ack(now, seg)
        } else {
            Default::default()
        };
        self.update_send_window(seg, arrival.seq);
        if self.syn_acked {
            self.on_ack_recovery(now, seg, prior_wnd, advanced, acked);
        }
        match self.state {
            State::Closing if self.our_fin_acked() => {
                self.enter_time_wait(now);
                ControlFlow::Break(())
            }
            State::LastAck if self.our_fin_acked() => {
                self.enter_closed(Event::Closed);
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }

    /// The fifth check in SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT,
    /// then enter ESTABLISHED state"; otherwise RST(SEG.ACK).
    fn ack_in_syn_received(&mut self, seg: &Segment, arrival: Arrival) -> ControlFlow<()> {
        if self.snd_una < seg.ack && seg.ack <= self.snd_nxt {
            self.establish();
            self.snd_wnd = self.peer_window(seg);
            self.snd_wl1 = arrival.seq;
            self.snd_wl2 = seg.ack;
            ControlFlow::Continue(())
        } else {
            self.send_reset_at(seg.ack);
            ControlFlow::Break(())
        }
    }

    /// The send window update of the fifth check: only from a segment newer
    /// than the last update (SND.WL1, SND.WL2).
    fn update_send_window(&mut self, seg: &Segment, seq: SeqNum) {
        if self.snd_una <= seg.ack
            && (self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= seg.ack))
        {
            self.snd_wnd = self.peer_window(seg);
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            if self.snd_wnd > 0 {
                self.probe_backoff = 0;
            }
            self.snd_wl1 = seq;
            self.snd_wl2 = seg.ack;
        }
    }

    /// Sixth: the URG bit. tcpsim does not model urgent data; the urgent
    /// pointer is ignored and the text is taken like any other.
    fn check_urg(&self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    /// The rest of the fifth check for FIN-WAIT-1, done after the FIN step:
    /// a FIN that also acknowledges ours has taken FIN-WAIT-1 straight to
    /// TIME-WAIT (eighth check: "if our FIN has been ACKed (perhaps in this
    /// segment)"); otherwise the ACK of our FIN leads to FIN-WAIT-2.
    fn fin_wait_1_to_2(&mut self, now: Instant) {
        if self.state == State::FinWait1 && self.our_fin_acked() {
            self.set_state(State::FinWait2);
            self.arm_fin_wait_2(now);
        }
    }

    /// Our FIN has been sent and everything up to it is acknowledged.
    pub(super) fn our_fin_acked(&self) -> bool {
        self.fin_sent && self.snd_una == self.snd_nxt
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

    /// The first check under [`RecvMemory::Linux`], as the kernel's
    /// `tcp_sequence` and then `tcp_data_queue` decide: `None` when the
    /// segment is unacceptable (it ends before the window announced last
    /// began; or it ends past the largest window ever announced, RFC 7323
    /// §2.4, and either starts past it too or finds data waiting to be
    /// read: an in-order segment larger than the window is taken into an
    /// empty queue; a FIN may stick out of the window). An acceptable
    /// segment's text is dropped ([`Text::Drop`], controls still taken,
    /// ACK at once) when it starts at RCV.NXT, or before it with new data,
    /// and the window is zero, or starts past the window's end; a FIN
    /// without data at RCV.NXT is taken into a zero window
    /// ([`FinInZeroWindow::Accept`]).
    ///
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    fn linux_sequence(&mut self, seg: &Segment, arrival: Arrival) -> Option<Text> {
        let seq = arrival.seq;
        let end = seq + arrival.len;
        if end < self.rcv.wup_seq() {
            return None;
        }
        let window = self.receive_window();
        let limit = self.rcv_nxt + window;
        let max_limit = self.rcv_nxt + self.max_receive_window();
        if end > max_limit {
            let fin = u32::from(seg.flags.fin());
            if end - fin > limit && (seq > max_limit || self.recv_buf.readable() > 0) {
                return None;
            }
        }
        if arrival.len > 0 && !arrival.syn && end <= self.rcv_nxt {
            // Everything in it was had already (tcp_data_queue: a
            // retransmission): its ACK is taken, its repeat reported.
            if self.state != State::TimeWait {
                self.note_duplicate(seq, end);
            }
            return Some(Text::Drop);
        }
        let data_end = seq + seg.payload.len() as u32;
        if !seg.payload.is_empty() {
            let at = seq.diff(self.rcv_nxt);
            if at == 0 && window == 0 {
                return Some(Text::Drop); // tcp_data_queue: ZEROWINDOW
            }
            if at > 0 && at as u32 >= window {
                return Some(Text::Drop); // OVERWINDOW
            }
            if at < 0 && data_end > self.rcv_nxt && window == 0 {
                // The part already held is reported, the rest refused.
                self.note_duplicate(seq, self.rcv_nxt);
                return Some(Text::Drop);
            }
        } else if seg.flags.fin()
            && seq == self.rcv_nxt
            && window == 0
            && self.config.fin_in_zero_window == FinInZeroWindow::Drop
        {
            return Some(Text::Drop);
        }
        Some(Text::Take)
    }

    /// A FIN without data at RCV.NXT while the window is zero, which
    /// [`FinInZeroWindow::Accept`] takes.
    fn bare_fin_into_zero_window(&self, seg: &Segment, arrival: Arrival) -> bool {
        self.config.fin_in_zero_window == FinInZeroWindow::Accept
            && seg.flags.fin()
            && seg.payload.is_empty()
            && arrival.seq == self.rcv_nxt
            && self.rcv_wnd() == 0
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

    /// SND.UNA advances to `ack`: drop what it covers from the send buffer
    /// and the scoreboard, and take an RTT sample; returns what the
    /// scoreboard lost. (The timers are recovery's: RFC 6298 rules 5.2 and
    /// 5.3, or Linux's.)
    fn on_new_ack(&mut self, now: Instant, seg: &Segment) -> super::scoreboard::Delivered {
        let ack = seg.ack;
        let mut covered = ack - self.snd_una;
        if !self.syn_acked {
            // Our SYN. (Not `snd_una == iss`: after 2^32 − 1 octets SND.UNA
            // comes back to ISS, and the SYN is long acknowledged.)
            covered -= 1;
            self.syn_acked = true;
            if matches!(self.state, State::FinWait1 | State::Closing) {
                // A CLOSE in SYN-RECEIVED sent our FIN before the handshake
                // ended (RFC 9293 §3.10.4): the handshake ends now, in
                // FIN-WAIT-1 or CLOSING, without passing ESTABLISHED.
                self.events.push_back(Event::Connected);
            }
        }
        let data_out = self.sent - self.send_buf.head();
        let data = u64::from(covered).min(data_out);
        let delivered = self
            .rec
            .board
            .acknowledge(self.send_buf.head() + u64::from(covered));
        self.send_buf.acknowledge(data as usize);
        if data > 0 && self.send_buf.is_empty() {
            self.events.push_back(Event::AllAcked);
        }
        self.snd_una = ack;
        self.retransmits = 0;
        // No retransmitted data left outstanding (Linux
        // `tcp_any_retrans_done`): the next loss starts a new count.
        let board = &self.rec.board;
        if board.retrans().segments == 0 && !board.first().is_some_and(|s| s.ever_retransmitted()) {
            self.retrans_stamp = None;
        }
        if self.config.rttm && self.opt.ts {
            // RFC 7323 §4.1: every ACK that advances SND.UNA is a sample.
            if let Some(rtt) = self.ts_rtt(seg) {
                self.rtt.sample(rtt, &self.config);
            }
            self.rtt_probe = None;
        } else if let Some((end, sent_at, retransmitted)) = self.rtt_probe {
            if end <= ack {
                // A retransmission is timed only through the timestamp
                // echo: without timestamps there is nothing that tells
                // which transmission the ACK answers (Linux
                // tcp_clean_rtx_queue takes no sample from a TCPCB_RETRANS
                // segment; tcp_ack_update_rtt has no TSecr).
                if !retransmitted || self.opt.ts {
                    self.rtt.sample(now - sent_at, &self.config);
                }
                self.rtt_probe = None;
            }
        }
        if self.snd_una == self.snd_nxt {
            // Nothing in flight: no timer of the retransmission's kind runs
            // (RFC 6298 §5.2).
            self.timers.stop(TimerKind::Retransmit);
            self.timers.stop(TimerKind::LossProbe);
            self.timers.stop(TimerKind::Reorder);
        }
        delivered
    }

    /// Steps seven and eight for a segment whose first payload octet has
    /// sequence number `seq` (also where SYN-SENT continues, §3.10.7.3:
    /// "continue processing at the sixth step").
    fn text_and_fin(&mut self, now: Instant, seg: &Segment, seq: SeqNum) -> AckNeed {
        let next = self.recv_buf.next();
        // Stream offset of the first payload octet; the segment overlaps the
        // window, so the distance fits in an i32.
        let place = Placement {
            next,
            at: next as i64 + i64::from(seq.diff(self.rcv_nxt)),
        };
        let eof_before = self.eof;
        let mut text = self.process_segment_text(seg, place);
        let fin = self.check_fin(now, seg, place);
        if !eof_before && self.eof && self.config.fin_sack == FinSack::Linux {
            // tcp_fin resets the SACK state: no D-SACK for the repeated
            // data, no blocks. Data all had before with a new FIN is in
            // sequence for the kernel, so only the FIN's rule decides.
            self.reset_sack();
            let old_text = place.at + seg.payload.len() as i64 <= place.next as i64;
            if !seg.payload.is_empty() && old_text {
                text = AckNeed::None;
            }
        }
        if text == AckNeed::Quick && fin == AckNeed::Delayed && self.state == State::CloseWait {
            // The FIN came with the data: ping-pong mode, no quick ACK; the
            // ACK waits for the application's FIN (Linux `tcp_fin` and
            // `tcp_in_quickack_mode`; `tests/data/linux/data_close.trace`:
            // the data+FIN segment is acknowledged by the server's FIN).
            return AckNeed::Delayed;
        }
        text.max(fin)
    }

    /// Seventh: the segment text. Queues the payload that lies in the
    /// window and decides how soon to acknowledge it.
    fn process_segment_text(&mut self, seg: &Segment, place: Placement) -> AckNeed {
        let Placement { next, at } = place;
        let len = seg.payload.len() as i64;
        if len == 0
            || !matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            return AckNeed::None;
        }
        if self.released && at + len > next as i64 {
            // New data for a socket the application has closed: RST
            // (RFC 1122 §4.2.2.13, "or if new data is received after CLOSE
            // is called"), from SEG.ACK as for a connection that no longer
            // exists (Linux answers through tcp_v4_send_reset).
            self.send_reset_at(seg.ack);
            self.enter_closed(Event::Reset);
            return AckNeed::None;
        }
        if self.linux_memory() {
            return self.linux_text(seg, place);
        }
        let right = next as i64 + i64::from(self.rcv_wnd());
        let start = at.max(next as i64);
        let end = (at + len).min(right);
        // Whatever of it was had already is the next ACK's D-SACK.
        self.note_duplicates(seg.seq, at, at + len);
        let had_gap = self.recv_buf.has_gap();
        let mut advanced = 0;
        if end > start {
            let slice = &seg.payload[(start - at) as usize..(end - at) as usize];
            advanced = self.recv_buf.insert(start as u64, slice);
        }
        if advanced > 0 {
            self.rcv_nxt += advanced as u32;
            self.events.push_back(Event::Readable);
        } else if end > start && start as u64 > next {
            self.note_out_of_order(start as u64);
        }
        if at > next as i64 || had_gap || advanced == 0 {
            // Out of order, filling a gap, or a duplicate: at once
            // (RFC 9293 §3.10.7.4 seventh check; RFC 5681 §4.2).
            AckNeed::Now
        } else if self.quickacks > 0 {
            self.quickacks -= 1;
            AckNeed::Quick
        } else {
            if seg.payload.len() >= usize::from(self.send_mss) {
                self.unacked_full += 1;
            }
            if self.unacked_full >= 2 {
                AckNeed::Now // every second full-sized segment
            } else {
                AckNeed::Delayed
            }
        }
    }

    /// The seventh check under [`RecvMemory::Linux`]: the text of a
    /// segment that passed [`Connection::linux_sequence`] is queued whole
    /// (no trimming at the window's right edge), if memory allows
    /// ([`Connection::linux_queue`]); refused in-order text, or text forced
    /// into an empty queue, is acknowledged at once with a zero window.
    ///
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    fn linux_text(&mut self, seg: &Segment, place: Placement) -> AckNeed {
        let Placement { next, at } = place;
        let len = seg.payload.len() as i64;
        if at + len <= next as i64 || at < 0 {
            // Nothing new (or before the stream): a duplicate.
            self.note_duplicates(seg.seq, at, at + len);
            return AckNeed::Now;
        }
        let had_gap = self.recv_buf.has_gap();
        let forced_before = self.rcv.nomem;
        self.note_duplicates(seg.seq, at, at + len);
        let Some(advanced) = self.linux_queue(seg, at as u64, next) else {
            return AckNeed::Now;
        };
        if advanced > 0 {
            self.rcv_nxt += advanced as u32;
            self.events.push_back(Event::Readable);
        } else if at as u64 > next {
            self.note_out_of_order(at as u64);
        }
        if self.rcv.nomem && !forced_before {
            return AckNeed::Now; // forced into an empty queue
        }
        if at > next as i64 || had_gap || advanced == 0 {
            return AckNeed::Now;
        }
        // In-order data after a silence longer than the RTO: quick-ACK
        // mode again, so that a sender restarting its window is not held
        // by delayed ACKs (Linux `tcp_event_data_recv`: `m > icsk_rto` →
        // `tcp_incr_quickack`).
        let idle = self
            .last_data_at
            .is_some_and(|t| self.clock.saturating_duration_since(t) > self.rtt.rto());
        self.last_data_at = Some(self.clock);
        if idle {
            self.quickacks = self.quickacks.max(self.config.quickacks);
        }
        self.linux_before_ack();
        if self.quickacks > 0 {
            self.quickacks -= 1;
            return AckNeed::Quick;
        }
        if seg.payload.len() >= usize::from(self.send_mss) {
            self.unacked_full += 1;
        }
        if self.unacked_full >= 2 {
            AckNeed::Now
        } else {
            AckNeed::Delayed
        }
    }

    /// Eighth: the FIN bit. Records where the peer's FIN is, and processes
    /// it once everything before it has arrived.
    fn check_fin(&mut self, now: Instant, seg: &Segment, place: Placement) -> AckNeed {
        let Placement { next, at } = place;
        let mut forced = AckNeed::None;
        if seg.flags.fin() && self.peer_fin_at.is_none() {
            let fin_at = at + seg.payload.len() as i64;
            let in_window = if self.linux_memory() {
                // The FIN goes with its segment's text, taken whole; a
                // FIN alone needs the memory check too (a refusal is
                // answered at once, but the FIN is taken all the same).
                let bare = seg.payload.is_empty();
                if bare && fin_at == next as i64 && !self.linux_admit(next) {
                    self.rcv.nomem = true;
                    forced = AckNeed::Now;
                }
                !self.rcv.dropped
                    && fin_at >= next as i64
                    && (!bare
                        || fin_at == next as i64
                        || fin_at < next as i64 + i64::from(self.rcv_wnd()))
            } else {
                fin_at >= next as i64 && fin_at <= next as i64 + i64::from(self.rcv_wnd())
            };
            if in_window {
                self.peer_fin_at = Some(fin_at as u64);
            }
        }
        self.rcv.dropped = false;
        let need = self.take_fin(now).max(forced);
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
        let fin_acked = self.our_fin_acked();
        let need = match self.state {
            State::SynReceived | State::Established => {
                self.set_state(State::CloseWait);
                // Linux enters ping-pong mode: the ACK waits for the
                // application's FIN (tcp_fin).
                match self.config.ack_of_fin {
                    // Before any data the kernel's ato is 0: the next tick.
                    AckOfFin::Delayed if self.recv_buf.next() == 0 => AckNeed::NextTick,
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
