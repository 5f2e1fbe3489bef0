//! A detector state written before the state was versioned (format 1, the whole
//! configuration embedded) resumes bit for bit under the same configuration: the
//! detector's arithmetic changed since only for series younger than a few days and for
//! readings less than 5 minutes apart, and this series is neither.
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
    // Written again, it reads back the same.
    let json = serde_json::to_string(&restored).unwrap();
    assert_eq!(SeriesDetector::from_json(&json, &config).unwrap(), restored);
}

#[test]
fn a_fresh_detector_raises_the_legacy_alarms_after_two_days() {
    // The detector of today differs from the legacy one while the series is young: it
    // damps every surprise on the first day, uses no hour-of-day noise unit before a
    // day and no daily profile before two. Its state then differs in the last bits
    // ever after; which readings it flags does not.
    let config = DetectorConfig::default();
    let threshold = vigie_detect::detector::NAB_THRESHOLD;
    let readings = readings();
    let young_until = readings[0].0 + 2 * 86_400_000;
    let mut fresh = SeriesDetector::new(&config);
    let (mut legacy_young, mut fresh_young) = (Vec::new(), Vec::new());
    for (i, &(time_ms, value, legacy)) in readings.iter().enumerate() {
        let score = fresh.score(&config, time_ms, value);
        if time_ms < young_until {
            if legacy >= threshold {
                legacy_young.push(i);
            }
            if score >= threshold {
                fresh_young.push(i);
            }
        } else {
            assert_eq!(
                score >= threshold,
                legacy >= threshold,
                "reading {i}: {score} where the legacy detector gave {legacy}"
            );
        }
    }
    // The legacy detector flagged the daily cycle going down for the first time, on
    // the first day. Today's detector is quiet then, but flags the cycle twice on the
    // second day, before its profile is in use (the legacy detector's score at 223 was
    // as high, and halved by the refractory period of its first-day alarm).
    assert_eq!((legacy_young, fresh_young), (vec![79, 88], vec![173, 223]));
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
