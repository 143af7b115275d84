//! The upload as the API takes it: the form the OpenAPI document describes, the extractor
//! that hands the handler its raw multipart stream, and the header check of the spooled file.
//! Reading the form's fields under their limits is `imagepipe_wire::upload` (fuzzed there):
//! the service never holds more than the limit, and stops reading the moment it is crossed.
//!
//! poem-openapi's own `Upload` type spools the whole part to a temporary file before the
//! handler runs, with no limit. `UploadBody` instead hands the handler the raw multipart
//! stream, while the OpenAPI document still describes the form (from `UploadForm`).

use poem::{FromRequest, Request, RequestBody, web::Multipart};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::Payload,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::multipart::{JsonField, Upload},
};
use std::io::{BufReader, Cursor, Seek, SeekFrom};

use imagepipe_shared::{
    image_rules::{self, DecodeLimits, Header},
    steps::Step,
};
use imagepipe_wire::upload::{self, FormLimits, UploadedForm};
pub(crate) use imagepipe_wire::upload::{Spooled, UploadedFile};

use crate::{error::ApiError, upload_memory::UploadMemory};

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

impl UploadBody {
    /// Read the form (see [`upload::read_form`]): the file under `limit` (its SHA-256 too
    /// when `digest`), kept in memory if `memory` has a slot free for it now.
    pub(crate) async fn read_form(
        self,
        limit: u64,
        digest: bool,
        memory: &UploadMemory,
    ) -> Result<UploadedForm, ApiError> {
        let limits = FormLimits {
            max_file_bytes: limit,
            digest,
        };
        Ok(upload::read_form(self.0, limits, || memory.try_reserve_small()).await?)
    }
}

/// Read the format and dimensions from the header (file reads are blocking, so they run off
/// the async runtime), leaving a file at its start.
pub(crate) async fn inspect(
    file: UploadedFile,
    limits: DecodeLimits,
) -> Result<(UploadedFile, Header), ApiError> {
    let UploadedFile {
        file_name,
        body,
        len,
        sha256,
    } = file;
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
        UploadedFile {
            file_name,
            body,
            len,
            sha256,
        },
        header?,
    ))
}
