//! What the series viewer draws for a range, read in a time that does not grow with
//! the series: the readings themselves when the range holds few enough, otherwise the
//! store's rollups (one second, one minute or one hour per row), the finest width that
//! still gives each pixel column a bucket; either way downsampled with [`crate::m4`].
//!
//! Finer rollups are only written for dense requests (`vigie_store::rollups`), so each
//! hour is checked: its finest buckets are used when their counts add up to the hour's,
//! else its minutes when they do, else its readings when few enough, else its own
//! rollup.

use vigie_store::{HOUR_S, ROLLUP_WIDTHS_S, Result, Rollup, SeriesRef, Store, bucket_start};

use crate::m4::{Point, m4};

/// Readings read at most for one chart (about 8 per pixel column of a wide chart);
/// past it, rollups are read instead.
pub const READINGS_BUDGET: i64 = 20_000;

/// Readings read at most when the estimate said they were within the budget.
const READINGS_LIMIT: u32 = 2 * READINGS_BUDGET as u32;

/// Where a chart's points come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The readings themselves.
    Readings,
    /// Rollups of this many seconds (with readings or hours where they are missing).
    Rollups(i64),
}

impl Source {
    /// How the chart describes the resolution of its points.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Readings => "every reading",
            Self::Rollups(1) => "per-second summaries",
            Self::Rollups(60) => "per-minute summaries",
            Self::Rollups(_) => "hourly summaries",
        }
    }
}

/// The chart of one series over `[from_us, to_us)`, `columns` pixels wide: at most
/// four points per column (see [`m4`]), with the source they were read from (the
/// coarsest, when hours came from different widths).
pub async fn chart(
    store: &dyn Store,
    series: SeriesRef<'_>,
    from_us: i64,
    to_us: i64,
    columns: usize,
) -> Result<(Vec<Point>, Source)> {
    let hours = store
        .series_rollups(series, HOUR_S, bucket_start(from_us, HOUR_S), to_us)
        .await?;
    let mut source = choose_source(&hours, from_us, to_us, columns);
    if source == Source::Readings {
        // The estimate assumes readings spread evenly within an hour: bunched ones
        // could exceed it, and are then drawn from rollups after all.
        let points = readings(store, series, from_us, to_us).await?;
        if points.len() < READINGS_LIMIT as usize {
            return Ok((m4(&points, from_us, to_us, columns), source));
        }
        source = Source::Rollups(rollup_width(from_us, to_us, columns));
    }
    let points = match source {
        Source::Readings => unreachable!("returned above"),
        Source::Rollups(width_s) if width_s == HOUR_S => {
            hours.iter().flat_map(rollup_points).collect()
        }
        Source::Rollups(width_s) => {
            // Whole hours, so that each can be checked against its finer buckets.
            let start = bucket_start(from_us, HOUR_S);
            let end = bucket_start(to_us - 1, HOUR_S) + HOUR_S * 1_000_000;
            // The finest width first; an hour it does not cover may be covered by a
            // coarser one (a sensor sending few readings per request gets minutes,
            // not seconds).
            let mut points = Vec::new();
            let mut uncovered: Vec<&Rollup> = hours.iter().collect();
            for width in ROLLUP_WIDTHS_S
                .into_iter()
                .filter(|&w| w >= width_s && w < HOUR_S)
            {
                if uncovered.is_empty() {
                    break;
                }
                let finer = store.series_rollups(series, width, start, end).await?;
                let (covered, rest) = covered_points(&uncovered, &finer);
                if !covered.is_empty() {
                    source = Source::Rollups(width);
                }
                points.extend(covered);
                uncovered = rest;
            }
            let missing: i64 = uncovered.iter().map(|h| h.reading_count).sum();
            for hour in uncovered {
                if missing <= READINGS_BUDGET {
                    let end = hour.bucket_us + HOUR_S * 1_000_000;
                    points.extend(readings(store, series, hour.bucket_us, end).await?);
                } else {
                    source = Source::Rollups(HOUR_S);
                    points.extend(rollup_points(hour));
                }
            }
            points.sort_by_key(|p| p.time_us);
            points
        }
    };
    Ok((m4(&points, from_us, to_us, columns), source))
}

/// The readings of `[from_us, to_us)` as points.
async fn readings(
    store: &dyn Store,
    series: SeriesRef<'_>,
    from_us: i64,
    to_us: i64,
) -> Result<Vec<Point>> {
    Ok(store
        .chart_readings(series, from_us, to_us, READINGS_LIMIT)
        .await?
        .into_iter()
        .map(|r| Point {
            time_us: r.time_us,
            value: r.value,
            score: r.score,
            expected: r.expected_low.zip(r.expected_high),
        })
        .collect())
}

/// The readings when the range holds few enough (an hour at its edge counts for the
/// part of it inside the range); otherwise rollups ([`rollup_width`]).
pub fn choose_source(hours: &[Rollup], from_us: i64, to_us: i64, columns: usize) -> Source {
    const HOUR_US: i64 = HOUR_S * 1_000_000;
    let readings: f64 = hours
        .iter()
        .map(|h| {
            let inside = (h.bucket_us + HOUR_US).min(to_us) - h.bucket_us.max(from_us);
            h.reading_count as f64 * inside.max(0) as f64 / HOUR_US as f64
        })
        .sum();
    if readings <= READINGS_BUDGET as f64 {
        Source::Readings
    } else {
        Source::Rollups(rollup_width(from_us, to_us, columns))
    }
}

/// The coarsest rollup width that still gives every pixel column a bucket (the finest,
/// one second, when even that does not).
fn rollup_width(from_us: i64, to_us: i64, columns: usize) -> i64 {
    let column_s = (to_us - from_us) / 1_000_000 / columns.max(1) as i64;
    ROLLUP_WIDTHS_S
        .into_iter()
        .rev()
        .find(|&width_s| width_s <= column_s)
        .unwrap_or(1)
}

/// The points of the finer rollups of the hours they cover entirely, and the hours
/// they do not (whose counts differ from the sum of their finer buckets').
fn covered_points<'h>(hours: &[&'h Rollup], finer: &[Rollup]) -> (Vec<Point>, Vec<&'h Rollup>) {
    let mut points = Vec::with_capacity(finer.len() * 4);
    let mut uncovered = Vec::new();
    let mut rest = finer;
    for &hour in hours {
        let end = hour.bucket_us + HOUR_S * 1_000_000;
        let skip = rest
            .iter()
            .take_while(|r| r.bucket_us < hour.bucket_us)
            .count();
        rest = &rest[skip..];
        let within = rest.iter().take_while(|r| r.bucket_us < end).count();
        let (inside, after) = rest.split_at(within);
        rest = after;
        if inside.iter().map(|r| r.reading_count).sum::<i64>() == hour.reading_count {
            points.extend(inside.iter().flat_map(rollup_points));
        } else {
            uncovered.push(hour);
        }
    }
    (points, uncovered)
}

/// A bucket as up to four points: its first reading, its lowest and highest values
/// (placed between first and last, their times not being kept), its last reading. The
/// bucket's highest score rides on the first, its band on all.
pub fn rollup_points(rollup: &Rollup) -> Vec<Point> {
    let expected = rollup.expected_low.zip(rollup.expected_high);
    let point = |time_us: i64, value: f64| Point {
        time_us,
        value,
        score: None,
        expected,
    };
    let span = rollup.last_us - rollup.first_us;
    let mut points = vec![Point {
        score: rollup.max_score,
        ..point(rollup.first_us, rollup.first_value)
    }];
    if span >= 3 {
        points.push(point(rollup.first_us + span / 3, rollup.min_value));
        points.push(point(rollup.first_us + 2 * span / 3, rollup.max_value));
    }
    if span > 0 {
        points.push(point(rollup.last_us, rollup.last_value));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_US: i64 = HOUR_S * 1_000_000;

    fn rollup(bucket_us: i64, count: i64) -> Rollup {
        Rollup {
            bucket_us,
            reading_count: count,
            first_us: bucket_us,
            first_value: 1.0,
            min_value: -3.0,
            max_value: 7.0,
            last_us: bucket_us + 999_000,
            last_value: 2.0,
            max_score: Some(0.5),
            expected_low: Some(-1.0),
            expected_high: Some(3.0),
        }
    }

    #[test]
    fn few_readings_are_read_and_many_from_the_coarsest_width_that_fills_the_columns() {
        let hours = |count| vec![rollup(0, count)];
        assert_eq!(
            choose_source(&hours(20_000), 0, HOUR_US, 1_600),
            Source::Readings
        );
        // One hour over 1,600 columns: 2.25 s a column, so seconds.
        assert_eq!(
            choose_source(&hours(20_001), 0, HOUR_US, 1_600),
            Source::Rollups(1)
        );
        // A week over 1,600 columns: 378 s a column, so minutes.
        let week = 7 * 24 * HOUR_US;
        assert_eq!(
            choose_source(&hours(10_000_000), 0, week, 1_600),
            Source::Rollups(60)
        );
        // A year: hours.
        let year = 365 * 24 * HOUR_US;
        assert_eq!(
            choose_source(&hours(10_000_000), 0, year, 1_600),
            Source::Rollups(3_600)
        );
        // Ten minutes of a kilohertz sensor: seconds, though fewer than the columns.
        let khz = hours(3_600_000);
        assert_eq!(
            choose_source(&khz, 0, 600_000_000, 1_600),
            Source::Rollups(1)
        );
        // Ten minutes of a 10 Hz sensor: 6,000 of the hour's 36,000 readings.
        let ten_hz = hours(36_000);
        assert_eq!(
            choose_source(&ten_hz, 0, 600_000_000, 1_600),
            Source::Readings
        );
        assert_eq!(
            choose_source(&ten_hz, 0, HOUR_US, 1_600),
            Source::Rollups(1)
        );
    }

    #[test]
    fn an_hour_is_covered_only_when_its_finer_buckets_add_up_to_it() {
        let hours = [rollup(0, 120), rollup(HOUR_US, 121), rollup(2 * HOUR_US, 5)];
        let finer = [
            rollup(0, 60),
            rollup(60_000_000, 60),
            rollup(HOUR_US, 120),
            rollup(HOUR_US + 60_000_000, 0),
        ];
        let (points, uncovered) = covered_points(&hours.iter().collect::<Vec<_>>(), &finer);
        assert_eq!(
            points.len(),
            8,
            "two buckets of the first hour, four points each"
        );
        assert_eq!(
            uncovered.iter().map(|h| h.bucket_us).collect::<Vec<_>>(),
            [HOUR_US, 2 * HOUR_US]
        );
    }

    #[test]
    fn a_bucket_becomes_first_lowest_highest_last_with_its_score_and_band() {
        let points = rollup_points(&rollup(0, 10));
        assert_eq!(
            points
                .iter()
                .map(|p| (p.time_us, p.value))
                .collect::<Vec<_>>(),
            [(0, 1.0), (333_000, -3.0), (666_000, 7.0), (999_000, 2.0)]
        );
        assert_eq!(points[0].score, Some(0.5));
        assert!(points[1..].iter().all(|p| p.score.is_none()));
        assert!(points.iter().all(|p| p.expected == Some((-1.0, 3.0))));
        let single = Rollup {
            last_us: 0,
            ..rollup(0, 1)
        };
        assert_eq!(rollup_points(&single).len(), 1);
    }
}
