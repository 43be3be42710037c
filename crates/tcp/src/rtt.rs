//! The retransmission timeout (RFC 6298): SRTT, RTTVAR, RTO and backoff.
//!
//! All arithmetic is in integer nanoseconds. With α = 1/8 and β = 1/4:
//! the first sample R gives SRTT = R, RTTVAR = R/2 (§2.2); each later sample
//! R' gives RTTVAR = ¾·RTTVAR + ¼·|SRTT − R'| and then SRTT = ⅞·SRTT + ⅛·R'
//! (§2.3). The RTO formula is [`Config::rto_formula`]:
//!
//! - [`RtoFormula::Rfc6298`] (`rfc`): RTO = max(min_rto, SRTT + max(G,
//!   4·RTTVAR)), min_rto = 1 s (§2.4).
//! - [`RtoFormula::Linux`] (`linux`): RTO = SRTT + max(min_rto, 4·RTTVAR),
//!   min_rto = 200 ms (`__tcp_set_rto` with `tcp_rto_min` as the variance
//!   floor).
//!
//! With [`TimerWheel::Linux`] the RTO is then rounded up to whole kernel
//! ticks, as the kernel keeps it in jiffies. Both are capped at `max_rto`,
//! and so is every backed-off value (§5.5).

use crate::config::{Config, RtoFormula, TimerWheel};
use crate::time::Duration;

/// Round-trip estimator and current RTO of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
}

impl RttEstimator {
    /// An estimator with no samples: RTO = the initial RTO (§2.1).
    pub fn new(config: &Config) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: whole_ticks(config.initial_rto, config).min(config.max_rto),
        }
    }

    /// Smoothed round-trip time, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Round-trip time variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The current RTO, including any backoff.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Whether any RTT sample has been taken.
    pub fn has_sample(&self) -> bool {
        self.srtt.is_some()
    }

    /// Takes one RTT measurement and recomputes the RTO, which also ends
    /// any backoff (§5.7 note: "a new RTT measurement ... replaces the
    /// backed-off value").
    pub fn sample(&mut self, r: Duration, config: &Config) {
        let r = r.as_nanos();
        match self.srtt {
            None => {
                self.srtt = Some(Duration::from_nanos(r));
                self.rttvar = Duration::from_nanos(r / 2);
            }
            Some(srtt) => {
                let srtt = srtt.as_nanos();
                let err = srtt.abs_diff(r);
                self.rttvar = Duration::from_nanos((3 * self.rttvar.as_nanos() + err) / 4);
                self.srtt = Some(Duration::from_nanos((7 * srtt + r) / 8));
            }
        }
        self.rto = self.computed(config);
    }

    /// The RTO from SRTT and RTTVAR alone, without backoff.
    fn computed(&self, config: &Config) -> Duration {
        let Some(srtt) = self.srtt else {
            return whole_ticks(config.initial_rto, config).min(config.max_rto);
        };
        let var4 = self.rttvar.saturating_mul(4);
        let rto = match config.rto_formula {
            RtoFormula::Rfc6298 => srtt
                .saturating_add(var4.max(config.clock_granularity))
                .max(config.min_rto),
            RtoFormula::Linux => srtt.saturating_add(var4.max(config.min_rto)),
        };
        whole_ticks(rto, config).min(config.max_rto)
    }

    /// Doubles the RTO, capped at `max_rto` (§5.5).
    pub fn back_off(&mut self, config: &Config) {
        self.rto = self.rto.saturating_mul(2).min(config.max_rto);
    }

    /// Sets the RTO to at least `floor` while there is no sample: RFC 6298
    /// §5.7, "if the timer expires awaiting the ACK of a SYN segment and the
    /// TCP implementation is using an RTO less than 3 seconds, the RTO MUST
    /// be re-initialized to 3 seconds when data transmission begins".
    pub fn reinitialize_after_syn_loss(&mut self, floor: Duration, config: &Config) {
        if self.srtt.is_none() {
            self.rto = whole_ticks(floor, config).min(config.max_rto);
        } else {
            self.rto = self.computed(config);
        }
    }
}

/// With [`TimerWheel::Linux`], `d` in whole jiffies, rounded up (the
/// kernel keeps its RTO in jiffies: `usecs_to_jiffies` in `__tcp_set_rto`,
/// `TCP_TIMEOUT_INIT` = HZ); else `d`.
fn whole_ticks(d: Duration, config: &Config) -> Duration {
    match config.timer_wheel {
        TimerWheel::Exact => d,
        TimerWheel::Linux => crate::timer_wheel::whole_jiffies(d, config.kernel_tick),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn initial_rto_is_one_second() {
        assert_eq!(
            RttEstimator::new(&Config::rfc()).rto(),
            Duration::from_secs(1)
        );
        assert_eq!(
            RttEstimator::new(&Config::linux()).rto(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn first_sample_rfc_rounds_up_to_one_second() {
        // R = 100 ms: SRTT = 100 ms, RTTVAR = 50 ms,
        // RTO = max(1 s, 100 ms + max(1 ms, 4 × 50 ms)) = max(1 s, 300 ms) = 1 s.
        let cfg = Config::rfc();
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(100), &cfg);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(), Duration::from_secs(1));
    }

    #[test]
    fn rfc_rto_above_the_floor() {
        // R = 800 ms: RTO = 800 ms + 4 × 400 ms = 2.4 s (> 1 s, < 60 s).
        let cfg = Config::rfc();
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(800), &cfg);
        assert_eq!(e.rto(), Duration::from_millis(2400));
    }

    #[test]
    fn second_sample_follows_alpha_and_beta() {
        // R1 = 100 ms, R2 = 200 ms:
        // RTTVAR = ¾ × 50 + ¼ × |100 − 200| = 37.5 + 25 = 62.5 ms
        // SRTT   = ⅞ × 100 + ⅛ × 200 = 87.5 + 25 = 112.5 ms
        // linux RTO = 112.5 + max(200, 4 × 62.5 = 250) = 362.5 ms, exact
        // timers; the kernel's is whole jiffies: ⌈362.5 / 4⌉ × 4 = 364 ms.
        let mut cfg = Config::linux();
        cfg.timer_wheel = TimerWheel::Exact;
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(100), &cfg);
        // First sample under linux: 100 + max(200, 200) = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(200), &cfg);
        assert_eq!(e.rttvar(), Duration::from_nanos(62_500_000));
        assert_eq!(e.srtt(), Some(Duration::from_nanos(112_500_000)));
        assert_eq!(e.rto(), Duration::from_nanos(362_500_000));
        let cfg = Config::linux();
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(100), &cfg);
        e.sample(Duration::from_millis(200), &cfg);
        assert_eq!(e.rto(), Duration::from_millis(364));
    }

    #[test]
    fn linux_small_rtt_is_floored_by_rto_min() {
        // R = 20 ms: 20 + max(200, 40) = 220 ms.
        let cfg = Config::linux();
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(20), &cfg);
        assert_eq!(e.rto(), Duration::from_millis(220));
    }

    #[test]
    fn rto_formula_follows_the_field_not_the_profile() {
        // R = 20 ms: RTTVAR = 10 ms. rfc numbers with the Linux formula:
        // 20 + max(1 s, 40 ms) = 1.02 s; linux numbers with RFC 6298's:
        // max(200 ms, 20 + max(1 ms, 40 ms) = 60 ms) = 200 ms.
        let mut cfg = Config::rfc();
        cfg.rto_formula = RtoFormula::Linux;
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(20), &cfg);
        assert_eq!(e.rto(), Duration::from_millis(1020));
        let mut cfg = Config::linux();
        cfg.rto_formula = RtoFormula::Rfc6298;
        let mut e = RttEstimator::new(&cfg);
        e.sample(Duration::from_millis(20), &cfg);
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        // 1, 2, 4, 8, 16, 32, 60 (cap), 60 s.
        let cfg = Config::rfc();
        let mut e = RttEstimator::new(&cfg);
        let mut seen = vec![e.rto().as_nanos() / (1000 * MS)];
        for _ in 0..7 {
            e.back_off(&cfg);
            seen.push(e.rto().as_nanos() / (1000 * MS));
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn new_sample_ends_backoff() {
        let cfg = Config::rfc();
        let mut e = RttEstimator::new(&cfg);
        e.back_off(&cfg);
        e.back_off(&cfg);
        assert_eq!(e.rto(), Duration::from_secs(4));
        e.sample(Duration::from_millis(10), &cfg);
        assert_eq!(e.rto(), Duration::from_secs(1));
    }

    #[test]
    fn syn_loss_reinitializes_to_three_seconds() {
        let cfg = Config::rfc();
        let mut e = RttEstimator::new(&cfg);
        e.back_off(&cfg); // 2 s after one SYN timeout
        e.reinitialize_after_syn_loss(Duration::from_secs(3), &cfg);
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
