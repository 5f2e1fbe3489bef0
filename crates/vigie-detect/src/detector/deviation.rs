//! The level features, both in units of noise:
//!
//! * *deviation*: distance of the deseasonalised value from a fast exponentially
//!   weighted level, in units of noise: the geometric mean of the long-run mean
//!   absolute innovation and that of the current hour of the day (many series are
//!   noisier at some hours than at others), the latter once the series has a day of
//!   history (before, "this hour" has not been seen on another day) (spikes, level
//!   shifts, drifts once large enough);
//! * *drift*: distance of the fast level from a slow one, in the same units of noise
//!   (slow drifts and level shifts that no single reading reveals).
//!
//! The levels and the long-run innovation are estimates, smoothed per reading; the
//! hour-of-day innovations learn per visit, like the daily profile
//! ([`super::profile`]). The long-run mean absolute innovation is also the unit of
//! noise of the extreme feature ([`super::extreme`]).

use serde::{Deserialize, Serialize};

use super::profile::{Deseasonalised, Switch};
use super::{DAY_BINS, DetectorConfig, Reading};

/// The deviation feature's state: the fast level and the units of noise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Deviation {
    /// Fast level of the deseasonalised values.
    pub(super) level: f64,
    /// Long-run mean absolute innovation.
    pub(super) scale: f64,
    /// Mean absolute innovation per hour of the day, and visits (a reading counting
    /// as its [`Reading::weight`]).
    pub(super) hour_scale: [f64; DAY_BINS],
    pub(super) hour_visits: [f64; DAY_BINS],
}

impl Deviation {
    /// Starts from the first value.
    pub(super) fn start(&mut self, value: f64) {
        self.level = value;
    }

    /// Keeps the fast level continuous when the daily profile is switched on or off.
    pub(super) fn rebase(&mut self, deseasonalised: &Deseasonalised) {
        match deseasonalised.switch {
            Switch::On => self.level -= deseasonalised.expected,
            Switch::Off => self.level += deseasonalised.expected,
            Switch::Kept => {}
        }
    }

    /// The deviation of the deseasonalised value `y`, and the unit of noise it was
    /// measured in; then learns.
    pub(super) fn update(&mut self, reading: &Reading, y: f64, c: &DetectorConfig) -> (f64, f64) {
        let bin = reading.hour;
        let innovation = y - self.level;
        // The unit of noise blends the long-run innovation with that of this hour.
        let hour_scale = if self.hour_visits[bin] >= 3.0 && reading.has_days(c.daily_min_days) {
            self.hour_scale[bin]
        } else {
            self.scale
        };
        let unit = self.scale.powf(1.0 - c.hour_scale) * hour_scale.powf(c.hour_scale);
        let unit = if unit.is_finite() { unit } else { self.scale };
        let deviation = innovation.abs() / (unit + reading.tiny);
        let a_scale = (1.0 / reading.seen as f64).max(c.scale_alpha);
        self.scale += a_scale * (innovation.abs() - self.scale);
        let weight = reading.weight;
        if weight > 0.0 {
            let visits = self.hour_visits[bin] + weight;
            let a_hour = (weight / visits).max(c.season_alpha * weight);
            self.hour_scale[bin] += a_hour * (innovation.abs() - self.hour_scale[bin]);
            self.hour_visits[bin] = visits;
        }
        self.level += c.level_alpha * innovation;
        (deviation, unit)
    }

    /// The fast level.
    pub(super) fn level(&self) -> f64 {
        self.level
    }

    /// The long-run mean absolute innovation.
    pub(super) fn scale(&self) -> f64 {
        self.scale
    }
}

/// The drift feature's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Drift {
    /// The slow level.
    pub(super) level: f64,
}

impl Drift {
    /// Starts from the first value.
    pub(super) fn start(&mut self, value: f64) {
        self.level = value;
    }

    /// The drift of the fast `level`, in the deviation's `unit` of noise; then learns.
    pub(super) fn update(&mut self, level: f64, unit: f64, tiny: f64, c: &DetectorConfig) -> f64 {
        let drift = (level - self.level).abs() / (unit + tiny);
        self.level += c.drift_alpha * (level - self.level);
        drift
    }
}
