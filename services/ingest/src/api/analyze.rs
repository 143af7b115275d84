//! `POST /api/v1/analyze`: accept an upload.

use imagepipe_shared::{image_rules, keys, trace::TraceContext};
use poem_openapi::{Object, OpenApi, param::Header, payload::Json};
use tracing::Instrument;
use uuid::Uuid;

use super::{ApiTags, responses::endpoint_response};
use crate::{
    auth::{Auth, Scope},
    chains::{ChainRequest, ChosenChain},
    error::ApiError,
    idempotency::{self, Claim},
    state::AppState,
    tasks_repo::{self, CreateFailure, NewTask},
    upload::{Spooled, UploadBody},
};

pub(crate) struct AnalyzeApi {
    pub state: AppState,
}

/// The upload was accepted; the work happens in the background.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Accepted {
    /// Poll `GET /api/v1/tasks/{task_id}` for the outcome.
    pub task_id: Uuid,
    /// Always `processing`: the work is queued (the task itself reads PENDING until a
    /// processor picks it up).
    pub status: String,
}

impl Accepted {
    pub fn processing(task_id: Uuid) -> Self {
        Self {
            task_id,
            status: "processing".to_owned(),
        }
    }
}

/// Where a task is read: its `Location`.
pub(super) fn task_url(task_id: Uuid) -> String {
    format!("/api/v1/tasks/{task_id}")
}

impl poem_openapi::types::Example for Accepted {
    fn example() -> Self {
        Self::processing(
            Uuid::parse_str("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").unwrap_or_default(),
        )
    }
}

endpoint_response! {
    pub enum AnalyzeResponse {
        /// Accepted: the image is stored and its job queued. `Location` is the task's URL.
        #[oai(status = 202)]
        Accepted(Json<Accepted>, #[oai(header = "Location")] String),
    }
    bad_request = ApiError::from_parse_error;
    errors {
        /// The request is not a multipart form with a `file` field (`missing_file`,
        /// `invalid_request`), or the `Idempotency-Key` is malformed (`invalid_idempotency_key`).
        BadRequest = 400,
        /// An API key is required and none valid was given (`unauthorized`).
        Unauthorized = 401,
        /// A request with the same `Idempotency-Key` is still running (`idempotency_key_in_use`).
        Conflict = 409,
        /// The file is larger than the upload limit (`payload_too_large`).
        PayloadTooLarge = 413,
        /// The bytes are not an accepted image format (`unsupported_media_type`).
        UnsupportedMediaType = 415,
        /// The file is empty (`empty_file`), over the pixel limits (`image_too_large`), or its
        /// header cannot be read (`undecodable_image`); the chain of steps breaks a rule
        /// (`invalid_steps`: not a JSON array, over 16 KiB, an unknown op or parameter, a value
        /// out of range, too many steps, `encode` not last, a crop outside the image, an op
        /// this server does not allow, both `steps` and `preset`), would make an image over the
        /// pixel limits (`output_too_large`), names a preset this server does not have
        /// (`unknown_preset`) or a model it does not declare (`unknown_model`), with each
        /// problem's JSON pointer in `errors`; the
        /// `Idempotency-Key` was used before with a different file or chain
        /// (`idempotency_key_reused`); or the `callback_url` is not allowed
        /// (`callback_not_allowed`) or its host resolves to a refused address, or to none
        /// (`callback_address_refused`).
        Unprocessable = 422,
        /// The object store or the database is unavailable, or too much work is waiting; nothing
        /// was kept. Retry after the `Retry-After` seconds (`storage_unavailable`,
        /// `database_unavailable`, `overloaded`).
        Unavailable = 503,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Analyze")]
impl AnalyzeApi {
    /// Upload an image for processing
    ///
    /// Answers `202 Accepted` with the new task's id as soon as the image is stored and its
    /// job recorded; processing happens in the background. The format is decided from the
    /// bytes, and the size and pixel limits are checked before anything is kept: a refused
    /// upload leaves no task, no object and no job behind.
    ///
    /// The work is a chain of steps (`steps`), a preset's chain (`preset`), or without either
    /// the default chain (grayscale, then the simulated delay). The chain is checked whole,
    /// with the sizes it makes from the image's own (after EXIF orientation), before anything
    /// is kept.
    ///
    /// With an `Idempotency-Key`, a repeated request (same key, same file, same chain) gets the
    /// first response again (202, the same task) instead of a second task.
    #[oai(path = "/analyze", method = "post", operation_id = "analyze")]
    async fn analyze(
        &self,
        auth: Auth,
        /// Makes retrying the upload safe: the same key with the same file and chain within 24
        /// hours (configurable) answers with the first request's task. Scoped per API key.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[ -~]+$")
        )]
        idempotency_key: Header<Option<String>>,
        /// W3C trace context: the task's job and events continue this trace (a new one is
        /// started without it), so its logs in every service carry the same `trace_id`.
        traceparent: Header<Option<String>>,
        body: UploadBody,
    ) -> AnalyzeResponse {
        let trace = traceparent
            .0
            .as_deref()
            .and_then(TraceContext::parse)
            .unwrap_or_else(TraceContext::new_root);
        let accepted = async {
            let scope = auth.scope(&self.state.api_keys)?;
            accept(&self.state, &scope, idempotency_key.0, trace, body).await
        }
        .instrument(tracing::info_span!("upload", trace_id = %trace.trace_id_hex()));
        let accepted = accepted.await;
        match &accepted {
            Ok(_) => {
                self.state.metrics.uploads_accepted.inc();
            }
            Err(err) => self.state.metrics.rejected(err.code()),
        }
        match accepted {
            Ok(task_id) => {
                AnalyzeResponse::Accepted(Json(Accepted::processing(task_id)), task_url(task_id))
            }
            Err(err) => err.into(),
        }
    }
}

async fn accept(
    state: &AppState,
    scope: &Scope,
    idempotency_key: Option<String>,
    trace: TraceContext,
    body: UploadBody,
) -> Result<Uuid, ApiError> {
    if let Some(key) = &idempotency_key {
        idempotency::validate(key)?;
    }
    // Shed load before reading a byte of the body.
    if state.backlog.is_full() {
        return Err(ApiError::Overloaded {
            waiting: state.backlog.waiting(),
        });
    }
    let form = body
        .read_form(
            state.config.max_upload_bytes,
            idempotency_key.is_some(),
            &state.upload_memory,
        )
        .await?;
    // The host's addresses are looked up and checked here, and again at every delivery.
    let callback_url = match form.callback_url.as_deref() {
        Some(raw) => Some(String::from(state.callbacks.check_destination(raw).await?)),
        None => None,
    };
    let (upload, header) = crate::upload::inspect(form.file, state.config.decode_limits()).await?;
    let chain = ChainRequest {
        steps: form.steps,
        preset: form.preset,
    }
    .choose(&state.chains, header.oriented_size())
    .map_err(ApiError::Chain)?;

    let idempotency = match idempotency_key {
        Some(key) => {
            let digest = idempotency::request_digest(
                &upload.sha256.unwrap_or_default(),
                chain.identity().as_deref(),
            );
            let scope = scope.idempotency_scope().to_owned();
            let ttl = state.config.idempotency_ttl();
            match idempotency::claim(&state.db, &scope, &key, &digest, ttl).await? {
                Claim::Replay(task_id) => {
                    tracing::info!(%task_id, "idempotent replay");
                    return Ok(task_id);
                }
                Claim::New => Some((scope, key)),
            }
        }
        None => None,
    };
    let checked = Checked {
        upload,
        header,
        callback_url,
        chain,
    };
    // From here the upload is stored and recorded, or taken back, to the end, even if this
    // request is dropped meanwhile (see `finishing`).
    let finish = {
        let state = state.clone();
        let scope = scope.clone();
        async move {
            let created = create(&state, &scope, checked, idempotency.clone(), trace).await;
            if let (Err(_), Some((scope, key))) = (&created, &idempotency) {
                idempotency::release(&state.db, scope, key).await;
            }
            created
        }
        .in_current_span()
    };
    state
        .finishing
        .run_to_end(finish)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
}

/// An upload that passed every check: what its task is made of.
struct Checked {
    upload: crate::upload::UploadedFile,
    header: image_rules::Header,
    callback_url: Option<String>,
    chain: ChosenChain,
}

async fn create(
    state: &AppState,
    scope: &Scope,
    checked: Checked,
    idempotency: Option<(String, String)>,
    trace: TraceContext,
) -> Result<Uuid, ApiError> {
    let Checked {
        upload,
        header,
        callback_url,
        chain,
    } = checked;
    let task_id = Uuid::now_v7();
    let original_key = keys::original_key(task_id);
    let size_bytes = i64::try_from(upload.len).unwrap_or(i64::MAX);
    store_original(
        state,
        &original_key,
        upload.body,
        upload.len,
        header.media_type(),
    )
    .await?;

    let new_task = NewTask {
        id: task_id,
        original_key: original_key.clone(),
        original_filename: upload.file_name,
        content_type: header.media_type().to_owned(),
        size_bytes,
        width: i32::try_from(header.width).unwrap_or(i32::MAX),
        height: i32::try_from(header.height).unwrap_or(i32::MAX),
        owner: scope.owner().map(str::to_owned),
        callback_url,
        steps: chain.steps,
        preset: chain.preset,
    };
    match tasks_repo::create(&state.db, new_task, idempotency, trace).await {
        Ok(()) => {}
        Err(CreateFailure::NotCommitted(err)) => {
            // Nothing was committed: take the object back so no orphan is left.
            if let Err(cleanup) = state.storage.uploads.delete(&original_key).await {
                tracing::warn!(%task_id, %cleanup, "cannot delete the original of an upload that failed");
            }
            return Err(err);
        }
        Err(CreateFailure::Unknown(err)) => {
            // The task may exist: it needs its original. If it does not, the object is an
            // orphan, which costs storage; taking it back could cost a task.
            tracing::warn!(%task_id, "a task's commit got no answer; its original is kept");
            return Err(err);
        }
    }
    state.relay_wakeup.notify_one();
    tracing::info!(%task_id, content_type = header.media_type(), size_bytes, "upload accepted");
    Ok(task_id)
}

async fn store_original(
    state: &AppState,
    key: &str,
    body: Spooled,
    len: u64,
    content_type: &str,
) -> Result<(), ApiError> {
    let uploads = &state.storage.uploads;
    let stored = match body {
        // One PUT straight from memory; the slot is freed once the object is stored.
        Spooled::Memory(bytes, _slot) => uploads.upload_file(key, bytes, content_type).await,
        Spooled::Disk(file) => {
            // Reading the file holds up to one part in memory: wait for that much budget.
            let _memory = state.upload_memory.reserve_store(len).await;
            uploads.upload_stream(key, file, len, content_type).await
        }
    };
    stored.map_err(|e| ApiError::StorageUnavailable(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::check;

    #[tokio::test]
    async fn analyze_documents_every_error_it_returns() {
        let cause = || anyhow::anyhow!("down");
        check::answers_each_error_as_documented::<AnalyzeResponse>(
            AnalyzeResponse::ERROR_STATUSES,
            vec![
                ApiError::InvalidRequest("not multipart".into()),
                ApiError::MissingFile,
                ApiError::InvalidIdempotencyKey,
                ApiError::Unauthorized,
                ApiError::IdempotencyKeyInUse,
                ApiError::PayloadTooLarge { limit: 1 },
                ApiError::UnsupportedMediaType,
                ApiError::EmptyFile,
                ApiError::ImageTooLarge("too many pixels".into()),
                ApiError::UndecodableImage("truncated".into()),
                ApiError::IdempotencyKeyReused,
                ApiError::CallbackRejected("host not allowed".into()),
                ApiError::Chain(imagepipe_shared::steps::ChainError::invalid(
                    imagepipe_shared::steps::StepProblem::at("/steps/0/op", "unknown op"),
                )),
                ApiError::StorageUnavailable(cause()),
                ApiError::DatabaseUnavailable(cause()),
                ApiError::Overloaded { waiting: 1 },
                ApiError::Internal(cause()),
            ]
            .into_iter()
            .chain(ApiError::chain_refusals())
            .collect(),
        )
        .await;
        check::body_always_agrees_with_status::<AnalyzeResponse>().await;
    }
}
