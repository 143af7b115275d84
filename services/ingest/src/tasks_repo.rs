//! The task table as ingest uses it: create a task together with its outbox entry, and read.

use std::time::Duration;

use chrono::Utc;
use imagepipe_entity::{outbox, task};
use imagepipe_shared::messages::JobMessage;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, DatabaseConnection, DbErr,
    EntityTrait, TransactionTrait,
};
use uuid::Uuid;

use crate::error::ApiError;

/// Longest a request waits on the database before answering 503.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

async fn timed<T>(fut: impl Future<Output = Result<T, DbErr>>) -> Result<T, ApiError> {
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
        }
        .insert(&txn)
        .await?;
        outbox::ActiveModel {
            id: NotSet,
            task_id: Set(new.id),
            payload: Set(payload),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await
    })
    .await
}

pub async fn find(db: &DatabaseConnection, id: Uuid) -> Result<Option<task::Model>, ApiError> {
    timed(task::Entity::find_by_id(id).one(db)).await
}
