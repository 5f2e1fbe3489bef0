//! Normal operation as a Gaussian model of the standardised row, and what one row
//! looks like against it.
//!
//! **Fit.** Each sensor is standardised by its learnt mean and deviation; the
//! correlations are shrunk toward none by the oracle approximating shrinkage (OAS,
//! Chen, Wiesel, Eldar & Hero 2010), whose intensity falls as rows accumulate, so that
//! a short learning phase or nearly collinear sensors still give a well-conditioned
//! matrix. Its inverse, the precision, is what rows are scored with: by default
//! through its eigendecomposition, each principal direction's variance raised for how
//! slowly it varies (module `directions`); without
//! [`AssetConfig::persistence_aware`], by Cholesky. A sensor present in fewer than half
//! the learnt rows, or constant while learnt, takes no part in the correlations (it is
//! scored alone, against its mean; a constant one by a deviation floored at 10⁻⁹ of its
//! value, so that any move of it counts).
//!
//! **Evaluation.** For a standardised row `x` and the precision `K`, `y = K x` gives at
//! once the squared Mahalanobis distance `T² = xᵀ y` and, for every sensor `i`, the
//! residual of its value given all the others, `y_i / K_ii`, whose variance is
//! `1 / K_ii`. A sensor's contribution is its reconstruction-based contribution
//! `y_i² / K_ii` (Alcalá & Qin 2009): how much `T²` falls if that sensor alone were
//! replaced by its expected value given the others. It is never negative, and unlike
//! splitting `T²` into `x_i y_i` it ranks first the sensor at fault.
//!
//! **Missing sensors.** A missing sensor is imputed by its conditional expectation
//! given the present ones (`K_MM x_M = −K_MO x_O`). Then `T²` is exactly the distance of
//! the present sensors under their own (marginal) model, with as many degrees of
//! freedom as sensors present, the missing sensor's residual is zero, so it contributes
//! nothing, and the present sensors' residual variances are those of the marginal
//! model. The cost is a solve of the size of the missing set.

use serde::{Deserialize, Serialize};

use super::AssetConfig;
use super::directions::{self, Analysis, Blocks, SlowDirections, Subspace};
use super::linalg::{
    cholesky, dot, inverse_spd, pack, packed_get, packed_matvec, packed_row, solve_lower,
    solve_lower_transposed,
};
use super::moments::{Moments, value_of};

/// Share of the learnt rows a sensor must be present in to take part in the model.
const MIN_PRESENCE: f64 = 0.5;
/// Largest standardised value taken as it is (its square, summed over hundreds of
/// sensors, must stay finite).
const MAX_STANDARDISED: f64 = 1e9;

/// A fitted model of normal operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NormalModel {
    /// Each sensor's mean.
    pub(crate) mean: Vec<f64>,
    /// Each sensor's standard deviation (floored, for constant sensors).
    pub(crate) scale: Vec<f64>,
    /// Whether each sensor takes part in the correlations (the others are scored
    /// alone: their precision row is the identity's).
    pub(crate) learnt: Vec<bool>,
    /// Whether each sensor did not vary while learnt (its deviation is the floor).
    pub(crate) constant: Vec<bool>,
    /// Packed upper triangle of the precision of the standardised row.
    pub(crate) precision: Vec<f64>,
    /// The diagonal of the precision.
    pub(crate) diagonal: Vec<f64>,
    /// The shrinkage applied to the correlations.
    pub(crate) shrinkage: f64,
    /// The fast principal directions.
    pub(crate) fast: Subspace,
    /// The slow principal directions (module `directions`).
    pub(crate) slow: Subspace,
    /// The slow directions themselves.
    pub(crate) slow_directions: SlowDirections,
}

/// One row against the model, in standardised units (scratch reused across rows).
#[derive(Debug, Clone, Default)]
pub(crate) struct RowFit {
    /// The standardised row, missing sensors imputed.
    pub(crate) x: Vec<f64>,
    /// `K x`: each sensor's residual given the others, times its precision.
    pub(crate) y: Vec<f64>,
    /// Each present sensor's residual precision (`1 /` its residual variance); 0 for a
    /// missing one.
    pub(crate) residual_precision: Vec<f64>,
    /// Whether each sensor is present.
    pub(crate) present: Vec<bool>,
    /// Indices of the sensors missing from the row.
    missing: Vec<usize>,
    /// Squared Mahalanobis distance of the present sensors.
    pub(crate) t2: f64,
    /// The slow directions' part of it.
    pub(crate) t2_slow: f64,
    /// Degrees of freedom: the sensors present that varied while learnt.
    pub(crate) dof: usize,
}

impl RowFit {
    /// Bytes its vectors take.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.x.capacity() + self.y.capacity() + self.residual_precision.capacity())
            * std::mem::size_of::<f64>()
            + self.present.capacity()
            + self.missing.capacity() * std::mem::size_of::<usize>()
    }

    /// Sensor `i`'s reconstruction-based contribution (0 when missing).
    pub(crate) fn contribution(&self, i: usize) -> f64 {
        if self.residual_precision[i] > 0.0 {
            self.y[i] * self.y[i] / self.residual_precision[i]
        } else {
            0.0
        }
    }

    /// Sensor `i`'s expected standardised value given the others.
    pub(crate) fn expected(&self, i: usize) -> f64 {
        if self.residual_precision[i] > 0.0 {
            self.x[i] - self.y[i] / self.residual_precision[i]
        } else {
            self.x[i]
        }
    }
}

impl NormalModel {
    /// Fits the model to learnt moments.
    pub(crate) fn fit(moments: &Moments, config: &AssetConfig) -> Self {
        let p = moments.mean.len();
        let scales = Scales::of(moments);
        let correlation = correlation(moments, &scales);
        let dimension = scales.learnt.iter().filter(|&&l| l).count();
        let shrinkage = oas_shrinkage(&correlation, p, dimension, moments.weight)
            .max(config.min_shrinkage.clamp(0.0, 1.0));
        let shrunk: Vec<f64> = correlation
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                if k / p == k % p {
                    1.0
                } else {
                    (1.0 - shrinkage) * c
                }
            })
            .collect();
        let varying: Vec<f64> = scales
            .constant
            .iter()
            .map(|&c| if c { 0.0 } else { 1.0 })
            .collect();
        let analysis = if config.persistence_aware {
            let blocks = Blocks {
                means: moments
                    .blocks
                    .standardised(&moments.mean, &scales.scale, &scales.learnt),
                length: moments.blocks.length as f64,
            };
            directions::analyse(
                &shrunk,
                &correlation,
                &blocks,
                &varying,
                moments.weight,
                config.alarm_probability(),
                config.lambda(),
            )
        } else {
            Analysis {
                precision: cholesky_precision(&shrunk, p),
                fast: Subspace {
                    dimension: varying.iter().sum(),
                    spread: 1.0,
                },
                slow: Subspace {
                    dimension: 0.0,
                    spread: 1.0,
                },
                slow_directions: SlowDirections::default(),
            }
        };
        let precision = pack(&analysis.precision, p);
        let diagonal = (0..p).map(|i| precision[packed_row(i, p)]).collect();
        Self {
            mean: moments.mean.clone(),
            scale: scales.scale,
            learnt: scales.learnt,
            constant: scales.constant,
            precision,
            diagonal,
            shrinkage,
            fast: analysis.fast,
            slow: analysis.slow,
            slow_directions: analysis.slow_directions,
        }
    }

    /// Bytes its vectors take.
    pub(crate) fn heap_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        (self.mean.capacity()
            + self.scale.capacity()
            + self.precision.capacity()
            + self.diagonal.capacity()
            + self.slow_directions.vectors.capacity()
            + self.slow_directions.precision.capacity())
            * f
            + self.learnt.capacity()
            + self.constant.capacity()
    }

    /// The number of sensors.
    pub(crate) fn sensors(&self) -> usize {
        self.mean.len()
    }

    /// Evaluates `row` into `fit`.
    pub(crate) fn evaluate(&self, row: &[Option<f64>], fit: &mut RowFit) {
        let p = self.sensors();
        for buffer in [&mut fit.x, &mut fit.y, &mut fit.residual_precision] {
            buffer.clear();
            buffer.resize(p, 0.0);
        }
        fit.present.clear();
        fit.present.resize(p, false);
        fit.missing.clear();
        for i in 0..p {
            match value_of(row, i) {
                Some(value) => {
                    fit.x[i] = ((value - self.mean[i]) / self.scale[i])
                        .clamp(-MAX_STANDARDISED, MAX_STANDARDISED);
                    fit.present[i] = true;
                }
                None => fit.missing.push(i),
            }
        }
        packed_matvec(&self.precision, &fit.x, &mut fit.y);
        for i in 0..p {
            fit.residual_precision[i] = if fit.present[i] {
                self.diagonal[i]
            } else {
                0.0
            };
        }
        if !fit.missing.is_empty() {
            self.impute(fit);
        }
        fit.t2 = dot(&fit.x, &fit.y).max(0.0);
        fit.t2_slow = self.slow_directions.t2(&fit.x).min(fit.t2);
        // A sensor constant while learnt is 0 in every normal row: it adds nothing to
        // the distance, so no degree of freedom either (until it moves).
        fit.dof = (0..p)
            .filter(|&i| fit.present[i] && !self.constant[i])
            .count();
    }

    /// Imputes the missing sensors by their expectation given the present ones, and
    /// corrects the present sensors' residual precisions to the marginal model's.
    fn impute(&self, fit: &mut RowFit) {
        let p = self.sensors();
        let m = fit.missing.len();
        let mut k_mm = vec![0.0; m * m];
        for (a, &i) in fit.missing.iter().enumerate() {
            for (b, &j) in fit.missing.iter().enumerate() {
                k_mm[a * m + b] = packed_get(&self.precision, p, i, j);
            }
        }
        let Some(l) = cholesky(&k_mm, m) else {
            return;
        };
        // x_M = −K_MM⁻¹ (K x₀)_M, with x₀ the row with zeros at M (that is `y` now).
        let mut x_m: Vec<f64> = fit.missing.iter().map(|&i| -fit.y[i]).collect();
        solve_lower(&l, m, &mut x_m);
        solve_lower_transposed(&l, m, &mut x_m);
        for (a, &i) in fit.missing.iter().enumerate() {
            fit.x[i] = x_m[a];
        }
        // y += K[:, M] x_M.
        let mut column = vec![0.0; m];
        for j in 0..p {
            for (a, &i) in fit.missing.iter().enumerate() {
                column[a] = packed_get(&self.precision, p, j, i);
            }
            fit.y[j] += dot(&column, &x_m);
            if fit.present[j] {
                // The marginal precision of the present sensors is the Schur
                // complement K_OO − K_OM K_MM⁻¹ K_MO; its diagonal, with L⁻¹ k_j:
                solve_lower(&l, m, &mut column);
                fit.residual_precision[j] = (self.diagonal[j] - dot(&column, &column)).max(1e-12);
            }
        }
        for &i in &fit.missing {
            fit.y[i] = 0.0;
        }
    }
}

/// Each sensor's scale and role.
struct Scales {
    /// Standard deviation (floored, for constant sensors).
    scale: Vec<f64>,
    /// Whether it takes part in the correlations.
    learnt: Vec<bool>,
    /// Whether it did not vary.
    constant: Vec<bool>,
}

impl Scales {
    /// The scales of learnt moments, corrected for absences (module `moments`).
    fn of(moments: &Moments) -> Self {
        let p = moments.mean.len();
        let mut scales = Self {
            scale: vec![1.0; p],
            learnt: vec![false; p],
            constant: vec![true; p],
        };
        for i in 0..p {
            let variance = packed_get(&moments.covariance, p, i, i);
            let presence = moments.presence[i];
            let floor = 1e-9 * (1.0 + moments.mean[i].abs());
            scales.scale[i] = floor;
            if presence > 0.0 {
                let sd = (variance / presence).max(0.0).sqrt();
                scales.scale[i] = sd.max(floor);
                scales.constant[i] = sd <= floor;
                scales.learnt[i] = presence >= MIN_PRESENCE && !scales.constant[i];
            }
        }
        scales
    }
}

/// The correlation matrix (full, row-major) of the learnt sensors, corrected for
/// absences (module `moments`); the others are rows of the identity.
fn correlation(moments: &Moments, scales: &Scales) -> Vec<f64> {
    let p = moments.mean.len();
    let mut correlation = vec![0.0; p * p];
    for i in 0..p {
        correlation[i * p + i] = 1.0;
        for j in (i + 1..p).filter(|&j| scales.learnt[i] && scales.learnt[j]) {
            let c = packed_get(&moments.covariance, p, i, j)
                / (moments.presence[i] * moments.presence[j] * scales.scale[i] * scales.scale[j]);
            let c = if c.is_finite() {
                c.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            correlation[i * p + j] = c;
            correlation[j * p + i] = c;
        }
    }
    correlation
}

/// The inverse of a shrunk correlation matrix by Cholesky, shrinking further until it
/// is numerically positive definite (at worst, no correlation at all).
fn cholesky_precision(shrunk: &[f64], p: usize) -> Vec<f64> {
    let mut extra = 0.0;
    loop {
        let matrix: Vec<f64> = shrunk
            .iter()
            .enumerate()
            .map(|(k, &c)| if k / p == k % p { c } else { (1.0 - extra) * c })
            .collect();
        match inverse_spd(&matrix, p) {
            Some(inverse) if cholesky(&inverse, p).is_some() => return inverse,
            _ if extra >= 1.0 => return identity(p),
            _ => extra = (extra * 2.0).clamp(1e-6, 1.0),
        }
    }
}

fn identity(p: usize) -> Vec<f64> {
    (0..p * p)
        .map(|k| if k / p == k % p { 1.0 } else { 0.0 })
        .collect()
}

/// The OAS shrinkage intensity toward the identity of a correlation matrix of
/// `dimension` effective sensors estimated from `rows` rows.
fn oas_shrinkage(correlation: &[f64], p: usize, dimension: usize, rows: f64) -> f64 {
    if dimension < 2 {
        return 0.0;
    }
    let d = dimension as f64;
    // Only the learnt sensors count (the others are rows of the identity, trace 1 and
    // no off-diagonal).
    let off_diagonal: f64 = (0..p)
        .flat_map(|i| (0..p).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .map(|(i, j)| correlation[i * p + j] * correlation[i * p + j])
        .sum();
    let trace_square = d + off_diagonal;
    let trace = d;
    let numerator = (1.0 - 2.0 / d) * trace_square + trace * trace;
    let denominator = (rows + 1.0 - 2.0 / d) * (trace_square - trace * trace / d);
    if denominator <= 0.0 {
        1.0
    } else {
        (numerator / denominator).clamp(0.0, 1.0)
    }
}
