//! Result objects that no task will ever reference, deleted as soon as a message shows them:
//! the result of a run whose task ended it FAILED or CANCELLED, went on to a later run, or is
//! gone. A processor may store a run's result and then be stopped before its COMPLETED event
//! wins (the task was cancelled, reaped or dead-lettered meanwhile); whatever ends that run's
//! job afterwards (its late COMPLETED, its FAILED, its dead letter) passes here, and a job
//! skipped as cancelled is the processor's to clean (`worker/cancelled.rs`).
//!
//! The decision is read from the task row, never from whether this message changed it, so a
//! redelivered message decides the same. It is also final: keys are per run, and a run that
//! cannot be COMPLETED never can again, so a delete racing any other message or a retry never
//! takes a result a task holds. A store that lands after the delete comes from a delivery that
//! still has to end, and its end passes here again.

use backon::Retryable;
use imagepipe_shared::{
    keys,
    messages::{ReportedStatus, StatusEvent},
    retry,
};
use uuid::Uuid;

use super::Handlers;
use crate::transitions::{self, Applied};

impl Handlers {
    /// After a status event was applied (`applied`): delete the result of its run if nothing
    /// will reference it. `false` if shutdown came first (the delivery goes back).
    pub(super) async fn drop_orphaned_result(&self, event: &StatusEvent, applied: Applied) -> bool {
        match (event.status, applied) {
            // A PROCESSING report ends nothing; a COMPLETED one that applied holds its result.
            (ReportedStatus::Processing, _) | (ReportedStatus::Completed, Applied::Changed) => {
                return true;
            }
            _ => {}
        }
        let Some(orphaned) = self
            .persist(|| transitions::run_result_is_orphan(&self.db, event.task_id, event.run))
            .await
        else {
            return false;
        };
        let mut orphans = if orphaned {
            keys::result_keys(event.task_id, event.run)
        } else {
            Vec::new()
        };
        // A key of the layout before runs had their own (from a processor of then) is shared
        // by every run of the task: deleted only when no run can reference it.
        if let (ReportedStatus::Completed, Some(key)) = (event.status, &event.result_key)
            && !keys::is_result_key_of_run(key, event.task_id, event.run)
        {
            let Some(orphan) = self
                .persist(|| transitions::result_is_orphan(&self.db, event.task_id))
                .await
            else {
                return false;
            };
            if orphan {
                orphans.push(key.clone());
            }
        }
        self.delete_orphans(event.task_id, orphans)
    }

    /// After a dead letter failed a task, or found it already ended: delete the result its job
    /// may have stored, if nothing will reference it. `run`: `None` when the message cannot
    /// say, then the task's current run. `false` if shutdown came first.
    pub(super) async fn drop_orphaned_result_of_run(
        &self,
        task_id: Uuid,
        run: Option<u32>,
    ) -> bool {
        let orphaned = match run {
            Some(run) => self
                .persist(|| transitions::run_result_is_orphan(&self.db, task_id, run))
                .await
                .map(|orphaned| orphaned.then_some(run)),
            None => {
                self.persist(|| transitions::orphaned_current_run(&self.db, task_id))
                    .await
            }
        };
        match orphaned {
            None => false,
            Some(None) => true,
            Some(Some(run)) => self.delete_orphans(task_id, keys::result_keys(task_id, run)),
        }
    }

    /// Delete `orphans` in the background, retrying until the object store answers. The
    /// delivery is not held for it: the result-writer's work needs only the broker and the
    /// database, and an object store outage must not stall every status event and dead letter
    /// behind one delete (`serial::faults`' outage past the retry budget). A delete still
    /// waiting at shutdown is dropped (logged); retention deletes a FAILED or CANCELLED
    /// task's run result with the task, the last chance. Deleting a missing object succeeds,
    /// so doing it again for a redelivery is harmless. Always `true`: nothing to hand back.
    fn delete_orphans(&self, task_id: Uuid, orphans: Vec<String>) -> bool {
        if orphans.is_empty() {
            return true;
        }
        let processed = self.storage.processed.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let delete = || processed.delete_keys(&orphans);
            let deleted = delete.retry(retry::dependency()).notify(|err, delay| {
                tracing::warn!(%task_id, %err, ?delay, "cannot delete an orphaned result yet, retrying")
            });
            tokio::select! {
                _ = deleted => {
                    tracing::debug!(%task_id, keys = ?orphans, "deleted the result keys of a run no task will reference");
                }
                () = shutdown.cancelled() => {
                    tracing::warn!(%task_id, keys = ?orphans, "shutting down before the object store answered: the orphaned result is left to retention");
                }
            }
        });
        true
    }
}
