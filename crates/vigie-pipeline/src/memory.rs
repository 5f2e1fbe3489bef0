//! The memory budget of resident detectors: what each series in memory costs, and the
//! eviction of the least recently used idle ones (checkpointed first) past the budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use vigie_store::EvictedCheckpoint;

use crate::slot::Slot;
use crate::{Pipeline, SlotGuard};

/// The bytes resident detectors take.
#[derive(Default)]
pub(crate) struct Resident {
    pub(crate) bytes: AtomicUsize,
}

impl Resident {
    /// Counts a slot's current size in place of what was counted for it.
    pub(crate) fn recount(&self, guard: &mut SlotGuard) {
        if let Some(slot) = guard.as_mut() {
            let now = slot.memory_bytes();
            self.bytes.fetch_add(now, Ordering::Relaxed);
            self.bytes.fetch_sub(slot.accounted, Ordering::Relaxed);
            slot.accounted = now;
        }
    }

    /// Drops a slot's content from memory (it reloads from the store).
    pub(crate) fn release(&self, guard: &mut SlotGuard) {
        if let Some(slot) = guard.take() {
            self.bytes.fetch_sub(slot.accounted, Ordering::Relaxed);
        }
    }
}

/// A series' place in memory.
pub(crate) struct Entry {
    pub(crate) slot: Arc<tokio::sync::Mutex<Option<Slot>>>,
    /// When a request last asked for it (a tick of [`Pipeline::clock`]).
    pub(crate) last_used: u64,
}

/// What the pipeline keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentDetectors {
    /// Series with a place in memory.
    pub series: usize,
    /// Bytes their detectors take (an estimate).
    pub bytes: usize,
}

impl Pipeline {
    /// Past the memory budget, checkpoints and drops the least recently used idle
    /// detectors until they take a tenth less than the budget (so that this runs
    /// seldom). The checkpoints are written in the background; a series asked for
    /// meanwhile reloads from the store, exactly, whichever write lands first.
    pub(crate) fn keep_within_budget(&self) {
        let budget = self.config.memory_budget_bytes;
        let resident = || self.resident.bytes.load(Ordering::Relaxed);
        if resident() <= budget {
            return;
        }
        let target = budget - budget / 10;
        let mut evicted = Vec::new();
        let mut slots = self.lock_slots();
        // Only a series nobody holds (checked under the map's lock) may go.
        let idle = |entry: &Entry| Arc::strong_count(&entry.slot) == 1;
        let mut ages: Vec<u64> = slots
            .values()
            .flat_map(HashMap::values)
            .filter(|entry| idle(entry))
            .map(|entry| entry.last_used)
            .collect();
        ages.sort_unstable();
        let count: usize = slots.values().map(HashMap::len).sum();
        let mut dropped = 0;
        // Rounds of "drop what is older than a cut-off", the cut-off placed from the
        // average size of a series, so that no key is copied to find the oldest.
        while resident() > target && dropped < ages.len() {
            let average = resident() / count.saturating_sub(dropped).max(1);
            let wanted = (resident() - target).div_ceil(average.max(1));
            let cutoff = ages[(dropped + wanted).min(ages.len()) - 1];
            for (project, series) in slots.iter_mut() {
                series.retain(|(sensor_id, value_name), entry| {
                    if entry.last_used > cutoff || !idle(entry) {
                        return true;
                    }
                    let Ok(mut guard) = Arc::clone(&entry.slot).try_lock_owned() else {
                        return true;
                    };
                    if let Some(checkpoint) = guard.as_ref().and_then(Slot::checkpoint) {
                        evicted.push(EvictedCheckpoint {
                            project: project.clone(),
                            sensor_id: sensor_id.clone(),
                            value_name: value_name.clone(),
                            state: checkpoint.0,
                            scored_until_us: checkpoint.1,
                        });
                    }
                    self.resident.release(&mut guard);
                    dropped += 1;
                    false
                });
                // A map keeps the room it once needed; give most of it back.
                if series.capacity() > 2 * series.len() + 64 {
                    series.shrink_to_fit();
                }
            }
            slots.retain(|_, series| !series.is_empty());
        }
        drop(slots);
        tracing::debug!(
            dropped,
            checkpoints = evicted.len(),
            resident_bytes = resident(),
            "detectors over the memory budget were dropped"
        );
        if !evicted.is_empty() {
            let store = Arc::clone(&self.store);
            tokio::spawn(async move {
                if let Err(error) = store.save_checkpoints(evicted).await {
                    tracing::warn!(%error, "checkpoints of evicted detectors were not saved; they will replay their readings");
                }
            });
        }
    }
}
