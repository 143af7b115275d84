//! What the result-writer's messages mean for a task: each status event or dead letter
//! becomes one transition of `imagepipe_shared::tasks`, which decides whether it applies.
//! A duplicate, late or out-of-order event matches no row and changes nothing, so redelivery
//! is harmless; so does an event about an earlier run of a retried task, or about a task a
//! client cancelled.

use chrono::{DateTime, Utc};
use imagepipe_entity::task;
use imagepipe_shared::{
    keys,
    messages::{ErrorCode, ReportedStatus, StatusEvent, TaskFailure},
    tasks::{self, progress::Attempt},
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect};
use uuid::Uuid;

pub use imagepipe_shared::tasks::{Applied, progress::reap};

/// Apply one status event.
pub async fn apply_event(db: &impl ConnectionTrait, event: &StatusEvent) -> Result<Applied, DbErr> {
    let report = Attempt {
        task_id: event.task_id,
        run: saturating_i32(event.run),
        attempt: saturating_i32(event.attempt),
        at: event.occurred_at,
    };
    match event.status {
        ReportedStatus::Processing => tasks::progress::processing(db, report).await,
        ReportedStatus::Completed => {
            tasks::progress::complete(db, report, event.result_key.clone(), event.result.as_ref())
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

/// The status an event reports, as the database, the API and the metrics name it.
pub fn reported_status(status: ReportedStatus) -> task::TaskStatus {
    match status {
        ReportedStatus::Processing => task::TaskStatus::Processing,
        ReportedStatus::Completed => task::TaskStatus::Completed,
        ReportedStatus::Failed => task::TaskStatus::Failed,
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
    tasks::progress::fail(
        db,
        task_id,
        run.map(saturating_i32),
        attempt.map(saturating_i32),
        failure,
        at,
    )
    .await
}

/// Whether the result of run `run` of a task is an orphan to delete: the task is gone, or
/// can never hold that run's result (`tasks::run_may_reference_result`), and does not hold
/// one of its keys (a retry's result stored before retries had keys of their own is at the
/// first run's key, which its row holds).
pub async fn run_result_is_orphan(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    run: u32,
) -> Result<bool, DbErr> {
    let found = row_of(db, task_id).await?;
    Ok(!found.is_some_and(|(status, task_run, held)| {
        tasks::run_may_reference_result(status, task_run, saturating_i32(run))
            || holds_a_key_of(held.as_deref(), task_id, run)
    }))
}

/// The run of a task whose result is an orphan now that it ended FAILED or CANCELLED, for a
/// message that cannot say which run it is about: the task's current run, if it ended so
/// (and holds none of its keys); `None` if it did not, or is gone (no run to name).
pub async fn orphaned_current_run(
    db: &impl ConnectionTrait,
    task_id: Uuid,
) -> Result<Option<u32>, DbErr> {
    let found = row_of(db, task_id).await?;
    Ok(found
        .filter(|(status, run, _)| !tasks::run_may_reference_result(*status, *run, *run))
        .and_then(|(_, run, held)| {
            u32::try_from(run)
                .ok()
                .filter(|&run| !holds_a_key_of(held.as_deref(), task_id, run))
        }))
}

fn holds_a_key_of(held: Option<&str>, task_id: Uuid, run: u32) -> bool {
    held.is_some_and(|key| keys::is_result_key_of_run(key, task_id, run))
}

/// A task's status, run and the result key it holds.
async fn row_of(
    db: &impl ConnectionTrait,
    task_id: Uuid,
) -> Result<Option<(task::TaskStatus, i32, Option<String>)>, DbErr> {
    task::Entity::find_by_id(task_id)
        .select_only()
        .column(task::Column::Status)
        .column(task::Column::Run)
        .column(task::Column::ResultKey)
        .into_tuple()
        .one(db)
        .await
}

/// What became of a task that a COMPLETED event with a key of the layout before runs had
/// their own could not complete: whether that object is an orphan to delete. Only when the
/// task no longer exists or can never reference a result again, since every run of the task
/// shared that key.
pub async fn result_is_orphan(db: &impl ConnectionTrait, task_id: Uuid) -> Result<bool, DbErr> {
    let status: Option<task::TaskStatus> = task::Entity::find_by_id(task_id)
        .select_only()
        .column(task::Column::Status)
        .into_tuple()
        .one(db)
        .await?;
    Ok(!status.is_some_and(tasks::may_reference_result))
}

/// Message counters are unsigned, the columns signed: a count past `i32::MAX` stays the largest.
fn saturating_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use imagepipe_shared::tasks::Transition;

    use super::*;

    /// Each report is named by the status its transition sets.
    #[test]
    fn a_reported_status_is_the_target_of_its_transition() {
        for (reported, transition) in [
            (ReportedStatus::Processing, Transition::Processing),
            (ReportedStatus::Completed, Transition::Complete),
            (ReportedStatus::Failed, Transition::Fail),
        ] {
            assert_eq!(Some(reported_status(reported)), transition.target());
            assert_eq!(
                reported_status(reported).to_string(),
                format!("{reported:?}").to_uppercase(),
                "the metrics label stays as it was"
            );
        }
    }
}
