//! The project explorer's heat map: series × time, each cell coloured by the highest
//! anomaly score of the events that touch it. Built from the anomaly events, not from
//! the readings, so that its cost follows the number of events, whatever the number of
//! readings behind them.

use vigie_store::StoredAnomaly;

/// Columns of the heat map.
pub const COLUMNS: usize = 48;

/// A series' row: the highest score per column (0 where no event touches it).
#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// The row's highest score.
    pub max: f64,
    /// The highest score per column.
    pub cells: Vec<f64>,
}

/// Series × time, for `[from_us, to_us)` in equal columns.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    /// Start of the first column, microseconds.
    pub from_us: i64,
    /// End of the last column, microseconds.
    pub to_us: i64,
    /// The series that have events in the range, highest score first.
    pub rows: Vec<HeatRow>,
}

impl HeatMap {
    /// Width of a column, microseconds (at least 1).
    pub fn column_us(&self, columns: usize) -> i64 {
        ((self.to_us - self.from_us) / columns.max(1) as i64).max(1)
    }

    /// Bins `events` into `columns` columns over `[from_us, to_us)`.
    pub fn build(events: &[StoredAnomaly], from_us: i64, to_us: i64, columns: usize) -> Self {
        let mut map = HeatMap {
            from_us,
            to_us: to_us.max(from_us + 1),
            rows: Vec::new(),
        };
        let width = map.column_us(columns);
        let column = |time_us: i64| {
            usize::try_from((time_us - from_us).div_euclid(width))
                .unwrap_or(0)
                .min(columns - 1)
        };
        for anomaly in events {
            let event = &anomaly.event;
            if event.end_us < from_us || event.start_us >= map.to_us {
                continue;
            }
            let position = map.rows.iter().position(|row| {
                row.sensor_id == anomaly.sensor_id && row.value_name == anomaly.value_name
            });
            let row = match position {
                Some(index) => &mut map.rows[index],
                None => {
                    map.rows.push(HeatRow {
                        sensor_id: anomaly.sensor_id.clone(),
                        value_name: anomaly.value_name.clone(),
                        max: 0.0,
                        cells: vec![0.0; columns],
                    });
                    map.rows.last_mut().expect("just pushed")
                }
            };
            for cell in &mut row.cells[column(event.start_us)..=column(event.end_us)] {
                *cell = cell.max(event.peak_score);
            }
            row.max = row.max.max(event.peak_score);
        }
        map.rows.sort_by(|a, b| {
            b.max
                .total_cmp(&a.max)
                .then_with(|| (&a.sensor_id, &a.value_name).cmp(&(&b.sensor_id, &b.value_name)))
        });
        map
    }
}

#[cfg(test)]
mod tests {
    use vigie_store::AnomalyEvent;

    use super::*;

    fn event(sensor: &str, start_us: i64, end_us: i64, peak_score: f64) -> StoredAnomaly {
        StoredAnomaly {
            series_id: 1,
            sensor_id: sensor.into(),
            value_name: "none".into(),
            event: AnomalyEvent {
                start_us,
                end_us,
                peak_us: start_us,
                peak_score,
                explanation: None,
            },
        }
    }

    #[test]
    fn cells_hold_the_highest_score_of_the_events_touching_them() {
        let events = [
            event("a", 0, 5, 0.4),
            event("b", 10, 35, 0.9),
            event("a", 30, 31, 0.6),
            event("c", 100, 120, 1.0), // after the range
            event("d", -50, 2, 0.5),   // starts before it
        ];
        let map = HeatMap::build(&events, 0, 40, 4);
        let rows: Vec<(&str, f64, &[f64])> = map
            .rows
            .iter()
            .map(|r| (r.sensor_id.as_str(), r.max, r.cells.as_slice()))
            .collect();
        assert_eq!(
            rows,
            [
                ("b", 0.9, &[0.0, 0.9, 0.9, 0.9][..]),
                ("a", 0.6, &[0.4, 0.0, 0.0, 0.6][..]),
                ("d", 0.5, &[0.5, 0.0, 0.0, 0.0][..]),
            ]
        );
        assert_eq!(map.column_us(4), 10);
    }
}
