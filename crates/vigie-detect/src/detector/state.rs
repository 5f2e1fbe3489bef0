//! The detector's serialised state (its checkpoint): what is written, what is read
//! back, and when a state is refused.
//!
//! A state is written in format [`FORMAT_VERSION`]: `{"version": 3, "config_id": …}`
//! and then the state of each feature. It carries the [`ConfigId`] of the
//! configuration it was learnt with, never the configuration itself, so that one
//! configuration serves every series and a change of it is noticed.
//!
//! Reading accepts:
//! * format 3, as written now;
//! * format 1, the states written before the format was versioned, which embed their
//!   whole configuration (`{"config": {…}, "seen": …}`): they are converted, and carry
//!   the id of the configuration they embed, the parameters added since taking their
//!   defaults.
//!
//! Format 2 (versioned, before the time scales followed the sampling rate) is refused
//! as unreadable: it carries the id of a configuration without the parameters added
//! in format 3, which no configuration of this build can match, so it could never be
//! restored anyway.
//!
//! Any other version, a damaged state (a table of the wrong size, a number that is not
//! finite, an invalid embedded configuration) fails to deserialise. A state that reads
//! is taken back into use by [`SeriesDetector::restore`], which refuses it unless it was
//! made with the running configuration: its records, envelopes and tables mean nothing
//! under other parameters. Either way, the caller learns afresh (the pipeline replays
//! the series' latest readings into a new detector). When the running configuration is
//! the one a state was made with, scoring resumes exactly as if it had never stopped.
//! A format-1 state resumes under today's arithmetic, which is the one it was learnt
//! with, bit for bit, for a series sampled every 5 minutes or more slowly and older
//! than two days (`tests/legacy_state.rs`); any other continues from what it learnt.
//!
//! Bump [`FORMAT_VERSION`] (and read the previous one, or let it be relearnt) whenever
//! the layout of the state or the arithmetic that updates it changes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::legacy::LegacyState;
use super::{ConfigId, DetectorConfig, SeriesDetector};

/// The format version of the detector states written by this build. Version 1 is the
/// unversioned format that embedded the configuration.
pub const FORMAT_VERSION: u32 = 3;

/// Why a serialised detector state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// It is not a detector state this build reads (damaged, or of another format).
    #[error("unreadable detector state: {0}")]
    Unreadable(#[from] serde_json::Error),
    /// It was learnt with another configuration than the running one.
    #[error("the detector state was learnt with configuration {stored}, not the running {running}")]
    OtherConfig {
        /// The configuration the state was learnt with.
        stored: ConfigId,
        /// The running configuration.
        running: ConfigId,
    },
}

impl SeriesDetector {
    /// Takes a deserialised state back into use, to be fed with `config`.
    ///
    /// # Errors
    ///
    /// [`RestoreError::OtherConfig`] unless the state was made with `config`.
    pub fn restore(self, config: &DetectorConfig) -> Result<Self, RestoreError> {
        let running = config.id();
        if self.config_id == running {
            Ok(self)
        } else {
            Err(RestoreError::OtherConfig {
                stored: self.config_id,
                running,
            })
        }
    }

    /// Reads a state serialised as JSON, of any readable format, to be fed with `config`.
    ///
    /// # Errors
    ///
    /// [`RestoreError::Unreadable`] if it is no readable state, and
    /// [`RestoreError::OtherConfig`] unless it was made with `config`.
    pub fn from_json(json: &str, config: &DetectorConfig) -> Result<Self, RestoreError> {
        serde_json::from_str::<Self>(json)?.restore(config)
    }
}

impl Serialize for SeriesDetector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The derived (`remote = "Self"`) form.
        SeriesDetector::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for SeriesDetector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The version decides the layout, so the state is read whole first.
        let value = serde_json::Value::deserialize(d)?;
        let state = if value.get("version").is_some() {
            SeriesDetector::deserialize(value)
        } else {
            LegacyState::deserialize(value).map(SeriesDetector::from)
        };
        state.map_err(serde::de::Error::custom)
    }
}

/// The format version in a serialised state: takes no memory, writes
/// [`FORMAT_VERSION`] and reads nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(FORMAT_VERSION)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let version = u32::deserialize(d)?;
        if version == FORMAT_VERSION {
            Ok(Version)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "detector state format {version}, this build reads 1 and {FORMAT_VERSION}"
            )))
        }
    }
}

/// Deserialises a table that must have its fixed size, `N`.
pub(super) fn fixed_len<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let table = Vec::<T>::deserialize(d)?;
    if table.len() != N {
        return Err(serde::de::Error::invalid_length(
            table.len(),
            &"the table's fixed size",
        ));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::NAB_THRESHOLD;
    use crate::detector::tests::{DAY, seasonal};
    use crate::nab::evaluate::score_series;

    /// A state written before the format was versioned (format 1), after 3,000
    /// readings of `legacy_readings.csv`: see `tests/legacy_state.rs`.
    const LEGACY: &str = include_str!("../../tests/fixtures/legacy_detector.json");

    #[test]
    fn state_round_trips_through_json_and_resumes_identically() {
        // Resumed after two weeks, so that every part of the state is in use.
        let config = DetectorConfig::default();
        let mut p = seasonal(21, 21);
        let at = 15 * DAY;
        p[at + 500].1 += 20.0;
        let whole = score_series(&config, p.iter().copied());
        let mut d = SeriesDetector::new(&config);
        let fresh_bytes = d.memory_bytes();
        let mut resumed: Vec<f64> = p[..at]
            .iter()
            .map(|&(t, v)| d.score(&config, t, v))
            .collect();
        assert_eq!(d.memory_bytes(), fresh_bytes, "the state does not grow");
        assert!(fresh_bytes < 24_000, "state is {fresh_bytes} bytes");
        let json = serde_json::to_string(&d).unwrap();
        let explained = d.explain();
        let mut d = SeriesDetector::from_json(&json, &config).unwrap();
        assert_eq!(d.explain(), explained, "the last explanation is kept");
        resumed.extend(p[at..].iter().map(|&(t, v)| d.score(&config, t, v)));
        assert_eq!(whole, resumed);
        assert!(whole[at + 500] >= NAB_THRESHOLD);
        assert!(json.len() < 64_000, "state is {} bytes", json.len());
        // A damaged state is refused rather than trusted.
        let damaged = |damage: &dyn Fn(&mut serde_json::Value)| {
            let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
            damage(&mut value);
            serde_json::from_value::<SeriesDetector>(value).is_err()
        };
        let table = |v: &mut serde_json::Value, feature: &str| {
            v[feature]["counts"]["table"].as_array_mut().unwrap().pop();
        };
        assert!(damaged(&|v| table(v, "context")));
        assert!(damaged(&|v| table(v, "shape")));
        assert!(damaged(&|v| {
            v["recurrence"]["weekly"]["past"]
                .as_array_mut()
                .unwrap()
                .pop();
        }));
        assert!(damaged(
            &|v| v["deviation"]["level"] = serde_json::Value::Null
        ));
        assert!(damaged(&|v| v["surprise"] = 1.into()), "unknown field");
        assert!(damaged(&|v| v["version"] = 4.into()), "a later format");
        assert!(damaged(&|v| v["version"] = 2.into()), "the previous format");
        assert!(damaged(&|v| v["version"] = 1.into()));
        assert!(!damaged(&|_| {}));
    }

    #[test]
    fn a_state_is_restored_only_with_its_configuration() {
        let config = DetectorConfig::default();
        let other = DetectorConfig {
            refractory: 100,
            ..DetectorConfig::default()
        };
        let mut d = SeriesDetector::new(&other);
        for &(t, v) in &seasonal(2, 3) {
            d.score(&other, t, v);
        }
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.starts_with(&format!(r#"{{"version":3,"config_id":"{}","#, other.id())));
        let error = SeriesDetector::from_json(&json, &config).unwrap_err();
        assert!(matches!(
            error,
            RestoreError::OtherConfig { stored, running }
                if stored == other.id() && running == config.id()
        ));
        assert_eq!(SeriesDetector::from_json(&json, &other).unwrap(), d);
    }

    #[test]
    fn an_unversioned_state_is_read_with_the_configuration_it_embeds() {
        let config = DetectorConfig::default();
        let legacy: serde_json::Value = serde_json::from_str(LEGACY).unwrap();
        let d = SeriesDetector::from_json(LEGACY, &config).unwrap();
        assert_eq!(d.config_id(), config.id());
        assert_eq!(d.seen(), 3_000);
        // Written again, it is a state of the current format that reads back the same.
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(SeriesDetector::from_json(&json, &config).unwrap(), d);
        // Made with another configuration: it reads, but is not restored with the
        // running one.
        let mut value = legacy.clone();
        value["config"]["refractory"] = 100.into();
        let other: SeriesDetector = serde_json::from_value(value).unwrap();
        assert!(other.clone().restore(&config).is_err());
        let changed = DetectorConfig {
            refractory: 100,
            ..DetectorConfig::default()
        };
        assert!(other.restore(&changed).is_ok());
        // Damaged, it is refused.
        let damaged = |damage: &dyn Fn(&mut serde_json::Value)| {
            let mut value = legacy.clone();
            damage(&mut value);
            serde_json::from_value::<SeriesDetector>(value).is_err()
        };
        assert!(damaged(&|v| {
            v["context"].as_array_mut().unwrap().pop();
        }));
        assert!(damaged(&|v| v["config"]["context_bins"] = 0.into()));
        assert!(damaged(&|v| {
            v["shapes"].as_array_mut().unwrap().pop();
        }));
        assert!(damaged(&|v| {
            v["recur_week"]["past"].as_array_mut().unwrap().pop();
        }));
        assert!(damaged(&|v| {
            v.as_object_mut().unwrap().remove("config");
        }));
        // A state saved before the shape feature, the long-memory envelope and the
        // weekly memory existed still loads and resumes.
        let mut value = legacy.clone();
        for field in [
            "shapes",
            "shape_count_unit",
            "shape_key",
            "shape_record",
            "long_envelope",
            "recur_week",
            "first_time",
        ] {
            value.as_object_mut().unwrap().remove(field);
        }
        let mut old = serde_json::from_value::<SeriesDetector>(value)
            .unwrap()
            .restore(&config)
            .unwrap();
        for &(t, v) in &seasonal(3, 4) {
            let t = t + 30 * DAY as i64 * 300_000;
            assert!((0.0..=1.0).contains(&old.score(&config, t, v)));
        }
    }
}
