//! A reproducible source of random numbers for synthetic data: tests, benchmarks and
//! the tuning example build their noisy series from it, so that a seed always gives the
//! same series on every machine.

/// Standard normal deviates from a seed (SplitMix64 for the uniforms, Box–Muller for
/// the normal ones). Not for anything that needs unpredictability.
#[derive(Debug, Clone)]
pub struct Gaussian(pub u64);

impl Gaussian {
    /// A uniform deviate in `(0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal deviate.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviates_are_reproducible_and_standard() {
        let mut a = Gaussian(7);
        let mut b = Gaussian(7);
        let draws: Vec<f64> = (0..20_000).map(|_| a.next()).collect();
        assert!(draws.iter().all(|&x| x == b.next()));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
    }
}
