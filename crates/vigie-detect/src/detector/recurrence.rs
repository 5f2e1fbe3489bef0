//! Damping of what recurs: a surprise no stronger than the (decaying, over about two
//! days) strongest one seen at the same hour of the day, or (decaying over about three
//! weeks) at the same hour of the week give or take an hour, is halved: what recurs
//! daily, such as a nightly job, or weekly, such as a plant stopping for the weekend,
//! is not novel.

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
    /// The surprise `best` of `reading`, damped if it recurs; then remembers it. The
    /// series started at `first_time`.
    pub(super) fn damp(
        &mut self,
        reading: &Reading,
        first_time: i64,
        best: f64,
        c: &DetectorConfig,
    ) -> f64 {
        let (time_ms, mut best) = (reading.time_ms, best);
        let a_recur = (-reading.step_ms / (c.recur_days * DAY_MS)).exp();
        for r in &mut self.daily {
            *r *= a_recur;
        }
        let mut prior = self.daily[reading.hour];
        self.daily[reading.hour] = prior.max(best);
        // The same at the same hour of the week in an earlier week, trusted once two
        // weeks were seen: before, a surprise at the same hour of last week is as
        // likely chance as routine. The warm-up's surprises (every record is new) are
        // not remembered.
        if c.recur_weeks > 0.0 {
            let tau_ms = c.recur_weeks * WEEK_MS;
            if best > 0.0 && time_ms.saturating_sub(first_time) as f64 >= 2.0 * WEEK_MS {
                prior = prior.max(self.weekly.prior(time_ms, tau_ms));
            }
            if reading.seen > u64::from(c.warmup) {
                self.weekly.remember(time_ms, best, tau_ms);
            }
        }
        if best < prior * c.recur_margin {
            best *= c.recur_factor;
        }
        best
    }

    /// Bytes of the weekly tables, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        self.weekly.heap_bytes()
    }
}
