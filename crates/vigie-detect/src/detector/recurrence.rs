//! Damping of what recurs: a surprise no stronger than the (decaying, over about two
//! days) strongest one seen at the same hour of the day, or (decaying over about three
//! weeks) at the same hour of the week give or take an hour, is halved: what recurs
//! daily, such as a nightly job, or weekly, such as a plant stopping for the weekend,
//! is not novel.
//!
//! Each memory is trusted only once the series is old enough for the same hour to
//! have come round before: a day for the daily one, two weeks for the weekly one.
//! Until the series has a day of history, whether a surprise recurs cannot be known,
//! and the records and envelope that measured it were set by a short stretch of the
//! series: every surprise is damped instead, by
//! [`DetectorConfig::day_one_factor`].

use serde::{Deserialize, Serialize};

use super::weekly::WeeklyMemory;
use super::{DAY_BINS, DAY_MS, DetectorConfig, Reading, WEEK_MS};

/// The memories of past surprises, per hour of the day and of the week.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Recurrence {
    /// Decaying strongest surprise (weighted record ratio) per hour of the day.
    pub(super) daily: [f64; DAY_BINS],
    pub(super) weekly: WeeklyMemory,
}

impl Recurrence {
    /// Remembers the surprise `best` of `reading`, and returns the surprise to score,
    /// `scored`, damped if it recurs (on the first day, damped in any case).
    /// `scored` is `best` but on the first day, when it may be measured more strictly.
    pub(super) fn damp(
        &mut self,
        reading: &Reading,
        best: f64,
        scored: f64,
        c: &DetectorConfig,
    ) -> f64 {
        let time_ms = reading.time_ms;
        let a_recur = (-reading.step_ms / (c.recur_days * DAY_MS)).exp();
        for r in &mut self.daily {
            *r *= a_recur;
        }
        let day_one = !reading.has_days(c.daily_min_days);
        let mut prior = if day_one {
            0.0
        } else {
            self.daily[reading.hour]
        };
        self.daily[reading.hour] = self.daily[reading.hour].max(best);
        // The same at the same hour of the week in an earlier week, trusted once two
        // weeks were seen: before, a surprise at the same hour of last week is as
        // likely chance as routine. The warm-up's surprises (every record is new) are
        // not remembered.
        if c.recur_weeks > 0.0 {
            let tau_ms = c.recur_weeks * WEEK_MS;
            if best > 0.0 && reading.history_ms >= 2.0 * WEEK_MS {
                prior = prior.max(self.weekly.prior(time_ms, tau_ms));
            }
            if !reading.warming_up {
                self.weekly.remember(time_ms, best, tau_ms);
            }
        }
        if day_one {
            scored * c.day_one_factor
        } else if scored < prior * c.recur_margin {
            scored * c.recur_factor
        } else {
            scored
        }
    }

    /// Bytes of the weekly tables, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        self.weekly.heap_bytes()
    }
}
