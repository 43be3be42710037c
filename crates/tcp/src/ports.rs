//! Which ephemeral ports are in use towards each remote address, so that
//! an active open finds its port in a bounded number of steps however full
//! the range is (and fails at once when it is full).
//!
//! The choice is the endpoint's rule unchanged: the first port, going up
//! cyclically from the endpoint's next port, that no connection to that
//! remote address holds. Only remote addresses that an ephemeral open has
//! asked for are tracked (a server's accepted connections, one remote each,
//! cost nothing); a remote's set is filled from the connection table the
//! first time, then kept up to date as connections come and go.

use std::collections::HashMap;
use std::net::SocketAddrV4;

use crate::hash::FixedState;

/// The ports of one range in use towards one remote address: one bit per
/// port (2 KiB for the default range of 16 384), and how many are set.
#[derive(Clone, Debug)]
struct PortSet {
    used: Box<[u64]>,
    count: u32,
}

/// The in-use sets of every tracked remote address.
#[derive(Clone, Debug)]
pub(crate) struct EphemeralPorts {
    lo: u16,
    hi: u16,
    by_remote: HashMap<u64, PortSet, FixedState>,
}

fn remote_key(remote: SocketAddrV4) -> u64 {
    (u64::from(u32::from(*remote.ip())) << 16) | u64::from(remote.port())
}

impl EphemeralPorts {
    /// How many ports from the next one an open tries by lookup before it
    /// makes the remote's set.
    pub(crate) const QUICK: u32 = 64;

    /// Whether `remote` has a set.
    pub(crate) fn tracks(&self, remote: SocketAddrV4) -> bool {
        self.by_remote.contains_key(&remote_key(remote))
    }

    /// No remote tracked, for the range `lo..=hi`.
    pub(crate) fn new(lo: u16, hi: u16) -> EphemeralPorts {
        EphemeralPorts {
            lo,
            hi,
            by_remote: HashMap::default(),
        }
    }

    /// Forgets every set (a new range, or the endpoint starting over).
    pub(crate) fn reset(&mut self, lo: u16, hi: u16) {
        self.lo = lo;
        self.hi = hi;
        self.by_remote.clear();
    }

    fn span(&self) -> u32 {
        u32::from(self.hi - self.lo) + 1
    }

    /// A connection from local `port` to `remote` now exists (`used`) or
    /// is gone.
    pub(crate) fn note(&mut self, port: u16, remote: SocketAddrV4, used: bool) {
        if port < self.lo || port > self.hi {
            return;
        }
        let i = usize::from(port - self.lo);
        if let Some(set) = self.by_remote.get_mut(&remote_key(remote)) {
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            let was = set.used[w] & bit != 0;
            if used && !was {
                set.used[w] |= bit;
                set.count += 1;
            } else if !used && was {
                set.used[w] &= !bit;
                set.count -= 1;
            }
        }
    }

    /// The first port from `from` upwards, cyclically, that no connection
    /// to `remote` holds; `None` when every one does. `in_use` answers for
    /// a port while the remote's set is being filled the first time.
    pub(crate) fn free_from(
        &mut self,
        from: u16,
        remote: SocketAddrV4,
        in_use: impl Fn(u16) -> bool,
    ) -> Option<u16> {
        let (lo, hi, span) = (self.lo, self.hi, self.span());
        let set = self.by_remote.entry(remote_key(remote)).or_insert_with(|| {
            let words = span.div_ceil(64) as usize;
            let mut used = vec![0u64; words].into_boxed_slice();
            // The bits past the range's end are never free.
            for i in span..(words as u32 * 64) {
                used[(i / 64) as usize] |= 1 << (i % 64);
            }
            let mut count = 0;
            for port in lo..=hi {
                if in_use(port) {
                    let i = usize::from(port - lo);
                    used[i / 64] |= 1 << (i % 64);
                    count += 1;
                }
            }
            PortSet { used, count }
        });
        if set.count >= span {
            return None;
        }
        let start = u32::from(from.clamp(lo, hi) - lo);
        let words = set.used.len();
        let (w0, b0) = ((start / 64) as usize, start % 64);
        // The start word from the start bit, the other words in turn, and
        // the start word's bits below the start bit last.
        let first = !set.used[w0] & (u64::MAX << b0);
        let found = if first != 0 {
            Some(w0 * 64 + first.trailing_zeros() as usize)
        } else {
            (1..=words).find_map(|k| {
                let w = (w0 + k) % words;
                let free = if k == words {
                    !set.used[w] & !(u64::MAX << b0)
                } else {
                    !set.used[w]
                };
                (free != 0).then(|| w * 64 + free.trailing_zeros() as usize)
            })
        };
        found.map(|i| lo + i as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn remote() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80)
    }

    /// The bit sets give exactly the linear scan's answer: the first free
    /// port from `from` upwards, wrapping at the range's end.
    #[test]
    fn same_choice_as_a_cyclic_scan() {
        let (lo, hi) = (1000u16, 1200u16);
        let mut used = vec![false; 201];
        // A pattern with runs longer than a word and gaps at both ends.
        for (i, u) in used.iter_mut().enumerate() {
            *u = (i % 7 != 3 && i < 190) || (70..140).contains(&i);
        }
        let mut p = EphemeralPorts::new(lo, hi);
        let scan = |used: &[bool], from: u16| {
            (0..201u16)
                .map(|k| lo + (from - lo + k) % 201)
                .find(|&port| !used[usize::from(port - lo)])
        };
        for from in lo..=hi {
            let got = p.free_from(from, remote(), |port| used[usize::from(port - lo)]);
            assert_eq!(got, scan(&used, from), "from {from}");
        }
        // Kept up to date: take every free port, then free one.
        for (i, u) in used.iter_mut().enumerate() {
            if !*u {
                *u = true;
                p.note(lo + i as u16, remote(), true);
            }
        }
        assert_eq!(p.free_from(lo, remote(), |_| unreachable!()), None);
        p.note(1150, remote(), false);
        assert_eq!(p.free_from(1190, remote(), |_| unreachable!()), Some(1150));
        // Ports outside the range and other remotes are not counted.
        p.note(80, remote(), true);
        let other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 80);
        assert_eq!(p.free_from(lo, other, |_| false), Some(lo));
    }
}
