//! A task's images through the API: `GET /api/v1/tasks/{task_id}/result` and `/original`.
//!
//! The object is streamed from the store through ingest, not redirected to its presigned URL.
//! A client then needs one base URL and one credential: nothing of its API key can reach the
//! object store (common HTTP clients drop `Authorization` on a cross-origin redirect, but not
//! `X-API-Key`), and the store need not be reachable from where the client runs. The task
//! view's presigned `download_url`s stay for clients that want the store to serve the bytes.

use futures::{StreamExt, TryStreamExt};
use imagepipe_entity::task::{self, TaskStatus};
use imagepipe_shared::storage::{Bucket, StorageError};
use poem::{Body, IntoResponse, Response};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::Path,
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
};
use uuid::Uuid;

use super::{ApiTags, responses::endpoint_response, tasks::find_visible};
use crate::{auth::Auth, error::ApiError, state::AppState};

pub(crate) struct DownloadsApi {
    pub state: AppState,
}

/// An image's bytes, sent with the media type the task records for it.
pub struct ImageBytes {
    content_type: String,
    size: u64,
    body: Body,
}

impl Payload for ImageBytes {
    /// The document names the range; each answer names its type (`image/jpeg`, ...).
    const CONTENT_TYPE: &'static str = "image/*";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl IntoResponse for ImageBytes {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.content_type)
            .header("Content-Length", self.size)
            .body(self.body)
    }
}

impl ApiResponse for ImageBytes {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

endpoint_response! {
    pub enum ResultResponse {
        /// The result's bytes, `Content-Type` its format.
        #[oai(status = 200)]
        Ok(ImageBytes),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The id is not a UUID (`invalid_task_id`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// No task has this id, or it belongs to another API key (`task_not_found`).
        NotFound = 404,
        /// The task is not COMPLETED, so it has no result (`result_not_ready`).
        Conflict = 409,
        /// The task was deleted after its retention period (`task_expired`).
        Gone = 410,
        /// The database or the object store is unavailable (`database_unavailable`,
        /// `storage_unavailable`).
        Unavailable = 503,
    }
}

endpoint_response! {
    pub enum OriginalResponse {
        /// The uploaded image's bytes, `Content-Type` its format.
        #[oai(status = 200)]
        Ok(ImageBytes),
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
        /// The database or the object store is unavailable (`database_unavailable`,
        /// `storage_unavailable`).
        Unavailable = 503,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tasks")]
impl DownloadsApi {
    /// Download a task's result
    ///
    /// The processed image of a COMPLETED task, streamed through the API with the same
    /// credential as every other call.
    #[oai(
        path = "/tasks/:task_id/result",
        method = "get",
        operation_id = "download_result"
    )]
    async fn result(&self, auth: Auth, task_id: Path<Uuid>) -> ResultResponse {
        let found = async {
            let scope = auth.scope(&self.state.api_keys)?;
            let task = find_visible(&self.state, &scope, task_id.0).await?;
            let (Some(key), TaskStatus::Completed) = (&task.result_key, task.status) else {
                return Err(ApiError::ResultNotReady {
                    id: task.id,
                    status: task.status.to_string(),
                });
            };
            let content_type = task
                .result_content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            stream(&self.state.storage.processed, key, content_type).await
        };
        match found.await {
            Ok(image) => ResultResponse::Ok(image),
            Err(err) => err.into(),
        }
    }

    /// Download a task's original
    ///
    /// The image as it was uploaded, streamed through the API.
    #[oai(
        path = "/tasks/:task_id/original",
        method = "get",
        operation_id = "download_original"
    )]
    async fn original(&self, auth: Auth, task_id: Path<Uuid>) -> OriginalResponse {
        let found = async {
            let scope = auth.scope(&self.state.api_keys)?;
            let task: task::Model = find_visible(&self.state, &scope, task_id.0).await?;
            stream(
                &self.state.storage.uploads,
                &task.original_key,
                task.content_type.clone(),
            )
            .await
        };
        match found.await {
            Ok(image) => OriginalResponse::Ok(image),
            Err(err) => err.into(),
        }
    }
}

/// The object at `key`, ready to stream. A task's object that is missing while its row is
/// there is the store's fault, not the client's: 503, as for a store that does not answer.
async fn stream(bucket: &Bucket, key: &str, content_type: String) -> Result<ImageBytes, ApiError> {
    let (size, chunks) = bucket
        .get_stream(key)
        .await
        .map_err(|err: StorageError| ApiError::StorageUnavailable(err.into()))?;
    let body = Body::from_bytes_stream(chunks.map_err(std::io::Error::other).boxed());
    Ok(ImageBytes {
        content_type,
        size,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::check;

    fn with_storage_errors(mut errors: Vec<ApiError>) -> Vec<ApiError> {
        errors.push(ApiError::StorageUnavailable(anyhow::anyhow!("down")));
        errors
    }

    #[tokio::test]
    async fn result_documents_every_error_it_returns() {
        let mut errors = with_storage_errors(check::task_lookup_errors());
        errors.push(ApiError::ResultNotReady {
            id: Uuid::nil(),
            status: "FAILED".into(),
        });
        check::answers_each_error_as_documented::<ResultResponse>(
            ResultResponse::ERROR_STATUSES,
            errors,
        )
        .await;
        check::body_always_agrees_with_status::<ResultResponse>().await;
    }

    #[tokio::test]
    async fn original_documents_every_error_it_returns() {
        check::answers_each_error_as_documented::<OriginalResponse>(
            OriginalResponse::ERROR_STATUSES,
            with_storage_errors(check::task_lookup_errors()),
        )
        .await;
        check::body_always_agrees_with_status::<OriginalResponse>().await;
    }
}
