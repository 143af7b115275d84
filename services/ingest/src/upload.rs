//! Reading an upload from a multipart body, streaming, under a byte limit: the service never
//! holds more than the limit, and stops reading the moment the limit is crossed.
//!
//! poem-openapi's own `Upload` type spools the whole part to a temporary file before the
//! handler runs, with no limit. `UploadBody` instead hands the handler the raw multipart
//! stream, while the OpenAPI document still describes the form (from `UploadForm`).

use bytes::{Bytes, BytesMut};
use poem::{FromRequest, Request, RequestBody, web::Multipart};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::Payload,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::multipart::{JsonField, Upload},
};
use std::io::{BufReader, Cursor, Seek, SeekFrom};
use tokio::sync::OwnedSemaphorePermit;

use imagepipe_shared::{
    image_rules::{self, DecodeLimits, Header},
    steps::{Step, bounds::MAX_STEPS_BYTES},
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{
    chains::{self, ChainRequest},
    error::ApiError,
    upload_memory::{MEMORY_SPOOL_MAX, UploadMemory},
};

/// The upload form, as documented in the OpenAPI document. Only its schema is used; the
/// request itself is read by [`UploadBody`].
#[derive(poem_openapi::Multipart)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// The image: JPEG, PNG, WebP, GIF, BMP or TIFF, decided from its bytes.
    file: Upload,
    /// Optional URL that receives a signed JSON POST when the task ends (COMPLETED, FAILED or
    /// CANCELLED). Its host must be on the server's allow-list (`WEBHOOK_ALLOWED_HOSTS`) and
    /// resolve only to addresses the server allows: not loopback, private, link-local or cloud
    /// metadata unless the server's `WEBHOOK_ALLOWED_ADDRESSES` says so.
    callback_url: Option<String>,
    /// The chain of steps to run on the image, in order, as JSON text (at most 16 KiB): each
    /// step an object told apart by `op`. Without it (and without `preset`) the task runs the
    /// default chain: grayscale, then the simulated delay. An array of objects in a multipart
    /// form is sent as `application/json` (OpenAPI's default encoding for it).
    steps: Option<JsonField<Vec<Step>>>,
    /// The name of a chain the operator configured instead of `steps` (not both): `grayscale`
    /// (the default chain), `thumbnail`, `web`, or one of the server's presets file.
    preset: Option<String>,
}

/// Longest accepted `callback_url`.
const MAX_CALLBACK_URL_LEN: usize = 2048;

/// Longest accepted `preset` name (the names themselves have at most 64 characters).
const MAX_PRESET_LEN: usize = 256;

/// The multipart body of an upload, not yet read.
pub(crate) struct UploadBody(Multipart);

impl<'a> ApiExtractor<'a> for UploadBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <UploadForm as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "The image to process, as multipart field `file`; optionally the chain of \
                 steps to run on it (`steps`) or the name of a preset (`preset`).",
            ),
            content: vec![MetaMediaType {
                content_type: "multipart/form-data",
                schema: <UploadForm as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(Self(
            <Multipart as FromRequest>::from_request(request, body).await?,
        ))
    }
}

/// Where the bytes of an upload wait until they are stored.
#[derive(Debug)]
pub(crate) enum Spooled {
    /// A small upload, holding its memory slot until dropped.
    Memory(Bytes, OwnedSemaphorePermit),
    /// An anonymous temporary file (gone when dropped), positioned at the start.
    Disk(tokio::fs::File),
}

/// The uploaded file, spooled: memory stays at one read buffer per upload (or one memory
/// slot) whatever its size.
#[derive(Debug)]
pub(crate) struct UploadedFile {
    pub file_name: Option<String>,
    pub body: Spooled,
    pub len: u64,
    /// SHA-256 of the bytes, when asked for (idempotency keys compare files by it).
    pub sha256: Option<[u8; 32]>,
}

impl UploadedFile {
    /// Read the format and dimensions from the header (file reads are blocking, so they run
    /// off the async runtime), leaving a file at its start.
    pub(crate) async fn inspect(self, limits: DecodeLimits) -> Result<(Self, Header), ApiError> {
        let Self {
            file_name,
            body,
            len,
            sha256,
        } = self;
        let (body, header) = match body {
            Spooled::Memory(bytes, slot) => {
                let header = image_rules::inspect_reader(Cursor::new(&bytes[..]), limits);
                (Spooled::Memory(bytes, slot), header)
            }
            Spooled::Disk(file) => {
                let mut file = file.into_std().await;
                let (file, header) = tokio::task::spawn_blocking(move || {
                    let header = image_rules::inspect_reader(BufReader::new(&mut file), limits);
                    file.seek(SeekFrom::Start(0)).map(|_| (file, header))
                })
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .map_err(|e| ApiError::Internal(e.into()))?;
                (Spooled::Disk(tokio::fs::File::from_std(file)), header)
            }
        };
        Ok((
            Self {
                file_name,
                body,
                len,
                sha256,
            },
            header?,
        ))
    }
}

/// Everything the form carried.
#[derive(Debug)]
pub(crate) struct UploadedForm {
    pub file: UploadedFile,
    pub callback_url: Option<String>,
    /// `steps` and `preset`, not yet checked.
    pub chain: ChainRequest,
}

impl UploadBody {
    /// Read the form: the field `file`, failing with 413 as soon as it passes `limit`;
    /// `callback_url`, `steps` and `preset` if present. Other fields are skipped (poem
    /// discards their bytes as it looks for the next field).
    pub(crate) async fn read_form(
        mut self,
        limit: u64,
        digest: bool,
        memory: &UploadMemory,
    ) -> Result<UploadedForm, ApiError> {
        let invalid = |e: poem::error::ParseMultipartError| ApiError::InvalidRequest(e.to_string());
        let mut file = None;
        let mut callback_url = None;
        let mut chain = ChainRequest::default();
        let mut steps: Vec<Bytes> = Vec::new();
        while let Some(field) = self.0.next_field().await.map_err(invalid)? {
            match field.name() {
                Some("file") if file.is_none() => {
                    let file_name = field.file_name().map(sanitize_file_name);
                    let slot = memory.try_reserve_small();
                    file = Some(spool(field, file_name, limit, digest, slot).await?);
                }
                Some("callback_url") => {
                    let bytes = read_limited(field, MAX_CALLBACK_URL_LEN as u64)
                        .await
                        .map_err(|e| match e {
                            ApiError::PayloadTooLarge { .. } => ApiError::CallbackRejected(
                                format!("callback_url is longer than {MAX_CALLBACK_URL_LEN} bytes"),
                            ),
                            other => other,
                        })?;
                    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                        ApiError::CallbackRejected("callback_url is not UTF-8 text".into())
                    })?;
                    callback_url = Some(text).filter(|t| !t.trim().is_empty());
                }
                // Read as bytes whatever the part's Content-Type: a client may send it as
                // text/plain or application/json alike.
                // One part with the JSON array, or one part per step, each a JSON object:
                // what generators send for an array of objects in a multipart form.
                Some("steps") => {
                    let room = MAX_STEPS_BYTES.saturating_sub(steps.iter().map(Bytes::len).sum());
                    let bytes = read_limited(field, room as u64)
                        .await
                        .map_err(|e| match e {
                            ApiError::PayloadTooLarge { .. } => {
                                ApiError::Chain(chains::steps_too_long())
                            }
                            other => other,
                        })?;
                    if !bytes.trim_ascii().is_empty() {
                        steps.push(bytes);
                    }
                }
                Some("preset") => {
                    let bytes = read_limited(field, MAX_PRESET_LEN as u64)
                        .await
                        .map_err(|e| match e {
                            ApiError::PayloadTooLarge { .. } => {
                                ApiError::Chain(chains::unknown_preset_name())
                            }
                            other => other,
                        })?;
                    if chain.preset.is_some() {
                        return Err(ApiError::Chain(chains::repeated("preset")));
                    }
                    let name = String::from_utf8(bytes.to_vec())
                        .map_err(|_| ApiError::Chain(chains::unknown_preset_name()))?;
                    chain.preset = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
                }
                _ => {}
            }
        }
        chain.steps = chains::join_step_parts(steps);
        Ok(UploadedForm {
            file: file.ok_or(ApiError::MissingFile)?,
            callback_url,
            chain,
        })
    }
}

/// Copy the file field into memory (with a memory slot, up to [`MEMORY_SPOOL_MAX`]) or else
/// into a temporary file, failing with 413 the moment it passes `limit` (the rest of the body
/// is never read).
async fn spool(
    field: poem::web::Field,
    file_name: Option<String>,
    limit: u64,
    digest: bool,
    slot: Option<OwnedSemaphorePermit>,
) -> Result<UploadedFile, ApiError> {
    let spool_error = |e: std::io::Error| ApiError::Internal(anyhow::anyhow!("upload spool: {e}"));
    let mut reader = field.into_async_read();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut hasher = digest.then(Sha256::new);
    let mut len: u64 = 0;
    let mut memory = slot.map(|slot| (BytesMut::new(), slot));
    let mut file: Option<tokio::fs::File> = None;
    loop {
        let read = reader
            .read(&mut buffer)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("reading the upload: {e}")))?;
        if read == 0 {
            break;
        }
        len += read as u64;
        if len > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let chunk = &buffer[..read];
        if let Some(hasher) = &mut hasher {
            hasher.update(chunk);
        }
        match &mut memory {
            Some((bytes, _)) if bytes.len() + read <= MEMORY_SPOOL_MAX => {
                bytes.extend_from_slice(chunk);
            }
            _ => {
                let file = match &mut file {
                    Some(file) => file,
                    None => {
                        // Too big for memory: move what is there to a file, free the slot.
                        let mut spill =
                            tokio::fs::File::from_std(tempfile::tempfile().map_err(spool_error)?);
                        if let Some((bytes, _slot)) = memory.take() {
                            spill.write_all(&bytes).await.map_err(spool_error)?;
                        }
                        file.insert(spill)
                    }
                };
                file.write_all(chunk).await.map_err(spool_error)?;
            }
        }
    }
    let body = match (memory, file) {
        (_, Some(mut file)) => {
            file.flush().await.map_err(spool_error)?;
            file.rewind().await.map_err(spool_error)?;
            Spooled::Disk(file)
        }
        (Some((bytes, slot)), None) => Spooled::Memory(bytes.freeze(), slot),
        // No slot and not a byte read: an empty file, refused later as undecodable.
        (None, None) => Spooled::Disk(tokio::fs::File::from_std(
            tempfile::tempfile().map_err(spool_error)?,
        )),
    };
    Ok(UploadedFile {
        file_name,
        body,
        len,
        sha256: hasher.map(|h| h.finalize().into()),
    })
}

/// Read one (small) field whole, failing with 413 the moment it passes `limit`.
async fn read_limited(field: poem::web::Field, limit: u64) -> Result<Bytes, ApiError> {
    let mut reader = field.into_async_read();
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    loop {
        // Never ask for more than one byte past the limit.
        let room = (limit + 1)
            .saturating_sub(buffer.len() as u64)
            .min(64 * 1024) as usize;
        buffer.reserve(room);
        let mut chunk = (&mut reader).take(room as u64);
        let read = chunk
            .read_buf(&mut buffer)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("reading the upload: {e}")))?;
        if buffer.len() as u64 > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if read == 0 {
            return Ok(buffer.freeze());
        }
    }
}

/// A client's file name is kept as metadata only (keys never contain it), but it is still
/// shown back in the API: drop control characters and bound its length.
pub(crate) fn sanitize_file_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(255).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_control_characters_and_excess_length() {
        assert_eq!(sanitize_file_name("a\u{0}b\nc.png"), "abc.png");
        assert_eq!(sanitize_file_name(&"x".repeat(1000)).len(), 255);
        assert_eq!(sanitize_file_name("../../etc/passwd"), "../../etc/passwd");
    }
}
