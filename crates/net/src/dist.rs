//! Jitter shapes: the standardized variates behind netem's delay tables,
//! computed by inverse CDF from one uniform draw with `libm`.
//!
//! netem draws a jittered delay as `delay + jitter · t / 8192`, where `t` is a
//! random entry of a 4096-entry table of `i16` that iproute2 generates
//! (`netem/normal.c`, `pareto.c`, `paretonormal.c`) and `tc` loads. Each table
//! samples a quantile function on a grid, scaled by `NETEM_DIST_SCALE` = 8192
//! and clamped to the `i16` range. This module computes the same quantile
//! functions in closed form at a uniform `u` in (0, 1), so `jitter` plays the
//! role netem gives it and the shape is the one the tables approximate:
//!
//! - **normal**: `t = Φ⁻¹(u)`, the standard normal quantile. Mean 0, standard
//!   deviation 1 (0.9995 after the table clamp below).
//! - **pareto**: the table stores `(4/3)·(X − 1.5)` with `X = u^(−1/3)`, a
//!   Pareto variate with scale 1 and shape a = 3 (mean a/(a−1) = 1.5); the
//!   factor 4/3 is iproute2's. Entries above 32767 are clamped, which caps `t`
//!   at `T_MAX` = 32767/8192 ≈ 4.0, i.e. `X` at `c = 1.5 + 0.75·T_MAX`. With
//!   the cap, `E[min(X,c)] = 1.5 − 1/(2c²)` and `E[min(X,c)²] = 3 − 2/c`, so
//!   `t` has mean −0.0329 and standard deviation 0.821 (not 0 and 2/√3 as
//!   without the cap). The smallest value is `t = −2/3` (at `X = 1`), so
//!   `delay − (2/3)·jitter` is the earliest arrival.
//! - **paretonormal**: iproute2 adds the two *quantile functions* at the same
//!   grid point, `t = (Φ⁻¹(q) + 3·P(q)) / 4` with `P(q)` the capped pareto
//!   value at quantile `q` — a comonotone blend, not a mixture of draws. Its
//!   range is [−1.5, `T_MAX`]; mean and spread have no short closed form, so
//!   the tests integrate the quantile function numerically.
//!
//! Every value is clamped to the range an `i16` table entry can hold,
//! [−32768/8192, 32767/8192] = [−4, 3.99988]: the tables cannot express more.
//!
//! The normal quantile uses Acklam's rational approximation (relative error
//! below 1.2·10⁻⁹) refined by one Halley step on `libm::erfc`, accurate to a
//! few ulps in the range the clamp keeps. Only IEEE-exact arithmetic (`+ − ×
//! ÷`) and `libm` functions are used, so the result is bit-identical on every
//! platform.

/// Smallest standardized value an `i16` table entry holds: −32768/8192.
pub(crate) const T_MIN: f64 = -32768.0 / 8192.0;
/// Largest standardized value an `i16` table entry holds: 32767/8192.
pub(crate) const T_MAX: f64 = 32767.0 / 8192.0;

/// A uniform variate strictly inside (0, 1) from 64 random bits: the top 52
/// bits `k` give `(k + 0.5) / 2⁵²`, exactly representable, symmetric about
/// 1/2, never 0 or 1.
pub(crate) fn open_unit(bits: u64) -> f64 {
    const SCALE: f64 = 1.0 / 4_503_599_627_370_496.0; // 2^-52
    ((bits >> 12) as f64 + 0.5) * SCALE
}

/// netem's normal table shape at quantile `u`: Φ⁻¹(u), clamped to the table range.
pub(crate) fn normal(u: f64) -> f64 {
    normal_quantile(u).clamp(T_MIN, T_MAX)
}

/// netem's pareto table shape at quantile `u`: (4/3)·((1−u)^(−1/3) − 1.5),
/// capped at [`T_MAX`] (its minimum is −2/3).
pub(crate) fn pareto(u: f64) -> f64 {
    let x = 1.0 / libm::cbrt(1.0 - u);
    ((4.0 / 3.0) * (x - 1.5)).min(T_MAX)
}

/// netem's paretonormal table shape at quantile `u`: one quarter of the
/// normal shape plus three quarters of the pareto shape at the same quantile.
pub(crate) fn paretonormal(u: f64) -> f64 {
    (0.25 * normal(u) + 0.75 * pareto(u)).clamp(T_MIN, T_MAX)
}

/// The standard normal quantile Φ⁻¹(u) for u in (0, 1).
pub(crate) fn normal_quantile(u: f64) -> f64 {
    // Acklam's coefficients: central region.
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    // Tails.
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;

    let tail = |p: f64| {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if u < P_LOW {
        tail(u)
    } else if u <= 1.0 - P_LOW {
        let q = u - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(1.0 - u)
    };

    // One Halley step on Φ(x) − u, with Φ(x) = erfc(−x/√2)/2.
    const SQRT_2: f64 = core::f64::consts::SQRT_2;
    const SQRT_2PI: f64 = 2.506_628_274_631_000_5;
    let err = 0.5 * libm::erfc(-x / SQRT_2) - u;
    let step = err * SQRT_2PI * libm::exp(0.5 * x * x);
    x - step / (1.0 + 0.5 * x * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_quantile_hits_textbook_values() {
        // Φ(0) = 1/2; Φ(1.959963984540054) = 0.975; Φ(−1) = 0.15865525393145707
        // (erfc(1/√2)/2).
        assert!(close(normal_quantile(0.5), 0.0, 1e-15));
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12));
        assert!(close(
            normal_quantile(0.158_655_253_931_457_07),
            -1.0,
            1e-12
        ));
        // Round trip through libm's erfc across the tails.
        for &u in &[1e-9, 1e-5, 0.01, 0.024, 0.3, 0.7, 0.976, 0.999, 1.0 - 1e-7] {
            let x = normal_quantile(u);
            let back = 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2);
            assert!(
                close(back, u, 1e-12 * u.max(1e-3)),
                "u={u} x={x} back={back}"
            );
        }
    }

    #[test]
    fn open_unit_never_reaches_zero_or_one() {
        assert_eq!(open_unit(0), 0.5 / 4_503_599_627_370_496.0);
        assert!(open_unit(u64::MAX) < 1.0);
        assert_eq!(open_unit(u64::MAX), 1.0 - open_unit(0));
        assert_eq!(open_unit(1 << 63), 0.5 + open_unit(0));
    }

    #[test]
    fn pareto_shape_matches_iproute2s_formula_and_cap() {
        // u = 0: X = 1, t = (4/3)(1 − 1.5) = −2/3.
        assert!(close(pareto(0.0), -2.0 / 3.0, 1e-15));
        // u = 7/8: X = (1/8)^(−1/3) = 2, t = (4/3)(0.5) = 2/3.
        assert!(close(pareto(0.875), 2.0 / 3.0, 1e-15));
        // Far tail: capped at 32767/8192.
        assert_eq!(pareto(1.0 - 1e-9), T_MAX);
    }

    #[test]
    fn paretonormal_is_the_quarter_three_quarter_blend() {
        for &u in &[0.001, 0.2, 0.5, 0.9, 0.999] {
            let expected = 0.25 * normal_quantile(u).clamp(T_MIN, T_MAX) + 0.75 * pareto(u);
            assert!(close(paretonormal(u), expected.clamp(T_MIN, T_MAX), 1e-15));
        }
        // Lowest: a quarter of −4 plus three quarters of −2/3.
        assert!(close(paretonormal(open_unit(0)), -1.5, 1e-12));
    }

    #[test]
    fn normal_shape_is_clamped_to_the_table_range() {
        assert_eq!(normal(open_unit(0)), T_MIN);
        assert_eq!(normal(open_unit(u64::MAX)), T_MAX);
    }
}
