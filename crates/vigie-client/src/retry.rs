//! Retries with exponential backoff and full jitter, for what a retry can fix: network
//! errors, 5xx and 429 (whose `Retry-After` is honoured). Other answers are returned at
//! once. Resending a batch of readings is safe: the server deduplicates.

use std::time::Duration;

use rand::Rng;

use crate::Error;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first delay; it doubles at each attempt.
    pub base_delay: Duration,
    /// Longest delay between attempts (and longest `Retry-After` honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`: uniform in `[0, min(max, base·2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// Sends the request `build` makes, retrying per `policy`; returns the last answer.
pub(crate) async fn send(
    policy: &RetryPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, Error> {
    let mut attempt = 1;
    loop {
        let delay = match build().send().await {
            Ok(response) => {
                let status = response.status();
                let retryable =
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !retryable || attempt >= policy.max_attempts {
                    return Ok(response);
                }
                tracing::debug!(%status, attempt, "retrying");
                retry_after(&response).map_or_else(
                    || policy.backoff(attempt),
                    |wait| wait.min(policy.max_delay),
                )
            }
            Err(error) if attempt >= policy.max_attempts => return Err(Error::Http(error)),
            Err(error) => {
                tracing::debug!(%error, attempt, "retrying after a network error");
                policy.backoff(attempt)
            }
        };
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 1..=10 {
            let ceiling =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(policy.backoff(attempt) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(5)).collect();
        assert!(spread.len() > 10, "jittered");
    }
}
