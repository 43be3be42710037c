//! The event queue: events ordered by `(time, insertion sequence)`, so
//! events at one instant run in the order they were scheduled.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tcpsim_tcp::Instant;

/// The engine's event queue: the earliest event first, and events at the
/// same instant in the order they were scheduled. A sequence number breaks
/// ties, never a hash or an address, so the order is the same on every run.
///
/// A binary heap of `(time, sequence, item)`; the engine's items are
/// 16-byte `Copy` actions (packets wait elsewhere), so an entry is 32 bytes.
/// Events scheduled all at once before they are due ([`EventQueue::push_all`]:
/// a run's million connection opens) wait apart, in a list sorted once,
/// so that the heap holds only what the run schedules as it goes and each
/// step costs the logarithm of that; the order is the same.
///
/// ```
/// use tcpsim_net::EventQueue;
/// use tcpsim_tcp::Instant;
///
/// let mut q = EventQueue::new();
/// q.push(Instant::from_millis(2), "later");
/// q.push(Instant::from_millis(1), "first");
/// q.push(Instant::from_millis(2), "last");
/// assert_eq!(q.pop(), Some((Instant::from_millis(1), "first")));
/// assert_eq!(q.pop(), Some((Instant::from_millis(2), "later")));
/// assert_eq!(q.pop(), Some((Instant::from_millis(2), "last")));
/// assert_eq!(q.pop(), None);
/// ```
#[derive(Clone, Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Scheduled<T>>,
    /// What [`EventQueue::push_all`] scheduled, the earliest last.
    planned: Vec<Scheduled<T>>,
    seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Scheduled<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Scheduled<T> {}
impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Scheduled<T> {
    /// Reversed, so that `BinaryHeap` pops the earliest `(at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            planned: Vec::new(),
            seq: 0,
        }
    }

    /// Schedules `item` at `at`, after everything already scheduled at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            item,
        });
    }

    /// Schedules every `(at, item)` of `items` as [`EventQueue::push`]
    /// would, one after the other: the same order, for events a run
    /// schedules together at its start, long before most of them are due.
    ///
    /// ```
    /// use tcpsim_net::EventQueue;
    /// use tcpsim_tcp::Instant;
    ///
    /// let mut q = EventQueue::new();
    /// q.push(Instant::from_millis(2), "first at 2");
    /// q.push_all([(Instant::from_millis(2), "second at 2"), (Instant::from_millis(1), "at 1")]);
    /// q.push(Instant::from_millis(2), "third at 2");
    /// let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|e| e.1).collect();
    /// assert_eq!(order, ["at 1", "first at 2", "second at 2", "third at 2"]);
    /// ```
    pub fn push_all(&mut self, items: impl IntoIterator<Item = (Instant, T)>) {
        for (at, item) in items {
            self.seq += 1;
            self.planned.push(Scheduled {
                at,
                seq: self.seq,
                item,
            });
        }
        // `Scheduled`'s order is the reverse of time: ascending is latest
        // first. Keys are unique, so the unstable sort is deterministic.
        self.planned.sort_unstable();
    }

    /// Whether the earliest event is a planned one.
    fn planned_first(&self) -> bool {
        match (self.planned.last(), self.heap.peek()) {
            (Some(p), Some(h)) => (p.at, p.seq) < (h.at, h.seq),
            (p, _) => p.is_some(),
        }
    }

    /// The earliest event (the first scheduled of the earliest instant).
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        let s = if self.planned_first() {
            self.planned.pop()
        } else {
            self.heap.pop()
        };
        s.map(|s| (s.at, s.item))
    }

    /// What [`EventQueue::pop`] would return, without removing it.
    pub fn peek(&self) -> Option<(Instant, &T)> {
        let s = if self.planned_first() {
            self.planned.last()
        } else {
            self.heap.peek()
        };
        s.map(|s| (s.at, &s.item))
    }

    /// Room for `n` more events.
    pub fn reserve(&mut self, n: usize) {
        self.heap.reserve(n);
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len() + self.planned.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.planned.is_empty()
    }

    /// Forgets every event (and starts the sequence over), keeping the memory.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.planned.clear();
        self.seq = 0;
    }
}
