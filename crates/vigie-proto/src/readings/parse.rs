//! [`parse_batch`]: a whole body checked in one pass over the bytes, borrowing strings
//! from the input. Each field is read as what it is (absent, `null`, the expected type
//! or another), so that every invalid reading is reported with its index, field and
//! reason rather than the first serde error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    BatchError, DEFAULT_VALUE_NAME, MAX_LABEL_CHARS, MAX_LABELS, MAX_LISTED_ERRORS, MAX_PRECISION,
    MAX_READINGS, MAX_SENSOR_ID_CHARS, MAX_VALUE_NAME_CHARS, ReadingError, ValidReading,
    is_valid_label,
};
use crate::time::Timestamp;

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
            Field::Value(date) => match Timestamp::parse(&date) {
                Ok(time) => Some(time.as_micros()),
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
