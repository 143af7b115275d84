//! Retention: tasks that ended longer ago than the retention age are deleted with their
//! objects, leaving a tombstone so their ids answer 410 Gone rather than 404. Expired
//! idempotency keys go too.
//!
//! Objects first, then the row: if the object store is away, the task stays (and is tried
//! again next round) rather than leaving objects nobody can find.

use std::time::Duration;

use chrono::{DateTime, Utc};
use imagepipe_shared::storage::Storage;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::metrics::WriterMetrics;

/// Tasks deleted per round at most, so one round stays short.
const BATCH: i64 = 200;

pub async fn run(
    db: DatabaseConnection,
    storage: Storage,
    metrics: WriterMetrics,
    retention: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
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

/// One round: returns how many tasks were deleted.
pub async fn sweep(
    db: &DatabaseConnection,
    storage: &Storage,
    retention: Duration,
) -> Result<u64, DbErr> {
    db.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        "DELETE FROM idempotency_keys WHERE expires_at < now()",
    ))
    .await?;
    let expired = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, owner, created_at, original_key, result_key FROM tasks
              WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                AND completed_at < now() - make_interval(secs => $1)
              ORDER BY completed_at
              LIMIT $2",
            vec![retention.as_secs_f64().into(), BATCH.into()],
        ))
        .await?;
    let mut deleted = 0;
    for row in expired {
        let id: Uuid = row.try_get("", "id")?;
        let owner: Option<String> = row.try_get("", "owner")?;
        let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
        let original_key: String = row.try_get("", "original_key")?;
        let result_key: Option<String> = row.try_get("", "result_key")?;
        let objects = async {
            storage.uploads.delete(&original_key).await?;
            if let Some(key) = &result_key {
                storage.processed.delete(key).await?;
            }
            Ok::<_, imagepipe_shared::storage::StorageError>(())
        };
        if let Err(err) = objects.await {
            tracing::warn!(task_id = %id, %err, "cannot delete a task's objects yet; keeping the task");
            continue;
        }
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO task_tombstones (id, owner, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
            vec![id.into(), owner.into(), created_at.into()],
        ))
        .await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM tasks WHERE id = $1",
            vec![id.into()],
        ))
        .await?;
        txn.commit().await?;
        deleted += 1;
    }
    Ok(deleted)
}
