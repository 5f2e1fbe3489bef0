//! The streaming anomaly detector: one [`SeriesDetector`] per series turns each new
//! reading into an anomaly score in `[0, 1]`, computed only from that reading and the
//! past, with bounded memory and a state that serialises (serde) so that a restarted
//! server resumes where it stopped.
//!
//! # Design
//!
//! Each reading goes through three stages.
//!
//! 1. **Features** ("how surprising is this point, in raw units"), all `O(1)`:
//!    * *deviation*: distance of the (deseasonalised) value from a fast exponentially
//!      weighted level, in units of the long-run mean absolute innovation (spikes,
//!      level shifts, drifts once they are large enough);
//!    * *extreme*: how far the value lies beyond a slowly contracting envelope of the
//!      values seen so far, relative to the envelope's width (new highs and lows);
//!    * *noise*: log-ratio of the short-term to the long-term mean absolute step
//!      (a sudden change of noise, in both directions, so a stuck sensor too);
//!    * *context*: novelty of the last few quantised values (as in CAD OSE), from a
//!      decaying count table of fixed size;
//!    * *gap*: log-ratio of the time step to the typical time step.
//!
//!    Daily seasonality is removed first when an hour-of-day profile (learnt online)
//!    explains enough of the variance; time constants that matter for seasonality are
//!    expressed in time, not in points, so irregular sampling is handled.
//! 2. **Calibration** (as HTM's anomaly likelihood): each feature, log-compressed, is
//!    averaged over a few points and compared to its own long-run mean and spread; the
//!    resulting z-score makes features and series comparable, so that one threshold
//!    serves every series.
//! 3. **Post-processing**: the score is the strongest calibrated feature, mapped to
//!    `[0, 1)`; after an alarm (score above [`DetectorConfig::alarm_level`]) further
//!    scores are damped for a refractory period, since repeated alarms about the same
//!    incident only add false positives.

use serde::{Deserialize, Serialize};

use crate::nab::NabError;
use crate::nab::corpus::Corpus;
use crate::nab::score::{Profile, ProfileResult, ScoringOptions, Sweep, ThresholdSearch};

/// Number of hour-of-day bins of the seasonal profile.
const DAY_BINS: usize = 24;
/// Milliseconds per day.
const DAY_MS: f64 = 86_400_000.0;
/// Number of features.
const FEATURES: usize = 5;
/// Size of the context count table (a power of two).
const CONTEXT_TABLE: usize = 1024;

/// Why a [`DetectorConfig`] is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid detector configuration: {0}")]
pub struct ConfigError(String);

/// The detector's parameters: one global configuration serves every series.
///
/// [`Default`] is the configuration tuned on the NAB corpus. Smoothing factors are per
/// point (`alpha` in `(0, 1]`) unless named `*_days` (time constants in days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Points seen before any non-zero score is returned.
    pub warmup: u32,
    /// Smoothing factor of the fast level the deviation is measured from.
    pub level_alpha: f64,
    /// Smoothing factor of the long-run mean absolute innovation (the deviation's unit).
    pub scale_alpha: f64,
    /// Per-point contraction of the extreme envelope towards the level.
    pub envelope_decay: f64,
    /// Extra early contraction of the envelope: `envelope_memory / points seen`.
    pub envelope_memory: f64,
    /// Smoothing factor of the short-term mean absolute step (noise feature).
    pub noise_short_alpha: f64,
    /// Smoothing factor of the long-term mean absolute step (noise feature).
    pub noise_long_alpha: f64,
    /// Number of quantisation levels of the context feature.
    pub context_bins: u32,
    /// Per-point decay of the context counts.
    pub context_decay: f64,
    /// Time constant (days) of the slow level the daily profile is measured from.
    pub season_level_days: f64,
    /// Smoothing factor of each hour-of-day bin (per visit).
    pub season_alpha: f64,
    /// The daily profile is used when it leaves at most this fraction of the spread.
    pub season_gain: f64,
    /// Smoothing factor of the short-term average of each calibrated feature.
    pub short_alpha: f64,
    /// Smoothing factor of each feature's long-run mean and spread.
    pub long_alpha: f64,
    /// Floor of each feature's long-run spread (log-compressed units).
    pub min_spread: f64,
    /// Weights of the calibrated features: deviation, extreme, noise, context, gap.
    pub weights: [f64; FEATURES],
    /// z-score mapped to a score of `1 - 1/e` (score `= 1 - exp(-z / z_scale)`).
    pub z_scale: f64,
    /// Score at or above which an alarm starts a refractory period.
    pub alarm_level: f64,
    /// Length of the refractory period, in points.
    pub refractory: u32,
    /// Factor applied to scores during the refractory period.
    pub refractory_factor: f64,
    /// Calibration of features: 0 = z-score of the log feature, 1 = record breaking.
    pub calibration: u8,
    /// Per-point decay of each feature's record towards its mean.
    pub record_decay: f64,
    /// Extra early decay of the records: `record_memory / points seen`.
    pub record_memory: f64,
    /// Minimum record height, as a fraction of the feature's mean.
    pub record_floor: f64,
    /// Divisor of the extreme feature when calibrating by records.
    pub record_extreme: f64,
    /// Relative rise of the bar per recent alarm.
    pub alarm_penalty: f64,
    /// Per-point decay of the recent alarm count.
    pub alarm_decay: f64,
    /// Per-point decay of the recent peak score.
    pub peak_decay: f64,
    /// A score below `peak_margin` times the recent peak is damped.
    pub peak_margin: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup: 50,
            level_alpha: 0.2,
            scale_alpha: 0.005,
            envelope_decay: 2e-4,
            envelope_memory: 0.0,
            noise_short_alpha: 0.1,
            noise_long_alpha: 0.005,
            context_bins: 16,
            context_decay: 1e-3,
            season_level_days: 1.0,
            season_alpha: 0.05,
            season_gain: 0.7,
            short_alpha: 0.5,
            long_alpha: 0.001,
            min_spread: 0.05,
            weights: [1.0, 1.0, 1.0, 0.3, 1.0],
            z_scale: 0.5,
            alarm_level: 0.5,
            refractory: 200,
            refractory_factor: 0.5,
            calibration: 1,
            record_decay: 1e-3,
            record_memory: 1.0,
            record_floor: 0.3,
            record_extreme: 0.1,
            alarm_penalty: 0.0,
            alarm_decay: 2e-4,
            peak_decay: 0.99,
            peak_margin: 1.0,
        }
    }
}

impl DetectorConfig {
    /// Checks every parameter and returns the configuration if it is usable.
    pub fn validated(self) -> Result<Self, ConfigError> {
        let unit = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(ConfigError(format!("{name} must be in (0, 1], got {v}")))
            }
        };
        unit("level_alpha", self.level_alpha)?;
        unit("scale_alpha", self.scale_alpha)?;
        unit("noise_short_alpha", self.noise_short_alpha)?;
        unit("noise_long_alpha", self.noise_long_alpha)?;
        unit("season_alpha", self.season_alpha)?;
        unit("short_alpha", self.short_alpha)?;
        unit("long_alpha", self.long_alpha)?;
        unit("alarm_level", self.alarm_level)?;
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ConfigError(format!(
                    "{name} must be finite and >= 0, got {v}"
                )))
            }
        };
        non_negative("envelope_decay", self.envelope_decay)?;
        non_negative("envelope_memory", self.envelope_memory)?;
        non_negative("record_memory", self.record_memory)?;
        non_negative("context_decay", self.context_decay)?;
        non_negative("min_spread", self.min_spread)?;
        non_negative("refractory_factor", self.refractory_factor)?;
        non_negative("season_gain", self.season_gain)?;
        non_negative("peak_margin", self.peak_margin)?;
        non_negative("alarm_penalty", self.alarm_penalty)?;
        unit("alarm_decay", self.alarm_decay)?;
        if !(0.0..1.0).contains(&self.peak_decay) {
            return Err(ConfigError("peak_decay must be in [0, 1)".into()));
        }
        for w in self.weights {
            non_negative("weights", w)?;
        }
        if !(self.season_level_days.is_finite() && self.season_level_days > 0.0) {
            return Err(ConfigError("season_level_days must be > 0".into()));
        }
        if !(self.z_scale.is_finite() && self.z_scale > 0.0) {
            return Err(ConfigError("z_scale must be > 0".into()));
        }
        if !(2..=64).contains(&self.context_bins) {
            return Err(ConfigError("context_bins must be in 2..=64".into()));
        }
        if self.envelope_decay >= 1.0 || self.context_decay >= 1.0 {
            return Err(ConfigError("decays must be < 1".into()));
        }
        Ok(self)
    }
}

/// Exponentially weighted mean and mean absolute deviation of a feature, with a short
/// average of recent values: the calibration of one feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Calibration {
    short: f64,
    mean: f64,
    spread: f64,
    seen: u32,
    top: f64,
}

impl Calibration {
    /// Returns the z-score of the short average of `value` against the past, then learns.
    fn update(&mut self, value: f64, c: &DetectorConfig) -> f64 {
        if self.seen == 0 {
            self.short = value;
            self.mean = value;
            self.spread = 0.0;
            self.seen = 1;
            return 0.0;
        }
        self.short += c.short_alpha * (value - self.short);
        let z = (self.short - self.mean) / self.spread.max(c.min_spread);
        // Learn faster at the start (running average until 1/long_alpha points).
        self.seen = self.seen.saturating_add(1);
        let a = (1.0 / f64::from(self.seen)).max(c.long_alpha);
        let d = value - self.mean;
        self.mean += a * d;
        self.spread += a * (d.abs() - self.spread);
        z
    }

    /// Returns by how much the short average of `value` breaks the (decaying) record of
    /// the past, relative to the record's height above the mean; then learns.
    fn record(&mut self, value: f64, c: &DetectorConfig) -> f64 {
        if self.seen == 0 {
            self.short = value;
            self.mean = value;
            self.top = value;
            self.seen = 1;
            return 0.0;
        }
        self.short += c.short_alpha * (value - self.short);
        let height = (self.top - self.mean).max(0.0) + c.record_floor * self.mean.abs() + 1e-12;
        let r = (self.short - self.top).max(0.0) / height;
        self.seen = self.seen.saturating_add(1);
        let a = (1.0 / f64::from(self.seen)).max(c.long_alpha);
        self.mean += a * (value - self.mean);
        let decay = c.record_decay.max(c.record_memory / f64::from(self.seen));
        self.top = self
            .short
            .max(self.mean + (self.top - self.mean) * (1.0 - decay));
        r
    }
}

/// The streaming state of one series: feed it readings in time order with
/// [`SeriesDetector::score`]. Its size is fixed (independent of the series length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesDetector {
    config: DetectorConfig,
    seen: u64,
    last_time: Option<i64>,
    last_value: f64,
    /// Exponentially weighted mean of ln(time step).
    log_step: f64,
    level: f64,
    scale: f64,
    hi: f64,
    lo: f64,
    noise_short: f64,
    noise_long: f64,
    slow_level: f64,
    season: Vec<f64>,
    season_seen: Vec<u32>,
    plain_spread: f64,
    season_spread: f64,
    season_on: bool,
    context: Vec<f64>,
    context_unit: f64,
    context_key: u32,
    calib: Vec<Calibration>,
    cooldown: u32,
    peak: f64,
    alarms: f64,
    last_feature: u8,
}

impl SeriesDetector {
    /// A fresh detector for one series.
    pub fn new(config: &DetectorConfig) -> Self {
        Self {
            config: config.clone(),
            seen: 0,
            last_time: None,
            last_value: 0.0,
            log_step: 0.0,
            level: 0.0,
            scale: 0.0,
            hi: 0.0,
            lo: 0.0,
            noise_short: 0.0,
            noise_long: 0.0,
            slow_level: 0.0,
            season: vec![0.0; DAY_BINS],
            season_seen: vec![0; DAY_BINS],
            plain_spread: 0.0,
            season_spread: 0.0,
            season_on: false,
            context: vec![0.0; CONTEXT_TABLE],
            context_key: 0,
            context_unit: 1.0,
            calib: vec![Calibration::default(); FEATURES],
            cooldown: 0,
            peak: 0.0,
            alarms: 0.0,
            last_feature: 0,
        }
    }

    /// The configuration this detector runs with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Which feature drove the last score (1-based index into
    /// [`DetectorConfig::weights`]; 0 when none).
    pub fn last_feature(&self) -> u8 {
        self.last_feature
    }

    /// Number of readings accepted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Scores the reading `value` taken at `time_ms` (milliseconds since the Unix
    /// epoch), then learns from it. Returns a score in `[0, 1]`, higher meaning more
    /// anomalous. Time steps may be irregular, zero (repeated timestamps) or large
    /// (gaps); a non-finite value, or a time going backwards, is ignored (score 0).
    pub fn score(&mut self, time_ms: i64, value: f64) -> f64 {
        if !value.is_finite() || self.last_time.is_some_and(|t| time_ms < t) {
            return 0.0;
        }
        let c = &self.config;
        if self.seen == 0 {
            self.seen = 1;
            self.last_time = Some(time_ms);
            self.last_value = value;
            self.level = value;
            self.hi = value;
            self.lo = value;
            self.slow_level = value;
            return 0.0;
        }
        let step_ms = (time_ms - self.last_time.unwrap_or(time_ms)).max(0) as f64;
        self.last_time = Some(time_ms);
        self.seen += 1;

        // Time step and gap feature.
        let ln_step = (step_ms.max(1.0)).ln();
        let gap = if self.seen <= 2 {
            self.log_step = ln_step;
            0.0
        } else {
            (ln_step - self.log_step).max(0.0)
        };
        self.log_step += 0.01 * (ln_step - self.log_step);

        // Daily seasonality.
        let day_frac = (time_ms.rem_euclid(DAY_MS as i64)) as f64 / DAY_MS;
        let bin = ((day_frac * DAY_BINS as f64) as usize).min(DAY_BINS - 1);
        let tau_ms = c.season_level_days * DAY_MS;
        let a_slow = 1.0 - (-step_ms / tau_ms).exp();
        self.slow_level += a_slow * (value - self.slow_level);
        let plain_dev = value - self.slow_level;
        let season_dev = plain_dev - self.season[bin];
        if self.season_seen[bin] >= 2 {
            self.plain_spread += 0.01 * (plain_dev.abs() - self.plain_spread);
            self.season_spread += 0.01 * (season_dev.abs() - self.season_spread);
        }
        let ratio = self.season_spread / self.plain_spread.max(1e-12);
        let was_on = self.season_on;
        if self.season_on {
            self.season_on = ratio < c.season_gain + 0.1;
        } else {
            self.season_on = ratio < c.season_gain && self.season_seen.iter().all(|&n| n >= 3);
        }
        // Keep the fast level continuous when the profile is switched on or off.
        match (was_on, self.season_on) {
            (false, true) => self.level -= self.season[bin],
            (true, false) => self.level += self.season[bin],
            _ => {}
        }
        let y = if self.season_on {
            value - self.season[bin]
        } else {
            value
        };
        let a_bin = (1.0 / f64::from(self.season_seen[bin] + 1)).max(c.season_alpha);
        self.season[bin] += a_bin * (plain_dev - self.season[bin]);
        self.season_seen[bin] = self.season_seen[bin].saturating_add(1);

        // Deviation from the fast level, in units of the long-run innovation.
        let range = (self.hi - self.lo).max(0.0);
        let tiny = 1e-9 * (1.0 + value.abs()) + 1e-6 * range;
        let innovation = y - self.level;
        let deviation = innovation.abs() / (self.scale + tiny);
        let a_scale = (1.0 / self.seen as f64).max(c.scale_alpha);
        self.scale += a_scale * (innovation.abs() - self.scale);
        self.level += c.level_alpha * innovation;

        // New extremes.
        let width = range + self.scale + tiny;
        let extreme = ((value - self.hi).max(0.0) + (self.lo - value).max(0.0)) / width;
        self.hi = self.hi.max(value);
        self.lo = self.lo.min(value);
        let mid = self.level;
        let decay = c.envelope_decay.max(c.envelope_memory / self.seen as f64);
        self.hi -= decay * (self.hi - mid).max(0.0);
        self.lo += decay * (mid - self.lo).max(0.0);

        // Change of noise.
        let step = (value - self.last_value).abs();
        self.last_value = value;
        let noise_floor = tiny + 1e-3 * self.noise_long;
        let noise = if self.seen <= 2 {
            self.noise_short = step;
            self.noise_long = step;
            0.0
        } else {
            ((self.noise_short + noise_floor) / (self.noise_long + noise_floor))
                .ln()
                .abs()
        };
        self.noise_short += c.noise_short_alpha * (step - self.noise_short);
        let a_noise = (1.0 / self.seen as f64).max(c.noise_long_alpha);
        self.noise_long += a_noise * (step - self.noise_long);

        // Context novelty over quantised values.
        let bins = c.context_bins;
        let q = if range > 0.0 {
            (((value - self.lo) / (self.hi - self.lo + tiny) * f64::from(bins)) as i64)
                .clamp(0, i64::from(bins) - 1) as u32
        } else {
            0
        };
        let key = ((self.context_key * 64 + q) as usize) % (64 * 64 * 64);
        self.context_key = (key % (64 * 64)) as u32;
        let slot = (key.wrapping_mul(0x9E37_79B1) >> 7) % CONTEXT_TABLE;
        let count = self.context[slot] / self.context_unit;
        let context = 1.0 / (1.0 + count);
        // Decay by growing the increment instead of shrinking every count.
        self.context[slot] += self.context_unit;
        self.context_unit /= 1.0 - c.context_decay;
        if self.context_unit > 1e100 {
            for v in &mut self.context {
                *v /= self.context_unit;
            }
            self.context_unit = 1.0;
        }

        // Calibration and combination.
        let raw = [deviation, extreme, noise, context, gap];
        let mut best = 0.0f64;
        self.last_feature = 0;
        for (i, (&f, cal)) in raw.iter().zip(self.calib.iter_mut()).enumerate() {
            let z = match c.calibration {
                0 => cal.update(f.min(1e12).ln_1p(), c),
                _ if i == 1 => f / c.record_extreme,
                _ => cal.record(f.min(1e12).ln_1p(), c),
            };
            if c.weights[i] * z > best {
                best = c.weights[i] * z;
                self.last_feature = i as u8 + 1;
            }
        }
        if self.seen <= u64::from(c.warmup) {
            return 0.0;
        }
        // The more alarms this series raised recently, the higher the bar.
        let best = best / (1.0 + c.alarm_penalty * self.alarms);
        self.alarms *= 1.0 - c.alarm_decay;
        let mut score = 1.0 - (-best.max(0.0) / c.z_scale).exp();
        // Only a score above the recent (decaying) peak is passed on in full: repeated
        // alarms about one incident are damped, whatever the threshold.
        let peak = self.peak;
        self.peak = (self.peak * c.peak_decay).max(score);
        if score < peak * c.peak_margin {
            score *= c.refractory_factor;
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            score *= c.refractory_factor;
        } else if score >= c.alarm_level {
            self.cooldown = c.refractory;
            self.alarms += 1.0;
        }
        score.clamp(0.0, 1.0)
    }
}

/// Scores a whole series with a fresh detector: one score per point, in order.
pub fn score_series(
    config: &DetectorConfig,
    points: impl IntoIterator<Item = (i64, f64)>,
) -> Vec<f64> {
    let mut detector = SeriesDetector::new(config);
    points
        .into_iter()
        .map(|(t, v)| detector.score(t, v))
        .collect()
}

/// Runs a fresh detector over every series of `corpus`: the scores, series by series.
pub fn score_corpus(corpus: &Corpus, config: &DetectorConfig) -> Vec<Vec<f64>> {
    corpus
        .series()
        .iter()
        .map(|s| {
            let points = s
                .timestamps()
                .iter()
                .map(|t| t.and_utc().timestamp_millis())
                .zip(s.values().iter().copied());
            score_series(config, points)
        })
        .collect()
}

/// Runs the detector on every series of `corpus` and scores it with NAB's three
/// profiles (standard, reward_low_FP_rate, reward_low_FN_rate), each with its
/// corpus-wide optimal threshold.
pub fn evaluate_nab(
    corpus: &Corpus,
    config: &DetectorConfig,
) -> Result<Vec<ProfileResult>, NabError> {
    let scores = score_corpus(corpus, config);
    let sweep = Sweep::new(corpus.series(), &scores, &ScoringOptions::default())?;
    Ok(Profile::nab_profiles()
        .iter()
        .map(|p| sweep.evaluate(p, ThresholdSearch::Sweep))
        .collect())
}
