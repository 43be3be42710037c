//! One direction of a link: netem's impairments, packet by packet.
//!
//! A [`Link`] decides, when a packet enters it, what becomes of the packet:
//! delivered at some instant (possibly with one bit flipped), or dropped, and
//! whether a duplicate is made and what becomes of that. It implements the
//! per-packet logic of Linux netem (`netem_enqueue` in
//! `net/sched/sch_netem.c`, as in Linux 6.18) on virtual time, with the
//! parameters of an experiment file's `[[links]]` table ([`LinkParams`]). It
//! holds no packets: the caller keeps them and schedules each delivery at the
//! [`Fate`]'s instant.
//!
//! ```
//! use tcpsim_net::link::{Fate, Link, LinkParams};
//! use tcpsim_net::rng::stream;
//! use tcpsim_tcp::{Duration, Instant};
//!
//! let params = LinkParams {
//!     delay: Duration::from_millis(50),
//!     rate_bps: Some(10_000_000),
//!     ..LinkParams::default()
//! };
//! let mut link = Link::new(params, stream(1, "link:client->server")).unwrap();
//! // 1500 bytes at 10 Mbit/s take 1.2 ms to serialize, after 50 ms of delay.
//! let v = link.enqueue(Instant::ZERO, 1500);
//! assert_eq!(v.original, Fate::Deliver { at: Instant::from_nanos(51_200_000), corrupt_bit: None });
//! assert_eq!(v.copy, None);
//! ```
//!
//! # The pipeline
//!
//! [`Link::enqueue`] takes the steps of `netem_enqueue`, in its order, and
//! makes the same random draws in the same order (each "draw" is one value
//! from the link's own stream; a step whose feature is off draws nothing,
//! as in netem):
//!
//! 1. **Duplicate** — if `duplicate > 0`, one draw decides whether to make a
//!    copy (netem's `count` goes from 1 to 2).
//! 2. **Loss** — [`Loss::Bernoulli`]: one draw if `p > 0`;
//!    [`Loss::GilbertElliott`]: always two (below). A loss decrements the
//!    count: an unduplicated packet is dropped ([`DropReason::Loss`]) and
//!    nothing else happens; a duplicated one just loses its extra copy, which
//!    is reported as `copy: Some(Drop(Loss))`.
//! 3. **Corrupt** — if `corrupt > 0`, one draw; on a hit, and if the packet is
//!    not empty, a random byte (`get_random_u32_below(len)`) and a random bit
//!    in it (`below(8)`), reported as [`Fate::Deliver::corrupt_bit`]. The copy,
//!    cloned before this step, is not affected.
//! 4. **Queue limit** — if `queue` packets are already inside the link, the
//!    packet is tail-dropped ([`DropReason::Queue`]), and so is its copy if
//!    one was made.
//! 5. **The copy** — a copy made in step 1 is now sent through the whole
//!    pipeline itself, with duplication off: its own loss, corrupt and queue
//!    steps and its own reorder/delay draws (netem re-enqueues the clone at
//!    the root qdisc at this point). It therefore takes its place in the
//!    queue, and in the rate limiter, ahead of the original. This is the
//!    order since Linux commit c07ff8592d57 ("netem: fix return value if
//!    duplicate enqueue fails", Linux 6.11, also backported to stable
//!    series such as 6.1); older kernels enqueued the copy right after step
//!    2, before the original's corrupt draw and queue check, and kept it
//!    when the original was tail-dropped.
//! 6. **Reorder or delay** — if `reorder > 0` and at least `reorder_gap − 1`
//!    packets have been delayed since the last reordered one, one draw
//!    decides whether to reorder: a reordered packet is sent at once
//!    (`at = now`), skipping delay, jitter and rate, and the counter restarts
//!    at 0. Otherwise the packet is delayed: one draw for the jitter if
//!    `jitter > 0` (see [`Distribution`]), a negative result clamped to 0,
//!    then the rate limit, and the counter is incremented.
//!
//! ## Gilbert-Elliott loss
//!
//! As netem's `loss_gilb_ell`: a two-state chain, Good and Bad, starting in
//! Good. For each packet, a first draw makes the transition (Good→Bad with
//! probability `p`, Bad→Good with `r`), then a second draw decides the loss
//! with the probability of the state the packet *arrived in*, before the
//! transition: `1 − k` in Good, `1 − h` in Bad. With `h = 0, k = 1` (the
//! Gilbert model) the packets lost are exactly those that arrive in Bad:
//! bursts have a geometric length of mean `1/r` and the long-run loss rate is
//! `p/(p+r)`. `tc`'s `loss gemodel P R 1-H 1-K` takes the complements of `h`
//! and `k`; here the fields are `h` and `k` themselves.
//!
//! ## Rate
//!
//! With `rate_bps`, a packet of `len` bytes needs `len·8·10⁹/rate_bps`
//! nanoseconds on the wire, computed in 128-bit integers and rounded down
//! (netem's `div64_u64`). netem serializes behind the packet that leaves
//! last: if one is still inside the link, the new packet's delay is reduced
//! by the time that one still has to wait (not below zero) and counted from
//! its departure. Put together, `at = max(last, now + delay) + len·8·10⁹/rate`,
//! where `last` is the latest departure of a packet still in the link.
//! Back-to-back 1500-byte packets at 10 Mbit/s with 50 ms delay leave at
//! 51.2, 52.4, 53.6 ms.
//!
//! ## Queue limit
//!
//! As in netem, `queue` counts every packet inside the link, whether it waits
//! for the wire or only out its propagation delay: a packet is inside from
//! its `enqueue` until its `at` (a packet whose `at` is the current instant
//! has left). With a large bandwidth-delay product, raise `queue`. As in
//! netem, a copy is checked against the queue before its original is added,
//! so a duplicate can take the link one packet over the limit.
//!
//! ## Probabilities
//!
//! A probability `p` becomes a threshold `round(p·2³²)` and an event happens
//! when a uniform 32-bit draw is below it: exactly `p` to within 2⁻³³, never
//! for `p = 0`, always for `p = 1`.
//!
//! # Differences from netem
//!
//! - **Random source**: one seeded ChaCha8 stream per link direction
//!   ([`crate::rng`]) instead of netem's `prandom` state. netem draws the
//!   corrupted byte and bit from the kernel's global generator; here they come
//!   from the link's stream like everything else, so a run replays exactly.
//! - **Thresholds**: netem stores `rint(p·(2³²−1))` and tests
//!   `draw <= threshold` (so `p > 0` happens with probability
//!   `p + 2⁻³²`); here `draw < round(p·2³²)`, which is exact. netem's
//!   Gilbert-Elliott Bad state tests `draw > h`; here `draw < round((1−h)·2³²)`.
//! - **Jitter**: netem's delay tables are 4096-point approximations read with
//!   a 32-bit draw; here the continuous quantile function the table samples
//!   is evaluated at a 52-bit uniform (see [`Distribution`]). Uniform jitter
//!   uses a 64-bit draw scaled without modulo bias, where netem takes a 32-bit
//!   draw modulo `2·jitter`. netem caps `jitter` at 2³¹−1 ns (2.1 s); here it
//!   is not capped.
//! - **Negative delays**: a jittered delay below zero is clamped to zero
//!   before the rate is applied. netem adds the serialization time to the
//!   negative delay when the link is empty, so it can release a packet
//!   before its serialization would have finished.
//! - **Lengths**: `len` is the IPv4 packet length. netem's rate counts the
//!   length the qdisc sees (with the Ethernet header on Ethernet devices)
//!   plus optional `packet_overhead`/`cell_size`, which are not modelled.
//! - **Not modelled**: correlation (`delay 10ms 5ms 25%`, `loss 1% 25%` and
//!   the like), ECN marking instead of loss, the 4-state (GI) loss model,
//!   `slot`, custom distribution tables, GSO segmentation before corruption.
//! - **Reorder off**: `reorder = 0` disables reordering whatever
//!   `reorder_gap` is (netem's `gap 0`, which `tc` chooses when no reorder
//!   probability is given). netem still counts delayed packets then; the
//!   count matters only when reordering is on.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use tcpsim_tcp::{Duration, Instant};
use thiserror::Error;

use crate::dist;

/// The shape of the jitter around `delay`, as netem's `distribution` option.
///
/// `jitter` is the scale in every case. For the table-based shapes the delay
/// is `delay + jitter·t`, where `t` is the standardized variate that the
/// iproute2 table of that name samples (`netem/normal.c`, `pareto.c`,
/// `paretonormal.c`; netem computes `delay + jitter·entry/8192`), drawn here
/// by inverse CDF from one uniform draw and clamped to [−4, 32767/8192] as a
/// table entry is. A negative delay becomes 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// netem without a table: uniform in `[delay − jitter, delay + jitter)`,
    /// mean `delay`, standard deviation `jitter/√3`.
    #[default]
    Uniform,
    /// `t = Φ⁻¹(u)`: mean `delay`, standard deviation `jitter`.
    Normal,
    /// iproute2's pareto table: `t = min((4/3)·(u^(−1/3) − 1.5), 32767/8192)`,
    /// a Pareto of shape 3 centred on its mean 1.5 and scaled by 4/3, capped
    /// by the table's `i16` range. With the cap `c = 1.5 + 0.75·32767/8192`,
    /// `t` has mean `(4/3)·(−1/(2c²))` ≈ −0.0329 and standard deviation
    /// `(4/3)·√(3 − 2/c − (1.5 − 1/(2c²))²)` ≈ 0.821; its minimum is −2/3.
    Pareto,
    /// iproute2's paretonormal table: `t = ¼·Φ⁻¹(q) + ¾·pareto(q)` at one
    /// quantile `q` for both (a blend of quantile functions, as iproute2
    /// builds it), ranging over [−1.5, 32767/8192].
    ParetoNormal,
}

impl Distribution {
    /// The name used in experiment files.
    pub const fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
            Distribution::ParetoNormal => "paretonormal",
        }
    }
}

/// The packet-loss model of one link direction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Loss {
    /// No random loss.
    #[default]
    None,
    /// Each packet is lost independently with this probability.
    Bernoulli(f64),
    /// netem's Gilbert-Elliott model (see the module docs): a Good and a Bad
    /// state, starting in Good.
    GilbertElliott {
        /// Probability of moving from Good to Bad, per packet.
        p: f64,
        /// Probability of moving from Bad to Good, per packet.
        r: f64,
        /// Probability that a packet arriving in Bad gets through (loss `1 − h`).
        h: f64,
        /// Probability that a packet arriving in Good gets through (loss `1 − k`).
        k: f64,
    },
}

/// The settings of one link direction: the `[[links]]` table of an
/// experiment file, with its defaults.
///
/// | field | default |
/// |---|---|
/// | `delay`, `jitter` | 0 |
/// | `distribution` | [`Distribution::Uniform`] |
/// | `loss` | [`Loss::None`] |
/// | `duplicate`, `corrupt`, `reorder` | 0 |
/// | `reorder_gap` | 1 |
/// | `rate_bps` | `None` (unlimited) |
/// | `queue` | 1000 packets |
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// Base one-way delay.
    pub delay: Duration,
    /// Spread around `delay`; its meaning depends on `distribution`.
    pub jitter: Duration,
    /// Shape of the jitter.
    pub distribution: Distribution,
    /// Random loss model.
    pub loss: Loss,
    /// Probability that a packet is duplicated.
    pub duplicate: f64,
    /// Probability that one random bit of a packet is flipped.
    pub corrupt: f64,
    /// Probability that an eligible packet skips the delay (netem `reorder`);
    /// 0 disables reordering.
    pub reorder: f64,
    /// A packet is eligible for reordering only after `reorder_gap − 1`
    /// delayed packets since the last reordered one (netem `gap`); at least 1.
    pub reorder_gap: u32,
    /// Serialization rate in bits per second; `None` for unlimited.
    pub rate_bps: Option<u64>,
    /// Maximum number of packets inside the link (tail drop beyond); at least 1.
    pub queue: u32,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            distribution: Distribution::Uniform,
            loss: Loss::None,
            duplicate: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            reorder_gap: 1,
            rate_bps: None,
            queue: 1000,
        }
    }
}

/// Why a [`LinkParams`] cannot be used.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum LinkParamsError {
    /// A probability (`duplicate`, `corrupt`, `reorder`, `loss` or one of the
    /// Gilbert-Elliott parameters) is outside [0, 1] or not a number.
    #[error("{field} must be a probability between 0 and 1, got {value}")]
    NotAProbability {
        /// The parameter, as named in the experiment file (`loss.p` for a
        /// Gilbert-Elliott parameter).
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// `reorder_gap` is 0.
    #[error("reorder_gap must be at least 1, got 0")]
    ZeroReorderGap,
    /// `queue` is 0: the link could hold no packet.
    #[error("queue must hold at least 1 packet, got 0")]
    ZeroQueue,
    /// `rate_bps` is `Some(0)`: nothing could be sent.
    #[error("rate must be more than 0 bit/s (omit it for an unlimited link)")]
    ZeroRate,
}

impl LinkParams {
    /// Checks that every probability is in [0, 1], `reorder_gap` and `queue`
    /// are at least 1, and a rate, if given, is positive.
    pub fn validate(&self) -> Result<(), LinkParamsError> {
        fn probability(field: &'static str, value: f64) -> Result<(), LinkParamsError> {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(LinkParamsError::NotAProbability { field, value })
            }
        }
        match self.loss {
            Loss::None => {}
            Loss::Bernoulli(p) => probability("loss", p)?,
            Loss::GilbertElliott { p, r, h, k } => {
                probability("loss.p", p)?;
                probability("loss.r", r)?;
                probability("loss.h", h)?;
                probability("loss.k", k)?;
            }
        }
        probability("duplicate", self.duplicate)?;
        probability("corrupt", self.corrupt)?;
        probability("reorder", self.reorder)?;
        if self.reorder_gap == 0 {
            return Err(LinkParamsError::ZeroReorderGap);
        }
        if self.queue == 0 {
            return Err(LinkParamsError::ZeroQueue);
        }
        if self.rate_bps == Some(0) {
            return Err(LinkParamsError::ZeroRate);
        }
        Ok(())
    }
}

/// Why a link dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random loss (the `loss` model).
    Loss,
    /// Tail drop: the link already held `queue` packets.
    Queue,
}

/// What becomes of one packet (or copy) that entered a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// The packet reaches the far end.
    Deliver {
        /// When it arrives; never before the instant it entered.
        at: Instant,
        /// The bit to flip before delivery, if the packet is corrupted: bit
        /// `corrupt_bit % 8` (0 = least significant) of byte
        /// `corrupt_bit / 8`, always below `len·8`.
        corrupt_bit: Option<u32>,
    },
    /// The packet is dropped at the link's entrance, at the instant it entered.
    Drop(DropReason),
}

/// The fates of a packet and of its duplicate, if one was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Verdicts {
    /// The packet itself.
    pub original: Fate,
    /// `Some` exactly when the duplicate draw hit. It is `Drop(Loss)` when the
    /// loss step took the extra copy (netem's count going from 2 to 1), and
    /// `Drop(Queue)` when the original was tail-dropped.
    pub copy: Option<Fate>,
}

/// A probability as a threshold out of 2³²: an event happens when a uniform
/// 32-bit draw is below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Threshold(u64);

impl Threshold {
    /// `round(p·2³²)`; `p` must be in [0, 1] (checked by [`LinkParams::validate`]).
    fn new(p: f64) -> Self {
        // p·2^32 is exact (a power-of-two scale); rounding is exact too.
        Threshold(libm::round(p * 4_294_967_296.0) as u64)
    }

    fn is_never(self) -> bool {
        self.0 == 0
    }

    fn hit(self, draw: u32) -> bool {
        u64::from(draw) < self.0
    }
}

/// The loss model with its probabilities as thresholds.
#[derive(Clone, Copy, Debug)]
enum LossModel {
    Bernoulli(Threshold),
    GilbertElliott {
        to_bad: Threshold,
        to_good: Threshold,
        loss_in_bad: Threshold,
        loss_in_good: Threshold,
    },
}

/// Whether a copy was made, and if so whether it still travels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CopyState {
    None,
    /// The loss step took the extra copy.
    Lost,
    /// The copy goes through the pipeline after the original's queue check.
    Pending,
}

/// One direction of a link, with its own random stream and state (see the
/// module docs for the semantics).
#[derive(Clone, Debug)]
pub struct Link {
    params: LinkParams,
    rng: ChaCha8Rng,
    duplicate: Threshold,
    corrupt: Threshold,
    reorder: Threshold,
    loss: LossModel,
    /// Gilbert-Elliott state: `true` in Bad.
    ge_bad: bool,
    /// Packets delayed since the last reordered one (netem's `counter`).
    reorder_counter: u32,
    /// The latest departure of any packet scheduled so far.
    last_time_to_send: Option<Instant>,
    /// Departure times of the packets still inside the link (a min-heap);
    /// its capacity is reused, so steady state allocates nothing.
    in_queue: BinaryHeap<Reverse<Instant>>,
}

impl Link {
    /// A link direction with `params`, drawing from `rng` (normally
    /// [`crate::rng::stream`]`(seed, "link:a->b")`).
    pub fn new(params: LinkParams, rng: ChaCha8Rng) -> Result<Link, LinkParamsError> {
        params.validate()?;
        let loss = match params.loss {
            Loss::None => LossModel::Bernoulli(Threshold(0)),
            Loss::Bernoulli(p) => LossModel::Bernoulli(Threshold::new(p)),
            Loss::GilbertElliott { p, r, h, k } => LossModel::GilbertElliott {
                to_bad: Threshold::new(p),
                to_good: Threshold::new(r),
                loss_in_bad: Threshold::new(1.0 - h),
                loss_in_good: Threshold::new(1.0 - k),
            },
        };
        Ok(Link {
            duplicate: Threshold::new(params.duplicate),
            corrupt: Threshold::new(params.corrupt),
            reorder: Threshold::new(params.reorder),
            loss,
            ge_bad: false,
            reorder_counter: 0,
            last_time_to_send: None,
            in_queue: BinaryHeap::new(),
            rng,
            params,
        })
    }

    /// This link, in its initial state, drawing from `rng` instead: what a
    /// new run of the same link needs, without checking the parameters again.
    pub fn with_rng(&self, rng: ChaCha8Rng) -> Link {
        Link {
            params: self.params.clone(),
            rng,
            duplicate: self.duplicate,
            corrupt: self.corrupt,
            reorder: self.reorder,
            loss: self.loss,
            ge_bad: false,
            reorder_counter: 0,
            last_time_to_send: None,
            in_queue: BinaryHeap::new(),
        }
    }

    /// Whether this link ever draws from its random stream (some
    /// impairment is on). A link that never draws needs no new stream for
    /// a new run.
    pub(crate) fn draws(&self) -> bool {
        let loss = match self.loss {
            LossModel::Bernoulli(p) => !p.is_never(),
            LossModel::GilbertElliott { .. } => true,
        };
        loss || !self.duplicate.is_never()
            || !self.corrupt.is_never()
            || !self.reorder.is_never()
            || self.params.jitter != Duration::ZERO
    }

    /// Back to the initial state, keeping its buffer, drawing from `rng`
    /// (`None` for a link that never draws: its stream does not matter).
    pub(crate) fn reset(&mut self, rng: Option<ChaCha8Rng>) {
        if let Some(rng) = rng {
            self.rng = rng;
        }
        self.ge_bad = false;
        self.reorder_counter = 0;
        self.last_time_to_send = None;
        self.in_queue.clear();
    }

    /// The parameters this link was built with.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// The number of packets inside the link at `now` (entered and not yet
    /// arrived), as the queue limit counts them.
    pub fn occupancy(&mut self, now: Instant) -> usize {
        self.release(now);
        self.in_queue.len()
    }

    /// A packet of `len` bytes (its IPv4 length) enters the link at `now`:
    /// its fate, and its duplicate's if one is made.
    ///
    /// `now` must not go backwards from one call to the next.
    pub fn enqueue(&mut self, now: Instant, len: usize) -> Verdicts {
        self.release(now);

        // 1. Duplicate.
        let duplicated = !self.duplicate.is_never() && self.duplicate.hit(self.rng.next_u32());
        // 2. Loss: takes the extra copy first.
        let copy = match (duplicated, self.loss_event()) {
            (false, false) => CopyState::None,
            (false, true) => {
                return Verdicts {
                    original: Fate::Drop(DropReason::Loss),
                    copy: None,
                };
            }
            (true, true) => CopyState::Lost,
            (true, false) => CopyState::Pending,
        };
        // 3. Corrupt.
        let corrupt_bit = self.corrupt_event(len);
        // 4. Queue limit: the clone goes with the original.
        if self.queue_full() {
            return Verdicts {
                original: Fate::Drop(DropReason::Queue),
                copy: match copy {
                    CopyState::None => None,
                    CopyState::Lost => Some(Fate::Drop(DropReason::Loss)),
                    CopyState::Pending => Some(Fate::Drop(DropReason::Queue)),
                },
            };
        }
        // 5. The copy goes through the whole pipeline, without duplication.
        let copy = match copy {
            CopyState::None => None,
            CopyState::Lost => Some(Fate::Drop(DropReason::Loss)),
            CopyState::Pending => Some(self.enqueue_copy(now, len)),
        };
        // 6. Reorder or delay.
        Verdicts {
            original: self.schedule(now, len, corrupt_bit),
            copy,
        }
    }

    /// Steps 2 to 6 for a duplicate.
    fn enqueue_copy(&mut self, now: Instant, len: usize) -> Fate {
        if self.loss_event() {
            return Fate::Drop(DropReason::Loss);
        }
        let corrupt_bit = self.corrupt_event(len);
        if self.queue_full() {
            return Fate::Drop(DropReason::Queue);
        }
        self.schedule(now, len, corrupt_bit)
    }

    /// Forgets the packets that have left the link by `now`.
    fn release(&mut self, now: Instant) {
        while let Some(&Reverse(at)) = self.in_queue.peek() {
            if at > now {
                break;
            }
            self.in_queue.pop();
        }
    }

    fn queue_full(&self) -> bool {
        self.in_queue.len() >= self.params.queue as usize
    }

    /// netem's `loss_event`.
    fn loss_event(&mut self) -> bool {
        match self.loss {
            LossModel::Bernoulli(p) => !p.is_never() && p.hit(self.rng.next_u32()),
            LossModel::GilbertElliott {
                to_bad,
                to_good,
                loss_in_bad,
                loss_in_good,
            } => {
                let transition = self.rng.next_u32();
                let loss = self.rng.next_u32();
                // The loss uses the state the packet arrived in.
                if self.ge_bad {
                    if to_good.hit(transition) {
                        self.ge_bad = false;
                    }
                    loss_in_bad.hit(loss)
                } else {
                    if to_bad.hit(transition) {
                        self.ge_bad = true;
                    }
                    loss_in_good.hit(loss)
                }
            }
        }
    }

    /// The corruption draw and, on a hit, the bit to flip.
    fn corrupt_event(&mut self, len: usize) -> Option<u32> {
        if self.corrupt.is_never() || !self.corrupt.hit(self.rng.next_u32()) || len == 0 {
            return None;
        }
        // Bit indices are u32: beyond 512 MiB only the first 512 MiB are hit.
        let bytes = u32::try_from(len).unwrap_or(u32::MAX).min(u32::MAX / 8);
        let byte = below(&mut self.rng, bytes);
        let bit = below(&mut self.rng, 8);
        Some(byte * 8 + bit)
    }

    /// Step 6: reorder, or delay with jitter and rate.
    fn schedule(&mut self, now: Instant, len: usize, corrupt_bit: Option<u32>) -> Fate {
        let eligible = !self.reorder.is_never()
            && self.reorder_counter >= self.params.reorder_gap - 1
            && self.reorder.hit(self.rng.next_u32());
        if eligible {
            self.reorder_counter = 0;
            return Fate::Deliver {
                at: now,
                corrupt_bit,
            };
        }

        let mut at = now + self.draw_delay();
        if let Some(rate) = self.params.rate_bps {
            if let Some(last) = self.last_time_to_send.filter(|&last| last > now) {
                at = at.max(last);
            }
            at += serialization(len, rate);
        }
        self.reorder_counter = self.reorder_counter.saturating_add(1);
        if at > now {
            self.in_queue.push(Reverse(at));
        }
        self.last_time_to_send = Some(self.last_time_to_send.map_or(at, |last| last.max(at)));
        Fate::Deliver { at, corrupt_bit }
    }

    /// netem's `tabledist`: `delay` when there is no jitter (no draw), else
    /// one draw shaped by the distribution; never negative.
    fn draw_delay(&mut self) -> Duration {
        let jitter = self.params.jitter.as_nanos();
        if jitter == 0 {
            return self.params.delay;
        }
        let bits = self.rng.next_u64();
        let offset: i128 = match self.params.distribution {
            // (bits·2·jitter) >> 64, uniform in [0, 2·jitter), minus jitter.
            Distribution::Uniform => {
                ((u128::from(bits) * u128::from(jitter)) >> 63) as i128 - i128::from(jitter)
            }
            shape => {
                let u = dist::open_unit(bits);
                let t = match shape {
                    Distribution::Normal => dist::normal(u),
                    Distribution::Pareto => dist::pareto(u),
                    _ => dist::paretonormal(u),
                };
                // |t| ≤ 4, so the product fits; the cast saturates anyway.
                libm::round(t * jitter as f64) as i128
            }
        };
        let ns = (i128::from(self.params.delay.as_nanos()) + offset).clamp(0, i128::from(u64::MAX));
        Duration::from_nanos(ns as u64)
    }
}

/// Time on the wire of `len` bytes at `rate_bps`, rounded down, saturating.
fn serialization(len: usize, rate_bps: u64) -> Duration {
    let ns = (len as u128) * 8 * 1_000_000_000 / u128::from(rate_bps);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// A uniform integer in `0..n` (`n > 0`) without bias: Lemire's
/// multiply-and-reject, as the kernel's `get_random_u32_below`.
fn below(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    let mut product = u64::from(rng.next_u32()) * u64::from(n);
    if (product as u32) < n {
        let reject_below = n.wrapping_neg() % n;
        while (product as u32) < reject_below {
            product = u64::from(rng.next_u32()) * u64::from(n);
        }
    }
    (product >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn threshold_edges() {
        // p = 0 never happens, p = 1 always does, even at the extreme draws.
        assert!(!Threshold::new(0.0).hit(0));
        assert!(!Threshold::new(0.0).hit(u32::MAX));
        assert!(Threshold::new(1.0).hit(0));
        assert!(Threshold::new(1.0).hit(u32::MAX));
        // p = 1/2 is 2^31: draws 0 ..= 2^31 − 1 hit, exactly half.
        assert!(Threshold::new(0.5).hit((1 << 31) - 1));
        assert!(!Threshold::new(0.5).hit(1 << 31));
        // The smallest positive threshold, 2^-32, hits only draw 0.
        let tiny = Threshold::new(1.0 / 4_294_967_296.0);
        assert!(tiny.hit(0) && !tiny.hit(1));
        // Rounding to nearest: 0.4·2^-32 → 0, 0.6·2^-32 → 1.
        assert!(Threshold::new(0.4 / 4_294_967_296.0).is_never());
        assert_eq!(Threshold::new(0.6 / 4_294_967_296.0), Threshold(1));
        assert_eq!(Threshold::new(0.25), Threshold(1 << 30));
    }

    #[test]
    fn serialization_is_exact_integer_arithmetic() {
        // 1500·8 bits at 10^7 bit/s = 1.2·10^-3 s = 1 200 000 ns.
        assert_eq!(
            serialization(1500, 10_000_000),
            Duration::from_nanos(1_200_000)
        );
        // 1500·8·10^9 / (7·10^6) = 1 714 285.71… → 1 714 285 (rounded down).
        assert_eq!(
            serialization(1500, 7_000_000),
            Duration::from_nanos(1_714_285)
        );
        // One bit per second: 40 bytes take 320 s.
        assert_eq!(serialization(40, 1), Duration::from_secs(320));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = stream(3, "test:below");
        let mut seen = [0u32; 8];
        for _ in 0..8000 {
            seen[below(&mut rng, 8) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0));
        for n in [1, 3, 1500, u32::MAX] {
            for _ in 0..100 {
                assert!(below(&mut rng, n) < n);
            }
        }
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn validate_rejects_each_bad_parameter() {
        let bad = |f: fn(&mut LinkParams)| {
            let mut p = LinkParams::default();
            f(&mut p);
            p.validate().unwrap_err()
        };
        assert_eq!(
            bad(|p| p.duplicate = 1.5),
            LinkParamsError::NotAProbability {
                field: "duplicate",
                value: 1.5
            }
        );
        assert!(matches!(
            bad(|p| p.corrupt = f64::NAN),
            LinkParamsError::NotAProbability {
                field: "corrupt",
                ..
            }
        ));
        assert_eq!(
            bad(|p| p.reorder = -0.1),
            LinkParamsError::NotAProbability {
                field: "reorder",
                value: -0.1
            }
        );
        assert_eq!(
            bad(|p| p.loss = Loss::Bernoulli(2.0)),
            LinkParamsError::NotAProbability {
                field: "loss",
                value: 2.0
            }
        );
        assert_eq!(
            bad(|p| p.loss = Loss::GilbertElliott {
                p: 0.1,
                r: 0.5,
                h: 0.0,
                k: 1.01
            }),
            LinkParamsError::NotAProbability {
                field: "loss.k",
                value: 1.01
            }
        );
        assert_eq!(bad(|p| p.reorder_gap = 0), LinkParamsError::ZeroReorderGap);
        assert_eq!(bad(|p| p.queue = 0), LinkParamsError::ZeroQueue);
        assert_eq!(bad(|p| p.rate_bps = Some(0)), LinkParamsError::ZeroRate);
        assert_eq!(
            LinkParamsError::ZeroRate.to_string(),
            "rate must be more than 0 bit/s (omit it for an unlimited link)"
        );
        assert_eq!(
            bad(|p| p.duplicate = 1.5).to_string(),
            "duplicate must be a probability between 0 and 1, got 1.5"
        );
        assert_eq!(LinkParams::default().validate(), Ok(()));
        assert!(
            Link::new(
                LinkParams {
                    queue: 0,
                    ..LinkParams::default()
                },
                stream(1, "x")
            )
            .is_err()
        );
    }

    #[test]
    fn defaults_are_the_specs() {
        let p = LinkParams::default();
        assert_eq!(p.delay, Duration::ZERO);
        assert_eq!(p.jitter, Duration::ZERO);
        assert_eq!(p.distribution, Distribution::Uniform);
        assert_eq!(p.loss, Loss::None);
        assert_eq!((p.duplicate, p.corrupt, p.reorder), (0.0, 0.0, 0.0));
        assert_eq!(p.reorder_gap, 1);
        assert_eq!(p.rate_bps, None);
        assert_eq!(p.queue, 1000);
    }

    #[test]
    fn features_that_are_off_draw_nothing() {
        // With every impairment off, enqueue consumes no randomness: the
        // stream afterwards is where a fresh one starts.
        let mut link = Link::new(LinkParams::default(), stream(5, "l")).unwrap();
        for i in 0..100 {
            let _ = link.enqueue(Instant::from_nanos(i), 100);
        }
        let mut fresh = stream(5, "l");
        assert_eq!(link.rng.next_u64(), fresh.next_u64());
    }

    #[test]
    fn gilbert_elliott_draws_transition_then_loss() {
        // p = 1: the first packet arrives in Good (k = 1: kept) and moves the
        // chain to Bad; with r = 0 it stays there and h = 0 loses the rest.
        let params = LinkParams {
            loss: Loss::GilbertElliott {
                p: 1.0,
                r: 0.0,
                h: 0.0,
                k: 1.0,
            },
            ..LinkParams::default()
        };
        let mut link = Link::new(params, stream(5, "ge")).unwrap();
        assert!(matches!(
            link.enqueue(Instant::ZERO, 100).original,
            Fate::Deliver { .. }
        ));
        for _ in 0..10 {
            assert_eq!(
                link.enqueue(Instant::ZERO, 100).original,
                Fate::Drop(DropReason::Loss)
            );
        }
        // Two draws per packet: 11 packets, 22 u32s.
        let mut fresh = stream(5, "ge");
        for _ in 0..22 {
            fresh.next_u32();
        }
        assert_eq!(link.rng.next_u32(), fresh.next_u32());
    }
}
