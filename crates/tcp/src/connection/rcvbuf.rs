//! The receive buffer and the window announced from it (RFC 9293 §3.8.6,
//! RFC 7323 §2.3–2.4), counted as [`RecvMemory::Linux`] says: Linux's
//! `sk_rcvbuf` accounting, in the kernel's own order of steps.
//!
//! - Every queued segment costs its `truesize` ([`linux_truesize`]); the sum is
//!   the buffer's memory (`sk_rmem_alloc`).
//! - Memory becomes window through the scaling ratio, payload per byte of
//!   memory in 1/256 (`tcp_win_from_space`): 50 % until the first
//!   full-sized segment is measured (`tcp_measure_rcv_mss`).
//! - The window offered grows with the data (`rcv_ssthresh`,
//!   `tcp_grow_window`) up to the clamp (`window_clamp`), is rounded and
//!   held from shrinking (`__tcp_select_window`, `tcp_select_window`), and
//!   is zero after a segment the memory could not take
//!   (`ICSK_ACK_NOMEM`).
//! - A segment is taken if it starts in the window and ends inside the
//!   largest window ever announced, or ends beyond it while nothing waits
//!   to be read (`tcp_sequence`); then memory decides (`tcp_try_rmem_schedule`:
//!   a buffer the application did not fix grows, out-of-order data is
//!   dropped, and an in-order segment is forced in only into an empty
//!   queue).
//!
//! Not modelled: receive-buffer autotuning from the application's reads
//! (`tcp_rcv_space_adjust`), the collapsing of bloated buffers
//! (`tcp_collapse`), global TCP memory pressure, and the backlog of a
//! socket the application holds.

use super::Connection;
use crate::buffer::SegmentCost;
use crate::config::{InitialWindow, RecvMemory};
use crate::seq::SeqNum;

/// The scaling ratio is in 1/256 (`TCP_RMEM_TO_WIN_SCALE`).
const RATIO_SHIFT: u32 = 8;
/// `TCP_DEFAULT_SCALING_RATIO`: 50 %, until a segment is measured.
const DEFAULT_RATIO: u32 = 1 << (RATIO_SHIFT - 1);
/// `SKB_DATA_ALIGN(sizeof(struct sk_buff))` on x86-64.
const SKB_STRUCT: u32 = 256;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64.
const SHARED_INFO: u32 = 320;
/// `NET_SKB_PAD`: the headroom a tun device reserves in front of a packet.
const HEADROOM: u32 = 64;
/// The kernel's cache of small buffer heads (`SKB_SMALL_HEAD_CACHE_SIZE`).
const SMALL_HEAD: u32 = 640;
/// A page.
const PAGE: u32 = 4096;
/// The most packet bytes a tun device puts in the linear head; the rest
/// goes to pages (`SKB_MAX_HEAD(NET_SKB_PAD)`, tun's `good_linear`).
const LINEAR_MAX: u32 = PAGE - HEADROOM - SHARED_INFO;
/// `TCP_MSS_DEFAULT`, the first estimate of the peer's segment size.
const MSS_DEFAULT: u32 = 536;
/// `TCP_MIN_MSS`.
const MIN_MSS: u32 = 88;
/// `SOCK_MIN_RCVBUF / 2`: the smallest window clamp.
const MIN_CLAMP: u32 = (2048 + SKB_STRUCT) / 2;

/// What Linux charges for a received IPv4 packet of `packet_len` bytes
/// (headers included), as a tun device builds it (`tun_get_user`, which
/// is how the kernel selftests' packetdrill and `tests/data/linux/`'s
/// delay line feed it): up to 3712 bytes in a `kmalloc`ed head rounded up
/// to its slab (640, 1024, 2048 or 4096 bytes), the rest in whole pages,
/// plus the `sk_buff` itself. So a 1500-byte packet costs 2304 (and leaves
/// 164 bytes of room behind it), a 20040-byte one 4352 + 4 pages = 20736.
pub fn linux_truesize(packet_len: usize) -> SegmentCost {
    let len = u32::try_from(packet_len).unwrap_or(u32::MAX);
    if len <= LINEAR_MAX {
        let need = (HEADROOM + len).div_ceil(64) * 64 + SHARED_INFO;
        let slab = if need <= SMALL_HEAD {
            SMALL_HEAD
        } else {
            need.next_power_of_two()
        };
        SegmentCost {
            truesize: slab + SKB_STRUCT,
            tailroom: slab - SHARED_INFO - HEADROOM - len,
        }
    } else {
        let pages = (len - LINEAR_MAX).div_ceil(PAGE).saturating_mul(PAGE);
        SegmentCost {
            truesize: (PAGE + SKB_STRUCT).saturating_add(pages),
            tailroom: 0,
        }
    }
}

/// The window-scale shift that covers a window of `space` bytes:
/// ilog2(space) − 15, 0 to 14 (`tcp_select_initial_window`).
pub fn window_shift_for(space: u64) -> u8 {
    let log = 63 - i64::from(space.max(1).leading_zeros());
    (log - 15).clamp(0, 14) as u8
}

/// The receive side of [`RecvMemory::Linux`]: Linux's `tcp_sock` fields of
/// the same meaning.
#[derive(Clone, Copy, Debug)]
pub(super) struct RecvSpace {
    /// `sk_rcvbuf`, bytes.
    pub(super) buffer: u32,
    /// `SOCK_RCVBUF_LOCK`: the application fixed the buffer.
    pub(super) locked: bool,
    /// `scaling_ratio`: payload per byte of memory, in 1/256.
    ratio: u32,
    /// `window_clamp`: the largest window offered.
    clamp: u32,
    /// `rcv_ssthresh`: the window offered grows to this.
    ssthresh: u32,
    /// `icsk_ack.rcv_mss`: the estimate of the peer's segment size.
    rcv_mss: u32,
    /// `rcv_wnd`: the window announced last, in bytes.
    wnd: u32,
    /// `rcv_wup`: RCV.NXT when it was announced.
    wup: SeqNum,
    /// `rcv_mwnd_seq`: the right edge of the largest window announced.
    edge: SeqNum,
    /// `ICSK_ACK_NOMEM`: a segment was refused for memory; the next
    /// window announced is zero.
    pub(super) nomem: bool,
    /// The segment just taken was dropped with its FIN (memory, window).
    pub(super) dropped: bool,
    /// The MSS the peer announced.
    pub(super) peer_mss: u16,
}

impl RecvSpace {
    pub(super) fn new(buffer: u32, locked: bool) -> RecvSpace {
        RecvSpace {
            buffer,
            locked,
            ratio: DEFAULT_RATIO,
            clamp: 0,
            ssthresh: 0,
            rcv_mss: MSS_DEFAULT,
            wnd: 0,
            wup: SeqNum(0),
            edge: SeqNum(0),
            nomem: false,
            dropped: false,
            peer_mss: crate::config::DEFAULT_PEER_MSS,
        }
    }
}

impl RecvSpace {
    /// The window announced last, in bytes (that of the SYN or SYN-ACK
    /// before the first segment after it).
    pub(super) fn wnd_announced(&self) -> u32 {
        self.wnd
    }

    /// RCV.NXT when the window was announced last (`rcv_wup`).
    pub(super) fn wup_seq(&self) -> SeqNum {
        self.wup
    }
}

/// `x` rounded down to a multiple of the power of two `unit`.
fn round_down(x: i64, unit: i64) -> i64 {
    x & !(unit - 1)
}

/// `x` rounded up to a multiple of the power of two `unit` (`ALIGN`).
fn align(x: i64, unit: i64) -> i64 {
    (x + unit - 1) & !(unit - 1)
}

impl Connection {
    /// The receive buffer is Linux's memory, not a count of octets.
    pub(super) fn linux_memory(&self) -> bool {
        self.config.recv_window.is_none() && self.config.recv_memory == RecvMemory::Linux
    }

    /// The receive buffer in bytes (`getsockopt(SO_RCVBUF)`).
    pub fn recv_buffer(&self) -> u32 {
        self.rcv.buffer
    }

    /// The application fixes the receive buffer at `bytes` (`SO_RCVBUF` on
    /// an open connection, as the value the kernel keeps: twice what the
    /// application passed). The window follows from the next segment on.
    pub fn set_recv_buffer(&mut self, bytes: u32) {
        self.rcv.buffer = bytes;
        self.rcv.locked = true;
        if !self.linux_memory() && self.config.recv_window.is_none() {
            self.rcv_space = bytes;
        }
    }

    /// `tcp_win_from_space`: the window `space` bytes of memory hold.
    fn win_from_space(&self, space: i64) -> i64 {
        (space * i64::from(self.rcv.ratio)) >> RATIO_SHIFT
    }

    /// `tcp_full_space`: the window of the whole buffer.
    fn full_space(&self) -> i64 {
        self.win_from_space(i64::from(self.rcv.buffer))
    }

    /// `tcp_space`: the window of the memory left.
    fn free_space(&self) -> i64 {
        self.win_from_space(i64::from(self.rcv.buffer) - self.recv_buf.memory() as i64)
    }

    /// The MSS we announce (`tp->advmss`).
    fn advmss(&self) -> u32 {
        u32::from(self.config.mss)
    }

    /// The window-scale shift our SYN or SYN-ACK offers: the configured one
    /// or, for a buffer the application fixed, the smallest that covers
    /// the buffer's whole window if that is less (`tcp_select_initial_window`
    /// with `window_clamp` set to the full space).
    pub(super) fn offered_shift(&self) -> Option<u8> {
        let shift = self
            .config
            .window_scale?
            .min(crate::options::MAX_WINDOW_SHIFT);
        if !self.rcv.locked {
            return Some(shift);
        }
        let space = if self.linux_memory() {
            (u64::from(self.rcv.buffer) * u64::from(DEFAULT_RATIO)) >> RATIO_SHIFT
        } else {
            u64::from(self.rcv.buffer)
        };
        Some(shift.min(window_shift_for(space)))
    }

    /// The receive window of SYN or SYN-ACK, before the 16-bit field caps
    /// it (`tcp_select_initial_window`): the buffer's whole window (as
    /// fixed by the application, or at most 65535 << 14), rounded down to
    /// a multiple of the payload size when larger; the clamp no larger than
    /// the shift can announce. `scaling`: the shift will be in use if the
    /// peer agrees (a SYN-ACK offers none to a SYN without one).
    pub(super) fn linux_initial_window(&mut self, scaling: bool) -> u32 {
        self.rcv.ratio = DEFAULT_RATIO;
        let full = self.full_space().max(0) as u64;
        let unlimited = u64::from(u16::MAX) << crate::options::MAX_WINDOW_SHIFT;
        let clamp = if self.rcv.locked { full } else { unlimited };
        let unit = u64::from(self.payload_room(self.config.mss)).max(1);
        let mut space = clamp.min(full);
        if space > unit && self.config.initial_window == InitialWindow::MssMultiple {
            space = space / unit * unit;
        }
        let shift = if scaling {
            self.offered_shift().unwrap_or(0)
        } else {
            0
        };
        self.rcv.wnd = space.min(u64::from(u32::MAX)) as u32;
        self.rcv.clamp = clamp.min(u64::from(u16::MAX) << shift) as u32;
        self.rcv.ssthresh = self.rcv.wnd;
        self.rcv.wnd
    }

    /// Both SYNs are in: the window of our SYN (or SYN-ACK) is announced
    /// from RCV.NXT, and without window scaling neither it nor the clamp
    /// goes past 65535.
    pub(super) fn linux_handshake(&mut self) {
        let max = u32::from(u16::MAX) << self.opt.rcv_shift;
        self.rcv.wnd = self.rcv.wnd.min(max);
        self.rcv.clamp = self.rcv.clamp.min(max);
        self.rcv.wup = self.rcv_nxt;
        self.rcv.edge = self.rcv_nxt + self.rcv.wnd;
    }

    /// ESTABLISHED: `tcp_init_buffer_space` (the clamp at most the
    /// buffer's window, less one segment held in reserve) and
    /// `tcp_initialize_rcv_mss`.
    pub(super) fn linux_established(&mut self) {
        let maxwin = self.full_space().max(0) as u32;
        let advmss = self.advmss();
        let r = &mut self.rcv;
        if r.clamp >= maxwin {
            r.clamp = maxwin;
        }
        if r.clamp > 2 * advmss && r.clamp + advmss > maxwin {
            r.clamp = (2 * advmss).max(maxwin.saturating_sub(advmss));
        }
        r.ssthresh = r.ssthresh.min(r.clamp);
        let hint = advmss
            .min(u32::from(self.send_mss))
            .min(r.wnd / 2)
            .min(MSS_DEFAULT);
        // Never below TCP_MIN_MSS, even for a tiny window.
        r.rcv_mss = if hint < MIN_MSS { MIN_MSS } else { hint };
    }

    /// `tcp_receive_window`: what is left of the window announced last.
    pub(super) fn receive_window(&self) -> u32 {
        let right = self.rcv.wup + self.rcv.wnd;
        right.diff(self.rcv_nxt).max(0) as u32
    }

    /// `tcp_max_receive_window`: what is left of the largest window
    /// announced (RFC 7323 §2.4: segments it covers stay acceptable when
    /// the window is retracted).
    pub(super) fn max_receive_window(&self) -> u32 {
        self.rcv.edge.diff(self.rcv_nxt).max(0) as u32
    }

    /// The size of the segments an arriving one was made of: a segment
    /// longer than the peer's MSS is an aggregate (GRO, or packetdrill's
    /// GSO injection with `--mss`) of segments that size, as the kernel
    /// reads `gso_size`.
    fn segment_size(&self, payload: usize) -> u32 {
        let peer = u32::from(self.payload_room(self.rcv.peer_mss)).max(1);
        (payload as u32).min(peer)
    }

    /// `tcp_measure_rcv_mss` for an in-order segment of `len` payload
    /// octets costing `truesize`: a segment at least as large as the
    /// estimate, but not equal to it, measures the scaling ratio afresh and
    /// moves the clamp with it.
    fn measure_rcv_mss(&mut self, len: usize, truesize: u32) {
        let size = self.segment_size(len);
        if size < self.rcv.rcv_mss {
            return;
        }
        if size != self.rcv.rcv_mss && truesize > 0 {
            let old = self.rcv.ratio;
            let ratio = ((len as u64) << RATIO_SHIFT) / u64::from(truesize);
            self.rcv.ratio = ratio.clamp(1, 255) as u32;
            if self.rcv.ratio != old {
                let clamp = self.full_space().max(0) as u32;
                self.set_window_clamp(clamp);
            }
        }
        self.rcv.rcv_mss = size.min(self.advmss());
    }

    /// `tcp_set_window_clamp`, never past what the shift can announce: a
    /// larger clamp lets the offered window grow to the clamp, a smaller
    /// one brings it down.
    fn set_window_clamp(&mut self, val: u32) {
        let max = u32::from(u16::MAX) << self.opt.rcv_shift;
        let new = val.max(MIN_CLAMP).min(max);
        let r = &mut self.rcv;
        if new == r.clamp {
            return;
        }
        let old = r.clamp;
        r.clamp = new;
        if new < old {
            r.ssthresh = r.ssthresh.min(new);
        } else {
            r.ssthresh = r.ssthresh.max(r.wnd.min(new));
        }
    }

    /// `tcp_grow_window`: a segment of `len` octets costing `truesize`
    /// that fits the buffer's ratio (or would, halved a few times) lets
    /// the offered window grow by twice its length (at least two MSS), as
    /// far as the memory and the clamp allow, and earns one quick ACK.
    fn grow_window(&mut self, len: usize, truesize: u32) {
        let room = i64::from(self.rcv.clamp).min(self.free_space()) - i64::from(self.rcv.ssthresh);
        if room <= 0 {
            return;
        }
        let len = len as i64;
        let mut incr = if self.win_from_space(i64::from(truesize)) <= len {
            2 * i64::from(self.advmss())
        } else {
            let mut truesize = self.win_from_space(i64::from(truesize)) >> 1;
            let mut window = self.win_from_space(i64::from(self.config.recv_buffer_max)) >> 1;
            let mut incr = 0;
            while i64::from(self.rcv.ssthresh) <= window {
                if truesize <= len {
                    incr = 2 * i64::from(self.rcv.rcv_mss);
                    break;
                }
                truesize >>= 1;
                window >>= 1;
            }
            incr
        };
        if incr > 0 {
            incr = incr.max(2 * len);
            self.rcv.ssthresh += incr.min(room) as u32;
            self.quickacks |= 1;
        }
    }

    /// `__tcp_select_window`: the window the memory allows now, rounded
    /// (to the scale unit with window scaling, else to whole segments) and
    /// zero when less than a segment, or a sixteenth of the buffer, is
    /// free. Less than half the buffer free ends quick-ACK mode.
    pub(super) fn linux_raw_window(&mut self) -> u32 {
        let unit = 1i64 << self.opt.rcv_shift;
        let mut mss = i64::from(self.rcv.rcv_mss);
        let mut free = self.free_space();
        let allowed = self.full_space();
        let full = i64::from(self.rcv.clamp).min(allowed);
        let ssthresh = i64::from(self.rcv.ssthresh);
        if mss > full {
            mss = full;
            if mss <= 0 {
                return 0;
            }
        }
        if self.config.shrink_window && self.opt.rcv_shift > 0 {
            free = round_down(free, unit);
            if free < full >> 1 {
                self.quickacks = 0;
                if free < allowed >> 4 || free < mss || free < unit {
                    return 0;
                }
            }
            if free > ssthresh {
                free = align(ssthresh, unit);
            }
            return free.max(0) as u32;
        }
        if free < full >> 1 {
            self.quickacks = 0;
            free = round_down(free, unit);
            if free < allowed >> 4 || free < mss {
                return 0;
            }
        }
        free = free.min(ssthresh);
        let window = if self.opt.rcv_shift > 0 {
            align(free, unit)
        } else {
            let mut window = i64::from(self.rcv.wnd);
            if window <= free - mss || window > free {
                window = free / mss * mss;
            } else if mss == full && free > window + (full >> 1) {
                window = free;
            }
            window
        };
        window.max(0) as u32
    }

    /// `tcp_select_window`: the window field of a segment we send now
    /// (not a SYN), which becomes the window announced: zero after a
    /// segment refused for memory; otherwise never less than what is left
    /// of the window announced last (unless `shrink_window` with scaling),
    /// so the right edge never moves back.
    pub(super) fn linux_window_field(&mut self) -> u16 {
        let shift = self.opt.rcv_shift;
        if self.rcv.nomem {
            self.rcv.wnd = 0;
            self.rcv.wup = self.rcv_nxt;
            return 0;
        }
        let current = self.receive_window();
        let mut new = self.linux_raw_window();
        if new < current && !(self.config.shrink_window && shift > 0) {
            new = align(i64::from(current), 1 << shift) as u32;
        }
        self.rcv.wnd = new;
        self.rcv.wup = self.rcv_nxt;
        let right = self.rcv_nxt + new;
        if self.rcv.edge < right {
            self.rcv.edge = right;
        }
        (new.min(u32::from(u16::MAX) << shift) >> shift) as u16
    }

    /// `tcp_try_rmem_schedule` with `tcp_prune_queue`: whether a segment
    /// that starts at stream offset `from` may be queued. While the memory
    /// is within the buffer, yes (the kernel's check since February 2026,
    /// `tcp_can_ingest`). Otherwise a buffer the application did not fix
    /// grows to the memory, up to `recv_buffer_max`, and the offered
    /// window falls back to two segments if it is still overrun
    /// (`tcp_clamp_window`); then out-of-order data after the segment is
    /// dropped, the highest first (`tcp_prune_ofo_queue`).
    pub(super) fn linux_admit(&mut self, from: u64) -> bool {
        let memory = self.recv_buf.memory();
        if memory <= u64::from(self.rcv.buffer) {
            return true;
        }
        self.quickacks = 0;
        if !self.rcv.locked && self.rcv.buffer < self.config.recv_buffer_max {
            self.rcv.buffer = memory.min(u64::from(self.config.recv_buffer_max)) as u32;
        }
        if memory > u64::from(self.rcv.buffer) {
            self.rcv.ssthresh = self.rcv.clamp.min(2 * self.advmss());
        }
        let buffer = u64::from(self.rcv.buffer);
        if memory <= buffer {
            return true;
        }
        if self.recv_buf.prune_pending(from, |m| m <= buffer) {
            self.reset_sack();
        }
        self.recv_buf.memory() <= buffer
    }

    /// Queues the text of a segment whose first octet is at stream offset
    /// `at` (`next` is RCV.NXT as an offset), as `tcp_data_queue` and
    /// `tcp_data_queue_ofo` do; the caller's acceptability test has passed
    /// and the window is open for it. Returns how far RCV.NXT advanced, or
    /// `None` when memory refused it (then [`RecvSpace::dropped`] is set,
    /// and for in-order text [`RecvSpace::nomem`]). An in-order segment is
    /// forced into an empty queue; [`RecvSpace::nomem`] says so.
    pub(super) fn linux_queue(
        &mut self,
        seg: &crate::segment::Segment,
        at: u64,
        next: u64,
    ) -> Option<u64> {
        let in_order = at <= next;
        let len = seg.payload.len();
        let cost = linux_truesize(crate::wire::encoded_len(seg));
        if !self.linux_admit(at.max(next)) {
            if !in_order || self.recv_buf.readable() > 0 {
                self.rcv.nomem |= in_order;
                self.rcv.dropped = true;
                return None;
            }
            self.rcv.nomem = true;
        }
        if !in_order && self.opt.sack {
            self.grow_window(len, cost.truesize);
        }
        let advanced = self.recv_buf.insert_charged(at, &seg.payload, cost);
        if in_order {
            self.measure_rcv_mss(len, cost.truesize);
            if len >= 128 {
                self.grow_window(len, cost.truesize);
            }
        }
        Some(advanced)
    }

    /// `tcp_cleanup_rbuf` after a read: whether the window has opened
    /// enough to announce (at least twice what is left of the last one,
    /// when that is at most half the clamp).
    pub(super) fn linux_window_update_due(&mut self) -> bool {
        let now = self.receive_window();
        if 2 * u64::from(now) > u64::from(self.rcv.clamp) {
            return false;
        }
        let new = self.linux_raw_window();
        new != 0 && u64::from(new) >= 2 * u64::from(now)
    }

    /// Before deciding how soon to acknowledge in-order data: with more
    /// than a segment unacknowledged the kernel works the window out
    /// (`__tcp_ack_snd_check`), which ends quick-ACK mode when less than
    /// half the buffer is free.
    pub(super) fn linux_before_ack(&mut self) {
        if self.rcv_nxt.diff(self.rcv.wup) > self.rcv.rcv_mss as i32 {
            let _ = self.linux_raw_window();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tun's allocation: 1500 bytes (1448 of payload with timestamps) go
    /// in a 2048-byte slab: 64 + 1500 = 1564 → 1600 + 320 = 1920 → 2048,
    /// and 256 for the `sk_buff`; 164 bytes of room after the packet. 20040
    /// bytes: a 4096-byte head with 3712 of them, 16328 in four pages:
    /// 4352 + 16384.
    #[test]
    fn truesize_of_a_tun_packet() {
        let t = linux_truesize;
        assert_eq!(
            t(1500),
            SegmentCost {
                truesize: 2304,
                tailroom: 164
            }
        );
        assert_eq!(t(20_040).truesize, 20_736);
        assert_eq!(t(10_040).truesize, 4352 + 8192);
        assert_eq!(t(41).truesize, 640 + 256); // the small-head cache
        assert_eq!(t(1063).truesize, 2304);
        assert_eq!(t(3712).truesize, 4352);
        assert_eq!(t(3713).truesize, 4352 + 4096);
    }

    #[test]
    fn shift_covers_the_space() {
        assert_eq!(window_shift_for(20_000), 0); // ilog2 14
        assert_eq!(window_shift_for(65_536), 1);
        assert_eq!(window_shift_for(1_000_000), 4); // ilog2 19
        assert_eq!(window_shift_for(33_554_432), 10);
        assert_eq!(window_shift_for(u64::MAX), 14);
    }
}
