//! Targeted faults: "drop the client's first SYN" (tcpsim SPEC §3 `[[faults]]`).
//!
//! A rule matches a packet by direction, segment kind and time window, and
//! counts every match as the packet enters the link (retransmissions count;
//! copies made by duplication do not). The first rule whose `nth` list
//! contains its count decides what happens; rules are checked in file order
//! and every matching rule counts, whichever decides. Faults act before the
//! link's random impairments. The shape follows turmoil-net's rules: a
//! verdict per packet, first non-pass wins.

use tcpsim_tcp::{Duration, Instant, SegmentKind};

use crate::trace::HostId;

/// What a rule does to the packets it picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Drop the packet (reason `fault`).
    Drop,
    /// Deliver it `extra` later than the link would.
    Delay(Duration),
    /// Send it twice; the copy takes the link on its own draws.
    Duplicate,
    /// Flip one bit; the receiver's checksum rejects it.
    Corrupt,
    /// Cut the link: every matching packet in the time window is dropped
    /// (reason `partition`), whatever `nth` says.
    Partition,
}

/// One `[[faults]]` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// What to do.
    pub action: FaultAction,
    /// Sending host; `None` for any.
    pub from: Option<HostId>,
    /// Receiving host; `None` for any.
    pub to: Option<HostId>,
    /// Segment kinds matched; empty for any.
    pub kinds: Vec<SegmentKind>,
    /// Which matches (1-based) the rule acts on; `None` for all.
    pub nth: Option<Vec<u32>>,
    /// Start of the time window (inclusive).
    pub start: Option<Instant>,
    /// End of the time window (exclusive).
    pub end: Option<Instant>,
}

impl FaultRule {
    /// A rule acting on every packet from any host to any host.
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule {
            action,
            from: None,
            to: None,
            kinds: Vec::new(),
            nth: None,
            start: None,
            end: None,
        }
    }

    fn matches(&self, from: HostId, to: HostId, kind: SegmentKind, now: Instant) -> bool {
        self.from.is_none_or(|h| h == from)
            && self.to.is_none_or(|h| h == to)
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.start.is_none_or(|s| now >= s)
            && self.end.is_none_or(|e| now < e)
    }
}

/// Who decided a watched rule's match at the fault stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decider {
    /// The watched rule itself: its `nth` held the count.
    This,
    /// A rule before it (the file's own), which the segment matched too.
    Earlier,
    /// No rule: the segment went on to the link's impairments.
    Nobody,
}

/// One match of a watched rule (see [`Faults::watch`]): what
/// `tcpsim explore` learns of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The watched rule, counted from the first watched one.
    pub rule: u32,
    /// The rule's count for it (1-based): the segment is this rule's n-th.
    pub n: u32,
    /// Its kind.
    pub kind: SegmentKind,
    /// When it entered the link.
    pub at: Instant,
    /// Who decided its fate.
    pub by: Decider,
}

/// The rules of a run with their match counters.
#[derive(Clone, Debug)]
pub struct Faults {
    rules: Vec<(FaultRule, u32)>,
    /// The first watched rule; `usize::MAX` when none is.
    watched: usize,
    /// The matches of watched rules, in the order they happened.
    seen: Vec<Seen>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rules: Vec::new(),
            watched: usize::MAX,
            seen: Vec::new(),
        }
    }
}

impl Faults {
    /// Adds a rule after the existing ones.
    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    /// Whether a rule corrupts packets: the only faults that draw from
    /// the fault stream (which bit to flip).
    pub(crate) fn draws(&self) -> bool {
        self.rules
            .iter()
            .any(|(r, _)| r.action == FaultAction::Corrupt)
    }

    /// Adds `rules` after the existing ones as *watched* rules: every
    /// segment one of them matches is logged ([`Faults::seen`]), with its
    /// count and who decided its fate. Their `nth` lists can be changed
    /// between runs ([`Faults::set_watched_nth`]). What `tcpsim explore`
    /// runs its cases with; the rules before them count and decide as
    /// always.
    pub fn watch(&mut self, rules: impl IntoIterator<Item = FaultRule>) {
        if self.watched == usize::MAX {
            self.watched = self.rules.len();
        }
        for rule in rules {
            self.push(rule);
        }
    }

    /// Sets the `nth` list of each watched rule, in order (`nth[i]` for
    /// the i-th; an empty list picks nothing, so the rule only watches).
    pub fn set_watched_nth(&mut self, nth: &[Vec<u32>]) {
        let start = self.watched.min(self.rules.len());
        for ((rule, _), n) in self.rules[start..].iter_mut().zip(nth) {
            rule.nth = Some(n.clone());
        }
    }

    /// The matches of watched rules in the run so far, in order.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    /// Every rule's count back to zero, for another run.
    pub(crate) fn reset(&mut self) {
        for (_, count) in &mut self.rules {
            *count = 0;
        }
        self.seen.clear();
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The verdict for a packet entering the link `from → to` at `now`:
    /// `None` lets it pass to the link's impairments.
    pub fn verdict(
        &mut self,
        from: HostId,
        to: HostId,
        kind: SegmentKind,
        now: Instant,
    ) -> Option<FaultAction> {
        let mut verdict = None;
        for (i, (rule, count)) in self.rules.iter_mut().enumerate() {
            if !rule.matches(from, to, kind, now) {
                continue;
            }
            *count += 1;
            let decided = verdict.is_some();
            let picked = !decided
                && (rule.action == FaultAction::Partition
                    || rule.nth.as_ref().is_none_or(|n| n.contains(count)));
            if picked {
                verdict = Some(rule.action);
            }
            if i >= self.watched {
                self.seen.push(Seen {
                    rule: (i - self.watched) as u32,
                    n: *count,
                    kind,
                    at: now,
                    by: match (decided, picked) {
                        (true, _) => Decider::Earlier,
                        (false, true) => Decider::This,
                        (false, false) => Decider::Nobody,
                    },
                });
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_counts_per_rule_and_first_pick_wins() {
        let mut f = Faults::default();
        let mut first_syn = FaultRule::new(FaultAction::Drop);
        first_syn.kinds = vec![SegmentKind::Syn];
        first_syn.nth = Some(vec![1]);
        first_syn.from = Some(0);
        f.push(first_syn);
        let mut delay_second = FaultRule::new(FaultAction::Delay(Duration::from_millis(5)));
        delay_second.nth = Some(vec![2]);
        f.push(delay_second);
        let t = Instant::ZERO;
        // Packet 1: SYN from 0 — first rule's 1st, second rule's 1st.
        assert_eq!(
            f.verdict(0, 1, SegmentKind::Syn, t),
            Some(FaultAction::Drop)
        );
        // Packet 2: SYN-ACK from 1 — only the second rule matches (its 2nd).
        assert_eq!(
            f.verdict(1, 0, SegmentKind::SynAck, t),
            Some(FaultAction::Delay(Duration::from_millis(5)))
        );
        // Packet 3: SYN from 0 again — first rule's 2nd: pass; second rule's 3rd: pass.
        assert_eq!(f.verdict(0, 1, SegmentKind::Syn, t), None);
    }

    #[test]
    fn watched_rules_log_every_match_and_who_decided() {
        let mut f = Faults::default();
        // The file's rule: drop the first SYN.
        let mut first_syn = FaultRule::new(FaultAction::Drop);
        first_syn.kinds = vec![SegmentKind::Syn];
        first_syn.nth = Some(vec![1]);
        f.push(first_syn);
        // Watched: everything from 0 to 1, then everything from 1 to 0.
        let mut there = FaultRule::new(FaultAction::Drop);
        there.from = Some(0);
        there.to = Some(1);
        let mut back = there.clone();
        back.from = Some(1);
        back.to = Some(0);
        f.watch([there, back]);
        f.set_watched_nth(&[vec![2], vec![]]);
        let t = Instant::from_secs(1);
        // SYN #1: the file's rule drops it; the watched rule counts it (its 1st).
        assert_eq!(
            f.verdict(0, 1, SegmentKind::Syn, t),
            Some(FaultAction::Drop)
        );
        // SYN #2: the watched rule's 2nd, which it drops.
        assert_eq!(
            f.verdict(0, 1, SegmentKind::Syn, t),
            Some(FaultAction::Drop)
        );
        // SYN-ACK: the second watched rule's 1st; it only watches.
        assert_eq!(f.verdict(1, 0, SegmentKind::SynAck, t), None);
        let seen: Vec<(u32, u32, Decider)> = f.seen().iter().map(|s| (s.rule, s.n, s.by)).collect();
        assert_eq!(
            seen,
            [
                (0, 1, Decider::Earlier),
                (0, 2, Decider::This),
                (1, 1, Decider::Nobody)
            ]
        );
        f.reset();
        assert!(f.seen().is_empty());
    }

    #[test]
    fn time_window_is_half_open() {
        let mut f = Faults::default();
        let mut cut = FaultRule::new(FaultAction::Partition);
        cut.start = Some(Instant::from_secs(2));
        cut.end = Some(Instant::from_secs(4));
        f.push(cut);
        let k = SegmentKind::Ack;
        assert_eq!(f.verdict(0, 1, k, Instant::from_millis(1999)), None);
        assert_eq!(
            f.verdict(0, 1, k, Instant::from_secs(2)),
            Some(FaultAction::Partition)
        );
        assert_eq!(
            f.verdict(1, 0, k, Instant::from_millis(3999)),
            Some(FaultAction::Partition)
        );
        assert_eq!(f.verdict(0, 1, k, Instant::from_secs(4)), None);
    }
}
