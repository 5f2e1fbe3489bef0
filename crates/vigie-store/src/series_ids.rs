//! The ids of the series a write touches: kept by the writer between transactions,
//! looked up or created in bulk for the ones it has not seen.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::bulk::{CHUNK, bulk_query};
use crate::dialect::Dialect;
use crate::{Error, ProjectKey, Result, map_insert_error};

/// Series ids the writer keeps (about 200 bytes each); past it the cache starts afresh.
const SERIES_CACHE: usize = 20_000;

/// Ids of series the writer has seen.
pub(crate) type SeriesCache = HashMap<(ProjectKey, String, String), i64>;

/// One series of a write: its project, sensor and variable.
pub(crate) type SeriesName<'a> = (&'a ProjectKey, &'a str, &'a str);

/// The ids of a write's series, creating the new ones: from the cache, then with one
/// lookup and one insert per thousand series missing from it.
pub(crate) async fn series_ids(
    conn: &mut AnyConnection,
    dialect: Dialect,
    cache: &mut SeriesCache,
    series: &[SeriesName<'_>],
) -> Result<Vec<i64>> {
    let key = |&(project, sensor_id, value_name): &SeriesName<'_>| {
        (project.clone(), sensor_id.to_owned(), value_name.to_owned())
    };
    let mut ids: Vec<Option<i64>> = series.iter().map(|s| cache.get(&key(s)).copied()).collect();
    let missing: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].is_none()).collect();
    if missing.is_empty() {
        return Ok(ids.into_iter().flatten().collect());
    }
    if cache.len() + missing.len() > SERIES_CACHE {
        cache.clear();
    }
    let index_of: HashMap<(&str, &str, &str, &str), usize> = missing
        .iter()
        .map(|&i| {
            let (project, sensor_id, value_name) = series[i];
            (
                (
                    project.org_id.as_str(),
                    project.code.as_str(),
                    sensor_id,
                    value_name,
                ),
                i,
            )
        })
        .collect();
    // Existing series, then the new ones; a series another server created meanwhile (a
    // conflict, so not returned by the insert) is looked up once more.
    for create in [false, true, false] {
        let wanted: Vec<usize> = missing
            .iter()
            .copied()
            .filter(|&i| ids[i].is_none())
            .collect();
        for chunk in wanted.chunks(CHUNK) {
            let values = dialect.values(chunk.len(), 4);
            let sql = if create {
                format!(
                    "INSERT INTO series (org_id, project_code, sensor_id, value_name) VALUES {values}
                     ON CONFLICT (org_id, project_code, sensor_id, value_name) DO NOTHING
                     RETURNING id, org_id, project_code, sensor_id, value_name"
                )
            } else {
                format!(
                    "SELECT s.id, s.org_id, s.project_code, s.sensor_id, s.value_name FROM (VALUES {values}) AS v
                     JOIN series s ON s.org_id = v.column1 AND s.project_code = v.column2
                       AND s.sensor_id = v.column3 AND s.value_name = v.column4"
                )
            };
            let mut query = bulk_query(&sql, chunk.len());
            for &i in chunk {
                let (project, sensor_id, value_name) = series[i];
                query = query
                    .bind(&project.org_id)
                    .bind(&project.code)
                    .bind(sensor_id)
                    .bind(value_name);
            }
            let rows = query.fetch_all(&mut *conn).await.map_err(|e| {
                map_insert_error(e, || "series".into(), ("project", &series[chunk[0]].0.code))
            })?;
            for row in rows {
                let org_id: String = row.try_get("org_id")?;
                let code: String = row.try_get("project_code")?;
                let sensor_id: String = row.try_get("sensor_id")?;
                let value_name: String = row.try_get("value_name")?;
                let found = (
                    org_id.as_str(),
                    code.as_str(),
                    sensor_id.as_str(),
                    value_name.as_str(),
                );
                if let Some(&i) = index_of.get(&found) {
                    let id: i64 = row.try_get("id")?;
                    ids[i] = Some(id);
                    cache.insert(key(&series[i]), id);
                }
            }
        }
    }
    ids.into_iter()
        .map(|id| id.ok_or(Error::Database(sqlx::Error::RowNotFound)))
        .collect()
}
