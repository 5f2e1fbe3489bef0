//! M4 downsampling (Jugel et al., VLDB 2014): of the points that fall in one pixel
//! column, keep the first, the lowest, the highest and the last. A line drawn through
//! them is pixel-identical to the line through every point, at four points per column
//! at most. The anomaly score track keeps each column's highest score, so that no
//! anomaly disappears when zoomed out, and the band of expected values each column's
//! outer edges, so that the band never looks narrower than it was.

/// One point of a chart: time (microseconds), value, anomaly score, expected range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Microseconds since the epoch.
    pub time_us: i64,
    /// The reading's value.
    pub value: f64,
    /// Its anomaly score, if scored.
    pub score: Option<f64>,
    /// The range the detector expected it in, `(low, high)`, if it had one.
    pub expected: Option<(f64, f64)>,
}

/// Downsamples time-ordered `points` in `[from_us, to_us)` to at most four per column
/// of `columns`; points outside the range are left out. Each kept point carries the
/// highest score of its column on the first kept point of the column, so that the score
/// track shows every column's worst reading once, and each the column's band: the
/// lowest low and the highest high of its points' expected ranges.
pub fn m4(points: &[Point], from_us: i64, to_us: i64, columns: usize) -> Vec<Point> {
    let columns = columns.max(1) as i128;
    let span = i128::from((to_us - from_us).max(1));
    let column = |time_us: i64| (i128::from(time_us - from_us) * columns / span) as i64;
    let mut kept = Vec::new();
    let mut group: Vec<Point> = Vec::new();
    let flush = |group: &mut Vec<Point>, kept: &mut Vec<Point>| {
        let (Some(first), Some(last)) = (group.first().copied(), group.last().copied()) else {
            return;
        };
        let lowest = group
            .iter()
            .copied()
            .min_by(|a, b| a.value.total_cmp(&b.value));
        let highest = group
            .iter()
            .copied()
            .max_by(|a, b| a.value.total_cmp(&b.value));
        let worst = group.iter().filter_map(|p| p.score).max_by(f64::total_cmp);
        let band = group
            .iter()
            .filter_map(|p| p.expected)
            .reduce(|(low, high), (l, h)| (low.min(l), high.max(h)));
        let mut picks: Vec<Point> = [Some(first), lowest, highest, Some(last)]
            .into_iter()
            .flatten()
            .collect();
        picks.sort_by_key(|p| p.time_us);
        picks.dedup_by_key(|p| p.time_us);
        for (i, pick) in picks.iter_mut().enumerate() {
            pick.score = if i == 0 { worst } else { None };
            pick.expected = band;
        }
        kept.extend(picks);
        group.clear();
    };
    let mut current = None;
    for &point in points {
        if point.time_us < from_us || point.time_us >= to_us {
            continue;
        }
        let col = column(point.time_us);
        if current != Some(col) {
            flush(&mut group, &mut kept);
            current = Some(col);
        }
        group.push(point);
    }
    flush(&mut group, &mut kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(time_us: i64, value: f64, score: f64) -> Point {
        Point {
            time_us,
            value,
            score: Some(score),
            expected: Some((value - 1.0, value + 1.0)),
        }
    }

    #[test]
    fn each_column_keeps_first_lowest_highest_last_and_its_worst_score() {
        let points: Vec<Point> = (0..1_000)
            .map(|i| {
                point(
                    i,
                    ((i * 37) % 101) as f64,
                    if i == 555 { 0.9 } else { 0.01 },
                )
            })
            .collect();
        let kept = m4(&points, 0, 1_000, 10);
        assert!(kept.len() <= 40, "{}", kept.len());
        for column in 0..10 {
            let inside: Vec<&Point> = points
                .iter()
                .filter(|p| p.time_us / 100 == column)
                .collect();
            let picked: Vec<&Point> = kept.iter().filter(|p| p.time_us / 100 == column).collect();
            let min = inside.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
            let max = inside
                .iter()
                .map(|p| p.value)
                .fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(
                picked.first().unwrap().time_us,
                inside.first().unwrap().time_us
            );
            assert_eq!(
                picked.last().unwrap().time_us,
                inside.last().unwrap().time_us
            );
            assert!(picked.iter().any(|p| p.value == min) && picked.iter().any(|p| p.value == max));
            let worst = if column == 5 { 0.9 } else { 0.01 };
            assert_eq!(picked[0].score, Some(worst), "column {column}");
            let band = Some((min - 1.0, max + 1.0));
            assert!(picked.iter().all(|p| p.expected == band), "column {column}");
        }
        assert!(m4(&points, 2_000, 3_000, 10).is_empty());
        assert_eq!(
            m4(&points[..3], 0, 1_000, 10).len(),
            2,
            "first is lowest, last is highest"
        );
    }
}
