//! The streaming anomaly detector: one [`SeriesDetector`] per series turns each new
//! reading into an anomaly score in `[0, 1]`, computed only from that reading and the
//! past, with bounded memory (about 19 kB) and a state that serialises (serde) so that
//! a restarted server resumes where it stopped. One global [`DetectorConfig`] serves
//! every series; nothing is tuned per series and labels are never read.
//!
//! # Design
//!
//! Each reading goes through three stages, all `O(1)`.
//!
//! 1. **Features**, each measuring one way a reading can be surprising ([`Feature`]):
//!    * *deviation*: distance of the deseasonalised value from a fast exponentially
//!      weighted level, in units of noise: the geometric mean of the long-run mean
//!      absolute innovation and that of the current hour of the day (many series are
//!      noisier at some hours than at others) (spikes, level shifts, drifts once large
//!      enough);
//!    * *extreme*: excess of the value beyond a slowly contracting envelope of the
//!      values seen so far, relative to the envelope's width (new highs and lows,
//!      which many real incidents are); the envelope never contracts to within a few
//!      noise units of the envelope of the smoothed values, so noise alone breaks no
//!      record; the part of the excess that stays within a long-memory envelope (the
//!      highest and lowest values of a much longer past, contracting ten times more
//!      slowly) counts only a tenth: a return to a level already reached, such as a
//!      periodic spike of the same height once the envelope has contracted, is not a
//!      new high;
//!    * *noise*: absolute log-ratio of the short-term to the long-term mean absolute
//!      step (a sudden change of noise, either way);
//!    * *context*: novelty of the last two quantised values, from a decaying count
//!      table of fixed size (the idea of CAD OSE); and, scored separately with its
//!      own record, novelty of the *shape*: the last three steps, each quantised by
//!      its sign and size (small, medium, large in mean absolute steps), from a
//!      second, faster-decaying count table (a new pattern of moves within the range
//!      already seen, which no level-based feature reveals, such as a level that
//!      starts to oscillate or moves in steps); its record has a floor (a shape must
//!      be nearly unseen) so that the rare shapes of pure noise stay quiet;
//!    * *gap*: log-ratio of the time step to the typical time step;
//!    * *stuck*: how many times in a row the value repeated exactly;
//!    * *drift*: distance of the fast level from a slow one, in the same units of
//!      noise (slow drifts and level shifts that no single reading reveals).
//!
//!    A daily profile (24 hour-of-day bins of the deviation from a one-day level, learnt
//!    online) is subtracted first when it explains enough of the spread; its time
//!    constants are in time, not in points, so irregular sampling and gaps are handled.
//! 2. **Calibration by records**: each feature (log-compressed and averaged over a
//!    couple of points) is compared with its own *record*, the highest value seen,
//!    decaying slowly towards the feature's mean (hyperbolically at first, then
//!    exponentially); the score of a feature is by how much it breaks its record,
//!    relative to the record's height. This turns heterogeneous features and series
//!    into one scale, so that one threshold serves every series, and it makes a
//!    detector that fires on what has not been seen before rather than on what is
//!    merely large (the idea behind the best NAB detectors: ARTime's novelty, HTM's
//!    anomaly likelihood). Per-feature minimum records (for instance 5 mean absolute
//!    innovations for the deviation) keep well-behaved series quiet. The extreme
//!    feature, already relative to the envelope's width, is used as it is.
//! 3. **Post-processing**: the score is the strongest weighted feature, mapped to
//!    `[0, 1)` by `1 - exp(-r / score_scale)`. Before that, a surprise no stronger than
//!    the (decaying, over about two days) strongest one seen at the same hour of the
//!    day, or (decaying over about three weeks) at the same hour of the week give or
//!    take an hour, is halved: what recurs daily, such as a nightly job, or weekly,
//!    such as a plant stopping for the weekend, is not novel. A score
//!    is passed on in full only if it exceeds the last score passed in full
//!    (decaying) by half again; otherwise, and
//!    for a refractory period after an alarm (a score of at least
//!    [`DetectorConfig::alarm_level`]), it is halved: repeated alarms about one
//!    incident only add false positives (NAB rewards the first detection in a window
//!    and charges every false one).
//!
//! [`SeriesDetector::last_feature`] tells which feature drove the last score.

use serde::{Deserialize, Deserializer, Serialize};

use crate::nab::NabError;
use crate::nab::corpus::Corpus;
use crate::nab::score::{Profile, ProfileResult, ScoringOptions, Sweep, ThresholdSearch};

/// Number of hour-of-day bins of the seasonal profile.
const DAY_BINS: usize = 24;
/// Milliseconds per day.
const DAY_MS: f64 = 86_400_000.0;
/// Number of hour-of-week bins of the memory of past surprises.
const WEEK_BINS: usize = 168;
/// Milliseconds per week.
const WEEK_MS: f64 = 7.0 * DAY_MS;
/// Number of features (see [`Feature`]).
pub const FEATURES: usize = 7;
/// Size of the context count table.
const CONTEXT_TABLE: usize = 1024;
/// Size of the shape count table: every shape of up to three steps of up to seven
/// symbols has its own slot.
const SHAPE_TABLE: usize = 512;

/// Largest magnitude of a value the detector takes as it is; larger ones count as this.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// The anomaly-score threshold that is optimal on the NAB corpus (standard profile) for
/// the default configuration: scores at or above it are alarms.
pub const NAB_THRESHOLD: f64 = 0.3188;

/// The features of the detector, in the order of the per-feature parameters of
/// [`DetectorConfig`] (such as [`DetectorConfig::weights`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Feature {
    /// Distance from the recent (deseasonalised) level, in units of noise.
    Deviation,
    /// A new high or low, beyond the envelope of past values.
    Extreme,
    /// A change of the noise level (up or down).
    Noise,
    /// A sequence of (quantised) values, or of (quantised) steps, not seen before.
    Context,
    /// A time step much longer than usual.
    Gap,
    /// The same value repeated many times in a row.
    Stuck,
    /// The recent level drifted away from the long-run level.
    Drift,
}

impl Feature {
    /// All features, in parameter order.
    pub const ALL: [Feature; FEATURES] = [
        Feature::Deviation,
        Feature::Extreme,
        Feature::Noise,
        Feature::Context,
        Feature::Gap,
        Feature::Stuck,
        Feature::Drift,
    ];
}

/// Why a [`DetectorConfig`] is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid detector configuration: {0}")]
pub struct ConfigError(String);

/// The detector's parameters, separate from its state: one global configuration
/// serves every series.
///
/// [`Default`] is the configuration tuned on the NAB corpus; deserialising fills
/// missing fields from it. Smoothing factors (`*_alpha`) and decays are per point
/// unless named `*_days`. Arrays are per feature, in the order of [`Feature::ALL`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Points seen before any non-zero score is returned.
    pub warmup: u32,
    /// Smoothing factor of the fast level the deviation is measured from.
    pub level_alpha: f64,
    /// Smoothing factor of the long-run mean absolute innovation (the unit of noise).
    pub scale_alpha: f64,
    /// Smoothing factor of the slow level the drift is measured from.
    pub drift_alpha: f64,
    /// Time constant (days) of the slow level the daily profile is measured from.
    pub season_level_days: f64,
    /// Smoothing factor of each hour-of-day bin, per visit.
    pub season_alpha: f64,
    /// The daily profile is used once it leaves less than this fraction of the spread.
    pub season_gain: f64,
    /// Per-point contraction of the extreme envelope.
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
    /// Per-point decay of the context counts.
    pub context_decay: f64,
    /// Smoothing factor of the short-term average of each feature.
    pub short_alpha: f64,
    /// Smoothing factor of each feature's long-run mean.
    pub long_alpha: f64,
    /// Per-point decay of each record towards its feature's mean.
    pub record_decay: f64,
    /// Faster early decay of the records: at least `record_memory / points seen`.
    pub record_memory: f64,
    /// Minimum height of a record above its feature's mean, as a fraction of the mean.
    pub record_floor: f64,
    /// Per feature, the raw value below which it never counts as a record.
    pub record_min: [f64; FEATURES],
    /// Per feature, the fraction of the gap by which a record rises towards a higher
    /// value, per point (1 = at once; less lets a creeping feature build up a score).
    pub record_rise: [f64; FEATURES],
    /// Per feature, the weight of its record-breaking ratio in the score.
    pub weights: [f64; FEATURES],
    /// Record-breaking ratio mapped to the score `1 - 1/e`.
    pub score_scale: f64,
    /// Score at or above which an alarm starts a refractory period.
    pub alarm_level: f64,
    /// Length of the refractory period, in points.
    pub refractory: u32,
    /// Factor applied to the scores during the refractory period, and to scores not
    /// clearly above the recent peak.
    pub refractory_factor: f64,
    /// Per-point decay of the recent peak (the last score passed on in full).
    pub peak_decay: f64,
    /// A score below this multiple of the recent peak is damped.
    pub peak_margin: f64,
    /// Time constant (days) of the memory of past surprises per hour of the day.
    pub recur_days: f64,
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
    /// shape, which is reported as [`Feature::Context`]).
    pub shape_weight: f64,
    /// Number of consecutive quantised steps forming a shape (1 to 3).
    pub shape_order: u32,
    /// Width, in mean absolute steps, of each size level of a quantised step.
    pub shape_unit: f64,
    /// Number of size levels of a step on each side of zero (1 to 3).
    pub shape_levels: u32,
    /// Per-point decay of the shape counts.
    pub shape_decay: f64,
    /// Novelty of a shape (`1 / (1 + its decayed count)`) below which it never counts
    /// as a record: in pure noise, rare shapes keep turning up, so that only a shape
    /// (almost) never seen in the memory of the counts is news.
    pub shape_min: f64,
    /// Per-point contraction of the long-memory envelope towards the extreme envelope.
    pub revisit_decay: f64,
    /// Factor applied to the part of the excess beyond the extreme envelope that lies
    /// within the long-memory envelope (a return to a level reached before); 1 disables.
    pub revisit_factor: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup: 50,
            level_alpha: 0.2,
            scale_alpha: 0.00625,
            drift_alpha: 0.00625,
            season_level_days: 1.0,
            season_alpha: 0.05,
            season_gain: 0.7,
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

/// The record of one feature: its short-term average, long-run mean and (decaying)
/// highest value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Record {
    short: f64,
    mean: f64,
    top: f64,
    seen: u32,
}

impl Record {
    /// Returns by how much the short average of `value` breaks the record of the past,
    /// relative to the record's height above the mean; then learns. The record never
    /// falls below `minimum`, and rises towards a higher value by the fraction `rise`
    /// per point.
    fn update(&mut self, value: f64, minimum: f64, rise: f64, c: &DetectorConfig) -> f64 {
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
        let decay = c.record_decay.max(c.record_memory / f64::from(self.seen));
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

/// The memory of past surprises per hour of the week. Each hour keeps the strongest
/// surprise of its current week and, apart, that of the earlier weeks (decaying), so
/// that what happens earlier in the same hour this week never hides last week's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WeeklyMemory {
    /// Per hour of the week: the strongest surprise of the earlier weeks and the time
    /// (ms) it is counted from.
    #[serde(deserialize_with = "fixed_len::<_, _, WEEK_BINS>")]
    past: Vec<[f64; 2]>,
    /// Per hour of the week: the strongest surprise of its latest week and its time.
    #[serde(deserialize_with = "fixed_len::<_, _, WEEK_BINS>")]
    latest: Vec<[f64; 2]>,
}

impl Default for WeeklyMemory {
    fn default() -> Self {
        Self {
            past: vec![[0.0; 2]; WEEK_BINS],
            latest: vec![[0.0; 2]; WEEK_BINS],
        }
    }
}

impl WeeklyMemory {
    /// Hour of the week of `time_ms`.
    fn bin(time_ms: i64) -> usize {
        (time_ms.rem_euclid(WEEK_MS as i64) / 3_600_000) as usize
    }

    /// Moves the latest surprise of hour `bin` to the earlier weeks' once it is a day
    /// old or more (it then belongs to an earlier week), keeping the stronger one.
    fn age(&mut self, bin: usize, now: f64, tau_ms: f64) {
        let [value, at] = self.latest[bin];
        if value > 0.0 && now - at >= DAY_MS {
            let [past, past_at] = self.past[bin];
            if value >= past * (-(at - past_at).max(0.0) / tau_ms).exp() {
                self.past[bin] = self.latest[bin];
            }
            self.latest[bin] = [0.0; 2];
        }
    }

    /// The strongest surprise of earlier weeks at this hour of the week or the ones
    /// beside it (weekly routines drift a little), decayed with time constant `tau_ms`.
    fn prior(&mut self, time_ms: i64, tau_ms: f64) -> f64 {
        let now = time_ms as f64;
        let bin = Self::bin(time_ms);
        [bin + WEEK_BINS - 1, bin, bin + 1]
            .into_iter()
            .map(|b| {
                let b = b % WEEK_BINS;
                self.age(b, now, tau_ms);
                let [value, at] = self.past[b];
                if value > 0.0 {
                    value * (-(now - at).max(0.0) / tau_ms).exp()
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    /// Remembers a surprise of this week.
    fn remember(&mut self, time_ms: i64, surprise: f64, tau_ms: f64) {
        let bin = Self::bin(time_ms);
        self.age(bin, time_ms as f64, tau_ms);
        let latest = &mut self.latest[bin];
        if surprise > latest[0] {
            *latest = [surprise, time_ms as f64];
        }
    }
}

/// The streaming state of one series: feed it the readings in time order with
/// [`SeriesDetector::score`]. Its size is fixed, independent of the series length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesDetector {
    #[serde(deserialize_with = "valid_config")]
    config: DetectorConfig,
    seen: u64,
    /// Time of the first reading (absent from older states: the first one since).
    #[serde(default)]
    first_time: Option<i64>,
    last_time: Option<i64>,
    last_value: f64,
    /// Exponentially weighted mean of ln(time step in ms).
    log_step: f64,
    /// Fast level and mean absolute innovation of the deseasonalised values.
    level: f64,
    scale: f64,
    drift_level: f64,
    /// Envelope of the values, and of their smoothed values.
    hi: f64,
    lo: f64,
    smooth: f64,
    smooth_hi: f64,
    smooth_lo: f64,
    /// Long-memory envelope of the values, high and low (absent from older states:
    /// restarted from the envelope).
    #[serde(default)]
    long_envelope: Option<[f64; 2]>,
    /// Short- and long-term mean absolute step.
    noise_short: f64,
    noise_long: f64,
    /// Consecutive exact repeats of the value.
    repeats: f64,
    /// Daily profile: slow level, per-bin offsets and visit counts, and the spreads
    /// without and with the profile.
    slow_level: f64,
    season: [f64; DAY_BINS],
    season_seen: [u32; DAY_BINS],
    plain_spread: f64,
    season_spread: f64,
    season_on: bool,
    /// Context counts (scaled by `context_unit`) and the last quantised values.
    #[serde(deserialize_with = "fixed_len::<_, _, CONTEXT_TABLE>")]
    context: Vec<f64>,
    context_unit: f64,
    context_key: u32,
    records: [Record; FEATURES],
    peak: f64,
    cooldown: u32,
    /// Decaying memory of the surprise (weighted record ratio) per hour of the day.
    #[serde(default)]
    recur: [f64; DAY_BINS],
    /// Memory of the surprises per hour of the week (absent from older states: a
    /// fresh start).
    #[serde(default)]
    recur_week: WeeklyMemory,
    /// Mean absolute innovation per hour of the day, and visit counts.
    #[serde(default)]
    hour_scale: [f64; DAY_BINS],
    #[serde(default)]
    hour_seen: [u32; DAY_BINS],
    last_feature: Option<Feature>,
    /// Shape counts (scaled by `shape_count_unit`), the last quantised steps, and
    /// the shape's record (absent from older states: a fresh start).
    #[serde(
        default = "shape_table",
        deserialize_with = "fixed_len::<_, _, SHAPE_TABLE>"
    )]
    shapes: Vec<f64>,
    #[serde(default = "one")]
    shape_count_unit: f64,
    #[serde(default)]
    shape_key: u32,
    #[serde(default)]
    shape_record: Record,
}

impl SeriesDetector {
    /// A fresh detector for one series.
    pub fn new(config: &DetectorConfig) -> Self {
        Self {
            config: config.clone(),
            seen: 0,
            first_time: None,
            last_time: None,
            last_value: 0.0,
            log_step: 0.0,
            level: 0.0,
            scale: 0.0,
            drift_level: 0.0,
            hi: 0.0,
            lo: 0.0,
            smooth: 0.0,
            smooth_hi: 0.0,
            smooth_lo: 0.0,
            long_envelope: None,
            noise_short: 0.0,
            noise_long: 0.0,
            repeats: 0.0,
            slow_level: 0.0,
            season: [0.0; DAY_BINS],
            season_seen: [0; DAY_BINS],
            plain_spread: 0.0,
            season_spread: 0.0,
            season_on: false,
            context: vec![0.0; CONTEXT_TABLE],
            context_unit: 1.0,
            context_key: 0,
            records: Default::default(),
            peak: 0.0,
            cooldown: 0,
            recur: [0.0; DAY_BINS],
            recur_week: WeeklyMemory::default(),
            hour_scale: [0.0; DAY_BINS],
            hour_seen: [0; DAY_BINS],
            last_feature: None,
            shapes: shape_table(),
            shape_count_unit: 1.0,
            shape_key: 0,
            shape_record: Record::default(),
        }
    }

    /// The configuration this detector runs with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Number of readings accepted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Bytes the detector takes in memory, its tables included: the same for every
    /// series, however long.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(self)
            + std::mem::size_of_val(self.context.as_slice())
            + std::mem::size_of_val(self.shapes.as_slice())
            + std::mem::size_of_val(self.recur_week.past.as_slice())
            + std::mem::size_of_val(self.recur_week.latest.as_slice())
    }

    /// The feature that drove the last score, if any broke its record.
    pub fn last_feature(&self) -> Option<Feature> {
        self.last_feature
    }

    /// Scores the reading `value` taken at `time_ms` (milliseconds since the Unix
    /// epoch), then learns from it. Returns a score in `[0, 1]`, higher meaning more
    /// anomalous. Time steps may be irregular, zero (repeated timestamps) or long
    /// (gaps); a non-finite value, or a time earlier than the previous one, is ignored
    /// (score 0, state unchanged).
    pub fn score(&mut self, time_ms: i64, value: f64) -> f64 {
        if !value.is_finite() || self.last_time.is_some_and(|t| time_ms < t) {
            return 0.0;
        }
        // Sums and differences of values beyond this would overflow to infinity (and
        // the state to NaN); no sensor measures that far.
        let value = value.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE);
        let first_time = *self.first_time.get_or_insert(time_ms);
        let c = &self.config;
        if self.seen == 0 {
            self.seen = 1;
            self.last_time = Some(time_ms);
            self.last_value = value;
            self.level = value;
            self.drift_level = value;
            self.hi = value;
            self.lo = value;
            self.smooth = value;
            self.smooth_hi = value;
            self.smooth_lo = value;
            self.slow_level = value;
            return 0.0;
        }
        let step_ms = time_ms
            .saturating_sub(self.last_time.unwrap_or(time_ms))
            .max(0) as f64;
        self.last_time = Some(time_ms);
        self.seen += 1;

        // Gap: the time step against the typical one.
        let ln_step = step_ms.max(1.0).ln();
        let gap = if self.seen <= 2 {
            self.log_step = ln_step;
            0.0
        } else {
            (ln_step - self.log_step).max(0.0)
        };
        self.log_step += 0.01 * (ln_step - self.log_step);

        // Daily profile of the deviation from a slow (time-based) level, by UTC hour.
        let bin = ((time_ms.rem_euclid(DAY_MS as i64) as f64 / DAY_MS * DAY_BINS as f64) as usize)
            .min(DAY_BINS - 1);
        let a_slow = 1.0 - (-step_ms / (c.season_level_days * DAY_MS)).exp();
        self.slow_level += a_slow * (value - self.slow_level);
        let plain_dev = value - self.slow_level;
        let expected = self.season[bin];
        let season_dev = plain_dev - expected;
        if self.season_seen[bin] >= 2 {
            self.plain_spread += 0.01 * (plain_dev.abs() - self.plain_spread);
            self.season_spread += 0.01 * (season_dev.abs() - self.season_spread);
        }
        let ratio = self.season_spread / self.plain_spread.max(1e-12);
        let was_on = self.season_on;
        self.season_on = if was_on {
            ratio < c.season_gain + 0.1
        } else {
            ratio < c.season_gain && self.season_seen.iter().all(|&n| n >= 3)
        };
        // Keep the fast level continuous when the profile is switched on or off.
        match (was_on, self.season_on) {
            (false, true) => self.level -= expected,
            (true, false) => self.level += expected,
            _ => {}
        }
        let y = if self.season_on {
            value - expected
        } else {
            value
        };
        let a_bin = (1.0 / f64::from(self.season_seen[bin].saturating_add(1))).max(c.season_alpha);
        self.season[bin] += a_bin * season_dev;
        self.season_seen[bin] = self.season_seen[bin].saturating_add(1);

        // Deviation from the fast level, in units of the long-run innovation.
        let range = (self.hi - self.lo).max(0.0);
        let tiny = 1e-9 * (1.0 + value.abs()) + 1e-6 * range;
        let innovation = y - self.level;
        // The unit of noise blends the long-run innovation with that of this hour.
        let hour_scale = if self.hour_seen[bin] >= 3 {
            self.hour_scale[bin]
        } else {
            self.scale
        };
        let unit = self.scale.powf(1.0 - c.hour_scale) * hour_scale.powf(c.hour_scale);
        let unit = if unit.is_finite() { unit } else { self.scale };
        let deviation = innovation.abs() / (unit + tiny);
        let a_scale = (1.0 / self.seen as f64).max(c.scale_alpha);
        self.scale += a_scale * (innovation.abs() - self.scale);
        let a_hour = (1.0 / f64::from(self.hour_seen[bin].saturating_add(1))).max(c.season_alpha);
        self.hour_scale[bin] += a_hour * (innovation.abs() - self.hour_scale[bin]);
        self.hour_seen[bin] = self.hour_seen[bin].saturating_add(1);
        self.level += c.level_alpha * innovation;
        // Drift: the fast level against a slow one, in units of noise.
        let drift = (self.level - self.drift_level).abs() / (unit + tiny);
        self.drift_level += c.drift_alpha * (self.level - self.drift_level);

        // New extremes: beyond an envelope of the values that contracts slowly, but
        // never to less than `extreme_noise` noise units beyond the smoothed values'.
        let width = range + self.scale + tiny;
        let excess = (value - self.hi).max(0.0) + (self.lo - value).max(0.0);
        let slack = c.extreme_slack * self.scale;
        let extreme = (excess - slack).max(0.0) / width;
        let [hi_long, lo_long] = self.long_envelope.unwrap_or([self.hi, self.lo]);
        let long_excess = (value - hi_long).max(0.0) + (lo_long - value).max(0.0);
        let new_extreme = (long_excess - slack).max(0.0) / width;
        let extreme = c.revisit_factor * extreme + (1.0 - c.revisit_factor) * new_extreme;
        self.smooth += c.level_alpha * (value - self.smooth);
        let decay = c.envelope_decay;
        self.smooth_hi = self
            .smooth
            .max(self.smooth_hi - decay * (self.smooth_hi - self.smooth));
        self.smooth_lo = self
            .smooth
            .min(self.smooth_lo + decay * (self.smooth - self.smooth_lo));
        let margin = c.extreme_noise * self.scale;
        let hi_floor = (self.smooth_hi + margin).min(self.hi);
        let lo_floor = (self.smooth_lo - margin).max(self.lo);
        self.hi = value.max(self.hi - decay * (self.hi - hi_floor));
        self.lo = value.min(self.lo + decay * (lo_floor - self.lo));
        let long = c.revisit_decay;
        self.long_envelope = Some([
            self.hi.max(hi_long - long * (hi_long - self.hi)),
            self.lo.min(lo_long + long * (self.lo - lo_long)),
        ]);

        // Stuck sensor and change of noise, from the step.
        let signed_step = value - self.last_value;
        let step = signed_step.abs();
        self.last_value = value;
        self.repeats = if step == 0.0 { self.repeats + 1.0 } else { 0.0 };
        let stuck = self.repeats;
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
        // Shape: the step quantised by its sign and size in mean absolute steps (before
        // learning from it), appended to the previous ones.
        let levels = c.shape_levels;
        let size = signed_step.abs() / (self.noise_long + noise_floor) / c.shape_unit;
        let size = ((size + 0.5) as u32).min(levels);
        let symbol = if signed_step < 0.0 {
            levels - size
        } else {
            levels + size
        };
        let shape_history = 8u32.pow(c.shape_order - 1);
        let shape_key = (self.shape_key % shape_history) * 8 + symbol;
        self.shape_key = shape_key % shape_history;
        self.noise_short += c.noise_short_alpha * (step - self.noise_short);
        let a_noise = (1.0 / self.seen as f64).max(c.noise_long_alpha);
        self.noise_long += a_noise * (step - self.noise_long);

        // Context: novelty of the last `context_order` quantised values.
        let bins = c.context_bins;
        let q = if range > 0.0 {
            (((value - self.lo) / (self.hi - self.lo + tiny) * f64::from(bins)) as i64)
                .clamp(0, i64::from(bins) - 1) as u32
        } else {
            0
        };
        let history = 64usize.pow(c.context_order - 1);
        let key = (self.context_key as usize % history) * 64 + q as usize;
        self.context_key = (key % history) as u32;
        let slot = (key.wrapping_mul(0x9E37_79B1) >> 7) % CONTEXT_TABLE;
        let count = self.context[slot] / self.context_unit;
        let context = 1.0 / (1.0 + count);
        // Decay every count by growing the increment instead.
        self.context[slot] += self.context_unit;
        self.context_unit /= 1.0 - c.context_decay;
        if self.context_unit > 1e100 {
            for v in &mut self.context {
                *v /= self.context_unit;
            }
            self.context_unit = 1.0;
        }

        let shape = if c.shape_weight > 0.0 {
            let slot = shape_key as usize % SHAPE_TABLE;
            let count = self.shapes[slot] / self.shape_count_unit;
            self.shapes[slot] += self.shape_count_unit;
            self.shape_count_unit /= 1.0 - c.shape_decay;
            if self.shape_count_unit > 1e100 {
                for v in &mut self.shapes {
                    *v /= self.shape_count_unit;
                }
                self.shape_count_unit = 1.0;
            }
            1.0 / (1.0 + count)
        } else {
            0.0
        };

        // Calibration by records, and the strongest feature.
        let raw = [deviation, extreme, noise, context, gap, stuck, drift];
        let mut best = 0.0f64;
        self.last_feature = None;
        for (i, (&f, record)) in raw.iter().zip(&mut self.records).enumerate() {
            let broken = if Feature::ALL[i] == Feature::Extreme {
                f / c.extreme_unit
            } else {
                let minimum = c.record_min[i].ln_1p();
                record.update(f.min(1e12).ln_1p(), minimum, c.record_rise[i], c)
            };
            let weighted = c.weights[i] * broken;
            if weighted > best {
                best = weighted;
                self.last_feature = Some(Feature::ALL[i]);
            }
        }
        if c.shape_weight > 0.0 {
            let minimum = c.shape_min.ln_1p();
            let broken = self.shape_record.update(shape.ln_1p(), minimum, 1.0, c);
            let weighted = c.shape_weight * broken;
            if weighted > best {
                best = weighted;
                self.last_feature = Some(Feature::Context);
            }
        }
        // A surprise that recurs at the same hour of the day is less novel.
        let a_recur = (-step_ms / (c.recur_days * DAY_MS)).exp();
        for r in &mut self.recur {
            *r *= a_recur;
        }
        let mut prior = self.recur[bin];
        self.recur[bin] = prior.max(best);
        // The same at the same hour of the week in an earlier week, trusted once two
        // weeks were seen: before, a surprise at the same hour of last week is as
        // likely chance as routine. The warm-up's surprises (every record is new) are
        // not remembered.
        if c.recur_weeks > 0.0 {
            let tau_ms = c.recur_weeks * WEEK_MS;
            if best > 0.0 && time_ms.saturating_sub(first_time) as f64 >= 2.0 * WEEK_MS {
                prior = prior.max(self.recur_week.prior(time_ms, tau_ms));
            }
            if self.seen > u64::from(c.warmup) {
                self.recur_week.remember(time_ms, best, tau_ms);
            }
        }
        if best < prior * c.recur_margin {
            best *= c.recur_factor;
        }
        if self.seen <= u64::from(c.warmup) {
            return 0.0;
        }

        // Post-processing: damp what repeats a recent alarm.
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

/// Deserialises a detector's configuration, which must be valid.
fn valid_config<'de, D: Deserializer<'de>>(d: D) -> Result<DetectorConfig, D::Error> {
    DetectorConfig::deserialize(d)?
        .validated()
        .map_err(serde::de::Error::custom)
}

/// A fresh shape count table.
fn shape_table() -> Vec<f64> {
    vec![0.0; SHAPE_TABLE]
}

fn one() -> f64 {
    1.0
}

/// Deserialises a table that must have its fixed size, `N`.
fn fixed_len<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let table = Vec::<T>::deserialize(d)?;
    if table.len() != N {
        return Err(serde::de::Error::invalid_length(
            table.len(),
            &"the table's fixed size",
        ));
    }
    Ok(table)
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
/// profiles (standard, reward_low_FP_rate, reward_low_FN_rate, in that order), each
/// at its corpus-wide optimal threshold.
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const STEP: i64 = 5 * MINUTE;
    /// Points per day at a 5-minute step.
    const DAY: usize = 288;
    /// 2024-01-01 00:00 UTC.
    const T0: i64 = 1_704_067_200_000;

    /// A small deterministic generator of standard normal noise (xorshift + Box-Muller).
    struct Noise(u64);

    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Noise of the synthetic series (5 % of the daily amplitude).
    const SIGMA: f64 = 0.5;

    /// Daily sine (amplitude 10 around 50) with noise, every 5 minutes.
    fn seasonal(days: usize, seed: u64) -> Vec<(i64, f64)> {
        let mut noise = Noise(seed);
        (0..days * DAY)
            .map(|i| {
                let t = T0 + i as i64 * STEP;
                let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
                (t, 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal())
            })
            .collect()
    }

    fn scores(points: &[(i64, f64)]) -> Vec<f64> {
        score_series(&DetectorConfig::default(), points.iter().copied())
    }

    fn max_in(scores: &[f64], range: std::ops::Range<usize>) -> f64 {
        scores[range].iter().copied().fold(0.0, f64::max)
    }

    /// The anomaly starting at row `at` is detected within `within` rows, and nothing
    /// fires between the warm-up (one week) and `at`.
    fn assert_detected(points: &[(i64, f64)], at: usize, within: usize, what: &str) {
        let s = scores(points);
        let before = max_in(&s, 7 * DAY..at);
        let after = max_in(&s, at..at + within);
        assert!(
            before < NAB_THRESHOLD,
            "{what}: false alarm before the change ({before})"
        );
        assert!(
            after >= NAB_THRESHOLD,
            "{what}: not detected (max {after} after the change)"
        );
    }

    const AT: usize = 16 * DAY + 100;

    #[test]
    fn clean_seasonal_series_raises_no_alarm_after_warm_up() {
        for seed in 1..=5 {
            let s = scores(&seasonal(35, seed));
            assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
            let worst = max_in(&s, 7 * DAY..s.len());
            assert!(worst < NAB_THRESHOLD, "seed {seed}: {worst}");
        }
    }

    #[test]
    fn detects_a_spike() {
        let mut p = seasonal(21, 7);
        p[AT].1 += 15.0;
        assert_detected(&p, AT, 1, "spike");
    }

    #[test]
    fn detects_a_level_shift() {
        let mut p = seasonal(21, 8);
        for x in &mut p[AT..] {
            x.1 += 8.0;
        }
        assert_detected(&p, AT, 12, "level shift");
    }

    #[test]
    fn detects_a_drift() {
        let mut p = seasonal(21, 9);
        for (k, x) in p[AT..].iter_mut().enumerate() {
            x.1 += 0.05 * k as f64;
        }
        assert_detected(&p, AT, DAY, "drift");
    }

    #[test]
    fn detects_a_stuck_sensor() {
        let mut p = seasonal(21, 10);
        let stuck = p[AT].1;
        for x in &mut p[AT..] {
            x.1 = stuck;
        }
        assert_detected(&p, AT, 24, "stuck sensor");
    }

    #[test]
    fn detects_a_change_of_noise() {
        let mut p = seasonal(21, 11);
        let mut noise = Noise(99);
        for x in &mut p[AT..] {
            x.1 += 5.0 * SIGMA * noise.normal();
        }
        assert_detected(&p, AT, DAY / 4, "noise change");
    }

    #[test]
    fn detects_a_change_of_seasonality() {
        // The daily cycle shifts by six hours.
        let mut p = seasonal(21, 12);
        let mut noise = Noise(5);
        for (i, x) in p.iter_mut().enumerate().skip(AT) {
            let phase = ((i + DAY / 4) % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            x.1 = 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal();
        }
        assert_detected(&p, AT, DAY / 2, "seasonality change");
    }

    #[test]
    fn irregular_sampling_is_handled_and_gaps_are_flagged() {
        // Steps of 1 to 9 minutes; 12 hours without data from day 16.
        let mut noise = Noise(13);
        let mut t = T0;
        let mut p = Vec::new();
        while t < T0 + 21 * 86_400_000 {
            let phase = (t - T0) as f64 / DAY_MS * std::f64::consts::TAU;
            p.push((t, 50.0 + 10.0 * phase.sin() + SIGMA * noise.normal()));
            t += MINUTE * (1 + (noise.uniform() * 9.0) as i64);
        }
        let index = |ms: i64| p.iter().position(|&(t, _)| t >= T0 + ms).unwrap();
        let (week, at, resume) = (
            index(7 * 86_400_000),
            index(16 * 86_400_000),
            index(16 * 86_400_000 + 43_200_000),
        );
        let mut gapped: Vec<(i64, f64)> = p[..at].to_vec();
        gapped.extend_from_slice(&p[resume..]);
        // Irregular sampling raises no alarm; 12 hours of silence are flagged when the
        // data resume.
        let s = scores(&gapped);
        let before = max_in(&s, week..at);
        assert!(before < NAB_THRESHOLD, "false alarm {before}");
        let resumed = max_in(&s, at..at + 3);
        assert!(resumed >= NAB_THRESHOLD, "gap missed: {resumed}");
        let after = max_in(&s, at + DAY..s.len());
        assert!(after < NAB_THRESHOLD, "false alarm after the gap {after}");
        // A spike in irregularly sampled data is detected at once.
        let mut spiky = p.clone();
        spiky[at].1 += 15.0;
        let s = scores(&spiky);
        assert!(s[at] >= NAB_THRESHOLD, "spike not flagged: {}", s[at]);
    }

    #[test]
    fn a_weekly_stop_stops_raising_alarms_once_learnt() {
        // A plant that runs a daily cycle on weekdays and idles at a lower level on
        // weekends, for eight weeks (2024-01-01 was a Monday).
        let plant = |seed: u64| -> Vec<(i64, f64)> {
            let mut noise = Noise(seed);
            (0..8 * 7 * DAY)
                .map(|i| {
                    let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
                    let level = if (i / DAY) % 7 >= 5 {
                        20.0
                    } else {
                        50.0 + 10.0 * phase.sin()
                    };
                    (T0 + i as i64 * STEP, level + SIGMA * noise.normal())
                })
                .collect()
        };
        // Weeks three to eight that raise an alarm, over three plants.
        let weeks_with_alarms = |config: &DetectorConfig| -> usize {
            (1..=3)
                .map(|seed| {
                    let s = score_series(config, plant(seed));
                    (2..8)
                        .filter(|w| max_in(&s, w * 7 * DAY..(w + 1) * 7 * DAY) >= NAB_THRESHOLD)
                        .count()
                })
                .sum()
        };
        let without = DetectorConfig {
            recur_weeks: 0.0,
            ..DetectorConfig::default()
        };
        // Without the weekly memory, nearly every weekend is news again.
        assert!(weeks_with_alarms(&without) >= 15);
        let with = weeks_with_alarms(&DetectorConfig::default());
        assert!(with <= 4, "{with} of 18 weeks raise an alarm");
    }

    #[test]
    fn odd_input_is_handled_gracefully() {
        let mut d = SeriesDetector::new(&DetectorConfig::default());
        assert_eq!(d.score(T0, f64::NAN), 0.0);
        assert_eq!(d.score(T0, f64::INFINITY), 0.0);
        for i in 0..500 {
            // Repeated timestamps, constant then huge values.
            let v = if i < 300 { 1.0 } else { 1e300 * (i % 2) as f64 };
            let s = d.score(T0 + (i / 3) * STEP, v);
            assert!((0.0..=1.0).contains(&s), "{s}");
        }
        assert_eq!(
            d.score(T0 - STEP, 1.0),
            0.0,
            "time going backwards is ignored"
        );
        for _ in 0..3 {
            let s = d.score(i64::MAX, f64::MAX);
            assert!((0.0..=1.0).contains(&s), "{s}");
        }
        assert_eq!(d.score(i64::MIN, 0.0), 0.0);
        let mut d = SeriesDetector::new(&DetectorConfig::default());
        d.score(i64::MIN, -f64::MAX);
        let s = d.score(i64::MAX, f64::MAX);
        assert!((0.0..=1.0).contains(&s), "{s}");
    }

    #[test]
    fn extreme_values_keep_the_state_finite() {
        let mut detector = SeriesDetector::new(&DetectorConfig::default());
        let extremes = [
            f64::MAX,
            -f64::MAX,
            1.7e308,
            -1.7e308,
            f64::MIN_POSITIVE,
            0.0,
            -0.0,
            1e-300,
            5e307,
            -5e307,
        ];
        let mut noise = Noise(7);
        for i in 0..20_000_i64 {
            let value = match i % 5 {
                0 | 1 => extremes[(i as usize / 5) % extremes.len()],
                2 => {
                    if i % 2 == 0 {
                        1.7e308
                    } else {
                        -1.7e308
                    }
                }
                _ => noise.normal() * 1e306,
            };
            let score = detector.score(i * 60_000, value);
            assert!((0.0..=1.0).contains(&score), "reading {i}: {score}");
        }
        let json = serde_json::to_string(&detector).unwrap();
        let restored: SeriesDetector = serde_json::from_str(&json)
            .unwrap_or_else(|error| panic!("a non-finite number in the state: {error}"));
        assert_eq!(restored, detector, "every number of the state is finite");
        // It still works on ordinary values afterwards.
        for i in 20_000..20_100 {
            assert!(detector.score(i * 60_000, 1.0).is_finite());
        }
    }

    #[test]
    fn state_round_trips_through_json_and_resumes_identically() {
        // Resumed after two weeks, so that every part of the state is in use.
        let mut p = seasonal(21, 21);
        let at = 15 * DAY;
        p[at + 500].1 += 20.0;
        let whole = scores(&p);
        let mut d = SeriesDetector::new(&DetectorConfig::default());
        let fresh_bytes = d.memory_bytes();
        let mut resumed: Vec<f64> = p[..at].iter().map(|&(t, v)| d.score(t, v)).collect();
        assert_eq!(d.memory_bytes(), fresh_bytes, "the state does not grow");
        assert!(fresh_bytes < 24_000, "state is {fresh_bytes} bytes");
        let json = serde_json::to_string(&d).unwrap();
        let mut d: SeriesDetector = serde_json::from_str(&json).unwrap();
        resumed.extend(p[at..].iter().map(|&(t, v)| d.score(t, v)));
        assert_eq!(whole, resumed);
        assert!(whole[at + 500] >= NAB_THRESHOLD);
        assert!(json.len() < 64_000, "state is {} bytes", json.len());
        // A damaged state is refused rather than trusted.
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["context"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<SeriesDetector>(value).is_err());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["config"]["context_bins"] = 0.into();
        assert!(serde_json::from_value::<SeriesDetector>(value).is_err());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["shapes"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<SeriesDetector>(value).is_err());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["recur_week"]["past"].as_array_mut().unwrap().pop();
        assert!(serde_json::from_value::<SeriesDetector>(value).is_err());
        // A state saved before the shape feature, the long-memory envelope and the
        // weekly memory existed still loads and resumes.
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for field in [
            "shapes",
            "shape_count_unit",
            "shape_key",
            "shape_record",
            "long_envelope",
            "recur_week",
            "first_time",
        ] {
            value.as_object_mut().unwrap().remove(field);
        }
        let mut old: SeriesDetector = serde_json::from_value(value).unwrap();
        for &(t, v) in &p[at..] {
            assert!((0.0..=1.0).contains(&old.score(t, v)));
        }
    }

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
}
