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

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

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

/// One scorable row, placed relative to the windows.
#[derive(Debug, Clone, Copy)]
struct Point {
    anomaly_score: f64,
    /// The scaled sigmoid of the row's position, before the profile's weights.
    unweighted: f64,
    /// Index of the (scored) window holding the row, if any.
    window: Option<u32>,
}

/// Scorable rows of a set of series with their anomaly scores, sorted by score, ready
/// to be scored under any profile at any threshold.
#[derive(Debug, Clone)]
pub struct Sweep {
    points: Vec<Point>,
    /// Per scored window, the unweighted value of its best possible detection.
    window_best: Vec<f64>,
    in_window_rows: usize,
    outside_rows: usize,
    no_detection_threshold: f64,
}

impl Sweep {
    /// Prepares the scoring of `scores[k]` (one anomaly score per row, in `[0, 1]` by
    /// convention) against `series[k]`.
    pub fn new<S: AsRef<[f64]>>(
        series: &[LabelledSeries],
        scores: &[S],
        options: &ScoringOptions,
    ) -> Result<Self, NabError> {
        if series.len() != scores.len() {
            return Err(NabError::Mismatch(format!(
                "{} series but {} score lists",
                series.len(),
                scores.len()
            )));
        }
        let total_rows = series.iter().map(LabelledSeries::len).sum();
        let mut sweep = Self {
            points: Vec::with_capacity(total_rows),
            window_best: Vec::new(),
            in_window_rows: 0,
            outside_rows: 0,
            no_detection_threshold: NO_DETECTION_THRESHOLD,
        };
        let mut max_score = f64::NEG_INFINITY;
        for (s, scores) in series.iter().zip(scores) {
            let scores = scores.as_ref();
            if scores.len() != s.len() {
                return Err(NabError::InvalidSeries {
                    series: s.name().to_owned(),
                    message: format!("{} rows but {} anomaly scores", s.len(), scores.len()),
                });
            }
            if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
                return Err(NabError::InvalidSeries {
                    series: s.name().to_owned(),
                    message: format!("anomaly score of row {i} is not a finite number"),
                });
            }
            let probation = probationary_period(s.len(), options.probation_fraction);
            let windows = s.windows();
            let mut next = 0; // first window not ended before the current row
            let mut window_id: Option<u32> = None;
            for (i, &anomaly_score) in scores.iter().enumerate() {
                while next < windows.len() && windows[next].last_row < i {
                    next += 1;
                    window_id = None;
                }
                if i < probation {
                    continue;
                }
                max_score = max_score.max(anomaly_score);
                let point = match windows.get(next).filter(|w| w.contains(i)) {
                    Some(w) => {
                        let position = -((w.last_row - i + 1) as f64) / w.width() as f64;
                        let unweighted = scaled_sigmoid(position);
                        let id = *window_id.get_or_insert_with(|| {
                            // The window's first scorable row is its best detection.
                            sweep.window_best.push(unweighted);
                            (sweep.window_best.len() - 1) as u32
                        });
                        sweep.in_window_rows += 1;
                        Point {
                            anomaly_score,
                            unweighted,
                            window: Some(id),
                        }
                    }
                    None => {
                        sweep.outside_rows += 1;
                        let unweighted = match next.checked_sub(1).map(|k| windows[k]) {
                            // NAB divides by (width - 1), which is 0 for a one-row
                            // window (a crash in NAB); use 1 then.
                            Some(prev) => scaled_sigmoid(
                                (i - prev.last_row) as f64 / (prev.width() - 1).max(1) as f64,
                            ),
                            None => -1.0,
                        };
                        Point {
                            anomaly_score,
                            unweighted,
                            window: None,
                        }
                    }
                };
                sweep.points.push(point);
            }
        }
        if max_score >= NO_DETECTION_THRESHOLD {
            sweep.no_detection_threshold = f64::from_bits(max_score.to_bits() + 1);
        }
        // Scores are finite, so the order is total; -0.0 and 0.0 stay equal as in NAB.
        // Stable, like NAB's `sorted`: ties keep series and row order, so the result
        // does not depend on the sort's internals.
        sweep.points.sort_by(|a, b| {
            b.anomaly_score
                .partial_cmp(&a.anomaly_score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(sweep)
    }

    /// Number of windows taking part in the score.
    pub fn scored_windows(&self) -> usize {
        self.window_best.len()
    }

    /// The corpus score at every distinct threshold for `profile`.
    pub fn curve(&self, profile: &Profile) -> ThresholdCurve {
        let costs = profile.costs;
        let max_tp = scaled_sigmoid(-1.0);
        let mut window_part = vec![-costs.fn_weight; self.window_best.len()];
        // Recomputed from the parts (as NAB does) when a part changed, rather than
        // updated incrementally, so equal detections give bit-identical scores.
        let mut windows_sum: f64 = window_part.iter().sum();
        let mut windows_changed = false;
        let mut fp_sum = 0.0;
        let mut counts = Counts {
            true_negatives: self.outside_rows,
            false_negatives: self.in_window_rows,
            ..Counts::default()
        };
        let mut detected_windows = 0;
        let mut rows = Vec::new();
        let mut threshold = self.no_detection_threshold;
        for point in &self.points {
            if point.anomaly_score != threshold {
                if std::mem::take(&mut windows_changed) {
                    windows_sum = window_part.iter().sum();
                }
                rows.push(ThresholdScore {
                    threshold,
                    score: fp_sum + windows_sum,
                    counts,
                    detected_windows,
                });
                threshold = point.anomaly_score;
            }
            match point.window {
                Some(w) => {
                    counts.true_positives += 1;
                    counts.false_negatives -= 1;
                    let part = &mut window_part[w as usize];
                    if *part == -costs.fn_weight {
                        detected_windows += 1;
                    }
                    let value = point.unweighted * costs.tp_weight / max_tp;
                    if value > *part {
                        *part = value;
                        windows_changed = true;
                    }
                }
                None => {
                    counts.false_positives += 1;
                    counts.true_negatives -= 1;
                    fp_sum += point.unweighted * costs.fp_weight;
                }
            }
        }
        if windows_changed {
            windows_sum = window_part.iter().sum();
        }
        rows.push(ThresholdScore {
            threshold,
            score: fp_sum + windows_sum,
            counts,
            detected_windows,
        });
        let perfect_score = self
            .window_best
            .iter()
            .map(|best| best * costs.tp_weight / max_tp)
            .sum();
        ThresholdCurve {
            profile: profile.name.clone(),
            rows,
            null_score: -costs.fn_weight * self.window_best.len() as f64,
            perfect_score,
            scored_windows: self.window_best.len(),
        }
    }

    /// Optimises the threshold for `profile` and scores at it.
    pub fn evaluate(&self, profile: &Profile, search: ThresholdSearch) -> ProfileResult {
        let curve = self.curve(profile);
        curve.result(curve.optimise(search))
    }

    /// Scores `profile` at a given threshold.
    pub fn evaluate_at(&self, profile: &Profile, threshold: f64) -> ProfileResult {
        let curve = self.curve(profile);
        curve.result(curve.at(threshold))
    }
}

/// The corpus score for one profile at every distinct threshold, highest threshold first.
#[derive(Debug, Clone)]
pub struct ThresholdCurve {
    profile: String,
    rows: Vec<ThresholdScore>,
    null_score: f64,
    perfect_score: f64,
    scored_windows: usize,
}

impl ThresholdCurve {
    /// One row per distinct anomaly score (plus the first, "never fire", row), by
    /// decreasing threshold.
    pub fn rows(&self) -> &[ThresholdScore] {
        &self.rows
    }

    /// Raw score of a detector that never fires.
    pub fn null_score(&self) -> f64 {
        self.null_score
    }

    /// Raw score of a detector firing at the first scorable row of every window.
    pub fn perfect_score(&self) -> f64 {
        self.perfect_score
    }

    /// The score when rows scoring `>= threshold` are detections, reported with
    /// `threshold` itself (the detections are those of the lowest distinct score
    /// `>= threshold`).
    pub fn at(&self, threshold: f64) -> ThresholdScore {
        let above = self.rows.partition_point(|r| r.threshold >= threshold);
        ThresholdScore {
            threshold,
            ..self.rows[above.saturating_sub(1)]
        }
    }

    /// The best row: highest score, highest threshold on ties (NAB's sweep optimiser).
    pub fn best(&self) -> ThresholdScore {
        let mut best = self.rows[0];
        for row in &self.rows[1..] {
            if row.score > best.score {
                best = *row;
            }
        }
        best
    }

    /// NAB's legacy hill-climbing optimiser, evaluated on this curve.
    pub fn twiddle(&self) -> ThresholdScore {
        let objective = |t: f64| {
            if (0.0..=1.0).contains(&t) {
                self.at(t).score
            } else {
                f64::NEG_INFINITY
            }
        };
        let tolerance = 1e-7;
        let mut tried: Vec<(f64, f64)> = Vec::new();
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut eval = |t: f64| -> f64 {
            let k = *index.entry(t.to_bits()).or_insert_with(|| {
                tried.push((t, objective(t)));
                tried.len() - 1
            });
            tried[k].1
        };
        let mut x = 0.5;
        let mut delta = 0.1;
        let mut best = eval(x);
        while delta > tolerance {
            x += delta;
            let score = eval(x);
            if score > best {
                best = score;
                delta *= 2.0;
            } else {
                x -= 2.0 * delta;
                let score = eval(x);
                if score > best {
                    best = score;
                    delta *= 2.0;
                } else {
                    x += delta;
                    delta *= 0.5;
                }
            }
        }
        // The first threshold tried among those with the best score.
        let (threshold, _) =
            tried
                .iter()
                .copied()
                .fold((f64::NAN, f64::NEG_INFINITY), |acc, (t, s)| {
                    if s > acc.1 { (t, s) } else { acc }
                });
        self.at(threshold)
    }

    /// The optimal threshold's row under `search`.
    pub fn optimise(&self, search: ThresholdSearch) -> ThresholdScore {
        match search {
            ThresholdSearch::Sweep => self.best(),
            ThresholdSearch::LegacyTwiddle => self.twiddle(),
        }
    }

    /// The [`ProfileResult`] for one row of this curve (e.g. from [`Self::at`]).
    pub fn result(&self, row: ThresholdScore) -> ProfileResult {
        ProfileResult {
            profile: self.profile.clone(),
            threshold: row.threshold,
            raw_score: row.score,
            normalised: normalise(row.score, self.null_score, self.perfect_score),
            null_score: self.null_score,
            perfect_score: self.perfect_score,
            counts: row.counts,
            scored_windows: self.scored_windows,
            detected_windows: row.detected_windows,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nab::series::Window;
    use chrono::{Duration, NaiveDate, NaiveDateTime};

    const EPS: f64 = 1e-12;

    fn stamps(n: usize) -> Vec<NaiveDateTime> {
        let t0 = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        (0..n)
            .map(|i| t0 + Duration::minutes(5 * i as i64))
            .collect()
    }

    fn series(n: usize, windows: &[(usize, usize)]) -> LabelledSeries {
        let windows = windows
            .iter()
            .map(|&(first_row, last_row)| Window {
                first_row,
                last_row,
            })
            .collect();
        LabelledSeries::from_row_windows("test", stamps(n), vec![0.0; n], windows).unwrap()
    }

    fn detections(n: usize, rows: &[usize]) -> Vec<f64> {
        (0..n)
            .map(|i| if rows.contains(&i) { 1.0 } else { 0.0 })
            .collect()
    }

    /// Raw score at threshold 0.5 without probation.
    fn raw(s: &LabelledSeries, rows: &[usize], profile: &Profile) -> ThresholdScore {
        let options = ScoringOptions {
            probation_fraction: 0.0,
        };
        let sweep = Sweep::new(
            std::slice::from_ref(s),
            &[detections(s.len(), rows)],
            &options,
        )
        .unwrap();
        sweep.curve(profile).at(0.5)
    }

    #[test]
    fn scaled_sigmoid_matches_nab_values() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_2).abs() < EPS);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957_512_9).abs() < EPS);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.986_614_298_151_430_2).abs() < EPS);
        // Up to 3 window widths the sigmoid is used, beyond that a flat -1.
        assert!(scaled_sigmoid(3.0) > -1.0);
        assert_eq!(scaled_sigmoid(3.000_001), -1.0);
        assert!(scaled_sigmoid(-0.2) > scaled_sigmoid(-0.1));
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750_rows() {
        assert_eq!(probationary_period(0, PROBATION_FRACTION), 0);
        assert_eq!(probationary_period(10, PROBATION_FRACTION), 1);
        assert_eq!(probationary_period(100, PROBATION_FRACTION), 15);
        assert_eq!(probationary_period(4032, PROBATION_FRACTION), 604);
        assert_eq!(probationary_period(5000, PROBATION_FRACTION), 750);
        assert_eq!(probationary_period(22695, PROBATION_FRACTION), 750);
        assert_eq!(probationary_period(22695, 0.0), 0);
    }

    #[test]
    fn no_windows_no_detections_scores_zero() {
        let s = series(10, &[]);
        let row = raw(&s, &[], &Profile::standard());
        assert_eq!(row.score, 0.0);
        assert_eq!(row.counts.true_negatives, 10);
    }

    #[test]
    fn missed_windows_cost_fn_weight_each() {
        let s = series(100, &[(10, 19), (50, 59)]);
        assert_eq!(raw(&s, &[], &Profile::standard()).score, -2.0);
        assert_eq!(raw(&s, &[], &Profile::reward_low_fn_rate()).score, -4.0);
        let row = raw(&s, &[], &Profile::standard());
        assert_eq!(row.counts.false_negatives, 20);
        assert_eq!(row.detected_windows, 0);
    }

    #[test]
    fn detection_at_window_start_is_worth_exactly_tp_weight() {
        let s = series(100, &[(10, 19)]);
        let row = raw(&s, &[10], &Profile::standard());
        assert_eq!(row.score, 1.0);
        assert_eq!(row.detected_windows, 1);
        assert_eq!(row.counts.true_positives, 1);
        assert_eq!(row.counts.false_negatives, 9);
    }

    #[test]
    fn earlier_detection_scores_higher_and_last_row_still_positive() {
        let s = series(100, &[(10, 19)]);
        let p = Profile::standard();
        let early = raw(&s, &[12], &p).score;
        let late = raw(&s, &[17], &p).score;
        let last = raw(&s, &[19], &p).score;
        assert!(1.0 > early && early > late && late > last && last > 0.0);
        // Position -(last - i + 1)/width, normalised by S(-1).
        let expected = scaled_sigmoid(-(19.0 - 17.0 + 1.0) / 10.0) / scaled_sigmoid(-1.0);
        assert!((late - expected).abs() < EPS);
    }

    #[test]
    fn only_the_first_detection_in_a_window_counts() {
        let s = series(100, &[(10, 19)]);
        let p = Profile::standard();
        let first = raw(&s, &[12], &p);
        let many = raw(&s, &[12, 13, 15, 19], &p);
        assert_eq!(first.score, many.score);
        assert_eq!(many.counts.true_positives, 4);
        assert_eq!(many.detected_windows, 1);
    }

    #[test]
    fn false_positives_are_weighted_by_distance_past_the_preceding_window() {
        // Window rows 2..=4 (width 3) in 8 rows, as in NAB's own synthetic check.
        let s = series(8, &[(2, 4)]);
        let p = Profile::standard();
        let fp = p.costs.fp_weight;
        // Before any window: the full cost.
        assert!((raw(&s, &[0], &p).score - (-1.0 - fp)).abs() < EPS);
        // Just after the window: relative position (i - last) / (width - 1).
        let after = raw(&s, &[5], &p).score;
        assert!((after - (-1.0 + fp * scaled_sigmoid(0.5))).abs() < EPS);
        let further = raw(&s, &[7], &p).score;
        assert!(further < after && after < -1.0);
        // Beyond three (width - 1) lengths: the full cost again.
        let long = series(40, &[(2, 4)]);
        assert!((raw(&long, &[20], &p).score - (-1.0 - fp)).abs() < EPS);
        // A TP plus an FP.
        let both = raw(&s, &[2, 5], &p).score;
        assert!((both - (1.0 + fp * scaled_sigmoid(0.5))).abs() < EPS);
        // The low-FP profile doubles the cost.
        let low_fp = raw(&s, &[0], &Profile::reward_low_fp_rate()).score;
        assert!((low_fp - (-1.0 - 0.22)).abs() < EPS);
    }

    #[test]
    fn probationary_rows_and_windows_are_ignored() {
        // 100 rows: rows 0..15 are probationary.
        let s = series(100, &[(5, 10), (40, 49)]);
        let options = ScoringOptions::default();
        let scores = detections(100, &[0, 3, 7, 14]);
        let sweep = Sweep::new(std::slice::from_ref(&s), &[scores], &options).unwrap();
        assert_eq!(sweep.scored_windows(), 1);
        let curve = sweep.curve(&Profile::standard());
        let row = curve.at(0.5);
        assert_eq!(row.score, -1.0);
        assert_eq!(row.counts.false_positives, 0);
        assert_eq!(row.counts.true_negatives + row.counts.false_negatives, 85);
        assert_eq!(curve.null_score(), -1.0);
        assert_eq!(curve.perfect_score(), 1.0);
        // A window straddling the end of probation is scored from its first scorable row.
        let s = series(100, &[(10, 19)]);
        let sweep = Sweep::new(&[s], &[detections(100, &[15])], &options).unwrap();
        let curve = sweep.curve(&Profile::standard());
        assert_eq!(sweep.scored_windows(), 1);
        assert!((curve.at(0.5).score - curve.perfect_score()).abs() < EPS);
        assert!(curve.perfect_score() < 1.0);
    }

    #[test]
    fn one_row_windows_do_not_divide_by_zero() {
        let s = series(20, &[(5, 5)]);
        let row = raw(&s, &[5, 6], &Profile::standard());
        assert!(row.score.is_finite());
        assert!((row.score - (1.0 + 0.11 * scaled_sigmoid(1.0))).abs() < EPS);
    }

    /// Brute force: the NAB per-threshold score computed from scratch.
    fn brute_force(
        series: &[LabelledSeries],
        scores: &[Vec<f64>],
        profile: &Profile,
        threshold: f64,
    ) -> f64 {
        let c = profile.costs;
        let mut total = 0.0;
        for (s, scores) in series.iter().zip(scores) {
            let probation = probationary_period(s.len(), PROBATION_FRACTION);
            for w in s.windows() {
                if w.last_row < probation {
                    continue;
                }
                let first =
                    (w.first_row.max(probation)..=w.last_row).find(|&i| scores[i] >= threshold);
                total += match first {
                    Some(i) => {
                        let pos = -((w.last_row - i + 1) as f64) / w.width() as f64;
                        scaled_sigmoid(pos) * c.tp_weight / scaled_sigmoid(-1.0)
                    }
                    None => -c.fn_weight,
                };
            }
            for (i, &score) in scores.iter().enumerate().skip(probation) {
                if score < threshold || s.windows().iter().any(|w| w.contains(i)) {
                    continue;
                }
                let prev = s.windows().iter().rev().find(|w| w.last_row < i);
                total += c.fp_weight
                    * match prev {
                        Some(w) => scaled_sigmoid((i - w.last_row) as f64 / (w.width() - 1) as f64),
                        None => -1.0,
                    };
            }
        }
        total
    }

    #[test]
    fn sweep_curve_matches_brute_force_on_random_series() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut all_series = Vec::new();
        let mut all_scores = Vec::new();
        for k in 0..6 {
            let n = 40 + 30 * k;
            let mut windows = Vec::new();
            let mut row = 5 + k;
            while row + 12 < n {
                let width = 2 + (next() * 8.0) as usize;
                windows.push((row, row + width - 1));
                row += width + 3 + (next() * 20.0) as usize;
            }
            all_series.push(series(n, &windows));
            // Coarse scores so that many rows share a threshold.
            all_scores.push(
                (0..n)
                    .map(|_| (next() * 20.0).floor() / 20.0)
                    .collect::<Vec<f64>>(),
            );
        }
        let sweep = Sweep::new(&all_series, &all_scores, &ScoringOptions::default()).unwrap();
        for profile in Profile::nab_profiles() {
            let curve = sweep.curve(&profile);
            assert_eq!(curve.rows()[0].threshold, NO_DETECTION_THRESHOLD);
            for row in curve.rows() {
                let expected = brute_force(&all_series, &all_scores, &profile, row.threshold);
                assert!(
                    (row.score - expected).abs() < 1e-9,
                    "{} at {}: {} vs {expected}",
                    profile.name,
                    row.threshold,
                    row.score
                );
            }
            let best = curve.best();
            assert!(curve.rows().iter().all(|r| r.score <= best.score));
        }
    }

    #[test]
    fn optimisation_picks_the_highest_threshold_among_ties() {
        // One window; scores 0.9 at its start, 0.8 on a probationary row only.
        let s = series(100, &[(50, 59)]);
        let mut scores = vec![0.1; 100];
        scores[50] = 0.9;
        scores[3] = 0.8;
        let result = score_corpus(&[s], &[scores], &Profile::standard()).unwrap();
        assert_eq!(result.threshold, 0.9);
        assert_eq!(result.raw_score, 1.0);
        assert_eq!(result.normalised, Some(100.0));
    }

    #[test]
    fn never_firing_is_threshold_1_1_and_normalises_to_zero() {
        let s = series(100, &[(50, 59)]);
        // Firing everywhere is worse than never firing.
        let result = score_corpus(&[s], &[vec![0.5; 100]], &Profile::standard()).unwrap();
        assert_eq!(result.threshold, NO_DETECTION_THRESHOLD);
        assert_eq!(result.raw_score, -1.0);
        assert_eq!(result.normalised, Some(0.0));
        assert_eq!(
            result.counts.true_positives + result.counts.false_positives,
            0
        );
    }

    #[test]
    fn profiles_weigh_outcomes_differently() {
        // A missed window, a detected window and two false positives.
        let s = series(200, &[(40, 49), (100, 109)]);
        let rows = [100, 150, 190];
        let std = raw(&s, &rows, &Profile::standard()).score;
        let low_fp = raw(&s, &rows, &Profile::reward_low_fp_rate()).score;
        let low_fn = raw(&s, &rows, &Profile::reward_low_fn_rate()).score;
        assert!(low_fp < std, "FPs cost twice as much");
        assert!(
            (low_fn - (std - 1.0)).abs() < EPS,
            "the FN costs 2 instead of 1"
        );
        assert_eq!(
            Profile::from_name("reward_low_FN_rate"),
            Some(Profile::reward_low_fn_rate())
        );
        assert_eq!(Profile::from_name("nope"), None);
    }

    #[test]
    fn scoring_at_a_threshold_uses_greater_or_equal() {
        let s = series(100, &[(50, 59)]);
        let mut scores = vec![0.0; 100];
        scores[55] = 0.7;
        let at = |t| {
            score_corpus_at_threshold(
                std::slice::from_ref(&s),
                std::slice::from_ref(&scores),
                &Profile::standard(),
                t,
            )
            .unwrap()
        };
        assert_eq!(at(0.7).detected_windows, 1);
        assert_eq!(at(0.7).threshold, 0.7);
        assert_eq!(at(0.65).raw_score, at(0.7).raw_score);
        assert_eq!(at(0.700_000_1).detected_windows, 0);
        assert_eq!(at(5.0).raw_score, -1.0);
    }

    #[test]
    fn twiddle_finds_a_local_optimum() {
        let s = series(100, &[(50, 59)]);
        let mut scores = vec![0.0; 100];
        scores[50] = 0.55;
        let sweep = Sweep::new(&[s], &[scores], &ScoringOptions::default()).unwrap();
        let curve = sweep.curve(&Profile::standard());
        let found = curve.twiddle();
        assert_eq!(found.score, 1.0);
        assert!(found.threshold > 0.0 && found.threshold <= 0.55);
        assert_eq!(curve.optimise(ThresholdSearch::Sweep).threshold, 0.55);
    }

    #[test]
    fn mismatched_scores_are_rejected() {
        let s = series(10, &[]);
        let opts = ScoringOptions::default();
        assert!(Sweep::new(std::slice::from_ref(&s), &[vec![0.0; 9]], &opts).is_err());
        assert!(Sweep::new(std::slice::from_ref(&s), &Vec::<Vec<f64>>::new(), &opts).is_err());
        let mut nan = vec![0.0; 10];
        nan[3] = f64::NAN;
        assert!(Sweep::new(&[s], &[nan], &opts).is_err());
        assert_eq!(normalise(1.0, -1.0, -1.0), None);
    }
}
