//! `/api/v1/tasks`: read, list, cancel and retry tasks.

use imagepipe_entity::task;
use imagepipe_shared::{messages::CancelMessage, trace::TraceContext};
use lapin::types::FieldTable;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiTags,
    analyze::{Accepted, task_url},
    responses::endpoint_response,
    task_view::{Status, TaskView, view},
};
use crate::{
    auth::{Auth, Scope},
    error::ApiError,
    state::AppState,
    tasks_repo::{self, Change},
};

pub(crate) struct TasksApi {
    pub state: AppState,
}

/// One page of tasks, newest first.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TaskPage {
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

endpoint_response! {
    pub enum GetTaskResponse {
        /// The task.
        #[oai(status = 200)]
        Ok(Json<Box<TaskView>>),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The id is not a UUID (`invalid_task_id`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// No task has this id, or it belongs to another API key (`task_not_found`).
        NotFound = 404,
        /// The task existed but was deleted after its retention period (`task_expired`).
        Gone = 410,
        /// The database is unavailable (`database_unavailable`).
        Unavailable = 503,
    }
}

/// The task with this id if the caller may see it; otherwise why not (not found, expired).
pub(super) async fn find_visible(
    state: &AppState,
    scope: &Scope,
    id: Uuid,
) -> Result<task::Model, ApiError> {
    match tasks_repo::find(&state.db, scope, id).await? {
        Some(task) => Ok(task),
        None => Err(tasks_repo::missing(&state.db, scope, id).await),
    }
}

/// The task a change was made to; or why not: refused in the task's current status (named in
/// the error `refused` makes), or no such task for the caller.
async fn changed(
    state: &AppState,
    scope: &Scope,
    id: Uuid,
    change: Change,
    refused: impl FnOnce(String) -> ApiError,
) -> Result<Box<task::Model>, ApiError> {
    match change {
        Change::Done(task) => Ok(task),
        Change::Refused(status) => Err(refused(status.to_string())),
        Change::Missing => Err(tasks_repo::missing(&state.db, scope, id).await),
    }
}

endpoint_response! {
    pub enum ListTasksResponse {
        /// A page of tasks, newest first.
        #[oai(status = 200)]
        Ok(Json<TaskPage>),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// A parameter is invalid: unknown status, limit out of range (`invalid_request`), or a
        /// cursor this API did not return (`invalid_cursor`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// The database is unavailable (`database_unavailable`).
        Unavailable = 503,
    }
}

endpoint_response! {
    pub enum CancelTaskResponse {
        /// Cancelled: the task is CANCELLED for good; processors skip or stop its job, and a
        /// result that still arrives is deleted.
        #[oai(status = 200)]
        Ok(Json<Box<TaskView>>),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The id is not a UUID (`invalid_task_id`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// No task has this id, or it belongs to another API key (`task_not_found`).
        NotFound = 404,
        /// The task already ended: COMPLETED, FAILED or CANCELLED (`task_not_cancellable`).
        Conflict = 409,
        /// The task was deleted after its retention period (`task_expired`).
        Gone = 410,
        /// The database is unavailable (`database_unavailable`).
        Unavailable = 503,
    }
}

endpoint_response! {
    pub enum RetryTaskResponse {
        /// Queued again as a new run (attempts start over). `Location` is the task's URL.
        #[oai(status = 202)]
        Accepted(Json<Accepted>, #[oai(header = "Location")] String),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The id is not a UUID (`invalid_task_id`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// No task has this id, or it belongs to another API key (`task_not_found`).
        NotFound = 404,
        /// Only a FAILED task can be retried (`task_not_retryable`).
        Conflict = 409,
        /// The task was deleted after its retention period (`task_expired`).
        Gone = 410,
        /// The database is unavailable (`database_unavailable`).
        Unavailable = 503,
    }
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
            let scope = auth.scope(&self.state.api_keys)?;
            let task = find_visible(&self.state, &scope, task_id.0).await?;
            Ok::<_, ApiError>(view(&self.state, task).await)
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
        #[oai(validator(min_length = 1))]
        cursor: Query<Option<String>>,
    ) -> ListTasksResponse {
        let page = async {
            let scope = auth.scope(&self.state.api_keys)?;
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
                views.push(view(&self.state, task).await);
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
            let scope = auth.scope(&self.state.api_keys)?;
            let change = tasks_repo::cancel(&self.state.db, &scope, id).await?;
            changed(&self.state, &scope, id, change, |status| {
                ApiError::TaskNotCancellable { id, status }
            })
            .await
        };
        match cancelled.await {
            Ok(task) => {
                tracing::info!(task_id = %id, "task cancelled");
                self.broadcast_cancel(id);
                CancelTaskResponse::Ok(Json(Box::new(view(&self.state, *task).await)))
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
            let scope = auth.scope(&self.state.api_keys)?;
            let change =
                tasks_repo::retry(&self.state.db, &scope, id, TraceContext::new_root()).await?;
            changed(&self.state, &scope, id, change, |status| {
                ApiError::TaskNotRetryable { id, status }
            })
            .await
        };
        match retried.await {
            Ok(task) => {
                tracing::info!(task_id = %id, run = task.run, "task queued again");
                self.state.relay_wakeup.notify_one();
                RetryTaskResponse::Accepted(Json(Accepted::processing(id)), task_url(id))
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
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::api::responses::check;

    #[tokio::test]
    async fn get_task_documents_every_error_it_returns() {
        check::answers_each_error_as_documented::<GetTaskResponse>(
            GetTaskResponse::ERROR_STATUSES,
            check::task_lookup_errors(),
        )
        .await;
        check::body_always_agrees_with_status::<GetTaskResponse>().await;
    }

    #[tokio::test]
    async fn list_tasks_documents_every_error_it_returns() {
        check::answers_each_error_as_documented::<ListTasksResponse>(
            ListTasksResponse::ERROR_STATUSES,
            vec![
                ApiError::InvalidRequest("limit out of range".into()),
                ApiError::InvalidCursor,
                ApiError::Unauthorized,
                ApiError::DatabaseUnavailable(anyhow::anyhow!("down")),
                ApiError::Internal(anyhow::anyhow!("bug")),
            ],
        )
        .await;
        check::body_always_agrees_with_status::<ListTasksResponse>().await;
    }

    #[tokio::test]
    async fn cancel_task_documents_every_error_it_returns() {
        let mut errors = check::task_lookup_errors();
        errors.push(ApiError::TaskNotCancellable {
            id: Uuid::nil(),
            status: "COMPLETED".into(),
        });
        check::answers_each_error_as_documented::<CancelTaskResponse>(
            CancelTaskResponse::ERROR_STATUSES,
            errors,
        )
        .await;
        check::body_always_agrees_with_status::<CancelTaskResponse>().await;
    }

    #[tokio::test]
    async fn retry_task_documents_every_error_it_returns() {
        let mut errors = check::task_lookup_errors();
        errors.push(ApiError::TaskNotRetryable {
            id: Uuid::nil(),
            status: "PENDING".into(),
        });
        check::answers_each_error_as_documented::<RetryTaskResponse>(
            RetryTaskResponse::ERROR_STATUSES,
            errors,
        )
        .await;
        check::body_always_agrees_with_status::<RetryTaskResponse>().await;
    }
}
