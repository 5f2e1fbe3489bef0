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
//! Both envelopes are memories: they contract per reading at the usual time steps,
//! and per [`DetectorConfig::memory_step_seconds`] of data at faster rates.
//!
//! On the series' first day the envelope is that of a short stretch of the series,
//! narrower than its noise alone will reach in time; the feature is then also
//! measured beyond the noise floor (the envelope of the smoothed values widened by
//! `extreme_noise` noise units, what the envelope contracts to once it has seen
//! enough), and that is what is scored. The envelopes themselves learn as on any day.
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

    /// The extreme feature of `reading`, `scale` being the unit of noise, and (when
    /// `floored`) the same measured beyond the noise floor of the envelope as well
    /// (`extreme_noise` noise units beyond the envelope of the smoothed values) rather
    /// than beyond the envelope alone; then learns.
    pub(super) fn update(
        &mut self,
        reading: &Reading,
        scale: f64,
        floored: bool,
        c: &DetectorConfig,
    ) -> (f64, f64) {
        let value = reading.value;
        let width = reading.range + scale + reading.tiny;
        let slack = c.extreme_slack * scale;
        let [hi_long, lo_long] = self.long.unwrap_or([self.hi, self.lo]);
        // The excess beyond the envelope, the part of it within the long-memory
        // envelope counting `revisit_factor`.
        let beyond = |hi: f64, lo: f64, hi_long: f64, lo_long: f64| {
            let excess = (value - hi).max(0.0) + (lo - value).max(0.0);
            let long_excess = (value - hi_long).max(0.0) + (lo_long - value).max(0.0);
            let extreme = (excess - slack).max(0.0) / width;
            let new_extreme = (long_excess - slack).max(0.0) / width;
            c.revisit_factor * extreme + (1.0 - c.revisit_factor) * new_extreme
        };
        let extreme = beyond(self.hi, self.lo, hi_long, lo_long);
        let beyond_floor = if floored {
            let margin = c.extreme_noise * scale;
            let (hi, lo) = (self.smooth_hi + margin, self.smooth_lo - margin);
            beyond(
                self.hi.max(hi),
                self.lo.min(lo),
                hi_long.max(hi),
                lo_long.min(lo),
            )
        } else {
            extreme
        };
        // The envelope contracts slowly, but never to less than `extreme_noise` noise
        // units beyond the smoothed values'.
        self.smooth += c.level_alpha * (value - self.smooth);
        let decay = c.envelope_decay * reading.weight;
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
        let long = c.revisit_decay * reading.weight;
        self.long = Some([
            self.hi.max(hi_long - long * (hi_long - self.hi)),
            self.lo.min(lo_long + long * (self.lo - lo_long)),
        ]);
        (extreme, beyond_floor)
    }
}
