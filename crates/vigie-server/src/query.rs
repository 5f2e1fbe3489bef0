//! Query strings of the read endpoints, as typed structures for axum's `Query` (see
//! `extract::Query`): each parameter's type parses and checks itself, so that a date
//! without a time zone, a limit out of range or a foreign cursor is a 400 that says so.
//! Unknown parameters are ignored; a repeated one is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use utoipa::IntoParams;
use vigie_proto::readings::is_valid_label;
use vigie_proto::time::Timestamp;

/// Items returned per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 1000;
/// Largest `limit`.
pub const MAX_PAGE: u32 = 10_000;

/// A page size, 1 to [`MAX_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub u32);

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_PAGE)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .map(Self)
            .ok_or_else(|| {
                D::Error::custom(format!("limit must be a whole number from 1 to {MAX_PAGE}"))
            })
    }
}

/// An instant: ISO-8601 with a time zone, as microseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub i64);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .map(Timestamp::as_micros)
            .map(Self)
            .map_err(|error| D::Error::custom(format!("a date {error}")))
    }
}

/// A finite number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finite(pub f64);

impl<'de> Deserialize<'de> for Finite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Self)
            .ok_or_else(|| D::Error::custom("minScore must be a number"))
    }
}

/// One label, by the rule labels are stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(pub String);

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if is_valid_label(&text) {
            Ok(Self(text))
        } else {
            Err(D::Error::custom(
                "label must be 1 to 64 ASCII letters, digits, '_', '.', ':' or '-'",
            ))
        }
    }
}

/// Where a page of readings or events resumes: two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub i64, pub i64);

impl Cursor {
    /// The text a client passes back as `cursor`.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.0, self.1))
    }
}

fn cursor_error<E: serde::de::Error>() -> E {
    E::custom("cursor is not one this server returned")
}

fn decode_cursor(text: &str) -> Option<String> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_cursor(&text)
            .and_then(|text| {
                let (first, second) = text.split_once('.')?;
                Some(Self(first.parse().ok()?, second.parse().ok()?))
            })
            .ok_or_else(cursor_error)
    }
}

/// Separates the two texts of a series cursor: a control character, which no
/// `sensorId` may hold.
const SERIES_CURSOR_SEPARATOR: char = '\u{1f}';

/// Where a page of series resumes: after this (sensorId, valueName).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesCursor(pub String, pub String);

impl SeriesCursor {
    /// The text a client passes back as `cursor`.
    pub fn encode(sensor_id: &str, value_name: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{sensor_id}{SERIES_CURSOR_SEPARATOR}{value_name}"))
    }
}

impl<'de> Deserialize<'de> for SeriesCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_cursor(&text)
            .and_then(|text| {
                let (sensor_id, value_name) = text.split_once(SERIES_CURSOR_SEPARATOR)?;
                Some(Self(sensor_id.to_owned(), value_name.to_owned()))
            })
            .ok_or_else(cursor_error)
    }
}

/// Query parameters of the readings read-back.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReadingsParams {
    /// Only this sensor.
    #[param(rename = "sensorId")]
    pub sensor_id: Option<String>,
    /// Only this variable.
    #[param(rename = "valueName")]
    pub value_name: Option<String>,
    /// Only readings carrying this label.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
    pub label: Option<Label>,
    /// From this date (inclusive), ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Date>,
    /// Until this date (exclusive), ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Date>,
    /// Readings per page, 1 to 10000 (default 1000).
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Limit,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

/// Query parameters of the anomaly events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnomalyParams {
    /// Only this sensor.
    #[param(rename = "sensorId")]
    pub sensor_id: Option<String>,
    /// Only this variable.
    #[param(rename = "valueName")]
    pub value_name: Option<String>,
    /// Events ending at or after this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Date>,
    /// Events starting before this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Date>,
    /// Only events whose peak score is at least this.
    #[param(rename = "minScore", value_type = Option<f64>)]
    pub min_score: Option<Finite>,
    /// Events per page, 1 to 10000 (default 1000).
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Limit,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

/// Query parameters of the annotations listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnnotationParams {
    /// Annotations ending after this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Date>,
    /// Annotations starting before this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Date>,
}

/// Query parameters of the series listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// Series per page, 1 to 10000 (default 1000).
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Limit,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<SeriesCursor>,
}

/// Query parameters of the health rows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthParams {
    /// Only this asset.
    pub asset: Option<String>,
    /// From this date (inclusive), ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Date>,
    /// Until this date (exclusive), ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Date>,
    /// Rows per page, 1 to 10000 (default 1000).
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Limit,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

/// Query parameters of the asset events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AssetEventParams {
    /// Events ending at or after this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<Date>,
    /// Events starting before this date, ISO-8601 with a time zone.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<Date>,
    /// Only events whose peak score is at least this.
    #[param(rename = "minScore", value_type = Option<f64>)]
    pub min_score: Option<Finite>,
    /// Events per page, 1 to 10000 (default 1000).
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Limit,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}
