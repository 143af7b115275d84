//! `GET /api/v1/tasks/{task_id}`: where a task is.

use chrono::{DateTime, Utc};
use imagepipe_entity::task::{self, TaskStatus};
use imagepipe_shared::storage::Bucket;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::ApiTags;
use crate::{
    error::{ApiError, Problem, RETRY_AFTER_SECS},
    state::AppState,
    tasks_repo,
};

pub struct TasksApi {
    pub state: AppState,
}

/// Where a task is in its life: PENDING → PROCESSING → COMPLETED | FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Stored and queued; no processor has picked it up yet.
    Pending,
    /// A processor is working on it.
    Processing,
    /// Done: the result is in `result`.
    Completed,
    /// Ended without a result: the reason is in `error`.
    Failed,
}

impl From<TaskStatus> for Status {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::Processing => Self::Processing,
            TaskStatus::Completed => Self::Completed,
            TaskStatus::Failed => Self::Failed,
        }
    }
}

/// Why a task failed.
#[derive(Debug, Object)]
pub struct TaskError {
    /// Stable, machine-readable code, e.g. `undecodable_image`, `storage_unavailable`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An object in the store, and a URL to download it without credentials.
#[derive(Debug, Object)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
    /// Presigned download URL, valid until `url_expires_at`; absent if it cannot be signed.
    pub download_url: Option<String>,
    pub url_expires_at: Option<DateTime<Utc>>,
}

/// A task and, once it ended, its outcome.
#[derive(Debug, Object)]
pub struct TaskView {
    pub task_id: Uuid,
    pub status: Status,
    /// The client's file name, as sent (metadata only).
    pub original_filename: Option<String>,
    /// Media type of the original, decided from its bytes.
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    /// Processing attempts started so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The reason, when FAILED.
    pub error: Option<TaskError>,
    /// The uploaded original.
    pub original: StoredObject,
    /// The processed image, when COMPLETED.
    pub result: Option<StoredObject>,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum GetTaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(Json<Box<TaskView>>),
    /// The id is not a UUID (`invalid_task_id`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No task has this id (`task_not_found`).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The database is unavailable (`database_unavailable`).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
    /// Unexpected server error (`internal_error`).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for GetTaskResponse {
    fn from(err: ApiError) -> Self {
        let problem = Json(err.problem());
        match err.status().as_u16() {
            400 => Self::BadRequest(problem),
            404 => Self::NotFound(problem),
            503 => Self::Unavailable(problem, RETRY_AFTER_SECS),
            _ => Self::Internal(problem),
        }
    }
}

fn bad_request(err: poem::Error) -> GetTaskResponse {
    if err.is::<poem_openapi::error::ParsePathError>() {
        ApiError::InvalidTaskId(err.to_string()).into()
    } else {
        ApiError::from_parse_error(&err).into()
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Get a task
    ///
    /// Its status, timestamps and attempts; the reason when FAILED; and when COMPLETED, where
    /// the result is, with a time-limited download URL.
    #[oai(path = "/tasks/:task_id", method = "get", operation_id = "get_task")]
    async fn get_task(&self, task_id: Path<Uuid>) -> GetTaskResponse {
        match self.view(task_id.0).await {
            Ok(view) => GetTaskResponse::Ok(Json(Box::new(view))),
            Err(err) => err.into(),
        }
    }
}

impl TasksApi {
    async fn view(&self, task_id: Uuid) -> Result<TaskView, ApiError> {
        let task = tasks_repo::find(&self.state.db, task_id)
            .await?
            .ok_or(ApiError::TaskNotFound(task_id))?;
        let storage = &self.state.storage;
        let original = self.stored(&storage.uploads, &task.original_key).await;
        let result = match &task.result_key {
            Some(key) if task.status == TaskStatus::Completed => {
                Some(self.stored(&storage.processed, key).await)
            }
            _ => None,
        };
        Ok(to_view(task, original, result))
    }

    async fn stored(&self, bucket: &Bucket, key: &str) -> StoredObject {
        let ttl = self.state.config.download_url_ttl();
        let url = match bucket.download_url(key, ttl).await {
            Ok(url) => url,
            Err(err) => {
                tracing::warn!(%err, key, "cannot sign a download URL");
                None
            }
        };
        StoredObject {
            bucket: bucket.name().to_owned(),
            key: key.to_owned(),
            url_expires_at: url.as_ref().map(|_| Utc::now() + ttl),
            download_url: url.map(String::from),
        }
    }
}

fn to_view(task: task::Model, original: StoredObject, result: Option<StoredObject>) -> TaskView {
    let error = match (task.error_code, task.error_message) {
        (Some(code), message) => Some(TaskError {
            code,
            message: message.unwrap_or_default(),
        }),
        _ => None,
    };
    TaskView {
        task_id: task.id,
        status: task.status.into(),
        original_filename: task.original_filename,
        content_type: task.content_type,
        size_bytes: task.size_bytes,
        width: task.width,
        height: task.height,
        attempts: task.attempts,
        created_at: task.created_at,
        updated_at: task.updated_at,
        started_at: task.started_at,
        completed_at: task.completed_at,
        error,
        original,
        result,
    }
}
