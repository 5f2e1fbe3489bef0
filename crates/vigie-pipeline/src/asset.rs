//! Asset health in the pipeline: the readings of an asset's series, aligned in time
//! into rows, scored by the asset's health model, stored with the readings.
//!
//! **Alignment.** Readings of different sensors arrive at different instants. An asset
//! has a sampling interval: the operator's, or learnt from the data (the median step
//! between consecutive readings of its sensors, over its first steps). Rows fall on
//! multiples of that interval (UTC epoch). A row at time `t` holds, for each sensor, its
//! latest value at or before `t`, if that value is at most `staleness` intervals old
//! (3 by default); otherwise the sensor is missing from that row, and the model scores
//! the row without it (its contribution is 0). A row is scored once every sensor that
//! still reports has reported at or past `t` (a sensor silent for more than the
//! staleness does not hold the asset back). A reading that arrives after its row was
//! scored is stored but does not change the row (as late readings are not scored).
//!
//! **Membership.** A project's `default` asset holds every series that no named asset
//! lists. A series that joins an asset (a new sensor of the default asset, or a layout
//! changed by the operator) changes the model's inputs: the model learns again. An asset
//! takes at most [`DetectionConfig::asset_max_sensors`] series (256): a project with more
//! is split into named assets by its operator; the series beyond are not scored with it.
//!
//! **Events.** Consecutive rows at or above the threshold form one asset event (start,
//! end, peak, the top contributors at the peak), which stays open while the fault
//! lasts and ends with the first row below the threshold.
//!
//! **Restarts.** An asset's state (model and alignment) is checkpointed with the
//! readings every [`DetectionConfig::asset_checkpoint_rows`] rows; a restarted server
//! resumes from the checkpoint and replays the asset's readings stored after it, request
//! by request in the order they fed the model (each reading keeps its feed, the asset's
//! `fed_version` after its request), which gives back exactly the state that scored
//! them, also when an asset's sensors arrive in separate requests.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use vigie_detect::asset::{AssetConfig, AssetModel};
use vigie_store::{
    AssetDetection, AssetEvent, AssetLayout, AssetReading, Contribution, HealthRow, SensorDetail,
};

use crate::DetectionConfig;

/// Steps between readings observed before an asset's sampling interval is decided.
const INTERVAL_SAMPLES: usize = 16;
/// Most rows scored at once over a stretch where no sensor reported: the alignment
/// jumps over the rest (a gap holds no information).
const MAX_EMPTY_ROWS: usize = 8;

/// A series of an asset: (sensorId, valueName).
pub(crate) type Sensor = (String, String);

/// What the pipeline knows of a project's assets: which asset each series belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ProjectAssets {
    pub(crate) layouts: Vec<AssetLayout>,
    /// Series listed by a named asset (sensorId, then valueName), with its index in
    /// `layouts`: a reading finds its asset without allocating.
    named: HashMap<String, HashMap<String, usize>>,
    /// Index of the default asset in `layouts`.
    default: Option<usize>,
}

impl ProjectAssets {
    pub(crate) fn new(layouts: Vec<AssetLayout>) -> Self {
        let mut named: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let mut default = None;
        for (index, layout) in layouts.iter().enumerate() {
            match &layout.members {
                Some(members) => {
                    for (sensor_id, value_name) in members {
                        named
                            .entry(sensor_id.clone())
                            .or_default()
                            .insert(value_name.clone(), index);
                    }
                }
                None => default = Some(index),
            }
        }
        Self {
            layouts,
            named,
            default,
        }
    }

    /// The asset a series belongs to.
    pub(crate) fn asset_of(&self, sensor_id: &str, value_name: &str) -> Option<usize> {
        self.named
            .get(sensor_id)
            .and_then(|names| names.get(value_name))
            .copied()
            .or(self.default)
    }
}

/// One sensor's alignment state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SensorTrack {
    /// Its latest value at or before the last scored row, and that value's time.
    last: Option<(i64, f64)>,
    /// Its readings after the last scored row, in time order.
    pending: VecDeque<(i64, f64)>,
    /// Time of its newest reading.
    newest: Option<i64>,
}

/// The state of one asset: its model and its alignment. This is what a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AssetState {
    /// The asset's series, in the order of the model's inputs.
    sensors: Vec<Sensor>,
    tracks: Vec<SensorTrack>,
    /// The sampling interval, once decided, microseconds.
    interval_us: Option<i64>,
    /// Steps between readings seen so far, to decide the interval.
    steps: Vec<i64>,
    /// Time of the last row scored.
    last_row_us: Option<i64>,
    /// The model, once the interval is decided.
    model: Option<AssetModel>,
    /// The event still growing.
    open_event: Option<AssetEvent>,
    /// Rows scored since the last checkpoint.
    unsaved_rows: u64,
    /// The last "new normal" carried out (the time it was asked from).
    relearned_from_us: Option<i64>,
    /// The index of each series in `sensors`, by sensorId then valueName, so that a
    /// reading finds its series without allocating (rebuilt when restored).
    #[serde(skip)]
    index: HashMap<String, HashMap<String, usize>>,
    /// How many series `index` holds.
    #[serde(skip)]
    indexed: usize,
    /// How many requests had fed the asset in the store when this state was loaded,
    /// plus those it took since (see `AssetDetection::previous_version`).
    #[serde(skip)]
    pub(crate) fed_version: i64,
}

/// What one batch did to an asset, before it is stored.
#[derive(Debug, Default)]
pub(crate) struct AssetOutcome {
    rows: Vec<HealthRow>,
    events: BTreeMap<i64, AssetEvent>,
    relearned: bool,
}

impl AssetState {
    /// A new state for an asset whose series are `sensors` (more may join).
    pub(crate) fn new(sensors: Vec<Sensor>, interval_us: Option<i64>) -> Self {
        Self {
            tracks: vec![SensorTrack::default(); sensors.len()],
            sensors,
            interval_us,
            steps: Vec::new(),
            last_row_us: None,
            model: None,
            open_event: None,
            unsaved_rows: 0,
            relearned_from_us: None,
            index: HashMap::new(),
            indexed: 0,
            fed_version: 0,
        }
    }

    /// Reads a checkpoint back, for the running configuration.
    pub(crate) fn restore(checkpoint: &str, config: &AssetConfig) -> Option<Self> {
        let mut state: Self = serde_json::from_str(checkpoint).ok()?;
        if let Some(model) = state.model.take() {
            state.model = Some(model.restore(config).ok()?);
        }
        Some(state)
    }

    /// The earliest time after which a replay must read the asset's readings.
    pub(crate) fn replay_after_us(&self) -> Option<i64> {
        self.tracks.iter().filter_map(|t| t.newest).min()
    }

    /// The input index of a series, adding it when new: the model's inputs change, so
    /// it learns again. `None` when the asset already has as many series as a model
    /// takes ([`DetectionConfig::asset_max_sensors`]): the series is not scored with it.
    fn index_of(
        &mut self,
        sensor_id: &str,
        value_name: &str,
        config: &DetectionConfig,
    ) -> Option<usize> {
        if self.indexed != self.sensors.len() {
            self.index.clear();
            for (index, (sensor_id, value_name)) in self.sensors.iter().enumerate() {
                self.index
                    .entry(sensor_id.clone())
                    .or_default()
                    .insert(value_name.clone(), index);
            }
            self.indexed = self.sensors.len();
        }
        if let Some(&index) = self
            .index
            .get(sensor_id)
            .and_then(|names| names.get(value_name))
        {
            return Some(index);
        }
        if self.sensors.len() >= config.asset_max_sensors {
            return None;
        }
        self.index
            .entry(sensor_id.to_owned())
            .or_default()
            .insert(value_name.to_owned(), self.sensors.len());
        self.sensors
            .push((sensor_id.to_owned(), value_name.to_owned()));
        self.indexed = self.sensors.len();
        self.tracks.push(SensorTrack::default());
        if self.model.is_some() {
            self.model = Some(AssetModel::new(&config.asset, self.sensors.len()));
        }
        Some(self.sensors.len() - 1)
    }

    /// Feeds readings of the asset's series (any order): (sensorId, valueName, time,
    /// value); scores the rows they complete. `relearn_from_us`: a requested "new normal".
    pub(crate) fn feed<'a>(
        &mut self,
        readings: impl IntoIterator<Item = (&'a str, &'a str, i64, f64)>,
        relearn_from_us: Option<i64>,
        config: &DetectionConfig,
    ) -> AssetOutcome {
        let mut sorted: Vec<(&str, &str, i64, f64)> = readings.into_iter().collect();
        sorted.sort_by_key(|&(_, _, time, _)| time);
        for (sensor_id, value_name, time_us, value) in sorted {
            let Some(index) = self.index_of(sensor_id, value_name, config) else {
                continue;
            };
            let track = &mut self.tracks[index];
            let late = self.last_row_us.is_some_and(|row| time_us <= row)
                || track.newest.is_some_and(|newest| time_us <= newest);
            if late {
                continue;
            }
            if let Some(newest) = track.newest
                && self.interval_us.is_none()
                && self.steps.len() < INTERVAL_SAMPLES
            {
                self.steps.push(time_us - newest);
            }
            track.newest = Some(time_us);
            track.pending.push_back((time_us, value));
        }
        self.decide_interval();
        self.score_rows(relearn_from_us, config)
    }

    fn decide_interval(&mut self) {
        if self.interval_us.is_some() || self.steps.len() < INTERVAL_SAMPLES {
            return;
        }
        let mut steps = self.steps.clone();
        steps.sort_unstable();
        self.interval_us = Some(steps[steps.len() / 2].max(1));
        self.steps.clear();
    }

    fn score_rows(
        &mut self,
        relearn_from_us: Option<i64>,
        config: &DetectionConfig,
    ) -> AssetOutcome {
        let mut outcome = AssetOutcome::default();
        let Some(interval) = self.interval_us else {
            return outcome;
        };
        let staleness = (config.asset_staleness_intervals * interval as f64) as i64;
        let Some(newest) = self.tracks.iter().filter_map(|t| t.newest).max() else {
            return outcome;
        };
        // Rows up to the time every sensor that still reports has reached.
        let Some(watermark) = self
            .tracks
            .iter()
            .filter_map(|t| t.newest)
            .filter(|&time| newest - time <= staleness)
            .min()
        else {
            return outcome;
        };
        let model = self
            .model
            .get_or_insert_with(|| AssetModel::new(&config.asset, self.sensors.len()));
        let first_pending = self
            .tracks
            .iter()
            .filter_map(|t| t.pending.front().map(|(time, _)| *time))
            .min();
        let mut row_us = match self.last_row_us {
            Some(last) => last + interval,
            None => match first_pending {
                Some(first) => first.div_euclid(interval) * interval + interval,
                None => return outcome,
            },
        };
        let mut empty_rows = 0;
        while row_us <= watermark {
            for track in &mut self.tracks {
                while let Some(&(time, value)) = track.pending.front() {
                    if time > row_us {
                        break;
                    }
                    track.last = Some((time, value));
                    track.pending.pop_front();
                }
            }
            let row: Vec<Option<f64>> = self
                .tracks
                .iter()
                .map(|t| {
                    t.last
                        .filter(|(time, _)| row_us - time <= staleness)
                        .map(|(_, v)| v)
                })
                .collect();
            if row.iter().all(Option::is_none) {
                empty_rows += 1;
                if empty_rows > MAX_EMPTY_ROWS {
                    // A gap: jump to the row before the next reading.
                    let next = self
                        .tracks
                        .iter()
                        .filter_map(|t| t.pending.front().map(|(time, _)| *time))
                        .min();
                    match next {
                        Some(next) => {
                            row_us = next.div_euclid(interval) * interval + interval;
                            empty_rows = 0;
                            continue;
                        }
                        None => break,
                    }
                }
            } else {
                empty_rows = 0;
            }
            let relearn_due = relearn_from_us
                .filter(|&from| row_us >= from && self.relearned_from_us != Some(from));
            if let Some(from) = relearn_due {
                model.relearn();
                outcome.relearned = true;
                self.relearned_from_us = Some(from);
                if let Some(open) = self.open_event.take() {
                    outcome.events.insert(open.start_us, open);
                }
            }
            let score = model.score(&config.asset, &row);
            let mut ranked: Vec<(usize, f64)> = score
                .contributions
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, share)| *share > 0.0)
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            ranked.truncate(config.asset_top_contributors);
            let mut top: Vec<Contribution> = ranked
                .iter()
                .map(|&(index, share)| {
                    let (sensor_id, value_name) = &self.sensors[index];
                    Contribution {
                        sensor_id: sensor_id.clone(),
                        value_name: value_name.clone(),
                        share,
                        detail: None,
                    }
                })
                .collect();
            outcome.rows.push(HealthRow {
                time_us: row_us,
                health: score.health,
                contributors: top.clone(),
            });
            self.open_event = if score.health >= config.asset_threshold {
                let peak = self
                    .open_event
                    .as_ref()
                    .is_none_or(|open| score.health > open.peak_score);
                if peak {
                    // The peak's explanation: what each top sensor read, against what
                    // the others imply and the range learnt in normal operation.
                    if let Some(explanation) = model.explain() {
                        for (contribution, &(index, _)) in top.iter_mut().zip(&ranked) {
                            let sensor = &explanation.sensors[index];
                            contribution.detail = Some(SensorDetail {
                                observed: sensor.observed,
                                expected: sensor.expected,
                                normal_low: sensor.range.map(|(low, _)| low),
                                normal_high: sensor.range.map(|(_, high)| high),
                            });
                        }
                    }
                }
                let kind = score.kind.map_or("abnormal_state", |kind| kind.as_str());
                let event = match self.open_event.take() {
                    Some(mut open) => {
                        open.end_us = row_us;
                        if peak {
                            open.peak_us = row_us;
                            open.peak_score = score.health;
                            open.contributors = top;
                            open.kind = kind.to_owned();
                        }
                        open
                    }
                    None => AssetEvent {
                        start_us: row_us,
                        end_us: row_us,
                        peak_us: row_us,
                        peak_score: score.health,
                        contributors: top,
                        kind: kind.to_owned(),
                    },
                };
                outcome.events.insert(event.start_us, event.clone());
                Some(event)
            } else {
                None
            };
            self.last_row_us = Some(row_us);
            self.unsaved_rows += 1;
            row_us += interval;
        }
        outcome
    }

    /// What the store keeps of a request that fed the asset: its rows, events and
    /// progress, with a checkpoint when one is due, and the version the state took it
    /// at (a request that completed no row counts too: it fed readings that wait for
    /// their row).
    pub(crate) fn detection(
        &mut self,
        asset_id: i64,
        outcome: AssetOutcome,
        config: &DetectionConfig,
    ) -> Result<AssetDetection, serde_json::Error> {
        let previous_version = self.fed_version;
        self.fed_version += 1;
        let scored_until_us = self.last_row_us.filter(|_| !outcome.rows.is_empty());
        let checkpoint = if self.unsaved_rows >= u64::from(config.asset_checkpoint_rows) {
            self.unsaved_rows = 0;
            Some(serde_json::to_string(self)?)
        } else {
            None
        };
        Ok(AssetDetection {
            asset_id,
            checkpoint,
            scored_until_us,
            previous_version,
            rows: outcome.rows,
            events: outcome.events.into_values().collect(),
            relearned: outcome.relearned,
        })
    }
}

/// The readings of a replay as the state takes them.
pub(crate) fn replayed(readings: &[AssetReading]) -> impl Iterator<Item = (&str, &str, i64, f64)> {
    readings.iter().map(|r| {
        (
            r.sensor_id.as_str(),
            r.value_name.as_str(),
            r.time_us,
            r.value,
        )
    })
}
