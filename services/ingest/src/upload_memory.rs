//! The memory upload bodies may hold together (`UPLOAD_MEMORY_BYTES`), so ingest's memory
//! stays bounded whatever the number and size of uploads in flight.
//!
//! Two things hold upload bytes in memory: a small upload kept whole in memory instead of a
//! temporary file (it takes a slot only if one is free now, else it goes to disk), and the
//! store of a spooled file, which reads it into memory one part at a time (it waits for its
//! slots: its bytes are safe on disk meanwhile). Without the second, 50 concurrent 20 MB
//! uploads held 50 parts of 5 MiB at once: 380 MiB (docs/performance.md).

use std::sync::Arc;

use imagepipe_shared::storage::PART_SIZE;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

// The largest upload kept in memory, and the unit of the budget.
pub use imagepipe_wire::upload::MEMORY_SPOOL_MAX;

/// Slots one store of a spooled file may need: one part.
const PART_SLOTS: usize = PART_SIZE.div_ceil(MEMORY_SPOOL_MAX);

#[derive(Debug)]
pub struct UploadMemory {
    slots: Arc<Semaphore>,
    /// Whether small uploads may stay in memory (a budget of at least one slot).
    small_in_memory: bool,
}

impl UploadMemory {
    /// A budget of `budget_bytes`, but never less than one part, so a store can always go.
    pub fn new(budget_bytes: u64) -> Self {
        let slots = usize::try_from(budget_bytes / MEMORY_SPOOL_MAX as u64).unwrap_or(usize::MAX);
        Self {
            slots: Arc::new(Semaphore::new(
                slots.clamp(PART_SLOTS, Semaphore::MAX_PERMITS),
            )),
            small_in_memory: slots > 0,
        }
    }

    /// A slot for a small upload if one is free now; never waits (without one the upload
    /// goes to a temporary file).
    pub fn try_reserve_small(&self) -> Option<OwnedSemaphorePermit> {
        if !self.small_in_memory {
            return None;
        }
        self.slots.clone().try_acquire_owned().ok()
    }

    /// The memory to store a spooled file of `len` bytes (one part, or the whole file if
    /// smaller), waiting until it is free.
    pub async fn reserve_store(&self, len: u64) -> OwnedSemaphorePermit {
        let bytes = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .clamp(1, PART_SIZE);
        let wanted = u32::try_from(bytes.div_ceil(MEMORY_SPOOL_MAX)).unwrap_or(u32::MAX);
        self.slots
            .clone()
            .acquire_many_owned(wanted)
            .await
            .expect("the upload memory semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_uploads_take_free_slots_and_stores_wait_for_theirs() {
        let memory = UploadMemory::new(6 * MEMORY_SPOOL_MAX as u64);
        let small = memory.try_reserve_small().expect("a free slot");
        // A part needs 5 slots: 5 are left.
        let store = memory.reserve_store(20_000_000).await;
        assert!(
            memory.try_reserve_small().is_none(),
            "the budget is used up"
        );
        drop(small);
        // One slot free again: not enough for another part until the first store is done.
        assert!(memory.slots.clone().try_acquire_many_owned(5).is_err());
        drop(store);
        assert!(memory.slots.clone().try_acquire_many_owned(5).is_ok());
    }

    #[tokio::test]
    async fn a_zero_budget_keeps_nothing_in_memory_but_stores_still_go() {
        let memory = UploadMemory::new(0);
        assert!(memory.try_reserve_small().is_none());
        let store = memory.reserve_store(100).await;
        assert_eq!(store.num_permits(), 1);
        let part = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            drop(store);
            memory.reserve_store(u64::MAX).await
        })
        .await
        .expect("a budget below one part still lets a part through");
        assert_eq!(part.num_permits(), PART_SLOTS);
    }
}
