//! The operator's assets: a project's series split into named assets, each scored by
//! its own health model. Checked here, for the API and `vigie admin asset` alike.

use vigie_store::{Millis, ProjectKey, Store};

/// Longest asset name.
pub const MAX_ASSET_NAME_LEN: usize = 64;

/// Longest sampling interval an operator may set: one day.
pub const MAX_SAMPLING_SECONDS: f64 = 86_400.0;

/// Why an asset could not be created.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The request breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The store refused it (a name or series taken, no such project) or failed.
    #[error(transparent)]
    Storage(#[from] vigie_store::Error),
}

/// A named asset to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    /// Its name: 1–64 ASCII letters, digits, `-`, `_` or `.`; not `default`.
    pub name: String,
    /// Its series, (sensorId, valueName); each in one named asset at most.
    pub series: Vec<(String, String)>,
    /// The sampling interval its rows are aligned at, seconds; learnt from the data
    /// when absent.
    pub sampling_seconds: Option<f64>,
}

impl NewAsset {
    /// Checks the asset against the rules, for a model that takes at most
    /// `max_series` series.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`] saying what is wrong.
    pub fn validate(&self, max_series: usize) -> Result<(), LayoutError> {
        let invalid = |message: String| Err(LayoutError::Invalid(message));
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_ASSET_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return invalid(format!(
                "an asset name must be 1 to {MAX_ASSET_NAME_LEN} ASCII letters, digits, '-', '_' or '.'"
            ));
        }
        if self.name == vigie_store::DEFAULT_ASSET {
            return invalid(format!(
                "{:?} is the project's own asset: choose another name",
                vigie_store::DEFAULT_ASSET
            ));
        }
        if self.series.is_empty() || self.series.len() > max_series {
            return invalid(format!(
                "an asset has 1 to {max_series} series, not {}",
                self.series.len()
            ));
        }
        for (index, (sensor_id, value_name)) in self.series.iter().enumerate() {
            if sensor_id.is_empty() || value_name.is_empty() {
                return invalid(format!(
                    "series {index}: sensorId and valueName must not be empty"
                ));
            }
            if self.series[..index]
                .iter()
                .any(|(s, v)| s == sensor_id && v == value_name)
            {
                return invalid(format!("series {sensor_id}/{value_name} is listed twice"));
            }
        }
        if let Some(seconds) = self.sampling_seconds
            && !(seconds > 0.0 && seconds <= MAX_SAMPLING_SECONDS)
        {
            return invalid(format!(
                "the sampling interval must be more than 0 and at most {MAX_SAMPLING_SECONDS} seconds"
            ));
        }
        Ok(())
    }

    /// Checks the asset, then stores it in `project`.
    ///
    /// # Errors
    /// [`LayoutError::Invalid`]; [`LayoutError::Storage`] with
    /// [`vigie_store::Error::AlreadyExists`] for a name or series taken, or
    /// [`vigie_store::Error::NotFound`] for a project that does not exist.
    pub async fn create(
        &self,
        store: &dyn Store,
        project: &ProjectKey,
        max_series: usize,
        now: Millis,
    ) -> Result<(), LayoutError> {
        self.validate(max_series)?;
        let sampling_us = self
            .sampling_seconds
            .map(|seconds| (seconds * 1e6).round() as i64);
        store
            .create_asset(project, &self.name, &self.series, sampling_us, now)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(name: &str, series: &[(&str, &str)], sampling: Option<f64>) -> NewAsset {
        NewAsset {
            name: name.into(),
            series: series
                .iter()
                .map(|(s, v)| ((*s).to_owned(), (*v).to_owned()))
                .collect(),
            sampling_seconds: sampling,
        }
    }

    #[test]
    fn the_rules_say_what_is_wrong() {
        let flow = [("flow", "none")];
        assert!(asset("pump-1.a_b", &flow, Some(1.0)).validate(256).is_ok());
        let refused = |a: NewAsset, max: usize, needle: &str| {
            let message = a.validate(max).unwrap_err().to_string();
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        };
        refused(asset("", &flow, None), 256, "asset name");
        refused(asset("pump 1", &flow, None), 256, "asset name");
        refused(asset(&"p".repeat(65), &flow, None), 256, "asset name");
        refused(asset("default", &flow, None), 256, "project's own asset");
        refused(asset("pump", &[], None), 256, "1 to 256 series, not 0");
        refused(asset("pump", &[("a", "x"), ("b", "x")], None), 1, "not 2");
        refused(
            asset("pump", &[("a", "x"), ("a", "x")], None),
            256,
            "listed twice",
        );
        refused(asset("pump", &[("", "x")], None), 256, "must not be empty");
        refused(asset("pump", &flow, Some(0.0)), 256, "sampling interval");
        refused(
            asset("pump", &flow, Some(f64::NAN)),
            256,
            "sampling interval",
        );
        refused(
            asset("pump", &flow, Some(86_401.0)),
            256,
            "sampling interval",
        );
    }
}
