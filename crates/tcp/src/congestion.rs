//! Congestion control: how much a connection may have in flight.
//!
//! A small trait, [`CongestionControl`], with two algorithms: Reno
//! (RFC 5681: slow start, congestion avoidance, the loss window after a
//! retransmission timeout, and the window after a fast retransmit) and
//! CUBIC (RFC 9438, the Linux default besides BBR, which is not modelled).
//! Both count in bytes outside and are exact integer arithmetic inside, so
//! a run gives the same windows on every machine (CUBIC's cube root is an
//! integer root, as in the kernel's `tcp_cubic.c`, not a floating-point
//! one).
//!
//! The controllers are pure state machines: the connection tells them what
//! was acknowledged, when a loss was detected and when the timer expired,
//! and reads [`CongestionControl::cwnd`]. Loss detection and recovery
//! (duplicate ACKs, SACK, RACK) are the connection's; the controllers only
//! size the window.

use crate::time::{Duration, Instant};

/// The initial window (RFC 5681 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialCwnd {
    /// RFC 3390: min(4·MSS, max(2·MSS, 4380 bytes)) — 3 segments at an
    /// MSS of 1460.
    Rfc3390,
    /// A fixed number of segments: RFC 6928's 10, Linux `TCP_INIT_CWND`.
    Segments(u32),
}

impl InitialCwnd {
    /// The initial window in bytes for an MSS of `mss`.
    pub fn bytes(self, mss: u32) -> u32 {
        let mss = mss.max(1);
        match self {
            InitialCwnd::Rfc3390 => (4 * mss).min((2 * mss).max(4380)),
            InitialCwnd::Segments(n) => n.max(1).saturating_mul(mss),
        }
    }
}

/// What decides a connection's congestion window.
pub trait CongestionControl {
    /// The congestion window, in bytes.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold, in bytes (`u32::MAX` before any loss).
    fn ssthresh(&self) -> u32;
    /// Whether the window grows by slow start (cwnd < ssthresh).
    fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }
    /// `acked` new bytes were acknowledged at `now` outside loss recovery,
    /// with the current smoothed RTT if there is one.
    fn on_ack(&mut self, now: Instant, acked: u32, mss: u32, srtt: Option<Duration>);
    /// A loss was detected without a timeout (fast retransmit, RACK) with
    /// `flight` bytes in flight: ssthresh is set once for the event and
    /// growth starts over. The window itself is the recovery's to set
    /// ([`CongestionControl::set_cwnd`]): RFC 5681 §3.2 inflates it to
    /// ssthresh + 3·SMSS, RFC 6675 sets it to ssthresh, PRR (RFC 6937)
    /// walks it down.
    fn on_loss(&mut self, now: Instant, flight: u32, mss: u32);
    /// The retransmission timer expired with `flight` bytes in flight:
    /// ssthresh as for a loss, and the loss window (RFC 5681 §3.1: cwnd = 1
    /// SMSS).
    fn on_rto(&mut self, now: Instant, flight: u32, mss: u32);
    /// Sets the window (loss recovery's own arithmetic).
    fn set_cwnd(&mut self, cwnd: u32);
    /// Puts back a window and threshold from before a reduction that
    /// proved spurious (RFC 3522, RFC 3708); `ssthresh` `u32::MAX` for none.
    fn restore(&mut self, cwnd: u32, ssthresh: u32);
}

/// One of the controllers, chosen by [`crate::Config::congestion_control`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    /// [`Reno`].
    Reno(Reno),
    /// [`Cubic`].
    Cubic(Cubic),
}

impl Controller {
    /// The controller `algorithm` names, with initial window `iw` bytes.
    pub fn new(algorithm: crate::config::CongestionAlgorithm, iw: u32) -> Controller {
        match algorithm {
            crate::config::CongestionAlgorithm::Reno => Controller::Reno(Reno::new(iw)),
            crate::config::CongestionAlgorithm::Cubic => Controller::Cubic(Cubic::new(iw)),
        }
    }

    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Controller::Reno(r) => r,
            Controller::Cubic(c) => c,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::Reno(r) => r,
            Controller::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> u32 {
        self.inner().cwnd()
    }
    fn ssthresh(&self) -> u32 {
        self.inner().ssthresh()
    }
    fn on_ack(&mut self, now: Instant, acked: u32, mss: u32, srtt: Option<Duration>) {
        self.inner_mut().on_ack(now, acked, mss, srtt);
    }
    fn on_loss(&mut self, now: Instant, flight: u32, mss: u32) {
        self.inner_mut().on_loss(now, flight, mss);
    }
    fn on_rto(&mut self, now: Instant, flight: u32, mss: u32) {
        self.inner_mut().on_rto(now, flight, mss);
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.inner_mut().set_cwnd(cwnd);
    }
    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        self.inner_mut().restore(cwnd, ssthresh);
    }
}

/// RFC 5681 §3.1 equation 4 (and §3.2 step 2): ssthresh after a loss,
/// max(FlightSize / 2, 2·SMSS).
fn half_flight(flight: u32, mss: u32) -> u32 {
    (flight / 2).max(2 * mss)
}

/// Reno (RFC 5681), counting bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew
    /// (RFC 5681 §3.1's alternative to equation 3: one SMSS per cwnd of
    /// acknowledged bytes).
    acked: u32,
}

impl Reno {
    /// A connection's controller with initial window `iw` bytes.
    pub fn new(iw: u32) -> Reno {
        Reno {
            cwnd: iw.max(1),
            ssthresh: u32::MAX,
            acked: 0,
        }
    }
}

impl CongestionControl for Reno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, _: Instant, acked: u32, mss: u32, _: Option<Duration>) {
        if acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            // §3.1 equation 2: cwnd += min(N, SMSS).
            self.cwnd = self.cwnd.saturating_add(acked.min(mss));
            return;
        }
        // Congestion avoidance: one SMSS per window of acknowledged bytes.
        self.acked = self.acked.saturating_add(acked);
        if self.acked >= self.cwnd {
            self.acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(mss);
        }
    }

    fn on_loss(&mut self, _: Instant, flight: u32, mss: u32) {
        // §3.2 step 2.
        self.ssthresh = half_flight(flight, mss);
        self.acked = 0;
    }

    fn on_rto(&mut self, _: Instant, flight: u32, mss: u32) {
        self.ssthresh = half_flight(flight, mss);
        self.cwnd = mss;
        self.acked = 0;
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(1);
    }

    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = ssthresh;
        self.acked = 0;
    }
}

/// CUBIC's multiplicative decrease, β = 0.7, in thousandths (RFC 9438 §4.6).
const BETA_MILLI: u64 = 700;
/// CUBIC's C = 0.4 segments/s³ (RFC 9438 §5).
const C_MILLI: u128 = 400;

/// The integer cube root of `x`: the largest `r` with r³ ≤ x.
pub fn cube_root(x: u128) -> u128 {
    if x == 0 {
        return 0;
    }
    // Start above the root (2^(⌈bits/3⌉)) and descend by Newton's method.
    let bits = 128 - x.leading_zeros();
    let mut r: u128 = 1 << bits.div_ceil(3);
    loop {
        let next = (2 * r + x / (r * r)) / 3;
        if next >= r {
            break;
        }
        r = next;
    }
    while r * r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// CUBIC (RFC 9438), with fast convergence (§4.7) and the Reno-friendly
/// region (§4.3). Windows are kept in thousandths of a segment, times in
/// microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cubic {
    /// cwnd in bytes (what the connection sees).
    cwnd: u32,
    ssthresh: u32,
    /// W_max: the window before the last reduction, in milli-segments.
    w_max: u64,
    /// W_last_max for fast convergence, in milli-segments.
    w_last_max: u64,
    /// When the current congestion-avoidance epoch began.
    epoch: Option<Instant>,
    /// K, in microseconds.
    k_us: u64,
    /// The window at the start of the epoch, in milli-segments.
    w_epoch: u64,
    /// The Reno-friendly estimate W_est, in milli-segments.
    w_est: u64,
    /// Bytes acknowledged and not yet turned into window growth.
    acked: u64,
}

impl Cubic {
    /// A connection's controller with initial window `iw` bytes.
    pub fn new(iw: u32) -> Cubic {
        Cubic {
            cwnd: iw.max(1),
            ssthresh: u32::MAX,
            w_max: 0,
            w_last_max: 0,
            epoch: None,
            k_us: 0,
            w_epoch: 0,
            w_est: 0,
            acked: 0,
        }
    }

    /// W_cubic(t) = C·(t − K)³ + W_max (RFC 9438 §4.2), t in µs, in
    /// milli-segments (never below zero).
    fn w_cubic(&self, t_us: u64) -> u64 {
        let dt = i128::from(t_us) - i128::from(self.k_us);
        // C·dt³ segments with dt in µs: 0.4 · dt³ / 10¹⁸ segments
        // = 400 · dt³ / 10¹⁸ milli-segments.
        let cube = dt * dt * dt;
        let term = cube * C_MILLI as i128 / 1_000_000_000_000_000_000;
        (i128::from(self.w_max) + term).max(0) as u64
    }

    fn reduce(&mut self, mss: u32) {
        let mss64 = u64::from(mss.max(1));
        let w = u64::from(self.cwnd) * 1000 / mss64;
        // Fast convergence (§4.7): a window that stopped short of the
        // last maximum gives up more of it.
        self.w_max = if w < self.w_last_max {
            w * (1000 + BETA_MILLI) / 2000
        } else {
            w
        };
        self.w_last_max = w;
        // §4.6: ssthresh = cwnd · β, at least 2 segments; whole segments,
        // as RFC 9438 counts the window and Linux keeps it (`bictcp_recalc_ssthresh`:
        // 14 → 9, 12 → 8, 10 → 7 in `tests/data/linux/`).
        let ss = (w * BETA_MILLI / 1000 / 1000).max(2);
        self.ssthresh = (ss * mss64).min(u64::from(u32::MAX)) as u32;
        self.epoch = None;
        self.acked = 0;
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, acked: u32, mss: u32, srtt: Option<Duration>) {
        if acked == 0 {
            return;
        }
        let mss64 = u64::from(mss.max(1));
        if self.cwnd < self.ssthresh {
            // Slow start (RFC 9438 §4.10, RFC 5681): by the bytes acknowledged.
            self.cwnd = self
                .cwnd
                .saturating_add(acked.min(self.ssthresh - self.cwnd).max(1));
            return;
        }
        let w = u64::from(self.cwnd) * 1000 / mss64;
        let epoch = *self.epoch.get_or_insert_with(|| {
            // A new epoch (§4.2): K from W_max and the window now.
            self.w_epoch = w;
            self.w_est = w;
            let k_cubed_us3 = if self.w_max > w {
                // K³ = (W_max − cwnd_epoch) / C seconds³: in µs³,
                // (Δ/1000 segments) / 0.4 · 10¹⁸ = Δ · 2.5 · 10¹⁵.
                u128::from(self.w_max - w) * 2_500_000_000_000_000
            } else {
                0
            };
            self.k_us = cube_root(k_cubed_us3) as u64;
            if self.w_max < w {
                self.w_max = w;
            }
            now
        });
        let rtt_us = srtt.map_or(0, |d| d.as_nanos() / 1000);
        let t_us = now.saturating_duration_since(epoch).as_nanos() / 1000;
        // §4.3: W_est grows by α = 3(1 − β)/(1 + β) segments per window of
        // acknowledged segments.
        let alpha_milli = 3 * (1000 - BETA_MILLI) * 1000 / (1000 + BETA_MILLI);
        let acked_milli = u64::from(acked) * 1000 / mss64;
        self.w_est += alpha_milli * acked_milli / w.max(1);
        // §4.4: the target one RTT ahead, kept within [cwnd, 1.5·cwnd].
        let target = self.w_cubic(t_us + rtt_us).clamp(w, w + w / 2);
        let next = if self.w_cubic(t_us) < self.w_est {
            // The Reno-friendly region: at least what Reno would have.
            self.w_est.max(w)
        } else {
            // Concave or convex region: (target − cwnd)/cwnd segments per
            // acknowledged segment.
            self.acked += u64::from(acked);
            let grow = (target - w) * self.acked / (w * mss64 / 1000).max(1);
            if grow > 0 {
                self.acked = 0;
            }
            w + grow
        };
        self.cwnd = (next * mss64 / 1000).clamp(u64::from(self.cwnd), u64::from(u32::MAX)) as u32;
    }

    fn on_loss(&mut self, _: Instant, _flight: u32, mss: u32) {
        self.reduce(mss);
    }

    fn on_rto(&mut self, _: Instant, _flight: u32, mss: u32) {
        self.reduce(mss);
        self.cwnd = mss;
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(1);
    }

    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        // Linux `cubictcp_undo_cwnd`/`tcp_undo_cwnd_reduction`: the larger
        // of the window now and before; the last maximum as before.
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = ssthresh;
        self.w_max = self.w_last_max;
        self.epoch = None;
        self.acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1460;

    #[test]
    fn initial_windows() {
        // RFC 3390: min(4·1460 = 5840, max(2·1460 = 2920, 4380)) = 4380.
        assert_eq!(InitialCwnd::Rfc3390.bytes(1460), 4380);
        // At MSS 536: min(2144, max(1072, 4380)) = 2144 (4 segments).
        assert_eq!(InitialCwnd::Rfc3390.bytes(536), 2144);
        // At MSS 4000: min(16000, max(8000, 4380)) = 8000 (2 segments).
        assert_eq!(InitialCwnd::Rfc3390.bytes(4000), 8000);
        assert_eq!(InitialCwnd::Segments(10).bytes(1448), 14480);
    }

    #[test]
    fn cube_roots_are_exact_floors() {
        for (x, r) in [
            (0u128, 0u128),
            (1, 1),
            (7, 1),
            (8, 2),
            (26, 2),
            (27, 3),
            (1_000_000, 100),
        ] {
            assert_eq!(cube_root(x), r, "{x}");
        }
        let big = 123_456_789u128;
        assert_eq!(cube_root(big * big * big), big);
        assert_eq!(cube_root(big * big * big - 1), big - 1);
    }

    /// RFC 5681: slow start adds min(N, SMSS) per ACK; above ssthresh one
    /// SMSS per window; a timeout leaves ssthresh = max(flight/2, 2·SMSS)
    /// and cwnd = 1 SMSS; a fast retransmit cwnd = ssthresh + 3·SMSS.
    #[test]
    fn reno_follows_rfc_5681() {
        let t = Instant::ZERO;
        let mut r = Reno::new(InitialCwnd::Rfc3390.bytes(MSS));
        r.on_ack(t, 2 * MSS, MSS, None); // a stretch ACK still adds one SMSS
        assert_eq!(r.cwnd(), 4380 + MSS);
        r.on_rto(t, 10 * MSS, MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (MSS, 5 * MSS));
        r.on_rto(t, MSS, MSS);
        assert_eq!(r.ssthresh(), 2 * MSS, "never below 2 SMSS");
        let mut r = Reno::new(10 * MSS);
        r.on_loss(t, 10 * MSS, MSS);
        assert_eq!(
            (r.cwnd(), r.ssthresh()),
            (10 * MSS, 5 * MSS),
            "the window is recovery's"
        );
        // Congestion avoidance from cwnd = ssthresh = 5 MSS: five segments
        // acknowledged (one window) add one SMSS.
        let mut r = Reno::new(5 * MSS);
        r.ssthresh = 5 * MSS;
        for _ in 0..4 {
            r.on_ack(t, MSS, MSS, None);
        }
        assert_eq!(r.cwnd(), 5 * MSS);
        r.on_ack(t, MSS, MSS, None);
        assert_eq!(r.cwnd(), 6 * MSS);
    }

    /// RFC 9438: after a loss at W_max = 100 segments, cwnd = ssthresh =
    /// 70 segments, K = ∛(100 · 0.3 / 0.4) = ∛75 = 4.2172 s, W_cubic(0) =
    /// 70 and W_cubic(K) = 100.
    #[test]
    fn cubic_reduces_by_beta_and_returns_to_w_max_after_k() {
        let t = Instant::ZERO;
        let mut c = Cubic::new(100 * MSS);
        c.on_loss(t, 100 * MSS, MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        c.set_cwnd(c.ssthresh());
        // Start the epoch with an ACK at t = 0.
        c.on_ack(t, MSS, MSS, Some(Duration::from_millis(100)));
        // ∛75 s = 4.217163 s.
        assert_eq!(c.k_us / 1000, 4217);
        // W_cubic(0) = W_max − C·K³ = 100 − 30 = 70 (K floored to the µs,
        // so a hair above).
        assert_eq!(c.w_cubic(0) / 1000, 70);
        assert_eq!(c.w_cubic(c.k_us), 100_000);
        // Fast convergence: a loss below the last maximum (here 70 < 100)
        // sets W_max to 70 · (1 + 0.7) / 2 = 59.5 segments.
        let mut d = Cubic::new(70 * MSS);
        d.w_last_max = 100_000;
        d.on_loss(t, 70 * MSS, MSS);
        assert_eq!(d.w_max, 59_500);
        // ssthresh in whole segments: 14 · 0.7 = 9.8 → 9, 12 · 0.7 = 8.4
        // → 8, 10 · 0.7 = 7 (the kernel's values in tests/data/linux/README.md).
        for (w, ss) in [(14, 9), (12, 8), (10, 7), (2, 2)] {
            let mut e = Cubic::new(w * 1448);
            e.on_loss(t, w * 1448, 1448);
            assert_eq!(e.ssthresh(), ss * 1448, "{w}");
        }
    }

    #[test]
    fn cubic_grows_towards_w_max_and_beyond() {
        let rtt = Duration::from_millis(100);
        let mut c = Cubic::new(100 * MSS);
        c.on_loss(Instant::ZERO, 100 * MSS, MSS);
        c.set_cwnd(c.ssthresh());
        let mut now = Instant::ZERO;
        // One window of ACKs per RTT for 10 s; at K = 4.2 s (42 RTTs) the
        // window is back at W_max = 100 segments, the plateau, within the
        // lag of a one-RTT-ahead target (RFC 9438 §4.4).
        for round in 0..100 {
            if round == 43 {
                let w = c.cwnd() / MSS;
                assert!((97..=101).contains(&w), "{w} segments at K");
            }
            let w = c.cwnd() / MSS;
            for _ in 0..w {
                c.on_ack(now, MSS, MSS, Some(rtt));
            }
            now += rtt;
        }
        // Past K (4.2 s) the window has passed W_max = 100 segments and is
        // in the convex region; it never shrinks on ACKs.
        assert!(c.cwnd() > 100 * MSS, "{}", c.cwnd() / MSS);
        // W_cubic(10 s + RTT) = 0.4 · (10.1 − 4.2172)³ + 100 = 181.4 segments:
        // the window cannot have passed it.
        assert!(c.cwnd() <= 182 * MSS, "{}", c.cwnd() / MSS);
    }
}
