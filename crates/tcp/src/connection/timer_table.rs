//! The timers of one connection: a fixed table with one deadline per
//! [`TimerKind`], in the shape of quinn-proto's `TimerTable`.
//!
//! Expiry walks the table once in [`TimerKind::ALL`] order
//! ([`TimerTable::expire`] for each kind in turn), so timers due at the same
//! instant always fire in the same order, and each at most once per walk.
//! A deadline of [`Instant::MAX`] (one that saturated at the end of time)
//! means "never": it is neither the next deadline nor ever expired, or a
//! clock at `Instant::MAX` would fire it for ever.

use crate::event::TimerKind;
use crate::time::Instant;

/// One optional deadline per [`TimerKind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; TimerKind::ALL.len()],
}

impl TimerTable {
    /// Arms `kind` for `at`, replacing any deadline it had.
    pub(crate) fn set(&mut self, kind: TimerKind, at: Instant) {
        self.deadlines[kind.index()] = Some(at);
    }

    /// Stops `kind`.
    pub(crate) fn stop(&mut self, kind: TimerKind) {
        self.deadlines[kind.index()] = None;
    }

    /// Stops every timer.
    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; TimerKind::ALL.len()];
    }

    /// The deadline of `kind`, if armed.
    pub(crate) fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.deadlines[kind.index()]
    }

    /// Whether `kind` is armed.
    pub(crate) fn is_armed(&self, kind: TimerKind) -> bool {
        self.get(kind).is_some()
    }

    /// The earliest deadline, "never" ([`Instant::MAX`]) left out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines
            .iter()
            .flatten()
            .filter(|&&t| t != Instant::MAX)
            .min()
            .copied()
    }

    /// Whether `kind` is due at `now`; if so it is stopped, and the caller
    /// fires it.
    pub(crate) fn expire(&mut self, kind: TimerKind, now: Instant) -> bool {
        match self.get(kind) {
            Some(due) if due <= now && due != Instant::MAX => {
                self.stop(kind);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    const T0: Instant = Instant::ZERO;

    fn at_ms(ms: u64) -> Instant {
        T0 + Duration::from_millis(ms)
    }

    /// Kinds that `expire` fires at `now`, in one walk of the table.
    fn walk(table: &mut TimerTable, now: Instant) -> Vec<TimerKind> {
        TimerKind::ALL
            .into_iter()
            .filter(|&k| table.expire(k, now))
            .collect()
    }

    #[test]
    fn an_empty_table_has_no_deadline_and_fires_nothing() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_deadline(), None);
        assert!(walk(&mut t, at_ms(1_000_000)).is_empty());
        for kind in TimerKind::ALL {
            assert_eq!(t.get(kind), None);
            assert!(!t.is_armed(kind));
        }
    }

    #[test]
    fn set_replaces_and_stop_clears() {
        let mut t = TimerTable::default();
        t.set(TimerKind::Retransmit, at_ms(1000));
        t.set(TimerKind::Retransmit, at_ms(3000));
        assert_eq!(t.get(TimerKind::Retransmit), Some(at_ms(3000)));
        assert!(t.is_armed(TimerKind::Retransmit));
        // Other kinds are untouched by it.
        assert_eq!(t.get(TimerKind::DelayedAck), None);
        t.stop(TimerKind::Retransmit);
        assert_eq!(t.get(TimerKind::Retransmit), None);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn next_deadline_is_the_earliest_and_never_means_never() {
        let mut t = TimerTable::default();
        // A 60 s TIME-WAIT, a 200 ms delayed ACK, a 1 s RTO: 200 ms first.
        t.set(TimerKind::TimeWait, at_ms(60_000));
        t.set(TimerKind::DelayedAck, at_ms(200));
        t.set(TimerKind::Retransmit, at_ms(1000));
        assert_eq!(t.next_deadline(), Some(at_ms(200)));
        t.stop(TimerKind::DelayedAck);
        assert_eq!(t.next_deadline(), Some(at_ms(1000)));
        // A deadline that saturated is not a deadline.
        t.set(TimerKind::Retransmit, Instant::MAX);
        assert_eq!(t.next_deadline(), Some(at_ms(60_000)));
        t.stop_all();
        assert_eq!(t.next_deadline(), None);
        t.set(TimerKind::FinWait2, Instant::MAX);
        assert_eq!(t.next_deadline(), None);
        assert!(walk(&mut t, Instant::MAX).is_empty());
        assert!(t.is_armed(TimerKind::FinWait2));
    }

    #[test]
    fn expire_fires_due_timers_once_in_table_order() {
        let mut t = TimerTable::default();
        let kinds = TimerKind::ALL;
        let last = kinds.len() - 1;
        // kinds[i] due at (i + 1) s: the last kind is due last.
        for (i, &kind) in kinds.iter().enumerate() {
            t.set(kind, at_ms(1000 * (i as u64 + 1)));
        }
        // Just before the last one's deadline every other kind has expired.
        let now = at_ms(1000 * (last as u64 + 1) - 1);
        assert_eq!(walk(&mut t, now), kinds[..last].to_vec());
        assert_eq!(t.next_deadline(), Some(at_ms(1000 * (last as u64 + 1))));
        // Due exactly now counts; a fired timer is stopped.
        let now = at_ms(1000 * (last as u64 + 1));
        assert_eq!(walk(&mut t, now), vec![kinds[last]]);
        assert!(walk(&mut t, now).is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn timers_due_at_one_instant_fire_in_the_fixed_order() {
        let mut t = TimerTable::default();
        for &kind in TimerKind::ALL.iter().rev() {
            t.set(kind, at_ms(7));
        }
        assert_eq!(walk(&mut t, at_ms(7)), TimerKind::ALL.to_vec());
    }
}
