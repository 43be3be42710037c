//! Units of the experiment file: durations (`"250us"`, `"1.5s"`, `"2min"`),
//! rates (`"10Mbit"`, `"1Gbit"`), seed ranges (`"1..=1000"`) and port ranges
//! (`"1024-65535"`).
//!
//! Numbers are parsed as decimal digits and scaled with integer arithmetic,
//! never through `f64`, so `"1.1s"` is exactly 1 100 000 000 ns on every
//! machine. A value that is not a whole number of the base unit (`"1.5ns"`,
//! `"0.5bit"`) is an error rather than a silent rounding.

use core::fmt;
use core::str::FromStr;

use tcpsim_tcp::Duration;

/// Duration units and their length in nanoseconds. Microseconds are `us`,
/// or `µs` with either of the two characters that look alike: the micro
/// sign U+00B5 and the Greek small letter mu U+03BC.
pub(super) const DURATION_UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Rate units (compared case-insensitively) and their value in bits per
/// second. Decimal prefixes are powers of 1000 and binary ones (`Kibit`)
/// powers of 1024, as in `tc`.
pub(super) const RATE_UNITS: [(&str, u64); 9] = [
    ("bit", 1),
    ("kbit", 1_000),
    ("mbit", 1_000_000),
    ("gbit", 1_000_000_000),
    ("tbit", 1_000_000_000_000),
    ("kibit", 1 << 10),
    ("mibit", 1 << 20),
    ("gibit", 1 << 30),
    ("tibit", 1 << 40),
];

/// A non-negative decimal number split into its digits: `int.frac`.
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

/// Splits `"1.5ms"` into `("1.5", "ms")`, allowing spaces between them.
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

fn decimal(number: &str) -> Option<Decimal<'_>> {
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (number, ""),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (number.contains('.') && frac.is_empty())
    {
        return None;
    }
    Some(Decimal { int, frac })
}

/// `value × scale` exactly, or `Err(true)` when it is not a whole number and
/// `Err(false)` when it does not fit in a `u64`.
fn scale(d: &Decimal<'_>, scale: u64) -> Result<u64, bool> {
    let int = d.int.trim_start_matches('0');
    if int.len() > 20 {
        return Err(false);
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| false)?
    };
    let frac = d.frac.trim_end_matches('0');
    // A fraction with more significant digits than the scale has factors of
    // ten can never give a whole number; 20 digits is far beyond any unit.
    if frac.len() > 20 {
        return Err(true);
    }
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| true)?
    };
    let denominator = 10u128.pow(frac.len() as u32);
    let frac_scaled = frac_value * u128::from(scale);
    if frac_scaled % denominator != 0 {
        return Err(true);
    }
    let total = int
        .checked_mul(u128::from(scale))
        .and_then(|v| v.checked_add(frac_scaled / denominator))
        .ok_or(false)?;
    u64::try_from(total).map_err(|_| false)
}

/// Parses a duration with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `min`,
/// `h`; the number may have a decimal fraction (`"1.5s"`).
///
/// The result is exact: the fraction must come out as a whole number of
/// nanoseconds. Negative values, a missing unit and values of 2^64 ns
/// (about 584 years) or more are errors; the message says what was expected.
///
/// ```
/// use tcpsim_runner::parse_duration;
/// use tcpsim_tcp::Duration;
///
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
/// assert!(parse_duration("5").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_duration_upto(s, u64::MAX, "shorter than 2^64 ns (about 584 years)")
}

/// A duration of an experiment file: at most [`MAX_DURATION`] (see there
/// for why), with [`parse_duration`]'s syntax.
///
/// [`MAX_DURATION`]: super::limits::MAX_DURATION
pub(crate) fn parse_file_duration(s: &str) -> Result<Duration, String> {
    parse_duration_upto(
        s,
        super::limits::MAX_DURATION.as_nanos(),
        super::limits::MAX_DURATION_TEXT,
    )
}

/// [`parse_duration`] with at most `max` ns; `bound` says so in a message
/// ("expected a duration {bound}").
fn parse_duration_upto(s: &str, max: u64, bound: &str) -> Result<Duration, String> {
    let q = Quoted(s);
    let text = s.trim();
    if text.starts_with('-') {
        return Err(format!("expected a non-negative duration, found {q}"));
    }
    let (number, unit) = split_number(text);
    let Some(d) = decimal(number) else {
        return Err(format!(
            "expected a duration: a number and a unit (ns, us, ms, s, min, h) like \"250ms\" or \"1.5s\", found {q}"
        ));
    };
    if unit.is_empty() {
        return Err(format!(
            "expected a duration with a unit (ns, us, ms, s, min, h) like \"250ms\", found {q} (missing unit)"
        ));
    }
    let Some(&(_, ns)) = DURATION_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!(
            "expected a duration unit: ns, us, ms, s, min or h, found {unit:?} in {q}"
        ));
    };
    match scale(&d, ns) {
        Ok(v) if v <= max => Ok(Duration::from_nanos(v)),
        Err(true) => Err(format!("expected a whole number of nanoseconds, found {q}")),
        Ok(_) | Err(false) => Err(format!("expected a duration {bound}, found {q}")),
    }
}

/// Parses a rate in bits per second: `"1000bit"`, `"64kbit"`, `"10Mbit"`,
/// `"1Gbit"`, `"1Tbit"` (units case-insensitive; `k`, `M`, `G`, `T` are
/// powers of 1000) or `"1Mibit"` (powers of 1024, as `tc` reads them).
///
/// `tc`'s byte-based forms (`bps`, `kbps`, ...) are refused because they
/// are easy to misread as bits: write `"8Mbit"` for one megabyte per second.
/// The result is exact and must be positive.
///
/// ```
/// use tcpsim_runner::parse_rate;
///
/// assert_eq!(parse_rate("10Mbit"), Ok(10_000_000));
/// assert_eq!(parse_rate("1.5kbit"), Ok(1_500));
/// assert!(parse_rate("10").is_err());
/// ```
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let q = Quoted(s);
    let text = s.trim();
    if text.starts_with('-') {
        return Err(format!("expected a positive rate, found {q}"));
    }
    let (number, unit) = split_number(text);
    let Some(d) = decimal(number) else {
        return Err(format!(
            "expected a rate: a number and a unit like \"10Mbit\" or \"1Gbit\", found {q}"
        ));
    };
    if unit.is_empty() {
        return Err(format!(
            "expected a rate with a unit (bit, kbit, Mbit, Gbit, Tbit) like \"10Mbit\", found {q} (missing unit)"
        ));
    }
    let lower = unit.to_ascii_lowercase();
    if lower.ends_with("bps") {
        return Err(format!(
            "expected a rate in bits per second (bit, kbit, Mbit, Gbit, Tbit), found {unit:?} in {q}: \
             `tc` reads \"bps\" as bytes per second, so it is not accepted; write \"8Mbit\" for 1 MB/s"
        ));
    }
    let Some(&(_, bps)) = RATE_UNITS.iter().find(|(name, _)| *name == lower) else {
        return Err(format!(
            "expected a rate unit: bit, kbit, Mbit, Gbit, Tbit (or Kibit, Mibit, Gibit, Tibit), found {unit:?} in {q}"
        ));
    };
    match scale(&d, bps) {
        Ok(0) => Err(format!("expected a positive rate, found {q}")),
        Ok(v) => Ok(v),
        Err(true) => Err(format!(
            "expected a whole number of bits per second, found {q}"
        )),
        Err(false) => Err(format!("expected a rate below 2^64 bit/s, found {q}")),
    }
}

/// Parses an ephemeral port range `"A-B"` with `1 <= A <= B <= 65535`.
pub(crate) fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let q = Quoted(s);
    let expected = || {
        format!(
            "expected a port range \"FIRST-LAST\" with 1 <= FIRST <= LAST <= 65535, like \"1024-65535\", found {q}"
        )
    };
    let (a, b) = s.split_once('-').ok_or_else(expected)?;
    let port = |t: &str| {
        let t = t.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u16>().ok().filter(|&p| p != 0)
    };
    match (port(a), port(b)) {
        (Some(a), Some(b)) if a <= b => Ok((a, b)),
        _ => Err(expected()),
    }
}

/// A range of seeds, written as in Rust: `"A..B"` (B excluded) or
/// `"A..=B"` (B included); a lone `"A"` is the one seed A.
///
/// Used by `[sweep] seeds` and by the command line's `--seeds`. The range
/// is never empty.
///
/// ```
/// use tcpsim_runner::SeedRange;
///
/// let r: SeedRange = "1..=1000".parse().unwrap();
/// assert_eq!((r.first(), r.last(), r.len()), (1, 1000, 1000));
/// let r: SeedRange = "0..10".parse().unwrap();
/// assert_eq!(r.iter().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
/// assert!("5..5".parse::<SeedRange>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeedRange {
    first: u64,
    last: u64,
}

impl SeedRange {
    /// The seeds `first..=last`, or `None` if `first > last`.
    pub const fn inclusive(first: u64, last: u64) -> Option<SeedRange> {
        if first <= last {
            Some(SeedRange { first, last })
        } else {
            None
        }
    }

    /// The single seed `seed`.
    pub const fn single(seed: u64) -> SeedRange {
        SeedRange {
            first: seed,
            last: seed,
        }
    }

    /// The first seed of the range.
    pub const fn first(&self) -> u64 {
        self.first
    }

    /// The last seed of the range (included).
    pub const fn last(&self) -> u64 {
        self.last
    }

    /// How many seeds the range holds (`u128` because `0..=u64::MAX` holds 2^64).
    pub const fn len(&self) -> u128 {
        (self.last - self.first) as u128 + 1
    }

    /// Always `false`: a `SeedRange` holds at least one seed.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The seeds in increasing order.
    pub fn iter(&self) -> core::ops::RangeInclusive<u64> {
        self.first..=self.last
    }
}

impl IntoIterator for SeedRange {
    type Item = u64;
    type IntoIter = core::ops::RangeInclusive<u64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Prints the inclusive form, `A..=B`, which round-trips through [`FromStr`].
impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<SeedRange, String> {
        let q = Quoted(s);
        let expected = || {
            format!(
                "expected a seed range like \"1..=1000\" (inclusive) or \"1..1001\" (exclusive), with seeds 0 to {}, found {q}",
                u64::MAX
            )
        };
        let seed = |t: &str| -> Result<u64, String> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            t.parse::<u64>().map_err(|_| expected())
        };
        let text = s.trim();
        let Some((a, rest)) = text.split_once("..") else {
            return Ok(SeedRange::single(seed(text)?));
        };
        let first = seed(a)?;
        let (last, inclusive) = match rest.strip_prefix('=') {
            Some(b) => (seed(b)?, true),
            None => (seed(rest)?, false),
        };
        let last = if inclusive {
            Some(last)
        } else {
            last.checked_sub(1)
        };
        match last.and_then(|last| SeedRange::inclusive(first, last)) {
            Some(r) => Ok(r),
            None => Err(format!(
                "expected a non-empty seed range (the first seed at most the last), found {q}"
            )),
        }
    }
}

/// A text as error messages quote it: whole up to 60 characters, else its
/// first 60 and `...` (a 100 KB `--set` value is not echoed back). Written
/// only when a message is made, so a value that parses costs nothing.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut short: String = s.chars().take(60).collect();
        if short.len() < s.len() {
            short.push_str("...");
        }
        write!(f, "{short:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> u64 {
        parse_duration(s).unwrap().as_nanos()
    }

    #[test]
    fn durations_are_exact() {
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns("250us"), 250_000);
        assert_eq!(ns("250\u{b5}s"), 250_000);
        // The Greek mu looks the same and means the same.
        assert_eq!(ns("250\u{3bc}s"), 250_000);
        assert_eq!(ns("2min"), 120_000_000_000);
        assert_eq!(ns("1h"), 3_600_000_000_000);
        assert_eq!(ns("0s"), 0);
        assert_eq!(ns("7ns"), 7);
        // 0.1 is not representable in binary floating point; here it is exact.
        assert_eq!(ns("1.1s"), 1_100_000_000);
        assert_eq!(ns("0.000000001s"), 1);
        assert_eq!(ns("1.50000000000000000000000000s"), 1_500_000_000);
        assert_eq!(ns("1.25ms"), 1_250_000);
        assert_eq!(ns(" 40 ms "), 40_000_000);
        // u64::MAX ns = 18446744073.709551615 s.
        assert_eq!(ns("18446744073.709551615s"), u64::MAX);
    }

    #[test]
    fn file_durations_stop_at_a_million_hours() {
        // 1 000 000 h = 3 600 000 000 s = 3.6 × 10^18 ns; five of them,
        // 1.8 × 10^19, still fit below 2^64 ≈ 1.8447 × 10^19.
        let max = 3_600_000_000u64 * 1_000_000_000;
        assert!(5 * u128::from(max) < 1u128 << 64);
        let ok = |s: &str| parse_file_duration(s).map(Duration::as_nanos);
        assert_eq!(ok("1000000h"), Ok(max));
        assert_eq!(ok("3600000000s"), Ok(max));
        assert_eq!(ok("60000000min"), Ok(max));
        for s in [
            "1000001h",
            "3600000000.000000001s",
            "18446744073.709551615s",
        ] {
            let e = ok(s).unwrap_err();
            assert!(
                e.contains("at most \"1000000h\" (about 114 years)"),
                "{s}: {e}"
            );
        }
        // The general parser (scripts, --tolerance) keeps the whole clock.
        assert_eq!(ns("18446744073.709551615s"), u64::MAX);
    }

    #[test]
    fn bad_durations_say_what_was_expected() {
        let err = |s: &str| parse_duration(s).unwrap_err();
        assert!(err("5").contains("missing unit"), "{}", err("5"));
        assert!(err("-1s").contains("non-negative"));
        assert!(err("5sec").contains("expected a duration unit"));
        assert!(err("1.5ns").contains("whole number of nanoseconds"));
        assert!(err("0.0000000001s").contains("whole number"));
        assert!(err("18446744073.709551616s").contains("2^64"));
        assert!(err("99999999999999999999999h").contains("2^64"));
        assert!(err("").contains("expected a duration"));
        assert!(err("s").contains("expected a duration"));
        assert!(err(".5s").contains("expected a duration"));
        assert!(err("1.s").contains("expected a duration"));
        assert!(err("1..5s").contains("expected a duration"));
        assert!(err("1e3ms").contains("expected a duration unit"));
        assert!(err("+1s").contains("expected a duration"));
    }

    #[test]
    fn rates_are_exact() {
        assert_eq!(parse_rate("10Mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1Gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("64kbit"), Ok(64_000));
        assert_eq!(parse_rate("64Kbit"), Ok(64_000));
        assert_eq!(parse_rate("1000bit"), Ok(1000));
        assert_eq!(parse_rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("2MBIT"), Ok(2_000_000));
        assert_eq!(parse_rate("1Mibit"), Ok(1_048_576));
        assert_eq!(parse_rate("1Tbit"), Ok(1_000_000_000_000));
    }

    #[test]
    fn bad_rates_say_what_was_expected() {
        let err = |s: &str| parse_rate(s).unwrap_err();
        assert!(err("10").contains("missing unit"));
        assert!(err("10Mbps").contains("bytes per second"));
        assert!(err("10Mb").contains("expected a rate unit"));
        assert!(err("0bit").contains("positive"));
        assert!(err("0.5bit").contains("whole number"));
        assert!(err("-1Mbit").contains("positive"));
        assert!(err("20000000000Gbit").contains("2^64"));
        assert!(err("fast").contains("expected a rate"));
    }

    #[test]
    fn seed_ranges_follow_rust() {
        let r = |s: &str| s.parse::<SeedRange>();
        assert_eq!(r("1..=1000"), Ok(SeedRange::inclusive(1, 1000).unwrap()));
        assert_eq!(r("1..1000"), Ok(SeedRange::inclusive(1, 999).unwrap()));
        assert_eq!(r("7"), Ok(SeedRange::single(7)));
        assert_eq!(r("5..6").unwrap().len(), 1);
        assert_eq!(r("0..=18446744073709551615").unwrap().len(), 1u128 << 64);
        assert!(r("5..5").is_err());
        assert!(r("0..0").is_err());
        assert!(r("6..=5").is_err());
        assert!(r("1..=").is_err());
        assert!(r("..5").is_err());
        assert!(r("a..b").is_err());
        assert!(r("-1..5").is_err());
        assert!(r("18446744073709551616").is_err());
        let range = r("3..=5").unwrap();
        assert_eq!(range.to_string(), "3..=5");
        assert_eq!(range.into_iter().collect::<Vec<_>>(), vec![3, 4, 5]);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("1024-65535"), Ok((1024, 65535)));
        assert_eq!(parse_port_range("40000-40000"), Ok((40000, 40000)));
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("10-5").is_err());
        assert!(parse_port_range("1-65536").is_err());
        assert!(parse_port_range("1024").is_err());
        assert!(parse_port_range("+1-5").is_err());
    }
}
