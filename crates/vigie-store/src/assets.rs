//! Assets: sets of series of one project scored together by a health model. The
//! project's `default` asset holds every series that no named asset lists; it is
//! created the first time the project's assets are asked for. Health rows, asset
//! events and the model's progress are written with the readings that produced them.

use std::collections::HashMap;

use sqlx::{AnyConnection, AnyPool, FromRow};

use crate::bulk::{CHUNK, NullableDouble, bulk_query};
use crate::dialect::Dialect;
use crate::directory::bump_generation;
use crate::map_insert_error;
use crate::{
    AnomalyQuery, AssetDetection, AssetEvent, AssetLayout, AssetReading, Contribution,
    DEFAULT_ASSET, Error, HealthQuery, HealthRow, Millis, ProjectKey, Result, SensorDetail,
    StoredAssetEvent, StoredHealth,
};

/// A contributor as stored: `[sensorId, valueName, share]`, followed for an event's
/// peak by `observed, expected, normalLow, normalHigh`.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
enum StoredContributor {
    Detailed(
        String,
        String,
        f64,
        Option<f64>,
        f64,
        Option<f64>,
        Option<f64>,
    ),
    Share(String, String, f64),
}

/// Contributors as stored: a JSON array of [`StoredContributor`].
pub(crate) fn contributors_text(contributors: &[Contribution]) -> String {
    let entries: Vec<StoredContributor> = contributors
        .iter()
        .map(|c| {
            let (sensor, name) = (c.sensor_id.clone(), c.value_name.clone());
            match c.detail {
                Some(d) => StoredContributor::Detailed(
                    sensor,
                    name,
                    c.share,
                    d.observed,
                    d.expected,
                    d.normal_low,
                    d.normal_high,
                ),
                None => StoredContributor::Share(sensor, name, c.share),
            }
        })
        .collect();
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
}

/// The contributors of a stored text (nothing when it does not parse).
pub(crate) fn contributors_from_text(text: &str) -> Vec<Contribution> {
    serde_json::from_str::<Vec<StoredContributor>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|entry| match entry {
            StoredContributor::Share(sensor_id, value_name, share) => Contribution {
                sensor_id,
                value_name,
                share,
                detail: None,
            },
            StoredContributor::Detailed(
                sensor_id,
                value_name,
                share,
                observed,
                expected,
                normal_low,
                normal_high,
            ) => Contribution {
                sensor_id,
                value_name,
                share,
                detail: Some(SensorDetail {
                    observed,
                    expected,
                    normal_low,
                    normal_high,
                }),
            },
        })
        .collect()
}

#[derive(FromRow)]
struct AssetRow {
    id: i64,
    name: String,
    sampling_us: Option<i64>,
    state: Option<String>,
    state_until_us: Option<i64>,
    scored_until_us: Option<i64>,
    relearn_from_us: Option<i64>,
    fed_version: i64,
}

pub(crate) async fn asset_layouts(
    pool: &AnyPool,
    project: &ProjectKey,
    now: Millis,
) -> Result<Vec<AssetLayout>> {
    sqlx::query(
        "INSERT INTO assets (org_id, project_code, name, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, project_code, name) DO NOTHING",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(DEFAULT_ASSET)
    .bind(now)
    .execute(pool)
    .await
    .map_err(|e| map_insert_error(e, || "asset".into(), ("project", &project.code)))?;
    let rows: Vec<AssetRow> = sqlx::query_as(
        "SELECT id, name, sampling_us, state, state_until_us, scored_until_us, relearn_from_us,
           fed_version
         FROM assets WHERE org_id = $1 AND project_code = $2 ORDER BY name",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .fetch_all(pool)
    .await?;
    let mut members: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    #[derive(FromRow)]
    struct Member {
        asset_id: i64,
        sensor_id: String,
        value_name: String,
    }
    let listed: Vec<Member> = sqlx::query_as(
        "SELECT m.asset_id, m.sensor_id, m.value_name FROM asset_series m
         JOIN assets a ON a.id = m.asset_id
         WHERE a.org_id = $1 AND a.project_code = $2 ORDER BY m.asset_id, m.sensor_id, m.value_name",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .fetch_all(pool)
    .await?;
    for member in listed {
        members
            .entry(member.asset_id)
            .or_default()
            .push((member.sensor_id, member.value_name));
    }
    Ok(rows
        .into_iter()
        .map(|row| AssetLayout {
            members: if row.name == DEFAULT_ASSET {
                None
            } else {
                Some(members.remove(&row.id).unwrap_or_default())
            },
            id: row.id,
            name: row.name,
            sampling_us: row.sampling_us,
            state: row.state,
            state_until_us: row.state_until_us,
            scored_until_us: row.scored_until_us,
            relearn_from_us: row.relearn_from_us,
            fed_version: row.fed_version,
        })
        .collect())
}

pub(crate) async fn create_asset(
    pool: &AnyPool,
    dialect: Dialect,
    project: &ProjectKey,
    name: &str,
    members: &[(String, String)],
    sampling_us: Option<i64>,
    now: Millis,
) -> Result<()> {
    if name == DEFAULT_ASSET {
        return Err(Error::AlreadyExists(format!("asset {DEFAULT_ASSET:?}")));
    }
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO assets (org_id, project_code, name, sampling_us, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(name)
    .bind(sampling_us)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| map_insert_error(e, || format!("asset {name:?}"), ("project", &project.code)))?;
    for (sensor_id, value_name) in members {
        // A series belongs to one named asset at most.
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT a.name FROM asset_series m JOIN assets a ON a.id = m.asset_id
             WHERE a.org_id = $1 AND a.project_code = $2 AND m.sensor_id = $3 AND m.value_name = $4",
        )
        .bind(&project.org_id)
        .bind(&project.code)
        .bind(sensor_id)
        .bind(value_name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(other) = taken {
            return Err(Error::AlreadyExists(format!(
                "series {sensor_id}/{value_name} in asset {other:?}"
            )));
        }
        sqlx::query(
            "INSERT INTO asset_series (asset_id, sensor_id, value_name) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(sensor_id)
        .bind(value_name)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            map_insert_error(
                e,
                || format!("series {sensor_id}/{value_name} listed twice"),
                ("asset", name),
            )
        })?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn relearn_asset(
    pool: &AnyPool,
    dialect: Dialect,
    project: &ProjectKey,
    name: &str,
    from_us: i64,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    bump_generation(&mut tx).await?;
    let changed = sqlx::query(
        "UPDATE assets SET relearn_from_us = $1 WHERE org_id = $2 AND project_code = $3 AND name = $4",
    )
    .bind(from_us)
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound {
            kind: "asset",
            id: name.to_owned(),
        });
    }
    tx.commit().await?;
    Ok(())
}

/// Writes one batch's health rows, events and model progress.
pub(crate) async fn write(
    conn: &mut AnyConnection,
    dialect: Dialect,
    detections: &[AssetDetection],
) -> Result<()> {
    for detection in detections {
        for chunk in detection.rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO asset_health (asset_id, time_us, health, contributors) VALUES {}
                 ON CONFLICT (asset_id, time_us) DO UPDATE SET health = excluded.health,
                    contributors = excluded.contributors",
                dialect.values(chunk.len(), 4)
            );
            let mut query = bulk_query(&sql, chunk.len());
            for row in chunk {
                query = query
                    .bind(detection.asset_id)
                    .bind(row.time_us)
                    .bind(row.health)
                    .bind(contributors_text(&row.contributors));
            }
            query.execute(&mut *conn).await?;
        }
        for event in &detection.events {
            sqlx::query(
                "INSERT INTO asset_events (asset_id, start_us, end_us, peak_us, peak_score, contributors, kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (asset_id, start_us) DO UPDATE SET end_us = excluded.end_us,
                    peak_us = excluded.peak_us, peak_score = excluded.peak_score,
                    contributors = excluded.contributors, kind = excluded.kind",
            )
            .bind(detection.asset_id)
            .bind(event.start_us)
            .bind(event.end_us)
            .bind(event.peak_us)
            .bind(event.peak_score)
            .bind(contributors_text(&event.contributors))
            .bind(&event.kind)
            .execute(&mut *conn)
            .await?;
        }
        // Only where the store still holds the version the model started from (see
        // `ingest::detector_states_sql`): the row stays locked until the transaction
        // ends, so that two nodes cannot both feed the asset from the same version.
        let updated = sqlx::query(
            "UPDATE assets SET
               state = CASE WHEN $2 IS NOT NULL THEN $2 ELSE state END,
               state_until_us = CASE WHEN $2 IS NOT NULL THEN $3 ELSE state_until_us END,
               scored_until_us = CASE WHEN $3 IS NOT NULL THEN $3 ELSE scored_until_us END,
               relearn_from_us = CASE WHEN $4 THEN NULL ELSE relearn_from_us END,
               fed_version = fed_version + 1
             WHERE id = $1 AND fed_version = $5",
        )
        .bind(detection.asset_id)
        .bind(&detection.checkpoint)
        .bind(detection.scored_until_us)
        .bind(detection.relearned)
        .bind(detection.previous_version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::Stale(format!("asset {}", detection.asset_id)));
        }
    }
    Ok(())
}

#[derive(FromRow)]
struct HealthRowRecord {
    asset_id: i64,
    name: String,
    time_us: i64,
    health: f64,
    contributors: String,
}

pub(crate) async fn read_health(pool: &AnyPool, query: &HealthQuery) -> Result<Vec<StoredHealth>> {
    let (after_asset, after_time) = query.after.unzip();
    let rows: Vec<HealthRowRecord> = sqlx::query_as(
        "SELECT h.asset_id, a.name, h.time_us, h.health, h.contributors
         FROM asset_health h JOIN assets a ON a.id = h.asset_id
         WHERE a.org_id = $1 AND a.project_code = $2
           AND ($3 IS NULL OR a.name = $3)
           AND ($4 IS NULL OR h.time_us >= $4)
           AND ($5 IS NULL OR h.time_us < $5)
           AND ($6 IS NULL OR h.asset_id > $6 OR (h.asset_id = $6 AND h.time_us > $7))
         ORDER BY h.asset_id, h.time_us
         LIMIT $8",
    )
    .bind(&query.project.org_id)
    .bind(&query.project.code)
    .bind(&query.asset)
    .bind(query.from_us)
    .bind(query.to_us)
    .bind(after_asset)
    .bind(after_time)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredHealth {
            asset_id: row.asset_id,
            asset: row.name,
            row: HealthRow {
                time_us: row.time_us,
                health: row.health,
                contributors: contributors_from_text(&row.contributors),
            },
        })
        .collect())
}

#[derive(FromRow)]
struct AssetEventRecord {
    asset_id: i64,
    name: String,
    start_us: i64,
    end_us: i64,
    peak_us: i64,
    peak_score: f64,
    contributors: String,
    kind: String,
}

pub(crate) async fn list_asset_events(
    pool: &AnyPool,
    query: &AnomalyQuery,
) -> Result<Vec<StoredAssetEvent>> {
    let (after_start, after_asset) = query.after.unzip();
    let rows: Vec<AssetEventRecord> = sqlx::query_as(
        "SELECT e.asset_id, a.name, e.start_us, e.end_us, e.peak_us, e.peak_score, e.contributors, e.kind
         FROM asset_events e JOIN assets a ON a.id = e.asset_id
         WHERE a.org_id = $1 AND a.project_code = $2
           AND ($3 IS NULL OR e.end_us >= $3)
           AND ($4 IS NULL OR e.start_us < $4)
           AND ($5 IS NULL OR e.peak_score >= $5)
           AND ($6 IS NULL OR e.start_us > $6 OR (e.start_us = $6 AND e.asset_id > $7))
         ORDER BY e.start_us, e.asset_id
         LIMIT $8",
    )
    .bind(&query.project.org_id)
    .bind(&query.project.code)
    .bind(query.from_us)
    .bind(query.to_us)
    .bind(NullableDouble(query.min_score))
    .bind(after_start)
    .bind(after_asset)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredAssetEvent {
            asset_id: row.asset_id,
            asset: row.name,
            event: AssetEvent {
                start_us: row.start_us,
                end_us: row.end_us,
                peak_us: row.peak_us,
                peak_score: row.peak_score,
                contributors: contributors_from_text(&row.contributors),
                kind: row.kind,
            },
        })
        .collect())
}

#[derive(FromRow)]
struct AssetReadingRecord {
    sensor_id: String,
    value_name: String,
    time_us: i64,
    value: f64,
    asset_feed: Option<i64>,
}

/// The readings of an asset's series after `after_us`, feed by feed in the order the
/// model took them, each feed in time order (at most `limit`; readings of no feed
/// first, in time order): what a model replays after its checkpoint. `members` `None` is the default
/// asset: every series of the project that no named asset lists.
pub(crate) async fn asset_readings(
    pool: &AnyPool,
    project: &ProjectKey,
    asset_id: i64,
    default: bool,
    after_us: Option<i64>,
    limit: u32,
) -> Result<Vec<AssetReading>> {
    let membership = if default {
        "NOT EXISTS (SELECT 1 FROM asset_series m JOIN assets a ON a.id = m.asset_id
           WHERE a.org_id = s.org_id AND a.project_code = s.project_code
             AND m.sensor_id = s.sensor_id AND m.value_name = s.value_name)
         AND $3 = $3"
    } else {
        "EXISTS (SELECT 1 FROM asset_series m WHERE m.asset_id = $3
           AND m.sensor_id = s.sensor_id AND m.value_name = s.value_name)"
    };
    let sql = format!(
        "SELECT s.sensor_id, s.value_name, r.time_us, r.value, r.asset_feed
         FROM series s JOIN readings r ON r.series_id = s.id
         WHERE s.org_id = $1 AND s.project_code = $2 AND {membership}
           AND ($4 IS NULL OR r.time_us > $4)
         ORDER BY COALESCE(r.asset_feed, 0), r.time_us, s.sensor_id, s.value_name
         LIMIT $5"
    );
    let rows: Vec<AssetReadingRecord> = sqlx::query_as(&sql)
        .bind(&project.org_id)
        .bind(&project.code)
        .bind(asset_id)
        .bind(after_us)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AssetReading {
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            time_us: row.time_us,
            value: row.value,
            feed: row.asset_feed,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributors_survive_odd_sensor_ids() {
        let contributors = vec![
            Contribution {
                sensor_id: "line/2;pump=a".into(),
                value_name: "x".into(),
                share: 0.625,
                detail: Some(SensorDetail {
                    observed: None,
                    expected: -1.5,
                    normal_low: Some(-2.0),
                    normal_high: None,
                }),
            },
            Contribution {
                sensor_id: "b".into(),
                value_name: "none".into(),
                share: 0.375,
                detail: None,
            },
        ];
        let text = contributors_text(&contributors);
        assert_eq!(contributors_from_text(&text), contributors);
        assert_eq!(contributors_from_text(""), []);
    }
}
