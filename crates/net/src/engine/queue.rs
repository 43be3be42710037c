//! The event queue: events ordered by `(time, insertion sequence)`, so
//! events at one instant run in the order they were scheduled.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

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
/// step costs the logarithm of that; the order is the same. And events
/// pushed into a lane ([`EventQueue::push_in_lane`]: the packets of one
/// link direction) wait in that lane's FIFO while they come due in the
/// order they were pushed, the heap holding only each lane's first: a
/// million packets in flight over a thousand links cost a step the
/// logarithm of a thousand, and the order is again the same.
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
    /// By lane: events in the order they come due, which is the order they
    /// were pushed.
    lanes: Vec<VecDeque<Scheduled<T>>>,
    /// The first event of every lane that holds any, and of the planned
    /// events ([`PLANNED`]): `(at, seq, lane)`.
    heads: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    /// Events in lanes.
    in_lanes: usize,
    /// The heap's size from which a lane's event waits in its lane
    /// ([`LANES_FROM`]).
    lanes_from: usize,
    seq: u64,
}

/// The lane number of the planned events in [`EventQueue::heads`]: they
/// too come out in order, from the end of their sorted list.
const PLANNED: u32 = u32::MAX;

/// Below this many events in the heap, an event for an empty lane waits
/// in the heap: a small heap costs less than a lane's bookkeeping (a
/// handshake experiment, 40 instructions more per packet through lanes).
const LANES_FROM: usize = 64;

/// Where the earliest event waits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Heap,
    Lane(u32),
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
            lanes: Vec::new(),
            heads: BinaryHeap::new(),
            in_lanes: 0,
            lanes_from: LANES_FROM,
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
        if !self.planned.is_empty() {
            // The list's first changes: its entry among the heads goes.
            self.heads.retain(|&Reverse((_, _, lane))| lane != PLANNED);
        }
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
        if let Some(p) = self.planned.last() {
            self.heads.push(Reverse((p.at, p.seq, PLANNED)));
        }
    }

    /// Schedules `item` at `at` as [`EventQueue::push`] would, in `lane`:
    /// for events that mostly come due in the order they are pushed (the
    /// packets of one link direction with a fixed delay). Such an event
    /// waits at the back of the lane's FIFO; one due before the lane's
    /// last (jitter, reordering, a fault's delay) waits in the heap, and so
    /// does one for an empty lane while the heap is small. The order of
    /// [`EventQueue::pop`] is the same as with `push`. Lanes are
    /// numbered from 0, densely (the queue keeps a FIFO for every number
    /// up to the highest); lane `u32::MAX` is the heap's.
    ///
    /// ```
    /// use tcpsim_net::EventQueue;
    /// use tcpsim_tcp::Instant;
    ///
    /// let mut q = EventQueue::new();
    /// q.push_in_lane(0, Instant::from_millis(5), "a at 5");
    /// q.push(Instant::from_millis(5), "timer at 5");
    /// q.push_in_lane(0, Instant::from_millis(3), "b at 3, before a");
    /// q.push_in_lane(1, Instant::from_millis(4), "c at 4");
    /// q.push_in_lane(0, Instant::from_millis(6), "d at 6");
    /// let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|e| e.1).collect();
    /// assert_eq!(order, ["b at 3, before a", "c at 4", "a at 5", "timer at 5", "d at 6"]);
    /// ```
    pub fn push_in_lane(&mut self, lane: u32, at: Instant, item: T) {
        if lane == PLANNED {
            return self.push(at, item);
        }
        let l = lane as usize;
        if l >= self.lanes.len() {
            self.lanes.resize_with(l + 1, VecDeque::new);
        }
        let fifo = &mut self.lanes[l];
        match fifo.back() {
            Some(last) if at < last.at => self.push(at, item),
            None if self.heap.len() < self.lanes_from => self.push(at, item),
            back => {
                self.seq += 1;
                if back.is_none() {
                    self.heads.push(Reverse((at, self.seq, lane)));
                }
                fifo.push_back(Scheduled {
                    at,
                    seq: self.seq,
                    item,
                });
                self.in_lanes += 1;
            }
        }
    }

    /// Where the earliest event waits, if any does.
    fn first(&self) -> Option<Source> {
        match (self.heap.peek(), self.heads.peek()) {
            (Some(h), Some(&Reverse((at, seq, lane)))) if (at, seq) < (h.at, h.seq) => {
                Some(Source::Lane(lane))
            }
            (Some(_), _) => Some(Source::Heap),
            (None, Some(&Reverse((_, _, lane)))) => Some(Source::Lane(lane)),
            (None, None) => None,
        }
    }

    /// The earliest event (the first scheduled of the earliest instant).
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        let s = match self.first()? {
            Source::Heap => self.heap.pop(),
            Source::Lane(PLANNED) => {
                self.heads.pop();
                let s = self.planned.pop();
                if let Some(next) = self.planned.last() {
                    self.heads.push(Reverse((next.at, next.seq, PLANNED)));
                }
                s
            }
            Source::Lane(lane) => {
                self.heads.pop();
                let fifo = &mut self.lanes[lane as usize];
                let s = fifo.pop_front();
                if let Some(next) = fifo.front() {
                    self.heads.push(Reverse((next.at, next.seq, lane)));
                }
                self.in_lanes -= 1;
                s
            }
        };
        s.map(|s| (s.at, s.item))
    }

    /// What [`EventQueue::pop`] would return, without removing it.
    pub fn peek(&self) -> Option<(Instant, &T)> {
        let s = match self.first()? {
            Source::Heap => self.heap.peek(),
            Source::Lane(PLANNED) => self.planned.last(),
            Source::Lane(lane) => self.lanes[lane as usize].front(),
        };
        s.map(|s| (s.at, &s.item))
    }

    /// Room for `n` more events.
    pub fn reserve(&mut self, n: usize) {
        self.heap.reserve(n);
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len() + self.planned.len() + self.in_lanes
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every event (and starts the sequence over), keeping the memory.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.planned.clear();
        for fifo in &mut self.lanes {
            fifo.clear();
        }
        self.heads.clear();
        self.in_lanes = 0;
        self.seq = 0;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::EventQueue;
    use tcpsim_tcp::Instant;

    /// One call on a queue: push (`None`) or push in a lane, at a time in
    /// milliseconds; or a pop.
    #[derive(Clone, Debug)]
    enum Op {
        Push(Option<u32>, u64),
        /// Times of a `push_all`.
        PushAll(Vec<u64>),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (proptest::option::of(0u32..4), 0u64..20).prop_map(|(l, t)| Op::Push(l, t)),
            1 => proptest::collection::vec(0u64..20, 0..4).prop_map(Op::PushAll),
            2 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// Lanes change where events wait, never the order they come out
        /// in: the earliest time first, and at one time the order of the
        /// calls — what a list sorted by (time, call number) gives.
        #[test]
        fn lanes_keep_the_order_of_push(
            ops in proptest::collection::vec(op(), 0..200),
            lanes_from in prop_oneof![Just(0usize), 1usize..8],
        ) {
            let mut q = EventQueue::new();
            // Lanes from the first event or from a few in the heap (the
            // default, 64, would send every push of a queue this small to
            // the heap).
            q.lanes_from = lanes_from;
            let mut reference: Vec<(u64, usize)> = Vec::new();
            let mut popped = Vec::new();
            let mut expected = Vec::new();
            let mut now = 0;
            for (n, op) in ops.iter().enumerate() {
                match *op {
                    Op::Push(lane, t) => {
                        // Nothing is scheduled in the past.
                        let at = Instant::from_millis(now + t);
                        match lane {
                            Some(l) => q.push_in_lane(l, at, n * 10),
                            None => q.push(at, n * 10),
                        }
                        reference.push((now + t, n * 10));
                    }
                    Op::PushAll(ref times) => {
                        let items = times.iter().enumerate().map(|(i, &t)| {
                            reference.push((now + t, n * 10 + i));
                            (Instant::from_millis(now + t), n * 10 + i)
                        });
                        q.push_all(items.collect::<Vec<_>>());
                    }
                    Op::Pop => {
                        reference.sort_unstable();
                        if !reference.is_empty() {
                            let (t, n) = reference.remove(0);
                            expected.push((t, n));
                            now = t;
                        }
                        popped.extend(q.pop().map(|(at, n)| (at.as_nanos() / 1_000_000, n)));
                    }
                }
                prop_assert_eq!(q.len(), reference.len());
            }
            reference.sort_unstable();
            expected.extend(reference);
            popped.extend(std::iter::from_fn(|| q.pop()).map(|(at, n)| (at.as_nanos() / 1_000_000, n)));
            prop_assert_eq!(popped, expected);
            prop_assert!(q.is_empty());
        }
    }
}
