//! What an engineer reads beside the health: which kind of abnormality the leading
//! sensor shows, and, for every sensor, the value observed, the value expected from
//! the other sensors, and the range learnt in normal operation.
//!
//! The kind is read from the leading contributor's recent (smoothed) behaviour: its
//! level outside the learnt range is [`AssetAnomalyKind::OutOfRange`]; a level within
//! it but swinging at least twice as widely as in normal operation is
//! [`AssetAnomalyKind::Erratic`]; a level within range and steady, yet far from what
//! the other sensors imply, is [`AssetAnomalyKind::BrokenRelation`], the case a
//! per-sensor detector cannot see.

use serde::{Deserialize, Serialize};

use super::moments::Moments;
use super::normal::{NormalModel, RowFit};
use super::smoothing::Smoothed;

/// Recent variance, in units of the normal variance, from which a sensor is erratic
/// (its spread has doubled).
const ERRATIC_VARIANCE: f64 = 4.0;

/// The kind of abnormality the leading sensor shows (meaningful when the health is
/// high; it is computed for every scored row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetAnomalyKind {
    /// The leading sensor's recent level is outside the range learnt in normal
    /// operation.
    OutOfRange,
    /// The leading sensor's recent level is within range, but it swings at least twice
    /// as widely as in normal operation.
    Erratic,
    /// The leading sensors are within their ranges and steady, but not where the other
    /// sensors say they should be: a learnt relation between sensors is broken.
    BrokenRelation,
}

impl AssetAnomalyKind {
    /// The kind's stable name (`out_of_range`, `erratic`, `broken_relation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfRange => "out_of_range",
            Self::Erratic => "erratic",
            Self::BrokenRelation => "broken_relation",
        }
    }
}

/// The detail of the last scored row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetExplanation {
    /// The kind of abnormality the leading sensor shows.
    pub kind: AssetAnomalyKind,
    /// One entry per sensor, in the order of the row.
    pub sensors: Vec<SensorExplanation>,
}

/// One sensor in the last scored row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorExplanation {
    /// The value in the row (`None` when the sensor was missing).
    pub observed: Option<f64>,
    /// The value expected given the other sensors of the row (for a missing sensor, the
    /// value it was imputed with).
    pub expected: f64,
    /// The smallest and largest value learnt in normal operation (`None` if never seen).
    pub range: Option<(f64, f64)>,
    /// The sensor's share of the health score (as [`super::AssetScore::contributions`]).
    pub share: f64,
}

/// The kind of the current abnormality, from the leading contributor.
pub(crate) fn kind(
    smoothed: &Smoothed,
    normal: &NormalModel,
    moments: &Moments,
) -> AssetAnomalyKind {
    let Some(leader) = (0..smoothed.contributions.len())
        .max_by(|&a, &b| smoothed.contributions[a].total_cmp(&smoothed.contributions[b]))
    else {
        return AssetAnomalyKind::BrokenRelation;
    };
    let level = normal.mean[leader] + normal.scale[leader] * smoothed.levels[leader];
    if let Some([low, high]) = moments.range[leader]
        && !(low..=high).contains(&level)
    {
        return AssetAnomalyKind::OutOfRange;
    }
    let recent_variance = smoothed.squares[leader] - smoothed.levels[leader].powi(2);
    if recent_variance >= ERRATIC_VARIANCE {
        AssetAnomalyKind::Erratic
    } else {
        AssetAnomalyKind::BrokenRelation
    }
}

/// Every sensor's detail, from the last row's fit.
pub(crate) fn sensors(
    row: &[Option<f64>],
    fit: &RowFit,
    normal: &NormalModel,
    moments: &Moments,
    shares: &[f64],
) -> Vec<SensorExplanation> {
    (0..normal.sensors())
        .map(|i| SensorExplanation {
            observed: super::moments::value_of(row, i),
            expected: normal.mean[i] + normal.scale[i] * fit.expected(i),
            range: moments.range[i].map(|[low, high]| (low, high)),
            share: shares[i],
        })
        .collect()
}
