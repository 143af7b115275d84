//! Retention: tasks that ended longer ago than the retention age are deleted with their
//! objects, leaving a tombstone so their ids answer 410 Gone rather than 404. Expired
//! idempotency keys go too.
//!
//! Objects first, then the row: if the object store is away, the task stays (and is tried
//! again next round) rather than leaving objects nobody can find. A task that did not end
//! COMPLETED has its run's result keys deleted too: a result its run stored and never
//! reported is deleted when the run ends (`handlers/orphans.rs`, the processor's
//! `worker/cancelled.rs`), and this is the last chance for one that slipped past, since
//! nothing finds it once the row is gone.

use std::time::Duration;

use imagepipe_entity::{idempotency_key, task::TaskStatus};
use imagepipe_shared::periodic::Ticks;
use imagepipe_shared::{db::bounded, keys, storage::Storage, tasks::expire};
use sea_orm::{
    DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use tokio_util::sync::CancellationToken;

use crate::metrics::WriterMetrics;

/// Tasks deleted per round at most, so one round stays short.
const BATCH: u64 = 200;

pub async fn run(
    db: DatabaseConnection,
    storage: Storage,
    metrics: WriterMetrics,
    retention: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = Ticks::every(interval, &shutdown);
    while ticks.next().await {
        match sweep(&db, &storage, retention).await {
            Ok(0) => {}
            Ok(n) => {
                metrics.expired.inc_by(n);
                tracing::info!(tasks = n, ?retention, "deleted tasks past retention")
            }
            Err(err) => tracing::warn!(%err, "retention cannot reach the database"),
        }
    }
}

/// One round: returns how many tasks were deleted. Each statement is [`bounded`], so a
/// database that never answers ends the round with an error instead of stalling it.
pub async fn sweep(
    db: &DatabaseConnection,
    storage: &Storage,
    retention: Duration,
) -> Result<u64, DbErr> {
    bounded(
        idempotency_key::Entity::delete_many()
            .filter(Expr::col(idempotency_key::Column::ExpiresAt).lt(Expr::current_timestamp()))
            .exec(db),
    )
    .await?;
    let mut deleted = 0;
    for task in bounded(expire::expired(db, retention, BATCH)).await? {
        let objects = async {
            storage.uploads.delete(&task.original_key).await?;
            if let Some(key) = &task.result_key {
                storage.processed.delete(key).await?;
            }
            if let (false, Ok(run)) = (
                task.status == TaskStatus::Completed,
                u32::try_from(task.run),
            ) {
                storage
                    .processed
                    .delete_keys(&keys::result_keys(task.id, run))
                    .await?;
            }
            Ok::<_, imagepipe_shared::storage::StorageError>(())
        };
        if let Err(err) = objects.await {
            tracing::warn!(task_id = %task.id, %err, "cannot delete a task's objects yet; keeping the task");
            continue;
        }
        if bounded(expire::expire(db, &task)).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}
