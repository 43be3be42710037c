//! The sender's record of what is in flight: one entry per segment sent
//! and not yet cumulatively acknowledged, in sequence order, with what the
//! peer's SACK blocks said about it and what loss detection concluded
//! (RFC 6675 §3's scoreboard; Linux's retransmission queue with its
//! `TCPCB_SACKED_ACKED`, `TCPCB_LOST` and `TCPCB_SACKED_RETRANS` bits).
//!
//! Positions are stream offsets (octet 0 is the first data octet; our FIN
//! occupies the offset after the last one), so nothing here wraps. The
//! counters that the window test needs — segments and octets out, SACKed,
//! lost and retransmitted — are kept as entries change, so the pipe
//! (RFC 6675 §4 `SetPipe`; Linux `tcp_packets_in_flight`) costs nothing to
//! read.

use std::collections::VecDeque;

use crate::time::Instant;

/// The peer reported it in a SACK block.
const SACKED: u8 = 1;
/// Loss detection judged it lost.
const LOST: u8 = 1 << 1;
/// A retransmission of it is in flight (cleared when that is judged lost).
const RETRANS: u8 = 1 << 2;
/// It was retransmitted at least once.
const EVER_RETRANS: u8 = 1 << 3;
/// It carried PSH (and its retransmissions do too, as the kernel's
/// `sk_buff` keeps its flags).
const PSH: u8 = 1 << 4;

/// One segment in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sent {
    /// Stream offset of its first octet.
    pub(super) start: u64,
    /// Data octets.
    pub(super) len: u32,
    /// It carries our FIN (at offset `start + len`).
    pub(super) fin: bool,
    /// When it was last (re)transmitted.
    pub(super) sent_at: Instant,
    /// The place of that transmission among all of the connection's: what
    /// orders transmissions at one instant (RACK's "sent after", RFC 8985
    /// §6.2, which the kernel decides by microsecond timestamps and a
    /// simulation sees tie).
    pub(super) order: u64,
    flags: u8,
}

impl Sent {
    /// The offset after it (its FIN included).
    pub(super) fn end(&self) -> u64 {
        self.start + u64::from(self.len) + u64::from(self.fin)
    }
    /// Sequence space it occupies.
    pub(super) fn size(&self) -> u64 {
        self.end() - self.start
    }
    pub(super) fn is_sacked(&self) -> bool {
        self.flags & SACKED != 0
    }
    pub(super) fn is_lost(&self) -> bool {
        self.flags & LOST != 0
    }
    /// A retransmission of it is in flight.
    pub(super) fn is_retrans(&self) -> bool {
        self.flags & RETRANS != 0
    }
    pub(super) fn ever_retransmitted(&self) -> bool {
        self.flags & EVER_RETRANS != 0
    }
    pub(super) fn psh(&self) -> bool {
        self.flags & PSH != 0
    }
    /// Counts toward the pipe: in flight and not judged lost, plus its
    /// retransmission (RFC 6675 `SetPipe`).
    fn pipe_units(&self) -> u32 {
        if self.is_sacked() {
            return 0;
        }
        u32::from(!self.is_lost()) + u32::from(self.is_retrans())
    }
}

/// Segments and octets, kept side by side. Octets fit 32 bits: what is in
/// flight is bounded by the largest window (65 535 << 14, under 2^30), and
/// the pipe counts it at most twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Count {
    pub(super) segments: u32,
    pub(super) octets: u32,
}

impl Count {
    fn add(&mut self, s: &Sent, units: u32) {
        self.segments += units;
        self.octets += s.size() as u32 * units;
    }
    fn sub(&mut self, s: &Sent, units: u32) {
        self.segments -= units;
        self.octets -= s.size() as u32 * units;
    }
}

/// What a cumulative ACK or a SACK block newly covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Delivered {
    /// Segments newly acknowledged or SACKed (Linux `acked_sacked`).
    pub(super) segments: u32,
    /// Their octets.
    pub(super) octets: u64,
    /// The latest-sent of them that was never retransmitted: (send time,
    /// transmission order), what RACK compares by (RFC 8985 §6.2).
    pub(super) newest: Option<(Instant, u64)>,
    /// The latest-sent of them that was retransmitted.
    pub(super) newest_retrans: Option<(Instant, u64)>,
}

impl Delivered {
    fn note(&mut self, s: &Sent, octets: u64) {
        self.segments += 1;
        self.octets += octets;
        let key = Some((s.sent_at, s.order));
        if s.ever_retransmitted() {
            self.newest_retrans = self.newest_retrans.max(key);
        } else {
            self.newest = self.newest.max(key);
        }
    }
}

/// The sender's scoreboard.
#[derive(Debug, Default)]
pub(super) struct Scoreboard {
    sent: VecDeque<Sent>,
    sacked: Count,
    lost: Count,
    retrans: Count,
    /// The pipe (RFC 6675 §4): what is in flight and not judged lost,
    /// retransmissions counted again.
    pipe: Count,
    /// Octets of sequence space outstanding.
    out_octets: u64,
    /// The end of the highest SACKed entry (RFC 6675 `HighSACK` + 1).
    high_sacked: u64,
    /// Transmissions so far ([`Sent::order`]).
    transmissions: u64,
}

impl Scoreboard {
    /// Takes `old`'s storage where this board has none
    /// ([`crate::buffer::adopt_storage`]).
    pub(super) fn adopt_storage(&mut self, old: &mut Scoreboard) {
        crate::buffer::adopt_storage(&mut self.sent, &mut old.sent);
    }

    /// Records a segment sent for the first time, after every other.
    pub(super) fn push(&mut self, start: u64, len: u32, fin: bool, now: Instant) {
        debug_assert!(self.sent.back().is_none_or(|b| b.end() == start));
        self.transmissions += 1;
        let s = Sent {
            start,
            len,
            fin,
            sent_at: now,
            order: self.transmissions,
            flags: 0,
        };
        self.out_octets += s.size();
        self.pipe.add(&s, 1);
        self.sent.push_back(s);
    }

    /// The last entry carries PSH.
    pub(super) fn mark_last_psh(&mut self) {
        if let Some(s) = self.sent.back_mut() {
            s.flags |= PSH;
        }
    }

    /// Entries in flight (Linux `packets_out`).
    pub(super) fn len(&self) -> usize {
        self.sent.len()
    }
    pub(super) fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
    /// The entries, in sequence order.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = &Sent> {
        self.sent.iter()
    }
    pub(super) fn get(&self, i: usize) -> Option<&Sent> {
        self.sent.get(i)
    }
    pub(super) fn first(&self) -> Option<&Sent> {
        self.sent.front()
    }
    pub(super) fn sacked(&self) -> Count {
        self.sacked
    }
    pub(super) fn lost(&self) -> Count {
        self.lost
    }
    pub(super) fn retrans(&self) -> Count {
        self.retrans
    }
    pub(super) fn pipe(&self) -> Count {
        self.pipe
    }
    /// Octets of sequence space outstanding (FlightSize, RFC 5681 §2).
    pub(super) fn out_octets(&self) -> u64 {
        self.out_octets
    }
    #[cfg(test)]
    fn high_sacked(&self) -> u64 {
        self.high_sacked
    }

    fn set(&mut self, i: usize, flags: u8) {
        let s = self.sent[i];
        self.unaccount(&s);
        let s = &mut self.sent[i];
        s.flags = flags;
        let s = *s;
        self.account(&s);
    }

    fn account(&mut self, s: &Sent) {
        if s.is_sacked() {
            self.sacked.add(s, 1);
        }
        if s.is_lost() {
            self.lost.add(s, 1);
        }
        if s.is_retrans() {
            self.retrans.add(s, 1);
        }
        self.pipe.add(s, s.pipe_units());
    }

    fn unaccount(&mut self, s: &Sent) {
        if s.is_sacked() {
            self.sacked.sub(s, 1);
        }
        if s.is_lost() {
            self.lost.sub(s, 1);
        }
        if s.is_retrans() {
            self.retrans.sub(s, 1);
        }
        self.pipe.sub(s, s.pipe_units());
    }

    /// Marks entry `i` lost; a retransmission of it in flight is lost too.
    /// Returns whether it was not marked before.
    pub(super) fn mark_lost(&mut self, i: usize) -> bool {
        let s = self.sent[i];
        if s.is_sacked() || (s.is_lost() && !s.is_retrans()) {
            return false;
        }
        self.set(i, (s.flags | LOST) & !RETRANS);
        true
    }

    /// Entry `i` was sent again at `now`.
    pub(super) fn retransmitted(&mut self, i: usize, now: Instant) {
        let flags = self.sent[i].flags | RETRANS | EVER_RETRANS;
        self.set(i, flags);
        self.transmissions += 1;
        self.sent[i].sent_at = now;
        self.sent[i].order = self.transmissions;
    }

    /// Every entry not SACKed is lost (the retransmission timer expired:
    /// RFC 6675 §5.1, Linux `tcp_enter_loss`); retransmissions in flight
    /// are forgotten.
    pub(super) fn mark_all_lost(&mut self) {
        for i in 0..self.sent.len() {
            let s = self.sent[i];
            if !s.is_sacked() {
                self.set(i, (s.flags | LOST) & !RETRANS);
            }
        }
    }

    /// Forgets every loss mark (an episode undone): entries not SACKed
    /// count as in flight again.
    pub(super) fn clear_lost(&mut self) {
        for i in 0..self.sent.len() {
            let s = self.sent[i];
            if s.is_lost() {
                self.set(i, s.flags & !LOST);
            }
        }
    }

    /// The cumulative ACK reached offset `to`: entries below it go, one
    /// that it covers in part is trimmed (Linux `tcp_trim_head`).
    pub(super) fn acknowledge(&mut self, to: u64) -> Delivered {
        let mut d = Delivered::default();
        while let Some(s) = self.sent.front().copied() {
            if s.end() <= to {
                self.unaccount(&s);
                self.out_octets -= s.size();
                self.sent.pop_front();
                if !s.is_sacked() {
                    d.note(&s, s.size());
                }
            } else {
                if s.start < to {
                    self.unaccount(&s);
                    let cut = to - s.start;
                    self.out_octets -= cut;
                    if !s.is_sacked() {
                        d.octets += cut;
                    }
                    let f = &mut self.sent[0];
                    f.start = to;
                    f.len -= cut as u32;
                    let f = *f;
                    self.account(&f);
                }
                break;
            }
        }
        self.high_sacked = self.high_sacked.max(to);
        d
    }

    /// Marks SACKed every entry wholly inside `[left, right)` (RFC 2018:
    /// the receiver holds those octets), calling `each` with every newly
    /// SACKed entry.
    pub(super) fn sack(&mut self, left: u64, right: u64, mut each: impl FnMut(&Sent)) -> Delivered {
        let mut d = Delivered::default();
        let mut i = self.sent.partition_point(|s| s.start < left);
        while let Some(s) = self.sent.get(i).copied() {
            if s.end() > right {
                break;
            }
            if !s.is_sacked() {
                self.set(i, (s.flags | SACKED) & !(LOST | RETRANS));
                d.note(&s, s.size());
                self.high_sacked = self.high_sacked.max(s.end());
                each(&s);
            }
            i += 1;
        }
        d
    }

    /// The first entry that is lost and not yet sent again.
    pub(super) fn first_to_retransmit(&self) -> Option<usize> {
        if self.lost.segments == 0 {
            return None;
        }
        self.sent
            .iter()
            .position(|s| s.is_lost() && !s.is_retrans() && !s.is_sacked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(us: u64) -> Instant {
        Instant::from_nanos(us * 1000)
    }

    /// Ten 1000-octet segments; SACK of 3..5 and the pipe as RFC 6675
    /// §4 counts it: 10 out, 3 SACKed, then the 1st lost (not in the pipe)
    /// and retransmitted (in it again).
    #[test]
    fn the_pipe_counts_as_rfc_6675_set_pipe() {
        let mut b = Scoreboard::default();
        for i in 0..10 {
            b.push(i * 1000, 1000, false, t(i));
        }
        assert_eq!(b.pipe().segments, 10);
        assert_eq!(b.out_octets(), 10_000);
        let d = b.sack(3000, 6000, |_| {});
        assert_eq!((d.segments, d.octets), (3, 3000));
        assert_eq!(d.newest, Some((t(5), 6)));
        assert_eq!(b.pipe().segments, 7);
        assert_eq!(b.high_sacked(), 6000);
        assert!(b.mark_lost(0));
        assert!(!b.mark_lost(0), "already lost");
        assert_eq!(b.pipe().segments, 6);
        assert_eq!(b.first_to_retransmit(), Some(0));
        b.retransmitted(0, t(100));
        assert_eq!(b.pipe().segments, 7);
        assert_eq!(b.first_to_retransmit(), None);
        // The retransmission judged lost too: out of the pipe again.
        assert!(b.mark_lost(0));
        assert_eq!(b.pipe().segments, 6);
        // The ACK of 0..2500: two entries go, the third is trimmed.
        let d = b.acknowledge(2500);
        assert_eq!((d.segments, d.octets), (2, 2500));
        assert_eq!(b.first().unwrap().start, 2500);
        assert_eq!(b.out_octets(), 7500);
        assert_eq!(b.pipe().octets, 500 + 4000);
    }

    #[test]
    fn a_fin_occupies_one_offset() {
        let mut b = Scoreboard::default();
        b.push(0, 100, false, t(0));
        b.push(100, 0, true, t(1));
        assert_eq!(b.out_octets(), 101);
        let d = b.acknowledge(100);
        assert_eq!(d.segments, 1);
        assert_eq!(b.len(), 1);
        let d = b.acknowledge(101);
        assert_eq!((d.segments, d.octets), (1, 1));
        assert!(b.is_empty());
    }
}
