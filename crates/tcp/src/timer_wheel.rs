//! When Linux's timer wheel fires a timer ([`TimerWheel::Linux`]).
//!
//! The kernel keeps its TCP timers (retransmission, SYN-ACK, loss probe,
//! reordering, zero-window probe, delayed ACK, TIME-WAIT, FIN-WAIT-2) on the
//! timer wheel of `kernel/time/timer.c`, counted in jiffies, not on
//! high-resolution timers. A timer armed at jiffy `clk` for `when` jiffies
//! expires at `clk + when`, and the wheel files it in a bucket of a level
//! chosen by how far away that is: level 0 (1-jiffy buckets) below 63
//! jiffies, and each further level 8 times coarser and 8 times wider
//! (level *n* from 63·8ⁿ⁻¹ jiffies, buckets of 8ⁿ jiffies), 9 levels where
//! HZ > 100 and 8 where HZ ≤ 100; anything further than the last level
//! holds is cut to its end. A timer never fires early: it fires at the
//! first bucket boundary strictly after its expiry, `((expires >> 3n) + 1)
//! << 3n`. So a timer of a whole number of jiffies fires up to one bucket
//! late (a delay that is not a whole number is first rounded up, up to a
//! jiffy more): at HZ = 250, up to 4 ms below 252 ms, 32 ms below 2.016 s,
//! 256 ms below 16.128 s, 2.048 s below 129 s — at most 8/63 (12.7 %) of
//! the delay, plus that rounding.
//!
//! The captures show it (`tests/data/linux/syn_lost_all.trace`, HZ = 250):
//! after the first retransmission, each SYN timer is armed when the last
//! fired, on a bucket boundary, and the SYNs are 1.024 s apart for the
//! 1 s timeouts (250 jiffies filed at level 1: the next multiple of 8
//! after 250 is 256), 2.016 s for 2 s (500 → 504), 8.192 s for 8 s (2000
//! jiffies at level 2: the next multiple of 64 is 2048) and 16.128 s for
//! 16 s (4000 → 4032).
//!
//! Jiffies are counted from [`Config::tick_clock_at_zero`], by default 0:
//! the model is a kernel whose jiffy counter was zero at time zero, so that
//! bucket boundaries fall on multiples of each bucket size counted from
//! there. A real kernel's counter is anywhere, which moves each timer
//! within its bucket; `tcpsim kernel` starts its runs on a jiffy equal to
//! the model's modulo 512 (level 3's bucket), where every timer below 129 s
//! at HZ = 250 fires in the model's bucket (docs/kernel.md). Durations become jiffies rounded
//! up, as `msecs_to_jiffies` and `usecs_to_jiffies` round them.
//!
//! Not modelled:
//! - the wheel's own clock (`base->clk`) can differ from `jiffies` by one:
//!   after the timer handlers of a jiffy have run (`__run_timers` leaves it
//!   at `jiffies + 1` until the next tick), or while a bucket that is due
//!   has not run yet (`forward_timer_base`). That moves a timer exactly 63,
//!   504, 4032, … jiffies away to the next level.
//! - a FIN-WAIT-2 limit above 60 s is two timers in the kernel (the
//!   keepalive timer for the excess, then TIME-WAIT's 60 s), each rounded
//!   on the wheel; here it is one.
//! - the user timeout's clamp of the RTO counts elapsed time in whole
//!   milliseconds in the kernel (`tcp_clamp_rto_to_user_timeout`), in
//!   nanoseconds here.

use crate::config::{Config, TimerWheel};
use crate::time::{Duration, Instant};

/// log₂ of how much coarser each level is than the one below.
const LEVEL_SHIFT: u32 = 3;
/// Buckets per level.
const LEVEL_SIZE: u64 = 64;

/// `delay` in jiffies of `tick_ns`, rounded up, as `usecs_to_jiffies`
/// computes it: from HZ (the ticks in a second, `tick_ns` being its
/// `TICK_NSEC`), so that 200 ms at HZ = 300 is 60 jiffies although a
/// jiffy is 3 333 333 ns.
pub(crate) fn jiffies(delay: Duration, tick_ns: u64) -> u64 {
    let tick_ns = tick_ns.max(1);
    if 1_000_000_000 % tick_ns == 0 {
        // A whole number of ticks in a second (HZ 100, 250, 1000): the
        // same, without 128-bit arithmetic on every timer.
        return delay.as_nanos().div_ceil(tick_ns);
    }
    let tick = u128::from(tick_ns);
    let hz = (1_000_000_000 + tick / 2) / tick;
    let j = (u128::from(delay.as_nanos()) * hz).div_ceil(1_000_000_000);
    u64::try_from(j).unwrap_or(u64::MAX)
}

/// `delay` rounded up to whole jiffies of `tick` ([`jiffies`]).
pub(crate) fn whole_jiffies(delay: Duration, tick: Duration) -> Duration {
    let tick = tick.as_nanos().max(1);
    Duration::from_nanos(jiffies(delay, tick).saturating_mul(tick))
}

/// The first delay (in jiffies) that level `n ≥ 1` takes.
const fn level_start(n: u32) -> u64 {
    (LEVEL_SIZE - 1) << ((n - 1) * LEVEL_SHIFT)
}

/// The next kernel tick after `now` ([`Config::kernel_tick`], counted from
/// [`Config::tick_clock_at_zero`]), whatever the [`TimerWheel`]: where a
/// timer of no delay fires on the wheel (the kernel's `ato` = 0 delayed
/// ACK).
pub(crate) fn next_tick(config: &Config, now: Instant) -> Instant {
    let tick = config.kernel_tick.as_nanos().max(1);
    let origin = config.tick_clock_at_zero.as_nanos();
    let clk = origin.saturating_add(now.as_nanos()) / tick;
    Instant::from_nanos(
        clk.saturating_add(1)
            .saturating_mul(tick)
            .saturating_sub(origin),
    )
}

/// When a timer armed at `now` for `delay` fires: `now + delay` with
/// [`TimerWheel::Exact`], the wheel's bucket boundary with
/// [`TimerWheel::Linux`] (one jiffy is [`Config::kernel_tick`], and the
/// tick clock is at [`Config::tick_clock_at_zero`] at time zero). A deadline
/// past the end of time is "never" ([`Instant::MAX`]) in both.
pub(crate) fn deadline(config: &Config, now: Instant, delay: Duration) -> Instant {
    let exact = now + delay;
    if config.timer_wheel == TimerWheel::Exact || exact == Instant::MAX {
        return exact;
    }
    let tick = config.kernel_tick.as_nanos().max(1);
    // HZ > 100, a tick shorter than 10 ms: 9 levels (LVL_DEPTH).
    let depth = if tick < 10_000_000 { 9 } else { 8 };
    let origin = config.tick_clock_at_zero.as_nanos();
    let clk = origin.saturating_add(now.as_nanos()) / tick;
    let when = jiffies(delay, tick);
    let cutoff = level_start(depth);
    let (level, when) = if when >= cutoff {
        // WHEEL_TIMEOUT_MAX: the end of the last level.
        let last = depth - 1;
        (last, cutoff - (1 << (last * LEVEL_SHIFT)))
    } else {
        let mut level = 0;
        while level + 1 < depth && when >= level_start(level + 1) {
            level += 1;
        }
        (level, when)
    };
    let shift = level * LEVEL_SHIFT;
    let expires = clk.saturating_add(when);
    let bucket = ((expires >> shift).saturating_add(1)).checked_mul(1 << shift);
    match bucket.and_then(|b| b.checked_mul(tick)) {
        Some(ns) if ns < u64::MAX => Instant::from_nanos(ns - origin),
        _ => Instant::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linux profile: HZ = 250, jiffy 0 at time zero.
    fn linux(now_ms: u64, delay: Duration) -> u64 {
        let at = deadline(
            &Config::linux(),
            Instant::from_nanos(now_ms * 1_000_000),
            delay,
        );
        at.as_nanos() / 1_000
    }

    #[test]
    fn exact_adds_the_delay() {
        let now = Instant::from_nanos(1_234_567);
        let at = deadline(&Config::rfc(), now, Duration::from_millis(200));
        assert_eq!(at, now + Duration::from_millis(200));
    }

    #[test]
    fn level_zero_fires_at_the_tick_after_expiry() {
        // 200 ms = 50 jiffies (< 63): armed at jiffy 2 (10 ms), expires at
        // 52, fires at 53 = 212 ms.
        assert_eq!(linux(10, Duration::from_millis(200)), 212_000);
        // No delay: the next tick (the kernel's `ato` = 0 delayed ACK),
        // next_tick under either wheel.
        assert_eq!(linux(10, Duration::ZERO), 12_000);
        assert_eq!(linux(12, Duration::ZERO), 16_000);
        for config in [Config::rfc(), Config::linux()] {
            let at = next_tick(&config, Instant::from_nanos(10_000_000));
            assert_eq!(at, Instant::from_nanos(12_000_000));
        }
        // A part of a jiffy is a whole one (usecs_to_jiffies rounds up):
        // 40.5 ms = 11 jiffies from jiffy 0, fires at 12.
        assert_eq!(linux(0, Duration::from_micros(40_500)), 48_000);
    }

    #[test]
    fn the_capture_s_syn_intervals() {
        // syn_lost_all.trace: from a bucket boundary, 1 s → 1.024 s,
        // 2 s → 2.016 s, 8 s → 8.192 s, 16 s → 16.128 s.
        let from = 1024; // ms: jiffy 256, a multiple of 64
        assert_eq!(linux(from, Duration::from_secs(1)), (from + 1024) * 1000);
        assert_eq!(linux(from, Duration::from_secs(2)), (from + 2016) * 1000);
        assert_eq!(linux(from, Duration::from_secs(8)), (from + 8192) * 1000);
        assert_eq!(linux(from, Duration::from_secs(16)), (from + 16_128) * 1000);
    }

    #[test]
    fn level_boundaries() {
        // 62 jiffies: level 0, fires at 63. 63 jiffies: level 1, the next
        // multiple of 8 after 63 is 64.
        assert_eq!(linux(0, Duration::from_millis(62 * 4)), 63 * 4000);
        assert_eq!(linux(0, Duration::from_millis(63 * 4)), 64 * 4000);
        // 503 jiffies: level 1 → 504. 504: level 2 → 512.
        assert_eq!(linux(0, Duration::from_millis(503 * 4)), 504 * 4000);
        assert_eq!(linux(0, Duration::from_millis(504 * 4)), 512 * 4000);
        // 60 s = 15000 jiffies at level 3 (4032 ≤ 15000 < 32256): the next
        // multiple of 512 after 15000 + 100 (armed at 400 ms) is 15360.
        assert_eq!(linux(400, Duration::from_secs(60)), 15_360 * 4000);
    }

    #[test]
    fn beyond_the_last_level_is_cut() {
        // HZ = 250 has 9 levels: the cutoff is 63 << 24 jiffies; a longer
        // timeout is cut to the cutoff less one bucket of level 8 (1 << 24).
        let cutoff = 63u64 << 24;
        let max = cutoff - (1 << 24);
        let at = linux(0, Duration::from_millis(cutoff * 4 * 2));
        assert_eq!(at, (((max >> 24) + 1) << 24) * 4000);
        // At HZ = 100 there are 8 levels.
        let hz100 = Config {
            kernel_tick: Duration::from_millis(10),
            ..Config::linux()
        };
        let cutoff = 63u64 << 21;
        let max = cutoff - (1 << 21);
        let at = deadline(&hz100, Instant::ZERO, Duration::from_secs(1 << 33));
        assert_eq!(at.as_nanos(), (((max >> 21) + 1) << 21) * 10_000_000);
    }

    #[test]
    fn jiffies_come_from_hz() {
        // HZ = 300: TICK_NSEC = 3 333 333 ns, but 200 ms is 60 jiffies
        // (msecs_to_jiffies: 200 · 300 / 1000), not ⌈200 ms / TICK_NSEC⌉
        // = 61; 1 s is 300, 40 ms 12, 60 s 18000.
        let tick = 3_333_333;
        assert_eq!(jiffies(Duration::from_millis(200), tick), 60);
        assert_eq!(jiffies(Duration::from_secs(1), tick), 300);
        assert_eq!(jiffies(Duration::from_millis(40), tick), 12);
        assert_eq!(jiffies(Duration::from_secs(60), tick), 18_000);
        assert_eq!(jiffies(Duration::from_nanos(1), tick), 1);
        // HZ = 250: whole milliseconds of 4.
        assert_eq!(jiffies(Duration::from_micros(40_500), 4_000_000), 11);
        assert_eq!(jiffies(Duration::MAX, 4_000_000), u64::MAX / 4_000_000 + 1);
    }

    #[test]
    fn never_stays_never() {
        let at = deadline(&Config::linux(), Instant::from_nanos(5), Duration::MAX);
        assert_eq!(at, Instant::MAX);
    }

    #[test]
    fn buckets_count_from_the_tick_clock_at_zero() {
        // Time zero at 22 ms of the tick clock (jiffy 5, 2 ms in): a 1 s
        // timer armed then expires at jiffy 255 and fires at 256 = 1.024 s
        // of the tick clock, 1.002 s from zero; one armed at 10 ms (32 ms:
        // jiffy 8) expires at 258 and fires at 264, 1.034 s from zero. A
        // 200 ms one at zero: jiffy 5 + 50 + 1 = 56, 224 − 22 = 202 ms.
        let config = Config {
            tick_clock_at_zero: Duration::from_millis(22),
            ..Config::linux()
        };
        let at = |ms: u64, delay| deadline(&config, Instant::from_nanos(ms * 1_000_000), delay);
        let ms = |n: u64| Instant::from_nanos(n * 1_000_000);
        assert_eq!(at(0, Duration::from_secs(1)), ms(1002));
        assert_eq!(at(10, Duration::from_secs(1)), ms(1034));
        assert_eq!(at(0, Duration::from_millis(200)), ms(202));
    }

    #[test]
    fn later_delays_never_fire_earlier() {
        // A coarser level's boundary is also a finer one's, so the bucket
        // grows with the delay across level changes.
        for now in [0u64, 3, 61, 4093] {
            let mut last = 0;
            for j in 0..5000u64 {
                let at = linux(now, Duration::from_millis(j * 4));
                assert!(at >= last, "now {now} ms, {j} jiffies");
                assert!(at > (now / 4 + j) * 4000);
                last = at;
            }
        }
    }
}
