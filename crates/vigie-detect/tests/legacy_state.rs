//! A detector state written before the state was versioned (format 1, the whole
//! configuration embedded) resumes bit for bit under the same configuration.
//!
//! The fixtures were written by the detector as it was then (commit ec90248):
//! `fixtures/legacy_readings.csv` is a synthetic series of 3,500 readings (a daily
//! cycle sampled every 8 to 12 minutes, with spikes, gaps, a stuck stretch, a level
//! shift and a change of noise) with the score that detector gave each reading, and
//! `fixtures/legacy_detector.json` its state (`serde_json::to_string`) after the first
//! 3,000 readings, under the default configuration.

use vigie_detect::detector::{DetectorConfig, RestoreError, SeriesDetector};

const LEGACY_STATE: &str = include_str!("fixtures/legacy_detector.json");
const READINGS: &str = include_str!("fixtures/legacy_readings.csv");
/// Readings the legacy state had seen.
const CHECKPOINT_AT: usize = 3_000;

/// The readings (time in ms, value) and the scores the legacy detector gave them.
fn readings() -> Vec<(i64, f64, f64)> {
    READINGS
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Fails at the first score that differs from the legacy one in any bit.
fn assert_same_scores(detector: &mut SeriesDetector, config: &DetectorConfig, from: usize) {
    let readings = readings();
    for (i, &(time_ms, value, expected)) in readings.iter().enumerate().skip(from) {
        let score = detector.score(config, time_ms, value);
        assert_eq!(
            score.to_bits(),
            expected.to_bits(),
            "reading {i}: {score} where the legacy detector gave {expected}"
        );
    }
}

#[test]
fn a_legacy_state_resumes_bit_for_bit_under_its_configuration() {
    let config = DetectorConfig::default();
    let mut restored = SeriesDetector::from_json(LEGACY_STATE, &config).unwrap();
    assert_eq!(restored.seen(), CHECKPOINT_AT as u64);
    assert_same_scores(&mut restored, &config, CHECKPOINT_AT);
    assert!(
        readings()[CHECKPOINT_AT..]
            .iter()
            .filter(|r| r.2 >= vigie_detect::detector::NAB_THRESHOLD)
            .count()
            >= 3,
        "the continuation raises alarms, so that it exercises the whole state"
    );
    // The restored detector ends exactly where one that never stopped does.
    let mut uninterrupted = SeriesDetector::new(&config);
    assert_same_scores(&mut uninterrupted, &config, 0);
    assert_eq!(restored, uninterrupted);
}

#[test]
fn a_legacy_state_of_another_configuration_is_refused() {
    let mut value: serde_json::Value = serde_json::from_str(LEGACY_STATE).unwrap();
    value["config"]["peak_margin"] = 1.4.into();
    let error = SeriesDetector::from_json(&value.to_string(), &DetectorConfig::default());
    assert!(
        matches!(error, Err(RestoreError::OtherConfig { .. })),
        "{error:?}"
    );
}
