//! The memory of past surprises per hour of the week, so that what happens every week
//! at the same time (a plant stopping for the weekend) stops being news once learnt.
//! Each hour keeps the strongest surprise of its current week and, apart, that of the
//! earlier weeks (decaying), so that what happens earlier in the same hour this week
//! never hides last week's.

use serde::{Deserialize, Serialize};

use super::state::fixed_len;
use super::{DAY_MS, WEEK_BINS, WEEK_MS};

/// The memory of past surprises per hour of the week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct WeeklyMemory {
    /// Per hour of the week: the strongest surprise of the earlier weeks and the time
    /// (ms) it is counted from.
    #[serde(deserialize_with = "fixed_len::<_, _, WEEK_BINS>")]
    past: Vec<[f64; 2]>,
    /// Per hour of the week: the strongest surprise of its latest week and its time.
    #[serde(deserialize_with = "fixed_len::<_, _, WEEK_BINS>")]
    latest: Vec<[f64; 2]>,
}

impl Default for WeeklyMemory {
    fn default() -> Self {
        Self {
            past: vec![[0.0; 2]; WEEK_BINS],
            latest: vec![[0.0; 2]; WEEK_BINS],
        }
    }
}

impl WeeklyMemory {
    /// Hour of the week of `time_ms`.
    fn bin(time_ms: i64) -> usize {
        (time_ms.rem_euclid(WEEK_MS as i64) / 3_600_000) as usize
    }

    /// Moves the latest surprise of hour `bin` to the earlier weeks' once it is a day
    /// old or more (it then belongs to an earlier week), keeping the stronger one.
    fn age(&mut self, bin: usize, now: f64, tau_ms: f64) {
        let [value, at] = self.latest[bin];
        if value > 0.0 && now - at >= DAY_MS {
            let [past, past_at] = self.past[bin];
            if value >= past * (-(at - past_at).max(0.0) / tau_ms).exp() {
                self.past[bin] = self.latest[bin];
            }
            self.latest[bin] = [0.0; 2];
        }
    }

    /// The strongest surprise of earlier weeks at this hour of the week or the ones
    /// beside it (weekly routines drift a little), decayed with time constant `tau_ms`.
    pub(super) fn prior(&mut self, time_ms: i64, tau_ms: f64) -> f64 {
        let now = time_ms as f64;
        let bin = Self::bin(time_ms);
        [bin + WEEK_BINS - 1, bin, bin + 1]
            .into_iter()
            .map(|b| {
                let b = b % WEEK_BINS;
                self.age(b, now, tau_ms);
                let [value, at] = self.past[b];
                if value > 0.0 {
                    value * (-(now - at).max(0.0) / tau_ms).exp()
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    /// Remembers a surprise of this week.
    pub(super) fn remember(&mut self, time_ms: i64, surprise: f64, tau_ms: f64) {
        let bin = Self::bin(time_ms);
        self.age(bin, time_ms as f64, tau_ms);
        let latest = &mut self.latest[bin];
        if surprise > latest[0] {
            *latest = [surprise, time_ms as f64];
        }
    }

    /// Bytes of the tables, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(self.past.as_slice()) + std::mem::size_of_val(self.latest.as_slice())
    }
}
