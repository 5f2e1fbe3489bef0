//! Wire types of asset health: health rows and their contributing sensors, asset events,
//! the assets of a project, and the requests that create an asset or make its model
//! learn again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::readings;

/// One sensor's share of an asset's health score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contribution {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Its share of the score, in [0, 1].
    pub share: f64,
    /// At an event's peak: the value read (absent when the sensor was missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    /// At an event's peak: the value expected given the asset's other sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    /// At an event's peak: the lowest value learnt in normal operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_low: Option<f64>,
    /// At an event's peak: the highest value learnt in normal operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_high: Option<f64>,
}

/// An asset's health at one aligned time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthRow {
    /// The asset.
    pub asset: String,
    /// The row's date (a multiple of the asset's sampling interval).
    pub date: String,
    /// The health score in [0, 1]: 0 is normal, higher is more abnormal.
    pub health: f64,
    /// The top contributing sensors, largest first.
    pub contributors: Vec<Contribution>,
}

/// A page of health rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthPage {
    /// The rows, ordered by asset then date.
    pub rows: Vec<HealthRow>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An asset event: consecutive abnormal rows of one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetEvent {
    /// The event's stable id.
    pub id: String,
    /// The asset.
    pub asset: String,
    /// Date of the first abnormal row.
    pub start: String,
    /// Date of the last abnormal row so far.
    pub end: String,
    /// Date of the highest score.
    pub peak_date: String,
    /// The highest score, in [0, 1].
    pub peak_score: f64,
    /// What kind of abnormal state.
    pub kind: String,
    /// The top contributing sensors at the peak, largest first.
    pub contributors: Vec<Contribution>,
}

/// A page of asset events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetEventsPage {
    /// The events, ordered by start date.
    pub events: Vec<AssetEvent>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A series named by its sensor and variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesRef {
    /// The sensor.
    pub sensor_id: String,
    /// The variable (`none` when the readings name none).
    #[serde(default = "readings_default_value_name")]
    pub value_name: String,
}

fn readings_default_value_name() -> String {
    readings::DEFAULT_VALUE_NAME.to_owned()
}

/// An asset of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetInfo {
    /// Its name (`default` holds every series no named asset lists).
    pub name: String,
    /// Its series; absent for the default asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<SeriesRef>>,
    /// The operator's sampling interval in seconds; absent when learnt from the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_seconds: Option<f64>,
}

/// A named asset to create: some of the project's series, scored together apart from
/// the default asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssetRequest {
    /// Its series (1 to 256); each in one named asset at most.
    pub series: Vec<SeriesRef>,
    /// The sampling interval its rows are aligned at, seconds (more than 0, at most a
    /// day); learnt from the data when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_seconds: Option<f64>,
}

/// A "this is the new normal": the asset's model learns normal operation again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelearnRequest {
    /// From this date (ISO-8601 with a time zone); now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}
