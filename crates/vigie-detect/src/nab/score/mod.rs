//! NAB's scoring rules and threshold optimisation, as pure functions of labelled
//! series and anomaly scores, so that the figures match the published ones exactly.
//!
//! The work is split in two: [`Sweep::new`] places every scorable row relative to the
//! windows once (independent of the profile) and sorts the rows by anomaly score;
//! [`Sweep::curve`] then walks the sorted rows once per profile, producing the corpus
//! score at every distinct threshold ([`ThresholdCurve`]). Both are `O(n log n)`, which
//! makes the corpus-wide optimisation (NAB's `sweeper.py`/`optimizer.py`) cheap.
//!
//! The rules reproduced, with NAB's quirks (row index `i`, window rows `first..=last`,
//! width `w = last - first + 1`):
//!
//! * rows `i < min(floor(0.15 n), 0.15 * 5000)` are probationary: ignored entirely, and
//!   a window with no row after them is not scored at all;
//! * a detection inside a window is worth
//!   `tpWeight * S(-(last - i + 1) / w) / S(-1)`, with `S` the [`scaled_sigmoid`]: exactly
//!   `tpWeight` at the window's first row, still positive at its last row;
//!   only the best (i.e. first) detection of a window counts, and a window without any
//!   detection costs `fnWeight`;
//! * a detection outside windows costs `fpWeight * S((i - last') / (w' - 1))` where `'`
//!   is the closest window that ended before it (note `w' - 1`, not `w'`), and the full
//!   `fpWeight` when no window precedes;
//! * the optimal threshold is the distinct anomaly score giving the highest total, the
//!   highest such score on ties; "never fire" is threshold 1.1;
//! * normalised score `100 * (raw - null) / (perfect - null)` with `null = -fnWeight`
//!   and `perfect = tpWeight` per scored window.

mod sweep;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use sweep::{Sweep, ThresholdCurve};

use super::NabError;
use super::series::LabelledSeries;

/// NAB's probationary fraction of every series.
pub const PROBATION_FRACTION: f64 = 0.15;

/// The probationary period is capped at this many rows times the fraction (750 rows).
const PROBATION_CAP_ROWS: f64 = 5000.0;

/// The threshold NAB reports for "never fire" (anomaly scores are in `[0, 1]`).
pub const NO_DETECTION_THRESHOLD: f64 = 1.1;

/// The standard logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// NAB's scaled sigmoid of a relative position: `2 * sigmoid(-5 x) - 1`, and `-1` beyond
/// `x > 3`. `x = -1` (a window's left edge) gives 0.98661, `x = 0` its right edge 0,
/// `x = 1` (one window-width past it) −0.98661.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 * sigmoid(-5.0 * relative_position) - 1.0
    }
}

/// Number of probationary rows of a series of `rows` rows: NAB ignores row `i` when
/// `i < min(floor(fraction * rows), fraction * 5000)`.
pub fn probationary_period(rows: usize, fraction: f64) -> usize {
    let length = (fraction * rows as f64)
        .floor()
        .min(fraction * PROBATION_CAP_ROWS);
    // NAB compares the integer row index with this (possibly fractional) float.
    length.max(0.0).ceil() as usize
}

/// Weights of the outcomes in an application profile (NAB's `CostMatrix`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostMatrix {
    /// Reward for detecting a window at its very start.
    pub tp_weight: f64,
    /// Cost of a detection outside windows.
    pub fp_weight: f64,
    /// Cost of a window without detection.
    pub fn_weight: f64,
    /// Weight of true negatives (declared by NAB, unused by its scoring).
    pub tn_weight: f64,
}

/// A named application profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The profile name, e.g. `standard`.
    pub name: String,
    /// Its cost matrix.
    pub costs: CostMatrix,
}

impl Profile {
    /// A profile with the given name and weights.
    pub fn new(name: impl Into<String>, costs: CostMatrix) -> Self {
        Self {
            name: name.into(),
            costs,
        }
    }

    fn nab(name: &str, fp_weight: f64, fn_weight: f64) -> Self {
        Self::new(
            name,
            CostMatrix {
                tp_weight: 1.0,
                fp_weight,
                fn_weight,
                tn_weight: 1.0,
            },
        )
    }

    /// NAB `standard`: tp 1, fp 0.11, fn 1.
    pub fn standard() -> Self {
        Self::nab("standard", 0.11, 1.0)
    }

    /// NAB `reward_low_FP_rate`: tp 1, fp 0.22, fn 1.
    pub fn reward_low_fp_rate() -> Self {
        Self::nab("reward_low_FP_rate", 0.22, 1.0)
    }

    /// NAB `reward_low_FN_rate`: tp 1, fp 0.11, fn 2.
    pub fn reward_low_fn_rate() -> Self {
        Self::nab("reward_low_FN_rate", 0.11, 2.0)
    }

    /// The three NAB profiles, in the order standard, low-FP, low-FN.
    pub fn nab_profiles() -> [Self; 3] {
        [
            Self::standard(),
            Self::reward_low_fp_rate(),
            Self::reward_low_fn_rate(),
        ]
    }

    /// A NAB profile by its NAB name (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::nab_profiles().into_iter().find(|p| p.name == name)
    }
}

/// Options of the scoring rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoringOptions {
    /// Fraction of every series that is probationary (NAB: 0.15).
    pub probation_fraction: f64,
}

impl Default for ScoringOptions {
    fn default() -> Self {
        Self {
            probation_fraction: PROBATION_FRACTION,
        }
    }
}

/// Row-level outcome counts over the scorable (non-probationary) rows, as NAB reports
/// them: every detected row in a window counts as a true positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Detected rows inside windows.
    pub true_positives: usize,
    /// Detected rows outside windows.
    pub false_positives: usize,
    /// Undetected rows outside windows.
    pub true_negatives: usize,
    /// Undetected rows inside windows.
    pub false_negatives: usize,
}

/// The raw corpus score at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdScore {
    /// Rows whose anomaly score is `>=` this are detections.
    pub threshold: f64,
    /// Raw (unnormalised) NAB score.
    pub score: f64,
    /// Row-level counts.
    pub counts: Counts,
    /// Number of scored windows with at least one detection.
    pub detected_windows: usize,
}

/// How the threshold is optimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThresholdSearch {
    /// NAB ≥ 1.0 (`sweeper.py`): every distinct anomaly score is tried; the global
    /// optimum, the highest threshold on ties.
    #[default]
    Sweep,
    /// NAB's earlier hill climb (`optimizer.py`'s `twiddle`: start 0.5, step 0.1,
    /// tolerance 1e-7). It can stop on a local optimum; some published thresholds (those
    /// of `numenta`) were found this way, so it exists to reproduce them.
    LegacyTwiddle,
}

/// A detector's score on a set of series for one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    /// Profile name.
    pub profile: String,
    /// Threshold used (optimised or given): rows scoring `>=` it are detections.
    pub threshold: f64,
    /// Raw NAB score at that threshold.
    pub raw_score: f64,
    /// `100 * (raw - null) / (perfect - null)`; `None` when no window is scored.
    pub normalised: Option<f64>,
    /// Raw score of a detector that never fires.
    pub null_score: f64,
    /// Raw score of a detector firing exactly at the first scorable row of every window.
    pub perfect_score: f64,
    /// Row-level counts at the threshold.
    pub counts: Counts,
    /// Windows taking part in the score (not wholly probationary).
    pub scored_windows: usize,
    /// Scored windows with at least one detection.
    pub detected_windows: usize,
}

/// NAB's normalisation, `100 * (raw - null) / (perfect - null)`; `None` if `perfect == null`.
pub fn normalise(raw: f64, null: f64, perfect: f64) -> Option<f64> {
    (perfect != null).then(|| 100.0 * (raw - null) / (perfect - null))
}

/// Scores a detector on a corpus for one profile, with the threshold optimised over the
/// whole corpus as NAB does (`scores[k]` are the anomaly scores of `series[k]`'s rows).
pub fn score_corpus<S: AsRef<[f64]>>(
    series: &[LabelledSeries],
    scores: &[S],
    profile: &Profile,
) -> Result<ProfileResult, NabError> {
    let sweep = Sweep::new(series, scores, &ScoringOptions::default())?;
    Ok(sweep.evaluate(profile, ThresholdSearch::Sweep))
}

/// Scores a detector on a corpus for one profile at a given threshold.
pub fn score_corpus_at_threshold<S: AsRef<[f64]>>(
    series: &[LabelledSeries],
    scores: &[S],
    profile: &Profile,
    threshold: f64,
) -> Result<ProfileResult, NabError> {
    let sweep = Sweep::new(series, scores, &ScoringOptions::default())?;
    Ok(sweep.evaluate_at(profile, threshold))
}
