//! Asset health: is a machine abnormal *now*, since when, and which sensors say so? An
//! [`AssetModel`] takes the asset's readings as aligned rows (one value per sensor, or
//! none when a sensor is silent) and yields, per row, a health score in `[0, 1]`, each
//! sensor's share of it, and the kind of abnormality.
//!
//! # Method: a smoothed Mahalanobis distance, aware of slow directions
//!
//! The model learns normal operation from the asset's own first rows (no labels):
//! every sensor's mean and deviation and the correlations between sensors, shrunk
//! toward none by OAS so that a few hundred rows of dozens of sensors give a usable
//! matrix (module `normal`). Each later row is scored by its squared Mahalanobis
//! distance `T²` to normal operation, which is smoothed over about `1 / smoothing` rows
//! (module `smoothing`) and calibrated on rows the model had not learnt from (module
//! `calibration`); the health is that smoothed, calibrated statistic.
//!
//! * **Relations between sensors.** `T²` weighs a deviation by the inverse
//!   covariance: a pair of sensors that always moved together and now disagree is far
//!   from normal even when each stays within its range.
//! * **Persistence.** The statistic is a moving average of per-row distances, so it
//!   stays high for as long as a fault lasts, whether the fault shifts the readings or
//!   only makes them erratic (the squared distance grows either way), and falls back
//!   within seconds to a minute of its end (rows at 1 Hz, on the pump bench).
//! * **Slow directions.** The smoothing averages noise away, but not the swings of a
//!   direction that varies slowly (a temperature, a wandering operating point), which
//!   a learning phase of minutes has seen few of. How slowly each principal direction
//!   varies is measured on the learning rows (batch means); its learnt variance is
//!   widened to its predictive (Student-t) level for the independent rows it was learnt
//!   from, and slow directions are smoothed and calibrated apart from the fast ones
//!   (module `directions`). Without this, 52 of 60 days of normal operation of the pump
//!   bench at 1 Hz (`tests/asset_pump.rs`) raised alarms; with it, one did (9 rows).
//! * **Which sensors.** Each sensor's contribution is its reconstruction-based
//!   contribution (how much `T²` falls if that sensor alone took its value expected
//!   from the others, Alcalá & Qin 2009), smoothed like the health; the shares sum to 1.
//!   The explanation ([`AssetModel::explain`]) gives each sensor's observed and
//!   expected value and learnt range, and [`AssetScore::kind`] the kind of abnormality
//!   ([`AssetAnomalyKind`]: out of range, erratic, or a broken relation).
//!
//! # Why this method: measured on the Tennessee Eastman process
//!
//! With the protocol of [`crate::tep`] (500 normal rows learnt, threshold at 5 % false
//! alarms on the 4,320 normal rows, mean detection rate over the 18 detectable faults;
//! `vigie eval tep DIR --alternatives`):
//!
//! | method | mean detection |
//! | --- | --- |
//! | PCA, 9 components, max(T², Q) (the README's reference) | 0.803 |
//! | MEWMA (`T²` of the exponentially weighted row), λ = 0.1 / 0.2 | 0.852 / 0.871 |
//! | Mahalanobis `T²` of the row (all components, shrunk) | 0.881 |
//! | the same on rows with 1 / 2 lags (dynamic, as DPCA) | 0.879 / 0.906 |
//! | **this model** (smoothing 0.1) | **0.924** |
//! | this model, smoothing 0.05 / 0.2 / 0.3 | 0.922 / 0.914 / 0.904 |
//! | this model without its treatment of slow directions | 0.954 |
//! | the same on rows with 1 lag | 0.958 |
//! | this model adapting to rows judged normal (memory 50,000 rows) | 0.957 |
//!
//! MEWMA averages the rows before squaring, so a fault that makes readings erratic
//! without moving their mean (TEP's random variations and sticky valves, faults 10, 14,
//! 16, 19) averages out; `T²` of single rows misses the small lasting shifts (5, 21)
//! that an average reveals; averaging the squared distance keeps both. Lags add little
//! once the distance is smoothed, for four times the cost per row. Discounting slow
//! directions costs 3 points on TEP (mostly fault 5, a shift the plant's controllers
//! move into slow directions) and is what keeps a short learning phase from raising
//! false alarms on a plant whose slow swings it has not seen: the TEP history is 25
//! hours long, the pump's 8 minutes. At its own threshold (0.5), calibrated on the
//! learning rows alone, the model flags no normal TEP row and detects 0.80.
//!
//! # Configuration, calibration and time scales
//!
//! Everything is counted in rows ([`AssetConfig`]): 500 learnt rows (8 min 20 s at
//! 1 Hz), a time constant of 10 rows. The last third of the learning phase is scored
//! out of sample to calibrate the health, so that normal operation reaches the
//! threshold [`ASSET_THRESHOLD`] (0.5) on [`AssetConfig::false_alarm_rate`] of its rows
//! (10⁻⁸ by default, nominally one row in three years at 1 Hz; module `calibration`
//! says what it accounts for). Nominal, because it rests on what the learning phase
//! saw: on the pump bench, one day in sixty had an alarm (9 rows), and on TEP none of
//! the 4,320 normal rows.
//!
//! # What changes the model
//!
//! * **Learning** takes the first [`AssetConfig::learning_rows`] rows; the health is 0
//!   meanwhile.
//! * **Adaptation** (off by default, [`AssetConfig::adaptation_rows`]) refines the
//!   model from rows *judged normal* only (smoothed statistic below its normal 99th
//!   percentile), refitting after each quarter of what it has learnt. A lasting
//!   abnormal state is never absorbed, however long it lasts; a slow drift that stays
//!   below the gate could be, which is why it is off.
//! * **A new normal** is only made by [`AssetModel::relearn`] (an authorised user's
//!   decision), or automatically after [`AssetConfig::accept_after_rows`] consecutive
//!   abnormal rows if an operator sets it (off by default).
//!
//! # Missing sensors
//!
//! A sensor missing from a row (or whose value is not finite) is imputed by its
//! expected value given the sensors present, its conditional expectation under the
//! learnt model. The row is then scored as the present sensors under their own
//! marginal model, with one degree of freedom fewer per missing sensor, so the health
//! keeps its calibration; the missing sensor contributes nothing to that row (its past
//! contributions fade with the smoothing) and [`AssetModel::explain`] gives its imputed
//! value as expected. A row with every sensor missing carries no evidence: it changes
//! nothing and repeats the last health. While learning, a missing value counts as the
//! sensor's mean and the correlations are corrected for its absences; a sensor present
//! in fewer than half the learnt rows, or constant, is scored alone, outside the
//! correlations.
//!
//! # Cost
//!
//! Per row, one product of the packed precision matrix with the row (`p²`
//! multiply-adds for `p` sensors) and one projection on the slow directions; for rows
//! adapted from, a rank-one update of the packed covariance (`p²/2`). At the end of
//! learning (twice: for the calibration rows, then for good) and at each refit, an
//! eigendecomposition (cyclic Jacobi, `O(p³)`). Memory: about `8 p²` bytes (the packed
//! covariance and precision) and 0.35 kB per sensor. Measured with `cargo bench -p
//! vigie-detect --bench asset`: for 52 sensors, 1.6 µs per row (the series detector
//! takes 0.25 µs per point, 13 µs for a row's 52 points), 8 ms for the whole learning
//! phase, 42 kB per asset; for 256 sensors (the pipeline's largest asset), 17 µs per
//! row, 0.5 s of learning, 0.6 MB.
//!
//! Like the per-series detector, the configuration is kept apart from the state: a
//! state records the [`AssetConfigId`] it was learnt with and is only restored with it.

use serde::{Deserialize, Serialize};

mod calibration;
mod config;
mod directions;
mod explain;
mod linalg;
mod moments;
mod normal;
mod smoothing;
mod student;

#[cfg(test)]
mod tests;

pub use config::{ASSET_THRESHOLD, AssetConfig, AssetConfigId};
pub use explain::{AssetAnomalyKind, AssetExplanation, SensorExplanation};

pub(crate) use linalg::{inverse_spd, symmetric_eigen};

use calibration::{Calibration, Holdout, RowStatistic};
use config::MIN_CALIBRATION_ROWS;
use moments::Moments;
use normal::{NormalModel, RowFit};
use smoothing::Smoothed;

/// Why a saved asset state cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetRestoreError {
    /// It was learnt with another configuration.
    #[error("the asset state was learnt with another configuration")]
    OtherConfig,
}

/// What one row gives.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetScore {
    /// The health score in `[0, 1]`, higher meaning more abnormal; 0 while learning.
    pub health: f64,
    /// Each sensor's share of the score (summing to 1 when the score is above 0), in
    /// the order of the row.
    pub contributions: Vec<f64>,
    /// Whether the model is still learning normal operation.
    pub learning: bool,
    /// The kind of abnormality the leading contributor shows (`None` while learning);
    /// meaningful when the health is high.
    pub kind: Option<AssetAnomalyKind>,
}

/// Scratch space reused from row to row: it holds nothing between rows, so it is
/// neither serialised nor compared.
#[derive(Debug, Clone, Default)]
struct Scratch {
    fit: RowFit,
    deviation: Vec<f64>,
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The streaming health model of one asset; its state serialises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetModel {
    config_id: AssetConfigId,
    /// Rows since learning (re)started.
    rows: u64,
    /// What has been learnt from normal rows.
    moments: Moments,
    /// The fitted model (the provisional one during the calibration rows).
    normal: Option<NormalModel>,
    /// The calibration rows' scores.
    holdout: Holdout,
    /// The calibration, once learnt.
    calibration: Option<Calibration>,
    /// The smoothed statistic and contributions.
    smoothed: Smoothed,
    /// Rows adapted from since the model was last fitted.
    adapted: u64,
    /// Consecutive rows at or above the threshold.
    abnormal_rows: u64,
    /// The last health scored.
    health: f64,
    /// The last row scored (for the explanation).
    last_row: Vec<Option<f64>>,
    #[serde(skip)]
    scratch: Scratch,
}

impl AssetModel {
    /// A new model of an asset of `sensors` sensors, learning from its first rows.
    pub fn new(config: &AssetConfig, sensors: usize) -> Self {
        let moments = Moments::new(sensors, u64::from(config.learning_rows.max(1)));
        Self::unlearnt(config.id(), moments)
    }

    /// A model that has learnt nothing yet, from `moments` that have learnt nothing.
    fn unlearnt(config_id: AssetConfigId, moments: Moments) -> Self {
        let sensors = moments.mean.len();
        Self {
            config_id,
            rows: 0,
            moments,
            normal: None,
            holdout: Holdout::default(),
            calibration: None,
            smoothed: Smoothed::new(sensors, [1.0; calibration::PARTS]),
            adapted: 0,
            abnormal_rows: 0,
            health: 0.0,
            last_row: vec![None; sensors],
            scratch: Scratch::default(),
        }
    }

    /// Checks that a restored state was learnt with `config`.
    ///
    /// # Errors
    /// [`AssetRestoreError::OtherConfig`] otherwise.
    pub fn restore(self, config: &AssetConfig) -> Result<Self, AssetRestoreError> {
        if self.config_id == config.id() {
            Ok(self)
        } else {
            Err(AssetRestoreError::OtherConfig)
        }
    }

    /// The number of sensors.
    pub fn sensors(&self) -> usize {
        self.moments.mean.len()
    }

    /// Whether the model is learning normal operation (its health is 0 meanwhile).
    pub fn is_learning(&self) -> bool {
        self.calibration.is_none()
    }

    /// Forgets what was learnt: normal operation is learnt again from the next rows
    /// (an authorised "this is the new normal").
    pub fn relearn(&mut self) {
        let scratch = std::mem::take(&mut self.scratch);
        *self = Self {
            scratch,
            ..Self::unlearnt(self.config_id, self.moments.forgotten())
        };
    }

    /// Bytes the model takes in memory (its state and its scratch space): about
    /// `8 p²` bytes and 0.35 kB per sensor for `p` sensors (42 kB for 52 sensors).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.moments.heap_bytes()
            + self.normal.as_ref().map_or(0, NormalModel::heap_bytes)
            + self.smoothed.heap_bytes()
            + self.last_row.capacity() * std::mem::size_of::<Option<f64>>()
            + self.scratch.fit.heap_bytes()
            + self.scratch.deviation.capacity() * std::mem::size_of::<f64>()
    }

    /// Scores one aligned row (a value per sensor, `None` for a silent one; a
    /// non-finite value counts as silent), then learns from it while learning, or
    /// adapts to it if it is judged normal.
    pub fn score(&mut self, config: &AssetConfig, row: &[Option<f64>]) -> AssetScore {
        let p = self.sensors();
        self.rows += 1;
        self.last_row.clear();
        self.last_row
            .extend((0..p).map(|i| moments::value_of(row, i)));
        self.scratch.deviation.resize(p, 0.0);
        let (Some(calibration), Some(normal)) = (&self.calibration, &self.normal) else {
            self.learn(config);
            return AssetScore {
                health: 0.0,
                contributions: vec![0.0; p],
                learning: true,
                kind: None,
            };
        };
        let fit = &mut self.scratch.fit;
        normal.evaluate(&self.last_row, fit);
        let mut judged_normal = false;
        // A row without any sensor carries no evidence: nothing changes.
        if fit.present.iter().any(|&present| present) {
            let statistic = RowStatistic::of(fit, normal, config.surprise_cap);
            self.smoothed.update(config.lambda(), &statistic, fit);
            let log_q = calibration.log_tail(&self.smoothed.statistic, &statistic.dofs);
            self.health = Calibration::health(log_q, config.alarm_probability());
            judged_normal = log_q >= config.adaptation_gate.clamp(1e-300, 1.0).ln();
        }
        if judged_normal && config.adaptation_rows > 0 {
            self.adapt(config);
        }
        let score = AssetScore {
            health: self.health,
            contributions: self.smoothed.shares(),
            learning: false,
            kind: self
                .normal
                .as_ref()
                .map(|normal| explain::kind(&self.smoothed, normal, &self.moments)),
        };
        if self.health >= ASSET_THRESHOLD {
            self.abnormal_rows += 1;
            if config.accept_after_rows > 0
                && self.abnormal_rows >= u64::from(config.accept_after_rows)
            {
                self.relearn();
            }
        } else {
            self.abnormal_rows = 0;
        }
        score
    }

    /// Learns the last row during the learning phase: the fitting rows, then the
    /// calibration rows (scored out of sample before they are learnt), then the final
    /// fit and calibration.
    fn learn(&mut self, config: &AssetConfig) {
        let p = self.sensors();
        let fitting = config.fitting_rows();
        let total = u64::from(config.learning_rows.max(1));
        if self.rows > fitting
            && let Some(normal) = &self.normal
        {
            let fit = &mut self.scratch.fit;
            normal.evaluate(&self.last_row, fit);
            if fit.present.iter().any(|&present| present) {
                self.holdout
                    .push(&RowStatistic::of(fit, normal, config.surprise_cap));
            }
        }
        self.moments.learn(
            &self.last_row,
            self.memory(config),
            &mut self.scratch.deviation,
        );
        if self.rows == fitting && fitting < total {
            self.normal = Some(NormalModel::fit(&self.moments, config));
        }
        if self.rows >= total {
            let normal = NormalModel::fit(&self.moments, config);
            let calibration =
                self.holdout
                    .calibration(config.lambda(), MIN_CALIBRATION_ROWS, &normal);
            self.smoothed = Smoothed::new(p, calibration.means());
            self.normal = Some(normal);
            self.calibration = Some(calibration);
            self.adapted = 0;
        }
    }

    /// Learns the last row, judged normal, and refits once enough rows were learnt.
    fn adapt(&mut self, config: &AssetConfig) {
        self.moments.learn(
            &self.last_row,
            self.memory(config),
            &mut self.scratch.deviation,
        );
        self.adapted += 1;
        // Refit after a quarter of what the model has learnt: often while it is young,
        // rarely (at a quarter of the memory) once mature.
        if self.adapted as f64 >= (self.moments.weight / 4.0).max(MIN_REFIT_ROWS) {
            self.normal = Some(NormalModel::fit(&self.moments, config));
            self.adapted = 0;
        }
    }

    /// The most rows the moments remember.
    fn memory(&self, config: &AssetConfig) -> f64 {
        f64::from(config.adaptation_rows.max(config.learning_rows.max(1)))
    }

    /// The detail of the last scored row: every sensor's observed and expected value
    /// and learnt range, and the kind of abnormality; `None` while learning.
    pub fn explain(&self) -> Option<AssetExplanation> {
        let normal = self.normal.as_ref()?;
        self.calibration.as_ref()?;
        let mut fit = RowFit::default();
        normal.evaluate(&self.last_row, &mut fit);
        let shares = self.smoothed.shares();
        Some(AssetExplanation {
            kind: explain::kind(&self.smoothed, normal, &self.moments),
            sensors: explain::sensors(&self.last_row, &fit, normal, &self.moments, &shares),
        })
    }
}

/// Fewest adapted rows between two refits.
const MIN_REFIT_ROWS: f64 = 32.0;
