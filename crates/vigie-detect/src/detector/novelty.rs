//! The novelty features, each from a decaying count table ([`DecayingCounts`]):
//!
//! * *context*: novelty of the last two quantised values (the idea of CAD OSE);
//! * *shape*, scored separately with its own record and reported as context: novelty
//!   of the last three steps, each quantised by its sign and size (small, medium,
//!   large in mean absolute steps), from a second, faster-decaying table. It catches a
//!   new pattern of moves within the range already seen, which no level-based feature
//!   reveals, such as a level that starts to oscillate or moves in steps; its record
//!   has a floor (a shape must be nearly unseen) so that the rare shapes of pure noise
//!   stay quiet.

use serde::{Deserialize, Serialize};

use super::counts::DecayingCounts;
use super::{CONTEXT_TABLE, DetectorConfig, Reading, SHAPE_TABLE};

/// The context feature's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Context {
    /// The last quantised values, but the latest.
    pub(super) key: u32,
    pub(super) counts: DecayingCounts<CONTEXT_TABLE>,
}

impl Context {
    /// Novelty of the context ending with `reading`, its value quantised within the
    /// envelope `(hi, lo)` (updated with it); then counts it.
    pub(super) fn update(
        &mut self,
        reading: &Reading,
        (hi, lo): (f64, f64),
        c: &DetectorConfig,
    ) -> f64 {
        let bins = c.context_bins;
        let q = if reading.range > 0.0 {
            (((reading.value - lo) / (hi - lo + reading.tiny) * f64::from(bins)) as i64)
                .clamp(0, i64::from(bins) - 1) as u32
        } else {
            0
        };
        let history = 64usize.pow(c.context_order - 1);
        let key = (self.key as usize % history) * 64 + q as usize;
        self.key = (key % history) as u32;
        let slot = (key.wrapping_mul(0x9E37_79B1) >> 7) % CONTEXT_TABLE;
        self.counts.visit(slot, c.context_decay)
    }

    /// Bytes of the count table, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes()
    }
}

/// The shape feature's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Shape {
    /// The last quantised steps, but the latest.
    pub(super) key: u32,
    pub(super) counts: DecayingCounts<SHAPE_TABLE>,
}

impl Shape {
    /// Novelty of the shape ending with `signed_step`, quantised in units of `unit`
    /// (the mean absolute step before it); then counts it. Zero when the shape is
    /// disabled (`shape_weight` 0), though its steps are still followed.
    pub(super) fn update(&mut self, signed_step: f64, unit: f64, c: &DetectorConfig) -> f64 {
        let levels = c.shape_levels;
        let size = signed_step.abs() / unit / c.shape_unit;
        let size = ((size + 0.5) as u32).min(levels);
        let symbol = if signed_step < 0.0 {
            levels - size
        } else {
            levels + size
        };
        let history = 8u32.pow(c.shape_order - 1);
        let key = (self.key % history) * 8 + symbol;
        self.key = key % history;
        if c.shape_weight > 0.0 {
            self.counts.visit(key as usize % SHAPE_TABLE, c.shape_decay)
        } else {
            0.0
        }
    }

    /// Bytes of the count table, beside the struct.
    pub(super) fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes()
    }
}
