//! The kernel's tick clock (jiffies), so that kernel runs start where the
//! simulation's timer wheel does.
//!
//! The `linux` profile's timers fire on a model of the kernel's timer
//! wheel ([`tcpsim_tcp::TimerWheel::Linux`]), whose buckets are counted
//! from jiffy zero at virtual time zero: a timer 1 s away fires at the
//! next multiple of 8 jiffies, one 16 s away at the next multiple of 64,
//! one 60 s away at the next multiple of 512. A real kernel's jiffy counter
//! is wherever it is, so a run started at a random moment rounds the same
//! timers differently. A run started just after a tick whose jiffy count is
//! a multiple of [`ALIGN`] rounds every timer shorter than the wheel's
//! level 4 (32 256 jiffies: 129 s at HZ = 250) as the model does; a file
//! that sets `tcp.tick_clock_at_zero` gets a jiffy equal to its jiffy
//! modulo [`ALIGN`], and as far into it as it says (at least
//! `AFTER_TICK_EIGHTHS` eighths of a tick).
//!
//! The clock is read from `/proc/timer_list` (root only, as `tcpsim
//! kernel` is): its header gives the monotonic time (`now at N nsecs`),
//! each CPU's section the jiffy count (`jiffies: J`) and the time of its
//! last tick (`.last_tick: T nsecs`), which lies on the tick grid.

use std::time::{Duration as StdDuration, Instant as StdInstant};

use crate::sys;

/// Kernel runs start on a jiffy that is a multiple of this: the bucket of
/// the wheel's level 3, which holds timers from 4032 to 32 255 jiffies.
pub const ALIGN: u64 = 512;

/// The HZ values a kernel is built with (`CONFIG_HZ`).
const HZ_CHOICES: [u64; 4] = [100, 250, 300, 1000];

/// How long to count ticks to tell HZ.
const HZ_SAMPLE: StdDuration = StdDuration::from_millis(100);

/// How far after the tick a run starts, at least: the kernel's tick handler runs a
/// little after the tick's time, and the first socket call must see the
/// new jiffy. An eighth of a tick (0.5 ms at HZ = 250): long enough for a
/// tick handler held up by a busy virtual machine, short enough that an
/// event of the simulation in the first seven eighths of a tick falls in
/// the same jiffy in the kernel, lateness included.
const AFTER_TICK_EIGHTHS: u64 = 1;

/// The kernel's tick clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JiffyClock {
    /// The kernel's HZ.
    pub hz: u64,
    /// One tick (`TICK_NSEC`), in nanoseconds.
    pub tick_ns: u64,
    /// Where the tick grid lies: the monotonic time of every tick, modulo
    /// `tick_ns`.
    phase_ns: u64,
    /// The jiffy count at tick index 0 of the grid (the tick at
    /// `phase_ns`), modulo [`ALIGN`].
    offset: u64,
}

/// One reading of `/proc/timer_list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reading {
    now_ns: u64,
    last_tick_ns: u64,
    jiffies: u64,
}

impl JiffyClock {
    /// Reads the clock: HZ from the ticks counted over `HZ_SAMPLE`, the
    /// grid from a CPU's last tick, the jiffy count at the grid's origin
    /// from the most common of five readings (a reading may straddle a
    /// tick).
    pub fn read() -> Result<JiffyClock, String> {
        let first = read_timer_list()?;
        std::thread::sleep(HZ_SAMPLE);
        let mut readings = vec![read_timer_list()?];
        let hz = hz_between(&first, &readings[0])?;
        for _ in 0..4 {
            readings.push(read_timer_list()?);
        }
        Ok(JiffyClock::from_readings(hz, &readings))
    }

    /// The clock at `hz` from readings a few microseconds long each.
    fn from_readings(hz: u64, readings: &[Reading]) -> JiffyClock {
        let tick_ns = tick_ns(hz);
        // `.last_tick` is 0 on a CPU whose tick never stopped; the kernel
        // puts its ticks on multiples of TICK_NSEC then (tick_sched_timer
        // setup), phase 0.
        let phase_ns = readings
            .iter()
            .map(|r| r.last_tick_ns)
            .find(|&t| t != 0)
            .map_or(0, |t| t % tick_ns);
        let mut offsets: Vec<u64> = readings
            .iter()
            .map(|r| {
                let index = (r.now_ns - phase_ns) / tick_ns;
                r.jiffies.wrapping_sub(index) % ALIGN
            })
            .collect();
        offsets.sort_unstable();
        // The most common value (the first of the longest run).
        let mut best = (offsets[0], 0);
        let mut i = 0;
        while i < offsets.len() {
            let n = offsets[i..]
                .iter()
                .take_while(|&&o| o == offsets[i])
                .count();
            if n > best.1 {
                best = (offsets[i], n);
            }
            i += n;
        }
        JiffyClock {
            hz,
            tick_ns,
            phase_ns,
            offset: best.0,
        }
    }

    /// The first start at or after `after_ns` (monotonic): `into_ns` after
    /// a tick whose jiffy count is `residue` modulo [`ALIGN`] (at least an
    /// eighth of a tick after it, at most just before the next).
    pub fn aligned_start(&self, after_ns: u64, residue: u64, into_ns: u64) -> u64 {
        let lead = self.lead_ns(into_ns);
        let from = after_ns.saturating_sub(lead).max(self.phase_ns);
        let index = (from - self.phase_ns).div_ceil(self.tick_ns);
        let jiffy = (index + self.offset) % ALIGN;
        let index = index + (ALIGN + residue % ALIGN - jiffy) % ALIGN;
        self.phase_ns + index * self.tick_ns + lead
    }

    /// How far into its jiffy a run starts that should start `into_ns`
    /// into it: at least `AFTER_TICK_EIGHTHS` eighths of a tick, at most
    /// just before the next tick.
    pub fn lead_ns(&self, into_ns: u64) -> u64 {
        into_ns.clamp(self.tick_ns * AFTER_TICK_EIGHTHS / 8, self.tick_ns - 1)
    }

    /// The span of [`ALIGN`] ticks, between the starts of two tries.
    pub fn align_span(&self) -> StdDuration {
        StdDuration::from_nanos(self.tick_ns * ALIGN)
    }
}

/// The [`std::time::Instant`] of a monotonic time in nanoseconds.
pub fn instant_at(ns: u64) -> StdInstant {
    let (now, now_ns) = (StdInstant::now(), sys::monotonic_ns());
    if ns >= now_ns {
        now + StdDuration::from_nanos(ns - now_ns)
    } else {
        now - StdDuration::from_nanos(now_ns - ns)
    }
}

/// The kernel's `TICK_NSEC`: a second over HZ, rounded to the nearest.
fn tick_ns(hz: u64) -> u64 {
    (1_000_000_000 + hz / 2) / hz
}

/// HZ from the jiffies counted between two readings: the nearest of
/// [`HZ_CHOICES`], which must be within 10 %.
fn hz_between(a: &Reading, b: &Reading) -> Result<u64, String> {
    let ns = b.now_ns.saturating_sub(a.now_ns).max(1);
    let measured = b.jiffies.wrapping_sub(a.jiffies) as f64 * 1e9 / ns as f64;
    let hz = HZ_CHOICES
        .into_iter()
        .min_by(|x, y| {
            let (dx, dy) = ((*x as f64 - measured).abs(), (*y as f64 - measured).abs());
            dx.total_cmp(&dy)
        })
        .unwrap_or(250);
    if (hz as f64 - measured).abs() > hz as f64 / 10.0 {
        return Err(format!(
            "/proc/timer_list: the jiffies advanced at {measured:.0} per second, expected one \
             of HZ {HZ_CHOICES:?}"
        ));
    }
    Ok(hz)
}

fn read_timer_list() -> Result<Reading, String> {
    let text = std::fs::read_to_string("/proc/timer_list")
        .map_err(|e| format!("/proc/timer_list: {e} (the kernel's tick clock is read there)"))?;
    parse(&text).ok_or_else(|| {
        "/proc/timer_list: expected `now at N nsecs`, `.last_tick: T nsecs` and `jiffies: J` lines"
            .to_string()
    })
}

/// The header's time and the first CPU's last tick and jiffy count.
fn parse(text: &str) -> Option<Reading> {
    let number = |line: &str, key: &str| -> Option<u64> {
        let rest = line.trim_start().strip_prefix(key)?;
        let rest = rest.trim_start().trim_start_matches(':').trim_start();
        rest.split_whitespace().next()?.parse().ok()
    };
    let (mut now_ns, mut last_tick_ns, mut jiffies) = (None, None, None);
    for line in text.lines() {
        now_ns = now_ns.or_else(|| number(line, "now at"));
        last_tick_ns = last_tick_ns.or_else(|| number(line, ".last_tick"));
        jiffies = jiffies.or_else(|| number(line, "jiffies"));
    }
    Some(Reading {
        now_ns: now_ns?,
        last_tick_ns: last_tick_ns?,
        jiffies: jiffies?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Timer List Version: v0.10
HRTIMER_MAX_CLOCK_BASES: 8
now at 221837810835 nsecs

cpu: 0
 clock 0:
  .resolution: 1 nsecs
  .last_tick      : 221828000000 nsecs
  .tick_stopped   : 0
  .idle_jiffies   : 4294947709
  .last_jiffies   : 4294948049
jiffies: 4294948051

cpu: 1
  .last_tick      : 221832000000 nsecs
jiffies: 4294948051
";

    #[test]
    fn parses_the_first_cpu() {
        // `.idle_jiffies` and `.last_jiffies` are not `jiffies:`.
        assert_eq!(
            parse(SAMPLE),
            Some(Reading {
                now_ns: 221_837_810_835,
                last_tick_ns: 221_828_000_000,
                jiffies: 4_294_948_051,
            })
        );
        assert_eq!(parse("now at 5 nsecs\n"), None);
    }

    #[test]
    fn hz_from_two_readings() {
        let a = Reading {
            now_ns: 1_000_000_000,
            last_tick_ns: 0,
            jiffies: 1000,
        };
        // 25 jiffies in 100 ms, or 24 (a reading just before a tick).
        let b = |j: u64, ms: u64| Reading {
            now_ns: 1_000_000_000 + ms * 1_000_000,
            last_tick_ns: 0,
            jiffies: j,
        };
        assert_eq!(hz_between(&a, &b(1025, 100)), Ok(250));
        assert_eq!(hz_between(&a, &b(1024, 100)), Ok(250));
        assert_eq!(hz_between(&a, &b(1100, 100)), Ok(1000));
        assert_eq!(hz_between(&a, &b(1030, 100)), Ok(300));
        assert!(hz_between(&a, &b(1060, 100)).is_err());
        assert_eq!(tick_ns(250), 4_000_000);
        assert_eq!(tick_ns(300), 3_333_333);
    }

    #[test]
    fn the_start_is_on_an_aligned_jiffy() {
        // Ticks every 4 ms at 1 ms past each multiple; the tick at
        // 1 ms + 4 ms·index counts jiffy index + 7.
        let reading = |index: u64, into_ns: u64| Reading {
            now_ns: 1_000_000 + index * 4_000_000 + into_ns,
            last_tick_ns: 1_000_000 + (index - 1) * 4_000_000,
            jiffies: index + 7,
        };
        // One reading straddles a tick (its jiffy count is the next one).
        let mut readings: Vec<Reading> = (100..104).map(|i| reading(i, 10_000)).collect();
        readings.push(Reading {
            jiffies: 105 + 7,
            ..reading(104, 3_999_000)
        });
        let clock = JiffyClock::from_readings(250, &readings);
        assert_eq!(
            (clock.phase_ns, clock.offset, clock.tick_ns),
            (1_000_000, 7, 4_000_000)
        );
        // The next jiffy count that is a multiple of 512 after jiffy 107
        // (index 100) is 512, at index 505: 1 ms + 505·4 ms, plus half a
        // millisecond.
        let after = 1_000_000 + 100 * 4_000_000;
        let start = clock.aligned_start(after, 0, 0);
        assert_eq!(start, 1_000_000 + 505 * 4_000_000 + 500_000);
        // From just before it, the same start; from just after, the next.
        assert_eq!(clock.aligned_start(start - 1, 0, 0), start);
        assert_eq!(clock.aligned_start(start, 0, 0), start);
        assert_eq!(
            clock.aligned_start(start + 1, 0, 0),
            start + 512 * 4_000_000
        );
        // Jiffy 517 (5 modulo 512) is 5 ticks later; jiffy 109 (109) is at
        // index 102.
        assert_eq!(clock.aligned_start(after, 5, 0), start + 5 * 4_000_000);
        assert_eq!(
            clock.aligned_start(after, 109, 0),
            1_000_000 + 102 * 4_000_000 + 500_000
        );
        // 2.24 ms into the jiffy.
        assert_eq!(
            clock.aligned_start(after, 0, 2_240_000),
            start - 500_000 + 2_240_000
        );
        assert_eq!(clock.align_span(), StdDuration::from_millis(2048));
    }
}
