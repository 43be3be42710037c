//! Send and receive buffers: the data octets around the sequence space.
//!
//! Offsets here are stream offsets (`u64`, octets since the first data
//! octet), so they never wrap; the connection maps them to sequence numbers.

use std::collections::{BTreeMap, VecDeque};

/// Octets the application wrote that are not yet acknowledged.
///
/// The front of the buffer is the oldest unacknowledged octet (SND.UNA for
/// data); octets past what has been sent wait for the window.
#[derive(Clone, Debug, Default)]
pub struct SendBuffer {
    data: VecDeque<u8>,
    /// Stream offset of `data[0]`.
    head: u64,
}

impl SendBuffer {
    /// Appends application data.
    pub fn write(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
    }

    /// Octets held (unacknowledged, sent or not).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Stream offset of the first octet held.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Stream offset just past the last octet written.
    pub fn end(&self) -> u64 {
        self.head + self.data.len() as u64
    }

    /// Drops the first `n` octets (they were acknowledged).
    pub fn acknowledge(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
        self.head += n as u64;
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
#[derive(Clone, Debug, Default)]
pub struct RecvBuffer {
    readable: VecDeque<u8>,
    /// Stream offset of the next octet expected in order (RCV.NXT for data).
    next: u64,
    /// Out-of-order pieces by stream offset. A piece may overlap others.
    pending: BTreeMap<u64, Vec<u8>>,
}

impl RecvBuffer {
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
        !self.pending.is_empty()
    }

    /// Stores octets that start at stream offset `at`. Returns how far the
    /// in-order point advanced.
    pub fn insert(&mut self, at: u64, bytes: &[u8]) -> u64 {
        let end = at + bytes.len() as u64;
        if end <= self.next || bytes.is_empty() {
            return 0;
        }
        if at > self.next {
            // Keep the longest piece seen at an offset.
            let slot = self.pending.entry(at).or_default();
            if slot.len() < bytes.len() {
                slot.clear();
                slot.extend_from_slice(bytes);
            }
            return 0;
        }
        let before = self.next;
        let skip = (self.next - at) as usize;
        self.readable.extend(&bytes[skip..]);
        self.next = end;
        // Pull in every pending piece the in-order point now reaches.
        while let Some(entry) = self.pending.first_entry() {
            let piece_at = *entry.key();
            if piece_at > self.next {
                break;
            }
            let piece = entry.remove();
            let piece_end = piece_at + piece.len() as u64;
            if piece_end > self.next {
                let skip = (self.next - piece_at) as usize;
                self.readable.extend(&piece[skip..]);
                self.next = piece_end;
            }
        }
        self.next - before
    }

    /// The out-of-order data as disjoint stream ranges `[start, end)`, in
    /// order (overlapping and adjacent pieces merged).
    pub fn pending_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut pieces = self
            .pending
            .iter()
            .map(|(&at, p)| (at, at + p.len() as u64))
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

    /// Moves up to `buf.len()` readable octets into `buf`; returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        // Slice copies, not a byte-by-byte iterator: this is per segment.
        let (a, b) = self.readable.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.readable.drain(..n);
        n
    }

    /// Moves every readable octet to the end of `out`; returns how many.
    pub fn read_to_end(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.readable.len();
        let (a, b) = self.readable.as_slices();
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        self.readable.clear();
        n
    }

    /// Drops every readable octet; returns how many.
    pub fn discard(&mut self) -> usize {
        let n = self.readable.len();
        self.readable.clear();
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
        b.write(&[0; 6]);
        b.acknowledge(4);
        b.write(b"abcdefgh");
        let mut out = Vec::new();
        b.copy_out(5, 5, &mut out); // offsets 4,5 are the zeros; 6.. is "abcdefgh"
        assert_eq!(out, [0, b'a', b'b', b'c', b'd']);
        assert_eq!(b.head(), 4);
        assert_eq!(b.end(), 14);
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

    #[test]
    fn duplicate_data_is_ignored() {
        let mut r = RecvBuffer::default();
        r.insert(0, b"abc");
        assert_eq!(r.insert(0, b"abc"), 0);
        assert_eq!(r.insert(1, b"b"), 0);
        assert_eq!(r.readable(), 3);
    }
}
