//! The project explorer's heat map: assets and series × time, each cell coloured by the
//! highest score of the events (asset events, by their health; series events, by their
//! anomaly score) that touch it. Built from the anomaly events, not from
//! the readings, so that its cost follows the number of events, whatever the number of
//! readings behind them.

use vigie_store::{StoredAnomaly, StoredAssetEvent};

/// Columns of the heat map.
pub const COLUMNS: usize = 48;

/// A row of the heat map: the highest score per column (0 where no event touches it).
#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    /// The asset's name, for an asset's row (its health); `None` for a series.
    pub asset: Option<String>,
    /// The sensor (the asset's name for an asset's row).
    pub sensor_id: String,
    /// The variable (`health` for an asset's row).
    pub value_name: String,
    /// The row's highest score.
    pub max: f64,
    /// The highest score per column.
    pub cells: Vec<f64>,
    /// For an asset's row, per column, the public id of the event with the highest
    /// score there (a click opens its page); empty for a series' row.
    pub asset_events: Vec<Option<String>>,
}

/// Series × time, for `[from_us, to_us)` in equal columns.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    /// Start of the first column, microseconds.
    pub from_us: i64,
    /// End of the last column, microseconds.
    pub to_us: i64,
    /// The assets, then the series, that have events in the range, each highest score
    /// first.
    pub rows: Vec<HeatRow>,
}

impl HeatMap {
    /// Width of a column, microseconds (at least 1).
    pub fn column_us(&self, columns: usize) -> i64 {
        ((self.to_us - self.from_us) / columns.max(1) as i64).max(1)
    }

    /// Bins the events into `columns` columns over `[from_us, to_us)`.
    pub fn build(
        assets: &[StoredAssetEvent],
        events: &[StoredAnomaly],
        from_us: i64,
        to_us: i64,
        columns: usize,
    ) -> Self {
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
        let spans = assets
            .iter()
            .map(|a| {
                let e = &a.event;
                let id = crate::lifecycle::event_id('a', a.asset_id, e.start_us);
                (
                    Some(&a.asset),
                    &a.asset,
                    "health",
                    e.start_us,
                    e.end_us,
                    e.peak_score,
                    Some(id),
                )
            })
            .chain(events.iter().map(|a| {
                let e = &a.event;
                let (sensor, value) = (&a.sensor_id, a.value_name.as_str());
                (
                    None,
                    sensor,
                    value,
                    e.start_us,
                    e.end_us,
                    e.peak_score,
                    None,
                )
            }));
        for (asset, sensor_id, value_name, start_us, end_us, peak, event_id) in spans {
            if end_us < from_us || start_us >= map.to_us {
                continue;
            }
            let position = map.rows.iter().position(|row| {
                row.asset.as_ref() == asset
                    && row.sensor_id == *sensor_id
                    && row.value_name == value_name
            });
            let row = match position {
                Some(index) => &mut map.rows[index],
                None => {
                    map.rows.push(HeatRow {
                        asset: asset.cloned(),
                        sensor_id: sensor_id.clone(),
                        value_name: value_name.to_owned(),
                        max: 0.0,
                        cells: vec![0.0; columns],
                        asset_events: vec![None; if asset.is_some() { columns } else { 0 }],
                    });
                    map.rows.last_mut().expect("just pushed")
                }
            };
            for index in column(start_us)..=column(end_us) {
                if (peak > row.cells[index] || row.cells[index] == 0.0)
                    && let Some(slot) = row.asset_events.get_mut(index)
                {
                    slot.clone_from(&event_id);
                }
                row.cells[index] = row.cells[index].max(peak);
            }
            row.max = row.max.max(peak);
        }
        // Assets first, then by highest score (scores are not negative: their bits order
        // as they do), then by name.
        map.rows.sort_by(|a, b| {
            (a.asset.is_none(), std::cmp::Reverse(a.max.to_bits()))
                .cmp(&(b.asset.is_none(), std::cmp::Reverse(b.max.to_bits())))
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
        let asset = StoredAssetEvent {
            asset_id: 1,
            asset: "default".into(),
            event: vigie_store::AssetEvent {
                start_us: 20,
                end_us: 25,
                peak_us: 20,
                peak_score: 0.7,
                contributors: Vec::new(),
                kind: "out_of_range".into(),
            },
        };
        let map = HeatMap::build(&[asset], &events, 0, 40, 4);
        let rows: Vec<(&str, f64, &[f64])> = map
            .rows
            .iter()
            .map(|r| (r.sensor_id.as_str(), r.max, r.cells.as_slice()))
            .collect();
        assert_eq!(
            rows,
            [
                ("default", 0.7, &[0.0, 0.0, 0.7, 0.0][..]),
                ("b", 0.9, &[0.0, 0.9, 0.9, 0.9][..]),
                ("a", 0.6, &[0.4, 0.0, 0.0, 0.6][..]),
                ("d", 0.5, &[0.5, 0.0, 0.0, 0.0][..]),
            ]
        );
        let asset_event = crate::lifecycle::event_id('a', 1, 20);
        assert_eq!(
            map.rows[0].asset_events,
            [None, None, Some(asset_event), None]
        );
        assert!(map.rows[1..].iter().all(|r| r.asset_events.is_empty()));
        assert_eq!(
            map.rows[0].asset.as_deref(),
            Some("default"),
            "assets first"
        );
        assert_eq!(map.column_us(4), 10);
    }
}
