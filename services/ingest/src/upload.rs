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
    types::multipart::Upload,
};
use tokio::io::AsyncReadExt;

use crate::error::ApiError;

/// The upload form, as documented in the OpenAPI document. Only its schema is used; the
/// request itself is read by [`UploadBody`].
#[derive(poem_openapi::Multipart)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The image: JPEG, PNG, WebP, GIF, BMP or TIFF, decided from its bytes.
    file: Upload,
}

/// The multipart body of an upload, not yet read.
pub struct UploadBody(Multipart);

impl<'a> ApiExtractor<'a> for UploadBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <UploadForm as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some("The image to process, as multipart field `file`."),
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

/// The uploaded file, read whole (at most the limit).
#[derive(Debug)]
pub struct UploadedFile {
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

impl UploadBody {
    /// Find the field `file` and read it, failing with 413 as soon as it passes `limit`.
    /// Fields before it are skipped (their bytes count against nothing: poem discards them
    /// as it looks for the next field).
    pub async fn read_file(mut self, limit: u64) -> Result<UploadedFile, ApiError> {
        let invalid = |e: poem::error::ParseMultipartError| ApiError::InvalidRequest(e.to_string());
        while let Some(field) = self.0.next_field().await.map_err(invalid)? {
            if field.name() != Some("file") {
                continue;
            }
            let file_name = field.file_name().map(sanitize_file_name);
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
                    break;
                }
            }
            return Ok(UploadedFile {
                file_name,
                bytes: buffer.freeze(),
            });
        }
        Err(ApiError::MissingFile)
    }
}

/// A client's file name is kept as metadata only (keys never contain it), but it is still
/// shown back in the API: drop control characters and bound its length.
pub fn sanitize_file_name(name: &str) -> String {
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
