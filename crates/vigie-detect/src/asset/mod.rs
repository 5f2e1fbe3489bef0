//! Asset health: is a machine abnormal *now*, from all its sensors at once? An
//! [`AssetModel`] takes the asset's readings as aligned rows (one value per sensor, or
//! none when a sensor is silent) and yields, per row, a health score in `[0, 1]` and
//! each sensor's share of it.
//!
//! This first model is deliberately simple (per-sensor standardised deviations,
//! smoothed, the largest one scored): it fixes the interface the pipeline uses. The
//! model itself is chosen and measured on TEP in `asset` work of its own.
//!
//! Like the per-series detector, the configuration is kept apart from the state: a
//! state records the [`AssetConfigId`] it was learnt with and is only restored with it.

use serde::{Deserialize, Serialize};

/// The health score at or above which an asset is abnormal.
pub const ASSET_THRESHOLD: f64 = 0.5;

/// Settings of every asset model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssetConfig {
    /// Rows learnt from before any health is scored.
    pub learning_rows: u32,
    /// Smoothing factor of each sensor's standardised deviation, per row.
    pub smoothing: f64,
    /// Smoothed deviation (in its own standard deviations) that scores 0.5.
    pub half_health_deviation: f64,
}

impl Default for AssetConfig {
    fn default() -> Self {
        Self {
            learning_rows: 200,
            smoothing: 0.2,
            half_health_deviation: 5.0,
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
}

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
}

/// One sensor's running statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SensorStats {
    count: u64,
    mean: f64,
    m2: f64,
    smoothed: f64,
}

impl SensorStats {
    fn learn(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
    }

    fn deviation(&self) -> f64 {
        if self.count < 2 {
            return 1.0;
        }
        (self.m2 / (self.count - 1) as f64)
            .sqrt()
            .max(1e-9 * (1.0 + self.mean.abs()))
    }
}

/// The streaming health model of one asset; its state serialises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetModel {
    config_id: AssetConfigId,
    rows: u64,
    sensors: Vec<SensorStats>,
}

impl AssetModel {
    /// A new model of an asset of `sensors` sensors, learning from its first rows.
    pub fn new(config: &AssetConfig, sensors: usize) -> Self {
        Self {
            config_id: config.id(),
            rows: 0,
            sensors: vec![SensorStats::default(); sensors],
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
        self.sensors.len()
    }

    /// Forgets what was learnt: normal operation is learnt again from the next rows
    /// (an authorised "this is the new normal").
    pub fn relearn(&mut self) {
        self.rows = 0;
        self.sensors
            .iter_mut()
            .for_each(|s| *s = SensorStats::default());
    }

    /// Bytes the model takes in memory.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(self.sensors.as_slice())
    }

    /// Scores one aligned row (a value per sensor, `None` for a silent one), then learns
    /// from it while learning. A silent sensor contributes nothing.
    pub fn score(&mut self, config: &AssetConfig, row: &[Option<f64>]) -> AssetScore {
        self.rows += 1;
        let learning = self.rows <= u64::from(config.learning_rows);
        let mut contributions = vec![0.0; self.sensors.len()];
        if learning {
            for (stats, value) in self.sensors.iter_mut().zip(row) {
                if let Some(value) = value.filter(|v| v.is_finite()) {
                    stats.learn(value);
                }
            }
            return AssetScore {
                health: 0.0,
                contributions,
                learning: true,
            };
        }
        let mut largest = 0.0_f64;
        for ((stats, value), share) in self.sensors.iter_mut().zip(row).zip(&mut contributions) {
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            let z = (value - stats.mean) / stats.deviation();
            stats.smoothed += config.smoothing * (z - stats.smoothed);
            *share = stats.smoothed.abs();
            largest = largest.max(*share);
        }
        let total: f64 = contributions.iter().sum();
        if total > 0.0 {
            contributions.iter_mut().for_each(|share| *share /= total);
        }
        let health =
            1.0 - (-(largest / config.half_health_deviation) * std::f64::consts::LN_2).exp();
        AssetScore {
            health: if health.is_finite() {
                health.clamp(0.0, 1.0)
            } else {
                1.0
            },
            contributions,
            learning: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_of_one_sensor_is_found_and_named() {
        let config = AssetConfig::default();
        let mut model = AssetModel::new(&config, 3);
        let row = |i: usize, shift: f64| {
            let noise = |k: usize| (((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0) - 0.5;
            vec![
                Some(10.0 + noise(0)),
                Some(5.0 + noise(1) + shift),
                Some(1.0 + noise(2)),
            ]
        };
        for i in 0..1_000 {
            let score = model.score(&config, &row(i, 0.0));
            if i > 300 {
                assert!(score.health < ASSET_THRESHOLD, "row {i}: {score:?}");
            }
        }
        let mut last = None;
        for i in 1_000..1_100 {
            last = Some(model.score(&config, &row(i, 5.0)));
        }
        let last = last.unwrap();
        assert!(last.health >= ASSET_THRESHOLD, "{last:?}");
        assert!(last.contributions[1] > 0.9, "{last:?}");
        let json = serde_json::to_string(&model).unwrap();
        let back: AssetModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.restore(&config).unwrap(), model);
    }
}
