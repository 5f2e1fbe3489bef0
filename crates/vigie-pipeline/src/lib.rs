//! The ingestion pipeline: validated readings in, scored readings, anomaly events and
//! detector checkpoints stored in one durable transaction out.
//!
//! Every series (sensorId + valueName of a project) has one streaming detector that
//! sees its readings in time order. Requests touching the same series are serialised on
//! that series' lock; requests for different series run concurrently and the store
//! commits them together.
//!
//! A detector's state (about 19 kB as JSON) is not written with every request: it is
//! checkpointed once [`DetectionConfig::checkpoint_readings`] readings were scored since
//! the last checkpoint (a time-based checkpoint would make a slow sensor write its
//! state with every reading, for no gain: replay is exact at any age). A detector
//! loaded from the store (after a restart, or once dropped from memory) resumes from its
//! checkpoint and replays the scored readings stored after it, which gives back exactly
//! the detector that scored them. If a request fails or is cancelled before its batch
//! goes to the store, the detectors it touched are dropped from memory and reload the
//! same way, so it leaves the detection exactly as it was. Once the batch goes to the
//! store, the commit runs to its end on its own task and the detectors stay locked until
//! its outcome is known, even if the request is cancelled meanwhile: no other request
//! can load a detector from before a batch that then commits.
//!
//! Rules a user can rely on (the README repeats them):
//! * a reading newer than everything scored in its series is scored;
//! * a late reading (at or before the last scored time of its series) is stored
//!   without a score: a streaming detector only moves forward in time;
//! * a correction of a past value keeps the score of the value first received (a
//!   replay after a restart sees the corrected value);
//! * consecutive readings scoring at or above the threshold form one anomaly event
//!   (start, end, peak), which grows while they continue.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use vigie_detect::detector::{DetectorConfig, SeriesDetector};
use vigie_proto::readings::ValidReading;
use vigie_store::{
    AnomalyEvent, IngestBatch, IngestSummary, ProjectKey, ScoredPoint, ScoredReading,
    SeriesDetection, Store,
};

/// Detectors kept in memory before idle ones are dropped (they reload from the store).
const RESIDENT_SERIES: usize = 50_000;

/// Readings a reloaded detector replays at most: without a usable checkpoint (none,
/// or one written by an incompatible detector version) and with more scored readings
/// than this, a new detector learns from this many of the latest ones.
const WARM_UP_READINGS: u32 = 10_000;

/// Settings of detection in the service.
#[derive(Debug, Clone)]
pub struct DetectionConfig {
    /// Whether readings are scored at all.
    pub enabled: bool,
    /// Score at or above which a reading is anomalous.
    pub threshold: f64,
    /// The detector's parameters.
    pub detector: DetectorConfig,
    /// A series' detector is checkpointed once it scored this many readings since its
    /// last checkpoint: the most a reload replays.
    pub checkpoint_readings: u32,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: DEFAULT_THRESHOLD,
            detector: DetectorConfig::default(),
            checkpoint_readings: 4096,
        }
    }
}

/// The default anomaly threshold: the one the NAB evaluation optimises for the
/// standard profile with the default detector.
pub const DEFAULT_THRESHOLD: f64 = vigie_detect::detector::NAB_THRESHOLD;

/// What a checkpoint holds.
#[derive(Serialize, Deserialize)]
struct SeriesState {
    detector: SeriesDetector,
    /// The event still growing (its last reading was anomalous).
    open_event: Option<AnomalyEvent>,
}

/// A series' detection in memory.
struct Slot {
    state: SeriesState,
    scored_until_us: Option<i64>,
    /// Readings scored since the last checkpoint.
    unsaved: u64,
}

type SeriesKey = (ProjectKey, String, String);

/// The locked detectors of one request. They change as the request scores its
/// readings; unless the request commits, because it failed or was cancelled (its
/// future dropped, as when a client disconnects), they are dropped from memory and
/// reload from what the store holds.
struct Locked {
    guards: Vec<tokio::sync::OwnedMutexGuard<Option<Slot>>>,
    committed: bool,
}

impl Drop for Locked {
    fn drop(&mut self) {
        if !self.committed {
            for guard in &mut self.guards {
                **guard = None;
            }
        }
    }
}

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
    /// The commit task ended without an outcome (it panicked); its detectors were
    /// dropped and reload from the store.
    #[error("the commit was interrupted: {0}")]
    Interrupted(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The event after a reading scored `score` at `time_us`, given the event open before.
fn next_event(
    open: Option<AnomalyEvent>,
    time_us: i64,
    score: f64,
    threshold: f64,
) -> Option<AnomalyEvent> {
    if score < threshold {
        return None;
    }
    Some(match open {
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
    })
}

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
    /// anomaly events and the due detector checkpoints in one durable transaction.
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
        // Lock the series in a fixed order (the map's), so requests cannot deadlock,
        // and load those not in memory before anything changes.
        let mut locked = Locked {
            guards: Vec::with_capacity(series.len()),
            committed: false,
        };
        for &(sensor_id, value_name) in series.keys() {
            let slot = self.slot((project.clone(), sensor_id.to_owned(), value_name.to_owned()));
            let mut guard = slot.lock_owned().await;
            if guard.is_none() {
                *guard = Some(self.load(&project, sensor_id, value_name).await?);
            }
            locked.guards.push(guard);
        }
        let (scores, detection) = self.score(&readings, series, &mut locked.guards)?;
        let batch = IngestBatch {
            readings: readings
                .into_iter()
                .zip(scores)
                .map(|(reading, score)| ScoredReading { reading, score })
                .collect(),
            detection,
        };
        // From here the batch may reach the store, so the detectors stay locked until
        // its outcome is known, whatever becomes of this request: a task of its own
        // commits and hands the detectors over (kept if committed, dropped if not).
        // Were the request cancelled while the commit is under way, another request
        // would otherwise reload a state from before a batch that then commits.
        let store = Arc::clone(&self.store);
        let commit = tokio::spawn(async move {
            let outcome = store.ingest_batch(project, batch).await;
            locked.committed = outcome.is_ok();
            drop(locked);
            outcome
        });
        let summary = commit
            .await
            .map_err(|error| Error::Interrupted(error.to_string()))??;
        self.forget_idle();
        Ok(summary)
    }

    /// Scores the new readings of each series with its (locked, loaded) detector: the
    /// readings' scores, and per series what to store with them.
    fn score(
        &self,
        readings: &[ValidReading],
        series: BTreeMap<(&str, &str), BTreeMap<i64, usize>>,
        guards: &mut [tokio::sync::OwnedMutexGuard<Option<Slot>>],
    ) -> Result<(Vec<Option<f64>>, Vec<SeriesDetection>)> {
        let mut scores: Vec<Option<f64>> = vec![None; readings.len()];
        let mut detection = Vec::with_capacity(series.len());
        for (((sensor_id, value_name), times), guard) in series.into_iter().zip(guards) {
            let slot = guard.as_mut().expect("loaded before scoring");
            let mut touched: BTreeMap<i64, AnomalyEvent> = BTreeMap::new();
            let fresh = times.range(
                slot.scored_until_us
                    .map_or(i64::MIN, |t| t.saturating_add(1))..,
            );
            let mut scored = 0_u64;
            for (&time_us, &index) in fresh {
                let score = slot
                    .state
                    .detector
                    .score(time_us.div_euclid(1000), readings[index].value);
                scores[index] = Some(score);
                scored += 1;
                slot.scored_until_us = Some(time_us);
                slot.state.open_event =
                    next_event(slot.state.open_event, time_us, score, self.config.threshold);
                if let Some(event) = slot.state.open_event {
                    touched.insert(event.start_us, event);
                }
            }
            let Some(scored_until_us) = slot.scored_until_us.filter(|_| scored > 0) else {
                continue;
            };
            slot.unsaved += scored;
            let checkpoint = if slot.unsaved >= u64::from(self.config.checkpoint_readings) {
                slot.unsaved = 0;
                Some(serde_json::to_string(&slot.state)?)
            } else {
                None
            };
            detection.push(SeriesDetection {
                sensor_id: sensor_id.to_owned(),
                value_name: value_name.to_owned(),
                checkpoint,
                scored_until_us,
                events: touched.into_values().collect(),
            });
        }
        Ok((scores, detection))
    }

    fn slot(&self, key: SeriesKey) -> Arc<tokio::sync::Mutex<Option<Slot>>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// Loads a series' detector from the store: its checkpoint (or a new detector),
    /// then the scored readings after it replayed. When there are too many of those
    /// (more than [`WARM_UP_READINGS`]), a new detector learns from the latest instead.
    async fn load(&self, project: &ProjectKey, sensor_id: &str, value_name: &str) -> Result<Slot> {
        let stored = self
            .store
            .series_detection(project, sensor_id, value_name)
            .await?;
        let mut slot = Slot {
            state: self.new_state(),
            scored_until_us: stored.scored_until_us,
            unsaved: 0,
        };
        if stored.scored_until_us.is_none() {
            return Ok(slot);
        }
        let checkpoint = match stored.checkpoint.as_deref().map(serde_json::from_str) {
            Some(Ok(state)) => Some(state),
            Some(Err(error)) => {
                // Written by an incompatible detector version: learn again rather than refuse data.
                tracing::warn!(%error, sensor_id, value_name, "stored detector checkpoint is unreadable; a new detector learns from the latest readings");
                None
            }
            None => None,
        };
        let replay_from = match checkpoint {
            Some(state) => {
                slot.state = state;
                stored.checkpoint_until_us
            }
            None => None,
        };
        if replay_from == stored.scored_until_us {
            return Ok(slot);
        }
        let limit = self.config.checkpoint_readings.max(WARM_UP_READINGS);
        let points = self
            .store
            .scored_readings(project, sensor_id, value_name, replay_from, limit)
            .await?;
        if points.len() >= limit as usize {
            // More to replay than a reload should (no usable checkpoint, or an old
            // one): a new detector learns from the latest readings instead.
            slot.state = self.new_state();
            slot.unsaved = u64::from(self.config.checkpoint_readings);
        } else {
            slot.unsaved = points.len() as u64;
        }
        self.replay(&mut slot.state, &points);
        Ok(slot)
    }

    /// Feeds already scored readings to a detector, and rebuilds the open event from
    /// the scores they were given.
    fn replay(&self, state: &mut SeriesState, points: &[ScoredPoint]) {
        for point in points {
            state
                .detector
                .score(point.time_us.div_euclid(1000), point.value);
            state.open_event = next_event(
                state.open_event,
                point.time_us,
                point.score,
                self.config.threshold,
            );
        }
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
