//! The model's short memory: exponentially weighted means, over the last
//! `1 / smoothing` rows or so, of the per-row statistic of the fast and of the slow
//! directions (what the health is calibrated from), of each
//! sensor's contribution, and of each sensor's standardised value and its square (what
//! the explanation reads: has the sensor left its range, or does it swing within it).
//!
//! Smoothing the squared distance rather than the row itself (as MEWMA does) keeps
//! the statistic high for a fault that makes readings erratic without moving their
//! mean, as well as for a shift; on TEP it is what lifts the detection of the random
//! variation and sticky valve faults (module `asset`).

use serde::{Deserialize, Serialize};

use super::calibration::{PARTS, RowStatistic};
use super::normal::RowFit;

/// Exponentially weighted means of what one row shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Smoothed {
    /// The smoothed per-row statistic of each part (fast, slow directions).
    pub(crate) statistic: [f64; PARTS],
    /// Each sensor's smoothed contribution.
    pub(crate) contributions: Vec<f64>,
    /// Each sensor's smoothed standardised value.
    pub(crate) levels: Vec<f64>,
    /// Each sensor's smoothed squared standardised value.
    pub(crate) squares: Vec<f64>,
}

impl Smoothed {
    /// At rest: the statistic at its normal mean `start`, nothing contributed, every
    /// sensor at its mean with its normal spread.
    pub(crate) fn new(sensors: usize, start: [f64; PARTS]) -> Self {
        Self {
            statistic: start,
            contributions: vec![0.0; sensors],
            levels: vec![0.0; sensors],
            squares: vec![1.0; sensors],
        }
    }

    /// Takes one row: its statistic, and its fit, whose contributions count at the
    /// statistic's weight (the share of the row's distance the cap kept).
    pub(crate) fn update(&mut self, lambda: f64, statistic: &RowStatistic, fit: &RowFit) {
        let keep = 1.0 - lambda;
        for (smoothed, ratio) in self.statistic.iter_mut().zip(statistic.ratios) {
            *smoothed = keep * *smoothed + lambda * ratio;
        }
        for (i, contribution) in self.contributions.iter_mut().enumerate() {
            *contribution = keep * *contribution + lambda * statistic.weight * fit.contribution(i);
        }
        // A missing sensor's level and spread hold still: its imputed value says
        // nothing of its own.
        for (i, present) in fit.present.iter().enumerate() {
            if *present {
                let x = fit.x[i];
                self.levels[i] = keep * self.levels[i] + lambda * x;
                self.squares[i] = keep * self.squares[i] + lambda * x * x;
            }
        }
    }

    /// Bytes its vectors take.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.contributions.capacity() + self.levels.capacity() + self.squares.capacity())
            * std::mem::size_of::<f64>()
    }

    /// Each sensor's share of the smoothed contributions (all 0 when there are none).
    pub(crate) fn shares(&self) -> Vec<f64> {
        let total: f64 = self.contributions.iter().sum();
        if total > 0.0 && total.is_finite() {
            self.contributions.iter().map(|c| c / total).collect()
        } else {
            vec![0.0; self.contributions.len()]
        }
    }
}
