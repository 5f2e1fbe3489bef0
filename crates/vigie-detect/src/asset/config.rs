//! The asset model's settings, one struct for every asset, kept apart from the learnt
//! state. Every time scale is counted in rows (aligned sampling intervals), never in
//! wall-clock time, so that a 1 Hz asset is useful after minutes and a 3-minute one
//! after a day.

use serde::{Deserialize, Serialize};

/// The health score at or above which an asset is abnormal. The model is calibrated
/// so that normal operation reaches it on [`AssetConfig::false_alarm_rate`] of its rows.
pub const ASSET_THRESHOLD: f64 = 0.5;

/// Settings of every asset model (the reference of each is its doc comment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssetConfig {
    /// Rows learnt from before any health is scored: the learning phase. Statistically
    /// it should be several times the number of sensors (the correlations are shrunk
    /// the more, the fewer rows there are), and cover the asset's usual operating
    /// points. Default 500: at 1 Hz, 8 min 20 s; for the Tennessee Eastman benchmark,
    /// its 500 rows of normal history.
    pub learning_rows: u32,
    /// Share of the learning phase, at its end, scored by the model fitted on the rows
    /// before it: how the statistic spreads on rows the model has not learnt from
    /// calibrates the health (at least 30 rows are needed; with fewer the theoretical
    /// spread of independent Gaussian rows is used). Default one third.
    pub calibration_share: f64,
    /// Smoothing factor, per row, of the health statistic and of the contributions:
    /// their time constant is `1 / smoothing` rows. Smaller finds smaller lasting
    /// changes but later. Default 0.1 (10 rows).
    pub smoothing: f64,
    /// Probability, per row of normal operation, that the health reaches
    /// [`ASSET_THRESHOLD`], as calibrated on the learning rows (10⁻⁸ by default:
    /// nominally, at 1 Hz, one row in three years; in practice more, for what the
    /// learning phase did not see, module `asset`).
    pub false_alarm_rate: f64,
    /// Largest per-row surprise (a standard normal score) a row counts for: one wild
    /// row (a glitch) then raises the smoothed statistic by a bounded step, at most a
    /// row or two above the threshold, while a few such rows in a row are abnormal at
    /// once and a lasting fault keeps the health near 1. Default 6.
    pub surprise_cap: f64,
    /// Least shrinkage of the learnt correlations toward none, in `[0, 1]`; the
    /// shrinkage itself is estimated from the data (oracle approximating shrinkage).
    /// Default 0.
    pub min_shrinkage: f64,
    /// Whether the model measures how slowly each principal direction of normal
    /// operation varies and accounts for it: a direction learnt from few independent
    /// rows (a temperature whose time constant is minutes, in a learning phase of
    /// minutes) has its variance raised to its predictive level, and slow directions
    /// are smoothed and calibrated apart from fast ones (module `directions`). Without
    /// it, a slow sensor's normal swings wider than the learning phase saw are alarms.
    /// Default `true`.
    pub persistence_aware: bool,
    /// Memory, in rows, of the adaptation after learning: rows judged normal keep
    /// refining the model, rows older than about this many forgotten. `0` (the
    /// default): the model never changes after learning. A change is only learnt from
    /// rows judged normal, so a lasting abnormal state is never absorbed (see
    /// `accept_after_rows`), but a drift slow enough to stay below the gate could be.
    pub adaptation_rows: u32,
    /// A row is judged normal (and adapted from) when its smoothed statistic is below
    /// the level normal operation exceeds with this probability (`0.01`: its 99th
    /// percentile).
    pub adaptation_gate: f64,
    /// Consecutive rows at or above [`ASSET_THRESHOLD`] after which the abnormal state
    /// is accepted as the new normal, as [`crate::asset::AssetModel::relearn`] would do
    /// it (the model learns again from the next row). `0` (the default): never; only an
    /// authorised user's relearn makes a new normal.
    pub accept_after_rows: u32,
}

impl Default for AssetConfig {
    fn default() -> Self {
        Self {
            learning_rows: 500,
            calibration_share: 1.0 / 3.0,
            smoothing: 0.1,
            false_alarm_rate: 1e-8,
            surprise_cap: 6.0,
            min_shrinkage: 0.0,
            persistence_aware: true,
            adaptation_rows: 0,
            adaptation_gate: 0.01,
            accept_after_rows: 0,
        }
    }
}

/// The identity of an [`AssetConfig`] (a hash of its JSON form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssetConfigId(u64);

impl AssetConfig {
    /// This configuration's identity.
    pub fn id(&self) -> AssetConfigId {
        let text = serde_json::to_string(self).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        AssetConfigId(hash)
    }

    /// The smoothing factor, kept within `(0, 1]`.
    pub(crate) fn lambda(&self) -> f64 {
        if self.smoothing.is_finite() {
            self.smoothing.clamp(1e-4, 1.0)
        } else {
            0.1
        }
    }

    /// Rows of the learning phase fitted before the calibration rows.
    pub(crate) fn fitting_rows(&self) -> u64 {
        let total = u64::from(self.learning_rows.max(1));
        let share = if self.calibration_share.is_finite() {
            self.calibration_share.clamp(0.0, 0.9)
        } else {
            0.0
        };
        let calibration = (total as f64 * share).round() as u64;
        if calibration < MIN_CALIBRATION_ROWS {
            total
        } else {
            total - calibration
        }
    }

    /// The per-row false-alarm probability, kept within `(0, 0.5)`.
    pub(crate) fn alarm_probability(&self) -> f64 {
        if self.false_alarm_rate.is_finite() {
            self.false_alarm_rate.clamp(1e-300, 0.49)
        } else {
            1e-6
        }
    }
}

/// Fewest calibration rows whose spread is measured rather than assumed.
pub(crate) const MIN_CALIBRATION_ROWS: u64 = 30;
