//! The task table as ingest uses it: create a task together with its outbox entry; read,
//! list, cancel and retry tasks. Every read and write is limited to the caller's scope.

use std::time::Duration;

use chrono::Utc;
use imagepipe_entity::{outbox, task};
use imagepipe_shared::{messages::JobMessage, trace::TraceContext};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::{auth::Scope, error::ApiError};

/// Longest a request waits on the database before answering 503.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn timed<T>(fut: impl Future<Output = Result<T, DbErr>>) -> Result<T, ApiError> {
    match tokio::time::timeout(DB_TIMEOUT, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ApiError::DatabaseUnavailable(err.into())),
        Err(_) => Err(ApiError::DatabaseUnavailable(anyhow::anyhow!(
            "no answer within {DB_TIMEOUT:?}"
        ))),
    }
}

/// What ingest knows of a new task.
pub struct NewTask {
    pub id: Uuid,
    pub original_key: String,
    pub original_filename: Option<String>,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    pub owner: Option<String>,
    pub callback_url: Option<String>,
    /// The claimed idempotency key (scope, key) to record this task on.
    pub idempotency: Option<(String, String)>,
    /// The trace the job continues.
    pub trace: TraceContext,
}

/// Insert the task (PENDING) and its job in the outbox, in one transaction: either both are
/// committed, and the relay will publish the job, or neither is.
pub async fn create(db: &DatabaseConnection, new: NewTask) -> Result<(), ApiError> {
    let job = JobMessage::new(new.id, new.original_key.clone(), new.content_type.clone());
    let payload = serde_json::to_value(&job).map_err(|e| ApiError::Internal(e.into()))?;
    let now = Utc::now();
    timed(async {
        let txn = db.begin().await?;
        task::ActiveModel {
            id: Set(new.id),
            status: Set(task::TaskStatus::Pending),
            original_key: Set(new.original_key),
            original_filename: Set(new.original_filename),
            content_type: Set(new.content_type),
            size_bytes: Set(new.size_bytes),
            width: Set(new.width),
            height: Set(new.height),
            attempts: Set(0),
            error_code: Set(None),
            error_message: Set(None),
            result_key: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            started_at: Set(None),
            completed_at: Set(None),
            run: Set(0),
            queued_at: Set(now),
            owner: Set(new.owner),
            callback_url: Set(new.callback_url),
        }
        .insert(&txn)
        .await?;
        enqueue(&txn, new.id, payload, new.trace).await?;
        if let Some((scope, key)) = &new.idempotency {
            txn.execute_raw(crate::idempotency::complete_statement(scope, key, new.id))
                .await?;
        }
        txn.commit().await
    })
    .await
}

/// Put a job in the outbox, inside the caller's transaction.
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
pub async fn find(
    db: &DatabaseConnection,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<task::Model>, ApiError> {
    let mut query = task::Entity::find_by_id(id);
    if let Some(owner) = scope.owner() {
        query = query.filter(task::Column::Owner.eq(owner));
    }
    timed(query.one(db)).await
}

/// The error for a task id that `find` did not return: 410 if retention deleted it (and the
/// scope may know), 404 otherwise.
pub async fn missing(db: &DatabaseConnection, scope: &Scope, id: Uuid) -> ApiError {
    let tombstone = timed(db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT 1 AS gone FROM task_tombstones
          WHERE id = $1 AND ($2::text IS NULL OR owner = $2)",
        vec![id.into(), scope.owner().map(str::to_owned).into()],
    )))
    .await;
    match tombstone {
        Ok(Some(_)) => ApiError::TaskExpired(id),
        Ok(None) => ApiError::TaskNotFound(id),
        Err(err) => err,
    }
}

/// One page of tasks, newest first: those older than `before` (ids are UUIDv7, ordered by
/// creation time), optionally with one status. Asks for one more than `limit`, so the caller
/// knows whether another page follows.
pub async fn list(
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
pub enum Change {
    Done(Box<task::Model>),
    /// The task exists but is in a state that does not allow it.
    Refused(task::TaskStatus),
    Missing,
}

/// Cancel a task not yet finished: CANCELLED, with its unpublished job (if any) taken out of
/// the outbox, in one transaction.
pub async fn cancel(db: &DatabaseConnection, scope: &Scope, id: Uuid) -> Result<Change, ApiError> {
    let owner = scope.owner().map(str::to_owned);
    timed(async {
        let txn = db.begin().await?;
        let cancelled = task::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE tasks SET status = 'CANCELLED', completed_at = now(), updated_at = now()
                  WHERE id = $1 AND ($2::text IS NULL OR owner = $2)
                    AND status IN ('PENDING', 'PROCESSING')
                 RETURNING *",
                vec![id.into(), owner.clone().into()],
            ))
            .one(&txn)
            .await?;
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

/// Queue a FAILED task again as a new run: PENDING, attempts from zero, its job in the
/// outbox, in one transaction.
pub async fn retry(
    db: &DatabaseConnection,
    scope: &Scope,
    id: Uuid,
    trace: TraceContext,
) -> Result<Change, ApiError> {
    let owner = scope.owner().map(str::to_owned);
    timed(async {
        let txn = db.begin().await?;
        let retried = task::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE tasks SET status = 'PENDING', run = run + 1, attempts = 0,
                        error_code = NULL, error_message = NULL, result_key = NULL,
                        started_at = NULL, completed_at = NULL,
                        queued_at = now(), updated_at = now()
                  WHERE id = $1 AND ($2::text IS NULL OR owner = $2) AND status = 'FAILED'
                 RETURNING *",
                vec![id.into(), owner.clone().into()],
            ))
            .one(&txn)
            .await?;
        let change = match retried {
            Some(task) => {
                let run = u32::try_from(task.run).unwrap_or(0);
                let job = JobMessage::new(
                    task.id,
                    task.original_key.clone(),
                    task.content_type.clone(),
                )
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
    let mut query = task::Entity::find_by_id(id);
    if let Some(owner) = owner {
        query = query.filter(task::Column::Owner.eq(owner));
    }
    Ok(match query.one(txn).await? {
        Some(task) => Change::Refused(task.status),
        None => Change::Missing,
    })
}
