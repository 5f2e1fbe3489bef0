//! Annotations and interventions: a time range on a project, a sensor, a series or an
//! asset, with a kind and a note. Which kinds exist and what a planned stop silences
//! is decided above the store (`vigie_console::annotations`, `vigie_pipeline`).

use serde::Serialize;
use sqlx::AnyPool;

use crate::map_insert_error;
use crate::{Millis, ProjectKey, Result};

/// An annotation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Annotation {
    /// Its id.
    pub id: String,
    /// The sensor it covers (with `value_name`, one series of it); none with `asset`
    /// or for the whole project.
    pub sensor_id: Option<String>,
    /// The variable it covers, with `sensor_id`.
    pub value_name: Option<String>,
    /// The asset it covers.
    pub asset: Option<String>,
    /// Start of the range, microseconds since the epoch.
    pub start_us: i64,
    /// End of the range (exclusive).
    pub end_us: i64,
    /// `maintenance`, `planned_stop`, `process_change` or `note`.
    pub kind: String,
    /// What the author wrote.
    pub note: String,
    /// A user's e-mail address or an application id.
    pub author: String,
    /// When it was written.
    pub created_at: Millis,
}

impl Annotation {
    /// Whether it covers the series `(sensor_id, value_name)`: it names no asset, and
    /// the sensor and variable it names, if any, are the series'.
    pub fn covers_series(&self, sensor_id: &str, value_name: &str) -> bool {
        self.asset.is_none()
            && self.sensor_id.as_deref().is_none_or(|s| s == sensor_id)
            && self.value_name.as_deref().is_none_or(|v| v == value_name)
    }

    /// Whether it covers the asset `name`: it names it, or covers the whole project.
    pub fn covers_asset(&self, name: &str) -> bool {
        match &self.asset {
            Some(asset) => asset == name,
            None => self.sensor_id.is_none(),
        }
    }

    /// Whether `time_us` falls in its range.
    pub fn contains(&self, time_us: i64) -> bool {
        self.start_us <= time_us && time_us < self.end_us
    }
}

const COLUMNS: &str =
    "id, sensor_id, value_name, asset, start_us, end_us, kind, note, author, created_at";

pub(crate) async fn create(
    pool: &AnyPool,
    project: &ProjectKey,
    annotation: &Annotation,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO annotations (org_id, project_code, {COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(&annotation.id)
    .bind(&annotation.sensor_id)
    .bind(&annotation.value_name)
    .bind(&annotation.asset)
    .bind(annotation.start_us)
    .bind(annotation.end_us)
    .bind(&annotation.kind)
    .bind(&annotation.note)
    .bind(&annotation.author)
    .bind(annotation.created_at)
    .execute(pool)
    .await
    .map_err(|e| map_insert_error(e, || "annotation".into(), ("project", &project.code)))?;
    Ok(())
}

/// A project's annotations overlapping `[from_us, to_us)`, by start, at most `limit`.
pub(crate) async fn list(
    pool: &AnyPool,
    project: &ProjectKey,
    from_us: i64,
    to_us: i64,
    limit: u32,
) -> Result<Vec<Annotation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM annotations
         WHERE org_id = $1 AND project_code = $2 AND end_us > $3 AND start_us < $4
         ORDER BY start_us, id LIMIT $5"
    ))
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(from_us)
    .bind(to_us)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?)
}

/// Deletes one; whether it existed in the project.
pub(crate) async fn delete(pool: &AnyPool, project: &ProjectKey, id: &str) -> Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM annotations WHERE org_id = $1 AND project_code = $2 AND id = $3")
            .bind(&project.org_id)
            .bind(&project.code)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(deleted > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(sensor_id: Option<&str>, value_name: Option<&str>, asset: Option<&str>) -> Annotation {
        Annotation {
            id: "a".into(),
            sensor_id: sensor_id.map(Into::into),
            value_name: value_name.map(Into::into),
            asset: asset.map(Into::into),
            start_us: 10,
            end_us: 20,
            kind: "planned_stop".into(),
            note: String::new(),
            author: "ada".into(),
            created_at: 0,
        }
    }

    #[test]
    fn an_annotation_covers_its_project_sensor_series_or_asset() {
        let project = on(None, None, None);
        assert!(project.covers_series("press", "force") && project.covers_asset("line"));
        let sensor = on(Some("press"), None, None);
        assert!(sensor.covers_series("press", "force") && sensor.covers_series("press", "temp"));
        assert!(!sensor.covers_series("pump", "force") && !sensor.covers_asset("line"));
        let series = on(Some("press"), Some("force"), None);
        assert!(series.covers_series("press", "force") && !series.covers_series("press", "temp"));
        let asset = on(None, None, Some("line"));
        assert!(asset.covers_asset("line") && !asset.covers_asset("other"));
        assert!(!asset.covers_series("press", "force"));
        assert!(project.contains(10) && project.contains(19) && !project.contains(20));
    }
}
