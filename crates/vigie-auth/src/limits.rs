//! Rate limiting of failed client authentication, per application id and per source
//! address. Only *failures* are counted and only failures are refused: a request that
//! presents the right secret is always served, so an attacker hammering a client id (or
//! sharing a NAT address with a plant) cannot lock the legitimate client out. Refused
//! failures answer 429 with `Retry-After` instead of 401. Secrets carry 256 bits of
//! entropy, so the limiter is about resource use and noise, not guessability.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Allowed failed authentications per minute (bursts up to the same number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureQuota {
    /// Per presented client id (known or not).
    pub per_client_id: NonZeroU32,
    /// Per source address.
    pub per_address: NonZeroU32,
}

impl Default for FailureQuota {
    fn default() -> Self {
        Self {
            per_client_id: NonZeroU32::new(20).unwrap(),
            per_address: NonZeroU32::new(60).unwrap(),
        }
    }
}

/// Counts failed authentications and says when to refuse them.
pub struct FailureLimiter {
    by_client_id: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl FailureLimiter {
    /// A limiter with the given quotas.
    pub fn new(quota: FailureQuota) -> Self {
        Self {
            by_client_id: RateLimiter::keyed(Quota::per_minute(quota.per_client_id)),
            by_address: RateLimiter::keyed(Quota::per_minute(quota.per_address)),
        }
    }

    /// Records one failure; returns how long to wait when it is over a quota.
    pub fn record_failure(&self, client_id: &str, address: IpAddr) -> Option<Duration> {
        let now = DefaultClock::default().now();
        let by_address = self
            .by_address
            .check_key(&address)
            .err()
            .map(|n| n.wait_time_from(now));
        // An address over its quota adds no ids to the table: otherwise one address
        // sending a new id with each request would grow it without bound.
        if by_address.is_some() {
            return by_address;
        }
        // Long ids are cut so an attacker cannot make the table hold large keys.
        let key: String = client_id.chars().take(128).collect();
        let by_id = self
            .by_client_id
            .check_key(&key)
            .err()
            .map(|n| n.wait_time_from(now));
        by_address.into_iter().chain(by_id).max()
    }

    /// Forgets entries that are back to a full quota, bounding memory.
    pub fn forget_idle(&self) {
        self.by_client_id.retain_recent();
        self.by_address.retain_recent();
        self.by_client_id.shrink_to_fit();
        self.by_address.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_failures_over_quota_per_id_and_per_address() {
        let quota = FailureQuota {
            per_client_id: NonZeroU32::new(3).unwrap(),
            per_address: NonZeroU32::new(5).unwrap(),
        };
        let limiter = FailureLimiter::new(quota);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.record_failure("victim", a), None);
        }
        let wait = limiter
            .record_failure("victim", b)
            .expect("the id is over its quota from any address");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60));
        assert_eq!(
            limiter.record_failure("other", a),
            None,
            "address a has used 4 of 5"
        );
        assert_eq!(
            limiter.record_failure("third", a),
            None,
            "address a has used 5 of 5"
        );
        assert!(
            limiter.record_failure("fourth", a).is_some(),
            "address a is over its quota for any id"
        );
    }

    #[test]
    fn an_address_over_quota_cannot_grow_the_table_of_ids() {
        let limiter = FailureLimiter::new(FailureQuota {
            per_client_id: NonZeroU32::new(3).unwrap(),
            per_address: NonZeroU32::new(5).unwrap(),
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for n in 0..10_000 {
            limiter.record_failure(&format!("invented-{n}"), a);
        }
        assert_eq!(
            limiter.by_client_id.len(),
            5,
            "only the failures within quota"
        );
    }
}
