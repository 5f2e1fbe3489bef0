//! What the model learns from normal rows, kept as running moments: each sensor's mean,
//! the covariance of all sensors (its packed upper triangle), how often each sensor was
//! present, and the range of its values. Rows are averaged equally until the memory is
//! reached, then forgotten exponentially at that memory, so one update serves the
//! learning phase (an exact mean and covariance) and the adaptation after it.
//!
//! A missing value counts as the sensor's mean: it moves no mean and adds nothing to a
//! covariance, and the fitted correlations are corrected for the rows without it
//! (`presence`), assuming a sensor's absences do not depend on its values.

use serde::{Deserialize, Serialize};

use super::linalg::{axpy, packed_len};

/// Largest magnitude of a value taken as it is; larger ones count as this (their
/// squares must not overflow).
const MAX_MAGNITUDE: f64 = 1e100;

/// Running moments of the rows learnt from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Moments {
    /// Rows learnt from, each at its weight: grows by one per row up to the memory.
    pub(crate) weight: f64,
    /// Each sensor's mean over the rows where it was present.
    pub(crate) mean: Vec<f64>,
    /// Packed upper triangle of the covariance (population), a missing value counting
    /// as the mean.
    pub(crate) covariance: Vec<f64>,
    /// Each sensor's weighted share of rows in which it was present.
    pub(crate) presence: Vec<f64>,
    /// Each sensor's smallest and largest value learnt.
    pub(crate) range: Vec<Option<[f64; 2]>>,
    /// The means of consecutive blocks of learnt rows, to measure slow variation.
    pub(crate) blocks: BlockMeans,
}

/// Blocks the learning phase is cut into (merged by two and four to measure slower
/// variation).
pub(crate) const BLOCKS: usize = 20;

/// The means of consecutive blocks of rows (batch means): how much they vary beyond
/// what the rows' own spread explains measures the slow part of the variation, which
/// a short learning phase has seen over few of its swings (module `directions`).
/// Means are kept from a fixed pivot (each sensor's first value), so that a sensor far
/// from 0 loses no precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BlockMeans {
    /// Rows per block.
    pub(crate) length: u64,
    /// Each sensor's first value.
    pivot: Vec<Option<f64>>,
    /// Each completed block's mean per sensor, from the pivot.
    pub(crate) completed: Vec<Vec<f64>>,
    /// The block being filled: its sums per sensor, from the pivot.
    current: Vec<f64>,
    /// Rows in the block being filled.
    rows: u64,
}

impl BlockMeans {
    fn new(sensors: usize, length: u64) -> Self {
        Self {
            length: length.max(1),
            pivot: vec![None; sensors],
            completed: Vec::new(),
            current: vec![0.0; sensors],
            rows: 0,
        }
    }

    /// Learns a row (`value` gives each sensor's value, `None` when missing: it counts
    /// as the sensor's mean).
    fn learn(&mut self, value: impl Fn(usize) -> Option<f64>, mean: &[f64]) {
        if self.completed.len() >= BLOCKS {
            return;
        }
        for (i, sum) in self.current.iter_mut().enumerate() {
            let value = value(i).unwrap_or(mean[i]);
            let pivot = *self.pivot[i].get_or_insert(value);
            *sum += value - pivot;
        }
        self.rows += 1;
        if self.rows == self.length {
            let n = self.rows as f64;
            self.completed
                .push(self.current.iter().map(|sum| sum / n).collect());
            self.current.iter_mut().for_each(|sum| *sum = 0.0);
            self.rows = 0;
        }
    }

    /// Each completed block's mean, standardised by `mean` and `scale` (0 for the
    /// sensors not `learnt`).
    pub(crate) fn standardised(
        &self,
        mean: &[f64],
        scale: &[f64],
        learnt: &[bool],
    ) -> Vec<Vec<f64>> {
        self.completed
            .iter()
            .map(|block| {
                (0..block.len())
                    .map(|i| {
                        let pivot = self.pivot[i].unwrap_or(mean[i]);
                        if learnt[i] {
                            (block[i] + pivot - mean[i]) / scale[i]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

impl Moments {
    /// Nothing learnt, for `sensors` sensors, whose learning phase has
    /// `learning_rows` rows.
    pub(crate) fn new(sensors: usize, learning_rows: u64) -> Self {
        Self {
            weight: 0.0,
            mean: vec![0.0; sensors],
            covariance: vec![0.0; packed_len(sensors)],
            presence: vec![0.0; sensors],
            range: vec![None; sensors],
            blocks: BlockMeans::new(sensors, learning_rows.div_ceil(BLOCKS as u64)),
        }
    }

    /// Bytes its vectors take.
    pub(crate) fn heap_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        (self.mean.capacity() + self.covariance.capacity() + self.presence.capacity()) * f
            + self.range.capacity() * std::mem::size_of::<Option<[f64; 2]>>()
            + self.blocks.pivot.capacity() * std::mem::size_of::<Option<f64>>()
            + self.blocks.current.capacity() * f
            + self
                .blocks
                .completed
                .iter()
                .map(|b| b.capacity() * f)
                .sum::<usize>()
    }

    /// The same, with nothing learnt.
    pub(crate) fn forgotten(&self) -> Self {
        Self::new(self.mean.len(), self.blocks.length * BLOCKS as u64)
    }

    /// Learns one row; `memory` is the most rows it remembers, `deviation` scratch space
    /// of one value per sensor.
    pub(crate) fn learn(&mut self, row: &[Option<f64>], memory: f64, deviation: &mut [f64]) {
        let p = self.mean.len();
        self.weight = (self.weight + 1.0).min(memory.max(1.0));
        let w = 1.0 / self.weight;
        for (i, d) in deviation.iter_mut().enumerate().take(p) {
            *d = match value_of(row, i) {
                // A sensor's first value is its mean: its deviation from a mean never
                // learnt would count in the covariance for ever.
                Some(value) if self.range[i].is_none() => {
                    self.presence[i] += w * (1.0 - self.presence[i]);
                    self.mean[i] = value;
                    self.range[i] = Some([value, value]);
                    0.0
                }
                Some(value) => {
                    self.presence[i] += w * (1.0 - self.presence[i]);
                    let d = value - self.mean[i];
                    // The mean moves only over the rows with the sensor present.
                    self.mean[i] += w / self.presence[i] * d;
                    if let Some([low, high]) = &mut self.range[i] {
                        *low = low.min(value);
                        *high = high.max(value);
                    }
                    d
                }
                None => {
                    self.presence[i] *= 1.0 - w;
                    0.0
                }
            };
        }
        // C ← (1 − w)(C + w d dᵀ): the exact population covariance while rows are
        // averaged equally (w = 1/n), exponential forgetting after.
        let keep = 1.0 - w;
        let mut offset = 0;
        for i in 0..p {
            let row = &mut self.covariance[offset..offset + p - i];
            axpy(w * deviation[i], &deviation[i..p], row);
            row.iter_mut().for_each(|c| *c *= keep);
            offset += p - i;
        }
        self.blocks.learn(|i| value_of(row, i), &self.mean);
    }
}

/// The value of sensor `i` in `row`, if present and finite (a non-finite value counts
/// as missing), clamped to [`MAX_MAGNITUDE`].
pub(crate) fn value_of(row: &[Option<f64>], i: usize) -> Option<f64> {
    row.get(i)
        .copied()
        .flatten()
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::linalg::packed_get;

    #[test]
    fn the_learnt_moments_are_the_exact_mean_and_covariance() {
        let rows: Vec<[f64; 3]> = (0..60)
            .map(|i| {
                let a = ((i * 37) % 11) as f64;
                [a, 2.0 * a + ((i * 13) % 5) as f64, ((i * 7) % 3) as f64]
            })
            .collect();
        let mut moments = Moments::new(3, 60);
        let mut scratch = vec![0.0; 3];
        for r in &rows {
            moments.learn(&r.map(Some), 1e9, &mut scratch);
        }
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..3)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        for i in 0..3 {
            assert!((moments.mean[i] - mean[i]).abs() < 1e-12);
            for j in 0..3 {
                let c: f64 = rows
                    .iter()
                    .map(|r| (r[i] - mean[i]) * (r[j] - mean[j]))
                    .sum::<f64>()
                    / n;
                assert!((packed_get(&moments.covariance, 3, i, j) - c).abs() < 1e-10);
            }
        }
        assert_eq!(moments.range[0], Some([0.0, 10.0]));
        // Twenty blocks of three rows, each one's mean from the first row.
        assert_eq!(moments.blocks.completed.len(), BLOCKS);
        let block: f64 = rows[3..6].iter().map(|r| r[0] - rows[0][0]).sum::<f64>() / 3.0;
        assert!((moments.blocks.completed[1][0] - block).abs() < 1e-12);
        let standardised =
            moments
                .blocks
                .standardised(&moments.mean, &[2.0; 3], &[true, true, false]);
        let expected = (rows[3..6].iter().map(|r| r[0]).sum::<f64>() / 3.0 - mean[0]) / 2.0;
        assert!((standardised[1][0] - expected).abs() < 1e-12);
        assert_eq!(standardised[1][2], 0.0);
    }

    #[test]
    fn a_sensor_first_seen_late_adds_nothing_but_its_own_spread() {
        let mut moments = Moments::new(2, 100);
        let mut scratch = vec![0.0; 2];
        for i in 0..100 {
            let wave = if i % 2 == 0 { 1.0 } else { -1.0 };
            let row = [Some(wave), (i >= 10).then_some(500.0 + wave)];
            moments.learn(&row, 1e9, &mut scratch);
        }
        // 90 values of ±1 around 500: variance 1 over the rows present.
        let variance = packed_get(&moments.covariance, 2, 1, 1) / moments.presence[1];
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
        assert!((moments.mean[1] - 500.0).abs() < 0.05);
    }

    #[test]
    fn a_missing_value_moves_no_mean_and_lowers_the_presence() {
        let mut moments = Moments::new(2, 10);
        let mut scratch = vec![0.0; 2];
        for i in 0..10 {
            let row = [
                Some(f64::from(i)),
                (i % 2 == 0).then_some(5.0 + f64::from(i)),
            ];
            moments.learn(&row, 1e9, &mut scratch);
        }
        assert!((moments.mean[0] - 4.5).abs() < 1e-12);
        assert!((moments.mean[1] - 9.0).abs() < 1e-12, "{:?}", moments.mean);
        assert!((moments.presence[1] - 0.5).abs() < 1e-12);
        assert!(value_of(&[Some(f64::NAN)], 0).is_none());
        assert!(value_of(&[Some(f64::INFINITY)], 0).is_none());
        assert_eq!(value_of(&[Some(1e300)], 0), Some(MAX_MAGNITUDE));
    }
}
