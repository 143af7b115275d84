//! Requests poem could not parse, told in the API's words: poem's own messages name its
//! internals, so each kind becomes the `ApiError` a client can act on.

use crate::error::ApiError;

impl ApiError {
    /// From a request that poem could not parse (bad query parameter, not multipart...).
    ///
    /// poem's own messages name its internals (``failed to parse path `param0` ...
    /// string_uuid``), so each kind of error is told here in the API's words instead.
    pub fn from_parse_error(err: poem::Error) -> Self {
        use poem_openapi::error::{
            ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
            ParseRequestPayloadError,
        };
        if let Some(param) = err.downcast_ref::<ParseParamError>() {
            return match param.name {
                "Idempotency-Key" => Self::InvalidIdempotencyKey,
                "cursor" => Self::InvalidCursor,
                "limit" => Self::InvalidRequest("`limit` must be an integer from 1 to 100".into()),
                "status" => Self::InvalidRequest(
                    "`status` must be one of PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED"
                        .into(),
                ),
                name => Self::InvalidRequest(format!("the `{name}` parameter is invalid")),
            };
        }
        if err.is::<ParsePathError>() {
            // Every path parameter of the API is a task id.
            return Self::InvalidTaskId("like 0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b".into());
        }
        if let Some(multipart) = err.downcast_ref::<ParseMultipartError>() {
            return Self::InvalidRequest(format!(
                "the body is not a valid multipart form: {}",
                multipart.reason
            ));
        }
        if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
            return Self::InvalidRequest(format!("the body cannot be read: {}", payload.reason));
        }
        if err.is::<ContentTypeError>() {
            return Self::InvalidRequest("the body must be multipart/form-data".into());
        }
        Self::InvalidRequest("the request cannot be read".into())
    }
}
