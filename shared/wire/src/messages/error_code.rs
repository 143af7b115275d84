//! The codes a task fails with: one name each, for clients to match on.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable failure codes. Clients match on these, so they never change
/// meaning; new ones may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The upload has no bytes.
    EmptyFile,
    /// The bytes are an image format we accept but cannot be decoded (truncated, corrupt).
    UndecodableImage,
    /// The bytes are not an image format we accept.
    UnsupportedMediaType,
    /// The image is larger than the configured pixel or side limits.
    ImageTooLarge,
    /// The object store could not be reached or failed, on every attempt.
    StorageUnavailable,
    /// The original is gone from the object store.
    OriginalMissing,
    /// The job could not be processed for another reason.
    ProcessingFailed,
    /// The task did not finish within the configured time.
    TimedOut,
    /// The broker's delivery limit was reached: the job crashed or stalled its consumer every
    /// time it was delivered.
    DeliveryLimitExceeded,
    /// The job message could not be read (malformed, or an unknown schema version).
    UnreadableMessage,
    /// The chain of steps breaks a rule (an unknown op or parameter, a value out of range, a
    /// crop outside the image, …); retrying cannot help.
    InvalidSteps,
    /// A step would make an image over the pixel or side limits.
    OutputTooLarge,
    /// The request names a preset this server does not have.
    UnknownPreset,
    /// What the chain's model steps found is larger, as JSON, than `MAX_ANALYSIS_BYTES`; the
    /// same image would find the same again, so retrying cannot help, and no result is kept.
    AnalysisTooLarge,
    /// The chain's `infer` step names a model this server does not declare (`MODELS_FILE`).
    UnknownModel,
    /// A model ran but its outputs cannot be reported as declared (a tensor larger than its
    /// `max_values`, not as many values as labels, a non-finite value), or a model server
    /// refused the request (a 4xx other than 408 and 429, with the server's message): the same
    /// image would fail the same way again.
    InferenceFailed,
    /// A model server could not be reached, timed out, was busy (408, 429) or failed (5xx),
    /// on every attempt.
    ModelUnavailable,
}

impl ErrorCode {
    /// The code for its stable name, if it is one of ours.
    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmptyFile => "empty_file",
            Self::UndecodableImage => "undecodable_image",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ImageTooLarge => "image_too_large",
            Self::StorageUnavailable => "storage_unavailable",
            Self::OriginalMissing => "original_missing",
            Self::ProcessingFailed => "processing_failed",
            Self::TimedOut => "timed_out",
            Self::DeliveryLimitExceeded => "delivery_limit_exceeded",
            Self::UnreadableMessage => "unreadable_message",
            Self::InvalidSteps => "invalid_steps",
            Self::OutputTooLarge => "output_too_large",
            Self::UnknownPreset => "unknown_preset",
            Self::AnalysisTooLarge => "analysis_too_large",
            Self::UnknownModel => "unknown_model",
            Self::InferenceFailed => "inference_failed",
            Self::ModelUnavailable => "model_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_serialize_as_their_stable_names() {
        for code in [
            ErrorCode::EmptyFile,
            ErrorCode::UndecodableImage,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::ImageTooLarge,
            ErrorCode::StorageUnavailable,
            ErrorCode::OriginalMissing,
            ErrorCode::ProcessingFailed,
            ErrorCode::TimedOut,
            ErrorCode::DeliveryLimitExceeded,
            ErrorCode::UnreadableMessage,
            ErrorCode::InvalidSteps,
            ErrorCode::OutputTooLarge,
            ErrorCode::UnknownPreset,
            ErrorCode::AnalysisTooLarge,
            ErrorCode::UnknownModel,
            ErrorCode::InferenceFailed,
            ErrorCode::ModelUnavailable,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
