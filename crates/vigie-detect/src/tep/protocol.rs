//! The evaluation protocol of `shared/data/tep/README.md`, written out before the code.
//!
//! 1. A detector is given the 500 normal rows of `d00.dat` as history, then the 960
//!    rows of one test file, in time order (a fresh detector per test file). Nothing
//!    is learnt from labels.
//! 2. **Normal rows** are all 960 rows of `d00_te.dat` and rows 1–160 of each of the 21
//!    fault files: 4,320 rows. One threshold serves the whole set: the lowest that
//!    flags at most 5 % of them (216 rows). A row is flagged when its score is at or
//!    above the threshold, so the threshold is the smallest number above the 217th
//!    highest normal score: no lower one keeps the false alarms within 5 %, and any
//!    higher one would only flag fewer fault rows. The **false alarm rate** (FAR) is
//!    the share of normal rows flagged (at most 5 %, less with ties).
//! 3. The **detection rate** of fault NN is the share of rows 161–960 of `dNN_te.dat`
//!    flagged; the summary is the mean over the 18 faults other than 3, 9 and 15
//!    (known to be practically undetectable from these variables).
//! 4. The **detection delay**: rows are 3 minutes apart, row `k` (from 1) at `3k`
//!    minutes, and the fault starts at 8 h (480 min, just after row 160). The delay is
//!    `3k − 480` minutes for the first row `k ≥ 161` that starts three consecutive
//!    flagged rows (so 3 minutes at best); none if there is no such row.

use serde::Serialize;

use super::data::{FAULTS, TEST_ROWS};

/// Rows of each test file before its fault starts.
pub const FAULT_START_ROW: usize = 160;
/// The largest share of normal rows flagged.
pub const ALLOWED_FALSE_ALARMS: f64 = 0.05;
/// The faults left out of the mean: practically undetectable from these variables.
pub const UNDETECTABLE: [usize; 3] = [3, 9, 15];
/// Minutes between rows.
pub const ROW_MINUTES: f64 = 3.0;

/// A detector's scores on the test files, one per row.
#[derive(Debug, Clone, PartialEq)]
pub struct TepScores {
    /// On `d00_te.dat`.
    pub normal: Vec<f64>,
    /// On `d01_te.dat` … `d21_te.dat` (index 0 is fault 1).
    pub faults: Vec<Vec<f64>>,
}

/// One fault's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultResult {
    /// The fault's number (1 to 21).
    pub fault: usize,
    /// Share of its faulty rows flagged.
    pub detection_rate: f64,
    /// Minutes from its start to the first of three consecutive flagged rows.
    pub delay_minutes: Option<f64>,
    /// Whether it counts in the mean (all but 3, 9 and 15).
    pub counted: bool,
}

/// A detector's result under the protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TepResult {
    /// The detector's name.
    pub method: String,
    /// The threshold chosen on the normal rows.
    pub threshold: f64,
    /// Share of the normal rows flagged at it.
    pub false_alarm_rate: f64,
    /// Mean detection rate over the 18 counted faults.
    pub mean_detection_rate: f64,
    /// Every fault's result, in order.
    pub faults: Vec<FaultResult>,
}

impl TepResult {
    /// Fault `number`'s result (1 to 21).
    pub fn fault(&self, number: usize) -> &FaultResult {
        &self.faults[number - 1]
    }
}

/// Scores a detector by the protocol.
///
/// # Panics
/// If `scores` does not hold 960 scores for the normal file and each of the 21 fault
/// files (a programming error: the files were checked when read).
pub fn evaluate(method: &str, scores: &TepScores) -> TepResult {
    evaluate_at(
        method,
        scores,
        threshold(&normal_rows(scores), ALLOWED_FALSE_ALARMS),
    )
}

/// The normal rows' scores (protocol step 2).
fn normal_rows(scores: &TepScores) -> Vec<f64> {
    assert_eq!(scores.normal.len(), TEST_ROWS);
    assert_eq!(scores.faults.len(), FAULTS);
    assert!(scores.faults.iter().all(|f| f.len() == TEST_ROWS));
    scores
        .normal
        .iter()
        .chain(scores.faults.iter().flat_map(|f| &f[..FAULT_START_ROW]))
        .copied()
        .collect()
}

/// Scores a detector by the protocol's rules at a threshold fixed in advance (such as
/// the service's), instead of the one that flags 5 % of the normal rows.
///
/// # Panics
/// As [`evaluate`].
pub fn evaluate_at(method: &str, scores: &TepScores, threshold: f64) -> TepResult {
    let normal = normal_rows(scores);
    let flagged = |score: f64| score >= threshold;
    let false_alarm_rate =
        normal.iter().filter(|&&s| flagged(s)).count() as f64 / normal.len() as f64;
    let faults: Vec<FaultResult> = scores
        .faults
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let faulty = &file[FAULT_START_ROW..];
            let detection_rate =
                faulty.iter().filter(|&&s| flagged(s)).count() as f64 / faulty.len() as f64;
            let first = (FAULT_START_ROW..file.len().saturating_sub(2))
                .find(|&row| file[row..row + 3].iter().all(|&s| flagged(s)));
            FaultResult {
                fault: index + 1,
                detection_rate,
                // Row index `row` (from 0) is row `row + 1`, at 3 (row + 1) minutes.
                delay_minutes: first.map(|row| {
                    ROW_MINUTES * (row + 1) as f64 - ROW_MINUTES * FAULT_START_ROW as f64
                }),
                counted: !UNDETECTABLE.contains(&(index + 1)),
            }
        })
        .collect();
    let counted: Vec<f64> = faults
        .iter()
        .filter(|f| f.counted)
        .map(|f| f.detection_rate)
        .collect();
    TepResult {
        method: method.to_owned(),
        threshold,
        false_alarm_rate,
        mean_detection_rate: counted.iter().sum::<f64>() / counted.len() as f64,
        faults,
    }
}

/// The lowest threshold that flags (`>=`) at most `share` of `scores`.
fn threshold(scores: &[f64], share: f64) -> f64 {
    let allowed = (share * scores.len() as f64).floor() as usize;
    let mut sorted = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    match sorted.get(allowed) {
        Some(&first_unflagged) => first_unflagged.next_up(),
        None => f64::NEG_INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A brute-force threshold: the lowest candidate that keeps the share.
    fn brute_force(scores: &[f64], share: f64) -> f64 {
        let allowed = (share * scores.len() as f64).floor() as usize;
        let mut candidates: Vec<f64> = scores.iter().map(|s| s.next_up()).collect();
        candidates.sort_by(f64::total_cmp);
        *candidates
            .iter()
            .find(|&&t| scores.iter().filter(|&&s| s >= t).count() <= allowed)
            .unwrap()
    }

    #[test]
    fn the_threshold_is_the_lowest_within_the_allowance() {
        let scores: Vec<f64> = (0..400).map(|i| ((i * 7919) % 97) as f64 / 10.0).collect();
        for share in [0.0, 0.05, 0.2] {
            assert_eq!(threshold(&scores, share), brute_force(&scores, share));
        }
    }

    #[test]
    fn rates_and_delays_follow_the_rules() {
        // Normal rows score 0 except 216 of them at 1: the threshold sits just above the
        // 217th highest (a 0), so the flagged 1s are exactly 5 %.
        let mut normal = vec![0.0; TEST_ROWS];
        normal[..216].iter_mut().for_each(|s| *s = 1.0);
        let mut faults = vec![vec![0.0; TEST_ROWS]; FAULTS];
        // Fault 1: flagged from row 171 (index 170) on, with a lone flag before.
        faults[0][165] = 2.0;
        faults[0][170..].iter_mut().for_each(|s| *s = 2.0);
        let result = evaluate("test", &TepScores { normal, faults });
        assert_eq!(result.false_alarm_rate, 0.05);
        assert!(result.threshold > 0.0 && result.threshold <= 1.0);
        let first = result.fault(1);
        assert_eq!(first.detection_rate, 791.0 / 800.0);
        assert_eq!(first.delay_minutes, Some(33.0));
        assert_eq!(result.fault(2).delay_minutes, None);
        assert!(!result.fault(3).counted && result.fault(4).counted);
        assert!((result.mean_detection_rate - 791.0 / 800.0 / 18.0).abs() < 1e-12);
    }
}
