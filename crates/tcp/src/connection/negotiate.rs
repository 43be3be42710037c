//! TCP options in a connection: what the two SYNs agree on — window
//! scaling and timestamps (RFC 7323), SACK (RFC 2018) — and the work they
//! bring to every segment: TSval/TSecr and TS.Recent (RFC 7323 §4.3), PAWS
//! (§5.3), scaled windows (§2.3), SACK blocks (RFC 2018 §4) and D-SACK
//! (RFC 2883).
//!
//! An option is in use only if our configuration offers it and the peer's
//! SYN (or SYN-ACK) carried it; a SYN-ACK carries only what the SYN had
//! (RFC 7323 §1.3, RFC 2018 §2).

use super::Connection;
use crate::config::{InitialWindow, WindowRounding};
use crate::options::{MAX_SACK_BLOCKS, MAX_WINDOW_SHIFT, Options, SackBlocks, Timestamps};
use crate::segment::Segment;
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 7323 §5.5: after this long without an update TS.Recent is invalid.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// The bytes the timestamps option takes from every segment's payload.
pub(crate) const TIMESTAMPS_LEN: u16 = 12;

/// What the handshake agreed on, and the per-connection option state.
#[derive(Clone, Debug, Default)]
pub(super) struct Negotiated {
    /// Snd.Wind.Shift: applied to the windows the peer sends.
    pub(super) snd_shift: u8,
    /// Rcv.Wind.Shift: applied to the windows we send.
    pub(super) rcv_shift: u8,
    /// Timestamps on every segment.
    pub(super) ts: bool,
    /// SACK blocks may be sent.
    pub(super) sack: bool,
    /// TS.Recent: the timestamp to echo.
    pub(super) ts_recent: u32,
    /// When TS.Recent was last set (RFC 7323 §5.5: after 24 days idle it
    /// no longer counts for PAWS).
    pub(super) ts_recent_at: Instant,
    /// Added to the timestamp clock (per 4-tuple, from the endpoint).
    pub(super) ts_offset: u32,
    /// Last.ACK.sent: the ACK field of the last segment we sent.
    pub(super) last_ack_sent: SeqNum,
    /// The peer's SYN offered window scaling (a SYN-ACK answers in kind).
    pub(super) peer_offered_window_scale: bool,
    /// The SACK blocks to report: made when data first arrives out of
    /// order or repeated (one pointer until then).
    report: Option<Box<SackReport>>,
    /// When we last answered a data-less segment that failed PAWS.
    pub(super) last_invalid_ack: Option<Instant>,
}

/// What a receiver reports in SACK blocks (RFC 2018 §4, RFC 2883).
#[derive(Clone, Copy, Debug, Default)]
struct SackReport {
    /// Stream offsets of the latest out-of-order arrivals, most recent
    /// first: the order SACK blocks are reported in (RFC 2018 §4).
    recent: [u64; MAX_SACK_BLOCKS],
    recent_len: u8,
    /// A duplicate to report first in the next ACK (RFC 2883 §4).
    dsack: Option<(SeqNum, SeqNum)>,
}

impl Negotiated {
    /// The agreed options without the SACK report, if it holds no D-SACK
    /// to send: what TIME-WAIT keeps. The out-of-order arrivals it drops
    /// are reported only while data is out of order, which no longer
    /// happens once the peer's FIN is in order.
    pub(super) fn for_time_wait(&self) -> Option<Negotiated> {
        if self.report.as_ref().is_some_and(|r| r.dsack.is_some()) {
            return None;
        }
        Some(Negotiated {
            report: None,
            ..self.clone()
        })
    }
}

impl Connection {
    /// The timestamp clock now: ticks of `ts_clock` plus the offset.
    pub(super) fn ts_val(&self, now: Instant) -> u32 {
        let tick = self.config.ts_clock.as_nanos().max(1);
        let ticks = now.saturating_duration_since(Instant::ZERO).as_nanos() / tick;
        (ticks as u32).wrapping_add(self.opt.ts_offset)
    }

    /// The options our SYN offers. A SYN that reuses a TIME-WAIT 4-tuple
    /// echoes the old connection's TS.Recent (Linux `tcp_twsk_unique`).
    pub(super) fn syn_options(&self, now: Instant) -> Options {
        Options {
            window_scale: self.offered_shift(),
            sack_permitted: self.config.sack,
            timestamps: self.config.timestamps.then(|| Timestamps {
                val: self.ts_val(now),
                ecr: if self.opt.ts { self.opt.ts_recent } else { 0 },
            }),
            sack: SackBlocks::new(),
        }
    }

    /// The options of our SYN-ACK: only what the peer's SYN offered too.
    pub(super) fn synack_options(&self, now: Instant) -> Options {
        Options {
            window_scale: self
                .offered_shift()
                .filter(|_| self.opt.peer_offered_window_scale),
            sack_permitted: self.opt.sack,
            timestamps: self.opt.ts.then(|| Timestamps {
                val: self.ts_val(now),
                ecr: self.opt.ts_recent,
            }),
            sack: SackBlocks::new(),
        }
    }

    /// In TIME-WAIT with timestamps in use: SND.NXT and TS.Recent, by which
    /// a new incarnation of the 4-tuple is judged (RFC 6191) and started
    /// (a reusing client's ISS and TSecr).
    pub(crate) fn time_wait_point(&self) -> Option<(SeqNum, u32)> {
        (self.state == crate::state::State::TimeWait && self.opt.ts)
            .then_some((self.snd_nxt, self.opt.ts_recent))
    }

    /// This connection reuses a TIME-WAIT 4-tuple whose connection had
    /// timestamps: until the SYN-ACK says otherwise, timestamps are taken
    /// as in use (the SYN echoes `ts_recent`, its window counts 12 bytes of
    /// options per segment: 65160 instead of 64240,
    /// `tests/data/linux/reconnect_timewait_client.trace`).
    pub(super) fn reuse_time_wait(&mut self, ts_recent: u32) {
        if self.config.timestamps {
            self.opt.ts = true;
            self.opt.ts_recent = ts_recent;
        }
    }

    /// Takes what the peer's SYN (or SYN-ACK) offers: the options in use
    /// from now on.
    pub(super) fn negotiate(&mut self, syn: &Segment) {
        let o = &syn.options;
        self.opt.peer_offered_window_scale = o.window_scale.is_some();
        match (self.offered_shift(), o.window_scale) {
            (Some(ours), Some(theirs)) => {
                self.opt.rcv_shift = ours;
                self.opt.snd_shift = theirs.min(MAX_WINDOW_SHIFT);
            }
            _ => {
                self.opt.rcv_shift = 0;
                self.opt.snd_shift = 0;
            }
        }
        self.opt.sack = self.config.sack && o.sack_permitted;
        self.opt.ts = self.config.timestamps && o.timestamps.is_some();
        if let Some(ts) = o.timestamps.filter(|_| self.opt.ts) {
            self.opt.ts_recent = ts.val;
            self.opt.ts_recent_at = self.clock;
        }
    }

    /// The payload room of a segment: the send MSS, less the timestamps.
    pub(super) fn payload_room(&self, mss: u16) -> u16 {
        if self.opt.ts {
            mss.saturating_sub(TIMESTAMPS_LEN).max(1)
        } else {
            mss
        }
    }

    /// The window field of a segment we send now: never scaled in a SYN
    /// (RFC 7323 §2.2), where it is the receive space up to 65535; else
    /// scaled by Rcv.Wind.Shift, and under [`RecvMemory::Linux`] as the
    /// kernel selects it (which makes it the window announced).
    ///
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    pub(super) fn window_field(&mut self, syn: bool) -> u16 {
        if syn {
            let space = if self.linux_memory() {
                self.rcv.wnd_announced()
            } else {
                self.rcv_space
            };
            return space.min(u32::from(u16::MAX)) as u16;
        }
        if self.linux_memory() {
            return self.linux_window_field();
        }
        let wnd = self.rcv_wnd();
        let shift = u32::from(self.opt.rcv_shift);
        let field = match self.config.window_rounding {
            WindowRounding::Down => wnd >> shift,
            WindowRounding::Up => wnd.div_ceil(1 << shift),
        };
        field.min(u32::from(u16::MAX)) as u16
    }

    /// Sets the receive window of our SYN or SYN-ACK (before the 16-bit
    /// field caps it at 65535): under [`RecvMemory::Octets`] the buffer
    /// ([`Config::octet_buffer`], which is also the receive space from
    /// then on), with [`InitialWindow::MssMultiple`] rounded down to a
    /// multiple of the payload size; under [`RecvMemory::Linux`] as the
    /// kernel derives it from the buffer. `scaling`: our window-scale
    /// option will be in use if the peer agrees.
    ///
    /// [`RecvMemory::Octets`]: crate::RecvMemory::Octets
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    /// [`Config::octet_buffer`]: crate::Config::octet_buffer
    pub(super) fn set_initial_window(&mut self, scaling: bool) {
        if self.linux_memory() {
            self.linux_initial_window(scaling);
            return;
        }
        let w = self.rcv_space_of_buffer();
        self.rcv_space = match self.config.initial_window {
            InitialWindow::Exact => w,
            InitialWindow::MssMultiple => {
                let unit = u32::from(self.payload_room(self.config.mss)).max(1);
                (w / unit * unit).max(unit.min(w))
            }
        };
    }

    /// The octets the buffer holds under [`RecvMemory::Octets`]: the fixed
    /// window, else the buffer (as the application may have set it).
    ///
    /// [`RecvMemory::Octets`]: crate::RecvMemory::Octets
    fn rcv_space_of_buffer(&self) -> u32 {
        self.config.recv_window.map_or(self.rcv.buffer, u32::from)
    }

    /// The window the peer announced in a segment, in bytes.
    pub(super) fn peer_window(&self, seg: &Segment) -> u32 {
        if seg.flags.syn() {
            u32::from(seg.window)
        } else {
            u32::from(seg.window) << self.opt.snd_shift
        }
    }

    /// Puts the per-segment options on a segment about to go out:
    /// timestamps on all but a SYN (whose options are set already), SACK
    /// blocks on an ACK while out-of-order data waits or a duplicate is to
    /// be reported.
    pub(super) fn stamp(&mut self, seg: &mut Segment) {
        if seg.flags.ack() {
            self.opt.last_ack_sent = seg.ack;
        }
        if seg.flags.syn() {
            return;
        }
        if self.opt.ts {
            seg.options.timestamps = Some(Timestamps {
                val: self.ts_val(self.clock),
                ecr: self.opt.ts_recent,
            });
        }
        if self.opt.sack && seg.flags.ack() {
            seg.options.sack = self.sack_blocks();
        }
    }

    /// The SACK blocks to report: a pending D-SACK first, then the ranges
    /// of out-of-order data, the one holding the latest arrival first.
    fn sack_blocks(&mut self) -> SackBlocks {
        // 40 option bytes: 4 blocks, or 3 beside the timestamps (RFC 2018 §3).
        let room = if self.opt.ts { 3 } else { MAX_SACK_BLOCKS };
        let mut blocks = SackBlocks::new();
        let Some(report) = self.opt.report.as_deref_mut() else {
            // Nothing was ever out of order or repeated.
            return blocks;
        };
        if let Some((l, r)) = report.dsack.take() {
            blocks.push(l, r);
        }
        if !self.recv_buf.has_gap() {
            // Nothing out of order (the common case on every ACK): the
            // arrivals noted before the gap closed are forgotten.
            report.recent_len = 0;
            return blocks;
        }
        let (recent, recent_len) = (report.recent, report.recent_len);
        let next = self.recv_buf.next();
        let to_seq = |off: u64| self.rcv_nxt + (off - next) as u32;
        // Linux's blocks are its out-of-order queue's `end_seq`s, which
        // count a FIN (`tests/data/linux/data_lost_mid.trace`: `sack 1
        // {7241:20002}` for data up to 20001 and the FIN).
        let fin_at = self
            .peer_fin_at
            .filter(|_| self.config.fin_sack == crate::config::FinSack::Linux);
        let mut reported: [(u64, u64); MAX_SACK_BLOCKS] = [(0, 0); MAX_SACK_BLOCKS];
        let mut n = 0;
        for &at in &recent[..usize::from(recent_len)] {
            let Some(range) = self
                .recv_buf
                .pending_ranges()
                .find(|&(s, e)| s <= at && at < e)
            else {
                continue;
            };
            if reported[..n].contains(&range) {
                continue;
            }
            let right = to_seq(range.1) + u32::from(fin_at == Some(range.1));
            if blocks.len() == room || !blocks.push(to_seq(range.0), right) {
                break;
            }
            reported[n] = range;
            n += 1;
        }
        blocks
    }

    /// Out-of-order data arrived at stream offset `at`: it becomes the
    /// most recent SACK block.
    pub(super) fn note_out_of_order(&mut self, at: u64) {
        if !self.opt.sack {
            return;
        }
        // One entry per block: arrivals that now lie in the same range as
        // this one are that block already (RFC 2018 §4: "as many distinct
        // SACK blocks as possible"; Linux `tcp_sack_new_ofo_skb` moves the
        // block it extends to the front). Kept, the older distinct blocks
        // would fall off the list behind repeats of one block.
        let range = self
            .recv_buf
            .pending_ranges()
            .find(|&(s, e)| s <= at && at < e);
        let report = self.opt.report.get_or_insert_with(Box::default);
        let len = usize::from(report.recent_len);
        let mut kept = [0u64; MAX_SACK_BLOCKS];
        let mut n = 0;
        for &r in &report.recent[..len] {
            let same = range.is_some_and(|(s, e)| s <= r && r < e);
            if !same && n < MAX_SACK_BLOCKS - 1 {
                kept[n] = r;
                n += 1;
            }
        }
        report.recent[0] = at;
        report.recent[1..=n].copy_from_slice(&kept[..n]);
        report.recent_len = (n + 1) as u8;
    }

    /// The text of an arriving segment, which starts at sequence number
    /// `seq` and covers the stream offsets `[at, end)`, is about to be
    /// taken: the first contiguous part of it that had been received
    /// already becomes the D-SACK block of the next ACK (RFC 2883 §4: "a
    /// duplicate contiguous sequence of data received by the receiver in
    /// the most recent packet"), replacing any pending one. That part lies
    /// below RCV.NXT (a retransmission, whole or in part) or, failing
    /// that, in the lowest range held out of order that the segment
    /// overlaps: in-order data that fills a hole and repeats what was
    /// SACKed reports the repeat as a D-SACK ahead of the SACK blocks left.
    /// The kernel alike: `tcp_data_queue`, `tcp_data_queue_ofo` and
    /// `tcp_ofo_queue` note the first repeated range they meet and grow it
    /// only by ranges that touch it (`tcp_dsack_extend`), so a later,
    /// separate repeat in the same segment is not reported.
    pub(super) fn note_duplicates(&mut self, seq: SeqNum, at: i64, end: i64) {
        if !self.opt.sack {
            return;
        }
        let next = self.recv_buf.next() as i64;
        let dup = if at < next {
            Some((at, end.min(next)))
        } else if self.recv_buf.has_gap() {
            self.recv_buf
                .pending_ranges()
                .map(|(s, e)| (at.max(s as i64), end.min(e as i64)))
                .find(|&(s, e)| s < e)
        } else {
            None
        };
        let dsack = dup.map(|(s, e)| (seq + (s - at) as u32, seq + (e - at) as u32));
        if dsack.is_some() || self.opt.report.is_some() {
            self.opt.report.get_or_insert_with(Box::default).dsack = dsack;
        }
    }

    /// A segment repeated data we already had: report it as a D-SACK
    /// block in the next ACK (RFC 2883 §4, first case).
    pub(super) fn note_duplicate(&mut self, left: SeqNum, right: SeqNum) {
        if self.opt.sack {
            self.opt.report.get_or_insert_with(Box::default).dsack = Some((left, right));
        }
    }

    /// Forgets every SACK block and a pending D-SACK ([`FinSack::Linux`],
    /// Linux `tcp_sack_reset`).
    ///
    /// [`FinSack::Linux`]: crate::FinSack::Linux
    pub(super) fn reset_sack(&mut self) {
        if let Some(report) = self.opt.report.as_deref_mut() {
            report.dsack = None;
            report.recent_len = 0;
        }
    }

    /// RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than
    /// TS.Recent is not acceptable. RST segments are exempt, and so is
    /// every segment once TS.Recent is more than 24 days old (§5.5: the
    /// peer's clock may have wrapped since; Linux `TCP_PAWS_24DAYS`).
    pub(super) fn fails_paws(&self, seg: &Segment) -> bool {
        if !self.opt.ts || seg.flags.rst() || self.ts_recent_is_stale() {
            return false;
        }
        seg.options
            .timestamps
            .is_some_and(|ts| (ts.val.wrapping_sub(self.opt.ts_recent) as i32) < 0)
    }

    /// TS.Recent was set more than 24 days ago (RFC 7323 §5.5).
    fn ts_recent_is_stale(&self) -> bool {
        self.clock.saturating_duration_since(self.opt.ts_recent_at) > PAWS_IDLE
    }

    /// RFC 7323 §4.3 (and §5.3 R3): remember the TSval of an acceptable
    /// segment that covers Last.ACK.sent.
    pub(super) fn update_ts_recent(&mut self, seg: &Segment, seq: SeqNum) {
        let Some(ts) = seg.options.timestamps.filter(|_| self.opt.ts) else {
            return;
        };
        if ((ts.val.wrapping_sub(self.opt.ts_recent) as i32) >= 0 || self.ts_recent_is_stale())
            && seq <= self.opt.last_ack_sent
        {
            self.opt.ts_recent = ts.val;
            self.opt.ts_recent_at = self.clock;
        }
    }

    /// The RTT a segment's TSecr measures (RFC 7323 §4.1), if it echoes one.
    pub(super) fn ts_rtt(&self, seg: &Segment) -> Option<crate::time::Duration> {
        let ecr = seg.options.timestamps.filter(|_| self.opt.ts)?.ecr;
        let ticks = self.ts_val(self.clock).wrapping_sub(ecr);
        // An echo from the future, or one older than 2^31 ticks, is no sample.
        if ticks as i32 <= 0 && ticks != 0 {
            return None;
        }
        Some(self.config.ts_clock.saturating_mul(u64::from(ticks)))
    }
}
