//! One SQL text for both backends. The statements use `$n` placeholders, which SQLite
//! and PostgreSQL both accept, and `sql_store!` instantiates the same implementation
//! for each driver, so the two backends cannot drift apart. The one function the two
//! spell differently (the position of a text in another: `instr`, `strpos`) is a
//! parameter of the macro.
//!
//! Token-path writes (new refresh-token families, rotations) go through a group-commit
//! writer task: every job waiting when a batch starts is applied in one transaction and
//! acknowledged after one durable commit. A batch that fails is retried job by job so
//! one bad job cannot fail its neighbours.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::*;

/// Jobs waiting beyond this many are left for the next batch.
const MAX_BATCH: usize = 1024;
/// How many token-path writes may wait for the writer before callers wait to enqueue.
const WRITE_QUEUE: usize = 8192;

/// Readings are upserted this many rows per statement (4 parameters each, within both
/// databases' parameter limits).
const UPSERT_CHUNK: usize = 1000;

enum WriteJob {
    CreateFamily(NewRefreshFamily, oneshot::Sender<Result<bool>>),
    Rotate(RefreshRotation, oneshot::Sender<Result<RotationOutcome>>),
    Ingest(Box<IngestJob>, oneshot::Sender<Result<IngestSummary>>),
}

enum JobOutput {
    Created(bool),
    Rotated(RotationOutcome),
    Ingested(IngestSummary),
}

/// One reading to write: its series (index into the job's series), time, value,
/// precision, labels (index into the job's label sets) and score.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WriteRow {
    series: usize,
    time: i64,
    value: f64,
    precision: Option<f64>,
    labels: Option<usize>,
    score: Option<f64>,
}

/// A set of labels as stored: `,a,b,`, so that a whole label is matched by `,label,`.
fn stored_labels(labels: &[String]) -> String {
    let mut text = String::with_capacity(labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1);
    text.push(',');
    for label in labels {
        text.push_str(label);
        text.push(',');
    }
    text
}

/// The labels of a stored `,a,b,` text.
fn labels_from_stored(text: Option<String>) -> Vec<String> {
    text.map(|text| {
        text.split(',')
            .filter(|label| !label.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Readings of one request, grouped by series, sorted by time, one row per key, with
/// the detection results to store alongside.
struct IngestJob {
    project: ProjectKey,
    /// (sensorId, valueName) of each series of the request.
    series: Vec<(String, String)>,
    /// Sorted by (series, time), unique per (series, time).
    rows: Vec<WriteRow>,
    /// The distinct label sets of the request, as stored.
    label_sets: Vec<String>,
    /// What the readings superseded within the request itself amount to.
    superseded: IngestSummary,
    /// Detection results, with the index of their series.
    detection: Vec<(usize, SeriesDetection)>,
}

impl IngestJob {
    /// Groups readings by series and keeps, for each key, the last reading of the
    /// request; a later reading of a key counts as unchanged or replaced relative to the
    /// one before it, as if the readings had been stored one by one.
    fn new(project: ProjectKey, batch: IngestBatch) -> Self {
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut series = Vec::new();
        let mut rows = Vec::with_capacity(batch.readings.len());
        let mut label_index: HashMap<String, usize> = HashMap::new();
        let mut label_sets = Vec::new();
        let mut series_of = |sensor_id: String, value_name: String| {
            let next = series.len();
            *index
                .entry((sensor_id, value_name))
                .or_insert_with_key(|key| {
                    series.push(key.clone());
                    next
                })
        };
        for ScoredReading { reading, score } in batch.readings {
            let at = series_of(reading.sensor_id, reading.value_name);
            let labels = (!reading.labels.is_empty()).then(|| {
                let next = label_sets.len();
                *label_index
                    .entry(stored_labels(&reading.labels))
                    .or_insert_with_key(|text| {
                        label_sets.push(text.clone());
                        next
                    })
            });
            rows.push(WriteRow {
                series: at,
                time: reading.time_us,
                value: reading.value,
                precision: reading.precision.map(f64::from),
                labels,
                score,
            });
        }
        let detection = batch
            .detection
            .into_iter()
            .map(|d| (series_of(d.sensor_id.clone(), d.value_name.clone()), d))
            .collect();
        // Stable: equal keys keep request order, so the last of each run wins, and each
        // earlier reading of a run is compared with the one before it.
        rows.sort_by_key(|row| (row.series, row.time));
        let mut superseded = IngestSummary::default();
        let mut unique: Vec<WriteRow> = Vec::with_capacity(rows.len());
        for row in rows {
            match unique.last_mut() {
                Some(previous) if (previous.series, previous.time) == (row.series, row.time) => {
                    if (previous.value, previous.precision, previous.labels)
                        == (row.value, row.precision, row.labels)
                    {
                        superseded.unchanged += 1;
                    } else {
                        superseded.replaced += 1;
                    }
                    *previous = row;
                }
                _ => unique.push(row),
            }
        }
        Self {
            project,
            series,
            rows: unique,
            label_sets,
            superseded,
            detection,
        }
    }
}

/// Cache of series ids, owned by the writer task.
type SeriesCache = HashMap<(ProjectKey, String, String), i64>;

/// Series ids cached at most (about 200 bytes each); past it the cache starts afresh.
const SERIES_CACHE: usize = 20_000;

/// How a dialect's bulk statements number their parameters. PostgreSQL needs `$n`;
/// SQLite takes `?`, which sqlx binds by position, where each `$n` costs it a lookup by
/// name that grows with the number of parameters (it dominated bulk inserts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    Numbered,
    Anonymous,
}

/// `(…), (…)`: `rows` groups of `columns` placeholders.
fn values_placeholders(style: Placeholders, rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        text.push_str(if row == 0 { "(" } else { ",(" });
        for column in 1..=columns {
            if column > 1 {
                text.push(',');
            }
            match style {
                Placeholders::Numbered => text.push_str(&format!("${}", row * columns + column)),
                Placeholders::Anonymous => text.push('?'),
            }
        }
        text.push(')');
    }
    text
}

/// Inserts the rows whose key is new; the others are left for [`update_sql`]. With
/// `returning`, the series of each inserted row is returned (for chunks that mix series).
fn insert_sql(style: Placeholders, rows: usize, returning: bool) -> String {
    format!(
        "INSERT INTO readings (series_id, time_us, value, precision, labels, score) VALUES {} \
         ON CONFLICT (series_id, time_us) DO NOTHING{}",
        values_placeholders(style, rows, 6),
        if returning {
            " RETURNING series_id"
        } else {
            ""
        }
    )
}

/// Replaces the stored value, precision or labels of the rows whose key existed with
/// another one.
fn update_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "UPDATE readings SET value = v.column3, precision = v.column4, labels = v.column5, \
           revision = readings.revision + 1 \
         FROM (VALUES {}) AS v \
         WHERE readings.series_id = v.column1 AND readings.time_us = v.column2 \
           AND (readings.value IS DISTINCT FROM v.column3 OR readings.precision IS DISTINCT FROM v.column4 \
             OR readings.labels IS DISTINCT FROM v.column5)",
        values_placeholders(style, rows, 5)
    )
}

/// Remembers the labels a series' readings carried (one row per series and label).
fn series_labels_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "INSERT INTO series_labels (series_id, label) VALUES {} ON CONFLICT (series_id, label) DO NOTHING",
        values_placeholders(style, rows, 2)
    )
}

/// Adds to each series' count and widens its date range (one row per series).
fn series_stats_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "UPDATE series SET reading_count = reading_count + v.column2, \
           first_time_us = CASE WHEN first_time_us IS NULL OR v.column3 < first_time_us THEN v.column3 ELSE first_time_us END, \
           last_time_us = CASE WHEN last_time_us IS NULL OR v.column4 > last_time_us THEN v.column4 ELSE last_time_us END \
         FROM (VALUES {}) AS v WHERE series.id = v.column1",
        values_placeholders(style, rows, 4)
    )
}

/// Stores each series' detection progress and, when given, its detector checkpoint
/// (one row per series). Progress never moves backwards: a stale writer (a detector
/// that did not see the latest readings) changes nothing.
fn detector_states_sql(style: Placeholders, rows: usize) -> String {
    const CURRENT: &str = "(scored_until_us IS NULL OR v.column3 >= scored_until_us)";
    format!(
        "UPDATE series SET \
           detector_state = CASE WHEN v.column2 IS NOT NULL AND {CURRENT} THEN v.column2 ELSE detector_state END, \
           checkpoint_until_us = CASE WHEN v.column2 IS NOT NULL AND {CURRENT} THEN v.column3 ELSE checkpoint_until_us END, \
           scored_until_us = CASE WHEN {CURRENT} THEN v.column3 ELSE scored_until_us END \
         FROM (VALUES {}) AS v WHERE series.id = v.column1",
        values_placeholders(style, rows, 3)
    )
}

/// Creates or extends anomaly events, keyed by series and start.
fn events_sql(style: Placeholders, rows: usize) -> String {
    format!(
        "INSERT INTO anomalies (series_id, start_us, end_us, peak_us, peak_score) VALUES {} \
         ON CONFLICT (series_id, start_us) DO UPDATE SET end_us = excluded.end_us, \
            peak_us = excluded.peak_us, peak_score = excluded.peak_score",
        values_placeholders(style, rows, 5)
    )
}

/// Series with at least this many rows in a request get chunks of their own (written
/// without `RETURNING`); smaller ones share mixed chunks.
const OWN_CHUNK_ROWS: usize = 64;

/// Splits sorted rows into chunks of at most [`UPSERT_CHUNK`] rows; a chunk holds one
/// series, or several small ones.
fn chunk_rows(rows: &[WriteRow]) -> Vec<&[WriteRow]> {
    let mut chunks = Vec::new();
    let mut mixed_start: Option<usize> = None;
    let mut start = 0;
    while start < rows.len() {
        let series = rows[start].series;
        let end = start
            + rows[start..]
                .iter()
                .take_while(|row| row.series == series)
                .count();
        if end - start >= OWN_CHUNK_ROWS {
            if let Some(mixed) = mixed_start.take() {
                chunks.extend(rows[mixed..start].chunks(UPSERT_CHUNK));
            }
            chunks.extend(rows[start..end].chunks(UPSERT_CHUNK));
        } else {
            let mixed = *mixed_start.get_or_insert(start);
            if end - mixed > UPSERT_CHUNK {
                chunks.push(&rows[mixed..start]);
                mixed_start = Some(start);
            }
        }
        start = end;
    }
    if let Some(mixed) = mixed_start {
        chunks.extend(rows[mixed..].chunks(UPSERT_CHUNK));
    }
    chunks
}

impl WriteJob {
    fn deliver(self, output: Result<JobOutput>) {
        // A caller that gave up (client disconnected) no longer listens; that is fine.
        match (self, output) {
            (Self::CreateFamily(_, reply), Ok(JobOutput::Created(created))) => {
                let _ = reply.send(Ok(created));
            }
            (Self::Rotate(_, reply), Ok(JobOutput::Rotated(outcome))) => {
                let _ = reply.send(Ok(outcome));
            }
            (Self::CreateFamily(_, reply), Err(error)) => {
                let _ = reply.send(Err(error));
            }
            (Self::Rotate(_, reply), Err(error)) => {
                let _ = reply.send(Err(error));
            }
            (Self::Ingest(_, reply), Ok(JobOutput::Ingested(summary))) => {
                let _ = reply.send(Ok(summary));
            }
            (Self::Ingest(_, reply), Err(error)) => {
                let _ = reply.send(Err(error));
            }
            (_, Ok(_)) => unreachable!("a job's output always matches its kind"),
        }
    }
}

/// Whether every scope token of `requested` is in `granted` (both space separated).
pub fn scope_within(requested: &str, granted: &str) -> bool {
    requested
        .split(' ')
        .filter(|s| !s.is_empty())
        .all(|wanted| granted.split(' ').any(|have| have == wanted))
}

fn map_insert_error(
    error: sqlx::Error,
    what: impl FnOnce() -> String,
    parent: (&'static str, &str),
) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::AlreadyExists(what()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound {
            kind: parent.0,
            id: parent.1.to_owned(),
        },
        _ => Error::Database(error),
    }
}

const BUMP_GENERATION: &str = "UPDATE state_generation SET value = value + 1 WHERE id = 1";

macro_rules! sql_store {
    ($store:ident, $db:ty, $begin:expr, $backend:expr, $placeholders:expr, $find_in_text:literal) => {
        /// How this dialect's bulk statements number their parameters.
        const PLACEHOLDERS: Placeholders = $placeholders;

        /// The bulk statements of full chunks, built once.
        static FULL_CHUNK: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
            [
                insert_sql(PLACEHOLDERS, UPSERT_CHUNK, false),
                insert_sql(PLACEHOLDERS, UPSERT_CHUNK, true),
                update_sql(PLACEHOLDERS, UPSERT_CHUNK),
            ]
        });

        /// The statement for a chunk: the prepared full-chunk text, or one built for its size.
        fn chunk_sql(rows: usize, full: usize, build: impl FnOnce() -> String) -> std::borrow::Cow<'static, str> {
            if rows == UPSERT_CHUNK {
                std::borrow::Cow::Borrowed(FULL_CHUNK[full].as_str())
            } else {
                std::borrow::Cow::Owned(build())
            }
        }

        /// A multi-row statement of `rows` rows. Only full chunks' statements are kept
        /// prepared: each other row count is another statement text, and a prepared
        /// statement of a thousand rows takes hundreds of kilobytes in each connection's
        /// statement cache.
        fn bulk_query(sql: &str, rows: usize) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            sqlx::query(sql).persistent(rows == UPSERT_CHUNK)
        }

        /// Storage on this backend; cheap to clone.
        #[derive(Clone)]
        pub struct $store {
            pool: sqlx::Pool<$db>,
            writer: mpsc::Sender<WriteJob>,
        }

        type Conn = <$db as sqlx::Database>::Connection;

        impl $store {
            fn from_pool(pool: sqlx::Pool<$db>) -> Self {
                let (writer, jobs) = mpsc::channel(WRITE_QUEUE);
                tokio::spawn(run_writer(pool.clone(), jobs));
                Self { pool, writer }
            }

            async fn submit<T>(
                &self,
                job: impl FnOnce(oneshot::Sender<Result<T>>) -> WriteJob,
            ) -> Result<T> {
                let (reply, answer) = oneshot::channel();
                self.writer.send(job(reply)).await.map_err(|_| Error::WriterStopped)?;
                answer.await.map_err(|_| Error::WriterStopped)?
            }
        }

        async fn run_writer(pool: sqlx::Pool<$db>, mut jobs: mpsc::Receiver<WriteJob>) {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            let mut series = SeriesCache::new();
            while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
                match apply_batch(&pool, &batch, &mut series).await {
                    Ok(outputs) => {
                        for (job, output) in batch.drain(..).zip(outputs) {
                            job.deliver(Ok(output));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, jobs = batch.len(), "batched write failed; retrying jobs one by one");
                        // Ids of series created in the rolled-back transaction are gone.
                        series.clear();
                        for job in batch.drain(..) {
                            let output = apply_batch(&pool, std::slice::from_ref(&job), &mut series)
                                .await
                                .map(|mut outputs| outputs.remove(0));
                            if output.is_err() {
                                series.clear();
                            }
                            job.deliver(output);
                        }
                    }
                }
            }
        }

        async fn apply_batch(pool: &sqlx::Pool<$db>, batch: &[WriteJob], series: &mut SeriesCache) -> Result<Vec<JobOutput>> {
            let mut tx = pool.begin_with($begin).await?;
            // New families first, all at once: none of the batch's rotations can refer to
            // them, since their tokens have not been handed out yet.
            let families: Vec<&NewRefreshFamily> = batch
                .iter()
                .filter_map(|job| match job {
                    WriteJob::CreateFamily(family, _) => Some(family),
                    _ => None,
                })
                .collect();
            let created = create_families(&mut tx, &families).await?;
            let mut outputs = Vec::with_capacity(batch.len());
            for job in batch {
                outputs.push(match job {
                    WriteJob::CreateFamily(family, _) => JobOutput::Created(created.contains(&family.family_id)),
                    WriteJob::Rotate(rotation, _) => JobOutput::Rotated(rotate(&mut tx, rotation).await?),
                    WriteJob::Ingest(job, _) => JobOutput::Ingested(ingest(&mut tx, series, job).await?),
                });
            }
            tx.commit().await?;
            Ok(outputs)
        }

        /// Starts the families of enabled applications, two statements per 500 families;
        /// returns the ids of the families started.
        async fn create_families(conn: &mut Conn, families: &[&NewRefreshFamily]) -> Result<std::collections::HashSet<String>> {
            let mut created = std::collections::HashSet::with_capacity(families.len());
            for chunk in families.chunks(500) {
                let sql = format!(
                    "INSERT INTO refresh_families (id, app_id, scope, generation, rotated_at, created_at)
                     SELECT v.column1, v.column2, v.column3, 0, v.column4, v.column4
                     FROM (VALUES {}) AS v JOIN applications a ON a.id = v.column2
                     WHERE a.disabled_at IS NULL
                     RETURNING id",
                    values_placeholders(PLACEHOLDERS, chunk.len(), 4)
                );
                let mut query = bulk_query(&sql, chunk.len());
                for family in chunk {
                    query = query.bind(&family.family_id).bind(&family.app_id).bind(&family.scope).bind(family.now);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    created.insert(row.try_get::<String, _>("id")?);
                }
                let started: Vec<&&NewRefreshFamily> = chunk.iter().filter(|f| created.contains(&f.family_id)).collect();
                if started.is_empty() {
                    continue;
                }
                let sql = format!(
                    "INSERT INTO refresh_tokens (hash, family_id, generation, issued_at, expires_at) VALUES {}",
                    values_placeholders(PLACEHOLDERS, started.len(), 5)
                );
                let mut query = bulk_query(&sql, chunk.len());
                for family in started {
                    query = query.bind(&family.token_hash).bind(&family.family_id).bind(0i64).bind(family.now).bind(family.expires_at);
                }
                query.execute(&mut *conn).await?;
            }
            Ok(created)
        }

        async fn insert_refresh_token(
            conn: &mut Conn,
            hash: &[u8],
            family_id: &str,
            generation: i64,
            issued_at: Millis,
            expires_at: Millis,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO refresh_tokens (hash, family_id, generation, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(hash)
            .bind(family_id)
            .bind(generation)
            .bind(issued_at)
            .bind(expires_at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn rotate(conn: &mut Conn, r: &RefreshRotation) -> Result<RotationOutcome> {
            let Some(row) = sqlx::query(
                "SELECT t.family_id, t.generation, t.expires_at, f.app_id, f.scope, f.revoked_at, a.disabled_at
                 FROM refresh_tokens t
                 JOIN refresh_families f ON f.id = t.family_id
                 JOIN applications a ON a.id = f.app_id
                 WHERE t.hash = $1",
            )
            .bind(&r.presented_hash)
            .fetch_optional(&mut *conn)
            .await?
            else {
                return Ok(RotationOutcome::Unknown);
            };
            let family_id: String = row.try_get("family_id")?;
            let generation: i64 = row.try_get("generation")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            let app_id: String = row.try_get("app_id")?;
            let scope: String = row.try_get("scope")?;
            let revoked_at: Option<i64> = row.try_get("revoked_at")?;
            let disabled_at: Option<i64> = row.try_get("disabled_at")?;
            if app_id != r.app_id {
                return Ok(RotationOutcome::Unknown);
            }
            if disabled_at.is_some() {
                return Ok(RotationOutcome::ApplicationDisabled);
            }
            if revoked_at.is_some() {
                return Ok(RotationOutcome::Revoked);
            }
            if expires_at <= r.now {
                return Ok(RotationOutcome::Expired);
            }
            if let Some(requested) = &r.requested_scope {
                if !scope_within(requested, &scope) {
                    return Ok(RotationOutcome::ScopeExceeded);
                }
            }
            // The decision and its effect are one statement, so concurrent rotations (even
            // from several server processes on PostgreSQL) serialise on the family row:
            // the current generation advances; the immediately previous generation, within
            // the grace window, gets a sibling of the current one; anything else is reuse.
            let Some(updated) = sqlx::query(
                "UPDATE refresh_families SET
                    generation = CASE WHEN generation = $2 THEN generation + 1 ELSE generation END,
                    rotated_at = CASE WHEN generation = $2 THEN $3 ELSE rotated_at END,
                    revoked_at = CASE WHEN generation = $2 OR (generation = $2 + 1 AND rotated_at + $4 > $3)
                                      THEN NULL ELSE $3 END,
                    revoked_reason = CASE WHEN generation = $2 OR (generation = $2 + 1 AND rotated_at + $4 > $3)
                                      THEN NULL ELSE 'refresh token reuse' END
                 WHERE id = $1 AND revoked_at IS NULL
                 RETURNING generation, revoked_at",
            )
            .bind(&family_id)
            .bind(generation)
            .bind(r.now)
            .bind(r.grace_ms)
            .fetch_optional(&mut *conn)
            .await?
            else {
                return Ok(RotationOutcome::Revoked);
            };
            let new_generation: i64 = updated.try_get("generation")?;
            let revoked: Option<i64> = updated.try_get("revoked_at")?;
            if revoked.is_some() {
                tracing::warn!(family = %family_id, app = %app_id, "refresh token reuse detected; family revoked");
                return Ok(RotationOutcome::ReuseDetected);
            }
            insert_refresh_token(conn, &r.new_hash, &family_id, new_generation, r.now, r.new_expires_at).await?;
            Ok(RotationOutcome::Rotated { scope })
        }

        /// The ids of a request's series, creating the new ones: from the cache, then
        /// with one lookup and one insert per thousand series missing from it.
        async fn series_ids(conn: &mut Conn, cache: &mut SeriesCache, job: &IngestJob) -> Result<Vec<i64>> {
            let project = &job.project;
            let mut ids: Vec<Option<i64>> = job
                .series
                .iter()
                .map(|(sensor_id, value_name)| cache.get(&(project.clone(), sensor_id.clone(), value_name.clone())).copied())
                .collect();
            let missing: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].is_none()).collect();
            if missing.is_empty() {
                return Ok(ids.into_iter().flatten().collect());
            }
            if cache.len() + missing.len() > SERIES_CACHE {
                cache.clear();
            }
            let index_of: HashMap<(&str, &str), usize> = missing
                .iter()
                .map(|&i| ((job.series[i].0.as_str(), job.series[i].1.as_str()), i))
                .collect();
            let mut record = |rows: Vec<<$db as sqlx::Database>::Row>, ids: &mut Vec<Option<i64>>| -> Result<()> {
                for row in rows {
                    let sensor_id: String = row.try_get("sensor_id")?;
                    let value_name: String = row.try_get("value_name")?;
                    if let Some(&i) = index_of.get(&(sensor_id.as_str(), value_name.as_str())) {
                        let id: i64 = row.try_get("id")?;
                        ids[i] = Some(id);
                        cache.insert((project.clone(), sensor_id, value_name), id);
                    }
                }
                Ok(())
            };
            // Existing series, then the new ones; a series another server created
            // meanwhile (a conflict, so not returned) is looked up once more.
            for pass in ["find", "create", "find"] {
                let wanted: Vec<usize> = missing.iter().copied().filter(|&i| ids[i].is_none()).collect();
                for chunk in wanted.chunks(UPSERT_CHUNK) {
                    let placeholders = values_placeholders(PLACEHOLDERS, chunk.len(), 4);
                    let sql = if pass == "find" {
                        format!(
                            "SELECT s.id, s.sensor_id, s.value_name FROM (VALUES {placeholders}) AS v
                             JOIN series s ON s.org_id = v.column1 AND s.project_code = v.column2
                               AND s.sensor_id = v.column3 AND s.value_name = v.column4"
                        )
                    } else {
                        format!(
                            "INSERT INTO series (org_id, project_code, sensor_id, value_name) VALUES {placeholders}
                             ON CONFLICT (org_id, project_code, sensor_id, value_name) DO NOTHING
                             RETURNING id, sensor_id, value_name"
                        )
                    };
                    let mut query = bulk_query(&sql, chunk.len());
                    for &i in chunk {
                        let (sensor_id, value_name) = &job.series[i];
                        query = query.bind(&project.org_id).bind(&project.code).bind(sensor_id).bind(value_name);
                    }
                    let rows = query
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(|e| map_insert_error(e, || "series".into(), ("project", &project.code)))?;
                    record(rows, &mut ids)?;
                }
            }
            ids.into_iter()
                .map(|id| id.ok_or_else(|| Error::Database(sqlx::Error::RowNotFound)))
                .collect()
        }

        /// Stores one request's readings with a few multi-row statements per 1000 rows:
        /// an insert of the new keys, an update of the changed ones only when some keys
        /// already existed, and one update of the series statistics.
        async fn ingest(conn: &mut Conn, cache: &mut SeriesCache, job: &IngestJob) -> Result<IngestSummary> {
            let ids = series_ids(conn, cache, job).await?;
            let mut summary = job.superseded;
            let mut new_per_series = vec![0i64; ids.len()];
            /// Binds each row's series id, time, value, precision, labels and, for inserts, score.
            fn bind_rows<'q>(
                sql: &'q str,
                ids: &[i64],
                label_sets: &'q [String],
                chunk: &[WriteRow],
                with_score: bool,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
                let mut query = bulk_query(sql, chunk.len());
                for row in chunk {
                    let labels = row.labels.map(|index| label_sets[index].as_str());
                    query = query.bind(ids[row.series]).bind(row.time).bind(row.value).bind(row.precision).bind(labels);
                    if with_score {
                        query = query.bind(row.score);
                    }
                }
                query
            }
            for chunk in chunk_rows(&job.rows) {
                let single_series = chunk[0].series == chunk[chunk.len() - 1].series;
                let inserted = if single_series {
                    let sql = chunk_sql(chunk.len(), 0, || insert_sql(PLACEHOLDERS, chunk.len(), false));
                    let inserted = bind_rows(&sql, &ids, &job.label_sets, chunk, true).execute(&mut *conn).await?.rows_affected();
                    new_per_series[chunk[0].series] += inserted as i64;
                    inserted
                } else {
                    let sql = chunk_sql(chunk.len(), 1, || insert_sql(PLACEHOLDERS, chunk.len(), true));
                    let rows = bind_rows(&sql, &ids, &job.label_sets, chunk, true).fetch_all(&mut *conn).await?;
                    let index_of: HashMap<i64, usize> = ids.iter().enumerate().map(|(index, &id)| (id, index)).collect();
                    for row in &rows {
                        if let Some(&index) = index_of.get(&row.try_get::<i64, _>("series_id")?) {
                            new_per_series[index] += 1;
                        }
                    }
                    rows.len() as u64
                };
                summary.new += inserted;
                let existing = chunk.len() as u64 - inserted;
                if existing > 0 {
                    let sql = chunk_sql(chunk.len(), 2, || update_sql(PLACEHOLDERS, chunk.len()));
                    let replaced = bind_rows(&sql, &ids, &job.label_sets, chunk, false).execute(&mut *conn).await?.rows_affected();
                    summary.replaced += replaced;
                    summary.unchanged += existing - replaced;
                }
            }
            // Rows are sorted by series then time: each series' first and last row bound it.
            let mut stats = Vec::with_capacity(ids.len());
            let mut start = 0;
            while start < job.rows.len() {
                let series = job.rows[start].series;
                let end = start + job.rows[start..].iter().take_while(|row| row.series == series).count();
                stats.push((ids[series], new_per_series[series], job.rows[start].time, job.rows[end - 1].time));
                start = end;
            }
            for chunk in stats.chunks(UPSERT_CHUNK) {
                let sql = series_stats_sql(PLACEHOLDERS, chunk.len());
                let mut query = bulk_query(&sql, chunk.len());
                for &(id, new, first, last) in chunk {
                    query = query.bind(id).bind(new).bind(first).bind(last);
                }
                query.execute(&mut *conn).await?;
            }
            if !job.label_sets.is_empty() {
                let mut seen = std::collections::BTreeSet::new();
                for row in &job.rows {
                    if let Some(index) = row.labels {
                        for label in job.label_sets[index].split(',').filter(|l| !l.is_empty()) {
                            seen.insert((ids[row.series], label));
                        }
                    }
                }
                let seen: Vec<(i64, &str)> = seen.into_iter().collect();
                for chunk in seen.chunks(UPSERT_CHUNK) {
                    let sql = series_labels_sql(PLACEHOLDERS, chunk.len());
                    let mut query = bulk_query(&sql, chunk.len());
                    for &(id, label) in chunk {
                        query = query.bind(id).bind(label);
                    }
                    query.execute(&mut *conn).await?;
                }
            }
            for chunk in job.detection.chunks(UPSERT_CHUNK) {
                let sql = detector_states_sql(PLACEHOLDERS, chunk.len());
                let mut query = bulk_query(&sql, chunk.len());
                for (series, detection) in chunk {
                    query = query.bind(ids[*series]).bind(&detection.checkpoint).bind(detection.scored_until_us);
                }
                query.execute(&mut *conn).await?;
            }
            let events: Vec<(i64, &AnomalyEvent)> =
                job.detection.iter().flat_map(|(series, d)| d.events.iter().map(|e| (ids[*series], e))).collect();
            for chunk in events.chunks(UPSERT_CHUNK) {
                let sql = events_sql(PLACEHOLDERS, chunk.len());
                let mut query = bulk_query(&sql, chunk.len());
                for (series_id, event) in chunk {
                    query = query.bind(series_id).bind(event.start_us).bind(event.end_us).bind(event.peak_us).bind(event.peak_score);
                }
                query.execute(&mut *conn).await?;
            }
            Ok(summary)
        }

        #[async_trait]
        impl ReadingStore for $store {
            async fn project_exists(&self, project: &ProjectKey) -> Result<bool> {
                Ok(sqlx::query("SELECT 1 AS found FROM ml_projects WHERE org_id = $1 AND code = $2")
                    .bind(&project.org_id)
                    .bind(&project.code)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
            }

            async fn ingest_batch(&self, project: ProjectKey, batch: IngestBatch) -> Result<IngestSummary> {
                let job = Box::new(IngestJob::new(project, batch));
                self.submit(|reply| WriteJob::Ingest(job, reply)).await
            }

            async fn series_detections(&self, project: &ProjectKey, series: &[(&str, &str)]) -> Result<Vec<StoredDetection>> {
                let mut found = vec![StoredDetection::default(); series.len()];
                let positions: Vec<usize> = (0..series.len()).collect();
                for chunk in positions.chunks(UPSERT_CHUNK) {
                    let sql = format!(
                        "SELECT v.column5 AS position, s.detector_state, s.checkpoint_until_us, s.scored_until_us
                         FROM (VALUES {}) AS v
                         JOIN series s ON s.org_id = v.column1 AND s.project_code = v.column2
                           AND s.sensor_id = v.column3 AND s.value_name = v.column4",
                        values_placeholders(PLACEHOLDERS, chunk.len(), 5)
                    );
                    let mut query = bulk_query(&sql, chunk.len());
                    for &position in chunk {
                        let (sensor_id, value_name) = series[position];
                        query = query.bind(&project.org_id).bind(&project.code).bind(sensor_id).bind(value_name).bind(position as i64);
                    }
                    for row in query.fetch_all(&self.pool).await? {
                        let position: i64 = row.try_get("position")?;
                        if let Some(slot) = usize::try_from(position).ok().and_then(|p| found.get_mut(p)) {
                            *slot = StoredDetection {
                                checkpoint: row.try_get("detector_state")?,
                                checkpoint_until_us: row.try_get("checkpoint_until_us")?,
                                scored_until_us: row.try_get("scored_until_us")?,
                            };
                        }
                    }
                }
                Ok(found)
            }

            async fn save_checkpoints(&self, checkpoints: Vec<EvictedCheckpoint>) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                for checkpoint in &checkpoints {
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

            async fn scored_readings(
                &self,
                project: &ProjectKey,
                sensor_id: &str,
                value_name: &str,
                after_us: Option<i64>,
                limit: u32,
            ) -> Result<Vec<ScoredPoint>> {
                let mut points = sqlx::query(
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
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(ScoredPoint {
                        time_us: row.try_get("time_us")?,
                        value: row.try_get("value")?,
                        score: row.try_get("score")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
                points.reverse();
                Ok(points)
            }

            async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<Vec<StoredAnomaly>> {
                let (after_start, after_series) = query.after.unzip();
                sqlx::query(
                    "SELECT s.id, s.sensor_id, s.value_name, a.start_us, a.end_us, a.peak_us, a.peak_score
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
                .bind(query.min_score)
                .bind(after_start)
                .bind(after_series)
                .bind(i64::from(query.limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(StoredAnomaly {
                        series_id: row.try_get("id")?,
                        sensor_id: row.try_get("sensor_id")?,
                        value_name: row.try_get("value_name")?,
                        event: AnomalyEvent {
                            start_us: row.try_get("start_us")?,
                            end_us: row.try_get("end_us")?,
                            peak_us: row.try_get("peak_us")?,
                            peak_score: row.try_get("peak_score")?,
                        },
                    })
                })
                .collect()
            }

            async fn read_readings(&self, query: &ReadingQuery) -> Result<Vec<StoredReading>> {
                let (after_series, after_time) = query.after.unzip();
                sqlx::query(
                    concat!(
                        "SELECT s.id, s.sensor_id, s.value_name, r.time_us, r.value, r.precision, r.labels, r.score
                         FROM series s JOIN readings r ON r.series_id = s.id
                         WHERE s.org_id = $1 AND s.project_code = $2
                           AND ($3 IS NULL OR s.sensor_id = $3)
                           AND ($4 IS NULL OR s.value_name = $4)
                           AND ($5 IS NULL OR r.time_us >= $5)
                           AND ($6 IS NULL OR r.time_us < $6)
                           AND ($7 IS NULL OR r.series_id > $7 OR (r.series_id = $7 AND r.time_us > $8))
                           AND ($10 IS NULL OR ", $find_in_text, "(r.labels, $10) > 0)
                         ORDER BY r.series_id, r.time_us
                         LIMIT $9"
                    ),
                )
                .bind(&query.project.org_id)
                .bind(&query.project.code)
                .bind(&query.sensor_id)
                .bind(&query.value_name)
                .bind(query.from_us)
                .bind(query.to_us)
                .bind(after_series)
                .bind(after_time)
                .bind(i64::from(query.limit))
                .bind(query.label.as_deref().map(|label| format!(",{label},")))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|row| {
                    Ok(StoredReading {
                        series_id: row.try_get("id")?,
                        sensor_id: row.try_get("sensor_id")?,
                        value_name: row.try_get("value_name")?,
                        time_us: row.try_get("time_us")?,
                        value: row.try_get("value")?,
                        precision: row.try_get("precision")?,
                        labels: labels_from_stored(row.try_get("labels")?),
                        score: row.try_get("score")?,
                    })
                })
                .collect()
            }

            async fn list_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesSummary>> {
                let (after_sensor, after_name) = query.after.clone().unzip();
                let rows = sqlx::query(
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
                .fetch_all(&self.pool)
                .await?;
                let ids: Vec<i64> = rows.iter().map(|row| row.try_get("id")).collect::<Result<_, _>>()?;
                let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
                for chunk in ids.chunks(UPSERT_CHUNK) {
                    let sql = format!(
                        "SELECT l.series_id, l.label FROM (VALUES {}) AS v JOIN series_labels l ON l.series_id = v.column1
                         ORDER BY l.series_id, l.label",
                        values_placeholders(PLACEHOLDERS, chunk.len(), 1)
                    );
                    let mut labels_query = bulk_query(&sql, chunk.len());
                    for id in chunk {
                        labels_query = labels_query.bind(id);
                    }
                    for row in labels_query.fetch_all(&self.pool).await? {
                        labels.entry(row.try_get("series_id")?).or_default().push(row.try_get("label")?);
                    }
                }
                rows.iter()
                    .map(|row| {
                        Ok(SeriesSummary {
                            sensor_id: row.try_get("sensor_id")?,
                            value_name: row.try_get("value_name")?,
                            count: row.try_get("reading_count")?,
                            first_time_us: row.try_get("first_time_us")?,
                            last_time_us: row.try_get("last_time_us")?,
                            labels: labels.remove(&row.try_get::<i64, _>("id")?).unwrap_or_default(),
                        })
                    })
                    .collect()
            }
        }

        fn organisation_from(row: &<$db as sqlx::Database>::Row) -> Result<Organisation> {
            Ok(Organisation {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn project_from(row: &<$db as sqlx::Database>::Row) -> Result<MlProject> {
            Ok(MlProject {
                org_id: row.try_get("org_id")?,
                code: row.try_get("code")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn application_from(row: &<$db as sqlx::Database>::Row) -> Result<Application> {
            Ok(Application {
                id: row.try_get("id")?,
                org_id: row.try_get("org_id")?,
                name: row.try_get("name")?,
                scope: row.try_get("scope")?,
                created_at: row.try_get("created_at")?,
                disabled_at: row.try_get("disabled_at")?,
            })
        }

        #[async_trait]
        impl DirectoryStore for $store {
            async fn create_organisation(&self, name: &str, now: Millis) -> Result<Organisation> {
                let org = Organisation { id: uuid::Uuid::new_v4().to_string(), name: name.to_owned(), created_at: now };
                sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&org.id)
                    .bind(&org.name)
                    .bind(org.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_insert_error(e, || format!("organisation named {name:?}"), ("organisation", "")))?;
                Ok(org)
            }

            async fn list_organisations(&self) -> Result<Vec<Organisation>> {
                sqlx::query("SELECT id, name, created_at FROM organisations ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(organisation_from)
                    .collect()
            }

            async fn find_organisation_by_name(&self, name: &str) -> Result<Option<Organisation>> {
                sqlx::query("SELECT id, name, created_at FROM organisations WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(organisation_from)
                    .transpose()
            }

            async fn create_project(&self, org_id: &str, code: &str, now: Millis) -> Result<MlProject> {
                sqlx::query("INSERT INTO ml_projects (org_id, code, created_at) VALUES ($1, $2, $3)")
                    .bind(org_id)
                    .bind(code)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map_insert_error(e, || format!("project {code:?}"), ("organisation", org_id)))?;
                Ok(MlProject { org_id: org_id.to_owned(), code: code.to_owned(), created_at: now })
            }

            async fn list_projects(&self, org_id: Option<&str>) -> Result<Vec<MlProject>> {
                sqlx::query(
                    "SELECT org_id, code, created_at FROM ml_projects
                     WHERE $1 IS NULL OR org_id = $1 ORDER BY org_id, code",
                )
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(project_from)
                .collect()
            }

            async fn create_application(&self, new: NewApplication<'_>) -> Result<Application> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO applications (id, org_id, name, scope, secret_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(new.id)
                .bind(new.org_id)
                .bind(new.name)
                .bind(new.scope)
                .bind(new.secret_hash)
                .bind(new.now)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, || format!("application {}", new.id), ("organisation", new.org_id)))?;
                tx.commit().await?;
                Ok(Application {
                    id: new.id.to_owned(),
                    org_id: new.org_id.to_owned(),
                    name: new.name.to_owned(),
                    scope: new.scope.to_owned(),
                    created_at: new.now,
                    disabled_at: None,
                })
            }

            async fn list_applications(&self, org_id: Option<&str>) -> Result<Vec<Application>> {
                sqlx::query(
                    "SELECT id, org_id, name, scope, created_at, disabled_at FROM applications
                     WHERE $1 IS NULL OR org_id = $1 ORDER BY created_at, id",
                )
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(application_from)
                .collect()
            }

            async fn rotate_application_secret(
                &self,
                app_id: &str,
                new_secret_hash: &[u8],
                previous_valid_until: Millis,
                _now: Millis,
            ) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                let changed = sqlx::query(
                    "UPDATE applications SET previous_secret_hash = secret_hash,
                        previous_secret_expires_at = $1, secret_hash = $2
                     WHERE id = $3 AND disabled_at IS NULL",
                )
                .bind(previous_valid_until)
                .bind(new_secret_hash)
                .bind(app_id)
                .execute(&mut *tx)
                .await?;
                if changed.rows_affected() == 0 {
                    return Err(Error::NotFound { kind: "enabled application", id: app_id.to_owned() });
                }
                tx.commit().await?;
                Ok(())
            }

            async fn disable_application(&self, app_id: &str, now: Millis) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                let changed = sqlx::query("UPDATE applications SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2")
                    .bind(now)
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await?;
                if changed.rows_affected() == 0 {
                    return Err(Error::NotFound { kind: "application", id: app_id.to_owned() });
                }
                sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $1, revoked_reason = 'application disabled'
                     WHERE app_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(app_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn load_credentials(&self) -> Result<Vec<ApplicationCredentials>> {
                sqlx::query(
                    "SELECT id, org_id, scope, secret_hash, previous_secret_hash, previous_secret_expires_at, disabled_at
                     FROM applications",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(ApplicationCredentials {
                        id: row.try_get("id")?,
                        org_id: row.try_get("org_id")?,
                        scope: row.try_get("scope")?,
                        secret_hash: row.try_get("secret_hash")?,
                        previous_secret_hash: row.try_get("previous_secret_hash")?,
                        previous_secret_expires_at: row.try_get("previous_secret_expires_at")?,
                        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                    })
                })
                .collect()
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn rotate_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                insert_key(&mut tx, &key, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<bool> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                let active: i64 = sqlx::query("SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if active > 0 {
                    return Ok(false);
                }
                insert_key(&mut tx, &key, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                sqlx::query(
                    "SELECT kid, algorithm, private_key, public_key, created_at, retired_at
                     FROM signing_keys ORDER BY created_at DESC, kid",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(SigningKeyRecord {
                        kid: row.try_get("kid")?,
                        algorithm: row.try_get("algorithm")?,
                        private_key: row.try_get("private_key")?,
                        public_key: row.try_get("public_key")?,
                        created_at: row.try_get("created_at")?,
                        retired_at: row.try_get("retired_at")?,
                    })
                })
                .collect()
            }
        }

        async fn insert_key(conn: &mut Conn, key: &NewSigningKey, now: Millis) -> Result<()> {
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&key.private_key)
            .bind(&key.public_key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        #[async_trait]
        impl TokenStore for $store {
            async fn create_refresh_family(&self, family: NewRefreshFamily) -> Result<bool> {
                self.submit(|reply| WriteJob::CreateFamily(family, reply)).await
            }

            async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> Result<RotationOutcome> {
                self.submit(|reply| WriteJob::Rotate(rotation, reply)).await
            }

            async fn find_refresh_token(&self, hash: &[u8]) -> Result<Option<RefreshTokenInfo>> {
                sqlx::query(
                    "SELECT f.app_id, f.scope, t.issued_at, t.expires_at, f.revoked_at,
                            t.generation AS token_generation, f.generation AS family_generation
                     FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
                     WHERE t.hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| {
                    Ok(RefreshTokenInfo {
                        app_id: row.try_get("app_id")?,
                        scope: row.try_get("scope")?,
                        issued_at: row.try_get("issued_at")?,
                        expires_at: row.try_get("expires_at")?,
                        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                        current: row.try_get::<i64, _>("token_generation")?
                            == row.try_get::<i64, _>("family_generation")?,
                    })
                })
                .transpose()
            }

            async fn revoke_refresh_family(&self, hash: &[u8], app_id: &str, now: Millis) -> Result<bool> {
                let changed = sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $1, revoked_reason = 'revoked by client'
                     WHERE id = (SELECT family_id FROM refresh_tokens WHERE hash = $2)
                       AND app_id = $3 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(hash)
                .bind(app_id)
                .execute(&self.pool)
                .await?;
                Ok(changed.rows_affected() > 0)
            }

            async fn revoke_access_token(&self, jti: &str, app_id: &str, expires_at: Millis) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query(BUMP_GENERATION).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO revoked_access_tokens (jti, app_id, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(app_id)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn load_revoked_access_tokens(&self, now: Millis) -> Result<Vec<String>> {
                sqlx::query("SELECT jti FROM revoked_access_tokens WHERE expires_at > $1")
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| Ok(row.try_get("jti")?))
                    .collect()
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn generation(&self) -> Result<i64> {
                Ok(sqlx::query("SELECT value FROM state_generation WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("value")?)
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }
    };
}

mod sqlite {
    use super::*;
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };

    sql_store!(
        SqliteStore,
        sqlx::Sqlite,
        "BEGIN IMMEDIATE",
        "sqlite",
        Placeholders::Anonymous,
        "instr"
    );

    impl SqliteStore {
        /// Opens the SQLite database at `url` (creating the file and its folder if
        /// needed) in WAL mode with full fsync on commit, and applies migrations.
        ///
        /// # Errors
        /// I/O, database and migration errors.
        pub async fn open(url: &DatabaseUrl) -> Result<Self> {
            let options = SqliteConnectOptions::from_str(url.expose())?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(folder) = options.get_filename().parent()
                && !folder.as_os_str().is_empty()
                && !Path::new(folder).exists()
            {
                std::fs::create_dir_all(folder).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Ok(Self::from_pool(pool))
        }
    }
}

mod postgres {
    use super::*;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    sql_store!(
        PostgresStore,
        sqlx::Postgres,
        "BEGIN",
        "postgres",
        Placeholders::Numbered,
        "strpos"
    );

    impl PostgresStore {
        /// Connects to PostgreSQL at `url` and applies migrations.
        ///
        /// # Errors
        /// Connection and migration errors.
        pub async fn open(url: &DatabaseUrl) -> Result<Self> {
            let options = PgConnectOptions::from_str(url.expose())?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Ok(Self::from_pool(pool))
        }
    }
}

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sizes: &[usize]) -> Vec<WriteRow> {
        sizes
            .iter()
            .enumerate()
            .flat_map(|(series, &n)| {
                (0..n).map(move |t| WriteRow {
                    series,
                    time: t as i64,
                    value: 0.0,
                    precision: None,
                    labels: None,
                    score: None,
                })
            })
            .collect()
    }

    #[test]
    fn large_series_get_their_own_chunks_and_small_ones_share() {
        let rows = rows(&[3, 2, 2500, 1, 1, 70]);
        let chunks: Vec<Vec<usize>> = chunk_rows(&rows)
            .iter()
            .map(|c| c.iter().map(|r| r.series).collect())
            .collect();
        let shapes: Vec<(usize, usize, usize)> = chunks
            .iter()
            .map(|c| (c[0], c[c.len() - 1], c.len()))
            .collect();
        assert_eq!(
            shapes,
            [
                (0, 1, 5),
                (2, 2, 1000),
                (2, 2, 1000),
                (2, 2, 500),
                (3, 4, 2),
                (5, 5, 70)
            ]
        );
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), rows.len());
    }

    #[test]
    fn many_small_series_are_packed_up_to_the_chunk_size() {
        let rows = rows(&vec![10; 250]);
        let chunks = chunk_rows(&rows);
        assert!(chunks.iter().all(|c| c.len() <= UPSERT_CHUNK));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 2500);
        assert!(chunks.len() <= 4, "{}", chunks.len());
    }

    #[test]
    fn placeholders_per_dialect() {
        assert_eq!(
            values_placeholders(Placeholders::Numbered, 2, 2),
            "($1,$2),($3,$4)"
        );
        assert_eq!(
            values_placeholders(Placeholders::Anonymous, 2, 2),
            "(?,?),(?,?)"
        );
    }
}
