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
//! 1. **Features**, each measuring one way a reading can be surprising ([`Feature`]),
//!    each kept by its own small state with its own `update` (its module says how it is
//!    measured and why):
//!    * *deviation* and *drift* (`deviation`): distance of the deseasonalised value from
//!      a fast level, and of the fast level from a slow one, in units of noise;
//!    * *extreme* (`extreme`): a new high or low beyond slowly contracting envelopes;
//!    * *noise*, *stuck* and *gap* (`steps`): a change of the typical step, the same
//!      value repeated, a time step much longer than usual;
//!    * *context* and its *shape* (`novelty`): sequences of quantised values, and of
//!      quantised steps, not seen before, from decaying count tables (`counts`).
//!
//!    A daily profile (`profile`) is subtracted first when it explains enough of the
//!    spread, once every hour of the day has been seen on two days.
//! 2. **Calibration by records** (`records`): each feature is compared with its own
//!    decaying record, so that heterogeneous features and series share one scale and
//!    one threshold serves every series, and the detector fires on what has not been
//!    seen before rather than on what is merely large.
//! 3. **Post-processing**: a surprise that recurs at the same hour of the day or of the
//!    week is damped (`recurrence`, `weekly`), and so are scores that repeat a recent
//!    alarm (`refractory`).
//!
//! [`SeriesDetector::score`] composes them; [`SeriesDetector::last_feature`] tells which
//! feature drove the last score, and [`SeriesDetector::explain`] what kind of anomaly
//! the last reading is and what range was expected instead (`explain`).
//!
//! # Time scales and the sampling rate
//!
//! Nothing assumes a sampling rate, so that 1 Hz data is useful after minutes and
//! 5-minute data after hours ([`DetectorConfig`] lists each time scale):
//!
//! * what the detector *estimates* (levels, noise units, step statistics, count
//!   tables) is smoothed per reading, the statistically efficient way, and works from
//!   the first readings;
//! * what it *remembers* of the past (the records' decay, the envelope's contraction,
//!   the hour-of-day bins) is per reading at the 5-minute steps it was tuned on and
//!   slower, and per five minutes of data at faster rates: a 1 Hz series remembers
//!   its last days, not its last half hour, and its noise does not break a record
//!   forgotten within minutes;
//! * the daily and weekly machinery waits for the history, in time, that makes it
//!   mean anything: a day for the hour-of-day noise unit and the daily memory of
//!   surprises, two days for the daily profile, two weeks for the weekly memory;
//! * the warm-up lasts 50 readings and ten minutes, and the series' first day is
//!   judged more strictly: every surprise is damped and only a new high or low beyond
//!   the envelope's noise floor counts. The records and the envelope of a young series
//!   were set by a short stretch of it, and without these rules white noise raised an
//!   alarm within its first hour at 1 Hz, or its first day at 5 minutes, in most
//!   series.
//!
//! # Configuration and state
//!
//! The detector's state never holds its configuration: the caller passes the same
//! [`DetectorConfig`] to every [`SeriesDetector::score`]. The serialised state records
//! its format version and the [`ConfigId`] of the configuration it was made with, and
//! [`SeriesDetector::restore`] accepts it only with that configuration, so that a
//! configuration change is never applied to a state learnt under another one (module
//! `state` says what is read and what is refused).

use serde::{Deserialize, Serialize};

mod config;
mod counts;
mod deviation;
mod explain;
mod extreme;
mod legacy;
mod novelty;
mod profile;
mod records;
mod recurrence;
mod refractory;
mod state;
mod steps;
mod weekly;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, ConfigId, DetectorConfig};
pub use explain::{AnomalyKind, Explanation, RANGE_UNITS, UnknownKind};
pub use state::{FORMAT_VERSION, RestoreError};

use deviation::{Deviation, Drift};
use explain::Expectation;
use extreme::Extreme;
use novelty::{Context, Shape};
use profile::DailyProfile;
use records::{Calibration, extreme_ratio};
use recurrence::Recurrence;
use refractory::Refractory;
use state::Version;
use steps::{Gap, Noise, Stuck};

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
/// the default configuration (any from 0.3220 to 0.3225 is; this is within): scores at
/// or above it are alarms.
pub const NAB_THRESHOLD: f64 = 0.3222;

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

/// What every feature of one reading is computed from: the reading and what the
/// detector as a whole knows when it arrives.
struct Reading {
    /// Time of the reading, ms since the Unix epoch.
    time_ms: i64,
    /// The value, clamped to [`MAX_MAGNITUDE`].
    value: f64,
    /// Time since the previous reading, ms (0 for a repeated timestamp).
    step_ms: f64,
    /// Hour of the day (UTC) of the reading.
    hour: usize,
    /// Time since the series' first reading, ms.
    history_ms: f64,
    /// What the reading counts for in the detector's memories: its time step as a
    /// fraction of [`DetectorConfig::memory_step_seconds`], at most 1.
    weight: f64,
    /// Whether the reading falls in the warm-up (it scores 0).
    warming_up: bool,
    /// Readings accepted so far, this one included.
    seen: u64,
    /// Width of the envelope of the values before this reading.
    range: f64,
    /// A distance negligible beside the value and the range, added to denominators so
    /// that a constant series divides by no zero.
    tiny: f64,
}

impl Reading {
    /// Hour of the day (UTC) of `time_ms`.
    fn hour_of(time_ms: i64) -> usize {
        ((time_ms.rem_euclid(DAY_MS as i64) as f64 / DAY_MS * DAY_BINS as f64) as usize)
            .min(DAY_BINS - 1)
    }

    /// Whether the series has at least `days` of history at this reading.
    fn has_days(&self, days: f64) -> bool {
        self.history_ms >= days * DAY_MS
    }
}

/// The streaming state of one series: feed it the readings in time order with
/// [`SeriesDetector::score`]. Its size is fixed, independent of the series length.
///
/// Serialised, it is the detector's checkpoint (format [`FORMAT_VERSION`]); a
/// deserialised one is taken back into use with [`SeriesDetector::restore`].
//
// `remote = "Self"` makes the derives generate inherent `serialize`/`deserialize`
// functions instead of the traits, which `state` implements around them (to read the
// states written before the format was versioned as well).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct SeriesDetector {
    /// Format version of the serialised state (nothing in memory).
    version: Version,
    /// The configuration this state was learnt with.
    config_id: ConfigId,
    /// Readings accepted so far.
    seen: u64,
    /// Time of the first reading.
    first_time: Option<i64>,
    /// Time and value of the last reading.
    last_time: Option<i64>,
    last_value: f64,
    gap: Gap,
    profile: DailyProfile,
    deviation: Deviation,
    drift: Drift,
    extreme: Extreme,
    stuck: Stuck,
    noise: Noise,
    context: Context,
    shape: Shape,
    calibration: Calibration,
    recurrence: Recurrence,
    refractory: Refractory,
    last_feature: Option<Feature>,
    expectation: Expectation,
}

impl SeriesDetector {
    /// A fresh detector for one series, to be fed with `config`.
    pub fn new(config: &DetectorConfig) -> Self {
        Self {
            version: Version,
            config_id: config.id(),
            seen: 0,
            first_time: None,
            last_time: None,
            last_value: 0.0,
            gap: Gap::default(),
            profile: DailyProfile::default(),
            deviation: Deviation::default(),
            drift: Drift::default(),
            extreme: Extreme::default(),
            stuck: Stuck::default(),
            noise: Noise::default(),
            context: Context::default(),
            shape: Shape::default(),
            calibration: Calibration::default(),
            recurrence: Recurrence::default(),
            refractory: Refractory::default(),
            last_feature: None,
            expectation: Expectation::default(),
        }
    }

    /// The id of the configuration this detector was made with.
    pub fn config_id(&self) -> ConfigId {
        self.config_id
    }

    /// Number of readings accepted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Bytes the detector takes in memory, its tables included: the same for every
    /// series, however long.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(self)
            + self.context.heap_bytes()
            + self.shape.heap_bytes()
            + self.recurrence.heap_bytes()
    }

    /// The feature that drove the last score, if any broke its record (none during
    /// the warm-up).
    pub fn last_feature(&self) -> Option<Feature> {
        self.last_feature
    }

    /// Explains the last reading scored: the kind of anomaly and the range the
    /// detector expected it in (module `explain` says how both are decided). `None`
    /// if no feature broke its record (nothing to explain), during the warm-up, and
    /// before any reading. Cheap: built from what scoring kept, only when asked.
    pub fn explain(&self) -> Option<Explanation> {
        let feature = self.last_feature?;
        Some(self.expectation.explain(feature, self.last_value))
    }

    /// The range the last reading was expected in, `(low, high)`: the same range as
    /// [`SeriesDetector::explain`] gives, for every reading, so that a chart can draw
    /// the band of expected values. `None` before two readings.
    pub fn expected_range(&self) -> Option<(f64, f64)> {
        (self.seen >= 2 && self.expectation.unit.is_finite()).then(|| self.expectation.range())
    }

    /// Scores the reading `value` taken at `time_ms` (milliseconds since the Unix
    /// epoch), then learns from it. Returns a score in `[0, 1]`, higher meaning more
    /// anomalous. Time steps may be irregular, zero (repeated timestamps) or long
    /// (gaps); a non-finite value, or a time earlier than the previous one, is ignored
    /// (score 0, state unchanged).
    ///
    /// `config` must be the configuration the detector was made with (given to
    /// [`SeriesDetector::new`] or [`SeriesDetector::restore`]).
    pub fn score(&mut self, config: &DetectorConfig, time_ms: i64, value: f64) -> f64 {
        if !value.is_finite() || self.last_time.is_some_and(|t| time_ms < t) {
            return 0.0;
        }
        // Sums and differences of values beyond this would overflow to infinity (and
        // the state to NaN); no sensor measures that far.
        let value = value.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE);
        let first_time = *self.first_time.get_or_insert(time_ms);
        if self.seen == 0 {
            self.seen = 1;
            self.last_time = Some(time_ms);
            self.last_value = value;
            self.profile.start(value);
            self.deviation.start(value);
            self.drift.start(value);
            self.extreme.start(value);
            return 0.0;
        }
        let step_ms = time_ms
            .saturating_sub(self.last_time.unwrap_or(time_ms))
            .max(0) as f64;
        self.last_time = Some(time_ms);
        self.seen += 1;
        let range = self.extreme.range();
        let history_ms = time_ms.saturating_sub(first_time) as f64;
        let reading = Reading {
            time_ms,
            value,
            step_ms,
            hour: Reading::hour_of(time_ms),
            history_ms,
            weight: (step_ms / (1e3 * config.memory_step_seconds)).min(1.0),
            warming_up: self.seen <= u64::from(config.warmup)
                || history_ms < 1e3 * config.warmup_seconds,
            seen: self.seen,
            range,
            tiny: 1e-9 * (1.0 + value.abs()) + 1e-6 * range,
        };

        // Where a feature reads another's state, the order is part of the detector:
        // the drift uses the deviation's level once it learnt from this reading, the
        // extreme its long-run innovation once learnt, the context quantises within
        // the envelope the extreme just moved, and the shape in the mean absolute
        // step from before this step.
        let gap = self.gap.update(&reading);
        let deseasonalised = self.profile.update(&reading, config);
        self.deviation.rebase(&deseasonalised);
        // What the explanation compares the reading with: the level before this
        // reading, back on the scale of the values.
        let expected = self.deviation.level() + (value - deseasonalised.value);
        let (deviation, unit) = self
            .deviation
            .update(&reading, deseasonalised.value, config);
        self.expectation.observe(value, expected, unit);
        let drift = self
            .drift
            .update(self.deviation.level(), unit, reading.tiny, config);
        let day_one = !reading.has_days(config.daily_min_days);
        let (extreme, extreme_beyond_floor) =
            self.extreme
                .update(&reading, self.deviation.scale(), day_one, config);
        let signed_step = value - self.last_value;
        self.last_value = value;
        let stuck = self.stuck.update(signed_step.abs());
        let (noise, step_unit) = self.noise.update(&reading, signed_step.abs(), config);
        let shape = self.shape.update(signed_step, step_unit, config);
        let context = self.context.update(&reading, self.extreme.bounds(), config);

        let raw = [deviation, extreme, noise, context, gap, stuck, drift];
        let surprises = self.calibration.update(raw, shape, reading.weight, config);
        let (best, mut feature) = surprises.strongest();
        // On the first day the envelope is that of a short stretch of the series,
        // narrower than its noise alone will reach: only a new high or low beyond the
        // envelope's noise floor is scored (the memories of surprises still learn
        // what the envelope alone says, as on any other day).
        let scored = if day_one {
            let mut floored = surprises;
            floored.features[Feature::Extreme as usize] = config.weights[Feature::Extreme as usize]
                * extreme_ratio(extreme_beyond_floor, config);
            let (scored, scored_feature) = floored.strongest();
            feature = scored_feature;
            scored
        } else {
            best
        };
        let best = self.recurrence.damp(&reading, best, scored, config);
        if reading.warming_up {
            self.last_feature = None;
            return 0.0;
        }
        self.last_feature = feature;
        self.refractory.update(best, config)
    }
}
