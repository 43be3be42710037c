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
    /// `acked` new bytes were acknowledged at `now` outside loss recovery;
    /// `min_rtt` is the least RTT measured so far, if any (CUBIC's
    /// `delay_min`).
    fn on_ack(&mut self, now: Instant, acked: u32, mss: u32, min_rtt: Option<Duration>);
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
    /// The controller `algorithm` names, with initial window `iw` bytes
    /// (CUBIC counts time in ticks of `tick`).
    pub fn new(
        algorithm: crate::config::CongestionAlgorithm,
        iw: u32,
        tick: Duration,
    ) -> Controller {
        match algorithm {
            crate::config::CongestionAlgorithm::Reno => Controller::Reno(Reno::new(iw)),
            crate::config::CongestionAlgorithm::Cubic => Controller::Cubic(Cubic::new(iw, tick)),
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

/// CUBIC's β in 1024ths, as Linux keeps it (`BICTCP_BETA_SCALE`, `beta`
/// 717 ≈ 0.7, RFC 9438 §4.6).
const BETA: u64 = 717;
/// CUBIC's C in 1024ths per second³: Linux's `bic_scale` 41 × 10 = 410 ≈
/// 0.4 (RFC 9438 §5).
const C_SCALED: u128 = 410;
/// Time in CUBIC's arithmetic: 1/1024 s (`BICTCP_HZ` = 10).
const TIME_SHIFT: u32 = 10;
/// The Reno-friendly region's ACKs per segment of growth, × 8: Linux's
/// `beta_scale` = 8·(1024 + β)/3/(1024 − β) = 15 (RFC 9438 §4.3's α =
/// 3(1 − β)/(1 + β) ≈ 0.53 segments per window).
const BETA_SCALE: u64 = 8 * (1024 + BETA) / 3 / (1024 - BETA);

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

/// CUBIC (RFC 9438) in the kernel's integer form (`net/ipv4/tcp_cubic.c`,
/// `bictcp_update` and `tcp_cong_avoid_ai`), HyStart left out: windows in
/// whole segments, time in 1/1024 s from the kernel's ticks, W_cubic(t) =
/// origin ± ⌊C·|t − K|³⌋, one segment per `cnt` acknowledged, `cnt` =
/// cwnd / (target − cwnd), at most 1.5× per RTT; the Reno-friendly estimate
/// (§4.3) one segment per 15/8 · cwnd acknowledged; fast convergence
/// (§4.7). The floor in the target is what lets the kernel's window grow
/// soon after a reduction (`tests/data/linux/data_two_holes.trace`: 8 → 9
/// within a round trip of the recovery's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cubic {
    /// cwnd in bytes (what the connection sees), whole segments.
    cwnd: u32,
    ssthresh: u32,
    /// The kernel's tick (`jiffies`), for the epoch and the once-per-tick
    /// rules.
    tick: Duration,
    /// `last_max_cwnd`, segments.
    last_max: u32,
    /// `epoch_start`, in ticks.
    epoch: Option<u64>,
    /// `bic_origin_point`, segments.
    origin: u32,
    /// `bic_K`, 1/1024 s.
    k: u64,
    /// `ack_cnt`: segments acknowledged in this epoch, for the Reno-friendly
    /// estimate.
    ack_cnt: u64,
    /// `tcp_cwnd`: the Reno-friendly estimate, segments.
    tcp_cwnd: u32,
    /// `cnt`: segments to acknowledge per segment of growth.
    cnt: u32,
    /// `snd_cwnd_cnt`: segments acknowledged towards the next growth.
    cwnd_cnt: u32,
    /// `last_cwnd`, `last_time` (ticks): when `cnt` was last worked out.
    last_cwnd: u32,
    last_time: u64,
}

impl Cubic {
    /// A connection's controller with initial window `iw` bytes, on a
    /// kernel with ticks of `tick` (Linux HZ = 250: 4 ms).
    pub fn new(iw: u32, tick: Duration) -> Cubic {
        Cubic {
            cwnd: iw.max(1),
            ssthresh: u32::MAX,
            tick: if tick == Duration::ZERO {
                Duration::from_millis(1)
            } else {
                tick
            },
            last_max: 0,
            epoch: None,
            origin: 0,
            k: 0,
            ack_cnt: 0,
            tcp_cwnd: 0,
            cnt: 0,
            cwnd_cnt: 0,
            last_cwnd: 0,
            last_time: 0,
        }
    }

    fn ticks(&self, t: Instant) -> u64 {
        t.as_nanos() / self.tick.as_nanos()
    }

    /// Ticks per second (HZ).
    fn hz(&self) -> u64 {
        (1_000_000_000 / self.tick.as_nanos()).max(1)
    }

    /// W_cubic one minimum RTT ahead and the growth rate it gives
    /// (`bictcp_update`), for a window of `w` segments after `acked` more.
    fn update(&mut self, now: Instant, w: u32, acked: u32, min_rtt: Option<Duration>) {
        self.ack_cnt += u64::from(acked);
        let now_t = self.ticks(now);
        if self.last_cwnd == w && now_t.saturating_sub(self.last_time) <= self.hz() / 32 {
            return;
        }
        if !(self.epoch.is_some() && now_t == self.last_time) {
            self.last_cwnd = w;
            self.last_time = now_t;
            let epoch = *self.epoch.get_or_insert_with(|| {
                self.ack_cnt = u64::from(acked);
                self.tcp_cwnd = w;
                if self.last_max <= w {
                    self.k = 0;
                    self.origin = w;
                } else {
                    // K = ∛((W_max − cwnd) / C), in 1/1024 s.
                    let factor = (1u128 << (TIME_SHIFT + 3 * TIME_SHIFT)) / C_SCALED;
                    self.k = cube_root(factor * u128::from(self.last_max - w)) as u64;
                    self.origin = self.last_max;
                }
                now_t
            });
            let rtt_ticks = min_rtt.map_or(0, |d| d.as_nanos().div_ceil(self.tick.as_nanos()));
            let t = ((now_t - epoch + rtt_ticks) << TIME_SHIFT) / self.hz();
            let offs = u128::from(t.abs_diff(self.k));
            let delta = ((C_SCALED * offs * offs * offs) >> (TIME_SHIFT + 3 * TIME_SHIFT)) as u64;
            let origin = u64::from(self.origin);
            let target = if t < self.k {
                origin.saturating_sub(delta)
            } else {
                origin + delta
            };
            let w64 = u64::from(w);
            self.cnt = if target > w64 {
                (w64 / (target - w64)) as u32
            } else {
                100 * w
            };
            if self.last_max == 0 && self.cnt > 20 {
                self.cnt = 20; // 5 % per RTT while nothing is known
            }
        }
        // The Reno-friendly region (RFC 9438 §4.3).
        let delta = (u64::from(w) * BETA_SCALE) >> 3;
        if delta > 0 {
            while self.ack_cnt > delta {
                self.ack_cnt -= delta;
                self.tcp_cwnd += 1;
            }
        }
        if self.tcp_cwnd > w {
            let max_cnt = w / (self.tcp_cwnd - w);
            self.cnt = self.cnt.min(max_cnt);
        }
        self.cnt = self.cnt.max(2);
    }

    /// The multiplicative decrease and fast convergence
    /// (`bictcp_recalc_ssthresh`).
    fn reduce(&mut self, mss: u32) {
        let mss = mss.max(1);
        let w = (self.cwnd / mss).max(1);
        self.epoch = None;
        self.last_max = if w < self.last_max {
            (u64::from(w) * (1024 + BETA) / 2048) as u32
        } else {
            w
        };
        let ss = ((u64::from(w) * BETA / 1024) as u32).max(2);
        self.ssthresh = ss.saturating_mul(mss);
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, acked: u32, mss: u32, min_rtt: Option<Duration>) {
        if acked == 0 {
            return;
        }
        let mss = mss.max(1);
        let mut acked = (acked / mss).max(1);
        let mut w = (self.cwnd / mss).max(1);
        let ss = self.ssthresh / mss;
        if w < ss {
            // Slow start (`tcp_slow_start`): every segment acknowledged,
            // up to ssthresh; the rest goes on below.
            let grown = w.saturating_add(acked).min(ss);
            acked -= grown - w;
            w = grown;
            self.cwnd = w.saturating_mul(mss);
            if acked == 0 {
                return;
            }
        }
        self.update(now, w, acked, min_rtt);
        // `tcp_cong_avoid_ai`: one segment per `cnt` acknowledged.
        let cnt = self.cnt.max(1);
        if self.cwnd_cnt >= cnt {
            self.cwnd_cnt = 0;
            w += 1;
        }
        self.cwnd_cnt += acked;
        if self.cwnd_cnt >= cnt {
            let d = self.cwnd_cnt / cnt;
            self.cwnd_cnt -= d * cnt;
            w += d;
        }
        self.cwnd = w.saturating_mul(mss);
    }

    fn on_loss(&mut self, _: Instant, _flight: u32, mss: u32) {
        self.reduce(mss);
    }

    fn on_rto(&mut self, _: Instant, _flight: u32, mss: u32) {
        self.reduce(mss);
        // `tcp_enter_loss`: the loss window; CUBIC starts over
        // (`bictcp_reset` on TCP_CA_Loss), its last maximum forgotten.
        let ss = self.ssthresh;
        *self = Cubic {
            ssthresh: ss,
            cwnd: mss.max(1),
            ..Cubic::new(mss, self.tick)
        };
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(1);
    }

    fn restore(&mut self, cwnd: u32, ssthresh: u32) {
        // `tcp_undo_cwnd_reduction` with `tcp_reno_undo_cwnd`: the larger
        // of the window now and before, the threshold as before.
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = ssthresh;
        self.epoch = None;
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

    const TICK: Duration = Duration::from_millis(4);

    /// RFC 9438 in the kernel's integers: after a loss at W_max = 100
    /// segments, ssthresh = ⌊100 · 717/1024⌋ = 70; K = ∛(30 / C) with C =
    /// 410/1024: ∛74.93 = 4.2155 s, in 1/1024 s ⌊4316.7⌋; fast convergence
    /// below the last maximum: W_max = ⌊70 · 1741/2048⌋ = 59.
    #[test]
    fn cubic_reduces_by_beta_with_fast_convergence() {
        let t = Instant::ZERO;
        let mut c = Cubic::new(100 * MSS, TICK);
        c.on_loss(t, 100 * MSS, MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert_eq!(c.last_max, 100);
        c.set_cwnd(c.ssthresh());
        c.on_ack(t, MSS, MSS, Some(Duration::from_millis(100)));
        assert_eq!(c.origin, 100);
        assert_eq!(c.k, 4316);
        c.on_loss(t, 70 * MSS, MSS);
        assert_eq!(c.last_max, 59, "fast convergence");
        // ssthresh in whole segments: 14 · 0.7 = 9.8 → 9, 12 · 0.7 = 8.4
        // → 8, 10 · 0.7 = 7 (the kernel's values in tests/data/linux/README.md).
        for (w, ss) in [(14, 9), (12, 8), (10, 7), (2, 2)] {
            let mut e = Cubic::new(w * 1448, TICK);
            e.on_loss(t, w * 1448, 1448);
            assert_eq!(e.ssthresh(), ss * 1448, "{w}");
        }
    }

    /// Right after a reduction from 12 to 8 segments (K = ∛(4 / C) =
    /// 2.153 s), one RTT (20 ms) into the epoch the target is 12 −
    /// ⌊C · (2.153 − 0.020)³⌋ = 12 − ⌊3.89⌋ = 9 > 8, so cnt = 8 / (9 − 8)
    /// = 8: the window grows by one segment per 8 acknowledged, as the
    /// kernel's did in `tests/data/linux/data_two_holes.trace` (8 → 9).
    #[test]
    fn cubic_grows_a_segment_per_cnt_acked_after_a_reduction() {
        let mut c = Cubic::new(12 * MSS, TICK);
        c.on_loss(Instant::ZERO, 12 * MSS, MSS);
        c.set_cwnd(c.ssthresh());
        assert_eq!(c.cwnd(), 8 * MSS);
        let rtt = Some(Duration::from_millis(20));
        let t = Instant::from_millis(100);
        for n in 1..=8 {
            c.on_ack(t, MSS, MSS, rtt);
            assert_eq!(c.cnt, 8, "after {n}");
            let want = if n < 8 { 8 } else { 9 };
            assert_eq!(c.cwnd(), want * MSS, "after {n} segments acknowledged");
        }
    }

    #[test]
    fn cubic_grows_towards_w_max_and_beyond() {
        let rtt = Duration::from_millis(100);
        let mut c = Cubic::new(100 * MSS, TICK);
        c.on_loss(Instant::ZERO, 100 * MSS, MSS);
        c.set_cwnd(c.ssthresh());
        let mut now = Instant::ZERO;
        // One window of ACKs per RTT for 10 s; at K = 4.2 s (42 RTTs) the
        // window is back near W_max = 100 segments, the plateau.
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
        // Past K the window has passed W_max and is in the convex region;
        // W_cubic(10 s + RTT) = 0.4 · (10.1 − 4.2155)³ + 100 = 181.5
        // segments: it cannot have passed that.
        assert!(c.cwnd() > 100 * MSS, "{}", c.cwnd() / MSS);
        assert!(c.cwnd() <= 182 * MSS, "{}", c.cwnd() / MSS);
    }
}
