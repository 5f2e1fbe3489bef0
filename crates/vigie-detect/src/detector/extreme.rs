//! The *extreme* feature: excess of the value beyond a slowly contracting envelope of
//! the values seen so far, relative to the envelope's width (new highs and lows, which
//! many real incidents are).
//!
//! The envelope never contracts to within a few noise units of the envelope of the
//! smoothed values, so noise alone breaks no record. The part of the excess that stays
//! within a long-memory envelope (the highest and lowest values of a much longer past,
//! contracting ten times more slowly) counts only a tenth: a return to a level already
//! reached, such as a periodic spike of the same height once the envelope has
//! contracted, is not a new high.
//!
//! Already relative to the envelope's width, the feature is not calibrated by a record
//! ([`super::records`]) but used as it is. The envelope also gives the range in which
//! the context feature ([`super::novelty`]) quantises values.

use serde::{Deserialize, Serialize};

use super::{DetectorConfig, Reading};

/// The envelopes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Extreme {
    /// Envelope of the values.
    pub(super) hi: f64,
    pub(super) lo: f64,
    /// The smoothed value, and the envelope of the smoothed values.
    pub(super) smooth: f64,
    pub(super) smooth_hi: f64,
    pub(super) smooth_lo: f64,
    /// Long-memory envelope of the values, high and low (absent until the second
    /// reading, and from the oldest states: started from the envelope).
    pub(super) long: Option<[f64; 2]>,
}

impl Extreme {
    /// Starts from the first value.
    pub(super) fn start(&mut self, value: f64) {
        self.hi = value;
        self.lo = value;
        self.smooth = value;
        self.smooth_hi = value;
        self.smooth_lo = value;
    }

    /// Width of the envelope.
    pub(super) fn range(&self) -> f64 {
        (self.hi - self.lo).max(0.0)
    }

    /// The envelope, high and low.
    pub(super) fn bounds(&self) -> (f64, f64) {
        (self.hi, self.lo)
    }

    /// The extreme feature of `reading`, `scale` being the unit of noise; then learns.
    pub(super) fn update(&mut self, reading: &Reading, scale: f64, c: &DetectorConfig) -> f64 {
        let value = reading.value;
        let width = reading.range + scale + reading.tiny;
        let excess = (value - self.hi).max(0.0) + (self.lo - value).max(0.0);
        let slack = c.extreme_slack * scale;
        let extreme = (excess - slack).max(0.0) / width;
        let [hi_long, lo_long] = self.long.unwrap_or([self.hi, self.lo]);
        let long_excess = (value - hi_long).max(0.0) + (lo_long - value).max(0.0);
        let new_extreme = (long_excess - slack).max(0.0) / width;
        let extreme = c.revisit_factor * extreme + (1.0 - c.revisit_factor) * new_extreme;
        // The envelope contracts slowly, but never to less than `extreme_noise` noise
        // units beyond the smoothed values'.
        self.smooth += c.level_alpha * (value - self.smooth);
        let decay = c.envelope_decay;
        self.smooth_hi = self
            .smooth
            .max(self.smooth_hi - decay * (self.smooth_hi - self.smooth));
        self.smooth_lo = self
            .smooth
            .min(self.smooth_lo + decay * (self.smooth - self.smooth_lo));
        let margin = c.extreme_noise * scale;
        let hi_floor = (self.smooth_hi + margin).min(self.hi);
        let lo_floor = (self.smooth_lo - margin).max(self.lo);
        self.hi = value.max(self.hi - decay * (self.hi - hi_floor));
        self.lo = value.min(self.lo + decay * (lo_floor - self.lo));
        let long = c.revisit_decay;
        self.long = Some([
            self.hi.max(hi_long - long * (hi_long - self.hi)),
            self.lo.min(lo_long + long * (self.lo - lo_long)),
        ]);
        extreme
    }
}
