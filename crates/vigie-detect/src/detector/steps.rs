//! The features of the step from one reading to the next, in time and in value:
//!
//! * *gap*: log-ratio of the time step to the typical time step;
//! * *stuck*: how many times in a row the value repeated exactly;
//! * *noise*: absolute log-ratio of the short-term to the long-term mean absolute
//!   step (a sudden change of noise, either way).
//!
//! The mean absolute step is also the unit in which the shape feature
//! ([`super::novelty`]) quantises steps.

use serde::{Deserialize, Serialize};

use super::{DetectorConfig, Reading};

/// The gap feature's state: the typical time step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Gap {
    /// Exponentially weighted mean of ln(time step in ms).
    pub(super) log_step: f64,
}

impl Gap {
    /// The gap feature of `reading`; then learns its time step.
    pub(super) fn update(&mut self, reading: &Reading) -> f64 {
        let ln_step = reading.step_ms.max(1.0).ln();
        let gap = if reading.seen <= 2 {
            self.log_step = ln_step;
            0.0
        } else {
            (ln_step - self.log_step).max(0.0)
        };
        self.log_step += 0.01 * (ln_step - self.log_step);
        gap
    }
}

/// The stuck feature's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Stuck {
    /// Consecutive exact repeats of the value.
    pub(super) repeats: f64,
}

impl Stuck {
    /// The stuck feature, given the absolute `step` from the last value.
    pub(super) fn update(&mut self, step: f64) -> f64 {
        self.repeats = if step == 0.0 { self.repeats + 1.0 } else { 0.0 };
        self.repeats
    }
}

/// The noise feature's state: short- and long-term mean absolute step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Noise {
    pub(super) short: f64,
    pub(super) long: f64,
}

impl Noise {
    /// The noise feature, given the absolute `step` from the last value, and the mean
    /// absolute step before learning from this one; then learns.
    pub(super) fn update(
        &mut self,
        reading: &Reading,
        step: f64,
        c: &DetectorConfig,
    ) -> (f64, f64) {
        let noise_floor = reading.tiny + 1e-3 * self.long;
        let noise = if reading.seen <= 2 {
            self.short = step;
            self.long = step;
            0.0
        } else {
            ((self.short + noise_floor) / (self.long + noise_floor))
                .ln()
                .abs()
        };
        let unit = self.long + noise_floor;
        self.short += c.noise_short_alpha * (step - self.short);
        let a_noise = (1.0 / reading.seen as f64).max(c.noise_long_alpha);
        self.long += a_noise * (step - self.long);
        (noise, unit)
    }
}
