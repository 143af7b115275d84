//! `/api/v1/tasks`: read, list, cancel and retry tasks.

use chrono::{DateTime, Utc};
use imagepipe_entity::task::{self, TaskStatus};
use imagepipe_shared::{messages::CancelMessage, storage::Bucket, trace::TraceContext};
use lapin::types::FieldTable;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, analyze::Accepted};
use crate::{
    auth::Auth,
    error::{ApiError, Problem, RETRY_AFTER_SECS},
    state::AppState,
    tasks_repo::{self, Change},
};

pub struct TasksApi {
    pub state: AppState,
}

/// Where a task is in its life: PENDING → PROCESSING → COMPLETED | FAILED | CANCELLED.
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
    /// A client cancelled it before it ended.
    Cancelled,
}

impl From<TaskStatus> for Status {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::Processing => Self::Processing,
            TaskStatus::Completed => Self::Completed,
            TaskStatus::Failed => Self::Failed,
            TaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<Status> for TaskStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => Self::Pending,
            Status::Processing => Self::Processing,
            Status::Completed => Self::Completed,
            Status::Failed => Self::Failed,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

fn status_name(status: TaskStatus) -> String {
    match status {
        TaskStatus::Pending => "PENDING",
        TaskStatus::Processing => "PROCESSING",
        TaskStatus::Completed => "COMPLETED",
        TaskStatus::Failed => "FAILED",
        TaskStatus::Cancelled => "CANCELLED",
    }
    .to_owned()
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
#[oai(example)]
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
    /// Processing attempts started in the current run.
    pub attempts: i32,
    /// 0 for the upload; one more for every retry through the API.
    pub run: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended: COMPLETED, FAILED or CANCELLED.
    pub completed_at: Option<DateTime<Utc>>,
    /// The reason, when FAILED.
    pub error: Option<TaskError>,
    /// The URL that gets a webhook when the task ends, if one was given.
    pub callback_url: Option<String>,
    /// The uploaded original.
    pub original: StoredObject,
    /// The processed image, when COMPLETED.
    pub result: Option<StoredObject>,
}

impl poem_openapi::types::Example for TaskView {
    fn example() -> Self {
        task_example()
    }
}

fn task_example() -> TaskView {
    let id = Uuid::parse_str("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").unwrap_or_default();
    let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    TaskView {
        task_id: id,
        status: Status::Completed,
        original_filename: Some("cat.jpg".into()),
        content_type: "image/jpeg".into(),
        size_bytes: 482_113,
        width: 1920,
        height: 1080,
        attempts: 1,
        run: 0,
        created_at: at,
        updated_at: at,
        started_at: Some(at),
        completed_at: Some(at),
        error: None,
        callback_url: None,
        original: StoredObject {
            bucket: "uploads".into(),
            key: format!("originals/{id}"),
            download_url: Some(format!(
                "http://localhost:9000/uploads/originals/{id}?X-Amz-Signature=..."
            )),
            url_expires_at: Some(at),
        },
        result: Some(StoredObject {
            bucket: "processed".into(),
            key: format!("results/{id}.jpg"),
            download_url: Some(format!(
                "http://localhost:9000/processed/results/{id}.jpg?X-Amz-Signature=..."
            )),
            url_expires_at: Some(at),
        }),
    }
}

/// One page of tasks, newest first.
#[derive(Debug, Object)]
pub struct TaskPage {
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "get_bad_request")]
pub enum GetTaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(Json<Box<TaskView>>),
    /// The id is not a UUID (`invalid_task_id`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// An API key is required and none valid was given (`unauthorized`).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// No task has this id, or it belongs to another API key (`task_not_found`).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The task existed but was deleted after its retention period (`task_expired`).
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
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
            401 => Self::Unauthorized(problem),
            404 => Self::NotFound(problem),
            410 => Self::Gone(problem),
            503 => Self::Unavailable(problem, RETRY_AFTER_SECS),
            _ => Self::Internal(problem),
        }
    }
}

fn get_bad_request(err: poem::Error) -> GetTaskResponse {
    path_error(err).into()
}

/// A task id in the path that is not a UUID gets its own code.
pub(super) fn path_error(err: poem::Error) -> ApiError {
    if err.is::<poem_openapi::error::ParsePathError>() {
        ApiError::InvalidTaskId(err.to_string())
    } else {
        ApiError::from_parse_error(&err)
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "list_bad_request")]
pub enum ListTasksResponse {
    /// A page of tasks, newest first.
    #[oai(status = 200)]
    Ok(Json<TaskPage>),
    /// A parameter is invalid: unknown status, limit out of range (`invalid_request`), or a
    /// cursor this API did not return (`invalid_cursor`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// An API key is required and none valid was given (`unauthorized`).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The database is unavailable (`database_unavailable`).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
    /// Unexpected server error (`internal_error`).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for ListTasksResponse {
    fn from(err: ApiError) -> Self {
        let problem = Json(err.problem());
        match err.status().as_u16() {
            400 => Self::BadRequest(problem),
            401 => Self::Unauthorized(problem),
            503 => Self::Unavailable(problem, RETRY_AFTER_SECS),
            _ => Self::Internal(problem),
        }
    }
}

fn list_bad_request(err: poem::Error) -> ListTasksResponse {
    ApiError::from_parse_error(&err).into()
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "cancel_bad_request")]
pub enum CancelTaskResponse {
    /// Cancelled: the task is CANCELLED for good; processors skip or stop its job, and a
    /// result that still arrives is deleted.
    #[oai(status = 200)]
    Ok(Json<Box<TaskView>>),
    /// The id is not a UUID (`invalid_task_id`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// An API key is required and none valid was given (`unauthorized`).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// No task has this id, or it belongs to another API key (`task_not_found`).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The task already ended: COMPLETED, FAILED or CANCELLED (`task_not_cancellable`).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The task was deleted after its retention period (`task_expired`).
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
    /// The database is unavailable (`database_unavailable`).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
    /// Unexpected server error (`internal_error`).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for CancelTaskResponse {
    fn from(err: ApiError) -> Self {
        let problem = Json(err.problem());
        match err.status().as_u16() {
            400 => Self::BadRequest(problem),
            401 => Self::Unauthorized(problem),
            404 => Self::NotFound(problem),
            409 => Self::Conflict(problem),
            410 => Self::Gone(problem),
            503 => Self::Unavailable(problem, RETRY_AFTER_SECS),
            _ => Self::Internal(problem),
        }
    }
}

fn cancel_bad_request(err: poem::Error) -> CancelTaskResponse {
    path_error(err).into()
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "retry_bad_request")]
pub enum RetryTaskResponse {
    /// Queued again as a new run (attempts start over). `Location` is the task's URL.
    #[oai(status = 202)]
    Accepted(Json<Accepted>, #[oai(header = "Location")] String),
    /// The id is not a UUID (`invalid_task_id`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// An API key is required and none valid was given (`unauthorized`).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// No task has this id, or it belongs to another API key (`task_not_found`).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Only a FAILED task can be retried (`task_not_retryable`).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The task was deleted after its retention period (`task_expired`).
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
    /// The database is unavailable (`database_unavailable`).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
    /// Unexpected server error (`internal_error`).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for RetryTaskResponse {
    fn from(err: ApiError) -> Self {
        let problem = Json(err.problem());
        match err.status().as_u16() {
            400 => Self::BadRequest(problem),
            401 => Self::Unauthorized(problem),
            404 => Self::NotFound(problem),
            409 => Self::Conflict(problem),
            410 => Self::Gone(problem),
            503 => Self::Unavailable(problem, RETRY_AFTER_SECS),
            _ => Self::Internal(problem),
        }
    }
}

fn retry_bad_request(err: poem::Error) -> RetryTaskResponse {
    path_error(err).into()
}

/// Largest page.
const MAX_PAGE: u64 = 100;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Get a task
    ///
    /// Its status, timestamps and attempts; the reason when FAILED; and when COMPLETED, where
    /// the result is, with a time-limited download URL (one for the original too).
    #[oai(path = "/tasks/:task_id", method = "get", operation_id = "get_task")]
    async fn get_task(&self, auth: Auth, task_id: Path<Uuid>) -> GetTaskResponse {
        let found = async {
            let scope = auth.scope(&self.state)?;
            match tasks_repo::find(&self.state.db, &scope, task_id.0).await? {
                Some(task) => Ok(self.view(task).await),
                None => Err(tasks_repo::missing(&self.state.db, &scope, task_id.0).await),
            }
        };
        match found.await {
            Ok(view) => GetTaskResponse::Ok(Json(Box::new(view))),
            Err(err) => err.into(),
        }
    }

    /// List tasks
    ///
    /// Newest first, optionally only those with one status. Pages are cut by a cursor, so
    /// tasks created while a client pages through never shift the pages: each task already
    /// there when paging began is visited exactly once.
    #[oai(path = "/tasks", method = "get", operation_id = "list_tasks")]
    async fn list_tasks(
        &self,
        auth: Auth,
        /// Only tasks with this status.
        status: Query<Option<Status>>,
        /// Tasks per page (1 to 100, default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListTasksResponse {
        let page = async {
            let scope = auth.scope(&self.state)?;
            let before = cursor
                .0
                .as_deref()
                .map(|c| Uuid::parse_str(c).map_err(|_| ApiError::InvalidCursor))
                .transpose()?;
            let limit = limit.0.unwrap_or(20).clamp(1, MAX_PAGE);
            let mut tasks = tasks_repo::list(
                &self.state.db,
                &scope,
                status.0.map(Into::into),
                before,
                limit,
            )
            .await?;
            let more = tasks.len() as u64 > limit;
            tasks.truncate(limit as usize);
            let next_cursor = more
                .then(|| tasks.last().map(|t| t.id.to_string()))
                .flatten();
            let mut views = Vec::with_capacity(tasks.len());
            for task in tasks {
                views.push(self.view(task).await);
            }
            Ok::<_, ApiError>(TaskPage {
                tasks: views,
                next_cursor,
            })
        };
        match page.await {
            Ok(page) => ListTasksResponse::Ok(Json(page)),
            Err(err) => err.into(),
        }
    }

    /// Cancel a task
    ///
    /// A task not yet finished becomes CANCELLED, a terminal state. Processors skip its job,
    /// or stop it where they can; a result that arrives anyway is deleted. Cancelling a task
    /// that already ended is a 409.
    #[oai(
        path = "/tasks/:task_id/cancel",
        method = "post",
        operation_id = "cancel_task"
    )]
    async fn cancel_task(&self, auth: Auth, task_id: Path<Uuid>) -> CancelTaskResponse {
        let id = task_id.0;
        let cancelled = async {
            let scope = auth.scope(&self.state)?;
            match tasks_repo::cancel(&self.state.db, &scope, id).await? {
                Change::Done(task) => Ok(task),
                Change::Refused(status) => Err(ApiError::TaskNotCancellable {
                    id,
                    status: status_name(status),
                }),
                Change::Missing => Err(tasks_repo::missing(&self.state.db, &scope, id).await),
            }
        };
        match cancelled.await {
            Ok(task) => {
                tracing::info!(task_id = %id, "task cancelled");
                self.broadcast_cancel(id);
                CancelTaskResponse::Ok(Json(Box::new(self.view(*task).await)))
            }
            Err(err) => err.into(),
        }
    }

    /// Retry a failed task
    ///
    /// Queues a FAILED task again as a new run, with attempts starting over: parked work can
    /// be re-driven after an outage without a broker console. Only FAILED tasks (409
    /// otherwise).
    #[oai(
        path = "/tasks/:task_id/retry",
        method = "post",
        operation_id = "retry_task"
    )]
    async fn retry_task(&self, auth: Auth, task_id: Path<Uuid>) -> RetryTaskResponse {
        let id = task_id.0;
        let retried = async {
            let scope = auth.scope(&self.state)?;
            match tasks_repo::retry(&self.state.db, &scope, id, TraceContext::new_root()).await? {
                Change::Done(task) => Ok(task),
                Change::Refused(status) => Err(ApiError::TaskNotRetryable {
                    id,
                    status: status_name(status),
                }),
                Change::Missing => Err(tasks_repo::missing(&self.state.db, &scope, id).await),
            }
        };
        match retried.await {
            Ok(task) => {
                tracing::info!(task_id = %id, run = task.run, "task queued again");
                self.state.relay_wakeup.notify_one();
                RetryTaskResponse::Accepted(
                    Json(Accepted::processing(id)),
                    format!("/api/v1/tasks/{id}"),
                )
            }
            Err(err) => err.into(),
        }
    }
}

impl TasksApi {
    /// Tell the processors, without making the client wait for the broker: the database
    /// already says CANCELLED, and a processor that misses this only wastes work.
    fn broadcast_cancel(&self, task_id: Uuid) {
        let publisher = self.state.publisher.clone();
        let exchange = self.state.config.amqp.topology().cancellations_exchange();
        tokio::spawn(async move {
            let notice = CancelMessage::new(task_id);
            if let Err(err) = publisher
                .publish(
                    &exchange,
                    "",
                    notice.message_id,
                    &notice,
                    FieldTable::default(),
                )
                .await
            {
                tracing::warn!(%task_id, %err, "cannot broadcast a cancellation; processors will finish its job and the result will be dropped");
            }
        });
    }

    async fn view(&self, task: task::Model) -> TaskView {
        view(&self.state, task).await
    }
}

/// A task as the API shows it, with fresh download URLs.
pub async fn view(state: &AppState, task: task::Model) -> TaskView {
    let storage = &state.storage;
    let original = stored(state, &storage.uploads, &task.original_key).await;
    let result = match &task.result_key {
        Some(key) if task.status == TaskStatus::Completed => {
            Some(stored(state, &storage.processed, key).await)
        }
        _ => None,
    };
    to_view(task, original, result)
}

async fn stored(state: &AppState, bucket: &Bucket, key: &str) -> StoredObject {
    let ttl = state.config.download_url_ttl();
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
        run: task.run,
        created_at: task.created_at,
        updated_at: task.updated_at,
        started_at: task.started_at,
        completed_at: task.completed_at,
        error,
        callback_url: task.callback_url,
        original,
        result,
    }
}
