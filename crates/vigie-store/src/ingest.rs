//! Ingestion: one request's readings, scores and detection results written with a few
//! multi-row statements per thousand rows. The request is planned before it reaches the
//! writer (grouped by series, one row per key, label sets interned), so the writer's
//! transaction only runs statements.

use std::collections::{BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};

use crate::bulk::{self, CHUNK, Kind, NullableDouble, Value, bulk_query};
use crate::dialect::Dialect;
use crate::series_ids::{SeriesCache, SeriesName, series_ids};
use crate::write_row::{WriteRow, series_runs};
use crate::{
    AnomalyEvent, AssetDetection, Error, IngestBatch, IngestSummary, ProjectKey, Result,
    ScoredReading, SeriesDetection,
};

/// Series with at least this many rows in a request get chunks of their own (written
/// without `RETURNING`); smaller ones share mixed chunks.
const OWN_CHUNK_ROWS: usize = 64;

/// Readings of one request, grouped by series, sorted by time, one row per key, with
/// the detection results to store alongside.
pub(crate) struct IngestJob {
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
    /// Asset health results.
    assets: Vec<AssetDetection>,
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
pub(crate) fn labels_from_stored(text: Option<String>) -> Vec<String> {
    text.map(|text| {
        text.split(',')
            .filter(|label| !label.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// The text a label filter looks for in stored labels.
pub(crate) fn label_pattern(label: &str) -> String {
    format!(",{label},")
}

impl IngestJob {
    /// Groups readings by series and keeps, for each key, the last reading of the
    /// request; a later reading of a key counts as unchanged or replaced relative to the
    /// one before it, as if the readings had been stored one by one.
    pub(crate) fn new(project: ProjectKey, batch: IngestBatch) -> Self {
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
        for ScoredReading {
            reading,
            score,
            expected,
            asset_feed,
        } in batch.readings
        {
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
                expected,
                asset_feed,
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
            assets: batch.assets,
        }
    }
}

/// Splits sorted rows into chunks of at most [`CHUNK`] rows; a chunk holds one series,
/// or several small ones.
fn chunk_rows(rows: &[WriteRow]) -> Vec<&[WriteRow]> {
    let mut chunks = Vec::new();
    let mut mixed_start: Option<usize> = None;
    let mut start = 0;
    for run in series_runs(rows) {
        let end = start + run.len();
        if run.len() >= OWN_CHUNK_ROWS {
            if let Some(mixed) = mixed_start.take() {
                chunks.extend(rows[mixed..start].chunks(CHUNK));
            }
            chunks.extend(rows[start..end].chunks(CHUNK));
        } else {
            let mixed = *mixed_start.get_or_insert(start);
            if end - mixed > CHUNK {
                chunks.push(&rows[mixed..start]);
                mixed_start = Some(start);
            }
        }
        start = end;
    }
    if let Some(mixed) = mixed_start {
        chunks.extend(rows[mixed..].chunks(CHUNK));
    }
    chunks
}

/// The columns of a reading as inserted: series, time, value, precision, labels,
/// score, expected low and high, asset feed.
const READING_COLUMNS: &[Kind] = &[
    Kind::Int,
    Kind::Int,
    Kind::Float,
    Kind::Float,
    Kind::Text,
    Kind::Float,
    Kind::Float,
    Kind::Float,
    Kind::Int,
];

/// Inserts the rows whose key is new; the others are left for [`update_sql`]. With
/// `returning`, the series of each inserted row is returned (for chunks that mix series).
fn insert_sql(rows: &bulk::Rows<'_>, returning: bool) -> String {
    format!(
        "INSERT INTO readings (series_id, time_us, value, precision, labels, score, expected_low, \
           expected_high, asset_feed) {} \
         ON CONFLICT (series_id, time_us) DO NOTHING{}",
        rows.insert_source(),
        if returning {
            " RETURNING series_id"
        } else {
            ""
        }
    )
}

/// Replaces the stored value, precision or labels of the rows whose key existed with
/// another one; returns the series of each row it replaced. Its rows are those of the
/// insert, whose last three columns it does not read.
fn update_sql(rows: &bulk::Rows<'_>) -> String {
    format!(
        "UPDATE readings SET value = v.column3, precision = v.column4, labels = v.column5, \
           revision = readings.revision + 1 \
         FROM {} \
         WHERE readings.series_id = v.column1 AND readings.time_us = v.column2 \
           AND (readings.value IS DISTINCT FROM v.column3 OR readings.precision IS DISTINCT FROM v.column4 \
             OR readings.labels IS DISTINCT FROM v.column5) \
         RETURNING readings.series_id",
        rows.as_table()
    )
}

/// Adds to each series' count and widens its date range (one row per series).
fn series_stats_sql(rows: &bulk::Rows<'_>) -> String {
    format!(
        "UPDATE series SET reading_count = reading_count + v.column2, \
           first_time_us = CASE WHEN first_time_us IS NULL OR v.column3 < first_time_us THEN v.column3 ELSE first_time_us END, \
           last_time_us = CASE WHEN last_time_us IS NULL OR v.column4 > last_time_us THEN v.column4 ELSE last_time_us END \
         FROM {} WHERE series.id = v.column1",
        rows.as_table()
    )
}

/// Remembers the labels a series' readings carried (one row per series and label).
fn series_labels_sql(rows: &bulk::Rows<'_>) -> String {
    format!(
        "INSERT INTO series_labels (series_id, label) {} ON CONFLICT (series_id, label) DO NOTHING",
        rows.insert_source()
    )
}

/// Stores each series' detection progress and, when given, its detector checkpoint
/// (one row per series), only where the store still holds the progress the detector
/// started from; returns the series it updated. The others had a stale writer (another
/// node scored them meanwhile). On PostgreSQL the update locks the rows until the
/// transaction ends, and a second writer from the same progress waits, then finds it
/// moved on.
fn detector_states_sql(dialect: Dialect, rows: usize) -> String {
    format!(
        "UPDATE series SET \
           detector_state = CASE WHEN v.column2 IS NOT NULL THEN v.column2 ELSE detector_state END, \
           checkpoint_until_us = CASE WHEN v.column2 IS NOT NULL THEN v.column3 ELSE checkpoint_until_us END, \
           scored_until_us = v.column3 \
         FROM (VALUES {}) AS v \
         WHERE series.id = v.column1 AND series.scored_until_us IS NOT DISTINCT FROM v.column4 \
         RETURNING series.id",
        dialect.values(rows, 4)
    )
}

/// Creates or extends anomaly events, keyed by series and start, with the explanation
/// of their peak.
fn events_sql(dialect: Dialect, rows: usize) -> String {
    format!(
        "INSERT INTO anomalies (series_id, start_us, end_us, peak_us, peak_score, kind, expected_low, \
           expected_high, observed) VALUES {} \
         ON CONFLICT (series_id, start_us) DO UPDATE SET end_us = excluded.end_us, \
            peak_us = excluded.peak_us, peak_score = excluded.peak_score, kind = excluded.kind, \
            expected_low = excluded.expected_low, expected_high = excluded.expected_high, \
            observed = excluded.observed",
        dialect.values(rows, 9)
    )
}

/// Whether jobs may be written as one: no series in common, whose counts, detector
/// state and events would then belong to two jobs in one statement. (Assets may be
/// shared: each job's asset results are written after the group's, job by job.)
#[derive(Default)]
pub(crate) struct Disjoint<'a> {
    series: std::collections::HashSet<SeriesName<'a>>,
}

impl<'a> Disjoint<'a> {
    /// Takes `job`'s series when none is taken yet; `false` (and takes nothing)
    /// otherwise.
    pub(crate) fn take(&mut self, job: &'a IngestJob) -> bool {
        let key = |(sensor_id, value_name): &'a (String, String)| {
            (&job.project, sensor_id.as_str(), value_name.as_str())
        };
        if job
            .series
            .iter()
            .any(|series| self.series.contains(&key(series)))
        {
            return false;
        }
        self.series.extend(job.series.iter().map(key));
        true
    }
}

/// Jobs written as one: their series, rows and detection results side by side,
/// re-indexed.
struct Group<'a> {
    series: Vec<SeriesName<'a>>,
    /// The job of each series.
    job_of: Vec<usize>,
    /// Sorted by (series, time), as each job's (a lone job's own rows).
    rows: std::borrow::Cow<'a, [WriteRow]>,
    label_sets: Vec<&'a str>,
    detection: Vec<(usize, &'a SeriesDetection)>,
}

impl<'a> Group<'a> {
    fn new(jobs: &[&'a IngestJob]) -> Self {
        let mut rows = Vec::new();
        let mut group = Self {
            series: Vec::new(),
            job_of: Vec::new(),
            rows: std::borrow::Cow::Borrowed(&[]),
            label_sets: Vec::new(),
            detection: Vec::new(),
        };
        for (index, job) in jobs.iter().enumerate() {
            let series_base = group.series.len();
            let labels_base = group.label_sets.len();
            group
                .series
                .extend(job.series.iter().map(|(sensor_id, value_name)| {
                    (&job.project, sensor_id.as_str(), value_name.as_str())
                }));
            group.job_of.resize(group.series.len(), index);
            group
                .label_sets
                .extend(job.label_sets.iter().map(String::as_str));
            if jobs.len() > 1 {
                rows.extend(job.rows.iter().map(|row| WriteRow {
                    series: row.series + series_base,
                    labels: row.labels.map(|labels| labels + labels_base),
                    ..*row
                }));
            }
            group.detection.extend(
                job.detection
                    .iter()
                    .map(|(series, d)| (series + series_base, d)),
            );
        }
        group.rows = match jobs {
            [job] => std::borrow::Cow::Borrowed(&job.rows),
            _ => std::borrow::Cow::Owned(rows),
        };
        group
    }
}

/// Writes jobs that share no series (see [`Disjoint`]) with the same statements: an
/// insert of the new keys, an update of the changed ones only when some keys already
/// existed, the series statistics, labels, detection results and rollups; then each
/// job's assets. Returns each job's summary.
pub(crate) async fn write(
    conn: &mut AnyConnection,
    dialect: Dialect,
    cache: &mut SeriesCache,
    jobs: &[&IngestJob],
) -> Result<Vec<IngestSummary>> {
    let group = Group::new(jobs);
    let ids = series_ids(conn, dialect, cache, &group.series).await?;
    let index_of: HashMap<i64, usize> = ids
        .iter()
        .enumerate()
        .map(|(index, &id)| (id, index))
        .collect();
    let count_series = |counts: &mut [u64], rows: Vec<sqlx::any::AnyRow>| -> Result<()> {
        for row in rows {
            if let Some(&index) = index_of.get(&row.try_get::<i64, _>("series_id")?) {
                counts[index] += 1;
            }
        }
        Ok(())
    };
    let mut new_per_series = vec![0u64; ids.len()];
    let mut replaced_per_series = vec![0u64; ids.len()];
    let reading_rows = |chunk: &[WriteRow]| {
        let mut rows = bulk::Rows::new(dialect, READING_COLUMNS, chunk.len());
        for row in chunk {
            rows.push(&[
                Value::Int(ids[row.series]),
                Value::Int(row.time),
                Value::Float(Some(row.value)),
                Value::Float(row.precision),
                Value::Text(row.labels.map(|index| group.label_sets[index])),
                Value::Float(row.score),
                Value::Float(row.expected.map(|(low, _)| low)),
                Value::Float(row.expected.map(|(_, high)| high)),
                Value::MaybeInt(row.asset_feed),
            ]);
        }
        rows
    };
    for chunk in chunk_rows(&group.rows) {
        let rows = reading_rows(chunk);
        let single_series = chunk[0].series == chunk[chunk.len() - 1].series;
        let insert = insert_sql(&rows, !single_series);
        let inserted = if single_series {
            let inserted = rows
                .query(&insert)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            new_per_series[chunk[0].series] += inserted;
            inserted
        } else {
            let returned = rows.query(&insert).fetch_all(&mut *conn).await?;
            let inserted = returned.len() as u64;
            count_series(&mut new_per_series, returned)?;
            inserted
        };
        if inserted < chunk.len() as u64 {
            let rows = reading_rows(chunk);
            let update = update_sql(&rows);
            let replaced = rows.query(&update).fetch_all(&mut *conn).await?;
            count_series(&mut replaced_per_series, replaced)?;
        }
    }
    // Rows are sorted by series then time: each series' first and last row bound it.
    let mut stats = Vec::with_capacity(ids.len());
    let mut rows_per_series = vec![0u64; ids.len()];
    for run in series_runs(&group.rows) {
        let series = run[0].series;
        rows_per_series[series] = run.len() as u64;
        stats.push([
            Value::Int(ids[series]),
            Value::Int(new_per_series[series] as i64),
            Value::Int(run[0].time),
            Value::Int(run[run.len() - 1].time),
        ]);
    }
    for chunk in stats.chunks(CHUNK) {
        let rows = bulk::Rows::of(dialect, &[Kind::Int; 4], chunk);
        let sql = series_stats_sql(&rows);
        rows.query(&sql).execute(&mut *conn).await?;
    }
    let mut seen = BTreeSet::new();
    for row in group.rows.iter() {
        if let Some(index) = row.labels {
            for label in group.label_sets[index].split(',').filter(|l| !l.is_empty()) {
                seen.insert((ids[row.series], label));
            }
        }
    }
    let labels: Vec<[Value<'_>; 2]> = seen
        .into_iter()
        .map(|(id, label)| [Value::Int(id), Value::Text(Some(label))])
        .collect();
    for chunk in labels.chunks(CHUNK) {
        let rows = bulk::Rows::of(dialect, &[Kind::Int, Kind::Text], chunk);
        let sql = series_labels_sql(&rows);
        rows.query(&sql).execute(&mut *conn).await?;
    }
    for chunk in group.detection.chunks(CHUNK) {
        let sql = detector_states_sql(dialect, chunk.len());
        let mut query = bulk_query(&sql, chunk.len());
        for (series, detection) in chunk {
            query = query
                .bind(ids[*series])
                .bind(&detection.checkpoint)
                .bind(detection.scored_until_us)
                .bind(detection.previous_scored_until_us);
        }
        let updated: BTreeSet<i64> = query
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        if let Some((series, _)) = chunk.iter().find(|(s, _)| !updated.contains(&ids[*s])) {
            let (_, sensor_id, value_name) = group.series[*series];
            return Err(Error::Stale(format!("{sensor_id}/{value_name}")));
        }
    }
    let events: Vec<(i64, &AnomalyEvent)> = group
        .detection
        .iter()
        .flat_map(|(series, d)| d.events.iter().map(|e| (ids[*series], e)))
        .collect();
    for chunk in events.chunks(CHUNK) {
        let sql = events_sql(dialect, chunk.len());
        let mut query = bulk_query(&sql, chunk.len());
        for (series_id, event) in chunk {
            let explanation = event.explanation.as_ref();
            query = query
                .bind(series_id)
                .bind(event.start_us)
                .bind(event.end_us)
                .bind(event.peak_us)
                .bind(event.peak_score)
                .bind(explanation.map(|e| e.kind.as_str()))
                .bind(NullableDouble(explanation.map(|e| e.expected_low)))
                .bind(NullableDouble(explanation.map(|e| e.expected_high)))
                .bind(NullableDouble(explanation.map(|e| e.observed)));
        }
        query.execute(&mut *conn).await?;
    }
    // Rollups: a series whose readings were all new adds them; one whose request held
    // stored readings too (sent again) and changed something is recomputed from the
    // stored readings, so nothing counts twice; one sent again unchanged is left.
    let fresh = |series: usize| new_per_series[series] == rows_per_series[series];
    if (0..ids.len()).all(fresh) {
        crate::rollups::write(conn, dialect, &ids, &group.rows, &[]).await?;
    } else {
        let changed = |s: usize| new_per_series[s] > 0 || replaced_per_series[s] > 0;
        let (added, rebuilt): (Vec<WriteRow>, Vec<WriteRow>) = group
            .rows
            .iter()
            .filter(|row| changed(row.series))
            .partition(|row| fresh(row.series));
        crate::rollups::write(conn, dialect, &ids, &added, &rebuilt).await?;
    }
    let mut summaries: Vec<IngestSummary> = jobs.iter().map(|job| job.superseded).collect();
    for (series, &job) in group.job_of.iter().enumerate() {
        let existing = rows_per_series[series] - new_per_series[series];
        let summary = &mut summaries[job];
        summary.new += new_per_series[series];
        summary.replaced += replaced_per_series[series];
        summary.unchanged += existing - replaced_per_series[series];
    }
    for job in jobs {
        crate::assets::write(conn, dialect, &job.assets).await?;
    }
    Ok(summaries)
}

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
                    expected: None,
                    asset_feed: None,
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
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 2500);
        assert!(chunks.len() <= 4, "{}", chunks.len());
    }

    #[test]
    fn labels_are_stored_between_separators() {
        let labels = vec!["a".to_owned(), "line:2".to_owned()];
        assert_eq!(stored_labels(&labels), ",a,line:2,");
        assert_eq!(labels_from_stored(Some(stored_labels(&labels))), labels);
        assert_eq!(labels_from_stored(None), Vec::<String>::new());
    }
}
