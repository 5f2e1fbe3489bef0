//! Calibration by records: each feature (log-compressed and averaged over a couple of
//! points) is compared with its own *record*, the highest value seen, decaying slowly
//! towards the feature's mean (hyperbolically at first, then exponentially); the score
//! of a feature is by how much it breaks its record, relative to the record's height.
//!
//! This turns heterogeneous features and series into one scale, so that one threshold
//! serves every series, and it makes a detector that fires on what has not been seen
//! before rather than on what is merely large (the idea behind the best NAB detectors:
//! ARTime's novelty, HTM's anomaly likelihood). Per-feature minimum records (for
//! instance 5 mean absolute innovations for the deviation) keep well-behaved series
//! quiet. The extreme feature, already relative to the envelope's width, is used as it
//! is.

use serde::{Deserialize, Serialize};

use super::{DetectorConfig, FEATURES, Feature};

/// The record of one feature: its short-term average, long-run mean and (decaying)
/// highest value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Record {
    short: f64,
    mean: f64,
    top: f64,
    seen: u32,
}

impl Record {
    /// Returns by how much the short average of `value` breaks the record of the past,
    /// relative to the record's height above the mean; then learns, the reading
    /// counting as `weight` in the record's memory. The record never falls below
    /// `minimum`, and rises towards a higher value by the fraction `rise` per reading.
    fn update(
        &mut self,
        value: f64,
        minimum: f64,
        rise: f64,
        weight: f64,
        c: &DetectorConfig,
    ) -> f64 {
        if self.seen == 0 {
            self.short = value;
            self.mean = value;
            self.top = value.max(minimum);
            self.seen = 1;
            return 0.0;
        }
        self.short += c.short_alpha * (value - self.short);
        let height = (self.top - self.mean).max(0.0) + c.record_floor * self.mean.abs() + 1e-12;
        let broken = (self.short - self.top).max(0.0) / height;
        self.seen = self.seen.saturating_add(1);
        // A running average at first, then exponentially weighted.
        let a = (1.0 / f64::from(self.seen)).max(c.long_alpha);
        self.mean += a * (value - self.mean);
        let floor = self.mean.max(minimum);
        // The early, hyperbolic decay is that of a running maximum, the same per
        // reading at any rate; the exponential one is a memory, in time.
        let decay = (c.record_decay * weight).max(c.record_memory / f64::from(self.seen));
        let decayed = floor + (self.top - floor) * (1.0 - decay);
        self.top = if self.short > decayed {
            decayed + rise * (self.short - decayed)
        } else {
            decayed
        }
        .max(floor);
        broken
    }
}

/// The records of every feature, and of the shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Calibration {
    /// Per feature, in the order of [`Feature::ALL`].
    pub(super) records: [Record; FEATURES],
    /// The shape's (reported as [`Feature::Context`]).
    pub(super) shape: Record,
}

/// The weighted record-breaking ratio of each feature for one reading, and of the
/// shape (reported as [`Feature::Context`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Surprises {
    pub(super) features: [f64; FEATURES],
    pub(super) shape: f64,
}

impl Surprises {
    /// The strongest ratio and the feature that broke its record (none if none did),
    /// the first in [`Feature::ALL`] order on a tie, the shape last.
    pub(super) fn strongest(&self) -> (f64, Option<Feature>) {
        let mut best = 0.0f64;
        let mut feature = None;
        for (&weighted, f) in self.features.iter().zip(Feature::ALL) {
            if weighted > best {
                best = weighted;
                feature = Some(f);
            }
        }
        if self.shape > best {
            best = self.shape;
            feature = Some(Feature::Context);
        }
        (best, feature)
    }
}

impl Calibration {
    /// The weighted record-breaking ratios of the `raw` features and of the `shape`
    /// (zero where no record broke); then learns, the reading counting as `weight` in
    /// the records' memory.
    pub(super) fn update(
        &mut self,
        raw: [f64; FEATURES],
        shape: f64,
        weight: f64,
        c: &DetectorConfig,
    ) -> Surprises {
        let mut features = [0.0; FEATURES];
        for (i, (&f, record)) in raw.iter().zip(&mut self.records).enumerate() {
            let broken = if Feature::ALL[i] == Feature::Extreme {
                extreme_ratio(f, c)
            } else {
                let minimum = c.record_min[i].ln_1p();
                record.update(f.min(1e12).ln_1p(), minimum, c.record_rise[i], weight, c)
            };
            features[i] = c.weights[i] * broken;
        }
        let shape = if c.shape_weight > 0.0 {
            let minimum = c.shape_min.ln_1p();
            c.shape_weight * self.shape.update(shape.ln_1p(), minimum, 1.0, weight, c)
        } else {
            0.0
        };
        Surprises { features, shape }
    }
}

/// The weighted ratio of an extreme feature `f`, which needs no record.
pub(super) fn extreme_ratio(f: f64, c: &DetectorConfig) -> f64 {
    f / c.extreme_unit
}
