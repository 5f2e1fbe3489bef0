//! The detector's parameters, apart from any series' state: one global configuration
//! serves every series, and a state only records the [`ConfigId`] of the configuration
//! it was learnt with, so that a changed configuration is noticed when a state is
//! restored instead of being silently mixed with a state learnt under another one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FEATURES;

/// Why a [`DetectorConfig`] is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid detector configuration: {0}")]
pub struct ConfigError(String);

/// The detector's parameters, separate from its state: one global configuration
/// serves every series.
///
/// [`Default`] is the configuration tuned on the NAB corpus; deserialising fills
/// missing fields from it. Arrays are per feature, in the order of
/// [`Feature::ALL`](super::Feature::ALL).
///
/// # Time scales
///
/// What the detector *estimates* (the levels, the noise units, the step statistics,
/// the count tables, the records' means, the refractory period) is smoothed per
/// reading, so that it is usable after a few dozen readings at any sampling rate. What
/// it *remembers* of the past (the records' exponential decay, the envelope's
/// contraction, the hour-of-day bins) is per reading at a step of
/// [`memory_step_seconds`](Self::memory_step_seconds) or more, and per
/// `memory_step_seconds` of data at faster rates, so that it lasts as long in time at
/// 1 Hz as at the 5-minute steps it was tuned on. The daily and weekly machinery
/// waits for the history (in time, `*_days`) that it needs to mean anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Readings seen before any non-zero score is returned.
    pub warmup: u32,
    /// Time (seconds) since the first reading before any non-zero score is returned,
    /// whatever the number of readings: a few dozen readings of a fast sensor say
    /// little about the process they measure.
    pub warmup_seconds: f64,
    /// Time step (seconds) the per-reading rates of the detector's memories were
    /// tuned for: a reading that comes sooner after the previous one counts as that
    /// fraction of a reading in them (see "Time scales" above).
    pub memory_step_seconds: f64,
    /// Smoothing factor of the fast level the deviation is measured from.
    pub level_alpha: f64,
    /// Smoothing factor of the long-run mean absolute innovation (the unit of noise).
    pub scale_alpha: f64,
    /// Smoothing factor of the slow level the drift is measured from.
    pub drift_alpha: f64,
    /// Time constant (days) of the slow level the daily profile is measured from.
    pub season_level_days: f64,
    /// Smoothing factor of each hour-of-day bin (daily profile and hour-of-day noise
    /// unit), per visit: a reading is one visit, or the fraction of one its time step
    /// is of [`memory_step_seconds`](Self::memory_step_seconds).
    pub season_alpha: f64,
    /// The daily profile is used once it leaves less than this fraction of the spread.
    pub season_gain: f64,
    /// History (days since the first reading) before the daily profile may be used:
    /// every hour of the day must have been seen on more than one day.
    pub season_min_days: f64,
    /// Contraction of the extreme envelope, per reading (a memory: see "Time
    /// scales").
    pub envelope_decay: f64,
    /// The envelope never contracts to less than this many noise units beyond the
    /// envelope of the smoothed values.
    pub extreme_noise: f64,
    /// Only the excess beyond the envelope minus this many noise units counts.
    pub extreme_slack: f64,
    /// Excess beyond the envelope, as a fraction of its width, that scores like a
    /// record broken by its own height.
    pub extreme_unit: f64,
    /// Smoothing factor of the short-term mean absolute step (noise feature).
    pub noise_short_alpha: f64,
    /// Smoothing factor of the long-term mean absolute step (noise feature).
    pub noise_long_alpha: f64,
    /// Number of quantisation levels of the context feature.
    pub context_bins: u32,
    /// Number of consecutive quantised values forming a context.
    pub context_order: u32,
    /// Decay of the context counts, per reading.
    pub context_decay: f64,
    /// Smoothing factor of the short-term average of each feature.
    pub short_alpha: f64,
    /// Smoothing factor of each feature's long-run mean.
    pub long_alpha: f64,
    /// Decay of each record towards its feature's mean, per reading (a memory: see
    /// "Time scales").
    pub record_decay: f64,
    /// Faster early decay of the records: at least `record_memory / readings seen`.
    pub record_memory: f64,
    /// Minimum height of a record above its feature's mean, as a fraction of the mean.
    pub record_floor: f64,
    /// Per feature, the raw value below which it never counts as a record.
    pub record_min: [f64; FEATURES],
    /// Per feature, the fraction of the gap by which a record rises towards a higher
    /// value, per reading (1 = at once; less lets a creeping feature build up a score).
    pub record_rise: [f64; FEATURES],
    /// Per feature, the weight of its record-breaking ratio in the score.
    pub weights: [f64; FEATURES],
    /// Record-breaking ratio mapped to the score `1 - 1/e`.
    pub score_scale: f64,
    /// Score at or above which an alarm starts a refractory period.
    pub alarm_level: f64,
    /// Length of the refractory period, in readings.
    pub refractory: u32,
    /// Factor applied to the scores during the refractory period, and to scores not
    /// clearly above the recent peak.
    pub refractory_factor: f64,
    /// Decay of the recent peak (the last score passed on in full), per reading.
    pub peak_decay: f64,
    /// A score below this multiple of the recent peak is damped.
    pub peak_margin: f64,
    /// Time constant (days) of the memory of past surprises per hour of the day.
    pub recur_days: f64,
    /// History (days since the first reading) before the hour-of-day noise unit and
    /// the memory of past surprises per hour of the day are used (before, the same
    /// hour has not been seen on another day). Until then, the series' surprises are
    /// judged more strictly: damped by `day_one_factor`, and a new high or low counts
    /// only beyond the noise floor of the envelope (`extreme_noise`).
    pub daily_min_days: f64,
    /// Factor applied to every surprise until the series has `daily_min_days` of
    /// history: whether it recurs daily cannot be known yet, and the records and
    /// envelope were set by a short stretch of the series.
    pub day_one_factor: f64,
    /// A surprise below this multiple of the remembered surprise at the same hour of
    /// the day is damped by `recur_factor` (0 disables).
    pub recur_margin: f64,
    /// Factor applied to a surprise that recurs at the same hour of the day or week.
    pub recur_factor: f64,
    /// Time constant (weeks) of the memory of past surprises per hour of the week
    /// (0 disables it).
    pub recur_weeks: f64,
    /// Exponent of the hour-of-day mean absolute innovation in the unit of the
    /// deviation (0: only the long-run innovation, 1: only that of the hour).
    pub hour_scale: f64,
    /// Weight of the shape's record-breaking ratio in the score (0 disables the
    /// shape, which is reported as [`Feature::Context`](super::Feature::Context)).
    pub shape_weight: f64,
    /// Number of consecutive quantised steps forming a shape (1 to 3).
    pub shape_order: u32,
    /// Width, in mean absolute steps, of each size level of a quantised step.
    pub shape_unit: f64,
    /// Number of size levels of a step on each side of zero (1 to 3).
    pub shape_levels: u32,
    /// Decay of the shape counts, per reading.
    pub shape_decay: f64,
    /// Novelty of a shape (`1 / (1 + its decayed count)`) below which it never counts
    /// as a record: in pure noise, rare shapes keep turning up, so that only a shape
    /// (almost) never seen in the memory of the counts is news.
    pub shape_min: f64,
    /// Contraction of the long-memory envelope towards the extreme envelope, per
    /// reading (a memory: see "Time scales").
    pub revisit_decay: f64,
    /// Factor applied to the part of the excess beyond the extreme envelope that lies
    /// within the long-memory envelope (a return to a level reached before); 1 disables.
    pub revisit_factor: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup: 50,
            warmup_seconds: 600.0,
            memory_step_seconds: 300.0,
            level_alpha: 0.2,
            scale_alpha: 0.00625,
            drift_alpha: 0.00625,
            season_level_days: 1.0,
            season_alpha: 0.05,
            season_gain: 0.7,
            season_min_days: 2.0,
            envelope_decay: 2e-4,
            extreme_noise: 4.0,
            extreme_slack: 0.5,
            extreme_unit: 0.1,
            noise_short_alpha: 0.1,
            noise_long_alpha: 0.005,
            context_bins: 16,
            context_order: 2,
            context_decay: 8e-4,
            short_alpha: 0.5,
            long_alpha: 6.4e-4,
            record_decay: 5e-4,
            record_memory: 1.0,
            record_floor: 0.19,
            record_min: [5.0, 0.0, 0.5, 0.0, 1.1, 20.0, 0.0],
            record_rise: [1.0, 1.0, 0.3, 1.0, 1.0, 0.1, 1.0],
            weights: [1.0, 1.0, 0.7, 0.2, 1.0, 1.0, 1.0],
            score_scale: 0.4,
            alarm_level: 0.5,
            refractory: 200,
            refractory_factor: 0.5,
            peak_decay: 0.986,
            peak_margin: 1.5,
            recur_days: 2.0,
            daily_min_days: 1.0,
            day_one_factor: 0.3,
            recur_margin: 1.0,
            recur_factor: 0.5,
            recur_weeks: 3.0,
            hour_scale: 0.5,
            shape_weight: 0.4,
            shape_order: 3,
            shape_unit: 2.25,
            shape_levels: 2,
            shape_decay: 2e-3,
            shape_min: 0.2,
            revisit_decay: 2e-5,
            revisit_factor: 0.1,
        }
    }
}

impl DetectorConfig {
    /// Checks every parameter and returns the configuration if it is usable.
    pub fn validated(self) -> Result<Self, ConfigError> {
        let check = |name: &str, v: f64, ok: bool, what: &str| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(ConfigError(format!("{name} must be {what}, got {v}")))
            }
        };
        let unit = |name: &str, v: f64| check(name, v, v > 0.0 && v <= 1.0, "in (0, 1]");
        let fraction = |name: &str, v: f64| check(name, v, (0.0..1.0).contains(&v), "in [0, 1)");
        let positive = |name: &str, v: f64| check(name, v, v > 0.0, "> 0");
        let non_negative = |name: &str, v: f64| check(name, v, v >= 0.0, ">= 0");
        unit("level_alpha", self.level_alpha)?;
        unit("scale_alpha", self.scale_alpha)?;
        unit("season_alpha", self.season_alpha)?;
        unit("drift_alpha", self.drift_alpha)?;
        unit("noise_short_alpha", self.noise_short_alpha)?;
        unit("noise_long_alpha", self.noise_long_alpha)?;
        unit("short_alpha", self.short_alpha)?;
        unit("long_alpha", self.long_alpha)?;
        unit("alarm_level", self.alarm_level)?;
        fraction("envelope_decay", self.envelope_decay)?;
        fraction("revisit_decay", self.revisit_decay)?;
        let revisit = self.revisit_factor;
        check(
            "revisit_factor",
            revisit,
            (0.0..=1.0).contains(&revisit),
            "in [0, 1]",
        )?;
        fraction("context_decay", self.context_decay)?;
        fraction("shape_decay", self.shape_decay)?;
        non_negative("shape_min", self.shape_min)?;
        fraction("record_decay", self.record_decay)?;
        fraction("peak_decay", self.peak_decay)?;
        positive("season_level_days", self.season_level_days)?;
        positive("memory_step_seconds", self.memory_step_seconds)?;
        non_negative("warmup_seconds", self.warmup_seconds)?;
        non_negative("season_min_days", self.season_min_days)?;
        non_negative("daily_min_days", self.daily_min_days)?;
        non_negative("day_one_factor", self.day_one_factor)?;
        positive("extreme_unit", self.extreme_unit)?;
        positive("score_scale", self.score_scale)?;
        positive("shape_unit", self.shape_unit)?;
        non_negative("shape_weight", self.shape_weight)?;
        non_negative("season_gain", self.season_gain)?;
        non_negative("extreme_noise", self.extreme_noise)?;
        non_negative("extreme_slack", self.extreme_slack)?;
        non_negative("record_memory", self.record_memory)?;
        non_negative("record_floor", self.record_floor)?;
        non_negative("refractory_factor", self.refractory_factor)?;
        non_negative("peak_margin", self.peak_margin)?;
        positive("recur_days", self.recur_days)?;
        non_negative("recur_margin", self.recur_margin)?;
        non_negative("recur_factor", self.recur_factor)?;
        non_negative("recur_weeks", self.recur_weeks)?;
        let hour = self.hour_scale;
        check("hour_scale", hour, (0.0..=1.0).contains(&hour), "in [0, 1]")?;
        for i in 0..FEATURES {
            non_negative("record_min", self.record_min[i])?;
            unit("record_rise", self.record_rise[i])?;
            non_negative("weights", self.weights[i])?;
        }
        if !(1..=4).contains(&self.context_order) {
            return Err(ConfigError(format!(
                "context_order must be in 1..=4, got {}",
                self.context_order
            )));
        }
        if !(1..=3).contains(&self.shape_order) || !(1..=3).contains(&self.shape_levels) {
            return Err(ConfigError(format!(
                "shape_order and shape_levels must be in 1..=3, got {} and {}",
                self.shape_order, self.shape_levels
            )));
        }
        if !(2..=64).contains(&self.context_bins) {
            return Err(ConfigError(format!(
                "context_bins must be in 2..=64, got {}",
                self.context_bins
            )));
        }
        Ok(self)
    }
}

impl DetectorConfig {
    /// The id of this configuration: a fingerprint of its serialised form, the same
    /// for equal configurations on every platform and in every run.
    pub fn id(&self) -> ConfigId {
        let mut hasher = Fnv1a::default();
        serde_json::to_writer(&mut hasher, self)
            .expect("a configuration of numbers always serialises");
        ConfigId(hasher.0)
    }
}

/// The identity of a [`DetectorConfig`]: equal ids, equal configurations (barring a
/// 64-bit hash collision).
///
/// It is the FNV-1a hash of the configuration's JSON form, so it changes with any
/// parameter, and also when a parameter is added to [`DetectorConfig`]: the states
/// made before are then relearnt once, which is the safe side. It is written as 16
/// hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigId(u64);

impl std::fmt::Display for ConfigId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for ConfigId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(ConfigId)
    }
}

// As text: JSON readers other than serde's lose the low bits of a number this large.
impl Serialize for ConfigId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The 64-bit FNV-1a hash of what is written to it.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(DetectorConfig::default().validated().is_ok());
        let bad = DetectorConfig {
            level_alpha: 0.0,
            ..DetectorConfig::default()
        };
        assert!(bad.validated().is_err());
        let bad = DetectorConfig {
            score_scale: f64::NAN,
            ..DetectorConfig::default()
        };
        assert!(bad.validated().is_err());
        let bad = DetectorConfig {
            shape_order: 4,
            ..DetectorConfig::default()
        };
        assert!(bad.validated().is_err());
        let json = serde_json::to_string(&DetectorConfig::default()).unwrap();
        let back: DetectorConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, DetectorConfig::default());
        let partial: DetectorConfig = serde_json::from_str(r#"{"refractory": 10}"#).unwrap();
        assert_eq!(partial.refractory, 10);
    }

    #[test]
    fn config_id_follows_the_parameters() {
        let default = DetectorConfig::default();
        assert_eq!(default.id(), DetectorConfig::default().id());
        let changed = DetectorConfig {
            refractory: 201,
            ..DetectorConfig::default()
        };
        assert_ne!(changed.id(), default.id());
        let text = default.id().to_string();
        assert_eq!(text.len(), 16);
        assert_eq!(text.parse::<ConfigId>().unwrap(), default.id());
        let json = serde_json::to_string(&default.id()).unwrap();
        assert_eq!(
            serde_json::from_str::<ConfigId>(&json).unwrap(),
            default.id()
        );
    }
}
