//! Virtual time: integer nanoseconds, no clock.
//!
//! `tcpsim-tcp` never reads a clock. Every time-dependent call takes `now`, an
//! [`Instant`] counted in nanoseconds from the start of the simulation, so a
//! test can say `Instant::from_secs(1)` and a run is the same on every
//! machine.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub};

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

/// A point in virtual time: nanoseconds since the start of the simulation.
///
/// Held as the count plus one, so that `Option<Instant>` takes eight bytes
/// (`None` is the zero the count never reaches): a connection keeps a dozen
/// optional deadlines. The latest instant is therefore `u64::MAX - 1`
/// nanoseconds (584 years), and [`Instant::from_nanos`] saturates there.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest representable span.
    pub const MAX: Duration = Duration(u64::MAX);

    /// A duration of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        Duration(ns)
    }
    /// A duration of `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        Duration(us * 1_000)
    }
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms * 1_000_000)
    }
    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * 1_000_000_000)
    }
    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The duration in whole milliseconds (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// `self + rhs`, saturating at [`Duration::MAX`].
    pub const fn saturating_add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
    /// `self - rhs`, or zero if `rhs` is longer.
    pub const fn saturating_sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
    /// `self * n`, saturating at [`Duration::MAX`].
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }
    /// `self / n`, rounded down. `n` must not be zero.
    pub const fn div(self, n: u64) -> Duration {
        Duration(self.0 / n)
    }
}

impl Instant {
    /// The start of the simulation.
    pub const ZERO: Instant = Instant(NonZeroU64::MIN);
    /// The far future (`u64::MAX - 1` nanoseconds); used as "never" by bounds.
    pub const MAX: Instant = Instant(NonZeroU64::MAX);

    /// The instant `ns` nanoseconds after the start, saturating at
    /// [`Instant::MAX`].
    pub const fn from_nanos(ns: u64) -> Self {
        match NonZeroU64::new(ns.saturating_add(1)) {
            Some(n) => Instant(n),
            None => Instant::MAX,
        }
    }
    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Self {
        Instant::from_nanos(ms * 1_000_000)
    }
    /// The instant `s` seconds after the start.
    pub const fn from_secs(s: u64) -> Self {
        Instant::from_nanos(s * 1_000_000_000)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0.get() - 1
    }
    /// Time since `earlier`, or zero if `earlier` is later than `self`.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.get().saturating_sub(earlier.0.get()))
    }
}

impl Default for Instant {
    /// The start of the simulation.
    fn default() -> Instant {
        Instant::ZERO
    }
}

/// `Instant(ns)`: the count of nanoseconds, as before the niche.
impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Instant").field(&self.as_nanos()).finish()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`]: a deadline past the end of time is "never".
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        self.saturating_add(rhs)
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        self.saturating_sub(rhs)
    }
}

/// Prints with the largest unit that keeps the value exact: `1.5s`, `40ms`, `250us`, `7ns`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.0, f)
    }
}

/// Prints the time since the start, like [`Duration`].
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.as_nanos(), f)
    }
}

fn fmt_nanos(ns: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if ns == 0 {
        return f.write_str("0s");
    }
    for (scale, unit) in UNITS {
        if ns >= scale {
            let whole = ns / scale;
            let frac = ns % scale;
            if frac == 0 {
                return write!(f, "{whole}{unit}");
            }
            // Up to nine fractional digits, trailing zeros trimmed: exact.
            let (mut digits, mut width) = (frac, scale.ilog10() as usize);
            while digits % 10 == 0 {
                digits /= 10;
                width -= 1;
            }
            return write!(f, "{whole}.{digits:0width$}{unit}");
        }
    }
    unreachable!("ns > 0 matches the 1ns unit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_exact_and_short() {
        assert_eq!(Duration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(Duration::from_millis(40).to_string(), "40ms");
        assert_eq!(Duration::from_micros(250).to_string(), "250us");
        assert_eq!(
            Duration::from_nanos(1_000_000_001).to_string(),
            "1.000000001s"
        );
        assert_eq!(Duration::ZERO.to_string(), "0s");
        assert_eq!(Duration::from_nanos(1_050_000).to_string(), "1.05ms");
        assert_eq!(Duration::from_nanos(1_000_500).to_string(), "1.0005ms");
        assert_eq!(
            Duration::from_nanos(2_000_000_100).to_string(),
            "2.0000001s"
        );
        assert_eq!(Instant::from_nanos(61_440_000_000).to_string(), "61.44s");
    }

    #[test]
    fn instant_arithmetic_saturates() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(
            Instant::from_secs(1) - Instant::from_secs(2),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_secs(3) - Instant::from_secs(1),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn an_optional_instant_takes_eight_bytes() {
        assert_eq!(std::mem::size_of::<Option<Instant>>(), 8);
        assert_eq!(Instant::ZERO.as_nanos(), 0);
        assert_eq!(Instant::from_nanos(7).as_nanos(), 7);
        assert_eq!(Instant::MAX.as_nanos(), u64::MAX - 1);
        assert_eq!(Instant::from_nanos(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_nanos(u64::MAX - 1), Instant::MAX);
        assert!(Instant::from_nanos(1) > Instant::ZERO);
        assert_eq!(
            Instant::MAX - Instant::ZERO,
            Duration::from_nanos(u64::MAX - 1)
        );
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(format!("{:?}", Instant::from_nanos(5)), "Instant(5)");
    }
}
