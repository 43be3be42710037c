//! The link model against its definition: statistics of every random
//! impairment over many packets, and exact timelines for rate and queue.
//!
//! Every expected value is computed here from the model's definition (see
//! the `tcpsim_net::link` docs). Statistical checks allow three standard
//! errors; the seed is fixed, so each check passes or fails the same way on
//! every run and machine.

use proptest::prelude::*;
use tcpsim_net::link::DropReason;
use tcpsim_net::{Distribution, Fate, Link, LinkParams, Loss, Verdicts, rng::stream};
use tcpsim_tcp::{Duration, Instant};

const SEED: u64 = 0x5eed_2024;

/// The largest standardized jitter an `i16` netem table entry holds.
const T_MAX: f64 = 32767.0 / 8192.0;
/// The smallest.
const T_MIN: f64 = -32768.0 / 8192.0;

fn link(params: LinkParams, name: &str) -> Link {
    Link::new(params, stream(SEED, name)).expect("valid parameters")
}

fn delivered_at(fate: Fate) -> Option<Instant> {
    match fate {
        Fate::Deliver { at, .. } => Some(at),
        Fate::Drop(_) => None,
    }
}

/// The instant `x` microseconds after the start.
fn us(x: u64) -> Instant {
    Instant::from_nanos(x * 1000)
}

fn ms(x: f64) -> Duration {
    Duration::from_nanos((x * 1e6) as u64)
}

/// Asserts `|observed − expected| ≤ 3·se`, and prints the figures.
fn assert_within_3se(what: &str, observed: f64, expected: f64, se: f64) {
    println!(
        "{what}: observed {observed:.6}, expected {expected:.6}, \
         {:.2} standard errors (se {se:.3e})",
        (observed - expected) / se
    );
    assert!(
        (observed - expected).abs() <= 3.0 * se,
        "{what}: observed {observed}, expected {expected} ± 3·{se}"
    );
}

/// Standard error of a proportion `p` over `n` independent trials.
fn proportion_se(p: f64, n: usize) -> f64 {
    libm::sqrt(p * (1.0 - p) / n as f64)
}

// ---------------------------------------------------------------- loss

/// The fraction of `n` packets, 1 µs apart, that `params` drops for loss.
fn loss_fraction(params: LinkParams, name: &str, n: usize) -> f64 {
    let mut l = link(params, name);
    let lost = (0..n)
        .filter(|&i| {
            l.enqueue(Instant::from_nanos(i as u64 * 1000), 1500)
                .original
                == Fate::Drop(DropReason::Loss)
        })
        .count();
    lost as f64 / n as f64
}

#[test]
fn bernoulli_loss_rate_is_p_within_three_standard_errors() {
    let n = 200_000;
    for p in [0.01, 0.1, 0.5] {
        let params = LinkParams {
            loss: Loss::Bernoulli(p),
            ..LinkParams::default()
        };
        let observed = loss_fraction(params, &format!("loss:{p}"), n);
        assert_within_3se(
            &format!("loss rate p={p}"),
            observed,
            p,
            proportion_se(p, n),
        );
    }
}

#[test]
fn loss_zero_never_drops_and_loss_one_always_drops() {
    let never = LinkParams {
        loss: Loss::Bernoulli(0.0),
        ..LinkParams::default()
    };
    assert_eq!(loss_fraction(never, "loss:0", 100_000), 0.0);
    let always = LinkParams {
        loss: Loss::Bernoulli(1.0),
        ..LinkParams::default()
    };
    assert_eq!(loss_fraction(always, "loss:1", 100_000), 1.0);
}

#[test]
fn gilbert_bursts_have_mean_length_one_over_r_and_loss_rate_p_over_p_plus_r() {
    // The Gilbert model: h = 0 (every packet arriving in Bad is lost),
    // k = 1 (none arriving in Good is).
    let (p, r) = (0.01, 0.25);
    let params = LinkParams {
        loss: Loss::GilbertElliott {
            p,
            r,
            h: 0.0,
            k: 1.0,
        },
        ..LinkParams::default()
    };
    let mut l = link(params, "loss:ge");
    let n = 1_000_000;
    let (mut lost, mut bursts, mut burst_total, mut run) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..n {
        let dropped =
            l.enqueue(Instant::from_nanos(i as u64), 100).original == Fate::Drop(DropReason::Loss);
        if dropped {
            lost += 1;
            run += 1;
        } else if run > 0 {
            bursts += 1;
            burst_total += run;
            run = 0;
        }
    }

    // A burst is the stay in Bad: geometric on {1, 2, ...} with success
    // probability r, mean 1/r, variance (1 − r)/r².
    let mean_burst = burst_total as f64 / bursts as f64;
    let burst_sd = libm::sqrt(1.0 - r) / r;
    assert_within_3se(
        "GE mean burst length",
        mean_burst,
        1.0 / r,
        burst_sd / libm::sqrt(bursts as f64),
    );

    // Stationary P(Bad) = p/(p+r). The Bad indicator of a two-state chain
    // with λ = 1 − p − r has asymptotic variance π_B·π_G·(1+λ)/(1−λ) per
    // packet (correlated draws, so not p(1−p)/n).
    let pi_bad = p / (p + r);
    let lambda = 1.0 - p - r;
    let var = pi_bad * (1.0 - pi_bad) * (1.0 + lambda) / (1.0 - lambda);
    assert_within_3se(
        "GE loss rate",
        lost as f64 / n as f64,
        pi_bad,
        libm::sqrt(var / n as f64),
    );
}

// ---------------------------------------------------------------- jitter

/// Standardized jitter samples `(arrival − now − delay) / jitter` of `n`
/// packets, 1 ms apart.
fn jitter_samples(
    distribution: Distribution,
    delay: Duration,
    jitter: Duration,
    n: usize,
) -> Vec<f64> {
    let params = LinkParams {
        delay,
        jitter,
        distribution,
        queue: u32::MAX,
        ..LinkParams::default()
    };
    let mut l = link(params, &format!("jitter:{distribution:?}"));
    (0..n)
        .map(|i| {
            let now = Instant::from_millis(i as u64);
            let at = delivered_at(l.enqueue(now, 1500).original).expect("no loss configured");
            assert!(at >= now);
            ((at - now).as_nanos() as f64 - delay.as_nanos() as f64) / jitter.as_nanos() as f64
        })
        .collect()
}

/// Central moments of a shape, to compare samples against.
struct Moments {
    mean: f64,
    var: f64,
    /// Fourth central moment, for the standard error of the sample variance.
    mu4: f64,
}

impl Moments {
    /// From the raw moments E[X], E[X²], E[X³], E[X⁴].
    fn from_raw(m1: f64, m2: f64, m3: f64, m4: f64) -> Moments {
        Moments {
            mean: m1,
            var: m2 - m1 * m1,
            mu4: m4 - 4.0 * m1 * m3 + 6.0 * m1 * m1 * m2 - 3.0 * m1 * m1 * m1 * m1,
        }
    }
}

/// Checks the sample mean and standard deviation against `expected`:
/// SE(mean) = σ/√n, SE(sd) ≈ √((μ₄ − σ⁴)/n) / (2σ).
fn assert_moments(what: &str, samples: &[f64], expected: &Moments) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let sd = libm::sqrt(expected.var);
    assert_within_3se(
        &format!("{what} mean"),
        mean,
        expected.mean,
        sd / libm::sqrt(n),
    );
    let var_se = libm::sqrt((expected.mu4 - expected.var * expected.var) / n);
    assert_within_3se(
        &format!("{what} sd"),
        libm::sqrt(var),
        sd,
        var_se / (2.0 * sd),
    );
}

#[test]
fn uniform_jitter_stays_in_delay_plus_minus_jitter_with_mean_delay() {
    let (delay, jitter) = (ms(50.0), ms(10.0));
    let t = jitter_samples(Distribution::Uniform, delay, jitter, 100_000);
    // Every arrival in [40 ms, 60 ms): t in [−1, 1).
    assert!(t.iter().all(|&x| (-1.0..1.0).contains(&x)));
    // Uniform on [−1, 1): mean 0, variance 1/3, fourth moment 1/5.
    let expected = Moments {
        mean: 0.0,
        var: 1.0 / 3.0,
        mu4: 1.0 / 5.0,
    };
    assert_moments("uniform jitter (units of jitter)", &t, &expected);
}

#[test]
fn normal_jitter_has_mean_delay_and_standard_deviation_jitter() {
    let t = jitter_samples(Distribution::Normal, ms(50.0), ms(5.0), 100_000);
    // N(0, 1): fourth moment 3. The table clamp at [−4, 4) changes the
    // standard deviation by less than 6·10⁻⁴, under the 3-SE tolerance of
    // 6.7·10⁻³ at this n.
    let expected = Moments {
        mean: 0.0,
        var: 1.0,
        mu4: 3.0,
    };
    assert_moments("normal jitter (units of jitter)", &t, &expected);
    // Within the table range, ±1 ns of rounding.
    let slack = 1e-6;
    assert!(
        t.iter()
            .all(|x| (T_MIN - slack..=T_MAX + slack).contains(x))
    );
}

#[test]
fn pareto_jitter_matches_the_capped_iproute2_table_shape() {
    // t = (4/3)(Y − 1.5), Y = min(X, c), X Pareto with scale 1 and shape 3
    // (P(X > x) = x⁻³), c = 1.5 + 0.75·T_MAX (t capped at T_MAX).
    // E[Y^k] = 1 + k·∫₁^c x^(k−1)·x⁻³ dx:
    let c = 1.5 + 0.75 * T_MAX;
    let y1 = 1.5 - 1.0 / (2.0 * c * c);
    let y2 = 3.0 - 2.0 / c;
    let y3 = 1.0 + 3.0 * libm::log(c);
    let y4 = 1.0 + 4.0 * (c - 1.0);
    let y = Moments::from_raw(y1, y2, y3, y4);
    let s = 4.0 / 3.0;
    let expected = Moments {
        mean: s * (y.mean - 1.5),
        var: s * s * y.var,
        mu4: s * s * s * s * y.mu4,
    };
    println!(
        "pareto: expected mean {:.5}, sd {:.5} (units of jitter)",
        expected.mean,
        libm::sqrt(expected.var)
    );
    let t = jitter_samples(Distribution::Pareto, ms(50.0), ms(10.0), 100_000);
    assert_moments("pareto jitter (units of jitter)", &t, &expected);
    // Support: X ≥ 1 gives t ≥ −2/3; the cap gives t ≤ T_MAX (±1 ns of rounding).
    let slack = 1e-6;
    assert!(
        t.iter()
            .all(|x| (-2.0 / 3.0 - slack..=T_MAX + slack).contains(x))
    );
}

/// Φ⁻¹ by bisection on libm's erfc: slow and independent of the crate's own.
fn normal_quantile_by_bisection(q: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    for _ in 0..55 {
        let mid = 0.5 * (lo + hi);
        if 0.5 * libm::erfc(-mid / core::f64::consts::SQRT_2) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn paretonormal_jitter_matches_the_quantile_blend_integrated_numerically() {
    // iproute2's table at quantile q: ¼·Φ⁻¹(q) + ¾·min((4/3)((1−q)^(−1/3) − 1.5), T_MAX),
    // each part within the i16 range. Raw moments by the midpoint rule.
    let shape = |q: f64| {
        let normal = normal_quantile_by_bisection(q).clamp(T_MIN, T_MAX);
        let pareto = ((4.0 / 3.0) * (libm::pow(1.0 - q, -1.0 / 3.0) - 1.5)).min(T_MAX);
        (0.25 * normal + 0.75 * pareto).clamp(T_MIN, T_MAX)
    };
    let grid = 20_000;
    let mut raw = [0.0f64; 4];
    for i in 0..grid {
        let v = shape((i as f64 + 0.5) / grid as f64);
        raw[0] += v;
        raw[1] += v * v;
        raw[2] += v * v * v;
        raw[3] += v * v * v * v;
    }
    let raw = raw.map(|m| m / grid as f64);
    let expected = Moments::from_raw(raw[0], raw[1], raw[2], raw[3]);
    println!(
        "paretonormal: expected mean {:.5}, sd {:.5} (units of jitter)",
        expected.mean,
        libm::sqrt(expected.var)
    );
    let t = jitter_samples(Distribution::ParetoNormal, ms(50.0), ms(10.0), 100_000);
    assert_moments("paretonormal jitter (units of jitter)", &t, &expected);
    // Lowest value: ¼·(−4) + ¾·(−2/3) = −1.5.
    assert!(t.iter().all(|x| (-1.5 - 1e-6..=T_MAX + 1e-6).contains(x)));
}

#[test]
fn negative_delays_are_clamped_to_now() {
    let n = 100_000;
    // Normal, delay 1 ms, jitter 10 ms: 1 + 10·Z ≤ 0 when Z ≤ −0.1, with
    // probability Φ(−0.1) = erfc(0.1/√2)/2.
    let params = LinkParams {
        delay: ms(1.0),
        jitter: ms(10.0),
        distribution: Distribution::Normal,
        queue: u32::MAX,
        ..LinkParams::default()
    };
    let mut l = link(params, "clamp:normal");
    let mut at_now = 0;
    for i in 0..n {
        let now = Instant::from_millis(100 + i as u64);
        let at = delivered_at(l.enqueue(now, 100).original).unwrap();
        assert!(at >= now, "a packet arrived before it was sent");
        at_now += usize::from(at == now);
    }
    let p = 0.5 * libm::erfc(0.1 / core::f64::consts::SQRT_2);
    assert_within_3se(
        "normal clamped to 0",
        at_now as f64 / n as f64,
        p,
        proportion_se(p, n),
    );

    // Uniform, delay 5 ms, jitter 10 ms: uniform on [−5, 15) ms, so a quarter
    // of the delays (the 5 ms below 0, plus the single nanosecond at 0) clamp.
    let params = LinkParams {
        delay: ms(5.0),
        jitter: ms(10.0),
        queue: u32::MAX,
        ..LinkParams::default()
    };
    let mut l = link(params, "clamp:uniform");
    let mut at_now = 0;
    for i in 0..n {
        let now = Instant::from_millis(100 + i as u64);
        let at = delivered_at(l.enqueue(now, 100).original).unwrap();
        assert!(at >= now);
        at_now += usize::from(at == now);
    }
    let p = (5e6 + 1.0) / 20e6;
    assert_within_3se(
        "uniform clamped to 0",
        at_now as f64 / n as f64,
        p,
        proportion_se(p, n),
    );
}

// ---------------------------------------------------------------- duplicate

#[test]
fn duplicate_fraction_is_the_duplicate_probability() {
    let p = 0.1;
    let n = 200_000;
    let params = LinkParams {
        duplicate: p,
        delay: ms(10.0),
        jitter: ms(5.0),
        queue: u32::MAX,
        ..LinkParams::default()
    };
    let mut l = link(params, "dup");
    let mut copies = 0;
    let mut different_times = 0;
    for i in 0..n {
        let now = us(i as u64);
        let v = l.enqueue(now, 1000);
        if let Some(copy) = v.copy {
            copies += 1;
            // The copy draws its own delay.
            let (a, b) = (
                delivered_at(v.original).unwrap(),
                delivered_at(copy).unwrap(),
            );
            assert!(b >= now);
            different_times += usize::from(a != b);
        }
    }
    assert_within_3se(
        "duplicate fraction",
        copies as f64 / n as f64,
        p,
        proportion_se(p, n),
    );
    // Two independent uniform delays over 10 ms of nanoseconds coincide with
    // probability 10⁻⁷: practically every copy arrives at its own time.
    assert!(
        different_times >= copies - 1,
        "{different_times} of {copies}"
    );
}

#[test]
fn a_copy_draws_its_own_loss() {
    // duplicate = 1, loss = 1/2. The original's loss draw either takes the
    // extra copy (count 2 → 1: exactly one delivered) or not; then the copy
    // makes its own loss draw. So
    //   both delivered  = ½·½ = 1/4,
    //   exactly one     = ½ + ½·½ = 3/4,
    //   none            = 0 (one loss can only take the extra copy).
    let n = 200_000;
    let params = LinkParams {
        duplicate: 1.0,
        loss: Loss::Bernoulli(0.5),
        ..LinkParams::default()
    };
    let mut l = link(params, "dup:loss");
    let (mut both, mut one, mut none) = (0usize, 0usize, 0usize);
    for i in 0..n {
        let v = l.enqueue(us(i as u64), 500);
        let copy = v.copy.expect("duplicate = 1 always makes a copy");
        let delivered = [v.original, copy]
            .iter()
            .filter(|f| matches!(f, Fate::Deliver { .. }))
            .count();
        match delivered {
            2 => both += 1,
            1 => one += 1,
            _ => none += 1,
        }
    }
    assert_within_3se(
        "both copies delivered",
        both as f64 / n as f64,
        0.25,
        proportion_se(0.25, n),
    );
    assert_within_3se(
        "exactly one delivered",
        one as f64 / n as f64,
        0.75,
        proportion_se(0.75, n),
    );
    assert_eq!(none, 0);
}

#[test]
fn a_copy_is_serialized_ahead_of_its_original_and_shares_its_tail_drop() {
    // 1500 bytes at 1 Mbit/s: 1500·8/10⁶ s = 12 ms each. The copy goes
    // through the pipeline before the original's delay step, so it leaves first.
    let params = LinkParams {
        duplicate: 1.0,
        rate_bps: Some(1_000_000),
        queue: 2,
        ..LinkParams::default()
    };
    let mut l = link(params, "dup:queue");
    let first = l.enqueue(Instant::ZERO, 1500);
    assert_eq!(
        first,
        Verdicts {
            original: Fate::Deliver {
                at: Instant::from_millis(24),
                corrupt_bit: None
            },
            copy: Some(Fate::Deliver {
                at: Instant::from_millis(12),
                corrupt_bit: None
            }),
        }
    );
    // Two packets inside: the next original is tail-dropped, and its clone with it.
    let second = l.enqueue(Instant::ZERO, 1500);
    assert_eq!(
        second,
        Verdicts {
            original: Fate::Drop(DropReason::Queue),
            copy: Some(Fate::Drop(DropReason::Queue)),
        }
    );
}

#[test]
fn a_copy_can_take_the_link_one_packet_over_its_limit() {
    // As in netem: the original passes the queue check (0 < 1), then the copy
    // passes it too (still 0 < 1, the original is not in yet), then both go in.
    let params = LinkParams {
        duplicate: 1.0,
        rate_bps: Some(1_000_000),
        queue: 1,
        ..LinkParams::default()
    };
    let mut l = link(params, "dup:over");
    let v = l.enqueue(Instant::ZERO, 1500);
    assert!(matches!(v.original, Fate::Deliver { .. }));
    assert!(matches!(v.copy, Some(Fate::Deliver { .. })));
    assert_eq!(l.occupancy(Instant::ZERO), 2);
}

// ---------------------------------------------------------------- corrupt

#[test]
fn corrupt_fraction_is_the_corrupt_probability_and_bits_are_in_the_packet() {
    let p = 0.05;
    let n = 200_000;
    let len = 1500;
    let params = LinkParams {
        corrupt: p,
        ..LinkParams::default()
    };
    let mut l = link(params, "corrupt");
    let mut bits = Vec::new();
    for i in 0..n {
        match l.enqueue(us(i as u64), len).original {
            Fate::Deliver {
                corrupt_bit: Some(bit),
                ..
            } => {
                assert!((bit as usize) < len * 8);
                bits.push(bit as f64);
            }
            Fate::Deliver {
                corrupt_bit: None, ..
            } => {}
            Fate::Drop(reason) => panic!("unexpected drop: {reason:?}"),
        }
    }
    assert_within_3se(
        "corrupt fraction",
        bits.len() as f64 / n as f64,
        p,
        proportion_se(p, n),
    );
    // The bit is uniform over 0 .. 12000: mean 5999.5, sd √((12000² − 1)/12).
    let m = (len * 8) as f64;
    let mean = bits.iter().sum::<f64>() / bits.len() as f64;
    let sd = libm::sqrt((m * m - 1.0) / 12.0);
    assert_within_3se(
        "corrupt bit index mean",
        mean,
        (m - 1.0) / 2.0,
        sd / libm::sqrt(bits.len() as f64),
    );
}

#[test]
fn corruption_of_a_one_byte_packet_hits_each_of_its_bits_and_of_an_empty_one_none() {
    let params = LinkParams {
        corrupt: 1.0,
        ..LinkParams::default()
    };
    let mut l = link(params, "corrupt:small");
    let mut seen = [false; 8];
    for i in 0..200 {
        match l.enqueue(us(i), 1).original {
            Fate::Deliver {
                corrupt_bit: Some(bit),
                ..
            } => seen[bit as usize] = true,
            other => panic!("expected a corrupted delivery, got {other:?}"),
        }
    }
    assert_eq!(seen, [true; 8]);
    assert_eq!(
        l.enqueue(Instant::from_millis(1), 0).original,
        Fate::Deliver {
            at: Instant::from_millis(1),
            corrupt_bit: None
        }
    );
}

// ---------------------------------------------------------------- reorder

fn reordered_flags(reorder: f64, gap: u32, n: usize, name: &str) -> Vec<bool> {
    let params = LinkParams {
        delay: ms(10.0),
        reorder,
        reorder_gap: gap,
        queue: u32::MAX,
        ..LinkParams::default()
    };
    let mut l = link(params, name);
    (0..n)
        .map(|i| {
            let now = us(i as u64);
            let at = delivered_at(l.enqueue(now, 100).original).unwrap();
            assert!(at == now || at == now + ms(10.0));
            at == now
        })
        .collect()
}

#[test]
fn reorder_with_gap_one_sends_that_fraction_at_once() {
    let n = 200_000;
    let flags = reordered_flags(0.25, 1, n, "reorder:1");
    let fraction = flags.iter().filter(|&&f| f).count() as f64 / n as f64;
    assert_within_3se(
        "reorder fraction, gap 1",
        fraction,
        0.25,
        proportion_se(0.25, n),
    );
}

#[test]
fn reorder_gap_five_with_probability_one_reorders_every_fifth_packet() {
    // Four delayed packets, then the fifth is eligible and (p = 1) reordered.
    let flags = reordered_flags(1.0, 5, 1000, "reorder:gap5");
    for (i, &f) in flags.iter().enumerate() {
        assert_eq!(f, i % 5 == 4, "packet {i}");
    }
}

#[test]
fn reorder_gap_five_with_probability_a_quarter_reorders_one_in_eight() {
    // A cycle is 4 delayed packets, then Geometric(p) eligible ones until one
    // is reordered: length C = 4 + G, E[C] = 4 + 1/p = 8, Var C = (1−p)/p² = 12.
    // One reorder per cycle: fraction 1/E[C] = 1/8, with renewal-theory
    // standard error √(Var C / (E[C]³·n)).
    let (p, gap) = (0.25, 5u32);
    let n = 200_000;
    let flags = reordered_flags(p, gap, n, "reorder:gap5:p");
    let mean_cycle = f64::from(gap - 1) + 1.0 / p;
    let var_cycle = (1.0 - p) / (p * p);
    let fraction = flags.iter().filter(|&&f| f).count() as f64 / n as f64;
    let se = libm::sqrt(var_cycle / (mean_cycle * mean_cycle * mean_cycle * n as f64));
    assert_within_3se("reorder fraction, gap 5", fraction, 1.0 / mean_cycle, se);
}

// ---------------------------------------------------------------- rate

#[test]
fn back_to_back_packets_leave_one_serialization_time_apart() {
    // 1500 bytes at 10 Mbit/s: 1500·8 / 10⁷ s = 1.2 ms exactly.
    let params = LinkParams {
        rate_bps: Some(10_000_000),
        ..LinkParams::default()
    };
    let mut l = link(params, "rate");
    let times: Vec<_> = (0..3)
        .map(|_| delivered_at(l.enqueue(Instant::ZERO, 1500).original).unwrap())
        .collect();
    assert_eq!(
        times,
        [1_200_000, 2_400_000, 3_600_000].map(Instant::from_nanos)
    );
    // Once the link has drained, a packet starts from its own arrival.
    let at = delivered_at(l.enqueue(Instant::from_millis(10), 1500).original).unwrap();
    assert_eq!(at, Instant::from_nanos(11_200_000));
}

#[test]
fn rate_with_delay_serializes_behind_the_last_packet_still_inside() {
    let params = LinkParams {
        delay: ms(50.0),
        rate_bps: Some(10_000_000),
        ..LinkParams::default()
    };
    let mut l = link(params, "rate:delay");
    let times: Vec<_> = (0..3)
        .map(|_| delivered_at(l.enqueue(Instant::ZERO, 1500).original).unwrap())
        .collect();
    // 50 + 1.2, then behind it: 51.2 + 1.2, 52.4 + 1.2.
    assert_eq!(
        times,
        [51_200_000, 52_400_000, 53_600_000].map(Instant::from_nanos)
    );
    // At 10 ms the last one (53.6 ms) is still inside: the new packet's delay
    // is cut by 53.6 − 10 = 43.6 ms, leaving 6.4 ms after 53.6 ms, i.e.
    // max(53.6, 10 + 50) + 1.2 = 61.2 ms.
    let at = delivered_at(l.enqueue(Instant::from_millis(10), 1500).original).unwrap();
    assert_eq!(at, Instant::from_nanos(61_200_000));
    // A 40-byte packet right after: max(61.2, 60) + 40·8/10⁷ s = 61.2 + 0.032 ms.
    let at = delivered_at(l.enqueue(Instant::from_millis(10), 40).original).unwrap();
    assert_eq!(at, Instant::from_nanos(61_232_000));
}

// ---------------------------------------------------------------- queue

#[test]
fn a_full_queue_tail_drops() {
    // queue = 3, 1500 bytes at 1 Mbit/s = 12 ms each; five packets at once.
    let params = LinkParams {
        rate_bps: Some(1_000_000),
        queue: 3,
        ..LinkParams::default()
    };
    let mut l = link(params, "queue");
    let fates: Vec<_> = (0..5)
        .map(|_| l.enqueue(Instant::ZERO, 1500).original)
        .collect();
    let deliver = |ms| Fate::Deliver {
        at: Instant::from_millis(ms),
        corrupt_bit: None,
    };
    assert_eq!(
        fates,
        [
            deliver(12),
            deliver(24),
            deliver(36),
            Fate::Drop(DropReason::Queue),
            Fate::Drop(DropReason::Queue),
        ]
    );
    // At 12 ms the first has left: room for one more, behind the third.
    assert_eq!(
        l.enqueue(Instant::from_millis(12), 1500).original,
        deliver(48)
    );
    assert_eq!(
        l.enqueue(Instant::from_millis(12), 1500).original,
        Fate::Drop(DropReason::Queue)
    );
}

#[test]
fn the_queue_counts_packets_in_propagation_too() {
    // netem's limit covers every packet inside, not only those waiting for
    // the wire: with 10 ms of delay and queue = 2, a third packet is dropped.
    let params = LinkParams {
        delay: ms(10.0),
        queue: 2,
        ..LinkParams::default()
    };
    let mut l = link(params, "queue:delay");
    assert!(matches!(
        l.enqueue(Instant::ZERO, 100).original,
        Fate::Deliver { .. }
    ));
    assert!(matches!(
        l.enqueue(Instant::from_millis(1), 100).original,
        Fate::Deliver { .. }
    ));
    assert_eq!(
        l.enqueue(Instant::from_millis(2), 100).original,
        Fate::Drop(DropReason::Queue)
    );
    // The first arrives at 10 ms and leaves room.
    assert_eq!(l.occupancy(Instant::from_millis(10)), 1);
    assert!(matches!(
        l.enqueue(Instant::from_millis(10), 100).original,
        Fate::Deliver { .. }
    ));
}

// ---------------------------------------------------------------- determinism

fn everything_on() -> LinkParams {
    LinkParams {
        delay: ms(20.0),
        jitter: ms(5.0),
        distribution: Distribution::ParetoNormal,
        loss: Loss::GilbertElliott {
            p: 0.05,
            r: 0.3,
            h: 0.2,
            k: 0.99,
        },
        duplicate: 0.05,
        corrupt: 0.05,
        reorder: 0.1,
        reorder_gap: 3,
        rate_bps: Some(5_000_000),
        queue: 20,
    }
}

fn run(seed: u64, name: &str, n: usize) -> Vec<Verdicts> {
    let mut l = Link::new(everything_on(), stream(seed, name)).unwrap();
    (0..n)
        .map(|i| l.enqueue(us(i as u64 * 300), 40 + (i * 37) % 1461))
        .collect()
}

#[test]
fn same_seed_and_name_replay_the_same_verdicts() {
    let a = run(7, "link:client->server", 10_000);
    assert_eq!(a, run(7, "link:client->server", 10_000));
    assert_ne!(a, run(8, "link:client->server", 10_000));
    assert_ne!(a, run(7, "link:server->client", 10_000));
    // Every kind of outcome occurred, so the comparison covered them all.
    assert!(a.iter().any(|v| v.original == Fate::Drop(DropReason::Loss)));
    assert!(
        a.iter()
            .any(|v| v.original == Fate::Drop(DropReason::Queue))
    );
    assert!(a.iter().any(|v| v.copy.is_some()));
    assert!(a.iter().any(|v| matches!(
        v.original,
        Fate::Deliver {
            corrupt_bit: Some(_),
            ..
        }
    )));
}

// ---------------------------------------------------------------- invariants

fn any_params() -> impl Strategy<Value = LinkParams> {
    let probability = prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64];
    let distribution = prop_oneof![
        Just(Distribution::Uniform),
        Just(Distribution::Normal),
        Just(Distribution::Pareto),
        Just(Distribution::ParetoNormal),
    ];
    let loss = prop_oneof![
        Just(Loss::None),
        probability.clone().prop_map(Loss::Bernoulli),
        (0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64)
            .prop_map(|(p, r, h, k)| Loss::GilbertElliott { p, r, h, k }),
    ];
    (
        (0u64..100_000_000, 0u64..100_000_000, distribution, loss),
        (
            probability.clone(),
            probability.clone(),
            probability,
            1u32..6,
        ),
        (prop::option::of(1u64..10_000_000_000), 1u32..50),
    )
        .prop_map(
            |(
                (delay, jitter, distribution, loss),
                (duplicate, corrupt, reorder, reorder_gap),
                (rate_bps, queue),
            )| {
                LinkParams {
                    delay: Duration::from_nanos(delay),
                    jitter: Duration::from_nanos(jitter),
                    distribution,
                    loss,
                    duplicate,
                    corrupt,
                    reorder,
                    reorder_gap,
                    rate_bps,
                    queue,
                }
            },
        )
}

proptest! {
    // No failure file: this is an integration test, outside src/.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_respect_time_length_and_limits(
        params in any_params(),
        seed: u64,
        packets in prop::collection::vec((0u64..2_000_000, 0usize..1501), 1..300),
    ) {
        let duplicate = params.duplicate;
        let queue = params.queue as usize;
        let mut l = Link::new(params, stream(seed, "prop")).unwrap();
        let mut now = Instant::ZERO;
        for (step, len) in packets {
            now += Duration::from_nanos(step);
            let v = l.enqueue(now, len);
            if duplicate == 0.0 {
                prop_assert!(v.copy.is_none());
            }
            for fate in std::iter::once(v.original).chain(v.copy) {
                if let Fate::Deliver { at, corrupt_bit } = fate {
                    prop_assert!(at >= now);
                    if let Some(bit) = corrupt_bit {
                        prop_assert!((bit as usize) < len * 8);
                    }
                }
            }
            // A copy is checked before its original goes in: at most one over.
            prop_assert!(l.occupancy(now) <= queue + 1);
        }
    }
}

// ---------------------------------------------------------------- cost

/// Per-packet cost of `enqueue`. Run with
/// `cargo test --release -p tcpsim-net --test link_stats -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check: run in release mode"]
fn enqueue_cost() {
    let measure = |what: &str, params: LinkParams, spacing: Duration| {
        let mut l = link(params, "bench");
        let n = 5_000_000u64;
        let mut now = Instant::ZERO;
        let start = std::time::Instant::now();
        for _ in 0..n {
            now += spacing;
            let _ = std::hint::black_box(l.enqueue(now, std::hint::black_box(1500)));
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("{what}: {ns:.1} ns/packet");
    };
    measure(
        "no impairments",
        LinkParams::default(),
        Duration::from_micros(1),
    );
    measure(
        "loss 1% + normal jitter 10ms + delay 50ms + rate 100 Mbit/s",
        LinkParams {
            delay: ms(50.0),
            jitter: ms(10.0),
            distribution: Distribution::Normal,
            loss: Loss::Bernoulli(0.01),
            rate_bps: Some(100_000_000),
            ..LinkParams::default()
        },
        Duration::from_micros(130),
    );
    measure("everything on", everything_on(), Duration::from_micros(300));
}
