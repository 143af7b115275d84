//! `GET /api/v1/tasks/{task_id}/events`: a task's status changes as Server-Sent Events, until
//! it ends. The web page follows tasks with it instead of polling.

use std::time::Duration;

use futures::{StreamExt, stream::BoxStream};
use imagepipe_entity::task;
use poem::web::sse::Event;
use poem_openapi::{OpenApi, param::Path, payload::EventStream, types::ToJSON};
use uuid::Uuid;

use super::{
    ApiTags,
    responses::endpoint_response,
    task_view::{TaskView, view},
    tasks::find_visible,
};
use crate::{
    auth::{Auth, Scope},
    error::ApiError,
    state::AppState,
    tasks_repo,
};

/// How often a stream looks at its task. A primary-key read: cheap enough for many watchers.
const POLL: Duration = Duration::from_millis(300);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(crate) struct EventsApi {
    pub state: AppState,
}

endpoint_response! {
    pub enum TaskEventsResponse {
        /// A `text/event-stream`: one `status` event with the task (as `GET /tasks/{id}` returns
        /// it) at once, then one on every change, until the task is COMPLETED, FAILED or
        /// CANCELLED; then the stream ends.
        #[oai(status = 200)]
        Ok(EventStream<BoxStream<'static, TaskView>>),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The id is not a UUID (`invalid_task_id`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// No task has this id, or it belongs to another API key (`task_not_found`).
        NotFound = 404,
        /// The task was deleted after its retention period (`task_expired`).
        Gone = 410,
        /// The database is unavailable (`database_unavailable`).
        Unavailable = 503,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tasks")]
impl EventsApi {
    /// Follow a task
    ///
    /// Server-Sent Events of the task's status changes until it ends: each `status` event
    /// carries the task as `GET /api/v1/tasks/{task_id}` returns it.
    #[oai(
        path = "/tasks/:task_id/events",
        method = "get",
        operation_id = "task_events"
    )]
    async fn task_events(&self, auth: Auth, task_id: Path<Uuid>) -> TaskEventsResponse {
        let first = async {
            let scope = auth.scope(&self.state.api_keys)?;
            let task = find_visible(&self.state, &scope, task_id.0).await?;
            Ok::<_, crate::error::ApiError>((scope, task))
        };
        match first.await {
            Ok((scope, task)) => {
                let stream = changes(self.state.clone(), scope, task);
                TaskEventsResponse::Ok(
                    EventStream::new(stream)
                        .keep_alive(KEEP_ALIVE)
                        .to_event(|view| {
                            Event::message(view.to_json_string()).event_type("status")
                        }),
                )
            }
            Err(err) => err.into(),
        }
    }
}

/// Where a stream is: the task as last sent, and whether it has ended.
struct Watch {
    state: AppState,
    scope: Scope,
    id: Uuid,
    last: Option<(task::TaskStatus, chrono::DateTime<chrono::Utc>)>,
    next: Option<task::Model>,
    ended: bool,
}

/// The task now, then every change, ending after a terminal state (or if it disappears).
fn changes(state: AppState, scope: Scope, first: task::Model) -> BoxStream<'static, TaskView> {
    let watch = Watch {
        state,
        scope,
        id: first.id,
        last: None,
        next: Some(first),
        ended: false,
    };
    futures::stream::unfold(watch, |mut watch| async move {
        loop {
            if watch.ended {
                return None;
            }
            let task = match watch.next.take() {
                Some(task) => task,
                None => {
                    tokio::time::sleep(POLL).await;
                    match tasks_repo::find(&watch.state.db, &watch.scope, watch.id).await {
                        Ok(Some(task)) => task,
                        // Deleted by retention meanwhile: nothing more will happen.
                        Ok(None) => return None,
                        // The database is away: keep the stream, look again later.
                        Err(_) => continue,
                    }
                }
            };
            let seen = (task.status, task.updated_at);
            if watch.last == Some(seen) {
                continue;
            }
            watch.last = Some(seen);
            watch.ended = task.status.is_terminal();
            let view = view(&watch.state, task).await;
            return Some((view, watch));
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::check;

    #[tokio::test]
    async fn task_events_documents_every_error_it_returns() {
        check::answers_each_error_as_documented::<TaskEventsResponse>(
            TaskEventsResponse::ERROR_STATUSES,
            check::task_lookup_errors(),
        )
        .await;
        check::body_always_agrees_with_status::<TaskEventsResponse>().await;
    }
}
