//! Instants and their wire formats, in one place. Vigie keeps times as counts since
//! the Unix epoch (UTC): microseconds for readings, milliseconds for tokens and
//! provisioning records. On the wire an instant is RFC 3339 (the ISO-8601 profile with
//! a time zone) in UTC with `Z`: with milliseconds as the public API writes them
//! (`2020-01-01T08:03:51.000Z`), or with microseconds when it has any.

use std::fmt;

/// An instant, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a date was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not RFC 3339 with a time zone.
    NotIso8601,
    /// A leap second (`:60`), which would fold into the next second and silently
    /// replace another reading.
    LeapSecond,
    /// Outside years 0000–9999 once in UTC: it could not be written back as a date.
    OutOfRange,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotIso8601 => {
                "must be an ISO-8601 date and time with a time zone, like 2020-01-01T08:03:51.000Z"
            }
            Self::LeapSecond => {
                "must not have a 60th second (leap seconds are not accepted: it would be read as the next minute's first)"
            }
            Self::OutOfRange => "must fall within the years 0000 to 9999 once converted to UTC",
        })
    }
}

impl std::error::Error for DateError {}

impl Timestamp {
    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch (rounded down).
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Parses an RFC 3339 date with a time zone, kept to the microsecond (finer digits
    /// are truncated).
    ///
    /// # Errors
    /// A [`DateError`] saying why the text is not a date Vigie can store and give back.
    pub fn parse(text: &str) -> Result<Self, DateError> {
        use chrono::{Datelike, Timelike};
        let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| DateError::NotIso8601)?;
        if time.nanosecond() >= 1_000_000_000 {
            return Err(DateError::LeapSecond);
        }
        if !(0..=9999).contains(&time.to_utc().year()) {
            return Err(DateError::OutOfRange);
        }
        Ok(Self(time.timestamp_micros()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(time) = chrono::DateTime::from_timestamp_micros(self.0) else {
            return write!(f, "{}", self.0);
        };
        let digits = if self.0.rem_euclid(1000) == 0 {
            chrono::SecondsFormat::Millis
        } else {
            chrono::SecondsFormat::Micros
        };
        f.write_str(&time.to_rfc3339_opts(digits, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_format_and_its_rules() {
        assert_eq!(
            Timestamp::from_millis(1_635_336_388_828).to_string(),
            "2021-10-27T12:06:28.828Z",
            "the public documentation's format"
        );
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse("2020-01-01T10:03:51.123456789+02:00")
                .unwrap()
                .to_string(),
            "2020-01-01T08:03:51.123456Z",
            "UTC, microseconds, truncated"
        );
        assert_eq!(Timestamp::from_micros(1_500).as_millis(), 1);
        assert_eq!(Timestamp::from_micros(-1).as_millis(), -1);
        assert_eq!(Timestamp::parse("2020-01-01"), Err(DateError::NotIso8601));
        assert_eq!(
            Timestamp::parse("2020-01-01T00:00:60Z"),
            Err(DateError::LeapSecond)
        );
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59-23:59"),
            Err(DateError::OutOfRange)
        );
        let extreme = Timestamp::parse("0000-01-01T00:00:00Z").unwrap();
        assert_eq!(Timestamp::parse(&extreme.to_string()), Ok(extreme));
    }
}
