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

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

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
            date: format_time_us(self.time_us),
            value: self.value,
            precision: self.precision.map(f64::from),
            labels: self.labels.clone(),
        }
    }
}

/// Formats microseconds since the epoch as ISO-8601 UTC: milliseconds as the public
/// API does (`2020-01-01T08:03:51.000Z`), microseconds when there are any.
pub fn format_time_us(time_us: i64) -> String {
    let Some(time) = chrono::DateTime::from_timestamp_micros(time_us) else {
        return time_us.to_string();
    };
    let digits = if time_us.rem_euclid(1000) == 0 {
        chrono::SecondsFormat::Millis
    } else {
        chrono::SecondsFormat::Micros
    };
    time.to_rfc3339_opts(digits, true)
}

/// Why a date was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not RFC 3339 with a time zone.
    NotIso8601,
    /// A leap second (`:60`), which would fold into the next second and silently
    /// replace another reading.
    LeapSecond,
    /// Outside years 0000–9999 once in UTC: it could not be written back as a date.
    OutOfRange,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotIso8601 => {
                "must be an ISO-8601 date and time with a time zone, like 2020-01-01T08:03:51.000Z"
            }
            Self::LeapSecond => {
                "must not have a 60th second (leap seconds are not accepted: it would be read as the next minute's first)"
            }
            Self::OutOfRange => "must fall within the years 0000 to 9999 once converted to UTC",
        })
    }
}

/// Parses an ISO-8601 (RFC 3339) date with a time zone into microseconds since the epoch.
///
/// # Errors
/// A [`DateError`] saying why the text is not a date Vigie can store and give back.
pub fn parse_time_us(text: &str) -> Result<i64, DateError> {
    use chrono::{Datelike, Timelike};
    let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| DateError::NotIso8601)?;
    if time.nanosecond() >= 1_000_000_000 {
        return Err(DateError::LeapSecond);
    }
    if !(0..=9999).contains(&time.to_utc().year()) {
        return Err(DateError::OutOfRange);
    }
    Ok(time.timestamp_micros())
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

const TOO_MANY: &str = "vigie: too many readings";

/// Parses and validates a whole body: all readings, or the reasons why not.
///
/// # Errors
/// A [`BatchError`]; when any reading is invalid, none is returned.
pub fn parse_batch(body: &[u8]) -> Result<Vec<ValidReading>, BatchError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {}
        Some(_) if serde_json::from_slice::<IgnoredAny>(body).is_ok() => {
            return Err(BatchError::NotAnArray);
        }
        _ => {
            let error = serde_json::from_slice::<IgnoredAny>(body).err();
            return Err(BatchError::Malformed(
                error.map_or_else(|| "empty body".into(), |e| e.to_string()),
            ));
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let collected = BatchVisitor
        .deserialize(&mut deserializer)
        .and_then(|collected| deserializer.end().map(|()| collected))
        .map_err(|error| {
            if error.to_string().starts_with(TOO_MANY) {
                BatchError::TooManyReadings
            } else {
                BatchError::Malformed(error.to_string())
            }
        })?;
    if collected.count == 0 {
        return Err(BatchError::Empty);
    }
    if collected.total_errors > 0 {
        return Err(BatchError::Invalid {
            invalid_readings: collected.invalid_readings,
            total_errors: collected.total_errors,
            errors: collected.errors,
        });
    }
    Ok(collected.valid)
}

#[derive(Default)]
struct Collected {
    valid: Vec<ValidReading>,
    count: usize,
    invalid_readings: usize,
    total_errors: usize,
    errors: Vec<ReadingError>,
}

impl Collected {
    fn reject(&mut self, index: usize, field: &str, reason: String) {
        self.total_errors += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(ReadingError {
                index,
                field: field.to_owned(),
                reason,
            });
        }
    }

    fn check(&mut self, index: usize, element: Element<'_>) {
        let errors_before = self.total_errors;
        let raw = match element {
            Element::Reading(raw) => raw,
            Element::Other(kind) => {
                self.reject(index, "reading", format!("must be an object, not {kind}"));
                self.invalid_readings += 1;
                return;
            }
        };
        for field in &raw.repeated {
            self.reject(index, field, "is given more than once".into());
        }
        let sensor_id = match raw.sensor_id {
            Field::Value(id) => {
                let chars = id.chars().count();
                if chars == 0 {
                    self.reject(index, "sensorId", "must not be empty".into());
                } else if chars > MAX_SENSOR_ID_CHARS {
                    self.reject(
                        index,
                        "sensorId",
                        format!("must have at most {MAX_SENSOR_ID_CHARS} characters, not {chars}"),
                    );
                } else if id.chars().any(char::is_control) {
                    self.reject(
                        index,
                        "sensorId",
                        "must not contain control characters".into(),
                    );
                }
                Some(id)
            }
            other => {
                self.reject(index, "sensorId", other.problem("a string"));
                None
            }
        };
        let value_name = match raw.value_name {
            Field::Missing | Field::Null => Some(Cow::Borrowed(DEFAULT_VALUE_NAME)),
            Field::Value(name) => {
                let valid = !name.is_empty()
                    && name.len() <= MAX_VALUE_NAME_CHARS
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    self.reject(
                        index,
                        "valueName",
                        format!("must be 1 to {MAX_VALUE_NAME_CHARS} ASCII letters, digits or '_'"),
                    );
                }
                Some(name)
            }
            other => {
                self.reject(index, "valueName", other.problem("a string"));
                None
            }
        };
        let time_us = match raw.date {
            Field::Value(date) => match parse_time_us(&date) {
                Ok(time_us) => Some(time_us),
                Err(error) => {
                    self.reject(index, "date", error.to_string());
                    None
                }
            },
            other => {
                self.reject(index, "date", other.problem("a string"));
                None
            }
        };
        let value = match raw.value {
            Field::Value(value) => Some(value),
            other => {
                self.reject(index, "value", other.problem("a number"));
                None
            }
        };
        let precision = match raw.precision {
            Field::Missing | Field::Null => None,
            Field::Value(precision) => {
                let valid = precision.fract() == 0.0
                    && (0.0..=f64::from(MAX_PRECISION)).contains(&precision);
                if !valid {
                    self.reject(
                        index,
                        "precision",
                        format!("must be an integer from 0 to {MAX_PRECISION}, not {precision}"),
                    );
                }
                // Checked just above: a whole number within 0..=100.
                Some(precision as u8)
            }
            other => {
                self.reject(
                    index,
                    "precision",
                    other.problem("an integer from 0 to 100"),
                );
                None
            }
        };
        let labels = match raw.labels {
            Field::Missing | Field::Null => Vec::new(),
            Field::Value(labels) => match check_labels(labels) {
                Ok(labels) => labels,
                Err(reason) => {
                    self.reject(index, "labels", reason);
                    Vec::new()
                }
            },
            other => {
                self.reject(index, "labels", other.problem("an array of strings"));
                Vec::new()
            }
        };
        if self.total_errors > errors_before {
            self.invalid_readings += 1;
            return;
        }
        if let (Some(sensor_id), Some(value_name), Some(time_us), Some(value)) =
            (sensor_id, value_name, time_us, value)
        {
            self.valid.push(ValidReading {
                sensor_id: sensor_id.into_owned(),
                value_name: value_name.into_owned(),
                time_us,
                value,
                precision,
                labels,
            });
        }
    }
}

/// Checks a reading's labels and returns them as a set: sorted, each once.
fn check_labels(labels: Vec<Field<Cow<'_, str>>>) -> Result<Vec<String>, String> {
    if labels.is_empty() || labels.len() > MAX_LABELS {
        return Err(format!(
            "must hold 1 to {MAX_LABELS} labels, not {} (omit the field for none)",
            labels.len()
        ));
    }
    let mut set = Vec::with_capacity(labels.len());
    for (position, label) in labels.into_iter().enumerate() {
        match label {
            Field::Value(label) if is_valid_label(&label) => set.push(label.into_owned()),
            Field::Value(label) => {
                let shown: String = label.chars().take(MAX_LABEL_CHARS + 1).collect();
                return Err(format!(
                    "label {position} ({shown:?}) must be 1 to {MAX_LABEL_CHARS} ASCII letters, digits, '_', '.', ':' or '-'"
                ));
            }
            Field::Null => return Err(format!("label {position} must be a string, not null")),
            other => return Err(format!("label {position} {}", other.problem("a string"))),
        }
    }
    set.sort_unstable();
    set.dedup();
    Ok(set)
}

struct BatchVisitor;

impl<'de> DeserializeSeed<'de> for BatchVisitor {
    type Value = Collected;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Collected, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = Collected;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of readings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Collected, A::Error> {
        let mut collected = Collected {
            valid: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_READINGS)),
            ..Collected::default()
        };
        while let Some(element) = seq.next_element::<Element<'de>>()? {
            if collected.count == MAX_READINGS {
                return Err(de::Error::custom(TOO_MANY));
            }
            collected.check(collected.count, element);
            collected.count += 1;
        }
        Ok(collected)
    }
}

/// A field as found: absent, `null`, of the expected type, or of another type.
#[derive(Default)]
enum Field<T> {
    #[default]
    Missing,
    Null,
    Value(T),
    WrongType(&'static str),
}

impl<T> Field<T> {
    fn problem(&self, expected: &str) -> String {
        match self {
            Self::Missing | Self::Null => "is required".into(),
            Self::WrongType(kind) => format!("must be {expected}, not {kind}"),
            Self::Value(_) => String::new(),
        }
    }
}

#[derive(Default)]
struct RawReading<'a> {
    sensor_id: Field<Cow<'a, str>>,
    value_name: Field<Cow<'a, str>>,
    date: Field<Cow<'a, str>>,
    value: Field<f64>,
    precision: Field<f64>,
    labels: Field<Vec<Field<Cow<'a, str>>>>,
    repeated: Vec<&'static str>,
}

enum Element<'a> {
    Reading(RawReading<'a>),
    Other(&'static str),
}

/// Visitor methods shared by the field visitors: booleans and arrays are the wrong type
/// (arrays are drained so parsing goes on).
macro_rules! kind_visitor_methods {
    ($value:ty, $wrong:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
            Ok($wrong("a boolean"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrong("an array"))
        }
    };
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reading")
            }
            kind_visitor_methods!(Element<'de>, Element::Other);
            fn visit_unit<E: de::Error>(self) -> Result<Element<'de>, E> {
                Ok(Element::Other("null"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Element<'de>, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Element<'de>, E> {
                Ok(Element::Other("a string"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element<'de>, A::Error> {
                let mut raw = RawReading::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let name: &'static str = match key.as_ref() {
                        "sensorId" => "sensorId",
                        "valueName" => "valueName",
                        "date" => "date",
                        "value" => "value",
                        "precision" => "precision",
                        "labels" => "labels",
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    let seen = match name {
                        "sensorId" => set(&mut raw.sensor_id, map.next_value::<Text<'de>>()?.0),
                        "valueName" => set(&mut raw.value_name, map.next_value::<Text<'de>>()?.0),
                        "date" => set(&mut raw.date, map.next_value::<Text<'de>>()?.0),
                        "value" => set(&mut raw.value, map.next_value::<Number>()?.0),
                        "precision" => set(&mut raw.precision, map.next_value::<Number>()?.0),
                        _ => set(&mut raw.labels, map.next_value::<Labels<'de>>()?.0),
                    };
                    if seen && !raw.repeated.contains(&name) {
                        raw.repeated.push(name);
                    }
                }
                Ok(Element::Reading(raw))
            }
        }
        deserializer.deserialize_any(ElementVisitor)
    }
}

/// Stores a field; returns whether it had been given already.
fn set<T>(slot: &mut Field<T>, value: Field<T>) -> bool {
    let seen = !matches!(slot, Field::Missing);
    *slot = value;
    seen
}

/// A JSON string, borrowed from the body when it has no escapes.
struct Text<'a>(Field<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            kind_visitor_methods!(Text<'de>, |kind| Text(Field::WrongType(kind)));
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(Field::Null))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(Field::WrongType("a number")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(Field::WrongType("a number")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(Field::WrongType("a number")))
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Field::Value(Cow::Borrowed(text))))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Field::Value(Cow::Owned(text.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(Field::WrongType("an object")))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A JSON array of strings (each element kept as a [`Text`] field, so that a wrong
/// element is reported by position).
struct Labels<'a>(Field<Vec<Field<Cow<'a, str>>>>);

impl<'de> Deserialize<'de> for Labels<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelsVisitor;
        impl<'de> Visitor<'de> for LabelsVisitor {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels<'de>, A::Error> {
                let mut labels = Vec::new();
                while let Some(Text(label)) = seq.next_element::<Text<'de>>()? {
                    // Past the limit, only the count matters.
                    if labels.len() <= MAX_LABELS {
                        labels.push(label);
                    } else {
                        labels.push(Field::Missing);
                    }
                }
                Ok(Labels(Field::Value(labels)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::WrongType("a boolean")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::Null))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::WrongType("a number")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::WrongType("a number")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::WrongType("a number")))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Labels<'de>, E> {
                Ok(Labels(Field::WrongType("a string")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Labels(Field::WrongType("an object")))
            }
        }
        deserializer.deserialize_any(LabelsVisitor)
    }
}

/// A JSON number.
struct Number(Field<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            kind_visitor_methods!(Number, |kind| Number(Field::WrongType(kind)));
            fn visit_unit<E: de::Error>(self) -> Result<Number, E> {
                Ok(Number(Field::Null))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Number, E> {
                Ok(Number(Field::Value(n as f64)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Number, E> {
                Ok(Number(Field::Value(n as f64)))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Number, E> {
                Ok(Number(if n.is_finite() {
                    Field::Value(n)
                } else {
                    Field::WrongType("a non-finite number")
                }))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Number, E> {
                Ok(Number(Field::WrongType("a string")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Number, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Number(Field::WrongType("an object")))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DOCS: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:51.000Z","value":19.9,"precision":100}]"#;

    #[test]
    fn the_documented_reading_parses_and_round_trips() {
        let readings = parse_batch(DOCS.as_bytes()).unwrap();
        assert_eq!(
            readings,
            [ValidReading {
                sensor_id: "GDPD-DEB_MASS1.PV".into(),
                value_name: "x".into(),
                time_us: 1_577_865_831_000_000,
                value: 19.9,
                precision: Some(100),
                labels: Vec::new(),
            }]
        );
        let wire = serde_json::to_string(&[readings[0].to_wire()]).unwrap();
        assert_eq!(wire, DOCS, "the documented bytes, precision as an integer");
    }

    #[test]
    fn labels_are_a_set_and_precision_a_whole_percentage() {
        let body = r#"[{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":0,"labels":["line:2","batch-7","line:2","A_b.c"]},
                       {"sensorId":"s","date":"2020-01-01T00:00:01Z","value":1,"precision":100.0,"labels":null}]"#;
        let readings = parse_batch(body.as_bytes()).unwrap();
        assert_eq!(readings[0].labels, ["A_b.c", "batch-7", "line:2"]);
        assert_eq!(readings[0].precision, Some(0));
        assert_eq!(readings[1].labels, Vec::<String>::new());
        assert_eq!(readings[1].precision, Some(100));
        let wire = serde_json::to_value(readings[0].to_wire()).unwrap();
        assert_eq!(
            wire["labels"],
            serde_json::json!(["A_b.c", "batch-7", "line:2"])
        );
        assert_eq!(wire["precision"], serde_json::json!(0));
        let unlabelled = serde_json::to_value(readings[1].to_wire()).unwrap();
        assert!(unlabelled.get("labels").is_none(), "{unlabelled}");
        let legacy = Reading {
            precision: Some(0.5),
            ..readings[1].to_wire()
        };
        assert_eq!(serde_json::to_value(legacy).unwrap()["precision"], 0.5);
    }

    #[test]
    fn defaults_offsets_and_sub_milliseconds() {
        let body = r#"[{"sensorId":"s","date":"2020-01-01T10:03:51.123456789+02:00","value":1,"unit":"kg","precision":null}]"#;
        let reading = &parse_batch(body.as_bytes()).unwrap()[0];
        assert_eq!(reading.value_name, "none");
        assert_eq!(reading.precision, None);
        assert_eq!(
            format_time_us(reading.time_us),
            "2020-01-01T08:03:51.123456Z",
            "UTC, microseconds, truncated"
        );
        assert_eq!(
            format_time_us(1_577_865_831_000_000),
            "2020-01-01T08:03:51.000Z"
        );
    }

    fn errors_of(body: &str) -> Vec<(usize, String, String)> {
        match parse_batch(body.as_bytes()) {
            Err(BatchError::Invalid { errors, .. }) => errors
                .into_iter()
                .map(|e| (e.index, e.field, e.reason))
                .collect(),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn each_rule_names_index_field_and_reason() {
        let cases = [
            (
                r#"{"date":"2020-01-01T00:00:00Z","value":1}"#,
                "sensorId",
                "is required",
            ),
            (
                r#"{"sensorId":"","date":"2020-01-01T00:00:00Z","value":1}"#,
                "sensorId",
                "must not be empty",
            ),
            (
                r#"{"sensorId":"a\u0007b","date":"2020-01-01T00:00:00Z","value":1}"#,
                "sensorId",
                "control characters",
            ),
            (
                r#"{"sensorId":7,"date":"2020-01-01T00:00:00Z","value":1}"#,
                "sensorId",
                "must be a string, not a number",
            ),
            (
                r#"{"sensorId":"s","valueName":"x-y","date":"2020-01-01T00:00:00Z","value":1}"#,
                "valueName",
                "ASCII letters",
            ),
            (
                r#"{"sensorId":"s","valueName":"","date":"2020-01-01T00:00:00Z","value":1}"#,
                "valueName",
                "ASCII letters",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01","value":1}"#,
                "date",
                "time zone",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00","value":1}"#,
                "date",
                "time zone",
            ),
            (
                r#"{"sensorId":"s","date":"yesterday","value":1}"#,
                "date",
                "ISO-8601",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:60Z","value":1}"#,
                "date",
                "60th second",
            ),
            (
                r#"{"sensorId":"s","date":"2016-12-31T23:59:60.5Z","value":1}"#,
                "date",
                "60th second",
            ),
            (
                r#"{"sensorId":"s","date":"9999-12-31T23:59:59-23:59","value":1}"#,
                "date",
                "years 0000 to 9999",
            ),
            (
                r#"{"sensorId":"s","date":"0000-01-01T00:00:00+14:00","value":1}"#,
                "date",
                "years 0000 to 9999",
            ),
            (r#"{"sensorId":"s","value":1}"#, "date", "is required"),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z"}"#,
                "value",
                "is required",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":"19.9"}"#,
                "value",
                "must be a number, not a string",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":null}"#,
                "value",
                "is required",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":[1]}"#,
                "value",
                "not an array",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":"high"}"#,
                "precision",
                "must be an integer from 0 to 100, not a string",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":101}"#,
                "precision",
                "integer from 0 to 100, not 101",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":-1}"#,
                "precision",
                "integer from 0 to 100, not -1",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":99.5}"#,
                "precision",
                "integer from 0 to 100, not 99.5",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[]}"#,
                "labels",
                "1 to 16 labels, not 0",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":"a"}"#,
                "labels",
                "must be an array of strings, not a string",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":{"a":1}}"#,
                "labels",
                "not an object",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["ok",7]}"#,
                "labels",
                "label 1 must be a string, not a number",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["ok",null]}"#,
                "labels",
                "label 1 must be a string, not null",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["a b"]}"#,
                "labels",
                r#"label 0 ("a b") must be 1 to 64"#,
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[""]}"#,
                "labels",
                "label 0",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["é"]}"#,
                "labels",
                "ASCII letters, digits, '_', '.', ':' or '-'",
            ),
            (
                r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["a"],"labels":["b"]}"#,
                "labels",
                "more than once",
            ),
            (
                r#"{"sensorId":"s","sensorId":"t","date":"2020-01-01T00:00:00Z","value":1}"#,
                "sensorId",
                "more than once",
            ),
            (r#"42"#, "reading", "must be an object, not a number"),
        ];
        for (reading, field, reason) in cases {
            let body = format!(
                r#"[{{"sensorId":"ok","date":"2020-01-01T00:00:00Z","value":0}},{reading}]"#
            );
            let errors = errors_of(&body);
            assert_eq!(errors.len(), 1, "{reading}: {errors:?}");
            assert_eq!((errors[0].0, errors[0].1.as_str()), (1, field), "{reading}");
            assert!(errors[0].2.contains(reason), "{reading}: {:?}", errors[0].2);
        }
        let long_id = format!(
            r#"[{{"sensorId":"{}","date":"2020-01-01T00:00:00Z","value":1}}]"#,
            "s".repeat(257)
        );
        assert!(errors_of(&long_id)[0].2.contains("at most 256"));
        let label = |n: usize| format!("\"{}\"", "l".repeat(n));
        let labelled = |labels: Vec<String>| {
            format!(
                r#"[{{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[{}]}}]"#,
                labels.join(",")
            )
        };
        assert!(parse_batch(labelled(vec![label(64)]).as_bytes()).is_ok());
        assert!(
            errors_of(&labelled(vec![label(65)]))[0]
                .2
                .contains("label 0")
        );
        let sixteen: Vec<String> = (0..16).map(|i| format!("\"l{i}\"")).collect();
        assert_eq!(
            parse_batch(labelled(sixteen.clone()).as_bytes()).unwrap()[0]
                .labels
                .len(),
            16
        );
        let seventeen = [sixteen, vec![label(3)]].concat();
        assert!(errors_of(&labelled(seventeen))[0].2.contains("not 17"));
    }

    #[test]
    fn whole_body_errors() {
        assert!(matches!(
            parse_batch(b"[{\"sensorId\":"),
            Err(BatchError::Malformed(_))
        ));
        assert!(matches!(parse_batch(b""), Err(BatchError::Malformed(_))));
        assert!(matches!(
            parse_batch(b"[] []"),
            Err(BatchError::Malformed(_))
        ));
        assert_eq!(
            parse_batch(br#"{"sensorId":"s"}"#),
            Err(BatchError::NotAnArray)
        );
        assert_eq!(parse_batch(b" [ ] "), Err(BatchError::Empty));
        let many = format!(
            "[{}]",
            vec![r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1}"#; MAX_READINGS + 1]
                .join(",")
        );
        assert_eq!(
            parse_batch(many.as_bytes()),
            Err(BatchError::TooManyReadings)
        );
    }

    #[test]
    fn errors_are_capped_but_counted() {
        let body = format!("[{}]", vec![r#"{"value":"x"}"#; 150].join(","));
        match parse_batch(body.as_bytes()) {
            Err(BatchError::Invalid {
                invalid_readings,
                total_errors,
                errors,
            }) => {
                assert_eq!(invalid_readings, 150);
                assert_eq!(total_errors, 450);
                assert_eq!(errors.len(), MAX_LISTED_ERRORS);
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_batch(&body);
        }

        #[test]
        fn arbitrary_json_shapes_never_panic(body in r#"\[(\{("(sensorId|valueName|date|value|precision|labels|x)":(-?[0-9]{1,3}(\.[0-9])?|"[^"\\]{0,12}"|null|true|\[\]|\{\}),?){0,6}\},?){0,4}\]"#) {
            let _ = parse_batch(body.as_bytes());
        }

        #[test]
        fn valid_readings_round_trip(
            sensor in "[A-Za-z0-9._-]{1,40}",
            name in "[A-Za-z0-9_]{1,20}",
            // Years 0000 to 9999.
            micros in -62_167_219_200_000_000i64..253_402_300_800_000_000i64,
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
            precision in proptest::option::of(0u8..=100),
            labels in proptest::collection::btree_set("[A-Za-z0-9_.:-]{1,64}", 0..=16),
        ) {
            let labels = labels.into_iter().collect();
            let reading = ValidReading { sensor_id: sensor, value_name: name, time_us: micros, value, precision, labels };
            let body = serde_json::to_vec(&[reading.to_wire()]).unwrap();
            prop_assert_eq!(parse_batch(&body).unwrap(), vec![reading]);
        }
    }
}
