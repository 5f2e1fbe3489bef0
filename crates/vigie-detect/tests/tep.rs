//! Regression test: the asset model's results on the Tennessee Eastman process must not
//! fall, and the README's PCA reference must reproduce.
//!
//! Runs the protocol of `shared/data/tep/README.md` (module `vigie_detect::tep`) on the
//! data at `../shared/data/tep` from the repository root, or `VIGIE_TEP_DIR`. Without
//! the data the test prints `SKIPPED …` and passes, except under CI (`CI` set), where
//! it must run.
//!
//! The model is deterministic, so the figures only move when its code or defaults
//! change; the tolerance absorbs floating-point differences between platforms (`exp`,
//! `ln`, `cbrt`) that could flip a row at the threshold (one row of a fault moves its
//! rate by 1/800, the mean by 1/14,400).

use std::time::Instant;

use vigie_detect::asset::{ASSET_THRESHOLD, AssetConfig};
use vigie_detect::tep::data::{TepData, repository_data_dir};
use vigie_detect::tep::protocol::{self, TepResult};
use vigie_detect::tep::{asset_model_scores, evaluate_pca_reference, scores_with};

/// The asset model's mean detection rate over the 18 counted faults at 5 % false
/// alarms, when its defaults were set.
const ACHIEVED: f64 = 0.9235;
/// The README's figure for its PCA reference, as this implementation reproduces it.
const PCA_REFERENCE: f64 = 0.8027;
/// Allowed drift of a mean detection rate.
const TOLERANCE: f64 = 0.005;
/// What the model promises: the target.
const TARGET: f64 = 0.85;

fn data() -> Option<TepData> {
    let dir = repository_data_dir();
    assert!(
        dir.is_some() || std::env::var_os("CI").is_none(),
        "CI is set but the TEP data is missing"
    );
    Some(TepData::load(dir?).expect("load the TEP data"))
}

fn print(result: &TepResult) {
    eprintln!(
        "{}: mean {:.4}, FAR {:.4} at threshold {:.4}",
        result.method, result.mean_detection_rate, result.false_alarm_rate, result.threshold
    );
}

#[test]
fn the_asset_model_keeps_its_tep_results_and_beats_the_reference() {
    let Some(data) = data() else { return };
    let started = Instant::now();
    let config = AssetConfig::default();
    let scores = scores_with(&data, |history, test| {
        asset_model_scores(&config, history, test)
    });
    let result = protocol::evaluate("asset model", &scores);
    let reference = evaluate_pca_reference(&data);
    eprintln!("TEP evaluated in {:.2?}", started.elapsed());
    print(&result);
    print(&reference);
    assert!(
        (reference.mean_detection_rate - PCA_REFERENCE).abs() < TOLERANCE,
        "the PCA reference gives {:.4}, not the README's",
        reference.mean_detection_rate
    );
    // The README's per-fault figures for the reference.
    for (fault, rate) in [(5, 0.35), (10, 0.62), (16, 0.54), (19, 0.30), (21, 0.51)] {
        assert!(
            (reference.fault(fault).detection_rate - rate).abs() < 0.01,
            "fault {fault}"
        );
    }
    assert!(result.false_alarm_rate <= 0.05);
    assert!(
        result.mean_detection_rate >= ACHIEVED - TOLERANCE,
        "{:.4} fell below {ACHIEVED} - {TOLERANCE}",
        result.mean_detection_rate
    );
    assert!(result.mean_detection_rate >= TARGET);
    // Where PCA is weakest (random variations, sticky valves, an unknown fault), the
    // smoothed distance is far ahead.
    for fault in [10, 11, 16, 19, 20] {
        assert!(
            result.fault(fault).detection_rate > reference.fault(fault).detection_rate + 0.1,
            "fault {fault}"
        );
    }

    // At the service's own threshold, calibrated on the learning rows alone: no normal
    // row of the 4,320 is flagged, and most fault rows are.
    let at_threshold = protocol::evaluate_at("asset model", &scores, ASSET_THRESHOLD);
    print(&at_threshold);
    assert!(at_threshold.false_alarm_rate <= 0.001, "{at_threshold:?}");
    assert!(at_threshold.mean_detection_rate >= 0.75, "{at_threshold:?}");
}
