//! When a failed delivery is tried again. Any answer but a 2xx, a timeout or a failed
//! connection is retried: after 5 s, then twice as long each time up to an hour, each
//! delay drawn between its half and its whole (so receivers that failed together are
//! not called again together), never sooner than the receiver's `Retry-After`, and not
//! after 24 hours from the first attempt: the notification is then given up (and
//! recorded as such).

use std::time::Duration;

/// The first delay.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest delay between two attempts.
pub const LONGEST_DELAY: Duration = Duration::from_secs(3_600);
/// How long after its first attempt a notification is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this long.
    RetryIn(Duration),
    /// Stop: the next attempt would come more than [`GIVE_UP_AFTER`] after the first.
    GiveUp,
}

/// The next step after `failures` failed attempts (1 after the first), the first one
/// `since_first` ago, given the receiver's `Retry-After` if it sent one and `random`,
/// a number drawn uniformly in `[0, 1)`.
pub fn after_failure(
    failures: u32,
    since_first: Duration,
    retry_after: Option<Duration>,
    random: f64,
) -> Next {
    let exponent = failures.saturating_sub(1).min(20);
    let delay = FIRST_DELAY.saturating_mul(1 << exponent).min(LONGEST_DELAY);
    let jittered = delay.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0));
    let wait = retry_after.map_or(jittered, |asked| asked.max(jittered));
    if since_first.saturating_add(wait) > GIVE_UP_AFTER {
        Next::GiveUp
    } else {
        Next::RetryIn(wait)
    }
}

/// A `Retry-After` header's wait (RFC 9110 §10.2.3): seconds, or an HTTP date (taken
/// relative to `now`, Unix seconds; a date in the past is no wait). `None` when it is
/// neither.
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(Duration::from_secs(
        u64::try_from(date.timestamp() - now).unwrap_or(0),
    ))
}

/// Whether an answer's status means delivered.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn delays_double_from_five_seconds_up_to_an_hour_with_jitter() {
        let at = |failures, random| after_failure(failures, S(0), None, random);
        assert_eq!(
            at(1, 0.999_999),
            Next::RetryIn(FIRST_DELAY.mul_f64(0.999_999_5))
        );
        assert_eq!(at(1, 0.0), Next::RetryIn(S(5) / 2));
        assert_eq!(at(2, 0.0), Next::RetryIn(S(5)));
        assert_eq!(at(3, 0.0), Next::RetryIn(S(10)));
        assert_eq!(
            at(11, 0.0),
            Next::RetryIn(S(1_800)),
            "capped at an hour, then halved"
        );
        assert_eq!(at(40, 0.0), Next::RetryIn(S(1_800)));
        for random in [0.0, 0.3, 0.7, 0.999] {
            let Next::RetryIn(wait) = at(4, random) else {
                panic!()
            };
            assert!((S(20)..=S(40)).contains(&wait), "{wait:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_nothing_goes_past_a_day() {
        assert_eq!(
            after_failure(1, S(0), Some(S(120)), 0.5),
            Next::RetryIn(S(120))
        );
        assert_eq!(
            after_failure(1, S(0), Some(S(1)), 0.0),
            Next::RetryIn(S(5) / 2),
            "never sooner than the backoff"
        );
        assert_eq!(
            after_failure(30, S(23 * 3_600), None, 0.0),
            Next::RetryIn(S(1_800))
        );
        assert_eq!(
            after_failure(30, S(23 * 3_600 + 1_801), None, 0.0),
            Next::GiveUp
        );
        assert_eq!(
            after_failure(1, S(0), Some(S(2 * 86_400)), 0.0),
            Next::GiveUp
        );
        // A whole day of failures is about forty attempts (ten to reach the hour, then
        // one every 45 minutes on average).
        let (mut elapsed, mut attempts) = (S(0), 1);
        while let Next::RetryIn(wait) = after_failure(attempts, elapsed, None, 0.5) {
            elapsed += wait;
            attempts += 1;
        }
        assert!(
            (38..=44).contains(&attempts),
            "{attempts} attempts in {elapsed:?}"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(S(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(S(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(S(0))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn only_2xx_is_delivered() {
        assert!(delivered(200) && delivered(204) && delivered(299));
        assert!(!delivered(301) && !delivered(410) && !delivered(429) && !delivered(500));
    }
}
