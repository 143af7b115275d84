//! The transitions a client asks for through ingest on a task that exists: cancel, retry.
//! Each runs inside the caller's transaction, so ingest commits it together with the outbox.
//! (Creating a task is ingest's own statement: the row, its job in the outbox and its
//! idempotency key in one `INSERT`, `imagepipe_ingest`'s `tasks_repo`.)

use imagepipe_entity::task;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{Transition, leaving};

/// Cancel a task not yet ended; `owner`: only if it is that owner's. `None` if nothing
/// matched (the task is missing, another owner's, or already ended).
pub async fn cancel(
    db: &impl ConnectionTrait,
    id: Uuid,
    owner: Option<&str>,
) -> Result<Option<task::Model>, DbErr> {
    first(cancel_update(id, owner).exec_with_returning(db).await?)
}

fn cancel_update(id: Uuid, owner: Option<&str>) -> UpdateMany<task::Entity> {
    change(Transition::Cancel, id, owner)
        .col_expr(task::Column::CompletedAt, Expr::current_timestamp())
}

/// Queue a FAILED task again as a new run: PENDING, attempts from zero, the outcome of the
/// last run cleared (its error, result and analysis); its chain stays, so the new run does the
/// same work. `None` if nothing matched (missing, another owner's, or not FAILED).
pub async fn retry(
    db: &impl ConnectionTrait,
    id: Uuid,
    owner: Option<&str>,
) -> Result<Option<task::Model>, DbErr> {
    first(retry_update(id, owner).exec_with_returning(db).await?)
}

fn retry_update(id: Uuid, owner: Option<&str>) -> UpdateMany<task::Entity> {
    change(Transition::Retry, id, owner)
        .set(task::ActiveModel {
            attempts: Set(0),
            error_code: Set(None),
            error_message: Set(None),
            result_key: Set(None),
            result_width: Set(None),
            result_height: Set(None),
            result_content_type: Set(None),
            result_size_bytes: Set(None),
            // Only a COMPLETED task has one today, and only FAILED is retried; cleared all the
            // same, so no run can ever show another's analysis.
            analysis: Set(None),
            started_at: Set(None),
            completed_at: Set(None),
            ..Default::default()
        })
        .col_expr(task::Column::Run, Expr::col(task::Column::Run).add(1))
        .col_expr(task::Column::QueuedAt, Expr::current_timestamp())
}

/// The part every client transition shares: the one task (the owner's, if given), the status
/// the transition sets, only from a status it may leave.
fn change(transition: Transition, id: Uuid, owner: Option<&str>) -> UpdateMany<task::Entity> {
    let mut update = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(transition.target()))
        .col_expr(task::Column::UpdatedAt, Expr::current_timestamp())
        .filter(task::Column::Id.eq(id))
        .filter(leaving(transition, None));
    if let Some(owner) = owner {
        update = update.filter(task::Column::Owner.eq(owner));
    }
    update
}

fn first(mut rows: Vec<task::Model>) -> Result<Option<task::Model>, DbErr> {
    match rows.len() {
        0 | 1 => Ok(rows.pop()),
        n => Err(DbErr::Custom(format!("{n} tasks changed by one id"))),
    }
}

#[cfg(test)]
mod tests {
    use imagepipe_entity::task::TaskStatus;

    use super::*;
    use crate::tasks::sql_tests::{assert_statuses_bound, postgres};

    #[test]
    fn cancel_leaves_only_unfinished_tasks_with_bound_statuses() {
        let statement = postgres(&cancel_update(Uuid::nil(), Some("owner")));
        assert_statuses_bound(
            &statement,
            &[
                TaskStatus::Cancelled,
                TaskStatus::Pending,
                TaskStatus::Processing,
            ],
        );
        assert!(statement.sql.contains(r#""owner" = "#), "{}", statement.sql);
    }

    #[test]
    fn retry_starts_a_new_run_from_failed() {
        let statement = postgres(&retry_update(Uuid::nil(), None));
        assert_statuses_bound(&statement, &[TaskStatus::Pending, TaskStatus::Failed]);
        assert!(
            statement.sql.contains(r#""run" = "run" + "#),
            "{}",
            statement.sql
        );
        assert!(!statement.sql.contains(r#""owner""#), "{}", statement.sql);
    }

    /// A new run starts with nothing of the last one's outcome.
    #[test]
    fn retry_clears_the_last_runs_outcome() {
        let statement = postgres(&retry_update(Uuid::nil(), None));
        for column in [
            "error_code",
            "error_message",
            "result_key",
            "result_width",
            "result_height",
            "result_content_type",
            "result_size_bytes",
            "analysis",
            "started_at",
            "completed_at",
        ] {
            assert!(
                statement.sql.contains(&format!(r#""{column}" = "#)),
                "{column} is reset: {}",
                statement.sql
            );
        }
    }
}
