//! The daily profile: 24 hour-of-day bins of the deviation from a one-day level,
//! learnt online, subtracted from the values before the deviation is measured when it
//! explains enough of the spread (so that a daily cycle is not news every day).
//!
//! Its time constants are in time, not in readings, so that irregular sampling, gaps
//! and fast sensors are handled alike: the slow level has a time constant in days, a
//! bin learns per visit, a reading counting as the fraction of a visit its time step
//! is of [`DetectorConfig::memory_step_seconds`] (so that at 1 Hz a bin learns from an
//! hour of data what it learns from twelve readings five minutes apart), and the
//! profile is used only once every hour of the day was seen on more than one day
//! ([`DetectorConfig::season_min_days`]): before, a "profile" is one day's values.

use serde::{Deserialize, Serialize};

use super::{DAY_BINS, DAY_MS, DetectorConfig, Reading};

/// The daily profile's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DailyProfile {
    /// The slow (time-based) level the profile is measured from.
    pub(super) slow_level: f64,
    /// Per hour of the day: the offset from the slow level, and the visits (a reading
    /// counting as its [`Reading::weight`]).
    pub(super) offsets: [f64; DAY_BINS],
    pub(super) visits: [f64; DAY_BINS],
    /// Mean absolute deviation from the slow level, without and with the profile.
    pub(super) plain_spread: f64,
    pub(super) season_spread: f64,
    /// Whether the profile is subtracted.
    pub(super) on: bool,
}

/// A value with the daily profile taken out, as far as it is in use.
pub(super) struct Deseasonalised {
    /// The value, minus the profile's offset if the profile is on.
    pub(super) value: f64,
    /// The profile's offset at this hour.
    pub(super) expected: f64,
    /// Whether the profile was just switched on or off.
    pub(super) switch: Switch,
}

/// A change of the profile's use.
pub(super) enum Switch {
    Kept,
    On,
    Off,
}

impl DailyProfile {
    /// Starts from the first value.
    pub(super) fn start(&mut self, value: f64) {
        self.slow_level = value;
    }

    /// The reading without the profile; then learns.
    pub(super) fn update(&mut self, reading: &Reading, c: &DetectorConfig) -> Deseasonalised {
        let (value, bin) = (reading.value, reading.hour);
        let a_slow = 1.0 - (-reading.step_ms / (c.season_level_days * DAY_MS)).exp();
        self.slow_level += a_slow * (value - self.slow_level);
        let plain_dev = value - self.slow_level;
        let expected = self.offsets[bin];
        let season_dev = plain_dev - expected;
        let weight = reading.weight;
        if self.visits[bin] >= 2.0 {
            let a_spread = 0.01 * weight;
            self.plain_spread += a_spread * (plain_dev.abs() - self.plain_spread);
            self.season_spread += a_spread * (season_dev.abs() - self.season_spread);
        }
        let ratio = self.season_spread / self.plain_spread.max(1e-12);
        let was_on = self.on;
        self.on = if was_on {
            ratio < c.season_gain + 0.1
        } else {
            ratio < c.season_gain
                && reading.has_days(c.season_min_days)
                && self.visits.iter().all(|&n| n >= 3.0)
        };
        let switch = match (was_on, self.on) {
            (false, true) => Switch::On,
            (true, false) => Switch::Off,
            _ => Switch::Kept,
        };
        let value = if self.on { value - expected } else { value };
        if weight > 0.0 {
            // A running average at first, then exponentially weighted per visit.
            let visits = self.visits[bin] + weight;
            let a_bin = (weight / visits).max(c.season_alpha * weight);
            self.offsets[bin] += a_bin * season_dev;
            self.visits[bin] = visits;
        }
        Deseasonalised {
            value,
            expected,
            switch,
        }
    }
}
