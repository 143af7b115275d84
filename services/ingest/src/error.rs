//! Every way a request can fail, and the one place where each becomes an HTTP status and an
//! RFC 9457 problem document with a stable `code`. The cause of a server-side failure goes to
//! the log; the client gets a clean message that leaks no internals.

use imagepipe_shared::steps::ChainError;
use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{Object, payload::Json};
use uuid::Uuid;

/// The media type of every error body.
pub(crate) const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Seconds a client should wait before retrying after a 503.
pub(crate) const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has no multipart field named `file`")]
    MissingFile,
    #[error("the uploaded file is empty")]
    EmptyFile,
    #[error("the upload is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error(
        "the file is not an image in an accepted format (JPEG, PNG, WebP, GIF, BMP, TIFF); the format is read from the bytes, not the name"
    )]
    UnsupportedMediaType,
    #[error("{0}")]
    ImageTooLarge(String),
    #[error("{0}")]
    UndecodableImage(String),
    #[error("the request could not be read: {0}")]
    InvalidRequest(String),
    #[error("the task id must be a UUID ({0})")]
    InvalidTaskId(String),
    #[error("no task with id {0}")]
    TaskNotFound(Uuid),
    #[error("task {0} was deleted after its retention period")]
    TaskExpired(Uuid),
    #[error("task {id} is already {status} and cannot be cancelled")]
    TaskNotCancellable { id: Uuid, status: String },
    #[error("task {id} is {status}; only a FAILED task can be retried")]
    TaskNotRetryable { id: Uuid, status: String },
    #[error("task {id} is {status}; only a COMPLETED task has a result")]
    ResultNotReady { id: Uuid, status: String },
    #[error("a valid API key is required in the X-API-Key header")]
    Unauthorized,
    #[error("the Idempotency-Key header must be 1 to 255 printable ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was already used with a different file or chain of steps")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyKeyInUse,
    #[error("{0}")]
    CallbackRejected(String),
    /// The callback host resolves to a refused address, or to none.
    #[error("{0}")]
    CallbackAddressRefused(String),
    /// The chain of steps is refused (`invalid_steps`, `output_too_large`, `unknown_preset`,
    /// `unknown_model`), each problem at its place in the request.
    #[error("the chain of steps is refused: {}", .0.summary())]
    Chain(ChainError),
    #[error("the cursor is not one this API returned")]
    InvalidCursor,
    #[error("the object store is unavailable")]
    StorageUnavailable(#[source] anyhow::Error),
    #[error("too much work is waiting ({waiting} jobs); try again later")]
    Overloaded { waiting: u64 },
    /// Answered by the rate limit in front of the API, never by an endpoint.
    #[error("too many requests from this client; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:imagepipe:problem:<code>`.
    #[oai(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Stable, machine-readable error code; match on this.
    pub code: String,
    /// Each thing wrong with the request, where it is (a refused chain of steps).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<ProblemLocation>>,
}

/// One thing wrong with a request, and where.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ProblemLocation {
    /// RFC 6901 JSON pointer into the request's fields, like `/steps/2/width` or `/preset`.
    pub pointer: String,
    /// What is wrong there.
    pub detail: String,
}

impl poem_openapi::types::Example for ProblemLocation {
    fn example() -> Self {
        Self {
            pointer: "/steps/2/width".into(),
            detail: "width must be at least 1".into(),
        }
    }
}

impl Problem {
    /// The problem of the kind `code`, answered with `status`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:imagepipe:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: None,
        }
    }

    /// For an error poem answers outside the API's own responses (an unknown route, a wrong
    /// method), so that every error a client sees is a problem document.
    pub fn outside_the_api(err: &poem::Error) -> Self {
        let status = err.status();
        let code = match status.as_u16() {
            404 => "route_not_found",
            405 => "method_not_allowed",
            _ => "invalid_request",
        };
        Self::new(status, code, err.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Json(self)
            .with_status(status)
            .with_content_type(PROBLEM_CONTENT_TYPE)
            .into_response()
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingFile
            | Self::InvalidRequest(_)
            | Self::InvalidTaskId(_)
            | Self::InvalidIdempotencyKey
            | Self::InvalidCursor => StatusCode::BAD_REQUEST,
            Self::EmptyFile
            | Self::ImageTooLarge(_)
            | Self::UndecodableImage(_)
            | Self::IdempotencyKeyReused
            | Self::CallbackRejected(_)
            | Self::CallbackAddressRefused(_)
            | Self::Chain(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TaskExpired(_) => StatusCode::GONE,
            Self::TaskNotCancellable { .. }
            | Self::TaskNotRetryable { .. }
            | Self::ResultNotReady { .. }
            | Self::IdempotencyKeyInUse => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TaskNotFound(_) => StatusCode::NOT_FOUND,
            Self::StorageUnavailable(_)
            | Self::DatabaseUnavailable(_)
            | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingFile => "missing_file",
            Self::EmptyFile => "empty_file",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ImageTooLarge(_) => "image_too_large",
            Self::UndecodableImage(_) => "undecodable_image",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidTaskId(_) => "invalid_task_id",
            Self::TaskNotFound(_) => "task_not_found",
            Self::TaskExpired(_) => "task_expired",
            Self::TaskNotCancellable { .. } => "task_not_cancellable",
            Self::TaskNotRetryable { .. } => "task_not_retryable",
            Self::ResultNotReady { .. } => "result_not_ready",
            Self::Unauthorized => "unauthorized",
            Self::InvalidIdempotencyKey => "invalid_idempotency_key",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::CallbackRejected(_) => "callback_not_allowed",
            Self::CallbackAddressRefused(_) => "callback_address_refused",
            Self::Chain(err) => err.code.as_str(),
            Self::InvalidCursor => "invalid_cursor",
            Self::StorageUnavailable(_) => "storage_unavailable",
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::Overloaded { .. } => "overloaded",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        if status.is_server_error() {
            // The cause stays in the log; the client sees only the summary.
            tracing::error!(error = ?self, code = self.code(), "request failed");
        }
        let problem = Problem::new(status, self.code(), self.to_string());
        match self {
            Self::Chain(err) => Problem {
                errors: Some(
                    err.problems
                        .iter()
                        .map(|p| ProblemLocation {
                            pointer: p.pointer.clone(),
                            detail: p.detail.clone(),
                        })
                        .collect(),
                ),
                ..problem
            },
            _ => problem,
        }
    }
}

impl From<imagepipe_shared::webhooks::CallbackRejected> for ApiError {
    fn from(rejected: imagepipe_shared::webhooks::CallbackRejected) -> Self {
        use imagepipe_shared::webhooks::CallbackRejected;
        match rejected {
            CallbackRejected::AddressRefused { .. } | CallbackRejected::Unresolvable { .. } => {
                Self::CallbackAddressRefused(rejected.to_string())
            }
            _ => Self::CallbackRejected(rejected.to_string()),
        }
    }
}

impl From<imagepipe_wire::upload::FormError> for ApiError {
    fn from(refused: imagepipe_wire::upload::FormError) -> Self {
        use crate::chains;
        use imagepipe_wire::upload::FormError;
        match refused {
            FormError::Malformed(reason) => Self::InvalidRequest(reason),
            FormError::MissingFile => Self::MissingFile,
            FormError::FileTooLarge { limit } => Self::PayloadTooLarge { limit },
            FormError::CallbackTooLong | FormError::CallbackNotText => {
                Self::CallbackRejected(refused.to_string())
            }
            FormError::StepsTooLong => Self::Chain(chains::steps_too_long()),
            FormError::PresetNotAName => Self::Chain(chains::unknown_preset_name()),
            FormError::Repeated(field) => Self::Chain(chains::repeated(field)),
            FormError::Spool(e) => Self::Internal(anyhow::Error::new(e).context("upload spool")),
        }
    }
}

impl From<imagepipe_shared::image_rules::Rejection> for ApiError {
    fn from(rejection: imagepipe_shared::image_rules::Rejection) -> Self {
        use imagepipe_shared::image_rules::Rejection;
        match rejection {
            Rejection::Empty => Self::EmptyFile,
            Rejection::Unsupported => Self::UnsupportedMediaType,
            too_large @ Rejection::TooLarge { .. } => Self::ImageTooLarge(too_large.to_string()),
            Rejection::Undecodable(reason) => {
                Self::UndecodableImage(format!("the image header cannot be read: {reason}"))
            }
        }
    }
}

#[cfg(test)]
mod test_errors;
#[cfg(test)]
mod tests;
