//! A table of counts that decay over time, in fixed memory: the novelty features (the
//! context of values and the shape of steps) ask it how often a key was seen lately.
//!
//! Decaying every count at every point would cost the whole table per reading; instead
//! the increment grows by `1 / (1 - decay)` per point, which is the same up to a common
//! factor, and the table is renormalised once that factor grows large.

use serde::{Deserialize, Serialize};

use super::state::fixed_len;

/// Decayed counts of `N` slots: a count of `table[slot] / unit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DecayingCounts<const N: usize> {
    /// The counts, scaled by `unit`.
    #[serde(deserialize_with = "fixed_len::<_, _, N>")]
    table: Vec<f64>,
    /// What one visit adds now.
    unit: f64,
}

impl<const N: usize> Default for DecayingCounts<N> {
    fn default() -> Self {
        Self::from_parts(vec![0.0; N], 1.0)
    }
}

impl<const N: usize> DecayingCounts<N> {
    /// The table `table` (counts scaled by `unit`), of length `N`.
    pub(super) fn from_parts(table: Vec<f64>, unit: f64) -> Self {
        debug_assert_eq!(table.len(), N);
        Self { table, unit }
    }

    /// Novelty of `slot`, `1 / (1 + its decayed count)`, before this visit; then
    /// counts the visit and decays every count by `decay`.
    pub(super) fn visit(&mut self, slot: usize, decay: f64) -> f64 {
        let count = self.table[slot] / self.unit;
        self.table[slot] += self.unit;
        self.unit /= 1.0 - decay;
        if self.unit > 1e100 {
            for v in &mut self.table {
                *v /= self.unit;
            }
            self.unit = 1.0;
        }
        1.0 / (1.0 + count)
    }

    /// Bytes of the table, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(self.table.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_decay_and_survive_renormalisation() {
        let mut counts = DecayingCounts::<4>::default();
        assert_eq!(counts.visit(1, 0.5), 1.0, "never seen");
        // One visit, decayed by half once: a count of 0.5.
        assert_eq!(counts.visit(1, 0.5), 1.0 / 1.5);
        // 400 halvings push the unit past 1e100 and renormalise the table; the
        // counts stay what they were.
        for _ in 0..400 {
            counts.visit(2, 0.5);
        }
        assert!(counts.unit < 1e100);
        assert!((counts.visit(2, 0.5) - 0.5).abs() < 1e-12, "a count of 1");
        assert_eq!(counts.visit(1, 0.5), 1.0, "decayed to nothing");
    }
}
