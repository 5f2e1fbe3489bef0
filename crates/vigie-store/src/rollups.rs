//! Rollups: per series and per bucket of one second, one minute or one hour, what a
//! chart needs of the readings in it (count, first, lowest, highest and last value,
//! highest score, the outer edges of the expected range). They are written in the
//! readings' transaction, so a chart of millions of readings reads thousands of rows.
//!
//! Hours are always written. A finer width is written for a series' readings of one
//! request only when they are dense enough to gain from it ([`DENSE_ENOUGH`] readings
//! per bucket on average): a sensor that sends one reading per request, or one every
//! five minutes, gets no second or minute rows, which would only double its writes. A
//! reader therefore trusts a finer width within an hour only when the finer buckets'
//! counts add up to the hour's ([`Rollup::reading_count`]).
//!
//! A reading sent again is not counted again. A corrected value (a stored reading sent
//! again with another value) moves the first or last value it is, and widens the
//! lowest and highest, but leaves its old value in them: rollups may be wider than the
//! readings, never narrower. A request that mixes new readings of a series with stored
//! ones (which the insert does not tell apart) has its buckets recomputed from the
//! stored readings instead.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, FromRow};

use crate::bulk::CHUNK;
use crate::bulk::{Kind, Rows, Value};
use crate::dialect::Dialect;
use crate::write_row::{WriteRow, series_runs};
use crate::{ProjectKey, Result};

/// The widths of rollup buckets, in seconds, finest first.
pub const ROLLUP_WIDTHS_S: [i64; 3] = [1, 60, 3_600];

/// The width every reading is rolled up in.
pub const HOUR_S: i64 = 3_600;

/// Readings per bucket, on average over the buckets a request touches, for a width
/// finer than the hour to be written.
const DENSE_ENOUGH: usize = 16;

/// The readings of one series in one bucket, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct Rollup {
    /// Start of the bucket, microseconds since the epoch.
    pub bucket_us: i64,
    /// Readings in the bucket (a reading sent again counts once).
    pub reading_count: i64,
    /// Time and value of the first reading.
    pub first_us: i64,
    /// Value of the first reading.
    pub first_value: f64,
    /// Lowest value.
    pub min_value: f64,
    /// Highest value.
    pub max_value: f64,
    /// Time of the last reading.
    pub last_us: i64,
    /// Value of the last reading.
    pub last_value: f64,
    /// Highest anomaly score, if a reading was scored.
    pub max_score: Option<f64>,
    /// Lowest edge of the expected ranges, if the detector had one.
    pub expected_low: Option<f64>,
    /// Highest edge of the expected ranges.
    pub expected_high: Option<f64>,
}

impl Rollup {
    fn of(row: &WriteRow, bucket_us: i64) -> Self {
        Self {
            bucket_us,
            reading_count: 1,
            first_us: row.time,
            first_value: row.value,
            min_value: row.value,
            max_value: row.value,
            last_us: row.time,
            last_value: row.value,
            max_score: row.score,
            expected_low: row.expected.map(|(low, _)| low),
            expected_high: row.expected.map(|(_, high)| high),
        }
    }

    /// Adds a later reading of the same bucket.
    fn add(&mut self, row: &WriteRow) {
        self.reading_count += 1;
        self.min_value = self.min_value.min(row.value);
        self.max_value = self.max_value.max(row.value);
        self.last_us = row.time;
        self.last_value = row.value;
        self.max_score = max_option(self.max_score, row.score);
        if let Some((low, high)) = row.expected {
            self.expected_low = Some(self.expected_low.map_or(low, |l| l.min(low)));
            self.expected_high = Some(self.expected_high.map_or(high, |h| h.max(high)));
        }
    }
}

fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The start of the bucket of `width_s` seconds holding `time_us`.
pub fn bucket_start(time_us: i64, width_s: i64) -> i64 {
    let width_us = width_s * 1_000_000;
    time_us - time_us.rem_euclid(width_us)
}

/// The rollups of one request's rows (sorted by series then time): for each series,
/// its hours, and its seconds and minutes when dense enough. Each comes with the index
/// of its series and its width, and whether it is to be written (hours always, finer
/// widths when dense enough); the others are only returned with `every_width`.
pub(crate) fn plan(rows: &[WriteRow], every_width: bool) -> Vec<(usize, i64, Rollup, bool)> {
    let mut planned = Vec::new();
    for run in series_runs(rows) {
        let series = run[0].series;
        for width_s in ROLLUP_WIDTHS_S {
            let mut buckets: Vec<Rollup> = Vec::new();
            for row in run {
                let bucket_us = bucket_start(row.time, width_s);
                match buckets.last_mut() {
                    Some(last) if last.bucket_us == bucket_us => last.add(row),
                    _ => buckets.push(Rollup::of(row, bucket_us)),
                }
            }
            let written = width_s == HOUR_S || run.len() >= DENSE_ENOUGH * buckets.len();
            if written || every_width {
                planned.extend(buckets.into_iter().map(|b| (series, width_s, b, written)));
            }
        }
    }
    planned
}

/// The columns of a rollup as written: series, width, bucket, count, first time and
/// value, lowest, highest, last time and value, highest score, band.
const ROLLUP_COLUMNS: &[Kind] = &[
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Float,
    Kind::Float,
    Kind::Float,
    Kind::Int,
    Kind::Float,
    Kind::Float,
    Kind::Float,
    Kind::Float,
];

/// Merges rollups into the stored ones: counts add up, the first and last readings are
/// the earliest and latest, extremes widen. (Each `SET` reads the row as it was.)
fn upsert_sql(rows: &Rows<'_>) -> String {
    const OLD: &str = "reading_rollups";
    format!(
        "INSERT INTO reading_rollups (series_id, width_s, bucket_us, reading_count, first_us, \
           first_value, min_value, max_value, last_us, last_value, max_score, expected_low, \
           expected_high) {} \
         ON CONFLICT (series_id, width_s, bucket_us) DO UPDATE SET \
           reading_count = {OLD}.reading_count + excluded.reading_count, \
           first_value = CASE WHEN excluded.first_us <= {OLD}.first_us THEN excluded.first_value ELSE {OLD}.first_value END, \
           first_us = CASE WHEN excluded.first_us < {OLD}.first_us THEN excluded.first_us ELSE {OLD}.first_us END, \
           last_value = CASE WHEN excluded.last_us >= {OLD}.last_us THEN excluded.last_value ELSE {OLD}.last_value END, \
           last_us = CASE WHEN excluded.last_us > {OLD}.last_us THEN excluded.last_us ELSE {OLD}.last_us END, \
           min_value = CASE WHEN excluded.min_value < {OLD}.min_value THEN excluded.min_value ELSE {OLD}.min_value END, \
           max_value = CASE WHEN excluded.max_value > {OLD}.max_value THEN excluded.max_value ELSE {OLD}.max_value END, \
           max_score = CASE WHEN {OLD}.max_score IS NULL OR excluded.max_score > {OLD}.max_score \
             THEN excluded.max_score ELSE {OLD}.max_score END, \
           expected_low = CASE WHEN {OLD}.expected_low IS NULL OR excluded.expected_low < {OLD}.expected_low \
             THEN excluded.expected_low ELSE {OLD}.expected_low END, \
           expected_high = CASE WHEN {OLD}.expected_high IS NULL OR excluded.expected_high > {OLD}.expected_high \
             THEN excluded.expected_high ELSE {OLD}.expected_high END",
        rows.insert_source()
    )
}

/// Buckets recomputed from the stored readings in them, a row per bucket with the
/// columns of `reading_rollups` (`f` and `l` are its first and last readings).
fn recomputed(buckets: &Rows<'_>) -> String {
    format!(
        "SELECT g.series_id, g.width_s, g.bucket_us, g.n, g.first_us, f.value AS first_value, \
           g.lo, g.hi, g.last_us, l.value AS last_value, g.max_score, g.expected_low, \
           g.expected_high \
         FROM (SELECT v.column1 AS series_id, v.column2 AS width_s, v.column3 AS bucket_us, \
             COUNT(*) AS n, MIN(r.time_us) AS first_us, MIN(r.value) AS lo, MAX(r.value) AS hi, \
             MAX(r.time_us) AS last_us, MAX(r.score) AS max_score, \
             MIN(r.expected_low) AS expected_low, MAX(r.expected_high) AS expected_high \
           FROM {} JOIN readings r ON r.series_id = v.column1 AND r.time_us >= v.column3 \
             AND r.time_us < v.column3 + v.column2 * 1000000 \
           GROUP BY v.column1, v.column2, v.column3) AS g \
         JOIN readings f ON f.series_id = g.series_id AND f.time_us = g.first_us \
         JOIN readings l ON l.series_id = g.series_id AND l.time_us = g.last_us",
        buckets.as_table()
    )
}

/// Writes recomputed buckets (see [`recomputed`]) over what the rollups held.
fn rebuild_sql(buckets: &Rows<'_>) -> String {
    format!(
        "INSERT INTO reading_rollups (series_id, width_s, bucket_us, reading_count, first_us, \
           first_value, min_value, max_value, last_us, last_value, max_score, expected_low, \
           expected_high) \
         {} WHERE true \
         ON CONFLICT (series_id, width_s, bucket_us) DO UPDATE SET \
           reading_count = excluded.reading_count, first_us = excluded.first_us, \
           first_value = excluded.first_value, min_value = excluded.min_value, \
           max_value = excluded.max_value, last_us = excluded.last_us, \
           last_value = excluded.last_value, max_score = excluded.max_score, \
           expected_low = excluded.expected_low, expected_high = excluded.expected_high",
        recomputed(buckets)
    )
}

/// Recomputes the buckets that exist among `buckets` (see [`recomputed`]), creating none.
fn refresh_sql(buckets: &Rows<'_>) -> String {
    format!(
        "UPDATE reading_rollups SET reading_count = c.n, first_us = c.first_us, \
           first_value = c.first_value, min_value = c.lo, max_value = c.hi, \
           last_us = c.last_us, last_value = c.last_value, max_score = c.max_score, \
           expected_low = c.expected_low, expected_high = c.expected_high \
         FROM ({}) AS c \
         WHERE reading_rollups.series_id = c.series_id AND reading_rollups.width_s = c.width_s \
           AND reading_rollups.bucket_us = c.bucket_us",
        recomputed(buckets)
    )
}

/// Writes one request's rollups (see [`plan`]), in its transaction: the rows of
/// `added` (series whose readings were all new) added to them; the buckets that
/// `rebuilt` touches (series whose request held stored readings: sent again, or
/// corrected) recomputed from the stored readings, the finer ones only where they
/// exist unless dense enough.
pub(crate) async fn write(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[i64],
    added: &[WriteRow],
    rebuilt: &[WriteRow],
) -> Result<()> {
    let (written, existing): (Vec<_>, Vec<_>) = plan(rebuilt, true)
        .into_iter()
        .map(|(series, width_s, r, written)| {
            let bucket = [
                Value::Int(ids[series]),
                Value::Int(width_s),
                Value::Int(r.bucket_us),
            ];
            (bucket, written)
        })
        .partition(|(_, written)| *written);
    for (buckets, statement) in [
        (written, rebuild_sql as fn(&Rows<'_>) -> String),
        (existing, refresh_sql),
    ] {
        let buckets: Vec<[Value<'_>; 3]> = buckets.into_iter().map(|(b, _)| b).collect();
        for chunk in buckets.chunks(CHUNK) {
            let buckets = Rows::of(dialect, &[Kind::Int; 3], chunk);
            let sql = statement(&buckets);
            buckets.query(&sql).execute(&mut *conn).await?;
        }
    }
    let planned: Vec<_> = plan(added, false);
    for chunk in planned.chunks(CHUNK) {
        let mut rollups = Rows::new(dialect, ROLLUP_COLUMNS, chunk.len());
        for (series, width_s, r, _) in chunk {
            rollups.push(&[
                Value::Int(ids[*series]),
                Value::Int(*width_s),
                Value::Int(r.bucket_us),
                Value::Int(r.reading_count),
                Value::Int(r.first_us),
                Value::Float(Some(r.first_value)),
                Value::Float(Some(r.min_value)),
                Value::Float(Some(r.max_value)),
                Value::Int(r.last_us),
                Value::Float(Some(r.last_value)),
                Value::Float(r.max_score),
                Value::Float(r.expected_low),
                Value::Float(r.expected_high),
            ]);
        }
        let sql = upsert_sql(&rollups);
        rollups.query(&sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// One series of a project.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    /// The project.
    pub project: &'a ProjectKey,
    /// The sensor.
    pub sensor_id: &'a str,
    /// The variable.
    pub value_name: &'a str,
}

/// The rollups of `width_s` seconds of a series whose buckets start in
/// `[from_us, to_us)`, oldest first.
pub(crate) async fn read(
    pool: &AnyPool,
    series: SeriesRef<'_>,
    width_s: i64,
    from_us: i64,
    to_us: i64,
) -> Result<Vec<Rollup>> {
    Ok(sqlx::query_as(
        "SELECT u.bucket_us, u.reading_count, u.first_us, u.first_value, u.min_value,
           u.max_value, u.last_us, u.last_value, u.max_score, u.expected_low, u.expected_high
         FROM reading_rollups u JOIN series s ON s.id = u.series_id
         WHERE s.org_id = $1 AND s.project_code = $2 AND s.sensor_id = $3
           AND s.value_name = $4 AND u.width_s = $5 AND u.bucket_us >= $6 AND u.bucket_us < $7
         ORDER BY u.bucket_us",
    )
    .bind(&series.project.org_id)
    .bind(&series.project.code)
    .bind(series.sensor_id)
    .bind(series.value_name)
    .bind(width_s)
    .bind(from_us)
    .bind(to_us)
    .fetch_all(pool)
    .await?)
}

/// A reading as a chart draws it.
#[derive(Debug, Clone, Copy, PartialEq, FromRow)]
pub struct ChartReading {
    /// Microseconds since the epoch.
    pub time_us: i64,
    /// The value.
    pub value: f64,
    /// The anomaly score, if scored.
    pub score: Option<f64>,
    /// The range the detector expected the reading in, if it had one.
    pub expected_low: Option<f64>,
    /// Its upper edge.
    pub expected_high: Option<f64>,
}

/// A series' readings in `[from_us, to_us)`, oldest first, at most `limit`.
pub(crate) async fn chart_readings(
    pool: &AnyPool,
    series: SeriesRef<'_>,
    from_us: i64,
    to_us: i64,
    limit: u32,
) -> Result<Vec<ChartReading>> {
    Ok(sqlx::query_as(
        "SELECT r.time_us, r.value, r.score, r.expected_low, r.expected_high
         FROM readings r JOIN series s ON s.id = r.series_id
         WHERE s.org_id = $1 AND s.project_code = $2 AND s.sensor_id = $3
           AND s.value_name = $4 AND r.time_us >= $5 AND r.time_us < $6
         ORDER BY r.time_us LIMIT $7",
    )
    .bind(&series.project.org_id)
    .bind(&series.project.code)
    .bind(series.sensor_id)
    .bind(series.value_name)
    .bind(from_us)
    .bind(to_us)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(series: usize, time: i64, value: f64) -> WriteRow {
        WriteRow {
            series,
            time,
            value,
            precision: None,
            labels: None,
            score: Some(value / 100.0),
            expected: Some((value - 1.0, value + 1.0)),
            asset_feed: None,
        }
    }

    #[test]
    fn buckets_start_on_whole_widths_before_and_after_the_epoch() {
        assert_eq!(bucket_start(3_599_999_999, 3_600), 0);
        assert_eq!(bucket_start(3_600_000_000, 3_600), 3_600_000_000);
        assert_eq!(bucket_start(-1, 60), -60_000_000);
    }

    #[test]
    fn dense_series_get_every_width_and_sparse_ones_hours_only() {
        // Series 0: 1 reading every 50 ms for 2 s; series 1: one every five minutes.
        let mut rows: Vec<WriteRow> = (0..40).map(|i| row(0, i * 50_000, i as f64)).collect();
        rows.extend((0..24).map(|i| row(1, i * 300_000_000, 5.0)));
        let planned = plan(&rows, false);
        let widths = |series: usize| -> Vec<(i64, usize)> {
            ROLLUP_WIDTHS_S
                .iter()
                .map(|&w| {
                    let n = planned
                        .iter()
                        .filter(|(s, pw, _, _)| *s == series && *pw == w);
                    (w, n.count())
                })
                .collect()
        };
        assert_eq!(widths(0), vec![(1, 2), (60, 1), (3_600, 1)]);
        assert_eq!(widths(1), vec![(1, 0), (60, 0), (3_600, 2)]);
        let (_, _, second, _) = &planned[1];
        assert_eq!(
            (second.bucket_us, second.reading_count),
            (1_000_000, 20),
            "second bucket of series 0"
        );
        assert_eq!((second.first_value, second.last_value), (20.0, 39.0));
        assert_eq!((second.min_value, second.max_value), (20.0, 39.0));
        assert_eq!(second.max_score, Some(0.39));
        assert_eq!(
            (second.expected_low, second.expected_high),
            (Some(19.0), Some(40.0))
        );
        // Eight readings in one second are too few to gain from a second's row.
        let sparse: Vec<WriteRow> = (0..8).map(|i| row(0, i * 100_000, 1.0)).collect();
        assert!(
            plan(&sparse, false)
                .iter()
                .all(|(_, width, _, _)| *width == 3_600)
        );
        // Every width when asked, the finer ones marked as not to be written.
        let every: Vec<(i64, bool)> = plan(&sparse, true).iter().map(|p| (p.1, p.3)).collect();
        assert_eq!(every, [(1, false), (60, false), (3_600, true)]);
    }
}
