//! Query parameters of the read endpoints, parsed strictly: a repeated parameter, a date
//! without a time zone, a limit out of range or a foreign cursor is a 400 that says so.

use std::collections::HashMap;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use vigie_proto::readings::parse_time_us;

use crate::problem::ApiError;

/// Items returned per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 1000;
/// Largest `limit`.
pub const MAX_PAGE: u32 = 10_000;

fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, detail)
}

/// The parameters of one query string.
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut parameters = HashMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if parameters
                .insert(name.to_string(), value.to_string())
                .is_some()
            {
                return Err(bad_request(format!("query parameter {name} is repeated")));
            }
        }
        Ok(Self(parameters))
    }

    /// A text parameter.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// A `label` parameter: one label, by the rule labels are stored under.
    pub fn label(&mut self) -> Result<Option<String>, ApiError> {
        match self.0.remove("label") {
            Some(label) if !vigie_proto::readings::is_valid_label(&label) => Err(bad_request(
                "label must be 1 to 64 ASCII letters, digits, '_', '.', ':' or '-'",
            )),
            label => Ok(label),
        }
    }

    /// A date parameter, as microseconds since the epoch.
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.0
            .get(name)
            .map(|value| {
                parse_time_us(value).map_err(|error| bad_request(format!("{name} {error}")))
            })
            .transpose()
    }

    /// A finite number parameter.
    pub fn number(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.0
            .get(name)
            .map(|value| {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| bad_request(format!("{name} must be a number")))
            })
            .transpose()
    }

    /// The page size.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.0.get("limit") {
            None => Ok(DEFAULT_PAGE),
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=MAX_PAGE).contains(limit))
                .ok_or_else(|| {
                    bad_request(format!("limit must be a whole number from 1 to {MAX_PAGE}"))
                }),
        }
    }

    /// The position a `cursor` parameter resumes after.
    pub fn cursor(&self) -> Result<Option<(i64, i64)>, ApiError> {
        self.0
            .get("cursor")
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .and_then(|text| {
                        let (first, second) = text.split_once('.')?;
                        Some((first.parse().ok()?, second.parse().ok()?))
                    })
                    .ok_or_else(|| bad_request("cursor is not one this server returned"))
            })
            .transpose()
    }
}

/// Separates the two texts of a series cursor: a control character, which no
/// `sensorId` may hold.
const SERIES_CURSOR_SEPARATOR: char = '\u{1f}';

/// The cursor that resumes after a series.
pub fn encode_series_cursor(sensor_id: &str, value_name: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{sensor_id}{SERIES_CURSOR_SEPARATOR}{value_name}"))
}

impl QueryParams {
    /// The series a `cursor` parameter resumes after.
    pub fn series_cursor(&self) -> Result<Option<(String, String)>, ApiError> {
        self.0
            .get("cursor")
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .and_then(|text| {
                        let (sensor_id, value_name) = text.split_once(SERIES_CURSOR_SEPARATOR)?;
                        Some((sensor_id.to_owned(), value_name.to_owned()))
                    })
                    .ok_or_else(|| bad_request("cursor is not one this server returned"))
            })
            .transpose()
    }
}

/// The cursor that resumes after a position.
pub fn encode_cursor(first: i64, second: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{first}.{second}"))
}
