//! From a row's squared distance to a health in `[0, 1]` whose threshold means a known
//! false-alarm rate.
//!
//! 1. **Per row**, `T²` is split into the part of the fast principal directions and
//!    the part of the slow ones (module `directions`); each part divided by its degrees
//!    of freedom (those of the sensors present) has mean about 1 in normal operation,
//!    whatever sensors are missing. A part whose Wilson–Hilferty normal score exceeds
//!    [`AssetConfig::surprise_cap`] counts as if its score were that cap, so that one
//!    wild row (a glitch) raises the smoothed statistic by a bounded step and cannot by
//!    itself hold the asset abnormal, while a few such rows in a row still do at once.
//! 2. **Smoothed**: each part's exponentially weighted mean (`AssetConfig::smoothing`).
//!    A lasting fault, even one that only makes the rows erratic without moving their
//!    mean, raises it for as long as it lasts.
//! 3. **Calibrated**: in normal operation each smoothed part is about Gamma distributed
//!    (a weighted sum of `χ²` variables), with mean 1 and variance
//!    `2/m · λ/(2 − λ) · κ` for `m` degrees of freedom, where `κ` is the persistence
//!    factor of its directions. The last rows of the learning phase, scored out of
//!    sample by the model fitted on the rows before them, measure the mean, the
//!    variance and the lag-one autocorrelation each part really has; each is taken
//!    where it exceeds theory (never below it, so a short or lucky calibration cannot
//!    make the model more sensitive than theory). This accounts for what theory misses
//!    on real plants: rows that are not independent (TEP's, at 3 minutes, are strongly
//!    autocorrelated), non-Gaussian noise, a covariance estimated from few rows.
//! 4. **Health**: with `q` the probability that normal operation exceeds the smoothed
//!    statistic (the smaller of the two parts' tail probabilities, doubled: a union
//!    bound), `health = 1 − 2^(−log q / log α)` for the configured per-row false-alarm
//!    rate `α`: 0.5 exactly at `q = α`, near 1 far beyond, near 0 for ordinary rows.
//!
//! [`AssetConfig::surprise_cap`]: super::AssetConfig::surprise_cap

use serde::{Deserialize, Serialize};

use super::normal::{NormalModel, RowFit};

/// The parts of `T²`: fast directions, slow directions.
pub(crate) const PARTS: usize = 2;
/// Highest lag-one autocorrelation believed from the calibration rows.
const MAX_AUTOCORRELATION: f64 = 0.95;

/// What one row gives the smoothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RowStatistic {
    /// Each part's `T²` over its degrees of freedom, capped.
    pub(crate) ratios: [f64; PARTS],
    /// Each part's degrees of freedom with the sensors present (0 for a part without
    /// directions).
    pub(crate) dofs: [f64; PARTS],
    /// The share of the row's `T²` kept by the cap (what its contributions count at).
    pub(crate) weight: f64,
}

impl RowStatistic {
    /// A fitted row's statistic; `cap` is [`super::AssetConfig::surprise_cap`].
    pub(crate) fn of(fit: &RowFit, normal: &NormalModel, cap: f64) -> Self {
        let varying = normal.constant.iter().filter(|&&c| !c).count().max(1) as f64;
        let present = fit.dof as f64 / varying;
        let dimensions = [normal.fast.dimension, normal.slow.dimension];
        let parts = [(fit.t2 - fit.t2_slow).max(0.0), fit.t2_slow];
        let mut statistic = Self {
            ratios: [0.0; PARTS],
            dofs: [0.0; PARTS],
            weight: 1.0,
        };
        let mut kept = 0.0;
        for j in 0..PARTS {
            if dimensions[j] <= 0.0 {
                continue;
            }
            // At least one degree of freedom: a part on sensors that are all missing
            // (or constant) is 0 unless one of them moved.
            let dof = (dimensions[j] * present).max(1.0);
            let t2 = if normal_score(parts[j], dof) > cap {
                chi_square_quantile(cap, dof).min(parts[j])
            } else {
                parts[j]
            };
            kept += t2;
            statistic.ratios[j] = t2 / dof;
            statistic.dofs[j] = dof;
        }
        if fit.t2 > 0.0 {
            statistic.weight = (kept / fit.t2).min(1.0);
        }
        statistic
    }
}

/// The Wilson–Hilferty normal score of `t2` as a `χ²` with `dof` degrees of freedom
/// (at least 1).
pub(crate) fn normal_score(t2: f64, dof: f64) -> f64 {
    let m = dof.max(1.0);
    let v = 2.0 / (9.0 * m);
    ((t2 / m).cbrt() - (1.0 - v)) / v.sqrt()
}

/// The `χ²` with `dof` degrees of freedom whose normal score is `z` (the inverse of
/// [`normal_score`]), at least a thousandth of `dof`.
pub(crate) fn chi_square_quantile(z: f64, dof: f64) -> f64 {
    let m = dof.max(1.0);
    let v = 2.0 / (9.0 * m);
    let root = (1.0 - v + z * v.sqrt()).max(0.1);
    m * root * root * root
}

/// The standard normal quantile: `u` with `P(Z ≤ u) = probability`, by bisection on
/// [`log_upper_tail`] (only ever needed when a model is fitted).
pub(crate) fn normal_quantile(probability: f64) -> f64 {
    let target = (1.0 - probability.clamp(1e-300, 1.0 - 1e-16)).ln();
    let (mut low, mut high) = (-40.0, 40.0);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if log_upper_tail(middle) > target {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

/// Running statistics of one part's per-row ratio on the calibration rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PartHoldout {
    count: u64,
    sum: f64,
    sum_squares: f64,
    /// Σ r_t r_{t−1}.
    sum_lagged: f64,
    first: f64,
    last: f64,
    /// Σ 2/m_t: the variance theory gives each row.
    theory: f64,
}

impl PartHoldout {
    fn push(&mut self, ratio: f64, dof: f64) {
        if self.count == 0 {
            self.first = ratio;
        } else {
            self.sum_lagged += ratio * self.last;
        }
        self.count += 1;
        self.sum += ratio;
        self.sum_squares += ratio * ratio;
        self.theory += 2.0 / dof;
        self.last = ratio;
    }

    /// The part's calibration, from at least `min_rows` rows (theory with fewer);
    /// `spread` is its directions' persistence factor.
    fn calibration(&self, lambda: f64, min_rows: u64, spread: f64) -> PartCalibration {
        let mut calibration = PartCalibration {
            mean: 1.0,
            excess: 1.0,
            spread: spread.max(1.0),
        };
        if self.count < min_rows.max(3) {
            return calibration;
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        let variance = (self.sum_squares / n - mean * mean).max(0.0);
        // Σ (r_t − m)(r_{t−1} − m) over the n − 1 consecutive pairs.
        let lagged = self.sum_lagged - mean * (2.0 * self.sum - self.first - self.last)
            + (n - 1.0) * mean * mean;
        let rho = if variance > 0.0 {
            lagged / (n - 1.0) / variance
        } else {
            0.0
        };
        let rho = if rho.is_finite() {
            rho.clamp(0.0, MAX_AUTOCORRELATION)
        } else {
            0.0
        };
        let phi = rho * (1.0 - lambda);
        calibration.mean = mean.max(1.0);
        calibration.excess = (variance / (self.theory / n)).max(1.0);
        calibration.spread = calibration.spread.max((1.0 + phi) / (1.0 - phi));
        calibration
    }
}

/// Running statistics of the calibration rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Holdout {
    parts: [PartHoldout; PARTS],
}

impl Holdout {
    /// Takes one calibration row.
    pub(crate) fn push(&mut self, statistic: &RowStatistic) {
        for (part, (&ratio, &dof)) in self
            .parts
            .iter_mut()
            .zip(statistic.ratios.iter().zip(&statistic.dofs))
        {
            if dof > 0.0 {
                part.push(ratio, dof);
            }
        }
    }

    /// The calibration of `normal`, for smoothing factor `lambda`, each part from at
    /// least `min_rows` rows.
    pub(crate) fn calibration(
        &self,
        lambda: f64,
        min_rows: u64,
        normal: &NormalModel,
    ) -> Calibration {
        let spreads = [normal.fast.spread, normal.slow.spread];
        Calibration {
            lambda,
            parts: std::array::from_fn(|j| self.parts[j].calibration(lambda, min_rows, spreads[j])),
        }
    }
}

/// One part's smoothed statistic in normal operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartCalibration {
    /// Its mean (per row).
    pub(crate) mean: f64,
    /// How much more a row's ratio varies than theory says.
    pub(crate) excess: f64,
    /// How much more its smoothed value varies than for independent rows.
    pub(crate) spread: f64,
}

impl PartCalibration {
    /// `ln P(S > smoothed)` for the part's smoothed value `S` with `dof` degrees of
    /// freedom per row, `S` taken as Gamma distributed.
    fn log_tail(&self, smoothed: f64, dof: f64, lambda: f64) -> f64 {
        if dof <= 0.0 {
            return 0.0;
        }
        let variance = self.excess * 2.0 / dof * lambda / (2.0 - lambda) * self.spread;
        // Gamma(shape k, mean μ) is μ/(2k) χ²(2k).
        let chi_dof = 2.0 * self.mean * self.mean / variance;
        log_upper_tail(normal_score(chi_dof * smoothed / self.mean, chi_dof))
    }
}

/// The smoothed statistic's behaviour in normal operation, per part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Calibration {
    /// The smoothing factor it was made for.
    lambda: f64,
    /// Each part's.
    pub(crate) parts: [PartCalibration; PARTS],
}

impl Calibration {
    /// Each part's mean in normal operation (where the smoothing starts).
    pub(crate) fn means(&self) -> [f64; PARTS] {
        std::array::from_fn(|j| self.parts[j].mean)
    }

    /// `ln q`: the log probability that normal operation makes one of the parts present
    /// at least as surprising as the most surprising one now (Šidák's correction of the
    /// smallest tail probability `q_min` for `k` parts, taken as independent:
    /// `q = 1 − (1 − q_min)^k`, about `k q_min` in the tail).
    pub(crate) fn log_tail(&self, smoothed: &[f64; PARTS], dofs: &[f64; PARTS]) -> f64 {
        let parts = dofs.iter().filter(|&&d| d > 0.0).count().max(1) as f64;
        let smallest = (0..PARTS)
            .map(|j| self.parts[j].log_tail(smoothed[j], dofs[j], self.lambda))
            .fold(0.0, f64::min);
        log_sidak(smallest, parts)
    }

    /// The health of a row whose smoothed statistic has log tail probability `log_q`,
    /// for per-row false-alarm rate `alpha`.
    pub(crate) fn health(log_q: f64, alpha: f64) -> f64 {
        let at_threshold = -alpha.ln();
        // 1 − 2^(−(−ln q)/(−ln α)), exact near 0 too, so that ordinary rows keep their
        // order.
        let health = -(std::f64::consts::LN_2 * log_q / at_threshold).exp_m1();
        if health.is_nan() {
            1.0
        } else {
            health.clamp(0.0, 1.0)
        }
    }
}

/// `ln(1 − (1 − q)^k)` from `ln q`, exact in the far tail (where it is `ln q + ln k`)
/// and below 0 unless `q` is 1, so that ordinary rows keep their order.
fn log_sidak(log_q: f64, k: f64) -> f64 {
    if log_q < -700.0 {
        return log_q + k.ln();
    }
    // 1 − (1 − q)^k = −expm1(k ln(1 − q)).
    (-(k * (-log_q.exp()).ln_1p()).exp_m1()).ln()
}

/// `ln P(Z > u)` for a standard normal `Z`, accurate far into the tail (through the
/// Chebyshev fit of `erfc` of Numerical Recipes, relative error below 1.2·10⁻⁷, which
/// is written as an exponential and so never underflows).
pub(crate) fn log_upper_tail(u: f64) -> f64 {
    let z = u / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z.abs());
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // erfc(|z|) = t · exp(−z² + poly); P(Z > u) = erfc(z) / 2.
    let log_erfc_abs = t.ln() - z * z + poly;
    if z >= 0.0 {
        log_erfc_abs - std::f64::consts::LN_2
    } else {
        // P(Z > u) = 1 − P(Z > −u), exact near 1 too.
        (-0.5 * log_erfc_abs.exp()).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_tail_is_accurate() {
        for (u, p) in [
            (0.0, 0.5),
            (1.0, 0.158_655_253_9),
            (-1.0, 0.841_344_746_1),
            (3.0, 1.349_898_032e-3),
            (4.753_424_3, 1e-6),
            (10.0, 7.619_853_024e-24),
        ] {
            let got = log_upper_tail(u).exp();
            assert!(((got - p) / p).abs() < 1e-6, "{u}: {got} vs {p}");
        }
        assert!(log_upper_tail(1e4).is_finite());
    }

    #[test]
    fn the_health_is_half_at_the_false_alarm_rate() {
        let alpha: f64 = 1e-6;
        assert!((Calibration::health(alpha.ln(), alpha) - 0.5).abs() < 1e-12);
        assert!(Calibration::health(0.5_f64.ln(), alpha) < 0.05);
        assert_eq!(Calibration::health(0.0, alpha), 0.0);
        assert!(Calibration::health(alpha.ln() * 4.0, alpha) > 0.9);
        assert_eq!(Calibration::health(-1e300, alpha), 1.0);
    }

    #[test]
    fn scores_and_quantiles_invert_and_fit_the_chi_square() {
        for dof in [1.0, 5.0, 52.0] {
            for z in [-1.0, 0.0, 2.0, 5.0] {
                let t2 = chi_square_quantile(z, dof);
                assert!((normal_score(t2, dof) - z).abs() < 1e-9);
            }
        }
        // The 99th percentile of χ²₅ is 15.086: its score is near 2.326.
        assert!((normal_score(15.086, 5.0) - 2.326).abs() < 0.03);
        assert!((chi_square_quantile(-1.644_854, 30.0) - 18.493).abs() < 0.05);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.05) + 1.644_854).abs() < 1e-5);
    }

    #[test]
    fn a_calibration_is_never_tighter_than_theory() {
        let mut part = PartHoldout::default();
        for i in 0..100 {
            part.push(if i % 2 == 0 { 0.9 } else { 1.1 }, 5.0);
        }
        let calibration = part.calibration(0.1, 30, 1.0);
        assert_eq!(calibration.mean, 1.0);
        assert_eq!(calibration.excess, 1.0);
        assert_eq!(calibration.spread, 1.0);
        // Autocorrelated, wider ratios spread the smoothed statistic wider.
        let mut part = PartHoldout::default();
        for i in 0..100 {
            part.push(if (i / 10) % 2 == 0 { 0.0 } else { 3.0 }, 5.0);
        }
        let calibration = part.calibration(0.1, 30, 1.0);
        assert!(
            calibration.mean > 1.0 && calibration.excess > 1.0,
            "{calibration:?}"
        );
        assert!(calibration.spread > 3.0, "{calibration:?}");
    }

    #[test]
    fn the_smallest_tail_is_corrected_for_the_parts() {
        let q: f64 = 0.3;
        assert!((log_sidak(q.ln(), 2.0).exp() - (1.0 - 0.7 * 0.7)).abs() < 1e-12);
        assert!((log_sidak(-800.0, 2.0) - (-800.0 + 2.0_f64.ln())).abs() < 1e-9);
        assert!((log_sidak(-30.0, 2.0) - (-30.0 + 2.0_f64.ln())).abs() < 1e-9);
        assert!(log_sidak(0.6_f64.ln(), 2.0) > log_sidak(0.5_f64.ln(), 2.0));
        assert!(log_sidak(0.5_f64.ln(), 2.0) < 0.0);
        assert_eq!(log_sidak(-2.0, 1.0), -2.0);
    }

    #[test]
    fn the_tail_of_a_smoothed_part_falls_with_its_value() {
        let part = PartCalibration {
            mean: 1.0,
            excess: 1.0,
            spread: 1.0,
        };
        let at_mean = part.log_tail(1.0, 5.0, 0.1);
        let high = part.log_tail(3.0, 5.0, 0.1);
        assert!(at_mean > -1.0 && high < -10.0, "{at_mean} {high}");
        // More persistence: the same value is less surprising.
        let persistent = PartCalibration {
            spread: 5.0,
            ..part
        };
        assert!(persistent.log_tail(3.0, 5.0, 0.1) > high);
    }
}
