//! Planned stops: an annotation of kind `planned_stop` silences the events that would
//! start on what it covers (the whole project, a sensor, a series or an asset) while
//! it lasts. Readings are still stored and scored, and detectors still learn; only the
//! events are not recorded. An event that starts inside a stop stays silent as it
//! grows past the stop's end, so that no event appears half-way through a restart.

use std::collections::HashMap;

use vigie_store::{Annotation, AssetDetection, SeriesDetection};

/// The kind of annotation that silences events.
pub(crate) const PLANNED_STOP: &str = "planned_stop";

/// The earliest and latest start of the events a batch writes, if any.
pub(crate) fn event_span(
    detection: &[SeriesDetection],
    assets: &[AssetDetection],
) -> Option<(i64, i64)> {
    let starts = detection
        .iter()
        .flat_map(|d| d.events.iter().map(|e| e.start_us))
        .chain(
            assets
                .iter()
                .flat_map(|a| a.events.iter().map(|e| e.start_us)),
        );
    starts.fold(None, |span, start| match span {
        None => Some((start, start)),
        Some((first, last)) => Some((first.min(start), last.max(start))),
    })
}

/// Removes the events that start within a planned stop covering their series or
/// asset (`asset_names` names each asset id); returns how many were removed.
pub(crate) fn silence(
    stops: &[Annotation],
    detection: &mut [SeriesDetection],
    assets: &mut [AssetDetection],
    asset_names: &HashMap<i64, &str>,
) -> usize {
    let stops: Vec<&Annotation> = stops.iter().filter(|a| a.kind == PLANNED_STOP).collect();
    let mut removed = 0;
    for series in detection {
        let before = series.events.len();
        series.events.retain(|event| {
            !stops.iter().any(|stop| {
                stop.contains(event.start_us)
                    && stop.covers_series(&series.sensor_id, &series.value_name)
            })
        });
        removed += before - series.events.len();
    }
    for asset in assets {
        let Some(name) = asset_names.get(&asset.asset_id) else {
            continue;
        };
        let before = asset.events.len();
        asset.events.retain(|event| {
            !stops
                .iter()
                .any(|stop| stop.contains(event.start_us) && stop.covers_asset(name))
        });
        removed += before - asset.events.len();
    }
    removed
}

#[cfg(test)]
mod tests {
    use vigie_store::{AnomalyEvent, AssetEvent};

    use super::*;

    fn stop(kind: &str, sensor_id: Option<&str>, asset: Option<&str>) -> Annotation {
        Annotation {
            id: "an_1".into(),
            sensor_id: sensor_id.map(Into::into),
            value_name: None,
            asset: asset.map(Into::into),
            start_us: 100,
            end_us: 200,
            kind: kind.into(),
            note: String::new(),
            author: "ada".into(),
            created_at: 0,
        }
    }

    fn series(sensor_id: &str, starts: &[i64]) -> SeriesDetection {
        SeriesDetection {
            sensor_id: sensor_id.into(),
            value_name: "x".into(),
            checkpoint: None,
            scored_until_us: 1_000,
            previous_scored_until_us: None,
            events: starts
                .iter()
                .map(|&start_us| AnomalyEvent {
                    start_us,
                    end_us: start_us + 500,
                    peak_us: start_us,
                    peak_score: 0.9,
                    explanation: None,
                })
                .collect(),
        }
    }

    fn asset(asset_id: i64, starts: &[i64]) -> AssetDetection {
        AssetDetection {
            asset_id,
            checkpoint: None,
            scored_until_us: Some(1_000),
            previous_version: 0,
            rows: Vec::new(),
            events: starts
                .iter()
                .map(|&start_us| AssetEvent {
                    start_us,
                    end_us: start_us,
                    peak_us: start_us,
                    peak_score: 0.9,
                    contributors: Vec::new(),
                    kind: "out_of_range".into(),
                })
                .collect(),
            relearned: false,
        }
    }

    fn starts(detection: &[SeriesDetection]) -> Vec<Vec<i64>> {
        detection
            .iter()
            .map(|d| d.events.iter().map(|e| e.start_us).collect())
            .collect()
    }

    #[test]
    fn a_planned_stop_silences_events_starting_in_it_on_what_it_covers() {
        let names = HashMap::from([(1, "line"), (2, "oven")]);
        let mut detection = vec![
            series("press", &[50, 100, 199, 200]),
            series("pump", &[150]),
        ];
        let mut assets = vec![asset(1, &[150]), asset(2, &[150])];
        assert_eq!(event_span(&detection, &assets), Some((50, 200)));
        let stops = [
            stop(PLANNED_STOP, Some("press"), None),
            stop("maintenance", None, None),
        ];
        assert_eq!(silence(&stops, &mut detection, &mut assets, &names), 2);
        assert_eq!(starts(&detection), [vec![50, 200], vec![150]]);
        assert!(
            assets.iter().all(|a| a.events.len() == 1),
            "a sensor's stop is not an asset's"
        );

        let stops = [stop(PLANNED_STOP, None, Some("line"))];
        assert_eq!(silence(&stops, &mut detection, &mut assets, &names), 1);
        assert_eq!((assets[0].events.len(), assets[1].events.len()), (0, 1));
        assert_eq!(
            starts(&detection),
            [vec![50, 200], vec![150]],
            "nor an asset's a series'"
        );

        let stops = [stop(PLANNED_STOP, None, None)];
        assert_eq!(silence(&stops, &mut detection, &mut assets, &names), 2);
        assert_eq!(starts(&detection), [vec![50, 200], vec![]]);
        assert!(
            assets[1].events.is_empty(),
            "the whole project's stop covers every asset"
        );
        assert_eq!(event_span(&[], &[]), None);
    }
}
