//! TCP sequence numbers: 32-bit, wrapping, compared modulo 2^32 (RFC 9293 §3.4).
//!
//! [`SeqNum`] deliberately has no `Ord`: sequence space is circular, so `a < b`
//! means "b is less than 2^31 ahead of a", which is not a total order.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The distance from `earlier` to `self`, as a signed number: positive
    /// when `self` is ahead.
    pub const fn diff(self, earlier: SeqNum) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.diff(other) >= 0 { self } else { other }
    }

    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.diff(other) <= 0 { self } else { other }
    }

    /// `lo <= self < hi` in sequence space.
    pub fn in_window(self, lo: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(lo.0) < len
    }
}

/// Wrap-around comparison (RFC 1982 style): `a < b` when `b - a`, taken
/// modulo 2^32, lies in `1 ..= 2^31 - 1`. Numbers exactly 2^31 apart are
/// unordered.
impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        let d = self.0.wrapping_sub(other.0);
        match d {
            0 => Some(Ordering::Equal),
            0x8000_0000 => None,
            _ if (d as i32) > 0 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

/// The number of sequence numbers from `rhs` up to `self`, modulo 2^32.
impl Sub<SeqNum> for SeqNum {
    type Output = u32;
    fn sub(self, rhs: SeqNum) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordering_across_wrap() {
        let near_end = SeqNum(u32::MAX - 5);
        let wrapped = near_end + 10; // 4
        assert_eq!(wrapped, SeqNum(4));
        assert!(near_end < wrapped);
        assert!(wrapped > near_end);
        assert_eq!(wrapped - near_end, 10);
        assert_eq!(wrapped.diff(near_end), 10);
        assert_eq!(near_end.diff(wrapped), -10);
    }

    #[test]
    fn half_space_apart_is_unordered() {
        let a = SeqNum(0);
        let b = SeqNum(0x8000_0000);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
    }

    proptest! {
        /// For any base and any step below 2^31, base < base + step, even
        /// when the addition wraps past 2^32.
        #[test]
        fn forward_step_is_greater(base: u32, step in 1u32..0x8000_0000) {
            let a = SeqNum(base);
            let b = a + step;
            prop_assert!(a < b);
            prop_assert!(b > a);
            prop_assert_eq!(b - a, step);
            prop_assert_eq!(b.max(a), b);
            prop_assert_eq!(b.min(a), a);
        }

        /// Ordering is antisymmetric: a < b exactly when b > a.
        #[test]
        fn antisymmetric(a: u32, b: u32) {
            let (a, b) = (SeqNum(a), SeqNum(b));
            prop_assert_eq!(a < b, b > a);
            prop_assert_eq!(a == b, a.partial_cmp(&b) == Some(Ordering::Equal));
        }

        /// `in_window` agrees with the definition lo <= x < lo + len.
        #[test]
        fn window_membership(lo: u32, off: u32, len in 0u32..0x8000_0000) {
            let x = SeqNum(lo) + off;
            prop_assert_eq!(x.in_window(SeqNum(lo), len), off < len);
        }
    }
}
