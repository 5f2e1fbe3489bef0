//! Reads: pages of readings, anomaly events and series, and what a detector needs to
//! resume (its progress, the scored readings after its checkpoint).

use std::collections::HashMap;

use sqlx::{AnyPool, FromRow, Row};

use crate::bulk::{CHUNK, bulk_query};
use crate::dialect::Dialect;
use crate::ingest::{label_pattern, labels_from_stored};
use crate::{
    AnomalyEvent, AnomalyQuery, EventExplanation, EvictedCheckpoint, ProjectKey, ProjectSpan,
    ReadingQuery, Result, ScoredPoint, SeriesQuery, SeriesSummary, StoredAnomaly, StoredDetection,
    StoredReading,
};

/// A reading as the page query returns it.
#[derive(FromRow)]
struct ReadingRow {
    id: i64,
    sensor_id: String,
    value_name: String,
    time_us: i64,
    value: f64,
    precision: Option<f64>,
    labels: Option<String>,
    score: Option<f64>,
}

pub(crate) async fn read_readings(
    pool: &AnyPool,
    dialect: Dialect,
    query: &ReadingQuery,
) -> Result<Vec<StoredReading>> {
    let (after_series, after_time) = query.after.unzip();
    let sql = format!(
        "SELECT s.id, s.sensor_id, s.value_name, r.time_us, r.value, r.precision, r.labels, r.score
         FROM series s JOIN readings r ON r.series_id = s.id
         WHERE s.org_id = $1 AND s.project_code = $2
           AND ($3 IS NULL OR s.sensor_id = $3)
           AND ($4 IS NULL OR s.value_name = $4)
           AND ($5 IS NULL OR r.time_us >= $5)
           AND ($6 IS NULL OR r.time_us < $6)
           AND ($7 IS NULL OR r.series_id > $7 OR (r.series_id = $7 AND r.time_us > $8))
           AND ($10 IS NULL OR {}(r.labels, $10) > 0)
         ORDER BY r.series_id, r.time_us
         LIMIT $9",
        dialect.position_function()
    );
    let rows: Vec<ReadingRow> = sqlx::query_as(&sql)
        .bind(&query.project.org_id)
        .bind(&query.project.code)
        .bind(&query.sensor_id)
        .bind(&query.value_name)
        .bind(query.from_us)
        .bind(query.to_us)
        .bind(after_series)
        .bind(after_time)
        .bind(i64::from(query.limit))
        .bind(query.label.as_deref().map(label_pattern))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredReading {
            series_id: row.id,
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            time_us: row.time_us,
            value: row.value,
            precision: row.precision,
            labels: labels_from_stored(row.labels),
            score: row.score,
        })
        .collect())
}

/// An anomaly event as the page query returns it.
#[derive(FromRow)]
struct AnomalyRow {
    id: i64,
    sensor_id: String,
    value_name: String,
    start_us: i64,
    end_us: i64,
    peak_us: i64,
    peak_score: f64,
    kind: Option<String>,
    expected_low: Option<f64>,
    expected_high: Option<f64>,
    observed: Option<f64>,
}

pub(crate) async fn list_anomalies(
    pool: &AnyPool,
    query: &AnomalyQuery,
) -> Result<Vec<StoredAnomaly>> {
    let (after_start, after_series) = query.after.unzip();
    let rows: Vec<AnomalyRow> = sqlx::query_as(
        "SELECT s.id, s.sensor_id, s.value_name, a.start_us, a.end_us, a.peak_us, a.peak_score,
                a.kind, a.expected_low, a.expected_high, a.observed
         FROM anomalies a JOIN series s ON s.id = a.series_id
         WHERE s.org_id = $1 AND s.project_code = $2
           AND ($3 IS NULL OR s.sensor_id = $3)
           AND ($4 IS NULL OR s.value_name = $4)
           AND ($5 IS NULL OR a.end_us >= $5)
           AND ($6 IS NULL OR a.start_us < $6)
           AND ($7 IS NULL OR a.peak_score >= $7)
           AND ($8 IS NULL OR a.start_us > $8 OR (a.start_us = $8 AND a.series_id > $9))
         ORDER BY a.start_us, a.series_id
         LIMIT $10",
    )
    .bind(&query.project.org_id)
    .bind(&query.project.code)
    .bind(&query.sensor_id)
    .bind(&query.value_name)
    .bind(query.from_us)
    .bind(query.to_us)
    .bind(crate::bulk::NullableDouble(query.min_score))
    .bind(after_start)
    .bind(after_series)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredAnomaly {
            series_id: row.id,
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            event: AnomalyEvent {
                start_us: row.start_us,
                end_us: row.end_us,
                peak_us: row.peak_us,
                peak_score: row.peak_score,
                explanation: match (row.kind, row.expected_low, row.expected_high, row.observed) {
                    (Some(kind), Some(expected_low), Some(expected_high), Some(observed)) => {
                        Some(EventExplanation {
                            kind,
                            expected_low,
                            expected_high,
                            observed,
                        })
                    }
                    _ => None,
                },
            },
        })
        .collect())
}

/// A series as the listing returns it.
#[derive(FromRow)]
struct SeriesRow {
    id: i64,
    sensor_id: String,
    value_name: String,
    reading_count: i64,
    first_time_us: Option<i64>,
    last_time_us: Option<i64>,
}

pub(crate) async fn list_series(
    pool: &AnyPool,
    dialect: Dialect,
    query: &SeriesQuery,
) -> Result<Vec<SeriesSummary>> {
    let (after_sensor, after_name) = query.after.clone().unzip();
    let rows: Vec<SeriesRow> = sqlx::query_as(
        "SELECT id, sensor_id, value_name, reading_count, first_time_us, last_time_us FROM series
         WHERE org_id = $1 AND project_code = $2
           AND ($3 IS NULL OR sensor_id > $3 OR (sensor_id = $3 AND value_name > $4))
         ORDER BY sensor_id, value_name
         LIMIT $5",
    )
    .bind(&query.project.org_id)
    .bind(&query.project.code)
    .bind(after_sensor)
    .bind(after_name)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT l.series_id, l.label FROM (VALUES {}) AS v JOIN series_labels l ON l.series_id = v.column1
             ORDER BY l.series_id, l.label",
            dialect.values(chunk.len(), 1)
        );
        let mut labels_query = bulk_query(&sql, chunk.len());
        for id in chunk {
            labels_query = labels_query.bind(id);
        }
        for row in labels_query.fetch_all(pool).await? {
            labels
                .entry(row.try_get("series_id")?)
                .or_default()
                .push(row.try_get("label")?);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| SeriesSummary {
            labels: labels.remove(&row.id).unwrap_or_default(),
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            count: row.reading_count,
            first_time_us: row.first_time_us,
            last_time_us: row.last_time_us,
        })
        .collect())
}

/// A series' detection progress as stored, with its position in the request.
#[derive(FromRow)]
struct DetectionRow {
    position: i64,
    detector_state: Option<String>,
    checkpoint_until_us: Option<i64>,
    scored_until_us: Option<i64>,
}

pub(crate) async fn series_detections(
    pool: &AnyPool,
    dialect: Dialect,
    project: &ProjectKey,
    series: &[(&str, &str)],
) -> Result<Vec<StoredDetection>> {
    let mut found = vec![StoredDetection::default(); series.len()];
    let positions: Vec<usize> = (0..series.len()).collect();
    for chunk in positions.chunks(CHUNK) {
        let sql = format!(
            "SELECT v.column5 AS position, s.detector_state, s.checkpoint_until_us, s.scored_until_us
             FROM (VALUES {}) AS v
             JOIN series s ON s.org_id = v.column1 AND s.project_code = v.column2
               AND s.sensor_id = v.column3 AND s.value_name = v.column4",
            dialect.values(chunk.len(), 5)
        );
        let mut query = sqlx::query_as::<_, DetectionRow>(&sql).persistent(chunk.len() == CHUNK);
        for &position in chunk {
            let (sensor_id, value_name) = series[position];
            query = query
                .bind(&project.org_id)
                .bind(&project.code)
                .bind(sensor_id)
                .bind(value_name)
                .bind(position as i64);
        }
        for row in query.fetch_all(pool).await? {
            if let Some(slot) = usize::try_from(row.position)
                .ok()
                .and_then(|p| found.get_mut(p))
            {
                *slot = StoredDetection {
                    checkpoint: row.detector_state,
                    checkpoint_until_us: row.checkpoint_until_us,
                    scored_until_us: row.scored_until_us,
                };
            }
        }
    }
    Ok(found)
}

pub(crate) async fn save_checkpoints(
    pool: &AnyPool,
    dialect: Dialect,
    checkpoints: &[EvictedCheckpoint],
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    for checkpoint in checkpoints {
        sqlx::query(
            "UPDATE series SET detector_state = $1, checkpoint_until_us = $2
             WHERE org_id = $3 AND project_code = $4 AND sensor_id = $5 AND value_name = $6
               AND scored_until_us >= $2
               AND (checkpoint_until_us IS NULL OR checkpoint_until_us < $2)",
        )
        .bind(&checkpoint.state)
        .bind(checkpoint.scored_until_us)
        .bind(&checkpoint.project.org_id)
        .bind(&checkpoint.project.code)
        .bind(&checkpoint.sensor_id)
        .bind(&checkpoint.value_name)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A scored reading as replay needs it.
#[derive(FromRow)]
struct PointRow {
    time_us: i64,
    value: f64,
    score: f64,
}

pub(crate) async fn scored_readings(
    pool: &AnyPool,
    project: &ProjectKey,
    sensor_id: &str,
    value_name: &str,
    after_us: Option<i64>,
    limit: u32,
) -> Result<Vec<ScoredPoint>> {
    let rows: Vec<PointRow> = sqlx::query_as(
        "SELECT r.time_us, r.value, r.score FROM readings r JOIN series s ON s.id = r.series_id
         WHERE s.org_id = $1 AND s.project_code = $2 AND s.sensor_id = $3 AND s.value_name = $4
           AND r.score IS NOT NULL AND ($5 IS NULL OR r.time_us > $5)
         ORDER BY r.time_us DESC
         LIMIT $6",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .bind(sensor_id)
    .bind(value_name)
    .bind(after_us)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|row| ScoredPoint {
            time_us: row.time_us,
            value: row.value,
            score: row.score,
        })
        .collect())
}

/// A project's series count and the span of its readings.
#[derive(FromRow)]
struct SpanRow {
    series: i64,
    first_us: Option<i64>,
    last_us: Option<i64>,
}

pub(crate) async fn project_span(pool: &AnyPool, project: &ProjectKey) -> Result<ProjectSpan> {
    let row: SpanRow = sqlx::query_as(
        "SELECT COUNT(*) AS series, MIN(first_time_us) AS first_us, MAX(last_time_us) AS last_us
         FROM series WHERE org_id = $1 AND project_code = $2",
    )
    .bind(&project.org_id)
    .bind(&project.code)
    .fetch_one(pool)
    .await?;
    Ok(ProjectSpan {
        series: row.series,
        readings: row.first_us.zip(row.last_us),
    })
}
