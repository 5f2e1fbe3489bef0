//! Sensor readings on the wire: the body of `POST /v0/organisations/{id}/data/{project}`
//! and of its read-back. [`parse_batch`] checks a whole body in one pass over the
//! bytes, borrowing strings from the input, and reports every invalid reading with its
//! index, field and reason, so a request is accepted or refused as a whole.
//!
//! Rules (the README documents them): `sensorId` is 1–256 characters without control
//! characters; `valueName` matches `[A-Za-z0-9_]{1,64}` and defaults to `"none"`;
//! `date` is RFC 3339 (the ISO-8601 profile with a time zone), normalised to UTC and
//! kept to the microsecond (finer digits are truncated); `value` is a number;
//! `precision` is an optional integer from 0 to 100 (the quality of the value, as the
//! public data-bridge page documents it); `labels` is an optional array of 1 to 16
//! labels, each 1–64 characters of `[A-Za-z0-9_.:-]`, kept as a set (sorted, each
//! once); unknown fields are ignored, so integrations that send extra fields keep
//! working.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

mod parse;
#[cfg(test)]
mod tests;

pub use parse::parse_batch;

/// Largest accepted body, in bytes after decompression.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Most readings accepted in one request.
pub const MAX_READINGS: usize = 100_000;
/// Longest `sensorId`, in characters.
pub const MAX_SENSOR_ID_CHARS: usize = 256;
/// Longest `valueName`, in characters.
pub const MAX_VALUE_NAME_CHARS: usize = 64;
/// The `valueName` of readings that do not name one.
pub const DEFAULT_VALUE_NAME: &str = "none";
/// Most per-reading errors listed in one answer (the total is always given).
pub const MAX_LISTED_ERRORS: usize = 100;
/// Highest `precision`: the documented range is 0 to 100.
pub const MAX_PRECISION: u8 = 100;
/// Most labels on one reading.
pub const MAX_LABELS: usize = 16;
/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// Whether `label` is 1–64 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_CHARS
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// One label of a reading (schema only: labels travel as plain strings).
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
#[allow(dead_code)]
struct Label(String);

/// One reading as sent by a client and as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    /// The sensor's identifier.
    #[schema(min_length = 1, max_length = 256)]
    pub sensor_id: String,
    /// The sensor's variable (for example an axis), `"none"` by default.
    #[serde(default = "default_value_name")]
    #[schema(pattern = "^[A-Za-z0-9_]{1,64}$", default = "none")]
    pub value_name: String,
    /// UTC time of the reading, ISO-8601.
    #[schema(format = DateTime)]
    pub date: String,
    /// The reading.
    pub value: f64,
    /// The quality of the value, an integer from 0 to 100, if the source sends one.
    /// (Readings stored before this rule may read back with other numbers.)
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_precision"
    )]
    #[schema(value_type = Option<u8>, minimum = 0, maximum = 100)]
    pub precision: Option<f64>,
    /// Labels for organising the data (1 to 16, each `[A-Za-z0-9_.:-]{1,64}`); a set,
    /// read back sorted. They never affect anomaly scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Option<Vec<Label>>, min_items = 1, max_items = 16)]
    pub labels: Vec<String>,
}

/// Writes a whole precision as an integer (`100`, not `100.0`), as clients send it.
fn serialize_precision<S: serde::Serializer>(
    precision: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match precision {
        Some(p) if p.fract() == 0.0 && p.abs() < 9.0e15 => serializer.serialize_i64(*p as i64),
        Some(p) => serializer.serialize_f64(*p),
        None => serializer.serialize_none(),
    }
}

fn default_value_name() -> String {
    DEFAULT_VALUE_NAME.to_owned()
}

/// A reading that passed validation, with its time in microseconds since the epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidReading {
    /// The sensor's identifier.
    pub sensor_id: String,
    /// The sensor's variable.
    pub value_name: String,
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    /// The reading.
    pub value: f64,
    /// The quality of the value, 0 to 100, if the source sent one.
    pub precision: Option<u8>,
    /// The reading's labels, sorted, each once; empty when it has none.
    pub labels: Vec<String>,
}

impl ValidReading {
    /// The reading in its wire form.
    pub fn to_wire(&self) -> Reading {
        Reading {
            sensor_id: self.sensor_id.clone(),
            value_name: self.value_name.clone(),
            date: Timestamp::from_micros(self.time_us).to_string(),
            value: self.value,
            precision: self.precision.map(f64::from),
            labels: self.labels.clone(),
        }
    }
}

/// What is wrong with one reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadingError {
    /// Position of the reading in the array, from 0.
    pub index: usize,
    /// The field at fault (`sensorId`, `date`, …), or `reading` for the whole element.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

/// Why a batch was refused; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Not JSON; the message says where.
    Malformed(String),
    /// JSON, but not an array.
    NotAnArray,
    /// An empty array.
    Empty,
    /// More than [`MAX_READINGS`] readings.
    TooManyReadings,
    /// Some readings are invalid.
    Invalid {
        /// How many readings are invalid.
        invalid_readings: usize,
        /// How many errors there are in all.
        total_errors: usize,
        /// The first [`MAX_LISTED_ERRORS`] errors.
        errors: Vec<ReadingError>,
    },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(message) => write!(f, "the body is not valid JSON: {message}"),
            Self::NotAnArray => f.write_str("the body must be a JSON array of readings"),
            Self::Empty => f.write_str("the array of readings is empty"),
            Self::TooManyReadings => {
                write!(f, "a request may carry at most {MAX_READINGS} readings")
            }
            Self::Invalid {
                invalid_readings,
                total_errors,
                ..
            } => write!(
                f,
                "{invalid_readings} reading(s) are invalid ({total_errors} error(s)); nothing was stored"
            ),
        }
    }
}

impl std::error::Error for BatchError {}
