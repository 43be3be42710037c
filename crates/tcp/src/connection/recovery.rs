//! Loss recovery and congestion control on the sending side: what each
//! ACK does to the scoreboard, the congestion state and the window, and
//! the timers that repair a loss no ACK reveals.
//!
//! Three ways of finding a loss before the retransmission timer, chosen by
//! [`LossRecovery`] and the SACK option:
//!
//! - **NewReno** (no SACK): the third duplicate ACK (RFC 5681 §2, with the
//!   window unchanged) retransmits the first unacknowledged segment and
//!   inflates the window by the three segments that left (RFC 5681 §3.2);
//!   each further duplicate adds one; a partial ACK retransmits the next
//!   hole and deflates the window by what it acknowledged (RFC 6582
//!   §3.2); an ACK of everything sent before the loss ends the episode
//!   with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). Before the third, each
//!   of the first two duplicates lets one new segment out (RFC 3042).
//! - **RFC 6675** (`NewReno` with SACK): the scoreboard marks a segment
//!   lost when three SACKed segments, or more than two segments' octets,
//!   lie above it (`IsLost`); recovery begins at the third duplicate ACK
//!   (an ACK with new SACK information) or when the first segment is
//!   lost, with cwnd = ssthresh; the pipe bounds what is sent, lost
//!   segments first (`NextSeg` rule 1, then new data by rule 2).
//! - **RACK-TLP** (RFC 8985, with PRR of RFC 6937), as Linux runs it: a
//!   segment is lost when one sent after it has been delivered and the
//!   reordering window has passed since it was sent — zero once three
//!   segments are SACKed or during recovery while no reordering has been
//!   seen, else min_rtt / 4 (`tcp_rack_reo_wnd`), with a timer when the
//!   window has not passed yet; a tail loss probe goes out when nothing
//!   comes back within about two RTTs; PRR spreads the reduction to
//!   ssthresh over the round trip.
//!
//! After a retransmission timeout every segment not SACKed is lost and the
//! window is one segment (RFC 5681 §3.1, RFC 6675 §5.1, Linux
//! `tcp_enter_loss`); slow start repairs them in order.

use super::Connection;
use super::scoreboard::{Delivered, Scoreboard};
use crate::config::{CwndAccounting, LossRecovery};
use crate::congestion::{CongestionControl, Controller};
use crate::event::{RetransmitCause, TimerKind};
use crate::segment::{Flags, Segment};
use crate::time::{Duration, Instant};

/// RFC 5681 §3.2 and RFC 6675's DupThresh; Linux's `tcp_reordering`.
const DUP_THRESH: u32 = 3;

/// The least a loss probe or the reordering timer waits beyond its
/// estimate: Linux's `TCP_TIMEOUT_MIN_US`, 2 ms, added before the delay is
/// rounded up to jiffies (since 6.6; two jiffies before).
const TIMEOUT_MIN: Duration = Duration::from_micros(2000);

/// The congestion state (Linux `icsk_ca_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(super) enum CaState {
    /// Nothing is amiss.
    #[default]
    Open,
    /// SACK blocks or duplicate ACKs, and nothing judged lost yet.
    Disorder,
    /// Fast recovery (RFC 5681, 6582, 6675) or RACK's recovery with PRR.
    Recovery,
    /// After a retransmission timeout, until everything then in flight is
    /// acknowledged.
    Loss,
}

impl CaState {
    /// The number `tcp_info` reports (`TCP_CA_Open` 0, `Disorder` 1,
    /// `Recovery` 3, `Loss` 4).
    pub(super) fn linux_number(self) -> u8 {
        match self {
            CaState::Open => 0,
            CaState::Disorder => 1,
            CaState::Recovery => 3,
            CaState::Loss => 4,
        }
    }
}

/// Which of the three loss detections a connection runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    NewReno,
    Sack,
    Rack,
}

/// The sender's recovery state.
#[derive(Debug)]
pub(super) struct Recovery {
    pub(super) cc: Controller,
    pub(super) board: Scoreboard,
    pub(super) state: CaState,
    /// Duplicate ACKs in a row (RFC 5681 §2; RFC 6675 counts ACKs with new
    /// SACK information).
    dupacks: u32,
    // RACK (RFC 8985 §6): the latest-sent segment known delivered (send
    // time, transmission order), the RTT it measured, the least RTT seen.
    rack_xmit: Option<(Instant, u64)>,
    rack_rtt: Duration,
    rack_advanced: bool,
    min_rtt: Option<Duration>,
    /// Reordering was seen (a segment judged lost turned out delivered).
    reord_seen: bool,
    // Linux's cwnd validation (`tcp_cwnd_validate`): the most segments in
    // flight since `usage_end` was sent, and whether the window held the
    // sender back.
    max_out: u32,
    usage_end: u64,
    pub(super) cwnd_limited: bool,
    /// What only a loss, a probe, a retransmission or duplicate ACKs (limited
    /// transmit, Linux's NewReno counting) set: boxed, and made when first
    /// written, so that a connection that loses nothing carries one pointer
    /// of it (`None` reads as [`Losses::AT_REST`]).
    losses: Option<Box<Losses>>,
}

/// The recovery state that a connection which never loses a segment never
/// changes: the episode's bounds and PRR, the tail loss probe, undo, and
/// the report's counters.
#[derive(Clone, Debug)]
pub(super) struct Losses {
    /// RFC 6582 `recover`, RFC 6675 `RecoveryPoint`, Linux `high_seq`:
    /// the stream offset of SND.NXT when the last episode began.
    high: Option<u64>,
    /// Linux without SACK: duplicate ACKs counted as segments that arrived
    /// (`sacked_out` of `tcp_add_reno_sack`, `tcp_remove_reno_sacks`).
    reno_sacked: u32,
    /// Octets sent beyond cwnd by limited transmit since the duplicate ACKs
    /// began, which FlightSize for ssthresh leaves out (RFC 5681 §3.2 step
    /// 2: "additional data sent in limited transmit MUST NOT be included").
    limited_octets: u64,
    // PRR (RFC 6937), in segments.
    prr_delivered: u64,
    prr_out: u64,
    prior_cwnd: u64,
    // TLP (RFC 8985 §7): SND.NXT when the probe went out, and whether it
    // repeated data.
    tlp_high: Option<u64>,
    tlp_retrans: bool,
    /// The window and threshold before the current reduction, for undo.
    undo: Option<(u32, u32)>,
    /// Retransmissions of the episode not yet reported duplicated by a
    /// D-SACK (Linux `undo_retrans`; `None` before the first): at zero the
    /// episode was spurious (RFC 3708).
    undo_retrans: Option<u32>,
    /// SND.UNA (as an offset) when the episode began (`undo_marker`).
    undo_marker: u64,
    /// The TSval of the episode's first retransmission (Linux
    /// `retrans_stamp`): an ACK echoing an older one answers an original
    /// (RFC 3522's Eifel test, `tcp_packet_delayed`).
    retrans_tsval: Option<u32>,
    /// Loss-recovery counters for reports (`cwnd` and `ssthresh` are
    /// filled in when they are read).
    pub(super) stats: super::RecoveryStats,
}

impl Losses {
    /// Before any loss: what a connection without the box reads.
    const AT_REST: Losses = Losses {
        high: None,
        reno_sacked: 0,
        limited_octets: 0,
        prr_delivered: 0,
        prr_out: 0,
        prior_cwnd: 0,
        tlp_high: None,
        tlp_retrans: false,
        undo: None,
        undo_retrans: None,
        undo_marker: 0,
        retrans_tsval: None,
        stats: super::RecoveryStats {
            cwnd: 0,
            ssthresh: None,
            fast_retransmits: 0,
            rack_losses: 0,
            tlp_probes: 0,
            rtos: 0,
            undos: 0,
        },
    };
}

impl Recovery {
    pub(super) fn new(config: &crate::Config, mss: u16) -> Recovery {
        let mss = u32::from(mss).max(1);
        Recovery {
            cc: Controller::new(
                config.congestion_control,
                config.initial_cwnd.bytes(mss),
                config.kernel_tick,
            ),
            board: Scoreboard::default(),
            state: CaState::Open,
            dupacks: 0,
            rack_xmit: None,
            rack_rtt: Duration::ZERO,
            rack_advanced: false,
            min_rtt: None,
            reord_seen: false,
            max_out: 0,
            usage_end: 0,
            cwnd_limited: false,
            losses: None,
        }
    }

    /// A fresh controller with the initial window for `mss` (once the
    /// handshake has fixed the MSS).
    pub(super) fn reset_window(&mut self, config: &crate::Config, mss: u16) {
        let mss = u32::from(mss).max(1);
        self.cc = Controller::new(
            config.congestion_control,
            config.initial_cwnd.bytes(mss),
            config.kernel_tick,
        );
    }

    /// The state only losses change, at rest if none has.
    pub(super) fn losses(&self) -> &Losses {
        self.losses.as_deref().unwrap_or(&Losses::AT_REST)
    }

    /// Whether a loss, a probe or a retransmission has set anything.
    pub(super) fn has_losses(&self) -> bool {
        self.losses.is_some()
    }

    /// The same, to change: made on first use.
    pub(super) fn losses_mut(&mut self) -> &mut Losses {
        self.losses.get_or_insert_with(|| Box::new(Losses::AT_REST))
    }

    /// The state only losses change, if any has: for the writes that
    /// return a field to its rest value, which need no box.
    fn losses_if_any(&mut self) -> Option<&mut Losses> {
        self.losses.as_deref_mut()
    }

    /// The slow-start threshold, if a loss has set it.
    pub(super) fn ssthresh(&self) -> Option<u32> {
        Some(self.cc.ssthresh()).filter(|&s| s != u32::MAX)
    }
}

impl Connection {
    fn mode(&self) -> Mode {
        match (self.opt.sack, self.config.loss_recovery) {
            (false, _) => Mode::NewReno,
            (true, LossRecovery::NewReno) => Mode::Sack,
            (true, LossRecovery::Rack) => Mode::Rack,
        }
    }

    pub(super) fn segments_counted(&self) -> bool {
        self.config.cwnd_accounting == CwndAccounting::Linux
    }

    fn mss32(&self) -> u32 {
        u32::from(self.send_mss).max(1)
    }

    /// The window in the accounting's units (segments or octets).
    pub(super) fn cwnd_units(&self) -> u64 {
        let cwnd = u64::from(self.rec.cc.cwnd());
        if self.segments_counted() {
            (cwnd / u64::from(self.mss32())).max(1)
        } else {
            cwnd
        }
    }

    /// The window in octets as reports show it: whole segments under
    /// Linux's accounting (the kernel's `snd_cwnd`; the fraction is its
    /// `snd_cwnd_cnt`).
    pub(super) fn reported_cwnd(&self) -> u32 {
        if self.segments_counted() {
            (self.cwnd_units() as u32).saturating_mul(self.mss32())
        } else {
            self.rec.cc.cwnd()
        }
    }

    /// What is in flight, in the window's units: Linux's
    /// `tcp_packets_in_flight`; for RFC 5681, FlightSize, and the pipe of
    /// RFC 6675 §4 during SACK recovery and after a timeout.
    pub(super) fn in_flight_units(&self) -> u64 {
        let b = &self.rec.board;
        if self.segments_counted() {
            // Without SACK, Linux counts each duplicate ACK as a segment
            // that left (`tcp_add_reno_sack`).
            let reno = if self.mode() == Mode::NewReno {
                self.rec.losses().reno_sacked
            } else {
                0
            };
            return u64::from(b.pipe().segments.saturating_sub(reno));
        }
        match self.rec.state {
            CaState::Loss => u64::from(b.pipe().octets),
            // RFC 6675 §5 step (2): limited transmit by the pipe, and
            // recovery by it (steps 4.4, C).
            CaState::Disorder | CaState::Recovery if self.mode() == Mode::Sack => {
                u64::from(b.pipe().octets)
            }
            _ => b.out_octets(),
        }
    }

    /// How much more the congestion window lets out, in its units; with
    /// RFC 3042's limited transmit, one segment more for each of the first
    /// two duplicate ACKs.
    pub(super) fn cwnd_room(&self) -> u64 {
        let mut cwnd = self.cwnd_units();
        let limited = !self.segments_counted()
            && self.mode() == Mode::NewReno
            && matches!(self.rec.state, CaState::Open | CaState::Disorder)
            && self.rec.dupacks < DUP_THRESH;
        if limited {
            cwnd += u64::from(self.rec.dupacks) * u64::from(self.mss32());
        }
        cwnd.saturating_sub(self.in_flight_units())
    }

    /// The units one segment of `octets` takes.
    pub(super) fn units_of(&self, octets: u64) -> u64 {
        if self.segments_counted() { 1 } else { octets }
    }

    /// The stream offset of sequence number `seq` (within the window).
    fn offset_of(&self, seq: crate::seq::SeqNum) -> u64 {
        let d = seq - self.snd_una;
        self.send_buf.head() + u64::from(d)
    }

    /// The stream offset of `seq` at or below SND.UNA.
    fn offset_of_past(&self, seq: crate::seq::SeqNum) -> u64 {
        let back = u64::from(self.snd_una - seq);
        (self.una_offset()).saturating_sub(back)
    }

    /// Why a lost segment is sent again now.
    pub(super) fn loss_cause(&self) -> RetransmitCause {
        match (self.rec.state, self.mode()) {
            (CaState::Loss, _) => RetransmitCause::Rto,
            (_, Mode::Rack) => RetransmitCause::Rack,
            _ => RetransmitCause::Fast,
        }
    }

    /// New data of `octets` is about to go with `room` left in the window
    /// before it: what exceeds the window went by limited transmit.
    pub(super) fn note_limited_transmit(&mut self, octets: u64) {
        if self.segments_counted() || self.rec.dupacks == 0 || self.rec.state > CaState::Disorder {
            return;
        }
        let cwnd = u64::from(self.rec.cc.cwnd());
        let flight = self.rec.board.out_octets();
        let over = (flight + octets).saturating_sub(cwnd.max(flight));
        if over > 0 {
            self.rec.losses_mut().limited_octets += over.min(octets);
        }
    }

    /// FlightSize for equation (4) of RFC 5681, limited transmit left out.
    fn flight_for_ssthresh(&self) -> u32 {
        self.rec
            .board
            .out_octets()
            .saturating_sub(self.rec.losses().limited_octets) as u32
    }

    /// Bookkeeping for segments sent during recovery (PRR's `prr_out`).
    pub(super) fn note_recovery_send(&mut self, units: u64) {
        if self.rec.state == CaState::Recovery {
            self.rec.losses_mut().prr_out += units;
        }
    }

    /// Linux `tcp_cwnd_validate`, after a burst: records the most segments
    /// in flight since the last round and whether the window held the
    /// sender back.
    pub(super) fn validate_cwnd(&mut self, sent_any: bool) {
        if !self.segments_counted() {
            return;
        }
        let limited = self.in_flight_units() >= self.cwnd_units();
        if !(sent_any || limited) {
            return;
        }
        let out = self.rec.board.len() as u32;
        let una = self.send_buf.head();
        if una >= self.rec.usage_end || limited || out > self.rec.max_out {
            self.rec.max_out = out;
            self.rec.usage_end = self.nxt_offset();
            self.rec.cwnd_limited = limited;
        }
    }

    /// Whether the window may grow: always under RFC 5681; under Linux
    /// only while the sender is limited by it (`tcp_is_cwnd_limited`).
    fn may_grow(&self) -> bool {
        if !self.segments_counted() {
            return true;
        }
        if self.rec.cwnd_limited {
            return true;
        }
        self.rec.cc.in_slow_start() && self.cwnd_units() < 2 * u64::from(self.rec.max_out)
    }

    /// Everything an acceptable ACK (SND.UNA ≤ SEG.ACK ≤ SND.NXT) does to
    /// recovery, after SND.UNA, the send buffer and the window moved:
    /// `acked` is what the cumulative ACK newly covered.
    pub(super) fn on_ack_recovery(
        &mut self,
        now: Instant,
        seg: &Segment,
        prior_wnd: u32,
        advanced: bool,
        acked: Delivered,
    ) {
        let (sacked, dsack) = if self.opt.sack {
            self.take_sack_blocks(seg)
        } else {
            (Delivered::default(), false)
        };
        // Linux counts a D-SACKed (spurious) retransmission as delivered
        // (`tcp_sacktag_write_queue`: `tp->delivered++` for a D-SACK;
        // `tests/data/linux/data_reordered.trace` ends at cwnd 20 by it).
        let dsack_delivered = u32::from(dsack && self.segments_counted());
        let delivered = Delivered {
            segments: acked.segments + sacked.segments + dsack_delivered,
            octets: acked.octets + sacked.octets,
            newest: acked.newest.max(sacked.newest),
            newest_retrans: acked.newest_retrans.max(sacked.newest_retrans),
        };
        self.rack_advance(now, &delivered);
        // The timer re-arm of Linux's `tcp_clean_rtx_queue`: an ACK of new
        // data, or a SACK of a segment sent before the first outstanding
        // one was last sent (the SACK-only ACKs of
        // `tests/data/linux/data_lost_retransmission.trace` keep pushing
        // the timeout back).
        let head_sent = self.rec.board.first().map(|s| (s.sent_at, s.order));
        let sack_rearm = matches!((sacked.newest, head_sent), (Some(t), Some(h)) if t < h);
        match self.mode() {
            Mode::NewReno => {
                // RFC 5681 §2's duplicate: it acknowledges SND.UNA itself
                // (an older ACK, reordered, is not one), carries no data,
                // no SYN or FIN, the same window, with data outstanding.
                let dup = !advanced
                    && seg.ack == self.snd_una
                    && seg.payload.is_empty()
                    && !seg.flags.syn()
                    && !seg.flags.fin()
                    && self.snd_wnd == prior_wnd
                    && !self.rec.board.is_empty();
                if self.segments_counted() {
                    self.linux_reno_ack(now, advanced, dup, acked);
                    if advanced {
                        self.head_sent_at = now;
                        self.set_xmit_timer(now);
                    }
                    return;
                }
                self.newreno_ack(now, advanced, dup, acked);
            }
            Mode::Sack => {
                // RFC 6675 §2: an ACK with SACK information for octets not
                // yet acknowledged or SACKed is a duplicate, "regardless of
                // its status as a cumulative acknowledgment" (§5 (B)); an
                // older ACK than SND.UNA is not.
                let dup = seg.ack >= self.snd_una && sacked.segments > 0;
                self.sack_ack(now, advanced, dup, acked);
            }
            Mode::Rack => {
                if advanced {
                    self.head_sent_at = now;
                }
                let tsecr = seg.options.timestamps.map(|t| t.ecr);
                let reo_armed = self.rack_ack(now, advanced, delivered, tsecr);
                if (advanced || sack_rearm) && !reo_armed {
                    self.set_xmit_timer(now);
                }
                return;
            }
        }
        if advanced {
            self.rfc6298_restart(now);
        }
    }

    /// RFC 6298 §5.2 and §5.3 on an ACK of new data.
    fn rfc6298_restart(&mut self, now: Instant) {
        if self.snd_una == self.snd_nxt {
            self.timers.stop(TimerKind::Retransmit);
        } else {
            self.arm_retransmit(now);
            self.head_sent_at = now;
        }
    }

    /// Marks what the SACK blocks of `seg` newly cover; a D-SACK block
    /// (RFC 2883: the first, below SEG.ACK or inside the second block)
    /// marks nothing.
    /// Returns what they covered and whether the first block was a D-SACK.
    fn take_sack_blocks(&mut self, seg: &Segment) -> (Delivered, bool) {
        let mut total = Delivered::default();
        let blocks = seg.options.sack;
        let list = blocks.as_slice();
        let dsack = list.first().is_some_and(|&(l, r)| {
            r <= seg.ack || list.get(1).is_some_and(|&(l2, r2)| l2 <= l && r <= r2)
        });
        // A D-SACK of data below SND.UNA sent after the episode began
        // reports one of its retransmissions duplicated (Linux
        // `tcp_check_dsack`, RFC 3708 §3).
        if let (true, Some(&(_, r))) = (dsack, list.first()) {
            let end_below_una = r <= self.snd_una;
            let after_marker =
                r > self.snd_una || self.offset_of_past(r) > self.rec.losses().undo_marker;
            if end_below_una && after_marker {
                if let Some(n) = self
                    .rec
                    .losses_if_any()
                    .and_then(|l| l.undo_retrans.as_mut())
                {
                    *n = n.saturating_sub(1);
                }
            }
        }
        for (i, &(l, r)) in list.iter().enumerate() {
            if (i == 0 && dsack) || r <= l || r > self.snd_nxt || l < self.snd_una {
                continue;
            }
            let (lo, hi) = (self.offset_of(l), self.offset_of(r));
            let d = self.rec.board.sack(lo, hi, |_| {});
            total.segments += d.segments;
            total.octets += d.octets;
            total.newest = total.newest.max(d.newest);
            total.newest_retrans = total.newest_retrans.max(d.newest_retrans);
        }
        (total, dsack)
    }

    /// RACK's record of the latest-sent delivered segment (RFC 8985 §6.2
    /// step 2; Linux `tcp_rack_advance`): a retransmission counts only if
    /// the RTT it would give is not below the least RTT seen (else the ACK
    /// is likely for the original).
    fn rack_advance(&mut self, now: Instant, d: &Delivered) {
        let consider = |r: &mut Recovery, cand: (Instant, u64), original: bool| {
            let rtt = now.saturating_duration_since(cand.0);
            if !original && r.min_rtt.is_some_and(|m| rtt < m) {
                return;
            }
            if original {
                r.min_rtt = Some(r.min_rtt.map_or(rtt, |m| m.min(rtt)));
            }
            r.rack_rtt = rtt;
            r.rack_advanced = true;
            if r.rack_xmit.is_none_or(|x| cand > x) {
                r.rack_xmit = Some(cand);
            }
        };
        if let Some(c) = d.newest_retrans {
            consider(&mut self.rec, c, false);
        }
        if let Some(c) = d.newest {
            consider(&mut self.rec, c, true);
        }
    }

    // ----- NewReno (RFC 5681 §3.2, RFC 6582, RFC 3042) -----

    fn newreno_ack(&mut self, now: Instant, advanced: bool, dup: bool, acked: Delivered) {
        let mss = self.mss32();
        let una = self.una_offset();
        if advanced {
            self.rec.dupacks = 0;
            if let Some(l) = self.rec.losses_if_any() {
                l.limited_octets = 0;
            }
            match self.rec.state {
                CaState::Recovery => {
                    if una >= self.rec.losses().high.unwrap_or(0) {
                        // A full ACK (RFC 6582 §3.2 step 3, first option):
                        // min(ssthresh, max(FlightSize, SMSS) + SMSS).
                        let flight = self.rec.board.out_octets() as u32;
                        let ss = self.rec.cc.ssthresh();
                        self.rec
                            .cc
                            .set_cwnd(ss.min(flight.max(mss).saturating_add(mss)));
                        self.rec.state = CaState::Open;
                    } else {
                        // A partial ACK: the next hole, and deflation.
                        let mut cwnd = self.rec.cc.cwnd().saturating_sub(acked.octets as u32);
                        if acked.octets >= u64::from(mss) {
                            cwnd += mss;
                        }
                        self.rec.cc.set_cwnd(cwnd);
                        self.retransmit_entry(now, 0, RetransmitCause::Fast);
                    }
                }
                CaState::Loss => {
                    self.grow(now, acked);
                    if una >= self.rec.losses().high.unwrap_or(0) {
                        self.rec.state = CaState::Open;
                    }
                }
                CaState::Open | CaState::Disorder => {
                    self.rec.state = CaState::Open;
                    self.grow(now, acked);
                }
            }
            return;
        }
        if !dup {
            return;
        }
        self.rec.dupacks += 1;
        match self.rec.state {
            CaState::Open | CaState::Disorder => {
                // RFC 6582 §3.2 step 1: not for data sent before the last
                // episode began.
                let after_last = self.rec.losses().high.is_none_or(|h| una >= h);
                if self.rec.dupacks == DUP_THRESH && after_last {
                    let flight = self.flight_for_ssthresh();
                    self.rec.cc.on_loss(now, flight, mss);
                    self.rec.losses_mut().high = Some(self.nxt_offset());
                    let ss = self.rec.cc.ssthresh();
                    self.rec.cc.set_cwnd(ss.saturating_add(3 * mss));
                    self.rec.state = CaState::Recovery;
                    self.retransmit_entry(now, 0, RetransmitCause::Fast);
                } else {
                    self.rec.state = CaState::Disorder;
                }
            }
            CaState::Recovery => {
                // §3.2 step 4: inflation by the segment that left.
                let cwnd = self.rec.cc.cwnd().saturating_add(mss);
                self.rec.cc.set_cwnd(cwnd);
            }
            CaState::Loss => {}
        }
    }

    /// Linux without SACK (`tcp_is_reno`): duplicate ACKs stand in for SACKs
    /// (`tcp_add_reno_sack`: each one a segment that arrived, so limited
    /// transmit comes from the pipe), recovery begins when more than three
    /// are counted (`tcp_time_to_recover`, `tcp_dupack_heuristics`) with the
    /// first outstanding segment marked lost (`tcp_newreno_mark_lost`, and
    /// again on each partial ACK), and PRR paces it, as with SACK; an ACK of
    /// new data delivers what it covers less the duplicates already counted
    /// (`tcp_remove_reno_sacks`), at least one.
    fn linux_reno_ack(&mut self, now: Instant, advanced: bool, dup: bool, acked: Delivered) {
        let una = self.una_offset();
        let mut delivered = 0u32;
        if advanced {
            let n = acked.segments;
            if n > 0 {
                delivered = n.saturating_sub(self.rec.losses().reno_sacked).max(1);
                if let Some(l) = self.rec.losses_if_any() {
                    l.reno_sacked = l.reno_sacked.saturating_sub(n - 1);
                }
            }
        } else if dup {
            let out = self.rec.board.len() as u32;
            let holes = self.rec.board.lost().segments.max(1).min(out);
            let before = self.rec.losses().reno_sacked;
            self.rec.losses_mut().reno_sacked = (before + 1).min(out.saturating_sub(holes));
            delivered = self.rec.losses().reno_sacked - before;
        }
        match self.rec.state {
            CaState::Recovery if una >= self.rec.losses().high.unwrap_or(0) => {
                let ss = self.rec.cc.ssthresh();
                self.rec.cc.set_cwnd(ss);
                self.rec.state = CaState::Open;
            }
            CaState::Recovery if advanced => {
                // A partial ACK: the next hole is lost too.
                self.rec.board.mark_lost(0);
            }
            CaState::Loss if una >= self.rec.losses().high.unwrap_or(0) => {
                self.rec.state = CaState::Open
            }
            _ => {}
        }
        if self.rec.state <= CaState::Disorder {
            if self.rec.losses().reno_sacked + 1 > DUP_THRESH && !self.rec.board.is_empty() {
                self.enter_recovery(now);
                self.rec.board.mark_lost(0);
            } else {
                self.rec.state = if self.rec.losses().reno_sacked > 0 {
                    CaState::Disorder
                } else {
                    CaState::Open
                };
            }
        }
        let d = Delivered {
            segments: delivered,
            ..acked
        };
        if self.rec.state == CaState::Recovery {
            self.prr(u64::from(delivered), false, advanced);
        } else if advanced {
            self.grow(now, d);
        }
    }

    /// SND.UNA as a stream offset (our FIN, once acknowledged, counts one).
    fn una_offset(&self) -> u64 {
        self.send_buf.head() + u64::from(self.our_fin_acked())
    }

    /// SND.NXT as a stream offset: the end of what was sent, FIN included
    /// (RFC 6582 `recover`, Linux `high_seq`, `tlp_high_seq`).
    fn nxt_offset(&self) -> u64 {
        self.sent + u64::from(self.fin_sent)
    }

    /// Window growth for an ACK outside recovery (slow start or
    /// congestion avoidance).
    fn grow(&mut self, now: Instant, delivered: Delivered) {
        if !self.may_grow() {
            return;
        }
        let mss = self.mss32();
        let n = if self.segments_counted() {
            delivered.segments.saturating_mul(mss)
        } else {
            delivered.octets.min(u64::from(u32::MAX)) as u32
        };
        self.rec.cc.on_ack(now, n, mss, self.rec.min_rtt);
    }

    // ----- RFC 6675 -----

    /// RFC 6675 `IsLost`, applied to the whole board: an unSACKed segment
    /// with DupThresh SACKed segments, or more than (DupThresh − 1)·SMSS
    /// SACKed octets, above it is lost (segments already sent again are
    /// left alone: `NextSeg` looks only above HighRxt).
    fn mark_lost_rfc6675(&mut self) {
        let limit = u64::from(DUP_THRESH - 1) * u64::from(self.mss32());
        let (mut n, mut octets) = (0u32, 0u64);
        for i in (0..self.rec.board.len()).rev() {
            let s = *self.rec.board.get(i).expect("index in range");
            if s.is_sacked() {
                n += 1;
                octets += s.size();
            } else if (n >= DUP_THRESH || octets > limit) && !s.is_retrans() {
                self.rec.board.mark_lost(i);
            }
        }
    }

    fn sack_ack(&mut self, now: Instant, advanced: bool, dup: bool, acked: Delivered) {
        let mss = self.mss32();
        let una = self.una_offset();
        if self.rec.board.sacked().segments > 0 {
            self.mark_lost_rfc6675();
        }
        // §5 (C) then (B): a cumulative ACK resets DupAcks, a duplicate
        // (outside recovery) counts one.
        if advanced {
            self.rec.dupacks = 0;
            if let Some(l) = self.rec.losses_if_any() {
                l.limited_octets = 0;
            }
        }
        if dup && self.rec.state <= CaState::Disorder {
            self.rec.dupacks += 1;
        }
        match self.rec.state {
            CaState::Recovery => {
                if una >= self.rec.losses().high.unwrap_or(0) {
                    self.rec.state = CaState::Open;
                }
            }
            CaState::Loss => {
                if advanced {
                    self.grow(now, acked);
                }
                if una >= self.rec.losses().high.unwrap_or(0) {
                    self.rec.state = CaState::Open;
                }
            }
            CaState::Open | CaState::Disorder => {
                let head_lost = self.rec.board.first().is_some_and(|s| s.is_lost());
                let after_last = self.rec.losses().high.is_none_or(|h| una >= h);
                if (self.rec.dupacks >= DUP_THRESH || head_lost) && after_last {
                    // §5 step 4: RecoveryPoint, ssthresh = cwnd =
                    // FlightSize / 2, the first hole at once.
                    let flight = self.flight_for_ssthresh();
                    self.rec.cc.on_loss(now, flight, mss);
                    let ss = self.rec.cc.ssthresh();
                    self.rec.cc.set_cwnd(ss);
                    self.rec.losses_mut().high = Some(self.nxt_offset());
                    self.rec.state = CaState::Recovery;
                    let first = self.rec.board.iter().position(|s| !s.is_sacked());
                    if let Some(i) = first {
                        self.rec.board.mark_lost(i);
                        self.retransmit_entry(now, i, RetransmitCause::Fast);
                    }
                } else {
                    if advanced {
                        self.grow(now, acked);
                    }
                    self.rec.state = if self.rec.board.sacked().segments > 0 || self.rec.dupacks > 0
                    {
                        CaState::Disorder
                    } else {
                        CaState::Open
                    };
                }
            }
        }
    }

    // ----- RACK-TLP and PRR (RFC 8985, RFC 6937; Linux) -----

    /// RACK's reordering window (Linux `tcp_rack_reo_wnd`).
    fn reo_wnd(&self) -> Duration {
        if !self.rec.reord_seen
            && (self.rec.state >= CaState::Recovery
                || self.rec.board.sacked().segments >= DUP_THRESH)
        {
            return Duration::ZERO;
        }
        let quarter = self
            .rec
            .min_rtt
            .map_or(Duration::ZERO, |m| Duration::from_nanos(m.as_nanos() / 4));
        match self.rtt.srtt() {
            Some(srtt) => quarter.min(srtt),
            None => quarter,
        }
    }

    /// RFC 8985 §6.2 step 5 (Linux `tcp_rack_detect_loss`): marks lost
    /// every segment sent before the latest delivered one whose reordering
    /// window has passed; returns how many it marked and the longest wait
    /// left for the others.
    fn rack_detect_loss(&mut self, now: Instant) -> (u32, Option<Duration>) {
        let Some(xmit) = self.rec.rack_xmit else {
            return (0, None);
        };
        let reo = self.reo_wnd();
        let window = self.rec.rack_rtt + reo;
        let (mut marked, mut wait) = (0, None::<Duration>);
        for i in 0..self.rec.board.len() {
            let s = *self.rec.board.get(i).expect("index in range");
            if s.is_sacked() || (s.is_lost() && !s.is_retrans()) {
                continue;
            }
            if (s.sent_at, s.order) >= xmit {
                // Sent at or after the latest delivered one. (Later
                // entries may be older retransmissions: keep looking.)
                continue;
            }
            let since = now.saturating_duration_since(s.sent_at);
            if since >= window {
                self.rec.board.mark_lost(i);
                marked += 1;
            } else {
                let left = window - since;
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        if marked > 0 {
            self.rec.losses_mut().stats.rack_losses += marked;
        }
        (marked, wait)
    }

    /// RACK after an ACK: returns whether it armed its reordering timer
    /// (which then stands in for the retransmission timer).
    fn rack_ack(
        &mut self,
        now: Instant,
        advanced: bool,
        delivered: Delivered,
        tsecr: Option<u32>,
    ) -> bool {
        let una = self.una_offset();
        self.tlp_ack(now, advanced, una);
        self.try_undo_dsack();
        if advanced && matches!(self.rec.state, CaState::Recovery | CaState::Loss) {
            // The Eifel test in recovery and after a timeout (Linux
            // `tcp_try_undo_partial`, `tcp_try_undo_loss`;
            // `tests/data/linux/rto_spurious.trace`: the ACK of the held
            // flight echoes the probe's TSval, older than the RTO's
            // retransmission, and the timeout is undone).
            self.try_undo(tsecr);
        }
        // The episode ends when everything sent before it is acknowledged
        // (`tcp_fastretrans_alert`: `tcp_end_cwnd_reduction` for recovery).
        match self.rec.state {
            CaState::Recovery if una >= self.rec.losses().high.unwrap_or(0) => {
                let ss = self.rec.cc.ssthresh();
                self.rec.cc.set_cwnd(ss);
                self.rec.state = CaState::Open;
            }
            CaState::Loss if una >= self.rec.losses().high.unwrap_or(0) => {
                self.rec.state = CaState::Open
            }
            _ => {}
        }
        let mut reo_armed = false;
        let mut newly_lost = 0;
        if self.rec.rack_advanced {
            self.rec.rack_advanced = false;
            let (n, wait) = self.rack_detect_loss(now);
            newly_lost = n;
            if let Some(w) = wait {
                self.arm_reorder(now, w);
                reo_armed = true;
            }
        }
        if self.rec.state <= CaState::Disorder {
            if self.rec.board.lost().segments > 0 {
                self.enter_recovery(now);
            } else {
                self.rec.state = if self.rec.board.sacked().segments > 0 {
                    CaState::Disorder
                } else {
                    CaState::Open
                };
            }
        }
        if self.rec.state == CaState::Recovery {
            self.prr(u64::from(delivered.segments), newly_lost > 0, advanced);
        } else if advanced {
            self.grow(now, delivered);
        }
        reo_armed
    }

    /// Linux `tcp_try_undo_partial` / `tcp_try_undo_recovery` with the Eifel
    /// test (RFC 3522; `tcp_packet_delayed`): an ACK of new data whose TSecr
    /// is older than the episode's first retransmission was sent for an
    /// original, which was delayed, not lost; with no retransmission left
    /// in flight the reduction is undone (`tcp_undo_cwnd_reduction`: cwnd
    /// the larger of now and before, ssthresh as before, loss marks
    /// cleared) and reordering is noted, which widens RACK's window
    /// (`tests/data/linux/data_reordered.trace`: undone at the ACK of the
    /// delayed original, 5 ms after it was due).
    fn try_undo(&mut self, tsecr: Option<u32>) {
        let (Some((cwnd, ssthresh)), Some(first), Some(ecr)) = (
            self.rec.losses().undo,
            self.rec.losses().retrans_tsval,
            tsecr,
        ) else {
            return;
        };
        let delayed = ecr != 0 && (ecr.wrapping_sub(first) as i32) < 0;
        if !delayed || self.rec.board.retrans().segments > 0 {
            return;
        }
        self.undo_reduction(cwnd, ssthresh);
    }

    /// Linux `tcp_undo_cwnd_reduction`: the window and threshold from
    /// before the episode, its loss marks forgotten, reordering noted (so
    /// RACK's window widens) and the episode over.
    fn undo_reduction(&mut self, cwnd: u32, ssthresh: u32) {
        self.rec.cc.restore(cwnd, ssthresh);
        self.rec.board.clear_lost();
        self.rec.losses_mut().undo = None;
        self.rec.losses_mut().undo_retrans = None;
        self.rec.losses_mut().retrans_tsval = None;
        self.rec.reord_seen = true;
        self.rec.rack_advanced = true;
        if self.rec.state >= CaState::Recovery {
            self.rec.state = if self.rec.board.sacked().segments > 0 {
                CaState::Disorder
            } else {
                CaState::Open
            };
        }
        self.rec.losses_mut().stats.undos += 1;
    }

    /// RFC 3708 (Linux `tcp_try_undo_dsack`, and `tcp_may_undo` at the end
    /// of an episode): every retransmission of the episode came back as a
    /// D-SACK, so none was needed and the reduction is undone — also after
    /// the episode ended, for a D-SACK that comes late.
    fn try_undo_dsack(&mut self) {
        let (Some((cwnd, ssthresh)), Some(0)) =
            (self.rec.losses().undo, self.rec.losses().undo_retrans)
        else {
            return;
        };
        self.undo_reduction(cwnd, ssthresh);
    }

    /// Linux `tcp_enter_recovery` with `tcp_init_cwnd_reduction`.
    fn enter_recovery(&mut self, now: Instant) {
        let mss = self.mss32();
        let cwnd = self.rec.cc.cwnd();
        self.rec.losses_mut().undo = Some((cwnd, self.rec.cc.ssthresh()));
        self.rec.losses_mut().undo_retrans = None;
        self.rec.losses_mut().undo_marker = self.send_buf.head();
        self.rec.losses_mut().retrans_tsval = None;
        self.rec.losses_mut().prior_cwnd = self.cwnd_units();
        self.rec.losses_mut().prr_delivered = 0;
        self.rec.losses_mut().prr_out = 0;
        let flight = (self.in_flight_units() as u32).saturating_mul(mss);
        self.rec.cc.on_loss(now, flight, mss);
        self.rec.losses_mut().high = Some(self.nxt_offset());
        self.rec.state = CaState::Recovery;
        self.rec.losses_mut().tlp_high = None;
    }

    /// PRR (RFC 6937; Linux `tcp_cwnd_reduction`): the window after an ACK
    /// that delivered `delivered` segments during recovery.
    fn prr(&mut self, delivered: u64, newly_lost: bool, advanced: bool) {
        if delivered == 0 || self.rec.losses().prior_cwnd == 0 {
            return;
        }
        let mss = u64::from(self.mss32());
        let ssthresh = u64::from(self.rec.cc.ssthresh()) / mss;
        let in_flight = self.in_flight_units();
        self.rec.losses_mut().prr_delivered += delivered;
        let (pd, po) = (self.rec.losses().prr_delivered, self.rec.losses().prr_out);
        let mut sndcnt = if ssthresh < in_flight {
            // Proportional: ssthresh / RecoverFS of what was delivered.
            (ssthresh * pd)
                .div_ceil(self.rec.losses().prior_cwnd)
                .saturating_sub(po)
        } else {
            // Slow start back to ssthresh, at most what was delivered.
            let mut s = pd.saturating_sub(po).max(delivered);
            if advanced && !newly_lost {
                s += 1;
            }
            s.min(ssthresh - in_flight)
        };
        if po == 0 {
            // The first retransmission goes out whatever the arithmetic.
            sndcnt = sndcnt.max(1);
        }
        self.rec.cc.set_cwnd(((in_flight + sndcnt) * mss) as u32);
    }

    /// RFC 8985 §7.4 (Linux `tcp_process_tlp_ack`): an ACK past the
    /// probe's SND.NXT means the probe repaired a loss, and the window is
    /// reduced once (`tests/data/linux/data_tail_lost.trace`: the cut comes
    /// with the ACK of the FIN sent after the probe's ACK).
    fn tlp_ack(&mut self, now: Instant, advanced: bool, una: u64) {
        let Some(high) = self.rec.losses().tlp_high else {
            return;
        };
        if una < high {
            return;
        }
        if !self.rec.losses().tlp_retrans {
            self.rec.losses_mut().tlp_high = None;
        } else if una > high {
            let mss = self.mss32();
            let flight = (self.in_flight_units() as u32).saturating_mul(mss);
            self.rec.cc.on_loss(now, flight, mss);
            let ss = self.rec.cc.ssthresh();
            self.rec.cc.set_cwnd(ss);
            self.rec.losses_mut().tlp_high = None;
        } else if !advanced {
            // A duplicate: the original and the probe both arrived.
            self.rec.losses_mut().tlp_high = None;
        }
    }

    /// Arms RACK's reordering timer `wait` from now, plus the kernel's
    /// minimum of 2 ms (`TCP_TIMEOUT_MIN_US`, added before the rounding to
    /// jiffies since Linux 6.6), at most one RTO (`tcp_rack_mark_lost`'s
    /// `max_when`), in the retransmission timer's place.
    fn arm_reorder(&mut self, now: Instant, wait: Duration) {
        let at = self.deadline(now, (wait + TIMEOUT_MIN).min(self.rtt.rto()));
        self.timers.stop(TimerKind::Retransmit);
        self.timers.stop(TimerKind::LossProbe);
        self.timers.set(TimerKind::Reorder, at);
    }

    /// Linux `tcp_set_xmit_timer` after an ACK: a loss probe if one may be
    /// sent, else the retransmission timer.
    pub(super) fn set_xmit_timer(&mut self, now: Instant) {
        let stood_in =
            self.timers.is_armed(TimerKind::LossProbe) || self.timers.is_armed(TimerKind::Reorder);
        if !self.schedule_loss_probe(now, true) {
            self.rearm_rto(now, stood_in);
        }
    }

    /// Linux `tcp_rearm_rto`: stopped with nothing in flight; else one RTO
    /// from now, or — when a probe or the reordering timer stood in for it
    /// — one RTO from when the first outstanding segment was last sent.
    pub(super) fn rearm_rto(&mut self, now: Instant, stood_in: bool) {
        self.timers.stop(TimerKind::LossProbe);
        self.timers.stop(TimerKind::Reorder);
        if self.snd_una == self.snd_nxt {
            self.timers.stop(TimerKind::Retransmit);
            return;
        }
        let rto = self.rtt.rto();
        let delay = match (stood_in, self.rec.board.first()) {
            (true, Some(head)) => (head.sent_at + rto)
                .saturating_duration_since(now)
                .max(Duration::from_nanos(1000)),
            _ => rto,
        };
        let at = self.deadline(now, delay);
        self.timers.set(TimerKind::Retransmit, at);
    }

    /// RFC 8985 §7.2 (Linux `tcp_schedule_loss_probe`): in the open state
    /// with SACK and something in flight, a probe 2·SRTT from now — plus
    /// the minimum RTO for a delayed ACK when one segment is in flight,
    /// else 2 ms (`TCP_TIMEOUT_MIN_US`) — but no later than the retransmission timer would
    /// fire (one RTO from now after an ACK, `advancing`; else one RTO from
    /// the first outstanding segment's last transmission).
    pub(super) fn schedule_loss_probe(&mut self, now: Instant, advancing: bool) -> bool {
        if self.mode() != Mode::Rack
            || self.rec.board.is_empty()
            || self.rec.state != CaState::Open
            || self.state == crate::state::State::SynReceived
        {
            return false;
        }
        let mut pto = match self.rtt.srtt() {
            Some(srtt) => {
                let extra = if self.rec.board.len() == 1 {
                    self.config.min_rto
                } else {
                    TIMEOUT_MIN
                };
                srtt.saturating_mul(2) + extra
            }
            None => self.config.initial_rto,
        };
        let rto = self.rtt.rto();
        let cap = if advancing {
            Some(rto)
        } else {
            self.rec
                .board
                .first()
                .map(|h| (h.sent_at + rto).saturating_duration_since(now))
                .filter(|d| *d > Duration::ZERO)
        };
        if let Some(cap) = cap {
            pto = pto.min(cap);
        }
        self.timers.stop(TimerKind::Retransmit);
        self.timers.stop(TimerKind::Reorder);
        let at = self.deadline(now, pto);
        self.timers.set(TimerKind::LossProbe, at);
        true
    }

    /// The loss probe fired (RFC 8985 §7.3; Linux `tcp_send_loss_probe`):
    /// new data if the peer's window lets a segment out, else the last
    /// segment again; once per tail.
    pub(super) fn on_loss_probe(&mut self, now: Instant) {
        if self.rec.losses().tlp_high.is_some() || self.rec.board.is_empty() {
            self.rearm_rto(now, true);
            return;
        }
        let before = self.rec.board.len();
        self.push_probe(now);
        self.rec.losses_mut().tlp_retrans = self.rec.board.len() == before;
        if self.rec.losses().tlp_retrans {
            self.retransmit_entry(now, before - 1, RetransmitCause::Tlp);
        }
        self.rec.losses_mut().stats.tlp_probes += 1;
        self.rec.losses_mut().tlp_high = Some(self.nxt_offset());
        // Restart the timer from now (`icsk_pending = 0`).
        self.rearm_rto(now, false);
    }

    /// RACK's reordering timer fired (Linux `tcp_rack_reo_timeout`).
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        let before = self.in_flight_units();
        let (marked, _) = self.rack_detect_loss(now);
        if marked > 0 && self.in_flight_units() != before {
            if self.rec.state != CaState::Recovery {
                self.enter_recovery(now);
                self.prr(1, true, false);
            }
            self.push(now);
        }
        if !self.timers.is_armed(TimerKind::Retransmit) {
            // The reordering timer stood in for it: from the head's time.
            self.rearm_rto(now, true);
        }
    }

    /// The retransmission timer expired with data in flight (RFC 5681
    /// §3.1, RFC 6675 §5.1, Linux `tcp_enter_loss`): ssthresh is set once
    /// per episode (again only for a segment not yet sent again by the
    /// timer under RFC 5681 eq. 4; not at all when the timeout comes during
    /// Linux's recovery), cwnd is one segment, and everything not SACKed is
    /// lost.
    pub(super) fn enter_loss(&mut self, now: Instant) {
        let mss = self.mss32();
        let flight = self.rec.board.out_octets() as u32;
        let new_episode = if self.segments_counted() {
            self.rec.state <= CaState::Disorder
                || self
                    .rec
                    .losses()
                    .high
                    .is_none_or(|h| h <= self.send_buf.head())
                || (self.rec.state == CaState::Loss && self.retransmits <= 1)
        } else {
            self.retransmits <= 1
        };
        if new_episode {
            // Undo information (Linux `tcp_init_undo` in `tcp_enter_loss`):
            // the window and threshold before, kept under RACK.
            self.rec.losses_mut().undo =
                (self.mode() == Mode::Rack).then(|| (self.rec.cc.cwnd(), self.rec.cc.ssthresh()));
            self.rec.losses_mut().retrans_tsval = None;
            let flight = if self.segments_counted() {
                (self.in_flight_units() as u32).saturating_mul(mss)
            } else {
                flight
            };
            self.rec.cc.on_rto(now, flight, mss);
        } else {
            self.rec.cc.set_cwnd(mss);
        }
        self.rec.board.mark_all_lost();
        self.rec.state = CaState::Loss;
        self.rec.losses_mut().high = Some(self.nxt_offset());
        self.rec.dupacks = 0;
        self.rec.losses_mut().reno_sacked = 0;
        self.rec.losses_mut().tlp_high = None;
        self.timers.stop(TimerKind::LossProbe);
        self.timers.stop(TimerKind::Reorder);
    }

    /// Sends entry `i` of the scoreboard again.
    pub(super) fn retransmit_entry(&mut self, now: Instant, i: usize, cause: RetransmitCause) {
        let Some(s) = self.rec.board.get(i).copied() else {
            return;
        };
        let mut flags = Flags::ACK;
        let data_end = s.start + u64::from(s.len);
        let psh = match self.config.push {
            // The segment's own flags (the kernel resends its `sk_buff`).
            crate::config::Push::Linux => s.psh(),
            crate::config::Push::Rfc1122 => s.len > 0 && data_end == self.send_buf.end(),
        };
        if psh {
            flags = flags | Flags::PSH;
        }
        if s.fin {
            flags = flags | Flags::FIN;
        }
        debug_assert!(s.start >= self.send_buf.head());
        let seq = self.snd_una + (s.start - self.send_buf.head()) as u32;
        let mut seg = self.segment(seq, flags);
        seg.payload = self.spare.take();
        self.send_buf
            .copy_out(s.start, s.len as usize, &mut seg.payload);
        let end = seq + s.len + u32::from(s.fin);
        self.emit(seg, Some(cause));
        self.total_retrans += 1;
        if self.rec.losses().undo.is_some() {
            self.rec.losses_mut().undo_retrans =
                Some(self.rec.losses().undo_retrans.unwrap_or(0) + 1);
        }
        if self.rec.losses().undo.is_some() && self.rec.losses().retrans_tsval.is_none() {
            self.rec.losses_mut().retrans_tsval = self
                .out
                .back_mut()
                .and_then(|t| t.segment.options.timestamps)
                .map(|t| t.val);
        }
        if cause == RetransmitCause::Fast {
            self.rec.losses_mut().stats.fast_retransmits += 1;
        }
        let restart =
            i == 0 && self.mode() == Mode::Rack && !self.timers.is_armed(TimerKind::Reorder);
        self.note_sent(now, end, true);
        self.last_xmit = now;
        self.rec.board.retransmitted(i, now);
        self.note_recovery_send(self.units_of(s.size()));
        if restart {
            // Linux `tcp_xmit_retransmit_queue`: resending the first
            // outstanding segment restarts the timer.
            self.timers.stop(TimerKind::LossProbe);
            self.arm_retransmit(now);
        }
        // One segment of a larger buffer: the buffer splits after it
        // (tcp_retransmit_skb → tcp_fragment).
        self.send_buf.split_at(data_end);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use super::Connection;
    use crate::config::Config;
    use crate::seq::SeqNum;
    use crate::time::{Duration, Instant};

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

    /// Delivers every segment both ways at `now` until neither end sends.
    fn exchange(a: &mut Connection, b: &mut Connection, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(t) = a.poll_transmit() {
                b.handle_segment(now, &t.segment);
                moved = true;
            }
            while let Some(t) = b.poll_transmit() {
                a.handle_segment(now, &t.segment);
                moved = true;
            }
            while a.poll_event().is_some() || b.poll_event().is_some() {}
            if !moved {
                return;
            }
        }
    }

    #[test]
    fn a_connection_that_loses_nothing_keeps_no_loss_state() {
        for config in [Config::rfc(), Config::linux()] {
            let now = Instant::ZERO;
            let mut a = Connection::connect(now, config, A, B, SeqNum(1000));
            let syn = a.poll_transmit().expect("SYN").segment;
            let mut b = Connection::accept(now, config, B, &syn, SeqNum(5000));
            exchange(&mut a, &mut b, now);
            a.send(now, &[7; 10_000]).expect("open");
            exchange(&mut a, &mut b, now);
            assert!(a.rec.losses.is_none() && b.rec.losses.is_none());

            // One segment lost: its retransmission (by timer, fast
            // retransmit or RACK) records the episode.
            a.send(now, &[7; 3_000]).expect("open");
            let lost = a.poll_transmit().expect("data");
            assert!(!lost.segment.payload.is_empty());
            exchange(&mut a, &mut b, now);
            while a.rec.losses.is_none() {
                let t = a.poll_timeout().expect("a timer for the loss");
                a.handle_timeout(t);
                exchange(&mut a, &mut b, t);
                assert!(t < Instant::ZERO + Duration::from_secs(10), "no repair");
            }
            let s = a.recovery_stats();
            assert!(s.rtos + s.fast_retransmits + s.rack_losses + s.tlp_probes > 0);
        }
    }
}
