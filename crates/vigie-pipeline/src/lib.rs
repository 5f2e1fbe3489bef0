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
//! same way, so it leaves the detection exactly as it was. Once the batch is queued for
//! the store (the store commits queued batches in order, many in one transaction), the
//! detectors are unlocked: the next request on the same series or asset scores on at
//! once, and its batch commits after this one. The commit runs to its end on its own
//! task, even if the request is cancelled meanwhile. If it fails, the detectors are
//! dropped from memory, and a batch scored on top of it fails as stale (its
//! conditional updates find the progress from before it) and is scored again.
//!
//! Rules a user can rely on (the README repeats them):
//! * a reading newer than everything scored in its series is scored;
//! * a late reading (at or before the last scored time of its series) is stored
//!   without a score: a streaming detector only moves forward in time;
//! * a correction of a past value keeps the score of the value first received (a
//!   replay after a restart sees the corrected value);
//! * consecutive readings scoring at or above the threshold form one anomaly event
//!   (start, end, peak), which grows while they continue.

mod asset;
pub mod layout;
mod memory;
mod slot;
mod stops;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vigie_detect::asset::AssetConfig;
use vigie_detect::detector::DetectorConfig;
use vigie_proto::readings::ValidReading;
use vigie_proto::time::Timestamp;

use asset::{AssetState, ProjectAssets};
pub use memory::ResidentDetectors;
use memory::{Entry, Resident};
use slot::{Model, SeriesState, Slot};
use vigie_store::{
    AnomalyEvent, AssetDetection, AssetLayout, IngestBatch, IngestSummary, ProjectKey, ScoredPoint,
    ScoredReading, SeriesDetection, Store, StoredDetection,
};

/// Default memory budget of resident detectors.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// Readings a reloaded detector replays at most: without a usable checkpoint (none,
/// one written by an incompatible detector version, or one learnt with another
/// detector configuration) and with more scored readings than this, a new detector
/// learns from this many of the latest ones.
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
    /// Memory the detectors kept between requests may take. Past it, the least recently
    /// used idle ones are checkpointed and dropped (they reload from the store when
    /// their series gets readings again). The detectors of requests in progress count
    /// too but are never dropped, so a burst may exceed it by those.
    pub memory_budget_bytes: usize,
    /// Whether assets (series scored together) get a health score.
    pub assets: bool,
    /// The asset health model's parameters.
    pub asset: AssetConfig,
    /// Health at or above which an asset is abnormal.
    pub asset_threshold: f64,
    /// A sensor's value counts in an asset's row for this many sampling intervals.
    pub asset_staleness_intervals: f64,
    /// An asset's state is checkpointed once it scored this many rows since the last.
    pub asset_checkpoint_rows: u32,
    /// Contributors stored with each health row and event.
    pub asset_top_contributors: usize,
    /// Readings an asset replays at most when it reloads; beyond, it learns again.
    pub asset_replay_limit: u32,
    /// Series an asset's model takes at most; a project with more is split into named
    /// assets by its operator.
    pub asset_max_sensors: usize,
}

/// Attempts at storing one request before a stale detector is reported: each retry
/// follows another node's write to one of its series, or the failed commit of a batch
/// it was scored after.
const MAX_ATTEMPTS: u32 = 8;

/// A reading's score and the range it was expected in.
type Scored = (f64, Option<(f64, f64)>);

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: DEFAULT_THRESHOLD,
            detector: DetectorConfig::default(),
            checkpoint_readings: 4096,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            assets: true,
            asset: AssetConfig::default(),
            asset_threshold: vigie_detect::asset::ASSET_THRESHOLD,
            asset_staleness_intervals: 3.0,
            asset_checkpoint_rows: 1024,
            asset_top_contributors: 5,
            asset_replay_limit: 500_000,
            asset_max_sensors: 256,
        }
    }
}

/// The default anomaly threshold: the one the NAB evaluation optimises for the
/// standard profile with the default detector.
pub const DEFAULT_THRESHOLD: f64 = vigie_detect::detector::NAB_THRESHOLD;

/// A series within its project: (sensorId, valueName).
pub(crate) type SeriesName = (String, String);

pub(crate) type SlotGuard = tokio::sync::OwnedMutexGuard<Option<Slot>>;

/// The locked detectors of one request. They change as the request scores its
/// readings; unless its batch is queued for the store, because it failed or was
/// cancelled (its future dropped, as when a client disconnects), they are dropped from
/// memory and reload from what the store holds.
struct Locked {
    guards: Vec<SlotGuard>,
    /// The assets the request touched, the same way.
    assets: Vec<AssetGuard>,
    /// Whether the detectors keep their new state (the batch is queued).
    keep: bool,
    resident: Arc<Resident>,
}

impl Drop for Locked {
    fn drop(&mut self) {
        for guard in &mut self.guards {
            if self.keep {
                self.resident.recount(guard);
            } else {
                self.resident.release(guard);
            }
        }
        if !self.keep {
            for guard in &mut self.assets {
                **guard = None;
            }
        }
    }
}

type AssetGuard = tokio::sync::OwnedMutexGuard<Option<AssetState>>;

/// A project's assets as last read from the store, and when.
struct CachedAssets {
    assets: Arc<ProjectAssets>,
    read_at: std::time::Instant,
}

/// How long a project's asset layout is used before it is read again (an operator's
/// change reaches every server within this time).
const ASSET_LAYOUT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The pipeline; share it behind an `Arc`.
pub struct Pipeline {
    store: Arc<dyn Store>,
    config: DetectionConfig,
    /// Series in memory, by project (each project's key kept once).
    slots: Mutex<HashMap<ProjectKey, HashMap<SeriesName, Entry>>>,
    resident: Arc<Resident>,
    /// Counts requests for slots, to find the least recently used.
    clock: AtomicU64,
    /// Asset layouts by project.
    layouts: Mutex<HashMap<ProjectKey, CachedAssets>>,
    /// Asset states in memory, by asset id.
    asset_states: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Option<AssetState>>>>>,
    /// Requests scored again because another node had scored one of their series.
    stale_retries: AtomicU64,
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

impl Pipeline {
    /// A pipeline storing into `store`.
    pub fn new(store: Arc<dyn Store>, config: DetectionConfig) -> Self {
        Self {
            store,
            config,
            slots: Mutex::default(),
            resident: Arc::default(),
            clock: AtomicU64::new(0),
            layouts: Mutex::default(),
            asset_states: Mutex::default(),
            stale_retries: AtomicU64::new(0),
        }
    }

    /// What the detectors take in memory now.
    pub fn resident(&self) -> ResidentDetectors {
        ResidentDetectors {
            series: self.lock_slots().values().map(HashMap::len).sum(),
            bytes: self.resident.bytes.load(Ordering::Relaxed),
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
        mut readings: Vec<ValidReading>,
    ) -> Result<IngestSummary> {
        if !self.config.enabled {
            return Ok(self.store.ingest(project, readings).await?);
        }
        // A detector is stale when another node scored its series meanwhile; the
        // request is then scored again by detectors reloaded from the store, so on a
        // store that several nodes share the readings are kept for that. (On one node,
        // only a request scored on top of one whose commit failed can find a detector
        // stale: it fails too, and the client sends it again.)
        let shared = self.store.shared();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let again = (shared && attempts < MAX_ATTEMPTS).then(|| readings.clone());
            match self.ingest_once(project.clone(), readings).await {
                Err(Error::Storage(vigie_store::Error::Stale(series))) if again.is_some() => {
                    tracing::debug!(
                        series,
                        attempts,
                        "a series moved on without this request's detectors; scoring again"
                    );
                    self.stale_retries.fetch_add(1, Ordering::Relaxed);
                    readings = again.expect("checked by the guard");
                }
                outcome => return outcome,
            }
        }
    }

    /// How many requests were scored again because another node had scored one of
    /// their series meanwhile (each change of node costs one).
    pub fn stale_retries(&self) -> u64 {
        self.stale_retries.load(Ordering::Relaxed)
    }

    /// One attempt at [`Pipeline::ingest`]: score with the detectors in memory (loaded
    /// from the store when absent), then store; on any failure the detectors of the
    /// request are dropped, to be reloaded by the next request.
    async fn ingest_once(
        &self,
        project: ProjectKey,
        readings: Vec<ValidReading>,
    ) -> Result<IngestSummary> {
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
            assets: Vec::new(),
            keep: false,
            resident: Arc::clone(&self.resident),
        };
        let mut absent = Vec::new();
        for &(sensor_id, value_name) in series.keys() {
            let slot = self.slot(&project, sensor_id, value_name);
            let guard = slot.lock_owned().await;
            if guard.is_none() {
                absent.push((locked.guards.len(), (sensor_id, value_name)));
            }
            locked.guards.push(guard);
        }
        // What the store holds of the series not in memory, in one query.
        let keys: Vec<(&str, &str)> = absent.iter().map(|&(_, key)| key).collect();
        let stored = self.store.series_detections(&project, &keys).await?;
        for ((at, (sensor_id, value_name)), stored) in absent.into_iter().zip(stored) {
            let guard = &mut locked.guards[at];
            **guard = Some(self.load(&project, sensor_id, value_name, stored).await?);
            self.resident.recount(guard);
        }
        let (scores, mut detection) = self.score(&readings, series, &mut locked.guards)?;
        let mut feeds = vec![None; readings.len()];
        let mut assets = self
            .score_assets(&project, &readings, &mut locked.assets, &mut feeds)
            .await?;
        self.silence_planned_stops(&project, &mut detection, &mut assets)
            .await?;
        let batch = IngestBatch {
            readings: readings
                .into_iter()
                .zip(scores)
                .zip(feeds)
                .map(|((reading, scored), asset_feed)| ScoredReading {
                    reading,
                    score: scored.map(|(score, _)| score),
                    expected: scored.and_then(|(_, expected)| expected),
                    asset_feed,
                })
                .collect(),
            detection,
            assets,
        };
        // From here the batch may reach the store, whatever becomes of this request: a
        // task of its own queues it, unlocks the detectors once it is queued (the next
        // request may score on, and its batch commits after this one), and waits for
        // the commit. A failed commit drops the detectors from memory; a batch scored on
        // top of it fails too, as stale (its conditional updates find the progress
        // before it), and is scored again from what the store holds.
        let store = Arc::clone(&self.store);
        let resident = Arc::clone(&self.resident);
        let commit = tokio::spawn(async move {
            let committing = store.queue_batch(project, batch).await?;
            let series: Vec<_> = locked
                .guards
                .iter()
                .map(|g| Arc::clone(SlotGuard::mutex(g)))
                .collect();
            let assets: Vec<_> = locked
                .assets
                .iter()
                .map(|g| Arc::clone(AssetGuard::mutex(g)))
                .collect();
            locked.keep = true;
            drop(locked);
            let outcome = committing.outcome().await;
            if outcome.is_err() {
                for slot in series {
                    resident.release(&mut slot.lock_owned().await);
                }
                for asset in assets {
                    *asset.lock().await = None;
                }
            }
            outcome
        });
        let summary = commit
            .await
            .map_err(|error| Error::Interrupted(error.to_string()))??;
        self.keep_within_budget();
        Ok(summary)
    }

    /// Scores the new readings of each series with its (locked, loaded) detector: the
    /// readings' scores and expected ranges, and per series what to store with them.
    fn score(
        &self,
        readings: &[ValidReading],
        series: BTreeMap<(&str, &str), BTreeMap<i64, usize>>,
        guards: &mut [SlotGuard],
    ) -> Result<(Vec<Option<Scored>>, Vec<SeriesDetection>)> {
        let mut scores: Vec<Option<Scored>> = vec![None; readings.len()];
        let mut detection = Vec::with_capacity(series.len());
        for (((sensor_id, value_name), times), guard) in series.into_iter().zip(guards) {
            let slot = guard.as_mut().expect("loaded before scoring");
            let previous_scored_until_us = slot.scored_until_us;
            let mut touched: BTreeMap<i64, AnomalyEvent> = BTreeMap::new();
            let fresh = times.range(
                slot.scored_until_us
                    .map_or(i64::MIN, |t| t.saturating_add(1))..,
            );
            let mut scored = 0_u64;
            for (&time_us, &index) in fresh {
                let (score, expected, closed) =
                    slot.score(time_us, readings[index].value, &self.config);
                scores[index] = Some((score, expected));
                scored += 1;
                slot.scored_until_us = Some(time_us);
                if let Some(event) = closed {
                    touched.insert(event.start_us, event);
                }
                if let Some(event) = slot.open_event() {
                    touched.insert(event.start_us, event);
                }
            }
            let Some(scored_until_us) = slot.scored_until_us.filter(|_| scored > 0) else {
                continue;
            };
            slot.unsaved += scored;
            let checkpoint = match &slot.model {
                Model::Ready(state)
                    if slot.unsaved >= u64::from(self.config.checkpoint_readings) =>
                {
                    slot.unsaved = 0;
                    Some(serde_json::to_string(state)?)
                }
                // A learning series replays its few readings from the store instead.
                _ => None,
            };
            detection.push(SeriesDetection {
                sensor_id: sensor_id.to_owned(),
                value_name: value_name.to_owned(),
                checkpoint,
                scored_until_us,
                previous_scored_until_us,
                events: touched.into_values().collect(),
            });
        }
        Ok((scores, detection))
    }

    /// Feeds the request's readings to the health model of each asset they belong to
    /// (locked in the order of the layout, so requests cannot deadlock, and loaded if
    /// not in memory): what to store for each, and in `feeds` the feed (the asset's new
    /// `fed_version`) that took each reading.
    async fn score_assets(
        &self,
        project: &ProjectKey,
        readings: &[ValidReading],
        guards: &mut Vec<AssetGuard>,
        feeds: &mut [Option<i64>],
    ) -> Result<Vec<AssetDetection>> {
        if !self.config.assets {
            return Ok(Vec::new());
        }
        let layout = self.project_assets(project).await?;
        let mut by_asset: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (at, reading) in readings.iter().enumerate() {
            if let Some(index) = layout.asset_of(&reading.sensor_id, &reading.value_name) {
                by_asset.entry(index).or_default().push(at);
            }
        }
        let mut detections = Vec::new();
        for (index, members) in by_asset {
            let asset = &layout.layouts[index];
            let slot = self.asset_state(asset.id);
            let mut guard = slot.lock_owned().await;
            if guard.is_none() {
                *guard = Some(self.load_asset(project, asset).await?);
            }
            let state = guard.as_mut().expect("loaded just above");
            let outcome = state.feed(
                members.iter().map(|&at| {
                    let r = &readings[at];
                    (
                        r.sensor_id.as_str(),
                        r.value_name.as_str(),
                        r.time_us,
                        r.value,
                    )
                }),
                asset.relearn_from_us,
                &self.config,
            );
            detections.push(state.detection(asset.id, outcome, &self.config)?);
            for at in members {
                feeds[at] = Some(state.fed_version);
            }
            guards.push(guard);
        }
        Ok(detections)
    }

    /// Drops the events that start within a planned stop covering their series or
    /// asset (module `stops`); the stops are read only for a batch with events.
    async fn silence_planned_stops(
        &self,
        project: &ProjectKey,
        detection: &mut [SeriesDetection],
        assets: &mut [AssetDetection],
    ) -> Result<()> {
        let Some((first, last)) = stops::event_span(detection, assets) else {
            return Ok(());
        };
        let annotations = self
            .store
            .list_annotations(project, first, last.saturating_add(1), 10_000)
            .await?;
        if !annotations.iter().any(|a| a.kind == stops::PLANNED_STOP) {
            return Ok(());
        }
        let layout = if assets.is_empty() {
            None
        } else {
            Some(self.project_assets(project).await?)
        };
        let names: HashMap<i64, &str> = layout
            .iter()
            .flat_map(|l| l.layouts.iter().map(|a| (a.id, a.name.as_str())))
            .collect();
        let silenced = stops::silence(&annotations, detection, assets, &names);
        tracing::debug!(silenced, project = %project.code, "events silenced by planned stops");
        Ok(())
    }

    /// A project's assets: the cached layout, or the store's when older than
    /// [`ASSET_LAYOUT_TTL`].
    async fn project_assets(&self, project: &ProjectKey) -> Result<Arc<ProjectAssets>> {
        {
            let mut layouts = self.layouts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = layouts.get_mut(project) {
                if cached.read_at.elapsed() < ASSET_LAYOUT_TTL {
                    return Ok(Arc::clone(&cached.assets));
                }
                // One request reads the layout again; the others meanwhile use the one
                // they have (under load, hundreds of requests would read it at once).
                cached.read_at = std::time::Instant::now();
            }
        }
        self.read_project_assets(project).await
    }

    /// A project's assets as the store holds them now (then cached).
    async fn read_project_assets(&self, project: &ProjectKey) -> Result<Arc<ProjectAssets>> {
        let now_ms = Timestamp::from_micros(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64),
        )
        .as_millis();
        let assets = Arc::new(ProjectAssets::new(
            self.store.asset_layouts(project, now_ms).await?,
        ));
        self.layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                project.clone(),
                CachedAssets {
                    assets: Arc::clone(&assets),
                    read_at: std::time::Instant::now(),
                },
            );
        Ok(assets)
    }

    fn asset_state(&self, asset_id: i64) -> Arc<tokio::sync::Mutex<Option<AssetState>>> {
        let mut states = self.asset_states.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(states.entry(asset_id).or_default())
    }

    /// Loads an asset's state: its checkpoint, then the readings stored after it
    /// replayed (their rows are stored already). Without a usable checkpoint, the
    /// asset's readings are replayed from the start, up to
    /// [`DetectionConfig::asset_replay_limit`]; beyond, the model learns again.
    async fn load_asset(&self, project: &ProjectKey, cached: &AssetLayout) -> Result<AssetState> {
        // The store's latest checkpoint and version, read before the readings to
        // replay: a request stored between the two is then replayed too, and the
        // version tells (the next write is refused as stale, and the asset reloads).
        let fresh = self.read_project_assets(project).await?;
        let asset = fresh
            .layouts
            .iter()
            .find(|a| a.id == cached.id)
            .unwrap_or(cached);
        let restored = asset
            .state
            .as_deref()
            .and_then(|checkpoint| AssetState::restore(checkpoint, &self.config.asset));
        let mut state = match restored {
            Some(state) => state,
            None => {
                if asset.state.is_some() {
                    tracing::warn!(asset = %asset.name, "stored asset checkpoint is unusable; replaying its readings");
                }
                AssetState::new(asset.members.clone().unwrap_or_default(), asset.sampling_us)
            }
        };
        let limit = self.config.asset_replay_limit;
        let replay = self
            .store
            .asset_readings(project, asset, state.replay_after_us(), limit)
            .await?;
        if replay.len() >= limit as usize {
            tracing::warn!(asset = %asset.name, "too many readings to replay; the asset's model learns again");
            let mut fresh =
                AssetState::new(asset.members.clone().unwrap_or_default(), asset.sampling_us);
            fresh.fed_version = asset.fed_version;
            return Ok(fresh);
        }
        // The readings after the checkpoint give back the rows stored since (discarded
        // here) and the readings still waiting for their row: fed again request by
        // request, as they came (the store returns them feed by feed), since a row is
        // scored when its sensors have reported and a late reading is passed over.
        for feed in replay.chunk_by(|a, b| a.feed == b.feed) {
            let _ = state.feed(asset::replayed(feed), asset.relearn_from_us, &self.config);
        }
        state.fed_version = asset.fed_version;
        Ok(state)
    }

    fn lock_slots(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ProjectKey, HashMap<SeriesName, Entry>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slot(
        &self,
        project: &ProjectKey,
        sensor_id: &str,
        value_name: &str,
    ) -> Arc<tokio::sync::Mutex<Option<Slot>>> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.lock_slots();
        if !slots.contains_key(project) {
            slots.insert(project.clone(), HashMap::new());
        }
        let series = slots.get_mut(project).expect("inserted just above");
        let entry = series
            .entry((sensor_id.to_owned(), value_name.to_owned()))
            .or_insert_with(|| Entry {
                slot: Arc::default(),
                last_used: tick,
            });
        entry.last_used = tick;
        Arc::clone(&entry.slot)
    }

    /// Loads a series' detector from the store: its checkpoint (or a new detector),
    /// then the scored readings after it replayed. When there are too many of those
    /// (more than [`WARM_UP_READINGS`]), a new detector learns from the latest instead.
    async fn load(
        &self,
        project: &ProjectKey,
        sensor_id: &str,
        value_name: &str,
        stored: StoredDetection,
    ) -> Result<Slot> {
        let mut slot = Slot {
            model: Model::Learning(Vec::new()),
            scored_until_us: stored.scored_until_us,
            unsaved: 0,
            accounted: 0,
            key_bytes: project.org_id.len()
                + project.code.len()
                + sensor_id.len()
                + value_name.len(),
        };
        if stored.scored_until_us.is_none() {
            return Ok(slot);
        }
        let checkpoint = stored
            .checkpoint
            .as_deref()
            .map(|checkpoint| SeriesState::restore(checkpoint, &self.config.detector));
        let checkpoint = match checkpoint {
            Some(Ok(state)) => Some(state),
            Some(Err(error)) => {
                // Written by an incompatible detector version, or learnt with another
                // configuration: learn again rather than refuse data.
                tracing::warn!(%error, sensor_id, value_name, "stored detector checkpoint is unusable; a new detector learns from the latest readings");
                None
            }
            None => None,
        };
        let (mut state, replay_from) = match checkpoint {
            Some(state) => (Box::new(state), stored.checkpoint_until_us),
            None => (Box::new(SeriesState::new(&self.config)), None),
        };
        if replay_from.is_some() && replay_from == stored.scored_until_us {
            slot.model = Model::Ready(state);
            return Ok(slot);
        }
        let limit = self.config.checkpoint_readings.max(WARM_UP_READINGS);
        let points = self
            .store
            .scored_readings(project, sensor_id, value_name, replay_from, limit)
            .await?;
        if replay_from.is_none() && points.len() <= self.config.detector.warmup as usize {
            // Still learning: its readings are all it needs.
            slot.model = Model::Learning(
                points
                    .iter()
                    .map(|point| {
                        (
                            Timestamp::from_micros(point.time_us).as_millis(),
                            point.value,
                        )
                    })
                    .collect(),
            );
            slot.unsaved = points.len() as u64;
            return Ok(slot);
        }
        if points.len() >= limit as usize {
            // More to replay than a reload should (no usable checkpoint, or an old
            // one): a new detector learns from the latest readings instead.
            state = Box::new(SeriesState::new(&self.config));
            slot.unsaved = u64::from(self.config.checkpoint_readings);
        } else {
            slot.unsaved = points.len() as u64;
        }
        self.replay(&mut state, &points);
        slot.model = Model::Ready(state);
        Ok(slot)
    }

    /// Feeds already scored readings to a detector, and rebuilds the open event from
    /// the scores they were given.
    fn replay(&self, state: &mut SeriesState, points: &[ScoredPoint]) {
        for point in points {
            state.detector.score(
                &self.config.detector,
                Timestamp::from_micros(point.time_us).as_millis(),
                point.value,
            );
            // The events these readings closed are stored already.
            let _ = state.follow_events(
                point.time_us,
                point.value,
                point.score,
                self.config.threshold,
            );
        }
    }
}
