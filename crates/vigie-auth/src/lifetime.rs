//! The access-token lifetime policy. The public docs say the lifetime "can change
//! depending on the load"; here *load* is the token-issuance rate of this server over
//! the last minute. Every token costs a signature and a durable write, and a burst of
//! token requests (a fleet reconnecting after an outage, clients that fetch a token per
//! call) is exactly when the token endpoint is the bottleneck. Under such load the
//! lifetime stretches, linearly from the base lifetime at `load_low` tokens/s to the
//! maximum at `load_high` tokens/s, so the clients come back for a new token less
//! often. It never goes below the configured base lifetime (no client is surprised
//! earlier than the documented default) nor above the maximum (a leaked token's
//! exposure stays bounded; revocation still works at any time).

use std::sync::Mutex;

use vigie_store::Millis;

/// Bounds and thresholds of the load-adaptive lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifetimePolicy {
    /// Lifetime at or below `load_low`, in seconds.
    pub base_seconds: u64,
    /// Lifetime at or above `load_high`, in seconds.
    pub max_seconds: u64,
    /// Issuance rate (tokens/s over the last minute) up to which the base lifetime applies.
    pub load_low: f64,
    /// Issuance rate from which the maximum lifetime applies.
    pub load_high: f64,
}

impl LifetimePolicy {
    /// The lifetime, in whole seconds, for the given issuance rate.
    pub fn lifetime_seconds(&self, tokens_per_second: f64) -> u64 {
        let max = self.max_seconds.max(self.base_seconds);
        if tokens_per_second <= self.load_low || self.load_high <= self.load_low {
            return if tokens_per_second > self.load_low {
                max
            } else {
                self.base_seconds
            };
        }
        let share =
            ((tokens_per_second - self.load_low) / (self.load_high - self.load_low)).min(1.0);
        self.base_seconds + ((max - self.base_seconds) as f64 * share).round() as u64
    }
}

const WINDOW_SECONDS: usize = 60;

/// Tokens issued per second, over a sliding window of the last minute.
#[derive(Debug)]
pub struct IssuanceRate {
    /// `(second, count)` per slot; a slot whose second is stale counts as empty.
    slots: Mutex<[(i64, u32); WINDOW_SECONDS]>,
}

impl Default for IssuanceRate {
    fn default() -> Self {
        Self {
            slots: Mutex::new([(i64::MIN, 0); WINDOW_SECONDS]),
        }
    }
}

impl IssuanceRate {
    /// Counts one issued token at `now` and returns the rate including it.
    pub fn record(&self, now: Millis) -> f64 {
        let second = now.div_euclid(1000);
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = &mut slots[second.rem_euclid(WINDOW_SECONDS as i64) as usize];
        if slot.0 == second {
            slot.1 += 1;
        } else {
            *slot = (second, 1);
        }
        let recent: u64 = slots
            .iter()
            .filter(|(s, _)| second.saturating_sub(*s) < WINDOW_SECONDS as i64)
            .map(|&(_, count)| u64::from(count))
            .sum();
        recent as f64 / WINDOW_SECONDS as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LifetimePolicy = LifetimePolicy {
        base_seconds: 172_800,
        max_seconds: 345_600,
        load_low: 50.0,
        load_high: 500.0,
    };

    #[test]
    fn base_lifetime_under_low_load() {
        assert_eq!(POLICY.lifetime_seconds(0.0), 172_800);
        assert_eq!(POLICY.lifetime_seconds(50.0), 172_800);
    }

    #[test]
    fn lifetime_stretches_linearly_then_caps() {
        assert_eq!(POLICY.lifetime_seconds(275.0), 259_200);
        assert_eq!(POLICY.lifetime_seconds(500.0), 345_600);
        assert_eq!(POLICY.lifetime_seconds(1e9), 345_600);
    }

    #[test]
    fn max_below_base_means_fixed_lifetime() {
        let fixed = LifetimePolicy {
            max_seconds: 10,
            ..POLICY
        };
        assert_eq!(fixed.lifetime_seconds(1e6), 172_800);
    }

    #[test]
    fn rate_counts_the_last_minute_only() {
        let rate = IssuanceRate::default();
        for i in 0..600 {
            rate.record(i * 100); // 10 tokens/s for one minute
        }
        let now_rate = rate.record(60_000);
        // Second 0 has left the window; second 60 holds one token.
        assert!((now_rate - 591.0 / 60.0).abs() < 1e-9, "{now_rate}");
        let later = rate.record(200_000);
        assert!((later - 1.0 / 60.0).abs() < 1e-9, "{later}");
    }
}
