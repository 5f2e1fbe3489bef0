//! Regression test: the default detector's NAB scores must not fall.
//!
//! Runs [`vigie_detect::nab::evaluate::evaluate_nab`] with the default configuration
//! over the NAB corpus (`../shared/data/nab` from the repository root, or `VIGIE_NAB_DIR`) and
//! checks each profile's normalised score against the score achieved when the default
//! was tuned, minus [`TOLERANCE`], and against the detector's [`TARGETS`]. Without the corpus the test prints a note and passes,
//! except under CI (`CI` set), where it must run.
//!
//! The detector is deterministic, so the scores only move when its code or defaults
//! change; the tolerance of half a point absorbs floating-point differences between
//! platforms (`exp`/`ln` implementations) that could flip a detection at the threshold
//! (one window detected or missed moves the standard score by about 0.8 point, one
//! false positive by about 0.05), while still catching any real regression.

use std::time::Instant;

use vigie_detect::detector::DetectorConfig;
use vigie_detect::nab::corpus::Corpus;
use vigie_detect::nab::evaluate::evaluate_nab;

mod common;
use common::corpus_dir;

/// Normalised scores achieved by the default configuration: standard,
/// reward_low_FP_rate, reward_low_FN_rate (105 of 116 windows, 178 false-positive
/// rows, at threshold 0.3226 for each). They were 75.23, 66.91 and 80.33 (105 windows,
/// 176 false positives, at 0.3188) before the time scales followed the sampling rate:
/// the hour-of-day noise unit, used from a series' first hours before, now waits for a
/// day of history, which costs two false positives.
const ACHIEVED: [(&str, f64); 3] = [
    ("standard", 75.14),
    ("reward_low_FP_rate", 66.73),
    ("reward_low_FN_rate", 80.27),
];
/// Allowed drop, in normalised points.
const TOLERANCE: f64 = 0.5;
/// What the detector promises, per profile, whatever the tolerance: above every
/// published detector on the standard profile (ARTime 74.9), and no more than 5 points
/// below the best published figure of the other two.
const TARGETS: [f64; 3] = [75.0, 61.98, 75.36];

#[test]
fn default_detector_keeps_its_nab_scores() {
    let Some(dir) = corpus_dir() else { return };
    let started = Instant::now();
    let corpus = Corpus::load(&dir).expect("load the NAB corpus");
    let results = evaluate_nab(&corpus, &DetectorConfig::default()).expect("score the corpus");
    eprintln!("NAB evaluated in {:.2?}", started.elapsed());
    assert_eq!(results.len(), ACHIEVED.len());
    for ((result, (profile, achieved)), target) in results.iter().zip(ACHIEVED).zip(TARGETS) {
        assert_eq!(result.profile, profile);
        let score = result.normalised.expect("a normalised score");
        eprintln!(
            "{profile:>18}: {score:.2} (threshold {:.4}, {} of {} windows, {} false positives)",
            result.threshold,
            result.detected_windows,
            result.scored_windows,
            result.counts.false_positives
        );
        assert!(
            score >= achieved - TOLERANCE,
            "{profile}: {score:.3} fell below {achieved} - {TOLERANCE}"
        );
        assert!(
            score >= target,
            "{profile}: {score:.3} misses the target {target}"
        );
    }
}
