//! The daily profile: 24 hour-of-day bins of the deviation from a one-day level,
//! learnt online, subtracted from the values before the deviation is measured when it
//! explains enough of the spread (so that a daily cycle is not news every day). Its
//! time constants are in time, not in points, so irregular sampling and gaps are
//! handled.

use serde::{Deserialize, Serialize};

use super::{DAY_BINS, DAY_MS, DetectorConfig, Reading};

/// The daily profile's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DailyProfile {
    /// The slow (time-based) level the profile is measured from.
    pub(super) slow_level: f64,
    /// Per hour of the day: the offset from the slow level, and the visits.
    pub(super) offsets: [f64; DAY_BINS],
    pub(super) visits: [u32; DAY_BINS],
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
        if self.visits[bin] >= 2 {
            self.plain_spread += 0.01 * (plain_dev.abs() - self.plain_spread);
            self.season_spread += 0.01 * (season_dev.abs() - self.season_spread);
        }
        let ratio = self.season_spread / self.plain_spread.max(1e-12);
        let was_on = self.on;
        self.on = if was_on {
            ratio < c.season_gain + 0.1
        } else {
            ratio < c.season_gain && self.visits.iter().all(|&n| n >= 3)
        };
        let switch = match (was_on, self.on) {
            (false, true) => Switch::On,
            (true, false) => Switch::Off,
            _ => Switch::Kept,
        };
        let value = if self.on { value - expected } else { value };
        let a_bin = (1.0 / f64::from(self.visits[bin].saturating_add(1))).max(c.season_alpha);
        self.offsets[bin] += a_bin * season_dev;
        self.visits[bin] = self.visits[bin].saturating_add(1);
        Deseasonalised {
            value,
            expected,
            switch,
        }
    }
}
