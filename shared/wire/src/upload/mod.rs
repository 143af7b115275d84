//! Reading an upload's multipart form, streaming, under byte limits: the field `file` is
//! spooled to memory or a temporary file and refused the moment it passes its limit (the rest
//! of the body is never read); `callback_url`, `steps` and `preset` are read whole, each under
//! its own small limit; other fields are skipped. What ingest does with the fields (the
//! checks of the image, the chain and the callback) is ingest's; reading them from a client's
//! bytes is here, where `fuzz/fuzz_targets/upload_form.rs` feeds it any body.

mod fields;

use bytes::Bytes;
use poem::web::Multipart;
use tokio::sync::OwnedSemaphorePermit;

use crate::steps::bounds::MAX_STEPS_BYTES;
use fields::{read_limited, spool};

/// Longest accepted `callback_url`.
pub const MAX_CALLBACK_URL_LEN: usize = 2048;

/// Longest accepted `preset` field (the names themselves have at most 64 characters).
pub const MAX_PRESET_LEN: usize = 256;

/// Largest upload kept in memory (given a memory slot); anything larger goes to a temporary
/// file. Also the unit of ingest's upload memory budget.
pub const MEMORY_SPOOL_MAX: usize = 1024 * 1024;

/// Where the bytes of an upload wait until they are stored.
#[derive(Debug)]
pub enum Spooled {
    /// A small upload, holding its memory slot until dropped.
    Memory(Bytes, OwnedSemaphorePermit),
    /// An anonymous temporary file (gone when dropped), positioned at the start.
    Disk(tokio::fs::File),
}

/// The uploaded file, spooled: memory stays at one read buffer per upload (or one memory
/// slot) whatever its size.
#[derive(Debug)]
pub struct UploadedFile {
    pub file_name: Option<String>,
    pub body: Spooled,
    pub len: u64,
    /// SHA-256 of the bytes, when asked for (idempotency keys compare files by it).
    pub sha256: Option<[u8; 32]>,
}

/// Everything the form carried, not yet checked.
#[derive(Debug)]
pub struct UploadedForm {
    pub file: UploadedFile,
    pub callback_url: Option<String>,
    /// The `steps` parts as one JSON text (see [`join_step_parts`]), at most
    /// [`MAX_STEPS_BYTES`].
    pub steps: Option<Bytes>,
    pub preset: Option<String>,
}

/// How the limits of the form's reading apply to one upload.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    /// Largest `file`, in bytes (`MAX_UPLOAD_BYTES`).
    pub max_file_bytes: u64,
    /// Whether to take the file's SHA-256 as it streams by.
    pub digest: bool,
}

/// Why a form was refused. Each is the client's doing, but for [`FormError::Spool`].
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// Not a multipart body this reader can follow (poem's message says where it broke).
    #[error("{0}")]
    Malformed(String),
    #[error("the form has no field `file`")]
    MissingFile,
    #[error("the file is larger than {limit} bytes")]
    FileTooLarge { limit: u64 },
    #[error("callback_url is longer than {MAX_CALLBACK_URL_LEN} bytes")]
    CallbackTooLong,
    #[error("callback_url is not UTF-8 text")]
    CallbackNotText,
    #[error("steps is longer than {MAX_STEPS_BYTES} bytes")]
    StepsTooLong,
    /// Too long or not UTF-8: no preset can have such a name.
    #[error("preset cannot be a preset's name")]
    PresetNotAName,
    /// A field that counts once was given twice: which one counts is not guessed.
    #[error("{0} is given more than once")]
    Repeated(&'static str),
    /// The temporary file could not be written: the server's fault, not the client's.
    #[error("upload spool: {0}")]
    Spool(#[source] std::io::Error),
}

/// Read the form. `small_slot` is asked once, when `file` begins, for a memory slot: with one
/// a file of up to [`MEMORY_SPOOL_MAX`] stays in memory, else it goes to a temporary file.
pub async fn read_form(
    mut multipart: Multipart,
    limits: FormLimits,
    small_slot: impl FnOnce() -> Option<OwnedSemaphorePermit>,
) -> Result<UploadedForm, FormError> {
    let malformed = |e: poem::error::ParseMultipartError| FormError::Malformed(e.to_string());
    let mut small_slot = Some(small_slot);
    let mut file = None;
    let mut callback_url = None;
    let mut preset = None;
    let mut steps: Vec<Bytes> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let file_name = field.file_name().map(sanitize_file_name);
                let slot = small_slot.take().and_then(|reserve| reserve());
                file = Some(spool(field, file_name, limits, slot).await?);
            }
            Some("callback_url") => {
                let bytes = read_limited(field, MAX_CALLBACK_URL_LEN as u64)
                    .await?
                    .ok_or(FormError::CallbackTooLong)?;
                let text =
                    String::from_utf8(bytes.to_vec()).map_err(|_| FormError::CallbackNotText)?;
                callback_url = Some(text).filter(|t| !t.trim().is_empty());
            }
            // Read as bytes whatever the part's Content-Type: a client may send it as
            // text/plain or application/json alike. One part with the JSON array, or one
            // part per step, each a JSON object: what generators send for an array of
            // objects in a multipart form.
            Some("steps") => {
                let room = MAX_STEPS_BYTES.saturating_sub(steps.iter().map(Bytes::len).sum());
                let bytes = read_limited(field, room as u64)
                    .await?
                    .ok_or(FormError::StepsTooLong)?;
                if !bytes.trim_ascii().is_empty() {
                    steps.push(bytes);
                }
            }
            Some("preset") => {
                let bytes = read_limited(field, MAX_PRESET_LEN as u64)
                    .await?
                    .ok_or(FormError::PresetNotAName)?;
                if preset.is_some() {
                    return Err(FormError::Repeated("preset"));
                }
                let name =
                    String::from_utf8(bytes.to_vec()).map_err(|_| FormError::PresetNotAName)?;
                preset = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
            }
            _ => {}
        }
    }
    Ok(UploadedForm {
        file: file.ok_or(FormError::MissingFile)?,
        callback_url,
        steps: join_step_parts(steps),
        preset,
    })
}

/// The `steps` parts of a form as one JSON text: a single part as it is (the array, or one
/// step), several parts (a step each) as the array of them, in order. What is not JSON is left
/// for the parser to point at.
pub fn join_step_parts(parts: Vec<Bytes>) -> Option<Bytes> {
    match parts.as_slice() {
        [] => None,
        [only] if !only.trim_ascii().starts_with(b"{") => parts.into_iter().next(),
        _ => {
            let mut joined =
                Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 2);
            joined.push(b'[');
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    joined.push(b',');
                }
                joined.extend_from_slice(part);
            }
            joined.push(b']');
            Some(Bytes::from(joined))
        }
    }
}

/// A client's file name is kept as metadata only (keys never contain it), but it is still
/// shown back in the API: drop control characters and bound its length.
pub fn sanitize_file_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(255).collect()
}

#[cfg(test)]
mod tests;
