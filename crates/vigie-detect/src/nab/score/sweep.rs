//! The sweep: every scorable row placed relative to the windows once, sorted by anomaly
//! score, then walked once per profile to give the corpus score at every threshold.

use std::collections::HashMap;

use super::*;

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
