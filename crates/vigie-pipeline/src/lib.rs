//! The ingestion pipeline: validated readings in, scored readings, anomaly events and
//! detector states stored in one durable transaction out.
//!
//! Every series (sensorId + valueName of a project) has one streaming detector that
//! sees its readings in time order. Requests touching the same series are serialised on
//! that series' lock; requests for different series run concurrently and the store
//! commits them together. Scoring happens before the commit on a copy of the detector,
//! which replaces the series' detector only once the commit succeeded, so a failed
//! request leaves the detection exactly as it was.
//!
//! Rules a user can rely on (the README repeats them):
//! * a reading newer than everything scored in its series is scored;
//! * a late reading (at or before the last scored time of its series) is stored
//!   without a score: a streaming detector only moves forward in time;
//! * a correction of a past value keeps the score of the value first received;
//! * consecutive readings scoring at or above the threshold form one anomaly event
//!   (start, end, peak), which grows while they continue.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use vigie_detect::detector::{DetectorConfig, SeriesDetector};
use vigie_proto::readings::ValidReading;
use vigie_store::{
    AnomalyEvent, IngestBatch, IngestSummary, ProjectKey, ScoredReading, SeriesDetection, Store,
};

/// Detectors kept in memory before idle ones are dropped (they reload from the store).
const RESIDENT_SERIES: usize = 50_000;

/// Settings of detection in the service.
#[derive(Debug, Clone)]
pub struct DetectionConfig {
    /// Whether readings are scored at all.
    pub enabled: bool,
    /// Score at or above which a reading is anomalous.
    pub threshold: f64,
    /// The detector's parameters.
    pub detector: DetectorConfig,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: DEFAULT_THRESHOLD,
            detector: DetectorConfig::default(),
        }
    }
}

/// The default anomaly threshold: the one the NAB evaluation optimises for the
/// standard profile with the default detector.
pub const DEFAULT_THRESHOLD: f64 = vigie_detect::detector::NAB_THRESHOLD;

/// What is stored per series besides its readings.
#[derive(Clone, Serialize, Deserialize)]
struct SeriesState {
    detector: SeriesDetector,
    /// The event still growing (its last reading was anomalous).
    open_event: Option<AnomalyEvent>,
}

/// A series' detection, as loaded or after the last committed batch.
#[derive(Clone)]
struct Slot {
    state: SeriesState,
    scored_until_us: Option<i64>,
}

type SeriesKey = (ProjectKey, String, String);

/// The pipeline; share it behind an `Arc`.
pub struct Pipeline {
    store: Arc<dyn Store>,
    config: DetectionConfig,
    slots: Mutex<HashMap<SeriesKey, Arc<tokio::sync::Mutex<Option<Slot>>>>>,
}

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed; nothing was stored.
    #[error(transparent)]
    Storage(#[from] vigie_store::Error),
    /// A detector state could not be serialised.
    #[error("serialising a detector state: {0}")]
    State(#[from] serde_json::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Pipeline {
    /// A pipeline storing into `store`.
    pub fn new(store: Arc<dyn Store>, config: DetectionConfig) -> Self {
        Self {
            store,
            config,
            slots: Mutex::default(),
        }
    }

    /// The detection settings.
    pub fn config(&self) -> &DetectionConfig {
        &self.config
    }

    /// Scores the readings series by series and stores them, their scores, the
    /// detector states and the anomaly events in one durable transaction.
    ///
    /// # Errors
    /// Storage errors; nothing is stored and no detector changes.
    pub async fn ingest(
        &self,
        project: ProjectKey,
        readings: Vec<ValidReading>,
    ) -> Result<IngestSummary> {
        if !self.config.enabled {
            return Ok(self.store.ingest(project, readings).await?);
        }
        // Per series: the index of the last reading of each time (the one stored).
        // Keys borrow from the readings: no allocation per reading.
        let mut series: BTreeMap<(&str, &str), BTreeMap<i64, usize>> = BTreeMap::new();
        for (index, reading) in readings.iter().enumerate() {
            series
                .entry((&reading.sensor_id, &reading.value_name))
                .or_default()
                .insert(reading.time_us, index);
        }
        // Lock the series in a fixed order (the map's), so requests cannot deadlock.
        let mut guards = Vec::with_capacity(series.len());
        for (sensor_id, value_name) in series.keys() {
            let slot = self.slot((
                project.clone(),
                (*sensor_id).to_owned(),
                (*value_name).to_owned(),
            ));
            guards.push(slot.lock_owned().await);
        }
        let mut scores: Vec<Option<f64>> = vec![None; readings.len()];
        let mut detection = Vec::with_capacity(series.len());
        let mut updated = Vec::with_capacity(series.len());
        for (((sensor_id, value_name), times), guard) in series.into_iter().zip(&guards) {
            let mut slot = match &**guard {
                Some(slot) => slot.clone(),
                None => self.load(&project, sensor_id, value_name).await?,
            };
            let mut touched: BTreeMap<i64, AnomalyEvent> = BTreeMap::new();
            let fresh = times.range(
                slot.scored_until_us
                    .map_or(i64::MIN, |t| t.saturating_add(1))..,
            );
            for (&time_us, &index) in fresh {
                let score = slot
                    .state
                    .detector
                    .score(time_us.div_euclid(1000), readings[index].value);
                scores[index] = Some(score);
                slot.scored_until_us = Some(time_us);
                slot.state.open_event = if score >= self.config.threshold {
                    let event = match slot.state.open_event {
                        Some(open) if score > open.peak_score => AnomalyEvent {
                            end_us: time_us,
                            peak_us: time_us,
                            peak_score: score,
                            ..open
                        },
                        Some(open) => AnomalyEvent {
                            end_us: time_us,
                            ..open
                        },
                        None => AnomalyEvent {
                            start_us: time_us,
                            end_us: time_us,
                            peak_us: time_us,
                            peak_score: score,
                        },
                    };
                    touched.insert(event.start_us, event);
                    Some(event)
                } else {
                    None
                };
            }
            if let Some(scored_until_us) = slot.scored_until_us {
                let state = serde_json::to_string(&slot.state)?;
                detection.push(SeriesDetection {
                    sensor_id: sensor_id.to_owned(),
                    value_name: value_name.to_owned(),
                    state,
                    scored_until_us,
                    events: touched.into_values().collect(),
                });
            }
            updated.push(slot);
        }
        let batch = IngestBatch {
            readings: readings
                .into_iter()
                .zip(scores)
                .map(|(reading, score)| ScoredReading { reading, score })
                .collect(),
            detection,
        };
        let summary = self.store.ingest_batch(project, batch).await?;
        for (mut guard, slot) in guards.into_iter().zip(updated) {
            *guard = Some(slot);
        }
        self.forget_idle();
        Ok(summary)
    }

    fn slot(&self, key: SeriesKey) -> Arc<tokio::sync::Mutex<Option<Slot>>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// Loads a series' detector from the store, or starts a new one.
    async fn load(&self, project: &ProjectKey, sensor_id: &str, value_name: &str) -> Result<Slot> {
        let stored = self
            .store
            .series_detection(project, sensor_id, value_name)
            .await?;
        let state = match stored
            .state
            .as_deref()
            .map(serde_json::from_str::<SeriesState>)
        {
            Some(Ok(state)) => state,
            Some(Err(error)) => {
                // A state from an incompatible detector version: start afresh rather than refuse data.
                tracing::warn!(%error, sensor_id, value_name, "stored detector state is unreadable; starting a new detector");
                self.new_state()
            }
            None => self.new_state(),
        };
        Ok(Slot {
            state,
            scored_until_us: stored.scored_until_us,
        })
    }

    fn new_state(&self) -> SeriesState {
        SeriesState {
            detector: SeriesDetector::new(&self.config.detector),
            open_event: None,
        }
    }

    /// Drops detectors nobody is using once too many are resident.
    fn forget_idle(&self) {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.len() > RESIDENT_SERIES {
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
    }
}
