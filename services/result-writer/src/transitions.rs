//! The result-writer's writes to a task. Each is one conditional UPDATE that moves a task
//! forward or does nothing: PENDING → PROCESSING → COMPLETED | FAILED. A duplicate, late or
//! out-of-order event matches no row and changes nothing, so redelivery is harmless; so does an
//! event about an earlier run of a retried task, or about a task a client cancelled.
//! (Ingest's cancel and retry are the other writers, with the same conditional style.)

use chrono::{DateTime, Utc};
use imagepipe_shared::messages::{ErrorCode, ReportedStatus, StatusEvent, TaskFailure};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The task is already past this state (or unknown): nothing to do.
    Ignored,
}

async fn run(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<Applied, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    Ok(if result.rows_affected() > 0 {
        Applied::Changed
    } else {
        Applied::Ignored
    })
}

/// Apply one status event.
pub async fn apply_event(db: &impl ConnectionTrait, event: &StatusEvent) -> Result<Applied, DbErr> {
    let attempt = i32::try_from(event.attempt).unwrap_or(i32::MAX);
    let run_no = i32::try_from(event.run).unwrap_or(i32::MAX);
    match event.status {
        ReportedStatus::Processing => {
            run(
                db,
                "UPDATE tasks SET status = 'PROCESSING',
                        started_at = COALESCE(started_at, $2),
                        attempts = GREATEST(attempts, $3),
                        updated_at = now()
                  WHERE id = $1 AND run = $4
                    AND (status = 'PENDING' OR (status = 'PROCESSING' AND attempts < $3))",
                vec![
                    event.task_id.into(),
                    event.occurred_at.into(),
                    attempt.into(),
                    run_no.into(),
                ],
            )
            .await
        }
        ReportedStatus::Completed => {
            run(
                db,
                "UPDATE tasks SET status = 'COMPLETED',
                        result_key = $2,
                        started_at = COALESCE(started_at, $3),
                        completed_at = $3,
                        attempts = GREATEST(attempts, $4),
                        updated_at = now()
                  WHERE id = $1 AND run = $5 AND status IN ('PENDING', 'PROCESSING')",
                vec![
                    event.task_id.into(),
                    event.result_key.clone().into(),
                    event.occurred_at.into(),
                    attempt.into(),
                    run_no.into(),
                ],
            )
            .await
        }
        ReportedStatus::Failed => {
            let failure = event.failure.clone().unwrap_or_else(|| TaskFailure {
                code: ErrorCode::ProcessingFailed,
                message: "the processor reported a failure without a reason".into(),
            });
            fail(
                db,
                event.task_id,
                Some(event.run),
                &failure,
                event.occurred_at,
                Some(event.attempt),
            )
            .await
        }
    }
}

/// Mark a task FAILED unless it already ended. `run`: only if the task is still in that run
/// (`None` when the message that tells of the failure cannot say which run it was).
pub async fn fail(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    run: Option<u32>,
    failure: &TaskFailure,
    at: DateTime<Utc>,
    attempt: Option<u32>,
) -> Result<Applied, DbErr> {
    let attempt = attempt.map_or(0, |a| i32::try_from(a).unwrap_or(i32::MAX));
    let run_no = run.map(|r| i32::try_from(r).unwrap_or(i32::MAX));
    self::run(
        db,
        "UPDATE tasks SET status = 'FAILED',
                error_code = $2,
                error_message = $3,
                completed_at = $4,
                attempts = GREATEST(attempts, $5),
                updated_at = now()
          WHERE id = $1 AND ($6::integer IS NULL OR run = $6)
            AND status IN ('PENDING', 'PROCESSING')",
        vec![
            task_id.into(),
            failure.code.as_str().into(),
            failure.message.clone().into(),
            at.into(),
            attempt.into(),
            run_no.into(),
        ],
    )
    .await
}

/// Fail every task still unfinished `timeout` after it was queued (its upload, or the retry
/// that started its current run); returns how many.
pub async fn reap(db: &impl ConnectionTrait, timeout: std::time::Duration) -> Result<u64, DbErr> {
    let seconds = timeout.as_secs_f64();
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE tasks SET status = 'FAILED',
                    error_code = $3,
                    error_message = 'not finished within ' || $1::text || ' seconds of being queued',
                    completed_at = now(),
                    updated_at = now()
              WHERE status IN ('PENDING', 'PROCESSING')
                AND queued_at < now() - make_interval(secs => $2)",
            vec![
                format!("{seconds}").into(),
                seconds.into(),
                ErrorCode::TimedOut.as_str().into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// What became of a task that a COMPLETED event could not complete: whether the event's
/// result object is an orphan to delete. Only for a CANCELLED task (terminal for good: no
/// retry can make it reference that key again) or a task that no longer exists; any other
/// task may still write or reference the same deterministic key.
pub async fn result_is_orphan(db: &impl ConnectionTrait, task_id: Uuid) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT status FROM tasks WHERE id = $1",
            vec![task_id.into()],
        ))
        .await?;
    Ok(match row {
        None => true,
        Some(row) => row.try_get::<String>("", "status")? == "CANCELLED",
    })
}
