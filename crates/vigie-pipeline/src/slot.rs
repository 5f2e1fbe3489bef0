//! A series' detection in memory ([`Slot`]): while it is learning, only its readings;
//! then its detector and the event still growing, which is what a checkpoint holds.

use serde::{Deserialize, Serialize};
use vigie_detect::detector::{DetectorConfig, Explanation, RestoreError, SeriesDetector};
use vigie_proto::time::Timestamp;
use vigie_store::{AnomalyEvent, EventExplanation};

use crate::memory::Entry;
use crate::{DetectionConfig, SeriesName};

/// What the allocator adds to each allocation, about.
pub(crate) const ALLOCATION_OVERHEAD_BYTES: usize = 16;

/// What a checkpoint holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct SeriesState {
    pub(crate) detector: SeriesDetector,
    /// The event still growing (its last reading was anomalous).
    pub(crate) open_event: Option<AnomalyEvent>,
}

/// What a series' detection holds in memory.
pub(crate) enum Model {
    /// Fewer readings than the detector's warm-up, which all score 0: only they are
    /// kept (a few hundred bytes), and the detector is built from them when the next
    /// reading comes, exactly as if it had seen them one by one. Most series a request
    /// creates are cheap this way.
    Learning(Vec<(i64, f64)>),
    /// The detector.
    Ready(Box<SeriesState>),
}

/// A series' detection in memory.
pub(crate) struct Slot {
    pub(crate) model: Model,
    pub(crate) scored_until_us: Option<i64>,
    /// Readings scored since the last checkpoint.
    pub(crate) unsaved: u64,
    /// Bytes counted for this slot in the pipeline's resident total.
    pub(crate) accounted: usize,
    /// Bytes of its key's text, counted with it.
    pub(crate) key_bytes: usize,
}

impl Slot {
    /// Bytes this series takes in memory: its map entry (with the map's spare room),
    /// its key's four texts, its lock and slot, and its model.
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let entry = size_of::<(SeriesName, Entry)>() * 8 / 7;
        let key = self.key_bytes + 4 * ALLOCATION_OVERHEAD_BYTES;
        let slot = size_of::<tokio::sync::Mutex<Option<Slot>>>() + 2 * size_of::<usize>();
        let model = match &self.model {
            Model::Learning(points) => size_of::<(i64, f64)>() * points.capacity(),
            Model::Ready(state) => {
                size_of::<SeriesState>() - size_of::<SeriesDetector>()
                    + state.detector.memory_bytes()
            }
        };
        entry + key + slot + model + 2 * ALLOCATION_OVERHEAD_BYTES
    }

    /// Scores a reading and learns from it: its score, the range it was expected in
    /// (none while the series learns), and the event it closed when the reading
    /// changed that event's explanation (a spike followed by a reading still beyond its
    /// range was a level shift), which must then be stored again.
    pub(crate) fn score(
        &mut self,
        time_us: i64,
        value: f64,
        config: &DetectionConfig,
    ) -> (f64, Option<(f64, f64)>, Option<AnomalyEvent>) {
        let time_ms = Timestamp::from_micros(time_us).as_millis();
        if let Model::Learning(points) = &mut self.model {
            if points.len() < config.detector.warmup as usize {
                points.push((time_ms, value));
                return (0.0, None, None);
            }
            let mut state = Box::new(SeriesState::new(config));
            for &(time_ms, value) in points.iter() {
                state.detector.score(&config.detector, time_ms, value);
            }
            self.model = Model::Ready(state);
        }
        match &mut self.model {
            Model::Ready(state) => {
                let score = state.detector.score(&config.detector, time_ms, value);
                let closed = state.follow_events(time_us, value, score, config.threshold);
                (score, state.detector.expected_range(), closed)
            }
            Model::Learning(_) => unreachable!("built just above"),
        }
    }

    /// The detector's state and the time of its last reading, when it scored readings
    /// since its last checkpoint.
    pub(crate) fn checkpoint(&self) -> Option<(String, i64)> {
        let (Model::Ready(state), Some(until)) = (&self.model, self.scored_until_us) else {
            return None;
        };
        if self.unsaved == 0 {
            return None;
        }
        match serde_json::to_string(state) {
            Ok(state) => Some((state, until)),
            Err(error) => {
                tracing::warn!(%error, "a detector could not be checkpointed; it will replay its readings");
                None
            }
        }
    }

    /// The event still growing, if any.
    pub(crate) fn open_event(&self) -> Option<AnomalyEvent> {
        match &self.model {
            Model::Ready(state) => state.open_event.clone(),
            Model::Learning(_) => None,
        }
    }
}

impl SeriesState {
    pub(crate) fn new(config: &DetectionConfig) -> Self {
        Self {
            detector: SeriesDetector::new(&config.detector),
            open_event: None,
        }
    }

    /// Reads a checkpoint back, for the running detector configuration. Checkpoints of
    /// every detector format read, those written before the format was versioned
    /// included; one learnt with another configuration is refused.
    pub(crate) fn restore(checkpoint: &str, config: &DetectorConfig) -> Result<Self, RestoreError> {
        let mut state: Self = serde_json::from_str(checkpoint)?;
        state.detector = state.detector.restore(config)?;
        Ok(state)
    }

    /// Follows the events after the detector scored `value` (at `time_us`) `score`:
    /// consecutive readings at or above `threshold` form one event, explained by its
    /// peak reading and refined by the readings after the peak, up to the one that
    /// closes it. Returns the event this reading closed if it changed its explanation.
    pub(crate) fn follow_events(
        &mut self,
        time_us: i64,
        value: f64,
        score: f64,
        threshold: f64,
    ) -> Option<AnomalyEvent> {
        let open = self.open_event.take();
        if score < threshold {
            let mut closed = open?;
            let explanation = closed.explanation.as_ref()?;
            let refined = refined(explanation, value);
            if refined == *explanation {
                return None;
            }
            closed.explanation = Some(refined);
            return Some(closed);
        }
        self.open_event = Some(match open {
            Some(open) if score > open.peak_score => AnomalyEvent {
                end_us: time_us,
                peak_us: time_us,
                peak_score: score,
                explanation: self.detector.explain().map(stored),
                ..open
            },
            Some(open) => AnomalyEvent {
                end_us: time_us,
                explanation: open.explanation.as_ref().map(|e| refined(e, value)),
                ..open
            },
            None => AnomalyEvent {
                explanation: self.detector.explain().map(stored),
                start_us: time_us,
                end_us: time_us,
                peak_us: time_us,
                peak_score: score,
            },
        });
        None
    }
}

/// A detector's explanation as the store keeps it.
fn stored(explanation: Explanation) -> EventExplanation {
    EventExplanation {
        kind: explanation.kind.as_str().to_owned(),
        expected_low: explanation.expected_low,
        expected_high: explanation.expected_high,
        observed: explanation.observed,
    }
}

/// A stored explanation refined by a later reading of its event (see
/// [`Explanation::refined_by`]).
fn refined(explanation: &EventExplanation, later: f64) -> EventExplanation {
    match explanation.kind.parse() {
        Ok(kind) => stored(
            Explanation {
                kind,
                expected_low: explanation.expected_low,
                expected_high: explanation.expected_high,
                observed: explanation.observed,
            }
            .refined_by(later),
        ),
        Err(_) => explanation.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A detector state written before the detector's state was versioned, with the
    /// scores that detector then gave: see `vigie-detect/tests/legacy_state.rs`.
    const LEGACY_DETECTOR: &str =
        include_str!("../../vigie-detect/tests/fixtures/legacy_detector.json");
    const LEGACY_READINGS: &str =
        include_str!("../../vigie-detect/tests/fixtures/legacy_readings.csv");

    #[test]
    fn a_checkpoint_written_before_the_detector_format_was_versioned_resumes() {
        let config = DetectionConfig::default();
        let event = r#"{"start_us":1,"end_us":2,"peak_us":2,"peak_score":0.5}"#;
        let checkpoint = format!(r#"{{"detector":{LEGACY_DETECTOR},"open_event":{event}}}"#);
        let mut state = SeriesState::restore(&checkpoint, &config.detector).unwrap();
        assert_eq!(state.open_event.as_ref().map(|e| e.peak_us), Some(2));
        for line in LEGACY_READINGS.lines().skip(1 + 3_000) {
            let fields: Vec<&str> = line.split(',').collect();
            let (time_ms, value, expected): (i64, f64, f64) = (
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            );
            let score = state.detector.score(&config.detector, time_ms, value);
            assert_eq!(score.to_bits(), expected.to_bits(), "at {time_ms}");
        }
        // Written again, it reads back the same; under another detector
        // configuration it is refused (and relearnt by `load`).
        let json = serde_json::to_string(&state).unwrap();
        let back = SeriesState::restore(&json, &config.detector).unwrap();
        assert_eq!(back.detector, state.detector);
        let other = DetectorConfig {
            refractory: 100,
            ..DetectorConfig::default()
        };
        assert!(matches!(
            SeriesState::restore(&json, &other),
            Err(RestoreError::OtherConfig { .. })
        ));
        assert!(matches!(
            SeriesState::restore(&checkpoint, &other),
            Err(RestoreError::OtherConfig { .. })
        ));
        assert!(matches!(
            SeriesState::restore(r#"{"format": "of another version"}"#, &config.detector),
            Err(RestoreError::Unreadable(_))
        ));
    }
}
