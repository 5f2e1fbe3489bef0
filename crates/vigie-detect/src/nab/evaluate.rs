//! The harness between the detector and the benchmark: runs fresh detectors over
//! series and a corpus and scores them with NAB's profiles, for `vigie eval`, the
//! regression test and the tuning tools.

use crate::detector::{DetectorConfig, SeriesDetector};
use crate::nab::NabError;
use crate::nab::corpus::Corpus;
use crate::nab::score::{Profile, ProfileResult, ScoringOptions, Sweep, ThresholdSearch};

/// Scores a whole series with a fresh detector: one score per point, in order.
pub fn score_series(
    config: &DetectorConfig,
    points: impl IntoIterator<Item = (i64, f64)>,
) -> Vec<f64> {
    let mut detector = SeriesDetector::new(config);
    points
        .into_iter()
        .map(|(t, v)| detector.score(config, t, v))
        .collect()
}

/// Runs a fresh detector over every series of `corpus`: the scores, series by series.
pub fn score_corpus(corpus: &Corpus, config: &DetectorConfig) -> Vec<Vec<f64>> {
    corpus
        .series()
        .iter()
        .map(|s| {
            let points = s
                .timestamps()
                .iter()
                .map(|t| t.and_utc().timestamp_millis())
                .zip(s.values().iter().copied());
            score_series(config, points)
        })
        .collect()
}

/// Runs the detector on every series of `corpus` and scores it with NAB's three
/// profiles (standard, reward_low_FP_rate, reward_low_FN_rate, in that order), each
/// at its corpus-wide optimal threshold.
pub fn evaluate_nab(
    corpus: &Corpus,
    config: &DetectorConfig,
) -> Result<Vec<ProfileResult>, NabError> {
    let scores = score_corpus(corpus, config);
    let sweep = Sweep::new(corpus.series(), &scores, &ScoringOptions::default())?;
    Ok(Profile::nab_profiles()
        .iter()
        .map(|p| sweep.evaluate(p, ThresholdSearch::Sweep))
        .collect())
}
