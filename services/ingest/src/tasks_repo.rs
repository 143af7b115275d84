//! The task table as ingest uses it: create a task together with its outbox entry; read,
//! list, cancel and retry tasks. Every read and write is limited to the caller's scope. The
//! transitions themselves (which status may change to which) are `imagepipe_shared::tasks`;
//! this module adds what ingest commits with them: the job in the outbox and the idempotency
//! key.

mod insert;

use chrono::Utc;
use imagepipe_entity::{outbox, task, task_tombstone};
use imagepipe_shared::{messages::JobMessage, tasks, trace::TraceContext};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, SqlErr,
    TransactionTrait,
};
use uuid::Uuid;

pub(crate) use insert::NewTask;

use crate::{auth::Scope, db_deadline::timed, error::ApiError};
use insert::{Attempt, Job};

/// How creating a task failed.
#[derive(Debug)]
pub(crate) enum CreateFailure {
    /// Nothing was committed: the statement was never sent, or PostgreSQL refused it.
    NotCommitted(ApiError),
    /// The statement was sent and no answer came (an error, or the deadline ran out), and
    /// trying again could not tell either: the task may exist.
    Unknown(ApiError),
}

/// Insert the task (PENDING) and its job in the outbox, in one statement: either both are
/// committed, and the relay will publish the job, or neither is. `idempotency`: the claimed
/// key (scope, key) to record the task on, in the same statement; `trace`: the trace the job
/// continues.
///
/// A statement that got no answer may have committed (the database went silent after
/// receiving it, or was slower than the deadline). It is then tried once more, with the same
/// task id: it commits if the first did not, and meets the first's row if it did (waiting for
/// it while it is still being committed), so either way the task exists, once.
pub(crate) async fn create(
    db: &DatabaseConnection,
    new: NewTask,
    idempotency: Option<(String, String)>,
    trace: TraceContext,
) -> Result<(), CreateFailure> {
    let job = JobMessage::new(new.id, new.original_key.clone(), new.content_type.clone())
        .with_steps(new.steps.clone());
    let payload = serde_json::to_value(&job)
        .map_err(|e| CreateFailure::NotCommitted(ApiError::Internal(e.into())))?;
    let traceparent = trace.child().to_string();
    let job = Job {
        payload: &payload,
        traceparent: &traceparent,
    };
    let now = Utc::now();
    let attempt = || insert::insert(db, &new, &job, idempotency.as_ref(), now);
    let first = match attempt().await {
        Ok(()) => return Ok(()),
        Err(Attempt::NotCommitted(err)) => {
            return Err(CreateFailure::NotCommitted(unavailable(err)));
        }
        Err(Attempt::Unknown(err)) => err,
    };
    tracing::warn!(task_id = %new.id, err = %first, "a task's statement got no answer; trying it again");
    match attempt().await {
        Ok(()) => Ok(()),
        Err(Attempt::NotCommitted(err) | Attempt::Unknown(err)) if is_duplicate(&err) => Ok(()),
        Err(Attempt::NotCommitted(_) | Attempt::Unknown(_)) => {
            Err(CreateFailure::Unknown(unavailable(first)))
        }
    }
}

/// The task's row is there already: the first try committed.
fn is_duplicate(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn unavailable(err: DbErr) -> ApiError {
    ApiError::DatabaseUnavailable(err.into())
}

/// Put a job in the outbox, inside the caller's transaction (a retry's).
async fn enqueue(
    txn: &DatabaseTransaction,
    task_id: Uuid,
    payload: serde_json::Value,
    trace: TraceContext,
) -> Result<(), DbErr> {
    outbox::ActiveModel {
        id: NotSet,
        task_id: Set(task_id),
        payload: Set(payload),
        created_at: Set(Utc::now()),
        traceparent: Set(Some(trace.child().to_string())),
    }
    .insert(txn)
    .await
    .map(drop)
}

/// The task, if it exists and the scope may see it.
pub(crate) async fn find(
    db: &DatabaseConnection,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<task::Model>, ApiError> {
    timed(visible(id, scope.owner()).one(db)).await
}

/// The task by id, if `owner` (when given) owns it.
fn visible(id: Uuid, owner: Option<&str>) -> Select<task::Entity> {
    let query = task::Entity::find_by_id(id);
    match owner {
        Some(owner) => query.filter(task::Column::Owner.eq(owner)),
        None => query,
    }
}

/// The error for a task id that `find` did not return: 410 if retention deleted it (and the
/// scope may know), 404 otherwise.
pub(crate) async fn missing(db: &DatabaseConnection, scope: &Scope, id: Uuid) -> ApiError {
    let mut tombstone = task_tombstone::Entity::find_by_id(id);
    if let Some(owner) = scope.owner() {
        tombstone = tombstone.filter(task_tombstone::Column::Owner.eq(owner));
    }
    let tombstone = timed(tombstone.one(db)).await;
    match tombstone {
        Ok(Some(_)) => ApiError::TaskExpired(id),
        Ok(None) => ApiError::TaskNotFound(id),
        Err(err) => err,
    }
}

/// One page of tasks, newest first: those older than `before` (ids are UUIDv7, ordered by
/// creation time), optionally with one status. Asks for one more than `limit`, so the caller
/// knows whether another page follows.
pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: &Scope,
    status: Option<task::TaskStatus>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<task::Model>, ApiError> {
    let mut query = task::Entity::find()
        .order_by_desc(task::Column::Id)
        .limit(limit + 1);
    if let Some(owner) = scope.owner() {
        query = query.filter(task::Column::Owner.eq(owner));
    }
    if let Some(status) = status {
        query = query.filter(task::Column::Status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(task::Column::Id.lt(before));
    }
    timed(query.all(db)).await
}

/// What a conditional change found.
pub(crate) enum Change {
    Done(Box<task::Model>),
    /// The task exists but is in a state that does not allow it.
    Refused(task::TaskStatus),
    Missing,
}

/// Cancel a task not yet finished: CANCELLED, with its unpublished job (if any) taken out of
/// the outbox, in one transaction.
pub(crate) async fn cancel(
    db: &DatabaseConnection,
    scope: &Scope,
    id: Uuid,
) -> Result<Change, ApiError> {
    let owner = scope.owner().map(str::to_owned);
    timed(async {
        let txn = db.begin().await?;
        let cancelled = tasks::client::cancel(&txn, id, owner.as_deref()).await?;
        let change = match cancelled {
            Some(task) => {
                outbox::Entity::delete_many()
                    .filter(outbox::Column::TaskId.eq(id))
                    .exec(&txn)
                    .await?;
                Change::Done(Box::new(task))
            }
            None => current(&txn, id, owner.as_deref()).await?,
        };
        txn.commit().await?;
        Ok(change)
    })
    .await
}

/// Queue a FAILED task again as a new run: PENDING, attempts from zero, its job (with the
/// task's own chain) in the outbox, in one transaction.
pub(crate) async fn retry(
    db: &DatabaseConnection,
    scope: &Scope,
    id: Uuid,
    trace: TraceContext,
) -> Result<Change, ApiError> {
    let owner = scope.owner().map(str::to_owned);
    timed(async {
        let txn = db.begin().await?;
        let retried = tasks::client::retry(&txn, id, owner.as_deref()).await?;
        let change = match retried {
            Some(task) => {
                let run = u32::try_from(task.run).unwrap_or(0);
                let job = JobMessage::new(
                    task.id,
                    task.original_key.clone(),
                    task.content_type.clone(),
                )
                .with_steps(task.steps.clone())
                .for_run(run);
                let payload =
                    serde_json::to_value(&job).map_err(|e| DbErr::Custom(e.to_string()))?;
                enqueue(&txn, task.id, payload, trace).await?;
                Change::Done(Box::new(task))
            }
            None => current(&txn, id, owner.as_deref()).await?,
        };
        txn.commit().await?;
        Ok(change)
    })
    .await
}

/// Why a conditional change matched nothing: the task's status, or that it is not there.
async fn current(
    txn: &DatabaseTransaction,
    id: Uuid,
    owner: Option<&str>,
) -> Result<Change, DbErr> {
    Ok(match visible(id, owner).one(txn).await? {
        Some(task) => Change::Refused(task.status),
        None => Change::Missing,
    })
}
