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

/// The rules of a run with their match counters.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    rules: Vec<(FaultRule, u32)>,
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

    /// Every rule's count back to zero, for another run.
    pub(crate) fn reset(&mut self) {
        for (_, count) in &mut self.rules {
            *count = 0;
        }
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
        for (rule, count) in &mut self.rules {
            if !rule.matches(from, to, kind, now) {
                continue;
            }
            *count += 1;
            if verdict.is_some() {
                continue;
            }
            let picked = rule.action == FaultAction::Partition
                || rule.nth.as_ref().is_none_or(|n| n.contains(count));
            if picked {
                verdict = Some(rule.action);
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
