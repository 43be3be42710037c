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

    /// The earliest event (the first scheduled of the earliest instant).
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap.pop().map(|s| (s.at, s.item))
    }

    /// What [`EventQueue::pop`] would return, without removing it.
    pub fn peek(&self) -> Option<(Instant, &T)> {
        self.heap.peek().map(|s| (s.at, &s.item))
    }

    /// Room for `n` more events.
    pub fn reserve(&mut self, n: usize) {
        self.heap.reserve(n);
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Forgets every event (and starts the sequence over), keeping the memory.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.seq = 0;
    }
}
