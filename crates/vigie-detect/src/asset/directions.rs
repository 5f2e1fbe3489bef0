//! The principal directions of normal operation, and how slowly each one varies.
//!
//! **Why.** The smoothed statistic finds small lasting changes because it averages
//! many rows, each with its own noise. A direction that varies slowly (a motor
//! temperature with a time constant of minutes, an operating point that wanders) is
//! not averaged by the smoothing: its swings are lasting by nature, and a short
//! learning phase has seen few of them. How slowly each direction varies is measured
//! from the learning rows, never assumed, by batch means: the learning phase is cut
//! into [`BLOCKS`] blocks of `b` rows, and `F = b · Var(block means) / Var(rows)` is
//! 1 for independent rows and grows with slow variation (it is the integrated
//! autocorrelation time, `(1 + φ)/(1 − φ)` for an AR(1) of persistence `φ`). Two
//! things follow.
//!
//! 1. **Its variance and mean are poorly learnt.** `n` rows are worth `ν = n / F`
//!    independent ones (`F` taken at the upper bound of its 75 % confidence interval,
//!    for a quiet learning phase underestimates it). A new value of a direction whose mean and variance were
//!    estimated from `ν` independent values is Student-t distributed with `ν` degrees
//!    of freedom, with its variance widened by `1 + F/n` for the mean's error, not
//!    Gaussian; so each direction's variance is raised by `(t_ν / z)² (1 + F/n)`, the
//!    squared ratio of the t and normal quantiles at the configured per-row
//!    false-alarm rate: its tail at the threshold is then the t distribution's. With
//!    500 independent rows that is 3 %; with 5 (a temperature whose swings last a
//!    fifth of the learning phase) about 30 times: such a direction hardly counts
//!    until the model has learnt over much longer (`relearn`).
//! 2. **Its smoothed value spreads more.** For an AR(1) of persistence `φ` (taken from
//!    `F`), the square of the direction's value has autocorrelation `φ^(2h)`, so its
//!    exponentially weighted mean spreads `κ = 1 + 2 φ² (1 − λ) / (1 − φ² (1 − λ))`
//!    times as much as for independent rows. Directions with `κ ≥ 2` are *slow*: their
//!    part of `T²` is smoothed and calibrated on its own (module `calibration`), so
//!    that a swing of a slow direction, which the smoothing cannot average away, is
//!    judged against the spread of slow swings, and the fast directions keep their
//!    sensitivity.

use serde::{Deserialize, Serialize};

use super::calibration::{chi_square_quantile, normal_quantile};
use super::linalg::{axpy, dot, symmetric_eigen};
use super::student;

/// Spread factor from which a direction is slow.
const SLOW_SPREAD: f64 = 2.0;
/// Fewest blocks from which slow variation is measured at a scale.
const MIN_BLOCKS: usize = 3;
/// The normal score of the lower quantile of `χ²` that bounds an estimated `F` from
/// above (25 %).
const COUNTING_QUANTILE: f64 = -0.674_489_75;
/// `F` from which a variation still growing at the longest scale is unresolved.
const UNRESOLVED_SLOWNESS: f64 = 8.0;
/// Largest factor a direction's variance is raised by (a direction learnt from a
/// handful of independent rows hardly counts at 100 times its variance).
const MAX_INFLATION: f64 = 100.0;

/// What the directions of one kind (fast or slow) add up to in normal operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Subspace {
    /// Their number, counted by how much of them lies on varying sensors: the degrees
    /// of freedom of their part of `T²` with every sensor present.
    pub(crate) dimension: f64,
    /// Their mean spread factor `κ` (1 for independent rows).
    pub(crate) spread: f64,
}

/// The slow directions, to take their part out of `T²`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SlowDirections {
    /// One unit vector per slow direction, each of one value per sensor.
    pub(crate) vectors: Vec<f64>,
    /// Each one's precision (the inverse of its raised variance).
    pub(crate) precision: Vec<f64>,
}

impl SlowDirections {
    /// The slow directions' part of `T²` for the standardised row `x`.
    pub(crate) fn t2(&self, x: &[f64]) -> f64 {
        let p = x.len();
        if p == 0 {
            return 0.0;
        }
        self.vectors
            .chunks_exact(p)
            .zip(&self.precision)
            .map(|(v, precision)| {
                let score = super::linalg::dot(v, x);
                score * score * precision
            })
            .sum()
    }
}

/// The learning phase's block means, standardised (one vector per completed block),
/// and the rows per block.
pub(crate) struct Blocks {
    /// Each completed block's standardised mean, one value per sensor.
    pub(crate) means: Vec<Vec<f64>>,
    /// Rows per block.
    pub(crate) length: f64,
}

impl Blocks {
    /// Along `v` (whose rows' variance is `variance`): `F` for the smoothing, `F` for
    /// the independent rows, and, when the slow variation outlasts the longest blocks,
    /// how many independent rows it is worth at most; `F = 1` with too few blocks.
    ///
    /// `F` is measured at three scales, the blocks and their merges by two and four: a
    /// direction whose variation is slower than the blocks shows an `F` that grows with
    /// their length. The smoothing's `F` is the larger of the two shorter scales' (the
    /// longest has only five blocks, too few to class a direction as slow, unless its
    /// `F` is clearly above 1); the independent rows are counted with the largest upper
    /// bound of all three (cautious). When `F` is clearly above 1 at the longest scale and still
    /// grows by more than half from the middle scale to it, the variation is
    /// *unresolved*: the learning phase saw about as many of its swings as it has long
    /// blocks, or fewer, and the smoothing does not average it at all.
    fn slowness(&self, v: &[f64], variance: f64) -> Slowness {
        let mut slowness = Slowness {
            smoothing: 1.0,
            counting: 1.0,
            unresolved: None,
        };
        if variance <= 0.0 {
            return slowness;
        }
        let scores: Vec<f64> = self.means.iter().map(|m| dot(v, m)).collect();
        let at_scale = |merge: usize| -> Option<(f64, usize)> {
            let merged: Vec<f64> = scores
                .chunks_exact(merge)
                .map(|c| c.iter().sum::<f64>() / merge as f64)
                .collect();
            let count = merged.len();
            (count >= MIN_BLOCKS).then(|| {
                let mean = merged.iter().sum::<f64>() / count as f64;
                let spread =
                    merged.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
                (self.length * merge as f64 * spread / variance, count)
            })
        };
        let scales: Vec<(f64, usize)> = [1, 2, 4].into_iter().filter_map(at_scale).collect();
        slowness.smoothing = scales.iter().take(2).map(|s| s.0).fold(1.0, f64::max);
        // With k blocks, an estimated F is χ²(k − 1)/(k − 1) times the true one: its
        // upper bound at 75 % confidence counts the independent rows, since an F
        // underestimated by a quiet learning phase is what makes false alarms (at 90 %
        // the pump bench gained nothing and TEP lost a point).
        slowness.counting = scales
            .iter()
            .map(|&(f, count)| {
                let dof = (count - 1) as f64;
                f * dof / chi_square_quantile(COUNTING_QUANTILE, dof)
            })
            .fold(1.0, f64::max);
        if let [_, (middle, _), (longest, count)] = scales.as_slice()
            && *longest >= UNRESOLVED_SLOWNESS
        {
            // Clearly slow at the longest scale: believed for the smoothing too.
            slowness.smoothing = slowness.smoothing.max(*longest);
            if *longest >= 1.5 * middle {
                slowness.unresolved = Some(*count as f64);
            }
        }
        slowness
    }
}

/// How slowly a direction varies (see [`Blocks::slowness`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slowness {
    /// `F` for the spread of its smoothed value.
    smoothing: f64,
    /// `F` for its independent rows.
    counting: f64,
    /// At most how many independent rows it is worth, when unresolved.
    unresolved: Option<f64>,
}

/// The precision and the subspaces of a shrunk correlation matrix.
pub(crate) struct Analysis {
    /// The precision (full, row-major), every direction's variance raised.
    pub(crate) precision: Vec<f64>,
    /// The fast directions.
    pub(crate) fast: Subspace,
    /// The slow directions.
    pub(crate) slow: Subspace,
    /// The slow directions themselves.
    pub(crate) slow_directions: SlowDirections,
}

/// Analyses `shrunk` (the correlations as fitted), with `correlation` (as learnt),
/// the block means, which sensors vary, the rows learnt from, the per-row
/// false-alarm rate and the smoothing factor.
pub(crate) fn analyse(
    shrunk: &[f64],
    correlation: &[f64],
    blocks: &Blocks,
    varying: &[f64],
    rows: f64,
    alarm_rate: f64,
    lambda: f64,
) -> Analysis {
    let p = varying.len();
    let (values, vectors) = symmetric_eigen(shrunk, p);
    let column = |k: usize| -> Vec<f64> { (0..p).map(|i| vectors[i * p + k]).collect() };
    let quadratic = |matrix: &[f64], v: &[f64]| -> f64 {
        (0..p)
            .map(|i| v[i] * dot(&matrix[i * p..(i + 1) * p], v))
            .sum()
    };
    // Two-sided: a direction's deviation counts either way.
    let tail = 0.5 * alarm_rate;
    let normal = normal_quantile(1.0 - tail);
    let rows = rows.max(1.0);
    let largest = values.first().copied().unwrap_or(1.0).max(1e-300);
    let mut analysis = Analysis {
        precision: vec![0.0; p * p],
        fast: Subspace {
            dimension: 0.0,
            spread: 0.0,
        },
        slow: Subspace {
            dimension: 0.0,
            spread: 0.0,
        },
        slow_directions: SlowDirections::default(),
    };
    for (k, &value) in values.iter().enumerate() {
        let v = column(k);
        let variance = quadratic(correlation, &v);
        let slowness = blocks.slowness(&v, variance);
        let independent = (rows / slowness.counting)
            .min(slowness.unresolved.unwrap_or(f64::INFINITY))
            .max(1.0);
        let t = student::upper_quantile(tail, independent);
        let inflation =
            ((t / normal).powi(2) * (1.0 + slowness.counting / rows)).clamp(1.0, MAX_INFLATION);
        // Eigenvalues too small to invert safely are raised to a millionth of the
        // largest (exactly collinear sensors).
        let precision = 1.0 / (inflation * value.max(1e-6 * largest));
        for (i, row) in analysis.precision.chunks_exact_mut(p).enumerate() {
            axpy(v[i] * precision, &v, row);
        }
        // The AR(1) persistence of the same integrated autocorrelation time; an
        // unresolved variation is not averaged by the smoothing at all.
        let phi = if slowness.unresolved.is_some() {
            1.0
        } else {
            (slowness.smoothing - 1.0) / (slowness.smoothing + 1.0)
        };
        let decay = phi * phi * (1.0 - lambda);
        let spread = 1.0 + 2.0 * decay / (1.0 - decay);
        // A direction on constant sensors adds nothing to T² in normal operation.
        let weight: f64 = (0..p).map(|i| varying[i] * v[i] * v[i]).sum();
        let subspace = if spread >= SLOW_SPREAD {
            analysis.slow_directions.vectors.extend_from_slice(&v);
            analysis.slow_directions.precision.push(precision);
            &mut analysis.slow
        } else {
            &mut analysis.fast
        };
        subspace.dimension += weight;
        subspace.spread += weight * spread;
    }
    for subspace in [&mut analysis.fast, &mut analysis.slow] {
        subspace.spread = if subspace.dimension > 0.0 {
            subspace.spread / subspace.dimension
        } else {
            1.0
        };
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_variation_is_measured_by_the_block_means() {
        let v = [1.0, 0.0];
        let blocks = |means: Vec<f64>| Blocks {
            means: means.into_iter().map(|m| vec![m, 0.0]).collect(),
            length: 25.0,
        };
        // Independent rows of unit variance: block means spread as 1/25.
        let alternating: Vec<f64> = (0..20)
            .map(|b| if b % 2 == 0 { 0.2 } else { -0.2 })
            .collect();
        let slowness = blocks(alternating).slowness(&v, 1.0);
        assert!(
            slowness.smoothing < 1.1 && slowness.unresolved.is_none(),
            "{slowness:?}"
        );
        assert!(slowness.counting < 2.0, "{slowness:?}");
        // A slow swing over the whole phase: F grows with the blocks' length.
        let swing: Vec<f64> = (0..20)
            .map(|b| (f64::from(b) / 20.0 * std::f64::consts::TAU).sin())
            .collect();
        let slowness = blocks(swing).slowness(&v, 1.0);
        assert!(
            slowness.counting > 20.0 && slowness.smoothing > 10.0,
            "{slowness:?}"
        );
        assert_eq!(slowness.unresolved, Some(5.0));
        let few = blocks(vec![1.0, -1.0]).slowness(&v, 1.0);
        assert_eq!(
            (few.smoothing, few.counting, few.unresolved),
            (1.0, 1.0, None)
        );
    }
}
