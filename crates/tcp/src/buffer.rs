//! Send and receive buffers: the data octets around the sequence space.
//!
//! Offsets here are stream offsets (`u64`, octets since the first data
//! octet), so they never wrap; the connection maps them to sequence numbers.

use std::collections::VecDeque;

/// Octets the application wrote that are not yet acknowledged.
///
/// The front of the buffer is the oldest unacknowledged octet (SND.UNA for
/// data); octets past what has been sent wait for the window.
///
/// The octets are held in *buffers*, as Linux holds them in `sk_buff`s:
/// each buffer is a run of consecutive stream offsets, and what the buffer
/// costs against the send buffer's size is its payload plus a fixed
/// overhead (see [`crate::Config::send_buffer_overhead`] for the model).
/// Only where the buffers end is kept.
#[derive(Clone, Debug, Default)]
pub struct SendBuffer {
    data: VecDeque<u8>,
    /// Stream offset of `data[0]`.
    head: u64,
    /// Stream offsets at which the buffers end, oldest first; the last is
    /// [`SendBuffer::end`]. Empty when nothing is held.
    bounds: VecDeque<u64>,
}

/// The most storage, in bytes, a buffer hands on to the next connection
/// ([`adopt_storage`]): a sweep's small runs reuse theirs, and a bulk
/// transfer's megabytes are not kept in a spare connection.
const ADOPTED_STORAGE_MAX: usize = 16 * 1024;

/// Gives `new` the storage of `old`, emptied, when `new` has none and
/// holds nothing: capacity only, so nothing a connection does changes.
pub(crate) fn adopt_storage<T>(new: &mut VecDeque<T>, old: &mut VecDeque<T>) {
    if new.capacity() == 0 && old.capacity() * std::mem::size_of::<T>() <= ADOPTED_STORAGE_MAX {
        std::mem::swap(new, old);
        new.clear();
    }
}

impl SendBuffer {
    /// Takes `old`'s storage where this buffer has none
    /// ([`adopt_storage`]).
    pub(crate) fn adopt_storage(&mut self, old: &mut SendBuffer) {
        adopt_storage(&mut self.data, &mut old.data);
        adopt_storage(&mut self.bounds, &mut old.bounds);
    }

    /// Appends application data as buffers of at most `goal` octets: to
    /// the last buffer while none of it has been sent (`sent` is the
    /// stream offset up to which data has been sent) and it holds less
    /// than `goal`, then in new buffers.
    pub fn write(&mut self, bytes: &[u8], sent: u64, goal: usize) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = match self.append_to_tail(rest, sent, goal) {
                0 => self.append_new(rest, goal),
                n => n,
            };
            rest = &rest[n..];
        }
    }

    /// Appends to the last buffer, if nothing of it has been sent yet
    /// (Linux `tcp_skb_can_collapse_to` on the tail of the write queue)
    /// and it holds less than `goal` octets. Returns how many octets it took.
    pub fn append_to_tail(&mut self, bytes: &[u8], sent: u64, goal: usize) -> usize {
        let Some(&end) = self.bounds.back() else {
            return 0;
        };
        let start = self.tail_start();
        if start < sent {
            return 0;
        }
        let room = (goal as u64).saturating_sub(end - start) as usize;
        let n = room.min(bytes.len());
        self.data.extend(&bytes[..n]);
        *self.bounds.back_mut().expect("checked above") += n as u64;
        n
    }

    /// Starts a new buffer with up to `goal` octets of `bytes` (at least one
    /// when `bytes` has any); returns how many.
    pub fn append_new(&mut self, bytes: &[u8], goal: usize) -> usize {
        let n = goal.max(1).min(bytes.len());
        if n == 0 {
            return 0;
        }
        self.data.extend(&bytes[..n]);
        self.bounds.push_back(self.end());
        n
    }

    /// Whether the last buffer holds `goal` octets or more.
    pub fn tail_full(&self, goal: usize) -> bool {
        self.bounds
            .back()
            .is_some_and(|&end| end - self.tail_start() >= goal as u64)
    }

    /// Stream offset of the last buffer's first octet.
    pub fn tail_start(&self) -> u64 {
        match self.bounds.len() {
            0 => self.end(),
            1 => self.head,
            n => self.bounds[n - 2],
        }
    }

    /// Splits the buffer that holds stream offset `at` into two, the second
    /// starting at `at` (Linux `tso_fragment` / `tcp_fragment`). Nothing
    /// happens when `at` is already where a buffer starts, or outside.
    pub fn split_at(&mut self, at: u64) {
        if at <= self.head || at >= self.end() {
            return;
        }
        if let Err(i) = self.bounds.binary_search(&at) {
            self.bounds.insert(i, at);
        }
    }

    /// How many buffers hold the octets.
    pub fn buffers(&self) -> usize {
        self.bounds.len()
    }

    /// What the octets held cost against the send buffer's size: their
    /// number plus `overhead` per buffer (Linux `sk_wmem_queued`, the sum
    /// of the `truesize` of the buffers).
    pub fn charge(&self, overhead: u32) -> u64 {
        self.data.len() as u64 + u64::from(overhead) * self.bounds.len() as u64
    }

    /// Octets held (unacknowledged, sent or not).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Holds nothing: no octet and no buffer bound (everything written
    /// has been acknowledged).
    pub(crate) fn is_idle(&self) -> bool {
        self.data.is_empty() && self.bounds.is_empty()
    }

    /// An empty buffer whose next octet is stream offset `head`: what an
    /// idle buffer that has seen `head` octets acknowledged is, without
    /// its memory ([`SendBuffer::is_idle`]).
    pub(crate) fn idle_at(head: u64) -> SendBuffer {
        SendBuffer {
            head,
            ..SendBuffer::default()
        }
    }

    /// Stream offset of the first octet held.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Stream offset just past the last octet written.
    pub fn end(&self) -> u64 {
        self.head + self.data.len() as u64
    }

    /// Drops the first `n` octets (they were acknowledged), and every
    /// buffer they empty; a buffer they cover in part keeps the rest (and
    /// its overhead: Linux `tcp_trim_head` takes off only the payload).
    pub fn acknowledge(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
        self.head += n as u64;
        while self.bounds.front().is_some_and(|&end| end <= self.head) {
            self.bounds.pop_front();
        }
    }

    /// Copies up to `max` octets starting at stream offset `from` into `out`.
    pub fn copy_out(&self, from: u64, max: usize, out: &mut Vec<u8>) {
        let start = from.saturating_sub(self.head) as usize;
        if start >= self.data.len() {
            return;
        }
        let end = (start + max).min(self.data.len());
        let (a, b) = self.data.as_slices();
        if start < a.len() {
            out.extend_from_slice(&a[start..end.min(a.len())]);
        }
        if end > a.len() {
            out.extend_from_slice(&b[start.saturating_sub(a.len())..end - a.len()]);
        }
    }
}

/// Received octets: the in-order part the application can read, and
/// out-of-order pieces waiting for the gap before them to fill.
///
/// Each piece of data may carry the memory it costs (a Linux `skb`'s
/// `truesize`, see [`RecvBuffer::insert_charged`]): the buffer keeps the
/// sum ([`RecvBuffer::memory`]) as the kernel keeps `sk_rmem_alloc`, and
/// frees a piece's memory only when all of it has been read, or when it
/// turns out to repeat data held already.
#[derive(Clone, Debug, Default)]
pub struct RecvBuffer {
    readable: VecDeque<u8>,
    /// Stream offset of the next octet expected in order (RCV.NXT for data).
    next: u64,
    /// Out-of-order data, made when the first piece arrives out of order
    /// (one pointer while none has).
    pending: Option<Box<OutOfOrder>>,
    /// The in-order buffers holding unread data, oldest first.
    queue: VecDeque<Held>,
    /// Memory of every piece held, in order or not.
    memory: u64,
}

/// Data that arrived out of order, and the buffers of pieces gone.
#[derive(Clone, Debug, Default)]
struct OutOfOrder {
    /// The pieces by stream offset, ascending, no two at one offset. A
    /// piece may overlap others.
    pieces: VecDeque<(u64, Piece)>,
    /// Buffers of pieces taken in order, covered or pruned, for the next
    /// pieces: a connection that recovers again and again allocates for
    /// no more pieces than it ever held at once.
    spare: Vec<Vec<u8>>,
    /// The longest piece seen: a new buffer is made this large, so that a
    /// spare one need not grow for the next (full-sized) piece.
    longest: usize,
}

impl OutOfOrder {
    /// Where a piece at `at` goes: the index of the first piece at or
    /// after it.
    fn index_of(&self, at: u64) -> usize {
        self.pieces.partition_point(|&(s, _)| s < at)
    }

    /// A buffer holding `bytes`, a spare one if there is one.
    fn buffer(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.longest = self.longest.max(bytes.len());
        let mut data = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.longest));
        data.extend_from_slice(bytes);
        data
    }

    /// Keeps the buffer of a piece gone.
    fn give(&mut self, mut data: Vec<u8>) {
        data.clear();
        self.spare.push(data);
    }
}

/// An out-of-order piece and the memory it costs.
#[derive(Clone, Debug, Default)]
struct Piece {
    data: Vec<u8>,
    cost: SegmentCost,
}

/// What a received segment costs in memory (zero when not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentCost {
    /// The bytes charged while any of it is held (Linux `skb->truesize`).
    pub truesize: u32,
    /// Room left in its buffer, into which a later segment that follows it
    /// directly is copied at no further cost (Linux `skb_try_coalesce`
    /// with `skb_tailroom`).
    pub tailroom: u32,
}

/// An in-order buffer: its data ends at stream offset `end`.
#[derive(Clone, Copy, Debug)]
struct Held {
    end: u64,
    cost: SegmentCost,
}

impl RecvBuffer {
    /// Takes `old`'s storage where this buffer has none
    /// ([`adopt_storage`]).
    pub(crate) fn adopt_storage(&mut self, old: &mut RecvBuffer) {
        adopt_storage(&mut self.readable, &mut old.readable);
        adopt_storage(&mut self.queue, &mut old.queue);
    }

    /// Holds nothing: nothing to read, nothing out of order, no memory
    /// charged.
    pub(crate) fn is_idle(&self) -> bool {
        self.readable.is_empty() && !self.has_gap() && self.queue.is_empty() && self.memory == 0
    }

    /// An empty buffer that expects stream offset `next` in order: what an
    /// idle buffer that has taken `next` octets is, without its memory
    /// ([`RecvBuffer::is_idle`]).
    pub(crate) fn idle_at(next: u64) -> RecvBuffer {
        RecvBuffer {
            next,
            ..RecvBuffer::default()
        }
    }

    /// Stream offset of the next in-order octet.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Octets ready for the application.
    pub fn readable(&self) -> usize {
        self.readable.len()
    }

    /// Whether out-of-order data is waiting.
    pub fn has_gap(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| !p.pieces.is_empty())
    }

    /// The memory charged for everything held (Linux `sk_rmem_alloc`).
    pub fn memory(&self) -> u64 {
        self.memory
    }

    /// Stores octets that start at stream offset `at`. Returns how far the
    /// in-order point advanced.
    pub fn insert(&mut self, at: u64, bytes: &[u8]) -> u64 {
        self.insert_charged(at, bytes, SegmentCost::default())
    }

    /// [`RecvBuffer::insert`] for a segment that costs `cost` in memory.
    /// In-order data is charged whole (as the kernel queues the whole
    /// segment, even the part it had already) unless it fits the room left
    /// in the buffer it directly follows; out-of-order data is charged
    /// unless a piece held already covers it, and pieces it covers are
    /// freed; a piece that becomes in order is charged as it was, and freed
    /// if it adds nothing.
    pub fn insert_charged(&mut self, at: u64, bytes: &[u8], cost: SegmentCost) -> u64 {
        let end = at + bytes.len() as u64;
        if end <= self.next || bytes.is_empty() {
            return 0;
        }
        if at > self.next {
            self.insert_pending(at, bytes, cost);
            return 0;
        }
        let before = self.next;
        let skip = (self.next - at) as usize;
        self.readable.extend(&bytes[skip..]);
        self.hold(at, end, cost, bytes.len());
        self.next = end;
        // Pull in every pending piece the in-order point now reaches.
        let Some(mut pending) = self.pending.take() else {
            return self.next - before;
        };
        while let Some(&(piece_at, _)) = pending.pieces.front() {
            if piece_at > self.next {
                break;
            }
            let Some((_, piece)) = pending.pieces.pop_front() else {
                break;
            };
            let piece_end = piece_at + piece.data.len() as u64;
            // Its charge as a pending piece ends; `hold` charges it anew
            // as in-order data (or not at all when it joins the last
            // buffer's room).
            self.memory -= u64::from(piece.cost.truesize);
            if piece_end > self.next {
                let skip = (self.next - piece_at) as usize;
                self.readable.extend(&piece.data[skip..]);
                self.hold(piece_at, piece_end, piece.cost, piece.data.len());
                self.next = piece_end;
            }
            pending.give(piece.data);
        }
        self.pending = Some(pending);
        self.next - before
    }

    /// Queues in-order data `[at, end)` of a segment of `len` octets: into
    /// the last buffer's room if it follows it directly, else as a buffer
    /// of its own.
    fn hold(&mut self, at: u64, end: u64, cost: SegmentCost, len: usize) {
        if let Some(last) = self.queue.back_mut()
            && last.end == at
            && len as u64 <= u64::from(last.cost.tailroom)
        {
            last.end = end;
            last.cost.tailroom -= len as u32;
            return;
        }
        self.memory += u64::from(cost.truesize);
        self.queue.push_back(Held { end, cost });
    }

    /// Keeps an out-of-order piece unless one held covers it; frees the
    /// pieces it covers.
    fn insert_pending(&mut self, at: u64, bytes: &[u8], cost: SegmentCost) {
        let end = at + bytes.len() as u64;
        let pending = self.pending.get_or_insert_with(Box::default);
        // The piece starting at or before `at` nearest to it.
        let floor = pending.pieces.partition_point(|&(s, _)| s <= at);
        if let Some((s, p)) = floor.checked_sub(1).map(|i| &pending.pieces[i])
            && s + p.data.len() as u64 >= end
        {
            return;
        }
        // The pieces inside `[at, end)` go: it covers them. The new piece
        // goes where they began (those before `at` stay as they are).
        let first = pending.index_of(at);
        let mut i = first;
        while let Some((s, p)) = pending.pieces.get(i)
            && *s < end
        {
            if s + p.data.len() as u64 > end {
                i += 1;
                continue;
            }
            if let Some((_, gone)) = pending.pieces.remove(i) {
                self.memory -= u64::from(gone.cost.truesize);
                pending.give(gone.data);
            }
        }
        self.memory += u64::from(cost.truesize);
        let data = pending.buffer(bytes);
        pending.pieces.insert(first, (at, Piece { data, cost }));
    }

    /// Drops out-of-order pieces that start at or after stream offset
    /// `from`, the highest first, while `enough` (given the memory left)
    /// says more must go (Linux `tcp_prune_ofo_queue`). Returns whether any
    /// was dropped.
    pub fn prune_pending(&mut self, from: u64, mut enough: impl FnMut(u64) -> bool) -> bool {
        let mut pruned = false;
        let Some(pending) = self.pending.as_deref_mut() else {
            return false;
        };
        while let Some(&(at, _)) = pending.pieces.back() {
            if at < from || enough(self.memory) {
                break;
            }
            let Some((_, p)) = pending.pieces.pop_back() else {
                break;
            };
            self.memory -= u64::from(p.cost.truesize);
            pending.give(p.data);
            pruned = true;
        }
        pruned
    }

    /// The out-of-order data as disjoint stream ranges `[start, end)`, in
    /// order (overlapping and adjacent pieces merged).
    pub fn pending_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut pieces = self
            .pending
            .iter()
            .flat_map(|p| p.pieces.iter())
            .map(|(at, p)| (*at, *at + p.data.len() as u64))
            .peekable();
        std::iter::from_fn(move || {
            let (start, mut end) = pieces.next()?;
            while let Some(&(s, e)) = pieces.peek() {
                if s > end {
                    break;
                }
                end = end.max(e);
                pieces.next();
            }
            Some((start, end))
        })
    }

    /// The application took `n` octets: the buffers read to their end are
    /// freed.
    fn consumed(&mut self) {
        let read_to = self.next - self.readable.len() as u64;
        while let Some(h) = self.queue.front() {
            if h.end > read_to {
                break;
            }
            self.memory -= u64::from(h.cost.truesize);
            self.queue.pop_front();
        }
    }

    /// Moves up to `buf.len()` readable octets into `buf`; returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        // Slice copies, not a byte-by-byte iterator: this is per segment.
        let (a, b) = self.readable.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.readable.drain(..n);
        self.consumed();
        n
    }

    /// Moves every readable octet to the end of `out`; returns how many.
    pub fn read_to_end(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.readable.len();
        let (a, b) = self.readable.as_slices();
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        self.readable.clear();
        self.consumed();
        n
    }

    /// Drops every readable octet; returns how many.
    pub fn discard(&mut self) -> usize {
        let n = self.readable.len();
        self.readable.clear();
        self.consumed();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_ranges_merge_overlapping_and_adjacent_pieces() {
        let mut b = RecvBuffer::default();
        b.insert(10, &[0; 5]); // 10..15
        b.insert(12, &[0; 6]); // 12..18, overlaps
        b.insert(18, &[0; 2]); // 18..20, adjacent
        b.insert(30, &[0; 4]); // 30..34
        assert_eq!(b.pending_ranges().collect::<Vec<_>>(), [(10, 20), (30, 34)]);
        b.insert(0, &[0; 10]); // fills the gap: 0..20 in order
        assert_eq!(b.pending_ranges().collect::<Vec<_>>(), [(30, 34)]);
    }

    #[test]
    fn send_buffer_copies_across_the_ring_seam() {
        let mut b = SendBuffer::default();
        b.write(&[0; 6], 0, 1000);
        b.acknowledge(4);
        b.write(b"abcdefgh", 0, 1000);
        let mut out = Vec::new();
        b.copy_out(5, 5, &mut out); // offsets 4,5 are the zeros; 6.. is "abcdefgh"
        assert_eq!(out, [0, b'a', b'b', b'c', b'd']);
        assert_eq!(b.head(), 4);
        assert_eq!(b.end(), 14);
    }

    /// Buffers as Linux's `tcp_sendmsg_locked` fills them: the tail takes
    /// more only while unsent and below the size goal; a transmission that
    /// ends inside a buffer splits it; an ACK frees whole buffers and trims
    /// the one it ends in.
    #[test]
    fn send_buffers_fill_split_and_free_as_skbs_do() {
        let mut b = SendBuffer::default();
        // 2500 octets at a goal of 1000: three buffers, 1000 + 1000 + 500.
        b.write(&[0; 2500], 0, 1000);
        assert_eq!(b.buffers(), 3);
        assert_eq!(b.charge(100), 2500 + 3 * 100);
        // The tail (2000..2500) is unsent: 300 more go into it.
        b.write(&[0; 300], 0, 1000);
        assert_eq!((b.buffers(), b.tail_start()), (3, 2000));
        // Once sent from 2600 on, the tail takes no more: a new buffer.
        b.write(&[0; 10], 2600, 1000);
        assert_eq!((b.buffers(), b.tail_start()), (4, 2800));
        // A transmission up to 1500 splits the second buffer.
        b.split_at(1500);
        b.split_at(1500);
        b.split_at(2000); // already a boundary
        assert_eq!(b.buffers(), 5);
        // An ACK of 1700 frees 0..1000 and 1000..1500, trims 1500..2000.
        b.acknowledge(1700);
        assert_eq!(b.buffers(), 3);
        assert_eq!(b.charge(100), (2810 - 1700) + 3 * 100);
        b.acknowledge(2000);
        assert_eq!((b.buffers(), b.charge(100)), (0, 0));
    }

    #[test]
    fn reassembles_out_of_order_pieces() {
        let mut r = RecvBuffer::default();
        assert_eq!(r.insert(3, b"def"), 0);
        assert_eq!(r.insert(8, b"ij"), 0);
        assert!(r.has_gap());
        assert_eq!(r.insert(0, b"abc"), 6); // fills 0..3, pulls 3..6
        assert_eq!(r.insert(5, b"fgh"), 2 + 2); // overlaps one octet, adds 6..8 (2), pulls 8..10 (2)
        assert!(!r.has_gap());
        let mut out = Vec::new();
        r.read_to_end(&mut out);
        assert_eq!(out, b"abcdefghij");
    }

    /// Memory follows the pieces: an in-order segment costs its truesize
    /// until it is read to its end; one that fits the room of the buffer it
    /// follows costs nothing more; an out-of-order piece covered by another
    /// is not kept, and one that covers others frees them.
    #[test]
    fn memory_is_charged_per_piece_and_freed_when_read() {
        let c = |truesize, tailroom| SegmentCost { truesize, tailroom };
        let mut r = RecvBuffer::default();
        r.insert_charged(0, &[1; 100], c(896, 100));
        assert_eq!(r.memory(), 896);
        r.insert_charged(100, &[2; 60], c(896, 0)); // into the room left
        assert_eq!(r.memory(), 896);
        r.insert_charged(300, &[3; 10], c(640, 0));
        r.insert_charged(300, &[3; 5], c(640, 0)); // covered: not kept
        assert_eq!(r.memory(), 896 + 640);
        r.insert_charged(290, &[4; 30], c(1000, 0)); // covers 300..310
        assert_eq!(r.memory(), 896 + 1000);
        let mut buf = [0; 150];
        r.read(&mut buf); // 150 of 160 read: the buffer stays
        assert_eq!(r.memory(), 896 + 1000);
        r.read(&mut buf);
        assert_eq!(r.memory(), 1000);
        assert!(r.prune_pending(0, |_| false));
        assert_eq!((r.memory(), r.has_gap()), (0, false));
    }

    #[test]
    fn duplicate_data_is_ignored() {
        let mut r = RecvBuffer::default();
        r.insert(0, b"abc");
        assert_eq!(r.insert(0, b"abc"), 0);
        assert_eq!(r.insert(1, b"b"), 0);
        assert_eq!(r.readable(), 3);
    }
}
