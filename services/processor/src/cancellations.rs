//! What this processor has heard of cancelled tasks: it skips their jobs, and stops the ones
//! it is working on. Hearing is best effort (a processor that was away misses the broadcast);
//! the result-writer then drops the late result, so missing a notice costs only work.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a cancellation is remembered: longer than any job waits in the queue and its
/// retries, so a job still queued when its task was cancelled is skipped when it arrives.
const REMEMBER_FOR: Duration = Duration::from_secs(6 * 3600);

#[derive(Default)]
pub(crate) struct Cancellations {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    heard: HashMap<Uuid, Instant>,
    running: HashMap<Uuid, CancellationToken>,
}

/// A job in progress; cancelled when its task is. Forgotten on drop.
pub(crate) struct Running<'a> {
    registry: &'a Cancellations,
    task_id: Uuid,
    pub token: CancellationToken,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.registry.lock().running.remove(&self.task_id);
    }
}

impl Cancellations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps half-changed: recover.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A task was cancelled: stop it if it runs here, and skip its job if it comes later.
    pub(crate) fn cancel(&self, task_id: Uuid) {
        let mut inner = self.lock();
        let now = Instant::now();
        inner
            .heard
            .retain(|_, at| now.duration_since(*at) < REMEMBER_FOR);
        inner.heard.insert(task_id, now);
        if let Some(token) = inner.running.get(&task_id) {
            token.cancel();
        }
    }

    /// Register a job as running; `None` if its task is already cancelled.
    pub(crate) fn start(&self, task_id: Uuid) -> Option<Running<'_>> {
        let mut inner = self.lock();
        if inner.heard.contains_key(&task_id) {
            return None;
        }
        let token = CancellationToken::new();
        inner.running.insert(task_id, token.clone());
        Some(Running {
            registry: self,
            task_id,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_job_is_stopped_and_a_later_one_skipped() {
        let registry = Cancellations::default();
        let id = Uuid::now_v7();
        let running = registry.start(id).expect("not cancelled yet");
        assert!(!running.token.is_cancelled());
        registry.cancel(id);
        assert!(running.token.is_cancelled());
        drop(running);
        assert!(
            registry.start(id).is_none(),
            "a cancelled task's job is skipped"
        );
    }

    #[test]
    fn other_tasks_are_untouched() {
        let registry = Cancellations::default();
        let running = registry.start(Uuid::now_v7()).expect("fresh");
        registry.cancel(Uuid::now_v7());
        assert!(!running.token.is_cancelled());
    }
}
