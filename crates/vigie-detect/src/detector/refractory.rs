//! The last stage: the surprise mapped to a score in `[0, 1)` by
//! `1 - exp(-r / score_scale)`, then damped when it repeats a recent alarm.
//!
//! A score is passed on in full only if it exceeds the last score passed in full
//! (decaying) by half again; otherwise, and for a refractory period after an alarm (a
//! score of at least [`DetectorConfig::alarm_level`]), it is halved: repeated alarms
//! about one incident only add false positives (NAB rewards the first detection in a
//! window and charges every false one).

use serde::{Deserialize, Serialize};

use super::DetectorConfig;

/// The memory of recent scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Refractory {
    /// The last score passed on in full (decaying).
    pub(super) peak: f64,
    /// Readings left in the refractory period.
    pub(super) cooldown: u32,
}

impl Refractory {
    /// The score of the surprise `best`; then remembers it.
    pub(super) fn update(&mut self, best: f64, c: &DetectorConfig) -> f64 {
        let mut score = 1.0 - (-best / c.score_scale).exp();
        if score >= self.peak * c.peak_margin {
            self.peak = score;
        } else {
            self.peak *= c.peak_decay;
            score *= c.refractory_factor;
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            score *= c.refractory_factor;
        } else if score >= c.alarm_level {
            self.cooldown = c.refractory;
        }
        if score.is_nan() {
            0.0
        } else {
            score.clamp(0.0, 1.0)
        }
    }
}
