//! Explanations: what kind of anomaly a reading is, and what the detector expected
//! instead, so that an operator reading an alarm sees "a level shift: 58.2 observed,
//! 48.1 to 51.9 expected" rather than a bare score.
//!
//! Scoring keeps only what an explanation needs (the expected level, its noise unit
//! and how many readings in a row fell outside the expected range); the explanation
//! itself is built only when [`SeriesDetector::explain`](super::SeriesDetector::explain)
//! asks for it.
//!
//! # The expected range
//!
//! The expected value is the fast level the deviation is measured from, as it stood
//! before the reading, with the daily profile's offset for the reading's hour added
//! back when the profile is in use. The range is that value ± [`RANGE_UNITS`] noise
//! units, the unit being the one the deviation was measured in (the long-run mean
//! absolute innovation, blended with that of the hour of the day once a day has been
//! seen). For Gaussian noise, whose mean absolute deviation is about 0.8 standard
//! deviations, that is about ± 3.2 standard deviations: 99.9 % of normal readings.
//!
//! # The kind
//!
//! The kind is decided when the reading is scored, from the past and the reading
//! alone (what [`SeriesDetector::explain`](super::SeriesDetector::explain) says of a
//! reading does not depend on the readings after it), from the feature that broke its
//! record
//! ([`Feature`]) and, for the features of the level, from how many readings in a row,
//! this one included, lay outside the expected range on the same side (the *run*):
//!
//! * *deviation*: [`LevelShift`](AnomalyKind::LevelShift) if the run is 2 or more,
//!   else [`Spike`](AnomalyKind::Spike);
//! * *extreme*: `LevelShift` if the run is 2 or more, `Spike` if 1, and
//!   [`Drift`](AnomalyKind::Drift) if the reading is within the range (a new high or
//!   low reached gradually);
//! * *drift*: `LevelShift` if the run is 2 or more, else `Drift`;
//! * *noise*: [`VarianceChange`](AnomalyKind::VarianceChange);
//! * *context* (of the values or of the shape of the steps):
//!   [`NewPattern`](AnomalyKind::NewPattern);
//! * *stuck*: [`Stuck`](AnomalyKind::Stuck); *gap*: [`Gap`](AnomalyKind::Gap).
//!
//! So the first reading of a level shift is a spike: nothing tells them apart yet. The
//! kind can be refined as later readings come, by [`Explanation::refined_by`]: a spike
//! followed by a reading still beyond its expected range, on the same side, was the
//! first reading of a level shift. A caller that keeps one explanation per event (that
//! of its peak) refines it with the readings that follow the peak, up to the one that
//! closes the event; that is how a level shift, whose first reading usually scores
//! highest and alone, is reported as one.

use serde::{Deserialize, Serialize};

use super::Feature;

/// Half-width of the expected range, in noise units.
pub const RANGE_UNITS: f64 = 4.0;

/// The kind of an anomaly (serialised in snake case: `"level_shift"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A single reading far from the expected level.
    Spike,
    /// The level moved at once and stays away from where it was.
    LevelShift,
    /// The level moved away gradually.
    Drift,
    /// The noise grew or shrank.
    VarianceChange,
    /// A sequence of values, or of steps, not seen before.
    NewPattern,
    /// The same value repeated many times in a row.
    Stuck,
    /// The reading came much later than the usual time step.
    Gap,
}

impl AnomalyKind {
    /// The kind as serialised (`"level_shift"`).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Spike => "spike",
            AnomalyKind::LevelShift => "level_shift",
            AnomalyKind::Drift => "drift",
            AnomalyKind::VarianceChange => "variance_change",
            AnomalyKind::NewPattern => "new_pattern",
            AnomalyKind::Stuck => "stuck",
            AnomalyKind::Gap => "gap",
        }
    }
}

/// The kinds, as [`AnomalyKind::as_str`] names them.
const KINDS: [AnomalyKind; 7] = [
    AnomalyKind::Spike,
    AnomalyKind::LevelShift,
    AnomalyKind::Drift,
    AnomalyKind::VarianceChange,
    AnomalyKind::NewPattern,
    AnomalyKind::Stuck,
    AnomalyKind::Gap,
];

impl std::str::FromStr for AnomalyKind {
    type Err = UnknownKind;

    /// Reads a kind back from its name (`"level_shift"`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        KINDS
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownKind)
    }
}

/// A name that is not one of [`AnomalyKind`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownKind;

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the last reading scored what it did: the kind of anomaly and the range the
/// detector expected the reading in, against the value observed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The kind of anomaly.
    pub kind: AnomalyKind,
    /// Lowest value expected.
    pub expected_low: f64,
    /// Highest value expected.
    pub expected_high: f64,
    /// The value observed (clamped to [`MAX_MAGNITUDE`](super::MAX_MAGNITUDE)).
    pub observed: f64,
}

impl Explanation {
    /// This explanation, refined by the value of a later reading of the series: a
    /// spike followed by a reading still beyond its expected range on the same side
    /// becomes a level shift; any other explanation is kept as it is.
    pub fn refined_by(self, later: f64) -> Explanation {
        let above = self.observed > self.expected_high && later > self.expected_high;
        let below = self.observed < self.expected_low && later < self.expected_low;
        if self.kind == AnomalyKind::Spike && (above || below) {
            Explanation {
                kind: AnomalyKind::LevelShift,
                ..self
            }
        } else {
            self
        }
    }
}

/// What the explanation of the last reading is built from, kept while scoring.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Expectation {
    /// The value expected for the last reading, and the noise unit.
    pub(super) expected: f64,
    pub(super) unit: f64,
    /// Readings in a row, the last one included, above (positive) or below
    /// (negative) the expected range.
    pub(super) run: i32,
}

impl Expectation {
    /// Records the expectation for a reading of `value`, and where it fell.
    pub(super) fn observe(&mut self, value: f64, expected: f64, unit: f64) {
        self.expected = expected;
        self.unit = unit;
        let (low, high) = self.range();
        self.run = if value > high {
            self.run.max(0).saturating_add(1)
        } else if value < low {
            self.run.min(0).saturating_sub(1)
        } else {
            0
        };
    }

    /// The expected range.
    pub(super) fn range(&self) -> (f64, f64) {
        let half = RANGE_UNITS * self.unit;
        (self.expected - half, self.expected + half)
    }

    /// The explanation of the last reading, `observed`, whose score `feature` drove.
    pub(super) fn explain(&self, feature: Feature, observed: f64) -> Explanation {
        let run = self.run.unsigned_abs();
        let kind = match feature {
            Feature::Deviation if run >= 2 => AnomalyKind::LevelShift,
            Feature::Deviation => AnomalyKind::Spike,
            Feature::Extreme => match run {
                0 => AnomalyKind::Drift,
                1 => AnomalyKind::Spike,
                _ => AnomalyKind::LevelShift,
            },
            Feature::Drift if run >= 2 => AnomalyKind::LevelShift,
            Feature::Drift => AnomalyKind::Drift,
            Feature::Noise => AnomalyKind::VarianceChange,
            Feature::Context => AnomalyKind::NewPattern,
            Feature::Stuck => AnomalyKind::Stuck,
            Feature::Gap => AnomalyKind::Gap,
        };
        let (expected_low, expected_high) = self.range();
        Explanation {
            kind,
            expected_low,
            expected_high,
            observed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_reads_back_from_its_name_as_serialised() {
        for kind in KINDS {
            let serialised = serde_json::to_string(&kind).unwrap();
            assert_eq!(serialised, format!("\"{}\"", kind.as_str()));
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        assert_eq!("broken_relation".parse::<AnomalyKind>(), Err(UnknownKind));
    }

    fn kind(feature: Feature, values: &[f64]) -> AnomalyKind {
        let mut e = Expectation::default();
        for &v in values {
            e.observe(v, 10.0, 1.0);
        }
        e.explain(feature, *values.last().unwrap()).kind
    }

    #[test]
    fn the_kind_follows_the_feature_and_the_run_outside_the_range() {
        // The range is 6 to 14.
        assert_eq!(kind(Feature::Deviation, &[10.0, 20.0]), AnomalyKind::Spike);
        assert_eq!(
            kind(Feature::Deviation, &[20.0, 20.0]),
            AnomalyKind::LevelShift
        );
        // Below, then above: no run.
        assert_eq!(kind(Feature::Deviation, &[0.0, 20.0]), AnomalyKind::Spike);
        assert_eq!(kind(Feature::Extreme, &[10.0, 12.0]), AnomalyKind::Drift);
        assert_eq!(kind(Feature::Extreme, &[12.0, 0.0]), AnomalyKind::Spike);
        assert_eq!(
            kind(Feature::Extreme, &[0.0, 0.0, 0.0]),
            AnomalyKind::LevelShift
        );
        assert_eq!(kind(Feature::Drift, &[10.0, 12.0]), AnomalyKind::Drift);
        assert_eq!(kind(Feature::Drift, &[15.0, 15.0]), AnomalyKind::LevelShift);
        assert_eq!(kind(Feature::Noise, &[20.0]), AnomalyKind::VarianceChange);
        assert_eq!(kind(Feature::Context, &[10.0]), AnomalyKind::NewPattern);
        assert_eq!(kind(Feature::Stuck, &[10.0]), AnomalyKind::Stuck);
        assert_eq!(kind(Feature::Gap, &[10.0]), AnomalyKind::Gap);
    }

    #[test]
    fn a_spike_followed_by_a_reading_beyond_its_range_was_a_level_shift() {
        let spike = Explanation {
            kind: AnomalyKind::Spike,
            expected_low: 8.0,
            expected_high: 12.0,
            observed: 20.0,
        };
        assert_eq!(spike.refined_by(10.0), spike, "back in the range");
        assert_eq!(spike.refined_by(5.0), spike, "beyond, on the other side");
        let shift = spike.refined_by(19.0);
        assert_eq!(shift.kind, AnomalyKind::LevelShift);
        assert_eq!((shift.expected_low, shift.observed), (8.0, 20.0));
        let low = Explanation {
            observed: 0.0,
            ..spike
        };
        assert_eq!(low.refined_by(7.0).kind, AnomalyKind::LevelShift);
        let noise = Explanation {
            kind: AnomalyKind::VarianceChange,
            ..spike
        };
        assert_eq!(noise.refined_by(19.0), noise, "only a spike is refined");
    }

    #[test]
    fn an_explanation_serialises_with_snake_case_kinds() {
        let mut e = Expectation::default();
        e.observe(20.0, 10.0, 0.5);
        let explanation = e.explain(Feature::Deviation, 20.0);
        assert_eq!(
            (explanation.expected_low, explanation.expected_high),
            (8.0, 12.0)
        );
        let json = serde_json::to_string(&explanation).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"spike","expected_low":8.0,"expected_high":12.0,"observed":20.0}"#
        );
        assert_eq!(
            serde_json::from_str::<Explanation>(&json).unwrap(),
            explanation
        );
        assert_eq!(
            serde_json::to_string(&AnomalyKind::VarianceChange).unwrap(),
            r#""variance_change""#
        );
        assert_eq!(AnomalyKind::LevelShift.to_string(), "level_shift");
    }
}
