//! The README's reference detector, exactly: principal component analysis of the
//! normal history standardised by its own mean and (sample) deviation, 9 components;
//! a row's score is the larger of Hotelling's `T²` on the components and the `Q`
//! residual (squared distance to the component plane), each divided by its 99th
//! percentile on the history itself (linear interpolation between order statistics).
//! It learns once, from the history, and never adapts.

use crate::asset::symmetric_eigen;

use super::data::Rows;

/// Components kept.
pub const COMPONENTS: usize = 9;

/// A PCA model of the normal history.
#[derive(Debug, Clone)]
pub struct PcaReference {
    mean: Vec<f64>,
    deviation: Vec<f64>,
    /// The leading eigenvalues of the correlation matrix.
    variances: Vec<f64>,
    /// Their eigenvectors, one per entry.
    loadings: Vec<Vec<f64>>,
    t2_limit: f64,
    q_limit: f64,
}

impl PcaReference {
    /// Fits the reference to the normal history, keeping `components` components.
    ///
    /// # Panics
    /// If `history` has fewer than two rows or `components` exceeds its width.
    pub fn fit(history: &Rows, components: usize) -> Self {
        let n = history.len();
        let p = history[0].len();
        assert!(n >= 2 && components <= p);
        let mean: Vec<f64> = (0..p)
            .map(|j| history.iter().map(|r| r[j]).sum::<f64>() / n as f64)
            .collect();
        let deviation: Vec<f64> = (0..p)
            .map(|j| {
                let ss: f64 = history.iter().map(|r| (r[j] - mean[j]).powi(2)).sum();
                (ss / (n - 1) as f64).sqrt()
            })
            .collect();
        let standardised: Rows = history
            .iter()
            .map(|r| standardise(r, &mean, &deviation))
            .collect();
        let mut covariance = vec![0.0; p * p];
        for r in &standardised {
            for i in 0..p {
                for j in 0..p {
                    covariance[i * p + j] += r[i] * r[j] / (n - 1) as f64;
                }
            }
        }
        let (values, vectors) = symmetric_eigen(&covariance, p);
        let mut model = Self {
            mean,
            deviation,
            variances: values[..components].to_vec(),
            loadings: (0..components)
                .map(|c| (0..p).map(|i| vectors[i * p + c]).collect())
                .collect(),
            t2_limit: 1.0,
            q_limit: 1.0,
        };
        let statistics: Vec<(f64, f64)> =
            standardised.iter().map(|x| model.statistics(x)).collect();
        model.t2_limit = percentile(statistics.iter().map(|s| s.0).collect(), 0.99);
        model.q_limit = percentile(statistics.iter().map(|s| s.1).collect(), 0.99);
        model
    }

    /// (`T²`, `Q`) of a standardised row.
    fn statistics(&self, x: &[f64]) -> (f64, f64) {
        let mut t2 = 0.0;
        let mut residual = x.to_vec();
        for (loading, variance) in self.loadings.iter().zip(&self.variances) {
            let t: f64 = loading.iter().zip(x).map(|(l, v)| l * v).sum();
            t2 += t * t / variance;
            for (r, l) in residual.iter_mut().zip(loading) {
                *r -= t * l;
            }
        }
        (t2, residual.iter().map(|r| r * r).sum())
    }

    /// A row's score: `max(T² / T²₉₉, Q / Q₉₉)`.
    pub fn score(&self, row: &[f64]) -> f64 {
        let (t2, q) = self.statistics(&standardise(row, &self.mean, &self.deviation));
        (t2 / self.t2_limit).max(q / self.q_limit)
    }
}

fn standardise(row: &[f64], mean: &[f64], deviation: &[f64]) -> Vec<f64> {
    row.iter()
        .zip(mean)
        .zip(deviation)
        .map(|((v, m), d)| (v - m) / d)
        .collect()
}

/// The `q` quantile by linear interpolation between order statistics (NumPy's default).
fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    values[low] + (values[high] - values[low]) * (position - low as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_interpolates() {
        assert_eq!(percentile(vec![3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert_eq!(percentile((0..101).map(f64::from).collect(), 0.99), 99.0);
    }

    #[test]
    fn a_row_off_the_plane_scores_by_its_residual() {
        // Two sensors moving together: one component.
        let history: Rows = (0..200)
            .map(|i| {
                let a = ((i * 37) % 23) as f64;
                let noise = ((i * 11) % 7) as f64 / 70.0;
                vec![a, a + noise]
            })
            .collect();
        let pca = PcaReference::fit(&history, 1);
        let typical = pca.score(&history[10]);
        // The pair broken apart, each within its range: far off the line.
        let broken = pca.score(&[5.0, 15.0]);
        assert!(
            typical < 2.0 && broken > 10.0 * typical,
            "{typical} {broken}"
        );
    }
}
