//! A fixed, fast hasher for maps that are only looked up, never iterated.
//!
//! `std`'s default hasher is seeded from OS randomness, which tcpsim never
//! uses; this one is the splitmix64 finalizer over the key's words. Lookup
//! maps keyed by packed 4-tuples use it; their iteration order must never
//! reach output (iterate a `BTreeMap` or a `Vec` for that).

use std::hash::{BuildHasherDefault, Hasher};

/// The splitmix64 finalizer over the words written.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FixedHasher(u64);

/// A `HashMap` hasher builder for [`FixedHasher`].
pub(crate) type FixedState = BuildHasherDefault<FixedHasher>;

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = self.0.rotate_left(29) ^ x;
    }

    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}
