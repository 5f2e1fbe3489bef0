//! Format 1 of the detector's state: the flat layout written before the format was
//! versioned, with the whole configuration embedded. Kept so that the checkpoints
//! stored by earlier versions still load (and, under the same configuration, resume
//! exactly); states that were older still, without the fields added since, load too
//! with those parts starting afresh, as they always did. The records and the weekly
//! memory are still written as they were then, so their current types read them.

use serde::{Deserialize, Deserializer};

use super::SeriesDetector;
use super::counts::DecayingCounts;
use super::deviation::{Deviation, Drift};
use super::explain::Expectation;
use super::extreme::Extreme;
use super::novelty::{Context, Shape};
use super::profile::DailyProfile;
use super::records::{Calibration, Record};
use super::recurrence::Recurrence;
use super::refractory::Refractory;
use super::state::{Version, fixed_len};
use super::steps::{Gap, Noise, Stuck};
use super::weekly::WeeklyMemory;
use super::{CONTEXT_TABLE, DAY_BINS, DetectorConfig, FEATURES, Feature, SHAPE_TABLE};

/// A detector state in format 1, field for field.
#[derive(Deserialize)]
pub(super) struct LegacyState {
    #[serde(deserialize_with = "valid_config")]
    config: DetectorConfig,
    seen: u64,
    #[serde(default)]
    first_time: Option<i64>,
    last_time: Option<i64>,
    last_value: f64,
    log_step: f64,
    level: f64,
    scale: f64,
    drift_level: f64,
    hi: f64,
    lo: f64,
    smooth: f64,
    smooth_hi: f64,
    smooth_lo: f64,
    #[serde(default)]
    long_envelope: Option<[f64; 2]>,
    noise_short: f64,
    noise_long: f64,
    repeats: f64,
    slow_level: f64,
    season: [f64; DAY_BINS],
    season_seen: [u32; DAY_BINS],
    plain_spread: f64,
    season_spread: f64,
    season_on: bool,
    #[serde(deserialize_with = "fixed_len::<_, _, CONTEXT_TABLE>")]
    context: Vec<f64>,
    context_unit: f64,
    context_key: u32,
    records: [Record; FEATURES],
    peak: f64,
    cooldown: u32,
    #[serde(default)]
    recur: [f64; DAY_BINS],
    #[serde(default)]
    recur_week: WeeklyMemory,
    #[serde(default)]
    hour_scale: [f64; DAY_BINS],
    #[serde(default)]
    hour_seen: [u32; DAY_BINS],
    last_feature: Option<Feature>,
    #[serde(
        default = "empty_shapes",
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

impl From<LegacyState> for SeriesDetector {
    fn from(old: LegacyState) -> Self {
        Self {
            version: Version,
            config_id: old.config.id(),
            seen: old.seen,
            first_time: old.first_time,
            last_time: old.last_time,
            last_value: old.last_value,
            gap: Gap {
                log_step: old.log_step,
            },
            profile: DailyProfile {
                slow_level: old.slow_level,
                offsets: old.season,
                visits: old.season_seen.map(f64::from),
                plain_spread: old.plain_spread,
                season_spread: old.season_spread,
                on: old.season_on,
            },
            deviation: Deviation {
                level: old.level,
                scale: old.scale,
                hour_scale: old.hour_scale,
                hour_visits: old.hour_seen.map(f64::from),
            },
            drift: Drift {
                level: old.drift_level,
            },
            extreme: Extreme {
                hi: old.hi,
                lo: old.lo,
                smooth: old.smooth,
                smooth_hi: old.smooth_hi,
                smooth_lo: old.smooth_lo,
                long: old.long_envelope,
            },
            stuck: Stuck {
                repeats: old.repeats,
            },
            noise: Noise {
                short: old.noise_short,
                long: old.noise_long,
            },
            context: Context {
                key: old.context_key,
                counts: DecayingCounts::from_parts(old.context, old.context_unit),
            },
            shape: Shape {
                key: old.shape_key,
                counts: DecayingCounts::from_parts(old.shapes, old.shape_count_unit),
            },
            calibration: Calibration {
                records: old.records,
                shape: old.shape_record,
            },
            recurrence: Recurrence {
                daily: old.recur,
                weekly: old.recur_week,
            },
            refractory: Refractory {
                peak: old.peak,
                cooldown: old.cooldown,
            },
            last_feature: old.last_feature,
            expectation: Expectation::default(),
        }
    }
}

/// Deserialises the embedded configuration, which must be valid.
fn valid_config<'de, D: Deserializer<'de>>(d: D) -> Result<DetectorConfig, D::Error> {
    DetectorConfig::deserialize(d)?
        .validated()
        .map_err(serde::de::Error::custom)
}

/// A fresh shape count table.
fn empty_shapes() -> Vec<f64> {
    vec![0.0; SHAPE_TABLE]
}

fn one() -> f64 {
    1.0
}
