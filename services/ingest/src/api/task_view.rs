//! A task as the API shows it: its status, outcome and stored objects, with download URLs
//! signed fresh for every answer.

use chrono::{DateTime, Utc};
use imagepipe_entity::task::{self, TaskStatus};
use imagepipe_shared::{
    analysis::Analysis,
    steps::{Encode, OutputFormat, Resize, Step},
    storage::Bucket,
};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::state::AppState;

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

/// Why a task failed: a task's `error`, present only when it is FAILED.
#[derive(Debug, Object)]
pub struct TaskError {
    /// Stable, machine-readable code, e.g. `undecodable_image`, `storage_unavailable`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An object in the store, and a URL to download it without credentials: a task's
/// `original`, the uploaded image. (`GET /api/v1/tasks/{task_id}/original` streams it through
/// the API instead.)
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
    /// Presigned download URL, valid until `url_expires_at`; absent if it cannot be signed.
    pub download_url: Option<String>,
    pub url_expires_at: Option<DateTime<Utc>>,
}

/// The processed image, where it is and what it is: a task's `result`, present only when it
/// is COMPLETED. (`GET /api/v1/tasks/{task_id}/result` streams it through the API.)
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ResultObject {
    #[oai(flatten)]
    pub stored: StoredObject,
    /// Width in pixels (absent only for a task completed before results were described).
    pub width: Option<i32>,
    /// Height in pixels.
    pub height: Option<i32>,
    /// Media type of the result: `image/jpeg`, `image/png`, `image/webp` or `image/avif`.
    pub content_type: Option<String>,
    /// Size of the result in bytes.
    pub size_bytes: Option<i64>,
}

/// A task and, once it ended, its outcome. A field with nothing to say is left out, never
/// sent as `null`: `error` appears only when FAILED, `result` only when COMPLETED.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
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
    // The referenced types carry the descriptions: a description beside a `$ref` makes
    // poem-openapi wrap it in `allOf`, and generators then emit a second type for each.
    pub error: Option<TaskError>,
    /// The URL that gets a webhook when the task ends, if one was given.
    pub callback_url: Option<String>,
    /// The chain of steps the task runs, every default spelled out: the request's `steps`,
    /// the named preset's, or the default chain (grayscale, then the simulated delay).
    pub steps: Vec<Step>,
    /// The preset the request named, if it named one.
    pub preset: Option<String>,
    pub original: StoredObject,
    pub result: Option<ResultObject>,
    /// What the chain's model steps (`detect_faces`, `blur_faces`, `infer`) found, one entry
    /// per model step in chain order, when COMPLETED; absent for a chain without a model step.
    pub analysis: Option<Analysis>,
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
        steps: vec![
            Step::Resize(Resize {
                width: Some(256),
                height: Some(256),
                fit: imagepipe_shared::steps::Fit::Cover,
                gravity: imagepipe_shared::steps::Gravity::Centre,
                enlarge: false,
            }),
            Step::Encode(Encode {
                format: OutputFormat::Jpeg,
                quality: Some(90),
                lossless: None,
            }),
        ],
        preset: Some("thumbnail".into()),
        original: StoredObject {
            bucket: "uploads".into(),
            key: format!("originals/{id}"),
            download_url: Some(format!(
                "http://localhost:9000/uploads/originals/{id}?X-Amz-Signature=..."
            )),
            url_expires_at: Some(at),
        },
        result: Some(ResultObject {
            stored: StoredObject {
                bucket: "processed".into(),
                key: format!("results/{id}.jpg"),
                download_url: Some(format!(
                    "http://localhost:9000/processed/results/{id}.jpg?X-Amz-Signature=..."
                )),
                url_expires_at: Some(at),
            },
            width: Some(256),
            height: Some(256),
            content_type: Some("image/jpeg".into()),
            size_bytes: Some(18_204),
        }),
        // The thumbnail preset runs no model.
        analysis: None,
    }
}

/// A task as the API shows it, with fresh download URLs.
pub(super) async fn view(state: &AppState, task: task::Model) -> TaskView {
    let storage = &state.storage;
    let original = stored(state, &storage.uploads, &task.original_key).await;
    let result = match &task.result_key {
        Some(key) if task.status == TaskStatus::Completed => {
            Some(stored(state, &storage.processed, key).await)
        }
        _ => None,
    };
    let steps = state.chains.steps_of(task.steps.as_ref());
    to_view(task, steps, original, result)
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

fn to_view(
    task: task::Model,
    steps: Vec<Step>,
    original: StoredObject,
    result: Option<StoredObject>,
) -> TaskView {
    let error = match (task.error_code, task.error_message) {
        (Some(code), message) => Some(TaskError {
            code,
            message: message.unwrap_or_default(),
        }),
        _ => None,
    };
    let analysis = analysis_of(task.id, task.analysis);
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
        steps,
        preset: task.preset,
        original,
        result: result.map(|stored| ResultObject {
            stored,
            width: task.result_width,
            height: task.result_height,
            content_type: task.result_content_type,
            size_bytes: task.result_size_bytes,
        }),
        analysis,
    }
}

/// The stored analysis, as the API shows it. The result-writer stores it from the shared
/// types, so it always reads back; a row that did not (only a bug could write one) shows
/// none, with the reason in the log, rather than fail every answer about the task.
fn analysis_of(task_id: Uuid, stored: Option<serde_json::Value>) -> Option<Analysis> {
    match serde_json::from_value(stored?) {
        Ok(analysis) => Some(analysis),
        Err(err) => {
            tracing::warn!(%task_id, %err, "cannot read the task's stored analysis");
            None
        }
    }
}
